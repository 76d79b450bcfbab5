"""Live push against real ``run.py`` processes, with the python-socketio client.

A call made over HTTP reaches a connected display; after the server is killed and
started again, the display reconnects, resyncs and gets the calls it missed. With
Redis, a call made on one server process reaches a display connected to another.
"""

import pytest

from queue_app.rules import displays, tickets
from queue_app.rules.day import ensure_today
from queue_app.storage.db import connect

from helpers import api_request, ticket_id
from servers import RedisServer, ServerPool

pytestmark = pytest.mark.slow


@pytest.fixture
def town_hall(db, tmp_path, tokens):
    """``(database path, waiting-room screen key, {role: token})`` for real servers."""
    ensure_today(db)
    return str(tmp_path / "queue.db"), displays.list_displays(db)[0]["key"], tokens


def api(server, role_token, method, path, json=None):
    response = api_request(server, role_token, method, path, json)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


@pytest.mark.parametrize("mode", ["eventlet", "threading"])
def test_display_hears_calls_and_catches_up_after_a_server_restart(mode, town_hall, listeners):
    path, screen, tokens = town_hall
    with ServerPool() as pool:
        server = pool.start(path, mode=mode)
        display = listeners(server.url, {"screen": screen})
        assert display.wait_for("snapshot")["calls"] == []

        api(server, tokens["reception"], "POST", "/tickets", {"office": "OAC"})
        api(server, tokens["clerk"], "POST", "/desks/1/call-next")
        called = display.wait_for("ticket_called")
        assert (called["ticket"]["code"], called["desk"]) == ("A001", "Taulell 1")
        seen = display.last_seq

        server.kill()
        display.wait_for("disconnect")
        # While this server is down, another one on the same file (a second process of a
        # multi-process deployment) issues and calls a ticket.
        db = connect(path)
        try:
            tickets.issue(db, "OMIC")
            tickets.call_next(db, 5)
        finally:
            db.close()
        reconnects = len(display.received)
        server.start_again()

        display.wait_for("connect", after=reconnects)
        missed = display.wait_for("ticket_called", lambda p: p["seq"] > seen, after=reconnects)
        assert (missed["ticket"]["code"], missed["desk"]) == ("C001", "Taulell 5")
        assert "token" not in missed["ticket"]
        # And it goes on hearing new calls live.
        api(server, tokens["clerk"], "POST", f"/tickets/{ticket_id(path, 'A001')}/finish")
        api(server, tokens["reception"], "POST", "/tickets", {"office": "OAC"})
        api(server, tokens["clerk"], "POST", "/desks/1/call-next")
        live = display.wait_for("ticket_called", lambda p: p["ticket"]["code"] == "A002")
        assert live["desk"] == "Taulell 1"


@pytest.fixture
def redis_url(tmp_path):
    """A private Redis server's address; stopped afterwards."""
    with RedisServer(tmp_path) as redis:
        yield redis.url


def test_a_call_on_one_process_reaches_a_display_on_another(town_hall, listeners, redis_url):
    path, screen, tokens = town_hall
    env = {"QUEUE_MESSAGE_QUEUE": redis_url}
    with ServerPool() as pool:
        server_a = pool.start(path, env=env)
        server_b = pool.start(path, env=env)
        display = listeners(server_b.url, {"screen": screen})
        display.wait_for("snapshot")
        api(server_a, tokens["reception"], "POST", "/tickets", {"office": "HAB"})
        api(server_a, tokens["clerk"], "POST", "/desks/7/call-next")
        called = display.wait_for("ticket_called")
        assert (called["ticket"]["code"], called["desk"]) == ("H001", "Taulell 7")
