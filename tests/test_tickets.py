"""The ticket rules on the demo town hall, called as plain functions with an injected clock.

Desks 1-4 serve OAC (letter A), desk 5 OMIC (C), 6 OFIM (I), 7 HAB (H), 8 ORGT (T).
"""

from datetime import datetime, timedelta, timezone

import pytest

from queue_app.rules import desks, occupancy, offices, tickets
from queue_app.rules.day import ensure_today
from queue_app.rules.errors import (
    DeskBusy,
    DeskPaused,
    InvalidInput,
    InvalidTransition,
    NotFound,
    UnknownOffice,
)
from queue_app.storage import journal
from queue_app.storage.db import write_transaction

from helpers import MADRID, MINUTE, SECOND, T0, db_state

UTC = timezone.utc


@pytest.fixture
def db(undated_db):
    return undated_db


def snapshot(db):
    """Everything a refused call must leave as it was."""
    return db_state(db, ("tickets", "settings", "desks", "desk_offices", "events"))


def issue(db, office="OAC", at=T0, **fields):
    return tickets.issue(db, office, now=at, **fields).value


def call(db, desk_id, at):
    """The code the desk calls next (None when nothing waits); the desk is then freed."""
    ticket = tickets.call_next(db, desk_id, now=at).value
    if ticket is None:
        return None
    tickets.finish(db, ticket["id"], now=at)
    return ticket["code"]


def local(moment):
    """How the contract shows an instant: local ISO 8601 with offset, to the second."""
    return moment.astimezone(MADRID).isoformat(timespec="seconds")


def serve_also(db, desk_id, office):
    """Set-up: let a desk serve one more office (there is no domain function for it)."""
    with write_transaction(db):
        db.execute("INSERT INTO desk_offices (desk_id, office) VALUES (?, ?)", [desk_id, office])


# Numbering ---------------------------------------------------------------------------------


def test_numbers_start_at_one_and_count_per_office(db):
    sequence = ["OAC", "OAC", "OMIC", "OAC", "HAB", "OMIC", "ORGT", "OFIM"]
    issued = [issue(db, office, T0 + i * MINUTE) for i, office in enumerate(sequence)]
    assert [t["code"] for t in issued] == [
        "A001",
        "A002",
        "C001",
        "A003",
        "H001",
        "C002",
        "T001",
        "I001",
    ]
    assert [t["number"] for t in issued] == [1, 2, 1, 3, 1, 2, 1, 1]
    assert [t["office"] for t in issued] == sequence


def test_a1000_follows_a999(db):
    for _ in range(999):
        ticket = issue(db)
        tickets.cancel(db, ticket["id"], now=T0)  # keeps the building empty and the queue short
    assert ticket["code"] == "A999"
    thousandth = issue(db)
    assert (thousandth["code"], thousandth["number"]) == ("A1000", 1000)
    assert issue(db)["code"] == "A1001"
    assert issue(db, "OMIC")["code"] == "C001"


@pytest.mark.parametrize(
    "last_evening, first_morning, after_utc_midnight",
    [
        # Summer (UTC+2): local midnight is 22:00 UTC, UTC midnight is 02:00 local.
        (
            datetime(2024, 6, 10, 21, 50, tzinfo=UTC),
            datetime(2024, 6, 10, 22, 10, tzinfo=UTC),
            datetime(2024, 6, 11, 0, 30, tzinfo=UTC),
        ),
        # Winter (UTC+1): local midnight is 23:00 UTC.
        (
            datetime(2024, 1, 15, 22, 50, tzinfo=UTC),
            datetime(2024, 1, 15, 23, 10, tzinfo=UTC),
            datetime(2024, 1, 16, 0, 30, tzinfo=UTC),
        ),
    ],
)
def test_codes_restart_at_local_midnight_not_utc_midnight(
    db, last_evening, first_morning, after_utc_midnight
):
    assert issue(db, at=last_evening)["code"] == "A001"
    assert issue(db, at=last_evening)["code"] == "A002"
    assert issue(db, "OMIC", at=last_evening)["code"] == "C001"
    # Ten minutes after local midnight: a new local day, though UTC still has the old date.
    assert issue(db, at=first_morning)["code"] == "A001"
    assert issue(db, "OMIC", at=first_morning)["code"] == "C001"
    # Crossing UTC midnight inside the same local day does not restart anything.
    assert issue(db, at=after_utc_midnight)["code"] == "A002"


