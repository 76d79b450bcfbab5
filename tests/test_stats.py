"""Statistics of a scripted day with a controlled clock: every metric of the contract, by
day, hour, weekday, office and desk, checked exactly (and the totals against the tickets).

Monday 2024-06-10 in Madrid (target wait 900 s everywhere):

    09:00 A001 OAC   called 09:10 by Taulell 1, started 09:12, done 09:20
    09:05 A002 OAC   called 09:15 by Taulell 2, no-show 09:20
    09:10 C001 OMIC  called 09:30 by Taulell 5, done 09:40 (never started)
    10:05 A003 OAC   cancelled 10:06
    10:10 A004 OAC   sent to OMIC 10:11, called 10:40 by Taulell 5, done 10:50
    10:20 A005 OAC   still waiting at midnight: expired
    10:50 A006 OAC   the 11:00 appointment checked in, still waiting at midnight: expired

Appointments: OAC 11:00 checked in, OMIC 11:15 missed, OAC 11:30 cancelled.
"""

from datetime import date, timedelta

import pytest

from queue_app.rules import appointments, door, stats, tickets
from queue_app.rules.day import ensure_today
from queue_app.rules.errors import InvalidInput, UnknownOffice

from helpers import T0

DAY = T0.date()
NONE = {
    "wait_avg_s": None,
    "wait_p50_s": None,
    "wait_p90_s": None,
    "wait_max_s": None,
    "service_avg_s": None,
    "service_p90_s": None,
    "within_target": None,
}
# Nobody waited outside on the scripted day: the building never filled.
NO_OUTSIDE = {
    "waited_outside": 0,
    "outside_wait_avg_s": None,
    "outside_wait_p50_s": None,
    "outside_wait_p90_s": None,
    "outside_wait_max_s": None,
}


def at(hh, mm):
    return T0.replace(hour=hh, minute=mm)


@pytest.fixture
def day(undated_db):
    db = undated_db
    week_before = T0 - timedelta(days=7)
    booked = [
        appointments.book(db, office, at(hh, mm).isoformat(), name, now=week_before).value
        for office, hh, mm, name in (
            ("OAC", 11, 0, "Anna"),
            ("OMIC", 11, 15, "Bernat"),
            ("OAC", 11, 30, "Carme"),
        )
    ]
    appointments.cancel(db, booked[2]["id"], now=week_before)
    issue = lambda office, hh, mm: tickets.issue(db, office, now=at(hh, mm)).value  # noqa: E731
    a1, a2, c1 = issue("OAC", 9, 0), issue("OAC", 9, 5), issue("OMIC", 9, 10)
    assert tickets.call_next(db, 1, now=at(9, 10)).value["id"] == a1["id"]
    tickets.start(db, a1["id"], now=at(9, 12))
    assert tickets.call_next(db, 2, now=at(9, 15)).value["id"] == a2["id"]
    tickets.finish(db, a1["id"], now=at(9, 20))
    tickets.no_show(db, a2["id"], now=at(9, 20))
    assert tickets.call_next(db, 5, now=at(9, 30)).value["id"] == c1["id"]
    tickets.finish(db, c1["id"], now=at(9, 40))
    a3 = issue("OAC", 10, 5)
    tickets.cancel(db, a3["id"], now=at(10, 6))
    a4 = issue("OAC", 10, 10)
    tickets.transfer(db, a4["id"], "OMIC", now=at(10, 11))
    issue("OAC", 10, 20)
    assert tickets.call_next(db, 5, now=at(10, 40)).value["id"] == a4["id"]
    appointments.check_in(db, booked[0]["id"], now=at(10, 50))
    tickets.finish(db, a4["id"], now=at(10, 50))
    ensure_today(db, T0 + timedelta(days=1))  # midnight: A005 and A006 expire, 11:15 missed
    return db


def compute(db, group, **options):
    return stats.compute(db, DAY, DAY, group=group, **options)


