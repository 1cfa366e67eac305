// What this browser keeps for one event: the attendee's token, the last data it got from the
// API (with when it got it), and the bookmarks made offline, waiting to be sent.
// Offline is a cache with a clock: every page says how old what it shows is.

export const slug = location.pathname.split("/")[2];
const prefix = `eventdesk:${slug}:`;

export class Offline extends Error {}

function load(name, fallback = null) {
  try {
    const text = localStorage.getItem(prefix + name);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback; // a damaged entry is as good as none
  }
}

function save(name, value) {
  localStorage.setItem(prefix + name, JSON.stringify(value));
}

function forget(name) {
  localStorage.removeItem(prefix + name);
}

export const token = () => load("token");
export const setToken = (value) => save("token", value);
/** The desk's token (an admin's, or a desk device's): kept apart from any attendee's. */
export const deskToken = () => load("desk-token");
export const setDeskToken = (value) => (value ? save("desk-token", value) : forget("desk-token"));

/** Sign this browser out locally: the token and everything personal go. */
export function forgetMe() {
  const personalData = ["token", "schedule", "ticket", "ticket-svg", "me", "calendar", "queue", "refused", "notices"];
  for (const name of [...personalData, "profile", "meetings", "suggestions", "actions", "refused-actions"]) {
    forget(name);
  }
}

/**
 * One API call, with the attendee's token unless `auth` is false or `bearer` names another.
 * Resolves to {status, body, etag}; rejects with Offline when the server
 * cannot be reached (no network, or it does not answer within `timeout` ms).
 */
export async function api(method, path, { body, etag, timeout = 8000, auth = true, bearer = null, headers: extra = {} } = {}) {
  const headers = { Accept: "application/json", ...extra };
  const credential = bearer || (auth ? token() : null); // `bearer`: another token than the attendee's
  if (credential) headers.Authorization = `Bearer ${credential}`;
  if (etag) headers["If-None-Match"] = etag;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: controller.signal,
    });
  } catch {
    throw new Offline(`cannot reach the server for ${path}`);
  } finally {
    clearTimeout(timer);
  }
  // The service worker answered from what it kept: as good as no network for fresh data.
  if (response.headers.has("X-Eventdesk-Offline")) throw new Offline(`offline copy of ${path}`);
  const type = response.headers.get("Content-Type") || "";
  let parsed = null;
  if (type.includes("json")) parsed = await response.json().catch(() => null);
  else if (response.status !== 204 && response.status !== 304) parsed = await response.text();
  return { status: response.status, body: parsed, etag: response.headers.get("ETag") };
}

/** Data kept for offline: {at: milliseconds since 1970, etag, data}, or null. */
export const recall = (name) => load(name);
export function remember(name, data, etag = null) {
  save(name, { at: Date.now(), etag, data });
}
/** Mark kept data as confirmed current now (the server answered 304). */
export function touch(name) {
  const kept = load(name);
  if (kept) save(name, { ...kept, at: Date.now() });
}

/**
 * A personal read: the server's answer when it can be had (revalidated with the kept ETag),
 * else what was kept, marked stale. Resolves to {data, at, stale} or null (nothing at all).
 */
export async function personal(name, path) {
  const kept = recall(name);
  try {
    const answer = await api("GET", path, { etag: kept?.etag });
    if (answer.status === 304 && kept) {
      touch(name);
      return { data: kept.data, previous: kept.data, at: Date.now(), stale: false };
    }
    if (answer.status === 200) {
      remember(name, answer.body, answer.etag);
      return { data: answer.body, previous: kept?.data ?? null, at: Date.now(), stale: false };
    }
    if (answer.status === 401) {
      forgetMe(); // signed out elsewhere, or the link was rotated
      return null;
    }
  } catch (problem) {
    if (!(problem instanceof Offline)) throw problem;
  }
  return kept ? { data: kept.data, previous: kept.data, at: kept.at, stale: true } : null;
}

// --- bookmarks made offline ---------------------------------------------------------------

export const queued = () => load("queue", []);
export const refused = () => load("refused", []);

/** Keep a bookmark change to send later; a later change to the same session replaces it. */
export function enqueue(sessionId, add, title) {
  const queue = queued().filter((item) => item.session !== sessionId);
  queue.push({ session: sessionId, add, title, at: Date.now() });
  save("queue", queue);
}

export function dismissRefused(sessionId) {
  save("refused", refused().filter((item) => item.session !== sessionId));
}

/**
 * Send what was queued, in order, stopping at the first network failure. A refusal (a full
 * or cancelled session) moves to the `refused` list, shown until dismissed: never dropped.
 * Resolves to {sent, refused} counts.
 */
export async function sendQueued() {
  let sent = 0;
  let refusedNow = 0;
  for (const item of queued()) {
    let answer;
    try {
      answer = await api(item.add ? "PUT" : "DELETE", `/api/v1/me/schedule/${encodeURIComponent(item.session)}`);
    } catch (problem) {
      if (problem instanceof Offline) break;
      throw problem;
    }
    if (answer.status === 401) break; // signed out: keep the queue for the next sign-in
    save("queue", queued().filter((other) => !(other.session === item.session && other.at === item.at)));
    if (answer.status >= 400) {
      const message = answer.body?.message || `the server answered ${answer.status}`;
      save("refused", [...refused().filter((other) => other.session !== item.session), { ...item, message }]);
      refusedNow += 1;
    } else {
      sent += 1;
    }
  }
  return { sent, refused: refusedNow };
}

// --- what changed in my schedule ------------------------------------------------------------

export const notices = () => load("notices", []);
export function addNotices(texts) {
  if (texts.length) save("notices", [...notices(), ...texts.map((text) => ({ text, at: Date.now() }))]);
}
export function dismissNotice(index) {
  const kept = notices();
  kept.splice(index, 1);
  save("notices", kept);
}

// --- other changes made offline (matchmaking: profile, requests, answers) ----------------------

export const queuedActions = () => load("actions", []);
export const refusedActions = () => load("refused-actions", []);

/** Keep an API write ({method, path, body, label}) to send later, in order; a later one with
 * the same method and path replaces it (a profile saved twice offline is sent once). */
export function enqueueAction(action) {
  const kept = queuedActions().filter((item) => !(item.method === action.method && item.path === action.path));
  save("actions", [...kept, { ...action, at: Date.now() }]);
}

export function dismissRefusedAction(at) {
  save("refused-actions", refusedActions().filter((item) => item.at !== at));
}

/**
 * Send the queued writes in order, stopping at the first network failure; one the server
 * refuses moves to `refused-actions`, shown until dismissed. Resolves to {sent, refused}.
 */
export async function sendQueuedActions() {
  let sent = 0;
  let refusedNow = 0;
  for (const item of queuedActions()) {
    let answer;
    try {
      answer = await api(item.method, item.path, { body: item.body });
    } catch (problem) {
      if (problem instanceof Offline) break;
      throw problem;
    }
    if (answer.status === 401) break;
    save("actions", queuedActions().filter((other) => other.at !== item.at));
    if (answer.status >= 400) {
      const message = answer.body?.message || `the server answered ${answer.status}`;
      save("refused-actions", [...refusedActions(), { ...item, message }]);
      refusedNow += 1;
    } else {
      sent += 1;
    }
  }
  return { sent, refused: refusedNow };
}
