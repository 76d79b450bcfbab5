// The TV's sound: a chime made in the page (Web Audio, no sound file), a voice (the browser's
// speech synthesis, or the server's, as audio the page fetches and plays), and the one touch
// a TV browser may ask for before a page can make any sound.

import {newAudioContext} from "../../../static/pages.js";

const SOUND_KEY = "torn-display-sound";  // localStorage: this screen was unlocked before
const NO_VOICE = {};
const PLAYED_LOG = 20;  // the server's voice files played last, for a look from a test

function sameLanguage(voiceLang, wanted) {
  return String(voiceLang || "").replace("_", "-").toLowerCase() === wanted.toLowerCase();
}

/* The voice for `lang`: an exact match, else one of the same language; null when the
 * browser lists no voices at all (let it pick by `lang`); NO_VOICE when it lists voices
 * but none speaks the language (better silence than Catalan read by an English voice). */
function pickVoice(synth, lang) {
  const voices = synth.getVoices() || [];
  if (voices.length === 0) return null;
  const base = lang.split("-")[0].toLowerCase();
  const exact = voices.find((voice) => sameLanguage(voice.lang, lang));
  if (exact) return exact;
  const near = voices.find(
    (voice) => String(voice.lang || "").toLowerCase().split(/[-_]/)[0] === base);
  return near || NO_VOICE;
}

function rememberedSound() {
  try {
    return window.localStorage.getItem(SOUND_KEY) === "on";
  } catch (error) {
    return false;
  }
}

/**
 * The sound of a screen speaking `lang` (a voice's language, e.g. "ca-ES"). `voice`: the
 * screen's setting, "auto" (the browser's voice for `lang` if it has one, else the
 * server's), "browser" or "server"; `voiceUrl(call)`: the address of the server's voice for
 * a call (null when it has none). `timings`: the page config's (speechTimeoutMs,
 * speechMsPerChar, autoplayCheckMs); `stats` counts chimes and the server's voice files
 * played; `quiet()` says whether no announcement is under way (so that priming the voice
 * cuts none off); `onTouchNeeded(small)` and `onUnlocked()` show and hide the request for a
 * touch.
 */
