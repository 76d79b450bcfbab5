"""A recording Socket.IO client for tests against real servers (python-socketio)."""

import threading

import socketio

EVENTS = (
    "snapshot",
    "ticket_called",
    "queue_changed",
    "occupancy_changed",
    "ticket_changed",
    "day_started",
)
WAIT_S = 10


class Listener:
    """A Socket.IO client that records every event and lets a test wait for one.

    Like the TV page, it reconnects by itself and then asks for what it missed
    (``resync`` with the last ``seq`` it saw).
    """

    def __init__(self, url, auth, headers=None, transports=None):
        self.url, self.auth, self.headers = url, auth, headers or {}
        self.transports = transports  # None: long-polling first, then upgraded to WebSocket
        self.received = []
        self.changed = threading.Condition()
        self.client = socketio.Client(
            reconnection=True, reconnection_delay=0.2, reconnection_delay_max=0.5
        )
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
        self.client.connect(
            self.url,
            auth=self.auth,
            headers=self.headers,
            transports=self.transports,
            wait_timeout=WAIT_S,
        )
        return self

    def wait_for(self, name, where=lambda payload: True, after=0):
        """The first recorded ``name`` event (from index ``after``) satisfying ``where``."""

        def found():
            return next(
                (
                    (payload,)
                    for got, payload in self.received[after:]
                    if got == name and where(payload)
                ),
                None,
            )

        with self.changed:
            assert self.changed.wait_for(lambda: found() is not None, WAIT_S), (
                f"no {name} within {WAIT_S} s; got {[got for got, _ in self.received]}"
            )
            return found()[0]

    @property
    def last_seq(self):
        """The newest seq received so far (None before the first event)."""
        seqs = [
            payload["seq"]
            for _, payload in self.received
            if isinstance(payload, dict) and "seq" in payload
        ]
        return max(seqs, default=None)

    def close(self):
        """Disconnect, and stop reconnecting too (``disconnect`` alone leaves a client that
        lost its server retrying in a thread of its own, for the rest of the test run).

        A server stopped just before may have its drop noticed while this runs, too late for
        ``shutdown`` to see a retrying thread and too early for the drop to see that nobody
        wants one: such a thread gives up after one attempt. Left retrying, it would draw
        on the global ``random`` for its back-off in whatever test runs next in this
        process (which Hypothesis reports as a strategy using ``random``).
        """
        self.client.reconnection = False
        self.client.reconnection_attempts = 1
        self.client.shutdown()
