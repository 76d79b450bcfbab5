"""The authorization matrix: every route and every socket event, against every role.

Roles: nobody, display, clerk, reception, manager, admin. Pages are asked with each role's browser
session, the API with each role's session and with its API token. A cell says what that
role gets: "ok" (served: 2xx, or a redirect that is not to the login page; a 400, 404 or
409 also counts, since the request got past the role check), "login" (sent to log in),
401 or 403. CSRF is switched off here: it has its own tests (test_pages, test_admin).
A test fails when the app has a route this matrix does not list.
"""

import pytest

from queue_app import create_app, socketio
from queue_app.rules import accounts, appointments, displays, tickets
from queue_app.rules.day import ensure_today
from queue_app.storage.db import connect

from conftest import copy_database
from helpers import log_in, next_workday

ROLES = (None, "display", "clerk", "reception", "manager", "admin")
USERS = {
    "display": "pantalla",
    "clerk": "taulell1",
    "reception": "recepcio",
    "manager": "gestor",
    "admin": "admin",
}


def cells(none, display, clerk, reception, manager, admin):
    return dict(zip(ROLES, (none, display, clerk, reception, manager, admin), strict=True))


STAFF_PAGE = cells("login", 403, 403, 403, 403, "ok")
RECEPTION_PAGE = cells("login", 403, 403, "ok", 403, "ok")
PUBLIC = cells("ok", "ok", "ok", "ok", "ok", "ok")
ANY_LOGGED_IN = cells(401, "ok", "ok", "ok", "ok", "ok")
CLERK = cells(401, 403, "ok", 403, 403, "ok")
RECEPTION = cells(401, 403, 403, "ok", 403, "ok")
RECEPTION_OR_CLERK = cells(401, 403, "ok", "ok", 403, "ok")
# Reading what staff read: a manager too (it changes nothing).
STAFF_READ = cells(401, 403, "ok", "ok", "ok", "ok")
MANAGER = cells(401, 403, 403, 403, "ok", "ok")
MANAGER_PAGE = cells("login", 403, 403, 403, "ok", "ok")
ADMIN = cells(401, 403, 403, 403, 403, "ok")

