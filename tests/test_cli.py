"""The ``flask --app queue_app`` commands, through Flask's CLI test runner."""

import os
import re

import pytest

from queue_app import create_app
from queue_app.rules import accounts, displays
from queue_app.storage.db import connect

TOKEN_LINE = re.compile(r"[A-Za-z0-9_-]{20,}")


def rows(app, sql, params=()):
    db = connect(app.config["DATABASE"])
    try:
        return [tuple(row) for row in db.execute(sql, params)]
    finally:
        db.close()


def count(app, table):
    return rows(app, f"SELECT COUNT(*) FROM {table}")[0][0]


def last_line(result):
    """The output's last line, as a script would take it (``| tail -n 1``)."""
    return result.output.rstrip("\n").split("\n")[-1]


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def fresh_app(tmp_path):
    """The app on a database that has the schema but no town hall in it."""
    return create_app(
        {
            "TESTING": True,
            "DATABASE": str(tmp_path / "fresh" / "queue.db"),
            "ASYNC_MODE": "threading",
            "SECRET_KEY": "test-secret",
        }
    )


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# --- init-db ------------------------------------------------------------------------------------


def test_init_db_creates_the_database_and_is_idempotent(fresh_app):
    path = fresh_app.config["DATABASE"]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    runner = fresh_app.test_cli_runner()

    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert os.path.exists(path)
    tables = {
        name for (name,) in rows(fresh_app, "SELECT name FROM sqlite_master WHERE type = 'table'")
    }
    assert {
        "offices",
        "desks",
        "tickets",
        "users",
        "api_tokens",
        "settings",
        "events",
        "displays",
    } <= tables
    schema = rows(fresh_app, "SELECT type, name, sql FROM sqlite_master ORDER BY name")

    db = connect(path)
    accounts.create_user(db, "kept", "kept-password", "clerk")
    db.close()
    again = runner.invoke(args=["init-db"])
    assert again.exit_code == 0, again.output
    assert rows(fresh_app, "SELECT type, name, sql FROM sqlite_master ORDER BY name") == schema
    assert rows(fresh_app, "SELECT username, role FROM users") == [("kept", "clerk")]


def test_init_db_keeps_a_seeded_town_hall(app, runner):
    client = app.test_client()
    result = runner.invoke(args=["create-token", "kiosk", "--role", "reception"])
    token = last_line(result)
    issued = client.post("/api/v1/tickets", json={"office": "OAC"}, headers=bearer(token))
    assert issued.status_code == 201
    for _ in range(2):
        assert runner.invoke(args=["init-db"]).exit_code == 0
    seen = client.get(f"/api/v1/tickets/{issued.get_json()['token']}")
    assert seen.status_code == 200 and seen.get_json()["code"] == "A001"
    assert count(app, "offices") == 5


# --- seed-demo ----------------------------------------------------------------------------------


def demo_counts(app):
    return {
        table: count(app, table)
        for table in ("offices", "desks", "desk_offices", "users", "displays")
    }


def test_seed_demo_loads_the_town_hall_and_is_idempotent(fresh_app):
    runner = fresh_app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    counts = demo_counts(fresh_app)
    assert counts == {"offices": 5, "desks": 8, "desk_offices": 8, "users": 11, "displays": 1}
    assert rows(fresh_app, "SELECT code, letter FROM offices ORDER BY position") == [
        ("OAC", "A"),
        ("OMIC", "C"),
        ("OFIM", "I"),
        ("HAB", "H"),
        ("ORGT", "T"),
    ]
    assert rows(
        fresh_app,
        "SELECT d.id, d.name, o.office FROM desks d JOIN desk_offices o"
        " ON o.desk_id = d.id ORDER BY d.id",
    ) == [
        (n, f"Taulell {n}", office)
        for n, office in enumerate(["OAC"] * 4 + ["OMIC", "OFIM", "HAB", "ORGT"], start=1)
    ]
    assert rows(fresh_app, "SELECT value FROM settings WHERE key = 'limit'") == [("50",)]

    db = connect(fresh_app.config["DATABASE"])
    try:
        screen = displays.list_displays(db)[0]
        assert accounts.authenticate(db, "recepcio", "recepcio-demo")["role"] == "reception"
        assert accounts.authenticate(db, "gestor", "gestor-demo")["role"] == "manager"
    finally:
        db.close()
    assert screen["name"] == "Sala d'espera"
    assert screen["offices"] == ["OAC", "OMIC", "OFIM", "HAB", "ORGT"]
    for login in ["admin", "recepcio"] + [f"taulell{n}" for n in range(1, 9)]:
        assert re.search(rf"^\s*{login}\s", first.output, re.M), login
    assert "recepcio-demo" in first.output
    assert screen["key"] in first.output

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert demo_counts(fresh_app) == counts
    assert screen["key"] in second.output
    assert "admin-demo" in second.output

    state = fresh_app.test_client().get(f"/api/v1/displays/{screen['key']}/state")
    assert state.status_code == 200
    assert state.get_json()["occupancy"] == {
        "inside": 0,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }


