"""Doors: redeem scans online and in offline batches, the door bundle, the desk, and the numbers."""

from __future__ import annotations

from flask import Response, current_app, g, request
from flask_restx import Namespace, Resource, fields

from server import attendance, checkin, ticketcode, tickets
from server.api.caching import Representation, conditional_response
from server.api.common import error_model, json_object
from server.api.limits import BATCH_BODY_LIMIT, body_limit
from server.api.security import admin_required, door_required
from server.db_app import get_db
from server.door_bundle import door_bundle
from server.errors import BadParameter
from server.programme import get_event

ns = Namespace("checkins", description="Door check-in (door device or admin token)", path="/events/<string:event>")
error = error_model(ns)

scan_input = ns.model(
    "ScanInput",
    {
        "payload": fields.String(required=True, description="The QR text as scanned (whitespace around it is ignored)"),
        "list": fields.String(required=True, description="Check-in list id or name, e.g. 'Day 1 entrance'"),
        "type": fields.String(enum=["entry", "exit"], default="entry", description="entry or exit"),
        "scan_id": fields.String(
            required=True,
            description="Made by the device, unique per scan; a repeat repeats the verdict and records nothing new",
        ),
        "scanned_at": fields.String(description="Door time, ISO 8601 with offset; required in batches"),
    },
)
holder = ns.model(
    "TicketHolder",
    {
        "id": fields.String(description="Attendee id"),
        "name": fields.String(description="Name, to greet and to compare with an ID"),
        "organisation": fields.String(description="Organisation"),
        "category": fields.String(description="Stakeholder category"),
    },
)
first_entry = ns.model(
    "FirstEntry",
    {
        "at": fields.String(description="When the first accepted entry happened (door time)"),
        "device": fields.String(description="The door that accepted it"),
    },
)
verdict = ns.model(
    "ScanVerdict",
    {
        "result": fields.String(enum=list(ticketcode.RESULTS), description="What the door should do; act on this"),
        "message": fields.String(description="The result in words, for the door screen"),
        "error": fields.String(description="Same as result when it is not ok (the API's error shape)"),
        "scan_id": fields.String(description="The device's scan id"),
        "list": fields.String(description="Check-in list id"),
        "type": fields.String(description="entry or exit"),
        "scanned_at": fields.String(description="Door time the scan was judged by"),
        "source": fields.String(description="online, offline (batch) or desk"),
        "serial": fields.String(description="Ticket serial, when the code could be read"),
        "attendee": fields.Nested(holder, allow_null=True, description="Holder of a genuine ticket, else null"),
        "conflict": fields.Boolean(description="A later entry of someone already inside (kept, flagged)"),
        "first_entry": fields.Nested(first_entry, description="For already_checked_in: the first entry"),
    },
)
batch_input = ns.model(
    "ScanBatch", {"scans": fields.List(fields.Nested(scan_input), required=True, description="Offline scans")}
)
batch_result = ns.model(
    "ScanBatchResult", {"results": fields.List(fields.Nested(verdict), description="One verdict per scan, in order")}
)
desk_input = ns.model(
    "DeskCheckin",
    {
        "attendee": fields.String(required=True, description="Attendee id (find it with GET .../attendees?q=name)"),
        "list": fields.String(required=True, description="Check-in list id or name"),
        "type": fields.String(enum=["entry", "exit"], default="entry", description="entry or exit"),
        "scan_id": fields.String(description="Optional idempotency key; one is made if absent"),
    },
)
scan_record = ns.clone(
    "ScanRecord",
    verdict,
    {
        "id": fields.Integer(description="The scan's number in the audit log"),
        "undone_at": fields.String(description="When a desk undid it, else null"),
        "received_at": fields.String(description="When the server received it"),
    },
)
DOOR = {401: ("No valid token", error), 403: ("Not a door device or admin of this event", error)}
STATUS_DOC = "HTTP status follows `result`: 201 ok, 409 already_checked_in, 403 revoked, 404 unknown_ticket or "
STATUS_DOC += "not_on_list, 400 invalid_signature, wrong_event or malformed; the body is always a ScanVerdict"


