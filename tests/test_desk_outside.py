"""In real Chromium: a clerk's desk page says how many of its offices' tickets wait outside
the full building (not callable yet), live, and forgets them once they are let in."""

import re

import pytest
from playwright.sync_api import expect

from conftest import WAIT_MS

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)


def test_the_desk_knows_who_waits_outside_until_they_are_let_in(live, people):
    live.api("admin", "PUT", "/occupancy", {"limit": 1}, expect=200)
    inside = live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    clerk = people.log_in("taulell1")
    clerk.click("[data-desk='1']")
    expect(clerk.locator("[data-live]")).to_have_class(re.compile("online"))
    note = clerk.locator("#outside-note")
    expect(note).to_be_hidden()

    outside = live.api("reception", "POST", "/tickets", {"office": "OAC", "outside": True}, 201)
    expect(note).to_have_text("I 1 esperant fora de l'edifici, encara sense entrar.")
    expect(clerk.locator("#waiting li .code")).to_have_text([inside["code"]])

    clerk.keyboard.press("c")  # call next: the one inside, never the one outside
    expect(clerk.locator("#ticket-code")).to_have_text(inside["code"])
    clerk.keyboard.press("f")  # finished: room for the one outside, let in at once
    expect(note).to_be_hidden()
    expect(clerk.locator("#waiting li .code")).to_have_text([outside["code"]])
