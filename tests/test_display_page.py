"""The waiting-room TV page (/display/<key>) in a real headless Chromium against a real
``run.py`` server: calls over the API reach the screen, are announced in order, the page
recovers from a server restart by itself, and stays bounded after hundreds of calls.

Speech synthesis and Web Audio are stubbed at the browser boundary only (an init script
replaces ``speechSynthesis``, ``SpeechSynthesisUtterance`` and ``AudioContext`` and records
what the page asks of them); everything else is the page's own code. No test sleeps: each
waits for a condition in the page, with a timeout.

Every server here runs with short announcement timings (``TEST_TIMINGS``, through
``QUEUE_DISPLAY_TIMINGS``), so that no test waits out a real chime. Most tests share one
server for the module (``shared``: its queues emptied, its desks free and its building
empty before each test, but the day's earlier calls still on screen); those that need an
empty day, a server they can kill, or two servers get their own (``live``, ``live_pair``).
"""

import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from playwright.sync_api import expect

from display import timings
from queue_app import create_app
from queue_app.rules import displays, tickets
from queue_app.rules.day import ensure_today
from queue_app.storage.db import connect

import helpers
from conftest import Browsers, LiveTownHall, copy_database, save_screenshot
from helpers import axe_findings, clipped_figures, finish_animations, new_screen

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow

# Short pauses for the page (display/timings.py has the production ones). The stubbed voice
# takes its own 300 ms; the catch-up window stays as in production (a restart is well
# within it).
TEST_TIMINGS = helpers.SHORT_DISPLAY_TIMINGS


@pytest.fixture(scope="module", autouse=True)
def short_timings(tmp_path_factory):
    """Every ``run.py`` started by this module's tests announces with ``TEST_TIMINGS``
    (and keeps the server's voice, if a screen asks for it, in a folder of its own)."""
    with helpers.display_server_settings(TEST_TIMINGS, tmp_path_factory):
        yield


@pytest.fixture(scope="module")
def hall(short_timings, template, tmp_path_factory):
    """One ``run.py`` on a copy of the demo for the module's tests that can share it."""
    from servers import ServerPool

    path = str(tmp_path_factory.mktemp("hall") / "queue.db")
    copy_database(template[0], path)
    db = connect(path)
    try:
        ensure_today(db)
        screen_key = db.execute("SELECT key FROM displays ORDER BY id LIMIT 1").fetchone()[0]
    finally:
        db.close()
    with ServerPool() as pool:
        yield LiveTownHall(pool.start(path), path, template[1], screen_key)


@pytest.fixture
def shared(hall):
    """The module's server, as a test finds it: nobody waiting, every desk free, nobody
    in the building (limit 50). Earlier tests' calls are still today's calls."""
    for ticket in hall.api("reception", "GET", "/tickets?status=waiting", expect=200):
        hall.api("reception", "POST", f"/tickets/{ticket['id']}/cancel", expect=200)
    for desk in hall.api("clerk", "GET", "/desks", expect=200):
        if desk["current"]:
            hall.api("clerk", "POST", f"/tickets/{desk['current']['id']}/finish", expect=200)
    hall.api("admin", "PUT", "/occupancy", {"inside": 0, "limit": 50}, expect=200)
    return hall


@pytest.fixture
def staff(browser, shared):
    """Browser contexts for staff on the module's server (``staff.log_in("admin")``)."""
    opened = Browsers(browser, shared)
    yield opened
    opened.close()
    assert opened.errors == []


