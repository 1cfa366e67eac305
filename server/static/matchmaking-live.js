// The organiser's live view of the matchmaking morning: the slot under way table by table (both
// parties, whether each has checked in on the Matchmaking list, whether the meeting was held),
// the next slot below, and how old the figures are. Signed in like the desk (store.deskToken),
// refreshed every 15 seconds; when the server cannot be reached it keeps the last view and says so.
import { ageText, clockTime } from "./format.js";
import { $, element } from "./dom.js";
import { deskSignIn } from "./desk-sign-in.js";
import * as store from "./store.js";

const LIVE = `/api/v1/events/${store.slug}/matchmaking/live`;
const REFRESH_MS = 15000;
const AGE_TICK_MS = 5000;

// --- signing in (the desk's token, kept apart from any attendee's) --------------------------

const showSignIn = deskSignIn("live", { start: () => start(), stop: () => clearInterval(timer) });

// --- drawing --------------------------------------------------------------------------------

const span = (slot) => `${clockTime(slot.start)}–${clockTime(slot.end)}`;

function party(side) {
  const node = element("div", undefined, `party ${side.checked_in ? "arrived" : "missing"}`);
  const name = element("p", undefined, "party-name");
  name.append(element("span", undefined, "dot"), document.createTextNode(side.name));
  const where = element("p", `${side.organisation} · ${side.cluster} (${side.country})`, "party-org");
  const arrival = side.checked_in ? `Arrived ${clockTime(side.checked_in_at)}` : "Not arrived";
  node.append(name, where, element("p", side.synthetic ? `${arrival} · demo data` : arrival, "party-arrival"));
  return node;
}

function heldText(meeting) {
  if (meeting.held) return "Held";
  const said = [meeting.held_by.requester, meeting.held_by.partner];
  if (said.includes(false)) return "Not held, says one side";
  if (said.includes(true)) return "Held, says one side";
  return "";
}

function tableCard(meeting) {
  const card = element("li", undefined, "table-card");
  card.dataset.table = meeting.table;
  card.dataset.meeting = meeting.id;
  const head = element("h3", `Table ${meeting.table}`);
  const held = heldText(meeting);
  if (held) head.append(element("span", held, meeting.held ? "held-mark held" : "held-mark"));
  card.append(head, party(meeting.requester), party(meeting.partner));
  return card;
}

function drawRound(round, listId, noteId, headingId, label, slots, tables) {
  if (!round) {
    $(headingId).textContent = label;
    const upcoming = slots.find((slot) => slot.state === "next");
    const allPast = slots.every((slot) => slot.state === "past");
    const underWay = slots.some((slot) => slot.state === "now");
    let note = "No slot is under way.";
    if (label === "Next") note = underWay ? "None: this is the last slot." : "None: the morning is over.";
    else if (allPast) note = "The morning is over.";
    else if (upcoming && slots[0].state === "next") note = `The first slot begins at ${clockTime(upcoming.start)}.`;
    else if (upcoming) note = `Break: the next slot begins at ${clockTime(upcoming.start)}.`;
    $(noteId).textContent = note;
    $(listId).replaceChildren();
    return;
  }
  $(headingId).textContent = `${label} · ${span(round)}`;
  const free = tables.length - round.meetings.length;
  $(noteId).textContent = `${round.meetings.length} meeting${round.meetings.length === 1 ? "" : "s"}, ${free} table${free === 1 ? "" : "s"} free.`;
  $(listId).replaceChildren(...round.meetings.map(tableCard));
}

function drawCounts(counts) {
  const figures = [
    ["Placed", counts.placed],
    ["Held so far", counts.held],
    ["Meetings now", counts.current_meetings],
    ["Not yet arrived (now)", counts.not_arrived],
  ];
  $("live-counts").replaceChildren(
    ...figures.map(([label, value]) => {
      const item = element("div");
      item.append(element("dt", label), element("dd", String(value)));
      return item;
    }),
  );
}

function drawSlots(slots) {
  $("live-slots").replaceChildren(
    ...slots.map((slot) => {
      const item = element("li", clockTime(slot.start), `slot ${slot.state}`);
      if (slot.state === "now") item.setAttribute("aria-current", "time");
      if (slot.state === "now" || slot.state === "next") item.append(element("span", slot.state === "now" ? " now" : " next", "slot-state"));
      return item;
    }),
  );
}

function draw(live) {
  drawCounts(live.counts);
  drawSlots(live.slots);
  drawRound(live.current, "now-tables", "now-note", "now-heading", "Now", live.slots, live.tables);
  drawRound(live.next, "next-tables", "next-note", "next-heading", "Next", live.slots, live.tables);
}

// --- refreshing, and saying how old the view is ----------------------------------------------

let timer = null;
let ageTimer = null;
let fetchedAt = null;
let offline = false;
let serverTime = "";

function showAge() {
  const line = $("live-updated");
  if (fetchedAt === null) {
    line.textContent = offline ? "Offline: the live view needs the network. Trying again…" : "Loading…";
    return;
  }
  const age = ageText(fetchedAt);
  const clock = serverTime ? ` · server clock ${serverTime}` : "";
  line.textContent = offline ? `Offline: showing the view from ${age}${clock}. Trying again…` : `Updated ${age}${clock}.`;
  line.classList.toggle("stale", offline);
}

async function refresh() {
  let answer;
  try {
    answer = await store.api("GET", LIVE, { bearer: store.deskToken(), auth: false });
  } catch {
    offline = true;
    showAge();
    return;
  }
  offline = false;
  if (answer.status === 401 || answer.status === 403) {
    store.setDeskToken(null);
    clearInterval(timer);
    showSignIn(`This token may not see the live view: ${answer.body?.message || answer.status}. Sign in again.`);
    return;
  }
  if (answer.status !== 200) {
    $("live-updated").textContent = `The live view is not available: ${answer.body?.message || answer.status}.`;
    return;
  }
  fetchedAt = Date.now();
  serverTime = clockTime(answer.body.now);
  draw(answer.body);
  showAge();
}

async function start() {
  if (!store.deskToken()) return showSignIn();
  $("live-sign-in").hidden = true;
  $("live").hidden = false;
  showAge();
  await refresh();
  clearInterval(timer);
  clearInterval(ageTimer);
  timer = setInterval(refresh, REFRESH_MS);
  ageTimer = setInterval(showAge, AGE_TICK_MS);
}

start();
