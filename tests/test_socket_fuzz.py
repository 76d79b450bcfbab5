"""Hostile Socket.IO clients: whatever a client sends, the town hall goes on serving.

A user would see: the TVs keep getting their snapshot and calls, staff keep the API, and a
client that sends garbage is at most refused or disconnected, never a crash, a hang or a
traceback in the server's log.

- In-process (Flask-SocketIO's test client, threading mode): generated ``auth`` payloads
  for ``connect`` (any JSON, the real keys with wrong types, real credentials now and then,
  with and without a staff session), then generated emits to ``resync`` and to other event
  names. An exception in a handler raises in the test itself.
- Against a real ``run.py`` (eventlet): raw Engine.IO/Socket.IO packets over a WebSocket
  and over long-polling (bad JSON, unknown packet types, binary frames, binary events
  without their attachments, unknown namespaces, deep nesting, frames over the size limit,
  text that is not UTF-8), logged in or not; and a flood of garbage while a TV connects.
"""

import json
import random
import re
import threading
import uuid

import pytest
import requests
import socketio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect as open_websocket

from queue_app import socketio as app_socketio
from queue_app.rules import displays
from queue_app.storage.db import get_db

from helpers import log_in

WAIT_S = 10
EXAMPLES = 300
# What a connection may hear; every one of them is a dict with the journal's int ``seq``.
KNOWN_EVENTS = {
    "snapshot",
    "ticket_called",
    "queue_changed",
    "occupancy_changed",
    "ticket_changed",
    "desk_changed",
    "display_changed",
    "display_retired",
    "day_started",
}
FIELDS = [
    "screen",
    "token",
    "ticket",
    "desk",
    "since",
    "seq",
    "_placeholder",
    "num",
    "__proto__",
    "",
]
NASTY_TEXT = [
    "",
    " ",
    "null",
    "OAC",
    "' OR 1=1 --",
    "%00",
    "\u202e",
    "\x00",
    "x" * 5000,
    "\u00e9" * 3000,
    "torn_" + "z" * 43,
]


# Generated payloads (Hypothesis) -----------------------------------------------------------

lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)  # "\ud800" in JSON
texts = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(max_codepoint=0x1F), max_size=8),  # control characters
    st.text(st.one_of(st.characters(), lone_surrogates), min_size=1, max_size=8),
    st.sampled_from(NASTY_TEXT),
)
edge_integers = st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64])
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    edge_integers,
    st.floats(),  # NaN and the infinities too: Python's JSON writes and reads them
    texts,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(FIELDS), texts), inner, max_size=4),
    ),
    max_leaves=15,
)


def nested(depth, kind):
    """``depth`` levels of lists or of dicts around a null."""
    value = None
    for _ in range(depth):
        value = [value] if kind == "list" else {"since": value}
    return value


deep_values = st.builds(nested, st.integers(1, 150), st.sampled_from(["list", "dict"]))
any_values = st.one_of(json_values, deep_values)


class Credentials:
    """The real credentials of the town hall under test, for the strategies to mix in."""

    def __init__(self, screen, tokens, ticket):
        self.screen, self.tokens, self.ticket = screen, tokens, ticket

    def auths(self):
        """``connect`` auth payloads: any JSON, the real keys with any values, real ones."""
        real = st.sampled_from(
            [{"screen": self.screen}, {"ticket": self.ticket}]
            + [{"token": token} for token in self.tokens.values()]
            + [{"token": self.tokens["clerk"], "desk": desk} for desk in (1, 5, 99)]
        )
        keyed = st.fixed_dictionaries(
            {},
            optional={
                "screen": st.one_of(st.just(self.screen), any_values),
                "token": st.one_of(st.sampled_from(sorted(self.tokens.values())), any_values),
                "ticket": st.one_of(st.just(self.ticket), any_values),
                "desk": st.one_of(st.integers(-3, 12), edge_integers, any_values),
            },
        )
        extra = st.dictionaries(texts, json_values, max_size=2)
        mixed = st.builds(lambda extra, keyed: {**extra, **keyed}, extra, keyed)
        return st.one_of(any_values, mixed, real)

    def emits(self):
        """Lists of ``(event, args, ask for an ack)``: ``resync`` and other names."""
        since = st.one_of(st.integers(0, 60), json_scalars)
        resync_args = st.one_of(
            st.tuples(st.fixed_dictionaries({"since": since})),
            st.lists(any_values, max_size=4).map(tuple),
        )
        other_names = st.one_of(
            st.sampled_from(
                [
                    "connect",
                    "disconnect",
                    "message",
                    "json",
                    "snapshot",
                    "ticket_called",
                    "*",
                    "",
                    "resync ",
                    "RESYNC",
                ]
            ),
            texts,
        )
        other_args = st.lists(any_values, max_size=4).map(tuple)
        one = st.one_of(
            st.tuples(st.just("resync"), resync_args, st.booleans()),
            st.tuples(other_names, other_args, st.booleans()),
        )
        return st.lists(one, max_size=6)


