// The waiting-room TV (/display/<key>): live calls over Socket.IO, shown and announced.
// This module keeps the screen's state and decides what to show and to announce; the
// other modules do it: screen.js (the picture), live-screen.js (what every layout does
// alike: the live connection, the pages' shared one, and the sound and announcements, with
// announcer.js and sound.js), speech.js (the words). The page config holds every text and
// timing.
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
import {pageData} from "../../../static/pages.js";
import {createLiveScreen} from "./live-screen.js";
import {createScreen, occupancyLevel} from "./screen.js";
import {spokenText} from "./speech.js";

const KEEP_CALLS = 10;   // calls remembered (the server's snapshot holds 10)
const CATCH_UP_MAX = 3;  // calls missed during a short absence that are still announced

const config = pageData();
const offices = new Set(config.offices);

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

/** What the screen says for a call in a language of config.speech. */
function said(call, language) {
  const called = normalise(call);
  const desk = called.deskNames[language] || called.desk;
  return spokenText(called.code, desk, live.speechIn(language));
}

const screen = createScreen(config);
const live = createLiveScreen({
  config,
  state,
  screen,
  words: (call) => said(call, config.language),
  voiceUrl: (call) => (call.seq ? `${config.callsUrl}${call.seq}/voice` : null),
});

function announce(call) {
  live.announce(normalise(call));
}

// What the server says --------------------------------------------------------------------

function onSnapshot(snapshot, {previous = null} = {}) {
  state.desks = snapshot.desks || state.desks;
  const calls = (snapshot.calls || []).map(normalise).filter(shown);
  const missed = previous === null ? [] : calls.filter((call) => call.seq > previous);
  const announceMissed = live.caughtUp();
  state.calls = calls.slice(0, KEEP_CALLS);
  state.waiting = snapshot.waiting || {};
  state.occupancy = snapshot.occupancy || state.occupancy;
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
  if (!live.catchingUpTooLate()) announce(call);
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
  live.clearAnnouncements();
  for (const code of Object.keys(state.waiting)) state.waiting[code] = 0;
  screen.showCalls(state.calls, false);
  screen.showWaiting(state.waiting);
}

live.start({
  show: () => screen.showCalls(state.calls, false),
  handlers: {
    snapshot: onSnapshot,
    ticket_called: onTicketCalled,
    queue_changed: onQueueChanged,
    occupancy_changed: onOccupancyChanged,
    day_started: onDayStarted,
  },
  // For tests and the console (window.TornDisplay), besides what every layout has.
  own: {
    spokenText: said,
    announce,
    occupancyLevel: (occupancy) => occupancyLevel(occupancy, config.nearFull),
  },
});
