"""Places without ranking the queue (issue 15): ``calling.places``, ``front`` and ``head``
count with indexes and the office's sizes instead of sorting every waiting ticket, so they
must always say what the calling order's definition (``WAITING_SQL`` + ``ORDER_SQL``, the
desk's list) says, whatever arrives, leaves, moves office or becomes due."""

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_rules_stateful import fresh_db

from queue_app.rules import calling, door, offices, tickets
from queue_app.rules.calling import ORDER_SQL, WAITING_SQL, due_cutoff
from queue_app.rules.day import ensure_today

from helpers import T0

OFFICES = ("OAC", "OMIC")
BOTH = 1  # a desk that serves both offices (OAC's own desk 1, given OMIC too)


def reference_order(db, codes, now):
    """The waiting tickets of ``codes`` in calling order, by the order's definition."""
    marks = ", ".join(f":o{n}" for n in range(len(codes)))
    sql = (
        f"WITH w AS ({WAITING_SQL.format(where=f't.office IN ({marks})')})"
        f" SELECT w.id, w.office FROM w ORDER BY {ORDER_SQL}"
    )
    params = {"due": due_cutoff(now), **{f"o{n}": code for n, code in enumerate(codes)}}
    return db.execute(sql, params).fetchall()


def assert_places_agree(db, now):
    rows = db.execute(f"{calling.SELECT_TICKETS} WHERE t.status = 'waiting'").fetchall()
    expected = {}
    for office in OFFICES:
        order = [row[0] for row in reference_order(db, [office], now)]
        expected.update((ticket_id, n) for n, ticket_id in enumerate(order))
        assert calling.front(db, office, now, 3) == order[:3]
        assert calling.waiting_count(db, office) == len(order)
    assert calling.places(db, rows, now) == expected
    both = [row[0] for row in reference_order(db, OFFICES, now)]
    assert calling.head(db, OFFICES, now) == (both[0] if both else None)


arrival = st.tuples(
    st.just("issue"),
    st.sampled_from(OFFICES),
    st.sampled_from(["walk_in", "walk_in", "walk_in", "urgent", "appointment"]),
    st.booleans(),  # priority
    st.integers(min_value=-10, max_value=30),  # an appointment's time, from now, minutes
)
# Arrivals weigh most, so that queues grow to a dozen or two.
step = st.one_of(
    arrival,
    arrival,
    arrival,
    arrival,
    st.tuples(st.just("call_next"), st.sampled_from([1, 5, BOTH])),
    st.tuples(st.just("call"), st.integers(min_value=0, max_value=30)),  # the nth waiting
    st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("transfer"), st.integers(min_value=0, max_value=30)),
    st.tuples(st.just("finish_all")),
    st.tuples(st.just("later"), st.integers(min_value=1, max_value=20)),  # minutes pass
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    every=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    opening=st.lists(arrival, min_size=3, max_size=25),  # a queue to start from
    steps=st.lists(step, min_size=1, max_size=60),
)
def test_places_front_and_head_always_match_the_order(every, opening, steps):
    db = fresh_db()
    ensure_today(db, T0)
    for office, n in zip(OFFICES, every, strict=True):
        offices.update(db, office, {"priority_every": n}, now=T0)
    db.execute("INSERT INTO desk_offices (desk_id, office) VALUES (?, 'OMIC')", [BOTH])
    now = T0
    for action, *args in opening + steps:
        now += timedelta(seconds=30)
        waiting = [row[0] for row in db.execute("SELECT id FROM tickets WHERE status = 'waiting'")]
        if action == "issue":
            office, kind, priority, minutes = args
            booked = now + timedelta(minutes=minutes) if kind == "appointment" else None
            tickets.issue(db, office, kind, priority, appointment_at=booked, now=now)
        elif action == "call_next":
            busy = db.execute(
                "SELECT id FROM tickets WHERE desk_id = ? AND status IN ('called', 'serving')",
                [args[0]],
            ).fetchone()
            if busy is not None:
                tickets.finish(db, busy[0], now=now)
            tickets.call_next(db, args[0], now=now)
        elif action in ("call", "cancel", "transfer") and waiting:
            chosen = waiting[args[0] % len(waiting)]
            if action == "cancel":
                tickets.cancel(db, chosen, now=now)
            elif action == "transfer":
                office = db.execute("SELECT office FROM tickets WHERE id = ?", [chosen]).fetchone()
                tickets.transfer(db, chosen, "OMIC" if office[0] == "OAC" else "OAC", now=now)
            else:
                for desk in (1, 2, 3, 4, 5):
                    if db.execute(
                        "SELECT 1 FROM desk_offices o WHERE o.desk_id = ? AND o.office ="
                        " (SELECT office FROM tickets WHERE id = ?) AND NOT EXISTS (SELECT 1"
                        " FROM tickets t WHERE t.desk_id = o.desk_id"
                        " AND t.status IN ('called', 'serving'))",
                        [desk, chosen],
                    ).fetchone():
                        tickets.call(db, desk, chosen, now=now)
                        break
        elif action == "finish_all":
            for (busy,) in db.execute(
                "SELECT id FROM tickets WHERE status IN ('called', 'serving')"
            ).fetchall():
                tickets.finish(db, busy, now=now)
        elif action == "later":
            now += timedelta(minutes=args[0])
        assert_places_agree(db, now)
    db.close()


