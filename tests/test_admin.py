"""The administrator's page, /admin, with the Flask test client: each section's changes
(journaled with their actor), refusals that write nothing, who may open it, API tokens shown
once, hostile names rendered inert; and the domain functions behind it."""

import json
import re

import pytest

from queue_app.rules import accounts, desks, displays, offices
from queue_app.rules.errors import Conflict, InvalidInput, NotFound, UnknownOffice
from queue_app.storage.db import write_transaction

from helpers import db_state, log_in

TABLES = ("users", "api_tokens", "desks", "desk_offices", "displays", "settings", "events")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
META_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
XSS = "<script>alert(1)</script>"


@pytest.fixture
def app(reused_app):
    """One app for this module's tests, given back as new to each (they only make requests)."""
    return reused_app


@pytest.fixture
def admin(app, client):
    """The test client logged in as the demo's administrator, pages in English."""
    log_in(app, client, "admin")
    client.get("/language/en")
    return client


def post(client, path, data, token=True):
    """Post a form of /admin as the page does (with its CSRF token); the page after it."""
    if token:
        data = dict(data, csrf_token=CSRF.search(client.get("/admin").get_data(True))[1])
    return client.post(path, data=data, follow_redirects=True)


def last_event(store):
    row = store.execute(
        "SELECT type, actor, payload FROM events ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return row["type"], row["actor"], json.loads(row["payload"])


def refused(client, store, path, data, message):
    """Post ``data``; the page shows ``message`` and nothing at all was written."""
    before = db_state(store, TABLES)
    page = post(client, path, data)
    assert page.status_code == 200
    assert message in page.get_data(as_text=True), page.get_data(as_text=True)[-3000:]
    assert db_state(store, TABLES) == before


# Who may open it --------------------------------------------------------------------------


def test_anonymous_visitors_go_to_login_and_other_roles_get_403(app, client, store):
    accounts.create_user(store, "pantalla", "pantalla-demo", "display")
    before = db_state(store, TABLES)
    assert client.get("/admin").headers["Location"].startswith("/login")
    for username, landing in (
        ("recepcio", "/reception"),
        ("taulell1", "/desk"),
        ("pantalla", "/display-login"),
    ):
        log_in(app, client, username)
        assert client.get("/admin").status_code == 403
        token = META_CSRF.search(client.get(landing).get_data(True))[1]
        for path in ("/admin/building", "/admin/users/delete", "/admin/tokens"):
            data = {
                "limit": "9",
                "username": "taulell2",
                "name": "x",
                "role": "admin",
                "csrf_token": token,
            }
            assert client.post(path, data=data).status_code == 403
    assert db_state(store, TABLES) == before


def test_the_page_shows_every_section(admin):
    page = admin.get("/admin").get_data(as_text=True)
    for section in ("users", "desks", "displays", "building", "tokens"):
        assert f'id="{section}"' in page
    assert "taulell8" in page and "Taulell 8" in page and "/display/" in page


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(admin, store):
    before = db_state(store, TABLES)
    for path, data in (
        ("/admin/building", {"limit": "9"}),
        ("/admin/users/delete", {"username": "taulell1"}),
        ("/admin/tokens", {"name": "x", "role": "admin"}),
    ):
        assert admin.post(path, data=data).status_code == 400
        assert admin.post(path, data=dict(data, csrf_token="forged")).status_code == 400
    assert db_state(store, TABLES) == before


# Users ----------------------------------------------------------------------------------


def test_users_are_created_changed_reset_and_deleted_with_the_actor(admin, store):
    page = post(
        admin,
        "/admin/users",
        {
            "username": "taulell9",
            "role": "clerk",
            "password": "secret-99",
            "password2": "secret-99",
        },
    )
    assert "The user was created." in page.get_data(as_text=True)
    assert accounts.authenticate(store, "taulell9", "secret-99")["role"] == "clerk"
    assert last_event(store) == ("user_created", "admin", {"username": "taulell9", "role": "clerk"})

    post(admin, "/admin/users/role", {"username": "taulell9", "role": "reception"})
    assert accounts.authenticate(store, "taulell9", "secret-99")["role"] == "reception"
    assert last_event(store) == (
        "user_role_changed",
        "admin",
        {"username": "taulell9", "role": "reception", "previous": "clerk"},
    )

    post(
        admin,
        "/admin/users/password",
        {"username": "taulell9", "password": "another-1", "password2": "another-1"},
    )
    assert accounts.authenticate(store, "taulell9", "another-1")
    assert not accounts.authenticate(store, "taulell9", "secret-99")
    assert last_event(store) == ("user_password_set", "admin", {"username": "taulell9"})

    post(admin, "/admin/users/delete", {"username": "taulell9"})
    assert accounts.authenticate(store, "taulell9", "another-1") is None
    assert last_event(store) == (
        "user_deleted",
        "admin",
        {"username": "taulell9", "role": "reception"},
    )


@pytest.mark.parametrize(
    "path, data, message",
    [
        (
            "/admin/users",
            {"username": "x", "role": "boss", "password": "secret-99", "password2": "secret-99"},
            "role must be one of",
        ),
        (
            "/admin/users",
            {"username": "x", "role": "clerk", "password": "short", "password2": "short"},
            "at least 8 characters",
        ),
        (
            "/admin/users",
            {"username": "x", "role": "clerk", "password": "secret-99", "password2": "secret-98"},
            "The two passwords are not the same.",
        ),
        (
            "/admin/users",
            {"username": "", "role": "clerk", "password": "secret-99", "password2": "secret-99"},
            "username must be",
        ),
        (
            "/admin/users",
            {
                "username": "taulell1",
                "role": "clerk",
                "password": "secret-99",
                "password2": "secret-99",
            },
            "already exists",
        ),
        ("/admin/users/role", {"username": "taulell1", "role": "root"}, "The role must be one of"),
        (
            "/admin/users/role",
            {"username": "admin", "role": "clerk"},
            "You cannot change your own role.",
        ),
        ("/admin/users/role", {"username": "nobody", "role": "clerk"}, "no user with that name"),
        (
            "/admin/users/password",
            {"username": "taulell1", "password": "short", "password2": "short"},
            "The password must have 8 to 256",
        ),
        (
            "/admin/users/password",
            {"username": "taulell1", "password": "x" * 300, "password2": "x" * 300},
            "The password must have 8 to 256",
        ),
        ("/admin/users/delete", {"username": "admin"}, "You cannot delete your own user."),
        ("/admin/users/delete", {"username": "nobody"}, "no user with that name"),
    ],
)
def test_refused_user_changes_write_nothing(admin, store, path, data, message):
    refused(admin, store, path, data, message)


def test_the_last_administrator_is_kept(store):
    with pytest.raises(Conflict, match="At least one administrator"):
        accounts.delete_user(store, "admin", actor="someone")
    with pytest.raises(Conflict, match="At least one administrator"):
        accounts.set_role(store, "admin", "clerk", actor="someone")
    accounts.create_user(store, "admin2", "secret-99", "admin")
    accounts.set_role(store, "admin", "clerk", actor="admin2")
    with pytest.raises(Conflict):
        accounts.delete_user(store, "admin2", actor="someone")
    assert [u["username"] for u in accounts.list_users(store) if u["role"] == "admin"] == ["admin2"]


# Desks ------------------------------------------------------------------------------------


def test_a_desks_offices_are_saved_and_journaled(admin, store):
    page = post(admin, "/admin/desks/1", {"offices": ["OMIC", "OAC"]})
    assert "The desk was saved." in page.get_data(as_text=True)
    assert desks.get_desk(store, 1)["offices"] == ["OAC", "OMIC"]
    kind, actor, payload = last_event(store)
    assert (kind, actor, payload["desk"]["offices"]) == ("desk_changed", "admin", ["OAC", "OMIC"])


def test_a_desks_names_are_saved(admin, store):
    names = {"names-ca": "Taulell A", "names-es": "Mostrador A", "names-en": "Desk A"}
    post(admin, "/admin/desks/1", {**names, "offices": ["OAC"]})
    desk = desks.get_desk(store, 1)
    assert desk["name"] == "Taulell A"
    assert desk["names"] == {"ca": "Taulell A", "es": "Mostrador A", "en": "Desk A"}


def test_an_offices_settings_are_saved_in_minutes_and_journaled(admin, store):
    form = {
        "names-ca": "Oficina d'Atenció Ciutadana",
        "names-es": "Atención Ciudadana",
        "names-en": "Citizen Service Office",
        "priority_every": "3",
        "target_wait_min": "20",
        "service_min": "6",
    }
    page = post(admin, "/admin/offices/OAC", form)
    assert "The office was saved." in page.get_data(as_text=True)
    office = offices.get(store, "OAC")
    assert (office["priority_every"], office["target_wait_s"], office["default_service_s"]) == (
        3,
        1200,
        360,
    )
    assert office["names"]["es"] == "Atención Ciudadana"
    kind, actor, payload = last_event(store)
    assert (kind, actor, payload["office"]["target_wait_s"]) == ("office_changed", "admin", 1200)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"priority_every": "99"}, "priority_every must be a whole number from 0 to 50."),
        ({"target_wait_min": "0"}, "target_wait_s must be a whole number from 60 to 28800."),
        ({"service_min": "x"}, "Write a whole number."),
    ],
)
def test_refused_office_settings_write_nothing(admin, store, data, message):
    refused(admin, store, "/admin/offices/OAC", data, message)


