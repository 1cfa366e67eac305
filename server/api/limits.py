"""Per-route request body limits, for the few routes that take more than the default.

Every request is held to `MAX_CONTENT_LENGTH` (EVENTDESK_MAX_BODY, 256 KiB by default): past it
the answer is 413 `payload_too_large` naming the limit, before anything is parsed. A chunked
body with no Content-Length meets it too (api.bodies.read_body: werkzeug only stops reading).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import request

BATCH_BODY_LIMIT = 4 * 1024 * 1024  # an offline batch: up to 5000 scans of ~600 bytes, with room
CSV_IMPORT_LIMIT = 16 * 1024 * 1024  # a registration export of some 100,000 rows


def body_limit(limit: int) -> Callable[[Callable], Callable]:
    """Let this route's body be up to `limit` bytes instead of the default."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(*args, **kwargs):
            request.max_content_length = limit  # read when the body is first read, so set before
            return method(*args, **kwargs)

        return wrapper

    return decorate
