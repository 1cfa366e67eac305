// "My agenda": my sessions and meetings, one table per day, made to be printed on one page
// (eventdesk.css's print rules drop the navigation). Drawn from the schedule this browser keeps,
// so it prints offline too.
import { clockTime, dayLabel, loadSchedule, ready, showAge } from "./eventdesk.js";
import { element } from "./dom.js";
import * as store from "./store.js";

const target = document.getElementById("my-agenda");

function row(start, end, what, where, cancelled) {
  const line = element("tr", undefined, cancelled ? "cancelled" : "");
  line.append(element("td", `${clockTime(start)}–${clockTime(end)}`, "time"), element("td", cancelled ? `${what} (cancelled)` : what), element("td", where));
  return line;
}

function draw(schedule, rooms) {
  const entries = [
    ...schedule.items.map(({ session }) => ({
      start: session.start,
      line: () => row(session.start, session.end, session.title, rooms[session.room]?.name || "", session.status === "cancelled"),
    })),
    ...(schedule.meetings || []).map((meeting) => ({
      start: meeting.start,
      line: () => row(meeting.start, meeting.end, meeting.title, meeting.location, meeting.status === "cancelled"),
    })),
  ].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  if (!entries.length) {
    target.replaceChildren(element("p", "Nothing in your agenda yet: star sessions in the programme, or request meetings in Matchmaking."));
    return;
  }
  const days = new Map();
  for (const entry of entries) {
    const day = entry.start.slice(0, 10);
    if (!days.has(day)) days.set(day, []);
    days.get(day).push(entry);
  }
  const sections = [];
  for (const [day, dayEntries] of days) {
    const section = element("section");
    section.append(element("h2", dayLabel(day)));
    const table = element("table");
    const head = element("tr");
    for (const title of ["Time", "What", "Where"]) {
      const cell = element("th", title);
      cell.scope = "col";
      head.append(cell);
    }
    const body = element("tbody");
    dayEntries.forEach((entry) => body.append(entry.line()));
    const thead = element("thead");
    thead.append(head);
    table.append(thead, body);
    section.append(table);
    sections.push(section);
  }
  target.replaceChildren(...sections);
}

async function render() {
  const { rooms } = await ready;
  if (!store.token()) {
    target.replaceChildren(element("p", "Open the personal link the organiser sent you (by email) on this device to print your agenda."));
    return;
  }
  const schedule = await loadSchedule(rooms);
  if (!schedule) return;
  showAge(schedule.at, schedule.stale, "your agenda");
  draw(schedule.data, rooms);
}

document.getElementById("print-agenda").addEventListener("click", () => window.print());
render();
