"""Socket.IO: connection auth, room routing, payloads and resync (Flask-SocketIO test client)."""

from datetime import datetime, timedelta, timezone

import pytest

from queue_app import socketio
from queue_app.live.delivery import publish
from queue_app.rules import accounts, displays
from queue_app.storage.db import connect, get_db

from helpers import log_in, travel_to


@pytest.fixture
def screens(app):
    """``{"all": key, "omic": key}``: the demo waiting room and an OMIC-only screen."""
    with app.app_context():  # created as the admin page does: its events delivered
        db = get_db()
        created = displays.create_display(db, "OMIC", ["OMIC"])
        publish(created)
        waiting_room = displays.list_displays(db)[0]["key"]
    return {"all": waiting_room, "omic": created.value["key"]}


@pytest.fixture
def sock(app, client):
    """Open a Socket.IO test connection with an ``auth`` payload; closed after the test."""
    opened = []

    def open_(auth=None):
        connection = socketio.test_client(app, auth=auth, flask_test_client=client)
        opened.append(connection)
        return connection

    yield open_
    for connection in opened:
        if connection.is_connected():
            connection.disconnect()


def names(received):
    return [message["name"] for message in received]


def first(received, name):
    return next(message["args"][0] for message in received if message["name"] == name)


@pytest.mark.parametrize(
    "auth", [None, {}, {"screen": "nope"}, {"token": "nope"}, {"ticket": "nope"}, {"screen": 7}]
)
def test_connection_without_valid_credentials_is_refused(sock, auth):
    assert not sock(auth).is_connected()


def test_display_gets_snapshot_then_calls_without_personal_data(sock, screens, api):
    display = sock({"screen": screens["all"]})
    snapshot = display.get_received()
    assert names(snapshot) == ["snapshot"]
    state = snapshot[0]["args"][0]
    assert set(state) == {"seq", "calls", "waiting", "outside", "occupancy", "desks"}
    assert state["waiting"] == {"OAC": 0, "OMIC": 0, "OFIM": 0, "HAB": 0, "ORGT": 0}
    assert state["outside"] == {"OAC": 0, "OMIC": 0, "OFIM": 0, "HAB": 0, "ORGT": 0}

    api.as_("reception").post("/tickets", {"office": "OAC"})
    api.as_("clerk").post("/desks/1/call-next")
    received = display.get_received()
    assert names(received) == [
        "occupancy_changed",
        "queue_changed",
        "ticket_called",
        "queue_changed",
    ]
    called = first(received, "ticket_called")
    assert called["desk"] == "Taulell 1" and called["recall"] is False
    assert called["ticket"]["code"] == "A001"
    assert "token" not in called["ticket"] and "id" not in called["ticket"]
    assert called["seq"] > state["seq"]


def test_omic_screen_does_not_hear_oac(sock, screens, api):
    omic = sock({"screen": screens["omic"]})
    omic.get_received()
    api.as_("reception").post("/tickets", {"office": "OAC"})
    api.as_("clerk").post("/desks/1/call-next")
    assert names(omic.get_received()) == ["occupancy_changed"]
    api.as_("reception").post("/tickets", {"office": "OMIC"})
    api.as_("clerk").post("/desks/5/call-next")
    assert "ticket_called" in names(omic.get_received())


def test_ticket_connection_hears_only_its_own_ticket(sock, api):
    mine = api.as_("reception").post("/tickets", {"office": "OAC"}).json
    api.as_("reception").post("/tickets", {"office": "OAC"})
    citizen = sock({"ticket": mine["token"]})
    snapshot = first(citizen.get_received(), "snapshot")
    assert snapshot["ticket"]["code"] == "A001" and "id" not in snapshot["ticket"]
    api.as_("clerk").post("/desks/1/call-next")  # A001, mine
    api.as_("clerk").post("/desks/2/call-next")  # A002, someone else's
    received = citizen.get_received()
    assert names(received) == ["ticket_changed"]
    assert received[0]["args"][0]["ticket"]["status"] == "called"
    assert received[0]["args"][0]["ticket"]["desk"] == "Taulell 1"


