"""Headers every response carries, set in one place after the view has run.

- `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer` everywhere: secret feed
  URLs must not leak to other sites through the Referer header.
- `Cache-Control: no-store` on whatever answers a request with a token or under /me: new
  tokens, ticket codes (the QR is a credential), the feed URL and personal data must stay in no
  shared or browser cache. The personal feed itself keeps its `private, no-cache` and ETag.
- A Content-Security-Policy on HTML pages, with a per-response nonce for their inline script
  and style (Swagger UI's start-up script): nothing from outside, no framing, no plugins.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable

from flask import Flask, request

_ALWAYS = [("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer")]
_PERSONAL_PREFIX = "/api/v1/me"
_NONCE = "eventdesk.csp_nonce"  # in the WSGI environ, where the middleware finds it


def csp_nonce() -> str:
    """This response's nonce, for templates: `<script nonce="{{ csp_nonce() }}">`."""
    environ = request.environ
    if _NONCE not in environ:
        environ[_NONCE] = secrets.token_urlsafe(16)
    return environ[_NONCE]


def content_security_policy(nonce: str | None) -> str:
    own = f" 'nonce-{nonce}'" if nonce else ""
    return (
        f"default-src 'self'; script-src 'self'{own}; style-src 'self'{own}; img-src 'self' data:; "
        "frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
    )


class ResponseHeaders:
    """WSGI middleware adding the headers to what the app starts to send.

    A middleware rather than a Flask after_request hook: on a cached read the hook (Flask's
    bookkeeping, request.headers, response.mimetype) cost ~8% of the request's instructions
    (callgrind: 60k of 737k), this ~4k. It sits inside the 304 shortcut, so a 304 kept there
    carries them too.
    """

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        private = "HTTP_AUTHORIZATION" in environ or environ.get("PATH_INFO", "").startswith(_PERSONAL_PREFIX)

        def start(status: str, headers: list[tuple[str, str]], exc_info=None) -> Callable:
            if private:
                headers = [item for item in headers if item[0].lower() != "cache-control"]
                headers.append(("Cache-Control", "no-store"))
            headers.extend(_ALWAYS)
            if any(name.lower() == "content-type" and value.startswith("text/html") for name, value in headers):
                headers.append(("Content-Security-Policy", content_security_policy(environ.get(_NONCE))))
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


def init_app(app: Flask) -> None:
    app.wsgi_app = ResponseHeaders(app.wsgi_app)
    app.add_template_global(csp_nonce)
