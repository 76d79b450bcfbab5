"""Clerks' desks: which offices each serves, its current ticket, pause and resume."""
from . import day, ticket_json
from .clock import utcnow
from .errors import InvalidInput, NotFound
from .journal import Outcome, record
from .ticket_json import SELECT_TICKETS

MAX_REASON = 200


def list_desks(db, now=None, desk_id=None):
    """Every desk (or one) as ``{"id","name","offices","current","paused","pause_reason"}``."""
    now = now or utcnow()
    sql = "SELECT * FROM desks"
    params = []
    if desk_id is not None:
        sql += " WHERE id = ?"
        params.append(desk_id)
    desks = []
    for row in db.execute(sql + " ORDER BY position, id", params).fetchall():
        offices = [r[0] for r in db.execute(
            "SELECT d.office FROM desk_offices d JOIN offices o ON o.code = d.office"
            " WHERE d.desk_id = ? ORDER BY o.position, o.code", [row["id"]])]
        current = db.execute(
            f"{SELECT_TICKETS} WHERE t.desk_id = ? AND t.status IN ('called', 'serving')",
            [row["id"]],
        ).fetchall()
        desks.append({
            "id": row["id"], "name": row["name"], "offices": offices,
            "current": ticket_json.describe(db, current, now)[0] if current else None,
            "paused": bool(row["paused"]), "pause_reason": row["pause_reason"],
        })
    return desks


def get_desk(db, desk_id, now=None):
    """One desk as in ``list_desks``; NotFound if none."""
    found = list_desks(db, now, desk_id)
    if not found:
        raise NotFound("There is no desk with that id.")
    return found[0]


def desk_event(db, desk_id, now, actor):
    """Journal a ``desk_changed`` with the desk as it is now (inside a transaction)."""
    desk = get_desk(db, desk_id, now)
    return record(db, now, "desk_changed", {"desk": desk}, desk_id=desk_id, actor=actor)


def _set_paused(db, desk_id, paused, reason, actor, now):
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise InvalidInput(f"reason must be text of at most {MAX_REASON} characters.")
    now = now or utcnow()
    with day.change(db, now) as events:
        get_desk(db, desk_id, now)
        db.execute("UPDATE desks SET paused = ?, pause_reason = ? WHERE id = ?",
                   [int(paused), reason if paused else None, desk_id])
        event = desk_event(db, desk_id, now, actor)
        events.append(event)
    return Outcome(event["payload"]["desk"], events)


def pause(db, desk_id, reason=None, *, actor=None, now=None):
    """Pause a desk: it cannot call, and does not count as open for waiting estimates."""
    return _set_paused(db, desk_id, True, reason, actor, now)


def resume(db, desk_id, reason=None, *, actor=None, now=None):
    """Open a paused desk again."""
    return _set_paused(db, desk_id, False, reason, actor, now)
