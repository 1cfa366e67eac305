"""Cluster matchmaking: the session's set-up, the sectors, and participants' profiles.

Meetings (requests, answers, placement) are in server/meetings.py; the slot grid is the pure
server/meeting_plan.py. Times are stored as UTC text and shown in the event's zone.
"""

from __future__ import annotations

import json
import secrets
from base64 import b32encode
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo

import sqlite_utils

from server import checkin_lists, clock, contract, db as database, meeting_plan
from server.errors import BadParameter, Conflict, Forbidden, NotFound
from server.fts import fts_query
from server.programme import get_event, room_name
from server.validation import Errors, parse_local_datetime

CHECKIN_LIST = "matchmaking"  # the explicit check-in list whose members are the participants


# --- sectors -------------------------------------------------------------------------------


@cache
def sectors() -> list[dict]:
    """The fixed sector list (server/data/sectors.json), after the European Cluster Observatory."""
    text = resources.files("server").joinpath("data", "sectors.json").read_text(encoding="utf-8")
    return json.loads(text)["sectors"]


def sector_ids() -> set[str]:
    return {sector["id"] for sector in sectors()}


def new_public_id(prefix: str) -> str:
    """A random public id like the attendees' `a-…`: `p-…` for participants, `m-…` for meetings."""
    return f"{prefix}-" + b32encode(secrets.token_bytes(5)).decode("ascii").lower()


# --- the set-up ----------------------------------------------------------------------------


def _range(item: dict, zone: ZoneInfo, errors: Errors, prefix: str) -> tuple[datetime, datetime] | None:
    """A TimeRange body as two aware datetimes, or None with the problems named (`{prefix}start`)."""
    moments = []
    for key in ("start", "end"):
        try:
            moments.append(parse_local_datetime(item.get(key), zone))
        except ValueError as problem:
            errors.add(f"{prefix}{key}", str(problem))
    if len(moments) < 2:
        return None
    if moments[1] <= moments[0]:
        errors.add(f"{prefix}end", "must be after start")
        return None
    return moments[0], moments[1]


def clean_settings(db: sqlite_utils.Database, event: dict, data: object, errors: Errors) -> dict:
    """A MatchmakingSetup body (server/declarations/matchmaking.json) as a row; problems into errors.

    Cross-field rules live here: the end after the start, breaks inside the window, a room of
    the event, tables named or counted (one of the two), at least one slot.
    """
    values, found = contract.check_body("MatchmakingSetup", data, body="input", prefix=errors.prefix)
    errors.take(found)
    if found:
        return {}
    zone = ZoneInfo(event["timezone"])
    window = _range(values, zone, errors, "")
    breaks = []
    for index, item in enumerate(values.get("breaks", [])):
        found_range = _range(item, zone, errors, f"breaks[{index}].")
        if found_range and window and not (window[0] <= found_range[0] and found_range[1] <= window[1]):
            errors.add(f"breaks[{index}]", "must lie inside the window")
        elif found_range:
            breaks.append(found_range)
    try:
        closes = parse_local_datetime(values.get("requests_close"), zone)
    except ValueError as problem:
        errors.add("requests_close", str(problem))
        closes = None
    room = values.get("room")
    if (
        room
        and not db.conn.execute("SELECT 1 FROM rooms WHERE event_id = ? AND id = ?", (event["id"], room)).fetchone()
    ):
        errors.add("room", f"no room with id {room!r} in this event")
    tables = _tables(values, errors)
    if window and not errors:
        grid = {"start": window[0], "end": window[1], "slot_minutes": values["slot_minutes"], "breaks": breaks}
        if not meeting_plan.slot_starts(grid):
            errors.add("slot_minutes", "leaves no slot between the window and its breaks")
    if errors:
        return {}
    return {
        "starts_at": clock.utc_stamp(window[0]),
        "ends_at": clock.utc_stamp(window[1]),
        "slot_minutes": values["slot_minutes"],
        "breaks": json.dumps([[clock.utc_stamp(start), clock.utc_stamp(end)] for start, end in sorted(breaks)]),
        "room_id": room or None,
        "tables": json.dumps(tables, ensure_ascii=False),
        "cap": values["cap"],
        "requests_close_at": clock.utc_stamp(closes),
    }


