// The clerk's desk page: call the next ticket, serve it, close it; the desk's waiting list.
// Actions go through /api/v1; the live connection (auth {"desk": id}) brings everything else.
import {appointmentList} from "./desk-appointments.js";
import {api, clockTime, confirmTwice, connectLive, element, fill, focusLost, liveIndicator,
        pageData, typingInto, STAFF_LIVE} from "./pages.js";

const data = pageData();
const {labels, text, desk} = data;
const $ = (selector) => document.querySelector(selector);
const main = $("#desk");
const callButton = $("#call-next");
const actionButtons = [...document.querySelectorAll("#actions [data-action]")];
const dialog = $("#transfer");
// Which actions each status allows (as the API's rules do).
const ALLOWED = {
  called: ["start", "recall", "finish", "no-show", "transfer", "cancel"],
  serving: ["finish", "transfer", "cancel"],
};

let current = null;        // the desk's called or serving ticket
let paused = false;
let busy = false;          // one request at a time: no double call, no double finish
let waiting = [];          // waiting tickets of the desk's offices, in calling order
const waitingCounts = {};  // office -> waiting, from the live counts
const outsideCounts = {};  // office -> tickets waiting outside the full building
let knownTotal = null;     // for the chime when the queue stops being empty

// The chime -----------------------------------------------------------------------------

let audio = null;
function unlockAudio() {
  if (!audio && window.AudioContext) audio = new AudioContext();
  if (audio && audio.state === "suspended") audio.resume();
}
document.addEventListener("pointerdown", unlockAudio);
document.addEventListener("keydown", unlockAudio);

/** Two short tones: someone is waiting now. */
function chime() {
  main.dataset.chimes = String(Number(main.dataset.chimes || 0) + 1);
  unlockAudio();
  if (!audio) return;
  const start = audio.currentTime;
  [[660, 0], [990, 0.16]].forEach(([frequency, delay]) => {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + delay);
    gain.gain.exponentialRampToValueAtTime(0.3, start + delay + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + delay + 0.15);
    tone.connect(gain).connect(audio.destination);
    tone.start(start + delay);
    tone.stop(start + delay + 0.16);
  });
}

/** How many of the desk's offices' tickets wait outside (they cannot be called yet). */
function showOutside() {
  const total = desk.offices.reduce((sum, office) => sum + (outsideCounts[office] || 0), 0);
  $("#outside-note").textContent = data.text.outside.replace("{n}", total);
  $("#outside-note").hidden = total === 0;
}

function setWaitingTotal(total) {
  if (knownTotal === 0 && total > 0) chime();
  knownTotal = total;
  $("#waiting-count").textContent = total;
  renderCall();
}

// Rendering ---------------------------------------------------------------------------------

/** Say what happened: on the status line (polite), or a failure on the alert line. */
function say(message, isError = false) {
  $("#status-line").textContent = isError ? "" : message;
  $("#desk-alert").textContent = isError ? message : "";
}

/** A ticket's code and its status now ("A012: Called."). */
function sayStatus(ticket) {
  say(fill(text.done, {code: ticket.code, status: labels.status[ticket.status]}));
}

/** Waiting for an answer: the buttons say so but keep the focus (a disabled one drops it). */
function markBusy(button) {
  if (busy) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
}

/** The control a clerk needs next: Start or Finish for the ticket at the desk, Resume on a
 *  paused desk, else Call next. */
function nextControl() {
  if (current) {
    return document.querySelector(
      `[data-action="${current.status === "serving" ? "finish" : "start"}"]`);
  }
  return paused ? $("#resume") : callButton;
}

function focusNext() {
  if (dialog.open) return;
  const target = nextControl();
  if (target && !target.hidden) target.focus();
}

function renderCall() {
  const total = knownTotal || 0;
  callButton.disabled = paused;
  markBusy(callButton);
  $("#call-hint").textContent = total ? fill(text.in_queue, {n: total}) : text.nobody;
  // Calling someone from the list: only while the desk is free, like Call next.
  document.querySelectorAll("#waiting .call-this").forEach((button) => {
    button.disabled = paused || Boolean(current);
    markBusy(button);
  });
}

/** Show the desk's state. A change from elsewhere (a live event) that hides or disables the
 *  focused button moves the focus on to the next control instead of dropping it. */
function renderCurrent() {
  const before = document.activeElement;
  showCurrent();
  if (before && before !== document.body && focusLost(before)) focusNext();
}

