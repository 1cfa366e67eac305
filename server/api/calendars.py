"""Public calendar feeds: the programme (whole or filtered) and one session, as iCalendar.

Cached like the JSON reads (per URL and programme version) and, because the feeds embed
absolute URLs, per scheme and host too. Errors stay JSON, in the one error shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Response, current_app, request
from flask_restx import Namespace, Resource

from server import attendees, clock, ical, meeting_items, programme, schedules
from server.api.caching import Representation, cached
from server.api.common import error_model
from server.api.sessions import _FILTER_DOCS
from server.db_app import get_db
from server.urls import public_base_url

ns = Namespace(
    "calendars",
    description="iCalendar feeds of the programme, to subscribe to in a calendar app",
    path="/events/<string:event>",
)
error = error_model(ns)

_MEETINGS_DOC = (
    "; placed matchmaking meetings too (UID meeting-{id}@eventdesk, SUMMARY the partner's organisation and "
    "cluster, LOCATION the table and room, SEQUENCE rising when moved, STATUS:CANCELLED kept)"
)
_FEED_DOC = (
    "text/calendar; one VEVENT per session (UID {guid}@eventdesk, SEQUENCE, STATUS; cancelled "
    "sessions stay), times with TZID and a VTIMEZONE. Carries a strong ETag and Last-Modified."
)
_NOT_MODIFIED = "Not modified (If-None-Match matched the ETag, or nothing changed since If-Modified-Since)"


def _render(
    db, row: dict, sessions: list[dict], name: str, extra_events: list[dict] = (), newest: datetime | None = None
) -> Representation:
    """The feed of `sessions` (and extra events) of the event in `row`, dated by its newest change."""
    body = ical.render_calendar(
        event=programme.event_document(db, row),
        rooms={room["id"]: room for room in programme.list_rooms(db, row)},
        tracks={track["id"]: track for track in programme.list_tracks(db, row)},
        sessions=sessions,
        name=name,
        base_url=public_base_url(),
        refresh_seconds=current_app.config["CALENDAR_REFRESH_SECONDS"],
        extra_events=extra_events,
    )
    stamps = [ical.last_modified(sessions, row, extra_events), newest]
    return Representation.of_bytes(body, ical.MEDIA_TYPE, max(stamp for stamp in stamps if stamp))


def event_calendar(slug: str, build: Callable[[object, dict], tuple[list[dict], str]]) -> Response:
    """A feed of one event's sessions: `build(db, event_row)` gives (sessions, feed name)."""
    db = get_db()

    def representation() -> Representation:
        row = programme.get_event(db, slug)
        sessions, name = build(db, row)
        return _render(db, row, sessions, name)

    return cached(lambda: (slug, programme.event_version(db, slug)), representation, db, per_origin=True)


def _programme_feed(db, row: dict) -> tuple[list[dict], str]:
    filters = programme.parse_session_filters(db, row, request.args)
    return programme.list_sessions(db, row, filters), _feed_name(db, row, filters)


def _feed_name(db, row: dict, filters: dict) -> str:
    """The event's title, then what the filters picked: "ECC 2014 — SME growth, Day 1, …"."""
    labels = []
    for name, lister in (("track", programme.list_tracks), ("room", programme.list_rooms)):
        if name in filters:
            labels += [item["name"] for item in lister(db, row) if item["id"] == filters[name]]
    if "day" in filters:
        days = programme.event_document(db, row)["days"]
        labels += [day["label"] for day in days if day["date"] == filters["day"]]
    if "type" in filters:
        labels.append(filters["type"])
    if "speaker" in filters:
        labels.append(programme.get_speaker(db, row, filters["speaker"])["name"])
    if "q" in filters:
        labels.append(f"“{request.args['q'].strip()}”")
    return f"{row['title']} — {', '.join(labels)}" if labels else row["title"]


@ns.route("/programme.ics")
@ns.param("event", "Event slug, e.g. ecc2014")
class ProgrammeCalendar(Resource):
    @ns.doc(params=_FILTER_DOCS)
    @ns.produces(["text/calendar"])
    @ns.response(200, "The programme as an iCalendar feed: " + _FEED_DOC)
    @ns.response(304, _NOT_MODIFIED)
    @ns.response(400, "A filter cannot be understood", error)
    @ns.response(404, "Unknown event, or a filter names an unknown track, room, speaker or day", error)
    def get(self, event):
        """The programme as a calendar feed to subscribe to; same filters as the session list."""
        return event_calendar(event, _programme_feed)


@ns.route("/sessions/<string:session_id>.ics")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("session_id", "Session id, e.g. opening-plenary")
class SessionCalendar(Resource):
    @ns.produces(["text/calendar"])
    @ns.response(200, "One session as an iCalendar file: " + _FEED_DOC)
    @ns.response(304, _NOT_MODIFIED)
    @ns.response(404, "Unknown event or session", error)
    def get(self, event, session_id):
        """One session as a calendar entry (add it to a calendar; it follows later changes)."""

        def build(db, row):
            session = programme.get_session(db, row, session_id)
            return [session], session["title"]

        return event_calendar(event, build)


personal = Namespace(
    "personal calendar",
    description="Each attendee's secret calendar feed (their bookmarks and meetings)",
    path="/calendars",
)
personal_error = error_model(personal)


@personal.route("/<string:token>.ics")
@personal.param("token", "The secret feed token from GET /api/v1/me/calendar")
class PersonalCalendar(Resource):
    @personal.produces(["text/calendar"])
    @personal.response(200, "The attendee's bookmarked sessions and accepted meetings: " + _FEED_DOC + _MEETINGS_DOC)
    @personal.response(304, _NOT_MODIFIED)
    @personal.response(404, "No feed at this address (unknown, rotated or erased)", personal_error)
    def get(self, token):
        """An attendee's personal calendar feed; the secret URL is the only credential it takes."""
        db = get_db()

        def fingerprint() -> tuple:
            found = attendees.feed_fingerprint(db, token)
            return (*found, meeting_items.fingerprint(db, found[0]))

        def representation() -> Representation:
            attendee = attendees.attendee_for_feed_token(db, token)
            event, sessions = schedules.schedule_sessions(db, attendee["pk"])
            meetings = schedules.accepted_meetings(db, attendee["pk"])
            changed = clock.parse_stamp(attendee["updated_at"]).astimezone(UTC)
            return _render(db, event, sessions, f"My schedule — {event['title']}", meetings, changed)

        return cached(fingerprint, representation, db, per_origin=True, private=True)
