"""Eight desks calling one queue at once: every ticket is called exactly once, in order.

First with eight threads on their own connections in this process, then with eight HTTP
clients split across two server processes on the same database file.
"""

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from queue_app.rules import door, occupancy, tickets
from queue_app.storage.db import connect, write_transaction

from servers import ServerPool

DESKS = list(range(1, 9))  # the demo's Taulell 1..8, all made to serve OAC below
TICKETS = 520


@pytest.fixture
def servers():
    """Starts ``run.py`` processes; every one still running is killed at teardown."""
    with ServerPool() as pool:
        yield pool


@pytest.fixture
def busy_oac(db, tmp_path):
    """The demo with all eight desks serving OAC and TICKETS walk-ins waiting there.

    Yields ``(path of the database file, the waiting tickets' ids in issue order)``.
    """
    with write_transaction(db):
        for desk_id in DESKS:
            db.execute(
                "INSERT OR IGNORE INTO desk_offices (desk_id, office) VALUES (?, 'OAC')", [desk_id]
            )
    door.set_counts(db, limit=TICKETS + 50)
    issued = [tickets.issue(db, "OAC").value["id"] for _ in range(TICKETS)]
    yield str(tmp_path / "queue.db"), issued


def assert_called_once_each(db, issued, called_by_desk):
    """What the town hall would see after the rush: no ticket twice, none skipped."""
    called = [ticket_id for ids in called_by_desk.values() for ticket_id in ids]
    twice = [ticket_id for ticket_id, n in Counter(called).items() if n > 1]
    assert not twice, f"tickets given to more than one desk (or twice): {twice}"
    assert sorted(called) == sorted(issued), "some tickets were never called"

    desk_names = dict(db.execute("SELECT id, name FROM desks").fetchall())
    calls = [
        (row[0], json.loads(row[1]))
        for row in db.execute(
            "SELECT ticket_id, payload FROM events WHERE type = 'ticket_called' ORDER BY seq"
        )
    ]
    assert all(payload["recall"] is False for _, payload in calls)
    # The calls were serialised: the journal shows the queue called oldest first, one by one.
    assert [ticket_id for ticket_id, _ in calls] == issued
    holder = {ticket_id: desk_id for desk_id, ids in called_by_desk.items() for ticket_id in ids}
    assert all(payload["desk"] == desk_names[holder[ticket_id]] for ticket_id, payload in calls)

    rows = db.execute("SELECT id, status, desk_id FROM tickets").fetchall()
    assert {row["id"]: row["status"] for row in rows} == {i: "done" for i in issued}
    assert {row["id"]: row["desk_id"] for row in rows} == holder
    assert occupancy.read(db)["inside"] == 0
    assert sum(1 for ids in called_by_desk.values() if ids) > 1, "the desks never overlapped"


def run_desks(work):
    """Run ``work(desk_id)`` for every desk at once; ``{desk_id: ids it called}``."""
    start = threading.Barrier(len(DESKS))

    def desk(desk_id):
        start.wait(timeout=30)
        return work(desk_id)

    with ThreadPoolExecutor(max_workers=len(DESKS)) as pool:
        futures = {desk_id: pool.submit(desk, desk_id) for desk_id in DESKS}
        return {desk_id: future.result(timeout=120) for desk_id, future in futures.items()}


def test_desks_on_own_connections_never_share_a_ticket(db, busy_oac):
    path, issued = busy_oac

    def desk(desk_id):
        own = connect(path)
        called = []
        try:
            while (ticket := tickets.call_next(own, desk_id).value) is not None:
                called.append(ticket["id"])
                assert tickets.finish(own, ticket["id"]).value["status"] == "done"
        finally:
            own.close()
        return called

    assert_called_once_each(db, issued, run_desks(desk))


@pytest.mark.slow
def test_two_server_processes_never_give_a_ticket_twice(db, busy_oac, servers, tokens):
    path, issued = busy_oac
    first, second = servers.start(path), servers.start(path)
    desk_names = dict(db.execute("SELECT id, name FROM desks").fetchall())

    def desk(desk_id):
        base = (first if desk_id % 2 else second).url + "/api/v1"
        called = []
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {tokens['clerk']}"
            while True:
                answer = http.post(f"{base}/desks/{desk_id}/call-next", timeout=30)
                if answer.status_code == 204:
                    return called
                assert answer.status_code == 200, answer.text
                ticket = answer.json()
                assert (ticket["status"], ticket["desk"]) == ("called", desk_names[desk_id])
                called.append(ticket["id"])
                finished = http.post(f"{base}/tickets/{ticket['id']}/finish", timeout=30)
                assert finished.status_code == 200, finished.text
                assert finished.json()["status"] == "done"

    called_by_desk = run_desks(desk)
    assert first.running and second.running
    assert_called_once_each(db, issued, called_by_desk)
    listed = requests.get(
        f"{first.url}/api/v1/tickets",
        params={"office": "OAC"},
        headers={"Authorization": f"Bearer {tokens['reception']}"},
        timeout=30,
    )
    assert [t["status"] for t in listed.json()] == ["done"] * TICKETS
