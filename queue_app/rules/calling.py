"""The calling order, in one place, and what it tells each ticket.

The order itself (``WAITING_SQL`` and ``ORDER_SQL``: classes, an office's interleaving of
priority tickets, then oldest first), the queue of one desk
(``DESK_QUEUE_SQL``, which call-next takes the head of), each waiting ticket's place and
estimated wait, and the ticket object of the contract that carries them.
"""

import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal, NamedTuple, overload

from sqlite_utils import Database

from queue_app.clock import local_day, local_iso, stamp
from queue_app.rules.types import DisplayTicket, PublicTicket, Ticket

# Calling order, in one place. Classes: urgent (0), appointments whose time has come (1),
# priority (2), the rest (3); oldest first within a class. ``:due`` is now + 5 minutes,
# since an appointment counts as due from 5 minutes before its booked time.
CLASS_SQL = (
    "CASE WHEN t.kind = 'urgent' THEN 0"
    " WHEN t.kind = 'appointment' AND t.appointment_at <= :due THEN 1"
    " WHEN t.priority THEN 2 ELSE 3 END"
)
APPOINTMENT_DUE_BEFORE = timedelta(minutes=5)

# An office's priority_every N > 0 (contract v2) interleaves its priority tickets and the
# rest: after N priority calls in a row while others wait (its priority_streak), the oldest
# of the rest is next. So the waiting tickets of an office are numbered within their class
# (nth, from 0); the priority ones fall into rounds of N (the first round holds what is left
# of the current streak), and the k-th of the rest is promoted to the end of round k while
# priority tickets remain after it. WAITING_SQL gives each waiting ticket those numbers;
# ORDER_SQL sorts them: urgent, due appointments, then round by round (its priority tickets
# oldest first, then its promoted one), then the rest oldest first. With N = 0 (the default)
# nobody is promoted: priority first, the rest after.
WAITING_SQL = f"""
SELECT t.*, d.name AS desk_name, {CLASS_SQL} AS class,
  ROW_NUMBER() OVER (PARTITION BY t.office, {CLASS_SQL} ORDER BY t.issued_at, t.id) - 1 AS nth,
  SUM({CLASS_SQL} = 2) OVER (PARTITION BY t.office) AS priorities,
  o.priority_every AS every, MAX(o.priority_every - o.priority_streak, 0) AS first
FROM tickets t JOIN offices o ON o.code = t.office LEFT JOIN desks d ON d.id = t.desk_id
WHERE t.status = 'waiting' AND {{where}}
"""
PROMOTED_SQL = "(w.class = 3 AND w.every > 0 AND w.priorities > w.first + w.nth * w.every)"
ORDER_SQL = (
    f"CASE WHEN w.class = 3 AND NOT {PROMOTED_SQL} THEN 3 ELSE MIN(w.class, 2) END,"
    " CASE WHEN w.class = 2 AND w.every > 0 AND w.nth >= w.first"
    " THEN 1 + (w.nth - w.first) / w.every"
    f" WHEN {PROMOTED_SQL} THEN w.nth ELSE 0 END,"
    " w.class = 3, w.issued_at, w.id"
)

SELECT_TICKETS = (
    "SELECT t.*, d.name AS desk_name FROM tickets t LEFT JOIN desks d ON d.id = t.desk_id"
)

# The waiting tickets a desk would call, across every office it serves, in calling order:
# call-next takes the first, and the desk's queue lists them all. One query, one order.
DESK_QUEUE_SQL = (
    "WITH w AS ("
    + WAITING_SQL.format(
        where="t.office IN (SELECT office FROM desk_offices WHERE desk_id = :desk)"
    )
    + f") SELECT * FROM w ORDER BY {ORDER_SQL}"
)


# How long one finished ticket took to serve, in seconds: from its start, or from its call
# when it was never started (the statistics' service time). To the millisecond: a Julian
# day's double carries some 40 microseconds of noise, which would put a wait of exactly the
# target just over it.
SERVICE_SECONDS_SQL = (
    "ROUND((julianday(finished_at) - julianday(COALESCE(started_at, called_at))) * 86400.0, 3)"
)
# How long a ticket waited for its first call, called at the instant given as the parameter.
WAIT_SECONDS_SQL = "ROUND((julianday(?) - julianday(issued_at)) * 86400.0, 3)"

