"""A working day in real browsers (headless Chromium) against a real server: reception issues
tickets, a clerk calls and serves them, a citizen follows a transferred ticket on the phone,
the full building refuses a ticket, roles are kept apart; and the printed ticket as a PDF.

Every wait is for something on the page (Playwright's ``expect``), never a sleep.
"""

import os
import re
import subprocess

import pytest
import zxingcpp
from playwright.sync_api import expect

from queue_app.rules import accounts, desks
from queue_app.storage.db import connect

from conftest import DESKTOP, PHONE, WAIT_MS, save_screenshot

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

expect.set_options(timeout=WAIT_MS)


def row(page, code):
    """The row of today's list on the reception page that shows ``code``."""
    return page.locator("#tickets tbody tr").filter(
        has=page.locator(".code", has_text=re.compile(f"^{code}$"))
    )


def printed_code(reception):
    return reception.frame_locator("#ticket-frame").locator(".code")


def issue(reception, office, code):
    reception.click(f"[data-office={office}]")
    expect(printed_code(reception)).to_have_text(code)


def token_of(live, code):
    return next(
        t["token"]
        for t in live.api("reception", "GET", "/tickets", expect=200)
        if t["code"] == code
    )


def keep_screenshot(page, name, in_docs=False):
    """Save into test-artifacts/ (and for the README, see conftest.save_screenshot)."""
    return save_screenshot(page, name, docs_name=name if in_docs else None)


def test_a_whole_day_at_the_desks(live, people):
    clerk = people.log_in("taulell1")
    expect(clerk.locator("#desk-choice")).to_be_visible()
    clerk.click("[data-desk='1']")
    expect(clerk.locator("#desk")).to_have_attribute("data-desk-name", "Taulell 1")
    expect(clerk.locator("[data-live]")).to_have_class(re.compile("online"))
    expect(clerk.locator("#nobody")).to_be_visible()

    reception = people.log_in("recepcio")
    expect(reception).to_have_url(live.url + "/reception")
    expect(reception.locator("[data-live]")).to_have_class(re.compile("online"))
    issue(reception, "OAC", "A001")
    # The desk's list fills by itself, with a chime: its queue was empty.
    expect(clerk.locator("#waiting li")).to_have_count(1)
    expect(clerk.locator("#desk")).to_have_attribute("data-chimes", "1")
    issue(reception, "OAC", "A002")
    issue(reception, "OAC", "A003")
    reception.keyboard.press("2")  # the second office by keyboard: OMIC
    expect(printed_code(reception)).to_have_text("C001")
    expect(clerk.locator("#waiting li")).to_have_count(3)
    expect(clerk.locator("#waiting li .code")).to_have_text(["A001", "A002", "A003"])
    expect(reception.locator("[data-waiting=OAC]")).to_contain_text("3")

    citizen = people.public(f"/t/{token_of(live, 'A003')}")
    expect(citizen.locator("#code")).to_have_text("A003")
    expect(citizen.locator(".ahead")).to_have_text("2")
    keep_screenshot(citizen, "ticket-phone-waiting.png", in_docs=True)

    clerk.locator("#call-next").dblclick()  # a double press calls once
    expect(clerk.locator("#ticket-code")).to_have_text("A001")
    expect(clerk.locator("#status-line")).not_to_have_class(re.compile("error"))
    expect(row(reception, "A001")).to_have_attribute("data-status", "called")
    expect(citizen.locator(".ahead")).to_have_text("1")  # moved up, pushed to the phone
    expect(clerk.locator("#waiting li .code")).to_have_text(["A002", "A003"])
    keep_screenshot(clerk, "desk-desktop.png", in_docs=True)

    clerk.keyboard.press("r")  # recall
    expect(clerk.locator("#ticket-facts")).to_contain_text("1")
    expect(clerk.locator("[data-action=start]")).to_be_visible()
    clerk.click("[data-action=start]")
    expect(clerk.locator("#ticket-card")).to_have_class(re.compile("serving"))
    for action in ("start", "recall", "no-show"):  # not allowed while serving
        expect(clerk.locator(f"[data-action={action}]")).to_be_hidden()
    expect(row(reception, "A001")).to_have_attribute("data-status", "serving")
    clerk.click("[data-action=finish]")
    expect(clerk.locator("#call-next")).to_be_visible()
    expect(row(reception, "A001")).to_have_attribute("data-status", "done")

    clerk.keyboard.press("Space")  # call next by keyboard
    expect(clerk.locator("#ticket-code")).to_have_text("A002")
    expect(citizen.locator(".ahead-label")).to_have_text(re.compile(".+"))
    clerk.click("[data-action=no-show]")
    expect(row(reception, "A002")).to_have_attribute("data-status", "no_show")

    clerk.click("#call-next")
    expect(clerk.locator("#ticket-code")).to_have_text("A003")
    expect(citizen.locator("#state")).to_have_attribute("data-status", "called")
    expect(citizen.locator(".where")).to_have_text("Taulell 1")

    clerk.click("[data-action=transfer]")
    expect(clerk.locator("#transfer")).to_be_visible()
    clerk.click("#transfer [data-office=OMIC]")
    expect(clerk.locator("#call-next")).to_be_visible()
    expect(row(reception, "A003")).to_have_attribute("data-status", "waiting")
    expect(row(reception, "A003").locator(".office")).to_have_text("OMIC")
    # The phone follows its ticket to OMIC: first there, as it was issued before C001.
    expect(citizen.locator("#state")).to_have_attribute("data-status", "waiting")
    expect(citizen.locator("#office")).to_have_text("Oficina Municipal d'Informació al Consumidor")
    expect(citizen.locator("#state .note")).to_contain_text("Oficina Municipal")
    live.api("clerk", "POST", "/desks/5/call-next", expect=200)
    expect(citizen.locator(".where")).to_have_text("Taulell 5")
    expect(citizen.locator("body")).to_have_class(re.compile("called"))
    keep_screenshot(citizen, "ticket-phone.png", in_docs=True)

    expect(clerk.locator("#nobody")).to_be_visible()  # OAC's queue is empty now
    clerk.click("#pause")
    expect(clerk.locator("#paused-banner")).to_be_visible()
    expect(clerk.locator("#call-next")).to_be_disabled()
    clerk.keyboard.press("p")  # resume
    expect(clerk.locator("#paused-banner")).to_be_hidden()

    # Reception: search, cancel (a second press confirms), reprint.
    issue(reception, "HAB", "H001")
    reception.fill("#search", "h001")
    expect(reception.locator("#tickets tbody tr:visible")).to_have_count(1)
    cancel = row(reception, "H001").locator("[data-role=cancel]")
    cancel.click()
    cancel.click()
    expect(row(reception, "H001")).to_have_attribute("data-status", "cancelled")
    reception.keyboard.press("Escape")
    expect(reception.locator("#tickets tbody tr:visible")).to_have_count(5)
    row(reception, "C001").locator("[data-role=reprint]").click()
    expect(printed_code(reception)).to_have_text("C001")
    reception.keyboard.press("1")
    expect(printed_code(reception)).to_have_text("A004")
    clerk.click("#call-next")
    expect(clerk.locator("#ticket-code")).to_have_text("A004")
    expect(row(reception, "A004")).to_have_attribute("data-status", "called")
    keep_screenshot(reception, "reception-desktop.png", in_docs=True)

    reception.set_viewport_size(PHONE)
    keep_screenshot(reception, "reception-phone.png", in_docs=True)
    clerk.set_viewport_size(PHONE)
    keep_screenshot(clerk, "desk-phone.png", in_docs=True)
    citizen.set_viewport_size(DESKTOP)
    keep_screenshot(citizen, "ticket-desktop.png")


