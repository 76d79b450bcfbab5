"""The TV page: served by key, no login; everything on it arrives over Socket.IO, but the
server's voice, which the page fetches per call (``call_voice``, then ``voice_file``).

A screen's ``layout`` chooses the page: ``waiting_room`` (the calls, the queues, the
building) or ``entrance`` (the screen at the door: a go/wait sign, the building against its
limit, who waits outside, the codes let in, each said aloud: ``admitted_voice``)."""

import re

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    send_file,
    url_for,
)
from flask_babel import gettext as _

from display import timings, voice
from display.speech import CODE, VOICES, admitted_text, speech_settings, spoken_text
from queue_app.languages import LANGUAGES
from queue_app.rules import displays, occupancy, offices
from queue_app.rules.errors import NotFound
from queue_app.storage.db import get_db
from queue_app.web.security import limiter, private, public_limit

bp = Blueprint(
    "display", __name__, url_prefix="/display", static_folder="static", static_url_path="/static"
)


@bp.record_once
def _settle_settings(state):
    timings.init_app(state.app)
    voice.init_app(state.app)


# Rows of the "last calls" list under the current call (the page keeps no more).
HISTORY_ROWS = 5
# Building occupancy at or above this share of the limit shows amber; at the limit, red.
NEAR_FULL = 0.8
# On the entrance screen, the sign says "go" for this long after a ticket is let in from
# outside, naming its code, even when the building is full again with its party.
ADMITTED_GO_MS = 20_000
# A voice file's address is the digest of what it says (display/voice.py).
DIGEST = re.compile(r"[0-9a-f]{64}")
# What a browser may keep of a voice file: for ever, it never changes.
FOREVER = "private, max-age=31536000, immutable"


def _offices(db, codes):
    return [office for office in offices.list_offices(db) if office["code"] in codes]


def _page_config(display):
    """Everything the page's script needs, translated here: it holds no text of its own."""
    return {
        "key": display["key"],
        "layout": display["layout"],
        "language": display["language"],
        "locale": VOICES[display["language"]],
        "voice": display["voice"],
        # The server's voice for the call with journal seq N: this, then "N/voice".
        "callsUrl": url_for("display.screen", key=display["key"]) + "/calls/",
        # The server's voice for a ticket let in, by its code: this, then "CODE/voice".
        "admittedUrl": url_for("display.screen", key=display["key"]) + "/admitted/",
        "admittedGoMs": ADMITTED_GO_MS,
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
            next_in_rows=occupancy.NEXT_IN,
            config=_page_config(display),
        )
    )


@bp.get("/<key>/calls/<int:seq>/voice")
@limiter.limit(public_limit)
def call_voice(key, seq):
    """The server's voice saying the call with journal ``seq``, as the screen ``key`` says it
    (its language, its desk names): rendered once, then a redirect to its file. 404 for a
    key no screen has, or a seq that is not a call of today in one of the screen's offices."""
    db = get_db()
    display = displays.find_by_key(db, key)
    call = displays.announced_call(db, display, seq)
    language = display["language"]
    said = spoken_text(call["code"], call["desk_names"].get(language) or call["desk"], language)
    return _rendered(key, language, said)


@bp.get("/<key>/admitted/<code>/voice")
@limiter.limit(public_limit)
def admitted_voice(key, code):
    """The server's voice saying that ``code`` may come in, as the screen ``key`` says it:
    rendered once, then a redirect to its file. 404 for a key no screen has, or a code that
    is not among the last let in from outside today (those every screen is shown)."""
    db = get_db()
    display = displays.find_by_key(db, key)
    if not CODE.fullmatch(code) or code not in occupancy.read(db)["next_in"]:
        abort(404)
    language = display["language"]
    return _rendered(key, language, admitted_text(code, language))


def _rendered(key, language, said):
    """A redirect to the server's voice saying ``said`` (rendered unless the cache has it);
    503 when the voice fails."""
    try:
        digest = current_app.extensions["torn.voice"].render(language, said)
    except voice.VoiceUnavailable as error:
        current_app.logger.error("the server's voice failed: %s", error)
        abort(503)
    found = redirect(url_for("display.voice_file", key=key, digest=digest))
    return private(found, secret_address=True)


@bp.get("/<key>/voice/<digest>.wav")
def voice_file(key, digest):
    """A sentence the server's voice rendered (``call_voice`` gives its address); it never
    changes. 404 for a key no screen has, or a file the cache does not hold."""
    displays.find_by_key(get_db(), key)
    path = current_app.extensions["torn.voice"].find(digest) if DIGEST.fullmatch(digest) else None
    if path is None:
        abort(404)
    response = send_file(path, mimetype="audio/wav", etag=digest, conditional=True)
    response.headers["Cache-Control"] = FOREVER
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _secret_address(body, status=200):
    # The address holds the screen's key: never hand it to another site as a referrer.
    return private(make_response(body, status), secret_address=True)