def test_transferred_ticket_does_not_take_a_number_of_its_new_office(db):
    moved = issue(db, "OAC")
    tickets.transfer(db, moved["id"], "OMIC", now=T0 + MINUTE)
    assert issue(db, "OMIC", T0 + 2 * MINUTE)["code"] == "C001"
    assert issue(db, "OAC", T0 + 2 * MINUTE)["code"] == "A002"


def test_defaults_of_a_new_ticket(db):
    ticket = issue(db, "HAB")
    assert ticket["kind"] == "walk_in"
    assert ticket["priority"] is False
    assert ticket["party_size"] == 1
    assert ticket["status"] == "waiting"
    assert ticket["desk"] is None and ticket["recalls"] == 0
    assert ticket["issued_at"] == "2024-06-10T09:00:00+02:00"
    assert ticket["called_at"] is ticket["started_at"] is ticket["finished_at"] is None
    assert ticket["appointment_at"] is None
    assert ticket["position"] == 0
    assert ticket["token"] and ticket["token"] != issue(db, "HAB")["token"]


@pytest.mark.parametrize("party_size", [1, 20])
def test_party_size_bounds_are_accepted(db, party_size):
    assert issue(db, party_size=party_size)["party_size"] == party_size


# Input validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"kind": "vip"},
        {"kind": None},
        {"kind": "Walk_In"},
        {"priority": "yes"},
        {"priority": 1},
        {"priority": None},
        {"party_size": 0},
        {"party_size": 21},
        {"party_size": -1},
        {"party_size": True},
        {"party_size": "2"},
        {"party_size": 2.0},
        {"party_size": None},
        {"appointment_at": T0 + 10 * MINUTE},
        {"kind": "urgent", "appointment_at": T0 + 10 * MINUTE},
        {"kind": "walk_in", "appointment_at": T0},
        {"kind": "appointment", "appointment_at": "2024-06-10T09:30"},
        {"kind": "appointment", "appointment_at": T0.replace(tzinfo=None)},
    ],
    ids=repr,
)
def test_invalid_issue_input_is_refused_and_writes_nothing(db, fields):
    issue(db)
    before = snapshot(db)
    with pytest.raises(InvalidInput):
        tickets.issue(db, "OAC", now=T0 + MINUTE, **fields)
    assert snapshot(db) == before
    assert occupancy.read(db)["inside"] == 1


@pytest.mark.parametrize("office", ["XYZ", "", "oac", None])
def test_unknown_office_is_refused_and_writes_nothing(db, office):
    issue(db)
    before = snapshot(db)
    with pytest.raises(UnknownOffice):
        tickets.issue(db, office, now=T0 + MINUTE)
    assert snapshot(db) == before


def test_unknown_office_on_a_new_day_does_not_even_roll_the_day_over(db):
    issue(db)
    before = snapshot(db)
    with pytest.raises(UnknownOffice):
        tickets.issue(db, "XYZ", now=T0 + timedelta(days=1))
    assert snapshot(db) == before


# Calling order ------------------------------------------------------------------------------


def test_calling_order_urgent_then_due_appointments_then_priority_then_the_rest(db):
    order = [
        ("walk_1", {}),
        ("prio_1", {"priority": True}),
        ("appt_1", {"kind": "appointment", "appointment_at": T0}),
        ("urgent_1", {"kind": "urgent"}),
        ("walk_2", {}),
        ("prio_2", {"priority": True}),
        ("urgent_2", {"kind": "urgent"}),
        ("appt_2", {"kind": "appointment", "appointment_at": T0 + 2 * MINUTE}),
    ]
    codes = {
        name: issue(db, at=T0 + i * MINUTE, **fields)["code"]
        for i, (name, fields) in enumerate(order)
    }
    now = T0 + 30 * MINUTE
    called = [call(db, 1, now) for _ in order]
    assert called == [
        codes[name]
        for name in (
            "urgent_1",
            "urgent_2",
            "appt_1",
            "appt_2",
            "prio_1",
            "prio_2",
            "walk_1",
            "walk_2",
        )
    ]
    assert call(db, 1, now) is None


