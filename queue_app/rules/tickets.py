"""Tickets: issuing, calling in order, and every step of a ticket's life."""

import json
import secrets
import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import Literal, get_args

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import local_day, local_zone, stamp, utcnow
from queue_app.rules import calling, day, desks, notices, occupancy, ticket_events
from queue_app.rules import outside as outside_queue
from queue_app.rules.calling import (
    DESK_QUEUE_SQL,
    SELECT_TICKETS,
    SERVICE_SECONDS_SQL,
    WAIT_SECONDS_SQL,
    WAITING_SQL,
    due_cutoff,
)
from queue_app.rules.errors import (
    CapacityFull,
    DeskBusy,
    DeskPaused,
    InvalidInput,
    InvalidTransition,
    NotFound,
    UnknownOffice,
    WrongOffice,
)
from queue_app.rules.types import (
    Kind,
    PublicTicket,
    Status,
    StoredStatus,
    Ticket,
    TicketState,
)
from queue_app.storage.db import MAX_ID, inserted_id, read_transaction
from queue_app.storage.journal import AnyEvent, Outcome, last_seq

KINDS: tuple[Kind, ...] = get_args(Kind)
STATUSES: tuple[Status, ...] = get_args(Status)
MAX_PARTY_SIZE = 20
Action = Literal["call", "recall", "start", "finish", "no_show", "transfer", "cancel"]
# Which statuses each action may start from.
ALLOWED_FROM: dict[Action, tuple[StoredStatus, ...]] = {
    "call": ("waiting",),
    "recall": ("called",),
    "start": ("called",),
    "finish": ("called", "serving"),
    "no_show": ("called",),
    "transfer": ("waiting", "outside", "called", "serving"),
    "cancel": ("waiting", "outside", "called", "serving"),
}


def _office_letter(db: Database, office: str) -> str:
    row = db.execute("SELECT letter FROM offices WHERE code = ?", [office]).fetchone()
    if row is None:
        raise UnknownOffice()
    letter: str = row[0]
    return letter


def _check_issue_input(
    kind: object, priority: object, party_size: object, appointment_at: object
) -> None:
    if kind not in KINDS:
        raise InvalidInput(_l("kind must be one of: %(kinds)s.", kinds=", ".join(KINDS)))
    if not isinstance(priority, bool):
        raise InvalidInput(_l("priority must be true or false."))
    if (
        isinstance(party_size, bool)
        or not isinstance(party_size, int)
        or not 1 <= party_size <= MAX_PARTY_SIZE
    ):
        raise InvalidInput(
            _l("party_size must be a whole number from 1 to %(maximum)s.", maximum=MAX_PARTY_SIZE)
        )
    if appointment_at is not None and kind != "appointment":
        raise InvalidInput(_l("appointment_at goes only with kind appointment."))
    if appointment_at is not None and (
        not isinstance(appointment_at, datetime) or appointment_at.tzinfo is None
    ):
        raise InvalidInput(_l("appointment_at must be a date and time with its offset."))


def issue(
    db: Database,
    office: str,
    kind: Kind = "walk_in",
    priority: bool = False,
    party_size: int = 1,
    appointment_at: datetime | None = None,
    *,
    outside: object = False,
    phone: object = None,
    language: object = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Ticket]:
    """Issue the next ticket of ``office`` for today, admitting its party into the building.
    When the party cannot come in (it does not fit, or others wait outside and go first), it
    is refused, or, with ``outside``, issued to wait outside until there is room. With a
    ``phone`` (and SMS notices on), the citizen gets messages in ``language``.

    Raises ``UnknownOffice``, ``InvalidInput`` or ``CapacityFull``; writes nothing then.
    """
    _check_issue_input(kind, priority, party_size, appointment_at)
    if not isinstance(outside, bool):
        raise InvalidInput(_l("outside must be true or false."))
    number = notices.sms_number(phone)
    spoken = notices.check_language(language)
    clock_given = now is not None
    now = now or utcnow()
    with day.change(db, now) as events:
        if not clock_given:
            # The issue time is read holding the write lock, like the ticket's number: so
            # across server processes a later number never carries an earlier time (the
            # calling order and the queue outside go by the time).
            now = utcnow()
        if kind == "appointment" and appointment_at is None:
            appointment_at = now
        ticket = issue_within(
            db,
            events,
            office,
            kind,
            priority,
            party_size,
            appointment_at,
            # Kept only when messages can be sent: else a phone is personal data for nothing.
            phone=number if notices.ENABLED else None,
            language=spoken,
            outside=outside,
            behind_outside=True,
            now=now,
            actor=actor,
        )
    return Outcome(ticket, events)


