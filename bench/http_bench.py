"""HTTP benchmark of the queue API: issuing tickets and calling them, alone and in parallel.

    .venv/bin/python bench/http_bench.py                    # own eventlet server (make bench)
    .venv/bin/python bench/http_bench.py --mode threading   # own werkzeug server
    .venv/bin/python bench/http_bench.py --url http://127.0.0.1:5000 \\
        --token-reception T1 --token-clerk T2 [--token-admin T3]   # a server already running

Scenarios: 1, 4 and 8 clients (``--clients``); in each, ``--requests`` tickets are issued
by that many receptions at once and called and finished by that many desks at once, in
rounds of ``--depth`` so that the queue stays as short as a building's limit keeps it.

With no ``--url`` each scenario gets its own server on its own copy of the demo town hall
(all eight desks serving OAC, a building limit of 100000) in a temporary directory; the
servers are stopped and the directory removed at the end. Clients are threads of this
process, each with its own keep-alive ``http.client.HTTPConnection`` (standard library, so
that ``make bench`` needs nothing beyond ``make install``). Not a test: it measures.
"""

import argparse
import http.client
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

OFFICE = "OAC"
BIG_LIMIT = 100000
WARM_UP = 50


class Client:
    """One keep-alive connection to ``/api/v1`` with one role's token; times each request."""

    def __init__(self, url, token):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path.rstrip("/") + "/api/v1"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.reconnects = 0

    def request(self, method, path, body=None):
        """``(status, decoded JSON or None, seconds)``; reconnects once if the server hung up."""
        return self.raw(method, path, None if body is None else json.dumps(body))

    def raw(self, method, path, payload, content_type="application/json"):
        """``request`` with a body already encoded (a file to import, say) of its type."""
        headers = {**self.headers, "Content-Type": content_type}
        for attempt in (1, 2):
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
    """One row of the results table."""
    values = sorted(latencies)
    return {
        "scenario": name,
        "clients": clients,
        "requests": len(values),
        "per_s": len(values) / elapsed,
        "p50": percentile(values, 0.50) * 1000,
        "p90": percentile(values, 0.90) * 1000,
        "p99": percentile(values, 0.99) * 1000,
        "max": values[-1] * 1000,
    }


class Team:
    """``count`` client threads, each with its own keep-alive connections, kept for a scenario.

    ``team.run(work)`` runs ``work(i)`` in every thread at once (started together) and
    returns the results and the wall time from the common start to the last one's end.
    """

    def __init__(self, count, url, tokens):
        self.count = count
        self.receptions = [Client(url, tokens["reception"]) for _ in range(count)]
        self.clerks = [Client(url, tokens["clerk"]) for _ in range(count)]
        self.pool = ThreadPoolExecutor(max_workers=count)

    def run(self, work):
        barrier = threading.Barrier(self.count + 1)

        def client(i):
            barrier.wait()
            return work(i)

        futures = [self.pool.submit(client, i) for i in range(self.count)]
        barrier.wait()
        started = time.perf_counter()
        results = [future.result() for future in futures]
        return results, time.perf_counter() - started

    def close(self):
        self.pool.shutdown()
        for client in self.receptions + self.clerks:
            client.close()


def share(total, count, i):
    """Client ``i``'s share of ``total`` operations split over ``count`` clients."""
    return total // count + (i < total % count)


def scenario(url, tokens, desks, total, clients, depth):
    """``total`` tickets issued, then called and finished, by ``clients`` at once.

    It goes in rounds of ``depth`` tickets (issue them all, then call them all), so that the
    queue is never longer than ``depth``: the building's limit keeps a real queue short, and
    describing a waiting ticket costs more as its queue grows. Only the rounds are timed.
    Returns the rows for issue, call-next and finish.
    """
    team = Team(clients, url, tokens)
    timings = {"issue": ([], [0.0]), "call-next": ([], [0.0]), "finish": ([], [0.0])}

    def issue(count):
        def work(i):
            latencies = []
            for _ in range(share(count, clients, i)):
                status, body, seconds = team.receptions[i].request(
                    "POST", "/tickets", {"office": OFFICE}
                )
                expect(status, 201, body, "issue")
                latencies.append(seconds)
            return latencies

        return work

    def call(count):
        def work(i):
            calls, finishes = [], []
            for _ in range(share(count, clients, i)):
                status, ticket, seconds = team.clerks[i].request(
                    "POST", f"/desks/{desks[i]}/call-next"
                )
                expect(status, 200, ticket, f"call-next at desk {desks[i]}")
                calls.append(seconds)
                status, body, seconds = team.clerks[i].request(
                    "POST", f"/tickets/{ticket['id']}/finish"
                )
                expect(status, 200, body, "finish")
                finishes.append(seconds)
            return calls, finishes

        return work

    try:
        for done in range(0, total, depth):
            count = min(depth, total - done)
            results, elapsed = team.run(issue(count))
            timings["issue"][0].extend(s for r in results for s in r)
            timings["issue"][1][0] += elapsed
            results, elapsed = team.run(call(count))
            for index, name in enumerate(("call-next", "finish")):
                timings[name][0].extend(s for r in results for s in r[index])
                timings[name][1][0] += elapsed
    finally:
        team.close()
    # Each call is followed by its finish: both rows count calls per second.
    return [
        summary(name, clients, latencies, elapsed[0])
        for name, (latencies, elapsed) in timings.items()
    ]


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