def test_urgent_priority_is_still_urgent_and_priority_walk_in_beats_older_walk_in(db):
    old = issue(db, at=T0)
    prio = issue(db, at=T0 + MINUTE, priority=True)
    urgent = issue(db, at=T0 + 2 * MINUTE, kind="urgent", priority=True)
    now = T0 + 3 * MINUTE
    assert [call(db, 1, now) for _ in range(3)] == [urgent["code"], prio["code"], old["code"]]


def test_appointment_counts_as_due_from_five_minutes_before_its_time(db):
    walk_1 = issue(db, at=T0)
    walk_2 = issue(db, at=T0 + MINUTE)
    appt = issue(db, at=T0 + 2 * MINUTE, kind="appointment", appointment_at=T0 + 30 * MINUTE)
    # One second before 09:25 the appointment is not due: it waits behind older walk-ins.
    assert call(db, 1, T0 + 25 * MINUTE - timedelta(seconds=1)) == walk_1["code"]
    # From 09:25 (five minutes before 09:30) it comes before them.
    assert call(db, 2, T0 + 25 * MINUTE) == appt["code"]
    assert call(db, 3, T0 + 25 * MINUTE) == walk_2["code"]


def test_appointment_not_yet_due_waits_like_a_walk_in(db):
    appt = issue(db, at=T0, kind="appointment", appointment_at=T0 + timedelta(hours=2))
    walk = issue(db, at=T0 + MINUTE)
    now = T0 + 10 * MINUTE
    assert [call(db, 1, now), call(db, 1, now)] == [appt["code"], walk["code"]]


def test_appointment_without_a_time_is_booked_for_now_and_due_at_once(db):
    walk = issue(db, at=T0)
    appt = issue(db, at=T0 + 10 * MINUTE, kind="appointment")
    assert appt["appointment_at"] == local(T0 + 10 * MINUTE)
    assert call(db, 1, T0 + 10 * MINUTE) == appt["code"]
    assert call(db, 1, T0 + 10 * MINUTE) == walk["code"]


def test_appointment_time_is_kept_in_the_towns_time_zone(db):
    booked = datetime(2024, 6, 10, 9, 45, tzinfo=UTC)
    ticket = issue(db, kind="appointment", appointment_at=booked)
    assert ticket["appointment_at"] == "2024-06-10T11:45:00+02:00"


def test_desk_calls_across_all_the_offices_it_serves(db):
    serve_also(db, 1, "OMIC")
    c_walk = issue(db, "OMIC", T0)
    a_walk = issue(db, "OAC", T0 + MINUTE)
    c_prio = issue(db, "OMIC", T0 + 2 * MINUTE, priority=True)
    a_urgent = issue(db, "OAC", T0 + 3 * MINUTE, kind="urgent")
    t_urgent = issue(db, "ORGT", T0 + 4 * MINUTE, kind="urgent")
    now = T0 + 5 * MINUTE
    # Desk 5 serves only OMIC: the urgent A ticket is not its business.
    assert call(db, 5, now) == c_prio["code"]
    assert [call(db, 1, now) for _ in range(4)] == [
        a_urgent["code"],
        c_walk["code"],
        a_walk["code"],
        None,
    ]
    assert tickets.find(db, t_urgent["id"], now)["status"] == "waiting"


def test_transferred_ticket_keeps_its_issue_time_in_the_new_queue(db):
    c_ticket = issue(db, "OMIC", T0)
    a_ticket = issue(db, "OAC", T0 + 5 * MINUTE)
    assert tickets.call_next(db, 5, now=T0 + 6 * MINUTE).value["code"] == "C001"
    moved = tickets.transfer(db, c_ticket["id"], "OAC", now=T0 + 7 * MINUTE).value
    assert moved["issued_at"] == c_ticket["issued_at"]
    # Desk 5 is free again and nothing waits in OMIC any more.
    assert tickets.call_next(db, 5, now=T0 + 8 * MINUTE).value is None
    assert [call(db, 1, T0 + 8 * MINUTE) for _ in range(2)] == ["C001", a_ticket["code"]]


