"""Socket.IO: who may connect, which rooms they hear, and the one broadcast helper.

Rooms: ``display:<office>`` (screens, display-safe payloads), ``staff:<office>`` (desks,
reception, admin), ``displays`` and ``reception`` (occupancy), ``staff`` (all staff),
``ticket:<id>`` (one citizen's own ticket), ``screen:<id>`` (one display screen's settings),
``token:<id>`` (the connections opened with one API token, closed when it is revoked),
``user:<id>`` (one staff user's page connections, closed when that user's sessions end).

Each server process delivers the journal to its own connections (``relay.py``): emits here
never cross processes, and a process knows every room its connections joined.
"""

from flask import current_app, request
from flask_login import current_user
from flask_socketio import ConnectionRefusedError, emit, join_room

from . import accounts, desks, displays, journal, socketio, ticket_json, tickets
from .clock import utcnow
from .day import ensure_today
from .db import get_db, read_transaction
from .errors import NotFound
from .relay import Relay
from .ticket_json import SELECT_TICKETS, for_display
from .validation import MAX_ID

# A reconnecting client gets the events it missed, or a snapshot past this many.
RESYNC_MAX_EVENTS = 200
STAFF_ROLES = ("admin", "reception", "clerk")


def _all_offices(db):
    return [row[0] for row in db.execute("SELECT code FROM offices ORDER BY position, code")]


def _public(ticket):
    return {key: value for key, value in ticket.items() if key != "id"}


def routes(event):
    """Where one journal event goes: ``[(socket event name, room, payload)]``."""
    kind, payload, office, seq = event["type"], event["payload"], event["office"], event["seq"]
    out = []
    if kind == "ticket_called":
        safe = {
            "seq": seq,
            "ticket": for_display(payload["ticket"]),
            "desk": payload["desk"],
            "recall": payload["recall"],
        }
        out += [
            (kind, f"display:{office}", safe),
            (kind, f"staff:{office}", {"seq": seq, **payload}),
        ]
    elif kind == "queue_changed":
        out += [
            (kind, f"{audience}:{office}", {"seq": seq, **payload})
            for audience in ("display", "staff")
        ]
    elif kind == "occupancy_changed":
        out += [(kind, room, {"seq": seq, **payload}) for room in ("displays", "reception")]
    elif kind == "ticket_changed":
        ticket = payload["ticket"]
        out += [
            (kind, f"staff:{office}", {"seq": seq, "ticket": ticket}),
            (kind, f"ticket:{ticket['id']}", {"seq": seq, "ticket": _public(ticket)}),
        ]
    elif kind == "desk_changed":
        out += [
            (kind, f"staff:{code}", {"seq": seq, **payload}) for code in payload["desk"]["offices"]
        ]
    elif kind == "display_changed":
        # The screen itself hears that its settings changed (never its key).
        out.append((kind, f"screen:{payload['display']['id']}", {"seq": seq, **payload}))
    elif kind == "display_key_rotated":
        # Screens still open with the old key are told to stop (their page says why).
        out.append(("display_retired", f"screen:{payload['display']}", {"seq": seq}))
    elif kind == "day_started":
        out += [(kind, room, {"seq": seq, **payload}) for room in ("displays", "staff")]
    return out


def _cut_off(room, seq):
    """Close this process's connections in ``room`` that were opened before event ``seq``
    (one opened since was accepted knowing of it)."""
    for sid, _ in list(socketio.server.manager.get_participants("/", room)):
        opened = OPENED_AT.get(sid)
        if opened is None or opened < seq:
            socketio.server.disconnect(sid, namespace="/")


# The events after which some connections must end (see _cut_offs and routes).
ENDINGS = ("token_revoked", "user_sessions_ended", "user_desks_set", "display_key_rotated")


def _cut_offs(event):
    """The rooms whose connections an event ends: a revoked token's, an ended user's."""
    if event["type"] == "token_revoked":
        return [f"token:{token_id}" for token_id in event["payload"]["tokens"]]
    if event["type"] in ("user_sessions_ended", "user_desks_set"):
        # Ended: the page goes to the login. New desks: it reconnects, heard anew.
        return [f"user:{event['payload']['user']}"]
    return []