@ns.route("/checkins")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=DOOR)
class Checkins(Resource):
    @ns.expect(scan_input)
    @ns.response(201, "Admitted (result ok). " + STATUS_DOC, verdict)
    @ns.response(409, "result already_checked_in, with first_entry", verdict)
    @ns.response(404, "result unknown_ticket or not_on_list; or an unknown list (error not_found)", verdict)
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
        body = json_object()
        scans = body.get("scans") if isinstance(body, dict) else None
        if not isinstance(scans, list) or len(scans) > 5000:
            raise BadParameter(
                "scans must be a list of at most 5000 scans", fields={"scans": "a list of 0 to 5000 scans"}
            )
        checked = []
        for index, item in enumerate(scans):
            try:
                checked.append(checkin.check_scan(item, offline=True))
            except BadParameter as problem:
                problem.fields = {f"scans[{index}].{name}": text for name, text in problem.fields.items()}
                raise
        return {"results": checkin.redeem_batch(get_db(), event, checked, device_id=g.token.get("id"))}


@ns.route("/checkins/desk")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses={401: ("No valid token", error), 403: ("Not an admin", error)})
class DeskCheckin(Resource):
    @ns.expect(desk_input)
    @ns.response(201, "Checked in by hand. " + STATUS_DOC, verdict)
    @ns.response(404, "Unknown attendee or list", error)
    @admin_required
    def post(self, event):
        """Check an attendee in (or out) by hand at the desk; audited like a scan."""
        body = json_object()
        fields_ = {name: "is required" for name in ("attendee", "list") if not isinstance(body.get(name), str)}
        if body.get("type", "entry") not in ("entry", "exit"):
            fields_["type"] = "must be entry or exit"
        if fields_:
            raise BadParameter("invalid desk check-in", fields=fields_)
        scan_id = body.get("scan_id") or f"desk-{tickets.new_serial()}"
        return checkin.desk_checkin(
            get_db(), event, body["attendee"], body["list"], body.get("type", "entry"), str(scan_id),
            device_id=g.token.get("id"),
        )  # fmt: skip


@ns.route("/checkins/<int:scan>/undo")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("scan", "The scan's number (id in the audit log)")
@ns.doc(security="bearer", responses={401: ("No valid token", error), 403: ("Not an admin", error)})
class UndoCheckin(Resource):
    @ns.response(200, "Undone (the record stays, marked undone)", scan_record)
    @ns.response(404, "Unknown scan", error)
    @admin_required
    def post(self, event, scan):
        """Undo an accepted scan (a mistaken check-in); audited."""
        return checkin.undo_scan(get_db(), event, scan, device_id=g.token.get("id"))


arrivals = ns.model(
    "Arrivals",
    {"from": fields.String(description="Start of a 15-minute slot"), "count": fields.Integer(description="Arrivals")},
)
list_stats = ns.model(
    "ListStats",
    {
        "list": fields.String(description="List id"),
        "name": fields.String(description="List name"),
        "eligible": fields.Integer(description="Attendees the list admits"),
        "checked_in": fields.Integer(description="Attendees with an accepted entry"),
        "inside_now": fields.Integer(description="Attendees whose last accepted scan was an entry"),
        "not_yet_arrived": fields.Integer(description="Eligible attendees not yet checked in"),
        "arrivals_per_15_minutes": fields.List(fields.Nested(arrivals), description="First entries per slot"),
    },
)
stats_model = ns.model(
    "CheckinStats",
    {
        "event": fields.String(description="Event slug"),
        "at": fields.String(description="The server's now"),
        "lists": fields.List(fields.Nested(list_stats), description="Per check-in list"),
    },
)


@ns.route("/checkins/stats")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=DOOR)
class CheckinStats(Resource):
    @ns.response(200, "Live attendance per list", stats_model)
    @door_required
    def get(self, event):
        """Live numbers per list: checked in, inside now, not yet arrived, arrivals per 15 minutes."""
        return attendance.stats(get_db(), event)


@ns.route("/door-bundle")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=DOOR)
class DoorBundle(Resource):
    @ns.doc(params={"since": "A cursor from an earlier bundle: only what changed since"})
    @ns.response(200, "What a door needs to judge scans offline; carries an ETag")
    @ns.response(304, "Not modified")
    @ns.response(400, "since is not a cursor", error)
    @door_required
    def get(self, event):
        """Public keys, lists, revoked serials, the roster and who is inside, for offline doors."""
        db = get_db()
        tickets.signing_kid(db, get_event(db, event), current_app.config["KEYS_DIR"])
        bundle = door_bundle(db, event, request.args.get("since"))
        return conditional_response(Representation.of(bundle), private=True)
