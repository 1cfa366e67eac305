"""Sessions: the public list with filters, one session, and the admin writes."""

from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource

from server import programme, programme_edit
from server.api.common import NOT_MODIFIED, error_model, event_json, flag, json_object, model, write_result_model
from server.api.security import admin_required
from server.db_app import get_db
from server.validation import SESSION_TYPES

ns = Namespace("sessions", description="Programme sessions", path="/events/<string:event>/sessions")
error = error_model(ns)
write_result = write_result_model(ns)

session = model(ns, "Session")
session_input = model(ns, "SessionInput")
session_patch = model(ns, "SessionPatch")

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
    @ns.response(304, NOT_MODIFIED)
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
        result = programme_edit.create_session(db, event, json_object(), force=flag("force"))
        return programme.get_session(db, programme.get_event(db, event), result["id"]), 201


@ns.route("/<string:session_id>")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("session_id", "Session id, e.g. opening-plenary")
class SessionItem(Resource):
    @ns.response(200, "The session", session)
    @ns.response(304, NOT_MODIFIED)
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
        programme_edit.update_session(db, event, session_id, json_object(), force=flag("force"))
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
