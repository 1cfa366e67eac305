"""Events, the whole programme in one document, and the change feed."""

from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource, fields

from server import programme
from server.api.caching import cached_json
from server.api.common import error_model, event_json
from server.api.items import namespaces as item_namespaces
from server.api.sessions import session
from server.bounds import SQLITE_INT_MAX, whole_number
from server.db_app import get_db
from server.errors import BadParameter

ns = Namespace("events", description="Events, whole programmes and their change feeds", path="/events")
error = error_model(ns)
room, track, speaker = (
    item_ns.models[name] for item_ns, name in zip(item_namespaces, ("Room", "Track", "Speaker"), strict=True)
)
for model in (room, track, speaker):
    ns.add_model(model.name, model)

day = ns.model(
    "Day",
    {
        "date": fields.String(description="Local date, YYYY-MM-DD"),
        "number": fields.Integer(description="1 for the first day"),
        "label": fields.String(description="e.g. 'Day 1, Monday 20 October 2014'"),
    },
)
edition = ns.model(
    "PreviousEdition",
    {"year": fields.Integer(description="Year"), "city": fields.String(description="Host city")},
)
event = ns.model(
    "Event",
    {
        "slug": fields.String(description="URL name of the event", example="ecc2014"),
        "title": fields.String(description="Full title"),
        "description": fields.String(description="Plain text"),
        "timezone": fields.String(description="IANA zone all local times are in", example="Europe/Brussels"),
        "start_date": fields.String(description="First day, YYYY-MM-DD"),
        "end_date": fields.String(description="Last day, YYYY-MM-DD"),
        "days": fields.List(fields.Nested(day), description="Every day of the event"),
        "venue": fields.String(description="Venue"),
        "city": fields.String(description="City"),
        "country": fields.String(description="ISO 3166-1 alpha-2 code"),
        "capacity": fields.Integer(description="Expected attendance, or null"),
        "organiser": fields.String(description="Who runs the event"),
        "url": fields.String(description="Public web page, or empty"),
        "notice": fields.String(description="A note to show with the programme (e.g. that it is illustrative)"),
        "themes": fields.List(fields.String, description="Themes"),
        "guiding_questions": fields.List(fields.String, description="Questions the event sets out to answer"),
        "previous_editions": fields.List(fields.Nested(edition), description="Earlier editions"),
        "version": fields.Integer(description="Programme version; rises with every programme change"),
    },
)
programme_day = ns.clone(
    "ProgrammeDay", day, {"sessions": fields.List(fields.Nested(session), description="The day's sessions")}
)
programme_model = ns.model(
    "Programme",
    {
        "event": fields.Nested(event, description="The event"),
        "version": fields.Integer(description="Programme version this document shows"),
        "rooms": fields.List(fields.Nested(room), description="Rooms in display order"),
        "tracks": fields.List(fields.Nested(track), description="Tracks in display order"),
        "speakers": fields.List(fields.Nested(speaker), description="Speakers by name"),
        "days": fields.List(fields.Nested(programme_day), description="Days with their sessions in time order"),
    },
)


def _per_kind(ns: Namespace, name: str, item, description: str):
    return ns.model(
        name,
        {
            "sessions": fields.List(item(session), description=f"Sessions {description}"),
            "speakers": fields.List(item(speaker), description=f"Speakers {description}"),
            "rooms": fields.List(item(room), description=f"Rooms {description}"),
            "tracks": fields.List(item(track), description=f"Tracks {description}"),
        },
    )


upserts = ns.clone(
    "Upserts",
    _per_kind(ns, "UpsertLists", fields.Nested, "created or changed, in their current state"),
    {"event": fields.Nested(event, allow_null=True, description="The event, if its details changed; else null")},
)
deletions = _per_kind(ns, "Deletions", lambda _model: fields.String, "deleted (their ids)")
changes = ns.model(
    "Changes",
    {
        "event": fields.String(description="Event slug"),
        "since": fields.Integer(description="The version asked about"),
        "version": fields.Integer(description="The current version: ask ?since= this next time"),
        "upserts": fields.Nested(upserts, description="Items created or changed after `since`"),
        "deletions": fields.Nested(deletions, description="Ids of items deleted after `since`"),
    },
)


@ns.route("")
class EventList(Resource):
    @ns.response(200, "All events", [event])
    def get(self):
        """List the events on this server."""
        db = get_db()
        return cached_json(lambda: programme.events_fingerprint(db), lambda: programme.list_events(db), db)


@ns.route("/<string:event>")
@ns.param("event", "Event slug, e.g. ecc2014")
class EventItem(Resource):
    @ns.response(200, "The event", event)
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
