"""What every operation of the published spec can answer, added where flask-restx cannot see it.

The answers that come from the request pipeline rather than from a resource are true of
every operation of a kind, so they are documented here once: an unknown path parameter (404),
a token that is missing or lacks the role (401, 403), a body that is malformed or too large
(400, 413), a query parameter or Host header that cannot be read (400), and the JSON error that a calendar or
image route sends instead of its usual media type.
"""

from __future__ import annotations

from server import contract

ERROR = {"$ref": "#/definitions/Error"}
_ANSWERS = {
    "400": "Malformed request: the Host header, a parameter or the body cannot be read or has the wrong shape",
    "401": "No token, or one that is unknown or revoked (WWW-Authenticate: Bearer)",
    "403": "The token's role or event does not allow this",
    "404": "An unknown event or item in the path",
    "413": "The body is larger than the limit (EVENTDESK_MAX_BODY, 256 KiB by default)",
    "422": "The body has the expected shape, but a value breaks a rule (each named in fields)",
}
_WITH_BODY = ("post", "put", "patch")


def complete(spec: dict) -> dict:
    """The spec with every declared model it names, and every pipeline answer, documented."""
    _add_named_models(spec)
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method != "parameters":
                _add_pipeline_answers(method, operation, item.get("parameters", []))
    return spec


def _add_named_models(spec: dict) -> None:
    """flask-restx follows only its own fields; declared models name each other by $ref."""
    definitions, declared = spec.setdefault("definitions", {}), contract.model_schemas()
    wanted = contract.named_models(definitions) + contract.named_models(spec.get("paths", {})) + ["Error"]
    while wanted:
        name = wanted.pop()
        if name not in definitions:
            definitions[name] = declared[name]
            wanted += contract.named_models(declared[name])


def _add_pipeline_answers(method: str, operation: dict, shared: list[dict]) -> None:
    parameters = shared + operation.get("parameters", [])
    answers = operation.setdefault("responses", {})
    wanted = ["400"]  # any request: a Host header that is no host name (bad_host)
    if any(parameter["in"] == "path" for parameter in parameters):
        wanted.append("404")
    if operation.get("security"):
        wanted += ["401", "403"]
    takes_body = any(parameter["in"] == "body" for parameter in parameters)
    if method in _WITH_BODY or takes_body:
        wanted += ["400", "413"]
    if takes_body:
        wanted.append("422")
    if any(parameter["in"] == "query" for parameter in parameters):
        wanted.append("400")
    for status in wanted:
        answers.setdefault(status, {"description": _ANSWERS[status], "schema": ERROR})
    if "x-consumes" in operation:  # flask-restx has no consumes of its own: a route says it as a vendor key
        operation["consumes"] = operation.pop("x-consumes")
    produces = operation.get("produces")
    if produces and "application/json" not in produces:
        operation["produces"] = [*produces, "application/json"]  # errors are JSON on every route
