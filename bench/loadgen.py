"""What the HTTP benchmarks share: a server measured from outside, by clients in processes
of their own.

``http_bench.py`` (queue depths, with and without Redis) and ``cluster_bench.py`` (two
server processes) are built from these parts:

- ``prepare_database`` and ``fill_queue``: the demo town hall with every desk serving OAC
  and room for 100000 people, and a queue of any length written straight into a copy of it
  before its server starts (the schema's triggers keep their counts, the door its count).
- ``Crowd``: HTTP client processes (``multiprocessing``, spawned), each with keep-alive
  ``http.client`` connections of its own; each request is timed in its process, from
  sending it to having read the whole answer, and the times go back to this process.
- ``Listeners``: one more process that keeps citizens' ticket pages and display screens
  connected over Socket.IO (raw Engine.IO websockets) and only counts the frames it drains.
- ``Steady``: the queue kept at its depth in rounds of single-kind phases (issue, call-next,
  finish, a citizen's lookup), each phase timed and charged the CPU time the servers spent
  in it, read from ``/proc/<pid>/task/*/schedstat``; ``interleaved`` measures several
  queues a round each in turn, so that the machine's other work weighs on all alike.
- ``Stand``: the servers on one file (with their own ``redis-server`` if asked), their client
  processes, their listening pages and their ``Steady``, started and stopped together.

Other benchmarks import ``Client``, ``prepare_database`` and the other helpers from
``http_bench``, which re-exports them from here. Standard library only (``make bench``
needs nothing beyond ``make install``). Not a test: it measures.
"""

import http.client
import itertools
import json
import multiprocessing
import os
import platform
import secrets
import sqlite3
import sys
import time
from collections import Counter
from datetime import timedelta
from multiprocessing.connection import wait as wait_for_any
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

OFFICE = "OAC"
BIG_LIMIT = 100000
WARM_UP = 50
KINDS = ("issue", "call-next", "finish", "lookup")
REQUESTS = {
    "issue": "POST /tickets",
    "call-next": "POST /desks/<id>/call-next",
    "finish": "POST /tickets/<id>/finish",
    "lookup": "GET /tickets/<token>",
}
# The public lookup is limited to 60 requests a minute per client address: each client
# address serves at most this many, then the client takes the next (127.x.y.z, all loopback).
ADDRESS_BUDGET = 50
ANSWER_S = 120  # the longest a client process may take over one phase
IDLE_S = 2.0  # how long a server's idle CPU rate is read for
SETTLE_STEP_S = 0.002
SETTLE_MOST_S = 0.25
# Citizens' pages kept open: as many as a queue of 10 always holds, so that every depth
# pushes positions to as many pages (at depth 10 all its waiting tickets are followed).
CITIZENS = 10
SCREENS = 2


class Failed(RuntimeError):
    """A request the benchmark relies on did not succeed."""


def expect(status, want, body, what):
    if status != want:
        raise Failed(f"{what}: HTTP {status}, wanted {want}: {body}")
    return body


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def summary(name, clients, latencies, elapsed):
    """One row of a results table: latencies (seconds) in ms, requests per second."""
    values = sorted(latencies)
    return {
        "scenario": name,
        "clients": clients,
        "requests": len(values),
        "per_s": len(values) / elapsed if elapsed else 0.0,
        "p50": percentile(values, 0.50) * 1000,
        "p90": percentile(values, 0.90) * 1000,
        "p99": percentile(values, 0.99) * 1000,
        "max": values[-1] * 1000,
    }


def share(total, count, i):
    """Client ``i``'s share of ``total`` operations split over ``count`` clients."""
    return total // count + (i < total % count)


