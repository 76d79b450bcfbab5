"""The door page (``/door``, reception's third tab): the doorman's tablet. In real Chromium
against a real server: +1/−1 by button and key move the count live (on another device too),
a full building refuses +1 in words, the queue outside fills live and a −1 exit lets its
first tickets in, live through Socket.IO (no reload, no asking the API again), and the page
fits a phone; axe-core finds nothing. Who may open it, with the Flask test client.

The pages here speak English (the browser asks for it), so that the words asserted are the
messages' own, whatever the catalogues say.

``UPDATE_SCREENSHOTS=1`` also writes docs/screenshots/door.png (conftest.save_screenshot):
``UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest -q tests/test_door_page.py``.
"""

import re

import pytest
from axe_check import described, findings
from playwright.sync_api import expect

from conftest import DESKTOP, WAIT_MS, save_screenshot
from helpers import log_in

expect.set_options(timeout=WAIT_MS)

TABLET = {"width": 1280, "height": 800}
NARROW_PHONE = {"width": 360, "height": 740}


def door(people, viewport=DESKTOP, axe=False):
    """A fresh browser context (English) logged in as reception, on ``/door``, live."""
    page = people.log_in("recepcio", viewport, locale="en-GB", axe=axe, next_="/door")
    page.wait_for_url(people.live.url + "/door")
    expect(page.locator("[data-live]")).to_have_class(re.compile("online"))
    return page


def shows_count(page, inside, limit):
    expect(page.locator("#inside")).to_have_text(str(inside))
    expect(page.locator("#limit")).to_have_text(str(limit))


def queue_of(page):
    return page.locator("#outside-queue li")


def assert_clean(page, state):
    found = findings(page)
    assert not found, f"axe-core findings ({state}):\n" + "\n".join(described(found))


@pytest.mark.slow
def test_entries_and_exits_move_the_count_live_and_a_full_building_refuses(live, people):
    live.api("admin", "PUT", "/occupancy", {"inside": 0, "limit": 2}, expect=200)
    page = door(people)
    other = door(people)  # a second tablet at the other door
    sign = page.locator("#sign")
    shows_count(page, 0, 2)
    expect(sign).to_have_attribute("data-state", "room")
    expect(page.locator("#sign-title")).to_have_text("Room for 2 more")
    expect(page.locator("#exit")).to_be_disabled()  # nobody inside to let out
    expect(page.locator("nav.page-tabs [aria-current=page]")).to_have_text("Door")
    expect(page.locator(".door-keys")).to_contain_text("+")

    page.click("#entry")
    shows_count(page, 1, 2)
    expect(page.locator("#sign-title")).to_have_text("Room for 1 more")
    page.keyboard.press("+")
    shows_count(page, 2, 2)
    shows_count(other, 2, 2)  # the other tablet follows, live
    expect(sign).to_have_attribute("data-state", "full")
    expect(page.locator("#sign-title")).to_have_text("Full")  # words, not colour alone
    expect(page.locator("#sign-detail")).to_have_text(
        "Nobody more may come in until someone leaves."
    )

    page.keyboard.press("=")  # "+" unshifted: one more, refused
    refusal = page.locator("#refusal")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Not let in")
    expect(refusal).to_contain_text("The building is full")
    assert live.api("reception", "GET", "/occupancy", expect=200)["inside"] == 2
    other.click("#entry")  # refused on the other tablet too
    expect(other.locator("#refusal")).to_be_visible()

    other.keyboard.press("-")  # someone leaves by the other door
    shows_count(page, 1, 2)
    expect(refusal).to_be_hidden()  # room again: the refusal is no longer true
    expect(sign).to_have_attribute("data-state", "room")
    live.api("reception", "POST", "/occupancy/exits", {"count": 1}, expect=200)  # elsewhere
    shows_count(page, 0, 2)
    expect(page.locator("#exit")).to_be_disabled()
    expect(page.locator("#entry")).to_be_enabled()