# In-process sessions -------------------------------------------------------------------------


def check_heard(received):
    """Everything a connection heard is a known event with one dict carrying an int seq."""
    for message in received:
        assert message["name"] in KNOWN_EVENTS, message["name"]
        assert len(message["args"]) == 1, message
        payload = message["args"][0]
        assert isinstance(payload, dict), message
        assert isinstance(payload.get("seq"), int) and not isinstance(payload["seq"], bool), message


def names(received):
    return [message["name"] for message in received]


def hostile_session(app, flask_client, auth, emits):
    """Connect with ``auth`` and send ``emits``; checks what the client heard.

    A refused connection hears nothing; an accepted one hears its snapshot first, then only
    known events, and still gets a snapshot when it asks for one at the end.
    """
    connection = app_socketio.test_client(app, auth=auth, flask_test_client=flask_client)
    try:
        if not connection.is_connected():
            assert connection.queue == [], "a refused connection heard something"
            return False
        heard = connection.get_received()
        assert names(heard)[:1] == ["snapshot"]
        check_heard(heard)
        for event, args, ack in emits:
            connection.emit(event, *args, callback=ack)
            check_heard(connection.get_received())
        assert connection.is_connected(), "the server dropped a client for its payloads"
        connection.emit("resync", {})  # no ``since``: a snapshot
        assert names(connection.get_received()) == ["snapshot"], (
            "the connection is no longer answered"
        )
        return True
    finally:
        if connection.is_connected():
            connection.disconnect()


def still_serving(app, client, tokens, screen):
    """The API answers a token holder, and a TV connecting now gets its snapshot."""
    response = client.get(
        "/api/v1/occupancy", headers={"Authorization": f"Bearer {tokens['reception']}"}
    )
    assert response.status_code == 200, response.data
    display = app_socketio.test_client(app, auth={"screen": screen}, flask_test_client=client)
    try:
        assert display.is_connected()
        assert names(display.get_received()) == ["snapshot"]
    finally:
        display.disconnect()


@pytest.fixture
def town_hall(app, client, tokens):
    """``Credentials`` of the app's town hall, after a morning's work (tickets issued and
    called, so that ``resync`` has events to replay)."""
    staff = {role: {"Authorization": f"Bearer {tokens[role]}"} for role in tokens}
    ticket = client.post(
        "/api/v1/tickets", json={"office": "OAC"}, headers=staff["reception"]
    ).get_json()["token"]
    for office in ("OAC", "OMIC", "OAC"):
        assert (
            client.post(
                "/api/v1/tickets", json={"office": office}, headers=staff["reception"]
            ).status_code
            < 300
        )
    assert client.post("/api/v1/desks/1/call-next", headers=staff["clerk"]).status_code < 300
    with app.app_context():
        screen = displays.list_displays(get_db())[0]["key"]
    return Credentials(screen, tokens, ticket)


# Hypothesis notes any change of the global `random` state while it draws an example, as if
# a strategy had used it; in a long test run some other thread of this process (a library's
# client retrying with jitter) may touch it meanwhile, and the note's text then renders these
# large strategies. Neither says anything about the handlers under test.
@pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies",
    "ignore:Generating overly large repr",
)
def test_generated_payloads_never_break_a_socket_handler(app, client, tokens, town_hall):
    """Whatever a client sends to connect and then emits, with or without a staff session,
    it is refused or served: no handler fails, it hears only real events, and afterwards
    the API and a TV connecting still work."""
    clients = {"anonymous": app.test_client()}
    for username in ("taulell1", "admin"):
        clients[username] = app.test_client()
        log_in(app, clients[username], username)
    seen = {"refused": 0, "accepted": 0}

    # One failure at a time, shrunk (several take half a minute): the ones found so far are
    # in FOUND below, each a test of its own.
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        report_multiple_bugs=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(town_hall.auths(), st.sampled_from(sorted(clients)), town_hall.emits())
    def attack(auth, who, emits):
        accepted = hostile_session(app, clients[who], auth, emits)
        seen["accepted" if accepted else "refused"] += 1
        response = client.get(
            "/api/v1/occupancy", headers={"Authorization": f"Bearer {tokens['clerk']}"}
        )
        assert response.status_code == 200

    attack()
    assert seen["refused"] > 0 and seen["accepted"] > 0, seen  # both paths were exercised
    still_serving(app, client, tokens, town_hall.screen)


