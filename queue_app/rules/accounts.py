"""Users (staff who log in) and API tokens (systems), with their roles.

A user's sessions carry the user's current ``session_key`` (random); ending the sessions
(logging out, a new password, another role, deletion) draws a new key, so every cookie
issued before stops working at once, and the journal's ``user_sessions_ended`` closes the
user's live connections in every server process.
"""

import hashlib
import hmac
import secrets
import sqlite3
from datetime import datetime
from typing import cast, get_args

from flask_babel import lazy_gettext as _l
from sqlite_utils import Database
from werkzeug.security import check_password_hash, generate_password_hash

from queue_app.clock import stamp, utcnow
from queue_app.rules.errors import Conflict, InvalidInput, NotFound
from queue_app.rules.types import (
    ApiToken,
    ListedToken,
    ListedUser,
    Role,
    SessionsEndedPayload,
    SessionUser,
    TokensRevokedPayload,
    User,
    UserDesksPayload,
)
from queue_app.storage.db import inserted_id, write_transaction
from queue_app.storage.journal import AnyEvent, Event, Outcome, record

ROLES: tuple[Role, ...] = get_args(Role)
MIN_PASSWORD = 8
MAX_PASSWORD = 256
TOKEN_PREFIX = "torn_"


def _check_role(role: object) -> None:
    if role not in ROLES:
        raise InvalidInput(_l("role must be one of: %(roles)s.", roles=", ".join(ROLES)))


