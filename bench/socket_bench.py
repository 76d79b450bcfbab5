"""Fan-out benchmark: how long a call takes to reach the last of N connected screens, and how
long the clerk's call-next waits meanwhile.

    .venv/bin/python bench/socket_bench.py                       # make bench-socket
    .venv/bin/python bench/socket_bench.py --screens 1000 --calls 200

For each N (default 100 and 1000 screens) a server of its own (``run.py``, eventlet) starts on
a fresh copy of the demo town hall. The screens are waiting-room displays (``{"screen": KEY}``):

- N - 10 load screens in a process of their own (``load_screens``): raw Engine.IO websocket
  connections on one asyncio loop (the ``websockets`` package), and ``--real`` of them real
  python-socketio clients; each counts the calls it hears, so that a lost message shows.
- 10 probe screens in this process, connected last (so the fan-out reaches them last): raw
  websockets that note when each ``ticket_called`` frame arrives.

Then ``--calls`` tickets are issued and called over HTTP, from this process, on keep-alive
connections, a call every ``--interval`` ms, by four desks in turn: a desk finishes its last
ticket (everyone's screen hears the building's count), then calls the next. Each call is timed
on a quiet server: once the probes have heard the issue before it and that finish. The clock
starts just before the ``call-next`` request is written and stops when the last probe has the
call: that is "to the last screen". The clerk's figure is the call-next request itself, from
writing it to having read the whole answer. The server's CPU time
(``/proc/<pid>/task/*/schedstat``) over the calls, per round (an issue, a finish and a
call-next), covers its HTTP work and the fan-outs to every screen; its idle CPU is measured for
``IDLE_S`` before the calls, the screens connected. The load process runs at a lower priority
(``nice`` 10): it stands for TVs on hardware of their own. Not a test: it measures.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time

import websockets

from loadgen import (
    OFFICE,
    copy_database,
    cpu_seconds,
    machine_facts,
    percentile,
    prepare_database,
    screen_key,
)

PROBES = 10
CONNECT_AT_ONCE = 50  # below the listen backlog, so that no SYN is dropped and retried
PER_ADDRESS = 100  # screens sharing one client address (the server limits one address)
WAIT_S = 30
IDLE_S = 5  # seconds of the server's idle CPU, the screens connected


def resident_kib(pid):
    """The process's resident set size (VmRSS) in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def source_address(index, base):
    """The loopback address of a screen: ``PER_ADDRESS`` each, as TVs have their own."""
    return f"127.{base}.{index // PER_ADDRESS // 250}.{1 + index // PER_ADDRESS % 250}"


async def raw_screen(url, key, source, on_frame, connected):
    """One raw Engine.IO v4 websocket display: answers pings, hands frames to ``on_frame``."""
    address = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    # Engine.IO's pings keep it alive (answered below): no WebSocket pings of the client's own,
    # which a TV's browser does not send either.
    async with websockets.connect(
        address,
        max_size=None,
        compression=None,
        local_addr=(source, 0),
        open_timeout=WAIT_S,
        ping_interval=None,
    ) as ws:
        opening = await ws.recv()  # Engine.IO "open": 0{"sid",...}
        assert opening.startswith("0"), opening
        await ws.send("40" + json.dumps({"screen": key}))
        async for frame in ws:
            if frame == "2":  # the server's ping
                await ws.send("3")
            elif frame.startswith("40"):
                connected.set()
            elif frame.startswith("44"):
                raise RuntimeError(f"connection refused: {frame}")
            else:
                on_frame(time.perf_counter(), frame)


async def connect_in_batches(starters):
    """Start the screens ``CONNECT_AT_ONCE`` at a time; their tasks once all are connected."""
    tasks = []
    for start in range(0, len(starters), CONNECT_AT_ONCE):
        events = []
        for starter in starters[start : start + CONNECT_AT_ONCE]:
            connected = asyncio.Event()
            tasks.append(asyncio.create_task(starter(connected)))
            events.append(connected)
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), WAIT_S)
    return tasks


# The load: a process of its own ----------------------------------------------------------------


def load_screens(url, key, raw, real, pipe):
    """Run in a child process: ``raw`` raw screens and ``real`` python-socketio screens; say
    "connected" on ``pipe``; told how many calls were made, answer how many each heard."""
    # They stand for TVs on hardware of their own: they give the cores to the server and the
    # probes first, so that a call's time is the server's more than theirs.
    os.nice(10)
    asyncio.run(_load(url, key, raw, real, pipe))


