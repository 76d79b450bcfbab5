"""Live push against real ``run.py`` processes, with the python-socketio client.

A call made over HTTP reaches a connected display; after the server is killed and
started again, the display reconnects, resyncs and gets the calls it missed. With
Redis, a call made on one server process reaches a display connected to another.
"""
import shutil
import subprocess
import threading

import pytest
import requests
import socketio

from queue_app import displays, tickets
from queue_app.day import ensure_today
from queue_app.db import connect
from servers import ServerPool, free_port

EVENTS = ("snapshot", "ticket_called", "queue_changed", "occupancy_changed", "ticket_changed",
          "day_started")
WAIT_S = 10

pytestmark = pytest.mark.slow


class Listener:
    """A Socket.IO client that records every event and lets a test wait for one.

    Like the TV page, it reconnects by itself and then asks for what it missed
    (``resync`` with the last ``seq`` it saw).
    """

    def __init__(self, url, auth):
        self.url, self.auth = url, auth
        self.received = []
        self.changed = threading.Condition()
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.2,
                                      reconnection_delay_max=0.5)
        for name in EVENTS:
            self.client.on(name, self._recorder(name))
        self.client.on("disconnect", self._on_disconnect)
        self.client.on("connect", self._on_connect)
        self.resume_from = None

    def _recorder(self, name):
        def record(*args):
            with self.changed:
                self.received.append((name, args[0] if args else None))
                self.changed.notify_all()
        return record

    def _on_disconnect(self, *reason):
        with self.changed:
            self.resume_from = self.last_seq
            self.received.append(("disconnect", None))
            self.changed.notify_all()

    def _on_connect(self):
        with self.changed:
            self.received.append(("connect", None))
            self.changed.notify_all()
        if self.resume_from is not None:
            self.client.emit("resync", {"since": self.resume_from})

    def connect(self):
        self.client.connect(self.url, auth=self.auth, wait_timeout=WAIT_S)
        return self

    def wait_for(self, name, where=lambda payload: True, after=0):
        """The first recorded ``name`` event (from index ``after``) satisfying ``where``."""
        def found():
            return next(((payload,) for got, payload in self.received[after:]
                         if got == name and where(payload)), None)
        with self.changed:
            assert self.changed.wait_for(lambda: found() is not None, WAIT_S), \
                f"no {name} within {WAIT_S} s; got {[got for got, _ in self.received]}"
            return found()[0]

    @property
    def last_seq(self):
        """The newest seq received so far (None before the first event)."""
        seqs = [payload["seq"] for _, payload in self.received
                if isinstance(payload, dict) and "seq" in payload]
        return max(seqs, default=None)

    def close(self):
        self.client.disconnect()


@pytest.fixture
def town_hall(db, tmp_path, tokens):
    """``(database path, waiting-room screen key, {role: token})`` for real servers."""
    ensure_today(db)
    return str(tmp_path / "queue.db"), displays.list_displays(db)[0]["key"], tokens


@pytest.fixture
def listeners():
    opened = []

    def open_(url, auth):
        listener = Listener(url, auth)
        opened.append(listener)
        return listener.connect()

    yield open_
    for listener in opened:
        listener.close()


def api(server, role_token, method, path, json=None):
    response = requests.request(method, f"{server.url}/api/v1{path}", json=json, timeout=WAIT_S,
                                headers={"Authorization": f"Bearer {role_token}"})
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


@pytest.mark.parametrize("mode", ["eventlet", "threading"])
def test_display_hears_calls_and_catches_up_after_a_server_restart(
        mode, town_hall, listeners):
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
        api(server, tokens["clerk"], "POST", f"/tickets/{called_id(path, 'A001')}/finish")
        api(server, tokens["reception"], "POST", "/tickets", {"office": "OAC"})
        api(server, tokens["clerk"], "POST", "/desks/1/call-next")
        live = display.wait_for("ticket_called", lambda p: p["ticket"]["code"] == "A002")
        assert live["desk"] == "Taulell 1"


def called_id(path, code):
    db = connect(path)
    try:
        return db.execute("SELECT id FROM tickets WHERE code = ?", [code]).fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def redis_url(tmp_path):
    """A private Redis server on a free port, ready when it says so; stopped afterwards."""
    executable = shutil.which("redis-server")
    assert executable, "redis-server is missing: `make test` installs it"
    port = free_port()
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    drain = threading.Thread(target=process.stdout.read, daemon=True)
    try:
        for line in process.stdout:
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail("redis-server ended before it was ready")
        drain.start()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(WAIT_S)
        if drain.is_alive():
            drain.join(WAIT_S)
        process.stdout.close()


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
