"""Reading the programme: events, sessions, speakers, rooms, tracks and the change feed.

Plain functions over a sqlite-utils Database that return JSON-ready dicts. The shapes
here are the API's contract, declared in server/declarations/.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlite_utils

from server import clock, contract
from server.bounds import whole_number
from server.errors import BadParameter, Gone, NotFound
from server.fts import fts_query
from server.validation import SESSION_TYPES

FILTERS = ("day", "track", "room", "type", "speaker", "q")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")  # C0 (tab and newline too), DEL and C1


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local(stamp: str, zone: ZoneInfo) -> str:
    return clock.parse_stamp(stamp).astimezone(zone).isoformat()


def _offset_stamp(stamp: str) -> str:
    """A stored UTC stamp as ISO 8601 with an explicit +00:00 offset."""
    return stamp.replace("Z", "+00:00")


def _rows(db: sqlite_utils.Database, sql: str, params=()) -> list[dict]:
    return [dict(row) for row in db.conn.execute(sql, params)]


def get_event(db: sqlite_utils.Database, slug: str) -> dict:
    row = db.conn.execute("SELECT * FROM events WHERE slug = ?", (slug,)).fetchone()
    if row is None:
        raise NotFound(f"no event {slug!r}", resource="event")
    return dict(row)


def event_version(db: sqlite_utils.Database, slug: str) -> int:
    """The cheap check every cached programme response starts with."""
    row = db.conn.execute("SELECT version FROM events WHERE slug = ?", (slug,)).fetchone()
    if row is None:
        raise NotFound(f"no event {slug!r}", resource="event")
    return row[0]


def events_fingerprint(db: sqlite_utils.Database) -> str:
    rows = db.conn.execute("SELECT slug, version FROM events ORDER BY slug").fetchall()
    return ",".join(f"{slug}:{version}" for slug, version in rows)


def _days(db, event) -> list[dict]:
    rows = db.conn.execute("SELECT date, number FROM days WHERE event_id = ? ORDER BY number", (event["id"],))
    return [
        {"date": day, "number": number, "label": f"Day {number}, {date.fromisoformat(day):%A %-d %B %Y}"}
        for day, number in rows
    ]


def event_document(db: sqlite_utils.Database, event: dict) -> dict:
    return {
        "slug": event["slug"],
        "title": event["title"],
        "description": event["description"],
        "timezone": event["timezone"],
        "start_date": event["start_date"],
        "end_date": event["end_date"],
        "days": _days(db, event),
        "venue": event["venue"],
        "city": event["city"],
        "country": event["country"],
        "capacity": event["capacity"],
        "organiser": event["organiser"],
        "url": event["url"],
        "notice": event["notice"],
        "themes": json.loads(event["themes"]),
        "guiding_questions": json.loads(event["guiding_questions"]),
        "previous_editions": json.loads(event["previous_editions"]),
        "version": event["version"],
    }


def list_events(db: sqlite_utils.Database) -> list[dict]:
    events = _rows(db, "SELECT * FROM events ORDER BY start_date, slug")
    return [event_document(db, event) for event in events]


def _declared(kind: str) -> tuple[str, ...]:
    """The fields of a response, in declared order (server/declarations/)."""
    return tuple(contract.properties(kind))


_ROOM_FIELDS, _TRACK_FIELDS, _SPEAKER_FIELDS = _declared("Room"), _declared("Track"), _declared("Speaker")


def room_document(row: dict) -> dict:
    return {name: row[name] for name in _ROOM_FIELDS}


def track_document(row: dict) -> dict:
    return {name: row[name] for name in _TRACK_FIELDS}


def room_name(db: sqlite_utils.Database, event_id: int, room_id: str | None) -> str | None:
    """A room's display name, for documents that name a room by id (matchmaking's tables stand in one)."""
    if room_id is None:
        return None
    row = db.conn.execute("SELECT name FROM rooms WHERE event_id = ? AND id = ?", (event_id, room_id)).fetchone()
    return row[0] if row else None


def list_rooms(db: sqlite_utils.Database, event: dict) -> list[dict]:
    rows = _rows(db, "SELECT * FROM rooms WHERE event_id = ? ORDER BY position, id", (event["id"],))
    return [room_document(row) for row in rows]


def list_tracks(db: sqlite_utils.Database, event: dict) -> list[dict]:
    rows = _rows(db, "SELECT * FROM tracks WHERE event_id = ? ORDER BY position, id", (event["id"],))
    return [track_document(row) for row in rows]


def _session_speakers(db, event_id: int, session_ids: list[str] | None) -> dict[str, list[dict]]:
    sql = """
        SELECT ss.session_id, ss.role, sp.id, sp.name, sp.job_title, sp.organisation
        FROM session_speakers ss
        JOIN speakers sp ON sp.event_id = ss.event_id AND sp.id = ss.speaker_id
        WHERE ss.event_id = ?"""
    params: tuple = (event_id,)
    if session_ids is not None:
        sql += " AND ss.session_id IN (SELECT value FROM json_each(?))"
        params += (json.dumps(session_ids),)
    sql += " ORDER BY ss.session_id, ss.position"
    links: dict[str, list[dict]] = {}
    for session_id, role, speaker_id, name, job_title, organisation in db.conn.execute(sql, params):
        links.setdefault(session_id, []).append(
            {
                "id": speaker_id,
                "name": name,
                "job_title": job_title,
                "organisation": organisation,
                "role": role,
            }
        )
    return links


def session_document(row: dict, zone: ZoneInfo, speakers: list[dict]) -> dict:
    starts, ends = clock.parse_stamp(row["starts_at"]), clock.parse_stamp(row["ends_at"])
    return {
        "id": row["id"],
        "guid": row["guid"],
        "title": row["title"],
        "type": row["type"],
        "track": row["track_id"],
        "room": row["room_id"],
        "day": row["day"],
        "start": starts.astimezone(zone).isoformat(),
        "end": ends.astimezone(zone).isoformat(),
        "duration_minutes": int((ends - starts).total_seconds() // 60),
        "abstract": row["abstract"],
        "language": row["language"],
        "capacity": row["capacity"],
        "status": row["status"],
        "sequence": row["sequence"],
        "updated_at": _offset_stamp(row["updated_at"]),
        "speakers": speakers,
    }


_SESSION_ORDER = " ORDER BY s.starts_at, COALESCE(r.position, -1), s.ends_at, s.id"
_SESSION_SELECT = """
    SELECT s.* FROM sessions s
    LEFT JOIN rooms r ON r.event_id = s.event_id AND r.id = s.room_id
    WHERE s.event_id = ?"""


def _session_documents(db, event: dict, rows: list[dict], *, all_sessions: bool) -> list[dict]:
    zone = _zone(event["timezone"])
    ids = None if all_sessions else [row["id"] for row in rows]
    speakers = _session_speakers(db, event["id"], ids)
    return [session_document(row, zone, speakers.get(row["id"], [])) for row in rows]


def parse_session_filters(db: sqlite_utils.Database, event: dict, args: dict) -> dict:
    """Check the query-string filters; an unknown track, room or speaker is a 404 naming it."""
    filters = {}
    for name in FILTERS:
        value = args.get(name)
        if value is None or value.strip() == "":
            continue
        if _CONTROL.search(value):  # a filter is one line of text; a newline here once broke the .ics feed
            raise BadParameter(f"{name} holds a control character", fields={name: "must not hold control characters"})
        filters[name] = value.strip()
    if "day" in filters:
        filters["day"] = resolve_day(db, event, filters["day"])
    if "type" in filters and filters["type"] not in SESSION_TYPES:
        raise BadParameter(
            f"unknown session type {filters['type']!r}",
            fields={"type": f"must be one of: {', '.join(SESSION_TYPES)}"},
        )
    for name, table in (("track", "tracks"), ("room", "rooms"), ("speaker", "speakers")):
        if name in filters:
            found = db.conn.execute(
                f"SELECT 1 FROM {table} WHERE event_id = ? AND id = ?",  # noqa: S608 - fixed names
                (event["id"], filters[name]),
            ).fetchone()
            if not found:
                raise NotFound(
                    f"no {name} {filters[name]!r} in event {event['slug']!r}",
                    fields={name: "unknown id"},
                )
    if "q" in filters:
        filters["q"] = fts_query(filters["q"])
        if not filters["q"]:
            raise BadParameter("the search text has no words", fields={"q": "needs at least one word"})
    return filters


def resolve_day(db: sqlite_utils.Database, event: dict, value: str) -> str:
    """A day given as its number (1, 2, ...) or its date, as the date."""
    days = {row["date"]: row["number"] for row in _days(db, event)}
    if value.isascii() and value.isdigit():
        by_number = {number: day for day, number in days.items()}
        if (number := whole_number(value)) in by_number:
            return by_number[number]
        raise NotFound(
            f"event {event['slug']!r} has no day {value}",
            fields={"day": f"must be 1 to {len(days)} or a date"},
        )
    try:
        day = date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadParameter(
            f"day {value!r} is not a date", fields={"day": "must be a day number or YYYY-MM-DD"}
        ) from None
    if day not in days:
        raise NotFound(
            f"event {event['slug']!r} does not run on {day}",
            fields={"day": f"must be between {event['start_date']} and {event['end_date']}"},
        )
    return day


def list_sessions(db: sqlite_utils.Database, event: dict, filters: dict | None = None) -> list[dict]:
    filters = filters or {}
    sql, params = _SESSION_SELECT, [event["id"]]
    column_filters = {"day": "s.day", "track": "s.track_id", "room": "s.room_id", "type": "s.type"}
    for name, column in column_filters.items():
        if name in filters:
            sql += f" AND {column} = ?"
            params.append(filters[name])
    if "speaker" in filters:
        sql += """ AND s.id IN (SELECT session_id FROM session_speakers
                                WHERE event_id = ? AND speaker_id = ?)"""
        params += [event["id"], filters["speaker"]]
    if "q" in filters:
        sql += " AND s.pk IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ?)"
        params.append(filters["q"])
    rows = _rows(db, sql + _SESSION_ORDER, params)
    return _session_documents(db, event, rows, all_sessions=not filters)


def get_session(db: sqlite_utils.Database, event: dict, session_id: str) -> dict:
    rows = _rows(db, _SESSION_SELECT + " AND s.id = ?", (event["id"], session_id))
    if not rows:
        raise NotFound(f"no session {session_id!r} in event {event['slug']!r}", resource="session")
    return _session_documents(db, event, rows, all_sessions=False)[0]


def now_and_next(db: sqlite_utils.Database, slug: str, moment: datetime) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Ids of the live sessions running at `moment`, and of those starting next (all at one time).

    Cancelled sessions are neither. What a "now and next" display shows changes only at these
    boundaries, so the ids also serve as the clock's part of a page's fingerprint. One query on
    the sessions_by_start index.
    """
    stamp = clock.utc_stamp(moment)
    rows = db.conn.execute(
        """
        SELECT s.id, s.starts_at <= :stamp FROM sessions s JOIN events e ON e.id = s.event_id
        WHERE e.slug = :slug AND s.status != 'cancelled' AND s.ends_at > :stamp
          AND (s.starts_at <= :stamp OR s.starts_at = (
                SELECT MIN(starts_at) FROM sessions
                WHERE event_id = e.id AND status != 'cancelled' AND starts_at > :stamp))
        ORDER BY s.starts_at, s.ends_at, s.id""",
        {"slug": slug, "stamp": stamp},
    ).fetchall()
    return tuple(row[0] for row in rows if row[1]), tuple(row[0] for row in rows if not row[1])


