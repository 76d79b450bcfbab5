"""SMS notices from a real server (run.py, eventlet) to a local fake gateway: a gateway that
fails for 30 seconds while the server is killed and started again still gets each message
exactly once afterwards; a gateway that hangs does not hold up a clerk's call."""

import time

import pytest
import requests

from queue_app.rules.day import ensure_today
from queue_app.storage.db import connect

from conftest import LiveTownHall
from helpers import wait_until
from servers import ServerPool

pytestmark = pytest.mark.slow
FAILING_S = 30


@pytest.fixture
def town(db, tmp_path, tokens, gateway):
    ensure_today(db)
    path = str(tmp_path / "queue.db")
    env = {"QUEUE_SMS_WEBHOOK": gateway.url, "QUEUE_SMS_RETRY_MAX_S": "2"}
    with ServerPool() as pool:
        yield LiveTownHall(pool.start(path, env=env), path, tokens, None)


def issue(town, office, phone=None):
    body = {"office": office} if phone is None else {"office": office, "phone": phone}
    return town.api("reception", "POST", "/tickets", body, expect=201)


def test_a_failing_gateway_and_a_killed_server_still_deliver_each_message_once(town, gateway):
    gateway.failing_until = time.monotonic() + FAILING_S
    first = issue(town, "OAC", "612 000 001")  # near at once (nobody ahead)
    issue(town, "OAC")
    second = issue(town, "OAC", "612 000 002")  # two ahead: near at once too
    third = issue(town, "OMIC", "+33 6 12 34 56 78")
    called = town.api("clerk", "POST", "/desks/1/call-next", expect=200)
    assert called["code"] == first["code"]
    # The gateway refuses; the server keeps trying, and is killed in the middle of it.
    gateway.wait_for(lambda g: len(g.tries) >= 4)
    town.server.kill()
    town.server.start_again()
    town.api("clerk", "POST", "/desks/5/call-next", expect=200)  # the French number's turn
    gateway.wait_for(lambda g: len(g.received) >= 3, timeout=FAILING_S + 30)
    # The "near" of the two called meanwhile is no longer true: only their call goes.
    expected = {
        (first["code"], "+34612000001", "called"),
        (second["code"], "+34612000002", "near"),
        (third["code"], "+33612345678", "called"),
    }
    got = [
        (body["ticket"], body["to"], "called" if "Aneu a" in body["text"] else "near")
        for body in gateway.received
    ]
    assert len(got) == len(set(got)) == len(expected) and set(got) == expected
    assert sum(try_["mode"] == "fail" for try_ in gateway.tries) >= 4
    db = connect(town.path)
    try:
        # Nothing left to send (once the server notes the gateway's last answer): nothing
        # can arrive twice later.
        left = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dropped_at IS NULL"
        wait_until(lambda: db.execute(left).fetchone()[0] == 0)
        sent = [row[0] for row in db.execute("SELECT id FROM outbox WHERE sent_at IS NOT NULL")]
    finally:
        db.close()
    accepted = [
        each["headers"]["Idempotency-Key"] for each in gateway.tries if each["mode"] == "ok"
    ]
    assert sorted(accepted) == sorted(f"torn-{key}" for key in sent)


def test_a_hanging_gateway_does_not_hold_up_the_desks(town, gateway):
    gateway.mode = "hang"
    issue(town, "OAC", "612 000 001")
    gateway.wait_for(lambda g: len(g.tries) == 1)  # the sender is stuck in that request
    issue(town, "OAC")
    answer = requests.post(
        f"{town.url}/api/v1/desks/1/call-next",
        headers={"Authorization": f"Bearer {town.tokens['clerk']}"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert not gateway.released.is_set() and len(gateway.received) == 0  # still hanging
