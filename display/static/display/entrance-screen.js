// What the entrance screen shows (a display with `layout: entrance`, at the building's door,
// read from the street): the go/wait sign, people in the building against the limit, people
// waiting outside, and the codes let in from outside, newest first. The top bar and the
// building's panel are the waiting room's (screen.js). As there, every slot is in the page's
// HTML and filled in place: no node or listener is ever added.

import {createOccupancyPanel, createTopBar, flash, isFull, setText} from "./screen.js";

const $ = (id) => document.getElementById(id);
const SIGN_CODES = 3;  // codes let in that the go sign names (the newest)

/**
 * The door's sign for an `occupancy` ({inside, limit, full, outside, next_in}, null before
 * the first snapshot) and the codes `admitted` from outside a moment ago (those the page
 * heard of live within the config's `admittedGoMs`):
 *  - "go" while `admitted` is not empty: those people come in now, even when their parties
 *    filled the building again (the sign names their codes);
 *  - else "go" when there is room (inside below the limit) and nobody waits outside: anyone
 *    may come in;
 *  - else "wait": the building is full, or people wait outside for room (they go first, in
 *    their order, also when there is room for a smaller party than the first one's);
 *  - "unknown" before the first snapshot: no sign at all rather than a guess.
 */
export function doorSign(occupancy, admitted) {
  if (!occupancy) return "unknown";
  if (admitted.length > 0) return "go";
  if (!isFull(occupancy) && !occupancy.outside) return "go";
  return "wait";
}

/** The entrance screen of the page config `config`. */
export function createEntranceScreen(config) {
  const el = {
    sign: $("door-sign"),
    go: $("door-go"),
    wait: $("door-wait"),
    goOpen: $("door-go-open"),
    goCodes: $("door-go-codes"),
    outside: $("outside-count"),
    nextInList: $("next-in"),
    nextIn: Array.from($("next-in").children),
    nextInEmpty: $("next-in-empty"),
  };
  const topBar = createTopBar(config);
  const showOccupancy = createOccupancyPanel(config);
  let newest = null;  // the code first in the list, to mark a new one as it arrives

  /** The sign for `occupancy` and the codes `admitted` a moment ago (doorSign). */
  function showSign(occupancy, admitted) {
    const state = doorSign(occupancy, admitted);
    el.sign.setAttribute("data-state", state);
    el.go.hidden = state !== "go";
    el.wait.hidden = state !== "wait";
    el.goOpen.hidden = admitted.length > 0;
    el.goCodes.hidden = admitted.length === 0;
    // At most three on the sign (the list below has them all), an em space apart.
    setText(el.goCodes, admitted.slice(0, SIGN_CODES).join("\u2003"));
    return state;
  }

  /** People waiting outside (a dash until known). */
  function showOutside(occupancy) {
    setText(el.outside, occupancy && typeof occupancy.outside === "number"
      ? occupancy.outside : "–");
  }

  /** The codes let in from outside, newest first, the newest highlighted; `animate` marks
   *  a newest code that just arrived. */
  function showNextIn(codes, animate) {
    el.nextInEmpty.hidden = codes.length > 0;
    el.nextInList.hidden = codes.length === 0;
    el.nextIn.forEach((slot, index) => {
      const code = codes[index];
      slot.hidden = !code;
      if (code) setText(slot, code);
    });
    if (animate && codes[0] && codes[0] !== newest) flash(el.nextIn[0]);
    newest = codes[0] || null;
  }

  /** Everything that follows from the building's state and the codes just admitted. */
  function show(occupancy, admitted, animate) {
    const state = showSign(occupancy, admitted);
    if (occupancy) showOccupancy(occupancy);
    showOutside(occupancy);
    showNextIn(occupancy ? occupancy.next_in || [] : [], animate);
    return state;
  }

  return {show, ...topBar};
}
