"""The door bundle: everything a door device needs to judge scans alone when offline.

Public keys, lists, revoked serials, a minimal roster and who is inside now. A device keeps
the `cursor` (`<last scan>.<last roster change>`, both counters, never clocks) and asks
`?since=cursor` next time for only what changed: roster entries and revocations logged after
it (by the roster_changes triggers) and the current presence of everyone scanned after it.
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

_CURSOR = re.compile(r"^(\d+)\.(\d+)$")
_CHANGED = "SELECT attendee_pk FROM roster_changes WHERE event_id = ? AND seq > ?"


def _parse_cursor(text: str) -> tuple[int, int]:
    """(last scan seen, last roster change seen)."""
    match = _CURSOR.match(text.strip())
    if not match:
        raise BadParameter("since must be a cursor from an earlier bundle", fields={"since": "not a bundle cursor"})
    return int(match[1]), int(match[2])


def _scalar(db: sqlite_utils.Database, sql: str, params: tuple) -> int:
    return db.conn.execute(sql, params).fetchone()[0]


def door_bundle(db: sqlite_utils.Database, slug: str, since: str | None = None) -> dict:
    """The whole bundle, or with `since` only what changed after that cursor."""
    scan_floor, roster_floor = _parse_cursor(since) if since else (0, 0)
    with database.read(db):
        event = get_event(db, slug)
        event_id, zone = event["id"], ZoneInfo(event["timezone"])
        last_scan = _scalar(db, "SELECT COALESCE(MAX(pk), 0) FROM scans WHERE event_id = ?", (event_id,))
        last_change = _scalar(db, "SELECT COALESCE(MAX(seq), 0) FROM roster_changes WHERE event_id = ?", (event_id,))
        only_changed = f" AND a.pk IN ({_CHANGED})" if since else ""
        params = (event_id, event_id, roster_floor) if since else (event_id,)
        roster_sql = (
            "SELECT t.serial, a.pk, a.name, a.organisation, a.category FROM tickets t "  # noqa: S608 - fixed fragments
            f"JOIN attendees a ON a.pk = t.attendee_pk WHERE t.event_id = ? AND t.revoked_at IS NULL{only_changed} "
            "ORDER BY t.serial"
        )
        roster_rows = db.conn.execute(roster_sql, params).fetchall()
        lists_of = lists_by_attendee(db, event_id, [row[1] for row in roster_rows] if since else None)
        revoked_changed = f" AND (attendee_pk IS NULL OR attendee_pk IN ({_CHANGED}))" if since else ""
        revoked = [
            row[0]
            for row in db.conn.execute(
                f"SELECT serial FROM tickets WHERE event_id = ? AND revoked_at IS NOT NULL{revoked_changed} "  # noqa: S608
                "ORDER BY serial",
                params,
            )
        ]
        if since:  # presence may name anyone, not only the roster entries that changed
            valid = "SELECT attendee_pk, serial FROM tickets WHERE event_id = ? AND revoked_at IS NULL"
            serial_of = dict(db.conn.execute(valid, (event_id,)).fetchall())
        else:
            serial_of = {pk: serial for serial, pk, *_ in roster_rows}
        list_ids = dict(db.conn.execute("SELECT pk, id FROM checkin_lists WHERE event_id = ?", (event_id,)).fetchall())
        inside = {(list_pk, attendee_pk): at for list_pk, attendee_pk, at in inside_now(db, event_id)}
        if since:
            rows = db.conn.execute(
                "SELECT DISTINCT list_pk, attendee_pk FROM scans WHERE event_id = ? AND pk > ? "
                "AND list_pk IS NOT NULL AND attendee_pk IS NOT NULL",
                (event_id, scan_floor),
            )
            touched = [tuple(row) for row in rows]  # sqlite3.Row does not sort
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
        return {
            "event": event["slug"],
            "timezone": event["timezone"],
            "cursor": f"{last_scan}.{last_change}",
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
