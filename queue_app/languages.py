"""The languages Torn speaks, and which one a request gets: Catalan first."""

from flask import g, has_request_context, request, session

# Pages, display screens and their voices: Catalan first, then Spanish and English.
LANGUAGES = ("ca", "es", "en")
# Languages written right to left (their pages get dir="rtl").
RIGHT_TO_LEFT = ("ar", "ur")


def direction_of(language: str) -> str:
    """``"rtl"`` or ``"ltr"``: the ``dir`` of a page in ``language``."""
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"


def select_locale() -> str | None:
    """Catalan first: a page's own language (a display screen's), the chosen one, the
    browser's best match, else Catalan (also for commands, outside any request)."""
    if not has_request_context():
        return None
    # ``g`` and the session may hold anything: only a known code is taken from them.
    page = g.get("language")
    if isinstance(page, str) and page in LANGUAGES:
        return page
    chosen = session.get("language")
    if isinstance(chosen, str) and chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "ca"
