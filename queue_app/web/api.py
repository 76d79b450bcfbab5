"""The public JSON API, ``/api/v1``: read the input, call the queue rules, answer."""

from flask import Blueprint, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from queue_app.live.delivery import publish
from queue_app.rules import desks, displays, door, occupancy, offices, tickets
from queue_app.rules.day import ensure_today
from queue_app.rules.errors import InvalidInput
from queue_app.storage.db import get_db
from queue_app.web.auth import check_desk, check_ticket, current_actor, require_role
from queue_app.web.security import limiter, public_limit
from queue_app.web.validation import instant, json_object, required_text, text

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def done(outcome, status=200):
    """Publish what an outcome changed, then answer with its value."""
    return jsonify(publish(outcome)), status


@bp.before_request
def roll_day_over():
    """The first request of a new local day closes yesterday (no cron job needed).

    A change of the queue rules rolls the day over inside its own transaction
    (``day.change``), so only reads check here."""
    if request.method in ("GET", "HEAD"):
        publish(ensure_today(get_db()))


@bp.get("/offices")
@require_role()
def list_offices():
    return jsonify(offices.list_offices(get_db()))


@bp.patch("/offices/<code>")
@require_role("admin")
def update_office(code):
    body = json_object(offices.SETTINGS)
    return done(offices.update(get_db(), code, body, actor=current_actor()))


@bp.get("/desks")
@require_role()
def list_desks():
    # A display sees a desk's current ticket as a screen does: no token, nothing personal.
    return jsonify(desks.list_desks(get_db(), display_safe=current_user.role == "display"))


@bp.post("/tickets")
@require_role("reception")
def issue_ticket():
    body = json_object(
        {
            "office",
            "kind",
            "priority",
            "party_size",
            "appointment_at",
            "outside",
            "phone",
            "language",
        }
    )
    return done(
        tickets.issue(
            get_db(),
            required_text(body, "office"),
            kind=text(body, "kind", "walk_in"),
            priority=body.get("priority", False),
            party_size=body.get("party_size", 1),
            appointment_at=instant(body, "appointment_at"),
            outside=body.get("outside", False),
            phone=body.get("phone"),
            language=body.get("language"),
            actor=current_actor(),
        ),
        201,
    )


@bp.get("/tickets")
@require_role("reception", "clerk", "manager")
def list_tickets():
    return jsonify(
        tickets.list_today(
            get_db(),
            office=request.args.get("office") or None,
            status=request.args.get("status") or None,
        )
    )


@bp.get("/tickets/<token>")
@limiter.limit(public_limit)
def public_ticket(token):
    return jsonify(tickets.find_by_token(get_db(), token))


@bp.get("/desks/<id:desk_id>/queue")
@require_role("clerk", "reception", "manager")
def desk_queue(desk_id):
    return jsonify(tickets.desk_queue(get_db(), desk_id))


@bp.post("/desks/<id:desk_id>/call-next")
@require_role("clerk")
def call_next(desk_id):
    check_desk(desk_id)
    json_object(())
    outcome = tickets.call_next(get_db(), desk_id, actor=current_actor())
    if outcome.value is None:
        publish(outcome)
        return "", 204
    return done(outcome)


@bp.post("/desks/<id:desk_id>/call")
@require_role("clerk")
def call_ticket(desk_id):
    """Call one waiting ticket out of the calling order (contract v2)."""
    check_desk(desk_id)
    body = json_object({"ticket"})
    if "ticket" not in body:
        raise InvalidInput(_l("ticket is required: the id of a waiting ticket."))
    return done(tickets.call(get_db(), desk_id, body["ticket"], actor=current_actor()))


@bp.patch("/desks/<id:desk_id>")
@require_role("admin")
def update_desk(desk_id):
    body = json_object({"name", "names", "offices"})
    return done(desks.update(get_db(), desk_id, body, actor=current_actor()))


@bp.post("/desks/<id:desk_id>/<any(pause, resume):action>")
@require_role("clerk")
def pause_or_resume(desk_id, action):
    check_desk(desk_id)
    body = json_object({"reason"})
    change = desks.pause if action == "pause" else desks.resume
    return done(change(get_db(), desk_id, text(body, "reason"), actor=current_actor()))