# What the generated payloads found, one by one: each is refused or served, never a failure.
# ``case(credentials)`` gives ``(auth, [(event, args, ask for an ack)])``.
FOUND = {
    "desk beyond SQLite's integers": lambda c: ({"token": c.tokens["clerk"], "desk": 2**63}, []),
    "negative desk beyond SQLite's integers": lambda c: (
        {"token": c.tokens["clerk"], "desk": -(2**63) - 1},
        [],
    ),
    "token with a lone surrogate": lambda c: ({"token": "\ud800"}, []),
    "screen key with a lone surrogate": lambda c: ({"screen": "a\udfff"}, []),
    "ticket token with a lone surrogate": lambda c: ({"ticket": "\udc00"}, []),
    "resync with two arguments": lambda c: (
        {"screen": c.screen},
        [("resync", ({"since": 0}, 1), False)],
    ),
    "an event named connect": lambda c: ({"screen": c.screen}, [("connect", ("x",), False)]),
    "an event named connect, with a token": lambda c: (
        {"screen": c.screen},
        [("connect", ("x", {"token": c.tokens["admin"]}), False)],
    ),
    "an event named disconnect": lambda c: ({"screen": c.screen}, [("disconnect", (), False)]),
    "an event named disconnect, with two arguments": lambda c: (
        {"screen": c.screen},
        [("disconnect", (1, 2), False)],
    ),
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_payloads_the_fuzzer_found(app, client, tokens, town_hall, case):
    """Each hostile payload found so far is refused or served like any other: the client
    is not connected, or it is and gets its snapshot when it asks; nothing fails."""
    auth, emits = FOUND[case](town_hall)
    hostile_session(app, client, auth, emits)
    still_serving(app, client, tokens, town_hall.screen)


# Raw Engine.IO / Socket.IO against a real server ------------------------------------------


class ServerLog:
    """A real server's output as it grows, with a wait for a given text.

    ``servers.Server`` appends each line it reads to ``server.lines``: this swaps in a list
    that says when it grew (while the server is idle, so that no line is lost).
    """

    def __init__(self, server):
        self.grew = threading.Condition()
        log = self

        class Lines(list):
            def append(self, line):
                with log.grew:
                    super().append(line)
                    log.grew.notify_all()

        self.lines = Lines(server.lines)
        server.lines = self.lines

    def mark(self):
        """Where the output ends now (for ``since``)."""
        return len(self.lines)

    def since(self, mark=0):
        return list(self.lines[mark:])

    def wait_for(self, text):
        with self.grew:
            assert self.grew.wait_for(lambda: any(text in line for line in self.lines), WAIT_S), (
                f"the server never logged {text!r}"
            )


def settle(live, log):
    """Wait until the server's output holds everything about what it was sent before.

    A request of our own, whose access-log line the test waits for: the server handled
    the earlier messages before (each session waited for its probes, below), and eventlet
    runs what they started before a new connection's request; the output reaches us in
    order. Also: staff still get an answer.
    """
    response = requests.get(
        f"{live.url}/api/v1/occupancy",
        timeout=WAIT_S,
        headers={"Authorization": f"Bearer {live.tokens['reception']}"},
    )
    assert response.status_code == 200, response.text
    # The access log keeps paths, not query strings (serving.redact): the marker is a path.
    marker = uuid.uuid4().hex
    assert requests.get(f"{live.url}/settle/{marker}", timeout=WAIT_S).status_code == 404
    log.wait_for(marker)


ACCESS_LOG = re.compile(r'^\S+ - - \[[^]]*\] "')
# Lines the server writes on purpose about a hostile client: socket_guard's warnings, and
# python-engineio's one-off notes about a request for a session that is closed or unknown.
EXPECTED = re.compile(
    r"^socket: closed a connection from |^Invalid session "
    r"|^'Session is disconnected' "
)
# eventlet's note that a WebSocket the server closed had been closed already (EBADF,
# harmless), written without a newline: whatever follows it is a line of its own.
EVENTLET_EBADF = re.compile(
    r"server=\S+ client=\S+ socket shutdown error: \[Errno 9\] Bad file"
    r" descriptor"
)


def problems(lines):
    """The lines of the server's output that tell of a failure: tracebacks, exceptions,
    "handler error" and any other error line, except the access log and EXPECTED."""
    found = []
    for line in lines:
        line = EVENTLET_EBADF.sub("", line)
        if (
            re.search(r"traceback|exception|error", line, re.IGNORECASE)
            and not ACCESS_LOG.match(line)
            and not EXPECTED.match(line)
        ):
            found.append(line.rstrip())
    return found


def tracebacks(lines):
    """Each traceback of ``lines`` as its last frame and its exception, for a report."""
    found, frame = [], None
    for line in lines:
        if line.startswith("  File "):
            frame = line.strip()
        elif frame and re.match(r"^[\w.]+(Error|Exception|Exit)\b", line):
            found.append(f"{line.strip()}  ({frame})")
            frame = None
    return found


def assert_clean(lines, what):
    bad = problems(lines)
    assert not bad, f"{what}: the server logged failures:\n  " + "\n  ".join(
        tracebacks(lines) or bad[:20]
    )


class NotUtf8(bytes):
    """A WebSocket text frame whose bytes are not UTF-8."""


def websocket_url(url):
    return url.replace("http://", "ws://", 1) + "/socket.io/?EIO=4&transport=websocket"


def login_packet(auth):
    return "40" + json.dumps(auth)


def send(websocket, frame):
    """Send a frame: text, binary (bytes), or text whose bytes are not UTF-8 (``NotUtf8``,
    or a str with lone surrogates, sent as Python would encode them)."""
    if isinstance(frame, str):
        try:
            frame.encode("utf-8")
        except UnicodeEncodeError:
            frame = NotUtf8(frame.encode("utf-8", "surrogatepass"))
    if isinstance(frame, NotUtf8):
        websocket.send(bytes(frame), text=True)
    else:
        websocket.send(frame)


# How a test knows that the server has handled what a client sent: handlers run in the order
# they were started (eventlet), and a handler may start another (python-socketio runs each
# event in a task of its own). So, twice in a row, the client asks to join a namespace
# that does not exist, which the server refuses at once (``44/probe-...``): the second
# refusal comes after every handler the frames started, and after those started in turn.
# The first round is several requests, more than the attachments that a binary event sent
# before may still be waiting for (each would take one as its attachment).
FIRST_ROUND = [f"40/probe-{index}," for index in range(4)]
LAST_PROBE = "40/probe-last,"


def probe_refused(packet, last=False):
    return packet.startswith("44/probe-last," if last else "44/probe-")


def logged_in_or_refused(packet):
    return packet.startswith(("40{", "44{"))


def receive_until(websocket, wanted, received, what):
    """Append what the server sends to ``received`` until a frame satisfies ``wanted``;
    ConnectionClosed if the server closes first; a failure if neither within WAIT_S."""
    while True:
        try:
            frame = websocket.recv(timeout=WAIT_S)
        except TimeoutError:
            pytest.fail(
                f"{what}: the server neither answered nor closed within {WAIT_S} s;"
                f" it sent {[str(frame)[:80] for frame in received]}"
            )
        received.append(frame)
        if isinstance(frame, str) and wanted(frame):
            return


def websocket_session(url, auth, frames):
    """Open an Engine.IO WebSocket, log in with ``auth`` (None: stay anonymous), send
    ``frames``, wait until the server has handled them (the probes above), then ask to
    close (Engine.IO "1") and read until the server has closed the socket.

    ``(what the server sent, how it closed)``; the server may close it any time before.
    """
    received = []
    what = f"after {[str(frame)[:80] for frame in frames]}"
    with open_websocket(
        websocket_url(url), open_timeout=WAIT_S, close_timeout=WAIT_S, max_size=None
    ) as websocket:
        try:
            receive_until(websocket, lambda frame: frame.startswith("0{"), received, "opening")
            if auth is not None:
                send(websocket, login_packet(auth))
                receive_until(websocket, logged_in_or_refused, received, "logging in")
            for frame in frames:
                send(websocket, frame)
            for probe in FIRST_ROUND:
                send(websocket, probe)
            receive_until(websocket, probe_refused, received, what)
            send(websocket, LAST_PROBE)
            receive_until(websocket, lambda frame: probe_refused(frame, last=True), received, what)
            send(websocket, "1")
            receive_until(websocket, lambda frame: False, received, "closing " + what)
        except ConnectionClosed as closed:
            return received, closed


def polling_url(url, sid=None):
    return f"{url}/socket.io/?EIO=4&transport=polling" + (f"&sid={sid}" if sid else "")


class PollingClient:
    """An Engine.IO long-polling client as a browser is: a poll always waiting (a thread of
    its own), and POSTs of payloads. ``packets`` is what the polls got."""

    def __init__(self, url):
        opened = requests.get(polling_url(url), timeout=WAIT_S)
        assert opened.status_code == 200, opened.text
        self.session = polling_url(url, json.loads(opened.text[1:])["sid"])
        self.packets, self.closed, self.failed = [], False, None
        self.changed = threading.Condition()
        self.poller = threading.Thread(target=self._poll, daemon=True)
        self.poller.start()

    def _poll(self):
        while not self.closed:
            try:
                response = requests.get(self.session, timeout=WAIT_S)
            except requests.RequestException as error:  # never answered: a failure
                got, closed, failed = [], True, repr(error)
            else:
                got = response.text.split("\x1e") if response.status_code == 200 else []
                closed, failed = response.status_code != 200 or "1" in got, None
            with self.changed:
                self.packets += got
                self.closed, self.failed = closed, failed
                self.changed.notify_all()

    def post(self, body):
        """POST a payload (bytes); the status, which must come within WAIT_S."""
        return requests.post(self.session, data=body, timeout=WAIT_S).status_code

    def wait_for(self, wanted, what):
        """Wait until a packet polled satisfies ``wanted`` or the session is closed."""
        with self.changed:
            assert self.changed.wait_for(
                lambda: self.closed or any(wanted(packet) for packet in self.packets), WAIT_S
            ), f"{what}: no answer within {WAIT_S} s; got {self.packets}"
            assert self.failed is None, f"{what}: a poll failed: {self.failed}"

    def close(self):
        """Ask to close (Engine.IO "1"), unless the server did, and wait for the poller."""
        if not self.closed:
            self.post(b"1")
        self.poller.join(WAIT_S)
        assert not self.poller.is_alive(), "the server did not end a closed session's poll"
        assert self.failed is None, self.failed


def polling_session(url, auth, bodies):
    """Log in with ``auth`` (None: stay anonymous) over long-polling, POST each of
    ``bodies``, wait until the server has handled them (the probes above), and close.
    Like a browser, it stops once the server has closed the session.

    The statuses of the POSTs: every request is answered within WAIT_S.
    """
    client = PollingClient(url)
    what = f"after POSTing {[body[:80] for body in bodies]}"
    statuses = []
    try:
        if auth is not None:
            client.post(login_packet(auth).encode())
            client.wait_for(logged_in_or_refused, "logging in")
        for body in bodies:
            if not client.closed:
                statuses.append(client.post(body))
        for probes, last in ((FIRST_ROUND, False), ([LAST_PROBE], True)):
            if not client.closed:
                client.post("\x1e".join(probes).encode())
                client.wait_for(lambda packet, last=last: probe_refused(packet, last), what)
    finally:
        client.close()
    return statuses


def display_snapshot(url, screen):
    """A TV connecting now with python-socketio: the snapshot it gets."""
    got, snapshot = threading.Event(), {}
    client = socketio.Client(reconnection=False)

    @client.on("snapshot")
    def on_snapshot(data):
        snapshot.update(data)
        got.set()

    client.connect(url, auth={"screen": screen}, wait_timeout=WAIT_S)
    try:
        assert got.wait(WAIT_S), "a TV connecting got no snapshot"
    finally:
        client.disconnect()
    return snapshot


def assert_still_serving(live, pid):
    """The same process answers HTTP, and a TV connecting gets its snapshot."""
    assert live.server.running and live.server.process.pid == pid, live.server.output[-3000:]
    assert requests.get(f"{live.url}/healthz", timeout=WAIT_S).status_code == 200
    assert set(display_snapshot(live.url, live.screen_key)) >= {"seq", "calls", "waiting"}


# Garbage, generated with a seeded random.Random ----------------------------------------------


def random_text(rng):
    return rng.choice(
        [
            lambda: "".join(chr(rng.randint(0, 0x1F)) for _ in range(rng.randint(0, 8))),
            lambda: "".join(chr(rng.randint(0x80, 0x2FFF)) for _ in range(rng.randint(1, 30))),
            lambda: chr(rng.randint(0xD800, 0xDFFF)),  # a lone surrogate: "\ud8xx"
            lambda: "x" * rng.randint(0, 1500),
            lambda: rng.choice(NASTY_TEXT[:-3]),
        ]
    )()


def random_json(rng, depth=0):
    """Any JSON value: huge and negative numbers, odd text, lists and dicts 3 deep."""
    kind = rng.randrange(9 if depth < 3 else 5)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.choice(
            [0, -1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, rng.randint(-(10**6), 10**6)]
        )
    if kind == 2:
        return rng.choice([0.5, -0.0, 1e308, float("inf"), float("nan")])
    if kind in (3, 4):
        return random_text(rng)
    if kind in (5, 6):
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        rng.choice(FIELDS + [random_text(rng)]): random_json(rng, depth + 1)
        for _ in range(rng.randint(0, 4))
    }


