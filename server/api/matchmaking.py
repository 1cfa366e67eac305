"""Cluster matchmaking over HTTP: the organiser's set-up and participants (event-scoped), and
the attendee's own profile and meetings (under /me)."""

from __future__ import annotations

from flask import Response, current_app, g, request
from flask_restx import Namespace, Resource

from server import matchmaking, matchmaking_live, matchmaking_plan, meetings, suggestions
from server.api.caching import Representation, cached
from server.api.common import error_model, json_body, json_object, model
from server.api.security import admin_or_attendee_required, admin_required, attendee_required, desk_required, refusals
from server.db_app import get_db
from server.programme import get_event

ns = Namespace(
    "matchmaking", description="Cluster matchmaking: set-up, sectors and participants", path="/events/<string:event>"
)
error = error_model(ns)
settings_model = model(ns, "MatchmakingSettings")
setup_input = model(ns, "MatchmakingSetup")
sector_model = model(ns, "Sector")
participant_model = model(ns, "Participant")
participant_patch = model(ns, "ParticipantPatch")
meeting_model = model(ns, "Meeting")
move_input = model(ns, "MeetingMove")
ADMIN = refusals(error, "admin")


@ns.route("/matchmaking")
@ns.param("event", "Event slug, e.g. ecc2014")
class MatchmakingSettings(Resource):
    @ns.response(200, "The matchmaking session: window, slots, tables, cap, closing time", settings_model)
    @ns.response(404, "Unknown event, or matchmaking is not set up for it", error)
    def get(self, event):
        """The event's matchmaking session and its slots (public: it is the session's frame)."""
        return matchmaking.get_settings(get_db(), event)

    @ns.doc(security="bearer", responses=ADMIN)
    @ns.expect(setup_input)
    @ns.response(200, "Set up", settings_model)
    @ns.response(400, "The body does not have the expected shape", error)
    @ns.response(404, "Unknown event", error)
    @ns.response(422, "A value is wrong (named in fields)", error)
    @admin_required
    def put(self, event):
        """Set up (or change) the matchmaking session; placed meetings keep their places."""
        return matchmaking.put_settings(get_db(), event, json_body("MatchmakingSetup"))


@ns.route("/matchmaking/sectors")
@ns.param("event", "Event slug, e.g. ecc2014")
class Sectors(Resource):
    @ns.response(200, "The fixed sector list profiles choose from", [sector_model])
    @ns.response(404, "Unknown event", error)
    def get(self, event):
        """The sectors a profile may name, after the European Cluster Observatory's categories."""
        get_event(get_db(), event)
        return matchmaking.sectors()


@ns.route("/matchmaking/participants")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer")
class Participants(Resource):
    @ns.doc(
        params={
            "country": "ISO 3166-1 alpha-2 code, e.g. BE",
            "sector": "A sector id from .../matchmaking/sectors",
            "q": "Words to find in organisation, cluster, offer and seek",
        }
    )
    @ns.response(200, "The participants that match, by organisation", [participant_model])
    @ns.response(400, "A filter cannot be understood (named in fields)", error)
    @ns.response(401, "No valid token", error)
    @ns.response(403, "Neither a participant of this event nor its admin", error)
    @ns.response(404, "Unknown event", error)
    @admin_or_attendee_required
    def get(self, event):
        """Find partners: the event's participants (hidden profiles to admins only)."""
        return matchmaking.search_participants(get_db(), event, g.attendee_pk, request.args)


@ns.route("/matchmaking/participants/<string:participant_id>")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("participant_id", "Participant id, e.g. p-7k2m9q4x")
@ns.doc(security="bearer", responses=ADMIN)
class ParticipantItem(Resource):
    @ns.expect(participant_patch)
    @ns.response(200, "Changed", participant_model)
    @ns.response(400, "The body does not have the expected shape", error)
    @ns.response(404, "Unknown event or participant", error)
    @admin_required
    def patch(self, event, participant_id):
        """Hide a profile from other participants, or show it again."""
        body = json_body("ParticipantPatch")
        return matchmaking.set_hidden(get_db(), event, participant_id, body["hidden"])


@ns.route("/matchmaking/meetings/<string:meeting_id>")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.param("meeting_id", "Meeting id, e.g. m-7k2m9q4x")
@ns.doc(security="bearer", responses=ADMIN)
class MeetingItem(Resource):
    @ns.expect(move_input)
    @ns.response(200, "Moved: its sequence rose; both parties see the change", meeting_model)
    @ns.response(400, "The body does not have the expected shape", error)
    @ns.response(404, "Unknown event or meeting", error)
    @ns.response(409, "Not accepted, or the move would give a person or a table two meetings at once", error)
    @ns.response(422, "No such slot or table in the set-up", error)
    @admin_required
    def patch(self, event, meeting_id):
        """Move an accepted meeting to another slot and table."""
        return meetings.move_meeting(get_db(), event, meeting_id, json_body("MeetingMove"))


