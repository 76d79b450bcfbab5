"""The lazy roll-over: the first change of a new local day closes the previous one."""

from datetime import datetime, timedelta, timezone

import pytest

from queue_app.rules import desks, door, occupancy, offices, tickets
from queue_app.rules.day import ensure_today
from queue_app.rules.errors import NotFound
from queue_app.storage import journal

from helpers import MADRID, MINUTE, db_state

UTC = timezone.utc
MONDAY = datetime(2024, 6, 10, 9, 0, tzinfo=MADRID)
TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def db(undated_db):
    return undated_db


def snapshot(db):
    """Everything a refused call must leave as it was."""
    return db_state(db, ("tickets", "settings", "desks", "events"))


def statuses(db, now):
    """``{code: status}`` of every ticket, whatever its day."""
    rows = db.execute("SELECT id FROM tickets ORDER BY id").fetchall()
    return {t["code"]: t["status"] for t in (tickets.find(db, row[0], now) for row in rows)}


@pytest.fixture
def busy_monday(db):
    """Monday: A001 waiting, A002 called at desk 1, C001 serving at desk 5, A003 done,
    H001 cancelled, H002 waiting; 4 more people came in at the door."""
    at = MONDAY
    for office in ("OAC", "OAC", "OMIC", "OAC", "HAB", "HAB"):
        tickets.issue(db, office, party_size=2, now=at)
    a001, a002, c001, a003, h001, _ = [
        row[0] for row in db.execute("SELECT id FROM tickets ORDER BY id")
    ]
    # Serve A001 and A003 out of order so A001 is left waiting: transfer it away and back.
    tickets.transfer(db, a001, "ORGT", now=at)
    tickets.call_next(db, 1, now=at)  # A002
    tickets.call_next(db, 2, now=at)  # A003
    tickets.finish(db, a003, now=at + MINUTE)
    tickets.transfer(db, a001, "OAC", now=at + MINUTE)
    tickets.call_next(db, 5, now=at)  # C001
    tickets.start(db, c001, now=at + MINUTE)
    tickets.cancel(db, h001, now=at + MINUTE)
    door.enter(db, 4, now=at + MINUTE)
    assert statuses(db, at) == {
        "A001": "waiting",
        "A002": "called",
        "C001": "serving",
        "A003": "done",
        "H001": "cancelled",
        "H002": "waiting",
    }
    assert occupancy.read(db)["inside"] == 2 * 4 + 4
    return db


def test_first_change_of_a_new_day_expires_open_tickets_and_empties_the_building(busy_monday):
    db = busy_monday
    seq = journal.last_seq(db)
    morning = TUESDAY.replace(hour=8, minute=30)
    outcome = door.enter(db, 1, now=morning)
    assert statuses(db, morning) == {
        "A001": "expired",
        "A002": "expired",
        "C001": "expired",
        "A003": "done",
        "H001": "cancelled",
        "H002": "expired",
    }
    a002 = db.execute("SELECT id FROM tickets WHERE code = 'A002'").fetchone()[0]
    assert tickets.find(db, a002, morning)["finished_at"] == "2024-06-11T08:30:00+02:00"
    assert occupancy.read(db)["inside"] == 1  # emptied, then the one who just came in
    assert offices.waiting_by_office(db) == {o: 0 for o in ("OAC", "OMIC", "OFIM", "HAB", "ORGT")}
    assert [d["current"] for d in desks.list_desks(db, morning)] == [None] * 8

    events = journal.since(db, seq)
    assert [e["seq"] for e in outcome.events] == [e["seq"] for e in events]
    assert events[0]["type"] == "day_started"
    assert events[0]["payload"] == {"day": "2024-06-11", "previous": "2024-06-10"}
    changed = {
        e["payload"]["ticket"]["code"]: e["payload"]["ticket"]["status"]
        for e in events
        if e["type"] == "ticket_changed"
    }
    assert changed == {"A001": "expired", "A002": "expired", "C001": "expired", "H002": "expired"}
    queues = {
        e["payload"]["office"]: e["payload"]["waiting"]
        for e in events
        if e["type"] == "queue_changed"
    }
    assert queues == {"OAC": 0, "HAB": 0}
    rooms = [e["payload"] for e in events if e["type"] == "occupancy_changed"]
    assert rooms == [
        {"inside": 0, "limit": 50, "full": False, "outside": 0, "next_in": []},
        {"inside": 1, "limit": 50, "full": False, "outside": 0, "next_in": []},
    ]


def test_desks_are_free_and_numbers_restart_on_the_new_day(busy_monday):
    db = busy_monday
    ticket = tickets.issue(db, "OAC", now=TUESDAY).value
    assert ticket["code"] == "A001" and ticket["position"] == 0
    assert tickets.call_next(db, 1, now=TUESDAY).value["id"] == ticket["id"]
    assert tickets.call_next(db, 5, now=TUESDAY).value is None


def test_the_same_day_rolls_nothing_over(busy_monday):
    db = busy_monday
    before = statuses(db, MONDAY)
    late = MONDAY.replace(hour=23, minute=59, second=59)
    seq = journal.last_seq(db)
    door.enter(db, 1, now=late)
    assert statuses(db, late) == before
    assert occupancy.read(db)["inside"] == 13
    assert [e["type"] for e in journal.since(db, seq)] == ["occupancy_changed"]


