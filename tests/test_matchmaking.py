"""Cluster matchmaking through the API: set-up, profiles, search and privacy, meetings and their places."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from server import create_app, meeting_plan
from tests.conftest import API, EVENT, assert_error, attendee_headers, bearer, snapshot

MATCH = f"{API}/matchmaking"
BEFORE_CLOSE = "2014-10-15T12:00:00+02:00"
AFTER_CLOSE = "2014-10-19T18:00:00+02:00"
SETUP = {
    "start": "2014-10-20T09:00",
    "end": "2014-10-20T12:15",
    "slot_minutes": 20,
    "breaks": [{"start": "2014-10-20T10:30", "end": "2014-10-20T11:00"}],
    "room": "workshop-room-b",
    "tables": ["A", "B"],
    "cap": 7,
    "requests_close": "2014-10-19T18:00",
}


@pytest.fixture(autouse=True)
def before_requests_close(monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", BEFORE_CLOSE)


def profile(**changes) -> dict:
    return {
        "organisation": "Photonics Cluster Example",
        "cluster": "Photonics Valley",
        "country": "BE",
        "sectors": ["ict"],
        "offer": "laser testing facilities",
        "seek": "partners in medical imaging",
        "languages": ["en", "fr"],
        **changes,
    }


def join(client, headers: dict, **changes) -> str:
    response = client.put("/api/v1/me/matchmaking", json=profile(**changes), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


@pytest.fixture
def people(client, db, admin):
    """The set-up SETUP (two tables, A and B) and four participants: (headers, participant id) each."""
    assert client.put(MATCH, json=SETUP, headers=admin).status_code == 200
    found = []
    for n in range(1, 5):
        headers = attendee_headers(db, n)
        found.append((headers, join(client, headers, organisation=f"Organisation {n}")))
    return found


def ask(client, asker: tuple, asked: tuple, message: str = "Shall we meet?"):
    return client.post("/api/v1/me/meetings", json={"with": asked[1], "message": message}, headers=asker[0])


def accepted(client, asker: tuple, asked: tuple) -> dict:
    meeting = ask(client, asker, asked).get_json()
    response = client.post(f"/api/v1/me/meetings/{meeting['id']}/accept", headers=asked[0])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- set-up --------------------------------------------------------------------------------


def test_builtin_conference_has_its_matchmaking_morning(client):
    response = client.get(MATCH)

    body = response.get_json()
    assert response.status_code == 200
    assert (body["start"], body["end"], body["slot_minutes"]) == (
        "2014-10-20T09:00:00+02:00",
        "2014-10-20T12:15:00+02:00",
        20,
    )
    assert [slot["start"][11:16] for slot in body["slots"]] == [
        "09:00",
        "09:20",
        "09:40",
        "10:00",
        "11:00",
        "11:20",
        "11:40",
    ]
    assert (body["room"], body["room_name"], len(body["tables"]), body["cap"]) == (
        "workshop-room-b",
        "Workshop Room B",
        40,
        7,
    )
    assert (body["requests_close"], body["requests_open"]) == ("2014-10-19T18:00:00+02:00", True)


def test_setup_round_trip(client, admin):
    numbered = {**{key: value for key, value in SETUP.items() if key != "tables"}, "table_count": 3, "cap": 4}

    response = client.put(MATCH, json=numbered, headers=admin)

    assert response.status_code == 200, response.get_json()
    assert client.get(MATCH).get_json() == response.get_json()
    assert response.get_json()["tables"] == ["1", "2", "3"]
    assert response.get_json()["cap"] == 4


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"end": "2014-10-20T08:00"}, 422, "end"),
        ({"breaks": [{"start": "2014-10-20T13:00", "end": "2014-10-20T13:30"}]}, 422, "breaks[0]"),
        ({"room": "nowhere"}, 422, "room"),
        ({"table_count": 4}, 422, "tables"),
        ({"slot_minutes": 500}, 422, "slot_minutes"),
        ({"requests_close": "soon"}, 422, "requests_close"),
        ({"colour": "red"}, 400, "colour"),
        ({"cap": "seven"}, 400, "cap"),
    ],
)
def test_setup_with_a_bad_value_is_refused_naming_it_and_changes_nothing(app, client, admin, change, status, field):
    before = snapshot(app.config["DATABASE"])

    response = client.put(MATCH, json={**SETUP, **change}, headers=admin)

    assert_error(response, status, field=field)
    assert snapshot(app.config["DATABASE"]) == before


def test_setup_needs_an_admin(client, db):
    assert_error(client.put(MATCH, json=SETUP), 401)
    assert_error(client.put(MATCH, json=SETUP, headers=attendee_headers(db)), 403)


def test_sectors_are_a_public_fixed_list(client):
    sectors = client.get(f"{MATCH}/sectors").get_json()

    assert 15 <= len(sectors) <= 20
    assert {"id": "aerospace", "name": "Aerospace"} in sectors


# --- profiles --------------------------------------------------------------------------------


def test_opt_in_read_update_and_leave(client, db):
    me = attendee_headers(db)

    created = client.put("/api/v1/me/matchmaking", json=profile(country="be"), headers=me)
    read = client.get("/api/v1/me/matchmaking", headers=me)
    updated = client.put("/api/v1/me/matchmaking", json=profile(offer="cleanrooms"), headers=me)
    left = client.delete("/api/v1/me/matchmaking", headers=me)

    assert created.status_code == 201
    body = created.get_json()
    assert body["id"].startswith("p-") and body["country"] == "BE" and body["availability"] is None
    assert read.get_json() == body
    assert (updated.status_code, updated.get_json()["id"], updated.get_json()["offer"]) == (
        200,
        body["id"],
        "cleanrooms",
    )
    assert left.status_code == 204
    assert_error(client.get("/api/v1/me/matchmaking", headers=me), 404)


def test_participants_and_only_they_get_through_the_matchmaking_list(client, db, admin):
    me = attendee_headers(db)
    attendee_id = client.get("/api/v1/me", headers=me).get_json()["id"]

    def members() -> list[str]:
        rows = db.conn.execute(
            "SELECT a.id FROM checkin_list_members m JOIN checkin_lists l ON l.pk = m.list_pk "
            "JOIN attendees a ON a.pk = m.attendee_pk WHERE l.id = 'matchmaking'"
        )
        return [row[0] for row in rows]

    join(client, me)
    joined = members()
    client.delete("/api/v1/me/matchmaking", headers=me)

    assert joined == [attendee_id]
    assert members() == []


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"sectors": ["astrology"]}, 422, "sectors[0]"),
        ({"country": "Belgium"}, 422, "country"),
        ({"languages": ["english"]}, 422, "languages[0]"),
        ({"availability": [{"start": "2014-10-20T08:00", "end": "2014-10-20T09:00"}]}, 422, "availability[0]"),
        ({"availability": [{"start": "2014-10-20T10:00", "end": "2014-10-20T09:00"}]}, 422, "availability[0].end"),
        ({"organisation": ""}, 422, "organisation"),
        ({"phone": "123"}, 400, "phone"),
    ],
)
def test_profile_with_a_bad_value_is_refused_naming_it(app, client, db, change, status, field):
    me = attendee_headers(db)
    before = snapshot(app.config["DATABASE"])

    response = client.put("/api/v1/me/matchmaking", json=profile(**change), headers=me)

    assert_error(response, status, field=field)
    assert snapshot(app.config["DATABASE"]) == before


# --- finding partners and privacy --------------------------------------------------------------


def test_participant_search_filters_by_country_sector_and_text(client, db):
    me = attendee_headers(db, 1)
    join(client, me, organisation="Home Cluster", country="BE", sectors=["ict"])
    join(client, attendee_headers(db, 2), organisation="Aero Lombardia", country="IT", sectors=["aerospace"],
         offer="composite materials testing")  # fmt: skip
    join(client, attendee_headers(db, 3), organisation="Food Valley", country="NL", sectors=["agri-food"],
         seek="packaging innovation partners")  # fmt: skip

    def names(query: str) -> list[str]:
        response = client.get(f"{MATCH}/participants{query}", headers=me)
        assert response.status_code == 200, response.get_json()
        return [item["organisation"] for item in response.get_json()]

    assert names("") == ["Aero Lombardia", "Food Valley", "Home Cluster"]
    assert names("?country=it") == ["Aero Lombardia"]
    assert names("?sector=agri-food") == ["Food Valley"]
    assert names("?q=composite") == ["Aero Lombardia"]
    assert names("?q=packag") == ["Food Valley"]
    assert names("?q=lombardia&country=NL") == []
    assert_error(client.get(f"{MATCH}/participants?sector=astrology", headers=me), 400, field="sector")


def test_non_participants_see_no_profiles(client, db):
    join(client, attendee_headers(db, 1))

    assert_error(client.get(f"{MATCH}/participants"), 401)
    assert_error(client.get(f"{MATCH}/participants", headers=attendee_headers(db, 2)), 403)


def test_hidden_profiles_are_seen_by_admins_only(client, db, admin, people):
    hidden = client.patch(f"{MATCH}/participants/{people[1][1]}", json={"hidden": True}, headers=admin)

    seen_by_participant = [item["id"] for item in client.get(f"{MATCH}/participants", headers=people[0][0]).get_json()]
    seen_by_admin = [item["id"] for item in client.get(f"{MATCH}/participants", headers=admin).get_json()]

    assert hidden.get_json()["hidden"] is True
    assert people[1][1] not in seen_by_participant and people[2][1] in seen_by_participant
    assert people[1][1] in seen_by_admin
    assert_error(ask(client, people[0], people[1]), 404, field="with")


def test_another_events_participants_are_invisible(client, db, admin, other_event, people):
    from server import attendees

    client.put(f"/api/v1/events/{other_event}/matchmaking", json={**SETUP, "room": None, "start": "2015-05-04T09:00",
               "end": "2015-05-04T10:00", "breaks": []}, headers=admin)  # fmt: skip
    person = {"name": "Elsewhere", "email": "elsewhere@example.org", "category": "cluster-manager"}
    elsewhere = bearer(attendees.create_attendee(db, other_event, person)[1])
    their_id = join(client, elsewhere, organisation="Other Event Cluster")

    ours = [item["organisation"] for item in client.get(f"{MATCH}/participants", headers=people[0][0]).get_json()]

    assert "Other Event Cluster" not in ours
    assert_error(client.get(f"{MATCH}/participants", headers=elsewhere), 403)
    assert_error(ask(client, people[0], (elsewhere, their_id)), 404)


# --- meetings --------------------------------------------------------------------------------


def test_request_then_accept_places_the_meeting_at_the_earliest_common_slot(client, people):
    anna, bram, carl, dora = people

    requested = ask(client, anna, bram)
    first = client.post(f"/api/v1/me/meetings/{requested.get_json()['id']}/accept", headers=bram[0]).get_json()
    second = accepted(client, anna, carl)
    other_pair = accepted(client, dora, bram)

    assert requested.status_code == 201
    assert requested.get_json()["status"] == "requested" and requested.get_json()["start"] is None
    assert (first["status"], first["start"], first["end"], first["table"], first["room"]) == (
        "accepted", "2014-10-20T09:00:00+02:00", "2014-10-20T09:20:00+02:00", "A", "workshop-room-b",
    )  # fmt: skip
    assert (first["requester"]["organisation"], first["partner"]["organisation"]) == (
        "Organisation 1",
        "Organisation 2",
    )
    assert [entry["what"] for entry in first["log"]] == ["requested", "accepted", "placed"]
    assert [entry["role"] for entry in first["log"]] == ["requester", "partner", "system"]
    assert (second["start"][11:16], second["table"]) == ("09:20", "A")  # Anna is busy at 09:00
    assert (other_pair["start"][11:16], other_pair["table"]) == ("09:20", "B")  # Bram too, and table A is taken
    mine = client.get("/api/v1/me/meetings", headers=anna[0]).get_json()
    assert [meeting["id"] for meeting in mine] == [first["id"], second["id"]]


def test_a_bookmarked_session_blocks_its_slots_but_a_matchmaking_session_does_not(client, people):
    anna, bram, carl, _ = people
    client.put("/api/v1/me/schedule/matchmaking-bilaterals-1", headers=anna[0])
    client.put("/api/v1/me/schedule/regional-policy-roundtable", headers=anna[0])  # 09:30-12:00

    first = accepted(client, anna, bram)
    second = accepted(client, anna, carl)
    third = accepted(client, bram, carl)

    assert first["start"][11:16] == "09:00"
    assert (second["status"], second["start"], second["table"]) == ("accepted", None, None)  # no slot left for Anna
    assert third["start"][11:16] == "09:20"


def test_only_the_partner_accepts_or_declines(app, client, people):
    anna, bram, _, _ = people
    meeting = ask(client, anna, bram).get_json()
    before = snapshot(app.config["DATABASE"])

    refused = client.post(f"/api/v1/me/meetings/{meeting['id']}/accept", headers=anna[0])
    declined = client.post(f"/api/v1/me/meetings/{meeting['id']}/decline", headers=bram[0])

    assert_error(refused, 403)
    assert declined.status_code == 200 and declined.get_json()["status"] == "declined"
    after_decline = client.post(f"/api/v1/me/meetings/{meeting['id']}/accept", headers=bram[0])
    assert_error(after_decline, 409)
    assert before != snapshot(app.config["DATABASE"])


def test_either_side_cancels_and_the_table_is_free_again(client, people):
    anna, bram, carl, dora = people
    meeting = accepted(client, anna, bram)

    cancelled = client.post(f"/api/v1/me/meetings/{meeting['id']}/cancel", headers=anna[0]).get_json()
    again = client.post(f"/api/v1/me/meetings/{meeting['id']}/cancel", headers=bram[0]).get_json()
    next_one = accepted(client, carl, dora)

    assert (cancelled["status"], cancelled["sequence"]) == ("cancelled", 1)
    assert cancelled["log"][-1]["by"] == anna[1] and cancelled["log"][-1]["role"] == "requester"
    assert again == cancelled
    assert (next_one["start"][11:16], next_one["table"]) == ("09:00", "A")


def test_someone_else_cannot_touch_a_meeting(client, people):
    anna, bram, carl, _ = people
    meeting = ask(client, anna, bram).get_json()

    assert_error(client.post(f"/api/v1/me/meetings/{meeting['id']}/cancel", headers=carl[0]), 404)


def test_leaving_cancels_my_meetings_and_partners_see_why(client, people):
    anna, bram, carl, _ = people
    placed = accepted(client, anna, bram)
    pending = ask(client, carl, anna).get_json()

    client.delete("/api/v1/me/matchmaking", headers=anna[0])

    theirs = {meeting["id"]: meeting for meeting in client.get("/api/v1/me/meetings", headers=bram[0]).get_json()}
    carls = {meeting["id"]: meeting for meeting in client.get("/api/v1/me/meetings", headers=carl[0]).get_json()}
    for meeting in (theirs[placed["id"]], carls[pending["id"]]):
        assert meeting["status"] == "cancelled"
        assert (meeting["log"][-1]["by"], meeting["log"][-1]["reason"]) == (anna[1], "participant left")


def test_a_duplicate_pair_is_refused_either_way_and_changes_nothing(app, client, people):
    anna, bram, _, _ = people
    ask(client, anna, bram)
    before = snapshot(app.config["DATABASE"])

    assert_error(ask(client, anna, bram), 409, "conflict")
    assert_error(ask(client, bram, anna), 409, "conflict")
    assert snapshot(app.config["DATABASE"]) == before


def test_the_cap_is_enforced_on_both_sides(app, client, admin, people):
    anna, bram, carl, dora = people
    client.put(MATCH, json={**SETUP, "cap": 2}, headers=admin)
    ask(client, anna, bram)
    ask(client, anna, carl)
    before = snapshot(app.config["DATABASE"])

    mine = ask(client, anna, dora)
    theirs = ask(client, dora, anna)

    assert "you have reached the cap of 2" in assert_error(mine, 409)["message"]
    assert "they have reached the cap of 2" in assert_error(theirs, 409)["message"]
    assert snapshot(app.config["DATABASE"]) == before


def test_requests_after_the_close_are_refused_and_unanswered_ones_expire(app, client, people, monkeypatch):
    anna, bram, carl, _ = people
    pending = ask(client, anna, bram).get_json()
    monkeypatch.setenv("EVENTDESK_NOW", AFTER_CLOSE)

    meetings = client.get("/api/v1/me/meetings", headers=bram[0]).get_json()
    before = snapshot(app.config["DATABASE"])
    late = ask(client, anna, carl)

    assert [(m["id"], m["status"]) for m in meetings] == [(pending["id"], "expired")]
    assert meetings[0]["log"][-1]["role"] == "system"
    assert "closed" in assert_error(late, 409)["message"]
    assert_error(client.post(f"/api/v1/me/meetings/{pending['id']}/accept", headers=bram[0]), 409)
    assert snapshot(app.config["DATABASE"]) == before


def test_meeting_myself_or_nobody_is_refused(client, people):
    anna = people[0]

    assert_error(ask(client, anna, anna), 422, field="with")
    assert_error(ask(client, anna, (None, "p-nobody")), 404, field="with")
    assert_error(client.post("/api/v1/me/meetings", json={"message": "hi"}, headers=anna[0]), 400, field="with")


def test_admin_moves_a_meeting_and_its_sequence_rises(app, client, admin, people):
    anna, bram, carl, dora = people
    meeting = accepted(client, anna, bram)
    other = accepted(client, carl, dora)  # 09:00 at table B
    url = f"{MATCH}/meetings/{meeting['id']}"

    moved = client.patch(url, json={"slot": "2014-10-20T11:00:00+02:00", "table": "B"}, headers=admin)
    before = snapshot(app.config["DATABASE"])
    taken = client.patch(f"{MATCH}/meetings/{other['id']}", json={"slot": "2014-10-20T11:00", "table": "B"},
                         headers=admin)  # fmt: skip
    no_slot = client.patch(url, json={"slot": "2014-10-20T10:40", "table": "A"}, headers=admin)

    body = moved.get_json()
    assert moved.status_code == 200, body
    assert (body["start"], body["table"], body["sequence"]) == ("2014-10-20T11:00:00+02:00", "B", 1)
    assert (body["log"][-1]["what"], body["log"][-1]["role"]) == ("moved", "admin")
    assert [m["start"] for m in client.get("/api/v1/me/meetings", headers=bram[0]).get_json()] == [body["start"]]
    assert_error(taken, 409)
    assert_error(no_slot, 422, field="slot")
    assert snapshot(app.config["DATABASE"]) == before


def test_admin_move_refuses_to_double_book_a_person(client, admin, people):
    anna, bram, carl, _ = people
    first = accepted(client, anna, bram)  # 09:00 A
    second = accepted(client, anna, carl)  # 09:20 A

    response = client.patch(f"{MATCH}/meetings/{second['id']}", json={"slot": first["start"], "table": "B"},
                            headers=admin)  # fmt: skip

    assert "already has a meeting" in assert_error(response, 409)["message"]


def test_concurrent_acceptances_never_share_a_person_or_a_table_in_a_slot(app, db, people):
    """Two app instances on one SQLite file, as two server workers: every acceptance at once."""
    client = app.test_client()
    crowd = list(people)
    for n in range(5, 12):
        headers = attendee_headers(db, n)
        crowd.append((headers, join(client, headers, organisation=f"Organisation {n}")))
    hub = crowd[0]
    requests = [ask(client, other, hub).get_json()["id"] for other in crowd[1:5]]  # the hub accepts four
    pairs = [(crowd[i], crowd[i + 1]) for i in range(5, 10, 2)]  # and three other pairs, all for table A or B
    requests += [ask(client, first, second).get_json()["id"] for first, second in pairs]
    acceptors = [hub] * 4 + [second for _, second in pairs]
    clients = [app.test_client(), create_app(dict(app.config)).test_client()]
    start = threading.Barrier(len(requests))

    def accept(index: int) -> int:
        start.wait(timeout=30)
        url = f"/api/v1/me/meetings/{requests[index]}/accept"
        return clients[index % 2].post(url, headers=acceptors[index][0]).status_code

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        statuses = list(pool.map(accept, range(len(requests))))

    assert statuses == [200] * len(requests)
    rows = db.conn.execute(
        "SELECT slot_start, table_name, requester_pk, partner_pk FROM meetings WHERE status = 'accepted'"
    ).fetchall()
    assert len(rows) == len(requests) and all(row[0] for row in rows)
    tables = [(row[0], row[1]) for row in rows]
    persons = [(row[0], pk) for row in rows for pk in (row[2], row[3])]
    assert len(set(tables)) == len(tables)
    assert len(set(persons)) == len(persons)


def test_my_meetings_need_a_profile(client, db):
    assert_error(client.get("/api/v1/me/meetings", headers=attendee_headers(db)), 404)


def test_my_meetings_carry_an_etag_and_answer_304_until_a_meeting_changes(client, admin, people):
    anna, bram, *_ = people
    requested = ask(client, anna, bram).get_json()

    first = client.get("/api/v1/me/meetings", headers=anna[0])
    etag = first.headers["ETag"]
    again = client.get("/api/v1/me/meetings", headers={**anna[0], "If-None-Match": etag})
    client.post(f"/api/v1/me/meetings/{requested['id']}/accept", headers=bram[0])
    after_accept = client.get("/api/v1/me/meetings", headers={**anna[0], "If-None-Match": etag})
    accepted_etag = after_accept.headers["ETag"]
    client.patch(f"{MATCH}/meetings/{requested['id']}", json={"slot": "2014-10-20T11:00", "table": "B"}, headers=admin)
    after_move = client.get("/api/v1/me/meetings", headers={**anna[0], "If-None-Match": accepted_etag})

    assert first.status_code == 200 and etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == "no-store"  # personal: no cache keeps it (server/headers.py)
    assert [meeting["status"] for meeting in first.get_json()] == ["requested"]
    assert again.status_code == 304 and again.headers["ETag"] == etag and again.get_data() == b""
    assert after_accept.status_code == 200 and accepted_etag != etag
    assert [(m["status"], m["table"]) for m in after_accept.get_json()] == [("accepted", "A")]
    assert after_move.status_code == 200 and after_move.headers["ETag"] not in (etag, accepted_etag)
    assert [(m["start"], m["table"], m["sequence"]) for m in after_move.get_json()] == [
        ("2014-10-20T11:00:00+02:00", "B", 1)
    ]


def test_my_meetings_etag_changes_when_requests_close_and_expire_them(client, people, monkeypatch):
    anna, bram, *_ = people
    ask(client, anna, bram)
    etag = client.get("/api/v1/me/meetings", headers=anna[0]).headers["ETag"]

    monkeypatch.setenv("EVENTDESK_NOW", AFTER_CLOSE)
    response = client.get("/api/v1/me/meetings", headers={**anna[0], "If-None-Match": etag})

    assert response.status_code == 200 and response.headers["ETag"] != etag
    assert [meeting["status"] for meeting in response.get_json()] == ["expired"]


def test_matchmaking_routes_are_event_scoped(client, admin):
    assert_error(client.get("/api/v1/events/nowhere/matchmaking"), 404)
    assert EVENT in client.get(MATCH).get_json()["event"]


# --- the slot grid (server/meeting_plan.py) ---------------------------------------------------


def test_slots_restart_after_a_break_and_never_run_past_the_window():
    from datetime import datetime, timedelta, timezone

    zone = timezone(timedelta(hours=2))
    at = lambda hour, minute: datetime(2014, 10, 20, hour, minute, tzinfo=zone)  # noqa: E731
    grid = {"start": at(9, 0), "end": at(10, 0), "slot_minutes": 25, "breaks": [(at(9, 30), at(9, 35))]}

    assert meeting_plan.slot_starts(grid) == [at(9, 0), at(9, 35)]


def test_earliest_slot_skips_busy_people_and_full_tables():
    found = meeting_plan.earliest_slot([0, 1, 2, 3], busy_a={0}, busy_b={1}, tables_used={2: {"A"}}, tables=["A", "B"])

    assert found == (2, "B")
    assert meeting_plan.earliest_slot([0], set(), set(), {0: {"A"}}, ["A"]) is None
