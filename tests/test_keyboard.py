"""A keyboard-only day in real Chromium: at reception (issue, cancel, search) and at the
desk (call next, start, finish, recall, transfer, cancel, pause, resume, no-show), with only
the keys: Tab, Enter, Escape and the pages' shortcuts. After every step the focus is on a
control of the page, never fallen to <body>, and the live regions say what happened, in
Catalan, as a screen reader reads them out.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from queue_app.clock import stamp, utcnow
from queue_app.storage.db import connect

from conftest import WAIT_MS

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)

MAX_TABS = 80  # more Tab presses than any page needs to reach a control
# The focused element's ring (outline, and the light ring the box shadow draws inside it) and
# the colour around the element: the first ancestor's background that is not transparent.
RING = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  let around = element.parentElement;
  let background = "rgb(255, 255, 255)";
  for (; around; around = around.parentElement) {
    const colour = getComputedStyle(around).backgroundColor;
    if (colour !== "transparent" && !colour.endsWith(", 0)")) {
      background = colour;
      break;
    }
  }
  return {outline: style.outlineColor, style: style.outlineStyle,
          width: parseFloat(style.outlineWidth), shadow: style.boxShadow, background};
}"""


def focus(page):
    """What has the focus: ``None`` when it fell to the page's body (or nowhere)."""
    return page.evaluate(
        """() => {
          const element = document.activeElement;
          if (!element || element === document.body) return null;
          return {tag: element.tagName, id: element.id, text: element.textContent.trim(),
                  office: element.dataset.office || null, action: element.dataset.action || null,
                  role: element.dataset.role || null,
                  row: element.closest("tr") ? element.closest("tr").dataset.id : null};
        }"""
    )


def rgb(css):
    """The first ``rgb(...)``/``rgba(...)`` colour of a computed CSS value, as 0-255 ints."""
    return tuple(int(part) for part in re.search(r"rgba?\((\d+), (\d+), (\d+)", css).groups())


def contrast(first, second):
    """WCAG's contrast ratio of two sRGB colours."""

    def luminance(colour):
        linear = [
            c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
            for c in (part / 255 for part in colour)
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def assert_visible_focus_ring(page):
    """The focus ring stands out from what is around the focused control by 3:1 at least
    (the dark outline on light ground, the light inner ring on dark ground)."""
    ring = page.evaluate(RING)
    assert ring["style"] == "solid" and ring["width"] >= 2, ring
    around = rgb(ring["background"])
    colours = [rgb(ring["outline"])]
    # A box shadow counts as a ring only when it is one: no offset, no blur, 2px or more.
    inner = re.match(r"(rgba?\([^)]*\)) 0px 0px 0px ([\d.]+)px", ring["shadow"])
    if inner and float(inner[2]) >= 2:
        colours.append(rgb(inner[1]))
    assert max(contrast(colour, around) for colour in colours) >= 3, ring


def assert_focus_kept(page):
    assert focus(page) is not None, "the focus fell to <body>"


def focused_matches(page, selector):
    return page.evaluate("selector => document.activeElement.matches(selector)", selector)


def tab_to(page, selector):
    """Press Tab until the focused element matches ``selector``; the number of presses."""
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Tab")
        assert_focus_kept(page)
        if focused_matches(page, selector):
            return presses
    raise AssertionError(f"{MAX_TABS} Tab presses never reached {selector}")


def log_in_by_keyboard(people, username):
    """Log in with the keys alone: the user name field has the focus on arrival."""
    page = people.public("/login")
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(f"{username}-demo")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/(reception|desk)"))
    return page


def skip_to_main(page, main_id):
    """The first Tab stop is the skip link; Enter puts the focus on the page's <main>."""
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(f"main#{main_id}")).to_be_focused()