# What a display may see of a ticket: a code, an office and a desk, nothing personal
# (``for_display``).
DISPLAY_FIELDS = tuple(DisplayTicket.__annotations__)


def due_cutoff(now: datetime) -> str:
    """The ``:due`` parameter of ``CLASS_SQL`` for the instant ``now``."""
    return stamp(now + APPOINTMENT_DUE_BEFORE)


def _placeholders(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


def positions(db: Database, offices: Sequence[str], now: datetime) -> dict[int, int]:
    """People ahead of each waiting ticket in its office's queue: ``{ticket_id: n}``."""
    if not offices:
        return {}
    within = f"t.office IN ({', '.join(':o%d' % i for i in range(len(offices)))})"
    sql = (
        f"WITH w AS ({WAITING_SQL.format(where=within)})"
        f" SELECT w.id, ROW_NUMBER() OVER (PARTITION BY w.office ORDER BY {ORDER_SQL}) - 1 FROM w"
    )
    params = {"due": due_cutoff(now)}
    params.update({"o%d" % i: office for i, office in enumerate(offices)})
    ahead: dict[int, int] = dict(db.execute(sql, params).fetchall())
    return ahead


# A desk counts as staffed for the estimates when it is not paused and a desk page is open
# at it (refreshed by its server process, live/presence.py) or it acted in the last minutes.
PAGE_FRESH = timedelta(seconds=90)
ACTED_LATELY = timedelta(minutes=10)
# How much the newest desk time weighs in an office's recent mean (exponentially weighted).
RECENT_WEIGHT = 0.3
# How long one ticket keeps a desk, in seconds, from its call to its end (the walk to the
# desk, the service, or the wait for a no-show): what paces a queue.
DESK_SECONDS_SQL = "ROUND((julianday(finished_at) - julianday(called_at)) * 86400.0, 3)"

STAFFED_SQL = """
SELECT o.office, d.id,
  (SELECT t.called_at FROM tickets t WHERE t.desk_id = d.id
    AND t.status IN ('called', 'serving')) AS busy_since
FROM desk_offices o JOIN desks d ON d.id = o.desk_id
WHERE d.paused = 0 AND o.office IN ({marks}) AND (
  EXISTS (SELECT 1 FROM desk_presence p WHERE p.desk_id = d.id AND p.seen_at >= ?)
  OR (SELECT e.at FROM events e WHERE e.desk_id = d.id ORDER BY e.seq DESC LIMIT 1) >= ?)
"""


class Pace(NamedTuple):
    """How fast an office's queue moves now: its recent desk time per ticket, and in how
    many seconds each of its staffed desks will be free (0: free now)."""

    seconds: float
    free_in: list[float]

    def wait(self, ahead: int) -> int | None:
        """The wait of a ticket with ``ahead`` people before it: each staffed desk takes
        the next one as it comes free, one every ``seconds``; None with no staffed desk."""
        if not self.free_in:
            return None
        free = sorted(self.free_in)
        rounds, desk = divmod(ahead, len(free))
        return round(free[desk] + rounds * self.seconds)


def paces(db: Database, offices: Sequence[str], now: datetime) -> dict[str, Pace]:
    """For each office, its ``Pace``. The desk time is today's recent mean (weighted towards
    the newest, ``recent_desk_s``), else the office's default service time; a desk serving
    someone is free once that mean has passed since the call (at once if it has already)."""
    if not offices:
        return {}
    marks = _placeholders(offices)
    seconds: dict[str, float] = {
        row[0]: float(row[1] if row[1] is not None else row[2])
        for row in db.execute(
            f"SELECT o.code, s.recent_s, o.default_service_s FROM offices o"
            f" LEFT JOIN service_times s ON s.office = o.code AND s.day = ?"
            f" WHERE o.code IN ({marks})",
            [local_day(now), *offices],
        )
    }
    free_in: dict[str, list[float]] = {office: [] for office in seconds}
    for office, _desk, busy_since in db.execute(
        STAFFED_SQL.format(marks=marks),
        [*offices, stamp(now - PAGE_FRESH), stamp(now - ACTED_LATELY)],
    ):
        left = 0.0
        if busy_since is not None:
            elapsed = (now - datetime.fromisoformat(busy_since)).total_seconds()
            left = max(seconds[office] - elapsed, 0.0)
        free_in[office].append(left)
    return {office: Pace(seconds[office], free_in[office]) for office in seconds}


def count_desk_time(db: Database, ticket_id: int, now: datetime) -> None:
    """Inside the transaction that ends a called ticket: its desk time goes into today's
    recent mean of its office (``service_times.recent_s``)."""
    db.execute(
        "INSERT INTO service_times (day, office, served, total_s, recent_s)"
        f" SELECT ?, office, 0, 0, {DESK_SECONDS_SQL} FROM tickets"
        " WHERE id = ? AND called_at IS NOT NULL"
        " ON CONFLICT(day, office) DO UPDATE SET recent_s = CASE WHEN recent_s IS NULL"
        f" THEN excluded.recent_s ELSE {RECENT_WEIGHT} * excluded.recent_s"
        f" + {1 - RECENT_WEIGHT} * recent_s END",
        [local_day(now), ticket_id],
    )


@overload
def describe(
    db: Database, rows: Sequence[sqlite3.Row], now: datetime, public: Literal[False] = False
) -> list[Ticket]: ...
@overload
def describe(
    db: Database, rows: Sequence[sqlite3.Row], now: datetime, public: Literal[True]
) -> list[PublicTicket]: ...


def describe(
    db: Database, rows: Sequence[sqlite3.Row], now: datetime, public: bool = False
) -> Sequence[PublicTicket]:
    """Turn ticket rows (from ``SELECT_TICKETS``) into the contract's ticket objects; without
    their ids when ``public``."""
    waiting_offices = sorted({row["office"] for row in rows if row["status"] == "waiting"})
    ahead = positions(db, waiting_offices, now)
    pace = paces(db, waiting_offices, now)
    tickets: list[PublicTicket] = []
    for row in rows:
        position = ahead.get(row["id"]) if row["status"] == "waiting" else None
        estimate = None
        if position is not None and row["office"] in pace:
            estimate = pace[row["office"]].wait(position)
        ticket: PublicTicket = {
            "code": row["code"],
            "office": row["office"],
            "number": row["number"],
            "kind": row["kind"],
            "priority": bool(row["priority"]),
            "party_size": row["party_size"],
            "status": row["status"],
            "desk": row["desk_name"],
            "issued_at": local_iso(row["issued_at"]),
            "called_at": local_iso(row["called_at"]),
            "started_at": local_iso(row["started_at"]),
            "finished_at": local_iso(row["finished_at"]),
            "appointment_at": local_iso(row["appointment_at"]),
            "recalls": row["recalls"],
            "position": position,
            "estimated_wait_s": estimate,
            "token": row["token"],
        }
        if public:
            tickets.append(ticket)
        else:
            with_id: Ticket = {"id": row["id"], **ticket}
            tickets.append(with_id)
    return tickets


def load(db: Database, ticket_id: int, now: datetime) -> Ticket | None:
    """One ticket by id as a contract object, or None."""
    rows = db.execute(f"{SELECT_TICKETS} WHERE t.id = ?", [ticket_id]).fetchall()
    return describe(db, rows, now)[0] if rows else None


def load_written(db: Database, ticket_id: int, now: datetime) -> Ticket:
    """A ticket the caller's transaction has just written (so it exists), as ``load``."""
    ticket = load(db, ticket_id, now)
    assert ticket is not None, f"ticket {ticket_id} was just written"
    return ticket


def for_display(ticket: PublicTicket) -> DisplayTicket:
    """The part of a ticket a display may show."""
    return {
        "code": ticket["code"],
        "office": ticket["office"],
        "number": ticket["number"],
        "status": ticket["status"],
        "desk": ticket["desk"],
        "called_at": ticket["called_at"],
        "recalls": ticket["recalls"],
    }
