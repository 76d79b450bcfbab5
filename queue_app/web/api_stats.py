"""The statistics of the service under ``/api/v1``: ``/stats`` (JSON) and ``/stats.csv``,
for managers and administrators (contract v2, "Statistics")."""

import csv
import io

from flask import Blueprint, Response, jsonify, request
from flask_babel import lazy_gettext as _l

from queue_app.clock import local_zone, utcnow
from queue_app.rules import stats
from queue_app.rules.errors import InvalidInput
from queue_app.rules.schedules import parse_day
from queue_app.storage.db import get_db
from queue_app.web.auth import require_role

bp = Blueprint("api_stats", __name__, url_prefix="/api/v1")


def _query():
    """The range (``from``, ``to``: today when absent), ``office`` and ``group``."""
    today = utcnow().astimezone(local_zone()).date()
    start = parse_day(request.args["from"], "from") if request.args.get("from") else today
    end = parse_day(request.args["to"], "to") if request.args.get("to") else start
    group = request.args.get("group") or "day"
    if group not in stats.GROUPS:
        raise InvalidInput(_l("group must be one of: %(groups)s.", groups=", ".join(stats.GROUPS)))
    return get_db(), start, end, request.args.get("office") or None, group


@bp.get("/stats")
@require_role("manager")
def read_stats():
    db, start, end, office, group = _query()
    return jsonify(stats.as_contract(stats.compute(db, start, end, office, group)))


@bp.get("/stats.csv")
@require_role("manager")
def stats_csv():
    """The rows as CSV with a header row; ``sep=;`` for semicolons (a spreadsheet set to
    Catalan or Spanish reads those)."""
    db, start, end, office, group = _query()
    separator = request.args.get("sep", ",")
    if separator not in (",", ";"):
        raise InvalidInput(_l("sep must be a comma or a semicolon."))
    answer = stats.compute(db, start, end, office, group)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=separator, lineterminator="\r\n")
    writer.writerow(["key", *stats.METRICS])
    for row in answer["rows"]:
        writer.writerow(
            ["" if row[name] is None else row[name] for name in ("key", *stats.METRICS)]
        )
    name = f"torn-{answer['start']}-{answer['end']}-{group}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