def test_the_totals_of_the_day(day):
    totals = compute(day, "day")["totals"]
    assert totals == {
        "issued": 7,
        "served": 3,
        "no_show": 1,
        "cancelled": 1,
        "expired": 2,
        "transferred": 1,
        "wait_avg_s": 1050,  # (600 + 600 + 1200 + 1800) / 4
        "wait_p50_s": 600,
        "wait_p90_s": 1800,
        "wait_max_s": 1800,
        "service_avg_s": 560,  # (480 + 600 + 600) / 3
        "service_p90_s": 600,
        "within_target": 0.5,
        "peak_inside": 3,
        "appointments_booked": 2,
        "appointments_checked_in": 1,
        "appointments_missed": 1,
        **NO_OUTSIDE,
    }
    raw = day.execute(
        "SELECT COUNT(*), SUM(status = 'done'), SUM(status = 'expired') FROM tickets WHERE day = ?",
        [DAY.isoformat()],
    ).fetchone()
    assert (totals["issued"], totals["served"], totals["expired"]) == tuple(raw)


def test_by_day_and_weekday_one_row_like_the_totals(day):
    by_day = compute(day, "day")
    assert [row["key"] for row in by_day["rows"]] == ["2024-06-10"]
    assert {k: v for k, v in by_day["rows"][0].items() if k != "key"} == by_day["totals"]
    by_weekday = compute(day, "weekday")
    assert [row["key"] for row in by_weekday["rows"]] == ["mon"]


def test_by_office(day):
    rows = {row["key"]: row for row in compute(day, "office")["rows"]}
    assert list(rows) == ["OAC", "OMIC"]
    assert rows["OAC"] == {
        "key": "OAC",
        "issued": 5,
        "served": 1,
        "no_show": 1,
        "cancelled": 1,
        "expired": 2,
        "transferred": 0,
        "wait_avg_s": 600,
        "wait_p50_s": 600,
        "wait_p90_s": 600,
        "wait_max_s": 600,
        "service_avg_s": 480,
        "service_p90_s": 480,
        "within_target": 1.0,
        "peak_inside": None,  # the building's, not an office's
        "appointments_booked": 1,
        "appointments_checked_in": 1,
        "appointments_missed": 0,
        **NO_OUTSIDE,
    }
    assert rows["OMIC"] == {
        "key": "OMIC",
        "issued": 2,
        "served": 2,
        "no_show": 0,
        "cancelled": 0,
        "expired": 0,
        "transferred": 1,
        "wait_avg_s": 1500,
        "wait_p50_s": 1200,
        "wait_p90_s": 1800,
        "wait_max_s": 1800,
        "service_avg_s": 600,
        "service_p90_s": 600,
        "within_target": 0.0,
        "peak_inside": None,
        "appointments_booked": 1,
        "appointments_checked_in": 0,
        "appointments_missed": 1,
        **NO_OUTSIDE,
    }


def test_by_hour(day):
    rows = {row["key"]: row for row in compute(day, "hour")["rows"]}
    assert list(rows) == [9, 10, 11]
    nine, ten, eleven = rows[9], rows[10], rows[11]
    assert (nine["issued"], nine["served"], nine["no_show"]) == (3, 2, 1)
    assert (nine["wait_avg_s"], nine["wait_p50_s"], nine["wait_p90_s"]) == (800, 600, 1200)
    assert (nine["service_avg_s"], nine["service_p90_s"]) == (540, 600)
    assert (nine["within_target"], nine["peak_inside"]) == (0.6667, 3)
    assert (ten["issued"], ten["served"], ten["cancelled"], ten["expired"]) == (4, 1, 1, 2)
    assert (ten["transferred"], ten["wait_p50_s"], ten["within_target"]) == (1, 1800, 0.0)
    assert ten["peak_inside"] == 3
    assert eleven == {
        "key": 11,
        "issued": 0,
        "served": 0,
        "no_show": 0,
        "cancelled": 0,
        "expired": 0,
        "transferred": 0,
        **NONE,
        "peak_inside": None,
        "appointments_booked": 2,
        "appointments_checked_in": 1,
        "appointments_missed": 1,
        **NO_OUTSIDE,
    }


def test_by_desk_with_the_never_called_last(day):
    rows = compute(day, "desk")["rows"]
    assert [row["key"] for row in rows] == ["Taulell 1", "Taulell 2", "Taulell 5", None]
    by_desk = {row["key"]: row for row in rows}
    assert (by_desk["Taulell 5"]["served"], by_desk["Taulell 5"]["wait_avg_s"]) == (2, 1500)
    assert (by_desk[None]["issued"], by_desk[None]["wait_avg_s"]) == (3, None)
    assert by_desk[None]["appointments_booked"] == 2


