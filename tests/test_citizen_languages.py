"""The citizen's pages and papers in the languages of the town's newcomers (issue 14).

The ticket's page (``/t/<token>``), the appointment's (``/a/<token>``) and the printed ticket
and booking confirmation also speak French, Arabic, Romanian, Urdu and Chinese (Arabic and
Urdu right to left), chosen by ``Accept-Language`` or by the page's own switch; the staff's
pages keep Catalan, Spanish and English. Office and desk names are shown in the page's
language (English for a language they are not named in), days and times as the language
writes them, in the town hall's time zone.

First with the Flask test client; then in real headless Chromium against a real server: the
Arabic page mirrored, with no sideways scrolling, and live; the Chinese one live, and its
switch; axe-core on every citizen page and paper in every new language. Every wait is
Playwright's ``expect`` on the page, never a sleep.
"""

import html
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from axe_check import AXE, described, findings
from playwright.sync_api import expect

from queue_app.clock import stamp
from queue_app.languages import CITIZEN_LANGUAGES, LANGUAGES
from queue_app.rules import appointments
from queue_app.storage.db import connect

from conftest import PHONE, WAIT_MS, save_screenshot, watch_for_errors
from helpers import MADRID, form_login

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)

NEW = ("fr", "ar", "ro", "ur", "zh")
# A browser asking for each language as a phone of that country would.
ACCEPT = {
    "fr": "fr-FR,fr;q=0.9",
    "ar": "ar-MA,fr;q=0.8",  # no plain "ar": still Arabic, not the French it also reads
    "ro": "ro-RO",
    "ur": "ur-PK,en;q=0.5",
    "zh": "zh-CN,zh;q=0.9,en;q=0.8",
}
# The ticket page's words, per language: its live note and a waiting ticket's status.
LIVE_NOTE = {
    "fr": "Cette page se met à jour toute seule\u00a0: gardez-la ouverte.",
    "ar": "تتحدّث هذه الصفحة تلقائيًا: أبقِها مفتوحة.",
    "ro": "Această pagină se actualizează singură: țineți-o deschisă.",
    "ur": "یہ صفحہ خود بخود اپ ڈیٹ ہوتا ہے: اسے کھلا رکھیں۔",
    "zh": "本页面会自动更新，请保持打开。",
}
WAITING = {"fr": "En attente", "ar": "في الانتظار", "ro": "În așteptare", "ur": "انتظار میں",
           "zh": "等候中"}  # fmt: skip
# The printed ticket's "issued" line for a ticket issued at 08:05 UTC on 29 November 2026
# (09:05 in Madrid): each language's own way, never the United States' 11/29/26.
ISSUED = {
    "ca": "29/11/2026 9:05",
    "es": "29/11/2026 9:05",
    "en": "29/11/2026 09:05",
    "fr": "29/11/2026 09:05",
    "ro": "29.11.2026 09:05",
    "ar": "29\u200f/11\u200f/2026 9:05 ص",
    "ur": "29/11/2026 9:05 AM",
    "zh": "2026/11/29 09:05",
}
# An appointment at 09:00 (Madrid) on Monday 2 December 2030: its day and its time.
DAY = {
    "ca": "dilluns, 2 de desembre del 2030",
    "es": "lunes, 2 de diciembre de 2030",
    "en": "Monday, 2 December 2030",
    "fr": "lundi 2 décembre 2030",
    "ro": "luni, 2 decembrie 2030",
    "ar": "الاثنين، 2 ديسمبر 2030",
    "ur": "پیر، 2 دسمبر، 2030",
    "zh": "2030年12月2日星期一",
}
TIME = {"ca": "9:00", "es": "9:00", "en": "09:00", "fr": "09:00", "ro": "09:00",
        "ar": "9:00 ص", "ur": "9:00 AM", "zh": "09:00"}  # fmt: skip
