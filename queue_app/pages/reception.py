"""The reception pages: tickets (issue, print, today's list, the building's occupancy),
appointments (the day's bookings, check-in, booking a free slot, the printed confirmation)
and the door (the doorman's tablet: people in and out, the queue outside, the codes let in).

Everything the pages change goes through ``/api/v1`` from their scripts; these views only
render the pages and the printable ticket and confirmation. Office names are in the page's
language (``naming``). A paper is printed in the reception's language, or with ``?lang=CODE``
in any citizen language (``CITIZEN_LANGUAGES``: ca, es, en, fr, ar, ro, ur, zh), for a
citizen who reads another; any other ``lang`` is ignored.
"""

from contextlib import nullcontext
from datetime import datetime

from flask import Blueprint, current_app, render_template, request
from flask_babel import force_locale

from queue_app.clock import local_zone, utcnow
from queue_app.languages import CITIZEN_LANGUAGES, NATIVE_NAMES
from queue_app.pages.citizen import (
    APPOINTMENT_LABELS,
    citizen_url,
    labels,
    qr_svg,
    town_hall,
)
from queue_app.pages.naming import named, office_names
from queue_app.rules import appointments, occupancy, offices, tickets
from queue_app.storage.db import get_db
from queue_app.web.auth import page_for

bp = Blueprint("reception", __name__)


def paper_language():
    """The printed paper's language: the print address's ``lang`` when it names a citizen
    language, else the page's (in a context manager: ``with paper_language(): ...``)."""
    wanted = request.args.get("lang")
    return force_locale(wanted) if wanted in CITIZEN_LANGUAGES else nullcontext()


@bp.get("/reception")
@page_for("reception")
def page():
    """Office buttons, issue options, the last ticket, today's tickets and the occupancy."""
    db = get_db()
    return render_template(
        "reception/page.html",
        offices=named(offices.list_offices(db)),
        occupancy=occupancy.read(db),
        labels=labels(),
        sms=bool(current_app.config["SMS_WEBHOOK"]),
        sms_languages=NATIVE_NAMES,  # the messages speak every language the ticket's page does
    )


@bp.get("/door")
@page_for("reception")
def door():
    """The door: +1 entry and -1 exit, the count against the limit, the queue outside and the
    codes just let in (the page fills the queue and follows it live from its script)."""
    return render_template("reception/door.html", occupancy=occupancy.read(get_db()))


@bp.get("/reception/tickets/<id:ticket_id>/print")
@page_for("reception")
def print_ticket(ticket_id):
    """The paper ticket, laid out for an 80 mm thermal printer, with its QR code."""
    db = get_db()
    ticket = tickets.find(db, ticket_id)
    url = citizen_url(ticket["token"])
    with paper_language():
        return render_template(
            "reception/ticket_print.html",
            ticket=ticket,
            office=office_names(db)[ticket["office"]],
            issued_at=datetime.fromisoformat(ticket["issued_at"]),
            citizen_url=url,
            qr=qr_svg(url),
            labels=labels(),
            town_hall=town_hall(),
        )


@bp.get("/reception/appointments")
@page_for("reception")
def appointments_page():
    """Today's appointments (search, check-in, cancel) and booking a free slot."""
    db = get_db()
    return render_template(
        "reception/appointments.html",
        offices=named(offices.list_offices(db)),
        today=utcnow().astimezone(local_zone()).date().isoformat(),
        labels=labels(),
        appointment_labels={key: str(value) for key, value in APPOINTMENT_LABELS.items()},
    )


@bp.get("/reception/appointments/<id:appointment_id>/print")
@page_for("reception")
def print_appointment(appointment_id):
    """The booking's confirmation on the 80 mm printer, with the QR code of its page."""
    db = get_db()
    appointment = appointments.find(db, appointment_id)
    url = citizen_url(appointment["token"], "citizen.appointment")
    with paper_language():
        return render_template(
            "reception/appointment_print.html",
            appointment=appointment,
            office=office_names(db)[appointment["office"]],
            start=datetime.fromisoformat(appointment["start"]),
            qr=qr_svg(url),
            town_hall=town_hall(),
        )
