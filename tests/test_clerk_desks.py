"""Who may act where: clerks limited to some desks, what a display may read, a login that
does not tell which names exist, and a desk chosen only by a form post."""

import pytest

from queue_app import socketio
from queue_app.live.delivery import publish
from queue_app.rules import accounts, tickets
from queue_app.storage.db import get_db

from helpers import csrf_token, form_login


@pytest.fixture
def clerk(app, store):
    """taulell1, limited by the administrator to Taulell 1 (OAC), logged in."""
    accounts.set_desks(store, "taulell1", [1], actor="admin")
    browser = app.test_client()
    form_login(browser, "taulell1")
    token = csrf_token(browser.get("/desk").get_data(as_text=True))
    browser.environ_base["HTTP_X_CSRFTOKEN"] = token
    return browser


def test_a_limited_clerk_calls_out_of_order_only_at_its_desks(clerk, store):
    waiting = tickets.issue(store, "OAC").value
    refused = clerk.post("/api/v1/desks/2/call", json={"ticket": waiting["id"]})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    called = clerk.post("/api/v1/desks/1/call", json={"ticket": waiting["id"]})
    assert called.status_code == 200 and called.json["desk"] == "Taulell 1"


def test_a_limited_clerk_acts_only_at_its_desks(clerk, store):
    tickets.issue(store, "OAC")
    tickets.issue(store, "OAC")
    refused = clerk.post("/api/v1/desks/2/call-next")
    assert refused.status_code == 403 and refused.json["error"]["code"] == "forbidden"
    assert clerk.post("/api/v1/desks/2/pause").status_code == 403
    assert clerk.post("/api/v1/desks/1/call-next").json["code"] == "A001"
    assert tickets.list_today(store, status="waiting")[0]["code"] == "A002"  # desk 2 took none


def test_a_limited_clerk_cannot_touch_another_desks_ticket(clerk, store):
    tickets.issue(store, "OAC")
    tickets.issue(store, "OAC")
    at_desk_2 = tickets.call_next(store, 2).value
    for action in ("recall", "start", "finish", "no-show", "cancel"):
        assert clerk.post(f"/api/v1/tickets/{at_desk_2['id']}/{action}").status_code == 403
    assert (
        clerk.post(
            f"/api/v1/tickets/{at_desk_2['id']}/transfer", json={"office": "OMIC"}
        ).status_code
        == 403
    )
    assert tickets.find(store, at_desk_2["id"])["status"] == "called"
    mine = clerk.post("/api/v1/desks/1/call-next").json
    assert clerk.post(f"/api/v1/tickets/{mine['id']}/finish").json["status"] == "done"


def test_a_limited_clerk_may_cancel_what_waits_for_its_desks_only(clerk, store):
    oac, omic = tickets.issue(store, "OAC").value, tickets.issue(store, "OMIC").value
    assert clerk.post(f"/api/v1/tickets/{omic['id']}/cancel").status_code == 403
    assert clerk.post(f"/api/v1/tickets/{oac['id']}/cancel").json["status"] == "cancelled"


def test_clerks_act_at_every_desk_unless_limited(app, store):
    tickets.issue(store, "OMIC")
    browser = app.test_client()
    form_login(browser, "taulell1")
    token = csrf_token(browser.get("/desk").get_data(as_text=True))
    called = browser.post("/api/v1/desks/5/call-next", headers={"X-CSRFToken": token})
    assert called.status_code == 200 and called.json["desk"] == "Taulell 5"


def test_a_clerk_limited_to_one_desk_goes_straight_to_it(clerk):
    page = clerk.get("/desk").get_data(as_text=True)
    assert 'data-desk="1"' in page and 'id="desk-choice"' not in page
    token = csrf_token(page)
    assert clerk.post("/desk", data={"desk": "2", "csrf_token": token}).status_code == 403


