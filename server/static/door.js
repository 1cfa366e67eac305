// The door page: a phone (or a laptop with a scanner that types) checks tickets in, online and
// offline. Each code is judged here first, from the door bundle in IndexedDB (door-judge.js,
// the CLI door's rules), shown full screen, written to the journal, and then redeemed on the
// server at once when it answers (its verdict wins and is shown if it differs); scans made
// offline are uploaded with /checkins/batch when the network is back. The page works with no
// network once paired: the service worker keeps it, IndexedDB keeps the rest.
import { judge, MESSAGES, parseTicket } from "./door-judge.js";
import { DeviceRefused, DoorStore, isConflict, syncBundle } from "./door-store.js";

const slug = location.pathname.split("/")[2];
const API = `/api/v1/events/${slug}`;
const TOKEN_KEY = `eventdesk:${slug}:door-token`;
const SYNC_EVERY_MS = 60000;
const UPLOAD_EVERY_MS = 15000;
const REDEEM_TIMEOUT_MS = 4000; // longer than that and the scan waits in the journal instead
const BATCH = 500; // scans per upload request, as the CLI sends them
const SAME_CODE_MS = 5000; // a code held in front of the camera counts once in this time
const VERDICT_SHOWN_MS = 4000;

const $ = (id) => document.getElementById(id);

// --- pairing: the device token comes in the link's fragment, once --------------------------

function pairedToken() {
  const secret = decodeURIComponent(location.hash.slice(1)).trim();
  if (secret) {
    localStorage.setItem(TOKEN_KEY, secret);
    // Out of the address bar at once: not bookmarked, shared or kept in history.
    history.replaceState(null, "", location.pathname + location.search);
  }
  return localStorage.getItem(TOKEN_KEY);
}

let token = pairedToken();
let store = null;
let online = null; // unknown until the server answers (or does not)
let choice = null; // {list, type}
let refusedMessage = null;
const accepted = new Map(); // `${list}\0${serial}` -> [{type, scanned_at}] this door's accepted scans
const inFlight = new Set(); // scan_ids being redeemed online right now (not for the batch)

class Offline extends Error {}

