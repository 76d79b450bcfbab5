"""Appointments (cita prèvia) on the demo town hall: schedules, slots, booking, check-in,
cancelling, the day's roll-over and the erasure of names, called as plain functions.

The demo schedule: every office Monday to Friday 09:00-14:00 (OAC also Thursday
16:00-19:00), 15-minute slots, one place per desk serving the office (OAC 4, the others
1), early 60 and late 15 minutes. T0 is Monday 2024-06-10 09:00 in Madrid.
"""

import json
from contextlib import closing
from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queue_app.rules import appointments, door, occupancy, schedules, tickets
from queue_app.rules.day import ensure_today
from queue_app.rules.errors import (
    AlreadyCheckedIn,
    CapacityFull,
    InvalidInput,
    InvalidTransition,
    NotFound,
    NotToday,
    OutsideHours,
    SlotFull,
    TooEarly,
    TooLate,
    UnknownOffice,
)
from queue_app.storage.db import connect, write_transaction

from helpers import MINUTE, T0, db_state

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
BEFORE = T0 - 7 * DAY  # booking a week ahead
TUESDAY = T0 + DAY


@pytest.fixture
def db(undated_db):
    return undated_db


def snapshot(db):
    return db_state(db, ("appointments", "tickets", "settings", "events", "schedules"))


def book(db, office="OMIC", start=T0, name="Núria Puig", at=BEFORE, **fields):
    return appointments.book(db, office, start.isoformat(), name, now=at, **fields).value


# Schedules and slots -----------------------------------------------------------------------


def test_the_demo_schedule_is_the_contracts(db):
    oac = schedules.get(db, "OAC")
    assert oac["slot_minutes"] == 15 and oac["per_slot"] == 4
    assert oac["hours"]["mon"] == [["09:00", "14:00"]]
    assert oac["hours"]["thu"] == [["09:00", "14:00"], ["16:00", "19:00"]]
    assert oac["hours"]["sat"] == [] and oac["hours"]["sun"] == []
    assert (oac["early_minutes"], oac["late_minutes"]) == (60, 15)
    assert schedules.get(db, "OMIC")["per_slot"] == 1
    assert schedules.get(db, "OMIC")["hours"]["thu"] == [["09:00", "14:00"]]


def test_slots_of_a_day_count_their_free_places(db):
    monday = schedules.slots(db, "OMIC", T0.date())
    assert len(monday) == 20  # 09:00 to 14:00 in 15 minutes
    assert monday[0] == {
        "start": "2024-06-10T09:00:00+02:00",
        "end": "2024-06-10T09:15:00+02:00",
        "capacity": 1,
        "booked": 0,
        "free": 1,
    }
    book(db)
    assert schedules.slots(db, "OMIC", T0.date())[0]["free"] == 0
    thursday = T0.date() + timedelta(days=3)
    assert len(schedules.slots(db, "OAC", thursday)) == 20 + 12
    assert schedules.slots(db, "OAC", T0.date() + timedelta(days=5)) == []  # Saturday


def test_a_closed_day_has_no_slots_and_takes_no_booking(db):
    schedules.put(db, "OMIC", {"closed": ["2024-06-10"]}, now=BEFORE)
    assert schedules.slots(db, "OMIC", T0.date()) == []
    with pytest.raises(OutsideHours):
        book(db)


def test_put_changes_only_the_keys_given(db):
    changed = schedules.put(db, "OMIC", {"per_slot": 3, "late_minutes": 5}, now=BEFORE).value
    assert changed["per_slot"] == 3 and changed["late_minutes"] == 5
    assert changed["hours"]["mon"] == [["09:00", "14:00"]]
    assert schedules.get(db, "OMIC") == changed


@pytest.mark.parametrize(
    "changes",
    [
        {"slot_minutes": 0},
        {"slot_minutes": "15"},
        {"per_slot": True},
        {"early_minutes": -1},
        {"hours": {"mon": [["14:00", "09:00"]]}},
        {"hours": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]}},
        {"hours": {"monday": []}},
        {"hours": {"mon": [["9:00", "12:00"]]}},
        {"hours": {"mon": [["09:00", "24:00"]]}},
        {"closed": ["2024-02-30"]},
        {"closed": "2024-06-10"},
        {"colour": "red"},
        ["per_slot", 2],
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_changes(db, changes):
    before = snapshot(db)
    with pytest.raises(InvalidInput):
        schedules.put(db, "OMIC", changes, now=BEFORE)
    assert snapshot(db) == before


