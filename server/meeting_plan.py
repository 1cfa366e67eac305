"""The slot grid of a matchmaking session and where one meeting fits: pure functions, no database.

Written for the first increment of issue 12 (placing a meeting when it is accepted); the
lead's organiser planner (`plan`) will live here too. Slots are numbered by their position in
`slot_starts`, so the callers speak of sets of slot numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypedDict


class PlanSettings(TypedDict):
    """What the grid depends on: the window, the slot length and the breaks (aware datetimes)."""

    start: datetime
    end: datetime
    slot_minutes: int
    breaks: list[tuple[datetime, datetime]]


def slot_starts(settings: PlanSettings) -> list[datetime]:
    """The starts of the slots of the window minus its breaks.

    Slots follow each other from the window's start; one that would overlap a break starts
    at that break's end instead, and none runs past the window's end.
    """
    length = timedelta(minutes=settings["slot_minutes"])
    breaks = sorted(settings["breaks"])
    starts, moment = [], settings["start"]
    while moment + length <= settings["end"]:
        clash = next((end for start, end in breaks if moment < end and start < moment + length), None)
        if clash is not None:
            moment = clash
            continue
        starts.append(moment)
        moment += length
    return starts


def earliest_slot(
    candidate_slots: list[int],
    busy_a: set[int],
    busy_b: set[int],
    tables_used: dict[int, set[str]],
    tables: list[str],
) -> tuple[int, str] | None:
    """The earliest candidate slot where neither person is busy and a table is free, with the
    first free table in the set-up's order; None when there is none."""
    for slot in sorted(candidate_slots):
        if slot in busy_a or slot in busy_b:
            continue
        used = tables_used.get(slot, set())
        table = next((name for name in tables if name not in used), None)
        if table is not None:
            return slot, table
    return None