def ready_target(url, tokens, needed):
    """Check the server, make room for ``needed`` tickets, free the OAC desks; their ids."""
    reception, clerk = Client(url, tokens["reception"]), Client(url, tokens["clerk"])
    try:
        for _ in range(WARM_UP):
            status, body, _ = reception.request("GET", "/offices")
            expect(status, 200, body, "GET /offices")
        status, state, _ = reception.request("GET", "/occupancy")
        expect(status, 200, state, "GET /occupancy")
        if state["limit"] - state["inside"] < needed:
            if not tokens.get("admin"):
                raise Failed(
                    f"the building has room for {state['limit'] - state['inside']}"
                    f" people, the benchmark issues {needed}: give --token-admin"
                )
            admin = Client(url, tokens["admin"])
            status, body, _ = admin.request(
                "PUT", "/occupancy", {"limit": min(BIG_LIMIT, state["inside"] + needed)}
            )
            admin.close()
            expect(status, 200, body, "PUT /occupancy")
        status, desks, _ = clerk.request("GET", "/desks")
        expect(status, 200, desks, "GET /desks")
        serving = [desk for desk in desks if OFFICE in desk["offices"] and not desk["paused"]]
        for desk in serving:
            if desk["current"]:
                status, body, _ = clerk.request("POST", f"/tickets/{desk['current']['id']}/finish")
                expect(status, 200, body, f"finishing desk {desk['id']}'s ticket")
        return [desk["id"] for desk in serving]
    finally:
        reception.close()
        clerk.close()


def machine_facts(mode, url):
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
        ("clients", "threads of one process, http.client with one keep-alive connection each"),
    ]


def print_report(facts, rows, args):
    for name, value in facts:
        print(f"{name:8} {value}")
    print(
        f"\n{args.requests} tickets per scenario, in rounds of {args.depth} (issue them,"
        " then call and finish them)"
        + ("" if args.url else ", each scenario on a fresh copy of the demo")
        + ";\nlatency in ms, measured at the client; call-next and finish rows count"
        " calls per second.\n"
    )
    print("| scenario | clients | requests | per s | p50 | p90 | p99 | max |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        print(
            f"| {row['scenario']} | {row['clients']} | {row['requests']} | {row['per_s']:.0f} |"
            f" {row['p50']:.2f} | {row['p90']:.2f} | {row['p99']:.2f} | {row['max']:.1f} |"
        )


ORDER = ("issue", "call-next", "finish")


def on_url(url, tokens, args, client_counts):
    """Every scenario against a server already running, one after the other."""
    desks = ready_target(url, tokens, args.depth)
    counts = [n for n in [1, *client_counts] if n <= len(desks)]
    if len(counts) < 1 + len(client_counts):
        print(
            f"note: only {len(desks)} desks serve {OFFICE}; at most that many clients",
            file=sys.stderr,
        )
    rows = []
    for clients in counts:
        rows.extend(scenario(url, tokens, desks, args.requests, clients, args.depth))
        print(f"{clients} client(s): done", file=sys.stderr)
    return rows


def on_own_servers(args, client_counts):
    """Every scenario on its own server and its own copy of the demo, so that none starts
    with the finished tickets of another; the temporary directory is removed at the end."""
    from servers import Server

    directory = tempfile.mkdtemp(prefix="torn-bench-")
    rows = []
    try:
        template, tokens = prepare_database(directory)
        for clients in [1, *client_counts]:
            path = copy_database(template, os.path.join(directory, f"queue-{clients}.db"))
            server = Server(path, mode=args.mode).start()
            try:
                desks = ready_target(server.url, tokens, args.depth)
                if clients > len(desks):
                    raise Failed(f"{clients} clients but only {len(desks)} desks")
                rows.extend(scenario(server.url, tokens, desks, args.requests, clients, args.depth))
            finally:
                server.stop()
            print(f"{clients} client(s): done ({args.mode} server on {path})", file=sys.stderr)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--mode",
        choices=("eventlet", "threading"),
        default="eventlet",
        help="async mode of the server this benchmark starts (default eventlet)",
    )
    parser.add_argument("--url", help="benchmark a server already running at this address")
    for role in ("reception", "clerk", "admin"):
        parser.add_argument(f"--token-{role}", help=f"API token of a {role} (with --url)")
    parser.add_argument(
        "--requests", type=int, default=2000, help="operations per scenario (default 2000)"
    )
    parser.add_argument(
        "--clients", default="4,8", help="concurrent client counts, comma separated (default 4,8)"
    )
    parser.add_argument(
        "--depth",
        type=int,
        default=100,
        help="longest queue: tickets issued per round before calling them (default 100)",
    )
    args = parser.parse_args(argv)
    if args.url and not (args.token_reception and args.token_clerk):
        parser.error("--url needs --token-reception and --token-clerk")
    return args


def main(argv=None):
    args = parse_args(argv)
    client_counts = [int(n) for n in args.clients.split(",") if n.strip()]
    if args.url:
        tokens = {
            "reception": args.token_reception,
            "clerk": args.token_clerk,
            "admin": args.token_admin,
        }
        rows = on_url(args.url, tokens, args, client_counts)
    else:
        rows = on_own_servers(args, client_counts)
    rows.sort(key=lambda row: (ORDER.index(row["scenario"]), row["clients"]))
    print_report(machine_facts(None if args.url else args.mode, args.url), rows, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
