"""frab/c3voc schedule exports: valid against c3voc's schema and XSD, read back by schedule-convert, cached."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from jsonschema import Draft6Validator, FormatChecker
from lxml import etree
from schedule_convert.importers.frab_xml import FrabXmlImporter

from server import create_app, frab
from tests.conftest import API, assert_error
from tests.test_caching import PUBLIC_CACHE_CONTROL

JSON_URL = f"{API}/schedule.json"
XML_URL = f"{API}/schedule.xml"
VENDOR = Path(__file__).parent / "vendor" / "frab"
SESSIONS = 44  # in the built-in programme
VENUE = "Conference centre, Brussels (illustrative)"


def _get(client, url: str, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def _json_errors(document: dict) -> list[str]:
    """What c3voc's schema.json finds wrong, with every format it names checked."""
    schema = json.loads((VENDOR / "schema.json").read_text())
    validator = Draft6Validator(schema, format_checker=FormatChecker())
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(document)]


def _xml_errors(data: bytes) -> list[str]:
    xsd = etree.XMLSchema(etree.parse(str(VENDOR / "schedule.xml.xsd")))
    xsd.validate(etree.fromstring(data))
    return [str(error) for error in xsd.error_log]


def _events(document: dict) -> dict[str, dict]:
    """The JSON's sessions by guid, each with the day index and room it sits under."""
    return {
        item["guid"]: {**item, "_day": day["index"], "_room": room}
        for day in document["schedule"]["conference"]["days"]
        for room, items in day["rooms"].items()
        for item in items
    }


def _xml_of(client) -> bytes:
    return _get(client, XML_URL).data


def _read_back(data: bytes):
    """The XML as schedule-convert, an independent frab reader, understands it."""
    return FrabXmlImporter().parse(io.BytesIO(data))


# --- the format ------------------------------------------------------------------------------


def test_the_format_checker_really_checks_the_formats_schema_json_uses():
    """jsonschema skips a format whose library is missing: then the validation proves little."""
    checker = FormatChecker()

    failures = [name for name in ("uri", "date-time", "date", "uuid") if checker.conforms("not valid", name)]

    assert failures == []


def test_schedule_json_is_valid_against_the_c3voc_schema(client):
    document = _get(client, JSON_URL).get_json()

    assert _json_errors(document) == []
    assert len(_events(document)) == SESSIONS


def test_schedule_xml_is_valid_against_the_c3voc_xsd(client):
    response = _get(client, XML_URL)

    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert _xml_errors(response.data) == []


def test_schedule_convert_reads_every_session_of_the_xml(client):
    conference = _read_back(_get(client, XML_URL).data)

    opening = next(item for item in conference.events if item.slug == "ecc2014-opening-plenary")
    assert (conference.title, conference.slug) == (client.get(f"{API}").get_json()["title"], "ecc2014")
    assert len(conference.events) == SESSIONS
    assert sorted(conference.days) == [datetime(2014, 10, 20).date(), datetime(2014, 10, 21).date()]
    assert str(conference.timezone) == 'SimpleTZ("+02:00")'
    assert opening.start == datetime(2014, 10, 20, 14, 0)
    assert opening.duration == 90
    assert opening.room.name == "Plenary Hall"
    assert opening.track == "Cluster policy"
    assert opening.url == "http://localhost/e/ecc2014/sessions/opening-plenary"
    assert [speaker.name for speaker in opening.speakers][:2] == [
        "Project director, European Cluster Observatory",
        "Deputy Director-General, Enterprise and Industry (European Commission)",
    ]


def test_json_and_xml_carry_the_same_sessions(client):
    """The XML read back by schedule-convert agrees with the JSON, session by session."""
    events = _events(_get(client, JSON_URL).get_json())
    conference = _read_back(_get(client, XML_URL).data)

    read = {
        str(item.guid): (
            item.id,
            item.title,
            item.start.strftime("%Y-%m-%dT%H:%M"),
            item.duration,
            item.room.name,
            [speaker.name for speaker in item.speakers],
        )
        for item in conference.events
    }
    written = {
        guid: (
            str(item["id"]),
            item["title"],
            item["date"][:16],
            int(item["duration"][:2]) * 60 + int(item["duration"][3:]),
            item["room"],
            [person["name"] for person in item["persons"]],
        )
        for guid, item in events.items()
    }
    assert read == written


def test_guids_are_the_ical_uids(client):
    ics = Calendar.from_ical(_get(client, f"{API}/programme.ics").data)
    uids = {str(vevent["UID"]).removesuffix("@eventdesk") for vevent in ics.walk("VEVENT")}

    in_json = set(_events(_get(client, JSON_URL).get_json()))
    in_xml = {str(item.guid) for item in _read_back(_get(client, XML_URL).data).events}

    assert len(uids) == SESSIONS
    assert in_json == in_xml == uids
    assert in_json == {session["guid"] for session in _get(client, f"{API}/sessions").get_json()}