def test_a_limited_clerk_chooses_among_its_desks_only(app, store):
    accounts.set_desks(store, "taulell1", [1, 2], actor="admin")
    browser = app.test_client()
    form_login(browser, "taulell1")
    chooser = browser.get("/desk").get_data(as_text=True)
    assert "Taulell 2" in chooser and "Taulell 5" not in chooser


def test_a_limited_clerks_live_connection_hears_only_its_desks(app, clerk, store):
    assert not socketio.test_client(app, auth={"desk": 5}, flask_test_client=clerk).is_connected()
    live = socketio.test_client(app, auth={}, flask_test_client=clerk)
    assert live.is_connected()
    assert set(live.get_received()[0]["args"][0]["waiting"]) == {"OAC"}
    with app.app_context():
        publish(tickets.issue(get_db(), "OMIC"))
        assert [m["name"] for m in live.get_received()] == []  # OMIC is not its office
        publish(tickets.issue(get_db(), "OAC"))
    assert [m["name"] for m in live.get_received()] == ["ticket_changed", "queue_changed"]


def test_the_administrator_limits_a_clerk_on_the_admin_page(app, store):
    admin = app.test_client()
    form_login(admin, "admin")
    admin.get("/language/en")
    desk_page = app.test_client()
    form_login(desk_page, "taulell3")
    live = socketio.test_client(app, auth={"desk": 5}, flask_test_client=desk_page)
    assert live.is_connected()
    token = csrf_token(admin.get("/admin").get_data(as_text=True))
    saved = admin.post(
        "/admin/users/desks",
        data={"username": "taulell3", "desks": ["3", "4"], "csrf_token": token},
        follow_redirects=True,
    )
    assert "The user&#39;s desks were saved." in saved.get_data(as_text=True)
    assert accounts.allowed_desks(
        store, store.execute("SELECT id FROM users WHERE username = 'taulell3'").fetchone()[0]
    ) == {3, 4}
    assert not live.is_connected()  # its page reconnects, heard under the new limit
    row = store.execute("SELECT actor, payload FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    assert row["actor"] == "admin" and '"desks": [3, 4]' in row["payload"]
    admin.post("/admin/users/desks", data={"username": "taulell3", "csrf_token": token})
    assert accounts.list_users(store)[-1]["desks"] == []  # none ticked: every desk again


def test_refused_desk_limits_write_nothing(store):
    from queue_app.rules.errors import InvalidInput, NotFound

    before = store.execute("SELECT COUNT(*) FROM user_desks").fetchone()[0]
    with pytest.raises(InvalidInput):
        accounts.set_desks(store, "taulell1", [1, 99])
    with pytest.raises(NotFound):
        accounts.set_desks(store, "nobody", [1])
    with pytest.raises(InvalidInput):
        accounts.set_desks(store, "taulell1", ["1"])
    assert store.execute("SELECT COUNT(*) FROM user_desks").fetchone()[0] == before


def test_a_display_token_reads_desks_without_ticket_tokens(api, store):
    ticket = tickets.issue(store, "OAC").value
    tickets.call_next(store, 1)
    current = api.as_("display").get("/desks").json[0]["current"]
    assert current["code"] == "A001" and current["desk"] == "Taulell 1"
    assert "token" not in current and ticket["token"] not in str(current)
    assert api.as_("clerk").get("/desks").json[0]["current"]["token"] == ticket["token"]


def test_an_unknown_name_costs_a_password_check_like_a_known_one(store, monkeypatch):
    """The answer's speed cannot tell which names exist: an unknown name is checked against
    a password hash of the same kind as a real user's."""
    checked = []
    real = accounts.check_password_hash

    def counting(stored, password):
        checked.append(stored.split("$")[0])
        return real(stored, password)

    monkeypatch.setattr(accounts, "check_password_hash", counting)
    assert accounts.authenticate(store, "nobody-here", "some-password") is None
    assert accounts.authenticate(store, "recepcio", "some-password") is None
    assert len(checked) == 2 and checked[0] == checked[1]
    assert checked[0].startswith("scrypt")
