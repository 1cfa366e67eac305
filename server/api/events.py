"""Events, the whole programme in one document, and the change feed."""

from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource

from server import programme
from server.api.caching import cached_json
from server.api.common import NOT_MODIFIED, error_model, event_json, model
from server.bounds import SQLITE_INT_MAX, whole_number
from server.db_app import get_db
from server.errors import BadParameter

ns = Namespace("events", description="Events, whole programmes and their change feeds", path="/events")
error = error_model(ns)
event = model(ns, "Event")
programme_model = model(ns, "Programme")
changes = model(ns, "Changes")


@ns.route("")
class EventList(Resource):
    @ns.response(200, "All events", [event])
    @ns.response(304, NOT_MODIFIED)
    def get(self):
        """List the events on this server."""
        db = get_db()
        return cached_json(lambda: programme.events_fingerprint(db), lambda: programme.list_events(db), db)


@ns.route("/<string:event>")
@ns.param("event", "Event slug, e.g. ecc2014")
class EventItem(Resource):
    @ns.response(200, "The event", event)
    @ns.response(304, NOT_MODIFIED)
    @ns.response(404, "Unknown event", error)
    def get(self, event):
        """One event's details."""
        return event_json(event, programme.event_document)


@ns.route("/<string:event>/programme")
@ns.param("event", "Event slug, e.g. ecc2014")
class Programme(Resource):
    @ns.response(200, "The whole programme", programme_model)
    @ns.response(304, "Not modified (If-None-Match matched the ETag)")
    @ns.response(404, "Unknown event", error)
    def get(self, event):
        """The whole programme in one document, grouped by day, for bulk and offline sync.

        Carries a strong ETag; send it back in If-None-Match to get 304 while nothing changed.
        """
        return event_json(event, programme.programme_document)


@ns.route("/<string:event>/changes")
@ns.param("event", "Event slug, e.g. ecc2014")
class Changes(Resource):
    @ns.doc(params={"since": {"description": "The version you have (0 for everything)", "required": True}})
    @ns.response(200, "What changed after `since`", changes)
    @ns.response(304, NOT_MODIFIED)
    @ns.response(400, "since is missing or not a whole number", error)
    @ns.response(404, "Unknown event", error)
    @ns.response(410, "since is ahead of the server or older than the change log: fetch the programme", error)
    def get(self, event):
        """Changes since a version: the current state of each changed item, and deleted ids."""
        raw = request.args.get("since", "").strip()
        if not (raw.isascii() and raw.isdigit()):
            raise BadParameter(
                "since must be a version number such as 0 or 12",
                fields={"since": "must be a whole number ≥ 0"},
            )
        since = whole_number(raw)
        since = SQLITE_INT_MAX if since is None else since  # more digits than any version: ahead, 410
        return event_json(event, lambda db, row: programme.changes_since(db, row, since))
