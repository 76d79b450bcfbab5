"""Appointments (cita prèvia): booking a slot, checking in, cancelling, and forgetting names.

An appointment holds one place of its office's slot (``schedules.py``) while it is booked
or checked in. Checking in issues its ticket (kind ``appointment``, ``appointment_at`` the
booked start), which the calling order then serves on time. The journal never holds a name
or a phone: its ``appointment_changed`` events carry the appointment without them, and the
live layer adds them from this table for staff (``personal``). Names and phones are erased
on schedule (``retention.py``); a booking left unattended becomes ``missed`` at the next
day's roll-over (``day.py``).
"""

import secrets
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import local_day, local_iso, local_zone, parse_instant, stamp, utcnow
from queue_app.rules import day, schedules, tickets
from queue_app.rules.checks import phone_number
from queue_app.rules.errors import (
    AlreadyCheckedIn,
    InvalidInput,
    InvalidTransition,
    NotFound,
    NotToday,
    OutsideHours,
    SlotFull,
    TooEarly,
    TooLate,
)
from queue_app.rules.types import Ticket
from queue_app.storage.db import inserted_id, read_transaction
from queue_app.storage.journal import AnyEvent, Outcome, last_seq, record

STATUSES = ("booked", "checked_in", "cancelled", "missed")
SOURCES = ("counter", "phone", "import", "online")
# Six characters a person can read out on the phone: no 0/O, no 1/I.
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH = 6
MAX_NAME = 100
MAX_DAYS_AHEAD = 366
# Hold a place this many: the ones counting against a slot's places.
HOLDING = ("booked", "checked_in")


class Appointment(TypedDict):
    id: int
    code: str
    office: str
    start: str
    end: str
    name: str | None
    phone: str | None
    party_size: int
    status: str
    source: str
    external_id: str | None
    ticket: str | None
    token: str


class Booking(TypedDict):
    """A booking's checked fields, before it is stored (``end`` None: the slot's end)."""

    office: str
    start: datetime
    end: datetime | None
    name: str
    phone: str | None
    party_size: int


SELECT = (
    "SELECT a.*, t.code AS ticket_code FROM appointments a"
    " LEFT JOIN tickets t ON t.id = a.ticket_id"
)
PERSONAL = ("name", "phone")


def describe(row: Any) -> Appointment:
    """An appointment row (from ``SELECT``) as the contract's object."""
    return {
        "id": row["id"],
        "code": row["code"],
        "office": row["office"],
        "start": local_iso(row["start_at"]),
        "end": local_iso(row["end_at"]),
        "name": row["name"],
        "phone": row["phone"],
        "party_size": row["party_size"],
        "status": row["status"],
        "source": row["source"],
        "external_id": row["external_id"],
        "ticket": row["ticket_code"],
        "token": row["token"],
    }


def public(appointment: Appointment) -> dict[str, Any]:
    """What the citizen's page and the public API show: no id, no name, no phone."""
    return {k: v for k, v in appointment.items() if k not in ("id", *PERSONAL)}


def without_personal(appointment: Appointment) -> dict[str, Any]:
    """What the journal keeps of an appointment: everything but the name and phone."""
    return {k: v for k, v in appointment.items() if k not in PERSONAL}


def _load(db: Database, appointment_id: int) -> Appointment:
    row = db.execute(f"{SELECT} WHERE a.id = ?", [appointment_id]).fetchone()
    if row is None:
        raise NotFound(_l("There is no appointment with that id."))
    return describe(row)


def find(db: Database, appointment_id: int) -> Appointment:
    """One appointment by id; NotFound if none."""
    return _load(db, appointment_id)


def find_by_token(db: Database, token: str) -> dict[str, Any]:
    """The citizen's appointment by its public token (public form); NotFound if none."""
    row = db.execute(f"{SELECT} WHERE a.token = ?", [token]).fetchone()
    if row is None:
        raise NotFound(_l("There is no appointment with that token."))
    return public(describe(row))


def id_for_token(db: Database, token: str) -> int | None:
    """The id of the appointment with this public token, or None."""
    row = db.execute("SELECT id FROM appointments WHERE token = ?", [token]).fetchone()
    return None if row is None else int(row[0])


