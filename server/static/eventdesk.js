// Every event page runs this: the service worker, the age of what is shown, the bookmark
// stars, bookmarks queued offline, and what changed in my schedule since the last visit.
// Pages read fine without it; it adds what needs the attendee's token or the network.
import { ageText, clockTime, dayLabel } from "./format.js";
import * as store from "./store.js";

export { ageText, clockTime, dayLabel };

const slug = store.slug;

/** Say how old the data is, and whether we are offline, in the page's status line. */
export function showAge(at, stale, what = "the programme") {
  const line = document.getElementById("data-age");
  if (!line) return;
  line.classList.toggle("offline", stale);
  if (!at) line.textContent = stale ? "Offline: nothing saved on this device yet." : "";
  else if (stale) line.textContent = `Offline: showing ${what} as saved ${ageText(at)}.`;
  else line.textContent = `Up to date: ${what} checked ${ageText(at)}.`;
}

/** A message in the page's notice area, for a few seconds unless `sticky`. */
export function say(text, { sticky = false } = {}) {
  const area = noticeArea();
  const item = document.createElement("p");
  item.className = "notice";
  item.textContent = text;
  area.append(item);
  if (!sticky) setTimeout(() => item.remove(), 12000);
  return item;
}

function noticeArea() {
  let area = document.getElementById("notices");
  if (!area) {
    area = document.createElement("div");
    area.id = "notices";
    area.setAttribute("role", "status");
    area.setAttribute("aria-live", "polite");
    document.getElementById("main").prepend(area);
  }
  return area;
}

/** Notices kept until dismissed: schedule changes, and bookmarks the server refused. */
function showKept() {
  const area = noticeArea();
  area.querySelectorAll(".kept").forEach((node) => node.remove());
  store.notices().forEach((notice, index) => {
    area.append(keptNotice(notice.text, () => store.dismissNotice(index)));
  });
  for (const item of store.refused()) {
    const what = item.add ? "Not added to your schedule" : "Not removed from your schedule";
    const text = `${what}: “${item.title || item.session}”. ${capitalise(item.message)}.`;
    area.append(keptNotice(text, () => store.dismissRefused(item.session)));
  }
}

function keptNotice(text, dismiss) {
  const item = document.createElement("p");
  item.className = "notice kept";
  item.append(document.createTextNode(text + " "));
  const button = document.createElement("button");
  button.type = "button";
  button.className = "dismiss";
  button.textContent = "Dismiss";
  button.addEventListener("click", () => {
    dismiss();
    showKept();
  });
  item.append(button);
  return item;
}

const capitalise = (text) => (text ? text[0].toUpperCase() + text.slice(1) : "");

/** What moved, changed time or was cancelled among sessions in both schedules, in words. */
export function scheduleChanges(previous, current, rooms) {
  if (!previous) return [];
  const before = new Map(previous.items.map((item) => [item.session.id, item.session]));
  const roomName = (id) => rooms[id]?.name || id || "no room";
  const texts = [];
  for (const { session } of current.items) {
    const old = before.get(session.id);
    if (!old) continue;
    const what = `Your ${clockTime(old.start)} session “${session.title}”`;
    if (session.status === "cancelled" && old.status !== "cancelled") texts.push(`${what} was cancelled.`);
    else if (old.start !== session.start) {
      const day = old.start.slice(0, 10) === session.start.slice(0, 10) ? "" : ` on ${dayLabel(session.start.slice(0, 10))}`;
      texts.push(`${what} now starts at ${clockTime(session.start)}${day}, in ${roomName(session.room)}.`);
    } else if (old.room !== session.room) texts.push(`${what} moved to ${roomName(session.room)}.`);
  }
  return texts;
}

async function publicRead(name, path) {
  const kept = store.recall(name);
  try {
    const answer = await store.api("GET", path, { etag: kept?.etag, auth: false, timeout: 5000 });
    if (answer.status === 200) {
      store.remember(name, answer.body, answer.etag);
      return { data: answer.body, at: Date.now(), stale: false };
    }
    if (answer.status === 304 && kept) {
      store.touch(name);
      return { data: kept.data, at: Date.now(), stale: false };
    }
  } catch (problem) {
    if (!(problem instanceof store.Offline)) throw problem;
  }
  return { data: kept?.data ?? null, at: kept?.at ?? null, stale: true };
}

/** My schedule, kept for offline; new changes to bookmarked sessions become notices. */
export async function loadSchedule(rooms) {
  if (!store.token()) return null;
  const schedule = await store.personal("schedule", "/api/v1/me/schedule");
  if (schedule && !schedule.stale && schedule.previous && schedule.data !== schedule.previous) {
    store.addNotices(scheduleChanges(schedule.previous, schedule.data, rooms));
  }
  return schedule;
}

