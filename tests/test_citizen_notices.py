"""The citizen's ticket page tells a citizen who is not staring at it (issue 13), in real
headless Chromium against a real server: near the front (once per ticket) and when called
(and at each recall), a notice in the page, a vibration, a chime and a system notification;
one polite question about notifications per browser; the screen kept on while waiting.

The page keeps its Content-Security-Policy, so Playwright's ``wait_for_function`` (a string
the policy refuses to run) is not used: a recorder injected before the page's scripts counts
on the ``<html>`` element what the page asked the browser for (notifications, vibrations,
screen locks), and every wait is Playwright's ``expect`` on the page, never a sleep.
"""

import pytest
from playwright.sync_api import expect

from conftest import PHONE, WAIT_MS, save_screenshot, watch_for_errors

pytestmark = pytest.mark.slow

expect.set_options(timeout=WAIT_MS)

# What the page asks the browser for, recorded in `window.__told` and counted on <html>
# (data-notifications, data-vibrations, data-wake-requests). A notification is recorded
# before the browser shows it, as the page constructed it.
RECORDER = """
(() => {
  const told = (window.__told = {notifications: [], vibrations: [], notes: 0, locks: []});
  const count = (name, value) => document.documentElement.setAttribute(name, String(value));
  const Original = window.Notification;
  if (Original) {
    window.Notification = class extends Original {
      constructor(title, options = {}) {
        told.notifications.push({title, body: options.body || "", tag: options.tag || ""});
        count("data-notifications", told.notifications.length);
        super(title, options);
      }
    };
  }
  const vibrate = navigator.vibrate ? navigator.vibrate.bind(navigator) : () => false;
  navigator.vibrate = (pattern) => {
    told.vibrations.push(pattern);
    count("data-vibrations", told.vibrations.length);
    return vibrate(pattern);
  };
  if (window.AudioContext) {
    const oscillator = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () {
      told.notes += 1;
      return oscillator.call(this);
    };
  }
  if (navigator.wakeLock) {
    const request = navigator.wakeLock.request.bind(navigator.wakeLock);
    navigator.wakeLock.request = async (type) => {
      const lock = await request(type);
      told.locks.push(lock);
      count("data-wake-requests", told.locks.length);
      lock.addEventListener("release", () =>
        count("data-wake-released", told.locks.filter((each) => each.released).length));
      return lock;
    };
  }
})();
"""


WITHOUT_APIS = """
delete window.Notification;
delete window.AudioContext;
delete window.webkitAudioContext;
delete Navigator.prototype.wakeLock;
"""


def open_ticket(people, token, notifications=None, before=None):
    """A citizen's phone (a context of its own, in Catalan) at the ticket's page, with the
    recorder; ``notifications="granted"`` grants the permission beforehand, else the browser
    has not been asked ("default"); ``before``: a script to run before the recorder."""
    context = people.browser.new_context(viewport=PHONE, locale="ca-ES", has_touch=True)
    people.contexts.append(context)
    if notifications == "granted":
        context.grant_permissions(["notifications"])
    if before:
        context.add_init_script(before)
    context.add_init_script(RECORDER)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    watch_for_errors(page, people.errors)
    page.goto(f"{people.live.url}/t/{token}")
    expect(page.locator("#live-note")).to_be_visible()
    return page


def issue(live, count=1):
    """Issue ``count`` OAC tickets; the last one."""
    for _ in range(count):
        ticket = live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    return ticket


def call_next(live):
    """Desk 1 calls the next OAC ticket; the called ticket."""
    return live.api("clerk", "POST", "/desks/1/call-next", expect=200)


def call_and_miss(live):
    """Desk 1 calls the next ticket, who does not come: the desk is free again."""
    called = call_next(live)
    live.api("clerk", "POST", f"/tickets/{called['id']}/no-show", expect=200)
    return called


def told(page):
    return page.evaluate("window.__told")


def rendered(page):
    """Wait until the page's script has drawn the live card (the server's HTML has only the
    status): what the script shows or hides is settled."""
    expect(page.locator("#state .estimate")).to_be_visible()


