"""Offices' booking schedules: weekly hours, closed days, slots, and the check-in windows.

A schedule is kept per office as the contract gives it (``slot_minutes``, ``per_slot``,
``hours`` by weekday, ``closed`` dates, ``early_minutes``, ``late_minutes``), in the town
hall's time zone. An office without one has the default: Monday to Friday 09:00-14:00,
15-minute slots, one place per desk serving it, early 60 and late 15 minutes.
"""

import json
import re
from datetime import date, datetime, time, timedelta
from typing import TypedDict

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import EARLIEST_YEAR, LATEST_YEAR, local_zone, stamp, utcnow
from queue_app.rules.checks import changes_of, whole_number
from queue_app.rules.errors import InvalidInput, UnknownOffice
from queue_app.storage.db import write_transaction
from queue_app.storage.journal import Outcome, record

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKDAY = [["09:00", "14:00"]]
# Bounds a schedule must keep: anything beyond is a typing mistake, not a town hall.
SLOT_MINUTES = (5, 240)
PER_SLOT = (1, 100)
WINDOW_MINUTES = (0, 24 * 60)
MAX_INTERVALS = 6
MAX_CLOSED = 400
TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Schedule(TypedDict):
    slot_minutes: int
    per_slot: int
    hours: dict[str, list[list[str]]]
    closed: list[str]
    early_minutes: int
    late_minutes: int


class Slot(TypedDict):
    start: str
    end: str
    capacity: int
    booked: int
    free: int


def _desks_serving(db: Database, office: str) -> int:
    row = db.execute("SELECT COUNT(*) FROM desk_offices WHERE office = ?", [office]).fetchone()
    return int(row[0])


def default(db: Database, office: str) -> Schedule:
    """The schedule of an office nobody has set one for."""
    return {
        "slot_minutes": 15,
        "per_slot": max(1, _desks_serving(db, office)),
        "hours": {day: (WORKDAY if day in WEEKDAYS[:5] else []) for day in WEEKDAYS},
        "closed": [],
        "early_minutes": 60,
        "late_minutes": 15,
    }


def _check_office(db: Database, office: str) -> None:
    if db.execute("SELECT 1 FROM offices WHERE code = ?", [office]).fetchone() is None:
        raise UnknownOffice()


def is_set(db: Database, office: str) -> bool:
    """Whether someone has set the office's schedule (else it has the default)."""
    found = db.execute("SELECT 1 FROM schedules WHERE office = ?", [office]).fetchone()
    return found is not None


def get(db: Database, office: str) -> Schedule:
    """The office's schedule; UnknownOffice if there is no such office."""
    _check_office(db, office)
    row = db.execute("SELECT schedule FROM schedules WHERE office = ?", [office]).fetchone()
    if row is None:
        return default(db, office)
    stored: Schedule = json.loads(row[0])
    return stored


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _check_hours(value: object) -> dict[str, list[list[str]]]:
    message = _l(
        'hours must give each weekday (mon to sun) a list of ["HH:MM", "HH:MM"] intervals,'
        " each ending after it starts, in order and not overlapping."
    )
    if not isinstance(value, dict) or not set(value) <= set(WEEKDAYS):
        raise InvalidInput(message)
    hours: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        intervals = value.get(day, [])
        if not isinstance(intervals, list) or len(intervals) > MAX_INTERVALS:
            raise InvalidInput(message)
        previous_end = -1
        for interval in intervals:
            if (
                not isinstance(interval, list)
                or len(interval) != 2
                or not all(isinstance(part, str) and TIME.match(part) for part in interval)
            ):
                raise InvalidInput(message)
            start, end = _minutes(interval[0]), _minutes(interval[1])
            if not previous_end <= start < end:
                raise InvalidInput(message)
            previous_end = end
        hours[day] = [list(interval) for interval in intervals]
    return hours


def parse_day(text: object, field: str = "date") -> date:
    """A ``YYYY-MM-DD`` from a client, within the years clients may give."""
    message = _l("%(field)s must be a date, YYYY-MM-DD.", field=field)
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise InvalidInput(message)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(message) from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise InvalidInput(message)
    return day


def _check_closed(value: object) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_CLOSED:
        raise InvalidInput(
            _l("closed must be a list of at most %(n)s dates, YYYY-MM-DD.", n=MAX_CLOSED)
        )
    return sorted({parse_day(text, "closed").isoformat() for text in value})


def put(
    db: Database,
    office: str,
    changes: object,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Schedule]:
    """Set some or all of an office's schedule (keys not given stay as they are)."""
    changes = changes_of(changes, Schedule.__annotations__)
    now = now or utcnow()
    with write_transaction(db):
        schedule = get(db, office)
        if "slot_minutes" in changes:
            schedule["slot_minutes"] = whole_number(
                "slot_minutes", changes["slot_minutes"], SLOT_MINUTES
            )
        if "per_slot" in changes:
            schedule["per_slot"] = whole_number("per_slot", changes["per_slot"], PER_SLOT)
        for name in ("early_minutes", "late_minutes"):
            if name in changes:
                schedule[name] = whole_number(name, changes[name], WINDOW_MINUTES)
        if "hours" in changes:
            schedule["hours"] = _check_hours(changes["hours"])
        if "closed" in changes:
            schedule["closed"] = _check_closed(changes["closed"])
        db.execute(
            "INSERT INTO schedules (office, schedule) VALUES (?, ?)"
            " ON CONFLICT(office) DO UPDATE SET schedule = excluded.schedule",
            [office, json.dumps(schedule)],
        )
        event = record(
            db,
            now,
            "schedule_changed",
            {"office": office, "schedule": schedule},
            office=office,
            actor=actor,
        )
    return Outcome(schedule, [event])


def slot_starts(schedule: Schedule, day: date) -> list[datetime]:
    """The local start of every slot of ``day`` (none on a closed day)."""
    if day.isoformat() in schedule["closed"]:
        return []
    step = schedule["slot_minutes"]
    starts = []
    for first, last in schedule["hours"][WEEKDAYS[day.weekday()]]:
        minute, end = _minutes(first), _minutes(last)
        while minute + step <= end:
            starts.append(
                datetime.combine(day, time(minute // 60, minute % 60), tzinfo=local_zone())
            )
            minute += step
    return starts


def slot_of(schedule: Schedule, start: datetime) -> datetime | None:
    """``start`` as a slot start of its local day, or None when it is not one."""
    local = start.astimezone(local_zone())
    for candidate in slot_starts(schedule, local.date()):
        if candidate == local:
            return candidate
    return None


def slots(db: Database, office: str, day: date | None = None) -> list[Slot]:
    """The slots of ``office`` on ``day`` (today by default) with how many places each has
    left."""
    day = day or utcnow().astimezone(local_zone()).date()
    schedule = get(db, office)
    starts = slot_starts(schedule, day)
    taken = dict(
        db.execute(
            "SELECT start_at, COUNT(*) FROM appointments WHERE office = ? AND day = ?"
            " AND status IN ('booked', 'checked_in') GROUP BY start_at",
            [office, day.isoformat()],
        ).fetchall()
    )
    length = timedelta(minutes=schedule["slot_minutes"])
    found: list[Slot] = []
    for start in starts:
        booked = int(taken.get(stamp(start), 0))
        found.append(
            {
                "start": start.isoformat(timespec="seconds"),
                "end": (start + length).isoformat(timespec="seconds"),
                "capacity": schedule["per_slot"],
                "booked": booked,
                "free": max(0, schedule["per_slot"] - booked),
            }
        )
    return found