SLOT = datetime(2030, 12, 2, 9, 0, tzinfo=MADRID)
# Office names: the demo's, and the English one for the languages offices are not named in.
OFIM = {
    "ca": "Oficina d'Acollida i d'Informació als Immigrants",
    "es": "Oficina de Acogida e Información a los Inmigrantes",
    "en": "Newcomers' Welcome and Information Office",
}


def office_for(language):
    return OFIM.get(language, OFIM["en"])


def text_of(response):
    return html.unescape(response.get_data(as_text=True))


def opening_tag(page):
    return re.search(r"<html[^>]*>", page).group(0)


def page_data(page):
    return json.loads(re.search(r'id="page-data">(.*?)</script>', page, re.S).group(1))


def issue(api, office="OFIM", **options):
    answer = api.as_("reception").post("/tickets", {"office": office, **options})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def book(path):
    """An OAC appointment at ``SLOT`` (booked the day before), in the database at ``path``."""
    db = connect(path)
    try:
        return appointments.book(
            db, "OAC", SLOT.isoformat(), "Amina Benali", now=SLOT - timedelta(days=1)
        ).value
    finally:
        db.close()


# The test client: languages, names, days and times --------------------------------------


@pytest.mark.parametrize("language", NEW)
def test_the_ticket_page_speaks_the_browsers_language(client, api, language):
    ticket = issue(api)
    page = text_of(
        client.get(f"/t/{ticket['token']}", headers={"Accept-Language": ACCEPT[language]})
    )
    rtl = language in ("ar", "ur")
    assert f'<html lang="{language}" dir="{"rtl" if rtl else "ltr"}">' in page
    assert LIVE_NOTE[language] in page and WAITING[language] in page
    assert f'id="office" dir="auto">{office_for(language)}</p>' in page
    # An h1 (the code), and a card that does not shout on every move.
    assert re.search(r"<h1 class=\"code-heading\">.*?I001", page, re.S)
    card = re.search(r'<section class="state-card"[^>]*>', page).group(0)
    assert "aria-live" not in card
    assert 'id="said" role="status"' in page and 'id="said-now" aria-live="assertive"' in page
    # The page's own switch: every citizen language by its own name, this one current.
    switch = re.search(r'<nav class="citizen-languages".*?</nav>', page, re.S).group(0)
    assert re.findall(r' lang="(\w+)"', switch) == list(CITIZEN_LANGUAGES)
    assert re.search(rf'lang="{language}"[^>]*\s+aria-current="true"', switch)
    assert "العربية" in switch and "中文" in switch and "اردو" in switch


def test_staff_pages_keep_catalan_spanish_and_english(client):
    for accept, expected in (("ar-MA,fr;q=0.8", "ca"), ("zh-CN,en;q=0.5", "en"), ("es", "es")):
        page = text_of(client.get("/login", headers={"Accept-Language": accept}))
        assert f'<html lang="{expected}" dir="ltr">' in page
    # Werkzeug's own matching would take an exact "en" over "ca-ES": the first language wins.
    page = text_of(client.get("/login", headers={"Accept-Language": "ca-ES,en;q=0.5"}))
    assert '<html lang="ca"' in page


def test_the_pages_own_switch_is_kept_and_limited_to_citizen_languages(client, api):
    ticket = issue(api)
    token = ticket["token"]
    answer = client.get(f"/t/{token}/language/zh", headers={"Accept-Language": "ca"})
    assert answer.status_code == 303 and answer.headers["Location"] == f"/t/{token}"
    assert answer.headers["Referrer-Policy"] == "no-referrer"  # the address is a secret
    page = text_of(client.get(f"/t/{token}", headers={"Accept-Language": "ca"}))
    assert '<html lang="zh" dir="ltr">' in page and LIVE_NOTE["zh"] in page
    # Staff pages do not speak Chinese: the browser's language, as if nothing was chosen.
    assert '<html lang="ca"' in text_of(client.get("/login", headers={"Accept-Language": "ca"}))
    assert client.get(f"/t/{token}/language/de").status_code == 404
    # The staff's switch (Catalan, Spanish, English) and the citizen's share the choice.
    client.get("/language/es")
    assert '<html lang="es"' in text_of(client.get(f"/t/{token}"))
    # The appointment page has its own switch too, and an unknown token is still a 404.
    booked = book(client.application.config["DATABASE"])
    answer = client.get(f"/a/{booked['token']}/language/ur")
    assert answer.headers["Location"] == f"/a/{booked['token']}"
    page = text_of(client.get(f"/a/{booked['token']}"))
    assert '<html lang="ur" dir="rtl">' in page and "یہ صفحہ خود بخود اپ ڈیٹ ہوتا ہے۔" in page