def test_one_office_only(day):
    answer = compute(day, "hour", office="OMIC")
    assert answer["totals"]["issued"] == 2 and answer["totals"]["transferred"] == 1
    assert answer["totals"]["peak_inside"] == 3  # the building's, whatever the office


def test_a_range_with_nothing_has_zero_counts_and_no_durations(day):
    empty = stats.compute(day, date(2024, 7, 1), date(2024, 7, 31), group="day")
    assert empty["rows"] == []
    assert empty["totals"]["issued"] == 0 and empty["totals"]["wait_avg_s"] is None


@pytest.mark.parametrize(
    "start, end, group, error",
    [
        (date(2024, 6, 11), date(2024, 6, 10), "day", InvalidInput),
        (date(2022, 1, 1), date(2024, 6, 10), "day", InvalidInput),
        (DAY, DAY, "month", InvalidInput),
    ],
)
def test_a_bad_request_is_refused(day, start, end, group, error):
    with pytest.raises(error):
        stats.compute(day, start, end, group=group)


def test_an_unknown_office_is_refused(day):
    with pytest.raises(UnknownOffice):
        compute(day, "day", office="XXX")


def test_the_wait_is_to_the_first_call_even_after_a_transfer(undated_db):
    db = undated_db
    ticket = tickets.issue(db, "OAC", now=at(9, 0)).value
    tickets.call_next(db, 1, now=at(9, 10))
    tickets.transfer(db, ticket["id"], "OMIC", now=at(9, 15))  # back to waiting, elsewhere
    tickets.call_next(db, 5, now=at(9, 45))
    tickets.finish(db, ticket["id"], now=at(9, 50))
    totals = compute(db, "day")["totals"]
    assert (totals["wait_max_s"], totals["service_avg_s"], totals["transferred"]) == (600, 300, 1)


# The API ---------------------------------------------------------------------------------


def test_the_api_answers_the_contracts_shape_and_csv(api):
    for office in ("OAC", "OAC", "OMIC"):
        assert api.as_("reception").post("/tickets", {"office": office}).status_code == 201
    answer = api.as_("admin").get("/stats?group=office")
    assert answer.status_code == 200
    body = answer.get_json()
    assert list(body) == ["from", "to", "group", "totals", "rows"]
    assert body["from"] == body["to"] and body["group"] == "office"
    assert [(row["key"], row["issued"]) for row in body["rows"]] == [("OAC", 2), ("OMIC", 1)]
    assert list(body["totals"]) == list(stats.METRICS)
    table = api.as_("admin").get("/stats.csv?group=office&sep=;")
    assert table.headers["Content-Type"].startswith("text/csv")
    lines = table.get_data(as_text=True).splitlines()
    assert lines[0] == ";".join(["key", *stats.METRICS])
    assert lines[1].startswith("OAC;2;0;") and lines[2].startswith("OMIC;1;0;")
    assert len(lines) == 3


@pytest.mark.parametrize(
    "query, status",
    [
        ("?group=month", 400),
        ("?from=2024-06-11&to=2024-06-10", 400),
        ("?from=yesterday", 400),
        ("?office=XXX", 404),
        ("?from=2020-01-01&to=2024-01-01", 400),
    ],
)
def test_the_api_refuses_a_bad_query(api, query, status):
    refused = api.as_("admin").get("/stats" + query)
    assert refused.status_code == status and refused.get_json()["error"]["message"]
    assert api.as_("admin").get("/stats.csv" + query).status_code == status


def test_only_managers_and_administrators_read_statistics(api):
    for role in ("clerk", "reception", "display"):
        assert api.as_(role).get("/stats").status_code == 403
    assert api.get("/stats.csv").status_code == 401
    assert api.as_("admin").get("/stats.csv?sep=|").status_code == 400


def test_seed_history_fills_working_days_once(db):
    from queue_app.rules import history

    assert history.seed_history(db, 5, per_day=40) == 200
    assert history.seed_history(db, 5, per_day=40) == 0  # days already there stay as they are
    days = [row[0] for row in db.execute("SELECT DISTINCT day FROM tickets ORDER BY day")]
    assert len(days) == 5 and all(date.fromisoformat(day).weekday() < 5 for day in days)
    answer = stats.compute(db, date.fromisoformat(days[0]), date.fromisoformat(days[-1]))
    totals = answer["totals"]
    assert totals["issued"] == 200 and totals["served"] > totals["no_show"] > 0
    assert 0 < totals["wait_p50_s"] <= totals["wait_p90_s"] <= totals["wait_max_s"]
    assert 0 < totals["peak_inside"] <= 50  # the demo building's limit
    assert [row["key"] for row in answer["rows"]] == days