def issue_within(
    db: Database,
    events: list[AnyEvent],
    office: str,
    kind: Kind,
    priority: bool,
    party_size: int,
    appointment_at: datetime | None,
    *,
    phone: str | None = None,
    language: str = "ca",
    outside: bool = False,
    behind_outside: bool = False,
    now: datetime,
    actor: str | None = None,
) -> Ticket:
    """Inside the caller's transaction: issue a checked ticket (see ``issue``), appending
    its journal events to ``events``; the ticket. A checked-in appointment issues here: it
    comes in whenever it fits (its time was booked), not ``behind_outside`` those waiting
    outside without one."""
    letter = _office_letter(db, office)
    status: StoredStatus = "waiting"
    try:
        events.append(occupancy.admit(db, party_size, now, actor, behind_outside=behind_outside))
    except CapacityFull:
        if not outside:
            raise
        occupancy.could_ever_enter(db, party_size)
        status = "outside"
    today = local_day(now)
    number: int = db.execute(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM tickets WHERE day = ? AND issued_office = ?",
        [today, office],
    ).fetchone()[0]
    cursor = db.execute(
        "INSERT INTO tickets (token, day, issued_office, number, code, office, kind, priority,"
        " party_size, appointment_at, status, issued_at, issued_hour, recalls, phone, language,"
        " outside) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        [
            secrets.token_urlsafe(16),
            today,
            office,
            number,
            f"{letter}{number:03d}",
            office,
            kind,
            int(priority),
            party_size,
            stamp(appointment_at) if appointment_at is not None else None,
            status,
            stamp(now),
            now.astimezone(local_zone()).hour,
            phone,
            language,
            int(status == "outside"),
        ],
    )
    ticket = calling.load_written(db, inserted_id(cursor), now)
    events.append(ticket_events.ticket_event(db, now, ticket, actor))
    events.append(ticket_events.queue_event(db, now, office, actor))
    if status == "outside":  # one more waits outside: the door's count moved
        events.append(occupancy.changed(db, now, actor))
    return ticket


def _desk(db: Database, desk_id: int) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute("SELECT * FROM desks WHERE id = ?", [desk_id]).fetchone()
    if row is None:
        raise NotFound(_l("There is no desk with that id."))
    return row


def desk_queue(db: Database, desk_id: int, now: datetime | None = None) -> list[Ticket]:
    """The waiting tickets ``desk_id`` would call, in exactly call-next's order; NotFound for
    an unknown desk."""
    now = now or utcnow()
    _desk(db, desk_id)
    rows = db.execute(DESK_QUEUE_SQL, {"desk": desk_id, "due": due_cutoff(now)}).fetchall()
    return calling.describe(db, rows, now)


def _ready_desk(db: Database, desk_id: int) -> sqlite3.Row:
    """Inside the call's transaction: the desk, if it may call now (not paused, not busy)."""
    desk = _desk(db, desk_id)
    if desk["paused"]:
        raise DeskPaused()
    if db.execute(
        "SELECT 1 FROM tickets WHERE desk_id = ? AND status IN ('called', 'serving')",
        [desk_id],
    ).fetchone():
        raise DeskBusy()
    return desk