def event(*data):
    return "42" + json.dumps(list(data))


class Garbage:
    """Hostile packets of every kind, from a seeded ``random.Random``; ``live`` gives the
    real credentials that some of them carry."""

    def __init__(self, rng, live):
        self.rng, self.live = rng, live

    def bad_json(self):
        return self.rng.choice(
            [
                '42["resync", {',
                "42[",
                '42["resync",{"since":}]',
                '40{"screen":',
                '42["resync"]]',
                "42" + random_text(self.rng),
                "40" + random_text(self.rng),
            ]
        )

    def unknown_socketio_type(self):
        return f"4{self.rng.choice('789x-/')}{json.dumps(random_json(self.rng))}"

    def unknown_packet_type(self):
        """Socket.IO types 7 to 9 and letters; Engine.IO's ping, noop, upgrade and unknowns."""
        if self.rng.random() < 0.5:
            return self.unknown_socketio_type()
        return self.rng.choice(["2", "3", "5", "6", "7", "9", "x"])

    def binary_frame(self):
        return self.rng.randbytes(self.rng.randint(0, 64))

    def placeholder_without_attachment(self):
        num = self.rng.choice([0, 1, 5, -1, "x", [0], None])
        header = f"45{self.rng.randint(1, 3)}-" + json.dumps(
            ["resync", {"_placeholder": True, "num": num}]
        )
        return [header] + [self.binary_frame() for _ in range(self.rng.randint(0, 2))]

    def namespace(self):
        return self.rng.choice(
            [
                "40/nope,",
                "40/nope," + json.dumps({"screen": "x"}),
                '42/nope,["resync"]',
                "41/nope,",
                "40/" + "a" * 3000 + ",",
                '42/admin,["resync",{"since":0}]',
            ]
        )

    def deep_nesting(self):
        depth = self.rng.choice([100, 900, 1500, 2000])
        if self.rng.random() < 0.5:
            return '42["resync",' + "[" * depth + "]" * depth + "]"
        depth //= 4
        return '42["resync",' + '{"a":' * depth + "1" + "}" * depth + "]"

    def oversized(self):
        size = self.rng.randint(4097, 20000)
        return self.rng.choice(
            [event("resync", "x" * size), "40" + "9" * size, self.rng.randbytes(size)]
        )

    def not_utf8(self):
        return NotUtf8(
            self.rng.choice(
                [
                    b'42["resync","\xff\xfe"]',
                    b"\xc3\x28",
                    b"40{\x80}",
                    bytes(self.rng.randint(0x80, 0xFF) for _ in range(20)),
                ]
            )
        )

    def odd_event(self):
        return self.rng.choice(
            [
                '42{"a":1}',
                "42[]",
                '42"resync"',
                "42[1]",
                "42[null]",
                '42[["resync"]]',
                '42[{"since":1}]',
                '4299999999999999["x"]',
                '43["x"]',
                "431[]",
                '461-[{"_placeholder":true,"num":0}]',
            ]
        )

    def reserved_event(self):
        return self.rng.choice(
            [
                event("connect"),
                event("connect", 1, {"screen": "nope"}),
                event("connect", 1, {"screen": self.live.screen_key}),
                event("disconnect"),
                event("disconnect", 1, 2),
            ]
        )

    def resync(self):
        args = [random_json(self.rng) for _ in range(self.rng.randint(0, 3))]
        if self.rng.random() < 0.5:
            args = [{"since": random_json(self.rng)}]
        return event("resync", *args)

    def connect(self):
        return login_packet(
            self.rng.choice(
                [
                    random_json(self.rng),
                    {"token": self.live.tokens["clerk"], "desk": random_json(self.rng)},
                    {"screen": random_json(self.rng)},
                    {"ticket": random_json(self.rng)},
                    {"token": random_json(self.rng)},
                ]
            )
        )

    def frames(self, count):
        """``count`` kinds of garbage (a kind may be several frames)."""
        kinds = [
            self.bad_json,
            self.unknown_packet_type,
            self.binary_frame,
            self.placeholder_without_attachment,
            self.namespace,
            self.deep_nesting,
            self.oversized,
            self.not_utf8,
            self.odd_event,
            self.reserved_event,
            self.resync,
            self.resync,
            self.connect,
        ]
        out = []
        for _ in range(count):
            made = self.rng.choice(kinds)()
            out += made if isinstance(made, list) else [made]
        return out

    def polling_body(self):
        """One long-polling POST: packets, or bytes that are not UTF-8. Not Engine.IO's
        unknown packet types: python-engineio then leaves the POST unanswered (see
        ``test_each_hostile_frame_alone_is_refused_or_ignored``)."""
        kinds = [
            self.bad_json,
            self.unknown_socketio_type,
            self.namespace,
            self.odd_event,
            self.reserved_event,
            self.resync,
            self.resync,
            self.connect,
            lambda: "b" + self.rng.choice(["AAA=", "////", "!!", ""]),
        ]
        if self.rng.random() < 0.15:
            return self.rng.choice(
                [b"\xff\xfe", b"40\xc3\x28", b"\x1e\x1e", b"\xff", b"\xff" + self.rng.randbytes(30)]
            )
        packets = [self.rng.choice(kinds)() for _ in range(self.rng.randint(1, 5))]
        return "\x1e".join(packets).encode("utf-8", "surrogatepass")

    def auth(self):
        return self.rng.choice(
            [
                None,
                None,
                {"screen": self.live.screen_key},
                {"token": self.live.tokens["clerk"]},
                {"token": self.live.tokens["clerk"], "desk": 1},
                {"token": "torn_" + "z" * 43},
            ]
        )


