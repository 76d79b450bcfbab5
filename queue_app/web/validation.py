"""Reading client input strictly: a JSON object with known fields of the right types."""

import json

from flask import request
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter

from queue_app.clock import EARLIEST_YEAR, LATEST_YEAR, parse_instant
from queue_app.rules.errors import InvalidInput
from queue_app.storage.db import MAX_ID

MAX_TEXT = 200


class IdConverter(IntegerConverter):
    """``<id:name>`` in a route: a whole number SQLite can hold (a larger one: 404)."""

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, max=MAX_ID)


class InvalidJson(InvalidInput):
    code = "invalid_json"


def json_object(allowed):
    """The request body as a JSON object with only ``allowed`` keys (``{}`` when empty)."""
    raw = request.get_data(cache=True)
    if request.content_length is None and raw:
        # A chunked body is cut at MAX_CONTENT_LENGTH without a word: reading on past the
        # cut is what makes Werkzeug say it was too large (413) instead of mis-reading it.
        request.stream.read(1)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # too deeply nested is invalid too
        raise InvalidJson(_l("The body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise InvalidJson(_l("The body must be a JSON object."))
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidInput(_l("Unknown field: %(codes)s.", codes=", ".join(unknown)))
    return body


def text(body, name, default=None, max_length=MAX_TEXT):
    """A string field (or ``default`` when absent or null)."""
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > max_length:
        raise InvalidInput(
            _l(
                "%(name)s must be text of at most %(maximum)s characters.",
                name=name,
                maximum=max_length,
            )
        )
    return value


def required_text(body, name, max_length=MAX_TEXT):
    """A string field that must be present and not empty (a missing one is invalid input)."""
    value = text(body, name, max_length=max_length)
    if not value:
        raise InvalidInput(_l("%(name)s is required.", name=name))
    return value


def instant(body, name):
    """An ISO 8601 date-time field as an aware datetime, or None."""
    value = text(body, name, max_length=40)
    if value is None:
        return None
    try:
        return parse_instant(value)
    except ValueError:
        raise InvalidInput(
            _l(
                "%(name)s must be an ISO 8601 date and time between the years"
                " %(earliest)s and %(latest)s.",
                name=name,
                earliest=EARLIEST_YEAR,
                latest=LATEST_YEAR,
            )
        ) from None
