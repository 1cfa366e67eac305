"""Helpers shared by the resources: the error model, flags, and event-scoped cached reads."""

from __future__ import annotations

from collections.abc import Callable

from flask import request
from flask_restx import Namespace, fields

from server import db as database, programme
from server.api.caching import cached_json
from server.db_app import get_db
from server.errors import BadParameter


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
    with database.read(db):
        version = programme.event_version(db, slug)
        return cached_json((slug, version), lambda: build(db, programme.get_event(db, slug)))


def json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadParameter("the request body must be a JSON object", fields={"body": "must be a JSON object"})
    return body
