"""The queue outside the door under a rush across two server processes on one database file
(issue 16): doormen counting people out and in, receptions issuing tickets to wait outside
(and some of those giving up), desks calling and finishing, all at once from several
client threads split between the two processes.

Afterwards the journal is replayed from the start of the rush: the building is never above
its limit at any ``occupancy_changed``, whose counts match the outside queue the journal
itself describes; each ticket is let in once, always the first of the outside queue (no
party here is larger than the limit, so strict issue order means exactly that), and never
while the first one outside would fit. The count inside at the end is what the tickets
still inside and the door's own count say: the doormen never send more exits than people
they counted in (so no exit is cut short at 0) and every answer is accounted for.
"""

import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from queue_app.rules import door
from queue_app.rules.day import ensure_today
from queue_app.storage import journal

from servers import ServerPool

pytestmark = pytest.mark.slow

LIMIT = 10
AT_THE_DOOR = 10  # people inside without a ticket when the rush starts: the building is full
DOORMEN, RECEPTIONS, DESKS = 2, 3, (1, 2, 3)  # Taulell 1 to 3 serve OAC in the demo
ROUNDS = {"door": 180, "reception": 120, "desk": 140}
ENDED = ("done", "no_show", "cancelled", "expired")


class Tally:
    """What the clients did and heard, counted across threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.answers = Counter()  # (what, HTTP status)
        self.door_people = AT_THE_DOOR  # counted in at the door and not yet counted out

    def add(self, what, status):
        with self.lock:
            self.answers[what, status] += 1

    def take_one_out(self):
        """One of those counted in at the door, to count out (False if none is left)."""
        with self.lock:
            if self.door_people == 0:
                return False
            self.door_people -= 1
            return True

    def counted_in(self):
        with self.lock:
            self.door_people += 1


@pytest.fixture
def rush(db, tmp_path):
    """The demo, today opened, the building full: ``(database path, the journal's seq
    before the rush)``."""
    ensure_today(db)
    door.set_counts(db, inside=AT_THE_DOOR, limit=LIMIT)
    open_tickets = db.execute(
        "SELECT COUNT(*) FROM tickets WHERE status NOT IN (%s)" % ",".join("?" * len(ENDED)),
        ENDED,
    ).fetchone()[0]
    assert open_tickets == 0  # everyone inside is counted at the door
    return str(tmp_path / "queue.db"), journal.last_seq(db)


def replay(db, since):
    """Walk the journal after ``since`` and check every step of the outside queue; the ids
    let in, in the order they were.

    Issue order is the rules' (``issued_at``, then id): the stored instant, to the
    microsecond (the journal's tickets say it to the second only)."""
    issued = {row[0]: row[1] for row in db.execute("SELECT id, issued_at FROM tickets")}
    queue = {}  # id -> (issued_at, id, party_size) of the tickets waiting outside
    admitted = []
    occupancy_events = 0
    rows = db.execute(
        "SELECT seq, type, ticket_id, payload FROM events WHERE seq > ? ORDER BY seq", [since]
    )
    for seq, kind, ticket_id, payload in rows:
        body = json.loads(payload)
        if kind == "ticket_changed":
            ticket = body["ticket"]
            if ticket["outside"]:
                assert ticket["status"] == "waiting"
                queue[ticket["id"]] = (issued[ticket["id"]], ticket["id"], ticket["party_size"])
            elif ticket["status"] in ENDED:
                queue.pop(ticket["id"], None)  # gave up outside (or ended once inside)
        elif kind == "ticket_admitted":
            assert ticket_id == body["ticket"]["id"] and body["ticket"]["outside"] is False
            assert ticket_id not in admitted, f"ticket {ticket_id} let in twice (seq {seq})"
            assert ticket_id in queue, f"ticket {ticket_id} let in but not outside (seq {seq})"
            first = min(queue.values())[1]
            assert ticket_id == first, f"{ticket_id} let in before {first}, older (seq {seq})"
            del queue[ticket_id]
            admitted.append(ticket_id)
        elif kind == "occupancy_changed":
            occupancy_events += 1
            inside, limit = body["inside"], body["limit"]
            assert 0 <= inside <= limit, f"{inside} inside, limit {limit} (seq {seq})"
            assert body["outside"] == sum(party for _, _, party in queue.values()), seq
            if queue:
                first_party = min(queue.values())[2]
                assert inside + first_party > limit, f"the first outside fits (seq {seq})"
    return admitted, occupancy_events, queue


def test_two_processes_let_the_outside_queue_in_by_the_rules(db, rush, tokens):
    path, since = rush
    tally = Tally()
    with ServerPool() as pool:
        servers = [pool.start(path), pool.start(path)]
        start = threading.Barrier(DOORMEN + RECEPTIONS + len(DESKS))

        def client(number, role):
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {tokens[role]}"
            base = servers[number % 2].url + "/api/v1"

            def post(what, path, body=None, expect=(200,)):
                answer = http.post(base + path, json=body, timeout=60)
                tally.add(what, answer.status_code)
                assert answer.status_code in expect, f"{what}: {answer.text}"
                return answer

            return http, post

        def doorman(number):
            http, post = client(number, "reception")
            chance = random.Random(number)
            start.wait(timeout=60)
            for _ in range(ROUNDS["door"]):
                if chance.random() < 0.6 and tally.take_one_out():
                    post("exit", "/occupancy/exits", {"count": 1})
                elif post("entry", "/occupancy/entries", {}, (200, 409)).status_code == 200:
                    tally.counted_in()
            http.close()

        def reception(number):
            http, post = client(number, "reception")
            chance = random.Random(100 + number)
            start.wait(timeout=60)
            for _ in range(ROUNDS["reception"]):
                party = chance.choice((1, 1, 1, 2, 3))
                body = {"office": "OAC", "outside": True, "party_size": party}
                ticket = post("issue", "/tickets", body, (201,)).json()
                if ticket["outside"] and chance.random() < 0.15:  # gives up waiting
                    post("cancel", f"/tickets/{ticket['id']}/cancel", {}, (200, 409))
            http.close()

        def desk(desk_id):
            http, post = client(desk_id, "clerk")
            start.wait(timeout=60)
            for _ in range(ROUNDS["desk"]):
                called = post("call-next", f"/desks/{desk_id}/call-next", {}, (200, 204))
                if called.status_code == 200:
                    ticket = called.json()
                    assert ticket["outside"] is False
                    # 409: the citizen gave up meanwhile (reception cancelled the ticket).
                    post("finish", f"/tickets/{ticket['id']}/finish", {}, (200, 409))
            http.close()

        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=DOORMEN + RECEPTIONS + len(DESKS)) as workers:
            futures = [workers.submit(doorman, n) for n in range(DOORMEN)]
            futures += [workers.submit(reception, n) for n in range(RECEPTIONS)]
            futures += [workers.submit(desk, desk_id) for desk_id in DESKS]
            for future in futures:
                future.result(timeout=300)
        took = time.monotonic() - began
        assert all(server.running for server in servers)

    admitted, occupancy_events, still_outside = replay(db, since)
    # The journal and the tickets agree: each ticket let in once, in issue order.
    rows = db.execute(
        "SELECT id, outside FROM tickets WHERE admitted_at IS NOT NULL ORDER BY issued_at, id"
    ).fetchall()
    assert [row[0] for row in rows] == admitted and all(row[1] for row in rows)
    told = db.execute(
        "SELECT ticket_id, COUNT(*) FROM events WHERE type = 'ticket_admitted' GROUP BY 1"
    ).fetchall()
    assert all(count == 1 for _, count in told) and len(told) == len(admitted)
    assert sorted(
        row[0] for row in db.execute("SELECT id FROM tickets WHERE status = 'outside'")
    ) == sorted(still_outside)

    # The count inside: the door's own people, and the parties of the tickets still inside.
    answers = tally.answers
    at_the_door = AT_THE_DOOR + answers["entry", 200] - answers["exit", 200]
    assert at_the_door == tally.door_people
    in_tickets = db.execute(
        "SELECT COALESCE(SUM(party_size), 0) FROM tickets"
        " WHERE status IN ('waiting', 'called', 'serving')"
    ).fetchone()[0]
    inside, limit = (
        int(db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()[0])
        for key in ("inside", "limit")
    )
    assert (inside, limit) == (at_the_door + in_tickets, LIMIT)

    # A ticket's time is read holding the write lock, as its number is given: across the two
    # processes a later number never carries an earlier time, so they come in by number too.
    numbers = dict(db.execute("SELECT id, number FROM tickets").fetchall())
    pairs = zip(admitted, admitted[1:], strict=False)
    by_number = sum(1 for before, after in pairs if numbers[before] > numbers[after])
    stamped = db.execute(
        "SELECT COUNT(*) FROM tickets a JOIN tickets b ON a.day = b.day"
        " AND a.issued_office = b.issued_office AND a.number < b.number"
        " AND a.issued_at > b.issued_at"
    ).fetchone()[0]
    requests_made = sum(answers.values())
    issued_outside = db.execute("SELECT COUNT(*) FROM tickets WHERE outside = 1").fetchone()[0]
    print(
        f"\n{requests_made} requests in {took:.1f} s ({requests_made / took:.0f}/s) over two"
        f" processes from {DOORMEN + RECEPTIONS + len(DESKS)} client threads:"
        f" {dict(sorted((f'{what} {status}', n) for (what, status), n in answers.items()))}"
        f"\n{answers['issue', 201]} tickets issued, {issued_outside} of them to wait outside;"
        f" {len(admitted)} let in from outside, {len(still_outside)} still outside,"
        f" {answers['cancel', 200]} gave up; {occupancy_events} occupancy changes checked;"
        f" {by_number} let in just before one numbered earlier;"
        f" at the end {inside}/{limit} inside ({at_the_door} counted at the door,"
        f" {in_tickets} in tickets)"
    )
    assert len(admitted) > 20 and occupancy_events > 100  # the rush did reach the rules
    assert (by_number, stamped) == (0, 0)