SEED = 20261129
WEBSOCKET_SESSIONS = 40
POLLING_SESSIONS = 20


@pytest.mark.slow
def test_raw_garbage_over_websocket_and_polling_leaves_the_server_serving(live):
    """A few hundred hostile packets over WebSockets and long-polling, logged in or not: each
    such client is answered, refused or disconnected; afterwards the same server process
    answers HTTP and a TV connecting gets its snapshot; its log has warnings about the
    malformed packets and no traceback or error."""
    log = ServerLog(live.server)
    pid = live.server.process.pid
    garbage = Garbage(random.Random(SEED), live)
    sent = 0
    for _ in range(WEBSOCKET_SESSIONS):
        frames = garbage.frames(garbage.rng.randint(1, 6))
        sent += len(frames)
        websocket_session(live.url, garbage.auth(), frames)
    for _ in range(POLLING_SESSIONS):
        bodies = [garbage.polling_body() for _ in range(garbage.rng.randint(1, 2))]
        sent += sum(body.count(b"\x1e") + 1 for body in bodies)
        statuses = polling_session(live.url, garbage.auth(), bodies)
        assert all(status < 500 for status in statuses), statuses
    assert sent >= 200

    settle(live, log)
    assert_still_serving(live, pid)
    lines = log.since()
    assert any("that sent a malformed packet" in line for line in lines)
    assert_clean(lines, f"after {sent} generated packets")


