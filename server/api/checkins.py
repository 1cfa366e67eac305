"""Doors: redeem scans online and in offline batches, the door bundle, the desk, and the numbers."""

from __future__ import annotations

from flask import Response, current_app, g, request
from flask_restx import Namespace, Resource

from server import attendance, checkin, clock, devices, tickets
from server.api.caching import Representation, conditional_response
from server.api.common import error_model, json_body, json_object, model
from server.api.limits import BATCH_BODY_LIMIT, body_limit
from server.api.security import desk_required, door_required, refusals
from server.db_app import get_db
from server.door_bundle import door_bundle
from server.programme import get_event

ns = Namespace("checkins", description="Door check-in (door device or admin token)", path="/events/<string:event>")
error = error_model(ns)

scan_input = model(ns, "ScanInput")
verdict = model(ns, "ScanVerdict")
batch_input = model(ns, "ScanBatch")
batch_result = model(ns, "ScanBatchResult")
desk_input = model(ns, "DeskCheckin")
scan_record = model(ns, "ScanRecord")
outcome = model(ns, "ScanOutcome")
DOOR = refusals(error, "door")
DESK = refusals(error, "desk")
conflict_model = model(ns, "ScanConflict")
STATUS_DOC = "HTTP status follows `result`: 201 ok, 409 already_checked_in, 403 revoked, 404 unknown_ticket or "
STATUS_DOC += "not_on_list, 400 invalid_signature, wrong_event or malformed; one that is no admission is a ScanOutcome"


@ns.route("/checkins")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=DOOR)
class Checkins(Resource):
    @ns.expect(scan_input)
    @ns.response(201, "Admitted (result ok). " + STATUS_DOC, verdict)
    @ns.response(400, "result invalid_signature, wrong_event or malformed; or a bad field (bad_parameter)", outcome)
    @ns.response(403, "result revoked; or a token that may not scan here (forbidden)", outcome)
    @ns.response(404, "result unknown_ticket or not_on_list; or an unknown list (not_found)", outcome)
    @ns.response(409, "result already_checked_in, with first_entry; or a used scan_id (scan_id_reused)", outcome)
    @door_required
    def post(self, event):
        """Redeem one scan: verdict and record in one transaction (two doors: exactly one ok)."""
        scan = checkin.check_scan(json_object())
        verdict = checkin.redeem(get_db(), event, scan, device_id=g.token.get("id"))
        # Straight to bytes, encoded once with the stored answer: flask-restx's rendering cost
        # more than the decision (measured: ~70 µs of a ~0.5 ms redeem).
        return Response(verdict.text, verdict.status, mimetype="application/json")


@ns.route("/checkins/batch")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=DOOR)
class CheckinBatch(Resource):
    @ns.expect(batch_input)
    @ns.response(200, "Each scan's verdict; every genuine scan is stored, later entries flagged", batch_result)
    @ns.response(400, "A scan is missing a field (nothing was stored)", error)
    @ns.response(413, f"The body is larger than {BATCH_BODY_LIMIT // 2**20} MiB: send fewer scans at a time", error)
    @door_required
    @body_limit(BATCH_BODY_LIMIT)
    def post(self, event):
        """Upload scans made offline: judged by door time, earliest entry wins; retrying changes nothing."""
        scans = checkin.check_batch(json_object())
        return {"results": checkin.redeem_batch(get_db(), event, scans, device_id=g.token.get("id"))}


@ns.route("/checkins/desk")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=DESK)
class DeskCheckin(Resource):
    @ns.expect(desk_input)
    @ns.response(201, "Checked in by hand. " + STATUS_DOC, verdict)
    @ns.response(400, "A bad field, or a verdict that is no admission", outcome)
    @ns.response(403, "result revoked; or a token that may not do this", outcome)
    @ns.response(404, "Unknown attendee or list, or result not_on_list", outcome)
    @ns.response(409, "result already_checked_in; or a used scan_id (scan_id_reused)", outcome)
    @desk_required
    def post(self, event):
        """Check an attendee in (or out) by hand at the desk; audited like a scan."""
        body = json_body("DeskCheckin")
        scan_id = body.get("scan_id") or f"desk-{tickets.new_serial()}"
        return checkin.desk_checkin(
            get_db(), event, body["attendee"], body["list"], body["type"], scan_id,
            device_id=g.token.get("id"),
        )  # fmt: skip


@ns.route("/checkins/<int:scan>/undo")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("scan", "The scan's number (id in the audit log)")
@ns.doc(security="bearer", responses=DESK)
class UndoCheckin(Resource):
    @ns.response(200, "Undone (the record stays, marked undone)", scan_record)
    @ns.response(404, "Unknown scan", error)
    @desk_required
    def post(self, event, scan):
        """Undo an accepted scan (a mistaken check-in); audited."""
        return checkin.undo_scan(get_db(), event, scan, device_id=g.token.get("id"))


stats_model = model(ns, "CheckinStats")


@ns.route("/checkins/stats")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=DOOR)
class CheckinStats(Resource):
    @ns.response(200, "Live attendance per list", stats_model)
    @door_required
    def get(self, event):
        """Live numbers per list: checked in, inside now, not yet arrived, arrivals per 15 minutes."""
        return attendance.stats(get_db(), event)


@ns.route("/checkins/conflicts")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=DESK)
class CheckinConflicts(Resource):
    @ns.response(200, "Entries flagged as conflicts, newest first (at most 500)", [conflict_model])
    @desk_required
    def get(self, event):
        """Entries of someone already inside (two offline doors admitting one ticket), to review at the desk."""
        return checkin.conflicts(get_db(), event)


@ns.route("/door-bundle")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=DOOR)
class DoorBundle(Resource):
    @ns.doc(
        params={
            "since": "A cursor from an earlier bundle: only what changed since",
            "Eventdesk-Pending": {"in": "header", "type": "integer", "description": "Scans the door still holds"},
        }
    )
    @ns.response(200, "What a door needs to judge scans offline; carries an ETag, and the server's clock in the "
                 "Eventdesk-Now header (ISO 8601 with offset) for the door to correct its own")  # fmt: skip
    @ns.response(304, "Not modified (with Eventdesk-Now too)")
    @ns.response(400, "since is not a cursor", error)
    @door_required
    def get(self, event):
        """Public keys, lists, revoked serials, the roster and who is inside, for offline doors."""
        db = get_db()
        tickets.signing_kid(db, get_event(db, event), current_app.config["KEYS_DIR"])
        if g.token["role"] == "door":
            devices.record_contact(db, g.token["id"], _pending_uploads())
        bundle = door_bundle(db, event, request.args.get("since"))
        # Not kept by the 304 shortcut: each answer carries the clock of its moment.
        response = conditional_response(Representation.of(bundle), private=True, reusable=False)
        response.headers["Eventdesk-Now"] = clock.now().isoformat()
        return response


def _pending_uploads() -> int | None:
    """The door's own count of scans not yet uploaded (header Eventdesk-Pending), when it sends a sane one."""
    value = request.headers.get("Eventdesk-Pending", "")
    return int(value) if value.isdigit() and len(value) <= 9 else None
