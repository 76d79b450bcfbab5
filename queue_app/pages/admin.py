"""The administrator's page, ``/admin``: users, desks' offices, display screens, the building's
limit, API tokens, offices' appointment schedules and the import of appointments. Plain forms
(each with its CSRF token) that post, then come back to the page with a message; every change
goes through a domain function that journals its actor."""

import re

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from queue_app import csrf
from queue_app.languages import LANGUAGES
from queue_app.live.delivery import publish
from queue_app.rules import accounts, desks, displays, door, imports, occupancy, offices, schedules
from queue_app.rules.checks import NAMED_IN
from queue_app.rules.errors import InvalidInput, QueueError
from queue_app.storage.db import get_db
from queue_app.web.auth import page_for
from queue_app.web.security import private

bp = Blueprint("admin", __name__, url_prefix="/admin")
MAX_FIELD = 256
# Closed days: one YYYY-MM-DD (10 characters) and a separator per day, at most MAX_CLOSED.
MAX_CLOSED_TEXT = schedules.MAX_CLOSED * 12
# An import's form: the file (at most imports.MAX_BYTES) and room for the other fields.
IMPORT_FORM_SLACK = 64 * 1024
WEEKDAY_NAMES = {
    "mon": _l("Monday"),
    "tue": _l("Tuesday"),
    "wed": _l("Wednesday"),
    "thu": _l("Thursday"),
    "fri": _l("Friday"),
    "sat": _l("Saturday"),
    "sun": _l("Sunday"),
}
# A schedule's numbers: their labels on the form and the bounds the schedule keeps.
SCHEDULE_NUMBERS = {
    "slot_minutes": (_l("Minutes per slot"), schedules.SLOT_MINUTES),
    "per_slot": (_l("Places per slot"), schedules.PER_SLOT),
    "early_minutes": (_l("Check-in early (minutes)"), schedules.WINDOW_MINUTES),
    "late_minutes": (_l("Check-in late (minutes)"), schedules.WINDOW_MINUTES),
}
# One time range of a weekday's hours, "09:00-14:00" (a single-digit hour is fine).
TIME_RANGE = re.compile(r"([0-9]{1,2}):([0-9]{2})\s*[-\u2013]\s*([0-9]{1,2}):([0-9]{2})")


def _field(name, limit=MAX_FIELD):
    """A form field's text, stripped ('' when absent); refused when longer than ``limit``."""
    value = request.form.get(name, "")
    if len(value) > limit:
        raise InvalidInput(_("A field is too long."))
    return value.strip()


def _digits(value):
    """Whether ``value`` is written with the digits 0-9 only (``isdigit`` alone takes '²')."""
    return value.isascii() and value.isdigit()


def _number(name):
    """A form field as a whole number, or None when left empty."""
    value = _field(name)
    if not value:
        return None
    if not _digits(value) or len(value) > 9:
        raise InvalidInput(_("Write a whole number."))
    return int(value)


def _passwords():
    """The new password, typed twice the same."""
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        raise InvalidInput(_("The two passwords are not the same."))
    return password


def _apply(section, change, done_message):
    """Run one change; publish what it journaled; back to the page's section with a message.

    A refusal writes nothing (the domain's transaction) and its reason is shown instead, in
    that section (the flash category is ``level:section``).
    """
    try:
        outcome = change()
    except QueueError as error:
        flash(str(error), f"error:{section}")
    else:
        publish(outcome)
        flash(done_message, f"info:{section}")
    return redirect(url_for("admin.home", _anchor=section))


@bp.get("")
@page_for("admin")
def home():
    """Every section of the administration, each with its forms."""
    db = get_db()
    listed = offices.list_offices(db)
    return render_template(
        "admin/home.html",
        users=accounts.list_users(db),
        roles=accounts.ROLES,
        desks=desks.list_desks(db),
        offices=listed,
        displays=displays.list_displays(db),
        languages=LANGUAGES,
        occupancy=occupancy.read(db),
        tokens=accounts.list_tokens(db),
        schedules={office["code"]: schedules.get(db, office["code"]) for office in listed},
        weekdays=WEEKDAY_NAMES,
        numbers=SCHEDULE_NUMBERS,
        max_mib=imports.MAX_BYTES // 1024 // 1024,
    )


