"""The TV's voice in a real headless Chromium against a real ``run.py``: the page speaks
with the browser's voice for its language when the browser has one, else it fetches the
server's (espeak-ng) and plays it after the chime; the words are the same either way, and
desks and offices are named in the screen's language.

Only ``speechSynthesis`` is stubbed (an init script lists the voices a test wants and
records what is said); the audio is the page's real Web Audio, which headless Chromium runs
(its autoplay policy is off in conftest's CHROMIUM_ARGS).
"""

import io
import math
import os
import select
import threading
import time
import wave
from array import array

import pytest
import requests
from playwright.sync_api import expect
from speech_stub import (
    ENGLISH_ONLY,
    EVERY_LANGUAGE,
    assert_the_servers_voice_said,
    open_speaking_screen,
    wait_until_quiet,
)

from display import speech
from queue_app.rules import desks, displays
from queue_app.storage.db import connect

from conftest import WAIT_MS, restore_demo
from helpers import display_server_settings, new_screen

pytestmark = pytest.mark.slow

# Short pauses; a voice that does not come is given up after 1 s.
TEST_TIMINGS = {"chimeMs": 60, "gapMs": 30, "autoplayCheckMs": 150, "speechTimeoutMs": 1000}


@pytest.fixture(scope="module", autouse=True)
def server_settings(tmp_path_factory):
    """Every ``run.py`` of this module: short pauses, its voice cache in a folder of its own."""
    with display_server_settings(TEST_TIMINGS, tmp_path_factory):
        yield


def open_screen(page, live, key=None, voices=ENGLISH_ONLY):
    """The screen ``key`` (the waiting room's: Catalan, voice auto) with ``voices`` listed
    (each utterance said in 200 ms); the requests it makes for the server's voice are
    recorded in ``page.voice_requests``."""
    return open_speaking_screen(
        page,
        f"{live.url}/display/{key or live.screen_key}",
        voices,
        200,
        lambda url: "/calls/" in url,
    )


def call(live, office="OAC", desk=1):
    live.api("reception", "POST", "/tickets", {"office": office}, expect=201)
    return live.api("clerk", "POST", f"/desks/{desk}/call-next", expect=200)


def test_a_catalan_screen_whose_browser_speaks_only_english_plays_the_servers_voice(
    page, live, app
):
    page = open_screen(page, live, voices=ENGLISH_ONLY)
    called = call(live, "OAC", desk=1)
    page.wait_for_function("TornDisplay.stats.serverVoices === 1", timeout=WAIT_MS)
    wait_until_quiet(page, 1)

    with app.app_context():
        expected = speech.spoken_text(called["code"], "Taulell 1", "ca")
    assert expected == "Torn lletra a, 1, Taulell 1"
    # No Catalan read by an English voice: fetched from the server, for this very call, and
    # it says exactly the page's words.
    played = assert_the_servers_voice_said(
        page,
        expected,
        "ca",
        f"{live.url}/display/{live.screen_key}/calls/{called_seq(live, called)}/voice",
    )
    # After the chime, never over it.
    assert page.evaluate("TornDisplay.stats.chimes") == 1

    # The same file, decoded here: speech, not silence, as long as such a sentence.
    audio = requests.get(played["url"], timeout=10)
    assert audio.headers["Content-Type"] == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
        samples = array("h", wav.readframes(wav.getnframes()))
    rms = math.sqrt(sum(sample * sample for sample in samples) / len(samples)) / 32768
    assert 1 < seconds < 6
    assert rms > 0.02
    assert played["duration"] == pytest.approx(seconds, abs=0.05)


def called_seq(live, ticket):
    """The journal seq of the last ``ticket_called`` of ``ticket``."""
    db = connect(live.path)
    try:
        return db.execute(
            "SELECT MAX(seq) FROM events WHERE type = 'ticket_called' AND ticket_id = ?",
            [ticket["id"]],
        ).fetchone()[0]
    finally:
        db.close()


def test_a_screen_with_its_languages_voice_uses_the_browsers(page, live):
    page = open_screen(page, live, voices=EVERY_LANGUAGE)
    called = call(live, "HAB", desk=7)
    wait_until_quiet(page, 1)
    assert page.evaluate("window.__said") == [
        {"text": f"Torn lletra hac, {called['number']}, Taulell 7", "lang": "ca-ES"}
    ]
    assert page.voice_requests == []
    assert page.evaluate("TornDisplay.stats.serverVoices") == 0


def test_the_voice_setting_chooses_the_server_or_the_browser_whatever_the_browser_has(
    page, live, browser
):
    server = new_screen(live, "Servidor", voice="server")
    page = open_screen(page, live, server["key"], voices=EVERY_LANGUAGE)
    call(live, "OAC", desk=2)
    # Playing: the server's voice, though the browser has a Catalan one.
    page.wait_for_function("TornDisplay.stats.serverVoices === 1", timeout=WAIT_MS)
    assert page.evaluate("window.__said") == []
    assert len(page.voice_requests) == 1

    only_browser = new_screen(live, "Navegador", voice="browser")
    other = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    try:
        quiet = open_screen(other.new_page(), live, only_browser["key"], voices=ENGLISH_ONLY)
        call(live, "OAC", desk=3)
        wait_until_quiet(quiet, 1)
        assert quiet.evaluate("window.__said") == [], "no Catalan voice: silence"
        assert quiet.voice_requests == []
        assert quiet.evaluate("TornDisplay.stats.chimes") == 1, "the chime still rings"
    finally:
        other.close()