def test_the_schedule_of_an_unknown_office_is_refused(db):
    with pytest.raises(UnknownOffice):
        schedules.get(db, "XXX")
    with pytest.raises(UnknownOffice):
        schedules.slots(db, "XXX", T0.date())


# Booking -----------------------------------------------------------------------------------


def test_a_booking_is_the_contracts_appointment(db):
    made = book(db, phone="+34 600 11 22 33", party_size=2, source="phone")
    assert set(made) == {
        "id",
        "code",
        "office",
        "start",
        "end",
        "name",
        "phone",
        "party_size",
        "status",
        "source",
        "external_id",
        "ticket",
        "token",
    }
    assert len(made["code"]) == 6 and not set(made["code"]) & set("0O1I")
    assert set(made["code"]) <= set(appointments.CODE_ALPHABET)
    assert made["start"] == "2024-06-10T09:00:00+02:00"
    assert made["end"] == "2024-06-10T09:15:00+02:00"
    assert (made["name"], made["phone"]) == ("Núria Puig", "+34600112233")
    assert (made["status"], made["source"], made["ticket"]) == ("booked", "phone", None)
    assert appointments.find_by_token(db, made["token"]) == {
        key: value for key, value in made.items() if key not in ("id", "name", "phone")
    }


def test_a_slot_takes_no_more_than_its_places(db):
    for name in ("Anna", "Bernat", "Carme", "Dídac"):
        book(db, "OAC", name=name)
    before = snapshot(db)
    with pytest.raises(SlotFull):
        book(db, "OAC", name="Eulàlia")
    assert snapshot(db) == before
    assert book(db, "OAC", start=T0 + 15 * MINUTE, name="Eulàlia")["status"] == "booked"


def test_a_cancelled_booking_frees_its_place(db):
    made = book(db)
    appointments.cancel(db, made["id"], now=BEFORE)
    assert book(db, name="Other")["status"] == "booked"


@pytest.mark.parametrize(
    "start, error",
    [
        (T0 + 7 * MINUTE, OutsideHours),  # not a slot start
        (T0 - HOUR, OutsideHours),  # 08:00, before the hours
        (T0 + 5 * HOUR, OutsideHours),  # 14:00, the hours are over
        (T0 + 5 * DAY, OutsideHours),  # Saturday
        (BEFORE - DAY, InvalidInput),  # in the past
        (BEFORE + 400 * DAY, InvalidInput),  # absurdly far ahead
    ],
)
def test_a_start_that_is_not_a_free_slot_ahead_is_refused(db, start, error):
    before = snapshot(db)
    with pytest.raises(error):
        book(db, start=start)
    assert snapshot(db) == before


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "A\x00B"},
        {"name": 42},
        {"phone": "call me"},
        {"phone": "12345"},
        {"phone": 600112233},
        {"party_size": 0},
        {"party_size": 21},
        {"party_size": "2"},
        {"source": "fax"},
    ],
)
def test_bad_fields_are_refused_and_nothing_is_written(db, fields):
    before = snapshot(db)
    fields = {"name": "Núria Puig", **fields}
    with pytest.raises(InvalidInput):
        appointments.book(db, "OMIC", T0.isoformat(), now=BEFORE, **fields)
    assert snapshot(db) == before


@pytest.mark.parametrize("start", ["tomorrow", "", "2024-06-10T09:00:00+99:00", "1999-01-01T09:00"])
def test_a_start_that_is_not_a_date_is_refused(db, start):
    with pytest.raises(InvalidInput):
        appointments.book(db, "OMIC", start, "Anna", now=BEFORE)


def test_booking_at_an_unknown_office_is_refused(db):
    with pytest.raises(UnknownOffice):
        book(db, "XXX")


# The day's list ----------------------------------------------------------------------------


