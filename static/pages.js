// Shared by the reception, desk, citizen and display pages: the page's data, the JSON API
// with the session's CSRF token, the live connection, an audio context and small formatting
// helpers.

/** The page's data block (`<script type="application/json" id="page-data">`). */
export function pageData() {
  return JSON.parse(document.getElementById("page-data").textContent);
}

/** Fill `{name}` placeholders of a translated text. */
export function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

/** An API refusal, with the contract's error code and the HTTP status. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** Call `/api/v1` with the browser session; resolves to `{status, data}`, throws ApiError. */
export async function api(method, path, body) {
  const headers = {"Accept": "application/json", "Accept-Language": document.documentElement.lang};
  if (method !== "GET") {
    headers["X-CSRFToken"] = csrfToken();
    headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch("/api/v1" + path, {
      method, headers, credentials: "same-origin",
      body: method === "GET" ? undefined : JSON.stringify(body || {}),
    });
  } catch (error) {
    throw new ApiError(0, "network", error.message);
  }
  if (response.status === 204) return {status: 204, data: null};
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "http_error",
                       error.message || response.statusText);
  }
  return {status: response.status, data};
}

/**
 * The live connection of a page (Socket.IO, same origin; `auth` says who asks, and the
 * session cookie goes along). Every (re)connection starts with a `snapshot`; whatever
 * arrives at or below the last seq applied is already part of what the page shows and is
 * dropped, so each handler sees a change once and in order. A connection's first snapshot
 * comes before any of its events, so it is never stale (and if the journal went back, e.g.
 * a restored database, it is the truth); a later one (answering `resync`) is dropped when
 * newer events were already applied. Handlers get `(payload, {previous})`, `previous`
 * being the last seq applied before it (null at first). `onStatus(online, reason)` follows
 * whether the page is live (`reason`: Socket.IO's, on a disconnection).
 *
 * When the server refuses the credentials, `options.onRefused(error)` runs; by default the
 * page goes to the login (a staff session ended: logged out on another device, a new
 * password or role, the user deleted). Other options:
 *  - `socket`: more Socket.IO client options (e.g. the reconnection delays);
 *  - `resync`: after a reconnection, ask for the events missed (`resync {since}`);
 *  - `retryMs`: when the server itself closes the connection, or refuses it for another
 *    reason than credentials, Socket.IO does not try again: try again after this long;
 *  - `stats`: an object to count into (connects, snapshots, events, dropped, resyncs).
 * Returns the socket.
 */
/** What a staff page passes to `connectLive`: when the server closes its connection (its
 *  user's desks changed, say), it connects again a second later and is heard anew; a
 *  session that has ended is refused then, and the page goes to the login. */
export const STAFF_LIVE = {retryMs: 1000};

