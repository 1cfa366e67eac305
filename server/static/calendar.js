// "My calendar": subscribe once (webcal, Google, the https URL, or a QR code to scan from a
// laptop) and every later programme change follows; rotate the URL if it leaked.
import { ready, say, showAge } from "./eventdesk.js";
import * as store from "./store.js";

const target = document.getElementById("calendar");

function link(text, href, className) {
  return Object.assign(document.createElement("a"), { textContent: text, href, className });
}

function draw(calendar) {
  const parts = [];
  parts.push(link("Subscribe in your calendar app", calendar.webcal, "button primary"));
  parts.push(link("Add to Google Calendar", calendar.google, "button"));
  parts.push(link("Add to Outlook.com", calendar.outlook, "button"));
  const label = Object.assign(document.createElement("label"), { htmlFor: "feed-url", textContent: "Or copy this address into any calendar app:" });
  const field = Object.assign(document.createElement("input"), { id: "feed-url", type: "url", readOnly: true, value: calendar.https });
  const copy = Object.assign(document.createElement("button"), { type: "button", textContent: "Copy address" });
  copy.addEventListener("click", async () => {
    field.select();
    try {
      await navigator.clipboard.writeText(calendar.https);
      say("Address copied.");
    } catch {
      say("Select the address and copy it.");
    }
  });
  const qr = Object.assign(document.createElement("img"), {
    id: "calendar-qr",
    src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(calendar.qr_svg)}`,
    alt: "QR code of your calendar address, to scan with your phone from a laptop screen",
  });
  const figure = document.createElement("figure");
  figure.append(qr, Object.assign(document.createElement("figcaption"), { textContent: "Scan with your phone's camera to subscribe there." }));
  const rotate = Object.assign(document.createElement("button"), { type: "button", className: "danger", textContent: "Replace this address" });
  rotate.addEventListener("click", async () => {
    if (!confirm("Replace your calendar address? Calendars subscribed to the old one stop updating until you subscribe again.")) return;
    try {
      const answer = await store.api("POST", "/api/v1/me/calendar/rotate");
      if (answer.status !== 200) throw new Error(answer.body?.message || answer.status);
      store.remember("calendar", answer.body);
      draw(answer.body);
      say("A new address is ready. Subscribe again with it.");
    } catch (problem) {
      say(`Not replaced: ${problem instanceof store.Offline ? "you are offline" : problem.message}.`, { sticky: true });
    }
  });
  const warning = Object.assign(document.createElement("p"), {
    className: "hint",
    textContent: "This address is personal: anyone who has it sees your schedule. If it leaked, replace it.",
  });
  parts.push(label, field, copy, figure, warning, rotate);
  target.replaceChildren(...parts);
}

async function render() {
  await ready;
  if (!store.token()) {
    target.replaceChildren(Object.assign(document.createElement("p"), {
      textContent: "Open the personal link the organiser sent you (by email) on this phone to subscribe to your calendar.",
    }));
    return;
  }
  const calendar = await store.personal("calendar", "/api/v1/me/calendar");
  if (!calendar) return;
  showAge(calendar.at, calendar.stale, "your calendar address");
  draw(calendar.data);
}

render();
