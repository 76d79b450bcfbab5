"""The TV's words and the server's voice, without a browser: the sentence per language
(display/speech.py), the espeak-ng renders and their bounded cache (display/voice.py), the
voice routes and what they refuse, and a screen's ``voice`` setting (create-display, /admin).

The browser side (the page choosing a voice, fetching and playing the server's) is in
tests/test_display_voice_browser.py. espeak-ng must be installed (``make test`` does it).
"""

import io
import json
import math
import re
import wave
from array import array

import pytest
from flask_babel import force_locale

from display import speech, voice
from display.voice import VoiceCache, VoiceUnavailable
from queue_app import create_app
from queue_app.rules import desks, displays, tickets
from queue_app.rules.errors import InvalidInput, NotFound
from queue_app.storage.db import connect

from conftest import APP_CONFIG, restore_demo
from helpers import log_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
# How each office of the demo is said: its letter, then a number and a desk.
SAID = {
    "ca": {
        "A": "Torn lletra a, 1, Taulell 1",
        "C": "Torn lletra ce, 1, Taulell 1",
        "I": "Torn lletra i llatina, 1, Taulell 1",
        "H": "Torn lletra hac, 1, Taulell 1",
        "T": "Torn lletra te, 1, Taulell 1",
    },
    "es": {
        "A": "Turno letra a, 1, Taulell 1",
        "C": "Turno letra ce, 1, Taulell 1",
        "I": "Turno letra i latina, 1, Taulell 1",
        "H": "Turno letra hache, 1, Taulell 1",
        "T": "Turno letra te, 1, Taulell 1",
    },
    "en": {
        "A": "Ticket letter A, 1, Taulell 1",
        "C": "Ticket letter C, 1, Taulell 1",
        "I": "Ticket letter I, 1, Taulell 1",
        "H": "Ticket letter H, 1, Taulell 1",
        "T": "Ticket letter T, 1, Taulell 1",
    },
}


@pytest.fixture
def app(template, tmp_path):
    """The app on a fresh demo, its voice cache in the test's own folder."""
    path = str(tmp_path / "queue.db")
    restore_demo(template[0], path)
    return create_app({**APP_CONFIG, "DATABASE": path, "VOICE_CACHE_DIR": str(tmp_path / "voice")})


@pytest.fixture
def store(app):
    database = connect(app.config["DATABASE"])
    yield database
    database.close()


def called(store, office="OAC", desk=1):
    """Issue a ticket of ``office`` and call it at ``desk``: the ``ticket_called`` seq."""
    tickets.issue(store, office)
    outcome = tickets.call_next(store, desk)
    return next(e["seq"] for e in outcome.events if e["type"] == "ticket_called")


def screen_key(store, name=None):
    listed = displays.list_displays(store)
    return next(d["key"] for d in listed if name is None or d["name"] == name)


def wav_facts(data):
    """(seconds, RMS of the samples on a 0-1 scale) of a 16-bit WAV file's bytes."""
    with wave.open(io.BytesIO(data)) as audio:
        assert audio.getsampwidth() == 2
        frames = audio.readframes(audio.getnframes())
        seconds = audio.getnframes() / audio.getframerate()
    samples = array("h", frames)
    rms = math.sqrt(sum(sample * sample for sample in samples) / len(samples)) / 32768
    return seconds, rms


# The sentence ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["ca", "es", "en"])
def test_each_office_letter_is_said_by_an_unmistakable_name(app, language):
    with app.app_context():
        for letter, sentence in SAID[language].items():
            assert speech.spoken_text(f"{letter}001", "Taulell 1", language) == sentence


def test_numbers_are_said_as_numbers_and_the_desk_may_be_missing(app):
    with app.app_context():
        assert speech.spoken_text("A023", "Taulell 3", "ca") == "Torn lletra a, 23, Taulell 3"
        assert speech.spoken_text("H107", "", "es") == "Turno letra hache, 107"
        assert speech.spoken_text("T1000", "Desk 8", "en") == "Ticket letter T, 1000, Desk 8"
        assert speech.spoken_text("B005", "Taulell 2", "ca") == "Torn lletra be alta, 5, Taulell 2"
        assert speech.spoken_text("V005", "", "ca") == "Torn lletra ve baixa, 5"
        assert speech.spoken_text("Y012", "", "es") == "Turno letra i griega, 12"
        # Something that is not a code is said as it is.
        assert speech.spoken_text("?", "", "ca") == "Torn ?"


