"""How good are the wait estimates? A town-hall morning replayed through the HTTP API.

    .venv/bin/python bench/estimate_sim.py                 # seed 1, x100, a full morning
    .venv/bin/python bench/estimate_sim.py --seed 2 --speed 120 --scale 0.5

A real server (``run.py``, eventlet, ``tests/servers.Server``) on a fresh copy of the demo
town hall (``flask --app queue_app seed-demo``; API tokens from ``create-token``) runs
under libfaketime, its clock started just before 09:00 (Europe/Madrid) of the next working
day and sped up ``--speed`` times (``FAKETIME="@<start> x<speed>"``, monotonic clock left
alone, ``TZ=UTC``, as ``tests/test_appointment_browser.py`` starts its server). One
reception thread issues the day's tickets (``POST /api/v1/tickets``), one clerk thread per
desk calls, starts, finishes or gives up on them. Every ticket's ``estimated_wait_s`` at
issue is then compared with its actual wait, ``called_at - issued_at``, read back from
``GET /api/v1/tickets``: the mean absolute error (MAE) overall and by office, the median
absolute error, the bias (mean of estimate minus actual), the mean actual wait. Tickets
with a null estimate are left out of the errors and counted; so are those never called.

The day (all of it drawn up front from ``random.Random(--seed)``, so that the same seed
replays the same citizens and clerks; only the interleaving of requests varies, by a
fraction of a simulated second):

- Opening 09:00 to 14:00; then the door closes and the clerks serve whoever is still
  waiting (until 15:00 at most: tickets never called are reported).
- Arrivals: Poisson, by the hour, ``ARRIVALS_PER_HOUR`` (a morning peak at 10-12 h,
  about 290 citizens), times ``--scale``.
- Offices: OAC about half, OMIC, OFIM, HAB and ORGT the rest (``OFFICES``); 6 % priority
  tickets (elderly, pregnant, disabled); parties of 1 (85 %), 2 or 3.
- Service: lognormal per office, a median of 4.5 to 8 minutes; a citizen takes 15-60 s to
  walk to the desk after the call. No-shows: 4 % plus up to 10 % more for an hour's
  wait (they gave up); the clerk recalls after 1 minute and marks the no-show after 2.
- Desks "coming and going" (``STAFF``): the demo's desks Taulell 1-4 serve OAC, 5 OMIC,
  6 OFIM, 7 HAB, 8 ORGT, all open (not paused) in the morning, and:
  Taulell 1 all day; Taulell 2 leaves for a 30-minute break at 11:15 without pausing;
  Taulell 3 pauses properly 12:00-12:20; Taulell 4 is staffed only 10:30-13:30 (left open
  before and after); Taulell 5's clerk (OMIC, the office's only desk) comes in late at
  09:40; Taulell 6 is away 10:00-10:15 without pausing; Taulell 7 (HAB, its only desk)
  pauses for a meeting 12:30-13:00; Taulell 8 all day. The clerks of Taulell 6 and 8
  never press "start" (their service counts from the call), the others do.
- The building's limit is raised (admin token) so that nobody is turned away: the door is
  not what this measures.

The simulator keeps to the server's clock: its actions are planned in the server's local
time, and it sleeps ``simulated seconds / speed`` real seconds. It reads that clock from
the server's answers (the ``Date`` header to set itself, then every ticket's
``issued_at`` to check itself; the largest disagreement is reported) and never uses its
own wall-clock time of day. Not a test: it measures. The whole run takes about 3.5
minutes at x100 (3 minutes of simulated morning, the rest set-up and the last calls).
"""

import argparse
import csv
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from stats_bench import flask_command

from http_bench import Client, Failed, expect

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
TIMEZONE = "Europe/Madrid"

