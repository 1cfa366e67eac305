"""Check-in lists: which door admits whom, and when.

A list has a time window, an audience (everyone, some categories, or named attendees such as
the matchmaking participants) and a re-entry rule. Lists are managed by admins and may also
come with a programme file (its optional `checkin_lists`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from zoneinfo import ZoneInfo

import sqlite_utils

from server import clock, db as database
from server.errors import Conflict, NotFound
from server.programme import get_event
from server.validation import Errors, checked, parse_local_datetime

AUDIENCES = ("all", "categories", "explicit")


def clean_list(
    data: object, errors: Errors, *, event: dict, partial: bool = False, current: dict | None = None
) -> dict:
    """A list's fields as declared (server/declarations/checkin_list.json), as stored.

    Times without an offset are local to the event; an audience of categories needs one.
    """
    values = checked("CheckinList", data, errors, partial=partial)
    zone = ZoneInfo(event["timezone"])
    for name in ("start", "end"):
        if isinstance(values.get(name), str):
            try:
                values[f"{name}s_at"] = clock.utc_stamp(parse_local_datetime(values.pop(name), zone))
            except ValueError as problem:
                errors.add(name, str(problem))
    starts = values.get("starts_at") or (current or {}).get("starts_at")
    ends = values.get("ends_at") or (current or {}).get("ends_at")
    if starts and ends and ends <= starts:
        errors.add("end", "must be after start")
    if isinstance(values.get("categories"), list):
        values["categories"] = json.dumps(sorted({item for item in values["categories"] if isinstance(item, str)}))
    audience = values.get("audience") or (current or {}).get("audience")
    chosen = values.get("categories") or (current or {}).get("categories") or "[]"
    if audience == "categories" and chosen == "[]" and not any(name.endswith("categories") for name in errors.messages):
        errors.add("categories", "name at least one category for audience 'categories'")
    if "allow_reentry" in values:
        values["allow_reentry"] = int(bool(values["allow_reentry"]))
    return values


def list_document(row: dict, zone: ZoneInfo, member_count: int | None = None) -> dict:
    return {
        "id": row["id"],
        "name": row["name"],
        "start": clock.parse_stamp(row["starts_at"]).astimezone(zone).isoformat(),
        "end": clock.parse_stamp(row["ends_at"]).astimezone(zone).isoformat(),
        "audience": row["audience"],
        "categories": json.loads(row["categories"]),
        "allow_reentry": bool(row["allow_reentry"]),
        "members": member_count,
    }


def _rows(db: sqlite_utils.Database, event_id: int) -> list[dict]:
    return [
        dict(row)
        for row in db.conn.execute("SELECT * FROM checkin_lists WHERE event_id = ? ORDER BY starts_at, id", (event_id,))
    ]


def list_lists(db: sqlite_utils.Database, event: dict) -> list[dict]:
    counts = dict(
        db.conn.execute(
            "SELECT m.list_pk, COUNT(*) FROM checkin_list_members m JOIN checkin_lists l ON l.pk = m.list_pk "
            "WHERE l.event_id = ? GROUP BY m.list_pk",
            (event["id"],),
        ).fetchall()
    )
    zone = ZoneInfo(event["timezone"])
    return [
        list_document(row, zone, counts.get(row["pk"], 0) if row["audience"] == "explicit" else None)
        for row in _rows(db, event["id"])
    ]


def resolve_list(db: sqlite_utils.Database, event: dict, ref: str) -> dict:
    """A list by its id or its name (door staff type names; apps send ids)."""
    row = db.conn.execute(
        "SELECT * FROM checkin_lists WHERE event_id = ? AND (id = ? OR name = ?)", (event["id"], ref, ref)
    ).fetchone()
    if row is None:
        raise NotFound(f"no check-in list {ref!r} in event {event['slug']!r}", fields={"list": "unknown id or name"})
    return dict(row)


def get_list(db: sqlite_utils.Database, slug: str, ref: str) -> dict:
    event = get_event(db, slug)
    wanted = resolve_list(db, event, ref)["id"]
    return next(item for item in list_lists(db, event) if item["id"] == wanted)


def upsert_list(db: sqlite_utils.Database, event: dict, values: dict) -> None:
    """Insert or replace a list by id (inside the caller's transaction); its pk stays."""
    row = {"event_id": event["id"], **values, "updated_at": clock.utc_stamp()}
    db["checkin_lists"].upsert(row, pk=("event_id", "id"))


def create_list(db: sqlite_utils.Database, slug: str, data: dict) -> dict:
    with database.write(db):
        event = get_event(db, slug)
        errors = Errors()
        values = clean_list(data, errors, event=event)
        errors.raise_if_any("check-in list")
        taken = db.conn.execute(
            "SELECT id FROM checkin_lists WHERE event_id = ? AND (id = ? OR name = ?)",
            (event["id"], values["id"], values["name"]),
        ).fetchone()
        if taken:
            raise Conflict("a list with that id or name exists", fields={"id": "already taken"})
        upsert_list(db, event, values)
    return get_list(db, slug, values["id"])


def update_list(db: sqlite_utils.Database, slug: str, ref: str, data: dict) -> dict:
    with database.write(db):
        event = get_event(db, slug)
        current = resolve_list(db, event, ref)
        errors = Errors()
        values = clean_list(data, errors, event=event, partial=True, current=current)
        errors.raise_if_any("check-in list")
        if (
            "name" in values
            and db.conn.execute(
                "SELECT 1 FROM checkin_lists WHERE event_id = ? AND name = ? AND pk != ?",
                (event["id"], values["name"], current["pk"]),
            ).fetchone()
        ):
            raise Conflict("another list has that name", fields={"name": "already taken"})
        merged = {name: current[name] for name in ("id", "name", "starts_at", "ends_at", "audience", "categories",
                                                    "allow_reentry")}  # fmt: skip
        upsert_list(db, event, {**merged, **values, "id": current["id"]})
    return get_list(db, slug, current["id"])


def delete_list(db: sqlite_utils.Database, slug: str, ref: str) -> None:
    """Delete a list; its scans stay in the audit log without it."""
    with database.write(db):
        row = resolve_list(db, get_event(db, slug), ref)
        db.conn.execute("DELETE FROM checkin_lists WHERE pk = ?", (row["pk"],))


def set_members(db: sqlite_utils.Database, slug: str, ref: str, attendee_ids: list[str], *, add: bool) -> dict:
    """Add or remove named attendees on an explicit list (e.g. the matchmaking participants)."""
    with database.write(db):
        event = get_event(db, slug)
        row = resolve_list(db, event, ref)
        found = dict(
            db.conn.execute(
                "SELECT id, pk FROM attendees WHERE event_id = ? AND id IN (SELECT value FROM json_each(?))",
                (event["id"], json.dumps(attendee_ids)),
            ).fetchall()
        )
        missing = [attendee_id for attendee_id in attendee_ids if attendee_id not in found]
        if missing:
            raise NotFound(f"no attendee {', '.join(missing[:5])} in this event", fields={"attendees": "unknown ids"})
        sql = (
            "INSERT OR IGNORE INTO checkin_list_members (list_pk, attendee_pk) VALUES (?, ?)"
            if add
            else "DELETE FROM checkin_list_members WHERE list_pk = ? AND attendee_pk = ?"
        )
        db.conn.executemany(sql, [(row["pk"], pk) for pk in found.values()])  # triggers tell the doors
    return get_list(db, slug, row["id"])


def lists_by_attendee(db: sqlite_utils.Database, event_id: int, attendee_pks: list[int] | None = None) -> dict:
    """{attendee_pk: [list ids they belong to]} by audience, for the roster and the ticket."""
    lists = _rows(db, event_id)
    where, params = "event_id = ?", [event_id]
    member_where, member_params = "l.event_id = ?", [event_id]
    if attendee_pks is not None:  # a door bundle delta: read only these people's rows
        wanted = json.dumps(attendee_pks)
        where = "+event_id = ? AND pk IN (SELECT value FROM json_each(?))"  # by pk, not the event's index
        params.append(wanted)
        member_where += " AND m.attendee_pk IN (SELECT value FROM json_each(?))"
        member_params.append(wanted)
    members: dict[int, set[int]] = {}
    for list_pk, attendee_pk in db.conn.execute(
        "SELECT m.list_pk, m.attendee_pk FROM checkin_list_members m "  # noqa: S608 - fixed fragments
        f"JOIN checkin_lists l ON l.pk = m.list_pk WHERE {member_where}",
        member_params,
    ):
        members.setdefault(attendee_pk, set()).add(list_pk)
    result = {}
    for pk, category in db.conn.execute(f"SELECT pk, category FROM attendees WHERE {where}", params):  # noqa: S608
        result[pk] = [
            item["id"] for item in lists if admits(item, category, pk in members and item["pk"] in members[pk])
        ]
    return result


def admits(list_row: dict, category: str, is_member: bool) -> bool:
    """Does the list's audience include an attendee of `category` (member of it or not)?"""
    if list_row["audience"] == "all":
        return True
    if list_row["audience"] == "categories":
        return category in _categories(list_row["categories"])
    return is_member


@lru_cache(maxsize=256)
def _categories(text: str) -> frozenset[str]:
    """A list's categories, parsed once: the door bundle asks for every attendee."""
    return frozenset(json.loads(text))