/** One request with the device token; rejects with Offline when the server does not answer in time. */
async function request(method, path, { body, headers = {}, timeout = 8000 } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  try {
    const response = await fetch(path, {
      method,
      headers: {
        Accept: "application/json",
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: controller.signal,
    });
    setOnline(true);
    return response;
  } catch {
    setOnline(false);
    throw new Offline(`cannot reach the server for ${path}`);
  } finally {
    clearTimeout(timer);
  }
}

// --- the door's clock -----------------------------------------------------------------------

let lastScanAt = 0; // the door time of this door's latest scan

/**
 * Door time: this device's clock corrected by the offset measured at the last bundle sync, and
 * never earlier than this door's previous scan. A sync may move the clock back (the phone ran
 * fast; or the server's clock stands still, EVENTDESK_NOW), and a scan judged before the one
 * it follows would not see it: the same ticket twice would be let in twice.
 */
export const doorNow = () => Math.max(Date.now() + (store?.meta?.clock_offset ?? 0), lastScanAt);

/** ISO 8601 with the event zone's offset, to the second: "2014-10-20T14:30:05+02:00". */
export function isoInZone(ms, timeZone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", hourCycle: "h23", timeZoneName: "longOffset",
    }).formatToParts(new Date(ms)).map((part) => [part.type, part.value]),
  ); // prettier-ignore
  const offset = parts.timeZoneName.replace("GMT", "") || "+00:00";
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}:${parts.second}${offset}`;
}

const clock = (ms) =>
  new Intl.DateTimeFormat("en-GB", { timeZone: store?.meta?.timezone || "UTC", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date(ms));

// --- status line ----------------------------------------------------------------------------

function setOnline(value) {
  if (online !== value) {
    online = value;
    showStatus();
  }
}

function age(ms) {
  const minutes = Math.round((Date.now() - ms) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 90) return `${minutes} minute${minutes === 1 ? "" : "s"} ago`;
  return `${Math.round(minutes / 60)} hours ago`;
}

let waiting = 0;
let statusSoon = null;
/** The status line, redrawn at most every 300 ms: a scan's answer need not wait for it. */
function showStatus() {
  statusSoon ??= setTimeout(() => {
    statusSoon = null;
    drawStatus();
  }, 300);
}

async function drawStatus() {
  const line = $("data-age");
  if (!line) return;
  if (refusedMessage) {
    line.textContent = refusedMessage;
    line.classList.add("offline");
    return;
  }
  if (store) waiting = await store.pendingCount();
  const parts = [online === false ? "Offline: the server does not answer" : online ? "Online" : "Connecting…"];
  parts.push(store?.hasBundle ? `door bundle checked ${age(store.meta.synced_at)}` : "no door bundle yet");
  parts.push(`${waiting} scan${waiting === 1 ? "" : "s"} waiting to upload`);
  line.textContent = parts.join(" · ");
  line.dataset.waiting = String(waiting);
  line.classList.toggle("offline", online === false);
}

// --- the bundle -----------------------------------------------------------------------------

let syncing = null;
/** Refresh the bundle (a delta when possible); one at a time. */
function refreshBundle() {
  syncing ??= (async () => {
    try {
      // Eventdesk-Pending: how many scans this door still holds, for the organiser's desk page.
      const fetchBundle = async (path, headers) =>
        request("GET", path, { headers: { ...headers, "Eventdesk-Pending": String(await store.pendingCount()) }, timeout: 60000 });
      const report = await syncBundle(store, fetchBundle, token);
      if (report.kind === "full") fillLists();
    } catch (problem) {
      if (problem instanceof DeviceRefused) await deviceRefused();
      else if (!(problem instanceof Offline)) console.warn("door bundle not refreshed:", problem);
    } finally {
      syncing = null;
      showStatus();
    }
  })();
  return syncing;
}

// --- scanning -------------------------------------------------------------------------------

const keyOf = (list, serial) => `${list}\u0000${serial}`;

function remember(record) {
  lastScanAt = Math.max(lastScanAt, new Date(record.scanned_at).getTime() || 0);
  if (record.result !== "ok" || !record.serial || record.event !== slug) return;
  const key = keyOf(record.list, record.serial);
  if (!accepted.has(key)) accepted.set(key, []);
  accepted.get(key).push({ type: record.type, scanned_at: record.scanned_at });
}

const newScanId = () => crypto.randomUUID().replaceAll("-", "");

let queue = Promise.resolve();
/**
 * Judge one decoded code, journal it, paint the verdict; then redeem it online. Scans run one
 * after another, so each sees the ones before it. Resolves to the local verdict once painted.
 */
export function scanCode(text) {
  const next = queue.then(() => scanNow(text));
  queue = next.catch(() => {});
  return next;
}

async function scanNow(text) {
  if (!choice || !store?.hasBundle) return null;
  const payload = text.trim();
  const at = doorNow();
  const serial = parseTicket(payload)?.serialHex;
  const verdict = await judge({
    payload, list: choice.list, type: choice.type, at, bundle: store.bundle(),
    accepted: serial ? accepted.get(keyOf(choice.list, serial)) || [] : [],
  }); // prettier-ignore
  const record = {
    scan_id: newScanId(), event: slug, list: choice.list, type: choice.type, payload,
    scanned_at: isoInZone(verdict.at, store.meta.timezone), result: verdict.result, serial: verdict.serial,
  }; // prettier-ignore
  await store.append(record); // in the journal before anyone sees the verdict: nothing shown is lost
  remember(record);
  showVerdict(verdict, record);
  redeemOnline(record); // also when last seen offline: the first answer says the network is back
  if (verdict.result === "unknown_ticket") refreshBundle(); // registered since the last sync, most likely
  return verdict;
}

const sent = (record) => ({
  scan_id: record.scan_id, payload: record.payload, list: record.list, type: record.type, scanned_at: record.scanned_at,
}); // prettier-ignore

/** What the journal keeps of a server's answer: the verdict, not the name (that stays in the bundle). */
function kept(answer) {
  const { attendee, ...rest } = answer || {};
  return rest;
}

/** A server answer that settles a scan: a verdict, or a refusal of the request that will not change. */
const settles = (status, body) => Boolean(body?.result) || ([400, 404, 409, 422].includes(status) && body?.error);

async function redeemOnline(record) {
  inFlight.add(record.scan_id);
  try {
    let response;
    try {
      response = await request("POST", `${API}/checkins`, { body: sent(record), timeout: REDEEM_TIMEOUT_MS });
    } catch {
      return; // kept in the journal for the batch upload
    }
    if (response.status === 401) return deviceRefused();
    const body = await response.json().catch(() => null);
    if (!settles(response.status, body)) return;
    await store.answered({ [record.scan_id]: kept(body) });
    if (body.result && body.result !== record.result) showServerVerdict(record, body);
    // Only a differing answer changes the list (reading the whole journal after every scan
    // held the next scan's journal write back: bench/door_page_bench.py).
    if (isConflict({ ...record, server: body })) showConflicts();
  } finally {
    inFlight.delete(record.scan_id);
    showStatus();
  }
}

let uploading = null;
/** Send the journal's unanswered scans in batches; the server's verdicts are recorded beside them. */
function uploadPending() {
  uploading ??= (async () => {
    try {
      if (!store || !token) return;
      const scans = (await store.pending()).filter((scan) => !inFlight.has(scan.scan_id));
      for (let start = 0; start < scans.length; start += BATCH) {
        const chunk = scans.slice(start, start + BATCH);
        const response = await request("POST", `${API}/checkins/batch`, { body: { scans: chunk.map(sent) }, timeout: 30000 });
        if (response.status === 401) return deviceRefused();
        if (response.status !== 200) return;
        const results = (await response.json()).results;
        if (!Array.isArray(results) || results.length !== chunk.length) return;
        const answers = {};
        for (const [index, scan] of chunk.entries()) {
          const answer = results[index];
          if (answer?.error === "scan_id_reused") {
            // Its online redeem reached the server after all (its reply was lost): ask again
            // the same way, which repeats the stored verdict.
            redeemOnline(scan);
          } else answers[scan.scan_id] = kept(answer);
        }
        await store.answered(answers);
      }
      if (scans.length) showConflicts();
    } catch (problem) {
      if (!(problem instanceof Offline)) console.warn("upload failed:", problem);
    } finally {
      uploading = null;
      showStatus();
    }
  })();
  return uploading;
}

/** The server refused this device's token (revoked): no personal data stays on this phone. */
async function deviceRefused() {
  if (refusedMessage) return;
  await store.deleteBundle();
  await store.keepOnlyPending();
  const left = (await store.pending()).length;
  localStorage.removeItem(TOKEN_KEY);
  token = null;
  choice = null;
  stopCamera();
  refusedMessage =
    "This door was unpaired by the organiser (its token is revoked): the door bundle with names was deleted from this phone" +
    (left ? `; ${left} scan${left === 1 ? "" : "s"} not yet uploaded ${left === 1 ? "is" : "are"} kept (no names) for the next pairing link.` : ".");
  $("door-scanning").hidden = true;
  $("door-setup").hidden = true;
  $("verdict").hidden = true;
  const unpaired = $("door-unpaired");
  unpaired.hidden = false;
  showStatus();
}

// --- the verdict on screen ------------------------------------------------------------------

const TONE = { ok: "ok", already_checked_in: "warn" };
const WHY = {
  revoked: "re-issued or cancelled: send to the desk",
  invalid_signature: "forged or damaged code",
  unknown_ticket: "genuine code, not in this door's list of tickets: send to the desk",
  malformed: "not a readable Eventdesk ticket",
};

// Control characters and invisible marks that reorder text are dropped from what attendees
// typed (as client_cli/safetext.py does): "Ann\u202Eevil" must not read as someone else.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/g;
export const clean = (text) => String(text ?? "").replace(UNSAFE, "");

function who(holder) {
  if (!holder) return "";
  let text = clean(holder.name);
  if (holder.organisation) text += ` — ${clean(holder.organisation)}`;
  return text;
}

function reasonOf(verdict) {
  if (verdict.result === "not_on_list") return `Not admitted through ${listName(choice?.list)}${verdict.reason ? `: ${verdict.reason}` : ""}`;
  if (verdict.result === "wrong_event") return `This ticket is for ${clean(verdict.ticketEvent || "another event")}`;
  return WHY[verdict.result] ? WHY[verdict.result][0].toUpperCase() + WHY[verdict.result].slice(1) : "";
}

function headline(verdict, type) {
  if (verdict.result === "ok") return type === "exit" ? "OK — exit" : MESSAGES.ok;
  if (verdict.result === "already_checked_in" && verdict.insideSince) return `${MESSAGES.already_checked_in} at ${clock(verdict.insideSince)}`;
  return MESSAGES[verdict.result];
}

let shownScan = null;
let hideTimer = null;
function showVerdict(verdict, record) {
  const box = $("verdict");
  box.className = `verdict ${TONE[verdict.result] || "bad"}`;
  box.dataset.result = verdict.result;
  box.dataset.scanId = record.scan_id;
  delete box.dataset.serverResult;
  $("verdict-word").textContent = headline(verdict, record.type);
  $("verdict-name").textContent = who(verdict.holder);
  $("verdict-reason").textContent = reasonOf(verdict);
  $("verdict-server").textContent = "";
  box.hidden = false;
  shownScan = record.scan_id;
  addHistory(verdict, record);
  buzz(verdict.result);
  clearTimeout(hideTimer);
  hideTimer = setTimeout(hideVerdict, VERDICT_SHOWN_MS);
}

function showServerVerdict(record, answer) {
  const line = document.querySelector(`#door-history [data-scan-id="${CSS.escape(record.scan_id)}"] .server`);
  const text = `Server: ${MESSAGES[answer.result] || answer.result}${answer.first_entry?.at ? ` (first entry ${clock(new Date(answer.first_entry.at).getTime())}${answer.first_entry.device ? ` at ${clean(answer.first_entry.device)}` : ""})` : ""}`;
  if (line) line.textContent = text;
  if (shownScan !== record.scan_id) return;
  const box = $("verdict");
  box.className = `verdict ${TONE[answer.result] || "bad"}`;
  box.dataset.serverResult = answer.result;
  $("verdict-server").textContent = text;
  buzz(answer.result);
}

