"""Who is inside, who came when: the numbers door staff and organisers watch."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlite_utils

from server import clock
from server.checkin_lists import lists_by_attendee
from server.programme import get_event

_LATEST_ACCEPTED = """
    SELECT list_pk, attendee_pk, type, scanned_at FROM (
        SELECT list_pk, attendee_pk, type, scanned_at,
               ROW_NUMBER() OVER (PARTITION BY list_pk, attendee_pk ORDER BY scanned_at DESC, pk DESC) AS n
        FROM scans WHERE event_id = ? AND result = 'ok' AND undone_at IS NULL AND attendee_pk IS NOT NULL
    ) WHERE n = 1"""


def inside_now(db: sqlite_utils.Database, event_id: int) -> list[tuple[int, int, str]]:
    """(list_pk, attendee_pk, since) of everyone whose last accepted scan on a list was an entry."""
    rows = db.conn.execute(_LATEST_ACCEPTED, (event_id,))
    return [(list_pk, attendee_pk, at) for list_pk, attendee_pk, kind, at in rows if kind == "entry"]


# One person's accepted scans on one list (parameters list_pk, attendee_pk): exactly the rows
# of the partial index scans_accepted, so every query that starts with this is an index lookup.
ACCEPTED_SCANS = "FROM scans WHERE list_pk = ? AND attendee_pk = ? AND result = 'ok' AND undone_at IS NULL"


def last_accepted(db: sqlite_utils.Database, list_pk: int, attendee_pk: int, at: str | None = None) -> tuple | None:
    """(type, scanned_at) of one person's last accepted scan on a list (at or before door time
    `at`, a UTC stamp, if given), or None: one lookup in the partial index scans_accepted."""
    until = " AND scanned_at <= ?" if at is not None else ""
    row = db.conn.execute(
        f"SELECT type, scanned_at {ACCEPTED_SCANS}{until} ORDER BY scanned_at DESC, pk DESC LIMIT 1",
        (list_pk, attendee_pk) if at is None else (list_pk, attendee_pk, at),
    ).fetchone()
    return tuple(row) if row is not None else None


def ever_entered(db: sqlite_utils.Database, list_pk: int, attendee_pk: int) -> bool:
    """Whether one person has an accepted entry on a list (one lookup in scans_accepted)."""
    return (
        db.conn.execute(f"SELECT 1 {ACCEPTED_SCANS} AND type = 'entry' LIMIT 1", (list_pk, attendee_pk)).fetchone()
        is not None
    )


def inside_since(db: sqlite_utils.Database, list_pk: int, attendee_pk: int) -> str | None:
    """When one person's current stay on a list began, or None if they are not inside."""
    last = last_accepted(db, list_pk, attendee_pk)
    return last[1] if last is not None and last[0] == "entry" else None


def _quarter(stamp: str, zone: ZoneInfo) -> str:
    moment = clock.parse_stamp(stamp).astimezone(zone)
    return moment.replace(minute=moment.minute - moment.minute % 15, second=0).isoformat()


def stats(db: sqlite_utils.Database, slug: str) -> dict:
    """Per list: checked in, inside now, not yet arrived, and arrivals per 15 minutes."""
    event = get_event(db, slug)
    zone = ZoneInfo(event["timezone"])
    lists = [dict(row) for row in db.conn.execute(
        "SELECT * FROM checkin_lists WHERE event_id = ? ORDER BY starts_at, id", (event["id"],))]  # fmt: skip
    eligible: dict[str, int] = {item["id"]: 0 for item in lists}
    for list_ids in lists_by_attendee(db, event["id"]).values():
        for list_id in list_ids:
            eligible[list_id] += 1
    inside: dict[int, int] = {}
    for list_pk, _attendee, _since in inside_now(db, event["id"]):
        inside[list_pk] = inside.get(list_pk, 0) + 1
    first_entries: dict[int, list[str]] = {}
    for list_pk, first in db.conn.execute(
        "SELECT list_pk, MIN(scanned_at) FROM scans WHERE event_id = ? AND result = 'ok' AND type = 'entry' "
        "AND undone_at IS NULL AND attendee_pk IS NOT NULL GROUP BY list_pk, attendee_pk",
        (event["id"],),
    ):
        first_entries.setdefault(list_pk, []).append(first)
    report = []
    for item in lists:
        arrivals: dict[str, int] = {}
        for stamp in first_entries.get(item["pk"], []):
            bucket = _quarter(stamp, zone)
            arrivals[bucket] = arrivals.get(bucket, 0) + 1
        checked_in = len(first_entries.get(item["pk"], []))
        report.append(
            {
                "list": item["id"],
                "name": item["name"],
                "eligible": eligible[item["id"]],
                "checked_in": checked_in,
                "inside_now": inside.get(item["pk"], 0),
                "not_yet_arrived": max(eligible[item["id"]] - checked_in, 0),
                "arrivals_per_15_minutes": [{"from": start, "count": arrivals[start]} for start in sorted(arrivals)],
            }
        )
    return {"event": slug, "at": clock.now().astimezone(zone).isoformat(), "lists": report}