def test_a_keyboard_only_morning_at_reception(live, people):
    reception = log_in_by_keyboard(people, "recepcio")
    expect(reception.locator("[data-live]")).to_have_class(re.compile("online"))
    announce = reception.locator("#announce")
    skip_to_main(reception, "reception")
    # From <main>, the office buttons are a few Tab stops away (the top bar is skipped).
    assert tab_to(reception, "[data-office=OAC]") <= 8

    reception.keyboard.press("1")  # the first office's shortcut
    expect(announce).to_have_text("Torn A001 donat per a OAC.")
    expect(reception.frame_locator("#ticket-frame").locator(".code")).to_have_text("A001")
    assert_focus_kept(reception)

    tab_to(reception, "[data-office=OMIC]")
    reception.keyboard.press("Enter")
    expect(announce).to_have_text("Torn C001 donat per a OMIC.")
    expect(reception.locator("[data-office=OMIC]")).to_be_focused()  # ready for the next
    assert_visible_focus_ring(reception)
    # Its paper is printed (the frame's print takes the page a moment) before the next one.
    expect(reception.frame_locator("#ticket-frame").locator(".code")).to_have_text("C001")
    expect(reception.locator("[data-office=OMIC]")).not_to_have_attribute("aria-disabled", "true")
    reception.keyboard.press("Enter")
    expect(announce).to_have_text("Torn C002 donat per a OMIC.")
    expect(reception.locator("[data-office=OMIC]")).to_be_focused()

    # Cancel A001 from today's list: a second Enter confirms.
    row = reception.locator("#tickets tbody tr").filter(has_text="A001")
    ticket_id = row.get_attribute("data-id")
    tab_to(reception, f"#tickets tr[data-id='{ticket_id}'] [data-role=cancel]")
    reception.keyboard.press("Enter")
    expect(row.locator("[data-role=cancel]")).to_have_text("Anul·lar?")
    reception.keyboard.press("Enter")
    expect(announce).to_have_text("Torn A001 anul·lat.")
    expect(row).to_have_attribute("data-status", "cancelled")
    # Its buttons went: the focus is on the next open ticket's first button (C001's, above).
    now = focus(reception)
    assert now and now["role"] == "reprint" and now["row"] != ticket_id, now
    expect(reception.locator("#tickets tbody tr").filter(has_text="C001")).to_contain_text(
        now["text"]
    )

    # The search: "/" goes there, Esc clears it and hands the focus to the first office.
    reception.keyboard.press("/")
    expect(reception.locator("#search")).to_be_focused()
    reception.keyboard.type("C002")
    expect(reception.locator("#tickets tbody tr:visible")).to_have_count(1)
    reception.keyboard.press("Escape")
    expect(reception.locator("#search")).to_have_value("")
    expect(reception.locator("[data-office=OAC]")).to_be_focused()

    # A full building: the refusal speaks up (an alert) and the focus stays on the office.
    limit = live.api("reception", "GET", "/occupancy", expect=200)["limit"]
    live.api("admin", "PUT", "/occupancy", {"inside": limit}, expect=200)
    expect(reception.locator("#full-banner")).to_be_visible()
    reception.keyboard.press("Enter")
    expect(reception.locator("#refusal")).to_be_visible()
    expect(reception.locator("#refusal")).to_have_attribute("role", "alert")
    expect(reception.locator("[data-office=OAC]")).to_be_focused()
    expect(announce).to_have_text("")


