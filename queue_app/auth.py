"""Who is asking: a logged-in user (browser session) or a system with an API token."""
from functools import wraps

from flask import request
from flask_login import LoginManager, UserMixin, current_user

from . import accounts
from .db import get_db
from .errors import Forbidden, Unauthorized

login_manager = LoginManager()


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
                    raise Unauthorized("The API token is not valid or was revoked.")
                raise Unauthorized()
            if roles and current_user.role != "admin" and current_user.role not in roles:
                raise Forbidden()
            return view(*args, **kwargs)
        return wrapped
    return decorate