def test_seed_demo_on_the_seeded_database_changes_nothing(app, runner):
    before = demo_counts(app)
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert demo_counts(app) == before


# --- create-user ----------------------------------------------------------------------------------


def test_create_user_reads_the_password_from_stdin_and_stores_it_hashed(app, runner):
    result = runner.invoke(
        args=["create-user", "marta", "--role", "reception"], input="secret-pass\n"
    )
    assert result.exit_code == 0, result.output
    assert "secret-pass" not in result.output
    assert rows(app, "SELECT username, role FROM users WHERE username = 'marta'") == [
        ("marta", "reception")
    ]
    db = connect(app.config["DATABASE"])
    try:
        assert accounts.authenticate(db, "marta", "secret-pass")["role"] == "reception"
        assert accounts.authenticate(db, "marta", "secret-pass\n") is None
        assert accounts.authenticate(db, "marta", "wrong-pass") is None
    finally:
        db.close()
    stored = rows(app, "SELECT * FROM users WHERE username = 'marta'")[0]
    assert not any("secret-pass" in str(value) for value in stored)


def test_create_user_refuses_an_existing_user(app, runner):
    users = rows(app, "SELECT * FROM users ORDER BY id")
    result = runner.invoke(args=["create-user", "admin", "--role", "clerk"], input="another-pass\n")
    assert result.exit_code != 0
    assert "admin" in result.output
    assert rows(app, "SELECT * FROM users ORDER BY id") == users


@pytest.mark.parametrize(
    "args,password",
    [
        (["create-user", "joan", "--role", "mayor"], "secret-pass\n"),
        (["create-user", "joan"], "secret-pass\n"),
        (["create-user", "joan", "--role", "clerk"], "short\n"),
        (["create-user", "joan", "--role", "clerk"], ""),
    ],
)
def test_create_user_refuses_a_bad_role_or_password(app, runner, args, password):
    users = count(app, "users")
    result = runner.invoke(args=args, input=password)
    assert result.exit_code != 0
    assert count(app, "users") == users


# --- create-token ---------------------------------------------------------------------------------


def test_create_token_prints_a_token_that_works_with_its_role(app, runner):
    result = runner.invoke(args=["create-token", "door-counter", "--role", "reception"])
    assert result.exit_code == 0, result.output
    token = last_line(result)
    assert TOKEN_LINE.fullmatch(token), token
    client = app.test_client()
    entry = client.post("/api/v1/occupancy/entries", json={"count": 2}, headers=bearer(token))
    assert entry.status_code == 200 and entry.get_json()["inside"] == 2
    assert client.post("/api/v1/desks/1/call-next", headers=bearer(token)).status_code == 403
    assert (
        client.put("/api/v1/occupancy", json={"limit": 9}, headers=bearer(token)).status_code == 403
    )

    clerk = last_line(runner.invoke(args=["create-token", "desk-app", "--role", "clerk"]))
    assert clerk != token
    assert client.post("/api/v1/desks/1/call-next", headers=bearer(clerk)).status_code == 204
    assert client.post("/api/v1/occupancy/entries", headers=bearer(clerk)).status_code == 403


def test_create_token_stores_it_hashed(app, runner):
    token = last_line(runner.invoke(args=["create-token", "screens", "--role", "display"]))
    stored = rows(app, "SELECT * FROM api_tokens WHERE name = 'screens'")
    assert len(stored) == 1
    assert not any(
        token in str(value) or token[len(accounts.TOKEN_PREFIX) :] in str(value)
        for value in stored[0]
    )
    response = app.test_client().get("/api/v1/offices", headers=bearer(token))
    assert response.status_code == 200


def test_create_token_refuses_a_bad_role(app, runner):
    tokens = count(app, "api_tokens")
    result = runner.invoke(args=["create-token", "x", "--role", "root"])
    assert result.exit_code != 0
    assert count(app, "api_tokens") == tokens


# --- create-display -------------------------------------------------------------------------------


