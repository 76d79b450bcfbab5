"""Citizen notices by SMS (contract v2, "Citizen notices"): which messages a change calls
for, and the outbox they wait in until the gateway accepts them.

A ticket issued with a phone gets one message when it comes within ``AHEAD`` of the front
(``position`` <= AHEAD; at issue too, when it is already that near) and one when it is
called; a ticket that waited outside the building gets one when it is let in. ``enqueue``
writes them into the outbox inside the transaction of the change that calls for them
(``day.change``), so that a change acknowledged is a message that will be sent, whatever
crashes after. The sender (``live/sms.py``) claims due messages for a while (a lease, so
that two server processes never send the same one at once), posts them, and marks them
sent on a 2xx or due again later, waiting longer after each failure.

The outbox keeps only the ticket and the kind: the phone stays on the ticket and is erased
with the day's end (``erase``), and the text is written when sent, in the ticket's
language, with what is true then (a message that is no longer true, a "near" for a ticket
already called, is dropped instead). Nothing personal goes into the journal.
"""

import json
from datetime import datetime, timedelta
from typing import Literal, TypedDict

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import local_day, stamp
from queue_app.languages import CITIZEN_LANGUAGES
from queue_app.rules import calling
from queue_app.rules.checks import phone_number
from queue_app.rules.errors import InvalidInput
from queue_app.storage.db import write_transaction
from queue_app.storage.journal import AnyEvent

Kind = Literal["near", "called", "admitted"]
# Off until configured (create_app): without a gateway nothing is queued.
ENABLED = False
AHEAD = 3
LEASE = timedelta(seconds=30)  # longer than a send takes (live/sms.py: 10 s timeouts)
RETRY_FIRST_S = 2
RETRY_MAX_S = 300
# Spanish mobile and landline numbers are nine digits from 6, 7, 8 or 9.
SPANISH_FIRST_DIGITS = "6789"


class Message(TypedDict):
    """A claimed message, with what its text is made of (read when sent)."""

    id: int
    kind: Kind
    attempts: int
    to: str
    code: str
    office: str
    desk: str | None
    desk_names: dict[str, str]
    language: str
    ahead: int | None


def configure(enabled: bool, ahead: int, retry_max_s: int = RETRY_MAX_S) -> None:
    """Switch the notices on (a gateway is set), with the ``position`` that counts as near
    and the longest wait between two tries."""
    global ENABLED, AHEAD, RETRY_MAX_S
    ENABLED, AHEAD, RETRY_MAX_S = enabled, ahead, retry_max_s


def sms_number(phone: object) -> str | None:
    """A phone for SMS in international form (+ and digits), or None when not given. A
    Spanish number may come without +34; another country's needs its code (+ or 00)."""
    checked = phone_number(phone)
    if checked is None:
        return None
    if checked.startswith("+"):
        return checked
    if checked.startswith("00"):
        return "+" + checked[2:]
    if len(checked) == 9 and checked[0] in SPANISH_FIRST_DIGITS:
        return "+34" + checked
    raise InvalidInput(_l("A phone from abroad needs its country code, e.g. +33 6 12 34 56 78."))


def check_language(language: object) -> str:
    """The messages' language: one the citizen's pages speak (Catalan when not given)."""
    if language is None:
        return CITIZEN_LANGUAGES[0]
    if not isinstance(language, str) or language not in CITIZEN_LANGUAGES:
        raise InvalidInput(
            _l("The language must be one of: %(codes)s.", codes=", ".join(CITIZEN_LANGUAGES))
        )
    return language


def _queue(db: Database, ticket_ids: list[int], kind: Kind, now: datetime) -> None:
    db.conn.executemany(
        "INSERT OR IGNORE INTO outbox (ticket_id, kind, created_at, due_at) VALUES (?, ?, ?, ?)",
        [(ticket_id, kind, stamp(now), stamp(now)) for ticket_id in ticket_ids],
    )


def enqueue(db: Database, events: list[AnyEvent], now: datetime) -> None:
    """Inside the change's transaction: the messages its events call for, once each per
    ticket and kind. Costs nothing without a gateway, or when no waiting ticket of the
    offices that moved has a phone."""
    if not ENABLED or not events:
        return
    kinds: tuple[tuple[Kind, str], ...] = (
        ("called", "ticket_called"),
        ("admitted", "ticket_admitted"),
    )
    for kind, type_ in kinds:
        wanted = [
            event["ticket_id"]
            for event in events
            if event["type"] == type_ and not event["payload"].get("recall")
        ]
        if wanted:
            marks = ", ".join("?" for _ in wanted)
            rows = db.execute(
                f"SELECT id FROM tickets WHERE id IN ({marks}) AND phone IS NOT NULL", wanted
            ).fetchall()
            _queue(db, [row[0] for row in rows], kind, now)
    # Only the first AHEAD + 1 of a queue can be near: read those (not the queue) of the
    # offices where someone with a phone waits.
    offices = [
        office
        for office in sorted({event["office"] for event in events if event["office"]})
        if db.execute(
            "SELECT 1 FROM tickets WHERE office = ? AND status = 'waiting'"
            " AND phone IS NOT NULL LIMIT 1",
            [office],
        ).fetchone()
    ]
    near = [ticket for office in offices for ticket in calling.front(db, office, now, AHEAD + 1)]
    if not near:
        return
    rows = db.execute(
        "SELECT t.id FROM tickets t WHERE t.id IN (SELECT value FROM json_each(?))"
        " AND t.phone IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM outbox o WHERE o.ticket_id = t.id AND o.kind = 'near')",
        [json.dumps(near)],
    ).fetchall()
    _queue(db, [row[0] for row in rows], "near", now)


