// "Matchmaking": my profile, suggested partners, participant search and my meetings with their
// answers. What the API gave is kept in this browser with its age (store.js), so the page opens
// offline; a change made offline is queued and sent when the network is back, and one the
// server refuses is shown until dismissed.
import { clockTime, dayLabel, ready, say, showAge } from "./eventdesk.js";
import { $, element } from "./dom.js";
import * as store from "./store.js";

const status = $("matchmaking-status");
const ME = "/api/v1/me";
const EVENT_API = `/api/v1/events/${store.slug}`;

function button(text, label, onClick) {
  const node = element("button", text);
  node.type = "button";
  node.setAttribute("aria-label", label);
  node.addEventListener("click", onClick);
  return node;
}

/** A personal or public read kept for offline: {data, at, stale}; 403/404 mean "none" (data null). */
async function keptRead(name, path, auth = true) {
  const kept = store.recall(name);
  try {
    const answer = await store.api("GET", path, { auth });
    if (answer.status === 200) {
      store.remember(name, answer.body);
      return { data: answer.body, at: Date.now(), stale: false };
    }
    if (answer.status === 403 || answer.status === 404) {
      store.remember(name, null);
      return { data: null, at: Date.now(), stale: false };
    }
  } catch (problem) {
    if (!(problem instanceof store.Offline)) throw problem;
  }
  return { data: kept?.data ?? null, at: kept?.at ?? null, stale: true };
}

/** One write: sent now, or queued when offline; a refusal said in words. Resolves true when done or queued. */
async function act(method, path, body, label) {
  let answer;
  try {
    answer = await store.api(method, path, { body });
  } catch (problem) {
    if (!(problem instanceof store.Offline)) throw problem;
    store.enqueueAction({ method, path, body, label });
    say(`Offline: “${label}” is kept on this phone and will be sent when you are back online.`);
    await render();
    return true;
  }
  if (answer.status >= 400) {
    say(`${label}: not done. ${answer.body?.message || `The server answered ${answer.status}`}.`, { sticky: true });
    return false;
  }
  say(`${label}: done.`);
  await render();
  return true;
}

const partyName = (party) => `${party.organisation} (${party.cluster}, ${party.country})${party.synthetic ? " [demo]" : ""}`;

// --- my profile ---------------------------------------------------------------------------------

function drawSectors(sectors, chosen) {
  const box = $("profile-sectors");
  box.querySelectorAll(".choice").forEach((node) => node.remove());
  const select = $("search-sector");
  select.querySelectorAll("option[value]:not([value=''])").forEach((node) => node.remove());
  for (const sector of sectors) {
    const label = element("label", undefined, "choice");
    const input = element("input");
    input.type = "checkbox";
    input.name = "sectors";
    input.value = sector.id;
    input.checked = chosen.includes(sector.id);
    label.append(input, document.createTextNode(` ${sector.name}`));
    box.append(label);
    const option = element("option", sector.name);
    option.value = sector.id;
    select.append(option);
  }
}

function fillProfile(profile) {
  const form = $("profile-form");
  for (const name of ["organisation", "cluster", "country", "offer", "seek"]) form.elements[name].value = profile?.[name] ?? "";
  form.elements.languages.value = (profile?.languages || []).join(", ");
  $("profile-state").textContent = profile
    ? `You take part as ${profile.organisation}. Other participants and the organisers see this profile.`
    : "You do not take part yet: fill in your profile to find partners and be found.";
  $("profile-save").textContent = profile ? "Save my profile" : "Take part in matchmaking";
}

function profileBody(form) {
  const body = {
    organisation: form.elements.organisation.value.trim(),
    cluster: form.elements.cluster.value.trim(),
    country: form.elements.country.value.trim().toUpperCase(),
    sectors: [...form.querySelectorAll("input[name=sectors]:checked")].map((input) => input.value),
    offer: form.elements.offer.value,
    seek: form.elements.seek.value,
    languages: form.elements.languages.value.split(/[\s,;]+/).filter(Boolean).map((code) => code.toLowerCase()),
  };
  const kept = store.recall("profile")?.data;
  if (kept?.availability) body.availability = kept.availability;
  return body;
}

// --- meetings, suggestions, search ------------------------------------------------------------

function meetingEntry(meeting, myId) {
  const mine = meeting.requester.id === myId ? "requester" : "partner";
  const other = mine === "requester" ? meeting.partner : meeting.requester;
  const live = meeting.status === "requested" || meeting.status === "accepted";
  const entry = element("li", undefined, "session meeting" + (live ? "" : " cancelled"));
  entry.dataset.meeting = meeting.id;
  const when = element("p", undefined, "when");
  if (meeting.start) when.append(element("time", clockTime(meeting.start)), element("time", clockTime(meeting.end)));
  else when.append(element("span", "No time yet"));
  const what = element("div", undefined, "what");
  what.append(element("h3", `Meeting with ${partyName(other)}`, "session-title"));
  const meta = element("p", undefined, "meta");
  const words = {
    requested: mine === "requester" ? "Requested: waiting for their answer" : "They asked you",
    accepted: meeting.start ? "Accepted" : "Accepted: the organisers will give it a time",
    declined: "Declined",
    cancelled: "Cancelled",
    expired: "Expired: unanswered when requests closed",
  };
  meta.append(element("span", words[meeting.status] || meeting.status, "meeting-status"));
  if (meeting.start) meta.append(element("span", dayLabel(meeting.start.slice(0, 10))));
  if (meeting.table) meta.append(element("span", `Table ${meeting.table}${meeting.room_name ? `, ${meeting.room_name}` : ""}`, "meeting-table"));
  what.append(meta);
  if (meeting.message) what.append(element("p", `“${meeting.message}”`, "hint"));
  const reason = [...meeting.log].reverse().find((entry) => entry.reason && entry.what === "cancelled");
  if (reason) what.append(element("p", `Why: ${reason.reason}.`, "hint"));
  const actions = element("p", undefined, "actions");
  const path = (action) => `${ME}/meetings/${encodeURIComponent(meeting.id)}/${action}`;
  const name = other.organisation;
  if (mine === "partner" && meeting.status === "requested") {
    actions.append(button("Accept", `Accept the meeting with ${name}`, () => act("POST", path("accept"), undefined, `Accept the meeting with ${name}`)));
    actions.append(button("Decline", `Decline the meeting with ${name}`, () => act("POST", path("decline"), undefined, `Decline the meeting with ${name}`)));
  }
  if (live) actions.append(button("Cancel", `Cancel the meeting with ${name}`, () => act("POST", path("cancel"), undefined, `Cancel the meeting with ${name}`)));
  if (actions.childNodes.length) what.append(actions);
  entry.append(when, what);
  return entry;
}

