"""axe-core (WCAG 2.1 A and AA, and its best practices; every impact) in real Chromium on
every page and state, in Catalan, Spanish and English: zero findings everywhere.

axe-core comes from npm (``node_modules/axe-core``, a test-only dependency never served to
users). ``page.add_script_tag`` would put it into the page as an inline script, which the
pages' Content-Security-Policy refuses; so each context runs it as an init script (as the
browser's own tools do, outside the policy) in every document, the printed tickets in their
frames included, and the pages keep their policy: a script it blocks still fails the test.

One test per page and language walks through the page's states; a failure names the page
and the language (the test's id) and, for each finding, the state, the rule, its impact and
the elements. test-artifacts/axe-findings.md gets the page-by-language table of counts.
"""

import os
import re
from datetime import datetime, time, timedelta

import pytest
from axe_check import AXE, findings
from playwright.sync_api import expect

from queue_app.clock import local_zone, stamp, utcnow
from queue_app.rules import appointments, displays, history, schedules
from queue_app.storage.db import connect

from conftest import ARTIFACTS, DESKTOP, PHONE, WAIT_MS, watch_for_errors
from helpers import next_workday

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)

LANGUAGES = ("ca", "es", "en")
LOCALES = {"ca": "ca-ES", "es": "es-ES", "en": "en-GB"}
PAGES = (
    "login",
    "reception",
    "appointments",
    "door",
    "desk",
    "admin",
    "stats",
    "ticket",
    "appointment",
    "printed",
    "display",
    "error",
)
# (page, language) -> findings (one per element a rule fails on), for the table.
COUNTS = {}


@pytest.fixture(scope="module", autouse=True)
def findings_table():
    """After the module: the page-by-language table of findings, printed and written to
    test-artifacts/axe-findings.md."""
    yield
    if not COUNTS:
        return
    lines = ["| page | " + " | ".join(LANGUAGES) + " |", "|---|" + "---|" * len(LANGUAGES)]
    for name in PAGES:
        cells = [str(COUNTS.get((name, language), "–")) for language in LANGUAGES]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    os.makedirs(ARTIFACTS, exist_ok=True)
    with open(os.path.join(ARTIFACTS, "axe-findings.md"), "w", encoding="utf-8") as out:
        out.write("axe-core findings (WCAG 2.1 A/AA and best practices, every impact)\n\n")
        out.write(table + "\n")
    print("\naxe-core findings by page and language\n" + table)


class Audit:
    """Browser contexts in one language with axe-core in every document, and the findings
    of each state checked."""

    def __init__(self, people, live, language, name):
        self.people, self.live, self.language, self.name = people, live, language, name
        self.findings = []  # (state, rule id, impact, help, [element, ...])

    def open(self, path, viewport=DESKTOP):
        """A fresh context (its own cookies) whose browser asks for the language, at ``path``."""
        context = self.people.browser.new_context(
            viewport=viewport, locale=LOCALES[self.language], has_touch=viewport is PHONE
        )
        context.add_init_script(path=AXE)
        self.people.contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        watch_for_errors(page, self.people.errors)
        page.goto(self.live.url + path)
        return page

    def log_in(self, username, viewport=DESKTOP):
        """A fresh context logged in through the login form as ``username``."""
        page = self.open("/login", viewport)
        page.fill("#username", username)
        page.fill("#password", f"{username}-demo")
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/(reception|desk|admin|stats)"))
        return page

    def check(self, page, state):
        """Run axe-core on what ``page`` shows now (its frames too), once its animations and
        transitions have ended (a colour half-way is no finding); keep the findings."""
        expect(page.locator("html")).to_have_attribute("lang", self.language)
        for rule in findings(page):
            elements = [
                " >> ".join(map(str, node["target"])) + "  " + node["html"][:160]
                for node in rule["nodes"]
            ]
            self.findings.append((state, rule["id"], rule["impact"], rule["help"], elements))

    def check_on_a_phone(self, page, state):
        """The same state in a phone's width (another layout): checked too."""
        page.set_viewport_size(PHONE)
        self.check(page, f"{state}, on a phone")

    def assert_clean(self):
        report = "\n".join(
            f"{self.name} · {state} · {self.language}: {rule} ({impact}: {help_})\n    "
            + "\n    ".join(elements)
            for state, rule, impact, help_, elements in self.findings
        )
        assert not self.findings, f"axe-core findings:\n{report}"


def online(page):
    expect(page.locator("[data-live]")).to_have_class(re.compile("online"))


def local_moment(day, hour, minute=0):
    return datetime.combine(day, time(hour, minute), tzinfo=local_zone())


def every_day_open(db):
    """OAC books every day, all day: slots today and tomorrow whatever the day and hour."""
    hours = {day: [["00:00", "23:45"]] for day in schedules.WEEKDAYS}
    schedules.put(db, "OAC", {"hours": hours})


