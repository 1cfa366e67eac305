"""Matchmaking meetings: request, accept (and be placed at once), decline, cancel, move.

Every change is one BEGIN IMMEDIATE transaction (server.db.write) that reads what it decides
on, so two acceptances at once cannot give one person or one table two meetings in a slot;
every change is logged with who and when. Requests left unanswered when requests close
expire, applied lazily by the next read or write that looks at them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from server import clock, db as database, matchmaking, meeting_plan
from server.errors import Conflict, Forbidden, NotFound, ValidationError
from server.programme import get_event, room_name
from server.validation import parse_local_datetime

LIVE = ("requested", "accepted")
EXPIRY_REASON = "unanswered when requests closed"


# --- reading -------------------------------------------------------------------------------


def party_document(row: dict) -> dict:
    """One side of a meeting as others see it: the public fields of their profile."""
    return {
        "id": row["id"],
        "organisation": row["organisation"],
        "cluster": row["cluster"],
        "country": row["country"],
        "synthetic": bool(row["synthetic"]),
    }


def meeting_document(db: sqlite_utils.Database, event: dict, row: dict, settings: dict | None = None) -> dict:
    """A meeting with both parties' public profile fields, its place when placed, and its log."""
    return meeting_documents(db, event, [row], settings)[0]


def meeting_documents(
    db: sqlite_utils.Database, event: dict, rows: list[dict], settings: dict | None = None
) -> list[dict]:
    """Meetings' documents in the order given, in three queries whatever their number (the
    parties, the logs, the room): one meeting at a time was four a meeting, 33 statements for
    a participant with 7 meetings."""
    if not rows:
        return []
    zone = ZoneInfo(event["timezone"])
    settings = settings or matchmaking.require_settings(db, event)
    party_pks = json.dumps(sorted({pk for row in rows for pk in (row["requester_pk"], row["partner_pk"])}))
    parties = {
        found["pk"]: party_document(found)
        for found in db.conn.execute(
            "SELECT * FROM participants WHERE pk IN (SELECT value FROM json_each(?))", (party_pks,)
        )
    }
    logs: dict[int, list[dict]] = {row["pk"]: [] for row in rows}
    for entry in db.conn.execute(
        "SELECT l.*, p.id AS by_id FROM meeting_log l LEFT JOIN participants p ON p.pk = l.by_pk "
        "WHERE l.meeting_pk IN (SELECT value FROM json_each(?)) ORDER BY l.meeting_pk, l.pk",
        (json.dumps(list(logs)),),
    ):
        logs[entry["meeting_pk"]].append(
            {
                "what": entry["what"],
                "by": entry["by_id"],
                "role": entry["by_role"],
                "reason": entry["reason"],
                "at": clock.parse_stamp(entry["at"]).isoformat(),
            }
        )
    room = settings["room_id"]
    where = room_name(db, event["id"], room) if any(row["slot_start"] for row in rows) else None
    length = timedelta(minutes=settings["slot_minutes"])
    documents = []
    for row in rows:
        start = clock.parse_stamp(row["slot_start"]) if row["slot_start"] else None
        placed = start is not None
        documents.append(
            {
                "id": row["id"],
                "event": event["slug"],
                "status": row["status"],
                "requester": parties[row["requester_pk"]],
                "partner": parties[row["partner_pk"]],
                "message": row["message"],
                "start": start.astimezone(zone).isoformat() if placed else None,
                "end": (start + length).astimezone(zone).isoformat() if placed else None,
                "table": row["table_name"],
                "room": room if placed else None,
                "room_name": where if placed else None,
                "sequence": row["sequence"],
                "held": {side: _said(row[f"held_{side}"]) for side in ("requester", "partner")},
                "log": logs[row["pk"]],
                "created_at": clock.parse_stamp(row["created_at"]).isoformat(),
                "updated_at": clock.parse_stamp(row["updated_at"]).isoformat(),
            }
        )
    return documents


def _said(flag: int | None) -> bool | None:
    return None if flag is None else bool(flag)


def _row(db: sqlite_utils.Database, meeting_pk: int) -> dict:
    return dict(db.conn.execute("SELECT * FROM meetings WHERE pk = ?", (meeting_pk,)).fetchone())


