"""The attendee's own API: their record, personal schedule, token and calendar subscription."""

from __future__ import annotations

from flask import g
from flask_restx import Namespace, Resource

from server import attendees, keys, personal_links, schedules
from server.api.caching import Representation, cached
from server.api.common import error_model, model
from server.api.security import attendee_required, refusals
from server.db_app import get_db
from server.qr import qr_svg
from server.urls import public_base_url

ns = Namespace("me", description="The attendee's own data (personal API token)", path="/me")
error = error_model(ns)
attendee_model = model(ns, "Attendee")

schedule = model(ns, "Schedule")
schedule_item = model(ns, "ScheduleItem")
calendar = model(ns, "CalendarSubscription")
token_model = model(ns, "NewPersonalToken")
device_model = model(ns, "SignedInDevice")
ATTENDEE = refusals(error, "attendee")


@ns.route("")
@ns.doc(security="bearer", responses=ATTENDEE)
class Me(Resource):
    @ns.response(200, "Your record", attendee_model)
    @attendee_required
    def get(self):
        """Your own attendee record, with its id."""
        row = attendees.attendee_with_event(get_db(), g.attendee_pk)
        return attendees.attendee_document(row, row["event_slug"])


@ns.route("/schedule")
@ns.doc(security="bearer", responses=ATTENDEE)
class MySchedule(Resource):
    @ns.response(200, "Your personal schedule; carries an ETag", schedule)
    @ns.response(304, "Not modified: If-None-Match matched (no bookmark, programme or seat count changed)")
    @attendee_required
    def get(self):
        """Your bookmarked sessions, with overlaps flagged and seats left.

        Send the ETag back in If-None-Match to get 304 while nothing you see here changed.
        """
        db, attendee_pk = get_db(), g.attendee_pk
        return cached(
            lambda: schedules.schedule_fingerprint(db, attendee_pk),
            lambda: Representation.of(schedules.schedule_document(db, attendee_pk)),
            db,
            private=True,
        )


@ns.route("/schedule/<string:session_id>")
@ns.param("session_id", "Session id, e.g. opening-plenary")
@ns.doc(security="bearer", responses=ATTENDEE)
class MyScheduleItem(Resource):
    @ns.response(200, "Already bookmarked; nothing changed", schedule_item)
    @ns.response(201, "Bookmarked", schedule_item)
    @ns.response(404, "No such session in your event", error)
    @ns.response(409, "The session is full or cancelled; nothing changed", error)
    @attendee_required
    def put(self, session_id):
        """Bookmark a session (idempotent). Overlaps are allowed and flagged."""
        item, created = schedules.add_to_schedule(get_db(), g.attendee_pk, session_id)
        return item, 201 if created else 200

    @ns.response(204, "Not (or no longer) in your schedule")
    @ns.response(404, "No such session in your event", error)
    @attendee_required
    def delete(self, session_id):
        """Remove a bookmark (idempotent)."""
        schedules.remove_from_schedule(get_db(), g.attendee_pk, session_id)
        return "", 204


@ns.route("/token/rotate")
@ns.doc(security="bearer", responses=ATTENDEE)
class MyTokenRotate(Resource):
    @ns.response(200, "Your new token; the one you used no longer works", token_model)
    @attendee_required
    def post(self):
        """Replace your personal API token."""
        return {"token": attendees.rotate_api_token(get_db(), g.attendee_pk)}


def subscription(token: str, name: str) -> dict:
    """The ways to subscribe to a feed, at the server's public address (see server.urls), and its QR code."""
    links = attendees.feed_subscription(public_base_url(), token, name)
    return {**links, "qr_svg": qr_svg(links["webcal"])}


def _event_title() -> str:
    return attendees.feed_name(attendees.attendee_with_event(get_db(), g.attendee_pk)["event_title"])


@ns.route("/calendar")
@ns.doc(security="bearer", responses=ATTENDEE)
class MyCalendar(Resource):
    @ns.response(200, "Your secret calendar feed and how to subscribe to it", calendar)
    @attendee_required
    def get(self):
        """Your personal calendar feed: subscribe once, and programme changes follow."""
        token = attendees.current_feed_token(get_db(), keys.app_secret(), g.attendee_pk)
        return subscription(token, _event_title())


@ns.route("/calendar/rotate")
@ns.doc(security="bearer", responses=ATTENDEE)
class MyCalendarRotate(Resource):
    @ns.response(200, "A new secret feed URL; the old one now answers 404", calendar)
    @attendee_required
    def post(self):
        """Replace your calendar feed URL (if it leaked); re-subscribe with the new one."""
        token = attendees.current_feed_token(get_db(), keys.app_secret(), g.attendee_pk, rotate=True)
        return subscription(token, _event_title())


@ns.route("/devices")
@ns.doc(security="bearer", responses=ATTENDEE)
class MyDevices(Resource):
    @ns.response(200, "The browsers signed in with your personal link", [device_model])
    @attendee_required
    def get(self):
        """The browsers signed in with your personal link; `current` is the one asking."""
        return personal_links.list_devices(get_db(), g.attendee_pk, g.token.get("device"))


@ns.route("/devices/<int:device_id>")
@ns.param("device_id", "Device number, from GET /me/devices")
@ns.doc(security="bearer", responses=ATTENDEE)
class MyDevice(Resource):
    @ns.response(204, "Signed out: that browser's token no longer works")
    @ns.response(404, "No such device of yours", error)
    @attendee_required
    def delete(self, device_id):
        """Sign one of your browsers out (a lost phone, or this one)."""
        personal_links.sign_out_device(get_db(), g.attendee_pk, device_id)
        return "", 204