OPEN, CLOSE, LAST_CALL = "09:00", "14:00", "15:00"
# Citizens per hour at --scale 1 (the hour starting then), a morning peak at 10-12 h.
ARRIVALS_PER_HOUR = {9: 45, 10: 80, 11: 75, 12: 55, 13: 35}
# office: (share of the arrivals, median service seconds, sigma of the log of service)
OFFICES = {
    "OAC": (0.50, 300, 0.6),
    "OMIC": (0.08, 480, 0.5),
    "OFIM": (0.12, 360, 0.5),
    "HAB": (0.15, 270, 0.5),
    "ORGT": (0.15, 270, 0.5),
}
PRIORITY_SHARE = 0.06
PARTY_SIZES = ((1, 0.85), (2, 0.12), (3, 0.03))
SHORTEST_SERVICE_S = 45
WALK_S = (15, 60)  # from the call to the desk
NO_SHOW_BASE, NO_SHOW_PER_HOUR_WAITED = 0.04, 0.10
RECALL_AFTER_S, NO_SHOW_AFTER_S = 60, 120
IDLE_POLL_S = 30  # a clerk with nobody to call tries again after this (simulated)
BUILDING_LIMIT = 1000
# Real seconds between the server's start and 09:00 on its clock: its start-up (under a
# second here), setting the clock (at most CALIBRATION_REAL_S), raising the limit.
LEAD_REAL_S = 5.0
CALIBRATION_REAL_S = 1.0


@dataclass(frozen=True)
class Break:
    at: str  # "HH:MM", local
    minutes: int
    paused: bool  # True: the clerk pauses the desk (the server stops counting it as open)


@dataclass(frozen=True)
class Staff:
    desk: int
    office: str
    arrives: str
    leaves: str | None = None  # None: serves until the queue is empty after closing
    breaks: tuple[Break, ...] = ()
    presses_start: bool = True

    def describe(self):
        parts = [f"Taulell {self.desk} ({self.office}) from {self.arrives}"]
        parts.append(
            f"to {self.leaves} (desk left unpaused, page closed)" if self.leaves else "to closing"
        )
        for pause in self.breaks:
            how = "paused" if pause.paused else "NOT paused"
            parts.append(f"away {pause.at}+{pause.minutes}min ({how})")
        if not self.presses_start:
            parts.append("never presses start")
        return ", ".join(parts)


STAFF = (
    Staff(1, "OAC", "09:00"),
    Staff(2, "OAC", "09:00", breaks=(Break("11:15", 30, paused=False),)),
    Staff(3, "OAC", "09:00", breaks=(Break("12:00", 20, paused=True),)),
    Staff(4, "OAC", "10:30", leaves="13:30"),
    Staff(5, "OMIC", "09:40"),
    Staff(6, "OFIM", "09:00", breaks=(Break("10:00", 15, paused=False),), presses_start=False),
    Staff(7, "HAB", "09:00", breaks=(Break("12:30", 30, paused=True),)),
    Staff(8, "ORGT", "09:00", presses_start=False),
)


@dataclass
class Citizen:
    """One arrival of the plan; ``at`` is seconds after opening."""

    at: float
    office: str
    priority: bool
    party_size: int
    service_s: float
    walk_s: float
    no_show_draw: float

    def shows_up(self, waited_s):
        chance = NO_SHOW_BASE + NO_SHOW_PER_HOUR_WAITED * min(1.0, waited_s / 3600)
        return self.no_show_draw >= chance


def plan_day(seed, scale):
    """The day's citizens in arrival order, drawn from ``seed`` alone."""
    rng = random.Random(seed)
    offices, weights = list(OFFICES), [share for share, _, _ in OFFICES.values()]
    sizes, size_weights = zip(*PARTY_SIZES, strict=True)
    opening_hour = int(OPEN[:2])
    citizens = []
    for hour, per_hour in sorted(ARRIVALS_PER_HOUR.items()):
        rate = per_hour * scale / 3600
        start, end = (hour - opening_hour) * 3600, (hour - opening_hour + 1) * 3600
        at = start
        while rate > 0:
            at += rng.expovariate(rate)
            if at >= end:
                break
            office = rng.choices(offices, weights)[0]
            _, median, sigma = OFFICES[office]
            citizens.append(
                Citizen(
                    at=at,
                    office=office,
                    priority=rng.random() < PRIORITY_SHARE,
                    party_size=rng.choices(sizes, size_weights)[0],
                    service_s=max(SHORTEST_SERVICE_S, median * math.exp(rng.gauss(0, sigma))),
                    walk_s=rng.uniform(*WALK_S),
                    no_show_draw=rng.random(),
                )
            )
    return citizens