def test_a_desk_is_added(admin, store):
    post(admin, "/admin/desks", {"name": "Taulell 9", "offices": ["HAB"]})
    added = [d for d in desks.list_desks(store) if d["name"] == "Taulell 9"]
    assert added and added[0]["offices"] == ["HAB"]
    assert last_event(store)[:2] == ("desk_changed", "admin")


@pytest.mark.parametrize(
    "path, data, message",
    [
        ("/admin/desks/1", {"offices": ["OAC", "NOPE"]}, "Unknown office: NOPE."),
        ("/admin/desks/1", {}, "A desk must serve at least one office."),
        ("/admin/desks/999", {"offices": ["OAC"]}, "There is no desk with that id."),
        ("/admin/desks", {"name": " ", "offices": ["OAC"]}, "name must have 1 to 40"),
        ("/admin/desks", {"name": "x" * 41, "offices": ["OAC"]}, "name must have 1 to 40"),
        ("/admin/desks", {"name": "Taulell 1", "offices": ["OAC"]}, "already exists"),
        ("/admin/desks", {"name": "Taulell 9", "offices": [XSS]}, "Unknown office"),
    ],
)
def test_refused_desk_changes_write_nothing(admin, store, path, data, message):
    refused(admin, store, path, data, message)


# Display screens -------------------------------------------------------------------------