def _call(
    db: Database,
    desk: sqlite3.Row,
    row: sqlite3.Row,
    now: datetime,
    actor: str | None,
    out_of_order: bool = False,
) -> tuple[Ticket, list[AnyEvent]]:
    """Inside the call's transaction: give ``row`` (a waiting ticket, from WAITING_SQL, with
    its class) to ``desk``, and keep its office's count of priority calls in a row: one more
    for a priority ticket while others wait there, none after any other of the rest."""
    db.execute(
        "UPDATE tickets SET status = 'called', desk_id = ?, called_at = ?,"
        " first_called_at = COALESCE(first_called_at, ?),"
        f" wait_s = COALESCE(wait_s, {WAIT_SECONDS_SQL}) WHERE id = ?",
        [desk["id"], stamp(now), stamp(now), stamp(now), row["id"]],
    )
    if row["class"] >= 2:
        others_wait = calling.queues(db, [row["office"]], now)[row["office"]].in_class(3)
        streak = "priority_streak + 1" if row["class"] == 2 and others_wait else "0"
        db.execute(f"UPDATE offices SET priority_streak = {streak} WHERE code = ?", [row["office"]])
    ticket = calling.load_written(db, row["id"], now)
    called = ticket_events.call_event(db, now, ticket, actor, desk["name"], False, out_of_order)
    events: list[AnyEvent] = [called, ticket_events.ticket_event(db, now, ticket, actor)]
    events.append(ticket_events.queue_event(db, now, row["office"], actor))
    return ticket, events


def _served(db: Database, desk_id: int) -> list[str]:
    """The offices a desk serves."""
    return [
        r[0] for r in db.execute("SELECT office FROM desk_offices WHERE desk_id = ?", [desk_id])
    ]


def _waiting_row(db: Database, ticket_id: int, now: datetime) -> sqlite3.Row:
    """A waiting ticket's row with its class (``WAITING_SQL``)."""
    row: sqlite3.Row = db.execute(
        f"WITH w AS ({WAITING_SQL.format(where='t.id = :id')}) SELECT * FROM w",
        {"id": ticket_id, "due": due_cutoff(now)},
    ).fetchone()
    return row


def call_next(
    db: Database, desk_id: int, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Ticket | None]:
    """Give ``desk_id`` the next waiting ticket of the offices it serves, in calling order.

    The value is the called ticket, or None when nothing waits. Runs in one IMMEDIATE
    transaction, so two desks can never be given the same ticket.
    """
    now = now or utcnow()
    with day.change(db, now) as events:
        desk = _ready_desk(db, desk_id)
        first = calling.head(db, _served(db, desk_id), now)
        if first is None:
            return Outcome(None, events)
        row = _waiting_row(db, first, now)
        ticket, written = _call(db, desk, row, now, actor)
        events += written
    return Outcome(ticket, events)


def call(
    db: Database,
    desk_id: int,
    ticket_id: object,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Ticket]:
    """Give ``desk_id`` one waiting ticket of an office it serves, out of the calling order
    (the person with a baby, the one the clerk already knows); journaled as such, with who
    did it. Refused for a busy or paused desk, a ticket not waiting, or of another office."""
    if (
        isinstance(ticket_id, bool)
        or not isinstance(ticket_id, int)
        or not 1 <= ticket_id <= MAX_ID
    ):
        raise InvalidInput(_l("ticket must be the id of a ticket."))
    now = now or utcnow()
    with day.change(db, now) as events:
        desk = _ready_desk(db, desk_id)
        _locked_ticket(db, ticket_id, "call")
        row = _waiting_row(db, ticket_id, now)
        if row["office"] not in _served(db, desk_id):
            raise WrongOffice()
        ticket, written = _call(db, desk, row, now, actor, out_of_order=True)
        events += written
    return Outcome(ticket, events)


def _locked_ticket(db: Database, ticket_id: int, action: Action) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM tickets WHERE id = ?", [ticket_id]
    ).fetchone()
    if row is None:
        raise NotFound(_l("There is no ticket with that id."))
    if row["status"] == "outside" and action == "call":
        raise InvalidTransition(
            _l("The ticket still waits outside: it can be called once it is let in.")
        )
    if row["status"] not in ALLOWED_FROM[action]:
        raise InvalidTransition(
            _l(
                "A ticket that is %(status)s cannot be given '%(action)s'.",
                status=row["status"],
                action=action,
            )
        )
    return row