def test_a_keyboard_only_morning_at_the_desk(live, people):
    for _ in range(4):
        live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    db = connect(live.path)
    try:  # A001 has waited three quarters of an hour
        db.execute(
            "UPDATE tickets SET issued_at = ? WHERE code = 'A001'",
            [stamp(utcnow() - timedelta(minutes=45))],
        )
        db.conn.commit()
    finally:
        db.close()

    clerk = log_in_by_keyboard(people, "taulell1")
    expect(clerk.locator("#desk-choice")).to_be_visible()
    tab_to(clerk, "[data-desk='1']")
    clerk.keyboard.press("Enter")
    expect(clerk.locator("#desk")).to_have_attribute("data-desk-name", "Taulell 1")
    expect(clerk.locator("[data-live]")).to_have_class(re.compile("online"))
    status = clerk.locator("#status-line")
    start = clerk.locator("[data-action=start]")
    finish = clerk.locator("[data-action=finish]")
    call_next = clerk.locator("#call-next")

    # The long wait is said in words too, not only in red.
    waited = clerk.locator("#waiting li[data-code=A001] .waited")
    expect(waited).to_have_class(re.compile("long"))
    expect(waited.locator(".long-mark .visually-hidden")).to_have_text(re.compile(r"\w"))
    expect(waited.locator(".long-mark [aria-hidden=true]")).to_have_text("⚠")
    expect(clerk.locator("#waiting li[data-code=A002] .long-mark")).to_have_count(0)

    # The focus ring on the dark top bar, then back to the skip link, the first Tab stop.
    presses = tab_to(clerk, "#pause")
    assert_visible_focus_ring(clerk)
    for _ in range(presses - 1):
        clerk.keyboard.press("Shift+Tab")
    expect(clerk.locator(".skip-link")).to_be_focused()
    clerk.keyboard.press("Enter")
    expect(clerk.locator("main#desk")).to_be_focused()

    clerk.keyboard.press("c")  # call next
    expect(status).to_have_text("A001: Cridat.")
    expect(start).to_be_focused()
    clerk.keyboard.press("Enter")  # start
    expect(status).to_have_text("A001: En atenció.")
    expect(finish).to_be_focused()
    clerk.keyboard.press("Enter")  # finish
    expect(status).to_have_text("A001: Atès.")
    expect(call_next).to_be_focused()
    assert_visible_focus_ring(clerk)

    clerk.keyboard.press("Enter")  # call next, on its button
    expect(status).to_have_text("A002: Cridat.")
    expect(start).to_be_focused()
    clerk.keyboard.press("r")  # recall
    expect(status).to_have_text("A002 cridat de nou.")
    expect(start).to_be_focused()

    # The transfer dialog: the focus goes into it, and back where it was on Esc.
    clerk.keyboard.press("t")
    expect(clerk.locator("#transfer")).to_be_visible()
    expect(clerk.locator("#transfer [data-office=OMIC]")).to_be_focused()  # OAC's is off
    clerk.keyboard.press("Escape")
    expect(clerk.locator("#transfer")).to_be_hidden()
    expect(start).to_be_focused()

    clerk.keyboard.press("x")  # cancel: a second press confirms
    expect(clerk.locator("[data-action=cancel]")).to_have_text("Anul·lar? Torneu a prémer")
    clerk.keyboard.press("x")
    expect(status).to_have_text("Torn A002 anul·lat.")
    expect(call_next).to_be_focused()

    clerk.keyboard.press("p")  # pause
    expect(status).to_have_text("Taulell en pausa: no s'hi crida ningú.")
    expect(clerk.locator("#paused-banner")).to_be_visible()
    expect(clerk.locator("#resume")).to_be_focused()
    expect(call_next).to_be_disabled()
    clerk.keyboard.press("Enter")  # resume, on its button
    expect(status).to_have_text("Taulell 1: Lliure.")
    expect(clerk.locator("#paused-banner")).to_be_hidden()
    expect(call_next).to_be_focused()

    clerk.keyboard.press("Space")  # call next: the focused button
    expect(status).to_have_text("A003: Cridat.")
    expect(start).to_be_focused()
    clerk.keyboard.press("t")  # transfer to the second office by its number
    expect(clerk.locator("#transfer")).to_be_visible()
    clerk.keyboard.press("2")
    expect(status).to_have_text("A003 derivat a OMIC.")
    expect(clerk.locator("#transfer")).to_be_hidden()
    expect(call_next).to_be_focused()

    clerk.keyboard.press("c")
    expect(status).to_have_text("A004: Cridat.")
    clerk.keyboard.press("a")  # did not come
    expect(status).to_have_text("A004: No s'ha presentat.")
    expect(call_next).to_be_focused()

    clerk.keyboard.press("c")  # nobody is left
    expect(status).to_have_text("No hi ha ningú en espera.")
    expect(call_next).to_be_focused()
    assert_focus_kept(clerk)
    expect(clerk.locator("#desk-alert")).to_have_text("")
