// Reception's appointments: today's bookings (find by code, name or phone, or a scanned code;
// Enter checks in the one found), check-in with its printed ticket, cancel, and booking a
// free slot with its printed confirmation. Changes go through /api/v1; the live connection
// keeps the list current.
import {api, clockTime, confirmTwice, connectLive, element, fill, focusLost, liveIndicator,
        pageData, typingInto, unfocusable, STAFF_LIVE} from "./pages.js";

const data = pageData();
const {labels, text} = data;
const $ = (selector) => document.querySelector(selector);
const tbody = $("#day tbody");
const find = $("#find");
const officeFilter = $("#office-filter");
const bookForm = $("#book-form");

const appointments = new Map();  // id -> appointment
const rows = new Map();          // id -> <tr>
let chosenSlot = null;
let lateId = null;

/** Text for searching: no case, no accents, as the server's search ("Núria" = "nuria"). */
function fold(value) {
  return value.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

function showError(box, error) {
  box.textContent = fill(text.failed, {message: error.message});
  box.hidden = false;
}

function urlWithId(template, id) {
  return template.replace("/0/", `/${id}/`);
}

/** Load a printable page into a frame, and print it once it is there. */
function printIn(frame, url) {
  frame.onload = () => {
    const paper = frame.contentDocument && frame.contentDocument.body;
    if (paper) frame.style.height = `${paper.scrollHeight + 16}px`;
    frame.contentWindow.print();
    frame.onload = null;
  };
  frame.src = url;
}

// The day's list ------------------------------------------------------------------------------

function button(label, role, className, onClick) {
  const made = element("button", `button small ${className}`, label);
  made.type = "button";
  made.dataset.role = role;
  made.addEventListener("click", onClick);
  return made;
}

function makeRow(appointment) {
  const row = element("tr");
  row.dataset.id = appointment.id;
  const actions = element("div", "actions");
  const cancel = button(text.cancel, "cancel", "danger", () => {});
  cancel.addEventListener("click", confirmTwice(cancel, text.confirm_cancel,
                                                () => cancelAppointment(appointment.id)));
  actions.append(button(text.check_in, "check-in", "primary",
                        () => checkIn(appointment.id, false)), cancel);
  const cell = element("td");
  cell.append(actions);
  row.append(element("td", "time"), element("td", "code"), element("td", "office"),
             element("td", "name"), element("td", "phone hide-narrow"), element("td", "status"),
             cell);
  return row;
}

function fillRow(row, appointment) {
  const focused = row.contains(document.activeElement) ? document.activeElement : null;
  row.querySelector(".time").textContent = clockTime(appointment.start);
  row.querySelector(".code").textContent = appointment.code;
  row.querySelector(".office").textContent = appointment.office;
  row.querySelector(".name").textContent = appointment.name || "";
  row.querySelector(".phone").textContent = appointment.phone || "";
  const badge = element("span", `badge status-${appointment.status}`,
                        labels[appointment.status] || appointment.status);
  const status = row.querySelector(".status");
  status.replaceChildren(badge);
  if (appointment.ticket) status.append(" ", element("span", "ticket-code", appointment.ticket));
  row.dataset.status = appointment.status;
  row.dataset.office = appointment.office;
  const phone = appointment.phone || "";
  row.dataset.search = fold(`${appointment.code} ${appointment.name || ""} ${phone} `
                            + phone.replace(/\D/g, ""));
  const booked = appointment.status === "booked";
  row.querySelector('[data-role="check-in"]').hidden = !booked;
  row.querySelector('[data-role="cancel"]').hidden = !booked;
  applyFilter(row);
  // Its buttons went (checked in, cancelled): back to the search field, ready for the next.
  if (focused && unfocusable(focused)) find.focus();
}

function applyFilter(row) {
  const query = fold(find.value.trim());
  const digits = query.replace(/\D/g, "");
  const matches = !query || row.dataset.search.includes(query) ||
    (digits.length >= 3 && row.dataset.search.includes(digits));
  row.hidden = !matches || (officeFilter.value && row.dataset.office !== officeFilter.value);
}

function refreshFilter() {
  rows.forEach(applyFilter);
  $("#none").hidden = [...rows.values()].some((row) => !row.hidden);
}

/** Add or update one appointment of today, keeping the rows in order of time. */
function upsert(appointment) {
  if (appointment.start.slice(0, 10) !== data.today) return;
  appointments.set(appointment.id, appointment);
  let row = rows.get(appointment.id);
  if (!row) {
    row = makeRow(appointment);
    rows.set(appointment.id, row);
    const later = [...appointments.values()]
      .filter((other) => other.id !== appointment.id && rows.get(other.id)?.isConnected &&
              (other.start > appointment.start ||
               (other.start === appointment.start && other.id > appointment.id)))
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id - b.id))[0];
    if (later) rows.get(later.id).before(row);
    else tbody.append(row);
  }
  fillRow(row, appointment);
  $("#none").hidden = [...rows.values()].some((each) => !each.hidden);
}

async function loadDay() {
  const {data: today} = await api("GET", `/appointments?date=${data.today}`);
  rows.forEach((row) => row.remove());
  rows.clear();
  appointments.clear();
  today.forEach(upsert);
  refreshFilter();
}

// Check-in and cancel -------------------------------------------------------------------------

function askLate(appointment) {
  lateId = appointment.id;
  $("#late-text").textContent = fill(text.late, {code: appointment.code,
                                                 time: clockTime(appointment.start)});
  $("#late").hidden = false;
  $("#late-yes").focus();
}

