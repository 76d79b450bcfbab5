"""The citizen's own pages: the ticket, ``/t/<token>`` (the address in the ticket's QR
code), and the appointment, ``/a/<token>`` (in the booking confirmation's QR code), with its
calendar file and its cancel.

Public and without login: the token is the secret, and a page shows that ticket or that
appointment alone, never a name or a phone. Also the words every page uses for a ticket's
status and kind, and the QR code itself.

These pages speak every citizen language (``languages.CITIZEN_LANGUAGES``), chosen by the
browser's ``Accept-Language`` or by the page's own switch (``/t/<token>/language/<code>``,
``/a/<token>/language/<code>``, kept in the session); office and desk names, days and times
are in the page's language (``naming``).
"""

from datetime import datetime, timezone

import icalendar
import segno
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    send_from_directory,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from markupsafe import Markup

from queue_app.clock import utcnow
from queue_app.languages import (
    CITIZEN_LANGUAGES,
    NATIVE_NAMES,
    allow_citizen_languages,
    direction_of,
)
from queue_app.live.delivery import publish
from queue_app.pages import naming
from queue_app.pages.naming import desk_names, office_names
from queue_app.rules import appointments, tickets
from queue_app.storage.db import get_db
from queue_app.web.security import limiter, private, public_limit

bp = Blueprint("citizen", __name__)
# Days and times in the reader's language, for every template (the printed papers too).
for _name, _filter in naming.FILTERS.items():
    bp.add_app_template_filter(_filter, _name)
TOWN_HALL = "Ajuntament de Mollet del Vallès"

STATUS_LABELS = {
    "waiting": _l("Waiting"),
    "called": _l("Called"),
    "serving": _l("Being served"),
    "done": _l("Done"),
    "no_show": _l("Did not come"),
    "cancelled": _l("Cancelled"),
    "expired": _l("Expired"),
}
# An appointment's statuses (a "cita" is feminine in Catalan and Spanish: own contexts).
APPOINTMENT_LABELS = {
    "booked": lazy_pgettext("appointment", "Booked"),
    "checked_in": lazy_pgettext("appointment", "Checked in"),
    "cancelled": lazy_pgettext("appointment", "Cancelled"),
    "missed": lazy_pgettext("appointment", "Missed"),
}
KIND_LABELS = {"walk_in": _l("Walk-in"), "appointment": _l("Appointment"), "urgent": _l("Urgent")}


def labels():
    """Status and kind names in the page's language, for templates and page scripts."""
    return {
        "status": {key: str(value) for key, value in STATUS_LABELS.items()},
        "kind": {key: str(value) for key, value in KIND_LABELS.items()},
    }


def town_hall():
    """The town hall's name, as tickets and the citizen's page show it."""
    return current_app.config.get("TOWN_HALL_NAME", TOWN_HALL)


@bp.url_value_preprocessor
def citizen_languages(endpoint, values):
    """Every page here speaks the citizen languages, its error pages too (this runs before
    any check that could refuse the request)."""
    allow_citizen_languages()


def language_links(endpoint, token):
    """The page's own language switch: each citizen language's code, own name, direction
    and address (the staff's switch has only Catalan, Spanish and English)."""
    return [
        {
            "code": code,
            "name": NATIVE_NAMES[code],
            "dir": direction_of(code),
            "href": url_for(endpoint, token=token, code=code),
        }
        for code in CITIZEN_LANGUAGES
    ]


def _choose_language(code, page, token):
    """Keep ``code`` as the session's language (the staff switch's key, so that either
    switch wins when used last), then back to the page."""
    if code not in CITIZEN_LANGUAGES:
        abort(404)
    session["language"] = code
    return private(redirect(url_for(page, token=token), 303), secret_address=True)


def citizen_url(token, endpoint="citizen.show"):
    """The full address of a citizen's page (a ticket's by default), as its QR code carries
    it."""
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return public.rstrip("/") + url_for(endpoint, token=token)
    return url_for(endpoint, token=token, _external=True)


def qr_svg(data):
    """A QR code as inline SVG, sized by CSS (medium error correction survives a crease)."""
    return Markup(
        segno.make_qr(data, error="m").svg_inline(
            border=4, omitsize=True, svgclass="qr", lineclass=None, dark="#000", light="#fff"
        )
    )


