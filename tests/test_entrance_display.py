"""The entrance screen (a display with ``layout: entrance``, at the building's door): its
go/wait sign, the building against its limit, the people waiting outside and the codes let
in from outside, live, announced in the screen's language and voice; and the waiting room,
which stays as it was.

The browser tests drive Debian's Chromium against a real ``run.py``; only
``speechSynthesis`` is stubbed (it lists the voices a test wants and records what is said),
the page's audio is the real Web Audio. No test sleeps: each waits for what the page shows
or says.
"""

import json
import re

import pytest
from playwright.sync_api import expect
from speech_stub import (
    EVERY_LANGUAGE,
    assert_the_servers_voice_said,
    open_speaking_screen,
    wait_until_quiet,
)

from display import speech, views
from display.voice import VoiceCache
from queue_app import create_app
from queue_app.rules import displays, door, tickets
from queue_app.storage.db import connect

import helpers
from conftest import APP_CONFIG, DESKTOP, WAIT_MS, restore_demo, save_screenshot
from helpers import axe_findings, clipped_figures, finish_animations, new_screen

slow = pytest.mark.slow

# Short pauses for the page (display/timings.py has the production ones); a voice that does
# not come is given up after 1 s.
TEST_TIMINGS = {**helpers.SHORT_DISPLAY_TIMINGS, "speechTimeoutMs": 1000}

# The sign's colours (display.css): white words on them.
GO_GREEN = "rgb(18, 129, 63)"
WAIT_RED = "rgb(198, 40, 40)"
HIGHLIGHT = "rgb(255, 212, 59)"


@pytest.fixture(scope="module", autouse=True)
def server_settings(tmp_path_factory):
    """Every ``run.py`` of this module: short pauses, its voice cache in a folder of its own."""
    with helpers.display_server_settings(TEST_TIMINGS, tmp_path_factory):
        yield


def open_screen(page, live, key, voices=EVERY_LANGUAGE):
    """The screen ``key`` with ``voices`` listed (each utterance said in 100 ms); the requests
    it makes for the server's voice are recorded in ``page.voice_requests``."""
    return open_speaking_screen(
        page, f"{live.url}/display/{key}", voices, 100, lambda url: url.endswith("/voice")
    )


def background(locator):
    return locator.evaluate("node => getComputedStyle(node).backgroundColor")


def full_with_one_outside(live):
    """The building full (1 of 1) with one ticket inside and one waiting outside:
    ``(inside, outside)``, the two tickets."""
    live.api("admin", "PUT", "/occupancy", {"inside": 0, "limit": 1}, expect=200)
    inside = live.api("reception", "POST", "/tickets", {"office": "OAC"}, expect=201)
    outside = live.api(
        "reception", "POST", "/tickets", {"office": "OAC", "outside": True}, expect=201
    )
    assert outside["outside"] is True
    return inside, outside


def finish_at(live, desk, ticket):
    """A desk calls ``ticket`` (the next of its queue) and finishes it."""
    called = live.api("clerk", "POST", f"/desks/{desk}/call-next", expect=200)
    assert called["id"] == ticket["id"]
    live.api("clerk", "POST", f"/tickets/{ticket['id']}/finish", expect=200)


# In the browser ----------------------------------------------------------------------------


@slow
def test_an_entrance_screen_shows_the_building_against_its_limit_and_the_go_sign(page, live):
    live.api("admin", "PUT", "/occupancy", {"inside": 12, "limit": 40}, expect=200)
    screen = new_screen(live, layout="entrance")
    page = open_screen(page, live, screen["key"])

    expect(page.locator("#occupancy-inside")).to_have_text("12")
    expect(page.locator("#occupancy-limit")).to_have_text("40")
    expect(page.locator("#outside-count")).to_have_text("0")
    sign = page.locator("#door-sign")
    expect(sign).to_have_attribute("data-state", "go")
    # In words and a shape (an arrow in a circle), not colour alone.
    expect(page.locator("#door-go")).to_be_visible()
    expect(page.locator("#door-go .door-sign__word")).to_have_text("Endavant")
    expect(page.locator("#door-go-open")).to_have_text("Hi ha lloc")
    expect(page.locator("#door-go svg circle")).to_be_visible()
    expect(page.locator("#door-wait")).to_be_hidden()
    assert background(sign) == GO_GREEN
    expect(page.locator("#next-in-empty")).to_have_text("Encara cap")
    # The door's screen, not the waiting room's.
    expect(page.locator("#current")).to_have_count(0)
    assert page.evaluate("TornDisplay.layout") == "entrance"
    assert page.get_attribute("html", "lang") == "ca"

    # Live: people come in until the building is full.
    live.api("reception", "POST", "/occupancy/entries", {"count": 28}, expect=200)
    expect(page.locator("#occupancy-inside")).to_have_text("40", timeout=WAIT_MS)
    expect(sign).to_have_attribute("data-state", "wait")
    expect(page.locator("#occupancy-state")).to_have_text("Aforament complet")


