"""The citizen's ticket page for a ticket waiting outside (issue 16, contract "Capacity at the
door, v2"): "wait outside, we will let you know" with the people waiting outside ahead, from
the server's first paint on; then, live, "you can come in now" with a vibration, a chime and a
system notification, above the usual waiting card.

First with the Flask test client (the first paint, without JavaScript); then in real headless
Chromium against a real server, where a desk's call and finish makes the room. The page
speaks Catalan there: what it should say is read from the Catalan catalog (the English words
until a word is translated). Every wait is Playwright's ``expect``, never a sleep.
"""

import html
import re
from pathlib import Path

import pytest
from axe_check import AXE, described, findings
from babel.support import Translations
from playwright.sync_api import expect
from test_citizen_notices import open_ticket, told

from conftest import WAIT_MS, save_screenshot

expect.set_options(timeout=WAIT_MS)

CATALOGS = Path(__file__).resolve().parent.parent / "queue_app" / "translations"
WAIT_OUTSIDE = "Please wait outside: we will let you know"
COME_IN = "You can come in now"


def said_in(language, msgid):
    """``msgid`` as the page says it in ``language`` (the compiled catalog's translation)."""
    return Translations.load(str(CATALOGS), [language]).gettext(msgid)


def fill_the_building(call, limit):
    """As the admin, nobody inside and room for ``limit``; then one party of ``limit``
    (an OAC ticket) fills it. ``call(role, method, path, body)``: the decoded answer."""
    call("admin", "PUT", "/occupancy", {"inside": 0, "limit": limit})
    return call("reception", "POST", "/tickets", {"office": "OAC", "party_size": limit})


def issue_outside(call):
    """An OAC ticket issued to wait outside (the building is full)."""
    ticket = call("reception", "POST", "/tickets", {"office": "OAC", "outside": True})
    assert ticket["outside"] is True and ticket["status"] == "waiting"
    return ticket


def first_paint(response):
    """What a reader without JavaScript sees of the ticket's card: its text, in one line."""
    page = html.unescape(response.get_data(as_text=True))
    card = re.search(r'<section class="state-card[^"]*" id="state".*?</section>', page, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", card.group(0)).split())


# The first paint (Flask test client) -----------------------------------------------------


def test_the_first_paint_of_an_outside_ticket_says_wait_outside(client, api):
    def call(role, method, path, body):
        answer = getattr(api.as_(role), method.lower())(path, body)
        assert answer.status_code in (200, 201), answer.get_json()
        return answer.get_json()

    inside = fill_the_building(call, 1)
    first, second = issue_outside(call), issue_outside(call)
    english = {"Accept-Language": "en"}

    card = first_paint(client.get(f"/t/{first['token']}", headers=english))
    assert WAIT_OUTSIDE in card and "Nobody waiting outside is ahead of you" in card
    card = first_paint(client.get(f"/t/{second['token']}", headers=english))
    assert WAIT_OUTSIDE in card and "1 person waiting outside ahead of you" in card
    assert "Waiting" not in card  # not the waiting state inside, no place in that queue

    card = first_paint(client.get(f"/t/{second['token']}", headers={"Accept-Language": "ca"}))
    assert said_in("ca", WAIT_OUTSIDE) in card

    card = first_paint(client.get(f"/t/{inside['token']}", headers=english))
    assert card == "Waiting" and "outside" not in card


# Live, in Chromium ------------------------------------------------------------------------


@pytest.mark.slow
def test_the_page_says_wait_outside_then_come_in_live(live, people):
    def call(role, method, path, body=None):
        return live.api(role, method, path, body)

    fill_the_building(call, 2)
    ahead = issue_outside(call)
    mine = issue_outside(call)
    assert mine["outside_ahead"] == 1

    axe = Path(AXE).read_text(encoding="utf-8")
    phone = open_ticket(people, mine["token"], notifications="granted", before=axe)
    html_element, card = phone.locator("html"), phone.locator("#state")
    expect(card).to_have_attribute("data-outside", "true")
    expect(card.locator(".status")).to_have_text(said_in("ca", WAIT_OUTSIDE))
    expect(card.locator(".ahead")).to_have_text("1")
    expect(card.locator(".ahead-label")).to_have_text(
        said_in("ca", "person waiting outside ahead of you")
    )
    expect(card.locator(".estimate")).to_have_count(0)  # no wait inside to estimate yet
    expect(phone.locator("#notices .notice")).to_have_count(0)
    save_screenshot(phone, "ticket-phone-outside.png")
    assert described(findings(phone)) == []

    # A desk serves the party inside: room for two, both outside tickets come in.
    called = live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    assert called["code"] not in (ahead["code"], mine["code"])  # never one still outside
    live.api("clerk", "POST", f"/tickets/{called['id']}/finish", expect=200)

    come_in = phone.locator("#notices .notice.admitted")
    expect(come_in).to_have_text(said_in("ca", COME_IN))
    expect(card).to_have_attribute("data-outside", "false")
    expect(card.locator(".ahead")).to_have_text("1")  # the ticket let in before it, inside
    expect(card.locator(".estimate")).to_be_visible()
    expect(card).not_to_contain_text(said_in("ca", WAIT_OUTSIDE))
    expect(html_element).to_have_attribute("data-vibrations", "1")
    expect(html_element).to_have_attribute("data-notifications", "1")
    [notification] = told(phone)["notifications"]
    assert mine["code"] in notification["title"]
    assert notification["tag"] == f"torn-{mine['code']}-{mine['issued_at'][:10]}-admitted"
    assert told(phone)["notes"] > 0  # it chimed
    save_screenshot(phone, "ticket-phone-come-in.png")
    assert described(findings(phone)) == []

    phone.reload()  # told once: the notice stays, nothing rings again
    expect(phone.locator("#state .estimate")).to_be_visible()
    expect(come_in).to_have_text(said_in("ca", COME_IN))
    assert told(phone)["vibrations"] == [] and told(phone)["notifications"] == []

    # Once called, the card says where to go; the notice has done its work.
    live.api("clerk", "POST", "/desks/1/call-next", expect=200)  # the one let in first
    live.api("clerk", "POST", "/desks/2/call-next", expect=200)
    expect(card).to_have_attribute("data-status", "called")
    expect(come_in).to_have_count(0)