def test_the_days_list_is_by_start_and_search_ignores_case_and_accents(db):
    late = book(db, "OAC", start=T0 + HOUR, name="Joan Martí")
    early = book(db, "OAC", name="Núria Puig", phone="600 11 22 33")
    book(db, "OMIC", start=TUESDAY, name="Núria Soler")
    today = appointments.list_day(db, now=T0)
    assert [a["id"] for a in today] == [early["id"], late["id"]]
    assert [a["id"] for a in appointments.list_day(db, q="NURIA", now=T0)] == [early["id"]]
    assert [a["id"] for a in appointments.list_day(db, q="marti", now=T0)] == [late["id"]]
    assert [a["id"] for a in appointments.list_day(db, q="11 22", now=T0)] == [early["id"]]
    assert [a["id"] for a in appointments.list_day(db, q=late["code"].lower(), now=T0)] == [
        late["id"]
    ]
    assert appointments.list_day(db, q="%", now=T0) == []
    tuesday = appointments.list_day(db, on=TUESDAY.date(), office="OMIC", now=T0)
    assert [a["name"] for a in tuesday] == ["Núria Soler"]


# Check-in ----------------------------------------------------------------------------------


def test_check_in_issues_an_appointment_ticket_and_admits_its_party(db):
    made = book(db, party_size=3)
    inside = occupancy.read(db)["inside"]
    ticket = appointments.check_in(db, made["id"], now=T0 - 10 * MINUTE).value
    assert (ticket["kind"], ticket["office"], ticket["party_size"]) == ("appointment", "OMIC", 3)
    assert ticket["appointment_at"] == made["start"]
    assert occupancy.read(db)["inside"] == inside + 3
    checked = appointments.find(db, made["id"])
    assert (checked["status"], checked["ticket"]) == ("checked_in", ticket["code"])


def test_a_checked_in_appointment_keeps_its_place_in_the_calling_order(db):
    made = book(db)
    walk_in = tickets.issue(db, "OMIC", now=T0 - 20 * MINUTE).value
    appointments.check_in(db, made["id"], now=T0 - 10 * MINUTE)
    called = tickets.call_next(db, 5, now=T0 - 4 * MINUTE).value  # due from 5 minutes before
    assert called["kind"] == "appointment"
    tickets.finish(db, called["id"], now=T0)
    assert tickets.call_next(db, 5, now=T0).value["code"] == walk_in["code"]


@pytest.mark.parametrize(
    "start, arrival, force, error",
    [
        (T0, T0 - 61 * MINUTE, False, TooEarly),
        (T0, T0 + 16 * MINUTE, False, TooLate),
        (TUESDAY, T0 + HOUR, False, NotToday),
        (TUESDAY, T0 + 4 * HOUR, True, NotToday),  # force accepts late, not another day
    ],
)
def test_check_in_keeps_the_offices_windows(db, start, arrival, force, error):
    made = book(db, start=start, at=BEFORE)
    before = snapshot(db)
    with pytest.raises(error):
        appointments.check_in(db, made["id"], force, now=arrival)
    assert snapshot(db) == before


def test_a_late_arrival_the_clerk_accepts_is_checked_in_with_force(db):
    made = book(db)
    ticket = appointments.check_in(db, made["id"], True, now=T0 + HOUR).value
    assert ticket["kind"] == "appointment"


def test_check_in_twice_or_after_cancelling_is_refused(db):
    made = book(db)
    appointments.check_in(db, made["id"], now=T0)
    with pytest.raises(AlreadyCheckedIn):
        appointments.check_in(db, made["id"], now=T0)
    other = book(db, start=T0 + HOUR)
    appointments.cancel(db, other["id"], now=T0)
    with pytest.raises(InvalidTransition):
        appointments.check_in(db, other["id"], now=T0 + HOUR)


def test_check_in_in_a_full_building_is_refused_and_writes_nothing(db):
    made = book(db, party_size=2)
    door.set_counts(db, inside=49, limit=50, now=T0 - HOUR)
    before = snapshot(db)
    with pytest.raises(CapacityFull):
        appointments.check_in(db, made["id"], now=T0)
    assert snapshot(db) == before


def test_check_in_of_no_appointment_is_not_found(db):
    with pytest.raises(NotFound):
        appointments.check_in(db, 999, now=T0)
    with pytest.raises(InvalidInput):
        appointments.check_in(db, 1, "yes", now=T0)


# Cancelling --------------------------------------------------------------------------------