@slow
def test_when_full_it_says_wait_then_shows_and_announces_the_code_let_in(page, live, app):
    screen = new_screen(live, layout="entrance")
    page = open_screen(page, live, screen["key"])
    _, outside = full_with_one_outside(live)

    sign = page.locator("#door-sign")
    expect(page.locator("#outside-count")).to_have_text("1", timeout=WAIT_MS)
    expect(sign).to_have_attribute("data-state", "wait")
    expect(page.locator("#door-wait")).to_be_visible()
    expect(page.locator("#door-wait .door-sign__word")).to_have_text("Espereu")
    expect(page.locator("#door-wait")).to_contain_text("Espereu fora: us cridarem pel número")
    expect(page.locator("#door-wait svg .door-sign__glyph rect")).to_have_count(6)  # a hand
    expect(page.locator("#door-go")).to_be_hidden()
    expect(page.locator("#occupancy-inside")).to_have_text("1")
    expect(page.locator("#occupancy-limit")).to_have_text("1")
    assert background(sign) == WAIT_RED
    assert page.evaluate("TornDisplay.stats.announced") == 0
    save_screenshot(page, "entrance-wait-1920x1080.png")

    # A desk finishes the ticket inside: the one outside is let in, on screen at once.
    finish_at(live, 1, tickets_inside(live)[0])
    code = outside["code"]
    first = page.locator("#next-in .door-next__code").first
    expect(first).to_have_text(code, timeout=WAIT_MS)
    assert background(first) == HIGHLIGHT, "the newest is highlighted"
    expect(sign).to_have_attribute("data-state", "go")
    expect(page.locator("#door-go-codes")).to_have_text(code)
    expect(page.locator("#outside-count")).to_have_text("0")
    expect(page.locator("#next-in-empty")).to_be_hidden()

    # ...and said aloud in Catalan, with the browser's Catalan voice.
    wait_until_quiet(page, 1)
    number = int(code[1:])
    assert page.evaluate("window.__said") == [
        {"text": f"Torn lletra a, {number}, podeu entrar", "lang": "ca-ES"}
    ]
    with app.app_context():
        assert [entry["text"] for entry in page.evaluate("TornDisplay.log")] == [
            speech.admitted_text(code, "ca")
        ]
    assert page.evaluate("TornDisplay.stats.chimes") == 1
    assert page.voice_requests == []
    # Privacy: the code only, never the ticket's token.
    assert outside["token"] not in page.content()

    # Loaded again (the snapshot): the code is still there, nothing is said again, and the
    # sign follows the counts (full again with that party, nobody outside: wait).
    page.reload()
    page.wait_for_function("TornDisplay.stats.snapshots > 0", timeout=WAIT_MS)
    expect(page.locator("#next-in .door-next__code").first).to_have_text(code)
    expect(page.locator("#occupancy-inside")).to_have_text("1")
    expect(sign).to_have_attribute("data-state", "wait")
    expect(page.locator("#outside-count")).to_have_text("0")
    assert page.evaluate("TornDisplay.stats.announced") == 0


def tickets_inside(live):
    """Today's tickets waiting inside (status waiting, not outside)."""
    waiting = live.api("reception", "GET", "/tickets?status=waiting", expect=200)
    return [ticket for ticket in waiting if not ticket["outside"]]


