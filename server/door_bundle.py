"""The door bundle: everything a door device needs to judge scans alone when offline.

Public keys, lists, revoked serials, a minimal roster and who is inside now. A device keeps
the `cursor` and asks `?since=cursor` next time for only what changed: roster entries and
revocations stamped at or after the cursor's time (a repeat is harmless, a miss is not) and
the current presence of everyone scanned after the cursor's last scan.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import sqlite_utils

from server import clock, db as database, tickets
from server.attendance import inside_now
from server.checkin_lists import list_lists, lists_by_attendee
from server.errors import BadParameter
from server.programme import get_event

_CURSOR = re.compile(r"^(\d+)\.(\d{8}T\d{6}Z)$")


def _cursor(scan_pk: int, stamp: str) -> str:
    return f"{scan_pk}.{stamp.replace('-', '').replace(':', '')}"


def _parse_cursor(text: str) -> tuple[int, str]:
    match = _CURSOR.match(text.strip())
    if not match:
        raise BadParameter("since must be a cursor from an earlier bundle", fields={"since": "not a bundle cursor"})
    compact = match[2]
    stamp = f"{compact[:4]}-{compact[4:6]}-{compact[6:8]}T{compact[9:11]}:{compact[11:13]}:{compact[13:15]}Z"
    return int(match[1]), stamp


def _last_change(db: sqlite_utils.Database, event_id: int) -> str:
    """The newest roster-affecting stamp: the cursor moves only when the data does (ETags hold)."""
    row = db.conn.execute(
        "SELECT MAX(stamp) FROM (SELECT MAX(updated_at) AS stamp FROM attendees WHERE event_id = ?1 "
        "UNION ALL SELECT MAX(issued_at) FROM tickets WHERE event_id = ?1 "
        "UNION ALL SELECT MAX(revoked_at) FROM tickets WHERE event_id = ?1 "
        "UNION ALL SELECT MAX(updated_at) FROM checkin_lists WHERE event_id = ?1)",
        (event_id,),
    ).fetchone()
    return row[0] or "1970-01-01T00:00:00Z"


def door_bundle(db: sqlite_utils.Database, slug: str, since: str | None = None) -> dict:
    """The whole bundle, or with `since` only what changed after that cursor."""
    scan_floor, stamp_floor = _parse_cursor(since) if since else (0, "")
    with database.read(db):
        event = get_event(db, slug)
        zone = ZoneInfo(event["timezone"])
        stamp = _last_change(db, event["id"])
        last_scan = db.conn.execute("SELECT COALESCE(MAX(pk), 0) FROM scans WHERE event_id = ?", (event["id"],))
        last_scan = last_scan.fetchone()[0]
        roster_rows = db.conn.execute(
            "SELECT t.serial, a.pk, a.name, a.organisation, a.category FROM tickets t "
            "JOIN attendees a ON a.pk = t.attendee_pk WHERE t.event_id = ? AND t.revoked_at IS NULL "
            "AND (a.updated_at >= ? OR t.issued_at >= ?) ORDER BY t.serial",
            (event["id"], stamp_floor, stamp_floor),
        ).fetchall()
        lists_of = lists_by_attendee(db, event["id"], None if not since else [row[1] for row in roster_rows])
        revoked = [
            row[0]
            for row in db.conn.execute(
                "SELECT serial FROM tickets WHERE event_id = ? AND revoked_at IS NOT NULL AND revoked_at >= ? "
                "ORDER BY serial",
                (event["id"], stamp_floor),
            )
        ]
        serial_of = dict(
            db.conn.execute(
                "SELECT attendee_pk, serial FROM tickets WHERE event_id = ? AND revoked_at IS NULL", (event["id"],)
            ).fetchall()
        )
        list_ids = dict(
            db.conn.execute("SELECT pk, id FROM checkin_lists WHERE event_id = ?", (event["id"],)).fetchall()
        )
        inside = {(list_pk, attendee_pk): at for list_pk, attendee_pk, at in inside_now(db, event["id"])}
        if since:
            touched = db.conn.execute(
                "SELECT DISTINCT list_pk, attendee_pk FROM scans WHERE event_id = ? AND pk > ? "
                "AND list_pk IS NOT NULL AND attendee_pk IS NOT NULL",
                (event["id"], scan_floor),
            ).fetchall()
        else:
            touched = list(inside)
        presence = [
            {
                "list": list_ids[list_pk],
                "serial": serial_of[attendee_pk],
                "inside": (list_pk, attendee_pk) in inside,
                "since": clock.parse_stamp(inside[(list_pk, attendee_pk)]).astimezone(zone).isoformat()
                if (list_pk, attendee_pk) in inside
                else None,
            }
            for list_pk, attendee_pk in sorted(touched)
            if attendee_pk in serial_of and list_pk in list_ids
        ]
        bundle = {
            "event": event["slug"],
            "timezone": event["timezone"],
            "cursor": _cursor(last_scan, stamp),
            "delta": bool(since),
            "public_keys": tickets.public_keys(db, event),
            "lists": list_lists(db, event),
            "revoked": revoked,
            "roster": [
                {
                    "serial": serial,
                    "name": name,
                    "organisation": organisation,
                    "category": category,
                    "lists": lists_of.get(pk, []),
                }
                for serial, pk, name, organisation, category in roster_rows
            ],
            "presence": presence,
        }
    return bundle
