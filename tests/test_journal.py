"""The event journal: every change recorded once, in order, and never rewritten."""

import sqlite3
from datetime import datetime, timedelta

import pytest

from queue_app.rules import desks, door, tickets
from queue_app.rules.day import ensure_today
from queue_app.storage import journal
from queue_app.storage.db import write_transaction

from helpers import MINUTE, T0


@pytest.fixture
def db(undated_db):
    return undated_db


def without_at(event):
    return {key: value for key, value in event.items() if key != "at"}


def test_every_change_is_journaled_in_order_with_a_rising_seq(db):
    ids = {}

    def keep(name, outcome):
        ids[name] = outcome.value["id"]
        return outcome

    # (what happens, the event types it must record at least)
    script = [
        (lambda at: ensure_today(db, at), {"day_started", "occupancy_changed"}),
        (
            lambda at: keep("a", tickets.issue(db, "OAC", party_size=2, actor="recepcio", now=at)),
            {"ticket_changed", "queue_changed", "occupancy_changed"},
        ),
        (
            lambda at: keep("b", tickets.issue(db, "OAC", actor="recepcio", now=at)),
            {"ticket_changed", "queue_changed", "occupancy_changed"},
        ),
        (
            lambda at: tickets.call_next(db, 1, actor="taulell1", now=at),
            {"ticket_called", "ticket_changed", "queue_changed"},
        ),
        (lambda at: tickets.recall(db, ids["a"], now=at), {"ticket_called", "ticket_changed"}),
        (lambda at: tickets.start(db, ids["a"], now=at), {"ticket_changed"}),
        (
            lambda at: tickets.transfer(db, ids["a"], "HAB", now=at),
            {"ticket_changed", "queue_changed"},
        ),
        (lambda at: tickets.call_next(db, 7, now=at), {"ticket_called", "queue_changed"}),
        (lambda at: tickets.no_show(db, ids["a"], now=at), {"ticket_changed", "occupancy_changed"}),
        (lambda at: tickets.call_next(db, 2, now=at), {"ticket_called", "queue_changed"}),
        (lambda at: tickets.finish(db, ids["b"], now=at), {"ticket_changed", "occupancy_changed"}),
        (lambda at: keep("c", tickets.issue(db, "OMIC", now=at)), {"ticket_changed"}),
        (
            lambda at: tickets.cancel(db, ids["c"], now=at),
            {"ticket_changed", "queue_changed", "occupancy_changed"},
        ),
        (lambda at: desks.pause(db, 3, "lunch", now=at), {"desk_changed"}),
        (lambda at: desks.resume(db, 3, now=at), {"desk_changed"}),
        (lambda at: door.enter(db, 3, now=at), {"occupancy_changed"}),
        (lambda at: door.leave(db, 1, now=at), {"occupancy_changed"}),
        (lambda at: door.set_counts(db, limit=40, now=at), {"occupancy_changed"}),
        (lambda at: keep("d", tickets.issue(db, "ORGT", now=at)), {"queue_changed"}),
        (
            lambda at: ensure_today(db, at + timedelta(days=1)),
            {"day_started", "ticket_changed", "queue_changed", "occupancy_changed"},
        ),
    ]
    start = journal.last_seq(db)  # the demo set-up journaled its users and display
    seen = []
    for step, (act, expected_types) in enumerate(script):
        at = T0 + step * MINUTE
        before = journal.last_seq(db)
        outcome = act(at)
        written = journal.since(db, before)
        assert written, f"step {step} journaled nothing"
        assert [without_at(e) for e in written] == outcome.events
        assert expected_types <= {e["type"] for e in written}, step
        assert all(e["seq"] > before for e in written)
        recorded_at = at + timedelta(days=1) if step == len(script) - 1 else at
        assert all(datetime.fromisoformat(e["at"]) == recorded_at for e in written)
        seen.extend(e["seq"] for e in written)
    assert seen == sorted(set(seen))
    assert [e["seq"] for e in journal.since(db, start)] == seen
    assert journal.last_seq(db) == seen[-1]


def test_the_actor_is_recorded(db):
    ensure_today(db, T0)
    seq = journal.last_seq(db)
    ticket = tickets.issue(db, "OAC", actor="recepcio", now=T0).value
    issued = journal.last_seq(db)
    tickets.call_next(db, 1, actor="taulell1", now=T0)
    tickets.finish(db, ticket["id"], actor="taulell1", now=T0)
    actors = [(e["seq"] <= issued, e["actor"]) for e in journal.since(db, seq)]
    assert actors and all(
        actor == ("recepcio" if by_reception else "taulell1") for by_reception, actor in actors
    )


def test_since_pages_through_the_journal_oldest_first(db):
    for minute in range(5):
        door.enter(db, now=T0 + minute * MINUTE)
    every = journal.since(db, 0)
    assert [e["seq"] for e in every] == sorted(e["seq"] for e in every)
    page = journal.since(db, every[1]["seq"], limit=2)
    assert [e["seq"] for e in page] == [every[2]["seq"], every[3]["seq"]]
    assert journal.since(db, every[-1]["seq"]) == []
    assert every[-1]["payload"]["inside"] == 5


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET type = 'forged' WHERE seq = :seq",
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events WHERE seq = :seq",
        "DELETE FROM events",
        "INSERT OR REPLACE INTO events (seq, at, type, payload) VALUES (:seq, 'x', 'forged', '{}')",
    ],
)
@pytest.mark.parametrize("recursive_triggers", [True, False])
def test_the_journal_refuses_to_be_rewritten(db, statement, recursive_triggers):
    tickets.issue(db, "OAC", now=T0)
    history = journal.since(db, 0)
    first = history[0]["seq"]
    # Without recursive triggers, REPLACE deletes silently: the insert trigger must hold.
    db.execute(f"PRAGMA recursive_triggers = {'ON' if recursive_triggers else 'OFF'}")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        with write_transaction(db):
            db.execute(statement, {"seq": first})
    assert journal.since(db, 0) == history
    # New changes are still journaled after the refusal.
    tickets.issue(db, "OAC", now=T0 + MINUTE)
    assert journal.last_seq(db) > history[-1]["seq"]