@slow
def test_the_go_sign_for_a_code_let_in_lasts_a_moment(page, live):
    """After ``admittedGoMs`` the sign follows the counts again (the page's clock is
    Playwright's, moved forward instead of waited out)."""
    screen = new_screen(live, layout="entrance")
    page.clock.install()
    page = open_screen(page, live, screen["key"])
    _, outside = full_with_one_outside(live)
    sign = page.locator("#door-sign")
    expect(sign).to_have_attribute("data-state", "wait", timeout=WAIT_MS)
    finish_at(live, 1, tickets_inside(live)[0])
    expect(page.locator("#door-go-codes")).to_have_text(outside["code"], timeout=WAIT_MS)
    expect(sign).to_have_attribute("data-state", "go")

    page.clock.fast_forward(views.ADMITTED_GO_MS - 2000)
    expect(sign).to_have_attribute("data-state", "go")
    page.clock.fast_forward(3000)
    expect(sign).to_have_attribute("data-state", "wait")
    expect(page.locator("#next-in .door-next__code").first).to_have_text(outside["code"])


@slow
def test_the_page_decides_the_sign_and_says_codes_as_the_server_does(page, live, app):
    """doorSign, the one place that decides go or wait (entrance-screen.js); and the page's
    words for a code let in, the server's (display/speech.py) in every language."""
    page = open_screen(page, live, new_screen(live, layout="entrance")["key"])
    cases = [
        (None, [], "unknown"),
        ({"inside": 3, "limit": 10, "full": False, "outside": 0}, [], "go"),
        ({"inside": 10, "limit": 10, "full": True, "outside": 0}, [], "wait"),
        # Room for one, but a party waits outside: it goes first.
        ({"inside": 9, "limit": 10, "full": False, "outside": 3}, [], "wait"),
        # Just let in: they go in, though their party filled the building.
        ({"inside": 10, "limit": 10, "full": True, "outside": 2}, ["A012"], "go"),
        # Inside above a lowered limit.
        ({"inside": 12, "limit": 10, "full": True, "outside": 0}, [], "wait"),
    ]
    for occupancy, admitted, expected in cases:
        found = page.evaluate("([o, a]) => TornDisplay.doorSign(o, a)", [occupancy, admitted])
        assert found == expected, (occupancy, admitted)

    codes = [f"{letter}{number:03d}" for letter in speech.ALPHABET for number in (7, 120)]
    spoken = page.evaluate(
        """(codes) => ["ca", "es", "en"].map((language) =>
            codes.map((code) => TornDisplay.spokenText(code, language)))""",
        codes,
    )
    with app.app_context():
        expected = [
            [speech.admitted_text(code, language) for code in codes]
            for language in ("ca", "es", "en")
        ]
    assert spoken == expected


@slow
def test_a_spanish_entrance_screen_with_the_servers_voice(page, live, app):
    screen = new_screen(live, layout="entrance", language="es", voice="server")
    page = open_screen(page, live, screen["key"], voices=EVERY_LANGUAGE)
    expect(page.locator("#outside-title")).to_have_text("Esperando fuera")
    _, outside = full_with_one_outside(live)
    expect(page.locator("#door-wait .door-sign__word")).to_have_text("Espere", timeout=WAIT_MS)

    finish_at(live, 1, tickets_inside(live)[0])
    code = outside["code"]
    page.wait_for_function("TornDisplay.stats.serverVoices === 1", timeout=WAIT_MS)
    wait_until_quiet(page, 1)
    expect(page.locator("#door-sign .door-sign__word").first).to_have_text("Adelante")
    with app.app_context():
        expected = speech.admitted_text(code, "es")
    assert expected == f"Turno letra a, {int(code[1:])}, puede entrar"
    assert_the_servers_voice_said(
        page, expected, "es", f"{live.url}/display/{screen['key']}/admitted/{code}/voice"
    )


@slow
def test_codes_let_in_while_the_screen_was_away_are_shown_and_said_once(page, live):
    screen = new_screen(live, layout="entrance")
    page = open_screen(page, live, screen["key"])
    _, outside = full_with_one_outside(live)
    expect(page.locator("#outside-count")).to_have_text("1", timeout=WAIT_MS)

    live.server.kill()
    expect(page.locator("#offline-mark")).to_be_visible(timeout=WAIT_MS)
    db = connect(live.path)
    try:
        door.leave(db, 1)  # another process: the door lets one out, the one outside comes in
    finally:
        db.close()
    live.server.start_again()

    first = page.locator("#next-in .door-next__code").first
    expect(first).to_have_text(outside["code"], timeout=15_000)
    expect(page.locator("#offline-mark")).to_be_hidden()
    expect(page.locator("#outside-count")).to_have_text("0")
    expect(page.locator("#door-sign")).to_have_attribute("data-state", "go")
    wait_until_quiet(page, 1)
    assert [said["text"] for said in page.evaluate("window.__said")] == [
        f"Torn lletra a, {int(outside['code'][1:])}, podeu entrar"
    ]


