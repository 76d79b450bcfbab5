"""The citizen's appointment page ``/a/<token>``: what it shows (never a name), its calendar
file, its cancel button, and its live connection."""

from datetime import datetime, timedelta

import icalendar
import pytest

from queue_app import socketio

from helpers import csrf_token, next_workday, travel_to

SLOT = next_workday(hour=11)


@pytest.fixture
def booked(api):
    body = {"office": "OMIC", "start": SLOT.isoformat(), "name": "Zenobia Quiroga"}
    made = api.as_("reception").post("/appointments", {**body, "phone": "699887766"})
    assert made.status_code == 201
    return made.get_json()


def test_the_page_shows_the_appointment_and_no_name(client, booked):
    page = client.get(f"/a/{booked['token']}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert booked["code"] in html and "Municipal d&#39;Informació al Consumidor" in html
    assert "11:00" in html and "11:15" in html
    assert "Zenobia" not in html and "699887766" not in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert 'id="cancel"' in html
    assert client.get("/a/no-such-token").status_code == 404


def test_the_calendar_file_is_the_appointment(client, booked):
    answer = client.get(f"/a/{booked['token']}/calendar.ics")
    assert answer.headers["Content-Type"].startswith("text/calendar")
    event = icalendar.Calendar.from_ical(answer.get_data()).walk("VEVENT")[0]
    assert event.decoded("dtstart") == SLOT
    assert event.decoded("dtend") == SLOT + timedelta(minutes=15)
    assert booked["code"] in str(event["description"])
    assert "Zenobia" not in answer.get_data(as_text=True)


def test_the_citizen_cancels_with_the_pages_button(client, booked, api):
    page = client.get(f"/a/{booked['token']}").get_data(as_text=True)
    without = client.post(f"/a/{booked['token']}/cancel")
    assert without.status_code == 400  # no CSRF token: refused
    done = client.post(f"/a/{booked['token']}/cancel", data={"csrf_token": csrf_token(page)})
    assert done.status_code == 303
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Cancel·lada" in after and 'id="cancel"' not in after
    listed = api.as_("reception").get(f"/appointments?date={SLOT.date()}").get_json()
    assert listed[0]["status"] == "cancelled"


def test_once_it_has_started_there_is_no_cancel_button(client, booked, monkeypatch):
    travel_to(monkeypatch, SLOT + timedelta(minutes=1))
    assert 'id="cancel"' not in client.get(f"/a/{booked['token']}").get_data(as_text=True)


def test_the_page_hears_its_appointment_change_without_the_name(
    app, client, booked, api, monkeypatch
):
    live = socketio.test_client(app, auth={"appointment": booked["token"]})
    snapshot = live.get_received()
    assert [m["name"] for m in snapshot] == ["snapshot"]
    state = snapshot[0]["args"][0]["appointment"]
    assert state["code"] == booked["code"] and "name" not in state
    travel_to(monkeypatch, SLOT - timedelta(minutes=5))
    assert api.as_("reception").post(f"/appointments/{booked['id']}/check-in").status_code == 201
    heard = [m["args"][0] for m in live.get_received() if m["name"] == "appointment_changed"]
    assert [event["appointment"]["status"] for event in heard] == ["checked_in"]
    assert "name" not in heard[0]["appointment"] and "phone" not in heard[0]["appointment"]
    assert heard[0]["appointment"]["ticket"].startswith("C")
    live.disconnect()


def test_a_wrong_appointment_token_is_refused(app):
    assert not socketio.test_client(app, auth={"appointment": "nope"}).is_connected()


def test_the_start_is_shown_in_the_town_halls_time(booked):
    assert datetime.fromisoformat(booked["start"]).utcoffset() == SLOT.utcoffset()
