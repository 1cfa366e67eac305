"""Public programme pages for people: the programme, sessions, speakers and rooms as HTML.

Server-rendered over the same domain functions as the API (server/programme.py), so a page
reads the same data the JSON does and works with JavaScript off. Each page is a function of
its URL and a fingerprint, so it is cached and revalidated exactly like the API's JSON
(server/api/caching.py): a strong ETag of the bytes and a 304 on a repeat visit. The
fingerprint is the event's version, plus the seats taken for a session page, plus the
sessions running now and next for the programme (the clock's only effect on it). Pages carry
no inline script or style, so their cached bytes need no per-response CSP nonce.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, render_template, request

from server import clock, programme, schedules
from server.api.caching import Representation, cached
from server.db_app import get_db
from server.validation import SESSION_TYPES

bp = Blueprint("pages", __name__, url_prefix="/e/<event>")
HTML = "text/html; charset=utf-8"
FILTER_FIELDS = ("track", "room", "type", "q")  # the form; day and speaker work in the URL too
ROLES = (("chair", "Chair", "Chairs"), ("moderator", "Moderator", "Moderators"),
         ("speaker", "Speaker", "Speakers"), ("panellist", "Panellist", "Panellists"))  # fmt: skip


def _page(fingerprint: Callable[[], object], template: str, context: Callable[[], dict], **options) -> Response:
    """`template` rendered with `context()`, cached per URL and `fingerprint()` (a 304 when unchanged)."""
    return cached(
        fingerprint,
        lambda: Representation.of_bytes(render_template(template, **context()).encode("utf-8"), HTML),
        get_db(),
        **options,
    )


def _lookups(db, row: dict) -> dict:
    """What every page that lists sessions needs: the event and its room and track names."""
    return {
        "event": programme.event_document(db, row),
        "rooms": {room["id"]: room for room in programme.list_rooms(db, row)},
        "tracks": {track["id"]: track for track in programme.list_tracks(db, row)},
    }


@bp.get("/")
def programme_page(event: str) -> Response:
    """The programme by day, with what runs now and next, narrowed by the filter form."""
    db = get_db()

    def fingerprint() -> tuple:
        return event, programme.event_version(db, event), programme.now_and_next(db, event, clock.now())

    def context() -> dict:
        row = programme.get_event(db, event)
        filters = programme.parse_session_filters(db, row, request.args)
        sessions = programme.list_sessions(db, row, filters)
        now_ids, next_ids = programme.now_and_next(db, event, clock.now())
        return {
            **_lookups(db, row),
            "active": "programme",
            "form": {name: request.args.get(name, "").strip() for name in FILTER_FIELDS},
            "filtered": bool(filters),
            "types": SESSION_TYPES,
            "days": _by_day(programme.event_document(db, row)["days"], sessions),
            "count": len(sessions),
            "now_sessions": programme.sessions_by_ids(db, row, list(now_ids)),
            "next_sessions": programme.sessions_by_ids(db, row, list(next_ids)),
            "now_ids": set(now_ids),
            "next_ids": set(next_ids),
        }

    # The fingerprint reads the clock, so its 304 must not outlive the next session boundary.
    return _page(fingerprint, "programme.html", context, reusable=False)


def _by_day(days: list[dict], sessions: list[dict]) -> list[dict]:
    """The event's days that have sessions in the list, each with its sessions."""
    grouped = [dict(day, sessions=[s for s in sessions if s["day"] == day["date"]]) for day in days]
    return [day for day in grouped if day["sessions"]]


@bp.get("/sessions/<session_id>")
def session_page(event: str, session_id: str) -> Response:
    """One session: when, where, who, what, and how many seats are left."""
    db = get_db()

    def fingerprint() -> tuple:
        row = programme.get_event(db, event)
        return event, row["version"], schedules.seats_taken(db, row["id"], [session_id]).get(session_id, 0)

    def context() -> dict:
        row = programme.get_event(db, event)
        session = programme.get_session(db, row, session_id)
        taken = schedules.seats_taken(db, row["id"], [session_id]).get(session_id, 0)
        capacity = session["capacity"]
        return {
            **_lookups(db, row),
            "active": "programme",
            "session": session,
            "speaker_groups": speakers_by_role(session["speakers"]),
            "seats_left": None if capacity is None else max(capacity - taken, 0),
        }

    return _page(fingerprint, "session.html", context)


def speakers_by_role(speakers: list[dict]) -> list[tuple[str, list[dict]]]:
    """Speakers grouped under a heading per role ("Chair", "Panellists"), chairs first."""
    groups = []
    for role, singular, plural in ROLES:
        members = [speaker for speaker in speakers if speaker["role"] == role]
        if members:
            groups.append((singular if len(members) == 1 else plural, members))
    return groups


@bp.get("/speakers")
def speakers_page(event: str) -> Response:
    """Every speaker of the event, by name."""
    return _listing(event, "speakers.html", "speakers", programme.list_speakers)


@bp.get("/speakers/<speaker_id>")
def speaker_page(event: str, speaker_id: str) -> Response:
    """One speaker and their sessions."""
    db = get_db()

    def context() -> dict:
        row = programme.get_event(db, event)
        return {**_lookups(db, row), "active": "speakers", "speaker": programme.get_speaker(db, row, speaker_id)}

    return _page(lambda: (event, programme.event_version(db, event)), "speaker.html", context)


@bp.get("/rooms")
def rooms_page(event: str) -> Response:
    """The rooms, each linking to the programme narrowed to it."""
    return _listing(event, "rooms.html", "rooms", programme.list_rooms)


def _listing(event: str, template: str, name: str, read: Callable) -> Response:
    """A page listing one kind of item of the event (`read(db, event row)`), as `name`."""
    db = get_db()

    def context() -> dict:
        row = programme.get_event(db, event)
        return {"event": programme.event_document(db, row), "active": name, name: read(db, row)}

    return _page(lambda: (event, programme.event_version(db, event)), template, context)


# --- shown in templates -------------------------------------------------------------------------


def clock_time(iso: str) -> str:
    """The clock time ("14:00") of an ISO 8601 time that already carries the event zone's offset."""
    return datetime.fromisoformat(iso).strftime("%H:%M")


def long_date(iso: str) -> str:
    """The date as people write it ("Monday 20 October 2014") of an ISO 8601 date or time."""
    return f"{datetime.fromisoformat(iso):%A %-d %B %Y}"


def zone_label(iso: str, zone: str) -> str:
    """The event zone as people read it at that moment: "Europe/Brussels, CEST, UTC+02:00"."""
    local = datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
    offset = local.strftime("%z")
    return f"{zone}, {local.tzname()}, UTC{offset[:3]}:{offset[3:]}"


def was_moved(session: dict) -> bool:
    """A live session whose time, room or status changed since it was first published.

    Nothing records what changed; `sequence` rises on time, room and status changes (it is the
    iCal SEQUENCE), so a live session with a sequence above 0 was moved, or cancelled and then
    reinstated, which is rare enough to be worded the same.
    """
    return session["status"] != "cancelled" and session["sequence"] > 0


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_filter(clock_time)
    app.add_template_filter(long_date)
    app.add_template_global(zone_label)
    app.add_template_global(was_moved)
