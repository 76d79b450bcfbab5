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
    """The first request of a new local day closes yesterday (no cron job needed)."""
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
        {"office", "kind", "priority", "party_size", "appointment_at", "phone", "language"}
    )
    return done(
        tickets.issue(
            get_db(),
            required_text(body, "office"),
            kind=text(body, "kind", "walk_in"),
            priority=body.get("priority", False),
            party_size=body.get("party_size", 1),
            appointment_at=instant(body, "appointment_at"),
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
    """Refusals of the queue rules, and HTTP errors under ``/api/``, answer in JSON."""
    from werkzeug.exceptions import HTTPException

    from queue_app.rules.errors import QueueError

    @app.errorhandler(QueueError)
    def queue_refusal(error):
        if not request.path.startswith("/api/"):
            return render_template("error.html", status=error.status, message=error), error.status
        return error_body(error.code, error, error.status)

    @app.errorhandler(HTTPException)
    def http_error(error):
        if error.code < 400:  # routing redirects stay redirects
            return error
        if not request.path.startswith("/api/"):
            return render_template(
                "error.html", status=error.code, message=error.description
            ), error.code
        response, status = error_body(
            HTTP_CODES.get(error.code, "http_error"), error.description, error.code
        )
        if getattr(error, "valid_methods", None):  # a 405 must say what is allowed
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response, status

    @app.errorhandler(Exception)
    def server_fault(error):
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        if request.path.startswith("/api/"):
            return error_body("internal_error", "The server failed; nothing was changed.", 500)
        return "Internal Server Error", 500
