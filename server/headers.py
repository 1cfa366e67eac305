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

from flask import Flask, Response, g, request

_ALWAYS = (("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"))
_PERSONAL_PREFIX = "/api/v1/me"


def csp_nonce() -> str:
    """This response's nonce, for templates: `<script nonce="{{ csp_nonce() }}">`."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def content_security_policy(nonce: str | None) -> str:
    own = f" 'nonce-{nonce}'" if nonce else ""
    return (
        f"default-src 'self'; script-src 'self'{own}; style-src 'self'{own}; img-src 'self' data:; "
        "frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
    )


def add_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in _ALWAYS:
        headers[name] = value
    if "Authorization" in request.headers or request.path.startswith(_PERSONAL_PREFIX):
        headers["Cache-Control"] = "no-store"
    if response.mimetype == "text/html":
        headers["Content-Security-Policy"] = content_security_policy(g.get("csp_nonce"))
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_headers)
    app.add_template_global(csp_nonce)
