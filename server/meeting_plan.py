"""Planning the matchmaking morning: its slots, and which meeting goes in which slot at which table.

Pure functions over plain values (no database, no Flask), so the organiser's plan, the
placement of one accepted meeting, the tests' properties and the benchmark share one piece of
code. A meeting is a pair of participants; it needs a slot where both are free (their
availability, less their bookmarked sessions and other meetings) and a free table. Placing
the most meetings is an edge-colouring problem with per-slot capacities, NP-hard in general,
so `plan` places greedily (most constrained first, earliest slot), then repairs: an unplaced
meeting may take a slot whose blockers can move elsewhere; then it pulls meetings earlier.
Every plan comes with an upper bound no plan can beat (`upper_bound`), and small instances
are solved exactly, so a plan that places fewer than the bound is known to be optimal or not.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypedDict

EXACT_UP_TO = 14  # instances of up to this many meetings are searched exhaustively when the greedy falls short
SEARCH_BUDGET = 200_000  # steps of that search; past it the greedy plan stands (and is not called exact)


class PlanSettings(TypedDict):
    """What the slot grid depends on: the window, the slot length and the breaks (aware datetimes)."""

    start: datetime
    end: datetime
    slot_minutes: int
    breaks: list[tuple[datetime, datetime]]


def slot_starts(settings: PlanSettings) -> list[datetime]:
    """The slots of a session window: back to back from its start, none crossing a break or
    its end (a slot that would overlap a break starts when the break ends). Slots are numbered
    by their place in this list: the rest of this module speaks of slot numbers."""
    length, slots, moment = timedelta(minutes=settings["slot_minutes"]), [], settings["start"]
    pauses = sorted(settings["breaks"])
    while moment + length <= settings["end"]:
        pause = next((p for p in pauses if moment < p[1] and p[0] < moment + length), None)
        if pause is not None:
            moment = max(moment, pause[1])
            continue
        slots.append(moment)
        moment += length
    return slots


def earliest_slot(
    candidate_slots: Iterable[int],
    busy_a: set[int],
    busy_b: set[int],
    tables_used: dict[int, set[str]],
    tables: Sequence[str],
) -> tuple[int, str] | None:
    """The earliest slot both are free in with a table left, and the first free table there."""
    for slot in sorted(candidate_slots):
        if slot in busy_a or slot in busy_b:
            continue
        used = tables_used.get(slot, set())
        table = next((name for name in tables if name not in used), None)
        if table is not None:
            return slot, table
    return None


@dataclass
class Plan:
    placements: dict[Hashable, tuple[int, str]]  # meeting -> (slot, table)
    unplaced: dict[Hashable, str]  # meeting -> why, in words
    bound: int  # no plan places more
    exact: bool = False  # True when the plan was proved optimal (placed == bound, or exhaustive search)

    @property
    def placed(self) -> int:
        return len(self.placements)


@dataclass
class _State:
    capacity: int
    free: dict[Hashable, set[int]]
    ends: dict[Hashable, tuple[Hashable, Hashable]]
    slot_of: dict[Hashable, int] = field(default_factory=dict)
    busy: dict[Hashable, dict[int, Hashable]] = field(default_factory=dict)  # participant -> slot -> meeting
    load: dict[int, set[Hashable]] = field(default_factory=dict)  # slot -> meetings

    def options(self, meeting: Hashable) -> list[int]:
        a, b = self.ends[meeting]
        return sorted(self.free.get(a, set()) & self.free.get(b, set()))

    def fits(self, meeting: Hashable, slot: int) -> bool:
        a, b = self.ends[meeting]
        return (
            slot not in self.busy.get(a, {})
            and slot not in self.busy.get(b, {})
            and len(self.load.get(slot, ())) < self.capacity
        )

    def put(self, meeting: Hashable, slot: int) -> None:
        for person in self.ends[meeting]:
            self.busy.setdefault(person, {})[slot] = meeting
        self.load.setdefault(slot, set()).add(meeting)
        self.slot_of[meeting] = slot

    def take(self, meeting: Hashable) -> int:
        slot = self.slot_of.pop(meeting)
        for person in self.ends[meeting]:
            del self.busy[person][slot]
        self.load[slot].discard(meeting)
        return slot


def plan(
    meetings: Sequence[tuple[Hashable, Hashable, Hashable]],
    free: dict[Hashable, set[int]],
    tables: Sequence[str],
    fixed: dict[Hashable, tuple[int, str]] | None = None,
    *,
    solver_seconds: float = 0.0,
) -> Plan:
    """Place `meetings` ((id, participant, participant)) in slots where both are `free`, at most
    one meeting per person and one per table in a slot. `fixed` meetings stay where they are.

    Most meetings placed first; then earlier slots. Returns the placements, why each other
    meeting could not be placed, and the upper bound. With `solver_seconds`, a plan the greedy
    cannot prove optimal is handed to OR-Tools' CP-SAT for that long, starting from the greedy's:
    on tight mornings it places a few percent more and proves a tighter bound.
    """
    fixed = dict(fixed or {})
    state = _State(len(tables), free, {m: (a, b) for m, a, b in meetings})
    for meeting, (slot, _table) in fixed.items():
        state.put(meeting, slot)
    movable = [m for m, _, _ in meetings if m not in fixed]
    degree: dict[Hashable, int] = {}
    for meeting in movable:
        for person in state.ends[meeting]:
            degree[person] = degree.get(person, 0) + 1
    order = sorted(movable, key=lambda m: (len(state.options(m)), -sum(degree[p] for p in state.ends[m])))
    for meeting in order:
        slot = next((s for s in state.options(meeting) if state.fits(meeting, s)), None)
        if slot is not None:
            state.put(meeting, slot)
    _repair(state, movable)
    bound = upper_bound(meetings, free, len(tables))
    unplaced = [m for m in movable if m not in state.slot_of]
    exact = len(state.slot_of) == bound
    if unplaced and not exact and len(movable) <= EXACT_UP_TO:
        greedy = {m: state.slot_of[m] for m in movable if m in state.slot_of}
        best = _exhaustive(state, movable)  # leaves the movable meetings out of `state`
        for meeting, slot in (best if best is not None and len(best) >= len(greedy) else greedy).items():
            state.put(meeting, slot)
        exact = best is not None
    if solver_seconds > 0 and not exact:
        bound, exact = _solve(state, movable, bound, solver_seconds)
    _pull_earlier(state, movable)
    return Plan(_tables(state, fixed, tables), _reasons(state, movable), bound, exact)


def _solve(state: _State, movable: list[Hashable], bound: int, seconds: float) -> tuple[int, bool]:
    """Improve the plan in `state` with CP-SAT (most meetings, then earliest slots); keeps the
    better of the two. Returns the bound (CP-SAT's proof may be tighter) and whether it is optimal."""
    from ortools.sat.python import cp_model

    fixed_load = {slot: len(members - set(movable)) for slot, members in state.load.items()}
    greedy = {m: state.slot_of[m] for m in movable if m in state.slot_of}
    for meeting in greedy:
        state.take(meeting)
    model = cp_model.CpModel()
    chosen: dict[tuple[Hashable, int], cp_model.IntVar] = {}
    for meeting in movable:
        spots = [s for s in state.options(meeting) if state.fits(meeting, s)]  # around the fixed ones
        for slot in spots:
            chosen[meeting, slot] = model.new_bool_var(f"m{len(chosen)}")
            model.add_hint(chosen[meeting, slot], greedy.get(meeting) == slot)
        model.add_at_most_one(chosen[meeting, slot] for slot in spots)
    per_person: dict[tuple[Hashable, int], list] = {}
    per_slot: dict[int, list] = {}
    for (meeting, slot), var in chosen.items():
        for person in state.ends[meeting]:
            per_person.setdefault((person, slot), []).append(var)
        per_slot.setdefault(slot, []).append(var)
    for variables in per_person.values():
        model.add_at_most_one(variables)
    for slot, variables in per_slot.items():
        model.add(sum(variables) <= state.capacity - fixed_load.get(slot, 0))
    latest = max((slot for _, slot in chosen), default=0)
    weight = len(movable) * (latest + 1) + 1  # one more meeting outweighs any choice of slots
    model.maximize(sum(var * (weight - slot) for (_, slot), var in chosen.items()))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = seconds
    solver.parameters.num_workers = 2  # the size of the machines this runs on; more only contend
    status = solver.solve(model)
    found = {}
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        found = {meeting: slot for (meeting, slot), var in chosen.items() if solver.value(var)}
    for meeting, slot in (found if len(found) >= len(greedy) else greedy).items():
        state.put(meeting, slot)
    fixed_count = len(state.slot_of) - len(set(state.slot_of) & set(movable))
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        # Each placed meeting adds at least weight - latest to the objective, so no plan places
        # more than CP-SAT's proven objective bound divided by that.
        proven = fixed_count + int(solver.best_objective_bound // (weight - latest))
        bound = min(bound, proven)
    placed = len(state.slot_of)
    return bound, status == cp_model.OPTIMAL or placed == bound


def _repair(state: _State, movable: list[Hashable], rounds: int = 5) -> None:
    """Place unplaced meetings by moving what blocks them (one step deep) to another slot."""
    fixed = set(state.slot_of) - set(movable)
    for _ in range(rounds):
        improved = False
        for meeting in movable:
            if meeting in state.slot_of:
                continue
            for slot in state.options(meeting):
                if _place_by_moving(state, meeting, slot, fixed):
                    improved = True
                    break
        if not improved:
            return


def _place_by_moving(state: _State, meeting: Hashable, slot: int, fixed: set[Hashable]) -> bool:
    a, b = state.ends[meeting]
    blockers = {state.busy.get(p, {}).get(slot) for p in (a, b)} - {None}
    if not blockers and len(state.load.get(slot, ())) >= state.capacity:
        blockers = {min(state.load[slot], key=str)}  # a full slot: one meeting there may make room
    if blockers & fixed:
        return False
    return _try_moving(state, meeting, slot, blockers)


def _try_moving(state: _State, meeting: Hashable, slot: int, blockers: set[Hashable]) -> bool:
    """Put `meeting` in `slot` and each blocker in another slot it fits; or change nothing."""
    moved: list[tuple[Hashable, int]] = []
    for blocker in blockers:
        moved.append((blocker, state.take(blocker)))
    state.put(meeting, slot)
    for blocker, _old in moved:
        target = next((s for s in state.options(blocker) if s != slot and state.fits(blocker, s)), None)
        if target is None:
            break
        state.put(blocker, target)
    else:
        return True
    # Undo: the blockers could not all go elsewhere.
    state.take(meeting)
    for blocker, _old in moved:
        if blocker in state.slot_of:
            state.take(blocker)
    for blocker, old in moved:
        state.put(blocker, old)
    return False


def _exhaustive(state: _State, movable: list[Hashable]) -> dict[Hashable, int] | None:
    """The most movable meetings placeable (earliest slots first), by depth-first search with
    pruning; None if SEARCH_BUDGET steps were not enough. Leaves them all out of `state`."""
    for meeting in movable:
        if meeting in state.slot_of:
            state.take(meeting)
    order = sorted(movable, key=lambda m: len(state.options(m)))
    best: dict[Hashable, int] = {}
    chosen: dict[Hashable, int] = {}
    steps = 0

    def search(index: int) -> bool:
        """False when the budget ran out."""
        nonlocal best, steps
        steps += 1
        if steps > SEARCH_BUDGET:
            return False
        if len(chosen) + (len(order) - index) <= len(best):
            return True  # cannot beat what we have
        if index == len(order):
            best = dict(chosen)
            return True
        meeting = order[index]
        for slot in state.options(meeting):
            if state.fits(meeting, slot):
                state.put(meeting, slot)
                chosen[meeting] = slot
                finished = search(index + 1)
                del chosen[meeting]
                state.take(meeting)
                if not finished:
                    return False
                if len(best) == len(order):
                    return True
        return search(index + 1)  # or leave this one out

    return best if search(0) else None


def _pull_earlier(state: _State, movable: list[Hashable]) -> None:
    """Move each meeting to the earliest slot it fits in now (fewer idle gaps, an earlier end)."""
    changed = True
    while changed:
        changed = False
        for meeting in sorted((m for m in movable if m in state.slot_of), key=lambda m: state.slot_of[m]):
            current = state.slot_of[meeting]
            state.take(meeting)
            target = next((s for s in state.options(meeting) if s < current and state.fits(meeting, s)), current)
            state.put(meeting, target)
            changed = changed or target != current


def _tables(state: _State, fixed: dict[Hashable, tuple[int, str]], tables: Sequence[str]) -> dict:
    """Tables by slot: fixed meetings keep theirs, the others take the free ones in order."""
    placements: dict[Hashable, tuple[int, str]] = {}
    for slot, members in sorted(state.load.items()):
        used = {fixed[m][1] for m in members if m in fixed}
        spare = iter(name for name in tables if name not in used)
        for meeting in sorted(members, key=str):
            placements[meeting] = fixed[meeting] if meeting in fixed else (slot, next(spare))
    return placements


def _reasons(state: _State, movable: list[Hashable]) -> dict[Hashable, str]:
    reasons = {}
    for meeting in movable:
        if meeting in state.slot_of:
            continue
        if not state.options(meeting):
            reasons[meeting] = "the two have no free slot in common (availability, bookmarked sessions)"
        else:
            reasons[meeting] = "every slot both are free in is taken by their other meetings or by all the tables"
    return reasons


def upper_bound(
    meetings: Sequence[tuple[Hashable, Hashable, Hashable]], free: dict[Hashable, set[int]], tables: int
) -> int:
    """No plan places more: the least of (a) the meetings with a common free slot, (b) per slot,
    the tables or half the people free then, summed, (c) half the sum over people of their
    meetings or free slots, whichever is fewer (each placed meeting uses two people's slots),
    and (d) that sum over a vertex cover of the meetings."""
    possible = [(a, b) for _, a, b in meetings if free.get(a, set()) & free.get(b, set())]
    degree: dict[Hashable, int] = {}
    for a, b in possible:
        degree[a] = degree.get(a, 0) + 1
        degree[b] = degree.get(b, 0) + 1
    slots = set().union(*(free.get(person, set()) for person in degree)) if degree else set()
    per_slot = sum(min(tables, sum(1 for person in degree if slot in free[person]) // 2) for slot in slots)
    per_person = sum(min(count, len(free[person])) for person, count in degree.items()) // 2
    return min(len(possible), per_slot, per_person, _cover_bound(possible, degree, free))


def _cover_bound(possible: list[tuple], degree: dict[Hashable, int], free: dict[Hashable, set[int]]) -> int:
    """Every meeting has someone from a vertex cover in it, and each person holds at most
    min(meetings, free slots): summed over a cover (chosen greedily, most meetings first) that
    bounds the plan, and is tight where one busy person is the limit."""
    uncovered, cover, left = set(possible), [], dict(degree)
    while uncovered:
        person = max(left, key=lambda p: (left[p], str(p)))
        cover.append(person)
        touched = {pair for pair in uncovered if person in pair}
        uncovered -= touched
        for a, b in touched:
            left[a] -= 1
            left[b] -= 1
    return sum(min(degree[person], len(free[person])) for person in cover)