def state(db: Database, appointment_id: int) -> dict[str, Any]:
    """A citizen's live state of their appointment, ``{"seq", "appointment"}`` (public form),
    read consistently."""
    with read_transaction(db):
        return {"seq": last_seq(db), "appointment": public(_load(db, appointment_id))}


def personal(db: Database, appointment_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """``{id: (name, phone)}`` as stored now (None once erased), for staff's live events."""
    if not appointment_ids:
        return {}
    marks = ", ".join("?" for _ in appointment_ids)
    rows = db.execute(
        f"SELECT id, name, phone FROM appointments WHERE id IN ({marks})", appointment_ids
    )
    return {row[0]: (row[1], row[2]) for row in rows}


def _event(db: Database, now: datetime, appointment: Appointment, actor: str | None) -> AnyEvent:
    return record(
        db,
        now,
        "appointment_changed",
        {"appointment": without_personal(appointment)},
        office=appointment["office"],
        actor=actor,
    )


def fold(text: str) -> str:
    """Text for searching: lower case, accents gone ("Núria" matches "nuria")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise InvalidInput(_l("name must be text of 1 to %(n)s characters.", n=MAX_NAME))
    cleaned = " ".join(name.split())
    if any(unicodedata.category(char)[0] == "C" for char in cleaned):
        raise InvalidInput(_l("name must not hold control characters."))
    return cleaned


def check_party_size(party_size: object) -> int:
    if (
        isinstance(party_size, bool)
        or not isinstance(party_size, int)
        or not 1 <= party_size <= tickets.MAX_PARTY_SIZE
    ):
        raise InvalidInput(
            _l(
                "party_size must be a whole number from 1 to %(maximum)s.",
                maximum=tickets.MAX_PARTY_SIZE,
            )
        )
    return party_size


def parse_start(start: object) -> datetime:
    """The ``start`` a client gives: ISO 8601, or ``YYYY-MM-DD HH:MM`` in local time."""
    if isinstance(start, datetime) and start.tzinfo is not None:
        return start
    if not isinstance(start, str) or len(start) > 64:
        raise InvalidInput(_l("start must be a date and time, ISO 8601."))
    try:
        return parse_instant(start)
    except ValueError:
        raise InvalidInput(_l("start must be a date and time, ISO 8601.")) from None


def _new_code(db: Database) -> str:
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.execute("SELECT 1 FROM appointments WHERE code = ?", [code]).fetchone() is None:
            return code


def _hold_slot(
    db: Database, office: str, start: datetime, now: datetime, exclude: int | None = None
) -> tuple[datetime, datetime]:
    """Inside a transaction: ``(start, end)`` of a slot with a free place, or refuse."""
    if start < now:
        raise InvalidInput(_l("start is in the past: book a slot still ahead."))
    if start - now > timedelta(days=MAX_DAYS_AHEAD):
        raise InvalidInput(_l("start is too far ahead: at most %(n)s days.", n=MAX_DAYS_AHEAD))
    schedule = schedules.get(db, office)
    slot = schedules.slot_of(schedule, start)
    if slot is None:
        raise OutsideHours()
    taken = db.execute(
        "SELECT COUNT(*) FROM appointments WHERE office = ? AND start_at = ?"
        " AND status IN ('booked', 'checked_in') AND id IS NOT ?",
        [office, stamp(slot), exclude],
    ).fetchone()[0]
    if taken >= schedule["per_slot"]:
        raise SlotFull()
    return slot, slot + timedelta(minutes=schedule["slot_minutes"])


def _stored(booking: Booking, slot: datetime, slot_end: datetime) -> dict[str, object]:
    """The columns a booking sets, by name (the end is the slot's unless the booking has
    one; ``search`` folds the name and phone for reception's search)."""
    name, phone = booking["name"], booking["phone"]
    return {
        "office": booking["office"],
        "day": local_day(slot),
        "start_at": stamp(slot),
        "hour": slot.astimezone(local_zone()).hour,
        "end_at": stamp(booking["end"] or slot_end),
        "name": name,
        "phone": phone,
        "search": fold(f"{name} {phone or ''}"),
        "party_size": booking["party_size"],
    }


def book_within(
    db: Database,
    booking: Booking,
    source: str,
    external_id: str | None,
    now: datetime,
    actor: str | None = None,
) -> AnyEvent:
    """Inside a transaction: store a booking in a slot with a free place (or refuse, see
    ``book``); its journal event."""
    slot, slot_end = _hold_slot(db, booking["office"], booking["start"], now)
    columns = {
        "code": _new_code(db),
        "token": secrets.token_urlsafe(16),
        **_stored(booking, slot, slot_end),
        "status": "booked",
        "source": source,
        "external_id": external_id,
        "booked_at": stamp(now),
    }
    cursor = db.execute(
        f"INSERT INTO appointments ({', '.join(columns)})"
        f" VALUES ({', '.join('?' for _ in columns)})",
        list(columns.values()),
    )
    return _event(db, now, _load(db, inserted_id(cursor)), actor)


def update_within(
    db: Database, appointment_id: int, booking: Booking, now: datetime, actor: str | None = None
) -> list[AnyEvent]:
    """Inside a transaction: bring a booked appointment in line with ``booking`` (an
    import's row); its journal events, none when nothing differs."""
    current = _load(db, appointment_id)
    start = datetime.fromisoformat(current["start"])
    same = (
        current["office"] == booking["office"]
        and start == booking["start"]
        and (booking["end"] is None or datetime.fromisoformat(current["end"]) == booking["end"])
        and (current["name"], current["phone"], current["party_size"])
        == (booking["name"], booking["phone"], booking["party_size"])
    )
    if same:
        return []
    if current["status"] != "booked":
        raise InvalidTransition(
            _l("The appointment is %(status)s here: it cannot change.", status=current["status"])
        )
    slot, slot_end = start, datetime.fromisoformat(current["end"])
    if current["office"] != booking["office"] or start != booking["start"]:
        slot, slot_end = _hold_slot(
            db, booking["office"], booking["start"], now, exclude=appointment_id
        )
    columns = _stored(booking, slot, slot_end)
    db.execute(
        f"UPDATE appointments SET {', '.join(f'{name} = ?' for name in columns)} WHERE id = ?",
        [*columns.values(), appointment_id],
    )
    return [_event(db, now, _load(db, appointment_id), actor)]


def book(
    db: Database,
    office: str,
    start: object,
    name: object,
    phone: object = None,
    party_size: object = 1,
    source: object = "counter",
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Appointment]:
    """Book a place in the slot of ``office`` starting at ``start``.

    Refused: UnknownOffice, InvalidInput (a field; a start in the past or too far ahead),
    OutsideHours (not a slot start of that day), SlotFull. Runs in one IMMEDIATE
    transaction, so that concurrent bookings never take more places than the slot has.
    """
    booking: Booking = {
        "office": office,
        "start": parse_start(start),
        "end": None,
        "name": check_name(name),
        "phone": phone_number(phone),
        "party_size": check_party_size(party_size),
    }
    if source not in SOURCES:
        raise InvalidInput(_l("source must be one of: %(sources)s.", sources=", ".join(SOURCES)))
    now = now or utcnow()
    with day.change(db, now) as events:
        event = book_within(db, booking, str(source), None, now, actor)
        events.append(event)
    return Outcome(_load(db, event["payload"]["appointment"]["id"]), events)


def list_day(
    db: Database,
    on: date | None = None,
    office: str | None = None,
    status: str | None = None,
    q: str | None = None,
    *,
    now: datetime | None = None,
) -> list[Appointment]:
    """A day's appointments (today by default) by start; ``q`` matches a code, a name or a
    phone, ignoring case and accents."""
    now = now or utcnow()
    on = on or now.astimezone(local_zone()).date()
    if status is not None and status not in STATUSES:
        raise InvalidInput(_l("status must be one of: %(statuses)s.", statuses=", ".join(STATUSES)))
    sql = f"{SELECT} WHERE a.day = ?"
    params: list[Any] = [on.isoformat()]
    if office is not None:
        schedules.get(db, office)  # UnknownOffice
        sql += " AND a.office = ?"
        params.append(office)
    if status is not None:
        sql += " AND a.status = ?"
        params.append(status)
    if q:
        folded = fold(" ".join(q.split()))
        compact = "".join(q.split())
        sql += " AND (a.code = ? OR a.search LIKE ? ESCAPE '\\' OR a.phone LIKE ? ESCAPE '\\')"
        params += [compact.upper(), f"%{_like(folded)}%", f"%{_like(compact)}%"]
    rows = db.execute(sql + " ORDER BY a.start_at, a.id", params).fetchall()
    return [describe(row) for row in rows]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_in(
    db: Database,
    appointment_id: int,
    force: object = False,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Ticket]:
    """The citizen has arrived: issue the appointment's ticket, admitting its party.

    Refused: InvalidTransition (cancelled or missed), AlreadyCheckedIn, NotToday, TooEarly
    (before the start less the office's early window), TooLate (after the start plus the
    late window, unless ``force``: the clerk accepts a late arrival), CapacityFull.
    """
    if not isinstance(force, bool):
        raise InvalidInput(_l("force must be true or false."))
    now = now or utcnow()
    with day.change(db, now) as events:
        appointment = _load(db, appointment_id)
        if appointment["status"] == "checked_in":
            raise AlreadyCheckedIn()
        if appointment["status"] != "booked":
            raise InvalidTransition(
                _l("A %(status)s appointment cannot be checked in.", status=appointment["status"])
            )
        start = datetime.fromisoformat(appointment["start"])
        if local_day(start) != local_day(now):
            raise NotToday()
        schedule = schedules.get(db, appointment["office"])
        if now < start - timedelta(minutes=schedule["early_minutes"]):
            raise TooEarly()
        if now > start + timedelta(minutes=schedule["late_minutes"]) and not force:
            raise TooLate()
        ticket = tickets.issue_within(
            db,
            events,
            appointment["office"],
            "appointment",
            False,
            appointment["party_size"],
            start,
            now=now,
            actor=actor,
        )
        db.execute(
            "UPDATE appointments SET status = 'checked_in', ticket_id = ?, checked_in_at = ?"
            " WHERE id = ?",
            [ticket["id"], stamp(now), appointment_id],
        )
        events.append(_event(db, now, _load(db, appointment_id), actor))
    return Outcome(ticket, events)


def cancel_within(
    db: Database, appointment: Appointment, now: datetime, actor: str | None
) -> AnyEvent:
    """Inside a transaction: cancel a booked appointment; its journal event."""
    if appointment["status"] != "booked":
        raise InvalidTransition(
            _l("A %(status)s appointment cannot be cancelled.", status=appointment["status"])
        )
    db.execute(
        "UPDATE appointments SET status = 'cancelled', cancelled_at = ? WHERE id = ?",
        [stamp(now), appointment["id"]],
    )
    return _event(db, now, _load(db, appointment["id"]), actor)


def cancel(
    db: Database, appointment_id: int, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Appointment]:
    """Reception or an administrator cancels a booked appointment: its place is free again."""
    now = now or utcnow()
    with day.change(db, now) as events:
        events.append(cancel_within(db, _load(db, appointment_id), now, actor))
        appointment = _load(db, appointment_id)
    return Outcome(appointment, events)


def cancel_by_token(
    db: Database, token: str, *, now: datetime | None = None
) -> Outcome[dict[str, Any]]:
    """The citizen cancels with the token of their page, while the appointment is ahead."""
    now = now or utcnow()
    with day.change(db, now) as events:
        row = db.execute("SELECT id FROM appointments WHERE token = ?", [token]).fetchone()
        if row is None:
            raise NotFound(_l("There is no appointment with that token."))
        appointment = _load(db, row[0])
        if (
            appointment["status"] == "booked"
            and datetime.fromisoformat(appointment["start"]) <= now
        ):
            raise TooLate(_l("The appointment has already started: ask at reception."))
        events.append(cancel_within(db, appointment, now, "citizen"))
        appointment = _load(db, row[0])
    return Outcome(public(appointment), events)
