"""The SMS sender: a background task of each server process that posts the outbox's due
messages (``rules/notices.py``) to the gateway, ``QUEUE_SMS_WEBHOOK``.

It never runs inside a request: a request only writes the message into the outbox, in its
own transaction, and wakes the sender up. A gateway that fails, hangs or answers garbage
holds this task only (each post has a timeout), and the message is due again later; across
a restart the outbox is still there. Several processes may run a sender each: a message is
leased to one at a time.

The gateway gets ``POST {"to","text","ticket"}`` (JSON; the ticket's code), with
``Authorization: Bearer QUEUE_SMS_WEBHOOK_TOKEN`` when set and ``Idempotency-Key:
torn-<id>``, the same for every try of one message, for gateways that can drop a repeat
(a process killed between the gateway's answer and noting it, sends that message again
after its lease). docs/notices.md says how to point it at a provider.
"""

import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from datetime import datetime

from flask import Flask
from flask_babel import force_locale, gettext, ngettext

from queue_app import socketio
from queue_app.clock import utcnow
from queue_app.languages import name_in
from queue_app.rules import notices, offices
from queue_app.storage.db import get_db

TIMEOUT_S = 10.0  # per connection attempt and per read
IDLE_S = 30.0  # a look at the outbox at least this often (messages due after a failure)
log = logging.getLogger(__name__)


def text_of(message: notices.Message) -> str:
    """The message's text in the ticket's language: its code, and the desk once called."""
    language = message["language"]
    name = name_in(offices.get(get_db(), message["office"]), language)
    with force_locale(language):
        if message["kind"] == "called":
            desk = {"name": message["desk"] or "", "names": message["desk_names"]}
            return gettext(
                "Torn %(code)s: it is your turn. Please go to %(desk)s.",
                code=message["code"],
                desk=name_in(desk, language),
            )
        if message["kind"] == "admitted":
            return gettext(
                "Torn %(code)s: you can come in now. Please enter the building.",
                code=message["code"],
            )
        if not message["ahead"]:
            return gettext(
                "Torn %(code)s: you are next at %(office)s. Please come back to the waiting room.",
                code=message["code"],
                office=name,
            )
        return ngettext(
            "Torn %(code)s: %(num)s person ahead of you at %(office)s. Please come back to"
            " the waiting room.",
            "Torn %(code)s: %(num)s people ahead of you at %(office)s. Please come back to"
            " the waiting room.",
            message["ahead"],
            code=message["code"],
            office=name,
        )


class Sender:
    """One process's sender (``start``); ``wake`` after a change that may have queued one."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.url: str = app.config["SMS_WEBHOOK"]
        self.token: str | None = app.config["SMS_WEBHOOK_TOKEN"]
        self.woken = threading.Event()

    def start(self) -> None:
        socketio.start_background_task(self.run)

    def wake(self) -> None:
        self.woken.set()

    def run(self) -> None:
        while True:
            self.woken.clear()
            wait = IDLE_S
            try:
                with self.app.app_context():
                    self.send_due()
                    wait = self.until_next(utcnow())
            except Exception:  # the sender goes on; the message stays in the outbox
                log.exception("SMS sender: a round failed")
            self.woken.wait(wait)

    def until_next(self, now: datetime) -> float:
        due = notices.next_due(get_db())
        if due is None:
            return IDLE_S
        seconds = (datetime.fromisoformat(due) - now).total_seconds()
        return min(max(seconds, 0.05), IDLE_S)

    def send_due(self) -> int:
        """Post every message due now; how many were tried."""
        db = get_db()
        tried = 0
        while (message := notices.claim(db, utcnow())) is not None:
            error = self.post(message)
            if error is None:
                notices.sent(db, message["id"], utcnow())
            else:
                notices.failed(db, message["id"], utcnow(), error)
                log.warning(
                    "SMS %s for ticket %s not accepted: %s", message["id"], message["code"], error
                )
            tried += 1
        return tried

    def post(self, message: notices.Message) -> str | None:
        """Post one message; None when the gateway accepted it (2xx), else why not."""
        body = {"to": message["to"], "text": text_of(message), "ticket": message["code"]}
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"torn-{message['id']}",
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                response.read(64 * 1024)
                status = response.status
        except urllib.error.HTTPError as error:
            return f"HTTP {error.code}"
        except (OSError, http.client.HTTPException, ValueError) as error:
            return f"{type(error).__name__}: {error}"[:200]
        return None if 200 <= status < 300 else f"HTTP {status}"


def init_app(app: Flask) -> Sender | None:
    """With a gateway set: notices on, and this app's sender, which a server process starts
    with its other background work (``start_background``)."""
    notices.configure(
        bool(app.config["SMS_WEBHOOK"]),
        app.config["NOTIFY_AHEAD"],
        app.config["SMS_RETRY_MAX_S"],
    )
    if not app.config["SMS_WEBHOOK"]:
        return None
    sender = Sender(app)
    app.extensions["torn.sms"] = sender
    return sender
