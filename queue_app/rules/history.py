"""Plausible past days for demonstrations and the statistics benchmark (``seed-history``).

Working days before today, each with arrivals by hour (a morning peak, OAC's Thursday
afternoon) and the offices' shares, called in order by each office's desks as they come
free (so that waits grow in the busy hours and fall in the quiet ones), some no-shows,
cancels, transfers and appointments (most checked in, some missed), and the building's
peak per hour, within its limit. Written straight into the tables the statistics read, in
one transaction: these days have no journal events (nothing live ever happened in them).
The same ``seed`` gives the same days.
"""

import random
import secrets
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlite_utils import Database

from queue_app.clock import local_zone, stamp
from queue_app.rules import stats
from queue_app.storage.db import get_setting, write_transaction

# Share of each office's tickets, and the desks (by name) that serve it in the demo.
OFFICES = {"OAC": 0.5, "OMIC": 0.15, "OFIM": 0.1, "HAB": 0.15, "ORGT": 0.1}
# Arrivals by local hour (relative weights): the morning, and OAC's Thursday afternoon.
MORNING = {9: 3, 10: 5, 11: 5, 12: 4, 13: 3}
AFTERNOON = {16: 2, 17: 3, 18: 2}


def _working_days(before: date, count: int) -> list[date]:
    days: list[date] = []
    day = before - timedelta(days=1)
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return sorted(days)


def _desks(db: Database) -> dict[str, list[int]]:
    served: dict[str, list[int]] = {office: [] for office in OFFICES}
    for desk_id, office in db.execute("SELECT desk_id, office FROM desk_offices ORDER BY 1"):
        served.setdefault(office, []).append(desk_id)
    return served


def _letters(db: Database) -> dict[str, str]:
    return {code: letter for code, letter in db.execute("SELECT code, letter FROM offices")}


def _arrivals(rng: random.Random, day: date, per_day: int) -> list[tuple[datetime, str]]:
    """The day's arrivals, in order: when, and at which office."""
    zone = local_zone()
    hours = dict(MORNING)
    if day.weekday() == 3:
        hours.update(AFTERNOON)
    arrivals = []
    for _ in range(per_day):
        hour = rng.choices(list(hours), weights=list(hours.values()))[0]
        office = (
            "OAC" if hour >= 16 else rng.choices(list(OFFICES), weights=list(OFFICES.values()))[0]
        )
        moment = time(hour, rng.randrange(60), rng.randrange(60))
        arrivals.append((datetime.combine(day, moment, zone), office))
    return sorted(arrivals)


def _mean_service(
    arrivals: list[tuple[datetime, str]], desks: dict[str, list[int]]
) -> dict[str, float]:
    """Each office's mean service time (seconds) that keeps its desks busy about 65% of
    its opening hours on average: more in the busy hours, when the queue grows, less in the
    quiet ones, when it empties."""
    counts = {office: 0 for office in OFFICES}
    for _, office in arrivals:
        counts[office] += 1
    hours = {moment.hour for moment, _ in arrivals}
    open_s = 3600 * len(hours)
    return {
        office: max(120.0, 0.65 * open_s * len(desks[office]) / max(counts[office], 1))
        for office in OFFICES
    }


