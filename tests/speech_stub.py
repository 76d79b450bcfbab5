"""The browser's ``speechSynthesis``, stubbed for the TV page's voice tests (the waiting
room's and the entrance screen's): the browser lists the voices a test wants and records
what is said; everything else, the page's audio included, is the page's own.
"""

import json

from display.voice import VoiceCache

from conftest import WAIT_MS

# speechSynthesis with the voices of `window.__voices`, saying each utterance in
# __SPEECH_MS__ ms and recording it in `window.__said`.
SPEECH_STUB = """
(() => {
  const voices = window.__voices || [];
  const said = window.__said = [];
  class Utterance extends EventTarget {
    constructor(text) {
      super();
      Object.assign(this, {text: String(text ?? ""), lang: "", voice: null, rate: 1,
                           volume: 1});
    }
  }
  const synthesis = {
    speaking: false, paused: false, pending: false,
    getVoices: () => voices.map((v) => Object.assign({default: false, localService: true}, v)),
    speak(utterance) {
      if (utterance.text) said.push({text: utterance.text, lang: utterance.lang});
      setTimeout(() => utterance.dispatchEvent(new Event("end")),
                 utterance.text ? __SPEECH_MS__ : 0);
    },
    cancel() {}, pause() {}, resume() {},
  };
  Object.defineProperty(window, "speechSynthesis", {configurable: true, get: () => synthesis});
  window.SpeechSynthesisUtterance = Utterance;
})();
"""
EVERY_LANGUAGE = [
    {"lang": "ca-ES", "name": "Catalan"},
    {"lang": "es-ES", "name": "Spanish"},
    {"lang": "en-GB", "name": "English"},
]
ENGLISH_ONLY = [{"lang": "en-GB", "name": "English"}]


def speech_stub(speech_ms):
    """The stub's init script, each utterance lasting ``speech_ms`` milliseconds."""
    return SPEECH_STUB.replace("__SPEECH_MS__", str(int(speech_ms)))


def open_speaking_screen(page, url, voices, speech_ms, is_voice_request):
    """The TV page at ``url`` with ``voices`` listed and the stub installed, once its first
    snapshot is in; the requests it makes for the server's voice (those for which
    ``is_voice_request(url)`` holds) are recorded in ``page.voice_requests``."""
    page.voice_requests = []
    page.on(
        "request",
        lambda request: is_voice_request(request.url) and page.voice_requests.append(request),
    )
    page.add_init_script(f"window.__voices = {json.dumps(voices)};")
    page.add_init_script(speech_stub(speech_ms))
    assert page.goto(url).status == 200
    page.wait_for_function("window.TornDisplay && TornDisplay.stats.snapshots > 0", timeout=WAIT_MS)
    return page


def wait_until_quiet(page, announced):
    """Wait until the page has announced ``announced`` times and has nothing left to say."""
    page.wait_for_function(
        f"TornDisplay.stats.announced >= {announced} && !TornDisplay.busy"
        " && TornDisplay.pending.length === 0",
        timeout=WAIT_MS,
    )


def assert_the_servers_voice_said(page, said, language, voice_url):
    """The page said ``said`` (in ``language``) with the server's voice, not the browser's:
    it fetched it once, from ``voice_url``, and played the file the server rendered of those
    very words. What it played (``{url, duration}``)."""
    assert [entry["text"] for entry in page.evaluate("TornDisplay.log")] == [said]
    assert page.evaluate("window.__said") == [], "the server's voice, not the browser's"
    assert [request.url for request in page.voice_requests] == [voice_url]
    played = page.evaluate("TornDisplay.voices")
    assert len(played) == 1
    assert played[0]["url"].endswith(f"/voice/{VoiceCache.digest(language, said)}.wav")
    return played[0]
