"""Personal schedules: idempotent bookmarks, overlap warnings, seat limits and the last-seat race."""

from __future__ import annotations

import threading

import pytest

from server.programme_edit import update_session
from tests.conftest import API, assert_error, attendee_headers, snapshot

ME = "/api/v1/me"


@pytest.fixture
def alice(db) -> dict:
    return attendee_headers(db, 1)


def test_bookmark_is_created_once_then_repeated_idempotently(client, alice, db):
    first = client.put(f"{ME}/schedule/opening-plenary", headers=alice)

    again = client.put(f"{ME}/schedule/opening-plenary", headers=alice)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["session"]["id"] == "opening-plenary"
    assert first.get_json()["seats_left"] is None
    assert first.get_json()["overlaps"] == []
    assert db.conn.execute("SELECT COUNT(*) FROM schedule_items").fetchone()[0] == 1


def test_schedule_lists_items_in_time_order_with_full_sessions(client, alice):
    for session in ("closing-plenary", "opening-plenary", "access-to-finance-cluster-smes"):
        client.put(f"{ME}/schedule/{session}", headers=alice)

    schedule = client.get(f"{ME}/schedule", headers=alice).get_json()

    assert [item["session"]["id"] for item in schedule["items"]] == [
        "opening-plenary",
        "access-to-finance-cluster-smes",
        "closing-plenary",
    ]
    assert schedule["items"][0]["session"] == client.get(f"{API}/sessions/opening-plenary").get_json()
    assert schedule["event"] == "ecc2014"
    assert schedule["meetings"] == []
    assert schedule["overlap_count"] == 0


def test_overlapping_bookmarks_are_flagged_not_refused(client, alice):
    client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=alice)

    response = client.put(f"{ME}/schedule/smart-specialisation-cluster-policy", headers=alice)
    schedule = client.get(f"{ME}/schedule", headers=alice).get_json()

    assert response.status_code == 201
    assert response.get_json()["overlaps"] == ["access-to-finance-cluster-smes"]
    assert schedule["overlap_count"] == 2
    assert {item["session"]["id"]: item["overlaps"] for item in schedule["items"]} == {
        "access-to-finance-cluster-smes": ["smart-specialisation-cluster-policy"],
        "smart-specialisation-cluster-policy": ["access-to-finance-cluster-smes"],
    }


def test_back_to_back_sessions_do_not_overlap(client, alice):
    client.put(f"{ME}/schedule/opening-plenary", headers=alice)

    response = client.put(f"{ME}/schedule/clusters-engines-sme-growth", headers=alice)

    assert response.get_json()["overlaps"] == []


def test_removing_is_idempotent(client, alice, db):
    client.put(f"{ME}/schedule/opening-plenary", headers=alice)

    first = client.delete(f"{ME}/schedule/opening-plenary", headers=alice)
    again = client.delete(f"{ME}/schedule/opening-plenary", headers=alice)

    assert (first.status_code, again.status_code) == (204, 204)
    assert client.get(f"{ME}/schedule", headers=alice).get_json()["items"] == []
    assert db.conn.execute("SELECT COUNT(*) FROM schedule_items").fetchone()[0] == 0


def test_unknown_session_is_404_for_put_and_delete(client, alice):
    assert_error(client.put(f"{ME}/schedule/no-such-session", headers=alice), 404, "not_found")
    assert_error(client.delete(f"{ME}/schedule/no-such-session", headers=alice), 404, "not_found")


def _limit_seats(db, session_id: str, capacity: int) -> None:
    update_session(db, "ecc2014", session_id, {"capacity": capacity})


def test_seats_left_counts_every_attendees_bookmark(client, db):
    _limit_seats(db, "access-to-finance-cluster-smes", 3)
    first, second = attendee_headers(db, 1), attendee_headers(db, 2)
    client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=first)

    response = client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=second)

    assert response.get_json()["seats_left"] == 1
    assert client.get(f"{ME}/schedule", headers=first).get_json()["items"][0]["seats_left"] == 1


def test_full_session_is_refused_and_nothing_changes(app, client, db):
    _limit_seats(db, "access-to-finance-cluster-smes", 1)
    first, second = attendee_headers(db, 1), attendee_headers(db, 2)
    client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=first)
    before = snapshot(app.config["DATABASE"])

    response = client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=second)

    body = assert_error(response, 409, "conflict")
    assert (body["reason"], body["seats_left"]) == ("full", 0)
    assert snapshot(app.config["DATABASE"]) == before


def test_holder_of_a_seat_may_repeat_the_bookmark_when_full(client, db):
    _limit_seats(db, "access-to-finance-cluster-smes", 1)
    first = attendee_headers(db, 1)
    client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=first)

    again = client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=first)

    assert again.status_code == 200
    assert again.get_json()["seats_left"] == 0


