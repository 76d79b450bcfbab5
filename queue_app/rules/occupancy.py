"""The building's occupancy (aforament): who is inside against the limit.

The steps other rules take inside their own transaction (a ticket let in, a new day); the
commands of the people at the door are in ``door.py``.
"""

from datetime import datetime

from sqlite_utils import Database

from queue_app.clock import local_zone
from queue_app.rules.errors import CapacityFull
from queue_app.rules.types import Occupancy
from queue_app.storage.db import put_setting
from queue_app.storage.journal import Event, record


def read(db: Database) -> Occupancy:
    """``{"inside", "limit", "full"}`` as stored now."""
    stored = dict(
        db.execute("SELECT key, value FROM settings WHERE key IN ('inside', 'limit')").fetchall()
    )
    inside = int(stored.get("inside", 0))
    limit = int(stored.get("limit", 0))
    return {"inside": inside, "limit": limit, "full": inside >= limit}


def store(
    db: Database,
    inside: int,
    limit: int,
    now: datetime,
    actor: str | None,
    before: Occupancy | None = None,
) -> Event[Occupancy]:
    """Set both counts (inside a transaction) and record the change; ``before``, the state
    read in the same transaction, spares writing a count that did not change."""
    if before is None or before["inside"] != inside:
        put_setting(db, "inside", inside)
    if before is None or before["limit"] != limit:
        put_setting(db, "limit", limit)
    # The most people inside in this local hour, for the statistics (``peak_inside``).
    local = now.astimezone(local_zone())
    db.execute(
        "INSERT INTO occupancy_peaks (day, hour, peak) VALUES (?, ?, ?)"
        " ON CONFLICT(day, hour) DO UPDATE SET peak = MAX(peak, excluded.peak)",
        [local.date().isoformat(), local.hour, inside],
    )
    state: Occupancy = {"inside": inside, "limit": limit, "full": inside >= limit}
    return record(db, now, "occupancy_changed", state, actor=actor)


def admit(db: Database, count: int, now: datetime, actor: str | None = None) -> Event[Occupancy]:
    """Let ``count`` people in (inside a transaction); refuse when they do not fit."""
    state = read(db)
    if state["inside"] + count > state["limit"]:
        raise CapacityFull()
    return store(db, state["inside"] + count, state["limit"], now, actor, state)


def reset(db: Database, now: datetime) -> Event[Occupancy]:
    """A new day: the building is empty (inside a transaction)."""
    return store(db, 0, read(db)["limit"], now, None)


def release(db: Database, count: int, now: datetime, actor: str | None = None) -> Event[Occupancy]:
    """Let ``count`` people out (inside a transaction); never below 0."""
    state = read(db)
    return store(db, max(0, state["inside"] - count), state["limit"], now, actor, state)