function hideVerdict() {
  $("verdict").hidden = true;
  shownScan = null;
  if (!cameraOn) $("wedge-input")?.focus();
}

function addHistory(verdict, record) {
  const item = document.createElement("li");
  item.dataset.scanId = record.scan_id;
  item.dataset.result = verdict.result;
  item.className = TONE[verdict.result] || "bad";
  const main = document.createElement("span");
  main.textContent = `${clock(verdict.at)} ${headline(verdict, record.type)}${verdict.holder ? ` — ${who(verdict.holder)}` : ""}`;
  const server = document.createElement("span");
  server.className = "server";
  item.append(main, " ", server);
  const history = $("door-history");
  history.prepend(item);
  while (history.children.length > 20) history.lastElementChild.remove();
}

let sound = null; // one AudioContext, made after the first tap (browsers allow sound only then)

function buzz(result) {
  // Vibration and sound are allowed only after the person has touched the page (else a warning).
  if (!navigator.userActivation?.hasBeenActive) return;
  try {
    navigator.vibrate?.(result === "ok" ? 80 : [200, 100, 200]);
  } catch {
    // vibration is a nicety: not on this device
  }
  beep(result === "ok" ? [880] : result === "already_checked_in" ? [660, 660] : [220, 180]);
}

/** Short tones, no sound file: one high for welcome, two for already inside, two low for a refusal. */
function beep(frequencies) {
  try {
    sound ??= new AudioContext();
    let start = sound.currentTime;
    for (const frequency of frequencies) {
      const tone = sound.createOscillator();
      const volume = sound.createGain();
      tone.frequency.value = frequency;
      volume.gain.setValueAtTime(0.2, start);
      volume.gain.exponentialRampToValueAtTime(0.001, start + 0.15);
      tone.connect(volume).connect(sound.destination);
      tone.start(start);
      tone.stop(start + 0.15);
      start += 0.2;
    }
  } catch {
    // no audio here: the screen says it all
  }
}

