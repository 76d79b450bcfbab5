"""The administrator's part of appointments on /admin, with the Flask test client: each
office's schedule edited through its form (and refused, naming the reason, with nothing
written), and a booking service's export previewed and imported."""

import io
import re

import pytest

from queue_app.pages import admin as admin_page
from queue_app.rules import accounts, appointments, imports

from helpers import csrf_token, db_state, log_in, next_workday

TABLES = ("schedules", "appointments", "events")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
DEMO_HOURS = {
    "hours-mon": "09:00-14:00",
    "hours-tue": "09:00-14:00",
    "hours-wed": "09:00-14:00",
    "hours-thu": "09:00-14:00",
    "hours-fri": "09:00-14:00",
    "hours-sat": "",
    "hours-sun": "",
}


@pytest.fixture
def admin(app, client):
    """The test client logged in as the demo's administrator, pages in English."""
    log_in(app, client, "admin")
    client.get("/language/en")
    return client


def token(client):
    return CSRF.search(client.get("/admin").get_data(True))[1]


def post(client, path, data, csrf=True, **kwargs):
    """Post a form of /admin as the page does (with its CSRF token); the page after it."""
    if csrf:
        data = dict(data, csrf_token=token(client))
    return client.post(path, data=data, follow_redirects=True, **kwargs)


def schedule_form(**changes):
    form = {
        "slot_minutes": "15",
        "per_slot": "2",
        "early_minutes": "60",
        "late_minutes": "15",
        "closed": "",
        **DEMO_HOURS,
    }
    form.update(changes)
    return form


def text(response):
    return response.get_data(as_text=True)


# Schedules --------------------------------------------------------------------------------


def test_the_page_shows_each_office_schedule_with_translated_weekdays(app, client):
    log_in(app, client, "admin")
    for language, monday in (("en", "Monday"), ("es", "Lunes"), ("ca", "Dilluns")):
        client.get(f"/language/{language}")
        page = text(client.get("/admin"))
        assert 'id="schedules"' in page and 'id="schedule-OAC"' in page
        assert monday in page
    assert 'name="hours-thu"' in page and 'value="09:00-14:00, 16:00-19:00"' in page


def test_editing_a_schedule_changes_what_the_api_gives(admin, store):
    page = post(
        admin,
        "/admin/offices/OMIC/schedule",
        schedule_form(
            slot_minutes="20",
            per_slot="3",
            early_minutes="30",
            late_minutes="10",
            **{
                "hours-mon": "16:00-19:00, 9:00 - 14:00",
                "hours-fri": "",
                "hours-sat": "10:00-13:00",
            },
            closed="2030-12-26\n2030-01-06, 2030-04-21",
        ),
    )
    assert "The schedule was saved." in text(page)
    schedule = admin.get("/api/v1/offices/OMIC/schedule").get_json()
    assert schedule == {
        "slot_minutes": 20,
        "per_slot": 3,
        "hours": {
            "mon": [["09:00", "14:00"], ["16:00", "19:00"]],
            "tue": [["09:00", "14:00"]],
            "wed": [["09:00", "14:00"]],
            "thu": [["09:00", "14:00"]],
            "fri": [],
            "sat": [["10:00", "13:00"]],
            "sun": [],
        },
        "closed": ["2030-01-06", "2030-04-21", "2030-12-26"],
        "early_minutes": 30,
        "late_minutes": 10,
    }
    event = store.execute(
        "SELECT type, actor, office FROM events ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert tuple(event) == ("schedule_changed", "admin", "OMIC")
    # The form shows what was saved; other offices keep theirs.
    page = text(admin.get("/admin"))
    assert 'value="09:00-14:00, 16:00-19:00"' in page and "2030-01-06\n2030-04-21" in page
    assert admin.get("/api/v1/offices/OAC/schedule").get_json()["slot_minutes"] == 15


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"hours-tue": "14:00-09:00"}, "Tuesday: 14:00-09:00 must end after it starts."),
        ({"hours-mon": "9-14"}, "Monday: “9-14” is not a time range: write it like 09:00-14:00."),
        ({"hours-wed": "09:00-25:00"}, "Wednesday: “09:00-25:00” is not a time range"),
        (
            {"hours-thu": "09:00-14:00, 13:00-15:00"},
            "Thursday: 09:00-14:00 and 13:00-15:00 overlap.",
        ),
        ({"closed": "2030-12-26\n26/12/2030"}, "Closed days: “26/12/2030” is not a date"),
        ({"closed": "2030-02-30"}, "Closed days: “2030-02-30” is not a date"),
        ({"slot_minutes": "0"}, "Minutes per slot must be a whole number from 5 to 240."),
        ({"per_slot": "²"}, "Places per slot must be a whole number from 1 to 100."),
        ({"late_minutes": "-5"}, "Check-in late (minutes) must be a whole number from 0 to 1440."),
        ({"hours-fri": "x" * 300}, "A field is too long."),
    ],
)
def test_bad_schedule_input_shows_its_reason_and_changes_nothing(admin, store, changes, message):
    before = db_state(store, TABLES)
    page = post(admin, "/admin/offices/OAC/schedule", schedule_form(**changes))
    assert page.status_code == 200
    body = text(page)
    assert message in body, body[-3000:]
    # Shown in that office's form, opened.
    assert re.search(r'<details class="schedule" id="schedule-OAC" open>', body)
    assert db_state(store, TABLES) == before


