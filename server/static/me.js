// "My schedule": the bookmarked sessions and my placed matchmaking meetings by day, overlaps and
// seats left as the API gives them; drawn from what this browser kept when offline.
import { clockTime, dayLabel, loadSchedule, ready, showAge, wireStars } from "./eventdesk.js";
import { element } from "./dom.js";
import * as store from "./store.js";

const target = document.getElementById("my-schedule");

function signedOut() {
  target.replaceChildren(
    element("p", "Open the personal link the organiser sent you (by email) on this phone to see your schedule here."),
  );
}

/** "Cancelled" in words beside a struck-out title, as the programme shows it. */
function cancelledFlag() {
  const flags = element("p", undefined, "flags");
  flags.append(element("strong", "Cancelled", "flag flag-cancelled"));
  return flags;
}

function timeElement(iso) {
  const node = element("time", clockTime(iso));
  node.dateTime = iso;
  return node;
}

/** One bookmark, drawn as the programme draws a session (server/templates/_sessions.html). */
function sessionEntry(item, rooms, titles) {
  const { session } = item;
  const cancelled = session.status === "cancelled";
  const entry = element("li", undefined, "session" + (cancelled ? " cancelled" : ""));
  const when = element("p", undefined, "when");
  when.append(timeElement(session.start), element("span", " to ", "visually-hidden"), timeElement(session.end));
  const what = element("div", undefined, "what");
  const heading = element("h3", undefined, "session-title");
  const link = element("a");
  link.href = `/e/${store.slug}/sessions/${encodeURIComponent(session.id)}`;
  link.append(cancelled ? element("del", session.title) : document.createTextNode(session.title));
  heading.append(link);
  what.append(heading);
  if (cancelled) what.append(cancelledFlag());
  const meta = element("p", undefined, "meta");
  if (session.room) meta.append(element("span", rooms[session.room]?.name || session.room));
  if (item.seats_left !== null && item.seats_left !== undefined) {
    meta.append(element("span", `${item.seats_left} seat${item.seats_left === 1 ? "" : "s"} left`));
  }
  if (meta.childNodes.length) what.append(meta);
  if (item.overlaps.length) {
    const names = item.overlaps.map((id) => `“${titles.get(id) || id}”`).join(", ");
    what.append(element("p", `Overlaps with ${names}.`, "warning"));
  }
  const star = element("button", "★", "star");
  star.type = "button";
  star.dataset.session = session.id;
  star.dataset.title = session.title;
  star.hidden = true;
  entry.append(when, what, star);
  return entry;
}

/** A placed matchmaking meeting: its time, partner, table and room (cancelled ones struck out). */
function meetingEntry(meeting) {
  const cancelled = meeting.status === "cancelled";
  const entry = element("li", undefined, "session meeting" + (cancelled ? " cancelled" : ""));
  entry.dataset.meeting = meeting.id;
  const when = element("p", undefined, "when");
  when.append(timeElement(meeting.start), element("span", " to ", "visually-hidden"), timeElement(meeting.end));
  const what = element("div", undefined, "what");
  const heading = element("h3", undefined, "session-title");
  heading.append(cancelled ? element("del", meeting.title) : document.createTextNode(meeting.title));
  what.append(heading);
  if (cancelled) what.append(cancelledFlag());
  const meta = element("p", undefined, "meta");
  meta.append(element("span", meeting.location, "meeting-table"));
  const link = element("a", "Matchmaking");
  link.href = `/e/${store.slug}/me/matchmaking`;
  const more = element("span");
  more.append(link);
  meta.append(more);
  what.append(meta);
  entry.append(when, what);
  return entry;
}

function draw(schedule, rooms) {
  const items = schedule.items;
  const titles = new Map(items.map((item) => [item.session.id, item.session.title]));
  const parts = [];
  if (!items.length) {
    const hint = element("p", "No sessions yet. Star sessions in the ");
    const link = element("a", "programme");
    link.href = `/e/${store.slug}/`;
    hint.append(link, document.createTextNode(" to add them here."));
    parts.push(hint);
  }
  if (schedule.overlap_count) {
    parts.push(element("p", `${schedule.overlap_count} of your sessions overlap another.`, "warning"));
  }
  const days = new Map();
  const entries = [
    ...items.map((item) => ({ start: item.session.start, draw: () => sessionEntry(item, rooms, titles) })),
    ...(schedule.meetings || []).map((meeting) => ({ start: meeting.start, draw: () => meetingEntry(meeting) })),
  ].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  for (const entry of entries) {
    const day = entry.start.slice(0, 10);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(entry);
  }
  for (const [day, dayEntries] of days) {
    const section = element("section");
    section.append(element("h2", dayLabel(day)));
    const list = element("ul", undefined, "sessions");
    dayEntries.forEach((entry) => list.append(entry.draw()));
    section.append(list);
    parts.push(section);
  }
  const waiting = store.queued();
  if (waiting.length) {
    parts.push(element("p", `${waiting.length} change${waiting.length === 1 ? "" : "s"} made offline, waiting to be sent.`, "pending"));
  }
  target.replaceChildren(...parts);
  wireStars(schedule);
}

async function render() {
  const { rooms } = await ready;
  if (!store.token()) return signedOut();
  const schedule = await loadSchedule(rooms);
  if (!schedule) return signedOut();
  showAge(schedule.at, schedule.stale, "your schedule");
  draw(schedule.data, rooms);
}

render();
document.addEventListener("eventdesk:schedule-changed", render);