@slow
def test_a_waiting_room_screen_keeps_showing_calls(page, live):
    page = open_screen(page, live, live.screen_key)
    _, outside = full_with_one_outside(live)
    first = live.api("clerk", "POST", "/desks/1/call-next", expect=200)
    expect(page.locator("#current-code")).to_have_text(first["code"], timeout=WAIT_MS)
    live.api("clerk", "POST", f"/tickets/{first['id']}/finish", expect=200)  # lets one in
    second = live.api("clerk", "POST", "/desks/2/call-next", expect=200)
    assert second["id"] == outside["id"]
    expect(page.locator("#current-code")).to_have_text(second["code"], timeout=WAIT_MS)
    wait_until_quiet(page, 2)

    assert [said["text"] for said in page.evaluate("window.__said")] == [
        f"Torn lletra a, {first['number']}, Taulell 1",
        f"Torn lletra a, {second['number']}, Taulell 2",
    ], "calls only: the waiting room does not say who was let in"
    expect(page.locator("#door-sign")).to_have_count(0)
    expect(page.locator("#history .history__row").first).to_contain_text(first["code"])
    assert page.evaluate("TornDisplay.layout") is None


@slow
def test_the_entrance_screen_keeps_the_pages_content_security_policy(people, live):
    """Opened as a TV opens it (the policy enforced): no script or style is refused."""
    live.api("admin", "PUT", "/occupancy", {"inside": 7, "limit": 30}, expect=200)
    screen = new_screen(live, layout="entrance")
    page = people.public(f"/display/{screen['key']}", viewport=DESKTOP)
    expect(page.locator("#occupancy-inside")).to_have_text("7")
    expect(page.locator("#door-sign")).to_have_attribute("data-state", "go")
    # people's teardown fails the test on any refusal by the policy or script error.


# Whatever of the entrance screen's figures overflows its panel, or the page.
CLIPPED = clipped_figures(
    ".door-sign__face:not([hidden]) .door-sign__word,"
    " .door-sign__line:not([hidden]), .door-sign__symbol, .occupancy__figures,"
    " .occupancy__state, .door-outside__count, .door-next__code:not([hidden]),"
    " .clock__time, .message"
)


