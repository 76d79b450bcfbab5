"""The append-only event journal: every change, with a rising ``seq``.

Its types live here: ``Event`` (one row of the journal, as ``record`` and ``since`` give it),
``EventType`` (every type of event written) and ``Outcome`` (what a write of the queue rules
returns). The shapes of the things events carry (tickets, desks, occupancy...) and of each
type's payload are in ``queue_app.rules.types``.
"""

import json
import sqlite3
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, NotRequired, TypedDict, TypeVar, cast

from sqlite_utils import Database

from queue_app.clock import stamp
from queue_app.storage.db import inserted_id

# Every type of event the queue rules write; live/routing.py says which pages hear each.
EventType = Literal[
    "day_started",
    "ticket_changed",
    "ticket_called",
    "ticket_admitted",
    "queue_changed",
    "occupancy_changed",
    "desk_changed",
    "display_changed",
    "display_key_rotated",
    "user_created",
    "user_sessions_ended",
    "user_role_changed",
    "user_password_set",
    "user_deleted",
    "user_desks_set",
    "token_created",
    "token_revoked",
    "schedule_changed",
    "appointment_changed",
    "office_changed",
]

Payload = TypeVar("Payload", bound=Mapping[str, object])


class Event(TypedDict, Generic[Payload]):
    """One journal event. ``payload`` is a JSON object whose shape depends on ``type``:
    ``Event[TicketPayload]`` and the like (``queue_app.rules.types``) when written, a plain
    ``dict`` when read back from the database (``since``)."""

    seq: int
    type: EventType
    ticket_id: int | None
    office: str | None
    desk_id: int | None
    actor: str | None
    payload: Payload
    # When it was recorded (stored UTC, ``clock.stamp``): only in events read back.
    at: NotRequired[str]


# An event of any type, as lists of events of several types hold them.
AnyEvent = Event[Any]
# A JSON object as ``json.loads`` gives it back: its values are whatever it held.
JSONObject = dict[str, Any]

Value = TypeVar("Value")


@dataclass
class Outcome(Generic[Value]):
    """What a domain function returns: its result and the journal events it wrote."""

    value: Value
    events: list[AnyEvent] = field(default_factory=list)


def record(
    db: Database,
    now: datetime,
    type_: EventType,
    payload: Payload,
    *,
    ticket_id: int | None = None,
    office: str | None = None,
    desk_id: int | None = None,
    actor: str | None = None,
) -> Event[Payload]:
    """Append one event (inside the caller's transaction) and return it as a dict."""
    cursor = db.execute(
        "INSERT INTO events (at, type, ticket_id, office, desk_id, actor, payload)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [stamp(now), type_, ticket_id, office, desk_id, actor, json.dumps(payload)],
    )
    return {
        "seq": inserted_id(cursor),
        "type": type_,
        "ticket_id": ticket_id,
        "office": office,
        "desk_id": desk_id,
        "actor": actor,
        "payload": payload,
    }


def since(
    db: Database,
    seq: int,
    limit: int | None = None,
    types: Collection[EventType] | None = None,
) -> list[Event[JSONObject]]:
    """Events after ``seq``, oldest first (at most ``limit``; only of ``types`` if given)."""
    sql = "SELECT * FROM events WHERE seq > ?"
    params: list[object] = [seq]
    if types is not None:
        sql += f" AND type IN ({', '.join('?' for _ in types)})"
        params += list(types)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_row_to_event(row) for row in db.execute(sql, params)]


def last_seq(db: Database) -> int:
    """The newest ``seq`` in the journal (0 when empty)."""
    newest: int = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    return newest


def _row_to_event(row: sqlite3.Row) -> Event[JSONObject]:
    # The events table's columns are Event's keys; SQLite gives them back untyped.
    event = dict(row)
    event["payload"] = json.loads(event["payload"])
    return cast(Event[JSONObject], event)
