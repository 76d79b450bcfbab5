// The reception page: issue and print tickets, today's list, the building's occupancy.
// Changes go through /api/v1; the live connection keeps the list and the counts current.
import {api, clockTime, confirmTwice, connectLive, element, fill, focusLost, liveIndicator,
        pageData, statusBadge, typingInto, unfocusable, STAFF_LIVE} from "./pages.js";

const data = pageData();
const {labels, text} = data;
const OPEN = new Set(["waiting", "called", "serving"]);
const $ = (selector) => document.querySelector(selector);

const officeButtons = [...document.querySelectorAll(".office-button")];
const partyOutput = $("#party-size");
const priority = $("#priority");
const tbody = $("#tickets tbody");
const search = $("#search");
const onlyOpen = $("#only-open");
const frame = $("#ticket-frame");
const autoPrint = $("#auto-print");
const announcer = $("#announce");

const tickets = new Map();   // id -> ticket
const rows = new Map();      // id -> <tr>
// Live events arrive in order; an API answer may arrive after a newer event about the same
// ticket, and must not undo it: each event is counted, and each ticket remembers the last.
let eventCount = 0;
const touched = new Map();   // id -> eventCount of its last live event
let occupancy = {inside: Number($("#inside").textContent), limit: Number($("#limit").textContent),
                 outside: Number($("#outside-people").textContent)};
let issuing = false;
// The ticket the full building refused last ({office, chosen}), while its refusal offers to
// issue it again to wait outside; null otherwise.
let refused = null;
let printWhenLoaded = false;
let shownTicket = null;

// Issue options ------------------------------------------------------------------------

function kind() {
  return document.querySelector('input[name="kind"]:checked').value;
}

function setKind(value) {
  document.querySelector(`input[name="kind"][value="${value}"]`).checked = true;
  $("#offices").classList.toggle("kind-urgent-selected", value === "urgent");
}

function partySize() {
  return Number(partyOutput.value || partyOutput.textContent);
}

function setPartySize(size) {
  const bounded = Math.max(1, Math.min(20, size));
  const less = $("#party-less");
  const more = $("#party-more");
  partyOutput.value = String(bounded);
  // A button about to be disabled hands the focus to the other one (never to the body).
  if (bounded <= 1 && document.activeElement === less) more.focus();
  if (bounded >= 20 && document.activeElement === more) less.focus();
  less.disabled = bounded <= 1;
  more.disabled = bounded >= 20;
}

// The citizen's mobile for SMS notices (only when the server sends them): this ticket's only.
const phone = $("#phone");
const smsLanguage = $("#sms-language");

function resetOptions() {
  setKind("walk_in");
  priority.checked = false;
  setPartySize(1);
  if (phone) phone.value = "";
}

document.querySelectorAll('input[name="kind"]').forEach((radio) =>
  radio.addEventListener("change", () => setKind(kind())));
$("#party-less").addEventListener("click", () => setPartySize(partySize() - 1));
$("#party-more").addEventListener("click", () => setPartySize(partySize() + 1));

// Issuing and printing ----------------------------------------------------------------------

/** Say what the last action did, in the panel and to screen readers (a polite live region). */
function announce(message) {
  announcer.textContent = message;
}

function officeButton(office) {
  return officeButtons.find((button) => button.dataset.office === office) || officeButtons[0];
}

function printUrl(id) {
  return data.print_url.replace("/0/", `/${id}/`);
}

function showTicket(ticket, print) {
  shownTicket = ticket;
  $("#no-result").hidden = true;
  $("#refusal").hidden = true;
  $("#printed").hidden = false;
  printWhenLoaded = print;
  frame.src = printUrl(ticket.id);
}

frame.addEventListener("load", () => {
  const paper = frame.contentDocument && frame.contentDocument.body;
  if (paper) frame.style.height = `${paper.scrollHeight + 16}px`;
  if (printWhenLoaded && frame.contentWindow && frame.src) {
    printWhenLoaded = false;
    frame.contentWindow.print();
  }
});

function printAgain() {
  if (shownTicket && frame.contentWindow) frame.contentWindow.print();
}

/** The full building's refusal saying `message`; with `retry` (the refused ticket), it offers
 *  to issue that ticket again to wait outside. */
