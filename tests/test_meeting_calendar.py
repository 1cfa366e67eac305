"""Placed matchmaking meetings in the participant's schedule and personal calendar feed."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import icalendar
import pytest
from ical.calendar_stream import IcsCalendarStream

from tests.conftest import API, attendee_headers

ME = "/api/v1/me"
BEFORE_CLOSE = "2014-10-15T12:00:00+02:00"


@pytest.fixture(autouse=True)
def before_requests_close(monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", BEFORE_CLOSE)


def _join(client, headers: dict, organisation: str, cluster: str, country: str) -> str:
    body = {"organisation": organisation, "cluster": cluster, "country": country, "sectors": ["ict"]}
    response = client.put(f"{ME}/matchmaking", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


@pytest.fixture
def pair(client, db) -> tuple[dict, dict, str]:
    """Anna (BE) asked Bram (NL), who accepted: (Anna's headers, Bram's headers, meeting id)."""
    anna, bram = attendee_headers(db, 1), attendee_headers(db, 2)
    _join(client, anna, "Photonics Cluster Example", "Photonics Valley", "BE")
    bram_id = _join(client, bram, "Agrifood Cluster Example", "Food Delta", "NL")
    meeting = client.post(f"{ME}/meetings", json={"with": bram_id, "message": "Lasers for farms?"}, headers=anna)
    meeting_id = meeting.get_json()["id"]
    assert client.post(f"{ME}/meetings/{meeting_id}/accept", headers=bram).status_code == 200
    return anna, bram, meeting_id


def _feed(client, headers: dict) -> bytes:
    path = urlsplit(client.get(f"{ME}/calendar", headers=headers).get_json()["https"]).path
    response = client.get(path)
    assert response.status_code == 200
    return response.data


def _vevent(body: bytes, uid: str) -> icalendar.Event:
    return next(e for e in icalendar.Calendar.from_ical(body).walk("VEVENT") if str(e["UID"]) == uid)


def test_accepted_meeting_is_in_both_schedules(client, pair):
    anna, bram, meeting_id = pair

    mine = client.get(f"{ME}/schedule", headers=anna).get_json()["meetings"]
    theirs = client.get(f"{ME}/schedule", headers=bram).get_json()["meetings"]

    assert [item["id"] for item in mine] == [item["id"] for item in theirs] == [meeting_id]
    item = mine[0]
    assert (item["uid"], item["start"], item["end"]) == (
        f"meeting-{meeting_id}@eventdesk",
        "2014-10-20T09:00:00+02:00",
        "2014-10-20T09:20:00+02:00",
    )
    assert (item["title"], item["location"], item["status"], item["sequence"]) == (
        "Meeting: Agrifood Cluster Example (Food Delta)",
        f"Table {item['table']}, Workshop Room B",
        "confirmed",
        0,
    )
    assert theirs[0]["title"] == "Meeting: Photonics Cluster Example (Photonics Valley)"
    assert "Their message: Lasers for farms?" in theirs[0]["description"]
    assert mine[0]["partner"]["country"] == "NL"


def test_a_request_not_yet_accepted_is_not_in_the_schedule(client, db):
    anna, bram = attendee_headers(db, 1), attendee_headers(db, 2)
    _join(client, anna, "A", "A cluster", "BE")
    bram_id = _join(client, bram, "B", "B cluster", "NL")

    client.post(f"{ME}/meetings", json={"with": bram_id}, headers=anna)

    assert client.get(f"{ME}/schedule", headers=anna).get_json()["meetings"] == []


def test_meeting_in_the_feed_parsed_back(client, pair):
    anna, _, meeting_id = pair

    body = _feed(client, anna)

    event = _vevent(body, f"meeting-{meeting_id}@eventdesk")
    assert event["DTSTART"].dt.astimezone(UTC) == datetime(2014, 10, 20, 7, 0, tzinfo=UTC)
    assert event["DTEND"].dt.astimezone(UTC) == datetime(2014, 10, 20, 7, 20, tzinfo=UTC)
    assert str(event["SUMMARY"]) == "Meeting: Agrifood Cluster Example (Food Delta)"
    assert str(event["LOCATION"]).endswith(", Workshop Room B")
    assert (int(event["SEQUENCE"]), str(event["STATUS"])) == (0, "CONFIRMED")
    strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))
    assert [e.summary for e in strict.events if e.uid == f"meeting-{meeting_id}@eventdesk"] == [
        "Meeting: Agrifood Cluster Example (Food Delta)"
    ]


def test_moved_meeting_keeps_its_uid_with_a_higher_sequence_and_a_new_etag(client, admin, pair):
    anna, bram, meeting_id = pair
    schedule_tag = client.get(f"{ME}/schedule", headers=anna).headers["ETag"]
    path = urlsplit(client.get(f"{ME}/calendar", headers=bram).get_json()["https"]).path
    feed_tag = client.get(path).headers["ETag"]

    moved = client.patch(
        f"{API}/matchmaking/meetings/{meeting_id}", json={"slot": "2014-10-20T11:20", "table": "7"}, headers=admin
    )

    assert moved.status_code == 200, moved.get_json()
    assert client.get(f"{ME}/schedule", headers={**anna, "If-None-Match": schedule_tag}).status_code == 200
    assert client.get(path, headers={"If-None-Match": feed_tag}).status_code == 200
    event = _vevent(client.get(path).data, f"meeting-{meeting_id}@eventdesk")
    assert event["DTSTART"].dt.astimezone(UTC) == datetime(2014, 10, 20, 9, 20, tzinfo=UTC)
    assert str(event["LOCATION"]) == "Table 7, Workshop Room B"
    assert int(event["SEQUENCE"]) == 1
    strict = IcsCalendarStream.calendar_from_ics(client.get(path).data.decode("utf-8"))
    assert [e.sequence for e in strict.events if e.uid == f"meeting-{meeting_id}@eventdesk"] == [1]


def test_cancelled_meeting_stays_in_the_feed_marked_cancelled(client, pair):
    anna, bram, meeting_id = pair

    client.post(f"{ME}/meetings/{meeting_id}/cancel", headers=bram)

    event = _vevent(_feed(client, anna), f"meeting-{meeting_id}@eventdesk")
    assert (str(event["STATUS"]), int(event["SEQUENCE"])) == ("CANCELLED", 1)
    strict = IcsCalendarStream.calendar_from_ics(_feed(client, anna).decode("utf-8"))
    assert [str(e.status) for e in strict.events if e.uid == f"meeting-{meeting_id}@eventdesk"] == [
        "EventStatus.CANCELLED"
    ]
    assert client.get(f"{ME}/schedule", headers=anna).get_json()["meetings"][0]["status"] == "cancelled"


def test_unchanged_schedule_still_answers_304(client, pair):
    anna, _, _ = pair
    tag = client.get(f"{ME}/schedule", headers=anna).headers["ETag"]

    again = client.get(f"{ME}/schedule", headers={**anna, "If-None-Match": tag})

    assert again.status_code == 304