def test_nothing_waiting_gives_none_and_changes_nothing(db):
    issue(db, "OMIC")
    issue(db, "HAB")
    before = snapshot(db)
    outcome = tickets.call_next(db, 1, now=T0 + MINUTE)
    assert outcome.value is None and outcome.events == []
    assert snapshot(db) == before
    assert offices.waiting_by_office(db) == {"OAC": 0, "OMIC": 1, "OFIM": 0, "HAB": 1, "ORGT": 0}


def test_calling_gives_the_ticket_to_the_desk(db):
    ticket = issue(db)
    called = tickets.call_next(db, 2, now=T0 + 3 * MINUTE).value
    assert called["id"] == ticket["id"] and called["code"] == "A001"
    assert called["status"] == "called" and called["desk"] == "Taulell 2"
    assert called["called_at"] == local(T0 + 3 * MINUTE)
    assert called["position"] is None and called["estimated_wait_s"] is None
    assert desks.get_desk(db, 2, T0 + 3 * MINUTE)["current"]["code"] == "A001"
    assert offices.waiting_by_office(db)["OAC"] == 0


def test_calling_from_an_unknown_desk_is_not_found(db):
    issue(db)
    before = snapshot(db)
    with pytest.raises(NotFound):
        tickets.call_next(db, 99, now=T0)
    assert snapshot(db) == before


@pytest.mark.parametrize("held", ["called", "serving"])
def test_desk_with_a_current_ticket_is_busy(db, held):
    first = issue(db, at=T0)
    second = issue(db, at=T0 + MINUTE)
    tickets.call_next(db, 1, now=T0 + 2 * MINUTE)
    if held == "serving":
        tickets.start(db, first["id"], now=T0 + 3 * MINUTE)
    before = snapshot(db)
    with pytest.raises(DeskBusy):
        tickets.call_next(db, 1, now=T0 + 4 * MINUTE)
    assert snapshot(db) == before
    # Another desk of the same office is not blocked.
    assert tickets.call_next(db, 2, now=T0 + 4 * MINUTE).value["id"] == second["id"]
    tickets.finish(db, first["id"], now=T0 + 5 * MINUTE)
    assert tickets.call_next(db, 1, now=T0 + 5 * MINUTE).value is None


def test_paused_desk_cannot_call_until_resumed(db):
    first = issue(db, at=T0)
    second = issue(db, at=T0 + MINUTE)
    desks.pause(db, 1, "coffee", now=T0 + 2 * MINUTE)
    before = snapshot(db)
    with pytest.raises(DeskPaused):
        tickets.call_next(db, 1, now=T0 + 3 * MINUTE)
    assert snapshot(db) == before
    assert tickets.call_next(db, 2, now=T0 + 3 * MINUTE).value["id"] == first["id"]
    desks.resume(db, 1, now=T0 + 4 * MINUTE)
    assert tickets.call_next(db, 1, now=T0 + 4 * MINUTE).value["id"] == second["id"]


# Transitions -------------------------------------------------------------------------------

# The documented transitions (docs/api.md), written out here rather than read from the code.
ALLOWED = {
    "recall": {"called"},
    "start": {"called"},
    "finish": {"called", "serving"},
    "no_show": {"called"},
    "transfer": {"waiting", "called", "serving"},
    "cancel": {"waiting", "called", "serving"},
}
RESULT = {
    "recall": "called",
    "start": "serving",
    "finish": "done",
    "no_show": "no_show",
    "transfer": "waiting",
    "cancel": "cancelled",
}
ACTIONS = {
    "recall": tickets.recall,
    "start": tickets.start,
    "finish": tickets.finish,
    "no_show": tickets.no_show,
    "cancel": tickets.cancel,
    "transfer": lambda db, ticket_id, now: tickets.transfer(db, ticket_id, "OMIC", now=now),
}
STATUSES = ["waiting", "called", "serving", "done", "no_show", "cancelled", "expired"]


