// Shared by the reception, desk and citizen pages: the page's data, the JSON API with the
// session's CSRF token, the live connection and small formatting helpers.

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
 * The live connection of a staff page (Socket.IO, same origin, the session cookie).
 * Every (re)connection starts with a `snapshot`, so a page reloads its state on each one;
 * an event older than what the page already shows is dropped; `onStatus(true|false)`
 * follows whether the page is live. When the server refuses the session (logged out on
 * another device, a new password or role, the user deleted) the page goes to the login.
 */
export function connectLive(auth, handlers, onStatus) {
  const socket = window.io({auth});
  let seen = -1;
  socket.on("connect", () => onStatus(true));
  socket.on("disconnect", () => onStatus(false));
  socket.on("connect_error", (error) => {
    onStatus(false);
    if (error && error.message === "unauthorized") {
      window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
    }
  });
  for (const [name, handler] of Object.entries(handlers)) {
    socket.on(name, (payload) => {
      const seq = payload && typeof payload.seq === "number" ? payload.seq : null;
      if (seq !== null && name !== "snapshot" && seq < seen) return;
      if (seq !== null) seen = name === "snapshot" ? seq : Math.max(seen, seq);
      handler(payload);
    });
  }
  return socket;
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