def test_display_screens_are_created_edited_and_given_new_keys(admin, store):
    post(
        admin,
        "/admin/displays",
        {"name": "Planta 1", "offices": ["HAB", "ORGT"], "language": "es", "message": "Hola"},
    )
    screen = [d for d in displays.list_displays(store) if d["name"] == "Planta 1"][0]
    assert (screen["offices"], screen["language"], screen["message"]) == (
        ["HAB", "ORGT"],
        "es",
        "Hola",
    )
    assert last_event(store)[:2] == ("display_changed", "admin")
    assert f"/display/{screen['key']}" in admin.get("/admin").get_data(as_text=True)

    post(
        admin,
        f"/admin/displays/{screen['id']}",
        {"offices": ["OAC"], "language": "en", "message": "Welcome"},
    )
    edited = displays.find_by_id(store, screen["id"])
    assert (edited["offices"], edited["language"], edited["message"]) == (["OAC"], "en", "Welcome")
    assert last_event(store)[:2] == ("display_changed", "admin")

    assert edited["layout"] == "waiting_room"
    post(
        admin,
        f"/admin/displays/{screen['id']}",
        {"offices": ["OAC"], "language": "en", "message": "", "layout": "entrance"},
    )
    assert displays.find_by_id(store, screen["id"])["layout"] == "entrance"
    page = admin.get("/admin").get_data(as_text=True)
    assert '<option value="entrance" selected>' in page

    assert admin.get(f"/display/{screen['key']}").status_code == 200
    post(admin, f"/admin/displays/{screen['id']}/key", {})
    rotated = displays.find_by_id(store, screen["id"])
    assert rotated["key"] != screen["key"]
    assert admin.get(f"/display/{screen['key']}").status_code == 404
    assert admin.get(f"/display/{rotated['key']}").status_code == 200
    assert last_event(store)[:2] == ("display_key_rotated", "admin")


