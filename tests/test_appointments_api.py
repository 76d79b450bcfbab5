"""The appointments API (contract v2, "Appointments (cita prèvia)"), its live event, and the
commands ``import-appointments`` and ``purge-personal-data``."""

import os
import pathlib
from datetime import timedelta

import pytest

from queue_app import socketio
from queue_app.rules import appointments, imports

from helpers import next_workday, travel_to

SLOT = next_workday()


def book(api, **fields):
    body = {"office": "OMIC", "start": SLOT.isoformat(), "name": "Núria Puig", **fields}
    return api.as_("reception").post("/appointments", body)


def error_code(response):
    return response.get_json()["error"]["code"]


def test_the_schedule_is_read_by_staff_and_set_by_the_admin(api):
    schedule = api.as_("clerk").get("/offices/OAC/schedule").get_json()
    assert schedule["hours"]["thu"] == [["09:00", "14:00"], ["16:00", "19:00"]]
    changed = api.as_("admin").put("/offices/OMIC/schedule", {"per_slot": 2})
    assert changed.status_code == 200 and changed.get_json()["per_slot"] == 2
    refused = api.as_("admin").put("/offices/OMIC/schedule", {"per_slot": 0})
    assert refused.status_code == 400 and error_code(refused) == "invalid_input"
    assert api.as_("admin").get("/offices/XXX/schedule").status_code == 404


def test_slots_of_a_date(api):
    slots = api.as_("reception").get(f"/offices/OMIC/slots?date={SLOT.date()}").get_json()
    assert len(slots) == 20 and slots[0]["start"] == SLOT.isoformat()
    assert slots[0]["free"] == 1
    book(api)
    slots = api.as_("clerk").get(f"/offices/OMIC/slots?date={SLOT.date()}").get_json()
    assert (slots[0]["booked"], slots[0]["free"]) == (1, 0)
    bad = api.as_("clerk").get("/offices/OMIC/slots?date=tomorrow")
    assert bad.status_code == 400


def test_booking_answers_201_with_the_appointment(api):
    made = book(api, phone="600112233", party_size=2, source="phone")
    assert made.status_code == 201
    body = made.get_json()
    assert (body["office"], body["start"], body["status"]) == ("OMIC", SLOT.isoformat(), "booked")
    assert (body["name"], body["phone"], body["source"]) == ("Núria Puig", "600112233", "phone")


@pytest.mark.parametrize(
    "fields, status, code",
    [
        ({}, 409, "slot_full"),  # the second booking of OMIC's one place
        ({"start": (SLOT + timedelta(minutes=7)).isoformat()}, 409, "outside_hours"),
        ({"start": (SLOT - timedelta(days=30)).isoformat()}, 400, "invalid_input"),
        ({"start": "2999-01-01T09:00"}, 400, "invalid_input"),
        ({"office": "XXX"}, 404, "unknown_office"),
        ({"party_size": 50}, 400, "invalid_input"),
        ({"name": ""}, 400, "invalid_input"),
        ({"colour": "red"}, 400, "invalid_input"),
    ],
)
def test_a_refused_booking_says_why(api, fields, status, code):
    assert book(api).status_code == 201
    refused = book(api, **fields)
    assert (refused.status_code, error_code(refused)) == (status, code)


def test_the_days_list_and_its_search(api):
    made = book(api).get_json()
    day = SLOT.date()
    found = api.as_("clerk").get(f"/appointments?date={day}&q=NURIA").get_json()
    assert [a["code"] for a in found] == [made["code"]]
    assert api.as_("reception").get(f"/appointments?date={day}&q=nobody").get_json() == []
    assert api.as_("reception").get("/appointments?status=lost").status_code == 400


