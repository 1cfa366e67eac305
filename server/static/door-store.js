// What a browser door keeps, in IndexedDB (one database per event on this device): the door
// bundle (roster, revoked serials, presence, keys and lists) and the journal of scans.
//
// The bundle follows client_cli/door.py: fetched in full the first time, then merged from
// `?since=cursor` deltas; a cursor going backwards, or a revoked serial of someone inside, means
// fetch it all again. A full bundle of 100,000 tickets takes seconds to write, and a readwrite
// transaction would hold back every verdict meanwhile, so there are two copies of the big
// stores (generation 0 and 1): a full load fills the idle one in short transactions, then one
// small transaction makes it the current one. Verdicts read the current one throughout.
// Tickets are kept in buckets (by the serial's last three hex digits: 4,096 records for any
// roster size) rather than one record each: writing 100,000 records cost most of a full
// load, and a bucket is still one small read per verdict.
//
// The journal: every scan (a scan_id made here, payload, list, type, door time, the local
// verdict) is written before its verdict is shown, and stays until the server has answered it.
// It holds no names: those stay in the bundle, which a revoked device deletes.

const VERSION = 1;
const BIG = ["roster", "revoked", "presence"];
const CHUNK = 256; // buckets per transaction of a full load: short enough for a verdict to slip in between

/** The bucket of a serial (serials are random hex: buckets fill evenly). */
export const bucketOf = (serial) => String(serial).slice(-3);
const presenceKey = (list, serial) => `${list}\u0000${serial}`;

/** {bucket: {key: value}} of `items`. */
function buckets(items, serialOf, keyOf, valueOf) {
  const grouped = new Map();
  for (const item of items) {
    const bucket = bucketOf(serialOf(item));
    if (!grouped.has(bucket)) grouped.set(bucket, {});
    grouped.get(bucket)[keyOf(item)] = valueOf(item);
  }
  return grouped;
}

const promised = (request) =>
  new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

const done = (transaction) =>
  new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error || new Error("transaction aborted"));
  });

export const databaseName = (event) => `eventdesk-door:${event}`;

