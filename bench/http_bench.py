"""HTTP benchmark of the queue API: each request kind at queue depths 10, 1000 and 5000,
with and without Redis, timed by client processes and charged the server's CPU time.

    .venv/bin/python bench/http_bench.py                  # make bench: about 70 s
    .venv/bin/python bench/http_bench.py --quick          # 1 client, 80 requests: 20 s
    .venv/bin/python bench/http_bench.py --depths 10,5000 --requests 400 --clients 1 --redis no
    .venv/bin/python bench/http_bench.py --citizens 0 --screens 0   # no listening pages
    .venv/bin/python bench/http_bench.py --url http://127.0.0.1:5000 --token-reception T1 \\
        --token-clerk T2 [--token-admin T3] [--pid PID] [--screen-key KEY]

For each server set-up (``--redis``: none, then ``QUEUE_MESSAGE_QUEUE`` pointing to a private
``redis-server``) and each depth, ``run.py`` (eventlet) starts on a copy of the demo town hall
(all eight desks serving OAC, a building limit of 100000) whose OAC queue already holds that
many waiting tickets (written into the file before the server starts: ``loadgen.fill_queue``).
Then, for each client count (``--clients``, default 1 and 4), rounds of four phases, one
request kind each and eight requests a phase, keep the queue between the depth and eight
more: issue (``POST /tickets``), call-next (each desk calls one: ``POST /desks/<id>/call-next``),
finish (``POST /tickets/<id>/finish``) and a citizen's lookup (``GET /tickets/<token>``, of
tickets spread over the queue, without credentials, each client address used at most 50
times: the public limit is 60 a minute). One untimed round first; ``--requests`` per kind.
Last, the same with one client and the pages closed (``--no-bare`` skips it): what the
listening pages cost.

The clients are processes of their own (``multiprocessing``, spawned), each with keep-alive
``http.client`` connections; a request is timed in its process, from sending it to having read
the whole answer. Meanwhile a listener process keeps 10 citizens' ticket pages and 2 display
screens connected over Socket.IO (``--citizens``, ``--screens``), draining their frames; when a
followed ticket is called its page closes and the newest ticket's opens (between phases), so
position pushes always have listeners. Each phase is charged the CPU time the server's threads
spent from its start until the server is quiet again (``/proc/<pid>/task/*/schedstat``), less
the server's idle rate (its relay's poll, presence), measured for ``--idle`` seconds
beforehand; that over the phase's requests is the CPU per request. Redis and the clients are
read the same way. Temporary files are removed at the end. Not a test: it measures.

``--url``: a server already running on this machine; the queue is topped up to each depth by
issuing (untimed), and the benchmark's tickets are left waiting there; CPU only with ``--pid``,
pages only with ``--screen-key``.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from urllib.parse import urlsplit

from loadgen import (
    BIG_LIMIT,
    KINDS,
    OFFICE,
    REQUESTS,
    Client,
    Crowd,
    Failed,
    Listeners,
    Stand,
    Steady,
    copy_database,
    depth_templates,
    expect,
    interleaved,
    kind_rows,
    load_average,
    load_defaults,
    load_options,
    machine_facts,
    markdown,
    measure_idle,
    percentile,
    prepare_database,
    screen_key,
    serving_desks,
    share,
    summary,
)

# Other benchmarks import these from here.
__all__ = [
    "OFFICE",
    "Client",
    "Failed",
    "copy_database",
    "expect",
    "machine_facts",
    "percentile",
    "prepare_database",
    "summary",
]

TARGET_RATIO = 1.5  # issue 15: issue and call-next within 1.5x from 10 to 5000 waiting
TARGET_CPU_MS = 1.0  # and under 1.0 ms of CPU each


class Run:
    """One server set-up at one depth: where its rows and notes go."""

    def __init__(self, setup, depth):
        self.setup, self.depth = setup, depth
        self.rows, self.notes = [], []


def measure(run, steady, args, pids, passes):
    """Rounds on ``steady`` for each ``(client processes, pages label)`` of ``passes``; rows
    into ``run``. ``pids``: ``{"server": [...], "redis": [...], "client": [...]}``."""
    rounds = max(1, args.requests // len(steady.desks))
    for clients, pages in passes:
        for row in kind_rows(steady.run(range(clients), rounds), pids):
            run.rows.append({**row, "clients": clients, "pages": pages})


def measure_together(stands, runs, args, clients, pages):
    """``clients`` client processes on each stand, a round on each in turn; rows into
    ``runs`` (one per stand)."""
    rounds = max(1, args.requests // len(stands[0].steady.desks))
    plans = [(stand.steady, range(clients)) for stand in stands]
    for stand, run, tallies in zip(stands, runs, interleaved(plans, rounds), strict=True):
        for row in kind_rows(tallies, stand.pids):
            run.rows.append({**row, "clients": clients, "pages": pages})


def one_setup(setup, templates, directory, tokens, key, args):
    """Every depth at once, each on a server (and Redis) of its own, measured in turn a
    round at a time: the runs."""
    stands, runs = [], []
    try:
        for depth in args.depths:
            source, waiting = templates[depth]
            path = copy_database(source, os.path.join(directory, f"{setup}-{depth}.db"))
            started = time.monotonic()
            stand = Stand(
                path,
                waiting,
                tokens,
                key,
                redis_folder=directory if setup == "Redis" else None,
                clients=max(args.clients),
                citizens=args.citizens,
                screens=args.screens,
            )
            stands.append(stand)
            stand.connect(dict.fromkeys(range(max(args.clients)), 0))
            runs.append(Run(setup, depth))
            runs[-1].notes.append(f"server up in {time.monotonic() - started:.1f} s")
        rates = measure_idle(stands, args.idle)
        for stand, run in zip(stands, runs, strict=True):
            pids = stand.pids
            run.notes.append(
                "idle CPU subtracted: "
                + ", ".join(
                    f"{name} {rates[pid] * 1000:.2f} ms/s"
                    for name in ("server", "redis")
                    for pid in pids[name]
                )
            )
        for clients in args.clients:
            measure_together(stands, runs, args, clients, "on")
        for stand, run in zip(stands, runs, strict=True):
            run.notes.append(f"pages connected at the end: {stand.pages()}")
        if args.bare:  # what the pages cost: the same without them, one client
            for stand in stands:
                stand.close_pages()
            measure_together(stands, runs, args, 1, "off")
    except Failed:
        for stand in stands:
            print(stand.output(), file=sys.stderr)
        raise
    finally:
        for stand in stands:
            stand.stop()
    return runs


def own_servers(args):
    """Every set-up on servers of its own; the temporary directory removed after."""
    directory = tempfile.mkdtemp(prefix="torn-bench-")
    runs = []
    try:
        template, tokens = prepare_database(directory)
        key = screen_key(template)
        started = time.monotonic()
        templates = depth_templates(directory, template, args.depths)
        print(
            f"queues filled to {', '.join(map(str, templates))} in"
            f" {time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        for setup in args.setups:
            runs += one_setup(setup, templates, directory, tokens, key, args)
            print(f"{setup}: done", file=sys.stderr)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return runs


def make_room(url, tokens, needed):
    """Room in the building for ``needed`` more people (raising the limit with the admin's
    token); the number of tickets waiting in OAC now."""
    reception = Client(url, tokens["reception"])
    try:
        status, state, _ = reception.request("GET", "/occupancy")
        expect(status, 200, state, "GET /occupancy")
        if state["limit"] - state["inside"] < needed:
            if not tokens.get("admin"):
                raise Failed(
                    f"the building has room for {state['limit'] - state['inside']} people,"
                    f" the benchmark needs {needed}: give --token-admin"
                )
            admin = Client(url, tokens["admin"])
            status, body, _ = admin.request(
                "PUT", "/occupancy", {"limit": min(BIG_LIMIT, state["inside"] + needed)}
            )
            admin.close()
            expect(status, 200, body, "PUT /occupancy")
        status, offices, _ = reception.request("GET", "/offices")
        expect(status, 200, offices, "GET /offices")
        return next(office["waiting"] for office in offices if office["code"] == OFFICE)
    finally:
        reception.close()


def on_url(args):
    """The depths one after the other on a server already running on this machine: the
    queue is topped up by issuing (untimed), and the tickets are left waiting at the end."""
    tokens = {"reception": args.token_reception, "clerk": args.token_clerk}
    tokens["admin"] = args.token_admin
    port = urlsplit(args.url).port or 80
    needed = max(args.depths) + 2 * args.requests * len(args.clients) + 100
    crowd, runs, waiting = Crowd(max(args.clients)), [], []
    try:
        there = make_room(args.url, tokens, needed)
        desks = serving_desks(args.url, tokens)
        crowd.ask({i: ("connect", args.url, tokens) for i in range(len(crowd.members))})
        count = len(crowd.members)
        for depth in args.depths:
            run = Run("as running", depth)
            missing = max(0, depth - there - len(waiting))
            for start in range(0, missing, 500):
                chunk = min(500, missing - start)
                answers = crowd.ask({i: ("issue", share(chunk, count, i)) for i in range(count)})
                issued = [item for answer in answers.values() for item in answer["items"]]
                waiting += [token for _, _, token in sorted(issued, key=lambda item: item[1])]
            run.notes.append(f"{there} waiting before the benchmark's own {len(waiting)}")
            listeners = None
            if args.screen_key:
                listeners = Listeners(args.citizens, args.screens)
                listeners.start([port], args.screen_key, waiting)
            try:
                pids = [args.pid] if args.pid else []
                client_pids = crowd.pids + ([listeners.pid] if listeners else [])
                steady = Steady(crowd, pids, desks, waiting, listeners, client_pids)
                steady.measure_idle(args.idle)
                pages = "on" if listeners else "off"
                who = {"server": pids, "redis": [], "client": client_pids}
                measure(run, steady, args, who, [(clients, pages) for clients in args.clients])
                waiting = list(steady.waiting)
                if listeners:
                    run.notes.append(f"pages connected at the end: {listeners.describe()}")
            finally:
                if listeners is not None:
                    listeners.stop()
            runs.append(run)
            print(f"{depth} waiting: done", file=sys.stderr)
    finally:
        crowd.close()
    return runs


def number(value, digits=2):
    return "n/a" if value is None else f"{value:.{digits}f}"


def passes_of(rows):
    """The ``(clients, pages)`` passes of some rows, in the order measured."""
    return list(dict.fromkeys((row["clients"], row["pages"]) for row in rows))


def print_report(runs, args, seconds):
    mode = None if args.url else "eventlet"
    clients = (
        f"{max(args.clients)} client processes (spawned), http.client keep-alive connections;"
        f" 1 listener process with {args.citizens} ticket pages and {args.screens} screens"
    )
    for name, value in [*machine_facts(mode, args.url, clients), ("load", load_average())]:
        print(f"{name:8} {value}")
    print(
        f"\nEach depth: {max(1, args.requests // 8) * 8} requests per kind and pass, in rounds"
        " of 8 issues, 8 call-nexts, 8 finishes and 8 lookups (the queue holds the depth to 8"
        " more). pages: on = the citizens' pages and screens connected (at most as many pages"
        " as tickets wait), off = none. Latency in ms at the client; CPU in ms per request,"
        " idle rates subtracted; cores busy: of the machine's"
        f" {os.cpu_count()}, every process on it counted, during the phases."
        f" Whole run {seconds:.0f} s."
    )
    for setup in dict.fromkeys(run.setup for run in runs):
        mine = [run for run in runs if run.setup == setup]
        with_redis = setup == "Redis"
        header = [("waiting", "r"), ("request", "l"), ("clients", "r"), ("pages", "l")]
        header += [("n", "r"), ("per s", "r"), ("p50", "r"), ("p90", "r"), ("p99", "r")]
        header += [("max", "r"), ("server CPU ms", "r")]
        header += [("Redis CPU ms", "r")] if with_redis else []
        header += [("clients' CPU ms", "r"), ("cores busy", "r")]
        rows = []
        for run in mine:
            order = passes_of(run.rows)
            for row in sorted(
                run.rows,
                key=lambda r: (KINDS.index(r["kind"]), order.index((r["clients"], r["pages"]))),
            ):
                cells = [run.depth, f"{row['kind']} `{REQUESTS[row['kind']]}`", row["clients"]]
                cells += [row["pages"], row["n"], f"{row['per_s']:.0f}"]
                cells += [f"{row[p]:.2f}" for p in ("p50", "p90", "p99")] + [f"{row['max']:.1f}"]
                cells += [number(row["server"])]
                cells += [number(row["redis"])] if with_redis else []
                cells += [number(row["client"]), f"{row['cores']:.2f}"]
                rows.append(cells)
        print(f"\n### {setup}\n")
        print(markdown(header, rows))
        for run in mine:
            print(f"\n- {run.depth} waiting: " + "; ".join(run.notes))
    print_key_figures(runs)


def print_key_figures(runs):
    """Issue and call-next at the deepest queue against the shallowest, and their CPU."""
    depths = sorted({run.depth for run in runs})
    low, high = depths[0], depths[-1]
    header = [("server", "l"), ("clients", "r"), ("pages", "l")]
    for kind in ("issue", "call-next"):
        header += [(f"{kind} p50 at {low}", "r"), (f"at {high}", "r"), ("ratio", "r")]
    header += [("CPU ms per issue", "r"), ("per call-next", "r")]
    header += [(f"within {TARGET_RATIO}x", "l"), (f"CPU < {TARGET_CPU_MS} ms", "l")]
    rows = []
    for setup in dict.fromkeys(run.setup for run in runs):
        mine = {run.depth: run for run in runs if run.setup == setup}
        for clients, pages in passes_of(mine[low].rows):

            def row_of(depth, kind, setup_runs=mine, this=(clients, pages)):
                return next(
                    r
                    for r in setup_runs[depth].rows
                    if r["kind"] == kind and (r["clients"], r["pages"]) == this
                )

            cells, ratios, cpus = [setup, clients, pages], [], []
            for kind in ("issue", "call-next"):
                a, b = row_of(low, kind)["p50"], row_of(high, kind)["p50"]
                ratios.append(b / a)
                cells += [f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}x"]
            for kind in ("issue", "call-next"):
                values = [row_of(depth, kind)["server"] for depth in depths]
                if None in values:
                    cells.append("n/a")
                    continue
                cpus.append(max(values))
                cells.append("-".join(f"{v:.2f}" for v in (min(values), max(values))))
            cells.append("yes" if max(ratios) <= TARGET_RATIO else "no")
            cells.append(("yes" if max(cpus) < TARGET_CPU_MS else "no") if cpus else "n/a")
            rows.append(cells)
    print(f"\n### Key figures: {low} against {high} waiting\n")
    print(markdown(header, rows))
    print(
        f"\nratio: p50 at {high} over p50 at {low} (issue 15: within {TARGET_RATIO}x); CPU: the"
        f" server's per request at each depth, lowest-highest (issue 15: under {TARGET_CPU_MS}"
        " ms). Both aims are for each row."
    )


def numbers(text):
    return [int(n) for n in text.split(",") if n.strip()]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--depths", type=numbers, default=[10, 1000, 5000], help="waiting tickets (10,1000,5000)"
    )
    parser.add_argument(
        "--requests", type=int, help="requests per kind, depth and client count (default 240)"
    )
    parser.add_argument(
        "--clients", type=numbers, help="client processes, comma separated (default 1,4)"
    )
    parser.add_argument(
        "--redis",
        choices=("both", "no", "only"),
        default="both",
        help="server set-ups: without and with Redis (default both)",
    )
    load_options(parser, "80 requests, 1 client, 1 s of idle CPU, no bare pass")
    parser.add_argument(
        "--no-bare",
        dest="bare",
        action="store_false",
        help="skip the last pass at each depth: 1 client with the pages closed",
    )
    parser.add_argument("--url", help="benchmark a server already running on this machine")
    for role in ("reception", "clerk", "admin"):
        parser.add_argument(f"--token-{role}", help=f"API token of a {role} (with --url)")
    parser.add_argument("--pid", type=int, help="with --url: the server's process, for its CPU")
    parser.add_argument("--screen-key", help="with --url: a screen's key, to connect the pages")
    args = load_defaults(parser.parse_args(argv))
    args.clients = args.clients or ([1] if args.quick else [1, 4])
    args.bare = args.bare and not args.quick and bool(args.citizens or args.screens)
    args.depths = sorted(set(args.depths))
    if min(args.depths) < 1 or min(args.clients) < 1 or max(args.clients) > 8:
        parser.error("depths must be at least 1, clients 1 to 8 (one desk each at least)")
    args.setups = {"both": ["no Redis", "Redis"], "no": ["no Redis"], "only": ["Redis"]}[args.redis]
    if "Redis" in args.setups and shutil.which("redis-server") is None:
        if args.redis == "only":
            parser.error("no redis-server (`make test-deps` installs it)")
        print("http_bench: no redis-server, only the set-up without Redis", file=sys.stderr)
        args.setups = ["no Redis"]
    if args.url:
        if not (args.token_reception and args.token_clerk):
            parser.error("--url needs --token-reception and --token-clerk")
        if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost"):
            parser.error("--url: a server on this machine (127.0.0.1): the clients use 127.x.y.z")
    return args


def main(argv=None):
    args = parse_args(argv)
    started = time.monotonic()
    runs = on_url(args) if args.url else own_servers(args)
    print_report(runs, args, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
