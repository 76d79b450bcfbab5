"""Which desks have a live desk page open, for honest wait estimates (``rules/calling.py``
counts a desk as staffed when a desk page is open at it, or it acted in the last minutes).

A desk page's connection (``auth`` with a desk) is noted when accepted and forgotten when it
closes; each server process refreshes its own every ``HEARTBEAT_S`` seconds, so that the
pages of a process that died stop counting soon after (``calling.PAGE_FRESH``).
"""

import os
import uuid

from queue_app import socketio
from queue_app.clock import utcnow
from queue_app.rules import desks
from queue_app.storage.db import get_db

PROCESS = uuid.uuid4().hex  # this server process
# Seconds between two refreshes (QUEUE_PRESENCE_HEARTBEAT_S: only a clock run faster than
# real time, bench/estimate_sim.py's, needs another).
HEARTBEAT_S = float(os.environ.get("QUEUE_PRESENCE_HEARTBEAT_S") or 30)


def opened(sid, desk_id):
    desks.page_opened(get_db(), sid, desk_id, PROCESS, utcnow())


def closed(sid):
    desks.page_closed(get_db(), sid)


def keep_fresh(app):
    """The process's heartbeat (a background task of ``start_background``)."""
    while True:
        socketio.sleep(HEARTBEAT_S)
        with app.app_context():
            try:
                desks.pages_still_open(get_db(), PROCESS, utcnow())
            except Exception:  # a busy database now is a heartbeat later
                app.logger.exception("presence: could not refresh the desk pages")
