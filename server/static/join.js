// The personal link lands here: /e/{event}/join#<secret>. The secret is taken out of the
// address bar at once (so it is not bookmarked, shared or left in history), traded once for
// this browser's own token, and never sent anywhere else.
import * as store from "./store.js";

const status = document.getElementById("join-status");
const secret = location.hash.slice(1);
history.replaceState(null, "", location.pathname);

function deviceLabel() {
  const agent = navigator.userAgent;
  const system = /Android/.test(agent) ? "Android" : /iPhone|iPad/.test(agent) ? "iOS" : /Mac OS/.test(agent) ? "Mac" : /Windows/.test(agent) ? "Windows" : /Linux/.test(agent) ? "Linux" : "";
  const browser = /Edg\//.test(agent) ? "Edge" : /Firefox\//.test(agent) ? "Firefox" : /Chrom/.test(agent) ? "Chrome" : /Safari\//.test(agent) ? "Safari" : "Browser";
  return system ? `${browser} on ${system}` : browser;
}

async function join() {
  if (!secret) {
    status.textContent = store.token()
      ? "This browser is already signed in."
      : "This link is incomplete: open the whole personal link from the organiser's email.";
    return;
  }
  status.textContent = "Signing you in…";
  let answer;
  try {
    answer = await store.api("POST", `/api/v1/events/${store.slug}/link-login`, {
      body: { secret, device: deviceLabel() },
      auth: false,
    });
  } catch {
    status.textContent = "No network: open your personal link again when you are online.";
    return;
  }
  if (answer.status !== 201) {
    status.textContent = `This link does not work (any more): ${answer.body?.message || answer.status}.`;
    return;
  }
  store.forgetMe(); // whoever used this browser before
  store.setToken(answer.body.token);
  location.replace(`/e/${store.slug}/me`);
}

join();
