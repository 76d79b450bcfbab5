"""Hostile input against the appointments API and the import: no 5xx, nothing written by a
refused request, no slot ever over its places, and the import's parsers never fail with
anything but a clear refusal."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz import NASTY_TEXT, hostile_batches, json_values, path_ids, send_hostile

from queue_app.rules import imports, offices, schedules
from queue_app.rules.errors import QueueError
from queue_app.storage.db import connect

from helpers import next_workday

SLOT = next_workday()
EXAMPLES = 300  # x BATCH = 3,000 requests
ROUTES = [
    ("POST", "/appointments"),
    ("GET", "/appointments"),
    ("GET", "/appointments/{token}"),
    ("POST", "/appointments/{id}/check-in"),
    ("POST", "/appointments/{id}/cancel"),
    ("POST", "/appointments/{token}/cancel"),
    ("POST", "/appointments/import"),
    ("GET", "/offices/{office}/schedule"),
    ("PUT", "/offices/{office}/schedule"),
    ("GET", "/offices/{office}/slots"),
]
FIELDS = ["office", "start", "name", "phone", "party_size", "source", "force", "per_slot"]
FIELDS += ["slot_minutes", "hours", "closed", "early_minutes", "late_minutes", "__proto__"]
STARTS = [SLOT.isoformat(), (SLOT.replace(minute=7)).isoformat(), "2026-13-45T99:99", "09:00"]
CELLS = st.one_of(
    st.sampled_from(["id", "office", "start", "name", "OAC", "x1", "Núria", ";", '"']),
    st.sampled_from(STARTS),
    st.text(max_size=12),
)
CSV_LINES = st.tuples(
    st.sampled_from([",", ";"]), st.lists(st.lists(CELLS, max_size=6), max_size=8)
).map(lambda drawn: "\n".join(drawn[0].join(cells) for cells in drawn[1]))
ICS_BODIES = st.lists(
    st.sampled_from(
        [
            "BEGIN:VCALENDAR",
            "END:VCALENDAR",
            "BEGIN:VEVENT",
            "END:VEVENT",
            "UID:u1",
            "UID:",
            f"DTSTART:{SLOT.strftime('%Y%m%dT%H%M%S')}",
            "DTSTART;VALUE=DATE:20261201",
            "DTSTART:garbage",
            "SUMMARY:Anna",
            "LOCATION:OAC",
            "CATEGORIES:OMIC,XXX",
            "RRULE:FREQ=DAILY",
            "STATUS:CANCELLED",
            " folded",
        ]
    ),
    max_size=14,
).map(lambda lines: "\r\n".join(lines))


def json_body(draw):
    value = draw(
        st.one_of(
            st.dictionaries(
                st.sampled_from(FIELDS),
                st.one_of(json_values, st.sampled_from(STARTS)),
                max_size=6,
            ),
            json_values,
        )
    )
    return json.dumps(value)


@st.composite
def requests_(draw):
    method, template = draw(st.sampled_from(ROUTES))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
    path = template.replace("{id}", draw(path_ids))
    path = path.replace("{token}", draw(st.sampled_from(["nope", "x" * 300, "%00", "123"])))
    path = path.replace("{office}", draw(st.sampled_from(["OAC", "OMIC", "XXX", "%00", "ü"])))
    role = draw(st.sampled_from(["admin", "reception", "clerk", "display", None, "garbage"]))
    if template.endswith("/import"):
        content_type = draw(st.sampled_from(["text/csv", "text/calendar", "application/json"]))
        body = draw(st.one_of(CSV_LINES, ICS_BODIES, st.binary(max_size=64).map(lambda raw: raw)))
        query = draw(st.sampled_from(["", "?dry_run=true", "?office=XXX", "?dry_run=maybe"]))
    else:
        content_type = draw(st.sampled_from(["application/json", "text/plain", None]))
        body = draw(
            st.one_of(
                st.just(""),
                st.sampled_from(
                    [
                        json.dumps({"office": "OMIC", "start": SLOT.isoformat(), "name": "A"}),
                        json.dumps({"office": "OAC", "start": SLOT.isoformat(), "name": "B"}),
                        json.dumps({"force": True}),
                        "{",
                    ]
                ),
                st.binary(max_size=32),
                st.sampled_from(NASTY_TEXT).map(json.dumps),
            )
        )
        if draw(st.booleans()):
            body = json_body(draw)
        query = draw(
            st.sampled_from(["", "?date=2026-12-01", "?q=%25", "?date=x", "?q=" + "q" * 300])
        )
    return method, path + query, role, content_type, body


def state(db):
    """What a refused request must leave: the journal, the appointments, the schedules."""
    return (
        db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0],
        tuple(tuple(row) for row in db.execute("SELECT * FROM appointments ORDER BY id")),
        tuple(tuple(row) for row in db.execute("SELECT * FROM schedules ORDER BY office")),
        db.execute("SELECT COUNT(*) FROM tickets").fetchone()[0],
    )


def no_slot_over_its_places(db, places):
    """Every slot holds at most the most places its office's schedule has allowed so far
    (``places``: office -> that most, kept up to date here; an administrator may lower it
    after bookings were made)."""
    for office in places:
        places[office] = max(places[office], schedules.get(db, office)["per_slot"])
    for office, _start, held in db.execute(
        "SELECT office, start_at, COUNT(*) FROM appointments WHERE status IN ('booked',"
        " 'checked_in') GROUP BY office, start_at"
    ):
        assert held <= places[office]


def test_three_thousand_hostile_requests(app, tokens):
    client = app.test_client()
    db = connect(app.config["DATABASE"])
    seen = {"refused": 0, "accepted": 0}
    places = {office: 0 for office in offices.codes(db)}

    @hostile_batches(requests_(), EXAMPLES)
    def attack(batch):
        for request in batch:
            send_hostile(client, tokens, db, state, seen, request)
            no_slot_over_its_places(db, places)

    try:
        attack()
        assert seen["refused"] > seen["accepted"] > 0, seen
    finally:
        db.close()


@settings(max_examples=300, deadline=None, database=None)
@given(
    data=st.one_of(CSV_LINES.map(str.encode), ICS_BODIES.map(str.encode), st.binary(max_size=200)),
    kind=st.sampled_from(["text/csv", "text/calendar"]),
)
def test_the_parsers_refuse_clearly_or_report_lines(data, kind):
    try:
        rows = imports.parse_csv(data) if kind == "text/csv" else imports.parse_ics(data)[0]
    except QueueError as refused:
        assert str(refused)
    else:
        assert all(isinstance(row["line"], int) and row["line"] >= 0 for row in rows)
