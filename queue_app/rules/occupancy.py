"""The building's occupancy (aforament): who is inside against the limit, and who waits
outside for room.

The steps other rules take inside their own transaction (a ticket let in, a new day); the
commands of the people at the door are in ``door.py``, and the queue outside in
``outside.py``.
"""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import local_day, local_zone
from queue_app.rules.errors import CapacityFull
from queue_app.rules.types import Occupancy
from queue_app.storage.db import get_setting, put_setting
from queue_app.storage.journal import Event, record

# How many of the codes let in from outside the occupancy tells (``next_in``).
NEXT_IN = 5


def counts(db: Database) -> tuple[int, int]:
    """``(inside, limit)`` as stored now."""
    stored = dict(
        db.execute("SELECT key, value FROM settings WHERE key IN ('inside', 'limit')").fetchall()
    )
    return int(stored.get("inside", 0)), int(stored.get("limit", 0))


def waiting_outside(db: Database) -> int:
    """How many people (parties counted whole) wait outside now."""
    outside: int = db.execute(
        "SELECT COALESCE(SUM(party_size), 0) FROM tickets WHERE status = 'outside'"
    ).fetchone()[0]
    return outside


def read(
    db: Database, now: datetime | None = None, known: tuple[int, int] | None = None
) -> Occupancy:
    """``{"inside", "limit", "full", "outside", "next_in"}`` as stored now; ``next_in`` are
    the codes of the last tickets let in from outside on ``now``'s day (by default the
    business day), newest first. ``known``: the counts, when the caller has just written
    them."""
    inside, limit = known or counts(db)
    day = local_day(now) if now is not None else get_setting(db, "business_day", "")
    next_in = [
        row[0]
        for row in db.execute(
            "SELECT code FROM tickets WHERE day = ? AND admitted_at IS NOT NULL"
            " ORDER BY admitted_at DESC, id DESC LIMIT ?",
            [day, NEXT_IN],
        )
    ]
    return {
        "inside": inside,
        "limit": limit,
        "full": inside >= limit,
        "outside": waiting_outside(db),
        "next_in": next_in,
    }


def store(
    db: Database,
    inside: int,
    limit: int,
    now: datetime,
    actor: str | None,
    before: tuple[int, int] | None = None,
) -> Event[Occupancy]:
    """Set both counts (inside a transaction) and record the change; ``before``, the counts
    read in the same transaction, spares writing one that did not change."""
    if before is None or before[0] != inside:
        put_setting(db, "inside", inside)
    if before is None or before[1] != limit:
        put_setting(db, "limit", limit)
    # The most people inside in this local hour, for the statistics (``peak_inside``).
    local = now.astimezone(local_zone())
    db.execute(
        "INSERT INTO occupancy_peaks (day, hour, peak) VALUES (?, ?, ?)"
        " ON CONFLICT(day, hour) DO UPDATE SET peak = MAX(peak, excluded.peak)",
        [local.date().isoformat(), local.hour, inside],
    )
    return changed(db, now, actor, (inside, limit))


def changed(
    db: Database, now: datetime, actor: str | None, known: tuple[int, int] | None = None
) -> Event[Occupancy]:
    """Record ``occupancy_changed`` with the state as it is now (inside a transaction)."""
    return record(db, now, "occupancy_changed", read(db, now, known), actor=actor)


def admit(
    db: Database,
    count: int,
    now: datetime,
    actor: str | None = None,
    *,
    behind_outside: bool = False,
) -> Event[Occupancy]:
    """Let ``count`` people in (inside a transaction); refuse when they do not fit, or, with
    ``behind_outside``, while anyone waits outside (they go first)."""
    inside, limit = counts(db)
    if inside + count > limit:
        raise CapacityFull()
    # Those outside go first; a party larger than the limit, which could never come in,
    # holds nobody back (as when letting in, outside.py).
    if (
        behind_outside
        and db.execute(
            "SELECT 1 FROM tickets WHERE status = 'outside' AND party_size <= ? LIMIT 1", [limit]
        ).fetchone()
    ):
        raise CapacityFull(_l("People are waiting outside for room: they go in first."))
    return store(db, inside + count, limit, now, actor, (inside, limit))


def could_ever_enter(db: Database, count: int) -> None:
    """Refuse a party larger than the building's limit: it could never be let in."""
    limit = counts(db)[1]
    if count > limit:
        raise CapacityFull(
            _l(
                "A party of %(count)s can never enter: the building's limit is %(limit)s.",
                count=count,
                limit=limit,
            )
        )


def reset(db: Database, now: datetime) -> Event[Occupancy]:
    """A new day: the building is empty (inside a transaction)."""
    inside, limit = counts(db)
    return store(db, 0, limit, now, None, (inside, limit))