# (endpoint, method, path with {ticket}, {token} and {key} filled in per test, expected)
PAGES = [
    ("auth.home", "GET", "/", cells("login", "ok", "ok", "ok", "ok", "ok")),
    ("auth.login", "GET", "/login", PUBLIC),
    ("auth.login", "POST", "/login", PUBLIC),
    ("auth.logout", "GET", "/logout", cells("login", "ok", "ok", "ok", "ok", "ok")),
    ("auth.logout", "POST", "/logout", cells("login", "login", "login", "login", "login", "login")),
    ("auth.language", "GET", "/language/es", PUBLIC),
    ("auth.display_role", "GET", "/display-login", PUBLIC),
    ("reception.page", "GET", "/reception", RECEPTION_PAGE),
    (
        "reception.print_ticket",
        "GET",
        "/reception/tickets/{ticket}/print",
        RECEPTION_PAGE,
    ),
    ("reception.door", "GET", "/door", RECEPTION_PAGE),
    ("reception.appointments_page", "GET", "/reception/appointments", RECEPTION_PAGE),
    (
        "reception.print_appointment",
        "GET",
        "/reception/appointments/{appointment}/print",
        RECEPTION_PAGE,
    ),
    ("desk.page", "GET", "/desk", cells("login", 403, "ok", 403, 403, "ok")),
    ("desk.choose", "POST", "/desk", cells("login", 403, "ok", 403, 403, "ok")),
    ("stats.page", "GET", "/stats", MANAGER_PAGE),
    ("assets.vendor_file", "GET", "/vendor/chart.umd.min.js", PUBLIC),
    ("admin.home", "GET", "/admin", STAFF_PAGE),
    ("admin.create_user", "POST", "/admin/users", STAFF_PAGE),
    ("admin.set_role", "POST", "/admin/users/role", STAFF_PAGE),
    ("admin.set_password", "POST", "/admin/users/password", STAFF_PAGE),
    ("admin.delete_user", "POST", "/admin/users/delete", STAFF_PAGE),
    ("admin.set_user_desks", "POST", "/admin/users/desks", STAFF_PAGE),
    ("admin.create_desk", "POST", "/admin/desks", STAFF_PAGE),
    ("admin.update_desk", "POST", "/admin/desks/1", STAFF_PAGE),
    ("admin.update_office", "POST", "/admin/offices/OAC", STAFF_PAGE),
    ("admin.create_display", "POST", "/admin/displays", STAFF_PAGE),
    ("admin.update_display", "POST", "/admin/displays/1", STAFF_PAGE),
    ("admin.rotate_display_key", "POST", "/admin/displays/1/key", STAFF_PAGE),
    ("admin.set_building", "POST", "/admin/building", STAFF_PAGE),
    ("admin.create_token", "POST", "/admin/tokens", STAFF_PAGE),
    ("admin.revoke_token", "POST", "/admin/tokens/revoke", STAFF_PAGE),
    ("admin.set_schedule", "POST", "/admin/offices/OAC/schedule", STAFF_PAGE),
    ("admin.import_appointments", "POST", "/admin/appointments/import", STAFF_PAGE),
    ("citizen.show", "GET", "/t/{token}", PUBLIC),
    ("citizen.service_worker", "GET", "/t/sw.js", PUBLIC),
    ("citizen.ticket_language", "GET", "/t/{token}/language/fr", PUBLIC),
    ("citizen.appointment_language", "GET", "/a/{appointment_token}/language/ar", PUBLIC),
    ("citizen.appointment", "GET", "/a/{appointment_token}", PUBLIC),
    (
        "citizen.appointment_calendar",
        "GET",
        "/a/{appointment_token}/calendar.ics",
        PUBLIC,
    ),
    ("citizen.cancel_appointment", "POST", "/a/{appointment_token}/cancel", PUBLIC),
    ("display.screen", "GET", "/display/{key}", PUBLIC),
    # The server's voice: by the screen's key alone (seq 1 is no call of today: a 404).
    ("display.call_voice", "GET", "/display/{key}/calls/1/voice", PUBLIC),
    ("display.admitted_voice", "GET", "/display/{key}/admitted/A001/voice", PUBLIC),
    ("display.voice_file", "GET", "/display/{key}/voice/" + "0" * 64 + ".wav", PUBLIC),
    ("display.static", "GET", "/display/static/display.css", PUBLIC),
    ("static", "GET", "/static/torn.css", PUBLIC),
    ("assets.vendor_file", "GET", "/vendor/socket.io.min.js", PUBLIC),
    ("health.healthz", "GET", "/healthz", PUBLIC),
]
API = [
    ("api.list_offices", "GET", "/api/v1/offices", ANY_LOGGED_IN),
    ("api.list_desks", "GET", "/api/v1/desks", ANY_LOGGED_IN),
    ("api.read_occupancy", "GET", "/api/v1/occupancy", ANY_LOGGED_IN),
    ("api.issue_ticket", "POST", "/api/v1/tickets", RECEPTION),
    ("api.update_office", "PATCH", "/api/v1/offices/OAC", ADMIN),
    ("api.list_tickets", "GET", "/api/v1/tickets", STAFF_READ),
    ("api.public_ticket", "GET", "/api/v1/tickets/{token}", PUBLIC),
    ("api.desk_queue", "GET", "/api/v1/desks/2/queue", STAFF_READ),
    ("api.call_next", "POST", "/api/v1/desks/2/call-next", CLERK),
    ("api.call_ticket", "POST", "/api/v1/desks/2/call", CLERK),
    ("api.update_desk", "PATCH", "/api/v1/desks/2", ADMIN),
    ("api.pause_or_resume", "POST", "/api/v1/desks/2/pause", CLERK),
    ("api.pause_or_resume", "POST", "/api/v1/desks/2/resume", CLERK),
    ("api.ticket_action", "POST", "/api/v1/tickets/{ticket}/recall", CLERK),
    ("api.ticket_action", "POST", "/api/v1/tickets/{ticket}/start", CLERK),
    ("api.ticket_action", "POST", "/api/v1/tickets/{ticket}/finish", CLERK),
    ("api.ticket_action", "POST", "/api/v1/tickets/{ticket}/no-show", CLERK),
    ("api.transfer_ticket", "POST", "/api/v1/tickets/{ticket}/transfer", CLERK),
    ("api.cancel_ticket", "POST", "/api/v1/tickets/{ticket}/cancel", RECEPTION_OR_CLERK),
    ("api.count_people", "POST", "/api/v1/occupancy/entries", RECEPTION),
    ("api.count_people", "POST", "/api/v1/occupancy/exits", RECEPTION),
    ("api.set_occupancy", "PUT", "/api/v1/occupancy", ADMIN),
    ("api.display_state", "GET", "/api/v1/displays/{key}/state", PUBLIC),
    ("api_appointments.read_schedule", "GET", "/api/v1/offices/OAC/schedule", ANY_LOGGED_IN),
    ("api_appointments.write_schedule", "PUT", "/api/v1/offices/OAC/schedule", ADMIN),
    ("api_appointments.list_slots", "GET", "/api/v1/offices/OAC/slots", STAFF_READ),
    ("api_appointments.book", "POST", "/api/v1/appointments", RECEPTION),
    ("api_appointments.list_appointments", "GET", "/api/v1/appointments", STAFF_READ),
    (
        "api_appointments.public_appointment",
        "GET",
        "/api/v1/appointments/{appointment_token}",
        PUBLIC,
    ),
    (
        "api_appointments.check_in",
        "POST",
        "/api/v1/appointments/{appointment}/check-in",
        RECEPTION,
    ),
    ("api_appointments.cancel", "POST", "/api/v1/appointments/{appointment}/cancel", RECEPTION),
    (
        "api_appointments.cancel_by_token",
        "POST",
        "/api/v1/appointments/{appointment_token}/cancel",
        PUBLIC,
    ),
    ("api_appointments.import_appointments", "POST", "/api/v1/appointments/import", ADMIN),
    ("api_stats.read_stats", "GET", "/api/v1/stats", MANAGER),
    ("api_stats.stats_csv", "GET", "/api/v1/stats.csv", MANAGER),
]
BODIES = {
    "/api/v1/tickets": {"office": "OAC"},
    "/api/v1/occupancy": {"limit": 60},
    "/api/v1/offices/OAC": {"target_wait_s": 600},
    "/api/v1/desks/2/call": {"ticket": 1},
    "/api/v1/desks/2": {"name": "Taulell 2"},
    "/transfer": {"office": "OMIC"},
}


