"""The pages with the Flask test client: login and logout, each role's page, CSRF, language,
the printable ticket and the citizen's page; and the citizen's live place in the queue."""

import html
import re

import pytest

from queue_app import socketio
from queue_app.storage.db import connect

from helpers import csrf_token, form_login

LANDING = {
    "recepcio": "/reception",
    "taulell3": "/desk",
    "admin": "/admin",
    "pantalla": "/display-login",
}


@pytest.fixture
def display_user(app):
    """A login of the display role (the demo has none)."""
    from queue_app.rules import accounts

    db = connect(app.config["DATABASE"])
    try:
        accounts.create_user(db, "pantalla", "pantalla-demo", "display")
    finally:
        db.close()


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for path in ("/reception", "/desk", "/admin", "/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    assert client.get("/desk?choose=1").headers["Location"] == "/login?next=/desk?choose%3D1"


@pytest.mark.parametrize("username", sorted(LANDING))
def test_each_role_lands_on_its_own_page(client, username, request):
    if username == "pantalla":
        request.getfixturevalue("display_user")
    response = form_login(client, username)
    assert response.status_code == 302
    assert response.headers["Location"] == LANDING[username]
    assert client.get("/").headers["Location"] == LANDING[username]
    assert client.get(LANDING[username]).status_code == 200


def test_login_goes_back_where_it_was_asked_but_never_off_site(client):
    assert (
        form_login(client, "taulell1", next_="/desk?choose=1").headers["Location"]
        == "/desk?choose=1"
    )
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/desk").get_data(True))})
    for elsewhere in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        assert form_login(client, "taulell1", next_=elsewhere).headers["Location"] == "/desk"


@pytest.mark.parametrize(
    "path",
    [
        "/language/es?next=/login%0d%0aSet-Cookie:%20x=1",
        "/login?next=/desk%0aLocation:%20https://evil.example",
    ],
)
def test_a_header_smuggled_into_next_gets_a_readable_400_page(client, path):
    response = client.get(path)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Location" not in response.headers
    assert not any("x=1" in cookie for cookie in response.headers.getlist("Set-Cookie"))
    assert 'lang="ca"' in page and "<h1" in page


def test_logging_in_with_a_smuggled_next_is_refused_before_the_session_opens(client):
    response = form_login(client, "taulell1", next_="/desk%0d%0aX-Evil:%201")
    assert response.status_code == 400 and "X-Evil" not in response.headers
    assert client.get("/desk").headers["Location"].startswith("/login")


def test_a_wrong_password_stays_on_the_login_page(client):
    response = form_login(client, "recepcio", "not-the-password")
    assert response.status_code == 200
    assert 'id="login-error"' in response.get_data(as_text=True)
    assert client.get("/reception").status_code == 302


def test_a_form_post_without_its_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "recepcio", "password": "recepcio-demo"})
    assert response.status_code == 400
    assert client.get("/reception").status_code == 302  # not logged in
    form_login(client, "recepcio")
    assert client.post("/logout").status_code == 400  # a forged logout does nothing
    assert client.get("/reception").status_code == 200


def test_logout_asks_on_get_and_logs_out_on_post(client):
    form_login(client, "recepcio")
    page = client.get("/logout")
    assert page.status_code == 200 and client.get("/reception").status_code == 200
    response = client.post("/logout", data={"csrf_token": csrf_token(page.get_data(True))})
    assert response.headers["Location"] == "/login"
    assert client.get("/reception").status_code == 302


@pytest.mark.parametrize(
    "username, path",
    [
        ("taulell1", "/reception"),
        ("taulell1", "/admin"),
        ("recepcio", "/desk"),
        ("recepcio", "/admin"),
    ],
)
def test_pages_refuse_other_roles(client, username, path):
    form_login(client, username)
    response = client.get(path)
    assert response.status_code == 403
    assert 'id="forbidden"' in response.get_data(as_text=True)


def test_the_administrator_may_open_every_page(client):
    form_login(client, "admin")
    for path in ("/admin", "/reception", "/desk", "/desk?choose=1"):
        assert client.get(path, follow_redirects=True).status_code == 200


