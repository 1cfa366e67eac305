"""The organiser's live view of the matchmaking morning through the API: who may read it, which
slot is now and next by the server clock, arrivals on the Matchmaking list, held marks, and a
fixed number of queries whatever the number of meetings."""

from __future__ import annotations

import pytest

from server import matchmaking_live
from tests.conftest import API, EVENT, assert_error, attendee_headers, bearer
from tests.test_matchmaking import BEFORE_CLOSE, MATCH, accepted, people  # noqa: F401 (people is a fixture)

LIVE = f"{MATCH}/live"
DURING_FIRST = "2014-10-20T09:05:00+02:00"


@pytest.fixture(autouse=True)
def before_requests_close(monkeypatch):
    """Requests are open while a test arranges its meetings; it then sets the clock to the morning."""
    monkeypatch.setenv("EVENTDESK_NOW", BEFORE_CLOSE)


@pytest.fixture
def morning(client, people):  # noqa: F811
    """Three accepted meetings, placed on acceptance: 1-2 at A and 3-4 at B at 09:00, 1-3 at A at 09:20."""
    return [accepted(client, people[a], people[b]) for a, b in ((0, 1), (2, 3), (0, 2))]


def at(monkeypatch, moment: str) -> None:
    monkeypatch.setenv("EVENTDESK_NOW", moment)


def attendee_id(client, who: tuple) -> str:
    return client.get("/api/v1/me", headers=who[0]).get_json()["id"]