def _count_service(db: Database, ticket_id: int) -> None:
    """Keep a finished ticket's service time on it (for the statistics)."""
    db.execute(f"UPDATE tickets SET service_s = {SERVICE_SECONDS_SQL} WHERE id = ?", [ticket_id])


def _finish_as(
    db: Database,
    ticket_id: int,
    action: Action,
    status: Status,
    *,
    actor: str | None,
    now: datetime | None,
) -> Outcome[Ticket]:
    """Close a ticket in a final ``status``, letting its party out of the building."""
    now = now or utcnow()
    with day.change(db, now) as events:
        row = _locked_ticket(db, ticket_id, action)
        db.execute(
            "UPDATE tickets SET status = ?, finished_at = ? WHERE id = ?",
            [status, stamp(now), ticket_id],
        )
        if status == "done":
            _count_service(db, ticket_id)
        if row["status"] in ("called", "serving"):
            calling.count_desk_time(db, ticket_id, now)  # the pace of the estimates
        ticket = calling.load_written(db, ticket_id, now)
        events.append(ticket_events.ticket_event(db, now, ticket, actor))
        if row["status"] in ("waiting", "outside"):
            events.append(ticket_events.queue_event(db, now, row["office"], actor))
        # A party still outside was never counted in; its place in the outside queue goes.
        left = 0 if row["status"] == "outside" else row["party_size"]
        events += outside_queue.release(db, left, now, actor)
    return Outcome(ticket, events)


def recall(
    db: Database, ticket_id: int, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Ticket]:
    """Announce a called ticket again (the citizen did not come yet)."""
    now = now or utcnow()
    with day.change(db, now) as events:
        _locked_ticket(db, ticket_id, "recall")
        db.execute("UPDATE tickets SET recalls = recalls + 1 WHERE id = ?", [ticket_id])
        ticket = calling.load_written(db, ticket_id, now)
        desk = ticket["desk"]
        assert desk is not None, "a called ticket is at a desk"
        events.append(ticket_events.call_event(db, now, ticket, actor, desk, recall=True))
        events.append(ticket_events.ticket_event(db, now, ticket, actor))
    return Outcome(ticket, events)


def start(
    db: Database, ticket_id: int, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Ticket]:
    """The citizen sits down at the desk: service starts."""
    now = now or utcnow()
    with day.change(db, now) as events:
        _locked_ticket(db, ticket_id, "start")
        db.execute(
            "UPDATE tickets SET status = 'serving', started_at = ? WHERE id = ?",
            [stamp(now), ticket_id],
        )
        ticket = calling.load_written(db, ticket_id, now)
        events.append(ticket_events.ticket_event(db, now, ticket, actor))
    return Outcome(ticket, events)


def finish(
    db: Database, ticket_id: int, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Ticket]:
    """Service is done; the party leaves the building."""
    return _finish_as(db, ticket_id, "finish", "done", actor=actor, now=now)


def no_show(
    db: Database, ticket_id: int, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Ticket]:
    """The called citizen did not come; the ticket is closed."""
    return _finish_as(db, ticket_id, "no_show", "no_show", actor=actor, now=now)


def cancel(
    db: Database, ticket_id: int, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Ticket]:
    """The citizen gives up or the ticket was a mistake."""
    return _finish_as(db, ticket_id, "cancel", "cancelled", actor=actor, now=now)


def transfer(
    db: Database,
    ticket_id: int,
    office: str,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Ticket]:
    """Send a ticket to another office's queue: same code, same issue time, waiting again."""
    now = now or utcnow()
    with day.change(db, now) as events:
        row = _locked_ticket(db, ticket_id, "transfer")
        _office_letter(db, office)
        if office == row["office"]:
            raise InvalidTransition(_l("The ticket is already in that office."))
        # A ticket outside stays outside, in its place; any other waits in the new queue.
        db.execute(
            "UPDATE tickets SET status = CASE status WHEN 'outside' THEN 'outside'"
            " ELSE 'waiting' END, office = ?, desk_id = NULL, called_at = NULL,"
            " started_at = NULL, recalls = 0 WHERE id = ?",
            [office, ticket_id],
        )
        ticket = calling.load_written(db, ticket_id, now)
        events.append(ticket_events.ticket_event(db, now, ticket, actor))
        if row["status"] in ("waiting", "outside"):
            events.append(ticket_events.queue_event(db, now, row["office"], actor))
        else:
            # The desk that held it is free again: tell its offices' desks.
            events.append(desks.desk_event(db, row["desk_id"], now, actor))
        events.append(ticket_events.queue_event(db, now, office, actor))
    return Outcome(ticket, events)