/** Which token fetched the bundle, without keeping the token itself in the bundle. */
export async function fingerprint(token) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token || ""));
  return Array.from(new Uint8Array(digest).slice(0, 16), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function upgrade(db) {
  for (const generation of [0, 1]) {
    for (const name of BIG) db.createObjectStore(`${name}${generation}`); // bucket -> {key: value}
  }
  db.createObjectStore("meta");
  const journal = db.createObjectStore("journal", { keyPath: "scan_id" });
  journal.createIndex("pending", "pending"); // 1 until the server has answered the scan
  journal.createIndex("seq", "seq");
}

export class DoorStore {
  constructor(db, event, meta) {
    this.db = db;
    this.event = event;
    this.meta = meta; // the bundle's small part, kept in memory: event, timezone, keys, lists, cursor...
  }

  static async open(event) {
    const request = indexedDB.open(databaseName(event), VERSION);
    request.onupgradeneeded = () => upgrade(request.result);
    const db = await promised(request);
    const meta = (await promised(db.transaction("meta").objectStore("meta").get("bundle"))) || null;
    return new DoorStore(db, event, meta);
  }

  close() {
    this.db.close();
  }

  get hasBundle() {
    return Boolean(this.meta && this.meta.cursor);
  }

  _store(name, generation = this.meta?.generation ?? 0) {
    return `${name}${generation}`;
  }

  /** The value under `key` in the bucket of `serial`, or undefined. */
  async _get(name, serial, key = serial) {
    const store = this._store(name);
    const bucket = await promised(this.db.transaction(store).objectStore(store).get(bucketOf(serial)));
    return bucket?.[key];
  }

  // --- the judge's bundle interface (door-judge.js) -------------------------------------------

  bundle() {
    const lists = new Map((this.meta?.lists || []).map((item) => [item.id, item]));
    return {
      event: this.meta?.event,
      timezone: this.meta?.timezone || "UTC",
      publicKeys: () => (this.meta?.public_keys || []).map((key) => key.public_key),
      list: (id) => lists.get(id) || null,
      isRevoked: async (serial) => (await this._get("revoked", serial)) !== undefined,
      rosterEntry: async (serial) => (await this._get("roster", serial)) || null,
      presence: async (list, serial) => (await this._get("presence", serial, presenceKey(list, serial))) || null,
    };
  }

  /** Is any of these serials inside on some list? (A delta revoking one means: fetch it all.) */
  async insideAny(serials) {
    if (!serials.length) return false;
    const wanted = new Set(serials);
    const store = this.db.transaction(this._store("presence")).objectStore(this._store("presence"));
    const found = await Promise.all([...new Set(serials.map(bucketOf))].map((bucket) => promised(store.get(bucket))));
    return found.some((bucket) => Object.values(bucket || {}).some((item) => item.inside && wanted.has(item.serial)));
  }

  /** How many tickets the bundle holds (IndexedDB counts by walking them: not for every scan). */
  async counts() {
    const names = BIG.map((name) => this._store(name));
    const transaction = this.db.transaction(names);
    const all = await Promise.all(names.map((name) => promised(transaction.objectStore(name).getAll())));
    const [roster, revoked, presence] = all.map((found) => found.reduce((sum, bucket) => sum + Object.keys(bucket).length, 0));
    return { roster, revoked, presence };
  }

  /** Scans the server has not answered yet. */
  async pendingCount() {
    return promised(this.db.transaction("journal").objectStore("journal").index("pending").count(1));
  }

  // --- writing the bundle ---------------------------------------------------------------------

  /** Put a whole bundle in place of the stored one; readers see the old one until the last step. */
  async replace(document, { etag, fingerprint: token, clockOffset, doorNow }) {
    const generation = this.hasBundle ? 1 - (this.meta.generation ?? 0) : 0;
    const names = BIG.map((name) => this._store(name, generation));
    let transaction = this.db.transaction(names, "readwrite");
    names.forEach((name) => transaction.objectStore(name).clear());
    await done(transaction);
    const revoked = new Set(document.revoked);
    const roster = document.roster.filter((entry) => !revoked.has(entry.serial));
    const asOf = new Date(doorNow).toISOString();
    const bySerial = (item) => item.serial;
    for (const [name, grouped] of [
      ["roster", buckets(roster, bySerial, bySerial, (entry) => entry)],
      ["revoked", buckets(document.revoked, (serial) => serial, (serial) => serial, () => 1)],
      ["presence", buckets(document.presence, bySerial, (item) => presenceKey(item.list, item.serial), (item) => ({ ...item, as_of: asOf }))],
    ]) {
      const entries = [...grouped];
      for (let start = 0; start < entries.length; start += CHUNK) {
        transaction = this.db.transaction(this._store(name, generation), "readwrite", { durability: "relaxed" });
        const store = transaction.objectStore(this._store(name, generation));
        for (const [bucket, value] of entries.slice(start, start + CHUNK)) store.put(value, bucket);
        await done(transaction);
      }
    }
    await this._writeMeta(document, { generation, etag, etagSince: null, token, clockOffset });
  }

  /** Merge a `?since=` delta into the current bundle, in one transaction. */
  async merge(delta, { etag, since, fingerprint: token, clockOffset, doorNow }) {
    const names = BIG.map((name) => this._store(name));
    const transaction = this.db.transaction([...names, "meta"], "readwrite");
    const [roster, revoked, presence] = names.map((name) => transaction.objectStore(name));
    const gone = new Set(delta.revoked);
    const asOf = new Date(doorNow).toISOString();
    // Each bucket touched: read once, all its edits, written back once (in this one transaction;
    // two reads of one bucket before either write would lose an edit).
    const edits = new Map(); // store -> bucket -> [edit]
    const change = (store, serial, edit) => {
      if (!edits.has(store)) edits.set(store, new Map());
      const bucket = bucketOf(serial);
      if (!edits.get(store).has(bucket)) edits.get(store).set(bucket, []);
      edits.get(store).get(bucket).push(edit);
    };
    for (const serial of delta.revoked) {
      change(revoked, serial, (bucket) => (bucket[serial] = 1));
      change(roster, serial, (bucket) => delete bucket[serial]);
    }
    for (const entry of delta.roster) if (!gone.has(entry.serial)) change(roster, entry.serial, (bucket) => (bucket[entry.serial] = entry));
    for (const item of delta.presence) {
      change(presence, item.serial, (bucket) => (bucket[presenceKey(item.list, item.serial)] = { ...item, as_of: asOf }));
    }
    for (const [store, byBucket] of edits) {
      for (const [key, changes] of byBucket) {
        const request = store.get(key);
        request.onsuccess = () => {
          const bucket = request.result || {};
          changes.forEach((edit) => edit(bucket));
          store.put(bucket, key);
        };
      }
    }
    this._putMeta(transaction, delta, { generation: this.meta.generation, etag, etagSince: since, token, clockOffset });
    await done(transaction);
  }

  async _writeMeta(document, options) {
    const transaction = this.db.transaction("meta", "readwrite");
    this._putMeta(transaction, document, options);
    await done(transaction);
  }

  _putMeta(transaction, document, { generation, etag, etagSince, token, clockOffset }) {
    const meta = {
      event: document.event,
      timezone: document.timezone || "UTC",
      cursor: document.cursor,
      public_keys: document.public_keys,
      lists: document.lists,
      generation,
      etag: etag || null,
      etag_since: etagSince, // the `since` the ETag answers for: asking that again may give 304
      token: token,
      clock_offset: clockOffset,
      synced_at: Date.now(),
    };
    transaction.objectStore("meta").put(meta, "bundle");
    transaction.addEventListener("complete", () => {
      this.meta = meta;
    });
  }

  /** The server said nothing changed (304): only the time of the check and the clock move. */
  async touch(clockOffset) {
    const meta = { ...this.meta, synced_at: Date.now(), clock_offset: clockOffset };
    const transaction = this.db.transaction("meta", "readwrite");
    transaction.objectStore("meta").put(meta, "bundle");
    await done(transaction);
    this.meta = meta;
  }

  /** Forget the bundle (names, organisations): a revoked device keeps no personal data. */
  async deleteBundle() {
    const names = [0, 1].flatMap((generation) => BIG.map((name) => this._store(name, generation)));
    const transaction = this.db.transaction([...names, "meta"], "readwrite");
    names.forEach((name) => transaction.objectStore(name).clear());
    transaction.objectStore("meta").delete("bundle");
    await done(transaction);
    this.meta = null;
  }

  // --- the journal ----------------------------------------------------------------------------

  /** Keep a scan durably (strict durability: on disk before its verdict is shown). */
  async append(record) {
    const transaction = this.db.transaction("journal", "readwrite", { durability: "strict" });
    transaction.objectStore("journal").put({ ...record, pending: 1, seq: Date.now() + Math.random() / 2 });
    await done(transaction);
  }

  /** Record the server's answers to scans: {scan_id: answer}. An answered scan is no longer pending. */
  async answered(answers) {
    const transaction = this.db.transaction("journal", "readwrite");
    const journal = transaction.objectStore("journal");
    for (const [scanId, answer] of Object.entries(answers)) {
      const request = journal.get(scanId);
      request.onsuccess = () => {
        if (!request.result) return;
        journal.put({ ...request.result, pending: 0, server: answer, answered_at: Date.now() });
      };
    }
    await done(transaction);
  }

  async scans() {
    const transaction = this.db.transaction("journal");
    return promised(transaction.objectStore("journal").index("seq").getAll());
  }

  async pending(limit) {
    const transaction = this.db.transaction("journal");
    const all = await promised(transaction.objectStore("journal").index("pending").getAll(1, limit));
    return all.sort((a, b) => a.seq - b.seq);
  }

  /** After a revoked token: keep only the scans the server has not answered (no names in them). */
  async keepOnlyPending() {
    const transaction = this.db.transaction("journal", "readwrite");
    const journal = transaction.objectStore("journal");
    const request = journal.index("pending").openCursor(IDBKeyRange.only(0));
    request.onsuccess = () => {
      const cursor = request.result;
      if (cursor) {
        cursor.delete();
        cursor.continue();
      }
    };
    await done(transaction);
  }
}

/** The scan the server judged differently from the door (its verdict stands), as client_cli/door.py. */
export function isConflict(scan) {
  const server = scan.server;
  if (!server || !server.result) return false;
  return server.result !== scan.result || (scan.result === "ok" && Boolean(server.conflict));
}

// --- syncing the bundle ---------------------------------------------------------------------

const cursorNumbers = (cursor) => {
  const parts = String(cursor || "").split(".");
  return parts.every((part) => /^\d+$/.test(part)) ? parts.map(Number) : null;
};

/** The server's clock minus this device's, from one answer (Eventdesk-Now, else Date), in ms. */
export function clockOffset(response, sentAt, receivedAt) {
  const said = response.headers.get("Eventdesk-Now") || response.headers.get("Date");
  const server = said ? new Date(said).getTime() : NaN;
  if (Number.isNaN(server)) return null;
  return Math.round(server - (sentAt + receivedAt) / 2);
}

export class DeviceRefused extends Error {}

/**
 * Fetch the bundle: a delta since the stored cursor when there is one, else (or on doubt) in
 * full. `request(path, headers)` resolves to a fetch Response (it throws when offline).
 * Resolves to {kind: "full" | "delta" | "not_modified", cursor, changes}.
 */
export async function syncBundle(store, request, token) {
  const mine = await fingerprint(token);
  const timed = async (path, headers = {}) => {
    const sentAt = Date.now();
    const response = await request(path, headers);
    if (response.status === 401) throw new DeviceRefused("the server refused this door's token");
    const offset = clockOffset(response, sentAt, Date.now());
    return { response, offset: offset ?? store.meta?.clock_offset ?? 0 };
  };
  const base = `/api/v1/events/${store.event}/door-bundle`;
  if (store.hasBundle && store.meta.event === store.event && store.meta.token === mine) {
    const cursor = store.meta.cursor;
    const headers = store.meta.etag && store.meta.etag_since === cursor ? { "If-None-Match": store.meta.etag } : {};
    const { response, offset } = await timed(`${base}?since=${encodeURIComponent(cursor)}`, headers);
    if (response.status === 304) {
      await store.touch(offset);
      return { kind: "not_modified", cursor, changes: { roster: 0, revoked: 0, presence: 0 } };
    }
    if (response.status === 200) {
      const delta = await response.json();
      const old = cursorNumbers(cursor);
      const fresh = cursorNumbers(delta.cursor);
      const forward = Boolean(old && fresh && old.length === fresh.length) && old.every((value, i) => fresh[i] >= value);
      // A cursor going back means the server's data was replaced; a re-issued ticket of someone
      // inside moves their presence to a serial a delta does not repeat. Both: fetch it all.
      if (forward && !(await store.insideAny(delta.revoked))) {
        await store.merge(delta, {
          etag: response.headers.get("ETag"), since: cursor, fingerprint: mine, clockOffset: offset,
          doorNow: Date.now() + offset,
        }); // prettier-ignore
        return { kind: "delta", cursor: delta.cursor, changes: changes(delta) };
      }
    } else if (response.status !== 400) {
      throw new Error(`the server answered ${response.status} to the bundle's delta`);
    } // 400: the server no longer takes that cursor: fetch everything
  }
  const { response, offset } = await timed(base);
  if (response.status !== 200) throw new Error(`the server answered ${response.status} to the door bundle`);
  performance.mark("door:bundle-answered"); // marks for bench/door_page_bench.py
  const document = await response.json();
  performance.mark("door:bundle-parsed");
  await store.replace(document, {
    etag: response.headers.get("ETag"), fingerprint: mine, clockOffset: offset, doorNow: Date.now() + offset,
  }); // prettier-ignore
  performance.mark("door:bundle-stored");
  return { kind: "full", cursor: document.cursor, changes: changes(document) };
}

const changes = (document) => ({
  roster: document.roster.length,
  revoked: document.revoked.length,
  presence: document.presence.length,
});
