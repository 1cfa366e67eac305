// The service worker of one event's pages (served as /e/{event}/sw.js, which writes VERSION
// and PRECACHE above this line). It keeps the pages, the static files and the public reads
// they make, so the app opens with no network. Everything goes to the network first (a
// programme change must show at once) and falls back to what was kept. Personal API reads
// (/api/v1/me...) are never kept here: the page keeps those itself, with their age.
const SCOPE = new URL(self.registration.scope).pathname;
const API = `/api/v1/events/${SCOPE.split("/")[2]}`;
const CACHE = `eventdesk:${SCOPE}:${VERSION}`;
const NETWORK_TIMEOUT_MS = 6000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE.map((url) => new Request(url, { cache: "no-cache" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith(`eventdesk:${SCOPE}:`) && name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

function kept(request) {
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith("/api/v1/me") || request.headers.has("Authorization")) return false;
  if (url.pathname.endsWith("/sw.js")) return false;
  const path = url.pathname;
  return path.startsWith(SCOPE) || path.startsWith("/static/") || path === API || path.startsWith(`${API}/`);
}

async function fromNetwork(request) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NETWORK_TIMEOUT_MS);
  try {
    return await fetch(request, { signal: controller.signal });
  } finally {
    clearTimeout(timer);
  }
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fromNetwork(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (problem) {
    const match = (await cache.match(request)) || (request.mode === "navigate" && (await fallbackPage(cache, request)));
    if (match) return marked(match);
    if (request.mode === "navigate") {
      return new Response(
        "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'><title>Offline</title>" +
          "<p>You are offline, and this page was not saved on this device. Go to <a href='" + SCOPE + "'>the programme</a> or <a href='" + SCOPE + "me'>your schedule</a>.",
        { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } },
      );
    }
    throw problem;
  }
}

/** A kept answer says so, so the page's script knows it is offline (store.js). */
function marked(response) {
  const headers = new Headers(response.headers);
  headers.set("X-Eventdesk-Offline", "1");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** A filtered programme page falls back to the unfiltered one, anything else to the programme. */
async function fallbackPage(cache, request) {
  return (await cache.match(request, { ignoreSearch: true })) || (await cache.match(SCOPE));
}

self.addEventListener("fetch", (event) => {
  if (kept(event.request)) event.respondWith(networkFirst(event.request));
});
