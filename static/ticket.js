// The citizen's own ticket page: its code, status, people ahead and estimated wait, live over
// the ticket's own connection (auth {"ticket": token}); "your turn" when it is called.
//
// A ticket issued while the building was full waits outside ("outside": true): the page says
// so, with the people waiting outside ahead of it and no place in the queue inside, until the
// ticket is let in (`ticket_admitted`, or a change whose ticket is no longer outside): then
// "you can come in now" above the usual waiting card.
//
// For a citizen who is not staring at the screen: when the ticket is let in from outside (once
// per ticket), when it comes near the front (at most `notify_ahead` people ahead, once per
// ticket) and when it is called (and at each recall), a notice in the page, a vibration, a
// short chime and, if the citizen allowed it, a system notification; a polite question asking
// for that permission, once per browser; and a toggle keeping the screen on while the ticket
// waits.
import {connectLive, element, fill, newAudioContext, pageData} from "./pages.js";

const data = pageData();
const {labels, text} = data;
const NEAR = data.notify_ahead ?? 3;  // "near the front": at most this many people ahead
const $ = (selector) => document.querySelector(selector);
const card = $("#state");
const ENDED = new Set(["done", "no_show", "cancelled", "expired"]);

let ticket = data.ticket;
let lastSeq = -1;
let movedTo = null;        // the office a transfer sent the ticket to, while this page was open

function estimateText(seconds) {
  if (seconds === null || seconds === undefined) return text.estimate_unknown;
  if (seconds < 60) return text.estimate_soon;
  return fill(text.estimate, {n: Math.round(seconds / 60)});
}

/** A desk's name in the page's language (a ticket names its desk by its Catalan name). */
function deskName(name) {
  return (data.desks && data.desks[name]) || name;
}

// Said aloud by screen readers: the card is drawn afresh on every change, so it is not a live
// region itself. A move in the queue (with the estimate then), a transfer, being served or
// the end is said politely, once; "your turn" (and each call again) at once. Nothing is said
// for the page's first drawing (the reader is reading the page then), nor when only the
// estimate changed.
const said = {polite: $("#said"), now: $("#said-now"), first: true};

function say(region, key, words) {
  if (region.dataset.key === key) return;
  region.dataset.key = key;
  if (!said.first) region.textContent = words;
}

function announce() {
  const desk = deskName(ticket.desk);
  if (ticket.status === "called") {
    const words = [text.your_turn, ticket.recalls ? text.recalled : "",
                   fill(text.called_body, {desk})].filter(Boolean).join(" ");
    say(said.now, `called/${ticket.recalls}/${desk}`, words);
    return;
  }
  let words = labels.status[ticket.status] || ticket.status;
  let key = `${ticket.status}/${ticket.office}/${desk}`;
  if (isOutside(ticket)) {
    words = [text.outside, outsideAheadText(ticket.outside_ahead)].filter(Boolean).join(". ");
    key += `/outside/${ticket.outside_ahead}`;
  } else if (ticket.status === "waiting") {
    const office = data.offices[ticket.office] || ticket.office;
    const ahead = ticket.position === 0 ? text.ahead_none
      : ticket.position === null ? ""
        : `${ticket.position} ${ticket.position === 1 ? text.ahead_one : text.ahead_many}`;
    words = [movedTo === ticket.office ? fill(text.moved, {office}) : "", ahead,
             estimateText(ticket.estimated_wait_s)].filter(Boolean).join(". ");
    key += `/${ticket.position}`;
  } else if (ticket.status === "serving") {
    words = fill(text.serving, {desk});
  } else if (text[ticket.status]) {
    words = `${words}. ${text[ticket.status]}`;
  }
  say(said.polite, key, words);
}

