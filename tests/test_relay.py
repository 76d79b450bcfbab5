"""The relay: every committed journal event reaches this process's connections once, in
order, whoever wrote it (another process, a command-line tool) and however late it is read."""

from queue_app import socketio
from queue_app.live.delivery import publish
from queue_app.live.relay import CATCH_UP_MAX
from queue_app.rules import accounts, door, tickets
from queue_app.storage.db import get_db

from helpers import form_login


def relay(app):
    return app.extensions["torn.relay"]


def read_the_journal(app):
    """What each server process does every second (and on a wake-up from Redis)."""
    with app.app_context():
        relay(app).catch_up()


def screen_key(store):
    return store.execute("SELECT key FROM displays ORDER BY id LIMIT 1").fetchone()[0]


def names(connection):
    return [message["name"] for message in connection.get_received()]


def test_a_call_written_by_another_process_reaches_the_screen_once(app, store):
    display = socketio.test_client(app, auth={"screen": screen_key(store)})
    display.get_received()
    tickets.issue(store, "OAC")  # another process's writes: nothing broadcast here
    tickets.call_next(store, 1)
    assert names(display) == []
    read_the_journal(app)
    received = display.get_received()
    assert [m["name"] for m in received] == [
        "occupancy_changed",
        "queue_changed",
        "ticket_called",
        "queue_changed",
    ]
    seqs = [m["args"][0]["seq"] for m in received]
    assert seqs == sorted(seqs)
    read_the_journal(app)
    assert names(display) == []  # never twice


def test_a_commit_here_first_delivers_what_others_wrote_before_it(app, store, api):
    display = socketio.test_client(app, auth={"screen": screen_key(store)})
    display.get_received()
    tickets.issue(store, "OMIC")  # another process, not yet read
    api.as_("reception").post("/tickets", {"office": "OAC"})
    received = [(m["name"], m["args"][0]) for m in display.get_received()]
    waiting = [payload["office"] for name, payload in received if name == "queue_changed"]
    assert waiting == ["OMIC", "OAC"]
    seqs = [payload["seq"] for _, payload in received]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_a_gap_too_long_to_replay_gives_snapshots_and_still_ends_sessions(app, store):
    display = socketio.test_client(app, auth={"screen": screen_key(store)})
    desk = app.test_client()
    form_login(desk, "taulell1")
    desk_page = socketio.test_client(app, flask_test_client=desk)
    display.get_received()
    accounts.set_password(store, "taulell1", "a-new-password", actor="admin")
    for _ in range(CATCH_UP_MAX // 2 + 1):  # people coming and going at the door
        door.enter(store, 1)
        door.leave(store, 1)
    read_the_journal(app)
    assert not desk_page.is_connected()
    assert names(display) == ["snapshot"]
    with app.app_context():
        publish(tickets.issue(get_db(), "OAC"))  # and then on as usual
    assert "queue_changed" in names(display)