def test_a_server_voice_that_never_comes_does_not_stall_the_next_calls(page, live):
    page = open_screen(page, live)
    held = []

    def hold_the_first(route):
        if held:
            route.continue_()
        else:
            held.append(route)  # never answered: the page must give up on it

    page.route("**/calls/*/voice", hold_the_first)
    call(live, "OAC", desk=1)
    call(live, "OAC", desk=2)
    page.wait_for_function(
        "TornDisplay.stats.serverVoices === 1 && TornDisplay.stats.failures === 1",
        timeout=WAIT_MS,
    )
    assert len(page.voice_requests) == 2
    assert [entry["text"] for entry in page.evaluate("TornDisplay.log")] == [
        "Torn lletra a, 1, Taulell 1",
        "Torn lletra a, 2, Taulell 2",
    ]


def test_the_page_and_the_server_say_every_letter_with_the_same_words(page, live, app):
    page = open_screen(page, live)
    codes = [f"{letter}{number:03d}" for letter in speech.ALPHABET for number in (1, 40)]
    spoken = page.evaluate(
        """(codes) => ["ca", "es", "en"].map((language) => codes.map((code) =>
            [TornDisplay.spokenText({code, desk: "Taulell 3"}, language),
             TornDisplay.spokenText({code, desk: ""}, language)]))""",
        codes,
    )
    with app.app_context():
        expected = [
            [
                [
                    speech.spoken_text(code, "Taulell 3", language),
                    speech.spoken_text(code, "", language),
                ]
                for code in codes
            ]
            for language in ("ca", "es", "en")
        ]
    assert spoken == expected


def test_a_spanish_screen_shows_and_says_desks_and_offices_in_spanish(page, live):
    db = connect(live.path)
    try:
        desks.update(db, 8, {"names": {"es": "Mostrador 8", "en": "Desk 8"}})
    finally:
        db.close()
    screen = new_screen(live, "Pantalla", offices=["ORGT"], language="es")
    page = open_screen(page, live, screen["key"], voices=EVERY_LANGUAGE)
    expect(page.locator(".waiting__name")).to_have_text("Organismo de Gestión Tributaria")

    called = call(live, "ORGT", desk=8)
    expect(page.locator("#current-desk")).to_have_text("Mostrador 8", timeout=WAIT_MS)
    wait_until_quiet(page, 1)
    assert page.evaluate("window.__said") == [
        {"text": f"Turno letra te, {called['number']}, Mostrador 8", "lang": "es-ES"}
    ]
    # A reload (the snapshot's calls) names it the same way.
    page.reload()
    page.wait_for_function("TornDisplay.stats.snapshots > 0", timeout=WAIT_MS)
    expect(page.locator("#current-desk")).to_have_text("Mostrador 8")


def test_a_slow_render_does_not_hold_up_the_server(template, tmp_path):
    """espeak-ng runs as a child process the eventlet server waits for without blocking:
    while a render takes two seconds, the server answers everyone else at once."""
    from servers import ServerPool

    # The engine says when it starts (through a named pipe the test reads), then takes 2 s.
    started_fifo = tmp_path / "started"
    os.mkfifo(started_fifo)
    slow = tmp_path / "slow-espeak-ng"
    slow.write_text(f'#!/bin/sh\necho started > {started_fifo}\nsleep 2\nexec espeak-ng "$@"\n')
    slow.chmod(0o755)
    path = str(tmp_path / "queue.db")
    restore_demo(template[0], path)
    db = connect(path)
    try:
        key = displays.list_displays(db)[0]["key"]
    finally:
        db.close()
    env = {"QUEUE_VOICE_PROGRAM": str(slow), "QUEUE_VOICE_CACHE_DIR": str(tmp_path / "voice")}
    with ServerPool() as pool:
        server = pool.start(path, env=env)
        token = template[1]
        headers = {
            "reception": {"Authorization": f"Bearer {token['reception']}"},
            "clerk": {"Authorization": f"Bearer {token['clerk']}"},
        }
        requests.post(
            f"{server.url}/api/v1/tickets",
            json={"office": "OAC"},
            headers=headers["reception"],
            timeout=10,
        )
        requests.post(
            f"{server.url}/api/v1/desks/1/call-next", headers=headers["clerk"], timeout=10
        )
        db = connect(path)
        try:
            seq = db.execute("SELECT MAX(seq) FROM events WHERE type = 'ticket_called'").fetchone()[
                0
            ]
        finally:
            db.close()
        rendered = {}

        def ask_for_the_voice():
            started = time.monotonic()
            response = requests.get(f"{server.url}/display/{key}/calls/{seq}/voice", timeout=10)
            rendered.update(status=response.status_code, seconds=time.monotonic() - started)

        asking = threading.Thread(target=ask_for_the_voice)
        asking.start()
        # Wait (at most 10 s) until the engine says it has begun.
        render = os.open(started_fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert select.select([render], [], [], 10)[0], "the render never began"
        finally:
            os.close(render)
        started = time.monotonic()
        assert requests.get(f"{server.url}/healthz", timeout=10).status_code == 200
        answered = time.monotonic() - started
        asking.join()
    assert rendered["status"] == 200 and rendered["seconds"] >= 2
    assert answered < 1, f"the server answered after {answered:.2f} s"