# The stubs. Options (set before this script by an init script of their own):
# voices - the voices the browser lists; audio - "running" or "blocked" (a suspended
# AudioContext that only a user gesture resumes, as under an autoplay policy); speechMs -
# how long an utterance lasts. While `__speech.hold` is true, utterances do not end until
# `__speech.release()` (which also ends the hold).
BOUNDARY_STUBS = """
(() => {
  const options = Object.assign({
    voices: [{lang: "ca-ES", name: "Catalan"}, {lang: "es-ES", name: "Spanish"},
             {lang: "en-GB", name: "English"}],
    audio: "running", speechMs: 300}, window.__stubOptions || {});
  const record = window.__speech = {log: [], overlaps: 0, cancels: 0, oscillators: [],
                                    hold: false, held: []};
  record.release = () => {
    record.hold = false;
    record.held.splice(0).forEach((end) => setTimeout(end, 0));
  };

  class Utterance extends EventTarget {
    constructor(text) {
      super();
      Object.assign(this, {text: String(text ?? ""), lang: "", voice: null, rate: 1,
                           pitch: 1, volume: 1});
    }
  }
  class Synthesis extends EventTarget {
    constructor() { super(); this.speaking = false; this.pending = false; this.paused = false; }
    getVoices() { return options.voices.map(v => Object.assign({default: false,
                                                                 localService: true}, v)); }
    speak(utterance) {
      const entry = {text: utterance.text, lang: utterance.lang,
                     voice: utterance.voice && utterance.voice.lang,
                     start: performance.now(), end: null};
      if (this.speaking) record.overlaps += 1;
      record.log.push(entry);
      this.speaking = true;
      setTimeout(() => utterance.dispatchEvent(new Event("start")), 0);
      const end = () => {
        entry.end = performance.now();
        this.speaking = false;
        utterance.dispatchEvent(new Event("end"));
      };
      if (record.hold && utterance.text) record.held.push(end);
      else setTimeout(end, utterance.text ? options.speechMs : 0);
    }
    cancel() { if (this.speaking) record.cancels += 1; }
    pause() {}
    resume() {}
  }
  const synthesis = new Synthesis();
  Object.defineProperty(window, "speechSynthesis", {configurable: true, get: () => synthesis});
  window.SpeechSynthesisUtterance = Utterance;

  const param = () => ({value: 0, setValueAtTime() {}, linearRampToValueAtTime() {},
                        exponentialRampToValueAtTime() {}});
  const node = () => ({connect() {}, disconnect() {}});
  class FakeAudioContext extends EventTarget {
    constructor() {
      super();
      this.state = options.audio === "running" ? "running" : "suspended";
      this.destination = node();
    }
    get currentTime() { return performance.now() / 1000; }
    resume() {
      if (this.state !== "running" && navigator.userActivation.hasBeenActive) {
        this.state = "running";
        this.dispatchEvent(new Event("statechange"));
      }
      return Promise.resolve();
    }
    createGain() { return Object.assign(node(), {gain: param()}); }
    createOscillator() {
      return Object.assign(node(), {type: "sine", frequency: param(),
        start() { record.oscillators.push(performance.now()); }, stop() {}});
    }
  }
  window.AudioContext = FakeAudioContext;
  window.webkitAudioContext = FakeAudioContext;
})();
"""

SAID = "window.__speech.log.filter(u => u.text.trim())"
WAIT_MS = 5000
PEAK_CALLS = 500
# How a Catalan screen says each office's letter (display/speech.py).
CATALAN_LETTERS = {"A": "a", "C": "ce", "I": "i llatina", "H": "hac", "T": "te"}


def show_screen(page, url, key, **options):
    """Open the display screen ``key`` of the server at ``url`` with the stubs installed."""
    page.add_init_script(f"window.__stubOptions = {json.dumps(options)};")
    page.add_init_script(BOUNDARY_STUBS)
    response = page.goto(f"{url}/display/{key}")
    assert response.status == 200
    page.wait_for_function("window.TornDisplay && TornDisplay.stats.snapshots > 0", timeout=WAIT_MS)
    return page


@pytest.fixture
def open_screen(page, shared):
    """Open a display screen of the module's server with the stubs installed:
    ``open_screen(key=None, **options)`` (the waiting room's by default)."""

    def open_(key=None, **options):
        return show_screen(page, shared.url, key or shared.screen_key, **options)

    return open_


@pytest.fixture
def open_fresh_screen(page, live):
    """The same on a server of the test's own, on a fresh copy of the demo (no call yet)."""

    def open_(key=None, **options):
        return show_screen(page, live.url, key or live.screen_key, **options)

    return open_


def issue_and_call(town_hall, office="OAC", desk=1):
    """A new ticket of ``office``, called at ``desk``; the called ticket."""
    town_hall.api("reception", "POST", "/tickets", {"office": office}, expect=201)
    return town_hall.api("clerk", "POST", f"/desks/{desk}/call-next", expect=200)


