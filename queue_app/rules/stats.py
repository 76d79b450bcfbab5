"""Statistics of the service over a range of local days (contract v2, "Statistics"):
counts, waits, service times, the share served within the office's target, the building's
peak, appointments and the queue outside the door (who waited outside for room, and for how
long until let in), grouped by day, hour, weekday, office or desk.

Computed in SQL: over the tickets (their first call, kept on the ticket since a transfer
clears ``called_at``), the appointments and the building's peak per local hour
(``occupancy_peaks``), never by loading rows into Python. The definitions, and what the
contract leaves open, are in ``docs/stats.md``.

Percentiles are nearest-rank: the p-th of n values is the ceil(p * n)-th smallest. A short
range ranks its few tickets with a window function. A long one (a year holds some 150,000
tickets) instead walks an index that keeps each key's durations in order (migration m009)
and skips straight to the wanted rank, one query per key and percentile: no sort of the
whole range. Both ways give the same value (tested). The waits outside are few (only when
the building was full) and always ranked, over the index of the tickets let in (m016).
"""

import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal, TypedDict

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.rules.errors import InvalidInput, UnknownOffice
from queue_app.rules.offices import codes as office_codes

Group = Literal["day", "hour", "weekday", "office", "desk"]
GROUPS: tuple[Group, ...] = ("day", "hour", "weekday", "office", "desk")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # SQLite's %w order
MAX_DAYS = 2 * 366
# Up to this many tickets in the range, ranking them is cheaper than walking the indexes.
WINDOW_ROWS = 8000
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
    "waited_outside",
    "outside_wait_avg_s",
    "outside_wait_p50_s",
    "outside_wait_p90_s",
    "outside_wait_max_s",
)
WEEKDAY_SQL = "CAST(strftime('%w', {day}) AS INTEGER)"  # the same expression as m009's index


@dataclass(frozen=True)
class Key:
    """Where a grouping's key is: on a ticket (t), on a closed day's sums (r), on an
    appointment (a, with its ticket t), on an hour's peak (p; None: the peaks are the
    building's, not an office's or a desk's), and the suffix of the indexes that keep each
    key's durations in order."""

    ticket: str
    closed: str
    booking: str
    peak: str | None
    index: str


KEYS: dict[Group, Key] = {
    "day": Key("t.day", "r.day", "a.day", "p.day", "by_day"),
    "hour": Key("t.issued_hour", "r.hour", "a.hour", "p.hour", "by_hour"),
    "weekday": Key(
        WEEKDAY_SQL.format(day="t.day"),
        WEEKDAY_SQL.format(day="r.day"),
        WEEKDAY_SQL.format(day="a.day"),
        WEEKDAY_SQL.format(day="p.day"),
        "by_weekday",
    ),
    "office": Key("t.office", "r.office", "a.office", None, "by_office"),
    "desk": Key("t.desk_id", "NULLIF(r.desk_id, 0)", "t.desk_id", None, "by_desk"),
}
TOTAL = Key("'*'", "'*'", "'*'", "'*'", "all")
# A wait outside: from issue to admission, of a ticket let in from outside (``outside.py``).
OUTSIDE_WAIT_SQL = "(julianday(t.admitted_at) - julianday(t.issued_at)) * 86400.0"
# What each measure ranks: its value, and which tickets have one.
RANKED: dict[str, tuple[str, str]] = {
    "wait": ("t.wait_s", "t.wait_s IS NOT NULL"),
    "service": ("t.service_s", "t.service_s IS NOT NULL"),
    "outside_wait": (OUTSIDE_WAIT_SQL, "t.admitted_at IS NOT NULL"),
}
IN_RANGE = "t.day BETWEEN :start AND :end AND (:office IS NULL OR t.office = :office)"

