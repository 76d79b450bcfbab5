"""An appointment's whole way in real Chromium: booked by phone at reception, its printed
confirmation's QR code, the citizen's page, check-in by a scanned code, the TV's call.

The server's clock starts at 08:40 of the next working day (libfaketime), so that the
09:00 slot is still ahead when it is booked and open for check-in right after.
"""

import re
import subprocess
from datetime import timedelta, timezone

import pytest
import zxingcpp
from playwright.sync_api import expect
from test_pages_day import _pdf_grey_pixels, keep_screenshot

from conftest import PHONE, WAIT_MS, Browsers, LiveTownHall
from helpers import next_workday
from servers import ServerPool

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
SLOT = next_workday(hour=9)


@pytest.fixture
def tomorrow_morning(db, tmp_path, tokens):
    """The demo served by a real ``run.py`` whose clock starts 20 minutes before SLOT."""
    start = (SLOT - timedelta(minutes=20)).astimezone(timezone.utc)
    env = {
        "LD_PRELOAD": LIBFAKETIME,
        "FAKETIME": start.strftime("@%Y-%m-%d %H:%M:%S"),
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "TZ": "UTC",
    }
    path = str(tmp_path / "queue.db")
    screen_key = db.execute("SELECT key FROM displays ORDER BY id LIMIT 1").fetchone()[0]
    with ServerPool() as pool:
        yield LiveTownHall(pool.start(path, env=env), path, tokens, screen_key)


@pytest.fixture
def town(browser, tomorrow_morning):
    opened = Browsers(browser, tomorrow_morning)
    yield opened
    opened.close()
    assert opened.errors == []


def test_an_appointment_from_the_phone_call_to_the_tv(tomorrow_morning, town, tmp_path):
    live = tomorrow_morning
    reception = town.log_in("recepcio")
    reception.click("nav.page-tabs >> text=Cites")
    expect(reception).to_have_url(f"{live.url}/reception/appointments")
    expect(reception.locator("[data-live]")).to_have_class(re.compile("online"))
    expect(reception.locator("#book-date")).to_have_value(SLOT.date().isoformat())

    # Booked by phone: office, day, a free slot, the name and the phone.
    reception.select_option("#book-office", "OMIC")
    reception.click(f"#slots button[data-start='{SLOT.isoformat()}']")
    reception.fill("#book-name", "Núria Puig")
    reception.fill("#book-phone", "600 11 22 33")
    reception.check("input[name=source][value=phone]")
    reception.click("#book")
    expect(reception.locator("#read-out")).to_contain_text("09:00")
    code = reception.locator("#read-out").get_attribute("data-code")
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{6}", code)
    expect(reception.locator("#read-out")).to_contain_text(" ".join(code))
    confirmation = reception.frame_locator("#confirm-frame").locator(".booking-code")
    expect(confirmation).to_have_text(code)
    row = reception.locator("#day tbody tr").filter(has_text=code)
    expect(row).to_have_attribute("data-status", "booked")
    expect(row.locator(".name")).to_have_text("Núria Puig")
    expect(reception.locator(f"#slots button[data-start='{SLOT.isoformat()}']")).to_have_count(0)
    keep_screenshot(reception, "reception-appointments.png", in_docs=True)

    # The printed confirmation: its QR code opens the citizen's own page.
    booked = live.api("reception", "GET", f"/appointments?q={code}", expect=200)[0]
    printed = town.log_in("recepcio")
    printed.goto(f"{live.url}/reception/appointments/{booked['id']}/print")
    pdf = tmp_path / "confirmation.pdf"
    printed.pdf(path=str(pdf), width="80mm", height="150mm", print_background=True)
    found = zxingcpp.read_barcodes(_pdf_grey_pixels(str(pdf), tmp_path))
    assert [each.text for each in found] == [f"{live.url}/a/{booked['token']}"]
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    assert code in re.sub(r"\s", "", text) and "Núria" not in text  # letter-spaced
    printed.set_viewport_size({"width": 420, "height": 760})
    keep_screenshot(printed, "appointment-print.png", in_docs=True)

    clerk = town.log_in("taulell5")
    clerk.click("[data-desk='5']")
    arrival = clerk.locator(f"#appointments li[data-code='{code}']")
    expect(arrival).to_have_attribute("data-status", "booked")
    expect(arrival.locator(".time")).to_have_text("09:00")

    citizen = town.public(f"/a/{booked['token']}", PHONE)
    expect(citizen.locator("#code")).to_have_text(code)
    expect(citizen.locator("#state")).to_have_attribute("data-status", "booked")
    expect(citizen.locator("body")).not_to_contain_text("Núria")
    keep_screenshot(citizen, "appointment-phone.png", in_docs=True)

    # The citizen arrives: the scanner types the code and Enter; the ticket prints.
    reception.click("#find")
    reception.keyboard.type(code.lower())
    reception.keyboard.press("Enter")
    expect(row).to_have_attribute("data-status", "checked_in")
    ticket_code = reception.frame_locator("#ticket-frame").locator(".code")
    expect(ticket_code).to_have_text("C001")
    expect(citizen.locator("#state")).to_have_attribute("data-status", "checked_in")
    expect(citizen.locator("#state")).to_contain_text("C001")
    expect(arrival).to_have_attribute("data-status", "checked_in")  # the desk saw it live
    expect(arrival).to_contain_text("C001")

    # The TV calls it when the OMIC desk calls next.
    tv = town.public(f"/display/{live.screen_key}", {"width": 1920, "height": 1080})
    called = live.api("clerk", "POST", "/desks/5/call-next", expect=200)
    assert (called["code"], called["kind"]) == ("C001", "appointment")
    expect(tv.locator("body")).to_contain_text("C001")
    expect(tv.locator("body")).not_to_contain_text("Núria")
