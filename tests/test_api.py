"""The public JSON API under /api/v1, as a client sees it: answers, refusals and roles."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from queue_app.rules import desks, displays, tickets
from queue_app.storage import journal
from queue_app.storage.db import connect

from helpers import TICKET_FIELDS, log_in, travel_to

ROLES = ("display", "clerk", "reception", "admin")
TIME_KEYS = ("issued_at", "called_at", "started_at", "finished_at")
TABLES = (
    "offices",
    "desks",
    "desk_offices",
    "tickets",
    "users",
    "api_tokens",
    "settings",
    "events",
    "displays",
)


@pytest.fixture
def app(reused_app):
    """One app for this module's tests, given back as new to each (they only make requests)."""
    return reused_app


# --- helpers -------------------------------------------------------------------------------


class Caller:
    """Requests to /api/v1 as a role, as nobody, or with a raw Authorization header."""

    def __init__(self, client, tokens):
        self.client, self.tokens = client, tokens

    def __call__(self, method, path, who=None, body=None, headers=None):
        """``body``: a dict is sent as JSON, a str or bytes as the raw body, None as nothing."""
        sent = dict(headers or {})
        if who in self.tokens:
            sent["Authorization"] = f"Bearer {self.tokens[who]}"
        elif who is not None:
            sent["Authorization"] = who
        kwargs = {}
        if isinstance(body, (str, bytes)):
            kwargs = {"data": body, "content_type": "application/json"}
        elif body is not None:
            kwargs = {"json": body}
        return self.client.open("/api/v1" + path, method=method, headers=sent, **kwargs)


@pytest.fixture
def call(client, tokens):
    return Caller(client, tokens)


