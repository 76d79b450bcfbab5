"""The business day: the first request of a new local day closes the previous one."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlite_utils import Database

from queue_app.clock import local_day, stamp, utcnow
from queue_app.rules import calling, notices, occupancy, retention, stats
from queue_app.rules.types import DayPayload, QueuePayload, StoredStatus, TicketPayload
from queue_app.storage.db import get_setting, put_setting, write_transaction
from queue_app.storage.journal import AnyEvent, Outcome, record

OPEN_STATUSES: tuple[StoredStatus, ...] = ("waiting", "outside", "called", "serving")


def roll_over(db: Database, now: datetime) -> list[AnyEvent]:
    """Inside a transaction: on another local day, expire open tickets and empty the building.

    The business day follows the local date whichever way the clock moved: a server whose
    clock ran ahead (a wrong RTC) opens today again once the clock is put right, instead of
    keeping that future day, and its tickets, for ever. Returns the journal events written
    (none on the same day); ``day_started`` says ``"clock_moved_back": true`` then.
    """
    today = local_day(now)
    current = get_setting(db, "business_day")
    if current == today:
        return []
    put_setting(db, "business_day", today)
    started: DayPayload = {"day": today, "previous": current}
    if current is not None and current > today:
        started["clock_moved_back"] = True
    events: list[AnyEvent] = [record(db, now, "day_started", started)]
    marks = ", ".join("?" for _ in OPEN_STATUSES)
    open_rows = db.execute(
        f"SELECT id, office, status FROM tickets WHERE status IN ({marks}) ORDER BY id",
        OPEN_STATUSES,
    ).fetchall()
    db.execute(
        f"UPDATE tickets SET status = 'expired', finished_at = ? WHERE status IN ({marks})",
        [stamp(now), *OPEN_STATUSES],
    )
    for row in open_rows:
        ticket = calling.load_written(db, row["id"], now)
        events.append(
            record(
                db,
                now,
                "ticket_changed",
                TicketPayload(ticket=ticket),
                ticket_id=row["id"],
                office=row["office"],
            )
        )
    queued = {row["office"] for row in open_rows if row["status"] in ("waiting", "outside")}
    for office in sorted(queued):
        emptied = QueuePayload(office=office, waiting=0, outside=0)
        events.append(record(db, now, "queue_changed", emptied, office=office))
    events.append(occupancy.reset(db, now))
    # Appointments nobody came to are missed; old names and phones go (retention.py).
    db.execute(
        "UPDATE appointments SET status = 'missed' WHERE status = 'booked' AND day < ?", [today]
    )
    retention.erase(db, now)
    notices.erase(db, now)
    stats.close_days(db, today)
    return events


@contextmanager
def change(db: Database, now: datetime) -> Iterator[list[AnyEvent]]:
    """A write transaction of the queue rules; it first rolls the day over if due.

    Yields the list of journal events, to which the block appends its own; the citizen
    notices they call for are queued in the same transaction.
    """
    with write_transaction(db):
        events = roll_over(db, now)
        yield events
        notices.enqueue(db, events, now)


def ensure_today(db: Database, now: datetime | None = None) -> Outcome[None]:
    """Roll the day over if this is the first request of a new local day."""
    now = now or utcnow()
    if get_setting(db, "business_day") == local_day(now):
        return Outcome(None)
    with change(db, now) as events:
        pass
    return Outcome(None, events)