def test_create_display_shows_only_its_offices(app, runner):
    result = runner.invoke(
        args=["create-display", "Planta baixa", "--offices", "OAC,OMIC", "--language", "es"]
    )
    assert result.exit_code == 0, result.output
    key = last_line(result)
    assert TOKEN_LINE.fullmatch(key), key

    client = app.test_client()
    reception = last_line(runner.invoke(args=["create-token", "r", "--role", "reception"]))
    clerk = last_line(runner.invoke(args=["create-token", "c", "--role", "clerk"]))
    for office in ("OAC", "HAB", "HAB"):
        assert (
            client.post(
                "/api/v1/tickets", json={"office": office}, headers=bearer(reception)
            ).status_code
            == 201
        )
    for desk in (1, 7):
        assert (
            client.post(f"/api/v1/desks/{desk}/call-next", headers=bearer(clerk)).status_code == 200
        )

    response = client.get(f"/api/v1/displays/{key}/state")
    assert response.status_code == 200
    state = response.get_json()
    assert state["waiting"] == {"OAC": 0, "OMIC": 0}
    assert [call["ticket"]["code"] for call in state["calls"]] == ["A001"]
    assert state["display"]["offices"] == ["OAC", "OMIC"]
    assert state["display"]["language"] == "es"
    assert state["display"]["name"] == "Planta baixa"


def test_create_display_shows_all_offices_by_default(app, runner):
    result = runner.invoke(args=["create-display", "Primer pis"])
    assert result.exit_code == 0, result.output
    state = app.test_client().get(f"/api/v1/displays/{last_line(result)}/state").get_json()
    assert set(state["waiting"]) == {"OAC", "OMIC", "OFIM", "HAB", "ORGT"}
    assert state["display"]["language"] == "ca"
    assert state["display"]["layout"] == "waiting_room"


def test_create_display_for_the_entrance(app, runner):
    result = runner.invoke(args=["create-display", "Porta", "--layout", "entrance"])
    assert result.exit_code == 0, result.output
    assert "layout entrance" in result.output
    state = app.test_client().get(f"/api/v1/displays/{last_line(result)}/state").get_json()
    assert state["display"]["layout"] == "entrance"


@pytest.mark.parametrize(
    "args",
    [
        ["create-display", "Soterrani", "--offices", "OAC,XYZ"],
        ["create-display", "Soterrani", "--language", "fr"],
        ["create-display", "Soterrani", "--layout", "lobby"],
        ["create-display", "Sala d'espera"],
    ],
)
def test_create_display_refusals_create_nothing(app, runner, args):
    screens = count(app, "displays")
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert count(app, "displays") == screens


# --- revoke-token, rotate-display-key ------------------------------------------------------------


def test_revoke_token_stops_it_at_once_and_only_it(app, runner):
    door = last_line(runner.invoke(args=["create-token", "door-counter", "--role", "reception"]))
    other = last_line(runner.invoke(args=["create-token", "kiosk", "--role", "reception"]))
    client = app.test_client()
    assert client.get("/api/v1/occupancy", headers=bearer(door)).status_code == 200

    result = runner.invoke(args=["revoke-token", "door-counter"])
    assert result.exit_code == 0, result.output
    refused = client.get("/api/v1/occupancy", headers=bearer(door))
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/occupancy", headers=bearer(other)).status_code == 200
    assert rows(app, "SELECT type FROM events ORDER BY seq DESC LIMIT 1") == [("token_revoked",)]


def test_revoke_token_of_an_unknown_name_says_so(runner):
    result = runner.invoke(args=["revoke-token", "nobody"])
    assert result.exit_code != 0 and "nobody" in result.output


def test_a_revoked_token_cannot_open_a_socket(app, runner):
    from queue_app import socketio

    token = last_line(runner.invoke(args=["create-token", "tv-app", "--role", "display"]))
    runner.invoke(args=["revoke-token", "tv-app"])
    assert not socketio.test_client(app, auth={"token": token}).is_connected()


def test_rotate_display_key_retires_the_old_key(app, runner):
    client = app.test_client()
    old = rows(app, "SELECT key FROM displays WHERE name = ?", ["Sala d'espera"])[0][0]
    result = runner.invoke(args=["rotate-display-key", "Sala d'espera"])
    assert result.exit_code == 0, result.output
    new = last_line(result)
    assert TOKEN_LINE.fullmatch(new) and new != old
    assert client.get(f"/api/v1/displays/{old}/state").status_code == 404
    assert client.get(f"/api/v1/displays/{new}/state").status_code == 200
    assert runner.invoke(args=["rotate-display-key", "No such screen"]).exit_code != 0