def my_meetings(db: sqlite_utils.Database, attendee_pk: int) -> list[dict]:
    """My meetings, either side, in the order they were asked for (expired ones as expired)."""
    expire_unanswered(db, attendee_pk)
    with database.read(db):
        _, event = matchmaking.attendee_event(db, attendee_pk)
        me = matchmaking.require_participant(db, attendee_pk)
        settings = matchmaking.require_settings(db, event)
        rows = db.conn.execute(
            "SELECT * FROM meetings WHERE requester_pk = ? OR partner_pk = ? ORDER BY created_at, pk",
            (me["pk"], me["pk"]),
        ).fetchall()
        return meeting_documents(db, event, [dict(row) for row in rows], settings)


def expire_unanswered(db: sqlite_utils.Database, attendee_pk: int) -> None:
    """Apply expiry for my event before my meetings (or their ETag) are read, so a read after
    requests close shows and tags them expired; 404 without a profile or a set-up."""
    _, event = matchmaking.attendee_event(db, attendee_pk)
    matchmaking.require_participant(db, attendee_pk)
    _expire_if_due(db, event, matchmaking.require_settings(db, event))


def my_meetings_fingerprint(db: sqlite_utils.Database, attendee_pk: int) -> tuple:
    """Everything GET /me/meetings shows depends on, for its ETag, in one indexed query: each
    meeting's row, its latest log entry, both parties' public fields, the set-up's slot length
    and room and the room's name. Rows are stamped to the second, so the log's last pk and the
    columns themselves tell two changes within one second apart."""
    me = matchmaking.require_participant(db, attendee_pk)
    rows = db.conn.execute(
        "SELECT m.*, (SELECT MAX(l.pk) FROM meeting_log l WHERE l.meeting_pk = m.pk), "
        "r.organisation, r.cluster, r.country, r.synthetic, p.organisation, p.cluster, p.country, p.synthetic, "
        "s.slot_minutes, s.room_id, (SELECT name FROM rooms WHERE event_id = m.event_id AND id = s.room_id), "
        "e.slug, e.timezone "
        "FROM meetings m JOIN participants r ON r.pk = m.requester_pk JOIN participants p ON p.pk = m.partner_pk "
        "JOIN matchmaking_settings s ON s.event_id = m.event_id JOIN events e ON e.id = m.event_id "
        "WHERE m.requester_pk = ?1 OR m.partner_pk = ?1 ORDER BY m.pk",
        (me["pk"],),
    ).fetchall()
    return (me["pk"], tuple(tuple(row) for row in rows))


# --- the log and expiry --------------------------------------------------------------------


def _log(db: sqlite_utils.Database, meeting_pk: int, what: str, by_pk: int | None, role: str, reason: str = "") -> None:
    db["meeting_log"].insert(
        {"meeting_pk": meeting_pk, "what": what, "by_pk": by_pk, "by_role": role, "reason": reason,
         "at": clock.utc_stamp()}
    )  # fmt: skip


def _expire_if_due(db: sqlite_utils.Database, event: dict, settings: dict) -> None:
    """Unanswered requests become `expired` once requests close (written by the first to look)."""
    if matchmaking.requests_open(settings):
        return
    if not db.conn.execute(
        "SELECT 1 FROM meetings WHERE event_id = ? AND status = 'requested' LIMIT 1", (event["id"],)
    ).fetchone():
        return
    with database.write(db):
        stamp = clock.utc_stamp()
        for (meeting_pk,) in db.conn.execute(
            "SELECT pk FROM meetings WHERE event_id = ? AND status = 'requested'", (event["id"],)
        ).fetchall():
            db.conn.execute("UPDATE meetings SET status = 'expired', updated_at = ? WHERE pk = ?", (stamp, meeting_pk))
            _log(db, meeting_pk, "expired", None, "system", EXPIRY_REASON)


# --- requesting and answering ----------------------------------------------------------------


def _live_count(db: sqlite_utils.Database, participant_pk: int) -> int:
    return db.conn.execute(
        "SELECT COUNT(*) FROM meetings WHERE (requester_pk = ? OR partner_pk = ?) "
        "AND status IN ('requested', 'accepted')",
        (participant_pk, participant_pk),
    ).fetchone()[0]