def catalan(ticket, desk):
    """What a Catalan screen says for ``ticket`` called at ``desk`` ("Torn lletra a, 7,
    Taulell 1")."""
    return f"Torn lletra {CATALAN_LETTERS[ticket['code'][0]]}, {ticket['number']}, {desk}"


def said(page):
    return page.evaluate(SAID)


def wait_until_said(page, count, timeout=10000):
    """Wait until ``count`` announcements have been spoken to the end; their records."""
    page.wait_for_function(f"{SAID}.filter(u => u.end !== null).length >= {count}", timeout=timeout)
    return said(page)


def wait_until_quiet(page, timeout=15000):
    page.wait_for_function("!TornDisplay.busy && TornDisplay.pending.length === 0", timeout=timeout)


def test_a_call_is_on_screen_within_a_second_and_announced(open_fresh_screen, live):
    page = open_fresh_screen()
    expect(page.locator("#current-empty")).to_be_visible()

    called = issue_and_call(live, "OAC", desk=3)
    expect(page.locator("#current-code")).to_have_text(called["code"], timeout=1000)
    expect(page.locator("#current-desk")).to_have_text("Taulell 3", timeout=1000)

    first = wait_until_said(page, 1)[0]
    assert (first["text"], first["lang"], first["voice"]) == (
        "Torn lletra a, 1, Taulell 3",
        "ca-ES",
        "ca-ES",
    )
    chimes = page.evaluate("window.__speech.oscillators")
    assert chimes and max(chimes) < first["start"], "the chime rings before the voice"
    # Privacy: codes, desks and counts only; the ticket's public token never reaches it.
    assert called["token"] not in page.content()
    # The server's timings reached the page (QUEUE_DISPLAY_TIMINGS).
    assert page.evaluate("TornDisplay.timings.chimeMs") == TEST_TIMINGS["chimeMs"]


def test_two_quick_calls_are_both_shown_and_announced_one_after_the_other(open_screen, shared):
    page = open_screen()
    page.evaluate("window.__speech.hold = true")  # the first call is still being said when...
    first = issue_and_call(shared, "OAC", desk=1)
    second = issue_and_call(shared, "OAC", desk=2)  # ...the second arrives

    expect(page.locator("#current-code")).to_have_text(second["code"], timeout=1000)
    expect(page.locator("#history .history__row").first).to_contain_text(first["code"])
    assert page.evaluate("TornDisplay.pending.length + TornDisplay.busy") == 2

    page.evaluate("window.__speech.release()")
    spoken = wait_until_said(page, 2)
    assert [u["text"] for u in spoken] == [
        catalan(first, "Taulell 1"),
        catalan(second, "Taulell 2"),
    ]
    assert spoken[1]["start"] >= spoken[0]["end"], "the second waits for the first to end"
    assert page.evaluate("[__speech.overlaps, __speech.cancels]") == [0, 0]
    assert page.evaluate("TornDisplay.stats.chimes") == 2


def test_a_failing_voice_or_chime_does_not_silence_the_next_calls(open_screen, shared):
    """The voice engine throws on one call and the audio device on another: each of those
    is skipped (the chime still rings, or the voice still speaks), and every call after
    them is announced as usual."""
    page = open_screen()
    page.evaluate("""() => {
      const synth = window.speechSynthesis, speak = synth.speak.bind(synth);
      let thrown = false;
      synth.speak = (utterance) => {
        if (!thrown && utterance.text) { thrown = true; throw new Error("engine gone"); }
        return speak(utterance);
      };
    }""")
    issue_and_call(shared, "OAC", desk=1)
    page.wait_for_function("TornDisplay.stats.failures === 1 && !TornDisplay.busy", timeout=WAIT_MS)
    second = issue_and_call(shared, "OAC", desk=2)
    assert [u["text"] for u in wait_until_said(page, 1)] == [catalan(second, "Taulell 2")]

    page.evaluate("""() => {
      const Context = window.AudioContext, create = Context.prototype.createGain;
      let thrown = false;
      Context.prototype.createGain = function () {
        if (!thrown) { thrown = true; throw new Error("no audio device"); }
        return create.call(this);
      };
    }""")
    third = issue_and_call(shared, "OAC", desk=3)
    fourth = issue_and_call(shared, "OAC", desk=4)
    spoken = wait_until_said(page, 3)
    assert [u["text"] for u in spoken[1:]] == [
        catalan(third, "Taulell 3"),
        catalan(fourth, "Taulell 4"),
    ]
    assert page.evaluate("TornDisplay.stats.failures") == 2
    assert page.evaluate("TornDisplay.stats.chimes") == 3, "no chime on the audio failure only"