def speaker_document(row: dict, session_ids: list[str]) -> dict:
    return {name: session_ids if name == "sessions" else row[name] for name in _SPEAKER_FIELDS}


def _speaker_sessions(db, event_id: int, speaker_id: str | None = None) -> dict[str, list[str]]:
    sql = """
        SELECT ss.speaker_id, ss.session_id FROM session_speakers ss
        JOIN sessions s ON s.event_id = ss.event_id AND s.id = ss.session_id
        WHERE ss.event_id = ?"""
    params: tuple = (event_id,)
    if speaker_id is not None:
        sql += " AND ss.speaker_id = ?"
        params += (speaker_id,)
    sessions: dict[str, list[str]] = {}
    for speaker, session in db.conn.execute(sql + " ORDER BY s.starts_at, s.id", params):
        sessions.setdefault(speaker, []).append(session)
    return sessions


def list_speakers(db: sqlite_utils.Database, event: dict) -> list[dict]:
    rows = _rows(db, "SELECT * FROM speakers WHERE event_id = ? ORDER BY name, id", (event["id"],))
    sessions = _speaker_sessions(db, event["id"])
    return [speaker_document(row, sessions.get(row["id"], [])) for row in rows]


def get_speaker(db: sqlite_utils.Database, event: dict, speaker_id: str) -> dict:
    """A speaker with their sessions in full, in time order."""
    rows = _rows(db, "SELECT * FROM speakers WHERE event_id = ? AND id = ?", (event["id"], speaker_id))
    if not rows:
        raise NotFound(f"no speaker {speaker_id!r} in event {event['slug']!r}", resource="speaker")
    return speaker_document(rows[0], list_sessions(db, event, {"speaker": speaker_id}))


