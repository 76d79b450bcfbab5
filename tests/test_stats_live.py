"""The statistics page's live overview over Socket.IO, for managers: what is in it, when a
fresh one comes (after each change, never asked for), and what a manager never hears."""

from datetime import timedelta

import pytest

from queue_app import socketio
from queue_app.rules import overview, tickets
from queue_app.rules.day import ensure_today

from helpers import T0, log_in, next_workday


@pytest.fixture
def manager(app, client):
    """A manager's live connection (its browser session), closed after the test."""
    log_in(app, client, "gestor")
    connection = socketio.test_client(app, flask_test_client=client)
    assert connection.is_connected()
    yield connection
    if connection.is_connected():
        connection.disconnect()


def received(connection):
    return [(message["name"], message["args"][0]) for message in connection.get_received()]


def office(view, code):
    return next(each for each in view["offices"] if each["code"] == code)


def desk(view, name):
    return next(each for each in view["desks"] if each["name"] == name)


def test_a_manager_connects_to_the_overview_of_the_whole_service(manager):
    [(name, snapshot)] = received(manager)
    assert name == "snapshot"
    view = snapshot["overview"]
    assert [each["code"] for each in view["offices"]] == ["OAC", "OMIC", "OFIM", "HAB", "ORGT"]
    assert all(each["waiting"] == 0 and each["waiting_since"] is None for each in view["offices"])
    assert office(view, "OAC")["target_wait_s"] == 900
    assert [each["state"] for each in view["desks"]] == ["free"] * 8
    assert all(each["since"] is None for each in view["desks"])  # nothing at any desk today
    assert view["occupancy"] == {
        "inside": 0,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert view["seq"] == snapshot["seq"]


def test_each_change_brings_a_fresh_overview_and_nothing_else(manager, api):
    received(manager)
    issued = api.as_("reception").post("/tickets", {"office": "OAC"}).get_json()
    [(name, view)] = received(manager)
    assert name == "overview"
    assert office(view, "OAC")["waiting"] == 1
    assert office(view, "OAC")["waiting_since"] == issued["issued_at"]
    assert view["occupancy"]["inside"] == 1

    called = api.as_("clerk").post("/desks/1/call-next").get_json()
    [(name, view)] = received(manager)
    assert office(view, "OAC")["waiting"] == 0 and office(view, "OAC")["serving"] == 1
    first = desk(view, "Taulell 1")
    assert (first["state"], first["ticket"], first["since"]) == (
        "serving",
        "A001",
        called["called_at"],
    )

    api.as_("clerk").post(f"/tickets/{called['id']}/finish")
    api.as_("clerk").post("/desks/2/pause", {"reason": "Esmorzar"})
    messages = received(manager)
    assert [name for name, _ in messages] == ["overview", "overview"]  # no ticket, no desk
    latest = messages[-1][1]
    assert desk(latest, "Taulell 1")["state"] == "free" and desk(latest, "Taulell 1")["since"]
    assert desk(latest, "Taulell 2")["state"] == "paused" and desk(latest, "Taulell 2")["since"]
    assert office(latest, "OAC")["served"] == 1
    assert office(latest, "OAC")["wait_max_s"] == 0  # called the moment it was issued


def test_a_manager_never_hears_appointments_or_tickets(manager, api):
    """Names and phones of appointments go to reception and desks, never to a manager."""
    received(manager)
    booked = api.as_("reception").post(
        "/appointments",
        {"office": "OMIC", "start": next_workday().isoformat(), "name": "Anna Puig"},
    )
    assert booked.status_code == 201
    assert received(manager) == []  # an appointment changes nothing of the overview


def test_a_reconnecting_manager_gets_a_fresh_overview(manager, api):
    [(_, snapshot)] = received(manager)
    api.as_("reception").post("/tickets", {"office": "OMIC"})
    received(manager)
    manager.emit("resync", {"since": snapshot["seq"]})
    [(name, fresh)] = received(manager)
    assert name == "snapshot" and office(fresh["overview"], "OMIC")["waiting"] == 1


def test_a_desk_idle_since_yesterday_counts_from_today(undated_db):
    """``since`` is the desk's newest event of the day: yesterday's do not count."""
    db = undated_db
    tickets.issue(db, "OAC", now=T0)
    tickets.call_next(db, 1, now=T0 + timedelta(minutes=1))
    view = overview.read(db, T0 + timedelta(minutes=2))
    assert desk(view, "Taulell 1")["state"] == "serving"
    next_day = T0 + timedelta(days=1)
    ensure_today(db, next_day)
    view = overview.read(db, next_day)
    assert desk(view, "Taulell 1") == {
        "id": 1,
        "name": "Taulell 1",
        "offices": ["OAC"],
        "state": "free",
        "since": None,
        "ticket": None,
    }
