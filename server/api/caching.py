"""Conditional, compressed, cached responses for the public programme endpoints.

A response body is a pure function of the URL and the event's version, so each worker
keeps the serialised bytes (and their gzip) per (URL, version): a repeated request costs
one indexed SELECT of the version. The ETag is a hash of the bytes, so it is strong and
changes exactly when the bytes do; the gzip variant gets its own tag, as RFC 9110 asks.
Bodies are JSON or any other bytes (iCalendar feeds); a body that embeds absolute URLs is
also keyed by the scheme and host the client reached, and may carry a Last-Modified date.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import sqlite_utils
from flask import Response, current_app, request
from werkzeug.http import http_date

from server import db as database
from server.revalidation import EDGE_EXPIRES, REUSABLE, edge_expires
from server.urls import public_base_url

_MIN_GZIP_BYTES = 1024
JSON = "application/json"


@dataclass(frozen=True)
class Representation:
    body: bytes
    etag: str  # without quotes
    gzipped: bytes | None
    media_type: str = JSON  # the Content-Type header
    last_modified: datetime | None = None  # aware, UTC, whole seconds

    @classmethod
    def of(cls, value: object) -> Representation:
        """A JSON value, compactly serialised."""
        return cls.of_bytes(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))

    @classmethod
    def of_bytes(cls, body: bytes, media_type: str = JSON, last_modified: datetime | None = None) -> Representation:
        """Any body; `last_modified` (aware) becomes the Last-Modified header, to the second."""
        etag = hashlib.sha256(body).hexdigest()[:32]
        gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= _MIN_GZIP_BYTES else None
        if last_modified is not None:
            if last_modified.tzinfo is None:
                raise ValueError("last_modified must be timezone-aware")
            last_modified = last_modified.astimezone(UTC).replace(microsecond=0)
        return cls(body, etag, gzipped, media_type, last_modified)


class ResponseCache:
    """A small thread-safe LRU of representations."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[tuple, Representation] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Representation | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple, item: Representation) -> None:
        with self._lock:
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _cache() -> ResponseCache:
    extensions = current_app.extensions
    if "eventdesk_response_cache" not in extensions:
        extensions["eventdesk_response_cache"] = ResponseCache(current_app.config["RESPONSE_CACHE_SIZE"])
    return extensions["eventdesk_response_cache"]


def request_key(*, per_origin: bool = False) -> str:
    """The path and the query in a canonical order, so equal requests share an entry.

    With `per_origin`, the server's public base URL comes first (server.urls): for bodies that
    embed absolute URLs.
    """
    query = urlencode(sorted(request.args.items(multi=True))) if request.environ.get("QUERY_STRING") else ""
    origin = public_base_url() if per_origin else ""
    return f"{origin}{request.path}?{query}"


def cached_json(fingerprint: Callable[[], object], build: Callable[[], object], db: sqlite_utils.Database) -> Response:
    """A JSON body from `build`, cached per URL and `fingerprint` (see `cached`)."""
    return cached(fingerprint, lambda: Representation.of(build()), db)


def cached(
    fingerprint: Callable[[], object],
    build: Callable[[], Representation],
    db: sqlite_utils.Database,
    *,
    per_origin: bool = False,
    private: bool = False,
    reusable: bool = True,
) -> Response:
    """Answer from the cache for this URL at the data's current `fingerprint` (its version).

    A hit costs the one fingerprint query. A miss reads the fingerprint again and builds the
    representation inside one snapshot, so the bytes are filed under the version they show.
    Set `per_origin` when the body embeds absolute URLs built from the request, and
    `private` when it is one person's data (shared caches must not keep it). Clear `reusable`
    when the fingerprint depends on more than the request and the database (the clock): then
    its 304 must not be kept by server/revalidation.py until the next commit.
    """
    cache = _cache()
    representation = cache.get((request_key(per_origin=per_origin), fingerprint()))
    if representation is None:
        with database.read(db):
            key = (request_key(per_origin=per_origin), fingerprint())
            representation = build()
        cache.put(key, representation)
    return conditional_response(representation, private=private, reusable=reusable)


def conditional_response(representation: Representation, *, private: bool = False, reusable: bool = True) -> Response:
    # Parse Accept-Encoding only when sent: most revalidations (and every 304) need no body.
    accepts = representation.gzipped is not None and "HTTP_ACCEPT_ENCODING" in request.environ
    use_gzip = accepts and request.accept_encodings["gzip"] > 0
    etag = representation.etag + ("-gzip" if use_gzip else "")
    headers = {
        "ETag": f'"{etag}"',
        "Vary": "Accept-Encoding",
        "Cache-Control": "private, no-cache" if private else _cache_control(),
    }
    if not private:
        headers[EDGE_EXPIRES] = edge_expires()
    if _not_modified(representation):
        if reusable:  # a function of the request and the database: the same again is kept
            request.environ[REUSABLE] = True
        return Response(status=304, headers=headers, content_type=representation.media_type)
    if representation.last_modified is not None:
        headers["Last-Modified"] = http_date(representation.last_modified)
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
        return Response(representation.gzipped, content_type=representation.media_type, headers=headers)
    return Response(representation.body, content_type=representation.media_type, headers=headers)


def _not_modified(representation: Representation) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when sent; If-Modified-Since only without it."""
    if "If-None-Match" in request.headers:
        return _matches(representation.etag)
    if representation.last_modified is None or request.method not in ("GET", "HEAD"):
        return False
    since = request.if_modified_since  # None when absent or not an HTTP-date: then ignored
    return since is not None and representation.last_modified <= since


def _matches(etag: str) -> bool:
    """If-None-Match, compared weakly as RFC 9110 says, for either encoding's tag."""
    sent = request.headers.get("If-None-Match", "").strip()
    if sent.removeprefix("W/") in (f'"{etag}"', f'"{etag}-gzip"'):
        return True  # what revalidating clients send: the one tag they were given, no parsing
    wanted = request.if_none_match
    if not wanted:
        return False
    return wanted.star_tag or wanted.contains_weak(etag) or wanted.contains_weak(etag + "-gzip")


# What a shared cache (deploy/nginx.conf, a CDN) may do with a public read, said by the app so the
# edge need not override it: keep it fresh for 1 s (a crowd costs the app one request a second,
# and a change shows within 2 s); answer from a stale copy while one request revalidates; and
# keep answering from it for a day when the app is down or failing: a programme hours old beats
# an error page at the venue. Browsers revalidate every read (max-age=0), and must-revalidate
# keeps them from using stale-while-revalidate themselves: Chromium honours it otherwise, and an
# attendee reloading just after a cancellation was shown the session as still on. nginx serves
# stale from its own proxy_cache_use_stale, which must-revalidate does not turn off.
SHARED_CACHE = "must-revalidate, s-maxage=1, stale-while-revalidate=5, stale-if-error=86400"


def _cache_control() -> str:
    max_age = current_app.config["PROGRAMME_MAX_AGE"]
    return f"public, max-age={max_age}, {SHARED_CACHE}"