@bp.post("/users")
@page_for("admin")
def create_user():
    return _apply(
        "users",
        lambda: accounts.create_user(
            get_db(), _field("username"), _passwords(), _field("role"), actor=current_user.actor
        ),
        _("The user was created."),
    )


@bp.post("/users/role")
@page_for("admin")
def set_role():
    return _apply(
        "users",
        lambda: accounts.set_role(
            get_db(), _field("username"), _field("role"), actor=current_user.actor
        ),
        _("The role was changed."),
    )


@bp.post("/users/password")
@page_for("admin")
def set_password():
    return _apply(
        "users",
        lambda: accounts.set_password(
            get_db(), _field("username"), _passwords(), actor=current_user.actor
        ),
        _("The password was changed."),
    )


@bp.post("/users/desks")
@page_for("admin")
def set_user_desks():
    """Limit a clerk to the desks ticked (none ticked: every desk)."""
    return _apply(
        "users",
        lambda: accounts.set_desks(
            get_db(), _field("username"), _ids("desks"), actor=current_user.actor
        ),
        _("The user's desks were saved."),
    )


def _ids(name):
    """A form's ticked ids, as whole numbers."""
    values = request.form.getlist(name)
    if any(not _digits(value) or len(value) > 18 for value in values):
        raise InvalidInput(_("Write a whole number."))
    return [int(value) for value in values]


@bp.post("/users/delete")
@page_for("admin")
def delete_user():
    return _apply(
        "users",
        lambda: accounts.delete_user(get_db(), _field("username"), actor=current_user.actor),
        _("The user was deleted."),
    )


@bp.post("/desks")
@page_for("admin")
def create_desk():
    return _apply(
        "desks",
        lambda: desks.create_desk(
            get_db(), _field("name"), request.form.getlist("offices"), actor=current_user.actor
        ),
        _("The desk was created."),
    )


def _names_form():
    """The names per language typed in a form (``names-ca``...), those not left empty."""
    return {
        language: _field(f"names-{language}")
        for language in NAMED_IN
        if _field(f"names-{language}")
    }


@bp.post("/desks/<id:desk_id>")
@page_for("admin")
def update_desk(desk_id):
    """A desk's names in each language and the offices it serves."""

    def form():
        changes: dict[str, object] = {"offices": request.form.getlist("offices")}
        if _names_form():
            changes["names"] = _names_form()
        return changes

    return _apply(
        "desks",
        lambda: desks.update(get_db(), desk_id, form(), actor=current_user.actor),
        _("The desk was saved."),
    )


def _office_form():
    """An office's settings as typed: names, priority interleaving, and the target wait and
    the usual service time in minutes (the API's seconds); what is left empty stays."""
    changes: dict[str, object] = {}
    if _names_form():
        changes["names"] = _names_form()
    every = _number("priority_every")
    if every is not None:
        changes["priority_every"] = every
    for name, field in (("target_wait_s", "target_wait_min"), ("default_service_s", "service_min")):
        minutes = _number(field)
        if minutes is not None:
            changes[name] = minutes * 60
    return changes


@bp.post("/offices/<code>")
@page_for("admin")
def update_office(code):
    """An office's names, priority interleaving, target wait and usual service time."""
    if code not in offices.codes(get_db()):
        abort(404)
    return _apply(
        f"office-{code}",
        lambda: offices.update(get_db(), code, _office_form(), actor=current_user.actor),
        _("The office was saved."),
    )


