// The door's verdict in the browser: the same rules and the same result words as the CLI door
// (client_cli/door.py DoorSession.judge) and the server (server/checkin.py), so a phone with no
// network admits exactly whom the server would. Pure: no DOM, no storage. The bundle is an
// interface of async lookups, so the same judge runs over IndexedDB (door-store.js, 100,000
// tickets) and over an in-memory bundle (the verdict vectors in tests/vectors/).
//
// The payload, as server/ticketcode.py writes it: `ED1:<EVENT>:<base45(serial + signature)>`,
// 8 serial bytes then a 64-byte Ed25519 signature over ASCII "ED1:<EVENT>:" + the serial bytes.

export const PREFIX = "ED1";
const SERIAL_BYTES = 8;
const SIGNATURE_BYTES = 64;
const BODY_CHARS = ((SERIAL_BYTES + SIGNATURE_BYTES) / 2) * 3;
const MAX_PAYLOAD = 512; // characters as scanned (server/checkin.py)

// The words of server/ticketcode.py MESSAGES: door staff read these.
export const MESSAGES = {
  ok: "Welcome",
  already_checked_in: "Already checked in",
  revoked: "This ticket was revoked (re-issued or cancelled)",
  invalid_signature: "Forged or damaged code: the signature does not match",
  unknown_ticket: "No such ticket",
  wrong_event: "This ticket is for another event",
  not_on_list: "Not admitted through this door at this time",
  malformed: "Not a readable Eventdesk ticket",
};

// --- base45 (RFC 9285), as the Python base45 package reads it --------------------------------

const BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
const BASE45_VALUE = new Map([...BASE45].map((character, index) => [character, index]));

/** Bytes of a base45 text, or null when it is not valid base45 (a bad character or value). */
export function base45Decode(text) {
  const digits = [];
  for (const character of text) {
    const value = BASE45_VALUE.get(character);
    if (value === undefined) return null;
    digits.push(value);
  }
  if (digits.length % 3 === 1) return null;
  const bytes = [];
  for (let i = 0; i < digits.length; i += 3) {
    if (digits.length - i >= 3) {
      const value = digits[i] + digits[i + 1] * 45 + digits[i + 2] * 45 * 45;
      if (value > 0xffff) return null;
      bytes.push(value >> 8, value & 0xff);
    } else {
      const value = digits[i] + digits[i + 1] * 45;
      if (value > 0xff) return null;
      bytes.push(value);
    }
  }
  return new Uint8Array(bytes);
}

const hex = (bytes) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");

/**
 * The ticket in a scanned text, forgiving what scanners do (surrounding whitespace, lower
 * case), or null when it is no Eventdesk ticket (`malformed`).
 * Returns {eventCode, eventSlug, serial (bytes), serialHex, signature (bytes)}.
 */
export function parseTicket(text) {
  // Longer than any code and its whitespace: refused unread, as the server does (MAX_PAYLOAD).
  if (typeof text !== "string" || [...text].length > MAX_PAYLOAD) return null;
  const payload = text.trim().toUpperCase();
  // str.partition: the body is everything after the second colon (":" is a base45 digit).
  const first = payload.indexOf(":");
  if (first < 0) return null;
  const prefix = payload.slice(0, first);
  const rest = payload.slice(first + 1);
  const second = rest.indexOf(":");
  const code = second < 0 ? rest : rest.slice(0, second);
  const body = second < 0 ? "" : rest.slice(second + 1);
  // Counted in code points, as Python counts a str.
  if (prefix !== PREFIX || !code || [...body].length !== BODY_CHARS) return null;
  const raw = base45Decode(body);
  if (raw === null) return null;
  const serial = raw.slice(0, SERIAL_BYTES);
  return {
    eventCode: code,
    eventSlug: code.toLowerCase(),
    serial,
    serialHex: hex(serial),
    signature: raw.slice(SERIAL_BYTES),
  };
}

// --- Ed25519 with WebCrypto -----------------------------------------------------------------

// A door verifies thousands of codes with one or two keys: each is imported once.
const importedKeys = new Map();

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (character) => character.charCodeAt(0));
}

function importKey(publicKey) {
  if (!importedKeys.has(publicKey)) {
    const raw = typeof publicKey === "string" ? base64Bytes(publicKey) : publicKey;
    const imported = crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]).catch(() => null);
    importedKeys.set(publicKey, imported);
  }
  return importedKeys.get(publicKey);
}

export function signedMessage(code) {
  const head = new TextEncoder().encode(`${PREFIX}:${code.eventCode}:`);
  const message = new Uint8Array(head.length + code.serial.length);
  message.set(head);
  message.set(code.serial, head.length);
  return message;
}

/** True if any of the public keys (base64 text, as the bundle has them) signed this ticket. */
export async function verifyTicket(code, publicKeys) {
  const message = signedMessage(code);
  for (const publicKey of publicKeys) {
    const key = await importKey(publicKey);
    if (key && (await crypto.subtle.verify({ name: "Ed25519" }, key, code.signature, message))) return true;
  }
  return false;
}

// --- the verdict ----------------------------------------------------------------------------

const instant = (iso) => (iso ? new Date(iso).getTime() : null);

/** "20 Oct 08:00" in the event's zone (the CLI's `%d %b %H:%M`). */
export function shortTime(ms, timeZone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone, day: "2-digit", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date(ms)).map((part) => [part.type, part.value]),
  ); // prettier-ignore
  return `${parts.day} ${parts.month} ${parts.hour}:${parts.minute}`;
}