def _tables(values: dict, errors: Errors) -> list[str]:
    named, count = values.get("tables"), values.get("table_count")
    if (named is None) == (count is None):
        errors.add("tables", "send either tables (names) or table_count (numbered tables), not both or neither")
        return []
    if count is not None:
        return [str(number) for number in range(1, count + 1)]
    names = [name.strip() for name in named]
    if len(set(names)) != len(names):
        errors.add("tables", "each table name must be used once")
    return names


def settings_row(db: sqlite_utils.Database, event_id: int) -> dict | None:
    row = db.conn.execute("SELECT * FROM matchmaking_settings WHERE event_id = ?", (event_id,)).fetchone()
    return dict(row) if row else None


def require_settings(db: sqlite_utils.Database, event: dict) -> dict:
    row = settings_row(db, event["id"])
    if row is None:
        raise NotFound(f"matchmaking is not set up for event {event['slug']!r}", resource="matchmaking")
    return row


def plan_settings(row: dict) -> meeting_plan.PlanSettings:
    """A settings row as server/meeting_plan.py reads it."""
    return {
        "start": clock.parse_stamp(row["starts_at"]),
        "end": clock.parse_stamp(row["ends_at"]),
        "slot_minutes": row["slot_minutes"],
        "breaks": [(clock.parse_stamp(start), clock.parse_stamp(end)) for start, end in json.loads(row["breaks"])],
    }


def slots(row: dict) -> list[tuple[datetime, datetime]]:
    """The session's slots as (start, end), in time order."""
    length = timedelta(minutes=row["slot_minutes"])
    return [(start, start + length) for start in meeting_plan.slot_starts(plan_settings(row))]


def requests_open(row: dict) -> bool:
    return clock.now() < clock.parse_stamp(row["requests_close_at"])


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat()


def settings_document(db: sqlite_utils.Database, event: dict, row: dict) -> dict:
    zone = ZoneInfo(event["timezone"])
    return {
        "event": event["slug"],
        "start": _local(clock.parse_stamp(row["starts_at"]), zone),
        "end": _local(clock.parse_stamp(row["ends_at"]), zone),
        "slot_minutes": row["slot_minutes"],
        "breaks": [
            {"start": _local(clock.parse_stamp(start), zone), "end": _local(clock.parse_stamp(end), zone)}
            for start, end in json.loads(row["breaks"])
        ],
        "room": row["room_id"],
        "room_name": room_name(db, event["id"], row["room_id"]),
        "tables": json.loads(row["tables"]),
        "cap": row["cap"],
        "requests_close": _local(clock.parse_stamp(row["requests_close_at"]), zone),
        "requests_open": requests_open(row),
        "slots": [{"start": _local(start, zone), "end": _local(end, zone)} for start, end in slots(row)],
    }


def get_settings(db: sqlite_utils.Database, slug: str) -> dict:
    event = get_event(db, slug)
    return settings_document(db, event, require_settings(db, event))


def write_settings(db: sqlite_utils.Database, event: dict, values: dict) -> None:
    """Insert or replace an event's set-up (inside the caller's transaction)."""
    db["matchmaking_settings"].upsert(
        {"event_id": event["id"], **values, "updated_at": clock.utc_stamp()}, pk="event_id"
    )


def put_settings(db: sqlite_utils.Database, slug: str, data: object) -> dict:
    """Set up (or change) an event's matchmaking session. Placed meetings keep their slots."""
    with database.write(db):
        event = get_event(db, slug)
        errors = Errors()
        values = clean_settings(db, event, data, errors)
        errors.raise_if_any("matchmaking set-up")
        write_settings(db, event, values)
    return get_settings(db, slug)


# --- participants --------------------------------------------------------------------------


