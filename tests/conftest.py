"""Fixtures: a seeded demo town hall per test, the app on it, callers for each role, and a
real server with a real browser.

What is slow to build is built once and given back as new to each test: the demo town hall
once per session (password hashing), a real server once per module (its database file made
the demo again before each test), Chromium once per session (a new context per test).
"""

import os
import re
import shutil
import sqlite3
import tempfile

import pytest
import requests

from queue_app import clock, create_app, seed
from queue_app.rules import accounts
from queue_app.rules.day import ensure_today
from queue_app.storage import journal
from queue_app.storage.db import connect, get_db, write_transaction
from queue_app.storage.migrations import migrate
from queue_app.web.security import limiter

# The TV's server voice caches its audio files: in a folder of the test run's own (also for
# the servers the tests start, which inherit the environment), never in instance/.
os.environ.setdefault("QUEUE_VOICE_CACHE_DIR", tempfile.mkdtemp(prefix="torn-voice-"))

ROLES = accounts.ROLES


def pytest_collection_modifyitems(items):
    """Modules whose every test starts servers or a browser (marked slow) run first, the
    others after, each module in its own order. With pytest-xdist handing out whole files
    in this order (``make test``: ``--dist loadfile --no-loadscope-reorder``), the longest
    files start first rather than last, when one worker would be left running them alone."""
    all_slow = {}
    for item in items:
        slow = item.get_closest_marker("slow") is not None
        all_slow[item.path] = all_slow.get(item.path, True) and slow
    items.sort(key=lambda item: not all_slow[item.path])


@pytest.fixture(scope="session")
def template():
    """The demo town hall, built once (password hashing is slow on purpose) and copied per test.

    Yields ``(connection, {role: api_token})``.
    """
    db = connect(":memory:")
    migrate(db)
    seed.seed_demo(db)
    tokens = {role: accounts.create_token(db, f"test-{role}", role).value for role in ROLES}
    yield db, tokens
    db.close()


def copy_database(template_db, path):
    """Copy an open database (the session template) into the file at ``path``.

    The file may be new, or one that servers have open: SQLite's backup writes it as one
    transaction, which their connections see as any other commit. The copying connection
    does not wait for the disk (the app's own connections still commit with
    ``synchronous=FULL``) and leaves the file in WAL mode, as ``connect`` would.
    """
    target = sqlite3.connect(path, timeout=15)
    try:
        target.execute("PRAGMA synchronous=OFF")
        target.execute("PRAGMA journal_mode=WAL")
        template_db.conn.backup(target)
    finally:
        target.close()


def demo_of_today(template_db):
    """An in-memory copy of the demo town hall with today's business day already opened, so
    that a test's first request does not also roll the day over."""
    staged = connect(":memory:")
    template_db.conn.backup(staged.conn)
    ensure_today(staged)
    return staged


def restore_demo(template_db, path, journal_from=0):
    """Make the file at ``path`` the demo town hall of today again (see ``copy_database``).

    ``journal_from``: the journal's next event gets a seq above it, so that a server that
    has delivered events up to there goes on delivering the ones written after this.
    """
    staged = demo_of_today(template_db)
    try:
        with write_transaction(staged):
            # Only the journal's AUTOINCREMENT counter moves (its row exists: opening the
            # day wrote an event); no event is written or removed.
            staged.execute(
                "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'events'",
                [journal_from],
            )
        copy_database(staged, path)
    finally:
        staged.close()


def journal_counter(path):
    """The highest seq the journal of the file at ``path`` ever gave (0 if there is none)."""
    if not os.path.exists(path):
        return 0
    reader = sqlite3.connect(path, timeout=15)
    try:
        row = reader.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    finally:
        reader.close()
    return row[0] if row else 0


@pytest.fixture
def db(template, tmp_path):
    """A fresh copy of the demo town hall in a file of its own, as the domain sees it."""
    path = str(tmp_path / "queue.db")
    copy_database(template[0], path)
    database = connect(path)
    yield database
    database.close()


@pytest.fixture
def madrid_time():
    """Days are Europe/Madrid days, whatever another test set before."""
    previous = clock.local_zone()
    clock.set_timezone("Europe/Madrid")
    yield
    clock.set_timezone(previous.key)


@pytest.fixture
def undated_db(db, madrid_time):
    """``db`` with no business day opened yet, so that the fixed dates a test injects are
    the first days it sees, whatever today is."""
    with write_transaction(db):
        db.execute("DELETE FROM settings WHERE key = 'business_day'")
    return db


APP_CONFIG = {"TESTING": True, "ASYNC_MODE": "threading", "SECRET_KEY": "test-secret"}


