"""Capacity at the door (contract v2): tickets issued to wait outside when the building is
full, let in by the change that makes room, in issue order, and never called while outside.
The rules are called as plain functions on the demo (limit 50; T0 is Monday 2024-06-10
09:00 in Madrid), then the API, the live events and the SMS notice on the app."""

from datetime import timedelta

import pytest

from queue_app import socketio
from queue_app.rules import appointments, displays, door, occupancy, tickets
from queue_app.rules.day import ensure_today
from queue_app.rules.errors import CapacityFull, InvalidInput, InvalidTransition

from helpers import MINUTE, T0, db_state


@pytest.fixture
def db(undated_db):
    return undated_db


def snapshot(db):
    """Everything a refusal must leave as it was."""
    return db_state(db, ("tickets", "settings", "events"))


def full(db, limit=2, at=T0):
    """The building full: ``limit`` people inside in tickets of OAC; their ids."""
    door.set_counts(db, limit=limit, now=at)
    return [tickets.issue(db, "OAC", now=at).value["id"] for _ in range(limit)]


def wait_outside(db, office="OAC", party_size=1, at=T0):
    return tickets.issue(db, office, party_size=party_size, outside=True, now=at).value


def end(db, ticket_id, at=T0):
    """A desk serving OAC calls the next and finishes ``ticket_id``."""
    tickets.call(db, 1, ticket_id, now=at)
    return tickets.finish(db, ticket_id, now=at)


def status_of(db, ticket_id):
    return db.execute("SELECT status FROM tickets WHERE id = ?", [ticket_id]).fetchone()[0]


# Issuing -----------------------------------------------------------------------------------


def test_with_room_the_flag_changes_nothing(db):
    ticket = wait_outside(db, at=T0)
    assert (ticket["status"], ticket["outside"], ticket["outside_ahead"]) == (
        "waiting",
        False,
        None,
    )
    assert ticket["position"] == 0
    assert occupancy.read(db)["inside"] == 1


def test_every_ticket_says_whether_it_waits_outside(db):
    ticket = tickets.issue(db, "OAC", now=T0).value
    assert ticket["outside"] is False and ticket["outside_ahead"] is None


def test_when_full_a_ticket_waits_outside_not_counted_inside_nor_in_the_queue(db):
    full(db)
    before = occupancy.read(db)
    outcome = tickets.issue(db, "OAC", party_size=2, outside=True, now=T0)
    ticket = outcome.value
    assert ticket["status"] == "waiting" and ticket["outside"] is True
    assert ticket["code"] == "A003"
    assert (ticket["position"], ticket["estimated_wait_s"], ticket["outside_ahead"]) == (
        None,
        None,
        0,
    )
    state = occupancy.read(db)
    assert (state["inside"], state["outside"]) == (before["inside"], 2)
    assert tickets.waiting_in(db, "OAC", [ticket["id"]], now=T0) == []
    assert [event["type"] for event in outcome.events] == [
        "ticket_changed",
        "queue_changed",
        "occupancy_changed",
    ]
    assert outcome.events[1]["payload"] == {"office": "OAC", "waiting": 2, "outside": 1}
    assert outcome.events[-1]["payload"]["outside"] == 2


def test_without_the_flag_a_full_building_still_refuses_and_writes_nothing(db):
    full(db)
    before = snapshot(db)
    with pytest.raises(CapacityFull):
        tickets.issue(db, "OAC", now=T0)
    assert snapshot(db) == before


def test_people_outside_go_first_a_newcomer_who_would_fit_waits_behind_them(db):
    full(db, limit=3)
    tickets.finish(db, tickets.call_next(db, 1, now=T0).value["id"], now=T0)  # one place free
    wait_outside(db, party_size=2)  # does not fit: holds the queue
    before = snapshot(db)
    with pytest.raises(CapacityFull, match="waiting outside"):
        tickets.issue(db, "OMIC", now=T0)
    assert snapshot(db) == before
    behind = wait_outside(db, "OMIC")
    assert (behind["outside"], behind["outside_ahead"]) == (True, 2)


def test_a_party_larger_than_the_limit_is_refused_with_its_reason(db):
    full(db, limit=2)
    before = snapshot(db)
    with pytest.raises(CapacityFull, match="A party of 3 can never enter"):
        wait_outside(db, party_size=3)
    assert snapshot(db) == before


