"""Benchmark of appointments against issuing a walk-in ticket, and of the booking service's
imports, on a real server (run.py, eventlet) with one client.

    .venv/bin/python bench/appointments_bench.py [--requests 300]      # part of make bench

On its own copy of the demo town hall, the server first issues ``--requests`` walk-in
tickets (the baseline), then books as many appointments, then checks every one of them in
(which issues its ticket), each request timed; then it imports a generated 2,000-row CSV
and a 500-event iCalendar file, dry run first, each import timed whole. OAC's schedule is
opened for the run (5-minute slots of 100 places all day, check-in windows of a day), and
the server's time zone is chosen so that its local time is morning now, so that today has
room for every booking whatever the hour this runs at. Not a test: it measures.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from http_bench import (
    Client,
    copy_database,
    expect,
    machine_facts,
    prepare_database,
    summary,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

OFFICE = "OAC"
SLOT_MINUTES = 5
PER_SLOT = 100
CSV_ROWS = 2000
ICS_EVENTS = 500


def morning_zone():
    """A fixed-offset zone (``Etc/GMT...``) whose local time is about 08:00 now."""
    hours = (8 - datetime.now(UTC).hour + 12) % 24 - 12  # UTC+hours, from -12 to +11
    return f"Etc/GMT{'-' if hours >= 0 else '+'}{abs(hours)}"


def open_schedule(admin):
    every_day = {day: [["00:00", "23:55"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    every_day.update(sat=[["00:00", "23:55"]], sun=[["00:00", "23:55"]])
    body = {
        "slot_minutes": SLOT_MINUTES,
        "per_slot": PER_SLOT,
        "hours": every_day,
        "early_minutes": 24 * 60,
        "late_minutes": 24 * 60,
    }
    status, answer, _ = admin.request("PUT", f"/offices/{OFFICE}/schedule", body)
    expect(status, 200, answer, "PUT schedule")


def slot_starts(zone, first_day_offset, count):
    """``count`` booking starts (each slot filled to its places), from the next slot."""
    now = datetime.now(zone)
    day = now.date() + timedelta(days=first_day_offset)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    if first_day_offset == 0:
        minutes = (now.hour * 60 + now.minute) // SLOT_MINUTES * SLOT_MINUTES + 2 * SLOT_MINUTES
        start += timedelta(minutes=minutes)
    return [start + timedelta(minutes=SLOT_MINUTES * (n // PER_SLOT)) for n in range(count)]


def timed(client, method, path, body, want, what):
    status, answer, seconds = client.request(method, path, body)
    expect(status, want, answer, what)
    return answer, seconds


def run(url, tokens, zone, requests):
    reception, admin = Client(url, tokens["reception"]), Client(url, tokens["admin"])
    rows, imports = [], []
    try:
        for _ in range(50):
            timed(reception, "GET", "/offices", None, 200, "warm-up")
        open_schedule(admin)
        latencies, started = [], time.perf_counter()
        for _ in range(requests):
            ticket = {"office": OFFICE}
            latencies.append(timed(reception, "POST", "/tickets", ticket, 201, "issue")[1])
        rows.append(summary("issue", 1, latencies, time.perf_counter() - started))

        booked, latencies, started = [], [], time.perf_counter()
        for n, start in enumerate(slot_starts(zone, 0, requests)):
            body = {"office": OFFICE, "start": start.isoformat(), "name": f"Persona {n}"}
            made, seconds = timed(reception, "POST", "/appointments", body, 201, "book")
            booked.append(made["id"])
            latencies.append(seconds)
        rows.append(summary("book", 1, latencies, time.perf_counter() - started))

        latencies, started = [], time.perf_counter()
        for appointment_id in booked:
            path = f"/appointments/{appointment_id}/check-in"
            latencies.append(timed(reception, "POST", path, {}, 201, "check-in")[1])
        rows.append(summary("check-in", 1, latencies, time.perf_counter() - started))

        csv_lines = ["id,office,start,name,phone,party_size"] + [
            f"csv-{n},{OFFICE},{start.strftime('%Y-%m-%d %H:%M')},Persona {n},6{n:08d},1"
            for n, start in enumerate(slot_starts(zone, 1, CSV_ROWS))
        ]
        csv = ("\n".join(csv_lines) + "\n").encode()
        events = [
            "BEGIN:VEVENT\r\n"
            f"UID:ics-{n}\r\nDTSTART:{start.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}\r\n"
            f"SUMMARY:Persona {n}\r\nLOCATION:{OFFICE}\r\nEND:VEVENT"
            for n, start in enumerate(slot_starts(zone, 2, ICS_EVENTS))
        ]
        head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n"
        ics = (head + "\r\n".join(events) + "\r\nEND:VCALENDAR\r\n").encode()
        for name, data, kind, count in (
            (f"CSV, {CSV_ROWS} rows", csv, "text/csv", CSV_ROWS),
            (f"iCalendar, {ICS_EVENTS} events", ics, "text/calendar", ICS_EVENTS),
        ):
            for dry_run in ("true", "false"):
                path = f"/appointments/import?dry_run={dry_run}"
                status, answer, seconds = admin.raw("POST", path, data, kind)
                expect(status, 200, answer, f"import {name}")
                if answer["created"] != count or answer["errors"]:
                    raise SystemExit(f"import {name}: {answer}")
                imports.append((name, dry_run == "true", len(data), seconds))
    finally:
        reception.close()
        admin.close()
    return rows, imports


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="per scenario (default 300)")
    args = parser.parse_args(argv)
    from servers import Server

    zone_name = morning_zone()
    directory = tempfile.mkdtemp(prefix="torn-bench-appointments-")
    try:
        template, tokens = prepare_database(directory)
        path = copy_database(template, os.path.join(directory, "queue.db"))
        server = Server(path, env={"QUEUE_TIMEZONE": zone_name}).start()
        try:
            rows, imports = run(server.url, tokens, ZoneInfo(zone_name), args.requests)
        finally:
            server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    for name, value in machine_facts("eventlet", None):
        print(f"{name:8} {value}")
    print(f"time zone {zone_name} (local morning now)")
    print()
    print("| request | clients | requests | per s | p50 | p90 | p99 | max |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for row in rows:
        print(
            f"| {row['scenario']} | {row['clients']} | {row['requests']} | {row['per_s']:.0f}"
            f" | {row['p50']:.2f} ms | {row['p90']:.2f} ms | {row['p99']:.2f} ms"
            f" | {row['max']:.2f} ms |"
        )
    issue_p50 = rows[0]["p50"]
    print()
    for row in rows[1:]:
        print(f"{row['scenario']} p50 = {row['p50'] / issue_p50:.2f} x issue's p50")
    print()
    print("| import | dry run | bytes | seconds | rows per s |")
    print("|---|---|--:|--:|--:|")
    for name, dry_run, size, seconds in imports:
        count = int(name.split(", ")[1].split()[0].replace(",", ""))
        dry = "yes" if dry_run else "no"
        print(f"| {name} | {dry} | {size} | {seconds:.2f} | {count / seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
