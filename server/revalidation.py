"""Repeated revalidations answered before Flask: the same request gets the same 304 until a commit.

A cached read's 304 (server/api/caching.py) is a function of the request and the database
alone, and it is mostly fixed cost: Flask's request context, routing over ~70 rules,
flask-restx dispatch and the fingerprint query, for an answer of a few headers. Apps and
calendars poll with the one tag they were given, so each worker keeps the last such 304 of
each request (method, path, query and every header) beside SQLite's `PRAGMA data_version` read
before the request ran; the same request again, while no connection has committed since, gets
those status and headers without entering Flask. Any commit anywhere retires every entry (the
next revalidation takes the full path and is kept again), so this saves most between changes —
a programme is read far more often than it changes — and costs one PRAGMA otherwise.
Requests with credentials or cookies always take the full path.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from server import db as database, metrics

REUSABLE = "eventdesk.reusable_304"  # set in the WSGI environ by a 304 that depends on nothing else
# nginx counts cache lifetimes in whole seconds: an entry stored with s-maxage=1 stays fresh until
# the end of the next second, 1 to 2 s, so a change could take over 2 s to show through the edge.
# A public read names the current second as the end of its life at an edge (nginx reads this header
# and never passes it on): fresh for the rest of this second, so a change shows within about 1 s.
EDGE_EXPIRES = "X-Accel-Expires"


def edge_expires() -> str:
    return f"@{int(time.time())}"


ENTRIES = 1024  # per worker; all dropped when full (a poller's next request refills its own)
_PRIVATE = ("HTTP_AUTHORIZATION", "HTTP_COOKIE")

StartResponse = Callable[..., object]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


class NotModifiedCache:
    """WSGI middleware in front of the app (outermost, so it keys on the headers as sent)."""

    def __init__(self, app: WSGIApp, database_path: str | Path) -> None:
        self.app = app
        self._uri = Path(database_path).resolve().as_uri() + "?mode=rw"
        self._entries: dict[tuple, tuple[int, str, list[tuple[str, str]], str | None]] = {}
        self._held: tuple[int, sqlite3.Connection] | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or "HTTP_IF_NONE_MATCH" not in environ
            or any(name in environ for name in _PRIVATE)
        ):
            return self.app(environ, start_response)
        version = self._data_version()
        if version is None:
            return self.app(environ, start_response)
        key = _request_key(environ)
        found = self._entries.get(key)
        if found is not None and found[0] == version:
            environ[metrics.ROUTE] = found[3]  # the request metrics label it as Flask did
            start_response(
                found[1], [(name, edge_expires() if name == EDGE_EXPIRES else value) for name, value in found[2]]
            )
            return []

        def keep_304(status: str, headers: list[tuple[str, str]], exc_info=None) -> object:
            if status.startswith("304") and environ.get(REUSABLE):
                if len(self._entries) >= ENTRIES:
                    self._entries.clear()
                self._entries[key] = (version, status, list(headers), metrics.route_of(environ))
            return start_response(status, headers, exc_info)

        return self.app(environ, keep_304)

    def _data_version(self) -> int | None:
        """A number that changes whenever any connection commits (None: no database to ask)."""
        with self._lock:
            try:
                if self._held is None or self._held[0] != database.process_id():  # opened after the fork
                    connection = sqlite3.connect(self._uri, uri=True, check_same_thread=False)
                    self._held = (database.process_id(), connection)
                    self._entries.clear()  # their versions were another connection's
                return self._held[1].execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                return None


def _request_key(environ: dict) -> tuple:
    """Everything of the request a 304 could depend on: the target and every header."""
    headers = tuple(sorted((name, value) for name, value in environ.items() if name.startswith("HTTP_")))
    target = (environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""))
    return (*target, environ.get("wsgi.url_scheme"), environ.get("SERVER_NAME"), environ.get("SERVER_PORT"), headers)
