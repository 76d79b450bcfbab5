"""The building's occupancy: tickets admit their party, final states let it out, the limit holds."""

from datetime import timedelta

import pytest

from queue_app.rules import door, occupancy, tickets
from queue_app.rules.day import ensure_today
from queue_app.rules.errors import CapacityFull, InvalidInput

from helpers import MINUTE, T0, db_state


@pytest.fixture
def db(undated_db):
    return undated_db


def snapshot(db):
    """Everything a refused call must leave as it was."""
    return db_state(db, ("tickets", "settings", "desks", "events"))


def inside(db):
    return occupancy.read(db)["inside"]


def issue(db, party_size=1, office="OAC", at=T0):
    return tickets.issue(db, office, party_size=party_size, now=at).value


def test_demo_building_starts_empty_with_its_limit(db):
    assert occupancy.read(db) == {
        "inside": 0,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }


def test_issuing_admits_the_whole_party(db):
    issue(db, 3)
    assert inside(db) == 3
    issue(db, 1, "HAB")
    issue(db, 20, "ORGT")
    assert occupancy.read(db) == {
        "inside": 24,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }


def _end_by_finish(db, ticket_id, at):
    tickets.call_next(db, 1, now=at)
    tickets.finish(db, ticket_id, now=at)


def _end_by_finish_after_start(db, ticket_id, at):
    tickets.call_next(db, 1, now=at)
    tickets.start(db, ticket_id, now=at)
    tickets.finish(db, ticket_id, now=at)


def _end_by_no_show(db, ticket_id, at):
    tickets.call_next(db, 1, now=at)
    tickets.no_show(db, ticket_id, now=at)


def _end_by_cancel_waiting(db, ticket_id, at):
    tickets.cancel(db, ticket_id, now=at)


def _end_by_cancel_called(db, ticket_id, at):
    tickets.call_next(db, 1, now=at)
    tickets.cancel(db, ticket_id, now=at)


def _end_by_cancel_serving(db, ticket_id, at):
    tickets.call_next(db, 1, now=at)
    tickets.start(db, ticket_id, now=at)
    tickets.cancel(db, ticket_id, now=at)


