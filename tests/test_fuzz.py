"""Hostile input against /api/v1: 10,000 generated requests, no 5xx, nothing written by a
refused request, and the queue's invariants intact at the end.

Requests mix real routes with mangled ids, tokens of every role with garbage ones, JSON
of every shape (wrong types, unknown fields, deep nesting, huge strings) with raw bytes,
and odd content types and methods. One app and one database for the whole run, as a
server that has been attacked all day.
"""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queue_app.rules.day import ensure_today
from queue_app.storage.db import connect

BATCH = 10
EXAMPLES = 1000  # x BATCH = 10,000 requests
ROUTES = [
    ("GET", "/offices"),
    ("GET", "/desks"),
    ("POST", "/tickets"),
    ("GET", "/tickets"),
    ("GET", "/tickets/{token}"),
    ("POST", "/desks/{id}/call-next"),
    ("POST", "/desks/{id}/pause"),
    ("POST", "/desks/{id}/resume"),
    ("POST", "/tickets/{id}/recall"),
    ("POST", "/tickets/{id}/start"),
    ("POST", "/tickets/{id}/finish"),
    ("POST", "/tickets/{id}/no-show"),
    ("POST", "/tickets/{id}/transfer"),
    ("POST", "/tickets/{id}/cancel"),
    ("GET", "/occupancy"),
    ("POST", "/occupancy/entries"),
    ("POST", "/occupancy/exits"),
    ("PUT", "/occupancy"),
    ("GET", "/displays/{key}/state"),
]
FIELDS = [
    "office",
    "kind",
    "priority",
    "party_size",
    "appointment_at",
    "count",
    "inside",
    "limit",
    "reason",
    "since",
    "__proto__",
    "id",
    "status",
]
NASTY_TEXT = [
    "OAC",
    "OMIC",
    "oac",
    "",
    " ",
    "A001",
    "<script>alert(1)</script>",
    "'; DROP TABLE tickets; --",
    "../../etc/passwd",
    "%00",
    "\u202e\u0000",
    "9" * 400,
    "walk_in",
    "urgent",
    "appointment",
    "2026-11-29T10:00:00+01:00",
    "2026-13-45T99:99",
    "null",
    "true",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5).map(json.dumps),
    json_values.map(json.dumps),
    st.binary(max_size=64),
    st.sampled_from(
        [
            "",
            "{",
            "[" * 5000 + "]" * 5000,
            '{"office": "' + "A" * 70000 + '"}',
            '{"office": "OAC"}',
            '{"office": "OAC", "party_size": 20}',
            '{"count": 1}',
            '{"limit": 100000}',
            '{"inside": 0}',
        ]
    ),
)
path_ids = st.one_of(
    st.integers(min_value=-3, max_value=12).map(str),
    st.sampled_from(
        ["0", "99999999999999999999", "1e3", "%2e%2e", "abc", "1;2", "-1", "ü", "1/../2"]
    ),
)


@st.composite
def requests_(draw):
    method, template = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 9)) == 0:  # now and then, a method the route does not take
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
    path = template.replace("{id}", draw(path_ids))
    path = path.replace("{token}", draw(st.sampled_from(["nope", "x" * 300, "%00"])))
    path = path.replace("{key}", draw(st.sampled_from(["nope", "'", "k" * 200])))
    role = draw(st.sampled_from(["admin", "reception", "clerk", "display", None, "garbage"]))
    content_type = draw(
        st.sampled_from(
            ["application/json", "text/plain", "application/x-www-form-urlencoded", None]
        )
    )
    query = draw(
        st.sampled_from(
            [
                "",
                "?office=OAC",
                "?status=waiting",
                "?office=<b>",
                "?status=" + "x" * 100,
                "?office=OAC&status=done",
            ]
        )
    )
    return method, path + query, role, content_type, draw(bodies)


def state(db):
    """What must not move when a request is refused: the journal and the queue's tables."""
    return (
        db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0],
        db.execute(
            "SELECT COUNT(*), TOTAL(id * length(status || office || COALESCE(desk_id, '')"
            " || recalls)) FROM tickets"
        ).fetchone()[:],
        tuple(tuple(row) for row in db.execute("SELECT * FROM settings ORDER BY key")),
        tuple(tuple(row) for row in db.execute("SELECT id, paused, pause_reason FROM desks")),
    )


def check_invariants(db):
    inside, limit = (
        int(db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()[0])
        for key in ("inside", "limit")
    )
    assert 0 <= inside
    duplicated = db.execute(
        "SELECT day, issued_office, number, COUNT(*) FROM tickets"
        " GROUP BY 1, 2, 3 HAVING COUNT(*) > 1"
    ).fetchall()
    assert not duplicated
    double_held = db.execute(
        "SELECT desk_id FROM tickets WHERE status IN ('called', 'serving')"
        " GROUP BY desk_id HAVING COUNT(*) > 1"
    ).fetchall()
    assert not double_held
    return inside, limit


def hostile_batches(request_strategy, examples):
    """Run a test on ``examples`` generated batches of BATCH requests (no example database:
    each run is a fresh attack)."""
    return lambda test: settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(st.lists(request_strategy, min_size=BATCH, max_size=BATCH))(test))


def send_hostile(client, tokens, db, state, seen, request):
    """Send one generated request: never a 5xx; a refusal has the contract's error body and
    leaves ``state(db)`` as it was. Counts it in ``seen`` (refused or accepted)."""
    method, path, role, content_type, body = request
    headers = {}
    if role == "garbage":
        headers["Authorization"] = "Bearer torn_" + "z" * 43
    elif role:
        headers["Authorization"] = f"Bearer {tokens[role]}"
    if content_type:
        headers["Content-Type"] = content_type
    before = state(db)
    response = client.open("/api/v1" + path, method=method, headers=headers, data=body)
    assert response.status_code < 500, (method, path, body[:200], response.data)
    if response.status_code >= 400:
        seen["refused"] += 1
        error = response.get_json()
        assert set(error) == {"error"} and set(error["error"]) == {"code", "message"}
        assert state(db) == before, (method, path, response.status_code, body[:200])
    else:
        seen["accepted"] += 1


def test_ten_thousand_hostile_requests(app, tokens):
    client = app.test_client()
    db = connect(app.config["DATABASE"])
    ensure_today(db)
    seen = {"refused": 0, "accepted": 0}

    @hostile_batches(requests_(), EXAMPLES)
    def attack(batch):
        for request in batch:
            send_hostile(client, tokens, db, state, seen, request)
        check_invariants(db)

    try:
        attack()
        assert seen["refused"] + seen["accepted"] == EXAMPLES * BATCH
        assert seen["refused"] > seen["accepted"] > 0, seen  # it reached the rules too
    finally:
        db.close()