def epoch(iso):
    return datetime.fromisoformat(iso).timestamp()


class ServerClock:
    """The server's sped-up clock seen from here: ``epoch = speed * perf_counter() + offset``.

    Set from the server's ``Date`` headers (whole seconds): each answer bounds the offset,
    and many answers around a change of second bound it to a fraction of a second. Every
    later stamp from the server (``check``) is compared with the clock; the largest
    disagreement, in simulated seconds, is kept.
    """

    def __init__(self, speed, stop):
        self.speed, self.stop = speed, stop
        self.low, self.high = -math.inf, math.inf
        self.offset = None
        self.checks, self.worst = 0, 0.0
        self._lock = threading.Lock()

    def _bound(self, whole_second, before, after):
        """The server said ``whole_second`` (truncated) between ``before`` and ``after``."""
        return (
            whole_second - self.speed * after,
            whole_second + 1 - self.speed * before,
        )

    def calibrate(self, client):
        """Set the clock; its uncertainty (+-, simulated seconds)."""
        # A request takes a millisecond or so: no use aiming below what it spans.
        precision_s = max(0.25, self.speed * 0.002)
        started = time.perf_counter()
        while (
            time.perf_counter() - started < CALIBRATION_REAL_S
            and self.high - self.low > precision_s
        ):
            before = time.perf_counter()
            client.connection.request("GET", client.prefix + "/occupancy", headers=client.headers)
            response = client.connection.getresponse()
            response.read()
            after = time.perf_counter()
            expect(response.status, 200, None, "GET /occupancy")
            server = parsedate_to_datetime(response.getheader("Date")).timestamp()
            low, high = self._bound(server, before, after)
            self.low, self.high = max(self.low, low), min(self.high, high)
        if self.high < self.low:
            raise Failed("the server's Date headers disagree with each other: is it sped up?")
        self.offset = (self.low + self.high) / 2
        return (self.high - self.low) / 2

    def now(self):
        """The server's time now, epoch seconds."""
        return self.speed * time.perf_counter() + self.offset

    def sleep_until(self, moment):
        """Sleep until the server's clock shows ``moment``; False when the run was stopped."""
        real = (moment - self.now()) / self.speed
        return not self.stop.wait(real) if real > 0 else not self.stop.is_set()

    def check(self, stamp, before, after):
        """A server stamp (whole seconds) made between the real instants ``before`` and
        ``after``: how far it lies outside what the clock expected, kept if the worst."""
        low = self.speed * before + self.offset - 1
        high = self.speed * after + self.offset
        miss = max(0.0, low - stamp, stamp - high)
        with self._lock:
            self.checks += 1
            self.worst = max(self.worst, miss)


@dataclass
class Day:
    """What the threads share: the plan's clock, the tickets issued, what went wrong."""

    url: str
    tokens: dict
    clock: ServerClock
    opening: float  # epoch of 09:00 local
    pages: bool = True  # clerks keep a desk page open (a Socket.IO connection) while there
    issued: dict = field(default_factory=dict)  # ticket id -> (Citizen, ticket at issue)
    refused: list = field(default_factory=list)
    no_shows: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    reception_done: threading.Event = field(default_factory=threading.Event)
    registered: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self):
        self.close, self.last_call = self.at(CLOSE), self.at(LAST_CALL)

    def stop_requested(self):
        return self.clock.stop.is_set()

    def at(self, hhmm):
        hours, minutes = map(int, hhmm.split(":"))
        open_h, open_m = map(int, OPEN.split(":"))
        return self.opening + (hours - open_h) * 3600 + (minutes - open_m) * 60

    def citizen_of(self, ticket_id):
        """The citizen behind a ticket just called (the reception may not have noted it yet)."""
        with self.registered:
            if not self.registered.wait_for(lambda: ticket_id in self.issued, timeout=10):
                raise Failed(f"ticket {ticket_id} was called but never issued by the reception")
            return self.issued[ticket_id][0]


