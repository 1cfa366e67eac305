// Signing a browser in as the desk (the desk page and the matchmaking live view share it): a token
// from the pairing link's fragment or typed in, kept apart from any attendee's (store.deskToken).
import { $ } from "./dom.js";
import * as store from "./store.js";

// `name` is the prefix of the page's ids: `${name}` (the signed-in view), `${name}-sign-in` (the
// form, whose first <p> says why), `${name}-token` and `${name}-sign-out`. Returns showSignIn.
export function deskSignIn(name, { start, stop = () => {} }) {
  const secret = location.hash.slice(1);
  if (secret) {
    history.replaceState(null, "", location.pathname + location.search);
    store.setDeskToken(secret);
  }

  function showSignIn(message) {
    $(name).hidden = true;
    const form = $(`${name}-sign-in`);
    form.hidden = false;
    if (message) form.querySelector("p").textContent = message;
  }

  $(`${name}-sign-in`).addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    store.setDeskToken($(`${name}-token`).value.trim());
    $(`${name}-token`).value = "";
    start();
  });

  $(`${name}-sign-out`).addEventListener("click", () => {
    store.setDeskToken(null);
    stop();
    showSignIn();
  });

  return showSignIn;
}
