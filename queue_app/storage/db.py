"""The SQLite connection: taken lazily per request on ``g``, WAL, durable commits."""

import atexit
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar, overload

from flask import current_app, g
from sqlite_utils import Database

# The largest integer SQLite stores: a larger id in a path or a message is simply not found.
MAX_ID = 2**63 - 1


def connect(path: str) -> Database:
    """Open the database at ``path`` (or ``":memory:"``) the way every caller must.

    The connection is in autocommit mode so that each write runs in an explicit
    transaction (``write_transaction``); WAL lets readers go on while one writes, and
    ``synchronous=FULL`` makes a commit survive power loss, not just a process crash.
    """
    if path != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    conn = sqlite3.connect(path, timeout=15, isolation_level=None, check_same_thread=False)
    # Rows by column name. Their values are Any to mypy (SQLite is dynamically typed): the
    # rules turn rows into the typed dicts of ``queue_app.rules.types`` where they read them.
    conn.row_factory = sqlite3.Row
    db = Database(conn)
    if path != ":memory:":
        db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    # Erased personal data (rules/retention.py) is overwritten in the file, not left in
    # free pages for anyone reading the file to find.
    db.execute("PRAGMA secure_delete=ON")
    return db


def checkpoint(db: Database) -> None:
    """Copy the write-ahead log into the database file and empty it (after an erasure)."""
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# The threads of one process queue here for the write lock, woken in turn, rather than in
# SQLite's busy handler, which polls with sleeps of up to 100 ms and lets the unlucky wait
# for seconds while others go on (docs/performance.md). Other processes still meet in SQLite.
# Reentrant, so that a nested write fails at BEGIN as it always did instead of hanging.
_writer = threading.RLock()


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """Run a block as one IMMEDIATE transaction: it takes the write lock at once.

    Every write of the queue rules goes through here, so a read-then-write (such as
    picking the next ticket) can never interleave with another writer, whether in
    another thread or another server process on the same file.
    """
    with _writer:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        else:
            db.conn.execute("COMMIT")


# Connections outlive their request, a few kept idle for the next ones: opening one costs
# its PRAGMAs, and closing the last one on a file checkpoints and deletes the WAL, which
# took a third of a short request's time (docs/performance.md).
IDLE_MAX = 8
FileIdentity = tuple[int, int]  # (device, inode)
_idle: list[tuple[str, FileIdentity | None, Database]] = []  # the most recently used last
_idle_lock = threading.Lock()


def _identity(path: str) -> FileIdentity | None:
    """Which file ``path`` names now, so that a replaced file is never served stale."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _take_idle(path: str) -> Database | None:
    identity = _identity(path)
    with _idle_lock:
        for index in range(len(_idle) - 1, -1, -1):
            if _idle[index][0] == path:
                _, known, db = _idle.pop(index)
                if known == identity:
                    return db
                db.close()
    return None


def close_idle() -> None:
    """Close every idle connection (at exit, or after replacing a database file)."""
    with _idle_lock:
        spare = [db for _, _, db in _idle]
        _idle.clear()
    for db in spare:
        db.close()


atexit.register(close_idle)


def get_db() -> Database:
    """The request's database connection: an idle one on the same file, else a new one."""
    db: Database | None = g.get("db")
    if db is None:
        path = current_app.config["DATABASE"]
        db = (path != ":memory:" and _take_idle(path)) or connect(path)
        g.db, g.db_path = db, path
    return db


def close_db(exc: BaseException | None = None) -> None:
    """Keep the request's connection for a later request (closing the oldest spare)."""
    db, path = g.pop("db", None), g.pop("db_path", None)
    if db is None:
        return
    if path == ":memory:" or db.conn.in_transaction:
        db.close()
        return
    entry = (path, _identity(path), db)
    with _idle_lock:
        _idle.append(entry)
        surplus = _idle[:-IDLE_MAX]
        del _idle[:-IDLE_MAX]
    for _, _, old in surplus:
        old.close()


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The rowid of the row an INSERT just wrote (``lastrowid``, typed as maybe None)."""
    assert cursor.lastrowid is not None, "not after an INSERT"
    return cursor.lastrowid


Default = TypeVar("Default")


@overload
def get_setting(db: Database, key: str) -> str | None: ...
@overload
def get_setting(db: Database, key: str, default: Default) -> str | Default: ...


def get_setting(db: Database, key: str, default: object = None) -> object:
    """A value from the settings table, as stored (text), or ``default``."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return default if row is None else row[0]


def put_setting(db: Database, key: str, value: str | int) -> None:
    """Store a setting; call inside a write transaction."""
    db.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, str(value)],
    )


@contextmanager
def read_transaction(db: Database) -> Iterator[Database]:
    """Run several reads on one consistent snapshot of the database."""
    db.conn.execute("BEGIN")
    try:
        yield db
    finally:
        db.conn.execute("COMMIT")
