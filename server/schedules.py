"""Personal schedules: bookmarks with overlap warnings and seat limits.

A bookmark of a session with a capacity takes a seat. The count and the insert happen in
one BEGIN IMMEDIATE transaction, so two requests for the last seat cannot both win.
"""

from __future__ import annotations

import json

import sqlite_utils

from server import clock, db as database, meeting_items, programme
from server.errors import Conflict, NotFound


def _attendee(db: sqlite_utils.Database, attendee_pk: int) -> dict:
    row = db.conn.execute("SELECT * FROM attendees WHERE pk = ?", (attendee_pk,)).fetchone()
    if row is None:
        raise NotFound("this attendee no longer exists")
    return dict(row)


def _event_of(db: sqlite_utils.Database, attendee: dict) -> dict:
    row = db.conn.execute("SELECT * FROM events WHERE id = ?", (attendee["event_id"],)).fetchone()
    return dict(row)


def seats_taken(db: sqlite_utils.Database, event_id: int, session_ids: list[str]) -> dict[str, int]:
    rows = db.conn.execute(
        "SELECT session_id, COUNT(*) FROM schedule_items WHERE event_id = ? "
        "AND session_id IN (SELECT value FROM json_each(?)) GROUP BY session_id",
        (event_id, json.dumps(session_ids)),
    )
    return dict(rows.fetchall())


def schedule_sessions(db: sqlite_utils.Database, attendee_pk: int) -> tuple[dict, list[dict]]:
    """The attendee's event and bookmarked sessions (cancelled ones included), in time order."""
    event = _event_of(db, _attendee(db, attendee_pk))
    return event, _bookmarked(db, event, attendee_pk)


def _bookmarked(db: sqlite_utils.Database, event: dict, attendee_pk: int) -> list[dict]:
    ids = [
        row[0] for row in db.conn.execute("SELECT session_id FROM schedule_items WHERE attendee_pk = ?", (attendee_pk,))
    ]
    return programme.sessions_by_ids(db, event, ids)


def accepted_meetings(db: sqlite_utils.Database, attendee_pk: int) -> list[dict]:
    """Matchmaking meetings the attendee has accepted and that got a place (cancelled ones kept,
    marked so), as calendar-ready items: both the schedule and the personal feed show them."""
    return meeting_items.placed_meetings(db, attendee_pk)


def _overlaps(sessions: list[dict]) -> dict[str, list[str]]:
    live = [s for s in sessions if s["status"] != "cancelled"]
    clashes: dict[str, list[str]] = {s["id"]: [] for s in sessions}
    for index, first in enumerate(live):
        for second in live[index + 1 :]:
            if first["start"] < second["end"] and second["start"] < first["end"]:
                clashes[first["id"]].append(second["id"])
                clashes[second["id"]].append(first["id"])
    return clashes


def _seats_left(session: dict, taken: dict[str, int]) -> int | None:
    if session["capacity"] is None:
        return None
    return max(session["capacity"] - taken.get(session["id"], 0), 0)


def schedule_fingerprint(db: sqlite_utils.Database, attendee_pk: int) -> tuple:
    """Everything GET /me/schedule shows depends on: the attendee's bookmarks (schedule
    version), the programme (event version), the seats others took in the limited sessions
    bookmarked, and their placed meetings. Indexed reads, so a repeated read is served from
    the response cache."""
    row = db.conn.execute(
        "SELECT a.schedule_version, e.version FROM attendees a JOIN events e ON e.id = a.event_id WHERE a.pk = ?",
        (attendee_pk,),
    ).fetchone()
    if row is None:
        raise NotFound("this attendee no longer exists")
    seats = db.conn.execute(
        "SELECT mine.session_id, COUNT(*) FROM schedule_items mine "
        "JOIN sessions s ON s.event_id = mine.event_id AND s.id = mine.session_id AND s.capacity IS NOT NULL "
        "JOIN schedule_items anyone ON anyone.event_id = mine.event_id AND anyone.session_id = mine.session_id "
        "WHERE mine.attendee_pk = ? GROUP BY mine.session_id ORDER BY mine.session_id",
        (attendee_pk,),
    ).fetchall()
    meetings = meeting_items.fingerprint(db, attendee_pk)
    return (attendee_pk, row[0], row[1], tuple(tuple(seat) for seat in seats), meetings)


