"""The shapes of what the queue rules give back and journal: tickets, desks, offices,
occupancy, display screens, users, and the payload of each journal event.

Plain ``TypedDict``s, so at run time they are the very dicts the API and Socket.IO send as
JSON; mypy checks that the rules build them whole (``make lint``). The journal event that
carries a payload, ``Event``, and ``Outcome`` are in ``queue_app.storage.journal``.

Signatures say what a caller should pass; the rules still check at run time the values that
come from JSON (a ``priority`` that is not a bool, say) and refuse them with ``InvalidInput``.
"""

from typing import Literal, NotRequired, TypedDict

Kind = Literal["walk_in", "appointment", "urgent"]
Status = Literal["waiting", "called", "serving", "done", "no_show", "cancelled", "expired"]
# As stored: a ticket waiting outside the building for room is ``outside`` in the database
# (``waiting``, with ``"outside": true``, in the contract's ticket object).
StoredStatus = Literal[
    "waiting", "outside", "called", "serving", "done", "no_show", "cancelled", "expired"
]
Role = Literal["admin", "manager", "reception", "clerk", "display"]


# Tickets ----------------------------------------------------------------------------------


class PublicTicket(TypedDict):
    """The contract's ticket object (``calling.describe``) as its citizen sees it: no id.

    Instants are local ISO 8601 with their offset (``clock.local_iso``)."""

    code: str
    office: str
    number: int
    kind: Kind
    priority: bool
    party_size: int
    status: Status
    desk: str | None  # the desk's name
    issued_at: str
    called_at: str | None
    started_at: str | None
    finished_at: str | None
    appointment_at: str | None
    recalls: int
    position: int | None  # people ahead, while waiting
    estimated_wait_s: int | None
    token: str
    outside: bool  # waiting outside the building for room (contract v2)
    outside_ahead: int | None  # people waiting outside ahead of it, while outside


class Ticket(PublicTicket):
    """The contract's ticket object, as staff and systems get it."""

    id: int


class DisplayTicket(TypedDict):
    """What a display screen may see of a ticket (``calling.for_display``): nothing personal."""

    code: str
    office: str
    number: int
    status: Status
    desk: str | None
    called_at: str | None
    recalls: int


class TicketState(TypedDict):
    """A citizen's live state (``tickets.state``): the ticket and the seq it is as of."""

    seq: int
    ticket: PublicTicket


# Offices, desks, the building ---------------------------------------------------------------


class Office(TypedDict):
    """An office with its settings and how many tickets wait in its queue
    (``offices.list_offices``)."""

    code: str
    name: str
    letter: str
    waiting: int
    names: dict[str, str]
    priority_every: int
    target_wait_s: int
    default_service_s: int


class OfficeSettings(TypedDict):
    """What ``office_changed`` records of an office."""

    code: str
    name: str
    names: dict[str, str]
    priority_every: int
    target_wait_s: int
    default_service_s: int


class OfficePayload(TypedDict):
    """``office_changed``: an office's settings as they are now."""

    office: OfficeSettings


class Desk(TypedDict):
    """A clerk's desk (``desks.list_desks``); its current ticket is a ``DisplayTicket`` when
    asked for ``display_safe``."""

    id: int
    name: str
    names: dict[str, str]
    offices: list[str]
    current: Ticket | DisplayTicket | None
    paused: bool
    pause_reason: str | None


class Occupancy(TypedDict):
    """The building's occupancy (``occupancy.read``), and ``occupancy_changed``'s payload:
    the people inside against the limit, those waiting outside, and the codes of the last
    tickets let in from outside, newest first."""

    inside: int
    limit: int
    full: bool
    outside: int
    next_in: list[str]


# Display screens ----------------------------------------------------------------------------


# Who speaks a screen's announcements (contract v2, "Languages and voice"): ``auto`` the
# browser's voice for the screen's language when the browser has one, else the server's;
# ``browser`` only the browser's; ``server`` only the server's (display/voice.py).
Voice = Literal["auto", "browser", "server"]
# What a screen is for (contract v2, "Capacity at the door"): the waiting room's calls, or
# the entrance's go/wait sign with the count and the codes let in.
Layout = Literal["waiting_room", "entrance"]