def ticket_in(db, status):
    """A fresh OAC ticket brought to ``status``; returns its id and the time to act at."""
    ticket = issue(db, at=T0)
    step = T0 + MINUTE
    if status in ("called", "serving", "done", "no_show"):
        tickets.call_next(db, 1, now=step)
    if status == "serving":
        tickets.start(db, ticket["id"], now=step)
    if status == "done":
        tickets.finish(db, ticket["id"], now=step)
    if status == "no_show":
        tickets.no_show(db, ticket["id"], now=step)
    if status == "cancelled":
        tickets.cancel(db, ticket["id"], now=step)
    if status == "expired":
        step = T0 + timedelta(days=1)
        ensure_today(db, step)
    assert tickets.find(db, ticket["id"], step)["status"] == status
    return ticket["id"], step + MINUTE


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_transition_is_allowed_or_refused_as_documented(db, action, status):
    ticket_id, when = ticket_in(db, status)
    if status in ALLOWED[action]:
        ticket = ACTIONS[action](db, ticket_id, now=when).value
        assert ticket["status"] == RESULT[action]
        assert tickets.find(db, ticket_id, when)["status"] == RESULT[action]
        if RESULT[action] in ("done", "no_show", "cancelled"):
            assert ticket["finished_at"] == local(when)
        if action == "start":
            assert ticket["started_at"] == local(when)
    else:
        before = snapshot(db)
        with pytest.raises(InvalidTransition):
            ACTIONS[action](db, ticket_id, now=when)
        assert snapshot(db) == before


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_acting_on_an_unknown_ticket_is_not_found(db, action):
    issue(db)
    before = snapshot(db)
    with pytest.raises(NotFound):
        ACTIONS[action](db, 999, now=T0)
    assert snapshot(db) == before


@pytest.mark.parametrize("status", ["called", "serving"])
def test_final_state_frees_the_desk(db, status):
    ticket_id, when = ticket_in(db, status)
    waiting = issue(db, at=when)
    tickets.finish(db, ticket_id, now=when)
    assert desks.get_desk(db, 1, when)["current"] is None
    assert tickets.call_next(db, 1, now=when).value["id"] == waiting["id"]


@pytest.mark.parametrize("status", ["waiting", "called", "serving"])
def test_transfer_keeps_code_and_issue_time_and_frees_the_desk(db, status):
    ticket_id, when = ticket_in(db, status)
    original = tickets.find(db, ticket_id, when)
    moved = tickets.transfer(db, ticket_id, "HAB", now=when).value
    for kept in ("id", "code", "number", "issued_at", "token", "kind", "party_size"):
        assert moved[kept] == original[kept]
    assert moved["office"] == "HAB" and moved["status"] == "waiting"
    assert moved["desk"] is None and moved["called_at"] is None and moved["started_at"] is None
    assert moved["position"] == 0
    assert offices.waiting_by_office(db)["OAC"] == 0
    assert offices.waiting_by_office(db)["HAB"] == 1
    assert desks.get_desk(db, 1, when)["current"] is None
    assert tickets.call_next(db, 1, now=when).value is None  # not busy, and A001 is gone
    assert tickets.call_next(db, 7, now=when).value["code"] == "A001"


@pytest.mark.parametrize("status", ["called", "serving"])
def test_transfer_from_a_desk_tells_the_desk_it_is_free(db, status):
    ticket_id, when = ticket_in(db, status)
    events = tickets.transfer(db, ticket_id, "HAB", now=when).events
    freed = [event["payload"]["desk"] for event in events if event["type"] == "desk_changed"]
    assert [(desk["name"], desk["offices"], desk["current"]) for desk in freed] == [
        ("Taulell 1", ["OAC"], None)
    ]


@pytest.mark.parametrize(
    "office, refusal", [("OAC", InvalidTransition), ("NOWHERE", UnknownOffice)]
)
def test_transfer_to_the_same_or_an_unknown_office_is_refused(db, office, refusal):
    ticket_id, when = ticket_in(db, "called")
    before = snapshot(db)
    with pytest.raises(refusal):
        tickets.transfer(db, ticket_id, office, now=when)
    assert snapshot(db) == before