async def _load(url, key, raw, real, pipe):
    import socketio

    heard = {"raw": [], "real": []}

    def counter(kind):
        calls = {"n": 0}
        heard[kind].append(calls)

        def on_frame(_moment, frame):
            if frame.startswith('42["ticket_called"'):
                calls["n"] += 1

        return calls, on_frame

    def raw_starter(index):
        _, on_frame = counter("raw")
        source = source_address(index, 2)
        return lambda connected: raw_screen(url, key, source, on_frame, connected)

    clients = []

    def real_screen():
        """A real python-socketio client (its own threads: websocket-client)."""
        calls, _ = counter("real")
        client = socketio.Client(reconnection=False)

        @client.on("ticket_called")
        def on_call(_payload):
            calls["n"] += 1

        client.connect(url, auth={"screen": key}, transports=["websocket"], wait_timeout=WAIT_S)
        clients.append(client)

    tasks = await connect_in_batches([raw_starter(i) for i in range(raw)])
    loop = asyncio.get_running_loop()
    for _ in range(real):
        await loop.run_in_executor(None, real_screen)
    pipe.send("connected")
    calls = await loop.run_in_executor(None, pipe.recv)  # the calls made, once all are made
    # The calls' frames may still be on their way to the last screens: wait for them a while.
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and any(
        counts["n"] < calls for kind in heard.values() for counts in kind
    ):
        await asyncio.sleep(0.05)
    pipe.send({kind: [calls["n"] for calls in counts] for kind, counts in heard.items()})
    for client in clients:
        client.disconnect()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# The clerk and the probes: this process -------------------------------------------------------


class Http:
    """A keep-alive HTTP/1.1 client on asyncio streams, for the API with a bearer token."""

    def __init__(self, url, token):
        self.host, self.port = url.removeprefix("http://").split(":")
        self.token = token

    async def open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, int(self.port))

    async def request(self, method, path, body=None):
        """``(status, answer, seconds)``: from writing the request to having read it all."""
        data = b"" if body is None else json.dumps(body).encode()
        head = (
            f"{method} /api/v1{path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: Bearer {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        started = time.perf_counter()
        self.writer.write(head.encode() + data)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        answer = json.loads(await self.reader.readexactly(length))
        seconds = time.perf_counter() - started
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return status, answer, seconds

    def close(self):
        self.writer.close()


class Probes:
    """The probe screens: when each heard each call, and the issues they have heard."""

    def __init__(self):
        self.calls = {}  # code -> [arrival moments]
        self.issued = {}  # waiting count -> probes that heard it
        self.occupancy = 0  # occupancy_changed frames heard
        self.changed = asyncio.Event()

    def on_frame(self, moment, frame):
        if frame.startswith('42["ticket_called"'):
            code = json.loads(frame[2:])[1]["ticket"]["code"]
            self.calls.setdefault(code, []).append(moment)
            self.changed.set()
        elif frame.startswith('42["occupancy_changed"'):
            self.occupancy += 1
            self.changed.set()
        elif frame.startswith('42["queue_changed"'):
            waiting = json.loads(frame[2:])[1]["waiting"]
            self.issued[waiting] = self.issued.get(waiting, 0) + 1
            self.changed.set()

    async def until(self, condition):
        async def wait():
            while not condition():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), WAIT_S)


