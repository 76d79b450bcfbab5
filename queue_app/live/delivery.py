"""The one publish path, and delivery of the journal to this process's connections.

A write of the queue rules returns an ``Outcome``; its caller hands it to ``publish`` once
committed. The process's relay (``relay.py``) then calls ``deliver`` with every event in
``seq`` order exactly once, events written by other processes included; ``routing.py`` says
which rooms hear each.
"""

from flask import current_app

from queue_app import socketio
from queue_app.live import audience, fanout
from queue_app.live.relay import Relay
from queue_app.live.routing import ENDINGS, cut_offs, moved_queues, public, routes
from queue_app.rules import appointments, overview, tickets
from queue_app.storage import journal
from queue_app.storage.db import get_db


def publish(outcome):
    """Hand a committed write's journal events to the screens; the outcome's value back."""
    current_app.extensions["torn.relay"].committed(outcome.events)
    return outcome.value


def _end(event):
    """Close this process's connections that ``event`` ends and that were opened before it
    (one opened since was accepted knowing of it)."""
    for room in cut_offs(event):
        for sid, session in audience.connections(room):
            if session["opened"] < event["seq"]:
                socketio.server.disconnect(sid, namespace=audience.NAMESPACE)


def _send(events):
    """Send events, in order, to the rooms that hear each: gathered, then written once per
    connection (fanout.py); first closing the connections an event ends (after what came
    before it has been written to them)."""
    batch = fanout.Batch()
    for event in events:
        if cut_offs(event):
            batch.flush()
            _end(event)
        for name, room, payload in routes(event):
            batch.emit(name, payload, room)
    batch.flush()
    if batch.queued:
        # Let the writers of the connections it was queued for send it now.
        socketio.sleep(0)


def with_personal(events):
    """The events as staff hear them. The journal holds no name or phone: an appointment's
    are added here from the appointments table, as they are now (None once erased)."""
    ids = [
        event["payload"]["appointment"]["id"]
        for event in events
        if event["type"] == "appointment_changed"
    ]
    if not ids:
        return events
    found = appointments.personal(get_db(), ids)
    filled = []
    for event in events:
        if event["type"] == "appointment_changed":
            appointment = event["payload"]["appointment"]
            name, phone = found.get(appointment["id"], (None, None))
            personal = {"name": name, "phone": phone}
            whole = {
                key: personal[key] if key in personal else appointment[key]
                for key in appointments.Appointment.__annotations__
            }
            event = {**event, "payload": {"appointment": whole}}
        filled.append(event)
    return filled


def deliver(events):
    """Send journal events, in order, to this process's connections that may hear them."""
    _send(with_personal(events))
    # Then, once the screens have had the events, what the events mean for the citizens
    # following their tickets and for the managers' overview: a second round of writes.
    pushes = fanout.Batch()
    _push_waiting_citizens(events, pushes)
    _push_overview(events, pushes)
    pushes.flush()
    if pushes.queued:
        socketio.sleep(0)
    sender = current_app.extensions.get("torn.sms")
    if sender is not None:
        sender.wake()  # a change may have queued a message (rules/notices.py)


def refresh(since):
    """Instead of every event after ``since`` (a gap too long to replay): the ones that end
    connections, then a fresh snapshot for every connection of this process."""
    db = get_db()
    _send(journal.since(db, since, types=ENDINGS))
    made = {}
    for sid, session in audience.connections():
        key = (session["audience"], session["offices"], session["own"])
        if key not in made:
            made[key] = audience.snapshot(db, session)
        socketio.emit("snapshot", made[key], to=sid)


def init_app(app):
    """The app's relay, starting after the journal's newest event (call in an app context)."""
    relay = Relay(app, deliver, refresh)
    relay.start_from(journal.last_seq(get_db()))
    app.extensions["torn.relay"] = relay
    return relay


def _citizens_listening():
    """The ids of the tickets with a connection in this process (which delivers only to its
    own connections), so that tickets nobody follows here cost nothing."""
    return {
        int(room.removeprefix("ticket:"))
        for room in socketio.server.manager.rooms.get(audience.NAMESPACE, {})
        if isinstance(room, str) and room.startswith("ticket:")
    }


def _push_waiting_citizens(events, batch):
    """Give each ticket still waiting in a queue that moved its new place and estimate.

    A citizen's page hears only its own ticket, and nothing happens to that ticket when
    someone ahead is called; so, after the events, every waiting ticket of those queues
    followed by a page of this process gets a fresh ``ticket_changed`` in its own room, with
    the seq of the queue's last event. Only those tickets are read, with their places
    (rules/calling.py, ``places``), not the queue. Likewise, when the door's counts moved
    (someone let in, or gone from the queue outside), each followed ticket still waiting
    outside gets the people outside ahead of it now.
    """
    moved = moved_queues(events)
    door = [event["seq"] for event in events if event["type"] == "occupancy_changed"]
    listening = _citizens_listening() if moved or door else None
    if not listening:
        return
    db = get_db()
    moved_tickets = [
        (seq, ticket)
        for office, seq in moved.items()
        for ticket in tickets.waiting_in(db, office, listening)
    ]
    if door:
        moved_tickets += [(door[-1], ticket) for ticket in tickets.outside_in(db, listening)]
    for seq, ticket in moved_tickets:
        batch.emit(
            "ticket_changed", {"seq": seq, "ticket": public(ticket)}, f"ticket:{ticket['id']}"
        )


# The events after which the managers' overview may differ.
OVERVIEW_TYPES = {
    "day_started",
    "ticket_changed",
    "ticket_called",
    "queue_changed",
    "occupancy_changed",
    "desk_changed",
    "office_changed",
}


def _push_overview(events, batch):
    """After events that change it, a fresh overview to this process's managers' pages: one
    read for all of them, none when nobody here listens."""
    if not any(event["type"] in OVERVIEW_TYPES for event in events):
        return
    if not socketio.server.manager.rooms.get(audience.NAMESPACE, {}).get(audience.MANAGERS):
        return
    batch.emit("overview", overview.read(get_db()), audience.MANAGERS)
