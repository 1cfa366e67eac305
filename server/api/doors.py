"""Setting up doors (admin): check-in lists, their members, and door devices."""

from __future__ import annotations

from flask_restx import Namespace, Resource

from server import checkin_lists, devices
from server.api.common import error_model, json_body, json_object, model
from server.api.security import admin_required, desk_required, refusals
from server.db_app import get_db
from server.programme import get_event
from server.urls import public_base_url

ns = Namespace("doors", description="Check-in lists and door devices (admin)", path="/events/<string:event>")
error = error_model(ns)
ADMIN = refusals(error, "admin")
DESK = refusals(error, "desk")

checkin_list = model(ns, "CheckinList")
list_input = model(ns, "CheckinListInput")
list_patch = model(ns, "CheckinListPatch")
members_input = model(ns, "ListMembers")
device = model(ns, "Device")
device_input = model(ns, "DeviceInput")
new_device = model(ns, "NewDevice")


@ns.route("/checkin-lists")
@ns.param("event", "Event slug, e.g. ecc2014")
class CheckinLists(Resource):
    @ns.response(200, "The event's check-in lists", [checkin_list])
    @ns.doc(security="bearer", responses=ADMIN)
    @admin_required
    def get(self, event):
        """List the check-in lists (admin; doors get them in the door bundle)."""
        db = get_db()
        return checkin_lists.list_lists(db, get_event(db, event))

    @ns.expect(list_input)
    @ns.response(201, "Created", checkin_list)
    @ns.response(409, "Id or name taken", error)
    @ns.response(422, "Invalid values", error)
    @ns.doc(security="bearer", responses=ADMIN)
    @admin_required
    def post(self, event):
        """Create a check-in list (admin)."""
        return checkin_lists.create_list(get_db(), event, json_object()), 201


@ns.route("/checkin-lists/<string:ref>")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("ref", "List id or name")
@ns.doc(security="bearer", responses=ADMIN)
class CheckinListItem(Resource):
    @ns.response(200, "The list", checkin_list)
    @ns.response(404, "Unknown list", error)
    @admin_required
    def get(self, event, ref):
        """One check-in list (admin)."""
        return checkin_lists.get_list(get_db(), event, ref)

    @ns.expect(list_patch)
    @ns.response(200, "Updated", checkin_list)
    @ns.response(404, "Unknown list", error)
    @ns.response(422, "Invalid values", error)
    @admin_required
    def patch(self, event, ref):
        """Change a list's window, audience or re-entry rule (admin)."""
        return checkin_lists.update_list(get_db(), event, ref, json_object())

    @ns.response(204, "Deleted; its scans stay in the audit log")
    @ns.response(404, "Unknown list", error)
    @admin_required
    def delete(self, event, ref):
        """Delete a check-in list (admin)."""
        checkin_lists.delete_list(get_db(), event, ref)
        return "", 204


@ns.route("/checkin-lists/<string:ref>/members")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("ref", "List id or name")
@ns.doc(security="bearer", responses=ADMIN)
class CheckinListMembers(Resource):
    @ns.expect(members_input)
    @ns.response(200, "Added", checkin_list)
    @ns.response(404, "Unknown list or attendee", error)
    @admin_required
    def post(self, event, ref):
        """Add named attendees to an explicit list, such as the matchmaking participants (admin)."""
        return checkin_lists.set_members(get_db(), event, ref, _attendee_ids(), add=True)

    @ns.expect(members_input)
    @ns.response(200, "Removed", checkin_list)
    @ns.response(404, "Unknown list or attendee", error)
    @admin_required
    def delete(self, event, ref):
        """Remove named attendees from an explicit list (admin)."""
        return checkin_lists.set_members(get_db(), event, ref, _attendee_ids(), add=False)


def _attendee_ids() -> list[str]:
    return json_body("ListMembers")["attendees"]


@ns.route("/devices")
@ns.param("event", "Event slug, e.g. ecc2014")
class Devices(Resource):
    @ns.response(200, "The event's door devices, with each one's last contact and scans still to upload", [device])
    @ns.doc(security="bearer", responses=DESK)
    @desk_required
    def get(self, event):
        """List door devices (admin or desk)."""
        return devices.list_devices(get_db(), event)

    @ns.expect(device_input)
    @ns.response(201, "Created; the token (and with link, the pairing URL) is shown this once", new_device)
    @ns.response(409, "The event's personal data was anonymised: it has no doors any more", error)
    @ns.response(422, "No name", error)
    @ns.doc(security="bearer", responses=ADMIN)
    @admin_required
    def post(self, event):
        """Register a door device and issue its token (role door, this event only) (admin).

        With `"link": true` the answer also has `pairing_url`: open it on a phone and that
        browser becomes this door (the token travels in the URL's fragment, never to a log).
        """
        body = json_body("DeviceInput")
        document, token = devices.create_device(get_db(), event, body["name"], desk=body.get("desk", False))
        if body.get("link"):
            document["pairing_url"] = devices.pairing_url(public_base_url(), event, token)
        return {**document, "token": token}, 201


@ns.route("/devices/<int:device_id>")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("device_id", "Device number")
@ns.doc(security="bearer", responses=ADMIN)
class DeviceItem(Resource):
    @ns.response(200, "Revoked: the device's token no longer works", device)
    @ns.response(404, "Unknown device", error)
    @admin_required
    def delete(self, event, device_id):
        """Revoke a door device's token (admin)."""
        return devices.revoke_device(get_db(), event, device_id)