def test_recall_counts_and_announces_again(db):
    ticket = issue(db)
    seq = journal.last_seq(db)
    tickets.call_next(db, 3, now=T0 + MINUTE)
    first = tickets.recall(db, ticket["id"], now=T0 + 2 * MINUTE).value
    second = tickets.recall(db, ticket["id"], now=T0 + 3 * MINUTE).value
    assert (first["recalls"], second["recalls"]) == (1, 2)
    assert second["status"] == "called" and second["desk"] == "Taulell 3"
    assert second["called_at"] == local(T0 + MINUTE)
    announced = [e for e in journal.since(db, seq) if e["type"] == "ticket_called"]
    assert [
        (
            e["payload"]["recall"],
            e["payload"]["desk"],
            e["payload"]["ticket"]["code"],
            e["payload"]["ticket"]["recalls"],
        )
        for e in announced
    ] == [
        (False, "Taulell 3", "A001", 0),
        (True, "Taulell 3", "A001", 1),
        (True, "Taulell 3", "A001", 2),
    ]
    assert [e["ticket_id"] for e in announced] == [ticket["id"]] * 3


# Position and estimated wait -----------------------------------------------------------------


def staff(db, *desk_ids, at=T0):
    """Desk pages open at ``desk_ids`` (as live/presence.py notes them)."""
    for desk_id in desk_ids:
        desks.page_opened(db, f"page-{desk_id}", desk_id, "this-process", at)


def waiting_view(db, ticket_ids, now):
    found = [tickets.find(db, ticket_id, now) for ticket_id in ticket_ids]
    return [(t["position"], t["estimated_wait_s"]) for t in found]


def test_position_follows_the_calling_order_within_the_office(db):
    walk = issue(db, at=T0)
    prio = issue(db, at=T0 + MINUTE, priority=True)
    urgent = issue(db, at=T0 + 2 * MINUTE, kind="urgent")
    other_office = issue(db, "OMIC", at=T0 + 3 * MINUTE)
    now = T0 + 4 * MINUTE
    positions = [
        tickets.find(db, t["id"], now)["position"] for t in (urgent, prio, walk, other_office)
    ]
    assert positions == [0, 1, 2, 0]
    tickets.call_next(db, 1, now=now)
    assert [tickets.find(db, t["id"], now)["position"] for t in (urgent, prio, walk)] == [
        None,
        0,
        1,
    ]


def test_no_staffed_desk_means_no_estimate(db):
    """Four OAC desks, none paused, but nobody at any: an estimate would be a guess."""
    ids = [issue(db, at=T0 + i * MINUTE)["id"] for i in range(2)]
    assert waiting_view(db, ids, T0 + 5 * MINUTE) == [(0, None), (1, None)]


def test_each_free_staffed_desk_takes_the_next_one_at_the_default_pace(db):
    ids = [issue(db, at=T0 + i * MINUTE)["id"] for i in range(5)]
    now = T0 + 5 * MINUTE
    staff(db, 1, at=now)
    # One desk, free now, 300 s per ticket (no ticket ended today yet).
    assert waiting_view(db, ids, now) == [(0, 0), (1, 300), (2, 600), (3, 900), (4, 1200)]
    staff(db, 2, at=now)
    assert waiting_view(db, ids, now) == [(0, 0), (1, 0), (2, 300), (3, 300), (4, 600)]


def test_a_busy_desk_is_free_once_the_pace_has_passed_since_its_call(db):
    first = issue(db, at=T0)
    waiting = [issue(db, at=T0 + i * MINUTE)["id"] for i in (1, 2)]
    tickets.call_next(db, 1, now=T0 + 2 * MINUTE)  # acting: staffed, busy since 09:02
    now = T0 + 4 * MINUTE  # 120 s into a 300 s pace: free in 180 s
    assert waiting_view(db, waiting, now) == [(0, 180), (1, 480)]
    assert tickets.find(db, first["id"], now)["estimated_wait_s"] is None  # not waiting


