"""The TV page: served by key, no login; everything on it arrives over Socket.IO."""
from flask import g, render_template

from queue_app import displays
from queue_app.db import get_db

from . import bp


@bp.get("/<key>")
def screen(key):
    """The full-screen page of one display screen (the key is the secret)."""
    display = displays.find_by_key(get_db(), key)
    g.language = display["language"]
    return render_template("display/screen.html", display=display)
