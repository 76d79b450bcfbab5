"""Who is asking: a logged-in user (browser session) or a system with an API token.

Also the pages that open and close a session: ``/login``, ``/logout``, ``/`` (each role's
own page) and ``/language/<code>``.
"""

from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from queue_app import csrf
from queue_app.languages import LANGUAGES
from queue_app.live.delivery import publish
from queue_app.rules import accounts, desks
from queue_app.rules.errors import Forbidden, Unauthorized
from queue_app.storage.db import get_db
from queue_app.web.security import limiter, login_limit

login_manager = LoginManager()
bp = Blueprint("auth", __name__)
# Where each role works; the display role's screens use /display/<key> without a login.
LANDING = {
    "admin": "admin.home",
    "manager": "stats.page",
    "reception": "reception.page",
    "clerk": "desk.page",
    "display": "auth.display_role",
}


class Principal(UserMixin):
    """A user or an API token, seen the same way by role checks."""

    def __init__(self, kind, ident, name, role, session_key=None):
        self.kind, self.ident, self.name, self.role = kind, ident, name, role
        self.session_key = session_key

    def get_id(self):
        """What the session cookie keeps: the user's id and its current session key."""
        return f"{self.ident}:{self.session_key}"

    @classmethod
    def of_user(cls, user):
        return cls("user", user["id"], user["username"], user["role"], user["session_key"])

    @property
    def desks(self):
        """The ids of the desks this clerk user may act at, or None for every desk (other
        roles, and API tokens, are never limited to desks)."""
        if self.kind != "user" or self.role != "clerk":
            return None
        if not hasattr(self, "_desks"):
            self._desks = accounts.allowed_desks(get_db(), self.ident)
        return self._desks

    @property
    def actor(self):
        """How the journal names whoever made a change."""
        return self.name if self.kind == "user" else f"token:{self.name}"


@login_manager.user_loader
def load_user(user_id):
    """Flask-Login: the session's user, or None.

    An ``Authorization`` header speaks for the request, whatever session cookie comes along.
    """
    ident, _, session_key = user_id.partition(":")
    if (
        not ident.isdigit()
        or len(ident) > 18
        or not session_key
        or "Authorization" in request.headers
    ):
        return None
    user = accounts.session_user(get_db(), int(ident), session_key)
    return user and Principal.of_user(user)


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


def check_desk(desk_id):
    """403 when the current clerk user may not act at ``desk_id``."""
    allowed = current_user.desks
    if allowed is not None and desk_id not in allowed:
        raise Forbidden(_l("You may not act at this desk."))


def check_ticket(ticket_id):
    """403 when the current clerk user may not act on the ticket: it is at a desk the user
    may not use, or it waits in an office none of the user's desks serves."""
    allowed = current_user.desks
    if allowed is not None and not desks.may_act_on_ticket(get_db(), allowed, ticket_id):
        raise Forbidden(_l("You may not act on another desk's tickets."))


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
    """``target`` when it is a path on this site, else None (no open redirects).

    A control character (a CR/LF smuggling a header) is refused with a 400 page.
    """
    if not target or not isinstance(target, str):
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        abort(400, _l("The address to go back to is not valid."))
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
    ):
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
    going = safe_next(request.args.get("next"))  # a bad address is refused before logging in
    if form.validate_on_submit():
        user = accounts.authenticate(get_db(), form.username.data.strip(), form.password.data)
        if user is not None:
            login_user(Principal.of_user(user))
            return redirect(going or landing_url(user["role"]))
        failed = True
    return render_template("auth/login.html", form=form, failed=failed)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """POST (the pages' button) ends the session; GET asks to confirm, so that a link
    from elsewhere cannot log a desk out."""
    if request.method == "POST":
        if current_user.is_authenticated and current_user.kind == "user":
            # Every session of this user ends, a copied cookie included, and its pages'
            # live connections close (in every server process).
            publish(accounts.log_out(get_db(), current_user.ident, actor=current_user.actor))
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
    going = safe_next(request.args.get("next"))
    session["language"] = code
    return redirect(going or url_for("auth.home"))


@bp.get("/display-login")
def display_role():
    """A display login has no page of its own: screens open their /display/<key> address."""
    return render_template("auth/display_role.html")
