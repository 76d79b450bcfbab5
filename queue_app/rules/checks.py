"""Checks of input shared by several rules: each returns the value as the rules keep it, or
raises InvalidInput saying what is expected."""

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l

from queue_app.rules.errors import InvalidInput

MAX_PHONE = 20


def whole_number(name: str, value: object, bounds: tuple[int, int]) -> int:
    """``value`` when it is a whole number within ``bounds`` (both included), else refused
    naming the field (``True`` is no number here, though Python counts it as 1)."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(
            _l(
                "%(name)s must be a whole number from %(low)s to %(maximum)s.",
                name=name,
                low=low,
                maximum=high,
            )
        )
    return value


def changes_of(body: object, allowed: Iterable[str]) -> dict[str, object]:
    """``body`` as the changes of a partial update: a JSON object with only ``allowed``
    keys (the ones it does not name stay as they are)."""
    if not isinstance(body, dict):
        raise InvalidInput(_l("The body must be a JSON object."))
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidInput(_l("Unknown field: %(codes)s.", codes=", ".join(unknown)))
    return body


# The languages an office or a desk is named in (contract v2); its "name" is the Catalan one.
NAMED_IN = ("ca", "es", "en")


def names_per_language(value: object, maximum: int) -> dict[str, str]:
    """``value`` as names per language: an object naming some of NAMED_IN, each name text
    of 1 to ``maximum`` characters (runs of spaces become one)."""
    if not isinstance(value, dict) or not value or set(value) - set(NAMED_IN):
        raise InvalidInput(
            _l(
                "names must be an object with a name for some of: %(codes)s.",
                codes=", ".join(NAMED_IN),
            )
        )
    names = {}
    for language, name in value.items():
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > maximum:
            raise InvalidInput(
                _l("Each name must be text of 1 to %(maximum)s characters.", maximum=maximum)
            )
        names[language] = " ".join(name.split())
    return names


def phone_number(phone: object) -> str | None:
    """A phone number as digits with an optional leading +, or None when not given."""
    if phone is None or phone == "":
        return None
    message = _l(
        "phone must be a telephone number: digits, spaces and an optional leading +,"
        " %(low)s to %(high)s digits.",
        low=6,
        high=15,
    )
    if not isinstance(phone, str) or len(phone) > 2 * MAX_PHONE:
        raise InvalidInput(message)
    compact = "".join(phone.split()).replace("-", "").replace(".", "")
    digits = compact[1:] if compact.startswith("+") else compact
    if not digits.isascii() or not digits.isdigit() or not 6 <= len(digits) <= 15:
        raise InvalidInput(message)
    return compact
