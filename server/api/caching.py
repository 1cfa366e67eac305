"""Conditional, compressed, cached responses for the public programme endpoints.

A response body is a pure function of the URL and the event's version, so each worker
keeps the serialised bytes (and their gzip) per (URL, version): a repeated request costs
one indexed SELECT of the version. The ETag is a hash of the bytes, so it is strong and
changes exactly when the bytes do; the gzip variant gets its own tag, as RFC 9110 asks.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import sqlite_utils
from flask import Response, current_app, request

from server import db as database

_MIN_GZIP_BYTES = 1024


@dataclass(frozen=True)
class Representation:
    body: bytes
    etag: str  # without quotes
    gzipped: bytes | None

    @classmethod
    def of(cls, value: object) -> Representation:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        etag = hashlib.sha256(body).hexdigest()[:32]
        gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= _MIN_GZIP_BYTES else None
        return cls(body, etag, gzipped)


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


def request_key() -> str:
    """The path and the query in a canonical order, so equal requests share an entry."""
    query = urlencode(sorted(request.args.items(multi=True)))
    return f"{request.path}?{query}"


def cached_json(
    fingerprint: Callable[[], object], build: Callable[[], object], db: sqlite_utils.Database
) -> Response:
    """Answer from the cache for this URL at the data's current `fingerprint` (its version).

    A hit costs the one fingerprint query. A miss reads the fingerprint again and builds the
    body inside one snapshot, so the bytes are filed under the version they show.
    """
    cache = _cache()
    representation = cache.get((request_key(), fingerprint()))
    if representation is None:
        with database.read(db):
            key = (request_key(), fingerprint())
            representation = Representation.of(build())
        cache.put(key, representation)
    return conditional_response(representation)


def conditional_response(representation: Representation) -> Response:
    use_gzip = representation.gzipped is not None and request.accept_encodings["gzip"] > 0
    etag = representation.etag + ("-gzip" if use_gzip else "")
    headers = {
        "ETag": f'"{etag}"',
        "Vary": "Accept-Encoding",
        "Cache-Control": _cache_control(),
    }
    if _matches(representation.etag):
        return Response(status=304, headers=headers)
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
        return Response(representation.gzipped, mimetype="application/json", headers=headers)
    return Response(representation.body, mimetype="application/json", headers=headers)


def _matches(etag: str) -> bool:
    """If-None-Match, compared weakly as RFC 9110 says, for either encoding's tag."""
    wanted = request.if_none_match
    if not wanted:
        return False
    return wanted.star_tag or wanted.contains_weak(etag) or wanted.contains_weak(etag + "-gzip")


def _cache_control() -> str:
    max_age = current_app.config["PROGRAMME_MAX_AGE"]
    return f"public, max-age={max_age}" if max_age > 0 else "public, no-cache"
