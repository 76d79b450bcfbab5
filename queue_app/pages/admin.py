"""The administrator's page, ``/admin``: users, desks' offices, display screens, the building's
limit and API tokens. Plain forms (each with its CSRF token) that post, then come back to the
page with a message; every change goes through a domain function that journals its actor."""

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from queue_app.languages import LANGUAGES
from queue_app.live.delivery import publish
from queue_app.rules import accounts, desks, displays, door, occupancy, offices
from queue_app.rules.errors import InvalidInput, QueueError
from queue_app.storage.db import get_db
from queue_app.web.auth import page_for
from queue_app.web.security import private

bp = Blueprint("admin", __name__, url_prefix="/admin")
MAX_FIELD = 256


def _field(name):
    """A form field's text, stripped ('' when absent); refused when too long."""
    value = request.form.get(name, "")
    if len(value) > MAX_FIELD:
        raise InvalidInput(_("A field is too long."))
    return value.strip()


def _number(name):
    """A form field as a whole number, or None when left empty."""
    value = _field(name)
    if not value:
        return None
    if not value.isdigit() or len(value) > 9:
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
    return render_template(
        "admin/home.html",
        users=accounts.list_users(db),
        roles=accounts.ROLES,
        desks=desks.list_desks(db),
        offices=offices.list_offices(db),
        displays=displays.list_displays(db),
        languages=LANGUAGES,
        occupancy=occupancy.read(db),
        tokens=accounts.list_tokens(db),
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
    if any(not value.isdigit() or len(value) > 18 for value in values):
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


@bp.post("/desks/<id:desk_id>/offices")
@page_for("admin")
def set_desk_offices(desk_id):
    return _apply(
        "desks",
        lambda: desks.set_offices(
            get_db(), desk_id, request.form.getlist("offices"), actor=current_user.actor
        ),
        _("The desk's offices were saved."),
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
