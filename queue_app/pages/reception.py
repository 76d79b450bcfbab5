"""The reception page: issue tickets, print them, today's list, the building's occupancy.

Everything the page changes goes through ``/api/v1`` from its script; these views only
render the page and the printable ticket.
"""

from datetime import datetime

from flask import Blueprint, render_template

from queue_app.pages.citizen import citizen_url, labels, office_names, qr_svg, town_hall
from queue_app.rules import occupancy, offices, tickets
from queue_app.storage.db import get_db
from queue_app.web.auth import page_for

bp = Blueprint("reception", __name__)


@bp.get("/reception")
@page_for("reception")
def page():
    """Office buttons, issue options, the last ticket, today's tickets and the occupancy."""
    db = get_db()
    return render_template(
        "reception/page.html",
        offices=offices.list_offices(db),
        occupancy=occupancy.read(db),
        labels=labels(),
    )


@bp.get("/reception/tickets/<id:ticket_id>/print")
@page_for("reception")
def print_ticket(ticket_id):
    """The paper ticket, laid out for an 80 mm thermal printer, with its QR code."""
    db = get_db()
    ticket = tickets.find(db, ticket_id)
    url = citizen_url(ticket["token"])
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