/** Is the roster entry in the list's audience? Categories from the list itself, members from the roster. */
export function admits(list, entry) {
  if (list.audience === "all") return true;
  if (list.audience === "categories") return (list.categories || []).includes(entry.category);
  return (entry.lists || []).includes(list.id);
}

/**
 * When they entered (ms), if an entry at `moment` would repeat one: inside now, or out again on
 * a list without re-entry. The bundle's word (inside since, or outside as of its sync) comes
 * first, then this door's own accepted scans, each in door time.
 */
export function alreadyIn(list, known, accepted, moment) {
  const timeline = []; // [door time ms, order, kind]
  if (known) {
    // The bundle lists accepted scans only: someone outside now came in and went out before.
    timeline.push(known.inside && known.since ? [instant(known.since), 0, "entry"] : [instant(known.as_of) ?? 0, 0, "left"]);
  }
  accepted.forEach((scan, index) => timeline.push([instant(scan.scanned_at), index + 1, scan.type]));
  const before = timeline
    .filter((item) => item[0] <= moment)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
  if (!before.length) return null;
  if (before[before.length - 1][2] === "entry") return before[before.length - 1][0];
  if (!list.allow_reentry) {
    // Only an entry (or the bundle's word that they left) forbids another; an exit scanned of
    // someone never in does not, as on the server (server/checkin.py `came_before`).
    const entry = before.find((item) => item[2] === "entry") || before.find((item) => item[2] === "left");
    return entry ? entry[0] : null;
  }
  return null;
}

/**
 * The verdict for one scanned text at one list, decided offline.
 *
 * `list`: the list's id. `type`: "entry" or "exit". `at`: door time (ms or ISO text).
 * `bundle`: {event, timezone, publicKeys(), list(id), isRevoked(serial), rosterEntry(serial),
 * presence(listId, serial) -> {inside, since, as_of} | null} (each may return a promise).
 * `accepted`: this door's accepted scans, [{type, scanned_at, list?, serial?}] (only those of
 * this ticket on this list count).
 * Resolves to {result, message, serial, holder, reason, insideSince (ms), ticketEvent, at (ms)}.
 */
export async function judge({ payload, list, type = "entry", at, bundle, accepted = [] }) {
  const moment = Math.floor((typeof at === "number" ? at : instant(at)) / 1000) * 1000; // whole seconds
  const verdict = (result, extra = {}) => ({
    result, message: MESSAGES[result], serial: null, holder: null, reason: null, insideSince: null,
    ticketEvent: null, at: moment, ...extra,
  }); // prettier-ignore
  const listRow = await bundle.list(list);
  const code = parseTicket(payload);
  if (code === null) return verdict("malformed");
  if (code.eventSlug !== bundle.event) return verdict("wrong_event", { ticketEvent: code.eventSlug });
  if (!(await verifyTicket(code, await bundle.publicKeys()))) return verdict("invalid_signature");
  const serial = code.serialHex;
  // The three lookups at once: over IndexedDB each is a request of its own.
  const [revoked, entry, known] = await Promise.all([
    bundle.isRevoked(serial),
    bundle.rosterEntry(serial),
    type === "entry" && listRow ? bundle.presence(listRow.id, serial) : null,
  ]);
  if (revoked) return verdict("revoked", { serial });
  if (!entry) return verdict("unknown_ticket", { serial });
  const holder = { name: entry.name ?? null, organisation: entry.organisation ?? null, category: entry.category ?? null };
  if (!listRow) return verdict("not_on_list", { serial, holder, reason: "no such list in this door's bundle" });
  const start = instant(listRow.start);
  const end = instant(listRow.end);
  if (!(admits(listRow, entry) && start <= moment && moment < end)) {
    let reason;
    if (moment < start) reason = `opens ${shortTime(start, bundle.timezone)}`;
    else if (moment >= end) reason = `closed at ${shortTime(end, bundle.timezone)}`;
    else reason = listRow.audience === "explicit" ? "not on this list" : "not in its audience";
    return verdict("not_on_list", { serial, holder, reason });
  }
  if (type === "entry") {
    // Scans that name their list and serial (the vectors' shape) count only for this ticket here.
    const mine = accepted.filter((scan) => (scan.list ?? listRow.id) === listRow.id && (scan.serial ?? serial) === serial);
    const insideSince = alreadyIn(listRow, known, mine, moment);
    if (insideSince !== null) return verdict("already_checked_in", { serial, holder, insideSince });
  }
  return verdict("ok", { serial, holder });
}

/** A bundle held in memory (a door bundle document as the server sends it), for tests and the vectors. */
export function memoryBundle(document, { asOf = null } = {}) {
  const lists = new Map(document.lists.map((item) => [item.id, item]));
  const revoked = new Set(document.revoked);
  const roster = new Map(document.roster.map((entry) => [entry.serial, entry]));
  const presence = new Map(document.presence.map((item) => [`${item.list}\u0000${item.serial}`, item]));
  return {
    event: document.event,
    timezone: document.timezone || "UTC",
    publicKeys: () => document.public_keys.map((key) => key.public_key),
    list: (id) => lists.get(id) || null,
    isRevoked: (serial) => revoked.has(serial),
    rosterEntry: (serial) => (revoked.has(serial) ? null : roster.get(serial) || null),
    presence: (list, serial) => {
      const item = presence.get(`${list}\u0000${serial}`);
      return item ? { inside: item.inside, since: item.since, as_of: item.as_of ?? asOf } : null;
    },
  };
}
