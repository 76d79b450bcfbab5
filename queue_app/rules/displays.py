"""Display screens (the waiting-room TVs) and what one of them shows."""

import json
import secrets
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import cast

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import utcnow
from queue_app.languages import LANGUAGES
from queue_app.rules import occupancy
from queue_app.rules.calling import for_display
from queue_app.rules.errors import Conflict, InvalidInput, NotFound
from queue_app.rules.offices import check_codes, list_offices, waiting_by_office
from queue_app.rules.types import (
    Call,
    Display,
    DisplayPayload,
    DisplayRetiredPayload,
    DisplaySettings,
    DisplaySnapshot,
    DisplayState,
    JournaledDisplay,
)
from queue_app.storage import journal
from queue_app.storage.db import inserted_id, read_transaction, write_transaction
from queue_app.storage.journal import Outcome, record

RECENT_CALLS = 10
MAX_MESSAGE = 200


def _row_to_display(row: sqlite3.Row) -> Display:
    # A row of the displays table, whose columns are Display's keys (SQLite gives them untyped).
    display = dict(row)
    display["offices"] = json.loads(display["offices"])
    return cast(Display, display)


def create_display(
    db: Database,
    name: str,
    offices: list[str] | None = None,
    language: str = "ca",
    message: str = "",
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Display]:
    """A new display screen showing ``offices`` (all when None); returns it with its key."""
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 80:
        raise InvalidInput(_l("name must be text of 1 to 80 characters."))
    _check_settings(language, message)
    now = now or utcnow()
    with write_transaction(db):
        if offices is None:
            offices = [office["code"] for office in list_offices(db)]
        codes = _check_offices(db, offices)
        if db.execute("SELECT 1 FROM displays WHERE name = ?", [name.strip()]).fetchone():
            raise Conflict(_l("A display screen with that name already exists."))
        cursor = db.execute(
            "INSERT INTO displays (name, key, offices, language, message) VALUES (?, ?, ?, ?, ?)",
            [name.strip(), secrets.token_urlsafe(24), json.dumps(codes), language, message],
        )
        return _changed(db, inserted_id(cursor), now, actor)


def rotate_key(
    db: Database, name: str, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[Display]:
    """Give the display screen called ``name`` a new key; the old one stops working."""
    now = now or utcnow()
    with write_transaction(db):
        cursor = db.execute(
            "UPDATE displays SET key = ? WHERE name = ?", [secrets.token_urlsafe(24), name]
        )
        if not cursor.rowcount:
            raise NotFound(_l("There is no display screen with that name."))
        display = db.execute("SELECT * FROM displays WHERE name = ?", [name]).fetchone()
        retired = DisplayRetiredPayload(display=display["id"])
        event = record(db, now, "display_key_rotated", retired, actor=actor)
    return Outcome(_row_to_display(display), [event])


def find_by_id(db: Database, display_id: int) -> Display:
    """A display screen by id; NotFound if none."""
    row = db.execute("SELECT * FROM displays WHERE id = ?", [display_id]).fetchone()
    if row is None:
        raise NotFound(_l("There is no display screen with that id."))
    return _row_to_display(row)


def find_by_key(db: Database, key: str) -> Display:
    """A display screen by its secret key; NotFound if none."""
    row = db.execute("SELECT * FROM displays WHERE key = ?", [key]).fetchone()
    if row is None:
        raise NotFound(_l("There is no display screen with that key."))
    return _row_to_display(row)


def list_displays(db: Database) -> list[Display]:
    """Every display screen, with its key."""
    return [_row_to_display(row) for row in db.execute("SELECT * FROM displays ORDER BY id")]


def recent_calls(
    db: Database, offices: Sequence[str], limit: int = RECENT_CALLS, display_safe: bool = True
) -> list[Call]:
    """Today's last calls of ``offices``, newest first, one per ticket (display-safe by default)."""
    marks = ", ".join("?" for _ in offices)
    rows = db.execute(
        "SELECT seq, ticket_id, payload FROM events WHERE type = 'ticket_called'"
        " AND seq > (SELECT COALESCE(MAX(seq), 0) FROM events WHERE type = 'day_started')"
        f" AND office IN ({marks}) ORDER BY seq DESC LIMIT ?",
        [*offices, limit * 5],
    ).fetchall()
    calls: list[Call] = []
    seen: set[int] = set()
    for row in rows:
        if row["ticket_id"] in seen:
            continue
        seen.add(row["ticket_id"])
        payload = json.loads(row["payload"])
        ticket = for_display(payload["ticket"]) if display_safe else payload["ticket"]
        calls.append(
            {
                "seq": row["seq"],
                "ticket": ticket,
                "desk": payload["desk"],
                "recall": payload["recall"],
            }
        )
        if len(calls) == limit:
            break
    return calls


def state(db: Database, offices: Sequence[str], display_safe: bool = True) -> DisplayState:
    """The live state of ``offices``: ``{"seq","calls","waiting","occupancy"}``, consistent."""
    with read_transaction(db):
        return {
            "seq": journal.last_seq(db),
            "calls": recent_calls(db, offices, display_safe=display_safe),
            "waiting": waiting_by_office(db, offices),
            "occupancy": occupancy.read(db),
        }


def snapshot(db: Database, display: Display) -> DisplaySnapshot:
    """What a display screen shows now: its offices' ``state`` plus its own settings."""
    settings: DisplaySettings = {
        "name": display["name"],
        "offices": display["offices"],
        "language": display["language"],
        "message": display["message"],
    }
    return {**state(db, display["offices"]), "display": settings}


def _check_settings(language: object, message: object) -> None:
    if language not in LANGUAGES:
        raise InvalidInput(
            _l("The language must be one of: %(codes)s.", codes=", ".join(LANGUAGES))
        )
    if not isinstance(message, str) or len(message) > MAX_MESSAGE:
        raise InvalidInput(_l("The message must have at most %(n)s characters.", n=MAX_MESSAGE))


def _check_offices(db: Database, codes: object) -> list[str]:
    return check_codes(db, codes, _l("A display screen must show at least one office."))


def _changed(db: Database, display_id: int, now: datetime, actor: str | None) -> Outcome[Display]:
    """Journal a screen's settings as they are now (never its key), inside a transaction."""
    display = find_by_id(db, display_id)
    settings: JournaledDisplay = {
        "id": display["id"],
        "name": display["name"],
        "offices": display["offices"],
        "language": display["language"],
        "message": display["message"],
    }
    return Outcome(
        display, [record(db, now, "display_changed", DisplayPayload(display=settings), actor=actor)]
    )


def update_display(
    db: Database,
    display_id: int,
    offices: list[str],
    language: str,
    message: str,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Display]:
    """Change what a display screen shows: its offices (at least one), language and message."""
    _check_settings(language, message)
    now = now or utcnow()
    with write_transaction(db):
        find_by_id(db, display_id)
        codes = _check_offices(db, offices)
        db.execute(
            "UPDATE displays SET offices = ?, language = ?, message = ? WHERE id = ?",
            [json.dumps(codes), language, message.strip(), display_id],
        )
        return _changed(db, display_id, now, actor)