def test_a_recall_is_announced_again(open_screen, shared):
    page = open_screen()
    called = issue_and_call(shared, "OMIC", desk=5)
    wait_until_said(page, 1)
    expect(page.locator("#current-recall")).to_be_hidden()

    shared.api("clerk", "POST", f"/tickets/{called['id']}/recall", expect=200)
    spoken = wait_until_said(page, 2)
    assert [u["text"] for u in spoken] == [catalan(called, "Taulell 5")] * 2
    expect(page.locator("#current-recall")).to_be_visible()
    expect(page.locator("#current-code")).to_have_text(called["code"])
    # Still one line per ticket: the recall is the current call, not also in the history.
    history = page.locator("#history .history__row:visible .history__code").all_inner_texts()
    assert called["code"] not in history


def test_an_omic_screen_ignores_oac_calls(open_screen, shared):
    omic = new_screen(shared, "OMIC", offices=["OMIC"])
    page = open_screen(omic["key"])
    expect(page.locator("[data-office]")).to_have_count(1)
    expect(page.locator("[data-office=OMIC]")).to_be_visible()

    first = issue_and_call(shared, "OMIC", desk=5)
    expect(page.locator("#current-code")).to_have_text(first["code"], timeout=1000)
    oac = issue_and_call(shared, "OAC", desk=1)
    # A later OMIC call is the sync point: anything sent before it has arrived by then.
    shared.api("clerk", "POST", f"/tickets/{first['id']}/finish", expect=200)
    second = issue_and_call(shared, "OMIC", desk=5)
    expect(page.locator("#current-code")).to_have_text(second["code"], timeout=1000)

    text = page.locator("#screen").inner_text()
    assert oac["code"] not in text and not re.search(r"\bA\d{3}", text), "no OAC code at all"
    expect(page.locator("#history .history__row").first).to_have_text(f"{first['code']}Taulell 5")
    history = page.locator("#history .history__row:visible .history__code").all_inner_texts()
    assert history and all(code.startswith("C") for code in history)
    wait_until_quiet(page)
    assert all("Taulell 1" not in u["text"] for u in said(page))


def test_the_page_recovers_by_itself_after_a_server_restart(open_fresh_screen, live):
    page = open_fresh_screen()
    issue_and_call(live, "OAC", desk=1)
    expect(page.locator("#current-code")).to_have_text("A001", timeout=1000)
    wait_until_said(page, 1)
    offline_mark = page.locator("#offline-mark")
    expect(offline_mark).to_be_hidden()

    live.server.kill()
    expect(offline_mark).to_be_visible(timeout=WAIT_MS)
    # While it is down, another process on the same file calls an OMIC ticket.
    db = connect(live.path)
    try:
        tickets.issue(db, "OMIC")
        tickets.call_next(db, 5)
    finally:
        db.close()
    live.server.start_again()

    # Socket.IO's reconnection backs off up to reconnectMaxMs (plus jitter) between tries.
    expect(page.locator("#current-code")).to_have_text("C001", timeout=15000)
    expect(page.locator("#current-desk")).to_have_text("Taulell 5")
    expect(offline_mark).to_be_hidden()
    expect(page.locator("#history .history__row").first).to_contain_text("A001")
    # The resync replay that follows the connect snapshot is dropped, not applied twice:
    page.wait_for_function(
        "TornDisplay.stats.resyncs === 1 && TornDisplay.stats.dropped > 0", timeout=WAIT_MS
    )
    wait_until_quiet(page)
    texts = [u["text"] for u in said(page)]
    assert texts == ["Torn lletra a, 1, Taulell 1", "Torn lletra ce, 1, Taulell 5"], (
        "a call missed for a few seconds is announced once"
    )
    assert page.evaluate("TornDisplay.stats.connects") == 2

    # And it goes on live: no reload was needed.
    issue_and_call(live, "OAC", desk=2)
    expect(page.locator("#current-code")).to_have_text("A002", timeout=1000)