@pytest.fixture
def app(template, tmp_path):
    """The app on a fresh copy of the demo town hall (threading mode, as tests need).

    The copy has already opened today's business day, so a test's first request does
    not also roll the day over.
    """
    path = str(tmp_path / "queue.db")
    restore_demo(template[0], path)
    return create_app({**APP_CONFIG, "DATABASE": path})


@pytest.fixture(scope="module")
def module_app(template, tmp_path_factory):
    """One app for a module's tests (building one takes longer than most tests); see
    ``reused_app``."""
    path = str(tmp_path_factory.mktemp("app") / "queue.db")
    restore_demo(template[0], path)
    return create_app({**APP_CONFIG, "DATABASE": path})


@pytest.fixture
def reused_app(module_app, template):
    """The module's app, as ``app`` gives a new one: its database file the demo of today
    again, its journal relay starting after that file's last event (as the factory starts
    it) and no rate-limit counts.

    For modules whose tests only make requests: a test that changes the app's config, or
    leaves Socket.IO clients connected, needs an app of its own (``app``).
    """
    restore_demo(template[0], module_app.config["DATABASE"])
    with module_app.app_context():
        module_app.extensions["torn.relay"].start_from(journal.last_seq(get_db()))
    limiter.reset()
    return module_app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    """The app's database, as the tests read and change it beside the app."""
    database = connect(app.config["DATABASE"])
    yield database
    database.close()


@pytest.fixture
def tokens(template):
    """``{role: API token}`` for one token of each role."""
    return template[1]


class Api:
    """Calls ``/api/v1`` as one role or nobody: ``api.as_("clerk").post("/desks/1/call-next")``."""

    def __init__(self, client, tokens, role=None):
        self.client, self.tokens, self.role = client, tokens, role

    def as_(self, role):
        return Api(self.client, self.tokens, role)

    def _headers(self):
        return {"Authorization": f"Bearer {self.tokens[self.role]}"} if self.role else {}

    def get(self, path, **kwargs):
        return self.client.get("/api/v1" + path, headers=self._headers(), **kwargs)

    def post(self, path, json=None, **kwargs):
        return self.client.post("/api/v1" + path, json=json, headers=self._headers(), **kwargs)

    def put(self, path, json=None, **kwargs):
        return self.client.put("/api/v1" + path, json=json, headers=self._headers(), **kwargs)

    def patch(self, path, json=None, **kwargs):
        return self.client.patch("/api/v1" + path, json=json, headers=self._headers(), **kwargs)


@pytest.fixture
def api(client, tokens):
    """The API as nobody; ``api.as_(role)`` for a role."""
    return Api(client, tokens)


# Real servers and a real browser ---------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out, and this machine's
# closed network refuses it many times a second.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts"
)


class LiveTownHall:
    """A real ``run.py`` server on a copy of the demo, and API calls to it by role."""

    def __init__(self, server, path, tokens, screen_key):
        self.server, self.path, self.tokens, self.screen_key = server, path, tokens, screen_key

    @property
    def url(self):
        return self.server.url

    def api(self, role, method, path, json=None, expect=None):
        """Call ``/api/v1`` as ``role``; the decoded body (asserting ``expect`` if given)."""
        response = requests.request(
            method,
            f"{self.url}/api/v1{path}",
            json=json,
            timeout=10,
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
        )
        if expect is not None:
            assert response.status_code == expect, response.text
        return response.json() if response.content else None


@pytest.fixture(scope="module")
def live_server(template, tmp_path_factory):
    """One real ``run.py`` (eventlet) for a module's tests, with a private Redis holding its
    rate-limit counters: ``(server, counters, database path)``. Tests take it as ``live``."""
    from servers import RedisServer, ServerPool

    folder = tmp_path_factory.mktemp("live")
    path = str(folder / "queue.db")
    restore_demo(template[0], path)
    with RedisServer(folder) as counters, ServerPool() as pool:
        yield pool.start(path, env={"QUEUE_RATELIMIT_STORAGE": counters.url}), counters, path


@pytest.fixture
def live(live_server, template, tokens):
    """The demo town hall served by a real ``run.py`` (eventlet) for browser tests.

    The module's server, as if started for this test: its database file is the demo of
    today again (rewritten under it; the journal's seq goes on rising, as the server's
    delivery expects), it has no rate-limit counts, and it is running (started again if a
    test left it stopped). What else it holds is per connection, and earlier tests'
    connections closed with their browser contexts.
    """
    server, counters, path = live_server
    restore_demo(template[0], path, journal_from=journal_counter(path))
    counters.flush()
    if not server.running:
        server.start()
    screen_key = template[0].execute("SELECT key FROM displays ORDER BY id LIMIT 1").fetchone()[0]
    return LiveTownHall(server, path, tokens, screen_key)


