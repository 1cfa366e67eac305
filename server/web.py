"""The front page, and the one error funnel: JSON for every route, an HTML page for a browser's page."""

from __future__ import annotations

import functools
import mimetypes
import os
from collections.abc import Callable
from html import escape

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.security import safe_join

from server import __version__
from server.db_app import get_db
from server.errors import DomainError, Unauthorized
from server.headers import csp_nonce
from server.programme import list_events


class EventdeskFlask(Flask):
    """Flask without its per-call coroutine check: Eventdesk has no async views or hooks.

    Flask asks `inspect.iscoroutinefunction` of the view and of every request hook on every
    request (`ensure_sync`): 2% of a cached read's instructions (callgrind, in-process
    `GET /sessions/{id}`: 737k -> 720k). An `async def` view would need this back.
    """

    def ensure_sync(self, func: Callable) -> Callable:
        return func

    def send_static_file(self, filename: str) -> Response:
        """Static files like the programme: strong ETag, `no-cache`, gzip, their 304s kept.

        Flask sends them uncompressed; gzip made them a third of their size (36 KB of a first
        visit's 64 KB were static files, 13 KB gzipped: bench/pages_bench.py). A file changes
        only with a new deployment, which restarts the workers, so each is read and compressed
        once, and a 304 for it depends on the request alone (server/revalidation.py keeps it).
        """
        from server.api.caching import conditional_response  # server.api imports this module

        representation = _static_representation(self.static_folder, filename)
        if representation is None:
            return super().send_static_file(filename)  # Flask's 404
        return conditional_response(representation)


_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@functools.cache
def _static_representation(folder: str, filename: str):
    """The file's bytes, gzip and ETag (a caching.Representation), or None if there is none."""
    from server.api.caching import Representation

    path = safe_join(folder, filename)
    if path is None or not os.path.isfile(path):
        return None
    media_type = (
        _STATIC_TYPES.get(os.path.splitext(path)[1]) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    )
    with open(path, "rb") as file:
        return Representation.of_bytes(file.read(), media_type)


def error_body(exc: BaseException) -> tuple[dict, int, dict]:
    """The one error shape: {"error", "message", "fields"?}, from any exception."""
    if isinstance(exc, Unauthorized):  # RFC 6750: say which scheme, and whether the token was the problem
        return exc.to_dict(), exc.status, {"WWW-Authenticate": exc.challenge}
    if isinstance(exc, DomainError):
        return exc.to_dict(), exc.status, {}
    if isinstance(exc, RequestEntityTooLarge):
        limit = request.max_content_length
        message = f"the body is larger than this route takes ({limit} bytes at most)"
        return {"error": "payload_too_large", "message": message, "limit": limit}, 413, {}
    if isinstance(exc, HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_").replace("'", "")
        body = {"error": code, "message": exc.description or exc.name}
        headers = {}
        if exc.code == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        return body, exc.code or 500, headers
    current_app.logger.error("unhandled error", exc_info=exc)
    return {"error": "internal_error", "message": "something went wrong on the server"}, 500, {}


def error_response(exc: BaseException) -> Response:
    body, status, headers = error_body(exc)
    response = _error_page(body, status) if _wants_page() else None
    if response is None:
        response = jsonify(body)
        response.status_code = status
    response.headers.update(headers)
    return response


_PAGE_TITLES = {400: "That cannot be shown", 404: "Not found", 405: "Not allowed", 413: "Too large"}


def _wants_page() -> bool:
    """A browser asking for a page (it names text/html) outside the API, whose errors stay JSON."""
    if request.path.startswith("/api/"):
        return False
    return any(
        value in ("text/html", "application/xhtml+xml") and quality > 0 for value, quality in request.accept_mimetypes
    )


def _error_page(body: dict, status: int) -> Response | None:
    """The error as a page for people, linking back to the event's programme when there is one."""
    event = (request.view_args or {}).get("event")
    back = f"/e/{event}/" if event and body.get("resource") != "event" else None
    title = _PAGE_TITLES.get(status, "Something went wrong" if status >= 500 else "That did not work")
    try:
        page = render_template("error.html", title=title, message=body["message"], back=back)
    except Exception as problem:  # a page that cannot be drawn must not hide the error: JSON then
        current_app.logger.error("error page failed", exc_info=problem)
        return None
    return Response(page, status=status, mimetype="text/html")


def _front_page() -> Response:
    events = list_events(get_db())
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        return jsonify(
            {
                "name": "Eventdesk",
                "version": __version__,
                "api": "/api/v1/",
                "docs": "/api/v1/docs",
                "spec": "/api/v1/swagger.json",
                "events": [
                    {
                        "slug": e["slug"],
                        "title": e["title"],
                        "programme": f"/api/v1/events/{e['slug']}/programme",
                    }
                    for e in events
                ],
            }
        )
    items = "".join(
        f'<li><strong><a href="/e/{escape(e["slug"])}/">{escape(e["title"])}</a></strong> '
        f"({escape(e['start_date'])} to {escape(e['end_date'])}): "
        f'<a href="/api/v1/events/{escape(e["slug"])}/programme">programme</a>, '
        f'<a href="/api/v1/events/{escape(e["slug"])}/sessions">sessions</a>, '
        f'<a href="/api/v1/events/{escape(e["slug"])}/speakers">speakers</a></li>'
        for e in events
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Eventdesk</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="{csp_nonce()}">body {{ font-family: sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem }}
</style></head>
<body>
<h1>Eventdesk {escape(__version__)}</h1>
<p>An event programme and attendee API. Start with the
<a href="/api/v1/docs">interactive API documentation (Swagger UI)</a>
or the <a href="/api/v1/swagger.json">OpenAPI spec</a>.</p>
<h2>Events</h2>
<p>Each event's title opens its programme for people; the other links are its API.</p>
<ul>{items or "<li>No event loaded yet.</li>"}</ul>
</body></html>"""
    return Response(html, mimetype="text/html")


def init_app(app: Flask) -> None:
    app.add_url_rule("/", "front_page", _front_page)
    # Browsers ask for /favicon.ico on any page that names no icon (the front page, JSON, errors).
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("icon.svg"))
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(DomainError, error_response)
    app.register_error_handler(Exception, error_response)