TICKET_ACTIONS = {
    "recall": tickets.recall,
    "start": tickets.start,
    "finish": tickets.finish,
    "no-show": tickets.no_show,
}


@bp.post("/tickets/<id:ticket_id>/<any(recall, start, finish, 'no-show'):action>")
@require_role("clerk")
def ticket_action(ticket_id, action):
    check_ticket(ticket_id)
    json_object(())
    return done(TICKET_ACTIONS[action](get_db(), ticket_id, actor=current_actor()))


@bp.post("/tickets/<id:ticket_id>/transfer")
@require_role("clerk")
def transfer_ticket(ticket_id):
    check_ticket(ticket_id)
    body = json_object({"office"})
    return done(
        tickets.transfer(get_db(), ticket_id, required_text(body, "office"), actor=current_actor())
    )


@bp.post("/tickets/<id:ticket_id>/cancel")
@require_role("reception", "clerk")
def cancel_ticket(ticket_id):
    check_ticket(ticket_id)
    json_object(())
    return done(tickets.cancel(get_db(), ticket_id, actor=current_actor()))


@bp.get("/occupancy")
@require_role()
def read_occupancy():
    return jsonify(occupancy.read(get_db()))


@bp.post("/occupancy/<any(entries, exits):direction>")
@require_role("reception")
def count_people(direction):
    body = json_object({"count"})
    change = door.enter if direction == "entries" else door.leave
    return done(change(get_db(), body.get("count", 1), actor=current_actor()))


@bp.put("/occupancy")
@require_role("admin")
def set_occupancy():
    body = json_object({"inside", "limit"})
    return done(
        door.set_counts(
            get_db(), inside=body.get("inside"), limit=body.get("limit"), actor=current_actor()
        )
    )


@bp.get("/displays/<key>/state")
@limiter.limit(public_limit)
def display_state(key):
    db = get_db()
    return jsonify(displays.snapshot(db, displays.find_by_key(db, key)))


HTTP_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    429: "too_many_requests",
}


def error_body(code, message, status):
    """The contract's error body: ``{"error": {"code", "message"}}``."""
    return jsonify({"error": {"code": code, "message": str(message)}}), status


