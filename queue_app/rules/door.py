"""The door: people entering and leaving without a ticket, and the limit an administrator
sets. Each is a command of its own transaction (``day.change``); whatever makes room lets
the queue outside in (``outside.py``).

People counted in at the door are let in whenever they fit, like a checked-in appointment:
the doorman sees who is there."""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import utcnow
from queue_app.rules import day, outside
from queue_app.rules.errors import InvalidInput
from queue_app.rules.occupancy import admit, counts, read
from queue_app.rules.types import Occupancy
from queue_app.storage.journal import Outcome

MAX_COUNT = 1000
MAX_LIMIT = 100000


def _check_count(count: object) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(
            _l("count must be a whole number from 1 to %(maximum)s.", maximum=MAX_COUNT)
        )


def enter(
    db: Database, count: int = 1, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Occupancy]:
    """People entering without a ticket (counted at the door): 409 when they do not fit."""
    return _counted(db, count, actor, now)


def leave(
    db: Database, count: int = 1, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Occupancy]:
    """People leaving the building; the count never goes below 0. Whoever waits outside
    comes in as far as the room they left allows."""
    _check_count(count)
    now = now or utcnow()
    with day.change(db, now) as events:
        events += outside.release(db, count, now, actor)
    return Outcome(read(db), events)


def _counted(
    db: Database, count: int, actor: str | None, now: datetime | None
) -> Outcome[Occupancy]:
    """People counted in at the door, in one transaction."""
    _check_count(count)
    now = now or utcnow()
    with day.change(db, now) as events:
        events.append(admit(db, count, now, actor))
    return Outcome(read(db), events)


def set_counts(
    db: Database,
    inside: int | None = None,
    limit: int | None = None,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Occupancy]:
    """An administrator corrects the count inside or sets the building's limit."""
    for name, value, low in (("inside", inside, 0), ("limit", limit, 1)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_LIMIT
        ):
            raise InvalidInput(
                _l(
                    "%(name)s must be a whole number from %(low)s to %(maximum)s.",
                    name=name,
                    low=low,
                    maximum=MAX_LIMIT,
                )
            )
    now = now or utcnow()
    with day.change(db, now) as events:
        before = counts(db)
        wanted = (before[0] if inside is None else inside, before[1] if limit is None else limit)
        events += outside.settle(db, wanted, now, actor, before)
    return Outcome(read(db), events)