function render() {
  const office = data.offices[ticket.office] || ticket.office;
  const desk = deskName(ticket.desk);
  $("#office").textContent = office;
  $("#code").textContent = ticket.code;
  const status = element("span", "status", labels.status[ticket.status] || ticket.status);
  const parts = [status];
  card.className = "state-card";
  card.dataset.status = ticket.status;
  card.dataset.outside = String(isOutside(ticket));
  document.title = `${ticket.code} · ${labels.status[ticket.status]}`;
  if (isOutside(ticket)) {
    // Outside the building: no place in the queue inside, no estimate, until it is let in.
    card.classList.add("outside");
    status.textContent = text.outside;
    const ahead = ticket.outside_ahead;
    if (ahead) {
      const label = ahead === 1 ? text.outside_one : text.outside_many;
      parts.push(element("span", "ahead", String(ahead)), element("span", "ahead-label", label));
    } else {
      parts.push(element("span", "ahead-label", text.outside_none));
    }
    parts.push(element("span", "note", text.outside_note));
    document.title = `${ticket.code} · ${text.outside}`;
  } else if (ticket.status === "waiting") {
    if (ticket.position === 0) {
      parts.push(element("span", "ahead-label", text.ahead_none));
    } else if (ticket.position !== null) {
      parts.push(element("span", "ahead", String(ticket.position)),
                 element("span", "ahead-label",
                         ticket.position === 1 ? text.ahead_one : text.ahead_many));
    }
    parts.push(element("span", "estimate", estimateText(ticket.estimated_wait_s)));
    if (movedTo === ticket.office) parts.push(element("span", "note", fill(text.moved, {office})));
  } else if (ticket.status === "called") {
    card.classList.add("called");
    parts.splice(0, 1, element("span", "turn", text.your_turn));
    if (ticket.recalls) parts.push(element("span", "note", text.recalled));
    parts.push(element("span", null, text.go_to), element("span", "where", desk));
    document.title = fill(text.title_called, {desk});
  } else if (ticket.status === "serving") {
    card.classList.add("serving");
    parts.push(element("span", "note", fill(text.serving, {desk})));
  } else {
    card.classList.add("closed");
    parts.push(element("span", "note", text[ticket.status] || ""));
  }
  card.replaceChildren(...parts);
  document.body.classList.toggle("called", ticket.status === "called");
  announce();
  said.first = false;
  renderNotices();
  renderAsk();
  renderWake();
}

// What this browser remembers (storage may be missing, full or forbidden: then nothing is) --

function stored(storage, key) {
  try {
    return window[storage].getItem(key);
  } catch {
    return null;
  }
}

function store(storage, key, value) {
  try {
    if (value === null) window[storage].removeItem(key);
    else window[storage].setItem(key, value);
  } catch {
    // not remembered: at worst the page asks or tells once more
  }
}

/** The business day of a ticket (`issued_at` is in the town hall's time). */
function dayOf(which) {
  return (which.issued_at || "").slice(0, 10);
}

// Told once per ticket (code and day), whatever reloads and other tabs: near the front, let
// in from outside ----------------------------------------------------------------------------

/** A memory of the tickets told something, in localStorage under `key` as
 *  {"day": "2024-06-10", "codes": ["A003"]} (the day's tickets told), and in this page (storage
 *  may be unusable). */
function toldOnce(key) {
  const here = new Set();
  const inStorage = () => {
    try {
      const memory = JSON.parse(stored("localStorage", key));
      if (memory && memory.day === dayOf(ticket) && Array.isArray(memory.codes)) {
        return memory.codes;
      }
    } catch {
      // nothing readable: nothing told
    }
    return [];
  };
  const told = () =>
    here.has(`${dayOf(ticket)}/${ticket.code}`) || inStorage().includes(ticket.code);
  return {
    told,
    /** True the first time (then remembered). */
    first() {
      if (told()) return false;
      here.add(`${dayOf(ticket)}/${ticket.code}`);
      const codes = [...inStorage(), ticket.code];
      store("localStorage", key, JSON.stringify({day: dayOf(ticket), codes}));
      return true;
    },
  };
}

const near = toldOnce("torn.near");
const letIn = toldOnce("torn.admitted");

function isNear(which) {
  return which.status === "waiting" && !which.outside && typeof which.position === "number" &&
    which.position <= NEAR;
}

/** Waiting outside the building for room (contract v2: status "waiting", "outside": true). */
function isOutside(which) {
  return which.status === "waiting" && Boolean(which.outside);
}

/** Let in from outside and waiting inside now, as this browser was told. */
function admittedShown() {
  return ticket.status === "waiting" && !ticket.outside && letIn.told();
}

function outsideAheadText(ahead) {
  if (typeof ahead !== "number") return "";
  if (ahead === 0) return text.outside_none;
  return `${ahead} ${ahead === 1 ? text.outside_one : text.outside_many}`;
}

function nearText(position) {
  if (position === 0) return text.near_none;
  if (position === 1) return text.near_one;
  return fill(text.near_many, {n: position});
}

// The polite notices above the card: let in from outside, near the front, the screen could not
// be kept on --------------------------------------------------------------------------------

const notices = $("#notices");

