"""Fixtures: a seeded demo town hall per test, the app on it, and callers for each role."""
import sqlite3

import pytest

from queue_app import accounts, clock, create_app, seed
from queue_app.day import ensure_today
from queue_app.db import connect, write_transaction
from queue_app.migrations import migrate

ROLES = accounts.ROLES


@pytest.fixture(scope="session")
def template():
    """The demo town hall, built once (password hashing is slow on purpose) and copied per test.

    Yields ``(connection, {role: api_token})``.
    """
    db = connect(":memory:")
    migrate(db)
    seed.seed_demo(db)
    tokens = {role: accounts.create_token(db, f"test-{role}", role) for role in ROLES}
    yield db, tokens
    db.close()


def _copy(template_db, path):
    target = sqlite3.connect(path)
    template_db.conn.backup(target)
    target.close()


@pytest.fixture
def db(template, tmp_path):
    """A fresh copy of the demo town hall in a file of its own, as the domain sees it."""
    path = str(tmp_path / "queue.db")
    _copy(template[0], path)
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


@pytest.fixture
def app(template, tmp_path):
    """The app on a fresh copy of the demo town hall (threading mode, as tests need).

    The copy has already opened today's business day, so a test's first request does
    not also roll the day over.
    """
    path = str(tmp_path / "queue.db")
    _copy(template[0], path)
    opened = connect(path)
    ensure_today(opened)
    opened.close()
    return create_app({"TESTING": True, "DATABASE": path, "ASYNC_MODE": "threading",
                       "SECRET_KEY": "test-secret"})


@pytest.fixture
def client(app):
    return app.test_client()


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


@pytest.fixture
def api(client, tokens):
    """The API as nobody; ``api.as_(role)`` for a role."""
    return Api(client, tokens)
