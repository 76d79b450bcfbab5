"""``GET /healthz`` for monitoring: whether this server process can do its work.

No login, and nothing an attacker could use (no versions, paths or error texts): 200
``{"status": "ok"}``, or 503 ``{"status": "degraded", "degraded": [...]}`` naming the parts
that fail: ``database`` (cannot be read, or its folder cannot be written or is nearly full)
and ``message_queue`` (set but unreachable; screens on other processes then hear of calls
within a second through the journal instead of at once).
"""

import os
import shutil
import sqlite3

from flask import Blueprint, current_app, jsonify

from queue_app.storage import journal
from queue_app.storage.db import get_db
from queue_app.web.security import limiter, private, public_limit

bp = Blueprint("health", __name__)
# Below this much free disk a write may fail any moment: worth a warning before it does.
MIN_FREE_BYTES = 16 * 1024 * 1024


def database_ok():
    """The journal can be read, and the database's folder written with room to spare."""
    try:
        journal.last_seq(get_db())
    except sqlite3.Error:
        return False
    path = current_app.config["DATABASE"]
    if path == ":memory:":
        return True
    folder = os.path.dirname(os.path.abspath(path))
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return False
    return os.access(path, os.W_OK) and os.access(folder, os.W_OK) and free >= MIN_FREE_BYTES


@bp.get("/healthz")
@limiter.limit(public_limit)
def healthz():
    """Monitoring's question: 200 when everything works, else 503 naming what does not."""
    degraded = [] if database_ok() else ["database"]
    if current_app.extensions["torn.relay"].message_queue_up() is False:
        degraded.append("message_queue")
    response = jsonify(
        {"status": "degraded", "degraded": degraded} if degraded else {"status": "ok"}
    )
    return private(response), 503 if degraded else 200
