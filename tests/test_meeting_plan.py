"""The matchmaking planner (server/meeting_plan.py): its invariants over many random instances.

No person or table twice in a slot, every meeting inside both people's free slots, never more
placed than the bound, and as many placed as an independent brute force finds possible.
"""

from __future__ import annotations

import itertools
import random
import time
from datetime import datetime

from hypothesis import HealthCheck, given, settings, strategies as st

from server.meeting_plan import earliest_slot, plan, slot_starts, upper_bound

BRUSSELS = "+02:00"


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2014-10-20T{clock}:00{BRUSSELS}")


@st.composite
def instances(draw, max_people: int = 7, max_meetings: int = 7):
    people = draw(st.integers(2, max_people))
    slots = draw(st.integers(1, 5))
    tables = [f"T{n}" for n in range(1, draw(st.integers(1, 3)) + 1)]
    pairs = list(itertools.combinations(range(people), 2))
    chosen = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=min(max_meetings, len(pairs))))
    free = {p: set(draw(st.lists(st.integers(0, slots - 1), unique=True))) for p in range(people)}
    meetings = [(f"m{i}", a, b) for i, (a, b) in enumerate(chosen)]
    return meetings, free, tables


def brute_force_optimum(meetings, free, tables: int) -> int:
    """The most meetings placeable, by trying every slot (or none) for every meeting."""
    best = 0

    def go(index: int, busy: set, load: dict, placed: int) -> None:
        nonlocal best
        best = max(best, placed)
        if index == len(meetings) or placed + len(meetings) - index <= best:
            return
        _, a, b = meetings[index]
        for slot in free[a] & free[b]:
            if (a, slot) not in busy and (b, slot) not in busy and load.get(slot, 0) < tables:
                load[slot] = load.get(slot, 0) + 1
                go(index + 1, busy | {(a, slot), (b, slot)}, load, placed + 1)
                load[slot] -= 1
        go(index + 1, busy, load, placed)

    go(0, frozenset(), {}, 0)
    return best


def random_morning(people: int, meetings: int, free_share: float, tables: int, slots: int = 7):
    """A reproducible morning: each person free in each slot with `free_share`, random pairs."""
    rng = random.Random(2014)  # noqa: S311 - a reproducible instance, not a secret
    free = {p: {s for s in range(slots) if rng.random() < free_share} for p in range(people)}
    pairs = set()
    while len(pairs) < meetings:
        a, b = rng.sample(range(people), 2)
        pairs.add((min(a, b), max(a, b)))
    return [(i, a, b) for i, (a, b) in enumerate(sorted(pairs))], free, [f"T{n}" for n in range(1, tables + 1)]


def check_invariants(meetings, free, tables, result) -> None:
    ends = {m: (a, b) for m, a, b in meetings}
    seen_people, seen_tables = set(), set()
    for meeting, (slot, table) in result.placements.items():
        a, b = ends[meeting]
        assert slot in free[a] and slot in free[b], "placed outside someone's free slots"
        assert table in tables
        for person in (a, b):
            assert (person, slot) not in seen_people, "a person twice in one slot"
            seen_people.add((person, slot))
        assert (table, slot) not in seen_tables, "a table twice in one slot"
        seen_tables.add((table, slot))
    assert set(result.placements) | set(result.unplaced) == set(ends)
    assert not set(result.placements) & set(result.unplaced)
    assert result.placed <= result.bound


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_a_plan_never_double_books_and_places_as_many_as_possible(instance):
    meetings, free, tables = instance

    result = plan(meetings, free, tables)

    check_invariants(meetings, free, tables, result)
    assert result.placed == brute_force_optimum(meetings, free, len(tables))
    assert result.exact


@settings(max_examples=150, deadline=None, derandomize=True)
@given(instances(), st.data())
def test_fixed_meetings_stay_where_they_are(instance, data):
    meetings, free, tables = instance
    first = plan(meetings, free, tables)
    keep = data.draw(st.lists(st.sampled_from(sorted(first.placements)), unique=True)) if first.placements else []
    fixed = {m: first.placements[m] for m in keep}

    again = plan(meetings, free, tables, fixed=fixed)

    check_invariants(meetings, free, tables, again)
    assert all(again.placements[m] == spot for m, spot in fixed.items())


def test_the_ecc_morning_has_seven_twenty_minute_slots_around_the_coffee_break():
    slots = slot_starts(
        {"start": at("09:00"), "end": at("12:15"), "slot_minutes": 20, "breaks": [(at("10:30"), at("11:00"))]}
    )

    assert [s.strftime("%H:%M") for s in slots] == ["09:00", "09:20", "09:40", "10:00", "11:00", "11:20", "11:40"]


def test_the_earliest_slot_is_the_first_both_are_free_in_with_a_table_left():
    tables_used = {0: {"T1", "T2"}, 1: {"T1"}}

    assert earliest_slot([0, 1, 2, 3], busy_a={2}, busy_b=set(), tables_used=tables_used, tables=["T1", "T2"]) == (
        1,
        "T2",
    )
    assert earliest_slot([0], busy_a=set(), busy_b=set(), tables_used=tables_used, tables=["T1", "T2"]) is None


def test_a_meeting_that_cannot_be_placed_says_why():
    meetings = [("apart", "ana", "ben"), ("crowded", "ana", "cy"), ("first", "ana", "dee")]
    free = {"ana": {0}, "ben": {1}, "cy": {0}, "dee": {0}}

    result = plan(meetings, free, ["T1"])

    assert result.placed == 1 == result.bound
    assert "no free slot in common" in result.unplaced["apart"]
    assert "taken" in next(reason for m, reason in result.unplaced.items() if m != "apart")


def test_the_bound_counts_tables_people_and_common_slots():
    meetings = [(n, "hub", f"p{n}") for n in range(5)]
    free = {"hub": {0, 1, 2}, **{f"p{n}": {0, 1, 2} for n in range(5)}}

    assert upper_bound(meetings, free, tables=10) == 3  # the hub has three slots
    assert plan(meetings, free, ["T1", "T2"]).placed == 3


def test_a_large_morning_is_planned_within_seconds_and_near_its_bound():
    meetings, free, tables = random_morning(people=400, meetings=800, free_share=0.85, tables=200)

    started = time.perf_counter()
    result = plan(meetings, free, tables)
    elapsed = time.perf_counter() - started

    check_invariants(meetings, free, tables, result)
    assert elapsed < 10
    # 695 of a bound of 745 (0.93) today: the bound is not always reachable on so tight a morning
    # (each person has ~4 meetings for ~6 free slots); how close it is to the optimum is measured
    # against an exact solver in the benchmark.
    assert result.placed >= 0.9 * result.bound, (result.placed, result.bound)


def test_the_solver_places_more_than_the_greedy_and_proves_it_optimal():
    # the size of the ECC 2014 morning: 110 participants, 170 meetings at 40 tables
    meetings, free, tables = random_morning(people=110, meetings=170, free_share=0.95, tables=40)

    greedy = plan(meetings, free, tables)
    solved = plan(meetings, free, tables, solver_seconds=20)

    check_invariants(meetings, free, tables, solved)
    assert (greedy.placed, greedy.exact) == (165, False)
    assert solved.placed > greedy.placed
    assert solved.exact and solved.placed == solved.bound
