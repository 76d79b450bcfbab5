"""The waiting-room TV display: the ``/display/<key>`` page and its own assets."""

from flask import Blueprint

bp = Blueprint(
    "display", __name__, url_prefix="/display", static_folder="static", static_url_path="/static"
)


@bp.record_once
def _settle_timings(state):
    timings.init_app(state.app)


from . import timings, views  # noqa: E402,F401  (routes register on bp)