def test_the_flag_must_be_true_or_false(db):
    full(db)
    before = snapshot(db)
    with pytest.raises(InvalidInput, match="outside must be true or false"):
        tickets.issue(db, "OAC", outside="yes", now=T0)
    assert snapshot(db) == before


# Letting in --------------------------------------------------------------------------------


def test_a_ticket_ending_lets_the_first_outside_in_in_the_same_change(db):
    inside = full(db)
    first = wait_outside(db)
    second = wait_outside(db, "HAB")
    outcome = end(db, inside[0], at=T0 + MINUTE)
    kinds = [(event["type"], event["ticket_id"]) for event in outcome.events]
    assert ("ticket_admitted", first["id"]) in kinds
    assert ("ticket_admitted", second["id"]) not in kinds
    assert kinds[-1] == ("occupancy_changed", None)
    # In its place by issue time: behind the one inside that still waits, ahead of later ones.
    admitted = tickets.find(db, first["id"], now=T0 + MINUTE)
    assert (admitted["status"], admitted["outside"], admitted["position"]) == ("waiting", False, 1)
    state = occupancy.read(db)
    assert (state["inside"], state["outside"], state["next_in"]) == (2, 1, [first["code"]])
    assert tickets.find(db, second["id"], now=T0)["outside_ahead"] == 0


def test_strict_order_a_party_that_does_not_fit_yet_holds_those_behind(db):
    inside = full(db, limit=3)
    big = wait_outside(db, party_size=2)
    small = wait_outside(db, "HAB")
    end(db, inside[0])  # one place: the party of 2 does not fit, the one behind waits
    assert [status_of(db, t["id"]) for t in (big, small)] == ["outside", "outside"]
    end(db, inside[1])  # two places: the party of 2 comes in, and then it is full again
    assert [status_of(db, t["id"]) for t in (big, small)] == ["waiting", "outside"]
    end(db, inside[2])
    assert status_of(db, small["id"]) == "waiting"
    assert occupancy.read(db)["next_in"] == [small["code"], big["code"]]


def test_an_exit_at_the_door_lets_in_as_many_as_fit(db):
    door.set_counts(db, limit=3, now=T0)
    door.enter(db, 3, now=T0)
    waiting = [wait_outside(db) for _ in range(3)]
    outcome = door.leave(db, 2, now=T0)
    assert [status_of(db, t["id"]) for t in waiting] == ["waiting", "waiting", "outside"]
    assert outcome.value["inside"] == 3 and outcome.value["outside"] == 1


def test_a_higher_limit_lets_in_a_lower_one_below_inside_lets_nobody_in(db):
    full(db, limit=2)
    waiting = wait_outside(db)
    lowered = door.set_counts(db, limit=1, now=T0).value
    assert (lowered["inside"], lowered["limit"], lowered["full"]) == (2, 1, True)
    end(db, tickets.list_today(db, status="waiting", now=T0)[0]["id"])
    assert status_of(db, waiting["id"]) == "outside"  # 1 inside of 1: still full
    raised = door.set_counts(db, limit=5, now=T0).value
    assert (raised["inside"], raised["outside"]) == (2, 0)
    assert status_of(db, waiting["id"]) == "waiting"


def test_a_party_the_lowered_limit_can_never_hold_does_not_hold_the_queue(db):
    door.set_counts(db, limit=4, now=T0)
    door.enter(db, 4, now=T0)
    big = wait_outside(db, party_size=3)
    small = wait_outside(db)
    door.set_counts(db, limit=2, now=T0)
    door.leave(db, 4, now=T0)
    assert [status_of(db, t["id"]) for t in (big, small)] == ["outside", "waiting"]


def test_the_last_five_codes_let_in_newest_first_and_a_new_day_forgets_them(db):
    door.set_counts(db, limit=1, now=T0)
    door.enter(db, now=T0)
    codes = [wait_outside(db)["code"] for _ in range(7)]
    for minute in range(1, 7):
        door.leave(db, now=T0 + minute * MINUTE)
    assert occupancy.read(db)["next_in"] == codes[5::-1][:5]
    tomorrow = T0 + timedelta(days=1)
    ensure_today(db, tomorrow)
    state = occupancy.read(db)
    assert (state["inside"], state["outside"], state["next_in"]) == (0, 0, [])


def test_a_new_day_expires_the_tickets_left_outside(db):
    full(db)
    waiting = wait_outside(db)
    ensure_today(db, T0 + timedelta(days=1))
    assert status_of(db, waiting["id"]) == "expired"


