"""The TV page: served by key, no login; everything on it arrives over Socket.IO."""

from flask import Blueprint, current_app, g, make_response, render_template
from flask_babel import gettext as _

from display import timings
from display.speech import VOICES, speech_settings
from queue_app.languages import LANGUAGES
from queue_app.rules import displays, offices
from queue_app.rules.errors import NotFound
from queue_app.storage.db import get_db
from queue_app.web.security import private

bp = Blueprint(
    "display", __name__, url_prefix="/display", static_folder="static", static_url_path="/static"
)


@bp.record_once
def _settle_timings(state):
    timings.init_app(state.app)


# Rows of the "last calls" list under the current call (the page keeps no more).
HISTORY_ROWS = 5
# Building occupancy at or above this share of the limit shows amber; at the limit, red.
NEAR_FULL = 0.8


def _offices(db, codes):
    return [office for office in offices.list_offices(db) if office["code"] in codes]


def _page_config(display):
    """Everything the page's script needs, translated here: it holds no text of its own."""
    return {
        "key": display["key"],
        "language": display["language"],
        "locale": VOICES[display["language"]],
        "timezone": current_app.config["TIMEZONE"],
        "offices": display["offices"],
        "historyRows": HISTORY_ROWS,
        "nearFull": NEAR_FULL,
        "timings": current_app.config["DISPLAY_TIMINGS"],
        "speech": speech_settings(LANGUAGES),
        "text": {
            "occupancy": {
                "ok": _("There is room"),
                "near": _("Nearly full"),
                "full": _("Building full"),
            },
        },
    }


@bp.get("/<key>")
def screen(key):
    """The full-screen page of one display screen (the key is the secret)."""
    db = get_db()
    try:
        display = displays.find_by_key(db, key)
    except NotFound:
        return _secret_address(render_template("display/unknown.html"), 404)
    g.language = display["language"]
    return _secret_address(
        render_template(
            "display/screen.html",
            display=display,
            offices=_offices(db, display["offices"]),
            history_rows=HISTORY_ROWS,
            config=_page_config(display),
        )
    )


def _secret_address(body, status=200):
    # The address holds the screen's key: never hand it to another site as a referrer.
    return private(make_response(body, status), secret_address=True)