class DisplaySettings(TypedDict):
    """What a display screen shows and how it speaks, as its page gets it in its snapshot."""

    name: str
    offices: list[str]
    language: str
    message: str
    voice: Voice
    layout: Layout


class JournaledDisplay(DisplaySettings):
    """A display screen as the journal and the screen's own page hear of it: never its key."""

    id: int


class Display(JournaledDisplay):
    """A display screen as stored, with its secret key (for staff and commands only)."""

    key: str


class Call(TypedDict):
    """One of the recent calls a screen shows (``displays.recent_calls``); the ticket as a
    screen may see it unless asked otherwise."""

    seq: int
    ticket: DisplayTicket | Ticket
    desk: str
    recall: bool


class DisplayState(TypedDict):
    """The live state of some offices (``displays.state``), read consistently."""

    seq: int
    calls: list[Call]
    waiting: dict[str, int]  # office code -> tickets waiting
    outside: dict[str, int]  # office code -> tickets waiting outside the building
    occupancy: Occupancy


class DisplaySnapshot(DisplayState):
    """What a display screen shows now (``displays.snapshot``)."""

    display: DisplaySettings


# Users and API tokens -----------------------------------------------------------------------


class User(TypedDict):
    """A staff login, as the rules give it back after a change."""

    id: int
    username: str
    role: Role


class SessionUser(User):
    """A logged-in user (``accounts.authenticate``, ``accounts.session_user``)."""

    session_key: str


class ListedUser(User):
    """A user on the admin's list (``accounts.list_users``); ``desks``: the desks a clerk is
    limited to (empty: every desk)."""

    created_at: str
    desks: list[int]


class ApiToken(TypedDict):
    """A live API token (``accounts.find_token``); the token itself is never stored."""

    id: int
    name: str
    role: Role


class ListedToken(ApiToken):
    """An API token on the admin's list (``accounts.list_tokens``)."""

    created_at: str
    revoked_at: str | None


# Journal payloads, by event type --------------------------------------------------------------
# The rules write these (``journal.record``); live/routing.py reads them back as plain dicts.
# The account events no page hears (user_created, user_role_changed, user_password_set,
# user_deleted, token_created) are small dicts written in accounts.py and not typed here.


class TicketPayload(TypedDict):
    """``ticket_changed``: the ticket as it is now."""

    ticket: Ticket


class CallPayload(TicketPayload):
    """``ticket_called``: a call, or a recall, of a ticket to a desk (by name); a call a
    clerk chose out of the calling order says so."""

    desk: str
    recall: bool
    out_of_order: NotRequired[bool]
    desk_names: NotRequired[dict[str, str]]


class QueuePayload(TypedDict):
    """``queue_changed``: how many tickets wait in an office now, inside to be called and
    outside the building for room."""

    office: str
    waiting: int
    outside: int


class DeskPayload(TypedDict):
    """``desk_changed``: a desk as it is now."""

    desk: Desk


class DayPayload(TypedDict):
    """``day_started``: the new local day, and the one it follows (None on a new database)."""

    day: str
    previous: str | None
    clock_moved_back: NotRequired[bool]  # only when the clock was put back (``day.roll_over``)


class DisplayPayload(TypedDict):
    """``display_changed``: a screen's settings, never its key."""

    display: JournaledDisplay


class DisplayRetiredPayload(TypedDict):
    """``display_key_rotated``: the id of a screen whose old key stopped working."""

    display: int


class SessionsEndedPayload(TypedDict):
    """``user_sessions_ended``: every session of a user ended (the reason: ``logout``,
    ``role_changed``, ``password_set`` or ``deleted``)."""

    user: int
    username: str
    reason: str


class UserDesksPayload(TypedDict):
    """``user_desks_set``: the desks a clerk user is limited to now."""

    user: int
    username: str
    desks: list[int]


class TokensRevokedPayload(TypedDict):
    """``token_revoked``: the ids of the tokens revoked by name."""

    name: str
    count: int
    tokens: list[int]
