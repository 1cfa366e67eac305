"""gunicorn's access log without the secrets that travel in URLs.

A personal calendar feed is a secret URL (calendar apps cannot send headers), so the path
`/api/v1/calendars/<token>.ics` is logged as `/api/v1/calendars/[redacted].ics`, and any
token-like query value (`token=`, `key=`, ...) as `[redacted]`. Logs are copied, shipped and
kept far longer than a feed token should be readable.
"""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

REDACTED = "[redacted]"
_FEED_PATH = re.compile(r"(/api/v1/calendars/)[^/?#\s]+(\.ics)")
_SECRET_QUERY = re.compile(r"((?:^|[?&;])[^=&;\s]*(?:token|key|secret|password|signature)[^=&;\s]*=)[^&;#\s]*", re.I)
_REDACTED_ATOMS = ("r", "U", "q", "f", "{referer}i")


def redact(text: str) -> str:
    """`text` (a request line, path, query or referrer) with its secret parts replaced."""
    return _SECRET_QUERY.sub(rf"\1{REDACTED}", _FEED_PATH.sub(rf"\1{REDACTED}\2", text))


class RedactingLogger(Logger):
    """gunicorn's logger, with the URL parts of every access-log line redacted."""

    def atoms(self, resp, req, environ, request_time) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        for name in _REDACTED_ATOMS:
            if isinstance(atoms.get(name), str):
                atoms[name] = redact(atoms[name])
        atoms.pop("{authorization}i", None)
        return atoms