def broadcast(events):
    """Hand journal events, once committed, to this process's relay (see ``relay.py``)."""
    current_app.extensions["torn.relay"].committed(events)


def deliver(events):
    """Send journal events, in order, to this process's connections that may hear them."""
    for event in events:
        for room in _cut_offs(event):
            _cut_off(room, event["seq"])
        for name, room, payload in routes(event):
            socketio.emit(name, payload, to=room)
        # Let the connections' writers send this event before the next is queued behind it,
        # so that a call reaches the screens first, ahead of its bookkeeping events.
        socketio.sleep(0)
    _push_waiting_citizens(events)


def refresh(since):
    """Instead of every event after ``since`` (a gap too long to replay): the ones that end
    connections, then a fresh snapshot for every connection of this process."""
    db = get_db()
    for event in journal.since(db, since, types=ENDINGS):
        for room in _cut_offs(event):
            _cut_off(room, event["seq"])
        for name, room, payload in routes(event):
            socketio.emit(name, payload, to=room)
    made = {}
    for sid, audience in list(AUDIENCES.items()):
        if audience not in made:
            made[audience] = snapshot(db, *audience)
        socketio.emit("snapshot", made[audience], to=sid)


def init_app(app):
    """The app's relay, starting after the journal's newest event (call in an app context)."""
    relay = Relay(app, deliver, refresh)
    relay.start_from(journal.last_seq(get_db()))
    app.extensions["torn.relay"] = relay
    return relay


def _moved_queues(events):
    """``{office: seq}`` of the queues whose order or pace these events changed."""
    moved = {}
    for event in events:
        if event["type"] == "queue_changed":
            moved[event["office"]] = event["seq"]
        elif event["type"] == "desk_changed":  # a paused desk changes everyone's estimate
            for office in event["payload"]["desk"]["offices"]:
                moved[office] = event["seq"]
    return moved


def _citizens_listening():
    """The ``ticket:<id>`` rooms with a connection in this process (which delivers only to
    its own connections), so that tickets nobody follows here cost nothing."""
    return {
        room
        for room in socketio.server.manager.rooms.get("/", {})
        if isinstance(room, str) and room.startswith("ticket:")
    }


def _push_waiting_citizens(events):
    """Give each ticket still waiting in a queue that moved its new place and estimate.

    A citizen's page hears only its own ticket, and nothing happens to that ticket when
    someone ahead is called; so, after the events, every waiting ticket of those queues gets
    a fresh ``ticket_changed`` in its own room, with the seq of the queue's last event. One
    read of the queue per office, however many citizens wait in it.
    """
    moved = _moved_queues(events)
    if not moved:
        return
    listening = _citizens_listening()
    if not listening:
        return
    db = get_db()
    now = utcnow()
    for office, seq in moved.items():
        with read_transaction(db):
            rows = db.execute(
                f"{SELECT_TICKETS} WHERE t.status = 'waiting' AND t.office = ?", [office]
            ).fetchall()
            rows = [row for row in rows if f"ticket:{row['id']}" in listening]
            waiting = ticket_json.describe(db, rows, now)
        for ticket in waiting:
            socketio.emit(
                "ticket_changed",
                {"seq": seq, "ticket": _public(ticket)},
                to=f"ticket:{ticket['id']}",
            )


# What each connection of this process hears: ``{sid: (audience, offices, ticket id)}``,
# audience being "display", "staff" or "ticket"; and the journal's seq when it was
# accepted, ``{sid: seq}``. Kept from connect to disconnect.
AUDIENCES = {}
OPENED_AT = {}