# Each kind of hostile frame alone, so that a failure names the frame that caused it:
# ``{name: (transport, auth, frames or POST bodies)}``.
def catalogue(live):
    screen = {"screen": live.screen_key}
    clerk = {"token": live.tokens["clerk"]}
    return {
        "bad JSON": ("websocket", screen, ['42["resync", {']),
        "unknown Socket.IO packet type": ("websocket", screen, ['47["x"]']),
        "unknown Engine.IO packet type": ("websocket", screen, ["9"]),
        "text that is no Engine.IO packet": ("websocket", screen, ["x"]),
        "empty text frame": ("websocket", screen, [""]),
        "empty binary frame": ("websocket", screen, [b""]),
        "binary frame, anonymous": ("websocket", None, [b"\x00\x01"]),
        "binary frame, logged in": ("websocket", screen, [b"\x04\x01"]),
        "binary frame starting with a digit": ("websocket", screen, [b"2[]"]),
        "binary event without its attachment": (
            "websocket",
            screen,
            ['451-["resync",{"_placeholder":true,"num":0}]'],
        ),
        "attachment placeholder out of range": (
            "websocket",
            screen,
            ['451-["resync",{"_placeholder":true,"num":5}]', b"\x01"],
        ),
        "attachment placeholder not a number": (
            "websocket",
            screen,
            ['451-["resync",{"_placeholder":true,"num":"x"}]', b"\x01"],
        ),
        "namespace that does not exist": ("websocket", None, ["40/nope,"]),
        "nesting 1000 deep under 4096 bytes": (
            "websocket",
            screen,
            ['42["resync",' + "[" * 1000 + "]" * 1000 + "]"],
        ),
        "frame over 4096 bytes": ("websocket", screen, [event("resync", "x" * 5000)]),
        "text frame that is not UTF-8": ("websocket", screen, [NotUtf8(b'42["resync","\xff"]')]),
        "event that is a dict": ("websocket", screen, ['42{"a":1}']),
        "event with no name": ("websocket", screen, ["42[]"]),
        "event named with a list": ("websocket", screen, ['42[["resync"]]']),
        "resync with two arguments": ("websocket", screen, [event("resync", {"since": 0}, 1)]),
        "event named connect": ("websocket", screen, [event("connect", 1)]),
        "event named disconnect with two arguments": (
            "websocket",
            screen,
            [event("disconnect", 1, 2)],
        ),
        "desk beyond SQLite's integers": (
            "websocket",
            None,
            [login_packet({**clerk, "desk": 2**63})],
        ),
        "token with a lone surrogate": ("websocket", None, ['40{"token":"\\ud800"}']),
        "login after a malformed packet, at once": (
            "websocket",
            None,
            [b"\x00", login_packet(screen)],
        ),
        "login, then close at once": ("websocket", None, [login_packet(screen), "1"]),
        "POST that is not UTF-8": ("polling", screen, [b"\xff\xfe"]),
        "POST that is no Engine.IO packet": ("polling", screen, [b"x"]),
        "POST with empty packets": ("polling", screen, [b"\x1e\x1e"]),
        "POST of a bad base64 binary packet": ("polling", screen, [b"b!!"]),
    }


