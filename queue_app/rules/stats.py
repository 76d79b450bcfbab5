"""Statistics of the service over a range of local days (contract v2, "Statistics"):
counts, waits, service times, the share served within the office's target, the building's
peak and appointments, grouped by day, hour, weekday, office or desk.

Computed in SQL: over the tickets (their first call, kept on the ticket since a transfer
clears ``called_at``), the appointments and the building's peak per local hour
(``occupancy_peaks``), never by loading rows into Python. The definitions, and what the
contract leaves open, are in ``docs/stats.md``.
"""

from datetime import date
from typing import Any, Literal, TypedDict

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.rules.errors import InvalidInput, UnknownOffice
from queue_app.rules.offices import codes as office_codes

Group = Literal["day", "hour", "weekday", "office", "desk"]
GROUPS: tuple[Group, ...] = ("day", "hour", "weekday", "office", "desk")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # SQLite's %w order
MAX_DAYS = 2 * 366
METRICS = (
    "issued",
    "served",
    "no_show",
    "cancelled",
    "expired",
    "transferred",
    "wait_avg_s",
    "wait_p50_s",
    "wait_p90_s",
    "wait_max_s",
    "service_avg_s",
    "service_p90_s",
    "within_target",
    "peak_inside",
    "appointments_booked",
    "appointments_checked_in",
    "appointments_missed",
)

# The key of each grouping in each source: tickets (t, d its desk), appointments (a, ad the
# desk of its ticket), the building's peaks (p; None: not kept by office or desk).
_WEEKDAY = "CAST(strftime('%w', {day}) AS INTEGER)"
KEYS: dict[Group, tuple[str, str, str | None]] = {
    "day": ("t.day", "a.day", "p.day"),
    "hour": ("t.issued_hour", "a.hour", "p.hour"),
    "weekday": (
        _WEEKDAY.format(day="t.day"),
        _WEEKDAY.format(day="a.day"),
        _WEEKDAY.format(day="p.day"),
    ),
    "office": ("t.office", "a.office", None),
    "desk": ("d.name", "ad.name", None),
}

TICKETS_SQL = """
WITH base AS MATERIALIZED (
  SELECT COALESCE({key}, '') AS key, t.status AS status,
    t.office <> t.issued_office AS moved,
    t.wait_s AS wait, t.service_s AS service,
    o.target_wait_s AS target
  FROM tickets t JOIN offices o ON o.code = t.office LEFT JOIN desks d ON d.id = t.desk_id
  WHERE t.day BETWEEN :start AND :end AND (:office IS NULL OR t.office = :office)
),
waits AS (
  SELECT key, wait, ROW_NUMBER() OVER (PARTITION BY key ORDER BY wait) AS rank,
    COUNT(*) OVER (PARTITION BY key) AS n
  FROM base WHERE wait IS NOT NULL
),
services AS (
  SELECT key, service, ROW_NUMBER() OVER (PARTITION BY key ORDER BY service) AS rank,
    COUNT(*) OVER (PARTITION BY key) AS n
  FROM base WHERE service IS NOT NULL
),
wait_ranks AS (
  SELECT key, MAX(CASE WHEN rank = (n + 1) / 2 THEN wait END) AS p50,
    MAX(CASE WHEN rank = (9 * n + 9) / 10 THEN wait END) AS p90
  FROM waits GROUP BY key
),
service_ranks AS (
  SELECT key, MAX(CASE WHEN rank = (9 * n + 9) / 10 THEN service END) AS p90
  FROM services GROUP BY key
),
counts AS (
  SELECT key, COUNT(*) AS issued, SUM(status = 'done') AS served,
    SUM(status = 'no_show') AS no_show, SUM(status = 'cancelled') AS cancelled,
    SUM(status = 'expired') AS expired, SUM(moved) AS transferred,
    AVG(wait) AS wait_avg, MAX(wait) AS wait_max, AVG(service) AS service_avg,
    AVG(CASE WHEN wait IS NOT NULL THEN wait <= target END) AS within_target
  FROM base GROUP BY key
)
SELECT c.*, w.p50 AS wait_p50, w.p90 AS wait_p90, s.p90 AS service_p90
FROM counts c LEFT JOIN wait_ranks w ON w.key = c.key LEFT JOIN service_ranks s ON s.key = c.key
"""
APPOINTMENTS_SQL = """
SELECT COALESCE({key}, '') AS key, SUM(a.status <> 'cancelled') AS booked,
  SUM(a.status = 'checked_in') AS checked_in, SUM(a.status = 'missed') AS missed
FROM appointments a LEFT JOIN tickets t ON t.id = a.ticket_id
  LEFT JOIN desks ad ON ad.id = t.desk_id
WHERE a.day BETWEEN :start AND :end AND (:office IS NULL OR a.office = :office)
GROUP BY 1
"""
PEAKS_SQL = """
SELECT {key} AS key, MAX(p.peak) AS peak FROM occupancy_peaks p
WHERE p.day BETWEEN :start AND :end GROUP BY 1
"""