function showRefusal(message, retry = null) {
  announce("");
  if ($("#printed").contains(document.activeElement)) officeButtons[0].focus();
  refused = retry;
  $("#no-result").hidden = true;
  $("#printed").hidden = true;
  $("#refusal").hidden = false;
  $("#refusal-text").textContent = message;
  $("#issue-outside").hidden = retry === null;
}

/** Why a ticket was refused: the counts when its party does not fit, else the server's reason
 *  (people waiting outside go first; a party that could never enter). */
function refusalText(error, chosen) {
  return occupancy.inside + chosen.party_size > occupancy.limit ? fill(text.full, occupancy)
    : error.message;
}

function showError(error) {
  announce("");
  const box = $("#issue-error");
  box.textContent = fill(text.failed, {message: error.message});
  box.hidden = false;
}

function options() {
  const chosen = {kind: kind(), priority: priority.checked, party_size: partySize()};
  if (phone && phone.value.trim()) {
    chosen.phone = phone.value.trim();
    chosen.language = smsLanguage.value;
  }
  return chosen;
}

/** Issue a ticket of `office` with the options chosen; with `outside`, the ticket the full
 *  building refused, again, to wait outside until there is room. */
async function issue(office, {outside = false} = {}) {
  if (issuing) return;
  issuing = true;
  // Marked busy, not disabled: a disabled button would drop the keyboard's focus.
  officeButtons.forEach((button) => button.setAttribute("aria-disabled", "true"));
  $("#issue-error").hidden = true;
  const before = document.activeElement;
  // The options go with this ticket only: back to the usual at once, so that the next
  // ticket's options can be chosen while this one is on its way; restored if it fails.
  // Issued again to wait outside, the ticket keeps the options it was refused with.
  const again = outside && refused !== null;
  const chosen = again ? refused.chosen : options();
  if (!again) resetOptions();
  try {
    const since = eventCount;
    const body = again ? {office, ...chosen, outside: true} : {office, ...chosen};
    const {data: ticket} = await api("POST", "/tickets", body);
    refused = null;
    // Its options, shown again at the refusal and still untouched: back to the usual.
    if (again && JSON.stringify(options()) === JSON.stringify(chosen)) resetOptions();
    upsert(ticket, {fresh: true, since});
    showTicket(ticket, autoPrint.checked);
    announce(fill(ticket.outside ? text.issued_outside : text.issued,
                  {code: ticket.code, office: ticket.office}));
  } catch (error) {
    if (!again && JSON.stringify(options()) === JSON.stringify(options.usual)) {
      setKind(chosen.kind);
      priority.checked = chosen.priority;
      setPartySize(chosen.party_size);
      if (phone) phone.value = chosen.phone || "";
    }
    // Refused again, even to wait outside (the party could never enter): only the reason.
    if (error.code === "capacity_full" && again) showRefusal(error.message);
    else if (error.code === "capacity_full") {
      showRefusal(refusalText(error, chosen), {office, chosen});
    } else showError(error);
  } finally {
    issuing = false;
    officeButtons.forEach((button) => button.removeAttribute("aria-disabled"));
    // Issued by a key with the focus nowhere: it goes to the office's button, ready for more.
    if (focusLost(before)) officeButton(office).focus();
  }
}

function issueOutside() {
  if (refused !== null && !$("#refusal").hidden) issue(refused.office, {outside: true});
}

officeButtons.forEach((button) =>
  button.addEventListener("click", () => issue(button.dataset.office)));
$("#issue-outside").addEventListener("click", issueOutside);
$("#print").addEventListener("click", printAgain);
autoPrint.checked = localStorage.getItem("torn.autoPrint") !== "no";
autoPrint.addEventListener("change", () =>
  localStorage.setItem("torn.autoPrint", autoPrint.checked ? "yes" : "no"));

// Today's tickets -----------------------------------------------------------------------------

