"""The change feed: versions, deltas and the 410 that tells a client to resync."""

from __future__ import annotations

from server.programme_edit import compact_changes
from tests.conftest import API, assert_error


def test_since_zero_gives_the_whole_programme(client):
    changes = client.get(f"{API}/changes?since=0").get_json()
    programme = client.get(f"{API}/programme").get_json()

    assert (changes["since"], changes["version"]) == (0, 1)
    assert changes["upserts"]["event"] == programme["event"]
    assert changes["upserts"]["sessions"] == [s for d in programme["days"] for s in d["sessions"]]
    assert sorted(s["id"] for s in changes["upserts"]["speakers"]) == sorted(s["id"] for s in programme["speakers"])
    assert changes["deletions"] == {"sessions": [], "speakers": [], "rooms": [], "tracks": []}


def test_since_current_version_is_empty(client):
    changes = client.get(f"{API}/changes?since=1").get_json()

    assert changes == {
        "event": "ecc2014",
        "since": 1,
        "version": 1,
        "upserts": {"event": None, "sessions": [], "speakers": [], "rooms": [], "tracks": []},
        "deletions": {"sessions": [], "speakers": [], "rooms": [], "tracks": []},
    }


def test_moved_session_shows_in_changes_with_new_sequence(client, admin):
    client.patch(
        f"{API}/sessions/opening-plenary",
        json={"start": "2014-10-20T14:15", "end": "2014-10-20T15:45"},
        headers=admin,
    )

    changes = client.get(f"{API}/changes?since=1").get_json()

    assert changes["version"] == 2
    assert [s["id"] for s in changes["upserts"]["sessions"]] == ["opening-plenary"]
    moved = changes["upserts"]["sessions"][0]
    assert (moved["start"], moved["sequence"]) == ("2014-10-20T14:15:00+02:00", 1)
    assert changes["upserts"]["event"] is None


def test_deleted_then_listed_as_deletion_only(client, admin):
    client.patch(f"{API}/sessions/farewell-coffee", json={"title": "Goodbye coffee"}, headers=admin)
    client.delete(f"{API}/sessions/farewell-coffee", headers=admin)

    changes = client.get(f"{API}/changes?since=1").get_json()

    assert changes["version"] == 3
    assert changes["deletions"]["sessions"] == ["farewell-coffee"]
    assert changes["upserts"]["sessions"] == []


def test_each_step_of_the_log_is_answerable(client, admin):
    for title in ("One", "Two", "Three"):
        client.patch(f"{API}/sessions/opening-plenary", json={"title": title}, headers=admin)

    titles = [client.get(f"{API}/changes?since={n}").get_json()["upserts"]["sessions"][0]["title"] for n in (1, 2, 3)]

    assert titles == ["Three", "Three", "Three"]
    assert client.get(f"{API}/changes?since=4").get_json()["upserts"]["sessions"] == []


def test_future_version_is_gone(client):
    body = assert_error(client.get(f"{API}/changes?since=7"), 410, "gone")

    assert body["version"] == 1
    assert body["resync"] == f"{API}/programme"


def test_compacted_version_is_gone(client, admin, db):
    for title in ("One", "Two", "Three"):
        client.patch(f"{API}/sessions/opening-plenary", json={"title": title}, headers=admin)

    removed = compact_changes(db, "ecc2014", keep=1)

    assert removed > 0
    assert_error(client.get(f"{API}/changes?since=2"), 410, "gone")
    assert client.get(f"{API}/changes?since=3").get_json()["upserts"]["sessions"][0]["title"] == "Three"
