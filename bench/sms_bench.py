"""Benchmark: does a hanging SMS gateway slow the desks down? On a real server (run.py,
eventlet) with ``QUEUE_SMS_WEBHOOK`` pointing at a local fake gateway
(tests/fake_gateway.py), one clerk calls and finishes ``--requests`` tickets, each issued
with a phone (every call queues a message, and so do the tickets coming near the front),
three times: with the gateway answering at once, hanging (every post waits until its 10 s
timeout), and with no gateway at all. Prints call-next's p50/p90/p99 for each.

    .venv/bin/python bench/sms_bench.py [--requests 200]      # part of make bench

Not a test: it measures.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

from http_bench import Client, copy_database, expect, machine_facts, prepare_database, summary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

OFFICE = "OAC"


def run(url, tokens, requests):
    reception, clerk = Client(url, tokens["reception"]), Client(url, tokens["clerk"])
    try:
        for n in range(requests):
            body = {"office": OFFICE, "phone": f"6{n:08d}"}
            status, answer, _ = reception.request("POST", "/tickets", body)
            expect(status, 201, answer, "issue")
        latencies, started = [], time.perf_counter()
        for _ in range(requests):
            status, ticket, seconds = clerk.request("POST", "/desks/1/call-next")
            expect(status, 200, ticket, "call-next")
            latencies.append(seconds)
            status, answer, _ = clerk.request("POST", f"/tickets/{ticket['id']}/finish")
            expect(status, 200, answer, "finish")
        return latencies, time.perf_counter() - started
    finally:
        reception.close()
        clerk.close()


def main(argv=None):
    from fake_gateway import FakeGateway

    from servers import Server

    tried = 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args(argv)
    directory = tempfile.mkdtemp(prefix="torn-sms-bench-")
    rows = []
    try:
        template, tokens = prepare_database(directory)
        with FakeGateway() as gateway:
            for mode in ("ok", "hang", "none"):
                gateway.mode = "hang" if mode == "hang" else "ok"
                env = {} if mode == "none" else {"QUEUE_SMS_WEBHOOK": gateway.url}
                path = copy_database(template, os.path.join(directory, f"{mode}.db"))
                server = Server(path, env=env).start()
                try:
                    facts = machine_facts("eventlet", server.url)
                    latencies, elapsed = run(server.url, tokens, args.requests)
                    name = {"ok": "gateway answers", "hang": "gateway hangs", "none": "no SMS"}
                    rows.append(summary(f"call-next, {name[mode]}", 1, latencies, elapsed))
                    if mode == "ok":
                        tried = len(gateway.tries)
                finally:
                    server.stop()
            gateway.released.set()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    for name, value in facts[:3]:
        print(f"{name:9}{value}")
    print("clients  one reception and one clerk, http.client with a keep-alive connection each")
    print(f"messages the answering gateway got: {tried} for {args.requests} tickets\n")
    print("| scenario | calls | p50 ms | p90 ms | p99 ms |")
    print("|---|--:|--:|--:|--:|")
    for row in rows:
        print(
            f"| {row['scenario']} | {row['requests']} | {row['p50']:.2f} | {row['p90']:.2f}"
            f" | {row['p99']:.2f} |"
        )


if __name__ == "__main__":
    main()
