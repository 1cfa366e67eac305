"""Where the server says it lives: the base of every absolute URL it writes, and the Host it accepts.

Feed links and the `URL:` lines of calendars are copied into calendar apps and kept for years,
so they must not follow whatever Host or X-Forwarded-Host a client sends. EVENTDESK_PUBLIC_URL
fixes them; without it they follow the request, whose forwarded headers are believed only
with EVENTDESK_TRUSTED_PROXIES=N (see create_app).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from werkzeug.exceptions import NotFound as HTTPNotFound
from werkzeug.routing import IntegerConverter

from server.bounds import storable
from server.errors import ConfigurationError, DomainError

# A DNS name (labels of letters, digits, '-' and '_', as container names use), an IPv4
# address, or a bracketed IPv6 address; then an optional port.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = re.compile(rf"(?:\[[0-9A-Fa-f:.]{{2,45}}\]|{_LABEL}(?:\.{_LABEL})*\.?)(?::(\d{{1,5}}))?")


class BadHost(DomainError):
    status = 400
    code = "bad_host"


def valid_host(value: str) -> bool:
    """Is `value` a Host header the server can build URLs and route with?"""
    match = _HOST.fullmatch(value)
    if match is None or len(value) > 260:
        return False
    port = match.group(1)
    return port is None or 0 < int(port) <= 65535


def check_public_url(value: str) -> str:
    """EVENTDESK_PUBLIC_URL without its trailing slash, or ConfigurationError saying what is wrong."""
    parts = urlsplit(value.strip())
    problem = None
    if parts.scheme not in ("http", "https"):
        problem = "must start with http:// or https://"
    elif not parts.hostname or not valid_host(parts.netloc) or parts.username or parts.password:
        problem = "must name a host (and optionally a port), with no user or password"
    elif parts.query or parts.fragment or value.strip().endswith(("?", "#")):
        problem = "must not have a query (?...) or a fragment (#...)"
    if problem:
        raise ConfigurationError(f"EVENTDESK_PUBLIC_URL={value!r} {problem}, e.g. https://agenda.example.org")
    return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")


def check_trusted_proxies(value: object) -> int:
    """EVENTDESK_TRUSTED_PROXIES as a count of hops, or ConfigurationError."""
    try:
        hops = int(value)
    except (TypeError, ValueError):
        hops = -1
    if hops < 0:
        raise ConfigurationError(f"EVENTDESK_TRUSTED_PROXIES={value!r} must be a whole number of proxies, 0 or more")
    return hops


def public_base_url() -> str:
    """scheme://host[/prefix] of this server, with no trailing slash: every absolute URL starts here.

    Built from the WSGI fields directly when not configured: request.url_root rebuilds and
    re-quotes a URL on every call, and cached feeds ask for this on every request.
    """
    configured = current_app.config.get("PUBLIC_URL")
    if configured:
        return configured
    if not has_request_context():  # a command: the address `make run` serves on
        return f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
    return f"{request.scheme}://{request.host}{request.script_root}"


class HostGuard:
    """WSGI middleware: a Host the server cannot route with is answered 400 here, never a 500.

    Werkzeug fails deep inside routing (IDNA encoding of "..") before any handler runs, so the
    answer is made here, in the one error shape. It sits inside ProxyFix, so a forwarded host is
    checked too. Hosts repeat, so each one's verdict is kept (a few hundred at most).
    """

    def __init__(self, app: Callable[[dict, Callable], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST")
        if host is None or _known_good_host(host):
            return self.app(environ, start_response)
        problem = BadHost(
            f"the Host header {host[:100]!r} is not a host name, address or port",
            fields={"Host": "expected a name such as agenda.example.org or 127.0.0.1:5000"},
        )
        body = json.dumps(problem.to_dict()).encode()
        start_response("400 BAD REQUEST", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


@lru_cache(maxsize=256)
def _known_good_host(host: str) -> bool:
    return valid_host(host)


class StorableInt(IntegerConverter):
    """The `<int:...>` of every route: a number SQLite cannot store names nothing, so it is a 404
    here rather than an OverflowError in a query (a 500), at no cost to other requests."""

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if not storable(number):
            raise HTTPNotFound(description=f"no item numbered {value[:40]}: numbers stop at 2^63-1")
        return number
