"""Socket.IO connections: who may connect, which rooms each joins, and a reconnection's
catching up. What a connection hears is kept in its session (``audience.py``); where each
journal event goes is ``routing.py``; delivering them, ``delivery.py``.
"""

from flask import request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room

from queue_app import socketio
from queue_app.live import audience, presence
from queue_app.live.delivery import publish, with_personal
from queue_app.live.routing import routes
from queue_app.rules import accounts, appointments, desks, displays, tickets
from queue_app.rules.day import ensure_today
from queue_app.rules.errors import NotFound
from queue_app.rules.offices import codes as office_codes
from queue_app.storage import journal
from queue_app.storage.db import MAX_ID, get_db

# A reconnecting client gets the events it missed, or a snapshot past this many.
RESYNC_MAX_EVENTS = 200


def _principal_rooms(db, role, desk_id, allowed=None):
    """Rooms of a principal: a clerk hears the offices of its desk, or of every desk it may
    use (``allowed``: desk ids, None for all); refused at a desk it may not use."""
    offices = office_codes(db)
    if role == "manager":  # the live overview only: no ticket or appointment of anyone
        return [audience.MANAGERS], "manager", offices
    if role == "display":
        return [f"display:{code}" for code in offices] + ["displays"], "display", offices
    if role == "clerk" and desk_id is not None:
        if allowed is not None and desk_id not in allowed:
            raise ConnectionRefusedError("forbidden")
        offices = desks.get_desk(db, desk_id)["offices"]
    elif role == "clerk" and allowed is not None:
        served = {code for desk in allowed for code in desks.get_desk(db, desk)["offices"]}
        offices = [code for code in offices if code in served]
    joined = [f"staff:{code}" for code in offices] + ["staff"]
    if role in ("admin", "reception"):
        joined.append("reception")
    return joined, "staff", offices


# What a connection may present: a screen's key, a ticket's token, an API token, or an
# appointment's token (the citizen's page of it).
CREDENTIALS = ("screen", "ticket", "token", "appointment")

# Keys, tokens and ids a connection may present; anything else is no credential at all.
MAX_CREDENTIAL = 256


def _credential(auth, name):
    """``auth[name]`` when it is a plausible credential (text SQLite can hold), else None."""
    value = auth.get(name)
    if not isinstance(value, str) or not value or len(value) > MAX_CREDENTIAL:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    return value


def _desk_of(auth):
    """The desk a staff connection asks to hear (an id), or None for its role's offices."""
    desk = auth.get("desk")
    if isinstance(desk, bool) or not isinstance(desk, int) or not 1 <= desk <= MAX_ID:
        return None
    return desk


def _identify(db, auth):
    """``(rooms, audience, offices, own id)`` for a connection, or refuse it; the own id is a
    citizen's ticket or appointment."""
    auth = auth if isinstance(auth, dict) else {}
    if any(name in auth for name in CREDENTIALS):
        screen, ticket, token, booking = (_credential(auth, name) for name in CREDENTIALS)
        if not (screen or ticket or token or booking):
            raise ConnectionRefusedError("unauthorized")
    else:
        screen = ticket = token = booking = None
    if screen:
        screen = displays.find_by_key(db, screen)
        joined = [f"display:{code}" for code in screen["offices"]]
        joined += ["displays", f"screen:{screen['id']}"]
        return joined, "display", screen["offices"], None
    if ticket:
        ticket_id = tickets.id_for_token(db, ticket)
        if ticket_id is None:
            raise ConnectionRefusedError("unauthorized")
        return [f"ticket:{ticket_id}"], "ticket", [], ticket_id
    if booking:
        appointment_id = appointments.id_for_token(db, booking)
        if appointment_id is None:
            raise ConnectionRefusedError("unauthorized")
        return [f"appointment:{appointment_id}"], "appointment", [], appointment_id
    desk_id = _desk_of(auth)
    if token:
        found = accounts.find_token(db, token)
        if found is None:
            raise ConnectionRefusedError("unauthorized")
        joined, heard, offices = _principal_rooms(db, found["role"], desk_id)
        return joined + [f"token:{found['id']}"], heard, offices, None
    if current_user.is_authenticated and current_user.kind == "user":
        joined, heard, offices = _principal_rooms(
            db, current_user.role, desk_id, current_user.desks
        )
        return joined + [f"user:{current_user.ident}"], heard, offices, None
    raise ConnectionRefusedError("unauthorized")


@socketio.on("connect")
def connect(auth=None):
    """A client connects with a screen key, API token, ticket token or session: a snapshot."""
    db = get_db()
    # A TV switched on in the morning may be the first to ask: it opens the new day.
    publish(ensure_today(db))
    # Read before the credentials are checked: an event after this may have ended them.
    opened = journal.last_seq(db)
    try:
        joined, heard, offices, own_id = _identify(db, auth)
    except NotFound:
        raise ConnectionRefusedError("unauthorized") from None
    for room in joined:
        join_room(room)
    kept = audience.keep(request.sid, heard, offices, own_id, opened)
    at_desk = _desk_of(auth) if isinstance(auth, dict) and heard == "staff" else None
    if at_desk is not None:
        kept["desk"] = at_desk
        presence.opened(request.sid, at_desk)
    emit("snapshot", audience.snapshot(db, kept))


@socketio.on("disconnect")
def disconnect(*_reason):
    """A desk page's connection closing: that desk may no longer be staffed."""
    kept = audience.of(request.sid)
    if kept is not None and kept.get("desk") is not None:
        presence.closed(request.sid)


@socketio.on("resync")
def resync(data=None, *_extra):
    """A reconnected client sends ``{"since": seq}``; it gets the missed events or a snapshot."""
    session = audience.of(request.sid)
    if session is None:
        return
    db = get_db()
    since = data.get("since") if isinstance(data, dict) else None
    # A citizen's snapshot is as small as one event, and holds the place in the queue that
    # the journal's events alone cannot give back (see delivery._push_waiting_citizens); a
    # manager's overview is made from the tables, not from events.
    if (
        session["audience"] in audience.WHOLE_SNAPSHOT
        or isinstance(since, bool)
        or not isinstance(since, int)
        or not 0 <= since <= MAX_ID
    ):
        emit("snapshot", audience.snapshot(db, session))
        return
    missed = journal.since(db, since, limit=RESYNC_MAX_EVENTS + 1)
    day_started = any(event["type"] == "day_started" for event in missed)
    if len(missed) > RESYNC_MAX_EVENTS or day_started or since > journal.last_seq(db):
        emit("snapshot", audience.snapshot(db, session))
        return
    mine = set(socketio.server.rooms(request.sid, namespace=audience.NAMESPACE))
    for event in with_personal(missed):
        for name, room, payload in routes(event):
            if room in mine:
                emit(name, payload)
