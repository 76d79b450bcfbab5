"""The HTTP server around the app (``run.py``): one listening socket of its own, and the
limits that keep a single client from stalling the town hall.

Limits (docs/security.md says why each has its value):

- ``HEAD_TIMEOUT_S``: a request's line and headers must arrive within this time (also the
  longest a kept-alive connection may sit idle between requests); a half-sent request is
  closed then, whatever it trickles.
- ``SOCKET_TIMEOUT_S``: any single read or write of a connection (a body, a WebSocket)
  that waits longer fails and the connection closes. Engine.IO pings every 25 s, so a live
  screen always talks well within it.
- ``QUEUE_MAX_CONNECTIONS`` (default ``MAX_CONNECTIONS``): connections served at once; the
  process's file-descriptor limit is raised to fit them (or the ceiling lowered, said aloud).
"""

import errno
import re
import resource
import socket
import sys

MAX_CONNECTIONS = 5000
HEAD_TIMEOUT_S = 10
SOCKET_TIMEOUT_S = 60
LISTEN_BACKLOG = 1024
# Descriptors kept for what is not a client: the database, its WAL, Redis, logs.
SPARE_DESCRIPTORS = 256


class PortInUse(RuntimeError):
    """Another process already listens on the address."""


def connection_ceiling(wanted):
    """Raise the soft file-descriptor limit for ``wanted`` connections; the ceiling that fits.

    When the hard limit is too low the ceiling is lowered to what it allows and a warning says
    so: refusing to start would leave the town hall without its queue.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + SPARE_DESCRIPTORS
    if hard != resource.RLIM_INFINITY and needed > hard:
        needed = hard
    if needed > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    ceiling = max(1, min(wanted, needed - SPARE_DESCRIPTORS))
    if ceiling < wanted:
        print(
            f"run.py: the file-descriptor limit ({hard}) allows only {ceiling} connections,"
            f" not {wanted}; raise it (`ulimit -n`, LimitNOFILE=) to serve more.",
            file=sys.stderr,
        )
    return ceiling


def listen(host, port):
    """A listening socket of our own: without SO_REUSEPORT, so that a second server on a taken
    port fails at once (PortInUse) instead of silently sharing it with the first."""
    import eventlet

    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listening = eventlet.listen(
            (host, port), family=family, backlog=LISTEN_BACKLOG, reuse_port=False
        )
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"{host}:{port} is already in use (Address already in use):"
                " is another Torn server running there?"
            ) from None
        raise
    # No Nagle delay on the connections (Linux gives accepted sockets this option): an
    # answer larger than eventlet's 16 KiB write buffer goes out in two writes, and the
    # second waited some 40 ms for the client's delayed acknowledgement; a call's few bytes
    # to the screens go at once too.
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listening


def protocol():
    """eventlet's HTTP protocol with a deadline for each request's head (line and headers)."""
    import eventlet
    import eventlet.wsgi

    class HttpProtocol(eventlet.wsgi.HttpProtocol):
        """Closes a connection whose request head is not complete within HEAD_TIMEOUT_S."""

        def handle_one_request(self):
            # eventlet's server closes a connection quietly on socket.timeout.
            self._head_deadline = eventlet.Timeout(
                HEAD_TIMEOUT_S, socket.timeout("request head too slow")
            )
            try:
                super().handle_one_request()
            finally:
                self._head_deadline.cancel()

        def parse_request(self):
            try:
                return super().parse_request()
            finally:
                self._head_deadline.cancel()  # the head is in: the request may take its time

    return HttpProtocol


def bounded_websocket_messages():
    """Cap a WebSocket message, not only each of its frames, at Engine.IO's message size.

    eventlet refuses a frame longer than its limit from the frame's header, but gathers the
    frames of a fragmented message without any limit, unmasking each byte in Python: one
    client streaming continuation frames kept the server busy, and nobody else was answered.
    A message now fails (close code 1009) as soon as its frames together pass the limit.
    """
    import eventlet.websocket as websocket

    gathered = websocket.RFC6455WebSocket.Message
    if getattr(gathered, "bounded", False):
        return

    class BoundedMessage(gathered):
        bounded = True
        size = 0

        def push(self, data, final=False):
            self.size += len(data)
            if self.size > self.max_frame_length:
                raise websocket.FailedConnectionError(
                    1009,
                    f"Incoming message is above the length limit of {self.max_frame_length} bytes.",
                )
            super().push(data, final)

    websocket.RFC6455WebSocket.Message = BoundedMessage


def chunked_bodies(app):
    """Let the app read a chunked request body (``Transfer-Encoding: chunked``).

    eventlet removes the chunking and ends the body where the client ended it, but does not
    say so with ``wsgi.input_terminated``; without it Werkzeug reads such a body as empty
    (and still caps it at ``MAX_CONTENT_LENGTH`` with it).
    """

    def wsgi(environ, start_response):
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            environ["wsgi.input_terminated"] = True
        return app(environ, start_response)

    return wsgi


# What the access log must not keep: the query string (a search may hold a citizen's name or
# phone) and the token in a citizen's or a TV's address (whoever reads it could open them).
QUERY = re.compile(r"\?[^ \"]*")
SECRET_PATH = re.compile(
    r"(/(?:t|a|display|api/v1/(?:tickets|appointments|displays))/)"
    r"(?!static/|import[ ?\"]|\d+[/ ?\"])[^/ ?\"]+"
)


def redact(line):
    """An access-log line without query strings and addresses' tokens."""
    return SECRET_PATH.sub(r"\1…", QUERY.sub("?…", line))


def private_access_log():
    """eventlet's access log on standard error, each line redacted (``redact``)."""
    import eventlet.wsgi

    class PrivateLog(eventlet.wsgi.LoggerFileWrapper):
        def info(self, msg, *args, **kwargs):
            super().info(redact(msg), *args, **kwargs)

    return PrivateLog(sys.stderr, debug=False)


def serve_eventlet(app, sock, max_connections):
    """Serve ``app`` on ``sock`` until stopped, within the limits above."""
    import eventlet.wsgi

    from queue_app.live import fanout

    bounded_websocket_messages()
    fanout.install()
    eventlet.wsgi.server(
        sock,
        chunked_bodies(app),
        log_output=True,
        log=private_access_log(),
        max_size=max_connections,
        socket_timeout=SOCKET_TIMEOUT_S,
        protocol=protocol(),
    )