def test_the_document_carries_the_event_version_rooms_and_tracks(client):
    event = _get(client, API).get_json()

    schedule = _get(client, JSON_URL).get_json()["schedule"]

    conference = schedule["conference"]
    assert schedule["version"] == str(event["version"])
    assert (conference["acronym"], conference["time_zone_name"], conference["daysCount"]) == (
        "ecc2014",
        "Europe/Brussels",
        2,
    )
    assert [room["name"] for room in conference["rooms"]] == [
        "Plenary Hall",
        "Workshop Room A",
        "Workshop Room B",
        "Workshop Room C",
        VENUE,
    ]
    assert conference["tracks"][0] == {"name": "SME growth", "slug": "sme-growth", "color": "#1f77b4"}


def test_days_run_from_local_midnight_to_midnight(client):
    days = _get(client, JSON_URL).get_json()["schedule"]["conference"]["days"]

    bounds = [(day["index"], day["date"], day["day_start"], day["day_end"]) for day in days]
    assert bounds == [
        (1, "2014-10-20", "2014-10-20T00:00:00+02:00", "2014-10-21T00:00:00+02:00"),
        (2, "2014-10-21", "2014-10-21T00:00:00+02:00", "2014-10-22T00:00:00+02:00"),
    ]


def test_breaks_and_networking_are_in_the_venue_room(client):
    events = _events(_get(client, JSON_URL).get_json())

    in_venue = sorted(item["type"] for item in events.values() if item["_room"] == VENUE)
    lunch = next(item for item in events.values() if item["slug"] == "ecc2014-day1-lunch")

    assert set(in_venue) == {"break", "networking", "reception"}
    assert (lunch["_day"], lunch["type"], lunch["room"], lunch["track"]) == (1, "break", VENUE, None)


def test_persons_carry_their_public_name_only(client):
    events = _events(_get(client, JSON_URL).get_json())

    persons = [person for item in events.values() for person in item["persons"]]

    assert persons
    assert {tuple(person) for person in persons} == {("guid", "name", "public_name")}
    assert all(person["name"] == person["public_name"] for person in persons)


# --- changes, caching ------------------------------------------------------------------------


@pytest.mark.parametrize("url", [JSON_URL, XML_URL])
def test_a_repeated_read_answers_304_to_if_none_match(client, url):
    first = _get(client, url)

    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})

    assert first.headers["ETag"].startswith('"') and not first.headers["ETag"].startswith("W/")
    assert first.headers["Cache-Control"] == PUBLIC_CACHE_CONTROL
    assert "Last-Modified" in first.headers
    assert (again.status_code, again.data) == (304, b"")


@pytest.mark.parametrize("url", [JSON_URL, XML_URL])
def test_moving_a_session_changes_the_export_and_its_etag(client, admin, url):
    before = _get(client, url)

    moved = client.patch(
        f"{API}/sessions/opening-plenary",
        json={"start": "2014-10-20T14:15", "end": "2014-10-20T15:45", "room": "workshop-room-a"},
        headers=admin,
    )
    after = client.get(url, headers={"If-None-Match": before.headers["ETag"]})

    assert moved.status_code == 200
    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    opening = next(item for item in _read_back(_xml_of(client)).events if item.slug == "ecc2014-opening-plenary")
    assert (opening.start, opening.duration, opening.room.name) == (
        datetime(2014, 10, 20, 14, 15),
        90,
        "Workshop Room A",
    )
    schedule = _get(client, JSON_URL).get_json()["schedule"]
    assert schedule["version"] == str(_get(client, API).get_json()["version"])


def test_a_cancelled_session_stays_marked_cancelled(client, admin):
    before = _events(_get(client, JSON_URL).get_json())

    cancelled = client.post(f"{API}/sessions/closing-plenary/cancel", headers=admin)
    document = _get(client, JSON_URL).get_json()
    xml = _xml_of(client)

    assert cancelled.status_code == 200
    guid = cancelled.get_json()["guid"]
    after = _events(document)
    assert len(after) == SESSIONS
    assert after[guid]["title"] == "Cancelled: " + before[guid]["title"]
    assert after[guid]["description"] == "This session is cancelled."
    assert {key: value for key, value in after[guid].items() if key not in ("title", "description")} == {
        key: value for key, value in before[guid].items() if key not in ("title", "description")
    }
    (read,) = [item for item in _read_back(xml).events if str(item.guid) == guid]
    assert read.title.startswith("Cancelled: ")
    assert _json_errors(document) == [] and _xml_errors(xml) == []


