"""The personal calendar feed: subscribe once, and every programme change follows."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import icalendar
import pytest
import resvg_py
import zxingcpp
from ical.calendar_stream import IcsCalendarStream
from PIL import Image

from tests.conftest import API, assert_error, attendee_headers, bearer

ME = "/api/v1/me"


@pytest.fixture
def person(client, db) -> dict:
    headers = attendee_headers(db)
    for session in ("opening-plenary", "access-to-finance-cluster-smes", "day2-lunch"):
        assert client.put(f"{ME}/schedule/{session}", headers=headers).status_code == 201
    return headers


def _feed_path(client, headers) -> str:
    return urlsplit(client.get(f"{ME}/calendar", headers=headers).get_json()["https"]).path


def _events(body: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(body)
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def _uid(client, session_id: str) -> str:
    return client.get(f"{API}/sessions/{session_id}").get_json()["guid"] + "@eventdesk"


def test_calendar_links_use_the_host_the_client_reached(client, person):
    links = client.get(f"{ME}/calendar", headers=person, base_url="https://events.example.org").get_json()

    https = links["https"]
    assert https.startswith("https://events.example.org/api/v1/calendars/") and https.endswith(".ics")
    assert links["webcal"] == "webcal://" + https.removeprefix("https://")
    google = urlsplit(links["google"])
    assert (google.netloc, parse_qs(google.query)["cid"]) == ("calendar.google.com", [links["webcal"]])
    assert parse_qs(urlsplit(links["outlook"]).query)["url"] == [https]


def test_calendar_link_ignores_proxy_headers_by_default(client, person):
    links = client.get(
        f"{ME}/calendar", headers={**person, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "cal.example.org"}
    ).get_json()

    assert links["https"].startswith("http://localhost/api/v1/calendars/")  # see test_deployment.py


def test_calendar_qr_code_decodes_to_the_webcal_link(client, person):
    links = client.get(f"{ME}/calendar", headers=person).get_json()

    image = Image.open(io.BytesIO(bytes(resvg_py.svg_to_bytes(svg_string=links["qr_svg"]))))

    assert [result.text for result in zxingcpp.read_barcodes(image)] == [links["webcal"]]


def test_calendar_link_is_stable_across_requests(client, person):
    first = client.get(f"{ME}/calendar", headers=person).get_json()["https"]

    second = client.get(f"{ME}/calendar", headers=person).get_json()["https"]

    assert first == second


def test_feed_holds_the_bookmarks_at_the_right_instants(client, person):
    body = client.get(_feed_path(client, person)).data

    events = _events(body)
    strict = IcsCalendarStream.calendar_from_ics(body.decode("utf-8"))

    assert set(events) == {_uid(client, s) for s in ("opening-plenary", "access-to-finance-cluster-smes", "day2-lunch")}
    opening = events[_uid(client, "opening-plenary")]
    assert opening["DTSTART"].dt.astimezone(UTC) == datetime(2014, 10, 20, 12, 0, tzinfo=UTC)
    assert opening["DTSTART"].params["TZID"] == "Europe/Brussels"
    strict_opening = next(e for e in strict.events if e.uid == _uid(client, "opening-plenary"))
    assert strict_opening.dtstart.astimezone(UTC) == datetime(2014, 10, 20, 12, 0, tzinfo=UTC)
    assert len(strict.events) == 3
    lunch = events[_uid(client, "day2-lunch")]
    assert lunch["DTSTART"].dt.astimezone(UTC) == datetime(2014, 10, 21, 10, 45, tzinfo=UTC)


def test_feed_carries_the_calendar_properties(client, person):
    calendar = icalendar.Calendar.from_ical(client.get(_feed_path(client, person)).data)

    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["X-WR-TIMEZONE"] == "Europe/Brussels"
    assert str(calendar["X-WR-CALNAME"]).startswith("My schedule — European Cluster Conference 2014")
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Europe/Brussels"]


def test_room_move_changes_location_and_sequence_but_not_uid(client, person, admin):
    path = _feed_path(client, person)
    before = client.get(path)

    moved = client.patch(
        f"{API}/sessions/access-to-finance-cluster-smes?force=true", json={"room": "workshop-room-c"}, headers=admin
    )
    after = client.get(path)

    uid = _uid(client, "access-to-finance-cluster-smes")
    old, new = _events(before.data)[uid], _events(after.data)[uid]
    assert moved.status_code == 200
    assert str(old["LOCATION"]).startswith("Workshop Room A")
    assert str(new["LOCATION"]).startswith("Workshop Room C")
    assert (int(old["SEQUENCE"]), int(new["SEQUENCE"])) == (0, 1)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert client.get(path, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200


def test_cancelled_session_stays_in_the_feed_as_cancelled(client, person, admin):
    path = _feed_path(client, person)

    client.post(f"{API}/sessions/opening-plenary/cancel", headers=admin)
    event = _events(client.get(path).data)[_uid(client, "opening-plenary")]

    assert (str(event["STATUS"]), int(event["SEQUENCE"])) == ("CANCELLED", 1)


def test_unchanged_feed_gives_same_bytes_and_304(client, person):
    path = _feed_path(client, person)

    first, second = client.get(path), client.get(path)
    by_tag = client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    by_date = client.get(path, headers={"If-Modified-Since": first.headers["Last-Modified"]})

    assert first.data == second.data
    assert first.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert (by_tag.status_code, by_date.status_code) == (304, 304)


def test_new_bookmark_changes_the_feed(client, person):
    path = _feed_path(client, person)
    before = client.get(path)

    client.put(f"{ME}/schedule/closing-plenary", headers=person)
    after = client.get(path, headers={"If-None-Match": before.headers["ETag"]})

    assert after.status_code == 200
    assert _uid(client, "closing-plenary") in _events(after.data)


def test_rotation_retires_the_old_feed_url(client, person):
    old = _feed_path(client, person)

    rotated = client.post(f"{ME}/calendar/rotate", headers=person).get_json()

    new = urlsplit(rotated["https"]).path
    assert new != old
    assert_error(client.get(old), 404, "not_found")
    assert client.get(new).status_code == 200
    assert urlsplit(client.get(f"{ME}/calendar", headers=person).get_json()["https"]).path == new


def test_feed_token_grants_nothing_else(client, person):
    token = _feed_path(client, person).rsplit("/", 1)[1].removesuffix(".ics")

    response = client.get(f"{ME}/schedule", headers=bearer(token))

    assert_error(response, 401, "unauthorized")


def test_feed_token_is_stored_only_as_a_hash(client, person, app):
    token = _feed_path(client, person).rsplit("/", 1)[1].removesuffix(".ics")

    database_bytes = Path(app.config["DATABASE"]).read_bytes() + Path(app.config["DATABASE"] + "-wal").read_bytes()

    assert token.encode() not in database_bytes


def test_erased_attendee_feed_answers_404(client, person, admin):
    path = _feed_path(client, person)
    me = client.get(ME, headers=person).get_json()

    client.delete(f"{API}/attendees/{me['id']}", headers=admin)

    assert_error(client.get(path), 404, "not_found")


def test_two_attendees_feeds_differ(client, person, db):
    other = attendee_headers(db, 2)
    client.put(f"{ME}/schedule/closing-plenary", headers=other)

    mine, theirs = (
        _events(client.get(_feed_path(client, person)).data),
        _events(client.get(_feed_path(client, other)).data),
    )

    assert set(theirs) == {_uid(client, "closing-plenary")}
    assert _uid(client, "closing-plenary") not in mine