def book_today(live, name="Núria Puig"):
    """An appointment of today at OAC (booked as if at midnight): the booked appointment."""
    db = connect(live.path)
    try:
        every_day_open(db)
        today = datetime.now(local_zone()).date()
        return appointments.book(
            db,
            "OAC",
            local_moment(today, 12).isoformat(),
            name,
            phone="612345678",
            now=local_moment(today, 0),
        ).value
    finally:
        db.close()


def issue(live, office="OAC", **options):
    return live.api("reception", "POST", "/tickets", {"office": office, **options}, expect=201)


# The pages, each walked through its states -------------------------------------------------


def audit_login(audit):
    page = audit.open("/login")
    audit.check(page, "empty form")
    page.fill("#username", "recepcio")
    page.fill("#password", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_be_visible()
    audit.check(page, "wrong password")
    page = audit.log_in("taulell1")
    page.goto(audit.live.url + "/reception")
    expect(page.locator("#forbidden")).to_be_visible()
    audit.check(page, "403, another role's page")
    page.goto(audit.live.url + "/logout")
    audit.check(page, "logging out")


def audit_reception(audit):
    page = audit.log_in("recepcio")
    online(page)
    audit.check(page, "empty")
    page.click("[data-office=OAC]")
    expect(page.frame_locator("#ticket-frame").locator(".code")).to_have_text("A001")
    page.click("[data-office=OMIC]")
    expect(page.frame_locator("#ticket-frame").locator(".code")).to_have_text("C001")
    audit.live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    expect(page.locator("#tickets tbody tr[data-status=called]")).to_have_count(1)
    audit.check(page, "after issuing")
    page.fill("#search", "C001")
    expect(page.locator("#tickets tbody tr:visible")).to_have_count(1)
    audit.check(page, "search")
    page.fill("#search", "")
    page.uncheck("#only-open")
    audit.live.api("clerk", "POST", "/tickets/1/finish", expect=200)
    expect(page.locator("#tickets tbody tr[data-status=done]")).to_be_visible()
    audit.check(page, "a ticket done")
    limit = audit.live.api("reception", "GET", "/occupancy", expect=200)["limit"]
    audit.live.api("admin", "PUT", "/occupancy", {"inside": limit}, expect=200)
    expect(page.locator("#full-banner")).to_be_visible()
    page.click("[data-office=OAC]")
    expect(page.locator("#refusal")).to_be_visible()
    audit.check(page, "building full")
    audit.check_on_a_phone(page, "building full")


def audit_door(audit):
    page = audit.log_in("recepcio")
    page.goto(audit.live.url + "/door")
    online(page)
    audit.check(page, "empty")
    audit.live.api("admin", "PUT", "/occupancy", {"limit": 1}, expect=200)
    first = issue(audit.live)
    issue(audit.live, "OMIC", outside=True)
    expect(page.locator("#outside-queue li")).to_have_count(1)
    audit.check(page, "full, one waiting outside")
    audit.live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    audit.live.api("clerk", "POST", f"/tickets/{first['id']}/finish", expect=200)
    expect(page.locator("#outside-queue li")).to_have_count(0)
    audit.check(page, "let in")
    audit.check_on_a_phone(page, "let in")


def audit_appointments(audit):
    booked = book_today(audit.live)
    page = audit.log_in("recepcio")
    page.goto(audit.live.url + "/reception/appointments")
    online(page)
    expect(page.locator("#day tbody tr")).to_have_count(1)
    audit.check(page, "list")
    tomorrow = (datetime.now(local_zone()) + timedelta(days=1)).date()
    page.fill("#book-date", tomorrow.isoformat())
    expect(page.locator("#slots button").first).to_be_visible()
    page.locator("#slots button").first.click()
    page.fill("#book-name", "Pere Vila")
    audit.check(page, "booking form with free slots")
    page.click("#book")
    expect(page.locator("#confirmation")).to_be_visible()
    expect(page.frame_locator("#confirm-frame").locator("body")).to_contain_text(
        re.compile("[A-Z0-9]{6}")
    )
    audit.check(page, "confirmation")
    page.fill("#find", booked["code"])
    expect(page.locator("#day tbody tr:visible")).to_have_count(1)
    audit.check(page, "search")
    audit.check_on_a_phone(page, "search")


def audit_desk(audit):
    db = connect(audit.live.path)
    try:
        for _ in range(3):
            issue(audit.live)
        # The first has waited long: the list marks it (not by colour alone).
        db.execute(
            "UPDATE tickets SET issued_at = ? WHERE code = 'A001'",
            [stamp(utcnow() - timedelta(minutes=42))],
        )
        db.conn.commit()
    finally:
        db.close()
    page = audit.log_in("taulell1")
    expect(page.locator("#desk-choice")).to_be_visible()
    audit.check(page, "choose desk")
    page.click("[data-desk='1']")
    online(page)
    expect(page.locator("#waiting li")).to_have_count(3)
    audit.check(page, "free")
    page.click("#call-next")
    expect(page.locator("#ticket-code")).to_have_text("A001")
    audit.check(page, "a ticket called")
    page.click("[data-action=start]")
    expect(page.locator("#ticket-card")).to_have_class(re.compile("serving"))
    audit.check(page, "serving")
    page.click("[data-action=transfer]")
    expect(page.locator("#transfer")).to_be_visible()
    audit.check(page, "transfer dialog")
    page.keyboard.press("Escape")
    expect(page.locator("#transfer")).to_be_hidden()
    page.click("[data-action=finish]")
    expect(page.locator("#call-next")).to_be_visible()
    page.click("#pause")
    expect(page.locator("#paused-banner")).to_be_visible()
    audit.check(page, "paused")
    audit.check_on_a_phone(page, "paused")


def audit_admin(audit):
    page = audit.log_in("admin")
    audit.check(page, "home")
    page.fill("#tokens .add-form input[name=name]", "kiosk")
    page.click("#tokens .add-form button[type=submit]")
    expect(page.locator("#new-token")).to_be_visible()
    audit.check(page, "new API token")
    page.goto(audit.live.url + "/admin")
    day = next_workday(after_days=2).strftime("%Y-%m-%d")
    page.set_input_files(
        "#import input[type=file]",
        files=[
            {
                "name": "export.csv",
                "mimeType": "text/csv",
                "buffer": (
                    "id;oficina;inici;nom;telèfon\n"
                    f"web-1;OAC;{day} 09:00;Núria Puig;600112233\n"
                    f"web-2;NOWHERE;{day} 09:30;Pere Vila;\n"
                ).encode(),
            }
        ],
    )
    page.click("#import button[value=preview]")
    expect(page.locator("#import-result")).to_be_visible()
    audit.check(page, "import preview")
    page.goto(audit.live.url + "/admin")
    audit.check_on_a_phone(page, "home")


def audit_stats(audit):
    db = connect(audit.live.path)
    try:
        history.seed_history(db, 5, per_day=80)
    finally:
        db.close()
    for _ in range(3):
        issue(audit.live)
    called = audit.live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    audit.live.api("clerk", "POST", f"/tickets/{called['id']}/finish", expect=200)
    page = audit.log_in("gestor")
    online(page)
    expect(page.locator("#now-offices tbody tr")).to_have_count(5)
    page.click("label:has(input[name=preset][value=week])")
    expect(page.locator("#table-day tbody tr").first).to_be_visible()
    audit.check(page, "with data")
    audit.live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    expect(page.locator("#now-desks [data-desk='1'] .state")).to_contain_text("A002")
    audit.check(page, "live")
    audit.check_on_a_phone(page, "live")


def audit_ticket(audit):
    ticket = issue(audit.live)
    page = audit.open(f"/t/{ticket['token']}", PHONE)
    expect(page.locator("#code")).to_have_text("A001")
    expect(page.locator("#state")).to_have_attribute("data-status", "waiting")
    audit.check(page, "waiting")
    audit.live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    expect(page.locator("#state")).to_have_attribute("data-status", "called")
    audit.check(page, "called")


def audit_appointment(audit):
    booked = book_today(audit.live)
    page = audit.open(f"/a/{booked['token']}", PHONE)
    expect(page.locator("body")).to_contain_text(booked["code"])
    audit.check(page, "booked")


def audit_printed(audit):
    ticket = issue(audit.live, priority=True, party_size=2)
    booked = book_today(audit.live)
    page = audit.log_in("recepcio")
    page.goto(f"{audit.live.url}/reception/tickets/{ticket['id']}/print")
    audit.check(page, "ticket")
    page.goto(f"{audit.live.url}/reception/appointments/{booked['id']}/print")
    audit.check(page, "appointment confirmation")


def audit_display(audit):
    db = connect(audit.live.path)
    try:
        screen = displays.find_by_key(db, audit.live.screen_key)
        displays.update_display(
            db, screen["id"], screen["offices"], audit.language, screen["message"] or ""
        )
    finally:
        db.close()
    for _ in range(2):
        issue(audit.live)
    page = audit.open(f"/display/{audit.live.screen_key}", DESKTOP)
    expect(page.locator("#current-empty")).to_be_visible()
    audit.check(page, "nobody called")
    audit.live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    expect(page.locator("#current-call")).to_be_visible()
    audit.check(page, "a ticket called")


def audit_error(audit):
    page = audit.open("/no-such-page")
    audit.check(page, "404")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", PAGES)
def test_no_axe_findings(live, people, name, language):
    audit = Audit(people, live, language, name)
    try:
        globals()[f"audit_{name}"](audit)
    finally:
        COUNTS[name, language] = sum(len(found[4]) for found in audit.findings)
    audit.assert_clean()
