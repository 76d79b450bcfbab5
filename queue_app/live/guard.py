"""Limits on Socket.IO clients, so that no single one can stall the town hall.

- A message may be at most ``MAX_MESSAGE_BYTES`` (Engine.IO's ``max_http_buffer_size``, which
  eventlet also applies to each WebSocket frame before reading it): the largest message a
  real client sends is its connection request with a key or token, about 100 bytes.
- A connection that has not logged in to Socket.IO within ``LOGIN_DEADLINE_S`` of opening
  is closed (every real client logs in with its first message).
- Each connection may send ``RATE_BURST`` messages at once and ``RATE_PER_S`` a second after
  that; beyond, or on a message that is not Socket.IO, it is closed.
- A client address may open ``OPEN_BURST`` Engine.IO sessions at once and ``OPEN_PER_S`` a
  second after that (429 beyond), behind a proxy the address it forwards.
- Only what a real client sends gets through: text packets, a Socket.IO event named by a
  text that is not reserved (``connect``, ``disconnect``); no binary packets, no acks.
- A long-polling POST larger than a message, or that is not Engine.IO text, is refused
  (413, 400) before Engine.IO reads it: python-engineio would close the session and wait,
  with the request still open, for a poll that a hostile client never makes, holding one
  of the server's connections for ever. A WebSocket frame that is not an Engine.IO packet
  ends its connection quietly (python-engineio would raise outside its own error handling).
"""

import io
import logging
import time

from socketio import packet as sio_packet

log = logging.getLogger(__name__)
# Engine.IO packets a client may send over long-polling: close, pong, message, upgrade.
POLLING_PACKETS = "1345"
# What a client's message may be (python-socketio would dispatch a reserved name to the
# handler of that name, and fails on events without a text name).
ACCEPTED = (sio_packet.CONNECT, sio_packet.DISCONNECT, sio_packet.EVENT)
MALFORMED = (ValueError, TypeError, IndexError, KeyError, RecursionError)

MAX_MESSAGE_BYTES = 4096
# New Engine.IO sessions per client address: a handshake costs about 0.8 ms of the server's
# core, so one client reconnecting as fast as it can would take all of it. A browser opens
# its connection in a few requests; after a restart every device and phone behind one
# address (a carrier's CGNAT) comes back at once: the burst is for them (as nginx's).
OPEN_PER_S = 10
OPEN_BURST = 200
LOGIN_DEADLINE_S = 10.0
RATE_BURST = 20
RATE_PER_S = 2.0
SWEEP_S = 1.0


class Buckets:
    """Token buckets by key: ``burst`` at once, then ``per_s`` a second; a key not seen yet
    (or forgotten) has a full bucket. At most ``kept`` keys are remembered: past that, the
    ones whose bucket has filled up again are forgotten."""

    def __init__(self, burst, per_s, clock=time.monotonic, kept=10000):
        self.burst, self.per_s, self.clock, self.kept = burst, per_s, clock, kept
        self.counts = {}  # key -> [tokens, when last counted]

    def _tokens(self, count, now):
        return min(self.burst, count[0] + (now - count[1]) * self.per_s)

    def take(self, key):
        """Spend one token of ``key``'s bucket; False when it is empty."""
        now = self.clock()
        if len(self.counts) >= self.kept:
            self.counts = {
                kept: count
                for kept, count in self.counts.items()
                if self._tokens(count, now) < self.burst
            }
        count = self.counts.get(key)
        tokens = self._tokens(count, now) if count else self.burst
        if tokens < 1:
            self.counts[key] = [tokens, now]
            return False
        self.counts[key] = [tokens - 1, now]
        return True

    def forget(self, key):
        self.counts.pop(key, None)


