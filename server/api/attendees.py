"""Attendees for admins: register, list, search, correct, erase, and manage their tokens."""

from __future__ import annotations

from flask import request
from flask_restx import Namespace, Resource

from server import attendees, data_lifecycle
from server.api.bodies import read_csv_body
from server.api.common import error_model, flag, json_object, model
from server.api.limits import CSV_IMPORT_LIMIT, body_limit
from server.api.security import admin_required, desk_required, refusals
from server.bounds import whole_number
from server.db_app import get_db
from server.errors import BadParameter

ns = Namespace("attendees", description="Attendees (admin)", path="/events/<string:event>/attendees")
error = error_model(ns)

attendee = model(ns, "Attendee")
attendee_with_token = model(ns, "AttendeeWithToken")
attendee_page = model(ns, "AttendeePage")
token_model = model(ns, "NewToken")
attendee_input = model(ns, "AttendeeInput")
attendee_patch = model(ns, "AttendeePatch")
import_result = model(ns, "AttendeeImportResult")
CSV_DOC = "UTF-8 CSV with a header row: name, email, category, and optionally organisation, country"
ADMIN = refusals(error, "admin")
DESK = refusals(error, "desk")


def _page_args() -> tuple[str, int, int]:
    values = {}
    for name, default, top in (("page", 1, 1_000_000), ("per_page", 50, 500)):
        value = whole_number(request.args.get(name, str(default)))
        if value is None or not 1 <= value <= top:
            raise BadParameter(f"{name} must be a whole number from 1 to {top}", fields={name: f"1 to {top}"})
        values[name] = value
    return request.args.get("q", ""), values["page"], values["per_page"]


@ns.route("")
@ns.param("event", "Event slug, e.g. ecc2014")
class AttendeeList(Resource):
    @ns.doc(params={"q": "Text in name, email or organisation", "page": "From 1", "per_page": "1 to 500"})
    @ns.doc(security="bearer", responses=DESK)
    @ns.response(200, "One page of attendees", attendee_page)
    @ns.response(400, "Bad paging parameter", error)
    @ns.response(404, "Unknown event", error)
    @desk_required
    def get(self, event):
        """List attendees by name, a page at a time, optionally searching (admin, or a desk device)."""
        q, page, per_page = _page_args()
        return attendees.list_attendees(get_db(), event, q=q, page=page, per_page=per_page)

    @ns.expect(attendee_input)
    @ns.response(201, "Registered; the response carries the personal API token, once", attendee_with_token)
    @ns.response(400, "Malformed input", error)
    @ns.response(409, "Email already registered for this event", error)
    @ns.response(422, "Invalid values", error)
    @ns.doc(security="bearer", responses=ADMIN)
    @admin_required
    def post(self, event):
        """Register an attendee (admin); answers with their id and personal API token."""
        document, token = attendees.create_attendee(get_db(), event, json_object())
        return {**document, "token": token}, 201


@ns.route("/import")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=ADMIN)
class AttendeeImport(Resource):
    @ns.doc(
        params={
            "tokens": "true: issue personal API tokens to new attendees and answer them, once",
            "csv": {"in": "body", "required": True, "schema": {"type": "string"}, "description": CSV_DOC},
        }
    )
    @ns.vendor({"consumes": ["text/csv"]})
    @ns.response(200, "Imported, all rows; never cached (it may carry tokens)", import_result)
    @ns.response(400, "The body is not UTF-8", error)
    @ns.response(413, f"The CSV is larger than {CSV_IMPORT_LIMIT // 2**20} MiB", error)
    @ns.response(415, "The body is not sent as text/csv", error)
    @ns.response(422, "Bad rows, each named by line and field; nothing was imported", error)
    @admin_required
    @body_limit(CSV_IMPORT_LIMIT)
    def post(self, event):
        """Import or update attendees from CSV (text/csv), all rows or none, as import-attendees does (admin)."""
        result = attendees.import_attendees(get_db(), event, read_csv_body(), issue_tokens=flag("tokens"))
        return result.document(), 200, {"Cache-Control": "no-store"}


@ns.route("/<string:attendee_id>")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("attendee_id", "Attendee id")
@ns.doc(security="bearer", responses=ADMIN)
class AttendeeItem(Resource):
    @ns.response(200, "The attendee", attendee)
    @ns.response(404, "Unknown event or attendee", error)
    @admin_required
    def get(self, event, attendee_id):
        """One attendee (admin)."""
        return attendees.get_attendee(get_db(), event, attendee_id)

    @ns.expect(attendee_patch)
    @ns.response(200, "Updated", attendee)
    @ns.response(400, "Malformed input", error)
    @ns.response(404, "Unknown event or attendee", error)
    @ns.response(409, "Email already registered for this event", error)
    @ns.response(422, "Invalid values", error)
    @admin_required
    def patch(self, event, attendee_id):
        """Correct some fields of an attendee (admin)."""
        return attendees.update_attendee(get_db(), event, attendee_id, json_object())

    @ns.response(204, "Erased: profile, schedule, tokens, link, browsers; live meetings cancelled")
    @ns.response(404, "Unknown event or attendee", error)
    @admin_required
    def delete(self, event, attendee_id):
        """Erase an attendee and all their personal data (admin)."""
        data_lifecycle.erase_attendee(get_db(), event, attendee_id)
        return "", 204


@ns.route("/<string:attendee_id>/token/rotate")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("attendee_id", "Attendee id")
@ns.doc(security="bearer", responses=ADMIN)
class AttendeeTokenRotate(Resource):
    @ns.response(200, "A new personal API token; the old one no longer works", token_model)
    @ns.response(404, "Unknown event or attendee", error)
    @admin_required
    def post(self, event, attendee_id):
        """Issue a new personal API token for an attendee (admin)."""
        db = get_db()
        return {"token": attendees.rotate_api_token(db, attendees.attendee_pk(db, event, attendee_id))}


@ns.route("/<string:attendee_id>/token/revoke")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("attendee_id", "Attendee id")
@ns.doc(security="bearer", responses=ADMIN)
class AttendeeTokenRevoke(Resource):
    @ns.response(204, "Revoked: the attendee's API token no longer works")
    @ns.response(404, "Unknown event or attendee", error)
    @admin_required
    def post(self, event, attendee_id):
        """Revoke an attendee's personal API token (admin)."""
        db = get_db()
        attendees.revoke_api_token(db, attendees.attendee_pk(db, event, attendee_id))
        return "", 204