# What adds up from tickets to a closed day's sums, and from rows to totals: the counts and
# sums of a set of tickets (t, with its office o). ``within`` is measured against the
# office's target as it is when the day's sums are made (for a closed day: as it was then).
ADDED: tuple[str, ...] = ("issued", "served", "no_show", "cancelled", "expired")
ADDED += ("transferred", "waited", "wait_sum", "within", "serviced", "service_sum")
ADDED += ("waited_outside", "admitted", "outside_wait_sum")
# What adds up by taking the largest.
MAXED: tuple[str, ...] = ("wait_max", "outside_wait_max")
SUMS_SQL = f"""COUNT(*) AS issued, SUM(t.status = 'done') AS served,
  SUM(t.status = 'no_show') AS no_show, SUM(t.status = 'cancelled') AS cancelled,
  SUM(t.status = 'expired') AS expired, SUM(t.office <> t.issued_office) AS transferred,
  COUNT(t.wait_s) AS waited, SUM(t.wait_s) AS wait_sum, MAX(t.wait_s) AS wait_max,
  SUM(t.wait_s <= o.target_wait_s) AS within,
  COUNT(t.service_s) AS serviced, SUM(t.service_s) AS service_sum,
  SUM(t.outside) AS waited_outside, COUNT(t.admitted_at) AS admitted,
  SUM({OUTSIDE_WAIT_SQL}) AS outside_wait_sum, MAX({OUTSIDE_WAIT_SQL}) AS outside_wait_max"""