function makeRow(ticket) {
  const row = element("tr");
  row.dataset.id = ticket.id;
  const codeCell = element("td");
  codeCell.append(element("span", "code"), " ", element("span", "marks"));
  const actions = element("td");
  const box = element("div", "actions");
  const reprint = element("button", "button small", text.reprint);
  reprint.type = "button";
  reprint.dataset.role = "reprint";
  reprint.addEventListener("click", () => showTicket(tickets.get(ticket.id), true));
  const cancel = element("button", "button small danger", text.cancel);
  cancel.type = "button";
  cancel.dataset.role = "cancel";
  cancel.addEventListener("click", confirmTwice(cancel, text.confirm_cancel,
                                                () => cancelTicket(ticket.id)));
  box.append(reprint, cancel);
  actions.append(box);
  row.append(codeCell, element("td", "office"), element("td", "issued hide-narrow"),
             element("td", "status"), element("td", "desk-name hide-narrow"), actions);
  return row;
}

function fillRow(row, ticket) {
  const focused = row.contains(document.activeElement) ? document.activeElement : null;
  row.querySelector(".code").textContent = ticket.code;
  const marks = row.querySelector(".marks");
  marks.replaceChildren();
  if (ticket.kind !== "walk_in") {
    marks.append(element("span", `badge kind-${ticket.kind}`, labels.kind[ticket.kind]), " ");
  }
  if (ticket.priority) marks.append(element("span", "badge priority", text.priority), " ");
  if (ticket.party_size > 1) marks.append(element("span", "badge party", `×${ticket.party_size}`), " ");
  if (ticket.outside) marks.append(element("span", "badge outside", text.outside));
  row.querySelector(".office").textContent = ticket.office;
  row.querySelector(".issued").textContent = clockTime(ticket.issued_at);
  row.querySelector(".status").replaceChildren(statusBadge(ticket.status, labels));
  row.querySelector(".desk-name").textContent = ticket.desk || "";
  const open = OPEN.has(ticket.status);
  row.classList.toggle("closed", !open);
  row.dataset.status = ticket.status;
  row.dataset.outside = ticket.outside ? "yes" : "no";
  const where = ticket.outside ? text.outside : "";
  row.dataset.search = `${ticket.code} ${ticket.office} ${labels.status[ticket.status]} ${where} ${ticket.desk || ""}`
    .toLowerCase();
  row.querySelector('[data-role="reprint"]').hidden = !open;
  row.querySelector('[data-role="cancel"]').hidden = !open;
  applyFilter(row);
  if (focused && unfocusable(focused)) focusNear(row);
}

/** The row's buttons went (its ticket closed): the focus goes to the next open ticket's first
 *  button below (else above), else to the search field. */
function focusNear(row) {
  const shown = [...tbody.rows].filter((each) => each === row || !each.hidden);
  const at = shown.indexOf(row);
  const candidates = [...shown.slice(at + 1), ...shown.slice(0, at).reverse()];
  for (const candidate of candidates) {
    const target = [...candidate.querySelectorAll("button")].find((each) => !unfocusable(each));
    if (target) {
      target.focus();
      return;
    }
  }
  search.focus();
}

function applyFilter(row) {
  const query = search.value.trim().toLowerCase();
  const matches = !query || row.dataset.search.includes(query);
  row.hidden = !matches || (onlyOpen.checked && row.classList.contains("closed"));
}

function refreshFilter() {
  rows.forEach(applyFilter);
  $("#no-tickets").hidden = [...rows.values()].some((row) => !row.hidden);
}

/** Add or update one ticket's row; new tickets go on top (newest first). An API answer
 *  (`since` = the event count when it was asked) yields to a newer live event. */
function upsert(ticket, {fresh = false, since = null} = {}) {
  if (since !== null && (touched.get(ticket.id) || 0) > since) return;
  tickets.set(ticket.id, ticket);
  let row = rows.get(ticket.id);
  if (!row) {
    row = makeRow(ticket);
    rows.set(ticket.id, row);
    const after = [...rows.keys()].filter((id) => id > ticket.id).sort((a, b) => a - b)[0];
    if (after === undefined) tbody.prepend(row);
    else rows.get(after).after(row);
    if (fresh) {
      row.classList.add("fresh");
      setTimeout(() => row.classList.remove("fresh"), 2500);
    }
  }
  fillRow(row, ticket);
  $("#no-tickets").hidden = [...rows.values()].some((each) => !each.hidden);
}

async function loadTickets() {
  const since = eventCount;
  const {data: today} = await api("GET", "/tickets");
  const seen = new Set(today.map((ticket) => ticket.id));
  for (const [id, row] of rows) {
    if (!seen.has(id)) {
      row.remove();
      rows.delete(id);
      tickets.delete(id);
    }
  }
  today.sort((a, b) => a.id - b.id).forEach((ticket) => upsert(ticket, {since}));
  refreshFilter();
}