function showCurrent() {
  $("#paused-banner").hidden = !paused;
  $("#pause").hidden = paused;
  $("#resume").hidden = !paused;
  callButton.hidden = Boolean(current);
  $("#ticket").hidden = !current;
  $("#actions").hidden = !current;
  renderCall();
  if (!current) return;
  $("#ticket-code").textContent = current.code;
  $("#ticket-state").textContent = current.status === "serving" ? text.serving : text.called;
  $("#ticket-office").textContent = data.offices[current.office] || current.office;
  $("#ticket-card").classList.toggle("serving", current.status === "serving");
  const facts = $("#ticket-facts");
  facts.replaceChildren();
  if (current.kind !== "walk_in") {
    facts.append(element("span", `badge kind-${current.kind}`, labels.kind[current.kind]));
  }
  if (current.priority) facts.append(element("span", "badge priority", text.priority));
  if (current.party_size > 1) {
    facts.append(element("span", "badge party", fill(text.people, {n: current.party_size})));
  }
  if (current.called_at) {
    facts.append(element("span", null, fill(text.called_at, {time: clockTime(current.called_at)})));
  }
  if (current.recalls) facts.append(element("span", null, fill(text.recalls, {n: current.recalls})));
  const allowed = ALLOWED[current.status] || [];
  actionButtons.forEach((button) => {
    button.hidden = !allowed.includes(button.dataset.action);
    markBusy(button);
  });
}

/** How long a waiting ticket has waited: minutes, and past half an hour a mark that says
 *  "long wait" in words too (for screen readers and for those who do not see the red). */
function showWaited(waited) {
  const minutes = minutesSince(waited.dataset.issued);
  const long = minutes >= 30;
  waited.classList.toggle("long", long);
  waited.replaceChildren(fill(text.minutes, {n: minutes}));
  if (long) {
    const mark = element("span", "long-mark");
    const icon = element("span", null, "⚠");
    icon.setAttribute("aria-hidden", "true");
    mark.append(icon, element("span", "visually-hidden", text.long_wait));
    waited.append(mark);
  }
}

function minutesSince(iso) {
  return Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 60000));
}

function renderWaiting() {
  const list = $("#waiting");
  list.replaceChildren(...waiting.map((ticket, index) => {
    const item = element("li");
    item.dataset.code = ticket.code;
    const marks = element("span", "marks");
    if (desk.offices.length > 1) marks.append(element("span", "badge", ticket.office), " ");
    if (ticket.kind !== "walk_in") {
      marks.append(element("span", `badge kind-${ticket.kind}`, labels.kind[ticket.kind]), " ");
    }
    if (ticket.priority) marks.append(element("span", "badge priority", text.priority));
    const waited = element("span", "waited");
    waited.dataset.issued = ticket.issued_at;
    showWaited(waited);
    item.append(element("span", "pos", String(index + 1)), element("span", "code", ticket.code),
                marks, waited);
    if (index > 0) {  // the first is who Call next gives anyway
      const call = element("button", "button small call-this", text.call_this);
      call.type = "button";
      call.setAttribute("aria-label", fill(text.call_this_label, {code: ticket.code}));
      call.disabled = paused || Boolean(current);
      markBusy(call);
      call.addEventListener("click", () => callThis(ticket));
      item.append(call);
    }
    return item;
  }));
  $("#nobody").hidden = waiting.length > 0;
}

// Waiting times go on by themselves: refresh the minutes, no request needed.
setInterval(() => document.querySelectorAll("#waiting .waited").forEach(showWaited), 15000);

// Loading -------------------------------------------------------------------------------------

// The desk's queue as the server would call it (never re-sorted here: one calling order).
async function loadWaiting() {
  ({data: waiting} = await api("GET", `/desks/${desk.id}/queue`));
  renderWaiting();
}

let reloadTimer = null;
function reloadWaitingSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => loadWaiting().catch((error) => say(error.message, true)), 120);
}

async function loadDesk() {
  const {data: desks} = await api("GET", "/desks");
  const mine = desks.find((each) => each.id === desk.id);
  if (!mine) return;
  current = mine.current;
  paused = mine.paused;
  renderCurrent();
}

// Actions -------------------------------------------------------------------------------------

async function run(request, after) {
  if (busy) return;
  busy = true;
  renderCurrent();
  let response;
  try {
    response = await request();
  } catch (error) {
    say(fill(text.failed, {message: error.message}), true);
    if (["desk_busy", "desk_paused", "invalid_transition", "wrong_office"].includes(error.code)) {
      await loadDesk().catch(() => {});
      reloadWaitingSoon();
    }
    busy = false;
    renderCurrent();
    return;
  }
  busy = false;
  after(response);
  renderCurrent();
  focusNext();  // what was pressed may be gone (Call next, Start...): on to what comes next
}

function callNext() {
  if (current || paused) return;
  run(() => api("POST", `/desks/${desk.id}/call-next`), ({status, data: ticket}) => {
    if (status === 204) {
      say(text.nobody);
      return;
    }
    current = ticket;
    sayStatus(ticket);
  });
}

/** Call one waiting ticket out of order (the person with a baby, the one already known). */
function callThis(ticket) {
  if (current || paused) return;
  run(() => api("POST", `/desks/${desk.id}/call`, {ticket: ticket.id}), ({data: called}) => {
    current = called;
    say(fill(text.called_out_of_order, {code: called.code}));
    reloadWaitingSoon();
  });
}

