"""Personal links: the organiser's view of an attendee's link, and a browser signing in with one."""

from __future__ import annotations

from flask_restx import Namespace, Resource

from server import attendees, keys, personal_links
from server.api.common import error_model, json_body, model
from server.api.security import admin_required, refusals
from server.db_app import get_db
from server.urls import public_base_url

ns = Namespace("personal links", description="Personal sign-in links for attendees", path="/events/<string:event>")
error = error_model(ns)
link_login_input = model(ns, "LinkLogin")
link_session = model(ns, "LinkSession")
personal_link = model(ns, "PersonalLink")
ADMIN = refusals(error, "admin")


def link_document(event: str, attendee_id: str, *, rotate: bool = False) -> dict:
    db = get_db()
    pk = attendees.attendee_pk(db, event, attendee_id)
    secret = personal_links.current_link_secret(db, keys.app_secret(), pk, rotate=rotate)
    return {"url": personal_links.join_url(public_base_url(), event, secret)}


@ns.route("/link-login")
@ns.param("event", "Event slug, e.g. ecc2014")
class LinkLogin(Resource):
    @ns.expect(link_login_input)
    @ns.response(201, "Signed in: this browser's own personal token", link_session)
    @ns.response(404, "Unknown event, or no current link has this secret", error)
    def post(self, event):
        """Exchange a personal link's secret for an API token of this browser's own.

        The join page (/e/{event}/join#secret) calls this once and keeps the token; the
        attendee sees the browser in GET /me/devices and can sign it out there.
        """
        body = json_body("LinkLogin")
        return personal_links.link_login(get_db(), event, body["secret"], body.get("device", "")), 201


@ns.route("/attendees/<string:attendee_id>/link")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("attendee_id", "Attendee id")
@ns.doc(security="bearer", responses=ADMIN)
class AttendeeLink(Resource):
    @ns.response(200, "The attendee's personal link (the same until rotated)", personal_link)
    @ns.response(404, "Unknown event or attendee", error)
    @admin_required
    def get(self, event, attendee_id):
        """An attendee's personal link, to send them (admin)."""
        return link_document(event, attendee_id)


@ns.route("/attendees/<string:attendee_id>/link/rotate")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("attendee_id", "Attendee id")
@ns.doc(security="bearer", responses=ADMIN)
class AttendeeLinkRotate(Resource):
    @ns.response(200, "A new link; the old one and every browser signed in with it stop working", personal_link)
    @ns.response(404, "Unknown event or attendee", error)
    @admin_required
    def post(self, event, attendee_id):
        """Replace an attendee's personal link, e.g. when it was forwarded by mistake (admin)."""
        return link_document(event, attendee_id, rotate=True)