def test_a_desk_serving_two_offices_lists_its_queue_as_it_will_call_it(live, people):
    """A001 and A002, then an urgent C001, at a desk serving OAC and OMIC: the page lists
    C001 first, and Call next gives C001 (the page once re-sorted the list by itself)."""
    db = connect(live.path)
    try:
        desks.set_offices(db, 1, ["OAC", "OMIC"])
    finally:
        db.close()
    for body in ({"office": "OAC"}, {"office": "OAC"}, {"office": "OMIC", "kind": "urgent"}):
        live.api("reception", "POST", "/tickets", body, expect=201)
    clerk = people.log_in("taulell1")
    clerk.click("[data-desk='1']")
    listed = clerk.locator("#waiting li .code")
    expect(listed).to_have_text(["C001", "A001", "A002"])
    expect(clerk.locator("[data-live]")).to_have_class(re.compile("online"))
    clerk.keyboard.press("Space")
    expect(clerk.locator("#ticket-code")).to_have_text("C001")
    expect(listed).to_have_text(["A001", "A002"])


def test_a_desk_page_hears_on_after_its_clerks_desks_change(live, people):
    """The administrator changes the clerk's desks: the server closes the page's live
    connection (what it may hear changed), and the page connects again by itself."""
    clerk = people.log_in("taulell1")
    clerk.click("[data-desk='1']")
    expect(clerk.locator("[data-live]")).to_have_class(re.compile("online"))
    db = connect(live.path)
    try:
        accounts.set_desks(db, "taulell1", [1, 2], actor="admin")
    finally:
        db.close()
    expect(clerk.locator("[data-live]")).to_have_class(re.compile("offline"))
    expect(clerk.locator("[data-live]")).to_have_class(re.compile("online"))
    live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    expect(clerk.locator("#waiting li .code")).to_have_text(["A001"])  # live again