def test_a_call_made_while_redis_was_down_is_shown_and_announced_once(page, live_pair):
    """Two server processes share Redis; the TV is connected to the second. Redis stops, a
    clerk calls on the first: once Redis is back (and in fact before), the TV shows the call
    and says it once."""
    redis, first, second = live_pair
    screen = show_screen(page, second.url, second.screen_key)
    redis.stop()
    called = issue_and_call(first, "HAB", desk=7)
    redis.start()
    expect(screen.locator("#current-code")).to_have_text(called["code"], timeout=10_000)
    expect(screen.locator("#current-desk")).to_have_text("Taulell 7")
    wait_until_quiet(screen)
    assert [u["text"] for u in said(screen)] == ["Torn lletra hac, 1, Taulell 7"]


def test_occupancy_turns_amber_near_the_limit_and_red_when_full(open_screen, shared):
    page = open_screen()
    panel = page.locator("#occupancy")
    state = page.locator("#occupancy-state")

    def colour():
        return panel.evaluate("node => getComputedStyle(node).backgroundColor")

    shared.api("admin", "PUT", "/occupancy", {"inside": 10, "limit": 50}, expect=200)
    expect(page.locator("#occupancy-inside")).to_have_text("10", timeout=1000)
    expect(panel).to_have_attribute("data-level", "ok")
    expect(state).to_have_text("Hi ha lloc")
    calm = colour()

    shared.api("admin", "PUT", "/occupancy", {"inside": 39}, expect=200)
    expect(page.locator("#occupancy-inside")).to_have_text("39", timeout=1000)
    expect(panel).to_have_attribute("data-level", "ok")
    shared.api("admin", "PUT", "/occupancy", {"inside": 40}, expect=200)  # 80 %
    expect(panel).to_have_attribute("data-level", "near", timeout=1000)
    expect(state).to_have_text("Gairebé ple")

    shared.api("admin", "PUT", "/occupancy", {"inside": 50}, expect=200)
    expect(panel).to_have_attribute("data-level", "full", timeout=1000)
    expect(state).to_have_text("Aforament complet")
    assert colour() == "rgb(229, 57, 53)" != calm

    shared.api("admin", "PUT", "/occupancy", {"limit": 60}, expect=200)  # 50 of 60: 83 %
    expect(panel).to_have_attribute("data-level", "near", timeout=1000)


def test_spoken_text_in_each_language(open_screen):
    page = open_screen()
    spoken = page.evaluate("""() => ["ca", "es", "en"].map(language => [
        TornDisplay.spokenText({code: "A023", desk: "Taulell 3"}, language),
        TornDisplay.spokenText({ticket: {code: "H107"}, desk: "Taulell 7"}, language),
        TornDisplay.spokenText({code: "I1000", desk: ""}, language)])""")
    assert spoken == [
        [
            "Torn lletra a, 23, Taulell 3",
            "Torn lletra hac, 107, Taulell 7",
            "Torn lletra i llatina, 1000",
        ],
        [
            "Turno letra a, 23, Taulell 3",
            "Turno letra hache, 107, Taulell 7",
            "Turno letra i latina, 1000",
        ],
        [
            "Ticket letter A, 23, Taulell 3",
            "Ticket letter H, 107, Taulell 7",
            "Ticket letter I, 1000",
        ],
    ]


def test_a_spanish_screen_speaks_and_reads_spanish(open_screen, shared):
    screen = new_screen(shared, "Pantalla", language="es")
    page = open_screen(screen["key"])
    assert page.get_attribute("html", "lang") == "es"
    expect(page.locator("#history-title")).to_have_text("Últimas llamadas")
    called = issue_and_call(shared, "ORGT", desk=8)
    spoken = wait_until_said(page, 1)
    assert [(u["text"], u["lang"]) for u in spoken] == [
        (f"Turno letra te, {called['number']}, Taulell 8", "es-ES")
    ]


def screen_form(staff, town_hall, key, suffix=""):
    """The admin page's form for the screen with ``key`` (``suffix`` e.g. "/key")."""
    admin = staff.log_in("admin")
    db = connect(town_hall.path)
    try:
        screen_id = displays.find_by_key(db, key)["id"]
    finally:
        db.close()
    return admin.locator(f"form[action$='/admin/displays/{screen_id}{suffix}']")