async function showConflicts() {
  const scans = (await store.scans()).filter(isConflict);
  const section = $("door-conflicts");
  section.hidden = !scans.length;
  const bundle = store.hasBundle ? store.bundle() : null;
  const items = await Promise.all(
    scans.map(async (scan) => {
      const server = scan.server;
      const holder = bundle && scan.serial ? await bundle.rosterEntry(scan.serial) : null;
      let text = `${clock(new Date(scan.scanned_at).getTime())} ${listName(scan.list)} ${scan.type}: door said ${scan.result}, server says ${server.result}`;
      if (server.conflict) text += " (flagged: a later entry of someone already inside)";
      if (holder?.name) text += ` — ${clean(holder.name)}`;
      if (server.first_entry?.at) {
        text += `, first entry ${clock(new Date(server.first_entry.at).getTime())}`;
        if (server.first_entry.device) text += ` at ${clean(server.first_entry.device)}`;
      }
      const item = document.createElement("li");
      item.dataset.scanId = scan.scan_id;
      item.textContent = text;
      return item;
    }),
  );
  $("door-conflict-list").replaceChildren(...items);
}

// --- choosing the list ----------------------------------------------------------------------

const listName = (id) => clean(store?.meta?.lists?.find((item) => item.id === id)?.name || id || "");