class Stats(TypedDict):
    """The contract's answer: the range, the grouping, the totals and one row per key."""

    start: str
    end: str
    group: Group
    totals: dict[str, Any]
    rows: list[dict[str, Any]]


def check_range(start: date, end: date) -> None:
    if end < start:
        raise InvalidInput(_l("to must not be before from."))
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(_l("The range may span at most %(n)s days.", n=MAX_DAYS))


def _seconds(value: float | None) -> int | None:
    return None if value is None else round(value)


def _metrics(ticket: Any, booked: Any, peak: int | None) -> dict[str, Any]:
    """One row's metrics from its tickets' row, its appointments' row and its peak."""
    share = None if ticket is None else ticket["within_target"]
    return {
        "issued": ticket["issued"] if ticket else 0,
        "served": ticket["served"] if ticket else 0,
        "no_show": ticket["no_show"] if ticket else 0,
        "cancelled": ticket["cancelled"] if ticket else 0,
        "expired": ticket["expired"] if ticket else 0,
        "transferred": ticket["transferred"] if ticket else 0,
        "wait_avg_s": _seconds(ticket["wait_avg"]) if ticket else None,
        "wait_p50_s": _seconds(ticket["wait_p50"]) if ticket else None,
        "wait_p90_s": _seconds(ticket["wait_p90"]) if ticket else None,
        "wait_max_s": _seconds(ticket["wait_max"]) if ticket else None,
        "service_avg_s": _seconds(ticket["service_avg"]) if ticket else None,
        "service_p90_s": _seconds(ticket["service_p90"]) if ticket else None,
        "within_target": None if share is None else round(float(share), 4),
        "peak_inside": peak,
        "appointments_booked": booked["booked"] if booked else 0,
        "appointments_checked_in": booked["checked_in"] if booked else 0,
        "appointments_missed": booked["missed"] if booked else 0,
    }


def _by_key(db: Database, sql: str, params: dict[str, Any]) -> dict[Any, Any]:
    return {row["key"]: row for row in db.execute(sql, params).fetchall()}


def _order(db: Database, group: Group, keys: set[Any]) -> list[Any]:
    """The keys in the order a reader expects: by time, weekday, the offices' and the
    desks' own order; the tickets with no desk (never called) last."""
    if group == "office":
        order = {code: n for n, code in enumerate(office_codes(db))}
        return sorted(keys, key=lambda key: order.get(key, len(order)))
    if group == "desk":
        rows = db.execute("SELECT name FROM desks ORDER BY position, id").fetchall()
        order = {row[0]: n for n, row in enumerate(rows)}
        return sorted(keys, key=lambda key: order.get(key, len(order)))
    if group == "weekday":
        return sorted(keys, key=lambda day: (int(day) + 6) % 7)  # Monday first
    return sorted(keys)


def _shown(group: Group, key: Any) -> Any:
    if key == "":
        return None
    if group == "weekday":
        return WEEKDAYS[int(key)]
    return key


def compute(
    db: Database, start: date, end: date, office: str | None = None, group: Group = "day"
) -> Stats:
    """The statistics of the local days ``start`` to ``end`` (both included)."""
    check_range(start, end)
    if group not in GROUPS:
        raise InvalidInput(_l("group must be one of: %(groups)s.", groups=", ".join(GROUPS)))
    if office is not None and office not in office_codes(db):
        raise UnknownOffice()
    params = {"start": start.isoformat(), "end": end.isoformat(), "office": office}
    ticket_key, booking_key, peak_key = KEYS[group]
    tickets = _by_key(db, TICKETS_SQL.format(key=ticket_key), params)
    bookings = _by_key(db, APPOINTMENTS_SQL.format(key=booking_key), params)
    peaks = _by_key(db, PEAKS_SQL.format(key=peak_key), params) if peak_key else {}
    rows = []
    for key in _order(db, group, set(tickets) | set(bookings) | set(peaks)):
        peak = peaks.get(key)
        row = _metrics(tickets.get(key), bookings.get(key), peak["peak"] if peak else None)
        rows.append({"key": _shown(group, key), **row})
    whole = _by_key(db, TICKETS_SQL.format(key="'*'"), params).get("*")
    booked = _by_key(db, APPOINTMENTS_SQL.format(key="'*'"), params).get("*")
    peak = _by_key(db, PEAKS_SQL.format(key="'*'"), params).get("*")
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group": group,
        "totals": _metrics(whole, booked, peak["peak"] if peak else None),
        "rows": rows,
    }


def as_contract(stats: Stats) -> dict[str, Any]:
    """The JSON answer of the contract (``from`` and ``to`` are Python keywords here)."""
    return {
        "from": stats["start"],
        "to": stats["end"],
        "group": stats["group"],
        "totals": stats["totals"],
        "rows": stats["rows"],
    }
