"""Sessions: the public list with filters, one session, and the admin writes."""

from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource, fields

from server import programme, programme_edit
from server.api.common import NullableString, error_model, event_json, flag, json_body, write_result_model
from server.api.security import admin_required
from server.db_app import get_db
from server.validation import ID_PATTERN, SESSION_STATUSES, SESSION_TYPES, SPEAKER_ROLES

ns = Namespace("sessions", description="Programme sessions", path="/events/<string:event>/sessions")
error = error_model(ns)
write_result = write_result_model(ns)

session_speaker = ns.model(
    "SessionSpeaker",
    {
        "id": fields.String(description="Speaker id"),
        "name": fields.String(description="Display name"),
        "job_title": fields.String(description="Job title or role"),
        "organisation": fields.String(description="Organisation"),
        "role": fields.String(enum=list(SPEAKER_ROLES), description="Role in this session"),
    },
)

session = ns.model(
    "Session",
    {
        "id": fields.String(description="Stable id, unique in the event", example="opening-plenary"),
        "guid": fields.String(description="UUID fixed at creation (iCalendar UID, frab guid)"),
        "title": fields.String(description="Title"),
        "type": fields.String(enum=list(SESSION_TYPES), description="Kind of session"),
        "track": fields.String(description="Track id, or null"),
        "room": fields.String(description="Room id, or null for whole-venue items such as breaks"),
        "day": fields.String(description="Local date the session starts on (YYYY-MM-DD)"),
        "start": fields.String(
            description="Start, ISO 8601 with the event zone's offset", example="2014-10-20T14:00:00+02:00"
        ),
        "end": fields.String(description="End, ISO 8601 with the event zone's offset"),
        "duration_minutes": fields.Integer(description="Length in minutes"),
        "abstract": fields.String(description="Plain-text description"),
        "language": fields.String(description="ISO 639-1 language code"),
        "capacity": fields.Integer(description="Seats for bookings, or null when unlimited"),
        "status": fields.String(enum=list(SESSION_STATUSES), description="confirmed or cancelled"),
        "sequence": fields.Integer(description="Rises each time the time, room or status changes"),
        "updated_at": fields.String(description="Last change, ISO 8601 in UTC"),
        "speakers": fields.List(fields.Nested(session_speaker), description="In display order"),
    },
)

speaker_link_input = ns.model(
    "SessionSpeakerInput",
    {
        "id": fields.String(required=True, description="Speaker id"),
        "role": fields.String(enum=list(SPEAKER_ROLES), default="speaker", description="Role in the session"),
    },
    strict=True,
)


def _session_input_fields(create: bool) -> dict:
    """The writable fields; on create the ones a session cannot lack are required."""
    return {
        "title": fields.String(required=create, min_length=1, description="Title"),
        "type": fields.String(required=create, enum=list(SESSION_TYPES), description="Kind of session"),
        "start": fields.String(
            required=create,
            example="2014-10-20T14:00",
            description="ISO 8601; without an offset it is local to the event's zone",
        ),
        "end": fields.String(required=create, example="2014-10-20T15:30", description="ISO 8601, after start"),
        "room": NullableString(description="Room id; null for none"),
        "track": NullableString(description="Track id; null for none"),
        "abstract": fields.String(description="Plain-text description"),
        "language": fields.String(description="ISO 639-1 code", default="en"),
        "capacity": fields.Integer(min=1, description="Seats; omit for unlimited"),
        "status": fields.String(enum=list(SESSION_STATUSES), description="confirmed or cancelled"),
        "speakers": fields.List(fields.Nested(speaker_link_input), description="Replaces the speakers"),
    }


session_input = ns.model(
    "SessionInput",
    {
        "id": fields.String(required=True, pattern=ID_PATTERN, description="Stable id"),
        "guid": fields.String(description="Optional fixed UUID"),
        **_session_input_fields(create=True),
    },
    strict=True,
)
session_patch = ns.model("SessionPatch", _session_input_fields(create=False), strict=True)

