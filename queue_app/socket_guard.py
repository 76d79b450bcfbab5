"""Limits on Socket.IO clients, so that no single one can stall the town hall.

- A message may be at most ``MAX_MESSAGE_BYTES`` (Engine.IO's ``max_http_buffer_size``, which
  eventlet also applies to each WebSocket frame before reading it): the largest message a
  real client sends is its connection request with a key or token, about 100 bytes.
- A connection that has not logged in to Socket.IO within ``LOGIN_DEADLINE_S`` of opening
  is closed (every real client logs in with its first message).
- Each connection may send ``RATE_BURST`` messages at once and ``RATE_PER_S`` a second after
  that; beyond, or on a message that is not Socket.IO, it is closed.
- A long-polling POST larger than a message is refused (413) before Engine.IO reads it:
  python-engineio would close the session and wait, with the request still open, for a
  poll that a hostile client never makes, holding one of the server's connections for ever.
"""
import logging
import time

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4096
LOGIN_DEADLINE_S = 10.0
RATE_BURST = 20
RATE_PER_S = 2.0
SWEEP_S = 1.0


class Guard:
    """Wraps a Socket.IO server's Engine.IO handlers with the limits above."""

    def __init__(self, server, clock=time.monotonic):
        self.server, self.clock = server, clock
        self.opened = {}    # eio sid -> when it opened, until it logs in to Socket.IO
        self.buckets = {}   # eio sid -> [tokens, when last counted]
        eio = server.eio
        self._connect = eio.handlers["connect"]
        self._message = eio.handlers["message"]
        self._disconnect = eio.handlers["disconnect"]
        eio.on("connect", self.on_connect)
        eio.on("message", self.on_message)
        eio.on("disconnect", self.on_disconnect)

    def on_connect(self, eio_sid, environ):
        self.opened[eio_sid] = self.clock()
        self.buckets[eio_sid] = [RATE_BURST, self.clock()]
        return self._connect(eio_sid, environ)

    def on_message(self, eio_sid, data):
        if not self._spend(eio_sid):
            return self._close(eio_sid, "sent too many messages")
        try:
            result = self._message(eio_sid, data)
        except ValueError:   # python-socketio's word for a packet it cannot read
            return self._close(eio_sid, "sent a malformed packet")
        if eio_sid in self.opened and self.server.manager.sid_from_eio_sid(eio_sid, "/"):
            del self.opened[eio_sid]
        return result

    def on_disconnect(self, eio_sid, reason):
        self.opened.pop(eio_sid, None)
        self.buckets.pop(eio_sid, None)
        return self._disconnect(eio_sid, reason)

    def _spend(self, eio_sid):
        bucket = self.buckets.get(eio_sid)
        if bucket is None:
            return True
        now = self.clock()
        tokens = min(RATE_BURST, bucket[0] + (now - bucket[1]) * RATE_PER_S)
        if tokens < 1:
            return False
        bucket[0], bucket[1] = tokens - 1, now
        return True

    def _close(self, eio_sid, why):
        environ = self.server.environ.get(eio_sid, {})
        log.warning("socket: closed a connection from %s that %s",
                    environ.get("REMOTE_ADDR", "?"), why)
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
            except Exception:   # one odd connection must not end the sweeper
                log.exception("socket: the sweeper failed once")


def refuse_large_posts(wsgi_app, path="/socket.io/"):
    """WSGI middleware: a long-polling POST above ``MAX_MESSAGE_BYTES`` gets 413 at once."""
    def guarded(environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" \
                and environ.get("PATH_INFO", "").startswith(path):
            declared = environ.get("CONTENT_LENGTH") or "0"
            if not declared.isdigit() or int(declared) > MAX_MESSAGE_BYTES:
                start_response("413 Payload Too Large", [("Content-Type", "text/plain"),
                                                         ("Connection", "close")])
                return [b"Payload Too Large\n"]
        return wsgi_app(environ, start_response)
    return guarded