def programme_document(db: sqlite_utils.Database, event: dict) -> dict:
    """The whole programme in one document, for bulk and offline sync."""
    sessions = list_sessions(db, event)
    days = [dict(day, sessions=[]) for day in _days(db, event)]
    by_date = {day["date"]: day for day in days}
    for session in sessions:
        by_date[session["day"]]["sessions"].append(session)
    return {
        "event": event_document(db, event),
        "version": event["version"],
        "rooms": list_rooms(db, event),
        "tracks": list_tracks(db, event),
        "speakers": list_speakers(db, event),
        "days": days,
    }


def changes_since(db: sqlite_utils.Database, event: dict, since: int) -> dict:
    """What changed after version `since`, as the latest state of each item or its deletion."""
    version, floor = event["version"], event["changes_floor"]
    if since > version or since < floor:
        raise Gone(
            f"version {since} is {'ahead of' if since > version else 'older than'} the change log "
            f"(it holds versions {floor} to {version}); fetch the whole programme instead",
            version=version,
            resync=f"/api/v1/events/{event['slug']}/programme",
        )
    latest: dict[tuple[str, str], str] = {}
    rows = db.conn.execute(
        "SELECT kind, item_id, action FROM changes WHERE event_id = ? AND version > ? ORDER BY id",
        (event["id"], since),
    )
    for kind, item_id, action in rows:
        latest[(kind, item_id)] = action
    kinds = {"session": "sessions", "speaker": "speakers", "room": "rooms", "track": "tracks"}
    upserts: dict = {"event": None, **{plural: [] for plural in kinds.values()}}
    deletions: dict = {plural: [] for plural in kinds.values()}
    wanted: dict[str, list[str]] = {kind: [] for kind in kinds}
    for (kind, item_id), action in sorted(latest.items()):
        if kind == "event":
            upserts["event"] = event_document(db, event)
        elif action == "delete":
            deletions[kinds[kind]].append(item_id)
        else:
            wanted[kind].append(item_id)
    upserts["sessions"] = sessions_by_ids(db, event, wanted["session"])
    if wanted["speaker"]:
        speakers = {s["id"]: s for s in list_speakers(db, event)}
        upserts["speakers"] = [speakers[i] for i in wanted["speaker"] if i in speakers]
    for kind, lister in (("room", list_rooms), ("track", list_tracks)):
        if wanted[kind]:
            upserts[kinds[kind]] = [item for item in lister(db, event) if item["id"] in wanted[kind]]
    return {
        "event": event["slug"],
        "since": since,
        "version": version,
        "upserts": upserts,
        "deletions": deletions,
    }


def sessions_by_ids(db: sqlite_utils.Database, event: dict, ids: list[str]) -> list[dict]:
    if not ids:
        return []
    rows = _rows(
        db,
        f"{_SESSION_SELECT} AND s.id IN (SELECT value FROM json_each(?)) {_SESSION_ORDER}",  # noqa: S608
        (event["id"], json.dumps(ids)),
    )
    return _session_documents(db, event, rows, all_sessions=False)


def session_numbers(db: sqlite_utils.Database, event: dict) -> dict[str, int]:
    """Each session's row number by id: the integer id the frab format still requires."""
    rows = db.conn.execute("SELECT id, pk FROM sessions WHERE event_id = ?", (event["id"],))
    return dict(rows.fetchall())
