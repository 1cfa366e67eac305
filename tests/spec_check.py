"""Every response a test receives is held to what /api/v1/swagger.json documents for it.

The spec is read as a client generator reads it (Swagger 2.0: `x-nullable` means "or null"),
independently of how the server builds it; a status, content type or body the spec does not
promise fails the test that received it, so spec and behaviour cannot drift apart.
"""

from __future__ import annotations

import gzip
import json
import re
from functools import cache

from flask.testing import FlaskClient
from jsonschema import Draft4Validator

API_PREFIX = "/api/v1"
_UNCHECKED = ("/api/v1/swagger.json", "/api/v1/docs")


class SpecMismatch(AssertionError):
    pass


class SpecCheckingClient(FlaskClient):
    """Flask's test client, checking each API response against the spec before returning it."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        request = response.request
        path, method = request.path, request.method
        if path.startswith(API_PREFIX) and not path.startswith(_UNCHECKED) and method != "OPTIONS":
            check_response(self.application, method, path, response)
        return response


_spec: list[dict] = []


def spec_for(app) -> dict:
    """The spec as /api/v1/swagger.json serves it (one API object serves every app, so read once).

    Read inside a request context rather than requested, so no test sees an extra request.
    """
    if not _spec:
        from server.api import api

        with app.test_request_context("/api/v1/swagger.json"):
            _spec.append(json.loads(json.dumps(api.__schema__)))
    return _spec[0]


@cache
def _operations() -> list[tuple[re.Pattern, str, dict]]:
    spec = _spec[0]
    found = []
    for template, item in spec["paths"].items():
        literal = len(re.sub(r"\{[^}]+\}", "", template))
        pattern = re.compile(
            re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(spec["basePath"].rstrip("/") + template)) + "$"
        )
        for method, operation in item.items():
            if method != "parameters":
                found.append((literal, pattern, method.upper(), operation))
    found.sort(key=lambda entry: -entry[0])
    return [(pattern, method, operation) for _, pattern, method, operation in found]


def find_operation(spec: dict, method: str, path: str) -> dict | None:
    """The operation documented for `method path`, the most literal template first."""
    wanted = "GET" if method == "HEAD" else method
    for pattern, verb, operation in _operations():
        if verb == wanted and pattern.match(path):
            return operation
    return None


def check_response(app, method: str, path: str, response) -> None:
    spec = spec_for(app)
    operation = find_operation(spec, method, path)
    where = f"{method} {path} answered {response.status_code}"
    if operation is None:
        if response.status_code in (404, 405):
            return  # no such route: the server's JSON 404/405, checked by the error-shape tests
        raise SpecMismatch(f"{where}, but the spec has no such operation")
    documented = operation.get("responses", {})
    answer = documented.get(str(response.status_code)) or documented.get("default")
    if answer is None:
        raise SpecMismatch(f"{where}, a status the spec does not document (it has {sorted(documented)})")
    if response.status_code in (204, 304) or method == "HEAD":
        return
    produces = operation.get("produces") or spec.get("produces") or ["application/json"]
    if response.mimetype not in produces:
        raise SpecMismatch(f"{where} as {response.mimetype}, which the spec does not list ({produces})")
    if "schema" in answer and response.mimetype == "application/json":
        schema = {**_validation_form(answer["schema"]), "definitions": _definitions()}
        data = response.get_data()
        if response.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        body = json.loads(data)
        errors = sorted(Draft4Validator(schema).iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            details = "; ".join(
                f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message[:200]}" for e in errors[:5]
            )
            raise SpecMismatch(f"{where} with a body the spec does not describe: {details}")


@cache
def _definitions() -> dict:
    return {name: _validation_form(schema) for name, schema in _spec[0].get("definitions", {}).items()}


def _validation_form(schema: object) -> object:
    """Swagger 2.0's `x-nullable: true` as JSON Schema's "or null".

    Written here again on purpose, not imported from server.contract: the check reads the
    published spec as an outside client would, so a mistake in the server's reading of its
    own declarations cannot hide itself.
    """
    if isinstance(schema, list):
        return [_validation_form(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _validation_form(value) for key, value in schema.items() if key != "x-nullable"}
    if schema.get("x-nullable"):
        return {"anyOf": [{"type": "null"}, result]}
    return result