@pytest.mark.parametrize("language", NEW + LANGUAGES)
def test_the_appointment_page_writes_its_day_and_time_in_the_language(client, app, language):
    booked = book(app.config["DATABASE"])
    page = text_of(client.get(f"/a/{booked['token']}", headers={"Accept-Language": language}))
    when = re.search(r'<time datetime="[^"]+">(.*?)</time>', page, re.S).group(1)
    day, hours = (part.strip() for part in when.split("<br>"))
    assert day == DAY[language]
    assert hours == f"{TIME[language]}–{TIME[language].replace('9:00', '9:15')}"
    assert re.search(r"<h1 class=\"code-heading\">.*?" + booked["code"], page, re.S)


def test_the_error_page_of_a_citizens_address_is_in_their_language(client):
    answer = client.get("/t/not-a-token", headers={"Accept-Language": "ar"})
    page = text_of(answer)
    assert answer.status_code == 404
    assert '<html lang="ar" dir="rtl">' in page and "الصفحة غير موجودة" in page
    page = text_of(client.get("/a/not-a-token", headers={"Accept-Language": "zh"}))
    assert '<html lang="zh"' in page and "找不到页面" in page
    # Elsewhere, the staff's languages only.
    assert '<html lang="ca"' in text_of(client.get("/nowhere", headers={"Accept-Language": "ar"}))


@pytest.mark.parametrize("language", NEW + LANGUAGES)
def test_the_printed_ticket_in_each_language(client, api, store, language):
    ticket = issue(api, priority=True, party_size=2)
    moment = datetime(2026, 11, 29, 8, 5, tzinfo=timezone.utc)
    store.execute("UPDATE tickets SET issued_at = ? WHERE id = ?", [stamp(moment), ticket["id"]])
    store.conn.commit()
    form_login(client, "recepcio")
    page = text_of(client.get(f"/reception/tickets/{ticket['id']}/print?lang={language}"))
    rtl = language in ("ar", "ur")
    assert f'<html lang="{language}" dir="{"rtl" if rtl else "ltr"}">' in page
    issued = re.search(r'<time datetime="[^"]+">([^<]*)</time>', page).group(1)
    assert issued == ISSUED[language]
    assert f'class="office" dir="auto">{office_for(language)}</p>' in page
    assert "<main>" in page and '<h1 class="code" id="code">I001</h1>' in page


def test_the_print_speaks_the_receptions_language_unless_told(client, api, app):
    ticket = issue(api)
    booked = book(app.config["DATABASE"])
    form_login(client, "recepcio")
    client.get("/language/es")
    for path in (
        f"/reception/tickets/{ticket['id']}/print",
        f"/reception/appointments/{booked['id']}/print",
    ):
        assert '<html lang="es" dir="ltr">' in text_of(client.get(path))
        assert '<html lang="es"' in text_of(client.get(path + "?lang=de"))  # not one of ours
        assert '<html lang="es"' in text_of(client.get(path + "?lang="))
        page = text_of(client.get(path + "?lang=ar"))
        assert '<html lang="ar" dir="rtl">' in page
    # The confirmation in Arabic: its words, day and time; the reception page stays Spanish.
    assert "رمز الموعد" in page and DAY["ar"] in page and TIME["ar"] in page
    assert '<html lang="es"' in text_of(client.get("/reception"))


