"""The clerk's desk page: pick the desk, then call, serve and close tickets at it.

The chosen desk is kept in the session; choosing it is a form post (with its CSRF token), so
a link from elsewhere cannot move a clerk to another desk. ``?choose=1`` shows the choice
again. A clerk limited to some desks sees only those, and one limited to a single desk
goes straight to it. Every action goes through ``/api/v1`` from the page's script.

Office and desk names are in the page's language (``naming``), but for the desk's own
``name`` on its page: its script tells the desk's tickets by it, and a ticket names its desk
in Catalan (``desk_label`` is the name to show).
"""

from flask import (
    Blueprint,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from queue_app.clock import local_zone, utcnow
from queue_app.pages.citizen import APPOINTMENT_LABELS, labels
from queue_app.pages.naming import name_of, named
from queue_app.rules import desks, offices
from queue_app.storage.db import get_db
from queue_app.web.auth import page_for

bp = Blueprint("desk", __name__)


def _usable_desks(db):
    """The desks the current user may work at, in their order."""
    allowed = current_user.desks
    return [desk for desk in desks.list_desks(db) if allowed is None or desk["id"] in allowed]


@bp.get("/desk")
@page_for("clerk")
def page():
    """The chosen desk's page, or the list of desks to choose from."""
    db = get_db()
    usable = _usable_desks(db)
    desk = next((d for d in usable if d["id"] == session.get("desk")), None)
    if desk is None and len(usable) == 1:
        desk = usable[0]
    every_office = named(offices.list_offices(db))
    names = {office["code"]: office["name"] for office in every_office}
    if desk is None or (request.args.get("choose") and len(usable) > 1):
        return render_template(
            "desk/choose.html", desks=named(usable), chosen=desk, office_names=names
        )
    return render_template(
        "desk/page.html",
        desk=desk,
        desk_label=name_of(desk),
        offices=every_office,
        labels=labels(),
        office_names=names,
        today=utcnow().astimezone(local_zone()).date().isoformat(),
        appointment_labels={key: str(value) for key, value in APPOINTMENT_LABELS.items()},
    )


@bp.post("/desk")
@page_for("clerk")
def choose():
    """Sit at a desk (a form post): kept in the session, then its page."""
    picked = request.form.get("desk", type=int)
    if picked is None:
        abort(400, _("Choose a desk from the list."))
    if not any(d["id"] == picked for d in _usable_desks(get_db())):
        abort(make_response(render_template("auth/forbidden.html"), 403))
    session["desk"] = picked
    return redirect(url_for("desk.page"))
