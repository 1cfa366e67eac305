"""The organiser's side of the matchmaking morning: plan every accepted meeting at once, export
the plan per table, record whether meetings took place, and count the morning.

The planning itself is the pure server/meeting_plan.py; this module reads its inputs from the
database (each person's free slots as server/meetings.py computes them), runs it outside any
transaction (CP-SAT may take seconds, and acceptances must not wait for it), and writes the
result in one transaction only if nothing it planned on changed meanwhile.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from server import clock, csvsafe, db as database, matchmaking, meeting_plan, meetings
from server.errors import Conflict, NotFound
from server.programme import get_event, room_name

PLAN_REASON = "organiser's plan"
# CP-SAT only up to this many meetings. Past it, building its model takes longer than the
# greedy's whole run and it found nothing better: on 10,000 meetings in 23 slots the greedy
# places 99.4 % of the bound in 1.4 s, and CP-SAT given 8 s more (15.5 s in all) the same
# (bench/matchmaking_bench.py).
SOLVER_UP_TO = 2000
BLOCKED = "every slot both are free in is taken by their other meetings or by all the tables"


# --- planning every accepted meeting ------------------------------------------------------------


@dataclass
class PlanInputs:
    """What one run of the planner depends on, read in one snapshot."""

    grid: list[tuple[datetime, datetime]]
    tables: list[str]
    rows: list[dict]  # the accepted meetings, by pk
    meetings: list[tuple[int, int, int]]  # (meeting pk, participant pk, participant pk)
    free: dict[int, set[int]]  # participant pk -> slot numbers
    fixed: dict[int, tuple[int, str]]  # meetings an admin moved: meeting pk -> (slot, table)

    def key(self) -> tuple:
        """Equal keys: the same plan would be made (used to see that nothing changed meanwhile)."""
        return (
            tuple(self.grid),
            tuple(self.tables),
            tuple((r["pk"], r["requester_pk"], r["partner_pk"], r["slot_start"], r["table_name"]) for r in self.rows),
            tuple(sorted((person, tuple(sorted(slots))) for person, slots in self.free.items())),
            tuple(sorted(self.fixed.items())),
        )


def _admin_moved(db: sqlite_utils.Database, event_id: int) -> set[int]:
    """Meetings whose latest placement was an admin's move (PATCH .../meetings/{id})."""
    rows = db.conn.execute(
        "SELECT l.meeting_pk, l.by_role FROM meeting_log l WHERE l.pk IN ("
        " SELECT max(pk) FROM meeting_log WHERE what IN ('placed', 'moved', 'unplaced')"
        " AND meeting_pk IN (SELECT pk FROM meetings WHERE event_id = ? AND status = 'accepted')"
        " GROUP BY meeting_pk)",
        (event_id,),
    ).fetchall()
    return {meeting_pk for meeting_pk, role in rows if role == "admin"}


def plan_inputs(db: sqlite_utils.Database, event: dict, settings: dict, *, replan: bool) -> PlanInputs:
    """The accepted meetings, each person's free slots and the meetings that stay where an admin put them."""
    grid = matchmaking.slots(settings)
    tables = json.loads(settings["tables"])
    rows = [
        dict(row)
        for row in db.conn.execute(
            "SELECT * FROM meetings WHERE event_id = ? AND status = 'accepted' ORDER BY pk", (event["id"],)
        )
    ]
    pks = sorted({pk for row in rows for pk in (row["requester_pk"], row["partner_pk"])})
    people = {
        row["pk"]: dict(row)
        for row in db.conn.execute(
            f"SELECT * FROM participants WHERE pk IN ({', '.join('?' for _ in pks)})",  # noqa: S608
            pks,
        )
    }
    free = meetings.free_slots_of(db, grid, [people[pk] for pk in pks])
    fixed: dict[int, tuple[int, str]] = {}
    if not replan:
        slot_of = {clock.utc_stamp(start): index for index, (start, _) in enumerate(grid)}
        moved = _admin_moved(db, event["id"])
        for row in rows:
            if row["pk"] in moved and row["slot_start"] in slot_of and row["table_name"] in tables:
                slot = slot_of[row["slot_start"]]
                fixed[row["pk"]] = (slot, row["table_name"])
                for person in (row["requester_pk"], row["partner_pk"]):
                    free[person] = free[person] | {slot}  # an admin's choice counts as free: the bound stays true
    triples = [(row["pk"], row["requester_pk"], row["partner_pk"]) for row in rows]
    return PlanInputs(grid, tables, rows, triples, free, fixed)