def test_every_letter_has_a_name_in_every_language_and_none_is_a_bare_vowel():
    for language in ("ca", "es", "en"):
        assert set(speech.LETTER_NAMES[language]) == set(speech.ALPHABET)
        assert "{name}" in speech.LETTER_WORD[language]
    # Two letters never share a name in one language (B and V are "be alta", "ve baixa").
    for language in ("ca", "es"):
        names = list(speech.LETTER_NAMES[language].values())
        assert len(set(names)) == len(names), language


def test_the_page_gets_the_same_tables_the_server_speaks_with(app):
    with app.app_context(), force_locale("ca"):
        settings = speech.speech_settings(("ca", "es", "en"))
    assert settings["ca"]["letters"]["H"] == "hac"
    assert settings["ca"]["letter"] == "lletra {name}"
    assert settings["es"]["withDesk"] == "Turno {code}, {desk}"
    assert settings["en"]["withoutDesk"] == "Ticket {code}"


# The cache -----------------------------------------------------------------------------------


def test_a_render_is_a_real_sentence_of_speech(tmp_path):
    cache = VoiceCache(str(tmp_path), max_files=10, max_bytes=10**8)
    digest = cache.render("ca", "Torn lletra a, 1, Taulell 1")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    with open(cache.find(digest), "rb") as rendered:
        seconds, rms = wav_facts(rendered.read())
    assert 1 < seconds < 6
    assert rms > 0.02, "not silence"
    # The same words again: the same file, not a second render.
    before = (tmp_path / f"{digest}.wav").stat().st_mtime_ns
    assert cache.render("ca", "Torn lletra a, 1, Taulell 1") == digest
    assert len(list(tmp_path.iterdir())) == 1
    assert (tmp_path / f"{digest}.wav").stat().st_mtime_ns >= before
    # Another language is another file.
    assert cache.render("es", "Torn lletra a, 1, Taulell 1") != digest


def test_the_cache_keeps_at_most_its_bound_dropping_the_least_recently_used(tmp_path):
    cache = VoiceCache(str(tmp_path), max_files=3, max_bytes=10**8)
    first, second, third = (cache.render("ca", f"Torn lletra a, {n}") for n in (1, 2, 3))
    assert cache.find(first)  # used again: now the most recent
    fourth = cache.render("ca", "Torn lletra a, 4")
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        f"{digest}.wav" for digest in (first, third, fourth)
    )
    assert cache.find(second) is None

    # A bound in bytes too: two short sentences do not fit in the size of one.
    size = (tmp_path / f"{fourth}.wav").stat().st_size
    small = VoiceCache(str(tmp_path / "small"), max_files=100, max_bytes=size + 1000)
    small.render("ca", "Torn lletra a, 4")
    kept = small.render("ca", "Torn lletra a, 5")
    assert [path.name for path in (tmp_path / "small").iterdir()] == [f"{kept}.wav"]


def test_a_missing_or_failing_engine_is_a_clear_error_and_leaves_nothing(tmp_path):
    with pytest.raises(VoiceUnavailable, match="no-such-espeak"):
        VoiceCache(str(tmp_path), 10, 10**8, program="no-such-espeak").render("ca", "Torn")
    with pytest.raises(VoiceUnavailable, match="failed"):
        VoiceCache(str(tmp_path), 10, 10**8, program="false").render("ca", "Torn")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "setting", [{"VOICE_CACHE_MAX_FILES": 0}, {"VOICE_CACHE_MAX_BYTES": "lots"}]
)
def test_a_misconfigured_cache_stops_the_app_at_start_up(app, setting):
    with pytest.raises(ValueError, match="VOICE_CACHE_MAX"):
        create_app({**APP_CONFIG, "DATABASE": app.config["DATABASE"], **setting})