def issue(call, office="OAC", **fields):
    response = call("POST", "/tickets", "reception", {"office": office, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def call_next(call, desk_id):
    response = call("POST", f"/desks/{desk_id}/call-next", "clerk")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def act(call, ticket_id, action, who="clerk", body=None):
    response = call("POST", f"/tickets/{ticket_id}/{action}", who, body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def dump(app):
    """Every row of every table: what a refused request must leave as it was."""
    db = connect(app.config["DATABASE"])
    try:
        return {
            table: [tuple(row) for row in db.execute(f"SELECT * FROM {table} ORDER BY rowid")]
            for table in TABLES
        }
    finally:
        db.close()


def last_seq(app):
    db = connect(app.config["DATABASE"])
    try:
        return journal.last_seq(db)
    finally:
        db.close()


def display_key(app):
    db = connect(app.config["DATABASE"])
    try:
        return displays.list_displays(db)[0]["key"]
    finally:
        db.close()


def assert_iso_with_offset(value, near=None):
    moment = datetime.fromisoformat(value)
    assert moment.utcoffset() is not None, value
    if near is not None:
        assert abs(moment - near) < timedelta(minutes=2), value


def assert_ticket(ticket, public=False):
    """The contract's ticket shape, with the types a client relies on."""
    expected = TICKET_FIELDS - {"id"} if public else TICKET_FIELDS
    assert expected <= set(ticket), expected - set(ticket)
    if public:
        assert "id" not in ticket
    else:
        assert isinstance(ticket["id"], int)
    assert re.fullmatch(r"[A-Z]\d{3,}", ticket["code"])
    assert int(ticket["code"][1:]) == ticket["number"]
    assert isinstance(ticket["office"], str)
    assert ticket["kind"] in ("walk_in", "appointment", "urgent")
    assert isinstance(ticket["priority"], bool)
    assert isinstance(ticket["party_size"], int) and not isinstance(ticket["party_size"], bool)
    assert ticket["status"] in tickets.STATUSES
    assert ticket["desk"] is None or isinstance(ticket["desk"], str)
    for key in TIME_KEYS:
        if ticket[key] is not None:
            assert_iso_with_offset(ticket[key])
    assert_iso_with_offset(ticket["issued_at"], near=datetime.now(timezone.utc))
    assert isinstance(ticket["recalls"], int)
    if ticket["status"] == "waiting":
        assert isinstance(ticket["position"], int) and ticket["position"] >= 0
    else:
        assert ticket["position"] is None
    assert ticket["estimated_wait_s"] is None or isinstance(ticket["estimated_wait_s"], int)
    assert isinstance(ticket["token"], str) and len(ticket["token"]) >= 16


def assert_error(response, status, code=None):
    """The contract's error body, exactly ``{"error": {"code", "message"}}``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", body["error"]["code"])
    assert isinstance(body["error"]["message"], str) and body["error"]["message"].strip()
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


# --- GET /offices, GET /desks ---------------------------------------------------------------


def test_offices_list_each_office_with_its_letter_and_waiting_count(call):
    issue(call, "OAC")
    issue(call, "OAC")
    issue(call, "HAB")
    response = call("GET", "/offices", "display")
    assert response.status_code == 200
    offices = response.get_json()
    assert [(o["code"], o["letter"]) for o in offices] == [
        ("OAC", "A"),
        ("OMIC", "C"),
        ("OFIM", "I"),
        ("HAB", "H"),
        ("ORGT", "T"),
    ]
    assert all(isinstance(o["name"], str) and o["name"] for o in offices)
    assert {o["code"]: o["waiting"] for o in offices} == {
        "OAC": 2,
        "OMIC": 0,
        "OFIM": 0,
        "HAB": 1,
        "ORGT": 0,
    }


def test_desks_list_offices_served_current_ticket_and_pause(call):
    response = call("GET", "/desks", "display")
    assert response.status_code == 200
    desks = response.get_json()
    assert [d["id"] for d in desks] == list(range(1, 9))
    assert [d["name"] for d in desks] == [f"Taulell {n}" for n in range(1, 9)]
    assert [d["offices"] for d in desks] == [["OAC"]] * 4 + [["OMIC"], ["OFIM"], ["HAB"], ["ORGT"]]
    assert all(d["current"] is None and d["paused"] is False for d in desks)

    issue(call)
    called = call_next(call, 1)
    desk = call("GET", "/desks", "clerk").get_json()[0]
    assert_ticket(desk["current"])
    assert desk["current"]["id"] == called["id"]
    assert desk["current"]["status"] == "called"


# --- POST /tickets ---------------------------------------------------------------------------


def test_issue_ticket_with_defaults(call, app):
    seq = last_seq(app)
    first = call("POST", "/tickets", "reception", {"office": "OAC"})
    assert first.status_code == 201
    ticket = first.get_json()
    assert_ticket(ticket)
    assert ticket["code"] == "A001" and ticket["office"] == "OAC" and ticket["number"] == 1
    assert (ticket["kind"], ticket["priority"], ticket["party_size"]) == ("walk_in", False, 1)
    assert ticket["status"] == "waiting" and ticket["desk"] is None
    assert ticket["called_at"] is ticket["started_at"] is ticket["finished_at"] is None
    assert ticket["recalls"] == 0 and ticket["position"] == 0
    assert ticket["estimated_wait_s"] is None  # no desk is staffed yet (docs/api.md)
    assert last_seq(app) > seq

    second = issue(call, "OAC")
    assert (second["code"], second["position"]) == ("A002", 1)
    assert second["token"] != ticket["token"]
    assert issue(call, "OMIC")["code"] == "C001"
    assert call("GET", "/occupancy", "reception").get_json()["inside"] == 3


def test_issue_ticket_with_every_field(call):
    booked = "2031-03-02T10:30:00+01:00"
    ticket = issue(
        call, "HAB", kind="appointment", priority=True, party_size=3, appointment_at=booked
    )
    assert_ticket(ticket)
    assert (ticket["code"], ticket["kind"], ticket["priority"], ticket["party_size"]) == (
        "H001",
        "appointment",
        True,
        3,
    )
    assert datetime.fromisoformat(ticket["appointment_at"]) == datetime.fromisoformat(booked)
    assert issue(call, "HAB", kind="urgent")["kind"] == "urgent"
    assert issue(call, "HAB", kind="appointment")["kind"] == "appointment"
    assert call("GET", "/occupancy", "reception").get_json()["inside"] == 5


def test_issue_ticket_refused_when_the_party_does_not_fit(call, app):
    assert call("PUT", "/occupancy", "admin", {"inside": 49}).status_code == 200
    before = dump(app)
    assert_error(
        call("POST", "/tickets", "reception", {"office": "OAC", "party_size": 2}),
        409,
        "capacity_full",
    )
    assert dump(app) == before
    assert issue(call, "OAC")["code"] == "A001"
    assert call("GET", "/occupancy", "reception").get_json() == {
        "inside": 50,
        "limit": 50,
        "full": True,
        "outside": 0,
        "next_in": [],
    }


# --- GET /tickets, GET /tickets/<token> --------------------------------------------------------


def test_list_todays_tickets_with_filters(call):
    a1, a2, c1 = issue(call, "OAC"), issue(call, "OAC"), issue(call, "OMIC")
    call_next(call, 1)
    for who in ("clerk", "reception"):
        response = call("GET", "/tickets", who)
        assert response.status_code == 200
        listed = response.get_json()
        for ticket in listed:
            assert_ticket(ticket)
        assert [t["code"] for t in listed] == ["A001", "A002", "C001"]

    def codes(query):
        return [t["code"] for t in call("GET", "/tickets" + query, "clerk").get_json()]

    assert codes("?office=OAC") == ["A001", "A002"]
    assert codes("?status=waiting") == ["A002", "C001"]
    assert codes("?office=OAC&status=called") == ["A001"]
    assert codes("?office=OFIM") == []
    assert {a1["id"], a2["id"], c1["id"]} == {
        t["id"] for t in call("GET", "/tickets", "clerk").get_json()
    }


def test_public_ticket_by_token_has_no_id(call):
    issue(call, "OAC")
    mine = issue(call, "OAC", party_size=2)
    response = call("GET", f"/tickets/{mine['token']}")
    assert response.status_code == 200
    public = response.get_json()
    assert_ticket(public, public=True)
    assert public == {k: v for k, v in mine.items() if k != "id"}
    assert public["position"] == 1

    call_next(call, 1)
    call_next(call, 2)
    public = call("GET", f"/tickets/{mine['token']}").get_json()
    assert (public["status"], public["desk"], public["position"]) == ("called", "Taulell 2", None)


# --- desks: call-next, pause, resume -----------------------------------------------------------


def test_call_next_answers_204_with_empty_body_when_nothing_waits(call):
    response = call("POST", "/desks/1/call-next", "clerk")
    assert response.status_code == 204
    assert response.get_data() == b""
    issue(call, "OAC")
    empty_for_omic = call("POST", "/desks/5/call-next", "clerk")
    assert empty_for_omic.status_code == 204 and empty_for_omic.get_data() == b""


def test_call_next_gives_the_desk_the_next_ticket(call):
    waiting = issue(call, "OAC")
    response = call("POST", "/desks/3/call-next", "clerk")
    assert response.status_code == 200
    ticket = response.get_json()
    assert_ticket(ticket)
    assert ticket["id"] == waiting["id"]
    assert (ticket["status"], ticket["desk"], ticket["position"]) == ("called", "Taulell 3", None)
    assert_iso_with_offset(ticket["called_at"], near=datetime.now(timezone.utc))
    offices = {o["code"]: o["waiting"] for o in call("GET", "/offices", "clerk").get_json()}
    assert offices["OAC"] == 0


@pytest.fixture
def two_office_desk(app):
    """Taulell 1 serves OAC and OMIC."""
    db = connect(app.config["DATABASE"])
    try:
        desks.set_offices(db, 1, ["OAC", "OMIC"])
    finally:
        db.close()
    return 1


def test_a_desks_queue_is_exactly_the_order_call_next_gives(call, two_office_desk):
    """A001 and A002, then an urgent C001 at a desk serving both offices: the queue the desk
    page shows puts C001 first, as call-next does (it once listed A001, C001, A002)."""
    issue(call, "OAC")
    issue(call, "OAC")
    issue(call, "OMIC", kind="urgent")
    issue(call, "OMIC", priority=True)
    issue(call, "OAC", kind="appointment")
    queue = call("GET", f"/desks/{two_office_desk}/queue", "clerk").get_json()
    assert [t["code"] for t in queue] == ["C001", "A003", "C002", "A001", "A002"]
    called = []
    while queue:
        ticket = call_next(call, two_office_desk)
        assert ticket["code"] == queue[0]["code"]
        called.append(ticket["code"])
        act(call, ticket["id"], "finish")
        queue = call("GET", f"/desks/{two_office_desk}/queue", "reception").get_json()
    assert called == ["C001", "A003", "C002", "A001", "A002"]


def test_a_desks_queue_of_an_unknown_desk_is_404(call):
    assert call("GET", "/desks/99/queue", "clerk").status_code == 404


def test_call_next_order_urgent_then_priority_then_the_rest(call):
    plain = issue(call, "OAC")
    priority = issue(call, "OAC", priority=True)
    urgent = issue(call, "OAC", kind="urgent")
    order = []
    for _ in range(3):
        ticket = call_next(call, 1)
        order.append(ticket["id"])
        act(call, ticket["id"], "finish")
    assert order == [urgent["id"], priority["id"], plain["id"]]


def test_call_next_refused_while_the_desk_is_busy(call, app):
    issue(call, "OAC")
    issue(call, "OAC")
    current = call_next(call, 1)
    before = dump(app)
    assert_error(call("POST", "/desks/1/call-next", "clerk"), 409, "desk_busy")
    assert dump(app) == before
    act(call, current["id"], "start")
    assert_error(call("POST", "/desks/1/call-next", "clerk"), 409, "desk_busy")
    act(call, current["id"], "finish")
    assert call_next(call, 1)["code"] == "A002"


def test_pause_and_resume_a_desk(call):
    waiting = issue(call, "OMIC")
    assert waiting["estimated_wait_s"] is None  # nobody at the OMIC desk yet
    response = call("POST", "/desks/5/pause", "clerk", {"reason": "esmorzar"})
    assert response.status_code == 200
    desk = response.get_json()
    assert (desk["id"], desk["name"], desk["offices"], desk["paused"]) == (
        5,
        "Taulell 5",
        ["OMIC"],
        True,
    )
    assert desk["current"] is None
    assert call("GET", "/desks", "display").get_json()[4]["paused"] is True
    # The only OMIC desk is paused: it is not open, so no wait can be estimated.
    assert call("GET", f"/tickets/{waiting['token']}").get_json()["estimated_wait_s"] is None
    assert_error(call("POST", "/desks/5/call-next", "clerk"), 409, "desk_paused")

    response = call("POST", "/desks/5/resume", "clerk")
    assert response.status_code == 200 and response.get_json()["paused"] is False
    # A desk that has just acted is staffed: the wait can be estimated again.
    assert isinstance(
        call("GET", f"/tickets/{waiting['token']}").get_json()["estimated_wait_s"], int
    )
    assert call_next(call, 5)["id"] == waiting["id"]
    assert call("POST", "/desks/6/pause", "clerk").get_json()["paused"] is True


# --- ticket actions ------------------------------------------------------------------------


def test_recall_announces_the_ticket_again(call, app):
    ticket = issue(call, "OAC")
    call_next(call, 1)
    recalled = act(call, ticket["id"], "recall")
    assert_ticket(recalled)
    assert (recalled["status"], recalled["recalls"], recalled["desk"]) == ("called", 1, "Taulell 1")
    assert act(call, ticket["id"], "recall")["recalls"] == 2
    state = call("GET", f"/displays/{display_key(app)}/state").get_json()
    assert state["calls"][0]["recall"] is True
    assert state["calls"][0]["ticket"]["code"] == "A001"


def test_start_then_finish_lets_the_party_out(call):
    ticket = issue(call, "OAC", party_size=4)
    call_next(call, 1)
    started = act(call, ticket["id"], "start")
    assert_ticket(started)
    assert started["status"] == "serving"
    assert_iso_with_offset(started["started_at"], near=datetime.now(timezone.utc))
    assert call("GET", "/occupancy", "display").get_json()["inside"] == 4
    finished = act(call, ticket["id"], "finish")
    assert_ticket(finished)
    assert finished["status"] == "done"
    assert_iso_with_offset(finished["finished_at"], near=datetime.now(timezone.utc))
    assert call("GET", "/occupancy", "display").get_json()["inside"] == 0
    assert call("GET", "/desks", "display").get_json()[0]["current"] is None


def test_finish_straight_from_called(call):
    ticket = issue(call, "OAC")
    call_next(call, 1)
    assert act(call, ticket["id"], "finish")["status"] == "done"


def test_no_show_closes_a_called_ticket(call):
    ticket = issue(call, "OFIM", party_size=2)
    call_next(call, 6)
    closed = act(call, ticket["id"], "no-show")
    assert_ticket(closed)
    assert closed["status"] == "no_show" and closed["finished_at"] is not None
    assert call("GET", "/occupancy", "display").get_json()["inside"] == 0


def test_transfer_keeps_the_code_and_waits_in_the_new_office(call):
    ticket = issue(call, "OAC")
    call_next(call, 1)
    moved = act(call, ticket["id"], "transfer", body={"office": "OMIC"})
    assert_ticket(moved)
    assert (moved["id"], moved["code"], moved["office"], moved["status"], moved["desk"]) == (
        ticket["id"],
        "A001",
        "OMIC",
        "waiting",
        None,
    )
    assert moved["issued_at"] == ticket["issued_at"] and moved["called_at"] is None
    assert moved["position"] == 0
    assert call("GET", "/desks", "clerk").get_json()[0]["current"] is None
    assert call("POST", "/desks/1/call-next", "clerk").status_code == 204
    assert call_next(call, 5)["code"] == "A001"
    # Numbering stays per office of issue: the next OAC ticket is A002, OMIC's is C001.
    assert issue(call, "OAC")["code"] == "A002"
    assert issue(call, "OMIC")["code"] == "C001"


@pytest.mark.parametrize("who", ["reception", "clerk"])
def test_cancel_a_waiting_or_serving_ticket(call, who):
    waiting = issue(call, "OAC", party_size=2)
    cancelled = act(call, waiting["id"], "cancel", who=who)
    assert_ticket(cancelled)
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"] is not None
    serving = issue(call, "OAC")
    call_next(call, 1)
    act(call, serving["id"], "start")
    assert act(call, serving["id"], "cancel", who=who)["status"] == "cancelled"
    assert call("GET", "/occupancy", "display").get_json()["inside"] == 0


# --- occupancy ------------------------------------------------------------------------------


def test_occupancy_read_entries_and_exits(call, app):
    response = call("GET", "/occupancy", "display")
    assert response.status_code == 200
    assert response.get_json() == {
        "inside": 0,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert call("POST", "/occupancy/entries", "reception").get_json() == {
        "inside": 1,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert call("POST", "/occupancy/entries", "reception", {"count": 5}).get_json()["inside"] == 6
    assert call("POST", "/occupancy/exits", "reception").get_json()["inside"] == 5
    response = call("POST", "/occupancy/exits", "reception", {"count": 10})
    assert response.status_code == 200 and response.get_json()["inside"] == 0
    assert call("POST", "/occupancy/entries", "reception", {"count": 50}).get_json() == {
        "inside": 50,
        "limit": 50,
        "full": True,
        "outside": 0,
        "next_in": [],
    }
    before = dump(app)
    assert_error(call("POST", "/occupancy/entries", "reception"), 409, "capacity_full")
    assert dump(app) == before
    assert call("GET", "/occupancy", "display").get_json()["inside"] == 50


def test_admin_sets_limit_and_inside(call):
    response = call("PUT", "/occupancy", "admin", {"limit": 60})
    assert response.status_code == 200
    assert response.get_json() == {
        "inside": 0,
        "limit": 60,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert call("PUT", "/occupancy", "admin", {"inside": 60}).get_json() == {
        "inside": 60,
        "limit": 60,
        "full": True,
        "outside": 0,
        "next_in": [],
    }
    assert call("PUT", "/occupancy", "admin", {"inside": 12, "limit": 40}).get_json() == {
        "inside": 12,
        "limit": 40,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert call("GET", "/occupancy", "display").get_json() == {
        "inside": 12,
        "limit": 40,
        "full": False,
        "outside": 0,
        "next_in": [],
    }


# --- display state ----------------------------------------------------------------------------


def test_display_state_with_its_key(call, app):
    issue(call, "OAC")
    issue(call, "HAB")
    issue(call, "HAB", party_size=2)
    call_next(call, 1)
    call_next(call, 7)
    response = call("GET", f"/displays/{display_key(app)}/state")
    assert response.status_code == 200
    state = response.get_json()
    assert state["seq"] == last_seq(app)
    assert state["waiting"] == {"OAC": 0, "OMIC": 0, "OFIM": 0, "HAB": 1, "ORGT": 0}
    assert state["occupancy"] == {
        "inside": 4,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    assert [(c["ticket"]["code"], c["desk"], c["recall"]) for c in state["calls"]] == [
        ("H001", "Taulell 7", False),
        ("A001", "Taulell 1", False),
    ]
    assert all(isinstance(c["seq"], int) for c in state["calls"])
    # A display never receives personal data: no token, no id, no party size.
    for called in state["calls"]:
        assert not {"token", "id", "party_size"} & set(called["ticket"])
    assert "token" not in response.get_data(as_text=True)


# --- refusals: status, error body, and nothing written ---------------------------------------


@pytest.fixture
def world(call, app):
    """A busy morning: desk 1 busy, desk 5 paused, one ticket done, the building full."""
    called = issue(call, "OAC")
    call_next(call, 1)
    waiting = issue(call, "OAC")
    issue(call, "OMIC")
    assert call("POST", "/desks/5/pause", "clerk").status_code == 200
    done = issue(call, "HAB")
    call_next(call, 7)
    act(call, done["id"], "finish")
    assert call("PUT", "/occupancy", "admin", {"inside": 50}).status_code == 200
    return {
        "called": called["id"],
        "waiting": waiting["id"],
        "done": done["id"],
        "key": display_key(app),
    }


BIG = '{"office": "' + "A" * (65 * 1024) + '"}'
REFUSALS = [
    # who, method, path, body, status, code
    # 401: no, bad or garbage credentials
    (None, "GET", "/offices", None, 401, None),
    (None, "GET", "/desks", None, 401, None),
    (None, "POST", "/tickets", {"office": "OAC"}, 401, None),
    (None, "GET", "/tickets", None, 401, None),
    (None, "POST", "/desks/2/call-next", None, 401, None),
    (None, "POST", "/tickets/{waiting}/cancel", None, 401, None),
    (None, "POST", "/occupancy/exits", None, 401, None),
    (None, "PUT", "/occupancy", {"limit": 70}, 401, None),
    ("Bearer torn_not-a-real-token", "GET", "/occupancy", None, 401, None),
    ("Bearer torn_not-a-real-token", "POST", "/occupancy/exits", None, 401, None),
    ("Bearer", "GET", "/desks", None, 401, None),
    ("Basic YWRtaW46YWRtaW4tZGVtbw==", "POST", "/desks/2/pause", None, 401, None),
    ("garbage", "POST", "/tickets/{called}/finish", None, 401, None),
    # 403: a role not allowed
    ("display", "POST", "/tickets", {"office": "OAC"}, 403, None),
    ("display", "GET", "/tickets", None, 403, None),
    ("display", "POST", "/tickets/{waiting}/cancel", None, 403, None),
    ("clerk", "POST", "/tickets", {"office": "OAC"}, 403, None),
    ("clerk", "POST", "/occupancy/exits", None, 403, None),
    ("clerk", "PUT", "/occupancy", {"limit": 70}, 403, None),
    ("reception", "POST", "/desks/2/call-next", None, 403, None),
    ("reception", "POST", "/desks/2/pause", None, 403, None),
    ("reception", "POST", "/tickets/{called}/finish", None, 403, None),
    ("reception", "POST", "/tickets/{waiting}/transfer", {"office": "OMIC"}, 403, None),
    ("reception", "PUT", "/occupancy", {"limit": 70}, 403, None),
    # 400: invalid input on POST /tickets
    ("reception", "POST", "/tickets", '{"office": "OAC"', 400, None),
    ("reception", "POST", "/tickets", b"\xff\xfe\x00{", 400, None),
    ("reception", "POST", "/tickets", '["OAC"]', 400, None),
    ("reception", "POST", "/tickets", '"OAC"', 400, None),
    ("reception", "POST", "/tickets", "null", 400, None),
    ("reception", "POST", "/tickets", "[" * 30000 + "]" * 30000, 400, None),
    ("reception", "POST", "/tickets", {}, 400, None),
    ("reception", "POST", "/tickets", {"office": 1}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "colour": "red"}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "kind": "vip"}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "kind": 2}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "priority": "yes"}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "priority": 1}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "party_size": "2"}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "party_size": 0}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "party_size": 21}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "party_size": 1.5}, 400, None),
    ("reception", "POST", "/tickets", {"office": "OAC", "party_size": True}, 400, None),
    (
        "reception",
        "POST",
        "/tickets",
        {"office": "OAC", "kind": "appointment", "appointment_at": "demà"},
        400,
        None,
    ),
    (
        "reception",
        "POST",
        "/tickets",
        {"office": "OAC", "kind": "appointment", "appointment_at": 1700000000},
        400,
        None,
    ),
    (
        "reception",
        "POST",
        "/tickets",
        {"office": "OAC", "appointment_at": "2031-03-02T10:30:00+01:00"},
        400,
        None,
    ),
    # Years a date can be written with but not moved between time zones (were 500s).
    (
        "reception",
        "POST",
        "/tickets",
        {"office": "OAC", "kind": "appointment", "appointment_at": "0001-01-01T00:00:00+01:00"},
        400,
        None,
    ),
    (
        "reception",
        "POST",
        "/tickets",
        {"office": "OAC", "kind": "appointment", "appointment_at": "9999-12-31T23:59:00-05:00"},
        400,
        None,
    ),
    (
        "reception",
        "POST",
        "/tickets",
        {"office": "OAC", "kind": "appointment", "appointment_at": "1850-06-10T09:00:00"},
        400,
        None,
    ),
    # 400 elsewhere
    ("clerk", "GET", "/tickets?status=lost", None, 400, None),
    ("clerk", "POST", "/desks/2/call-next", {"office": "OAC"}, 400, None),
    ("clerk", "POST", "/desks/2/call-next", "{", 400, None),
    ("clerk", "POST", "/desks/2/pause", {"reason": 5}, 400, None),
    ("clerk", "POST", "/desks/2/pause", {"reason": "x" * 500}, 400, None),
    ("clerk", "POST", "/desks/2/pause", {"why": "break"}, 400, None),
    ("clerk", "POST", "/desks/5/resume", "[]", 400, None),
    ("clerk", "POST", "/tickets/{called}/recall", {"loud": True}, 400, None),
    ("clerk", "POST", "/tickets/{called}/start", "{oops}", 400, None),
    ("clerk", "POST", "/tickets/{called}/finish", {"note": "ok"}, 400, None),
    ("clerk", "POST", "/tickets/{called}/no-show", "[1]", 400, None),
    ("clerk", "POST", "/tickets/{waiting}/transfer", {}, 400, None),
    ("clerk", "POST", "/tickets/{waiting}/transfer", {"office": 3}, 400, None),
    ("clerk", "POST", "/tickets/{waiting}/transfer", {"office": "OMIC", "desk": 5}, 400, None),
    ("clerk", "POST", "/tickets/{waiting}/cancel", "null", 400, None),
    ("reception", "POST", "/occupancy/exits", {"count": 0}, 400, None),
    ("reception", "POST", "/occupancy/exits", {"count": -1}, 400, None),
    ("reception", "POST", "/occupancy/exits", {"count": "1"}, 400, None),
    ("reception", "POST", "/occupancy/exits", {"count": True}, 400, None),
    ("reception", "POST", "/occupancy/exits", {"people": 1}, 400, None),
    ("reception", "POST", "/occupancy/entries", {"count": 2.0}, 400, None),
    ("admin", "PUT", "/occupancy", {"limit": 0}, 400, None),
    ("admin", "PUT", "/occupancy", {"inside": -1}, 400, None),
    ("admin", "PUT", "/occupancy", {"inside": "5"}, 400, None),
    ("admin", "PUT", "/occupancy", {"full": False}, 400, None),
    ("admin", "PUT", "/occupancy", '{"limit": 60', 400, None),
    # 404: unknown desk, ticket, token, display key, office
    ("clerk", "POST", "/desks/99/call-next", None, 404, None),
    ("clerk", "POST", "/desks/99/pause", None, 404, None),
    ("clerk", "POST", "/desks/99/resume", None, 404, None),
    ("clerk", "POST", "/tickets/9999/recall", None, 404, None),
    ("clerk", "POST", "/tickets/9999/start", None, 404, None),
    ("clerk", "POST", "/tickets/9999/finish", None, 404, None),
    ("clerk", "POST", "/tickets/9999/no-show", None, 404, None),
    ("clerk", "POST", "/tickets/9999/transfer", {"office": "OMIC"}, 404, None),
    ("clerk", "POST", "/tickets/9999/cancel", None, 404, None),
    (None, "GET", "/tickets/no-such-token", None, 404, None),
    (None, "GET", "/displays/no-such-key/state", None, 404, None),
    ("admin", "POST", "/tickets", {"office": "XYZ"}, 404, None),
    ("clerk", "GET", "/tickets?office=XYZ", None, 404, None),
    ("clerk", "POST", "/tickets/{waiting}/transfer", {"office": "XYZ"}, 404, None),
    # 409: conflicts with the current state
    ("reception", "POST", "/tickets", {"office": "OAC"}, 409, "capacity_full"),
    ("reception", "POST", "/occupancy/entries", None, 409, "capacity_full"),
    ("clerk", "POST", "/desks/1/call-next", None, 409, "desk_busy"),
    ("clerk", "POST", "/desks/5/call-next", None, 409, "desk_paused"),
    ("clerk", "POST", "/tickets/{waiting}/recall", None, 409, "invalid_transition"),
    ("clerk", "POST", "/tickets/{waiting}/start", None, 409, "invalid_transition"),
    ("clerk", "POST", "/tickets/{waiting}/finish", None, 409, "invalid_transition"),
    ("clerk", "POST", "/tickets/{waiting}/no-show", None, 409, "invalid_transition"),
    ("clerk", "POST", "/tickets/{waiting}/transfer", {"office": "OAC"}, 409, "invalid_transition"),
    ("clerk", "POST", "/tickets/{done}/recall", None, 409, "invalid_transition"),
    ("clerk", "POST", "/tickets/{done}/start", None, 409, "invalid_transition"),
    ("clerk", "POST", "/tickets/{done}/finish", None, 409, "invalid_transition"),
    ("clerk", "POST", "/tickets/{done}/no-show", None, 409, "invalid_transition"),
    ("clerk", "POST", "/tickets/{done}/transfer", {"office": "OMIC"}, 409, "invalid_transition"),
    ("reception", "POST", "/tickets/{done}/cancel", None, 409, "invalid_transition"),
    # HTTP-level refusals under /api/v1 are JSON too
    ("admin", "GET", "/queues", None, 404, None),
    ("admin", "DELETE", "/occupancy", None, 405, None),
    ("admin", "PUT", "/offices", {"code": "NEW"}, 405, None),
    ("reception", "POST", "/tickets", BIG, 413, None),
]


def _refusal_id(case):
    who, method, path, body, status, _ = case
    shown = who if who in ROLES or who is None else "raw-auth"
    return f"{status}-{method}-{path}-{shown}-{str(body)[:24]}"


@pytest.mark.parametrize(
    "who,method,path,body,status,code", REFUSALS, ids=[_refusal_id(case) for case in REFUSALS]
)
def test_refusal_answers_the_error_body_and_writes_nothing(
    call, app, world, who, method, path, body, status, code
):
    before = dump(app)
    response = call(method, path.format(**world), who, body)
    assert_error(response, status, code)
    assert dump(app) == before


def test_bad_token_401_and_wrong_role_403_bodies(call):
    unauthorized = assert_error(call("GET", "/offices", "Bearer torn_nope"), 401)
    forbidden = assert_error(call("GET", "/tickets", "display"), 403)
    assert unauthorized["code"] != forbidden["code"]


def test_unknown_path_405_and_413_are_json(call):
    assert_error(call("GET", "/no/such/thing"), 404)
    assert_error(call("GET", "/no/such/thing", "admin"), 404)
    not_allowed = call("DELETE", "/tickets", "admin")
    assert_error(not_allowed, 405)
    assert set(not_allowed.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert_error(call("POST", "/occupancy/entries", "reception", BIG), 413)
    # Just under the limit is read normally (and refused for its content, not its size).
    near = '{"count": 1, "x": "' + "y" * (60 * 1024) + '"}'
    assert_error(call("POST", "/occupancy/entries", "reception", near), 400)


# --- error messages in the user's language ---------------------------------------------------


def test_error_message_in_catalan_by_default_and_spanish_on_request(call):
    catalan = assert_error(call("GET", "/tickets", "display"), 403)
    spanish = assert_error(
        call("GET", "/tickets", "display", headers={"Accept-Language": "es"}), 403
    )
    english = assert_error(
        call("GET", "/tickets", "display", headers={"Accept-Language": "en"}), 403
    )
    assert "vostre rol" in catalan["message"]
    assert "Su rol" in spanish["message"]
    assert len({catalan["message"], spanish["message"], english["message"]}) == 3
    assert catalan["code"] == spanish["code"] == english["code"]

    assert call("PUT", "/occupancy", "admin", {"inside": 50}).status_code == 200
    full_es = assert_error(
        call(
            "POST", "/occupancy/entries", "reception", headers={"Accept-Language": "es-ES,es;q=0.9"}
        ),
        409,
        "capacity_full",
    )
    full_ca = assert_error(call("POST", "/occupancy/entries", "reception"), 409, "capacity_full")
    assert "edificio" in full_es["message"] and "edifici " in full_ca["message"]


def test_messages_naming_a_field_or_a_limit_are_translated_too(call):
    body = {"office": "OAC", "party_size": 21}
    said = {
        lang: assert_error(
            call("POST", "/tickets", "reception", body, headers={"Accept-Language": lang}), 400
        )["message"]
        for lang in ("ca", "es", "en")
    }
    assert said == {
        "ca": "el nombre de persones del grup ha de ser un enter d'1 a 20.",
        "es": "el número de personas del grupo debe ser un entero de 1 a 20.",
        "en": "party_size must be a whole number from 1 to 20.",
    }


# --- role matrix -------------------------------------------------------------------------------

ANY = ("display", "clerk", "reception")
PUBLIC = "public"
ENDPOINTS = [
    ("GET", "/offices", None, ANY),
    ("GET", "/desks", None, ANY),
    ("POST", "/tickets", {"office": "OAC"}, ("reception",)),
    ("GET", "/tickets", None, ("reception", "clerk")),
    ("GET", "/tickets/{token}", None, PUBLIC),
    ("POST", "/desks/1/call-next", None, ("clerk",)),
    ("POST", "/desks/1/pause", {"reason": "cafè"}, ("clerk",)),
    ("POST", "/desks/1/resume", None, ("clerk",)),
    ("POST", "/tickets/{id}/recall", None, ("clerk",)),
    ("POST", "/tickets/{id}/start", None, ("clerk",)),
    ("POST", "/tickets/{id}/finish", None, ("clerk",)),
    ("POST", "/tickets/{id}/no-show", None, ("clerk",)),
    ("POST", "/tickets/{id}/transfer", {"office": "OMIC"}, ("clerk",)),
    ("POST", "/tickets/{id}/cancel", None, ("reception", "clerk")),
    ("GET", "/occupancy", None, ANY),
    ("POST", "/occupancy/entries", {"count": 1}, ("reception",)),
    ("POST", "/occupancy/exits", {"count": 1}, ("reception",)),
    ("PUT", "/occupancy", {"limit": 60}, ()),
    ("GET", "/displays/{key}/state", None, PUBLIC),
]


def _expected(roles, who):
    if roles == PUBLIC or who == "admin" or who in roles:
        return "allowed"
    return 401 if who is None else 403


MATRIX = [
    (method, path, body, who, _expected(roles, who))
    for method, path, body, roles in ENDPOINTS
    for who in (None, *ROLES)
]


@pytest.fixture
def resources(app):
    """A real waiting ticket and the display key, so an allowed call never meets a 404."""
    db = connect(app.config["DATABASE"])
    try:
        ticket = tickets.issue(db, "OAC").value
        return {
            "id": ticket["id"],
            "token": ticket["token"],
            "key": displays.list_displays(db)[0]["key"],
        }
    finally:
        db.close()


@pytest.mark.parametrize(
    "method,path,body,who,expected",
    MATRIX,
    ids=[f"{m} {p} as {w or 'nobody'}" for m, p, _, w, _ in MATRIX],
)
def test_role_matrix(call, resources, method, path, body, who, expected):
    response = call(method, path.format(**resources), who, body)
    if expected == "allowed":
        assert response.status_code not in (401, 403, 404, 405), response.get_data(as_text=True)
        assert response.status_code < 500, response.get_data(as_text=True)
    else:
        assert_error(response, expected)


# --- the daily roll-over -----------------------------------------------------------------------


def test_first_request_of_a_new_day_closes_yesterday(call, app, monkeypatch):
    waiting = issue(call, "OAC", party_size=3)
    called = issue(call, "OAC")
    call_next(call, 1)
    served = issue(call, "HAB")
    call_next(call, 7)
    act(call, served["id"], "start")
    finished = issue(call, "OMIC")
    call_next(call, 5)
    act(call, finished["id"], "finish")
    assert call("GET", "/occupancy", "display").get_json()["inside"] == 5

    travel_to(monkeypatch, datetime.now(timezone.utc) + timedelta(days=1))
    assert call("GET", "/occupancy", "display").get_json() == {
        "inside": 0,
        "limit": 50,
        "full": False,
        "outside": 0,
        "next_in": [],
    }
    for ticket in (waiting, called, served):
        seen = call("GET", f"/tickets/{ticket['token']}").get_json()
        assert seen["status"] == "expired" and seen["finished_at"] is not None
    assert call("GET", f"/tickets/{finished['token']}").get_json()["status"] == "done"
    assert call("GET", "/tickets", "clerk").get_json() == []
    assert all(o["waiting"] == 0 for o in call("GET", "/offices", "display").get_json())
    assert all(d["current"] is None for d in call("GET", "/desks", "display").get_json())
    assert call("POST", "/desks/1/call-next", "clerk").status_code == 204

    fresh = issue(call, "OAC")
    assert (fresh["code"], fresh["number"]) == ("A001", 1)
    assert call_next(call, 1)["id"] == fresh["id"]
    db = connect(app.config["DATABASE"])
    try:
        started = db.execute("SELECT COUNT(*) FROM events WHERE type = 'day_started'").fetchone()
    finally:
        db.close()
    assert started[0] >= 1


def test_the_day_rolls_over_once(call, app, monkeypatch):
    issue(call, "OAC")
    travel_to(monkeypatch, datetime.now(timezone.utc) + timedelta(days=1))
    call("GET", "/occupancy", "display")
    seq = last_seq(app)
    for _ in range(3):
        assert call("GET", "/offices", "display").status_code == 200
    assert last_seq(app) == seq


def test_a_bearer_token_speaks_for_the_request_over_a_session_cookie(app, client, api):
    log_in(app, client, "taulell1")  # a clerk's browser session on the same client
    assert api.as_("reception").post("/tickets", {"office": "OAC"}).status_code == 201
    assert api.post("/tickets", {"office": "OAC"}).status_code == 403  # the session alone
