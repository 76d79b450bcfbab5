"""Time in the town hall: stored instants are UTC, days and displays are local."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

_local = ZoneInfo("Europe/Madrid")


def set_timezone(name):
    """Set the town hall's local time zone (``QUEUE_TIMEZONE``)."""
    global _local
    _local = ZoneInfo(name)


def local_zone():
    """The town hall's local time zone."""
    return _local


def utcnow():
    """The current instant, timezone-aware."""
    return datetime.now(timezone.utc)


def stamp(moment):
    """Storage form of an aware datetime: fixed-width UTC ISO 8601, so it sorts as text."""
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def local_iso(stored):
    """The API form of a stored instant: local ISO 8601 with its offset, or None."""
    if stored is None:
        return None
    return datetime.fromisoformat(stored).astimezone(_local).isoformat(timespec="seconds")


def local_day(moment):
    """The local calendar day (``YYYY-MM-DD``) of an aware datetime."""
    return moment.astimezone(_local).date().isoformat()


def parse_instant(text):
    """Parse ISO 8601 from a client; a time without offset is taken as local time."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_local)
    return moment
