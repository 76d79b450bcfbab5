"""The administrator's page: for now, a landing page with the other pages and the screens."""
from flask import Blueprint, render_template

from . import displays
from .auth import page_for
from .db import get_db

bp = Blueprint("admin", __name__)


@bp.get("/admin")
@page_for("admin")
def home():
    """Links to the reception and desk pages and to each display screen."""
    return render_template("admin/home.html", displays=displays.list_displays(get_db()))