def test_local_midnight_is_the_boundary_not_utc_midnight(db):
    # Summer: 21:59:59 UTC is 23:59:59 in Madrid; 22:00 UTC is already tomorrow.
    ticket = tickets.issue(db, "OAC", now=datetime(2024, 6, 10, 21, 59, 59, tzinfo=UTC)).value
    ensure_today(db, datetime(2024, 6, 10, 21, 59, 59, 999999, tzinfo=UTC))
    assert tickets.find(db, ticket["id"], MONDAY)["status"] == "waiting"
    outcome = ensure_today(db, datetime(2024, 6, 10, 22, 0, tzinfo=UTC))
    assert outcome.events[0]["payload"] == {"day": "2024-06-11", "previous": "2024-06-10"}
    assert tickets.find(db, ticket["id"], TUESDAY)["status"] == "expired"
    # UTC's own midnight, two hours later, is no new day.
    seq = journal.last_seq(db)
    second = tickets.issue(db, "OAC", now=datetime(2024, 6, 11, 0, 30, tzinfo=UTC)).value
    assert ensure_today(db, datetime(2024, 6, 11, 1, 0, tzinfo=UTC)).events == []
    assert tickets.find(db, second["id"], TUESDAY)["status"] == "waiting"
    assert "day_started" not in [e["type"] for e in journal.since(db, seq)]


def test_roll_over_across_a_weekend_names_the_last_business_day(busy_monday):
    db = busy_monday
    friday = MONDAY + timedelta(days=4)
    monday_after = MONDAY + timedelta(days=7)
    ensure_today(db, friday)
    tickets.issue(db, "OAC", now=friday)
    outcome = ensure_today(db, monday_after)
    assert outcome.events[0]["payload"] == {"day": "2024-06-17", "previous": "2024-06-14"}
    assert statuses(db, monday_after)["A001"] == "expired"


def test_a_clock_that_ran_ahead_gives_the_day_back_once_it_is_fixed(busy_monday):
    """The RTC said it was next month for a while; once the clock is put right, today opens
    again: the tickets of that false day expire, the building empties, and each day after
    that rolls over as usual (the journal says the clock moved back)."""
    db = busy_monday
    false_day = MONDAY + timedelta(days=30)
    ensure_today(db, false_day)
    stray = tickets.issue(db, "OAC", party_size=3, now=false_day).value
    fixed = MONDAY.replace(hour=11)
    outcome = ensure_today(db, fixed)
    assert outcome.events[0]["type"] == "day_started"
    assert outcome.events[0]["payload"] == {
        "day": "2024-06-10",
        "previous": "2024-07-10",
        "clock_moved_back": True,
    }
    assert tickets.find(db, stray["id"], fixed)["status"] == "expired"
    assert occupancy.read(db)["inside"] == 0
    # Monday's numbering goes on after Monday's own tickets: no code is given twice.
    assert tickets.issue(db, "OAC", now=fixed).value["code"] == "A004"
    # The next real day rolls over as every day does.
    tickets.issue(db, "OAC", now=fixed + MINUTE)
    assert ensure_today(db, TUESDAY).events[0]["payload"]["previous"] == "2024-06-10"
    assert statuses(db, TUESDAY)["A005"] == "expired"
    assert tickets.issue(db, "OAC", now=TUESDAY).value["code"] == "A001"


def test_the_first_change_after_the_clock_is_fixed_opens_the_day_itself(busy_monday):
    db = busy_monday
    false_day = MONDAY + timedelta(days=30)
    ensure_today(db, false_day)
    tickets.issue(db, "OAC", now=false_day)
    seq = journal.last_seq(db)
    door.enter(db, 1, now=MONDAY.replace(hour=12))
    assert [e["type"] for e in journal.since(db, seq)][0] == "day_started"
    assert occupancy.read(db)["inside"] == 1


def test_ensure_today_rolls_over_once_for_readers(busy_monday):
    db = busy_monday
    outcome = ensure_today(db, TUESDAY)
    assert outcome.events and outcome.events[0]["type"] == "day_started"
    assert statuses(db, TUESDAY)["A002"] == "expired"
    assert occupancy.read(db)["inside"] == 0
    before = snapshot(db)
    again = ensure_today(db, TUESDAY + timedelta(hours=8))
    assert again.events == []
    assert snapshot(db) == before


def test_ensure_today_on_the_current_day_writes_nothing(busy_monday):
    db = busy_monday
    before = snapshot(db)
    assert ensure_today(db, MONDAY + timedelta(hours=3)).events == []
    assert snapshot(db) == before


def test_fresh_town_hall_opens_its_first_day(db):
    outcome = ensure_today(db, MONDAY)
    assert outcome.events[0]["type"] == "day_started"
    assert outcome.events[0]["payload"] == {"day": "2024-06-10", "previous": None}
    assert ensure_today(db, MONDAY + MINUTE).events == []


def test_day_change_through_a_read_then_a_refused_change(busy_monday):
    """A refused change on a new day writes nothing; the next reader still rolls the day over."""
    db = busy_monday
    before = snapshot(db)
    with pytest.raises(NotFound):
        tickets.call_next(db, 99, now=TUESDAY)
    assert snapshot(db) == before
    assert ensure_today(db, TUESDAY).events[0]["type"] == "day_started"
    assert statuses(db, TUESDAY)["A001"] == "expired"