async function cancelTicket(id) {
  try {
    const since = eventCount;
    const {data: ticket} = await api("POST", `/tickets/${id}/cancel`);
    upsert(ticket, {since});
    announce(fill(text.cancelled, {code: ticket.code}));
  } catch (error) {
    showError(error);
  }
}

search.addEventListener("input", refreshFilter);
onlyOpen.checked = localStorage.getItem("torn.onlyOpen") === "yes";
onlyOpen.addEventListener("change", () => {
  localStorage.setItem("torn.onlyOpen", onlyOpen.checked ? "yes" : "no");
  refreshFilter();
});

// Occupancy and queues ----------------------------------------------------------------------

function showOccupancy(state) {
  occupancy = {inside: state.inside, limit: state.limit, outside: state.outside};
  $("#outside-people").textContent = state.outside;
  const full = state.inside >= state.limit;
  $("#inside").textContent = state.inside;
  $("#limit").textContent = state.limit;
  const meter = $("#occupancy-meter");
  meter.max = state.limit;
  meter.low = Math.floor(state.limit * 0.8);
  meter.high = Math.max(state.limit - 1, 0);
  meter.value = state.inside;
  $("#occupancy").classList.toggle("full", full);
  $("#full-banner").hidden = !full;
  if (state.inside <= 0 && document.activeElement === $("#exit")) $("#entry").focus();
  $("#exit").disabled = state.inside <= 0;
}

function showWaiting(office, count) {
  const label = document.querySelector(`[data-waiting="${office}"]`);
  if (label) label.textContent = fill(text.waiting, {n: count});
}

async function count(direction) {
  try {
    const {data: state} = await api("POST", `/occupancy/${direction}`, {count: 1});
    showOccupancy(state);
  } catch (error) {
    if (error.code === "capacity_full") showRefusal(fill(text.full, occupancy));
    else showError(error);
  }
}

$("#entry").addEventListener("click", () => count("entries"));
$("#exit").addEventListener("click", () => count("exits"));

// Live updates ---------------------------------------------------------------------------------

connectLive({}, {
  snapshot(state) {
    Object.entries(state.waiting).forEach(([office, n]) => showWaiting(office, n));
    showOccupancy(state.occupancy);
    loadTickets().catch(showError);
  },
  ticket_changed(event) {
    eventCount += 1;
    touched.set(event.ticket.id, eventCount);
    upsert(event.ticket, {fresh: !tickets.has(event.ticket.id)});
  },
  queue_changed(event) {
    showWaiting(event.office, event.waiting);
  },
  occupancy_changed(event) {
    showOccupancy(event);
  },
  day_started() {
    loadTickets().catch(showError);
  },
}, liveIndicator(text), STAFF_LIVE);

// Keyboard -----------------------------------------------------------------------------------

const KIND_KEYS = {n: "walk_in", c: "appointment", u: "urgent"};

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    if (search.value) {
      search.value = "";
      refreshFilter();
    } else {
      resetOptions();
    }
    // Out of the search field, so that the keys issue again: onto the first office.
    if (document.activeElement === search) officeButtons[0].focus();
    return;
  }
  if (typingInto(event) || event.repeat) return;
  const key = event.key.toLowerCase();
  let handled = true;
  if (/^[1-9]$/.test(key) && officeButtons[Number(key) - 1]) {
    issue(officeButtons[Number(key) - 1].dataset.office);
  } else if (key in KIND_KEYS) {
    setKind(KIND_KEYS[key]);
  } else if (key === "p") {
    priority.checked = !priority.checked;
  } else if (key === "+" || key === "=") {
    setPartySize(partySize() + 1);
  } else if (key === "-") {
    setPartySize(partySize() - 1);
  } else if (key === "e") {
    count("entries");
  } else if (key === "s") {
    count("exits");
  } else if (key === "r") {
    printAgain();
  } else if (key === "f" && refused !== null && !$("#refusal").hidden) {
    issueOutside();
  } else if (key === "/") {
    search.focus();
  } else {
    handled = false;
  }
  if (handled) event.preventDefault();
});

resetOptions();
options.usual = options();
showOccupancy(occupancy);