function fillLists() {
  const select = $("door-list");
  const current = select.value || choice?.list;
  select.replaceChildren(
    ...(store.meta?.lists || []).map((item) => {
      const option = document.createElement("option");
      option.value = item.id;
      option.textContent = `${clean(item.name)} (${clock(new Date(item.start).getTime())}–${clock(new Date(item.end).getTime())})`;
      return option;
    }),
  );
  if (current) select.value = current;
}

function startScanning(list, type, { camera = false } = {}) {
  choice = { list, type };
  $("door-list-name").textContent = `${listName(list)} · ${type === "exit" ? "exits" : "entries"}`;
  $("door-setup").hidden = true;
  $("door-scanning").hidden = false;
  if (camera) startCamera();
  else $("wedge-input").focus();
}

// --- the camera -----------------------------------------------------------------------------

let cameraOn = false;
let stream = null;
let detector = null;
let lastCode = { text: null, at: 0 };

async function decoder() {
  if ("BarcodeDetector" in window) {
    try {
      const formats = await BarcodeDetector.getSupportedFormats();
      if (formats.includes("qr_code")) {
        const native = new BarcodeDetector({ formats: ["qr_code"] });
        return async (video) => (await native.detect(video))[0]?.rawValue ?? null;
      }
    } catch {
      // no usable detector: fall back to jsQR
    }
  }
  if (!window.jsQR) {
    await new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/static/vendor/jsQR.js"; // same origin, no eval: within the page's CSP
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) return null;
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    const image = context.getImageData(0, 0, width, height);
    return window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" })?.data ?? null;
  };
}

