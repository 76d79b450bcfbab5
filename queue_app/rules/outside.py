"""The queue outside the door (contract v2, "Capacity at the door").

A ticket issued while the building is full, to wait outside, is stored with the status
``outside``: no query of the calling order sees it. Whenever room appears (people leave, a
ticket ends, the limit grows) the same transaction lets the outside queue in, in issue
order, while the first party fits: a party that does not fit yet holds those behind it,
except one larger than the limit itself, which could never enter and holds nobody.
Admission happens inside the write transaction that made the room, so two server processes
can never let in more than the limit, nor the same ticket twice.
"""

from datetime import datetime

from sqlite_utils import Database

from queue_app.clock import stamp
from queue_app.rules import calling, occupancy, ticket_events
from queue_app.rules.types import TicketPayload
from queue_app.storage.journal import AnyEvent


def release(db: Database, count: int, now: datetime, actor: str | None) -> list[AnyEvent]:
    """Inside a transaction: ``count`` people left (never below 0), and whoever waits outside
    comes in as far as the room allows. The events: the tickets let in, then the
    occupancy."""
    before = occupancy.counts(db)
    return settle(db, (max(0, before[0] - count), before[1]), now, actor, before)


def settle(
    db: Database,
    wanted: tuple[int, int],
    now: datetime,
    actor: str | None,
    before: tuple[int, int] | None = None,
) -> list[AnyEvent]:
    """Inside a transaction: set the counts to ``wanted`` (inside, limit), let the outside
    queue in while its first party fits, and record the occupancy once."""
    before = before or occupancy.counts(db)
    events, inside = _let_in(db, *wanted, now, actor)
    limit = wanted[1]
    events.append(occupancy.store(db, inside, limit, now, actor, before))
    return events


def _let_in(
    db: Database, inside: int, limit: int, now: datetime, actor: str | None
) -> tuple[list[AnyEvent], int]:
    """Admit outside tickets in issue order from ``inside`` people; the events and the new
    count inside."""
    admitted: list[int] = []
    offices: list[str] = []
    queue = db.execute(
        "SELECT id, office, party_size FROM tickets WHERE status = 'outside' ORDER BY issued_at, id"
    )
    for ticket_id, office, party_size in queue:
        if party_size > limit:
            continue  # it could never enter under this limit: it holds nobody back
        if inside + party_size > limit:
            break
        inside += party_size
        admitted.append(ticket_id)
        if office not in offices:
            offices.append(office)
    events: list[AnyEvent] = []
    for ticket_id in admitted:
        db.execute(
            "UPDATE tickets SET status = 'waiting', admitted_at = ? WHERE id = ?",
            [stamp(now), ticket_id],
        )
    for ticket_id in admitted:
        ticket = calling.load_written(db, ticket_id, now)
        events.append(ticket_events.ticket_event(db, now, ticket, actor))
        events.append(
            ticket_events.record_ticket(
                db, now, "ticket_admitted", TicketPayload(ticket=ticket), actor
            )
        )
    events += [ticket_events.queue_event(db, now, office, actor) for office in offices]
    return events, inside