function renderNotices() {
  const shown = [];
  // (pages.css's generic information box until the notice has a style of its own)
  if (admittedShown()) shown.push(["notice admitted", text.come_in]);
  if (isNear(ticket) && near.told()) {
    shown.push(["notice near", nearText(ticket.position)]);
  }
  if (wake.failed && wakeOffered()) shown.push(["notice wake-failed", text.wake_lock_failed]);
  const said = shown.map(([, words]) => words).join("\n");
  if (said === notices.dataset.said) return;  // unchanged: not announced again
  notices.dataset.said = said;
  notices.replaceChildren(...shown.map(([className, words]) => element("p", className, words)));
}

// Telling the citizen: vibration, a chime, a system notification --------------------------

function vibrate(pattern = [400, 150, 400, 150, 400]) {
  try {
    if (navigator.vibrate) navigator.vibrate(pattern);
  } catch {
    // no vibration here
  }
}

let audio = null;

/** The page's AudioContext (made once), or null where there is none. */
function audioContext() {
  if (!audio) audio = newAudioContext();
  return audio;
}

/** Browsers let a page make sounds after a gesture: the first touch or key unlocks them. */
function unlockAudio() {
  document.removeEventListener("pointerdown", unlockAudio, true);
  document.removeEventListener("keydown", unlockAudio, true);
  const context = audioContext();
  if (!context) return;
  try {
    if (context.state === "suspended") context.resume().catch(() => {});
    const silence = context.createBufferSource();  // what iOS wants to hear inside the gesture
    silence.buffer = context.createBuffer(1, 1, 22050);
    silence.connect(context.destination);
    silence.start(0);
  } catch {
    // no sound on this device
  }
}

document.addEventListener("pointerdown", unlockAudio, true);
document.addEventListener("keydown", unlockAudio, true);

/** A short generated chime (no audio file), one note per frequency; silent where audio is
 *  missing or still locked. */
function chime(frequencies) {
  const context = audioContext();
  if (!context) return;
  try {
    if (context.state === "suspended") context.resume().catch(() => {});
    const start = context.currentTime + 0.05;
    frequencies.forEach((frequency, index) => {
      const at = start + index * 0.22;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.setValueAtTime(frequency, at);
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.45);
      oscillator.connect(gain);
      gain.connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.5);
    });
  } catch {
    // no sound: the notice and the vibration remain
  }
}

/** A system notification, if the citizen allowed them; one per ticket and stage (`tag`): a
 *  recall replaces the call's, and alerts again. */
function notify(stage, title, body) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  const options = {body, tag: `torn-${ticket.code}-${dayOf(ticket)}-${stage}`,
                   renotify: stage === "called", lang: document.documentElement.lang};
  try {
    new Notification(title, options);
  } catch {
    // Android's Chrome only shows them through a service worker, when there is one
    if (navigator.serviceWorker) {
      navigator.serviceWorker.getRegistration()
        .then((registration) => registration && registration.showNotification(title, options))
        .catch(() => {});
    }
  }
}

function tellNear() {
  vibrate([200, 100, 200]);
  chime([660, 880]);
  notify("near", fill(text.near_title, {code: ticket.code}), nearText(ticket.position));
}

function tellAdmitted() {
  vibrate();
  chime([523, 659, 784, 1047]);
  notify("admitted", fill(text.come_in_title, {code: ticket.code}), text.come_in_body);
}

function tellCalled() {
  vibrate();
  chime([880, 660, 880]);
  const title = ticket.recalls ? text.recalled_title : text.called_title;
  notify("called", fill(title, {code: ticket.code}),
         fill(text.called_body, {desk: deskName(ticket.desk)}));
}

// Asking, once per browser, whether system notifications may be shown ----------------------

const ASK_KEY = "torn.notify.asked";  // the answer: granted, denied, default or dismissed
const ask = $("#ask-notify");

function askOffered() {
  return "Notification" in window && Notification.permission === "default" &&
    ticket.status === "waiting" && !stored("localStorage", ASK_KEY);
}

function renderAsk() {
  ask.hidden = !askOffered();
  $("#ask-notify-text").textContent = isOutside(ticket) ? text.ask_notify_outside : text.ask_notify;
}

function answered(answer) {
  store("localStorage", ASK_KEY, answer);
  const hadFocus = ask.contains(document.activeElement);
  renderAsk();
  if (hadFocus && !wakeButton.hidden) wakeButton.focus();  // focus stays within reach
}