def claim(db: Database, now: datetime) -> Message | None:
    """The oldest message due and not being sent, leased to the caller for LEASE; None when
    there is none. A message whose ticket moved on (a "near" for a ticket no longer
    waiting, a "called" for one no longer called) or lost its phone is dropped instead."""
    while True:
        with write_transaction(db):
            row = db.execute(
                "UPDATE outbox SET lease_until = :until, attempts = attempts + 1"
                " WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL"
                " AND dropped_at IS NULL AND due_at <= :now"
                " AND (lease_until IS NULL OR lease_until <= :now) ORDER BY due_at, id LIMIT 1)"
                " RETURNING id, ticket_id, kind, attempts",
                {"now": stamp(now), "until": stamp(now + LEASE)},
            ).fetchone()
            if row is None:
                return None
            ticket = db.execute(
                "SELECT t.code, t.office, t.status, t.phone, t.language, d.name AS desk,"
                " d.names AS desk_names"
                " FROM tickets t LEFT JOIN desks d ON d.id = t.desk_id WHERE t.id = ?",
                [row["ticket_id"]],
            ).fetchone()
            wanted = "called" if row["kind"] == "called" else "waiting"
            if ticket["phone"] is None or ticket["status"] != wanted:
                db.execute(
                    "UPDATE outbox SET dropped_at = ?, lease_until = NULL WHERE id = ?",
                    [stamp(now), row["id"]],
                )
                continue
            ahead = None
            if row["kind"] == "near":
                found = db.execute(f"{calling.SELECT_TICKETS} WHERE t.id = ?", [row["ticket_id"]])
                ahead = calling.places(db, found.fetchall(), now).get(row["ticket_id"])
            return {
                "id": row["id"],
                "kind": row["kind"],
                "attempts": row["attempts"],
                "to": ticket["phone"],
                "code": ticket["code"],
                "office": ticket["office"],
                "desk": ticket["desk"],
                "desk_names": json.loads(ticket["desk_names"] or "{}"),
                "language": ticket["language"],
                "ahead": ahead,
            }


def sent(db: Database, message_id: int, now: datetime) -> None:
    """The gateway accepted the message: never again."""
    with write_transaction(db):
        db.execute(
            "UPDATE outbox SET sent_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?",
            [stamp(now), message_id],
        )


def retry_after(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: 2, 4, 8... RETRY_MAX_S."""
    return float(min(RETRY_FIRST_S * 2 ** max(attempts - 1, 0), RETRY_MAX_S))


def failed(db: Database, message_id: int, now: datetime, error: str) -> None:
    """The gateway did not accept it (an error, a timeout, an answer not 2xx): due again
    after a wait that grows with each failure. ``error`` says why, never the phone."""
    with write_transaction(db):
        attempts = db.execute("SELECT attempts FROM outbox WHERE id = ?", [message_id]).fetchone()[
            0
        ]
        db.execute(
            "UPDATE outbox SET due_at = ?, lease_until = NULL, last_error = ? WHERE id = ?",
            [stamp(now + timedelta(seconds=retry_after(attempts))), error[:200], message_id],
        )


def next_due(db: Database) -> str | None:
    """When the earliest message still to send is due (stored UTC), or None."""
    row = db.execute(
        "SELECT MIN(MAX(due_at, COALESCE(lease_until, due_at))) FROM outbox"
        " WHERE sent_at IS NULL AND dropped_at IS NULL"
    ).fetchone()
    return row[0] if row else None


def erase(db: Database, now: datetime) -> None:
    """Inside the day's roll-over: the phones of tickets of past days go, and their
    messages not sent yet with them (a notice for yesterday's queue helps nobody)."""
    today = local_day(now)
    db.execute(
        "UPDATE outbox SET dropped_at = ?, lease_until = NULL WHERE sent_at IS NULL"
        " AND dropped_at IS NULL AND ticket_id IN (SELECT id FROM tickets WHERE day < ?"
        " AND phone IS NOT NULL)",
        [stamp(now), today],
    )
    db.execute("UPDATE tickets SET phone = NULL WHERE phone IS NOT NULL AND day < ?", [today])
