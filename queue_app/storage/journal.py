"""The append-only event journal: every change, with a rising ``seq``."""

import json
from dataclasses import dataclass, field

from queue_app.clock import stamp


@dataclass
class Outcome:
    """What a domain function returns: its result and the journal events it wrote."""

    value: object = None
    events: list = field(default_factory=list)


def record(db, now, type_, payload, *, ticket_id=None, office=None, desk_id=None, actor=None):
    """Append one event (inside the caller's transaction) and return it as a dict."""
    cursor = db.execute(
        "INSERT INTO events (at, type, ticket_id, office, desk_id, actor, payload)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [stamp(now), type_, ticket_id, office, desk_id, actor, json.dumps(payload)],
    )
    return {
        "seq": cursor.lastrowid,
        "type": type_,
        "ticket_id": ticket_id,
        "office": office,
        "desk_id": desk_id,
        "actor": actor,
        "payload": payload,
    }


def since(db, seq, limit=None, types=None):
    """Events after ``seq``, oldest first (at most ``limit``; only of ``types`` if given)."""
    sql = "SELECT * FROM events WHERE seq > ?"
    params = [seq]
    if types is not None:
        sql += f" AND type IN ({', '.join('?' for _ in types)})"
        params += list(types)
    sql += " ORDER BY seq"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_row_to_event(row) for row in db.execute(sql, params)]


def last_seq(db):
    """The newest ``seq`` in the journal (0 when empty)."""
    return db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]


def _row_to_event(row):
    event = dict(row)
    event["payload"] = json.loads(event["payload"])
    return event
