"""Matchmaking participants from a CSV file, all rows or none, as attendees are imported.

Each row names a registered attendee by email and gives their profile; lists (sectors,
languages, availability) are `;`-separated in one cell. Every row is checked by the same
rules as PUT /me/matchmaking (server.matchmaking.clean_profile), every problem is reported by
line and field, and only a file without any is written, in one transaction.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlite_utils

from server import db as database, matchmaking
from server.errors import Conflict, ValidationError
from server.programme import get_event
from server.validation import Errors

COLUMNS = ("email", "organisation", "cluster", "country", "sectors", "offer", "seek", "languages", "availability")
REQUIRED = ("email", "organisation", "cluster", "country")
_PROFILE = ("organisation", "cluster", "country", "sectors", "offer", "seek", "languages", "availability")


@dataclass
class ParticipantImport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _availability(cell: str) -> list[dict] | None:
    """`START/END;START/END` (ISO 8601, local to the event without an offset); empty: all of the session."""
    ranges = []
    for part in _split(cell):
        start, _, end = part.partition("/")
        ranges.append({"start": start.strip(), "end": end.strip()})
    return ranges or None


def parse_rows(db: sqlite_utils.Database, event: dict, settings: dict, text: str) -> list[tuple[int, int, dict]]:
    """(line, attendee pk, profile body) per row; ValidationError naming every bad row by line and field."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise ValidationError(
                f"the CSV header must name the columns {', '.join(REQUIRED)}; missing: {', '.join(missing)}",
                fields={"line 1": f"missing column(s): {', '.join(missing)}"},
            )
        reader.fieldnames = header
        attendees = {
            email: pk
            for email, pk in db.conn.execute("SELECT email, pk FROM attendees WHERE event_id = ?", (event["id"],))
        }
        zone, errors, rows, seen = ZoneInfo(event["timezone"]), Errors(), [], {}
        line = reader.line_num
        for raw in reader:
            start, line = line + 1, reader.line_num
            cells = {name: (value or "").strip() for name, value in raw.items() if name in COLUMNS}
            row_errors = errors.within(f"line {start}: ")
            email = cells.get("email", "").lower()
            if email not in attendees:
                row_errors.add("email", "no registered attendee of this event has this address")
            elif email in seen:
                row_errors.add("email", f"repeats line {seen[email]}")
            else:
                seen[email] = start
            body = {
                **{name: cells.get(name, "") for name in ("organisation", "cluster", "country", "offer", "seek")},
                "sectors": _split(cells.get("sectors", "")),
                "languages": _split(cells.get("languages", "")),
                "availability": _availability(cells.get("availability", "")),
            }
            body["country"] = body["country"].upper()
            matchmaking.clean_profile(body, settings, zone, row_errors)
            rows.append((start, attendees.get(email), body))
    except csv.Error as problem:
        line = max(reader.reader.line_num, 1)
        raise ValidationError(
            f"line {line} cannot be read as CSV ({problem}); nothing imported", fields={f"line {line}": str(problem)}
        ) from None
    if errors:
        count = len({name.split(":")[0] for name in errors.messages})
        raise ValidationError(f"{count} bad row{'s' if count > 1 else ''}; nothing imported", fields=errors.messages)
    return rows


def import_participants(db: sqlite_utils.Database, slug: str, text: str) -> ParticipantImport:
    """Opt the file's attendees in (or update their profiles), all rows or none; a row that
    changes nothing is counted unchanged, so importing a file twice does nothing the second time."""
    result = ParticipantImport()
    with database.write(db):
        event = get_event(db, slug)
        settings = matchmaking.settings_row(db, event["id"])
        if settings is None:
            raise Conflict(f"matchmaking is not set up for event {slug!r}: set it up first")
        zone = ZoneInfo(event["timezone"])
        for _line, attendee_pk, body in parse_rows(db, event, settings, text):
            current = db.conn.execute("SELECT * FROM participants WHERE attendee_pk = ?", (attendee_pk,)).fetchone()
            values = matchmaking.clean_profile(body, settings, zone, Errors())
            if current is not None and current["left_at"] is None and all(current[k] == values[k] for k in _PROFILE):
                result.unchanged += 1
                continue
            _, created = matchmaking.put_profile(db, attendee_pk, body)
            if created:
                result.created += 1
            else:
                result.updated += 1
    return result
