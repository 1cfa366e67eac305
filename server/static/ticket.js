// "My ticket": the QR code full screen with the name and the event, kept for offline use
// (the door judges it offline too, so a phone with no network still gets in).
import { ready, showAge } from "./eventdesk.js";
import * as store from "./store.js";

const target = document.getElementById("ticket");

async function render() {
  await ready;
  if (!store.token()) {
    target.replaceChildren(Object.assign(document.createElement("p"), {
      textContent: "Open the personal link the organiser sent you (by email) on this phone to show your ticket here.",
    }));
    return;
  }
  const [me, image] = await Promise.all([
    store.personal("me", "/api/v1/me"),
    store.personal("ticket-svg", "/api/v1/me/ticket.svg"),
  ]);
  if (!me || !image) {
    target.replaceChildren(Object.assign(document.createElement("p"), {
      textContent: "Your ticket is not on this phone yet: open this page once with a network.",
    }));
    return;
  }
  showAge(image.at, image.stale, "your ticket");
  const qr = document.createElement("img");
  qr.id = "ticket-qr";
  qr.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(image.data)}`;
  qr.alt = `Ticket QR code of ${me.data.name}`;
  const name = Object.assign(document.createElement("p"), { className: "ticket-name", textContent: me.data.name });
  const title = document.querySelector(".event-title")?.textContent.trim() || store.slug;
  const event = Object.assign(document.createElement("p"), { className: "ticket-event", textContent: title });
  const hint = Object.assign(document.createElement("p"), {
    className: "hint",
    textContent: "Turn your screen brightness up and hold the phone about an arm's length from the scanner.",
  });
  target.replaceChildren(qr, name, event, hint);
}

render();