@pytest.fixture
def live_pair(db, tmp_path, tokens):
    """Two ``run.py`` processes on one database sharing a private Redis (a multi-process
    deployment): ``(redis, first, second)``, each process a ``LiveTownHall``."""
    from servers import RedisServer, ServerPool

    ensure_today(db)
    path = str(tmp_path / "queue.db")
    screen_key = db.execute("SELECT key FROM displays ORDER BY id LIMIT 1").fetchone()[0]
    with RedisServer(tmp_path) as redis, ServerPool() as pool:
        env = {"QUEUE_MESSAGE_QUEUE": redis.url}
        yield (
            redis,
            *(LiveTownHall(pool.start(path, env=env), path, tokens, screen_key) for _ in range(2)),
        )


@pytest.fixture
def gateway():
    """A local fake SMS gateway (tests/fake_gateway.py), running for the test."""
    from fake_gateway import FakeGateway

    with FakeGateway() as running:
        yield running


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (its own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def watch_for_errors(page, errors):
    """Collect the page's uncaught script errors and Content-Security-Policy refusals."""
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
    page.on(
        "console",
        lambda message: (
            errors.append(f"{page.url}: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )


@pytest.fixture
def page(browser):
    """A fresh browser context and page at 1920x1080 (a TV), closed after the test; it fails
    the test if a script failed.

    Playwright's ``wait_for_function`` evaluates its predicate as a string, which the pages'
    Content-Security-Policy forbids, so this context bypasses the policy; ``people``
    contexts keep it, and tests/test_security.py holds every page to it.
    """
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    opened = context.new_page()
    errors = []
    watch_for_errors(opened, errors)
    yield opened
    context.close()
    assert errors == []


DESKTOP = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}
WAIT_MS = 10_000


class Browsers:
    """Separate browser contexts (one per person), closed at the end; no script may fail
    and nothing may break the Content-Security-Policy."""

    def __init__(self, browser, live):
        self.browser, self.live = browser, live
        self.contexts, self.errors = [], []

    def public(self, path, viewport=PHONE, locale="ca-ES", axe=False):
        """A fresh context (its own cookies), in Catalan unless told, at ``path``; with
        ``axe``, axe-core loaded in every page (tests/axe_check.py)."""
        context = self.browser.new_context(
            viewport=viewport, locale=locale, has_touch=viewport is PHONE
        )
        if axe:
            from axe_check import AXE

            context.add_init_script(path=AXE)
        self.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        watch_for_errors(page, self.errors)
        page.goto(self.live.url + path)
        return page

    def log_in(self, username, viewport=DESKTOP, locale="ca-ES", axe=False, next_=None):
        """A fresh context logged in through the login form as ``username`` (then at
        ``next_`` if given, else at the role's own page)."""
        page = self.public("/login" + (f"?next={next_}" if next_ else ""), viewport, locale, axe)
        page.fill("#username", username)
        page.fill("#password", f"{username}-demo")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/(reception|desk|admin|stats|door)"))
        return page

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def people(browser, live):
    """Browser contexts for several people at once (``people.log_in("taulell1")``)."""
    opened = Browsers(browser, live)
    yield opened
    opened.close()
    assert opened.errors == []


DOCS_SCREENSHOTS = os.path.join(os.path.dirname(ARTIFACTS), "docs", "screenshots")


def save_screenshot(page, name, docs_name=None):
    """Save a screenshot into test-artifacts/ (kept by CI as an artifact); its path.

    With ``docs_name`` and ``UPDATE_SCREENSHOTS=1``, also as docs/screenshots/DOCS_NAME for
    the README (not on every run: the pictures show the time of day).
    """
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name)
    page.screenshot(path=path)
    if docs_name and os.environ.get("UPDATE_SCREENSHOTS") == "1":
        os.makedirs(DOCS_SCREENSHOTS, exist_ok=True)
        shutil.copy(path, os.path.join(DOCS_SCREENSHOTS, docs_name))
    return path


@pytest.fixture
def listeners():
    """Open recording Socket.IO clients on real servers:
    ``listeners(url, auth, headers, transports)``."""
    from live_clients import Listener

    opened = []

    def open_(url, auth, headers=None, transports=None):
        listener = Listener(url, auth, headers, transports)
        opened.append(listener)
        return listener.connect()

    yield open_
    for listener in opened:
        listener.close()