def test_a_stored_title_with_control_characters_gives_valid_files(app, client):
    connection = sqlite3.connect(app.config["DATABASE"])
    with connection:  # bypassing validation, as an old import or a hand edit could
        connection.execute("UPDATE sessions SET title = 'Opening\x1b[31m\r\nplenary' WHERE id = 'opening-plenary'")
    connection.close()

    document = _get(client, JSON_URL).get_json()
    xml = _xml_of(client)

    assert _json_errors(document) == [] and _xml_errors(xml) == []
    titles = {item.slug: item.title for item in _read_back(xml).events}
    assert titles["ecc2014-opening-plenary"] == "Opening[31m\nplenary"


def test_same_data_gives_same_bytes(client, app, tmp_path):
    other = create_app({"TESTING": True, "DATABASE": app.config["DATABASE"], "DATA_DIR": str(tmp_path)})

    for url in (JSON_URL, XML_URL):
        first, cold = _get(client, url), _get(other.test_client(), url)
        assert first.data == cold.data
        assert first.headers["ETag"] == cold.headers["ETag"]


def test_absolute_urls_follow_the_public_url(tmp_path, app):
    public = create_app(
        {
            "TESTING": True,
            "DATABASE": app.config["DATABASE"],
            "DATA_DIR": str(tmp_path),
            "PUBLIC_URL": "https://agenda.example.org/ecc",
        }
    )

    schedule = _get(public.test_client(), JSON_URL).get_json()["schedule"]

    assert schedule["base_url"] == "https://agenda.example.org/ecc/"
    assert schedule["conference"]["url"] == "https://agenda.example.org/ecc/e/ecc2014/"


@pytest.mark.parametrize("url", ["/api/v1/events/nope/schedule.json", "/api/v1/events/nope/schedule.xml"])
def test_an_unknown_event_is_a_json_404(client, url):
    assert_error(client.get(url), 404)


# --- the renderer on its own -----------------------------------------------------------------


def _tiny_programme(**event_changes) -> dict:
    """A one-day event with awkward ids: a hyphenated 2-letter slug, a 1-letter session id."""
    event = {
        "slug": "my-ev",
        "title": "Tiny",
        "description": "",
        "timezone": "Europe/Brussels",
        "start_date": "2014-10-26",
        "end_date": "2014-10-26",
        "days": [{"date": "2014-10-26", "number": 1, "label": "Day 1"}],
        "venue": "",
        "url": "",
        "version": 7,
        **event_changes,
    }
    session = {
        "id": "a",
        "guid": "c1278de8-1709-50ee-abc7-429b40c86710",
        "title": "A\x0btalk",
        "type": "other",
        "track": "x-",
        "room": None,
        "day": "2014-10-26",
        "start": "2014-10-26T02:30:00+01:00",
        "end": "2014-10-26T03:10:00+01:00",
        "duration_minutes": 40,
        "abstract": "",
        "language": "fr",
        "status": "confirmed",
        "updated_at": "2014-10-01T00:00:00+00:00",
        "speakers": [{"id": "s", "name": "Zoë", "job_title": "", "organisation": "", "role": "chair"}],
    }
    return {
        "event": event,
        "rooms": [],
        "tracks": [{"id": "x-", "name": "X", "color": ""}],
        "sessions": [session],
        "numbers": {"a": 1},
        "base_url": "http://127.0.0.1:5000",
    }


def test_awkward_ids_still_give_valid_files():
    document = frab.schedule_document(**_tiny_programme())

    conference = document["schedule"]["conference"]
    (item,) = conference["days"][0]["rooms"]["Venue"]
    assert _json_errors(document) == []
    assert _xml_errors(frab.render_xml(document)) == []
    assert (conference["acronym"], item["slug"], item["start"], item["duration"]) == (
        "my_ev",
        "my_ev-a",
        "02:30",
        "00:40",
    )
    assert conference["tracks"] == [{"name": "X"}]
    assert b"A\x0btalk" not in frab.render_xml(document)  # XML 1.0 cannot hold it


def test_a_day_when_summer_time_ends_lasts_25_hours():
    (day,) = frab.schedule_document(**_tiny_programme())["schedule"]["conference"]["days"]

    start, end = datetime.fromisoformat(day["day_start"]), datetime.fromisoformat(day["day_end"])

    assert (day["day_start"], day["day_end"]) == ("2014-10-26T00:00:00+02:00", "2014-10-27T00:00:00+01:00")
    assert end - start == timedelta(hours=25)


def test_the_renderer_is_deterministic():
    first = frab.schedule_document(**_tiny_programme())
    second = frab.schedule_document(**_tiny_programme())

    assert frab.render_json(first) == frab.render_json(second)
    assert frab.render_xml(first) == frab.render_xml(second)
