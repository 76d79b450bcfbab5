"""Torn: the reception queue and waiting-room display of a town hall."""

import os
import secrets
import warnings

from flask import Flask
from flask_babel import Babel, get_locale
from flask_socketio import SocketIO
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from queue_app import clock
from queue_app.languages import direction_of, select_locale
from queue_app.rules import retention
from queue_app.web.validation import IdConverter

socketio = SocketIO()
babel = Babel()
# Every form post needs its token; the JSON API checks it itself for browser sessions only
# (auth.require_role), so that systems with an API token need none.
csrf = CSRFProtect()


def _secret_key(app):
    """``QUEUE_SECRET_KEY``, else a random key generated once and kept in the instance folder."""
    if os.environ.get("QUEUE_SECRET_KEY"):
        return os.environ["QUEUE_SECRET_KEY"]
    path = os.path.join(app.instance_path, "secret_key")
    if not os.path.exists(path):
        os.makedirs(app.instance_path, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32))
    with open(path) as key_file:
        return key_file.read().strip()


def create_app(test_config=None):
    """The application factory; ``test_config`` overrides the environment's settings."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(
        __name__,
        instance_path=os.path.join(root, "instance"),
        template_folder=os.path.join(root, "templates"),
        static_folder=os.path.join(root, "static"),
    )
    app.config.from_mapping(
        DATABASE=os.environ.get("QUEUE_DATABASE") or os.path.join(app.instance_path, "queue.db"),
        TIMEZONE=os.environ.get("QUEUE_TIMEZONE", "Europe/Madrid"),
        ASYNC_MODE=os.environ.get("QUEUE_ASYNC_MODE", "eventlet"),
        MESSAGE_QUEUE=os.environ.get("QUEUE_MESSAGE_QUEUE") or None,
        BEHIND_PROXY=os.environ.get("QUEUE_BEHIND_PROXY", "") not in ("", "0"),
        BABEL_DEFAULT_LOCALE="ca",
        BABEL_DEFAULT_TIMEZONE="Europe/Madrid",
        MAX_CONTENT_LENGTH=64 * 1024,
        # The address printed in tickets' QR codes, when citizens' phones must reach the
        # server by another name than the one the reception desk uses (a proxy, a public name).
        PUBLIC_URL=os.environ.get("QUEUE_PUBLIC_URL") or None,
        # Desk and reception pages stay open all day: a token lives as long as the session.
        WTF_CSRF_TIME_LIMIT=None,
        # Other sites' pages cannot make the browser send the staff session (besides CSRF).
        SESSION_COOKIE_SAMESITE="Lax",
        # Rate-limit counters: per process in memory, or shared (e.g. a redis:// URL).
        RATELIMIT_STORAGE_URI=os.environ.get("QUEUE_RATELIMIT_STORAGE", "memory://"),
        # Connections one server process serves at once (run.py, eventlet; serving.py).
        MAX_CONNECTIONS=int(os.environ.get("QUEUE_MAX_CONNECTIONS") or 5000),
        # Days appointments' names and phones are kept (rules/retention.py).
        RETENTION_DAYS=int(os.environ.get("QUEUE_RETENTION_DAYS") or 30),
        # Citizen notices (contract v2): a ticket is "near" with at most this many ahead; the
        # SMS gateway's URL (unset: no messages) and its optional bearer token.
        NOTIFY_AHEAD=int(os.environ.get("QUEUE_NOTIFY_AHEAD") or 3),
        SMS_WEBHOOK=os.environ.get("QUEUE_SMS_WEBHOOK") or None,
        SMS_WEBHOOK_TOKEN=os.environ.get("QUEUE_SMS_WEBHOOK_TOKEN") or None,
        # The longest wait between two tries of a message the gateway did not accept.
        SMS_RETRY_MAX_S=int(os.environ.get("QUEUE_SMS_RETRY_MAX_S") or 300),
    )
    if test_config:
        app.config.update(test_config)
    app.json.sort_keys = False  # keep the contract's field order
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _secret_key(app)
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["TIMEZONE"]
    clock.set_timezone(app.config["TIMEZONE"])
    retention.configure(app.config["RETENTION_DAYS"])

    from display import bp as display_bp

    # The layers (docs/architecture.md); importing live.connections registers its handlers.
    from queue_app import cli
    from queue_app.live import connections, delivery, guard, sms  # noqa: F401 (connections: handlers)
    from queue_app.pages import admin, citizen, desk, reception, stats
    from queue_app.storage import db
    from queue_app.storage.migrations import migrate
    from queue_app.web import api, api_appointments, api_stats, assets, auth, health, security
    from queue_app.web.auth import login_manager

    app.url_map.converters["id"] = IdConverter  # before any route uses it
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    security.init_app(app)  # first: a refused request costs nothing more
    csrf.init_app(app)
    for json_api in (api.bp, api_appointments.bp, api_stats.bp):
        csrf.exempt(json_api)
        app.register_blueprint(json_api)
    app.teardown_appcontext(db.close_db)
    app.register_blueprint(assets.bp)
    app.register_blueprint(display_bp)
    for pages in (auth.bp, reception.bp, desk.bp, citizen.bp, admin.bp, stats.bp, health.bp):
        app.register_blueprint(pages)

    @app.context_processor
    def language():
        current = str(get_locale() or "ca")
        return {"current_language": current, "text_direction": direction_of(current)}

    api.register_error_handlers(app)
    cli.register(app)
    if app.config["ASYNC_MODE"] == "eventlet":
        # Chosen knowingly (the contract's default server; the README says why), so not
        # repeated on every command and request.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    # No message queue for Socket.IO itself: each process delivers the journal to its own
    # connections, and QUEUE_MESSAGE_QUEUE only wakes the others up (relay.py).
    socketio.init_app(
        app,
        async_mode=app.config["ASYNC_MODE"],
        max_http_buffer_size=guard.MAX_MESSAGE_BYTES,
    )
    app.extensions["torn.socket_guard"] = guard.Guard(socketio.server)
    app.wsgi_app = guard.check_socket_requests(app.wsgi_app)
    if app.config["BEHIND_PROXY"]:
        # One trusted HTTPS reverse proxy in front (docs/deploy/nginx.conf): believe its
        # X-Forwarded-* headers, and send the session cookie over HTTPS only. Wrapped
        # outside Socket.IO's middleware, so that socket handlers see the real client too.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
        app.config["SESSION_COOKIE_SECURE"] = True

    with app.app_context():
        migrate(db.get_db())
        delivery.init_app(app)
    sms.init_app(app)
    return app


def start_background(app):
    """A server process's background work: the journal relay, the socket sweeper, the desk
    pages' presence, the garbage collector's full passes and, with a gateway, the SMS
    sender."""
    from queue_app.live import collector, presence

    relay = app.extensions["torn.relay"]
    relay.start(socketio.start_background_task)
    socketio.start_background_task(collector.start, relay, socketio.sleep)
    socketio.start_background_task(app.extensions["torn.socket_guard"].run, socketio.sleep)
    socketio.start_background_task(presence.keep_fresh, app)
    if "torn.sms" in app.extensions:
        app.extensions["torn.sms"].start()
