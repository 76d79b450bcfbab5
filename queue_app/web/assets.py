"""Browser libraries installed by npm (``make install``), served from ``node_modules``."""

import os

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("assets", __name__, url_prefix="/vendor")

# Only the files pages use, each from its package's dist folder: nothing else is reachable.
VENDOR_FILES = {
    "socket.io.min.js": os.path.join("socket.io-client", "dist"),
    "chart.umd.min.js": os.path.join("chart.js", "dist"),  # the statistics page's charts
}


@bp.get("/<name>")
def vendor_file(name):
    """A whitelisted file of an npm package; 404 for anything else."""
    folder = VENDOR_FILES.get(name)
    if folder is None:
        abort(404)
    # node_modules sits at the project's top, next to the application package.
    project = os.path.dirname(current_app.root_path)
    return send_from_directory(os.path.join(project, "node_modules", folder), name, max_age=3600)
