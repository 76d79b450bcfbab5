"""Security on every response, rate limits on the public entry points, hostile names and
messages rendered inert, and the secret-key rule of run.py."""

import os
import re
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from queue_app.rules import displays
from queue_app.storage.db import connect, write_transaction

from conftest import DESKTOP
from helpers import log_in
from servers import ROOT

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def make_hostile(path):
    """Give OAC and every display screen's message the XSS payload, as an admin could."""
    db = connect(path)
    try:
        with write_transaction(db):
            db.execute("UPDATE offices SET name = ? WHERE code = 'OAC'", [XSS])
            db.execute("UPDATE displays SET message = ?", [XSS])
    finally:
        db.close()


def allowed(app, setting):
    """How many requests a limit such as "10 per minute" lets through."""
    return int(app.config[setting].split()[0])


def screen_key(app):
    db = connect(app.config["DATABASE"])
    try:
        return displays.list_displays(db)[0]["key"]
    finally:
        db.close()


def some_pages(app, client, api):
    """``{name: response}`` for a page, an API answer, an error and a static file."""
    ticket = api.as_("reception").post("/tickets", {"office": "OAC"}).json
    key = screen_key(app)
    responses = {
        "login": client.get("/login"),
        "ticket page": client.get(f"/t/{ticket['token']}"),
        "display": client.get(f"/display/{key}"),
        "api": api.get(f"/displays/{key}/state"),
        "api error": api.get("/offices"),
        "page 404": client.get("/no/such/page"),
        "static": client.get("/static/torn.css"),
        "vendor": client.get("/vendor/socket.io.min.js"),
    }
    log_in(app, client, "recepcio")
    responses["reception"] = client.get("/reception")
    for response in responses.values():
        response.close()  # files are streamed: close them as a browser would
    return responses


def test_every_response_carries_the_security_headers(app, client, api):
    for name, response in some_pages(app, client, api).items():
        policy = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, name
        assert "frame-ancestors 'self'" in policy, name
        assert response.headers.get("X-Content-Type-Options") == "nosniff", name
        assert response.headers.get("X-Frame-Options") == "SAMEORIGIN", name
        assert response.headers.get("Referrer-Policy") in ("same-origin", "no-referrer"), name


def login_form_token(client):
    page = client.get("/login").get_data(as_text=True)
    return page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def test_the_session_cookie_is_httponly_and_samesite(client):
    response = client.post(
        "/login",
        data={
            "csrf_token": login_form_token(client),
            "username": "recepcio",
            "password": "recepcio-demo",
        },
    )
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_attempts_are_limited_with_a_readable_429(app, client):
    token = login_form_token(client)  # a guesser reads the form like anyone

    def attempt():
        return client.post(
            "/login", data={"csrf_token": token, "username": "admin", "password": "guess"}
        )

    answers = [attempt().status_code for _ in range(allowed(app, "RATELIMIT_LOGIN"))]
    assert set(answers) == {200}  # the form again, saying the login failed
    refused = attempt()
    assert refused.status_code == 429
    assert "text/html" in refused.content_type
    assert "429" in refused.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # reading the page is not limited


@pytest.mark.parametrize("path", ["/api/v1/tickets/{token}", "/api/v1/displays/{key}/state"])
def test_public_api_is_limited_with_a_json_429(app, client, api, path):
    ticket = api.as_("reception").post("/tickets", {"office": "OAC"}).json
    url = path.format(token=ticket["token"], key=screen_key(app))
    answers = [client.get(url).status_code for _ in range(allowed(app, "RATELIMIT_PUBLIC"))]
    assert set(answers) == {200}
    refused = client.get(url)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert "Retry-After" in refused.headers


def test_public_ticket_page_is_limited(app, client, api):
    ticket = api.as_("reception").post("/tickets", {"office": "OAC"}).json
    for _ in range(allowed(app, "RATELIMIT_PUBLIC")):
        assert client.get(f"/t/{ticket['token']}").status_code == 200
    assert client.get(f"/t/{ticket['token']}").status_code == 429


def test_hostile_office_names_and_messages_are_inert_on_every_page(app, client, api):
    make_hostile(app.config["DATABASE"])
    ticket = api.as_("reception").post("/tickets", {"office": "OAC"}).json
    api.as_("clerk").post("/desks/1/call-next")
    key = screen_key(app)
    pages = {
        "display": client.get(f"/display/{key}"),
        "ticket": client.get(f"/t/{ticket['token']}"),
    }
    for username, path in (
        ("recepcio", "/reception"),
        ("recepcio", f"/reception/tickets/{ticket['id']}/print"),
        ("taulell1", "/desk"),
        ("admin", "/admin"),
    ):
        log_in(app, client, username)
        with client.session_transaction() as session:
            session["desk"] = 1
        pages[path] = client.get(path, follow_redirects=True)
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html, name


def test_run_py_refuses_to_serve_without_a_secret_key_outside_the_demo(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("QUEUE_SECRET_KEY", "QUEUE_DEMO")
    }
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "run.py"), "--db", str(tmp_path / "q.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "QUEUE_SECRET_KEY" in result.stderr
    assert not (tmp_path / "q.db").exists()


@pytest.mark.slow
def test_pages_in_a_browser_keep_the_policy_and_show_hostile_text_as_text(live, people):
    make_hostile(live.path)
    dialogs = []

    def watch(page):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        return page

    reception = watch(people.log_in("recepcio"))
    expect(reception.get_by_text(XSS).first).to_be_visible()
    reception.keyboard.press("1")  # a ticket for OAC: its print preview has the QR code
    expect(reception.frame_locator("#ticket-frame").locator(".code")).to_have_text("A001")
    clerk = watch(people.log_in("taulell1"))
    clerk.click("[data-desk='1']")
    expect(clerk.locator("#desk")).to_have_attribute("data-desk-name", "Taulell 1")
    expect(clerk.locator("[data-live]")).to_have_class(re.compile("online"))
    clerk.keyboard.press("Space")
    expect(clerk.get_by_text("A001").first).to_be_visible()
    token = live.api("reception", "GET", "/tickets", expect=200)[0]["token"]
    citizen = watch(people.public(f"/t/{token}"))
    expect(citizen.get_by_text("Taulell 1").first).to_be_visible()
    screen = watch(people.public(f"/display/{live.screen_key}", DESKTOP))
    expect(screen.locator(".message")).to_have_text(XSS)
    watch(people.log_in("admin"))
    assert dialogs == []
    # people's teardown fails the test on any script error or CSP refusal on these pages