def test_the_api_needs_the_pages_csrf_token_from_a_session(client):
    form_login(client, "recepcio")
    token = csrf_token(client.get("/reception").get_data(as_text=True))
    refused = client.post("/api/v1/tickets", json={"office": "OAC"})
    assert refused.status_code == 400 and "CSRF" in refused.json["error"]["message"]
    assert client.get("/api/v1/tickets").json == []  # nothing was issued
    issued = client.post("/api/v1/tickets", json={"office": "OAC"}, headers={"X-CSRFToken": token})
    assert issued.status_code == 201
    # A session of another role is told 403 first, token or not.
    client.post("/logout", data={"csrf_token": token})
    form_login(client, "taulell1")
    assert client.post("/api/v1/tickets", json={"office": "OAC"}).status_code == 403


def test_bearer_tokens_need_no_csrf_token(api):
    assert api.as_("reception").post("/tickets", {"office": "OAC"}).status_code == 201


def test_the_language_switch_keeps_the_choice_in_the_session(client):
    assert 'lang="ca"' in client.get("/login").get_data(as_text=True)  # Catalan first
    assert "Entra" in client.get("/login").get_data(as_text=True)
    response = client.get("/language/es?next=/login")
    assert response.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="es"' in page and "Entrar" in page
    client.get("/language/en")
    assert "Log in" in client.get("/login").get_data(as_text=True)
    assert client.get("/language/fr").status_code == 404
    assert client.get("/language/ca?next=//evil.example").headers["Location"] == "/"


def test_the_desk_choice_is_a_form_post_and_is_remembered(client):
    form_login(client, "taulell3")
    chooser = client.get("/desk").get_data(as_text=True)
    assert 'id="desk-choice"' in chooser and "Taulell 8" in chooser
    token = csrf_token(chooser)
    assert (
        client.post("/desk", data={"desk": "3", "csrf_token": token}).headers["Location"] == "/desk"
    )
    page = client.get("/desk").get_data(as_text=True)
    assert 'data-desk="3"' in page and "Taulell 3" in page
    assert 'id="desk-choice"' in client.get("/desk?choose=1").get_data(as_text=True)
    assert client.post("/desk", data={"desk": "99", "csrf_token": token}).status_code == 403
    assert 'data-desk="3"' in client.get("/desk").get_data(as_text=True)


def test_a_link_from_elsewhere_cannot_move_a_clerk_to_another_desk(client):
    form_login(client, "taulell3")
    token = csrf_token(client.get("/desk").get_data(as_text=True))
    client.post("/desk", data={"desk": "3", "csrf_token": token})
    client.get("/desk?desk=5")  # a link on another site
    assert client.post("/desk", data={"desk": "5"}).status_code == 400  # a form without CSRF
    page = client.get("/desk").get_data(as_text=True)
    assert 'data-desk="3"' in page and 'data-desk="5"' not in page


def test_the_printable_ticket_has_its_code_and_qr_code(client, api):
    ticket = (
        api.as_("reception")
        .post("/tickets", {"office": "OMIC", "priority": True, "party_size": 3})
        .json
    )
    form_login(client, "recepcio")
    page = html.unescape(client.get(f"/reception/tickets/{ticket['id']}/print").get_data(True))
    assert ticket["code"] == "C001" and ">C001<" in page
    assert "<svg" in page and 'class="qr"' in page
    assert "Oficina Municipal d'Informació al Consumidor" in page
    assert "<script" not in page
    assert client.get("/reception/tickets/999/print").status_code == 404


