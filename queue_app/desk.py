"""The clerk's desk page: pick the desk, then call, serve and close tickets at it.

The chosen desk is kept in the session (``?desk=ID`` picks it, ``?choose=1`` shows the
choice again); every action goes through ``/api/v1`` from the page's script.
"""
from flask import Blueprint, redirect, render_template, request, session, url_for

from . import desks, offices
from .auth import page_for
from .db import get_db
from .ticket_page import labels

bp = Blueprint("desk", __name__)


@bp.get("/desk")
@page_for("clerk")
def page():
    """The chosen desk's page, or the list of desks to choose from."""
    db = get_db()
    every_desk = desks.list_desks(db)
    picked = request.args.get("desk", type=int)
    if picked is not None and any(desk["id"] == picked for desk in every_desk):
        session["desk"] = picked
        return redirect(url_for("desk.page"))
    desk = next((d for d in every_desk if d["id"] == session.get("desk")), None)
    every_office = offices.list_offices(db)
    names = {office["code"]: office["name"] for office in every_office}
    if desk is None or request.args.get("choose"):
        return render_template("desk/choose.html", desks=every_desk, chosen=desk,
                               office_names=names)
    return render_template("desk/page.html", desk=desk, offices=every_office,
                           labels=labels(), office_names=names)