# The days of the range whose tickets are read one by one: those not closed yet (today).
COUNTS_SQL = f"""
SELECT {{key}} AS key, {SUMS_SQL}
FROM tickets t JOIN offices o ON o.code = t.office
WHERE t.day IN (SELECT value FROM json_each(:open_days)) AND {IN_RANGE}
GROUP BY 1
"""
CLOSED_SQL = f"""
SELECT {{key}} AS key, {", ".join(f"SUM(r.{name}) AS {name}" for name in ADDED)},
  {", ".join(f"MAX(r.{name}) AS {name}" for name in MAXED)}
FROM stats_days r
WHERE r.day BETWEEN :start AND :end AND (:office IS NULL OR r.office = :office)
GROUP BY 1
"""
CLOSE_SQL = f"""
INSERT INTO stats_days (day, office, desk_id, hour, {", ".join(ADDED + MAXED)})
SELECT t.day, t.office, COALESCE(t.desk_id, 0), t.issued_hour, {", ".join(ADDED + MAXED)}
FROM (
  SELECT t.day, t.office, t.desk_id, t.issued_hour, {SUMS_SQL}
  FROM tickets t JOIN offices o ON o.code = t.office
  WHERE t.day IN (SELECT value FROM json_each(:days))
  GROUP BY t.day, t.office, t.desk_id, t.issued_hour
) AS t
"""
RANKED_SQL = f"""
SELECT key, MAX(CASE WHEN rank = (n + 1) / 2 THEN value END) AS p50,
  MAX(CASE WHEN rank = (9 * n + 9) / 10 THEN value END) AS p90
FROM (
  SELECT {{key}} AS key, {{value}} AS value,
    ROW_NUMBER() OVER (PARTITION BY {{key}} ORDER BY {{value}}) AS rank,
    COUNT(*) OVER (PARTITION BY {{key}}) AS n
  FROM tickets t WHERE {{measured}} AND {IN_RANGE}
)
GROUP BY key
"""
WALK_SQL = f"""
SELECT t.{{measure}} FROM tickets t INDEXED BY tickets_{{measure}}_{{index}}
WHERE t.{{measure}} IS NOT NULL AND {{key}} IS :key AND {IN_RANGE}
ORDER BY t.{{measure}} LIMIT 1 OFFSET :skip
"""
APPOINTMENTS_SQL = """
SELECT {key} AS key, SUM(a.status <> 'cancelled') AS booked,
  SUM(a.status = 'checked_in') AS checked_in, SUM(a.status = 'missed') AS missed
FROM appointments a LEFT JOIN tickets t ON t.id = a.ticket_id
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


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _metrics(
    counts: dict[str, Any] | None, ranks: dict[str, Any], booked: Any, peak: Any
) -> dict[str, Any]:
    """One row's metrics from its tickets' counts, its percentiles, its appointments and its
    peak (each None where the row has none)."""
    c: dict[str, Any] = counts or dict.fromkeys(ADDED, 0) | dict.fromkeys(MAXED)
    return {
        "issued": c["issued"],
        "served": c["served"],
        "no_show": c["no_show"],
        "cancelled": c["cancelled"],
        "expired": c["expired"],
        "transferred": c["transferred"],
        "wait_avg_s": _seconds(c["wait_sum"] / c["waited"]) if c["waited"] else None,
        "wait_p50_s": _seconds(ranks.get("wait_p50")),
        "wait_p90_s": _seconds(ranks.get("wait_p90")),
        "wait_max_s": _seconds(c["wait_max"]),
        "service_avg_s": _seconds(c["service_sum"] / c["serviced"]) if c["serviced"] else None,
        "service_p90_s": _seconds(ranks.get("service_p90")),
        "within_target": _share(c["within"], c["waited"]),
        "peak_inside": peak["peak"] if peak else None,
        "appointments_booked": booked["booked"] if booked else 0,
        "appointments_checked_in": booked["checked_in"] if booked else 0,
        "appointments_missed": booked["missed"] if booked else 0,
        "waited_outside": c["waited_outside"],
        "outside_wait_avg_s": (
            _seconds(c["outside_wait_sum"] / c["admitted"]) if c["admitted"] else None
        ),
        "outside_wait_p50_s": _seconds(ranks.get("outside_wait_p50")),
        "outside_wait_p90_s": _seconds(ranks.get("outside_wait_p90")),
        "outside_wait_max_s": _seconds(c["outside_wait_max"]),
    }


def _by_key(db: Database, sql: str, params: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [column[0] for column in cursor.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}


def _ranked(
    db: Database, key: Key, counts: dict[Any, dict[str, Any]], params: dict[str, Any]
) -> dict[Any, dict[str, Any]]:
    """Each key's wait p50 and p90, service p90 and outside wait p50 and p90, by the way
    that costs less."""
    ranks: dict[Any, dict[str, Any]] = {name: {} for name in counts}
    few = sum(row["issued"] for row in counts.values()) <= WINDOW_ROWS
    for prefix, (value, measured) in RANKED.items():
        if prefix == "outside_wait" or few:
            sql = RANKED_SQL.format(key=key.ticket, value=value, measured=measured)
            for name, row in _by_key(db, sql, params).items():
                ranks[name] |= {f"{prefix}_p50": row["p50"], f"{prefix}_p90": row["p90"]}
    if few:
        return ranks
    for measure, counted, wanted in (
        ("wait_s", "waited", ((1, 2), (9, 10))),
        ("service_s", "serviced", ((9, 10),)),
    ):
        sql = WALK_SQL.format(measure=measure, index=key.index, key=key.ticket)
        for name, row in counts.items():
            n = row[counted]
            for share, of in wanted if n else ():
                skip = (share * n + of - 1) // of - 1  # ceil(share * n) - 1 smaller ones
                found = db.execute(sql, params | {"key": name, "skip": skip}).fetchone()
                ranks[name][f"{measure.removesuffix('_s')}_p{100 * share // of}"] = found[0]
    return ranks


def _order(db: Database, group: Group, keys: set[Any]) -> list[Any]:
    """The keys in the order a reader expects: by time, weekday, the offices' and the
    desks' own order; the tickets with no desk (never called) last."""
    if group in ("office", "desk"):
        ordered = (
            office_codes(db)
            if group == "office"
            else [row[0] for row in db.execute("SELECT id FROM desks ORDER BY position, id")]
        )
        order = {name: n for n, name in enumerate(ordered)}
        return sorted(keys, key=lambda key: order.get(key, len(order)))
    if group == "weekday":
        return sorted(keys, key=lambda day: (int(day) + 6) % 7)  # Monday first
    return sorted(keys)