def test_what_a_form_leaves_out_stays_as_it_is(admin):
    before = admin.get("/api/v1/offices/OAC/schedule").get_json()
    page = post(admin, "/admin/offices/OAC/schedule", {"slot_minutes": "30", "per_slot": ""})
    assert "The schedule was saved." in text(page)
    assert admin.get("/api/v1/offices/OAC/schedule").get_json() == dict(before, slot_minutes=30)


def test_a_schedule_of_an_unknown_office_is_404(admin, store):
    before = db_state(store, TABLES)
    response = admin.post(
        "/admin/offices/NOPE/schedule", data=dict(schedule_form(), csrf_token=token(admin))
    )
    assert response.status_code == 404
    assert db_state(store, TABLES) == before


# Importing appointments -------------------------------------------------------------------


def export(rows):
    """A CSV export of the booking service: header, then ``rows``."""
    return ("id;oficina;inici;nom;telèfon\n" + "".join(f"{row}\n" for row in rows)).encode()


def good_csv():
    day = next_workday(after_days=2).strftime("%Y-%m-%d")
    return export(
        [
            f"web-1;OAC;{day} 09:00;Núria Puig;600112233",  # line 2
            f"web-2;;{day} 09:15;Joan Martí;",  # line 3: the form's office
            f"web-3;NOWHERE;{day} 09:30;Pere Vila;",  # line 4: unknown office
            f"web-4;OAC;{day} 03:00;Rosa Mas;",  # line 5: outside the hours
        ]
    )


def upload(client, data, filename="export.csv", action="preview", office="", csrf=True):
    form = {"file": (io.BytesIO(data), filename), "action": action}
    if office:
        form["office"] = office
    return post(
        client, "/admin/appointments/import", form, csrf=csrf, content_type="multipart/form-data"
    )


def imported(store):
    return {
        row["external_id"]: (row["office"], row["name"], row["source"])
        for row in store.execute("SELECT * FROM appointments WHERE external_id IS NOT NULL")
    }


def count(body, name):
    return int(re.search(rf'id="count-{name}">(\d+)<', body)[1])


def test_the_page_has_the_import_form(admin):
    page = text(admin.get("/admin"))
    form = re.search(r'<form[^>]*action="/admin/appointments/import"[^>]*>', page)[0]
    assert 'enctype="multipart/form-data"' in form
    assert 'value="preview"' in page and 'value="import"' in page and 'name="office"' in page


def test_a_preview_writes_nothing_and_shows_the_counts_and_bad_lines(admin, store):
    before = db_state(store, TABLES)
    page = upload(admin, good_csv(), office="OMIC")
    body = text(page)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert db_state(store, TABLES) == before
    assert "Nothing was written" in body
    assert (count(body, "created"), count(body, "updated"), count(body, "errors")) == (2, 0, 2)
    lines = re.findall(r'<td class="line">(\d+)</td>', body)
    assert lines == ["4", "5"]
    assert "Unknown office: NOWHERE." in body
    # It offers the import of the same file, the office still chosen.
    assert 'value="import"' in body and '<option value="OMIC" selected>' in body


def test_an_import_writes_and_publishes(admin, store, monkeypatch):
    published = []
    monkeypatch.setattr(
        admin_page, "publish", lambda outcome: published.append(outcome) or outcome.value
    )
    page = upload(admin, good_csv(), action="import", office="OMIC")
    body = text(page)
    assert page.status_code == 200 and "Nothing was written" not in body
    assert (count(body, "created"), count(body, "errors")) == (2, 2)
    assert imported(store) == {
        "web-1": ("OAC", "Núria Puig", "import"),
        "web-2": ("OMIC", "Joan Martí", "import"),
    }
    # Reception's pages hear of both: the events the import journaled are published.
    [outcome] = published
    assert [event["type"] for event in outcome.events] == ["appointment_changed"] * 2
    assert {event["seq"] for event in outcome.events} <= {
        row[0] for row in store.execute("SELECT seq FROM events WHERE type = 'appointment_changed'")
    }
    # Again: nothing new, as the booking service's ids say.
    body = text(upload(admin, good_csv(), action="import", office="OMIC"))
    assert (count(body, "created"), count(body, "unchanged")) == (0, 2)


