"""Domain refusals: one exception type per refusal, each carrying its API code and status."""

from typing import TypeAlias

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

# A message for people: text, or text translated when shown (``lazy_gettext``). Flask-Babel
# ships no types, so to mypy ``LazyString`` is Any.
Message: TypeAlias = str | LazyString


class QueueError(Exception):
    """Base of every refusal the queue rules can give; never a server fault."""

    status: int = 400
    code: str = "invalid_input"
    default_message: Message = _l("The request is not valid.")

    def __init__(self, message: Message | None = None) -> None:
        super().__init__(message)
        self.message: Message = message if message is not None else self.default_message

    def __str__(self) -> str:
        return str(self.message)


class InvalidInput(QueueError):
    """A field is missing, unknown, of the wrong type or out of range."""


class Unauthorized(QueueError):
    status = 401
    code = "unauthorized"
    default_message = _l("Log in or send a valid API token.")


class Forbidden(QueueError):
    status = 403
    code = "forbidden"
    default_message = _l("Your role is not allowed to do this.")


class NotFound(QueueError):
    status = 404
    code = "not_found"
    default_message = _l("There is no such thing here.")


class UnknownOffice(NotFound):
    code = "unknown_office"
    default_message = _l("There is no office with that code.")


class CapacityFull(QueueError):
    status = 409
    code = "capacity_full"
    default_message = _l("The building is full: nobody more can be admitted until someone leaves.")


class DeskBusy(QueueError):
    status = 409
    code = "desk_busy"
    default_message = _l("This desk still has a called or serving ticket: finish it first.")


class DeskPaused(QueueError):
    status = 409
    code = "desk_paused"
    default_message = _l("This desk is paused: resume it to call the next ticket.")


class InvalidTransition(QueueError):
    status = 409
    code = "invalid_transition"
    default_message = _l("That action is not allowed for the ticket's current status.")


class Conflict(QueueError):
    status = 409
    code = "conflict"
    default_message = _l("That conflicts with what is already there.")
