"""Error pages in real Chromium, as a Spanish-speaking citizen's phone gets them from a real
``run.py`` (rate-limit counters in Redis): a bad ticket address gives the styled 404, too many
requests to a ticket's page give the styled 429 saying when to try again; both in Spanish,
both with zero axe-core findings (WCAG 2.1 A and AA, and best practices), both under the
pages' Content-Security-Policy (axe runs as an init script, outside it)."""

import re

import pytest
import requests
from axe_check import AXE, described, findings
from playwright.sync_api import expect

from conftest import PHONE, WAIT_MS, save_screenshot, watch_for_errors

pytestmark = pytest.mark.slow
expect.set_options(timeout=WAIT_MS)

# pages.css's colours, which errors.css builds on: the page is styled, not a bare white one.
PAGE_BACKGROUND = "rgb(238, 241, 245)"
CARD_TOP = "rgb(11, 92, 173)"


@pytest.fixture
def spanish(browser, live):
    """A phone in Spanish (its own cookies), with axe-core in every document it opens; no
    script may fail and nothing may break the Content-Security-Policy."""
    context = browser.new_context(viewport=PHONE, locale="es-ES", has_touch=True)
    context.add_init_script(path=AXE)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors = []
    watch_for_errors(page, errors)
    yield page
    context.close()
    assert errors == []


def assert_styled_and_accessible(page):
    assert (
        page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
        == PAGE_BACKGROUND
    )
    card = page.locator("main.error-page")
    assert card.evaluate("card => getComputedStyle(card).borderTopColor") == CARD_TOP
    assert described(findings(page)) == []


def test_a_bad_ticket_address_gets_the_styled_404_in_spanish(live, spanish):
    answer = spanish.goto(f"{live.url}/t/no-such-ticket")
    assert answer.status == 404
    expect(spanish.locator("html")).to_have_attribute("lang", "es")
    expect(spanish).to_have_title("No se ha encontrado la página · Torn")
    main = spanish.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("No se ha encontrado la página")
    expect(main).to_contain_text("No hay ningún turno con ese código.")
    expect(main).to_contain_text("vuelva a escanear su código QR")
    assert_styled_and_accessible(spanish)
    save_screenshot(spanish, "error-404-es.png")

    main.get_by_role("link", name="Ir a la página de inicio").click()
    spanish.wait_for_url(re.compile(r"/login$"))
    expect(spanish.locator("html")).to_have_attribute("lang", "es")


def test_too_many_requests_to_a_ticket_get_the_styled_429_in_spanish(live, spanish):
    ticket = live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    address = f"{live.url}/t/{ticket['token']}"
    allowed = 0
    while requests.get(address, timeout=10).status_code == 200:  # this phone's address
        allowed += 1
    assert allowed == 60  # RATELIMIT_PUBLIC's default, then refused

    answer = spanish.goto(address)
    assert answer.status == 429
    retry_after = int(answer.headers["retry-after"])
    assert 1 <= retry_after <= 61
    assert answer.headers["referrer-policy"] == "no-referrer"  # a ticket's secret address
    expect(spanish.locator("html")).to_have_attribute("lang", "es")
    expect(spanish).to_have_title("Demasiadas peticiones · Torn")
    main = spanish.get_by_role("main")
    expect(main.get_by_role("heading", level=1)).to_have_text("Demasiadas peticiones")
    expect(main).to_contain_text("Espere antes de volver a intentarlo.")
    wait = main.locator("#error-wait")
    expect(wait).to_have_text(
        re.compile(r"Vuelva a intentarlo dentro de (\d+ segundos?|un minuto)\.")
    )
    said = re.search(r"\d+", wait.inner_text())
    assert abs((int(said[0]) if said else 60) - retry_after) <= 1
    again = main.get_by_role("link", name="Volver a intentarlo")
    expect(again).to_have_attribute("href", f"/t/{ticket['token']}")
    assert_styled_and_accessible(spanish)
    save_screenshot(spanish, "error-429-es.png")
