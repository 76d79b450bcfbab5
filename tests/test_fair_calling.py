"""Fair calling (contract v2, "Desks and calling"): a clerk calls a ticket out of order from
the desk's list, and an office's priority_every keeps priority tickets from starving the
rest; PATCH /desks/<id> renames a desk and chooses its offices."""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rules_stateful import fresh_db

from queue_app.rules import appointments, offices, tickets
from queue_app.rules.day import ensure_today
from queue_app.storage import journal
from queue_app.storage.db import connect

from helpers import T0, db_state

# Calling out of order ------------------------------------------------------------------------


@pytest.fixture
def opened(app):
    db = connect(app.config["DATABASE"])
    yield db
    db.close()


def issue(api, office="OAC", **extra):
    answer = api.as_("reception").post("/tickets", {"office": office, **extra})
    assert answer.status_code == 201
    return answer.get_json()


def test_a_clerk_calls_the_third_in_line_and_the_journal_says_who(api, opened):
    first, second, third = issue(api), issue(api), issue(api)
    answer = api.as_("clerk").post("/desks/2/call", {"ticket": third["id"]})
    assert answer.status_code == 200
    called = answer.get_json()
    assert (called["code"], called["status"], called["desk"]) == (
        third["code"],
        "called",
        "Taulell 2",
    )
    event = next(
        event
        for event in journal.since(opened, 0)
        if event["type"] == "ticket_called" and event["ticket_id"] == third["id"]
    )
    assert event["actor"] == "token:test-clerk" and event["payload"]["out_of_order"] is True
    # The others keep their order: the next call takes the first.
    queue = api.as_("clerk").get("/desks/1/queue").get_json()
    assert [ticket["code"] for ticket in queue] == [first["code"], second["code"]]
    assert api.as_("clerk").post("/desks/1/call-next").get_json()["code"] == first["code"]


@pytest.mark.parametrize(
    "setup, body, status, code",
    [
        ("omic", None, 409, "wrong_office"),  # desk 1 serves OAC only
        ("called", None, 409, "invalid_transition"),
        ("busy", None, 409, "desk_busy"),
        ("paused", None, 409, "desk_paused"),
        (None, {"ticket": 999999}, 404, "not_found"),
        (None, {"ticket": "1"}, 400, "invalid_input"),
        (None, {"ticket": True}, 400, "invalid_input"),
        (None, {}, 400, "invalid_input"),
        (None, {"ticket": 1, "desk": 2}, 400, "invalid_input"),
    ],
)
def test_a_call_out_of_order_that_cannot_be_is_refused_and_writes_nothing(
    api, opened, setup, body, status, code
):
    waiting = issue(api)
    target = waiting
    if setup == "omic":
        target = issue(api, "OMIC")
    elif setup == "called":
        api.as_("clerk").post("/desks/2/call-next")
    elif setup == "busy":
        issue(api)
        api.as_("clerk").post("/desks/1/call-next")
        target = api.as_("clerk").get("/desks/1/queue").get_json()[0]
    elif setup == "paused":
        api.as_("clerk").post("/desks/1/pause")
    before = db_state(opened, ["tickets", "offices"])
    body = {"ticket": target["id"]} if body is None else body
    answer = api.as_("clerk").post("/desks/1/call", body)
    assert answer.status_code == status
    assert answer.get_json()["error"]["code"] == code
    assert db_state(opened, ["tickets", "offices"]) == before


# Priority every N calls -----------------------------------------------------------------------


def at(minutes):
    return T0 + timedelta(minutes=minutes)


def test_with_priority_every_two_the_others_get_every_third_call(undated_db):
    db = undated_db
    offices.update(db, "OMIC", {"priority_every": 2})
    made = {}
    for n, (name, priority) in enumerate(
        [("r1", False), ("r2", False), ("p1", True), ("p2", True), ("p3", True), ("p4", True)]
    ):
        made[tickets.issue(db, "OMIC", priority=priority, now=at(n)).value["id"]] = name
    listed = [made[ticket["id"]] for ticket in tickets.desk_queue(db, 5, now=at(10))]
    assert listed == ["p1", "p2", "r1", "p3", "p4", "r2"]
    called = []
    for n in range(6):
        ticket = tickets.call_next(db, 5, now=at(11 + n)).value
        tickets.finish(db, ticket["id"], now=at(11 + n))
        called.append(made[ticket["id"]])
    assert called == listed


