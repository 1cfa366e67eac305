"""API v1: one flask-restx Namespace per module, aggregated here, with one error shape."""

from __future__ import annotations

import re

from flask import Blueprint
from flask_restx import Api
from flask_restx.apidoc import ui_for

from server import __version__
from server.api import (
    attendees,
    calendars,
    checkins,
    doors,
    events,
    items,
    links,
    matchmaking,
    me,
    personal_data,
    schedule_exports,
    sessions,
    tickets,
)
from server.api.security import AUTHORIZATIONS
from server.api.spec import complete
from server.headers import csp_nonce
from server.web import error_response

blueprint = Blueprint("api_v1", __name__, url_prefix="/api/v1")


class EventdeskApi(Api):
    def handle_error(self, e):
        """Every error, ours or the framework's, as {"error", "message", "fields"?}."""
        return error_response(e)

    @property
    def __schema__(self) -> dict:
        """flask-restx's spec, completed once (server/api/spec.py)."""
        spec = super().__schema__
        if not getattr(self, "_spec_completed", False):
            complete(spec)
            self._spec_completed = True
        return spec


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
api.add_namespace(links.ns)
api.add_namespace(me.ns)
api.add_namespace(matchmaking.ns)
api.add_namespace(matchmaking.mine)
api.add_namespace(schedule_exports.ns)
api.add_namespace(personal_data.ns)


@api.documentation
def swagger_ui() -> str:
    """flask-restx's own Swagger UI page, made to fit the Content-Security-Policy (server/headers.py).

    Its inline script and style get this response's nonce; its one inline style attribute (on
    the hidden SVG sprite) would be blocked, so it becomes attributes. A test renders the page
    in Chromium, so a change of flask-restx's markup that this misses shows there.
    """
    nonce = csp_nonce()
    page = re.sub(r"<(script|style)\b", rf'<\1 nonce="{nonce}"', ui_for(api))
    return page.replace('style="position:absolute;width:0;height:0"', 'width="0" height="0" aria-hidden="true"')