ENDINGS = {
    "done": _end_by_finish,
    "done_after_start": _end_by_finish_after_start,
    "no_show": _end_by_no_show,
    "cancelled_waiting": _end_by_cancel_waiting,
    "cancelled_called": _end_by_cancel_called,
    "cancelled_serving": _end_by_cancel_serving,
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_a_final_state_lets_the_party_out(db, ending):
    leaving = issue(db, 4)
    issue(db, 2, "HAB")
    door.enter(db, 3, now=T0)
    assert inside(db) == 9
    ENDINGS[ending](db, leaving["id"], T0 + MINUTE)
    assert inside(db) == 5
    assert occupancy.read(db)["full"] is False


def test_expiry_at_the_new_day_empties_the_building(db):
    called = issue(db, 4)
    issue(db, 2, "HAB")
    tickets.call_next(db, 1, now=T0)
    door.enter(db, 5, now=T0)
    assert inside(db) == 11
    ensure_today(db, T0 + timedelta(days=1))
    assert inside(db) == 0
    assert tickets.find(db, called["id"], T0 + timedelta(days=1))["status"] == "expired"


def test_open_ticket_keeps_its_party_inside_through_call_recall_start_and_transfer(db):
    ticket = issue(db, 5)
    steps = [
        lambda: tickets.call_next(db, 1, now=T0),
        lambda: tickets.recall(db, ticket["id"], now=T0),
        lambda: tickets.start(db, ticket["id"], now=T0),
        lambda: tickets.transfer(db, ticket["id"], "OMIC", now=T0),
        lambda: tickets.call_next(db, 5, now=T0),
    ]
    for step in steps:
        step()
        assert inside(db) == 5


def test_capacity_full_refuses_issuing_and_entering_and_writes_nothing(db):
    door.set_counts(db, limit=5, now=T0)
    first = issue(db, 3)
    issue(db, 2, "HAB")
    assert occupancy.read(db) == {
        "inside": 5,
        "limit": 5,
        "full": True,
        "outside": 0,
        "next_in": [],
    }
    before = snapshot(db)
    with pytest.raises(CapacityFull):
        tickets.issue(db, "OAC", now=T0 + MINUTE)
    with pytest.raises(CapacityFull):
        door.enter(db, now=T0 + MINUTE)
    assert snapshot(db) == before
    tickets.cancel(db, first["id"], now=T0 + 2 * MINUTE)
    assert issue(db, 3, at=T0 + 2 * MINUTE)["code"] == "A002"
    assert occupancy.read(db)["full"] is True


def test_a_party_that_does_not_fit_is_refused_while_a_smaller_one_fits(db):
    door.set_counts(db, limit=10, now=T0)
    door.enter(db, 7, now=T0)
    before = snapshot(db)
    with pytest.raises(CapacityFull):
        tickets.issue(db, "OAC", party_size=4, now=T0)
    with pytest.raises(CapacityFull):
        door.enter(db, 4, now=T0)
    assert snapshot(db) == before
    assert issue(db, 3)["party_size"] == 3
    assert occupancy.read(db) == {
        "inside": 10,
        "limit": 10,
        "full": True,
        "outside": 0,
        "next_in": [],
    }


def test_entries_and_exits_move_the_count_and_report_it(db):
    outcome = door.enter(db, now=T0)
    assert outcome.value == {"inside": 1, "limit": 50, "full": False, "outside": 0, "next_in": []}
    assert door.enter(db, 4, now=T0).value["inside"] == 5
    outcome = door.leave(db, 2, now=T0)
    assert outcome.value == {"inside": 3, "limit": 50, "full": False, "outside": 0, "next_in": []}
    reported = [e for e in outcome.events if e["type"] == "occupancy_changed"]
    assert reported[-1]["payload"] == {
        "inside": 3,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert door.leave(db, now=T0).value["inside"] == 2


def test_exits_never_take_the_count_below_zero(db):
    door.enter(db, 2, now=T0)
    assert door.leave(db, 10, now=T0).value["inside"] == 0
    assert door.leave(db, now=T0).value["inside"] == 0
    assert door.enter(db, now=T0).value["inside"] == 1


def test_a_ticket_ending_after_a_correction_to_zero_does_not_go_negative(db):
    ticket = issue(db, 4)
    door.set_counts(db, inside=1, now=T0)
    tickets.cancel(db, ticket["id"], now=T0)
    assert inside(db) == 0


def test_entries_fill_the_building_exactly_to_its_limit(db):
    door.enter(db, 50, now=T0)
    assert occupancy.read(db) == {
        "inside": 50,
        "limit": 50,
        "full": True,
        "outside": 0,
        "next_in": [],
    }
    door.leave(db, now=T0)
    assert occupancy.read(db)["full"] is False


@pytest.mark.parametrize("count", [0, -1, 1001, True, False, "1", 1.0, None])
@pytest.mark.parametrize("change", [door.enter, door.leave])
def test_door_counts_must_be_whole_numbers_from_one(db, change, count):
    door.enter(db, 3, now=T0)
    before = snapshot(db)
    with pytest.raises(InvalidInput):
        change(db, count, now=T0)
    assert snapshot(db) == before


def test_admin_corrects_inside_and_limit(db):
    assert door.set_counts(db, inside=7, now=T0).value == {
        "inside": 7,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert door.set_counts(db, limit=8, now=T0).value == {
        "inside": 7,
        "limit": 8,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert door.set_counts(db, inside=0, limit=100000, now=T0).value == {
        "inside": 0,
        "limit": 100000,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert door.set_counts(db, now=T0).value == {
        "inside": 0,
        "limit": 100000,
        "full": False,
        "outside": 0,
        "next_in": [],
    }


def test_admin_may_set_inside_above_the_limit_and_then_nobody_is_admitted(db):
    state = door.set_counts(db, inside=60, now=T0).value
    assert state == {"inside": 60, "limit": 50, "full": True, "outside": 0, "next_in": []}
    with pytest.raises(CapacityFull):
        door.enter(db, now=T0)
    with pytest.raises(CapacityFull):
        tickets.issue(db, "OAC", now=T0)
    assert door.set_counts(db, limit=61, now=T0).value["full"] is False
    assert issue(db)["code"] == "A001"


@pytest.mark.parametrize(
    "fields",
    [
        {"inside": -1},
        {"inside": 100001},
        {"inside": True},
        {"inside": "3"},
        {"inside": 2.5},
        {"limit": 0},
        {"limit": -5},
        {"limit": 100001},
        {"limit": False},
        {"limit": "10"},
        {"limit": 10.0},
        {"inside": 5, "limit": 0},
        {"inside": -1, "limit": 10},
    ],
    ids=repr,
)
def test_admin_counts_are_validated_and_a_bad_one_writes_nothing(db, fields):
    door.enter(db, 3, now=T0)
    before = snapshot(db)
    with pytest.raises(InvalidInput):
        door.set_counts(db, now=T0, **fields)
    assert snapshot(db) == before
    assert occupancy.read(db) == {
        "inside": 3,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
