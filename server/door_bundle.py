"""The door bundle: everything a door device needs to judge scans alone when offline.

Public keys, lists, revoked serials, a minimal roster and who is inside now. A device keeps
the `cursor` (`<last scan>.<last roster change>`, both counters, never clocks) and asks
`?since=cursor` next time for only what changed: roster entries and revocations logged after
it (by the roster_changes triggers) and the current presence of everyone scanned after it.
"""

from __future__ import annotations

import json
import re
from zoneinfo import ZoneInfo

import sqlite_utils

from server import clock, db as database, tickets
from server.attendance import ever_entered, inside_now, inside_since
from server.bounds import whole_number
from server.checkin_lists import list_lists, lists_by_attendee
from server.errors import BadParameter
from server.programme import get_event

_CURSOR = re.compile(r"^(\d+)\.(\d+)$")
_THESE = " AND {} IN (SELECT value FROM json_each(?))"  # a JSON list of attendee pks


def _parse_cursor(text: str) -> tuple[int, int]:
    """(last scan seen, last roster change seen)."""
    match = _CURSOR.match(text.strip())
    if not match or whole_number(match[1]) is None or whole_number(match[2]) is None:
        raise BadParameter("since must be a cursor from an earlier bundle", fields={"since": "not a bundle cursor"})
    return int(match[1]), int(match[2])


def _scalar(db: sqlite_utils.Database, sql: str, params: tuple) -> int:
    return db.conn.execute(sql, params).fetchone()[0]


def door_bundle(db: sqlite_utils.Database, slug: str, since: str | None = None) -> dict:
    """The whole bundle, or with `since` only what changed after that cursor.

    A delta reads only what changed: the attendees named in roster_changes after the cursor
    and the (list, person) pairs scanned after it, each looked up by index, so a door polling
    every minute costs the server the same with 300 attendees as with 100,000.
    """
    scan_floor, roster_floor = _parse_cursor(since) if since else (0, 0)
    with database.read(db):
        event = get_event(db, slug)
        event_id, zone = event["id"], ZoneInfo(event["timezone"])
        # Any event's last scan will do as the cursor (deltas ask for this event's scans after
        # it), and MAX over the rowid is one lookup where this event's would read all its scans.
        last_scan = _scalar(db, "SELECT COALESCE(MAX(pk), 0) FROM scans", ())
        last_change = _scalar(db, "SELECT COALESCE(MAX(seq), 0) FROM roster_changes WHERE event_id = ?", (event_id,))
        list_ids = dict(db.conn.execute("SELECT pk, id FROM checkin_lists WHERE event_id = ?", (event_id,)).fetchall())
        if since:
            changed = [
                row[0]
                for row in db.conn.execute(
                    "SELECT DISTINCT attendee_pk FROM roster_changes WHERE event_id = ? AND seq > ? "
                    "AND attendee_pk IS NOT NULL",
                    (event_id, roster_floor),
                )
            ]
            roster_rows = _roster(db, event_id, changed)
            revoked = _revoked(db, event_id, changed)
            presence = _presence_since(db, event_id, scan_floor, list_ids, zone)
        else:
            roster_rows = _roster(db, event_id)
            revoked = _revoked(db, event_id)
            serial_of = {pk: serial for serial, pk, *_ in roster_rows}
            presence = [
                {"list": list_ids[list_pk], "serial": serial_of[attendee_pk], "inside": True, "since": _local(at, zone)}
                for list_pk, attendee_pk, at in sorted(inside_now(db, event_id))
                if attendee_pk in serial_of and list_pk in list_ids
            ]
        lists_of = lists_by_attendee(db, event_id, [row[1] for row in roster_rows] if since else None)
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


def _local(stamp: str, zone: ZoneInfo) -> str:
    return clock.parse_stamp(stamp).astimezone(zone).isoformat()


def _roster(db: sqlite_utils.Database, event_id: int, attendee_pks: list[int] | None = None) -> list[tuple]:
    """(serial, attendee_pk, name, organisation, category) of valid tickets: all, or those of `attendee_pks`."""
    # For a few people, `+t.event_id` keeps SQLite from walking the event's index over everyone
    # and makes it look each person up by tickets_by_attendee instead.
    event, only = ("t.event_id", "") if attendee_pks is None else ("+t.event_id", _THESE.format("t.attendee_pk"))
    params = (event_id,) if attendee_pks is None else (event_id, json.dumps(attendee_pks))
    return db.conn.execute(
        "SELECT t.serial, a.pk, a.name, a.organisation, a.category FROM tickets t "  # noqa: S608 - fixed fragments
        f"JOIN attendees a ON a.pk = t.attendee_pk WHERE {event} = ? AND t.revoked_at IS NULL{only} "
        "ORDER BY t.serial",
        params,
    ).fetchall()


def _revoked(db: sqlite_utils.Database, event_id: int, attendee_pks: list[int] | None = None) -> list[str]:
    """Revoked serials: all, or those of `attendee_pks` and of erased holders (who have no pk left)."""
    only = " AND (attendee_pk IS NULL OR attendee_pk IN (SELECT value FROM json_each(?)))"
    params = (event_id,) if attendee_pks is None else (event_id, json.dumps(attendee_pks))
    return [
        row[0]
        for row in db.conn.execute(
            "SELECT serial FROM tickets WHERE event_id = ? AND revoked_at IS NOT NULL"  # noqa: S608 - fixed fragment
            f"{only if attendee_pks is not None else ''} ORDER BY serial",
            params,
        )
    ]


def _presence_since(
    db: sqlite_utils.Database, event_id: int, scan_floor: int, list_ids: dict[int, str], zone: ZoneInfo
) -> list[dict]:
    """The current presence of everyone scanned after `scan_floor`, inside or not (they may have left)."""
    touched = sorted(
        tuple(row)
        for row in db.conn.execute(
            "SELECT DISTINCT list_pk, attendee_pk FROM scans WHERE pk > ? AND +event_id = ? "  # the new rows only
            "AND list_pk IS NOT NULL AND attendee_pk IS NOT NULL",
            (scan_floor, event_id),
        )
    )
    serial_of = dict(
        db.conn.execute(
            "SELECT attendee_pk, serial FROM tickets WHERE +event_id = ? AND revoked_at IS NULL"  # noqa: S608
            + _THESE.format("attendee_pk"),
            (event_id, json.dumps(sorted({pk for _, pk in touched}))),
        ).fetchall()
    )
    presence = []
    for list_pk, attendee_pk in touched:
        if attendee_pk not in serial_of or list_pk not in list_ids:
            continue
        began = inside_since(db, list_pk, attendee_pk)
        if began is None and not ever_entered(db, list_pk, attendee_pk):
            # Scanned since, but never admitted (refused, or an exit only): a door must not read
            # "not inside" as "came in and left", which a list without re-entry would refuse.
            continue
        presence.append(
            {
                "list": list_ids[list_pk],
                "serial": serial_of[attendee_pk],
                "inside": began is not None,
                "since": _local(began, zone) if began else None,
            }
        )
    return presence