mine = Namespace("my matchmaking", description="The attendee's own matchmaking profile and meetings", path="/me")
my_error = error_model(mine)
my_participant = model(mine, "Participant")
profile_input = model(mine, "MyProfile")
my_meeting = model(mine, "Meeting")
request_input = model(mine, "MeetingRequest")
ATTENDEE = refusals(my_error, "attendee")


@mine.route("/matchmaking")
@mine.doc(security="bearer", responses=ATTENDEE)
class MyMatchmaking(Resource):
    @mine.response(200, "Your profile", my_participant)
    @mine.response(404, "You have no profile (or left)", my_error)
    @attendee_required
    def get(self):
        """Your matchmaking profile."""
        return matchmaking.get_profile(get_db(), g.attendee_pk)

    @mine.expect(profile_input)
    @mine.response(200, "Updated", my_participant)
    @mine.response(201, "Opted in: the answer carries your participant id", my_participant)
    @mine.response(400, "The body does not have the expected shape", my_error)
    @mine.response(409, "Matchmaking is not set up for your event", my_error)
    @mine.response(422, "A value is wrong (named in fields)", my_error)
    @attendee_required
    def put(self):
        """Opt in to matchmaking, or update your profile; you join the Matchmaking check-in list."""
        # The domain checks the body: it puts the country in capitals first.
        document, created = matchmaking.put_profile(get_db(), g.attendee_pk, json_object())
        return document, 201 if created else 200

    @mine.response(204, "Left: your live meetings are cancelled, partners see why")
    @mine.response(404, "You have no profile (or left already)", my_error)
    @attendee_required
    def delete(self):
        """Leave matchmaking: your meetings are cancelled ("participant left")."""
        matchmaking.leave(get_db(), g.attendee_pk)
        return "", 204


@mine.route("/meetings")
@mine.doc(security="bearer", responses=ATTENDEE)
class MyMeetings(Resource):
    @mine.response(200, "Your meetings, either side, in the order they were asked for; carries an ETag", [my_meeting])
    @mine.response(304, "Not modified: If-None-Match matched (none of your meetings or partners changed)")
    @mine.response(404, "You have no profile", my_error)
    @attendee_required
    def get(self):
        """Your meetings with status, place and log; send the ETag back in If-None-Match for 304."""
        db, attendee_pk = get_db(), g.attendee_pk
        meetings.expire_unanswered(db, attendee_pk)
        return cached(
            lambda: meetings.my_meetings_fingerprint(db, attendee_pk),
            lambda: Representation.of(meetings.my_meetings(db, attendee_pk)),
            db,
            private=True,
            reusable=False,  # expiry depends on the clock as well as the database
        )

    @mine.expect(request_input)
    @mine.response(201, "Requested", my_meeting)
    @mine.response(400, "The body does not have the expected shape", my_error)
    @mine.response(404, "You have no profile, or no such participant to meet", my_error)
    @mine.response(409, "Requests are closed, the pair already has a live meeting, or a cap is reached", my_error)
    @mine.response(422, "You cannot meet yourself", my_error)
    @attendee_required
    def post(self):
        """Ask another participant for a meeting."""
        return meetings.request_meeting(get_db(), g.attendee_pk, json_body("MeetingRequest")), 201


def _answer_route(action: str, summary: str, who: str) -> None:
    """One of /me/meetings/{id}/accept|decline|cancel: the same shape, a different transition."""

    def post(self, meeting_id):
        return meetings.answer(get_db(), g.attendee_pk, meeting_id, action)

    post.__doc__ = summary
    post = attendee_required(post)
    post = mine.response(409, "The meeting's status does not allow it (e.g. it expired)", my_error)(post)
    post = mine.response(404, "No such meeting of yours, or you have no profile", my_error)(post)
    post = mine.response(403, "Not an attendee's token, or only the partner may do this", my_error)(post)
    post = mine.response(200, f"Done ({who}); repeating it changes nothing", my_meeting)(post)
    resource = type(f"MyMeeting{action.capitalize()}", (Resource,), {"post": post, "__doc__": summary})
    resource = mine.doc(security="bearer", responses=ATTENDEE)(resource)
    resource = mine.param("meeting_id", "Meeting id, e.g. m-7k2m9q4x")(resource)
    mine.route(f"/meetings/<string:meeting_id>/{action}")(resource)


_answer_route("accept", "Accept a request made to you: it is placed at once when a slot and table are free.", "partner")
_answer_route("decline", "Decline a request made to you.", "partner")
_answer_route("cancel", "Cancel a request or an accepted meeting, from either side.", "either side")


suggestion_model = model(mine, "Suggestion")


