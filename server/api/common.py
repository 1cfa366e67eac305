"""Helpers shared by the resources: the error model, flags, and event-scoped cached reads."""

from __future__ import annotations

from collections.abc import Callable

from flask import request
from flask_restx import Model, Namespace, fields
from jsonschema import Draft4Validator, ValidationError as JsonSchemaError

from server import programme
from server.api.bodies import read_json_body
from server.api.caching import cached_json
from server.db_app import get_db
from server.errors import BadParameter, InvalidInput


class NullableString(fields.String):
    """A string that may be sent as null (to clear a reference such as a session's room)."""

    __schema_type__ = ["string", "null"]  # noqa: RUF012 - flask-restx reads it as a class attribute


def error_model(ns: Namespace):
    return ns.model(
        "Error",
        {
            "error": fields.String(required=True, description="Machine-readable code, e.g. not_found"),
            "message": fields.String(required=True, description="What went wrong, for a person"),
            "fields": fields.Raw(description="Problems per input field or parameter, when there are any"),
        },
    )


def write_result_model(ns: Namespace):
    return ns.model(
        "WriteResult",
        {
            "id": fields.String(description="The item written"),
            "version": fields.Integer(description="The event's programme version after the write"),
        },
    )


def flag(name: str) -> bool:
    """A boolean query parameter such as ?force=true."""
    value = request.args.get(name, "false").strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("", "0", "false", "no"):
        return False
    raise BadParameter(f"{name} must be true or false", fields={name: "must be true or false"})


def event_json(slug: str, build: Callable[[object, dict], object]) -> object:
    """A public read of one event's data, cached per URL and programme version."""
    db = get_db()
    return cached_json(
        lambda: (slug, programme.event_version(db, slug)),
        lambda: build(db, programme.get_event(db, slug)),
        db,
    )


def json_object() -> dict:
    """The request body as a JSON object, or a 400 naming `body`."""
    body = read_json_body()
    if not isinstance(body, dict):
        raise InvalidInput(
            "send a JSON object with Content-Type: application/json", fields={"body": "must be a JSON object"}
        )
    return body


def json_body(model: Model) -> dict:
    """The request's JSON object, checked against `model`; every problem named by field.

    Called inside the resource, after authentication, so an anonymous caller learns
    nothing about the input schema.
    """
    body = read_json_body()
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", fields={"body": "must be a JSON object"})
    problems = {}
    for problem in _validator(model).iter_errors(body):
        problems.update(_describe(problem))
    if problems:
        names = ", ".join(sorted(problems))
        raise InvalidInput(f"the body does not fit {model.name}: check {names}", fields=problems)
    return body


_validators: dict[str, Draft4Validator] = {}


def _validator(model: Model) -> Draft4Validator:
    """A validator with every model's definition inlined, so nested $refs resolve offline."""
    if model.name not in _validators:
        from server.api import api

        definitions = {name: item.__schema__ for name, item in api.models.items()}
        _validators[model.name] = Draft4Validator({**model.__schema__, "definitions": definitions})
    return _validators[model.name]


def _describe(problem: JsonSchemaError) -> dict[str, str]:
    path = ".".join(str(part) for part in problem.absolute_path)
    prefix = f"{path}." if path else ""
    if problem.validator == "additionalProperties":
        allowed = set(problem.schema.get("properties", {}))
        return {f"{prefix}{name}": "is not a known field" for name in problem.instance if name not in allowed}
    if problem.validator == "required":
        missing = [name for name in problem.validator_value if name not in problem.instance]
        return {f"{prefix}{name}": "is required" for name in missing}
    return {path or "body": problem.message}
