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


class WrongOffice(QueueError):
    status = 409
    code = "wrong_office"
    default_message = _l("This desk does not serve that ticket's office.")


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


class SlotFull(QueueError):
    status = 409
    code = "slot_full"
    default_message = _l("That slot has no free place left: choose another.")


class OutsideHours(QueueError):
    status = 409
    code = "outside_hours"
    default_message = _l("That is not the start of a slot of the office's hours on that day.")


class AlreadyCheckedIn(QueueError):
    status = 409
    code = "already_checked_in"
    default_message = _l("This appointment is already checked in: its ticket was issued.")


class NotToday(QueueError):
    status = 409
    code = "not_today"
    default_message = _l("This appointment is not for today.")


class TooEarly(QueueError):
    status = 409
    code = "too_early"
    default_message = _l("It is too early to check in this appointment.")


class TooLate(QueueError):
    status = 409
    code = "too_late"
    default_message = _l("It is too late to check in this appointment; a clerk may accept it.")