def test_the_sizes_follow_every_change():
    """``queue_sizes`` and ``queue_minutes`` are kept by triggers: inserts, status and office
    changes, deletions; a minute nobody waits from any more goes."""
    db = fresh_db()
    ensure_today(db, T0)
    made = [tickets.issue(db, "OAC", priority=n % 2 == 0, now=T0).value["id"] for n in range(5)]
    tickets.transfer(db, made[0], "OMIC", now=T0)
    tickets.cancel(db, made[1], now=T0)
    db.execute("DELETE FROM tickets WHERE id = ?", [made[2]])
    sizes = dict(
        ((office, flag), n)
        for office, flag, n in db.execute("SELECT office, priority, waiting FROM queue_sizes")
    )
    counted = dict(
        ((office, flag), n)
        for office, flag, n in db.execute(
            "SELECT office, priority, COUNT(*) FROM tickets WHERE status = 'waiting'"
            " GROUP BY office, priority"
        )
    )
    assert (
        {key: n for key, n in sizes.items() if n}
        == counted
        == {
            ("OMIC", 1): 1,
            ("OAC", 1): 1,
            ("OAC", 0): 1,
        }
    )
    minute = calling.stamp(T0)[:16]
    kept = db.execute("SELECT office, priority, minute, waiting FROM queue_minutes")
    assert sorted(tuple(row) for row in kept) == [
        ("OAC", 0, minute, 1),
        ("OAC", 1, minute, 1),
        ("OMIC", 1, minute, 1),
    ]
    for ticket_id in made[3:]:
        tickets.cancel(db, ticket_id, now=T0)
    assert [tuple(row) for row in db.execute("SELECT office FROM queue_minutes")] == [("OMIC",)]
    db.close()


def test_places_in_a_long_queue_spread_over_hours():
    """Places in a queue of 300 over five hours (the minutes before a ticket's own, then a
    count within its minute), for a few tickets asked for, match the order."""
    db = fresh_db()
    ensure_today(db, T0)
    offices.update(db, "OAC", {"priority_every": 2}, now=T0)
    door.set_counts(db, limit=1000, now=T0)
    for n in range(300):
        tickets.issue(db, "OAC", priority=n % 3 == 0, now=T0 + timedelta(seconds=n * 61))
    later = T0 + timedelta(hours=6)
    order = [row[0] for row in reference_order(db, ["OAC"], later)]
    asked = order[1:6] + order[140:145] + order[-3:]
    marks = ", ".join("?" for _ in asked)
    rows = db.execute(f"{calling.SELECT_TICKETS} WHERE t.id IN ({marks})", asked).fetchall()
    assert calling.places(db, rows, later) == {n: order.index(n) for n in asked}
    db.close()
