"""Security applied to every response, and the rate limits of the public entry points."""

import math
import time

from flask import current_app
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address

# Scripts and styles only from our own files (no inline code, no other origin); frames
# only of our own pages (the reception page previews its ticket print in one); no plugins.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

# Behind a proxy the client's address comes from ProxyFix (QUEUE_BEHIND_PROXY=1).
limiter = Limiter(key_func=get_remote_address)


def login_limit():
    """Attempts at logging in per client address (config ``RATELIMIT_LOGIN``)."""
    return current_app.config["RATELIMIT_LOGIN"]


def public_limit():
    """Requests per client address to the public ticket and display state (``RATELIMIT_PUBLIC``)."""
    return current_app.config["RATELIMIT_PUBLIC"]


def seconds_to_wait(breach: RateLimitExceeded) -> int:
    """Whole seconds (at least 1) until the limit this request broke lets its client in
    again, for the 429's Retry-After and its page: the limiter's own reset time, from its
    counters (in memory, or wherever ``QUEUE_RATELIMIT_STORAGE`` keeps them); the limit's
    whole window when those cannot be read (the storage is away)."""
    try:
        broken = limiter.current_limit
        if broken is not None:
            return max(1, math.ceil(broken.reset_at - time.time()))
    except Exception:  # the storage's own errors, whatever its kind
        current_app.logger.warning("Rate-limit counters unreadable: waiting a whole window")
    return max(1, breach.limit.limit.get_expiry())


def private(response, secret_address=False):
    """Keep a response out of every cache (it holds what only its reader may see); with
    ``secret_address``, out of indexes and referrers too: the page's address is its secret
    (a ticket's token, a screen's key)."""
    response.headers["Cache-Control"] = "no-store"
    if secret_address:
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Robots-Tag"] = "noindex"
    return response


def add_headers(response):
    """Every response gets the security headers (a view may set its own stricter ones)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def init_app(app):
    """Wire the headers and the limiter into ``app``."""
    app.config.setdefault("RATELIMIT_LOGIN", "10 per minute")
    app.config.setdefault("RATELIMIT_PUBLIC", "60 per minute")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    # Only routes decorated with a limit are limited (no default, application or blueprint
    # limits), and each of them checks its limit itself as it runs: the limiter's check before
    # every request found nothing to do, for some 0.1-0.2 ms of CPU a request (issue 15).
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    app.after_request(add_headers)