def test_seeded_waits_follow_the_days_load(db):
    """Desks call in order as they come free: the queue grows through the busy morning."""
    from queue_app.rules import history

    history.seed_history(db, 2, per_day=600)
    days = [row[0] for row in db.execute("SELECT DISTINCT day FROM tickets ORDER BY day")]
    start, end = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    by_hour = {row["key"]: row for row in stats.compute(db, start, end, group="hour")["rows"]}
    assert by_hour[9]["wait_avg_s"] < by_hour[11]["wait_avg_s"]
    assert max(row["peak_inside"] or 0 for row in by_hour.values()) <= 50


@pytest.mark.parametrize("office", [None, "OAC"])
def test_walking_the_indexes_gives_what_ranking_the_tickets_gives(db, monkeypatch, office):
    """A long range reads its percentiles from the ordered indexes, a short one ranks its
    tickets: the same answers, for every grouping (checked on a few days of history)."""
    from queue_app.rules import history

    history.seed_history(db, 4, per_day=90)
    days = [row[0] for row in db.execute("SELECT DISTINCT day FROM tickets ORDER BY day")]
    start, end = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    for group in stats.GROUPS:
        ranked = stats.compute(db, start, end, office, group)
        monkeypatch.setattr(stats, "WINDOW_ROWS", 0)
        walked = stats.compute(db, start, end, office, group)
        monkeypatch.undo()
        assert walked == ranked
        assert walked["totals"]["wait_p90_s"] >= walked["totals"]["wait_p50_s"] > 0


def test_the_scripted_day_walked_through_the_indexes(day, monkeypatch):
    ranked = {group: compute(day, group) for group in stats.GROUPS}
    monkeypatch.setattr(stats, "WINDOW_ROWS", 0)
    assert {group: compute(day, group) for group in stats.GROUPS} == ranked


def test_a_closed_days_sums_give_what_its_tickets_give(db):
    """Closed days are read from their sums (stats_days), today from its tickets: the same
    answers either way, for every grouping, with and without an office."""
    from queue_app.rules import history

    history.seed_history(db, 3, per_day=120)
    days = [row[0] for row in db.execute("SELECT DISTINCT day FROM stats_days ORDER BY day")]
    assert len(days) == 3  # seeding closed them
    start, end = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    answers = {
        (group, office): stats.compute(db, start, end, office, group)
        for group in stats.GROUPS
        for office in (None, "OMIC")
    }
    db.execute("DELETE FROM stats_days")
    for (group, office), closed in answers.items():
        assert stats.compute(db, start, end, office, group) == closed


def test_the_day_closes_into_its_sums_and_opens_again_if_the_clock_went_back(day):
    """The scripted day closed at midnight; a clock that ran ahead and is put back opens
    it again (its tickets are read again, and it closes anew)."""
    assert [row[0] for row in day.execute("SELECT DISTINCT day FROM stats_days")] == ["2024-06-10"]
    before = compute(day, "desk")
    ensure_today(day, T0 + timedelta(hours=10))  # the clock back on the 10th, at 19:00
    assert day.execute("SELECT COUNT(*) FROM stats_days").fetchone()[0] == 0
    assert compute(day, "desk") == before


def test_the_scripted_day_through_the_api_in_json_and_csv(day, tmp_path, tokens):
    """The same figures over HTTP, as JSON and as CSV, for every grouping."""
    from queue_app import create_app

    from conftest import APP_CONFIG

    app = create_app({**APP_CONFIG, "DATABASE": str(tmp_path / "queue.db")})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['manager']}"}
    for group in stats.GROUPS:
        query = f"?from={DAY}&to={DAY}&group={group}"
        answer = client.get("/api/v1/stats" + query, headers=headers).get_json()
        assert answer == stats.as_contract(compute(day, group))
        table = client.get("/api/v1/stats.csv" + query, headers=headers)
        lines = table.get_data(as_text=True).splitlines()
        assert lines[0] == ",".join(["key", *stats.METRICS])
        shown = [
            ",".join(
                "" if row[name] is None else str(row[name]) for name in ("key", *stats.METRICS)
            )
            for row in answer["rows"]
        ]
        assert lines[1:] == shown
    by_office = client.get(f"/api/v1/stats.csv?from={DAY}&group=office", headers=headers)
    assert by_office.get_data(as_text=True).splitlines()[1:] == [
        "OAC,5,1,1,1,2,0,600,600,600,600,480,480,1.0,,1,1,0,0,,,,",
        "OMIC,2,2,0,0,0,1,1500,1200,1800,1800,600,600,0.0,,1,0,1,0,,,,",
    ]


