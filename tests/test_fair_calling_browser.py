"""In real Chromium: a clerk calls the third person in line from the desk's list (the one
with a baby), and the screens and the list follow."""

import re

import pytest
from playwright.sync_api import expect
from test_pages_day import keep_screenshot

from conftest import WAIT_MS

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)


def test_a_clerk_calls_a_ticket_out_of_turn_from_the_list(live, people):
    issued = [
        live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)["code"]
        for _ in range(3)
    ]
    clerk = people.log_in("taulell1")
    clerk.click("[data-desk='1']")
    expect(clerk.locator("[data-live]")).to_have_class(re.compile("online"))
    rows = clerk.locator("#waiting li")
    expect(rows).to_have_count(3)
    # The first is who Call next gives: no button of its own.
    expect(rows.nth(0).locator(".call-this")).to_have_count(0)
    third = clerk.locator(f'#waiting li[data-code="{issued[2]}"] .call-this')
    expect(third).to_have_attribute("aria-label", f"Crida {issued[2]} ara, fora de torn")
    keep_screenshot(clerk, "desk-out-of-turn.png", in_docs=True)
    third.click()
    expect(clerk.locator("#ticket-code")).to_have_text(issued[2])
    expect(clerk.locator("#status-line")).to_have_text(f"{issued[2]} cridat fora de torn.")
    expect(rows).to_have_count(2)
    expect(rows.locator(".code")).to_have_text(issued[:2])
    # While the desk has someone, nobody else can be called from the list.
    expect(rows.nth(1).locator(".call-this")).to_be_disabled()
    called = live.api("clerk", "GET", "/tickets?status=called")
    assert [ticket["code"] for ticket in called] == [issued[2]]
