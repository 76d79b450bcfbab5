"""Benchmark of the statistics API (``/api/v1/stats`` and ``/stats.csv``) on a year of
history, on a real server (run.py, eventlet) with one client.

    .venv/bin/python bench/stats_bench.py [--requests 15] [--days 250]   # part of make bench

In a temporary directory, the demo town hall is loaded and ``--days`` working days before
today are filled with history (``flask --app queue_app seed-demo``, then ``seed-history
--days N``: 600 tickets a day, 150,000 for 250 days), a manager's API token is created
(``create-token``), and a server is started on that file. Then, over one keep-alive
``http.client`` connection, for each range (the last day with tickets, the last full
calendar month, the last 365 days up to yesterday) and each grouping (day, hour, weekday,
office, desk): 2 warm-ups, then ``--requests`` timed requests; also the year by day for one
office, and the year by day as CSV. Every answer must be 200 with rows, or the benchmark
stops. Prints the database's size and tickets, then p50 and p90 per request. Not a test: it
measures.
"""

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from http_bench import Client, Failed, expect, machine_facts, percentile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

WARM_UP = 2
GROUPS = ("day", "hour", "weekday", "office", "desk")
OFFICE = "OAC"  # the office of the filtered row (half the demo's tickets)
# The targets: p50 in ms, for every grouping of that range.
TARGETS = {"day": 50, "month": 300, "year": 300}


