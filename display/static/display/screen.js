// What the TV shows: the current call, the last calls, people waiting in each office, people
// in the building, the clock, and the marks for an absent server, a retired key and sound
// that needs a touch. The page's HTML has a fixed slot for each of them, filled in place:
// no node or listener is ever added, so the DOM stays the same size for weeks. The top bar
// (clock and marks) and the building's panel are every layout's (entrance-screen.js uses
// them too).

const $ = (id) => document.getElementById(id);

/** Set a node's text, leaving the DOM alone when it is already that. */
export function setText(node, value) {
  const text = String(value);
  if (node.textContent !== text) node.textContent = text;
}

/** Restart the "new" animation (the class `is-new`) on the same node. */
export function flash(node) {
  node.classList.remove("is-new");
  void node.offsetWidth;  // a reflow, so that the animation starts over
  node.classList.add("is-new");
}

/** Whether an occupancy is full: so marked, or as many inside as the limit (or more). */
export function isFull(occupancy) {
  return Boolean(occupancy.full) || occupancy.inside >= occupancy.limit;
}

/** "ok", "near" (from `nearFull` of the limit) or "full", for an occupancy. */
export function occupancyLevel(occupancy, nearFull) {
  if (isFull(occupancy)) return "full";
  if (occupancy.inside >= nearFull * occupancy.limit) return "near";
  return "ok";
}

/** The top bar of the page config `config` (its locale and time zone): the clock, and the
 *  marks for an absent server, a retired key and sound that needs a touch. */
export function createTopBar(config) {
  const el = {
    screen: $("screen"),
    offline: $("offline-mark"),
    retired: $("retired-mark"),
    time: $("clock-time"),
    date: $("clock-date"),
    unlock: $("sound-unlock"),
    unlockButton: $("sound-unlock-button"),
  };

  /** The "Reconnecting…" mark while the server is away. */
  function showOnline(online) {
    el.offline.hidden = online;
    el.screen.classList.toggle("is-offline", !online);
  }

  /** This screen's key was replaced: say so plainly instead of "reconnecting" for ever. */
  function showRetired() {
    showOnline(false);
    el.offline.hidden = true;
    el.retired.hidden = false;
  }

  /** Ask for a touch to turn the sound on, in the banner beside the clock (it hides
   *  nothing): with its explanation the first time, the button alone (`small`) once this
   *  screen has been unlocked before. */
  function askForTouch(small) {
    el.unlock.classList.toggle("sound-banner--small", small);
    el.unlock.hidden = false;
    if (!small) el.unlockButton.focus();  // OK on the TV's remote presses it
  }

  /** The sound is on: no more asking. */
  function soundUnlocked() {
    el.unlock.hidden = true;
  }

  function formatter(options) {
    try {
      return new Intl.DateTimeFormat(config.locale, {timeZone: config.timezone, ...options});
    } catch (error) {  // an unknown time zone: the TV's own
      return new Intl.DateTimeFormat(config.locale, options);
    }
  }

  const timeFormat = formatter({hour: "2-digit", minute: "2-digit", hour12: false});
  const dateFormat = formatter({weekday: "long", day: "numeric", month: "long", year: "numeric"});

  /** The time and date in the town hall's time zone, updated on each second (one timer). */
  function startClock() {
    const now = new Date();
    const date = dateFormat.format(now);
    setText(el.time, timeFormat.format(now));
    setText(el.date, date.charAt(0).toUpperCase() + date.slice(1));
    setTimeout(startClock, 1000 - now.getMilliseconds() + 5);
  }

  return {showOnline, showRetired, askForTouch, soundUnlocked, startClock};
}

/** The building's panel (people inside against the limit) of the page config `config` (its
 *  texts and nearFull): green, amber near the limit, red when full. */
export function createOccupancyPanel(config) {
  const el = {
    occupancy: $("occupancy"),
    inside: $("occupancy-inside"),
    limit: $("occupancy-limit"),
    fill: $("occupancy-fill"),
    occupancyState: $("occupancy-state"),
  };

  /** People in the building against the limit: green, amber near it, red when full. */
  return function showOccupancy(occupancy) {
    if (!occupancy) return;
    const level = occupancyLevel(occupancy, config.nearFull);
    const share = occupancy.limit > 0 ? Math.min(1, occupancy.inside / occupancy.limit) : 1;
    setText(el.inside, occupancy.inside);
    setText(el.limit, occupancy.limit);
    el.occupancy.setAttribute("data-level", level);
    // A custom property through the CSSOM (allowed under a strict style CSP), not markup.
    el.fill.style.setProperty("--share", share.toFixed(3));
    setText(el.occupancyState, config.text.occupancy[level]);
  };
}

/** The screen of the page config `config` (its texts, locale, time zone, nearFull). */
export function createScreen(config) {
  const el = {
    current: $("current"),
    currentEmpty: $("current-empty"),
    currentCall: $("current-call"),
    currentCode: $("current-code"),
    currentDesk: $("current-desk"),
    currentRecall: $("current-recall"),
    historyRows: Array.from($("history").children, (row) => ({
      row, code: row.querySelector(".history__code"), desk: row.querySelector(".history__desk"),
    })),
    waitingCounts: {},
  };
  for (const node of document.querySelectorAll("[data-office]")) {
    el.waitingCounts[node.getAttribute("data-office")] = node.querySelector(".waiting__count");
  }
  const topBar = createTopBar(config);
  const showOccupancy = createOccupancyPanel(config);
  let shownSeq = null;  // the seq of the call in the big panel

  /** The calls, newest first: the first in the big panel, the next ones in the history;
   *  `animate` flags a call that just arrived (the panel blinks). */
  function showCalls(calls, animate) {
    const current = calls[0];
    el.currentEmpty.hidden = Boolean(current);
    el.currentCall.hidden = !current;
    if (current) {
      setText(el.currentCode, current.code);
      setText(el.currentDesk, current.desk);
      el.currentRecall.hidden = !current.recall;
      if (animate && current.seq !== shownSeq) flash(el.current);  // the panel blinks
    }
    shownSeq = current ? current.seq : null;
    el.historyRows.forEach((slot, index) => {
      const call = calls[index + 1];
      slot.row.hidden = !call;
      if (call) {
        setText(slot.code, call.code);
        setText(slot.desk, call.desk);
      }
    });
  }

  /** People waiting, `{office: n}`; an office without a count shows a dash. */
  function showWaiting(waiting) {
    for (const [code, node] of Object.entries(el.waitingCounts)) {
      const count = waiting[code];
      setText(node, typeof count === "number" ? count : "–");
    }
  }

  return {showCalls, showWaiting, showOccupancy, ...topBar};
}