# The queue outside the door (issue 16) ----------------------------------------------------
#
# The same Monday, with room for 2 (target wait 900 s everywhere):
#
#     09:00 A001 OAC   in; called 09:10 by Taulell 1, done 09:12 (room: A003 let in)
#     09:01 A002 OAC   in; called 09:40 by Taulell 2, still there at midnight: expired
#     09:02 A003 OAC   full: outside; let in 09:12; called 09:41 by Taulell 1, done 09:45
#     09:03 C001 OMIC  a party of 2, outside; let in 09:30 when two people left
#     09:04 A004 OAC   outside; let in 09:45 when A003 was done
#     09:05 A005 OAC   outside; gave up 09:20 (cancelled, never let in)
#     10:00 A006 OAC   outside; still outside at midnight: expired
#
# Waits outside, issue to admission: A003 600 s, C001 1620 s, A004 2460 s.

OUTSIDE_TOTALS = {
    "waited_outside": 5,
    "outside_wait_avg_s": 1560,  # (600 + 1620 + 2460) / 3
    "outside_wait_p50_s": 1620,
    "outside_wait_p90_s": 2460,
    "outside_wait_max_s": 2460,
}


def outside_figures(row):
    return {name: row[name] for name in OUTSIDE_TOTALS}


def outside_day_script(db):
    """The day above, up to its last ticket (the day is still open)."""
    door.set_counts(db, limit=2, now=at(9, 0))

    def issue(office, hh, mm, **options):
        return tickets.issue(db, office, now=at(hh, mm), **options).value

    a1, a2 = issue("OAC", 9, 0), issue("OAC", 9, 1)
    a3 = issue("OAC", 9, 2, outside=True)
    c1 = issue("OMIC", 9, 3, party_size=2, outside=True)
    a4 = issue("OAC", 9, 4, outside=True)
    a5 = issue("OAC", 9, 5, outside=True)
    assert [t["outside"] for t in (a1, a2, a3, c1, a4, a5)] == [False] * 2 + [True] * 4
    assert tickets.call_next(db, 1, now=at(9, 10)).value["id"] == a1["id"]
    tickets.finish(db, a1["id"], now=at(9, 12))
    tickets.cancel(db, a5["id"], now=at(9, 20))
    door.leave(db, 2, now=at(9, 30))
    assert tickets.call_next(db, 2, now=at(9, 40)).value["id"] == a2["id"]
    assert tickets.call_next(db, 1, now=at(9, 41)).value["id"] == a3["id"]
    tickets.finish(db, a3["id"], now=at(9, 45))
    assert issue("OAC", 10, 0, outside=True)["outside"]
    admitted = db.execute(
        "SELECT code, admitted_at FROM tickets WHERE admitted_at IS NOT NULL ORDER BY admitted_at"
    ).fetchall()
    assert [code for code, _ in admitted] == ["A003", "C001", "A004"]


@pytest.fixture
def outside_day(undated_db):
    """The day above, closed at midnight."""
    outside_day_script(undated_db)
    ensure_today(undated_db, T0 + timedelta(days=1))
    return undated_db


