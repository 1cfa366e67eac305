"""Helpers shared by the resources: the error model, flags, and event-scoped cached reads."""

from __future__ import annotations

from collections.abc import Callable

from flask import request
from flask_restx import Namespace
from flask_restx.model import SchemaModel

from server import contract, programme
from server.api.bodies import read_json_body
from server.api.caching import cached_json
from server.db_app import get_db
from server.errors import BadParameter, InvalidInput

NOT_MODIFIED = "Not modified: the tag sent in If-None-Match still matches"


def model(ns: Namespace, name: str) -> SchemaModel:
    """The model `name` as declared in server/declarations/ (e.g. Room, RoomInput, RoomPatch)."""
    if name not in ns.models:
        ns.schema_model(name, contract.model_schemas()[name])
    return ns.models[name]


def error_model(ns: Namespace) -> SchemaModel:
    return model(ns, "Error")


def write_result_model(ns: Namespace) -> SchemaModel:
    return model(ns, "WriteResult")


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
        raise InvalidInput("the body must be a JSON object", fields={"body": "must be a JSON object"})
    return body


def json_body(name: str) -> dict:
    """The request's JSON object, checked against the declared body `name` (400/422 by field).

    Called inside the resource, after authentication, so an anonymous caller learns
    nothing about the input schema. Item bodies (RoomInput...) are checked by the domain
    function they go to; this is for bodies that are no item (ScanInput, ListMembers...).
    """
    return contract.require_body(name, json_object(), body="input")