def _shown(db: Database, group: Group, key: Any) -> Any:
    if key is None:
        return None
    if group == "weekday":
        return WEEKDAYS[int(key)]
    if group == "desk":
        return db.execute("SELECT name FROM desks WHERE id = ?", [key]).fetchone()[0]
    return key


def _added(rows: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, Any] | None:
    """The rows' values added up, name by name (None when there are no rows)."""
    return {name: sum(row[name] or 0 for row in rows) for name in names} if rows else None


def _largest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows' largest values of ``MAXED``, name by name (None where none has one)."""
    return {
        name: max((row[name] for row in rows if row[name] is not None), default=None)
        for name in MAXED
    }


def _counts(
    db: Database, key: Key, start: date, end: date, params: dict[str, Any]
) -> dict[Any, dict[str, Any]]:
    """Each key's counts and sums: the closed days' from their sums (``close_days``), the
    others' (today) from their tickets."""
    closed = {
        row[0]
        for row in db.execute(
            "SELECT DISTINCT day FROM stats_days WHERE day BETWEEN :start AND :end", params
        )
    }
    days = (start + timedelta(days=n) for n in range((end - start).days + 1))
    still_open = json.dumps([day.isoformat() for day in days if day.isoformat() not in closed])
    counts = _by_key(db, COUNTS_SQL.format(key=key.ticket), params | {"open_days": still_open})
    if not closed:
        return counts
    for name, row in _by_key(db, CLOSED_SQL.format(key=key.closed), params).items():
        if name not in counts:
            counts[name] = row
            continue
        both = [counts[name], row]
        counts[name] = (_added(both, ADDED) or {}) | _largest(both)
    return counts


def close_days(db: Database, today: str) -> None:
    """Inside a transaction: add up every day before ``today`` not added up yet (its
    tickets are final once it closed) into its sums, read instead of its tickets from then
    on. A day from ``today`` on is open again (a clock that ran ahead was put back)."""
    db.execute("DELETE FROM stats_days WHERE day >= ?", [today])
    days = [
        row[0]
        for row in db.execute(
            "SELECT DISTINCT day FROM tickets WHERE day < ?"
            " AND day NOT IN (SELECT DISTINCT day FROM stats_days)",
            [today],
        )
    ]
    if days:
        db.execute(CLOSE_SQL, {"days": json.dumps(days)})


def _totals(
    db: Database,
    counts: dict[Any, dict[str, Any]],
    bookings: dict[Any, dict[str, Any]],
    peaks: dict[Any, dict[str, Any]] | None,
    params: dict[str, Any],
) -> dict[str, Any]:
    """The whole range's metrics. Every ticket and appointment is in exactly one row of any
    grouping, so their counts and sums are the rows' added up (no second pass over them);
    the percentiles and, for the groupings without a peak, the building's peak are read."""
    whole = _added(list(counts.values()), ADDED)
    if whole is not None:
        whole |= _largest(list(counts.values()))
    ranks = _ranked(db, TOTAL, {"*": whole} if whole else {}, params).get("*", {})
    if peaks is None:
        peaks = _by_key(db, PEAKS_SQL.format(key=TOTAL.peak), params)
    peak = max((row["peak"] for row in peaks.values()), default=None)
    booked = _added(list(bookings.values()), ("booked", "checked_in", "missed"))
    return _metrics(whole, ranks, booked, None if peak is None else {"peak": peak})


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
    key = KEYS[group]
    counts = _counts(db, key, start, end, params)
    ranks = _ranked(db, key, counts, params)
    bookings = _by_key(db, APPOINTMENTS_SQL.format(key=key.booking), params)
    peaks = _by_key(db, PEAKS_SQL.format(key=key.peak), params) if key.peak else None
    rows = [
        {
            "key": _shown(db, group, name),
            **_metrics(
                counts.get(name), ranks.get(name, {}), bookings.get(name), (peaks or {}).get(name)
            ),
        }
        for name in _order(db, group, set(counts) | set(bookings) | set(peaks or {}))
    ]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "group": group,
        "totals": _totals(db, counts, bookings, peaks, params),
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
