"""Staff sessions end when they should: no cookie outlives its user, its logout, its password
or its role, and the user's live connections close with it."""

import pytest

from queue_app import socketio
from queue_app.rules import accounts

from helpers import csrf_token, form_login


def signed_in(app, username):
    """A browser logged in through the form as ``username``."""
    browser = app.test_client()
    assert form_login(browser, username).status_code == 302
    return browser


def copied(app, browser):
    """Another browser holding a copy of ``browser``'s session cookie."""
    thief = app.test_client()
    cookie = browser.get_cookie("session")
    thief.set_cookie(cookie.key, cookie.value)
    return thief


def can_use_the_api(browser):
    return browser.get("/api/v1/offices").status_code == 200


def test_a_deleted_users_cookie_does_not_open_the_next_user_created(app, store):
    """A clerk who left keeps a copy of the cookie; the next user created (an admin here)
    gets a new id, so the old cookie opens nothing."""
    last = store.execute("SELECT username FROM users ORDER BY id DESC LIMIT 1").fetchone()[0]
    leaver = signed_in(app, last)
    assert can_use_the_api(leaver)
    accounts.delete_user(store, last, actor="admin")
    accounts.create_user(store, "nova-admin", "nova-admin-1", "admin", actor="admin")

    assert leaver.get("/api/v1/offices").status_code == 401
    assert leaver.get("/admin").headers["Location"].startswith("/login")


def test_a_cookie_copied_before_logout_is_dead_after_it(app):
    desk = signed_in(app, "taulell1")
    thief = copied(app, desk)
    assert can_use_the_api(thief)
    token = csrf_token(desk.get("/desk").get_data(as_text=True))
    assert desk.post("/logout", data={"csrf_token": token}).status_code == 302

    assert thief.get("/api/v1/desks").status_code == 401
    assert thief.get("/desk").headers["Location"].startswith("/login")


def test_logging_out_ends_the_users_sessions_on_every_device(app):
    """Logging out ends every session of that user (the issue's rule): give each device
    that stays logged in all day a user of its own."""
    reception_pc, door_tablet = signed_in(app, "recepcio"), signed_in(app, "recepcio")
    token = csrf_token(reception_pc.get("/reception").get_data(as_text=True))
    reception_pc.post("/logout", data={"csrf_token": token})
    assert door_tablet.get("/api/v1/occupancy").status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        lambda db: accounts.set_password(db, "taulell1", "a-new-password", actor="admin"),
        lambda db: accounts.set_role(db, "taulell1", "reception", actor="admin"),
        lambda db: accounts.delete_user(db, "taulell1", actor="admin"),
    ],
    ids=["password", "role", "deleted"],
)
def test_an_administrators_change_ends_the_users_open_sessions(app, store, change):
    desk = signed_in(app, "taulell1")
    assert can_use_the_api(desk)
    change(store)
    assert desk.get("/api/v1/desks").status_code == 401
    assert desk.get("/desk").headers["Location"].startswith("/login")


def test_a_new_login_after_the_change_works(app, store):
    accounts.set_password(store, "taulell1", "a-new-password", actor="admin")
    desk = app.test_client()
    assert form_login(desk, "taulell1", "a-new-password").status_code == 302
    assert can_use_the_api(desk)


def test_an_ended_session_cannot_open_a_live_connection(app, store):
    desk = signed_in(app, "taulell1")
    accounts.set_password(store, "taulell1", "a-new-password", actor="admin")
    assert not socketio.test_client(app, flask_test_client=desk).is_connected()


@pytest.mark.parametrize("how", ["logout", "admin"])
def test_the_users_live_connections_close_when_its_sessions_end(app, how):
    """The desk page's socket is closed by the server, not left hearing the queue."""
    desk = signed_in(app, "taulell1")
    other_desk = signed_in(app, "taulell2")
    mine = socketio.test_client(app, auth={"desk": 1}, flask_test_client=desk)
    theirs = socketio.test_client(app, auth={"desk": 2}, flask_test_client=other_desk)
    assert mine.is_connected() and theirs.is_connected()
    if how == "logout":
        token = csrf_token(desk.get("/desk").get_data(as_text=True))
        desk.post("/logout", data={"csrf_token": token})
    else:
        admin = signed_in(app, "admin")
        token = csrf_token(admin.get("/admin").get_data(as_text=True))
        admin.post(
            "/admin/users/password",
            data={
                "username": "taulell1",
                "password": "a-new-password",
                "password2": "a-new-password",
                "csrf_token": token,
            },
        )
    assert not mine.is_connected()
    assert theirs.is_connected()


def test_the_journal_says_whose_sessions_ended_and_why_without_secrets(store):
    accounts.set_role(store, "taulell1", "reception", actor="admin")
    row = store.execute(
        "SELECT type, actor, payload FROM events WHERE type ="
        " 'user_sessions_ended' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    assert row["actor"] == "admin"
    assert '"reason": "role_changed"' in row["payload"]
    assert "session_key" not in row["payload"]