def reception(day, citizens):
    client = Client(day.url, day.tokens["reception"])
    try:
        for citizen in citizens:
            if not day.clock.sleep_until(day.opening + citizen.at):
                return
            body = {"office": citizen.office, "party_size": citizen.party_size}
            if citizen.priority:
                body["priority"] = True
            before = time.perf_counter()
            status, ticket, _ = client.request("POST", "/tickets", body)
            after = time.perf_counter()
            if status == 409:
                day.refused.append((citizen, ticket))
                continue
            expect(status, 201, ticket, "POST /tickets")
            day.clock.check(epoch(ticket["issued_at"]), before, after)
            with day.registered:
                day.issued[ticket["id"]] = (citizen, ticket)
                day.registered.notify_all()
    finally:
        day.reception_done.set()
        client.close()


class Clerk:
    """The clerk of one desk, through the day of ``staff``."""

    def __init__(self, day, staff):
        self.day, self.staff = day, staff
        self.client = Client(day.url, day.tokens["clerk"])
        self.breaks = sorted(staff.breaks, key=lambda pause: pause.at)
        self.served = 0

    def post(self, path, body=None, want=200):
        status, answer, _ = self.client.request("POST", path, body)
        return expect(status, want, answer, f"POST {path} (Taulell {self.staff.desk})")

    def run(self):
        day, clock = self.day, self.day.clock
        if not clock.sleep_until(day.at(self.staff.arrives)):
            return
        # The clerk opens the desk page on arrival and closes it on leaving; a break without
        # pausing leaves it open (the server cannot tell the desk is empty then).
        page = self.open_page() if day.pages else None
        try:
            self.work()
        finally:
            if page is not None:
                page.disconnect()

    def open_page(self):
        import socketio

        page = socketio.Client(reconnection=False)
        page.connect(
            self.day.url,
            auth={"token": self.day.tokens["clerk"], "desk": self.staff.desk},
            transports=["websocket"],
            wait_timeout=10,
        )
        return page

    def work(self):
        day, clock = self.day, self.day.clock
        leaves = day.at(self.staff.leaves) if self.staff.leaves else day.last_call
        while not day.stop_requested():
            now = clock.now()
            if now >= leaves:
                return
            if self.breaks and now >= day.at(self.breaks[0].at):
                if not self.take_break(self.breaks.pop(0)):
                    return
                continue
            status, ticket, _ = self.client.request("POST", f"/desks/{self.staff.desk}/call-next")
            if status == 204:
                if now >= day.close and day.reception_done.is_set():
                    return  # closed, and nobody left for this desk
                wake = now + IDLE_POLL_S
                if self.breaks:
                    wake = min(wake, day.at(self.breaks[0].at))
                if not clock.sleep_until(min(wake, leaves)):
                    return
                continue
            expect(status, 200, ticket, f"call-next at Taulell {self.staff.desk}")
            if not self.serve(ticket):
                return

    def take_break(self, pause):
        clock, desk = self.day.clock, self.staff.desk
        back = self.day.at(pause.at) + pause.minutes * 60
        if pause.paused:
            self.post(f"/desks/{desk}/pause", {"reason": "break"})
        if not clock.sleep_until(back):
            return False
        if pause.paused:
            self.post(f"/desks/{desk}/resume")
        return True

    def serve(self, ticket):
        """One ticket just called, to its end; False when the run was stopped."""
        clock, ticket_id = self.day.clock, ticket["id"]
        citizen = self.day.citizen_of(ticket_id)
        called = epoch(ticket["called_at"])  # the server's clock, not ours
        if not citizen.shows_up(called - epoch(ticket["issued_at"])):
            if not clock.sleep_until(called + RECALL_AFTER_S):
                return False
            self.post(f"/tickets/{ticket_id}/recall")
            if not clock.sleep_until(called + NO_SHOW_AFTER_S):
                return False
            self.post(f"/tickets/{ticket_id}/no-show")
            self.day.no_shows.append(ticket_id)
            return True
        at_desk = called + citizen.walk_s
        if self.staff.presses_start:
            if not clock.sleep_until(at_desk):
                return False
            self.post(f"/tickets/{ticket_id}/start")
        if not clock.sleep_until(at_desk + citizen.service_s):
            return False
        self.post(f"/tickets/{ticket_id}/finish")
        self.served += 1
        return True


