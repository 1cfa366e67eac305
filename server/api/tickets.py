"""Tickets: an attendee's signed QR code (JSON, PNG, SVG), admin views, re-issue, public keys."""

from __future__ import annotations

from flask import Response, current_app, g
from flask_restx import Namespace, Resource

from server import attendees, tickets
from server.api.common import error_model, model
from server.api.security import admin_required, attendee_required, refusals
from server.checkin_lists import lists_by_attendee
from server.db_app import get_db
from server.programme import get_event
from server.qr import qr_png, qr_svg

ns = Namespace("tickets", description="Signed QR tickets (admin) and public ticket keys", path="/events/<string:event>")
mine = Namespace("my ticket", description="The attendee's own QR ticket", path="/me")
error = error_model(ns)

ticket = model(ns, "Ticket")
public_key = model(ns, "TicketKey")
model(mine, "Ticket")
model(mine, "Error")
ATTENDEE = refusals(error, "attendee")
ADMIN = refusals(error, "admin")


def _keys_dir():
    return current_app.config["KEYS_DIR"]


def ticket_document(attendee_pk: int) -> dict:
    db = get_db()
    row = attendees.attendee_with_event(db, attendee_pk)
    event = get_event(db, row["event_slug"])
    serial = tickets.current_serial(db, attendee_pk)
    return {
        "payload": tickets.payload(db, event, serial, _keys_dir()),
        "serial": serial,
        "event": row["event_slug"],
        "attendee": row["id"],
        "lists": lists_by_attendee(db, row["event_id"], [attendee_pk]).get(attendee_pk, []),
    }


def _image(attendee_pk: int, kind: str) -> Response:
    text = ticket_document(attendee_pk)["payload"]
    if kind == "png":
        return Response(qr_png(text), mimetype="image/png", headers={"Cache-Control": "private, no-cache"})
    return Response(qr_svg(text), mimetype="image/svg+xml", headers={"Cache-Control": "private, no-cache"})


@mine.route("/ticket")
@mine.doc(security="bearer", responses=ATTENDEE)
class MyTicket(Resource):
    @mine.response(200, "Your ticket", ticket)
    @attendee_required
    def get(self):
        """Your ticket: the QR payload to show at the door, and the lists it admits you to."""
        return ticket_document(g.attendee_pk)


@mine.route("/ticket.<any(png, svg):kind>")
@mine.param("kind", "png or svg")
@mine.doc(security="bearer", responses=ATTENDEE)
class MyTicketImage(Resource):
    @mine.produces(["image/png", "image/svg+xml"])
    @mine.response(200, "Your ticket as a QR image, sized for a phone screen")
    @attendee_required
    def get(self, kind):
        """Your ticket's QR code as PNG or SVG (error correction M, 4-module quiet zone)."""
        return _image(g.attendee_pk, kind)


@ns.route("/attendees/<string:attendee_id>/ticket")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("attendee_id", "Attendee id")
@ns.doc(security="bearer", responses=ADMIN)
class AttendeeTicket(Resource):
    @ns.response(200, "The attendee's ticket", ticket)
    @ns.response(404, "Unknown attendee", error)
    @admin_required
    def get(self, event, attendee_id):
        """An attendee's ticket (admin), to print or resend it."""
        return ticket_document(attendees.attendee_pk(get_db(), event, attendee_id))


@ns.route("/attendees/<string:attendee_id>/ticket.<any(png, svg):kind>")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("attendee_id", "Attendee id")
@ns.param("kind", "png or svg")
@ns.doc(security="bearer", responses=ADMIN)
class AttendeeTicketImage(Resource):
    @ns.produces(["image/png", "image/svg+xml"])
    @ns.response(200, "The attendee's ticket as a QR image")
    @ns.response(404, "Unknown attendee", error)
    @admin_required
    def get(self, event, attendee_id, kind):
        """An attendee's ticket QR code as PNG or SVG (admin)."""
        return _image(attendees.attendee_pk(get_db(), event, attendee_id), kind)


@ns.route("/attendees/<string:attendee_id>/ticket/reissue")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("attendee_id", "Attendee id")
@ns.doc(security="bearer", responses=ADMIN)
class ReissueTicket(Resource):
    @ns.response(201, "A new ticket; the old serial is revoked", ticket)
    @ns.response(404, "Unknown attendee", error)
    @admin_required
    def post(self, event, attendee_id):
        """Re-issue an attendee's ticket: a new serial, and the old one answers `revoked` at doors (admin)."""
        db = get_db()
        pk = attendees.attendee_pk(db, event, attendee_id)
        tickets.reissue_ticket(db, pk)
        return ticket_document(pk), 201


@ns.route("/ticket-keys")
@ns.param("event", "Event slug, e.g. ecc2014")
class TicketKeys(Resource):
    @ns.response(200, "The public keys that verify this event's tickets", [public_key])
    @ns.response(404, "Unknown event", error)
    def get(self, event):
        """Public keys to verify tickets offline (a list, so keys can be rotated)."""
        db = get_db()
        row = get_event(db, event)
        tickets.signing_kid(db, row, _keys_dir())
        return tickets.public_keys(db, row)
