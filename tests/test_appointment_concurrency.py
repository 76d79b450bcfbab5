"""Many bookings of one slot at the same moment: exactly its places are taken.

First with threads on their own connections in this process, then with HTTP clients split
across two server processes on the same database file (as call-next is proved).
"""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from queue_app.rules import appointments
from queue_app.rules.errors import SlotFull
from queue_app.storage.db import connect

from helpers import next_workday
from servers import ServerPool

CLIENTS = 16
SLOT = next_workday(hour=10)
PLACES = 4  # OAC's desks in the demo


def at_once(work):
    """Run ``work(n)`` for every client at the same moment; their results in order."""
    start = threading.Barrier(CLIENTS)

    def client(n):
        start.wait(timeout=30)
        return work(n)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        return [f.result(timeout=120) for f in [pool.submit(client, n) for n in range(CLIENTS)]]


def holding(path):
    db = connect(path)
    try:
        return db.execute(
            "SELECT COUNT(*) FROM appointments WHERE office = 'OAC'"
            " AND status IN ('booked', 'checked_in')"
        ).fetchone()[0]
    finally:
        db.close()


def test_threads_on_own_connections_take_exactly_the_slots_places(db, tmp_path):
    path = db.execute("PRAGMA database_list").fetchone()[2]

    def book(n):
        own = connect(path)
        try:
            appointments.book(own, "OAC", SLOT.isoformat(), f"Persona {n}")
            return "booked"
        except SlotFull:
            return "slot_full"
        finally:
            own.close()

    assert Counter(at_once(book)) == {"booked": PLACES, "slot_full": CLIENTS - PLACES}
    assert holding(path) == PLACES


@pytest.mark.slow
def test_two_server_processes_book_a_slot_exactly_full(db, tokens):
    path = db.execute("PRAGMA database_list").fetchone()[2]
    with ServerPool() as servers:
        first, second = servers.start(path), servers.start(path)

        def book(n):
            server = first if n % 2 else second
            answer = requests.post(
                f"{server.url}/api/v1/appointments",
                json={"office": "OAC", "start": SLOT.isoformat(), "name": f"Persona {n}"},
                headers={"Authorization": f"Bearer {tokens['reception']}"},
                timeout=30,
            )
            if answer.status_code == 201:
                return "booked"
            assert answer.status_code == 409, answer.text
            return answer.json()["error"]["code"]

        results = at_once(book)
        assert first.running and second.running
    assert Counter(results) == {"booked": PLACES, "slot_full": CLIENTS - PLACES}
    assert holding(path) == PLACES


@pytest.mark.slow
def test_the_servers_log_keeps_no_name_phone_or_token(db, tokens):
    """Whatever a client puts in an address, the access log keeps neither a searched name
    or phone nor a citizen's token."""
    path = db.execute("PRAGMA database_list").fetchone()[2]
    headers = {"Authorization": f"Bearer {tokens['reception']}"}
    with ServerPool() as servers:
        server = servers.start(path)
        booked = requests.post(
            f"{server.url}/api/v1/appointments",
            json={"office": "OMIC", "start": SLOT.isoformat(), "name": "Zenobia Quiroga"},
            headers=headers,
            timeout=30,
        ).json()
        for address in (
            f"/api/v1/appointments?q=Zenobia&date={SLOT.date()}",
            "/api/v1/appointments?q=699887766",
            f"/a/{booked['token']}",
            f"/api/v1/appointments/{booked['token']}",
        ):
            assert requests.get(server.url + address, headers=headers, timeout=30).ok
        server.stop()
        log = server.output
    assert "GET /api/v1/appointments?… " in log  # the log is there, and says what was asked
    assert "GET /a/… " in log
    assert "Zenobia" not in log and "699887766" not in log and booked["token"] not in log