def guarded(day, work, name):
    """Run ``work`` in a thread; a failure is kept and stops every other thread."""

    def body():
        try:
            work()
        except Exception as error:  # noqa: BLE001 - reported at the end, stops the run
            day.errors.append(f"{name}: {error!r}")
            day.clock.stop.set()

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    return thread


def prepare(directory):
    """The demo town hall and API tokens for admin, reception and clerk: ``(path, tokens)``."""
    path = os.path.join(directory, "queue.db")
    flask_command(path, "seed-demo")
    roles = ("admin", "reception", "clerk")
    with ThreadPoolExecutor(len(roles)) as pool:
        outputs = pool.map(
            lambda role: flask_command(path, "create-token", f"sim-{role}", "--role", role),
            roles,
        )
        tokens = {role: output.split()[-1] for role, output in zip(roles, outputs, strict=True)}
    return path, tokens


def faked_clock(opening, speed):
    """libfaketime's environment: the server's clock starts LEAD_REAL_S real seconds
    (``speed`` times as many on its clock) before ``opening`` and runs ``speed`` times fast."""
    start = (opening - timedelta(seconds=LEAD_REAL_S * speed)).astimezone(timezone.utc)
    return {
        "LD_PRELOAD": LIBFAKETIME,
        "FAKETIME": start.strftime("@%Y-%m-%d %H:%M:%S") + f" x{speed:g}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "TZ": "UTC",
        "QUEUE_TIMEZONE": TIMEZONE,
        # The server's background sleeps run on the real clock: its desk pages' heartbeat
        # (30 s on the server's clock) comes as often on the faster one.
        "QUEUE_PRESENCE_HEARTBEAT_S": f"{30 / speed:g}",
    }


def check_set_up(day):
    """The demo's desks as STAFF expects them, all open; the building's limit raised."""
    admin = Client(day.url, day.tokens["admin"])
    try:
        status, desks, _ = admin.request("GET", "/desks")
        expect(status, 200, desks, "GET /desks")
        by_id = {desk["id"]: desk for desk in desks}
        for staff in STAFF:
            desk = by_id.get(staff.desk)
            if desk is None or desk["offices"] != [staff.office] or desk["paused"]:
                raise Failed(f"Taulell {staff.desk} is not an open desk of {staff.office}: {desk}")
        status, body, _ = admin.request("PUT", "/occupancy", {"limit": BUILDING_LIMIT})
        expect(status, 200, body, "PUT /occupancy")
    finally:
        admin.close()