def test_near_the_front_once_then_called_and_recalled(live, people):
    issue(live, 4)
    mine = issue(live)
    code = mine["code"]
    phone = open_ticket(people, mine["token"], notifications="granted")
    html, notices = phone.locator("html"), phone.locator("#notices")
    expect(phone.locator(".ahead")).to_have_text("4")
    expect(notices).to_have_attribute("role", "status")
    expect(notices.locator(".notice")).to_have_count(0)
    expect(phone.locator("#ask-notify")).to_be_hidden()  # already granted: nothing to ask

    call_and_miss(live)  # 3 ahead: near the front
    expect(phone.locator(".ahead")).to_have_text("3")
    expect(notices.locator(".notice.near")).to_be_visible()
    expect(notices.locator(".notice.near")).to_contain_text("3")
    expect(html).to_have_attribute("data-notifications", "1")
    near = told(phone)
    assert [(n["tag"], code in n["title"], "3" in n["body"]) for n in near["notifications"]] == [
        (f"torn-{code}-{mine['issued_at'][:10]}-near", True, True)
    ]
    assert near["vibrations"] and near["notes"] > 0  # it buzzed and chimed
    memory = phone.evaluate("JSON.parse(localStorage.getItem('torn.near'))")
    assert memory == {"day": mine["issued_at"][:10], "codes": [code]}  # once per ticket and day
    save_screenshot(phone, "ticket-phone-near.png")

    call_and_miss(live)  # 2 ahead: still near, not told again
    expect(phone.locator(".ahead")).to_have_text("2")
    expect(notices.locator(".notice.near")).to_contain_text("2")
    assert len(told(phone)["notifications"]) == 1

    phone.reload()  # a reload remembers it was told
    expect(phone.locator(".ahead")).to_have_text("2")
    expect(notices.locator(".notice.near")).to_contain_text("2")
    call_and_miss(live)
    expect(phone.locator(".ahead")).to_have_text("1")
    call_and_miss(live)
    expect(phone.locator(".ahead-label")).to_be_visible()
    expect(phone.locator(".ahead")).to_have_count(0)  # "you are next"
    expect(notices.locator(".notice.near")).to_be_visible()
    assert told(phone)["notifications"] == []

    called = call_next(live)
    assert called["code"] == code
    expect(phone.locator("#state")).to_have_attribute("data-status", "called")
    expect(html).to_have_attribute("data-notifications", "1")
    expect(notices.locator(".notice")).to_have_count(0)  # the card says it now
    [notification] = told(phone)["notifications"]
    assert code in notification["title"] and "Taulell 1" in notification["body"]
    assert notification["tag"].endswith("-called")

    live.api("clerk", "POST", f"/tickets/{called['id']}/recall", expect=200)
    expect(html).to_have_attribute("data-notifications", "2")
    recalled = told(phone)["notifications"][1]
    assert code in recalled["title"] and recalled["tag"] == notification["tag"]
    assert recalled["title"] != notification["title"]


def test_a_page_opened_near_the_front_shows_the_notice_without_ringing(live, people):
    issue(live)
    mine = issue(live)
    phone = open_ticket(people, mine["token"], notifications="granted")
    expect(phone.locator(".ahead")).to_have_text("1")
    expect(phone.locator("#notices .notice.near")).to_contain_text("1")
    call_and_miss(live)
    expect(phone.locator(".ahead")).to_have_count(0)
    assert told(phone)["notifications"] == []


def test_the_page_asks_once_for_notifications(live, people):
    mine = issue(live)
    phone = open_ticket(people, mine["token"])
    ask = phone.locator("#ask-notify")
    expect(ask).to_be_visible()
    expect(ask.get_by_role("button")).to_have_count(2)
    save_screenshot(phone, "ticket-phone-ask-notify.png")
    phone.locator("#notify-yes").click()
    # Headless Chromium answers by itself (denied, or granted with some flags): whatever
    # the answer, the question is gone and remembered.
    expect(ask).to_be_hidden()
    answer = phone.evaluate("localStorage.getItem('torn.notify.asked')")
    assert answer in ("asked", "granted", "denied", "default")
    phone.reload()
    rendered(phone)
    expect(ask).to_be_hidden()

    # "No, thanks": the browser was never asked, and the page does not ask again either.
    other = open_ticket(people, issue(live)["token"])
    expect(other.locator("#ask-notify")).to_be_visible()
    other.locator("#notify-no").focus()
    other.keyboard.press("Enter")
    expect(other.locator("#ask-notify")).to_be_hidden()
    expect(other.locator("#wake")).to_be_focused()  # the focus stays within reach
    other.reload()
    rendered(other)
    assert other.evaluate("Notification.permission") == "default"
    expect(other.locator("#ask-notify")).to_be_hidden()