def check_in(client, admin, attendee: str, list_id: str = "matchmaking", kind: str = "entry"):
    body = {"attendee": attendee, "list": list_id, "type": kind}
    response = client.post(f"{API}/checkins/desk", json=body, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def clock_time(slot: dict | None) -> str | None:
    return slot["start"][11:16] if slot else None


def test_live_is_for_admins_and_desk_devices(client, db, admin, morning):
    door = client.post(f"{API}/devices", json={"name": "Door A"}, headers=admin).get_json()
    desk = client.post(f"{API}/devices", json={"name": "Desk", "desk": True}, headers=admin).get_json()

    assert_error(client.get(LIVE), 401)
    assert_error(client.get(LIVE, headers=bearer("not-a-token")), 401)
    assert_error(client.get(LIVE, headers=attendee_headers(db, 9)), 403)
    assert_error(client.get(LIVE, headers=bearer(door["token"])), 403)
    assert client.get(LIVE, headers=bearer(desk["token"])).status_code == 200
    assert client.get(LIVE, headers=admin).status_code == 200


def test_live_of_an_unknown_event_or_one_without_matchmaking_is_404(client, admin, other_event):
    assert_error(client.get("/api/v1/events/nowhere/matchmaking/live", headers=admin), 404)
    assert_error(client.get(f"/api/v1/events/{other_event}/matchmaking/live", headers=admin), 404)


@pytest.mark.parametrize(
    ("moment", "current", "upcoming", "states"),
    [
        ("2014-10-20T08:30:00+02:00", None, "09:00", "next later later later later later later"),
        ("2014-10-20T09:00:00+02:00", "09:00", "09:20", "now next later later later later later"),
        ("2014-10-20T09:39:59+02:00", "09:20", "09:40", "past now next later later later later"),
        ("2014-10-20T10:45:00+02:00", None, "11:00", "past past past past next later later"),  # the break
        ("2014-10-20T11:50:00+02:00", "11:40", None, "past past past past past past now"),
        ("2014-10-20T13:00:00+02:00", None, None, "past past past past past past past"),
    ],
)
def test_live_picks_the_current_and_next_slot_by_the_server_clock(
    client, admin, morning, monkeypatch, moment, current, upcoming, states
):
    at(monkeypatch, moment)

    body = client.get(LIVE, headers=admin).get_json()

    assert body["now"] == moment
    assert (clock_time(body["current"]), clock_time(body["next"])) == (current, upcoming)
    assert " ".join(slot["state"] for slot in body["slots"]) == states


def test_live_shows_each_tables_meeting_now_and_next_with_names(client, admin, people, morning, monkeypatch):  # noqa: F811
    at(monkeypatch, DURING_FIRST)

    body = client.get(LIVE, headers=admin).get_json()

    assert (body["room"], body["room_name"], body["tables"]) == ("workshop-room-b", "Workshop Room B", ["A", "B"])
    assert (body["current"]["start"], body["current"]["end"]) == (
        "2014-10-20T09:00:00+02:00",
        "2014-10-20T09:20:00+02:00",
    )
    now = [(m["id"], m["table"], m["requester"]["organisation"], m["partner"]["organisation"])
           for m in body["current"]["meetings"]]  # fmt: skip
    assert now == [
        (morning[0]["id"], "A", "Organisation 1", "Organisation 2"),
        (morning[1]["id"], "B", "Organisation 3", "Organisation 4"),
    ]
    [later] = body["next"]["meetings"]
    assert (later["id"], later["table"], later["partner"]["organisation"]) == (morning[2]["id"], "A", "Organisation 3")
    first = body["current"]["meetings"][0]["requester"]
    assert (first["name"], first["cluster"], first["country"], first["id"]) == (
        "Attendee 1", "Photonics Valley", "BE", people[0][1]
    )  # fmt: skip
    assert (first["checked_in"], first["checked_in_at"]) == (False, None)
    assert body["counts"] == {"placed": 3, "held": 0, "current_meetings": 2, "not_arrived": 4}


def test_live_reflects_an_arrival_on_the_matchmaking_list_only(client, admin, people, morning, monkeypatch):  # noqa: F811
    at(monkeypatch, DURING_FIRST)
    check_in(client, admin, attendee_id(client, people[1]), list_id="day1-entrance")  # another list: no arrival

    assert client.get(LIVE, headers=admin).get_json()["counts"]["not_arrived"] == 4

    check_in(client, admin, attendee_id(client, people[0]))

    body = client.get(LIVE, headers=admin).get_json()
    first = body["current"]["meetings"][0]
    assert (first["requester"]["checked_in"], first["requester"]["checked_in_at"]) == (True, DURING_FIRST)
    assert first["partner"]["checked_in"] is False
    assert body["next"]["meetings"][0]["requester"]["checked_in"] is True  # the same person at 09:20
    assert body["counts"]["not_arrived"] == 3


def test_live_keeps_an_arrival_after_a_check_out_and_forgets_an_undone_one(client, admin, people, morning, monkeypatch):  # noqa: F811
    at(monkeypatch, DURING_FIRST)
    who = attendee_id(client, people[0])
    check_in(client, admin, who)
    check_in(client, admin, who, kind="exit")
    mistaken = check_in(client, admin, attendee_id(client, people[1]))
    assert client.post(f"{API}/checkins/{mistaken['id']}/undo", headers=admin).status_code == 200

    first = client.get(LIVE, headers=admin).get_json()["current"]["meetings"][0]

    assert (first["requester"]["checked_in"], first["partner"]["checked_in"]) == (True, False)


def test_live_shows_held_marks(client, admin, people, morning, monkeypatch):  # noqa: F811
    at(monkeypatch, "2014-10-20T09:25:00+02:00")
    for who in (people[0], people[1]):
        response = client.post(f"/api/v1/me/meetings/{morning[0]['id']}/held", json={"held": True}, headers=who[0])
        assert response.status_code == 200, response.get_json()
    client.post(f"/api/v1/me/meetings/{morning[2]['id']}/held", json={"held": False}, headers=people[2][0])
    at(monkeypatch, DURING_FIRST)  # back in the first slot, to see that meeting at its table

    body = client.get(LIVE, headers=admin).get_json()

    first = body["current"]["meetings"][0]
    assert (first["held"], first["held_by"]) == (True, {"requester": True, "partner": True})
    later = body["next"]["meetings"][0]
    assert (later["held"], later["held_by"]) == (False, {"requester": None, "partner": False})
    assert body["counts"]["held"] == 1


def test_live_reads_a_fixed_number_of_statements_however_many_meetings(client, db, people, morning, monkeypatch):  # noqa: F811
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    at(monkeypatch, DURING_FIRST)
    matchmaking_live.live(db, EVENT)
    few = len(statements)
    at(monkeypatch, BEFORE_CLOSE)
    accepted(client, people[1], people[3])  # one more meeting in the next slot, at table B
    at(monkeypatch, DURING_FIRST)
    statements.clear()

    document = matchmaking_live.live(db, EVENT)

    db.conn.set_trace_callback(None)
    assert len(document["current"]["meetings"]) + len(document["next"]["meetings"]) == 4
    assert len(statements) == few <= 8
