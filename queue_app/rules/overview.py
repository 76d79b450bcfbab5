"""The service as it is now, for the live part of the statistics page: per office who waits
and since when, each desk serving, paused or free and since when, and the building's count.

Instants, not durations: the page counts the minutes itself from them, so that it needs a
new overview only when something changes (``live/delivery.py`` sends one after each batch
of events), never on a timer.
"""

from datetime import datetime
from typing import Literal, TypedDict

from sqlite_utils import Database

from queue_app.clock import local_day, local_iso, stamp, utcnow
from queue_app.rules.desks import list_desks
from queue_app.rules.occupancy import read as read_occupancy
from queue_app.rules.types import Occupancy
from queue_app.storage import journal
from queue_app.storage.db import read_transaction

DeskState = Literal["serving", "paused", "free"]

OFFICES_SQL = """
SELECT o.code, o.name, o.target_wait_s,
  COUNT(t.id) FILTER (WHERE t.status = 'waiting') AS waiting,
  MIN(t.issued_at) FILTER (WHERE t.status = 'waiting') AS oldest,
  COUNT(t.id) FILTER (WHERE t.status IN ('called', 'serving')) AS serving,
  COUNT(t.id) FILTER (WHERE t.status = 'done') AS served,
  MAX(t.wait_s) AS wait_max
FROM offices o LEFT JOIN tickets t ON t.office = o.code AND t.day = :day
GROUP BY o.code ORDER BY o.position, o.code
"""
# The desk's newest event of the day (a call, a finish, a pause...): since when it is as is.
SINCE_SQL = """
SELECT at FROM events WHERE desk_id = :desk AND seq > :opened ORDER BY seq DESC LIMIT 1
"""


class OfficeNow(TypedDict):
    code: str
    name: str
    target_wait_s: int
    waiting: int
    waiting_since: str | None  # the issue of the ticket waiting longest
    serving: int
    served: int
    wait_max_s: int | None  # the longest wait for a first call today


class DeskNow(TypedDict):
    id: int
    name: str
    offices: list[str]
    state: DeskState
    since: str | None  # None: nothing happened at the desk today
    ticket: str | None  # the code it serves


class Overview(TypedDict):
    seq: int
    at: str
    offices: list[OfficeNow]
    desks: list[DeskNow]
    occupancy: Occupancy


def read(db: Database, now: datetime | None = None) -> Overview:
    """The overview as of now, consistent with the journal's ``seq``."""
    now = now or utcnow()
    with read_transaction(db):
        seq = journal.last_seq(db)
        opened = db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE type = 'day_started'"
        ).fetchone()[0]
        offices: list[OfficeNow] = [
            {
                "code": row["code"],
                "name": row["name"],
                "target_wait_s": row["target_wait_s"],
                "waiting": row["waiting"],
                "waiting_since": local_iso(row["oldest"]),
                "serving": row["serving"],
                "served": row["served"],
                "wait_max_s": None if row["wait_max"] is None else round(row["wait_max"]),
            }
            for row in db.execute(OFFICES_SQL, {"day": local_day(now)}).fetchall()
        ]
        desks: list[DeskNow] = []
        for desk in list_desks(db, now, display_safe=True):
            current = desk["current"]
            last = db.execute(SINCE_SQL, {"desk": desk["id"], "opened": opened}).fetchone()
            state: DeskState = "serving" if current else "paused" if desk["paused"] else "free"
            since = current["called_at"] if current else local_iso(last[0]) if last else None
            desks.append(
                {
                    "id": desk["id"],
                    "name": desk["name"],
                    "offices": desk["offices"],
                    "state": state,
                    "since": since,
                    "ticket": current["code"] if current else None,
                }
            )
        return {
            "seq": seq,
            "at": local_iso(stamp(now)),
            "offices": offices,
            "desks": desks,
            "occupancy": read_occupancy(db),
        }