def test_door_entries_need_only_room_like_a_checked_in_appointment(db):
    inside = full(db, limit=3)
    tickets.cancel(db, inside[0], now=T0)
    wait_outside(db, party_size=2)
    assert door.enter(db, now=T0).value["inside"] == 3


def test_a_booked_appointment_comes_in_when_it_fits_ahead_of_those_outside(db):
    made = appointments.book(
        db, "OMIC", T0.isoformat(), "Núria Puig", now=T0 - timedelta(days=7)
    ).value
    inside = full(db, limit=3)
    tickets.cancel(db, inside[0], now=T0)
    waiting = wait_outside(db, party_size=2)
    ticket = appointments.check_in(db, made["id"], now=T0).value
    assert ticket["outside"] is False
    assert status_of(db, waiting["id"]) == "outside"


# Outside tickets are not called ------------------------------------------------------------


def test_call_next_never_gives_a_ticket_waiting_outside(db):
    inside = full(db, limit=1)
    waiting = wait_outside(db)
    assert tickets.call_next(db, 1, now=T0).value["id"] == inside[0]
    tickets.finish(db, inside[0], now=T0)  # lets the outside one in
    assert tickets.call_next(db, 1, now=T0).value["id"] == waiting["id"]


def test_a_desk_cannot_call_a_ticket_still_outside(db):
    full(db, limit=1)
    tickets.call_next(db, 1, now=T0)
    waiting = wait_outside(db)
    before = snapshot(db)
    with pytest.raises(InvalidTransition, match="waits outside"):
        tickets.call(db, 2, waiting["id"], now=T0)
    assert snapshot(db) == before


def test_a_ticket_cancelled_outside_frees_its_place_in_the_outside_queue(db):
    inside = full(db, limit=2)
    end(db, inside[0])
    big = wait_outside(db, party_size=2)  # 1 free: holds the queue
    small = wait_outside(db)
    outcome = tickets.cancel(db, big["id"], now=T0)
    assert outcome.value["status"] == "cancelled"
    assert status_of(db, small["id"]) == "waiting"
    assert occupancy.read(db)["inside"] == 2  # the cancelled party never came in


def test_a_transferred_ticket_outside_stays_outside_in_its_place(db):
    full(db)
    waiting = wait_outside(db)
    moved = tickets.transfer(db, waiting["id"], "OMIC", now=T0).value
    assert (moved["office"], moved["outside"], moved["outside_ahead"]) == ("OMIC", True, 0)


def test_listing_the_waiting_includes_those_outside(db):
    full(db, limit=1)
    waiting = wait_outside(db)
    listed = tickets.list_today(db, status="waiting", now=T0)
    assert [(t["code"], t["outside"]) for t in listed] == [("A001", False), (waiting["code"], True)]


# The API, the live events and the SMS notice -------------------------------------------------


def test_the_api_issues_outside_and_reports_the_door(api, store):
    admin, reception = api.as_("admin"), api.as_("reception")
    admin.put("/occupancy", {"limit": 1})
    assert reception.post("/tickets", {"office": "OAC"}).status_code == 201
    refused = reception.post("/tickets", {"office": "OAC"})
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "capacity_full")
    answer = reception.post("/tickets", {"office": "OAC", "outside": True, "party_size": 1})
    assert answer.status_code == 201
    assert (answer.get_json()["outside"], answer.get_json()["outside_ahead"]) == (True, 0)
    state = reception.get("/occupancy").get_json()
    assert state == {"inside": 1, "limit": 1, "full": True, "outside": 1, "next_in": []}
    never = reception.post("/tickets", {"office": "OAC", "outside": True, "party_size": 2})
    assert never.status_code == 409
    assert never.get_json()["error"]["message"] == (
        "Un grup de 2 no podrà entrar mai: l'aforament de l'edifici és 1."
    )
    bad = reception.post("/tickets", {"office": "OAC", "outside": 1})
    assert (bad.status_code, bad.get_json()["error"]["code"]) == (400, "invalid_input")
    clerk = api.as_("clerk")
    called = clerk.post("/desks/1/call-next").get_json()
    assert called["code"] == "A001"
    refused_call = clerk.post("/desks/2/call", {"ticket": answer.get_json()["id"]})
    assert refused_call.status_code == 409
    clerk.post(f"/tickets/{called['id']}/finish")
    state = reception.get("/occupancy").get_json()
    assert (state["inside"], state["outside"], state["next_in"]) == (1, 0, ["A002"])