async def measure(server, tokens, key, screens, calls, interval, real):
    """Connect the screens, make the calls; the figures of one run."""
    url, pid = server.url, server.process.pid
    before = resident_kib(pid)
    here, there = multiprocessing.get_context("spawn").Pipe()
    load = multiprocessing.get_context("spawn").Process(
        target=load_screens, args=(url, key, screens - PROBES - real, real, there)
    )
    load.start()
    loop = asyncio.get_running_loop()
    if await asyncio.wait_for(loop.run_in_executor(None, here.recv), 120) != "connected":
        raise RuntimeError("the load screens did not connect")
    probes = Probes()
    starters = [
        lambda connected, i=i: raw_screen(
            url, key, source_address(i, 3), probes.on_frame, connected
        )
        for i in range(PROBES)
    ]
    tasks = await connect_in_batches(starters)
    memory = (resident_kib(pid) - before) / screens
    reception, clerk = Http(url, tokens["reception"]), Http(url, tokens["clerk"])
    await reception.open()
    await clerk.open()
    to_last, clerk_waits, desks = [], [], [1, 2, 3, 4]
    held = {}  # desk -> the ticket it serves
    idle_from = cpu_seconds(pid)
    await asyncio.sleep(IDLE_S)  # the screens connected, nothing said
    idle = (cpu_seconds(pid) - idle_from) / IDLE_S * 1e3
    cpu_before = cpu_seconds(pid)
    try:
        for n in range(calls):
            paced = time.perf_counter() + interval
            _, ticket, _ = await reception.request("POST", "/tickets", {"office": OFFICE})
            await probes.until(lambda: probes.issued.get(1, 0) >= PROBES)
            probes.issued.clear()
            desk = desks[n % len(desks)]
            if desk in held:
                # The desk's last citizen leaves: every screen hears the building's count.
                probes.occupancy = 0
                await clerk.request("POST", f"/tickets/{held.pop(desk)}/finish")
                await probes.until(lambda: probes.occupancy >= PROBES)
            started = time.perf_counter()
            _, called, seconds = await clerk.request("POST", f"/desks/{desk}/call-next")
            clerk_waits.append(seconds)
            held[desk] = called["id"]
            code = ticket["code"]
            await probes.until(lambda code=code: len(probes.calls.get(code, ())) >= PROBES)
            to_last.append(max(probes.calls[code]) - started)
            await asyncio.sleep(max(paced - time.perf_counter(), 0))
        cpu = (cpu_seconds(pid) - cpu_before) / calls * 1e3
        here.send(calls)
        heard = await asyncio.wait_for(loop.run_in_executor(None, here.recv), WAIT_S)
    finally:
        reception.close()
        clerk.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        load.join(WAIT_S)
        if load.is_alive():
            load.kill()
    lost = sum(calls - n for counts in heard.values() for n in counts)
    lost += PROBES * calls - sum(len(moments) for moments in probes.calls.values())
    return {
        "screens": screens,
        "real": real,
        "calls": calls,
        "to_last": sorted(to_last),
        "clerk": sorted(clerk_waits),
        "cpu_ms_per_call": cpu,
        "idle_ms_per_s": idle,
        "lost": lost,
        "kib_per_screen": memory,
    }


def one_run(screens, calls, interval, real, directory, template, tokens, key):
    from servers import Server

    path = copy_database(template, os.path.join(directory, f"screens-{screens}.db"))
    server = Server(path).start()
    try:
        return asyncio.run(measure(server, tokens, key, screens, calls, interval, real))
    finally:
        server.stop()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--screens", default="100,1000", help="screens per run (default 100,1000)")
    parser.add_argument("--calls", type=int, default=200, help="calls per run (default 200)")
    parser.add_argument("--interval", type=float, default=100, help="ms between calls")
    parser.add_argument("--real", type=int, default=10, help="python-socketio load screens")
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="torn-socket-bench-")
    rows = []
    try:
        template, tokens = prepare_database(directory)
        key = screen_key(template)
        for screens in (int(n) for n in args.screens.split(",")):
            rows.append(
                one_run(
                    screens,
                    args.calls,
                    args.interval / 1000,
                    args.real,
                    directory,
                    template,
                    tokens,
                    key,
                )
            )
            print(f"{screens} screens: done", file=sys.stderr)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    for name, value in machine_facts(None, None)[:2]:
        print(f"{name:8} {value}")
    print(
        f"\n{args.calls} calls per run, one every {args.interval:.0f} ms; ms from writing"
        f" call-next to the last of {PROBES} probe screens (connected last) having the call,"
        " and the call-next request itself.\n"
    )
    print(
        "| screens | to the last screen p50 | p99 | max | call-next p50 | p99 | max"
        " | server CPU ms per round | idle CPU ms/s | calls lost | server KiB per screen |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        last, clerk = row["to_last"], row["clerk"]
        print(
            f"| {row['screens']} | {percentile(last, 0.5) * 1000:.1f} |"
            f" {percentile(last, 0.99) * 1000:.1f} | {last[-1] * 1000:.1f} |"
            f" {percentile(clerk, 0.5) * 1000:.2f} | {percentile(clerk, 0.99) * 1000:.2f} |"
            f" {clerk[-1] * 1000:.2f} | {row['cpu_ms_per_call']:.2f} |"
            f" {row['idle_ms_per_s']:.1f} | {row['lost']} |"
            f" {row['kib_per_screen']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
