"""Clerks' desks: which offices each serves, its current ticket, pause and resume."""

import json
from collections.abc import Collection
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import stamp, utcnow
from queue_app.rules import calling, day
from queue_app.rules.calling import SELECT_TICKETS
from queue_app.rules.checks import NAMED_IN, changes_of, names_per_language
from queue_app.rules.errors import (
    Conflict,
    InvalidInput,
    NotFound,
)
from queue_app.rules.offices import check_codes
from queue_app.rules.types import Desk, DeskPayload
from queue_app.storage.db import inserted_id, write_transaction
from queue_app.storage.journal import Event, Outcome, record

MAX_REASON = 200
MAX_NAME = 40


def list_desks(
    db: Database,
    now: datetime | None = None,
    desk_id: int | None = None,
    display_safe: bool = False,
) -> list[Desk]:
    """Every desk (or one) as ``{"id","name","names","offices","current","paused",
    "pause_reason"}`` (``names``: per language, the Catalan one being ``name``);
    ``display_safe``: the current ticket only as a screen may show it (no token)."""
    now = now or utcnow()
    sql = "SELECT * FROM desks"
    params: list[int] = []
    if desk_id is not None:
        sql += " WHERE id = ?"
        params.append(desk_id)
    desks: list[Desk] = []
    for row in db.execute(sql + " ORDER BY position, id", params).fetchall():
        offices = [
            r[0]
            for r in db.execute(
                "SELECT d.office FROM desk_offices d JOIN offices o ON o.code = d.office"
                " WHERE d.desk_id = ? ORDER BY o.position, o.code",
                [row["id"]],
            )
        ]
        current = db.execute(
            f"{SELECT_TICKETS} WHERE t.desk_id = ? AND t.status IN ('called', 'serving')",
            [row["id"]],
        ).fetchall()
        ticket = calling.describe(db, current, now)[0] if current else None
        names = json.loads(row["names"]) if row["names"] else {}
        desks.append(
            {
                "id": row["id"],
                "name": row["name"],
                "names": {language: names.get(language) or row["name"] for language in NAMED_IN},
                "offices": offices,
                "current": calling.for_display(ticket) if ticket and display_safe else ticket,
                "paused": bool(row["paused"]),
                "pause_reason": row["pause_reason"],
            }
        )
    return desks


def may_act_on_ticket(db: Database, desk_ids: Collection[int], ticket_id: int) -> bool:
    """Whether a clerk limited to ``desk_ids`` may act on a ticket: it is at one of them, or
    (not at a desk) waits in an office one of them serves. An unknown ticket is left to the
    action itself to refuse (404)."""
    row = db.execute("SELECT desk_id, office FROM tickets WHERE id = ?", [ticket_id]).fetchone()
    if row is None:
        return True
    if row["desk_id"] is not None:
        return row["desk_id"] in desk_ids
    marks = ", ".join("?" for _ in desk_ids)
    return (
        db.execute(
            f"SELECT 1 FROM desk_offices WHERE office = ? AND desk_id IN ({marks})",
            [row["office"], *desk_ids],
        ).fetchone()
        is not None
    )


def get_desk(db: Database, desk_id: int, now: datetime | None = None) -> Desk:
    """One desk as in ``list_desks``; NotFound if none."""
    found = list_desks(db, now, desk_id)
    if not found:
        raise NotFound(_l("There is no desk with that id."))
    return found[0]


def desk_event(db: Database, desk_id: int, now: datetime, actor: str | None) -> Event[DeskPayload]:
    """Journal a ``desk_changed`` with the desk as it is now (inside a transaction)."""
    desk = get_desk(db, desk_id, now)
    return record(db, now, "desk_changed", DeskPayload(desk=desk), desk_id=desk_id, actor=actor)


def _set_paused(
    db: Database,
    desk_id: int,
    paused: bool,
    reason: str | None,
    actor: str | None,
    now: datetime | None,
) -> Outcome[Desk]:
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise InvalidInput(
            _l("reason must be text of at most %(maximum)s characters.", maximum=MAX_REASON)
        )
    now = now or utcnow()
    with day.change(db, now) as events:
        get_desk(db, desk_id, now)
        db.execute(
            "UPDATE desks SET paused = ?, pause_reason = ? WHERE id = ?",
            [int(paused), reason if paused else None, desk_id],
        )
        event = desk_event(db, desk_id, now, actor)
        events.append(event)
    return Outcome(event["payload"]["desk"], events)


def pause(
    db: Database,
    desk_id: int,
    reason: str | None = None,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Desk]:
    """Pause a desk: it cannot call, and does not count as open for waiting estimates."""
    return _set_paused(db, desk_id, True, reason, actor, now)


def resume(
    db: Database,
    desk_id: int,
    reason: str | None = None,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Desk]:
    """Open a paused desk again."""
    return _set_paused(db, desk_id, False, reason, actor, now)


def _check_offices(db: Database, codes: object) -> list[str]:
    return check_codes(db, codes, _l("A desk must serve at least one office."))


