"""The building's occupancy (aforament): who is inside against the limit."""

from flask_babel import lazy_gettext as _l

from . import day
from .clock import utcnow
from .db import get_setting, put_setting
from .errors import CapacityFull, InvalidInput
from .journal import Outcome, record

MAX_COUNT = 1000
MAX_LIMIT = 100000


def read(db):
    """``{"inside", "limit", "full"}`` as stored now."""
    inside = int(get_setting(db, "inside", 0))
    limit = int(get_setting(db, "limit", 0))
    return {"inside": inside, "limit": limit, "full": inside >= limit}


def _store(db, inside, limit, now, actor):
    put_setting(db, "inside", inside)
    put_setting(db, "limit", limit)
    state = {"inside": inside, "limit": limit, "full": inside >= limit}
    return record(db, now, "occupancy_changed", state, actor=actor)


def admit(db, count, now, actor=None):
    """Let ``count`` people in (inside a transaction); refuse when they do not fit."""
    state = read(db)
    if state["inside"] + count > state["limit"]:
        raise CapacityFull()
    return _store(db, state["inside"] + count, state["limit"], now, actor)


def reset(db, now):
    """A new day: the building is empty (inside a transaction)."""
    return _store(db, 0, read(db)["limit"], now, None)


def release(db, count, now, actor=None):
    """Let ``count`` people out (inside a transaction); never below 0."""
    state = read(db)
    return _store(db, max(0, state["inside"] - count), state["limit"], now, actor)


def _check_count(count):
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise InvalidInput(
            _l("count must be a whole number from 1 to %(maximum)s.", maximum=MAX_COUNT)
        )


def enter(db, count=1, *, actor=None, now=None):
    """People entering without a ticket (counted at the door): 409 when they do not fit."""
    _check_count(count)
    now = now or utcnow()
    with day.change(db, now) as events:
        events.append(admit(db, count, now, actor))
    return Outcome(read(db), events)


def leave(db, count=1, *, actor=None, now=None):
    """People leaving the building; the count never goes below 0."""
    _check_count(count)
    now = now or utcnow()
    with day.change(db, now) as events:
        events.append(release(db, count, now, actor))
    return Outcome(read(db), events)


def set_counts(db, inside=None, limit=None, *, actor=None, now=None):
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
        state = read(db)
        events.append(
            _store(
                db,
                state["inside"] if inside is None else inside,
                state["limit"] if limit is None else limit,
                now,
                actor,
            )
        )
    return Outcome(read(db), events)
