"""Two server processes against one: what a second ``run.py`` on the same database adds.

    .venv/bin/python bench/cluster_bench.py               # make bench: about 20 s
    .venv/bin/python bench/cluster_bench.py --depth 5000 --clients 4 --requests 400
    .venv/bin/python bench/cluster_bench.py --quick

A private ``redis-server`` (``QUEUE_MESSAGE_QUEUE``, so that each process hears the others'
events) and a copy of the demo town hall with ``--depth`` tickets waiting in OAC, as in
``http_bench.py``. Then:

1. one process on a copy: ``--clients`` client processes all send to it;
2. two processes on another copy (one file for both): the same client processes, half to
   each; the listening pages (10 citizens, 2 screens) are split between them too;
3. the same two processes, only the first one's clients sending: the second's CPU per
   request is what every request costs each other process (reading the journal, delivering
   to its own pages).

Each in rounds of 8 issues, 8 call-nexts, 8 finishes and 8 lookups (``loadgen.Steady``): per
request kind, throughput, latency at the client, and the CPU time of each server process,
of Redis and of the clients, from ``/proc``, idle rates subtracted. Last, in this process on
another copy, the queue rules' own ``issue``, ``call_next`` and ``finish`` are timed with
SQLite's trace: from ``BEGIN IMMEDIATE`` to the first statement after ``COMMIT`` the write
lock is held, and every process on the file waits for it. From those figures, the most that
P processes could serve on P free cores (printed with the reasoning). Not a test: it measures.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

from loadgen import (
    OFFICE,
    REQUESTS,
    Failed,
    Stand,
    copy_database,
    depth_templates,
    interleaved,
    kind_rows,
    load_average,
    load_defaults,
    load_options,
    machine_facts,
    markdown,
    measure_idle,
    prepare_database,
    screen_key,
)

WORKLOAD = ("issue", "call-next", "finish")  # one citizen's way through the queue
PROCESS_COUNTS = (1, 2, 4, 8)


def rows_of(label, tallies, stand):
    """Rows per request kind, with the CPU of each server process (A, B) apart."""
    pids = stand.pids
    groups = {"A": pids["server"][:1], "B": pids["server"][1:]}
    groups.update(redis=pids["redis"], clients=pids["client"])
    return [{**row, "setup": label} for row in kind_rows(tallies, groups)]


def lock_probe(path, rounds, desks):
    """The queue rules in this process on ``path``: per kind, ``(ms per call, ms holding the
    write lock)`` at the median. The lock is held from ``BEGIN IMMEDIATE`` to the first
    statement after its ``COMMIT`` (or the end of the call: the commit's fsync included)."""
    from queue_app.rules import tickets
    from queue_app.storage.db import connect

    db = connect(path)
    trace = []
    db.conn.set_trace_callback(lambda sql: trace.append((time.perf_counter(), sql)))
    timings = {kind: ([], []) for kind in WORKLOAD}

    def timed(kind, call):
        trace.clear()
        started = time.perf_counter()
        value = call()
        ended = time.perf_counter()
        held, begun, committed = 0.0, None, False
        for moment, sql in [*trace, (ended, "")]:
            if begun is not None and committed:
                held += moment - begun
                begun, committed = None, False
            if sql.startswith("BEGIN IMMEDIATE"):
                begun = moment
            elif sql.startswith(("COMMIT", "ROLLBACK")) and begun is not None:
                committed = True
        timings[kind][0].append(ended - started)
        timings[kind][1].append(held)
        return value

    try:
        for _ in range(rounds):
            for _ in desks:
                timed("issue", lambda: tickets.issue(db, OFFICE))
            called = [timed("call-next", lambda d=d: tickets.call_next(db, d)) for d in desks]
            for outcome in called:
                timed("finish", lambda t=outcome.value["id"]: tickets.finish(db, t))
    finally:
        db.close()
    return {
        kind: tuple(sorted(values)[len(values) // 2] * 1000 for values in pair)
        for kind, pair in timings.items()
    }


def run(args):
    """Both set-ups, measured a round each in turn, then the lock probe: ``(rows, lock)``."""
    directory = tempfile.mkdtemp(prefix="torn-cluster-")
    stands = []
    try:
        template, tokens = prepare_database(directory)
        key = screen_key(template)
        source, waiting = depth_templates(directory, template, [args.depth])[args.depth]
        for name, count in (("one", 1), ("two", 2)):
            path = copy_database(source, os.path.join(directory, f"{name}.db"))
            stands.append(
                Stand(
                    path,
                    waiting,
                    tokens,
                    key,
                    servers=count,
                    redis_folder=directory,
                    clients=args.clients,
                    citizens=args.citizens,
                    screens=args.screens,
                )
            )
        one, two = stands
        workers = range(args.clients)
        one.connect(dict.fromkeys(workers, 0))
        two.connect({w: w % 2 for w in workers})
        measure_idle(stands, args.idle)
        rounds = max(1, args.requests // len(one.steady.desks))
        plans = [(one.steady, workers), (two.steady, workers)]
        tallies = interleaved(plans, rounds)
        rows = rows_of("1 process", tallies[0], one) + rows_of("2 processes", tallies[1], two)
        rows[3]["pages"], rows[-1]["pages"] = one.pages(), two.pages()
        print("1 and 2 processes: done", file=sys.stderr)
        alone = two.steady.run(workers[::2], rounds)
        rows += rows_of("2 processes, clients of A only", alone, two)
        for stand in stands:
            stand.stop()
        probe = copy_database(source, os.path.join(directory, "probe.db"))
        lock = lock_probe(probe, rounds, one.steady.desks)
        return rows, lock
    except Failed:
        for stand in stands:
            print(stand.output(), file=sys.stderr)
        raise
    finally:
        for stand in stands:
            stand.stop()
        shutil.rmtree(directory, ignore_errors=True)


def row_of(rows, setup, kind):
    return next(row for row in rows if row["setup"] == setup and row["kind"] == kind)


def print_report(rows, lock, args, seconds):
    clients = (
        f"{args.clients} client processes (spawned), http.client keep-alive connections;"
        f" 1 listener process with {args.citizens} ticket pages and {args.screens} screens"
    )
    for name, value in [*machine_facts("eventlet", None, clients), ("load", load_average())]:
        print(f"{name:8} {value}")
    print(
        f"\n{args.depth} waiting in OAC, Redis as the message queue, one database file;"
        f" {args.clients} client processes, split between the processes in turn. Rounds of 8"
        " issues, 8 call-nexts, 8 finishes and 8 lookups; latency in ms at the client; CPU in"
        " ms per request (each server process, Redis, the client processes and the listener),"
        f" idle rates subtracted; cores busy: of the machine's {os.cpu_count()}. Whole run"
        f" {seconds:.0f} s.\n"
    )
    header = [("set-up", "l"), ("request", "l"), ("n", "r"), ("per s", "r"), ("p50", "r")]
    header += [("p99", "r"), ("max", "r"), ("CPU ms A", "r"), ("CPU ms B", "r")]
    header += [("Redis", "r"), ("clients", "r"), ("cores busy", "r")]
    table = []
    for row in rows:
        a, b = row["A"], row["B"]
        cells = [row["setup"], f"{row['kind']} `{REQUESTS[row['kind']]}`", row["n"]]
        cells += [f"{row['per_s']:.0f}", f"{row['p50']:.2f}", f"{row['p99']:.2f}"]
        cells += [f"{row['max']:.1f}", f"{a:.2f}", "-" if b is None else f"{b:.2f}"]
        cells += [f"{row['redis']:.2f}", f"{row['clients']:.2f}", f"{row['cores']:.2f}"]
        table.append(cells)
    print(markdown(header, table))
    for row in rows:
        if "pages" in row:
            print(f"\n- pages connected at the end ({row['setup']}): {row['pages']}")
    print_estimate(rows, lock)


def print_estimate(rows, lock):
    """What P processes could serve on P free cores, from the measured costs."""
    cost = {}
    for kind in WORKLOAD:
        own = row_of(rows, "1 process", kind)["A"]
        other = row_of(rows, "2 processes, clients of A only", kind)["B"]
        redis = row_of(rows, "1 process", kind)["redis"]
        cost[kind] = (own, other, *lock[kind], redis)
    cost["a citizen (all three)"] = tuple(
        sum(values) for values in zip(*(cost[kind] for kind in WORKLOAD), strict=True)
    )
    header = [("request", "l"), ("server CPU ms, its own process", "r")]
    header += [("each other process", "r"), ("rules in-process ms", "r")]
    header += [("write lock held ms", "r"), ("lock / CPU", "r"), ("Redis CPU ms", "r")]
    table = [
        [kind, f"{c:.2f}", f"{r:.2f}", f"{t:.2f}", f"{held:.2f}", f"{held / c:.0%}", f"{q:.2f}"]
        for kind, (c, r, t, held, q) in cost.items()
    ]
    print("\n### Where a request's time goes\n")
    print(markdown(header, table))
    header = [("request", "l")] + [
        (f"{p} process{'es' if p > 1 else ''}", "r") for p in PROCESS_COUNTS
    ]
    header += [("lock's ceiling", "r")]
    table = []
    for kind, (c, r, _, held, q) in cost.items():
        cells = [kind]
        for p in PROCESS_COUNTS:
            cells.append(f"{min(1000 * p / (c + (p - 1) * r), 1000 / held, 1000 / q):.0f}")
        table.append(cells + [f"{1000 / held:.0f}"])
    print("\n### The most P processes could serve on P free cores (per second)\n")
    print(markdown(header, table))
    one = {k: row_of(rows, "1 process", k) for k in WORKLOAD}
    two = {k: row_of(rows, "2 processes", k) for k in WORKLOAD}
    print(
        "\n- Measured here: with the same client processes, "
        + "; ".join(
            f"{k} {one[k]['per_s']:.0f}/s with 1 process and {two[k]['per_s']:.0f}/s with 2"
            f" ({two[k]['per_s'] / one[k]['per_s']:.2f}x; p50 {one[k]['p50']:.2f} and"
            f" {two[k]['p50']:.2f} ms, p99 {one[k]['p99']:.2f} and {two[k]['p99']:.2f} ms)"
            for k in ("issue", "call-next")
        )
        + f"; the machine's cores busy {one['issue']['cores']:.2f} and"
        f" {two['issue']['cores']:.2f}. The clients, Redis and the listener share the same"
        " cores: a second server process only has the time they leave."
    )
    print(
        "- The estimate: P processes each serve 1/P of the requests at their own cost and"
        " hear every other request at the other processes' cost (the journal read and the"
        " delivery to their own pages), so P / (own + (P - 1) x other) requests a second;"
        " every process waits for the one write lock, so never more than 1 / (time it is"
        " held); Redis is one thread, so never more than 1 / (its CPU per request). It"
        " assumes a free core per process and the lock held as long as in one process: a"
        " process that finds it taken sleeps in SQLite's busy handler (1 ms at first, up to"
        " 100 ms), which this model does not count and the two-process p99 above shows."
    )


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=1000, help="waiting tickets (1000)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (4)")
    parser.add_argument("--requests", type=int, help="requests per kind and set-up (240)")
    load_options(parser, "80 requests, 1 s of idle CPU")
    args = load_defaults(parser.parse_args(argv))
    if not 2 <= args.clients <= 8 or args.depth < 1:
        parser.error("--clients: 2 to 8 (one desk each at least); --depth at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if shutil.which("redis-server") is None:
        print("cluster_bench: skipped: no redis-server (`make test-deps` installs it)")
        return 0
    started = time.monotonic()
    rows, lock = run(args)
    print_report(rows, lock, args, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
