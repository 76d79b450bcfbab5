"""The languages Torn speaks, and which one a request gets: Catalan first."""

from flask import g, has_request_context, request, session

# Pages, display screens and their voices: Catalan first, then Spanish and English.
LANGUAGES = ("ca", "es", "en")


def select_locale():
    """Catalan first: a page's own language (a display screen's), the chosen one, the
    browser's best match, else Catalan (also for commands, outside any request)."""
    if not has_request_context():
        return None
    if g.get("language") in LANGUAGES:
        return g.language
    chosen = session.get("language")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "ca"