class Client:
    """One keep-alive connection to ``/api/v1``, with one role's token (or none, as a
    citizen's phone), from the client address ``source`` if given; times each request."""

    def __init__(self, url, token=None, source=None, timeout=30):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/") + "/api/v1"
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.connection = http.client.HTTPConnection(
            self.host, self.port, timeout=timeout, source_address=(source, 0) if source else None
        )
        self.reconnects = 0

    def request(self, method, path, body=None):
        """``(status, decoded JSON or None, seconds)``; reconnects once if the server hung up."""
        return self.raw(method, path, None if body is None else json.dumps(body))

    def raw(self, method, path, payload, content_type="application/json"):
        """``request`` with a body already encoded (a file to import, say) of its type.

        The connection is opened before the clock starts: a keep-alive client connects once.
        """
        headers = {**self.headers, "Content-Type": content_type}
        for attempt in (1, 2):
            if self.connection.sock is None:
                self.connection.connect()
            started = time.perf_counter()
            try:
                self.connection.request(method, self.prefix + path, body=payload, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionError):
                if attempt == 2:
                    raise
                self.connection.close()
                self.reconnects += 1
                continue
            elapsed = time.perf_counter() - started
            return response.status, json.loads(data) if data else None, elapsed
        raise AssertionError("unreachable")

    def close(self):
        self.connection.close()


# The database ---------------------------------------------------------------------------


def prepare_database(directory):
    """The demo town hall in ``directory``: every desk serving OAC, a big building limit.

    Returns ``(path, {role: token})``.
    """
    from queue_app import clock, seed
    from queue_app.rules import accounts, door
    from queue_app.storage.db import connect, write_transaction
    from queue_app.storage.migrations import migrate

    clock.set_timezone(os.environ.get("QUEUE_TIMEZONE", "Europe/Madrid"))
    path = os.path.join(directory, "template.db")
    db = connect(path)
    try:
        migrate(db)
        seed.seed_demo(db)
        with write_transaction(db):
            db.execute(
                "INSERT OR IGNORE INTO desk_offices (desk_id, office) SELECT id, ? FROM desks",
                [OFFICE],
            )
        door.set_counts(db, limit=BIG_LIMIT)
        tokens = {
            role: accounts.create_token(db, f"bench-{role}", role).value
            for role in ("admin", "reception", "clerk")
        }
    finally:
        db.close()
    return path, tokens


def copy_database(source_path, path):
    """A consistent copy of the database file ``source_path`` at ``path``; returns ``path``."""
    source, target = sqlite3.connect(source_path), sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return path


def screen_key(path):
    """The key of the demo's waiting-room screen (it shows every office)."""
    from queue_app.rules import displays
    from queue_app.storage.db import connect

    db = connect(path)
    try:
        return displays.list_displays(db)[0]["key"]
    finally:
        db.close()


def fill_queue(path, count, office=OFFICE):
    """``count`` more walk-in tickets waiting in ``office``, issued up to now, written into the
    file at ``path`` (no server running on it) in one transaction of the queue rules: each row
    as ``tickets.issue_within`` writes it, the party admitted at the door (``occupancy.admit``)
    and the schema's triggers keeping their counts, but without describing each new ticket
    (which is what an issue costs) or journaling it. Returns their public tokens, oldest first.
    """
    from queue_app.clock import local_day, local_zone, stamp, utcnow
    from queue_app.rules import day, occupancy
    from queue_app.storage.db import connect

    db = connect(path)
    try:
        now = utcnow()
        with day.change(db, now) as events:
            letter = db.execute("SELECT letter FROM offices WHERE code = ?", [office]).fetchone()[0]
            today = local_day(now)
            first = db.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM tickets"
                " WHERE day = ? AND issued_office = ?",
                [today, office],
            ).fetchone()[0]
            tokens = [secrets.token_urlsafe(16) for _ in range(count)]
            rows = []
            for offset, token in enumerate(tokens):
                number = first + offset
                # One a second up to now, as fast as a reception could hand them out (5000
                # over 83 minutes): the queue's places count per minute of issue (m015).
                issued = now - timedelta(seconds=count - offset)
                rows.append(
                    (token, today, office, number, f"{letter}{number:03d}", office, stamp(issued))
                )
            db.conn.executemany(
                "INSERT INTO tickets (token, day, issued_office, number, code, office, kind,"
                " priority, party_size, status, issued_at, issued_hour, recalls, language)"
                " VALUES (?, ?, ?, ?, ?, ?, 'walk_in', 0, 1, 'waiting', ?, "
                f"{now.astimezone(local_zone()).hour}, 0, 'ca')",
                rows,
            )
            events.append(occupancy.admit(db, count, now, "bench"))
    finally:
        db.close()
    return tokens