def find_by_token(db: Database, token: str, now: datetime | None = None) -> PublicTicket:
    """A ticket by its public token, without its id (for the citizen); NotFound if none."""
    now = now or utcnow()
    rows = db.execute(f"{SELECT_TICKETS} WHERE t.token = ?", [token]).fetchall()
    if not rows:
        raise NotFound(_l("There is no ticket with that token."))
    return calling.describe(db, rows, now, public=True)[0]


def state(db: Database, ticket_id: int, now: datetime | None = None) -> TicketState:
    """A citizen's live state, ``{"seq", "ticket"}``, read consistently: the ticket (without
    its id) and the journal's seq it is as of. NotFound if none."""
    now = now or utcnow()
    with read_transaction(db):
        rows = db.execute(f"{SELECT_TICKETS} WHERE t.id = ?", [ticket_id]).fetchall()
        if not rows:
            raise NotFound(_l("There is no ticket with that id."))
        return {"seq": last_seq(db), "ticket": calling.describe(db, rows, now, public=True)[0]}


def id_for_token(db: Database, token: str) -> int | None:
    """The id of the ticket with this public token, or None."""
    row = db.execute("SELECT id FROM tickets WHERE token = ?", [token]).fetchone()
    found: int | None = None if row is None else row[0]
    return found


def waiting_in(
    db: Database, office: str, wanted: Collection[int], now: datetime | None = None
) -> list[Ticket]:
    """The tickets waiting in ``office`` whose ids are in ``wanted``, with their places and
    estimates (one read of the queue however many are wanted)."""
    now = now or utcnow()
    with read_transaction(db):
        ids = sorted(wanted)
        rows = db.execute(
            f"{SELECT_TICKETS} WHERE t.status = 'waiting' AND t.office = ?"
            f" AND t.id IN (SELECT value FROM json_each(?))",
            [office, json.dumps(ids)],
        ).fetchall()
        return calling.describe(db, rows, now)


def outside_in(db: Database, wanted: Collection[int], now: datetime | None = None) -> list[Ticket]:
    """The tickets waiting outside the building whose ids are in ``wanted``, with the people
    outside ahead of each (the queue outside is read, short; ``wanted`` may be long)."""
    now = now or utcnow()
    with read_transaction(db):
        rows = [
            row
            for row in db.execute(f"{SELECT_TICKETS} WHERE t.status = 'outside'")
            if row["id"] in wanted
        ]
        return calling.describe(db, rows, now)


def find(db: Database, ticket_id: int, now: datetime | None = None) -> Ticket:
    """A ticket by id; NotFound if none."""
    ticket = calling.load(db, ticket_id, now or utcnow())
    if ticket is None:
        raise NotFound(_l("There is no ticket with that id."))
    return ticket


def list_today(
    db: Database,
    office: str | None = None,
    status: Status | None = None,
    now: datetime | None = None,
) -> list[Ticket]:
    """Today's tickets, oldest first, optionally of one office and/or one status."""
    now = now or utcnow()
    if status is not None and status not in STATUSES:
        raise InvalidInput(_l("status must be one of: %(statuses)s.", statuses=", ".join(STATUSES)))
    if office is not None:
        _office_letter(db, office)
    sql = f"{SELECT_TICKETS} WHERE t.day = ?"
    params: list[str] = [local_day(now)]
    if office is not None:
        sql += " AND t.office = ?"
        params.append(office)
    if status is not None:
        # A ticket waiting outside is waiting too (with "outside": true).
        sql += " AND t.status IN (?, ?)"
        params += [status, "outside" if status == "waiting" else status]
    rows = db.execute(sql + " ORDER BY t.issued_at, t.id", params).fetchall()
    return calling.describe(db, rows, now)