def test_a_full_building_refuses_the_next_ticket(live, people):
    live.api("admin", "PUT", "/occupancy", {"inside": 48, "limit": 50}, expect=200)
    reception = people.log_in("recepcio")
    expect(reception.locator("#inside")).to_have_text("48")
    reception.click("#entry")
    expect(reception.locator("#inside")).to_have_text("49")
    reception.keyboard.press("e")
    expect(reception.locator("#inside")).to_have_text("50")
    expect(reception.locator("#full-banner")).to_be_visible()
    reception.click("[data-office=OAC]")
    expect(reception.locator("#refusal")).to_be_visible()
    expect(reception.locator("#refusal-text")).to_contain_text("50")
    expect(reception.locator("#printed")).to_be_hidden()
    assert live.api("reception", "GET", "/tickets", expect=200) == []
    keep_screenshot(reception, "reception-full.png")
    # Someone leaves, counted elsewhere: the page follows, and a ticket fits again.
    live.api("reception", "POST", "/occupancy/exits", {"count": 1}, expect=200)
    expect(reception.locator("#inside")).to_have_text("49")
    expect(reception.locator("#full-banner")).to_be_hidden()
    reception.keyboard.press("1")
    expect(printed_code(reception)).to_have_text("A001")
    expect(reception.locator("#inside")).to_have_text("50")
    reception.keyboard.press("s")  # an exit by keyboard
    expect(reception.locator("#inside")).to_have_text("49")


def test_each_role_keeps_to_its_own_page(live, people):
    clerk = people.log_in("taulell2")
    response = clerk.goto(live.url + "/reception")
    assert response.status == 403
    expect(clerk.locator("#forbidden")).to_be_visible()

    reception = people.log_in("recepcio")
    assert reception.goto(live.url + "/desk").status == 403
    expect(reception.locator("#forbidden")).to_be_visible()
    reception.goto(live.url + "/reception")
    live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    # The page's own session, with its CSRF token, still may not call a ticket.
    status = reception.evaluate("""async () => {
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const response = await fetch('/api/v1/desks/1/call-next', {method: 'POST',
            headers: {'X-CSRFToken': token, 'Content-Type': 'application/json'}, body: '{}'});
        return [response.status, (await response.json()).error.code];
    }""")
    assert status == [403, "forbidden"]
    assert live.api("clerk", "GET", "/tickets?status=waiting", expect=200)[0]["code"] == "A001"


def _pdf_text(path):
    return subprocess.run(
        ["pdftotext", "-layout", path, "-"], check=True, capture_output=True, text=True
    ).stdout


def _pdf_grey_pixels(path, tmp_path):
    """Rasterise the PDF's first page at 300 dpi into grey pixels (a PGM file)."""
    subprocess.run(
        ["pdftoppm", "-r", "300", "-gray", "-singlefile", path, str(tmp_path / "ticket")],
        check=True,
    )
    raw = (tmp_path / "ticket.pgm").read_bytes()
    magic, width, height, _maxval, pixels = raw.split(maxsplit=4)
    assert magic == b"P5"
    width, height = int(width), int(height)
    return memoryview(pixels[: width * height]).cast("B", (height, width))


def test_the_printed_ticket_is_80_mm_wide_with_its_code_and_qr_code(live, people, tmp_path):
    ticket = live.api(
        "reception",
        "POST",
        "/tickets",
        {"office": "OFIM", "priority": True, "party_size": 2},
        expect=201,
    )
    reception = people.log_in("recepcio")
    reception.goto(f"{live.url}/reception/tickets/{ticket['id']}/print")
    expect(reception.locator(".code")).to_have_text("I001")
    pdf = tmp_path / "ticket.pdf"
    reception.pdf(path=str(pdf), width="80mm", height="150mm", print_background=True)
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    width_pt = float(re.search(r"Page size:\s+([\d.]+) x", info).group(1))
    assert abs(width_pt - 80 / 25.4 * 72) < 1  # 80 mm
    assert re.search(r"Pages:\s+1\b", info)
    text = _pdf_text(str(pdf))
    assert "I001" in text and "Oficina d'Acollida" in text
    found = zxingcpp.read_barcodes(_pdf_grey_pixels(str(pdf), tmp_path))
    assert [code.text for code in found] == [f"{live.url}/t/{ticket['token']}"]
    reception.set_viewport_size({"width": 420, "height": 720})
    keep_screenshot(reception, "ticket-print.png", in_docs=True)