def depth_templates(directory, template, depths):
    """A copy of ``template`` per queue depth, each filled to it: ``{depth: (path, tokens of
    the waiting tickets, oldest first)}``. Built one from the other, shallowest first."""
    made, path, tokens = {}, template, []
    for depth in sorted(set(depths)):
        path = copy_database(path, os.path.join(directory, f"depth-{depth}.db"))
        tokens = tokens + fill_queue(path, depth - len(tokens))
        made[depth] = (path, tokens)
    return made


# The servers' CPU time, from /proc ------------------------------------------------------


def cpu_seconds(pid):
    """CPU time of every thread of process ``pid`` so far, in seconds: the sum of the first
    field (nanoseconds on a CPU) of each thread's ``/proc/<pid>/task/<tid>/schedstat``.
    A thread that has ended no longer counts: the servers' threads live as long as they."""
    total = 0
    base = f"/proc/{pid}/task"
    for tid in os.listdir(base):
        try:
            with open(f"{base}/{tid}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1e9


def cpu_of(pids):
    return {pid: cpu_seconds(pid) for pid in pids}


def machine_busy_seconds():
    """CPU seconds the machine's cores have spent running anything (``/proc/stat``: user,
    nice, system, irq and softirq; not idle, waiting for I/O or stolen by the host)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    return sum(fields[i] for i in (0, 1, 2, 5, 6)) / os.sysconf("SC_CLK_TCK")


def settle(pids):
    """Wait until the processes ``pids`` are quiet (under 10 % of a core over the last
    ``SETTLE_STEP_S``), so that work done after an answer (a fan-out, a log line) counts in
    the phase that caused it; at most ``SETTLE_MOST_S``."""
    deadline = time.monotonic() + SETTLE_MOST_S
    last = cpu_of(pids)
    while time.monotonic() < deadline:
        time.sleep(SETTLE_STEP_S)
        now = cpu_of(pids)
        if all(now[pid] - last[pid] < 0.1 * SETTLE_STEP_S for pid in pids):
            return
        last = now


def idle_rates(pids, seconds=IDLE_S):
    """Each process's CPU seconds per second while nobody asks it anything (its background
    tasks: the journal relay's poll, the desks' presence, the pings of connected pages)."""
    settle(pids)
    before, started = cpu_of(pids), time.monotonic()
    time.sleep(seconds)
    after, elapsed = cpu_of(pids), time.monotonic() - started
    return {pid: max(0.0, (after[pid] - before[pid]) / elapsed) for pid in pids}


# Client processes -----------------------------------------------------------------------


def loopback_addresses(first_octet):
    """Client addresses ``127.first.y.z``, each given once (the rate limits count per address)."""
    for number in itertools.count(1):
        if 0 < number & 0xFF < 255:
            yield f"127.{first_octet}.{number >> 8 & 0xFF}.{number & 0xFF}"


class _Work:
    """What one client process does when the parent asks (see ``Crowd``)."""

    def __init__(self, index):
        self.addresses = loopback_addresses(20 + index)
        self.clients = {}
        self.citizen, self.citizen_used, self.url = None, 0, None

    def connect(self, url, tokens):
        self.close()
        self.url = url
        self.clients = {role: Client(url, tokens[role]) for role in ("reception", "clerk")}
        for client in self.clients.values():
            for _ in range(WARM_UP // 10):
                status, body, _ = client.request("GET", "/offices")
                expect(status, 200, body, "GET /offices")
        return []

    def issue(self, count):
        """``count`` walk-ins issued: ``[(seconds, ticket id, token)]``."""
        done = []
        for _ in range(count):
            status, ticket, seconds = self.clients["reception"].request(
                "POST", "/tickets", {"office": OFFICE}
            )
            expect(status, 201, ticket, "issue")
            done.append((seconds, ticket["id"], ticket["token"]))
        return done

    def call(self, desks):
        """Each desk calls its next: ``[(seconds, ticket id, token)]``."""
        done = []
        for desk in desks:
            status, ticket, seconds = self.clients["clerk"].request(
                "POST", f"/desks/{desk}/call-next"
            )
            expect(status, 200, ticket, f"call-next at desk {desk}")
            done.append((seconds, ticket["id"], ticket["token"]))
        return done

    def finish(self, ticket_ids):
        done = []
        for ticket_id in ticket_ids:
            status, ticket, seconds = self.clients["clerk"].request(
                "POST", f"/tickets/{ticket_id}/finish"
            )
            expect(status, 200, ticket, "finish")
            done.append((seconds,))
        return done

    def lookup(self, tokens):
        """A citizen's page asking for its ticket, without credentials, from an address of
        its own every ``ADDRESS_BUDGET`` requests."""
        done = []
        for token in tokens:
            if self.citizen is None or self.citizen_used >= ADDRESS_BUDGET:
                if self.citizen is not None:
                    self.citizen.close()
                self.citizen, self.citizen_used = Client(self.url, source=next(self.addresses)), 0
            self.citizen_used += 1
            status, ticket, seconds = self.citizen.request("GET", f"/tickets/{token}")
            expect(status, 200, ticket, "GET /tickets/<token>")
            done.append((seconds,))
        return done

    def close(self):
        for client in [*self.clients.values(), self.citizen]:
            if client is not None:
                client.close()
        self.clients, self.citizen = {}, None


def _client_main(pipe, index):
    """A client process: run each order from the pipe; answer ``("ok", {"start", "end",
    "items"})`` (``time.monotonic``, the same clock in every process) or ``("error", text)``."""
    work = _Work(index)
    while True:
        order = pipe.recv()
        if order[0] == "stop":
            work.close()
            return
        try:
            started = time.monotonic()
            items = getattr(work, order[0])(*order[1:])
            pipe.send(("ok", {"start": started, "end": time.monotonic(), "items": items}))
        except Exception as error:  # reported to the parent, which stops the benchmark
            pipe.send(("error", f"{type(error).__name__}: {error}"))


def _spawn(target, *args, name):
    """A child process running ``target(pipe, *args)``; ``(process, our end of the pipe)``."""
    context = multiprocessing.get_context("spawn")  # the parent has threads: no fork
    ours, theirs = context.Pipe()
    process = context.Process(target=target, args=(theirs, *args), name=name, daemon=True)
    process.start()
    theirs.close()
    return process, ours


def _answer(pipe, who):
    if not pipe.poll(ANSWER_S):
        raise Failed(f"{who} did not answer within {ANSWER_S} s")
    status, value = pipe.recv()
    if status != "ok":
        raise Failed(f"{who}: {value}")
    return value


class Crowd:
    """``count`` client processes; ``ask({index: order})`` sends each its order at once and
    returns their answers once all have answered."""

    def __init__(self, count):
        self.members = [_spawn(_client_main, i, name=f"bench-client-{i}") for i in range(count)]

    @property
    def pids(self):
        return [process.pid for process, _ in self.members]

    def ask(self, orders):
        for index, order in orders.items():
            self.members[index][1].send(order)
        return {i: _answer(self.members[i][1], f"client process {i}") for i in orders}

    def close(self):
        for process, pipe in self.members:
            if process.is_alive():
                pipe.send(("stop",))
            process.join(5)
            if process.is_alive():
                process.kill()


# Listening pages --------------------------------------------------------------------------


def _frame_complete(buffer):
    """Whether ``buffer`` starts with a whole WebSocket frame (unmasked, from the server)."""
    if len(buffer) < 2:
        return False
    length, head = buffer[1] & 0x7F, 2
    if length >= 126:
        head = 4 if length == 126 else 10
        if len(buffer) < head:
            return False
        length = int.from_bytes(buffer[2:head], "big")
    return len(buffer) >= head + length


class _Pages:
    """The listener process's connections: ``name -> RawWebSocket``, frames counted."""

    def __init__(self):
        self.open = {}
        self.frames = Counter()
        self.refused = self.lost = 0
        self.addresses = loopback_addresses(90)

    def connect(self, port, name, auth):
        from servers import RawWebSocket

        ws = RawWebSocket(port, source=next(self.addresses))
        ws.send_text("40" + json.dumps(auth))
        while True:  # until its snapshot: the server has it in its rooms by then
            event = self._handle(name, ws, *ws.recv_frame())
            if event == "snapshot":
                self.open[name] = ws
                return True
            if event in ("refused", "closed"):
                ws.close()
                return False

    def _handle(self, name, ws, opcode, payload):
        if opcode == 0x8:
            return "closed"
        if payload == b"2":  # Engine.IO ping
            ws.send_text("3")
        elif payload.startswith(b"44"):
            self.refused += 1
            return "refused"
        elif payload.startswith(b'42["'):
            event = payload[4 : payload.index(b'"', 4)].decode()
            self.frames[(name.split(":")[0], event)] += 1
            return event
        return None

    def drain(self, name):
        """Every whole frame that has arrived on page ``name`` (which the server may close)."""
        ws = self.open[name]
        try:
            while True:
                if self._handle(name, ws, *ws.recv_frame()) == "closed":
                    raise ConnectionError("closed by the server")
                if not _frame_complete(ws.buffer):
                    return
        except OSError:  # ConnectionError and timeouts included
            self.drop([name])
            self.lost += 1

    def drop(self, names):
        for name in names:
            ws = self.open.pop(name, None)
            if ws is not None:
                ws.close()

    def state(self):
        kinds = Counter(name.split(":")[0] for name in self.open)
        return {
            "open": dict(kinds),
            "frames": {f"{who} {event}": n for (who, event), n in sorted(self.frames.items())},
            "refused": self.refused,
            "lost": self.lost,
        }


