"""A participant's placed meetings as calendar-ready items, for GET /me/schedule and the feed.

A meeting enters the attendee's calendar once it is placed (accepted, with a slot and a
table) and stays there when cancelled, marked so, because it keeps its slot: calendar apps
then strike it out instead of leaving a stale entry. The items are what server/ical.py
takes as `extra_events`, so the schedule and the feed show the same thing.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from server import clock

# An attendee's meetings (either side) with the partner's row and the set-up (parameter: the
# attendee's pk). Written so each step is an index lookup: the participant by (event, attendee),
# the meetings by requester or partner. Every schedule and feed read, 304s included, asks this;
# `me.pk IN (m.requester_pk, m.partner_pk)` read every meeting of every event instead.
_MINE = """
FROM participants me
JOIN meetings m ON (m.requester_pk = me.pk OR m.partner_pk = me.pk)
JOIN participants other ON other.pk = CASE WHEN m.requester_pk = me.pk THEN m.partner_pk ELSE m.requester_pk END
JOIN matchmaking_settings s ON s.event_id = m.event_id
"""
_ME = "me.event_id = (SELECT event_id FROM attendees WHERE pk = ?1) AND me.attendee_pk = ?1"

# The meetings of an attendee (as either side) that have a place, with their partner's row.
_PLACED = f"""
SELECT m.id, m.status, m.slot_start, m.table_name, m.sequence, m.message, m.updated_at,
       m.requester_pk = me.pk AS i_asked,
       other.id AS partner_id, other.organisation, other.cluster, other.country, other.synthetic,
       other.updated_at AS partner_updated_at,
       s.slot_minutes, s.room_id, r.name AS room_name, e.timezone
{_MINE}
JOIN events e ON e.id = m.event_id
LEFT JOIN rooms r ON r.event_id = m.event_id AND r.id = s.room_id
WHERE {_ME} AND m.slot_start IS NOT NULL AND m.status IN ('accepted', 'cancelled')
ORDER BY m.slot_start, m.id
"""


def meeting_uid(meeting_id: str) -> str:
    """A meeting's UID: its id never changes, so calendar apps update rather than duplicate it."""
    return f"meeting-{meeting_id}@eventdesk"


def placed_meetings(db: sqlite_utils.Database, attendee_pk: int) -> list[dict]:
    """The attendee's placed meetings (cancelled ones kept), in time order, as calendar items."""
    return [_item(dict(row)) for row in db.conn.execute(_PLACED, (attendee_pk,)).fetchall()]


def fingerprint(db: sqlite_utils.Database, attendee_pk: int) -> tuple:
    """What the items depend on, for the schedule's and the feed's ETag: each meeting's status,
    place and sequence, the partner's profile and the set-up (slot length, room)."""
    return tuple(
        tuple(row)
        for row in db.conn.execute(
            "SELECT m.id, m.status, m.slot_start, m.table_name, m.sequence, m.updated_at, other.updated_at, "
            f"s.updated_at {_MINE} WHERE {_ME} AND m.slot_start IS NOT NULL ORDER BY m.id",
            (attendee_pk,),
        ).fetchall()
    )


def _item(row: dict) -> dict:
    zone = ZoneInfo(row["timezone"])
    start = clock.parse_stamp(row["slot_start"])
    end = start + timedelta(minutes=row["slot_minutes"])
    partner = f"{row['organisation']} ({row['cluster']})"
    table = f"Table {row['table_name']}"
    lines = [f"One-to-one matchmaking meeting with {partner}, {row['country']}."]
    if row["synthetic"]:
        lines.append("(Demo data: a synthetic participant.)")
    if row["message"]:
        lines.append(("Your message: " if row["i_asked"] else "Their message: ") + row["message"])
    return {
        "id": row["id"],
        "uid": meeting_uid(row["id"]),
        "title": f"Meeting: {partner}",
        "start": start.astimezone(zone).isoformat(),
        "end": end.astimezone(zone).isoformat(),
        "table": row["table_name"],
        "room": row["room_id"],
        "room_name": row["room_name"],
        "location": ", ".join(part for part in (table, row["room_name"]) if part),
        "description": "\n\n".join(lines),
        "partner": {
            "id": row["partner_id"],
            "organisation": row["organisation"],
            "cluster": row["cluster"],
            "country": row["country"],
            "synthetic": bool(row["synthetic"]),
        },
        "status": "cancelled" if row["status"] == "cancelled" else "confirmed",
        "sequence": row["sequence"],
        "categories": ["Matchmaking"],
        "updated_at": clock.parse_stamp(max(row["updated_at"], row["partner_updated_at"])).isoformat(),
    }
