"""Reception and the queue outside, in real Chromium against a real server: the counts
(inside, limit, people waiting outside) follow live; when the building is full the refusal
offers, right there, to issue the same ticket to wait outside (a button and the F key), and
the ticket shown and printed says so; a party that could never enter is told why; a ticket
let in loses its mark live.

The pages here speak English (the browser asks for it), so that the words asserted are the
messages' own, whatever the catalogues say.
"""

import re

import pytest
from axe_check import described, findings
from playwright.sync_api import expect

from conftest import DESKTOP, WAIT_MS, save_screenshot

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)

WAIT_OUTSIDE = "Please wait outside: we will let you know"  # as on the citizen's page


def reception(people):
    """A fresh browser context (English, axe-core at hand) logged in as reception, live."""
    page = people.log_in("recepcio", DESKTOP, locale="en-GB", axe=True)
    page.wait_for_url(people.live.url + "/reception")
    expect(page.locator("[data-live]")).to_have_class(re.compile("online"))
    return page


def printed(page):
    return page.frame_locator("#ticket-frame")


def row(page, code):
    return page.locator("#tickets tbody tr").filter(has_text=code)


def test_a_full_building_issues_the_ticket_to_wait_outside(live, people):
    live.api("admin", "PUT", "/occupancy", {"limit": 1}, expect=200)
    page = reception(people)
    expect(page.locator("#inside")).to_have_text("0")
    expect(page.locator("#limit")).to_have_text("1")
    expect(page.locator("#outside-people")).to_have_text("0")

    page.click("[data-office=OAC]")  # the one person the building holds
    expect(printed(page).locator(".code")).to_have_text("A001")
    expect(printed(page).locator("#outside-note")).to_have_count(0)
    expect(page.locator("#inside")).to_have_text("1")
    expect(page.locator("#full-banner")).to_be_visible()

    page.click("[data-office=OMIC]")
    refusal = page.locator("#refusal")
    expect(refusal).to_be_visible()
    expect(page.locator("#refusal-text")).to_contain_text("1 of 1 people are inside")
    offer = page.locator("#issue-outside")
    expect(offer).to_be_visible()
    expect(offer).to_contain_text("Issue it to wait outside")
    expect(offer).to_have_attribute("aria-keyshortcuts", "F")
    assert [t["code"] for t in live.api("reception", "GET", "/tickets", expect=200)] == ["A001"]
    found = findings(page)
    assert not found, "\n".join(described(found))
    save_screenshot(page, "reception-full-offer.png")

    page.keyboard.press("f")  # the refusal's key: the same ticket, to wait outside
    expect(printed(page).locator(".code")).to_have_text("C001")
    expect(printed(page).locator("#outside-note")).to_have_text(WAIT_OUTSIDE)
    expect(printed(page).locator(".facts")).to_contain_text("People outside ahead")
    expect(refusal).to_be_hidden()
    expect(page.locator("#announce")).to_have_text(
        "Ticket C001 issued for OMIC: the citizen waits outside until there is room."
    )
    expect(row(page, "C001").locator(".badge.outside")).to_have_text("Outside")
    expect(row(page, "A001").locator(".badge.outside")).to_have_count(0)
    expect(page.locator("#outside-people")).to_have_text("1")
    expect(page.locator("#inside")).to_have_text("1")  # not counted in
    save_screenshot(page, "reception-issued-outside.png")
    ticket = next(
        t for t in live.api("reception", "GET", "/tickets", expect=200) if t["code"] == "C001"
    )
    assert (ticket["status"], ticket["outside"], ticket["outside_ahead"]) == ("waiting", True, 0)

    # Three people can never enter a building for one: the second refusal says so.
    page.click("#party-more")
    page.click("#party-more")
    page.click("[data-office=HAB]")
    expect(refusal).to_be_visible()
    offer.click()
    expect(page.locator("#refusal-text")).to_have_text(
        "A party of 3 can never enter: the building's limit is 1."
    )
    expect(offer).to_be_hidden()
    expect(page.locator("[data-office=HAB]")).to_be_focused()  # not lost with the button
    assert len(live.api("reception", "GET", "/tickets", expect=200)) == 2

    # Someone leaves (counted elsewhere): A001's room goes to C001, live.
    live.api("reception", "POST", "/occupancy/exits", {"count": 1}, expect=200)
    expect(row(page, "C001").locator(".badge.outside")).to_have_count(0)
    expect(page.locator("#outside-people")).to_have_text("0")
    expect(page.locator("#inside")).to_have_text("1")


def test_the_offer_repeats_the_ticket_with_its_options_and_then_clears_them(live, people):
    live.api("admin", "PUT", "/occupancy", {"inside": 5, "limit": 5}, expect=200)
    page = reception(people)
    expect(page.locator("#full-banner")).to_be_visible()
    page.keyboard.press("p")  # priority
    page.keyboard.press("+")  # two people
    page.keyboard.press("1")  # OAC: refused
    expect(page.locator("#refusal")).to_be_visible()
    expect(page.locator("#priority")).to_be_checked()  # given back for another try
    expect(page.locator("#party-size")).to_have_text("2")
    page.click("#issue-outside")
    expect(printed(page).locator(".code")).to_have_text("A001")
    expect(printed(page).locator("#outside-note")).to_have_text(WAIT_OUTSIDE)
    expect(printed(page).locator(".marks")).to_contain_text("2 people")
    ticket = live.api("reception", "GET", "/tickets", expect=200)[0]
    assert (ticket["priority"], ticket["party_size"], ticket["outside"]) == (True, 2, True)
    expect(page.locator("#priority")).not_to_be_checked()  # the next ticket starts as usual
    expect(page.locator("#party-size")).to_have_text("1")
    expect(page.locator("#outside-people")).to_have_text("2")

    # The refusal of an entry at the door (+1) offers nothing to issue.
    page.keyboard.press("e")
    expect(page.locator("#refusal")).to_be_visible()
    expect(page.locator("#issue-outside")).to_be_hidden()
    page.keyboard.press("f")  # nothing to repeat: nothing happens
    expect(page.locator("#refusal")).to_be_visible()
    assert len(live.api("reception", "GET", "/tickets", expect=200)) == 1