def set_offices(
    db: Database,
    desk_id: int,
    offices: list[str],
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Desk]:
    """Choose the offices a desk serves (at least one); its pages hear ``desk_changed``."""
    return update(db, desk_id, {"offices": offices}, actor=actor, now=now)


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_NAME:
        raise InvalidInput(_l("The desk's name must have 1 to %(n)s characters.", n=MAX_NAME))
    return " ".join(name.split())


def _free_name(db: Database, name: str, desk_id: int | None = None) -> None:
    if db.execute("SELECT 1 FROM desks WHERE name = ? AND id IS NOT ?", [name, desk_id]).fetchone():
        raise Conflict(_l("A desk with that name already exists."))


def update(
    db: Database,
    desk_id: int,
    changes: object,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Desk]:
    """Change some of a desk's settings (contract v2, PATCH /desks/<id>): its ``name`` (the
    Catalan one), its ``names`` per language, the ``offices`` it serves (at least one)."""
    changes = changes_of(changes, ("name", "names", "offices"))
    name = _check_name(changes["name"]) if "name" in changes else None
    names = names_per_language(changes["names"], MAX_NAME) if "names" in changes else {}
    if name is not None and names.get("ca", name) != name:
        raise InvalidInput(_l("name and the Catalan one of names differ."))
    name = name or names.get("ca")
    now = now or utcnow()
    with day.change(db, now) as events:
        desk = get_desk(db, desk_id, now)
        if "offices" in changes:
            codes = _check_offices(db, changes["offices"])
            db.execute("DELETE FROM desk_offices WHERE desk_id = ?", [desk_id])
            db.conn.executemany(
                "INSERT INTO desk_offices (desk_id, office) VALUES (?, ?)",
                [(desk_id, code) for code in codes],
            )
        if name is not None:
            _free_name(db, name, desk_id)
        named = {**desk["names"], **names, "ca": name or desk["name"]}
        db.execute(
            "UPDATE desks SET name = ?, names = ? WHERE id = ?",
            [named["ca"], json.dumps(named), desk_id],
        )
        event = desk_event(db, desk_id, now, actor)
        events.append(event)
    return Outcome(event["payload"]["desk"], events)


def create_desk(
    db: Database,
    name: str,
    offices: list[str],
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Desk]:
    """A new desk, last in order, serving ``offices`` (at least one)."""
    name = _check_name(name)
    now = now or utcnow()
    with day.change(db, now) as events:
        codes = _check_offices(db, offices)
        _free_name(db, name)
        desk_id = inserted_id(
            db.execute(
                "INSERT INTO desks (name, names, position)"
                " SELECT ?, ?, COALESCE(MAX(position), 0) + 1 FROM desks",
                [name, json.dumps(dict.fromkeys(NAMED_IN, name))],
            )
        )
        db.conn.executemany(
            "INSERT INTO desk_offices (desk_id, office) VALUES (?, ?)",
            [(desk_id, code) for code in codes],
        )
        event = desk_event(db, desk_id, now, actor)
        events.append(event)
    return Outcome(event["payload"]["desk"], events)


def ensure(db: Database, name: str, position: int, served: Collection[str]) -> None:
    """Inside a transaction: the desk exists and serves at least ``served`` (set-up; what
    it already has is kept)."""
    db.execute(
        "INSERT INTO desks (name, names, position) VALUES (?, ?, ?) ON CONFLICT(name) DO NOTHING",
        [name, json.dumps(dict.fromkeys(NAMED_IN, name)), position],
    )
    desk_id: int = db.execute("SELECT id FROM desks WHERE name = ?", [name]).fetchone()[0]
    for office in served:
        db.execute(
            "INSERT OR IGNORE INTO desk_offices (desk_id, office) VALUES (?, ?)",
            [desk_id, office],
        )


# Desk pages open (``live/presence.py``): a desk with one, or that acted lately, is staffed.
def page_opened(db: Database, sid: str, desk_id: int, process: str, now: datetime) -> None:
    """A desk page's connection was accepted (nothing for a desk that does not exist: an
    administrator's connection may name any)."""
    with write_transaction(db):
        db.execute(
            "INSERT OR REPLACE INTO desk_presence (sid, desk_id, process, seen_at)"
            " SELECT ?, id, ?, ? FROM desks WHERE id = ?",
            [sid, process, stamp(now), desk_id],
        )


def page_closed(db: Database, sid: str) -> None:
    with write_transaction(db):
        db.execute("DELETE FROM desk_presence WHERE sid = ?", [sid])


def pages_still_open(db: Database, process: str, now: datetime) -> None:
    """A process's heartbeat: its open desk pages are still there. Rows no process has
    refreshed for a day (a process that died) go."""
    with write_transaction(db):
        db.execute("UPDATE desk_presence SET seen_at = ? WHERE process = ?", [stamp(now), process])
        db.execute("DELETE FROM desk_presence WHERE seen_at < ?", [stamp(now - timedelta(days=1))])