@bp.post("/displays")
@page_for("admin")
def create_display():
    return _apply(
        "displays",
        lambda: displays.create_display(
            get_db(),
            _field("name"),
            request.form.getlist("offices") or None,
            _field("language"),
            _field("message"),
            _field("voice") or "auto",
            _field("layout") or "waiting_room",
            actor=current_user.actor,
        ),
        _("The display screen was created."),
    )


@bp.post("/displays/<id:display_id>")
@page_for("admin")
def update_display(display_id):
    return _apply(
        "displays",
        lambda: displays.update_display(
            get_db(),
            display_id,
            request.form.getlist("offices"),
            _field("language"),
            _field("message"),
            _field("voice") or None,
            _field("layout") or None,
            actor=current_user.actor,
        ),
        _("The display screen was saved."),
    )


@bp.post("/displays/<id:display_id>/key")
@page_for("admin")
def rotate_display_key(display_id):
    return _apply(
        "displays",
        lambda: displays.rotate_key(
            get_db(), displays.find_by_id(get_db(), display_id)["name"], actor=current_user.actor
        ),
        _("The display screen has a new address: open it on its TV."),
    )


@bp.post("/building")
@page_for("admin")
def set_building():
    return _apply(
        "building",
        lambda: door.set_counts(
            get_db(), inside=_number("inside"), limit=_number("limit"), actor=current_user.actor
        ),
        _("The building's counts were saved."),
    )


@bp.post("/tokens")
@page_for("admin")
def create_token():
    """The new token is shown on this answer only: it is stored hashed, never shown again."""
    try:
        created = accounts.create_token(
            get_db(), _field("name"), _field("role"), actor=current_user.actor
        )
    except QueueError as error:
        flash(str(error), "error:tokens")
        return redirect(url_for("admin.home", _anchor="tokens"))
    publish(created)
    response = make_response(
        render_template(
            "admin/token.html", token=created.value, name=_field("name"), role=_field("role")
        )
    )
    return private(response)


@bp.post("/tokens/revoke")
@page_for("admin")
def revoke_token():
    return _apply("tokens", lambda: _revoke(_field("name")), _("The API token was revoked."))


def _revoke(name):
    outcome = accounts.revoke_token(get_db(), name, actor=current_user.actor)
    if not outcome.value:
        raise InvalidInput(_("There is no live API token with that name."))
    return outcome


# Schedules ---------------------------------------------------------------------------------


def _schedule_number(name):
    """One of a schedule's numbers, or None when left empty (it stays as it is)."""
    label, (low, high) = SCHEDULE_NUMBERS[name]
    value = _field(name)
    if not value:
        return None
    if not _digits(value) or not low <= int(value) <= high:
        raise InvalidInput(
            _(
                "%(field)s must be a whole number from %(low)s to %(high)s.",
                field=label,
                low=low,
                high=high,
            )
        )
    return int(value)


def _time(hours, minutes):
    """``HH:MM`` from a range's parts, or None when they are no time of day."""
    if int(hours) > 23 or int(minutes) > 59:
        return None
    return f"{int(hours):02d}:{minutes}"


def _hours(day):
    """A weekday's hours from text like ``09:00-14:00, 16:00-19:00`` (empty: closed), as the
    schedule's ``[["09:00", "14:00"], ["16:00", "19:00"]]``, in order."""
    name = WEEKDAY_NAMES[day]
    ranges = []
    for part in re.split(r"[,;]", _field(f"hours-{day}")):
        part = part.strip()
        if not part:
            continue
        found = TIME_RANGE.fullmatch(part)
        start = found and _time(found[1], found[2])
        end = found and _time(found[3], found[4])
        if not start or not end:
            raise InvalidInput(
                _(
                    "%(day)s: “%(text)s” is not a time range: write it like 09:00-14:00.",
                    day=name,
                    text=part,
                )
            )
        if end <= start:
            raise InvalidInput(
                _("%(day)s: %(range)s must end after it starts.", day=name, range=part)
            )
        ranges.append([start, end])
    ranges.sort()
    for before, after in zip(ranges, ranges[1:], strict=False):
        if after[0] < before[1]:
            raise InvalidInput(
                _(
                    "%(day)s: %(first)s and %(second)s overlap.",
                    day=name,
                    first="-".join(before),
                    second="-".join(after),
                )
            )
    if len(ranges) > schedules.MAX_INTERVALS:
        raise InvalidInput(
            _("%(day)s: at most %(n)s time ranges.", day=name, n=schedules.MAX_INTERVALS)
        )
    return ranges