def participant_document(row: dict, event: dict) -> dict:
    zone = ZoneInfo(event["timezone"])
    availability = json.loads(row["availability"]) if row["availability"] is not None else None
    return {
        "id": row["id"],
        "event": event["slug"],
        "organisation": row["organisation"],
        "cluster": row["cluster"],
        "country": row["country"],
        "sectors": json.loads(row["sectors"]),
        "offer": row["offer"],
        "seek": row["seek"],
        "languages": json.loads(row["languages"]),
        "availability": None
        if availability is None
        else [
            {"start": _local(clock.parse_stamp(start), zone), "end": _local(clock.parse_stamp(end), zone)}
            for start, end in availability
        ],
        "hidden": bool(row["hidden"]),
        "synthetic": bool(row["synthetic"]),
        "created_at": clock.parse_stamp(row["created_at"]).isoformat(),
        "updated_at": clock.parse_stamp(row["updated_at"]).isoformat(),
    }


def attendee_event(db: sqlite_utils.Database, attendee_pk: int) -> tuple[dict, dict]:
    """The attendee row and their event."""
    row = db.conn.execute("SELECT * FROM attendees WHERE pk = ?", (attendee_pk,)).fetchone()
    if row is None:
        raise NotFound("this attendee no longer exists")
    event = db.conn.execute("SELECT * FROM events WHERE id = ?", (row["event_id"],)).fetchone()
    return dict(row), dict(event)


def my_participant(db: sqlite_utils.Database, attendee_pk: int) -> dict | None:
    """The attendee's participant row while they take part (not after leaving), else None."""
    row = db.conn.execute(
        "SELECT * FROM participants WHERE attendee_pk = ? AND left_at IS NULL", (attendee_pk,)
    ).fetchone()
    return dict(row) if row else None


def require_participant(db: sqlite_utils.Database, attendee_pk: int) -> dict:
    row = my_participant(db, attendee_pk)
    if row is None:
        raise NotFound("you have no matchmaking profile: opt in with PUT /api/v1/me/matchmaking", resource="profile")
    return row


def clean_profile(data: object, settings: dict, zone: ZoneInfo, errors: Errors) -> dict:
    """A MyProfile body as participant columns; sectors from the list, availability inside the session."""
    if isinstance(data, dict) and isinstance(data.get("country"), str):
        data = {**data, "country": data["country"].strip().upper()}
    values, found = contract.check_body("MyProfile", data, body="input", prefix=errors.prefix)
    errors.take(found)
    if found:
        return {}
    for text in ("organisation", "cluster"):
        values[text] = values[text].strip()
    known = sector_ids()
    for index, sector in enumerate(values["sectors"]):
        if sector not in known:
            errors.add(f"sectors[{index}]", f"no sector {sector!r}: see GET .../matchmaking/sectors")
    availability = None
    if values.get("availability") is not None:
        window = (clock.parse_stamp(settings["starts_at"]), clock.parse_stamp(settings["ends_at"]))
        availability = []
        for index, item in enumerate(values["availability"]):
            found_range = _range(item, zone, errors, f"availability[{index}].")
            if found_range and not (window[0] <= found_range[0] and found_range[1] <= window[1]):
                errors.add(f"availability[{index}]", "must lie inside the matchmaking session")
            elif found_range:
                availability.append([clock.utc_stamp(moment) for moment in found_range])
    return {
        "organisation": values["organisation"],
        "cluster": values["cluster"],
        "country": values["country"],
        "sectors": json.dumps(sorted(set(values["sectors"]))),
        "offer": values["offer"],
        "seek": values["seek"],
        "languages": json.dumps(sorted(set(values["languages"]))),
        "availability": None if availability is None else json.dumps(sorted(availability)),
    }


def _set_list_membership(db: sqlite_utils.Database, event: dict, attendee: dict, *, member: bool) -> None:
    """Only participants get through the event's explicit "Matchmaking" check-in list."""
    row = db.conn.execute(
        "SELECT audience FROM checkin_lists WHERE event_id = ? AND id = ?", (event["id"], CHECKIN_LIST)
    ).fetchone()
    if row is not None and row[0] == "explicit":
        checkin_lists.set_members(db, event["slug"], CHECKIN_LIST, [attendee["id"]], add=member)


