"""Personal data kept minimal: names and phones are erased once they are old enough.

Appointments keep their counts (office, times, party, status) for the statistics, without a
name or a phone, ``DAYS`` days after their day (``QUEUE_RETENTION_DAYS``, 30 by default):
at the day's roll-over, and whenever ``flask purge-personal-data`` runs. The database has
``secure_delete`` on (``storage/db.py``), so SQLite overwrites the erased text in the file
instead of leaving it in free pages.
"""

from datetime import datetime, timedelta

from sqlite_utils import Database

from queue_app.clock import local_zone, stamp, utcnow
from queue_app.storage.db import checkpoint, write_transaction
from queue_app.storage.journal import Outcome

DAYS = 30


def configure(days: int) -> None:
    """Set how many days names and phones are kept (``QUEUE_RETENTION_DAYS``)."""
    global DAYS
    DAYS = days


def erase(db: Database, now: datetime) -> int:
    """Inside a transaction: erase the names and phones of appointments of days more than
    ``DAYS`` days before ``now``'s; how many appointments were erased."""
    cutoff = (now.astimezone(local_zone()).date() - timedelta(days=DAYS)).isoformat()
    cursor = db.execute(
        "UPDATE appointments SET name = NULL, phone = NULL, search = NULL, erased_at = ?"
        " WHERE day < ? AND erased_at IS NULL",
        [stamp(now), cutoff],
    )
    return int(cursor.rowcount)


def purge(db: Database, now: datetime | None = None) -> Outcome[int]:
    """``purge-personal-data``: erase now what is past the retention period, and fold the
    write-ahead log into the file, so that no copy of the old text stays in it either."""
    now = now or utcnow()
    with write_transaction(db):
        erased = erase(db, now)
    checkpoint(db)
    return Outcome(erased, [])
