"""Reading a request body: the one place JSON is parsed, with the limits a hostile body meets.

Flask's own `get_json` lets a body nested 100,000 deep reach a RecursionError (a 500) and lets
lone surrogates (`"\\ud800"`) through to SQLite and the renderers, which then fail on them.
Here the body is read once, under the request's size limit (413 past it), decoded as strict
UTF-8, parsed, and checked for depth and lone surrogates, each refusal a 400 naming the place.
"""

from __future__ import annotations

import json
import re

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge, UnsupportedMediaType

from server.errors import InvalidInput

MAX_DEPTH = 32  # deeper than any body the API takes (a batch of scans is 3 deep)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # the only way JSON text can spell one
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_JSON = {"body": "must be a JSON object"}


def read_json_body() -> object:
    """The request's body as a JSON value, or InvalidInput (400) naming `body` or the field path."""
    if not request.is_json:
        raise InvalidInput("send the body as JSON with Content-Type: application/json", fields=_NOT_JSON)
    raw = read_body()
    try:
        text = raw.decode("utf-8-sig")  # strict: bytes that spell a surrogate are refused here
        value = json.loads(text)
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8 text", fields={"body": "must be UTF-8"}) from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise InvalidInput("the body is not valid JSON", fields={"body": "is not valid JSON"}) from None
    # Walking the value costs a little, so only bodies that could hold a problem are walked.
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH or _SURROGATE_ESCAPE.search(raw):
        _check(value, "", 1)
    return value


def read_body() -> bytes:
    """The body's bytes, or 413 past the request's limit (a Content-Length past it is refused
    unread; a chunked body is read up to the limit and refused if there is more).

    Werkzeug stops reading a chunked body at max_content_length without an error, so a longer
    body would arrive cut short: a CSV import would then quietly take the rows that fit.
    """
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    chunked = request.content_length is None
    if chunked and limit is not None and len(raw) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return raw


def _too_deep() -> InvalidInput:
    return InvalidInput(
        f"the body is nested more than {MAX_DEPTH} levels deep", fields={"body": f"at most {MAX_DEPTH} levels deep"}
    )


def _check(value: object, path: str, depth: int) -> None:
    """Refuse nesting past MAX_DEPTH and any string (key or value) holding a lone surrogate."""
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value):
            raise _surrogate(path or "body")
        return
    if not isinstance(value, dict | list):
        return
    if depth > MAX_DEPTH:
        raise _too_deep()
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(key, str):
            name = key.encode("utf-8", "backslashreplace").decode("utf-8")
            where = f"{path}.{name}" if path else name
            if _LONE_SURROGATE.search(key):
                raise _surrogate(where)
        else:
            where = f"{path}[{key}]"
        _check(item, where, depth + 1)


def _surrogate(where: str) -> InvalidInput:
    return InvalidInput(
        f"{where} holds a lone surrogate (\\ud800-\\udfff), which is not text",
        fields={where: "must be text without lone surrogates"},
    )


def read_csv_body() -> str:
    """The request's body as CSV text (Content-Type: text/csv, UTF-8), or 415/400."""
    if request.mimetype != "text/csv":
        raise UnsupportedMediaType("send the CSV with Content-Type: text/csv")
    try:
        return read_body().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the body is not UTF-8 text", fields={"body": "save the CSV as UTF-8"}) from None
