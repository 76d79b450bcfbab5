"""Small helpers shared by test modules (fixtures live in conftest.py)."""

import json
import re
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from axe_check import AXE, described, findings

from queue_app.rules import displays
from queue_app.storage import journal
from queue_app.storage.db import connect

MADRID = ZoneInfo("Europe/Madrid")
# A ticket as the contract returns it everywhere (Torn adds ``appointment_at``).
TICKET_FIELDS = frozenset({
    "id", "code", "office", "number", "kind", "priority", "party_size", "status", "desk",
    "issued_at", "called_at", "started_at", "finished_at", "recalls", "position",
    "estimated_wait_s", "token",
})  # fmt: skip
# Of those, how the queue looks right now rather than what the ticket is.
QUEUE_VIEW_FIELDS = frozenset({"position", "estimated_wait_s"})
T0 = datetime(2024, 6, 10, 9, 0, tzinfo=MADRID)  # a Monday morning, summer time (UTC+2)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def db_state(db, tables):
    """Every row of ``tables`` and the journal's last seq: what a refusal must leave as it was."""
    state = {
        table: [tuple(row) for row in db.execute(f"SELECT * FROM {table} ORDER BY 1")]
        for table in tables
    }
    state["last_seq"] = journal.last_seq(db)
    return state


def ticket_id(path, code):
    """The id of today's ticket ``code`` in the database file at ``path``."""
    db = connect(path)
    try:
        return db.execute("SELECT id FROM tickets WHERE code = ?", [code]).fetchone()[0]
    finally:
        db.close()


def log_in(app, client, username):
    """A browser session for ``username``, as Flask-Login keeps it after a login."""
    db = connect(app.config["DATABASE"])
    try:
        user_id, key = db.execute(
            "SELECT id, session_key FROM users WHERE username = ?", [username]
        ).fetchone()
    finally:
        db.close()
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id}:{key}"
        session["_fresh"] = True


def travel_to(monkeypatch, moment):
    """Move the server's clock: every queue_app module that reads ``utcnow`` sees ``moment``."""
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] == "queue_app" and hasattr(module, "utcnow"):
            monkeypatch.setattr(module, "utcnow", lambda: moment)


CSRF_TOKEN = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"|'
    r'name="csrf-token" content="([^"]+)"'
)


def csrf_token(page_html):
    """The CSRF token a page carries (its forms' hidden field or its meta tag)."""
    found = CSRF_TOKEN.search(page_html)
    assert found, "the page carries no CSRF token"
    return next(group for group in found.groups() if group)


def form_login(client, username, password=None, next_=None):
    """Log in through the login form, as a browser does; the response to the POST."""
    token = csrf_token(client.get("/login").get_data(as_text=True))
    path = "/login" + (f"?next={next_}" if next_ else "")
    return client.post(
        path,
        data={
            "username": username,
            "password": password or f"{username}-demo",
            "csrf_token": token,
        },
    )


def api_request(server, token, method, path, json=None, expect=None, timeout=10):
    """``/api/v1`` of a real server with ``Authorization: Bearer token``; the response
    (asserting its status is ``expect``, if given)."""
    response = requests.request(
        method,
        f"{server.url}/api/v1{path}",
        json=json,
        timeout=timeout,
        headers={"Authorization": f"Bearer {token}"},
    )
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


def next_workday(hour=9, minute=0, after_days=1):
    """A slot start in the demo schedule still ahead: a Monday to Friday at least
    ``after_days`` days after today, at ``hour:minute`` in Madrid."""
    day = datetime.now(MADRID).date() + timedelta(days=after_days)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MADRID)


def wait_until(condition, timeout=10, interval=0.05):
    """Ask ``condition()`` until it is true (a server's state that nothing pushes)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        pause.wait(interval)


# Short pauses for the TV page, so that no test waits out a real chime or reconnection
# (display/timings.py has the production ones; the catch-up window stays as in production).
SHORT_DISPLAY_TIMINGS = {
    "chimeMs": 60,
    "gapMs": 30,
    "autoplayCheckMs": 150,
    "reconnectMs": 200,
    "reconnectMaxMs": 1000,
    "retryMs": 1000,
}


@contextmanager
def display_server_settings(timings, tmp_path_factory):
    """While it lasts, every ``run.py`` started announces with ``timings`` (the page's
    pauses, through ``QUEUE_DISPLAY_TIMINGS``) and keeps the server's voice, if a screen asks
    for it, in a folder of its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUEUE_DISPLAY_TIMINGS", json.dumps(timings))
        patch.setenv("QUEUE_VOICE_CACHE_DIR", str(tmp_path_factory.mktemp("voice-cache")))
        yield


def new_screen(town_hall, name="Porta", **settings):
    """A new display screen ``name`` on ``town_hall``'s database (as ``create-display`` makes
    it)."""
    db = connect(town_hall.path)
    try:
        return displays.create_display(db, name, **settings).value
    finally:
        db.close()


def finish_animations(page):
    """Bring the page's animations that end (a new call's, a code just let in) to their end
    at once, as if waited out: the page as it then stays, for screenshots and layout checks."""
    page.evaluate("""() => document.getAnimations()
        .filter(a => a.effect.getTiming().iterations !== Infinity)
        .forEach(a => a.finish())""")


def axe_findings(page):
    """axe-core's findings on what ``page`` shows now (axe added as a script tag)."""
    page.add_script_tag(path=AXE)
    return described(findings(page))


# Whatever of the TV page's figures (the selector list __FIGURES__) stands out of its panel
# (the nearest section, footer or header around it, or the screen) or overflows its own box,
# by its id or class name, and "page" when the page overflows the window. Figures inside a
# hidden element are not shown, so not checked.
CLIPPED = """() => {
    const out = [];
    const root = document.documentElement;
    if (root.scrollWidth > innerWidth || root.scrollHeight > innerHeight) out.push("page");
    for (const node of document.querySelectorAll(__FIGURES__)) {
        if (node.closest("[hidden]")) continue;
        const box = node.getBoundingClientRect();
        const panel = node.parentElement.closest("section, footer, header, div.screen")
            .getBoundingClientRect();
        if (box.left < panel.left - 1 || box.right > panel.right + 1 || box.top < panel.top - 1
                || box.bottom > panel.bottom + 1 || node.scrollWidth > node.clientWidth + 1) {
            out.push(node.id || node.className.baseVal || node.className);
        }
    }
    return out;
}"""


def clipped_figures(figures):
    """A script for ``page.evaluate``: which of ``figures`` (a selector list) overflow their
    panel or their own box, and whether the page overflows the window (``CLIPPED``)."""
    return CLIPPED.replace("__FIGURES__", json.dumps(figures))