$("#notify-yes").textContent = text.notify_yes;
$("#notify-no").textContent = text.notify_no;
$("#notify-yes").addEventListener("click", () => {
  let asking;
  try {
    asking = Notification.requestPermission();  // inside the press, as browsers require
  } catch {
    asking = null;
  }
  answered("asked");  // asked once, whatever the browser's prompt then does
  Promise.resolve(asking)
    .then((permission) => { if (permission) store("localStorage", ASK_KEY, permission); })
    .catch(() => {});
});
$("#notify-no").addEventListener("click", () => answered("dismissed"));

// Keeping the screen on while the ticket waits (Screen Wake Lock) --------------------------

const wakeButton = $("#wake");
const WAKE_KEY = `torn.wake.${ticket.code}.${dayOf(ticket)}`;  // per tab (sessionStorage)
const wake = {
  wanted: stored("sessionStorage", WAKE_KEY) === "1",
  lock: null,
  asking: false,
  failed: false,
};

function wakeOffered() {
  return "wakeLock" in navigator && (ticket.status === "waiting" || ticket.status === "called");
}

function renderWake() {
  wakeButton.hidden = !wakeOffered();
  wakeButton.setAttribute("aria-pressed", String(wake.wanted));
  if (ENDED.has(ticket.status) && wake.wanted) setWake(false);
  if (wakeOffered() && wake.wanted) acquireWake();
  else releaseWake();
}

async function acquireWake() {
  if (wake.lock || wake.asking || document.visibilityState !== "visible") return;
  wake.asking = true;
  try {
    const lock = await navigator.wakeLock.request("screen");
    wake.asking = false;
    if (!wake.wanted || !wakeOffered()) {
      lock.release().catch(() => {});
      return;
    }
    wake.lock = lock;
    wake.failed = false;
    // The browser lets it go when the page is hidden; it is taken again when it is back.
    lock.addEventListener("release", () => { if (wake.lock === lock) wake.lock = null; });
  } catch {
    wake.asking = false;
    wake.failed = true;
    setWake(false);
  }
  renderNotices();
}

function releaseWake() {
  const lock = wake.lock;
  wake.lock = null;
  if (lock) lock.release().catch(() => {});
}

function setWake(wanted) {
  wake.wanted = wanted;
  store("sessionStorage", WAKE_KEY, wanted ? "1" : null);
  wakeButton.setAttribute("aria-pressed", String(wanted));
}

wakeButton.textContent = text.wake_lock;
wakeButton.addEventListener("click", () => {
  wake.failed = false;
  setWake(!wake.wanted);
  renderWake();
  renderNotices();
});
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") renderWake();
});

/** Take a newer state of the ticket (events of one connection arrive in order; a snapshot
 *  after a reconnection is newer than anything before it). `admitted`: the server says the
 *  ticket was just let in from outside (`ticket_admitted`); a change from outside to inside
 *  says it too (the `ticket_changed` before it, a snapshot after a gap). */
function apply(fresh, seq, admitted = false) {
  if (seq < lastSeq) return;
  lastSeq = seq;
  const before = ticket;
  ticket = fresh;
  if (before.office !== fresh.office) movedTo = fresh.office;
  const calledNow = fresh.status === "called" &&
    (before.status !== "called" || before.recalls !== fresh.recalls || before.desk !== fresh.desk);
  const admittedNow = (admitted || isOutside(before)) && fresh.status === "waiting" &&
    !fresh.outside && letIn.first();
  const nearNow = isNear(fresh) && near.first();
  render();
  if (calledNow) tellCalled();
  else if (admittedNow) tellAdmitted();  // coming in matters first; the near notice shows too
  else if (nearNow) tellNear();
}

connectLive({ticket: data.token}, {
  snapshot(state) { apply(state.ticket, state.seq); },
  ticket_changed(event) { apply(event.ticket, event.seq); },
  ticket_admitted(event) { apply(event.ticket, event.seq, true); },
}, (online) => {
  $("#live-note").textContent = online ? text.live : text.offline;
  document.body.classList.toggle("offline", !online);
});

// Already near when the page opens: the citizen is looking at it, the notice is enough.
if (isNear(ticket)) near.first();
render();

// Android's Chrome shows notifications only through a service worker (notify() falls back to
// it); registering one costs nothing elsewhere.
if (navigator.serviceWorker && data.service_worker) {
  navigator.serviceWorker.register(data.service_worker, {scope: "/t/"}).catch(() => {});
}
