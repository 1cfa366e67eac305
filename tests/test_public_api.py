"""The public programme API: exact bodies for known items, times, filters and search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import API, EVENT


def test_events_lists_the_builtin_conference(client):
    events = client.get("/api/v1/events").get_json()

    assert [e["slug"] for e in events] == [EVENT]
    event = events[0]
    assert event["title"] == (
        "European Cluster Conference 2014 — Boosting SME growth, industrial renewal and regional "
        "structural change through modern cluster policies and support"
    )
    assert event["timezone"] == "Europe/Brussels"
    assert event["days"] == [
        {"date": "2014-10-20", "number": 1, "label": "Day 1, Monday 20 October 2014"},
        {"date": "2014-10-21", "number": 2, "label": "Day 2, Tuesday 21 October 2014"},
    ]
    assert event["previous_editions"] == [
        {"year": 2008, "city": "Stockholm"},
        {"year": 2010, "city": "Brussels"},
        {"year": 2012, "city": "Vienna"},
    ]
    assert event["capacity"] == 300 and event["city"] == "Brussels" and event["country"] == "BE"
    assert len(event["guiding_questions"]) == 3
    assert "eco-innovation" in event["themes"]
    assert event["version"] == 1


def test_event_detail_equals_its_list_entry(client):
    assert client.get(API).get_json() == client.get("/api/v1/events").get_json()[0]


def test_opening_plenary_body_is_exact(client):
    session = client.get(f"{API}/sessions/opening-plenary").get_json()

    speakers = session.pop("speakers")
    updated_at = session.pop("updated_at")
    assert session == {
        "id": "opening-plenary",
        "guid": "c1278de8-1709-50ee-abc7-429b40c86710",
        "title": "Opening plenary: Modern cluster policies for SME growth and industrial renewal",
        "type": "plenary",
        "track": "cluster-policy",
        "room": "plenary-hall",
        "day": "2014-10-20",
        "start": "2014-10-20T14:00:00+02:00",
        "end": "2014-10-20T15:30:00+02:00",
        "duration_minutes": 90,
        "abstract": session["abstract"],
        "language": "en",
        "capacity": None,
        "status": "confirmed",
        "sequence": 0,
    }
    assert session["abstract"].startswith("The opening plenary sets out why clusters matter")
    assert datetime.fromisoformat(updated_at).utcoffset().total_seconds() == 0
    assert speakers[0] == {
        "id": "eco-project-director",
        "name": "Project director, European Cluster Observatory",
        "job_title": "Project director",
        "organisation": "European Cluster Observatory consortium",
        "role": "chair",
    }
    assert [s["role"] for s in speakers] == [
        "chair",
        "speaker",
        "speaker",
        "panellist",
        "panellist",
        "panellist",
    ]


def test_opening_plenary_is_at_noon_utc(client):
    session = client.get(f"{API}/sessions/opening-plenary").get_json()

    start = datetime.fromisoformat(session["start"])

    assert start.astimezone(UTC) == datetime(2014, 10, 20, 12, 0, tzinfo=UTC)
    assert (start.hour, start.minute, start.utcoffset().total_seconds()) == (14, 0, 7200)


def test_programme_groups_every_session_by_day_in_time_order(client):
    programme = client.get(f"{API}/programme").get_json()
    sessions = client.get(f"{API}/sessions").get_json()

    assert programme["version"] == programme["event"]["version"] == 1
    assert [d["date"] for d in programme["days"]] == ["2014-10-20", "2014-10-21"]
    flattened = [s for day in programme["days"] for s in day["sessions"]]
    assert flattened == sessions
    for day in programme["days"]:
        assert all(s["day"] == day["date"] for s in day["sessions"])
        starts = [s["start"] for s in day["sessions"]]
        assert starts == sorted(starts)
    assert [r["id"] for r in programme["rooms"]] == [
        "plenary-hall", "workshop-room-a", "workshop-room-b", "workshop-room-c"
    ]  # fmt: skip
    assert [t["id"] for t in programme["tracks"]] == [
        "sme-growth", "industrial-renewal", "regional-change", "emerging-industries", "cluster-policy"
    ]  # fmt: skip
    assert len(programme["speakers"]) >= 40


def test_rooms_body_is_exact(client):
    rooms = client.get(f"{API}/rooms").get_json()

    assert rooms[0] == {
        "id": "plenary-hall",
        "name": "Plenary Hall",
        "capacity": 300,
        "description": "Main hall for plenary sessions and large parallel sessions (illustrative).",
        "position": 0,
    }
    assert client.get(f"{API}/rooms/workshop-room-c").get_json()["capacity"] == 40


def test_tracks_body_is_exact(client):
    track = client.get(f"{API}/tracks/sme-growth").get_json()

    assert set(track) == {"id", "name", "color", "description", "position"}
    assert (track["id"], track["position"]) == ("sme-growth", 0)
    assert track["color"].startswith("#") and len(track["color"]) == 7


def test_speaker_detail_lists_their_sessions_in_full(client):
    speaker = client.get(f"{API}/speakers/eco-project-director").get_json()
    listed = next(s for s in client.get(f"{API}/speakers").get_json() if s["id"] == "eco-project-director")

    assert speaker["name"] == "Project director, European Cluster Observatory"
    assert speaker["organisation"] == "European Cluster Observatory consortium"
    assert [s["id"] for s in speaker["sessions"]] == listed["sessions"]
    assert "opening-plenary" in listed["sessions"]
    opening = next(s for s in speaker["sessions"] if s["id"] == "opening-plenary")
    assert opening == client.get(f"{API}/sessions/opening-plenary").get_json()


def test_speakers_are_listed_by_name(client):
    names = [s["name"] for s in client.get(f"{API}/speakers").get_json()]

    assert names == sorted(names)


def _ids(client, query: str) -> list[str]:
    response = client.get(f"{API}/sessions?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return [s["id"] for s in response.get_json()]


@pytest.mark.parametrize("day", ["2", "2014-10-21"])
def test_day_filter_takes_number_or_date(client, day):
    ids = _ids(client, f"day={day}")

    assert ids[0] == "day2-welcome-coffee"
    assert ids[-1] == "farewell-coffee"
    assert "opening-plenary" not in ids


def test_track_room_type_and_speaker_filters(client):
    assert _ids(client, "track=emerging-industries") == [
        "key-enabling-technologies-emerging-industries",
        "creative-industries-cross-sectoral-innovation",
        "service-innovation-kibs",
        "emerging-industries-services",
    ]
    assert _ids(client, "type=plenary") == [
        "opening-plenary",
        "plenary-industrial-renewal",
        "closing-plenary",
    ]
    assert _ids(client, "room=plenary-hall&day=1") == [
        "opening-plenary", "clusters-engines-sme-growth", "cross-sectoral-value-chains"
    ]  # fmt: skip
    assert "opening-plenary" in _ids(client, "speaker=eco-project-director")


def test_filters_combine(client):
    assert _ids(client, "day=2&type=plenary&track=cluster-policy") == ["closing-plenary"]


def test_full_text_search_over_title_abstract_and_speakers(client):
    assert _ids(client, "q=venture capital") == ["access-to-finance-cluster-smes"]
    assert "eco-innovation-resource-efficiency" in _ids(client, "q=eco-innovation")
    by_speaker = _ids(client, "q=Observatory project director")
    assert "opening-plenary" in by_speaker


def test_full_text_search_matches_prefixes_and_ignores_operators(client):
    assert _ids(client, "q=ventu") == ["access-to-finance-cluster-smes"]
    assert _ids(client, 'q=venture" OR "x') == []
    assert _ids(client, "q=(venture*") == ["access-to-finance-cluster-smes"]


def test_empty_filter_values_are_ignored(client):
    assert _ids(client, "track=&q=") == _ids(client, "")