def request_meeting(db: sqlite_utils.Database, attendee_pk: int, data: dict) -> dict:
    """Ask another participant of my event for a meeting (status `requested`)."""
    with database.write(db):
        _, event = matchmaking.attendee_event(db, attendee_pk)
        me = matchmaking.require_participant(db, attendee_pk)
        settings = matchmaking.require_settings(db, event)
        _expire_if_due(db, event, settings)
        if not matchmaking.requests_open(settings):
            raise Conflict("requests for meetings are closed for this event", reason="requests_closed")
        other = db.conn.execute(
            "SELECT * FROM participants WHERE event_id = ? AND id = ? AND left_at IS NULL AND hidden = 0",
            (event["id"], data["with"]),
        ).fetchone()
        if other is None:
            raise NotFound(f"no participant {data['with']!r} to meet in this event", fields={"with": "unknown id"})
        if other["pk"] == me["pk"]:
            raise ValidationError("you cannot meet yourself", fields={"with": "is your own participant id"})
        if db.conn.execute(
            "SELECT 1 FROM meetings WHERE status IN ('requested', 'accepted') AND "
            "((requester_pk = ? AND partner_pk = ?) OR (requester_pk = ? AND partner_pk = ?))",
            (me["pk"], other["pk"], other["pk"], me["pk"]),
        ).fetchone():
            raise Conflict("you already have a live meeting or request with this participant", reason="duplicate")
        for who, row in (("you have", me), ("they have", other)):
            if _live_count(db, row["pk"]) >= settings["cap"]:
                raise Conflict(
                    f"{who} reached the cap of {settings['cap']} meetings (requested or accepted) "
                    "per participant: cancel or decline one first",
                    reason="cap",
                )
        stamp = clock.utc_stamp()
        meeting_pk = db["meetings"].insert(
            {"id": matchmaking.new_public_id("m"), "event_id": event["id"], "requester_pk": me["pk"],
             "partner_pk": other["pk"], "message": data.get("message", ""), "status": "requested",
             "created_at": stamp, "updated_at": stamp}
        ).last_pk  # fmt: skip
        _log(db, meeting_pk, "requested", me["pk"], "requester")
        return meeting_document(db, event, _row(db, meeting_pk), settings)


def _mine(db: sqlite_utils.Database, me: dict, meeting_id: str) -> tuple[dict, str]:
    """A meeting of mine and my side of it (requester or partner), or 404."""
    row = db.conn.execute(
        "SELECT * FROM meetings WHERE id = ? AND (requester_pk = ? OR partner_pk = ?)",
        (meeting_id, me["pk"], me["pk"]),
    ).fetchone()
    if row is None:
        raise NotFound(f"no meeting {meeting_id!r} of yours", resource="meeting")
    return dict(row), "requester" if row["requester_pk"] == me["pk"] else "partner"


def answer(db: sqlite_utils.Database, attendee_pk: int, meeting_id: str, action: str) -> dict:
    """accept or decline (the partner only) or cancel (either side); repeating one changes nothing.

    Accepting places the meeting at once at the earliest slot both are free with a free table;
    when there is none it stays accepted without a place, for the organiser to plan.
    """
    wanted = {"accept": "accepted", "decline": "declined", "cancel": "cancelled"}[action]
    with database.write(db):
        _, event = matchmaking.attendee_event(db, attendee_pk)
        me = matchmaking.require_participant(db, attendee_pk)
        settings = matchmaking.require_settings(db, event)
        _expire_if_due(db, event, settings)
        row, side = _mine(db, me, meeting_id)
        if row["status"] == wanted:
            return meeting_document(db, event, row, settings)
        if action != "cancel" and side != "partner":
            raise Forbidden(f"only the participant asked may {action} a meeting request")
        allowed = LIVE if action == "cancel" else ("requested",)
        if row["status"] not in allowed:
            raise Conflict(f"the meeting is {row['status']}: it cannot be {wanted} now", status=row["status"])
        sequence = row["sequence"] + (1 if action == "cancel" and row["slot_start"] else 0)
        db.conn.execute(
            "UPDATE meetings SET status = ?, sequence = ?, updated_at = ? WHERE pk = ?",
            (wanted, sequence, clock.utc_stamp(), row["pk"]),
        )
        _log(db, row["pk"], wanted, me["pk"], side)
        if action == "accept":
            place(db, settings, _row(db, row["pk"]))
        return meeting_document(db, event, _row(db, row["pk"]), settings)


def cancel_all(db: sqlite_utils.Database, participant: dict, *, reason: str) -> int:
    """Cancel a participant's live meetings, each logged with `reason` (inside the caller's transaction)."""
    rows = db.conn.execute(
        "SELECT * FROM meetings WHERE (requester_pk = ? OR partner_pk = ?) AND status IN ('requested', 'accepted')",
        (participant["pk"], participant["pk"]),
    ).fetchall()
    for row in rows:
        side = "requester" if row["requester_pk"] == participant["pk"] else "partner"
        db.conn.execute(
            "UPDATE meetings SET status = 'cancelled', sequence = sequence + ?, updated_at = ? WHERE pk = ?",
            (1 if row["slot_start"] else 0, clock.utc_stamp(), row["pk"]),
        )
        _log(db, row["pk"], "cancelled", participant["pk"], side, reason)
    return len(rows)