def test_the_outside_queue_in_the_totals_and_every_grouping(undated_db):
    """While the day is open (read from its tickets): who waited outside, and how long each
    waited from issue to being let in; null where nobody was let in."""
    db = undated_db
    outside_day_script(db)
    assert outside_figures(compute(db, "day")["totals"]) == OUTSIDE_TOTALS
    assert [outside_figures(row) for row in compute(db, "day")["rows"]] == [OUTSIDE_TOTALS]
    assert [outside_figures(row) for row in compute(db, "weekday")["rows"]] == [OUTSIDE_TOTALS]
    by_office = {row["key"]: outside_figures(row) for row in compute(db, "office")["rows"]}
    assert by_office == {
        "OAC": {
            "waited_outside": 4,
            "outside_wait_avg_s": 1530,
            "outside_wait_p50_s": 600,
            "outside_wait_p90_s": 2460,
            "outside_wait_max_s": 2460,
        },
        "OMIC": {
            "waited_outside": 1,
            "outside_wait_avg_s": 1620,
            "outside_wait_p50_s": 1620,
            "outside_wait_p90_s": 1620,
            "outside_wait_max_s": 1620,
        },
    }
    by_hour = {row["key"]: outside_figures(row) for row in compute(db, "hour")["rows"]}
    assert by_hour[9] == {**OUTSIDE_TOTALS, "waited_outside": 4}
    assert by_hour[10] == {**NO_OUTSIDE, "waited_outside": 1}  # A006: never let in
    by_desk = {row["key"]: outside_figures(row) for row in compute(db, "desk")["rows"]}
    assert list(by_desk) == ["Taulell 1", "Taulell 2", None]
    assert by_desk["Taulell 1"] == {
        "waited_outside": 1,
        "outside_wait_avg_s": 600,
        "outside_wait_p50_s": 600,
        "outside_wait_p90_s": 600,
        "outside_wait_max_s": 600,
    }
    assert by_desk["Taulell 2"] == NO_OUTSIDE
    assert by_desk[None] == {
        "waited_outside": 4,
        "outside_wait_avg_s": 2040,
        "outside_wait_p50_s": 1620,
        "outside_wait_p90_s": 2460,
        "outside_wait_max_s": 2460,
    }
    only_omic = compute(db, "day", office="OMIC")["totals"]
    assert outside_figures(only_omic) == by_office["OMIC"]
    assert compute(db, "day")["totals"]["issued"] == 7  # those outside were issued too


def test_a_closed_days_outside_sums_give_what_its_tickets_give(outside_day, monkeypatch):
    """Closed at midnight, the day is read from its sums; from its tickets once the sums are
    gone; and with the percentiles walked through the indexes: the same figures each way."""
    db = outside_day
    sums = db.execute("SELECT SUM(waited_outside), SUM(admitted) FROM stats_days").fetchone()
    assert tuple(sums) == (5, 3)
    answers = {
        (group, office): stats.compute(db, DAY, DAY, office, group)
        for group in stats.GROUPS
        for office in (None, "OAC")
    }
    assert outside_figures(answers["day", None]["totals"]) == OUTSIDE_TOTALS
    monkeypatch.setattr(stats, "WINDOW_ROWS", 0)
    for (group, office), closed in answers.items():
        assert stats.compute(db, DAY, DAY, office, group) == closed
    monkeypatch.undo()
    db.execute("DELETE FROM stats_days")
    for (group, office), closed in answers.items():
        assert stats.compute(db, DAY, DAY, office, group) == closed


def test_a_range_adds_the_closed_days_and_today_outside(outside_day):
    """A closed day and an open one in one range: counts add up, the longest is the longest,
    the percentiles rank both days' waits together."""
    db = outside_day
    tomorrow = T0 + timedelta(days=1)
    door.set_counts(db, inside=2, now=tomorrow)
    late = tickets.issue(db, "OMIC", outside=True, now=tomorrow).value
    assert late["outside"]
    door.leave(db, 1, now=tomorrow + timedelta(minutes=50))  # 3000 s outside
    answer = stats.compute(db, DAY, DAY + timedelta(days=1), group="day")
    assert outside_figures(answer["totals"]) == {
        "waited_outside": 6,
        "outside_wait_avg_s": 1920,  # (600 + 1620 + 2460 + 3000) / 4
        "outside_wait_p50_s": 1620,
        "outside_wait_p90_s": 3000,
        "outside_wait_max_s": 3000,
    }
    assert [outside_figures(row) for row in answer["rows"]] == [
        OUTSIDE_TOTALS,
        {
            "waited_outside": 1,
            "outside_wait_avg_s": 3000,
            "outside_wait_p50_s": 3000,
            "outside_wait_p90_s": 3000,
            "outside_wait_max_s": 3000,
        },
    ]


