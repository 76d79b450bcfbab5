// The citizen's own appointment page: its status, live over the appointment's own connection
// (auth {"appointment": token}); the cancel form goes once it can no longer be used.
import {connectLive, element, fill, pageData} from "./pages.js";

const data = pageData();
const {labels, text} = data;
const $ = (selector) => document.querySelector(selector);
let lastSeq = -1;

function render(appointment) {
  const card = $("#state");
  card.dataset.status = appointment.status;
  const note = text[appointment.status] || "";
  const parts = [element("span", "status", labels[appointment.status] || appointment.status)];
  if (appointment.party_size > 1) {
    parts.push(element("span", "note", fill(text.people, {n: appointment.party_size})));
  }
  parts.push(element("span", "note", fill(note, {ticket: appointment.ticket || ""})));
  card.replaceChildren(...parts);
  if (appointment.status !== "booked") $("#cancel-form")?.remove();
}

function apply(appointment, seq) {
  if (seq < lastSeq) return;
  lastSeq = seq;
  render(appointment);
}

connectLive({appointment: data.token}, {
  snapshot(state) { apply(state.appointment, state.seq); },
  appointment_changed(event) { apply(event.appointment, event.seq); },
}, (online) => {
  $("#live-note").textContent = online ? text.live : text.offline;
  document.body.classList.toggle("offline", !online);
});