class Guard:
    """Wraps a Socket.IO server's Engine.IO handlers with the limits above."""

    def __init__(self, server, clock=time.monotonic):
        self.server, self.clock = server, clock
        self.opened = {}  # eio sid -> when it opened, until it logs in to Socket.IO
        self.messages = Buckets(RATE_BURST, RATE_PER_S, clock)  # by eio sid
        eio = server.eio
        self._connect = eio.handlers["connect"]
        self._message = eio.handlers["message"]
        self._disconnect = eio.handlers["disconnect"]
        eio.on("connect", self.on_connect)
        eio.on("message", self.on_message)
        eio.on("disconnect", self.on_disconnect)
        # Flask-SocketIO's test client calls these methods of the server directly: it
        # meets the same guard as a real client.
        server._handle_eio_connect = self.on_connect
        server._handle_eio_message = self.on_message
        server._handle_eio_disconnect = self.on_disconnect
        if eio._async.get("websocket") is not None:
            # python-engineio's table of its async driver, shared by every server: a copy.
            eio._async = dict(eio._async, websocket=_checked_websockets(eio._async["websocket"]))

    def on_connect(self, eio_sid, environ):
        self.opened[eio_sid] = self.clock()
        return self._connect(eio_sid, environ)

    def on_message(self, eio_sid, data):
        if eio_sid not in self.server.environ:  # closed while this message waited
            return None
        if not self.messages.take(eio_sid):
            return self._close(eio_sid, "sent too many messages")
        if not self._acceptable(data):
            return self._close(eio_sid, "sent a malformed packet")
        try:
            result = self._message(eio_sid, data)
        except MALFORMED:  # what python-socketio raises on a packet it cannot read
            return self._close(eio_sid, "sent a malformed packet")
        if eio_sid in self.opened and self.server.manager.sid_from_eio_sid(eio_sid, "/"):
            del self.opened[eio_sid]
        return result

    def _acceptable(self, data):
        """Whether a message is one a real client sends (see the module's docstring)."""
        if not isinstance(data, str):
            return False
        try:
            decoded = self.server.packet_class(encoded_packet=data)
        except MALFORMED:
            return False
        if decoded.packet_type not in ACCEPTED:
            return False
        if decoded.packet_type == sio_packet.EVENT:
            event = decoded.data
            return (
                isinstance(event, list)
                and bool(event)
                and isinstance(event[0], str)
                and event[0] not in self.server.reserved_events
            )
        return True

    def on_disconnect(self, eio_sid, reason):
        self.opened.pop(eio_sid, None)
        self.messages.forget(eio_sid)
        return self._disconnect(eio_sid, reason)

    def _close(self, eio_sid, why):
        environ = self.server.environ.get(eio_sid, {})
        log.warning(
            "socket: closed a connection from %s that %s", environ.get("REMOTE_ADDR", "?"), why
        )
        self.opened.pop(eio_sid, None)
        eio = self.server.eio
        socket = eio.sockets.get(eio_sid)
        if socket is not None:
            # Not eio.disconnect(), which waits until the client has polled for the close
            # packet: a silent long-polling client never does, and the sweeper would hang.
            socket.close(wait=False, reason=eio.reason.SERVER_DISCONNECT)
            eio.sockets.pop(eio_sid, None)

    def sweep(self):
        """Close every connection still anonymous past the deadline."""
        cutoff = self.clock() - LOGIN_DEADLINE_S
        for eio_sid, opened in list(self.opened.items()):
            if opened <= cutoff:
                if self.server.manager.sid_from_eio_sid(eio_sid, "/"):
                    self.opened.pop(eio_sid, None)
                else:
                    self._close(eio_sid, f"did not log in within {LOGIN_DEADLINE_S:g} s")

    def run(self, sleep):
        """The sweeper of a server process: ``sleep`` is Socket.IO's (green or not)."""
        while True:
            sleep(SWEEP_S)
            try:
                self.sweep()
            except Exception:  # one odd connection must not end the sweeper
                log.exception("socket: the sweeper failed once")


def _refuse(start_response, status):
    start_response(status, [("Content-Type", "text/plain"), ("Connection", "close")])
    return [status.encode() + b"\n"]


def _polling_body(body):
    """Whether a long-polling POST holds only Engine.IO packets a client may send."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(part and part[0] in POLLING_PACKETS for part in text.split("\x1e"))


class Openings(Buckets):
    """New Engine.IO sessions by client address (``OPEN_BURST``, then ``OPEN_PER_S``), with
    one line in the log when an address starts being refused."""

    def __init__(self, clock=time.monotonic):
        super().__init__(OPEN_BURST, OPEN_PER_S, clock)
        self.refusing = set()  # addresses refused since they were last allowed

    def take(self, address):
        if super().take(address):
            self.refusing.discard(address)
            return True
        if address not in self.refusing:
            if len(self.refusing) >= self.kept:
                self.refusing.clear()
            self.refusing.add(address)
            log.warning("socket: refusing new connections from %s, which opens too many", address)
        return False


def check_socket_requests(wsgi_app, path="/socket.io/"):
    """WSGI middleware before python-engineio: a new Engine.IO session beyond its address's
    ``Openings`` gets 429; a long-polling POST above ``MAX_MESSAGE_BYTES`` 413, and one that
    is not Engine.IO text 400 (see the module's docstring)."""
    openings = Openings()

    def guarded(environ, start_response):
        if not environ.get("PATH_INFO", "").startswith(path):
            return wsgi_app(environ, start_response)
        if "sid=" not in environ.get("QUERY_STRING", "") and not openings.take(
            environ.get("REMOTE_ADDR", "")
        ):
            return _refuse(start_response, "429 Too Many Requests")
        if environ.get("REQUEST_METHOD") == "POST":
            declared = environ.get("CONTENT_LENGTH") or "0"
            if not declared.isdigit() or int(declared) > MAX_MESSAGE_BYTES:
                return _refuse(start_response, "413 Payload Too Large")
            body = environ["wsgi.input"].read(int(declared))
            if not _polling_body(body):
                return _refuse(start_response, "400 Bad Request")
            environ["wsgi.input"] = io.BytesIO(body)
        return wsgi_app(environ, start_response)

    return guarded


def _engineio_frames(wait):
    """A WebSocket's ``wait`` whose text frames are Engine.IO packets: any other text frame
    reads as Engine.IO's close packet, so the connection ends the way a client ends it."""

    def checked_wait():
        data = wait()
        if isinstance(data, str) and (not data or data[0] not in "0123456789"):
            log.warning("socket: closed a connection that sent a frame that is not Engine.IO")
            return "1"
        return data

    return checked_wait


def _checked_websockets(websocket_class):
    """python-engineio's WebSocket class for its driver, its frames checked first."""

    class Checked(websocket_class):
        def __init__(self, handler, server):
            def checked(ws):
                # Only ``wait`` is replaced: sending, on every broadcast, stays as it was.
                ws.wait = _engineio_frames(ws.wait)
                return handler(ws)

            super().__init__(checked, server)

    return Checked