def test_the_citizen_cancels_while_it_is_ahead_and_not_after(db):
    made = book(db)
    cancelled = appointments.cancel_by_token(db, made["token"], now=T0 - MINUTE).value
    assert cancelled["status"] == "cancelled" and "name" not in cancelled
    later = book(db, start=T0 + HOUR)
    with pytest.raises(TooLate):
        appointments.cancel_by_token(db, later["token"], now=T0 + HOUR)
    with pytest.raises(NotFound):
        appointments.cancel_by_token(db, "no-such-token", now=T0)
    with pytest.raises(InvalidTransition):
        appointments.cancel(db, made["id"], now=T0)


# The day's roll-over and personal data -----------------------------------------------------


def test_unattended_bookings_become_missed_at_the_next_days_roll_over(db):
    kept = book(db)
    came = book(db, start=T0 + HOUR)
    appointments.check_in(db, came["id"], now=T0 + HOUR)
    ensure_today(db, TUESDAY)
    assert appointments.find(db, kept["id"])["status"] == "missed"
    assert appointments.find(db, came["id"])["status"] == "checked_in"
    with pytest.raises(InvalidTransition):
        appointments.check_in(db, kept["id"], now=TUESDAY)


def test_names_and_phones_are_erased_after_the_retention_period(db):
    made = book(db, phone="600112233")
    ensure_today(db, T0 + 30 * DAY)
    assert appointments.find(db, made["id"])["name"] == "Núria Puig"
    ensure_today(db, T0 + 31 * DAY)
    erased = appointments.find(db, made["id"])
    assert (erased["name"], erased["phone"], erased["status"]) == (None, None, "missed")
    assert appointments.list_day(db, on=T0.date(), q="nuria", now=T0 + 31 * DAY) == []


def test_the_journal_never_holds_a_name_or_a_phone(db):
    made = book(db, name="Zoraida Quintana", phone="699887766")
    appointments.check_in(db, made["id"], now=T0)
    other = book(db, start=T0 + HOUR, name="Zoraida Quintana", phone="699887766")
    appointments.cancel(db, other["id"], now=T0)
    payloads = [row[0] for row in db.execute("SELECT payload FROM events")]
    kinds = {json.loads(payload).get("appointment", {}).get("status") for payload in payloads}
    assert {"booked", "checked_in", "cancelled"} <= kinds
    assert not any("Zoraida" in payload or "699887766" in payload for payload in payloads)


# No slot is ever overbooked ----------------------------------------------------------------

OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["book", "cancel"]), st.integers(0, 3), st.integers(0, 9)),
    max_size=40,
)


def _copy(template):
    """A fresh in-memory copy of the demo town hall, no business day opened yet."""
    db = connect(":memory:")
    template[0].conn.backup(db.conn)
    with write_transaction(db):
        db.execute("DELETE FROM settings WHERE key = 'business_day'")
    return db


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_no_slot_is_ever_overbooked_under_interleaved_bookings_and_cancels(
    template, madrid_time, operations
):
    with closing(_copy(template)) as db:
        schedules.put(db, "OMIC", {"per_slot": 2}, now=BEFORE)
        made = []
        for action, slot, pick in operations:
            start = T0 + slot * 15 * MINUTE
            if action == "book":
                try:
                    made.append(book(db, start=start, name=f"P{pick}")["id"])
                except SlotFull:
                    pass
            elif made:
                try:
                    appointments.cancel(db, made[pick % len(made)], now=BEFORE)
                except InvalidTransition:
                    pass
            for free in schedules.slots(db, "OMIC", T0.date()):
                assert 0 <= free["booked"] <= free["capacity"] == 2
        holding = db.execute(
            "SELECT start_at, COUNT(*) FROM appointments WHERE status IN ('booked',"
            " 'checked_in') GROUP BY start_at HAVING COUNT(*) > 2"
        ).fetchall()
        assert holding == []


def test_a_date_outside_the_years_clients_may_give_is_refused():
    with pytest.raises(InvalidInput):
        schedules.parse_day("1999-12-31")
    with pytest.raises(InvalidInput):
        schedules.parse_day("2024-6-1")
    assert schedules.parse_day("2024-06-01") == date(2024, 6, 1)
