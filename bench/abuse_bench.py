"""Abuse benchmark: what hostile clients cost everyone else on a real eventlet ``run.py``.

    .venv/bin/python bench/abuse_bench.py                       # every part, about 2 minutes
    .venv/bin/python bench/abuse_bench.py --only idle --idle 4000
    .venv/bin/python bench/abuse_bench.py --only memory --abusers 500 --seconds 20

Four parts, each on a server of its own started on its own copy of the demo town hall (as
``http_bench.py`` prepares it) in a temporary directory that is removed at the end:

1. frames: one anonymous client opens a WebSocket to Engine.IO, sends a 1 MB frame, is
   closed by the server, and again, as fast as it can (then the same megabyte as 4000-byte
   fragments); meanwhile (and for as long before, with no abuse, as the baseline) another
   client times ``GET /healthz`` and ``GET /api/v1/displays/<key>/state`` in turn on a
   keep-alive connection.
2. idle: ``--idle`` idle connections (half of them half-sent HTTP requests, half WebSockets
   that never say anything) are open while new clients are timed: HTTP with keep-alive,
   HTTP with a new connection per request, a display's Socket.IO connection until its
   snapshot; then how many of the idle connections the server closed by itself in 15 s.
3. memory: ``--abusers`` clients at once send 1 MB frames (reconnecting when closed) for
   ``--seconds``; the server's resident memory before, at its peak and after, and the HTTP
   latency meanwhile.
4. login: ``POST /login`` for an existing user with a wrong password and for an unknown
   name, alternately.

The abusive clients are threads of a child process, so that they never hold the interpreter
lock of this process while it times requests. The public endpoints and the login are
rate-limited per client address (60 and 10 a minute, not settable from the environment):
each measuring client binds loopback addresses 127.x.y.z of its own, each used for at most
``ADDRESS_BUDGET`` requests per path. Not a test: it prints figures and asserts nothing.
"""

import argparse
import contextlib
import http.client
import itertools
import json
import multiprocessing
import os
import queue
import re
import resource
import selectors
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from http_bench import Failed, copy_database, machine_facts, percentile, prepare_database
from servers import RawWebSocket, ServerPool, masked_frame
from socket_bench import resident_kib

MEGABYTE = 1_000_000
SOCKET_TIMEOUT_S = 10  # any client socket's single wait
HTTP_TIMEOUT_S = 15
CHILD_START_S = 60  # a spawned child imports the benchmark's modules first
JOIN_S = 2 * SOCKET_TIMEOUT_S + 5
ADDRESS_BUDGET = 50  # requests per path and client address (the limit: 60 a minute)
IDLE_MEASURE_S = 1.5  # each of the three new-client measurements among idle connections
IDLE_OPENERS = 16  # threads opening the idle connections
SOCKETS_PER_ADDRESS = 100  # idle WebSockets from each client address
CLOSE_WATCH_S = 15  # how long after the last idle connection opened it is watched
RSS_SAMPLE_S = 0.05
# The memory is read again this long after the abuse (Engine.IO pings every 25 s: whatever
# waits for a connection's first ping is gone after that).
LATER_S = (5, 30)
LOGIN_EACH = 30
LOGIN_WARM_UP = 2
EXISTING_USER = "taulell1"  # a clerk of the demo (seed.USERS)
UNKNOWN_USER = "ningu-1234"
HALF_SENT = b"GET / HTTP/1.1\r\nHost: x\r\n"  # never finished: no blank line
LOGIN_FAILED = b'id="login-error"'
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


# Raw sockets ----------------------------------------------------------------------------------


def megabyte_frame():
    """An Engine.IO message packet ("4") of a megabyte, in one masked text frame."""
    return masked_frame(b"4" + b"x" * (MEGABYTE - 1))