def _write_plan(db: sqlite_utils.Database, inputs: PlanInputs, placements: dict[Hashable, tuple[int, str]]) -> int:
    """Give each accepted meeting its planned place (inside the caller's transaction); how many changed.

    A meeting that had a place and gets another (or none) has its sequence raised, so
    calendars replace it; every change is logged as the organiser's plan.
    """
    stamp, changed = clock.utc_stamp(), []
    for row in inputs.rows:
        place = placements.get(row["pk"])
        new = (clock.utc_stamp(inputs.grid[place[0]][0]), place[1]) if place else (None, None)
        if new != (row["slot_start"], row["table_name"]):
            changed.append((row, new))
    # Clear first: the unique (slot, table) index must never see two meetings at one table mid-way.
    db.conn.executemany(
        "UPDATE meetings SET slot_start = NULL, table_name = NULL WHERE pk = ?", [(row["pk"],) for row, _ in changed]
    )
    for row, (start, table) in changed:
        was_placed = row["slot_start"] is not None
        db.conn.execute(
            "UPDATE meetings SET slot_start = ?, table_name = ?, sequence = sequence + ?, updated_at = ? WHERE pk = ?",
            (start, table, 1 if was_placed else 0, stamp, row["pk"]),
        )
        what = "unplaced" if start is None else "moved" if was_placed else "placed"
        where = f": {start} at table {table}" if start else ": no slot left"
        db["meeting_log"].insert(
            {"meeting_pk": row["pk"], "what": what, "by_pk": None, "by_role": "system",
             "reason": PLAN_REASON + where, "at": stamp}
        )  # fmt: skip
    return len(changed)


def _score(placements: dict) -> tuple[int, int]:
    """Plans compare as the planner ranks them: more meetings placed, then earlier slots."""
    return len(placements), -sum(slot for slot, _ in placements.values())


def _standing(inputs: PlanInputs) -> dict[int, tuple[int, str]] | None:
    """The meetings' current places, if they are a valid plan (free slots, tables, nobody
    twice in a slot); else None."""
    slot_of = {clock.utc_stamp(start): index for index, (start, _) in enumerate(inputs.grid)}
    standing: dict[int, tuple[int, str]] = {}
    taken: set[tuple] = set()
    for row in inputs.rows:
        if row["slot_start"] is None:
            continue
        slot = slot_of.get(row["slot_start"])
        people = (row["requester_pk"], row["partner_pk"])
        uses = {("table", slot, row["table_name"])} | {("person", slot, person) for person in people}
        if slot is None or row["table_name"] not in inputs.tables or uses & taken:
            return None
        if any(slot not in inputs.free[person] for person in people):
            return None
        taken |= uses
        standing[row["pk"]] = (slot, row["table_name"])
    return standing