def put_profile(db: sqlite_utils.Database, attendee_pk: int, data: object) -> tuple[dict, bool]:
    """Opt in or update my profile; True when it is new (or I come back after leaving)."""
    with database.write(db):
        attendee, event = attendee_event(db, attendee_pk)
        settings = settings_row(db, event["id"])
        if settings is None:
            raise Conflict(f"matchmaking is not set up for event {event['slug']!r}")
        errors = Errors()
        values = clean_profile(data, settings, ZoneInfo(event["timezone"]), errors)
        errors.raise_if_any("profile")
        stamp = clock.utc_stamp()
        current = db.conn.execute("SELECT * FROM participants WHERE attendee_pk = ?", (attendee_pk,)).fetchone()
        if current is None:
            row = {"id": new_public_id("p"), "event_id": event["id"], "attendee_pk": attendee_pk, **values,
                   "created_at": stamp, "updated_at": stamp}  # fmt: skip
            db["participants"].insert(row)
        else:
            db["participants"].update(current["pk"], {**values, "left_at": None, "updated_at": stamp})
        _set_list_membership(db, event, attendee, member=True)
        row = dict(db.conn.execute("SELECT * FROM participants WHERE attendee_pk = ?", (attendee_pk,)).fetchone())
    return participant_document(row, event), current is None or current["left_at"] is not None


def get_profile(db: sqlite_utils.Database, attendee_pk: int) -> dict:
    _, event = attendee_event(db, attendee_pk)
    return participant_document(require_participant(db, attendee_pk), event)


def leave(db: sqlite_utils.Database, attendee_pk: int) -> None:
    """Leave matchmaking: my live meetings are cancelled ("participant left"), the list forgets me."""
    from server import meetings

    with database.write(db):
        attendee, event = attendee_event(db, attendee_pk)
        participant = require_participant(db, attendee_pk)
        meetings.cancel_all(db, participant, reason="participant left")
        db["participants"].update(participant["pk"], {"left_at": clock.utc_stamp(), "updated_at": clock.utc_stamp()})
        _set_list_membership(db, event, attendee, member=False)


def require_viewer(db: sqlite_utils.Database, event: dict, attendee_pk: int | None) -> None:
    """Profiles are for the event's participants and admins (attendee_pk None) only."""
    if attendee_pk is None:
        return
    row = my_participant(db, attendee_pk)
    if row is None or row["event_id"] != event["id"]:
        raise Forbidden("only this event's matchmaking participants and admins see profiles: opt in first")


def search_participants(
    db: sqlite_utils.Database, slug: str, attendee_pk: int | None, args: dict[str, str]
) -> list[dict]:
    """Participants of an event, filtered by country, sector and full text (q); hidden ones for admins."""
    event = get_event(db, slug)
    require_viewer(db, event, attendee_pk)
    sql = "SELECT * FROM participants WHERE event_id = ? AND left_at IS NULL"
    params: list[object] = [event["id"]]
    if attendee_pk is not None:
        sql += " AND hidden = 0"
    country = args.get("country", "").strip().upper()
    if country:
        if len(country) != 2 or not country.isalpha() or not country.isascii():
            raise BadParameter("country must be an ISO 3166-1 alpha-2 code", fields={"country": "e.g. BE"})
        sql += " AND country = ?"
        params.append(country)
    sector = args.get("sector", "").strip()
    if sector:
        if sector not in sector_ids():
            raise BadParameter(f"no sector {sector!r}", fields={"sector": "must be an id from .../matchmaking/sectors"})
        sql += " AND EXISTS (SELECT 1 FROM json_each(participants.sectors) WHERE value = ?)"
        params.append(sector)
    query = fts_query(args.get("q", "")[:500])
    if query:
        sql += " AND pk IN (SELECT rowid FROM participants_fts WHERE participants_fts MATCH ?)"
        params.append(query)
    rows = db.conn.execute(sql + " ORDER BY casefold(organisation), id", params).fetchall()
    return [participant_document(dict(row), event) for row in rows]


def set_hidden(db: sqlite_utils.Database, slug: str, participant_id: str, hidden: bool) -> dict:
    with database.write(db):
        event = get_event(db, slug)
        row = db.conn.execute(
            "SELECT * FROM participants WHERE event_id = ? AND id = ?", (event["id"], participant_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"no participant {participant_id!r} in event {slug!r}", resource="participant")
        db["participants"].update(row["pk"], {"hidden": int(hidden), "updated_at": clock.utc_stamp()})
        row = db.conn.execute("SELECT * FROM participants WHERE pk = ?", (row["pk"],)).fetchone()
    return participant_document(dict(row), event)