def test_the_citizen_sees_the_appointment_without_name_or_phone_and_cancels_it(api):
    made = book(api, phone="600112233").get_json()
    public = api.get(f"/appointments/{made['token']}").get_json()
    assert "name" not in public and "phone" not in public and "id" not in public
    assert public["code"] == made["code"]
    cancelled = api.post(f"/appointments/{made['token']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    again = api.post(f"/appointments/{made['token']}/cancel")
    assert (again.status_code, error_code(again)) == (409, "invalid_transition")
    assert api.get("/appointments/no-such-token").status_code == 404


def test_check_in_on_the_day_issues_the_ticket(api, monkeypatch):
    made = book(api, party_size=2).get_json()
    early = api.as_("reception").post(f"/appointments/{made['id']}/check-in")
    assert (early.status_code, error_code(early)) == (409, "not_today")
    travel_to(monkeypatch, SLOT - timedelta(minutes=20))
    ticket = api.as_("reception").post(f"/appointments/{made['id']}/check-in")
    assert ticket.status_code == 201
    assert (ticket.get_json()["kind"], ticket.get_json()["appointment_at"]) == (
        "appointment",
        SLOT.isoformat(),
    )
    twice = api.as_("reception").post(f"/appointments/{made['id']}/check-in", {"force": True})
    assert (twice.status_code, error_code(twice)) == (409, "already_checked_in")


def test_a_late_arrival_needs_force(api, monkeypatch):
    made = book(api).get_json()
    travel_to(monkeypatch, SLOT + timedelta(minutes=30))
    late = api.as_("reception").post(f"/appointments/{made['id']}/check-in")
    assert (late.status_code, error_code(late)) == (409, "too_late")
    forced = api.as_("reception").post(f"/appointments/{made['id']}/check-in", {"force": True})
    assert forced.status_code == 201


CSV = "id,office,start,name\nx1,OAC,{start},Anna\nx2,OAC,nonsense,Berta\n"


def test_the_admin_imports_a_csv_with_a_dry_run_first(api, store):
    body = CSV.format(start=SLOT.strftime("%Y-%m-%d %H:%M")).encode()
    admin = api.as_("admin")
    headers = {"Content-Type": "text/csv"}
    preview = admin.client.post(
        "/api/v1/appointments/import?dry_run=true",
        data=body,
        headers={**headers, **admin._headers()},
    )
    assert preview.status_code == 200
    assert preview.get_json() == {
        "created": 1,
        "updated": 0,
        "unchanged": 0,
        "cancelled": 0,
        "errors": [{"line": 3, "message": preview.get_json()["errors"][0]["message"]}],
    }
    assert store.execute("SELECT COUNT(*) FROM appointments").fetchone()[0] == 0
    done = admin.client.post(
        "/api/v1/appointments/import", data=body, headers={**headers, **admin._headers()}
    )
    assert done.get_json()["created"] == 1
    assert store.execute("SELECT COUNT(*) FROM appointments").fetchone()[0] == 1


@pytest.mark.parametrize(
    "data, kind, status",
    [
        (b"id,start,name\n", "application/json", 400),
        (b"", "text/csv", 400),
        (b"\xff\xfe" + b"x" * 10, "text/csv", 400),
        (b"x" * (imports.MAX_BYTES + 1), "text/csv", 413),
    ],
)
def test_a_bad_import_is_refused_without_a_5xx(api, store, data, kind, status):
    admin = api.as_("admin")
    refused = admin.client.post(
        "/api/v1/appointments/import",
        data=data,
        headers={"Content-Type": kind, **admin._headers()},
    )
    assert refused.status_code == status
    assert refused.get_json()["error"]["message"]
    assert store.execute("SELECT COUNT(*) FROM appointments").fetchone()[0] == 0


def test_staff_hear_appointment_changes_with_the_name_and_displays_never(app, client, api, store):
    from queue_app.rules import displays

    key = displays.list_displays(store)[0]["key"]
    staff = socketio.test_client(app, auth={"token": api.tokens["reception"]})
    screen = socketio.test_client(app, auth={"screen": key})
    staff.get_received(), screen.get_received()
    made = book(api).get_json()
    heard = [m for m in staff.get_received() if m["name"] == "appointment_changed"]
    assert len(heard) == 1
    appointment = heard[0]["args"][0]["appointment"]
    assert (appointment["code"], appointment["name"]) == (made["code"], "Núria Puig")
    assert list(appointment) == list(appointments.Appointment.__annotations__)
    assert [m["name"] for m in screen.get_received()] == []
    staff.disconnect(), screen.disconnect()


# Commands ----------------------------------------------------------------------------------


def test_import_appointments_prints_the_counts_on_its_last_line(app, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(CSV.format(start=SLOT.strftime("%Y-%m-%d %H:%M")), encoding="utf-8")
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["import-appointments", str(path), "--dry-run"])
    assert dry.output.splitlines()[-1] == "created=1 updated=0 unchanged=0 cancelled=0 errors=1"
    assert "line 3:" in dry.output
    done = runner.invoke(args=["import-appointments", str(path)])
    assert done.output.splitlines()[-1] == "created=1 updated=0 unchanged=0 cancelled=0 errors=1"
    again = runner.invoke(args=["import-appointments", str(path)])
    assert again.output.splitlines()[-1] == "created=0 updated=0 unchanged=1 cancelled=0 errors=1"
    bad = tmp_path / "export.ics"
    bad.write_text("not a calendar")
    refused = runner.invoke(args=["import-appointments", str(bad)])
    assert refused.exit_code != 0 and "iCalendar" in refused.output


def test_purge_leaves_no_erased_name_in_the_database_file(app, api, store, monkeypatch):
    names = [f"Zenobia Quiroga {n}" for n in range(12)]
    for n, name in enumerate(names):
        start = SLOT + timedelta(minutes=15 * n)
        assert (
            book(api, start=start.isoformat(), name=name, phone=f"69988{n:04d}").status_code == 201
        )
    travel_to(monkeypatch, SLOT + timedelta(days=40))
    result = app.test_cli_runner().invoke(args=["purge-personal-data"])
    assert "12 appointment(s)" in result.output
    path = app.config["DATABASE"]
    raw = b"".join(
        pathlib.Path(name).read_bytes() for name in (path, path + "-wal") if os.path.exists(name)
    )
    assert b"Zenobia" not in raw and b"Quiroga" not in raw and b"zenobia" not in raw
    assert b"699880001" not in raw


def test_check_in_too_early_or_in_a_full_building_is_refused(api, monkeypatch):
    made = book(api, party_size=3).get_json()
    travel_to(monkeypatch, SLOT - timedelta(minutes=61))
    early = api.as_("reception").post(f"/appointments/{made['id']}/check-in")
    assert (early.status_code, error_code(early)) == (409, "too_early")
    travel_to(monkeypatch, SLOT - timedelta(minutes=30))
    assert api.as_("admin").put("/occupancy", {"inside": 48, "limit": 50}).status_code == 200
    full = api.as_("reception").post(f"/appointments/{made['id']}/check-in")
    assert (full.status_code, error_code(full)) == (409, "capacity_full")
    listed = api.as_("reception").get(f"/appointments?date={SLOT.date()}").get_json()
    assert listed[0]["status"] == "booked"


def test_reception_cancels_a_booking_and_its_place_is_free_again(api):
    made = book(api).get_json()
    cancelled = api.as_("reception").post(f"/appointments/{made['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    again = api.as_("reception").post(f"/appointments/{made['id']}/cancel")
    assert (again.status_code, error_code(again)) == (409, "invalid_transition")
    assert book(api, name="Other").status_code == 201
    assert api.as_("reception").post("/appointments/999999/cancel").status_code == 404