@pytest.mark.parametrize(
    "path, data, message",
    [
        ("/admin/displays", {"name": "", "language": "ca"}, "name must be text of 1 to 80"),
        ("/admin/displays", {"name": "X", "language": "fr"}, "language must be one of"),
        ("/admin/displays", {"name": "X", "language": "ca", "offices": ["NOPE"]}, "Unknown office"),
        (
            "/admin/displays",
            {"name": "X", "language": "ca", "message": "m" * 201},
            "at most 200 characters",
        ),
        ("/admin/displays/1", {"offices": ["NOPE"], "language": "ca"}, "Unknown office: NOPE."),
        ("/admin/displays/1", {"offices": [], "language": "ca"}, "at least one office"),
        ("/admin/displays/1", {"offices": ["OAC"], "language": "xx"}, "The language must be"),
        (
            "/admin/displays/1",
            {"offices": ["OAC"], "language": "ca", "layout": "lobby"},
            "The layout must be one of",
        ),
        (
            "/admin/displays/1",
            {"offices": ["OAC"], "language": "ca", "message": "m" * 201},
            "at most 200 characters",
        ),
        ("/admin/displays/999", {"offices": ["OAC"], "language": "ca"}, "no display screen"),
        ("/admin/displays/999/key", {}, "no display screen"),
    ],
)
def test_refused_display_changes_write_nothing(admin, store, path, data, message):
    refused(admin, store, path, data, message)


# Building -----------------------------------------------------------------------------------