def test_an_admin_edit_reaches_the_screen_by_itself(open_screen, shared, staff):
    # The waiting room's own screen: no other test here looks at its message.
    page = open_screen()
    expect(page.locator(".message")).to_contain_text("mascareta")
    form = screen_form(staff, shared, shared.screen_key)
    form.locator("textarea[name=message], input[name=message]").fill("Avui plou")
    form.locator("button[type=submit]").click()
    expect(page.locator(".message")).to_have_text("Avui plou", timeout=WAIT_MS)


def test_a_screen_whose_key_was_rotated_says_so(open_screen, shared, staff):
    # A screen of its own: the waiting room's key stays for the other tests.
    screen = new_screen(shared, "Vestíbul")
    page = open_screen(screen["key"])
    screen_form(staff, shared, screen["key"], "/key").locator("button[type=submit]").click()
    expect(page.locator("#retired-mark")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#offline-mark")).to_be_hidden()


def test_a_screen_with_a_key_rotated_offline_says_so_when_it_reconnects(open_fresh_screen, live):
    page = open_fresh_screen()
    live.server.kill()
    expect(page.locator("#offline-mark")).to_be_visible(timeout=WAIT_MS)
    db = connect(live.path)
    try:
        displays.rotate_key(db, "Sala d'espera", actor="cli")  # as `rotate-display-key`
    finally:
        db.close()
    live.server.start_again()
    expect(page.locator("#retired-mark")).to_be_visible(timeout=3 * WAIT_MS)
    expect(page.locator("#offline-mark")).to_be_hidden()


def test_without_a_voice_the_chime_and_the_screen_still_work(open_screen, shared):
    # A screen told to use the browser's voice only (with "auto", the server's would speak:
    # tests/test_display_voice_browser.py).
    screen = new_screen(shared, "Només el navegador", voice="browser")
    page = open_screen(screen["key"], voices=[{"lang": "en-US", "name": "Only English"}])
    issue_and_call(shared, "OAC", desk=1)
    called = issue_and_call(shared, "HAB", desk=7)
    expect(page.locator("#current-code")).to_have_text(called["code"], timeout=1000)
    page.wait_for_function("TornDisplay.stats.chimes === 2", timeout=WAIT_MS)
    wait_until_quiet(page)
    assert said(page) == [], "no Catalan voice: no Catalan read by an English voice"


# The boxes of the screen's panels that the sound banner overlaps (none, it is in the top bar).
UNDER_THE_BANNER = """() => {
    const banner = document.getElementById("sound-unlock").getBoundingClientRect();
    const panels = ".calls, .current, .history, .status, .waiting, .waiting__count, .occupancy,"
        + " .message, .clock, .brand";
    return Array.from(document.querySelectorAll(panels)).filter((node) => {
        const box = node.getBoundingClientRect();
        return box.width > 0 && box.left < banner.right && banner.left < box.right
            && box.top < banner.bottom && banner.top < box.bottom;
    }).map((node) => node.className);
}"""


def test_sound_is_unlocked_once_with_a_touch_and_remembered(open_screen, shared):
    """The first time, a banner beside the clock asks for a touch and says why; it hides
    none of the screen. Once unlocked, a reload asks with the button alone, and any key
    (OK on the remote) unlocks it too."""
    for office in ("OAC", "OAC", "OMIC", "HAB"):
        shared.api("reception", "POST", "/tickets", {"office": office}, expect=201)
    shared.api("clerk", "POST", "/desks/2/call-next", expect=200)  # on screen, not announced
    page = open_screen(audio="blocked")
    banner = page.locator("#sound-unlock")
    expect(banner).to_be_visible(timeout=WAIT_MS)
    expect(banner).to_contain_text("Toqueu per activar el so")
    expect(page.locator("#sound-unlock-text")).to_be_visible()
    expect(page.locator("#sound-unlock-button")).to_be_focused()
    assert page.evaluate(UNDER_THE_BANNER) == []
    for panel in (".waiting", ".occupancy", "#current", ".history"):
        expect(page.locator(panel)).to_be_in_viewport(ratio=1)
    for width, height in ((1920, 1080), (1280, 720)):
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate(CLIPPED) == [], f"clipped at {width}x{height}"
        assert page.evaluate(UNDER_THE_BANNER) == []
    page.set_viewport_size({"width": 1920, "height": 1080})
    finish_animations(page)
    save_screenshot(page, "display-banner.png", docs_name="display-banner.png")
    assert axe_findings(page) == []

    page.locator("#sound-unlock-button").click()
    expect(banner).to_be_hidden()
    assert page.evaluate("localStorage.getItem('torn-display-sound')") == "on"
    issue_and_call(shared, "OAC", desk=1)
    wait_until_said(page, 1)
    assert page.evaluate("TornDisplay.stats.chimes") == 1

    # Reloaded (a power cut): remembered, so the button alone; the browser blocks audio
    # again until a touch or a key.
    page.reload()
    page.wait_for_function("TornDisplay.stats.snapshots > 0", timeout=WAIT_MS)
    expect(banner).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#sound-unlock-text")).to_be_hidden()
    page.keyboard.press("Enter")
    expect(banner).to_be_hidden()
    issue_and_call(shared, "OAC", desk=3)
    page.wait_for_function("TornDisplay.stats.chimes === 1", timeout=WAIT_MS)


def test_the_dom_stays_bounded_after_many_calls(open_screen, shared):
    """Every desk calls at once, over and over (a busy morning): the page keeps its size."""
    page = open_screen()
    count_nodes = "document.getElementsByTagName('*').length"
    shared.api("admin", "PUT", "/occupancy", {"limit": 1000}, expect=200)
    offices = [("OAC", desk) for desk in (1, 2, 3, 4)] + [
        ("OMIC", 5),
        ("OFIM", 6),
        ("HAB", 7),
        ("ORGT", 8),
    ]
    current = {}
    # Warm up (a call on every desk: the history full, the slots all used), then the baseline.
    for office, desk in offices:
        current[desk] = issue_and_call(shared, office, desk)
    expect(page.locator("#current-code")).to_have_text(current[8]["code"], timeout=1000)
    baseline = page.evaluate(count_nodes)

    def desk_calls(office, desk):
        """One desk's share of the calls, each after finishing the one before."""
        with requests.Session() as session:

            def api(role, path, json=None):
                response = session.post(
                    f"{shared.url}/api/v1{path}",
                    json=json,
                    timeout=10,
                    headers={"Authorization": f"Bearer {shared.tokens[role]}"},
                )
                assert response.status_code < 300, response.text
                return response.json()

            for _ in range(PEAK_CALLS // len(offices)):
                api("clerk", f"/tickets/{current[desk]['id']}/finish")
                api("reception", "/tickets", {"office": office})
                current[desk] = api("clerk", f"/desks/{desk}/call-next")

    started = time.monotonic()
    with ThreadPoolExecutor(len(offices)) as desks:
        for done in [desks.submit(desk_calls, *office_desk) for office_desk in offices]:
            done.result()
    elapsed = time.monotonic() - started
    # One more call, alone: once it is on screen, every call before it has arrived.
    shared.api("clerk", "POST", f"/tickets/{current[8]['id']}/finish", expect=200)
    last = issue_and_call(shared, "ORGT", desk=8)

    expect(page.locator("#current-code")).to_have_text(last["code"], timeout=WAIT_MS)
    assert page.evaluate(count_nodes) == baseline, "the DOM is reused, not grown"
    assert page.evaluate("TornDisplay.state.calls.length") == 10
    assert page.evaluate("TornDisplay.pending.length") <= 8
    assert page.evaluate("TornDisplay.log.length") <= 20
    expect(page.locator("#history .history__row:visible")).to_have_count(5)
    print(f"{PEAK_CALLS} calls in {elapsed:.1f} s")


def test_an_unknown_key_gives_a_readable_404_page(page, shared):
    response = page.goto(f"{shared.url}/display/no-such-screen")
    assert response.status == 404
    expect(page.locator("h1")).to_be_visible()
    assert len(page.locator("h1").inner_text()) > 10
    assert "Traceback" not in page.content()


# Whatever of the waiting room's figures overflows its panel, or the page.
CLIPPED = clipped_figures(
    ".current__label, #current-code, #current-desk, .history__row:not([hidden]),"
    " .waiting__count, .waiting__code, .occupancy__figures, .occupancy__state,"
    " .clock__time, .message"
)


def test_screenshots_at_tv_sizes(open_fresh_screen, live):
    """A realistic morning on the 1920x1080 TV, and the same page at 1280x720 and 4K."""
    page = open_fresh_screen()
    live.api("admin", "PUT", "/occupancy", {"limit": 60}, expect=200)
    for office, count in (("OAC", 9), ("OMIC", 3), ("OFIM", 2), ("HAB", 4), ("ORGT", 3)):
        for _ in range(count):
            live.api("reception", "POST", "/tickets", {"office": office}, expect=201)
    for desk in (5, 1, 7, 2, 8, 3, 6, 4):
        live.api("clerk", "POST", f"/desks/{desk}/call-next", expect=200)
    live.api("reception", "POST", "/occupancy/entries", {"count": 20}, expect=200)
    expect(page.locator("#current-code")).to_have_text("A004", timeout=WAIT_MS)
    expect(page.locator("#occupancy-inside")).to_have_text("41", timeout=WAIT_MS)
    finish_animations(page)

    for width, height in ((1920, 1080), (1280, 720), (3840, 2160)):
        page.set_viewport_size({"width": width, "height": height})
        overflow = page.evaluate(CLIPPED)
        assert overflow == [], f"clipped at {width}x{height}: {overflow}"
        if width < 3840:
            save_screenshot(
                page,
                f"display-{width}x{height}.png",
                docs_name="display.png" if width == 1920 else None,
            )


def test_the_page_is_ready_for_a_strict_content_security_policy(app, client):
    """No inline script, style or event handler: data reaches the script as inert JSON."""
    with app.app_context():
        from queue_app.storage.db import get_db

        key = get_db().execute("SELECT key FROM displays LIMIT 1").fetchone()[0]
    response = client.get(f"/display/{key}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"  # the key is in the address
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts and all(
        "src=" in attrs or 'type="application/json"' in attrs for attrs in scripts
    )
    # The page's own script is an ES module; its imports are files of this origin too.
    assert any('type="module"' in attrs and "/display/static/" in attrs for attrs in scripts)
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "<style" not in html


def page_config(app):
    """The config that ``app``'s page for the first display screen hands to its script."""
    with app.app_context():
        from queue_app.storage.db import get_db

        key = get_db().execute("SELECT key FROM displays LIMIT 1").fetchone()[0]
    html = app.test_client().get(f"/display/{key}").get_data(as_text=True)
    found = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def app_with(app, **config):
    """Another app on ``app``'s database, with ``config`` in its test config."""
    return create_app(
        {
            "TESTING": True,
            "DATABASE": app.config["DATABASE"],
            "ASYNC_MODE": "threading",
            "SECRET_KEY": "test-secret",
            **config,
        }
    )


def test_announcement_timings_are_production_ones_unless_configured(app, monkeypatch):
    monkeypatch.delenv("QUEUE_DISPLAY_TIMINGS")
    production = page_config(app_with(app))["timings"]
    assert production == timings.DEFAULTS
    assert (production["chimeMs"], production["gapMs"]) == (1300, 700), "what a TV does today"

    shortened = page_config(app_with(app, DISPLAY_TIMINGS={"chimeMs": 5, "gapMs": 0}))
    assert shortened["timings"] == {**timings.DEFAULTS, "chimeMs": 5, "gapMs": 0}

    monkeypatch.setenv("QUEUE_DISPLAY_TIMINGS", '{"reconnectMs": 10}')  # how run.py gets them
    assert page_config(app_with(app))["timings"] == {**timings.DEFAULTS, "reconnectMs": 10}


@pytest.mark.parametrize(
    "wrong", [{"chimeMS": 5}, {"gapMs": -1}, {"gapMs": 0.5}, {"gapMs": True}, [700]]
)
def test_misconfigured_timings_stop_the_app_at_start_up(app, wrong):
    with pytest.raises(ValueError, match="DISPLAY_TIMINGS"):
        app_with(app, DISPLAY_TIMINGS=wrong)