def megabyte_in_fragments():
    """The same megabyte as a fragmented message: frames of 4000 bytes, each under the
    server's frame limit, that only together pass its message limit."""
    piece = masked_frame(b"x" * 4000, opcode=0x0, final=False)
    return masked_frame(b"4", final=False) + piece * (MEGABYTE // 4000)


PAYLOADS = {"megabyte": megabyte_frame, "fragments": megabyte_in_fragments}


def send_counting(sock, data):
    """Send ``data`` until done or refused; ``(bytes the kernel took, error or None)``."""
    view, sent = memoryview(data), 0
    try:
        while sent < len(data):
            sent += sock.send(view[sent:])
    except OSError as error:
        return sent, error
    return sent, None


# Abusive clients (a child process) ------------------------------------------------------------


class Abuser(threading.Thread):
    """Opens a WebSocket, sends a megabyte (one frame, or fragments), reads how it is
    closed, and again, until ``stop``; counts what happened in ``tally``."""

    def __init__(self, port, big_frame, stop):
        super().__init__(daemon=True)
        self.port, self.big_frame, self.stop = port, big_frame, stop
        self.tally = Counter()

    def run(self):
        while not self.stop.is_set():
            try:
                ws = RawWebSocket(self.port)
            except OSError:  # refused, reset or timed out before the frame
                self.tally["handshake errors"] += 1
                self.stop.wait(0.01)
                continue
            with ws:
                self.tally["frames"] += 1
                sent, error = send_counting(ws.sock, self.big_frame)
                self.tally["bytes sent"] += sent
                if error is not None:
                    self.tally["send cut"] += 1
                self.tally[self._closing(ws)] += 1

    @staticmethod
    def _closing(ws):
        """How the server ended the connection: "closed 1009" (message too big), ..."""
        try:
            opcode, payload = ws.recv_frame()
            while opcode != 0x8:
                opcode, payload = ws.recv_frame()
        except OSError:
            return "reset"
        return f"closed {int.from_bytes(payload[:2], 'big')}" if payload else "closed, no code"


def abuse(port, count, kind, ready, stop, results):
    """The child process: ``count`` abusers sending ``PAYLOADS[kind]`` until ``stop`` is
    set; their tallies summed into ``results`` (with "still running": threads that did not
    end in time)."""
    big_frame = PAYLOADS[kind]()
    halt = threading.Event()
    abusers = [Abuser(port, big_frame, halt) for _ in range(count)]
    try:
        for abuser in abusers:
            abuser.start()
        ready.set()
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        halt.set()
        deadline = time.monotonic() + JOIN_S
        for abuser in abusers:
            if abuser.is_alive():
                abuser.join(max(0.0, deadline - time.monotonic()))
        total = sum((abuser.tally for abuser in abusers), Counter())
        total["still running"] = sum(abuser.is_alive() for abuser in abusers)
        results.put(dict(total))


@contextlib.contextmanager
def abusing(port, count, kind="megabyte"):
    """``count`` abusive clients in a child process while the block runs; afterwards the
    dict it yields holds their tallies. The child is ended whatever happens."""
    spawn = multiprocessing.get_context("spawn")  # this process has threads: no fork
    ready, stop, results = spawn.Event(), spawn.Event(), spawn.Queue()
    child = spawn.Process(
        target=abuse, args=(port, count, kind, ready, stop, results), name="abusers"
    )
    child.start()
    tally = {}
    try:
        if not ready.wait(CHILD_START_S):
            raise Failed("the abusive clients did not start")
        yield tally
    finally:
        stop.set()
        tally.update(child_result(child, results))
        child.join(5)
        if child.is_alive():
            child.terminate()
            child.join()
        results.close()
        results.join_thread()


def child_result(child, results):
    """What the child put in ``results``, waiting while it lives (at most its join time)."""
    deadline = time.monotonic() + JOIN_S + 5
    while True:
        try:
            return results.get(timeout=0.2)
        except queue.Empty:
            if not child.is_alive() or time.monotonic() > deadline:
                try:
                    return results.get(timeout=0.5)
                except queue.Empty:
                    return {"lost": 1}


# Measuring clients ----------------------------------------------------------------------------


class LoopbackAddresses:
    """Loopback source addresses 127.x.y.z, each handed out once: the server's rate limits
    count per client address. 127.0.0.1 is left to the abusive clients."""

    def __init__(self):
        self._numbers = itertools.count(1 << 8)
        self._lock = threading.Lock()

    def take(self):
        with self._lock:
            while True:
                number = next(self._numbers)
                if 0 < number & 0xFF < 255:
                    return f"127.{number >> 16 & 0xFF}.{number >> 8 & 0xFF}.{number & 0xFF}"


class Probe:
    """A measuring HTTP client: ``paths`` (``{label: path}``) requested in turn, one at a
    time, each timed from sending the request to the end of the answer.

    With ``keep_alive`` a connection serves request after request (it is opened before its
    first request is timed); without, each request opens its own, inside the timing. A new
    client address is taken every ``ADDRESS_BUDGET`` requests per path. Anything but a 200
    is an error, counted by path and kind, and not in the latencies. ``cpu_share`` is for
    whoever runs it to fill in (the server's CPU use meanwhile).
    """

    def __init__(self, port, paths, addresses, keep_alive=True):
        self.port, self.paths, self.addresses = port, paths, addresses
        self.keep_alive = keep_alive
        self.latencies = {label: [] for label in paths}
        self.errors = {label: Counter() for label in paths}
        self.connection, self.source, self.used = None, None, 0
        self.cpu_share = None

    def run(self, seconds):
        """Request for ``seconds``; returns self."""
        deadline = time.monotonic() + seconds
        labels = itertools.cycle(self.paths)
        try:
            while time.monotonic() < deadline:
                self._request(next(labels))
        finally:
            self._drop()
        return self

    def _drop(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def _failed(self, label, kind):
        self.errors[label][kind] += 1
        self._drop()
        time.sleep(0.01)  # a server that refuses everything must not make this spin

    def _request(self, label):
        if self.source is None or self.used >= ADDRESS_BUDGET * len(self.paths):
            self._drop()
            self.source, self.used = self.addresses.take(), 0
        if self.connection is None:
            self.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=HTTP_TIMEOUT_S, source_address=(self.source, 0)
            )
            if self.keep_alive:
                try:
                    self.connection.connect()
                except OSError as error:
                    return self._failed(label, type(error).__name__)
        self.used += 1
        started = time.perf_counter()
        try:
            self.connection.request("GET", self.paths[label])
            response = self.connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            return self._failed(label, type(error).__name__)
        elapsed = time.perf_counter() - started
        if response.status != 200:
            self.errors[label][f"HTTP {response.status}"] += 1
        else:
            self.latencies[label].append(elapsed)
        if not self.keep_alive or response.will_close:
            self._drop()


def public_paths(key):
    """The two public GETs a probe times, by label."""
    return {
        "GET /healthz": "/healthz",
        "GET /api/v1/displays/<key>/state": f"/api/v1/displays/{key}/state",
    }


def pooled(probe):
    """Every path of a probe together: ``(latencies, errors)``."""
    return (
        [value for values in probe.latencies.values() for value in values],
        sum(probe.errors.values(), Counter()),
    )


def snapshot_seconds(port, key, source):
    """Time for a new display's raw Socket.IO connection to get its ``snapshot``: from the
    TCP connect through the upgrade, Engine.IO's open and ``40{"screen": key}``."""
    started = time.perf_counter()
    with RawWebSocket(port, source=source) as ws:
        ws.send_text("40" + json.dumps({"screen": key}))
        while True:
            opcode, payload = ws.recv_frame()
            if opcode == 0x8 or payload.startswith(b"44"):
                raise ConnectionError(f"refused: {payload[:80]!r}")
            if payload == b"2":  # Engine.IO ping
                ws.send_text("3")
            elif payload.startswith(b'42["snapshot"'):
                return time.perf_counter() - started


def snapshot_probe(port, key, addresses, seconds):
    """New display connections one after the other for ``seconds``: ``(times, errors)``."""
    times, errors = [], Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            times.append(snapshot_seconds(port, key, addresses.take()))
        except OSError as error:
            errors[type(error).__name__] += 1
            time.sleep(0.01)
    return times, errors


# Server facts ---------------------------------------------------------------------------------


def cpu_seconds(pid):
    """CPU time (user and system, every thread) the process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_files(pid):
    """How many file descriptors the process has open (its connections among them)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


class Sampler(threading.Thread):
    """Reads the server's resident memory and open files every ``RSS_SAMPLE_S``; the peaks."""

    def __init__(self, pid):
        super().__init__(daemon=True, name="sampler")
        self.pid = pid
        self.peak_kib = self.peak_files = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(RSS_SAMPLE_S):
            try:
                self.peak_kib = max(self.peak_kib, resident_kib(self.pid))
                self.peak_files = max(self.peak_files, open_files(self.pid))
            except OSError:  # the server is gone
                return

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop.set()
        self.join()


def server_log_note(server):
    """What the server's output says: its lines, the socket guard's closings, tracebacks."""
    output = server.output
    lines = output.count("\n")
    return (
        f"Server log: {lines} lines,"
        f" {output.count('socket: closed a connection')} 'socket: closed a connection'"
        f" ({output.count('did not log in')} 'did not log in'),"
        f" {output.count('Traceback')} 'Traceback'"
    )


# Formatting -----------------------------------------------------------------------------------


def ms(seconds):
    """Seconds as milliseconds, for a table cell."""
    return f"{seconds * 1000:.2f}"


def latency_cells(values):
    """count | p50 | p90 | p99 | max, in ms."""
    if not values:
        return "0 | - | - | - | -"
    values = sorted(values)
    return " | ".join(
        [str(len(values))]
        + [ms(percentile(values, f)) for f in (0.5, 0.9, 0.99)]
        + [ms(values[-1])]
    )


def error_cell(errors):
    """The number of errors, with their kinds: ``3 (2 ConnectionResetError, 1 HTTP 429)``."""
    total = sum(errors.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{n} {kind}" for kind, n in errors.most_common()) + ")"


def mib(kib):
    """KiB as MiB, for a table cell."""
    return f"{kib / 1024:.1f}"


def title(text):
    """A part's heading."""
    print(f"\n### {text}\n")


# The parts ------------------------------------------------------------------------------------


class Bench:
    """What every part shares: the demo's template, its screen key, the client addresses."""

    def __init__(self, directory, args):
        self.directory, self.args = directory, args
        self.template, self.tokens = prepare_database(directory)
        self.key = screen_key(self.template)
        self.addresses = LoopbackAddresses()

    @contextlib.contextmanager
    def server(self, name):
        """A server of the part ``name`` on its own copy of the demo; stopped afterwards."""
        path = copy_database(self.template, os.path.join(self.directory, f"{name}.db"))
        with ServerPool() as pool:
            server = pool.start(path)
            try:
                Probe(server.port, public_paths(self.key), self.addresses).run(0.5)  # warm-up
                yield server
            finally:
                server.stop()

    def probe(self, server, seconds, keep_alive=True):
        """The public endpoints timed for ``seconds``, with the server's CPU use meanwhile."""
        cpu = cpu_seconds(server.process.pid)
        started = time.monotonic()
        probe = Probe(server.port, public_paths(self.key), self.addresses, keep_alive).run(seconds)
        probe.cpu_share = (cpu_seconds(server.process.pid) - cpu) / (time.monotonic() - started)
        return probe


def screen_key(template):
    """The key of the demo's waiting-room screen."""
    from queue_app.rules import displays
    from queue_app.storage.db import connect

    db = connect(template)
    try:
        return displays.list_displays(db)[0]["key"]
    finally:
        db.close()


def part_frames(bench):
    """1. HTTP latency without abuse, then while one client sends megabyte frames."""
    seconds = bench.args.seconds
    with bench.server("frames") as server:
        quiet = bench.probe(server, seconds)
        print("frames: baseline done", file=sys.stderr)
        with abusing(server.port, 1) as tally:
            abused = bench.probe(server, seconds)
        print("frames: abuse done", file=sys.stderr)
        with abusing(server.port, 1, "fragments") as fragments_tally:
            fragmented = bench.probe(server, seconds)
        print("frames: fragments done", file=sys.stderr)
        note = server_log_note(server)
    title("1. Megabyte frames")
    print(
        f"One client times GET /healthz and GET /api/v1/displays/<key>/state in turn, one"
        f" request at a time on keep-alive connections, for {seconds} s with no abuse, then"
        f" for {seconds} s while ONE other client opens a WebSocket, sends a masked 1 MB"
        " frame, is closed, and again, then while it sends the megabyte as 4000-byte"
        " fragments instead; latency in ms at the client.\n"
    )
    print(
        "| while | request | count | p50 | p90 | p99 | max | errors | abusive frames | server CPU |"
    )
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for name, probe, frames in (
        ("no abuse", quiet, "-"),
        ("1 client sending 1 MB frames", abused, tally.get("frames", "?")),
        ("1 client sending 1 MB in fragments", fragmented, fragments_tally.get("frames", "?")),
    ):
        for label, values in probe.latencies.items():
            print(
                f"| {name} | {label} | {latency_cells(values)} |"
                f" {error_cell(probe.errors[label])}"
                f" | {frames} | {probe.cpu_share:.0%} |"
            )
    print(
        f"\nThe abusive client, whole frames: {abuse_summary(tally, seconds)}; in fragments:"
        f" {abuse_summary(fragments_tally, seconds)}. {note}."
    )


def abuse_summary(tally, seconds):
    """One sentence on what the abusive clients did and how the server answered."""
    frames = tally.get("frames", 0)
    closings = ", ".join(
        f"{n} {kind}"
        for kind, n in sorted(tally.items())
        if kind.startswith("closed ") or kind == "reset"
    )
    return (
        f"{frames} frames ({frames / seconds:.0f}/s),"
        f" {tally.get('bytes sent', 0) / MEGABYTE:.0f} MB taken by the kernel,"
        f" {tally.get('send cut', 0)} sends cut short; endings: {closings or 'none'};"
        f" {tally.get('handshake errors', 0)} failed handshakes,"
        f" {tally.get('still running', 0)} clients still running at the end"
    )


def open_idle(port, count, addresses):
    """``count // 2`` silent WebSockets (``SOCKETS_PER_ADDRESS`` from each loopback address
    taken from ``addresses``, as many devices would: the server limits how many one address
    opens) and ``count - count // 2`` half-sent requests: ``(entries, failures)``, an entry
    being ``[kind, socket, when it opened]``."""
    entries, failures, lock = [], Counter(), threading.Lock()
    sources = [addresses.take() for _ in range(0, count // 2, SOCKETS_PER_ADDRESS)]

    def websocket(index):
        try:
            sock = RawWebSocket(port, source=sources[index // SOCKETS_PER_ADDRESS]).sock
        except OSError as error:
            with lock:
                failures[f"WebSocket: {type(error).__name__}"] += 1
            return
        entries.append(["silent WebSocket", sock, time.monotonic()])

    def half_sent(_):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
        except OSError as error:
            with lock:
                failures[f"HTTP: {type(error).__name__}"] += 1
            return
        entries.append(["half-sent HTTP request", sock, time.monotonic()])
        try:
            sock.sendall(HALF_SENT)
        except OSError as error:  # still watched: the server already hung up
            with lock:
                failures[f"HTTP send: {type(error).__name__}"] += 1

    pool = ThreadPoolExecutor(max_workers=IDLE_OPENERS)
    try:
        list(pool.map(websocket, range(count // 2)))  # the slow ones first
        list(pool.map(half_sent, range(count - count // 2)))
    except BaseException:
        pool.shutdown(cancel_futures=True)
        for entry in entries:
            entry[1].close()
        raise
    pool.shutdown()
    return entries, failures


class CloseWatcher(threading.Thread):
    """Notes when the server ends each idle connection (end of stream, or a reset)."""

    def __init__(self, entries):
        super().__init__(daemon=True, name="close-watcher")
        self.entries = entries
        self.closed_at = {}  # index in entries -> when
        self.stop = threading.Event()

    def run(self):
        selector = selectors.DefaultSelector()
        try:
            for index, (_, sock, _) in enumerate(self.entries):
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ, index)
            while len(self.closed_at) < len(self.entries) and not self.stop.is_set():
                for key, _ in selector.select(0.2):
                    try:
                        if key.fileobj.recv(65536):
                            continue  # e.g. Engine.IO's close packet before the end
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    self.closed_at[key.data] = time.monotonic()
                    selector.unregister(key.fileobj)
        finally:
            selector.close()


def new_clients(bench, server):
    """Rows ``(client, latencies, errors)`` of the three kinds of new client, one after the
    other, ``IDLE_MEASURE_S`` each."""
    rows = []
    for keep_alive, name in ((True, "HTTP, keep-alive"), (False, "HTTP, new connection each")):
        probe = bench.probe(server, IDLE_MEASURE_S, keep_alive)
        rows.append((name + " (both GETs)", *pooled(probe)))
    times, errors = snapshot_probe(server.port, bench.key, bench.addresses, IDLE_MEASURE_S)
    rows.append(("Socket.IO display until its snapshot", times, errors))
    return rows


def part_idle(bench):
    """2. New clients' latency among thousands of idle connections, and their closing."""
    count = bench.args.idle
    entries, watcher = [], None
    with bench.server("idle") as server:
        try:
            before = new_clients(bench, server)
            entries, failures = open_idle(server.port, count, bench.addresses)
            if not entries:
                raise Failed(f"no idle connection could be opened: {error_cell(failures)}")
            first = min(entry[2] for entry in entries)
            last = max(entry[2] for entry in entries)
            watcher = CloseWatcher(entries)
            watcher.start()
            window = time.monotonic() - first
            during = new_clients(bench, server)
            window = (window, time.monotonic() - first, len(watcher.closed_at))
            print("idle: measured; watching the idle connections close", file=sys.stderr)
            watcher.stop.wait(max(0.0, last + CLOSE_WATCH_S - time.monotonic()))
        finally:
            if watcher is not None:
                watcher.stop.set()
                watcher.join()
            for entry in entries:
                entry[1].close()
        note = server_log_note(server)
    title("2. Idle connections")
    print(
        f"New clients timed one after the other ({IDLE_MEASURE_S} s each), with no idle"
        f" connection, then while {len(entries)} idle ones are open ({count // 2} silent"
        f" WebSockets, then {count - count // 2} requests sent without their final blank"
        f" line, opened in {last - first:.1f} s by {IDLE_OPENERS} threads; measured from"
        f" {window[0]:.1f} s to {window[1]:.1f} s after the first opened, when"
        f" {window[2]} of them had been closed); latency in ms.\n"
    )
    print("| while | client | count | p50 | p90 | p99 | max | errors |")
    print("|---|---|--:|--:|--:|--:|--:|--:|")
    for name, rows in (("no idle connection", before), (f"{len(entries)} idle", during)):
        for client, values, errors in rows:
            print(f"| {name} | {client} | {latency_cells(values)} | {error_cell(errors)} |")
    print(
        f"\nThe idle connections, watched until {CLOSE_WATCH_S} s after the last one opened;"
        " lifetime: from its opening until the server ended it, in s.\n"
    )
    print("| kind | opened | closed by the server | still open | lifetime min | p50 | max |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for kind in ("half-sent HTTP request", "silent WebSocket"):
        indexes = [i for i, entry in enumerate(entries) if entry[0] == kind]
        lives = sorted(
            watcher.closed_at[i] - entries[i][2] for i in indexes if i in watcher.closed_at
        )
        cells = (
            f"{lives[0]:.1f} | {statistics.median(lives):.1f} | {lives[-1]:.1f}"
            if lives
            else "- | - | -"
        )
        print(f"| {kind} | {len(indexes)} | {len(lives)} | {len(indexes) - len(lives)} | {cells} |")
    if failures:
        print(f"\nNot opened: {error_cell(failures)}.")
    print(f"\n{note}.")


def part_memory(bench):
    """3. The server's memory, and HTTP latency, while many clients send megabyte frames."""
    seconds, count = bench.args.seconds, bench.args.abusers
    with bench.server("memory") as server:
        pid = server.process.pid
        before, files_before = resident_kib(pid), open_files(pid)
        with Sampler(pid) as sampler:
            with abusing(server.port, count) as tally:
                probe = bench.probe(server, seconds)
            stopped = time.monotonic()
            readings = [(resident_kib(pid), open_files(pid))]
            for delay in LATER_S:
                time.sleep(max(0.0, stopped + delay - time.monotonic()))
                readings.append((resident_kib(pid), open_files(pid)))
        print("memory: done", file=sys.stderr)
        note = server_log_note(server)
    title("3. Memory with abusive clients")
    later = [f"{delay} s later" for delay in LATER_S]
    print(
        f"{count} clients at once (threads of a child process) send masked 1 MB frames, each"
        f" reconnecting when closed, for {seconds} s; the server's VmRSS in MiB and its open"
        f" files: before, at the peak (sampled every {RSS_SAMPLE_S * 1000:.0f} ms), when the"
        f" clients have stopped, and {' and '.join(later)}.\n"
    )
    print("| abusers | frames | | before | peak | at the end | " + " | ".join(later) + " |")
    print("|--:|--:|---|--:|--:|--:|" + "--:|" * len(later))
    peak = max(before, sampler.peak_kib, readings[0][0])
    print(
        f"| {count} | {tally.get('frames', '?')} | RSS MiB | {mib(before)} | {mib(peak)} | "
        + " | ".join(mib(rss) for rss, _ in readings)
        + " |"
    )
    print(
        f"| | | open files | {files_before} | {max(files_before, sampler.peak_files)} | "
        + " | ".join(str(files) for _, files in readings)
        + " |"
    )
    print(
        "\nMeanwhile one client timed GET /healthz and GET /api/v1/displays/<key>/state in"
        " turn on keep-alive connections (both together; latency in ms).\n"
    )
    print("| while | count | p50 | p90 | p99 | max | errors | server CPU |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    values, errors = pooled(probe)
    print(
        f"| {count} clients sending 1 MB frames | {latency_cells(values)} | {error_cell(errors)}"
        f" | {probe.cpu_share:.0%} |"
    )
    print(f"\nThe abusive clients: {abuse_summary(tally, seconds)}. {note}.")


def login_attempt(port, source, username):
    """``GET /login`` then ``POST /login`` as a browser does, from ``source``; the POST's
    ``(status, seconds)``, the status 401 for a 200 that does not say the login failed."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=HTTP_TIMEOUT_S, source_address=(source, 0)
    )
    try:
        connection.request("GET", "/login")
        page = connection.getresponse()
        html = page.read().decode()
        cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_all("Set-Cookie", []))
        token = CSRF_FIELD.search(html)
        if page.status != 200 or not token:
            raise Failed(f"GET /login: HTTP {page.status}, no CSRF token")
        body = urlencode(
            {"csrf_token": token[1], "username": username, "password": "not-the-password"}
        )
        started = time.perf_counter()
        connection.request(
            "POST",
            "/login",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies},
        )
        answer = connection.getresponse()
        shown = answer.read()
        seconds = time.perf_counter() - started
        if answer.status == 200 and LOGIN_FAILED not in shown:  # e.g. the CSRF token refused
            return 401, seconds
        return answer.status, seconds
    finally:
        connection.close()


def part_login(bench):
    """4. A failed login's time: existing user with a wrong password, or an unknown name."""
    names = {"existing user, wrong password": EXISTING_USER, "unknown user name": UNKNOWN_USER}
    times = {label: [] for label in names}
    errors = Counter()
    with bench.server("login") as server:
        for attempt in range(2 * (LOGIN_WARM_UP + LOGIN_EACH)):
            label = list(names)[attempt % 2]
            status, seconds = login_attempt(server.port, bench.addresses.take(), names[label])
            if status != 200:  # a failed login shows the form again; 429 is the limit
                errors[f"{label}: HTTP {status}"] += 1
            elif attempt >= 2 * LOGIN_WARM_UP:
                times[label].append(seconds)
        print("login: done", file=sys.stderr)
    title("4. Login timing")
    print(
        f"POST /login after GET /login (its cookie and CSRF token, like a browser), each"
        f" attempt from its own client address, {LOGIN_EACH} of each kind alternately after"
        f" {LOGIN_WARM_UP} of each not counted; time of the POST in ms.\n"
    )
    print("| attempt | user name | count | p50 | mean | min | max |")
    print("|---|---|--:|--:|--:|--:|--:|")
    for label, values in times.items():
        values.sort()
        cells = (
            f"{ms(percentile(values, 0.5))} | {ms(statistics.mean(values))} |"
            f" {ms(values[0])} | {ms(values[-1])}"
            if values
            else "- | - | - | -"
        )
        print(f"| {label} | {names[label]} | {len(values)} | {cells} |")
    wrong, unknown = times.values()
    if wrong and unknown:
        print(
            f"\nDifference of the means (wrong password − unknown name):"
            f" {ms(statistics.mean(wrong) - statistics.mean(unknown))} ms;"
            f" of the medians: {ms(statistics.median(wrong) - statistics.median(unknown))} ms."
        )
    if errors:
        print(f"\nErrors: {error_cell(errors)}.")


PARTS = {"frames": part_frames, "idle": part_idle, "memory": part_memory, "login": part_login}


# Main -----------------------------------------------------------------------------------------


def raise_file_limit():
    """Soft RLIMIT_NOFILE up to the hard one: thousands of client sockets in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seconds",
        type=float,
        default=10,
        help="length of each measurement of parts 1 and 3 (default 10)",
    )
    parser.add_argument(
        "--idle",
        type=int,
        default=2000,
        help="idle connections of part 2, half of each kind (default 2000)",
    )
    parser.add_argument(
        "--abusers", type=int, default=300, help="abusive clients at once in part 3 (default 300)"
    )
    parser.add_argument("--only", choices=PARTS, help="run only this part")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.idle < 2 or args.abusers < 1:
        parser.error("--seconds must be positive, --idle at least 2, --abusers at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    files = raise_file_limit()
    if args.idle + 256 > files:
        sys.exit(f"this process may open only {files} files: lower --idle")
    facts = machine_facts("eventlet", None)[:3] + [
        (
            "clients",
            "this process (http.client, raw sockets; one client address 127.x.y.z per"
            f" {ADDRESS_BUDGET} requests per path); abusive ones in a child process",
        ),
        ("limits", f"open files {files}"),
    ]
    for name, value in facts:
        print(f"{name:8} {value}")
    sys.stdout.flush()
    directory = tempfile.mkdtemp(prefix="torn-abuse-bench-")
    try:
        bench = Bench(directory, args)
        for name in (args.only,) if args.only else PARTS:
            PARTS[name](bench)
            sys.stdout.flush()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
