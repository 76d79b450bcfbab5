// The door: +1 entry and −1 exit (buttons and keys), the count against the limit, the queue
// waiting outside and the codes let in from it. Changes go through /api/v1; the live
// connection keeps the counts and the queue current (no polling).
import {api, connectLive, element, fill, liveIndicator, pageData, typingInto,
        STAFF_LIVE} from "./pages.js";

const {text} = pageData();
const $ = (selector) => document.querySelector(selector);

const entry = $("#entry");
const exit = $("#exit");
const queue = $("#outside-queue");

let outside = new Map();    // id -> ticket waiting outside
// Live events arrive in order; an API answer may arrive after a newer event, and must not
// undo it: events are counted, and each ticket remembers the count at its last event.
let ticketEvents = 0;
const touched = new Map();  // id -> ticketEvents at its last live event
let occupancyEvents = 0;

// The count and the sign ------------------------------------------------------------------

function showOccupancy(state) {
  const full = state.inside >= state.limit;
  $("#inside").textContent = state.inside;
  $("#limit").textContent = state.limit;
  const sign = $("#sign");
  sign.dataset.state = full ? "full" : "room";
  sign.querySelector(".sign-icon").textContent = full ? "✕" : "✓";
  $("#sign-title").textContent = full ? text.full
    : fill(text.room, {n: Math.max(state.limit - state.inside, 0)});
  $("#sign-detail").hidden = !full;
  $("#outside-people").textContent = state.outside;
  if (!full) hideRefusal();
  // Nobody inside: −1 has nothing to count; the focus goes to +1 rather than to the body.
  if (state.inside <= 0 && document.activeElement === exit) entry.focus();
  exit.disabled = state.inside <= 0;
  showLetIn(state.next_in || []);
}

function showLetIn(codes) {
  const list = $("#let-in");
  list.replaceChildren(...codes.map((code, at) => element("li", at === 0 ? "newest" : "", code)));
  $("#no-let-in").hidden = codes.length > 0;
}

/** A refused entry (the building is full) in the server's words; any other failure too. */
function showRefusal(error) {
  const full = error.code === "capacity_full";
  $("#refusal-title").hidden = !full;
  $("#refusal-text").textContent = full ? error.message
    : fill(text.failed, {message: error.message});
  $("#refusal").hidden = false;
}

function hideRefusal() {
  $("#refusal").hidden = true;
}

/** One person in or out; the answer is shown unless a live event already said newer. */
async function count(direction) {
  hideRefusal();
  const since = occupancyEvents;
  try {
    const {data: state} = await api("POST", `/occupancy/${direction}`, {count: 1});
    if (occupancyEvents === since) showOccupancy(state);
  } catch (error) {
    showRefusal(error);
  }
}

entry.addEventListener("click", () => count("entries"));
exit.addEventListener("click", () => count("exits"));

// The queue outside -----------------------------------------------------------------------

function inIssueOrder(a, b) {
  if (a.issued_at !== b.issued_at) return a.issued_at < b.issued_at ? -1 : 1;
  return a.id - b.id;
}

function showQueue() {
  const waiting = [...outside.values()].sort(inIssueOrder);
  queue.replaceChildren(...waiting.map((ticket, at) => {
    const item = element("li");
    item.dataset.code = ticket.code;
    const people = ticket.party_size === 1 ? text.one_person
      : fill(text.people, {n: ticket.party_size});
    item.append(element("span", "place", `${at + 1}.`), " ",
                element("span", "code", ticket.code), " ",
                element("span", "party", people));
    return item;
  }));
  $("#no-outside").hidden = waiting.length > 0;
}

/** A ticket as a live event tells it: in the queue while it waits outside, else out. */
function follow(ticket) {
  ticketEvents += 1;
  touched.set(ticket.id, ticketEvents);
  if (ticket.status === "waiting" && ticket.outside) outside.set(ticket.id, ticket);
  else outside.delete(ticket.id);
  showQueue();
}

async function loadQueue() {
  const since = ticketEvents;
  const {data: waiting} = await api("GET", "/tickets?status=waiting");
  const newer = (id) => (touched.get(id) || 0) > since;
  const next = new Map();
  waiting.filter((ticket) => ticket.outside && !newer(ticket.id))
    .forEach((ticket) => next.set(ticket.id, ticket));
  outside.forEach((ticket, id) => {
    if (newer(id)) next.set(id, ticket);
  });
  outside = next;
  showQueue();
}

function reload() {
  const box = $("#queue-error");
  box.hidden = true;
  loadQueue().catch((error) => {
    box.textContent = fill(text.failed, {message: error.message});
    box.hidden = false;
  });
}

// Live updates ----------------------------------------------------------------------------

connectLive({}, {
  snapshot(state) {
    showOccupancy(state.occupancy);
    reload();
  },
  occupancy_changed(event) {
    occupancyEvents += 1;
    showOccupancy(event);
  },
  ticket_changed(event) {
    follow(event.ticket);
  },
  ticket_admitted(event) {
    follow(event.ticket);
    $("#admitted").textContent = fill(text.admitted, {code: event.ticket.code});
  },
  day_started() {
    $("#admitted").textContent = "";
    reload();
  },
}, liveIndicator(text), STAFF_LIVE);

// Keyboard: + (or =, the same key unshifted) one in, − one out, Esc hides a refusal ------

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    hideRefusal();
    return;
  }
  if (typingInto(event) || event.repeat) return;
  if (event.key === "+" || event.key === "=") {
    count("entries");
  } else if (event.key === "-" || event.key === "−") {
    if (!exit.disabled) count("exits");
  } else {
    return;
  }
  event.preventDefault();
});
