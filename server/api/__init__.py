"""API v1: one flask-restx Namespace per module, aggregated here, with one error shape."""

from __future__ import annotations

from flask import Blueprint
from flask_restx import Api

from server import __version__, contract
from server.api import attendees, calendars, checkins, doors, events, items, me, sessions, tickets
from server.api.security import AUTHORIZATIONS
from server.web import error_response

blueprint = Blueprint("api_v1", __name__, url_prefix="/api/v1")


class EventdeskApi(Api):
    def handle_error(self, e):
        """Every error, ours or the framework's, as {"error", "message", "fields"?}."""
        return error_response(e)

    @property
    def __schema__(self) -> dict:
        """The spec, with every model a declared model names (flask-restx follows only its own fields)."""
        spec = super().__schema__
        if not getattr(self, "_models_completed", False):
            definitions, declared = spec.setdefault("definitions", {}), contract.model_schemas()
            wanted = list(_refs(definitions))
            while wanted:
                name = wanted.pop()
                if name not in definitions:
                    definitions[name] = declared[name]
                    wanted += _refs(declared[name])
            self._models_completed = True
        return spec


def _refs(schema: object) -> list[str]:
    """The names of the definitions a schema refers to, at any depth."""
    if isinstance(schema, dict):
        found = [schema["$ref"].rsplit("/", 1)[-1]] if isinstance(schema.get("$ref"), str) else []
        return found + [name for value in schema.values() for name in _refs(value)]
    if isinstance(schema, list):
        return [name for value in schema for name in _refs(value)]
    return []


api = EventdeskApi(
    blueprint,
    version=__version__,
    title="Eventdesk API",
    description=(
        "Event programmes, personal schedules and check-in. Public reads need no token; "
        "writes need `Authorization: Bearer <token>`. Times are ISO 8601 with the event zone's offset."
    ),
    doc="/docs",
    authorizations=AUTHORIZATIONS,
)
api.add_namespace(events.ns)
api.add_namespace(sessions.ns)
api.add_namespace(calendars.ns)
api.add_namespace(calendars.personal)
api.add_namespace(tickets.ns)
api.add_namespace(tickets.mine)
api.add_namespace(checkins.ns)
api.add_namespace(doors.ns)
for namespace in items.namespaces:
    api.add_namespace(namespace)
api.add_namespace(attendees.ns)
api.add_namespace(me.ns)
