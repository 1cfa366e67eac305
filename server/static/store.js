// What this browser keeps for one event: the attendee's token, the last data it got from the
// API (with when it got it), and the changes made offline (bookmarks, matchmaking), waiting to
// be sent.
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

// --- changes made offline, sent later --------------------------------------------------------

/**
 * A list of writes made offline, kept under `name` and sent in order when the network is back.
 * `key(item)`: a later change with the same key replaces the queued one; `request(item)`: the
 * [method, path, options] of `api` that sends it. One the server refuses moves to the
 * `refusedName` list, shown until dismissed (by `refusalKey`), never dropped.
 */
function offlineQueue({ name, refusedName, key, refusalKey = key, request }) {
  const queued = () => load(name, []);
  const refused = () => load(refusedName, []);
  return {
    queued,
    refused,
    add(item) {
      save(name, [...queued().filter((other) => key(other) !== key(item)), { ...item, at: Date.now() }]);
    },
    dismiss(id) {
      save(refusedName, refused().filter((item) => refusalKey(item) !== id));
    },
    /** Send in order, stopping at the first network failure or a 401 (signed out: kept for the
     * next sign-in). Resolves to {sent, refused} counts. */
    async send() {
      let sent = 0;
      let refusedNow = 0;
      for (const item of queued()) {
        let answer;
        try {
          answer = await api(...request(item));
        } catch (problem) {
          if (problem instanceof Offline) break;
          throw problem;
        }
        if (answer.status === 401) break;
        save(name, queued().filter((other) => !(key(other) === key(item) && other.at === item.at)));
        if (answer.status >= 400) {
          const message = answer.body?.message || `the server answered ${answer.status}`;
          const others = refused().filter((other) => refusalKey(other) !== refusalKey(item));
          save(refusedName, [...others, { ...item, message }]);
          refusedNow += 1;
        } else {
          sent += 1;
        }
      }
      return { sent, refused: refusedNow };
    },
  };
}

// Bookmarks: {session, add, title, at}; a refusal (a full or cancelled session) is kept per session.
const bookmarks = offlineQueue({
  name: "queue",
  refusedName: "refused",
  key: (item) => item.session,
  request: (item) => [item.add ? "PUT" : "DELETE", `/api/v1/me/schedule/${encodeURIComponent(item.session)}`],
});

export const queued = bookmarks.queued;
export const refused = bookmarks.refused;
/** Keep a bookmark change to send later; a later change to the same session replaces it. */
export const enqueue = (sessionId, add, title) => bookmarks.add({ session: sessionId, add, title });
export const dismissRefused = bookmarks.dismiss;
export const sendQueued = bookmarks.send;

// Other writes (matchmaking: profile, requests, answers): {method, path, body, label, at}; a
// profile saved twice offline is sent once; each refusal is kept apart, dismissed by its `at`.
const actions = offlineQueue({
  name: "actions",
  refusedName: "refused-actions",
  key: (item) => `${item.method} ${item.path}`,
  refusalKey: (item) => item.at,
  request: (item) => [item.method, item.path, { body: item.body }],
});

export const queuedActions = actions.queued;
export const refusedActions = actions.refused;
/** Keep an API write ({method, path, body, label}) to send later, in order. */
export const enqueueAction = actions.add;
export const dismissRefusedAction = actions.dismiss;
export const sendQueuedActions = actions.send;