def test_clerk_token_with_desk_hears_only_its_offices(sock, api, tokens):
    omic_desk = sock({"token": tokens["clerk"], "desk": 5})
    omic_desk.get_received()
    api.as_("reception").post("/tickets", {"office": "OAC"})
    assert omic_desk.get_received() == []
    api.as_("reception").post("/tickets", {"office": "OMIC"})
    received = omic_desk.get_received()
    assert names(received) == ["ticket_changed", "queue_changed"]
    assert first(received, "ticket_changed")["ticket"]["token"]  # staff see the whole ticket


def test_resync_replays_missed_events_in_order(sock, screens, api):
    display = sock({"screen": screens["all"]})
    seen = first(display.get_received(), "snapshot")["seq"]
    display.disconnect()
    api.as_("reception").post("/tickets", {"office": "OAC"})
    api.as_("clerk").post("/desks/1/call-next")
    display = sock({"screen": screens["all"]})
    display.get_received()
    display.emit("resync", {"since": seen})
    replayed = display.get_received()
    assert names(replayed) == [
        "occupancy_changed",
        "queue_changed",
        "ticket_called",
        "queue_changed",
    ]
    seqs = [message["args"][0]["seq"] for message in replayed]
    assert seqs == sorted(seqs) and seqs[0] > seen


def test_resync_after_a_long_gap_gets_a_snapshot(sock, screens, api):
    display = sock({"screen": screens["all"]})
    seen = first(display.get_received(), "snapshot")["seq"]
    display.disconnect()
    api.as_("admin").put("/occupancy", {"limit": 500})
    for _ in range(70):  # 3 events each: more than a replay is worth
        assert api.as_("reception").post("/tickets", {"office": "OAC"}).status_code == 201
    display = sock({"screen": screens["all"]})
    display.get_received()
    display.emit("resync", {"since": seen})
    received = display.get_received()
    assert names(received) == ["snapshot"]
    assert received[0]["args"][0]["waiting"]["OAC"] == 70


def test_resync_with_a_bad_since_gets_a_snapshot(sock, screens):
    display = sock({"screen": screens["all"]})
    display.get_received()
    for since in ("bad", -1, None, True, 2**63, 2**63 - 1, 10**40, 1.5):
        display.emit("resync", {"since": since})
        assert names(display.get_received()) == ["snapshot"]


@pytest.mark.parametrize(
    "username, hears_occupancy", [("recepcio", True), ("admin", True), ("taulell5", False)]
)
def test_browser_session_connects_as_its_role(app, client, sock, api, username, hears_occupancy):
    log_in(app, client, username)
    staff = sock()
    assert staff.is_connected()
    assert set(first(staff.get_received(), "snapshot")) == {
        "seq",
        "calls",
        "waiting",
        "outside",
        "occupancy",
    }
    mine = api.as_("reception").post("/tickets", {"office": "ORGT"}).json
    received = staff.get_received()
    assert ("occupancy_changed" in names(received)) is hears_occupancy
    assert first(received, "ticket_changed")["ticket"]["token"] == mine["token"]


def test_a_session_of_an_unknown_user_is_refused(client, sock):
    with client.session_transaction() as session:
        session["_user_id"] = "999"
    assert not sock().is_connected()


def test_display_role_token_gets_display_safe_payloads(sock, api, tokens):
    display = sock({"token": tokens["display"]})
    display.get_received()
    api.as_("reception").post("/tickets", {"office": "OFIM"})
    api.as_("clerk").post("/desks/6/call-next")
    received = display.get_received()
    assert "ticket_changed" not in names(received)
    called = first(received, "ticket_called")
    assert set(called["ticket"]) == {
        "code",
        "office",
        "number",
        "status",
        "desk",
        "called_at",
        "recalls",
    }


