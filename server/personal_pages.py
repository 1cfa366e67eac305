"""The attendee's own pages (join, my schedule, my calendar, my ticket) and what makes the app offline.

These pages are shells: the same bytes for everyone, with no personal data in them. The browser
holds the attendee's token (from the personal link, server/personal_links.py) and fills the
shell from the API, keeping what it got for offline use (server/static/store.js). So the
shells are cached and revalidated like the public pages, and a service worker (`sw.js`) can
keep them with the programme for when the venue's network is gone.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, render_template

from server import __version__, programme
from server.api.caching import Representation, cached
from server.db_app import get_db

bp = Blueprint("personal_pages", __name__, url_prefix="/e/<event>")
HTML = "text/html; charset=utf-8"
# What the service worker keeps from the start, besides the static files: the pages an
# attendee opens at the venue, and the API reads those pages make.
PRECACHED_PAGES = ("", "me", "me/calendar", "me/ticket", "me/matchmaking", "me/agenda", "speakers", "rooms", "door")


def _shell(event: str, template: str, active: str) -> Response:
    """A page that is the same for every attendee: cached per event version (a 304 when unchanged)."""
    db = get_db()
    return cached(
        lambda: (event, programme.event_version(db, event), asset_version()),
        lambda: Representation.of_bytes(
            render_template(
                template, event=programme.event_document(db, programme.get_event(db, event)), active=active
            ).encode("utf-8"),
            HTML,
        ),
        db,
    )


# path, template, the nav item it marks. /join is where a personal link lands: its script
# trades the fragment's secret for a token (server/static/join.js). /door is a door device's
# page: its pairing link carries the device token in the fragment (server/static/door.js).
# /matchmaking/live is the organiser's, signed in with the desk's token (matchmaking-live.js).
SHELLS = (("/join", "join.html", "me"), ("/me", "me.html", "me"), ("/me/calendar", "calendar.html", "me"),
          ("/me/ticket", "ticket.html", "ticket"), ("/door", "door.html", "door"),
          ("/desk", "desk.html", "desk"), ("/me/matchmaking", "matchmaking.html", "me"),
          ("/me/agenda", "agenda.html", "me"), ("/matchmaking/live", "matchmaking_live.html", "desk"))  # fmt: skip
for _path, _template, _active in SHELLS:
    bp.add_url_rule(
        _path,
        _template.removesuffix(".html") + "_page",
        lambda event, template=_template, active=_active: _shell(event, template, active),
    )


@bp.get("/manifest.webmanifest")
def manifest(event: str) -> Response:
    """The web app manifest: installable, opening on the attendee's schedule, scoped to the event.

    Browsers fetch it again on every visit, so it has an ETag like the pages: a 304, not the
    same bytes again (bench/pages_bench.py counted a full 200 per visit before).
    """
    db = get_db()

    def build() -> Representation:
        document = programme.event_document(db, programme.get_event(db, event))
        scope = f"/e/{event}/"
        body = {
            "name": document["title"],
            "short_name": document["title"][:24],
            "description": f"Programme, schedule and ticket for {document['title']}, also offline",
            "start_url": scope + "me",
            "scope": scope,
            "display": "standalone",
            "background_color": "#ffffff",
            "theme_color": "#14365d",
            "icons": [{"src": "/static/icon.svg", "sizes": "any", "type": "image/svg+xml", "purpose": "any"}],
        }
        return Representation.of_bytes(json.dumps(body).encode("utf-8"), "application/manifest+json")

    return _always_revalidated(cached(lambda: (event, programme.event_version(db, event)), build, db))


@bp.get("/sw.js")
def service_worker(event: str) -> Response:
    """The service worker, with this deployment's file list and version written into it.

    Its bytes change whenever a static file does, which is how browsers learn to install the
    new one; `no-cache` makes them ask each time the page loads, and its ETag lets the answer
    be a 304 while nothing changed (a browser checks it on navigations into the scope).
    """

    def build() -> Representation:
        scope = f"/e/{event}/"
        precache = [scope + page for page in PRECACHED_PAGES]
        precache += [f"/static/{name}" for name in static_files()]
        precache += [f"/api/v1/events/{event}", f"/api/v1/events/{event}/rooms"]
        header = f"const VERSION = {json.dumps(asset_version())};\nconst PRECACHE = {json.dumps(precache)};\n"
        body = header + (Path(current_app.static_folder) / "sw.js").read_text(encoding="utf-8")
        return Representation.of_bytes(body.encode("utf-8"), "text/javascript; charset=utf-8")

    return _always_revalidated(cached(lambda: (event, asset_version()), build, get_db()))


def _always_revalidated(response: Response) -> Response:
    """`no-cache` whatever EVENTDESK_PROGRAMME_MAX_AGE says: a stale worker or manifest outlives a deployment."""
    response.headers["Cache-Control"] = "no-cache"
    return response


@cache
def static_files() -> tuple[str, ...]:
    """The static files every page may need (the service worker script itself is served above)."""
    folder = Path(__file__).parent / "static"
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != "sw.js"))


@cache
def asset_version() -> str:
    """A digest of the code and static files: new in each deployment that changes them."""
    digest = hashlib.sha256(__version__.encode())
    folder = Path(__file__).parent / "static"
    for name in (*static_files(), "sw.js"):
        digest.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return digest.hexdigest()[:16]


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