def create_user(
    db: Database,
    username: str,
    password: str,
    role: Role,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[User]:
    """A new staff login; the password is stored only as a salted scrypt hash."""
    _check_role(role)
    if (
        not isinstance(username, str)
        or not username.strip()
        or len(username) > 64
        or any(c.isspace() for c in username)
    ):
        raise InvalidInput(_l("username must be 1 to 64 characters without spaces."))
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidInput(
            _l("password must have at least %(minimum)s characters.", minimum=MIN_PASSWORD)
        )
    now = now or utcnow()
    password_hash = generate_password_hash(password)
    with write_transaction(db):
        if db.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone():
            raise Conflict(_l("The user %(username)s already exists.", username=username))
        cursor = db.execute(
            "INSERT INTO users (username, password_hash, role, created_at, session_key)"
            " VALUES (?, ?, ?, ?, ?)",
            [username, password_hash, role, stamp(now), _new_session_key()],
        )
        event = record(db, now, "user_created", {"username": username, "role": role}, actor=actor)
    return Outcome(User(id=inserted_id(cursor), username=username, role=role), [event])


def _new_session_key() -> str:
    return secrets.token_hex(16)


def session_user(db: Database, user_id: int, session_key: str) -> SessionUser | None:
    """The user ``{"id","username","role","session_key"}`` whose sessions still carry
    ``session_key``, or None (no such user, or its sessions were ended)."""
    row = db.execute(
        "SELECT id, username, role, session_key FROM users WHERE id = ?", [user_id]
    ).fetchone()
    if row is None or not hmac.compare_digest(row["session_key"], session_key):
        return None
    return cast(SessionUser, dict(row))  # the SELECT's columns are SessionUser's keys


# Checked against when the name is unknown, so that a wrong name costs as much time as a
# wrong password and the answer's speed does not tell which names exist.
_NO_USER_HASH = generate_password_hash(secrets.token_hex(16))


def authenticate(db: Database, username: str, password: str) -> SessionUser | None:
    """The user ``{"id","username","role","session_key"}`` whose name and password match,
    or None; as slow for an unknown name as for a wrong password."""
    row = db.execute("SELECT * FROM users WHERE username = ?", [username]).fetchone()
    matches = check_password_hash(row["password_hash"] if row else _NO_USER_HASH, password)
    if row is None or not matches:
        return None
    return {
        "id": row["id"],
        "username": row["username"],
        "role": row["role"],
        "session_key": row["session_key"],
    }


def _end_sessions(
    db: Database, user: sqlite3.Row, reason: str, now: datetime, actor: str | None
) -> Event[SessionsEndedPayload]:
    """Inside a transaction: no session of ``user`` works any more; the journal event that
    closes its live connections."""
    db.execute("UPDATE users SET session_key = ? WHERE id = ?", [_new_session_key(), user["id"]])
    return record(
        db,
        now,
        "user_sessions_ended",
        SessionsEndedPayload(user=user["id"], username=user["username"], reason=reason),
        actor=actor,
    )


def log_out(
    db: Database, user_id: int, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[None]:
    """End every session of a user (the logout button; a copied cookie dies with it)."""
    now = now or utcnow()
    with write_transaction(db):
        user = db.execute("SELECT id, username FROM users WHERE id = ?", [user_id]).fetchone()
        events: list[AnyEvent] = [_end_sessions(db, user, "logout", now, actor)] if user else []
    return Outcome(None, events)


def _token_hash(token: str) -> str:
    # API tokens carry 256 random bits, so a fast hash is as safe as a slow one here.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    db: Database, name: str, role: Role, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[str]:
    """A new API token for a system; the outcome's value is the token itself, which is
    stored hashed only (shown once)."""
    _check_role(role)
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        raise InvalidInput(_l("name must be text of 1 to 80 characters."))
    now = now or utcnow()
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with write_transaction(db):
        db.execute(
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)",
            [name, role, _token_hash(token), stamp(now)],
        )
        event = record(db, now, "token_created", {"name": name, "role": role}, actor=actor)
    return Outcome(token, [event])


def find_token(db: Database, token: str) -> ApiToken | None:
    """The live API token's ``{"id","name","role"}`` for a presented token, or None."""
    row = db.execute(
        "SELECT id, name, role FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL",
        [_token_hash(token)],
    ).fetchone()
    return cast(ApiToken, dict(row)) if row else None  # the SELECT's columns are its keys


def revoke_token(
    db: Database, name: str, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[int]:
    """Revoke every live API token called ``name``; the value is how many were revoked."""
    now = now or utcnow()
    with write_transaction(db):
        ids: list[int] = [
            row[0]
            for row in db.execute(
                "SELECT id FROM api_tokens WHERE name = ? AND revoked_at IS NULL", [name]
            )
        ]
        db.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            [stamp(now), name],
        )
        events: list[AnyEvent] = (
            [
                record(
                    db,
                    now,
                    "token_revoked",
                    TokensRevokedPayload(name=name, count=len(ids), tokens=ids),
                    actor=actor,
                )
            ]
            if ids
            else []
        )
    return Outcome(len(ids), events)


def list_users(db: Database) -> list[ListedUser]:
    """Every user as ``{"id","username","role","created_at","desks"}``, by name; ``desks`` are
    the ids of the desks a clerk is limited to (empty: every desk)."""
    limits: dict[int, list[int]] = {}
    for user_id, desk_id in db.execute("SELECT user_id, desk_id FROM user_desks ORDER BY desk_id"):
        limits.setdefault(user_id, []).append(desk_id)
    # The SELECT's columns are ListedUser's keys but ``desks``.
    return [
        cast(ListedUser, dict(row, desks=limits.get(row["id"], [])))
        for row in db.execute("SELECT id, username, role, created_at FROM users ORDER BY username")
    ]


def allowed_desks(db: Database, user_id: int) -> set[int] | None:
    """The ids of the desks a user may act at, or None for every desk."""
    ids: set[int] = {
        row[0] for row in db.execute("SELECT desk_id FROM user_desks WHERE user_id = ?", [user_id])
    }
    return ids or None


def set_desks(
    db: Database,
    username: str,
    desk_ids: list[int],
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[list[int]]:
    """Limit a clerk user to some desks (none: every desk). Its open pages reconnect under
    the new limit (the journal's ``user_desks_set`` closes their live connections)."""
    if not isinstance(desk_ids, list) or any(
        isinstance(i, bool) or not isinstance(i, int) for i in desk_ids
    ):
        raise InvalidInput(_l("The desks must be a list of desk ids."))
    chosen = sorted(set(desk_ids))
    now = now or utcnow()
    with write_transaction(db):
        user = _user_row(db, username)
        known = {row[0] for row in db.execute("SELECT id FROM desks")}
        if not set(chosen) <= known:
            raise InvalidInput(_l("There is no desk with that id."))
        db.execute("DELETE FROM user_desks WHERE user_id = ?", [user["id"]])
        db.conn.executemany(
            "INSERT INTO user_desks (user_id, desk_id) VALUES (?, ?)",
            [(user["id"], desk_id) for desk_id in chosen],
        )
        event = record(
            db,
            now,
            "user_desks_set",
            UserDesksPayload(user=user["id"], username=username, desks=chosen),
            actor=actor,
        )
    return Outcome(chosen, [event])


def list_tokens(db: Database) -> list[ListedToken]:
    """Every API token as ``{"id","name","role","created_at","revoked_at"}`` (never the token,
    which is stored hashed only), newest first."""
    # The SELECT's columns are ListedToken's keys.
    return [
        cast(ListedToken, dict(row))
        for row in db.execute(
            "SELECT id, name, role, created_at, revoked_at FROM api_tokens ORDER BY id DESC"
        )
    ]


def _user_row(db: Database, username: str) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute(
        "SELECT id, username, role FROM users WHERE username = ?", [username]
    ).fetchone()
    if row is None:
        raise NotFound(_l("There is no user with that name."))
    return row


def _other_admins(db: Database, username: str) -> int:
    count: int = db.execute(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND username <> ?", [username]
    ).fetchone()[0]
    return count


def set_role(
    db: Database,
    username: str,
    role: Role,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[User]:
    """Give a user another role; never one's own, and never leaving the town hall without
    an administrator."""
    if role not in ROLES:
        raise InvalidInput(_l("The role must be one of: %(roles)s.", roles=", ".join(ROLES)))
    if actor is not None and actor == username:
        raise Conflict(_l("You cannot change your own role."))
    now = now or utcnow()
    with write_transaction(db):
        user = _user_row(db, username)
        if user["role"] == "admin" and role != "admin" and not _other_admins(db, username):
            raise Conflict(_l("At least one administrator must remain."))
        db.execute("UPDATE users SET role = ? WHERE id = ?", [role, user["id"]])
        events: list[AnyEvent] = [
            _end_sessions(db, user, "role_changed", now, actor),
            record(
                db,
                now,
                "user_role_changed",
                {"username": username, "role": role, "previous": user["role"]},
                actor=actor,
            ),
        ]
    return Outcome(User(id=user["id"], username=username, role=role), events)


def set_password(
    db: Database,
    username: str,
    password: str,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> Outcome[None]:
    """Reset a user's password (stored only as a salted scrypt hash; never journaled); the
    user's open sessions end."""
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            _l(
                "The password must have %(low)s to %(high)s characters.",
                low=MIN_PASSWORD,
                high=MAX_PASSWORD,
            )
        )
    now = now or utcnow()
    password_hash = generate_password_hash(password)
    with write_transaction(db):
        user = _user_row(db, username)
        db.execute("UPDATE users SET password_hash = ? WHERE id = ?", [password_hash, user["id"]])
        events: list[AnyEvent] = [
            _end_sessions(db, user, "password_set", now, actor),
            record(db, now, "user_password_set", {"username": username}, actor=actor),
        ]
    return Outcome(None, events)


def delete_user(
    db: Database, username: str, *, actor: str | None = None, now: datetime | None = None
) -> Outcome[None]:
    """Delete a user (its open sessions end; its id is never given again); never oneself,
    and never the last administrator."""
    if actor is not None and actor == username:
        raise Conflict(_l("You cannot delete your own user."))
    now = now or utcnow()
    with write_transaction(db):
        user = _user_row(db, username)
        if user["role"] == "admin" and not _other_admins(db, username):
            raise Conflict(_l("At least one administrator must remain."))
        events: list[AnyEvent] = [_end_sessions(db, user, "deleted", now, actor)]
        db.execute("DELETE FROM users WHERE id = ?", [user["id"]])
        events.append(
            record(
                db, now, "user_deleted", {"username": username, "role": user["role"]}, actor=actor
            )
        )
    return Outcome(None, events)


def exists(db: Database, username: str) -> bool:
    """Whether a user is called ``username``."""
    found = db.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchone()
    return found is not None
