"""Where the server says it lives: the base of every absolute URL it writes, and the Host it accepts.

Feed links and the `URL:` lines of calendars are copied into calendar apps and kept for years,
so they must not follow whatever Host or X-Forwarded-Host a client sends. EVENTDESK_PUBLIC_URL
fixes them; without it they follow the request, whose forwarded headers are believed only
with EVENTDESK_TRUSTED_PROXIES=N (see create_app).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from flask import current_app, request

from server.errors import ConfigurationError, DomainError

# A DNS name (labels of letters, digits, '-' and '_', as container names use), an IPv4
# address, or a bracketed IPv6 address; then an optional port.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = re.compile(rf"(?:\[[0-9A-Fa-f:.]{{2,45}}\]|{_LABEL}(?:\.{_LABEL})*\.?)(?::(\d{{1,5}}))?")
BAD_HOST_KEY = "eventdesk.bad_host"
_PLACEHOLDER_HOST = "invalid.invalid"


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
    return f"{request.scheme}://{request.host}{request.script_root}"


class HostGuard:
    """WSGI middleware: a Host the server cannot route with becomes a 400, never a 500.

    Werkzeug fails deep inside routing (IDNA encoding of "..") before any handler runs, so the
    bad value is set aside here and a harmless placeholder routes the request to `refuse_bad_host`,
    which answers in the one error shape. It sits inside ProxyFix, so a forwarded host is checked too.
    """

    def __init__(self, app: Callable[[dict, Callable], Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        host = environ.get("HTTP_HOST")
        if host is not None and not valid_host(host):
            environ[BAD_HOST_KEY] = host
            environ["HTTP_HOST"] = _PLACEHOLDER_HOST
        return self.app(environ, start_response)


def refuse_bad_host() -> None:
    """before_request: answer 400 for a Host that HostGuard set aside."""
    if BAD_HOST_KEY in request.environ:
        raise BadHost(
            f"the Host header {request.environ[BAD_HOST_KEY][:100]!r} is not a host name, address or port",
            fields={"Host": "expected a name such as agenda.example.org or 127.0.0.1:5000"},
        )