def _closed_days():
    """Closed dates, ``YYYY-MM-DD`` one a line or separated by commas."""
    days = []
    for part in re.split(r"[\s,;]+", _field("closed", MAX_CLOSED_TEXT)):
        if not part:
            continue
        try:
            days.append(schedules.parse_day(part).isoformat())
        except InvalidInput:
            raise InvalidInput(
                _("Closed days: “%(text)s” is not a date like 2025-12-26.", text=part)
            ) from None
    return days


def _schedule_form():
    """The schedule form as the contract's schedule. What the form leaves out stays as it is:
    an empty number, the hours when no weekday is sent (the page sends all seven, and an
    empty weekday is closed), the closed days when not sent."""
    changes = {}
    for name in SCHEDULE_NUMBERS:
        value = _schedule_number(name)
        if value is not None:
            changes[name] = value
    if any(f"hours-{day}" in request.form for day in WEEKDAY_NAMES):
        changes["hours"] = {day: _hours(day) for day in WEEKDAY_NAMES}
    if "closed" in request.form:
        changes["closed"] = _closed_days()
    return changes


@bp.post("/offices/<code>/schedule")
@page_for("admin")
def set_schedule(code):
    """An office's booking schedule: a refusal names its reason in that office's form."""
    if code not in offices.codes(get_db()):
        abort(404)
    return _apply(
        f"schedule-{code}",
        lambda: schedules.put(get_db(), code, _schedule_form(), actor=current_user.actor),
        _("The schedule was saved."),
    )


# Importing appointments --------------------------------------------------------------------


def _import_refused(message):
    flash(message, "error:import")
    return redirect(url_for("admin.home", _anchor="import"))


def _too_large():
    return _import_refused(
        _("The file is larger than %(n)s MiB.", n=imports.MAX_BYTES // 1024 // 1024)
    )


@bp.post("/appointments/import")
@csrf.exempt  # checked below, once the form is read within this route's own size limit
@page_for("admin")
def import_appointments():
    """A booking service's export (CSV or iCalendar): "Preview" counts what an import would
    do and writes nothing; "Import" writes it and tells the screens. Either answers with the
    counts and the lines that cannot be imported, with their reasons."""
    # The app's limit (64 KiB) is for forms and JSON; an export may be larger.
    request.max_content_length = imports.MAX_BYTES + IMPORT_FORM_SLACK
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge:
        # Unread, so without its token: it only shows the reason and writes nothing.
        return _too_large()
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()
    try:
        office = _field("office") or None
        dry_run = _field("action") != "import"
        if upload is None or not upload.filename:
            raise InvalidInput(_("Choose the file to import."))
        data = upload.read(imports.MAX_BYTES + 1)
        if len(data) > imports.MAX_BYTES:
            return _too_large()
        if not data:
            raise InvalidInput(_("The file is empty."))
        calendar = upload.filename.lower().endswith((".ics", ".ical"))
        outcome = imports.import_file(
            get_db(),
            data,
            "text/calendar" if calendar else "text/csv",
            office=office,
            dry_run=dry_run,
            actor=current_user.actor,
        )
    except QueueError as error:
        return _import_refused(str(error))
    counts = outcome.value if dry_run else publish(outcome)
    response = make_response(
        render_template(
            "admin/import.html",
            counts=counts,
            dry_run=dry_run,
            filename=upload.filename[:120],
            office=office,
            offices=offices.list_offices(get_db()),
            max_mib=imports.MAX_BYTES // 1024 // 1024,
        )
    )
    return private(response)