def test_the_cache_bounds_come_from_the_environment_too(app, monkeypatch, tmp_path):
    monkeypatch.setenv("QUEUE_VOICE_CACHE_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("QUEUE_VOICE_CACHE_MAX_FILES", "7")
    made = create_app({**APP_CONFIG, "DATABASE": app.config["DATABASE"]})
    cache = made.extensions["torn.voice"]
    assert (cache.folder, cache.max_files) == (str(tmp_path / "elsewhere"), 7)
    assert cache.max_bytes == voice.DEFAULTS["VOICE_CACHE_MAX_BYTES"]


# The routes ------------------------------------------------------------------------------


def test_a_screen_gets_its_call_said_by_the_server(app, store):
    seq = called(store, "HAB", desk=7)
    key = screen_key(store)
    client = app.test_client()

    asked = client.get(f"/display/{key}/calls/{seq}/voice")
    assert asked.status_code == 302
    assert asked.headers["Cache-Control"] == "no-store"
    assert asked.headers["Referrer-Policy"] == "no-referrer"
    expected = VoiceCache.digest("ca", "Torn lletra hac, 1, Taulell 7")
    assert asked.headers["Location"].endswith(f"/display/{key}/voice/{expected}.wav")

    audio = client.get(asked.headers["Location"])
    assert audio.status_code == 200
    assert audio.mimetype == "audio/wav"
    assert audio.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    seconds, rms = wav_facts(audio.data)
    audio.close()
    assert 1 < seconds < 6 and rms > 0.02
    again = client.get(asked.headers["Location"], headers={"If-None-Match": f'"{expected}"'})
    again.close()
    assert again.status_code == 304


def test_a_spanish_screen_says_the_desk_by_its_spanish_name(app, store):
    desks.update(store, 7, {"names": {"es": "Mostrador 7"}})
    screen = displays.create_display(store, "Pantalla", ["HAB"], "es").value
    seq = called(store, "HAB", desk=7)
    with app.app_context():
        said = speech.spoken_text("H001", "Mostrador 7", "es")
    assert said == "Turno letra hache, 1, Mostrador 7"
    asked = app.test_client().get(f"/display/{screen['key']}/calls/{seq}/voice")
    assert asked.headers["Location"].endswith(f"/{VoiceCache.digest('es', said)}.wav")
    # ... and its snapshot names every desk in every language, for the page to show.
    state = app.test_client().get(f"/api/v1/displays/{screen['key']}/state").get_json()
    assert state["desks"]["Taulell 7"] == {
        "ca": "Taulell 7",
        "es": "Mostrador 7",
        "en": "Taulell 7",
    }


def test_the_server_says_only_calls_a_screen_shows_today_and_never_any_text(app, store):
    omic = displays.create_display(store, "OMIC", ["OMIC"]).value
    oac_call = called(store, "OAC", desk=1)
    omic_call = called(store, "OMIC", desk=5)
    not_a_call = store.execute(
        "SELECT seq FROM events WHERE type != 'ticket_called' ORDER BY seq DESC LIMIT 1"
    ).fetchone()[0]
    yesterday = store.execute(
        "SELECT seq FROM events WHERE type = 'day_started' ORDER BY seq DESC LIMIT 1"
    ).fetchone()[0]
    client = app.test_client()
    key = omic["key"]

    assert client.get(f"/display/{key}/calls/{omic_call}/voice").status_code == 302
    for refused in (
        f"/display/{key}/calls/{oac_call}/voice",  # another office's call
        f"/display/{key}/calls/{not_a_call}/voice",  # not a call
        f"/display/{key}/calls/{yesterday}/voice",  # nothing of today before it
        f"/display/{key}/calls/999999/voice",  # no such event
        f"/display/not-a-key/calls/{omic_call}/voice",  # no such screen
        f"/display/{key}/calls/-1/voice",
        f"/display/{key}/calls/A001/voice",
        f"/display/{key}/voice/{'0' * 64}.wav",  # a file the server never made
        f"/display/{key}/voice/{'A' * 64}.wav",
        f"/display/{key}/voice/..%2Fqueue.db.wav",
        f"/display/not-a-key/voice/{VoiceCache.digest('ca', 'Torn lletra ce, 1, Taulell 5')}.wav",
    ):
        assert client.get(refused).status_code == 404, refused
    # No text is ever taken from the client.
    assert client.get(f"/display/{key}/voice?text=Hola").status_code == 404
    assert client.post(f"/display/{key}/calls/{omic_call}/voice").status_code == 405
    with pytest.raises(NotFound):
        displays.announced_call(store, displays.find_by_key(store, key), oac_call)


def test_the_server_voice_that_fails_says_so(app, store, tmp_path):
    broken = create_app(
        {
            **APP_CONFIG,
            "DATABASE": app.config["DATABASE"],
            "VOICE_CACHE_DIR": str(tmp_path / "broken"),
            "VOICE_PROGRAM": "false",
        }
    )
    seq = called(store)
    response = broken.test_client().get(f"/display/{screen_key(store)}/calls/{seq}/voice")
    assert response.status_code == 503


# The setting ---------------------------------------------------------------------------------


def test_a_screen_speaks_with_auto_unless_told_and_its_snapshot_says_so(app, store):
    screen = displays.list_displays(store)[0]
    assert screen["voice"] == "auto"
    state = app.test_client().get(f"/api/v1/displays/{screen['key']}/state").get_json()
    assert state["display"]["voice"] == "auto"
    changed = displays.update_display(store, screen["id"], ["OAC"], "ca", "", "server").value
    assert changed["voice"] == "server"
    # Not naming the voice leaves it as it is.
    kept = displays.update_display(store, screen["id"], ["OAC"], "es", "").value
    assert kept["voice"] == "server"
    payload = json.loads(
        store.execute("SELECT payload FROM events ORDER BY seq DESC LIMIT 1").fetchone()[0]
    )
    assert payload["display"]["voice"] == "server"
    assert "key" not in payload["display"]
    with pytest.raises(InvalidInput):
        displays.update_display(store, screen["id"], ["OAC"], "ca", "", "robot")
    with pytest.raises(InvalidInput):
        displays.create_display(store, "Nova", voice="espeak")


def test_create_display_takes_a_voice(app, store):
    runner = app.test_cli_runner()
    made = runner.invoke(args=["create-display", "Planta 2", "--voice", "server"])
    assert made.exit_code == 0, made.output
    assert "voice server" in made.output
    assert displays.find_by_key(store, made.output.strip().split("\n")[-1])["voice"] == "server"

    default = runner.invoke(args=["create-display", "Planta 3"])
    assert displays.find_by_key(store, default.output.strip().split("\n")[-1])["voice"] == "auto"

    refused = runner.invoke(args=["create-display", "Planta 4", "--voice", "robot"])
    assert refused.exit_code != 0
    assert "Planta 4" not in [d["name"] for d in displays.list_displays(store)]


def test_the_admin_form_sets_a_screens_voice(app, store):
    client = app.test_client()
    log_in(app, client, "admin")
    client.get("/language/en")

    def post(path, data):
        token = CSRF.search(client.get("/admin").get_data(as_text=True))[1]
        return client.post(path, data={**data, "csrf_token": token}, follow_redirects=True)

    page = client.get("/admin").get_data(as_text=True)
    assert page.count('<select name="voice">') == len(displays.list_displays(store)) + 1
    post("/admin/displays", {"name": "Planta 1", "language": "es", "voice": "browser"})
    screen = [d for d in displays.list_displays(store) if d["name"] == "Planta 1"][0]
    assert screen["voice"] == "browser"

    post(
        f"/admin/displays/{screen['id']}",
        {"offices": ["OAC"], "language": "es", "message": "", "voice": "server"},
    )
    assert displays.find_by_id(store, screen["id"])["voice"] == "server"
    page = client.get("/admin").get_data(as_text=True)
    assert '<option value="server" selected>' in page

    refused = post(
        f"/admin/displays/{screen['id']}",
        {"offices": ["OAC"], "language": "es", "message": "", "voice": "robot"},
    ).get_data(as_text=True)
    assert "The voice must be one of: auto, browser, server." in refused
    assert displays.find_by_id(store, screen["id"])["voice"] == "server"