def test_the_screen_is_kept_on_while_waiting_and_let_go_at_the_end(live, people):
    mine = issue(live)
    phone = open_ticket(people, mine["token"])
    html, wake = phone.locator("html"), phone.locator("#wake")
    expect(wake).to_be_visible()
    expect(wake).to_have_attribute("aria-pressed", "false")
    wake.click()
    expect(wake).to_have_attribute("aria-pressed", "true")
    expect(html).to_have_attribute("data-wake-requests", "1")
    save_screenshot(phone, "ticket-phone-wake-lock.png")

    # The browser lets the lock go (the page was hidden); visible again, the page takes it.
    phone.evaluate("window.__told.locks[0].release()")
    expect(html).to_have_attribute("data-wake-released", "1")
    phone.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(html).to_have_attribute("data-wake-requests", "2")

    phone.reload()  # this tab remembers the choice
    expect(wake).to_have_attribute("aria-pressed", "true")
    expect(html).to_have_attribute("data-wake-requests", "1")

    called = call_next(live)
    expect(phone.locator("#state")).to_have_attribute("data-status", "called")
    expect(wake).to_be_visible()
    save_screenshot(phone, "ticket-phone-called-wake-lock.png")
    live.api("clerk", "POST", f"/tickets/{called['id']}/no-show", expect=200)
    expect(phone.locator("#state")).to_have_attribute("data-status", "no_show")
    expect(wake).to_be_hidden()
    expect(html).to_have_attribute("data-wake-released", "1")  # let go at the end
    assert phone.evaluate("sessionStorage.length") == 0


def test_a_refused_screen_lock_is_said_politely(live, people):
    refuse = (
        "navigator.wakeLock.request = () =>"
        " Promise.reject(new DOMException('refused', 'NotAllowedError'));"
    )
    phone = open_ticket(people, issue(live)["token"], before=refuse)
    wake = phone.locator("#wake")
    wake.click()
    expect(phone.locator("#notices .notice.wake-failed")).to_be_visible()
    expect(wake).to_have_attribute("aria-pressed", "false")
    save_screenshot(phone, "ticket-phone-wake-refused.png")
    wake.click()  # trying again: refused again, the note stays
    expect(phone.locator("#notices .notice.wake-failed")).to_have_count(1)
    expect(wake).to_have_attribute("aria-pressed", "false")
    phone.reload()
    rendered(phone)
    expect(phone.locator("#notices .notice.wake-failed")).to_have_count(0)  # not wanted now
    expect(wake).to_have_attribute("aria-pressed", "false")


def test_a_browser_without_these_apis_still_shows_the_notices(live, people):
    """No Notification, no AudioContext, no wakeLock: no question, no toggle, and the notices
    and the call show as usual (nothing throws)."""
    issue(live, 4)
    mine = issue(live)
    phone = open_ticket(people, mine["token"], before=WITHOUT_APIS)
    rendered(phone)
    assert phone.evaluate("'Notification' in window || 'wakeLock' in navigator") is False
    expect(phone.locator("#ask-notify")).to_be_hidden()
    expect(phone.locator("#wake")).to_be_hidden()
    call_and_miss(live)
    expect(phone.locator("#notices .notice.near")).to_contain_text("3")
    for _ in range(3):
        call_and_miss(live)
    expect(phone.locator(".ahead")).to_have_count(0)
    call_next(live)
    expect(phone.locator("#state .where")).to_have_text("Taulell 1")
    assert told(phone)["vibrations"]  # it still buzzes