function act(action, body) {
  if (!current) return;
  const ticket = current;
  run(() => api("POST", `/tickets/${ticket.id}/${action}`, body), ({data: changed}) => {
    if (action === "recall" || action === "start") {
      current = changed;
      if (action === "recall") say(fill(text.recalled, {code: changed.code}));
      else sayStatus(changed);
      return;
    }
    current = null;
    if (action === "transfer") {
      say(fill(text.transferred, {code: changed.code, office: changed.office}));
    } else if (action === "cancel") {
      say(fill(text.cancelled, {code: changed.code}));
    } else {
      sayStatus(changed);
    }
  });
}

callButton.addEventListener("click", callNext);
actionButtons.forEach((button) => {
  const action = button.dataset.action;
  if (action === "transfer") {
    button.addEventListener("click", openTransfer);
  } else if (action === "cancel") {
    button.addEventListener("click", confirmTwice(button, text.confirm_cancel, () => act("cancel")));
  } else {
    button.addEventListener("click", () => act(action));
  }
});

function openTransfer() {
  if (!current || busy) return;
  dialog.querySelectorAll("[data-office]").forEach((choice) => {
    choice.disabled = choice.dataset.office === current.office;
  });
  dialog.showModal();
  const first = dialog.querySelector("[data-office]:not(:disabled)");
  if (first) first.focus();
}

dialog.querySelectorAll("[data-office]").forEach((choice) => {
  choice.addEventListener("click", () => {
    dialog.close();
    act("transfer", {office: choice.dataset.office});
  });
});
$("#transfer-close").addEventListener("click", () => dialog.close());
// Closed (Back, Esc or a choice): the focus goes back where it was, or on to what is next.
dialog.addEventListener("close", () => {
  if (focusLost(null)) focusNext();
});

function setPaused(pause) {
  run(() => api("POST", `/desks/${desk.id}/${pause ? "pause" : "resume"}`), ({data: changed}) => {
    paused = changed.paused;
    say(paused ? text.paused_line : fill(text.done, {code: desk.label, status: text.free}));
  });
}
$("#pause").addEventListener("click", () => setPaused(true));
$("#resume").addEventListener("click", () => setPaused(false));

// Live updates ---------------------------------------------------------------------------------

const appointments = appointmentList($("#appointments"), {
  today: data.today, offices: desk.offices, labels: data.appointment_labels,
  empty: $("#no-appointments"),
});

connectLive({desk: desk.id}, {
  snapshot(state) {
    appointments.load().catch((error) => say(error.message, true));
    desk.offices.forEach((office) => {
      waitingCounts[office] = state.waiting[office] || 0;
      outsideCounts[office] = (state.outside || {})[office] || 0;
    });
    showOutside();
    knownTotal = null;
    setWaitingTotal(desk.offices.reduce((sum, office) => sum + waitingCounts[office], 0));
    Promise.all([loadDesk(), loadWaiting()]).catch((error) => say(error.message, true));
  },
  queue_changed(event) {
    if (!desk.offices.includes(event.office)) return;
    waitingCounts[event.office] = event.waiting;
    outsideCounts[event.office] = event.outside || 0;
    showOutside();
    setWaitingTotal(desk.offices.reduce((sum, office) => sum + (waitingCounts[office] || 0), 0));
    reloadWaitingSoon();
  },
  ticket_changed(event) {
    const ticket = event.ticket;
    if (ticket.desk === desk.name && ALLOWED[ticket.status]) {
      current = ticket;
    } else if (current && current.id === ticket.id) {
      current = null;
    }
    if (!busy) renderCurrent();
  },
  desk_changed(event) {
    if (event.desk.id !== desk.id) return;
    paused = event.desk.paused;
    current = event.desk.current;
    if (!busy) renderCurrent();
  },
  appointment_changed(event) {
    appointments.update(event.appointment);
  },
  day_started() {
    reloadWaitingSoon();
    appointments.load().catch((error) => say(error.message, true));
  },
}, liveIndicator(text), STAFF_LIVE);

// Keyboard -----------------------------------------------------------------------------------

const ACTION_KEYS = {s: "start", r: "recall", f: "finish", a: "no-show", t: "transfer", x: "cancel"};

document.addEventListener("keydown", (event) => {
  if (dialog.open) {
    const index = Number(event.key);
    const choices = [...dialog.querySelectorAll("[data-office]")];
    if (index >= 1 && index <= choices.length && !choices[index - 1].disabled) {
      event.preventDefault();
      choices[index - 1].click();
    }
    return;
  }
  if (typingInto(event) || event.repeat) return;
  const key = event.key.toLowerCase();
  const onButton = event.target instanceof HTMLButtonElement || event.target instanceof HTMLAnchorElement;
  if ((key === " " && !onButton) || key === "c") {
    event.preventDefault();
    if (!current) callNext();
  } else if (key === "p") {
    event.preventDefault();
    setPaused(!paused);
  } else if (key in ACTION_KEYS) {
    const button = document.querySelector(`[data-action="${ACTION_KEYS[key]}"]`);
    if (button && !button.hidden && !button.disabled && current) {
      event.preventDefault();
      button.click();
    }
  }
});

renderCurrent();
renderWaiting();