export function createSound({lang, voice: setting = "auto", voiceUrl = () => null, timings,
                             stats, quiet, onTouchNeeded, onUnlocked}) {
  let audio = null;
  let speaking = null;  // the utterance being said: held so that it is not collected early
  let playing = null;   // the same for the server's voice being played
  const played = [];    // {url, duration} of the server's voice files played last

  function soundOn() {
    return Boolean(audio) && audio.state === "running";
  }

  function stateChanged() {
    if (!soundOn()) return;
    onUnlocked();
    try {
      window.localStorage.setItem(SOUND_KEY, "on");
    } catch (error) { /* private mode */ }
    document.removeEventListener("pointerdown", unlock, true);
    document.removeEventListener("keydown", unlock, true);
  }

  function audioContext() {
    if (audio) return audio;
    audio = newAudioContext();
    if (audio) audio.addEventListener("statechange", stateChanged);
    return audio;
  }

  /** Ring a three-note "ding-dang-dong"; false when the audio is not running. */
  function chime() {
    const context = audioContext();
    if (!context || context.state !== "running") return false;
    const start = context.currentTime + 0.05;
    const master = context.createGain();
    master.gain.value = 0.5;
    master.connect(context.destination);
    for (const [frequency, offset] of [[783.99, 0], [659.25, 0.38], [523.25, 0.76]]) {
      for (const [harmonic, level] of [[1, 0.6], [2, 0.12], [3, 0.05]]) {
        const at = start + offset;
        const oscillator = context.createOscillator();
        const gain = context.createGain();
        oscillator.type = "sine";
        oscillator.frequency.value = frequency * harmonic;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(level, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 1.1);
        oscillator.connect(gain);
        gain.connect(master);
        oscillator.start(at);
        oscillator.stop(at + 1.15);
      }
    }
    stats.chimes += 1;
    return true;
  }

  /* Whether the browser has a voice of its own for `lang` (a null voice from pickVoice: it
   * lists none, and might read the text in whatever language it has). */
  function browserVoice() {
    const synth = window.speechSynthesis;
    if (!synth || typeof window.SpeechSynthesisUtterance !== "function") return NO_VOICE;
    return pickVoice(synth, lang);
  }

  function serverSpeaks() {
    if (setting === "server") return true;
    if (setting === "browser") return false;
    const found = browserVoice();
    return found === null || found === NO_VOICE;
  }

  /* The server's voice for `url`, fetched and decoded: {buffer, url} or {error}; never
   * rejects (a failure is the announcement's, when it comes to speak), and gives up after
   * the chime and a voice's timeout (a server that does not answer never stalls the queue). */
  function fetchVoice(url) {
    const context = audioContext();
    if (!context || typeof context.decodeAudioData !== "function") {
      return Promise.resolve({error: "no-web-audio"});
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timings.chimeMs + timings.speechTimeoutMs);
    return window.fetch(url, {credentials: "same-origin", signal: controller.signal})
      .then((response) => {
        if (!response.ok) throw new Error(`voice ${response.status}`);
        return response.arrayBuffer().then((bytes) => [response.url, bytes]);
      })
      .finally(() => clearTimeout(timer))
      .then(([fetched, bytes]) => context.decodeAudioData(bytes)
        .then((buffer) => ({buffer, url: fetched})))
      .catch((error) => ({error}));
  }

  /** Before the chime: fetch the server's voice for `call` when it is the one to speak,
   *  so that it is ready when the chime ends; null when the browser's voice speaks. */
  function prepare(call) {
    if (!serverSpeaks()) return null;
    const url = voiceUrl(call);
    return url ? fetchVoice(url) : Promise.resolve({error: "no-call"});
  }

  /* Play a decoded voice file through the page's audio; resolves when it ends, or after a
   * timeout if the audio clock stalls. */
  function play({buffer, url}) {
    const context = audioContext();
    if (!context || context.state !== "running") return Promise.resolve("no-audio");
    return new Promise((resolve) => {
      const source = context.createBufferSource();
      let timer = null;
      const finish = (how) => {
        clearTimeout(timer);
        playing = null;
        resolve(how);
      };
      source.buffer = buffer;
      source.connect(context.destination);
      source.addEventListener("ended", () => finish("end"), {once: true});
      timer = setTimeout(() => finish("timeout"),
                         buffer.duration * 1000 + timings.speechTimeoutMs);
      playing = source;
      source.start();
      stats.serverVoices += 1;
      played.push({url, duration: buffer.duration});
      if (played.length > PLAYED_LOG) played.shift();
    });
  }

  /** Say `text` (or play `prepared`, the server's voice for it); resolves when the voice
   *  ends, fails, or (a stuck engine) after a timeout. Never cancels: an utterance is never
   *  cut off. */
  function speak(text, prepared = null) {
    if (prepared) {
      return prepared.then((ready) => {
        if (ready.error) throw ready.error instanceof Error ? ready.error
          : new Error(String(ready.error));
        return play(ready);
      });
    }
    const synth = window.speechSynthesis;
    if (!synth || typeof window.SpeechSynthesisUtterance !== "function") {
      return Promise.resolve("no-speech");
    }
    const voice = pickVoice(synth, lang);
    if (voice === NO_VOICE) return Promise.resolve("no-voice");
    return new Promise((resolve) => {
      const utterance = new window.SpeechSynthesisUtterance(text);
      let timer = null;
      let done = false;
      const finish = (how) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        speaking = null;
        resolve(how);
      };
      utterance.lang = lang;
      if (voice) utterance.voice = voice;
      utterance.rate = 0.9;
      utterance.addEventListener("end", () => finish("end"));
      utterance.addEventListener("error", () => finish("error"));
      timer = setTimeout(() => finish("timeout"),
                         timings.speechTimeoutMs + timings.speechMsPerChar * text.length);
      speaking = utterance;
      if (synth.paused) synth.resume();
      synth.speak(utterance);
    });
  }

  /** Within a touch or a key press: start the audio and prime the voice. */
  function unlock() {
    const context = audioContext();
    if (context && context.state !== "running" && context.resume) {
      context.resume().then(stateChanged, () => {});
    }
    const synth = window.speechSynthesis;
    if (synth && typeof window.SpeechSynthesisUtterance === "function" && quiet()) {
      const silent = new window.SpeechSynthesisUtterance("");
      silent.volume = 0;
      synth.speak(silent);
    }
    stateChanged();
  }

  /** Ask for a touch only when the browser keeps the audio suspended. */
  function start() {
    document.addEventListener("pointerdown", unlock, true);
    document.addEventListener("keydown", unlock, true);
    if (window.speechSynthesis) window.speechSynthesis.getVoices();  // starts loading them
    const context = audioContext();
    if (!context) return;
    if (context.state !== "running" && context.resume) {
      context.resume().then(stateChanged, () => {});
    }
    setTimeout(() => {
      if (soundOn()) {
        stateChanged();
      } else {
        onTouchNeeded(rememberedSound());
      }
    }, timings.autoplayCheckMs);
  }

  return {chime, prepare, speak, unlock, start, get played() { return played.slice(); }};
}
