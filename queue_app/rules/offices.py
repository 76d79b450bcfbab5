"""Offices and their queues."""

import json
import sqlite3
from collections.abc import Collection
from datetime import datetime
from typing import cast

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database

from queue_app.clock import utcnow
from queue_app.rules.checks import NAMED_IN, changes_of, names_per_language, whole_number
from queue_app.rules.errors import (
    InvalidInput,
    Message,
    UnknownOffice,
)
from queue_app.rules.types import Office, OfficePayload
from queue_app.storage.db import write_transaction
from queue_app.storage.journal import Outcome, record

# What an administrator may change of an office (contract v2, PATCH /offices/<code>).
MAX_NAME = 120
PRIORITY_EVERY = (0, 50)
TARGET_WAIT_S = (60, 8 * 3600)
DEFAULT_SERVICE_S = (10, 4 * 3600)
SETTINGS = ("names", "priority_every", "target_wait_s", "default_service_s")


def _office(row: sqlite3.Row) -> Office:
    found = dict(row)
    names = json.loads(found["names"]) if found["names"] else {}
    found["names"] = {language: names.get(language) or found["name"] for language in NAMED_IN}
    return cast(Office, found)


def list_offices(db: Database, code: str | None = None) -> list[Office]:
    """Every office (or one) with its settings and how many tickets wait in its queue."""
    return [
        _office(row)
        for row in db.execute(
            "SELECT o.code, o.name, o.letter, (SELECT COALESCE(SUM(s.waiting), 0)"
            " FROM queue_sizes s WHERE s.office = o.code) AS waiting, o.names,"
            " o.priority_every, o.target_wait_s, o.default_service_s"
            " FROM offices o WHERE :code IS NULL OR o.code = :code ORDER BY o.position, o.code",
            {"code": code},
        )
    ]


def get(db: Database, code: str) -> Office:
    """One office as in ``list_offices``; UnknownOffice if none."""
    found = list_offices(db, code)
    if not found:
        raise UnknownOffice()
    return found[0]


def update(
    db: Database,
    code: str,
    changes: object,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[Office]:
    """Change some of an office's settings (``SETTINGS``; the others stay as they are)."""
    changes = changes_of(changes, SETTINGS)
    bounds = {
        "priority_every": PRIORITY_EVERY,
        "target_wait_s": TARGET_WAIT_S,
        "default_service_s": DEFAULT_SERVICE_S,
    }
    numbers = {
        name: whole_number(name, changes[name], bounds[name]) for name in bounds if name in changes
    }
    names = names_per_language(changes["names"], MAX_NAME) if "names" in changes else None
    now = now or utcnow()
    with write_transaction(db):
        office = get(db, code)
        if names is not None:
            names = {**office["names"], **names}
            db.execute(
                "UPDATE offices SET names = ?, name = ? WHERE code = ?",
                [json.dumps(names), names["ca"], code],
            )
        for name, number in numbers.items():  # names from SETTINGS, never from the body
            db.execute(f"UPDATE offices SET {name} = ? WHERE code = ?", [number, code])
        office = get(db, code)
        settings: OfficePayload = {
            "office": {
                "code": office["code"],
                "name": office["name"],
                "names": office["names"],
                "priority_every": office["priority_every"],
                "target_wait_s": office["target_wait_s"],
                "default_service_s": office["default_service_s"],
            }
        }
        event = record(db, now, "office_changed", settings, office=code, actor=actor)
    return Outcome(office, [event])


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


def ensure(db: Database, code: str, names: dict[str, str], letter: str, position: int) -> None:
    """Inside a transaction: the office exists, named in each language (set-up; an existing
    one is left as it is)."""
    db.execute(
        "INSERT INTO offices (code, name, names, letter, position) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(code) DO NOTHING",
        [code, names["ca"], json.dumps(names), letter, position],
    )
