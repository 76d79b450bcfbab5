"""Who is asking: a logged-in user (browser session) or a system with an API token.

Also the pages that open and close a session: ``/login``, ``/logout``, ``/`` (each role's
own page) and ``/language/<code>``.
"""
from functools import wraps
from urllib.parse import urlsplit

from flask import (Blueprint, abort, flash, make_response, redirect, render_template, request,
                   session, url_for)
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from . import LANGUAGES, accounts, csrf
from .security import limiter, login_limit
from .db import get_db
from .errors import Forbidden, Unauthorized

login_manager = LoginManager()
bp = Blueprint("auth", __name__)
# Where each role works; the display role's screens use /display/<key> without a login.
LANDING = {"admin": "admin.home", "reception": "reception.page", "clerk": "desk.page",
           "display": "auth.display_role"}


class Principal(UserMixin):
    """A user or an API token, seen the same way by role checks."""

    def __init__(self, kind, ident, name, role):
        self.kind, self.ident, self.name, self.role = kind, ident, name, role

    def get_id(self):
        return str(self.ident)

    @property
    def actor(self):
        """How the journal names whoever made a change."""
        return self.name if self.kind == "user" else f"token:{self.name}"


@login_manager.user_loader
def load_user(user_id):
    """Flask-Login: the session's user, or None.

    An ``Authorization`` header speaks for the request, whatever session cookie comes along.
    """
    if not user_id.isdigit() or "Authorization" in request.headers:
        return None
    user = accounts.get_user(get_db(), int(user_id))
    return user and Principal("user", user["id"], user["username"], user["role"])


@login_manager.request_loader
def load_token(req):
    """Flask-Login: the principal of an ``Authorization: Bearer TOKEN`` header, or None."""
    scheme, _, token = req.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    found = accounts.find_token(get_db(), token.strip())
    return found and Principal("token", found["id"], found["name"], found["role"])


def current_actor():
    """The journal name of the current principal, or None for public requests."""
    return current_user.actor if current_user.is_authenticated else None


def require_role(*roles):
    """Refuse a view with 401 when nobody is authenticated and 403 for another role.

    No roles means any authenticated principal; ``admin`` may do everything.
    """
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                if "Authorization" in request.headers:
                    raise Unauthorized(_l("The API token is not valid or was revoked."))
                raise Unauthorized()
            if roles and current_user.role != "admin" and current_user.role not in roles:
                raise Forbidden()
            if current_user.kind == "user":
                # A browser session: the page must prove it sent this (X-CSRFToken header).
                # API tokens need no such proof: no browser adds them by itself.
                csrf.protect()
            return view(*args, **kwargs)
        return wrapped
    return decorate


def page_for(*roles):
    """A page of logged-in staff: anonymous visitors go to the login page, other roles get
    a 403 page. No roles means any staff login; ``admin`` may open every page."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated or current_user.kind != "user":
                return redirect(url_for("auth.login", next=_here()))
            if roles and current_user.role != "admin" and current_user.role not in roles:
                abort(make_response(render_template("auth/forbidden.html"), 403))
            return view(*args, **kwargs)
        return wrapped
    return decorate


def _here():
    """The current page's path and query, to come back to after logging in."""
    return request.full_path.rstrip("?") if request.query_string else request.path


def safe_next(target):
    """``target`` when it is a path on this site, else None (no open redirects)."""
    if not target or not isinstance(target, str):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return None
    return target


def landing_url(role):
    """The page where ``role`` works."""
    return url_for(LANDING.get(role, "auth.login"))


class LoginForm(FlaskForm):
    """Staff login: name and password (the CSRF token comes with FlaskForm)."""

    username = StringField(_l("User"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


@bp.get("/")
def home():
    """The landing page of whoever is logged in, else the login page."""
    if current_user.is_authenticated and current_user.kind == "user":
        return redirect(landing_url(current_user.role))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def login():
    """Staff log in; each role then lands on its own page (or where it was going)."""
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        user = accounts.authenticate(get_db(), form.username.data.strip(), form.password.data)
        if user is not None:
            login_user(Principal("user", user["id"], user["username"], user["role"]))
            return redirect(safe_next(request.args.get("next")) or landing_url(user["role"]))
        failed = True
    return render_template("auth/login.html", form=form, failed=failed)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """POST (the pages' button) ends the session; GET asks to confirm, so that a link
    from elsewhere cannot log a desk out."""
    if request.method == "POST":
        logout_user()
        flash(_l("You have logged out."))
        return redirect(url_for("auth.login"))
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html")


@bp.get("/language/<code>")
def language(code):
    """Choose the pages' language (kept in the session), then go back where one was."""
    if code not in LANGUAGES:
        abort(404)
    session["language"] = code
    return redirect(safe_next(request.args.get("next")) or url_for("auth.home"))


@bp.get("/display-login")
def display_role():
    """A display login has no page of its own: screens open their /display/<key> address."""
    return render_template("auth/display_role.html")
