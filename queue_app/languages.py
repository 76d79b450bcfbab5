"""The languages Torn speaks, and which one a request gets: Catalan first.

Staff pages and display screens speak Catalan, Spanish and English. A citizen's own pages (a
ticket's ``/t/<token>``, an appointment's ``/a/<token>``) and the printed ticket and booking
confirmation also speak the languages of the town's newcomers (``CITIZEN_LANGUAGES``): a
request is allowed them by ``allow_citizen_languages`` (the citizen's blueprint does it for
its every page), else they are never chosen.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from flask import g, has_request_context, request, session

# Pages, display screens and their voices: Catalan first, then Spanish and English.
LANGUAGES = ("ca", "es", "en")
# A citizen's pages and printed papers: those, and French, Arabic, Romanian, Urdu, Chinese.
CITIZEN_LANGUAGES = (*LANGUAGES, "fr", "ar", "ro", "ur", "zh")
# Each language by its own name, as a switch shows it to someone who reads no other.
NATIVE_NAMES = {
    "ca": "Català",
    "es": "Español",
    "en": "English",
    "fr": "Français",
    "ar": "العربية",
    "ro": "Română",
    "ur": "اردو",
    "zh": "中文",
}
# Languages written right to left (their pages get dir="rtl").
RIGHT_TO_LEFT = ("ar", "ur")


# The language whose office and desk names a reader of a language they are not named in
# gets: the newcomers' languages get the English names (written for someone new to town).
NAME_FALLBACK = {"fr": "en", "ar": "en", "ro": "en", "ur": "en", "zh": "en"}


def name_in(thing: Mapping[str, Any], language: str) -> str:
    """An office's or a desk's name for a reader of ``language`` (its ``names`` per language;
    its ``name``, the Catalan one, when it has none in that language)."""
    shown = NAME_FALLBACK.get(language, language)
    names = thing.get("names") or {}
    return str((shown != "ca" and names.get(shown)) or thing["name"])


def direction_of(language: str) -> str:
    """``"rtl"`` or ``"ltr"``: the ``dir`` of a page in ``language``."""
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"


def allow_citizen_languages() -> None:
    """This request is a citizen's page or paper: it may speak every citizen language."""
    g.citizen_languages = True


def languages_here() -> tuple[str, ...]:
    """The languages the current request may be answered in."""
    if has_request_context() and g.get("citizen_languages"):
        return CITIZEN_LANGUAGES
    return LANGUAGES


def best_match(accepted: Iterable[tuple[str, float]], languages: tuple[str, ...]) -> str | None:
    """The first of ``accepted`` (language tags, best first, with their quality) that one of
    ``languages`` speaks, by its primary subtag: ``ar-MA`` is Arabic even when the browser
    also accepts French without naming plain ``ar`` (Werkzeug's own ``best_match`` would take
    the French, an exact match, first)."""
    for tag, quality in accepted:
        primary = tag.replace("_", "-").split("-")[0].lower()
        if quality > 0 and primary in languages:
            return primary
    return None


def select_locale() -> str | None:
    """Catalan first: a page's own language (a display screen's), the chosen one, the
    browser's best match, else Catalan (also for commands, outside any request). Only the
    languages of the request (``languages_here``) are ever taken."""
    if not has_request_context():
        return None
    allowed = languages_here()
    # ``g`` and the session may hold anything: only a known code is taken from them.
    page = g.get("language")
    if isinstance(page, str) and page in allowed:
        return page
    chosen = session.get("language")
    if isinstance(chosen, str) and chosen in allowed:
        return chosen
    return best_match(request.accept_languages, allowed) or "ca"
