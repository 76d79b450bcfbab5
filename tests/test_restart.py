"""A server killed outright (power cut, OOM killer) loses nothing it acknowledged."""

import pytest
import requests

from queue_app.rules import displays

from helpers import QUEUE_VIEW_FIELDS, TICKET_FIELDS
from servers import ServerPool

# What a ticket is, as opposed to how it looks from the queue right now (position, wait).
STORED_FIELDS = sorted(TICKET_FIELDS - QUEUE_VIEW_FIELDS)


@pytest.fixture
def servers():
    """Starts ``run.py`` processes; every one still running is killed at teardown."""
    with ServerPool() as pool:
        yield pool


@pytest.fixture
def http():
    """One keep-alive HTTP client for the test."""
    with requests.Session() as session:
        yield session


class Caller:
    """``/api/v1`` of one server, as each role, over HTTP."""

    def __init__(self, http, server, tokens):
        self.http, self.base, self.tokens = http, server.url + "/api/v1", tokens

    def __call__(self, role, method, path, json=None, expect=200):
        answer = self.http.request(
            method,
            self.base + path,
            json=json,
            timeout=30,
            headers={"Authorization": f"Bearer {self.tokens[role]}"} if role else {},
        )
        assert answer.status_code == expect, answer.text
        return answer.json() if answer.content else None


def stored(ticket):
    return {field: ticket[field] for field in STORED_FIELDS}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["eventlet", "threading"])
def test_killed_server_loses_nothing_it_acknowledged(mode, db, tmp_path, tokens, servers, http):
    path = str(tmp_path / "queue.db")
    screen_key = displays.list_displays(db)[0]["key"]
    server = servers.start(path, mode=mode)
    api = Caller(http, server, tokens)

    acknowledged = {}
    for office in ["OAC"] * 5 + ["OMIC"] * 2:
        ticket = api("reception", "POST", "/tickets", {"office": office}, expect=201)
        acknowledged[ticket["id"]] = ticket
    for desk_id in (1, 2, 5):
        ticket = api("clerk", "POST", f"/desks/{desk_id}/call-next")
        acknowledged[ticket["id"]] = ticket
    a001, a002, c001 = (
        acknowledged[t["id"]] for t in api("clerk", "GET", "/tickets?status=called")
    )
    for ticket, action in ((a001, "start"), (a002, "finish"), (c001, "no-show")):
        acknowledged[ticket["id"]] = api("clerk", "POST", f"/tickets/{ticket['id']}/{action}")
    shown = api(None, "GET", f"/displays/{screen_key}/state")
    inside = api("reception", "GET", "/occupancy")
    assert (a001["code"], a002["code"], c001["code"]) == ("A001", "A002", "C001")
    assert inside["inside"] == 5  # seven came in, A002 and C001 went out

    assert server.kill() == -9
    server = servers.start(path, mode=mode)
    api = Caller(http, server, tokens)

    listed = {ticket["id"]: ticket for ticket in api("reception", "GET", "/tickets")}
    assert {i: stored(t) for i, t in listed.items()} == {
        i: stored(t) for i, t in acknowledged.items()
    }
    assert [
        listed[a001["id"]]["status"],
        listed[a002["id"]]["status"],
        listed[c001["id"]]["status"],
    ] == ["serving", "done", "no_show"]
    assert api("reception", "GET", "/occupancy") == inside
    assert api(None, "GET", f"/displays/{screen_key}/state") == shown

    a006 = api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    assert (a006["code"], a006["number"], a006["position"]) == ("A006", 6, 3)
    assert api("reception", "GET", "/occupancy")["inside"] == inside["inside"] + 1
    assert api(None, "GET", f"/displays/{screen_key}/state")["seq"] > shown["seq"]
    a003 = api("clerk", "POST", "/desks/3/call-next")
    assert a003["code"] == "A003"
    assert api(None, "GET", f"/displays/{screen_key}/state")["calls"][0]["ticket"]["code"] == "A003"