def test_the_capacity_limit_and_the_count_inside_are_set(admin, store, api):
    page = post(admin, "/admin/building", {"limit": "80", "inside": ""})
    assert "The building&#39;s counts were saved." in page.get_data(as_text=True)
    assert api.as_("reception").get("/occupancy").get_json() == {
        "inside": 0,
        "limit": 80,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert last_event(store) == (
        "occupancy_changed",
        "admin",
        {"inside": 0, "limit": 80, "full": False, "outside": 0, "next_in": []},
    )
    post(admin, "/admin/building", {"limit": "80", "inside": "12"})
    assert api.as_("reception").get("/occupancy").get_json()["inside"] == 12


@pytest.mark.parametrize(
    "data, message",
    [
        ({"limit": "0"}, "limit must be a whole number from 1 to 100000"),
        ({"limit": "100001"}, "limit must be a whole number from 1 to 100000"),
        ({"limit": "-5"}, "Write a whole number."),
        ({"limit": "lots"}, "Write a whole number."),
        ({"limit": "50", "inside": "9" * 30}, "Write a whole number."),
        ({"limit": "1" * 300}, "A field is too long."),
    ],
)
def test_refused_building_changes_write_nothing(admin, store, data, message):
    refused(admin, store, "/admin/building", data, message)


# API tokens ---------------------------------------------------------------------------------


def test_a_created_token_is_shown_once_works_and_is_revoked(admin, client, store):
    page = post(admin, "/admin/tokens", {"name": "door-counter", "role": "reception"})
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="new-token">([^<]+)<', page.get_data(as_text=True))[1]
    assert last_event(store) == (
        "token_created",
        "admin",
        {"name": "door-counter", "role": "reception"},
    )
    listing = admin.get("/admin").get_data(as_text=True)
    assert "door-counter" in listing and token not in listing
    assert token not in json.dumps([list(r) for r in store.execute("SELECT * FROM api_tokens")])

    other = client.application.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert other.post("/api/v1/occupancy/entries", json={}, headers=bearer).status_code == 200
    assert other.put("/api/v1/occupancy", json={"limit": 5}, headers=bearer).status_code == 403

    page = post(admin, "/admin/tokens/revoke", {"name": "door-counter"})
    assert "The API token was revoked." in page.get_data(as_text=True)
    assert last_event(store)[:2] == ("token_revoked", "admin")
    assert other.get("/api/v1/occupancy", headers=bearer).status_code == 401
    assert token not in admin.get("/admin").get_data(as_text=True)


@pytest.mark.parametrize(
    "path, data, message",
    [
        ("/admin/tokens", {"name": "", "role": "clerk"}, "name must be text"),
        ("/admin/tokens", {"name": "x", "role": "god"}, "role must be one of"),
        ("/admin/tokens/revoke", {"name": "never-made"}, "There is no live API token"),
    ],
)
def test_refused_token_changes_write_nothing(admin, store, path, data, message):
    refused(admin, store, path, data, message)


# Hostile text -------------------------------------------------------------------------------


def test_office_names_and_display_messages_are_rendered_inert(admin, store):
    with write_transaction(store):
        store.execute("UPDATE offices SET name = ? WHERE code = 'OAC'", [XSS])
    post(admin, "/admin/displays/1", {"offices": ["OAC"], "language": "ca", "message": XSS})
    post(
        admin,
        "/admin/users",
        {"username": XSS, "role": "clerk", "password": "secret-99", "password2": "secret-99"},
    )
    post(admin, "/admin/tokens", {"name": XSS, "role": "clerk"})
    page = admin.get("/admin").get_data(as_text=True)
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# The domain functions alone -------------------------------------------------------------


def test_domain_functions_return_their_events_and_refuse_cleanly(db):
    outcome = desks.set_offices(db, 2, ["OFIM"], actor="someone")
    assert outcome.value["offices"] == ["OFIM"]
    assert (outcome.events[-1]["type"], outcome.events[-1]["actor"]) == ("desk_changed", "someone")
    with pytest.raises(NotFound):
        desks.set_offices(db, 99, ["OAC"])
    with pytest.raises(UnknownOffice):
        desks.create_desk(db, "Nou", ["OAC", "ZZZ"])
    with pytest.raises(InvalidInput):
        desks.set_offices(db, 2, "OAC")
    screen = displays.update_display(db, 1, ["OMIC"], "es", "  Bon dia  ", actor="a").value
    assert (screen["offices"], screen["message"]) == (["OMIC"], "Bon dia")
    with pytest.raises(InvalidInput):
        displays.update_display(db, 1, ["OMIC"], "es", None)
    assert {u["username"] for u in accounts.list_users(db)} >= {"admin", "recepcio"}
    assert {t["name"] for t in accounts.list_tokens(db)} >= {"test-admin"}
    assert "token_hash" not in accounts.list_tokens(db)[0]


# In a real browser --------------------------------------------------------------------------


@pytest.mark.slow
def test_an_administrator_gives_a_desk_another_office_in_a_browser(live, browser):
    from playwright.sync_api import expect

    from conftest import save_screenshot

    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{live.url}/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", "admin-demo")
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{live.url}/admin")
        desk = page.locator("#desks form.row-form").filter(has_text="Taulell 5")
        desk.locator("input[value=HAB]").check()
        desk.get_by_role("button").click()
        expect(page.locator("p.message.info")).to_have_text("The desk was saved.")
        expect(desk.locator("input[value=HAB]")).to_be_checked()
        save_screenshot(page, "admin-page.png")
        served = {d["name"]: d["offices"] for d in live.api("clerk", "GET", "/desks", expect=200)}
        assert served["Taulell 5"] == ["OMIC", "HAB"]
    finally:
        context.close()