# --- placing -------------------------------------------------------------------------------


def _overlapping(grid: list[tuple[datetime, datetime]], ranges: list[tuple[datetime, datetime]]) -> set[int]:
    return {index for index, (start, end) in enumerate(grid) if any(s < end and start < e for s, e in ranges)}


def _inside(grid: list[tuple[datetime, datetime]], availability: str | None) -> set[int]:
    """The slots a participant can meet in: all, or those wholly inside one of their ranges."""
    if availability is None:
        return set(range(len(grid)))
    ranges = [(clock.parse_stamp(s), clock.parse_stamp(e)) for s, e in json.loads(availability)]
    return {index for index, (start, end) in enumerate(grid) if any(s <= start and end <= e for s, e in ranges)}


def _placed(db: sqlite_utils.Database, where: str, params: tuple) -> list[tuple[datetime, str]]:
    rows = db.conn.execute(
        f"SELECT slot_start, table_name FROM meetings WHERE status = 'accepted' AND slot_start IS NOT NULL AND {where}",  # noqa: S608
        params,
    ).fetchall()
    return [(clock.parse_stamp(row[0]), row[1]) for row in rows]


def _placed_of(db: sqlite_utils.Database, participant_pk: int, except_meeting: int | None) -> list[tuple]:
    """A participant's placed meetings other than `except_meeting`."""
    return _placed(
        db, "(requester_pk = ? OR partner_pk = ?) AND pk != ?", (participant_pk, participant_pk, except_meeting or 0)
    )


def busy_slots(
    db: sqlite_utils.Database, grid: list[tuple[datetime, datetime]], participant: dict, length: timedelta,
    *, except_meeting: int | None = None,
) -> set[int]:  # fmt: skip
    """Slots a participant cannot meet in: their other placed meetings and their bookmarked
    sessions (bookmarked_slots)."""
    meetings = _placed_of(db, participant["pk"], except_meeting)
    return _overlapping(grid, [(start, start + length) for start, _ in meetings]) | bookmarked_slots(
        db, grid, participant
    )


def bookmarked_slots(db: sqlite_utils.Database, grid: list[tuple[datetime, datetime]], participant: dict) -> set[int]:
    """Slots a participant's bookmarked sessions overlap, except the matchmaking sessions
    themselves (the meetings happen inside them). The organiser's plan reads this alone: it
    places the meetings afresh, so their current slots are not in the way."""
    return bookmarked_slots_of(db, grid, [participant])[participant["pk"]]


def bookmarked_slots_of(
    db: sqlite_utils.Database, grid: list[tuple[datetime, datetime]], participants: list[dict]
) -> dict[int, set[int]]:
    """bookmarked_slots of many participants (by pk) in one query: the organiser's plan reads
    every participant's twice, and one query each was most of its 219 statements on the demo."""
    by_attendee = {participant["attendee_pk"]: participant["pk"] for participant in participants}
    sessions: dict[int, list[tuple[datetime, datetime]]] = {pk: [] for pk in by_attendee.values()}
    for attendee_pk, starts, ends in db.conn.execute(
        "SELECT i.attendee_pk, s.starts_at, s.ends_at FROM schedule_items i JOIN sessions s "
        "ON s.event_id = i.event_id AND s.id = i.session_id "
        "WHERE i.attendee_pk IN (SELECT value FROM json_each(?)) AND s.status != 'cancelled' "
        "AND s.type != 'matchmaking'",
        (json.dumps(list(by_attendee)),),
    ):
        sessions[by_attendee[attendee_pk]].append((clock.parse_stamp(starts), clock.parse_stamp(ends)))
    return {pk: _overlapping(grid, ranges) for pk, ranges in sessions.items()}


def free_slots_of(
    db: sqlite_utils.Database, grid: list[tuple[datetime, datetime]], participants: list[dict]
) -> dict[int, set[int]]:
    """free_slots of many participants (by pk), in one query."""
    booked = bookmarked_slots_of(db, grid, participants)
    return {row["pk"]: _inside(grid, row["availability"]) - booked[row["pk"]] for row in participants}