def simulate(args, citizens, opening_local):
    """Run the day on a server of its own; ``(issued, tickets read back, day, facts)``."""
    from servers import Server

    directory = tempfile.mkdtemp(prefix="torn-estimate-sim-")
    server = None
    try:
        path, tokens = prepare(directory)
        server = Server(path, env=faked_clock(opening_local, args.speed)).start()
        clock = ServerClock(args.speed, threading.Event())
        probe = Client(server.url, tokens["reception"])
        try:
            precision = clock.calibrate(probe)
        finally:
            probe.close()
        opening = opening_local.timestamp()
        day = Day(url=server.url, tokens=tokens, clock=clock, opening=opening, pages=args.pages)
        check_set_up(day)
        ahead = opening - clock.now()
        if ahead < 0:
            raise Failed(
                f"the server was ready {-ahead:.0f} s (its time) after opening: try a lower --speed"
            )
        threads = [guarded(day, lambda: reception(day, citizens), "reception")]
        clerks = [Clerk(day, staff) for staff in STAFF]
        threads += [guarded(day, clerk.run, f"taulell-{clerk.staff.desk}") for clerk in clerks]
        for thread in threads:
            thread.join()
        for clerk in clerks:
            clerk.client.close()
        if day.errors:
            raise Failed("; ".join(day.errors))
        reader = Client(server.url, tokens["reception"])
        try:
            status, tickets, _ = reader.request("GET", "/tickets")
            expect(status, 200, tickets, "GET /tickets")
        finally:
            reader.close()
        facts = {
            "clock_precision_s": precision,
            "clock_checks": clock.checks,
            "clock_worst_s": clock.worst,
            "ended": datetime.fromtimestamp(clock.now(), opening_local.tzinfo),
        }
        return tickets, day, facts
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)


def measure(day, tickets):
    """The figures (errors of the estimates at issue against the actual waits) and one row
    per ticket issued, for ``--tickets``."""
    by_id = {ticket["id"]: ticket for ticket in tickets}
    rows = []  # (office, estimate or None, actual wait)
    per_ticket = []
    never_called = 0
    for ticket_id, (citizen, at_issue) in sorted(day.issued.items()):
        now = by_id[ticket_id]
        if now["issued_at"] != at_issue["issued_at"]:
            raise Failed(f"ticket {ticket_id}'s issued_at changed: {at_issue} -> {now}")
        actual = None
        if now["called_at"] is None:
            never_called += 1
        else:
            actual = epoch(now["called_at"]) - epoch(now["issued_at"])
            rows.append((now["office"], at_issue["estimated_wait_s"], actual))
        per_ticket.append(
            {
                "code": now["code"],
                "office": now["office"],
                "priority": now["priority"],
                "issued_at": now["issued_at"][11:19],
                "position": at_issue["position"],
                "estimated_wait_s": at_issue["estimated_wait_s"],
                "actual_wait_s": None if actual is None else round(actual),
                "desk": now["desk"],
                "status": now["status"],
                "service_s": round(citizen.service_s),
            }
        )
    errors = [(office, guess - actual) for office, guess, actual in rows if guess is not None]
    absolute = [abs(error) for _, error in errors]

    def rounded(value):
        return None if value is None else round(value)

    def mean(values):
        return statistics.fmean(values) if values else None

    by_office = {}
    for office in OFFICES:
        mine = [error for where, error in errors if where == office]
        waits = [actual for where, _, actual in rows if where == office]
        by_office[office] = {
            "n": len(mine),
            "mae_s": rounded(mean([abs(error) for error in mine])),
            "bias_s": rounded(mean(mine)),
            "mean_wait_s": rounded(mean(waits)),
            "null_estimates": sum(1 for where, e, _ in rows if where == office and e is None),
        }
    return {
        "tickets": len(day.issued),
        "called": len(rows),
        "estimated": len(errors),
        "null_estimates": sum(1 for _, estimate, _ in rows if estimate is None),
        "never_called": never_called,
        "refused": len(day.refused),
        "no_shows": len(day.no_shows),
        "mae_s": rounded(mean(absolute)),
        "median_ae_s": rounded(statistics.median(absolute) if absolute else None),
        "bias_s": rounded(mean([error for _, error in errors])),
        "mean_wait_s": rounded(mean([actual for _, _, actual in rows])),
        "max_wait_s": rounded(max((actual for _, _, actual in rows), default=None)),
        "by_office": by_office,
    }, per_ticket


def write_tickets(path, per_ticket):
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(per_ticket[0]) if per_ticket else ["code"])
        writer.writeheader()
        writer.writerows(per_ticket)


