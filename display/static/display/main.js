// The waiting-room TV (/display/<key>): live calls over Socket.IO, shown and announced.
// This module keeps the screen's state and decides what to show and to announce; the
// other modules do it: screen.js (the picture), announcer.js (one announcement at a time),
// sound.js (chime, voice, unlocking sound), speech.js (the words); the live connection is
// the pages' shared one (/static/pages.js). The page config holds every text and timing.
//
// Desks are shown and said by their names in the screen's language: a call carries the
// desk's Catalan name (and, when the server adds them, `desk_names`); each snapshot brings
// every desk's names (`desks`, by Catalan name) to look the others up.
//
// Runs for weeks unattended, so everything it keeps is bounded: the calls it remembers,
// the announcements waiting their turn, the DOM (fixed slots filled in place), and its
// timers (one clock, at most one per announcement step and one reconnect retry).
//
// Announcement policy (README, "The TV display"):
//  - the first snapshot after the page loads is shown, never announced;
//  - a live `ticket_called` newer than anything seen is shown and announced (recalls too);
//  - after a reconnection the snapshot shows every call missed meanwhile; those are
//    announced (oldest first, at most CATCH_UP_MAX) only when the screen was away for at
//    most `catchUpMs`, since older calls would be stale news;
//  - anything at or below the last seq seen is already on screen and is dropped (by
//    connectLive), so the `resync` replay after the connect snapshot never repeats a call.

// Relative, so that it also resolves under a path prefix: /display/static/display/ -> /static/.
import {connectLive, pageData} from "../../../static/pages.js";
import {createAnnouncer} from "./announcer.js";
import {createScreen, occupancyLevel} from "./screen.js";
import {createSound} from "./sound.js";
import {spokenText} from "./speech.js";

const KEEP_CALLS = 10;   // calls remembered (the server's snapshot holds 10)
const CATCH_UP_MAX = 3;  // calls missed during a short absence that are still announced

const config = pageData();
const {timings} = config;
const offices = new Set(config.offices);

const stats = {snapshots: 0, events: 0, dropped: 0, announced: 0, chimes: 0, connects: 0,
               resyncs: 0, failures: 0, serverVoices: 0};
const state = {
  calls: [],           // newest first, one per ticket code, at most KEEP_CALLS
  desks: {},           // a desk's Catalan name -> its names per language (the last snapshot's)
  waiting: {},
  occupancy: null,
  connected: false,
  offlineSince: null,  // Date.now() at the disconnection, until a snapshot catches up
};

/* A `ticket_called` payload or snapshot entry as the page keeps it: display-safe fields,
 * the desk by its name in the screen's language (`deskNames`: in every language known). */
function normalise(call) {
  const ticket = call.ticket || {};
  const named = String(call.desk || ticket.desk || "");
  const deskNames = call.deskNames || call.desk_names || state.desks[named] || {};
  return {
    seq: call.seq,
    code: String(call.code || ticket.code || ""),
    office: call.office || ticket.office || null,
    desk: call.deskNames ? named : String(deskNames[config.language] || named),
    deskNames,
    recall: Boolean(call.recall),
  };
}

function shown(call) {
  return !call.office || offices.has(call.office);
}

function remember(call) {
  state.calls = state.calls.filter((known) => known.code !== call.code);
  state.calls.unshift(call);
  if (state.calls.length > KEEP_CALLS) state.calls.length = KEEP_CALLS;
}

function catchingUpTooLate() {
  return state.offlineSince !== null && Date.now() - state.offlineSince > timings.catchUpMs;
}

function speechIn(language) {
  return config.speech[language] || config.speech[config.language];
}

/** What the screen says for a call in a language of config.speech. */
function said(call, language) {
  const called = normalise(call);
  const desk = called.deskNames[language] || called.desk;
  return spokenText(called.code, desk, speechIn(language));
}

