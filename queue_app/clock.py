"""Time in the town hall: stored instants are UTC, days and displays are local."""

from datetime import datetime, timezone
from typing import overload
from zoneinfo import ZoneInfo

_local = ZoneInfo("Europe/Madrid")


def set_timezone(name: str) -> None:
    """Set the town hall's local time zone (``QUEUE_TIMEZONE``)."""
    global _local
    _local = ZoneInfo(name)


def local_zone() -> ZoneInfo:
    """The town hall's local time zone."""
    return _local


def utcnow() -> datetime:
    """The current instant, timezone-aware."""
    return datetime.now(timezone.utc)


def stamp(moment: datetime) -> str:
    """Storage form of an aware datetime: fixed-width UTC ISO 8601, so it sorts as text."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


@overload
def local_iso(stored: str) -> str: ...
@overload
def local_iso(stored: None) -> None: ...
@overload
def local_iso(stored: str | None) -> str | None: ...


def local_iso(stored: str | None) -> str | None:
    """The API form of a stored instant: local ISO 8601 with its offset, or None."""
    if stored is None:
        return None
    return datetime.fromisoformat(stored).astimezone(_local).isoformat(timespec="seconds")


def local_day(moment: datetime) -> str:
    """The local calendar day (``YYYY-MM-DD``) of an aware datetime."""
    return moment.astimezone(_local).date().isoformat()


# Instants a client may give: far beyond any town hall's business, years 1 or 9999 cannot
# even be moved to UTC or local time without overflowing.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099


def parse_instant(text: str) -> datetime:
    """Parse ISO 8601 from a client; a time without offset is taken as local time.

    ValueError when it is not ISO 8601 or falls outside the years 2000 to 2099.
    """
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_local)
    try:
        year = moment.astimezone(timezone.utc).year
    except OverflowError:
        raise ValueError("out of range") from None
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise ValueError("out of range")
    return moment