@pytest.mark.slow
def test_each_hostile_frame_alone_is_refused_or_ignored(live):
    """Each kind of hostile frame alone, on a WebSocket or long-polling session of its own:
    the client is answered, refused or disconnected, and the server logs no traceback or
    error for it (a failure lists the frames that made it log one). Also a long-polling POST
    of an unknown Engine.IO packet with no poll waiting: it is answered."""
    log = ServerLog(live.server)
    pid = live.server.process.pid
    failures = {}
    for name, (transport, auth, frames) in catalogue(live).items():
        mark = log.mark()
        try:
            if transport == "websocket":
                websocket_session(live.url, auth, frames)
            else:
                polling_session(live.url, auth, frames)
        except (requests.RequestException, AssertionError, pytest.fail.Exception) as error:
            failures[name] = [f"not answered: {error!r}"[:300]]
        settle(live, log)
        if problems(log.since(mark)):
            failures.setdefault(name, []).extend(
                tracebacks(log.since(mark)) or problems(log.since(mark))[:5]
            )
    mark = log.mark()
    unanswered = unanswered_post(live.url, b"9")
    settle(live, log)
    if unanswered or problems(log.since(mark)):
        failures["POST of an unknown Engine.IO packet, no poll waiting"] = [unanswered] + problems(
            log.since(mark)
        )[:5]

    assert_still_serving(live, pid)
    assert not failures, "frames that made the server fail:\n" + "\n".join(
        f"- {name}: {found}" for name, found in failures.items()
    )