def test_the_admission_reaches_its_citizen_reception_and_the_screens_with_the_code_only(
    app, api, store
):
    admin, reception, clerk = api.as_("admin"), api.as_("reception"), api.as_("clerk")
    admin.put("/occupancy", {"limit": 1})
    first = reception.post("/tickets", {"office": "OAC"}).get_json()
    waiting = reception.post("/tickets", {"office": "OAC", "outside": True}).get_json()
    key = displays.list_displays(store)[0]["key"]
    citizen = socketio.test_client(app, auth={"ticket": waiting["token"]})
    desk_side = socketio.test_client(app, auth={"token": api.tokens["reception"]})
    screen = socketio.test_client(app, auth={"screen": key})
    snapshot_ = citizen.get_received()[0]["args"][0]
    assert snapshot_["ticket"]["outside"] is True
    desk_side.get_received(), screen.get_received()
    clerk.post("/desks/1/call-next")
    clerk.post(f"/tickets/{first['id']}/finish")

    def admitted(client):
        return [m["args"][0] for m in client.get_received() if m["name"] == "ticket_admitted"]

    [own] = admitted(citizen)
    assert own["ticket"]["code"] == waiting["code"] and own["ticket"]["outside"] is False
    assert "id" not in own["ticket"]
    [staff] = admitted(desk_side)
    assert staff["ticket"]["id"] == waiting["id"]
    [shown] = admitted(screen)
    assert shown == {"seq": shown["seq"], "ticket": {"code": waiting["code"]}}
    for client in (citizen, desk_side, screen):
        client.disconnect()


def test_a_citizen_outside_with_a_phone_gets_an_sms_when_let_in(
    template, tmp_path, gateway, tokens
):
    from queue_app import create_app
    from queue_app.rules import notices
    from queue_app.storage.db import connect

    from conftest import APP_CONFIG, Api, restore_demo

    path = str(tmp_path / "queue.db")
    restore_demo(template[0], path)
    app = create_app({**APP_CONFIG, "DATABASE": path, "SMS_WEBHOOK": gateway.url})
    api = Api(app.test_client(), tokens)
    try:
        api.as_("admin").put("/occupancy", {"limit": 1})
        first = api.as_("reception").post("/tickets", {"office": "OAC"}).get_json()
        mine = api.as_("reception").post(
            "/tickets", {"office": "OAC", "outside": True, "phone": "612 345 678", "language": "ca"}
        )
        assert mine.status_code == 201
        api.as_("clerk").post("/desks/1/call-next")
        api.as_("clerk").post(f"/tickets/{first['id']}/finish")
        with app.app_context():
            sender = app.extensions["torn.sms"]
            while sender.send_due():
                pass
        texts = [message["text"] for message in gateway.received]
        assert f"Torn {mine.get_json()['code']}: ja podeu entrar a l'edifici." in texts
        db = connect(path)
        journal = db.execute("SELECT payload FROM events").fetchall()
        db.close()
        assert not any("612" in row[0] for row in journal)
    finally:
        notices.configure(False, 3)


def test_a_citizen_outside_hears_the_people_ahead_of_them_go_in(app, api):
    admin, reception, clerk = api.as_("admin"), api.as_("reception"), api.as_("clerk")
    admin.put("/occupancy", {"limit": 1})
    first = reception.post("/tickets", {"office": "OAC"}).get_json()
    reception.post("/tickets", {"office": "OAC", "outside": True})
    behind = reception.post("/tickets", {"office": "OMIC", "outside": True}).get_json()
    assert behind["outside_ahead"] == 1
    citizen = socketio.test_client(app, auth={"ticket": behind["token"]})
    citizen.get_received()
    clerk.post("/desks/1/call-next")
    clerk.post(f"/tickets/{first['id']}/finish")
    heard = [
        m["args"][0]["ticket"] for m in citizen.get_received() if m["name"] == "ticket_changed"
    ]
    assert [(t["outside"], t["outside_ahead"]) for t in heard] == [(True, 0)]
    citizen.disconnect()


def test_a_party_that_can_never_enter_holds_nobody_at_issue_either(db):
    door.set_counts(db, limit=4, now=T0)
    door.enter(db, 4, now=T0)
    big = wait_outside(db, party_size=3)
    door.set_counts(db, limit=2, now=T0)
    door.leave(db, 4, now=T0)  # empty, and only a party of 3 outside under a limit of 2
    newcomer = tickets.issue(db, "OAC", now=T0).value
    assert newcomer["outside"] is False
    assert status_of(db, big["id"]) == "outside"
