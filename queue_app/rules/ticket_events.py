"""The journal events of a ticket's life, written inside the transaction of the change:
the ticket as it is now, a call, an office's queue that moved."""

import json
from datetime import datetime
from typing import Literal, TypeVar

from sqlite_utils import Database

from queue_app.rules import calling
from queue_app.rules.types import CallPayload, QueuePayload, Ticket, TicketPayload
from queue_app.storage.journal import Event, record

# A ticket's event payload: ``ticket_changed``'s, or ``ticket_called``'s, which adds to it.
TicketPayloadT = TypeVar("TicketPayloadT", bound=TicketPayload)


def queue_event(db: Database, now: datetime, office: str, actor: str | None) -> Event[QueuePayload]:
    """``queue_changed``: how many tickets of ``office`` wait to be called now, and how many
    wait outside the building."""
    payload = QueuePayload(
        office=office,
        waiting=calling.waiting_count(db, office),
        outside=calling.outside_counts(db, [office])[office],
    )
    return record(
        db,
        now,
        "queue_changed",
        payload,
        office=office,
        actor=actor,
    )


def ticket_event(
    db: Database, now: datetime, ticket: Ticket, actor: str | None
) -> Event[TicketPayload]:
    """``ticket_changed``: the ticket as it is now."""
    return record_ticket(db, now, "ticket_changed", TicketPayload(ticket=ticket), actor)


def call_event(
    db: Database,
    now: datetime,
    ticket: Ticket,
    actor: str | None,
    desk: str,
    recall: bool,
    out_of_order: bool = False,
) -> Event[CallPayload]:
    """``ticket_called``: the ticket called, or called again, to ``desk`` (its name, and its
    names per language for the screens); ``out_of_order`` when a clerk chose it from the list
    instead of calling the next."""
    payload = CallPayload(ticket=ticket, desk=desk, recall=recall)
    row = db.execute("SELECT names FROM desks WHERE name = ?", [desk]).fetchone()
    if row is not None and row[0]:
        payload["desk_names"] = json.loads(row[0])
    if out_of_order:
        payload["out_of_order"] = True
    return record_ticket(db, now, "ticket_called", payload, actor)


def record_ticket(
    db: Database,
    now: datetime,
    type_: Literal["ticket_changed", "ticket_called", "ticket_admitted"],
    payload: TicketPayloadT,
    actor: str | None,
) -> Event[TicketPayloadT]:
    ticket_id = payload["ticket"]["id"]
    row = db.execute("SELECT office, desk_id FROM tickets WHERE id = ?", [ticket_id]).fetchone()
    return record(
        db,
        now,
        type_,
        payload,
        ticket_id=ticket_id,
        office=row["office"],
        desk_id=row["desk_id"],
        actor=actor,
    )
