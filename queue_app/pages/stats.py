"""The statistics page (``/stats``, managers and administrators): a range's figures, charts
and tables from ``/api/v1/stats``, and the service as it is now, live over Socket.IO. Office
names are in the page's language (``naming``)."""

from datetime import timedelta

from flask import Blueprint, render_template

from queue_app.clock import local_zone, utcnow
from queue_app.pages.naming import named
from queue_app.rules import offices
from queue_app.storage.db import get_db
from queue_app.web.auth import page_for

bp = Blueprint("stats", __name__)


@bp.get("/stats")
@page_for("manager")
def page():
    today = utcnow().astimezone(local_zone()).date()
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    return render_template(
        "stats/page.html",
        offices=named(offices.list_offices(get_db())),  # names in the page's language
        presets={
            "today": (today, today),
            "week": (today - timedelta(days=today.weekday()), today),
            "last_month": (last_month_end.replace(day=1), last_month_end),
            "year": (today - timedelta(days=364), today),
        },
        today=today,
    )