def test_days_closed_before_the_upgrade_get_their_outside_sums(madrid_time):
    """A day closed by the version before (its sums without the outside queue) is added up
    again by the step that brings them (m017): the same figures as from its tickets."""
    from queue_app import seed
    from queue_app.rules import offices
    from queue_app.storage.db import connect, write_transaction
    from queue_app.storage.migrations import migrate, migrations

    db = connect(":memory:")
    migrations.apply(db, stop_before="m017_outside_statistics")
    with write_transaction(db):
        for position, (code, letter, names) in enumerate(seed.OFFICES):
            offices.ensure(db, code, names, letter, position)
        for desk_id, (name, served) in enumerate(seed.DESKS, start=1):
            db.execute(
                "INSERT INTO desks (id, name, position) VALUES (?, ?, ?)", [desk_id, name, 0]
            )
            for office in served:
                db.execute("INSERT INTO desk_offices VALUES (?, ?)", [desk_id, office])
    outside_day_script(db)
    from_tickets = {group: compute(db, group) for group in stats.GROUPS}
    # How that version closed a day: the same sums, none of the outside queue.
    before = [name for name in stats.ADDED if name not in ("waited_outside", "admitted")]
    before = [name for name in before if name != "outside_wait_sum"] + ["wait_max"]
    with write_transaction(db):
        db.execute(
            f"INSERT INTO stats_days (day, office, desk_id, hour, {', '.join(before)})"
            f" SELECT t.day, t.office, COALESCE(t.desk_id, 0), t.issued_hour, {', '.join(before)}"
            f" FROM (SELECT t.day, t.office, t.desk_id, t.issued_hour, {stats.SUMS_SQL}"
            " FROM tickets t JOIN offices o ON o.code = t.office"
            " GROUP BY t.day, t.office, t.desk_id, t.issued_hour) AS t"
        )
    migrate(db)
    sums = db.execute("SELECT SUM(waited_outside), SUM(admitted) FROM stats_days").fetchone()
    assert tuple(sums) == (5, 3)
    assert {group: compute(db, group) for group in stats.GROUPS} == from_tickets
    db.close()


def test_the_outside_queue_through_the_api_in_json_and_csv(outside_day, tmp_path, tokens):
    from queue_app import create_app

    from conftest import APP_CONFIG

    app = create_app({**APP_CONFIG, "DATABASE": str(tmp_path / "queue.db")})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {tokens['manager']}"}
    answer = client.get(f"/api/v1/stats?from={DAY}&group=office", headers=headers).get_json()
    assert outside_figures(answer["totals"]) == OUTSIDE_TOTALS
    assert list(answer["totals"])[-5:] == list(OUTSIDE_TOTALS)
    table = client.get(f"/api/v1/stats.csv?from={DAY}&group=hour&sep=;", headers=headers)
    lines = table.get_data(as_text=True).splitlines()
    assert lines[0].endswith(";" + ";".join(OUTSIDE_TOTALS))
    assert lines[1].startswith("9;") and lines[1].endswith(";4;1560;1620;2460;2460")
    assert lines[2].startswith("10;") and lines[2].endswith(";1;;;;")


@pytest.mark.slow
def test_the_page_shows_who_waited_outside(people, live):
    """In Chromium: the figure and the office table's columns of the queue outside, as the
    API counts them."""
    import re

    from playwright.sync_api import expect

    from conftest import WAIT_MS, save_screenshot

    live.api("admin", "PUT", "/occupancy", {"limit": 1}, expect=200)
    live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    for _ in range(2):
        waiting = live.api("reception", "POST", "/tickets", {"office": "OAC", "outside": True})
        assert waiting["outside"] is True
    live.api("reception", "POST", "/occupancy/exits", {}, expect=200)  # the first is let in
    totals = live.api("manager", "GET", "/stats", expect=200)["totals"]
    assert (totals["waited_outside"], totals["outside_wait_max_s"] is not None) == (2, True)
    shown = f"{totals['outside_wait_p50_s']} s"  # a few seconds at most: "N s"

    manager = people.log_in("gestor")
    figure = manager.locator('[data-figure="waited_outside"]')
    expect(figure.locator(".value")).to_have_text("2", timeout=WAIT_MS)
    expect(figure.locator(".detail")).to_have_text(re.compile(f"{shown}$"))
    oac = manager.locator("#table-office tbody tr", has=manager.locator("th", has_text="OAC"))
    expect(oac.locator("td").nth(-2)).to_have_text("2")
    expect(oac.locator("td").nth(-1)).to_have_text(shown)
    headers = manager.locator("#table-office thead th")
    expect(headers).to_have_count(16)
    manager.evaluate("document.querySelector('#figures').scrollIntoView()")
    save_screenshot(manager, "stats-outside.png")