export function connectLive(auth, handlers, onStatus, options = {}) {
  const {socket: socketOptions = {}, resync = false, retryMs = null, onRefused = goToLogin,
         stats = {}} = options;
  for (const name of ["connects", "snapshots", "events", "dropped", "resyncs"]) {
    stats[name] = stats[name] || 0;
  }
  const socket = window.io({...socketOptions, auth});
  let seen = null;         // the newest seq applied
  let fresh = true;        // the next snapshot is a connection's first
  let resumeFrom = null;   // `seen` when the connection dropped: sent with `resync`
  let retryTimer = null;

  function retryLater() {
    if (retryMs === null || retryTimer !== null) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (!socket.connected && !socket.active) socket.connect();
    }, retryMs);
  }

  socket.on("connect", () => {
    stats.connects += 1;
    onStatus(true);
    if (resync && resumeFrom !== null) {
      stats.resyncs += 1;
      socket.emit("resync", {since: resumeFrom});
    }
    resumeFrom = null;
  });
  socket.on("disconnect", (reason) => {
    fresh = true;
    if (resumeFrom === null) resumeFrom = seen;
    onStatus(false, reason);
    if (reason === "io server disconnect") retryLater();  // the server will not retry
    if (reason === "io client disconnect") {              // the page itself ended it
      clearTimeout(retryTimer);
      retryTimer = null;
    }
  });
  socket.on("connect_error", (error) => {
    onStatus(false);
    if (error && error.message === "unauthorized") {
      onRefused(error);
      return;
    }
    if (!socket.active) retryLater();  // refused for another reason: try again later
  });
  for (const [name, handler] of Object.entries(handlers)) {
    socket.on(name, (payload) => {
      const seq = payload && typeof payload.seq === "number" ? payload.seq : null;
      const previous = seen;
      if (name === "snapshot") {
        stats.snapshots += 1;
        if (!fresh && seq !== null && previous !== null && seq < previous) {
          stats.dropped += 1;
          return;
        }
        fresh = false;
      } else {
        stats.events += 1;
        if (seq !== null && previous !== null && seq <= previous) {
          stats.dropped += 1;  // already part of what is shown (e.g. a resync replay)
          return;
        }
      }
      if (seq !== null) seen = seq;
      handler(payload, {previous});
    });
  }
  return socket;
}

function goToLogin() {
  window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
}

/** Show the live state in the top bar's `[data-live]` element. */
export function liveIndicator(texts) {
  const element = document.querySelector("[data-live]");
  return (online) => {
    if (!element) return;
    element.textContent = online ? texts.online : texts.offline;
    element.classList.toggle("online", online);
    element.classList.toggle("offline", !online);
  };
}

/** `HH:MM` of an instant as the API gives it: in the town hall's time, whatever the
 *  browser's time zone (`2024-06-10T09:05:00+02:00` -> `09:05`). */
export function clockTime(iso) {
  return iso ? iso.slice(11, 16) : "";
}

/** A new Web Audio context, or null where the browser has none or refuses one (the TV's and
 *  the citizen's chimes are made in the page, without sound files). */
export function newAudioContext() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null;
  try {
    return new Context();
  } catch {
    return null;
  }
}

/** Create an element with a class and text (never HTML from data). */
export function element(tag, className, text) {
  const made = document.createElement(tag);
  if (className) made.className = className;
  if (text !== undefined && text !== null) made.textContent = text;
  return made;
}

/** A badge for a ticket's status. */
export function statusBadge(status, labels) {
  return element("span", `badge status-${status}`, labels.status[status] || status);
}

/** True when a key press is meant for a text field or a control, not a page shortcut. */
export function typingInto(event) {
  const target = event.target;
  if (event.ctrlKey || event.metaKey || event.altKey) return true;
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  return tag === "INPUT" && !["checkbox", "radio", "button"].includes(target.type);
}

/** True when `control` cannot hold the focus any more: removed, hidden or disabled. */
export function unfocusable(control) {
  return !control || !control.isConnected || control.disabled ||
    control.closest("[hidden]") !== null || control.getClientRects().length === 0;
}

/** True when the focus fell out of the page's controls: onto the page's body, or still on
 *  `before` (where it was before a change) now that `before` cannot hold it. A page then
 *  moves it to the next sensible control, never leaving a keyboard user at the top. */
export function focusLost(before) {
  const now = document.activeElement;
  if (!now || now === document.body) return true;
  return now === before && unfocusable(before);
}

/** A button that needs a second press within a few seconds (cancelling). */
export function confirmTwice(button, confirmText, action) {
  const original = button.innerHTML;
  let timer = null;
  return () => {
    if (timer === null) {
      button.classList.add("confirming");
      button.textContent = confirmText;
      timer = setTimeout(() => {
        timer = null;
        button.classList.remove("confirming");
        button.innerHTML = original;
      }, 4000);
      return;
    }
    clearTimeout(timer);
    timer = null;
    button.classList.remove("confirming");
    button.innerHTML = original;
    action();
  };
}
