"""The SQLite connection: opened lazily per request on ``g``, WAL, durable commits."""
import os
import sqlite3
from contextlib import contextmanager

import sqlite_utils
from flask import current_app, g


def connect(path):
    """Open the database at ``path`` (or ``":memory:"``) the way every caller must.

    The connection is in autocommit mode so that each write runs in an explicit
    transaction (``write_transaction``); WAL lets readers go on while one writes, and
    ``synchronous=FULL`` makes a commit survive power loss, not just a process crash.
    """
    if path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    conn = sqlite3.connect(path, timeout=15, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    db = sqlite_utils.Database(conn)
    if path != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


@contextmanager
def write_transaction(db):
    """Run a block as one IMMEDIATE transaction: it takes the write lock at once.

    Every write of the queue rules goes through here, so a read-then-write (such as
    picking the next ticket) can never interleave with another writer, whether in
    another thread or another server process on the same file.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def get_db():
    """The request's database connection, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"])
    return g.db


def close_db(exc=None):
    """Close the request's connection, if one was opened."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


def get_setting(db, key, default=None):
    """A value from the settings table, as stored (text), or ``default``."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return default if row is None else row[0]


def put_setting(db, key, value):
    """Store a setting; call inside a write transaction."""
    db.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, str(value)],
    )


@contextmanager
def read_transaction(db):
    """Run several reads on one consistent snapshot of the database."""
    db.conn.execute("BEGIN")
    try:
        yield db
    finally:
        db.conn.execute("COMMIT")
