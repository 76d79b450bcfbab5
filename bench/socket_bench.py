"""Socket.IO push benchmark: how long a call takes to reach every connected screen and desk.

    .venv/bin/python bench/socket_bench.py                        # make bench-socket
    .venv/bin/python bench/socket_bench.py --modes eventlet --clients 1000 --calls 50

For each async mode and each N (default 50, 200 and 1000), a server of its own starts on a
fresh copy of the demo town hall; N clients connect (half as the waiting-room display with
its screen key, half as desks with a clerk's API token and ``desk`` 1); then ``--calls``
tickets are issued and called over HTTP, one at a time; each call waits until every client
has had the issue's broadcasts (so it is timed on a quiet server). For each call, the clock starts
just before the ``call-next`` request is sent and stops, for each client, when its
``ticket_called`` frame arrives: p50/p99/max over every (call, client) pair, and the mean
time until the last client had it. The server's resident memory is read from /proc before
and after the clients connect: the difference per client.

The clients are raw Engine.IO v4 websocket connections (the ``websockets`` package, on one
asyncio loop of this process) that only note the arrival time of each frame, so that the
measurement is not dominated by a heavy client; they answer the server's pings. The HTTP
calls come from a thread of the same process. Not a test: it measures.
"""

import argparse
import asyncio
import gc
import json
import os
import shutil
import sys
import tempfile
import time

import websockets

from http_bench import (
    OFFICE,
    Client,
    copy_database,
    expect,
    machine_facts,
    percentile,
    prepare_database,
)

CONNECT_AT_ONCE = 50  # below the listen backlog, so that no SYN is dropped and retried
PER_ADDRESS = 100  # clients sharing one client address
WAIT_S = 30


