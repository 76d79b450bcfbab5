"""The JSON API of appointments (cita prèvia) and offices' schedules, under ``/api/v1``.

The contract's section "Appointments (cita prèvia), v2". Staff routes need their role; the
citizen's routes (``GET /appointments/<token>``, its cancel) need only the token, which is
the secret, and are rate limited like the ticket's.
"""

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l

from queue_app.rules import appointments, imports, schedules
from queue_app.rules.errors import InvalidInput
from queue_app.storage.db import get_db
from queue_app.web.api import done
from queue_app.web.auth import current_actor, require_role
from queue_app.web.security import limiter, public_limit
from queue_app.web.validation import MAX_TEXT, json_object, required_text

bp = Blueprint("api_appointments", __name__, url_prefix="/api/v1")

# Who sees the day's bookings: the people who book, receive and serve them.
STAFF = ("reception", "clerk", "manager")


@bp.get("/offices/<code>/schedule")
@require_role()
def read_schedule(code):
    return jsonify(schedules.get(get_db(), code))


@bp.put("/offices/<code>/schedule")
@require_role("admin")
def write_schedule(code):
    body = json_object(schedules.Schedule.__annotations__)
    return done(schedules.put(get_db(), code, body, actor=current_actor()))


def _day_argument():
    """``?date=YYYY-MM-DD`` (None when absent: today)."""
    given = request.args.get("date")
    return None if not given else schedules.parse_day(given)


@bp.get("/offices/<code>/slots")
@require_role(*STAFF)
def list_slots(code):
    return jsonify(schedules.slots(get_db(), code, _day_argument()))


@bp.post("/appointments")
@require_role("reception")
def book():
    body = json_object({"office", "start", "name", "phone", "party_size", "source"})
    return done(
        appointments.book(
            get_db(),
            required_text(body, "office"),
            body.get("start"),
            body.get("name"),
            phone=body.get("phone"),
            party_size=body.get("party_size", 1),
            source=body.get("source", "counter"),
            actor=current_actor(),
        ),
        201,
    )


@bp.get("/appointments")
@require_role(*STAFF)
def list_appointments():
    q = request.args.get("q") or None
    if q is not None and len(q) > MAX_TEXT:
        raise InvalidInput(_l("q must be at most %(n)s characters.", n=MAX_TEXT))
    return jsonify(
        appointments.list_day(
            get_db(),
            _day_argument(),
            office=request.args.get("office") or None,
            status=request.args.get("status") or None,
            q=q,
        )
    )


@bp.get("/appointments/<token>")
@limiter.limit(public_limit)
def public_appointment(token):
    return jsonify(appointments.find_by_token(get_db(), token))


@bp.post("/appointments/<id:appointment_id>/check-in")
@require_role("reception")
def check_in(appointment_id):
    body = json_object({"force"})
    return done(
        appointments.check_in(
            get_db(), appointment_id, body.get("force", False), actor=current_actor()
        ),
        201,
    )


@bp.post("/appointments/<id:appointment_id>/cancel")
@require_role("reception")
def cancel(appointment_id):
    json_object(())
    return done(appointments.cancel(get_db(), appointment_id, actor=current_actor()))


@bp.post("/appointments/<token>/cancel")
@limiter.limit(public_limit)
def cancel_by_token(token):
    """The citizen's cancel: the token (never all digits) is the secret."""
    json_object(())
    return done(appointments.cancel_by_token(get_db(), token))


@bp.post("/appointments/import")
@require_role("admin")
def import_appointments():
    # A booking service's export is larger than any JSON body: its own limit.
    request.max_content_length = imports.MAX_BYTES
    office = request.args.get("office") or None
    dry_run = request.args.get("dry_run", "false").lower()
    if dry_run not in ("true", "false", "1", "0"):
        raise InvalidInput(_l("dry_run must be true or false."))
    data = request.get_data(cache=False)
    if request.content_length is None and data:
        request.stream.read(1)  # a chunked body past the limit: 413, not a cut file
    if not data:
        raise InvalidInput(_l("Send the file as the request's body."))
    return done(
        imports.import_file(
            get_db(),
            data,
            request.content_type or "",
            office=office,
            dry_run=dry_run in ("true", "1"),
            actor=current_actor(),
        )
    )
