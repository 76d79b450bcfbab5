"""Offices and their queues."""

from collections.abc import Collection
from typing import cast

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.rules.errors import InvalidInput, Message, UnknownOffice
from queue_app.rules.types import Office


def list_offices(db: Database) -> list[Office]:
    """Every office with how many tickets wait in its queue."""
    # The SELECT's columns are Office's keys (SQLite gives them untyped).
    return [
        cast(Office, dict(row))
        for row in db.execute(
            "SELECT o.code, o.name, o.letter, (SELECT COUNT(*) FROM tickets t"
            " WHERE t.status = 'waiting' AND t.office = o.code) AS waiting"
            " FROM offices o ORDER BY o.position, o.code"
        )
    ]


def codes(db: Database) -> list[str]:
    """Every office's code, in the offices' own order."""
    return [row[0] for row in db.execute("SELECT code FROM offices ORDER BY position, code")]


def waiting_by_office(db: Database, offices: Collection[str] | None = None) -> dict[str, int]:
    """``{office: waiting}`` for the given offices (all when None)."""
    return {
        office["code"]: office["waiting"]
        for office in list_offices(db)
        if offices is None or office["code"] in offices
    }


def check_codes(db: Database, given: object, none_message: Message) -> list[str]:
    """``given`` as known office codes, each once, in the offices' own order.

    Refused with ``none_message`` when empty or not a list of text, and as UnknownOffice
    when one is not an office.
    """
    if (
        not isinstance(given, (list, tuple))
        or not given
        or not all(isinstance(code, str) for code in given)
    ):
        raise InvalidInput(none_message)
    known = codes(db)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise UnknownOffice(_l("Unknown office: %(codes)s.", codes=", ".join(unknown)))
    return [code for code in known if code in given]


def ensure(db: Database, code: str, name: str, letter: str, position: int) -> None:
    """Inside a transaction: the office exists (set-up; an existing one is left as it is)."""
    db.execute(
        "INSERT INTO offices (code, name, letter, position) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(code) DO NOTHING",
        [code, name, letter, position],
    )