function participantEntry(participant, reasons) {
  const entry = element("li");
  entry.dataset.participant = participant.id;
  entry.append(element("h3", partyName(participant)));
  if (reasons?.length) entry.append(element("p", reasons.join("; ") + ".", "role"));
  if (participant.offer) entry.append(element("p", `Offers: ${participant.offer}`, "multiline"));
  if (participant.seek) entry.append(element("p", `Seeks: ${participant.seek}`, "multiline"));
  const label = `Request a meeting with ${participant.organisation}`;
  entry.append(button("Request a meeting", label, () => act("POST", `${ME}/meetings`, { with: participant.id }, label)));
  return entry;
}

function drawRefused() {
  const list = $("refused-list");
  const refused = store.refusedActions();
  list.replaceChildren(
    ...refused.map((item) => {
      const entry = element("li", `${item.label}: ${item.message}. `, "notice kept");
      entry.append(button("Dismiss", `Dismiss: ${item.label}`, () => {
        store.dismissRefusedAction(item.at);
        drawRefused();
      }));
      return entry;
    }),
  );
  $("mm-refused").hidden = !refused.length;
}

async function search(event) {
  event.preventDefault();
  const form = event.target;
  const query = new URLSearchParams();
  for (const name of ["q", "country", "sector"]) if (form.elements[name].value.trim()) query.set(name, form.elements[name].value.trim());
  const results = $("search-results");
  let answer;
  try {
    answer = await store.api("GET", `${EVENT_API}/matchmaking/participants?${query}`);
  } catch (problem) {
    if (!(problem instanceof store.Offline)) throw problem;
    results.replaceChildren(element("li", "Searching needs the network: try again when you are back online."));
    return;
  }
  if (answer.status !== 200) {
    results.replaceChildren(element("li", answer.body?.message || `The server answered ${answer.status}.`));
    return;
  }
  const me = store.recall("profile")?.data?.id;
  const found = answer.body.filter((participant) => participant.id !== me);
  results.replaceChildren(...(found.length ? found.map((p) => participantEntry(p)) : [element("li", "Nobody matches.")]));
}

// --- the page -----------------------------------------------------------------------------------

async function render() {
  await ready;
  if (!store.token()) {
    status.replaceChildren(element("p", "Open the personal link the organiser sent you (by email) on this phone to take part in matchmaking."));
    return;
  }
  status.replaceChildren();
  if (store.queuedActions().length) {
    const result = await store.sendQueuedActions();
    if (result.sent) say(`Sent ${result.sent} change${result.sent === 1 ? "" : "s"} made offline.`);
  }
  const [sectors, profile] = await Promise.all([
    keptRead("sectors", `${EVENT_API}/matchmaking/sectors`, false),
    keptRead("profile", `${ME}/matchmaking`),
  ]);
  drawSectors(sectors.data || [], profile.data?.sectors || []);
  fillProfile(profile.data);
  $("mm-profile").hidden = false;
  showAge(profile.at, profile.stale, "your matchmaking");
  drawRefused();
  const waiting = store.queuedActions();
  if (waiting.length) {
    status.replaceChildren(element("p", `${waiting.length} change${waiting.length === 1 ? "" : "s"} made offline, waiting to be sent: ${waiting.map((item) => item.label).join("; ")}.`, "pending"));
  }
  const taking = Boolean(profile.data);
  for (const id of ["mm-meetings", "mm-suggestions", "mm-search"]) $(id).hidden = !taking;
  if (!taking) return;
  const [meetings, suggestions] = await Promise.all([
    keptRead("meetings", `${ME}/meetings`),
    keptRead("suggestions", `${ME}/matchmaking/suggestions`),
  ]);
  const list = meetings.data || [];
  $("meeting-list").replaceChildren(
    ...(list.length ? list.map((meeting) => meetingEntry(meeting, profile.data.id)) : [element("li", "No meetings yet: request one below.")]),
  );
  const ranked = suggestions.data || [];
  $("suggestion-list").replaceChildren(
    ...(ranked.length ? ranked.map((item) => participantEntry(item.participant, item.reasons)) : [element("li", "No suggestions yet.")]),
  );
}

$("profile-form").addEventListener("submit", (event) => {
  event.preventDefault();
  act("PUT", `${ME}/matchmaking`, profileBody(event.target), "Save my matchmaking profile");
});
$("search-form").addEventListener("submit", search);
window.addEventListener("online", render);

render();
