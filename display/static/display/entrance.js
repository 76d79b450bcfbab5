// The entrance screen (/display/<key> of a screen whose layout is "entrance"): the TV at the
// building's door. It keeps the building's state and the codes just let in from outside, and
// decides what to show and to announce; entrance-screen.js draws it, and the waiting room's
// modules do the rest: live-screen.js (what every layout does alike: the live connection,
// the pages' shared one, and the sound and announcements, with announcer.js and sound.js),
// speech.js (the words). The page config holds every text and timing.
//
// What it hears: the snapshot (the occupancy, with `outside` and `next_in`), every
// `occupancy_changed` (the same whole occupancy), and `ticket_admitted` ({seq, ticket:
// {code}}: a ticket let in from outside), which it shows at once and announces ("Torn lletra
// a, 12, podeu entrar"), in the screen's language and voice (the browser's, or the server's
// audio, fetched by the code: display/views.py, `admitted_voice`).
//
// Announcement policy, as the waiting room's for calls:
//  - the first snapshot after the page loads is shown, never announced;
//  - a live `ticket_admitted` is shown and announced;
//  - after a reconnection, codes let in meanwhile (in the snapshot's `next_in`, not in the
//    one shown before) are announced, oldest first, at most CATCH_UP_MAX, only when the
//    screen was away for at most `catchUpMs`; older ones are only shown.
//
// Runs for weeks unattended: the codes it keeps, the announcements waiting and the DOM are
// bounded, and it has one timer for the sign (see `admittedGoMs`) besides the clock's and
// the announcer's.

// Relative, so that it also resolves under a path prefix: /display/static/display/ -> /static/.
import {pageData} from "../../../static/pages.js";
import {createEntranceScreen, doorSign} from "./entrance-screen.js";
import {createLiveScreen} from "./live-screen.js";
import {admittedText} from "./speech.js";

const KEEP_CODES = 5;    // codes let in that are shown (the server's next_in holds 5)
const CATCH_UP_MAX = 3;  // codes let in during a short absence that are still announced

const config = pageData();

const state = {
  occupancy: null,     // {inside, limit, full, outside, next_in}: the server's, as last heard
  admitted: [],        // codes let in a moment ago (within admittedGoMs), newest first
  connected: false,
  offlineSince: null,  // Date.now() at the disconnection, until a snapshot catches up
};
let admittedTimer = null;

/** What the screen says for `code` let in, in a language of config.speech. */
function said(code, language = config.language) {
  return admittedText(code, live.speechIn(language));
}

/* The occupancy as the page keeps it: the contract's five fields, nothing else. */
function normalise(occupancy) {
  return {
    inside: occupancy.inside,
    limit: occupancy.limit,
    full: Boolean(occupancy.full),
    outside: typeof occupancy.outside === "number" ? occupancy.outside : 0,
    next_in: (occupancy.next_in || []).map(String).slice(0, KEEP_CODES),
  };
}

const screen = createEntranceScreen(config);
const live = createLiveScreen({
  config,
  state,
  screen,
  words: (item) => said(item.code),
  voiceUrl: (item) => `${config.admittedUrl}${encodeURIComponent(item.code)}/voice`,
});

function render(animate) {
  screen.show(state.occupancy, state.admitted, animate);
}

/* The go sign names the codes let in for admittedGoMs after the last of them (one timer). */
function letIn(codes) {
  state.admitted = [...codes, ...state.admitted.filter((code) => !codes.includes(code))]
    .slice(0, KEEP_CODES);
  clearTimeout(admittedTimer);
  admittedTimer = setTimeout(() => {
    admittedTimer = null;
    state.admitted = [];
    render(false);
  }, config.admittedGoMs);
}

function announce(code) {
  live.announce({code: String(code)});
}

// What the server says --------------------------------------------------------------------

function onSnapshot(snapshot, {previous = null} = {}) {
  const shown = state.occupancy ? state.occupancy.next_in : null;
  if (snapshot.occupancy) state.occupancy = normalise(snapshot.occupancy);
  const codes = state.occupancy ? state.occupancy.next_in : [];
  // Newest first, as next_in: the codes let in while away are those not shown before.
  const missed = previous === null || shown === null ? []
    : codes.filter((code) => !shown.includes(code));
  const announceMissed = live.caughtUp();
  if (announceMissed && missed.length > 0) {
    const told = missed.slice(0, CATCH_UP_MAX);
    letIn(told);
    render(true);
    told.reverse().forEach(announce);
  } else {
    render(false);
  }
}

function onTicketAdmitted(payload) {
  const code = String(((payload || {}).ticket || {}).code || "");
  if (!code) return;
  if (state.occupancy) {
    // The occupancy_changed that follows brings the server's list; until then, this one.
    const codes = state.occupancy.next_in.filter((known) => known !== code);
    state.occupancy.next_in = [code, ...codes].slice(0, KEEP_CODES);
  }
  letIn([code]);
  render(true);
  if (!live.catchingUpTooLate()) announce(code);
}

function onOccupancyChanged(payload) {
  state.occupancy = normalise(payload);
  render(false);
}

function onDayStarted() {
  clearTimeout(admittedTimer);
  admittedTimer = null;
  state.admitted = [];
  live.clearAnnouncements();
  if (state.occupancy) state.occupancy.next_in = [];
  render(false);
}

live.start({
  show: () => render(false),
  handlers: {
    snapshot: onSnapshot,
    ticket_admitted: onTicketAdmitted,
    occupancy_changed: onOccupancyChanged,
    day_started: onDayStarted,
  },
  // For tests and the console (window.TornDisplay), besides what every layout has.
  own: {
    layout: "entrance",
    spokenText: said,
    doorSign,
    announce,
    get sign() { return doorSign(state.occupancy, state.admitted); },
  },
});
