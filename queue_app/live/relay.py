"""The journal reaches every screen: each server process delivers every committed event to its
own Socket.IO connections, in ``seq`` order and exactly once.

The journal in SQLite is the one source of truth, so nothing committed can be lost on the
way. The process that wrote an event delivers it right after its commit: in a server, by a
task of its own as soon as the request that wrote it has answered (the clerk's call-next does
not wait for a thousand screens); elsewhere (the test client, a command) at once. Other processes
learn that the journal grew from a wake-up on the message queue (Redis publish/subscribe on
``QUEUE_MESSAGE_QUEUE``), then read from the journal whatever they have not delivered yet.
Every process also reads the journal every ``POLL_S`` seconds, so an event written while
Redis was down, or by a command-line tool, still reaches every screen, at most that late.
"""

import logging
import threading
import time
from itertools import pairwise

from queue_app.storage import journal
from queue_app.storage.db import get_db

log = logging.getLogger(__name__)

POLL_S = 1.0
CHANNEL = "torn:journal"
# A gap longer than this is not replayed event by event: every connection gets a snapshot.
CATCH_UP_MAX = 200
RETRY_MIN_S, RETRY_MAX_S = 0.25, 2.0
REDIS_TIMEOUT_S = 2.0


class Relay:
    """Delivery of the journal to this process's connections.

    ``deliver(events)`` sends events (in order) to the rooms that may hear them;
    ``refresh(since)`` stands for delivering every event after ``since`` when the gap is too
    long to replay: it applies the events that end connections, then gives every connection
    a fresh snapshot.
    """

    def __init__(self, app, deliver, refresh):
        self.app, self.deliver, self.refresh = app, deliver, refresh
        self.url = app.config["MESSAGE_QUEUE"]
        self.delivered = None  # the newest seq delivered here
        self.lock = threading.RLock()
        self.wanted = threading.Event()  # a wake-up is waiting to be published
        self.listening = False  # subscribed to the message queue right now
        self.publishing = True  # the last wake-up could be published
        self.last_delivered_at = time.monotonic()  # for live/collector.py
        self.deferred = False  # delivered by the delivery task (``start``), not the writer
        self.pending = []  # committed here, for the delivery task
        self.pending_lock = threading.Lock()  # threads (QUEUE_ASYNC_MODE=threading) add to it
        self.ready = threading.Event()  # something is pending

    def start_from(self, seq):
        """Events up to ``seq`` count as delivered (a process starting on a journal)."""
        self.delivered = seq

    def committed(self, events):
        """After a commit: deliver its events, and before them any not delivered yet; in a
        server, by the delivery task once the writer's request has answered."""
        if not events:
            return
        if self.deferred:
            with self.pending_lock:
                self.pending.extend(events)
            self.ready.set()
        else:
            self._take(events)
        if self.url:
            self.wanted.set()

    def _take(self, events):
        with self.lock:
            fresh = [event for event in events if event["seq"] > self.delivered]
            if fresh and fresh[0]["seq"] == self.delivered + 1 and _contiguous(fresh):
                self._deliver(fresh)
            elif fresh:
                self.catch_up()

    def catch_up(self):
        """Deliver every journal event after the last one delivered here."""
        with self.lock:
            missed = journal.since(get_db(), self.delivered, limit=CATCH_UP_MAX + 1)
            if len(missed) > CATCH_UP_MAX:
                since, self.delivered = self.delivered, journal.last_seq(get_db())
                self.refresh(since)
            elif missed:
                self._deliver(missed)

    def _deliver(self, events):
        self.delivered = events[-1]["seq"]
        self.deliver(events)
        self.last_delivered_at = time.monotonic()

    # Background work of a server process ------------------------------------------------

    def start(self, spawn):
        """Start the background tasks with ``spawn(function)`` (Socket.IO's background task)."""
        self.deferred = True
        spawn(self._deliver_pending)
        spawn(self._poll)
        if self.url:
            spawn(self._listen)
            spawn(self._publish)

    def _in_app(self, work):
        with self.app.app_context():
            try:
                work()
            except Exception:  # a database hiccup must not end the task
                log.exception("relay: could not read the journal")

    def _deliver_pending(self):
        """Deliver what this process committed: it runs when the writing request yields,
        that is once its answer is written."""
        while True:
            self.ready.wait()
            self.ready.clear()
            with self.pending_lock:
                events, self.pending = self.pending, []
            events.sort(key=lambda event: event["seq"])
            self._in_app(lambda events=events: self._take(events))

    def _poll(self):
        while True:
            _sleep(POLL_S)
            self._in_app(self.catch_up)

    def _redis(self):
        import redis

        return redis.Redis.from_url(
            self.url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            health_check_interval=0,
        )

    def _listen(self):
        """Wake up whenever another process says the journal grew."""
        pause = RETRY_MIN_S
        while True:
            try:
                pubsub = self._redis().pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                self.listening, pause = True, RETRY_MIN_S
                self._in_app(self.catch_up)  # what was said while nobody listened
                while True:
                    # A timeout is only a quiet moment; a broken connection raises.
                    if pubsub.get_message(timeout=REDIS_TIMEOUT_S) is not None:
                        self._in_app(self.catch_up)
            except Exception as error:
                if self.listening:
                    log.warning(
                        "relay: lost the message queue (%s); retrying", type(error).__name__
                    )
                self.listening = False
                _sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)

    def _publish(self):
        """Tell the other processes that the journal grew (never on a request's time)."""
        client = self._redis()
        pause = RETRY_MIN_S
        while True:
            self.wanted.wait()
            self.wanted.clear()
            try:
                client.publish(CHANNEL, str(self.delivered))
                self.publishing, pause = True, RETRY_MIN_S
            except Exception as error:
                if self.publishing:
                    log.warning(
                        "relay: cannot publish to the message queue (%s); retrying",
                        type(error).__name__,
                    )
                self.publishing = False
                self.wanted.set()  # said again once it is back (the others poll meanwhile)
                _sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)

    def message_queue_up(self):
        """Whether the message queue works now (None when there is none)."""
        if not self.url:
            return None
        return self.listening and self.publishing


def _contiguous(events):
    return all(later["seq"] == earlier["seq"] + 1 for earlier, later in pairwise(events))


def _sleep(seconds):
    from queue_app import socketio

    socketio.sleep(seconds)