def test_office_and_desk_names_follow_the_page(client, api):
    names = {"ca": "Atenció Ciutadana", "es": "Atención Ciudadana", "en": "Citizen Desk"}
    assert api.as_("admin").patch("/offices/OAC", {"names": names}).status_code == 200
    desk = {"es": "Mostrador 1", "en": "Desk 1"}
    assert api.as_("admin").patch("/desks/1", {"names": desk}).status_code == 200
    ticket = issue(api, office="OAC")
    for language, office, desk_name in (
        ("ca", names["ca"], "Taulell 1"),
        ("es", names["es"], "Mostrador 1"),
        ("en", names["en"], "Desk 1"),
        ("fr", names["en"], "Desk 1"),  # not named in French: the English names
        ("zh", names["en"], "Desk 1"),
    ):
        page = text_of(client.get(f"/t/{ticket['token']}", headers={"Accept-Language": language}))
        assert f'id="office" dir="auto">{office}</p>' in page
        data = page_data(page)  # what the page's script names the office and the desk by
        assert data["offices"]["OAC"] == office and data["desks"]["Taulell 1"] == desk_name
    # The staff pages given their offices: the names in the reader's language.
    form_login(client, "recepcio")
    client.get("/language/es")
    assert f'<span class="name">{names["es"]}</span>' in text_of(client.get("/reception"))
    assert f"OAC · {names['es']}" in text_of(client.get("/reception/appointments"))
    client.get("/language/en")
    assert f'<span class="name">{names["en"]}</span>' in text_of(client.get("/reception"))


def test_the_desk_and_statistics_pages_name_offices_in_their_language(client, api):
    names = {"es": "Atención Ciudadana", "en": "Citizen Desk"}
    api.as_("admin").patch("/offices/OAC", {"names": names})
    api.as_("admin").patch("/desks/1", {"names": {"es": "Mostrador 1"}})
    form_login(client, "taulell1")
    client.get("/language/es")
    page = text_of(client.get("/desk"))  # the choice of desks
    assert '<span class="name">Mostrador 1</span>' in page and names["es"] in page
    with client.session_transaction() as session:
        session["desk"] = 1
    page = text_of(client.get("/desk"))
    assert "Mostrador 1" in page and f"<strong>OAC</strong> {names['es']}" in page
    assert page_data(page)["desk"]["name"] == "Taulell 1"  # its script tells its tickets by it
    form_login(client, "gestor")
    client.get("/language/en")
    assert f"OAC · {names['en']}" in text_of(client.get("/stats"))


def test_the_calendar_file_names_the_appointment_in_the_language(client, app):
    booked = book(app.config["DATABASE"])
    answer = client.get(f"/a/{booked['token']}/calendar.ics", headers={"Accept-Language": "fr"})
    assert "SUMMARY:Rendez-vous\u00a0: Citizen Service Office" in answer.get_data(as_text=True)


# Real Chromium -----------------------------------------------------------------------------

LOCALES = {"fr": "fr-FR", "ar": "ar-MA", "ro": "ro-RO", "ur": "ur-PK", "zh": "zh-CN"}
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def open_in(people, language, path, viewport=PHONE):
    """A fresh context (its own cookies) whose browser asks for ``language``, with axe-core
    as an init script (the pages' Content-Security-Policy stays on), at ``path``."""
    context = people.browser.new_context(
        viewport=viewport, locale=LOCALES.get(language, language), has_touch=viewport is PHONE
    )
    context.add_init_script(path=AXE)
    people.contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    watch_for_errors(page, people.errors)
    page.goto(people.live.url + path)
    return page


def axe_findings(page):
    return described(findings(page))


def box(locator):
    return locator.bounding_box()


def issue_live(live, office="OAC", count=1, **options):
    for _ in range(count):
        ticket = live.api(
            "reception", "POST", "/tickets", {"office": office, **options}, expect=201
        )
    return ticket


def call_and_miss(live):
    called = live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    live.api("clerk", "POST", f"/tickets/{called['id']}/no-show", expect=200)