def test_urgent_and_due_appointments_still_come_first(undated_db):
    db = undated_db
    offices.update(db, "OMIC", {"priority_every": 1})
    booked = appointments.book(db, "OMIC", at(30).isoformat(), "Anna", now=T0 - timedelta(days=2))
    plain = tickets.issue(db, "OMIC", now=at(0)).value
    tickets.issue(db, "OMIC", priority=True, now=at(1))
    tickets.call_next(db, 5, now=at(2))  # the priority one: one in a row
    arrived = appointments.check_in(db, booked.value["id"], now=at(26)).value
    urgent = tickets.issue(db, "OMIC", kind="urgent", now=at(27)).value
    order = [ticket["code"] for ticket in tickets.desk_queue(db, 5, now=at(28))]
    assert order[:2] == [urgent["code"], arrived["code"]]
    assert order[2] == plain["code"]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    every=st.integers(min_value=1, max_value=4),
    steps=st.lists(st.sampled_from(["priority", "other", "call"]), min_size=1, max_size=40),
)
def test_never_more_than_n_priority_calls_in_a_row_while_another_waits(every, steps):
    """The interleave rule as a property: whatever arrives and whenever the desk calls,
    at most ``every`` priority tickets are called in a row while a non-priority one waits,
    and each call takes the head of the desk's list."""
    db = fresh_db()
    ensure_today(db, T0)
    offices.update(db, "OMIC", {"priority_every": every}, now=T0)
    waiting = {}  # id -> priority
    in_a_row = 0
    for n, step in enumerate(steps + ["call"] * len(steps)):
        now = at(n)
        if step != "call":
            ticket = tickets.issue(db, "OMIC", priority=step == "priority", now=now).value
            waiting[ticket["id"]] = step == "priority"
            continue
        listed = tickets.desk_queue(db, 5, now=now)
        others_wait = not all(waiting.values())
        ticket = tickets.call_next(db, 5, now=now).value
        if ticket is None:
            assert not waiting and listed == []
            continue
        assert ticket["id"] == listed[0]["id"]
        priority = waiting.pop(ticket["id"])
        in_a_row = in_a_row + 1 if priority and others_wait else 0
        assert in_a_row <= every
        tickets.finish(db, ticket["id"], now=now)
    db.close()


# Desks' settings -----------------------------------------------------------------------------


def test_an_administrator_renames_a_desk_and_chooses_its_offices(api, opened):
    answer = api.as_("admin").patch(
        "/desks/5",
        {
            "names": {"ca": "Consum", "es": "Consumo", "en": "Consumer desk"},
            "offices": ["OMIC", "OFIM"],
        },
    )
    assert answer.status_code == 200
    desk = answer.get_json()
    assert desk["name"] == "Consum" and desk["offices"] == ["OMIC", "OFIM"]
    assert desk["names"] == {"ca": "Consum", "es": "Consumo", "en": "Consumer desk"}
    assert next(d for d in api.as_("clerk").get("/desks").get_json() if d["id"] == 5) == desk
    [event] = journal.since(opened, journal.last_seq(opened) - 1)
    assert event["type"] == "desk_changed" and event["actor"] == "token:test-admin"
    renamed = api.as_("admin").patch("/desks/5", {"name": "Taulell 5"}).get_json()
    assert renamed["names"] == {"ca": "Taulell 5", "es": "Consumo", "en": "Consumer desk"}


@pytest.mark.parametrize(
    "body, status",
    [
        ({"name": "Taulell 1"}, 409),  # another desk's name
        ({"name": ""}, 400),
        ({"name": "x" * 500}, 400),
        ({"names": {"ca": "A"}, "name": "B"}, 400),
        ({"names": {"de": "Schalter"}}, 400),
        ({"offices": []}, 400),
        ({"offices": ["XXX"]}, 404),
        ({"position": 1}, 400),
    ],
)
def test_bad_desk_settings_are_refused_and_write_nothing(api, opened, body, status):
    before = db_state(opened, ["desks", "desk_offices"])
    assert api.as_("admin").patch("/desks/5", body).status_code == status
    assert db_state(opened, ["desks", "desk_offices"]) == before


def test_only_an_administrator_changes_a_desk(api):
    assert api.as_("admin").patch("/desks/99", {"name": "X"}).status_code == 404
    for role in ("manager", "reception", "clerk", "display"):
        assert api.as_(role).patch("/desks/5", {"name": "X"}).status_code == 403