def register_error_handlers(app):
    """Refusals of the queue rules and HTTP errors: JSON under ``/api/``, elsewhere a page in
    the reader's language (templates/error.html) saying what happened and what to do next."""
    from urllib.parse import urlsplit

    from flask import url_for
    from flask_babel import get_locale, ngettext
    from flask_babel import gettext as _
    from flask_limiter import RateLimitExceeded
    from flask_wtf.csrf import CSRFError
    from markupsafe import escape
    from werkzeug.exceptions import HTTPException

    from queue_app.languages import direction_of
    from queue_app.rules import errors
    from queue_app.web.security import private, seconds_to_wait

    # Refusals whose default message says no more than the page's own title does.
    generic = (
        errors.QueueError,
        errors.InvalidInput,
        errors.Unauthorized,
        errors.Forbidden,
        errors.NotFound,
    )

    def wait_text(seconds):
        """ "Try again in 45 seconds." / "in a minute." / "in 5 minutes." """
        if seconds < 60:
            return ngettext(
                "Try again in %(num)s second.", "Try again in %(num)s seconds.", seconds
            )
        minutes = max(1, round(seconds / 60))
        if minutes == 1:
            return _("Try again in a minute.")
        return ngettext("Try again in %(num)s minute.", "Try again in %(num)s minutes.", minutes)

    def answers_get(path):
        """Whether ``path`` is a page one can open (a GET route), to offer a link to it."""
        try:
            app.create_url_adapter(request).match(path, method="GET")
        except HTTPException:  # no such page, another method only, or a redirect
            return False
        return True

    def came_from():
        """The page of this site the reader came from (its path and query), if the browser
        said so and it is not this very page."""
        parts = urlsplit(request.referrer or "")
        if parts.scheme not in ("http", "https") or parts.netloc != request.host:
            return None
        back = parts.path + (f"?{parts.query}" if parts.query else "")
        here = request.full_path.rstrip("?")
        if not back.startswith("/") or back.startswith("//") or "\\" in back:
            return None
        if request.method == "GET" and back == here:
            return None
        return back

    def page_above():
        """The nearest page above this address (a form post's own page: ``/a/<token>`` for
        ``/a/<token>/cancel``), for when the browser did not say where it came from."""
        path = request.path.rstrip("/")
        while path.count("/") > 1:
            path = path.rsplit("/", 1)[0]
            if answers_get(path):
                return request.script_root + path
        return None

    def page(status, message=None, wait_seconds=None):
        """The error page for ``status``: the same page's address to try again (429, 5xx),
        where the reader came from, the login (401); never cached (it is in the reader's
        language and may sit at a secret address: a ticket's, an appointment's, a screen's)."""
        here = request.full_path.rstrip("?")
        retry = None
        if (status == 429 or status >= 500) and answers_get(request.path):
            retry = request.script_root + here
        back = came_from() or (page_above() if request.method != "GET" else None)
        response = app.make_response(
            (
                render_template(
                    "error.html",
                    status=status,
                    message=message,
                    wait=wait_text(wait_seconds) if wait_seconds else None,
                    citizen=request.path.startswith(("/t/", "/a/")),
                    attempt=request.endpoint == "auth.login",
                    retry=retry,
                    back=back if back not in (retry, "/") else None,
                    login=url_for("auth.login", next=here)
                    if status == 401 and request.method == "GET"
                    else None,
                ),
                status,
            )
        )
        secret = request.path.startswith(("/t/", "/a/", "/display/"))
        return private(response, secret_address=secret)

    @app.errorhandler(errors.QueueError)
    def queue_refusal(error):
        if not request.path.startswith("/api/"):
            said = not (type(error) in generic and error.message is type(error).default_message)
            return page(error.status, error if said else None)
        return error_body(error.code, error, error.status)

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code < 400:  # routing redirects stay redirects
            return error
        wait = seconds_to_wait(error) if isinstance(error, RateLimitExceeded) else None
        if not request.path.startswith("/api/"):
            if isinstance(error, CSRFError):  # Flask-WTF's reason is English, for developers
                message = _(
                    "The form had expired or did not come from this site. Go back, reload the "
                    "page and send it again."
                )
            elif "description" in vars(error) and wait is None:  # what our code said
                message = error.description
            else:  # Werkzeug's own words (English) or the limit's: the page says its own
                message = None
            response = page(error.code, message, wait)
        else:
            response, _status = error_body(
                HTTP_CODES.get(error.code, "http_error"), error.description, error.code
            )
        if getattr(error, "valid_methods", None):  # a 405 must say what is allowed
            response.headers["Allow"] = ", ".join(error.valid_methods)
        if wait is not None:
            response.headers["Retry-After"] = str(wait)
        return response, error.code

    @app.errorhandler(Exception)
    def server_fault(error):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return error_body("internal_error", "The server failed; nothing was changed.", 500)
        try:
            return page(500)
        except Exception:  # the page itself failed (a template, the database): a bare one
            app.logger.exception("The error page failed too on %s", request.path)
            headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
            return bare_fault_page(), 500, headers

    def bare_fault_page():
        """The 500 page without a template, in the reader's language when Babel still works."""
        try:
            language = str(get_locale() or "ca")
            words = (
                _("Something went wrong"),
                _(
                    "The server could not complete this request. Try again in a moment; if it "
                    "keeps happening, tell the town hall's staff."
                ),
                _("Go to the start page"),
            )
        except Exception:  # Babel failed too: the catalog's Catalan, written out here
            language = "ca"
            words = (
                "Alguna cosa ha fallat",
                "El servidor no ha pogut completar aquesta petició. Torneu-ho a provar d'aquí a"
                " un moment; si continua passant, digueu-ho al personal de l'ajuntament.",
                "Vés a la pàgina d'inici",
            )
        title, text, home = (escape(word) for word in words)
        styles = "".join(
            f'<link rel="stylesheet" href="{request.script_root}/static/{name}">'
            for name in ("torn.css", "pages.css", "errors.css")
        )
        return (
            f'<!doctype html><html lang="{escape(language)}" dir="{direction_of(language)}">'
            '<head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title} · Torn</title>{styles}</head>"
            f'<body class="error-body"><main class="error-page server-fault"><h1>{title}</h1>'
            f'<p class="error-advice">{text}</p><p class="error-links">'
            f'<a class="button primary" href="{request.script_root}/">{home}</a></p>'
            "</main></body></html>"
        )
