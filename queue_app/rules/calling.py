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


# The order without ranking the queue (contract v2, issue 15): issue, call-next and every
# citizen's place cost the same at 5000 waiting as at 10. Each office's waiting tickets are
# counted per priority flag (``queue_sizes``) and per minute of issue (``queue_minutes``),
# both kept by triggers (m015); the few urgent and appointment tickets are read whole (their
# class depends on the clock); and a ticket's rank within its lane (priority or not, oldest
# first) is the sum of the minutes before its own plus a count within its minute
# (``LANE_RANK_SQL``). The class and round rules of ORDER_SQL then give the place:
# ``DESK_QUEUE_SQL`` remains the definition (the desk's list), and the tests check that both
# always agree.
LANE_SQL = "SELECT {what} FROM tickets WHERE status = 'waiting' AND office = ? AND priority = ?"


class Special(NamedTuple):
    """A waiting urgent or appointment ticket: its class and its place in its lane."""

    cls: int
    key: tuple[str, int]  # (issued_at, id): oldest first
    priority: int


class Queue(NamedTuple):
    """What an office's calling order needs besides one ticket's rank in its lane."""

    lanes: dict[int, int]  # priority flag -> tickets waiting (queue_sizes)
    specials: list[Special]  # oldest first
    every: int
    first: int  # the priority calls left in the current round

    def in_class(self, cls: int) -> int:
        """How many wait in class ``cls``."""
        if cls < 2:
            return sum(1 for special in self.specials if special.cls == cls)
        flag = int(cls == 2)
        ahead = sum(1 for s in self.specials if s.cls < 2 and s.priority == flag)
        return self.lanes.get(flag, 0) - ahead

    def order_key(self, cls: int, nth: int, key: tuple[str, int]) -> tuple[int, int, int, str, int]:
        """ORDER_SQL's sort key of the ``nth`` ticket (from 0) of class ``cls``."""
        if cls < 2:
            return (cls, 0, 0, *key)
        if cls == 2:
            late = self.every > 0 and nth >= self.first
            return (2, 1 + (nth - self.first) // self.every if late else 0, 0, *key)
        if self.every > 0 and self.in_class(2) > self.first + nth * self.every:
            return (2, nth, 1, *key)  # promoted to the end of round nth
        return (3, 0, 1, *key)

    def place(self, cls: int, nth: int) -> int:
        """People ahead of the ``nth`` ticket (from 0) of class ``cls``."""
        urgent = self.in_class(0)
        if cls < 2:
            return nth + (urgent if cls == 1 else 0)
        before = urgent + self.in_class(1)
        if cls == 2:
            rounds = 0
            if self.every > 0 and nth >= self.first:
                rounds = min(1 + (nth - self.first) // self.every, self.in_class(3))
            return before + nth + rounds
        priorities = self.in_class(2)
        if self.every > 0:
            priorities = min(priorities, self.first + nth * self.every)
        return before + priorities + nth


def class_of(row: sqlite3.Row, due: str) -> int:
    """CLASS_SQL for one ticket row."""
    if row["kind"] == "urgent":
        return 0
    if row["kind"] == "appointment" and row["appointment_at"] is not None:
        if row["appointment_at"] <= due:
            return 1
    return 2 if row["priority"] else 3


def queues(db: Database, offices: Sequence[str], now: datetime) -> dict[str, Queue]:
    """Each office's ``Queue``: two short reads, whatever the length of the queue."""
    if not offices:
        return {}
    marks, due = _placeholders(offices), due_cutoff(now)
    lanes: dict[str, dict[int, int]] = {office: {} for office in offices}
    for office, flag, waiting in db.execute(
        f"SELECT office, priority, waiting FROM queue_sizes WHERE office IN ({marks})", offices
    ):
        lanes[office][flag] = waiting
    specials: dict[str, list[Special]] = {office: [] for office in offices}
    for row in db.execute(
        "SELECT id, office, kind, priority, appointment_at, issued_at FROM tickets"
        f" WHERE status = 'waiting' AND kind != 'walk_in' AND office IN ({marks})"
        " ORDER BY issued_at, id",
        offices,
    ):
        special = Special(class_of(row, due), (row["issued_at"], row["id"]), row["priority"])
        specials[row["office"]].append(special)
    return {
        row[0]: Queue(lanes[row[0]], specials[row[0]], row[1], max(row[1] - row[2], 0))
        for row in db.execute(
            f"SELECT code, priority_every, priority_streak FROM offices WHERE code IN ({marks})",
            offices,
        )
    }


# A ticket's rank in its lane: those waiting from the minutes before its own minute of
# issue (queue_minutes), and those of its own minute before it (an index range count of at
# most a minute's arrivals). Two short reads, however long the queue.
LANE_RANK_SQL = (
    "SELECT (SELECT COALESCE(SUM(waiting), 0) FROM queue_minutes WHERE office = :office"
    " AND priority = :flag AND minute < :minute) + (SELECT COUNT(*) FROM tickets"
    " WHERE status = 'waiting' AND office = :office AND priority = :flag"
    " AND issued_at >= :minute AND (issued_at, id) < (:issued_at, :id))"
)


def _lane_rank(db: Database, office: str, flag: int, key: tuple[str, int]) -> int:
    """The tickets of the lane (``office``, priority ``flag``) before the one of ``key``."""
    rank: int = db.execute(
        LANE_RANK_SQL,
        {"office": office, "flag": flag, "minute": key[0][:16], "issued_at": key[0], "id": key[1]},
    ).fetchone()[0]
    return rank


def places(db: Database, rows: Sequence[sqlite3.Row], now: datetime) -> dict[int, int]:
    """People ahead of each waiting ticket of ``rows`` in its office's queue:
    ``{ticket_id: n}``. Costs a few short reads per office and per ticket, not a read of the
    queue."""
    waiting = [row for row in rows if row["status"] == "waiting"]
    by_office = queues(db, sorted({row["office"] for row in waiting}), now)
    due = due_cutoff(now)
    ahead: dict[int, int] = {}
    for row in waiting:
        cls, key = class_of(row, due), (row["issued_at"], row["id"])
        queue = by_office[row["office"]]
        if cls < 2:
            nth = sum(1 for s in queue.specials if s.cls == cls and s.key < key)
        else:
            flag = int(cls == 2)
            # Urgent and due appointments of the lane are counted in it but go first.
            gone = sum(
                1 for s in queue.specials if s.cls < 2 and s.priority == flag and s.key < key
            )
            nth = _lane_rank(db, row["office"], flag, key) - gone
        ahead[row["id"]] = queue.place(cls, nth)
    return ahead


def _front(
    db: Database, office: str, queue: Queue, count: int
) -> list[tuple[tuple[int, int, int, str, int], int]]:
    """The first ``count`` waiting tickets of ``office`` in calling order, as (ORDER_SQL's
    sort key, id): from the urgent and due appointments and the oldest of each lane."""
    keyed = []
    seen = {0: 0, 1: 0}
    for special in queue.specials:
        if special.cls < 2:
            keyed.append(
                (queue.order_key(special.cls, seen[special.cls], special.key), special.key[1])
            )
            seen[special.cls] += 1
    first = {special.key[1] for special in queue.specials if special.cls < 2}
    for flag in (1, 0):
        nth = 0
        for issued_at, ticket_id in db.execute(
            LANE_SQL.format(what="issued_at, id") + " ORDER BY issued_at, id LIMIT ?",
            [office, flag, count + len(first)],
        ):
            if ticket_id not in first:  # counted in its lane, but called as urgent or due
                keyed.append((queue.order_key(3 - flag, nth, (issued_at, ticket_id)), ticket_id))
                nth += 1
    return sorted(keyed)[:count]


def front(db: Database, office: str, now: datetime, count: int) -> list[int]:
    """The ids of the first ``count`` waiting tickets of ``office``, in calling order."""
    queue = queues(db, [office], now).get(office)
    return [] if queue is None else [ticket_id for _, ticket_id in _front(db, office, queue, count)]


def head(db: Database, offices: Sequence[str], now: datetime) -> int | None:
    """The id of the ticket call-next gives a desk serving ``offices`` (the first of
    ``DESK_QUEUE_SQL``), from each office's own first; None when none waits."""
    firsts = [
        first
        for office, queue in queues(db, offices, now).items()
        for first in _front(db, office, queue, 1)
    ]
    return min(firsts)[1] if firsts else None


def waiting_count(db: Database, office: str) -> int:
    """How many wait in ``office`` (queue_sizes: no count of the queue)."""
    row = db.execute(
        "SELECT COALESCE(SUM(waiting), 0) FROM queue_sizes WHERE office = ?", [office]
    ).fetchone()
    waiting: int = row[0]
    return waiting


def outside_counts(db: Database, offices: Sequence[str] | None = None) -> dict[str, int]:
    """``{office: tickets waiting outside the building}`` for ``offices`` (all when None)."""
    counts = dict(
        db.execute(
            "SELECT office, COUNT(*) FROM tickets WHERE status = 'outside' GROUP BY office"
        ).fetchall()
    )
    if offices is None:
        return counts
    return {office: counts.get(office, 0) for office in offices}


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
    ahead = places(db, rows, now)
    pace = paces(db, waiting_offices, now)
    outside = outside_ahead(db, rows)
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
            # Outside the building for room is waiting too, with "outside": true.
            "status": "waiting" if row["status"] == "outside" else row["status"],
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
            "outside": row["status"] == "outside",
            "outside_ahead": outside.get(row["id"]),
        }
        if public:
            tickets.append(ticket)
        else:
            with_id: Ticket = {"id": row["id"], **ticket}
            tickets.append(with_id)
    return tickets


def outside_ahead(db: Database, rows: Sequence[sqlite3.Row]) -> dict[int, int]:
    """``{id: people waiting outside ahead of it}`` for the rows waiting outside."""
    return {
        row["id"]: db.execute(
            "SELECT COALESCE(SUM(party_size), 0) FROM tickets WHERE status = 'outside'"
            " AND (issued_at < ? OR (issued_at = ? AND id < ?))",
            [row["issued_at"], row["issued_at"], row["id"]],
        ).fetchone()[0]
        for row in rows
        if row["status"] == "outside"
    }


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
