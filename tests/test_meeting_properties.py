"""The scheduling invariants through the API, over random small events (hypothesis).

tests/test_meeting_plan.py holds the planner's properties on its own; these drive the whole
server: participants with availability and bookmarks opt in, request, accept, decline and
cancel in a random order (each acceptance placed at once), then the organiser plans and
moves meetings. What the API answers must never double-book a person or a table, keep the
cap, keep meetings inside availability and out of bookmarked sessions (unless an admin put
them there), place no more than the reported bound, and place as many as an independent
brute force finds possible, so every accepted meeting whenever a full plan exists.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from server import auth, create_app, db as database
from tests.conftest import API, attendee_headers, bearer
from tests.test_meeting_plan import brute_force_optimum

ME = "/api/v1/me"
MATCH = f"{API}/matchmaking"
SLOT_MINUTES, SLOTS = 20, 6
FIRST = datetime.fromisoformat("2014-10-20T09:00:00+02:00")
GRID = [FIRST + timedelta(minutes=SLOT_MINUTES * n) for n in range(SLOTS)]  # 09:00 to 10:40
# Sessions of the built-in day 1 the window meets: two that block slots, and a matchmaking
# session, which never does (the meetings happen inside it).
SESSIONS = {
    "regional-policy-roundtable": ("2014-10-20T09:30:00+02:00", "2014-10-20T12:00:00+02:00"),
    "eco-tools-introduction": ("2014-10-20T10:00:00+02:00", "2014-10-20T11:30:00+02:00"),
    "matchmaking-bilaterals-1": None,
}
LIVE = {"requested", "accepted"}


@pytest.fixture(autouse=True)
def before_requests_close(monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", "2014-10-15T12:00:00+02:00")


@st.composite
def mornings(draw):
    """A set-up, people (availability as a slot range or all, bookmarks) and a script of actions."""
    people = draw(st.integers(3, 6))
    tables = draw(st.integers(1, 2))
    cap = draw(st.integers(1, 4))
    persons = []
    for _ in range(people):
        if draw(st.booleans()):
            first = draw(st.integers(0, SLOTS - 1))
            available = (first, draw(st.integers(first + 1, SLOTS)))
        else:
            available = None
        persons.append((available, draw(st.lists(st.sampled_from(sorted(SESSIONS)), unique=True, max_size=2))))
    person = st.integers(0, people - 1)
    pairs = draw(st.lists(st.tuples(person, person).filter(lambda pair: pair[0] != pair[1]), min_size=2, max_size=12))
    answers = st.sampled_from(["accept", "accept", "accept", "decline", "cancel", "cancel-by-partner", None])
    answer = draw(st.lists(answers, min_size=len(pairs), max_size=len(pairs)))
    # Each meeting's two events in a random interleaving: its first is the request, its second the answer.
    order = draw(st.permutations([n for n in range(len(pairs)) for _ in (0, 1)]))
    seen: set[int] = set()
    script = []
    for n in order:
        script.append(("request", n, *pairs[n]) if n not in seen else ("answer", n, answer[n]))
        seen.add(n)
    plan = draw(st.sampled_from([None, False, True, True]))  # no plan, keep admin moves, replan
    moves = draw(st.lists(st.tuples(st.integers(0, 20), st.integers(0, SLOTS - 1), st.integers(0, tables - 1)),
                          max_size=3))  # fmt: skip
    return {"tables": tables, "cap": cap, "persons": persons, "script": script, "plan": plan, "moves": moves}


def _free_slots(available: tuple[int, int] | None, bookmarks: list[str]) -> set[int]:
    """The slots a person may be placed in by the rules: inside availability, out of bookmarks."""
    slots = set(range(*available)) if available else set(range(SLOTS))
    for session in bookmarks:
        if SESSIONS[session] is None:
            continue
        start, end = (datetime.fromisoformat(moment) for moment in SESSIONS[session])
        slots -= {n for n, at in enumerate(GRID) if at < end and start < at + timedelta(minutes=SLOT_MINUTES)}
    return slots


def _all_meetings(client, people: list[tuple[dict, str]]) -> dict[str, dict]:
    """Every meeting, as its two sides see it through GET /me/meetings (which must agree)."""
    seen: dict[str, dict] = {}
    for headers, _ in people:
        response = client.get(f"{ME}/meetings", headers=headers)
        assert response.status_code == 200
        for meeting in response.get_json():
            assert seen.setdefault(meeting["id"], meeting) == meeting, "the two sides see different meetings"
    return seen


def _check_invariants(meetings: dict[str, dict], by_id: dict[str, int], free: list[set[int]], cap: int, tables: int):
    taken_people, taken_tables = set(), set()
    live = [0] * len(free)
    for meeting in meetings.values():
        sides = (by_id[meeting["requester"]["id"]], by_id[meeting["partner"]["id"]])
        if meeting["status"] in LIVE:
            for side in sides:
                live[side] += 1
        if meeting["status"] != "accepted" or meeting["start"] is None:
            continue
        slot = GRID.index(datetime.fromisoformat(meeting["start"]))
        assert meeting["table"] in [str(n) for n in range(1, tables + 1)]
        assert (slot, meeting["table"]) not in taken_tables, "a table twice in a slot"
        taken_tables.add((slot, meeting["table"]))
        for side in sides:
            assert (slot, side) not in taken_people, "a person twice in a slot"
            taken_people.add((slot, side))
        placements = [entry for entry in meeting["log"] if entry["what"] in ("placed", "moved", "unplaced")]
        if placements[-1]["role"] != "admin":
            assert all(slot in free[side] for side in sides), "placed outside availability or into a bookmark"
    assert max(live) <= cap, "the cap was passed"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(morning=mornings())
def test_meetings_through_the_api_keep_the_scheduling_invariants(loaded_template, morning):
    folder = Path(tempfile.mkdtemp(prefix="mm-prop-"))
    try:
        shutil.copy(loaded_template, folder / "eventdesk.sqlite3")
        app = create_app({"TESTING": True, "DATA_DIR": str(folder)})
        client, db = app.test_client(), database.connect(folder / "eventdesk.sqlite3")
        try:
            _run_morning(client, db, morning)
        finally:
            db.close()
    finally:
        shutil.rmtree(folder)


def _run_morning(client, db, morning: dict) -> None:
    admin = bearer(auth.create_token(db, "admin", label="properties"))
    setup = {"start": "2014-10-20T09:00", "end": "2014-10-20T11:00", "slot_minutes": SLOT_MINUTES,
             "table_count": morning["tables"], "cap": morning["cap"], "requests_close": "2014-10-19T18:00"}  # fmt: skip
    assert client.put(MATCH, json=setup, headers=admin).status_code == 200
    people, free = [], []
    for n, (available, bookmarks) in enumerate(morning["persons"], start=1):
        headers = attendee_headers(db, n)
        for session in bookmarks:
            assert client.put(f"{ME}/schedule/{session}", headers=headers).status_code in (200, 201)
        profile = {"organisation": f"Organisation {n}", "cluster": f"Cluster {n}", "country": "BE", "sectors": [],
                   "offer": "", "seek": "", "languages": []}  # fmt: skip
        if available:
            end = GRID[available[1] - 1] + timedelta(minutes=SLOT_MINUTES)
            profile["availability"] = [{"start": GRID[available[0]].isoformat(), "end": end.isoformat()}]
        response = client.put(f"{ME}/matchmaking", json=profile, headers=headers)
        assert response.status_code == 201, response.get_json()
        people.append((headers, response.get_json()["id"]))
        free.append(_free_slots(available, bookmarks))
    by_id = {participant_id: n for n, (_, participant_id) in enumerate(people)}
    asked: dict[int, tuple[str, int, int]] = {}  # script's meeting number -> id, requester, partner

    for step in morning["script"]:
        if step[0] == "request":
            _, n, a, b = step
            response = client.post(f"{ME}/meetings", json={"with": people[b][1]}, headers=people[a][0])
            assert response.status_code in (201, 409), response.get_json()  # 409: the cap or the pair is taken
            if response.status_code == 201:
                asked[n] = (response.get_json()["id"], a, b)
        elif step[1] in asked and step[2] is not None:
            meeting_id, a, b = asked[step[1]]
            action, who = step[2].partition("-")[0], a if step[2] == "cancel" else b
            response = client.post(f"{ME}/meetings/{meeting_id}/{action}", headers=people[who][0])
            assert response.status_code == 200, response.get_json()
    _check_invariants(_all_meetings(client, people), by_id, free, morning["cap"], morning["tables"])

    if morning["plan"] is not None:
        response = client.post(f"{MATCH}/schedule", json={"replan": morning["plan"]}, headers=admin)
        report = response.get_json()
        assert response.status_code == 200, report
        meetings = _all_meetings(client, people)
        accepted = [m for m in meetings.values() if m["status"] == "accepted"]
        placed = [m for m in accepted if m["start"] is not None]
        assert (report["accepted"], report["placed"]) == (len(accepted), len(placed))
        assert report["placed"] <= report["bound"]
        triples = [(m["id"], by_id[m["requester"]["id"]], by_id[m["partner"]["id"]]) for m in accepted]
        optimum = brute_force_optimum(triples, dict(enumerate(free)), morning["tables"])
        assert report["placed"] <= optimum
        if report["exact"]:
            assert report["placed"] == optimum, "proved optimal, yet fewer placed than possible"
        assert len(report["unplaced"]) == len(accepted) - len(placed)
        if report["exact"] and optimum == len(accepted):
            assert report["unplaced"] == [], "a full plan exists but a meeting was left out"
        _check_invariants(meetings, by_id, free, morning["cap"], morning["tables"])

    for index, slot, table in morning["moves"]:
        if asked:
            meeting_id = list(asked.values())[index % len(asked)][0]
            body = {"slot": GRID[slot].isoformat(), "table": str(table + 1)}
            response = client.patch(f"{MATCH}/meetings/{meeting_id}", json=body, headers=admin)
            assert response.status_code in (200, 409), response.get_json()
    _check_invariants(_all_meetings(client, people), by_id, free, morning["cap"], morning["tables"])
