"""Browser libraries installed by npm (``make install``), served from ``node_modules``."""

import os

from flask import Blueprint, abort, send_from_directory

bp = Blueprint("assets", __name__, url_prefix="/vendor")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Only the files pages use, each from its package's dist folder: nothing else is reachable.
VENDOR_FILES = {
    "socket.io.min.js": os.path.join("socket.io-client", "dist"),
}


@bp.get("/<name>")
def vendor_file(name):
    """A whitelisted file of an npm package; 404 for anything else."""
    folder = VENDOR_FILES.get(name)
    if folder is None:
        abort(404)
    return send_from_directory(os.path.join(ROOT, "node_modules", folder), name, max_age=3600)
