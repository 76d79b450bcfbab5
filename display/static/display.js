/* The waiting-room TV: live calls over Socket.IO, shown and announced (chime + voice).
 *
 * Runs for weeks unattended, so everything it keeps is bounded: the calls it remembers,
 * the announcements waiting their turn, the DOM (fixed slots filled in place), and its
 * timers (one clock, at most one per announcement step and one reconnect retry).
 *
 * Announcement policy (see README, "The TV display"):
 *  - the first snapshot after the page loads is shown, never announced;
 *  - a live `ticket_called` newer than anything seen is shown and announced (recalls too);
 *  - after a reconnect the snapshot shows every call missed meanwhile; those are announced
 *    (oldest first, at most CATCH_UP_MAX) only when the screen was away for at most
 *    CATCH_UP_MS, since older calls would be stale news;
 *  - anything at or below the last seq seen is already on screen and is dropped, so the
 *    `resync` replay that follows the connect snapshot never repeats an announcement.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("display-config").textContent);

  var KEEP_CALLS = 10;           // calls remembered (the server's snapshot holds 10)
  var MAX_PENDING = 8;           // announcements waiting; older ones give way in a flood
  var CHIME_MS = 1300;           // the chime rings this long before the voice starts
  var GAP_MS = 700;              // silence between two announcements
  var SPEECH_TIMEOUT_MS = 4000;  // plus SPEECH_MS_PER_CHAR: a voice that never says "end"
  var SPEECH_MS_PER_CHAR = 150;
  var CATCH_UP_MS = 60 * 1000;
  var CATCH_UP_MAX = 3;
  var REFUSED_RETRY_MS = 15 * 1000;
  var AUTOPLAY_CHECK_MS = 1000;
  var SOUND_KEY = "torn-display-sound";
  var NO_VOICE = {};

  var offices = {};
  config.offices.forEach(function (code) { offices[code] = true; });

  var state = {
    lastSeq: null,        // newest seq applied
    calls: [],            // newest first, one per ticket code, at most KEEP_CALLS
    waiting: {},
    occupancy: null,
    connected: false,
    offlineSince: null,   // Date.now() at the disconnect, until a snapshot catches up
    resumeFrom: null,     // lastSeq when the connection dropped: sent with `resync`
    freshConnection: true // the next snapshot is a connection's first: it is authoritative
  };
  var stats = {snapshots: 0, events: 0, dropped: 0, announced: 0, chimes: 0, connects: 0,
               resyncs: 0, failures: 0};

  function $(id) { return document.getElementById(id); }

  var el = {
    screen: $("screen"),
    offline: $("offline-mark"),
    retired: $("retired-mark"),
    time: $("clock-time"),
    date: $("clock-date"),
    current: $("current"),
    currentEmpty: $("current-empty"),
    currentCall: $("current-call"),
    currentCode: $("current-code"),
    currentDesk: $("current-desk"),
    currentRecall: $("current-recall"),
    historyRows: Array.prototype.map.call($("history").children, function (row) {
      return {row: row, code: row.querySelector(".history__code"),
              desk: row.querySelector(".history__desk")};
    }),
    waitingCounts: {},
    occupancy: $("occupancy"),
    inside: $("occupancy-inside"),
    limit: $("occupancy-limit"),
    fill: $("occupancy-fill"),
    occupancyState: $("occupancy-state"),
    unlock: $("sound-unlock"),
    unlockButton: $("sound-unlock-button"),
    soundHint: $("sound-hint")
  };
  Array.prototype.forEach.call(document.querySelectorAll("[data-office]"), function (node) {
    el.waitingCounts[node.getAttribute("data-office")] = node.querySelector(".waiting__count");
  });

  function setText(node, text) {
    text = String(text);
    if (node.textContent !== text) { node.textContent = text; }
  }

  // Calls ------------------------------------------------------------------------------

  /* A `ticket_called` payload or snapshot entry as the page keeps it: display-safe fields. */
  function normalise(call) {
    var ticket = call.ticket || {};
    return {
      seq: call.seq,
      code: String(call.code || ticket.code || ""),
      office: call.office || ticket.office || null,
      desk: String(call.desk || ticket.desk || ""),
      recall: Boolean(call.recall)
    };
  }

  function shown(call) { return !call.office || offices[call.office] === true; }

  function remember(call) {
    state.calls = state.calls.filter(function (known) { return known.code !== call.code; });
    state.calls.unshift(call);
    if (state.calls.length > KEEP_CALLS) { state.calls.length = KEEP_CALLS; }
  }

  var displayedSeq = null;

  /* Fill the fixed slots from state.calls; `animate` flags a call that just arrived. */
  function renderCalls(animate) {
    var current = state.calls[0];
    el.currentEmpty.hidden = Boolean(current);
    el.currentCall.hidden = !current;
    if (current) {
      setText(el.currentCode, current.code);
      setText(el.currentDesk, current.desk);
      el.currentRecall.hidden = !current.recall;
      if (animate && current.seq !== displayedSeq) { flash(); }
    }
    displayedSeq = current ? current.seq : null;
    el.historyRows.forEach(function (slot, index) {
      var call = state.calls[index + 1];
      slot.row.hidden = !call;
      if (call) {
        setText(slot.code, call.code);
        setText(slot.desk, call.desk);
      }
    });
  }

  /* Restart the "new call" animation on the same node: no node or listener is added. */
  function flash() {
    el.current.classList.remove("is-new");
    void el.current.offsetWidth;  // a reflow, so that the animation starts over
    el.current.classList.add("is-new");
  }

  // Counts -----------------------------------------------------------------------------

  function renderWaiting() {
    Object.keys(el.waitingCounts).forEach(function (code) {
      var count = state.waiting[code];
      setText(el.waitingCounts[code], typeof count === "number" ? count : "–");
    });
  }

  function occupancyLevel(occupancy) {
    if (occupancy.full || occupancy.inside >= occupancy.limit) { return "full"; }
    if (occupancy.inside >= config.nearFull * occupancy.limit) { return "near"; }
    return "ok";
  }

  function renderOccupancy() {
    var occupancy = state.occupancy;
    if (!occupancy) { return; }
    var level = occupancyLevel(occupancy);
    var share = occupancy.limit > 0 ? Math.min(1, occupancy.inside / occupancy.limit) : 1;
    setText(el.inside, occupancy.inside);
    setText(el.limit, occupancy.limit);
    el.occupancy.setAttribute("data-level", level);
    // A custom property through the CSSOM (allowed under a strict style CSP), not markup.
    el.fill.style.setProperty("--share", share.toFixed(3));
    setText(el.occupancyState, config.text.occupancy[level]);
  }

  // Announcements ----------------------------------------------------------------------

  /* What the screen says for a call, in a language of config.speech (see display/speech.py):
   * the letter by its name, the number without leading zeros, the desk as named. */
  function spokenText(call, language) {
    var speech = config.speech[language] || config.speech[config.language];
    var called = normalise(call);
    var parts = /^([A-Za-z]*)(\d+)$/.exec(called.code);
    var code = called.code;
    if (parts) {
      var words = parts[1].toUpperCase().split("").filter(Boolean).map(function (letter) {
        return speech.letters[letter] || letter;
      });
      words.push(String(parseInt(parts[2], 10)));
      code = words.join(" ");
    }
    var sentence = called.desk ? speech.withDesk : speech.withoutDesk;
    return sentence.replace("{code}", code).replace("{desk}", called.desk);
  }

  var pending = [];
  var busy = false;
  var log = [];  // the last announcements made, for a look from the console or a test

  function announce(call) {
    pending.push(normalise(call));
    if (pending.length > MAX_PENDING) { pending.splice(0, pending.length - MAX_PENDING); }
    pump();
  }

  /* One announcement at a time. Whatever goes wrong with one (a voice engine that throws,
   * an audio device that fails), the next one is still made: the screen must never fall
   * silent until someone reloads it. */
  function pump() {
    if (busy || pending.length === 0) { return; }
    busy = true;
    var call = pending.shift();
    var played;
    try {
      played = playOne(call);
    } catch (error) {
      played = Promise.reject(error);
    }
    played.catch(function (error) {
      stats.failures += 1;
      if (window.console) { window.console.warn("announcement failed:", error); }
    }).then(function () {
      busy = false;
      pump();
    });
  }

  function wait(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function playOne(call) {
    var language = config.language;
    var text = spokenText(call, language);
    stats.announced += 1;
    log.push({code: call.code, desk: call.desk, recall: call.recall, text: text});
    if (log.length > 20) { log.shift(); }
    var rang = false;
    try {
      rang = chime();
    } catch (error) {   // no chime this time; the voice still says the call
      stats.failures += 1;
    }
    return wait(rang ? CHIME_MS : 0)
      .then(function () { return speak(text, config.speech[language].voice); })
      .then(function () { return wait(GAP_MS); });
  }

  // Web Audio: a three-note "ding-dang-dong", generated, no sound file.
  var audio = null;

  function audioContext() {
    if (audio) { return audio; }
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return null; }
    try {
      audio = new Context();
    } catch (error) {
      return null;
    }
    audio.addEventListener("statechange", soundStateChanged);
    return audio;
  }

  function chime() {
    var context = audioContext();
    if (!context || context.state !== "running") { return false; }
    var start = context.currentTime + 0.05;
    var master = context.createGain();
    master.gain.value = 0.5;
    master.connect(context.destination);
    [[783.99, 0], [659.25, 0.38], [523.25, 0.76]].forEach(function (note) {
      [[1, 0.6], [2, 0.12], [3, 0.05]].forEach(function (harmonic) {
        var at = start + note[1];
        var oscillator = context.createOscillator();
        var gain = context.createGain();
        oscillator.type = "sine";
        oscillator.frequency.value = note[0] * harmonic[0];
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(harmonic[1], at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + 1.1);
        oscillator.connect(gain);
        gain.connect(master);
        oscillator.start(at);
        oscillator.stop(at + 1.15);
      });
    });
    stats.chimes += 1;
    return true;
  }

  function sameLanguage(voiceLang, wanted) {
    return String(voiceLang || "").replace("_", "-").toLowerCase() === wanted.toLowerCase();
  }

  /* The voice for `lang`: an exact match, else one of the same language; null when the
   * browser lists no voices at all (let it pick by `lang`); NO_VOICE when it lists voices
   * but none speaks the language (better silence than Catalan read by an English voice). */
  function pickVoice(synth, lang) {
    var voices = synth.getVoices() || [];
    if (voices.length === 0) { return null; }
    var base = lang.split("-")[0].toLowerCase();
    var exact = voices.filter(function (voice) { return sameLanguage(voice.lang, lang); });
    if (exact.length) { return exact[0]; }
    var near = voices.filter(function (voice) {
      return String(voice.lang || "").toLowerCase().split(/[-_]/)[0] === base;
    });
    return near.length ? near[0] : NO_VOICE;
  }

  var speaking = null;  // the utterance being said: held so that it is not collected early

  /* Say `text`; resolves when the voice ends, fails, or (a stuck engine) after a timeout.
   * Never cancels: an utterance is never cut off. */
  function speak(text, lang) {
    var synth = window.speechSynthesis;
    if (!synth || typeof window.SpeechSynthesisUtterance !== "function") {
      return Promise.resolve("no-speech");
    }
    var voice = pickVoice(synth, lang);
    if (voice === NO_VOICE) { return Promise.resolve("no-voice"); }
    return new Promise(function (resolve) {
      var utterance = new window.SpeechSynthesisUtterance(text);
      var timer = null;
      var done = false;
      function finish(how) {
        if (done) { return; }
        done = true;
        clearTimeout(timer);
        speaking = null;
        resolve(how);
      }
      utterance.lang = lang;
      if (voice) { utterance.voice = voice; }
      utterance.rate = 0.9;
      utterance.addEventListener("end", function () { finish("end"); });
      utterance.addEventListener("error", function () { finish("error"); });
      timer = setTimeout(function () { finish("timeout"); },
                         SPEECH_TIMEOUT_MS + SPEECH_MS_PER_CHAR * text.length);
      speaking = utterance;
      if (synth.paused) { synth.resume(); }
      synth.speak(utterance);
    });
  }

  // Unlocking sound on a kiosk TV (autoplay policies) ----------------------------------

  function rememberedSound() {
    try { return window.localStorage.getItem(SOUND_KEY) === "on"; } catch (error) { return false; }
  }

  function soundOn() {
    return Boolean(audio) && audio.state === "running";
  }

  function soundStateChanged() {
    if (soundOn()) {
      el.unlock.hidden = true;
      el.soundHint.hidden = true;
      try { window.localStorage.setItem(SOUND_KEY, "on"); } catch (error) { /* private mode */ }
      document.removeEventListener("pointerdown", unlockSound, true);
      document.removeEventListener("keydown", unlockSound, true);
    }
  }

  /* Within a touch or a key press: start the audio and prime the voice. */
  function unlockSound() {
    var context = audioContext();
    if (context && context.state !== "running" && context.resume) {
      context.resume().then(soundStateChanged, function () {});
    }
    var synth = window.speechSynthesis;
    if (synth && typeof window.SpeechSynthesisUtterance === "function" && !busy) {
      var silent = new window.SpeechSynthesisUtterance("");
      silent.volume = 0;
      synth.speak(silent);
    }
    soundStateChanged();
  }

  /* Ask for a touch only when the browser keeps the audio suspended: the big explanation
   * the first time, a small corner button once this screen has been unlocked before. */
  function checkAutoplay() {
    var context = audioContext();
    if (!context) { return; }
    if (context.state !== "running" && context.resume) {
      context.resume().then(soundStateChanged, function () {});
    }
    setTimeout(function () {
      if (soundOn()) { soundStateChanged(); return; }
      if (rememberedSound()) {
        el.soundHint.hidden = false;
      } else {
        el.unlock.hidden = false;
        el.unlockButton.focus();  // OK on the TV's remote presses it
      }
    }, AUTOPLAY_CHECK_MS);
  }

  document.addEventListener("pointerdown", unlockSound, true);
  document.addEventListener("keydown", unlockSound, true);

  // Socket.IO --------------------------------------------------------------------------

  function isNew(payload) {
    stats.events += 1;
    if (!payload || typeof payload.seq !== "number") { return false; }
    if (state.lastSeq !== null && payload.seq <= state.lastSeq) {
      stats.dropped += 1;   // already part of what is shown (e.g. a resync replay)
      return false;
    }
    state.lastSeq = payload.seq;
    return true;
  }

  function catchingUpTooLate() {
    return state.offlineSince !== null && Date.now() - state.offlineSince > CATCH_UP_MS;
  }

  function onSnapshot(snapshot) {
    stats.snapshots += 1;
    var previous = state.lastSeq;
    // A connection's first snapshot comes before any of its events, so it is never stale
    // (and if the journal went back, e.g. a restored database, it is the truth). A later
    // one, answering `resync`, is dropped when events newer than it were already applied.
    if (!state.freshConnection && previous !== null && snapshot.seq < previous) {
      stats.dropped += 1;
      return;
    }
    state.freshConnection = false;
    var calls = (snapshot.calls || []).map(normalise).filter(shown);
    var missed = previous === null ? [] : calls.filter(function (call) {
      return call.seq > previous;
    });
    var announceMissed = !catchingUpTooLate();
    state.lastSeq = snapshot.seq;
    state.calls = calls.slice(0, KEEP_CALLS);
    state.waiting = snapshot.waiting || {};
    state.occupancy = snapshot.occupancy || state.occupancy;
    state.offlineSince = null;
    renderCalls(previous !== null);
    renderWaiting();
    renderOccupancy();
    if (announceMissed) {
      missed.slice(0, CATCH_UP_MAX).reverse().forEach(announce);
    }
  }

  function onTicketCalled(payload) {
    if (!isNew(payload)) { return; }
    var call = normalise(payload);
    if (!shown(call)) { return; }
    remember(call);
    renderCalls(true);
    if (!catchingUpTooLate()) { announce(call); }
  }

  function onQueueChanged(payload) {
    if (!isNew(payload)) { return; }
    if (offices[payload.office] !== true) { return; }
    state.waiting[payload.office] = payload.waiting;
    renderWaiting();
  }

  function onOccupancyChanged(payload) {
    if (!isNew(payload)) { return; }
    state.occupancy = {inside: payload.inside, limit: payload.limit, full: payload.full};
    renderOccupancy();
  }

  function onDayStarted(payload) {
    if (!isNew(payload)) { return; }
    state.calls = [];
    pending.length = 0;
    Object.keys(state.waiting).forEach(function (code) { state.waiting[code] = 0; });
    renderCalls(false);
    renderWaiting();
  }

  function setOnline(online) {
    state.connected = online;
    el.offline.hidden = online;
    el.screen.classList.toggle("is-offline", !online);
  }

  var retryTimer = null;

  function retryLater() {
    if (retryTimer !== null) { return; }
    retryTimer = setTimeout(function () {
      retryTimer = null;
      if (!socket.connected && !socket.active) { socket.connect(); }
    }, REFUSED_RETRY_MS);
  }

  var socket = window.io({
    auth: {screen: config.key},
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000
  });

  socket.on("connect", function () {
    stats.connects += 1;
    setOnline(true);
    if (state.resumeFrom !== null) {
      stats.resyncs += 1;
      socket.emit("resync", {since: state.resumeFrom});
      state.resumeFrom = null;
    }
  });

  socket.on("disconnect", function (reason) {
    setOnline(false);
    state.freshConnection = true;
    if (state.offlineSince === null) { state.offlineSince = Date.now(); }
    if (state.resumeFrom === null) { state.resumeFrom = state.lastSeq; }
    if (reason === "io server disconnect") { retryLater(); }  // the server will not retry
  });

  // This screen's key was rotated: say so plainly instead of "reconnecting" for ever.
  function retire() {
    socket.disconnect();
    setOnline(false);
    el.offline.hidden = true;
    el.retired.hidden = false;
  }

  socket.on("connect_error", function (error) {
    if (error && error.message === "unauthorized") { retire(); return; }
    setOnline(false);
    if (!socket.active) { retryLater(); }  // refused for another reason: try again later
  });
  socket.on("display_retired", retire);

  socket.on("snapshot", onSnapshot);
  socket.on("ticket_called", onTicketCalled);
  socket.on("queue_changed", onQueueChanged);
  socket.on("occupancy_changed", onOccupancyChanged);
  socket.on("day_started", onDayStarted);
  // An administrator changed this screen (offices, language, message): its labels and
  // sentences are rendered by the server, so the page loads itself again.
  socket.on("display_changed", function (payload) {
    if (isNew(payload)) { window.location.reload(); }
  });

  // Clock ------------------------------------------------------------------------------

  function formatter(options) {
    try {
      return new Intl.DateTimeFormat(config.locale, Object.assign({timeZone: config.timezone},
                                                                   options));
    } catch (error) {  // an unknown time zone: the TV's own
      return new Intl.DateTimeFormat(config.locale, options);
    }
  }

  var timeFormat = formatter({hour: "2-digit", minute: "2-digit", hour12: false});
  var dateFormat = formatter({weekday: "long", day: "numeric", month: "long", year: "numeric"});

  function tick() {
    var now = new Date();
    var date = dateFormat.format(now);
    setText(el.time, timeFormat.format(now));
    setText(el.date, date.charAt(0).toUpperCase() + date.slice(1));
    setTimeout(tick, 1000 - now.getMilliseconds() + 5);
  }

  tick();
  renderCalls(false);
  checkAutoplay();
  if (window.speechSynthesis) { window.speechSynthesis.getVoices(); }  // starts loading them

  // For tests and the console: the page's own functions, nothing more.
  window.TornDisplay = {
    spokenText: spokenText,
    announce: announce,
    unlockSound: unlockSound,
    occupancyLevel: occupancyLevel,
    handle: {
      snapshot: onSnapshot,
      ticket_called: onTicketCalled,
      queue_changed: onQueueChanged,
      occupancy_changed: onOccupancyChanged,
      day_started: onDayStarted
    },
    get pending() { return pending.slice(); },
    get busy() { return busy; },
    get log() { return log.slice(); },
    get state() { return state; },
    stats: stats,
    socket: socket
  };
}());