def _listener_main(pipe):
    """The listener process: open and close pages when told, drain every frame meanwhile."""
    pages = _Pages()
    while True:
        sockets = {ws.sock: name for name, ws in pages.open.items()}
        for ready in wait_for_any([pipe, *sockets], timeout=1.0):
            if ready is not pipe:
                if sockets[ready] in pages.open:  # not dropped meanwhile
                    pages.drain(sockets[ready])
                continue
            order = pipe.recv()
            if order[0] == "stop":
                pages.drop(list(pages.open))
                return
            try:
                if order[0] == "open":
                    opened = sum(pages.connect(*page) for page in order[1])
                    pipe.send(("ok", opened))
                elif order[0] == "drop":
                    pages.drop(order[1])
                    pipe.send(("ok", None))
                else:
                    pipe.send(("ok", pages.state()))
            except Exception as error:
                pipe.send(("error", f"{type(error).__name__}: {error}"))


class Listeners:
    """Citizens' ticket pages (``{"ticket": token}``) and display screens (``{"screen":
    key}``) kept connected by a process of their own, which drains and counts their frames.

    ``follow`` keeps ``CITIZENS`` waiting tickets listened to: when one is called its page is
    closed and the newest waiting ticket's opened, so that position pushes always have
    listeners spread over the queue.
    """

    def __init__(self, citizens=CITIZENS, screens=SCREENS):
        self.process, self.pipe = _spawn(_listener_main, name="bench-listener")
        self.wanted, self.screens = citizens, screens
        self.citizens = {}  # token -> port
        self.ports = []

    @property
    def pid(self):
        return self.process.pid

    def _ask(self, *order):
        self.pipe.send(order)
        return _answer(self.pipe, "the listener process")

    def start(self, ports, key, waiting):
        """The screens, and the citizens' pages for tickets spread over ``waiting`` (tokens,
        oldest first), in turn on each server's port."""
        self.ports = list(ports)
        pages = [
            (self.ports[i % len(self.ports)], f"screen:{i}", {"screen": key})
            for i in range(self.screens)
        ]
        self._ask("open", pages)
        if self.wanted:
            step = max(1, len(waiting) // self.wanted)
            self.follow([waiting[i] for i in range(step // 2, len(waiting), step)][: self.wanted])

    def follow(self, tokens):
        pages = []
        for token in tokens:
            port = self.ports[len(self.citizens) % len(self.ports)]
            self.citizens[token] = port
            pages.append((port, f"citizen:{token}", {"ticket": token}))
        if pages:
            self._ask("open", pages)

    def called(self, tokens, waiting):
        """Close the pages of the tickets just called; open the newest waiting ones instead."""
        gone = [token for token in tokens if token in self.citizens]
        for token in gone:
            del self.citizens[token]
        if gone:
            self._ask("drop", [f"citizen:{token}" for token in gone])
        if self.wanted:
            newest = [t for t in reversed(waiting[-self.wanted :]) if t not in self.citizens]
            self.follow(newest[: max(0, self.wanted - len(self.citizens))])

    def state(self):
        return self._ask("state")

    def describe(self):
        """What is connected and heard: ``"10 citizen, 2 screen; frames drained: ...;
        refused 0, lost 0"``."""
        state = self.state()
        opened = ", ".join(f"{n} {kind}" for kind, n in state["open"].items()) or "none"
        frames = ", ".join(f"{name} {n}" for name, n in state["frames"].items()) or "none"
        return (
            f"{opened}; frames drained: {frames}; refused {state['refused']}, lost {state['lost']}"
        )

    def stop(self):
        """Close every page (before its server stops) and end the process; again: nothing."""
        if not self.process.is_alive():
            return
        self.citizens = {}
        self._ask("drop", [])  # answered once every earlier order is done
        self.pipe.send(("stop",))
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# The steady state -------------------------------------------------------------------------


class Tally:
    """One request kind's phases: latencies, time, and CPU by process."""

    def __init__(self):
        self.latencies, self.wall, self.cpu = [], 0.0, Counter()
        self.busy = self.elapsed = 0.0  # the machine's busy CPU seconds, over these seconds

    def row(self):
        values = sorted(self.latencies)
        n = len(values)
        return {
            "n": n,
            "per_s": n / self.wall if self.wall else 0.0,
            "p50": percentile(values, 0.50) * 1000,
            "p90": percentile(values, 0.90) * 1000,
            "p99": percentile(values, 0.99) * 1000,
            "max": values[-1] * 1000,
        }

    def cpu_ms(self, pids):
        """CPU ms per request of the processes ``pids`` together."""
        return sum(self.cpu[pid] for pid in pids) * 1000 / max(1, len(self.latencies))

    def cores_busy(self):
        """How many of the machine's cores were busy, on average, during the phases."""
        return self.busy / self.elapsed if self.elapsed else 0.0


class Steady:
    """A queue kept at its depth on one or more servers sharing one database.

    Each round is four phases, one kind of request each, ``len(desks)`` requests per phase
    spread over the client processes: issue (the queue grows by that many), call-next (each
    desk calls one: back to the depth), finish (each desk finishes its ticket), lookup (that
    many citizens ask for their waiting tickets, spread over the queue). Each phase is timed
    from its first request's sending to its last answer, and charged the CPU time the servers
    (and ``extra`` processes: Redis, the clients) spent from its start until the servers were
    quiet again, less their idle rate over that time. After each round the listeners follow
    new tickets in place of the called ones, outside the phases.
    """

    def __init__(self, crowd, servers, desks, waiting, listeners=None, extra=()):
        self.crowd, self.servers, self.desks = crowd, list(servers), list(desks)
        self.waiting = dict.fromkeys(waiting)  # tokens in issue order (the calling order)
        self.listeners = listeners
        self.watched = [*self.servers, *extra]
        self.idle = dict.fromkeys(self.watched, 0.0)

    def measure_idle(self, seconds=IDLE_S):
        self.idle.update(idle_rates(self.servers, seconds))
        return self.idle

    def run(self, workers, rounds, warm_up=1):
        """``rounds`` rounds (after ``warm_up`` untimed ones) by the client processes
        ``workers``: ``{kind: Tally}``."""
        return interleaved([(self, workers)], rounds, warm_up)[0]

    def round(self, workers, tallies):
        """One round by the client processes ``workers``, charged to ``tallies``."""
        size, count = len(self.desks), len(workers)
        own = {w: self.desks[i::count] for i, w in enumerate(workers)}
        orders = {w: ("issue", share(size, count, i)) for i, w in enumerate(workers)}
        issued = self._phase(tallies["issue"], orders)
        for _, (_, _, token) in sorted(issued, key=lambda pair: pair[1][1]):  # by id
            self.waiting[token] = None
        called = self._phase(tallies["call-next"], {w: ("call", own[w]) for w in own if own[w]})
        tokens = [token for _, (_, _, token) in called]
        for token in tokens:
            self.waiting.pop(token, None)  # (with --url, tickets older than ours too)
        orders = {w: ("finish", [i for v, (_, i, _) in called if v == w]) for w in own}
        self._phase(tallies["finish"], {w: order for w, order in orders.items() if order[1]})
        order = list(self.waiting)
        asked = [order[int((i + 0.5) * len(order) / size)] for i in range(size)]
        orders = {w: ("lookup", asked[i::count]) for i, w in enumerate(workers)}
        self._phase(tallies["lookup"], {w: o for w, o in orders.items() if o[1]})
        if self.listeners is not None:
            self.listeners.called(tokens, order)
            settle(self.servers)

    def _phase(self, tally, orders):
        """Send ``orders`` (``{worker: order}``) at once and charge the phase to ``tally``;
        ``[(worker, item)]``, each item starting with its request's seconds."""
        cpu_before, busy_before = cpu_of(self.watched), machine_busy_seconds()
        started = time.monotonic()
        answers = self.crowd.ask(orders)
        settle(self.servers)
        elapsed = time.monotonic() - started
        cpu_after, busy_after = cpu_of(self.watched), machine_busy_seconds()
        for pid in self.watched:
            used = cpu_after[pid] - cpu_before[pid] - self.idle[pid] * elapsed
            tally.cpu[pid] += max(0.0, used)
        tally.busy += busy_after - busy_before
        tally.elapsed += elapsed
        first = min(answer["start"] for answer in answers.values())
        tally.wall += max(answer["end"] for answer in answers.values()) - first
        items = [(w, item) for w, answer in answers.items() for item in answer["items"]]
        tally.latencies.extend(item[0] for _, item in items)
        return items


def interleaved(plans, rounds, warm_up=1):
    """``plans``: ``[(steady, client processes)]``, each measured a round in turn, so that
    whatever else the machine does meanwhile weighs on all of them alike. After ``warm_up``
    untimed rounds each, ``rounds`` timed ones: ``[{kind: Tally}]`` in the plans' order."""
    kept = [{kind: Tally() for kind in KINDS} for _ in plans]
    for number in range(warm_up + rounds):
        for (steady, workers), tallies in zip(plans, kept, strict=True):
            steady.round(workers, tallies if number >= warm_up else {k: Tally() for k in KINDS})
    return kept


def kind_rows(tallies, groups):
    """A row per request kind: its ``Tally.row()``, the CPU ms per request of each group of
    processes (``{name: [pid]}``; None for an empty group) and the cores busy."""
    rows = []
    for kind in KINDS:
        tally = tallies[kind]
        row = {"kind": kind, **tally.row()}
        row.update({name: tally.cpu_ms(pids) if pids else None for name, pids in groups.items()})
        rows.append({**row, "cores": tally.cores_busy()})
    return rows


class Stand:
    """What measures one database file: ``servers`` ``run.py`` processes on it (with a
    ``redis-server`` of their own as their message queue when ``redis_folder`` is given),
    ``clients`` client processes, the listening pages spread over the servers, and the
    steady state of its queue (``waiting``: tokens, oldest first). ``stop()`` ends them all."""

    def __init__(
        self,
        path,
        waiting,
        tokens,
        key,
        servers=1,
        redis_folder=None,
        clients=4,
        citizens=CITIZENS,
        screens=SCREENS,
    ):
        from servers import RedisServer, Server

        self.tokens, self.redis, self.crowd, self.listeners, self.servers = (
            tokens,
            None,
            None,
            None,
            [],
        )
        try:
            if redis_folder is not None:
                self.redis = RedisServer(redis_folder).start()
            env = {"QUEUE_MESSAGE_QUEUE": self.redis.url} if self.redis else None
            for _ in range(servers):
                self.servers.append(Server(path, env=env).start())
            desks = serving_desks(self.servers[0].url, tokens)
            self.crowd = Crowd(clients)
            self.listeners = Listeners(citizens, screens)
            self.listeners.start([server.port for server in self.servers], key, waiting)
            pids = self.pids
            self.steady = Steady(
                self.crowd,
                pids["server"],
                desks,
                waiting,
                self.listeners,
                [*pids["redis"], *pids["client"]],
            )
        except BaseException:
            self.stop()
            raise

    @property
    def pids(self):
        """``{"server": [...], "redis": [...], "client": [...]}`` (the listener a client)."""
        return {
            "server": [server.process.pid for server in self.servers],
            "redis": [self.redis.process.pid] if self.redis else [],
            "client": self.crowd.pids + ([self.listeners.pid] if self.listeners else []),
        }

    def connect(self, assignment):
        """Connect client process ``w`` to server ``assignment[w]`` (an index), each one."""
        self.crowd.ask(
            {w: ("connect", self.servers[i].url, self.tokens) for w, i in assignment.items()}
        )

    def pages(self):
        return self.listeners.describe()

    def close_pages(self):
        """Close every page and end the listener: what follows runs without them."""
        self.listeners.stop()
        self.steady.listeners = None
        self.steady.watched.remove(self.listeners.pid)
        self.listeners = None

    def output(self):
        return "".join(server.output[-2000:] for server in self.servers)

    def stop(self):
        """End every process of the stand; again: nothing."""
        if self.listeners is not None:
            self.listeners.stop()
        if self.crowd is not None:
            self.crowd.close()
        for server in self.servers:
            server.stop()
        if self.redis is not None:
            self.redis.stop()
        self.listeners = self.crowd = self.redis = None
        self.servers = []


def measure_idle(stands, seconds=IDLE_S):
    """The idle CPU rates of every stand's servers and Redis, read together; each stand's
    steady state subtracts its own. ``{pid: CPU seconds per second}``."""
    pids = [pid for stand in stands for name in ("server", "redis") for pid in stand.pids[name]]
    rates = idle_rates(pids, seconds)
    for stand in stands:
        stand.steady.idle.update({pid: rates[pid] for pid in stand.steady.idle if pid in rates})
    return rates


def serving_desks(url, tokens, office=OFFICE):
    """The ids of the unpaused desks that serve ``office``, each freed of a ticket it holds."""
    clerk = Client(url, tokens["clerk"])
    try:
        status, desks, _ = clerk.request("GET", "/desks")
        expect(status, 200, desks, "GET /desks")
        serving = [desk for desk in desks if office in desk["offices"] and not desk["paused"]]
        for desk in serving:
            if desk["current"]:
                status, body, _ = clerk.request("POST", f"/tickets/{desk['current']['id']}/finish")
                expect(status, 200, body, f"finishing desk {desk['id']}'s ticket")
        return [desk["id"] for desk in serving]
    finally:
        clerk.close()


# Reports ----------------------------------------------------------------------------------


def machine_facts(mode, url, clients=None):
    """``(name, value)`` lines describing the machine, the server and the clients."""
    return [
        (
            "machine",
            f"{platform.machine()}, {os.cpu_count()} logical cores,"
            f" {platform.system()} {platform.release()}",
        ),
        (
            "python",
            f"{platform.python_implementation()} {platform.python_version()},"
            f" SQLite {sqlite3.sqlite_version}",
        ),
        ("server", f"run.py, async mode {mode}" if mode else f"already running at {url}"),
        (
            "clients",
            clients or "in the benchmark's process, http.client, one keep-alive connection each",
        ),
    ]


def load_average():
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def markdown(header, rows):
    """A markdown table: ``header`` is ``[(title, align)]`` with align ``"l"`` or ``"r"``."""
    lines = [
        "| " + " | ".join(title for title, _ in header) + " |",
        "|" + "|".join("---" if align == "l" else "--:" for _, align in header) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def load_options(parser, quick_help):
    """The options both HTTP benchmarks take: ``--idle``, ``--quick`` (``quick_help``),
    ``--citizens`` and ``--screens``."""
    parser.add_argument("--idle", type=float, help=f"seconds of idle CPU (default {IDLE_S})")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--citizens", type=int, default=CITIZENS, help=f"ticket pages kept open ({CITIZENS})"
    )
    parser.add_argument(
        "--screens", type=int, default=SCREENS, help=f"display screens kept open ({SCREENS})"
    )


def load_defaults(args):
    """``args`` with ``--requests`` and ``--idle`` filled in (shorter with ``--quick``)."""
    args.requests = args.requests or (80 if args.quick else 240)
    args.idle = args.idle or (1.0 if args.quick else IDLE_S)
    return args