_FILTER_DOCS = {
    "day": "Day number (1, 2, ...) or date (YYYY-MM-DD)",
    "track": "Track id",
    "room": "Room id",
    "type": "Session type: " + ", ".join(SESSION_TYPES),
    "speaker": "Speaker id",
    "q": "Full-text search over title, abstract and speaker names (every word must match)",
}
FORCE_DOC = "true to allow a room double-booking"


@ns.route("")
@ns.param("event", "Event slug, e.g. ecc2014")
class SessionList(Resource):
    @ns.doc(params=_FILTER_DOCS)
    @ns.response(200, "Sessions in time order", [session])
    @ns.response(400, "A filter cannot be understood", error)
    @ns.response(404, "Unknown event, or a filter names an unknown track, room, speaker or day", error)
    def get(self, event):
        """List sessions, optionally filtered."""

        def build(db, row):
            return programme.list_sessions(db, row, programme.parse_session_filters(db, row, request.args))

        return event_json(event, build)

    @ns.doc(security="bearer", params={"force": FORCE_DOC})
    @ns.expect(session_input)
    @ns.response(201, "Created", session)
    @ns.response(400, "Malformed input", error)
    @ns.response(401, "No valid token", error)
    @ns.response(403, "Not an admin of this event", error)
    @ns.response(409, "The id is taken or the room is double-booked", error)
    @ns.response(422, "Invalid values", error)
    @admin_required
    def post(self, event):
        """Create a session (admin)."""
        db = get_db()
        result = programme_edit.create_session(db, event, json_body(session_input), force=flag("force"))
        return programme.get_session(db, programme.get_event(db, event), result["id"]), 201


@ns.route("/<string:session_id>")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("session_id", "Session id, e.g. opening-plenary")
class SessionItem(Resource):
    @ns.response(200, "The session", session)
    @ns.response(404, "Unknown event or session", error)
    def get(self, event, session_id):
        """One session."""
        return event_json(event, lambda db, row: programme.get_session(db, row, session_id))

    @ns.doc(security="bearer", params={"force": FORCE_DOC})
    @ns.expect(session_patch)
    @ns.response(200, "Updated", session)
    @ns.response(400, "Malformed input", error)
    @ns.response(401, "No valid token", error)
    @ns.response(403, "Not an admin of this event", error)
    @ns.response(404, "Unknown event or session", error)
    @ns.response(409, "The room is double-booked", error)
    @ns.response(422, "Invalid values", error)
    @admin_required
    def patch(self, event, session_id):
        """Change some fields of a session (admin); time, room or status changes raise its sequence."""
        db = get_db()
        programme_edit.update_session(db, event, session_id, json_body(session_patch), force=flag("force"))
        return programme.get_session(db, programme.get_event(db, event), session_id)

    @ns.doc(security="bearer")
    @ns.response(200, "Deleted", write_result)
    @ns.response(401, "No valid token", error)
    @ns.response(403, "Not an admin of this event", error)
    @ns.response(404, "Unknown event or session", error)
    @admin_required
    def delete(self, event, session_id):
        """Delete a session for good (admin). To call it off but keep it in calendars, cancel it."""
        return programme_edit.delete_session(get_db(), event, session_id)


@ns.route("/<string:session_id>/cancel")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("session_id", "Session id")
class SessionCancel(Resource):
    @ns.doc(security="bearer")
    @ns.response(200, "Cancelled; the session stays in the programme and feeds", session)
    @ns.response(401, "No valid token", error)
    @ns.response(403, "Not an admin of this event", error)
    @ns.response(404, "Unknown event or session", error)
    @admin_required
    def post(self, event, session_id):
        """Cancel a session (admin): it stays, with status cancelled."""
        db = get_db()
        programme_edit.set_session_status(db, event, session_id, "cancelled")
        return programme.get_session(db, programme.get_event(db, event), session_id)
