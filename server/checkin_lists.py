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
from server.attendees import CATEGORIES
from server.errors import Conflict, NotFound, ValidationError
from server.programme import get_event
from server.validation import Errors, _identifier, _text, parse_local_datetime

AUDIENCES = ("all", "categories", "explicit")


def clean_list(data: dict, errors: Errors, *, event: dict, partial: bool = False, current: dict | None = None) -> dict:
    """Check a list's fields; times without an offset are local to the event."""
    zone = ZoneInfo(event["timezone"])
    values: dict = {}
    if not partial:
        values["id"] = _identifier(data, "id", errors)
    if not partial or "name" in data:
        values["name"] = _text(data, "name", errors, required=True, max_len=200)
    for name in ("start", "end"):
        if not partial or name in data:
            try:
                values[f"{name}s_at"] = clock.utc_stamp(parse_local_datetime(data.get(name), zone))
            except ValueError as problem:
                errors.add(name, "is required" if data.get(name) is None else str(problem))
    starts = values.get("starts_at") or (current or {}).get("starts_at")
    ends = values.get("ends_at") or (current or {}).get("ends_at")
    if starts and ends and ends <= starts:
        errors.add("end", "must be after start")
    if not partial or "audience" in data:
        audience = data.get("audience", "all")
        if audience not in AUDIENCES:
            errors.add("audience", f"must be one of: {', '.join(AUDIENCES)}")
        values["audience"] = audience
    if not partial or "categories" in data:
        categories = data.get("categories", [])
        # Each item is checked to be a string before the set lookup: [{}] or [["x"]] are not hashable.
        if not isinstance(categories, list) or not all(isinstance(c, str) and c in CATEGORIES for c in categories):
            errors.add("categories", f"must be a list of: {', '.join(CATEGORIES)}")
            categories = []
        values["categories"] = json.dumps(sorted(set(categories)))
    audience = values.get("audience") or (current or {}).get("audience")
    chosen = values.get("categories") or (current or {}).get("categories") or "[]"
    if audience == "categories" and chosen == "[]" and "categories" not in errors.messages:
        errors.add("categories", "name at least one category for audience 'categories'")
    if not partial or "allow_reentry" in data:
        reentry = data.get("allow_reentry", True)
        if not isinstance(reentry, bool):
            errors.add("allow_reentry", "must be true or false")
        values["allow_reentry"] = int(bool(reentry))
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


def _check(errors: Errors) -> None:
    if errors:
        raise ValidationError(
            "invalid check-in list: " + "; ".join(f"{k} {v}" for k, v in errors.messages.items()),
            fields=errors.messages,
        )


def upsert_list(db: sqlite_utils.Database, event: dict, values: dict) -> None:
    """Insert or replace a list by id (inside the caller's transaction)."""
    row = {"event_id": event["id"], **values, "updated_at": clock.utc_stamp()}
    columns = ", ".join(row)
    updates = ", ".join(f"{name} = excluded.{name}" for name in row if name not in ("event_id", "id"))
    db.conn.execute(
        f"INSERT INTO checkin_lists ({columns}) VALUES ({', '.join('?' for _ in row)}) "  # noqa: S608
        f"ON CONFLICT (event_id, id) DO UPDATE SET {updates}",
        list(row.values()),
    )


def create_list(db: sqlite_utils.Database, slug: str, data: dict) -> dict:
    with database.write(db):
        event = get_event(db, slug)
        errors = Errors()
        values = clean_list(data, errors, event=event)
        _check(errors)
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
        _check(errors)
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