def schedule(db: sqlite_utils.Database, slug: str, *, replan: bool = False, seconds: float = 10.0) -> dict:
    """Place every accepted meeting at once, most placed first, then earlier slots, and report.

    Meetings an admin moved stay where they are unless `replan`. The planner runs on a
    snapshot; the plan is written only if that snapshot still holds when it is done (an
    acceptance meanwhile gives 409: run it again).
    """
    event = get_event(db, slug)
    settings = matchmaking.require_settings(db, event)
    with database.read(db):
        inputs = plan_inputs(db, event, settings, replan=replan)
    started = time.monotonic()
    solver_seconds = seconds if len(inputs.meetings) <= SOLVER_UP_TO else 0.0
    result = meeting_plan.plan(inputs.meetings, inputs.free, inputs.tables, inputs.fixed, solver_seconds=solver_seconds)
    took = time.monotonic() - started
    placements, unplaced_reasons, exact = result.placements, result.unplaced, result.exact
    standing = _standing(inputs)
    if standing is not None and _score(standing) >= _score(result.placements):
        # A plan no better than what stands (more placed, then earlier) changes nothing: calendars do not churn.
        placements, exact = standing, len(standing) == result.bound or (exact and len(standing) == result.placed)
        unplaced_reasons = {
            row["pk"]: result.unplaced.get(row["pk"], BLOCKED) for row in inputs.rows if row["pk"] not in standing
        }
    with database.write(db):
        if plan_inputs(db, event, settings, replan=replan).key() != inputs.key():
            raise Conflict(
                "meetings or availability changed while the plan was made; nothing was written: plan again",
                reason="changed_while_planning",
            )
        changed = _write_plan(db, inputs, placements)
        people = {
            row["pk"]: dict(row)
            for row in db.conn.execute("SELECT * FROM participants WHERE event_id = ?", (event["id"],))
        }
    by_pk = {row["pk"]: row for row in inputs.rows}
    unplaced = [
        {
            "id": by_pk[pk]["id"],
            "requester": meetings.party_document(people[by_pk[pk]["requester_pk"]]),
            "partner": meetings.party_document(people[by_pk[pk]["partner_pk"]]),
            "reason": reason,
        }
        for pk, reason in sorted(unplaced_reasons.items())
    ]
    return {
        "event": event["slug"],
        "accepted": len(inputs.rows),
        "placed": len(placements),
        "kept": len(inputs.fixed),
        "changed": changed,
        "unplaced": unplaced,
        "bound": result.bound,
        "exact": exact,
        "quality": round(len(placements) / result.bound, 4) if result.bound else 1.0,
        "seconds": round(took, 3),
    }


# --- the plan per table -------------------------------------------------------------------------

CSV_HEADER = [
    "table", "room", "start", "end",
    "requester_name", "requester_organisation", "requester_cluster", "requester_country",
    "partner_name", "partner_organisation", "partner_cluster", "partner_country",
    "synthetic", "meeting",
]  # fmt: skip