def _principal_rooms(db, role, desk_id, allowed=None):
    """Rooms of a principal: a clerk hears the offices of its desk, or of every desk it may
    use (``allowed``: desk ids, None for all); refused at a desk it may not use."""
    offices = _all_offices(db)
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
    """``(rooms, audience, offices, ticket)`` for a connection, or refuse it."""
    auth = auth if isinstance(auth, dict) else {}
    if "screen" in auth or "ticket" in auth or "token" in auth:
        screen, ticket, token = (_credential(auth, name) for name in ("screen", "ticket", "token"))
        if not (screen or ticket or token):
            raise ConnectionRefusedError("unauthorized")
    else:
        screen = ticket = token = None
    if screen:
        screen = displays.find_by_key(db, screen)
        joined = [f"display:{code}" for code in screen["offices"]]
        joined += ["displays", f"screen:{screen['id']}"]
        return joined, "display", screen["offices"], None
    if ticket:
        row = db.execute("SELECT id FROM tickets WHERE token = ?", [ticket]).fetchone()
        if row is None:
            raise ConnectionRefusedError("unauthorized")
        return [f"ticket:{row[0]}"], "ticket", [], row[0]
    desk_id = _desk_of(auth)
    if token:
        found = accounts.find_token(db, token)
        if found is None:
            raise ConnectionRefusedError("unauthorized")
        joined, audience, offices = _principal_rooms(db, found["role"], desk_id)
        return joined + [f"token:{found['id']}"], audience, offices, None
    if current_user.is_authenticated and current_user.kind == "user":
        joined, audience, offices = _principal_rooms(
            db, current_user.role, desk_id, current_user.desks
        )
        return joined + [f"user:{current_user.ident}"], audience, offices, None
    raise ConnectionRefusedError("unauthorized")


def snapshot(db, audience, offices, ticket_id):
    """The ``snapshot`` a connection gets right after connecting (and after a long gap)."""
    if audience == "ticket":
        with read_transaction(db):
            return {"seq": journal.last_seq(db), "ticket": _public(tickets.find(db, ticket_id))}
    return displays.state(db, offices, display_safe=audience == "display")


@socketio.on("connect")
def connect(auth=None):
    """A client connects with a screen key, API token, ticket token or session: a snapshot."""
    db = get_db()
    # A TV switched on in the morning may be the first to ask: it opens the new day.
    broadcast(ensure_today(db).events)
    # Read before the credentials are checked: an event after this may have ended them.
    opened = journal.last_seq(db)
    try:
        joined, audience, offices, ticket_id = _identify(db, auth)
    except NotFound:
        raise ConnectionRefusedError("unauthorized") from None
    for room in joined:
        join_room(room)
    AUDIENCES[request.sid] = (audience, tuple(offices), ticket_id)
    OPENED_AT[request.sid] = opened
    emit("snapshot", snapshot(db, audience, offices, ticket_id))


@socketio.on("disconnect")
def disconnect(reason=None):
    """A connection ends (client, server or network): forget what it heard."""
    AUDIENCES.pop(request.sid, None)
    OPENED_AT.pop(request.sid, None)


@socketio.on("resync")
def resync(data=None, *_extra):
    """A reconnected client sends ``{"since": seq}``; it gets the missed events or a snapshot."""
    audience = AUDIENCES.get(request.sid)
    if audience is None:
        return
    db = get_db()
    since = data.get("since") if isinstance(data, dict) else None
    # A ticket's snapshot is as small as one event, and holds the place in the queue that
    # the journal's events alone cannot give back (see _push_waiting_citizens).
    if (
        audience[0] == "ticket"
        or isinstance(since, bool)
        or not isinstance(since, int)
        or not 0 <= since <= MAX_ID
    ):
        emit("snapshot", snapshot(db, *audience))
        return
    missed = journal.since(db, since, limit=RESYNC_MAX_EVENTS + 1)
    day_started = any(event["type"] == "day_started" for event in missed)
    if len(missed) > RESYNC_MAX_EVENTS or day_started or since > journal.last_seq(db):
        emit("snapshot", snapshot(db, *audience))
        return
    mine = set(socketio.server.rooms(request.sid, namespace="/"))
    for event in missed:
        for name, room, payload in routes(event):
            if room in mine:
                emit(name, payload)