def test_the_citizens_page_is_public_and_shows_that_ticket_only(client, api):
    mine = api.as_("reception").post("/tickets", {"office": "OAC"}).json
    other = api.as_("reception").post("/tickets", {"office": "OAC"}).json
    response = client.get(f"/t/{mine['token']}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "A001" in page and other["code"] not in page
    assert other["token"] not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/t/not-a-token").status_code == 404


def test_pages_have_no_inline_script_or_style(client, api):
    ticket = api.as_("reception").post("/tickets", {"office": "OAC"}).json
    pages = [client.get("/login"), client.get(f"/t/{ticket['token']}")]
    form_login(client, "admin")
    pages += [
        client.get(path)
        for path in (
            "/reception",
            "/desk",
            "/desk?choose=1",
            "/admin",
            f"/reception/tickets/{ticket['id']}/print",
        )
    ]
    token = csrf_token(client.get("/desk?choose=1").get_data(as_text=True))
    pages.append(
        client.post("/desk", data={"desk": "1", "csrf_token": token}, follow_redirects=True)
    )
    for response in pages:
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))", html)
        assert not re.search(r"\sstyle=|\son[a-z]+=", html)


# The citizen's live place in the queue ------------------------------------------------------


def received_tickets(connection):
    return [
        message["args"][0]["ticket"]
        for message in connection.get_received()
        if message["name"] == "ticket_changed"
    ]


def test_a_waiting_citizen_hears_its_place_move_up(app, client, api):
    first, second, third = (
        api.as_("reception").post("/tickets", {"office": "OAC"}).json for _ in range(3)
    )
    omic = api.as_("reception").post("/tickets", {"office": "OMIC"}).json
    citizens = {
        ticket["code"]: socketio.test_client(app, auth={"ticket": ticket["token"]})
        for ticket in (second, third, omic)
    }
    for connection in citizens.values():
        connection.get_received()
    called = api.as_("clerk").post("/desks/1/call-next").json
    assert called["code"] == first["code"]
    heard = received_tickets(citizens["A003"])
    assert [t["position"] for t in heard] == [1]  # was 2: one fewer ahead
    assert heard[0]["estimated_wait_s"] is not None and "id" not in heard[0]
    assert [t["position"] for t in received_tickets(citizens["A002"])] == [0]
    assert received_tickets(citizens["C001"]) == []  # another queue: nothing moved
    api.as_("clerk").post("/desks/5/pause")  # OMIC's only desk
    assert received_tickets(citizens["C001"])[0]["estimated_wait_s"] is None
    for connection in citizens.values():
        connection.disconnect()


def test_a_transferred_citizen_hears_its_new_queue_and_its_call(app, api):
    ticket = api.as_("reception").post("/tickets", {"office": "OAC"}).json
    api.as_("reception").post("/tickets", {"office": "OMIC"})
    citizen = socketio.test_client(app, auth={"ticket": ticket["token"]})
    citizen.get_received()
    api.as_("clerk").post("/desks/1/call-next")
    api.as_("clerk").post(f"/tickets/{ticket['id']}/transfer", {"office": "OMIC"})
    moved = received_tickets(citizen)[-1]
    assert (moved["status"], moved["office"], moved["position"]) == ("waiting", "OMIC", 0)
    api.as_("clerk").post("/desks/5/call-next")
    called = received_tickets(citizen)[-1]
    assert (called["status"], called["desk"]) == ("called", "Taulell 5")
    # After a reconnection the ticket's connection gets a fresh snapshot, not a replay.
    citizen.emit("resync", {"since": 1})
    snapshot = [m for m in citizen.get_received() if m["name"] == "snapshot"]
    assert snapshot and snapshot[0]["args"][0]["ticket"]["status"] == "called"
    citizen.disconnect()


def test_the_citizens_service_worker_is_served_for_the_ticket_pages(client, api):
    """Android's Chrome shows a page's notifications only through a service worker."""
    with client.get("/t/sw.js") as answer:
        assert answer.status_code == 200
        assert answer.mimetype == "text/javascript"
        assert answer.headers["Cache-Control"] == "no-cache"
        assert b"notificationclick" in answer.data
    ticket = api.as_("reception").post("/tickets", {"office": "OAC"}).get_json()
    page = client.get(f"/t/{ticket['token']}").get_data(as_text=True)
    assert '"service_worker": "/t/sw.js"' in page and '"notify_ahead": 3' in page