def test_a_desk_that_stopped_acting_and_has_no_page_stops_counting(db):
    served = issue(db, at=T0)
    tickets.call_next(db, 1, now=T0)
    tickets.finish(db, served["id"], now=T0 + MINUTE)
    waiting = issue(db, at=T0 + 2 * MINUTE)
    assert waiting_view(db, [waiting["id"]], T0 + 10 * MINUTE)[0][1] is not None
    assert waiting_view(db, [waiting["id"]], T0 + 12 * MINUTE) == [(0, None)]


def test_a_page_left_open_by_a_process_that_died_counts_for_90_seconds(db):
    waiting = issue(db, at=T0)
    staff(db, 3, at=T0)
    assert waiting_view(db, [waiting["id"]], T0 + 80 * SECOND) == [(0, 0)]
    assert waiting_view(db, [waiting["id"]], T0 + 100 * SECOND) == [(0, None)]
    desks.pages_still_open(db, "this-process", T0 + 100 * SECOND)  # its heartbeat
    assert waiting_view(db, [waiting["id"]], T0 + 150 * SECOND) == [(0, 0)]
    desks.page_closed(db, "page-3")
    assert waiting_view(db, [waiting["id"]], T0 + 150 * SECOND) == [(0, None)]


def test_paused_desks_do_not_count_even_with_a_page_open(db):
    ids = [issue(db, at=T0 + i * MINUTE)["id"] for i in range(2)]
    now = T0 + 5 * MINUTE
    staff(db, 1, 2, at=now)
    desks.pause(db, 2, now=now)
    assert waiting_view(db, ids, now) == [(0, 0), (1, 300)]
    desks.pause(db, 1, now=now)
    assert waiting_view(db, ids, now) == [(0, None), (1, None)]


def test_the_pace_is_the_offices_recent_desk_time_newest_weighing_most(db):
    served = [issue(db, at=T0 - 10 * MINUTE)["id"] for _ in range(3)]
    # Desk time runs from the call to the end (a no-show keeps the desk too):
    # 09:00-09:04 (240 s), 09:10-09:12 (120 s), 09:20-09:30 (600 s).
    for called, ended, ticket_id in ((0, 4, served[0]), (10, 12, served[1]), (20, 30, served[2])):
        tickets.call_next(db, 1, now=T0 + called * MINUTE)
        end = tickets.no_show if ticket_id == served[1] else tickets.finish
        end(db, ticket_id, now=T0 + ended * MINUTE)
    # Another office's long service is not OAC's business.
    omic = issue(db, "OMIC", at=T0)
    tickets.call_next(db, 5, now=T0)
    tickets.finish(db, omic["id"], now=T0 + 50 * MINUTE)
    waiting = [issue(db, at=T0 + 31 * MINUTE + i * MINUTE)["id"] for i in range(2)]
    recent = 0.3 * 600 + 0.7 * (0.3 * 120 + 0.7 * 240)  # 322.8 s
    assert waiting_view(db, waiting, T0 + 33 * MINUTE) == [(0, 0), (1, round(recent))]


def test_yesterdays_desk_times_do_not_count(db):
    yesterday = T0 - timedelta(days=1)
    old = issue(db, at=yesterday)
    tickets.call_next(db, 1, now=yesterday)
    tickets.finish(db, old["id"], now=yesterday + timedelta(minutes=40))
    today = [issue(db, at=T0 + i * SECOND)["id"] for i in range(2)]
    staff(db, 2, at=T0)
    assert waiting_view(db, today, T0) == [(0, 0), (1, 300)]


def test_default_service_time_is_the_offices_own(db):
    with write_transaction(db):
        db.execute("UPDATE offices SET default_service_s = 600 WHERE code = 'HAB'")
    ids = [issue(db, "HAB", at=T0 + i * MINUTE)["id"] for i in range(2)]
    staff(db, 7, at=T0 + 5 * MINUTE)
    assert waiting_view(db, ids, T0 + 5 * MINUTE) == [(0, 0), (1, 600)]