function closeLate() {
  lateId = null;
  if ($("#late").contains(document.activeElement)) find.focus();
  $("#late").hidden = true;
}

async function checkIn(id, force) {
  const before = document.activeElement;
  closeLate();
  $("#list-error").hidden = true;
  const appointment = appointments.get(id);
  try {
    const {data: ticket} = await api("POST", `/appointments/${id}/check-in`, {force});
    $("#checked-in").hidden = false;
    $("#ticket-title").textContent = fill(text.checked_in, {code: appointment.code,
                                                            ticket: ticket.code});
    printIn($("#ticket-frame"), urlWithId(data.ticket_print_url, ticket.id));
    find.value = "";
    refreshFilter();
    if (focusLost(before)) find.focus();
  } catch (error) {
    if (error.code === "too_late") askLate(appointment);
    else showError($("#list-error"), error);
  }
}

async function cancelAppointment(id) {
  try {
    const {data: cancelled} = await api("POST", `/appointments/${id}/cancel`);
    upsert(cancelled);
    loadSlots();
  } catch (error) {
    showError($("#list-error"), error);
  }
}

/** Enter in the search box: check in the one booked appointment found (a scanned code). */
function checkInFound() {
  const found = [...rows.values()].filter((row) => !row.hidden && row.dataset.status === "booked");
  if (found.length === 1) checkIn(Number(found[0].dataset.id), false);
}

find.addEventListener("input", refreshFilter);
find.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    checkInFound();
  }
});
officeFilter.addEventListener("change", refreshFilter);
$("#late-yes").addEventListener("click", () => checkIn(lateId, true));
$("#late-no").addEventListener("click", closeLate);

// Booking -------------------------------------------------------------------------------------

function spelled(code) {
  return code.split("").join(" ");
}

function updateBookButton() {
  $("#book").disabled = !chosenSlot || !$("#book-name").value.trim();
}

async function loadSlots() {
  const office = $("#book-office").value;
  const day = $("#book-date").value;
  const grid = $("#slots");
  chosenSlot = null;
  updateBookButton();
  grid.querySelectorAll("button").forEach((each) => each.remove());
  if (!day) return;
  let slots = [];
  try {
    ({data: slots} = await api("GET", `/offices/${office}/slots?date=${day}`));
  } catch (error) {
    showError($("#book-error"), error);
  }
  const now = Date.now();
  const open = slots.filter((slot) => slot.free > 0 && Date.parse(slot.start) > now);
  for (const slot of open) {
    const choice = element("button", "button");
    choice.type = "button";
    choice.dataset.start = slot.start;
    choice.setAttribute("aria-pressed", "false");
    choice.append(element("span", "time", clockTime(slot.start)),
                  element("span", "free", fill(text.free, {n: slot.free})));
    choice.addEventListener("click", () => {
      grid.querySelectorAll("button").forEach((each) => each.setAttribute("aria-pressed", "false"));
      choice.setAttribute("aria-pressed", "true");
      chosenSlot = slot.start;
      updateBookButton();
      $("#book-name").focus();
    });
    grid.append(choice);
  }
  $("#no-slots").hidden = open.length > 0;
}

async function book(event) {
  event.preventDefault();
  if (!chosenSlot) return;
  const before = document.activeElement;
  let made = null;
  $("#book-error").hidden = true;
  const body = {
    office: $("#book-office").value,
    start: chosenSlot,
    name: $("#book-name").value.trim(),
    party_size: Number($("#book-party").value) || 1,
    source: document.querySelector('input[name="source"]:checked').value,
  };
  const phone = $("#book-phone").value.trim();
  if (phone) body.phone = phone;
  try {
    ({data: made} = await api("POST", "/appointments", body));
    upsert(made);
    $("#confirmation").hidden = false;
    $("#read-out").textContent = fill(text.booked, {
      day: made.start.slice(0, 10), time: clockTime(made.start), spelled: spelled(made.code),
    });
    $("#read-out").dataset.code = made.code;
    printIn($("#confirm-frame"), urlWithId(data.confirmation_url, made.id));
    $("#book-name").value = "";
    $("#book-phone").value = "";
    $("#book-party").value = "1";
  } catch (error) {
    showError($("#book-error"), error);
  }
  loadSlots();  // the Book button waits for a new slot: the focus moves on
  if (focusLost(before)) (made ? $("#print-confirmation") : $("#book-date")).focus();
}

$("#book-office").addEventListener("change", loadSlots);
$("#book-date").addEventListener("change", loadSlots);
$("#book-name").addEventListener("input", updateBookButton);
bookForm.addEventListener("submit", book);
$("#print-confirmation").addEventListener("click", () => $("#confirm-frame").contentWindow.print());

// Live and keyboard ---------------------------------------------------------------------------

connectLive({}, {
  snapshot() { loadDay().catch((error) => showError($("#list-error"), error)); },
  appointment_changed(event) { upsert(event.appointment); },
  day_started() { window.location.reload(); },
}, liveIndicator(text), STAFF_LIVE);

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    if (lateId !== null) closeLate();
    else if (find.value) { find.value = ""; refreshFilter(); }
    return;
  }
  if (lateId !== null && event.key === "Enter" && document.activeElement !== $("#late-no")) {
    event.preventDefault();
    checkIn(lateId, true);
    return;
  }
  if (typingInto(event) || event.repeat) return;
  if (event.key === "/") {
    event.preventDefault();
    find.focus();
  }
});

loadSlots();
find.focus();
