// "My schedule": the bookmarked sessions by day, overlaps and seats left as the API gives them,
// then (once matchmaking exists) my meetings; drawn from what this browser kept when offline.
import { clockTime, dayLabel, loadSchedule, ready, showAge } from "./eventdesk.js";
import * as store from "./store.js";

const target = document.getElementById("my-schedule");

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function signedOut() {
  target.replaceChildren(
    element("p", "Open the personal link the organiser sent you (by email) on this phone to see your schedule here."),
  );
}

function sessionEntry(item, rooms, titles) {
  const { session } = item;
  const entry = element("li", undefined, "session" + (session.status === "cancelled" ? " cancelled" : ""));
  const time = element("p", `${clockTime(session.start)}–${clockTime(session.end)}`, "time");
  const link = element("a", session.title);
  link.href = `/e/${store.slug}/sessions/${encodeURIComponent(session.id)}`;
  const heading = element("h3");
  if (session.status === "cancelled") {
    const struck = element("del");
    struck.append(link);
    heading.append(struck);
  } else heading.append(link);
  entry.append(time, heading);
  const facts = [];
  if (session.room) facts.push(rooms[session.room]?.name || session.room);
  if (session.status === "cancelled") facts.push("Cancelled");
  if (item.seats_left !== null && item.seats_left !== undefined) facts.push(`${item.seats_left} seats left`);
  if (facts.length) entry.append(element("p", facts.join(" · "), "facts"));
  if (item.overlaps.length) {
    const names = item.overlaps.map((id) => `“${titles.get(id) || id}”`).join(", ");
    entry.append(element("p", `Overlaps with ${names}.`, "warning"));
  }
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
  for (const item of items) {
    const day = item.session.start.slice(0, 10);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(item);
  }
  for (const [day, dayItems] of days) {
    const section = element("section");
    section.append(element("h2", dayLabel(day)));
    const list = element("ul", undefined, "sessions");
    dayItems.forEach((item) => list.append(sessionEntry(item, rooms, titles)));
    section.append(list);
    parts.push(section);
  }
  // Matchmaking meetings join the schedule here once that part of Eventdesk exists.
  const meetings = schedule.meetings || [];
  if (meetings.length) {
    const section = element("section");
    section.append(element("h2", "My meetings"));
    const list = element("ul", undefined, "sessions");
    for (const meeting of meetings) list.append(element("li", meeting.title || meeting.with || "Meeting"));
    section.append(list);
    parts.push(section);
  }
  const waiting = store.queued();
  if (waiting.length) {
    parts.push(element("p", `${waiting.length} change${waiting.length === 1 ? "" : "s"} made offline, waiting to be sent.`, "pending"));
  }
  target.replaceChildren(...parts);
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