def test_an_icalendar_file_is_read_as_one(admin, store):
    start = next_workday(after_days=2).strftime("%Y%m%dT%H%M%S")
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:cal-1\r\nDTSTART:{start}\r\nSUMMARY:Anna Soler\r\n"
        "LOCATION:OMIC\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()
    body = text(upload(admin, ics, filename="Cites.ICS", action="import"))
    assert count(body, "created") == 1
    assert imported(store) == {"cal-1": ("OMIC", "Anna Soler", "import")}


def test_a_file_larger_than_the_import_limit_is_refused(admin, store):
    before = db_state(store, TABLES)
    for size in (imports.MAX_BYTES + 1, imports.MAX_BYTES + 200 * 1024):
        body = text(upload(admin, export([]) + b"x" * size, action="import"))
        assert "The file is larger than 2 MiB." in body
        assert 'id="import"' in body
    assert db_state(store, TABLES) == before


def test_a_file_larger_than_a_form_but_within_the_limit_imports(admin, store):
    day = next_workday(after_days=2).strftime("%Y-%m-%d")
    data = export([f"web-1;OAC;{day} 09:00;Núria Puig;", f"web-2;OAC;{day} 09:15;{'N' * 90000};"])
    assert len(data) > 64 * 1024
    body = text(upload(admin, data, action="import"))
    assert (count(body, "created"), count(body, "errors")) == (1, 1)
    assert list(imported(store)) == ["web-1"]


@pytest.mark.parametrize(
    "data, filename, message",
    [
        (b"", "export.csv", "The file is empty."),
        (b"nom;telefon\nAnna;1\n", "export.csv", "The file lacks the column(s): id, start."),
        (b"not a calendar", "export.ics", "The file is not iCalendar (.ics)."),
        (b"id;nom;inici\n\xff\n", "export.csv", "The file is not UTF-8 text (line 2)"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_its_reason(
    admin, store, data, filename, message
):
    before = db_state(store, TABLES)
    body = text(upload(admin, data, filename=filename, action="import"))
    assert message in body, body[-2000:]
    assert db_state(store, TABLES) == before


def test_no_file_chosen_and_an_unknown_office_are_refused(admin, store):
    before = db_state(store, TABLES)
    body = text(post(admin, "/admin/appointments/import", {"action": "import"}))
    assert "Choose the file to import." in body
    body = text(upload(admin, good_csv(), action="import", office="NOPE"))
    assert "There is no office with that code." in body
    assert db_state(store, TABLES) == before


# CSRF and roles -----------------------------------------------------------------------------


def test_without_the_csrf_token_both_forms_are_refused(admin, store):
    before = db_state(store, TABLES)
    assert admin.post("/admin/offices/OAC/schedule", data=schedule_form()).status_code == 400
    forged = dict(schedule_form(), csrf_token="forged")
    assert admin.post("/admin/offices/OAC/schedule", data=forged).status_code == 400
    for extra in ({}, {"csrf_token": "forged"}):
        response = admin.post(
            "/admin/appointments/import",
            data={"file": (io.BytesIO(good_csv()), "e.csv"), "action": "import"} | extra,
            content_type="multipart/form-data",
        )
        assert response.status_code == 400
    assert db_state(store, TABLES) == before


def test_other_roles_get_403_and_anonymous_visitors_the_login(app, client, store):
    accounts.create_user(store, "pantalla", "pantalla-demo", "display")
    before = db_state(store, TABLES)
    paths = ("/admin/offices/OAC/schedule", "/admin/appointments/import")
    csrf = csrf_token(text(client.get("/login")))
    for path in paths:
        response = client.post(path, data=dict(schedule_form(), csrf_token=csrf))
        assert response.headers["Location"].startswith("/login")
    for username, landing in (
        ("recepcio", "/reception"),
        ("taulell1", "/desk"),
        ("pantalla", "/display-login"),
    ):
        log_in(app, client, username)
        csrf = csrf_token(text(client.get(landing)))
        assert client.post(paths[0], data=dict(schedule_form(), csrf_token=csrf)).status_code == 403
        response = client.post(
            paths[1],
            data={
                "file": (io.BytesIO(good_csv()), "e.csv"),
                "action": "import",
                "csrf_token": csrf,
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 403
    assert db_state(store, TABLES) == before
    assert not appointments.list_day(store, next_workday(after_days=2).date())
