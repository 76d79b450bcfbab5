"""What one connection hears, kept with the connection from connect to disconnect.

A connection's audience is ``"display"`` (a screen: display-safe payloads), ``"staff"``
(desks, reception, admin), ``"manager"`` (the live overview of the statistics page), or
``"ticket"`` or ``"appointment"`` (one citizen's own); with the
offices it hears, its own id (a citizen's ticket or appointment), and ``opened``: the
journal's seq when it was accepted, so that an event ending its credentials closes it only
if it was opened before that event.

The record lives in the connection's Socket.IO environ: the per-connection dictionary
python-socketio keeps for every connection and drops at disconnect (Flask-SocketIO keeps its
session copy there too, and its test client has it, unlike Engine.IO's session).
"""

from queue_app import socketio
from queue_app.rules import appointments, displays, overview, tickets

NAMESPACE = "/"
KEY = "torn.audience"
# The room of the managers' connections (the statistics page's live overview).
MANAGERS = "managers"
# The audiences whose reconnection gets a fresh snapshot rather than the missed events:
# those that follow one thing of their own, and the managers' overview.
WHOLE_SNAPSHOT = ("ticket", "appointment", "manager")


def keep(sid, audience, offices, own_id, opened):
    """Remember, with the connection, what it hears; that record."""
    record = {"audience": audience, "offices": tuple(offices), "own": own_id, "opened": opened}
    socketio.server.get_environ(sid, namespace=NAMESPACE)[KEY] = record
    return record


def of(sid):
    """What the connection hears (see ``keep``), or None for a connection not accepted (yet),
    or gone."""
    environ = socketio.server.get_environ(sid, namespace=NAMESPACE)
    return None if environ is None else environ.get(KEY)


def connections(room=None):
    """``[(sid, session)]`` of this process's accepted connections, in ``room`` or all."""
    found = []
    for sid, _ in list(socketio.server.manager.get_participants(NAMESPACE, room)):
        session = of(sid)
        if session is not None:
            found.append((sid, session))
    return found


def snapshot(db, session):
    """The ``snapshot`` a connection gets right after connecting (and after a long gap)."""
    if session["audience"] == "ticket":
        return tickets.state(db, session["own"])
    if session["audience"] == "appointment":
        return appointments.state(db, session["own"])
    if session["audience"] == "manager":
        return {**displays.state(db, session["offices"]), "overview": overview.read(db)}
    return displays.state(db, session["offices"], display_safe=session["audience"] == "display")