def test_the_arabic_page_reads_right_to_left_and_stays_live(live, people):
    live.api("admin", "PATCH", "/desks/1", {"names": {"en": "Desk 1"}}, expect=200)
    issue_live(live, count=4)
    mine = issue_live(live)
    phone = open_in(people, "ar", f"/t/{mine['token']}")
    root = phone.locator("html")
    expect(root).to_have_attribute("dir", "rtl")
    expect(root).to_have_attribute("lang", "ar")
    expect(phone.locator(".ahead")).to_have_text("4")
    expect(phone.locator("#live-note")).to_have_text(LIVE_NOTE["ar"])
    expect(phone.locator("#office")).to_have_text("Citizen Service Office")
    # Mirrored: the switch starts on the right (Català, then Español to its left); the
    # question's first button is the right one; its text starts on the right.
    switch = phone.locator(".citizen-languages a")
    assert box(switch.nth(0))["x"] > box(switch.nth(1))["x"]
    expect(phone.locator("#ask-notify")).to_be_visible()
    assert box(phone.locator("#notify-yes"))["x"] > box(phone.locator("#notify-no"))["x"]
    question = phone.locator("#ask-notify-text")
    assert question.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert question.evaluate("e => getComputedStyle(e).textAlign") == "start"  # the right
    # The code stays a left-to-right code, centred, and nothing scrolls sideways.
    code, screen = box(phone.locator("#code")), PHONE["width"]
    assert abs(code["x"] + code["width"] / 2 - screen / 2) < 4
    assert phone.locator("#code").evaluate("e => getComputedStyle(e).direction") == "ltr"
    assert phone.evaluate(OVERFLOW) <= 0
    phone.click("#notify-no")
    expect(phone.locator("#ask-notify")).to_be_hidden()

    # Live: a move is said politely, the call at once; Arabic words, the desk's English name.
    call_and_miss(live)
    expect(phone.locator(".ahead")).to_have_text("3")
    near = phone.locator("#notices .notice.near")
    expect(near).to_have_text("اقترب دورك: عدد الأشخاص قبلك 3.")
    expect(phone.locator("#said")).to_contain_text("3 أشخاص قبلك")
    expect(phone.locator("#said-now")).to_have_text("")
    # The notice's "!" mark comes first: on the right of its words.
    words_end = near.evaluate(
        "e => { const words = document.createRange(); words.selectNodeContents(e);"
        " return e.getBoundingClientRect().right - words.getBoundingClientRect().right; }"
    )
    assert words_end > 30
    assert phone.evaluate(OVERFLOW) <= 0
    save_screenshot(phone, "ticket-phone-ar.png", docs_name="ticket-phone-ar.png")
    for _ in range(3):
        call_and_miss(live)
    expect(phone.locator(".ahead")).to_have_count(0)
    expect(phone.locator("#state .ahead-label")).to_have_text("دورك هو التالي")
    live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    expect(phone.locator("#state")).to_have_attribute("data-status", "called")
    expect(phone.locator("#state .turn")).to_have_text("حان دورك")
    expect(phone.locator("#state .where")).to_have_text("Desk 1")
    expect(phone.locator("#said-now")).to_have_text("حان دورك يرجى التوجه إلى Desk 1.")
    assert phone.evaluate(OVERFLOW) <= 0
    save_screenshot(phone, "ticket-phone-ar-called.png")


