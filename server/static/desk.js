// The organiser's desk: live counts and arrivals per 15 minutes for each check-in list,
// check-in and check-out by hand (with undo), each door's last contact and scans still to
// upload, and the conflicts offline doors left to review. Refreshes by itself.
import { ageText } from "./format.js";
import { $, element } from "./dom.js";
import { deskSignIn } from "./desk-sign-in.js";
import * as store from "./store.js";

const API = `/api/v1/events/${store.slug}`;
const REFRESH_MS = 10000;

async function call(method, path, body) {
  return store.api(method, path, { body, bearer: store.deskToken(), auth: false });
}

// --- signing in -----------------------------------------------------------------------------

const showSignIn = deskSignIn("desk", { start: () => start() });

// --- counts and arrivals --------------------------------------------------------------------

function arrivalsChart(slots) {
  if (!slots.length) return element("p", "No arrivals yet.", "hint");
  const width = 320;
  const height = 120;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 20}`);
  svg.setAttribute("class", "arrivals");
  svg.setAttribute("role", "img");
  const total = slots.reduce((sum, slot) => sum + slot.count, 0);
  svg.setAttribute("aria-label", `Arrivals per 15 minutes: ${total} in ${slots.length} slots`);
  const most = Math.max(...slots.map((slot) => slot.count), 1);
  const step = Math.min(width / slots.length, 24); // one slot must not look like a full day
  slots.forEach((slot, index) => {
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const barHeight = Math.max(1, Math.round((slot.count / most) * height));
    bar.setAttribute("x", String(index * step + 1));
    bar.setAttribute("y", String(height - barHeight));
    bar.setAttribute("width", String(Math.max(1, step - 2)));
    bar.setAttribute("height", String(barHeight));
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${slot.from.slice(11, 16)}: ${slot.count}`;
    bar.append(title);
    svg.append(bar);
  });
  for (const index of [0, slots.length - 1]) {
    const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
    label.setAttribute("x", String(index === 0 ? 0 : width));
    label.setAttribute("y", String(height + 16));
    label.setAttribute("text-anchor", index === 0 ? "start" : "end");
    label.textContent = slots[index].from.slice(11, 16);
    svg.append(label);
  }
  return svg;
}

function drawCounts(stats) {
  const parts = [];
  for (const list of stats.lists) {
    const section = element("article", undefined, "list-stats");
    section.dataset.list = list.list;
    section.append(element("h3", list.name));
    const figures = element("dl", undefined, "figures");
    for (const [label, value] of [["Checked in", list.checked_in], ["Inside now", list.inside_now], ["Not yet arrived", list.not_yet_arrived]]) {
      const item = element("div");
      item.append(element("dt", label), element("dd", String(value)));
      figures.append(item);
    }
    section.append(figures, arrivalsChart(list.arrivals_per_15_minutes || []));
    parts.push(section);
  }
  $("counts").replaceChildren(...parts);
  const select = $("search-list");
  const chosen = select.value;
  select.replaceChildren(...stats.lists.map((list) => Object.assign(element("option", list.name), { value: list.list })));
  if (chosen) select.value = chosen;
}

// --- by hand --------------------------------------------------------------------------------

function say(text, undo) {
  const line = element("p", text, "notice");
  if (undo) {
    const button = element("button", "Undo");
    button.type = "button";
    button.addEventListener("click", async () => {
      const answer = await call("POST", `${API}/checkins/${undo}/undo`);
      button.remove();
      line.textContent = answer.status === 200 ? `${text} Undone.` : `Not undone: ${answer.body?.message}.`;
      refresh();
    });
    line.append(document.createTextNode(" "), button);
  }
  $("desk-actions").replaceChildren(line);
}

async function byHand(person, type) {
  const list = $("search-list").value;
  const answer = await call("POST", `${API}/checkins/desk`, { attendee: person.id, list, type });
  const what = type === "entry" ? "checked in" : "checked out";
  if (answer.status === 201) say(`${person.name} ${what}.`, answer.body.id);
  else say(`${person.name} not ${what}: ${answer.body?.message || answer.status}.`);
  refresh();
}

$("search").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const q = $("search-text").value.trim();
  const answer = await call("GET", `${API}/attendees?q=${encodeURIComponent(q)}&per_page=20`);
  const results = $("search-results");
  if (answer.status !== 200) {
    results.replaceChildren(element("li", answer.body?.message || "Search failed."));
    return;
  }
  const people = answer.body.attendees || answer.body.items || [];
  if (!people.length) {
    results.replaceChildren(element("li", `Nobody matches “${q}”.`));
    return;
  }
  results.replaceChildren(
    ...people.map((person) => {
      const item = element("li");
      item.append(element("strong", person.name), element("span", person.organisation || "", "role"));
      for (const [type, label] of [["entry", "Check in"], ["exit", "Check out"]]) {
        const button = element("button", label);
        button.type = "button";
        button.setAttribute("aria-label", `${label} ${person.name}`);
        button.addEventListener("click", () => byHand(person, type));
        item.append(button);
      }
      return item;
    }),
  );
});

// --- doors and conflicts --------------------------------------------------------------------

function table(headings, rows) {
  if (!rows.length) return element("p", "None.", "hint");
  const node = element("table");
  const head = element("tr");
  headings.forEach((text) => head.append(Object.assign(element("th", text), { scope: "col" })));
  node.append(Object.assign(element("thead"), {}), element("tbody"));
  node.tHead.append(head);
  for (const cells of rows) {
    const row = element("tr");
    cells.forEach((text) => row.append(element("td", text)));
    node.tBodies[0].append(row);
  }
  return node;
}

function drawDevices(devices) {
  const rows = devices
    .filter((device) => !device.revoked)
    .map((device) => [
      device.name,
      device.last_seen_at ? ageText(Date.parse(device.last_seen_at)) : "never",
      device.pending_uploads === null ? "?" : String(device.pending_uploads),
    ]);
  $("devices").replaceChildren(table(["Door", "Last contact", "Scans to upload"], rows));
}

function drawConflicts(conflicts) {
  const rows = conflicts.map((scan) => [
    scan.scanned_at.slice(11, 16),
    scan.attendee?.name || scan.serial || "?",
    scan.list_name || scan.list || "",
    scan.device || "?",
    scan.first_entry ? `first in at ${scan.first_entry.at.slice(11, 16)} (${scan.first_entry.device || "?"})` : "",
  ]);
  $("conflicts").replaceChildren(table(["Door time", "Who", "List", "Door", "First entry"], rows));
}

// --- refreshing -----------------------------------------------------------------------------

let timer = null;

async function refresh() {
  let stats;
  try {
    stats = await call("GET", `${API}/checkins/stats`);
  } catch {
    $("desk-updated").textContent = "Offline: the desk needs the network. Trying again…";
    return;
  }
  if (stats.status === 401 || stats.status === 403) {
    store.setDeskToken(null);
    showSignIn(`This token may not use the desk: ${stats.body?.message || stats.status}. Sign in again.`);
    return;
  }
  drawCounts(stats.body);
  const [devices, conflicts] = await Promise.all([call("GET", `${API}/devices`), call("GET", `${API}/checkins/conflicts`)]);
  if (devices.status === 200) drawDevices(devices.body);
  if (conflicts.status === 200) drawConflicts(conflicts.body);
  $("desk-updated").textContent = `Updated ${new Date().toLocaleTimeString("en-GB")}.`;
}

async function start() {
  if (!store.deskToken()) return showSignIn();
  $("desk-sign-in").hidden = true;
  $("desk").hidden = false;
  await refresh();
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
}

start();