def plan_csv(db: sqlite_utils.Database, slug: str) -> bytes:
    """The placed meetings per table, in the set-up's table order then by time, as CSV.

    Deterministic (the same plan gives the same bytes); every cell formula-safe. `synthetic`
    says `yes` when either side is demo data.
    """
    event = get_event(db, slug)
    settings = matchmaking.require_settings(db, event)
    zone = ZoneInfo(event["timezone"])
    length = timedelta(minutes=settings["slot_minutes"])
    order = {name: index for index, name in enumerate(json.loads(settings["tables"]))}
    room = room_name(db, event["id"], settings["room_id"]) or ""
    rows = db.conn.execute(
        "SELECT m.id, m.slot_start, m.table_name, "
        " ra.name, r.organisation, r.cluster, r.country, r.synthetic, "
        " pa.name, p.organisation, p.cluster, p.country, p.synthetic "
        "FROM meetings m JOIN participants r ON r.pk = m.requester_pk JOIN attendees ra ON ra.pk = r.attendee_pk "
        "JOIN participants p ON p.pk = m.partner_pk JOIN attendees pa ON pa.pk = p.attendee_pk "
        "WHERE m.event_id = ? AND m.status = 'accepted' AND m.slot_start IS NOT NULL",
        (event["id"],),
    ).fetchall()
    rows = sorted(rows, key=lambda r: (order.get(r[2], len(order)), r[2], r[1], r[0]))
    handle = io.StringIO()
    writer = csvsafe.writer(handle, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for meeting_id, start_text, table, *sides in rows:
        start = clock.parse_stamp(start_text)
        writer.writerow(
            [
                table,
                room,
                start.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                (start + length).astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                *sides[0:4],
                *sides[5:9],
                "yes" if sides[4] or sides[9] else "no",
                meeting_id,
            ]
        )
    return handle.getvalue().encode("utf-8")


# --- did it take place --------------------------------------------------------------------------


def held_document(row: dict) -> dict:
    def said(value: int | None) -> bool | None:
        return None if value is None else bool(value)

    return {
        "id": row["id"],
        "by_requester": said(row["held_requester"]),
        "by_partner": said(row["held_partner"]),
        "held": bool(row["held_requester"]) and bool(row["held_partner"]),
    }


def mark_held(db: sqlite_utils.Database, attendee_pk: int, meeting_id: str, held: bool) -> dict:
    """Either side says whether a placed meeting took place, once its slot has begun (logged)."""
    with database.write(db):
        me = matchmaking.require_participant(db, attendee_pk)
        row = db.conn.execute(
            "SELECT * FROM meetings WHERE id = ? AND (requester_pk = ? OR partner_pk = ?)",
            (meeting_id, me["pk"], me["pk"]),
        ).fetchone()
        if row is None:
            raise NotFound(f"no meeting {meeting_id!r} of yours", resource="meeting")
        row = dict(row)
        if row["status"] != "accepted" or row["slot_start"] is None:
            raise Conflict(
                f"the meeting is {row['status']}{'' if row['slot_start'] else ' and has no place'}: "
                "only a placed meeting can have taken place",
                status=row["status"],
            )
        if clock.now() < clock.parse_stamp(row["slot_start"]):
            raise Conflict("the meeting has not begun yet: say whether it took place after its start", reason="early")
        side = "requester" if row["requester_pk"] == me["pk"] else "partner"
        db.conn.execute(
            f"UPDATE meetings SET held_{side} = ?, updated_at = ? WHERE pk = ?",  # noqa: S608 (side is one of two names)
            (int(held), clock.utc_stamp(), row["pk"]),
        )
        db["meeting_log"].insert(
            {"meeting_pk": row["pk"], "what": "held" if held else "not held", "by_pk": me["pk"], "by_role": side,
             "reason": "", "at": clock.utc_stamp()}
        )  # fmt: skip
        row = dict(db.conn.execute("SELECT * FROM meetings WHERE pk = ?", (row["pk"],)).fetchone())
    return held_document(row)


# --- the morning in figures ---------------------------------------------------------------------


def stats(db: sqlite_utils.Database, slug: str) -> dict:
    """Requests by status, placed and held meetings, participants, and the share of accepted
    meetings across sectors (no sector in common) and across borders (different countries)."""
    event = get_event(db, slug)
    settings = matchmaking.require_settings(db, event)
    with database.read(db):
        counts = dict(
            db.conn.execute(
                "SELECT status, COUNT(*) FROM meetings WHERE event_id = ? GROUP BY status", (event["id"],)
            ).fetchall()
        )
        placed, held, sectors_apart, borders_apart = db.conn.execute(
            "SELECT COALESCE(SUM(m.slot_start IS NOT NULL), 0),"
            " COALESCE(SUM(m.held_requester = 1 AND m.held_partner = 1), 0),"
            " COALESCE(SUM(NOT EXISTS (SELECT 1 FROM json_each(r.sectors) a JOIN json_each(p.sectors) b"
            "  ON a.value = b.value)), 0),"
            " COALESCE(SUM(r.country != p.country), 0) "
            "FROM meetings m JOIN participants r ON r.pk = m.requester_pk JOIN participants p ON p.pk = m.partner_pk "
            "WHERE m.event_id = ? AND m.status = 'accepted'",
            (event["id"],),
        ).fetchone()
        participants, synthetic = db.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(synthetic), 0) FROM participants WHERE event_id = ? AND left_at IS NULL",
            (event["id"],),
        ).fetchone()
    if not matchmaking.requests_open(settings):  # unanswered requests expire then (written lazily elsewhere)
        counts["expired"] = counts.get("expired", 0) + counts.pop("requested", 0)
    accepted = counts.get("accepted", 0)
    return {
        "event": event["slug"],
        "participants": participants,
        "synthetic_participants": synthetic,
        "requests": sum(counts.values()),
        **{status: counts.get(status, 0) for status in ("requested", "accepted", "declined", "cancelled", "expired")},
        "placed": placed,
        "held": held,
        "across_sectors": sectors_apart,
        "across_sectors_share": round(sectors_apart / accepted, 4) if accepted else 0.0,
        "across_borders": borders_apart,
        "across_borders_share": round(borders_apart / accepted, 4) if accepted else 0.0,
    }