@pytest.mark.slow
def test_the_queue_outside_goes_in_live_when_an_exit_makes_room(live, people):
    live.api("admin", "PUT", "/occupancy", {"limit": 3}, expect=200)
    issued = live.api("reception", "POST", "/tickets", {"office": "OAC", "party_size": 3}, 201)
    assert issued["outside"] is False
    outside = {"outside": True}
    first = live.api("reception", "POST", "/tickets", {"office": "OMIC", **outside}, 201)
    assert (first["code"], first["outside"]) == ("C001", True)
    page = door(people, TABLET)
    shows_count(page, 3, 3)
    expect(page.locator("#sign")).to_have_attribute("data-state", "full")
    expect(queue_of(page)).to_have_text([re.compile(r"1\.\s*C001\s*1 person")])
    expect(page.locator("#outside-people")).to_have_text("1")
    expect(page.locator("#no-let-in")).to_be_visible()

    # Issued while the page is open: it joins the queue live, behind C001.
    live.api("reception", "POST", "/tickets", {"office": "OAC", "party_size": 2, **outside}, 201)
    live.api("reception", "POST", "/tickets", {"office": "HAB", **outside}, 201)
    expect(queue_of(page)).to_have_text(
        [
            re.compile(r"1\.\s*C001\s*1 person"),
            re.compile(r"2\.\s*A002\s*2 people"),
            re.compile(r"3\.\s*H001\s*1 person"),
        ]
    )
    expect(page.locator("#outside-people")).to_have_text("4")

    # From here on the page may learn only through its live connection: no reload, and
    # no asking the API for the tickets again.
    page.evaluate("window.sameDocument = true")
    asked = []
    page.on("request", lambda request: asked.append(request.url))

    # One leaves: room for one, and C001 (one person) goes in; A002 (two) must wait, and
    # holds H001 behind it (strict order).
    page.click("#exit")
    expect(page.locator("#admitted")).to_have_text("C001 may come in now.")
    expect(queue_of(page)).to_have_count(2)
    expect(queue_of(page).first).to_contain_text("A002")
    expect(page.locator("#let-in li")).to_have_text(["C001"])
    expect(page.locator("#no-let-in")).to_be_hidden()
    shows_count(page, 3, 3)
    expect(page.locator("#outside-people")).to_have_text("3")

    # Two leave through another door (counted elsewhere): A002 goes in, then H001 waits.
    live.api("reception", "POST", "/occupancy/exits", {"count": 2}, expect=200)
    expect(page.locator("#admitted")).to_have_text("A002 may come in now.")
    expect(page.locator("#let-in li")).to_have_text(["A002", "C001"])  # newest first
    expect(queue_of(page)).to_have_text([re.compile(r"1\.\s*H001\s*1 person")])
    expect(page.locator("#outside-people")).to_have_text("1")
    shows_count(page, 3, 3)
    assert page.evaluate("window.sameDocument") is True
    assert not [url for url in asked if "/api/v1/tickets" in url]

    # More come while it is full; the picture for the README: some outside, some let in.
    live.api("reception", "POST", "/tickets", {"office": "OMIC", **outside}, 201)
    live.api("reception", "POST", "/tickets", {"office": "HAB", "party_size": 2, **outside}, 201)
    expect(queue_of(page)).to_have_count(3)
    expect(page.locator("#outside-people")).to_have_text("4")
    save_screenshot(page, "door.png", docs_name="door.png")

    # Cancelled while outside: it leaves the queue, live, and the next one moves up.
    waiting = live.api("reception", "GET", "/tickets?status=waiting", expect=200)
    first_outside = next(ticket for ticket in waiting if ticket["code"] == "H001")
    live.api("reception", "POST", f"/tickets/{first_outside['id']}/cancel", expect=200)
    expect(queue_of(page)).to_have_text(
        [re.compile(r"1\.\s*C002\s*1 person"), re.compile(r"2\.\s*H002\s*2 people")]
    )
    expect(page.locator("#outside-people")).to_have_text("3")

    # On a phone: one column, nothing wider than the screen, the buttons still large.
    page.set_viewport_size(NARROW_PHONE)
    expect(page.locator("#entry")).to_be_visible()
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1] == NARROW_PHONE["width"]
    for button in ("#entry", "#exit"):
        box = page.locator(button).bounding_box()
        assert box["height"] >= 96 and box["width"] >= 140, box
    save_screenshot(page, "door-phone.png")


@pytest.mark.slow
def test_axe_finds_nothing_on_the_door(live, people):
    live.api("admin", "PUT", "/occupancy", {"inside": 1, "limit": 2}, expect=200)
    page = door(people, TABLET, axe=True)
    assert_clean(page, "room, nobody outside")
    page.keyboard.press("+")
    expect(page.locator("#sign")).to_have_attribute("data-state", "full")
    live.api("reception", "POST", "/tickets", {"office": "OAC", "outside": True}, 201)
    live.api("reception", "POST", "/tickets", {"office": "OMIC", "outside": True}, 201)
    expect(queue_of(page)).to_have_count(2)
    page.keyboard.press("+")
    expect(page.locator("#refusal")).to_be_visible()
    assert_clean(page, "full, a refused entry, two outside")
    page.keyboard.press("-")
    expect(page.locator("#admitted")).to_have_text("A001 may come in now.")
    assert_clean(page, "a code let in")
    page.set_viewport_size(NARROW_PHONE)
    assert_clean(page, "on a phone")


def test_only_reception_and_the_administrator_open_the_door(app, client):
    assert client.get("/door").headers["Location"] == "/login?next=/door"
    log_in(app, client, "taulell1")
    refused = client.get("/door")
    assert refused.status_code == 403
    assert 'id="forbidden"' in refused.get_data(as_text=True)
    for username in ("gestor", "recepcio", "admin"):
        other = app.test_client()
        log_in(app, other, username)
        status = other.get("/door").status_code
        assert status == (403 if username == "gestor" else 200), username


def test_the_door_page_shows_the_counts_before_its_script_runs(app, client, api):
    api.as_("admin").put("/occupancy", {"limit": 1})
    assert api.as_("reception").post("/tickets", {"office": "OAC"}).status_code == 201
    assert (
        api.as_("reception")
        .post("/tickets", {"office": "OAC", "party_size": 1, "outside": True})
        .json["outside"]
    )
    log_in(app, client, "recepcio")
    page = client.get("/door", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'id="inside">1<', page) and re.search(r'id="limit">1<', page)
    assert 'data-state="full"' in page and ">Full<" in page
    assert re.search(r'id="outside-people">1<', page)
    assert '<a href="/door" aria-current="page">Door</a>' in page
    reception = client.get("/reception", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'<a href="/door"\s*>Door</a>', reception)  # a tab, not the current one
    assert re.search(r'id="outside-people">1<', reception)