def test_payloads_are_as_the_contract_says(sock, api, tokens):
    clerk = sock({"token": tokens["clerk"]})
    reception = sock({"token": tokens["reception"]})
    clerk.get_received()
    reception.get_received()
    ticket = api.as_("reception").post("/tickets", {"office": "OAC", "party_size": 2}).json
    api.as_("clerk").post("/desks/2/call-next")
    api.as_("clerk").post(f"/tickets/{ticket['id']}/recall")
    received = clerk.get_received()
    calls = [m["args"][0] for m in received if m["name"] == "ticket_called"]
    assert [set(call) for call in calls] == [{"seq", "ticket", "desk", "desk_names", "recall"}] * 2
    assert [call["recall"] for call in calls] == [False, True]
    assert calls[0]["desk_names"] == {"ca": "Taulell 2", "es": "Taulell 2", "en": "Taulell 2"}
    assert calls[1]["ticket"]["recalls"] == 1
    assert first(received, "queue_changed") == {
        "seq": first(received, "queue_changed")["seq"],
        "office": "OAC",
        "waiting": 1,
        "outside": 0,
    }
    changed = first(received, "ticket_changed")
    assert set(changed) == {"seq", "ticket"} and changed["ticket"]["id"] == ticket["id"]
    occupancy = first(reception.get_received(), "occupancy_changed")
    assert {k: occupancy[k] for k in ("inside", "limit", "full")} == {
        "inside": 2,
        "limit": 50,
        "full": False,
    }


def test_a_screen_hears_its_own_settings_change_and_no_other(app, client, sock, screens):
    waiting_room, omic = sock({"screen": screens["all"]}), sock({"screen": screens["omic"]})
    waiting_room.get_received()
    omic.get_received()
    db = connect(app.config["DATABASE"])
    screen_id = displays.find_by_key(db, screens["omic"])["id"]
    db.close()
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF on admin forms is tested in test_admin
    admin = app.test_client()
    log_in(app, admin, "admin")
    saved = admin.post(
        f"/admin/displays/{screen_id}",
        data={"offices": ["OMIC", "OFIM"], "language": "es", "message": "Nou missatge"},
    )
    assert saved.status_code == 302
    changed = [m["args"][0] for m in omic.get_received() if m["name"] == "display_changed"]
    assert [c["display"]["message"] for c in changed] == ["Nou missatge"]
    assert "key" not in changed[0]["display"]
    assert waiting_room.get_received() == []


def test_a_screen_connecting_on_a_new_day_starts_it(sock, screens, api, monkeypatch):
    api.as_("reception").post("/tickets", {"office": "OAC"})
    api.as_("clerk").post("/desks/1/call-next")
    travel_to(monkeypatch, datetime.now(timezone.utc) + timedelta(days=1))
    # The TV is switched on before anyone at reception makes a request.
    state = first(sock({"screen": screens["all"]}).get_received(), "snapshot")
    assert state["calls"] == [] and state["waiting"]["OAC"] == 0
    assert state["occupancy"]["inside"] == 0


def test_revoking_a_token_on_the_admin_page_closes_its_open_connections(app, sock, tokens):
    db = connect(app.config["DATABASE"])
    try:
        token = accounts.create_token(db, "door-tablet", "reception").value
    finally:
        db.close()
    tablet, desk_app = sock({"token": token}), sock({"token": tokens["clerk"]})
    assert tablet.is_connected() and desk_app.is_connected()
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF on admin forms is tested in test_admin
    admin = app.test_client()
    log_in(app, admin, "admin")
    assert admin.post("/admin/tokens/revoke", data={"name": "door-tablet"}).status_code == 302
    assert not tablet.is_connected()
    assert desk_app.is_connected()


def test_a_desk_page_open_makes_its_desk_staffed_until_it_closes(app, client, api):
    """The estimates count a desk with its page open (live/presence.py)."""
    waiting = api.as_("reception").post("/tickets", {"office": "OMIC"}).get_json()
    assert waiting["estimated_wait_s"] is None  # nobody at the OMIC desk
    log_in(app, client, "taulell5")
    page = socketio.test_client(app, auth={"desk": 5}, flask_test_client=client)
    assert page.is_connected()
    shown = api.get(f"/tickets/{waiting['token']}").get_json()
    assert shown["estimated_wait_s"] == 0  # the desk is free: next
    page.disconnect()
    assert api.get(f"/tickets/{waiting['token']}").get_json()["estimated_wait_s"] is None


def test_an_administrator_naming_a_desk_that_does_not_exist_is_still_served(app, client):
    """Found by the socket fuzz test: the desk a connection names may not exist."""
    log_in(app, client, "admin")
    page = socketio.test_client(app, auth={"desk": 2_147_483_647}, flask_test_client=client)
    assert page.is_connected()
    assert [message["name"] for message in page.get_received()] == ["snapshot"]
    page.disconnect()