def _tables_used(
    db: sqlite_utils.Database, grid: list[tuple[datetime, datetime]], event_id: int, length: timedelta,
    except_meeting: int | None = None,
) -> dict[int, set[str]]:  # fmt: skip
    used: dict[int, set[str]] = {}
    for start, table in _placed(db, "event_id = ? AND pk != ?", (event_id, except_meeting or 0)):
        for index in _overlapping(grid, [(start, start + length)]):
            used.setdefault(index, set()).add(table)
    return used


def _party_rows(db: sqlite_utils.Database, row: dict) -> tuple[dict, dict]:
    fetch = "SELECT * FROM participants WHERE pk = ?"
    return (
        dict(db.conn.execute(fetch, (row["requester_pk"],)).fetchone()),
        dict(db.conn.execute(fetch, (row["partner_pk"],)).fetchone()),
    )


def place(db: sqlite_utils.Database, settings: dict, row: dict) -> bool:
    """Give an accepted meeting the earliest slot both parties are free with a free table.

    Runs inside the caller's write transaction, so what it reads stays true until it commits.
    False (and the meeting left without a place) when no slot fits.
    """
    grid = matchmaking.slots(settings)
    length = timedelta(minutes=settings["slot_minutes"])
    first, second = _party_rows(db, row)
    candidates = sorted(_inside(grid, first["availability"]) & _inside(grid, second["availability"]))
    found = meeting_plan.earliest_slot(
        candidates,
        busy_slots(db, grid, first, length, except_meeting=row["pk"]),
        busy_slots(db, grid, second, length, except_meeting=row["pk"]),
        _tables_used(db, grid, row["event_id"], length, row["pk"]),
        json.loads(settings["tables"]),
    )
    if found is None:
        return False
    slot, table = found
    db.conn.execute(
        "UPDATE meetings SET slot_start = ?, table_name = ?, updated_at = ? WHERE pk = ?",
        (clock.utc_stamp(grid[slot][0]), table, clock.utc_stamp(), row["pk"]),
    )
    _log(db, row["pk"], "placed", None, "system", f"table {table}")
    return True


def move_meeting(db: sqlite_utils.Database, slug: str, meeting_id: str, data: dict) -> dict:
    """The organiser moves an accepted meeting to another slot and table; refused if it double-books."""
    with database.write(db):
        event = get_event(db, slug)
        settings = matchmaking.require_settings(db, event)
        found = db.conn.execute("SELECT * FROM meetings WHERE event_id = ? AND id = ?", (event["id"], meeting_id))
        row = found.fetchone()
        if row is None:
            raise NotFound(f"no meeting {meeting_id!r} in event {slug!r}", resource="meeting")
        row = dict(row)
        if row["status"] != "accepted":
            raise Conflict(f"the meeting is {row['status']}: only accepted meetings have a place", status=row["status"])
        grid = matchmaking.slots(settings)
        slot = _slot_index(grid, data["slot"], ZoneInfo(event["timezone"]))
        tables = json.loads(settings["tables"])
        if data["table"] not in tables:
            raise ValidationError(f"no table {data['table']!r} in the set-up", fields={"table": "unknown table"})
        length = timedelta(minutes=settings["slot_minutes"])
        for party in _party_rows(db, row):
            if slot in _overlapping(grid, [(s, s + length) for s, _ in _placed_of(db, party["pk"], row["pk"])]):
                raise Conflict(f"{party['organisation']} already has a meeting in that slot", reason="person_busy")
        if data["table"] in _tables_used(db, grid, event["id"], length, row["pk"]).get(slot, set()):
            raise Conflict(f"table {data['table']} is taken in that slot", reason="table_taken")
        db.conn.execute(
            "UPDATE meetings SET slot_start = ?, table_name = ?, sequence = sequence + 1, updated_at = ? WHERE pk = ?",
            (clock.utc_stamp(grid[slot][0]), data["table"], clock.utc_stamp(), row["pk"]),
        )
        _log(db, row["pk"], "moved", None, "admin", f"to {grid[slot][0].isoformat()} at table {data['table']}")
        return meeting_document(db, event, _row(db, row["pk"]), settings)


def _slot_index(grid: list[tuple[datetime, datetime]], text: str, zone: ZoneInfo) -> int:
    try:
        moment = parse_local_datetime(text, zone)
    except ValueError as problem:
        raise ValidationError(f"slot {problem}", fields={"slot": str(problem)}) from None
    for index, (start, _) in enumerate(grid):
        if start == moment:
            return index
    raise ValidationError(
        "slot is not the start of one of the set-up's slots", fields={"slot": "see the slots of GET .../matchmaking"}
    )