// --- bookmark stars -------------------------------------------------------------------------

function markStar(button, pressed, pending = false) {
  button.setAttribute("aria-pressed", String(pressed));
  button.classList.toggle("pending", pending);
  const title = button.dataset.title || "this session";
  button.setAttribute("aria-label", pressed ? `Remove “${title}” from my schedule` : `Add “${title}” to my schedule`);
  button.textContent = pressed ? "★" : "☆";
}

function titleOf(sessionId, schedule) {
  const star = document.querySelector(`.star[data-session="${CSS.escape(sessionId)}"]`);
  if (star?.dataset.title) return star.dataset.title;
  return schedule?.items.find((item) => item.session.id === sessionId)?.session.title || sessionId;
}

export function wireStars(schedule) {
  const stars = document.querySelectorAll(".star[data-session]");
  if (!store.token()) return;
  const chosen = new Set((schedule?.items || []).map((item) => item.session.id));
  const pending = new Map(store.queued().map((item) => [item.session, item.add]));
  for (const button of stars) {
    const id = button.dataset.session;
    markStar(button, pending.has(id) ? pending.get(id) : chosen.has(id), pending.has(id));
    button.hidden = false;
    button.addEventListener("click", () => toggle(button, schedule));
  }
}

async function toggle(button, schedule) {
  const id = button.dataset.session;
  const add = button.getAttribute("aria-pressed") !== "true";
  const title = button.dataset.title || id;
  let answer;
  try {
    answer = await store.api(add ? "PUT" : "DELETE", `/api/v1/me/schedule/${encodeURIComponent(id)}`);
  } catch (problem) {
    if (!(problem instanceof store.Offline)) throw problem;
    store.enqueue(id, add, title);
    markStar(button, add, true);
    say(`Offline: “${title}” is ${add ? "starred" : "unstarred"} on this phone and will be sent when you are back online.`);
    return;
  }
  if (answer.status === 200 || answer.status === 201) {
    markStar(button, true);
    const parts = [`Added “${title}” to your schedule.`];
    const overlaps = answer.body.overlaps || [];
    if (overlaps.length) parts.push(`It overlaps with ${overlaps.map((other) => `“${titleOf(other, schedule)}”`).join(", ")}.`);
    if (answer.body.seats_left !== null && answer.body.seats_left !== undefined) {
      parts.push(`${answer.body.seats_left} seat${answer.body.seats_left === 1 ? "" : "s"} left.`);
    }
    say(parts.join(" "));
  } else if (answer.status === 204) {
    markStar(button, false);
    say(`Removed “${title}” from your schedule.`);
  } else if (answer.status === 409) {
    markStar(button, false);
    const why = answer.body?.reason === "full" ? "it is full" : answer.body?.reason === "cancelled" ? "it is cancelled" : answer.body?.message;
    say(`Sorry, “${title}” cannot be added to your schedule: ${why}.`, { sticky: true });
  } else {
    say(`That did not work: ${answer.body?.message || `the server answered ${answer.status}`}.`, { sticky: true });
  }
  document.dispatchEvent(new CustomEvent("eventdesk:schedule-changed"));
}

// --- start ----------------------------------------------------------------------------------

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(`/e/${slug}/sw.js`, { scope: `/e/${slug}/` }).catch(() => {});
  }
  const [event, rooms] = await Promise.all([
    publicRead("event", `/api/v1/events/${slug}`),
    publicRead("rooms", `/api/v1/events/${slug}/rooms`),
  ]);
  const roomsById = Object.fromEntries((rooms.data || []).map((room) => [room.id, room]));
  showAge(event.at, event.stale);
  if (store.token() && !event.stale) {
    const result = await store.sendQueued();
    if (result.sent) say(`Sent ${result.sent} bookmark${result.sent === 1 ? "" : "s"} made offline.`);
  }
  const schedule = await loadSchedule(roomsById);
  wireStars(schedule?.data);
  showKept();
  return { event, rooms: roomsById, schedule, online: !event.stale };
}

window.addEventListener("online", async () => {
  const result = await store.sendQueued();
  if (result.sent) say(`Back online: sent ${result.sent} bookmark${result.sent === 1 ? "" : "s"} made offline.`);
  if (result.sent || result.refused) {
    showKept();
    document.dispatchEvent(new CustomEvent("eventdesk:schedule-changed"));
  }
});

export const ready = start();