def print_scenario(args, citizens, opening_local):
    counts = {office: 0 for office in OFFICES}
    for citizen in citizens:
        counts[citizen.office] += 1
    print(
        f"estimate_sim: seed {args.seed}, scale {args.scale:g}, speed x{args.speed:g};"
        f" {opening_local:%a %Y-%m-%d} {OPEN}-{CLOSE} {TIMEZONE} (last call {LAST_CALL})"
    )
    print(
        f"arrivals planned: {len(citizens)} ("
        + ", ".join(f"{office} {n}" for office, n in counts.items())
        + f"), {sum(c.priority for c in citizens)} priority;"
        f" by hour {', '.join(f'{h}h {n}' for h, n in ARRIVALS_PER_HOUR.items())} (x{args.scale:g})"
    )
    for staff in STAFF:
        print(f"  {staff.describe()}")
    sys.stdout.flush()


def print_results(figures, facts, wall_s):
    print(
        f"estimate MAE {figures['mae_s']} s (median {figures['median_ae_s']} s,"
        f" bias {figures['bias_s'] or 0:+d} s) over {figures['estimated']} tickets; by office: "
        + ", ".join(
            f"{office} {row['mae_s']} (n {row['n']}, bias {row['bias_s'] or 0:+d},"
            f" wait {row['mean_wait_s']})"
            for office, row in figures["by_office"].items()
        )
    )
    print(
        f"null estimates: {figures['null_estimates']}; mean actual wait"
        f" {figures['mean_wait_s']} s (max {figures['max_wait_s']} s);"
        f" tickets {figures['tickets']}, called {figures['called']},"
        f" never called {figures['never_called']}, refused {figures['refused']},"
        f" no-shows {figures['no_shows']}"
    )
    print(
        f"server clock: set to +-{facts['clock_precision_s']:.2f} s, {facts['clock_checks']}"
        f" stamps checked, worst miss {facts['clock_worst_s']:.2f} s; day ended"
        f" {facts['ended']:%H:%M:%S}; wall time {wall_s:.0f} s"
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1, help="the day's random seed (default 1)")
    parser.add_argument(
        "--speed",
        type=float,
        default=100,
        help="how many times faster than real the server's clock runs (default 100:"
        " the 09:00-14:00 morning in 3 minutes)",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of a full day's arrivals, about 290 citizens (default 1; the wall time"
        " depends on --speed, not on this)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database directory")
    parser.add_argument(
        "--no-pages",
        dest="pages",
        action="store_false",
        help="clerks work through the API only, with no desk page open",
    )
    parser.add_argument("--tickets", metavar="FILE", help="also write one CSV row per ticket")
    args = parser.parse_args(argv)
    if not 1 <= args.speed <= 400:
        parser.error("--speed must be between 1 and 400")
    if args.scale <= 0:
        parser.error("--scale must be positive")
    if not os.path.exists(LIBFAKETIME):
        parser.error(f"{LIBFAKETIME} is missing: apt-get install libfaketime")
    return args


def main(argv=None):
    from helpers import next_workday  # a Monday to Friday after today, in Madrid

    args = parse_args(argv)
    started = time.perf_counter()
    hours, minutes = map(int, OPEN.split(":"))
    opening_local = next_workday(hour=hours, minute=minutes)
    citizens = plan_day(args.seed, args.scale)
    print_scenario(args, citizens, opening_local)
    tickets, day, facts = simulate(args, citizens, opening_local)
    figures, per_ticket = measure(day, tickets)
    if args.tickets:
        write_tickets(args.tickets, per_ticket)
    wall_s = time.perf_counter() - started
    print_results(figures, facts, wall_s)
    summary = {
        "seed": args.seed,
        "scale": args.scale,
        "speed": args.speed,
        **figures,
        "clock_worst_s": round(facts["clock_worst_s"], 2),
        "wall_s": round(wall_s),
    }
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