def unanswered_post(url, body):
    """POST ``body`` to a fresh long-polling session with no poll waiting; None when it is
    answered, else what went wrong (the session is then polled, which lets it go)."""
    opened = requests.get(polling_url(url), timeout=WAIT_S)
    session = polling_url(url, json.loads(opened.text[1:])["sid"])
    try:
        response = requests.post(session, data=body, timeout=WAIT_S)
    except requests.Timeout:
        requests.get(session, timeout=WAIT_S)
        return f"the POST of {body!r} was not answered within {WAIT_S} s"
    return None if response.status_code < 500 else f"{response.status_code} {response.text}"


# A flood while people use the town hall --------------------------------------------------------


class Flood:
    """Clients that send garbage as fast as they can, each reconnecting whenever the server
    closes it (for too many messages, a malformed packet or an oversized frame), until
    stopped. ``closed`` counts the connections the server ended."""

    # Mostly more messages than a connection may send; now and then a malformed or an
    # oversized one.
    PLANS = [['42["resync",{"since":0}]'] * 30] * 4 + [['42["resync", {'], ["x" * 5000], [b"\x00"]]

    def __init__(self, url, clients=3):
        self.url, self.stop = url, threading.Event()
        self.changed = threading.Condition()
        self.closed, self.errors = 0, []
        self.threads = [
            threading.Thread(target=self._run, args=(index,), daemon=True)
            for index in range(clients)
        ]

    def _run(self, index):
        rng = random.Random(SEED + index)
        while not self.stop.is_set():
            frames = rng.choice(self.PLANS)
            try:
                with open_websocket(
                    websocket_url(self.url),
                    open_timeout=WAIT_S,
                    close_timeout=WAIT_S,
                    max_size=None,
                ) as websocket:
                    for frame in frames:
                        websocket.send(frame)
                    while True:
                        websocket.recv(timeout=WAIT_S)
            except ConnectionClosed:
                with self.changed:
                    self.closed += 1
                    self.changed.notify_all()
            except (OSError, InvalidHandshake) as error:  # timeouts included
                with self.changed:
                    self.errors.append(repr(error))
                    self.changed.notify_all()
                return

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def wait_until_closed(self, count):
        """Wait until the server has closed ``count`` of the flood's connections."""
        with self.changed:
            assert self.changed.wait_for(lambda: self.closed >= count or self.errors, WAIT_S), (
                f"the server closed {self.closed} flooding connections within {WAIT_S} s"
            )
        assert not self.errors, self.errors

    def __exit__(self, *exc_info):
        self.stop.set()
        for thread in self.threads:
            thread.join(WAIT_S)


@pytest.mark.slow
def test_server_answers_while_clients_flood_it(live):
    """While three clients flood the server with garbage and reconnect each time they are
    cut off, the health check and the API answer, a TV connecting gets its snapshot, and
    the flooders are cut off for sending too many messages; nothing fails in the log."""
    log = ServerLog(live.server)
    pid = live.server.process.pid
    with Flood(live.url) as flood:
        flood.wait_until_closed(3)
        assert_still_serving(live, pid)
        response = requests.get(
            f"{live.url}/api/v1/occupancy",
            timeout=WAIT_S,
            headers={"Authorization": f"Bearer {live.tokens['clerk']}"},
        )
        assert response.status_code == 200
        flood.wait_until_closed(flood.closed + 3)  # still flooding while all that answered
    assert not flood.errors, flood.errors
    settle(live, log)
    lines = log.since()
    assert any("that sent too many messages" in line for line in lines)
    assert_clean(lines, "during a flood")
