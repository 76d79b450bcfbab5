"""Where each journal event goes: a table from the event's type to the rooms that hear it.

Rooms: ``display:<office>`` (screens, display-safe payloads), ``staff:<office>`` (desks,
reception, admin), ``displays`` and ``reception`` (occupancy), ``staff`` (all staff),
``ticket:<id>`` and ``appointment:<id>`` (one citizen's own ticket or appointment),
``screen:<id>`` (one display screen's settings), ``token:<id>`` (the connections opened
with one API token), ``user:<id>`` (one staff user's page connections). Pure functions
of the event: no database, no sockets.
"""

from queue_app.rules import appointments
from queue_app.rules.calling import for_display


def public(ticket):
    """A ticket as its citizen sees it: without the internal id."""
    return {key: value for key, value in ticket.items() if key != "id"}


def _with_seq(event):
    return {"seq": event["seq"], **event["payload"]}


def _to_rooms(*rooms):
    """The event, as it is, to fixed rooms."""

    def route(event):
        return [(event["type"], room, _with_seq(event)) for room in rooms]

    return route


def _to_office(*audiences):
    """The event, as it is, to the event's office in each audience's room."""

    def route(event):
        return [(event["type"], f"{who}:{event['office']}", _with_seq(event)) for who in audiences]

    return route


def _ticket_called(event):
    """Screens get the call with a display-safe ticket (a code and a desk); staff get it all."""
    payload, office = event["payload"], event["office"]
    safe = {
        "seq": event["seq"],
        "ticket": for_display(payload["ticket"]),
        "desk": payload["desk"],
        "desk_names": payload.get("desk_names"),  # the screens say it in their language
        "recall": payload["recall"],
    }
    return [
        ("ticket_called", f"display:{office}", safe),
        ("ticket_called", f"staff:{office}", _with_seq(event)),
    ]


def _ticket_changed(event):
    ticket, seq = event["payload"]["ticket"], event["seq"]
    return [
        ("ticket_changed", f"staff:{event['office']}", {"seq": seq, "ticket": ticket}),
        ("ticket_changed", f"ticket:{ticket['id']}", {"seq": seq, "ticket": public(ticket)}),
    ]


def _ticket_admitted(event):
    """A ticket let in from outside: its citizen and reception get it, the screens its code
    only (the entrance screen shows and says it)."""
    ticket, seq = event["payload"]["ticket"], event["seq"]
    return [
        ("ticket_admitted", f"ticket:{ticket['id']}", {"seq": seq, "ticket": public(ticket)}),
        ("ticket_admitted", "reception", {"seq": seq, "ticket": ticket}),
        ("ticket_admitted", "displays", {"seq": seq, "ticket": {"code": ticket["code"]}}),
    ]


def _desk_changed(event):
    offices = event["payload"]["desk"]["offices"]
    return [("desk_changed", f"staff:{code}", _with_seq(event)) for code in offices]


def _display_changed(event):
    # The screen itself hears that its settings changed (never its key).
    room = f"screen:{event['payload']['display']['id']}"
    return [("display_changed", room, _with_seq(event))]


def _display_retired(event):
    # Screens still open with the old key are told to stop (their page says why).
    room = f"screen:{event['payload']['display']}"
    return [("display_retired", room, {"seq": event["seq"]})]


def _appointment_changed(event):
    appointment, seq = event["payload"]["appointment"], event["seq"]
    own = {"seq": seq, "appointment": appointments.public(appointment)}
    return [
        ("appointment_changed", f"staff:{event['office']}", {"seq": seq, **event["payload"]}),
        ("appointment_changed", f"appointment:{appointment['id']}", own),
    ]


# Journal event type -> [(Socket.IO event name, room, payload)]. A type not listed here
# (an account change, a token created) is heard by no page.
ROUTES = {
    "ticket_called": _ticket_called,
    "ticket_changed": _ticket_changed,
    "ticket_admitted": _ticket_admitted,
    "queue_changed": _to_office("display", "staff"),
    "occupancy_changed": _to_rooms("displays", "reception"),
    "desk_changed": _desk_changed,
    "display_changed": _display_changed,
    "display_key_rotated": _display_retired,
    "day_started": _to_rooms("displays", "staff"),
    # Staff, with the name and phone added at delivery (delivery.py), and the citizen's own
    # page without them; never a display.
    "appointment_changed": _appointment_changed,
}


def _user_room(event):
    return [f"user:{event['payload']['user']}"]


# Journal event type -> the rooms whose connections, opened before it, it ends: a revoked
# token's; a user whose sessions ended (the page goes to the login) or whose desks changed
# (the page reconnects and is heard anew).
CUT_OFFS = {
    "token_revoked": lambda event: [f"token:{token}" for token in event["payload"]["tokens"]],
    "user_sessions_ended": _user_room,
    "user_desks_set": _user_room,
}

# The events a long gap must still apply one by one (delivery.refresh): those that end
# connections, and a screen's retirement.
ENDINGS = (*CUT_OFFS, "display_key_rotated")


def routes(event):
    """Where one journal event goes: ``[(socket event name, room, payload)]``."""
    route = ROUTES.get(event["type"])
    return route(event) if route else []


def cut_offs(event):
    """The rooms whose connections one journal event ends."""
    rooms = CUT_OFFS.get(event["type"])
    return rooms(event) if rooms else []


def moved_queues(events):
    """``{office: seq}`` of the queues whose order or pace these events changed."""
    moved = {}
    for event in events:
        if event["type"] == "queue_changed":
            moved[event["office"]] = event["seq"]
        elif event["type"] == "desk_changed":  # a paused desk changes everyone's estimate
            for office in event["payload"]["desk"]["offices"]:
                moved[office] = event["seq"]
    return moved