const screen = createScreen(config);
const sound = createSound({
  lang: speechIn(config.language).voice,
  voice: config.voice,
  voiceUrl: (call) => (call.seq ? `${config.callsUrl}${call.seq}/voice` : null),
  timings,
  stats,
  quiet: () => !announcer.busy,
  onTouchNeeded: screen.askForTouch,
  onUnlocked: screen.soundUnlocked,
});
const announcer = createAnnouncer({
  words: (call) => said(call, config.language),
  prepare: sound.prepare,
  chime: sound.chime,
  speak: sound.speak,
  timings,
  stats,
});

function announce(call) {
  announcer.announce(normalise(call));
}

// What the server says --------------------------------------------------------------------

function onSnapshot(snapshot, {previous = null} = {}) {
  state.desks = snapshot.desks || state.desks;
  const calls = (snapshot.calls || []).map(normalise).filter(shown);
  const missed = previous === null ? [] : calls.filter((call) => call.seq > previous);
  const announceMissed = !catchingUpTooLate();
  state.calls = calls.slice(0, KEEP_CALLS);
  state.waiting = snapshot.waiting || {};
  state.occupancy = snapshot.occupancy || state.occupancy;
  state.offlineSince = null;
  screen.showCalls(state.calls, previous !== null);
  screen.showWaiting(state.waiting);
  screen.showOccupancy(state.occupancy);
  if (announceMissed) missed.slice(0, CATCH_UP_MAX).reverse().forEach(announce);
}

function onTicketCalled(payload) {
  const call = normalise(payload);
  if (!shown(call)) return;
  remember(call);
  screen.showCalls(state.calls, true);
  if (!catchingUpTooLate()) announce(call);
}

function onQueueChanged(payload) {
  if (!offices.has(payload.office)) return;
  state.waiting[payload.office] = payload.waiting;
  screen.showWaiting(state.waiting);
}

function onOccupancyChanged(payload) {
  state.occupancy = {inside: payload.inside, limit: payload.limit, full: payload.full};
  screen.showOccupancy(state.occupancy);
}

function onDayStarted() {
  state.calls = [];
  announcer.clear();
  for (const code of Object.keys(state.waiting)) state.waiting[code] = 0;
  screen.showCalls(state.calls, false);
  screen.showWaiting(state.waiting);
}

function onStatus(online) {
  state.connected = online;
  screen.showOnline(online);
  if (!online && state.offlineSince === null) state.offlineSince = Date.now();
}

// This screen's key was replaced (refused, or told so while connected): stop and say so.
function retire() {
  socket.disconnect();
  screen.showRetired();
}

screen.startClock();
screen.showCalls(state.calls, false);
sound.start();

const socket = connectLive({screen: config.key}, {
  snapshot: onSnapshot,
  ticket_called: onTicketCalled,
  queue_changed: onQueueChanged,
  occupancy_changed: onOccupancyChanged,
  day_started: onDayStarted,
  // An administrator changed this screen (offices, language, message): its labels and
  // sentences are rendered by the server, so the page loads itself again.
  display_changed: () => window.location.reload(),
  display_retired: retire,
}, onStatus, {
  socket: {reconnectionDelay: timings.reconnectMs, reconnectionDelayMax: timings.reconnectMaxMs},
  resync: true,
  retryMs: timings.retryMs,
  onRefused: retire,
  stats,
});

// For tests and the console: the page's own functions, nothing more.
window.TornDisplay = {
  spokenText: said,
  announce,
  unlockSound: sound.unlock,
  occupancyLevel: (occupancy) => occupancyLevel(occupancy, config.nearFull),
  handle: {
    snapshot: onSnapshot,
    ticket_called: onTicketCalled,
    queue_changed: onQueueChanged,
    occupancy_changed: onOccupancyChanged,
    day_started: onDayStarted,
  },
  get pending() { return announcer.pending; },
  get busy() { return announcer.busy; },
  get log() { return announcer.log; },
  get voices() { return sound.played; },
  get state() { return state; },
  timings,
  stats,
  socket,
};