@mine.route("/matchmaking/suggestions")
@mine.doc(security="bearer", responses=ATTENDEE)
class MySuggestions(Resource):
    @mine.doc(params={"limit": f"How many, 1 to {suggestions.MAX_LIMIT} (default {suggestions.DEFAULT_LIMIT})"})
    @mine.response(200, "Other participants, best match first, each with score and reasons", [suggestion_model])
    @mine.response(400, "limit is not a number from 1 to 100", my_error)
    @mine.response(403, "Not an attendee's token, or you have no matchmaking profile", my_error)
    @mine.response(404, "Matchmaking is not set up for your event", my_error)
    @attendee_required
    def get(self):
        """Partners to meet: whose offer meets what you seek and the reverse, across sectors and borders."""
        return suggestions.suggest(get_db(), g.attendee_pk, request.args)


# --- the organiser's plan, export and figures; whether a meeting took place -------------------
# (kept apart from the participant's routes above: server/matchmaking_plan.py is their domain)

schedule_input = model(ns, "ScheduleRequest")
schedule_report = model(ns, "ScheduleReport")
stats_model = model(ns, "MatchmakingStats")
held_input = model(mine, "MeetingHeldInput")
held_model = model(mine, "MeetingHeld")


@ns.route("/matchmaking/schedule")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=ADMIN)
class MatchmakingSchedule(Resource):
    @ns.expect(schedule_input)
    @ns.response(200, "Planned and written: placed, not placed and why, the bound and the quality", schedule_report)
    @ns.response(400, "The body does not have the expected shape", error)
    @ns.response(404, "Unknown event, or matchmaking is not set up for it", error)
    @ns.response(409, "Meetings changed while the plan was made; nothing written: plan again", error)
    @admin_required
    def post(self, event):
        """Place all accepted meetings at once (most placed, then earlier); admin moves stay unless replan."""
        body = json_body("ScheduleRequest") if request.content_length or request.is_json else {}
        seconds = current_app.config["PLAN_SECONDS"]
        return matchmaking_plan.schedule(get_db(), event, replan=body.get("replan", False), seconds=seconds)


@ns.route("/matchmaking/plan.csv")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=ADMIN)
class MatchmakingPlanCsv(Resource):
    @ns.produces(["text/csv"])
    @ns.response(200, "The placed meetings per table and time, both sides' name, organisation, cluster, country")
    @ns.response(404, "Unknown event, or matchmaking is not set up for it", error)
    @admin_required
    def get(self, event):
        """The plan per table as CSV, for the tables' sheets (cells safe to open in a spreadsheet)."""
        body = matchmaking_plan.plan_csv(get_db(), event)
        headers = {
            "Content-Disposition": f'attachment; filename="{event}-matchmaking-plan.csv"',
            "Cache-Control": "private, no-cache",
        }
        return Response(body, mimetype="text/csv", headers=headers)


@ns.route("/matchmaking/stats")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=ADMIN)
class MatchmakingStats(Resource):
    @ns.response(200, "Requests by status, placed, held, participants, across sectors and borders", stats_model)
    @ns.response(404, "Unknown event, or matchmaking is not set up for it", error)
    @admin_required
    def get(self, event):
        """The matchmaking morning in figures."""
        return matchmaking_plan.stats(get_db(), event)


live_model = model(ns, "MatchmakingLive")


@ns.route("/matchmaking/live")
@ns.param("event", "Event slug, e.g. ecc2014")
@ns.doc(security="bearer", responses=refusals(error, "desk"))
class MatchmakingLive(Resource):
    # The desk's token as well as an admin's: the live view runs on the organiser's table next
    # to the desk page, and a desk device already sees names, organisations and arrivals.
    @ns.response(200, "Slots now and next, each table's meeting with arrivals and held marks, counts", live_model)
    @ns.response(404, "Unknown event, or matchmaking is not set up for it", error)
    @desk_required
    def get(self, event):
        """The matchmaking morning live: who sits at which table now and next, who has arrived."""
        return matchmaking_live.live(get_db(), event)


@mine.route("/meetings/<string:meeting_id>/held")
@mine.param("meeting_id", "Meeting id, e.g. m-7k2m9q4x")
@mine.doc(security="bearer", responses=ATTENDEE)
class MyMeetingHeld(Resource):
    @mine.expect(held_input)
    @mine.response(200, "Recorded: what each side said", held_model)
    @mine.response(400, "The body does not have the expected shape", my_error)
    @mine.response(404, "No such meeting of yours, or you have no profile", my_error)
    @mine.response(409, "Not a placed meeting, or its slot has not begun", my_error)
    @attendee_required
    def post(self, meeting_id):
        """Say whether a meeting took place (either side, once its slot has begun)."""
        held = json_body("MeetingHeldInput")["held"]
        return matchmaking_plan.mark_held(get_db(), g.attendee_pk, meeting_id, held)