@bp.get("/t/sw.js")
def service_worker():
    """The citizen's page's service worker (scope ``/t/``): Android's Chrome shows a page's
    notifications only through one. It caches nothing and sees no request."""
    response = send_from_directory(
        current_app.static_folder, "citizen-sw.js", mimetype="text/javascript", max_age=0
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/t/<token>")
@limiter.limit(public_limit)
def show(token):
    """One citizen's ticket: code, status, people ahead, estimated wait; live afterwards."""
    db = get_db()
    ticket = tickets.find_by_token(db, token)
    response = current_app.make_response(
        render_template(
            "ticket/page.html",
            ticket=ticket,
            offices=office_names(db),
            desks=desk_names(db),
            labels=labels(),
            town_hall=town_hall(),
            notify_ahead=current_app.config["NOTIFY_AHEAD"],
            languages=language_links("citizen.ticket_language", token),
        )
    )
    return private(response, secret_address=True)  # the address is the ticket's secret


@bp.get("/t/<token>/language/<code>")
@limiter.limit(public_limit)
def ticket_language(token, code):
    """The ticket page's language switch."""
    return _choose_language(code, "citizen.show", token)


def _appointment_page(db, appointment):
    start = datetime.fromisoformat(appointment["start"])
    return render_template(
        "ticket/appointment.html",
        appointment=appointment,
        office=office_names(db).get(appointment["office"], appointment["office"]),
        start=start,
        end=datetime.fromisoformat(appointment["end"]),
        may_cancel=appointment["status"] == "booked" and start > utcnow(),
        status_labels={key: str(value) for key, value in APPOINTMENT_LABELS.items()},
        town_hall=town_hall(),
        languages=language_links("citizen.appointment_language", appointment["token"]),
    )


@bp.get("/a/<token>")
@limiter.limit(public_limit)
def appointment(token):
    """One citizen's appointment: office, day and time, code, status; cancel while ahead."""
    db = get_db()
    shown = appointments.find_by_token(db, token)
    response = current_app.make_response(_appointment_page(db, shown))
    return private(response, secret_address=True)  # the address is the booking's secret


@bp.get("/a/<token>/language/<code>")
@limiter.limit(public_limit)
def appointment_language(token, code):
    """The appointment page's language switch."""
    return _choose_language(code, "citizen.appointment", token)


@bp.post("/a/<token>/cancel")
@limiter.limit(public_limit)
def cancel_appointment(token):
    """The citizen's cancel button (a form with its CSRF token): back to the page."""
    publish(appointments.cancel_by_token(get_db(), token))
    flash(_l("Your appointment is cancelled."))
    return redirect(url_for("citizen.appointment", token=token), 303)


@bp.get("/a/<token>/calendar.ics")
@limiter.limit(public_limit)
def appointment_calendar(token):
    """The appointment as an iCalendar event, to add it to the phone's calendar."""
    db = get_db()
    shown = appointments.find_by_token(db, token)
    office = office_names(db).get(shown["office"], shown["office"])
    event = icalendar.Event()
    event.add("uid", f"{shown['code']}@{current_app.config.get('SERVER_NAME') or 'torn'}")
    event.add("dtstamp", utcnow())
    # In UTC: a calendar reads it right wherever the phone is, with no zone to name.
    event.add("dtstart", datetime.fromisoformat(shown["start"]).astimezone(timezone.utc))
    event.add("dtend", datetime.fromisoformat(shown["end"]).astimezone(timezone.utc))
    event.add("summary", str(_l("Appointment at %(office)s", office=office)))
    event.add("location", town_hall())
    event.add("description", f"{shown['code']} · {citizen_url(token, 'citizen.appointment')}")
    event.add("status", "CANCELLED" if shown["status"] == "cancelled" else "CONFIRMED")
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Torn//Cita previa//CA")
    calendar.add("version", "2.0")
    calendar.add_component(event)
    response = current_app.make_response(calendar.to_ical())
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="cita-{shown["code"]}.ics"'
    return private(response, secret_address=True)