@pytest.fixture(scope="module")
def app(template, tmp_path_factory):
    """One app for the whole matrix (requests that get past the role check may change its
    state; a cell only asks whether the role check let them through)."""
    path = str(tmp_path_factory.mktemp("matrix") / "queue.db")
    copy_database(template[0], path)
    opened = connect(path)
    ensure_today(opened)
    opened.close()
    return create_app(
        {
            "TESTING": True,
            "DATABASE": path,
            "ASYNC_MODE": "threading",
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
        }
    )


@pytest.fixture(scope="module")
def town(app, template):
    """A display-role login, and a called ticket to act on."""
    db = connect(app.config["DATABASE"])
    try:
        accounts.create_user(db, "pantalla", "pantalla-demo", "display")
        ticket = tickets.issue(db, "OAC").value
        tickets.call_next(db, 1)
        key = displays.list_displays(db)[0]["key"]
        booked = appointments.book(db, "OMIC", next_workday().isoformat(), "Anna").value
    finally:
        db.close()
    return {
        "ticket": ticket["id"],
        "token": ticket["token"],
        "key": key,
        "tokens": template[1],
        "appointment": booked["id"],
        "appointment_token": booked["token"],
    }


def outcome(response):
    if response.status_code in (401, 403):
        return response.status_code
    if response.status_code in (301, 302, 303) and "/login" in response.headers["Location"]:
        return "login"
    assert response.status_code < 500
    return "ok"


def ask(app, town, role, method, path, bearer=False):
    client = app.test_client()
    headers = {}
    if role and bearer:
        headers["Authorization"] = f"Bearer {town['tokens'][role]}"
    elif role:
        log_in(app, client, USERS[role])
    path = path.format(**town)
    body = next((value for end, value in BODIES.items() if path.endswith(end)), None)
    response = client.open(
        path, method=method, headers=headers, json=body if path.startswith("/api/") else None
    )
    response.close()
    return outcome(response)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "endpoint, method, path, expected", PAGES, ids=[f"{m} {p}" for _, m, p, _ in PAGES]
)
def test_pages(app, town, role, endpoint, method, path, expected):
    assert ask(app, town, role, method, path) == expected[role]


@pytest.mark.parametrize("bearer", [False, True], ids=["session", "token"])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "endpoint, method, path, expected", API, ids=[f"{m} {p}" for _, m, p, _ in API]
)
def test_api(app, town, role, bearer, endpoint, method, path, expected):
    assert ask(app, town, role, method, path, bearer) == expected[role]


def test_the_matrix_lists_every_route(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE": str(tmp_path / "q.db"),
            "ASYNC_MODE": "threading",
            "SECRET_KEY": "x",
        }
    )
    served = {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    listed = {(endpoint, method) for endpoint, method, _, _ in PAGES + API}
    assert served - listed == set()


# Socket.IO: the events a client can send are `connect` (with its credentials) and
# `resync`; what each role may hear is tested in test_events.py.
SOCKET_SESSION = cells(False, True, True, True, True, True)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("via", ["session", "token"])
def test_socket_connect_and_resync(app, town, role, via):
    client = app.test_client()
    auth = None
    if role and via == "token":
        auth = {"token": town["tokens"][role]}
    elif role:
        log_in(app, client, USERS[role])
    connection = socketio.test_client(app, auth=auth, flask_test_client=client)
    assert connection.is_connected() == SOCKET_SESSION[role]
    if connection.is_connected():
        connection.get_received()
        connection.emit("resync", {"since": 0})
        assert [m["name"] for m in connection.get_received()][-1:] in (["snapshot"], [])
        connection.disconnect()


@pytest.mark.parametrize(
    "auth, accepted",
    [
        ("screen", True),
        ("ticket", True),
        ({"screen": "not-a-key"}, False),
        ({"ticket": "not-a-token"}, False),
        ({"token": "torn_garbage"}, False),
        ("none", False),
    ],
)
def test_socket_connect_with_a_screen_or_ticket(app, town, auth, accepted):
    db = connect(app.config["DATABASE"])
    key = displays.list_displays(db)[0]["key"]  # the admin rows may have rotated it
    db.close()
    auth = (
        {"screen": {"screen": key}, "ticket": {"ticket": town["token"]}, "none": None}.get(
            auth, auth
        )
        if isinstance(auth, str)
        else auth
    )
    connection = socketio.test_client(app, auth=auth)
    assert connection.is_connected() is accepted
    if accepted:
        assert [m["name"] for m in connection.get_received()] == ["snapshot"]
        connection.disconnect()
