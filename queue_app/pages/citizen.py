"""The citizen's own ticket page, ``/t/<token>`` (the address in the ticket's QR code).

Public and without login: the token is the secret, and the page shows that ticket alone.
Also the words every page uses for a ticket's status and kind, and the QR code itself.
"""

import segno
from flask import Blueprint, current_app, render_template, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from queue_app.rules import offices, tickets
from queue_app.storage.db import get_db
from queue_app.web.security import limiter, private, public_limit

bp = Blueprint("ticket_page", __name__)
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


def office_names(db):
    """``{code: name}`` of every office."""
    return {office["code"]: office["name"] for office in offices.list_offices(db)}


def citizen_url(token):
    """The full address of a ticket's page, as its QR code carries it."""
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return public.rstrip("/") + url_for("ticket_page.show", token=token)
    return url_for("ticket_page.show", token=token, _external=True)


def qr_svg(data):
    """A QR code as inline SVG, sized by CSS (medium error correction survives a crease)."""
    return Markup(
        segno.make_qr(data, error="m").svg_inline(
            border=4, omitsize=True, svgclass="qr", lineclass=None, dark="#000", light="#fff"
        )
    )


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
            labels=labels(),
            town_hall=town_hall(),
        )
    )
    return private(response, secret_address=True)  # the address is the ticket's secret
