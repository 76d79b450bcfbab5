"""Display screens (the waiting-room TVs) and what one of them shows."""

import json
import secrets
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import NotRequired, TypedDict, cast, get_args

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import utcnow
from queue_app.languages import LANGUAGES
from queue_app.rules import desks, occupancy
from queue_app.rules.calling import for_display, outside_counts
from queue_app.rules.errors import Conflict, InvalidInput, NotFound
from queue_app.rules.offices import check_codes, list_offices, waiting_by_office
from queue_app.rules.types import (
    Call,
    Display,
    DisplayPayload,
    DisplayRetiredPayload,
    DisplaySettings,
    DisplayState,
    JournaledDisplay,
    Layout,
    Voice,
)
from queue_app.storage import journal
from queue_app.storage.db import inserted_id, read_transaction, write_transaction
from queue_app.storage.journal import Outcome, record

RECENT_CALLS = 10
MAX_MESSAGE = 200

VOICES: tuple[Voice, ...] = get_args(Voice)
LAYOUTS: tuple[Layout, ...] = get_args(Layout)


class ScreenState(DisplayState):
    """``DisplayState`` and, for a screen, every desk's names per language by its Catalan
    name (the name a call carries), so that a screen says a desk in its own language."""

    desks: NotRequired[dict[str, dict[str, str]]]


class ScreenSnapshot(ScreenState):
    """What a display screen shows now (``snapshot``)."""

    display: DisplaySettings


class AnnouncedCall(TypedDict):
    """One call as a screen announces it (``announced_call``): display-safe."""

    seq: int
    code: str
    office: str
    desk: str  # the name the call carries (Catalan)
    desk_names: dict[str, str]  # the desk's names per language now


def _row_to_display(row: sqlite3.Row) -> Display:
    # A row of the displays table, whose columns are Display's keys (SQLite gives them
    # untyped).
    display = dict(row)
    display["offices"] = json.loads(display["offices"])
    return cast(Display, display)


def create_display(
    db: Database,
    name: str,
    offices: list[str] | None = None,
    language: str = "ca",
    message: str = "",
    voice: str = "auto",
    layout: str = "waiting_room",
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Display]:
    """A new display screen showing ``offices`` (all when None); returns it with its key."""
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= 80:
        raise InvalidInput(_l("name must be text of 1 to 80 characters."))
    _check_settings(language, message, voice, layout)
    now = now or utcnow()
    with write_transaction(db):
        if offices is None:
            offices = [office["code"] for office in list_offices(db)]
        codes = _check_offices(db, offices)
        if db.execute("SELECT 1 FROM displays WHERE name = ?", [name.strip()]).fetchone():
            raise Conflict(_l("A display screen with that name already exists."))
        cursor = db.execute(
            "INSERT INTO displays (name, key, offices, language, message, voice, layout)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                name.strip(),
                secrets.token_urlsafe(24),
                json.dumps(codes),
                language,
                message,
                voice,
                layout,
            ],
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


def state(db: Database, offices: Sequence[str], display_safe: bool = True) -> ScreenState:
    """The live state of ``offices``: ``{"seq","calls","waiting","outside","occupancy"}``,
    consistent; for a screen (``display_safe``) also ``"desks"``: each desk's names per
    language, by the Catalan name its calls carry."""
    with read_transaction(db):
        found: ScreenState = {
            "seq": journal.last_seq(db),
            "calls": recent_calls(db, offices, display_safe=display_safe),
            "waiting": waiting_by_office(db, offices),
            "outside": outside_counts(db, offices),
            "occupancy": occupancy.read(db),
        }
        if display_safe:
            found["desks"] = {desk["name"]: desk["names"] for desk in desks.list_desks(db)}
        return found


def snapshot(db: Database, display: Display) -> ScreenSnapshot:
    """What a display screen shows now: its offices' ``state`` plus its own settings."""
    settings: DisplaySettings = {
        "name": display["name"],
        "offices": display["offices"],
        "language": display["language"],
        "message": display["message"],
        "voice": display["voice"],
        "layout": display["layout"],
    }
    return {**state(db, display["offices"]), "display": settings}


def announced_call(db: Database, display: Display, seq: int) -> AnnouncedCall:
    """The call with journal ``seq`` as ``display`` announces it: a ``ticket_called`` of
    today in one of its offices, else NotFound (a screen never learns of other calls)."""
    marks = ", ".join("?" for _ in display["offices"])
    with read_transaction(db):
        row = db.execute(
            "SELECT seq, office, desk_id, payload FROM events WHERE seq = ?"
            " AND type = 'ticket_called'"
            " AND seq > (SELECT COALESCE(MAX(seq), 0) FROM events WHERE type = 'day_started')"
            f" AND office IN ({marks})",
            [seq, *display["offices"]],
        ).fetchone()
        if row is None:
            raise NotFound(_l("This screen has no such call today."))
        payload = json.loads(row["payload"])
        found = desks.list_desks(db, desk_id=row["desk_id"]) if row["desk_id"] else []
    names = found[0]["names"] if found else {language: payload["desk"] for language in LANGUAGES}
    return {
        "seq": row["seq"],
        "code": payload["ticket"]["code"],
        "office": row["office"],
        "desk": payload["desk"],
        "desk_names": names,
    }


def _check_settings(
    language: object, message: object, voice: object = "auto", layout: object = "waiting_room"
) -> None:
    if language not in LANGUAGES:
        raise InvalidInput(
            _l("The language must be one of: %(codes)s.", codes=", ".join(LANGUAGES))
        )
    if not isinstance(message, str) or len(message) > MAX_MESSAGE:
        raise InvalidInput(_l("The message must have at most %(n)s characters.", n=MAX_MESSAGE))
    if voice not in VOICES:
        raise InvalidInput(_l("The voice must be one of: %(voices)s.", voices=", ".join(VOICES)))
    if layout not in LAYOUTS:
        raise InvalidInput(
            _l("The layout must be one of: %(layouts)s.", layouts=", ".join(LAYOUTS))
        )


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
        "voice": display["voice"],
        "layout": display["layout"],
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
    voice: str | None = None,
    layout: str | None = None,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Display]:
    """Change what a display screen shows: its offices (at least one), language and message,
    its voice and its layout (None: as it is)."""
    _check_settings(language, message, "auto" if voice is None else voice, layout or "waiting_room")
    now = now or utcnow()
    with write_transaction(db):
        current = find_by_id(db, display_id)  # also: NotFound first
        codes = _check_offices(db, offices)
        db.execute(
            "UPDATE displays SET offices = ?, language = ?, message = ?, voice = ?, layout = ?"
            " WHERE id = ?",
            [
                json.dumps(codes),
                language,
                message.strip(),
                voice or current["voice"],
                layout or current["layout"],
                display_id,
            ],
        )
        return _changed(db, display_id, now, actor)