def resident_kib(pid):
    """The process's resident set size (VmRSS) in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class Screen:
    """One raw Socket.IO connection that timestamps the ``ticket_called`` frames it gets."""

    def __init__(self, bench, url, auth, source):
        self.bench, self.auth, self.source = bench, auth, source
        self.address = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.connected = asyncio.Event()
        self.task = None

    async def run(self):
        async with websockets.connect(
            self.address, max_size=None, compression=None, local_addr=(self.source, 0)
        ) as ws:
            opening = await ws.recv()  # Engine.IO "open": 0{"sid",...}
            assert opening.startswith("0"), opening
            await ws.send("40" + json.dumps(self.auth))
            async for frame in ws:
                if frame == "2":  # server ping
                    await ws.send("3")
                elif frame.startswith('42["ticket_called"'):
                    self.bench.arrived(time.perf_counter(), frame)
                elif frame.startswith('42["queue_changed"'):
                    self.bench.queue_changed(frame)
                elif frame.startswith("40"):
                    self.connected.set()
                elif frame.startswith("44"):
                    raise RuntimeError(f"connection refused: {frame}")


class Bench:
    """N screens on one server, and the calls whose arrival they time."""

    def __init__(self, expected):
        self.expected = expected
        self.by_code = {}  # code -> [started, arrival moments]
        self.done = {}
        self.settled = asyncio.Event()
        self.seen_waiting = 0

    def queue_changed(self, frame):
        """Count the clients that have seen the queue with one ticket waiting (after an issue:
        everything broadcast before it has reached them too, frames keep their order)."""
        if json.loads(frame[2:])[1]["waiting"] == 1:
            self.seen_waiting += 1
            if self.seen_waiting == self.expected:
                self.settled.set()

    def expect_issue(self):
        self.seen_waiting = 0
        self.settled.clear()

    def arrived(self, moment, frame):
        payload = json.loads(frame[2:])[1]
        code = payload["ticket"]["code"]
        entry = self.by_code[code]
        entry[1].append(moment)
        if len(entry[1]) == self.expected:
            self.done[code].set()

    def expect_call(self, code, started):
        self.by_code[code] = [started, []]
        self.done[code] = asyncio.Event()


def source_address(index):
    """The loopback address of the ``index``-th client: ``PER_ADDRESS`` clients each, as TVs
    and desks have addresses of their own (the server limits what one address opens)."""
    return f"127.2.0.{1 + index // PER_ADDRESS}"


async def connect_all(bench, url, auths):
    screens = [Screen(bench, url, auth, source_address(i)) for i, auth in enumerate(auths)]
    for start in range(0, len(screens), CONNECT_AT_ONCE):
        batch = screens[start : start + CONNECT_AT_ONCE]
        for screen in batch:
            screen.task = asyncio.create_task(screen.run())
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in batch)), WAIT_S)
    return screens


async def measure(url, tokens, screen_key, clients, calls):
    """Connect ``clients`` screens, make ``calls`` calls; the latencies and memory."""
    loop = asyncio.get_running_loop()
    bench = Bench(clients)
    auths = [
        {"screen": screen_key} if i % 2 == 0 else {"token": tokens["clerk"], "desk": 1}
        for i in range(clients)
    ]
    reception, clerk = Client(url, tokens["reception"]), Client(url, tokens["clerk"])
    screens = await connect_all(bench, url, auths)
    # The clients are the measuring instrument: keep the collector's pauses out of it.
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        latencies, last_arrivals, http_calls = [], [], []
        for _ in range(calls):
            bench.expect_issue()
            status, ticket, _ = await loop.run_in_executor(
                None, reception.request, "POST", "/tickets", {"office": OFFICE}
            )
            expect(status, 201, ticket, "issue")
            # Time each call on a quiet system: the issue's broadcasts have all arrived.
            await asyncio.wait_for(bench.settled.wait(), WAIT_S)
            started = time.perf_counter()
            bench.expect_call(ticket["code"], started)
            status, called, seconds = await loop.run_in_executor(
                None, clerk.request, "POST", "/desks/1/call-next"
            )
            expect(status, 200, called, "call-next")
            http_calls.append(seconds)
            await asyncio.wait_for(bench.done[ticket["code"]].wait(), WAIT_S)
            arrivals = bench.by_code[ticket["code"]][1]
            latencies.extend(moment - started for moment in arrivals)
            last_arrivals.append(max(arrivals) - started)
            status, body, _ = await loop.run_in_executor(
                None, clerk.request, "POST", f"/tickets/{called['id']}/finish"
            )
            expect(status, 200, body, "finish")
        return latencies, last_arrivals, http_calls
    finally:
        gc.enable()
        gc.unfreeze()
        for screen in screens:
            screen.task.cancel()
        await asyncio.gather(*(s.task for s in screens), return_exceptions=True)
        reception.close()
        clerk.close()


def one_run(mode, clients, calls, directory, template, tokens, screen_key):
    from servers import Server

    path = copy_database(template, os.path.join(directory, f"{mode}-{clients}.db"))
    server = Server(path, mode=mode).start()
    try:
        before = resident_kib(server.process.pid)
        latencies, last, http_calls = asyncio.run(
            measure(server.url, tokens, screen_key, clients, calls)
        )
        after = resident_kib(server.process.pid)
    finally:
        server.stop()
    values = sorted(latencies)
    return {
        "mode": mode,
        "clients": clients,
        "calls": calls,
        "p50": percentile(values, 0.50) * 1000,
        "p99": percentile(values, 0.99) * 1000,
        "max": values[-1] * 1000,
        "last_mean": sum(last) / len(last) * 1000,
        "http_p50": percentile(sorted(http_calls), 0.50) * 1000,
        "kib_per_client": (after - before) / clients,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="eventlet,threading")
    parser.add_argument("--clients", default="50,200,1000")
    parser.add_argument("--calls", type=int, default=100, help="calls per run (default 100)")
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="torn-socket-bench-")
    rows = []
    try:
        template, tokens = prepare_database(directory)
        from queue_app.rules import displays
        from queue_app.storage.db import connect

        db = connect(template)
        screen_key = displays.list_displays(db)[0]["key"]
        db.close()
        for mode in args.modes.split(","):
            for clients in (int(n) for n in args.clients.split(",")):
                rows.append(
                    one_run(mode, clients, args.calls, directory, template, tokens, screen_key)
                )
                print(f"{mode} {clients} clients: done", file=sys.stderr)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    for name, value in machine_facts(None, None)[:2]:
        print(f"{name:8} {value}")
    print(
        f"\n{args.calls} calls per run; latency from sending call-next to each client's"
        " ticket_called frame, in ms.\n"
    )
    print(
        "| mode | clients | p50 | p99 | max | mean until the last client | call-next HTTP p50"
        " | server KiB per client |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        print(
            f"| {row['mode']} | {row['clients']} | {row['p50']:.1f} | {row['p99']:.1f} |"
            f" {row['max']:.1f} | {row['last_mean']:.1f} | {row['http_p50']:.1f} |"
            f" {row['kib_per_client']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