def test_the_chinese_page_is_live_and_its_switch_changes_language(live, people):
    issue_live(live)
    mine = issue_live(live)
    phone = open_in(people, "zh", f"/t/{mine['token']}")
    expect(phone.locator("html")).to_have_attribute("lang", "zh")
    expect(phone.locator("html")).to_have_attribute("dir", "ltr")
    expect(phone.locator("#live-note")).to_have_text(LIVE_NOTE["zh"])
    expect(phone.locator(".ahead-label")).to_have_text("人在您前面")
    switch = phone.locator(".citizen-languages a")
    assert box(switch.nth(0))["x"] < box(switch.nth(1))["x"]  # left to right
    assert phone.evaluate(OVERFLOW) <= 0
    call_and_miss(live)
    expect(phone.locator("#state .ahead-label")).to_have_text("下一位就是您")
    expect(phone.locator("#said")).to_contain_text("下一位就是您")
    save_screenshot(phone, "ticket-phone-zh.png")

    # The switch: French, kept on reload, then Arabic (right to left), still live.
    phone.click(".citizen-languages a[lang=fr]")
    expect(phone.locator("html")).to_have_attribute("lang", "fr")
    expect(phone.locator("#live-note")).to_have_text(LIVE_NOTE["fr"])
    phone.reload()
    expect(phone.locator("html")).to_have_attribute("lang", "fr")
    phone.click(".citizen-languages a[lang=ar]")
    expect(phone.locator("html")).to_have_attribute("dir", "rtl")
    expect(phone.locator("#state .ahead-label")).to_have_text("دورك هو التالي")
    live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    expect(phone.locator("#state .turn")).to_have_text("حان دورك")
    assert phone.evaluate(OVERFLOW) <= 0


def test_the_printed_ticket_mirrors_in_arabic(live, people):
    ticket = issue_live(live, office="OFIM", priority=True, party_size=2)
    reception = open_in(people, "ca", "/login", viewport={"width": 420, "height": 760})
    reception.fill("#username", "recepcio")
    reception.fill("#password", "recepcio-demo")
    reception.click("button[type=submit]")
    reception.wait_for_url(re.compile("/reception"))
    reception.goto(f"{live.url}/reception/tickets/{ticket['id']}/print?lang=ar")
    expect(reception.locator("html")).to_have_attribute("dir", "rtl")
    expect(reception.locator(".code")).to_have_text("I001")
    fact = reception.locator(".facts div").first
    label, value = box(fact.locator("dt")), box(fact.locator("dd"))
    assert label["x"] > value["x"]  # the label on the right, its value on the left
    expect(fact.locator("dt")).to_have_text("وقت الإصدار")
    assert reception.evaluate(OVERFLOW) <= 0
    save_screenshot(reception, "ticket-print-ar.png")
    reception.goto(f"{live.url}/reception/tickets/{ticket['id']}/print?lang=zh")
    fact = reception.locator(".facts div").first
    assert box(fact.locator("dt"))["x"] < box(fact.locator("dd"))["x"]
    expect(fact.locator("dt")).to_have_text("取号时间")


@pytest.mark.parametrize("language", NEW)
def test_no_axe_findings_on_the_citizens_pages_and_papers(live, people, language):
    found = []
    ticket = issue_live(live)
    phone = open_in(people, language, f"/t/{ticket['token']}")
    expect(phone.locator("html")).to_have_attribute("lang", language)
    expect(phone.locator("#state .estimate")).to_be_visible()
    found += [f"ticket, waiting: {each}" for each in axe_findings(phone)]
    live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    expect(phone.locator("#state")).to_have_attribute("data-status", "called")
    found += [f"ticket, called: {each}" for each in axe_findings(phone)]

    booked = book(live.path)
    page = open_in(people, language, f"/a/{booked['token']}")
    expect(page.locator("html")).to_have_attribute("lang", language)
    found += [f"appointment: {each}" for each in axe_findings(page)]

    page = open_in(people, language, "/t/not-a-token")
    expect(page.locator("html")).to_have_attribute("lang", language)
    found += [f"error page: {each}" for each in axe_findings(page)]

    reception = open_in(people, "ca", "/login", viewport={"width": 420, "height": 760})
    reception.fill("#username", "recepcio")
    reception.fill("#password", "recepcio-demo")
    reception.click("button[type=submit]")
    reception.wait_for_url(re.compile("/reception"))
    for name, path in (
        ("printed ticket", f"/reception/tickets/{ticket['id']}/print?lang={language}"),
        ("printed confirmation", f"/reception/appointments/{booked['id']}/print?lang={language}"),
    ):
        reception.goto(live.url + path)
        expect(reception.locator("html")).to_have_attribute("lang", language)
        found += [f"{name}: {each}" for each in axe_findings(reception)]
    assert found == []
