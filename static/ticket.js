// The citizen's own ticket page: its code, status, people ahead and estimated wait, live over
// the ticket's own connection (auth {"ticket": token}); "your turn" when it is called.
import {connectLive, element, fill, pageData} from "./pages.js";

const data = pageData();
const {labels, text} = data;
const $ = (selector) => document.querySelector(selector);
const card = $("#state");

let ticket = data.ticket;
let lastSeq = -1;
let movedTo = null;        // the office a transfer sent the ticket to, while this page was open

function estimateText(seconds) {
  if (seconds === null || seconds === undefined) return text.estimate_unknown;
  if (seconds < 60) return text.estimate_soon;
  return fill(text.estimate, {n: Math.round(seconds / 60)});
}

function render() {
  const office = data.offices[ticket.office] || ticket.office;
  $("#office").textContent = office;
  $("#code").textContent = ticket.code;
  const status = element("span", "status", labels.status[ticket.status] || ticket.status);
  const parts = [status];
  card.className = "state-card";
  card.dataset.status = ticket.status;
  document.title = `${ticket.code} · ${labels.status[ticket.status]}`;
  if (ticket.status === "waiting") {
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
    parts.push(element("span", null, text.go_to), element("span", "where", ticket.desk));
    document.title = fill(text.title_called, {desk: ticket.desk});
  } else if (ticket.status === "serving") {
    card.classList.add("serving");
    parts.push(element("span", "note", fill(text.serving, {desk: ticket.desk})));
  } else {
    card.classList.add("closed");
    parts.push(element("span", "note", text[ticket.status] || ""));
  }
  card.replaceChildren(...parts);
  document.body.classList.toggle("called", ticket.status === "called");
}

function vibrate() {
  if (navigator.vibrate) navigator.vibrate([400, 150, 400, 150, 400]);
}

/** Take a newer state of the ticket (events of one connection arrive in order; a snapshot
 *  after a reconnection is newer than anything before it). */
function apply(fresh, seq) {
  if (seq < lastSeq) return;
  lastSeq = seq;
  const before = ticket;
  ticket = fresh;
  if (before.office !== fresh.office) movedTo = fresh.office;
  const calledNow = fresh.status === "called" &&
    (before.status !== "called" || before.recalls !== fresh.recalls || before.desk !== fresh.desk);
  render();
  if (calledNow) vibrate();
}

connectLive({ticket: data.token}, {
  snapshot(state) { apply(state.ticket, state.seq); },
  ticket_changed(event) { apply(event.ticket, event.seq); },
}, (online) => {
  $("#live-note").textContent = online ? text.live : text.offline;
  document.body.classList.toggle("offline", !online);
});

render();