def flask_command(path, *args):
    """``flask --app queue_app ARGS`` on the database ``path``; its output."""
    env = {key: value for key, value in os.environ.items() if key != "QUEUE_MESSAGE_QUEUE"}
    env.update(QUEUE_DATABASE=path)
    # A fixed secret key, as servers.Server sets: no key file written into instance/.
    env.setdefault("QUEUE_SECRET_KEY", "torn-test-server")
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "queue_app", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise Failed(f"flask {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return done.stdout


def prepare_history(directory, days):
    """The demo town hall with ``days`` working days of history; ``(path, token, seconds)``.

    ``seconds`` is how long ``seed-history`` took."""
    path = os.path.join(directory, "stats.db")
    flask_command(path, "seed-demo")
    started = time.perf_counter()
    flask_command(path, "seed-history", "--days", str(days))
    seconds = time.perf_counter() - started
    token = flask_command(path, "create-token", "bench-stats", "--role", "manager").split()[-1]
    return path, token, seconds


def database_facts(path, today):
    """``(bytes on disk, tickets, days with tickets, last day with tickets before today)``."""
    size = sum(
        os.path.getsize(path + suffix) for suffix in ("", "-wal") if os.path.exists(path + suffix)
    )
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tickets, days = db.execute("SELECT count(*), count(DISTINCT day) FROM tickets").fetchone()
        (last,) = db.execute(
            "SELECT max(day) FROM tickets WHERE day < ?", [today.isoformat()]
        ).fetchone()
    finally:
        db.close()
    if last is None:
        raise Failed("no tickets before today: seed-history wrote nothing")
    return size, tickets, days, date.fromisoformat(last)


def ranges(today, last_day):
    """``{name: (from, to)}``: the last day with tickets, last full month, last 365 days."""
    month_end = today.replace(day=1) - timedelta(days=1)
    return {
        "day": (last_day, last_day),
        "month": (month_end.replace(day=1), month_end),
        "year": (today - timedelta(days=365), today - timedelta(days=1)),
    }


def get_csv(client, path):
    """``(status, text, seconds)`` of a GET whose answer is not JSON (``Client.request``
    decodes JSON), on the client's keep-alive connection with its token."""
    started = time.perf_counter()
    client.connection.request("GET", client.prefix + path, headers=client.headers)
    response = client.connection.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - started
    return response.status, data.decode(), elapsed


def measure(client, name, start, end, group, office, requests):
    """One row of the table: ``requests`` timed GETs after ``WARM_UP`` untimed ones."""
    query = {"from": start.isoformat(), "to": end.isoformat(), "group": group}
    if office:
        query["office"] = office
    path = "/stats?" + urlencode(query)
    latencies, rows = [], None
    for n in range(WARM_UP + requests):
        status, body, seconds = client.request("GET", path)
        expect(status, 200, body, f"GET {path}")
        if not body.get("rows") or not body["totals"].get("issued"):
            raise Failed(f"GET {path}: no rows or no tickets: {str(body)[:300]}")
        rows = len(body["rows"])
        if n >= WARM_UP:
            latencies.append(seconds)
    return row(name, start, end, group + (f", office {office}" if office else ""), rows, latencies)


def measure_csv(client, name, start, end, requests):
    query = {"from": start.isoformat(), "to": end.isoformat(), "group": "day"}
    path = "/stats.csv?" + urlencode(query)
    latencies, rows = [], None
    for n in range(WARM_UP + requests):
        status, text, seconds = get_csv(client, path)
        expect(status, 200, text[:300], f"GET {path}")
        lines = text.splitlines()
        if len(lines) < 2 or not lines[0].startswith("key,"):
            raise Failed(f"GET {path}: no rows: {text[:300]}")
        rows = len(lines) - 1
        if n >= WARM_UP:
            latencies.append(seconds)
    return row(name, start, end, "day, CSV", rows, latencies)


def row(name, start, end, group, rows, latencies):
    values = sorted(latencies)
    return {
        "range": name,
        "days": (end - start).days + 1,
        "group": group,
        "rows": rows,
        "requests": len(values),
        "p50": percentile(values, 0.50) * 1000,
        "p90": percentile(values, 0.90) * 1000,
        "max": values[-1] * 1000,
    }


def run(url, token, spans, requests):
    client = Client(url, token)
    results = []
    try:
        for name, (start, end) in spans.items():
            for group in GROUPS:
                results.append(measure(client, name, start, end, group, None, requests))
            print(f"{name}: done", file=sys.stderr)
        start, end = spans["year"]
        results.append(measure(client, "year", start, end, "day", OFFICE, requests))
        results.append(measure_csv(client, "year", start, end, requests))
    finally:
        client.close()
    if client.reconnects:
        print(f"note: the client reconnected {client.reconnects} time(s)", file=sys.stderr)
    return results


def print_report(args, facts, spans, results):
    size, tickets, days, seed_seconds = facts
    for name, value in machine_facts(args.mode, None):
        if name == "clients":
            value = "one, http.client with one keep-alive connection (a manager's API token)"
        print(f"{name:8} {value}")
    print(
        f"database {size:,} bytes ({size / 1e6:.1f} MB), {tickets:,} tickets over {days} days"
        f" (seed-history --days {args.days}: {seed_seconds:.1f} s)"
    )
    for name, (start, end) in spans.items():
        print(f"{name:8} {start} to {end}")
    print(f"\n{args.requests} requests per row after {WARM_UP} warm-ups; ms at the client.\n")
    print("| range | days | group | rows | p50 | p90 | max |")
    print("|---|--:|---|--:|--:|--:|--:|")
    for r in results:
        print(
            f"| {r['range']} | {r['days']} | {r['group']} | {r['rows']} | {r['p50']:.1f}"
            f" | {r['p90']:.1f} | {r['max']:.1f} |"
        )
    print()
    for name, target in TARGETS.items():
        worst = max(r["p50"] for r in results if r["range"] == name)
        verdict = "met" if worst < target else "MISSED"
        print(f"{name}: slowest p50 {worst:.1f} ms, target under {target} ms: {verdict}")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--requests", type=int, default=15, help="timed requests per row (default 15)"
    )
    parser.add_argument(
        "--days", type=int, default=250, help="working days of history (default 250)"
    )
    parser.add_argument(
        "--mode",
        choices=("eventlet", "threading"),
        default="eventlet",
        help="async mode of the server (default eventlet)",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from servers import Server

    # The server's local day, as the API and seed-history reckon it.
    zone = ZoneInfo(os.environ.get("QUEUE_TIMEZONE", "Europe/Madrid"))
    directory = tempfile.mkdtemp(prefix="torn-bench-stats-")
    try:
        path, token, seed_seconds = prepare_history(directory, args.days)
        today = datetime.now(zone).date()
        size, tickets, days, last_day = database_facts(path, today)
        spans = ranges(today, last_day)
        server = Server(path, mode=args.mode).start()
        try:
            results = run(server.url, token, spans, args.requests)
        except Failed:
            print(f"server output (end):\n{server.output[-3000:]}", file=sys.stderr)
            raise
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print_report(args, (size, tickets, days, seed_seconds), spans, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