def schedule_document(db: sqlite_utils.Database, attendee_pk: int) -> dict:
    """The schedule: each bookmark with its session, overlaps and seats left."""
    with database.read(db):
        attendee = _attendee(db, attendee_pk)
        event = _event_of(db, attendee)
        added = dict(
            db.conn.execute(
                "SELECT session_id, added_at FROM schedule_items WHERE attendee_pk = ?", (attendee_pk,)
            ).fetchall()
        )
        sessions = programme.sessions_by_ids(db, event, list(added))
        taken = seats_taken(db, event["id"], [s["id"] for s in sessions if s["capacity"] is not None])
        overlaps = _overlaps(sessions)
        meetings = accepted_meetings(db, attendee_pk)
    items = [
        {
            "session": session,
            "added_at": clock.parse_stamp(added[session["id"]]).isoformat(),
            "overlaps": overlaps[session["id"]],
            "seats_left": _seats_left(session, taken),
        }
        for session in sessions
    ]
    return {
        "attendee": attendee["id"],
        "event": event["slug"],
        "items": items,
        "overlap_count": sum(1 for item in items if item["overlaps"]),
        "meetings": meetings,
    }


def add_to_schedule(db: sqlite_utils.Database, attendee_pk: int, session_id: str) -> tuple[dict, bool]:
    """Bookmark a session; True if it was new. A full or cancelled session is refused (409)."""
    with database.write(db):
        attendee = _attendee(db, attendee_pk)
        event = _event_of(db, attendee)
        session = programme.get_session(db, event, session_id)
        added = db.conn.execute(
            "SELECT added_at FROM schedule_items WHERE attendee_pk = ? AND session_id = ?", (attendee_pk, session_id)
        ).fetchone()
        taken = seats_taken(db, event["id"], [session_id]).get(session_id, 0)
        if not added:
            if session["status"] == "cancelled":
                raise Conflict(f"session {session_id!r} is cancelled", reason="cancelled")
            if session["capacity"] is not None and taken >= session["capacity"]:
                raise Conflict(
                    f"session {session_id!r} is full ({session['capacity']} seats)", reason="full", seats_left=0
                )
            stamp = clock.utc_stamp()
            db.conn.execute(
                "INSERT INTO schedule_items (attendee_pk, event_id, session_id, added_at) VALUES (?, ?, ?, ?)",
                (attendee_pk, event["id"], session_id, stamp),
            )
            _bump(db, attendee_pk)
            taken += 1
        others = _bookmarked(db, event, attendee_pk)
    item = {
        "session": session,
        "added_at": clock.parse_stamp(added[0] if added else stamp).isoformat(),
        "overlaps": _overlaps(others)[session_id] if session["status"] != "cancelled" else [],
        "seats_left": _seats_left(session, {session_id: taken}),
    }
    return item, not added


def remove_from_schedule(db: sqlite_utils.Database, attendee_pk: int, session_id: str) -> bool:
    """Drop a bookmark; True if there was one. Removing one that is not there is no error."""
    with database.write(db):
        event = _event_of(db, _attendee(db, attendee_pk))
        if not db.conn.execute(
            "SELECT 1 FROM sessions WHERE event_id = ? AND id = ?", (event["id"], session_id)
        ).fetchone():
            raise NotFound(f"no session {session_id!r} in event {event['slug']!r}", resource="session")
        removed = db.conn.execute(
            "DELETE FROM schedule_items WHERE attendee_pk = ? AND session_id = ?", (attendee_pk, session_id)
        ).rowcount
        if removed:
            _bump(db, attendee_pk)
    return bool(removed)


def _bump(db: sqlite_utils.Database, attendee_pk: int) -> None:
    """The personal feed is cached per schedule version and dated by updated_at: move both."""
    db.conn.execute(
        "UPDATE attendees SET schedule_version = schedule_version + 1, updated_at = ? WHERE pk = ?",
        (clock.utc_stamp(), attendee_pk),
    )