def _day_rows(
    rng: random.Random,
    day: date,
    per_day: int,
    letters: dict[str, str],
    desks: dict[str, list[int]],
    limit: int,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """One day's tickets, appointments and peaks, as rows to insert. Each office's desks
    call in order of arrival as they come free, so waits follow the day's load."""
    zone = local_zone()
    arrivals = _arrivals(rng, day, per_day)
    mean = _mean_service(arrivals, desks)
    free_at = {desk: datetime.combine(day, time(0), zone) for ds in desks.values() for desk in ds}
    numbers = dict.fromkeys(OFFICES, 0)
    tickets, bookings, moves = [], [], []
    for issued, office in arrivals:
        numbers[office] += 1
        number = numbers[office]
        final_office = office
        if rng.random() < 0.02:
            final_office = rng.choice([code for code in OFFICES if code != office])
        roll = rng.random()
        status = "done" if roll < 0.90 else "no_show" if roll < 0.96 else "cancelled"
        appointment = rng.random() < 0.2
        party = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        called = started = None
        desk_id = None
        if status == "cancelled":
            finished = issued + timedelta(minutes=rng.randint(1, 20))
        else:
            desk_id = min(desks[final_office], key=lambda desk: free_at[desk])
            called = max(issued, free_at[desk_id]) + timedelta(seconds=rng.randint(5, 40))
            if status == "done":
                started = called + timedelta(seconds=rng.randint(20, 90))
                service = rng.lognormvariate(0, 0.5) * mean[final_office] / 1.13  # mean kept
                finished = started + timedelta(seconds=round(max(60.0, service)))
            else:
                finished = called + timedelta(minutes=3)
            free_at[desk_id] = finished
        tickets.append(
            (
                secrets.token_urlsafe(16),
                day.isoformat(),
                office,
                number,
                f"{letters[office]}{number:03d}",
                final_office,
                "appointment" if appointment else "walk_in",
                0,
                party,
                stamp(issued) if appointment else None,
                status,
                stamp(issued),
                issued.hour,
                None if called is None else stamp(called),
                None if called is None else stamp(called),
                None if started is None else stamp(started),
                stamp(finished),
                desk_id,
                None if called is None else (called - issued).total_seconds(),
                None if started is None else (finished - started).total_seconds(),
            )
        )
        moves += [(issued, party), (finished, -party)]
        if appointment:
            bookings.append((office, issued, party, "checked_in"))
    for office in OFFICES:
        for _ in range(int(per_day * OFFICES[office] * 0.03)):
            hour = rng.choice(list(MORNING))
            start = datetime.combine(day, time(hour, rng.choice((0, 15, 30, 45))), zone)
            bookings.append((office, start, 1, "missed"))
    appointment_rows = [
        (
            "".join(rng.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6)),
            secrets.token_urlsafe(16),
            office,
            day.isoformat(),
            stamp(start),
            stamp(start + timedelta(minutes=15)),
            start.hour,
            party,
            status,
            "online",
            stamp(start - timedelta(days=rng.randint(1, 20))),
            stamp(start) if status == "checked_in" else None,
        )
        for office, start, party, status in bookings
    ]
    # The building never holds more than its limit (the others wait at the door).
    inside, peaks = 0, dict[int, int]()
    for moment, change in sorted(moves, key=lambda move: move[0]):
        inside += change
        hour = moment.astimezone(zone).hour
        peaks[hour] = max(peaks.get(hour, 0), min(inside, limit))
    peak_rows = [(day.isoformat(), hour, peak) for hour, peak in peaks.items()]
    return tickets, appointment_rows, peak_rows


def seed_history(db: Database, days: int, per_day: int = 600, seed: int = 1) -> int:
    """Add ``days`` working days before today's local date; the tickets written. Days that
    already have tickets are left as they are."""
    rng = random.Random(seed)
    today = datetime.now(local_zone()).date()
    letters, desks = _letters(db), _desks(db)
    limit = int(get_setting(db, "limit", 0)) or per_day
    written = 0
    with write_transaction(db):
        had = {row[0] for row in db.execute("SELECT DISTINCT day FROM tickets")}
        for day in _working_days(today, days):
            if day.isoformat() in had:
                continue
            tickets, bookings, peaks = _day_rows(rng, day, per_day, letters, desks, limit)
            db.conn.executemany(
                "INSERT INTO tickets (token, day, issued_office, number, code, office, kind,"
                " priority, party_size, appointment_at, status, issued_at, issued_hour,"
                " called_at, first_called_at, started_at, finished_at, desk_id, wait_s,"
                " service_s, recalls)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                tickets,
            )
            db.conn.executemany(
                "INSERT OR IGNORE INTO appointments (code, token, office, day, start_at, end_at,"
                " hour, party_size, status, source, booked_at, checked_in_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                bookings,
            )
            db.conn.executemany(
                "INSERT OR REPLACE INTO occupancy_peaks (day, hour, peak) VALUES (?, ?, ?)",
                peaks,
            )
            written += len(tickets)
        stats.close_days(db, today.isoformat())
    return written