async function startCamera() {
  const video = $("camera");
  const button = $("camera-toggle");
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (problem) {
    $("camera-status").textContent = `No camera: ${problem.message || problem.name}. Type or scan codes into the field below.`;
    $("wedge-input").focus();
    return;
  }
  video.srcObject = stream;
  video.hidden = false;
  await video.play().catch(() => {});
  cameraOn = true;
  button.setAttribute("aria-pressed", "true");
  button.textContent = "Stop the camera";
  $("camera-status").textContent = "Hold the ticket's QR code in front of the camera.";
  detector ??= await decoder().catch(() => null);
  if (!detector) {
    $("camera-status").textContent = "This browser cannot read QR codes from the camera: use a scanner or type the code.";
    return;
  }
  looking(video);
}

async function looking(video) {
  while (cameraOn) {
    let text = null;
    try {
      text = await detector(video);
    } catch {
      text = null;
    }
    const now = Date.now();
    if (text && (text !== lastCode.text || now - lastCode.at > SAME_CODE_MS)) {
      lastCode = { text, at: now };
      await scanCode(text);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}

function stopCamera() {
  cameraOn = false;
  stream?.getTracks().forEach((track) => track.stop());
  stream = null;
  const video = $("camera");
  if (video) {
    video.srcObject = null;
    video.hidden = true;
  }
  const button = $("camera-toggle");
  button?.setAttribute("aria-pressed", "false");
  if (button) button.textContent = "Use the camera";
  const status = $("camera-status");
  if (status) status.textContent = "";
}

// --- start ----------------------------------------------------------------------------------

function wire() {
  $("door-setup").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    startScanning(form.get("list"), form.get("type") === "exit" ? "exit" : "entry");
  });
  $("door-change").addEventListener("click", () => {
    stopCamera();
    choice = null;
    $("door-scanning").hidden = true;
    $("door-setup").hidden = false;
  });
  $("camera-toggle").addEventListener("click", () => (cameraOn ? stopCamera() : startCamera()));
  $("wedge").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("wedge-input");
    const text = input.value;
    input.value = "";
    if (text.trim()) scanCode(text);
  });
  $("verdict-close").addEventListener("click", hideVerdict);
  $("verdict").addEventListener("click", (event) => {
    if (event.target === event.currentTarget) hideVerdict();
  });
  // A scanner types wherever the focus is: bring it back to the field when the camera is off.
  document.addEventListener("keydown", (event) => {
    const input = $("wedge-input");
    if (choice && !cameraOn && document.activeElement !== input && event.key.length === 1 && !event.ctrlKey && !event.metaKey
        && !["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName)) input.focus(); // prettier-ignore
  });
  window.addEventListener("online", () => uploadPending().then(refreshBundle));
}

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(`/e/${slug}/sw.js`, { scope: `/e/${slug}/` }).catch(() => {});
  }
  if (!token) {
    $("door-unpaired").hidden = false;
    $("data-age").textContent = "Not paired: this browser has no door token.";
    return;
  }
  store = await DoorStore.open(slug);
  wire();
  for (const record of await store.scans()) remember(record);
  showStatus();
  if (!store.hasBundle) {
    $("data-age").textContent = "Fetching the door bundle…";
    await refreshBundle();
  } else {
    refreshBundle(); // in the background: the stored bundle judges meanwhile
  }
  if (refusedMessage) return;
  if (!store.hasBundle) {
    $("data-age").textContent = "No door bundle on this device yet: connect to the network once to fetch it.";
    setTimeout(() => location.reload(), 15000);
    return;
  }
  fillLists();
  showConflicts();
  uploadPending();
  setInterval(refreshBundle, SYNC_EVERY_MS);
  setInterval(uploadPending, UPLOAD_EVERY_MS);
  setInterval(showStatus, 30000);
  const query = new URLSearchParams(location.search);
  const wanted = query.get("list");
  const known = (store.meta.lists || []).find((item) => item.id === wanted || item.name === wanted);
  if (known) startScanning(known.id, query.get("type") === "exit" ? "exit" : "entry", { camera: true });
  else $("door-setup").hidden = false;
}

export const ready = start();
/** For tests and the bench: upload now, refresh now. */
export { refreshBundle, uploadPending };
