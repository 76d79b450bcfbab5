"""Names, days and times in the reader's language, for every page and paper.

Offices and desks are named in Catalan, Spanish and English (``names``; ``name`` is the
Catalan one). A page in one of those shows that name; a page in another citizen language
(French, Arabic, Romanian, Urdu, Chinese) shows the English one (``languages.NAME_FALLBACK``): the
English names are written for someone new to the town, and English is the one of the three
that most newcomers read. A name missing in that language falls back to the Catalan one.

Days and times are written as the reader's language writes them (Babel's CLDR patterns), in
the town hall's time zone (Flask-Babel's, ``QUEUE_TIMEZONE``); English as in Britain
(29/11/2026, 29 November 2026, 09:05), never the United States' 11/29/26.
"""

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time, get_date_format
from flask_babel import get_locale, to_user_timezone

from queue_app.languages import name_in
from queue_app.rules import desks, offices

# The locale that writes a language's days and times, where it is not the language itself.
DATE_LOCALES = {"en": "en_GB"}


def reading_language() -> str:
    """The language of the page being made (Catalan outside a request)."""
    locale = get_locale()
    return locale.language if locale is not None else "ca"


def name_of(thing: Mapping[str, Any], language: str | None = None) -> str:
    """An office's or a desk's name for a reader of ``language`` (default: the page's)."""
    return name_in(thing, language or reading_language())


def named(things: Iterable[Mapping[str, Any]], language: str | None = None) -> list[dict]:
    """Offices or desks as given, each ``name`` in the reader's language (``names`` keeps
    every language's)."""
    return [{**thing, "name": name_of(thing, language)} for thing in things]


def office_names(db, language: str | None = None) -> dict[str, str]:
    """``{code: name}`` of every office, in the reader's language."""
    return {office["code"]: name_of(office, language) for office in offices.list_offices(db)}


def desk_names(db, language: str | None = None) -> dict[str, str]:
    """``{name: name in the reader's language}`` of every desk: a ticket names its desk by
    its (Catalan) ``name``, and a page shows it in its reader's language."""
    return {desk["name"]: name_of(desk, language) for desk in desks.list_desks(db)}


# Days and times ---------------------------------------------------------------------------


def _date_locale() -> Locale:
    language = reading_language()
    return Locale.parse(DATE_LOCALES.get(language, language))


def _local(value: datetime | date | str) -> datetime | date:
    """A moment in the town hall's time zone (an ISO 8601 text is read first); a date as is."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return to_user_timezone(value) if isinstance(value, datetime) else value


def numeric_date(value: datetime | date | str) -> str:
    """The day in figures, with the whole year: 29/11/2026 (ca, es, fr, en), 29.11.2026 (ro),
    2026/11/29 (zh), 29/11/2026 (ar, with its direction marks; ur)."""
    locale = _date_locale()
    pattern = re.sub(r"y+", "y", get_date_format("short", locale=locale).pattern)
    return format_date(_local(value), pattern, locale=locale)


def long_date(value: datetime | date | str) -> str:
    """The day in words, with its weekday: «diumenge, 29 de novembre del 2026»."""
    return format_date(_local(value), "full", locale=_date_locale())


def clock_time(value: datetime | str) -> str:
    """The time of day as the language writes it: 9:05 (ca, es), 09:05 (en, fr, ro, zh),
    9:05 ص (ar), 9:05 AM (ur)."""
    local = _local(value)
    assert isinstance(local, datetime)
    return format_time(local, "short", locale=_date_locale())


FILTERS = {"numeric_date": numeric_date, "long_date": long_date, "clock_time": clock_time}
