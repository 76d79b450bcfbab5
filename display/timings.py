"""How long the TV's steps take, in milliseconds: the production values, and the one place
that can change them (tests set them short, so that they do not wait out real chimes).

``DISPLAY_TIMINGS`` in the app's config (``create_app(test_config)``), else the JSON object
in ``QUEUE_DISPLAY_TIMINGS`` (how a test hands them to a ``run.py`` it starts), overrides
some of them; the page gets them all in its config. A misspelt name or a value that is not
a whole number of milliseconds stops the server at start-up, not a TV at the first call.
"""

import json
import os

DEFAULTS = {
    # The chime's three notes ring about 1.2 s; the voice starts after this.
    "chimeMs": 1300,
    # Silence after an announcement before the next one starts.
    "gapMs": 700,
    # A voice engine that never says "end": the announcement ends after this, plus
    # speechMsPerChar for each character said.
    "speechTimeoutMs": 4000,
    "speechMsPerChar": 150,
    # How long the browser gets to start the audio by itself before the screen asks for a
    # touch.
    "autoplayCheckMs": 1000,
    # Calls missed while the screen was away for at most this long are announced when it
    # comes back; older ones are only shown (stale news).
    "catchUpMs": 60_000,
    # Socket.IO's reconnection: the first delay, growing up to the second (plus jitter).
    "reconnectMs": 1000,
    "reconnectMaxMs": 5000,
    # After the server closed the connection itself, or refused it for another reason than
    # the key (Socket.IO does not retry those), try again after this long.
    "retryMs": 15_000,
}


def resolve(overrides):
    """``DEFAULTS`` with ``overrides`` (a mapping of some of its names) applied;
    ValueError for an unknown name or a value that is not a whole number >= 0."""
    if not isinstance(overrides, dict):
        raise ValueError(f"DISPLAY_TIMINGS must be an object of milliseconds, not {overrides!r}")
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise ValueError(
            f"DISPLAY_TIMINGS: unknown {', '.join(unknown)}; known: {', '.join(DEFAULTS)}"
        )
    for name, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"DISPLAY_TIMINGS: {name} must be whole milliseconds >= 0: {value!r}")
    return {**DEFAULTS, **overrides}


def init_app(app):
    """Settle ``DISPLAY_TIMINGS`` in ``app.config`` once, at start-up."""
    overrides = app.config.get("DISPLAY_TIMINGS")
    if overrides is None:
        overrides = json.loads(os.environ.get("QUEUE_DISPLAY_TIMINGS") or "{}")
    app.config["DISPLAY_TIMINGS"] = resolve(overrides)