def test_two_requests_for_the_last_seat_exactly_one_wins(app, db):
    _limit_seats(db, "access-to-finance-cluster-smes", 1)
    people = [attendee_headers(db, n) for n in range(1, 7)]
    barrier = threading.Barrier(len(people))
    statuses = []

    def book(headers: dict) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=headers).status_code)

    threads = [threading.Thread(target=book, args=(headers,)) for headers in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    taken = db.conn.execute(
        "SELECT COUNT(*) FROM schedule_items WHERE session_id = 'access-to-finance-cluster-smes'"
    ).fetchone()[0]
    assert taken == 1


def test_cancelled_session_stays_in_the_schedule_marked_cancelled(client, alice, admin):
    client.put(f"{ME}/schedule/opening-plenary", headers=alice)
    client.put(f"{ME}/schedule/clusters-engines-sme-growth", headers=alice)

    client.post(f"{API}/sessions/opening-plenary/cancel", headers=admin)
    schedule = client.get(f"{ME}/schedule", headers=alice).get_json()

    assert [(i["session"]["id"], i["session"]["status"]) for i in schedule["items"]] == [
        ("opening-plenary", "cancelled"),
        ("clusters-engines-sme-growth", "confirmed"),
    ]


def test_cancelled_session_cannot_be_newly_bookmarked(app, client, alice, admin):
    client.post(f"{API}/sessions/opening-plenary/cancel", headers=admin)
    before = snapshot(app.config["DATABASE"])

    response = client.put(f"{ME}/schedule/opening-plenary", headers=alice)

    assert assert_error(response, 409, "conflict")["reason"] == "cancelled"
    assert snapshot(app.config["DATABASE"]) == before


def test_cancelled_sessions_do_not_count_as_overlaps(client, alice, admin):
    client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=alice)
    client.put(f"{ME}/schedule/smart-specialisation-cluster-policy", headers=alice)

    client.post(f"{API}/sessions/smart-specialisation-cluster-policy/cancel", headers=admin)
    schedule = client.get(f"{ME}/schedule", headers=alice).get_json()

    assert schedule["overlap_count"] == 0


def test_deleted_session_leaves_the_schedule(client, alice, admin):
    client.put(f"{ME}/schedule/farewell-coffee", headers=alice)

    client.delete(f"{API}/sessions/farewell-coffee", headers=admin)

    assert client.get(f"{ME}/schedule", headers=alice).get_json()["items"] == []


def test_moved_session_shows_its_new_time_in_the_schedule(client, alice, admin):
    client.put(f"{ME}/schedule/opening-plenary", headers=alice)

    client.patch(
        f"{API}/sessions/opening-plenary", json={"start": "2014-10-20T14:15", "end": "2014-10-20T15:45"}, headers=admin
    )
    item = client.get(f"{ME}/schedule", headers=alice).get_json()["items"][0]

    assert (item["session"]["start"], item["session"]["sequence"]) == ("2014-10-20T14:15:00+02:00", 1)


def test_me_returns_the_attendees_own_record(client, alice):
    me = client.get(ME, headers=alice).get_json()

    assert (me["name"], me["email"], me["category"], me["event"]) == (
        "Attendee 1",
        "person1@example.org",
        "cluster-manager",
        "ecc2014",
    )
    assert me["has_api_token"] is True


def test_me_needs_a_token(client):
    assert_error(client.get(f"{ME}/schedule"), 401, "unauthorized")


# --- revalidation: apps poll /me/schedule --------------------------------------------------------


def _schedule(client, headers: dict, etag: str | None = None):
    return client.get(f"{ME}/schedule", headers={**headers, **({"If-None-Match": etag} if etag else {})})


def test_schedule_answers_304_until_something_it_shows_changes(client, db, admin):
    _limit_seats(db, "access-to-finance-cluster-smes", 5)
    alice, bob = attendee_headers(db, 1), attendee_headers(db, 2)
    client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=alice)
    client.put(f"{ME}/schedule/opening-plenary", headers=alice)
    first = _schedule(client, alice)
    etags = [first.headers["ETag"]]

    unchanged = _schedule(client, alice, etags[-1])
    client.put(f"{ME}/schedule/access-to-finance-cluster-smes", headers=bob)  # someone else takes a seat
    after_seat = _schedule(client, alice, etags[-1])
    etags.append(after_seat.headers["ETag"])
    client.patch(f"{API}/sessions/opening-plenary", json={"title": "Opening"}, headers=admin)
    after_edit = _schedule(client, alice, etags[-1])
    etags.append(after_edit.headers["ETag"])
    client.delete(f"{ME}/schedule/opening-plenary", headers=alice)
    after_removal = _schedule(client, alice, etags[-1])
    etags.append(after_removal.headers["ETag"])

    assert (first.status_code, first.headers["Cache-Control"]) == (
        200,
        "no-store",
    )  # 304s still work for the app that keeps the ETag
    assert (unchanged.status_code, unchanged.data) == (304, b"")
    seats = {item["session"]["id"]: item["seats_left"] for item in after_seat.get_json()["items"]}
    assert (after_seat.status_code, seats["access-to-finance-cluster-smes"]) == (200, 3)
    assert after_edit.status_code == 200
    titles = {item["session"]["id"]: item["session"]["title"] for item in after_edit.get_json()["items"]}
    assert titles["opening-plenary"] == "Opening"
    assert after_removal.status_code == 200
    assert [item["session"]["id"] for item in after_removal.get_json()["items"]] == ["access-to-finance-cluster-smes"]
    assert len(set(etags)) == 4


def test_schedule_of_one_attendee_is_never_served_to_another(client, db):
    alice, bob = attendee_headers(db, 1), attendee_headers(db, 2)
    client.put(f"{ME}/schedule/opening-plenary", headers=alice)
    mine = _schedule(client, alice)

    theirs = _schedule(client, bob, mine.headers["ETag"])

    assert theirs.status_code == 200
    assert theirs.get_json()["attendee"] != mine.get_json()["attendee"]
    assert theirs.get_json()["items"] == []
