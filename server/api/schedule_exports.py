"""The programme for offline schedule apps: frab/c3voc schedule.json and schedule.xml.

Cached like every programme read (per URL and programme version, strong ETag, 304), and per
scheme and host too, since the files embed absolute URLs. Errors stay JSON.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response
from flask_restx import Namespace, Resource

from server import frab, ical, programme
from server.api.caching import Representation, cached
from server.api.common import error_model
from server.db_app import get_db
from server.urls import public_base_url

ns = Namespace(
    "schedule exports",
    description="The programme in the frab/c3voc schedule format, for Giggity, EventFahrplan, ConfClerk and the like",
    path="/events/<string:event>",
)
error = error_model(ns)

_FORMAT_DOC = (
    "frab/c3voc schedule format (https://c3voc.de/wiki/schedule): every session with guid = its "
    "Eventdesk guid (as in its iCalendar UID {guid}@eventdesk), days from local midnight to midnight in "
    "the event's zone, sessions without a room in one room named after the venue, version = the "
    "event's programme version; a cancelled session stays with its title starting 'Cancelled: '. "
    "Carries a strong ETag and Last-Modified."
)
_NOT_MODIFIED = "Not modified (If-None-Match matched the ETag, or nothing changed since If-Modified-Since)"


def schedule_export(slug: str, render: Callable[[dict], bytes], media_type: str) -> Response:
    """The event's schedule document rendered by `render`, cached per programme version."""
    db = get_db()

    def representation() -> Representation:
        row = programme.get_event(db, slug)
        sessions = programme.list_sessions(db, row)
        document = frab.schedule_document(
            event=programme.event_document(db, row),
            rooms=programme.list_rooms(db, row),
            tracks=programme.list_tracks(db, row),
            sessions=sessions,
            numbers=programme.session_numbers(db, row),
            base_url=public_base_url(),
        )
        return Representation.of_bytes(render(document), media_type, ical.last_modified(sessions, row))

    return cached(lambda: (slug, programme.event_version(db, slug)), representation, db, per_origin=True)


@ns.route("/schedule.json")
@ns.param("event", "Event slug, e.g. ecc2014")
class ScheduleJson(Resource):
    @ns.produces(["application/json"])
    @ns.response(200, "The programme as schedule.json (valid against c3voc's schema.json) in the " + _FORMAT_DOC)
    @ns.response(304, _NOT_MODIFIED)
    @ns.response(404, "Unknown event", error)
    def get(self, event):
        """The programme as frab/c3voc schedule.json, for schedule apps."""
        return schedule_export(event, frab.render_json, frab.JSON_MEDIA_TYPE)


@ns.route("/schedule.xml")
@ns.param("event", "Event slug, e.g. ecc2014")
class ScheduleXml(Resource):
    @ns.produces(["application/xml"])
    @ns.response(200, "The programme as schedule.xml (valid against c3voc's schedule.xml.xsd) in the " + _FORMAT_DOC)
    @ns.response(304, _NOT_MODIFIED)
    @ns.response(404, "Unknown event", error)
    def get(self, event):
        """The programme as frab/c3voc schedule.xml: subscribe Giggity, EventFahrplan or ConfClerk to it."""
        return schedule_export(event, frab.render_xml, frab.XML_MEDIA_TYPE)