@slow
def test_the_entrance_screen_at_tv_sizes_and_its_screenshot(page, live):
    """A busy morning at the door: three let in from outside one after the other, two more
    waiting; readable at 1920x1080 and 1280x720, and accessible. With UPDATE_SCREENSHOTS=1
    the picture is also docs/screenshots/entrance.png."""
    screen = new_screen(live, "Porta principal", layout="entrance")
    page = open_screen(page, live, screen["key"])
    live.api("admin", "PUT", "/occupancy", {"inside": 0, "limit": 3}, expect=200)
    for office in ("OAC", "HAB", "OMIC"):
        live.api("reception", "POST", "/tickets", {"office": office}, expect=201)
    for office in ("OAC", "OAC", "HAB", "OAC", "OMIC"):
        live.api("reception", "POST", "/tickets", {"office": office, "outside": True}, expect=201)
    expect(page.locator("#outside-count")).to_have_text("5", timeout=WAIT_MS)
    for desk in (1, 7, 5):
        called = live.api("clerk", "POST", f"/desks/{desk}/call-next", expect=200)
        live.api("clerk", "POST", f"/tickets/{called['id']}/finish", expect=200)
    expect(page.locator("#outside-count")).to_have_text("2", timeout=WAIT_MS)
    expect(page.locator("#next-in .door-next__code:visible")).to_have_count(3)
    expect(page.locator("#door-sign")).to_have_attribute("data-state", "go")
    wait_until_quiet(page, 3)
    finish_animations(page)

    for width, height in ((1280, 720), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate(CLIPPED) == [], f"clipped at {width}x{height}"
    save_screenshot(page, "entrance-1920x1080.png", docs_name="entrance.png")
    assert axe_findings(page) == []


@slow
@pytest.mark.parametrize("language", ["es", "en"])
def test_the_sign_fits_in_every_language(page, live, language):
    screen = new_screen(live, f"Porta {language}", layout="entrance", language=language)
    page = open_screen(page, live, screen["key"])
    _, outside = full_with_one_outside(live)
    sign = page.locator("#door-sign")
    expect(sign).to_have_attribute("data-state", "wait", timeout=WAIT_MS)
    live.api("admin", "PUT", "/occupancy", {"limit": 5}, expect=200)  # room: it comes in
    expect(page.locator("#door-go-codes")).to_have_text(outside["code"], timeout=WAIT_MS)
    for state in ("go", "wait"):
        if state == "wait":
            page.evaluate(
                "TornDisplay.handle.occupancy_changed({inside: 5, limit: 5, full: true,"
                " outside: 4, next_in: []}); TornDisplay.handle.day_started()"
            )
        expect(sign).to_have_attribute("data-state", state)
        for width, height in ((1280, 720), (1920, 1080)):
            page.set_viewport_size({"width": width, "height": height})
            assert page.evaluate(CLIPPED) == [], f"{state} clipped at {width}x{height}"
        save_screenshot(page, f"entrance-{language}-{state}.png")
        assert axe_findings(page) == [], state


# Without a browser -------------------------------------------------------------------------


@pytest.fixture
def voice_app(template, tmp_path):
    """The app on a fresh demo, its voice cache in the test's own folder."""
    path = str(tmp_path / "queue.db")
    restore_demo(template[0], path)
    return create_app({**APP_CONFIG, "DATABASE": path, "VOICE_CACHE_DIR": str(tmp_path / "voice")})


@pytest.mark.parametrize(
    ("language", "sentence", "said"),
    [
        ("ca", "Torn {code}, podeu entrar", "Torn lletra a, 12, podeu entrar"),
        ("es", "Turno {code}, puede entrar", "Turno letra a, 12, puede entrar"),
        ("en", "Ticket {code}, please come in", "Ticket letter A, 12, please come in"),
    ],
)
def test_the_sentence_for_a_code_let_in(voice_app, language, sentence, said):
    with voice_app.app_context():
        assert speech.admitted_text("A012", language) == said
        # The page gets the same sentence to build the same words (speech.js, admittedText).
        assert speech.speech_settings([language])[language]["admitted"] == sentence


def test_the_entrance_page_and_the_waiting_room_page(voice_app):
    db = connect(voice_app.config["DATABASE"])
    try:
        entrance = displays.create_display(db, "Porta", layout="entrance").value
        waiting_room = displays.list_displays(db)[0]
    finally:
        db.close()
    client = voice_app.test_client()
    door_html = client.get(f"/display/{entrance['key']}").get_data(as_text=True)
    assert 'id="door-sign"' in door_html and 'id="current"' not in door_html
    assert "display/entrance.js" in door_html and "display/main.js" not in door_html
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', door_html)
    config = json.loads(found.group(1))
    assert config["layout"] == "entrance"
    assert config["admittedUrl"] == f"/display/{entrance['key']}/admitted/"

    room_html = client.get(f"/display/{waiting_room['key']}").get_data(as_text=True)
    assert 'id="current"' in room_html and 'id="door-sign"' not in room_html
    assert "display/main.js" in room_html and "display/entrance.js" not in room_html


def test_the_servers_voice_says_a_code_let_in_and_nothing_else(voice_app):
    db = connect(voice_app.config["DATABASE"])
    try:
        key = displays.create_display(db, "Porta", layout="entrance", language="es").value["key"]
        door.set_counts(db, inside=0, limit=1)
        tickets.issue(db, "OAC")
        waiting = tickets.issue(db, "OAC", outside=True).value
        never = tickets.issue(db, "OAC", outside=True).value
        door.leave(db, 1)  # the first one outside comes in; the second still waits
    finally:
        db.close()
    client = voice_app.test_client()
    answer = client.get(f"/display/{key}/admitted/{waiting['code']}/voice")
    assert answer.status_code == 302
    with voice_app.app_context():
        said = speech.admitted_text(waiting["code"], "es")
    assert answer.headers["Location"].endswith(f"/voice/{VoiceCache.digest('es', said)}.wav")
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    audio = client.get(answer.headers["Location"])
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    audio.close()

    # Only a code let in from outside today, by a screen's key: never any text.
    assert client.get(f"/display/{key}/admitted/{never['code']}/voice").status_code == 404
    assert client.get(f"/display/{key}/admitted/Hola%20mon/voice").status_code == 404
    assert client.get(f"/display/no-such-key/admitted/{waiting['code']}/voice").status_code == 404
