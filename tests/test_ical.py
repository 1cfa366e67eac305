"""Calendar feeds: parsed back with icalendar and with the strict `ical` package, cached like JSON."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from ical.calendar_stream import IcsCalendarStream
from icalendar import Calendar
from werkzeug.http import http_date, parse_date

from server import create_app, ical
from tests.conftest import API, assert_error

# What a public read allows a shared cache (server/api/caching.py); browsers revalidate every time.
PUBLIC_CACHE_CONTROL = "public, max-age=0, must-revalidate, s-maxage=1, stale-while-revalidate=5, stale-if-error=86400"

FEED = f"{API}/programme.ics"
OPENING = f"{API}/sessions/opening-plenary.ics"
BRUSSELS = ZoneInfo("Europe/Brussels")


def _get(client, url: str, **kwargs):
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def _both(data: bytes):
    """The feed parsed by icalendar and by the strict RFC 5545 parser `ical`."""
    text = data.decode("utf-8")
    return Calendar.from_ical(text), IcsCalendarStream.calendar_from_ics(text)


def _vevents(data: bytes) -> dict:
    """icalendar's VEVENTs by UID."""
    return {str(vevent["UID"]): vevent for vevent in Calendar.from_ical(data).walk("VEVENT")}


def _uid(client, session_id: str) -> str:
    return f"{client.get(f'{API}/sessions/{session_id}').get_json()['guid']}@eventdesk"


# --- what the feed says --------------------------------------------------------------------


def test_programme_feed_has_every_session_in_both_parsers(client):
    sessions = client.get(f"{API}/sessions").get_json()

    lenient, strict = _both(_get(client, FEED).data)

    uids = {f"{session['guid']}@eventdesk" for session in sessions}
    assert len(sessions) == 44
    assert {str(vevent["UID"]) for vevent in lenient.walk("VEVENT")} == uids
    assert {vevent.uid for vevent in strict.events} == uids
    assert len(strict.events) == 44


@pytest.mark.parametrize(
    ("session_id", "start_utc", "end_utc"),
    [
        ("opening-plenary", datetime(2014, 10, 20, 12, 0, tzinfo=UTC), datetime(2014, 10, 20, 13, 30, tzinfo=UTC)),
        (
            "plenary-industrial-renewal",
            datetime(2014, 10, 21, 6, 30, tzinfo=UTC),
            datetime(2014, 10, 21, 8, 0, tzinfo=UTC),
        ),
    ],
)
def test_session_times_are_summer_time_in_both_parsers(client, session_id, start_utc, end_utc):
    uid = _uid(client, session_id)

    lenient, strict = _both(_get(client, FEED).data)

    (mine,) = [vevent for vevent in lenient.walk("VEVENT") if str(vevent["UID"]) == uid]
    (theirs,) = [vevent for vevent in strict.events if vevent.uid == uid]
    for start, end in ((mine.decoded("DTSTART"), mine.decoded("DTEND")), (theirs.dtstart, theirs.dtend)):
        assert (start.astimezone(UTC), end.astimezone(UTC)) == (start_utc, end_utc)
        assert start.utcoffset() == end.utcoffset() == timedelta(hours=2)


def test_times_carry_the_event_zone_and_never_float(client):
    data = _get(client, FEED).data

    lenient, strict = _both(data)

    starts = [line for line in data.decode().splitlines() if line.startswith(("DTSTART", "DTEND"))]
    assert len(starts) == 2 * 44 + 3  # every VEVENT's two, and the VTIMEZONE's three observances
    assert [line for line in starts if ";TZID=Europe/Brussels:" not in line] == [
        "DTSTART:20140101T000000",
        "DTSTART:20140330T020000",
        "DTSTART:20141026T030000",
    ]
    assert all(vevent.decoded("DTSTART").tzinfo is not None for vevent in lenient.walk("VEVENT"))
    assert all(vevent.dtstart.tzinfo is not None and vevent.dtend.tzinfo is not None for vevent in strict.events)


def test_vtimezone_has_both_observances_of_the_event_year(client):
    lenient, strict = _both(_get(client, FEED).data)

    (vtimezone,) = lenient.walk("VTIMEZONE")
    (timezone,) = strict.timezones
    assert str(vtimezone["TZID"]) == timezone.tz_id == "Europe/Brussels"
    assert [(str(o["TZNAME"]), o.decoded("DTSTART")) for o in vtimezone.walk("DAYLIGHT")] == [
        ("CEST", datetime(2014, 3, 30, 2, 0))
    ]
    assert [(str(o["TZNAME"]), o.decoded("DTSTART")) for o in vtimezone.walk("STANDARD")] == [
        ("CET", datetime(2014, 1, 1, 0, 0)),
        ("CET", datetime(2014, 10, 26, 3, 0)),
    ]
    assert (len(timezone.standard), len(timezone.daylight)) == (2, 1)


def test_vtimezone_onsets_are_the_real_transitions(client):
    """RFC 5545 §3.6.5: an onset is local time in TZOFFSETFROM; both must match tzdata."""
    (vtimezone,) = Calendar.from_ical(_get(client, FEED).data).walk("VTIMEZONE")

    changes = [o for o in vtimezone.subcomponents if o.decoded("TZOFFSETFROM") != o.decoded("TZOFFSETTO")]

    assert len(changes) == 2
    for observance in changes:
        before, after = observance.decoded("TZOFFSETFROM"), observance.decoded("TZOFFSETTO")
        onset = (observance.decoded("DTSTART") - before).replace(tzinfo=UTC)
        assert (onset - timedelta(seconds=1)).astimezone(BRUSSELS).utcoffset() == before
        assert onset.astimezone(BRUSSELS).utcoffset() == after
        assert onset.hour == 1  # the EU changes clocks at 01:00 UTC


def test_calendar_properties(client):
    text = _get(client, FEED).get_data(as_text=True)

    lenient, _ = _both(text.encode())

    title = client.get(API).get_json()["title"]
    assert str(lenient["PRODID"]) == "-//Eventdesk//Eventdesk 0.1.0//EN"
    assert (str(lenient["VERSION"]), str(lenient["CALSCALE"]), str(lenient["METHOD"])) == (
        "2.0",
        "GREGORIAN",
        "PUBLISH",
    )
    assert str(lenient["NAME"]) == str(lenient["X-WR-CALNAME"]) == title
    assert str(lenient["X-WR-TIMEZONE"]) == "Europe/Brussels"
    assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text
    assert "\r\nX-PUBLISHED-TTL:PT1H\r\n" in text


def test_filtered_feed_is_named_after_its_filters(client):
    title = client.get(API).get_json()["title"]

    data = _get(client, FEED, query_string={"track": "sme-growth", "day": "1"}).data

    assert str(Calendar.from_ical(data)["NAME"]) == f"{title} — SME growth, Day 1, Monday 20 October 2014"


def test_refresh_interval_comes_from_config(tmp_path, loaded_template):
    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CALENDAR_REFRESH_SECONDS": 900})

    text = _get(app.test_client(), FEED).get_data(as_text=True)

    assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT15M\r\n" in text
    assert "\r\nX-PUBLISHED-TTL:PT15M\r\n" in text


def test_session_vevent_is_exact(client):
    session = client.get(f"{API}/sessions/opening-plenary").get_json()

    (vevent,) = Calendar.from_ical(_get(client, OPENING).data).walk("VEVENT")

    url = f"http://localhost{API}/sessions/opening-plenary"
    speakers = "\n".join(f"{s['name']} ({s['role']}), {s['organisation']}" for s in session["speakers"])
    stamp = datetime.fromisoformat(session["updated_at"])
    assert str(vevent["UID"]) == f"{session['guid']}@eventdesk"
    assert str(vevent["SUMMARY"]) == session["title"]
    assert str(vevent["LOCATION"]) == "Plenary Hall, Conference centre, Brussels (illustrative), Brussels"
    assert str(vevent["DESCRIPTION"]) == f"{session['abstract']}\n\nSpeakers:\n{speakers}\n\n{url}"
    assert str(vevent["URL"]) == url
    assert [str(category) for category in vevent["CATEGORIES"].cats] == ["Cluster policy", "plenary"]
    assert str(vevent["STATUS"]) == "CONFIRMED"
    assert vevent.decoded("SEQUENCE") == 0
    assert vevent.decoded("DTSTAMP") == vevent.decoded("LAST-MODIFIED") == stamp
    assert vevent.decoded("DTSTAMP").tzinfo is not None and stamp.utcoffset() == timedelta(0)


def test_session_calendar_is_named_after_the_session(client):
    title = client.get(f"{API}/sessions/opening-plenary").get_json()["title"]

    lenient, strict = _both(_get(client, OPENING).data)

    assert str(lenient["NAME"]) == title
    assert len(strict.events) == 1


def test_breaks_are_events_at_the_venue(client):
    uid = _uid(client, "day1-lunch")

    vevent = _vevents(_get(client, FEED).data)[uid]

    assert str(vevent["LOCATION"]) == "Conference centre, Brussels (illustrative), Brussels"
    assert [str(category) for category in vevent["CATEGORIES"].cats] == ["break"]
    assert vevent.decoded("DTSTART") == datetime(2014, 10, 20, 12, 30, tzinfo=BRUSSELS)


def test_events_are_sorted_by_start_then_id(client):
    sessions = client.get(f"{API}/sessions").get_json()

    lenient = Calendar.from_ical(_get(client, FEED).data)

    expected = sorted(sessions, key=lambda s: (datetime.fromisoformat(s["start"]), s["id"]))
    assert [str(v["UID"]) for v in lenient.walk("VEVENT")] == [f"{s['guid']}@eventdesk" for s in expected]


@pytest.mark.parametrize(
    "query",
    [
        {"track": "sme-growth"},
        {"room": "plenary-hall"},
        {"day": "2"},
        {"day": "2014-10-20"},
        {"type": "break"},
        {"type": "plenary", "day": "1"},
        {"speaker": "eco-project-director"},
        {"q": "venture capital"},
    ],
    ids=lambda query: "&".join(f"{k}={v}" for k, v in query.items()),
)
def test_filters_pick_the_same_sessions_as_the_json_list(client, query):
    sessions = client.get(f"{API}/sessions", query_string=query).get_json()

    _, strict = _both(_get(client, FEED, query_string=query).data)

    assert sessions
    assert sorted(vevent.uid for vevent in strict.events) == sorted(f"{s['guid']}@eventdesk" for s in sessions)


# --- programme changes reach the feed ------------------------------------------------------


def test_cancelled_session_stays_with_status_cancelled(client, admin):
    uid = _uid(client, "closing-plenary")

    cancelled = client.post(f"{API}/sessions/closing-plenary/cancel", headers=admin)
    _, strict = _both(_get(client, FEED).data)

    assert cancelled.status_code == 200
    (vevent,) = [vevent for vevent in strict.events if vevent.uid == uid]
    assert vevent.status.value == "CANCELLED"
    assert vevent.sequence == 1
    assert len(strict.events) == 44


def test_moving_a_session_changes_location_and_sequence_not_uid(client, admin):
    before = _get(client, OPENING)
    (old,) = Calendar.from_ical(before.data).walk("VEVENT")

    moved = client.patch(f"{API}/sessions/opening-plenary", json={"room": "workshop-room-a"}, headers=admin)
    after = _get(client, OPENING, headers={"If-None-Match": before.headers["ETag"]})

    (new,) = Calendar.from_ical(after.data).walk("VEVENT")
    assert moved.status_code == 200
    assert str(new["UID"]) == str(old["UID"])
    assert str(new["LOCATION"]) == "Workshop Room A, Conference centre, Brussels (illustrative), Brussels"
    assert (old.decoded("SEQUENCE"), new.decoded("SEQUENCE")) == (0, 1)
    assert new.decoded("LAST-MODIFIED") == datetime.fromisoformat(moved.get_json()["updated_at"])
    assert after.headers["ETag"] != before.headers["ETag"]


def test_room_rename_reaches_the_feed_and_last_modified(client, admin, monkeypatch):
    """The session row is untouched, but the feed changed: Last-Modified must move."""
    before = _get(client, OPENING)
    monkeypatch.setenv("EVENTDESK_NOW", "2099-10-19T18:00:00+00:00")  # surely after the load

    client.patch(f"{API}/rooms/plenary-hall", json={"name": "Main Hall"}, headers=admin)
    after = client.get(OPENING, headers={"If-Modified-Since": before.headers["Last-Modified"]})

    assert after.status_code == 200
    assert after.headers["Last-Modified"] == "Mon, 19 Oct 2099 18:00:00 GMT"
    assert str(Calendar.from_ical(after.data).walk("VEVENT")[0]["LOCATION"]).startswith("Main Hall, ")


# --- caching, conditional requests, encoding -----------------------------------------------


@pytest.mark.parametrize("url", [FEED, OPENING, f"{FEED}?track=sme-growth"])
def test_feeds_are_text_calendar_with_strong_etag_and_last_modified(client, url):
    response = _get(client, url)

    etag = response.headers["ETag"]
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert etag.startswith('"') and not etag.startswith("W/")
    assert response.headers["Cache-Control"] == PUBLIC_CACHE_CONTROL
    assert parse_date(response.headers["Last-Modified"]) is not None


def test_same_data_gives_same_bytes(client, app, tmp_path):
    other = create_app({"TESTING": True, "DATABASE": app.config["DATABASE"], "DATA_DIR": str(tmp_path)})

    first, second, cold = _get(client, FEED), _get(client, FEED), _get(other.test_client(), FEED)

    assert first.data == second.data == cold.data
    assert first.headers["ETag"] == second.headers["ETag"] == cold.headers["ETag"]


def test_last_modified_is_the_programmes_last_change(client, db):
    stamp = db.conn.execute("SELECT updated_at FROM events WHERE slug = 'ecc2014'").fetchone()[0]

    response = _get(client, FEED)

    assert parse_date(response.headers["Last-Modified"]) == datetime.fromisoformat(stamp)


def test_if_none_match_gives_304(client):
    etag = _get(client, FEED).headers["ETag"]

    response = client.get(FEED, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == etag


def test_if_modified_since_last_modified_gives_304(client):
    first = _get(client, FEED)

    response = client.get(FEED, headers={"If-Modified-Since": first.headers["Last-Modified"]})

    assert response.status_code == 304
    assert response.data == b""
    assert response.headers["ETag"] == first.headers["ETag"]


def test_older_if_modified_since_gives_the_body(client):
    first = _get(client, FEED)
    older = http_date(parse_date(first.headers["Last-Modified"]) - timedelta(seconds=1))

    response = client.get(FEED, headers={"If-Modified-Since": older})

    assert response.status_code == 200
    assert response.data == first.data


def test_if_none_match_takes_precedence_over_if_modified_since(client):
    first = _get(client, FEED)

    response = client.get(
        FEED, headers={"If-None-Match": '"stale"', "If-Modified-Since": first.headers["Last-Modified"]}
    )

    assert response.status_code == 200
    assert response.data == first.data


def test_unparseable_if_modified_since_is_ignored(client):
    response = client.get(FEED, headers={"If-Modified-Since": "yesterday"})

    assert response.status_code == 200


def test_gzip_when_accepted_with_its_own_etag(client):
    plain = _get(client, FEED)

    zipped = _get(client, FEED, headers={"Accept-Encoding": "gzip"})

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert "Content-Encoding" not in plain.headers


# --- routing and errors --------------------------------------------------------------------


def test_session_ics_routes_to_the_calendar_not_the_json(client):
    calendar = client.get(OPENING)
    json = client.get(f"{API}/sessions/opening-plenary")

    assert (calendar.status_code, calendar.mimetype) == (200, "text/calendar")
    assert (json.status_code, json.mimetype) == (200, "application/json")


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ({"day": "3"}, 404, "not_found", "day"),
        ({"day": "monday"}, 400, "bad_parameter", "day"),
        ({"track": "nope"}, 404, "not_found", "track"),
        ({"room": "nope"}, 404, "not_found", "room"),
        ({"type": "banquet"}, 400, "bad_parameter", "type"),
    ],
    ids=lambda value: "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None,
)
def test_bad_filters_give_the_json_error(client, query, status, code, field):
    response = client.get(FEED, query_string=query)

    body = assert_error(response, status, code, field)
    assert "ETag" not in response.headers
    assert list(body["fields"]) == [field]


@pytest.mark.parametrize(
    ("url", "resource"),
    [(f"{API}/sessions/no-such-session.ics", "session"), ("/api/v1/events/zzz/programme.ics", "event")],
)
def test_unknown_session_or_event_is_json_not_found(client, url, resource):
    response = client.get(url)

    body = assert_error(response, 404, "not_found")
    assert body["resource"] == resource


def test_spec_documents_the_feeds(client):
    paths = client.get("/api/v1/swagger.json").get_json()["paths"]

    for path in ("/events/{event}/programme.ics", "/events/{event}/sessions/{session_id}.ics"):
        assert paths[path]["get"]["produces"] == ["text/calendar", "application/json"]  # errors are JSON
        assert {"200", "304", "404"} <= set(paths[path]["get"]["responses"])


# --- behind a reverse proxy ----------------------------------------------------------------

PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "calendar.example.org"}


def test_forwarded_scheme_and_host_reach_the_urls_and_the_etag_behind_a_trusted_proxy(tmp_path, loaded_template):
    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    client = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "TRUSTED_PROXIES": 1}).test_client()
    direct = _get(client, OPENING)

    proxied = _get(client, OPENING, headers=PROXIED)
    prefixed = _get(client, OPENING, headers={**PROXIED, "X-Forwarded-Prefix": "/eventdesk"})
    again = _get(client, OPENING)

    url = f"{API}/sessions/opening-plenary"
    assert str(Calendar.from_ical(direct.data).walk("VEVENT")[0]["URL"]) == f"http://localhost{url}"
    assert str(Calendar.from_ical(proxied.data).walk("VEVENT")[0]["URL"]) == f"https://calendar.example.org{url}"
    assert (
        str(Calendar.from_ical(prefixed.data).walk("VEVENT")[0]["URL"])
        == f"https://calendar.example.org/eventdesk{url}"
    )
    assert len({direct.headers["ETag"], proxied.headers["ETag"], prefixed.headers["ETag"]}) == 3
    assert again.data == direct.data


def test_forwarded_headers_are_ignored_by_default(client):
    response = _get(client, OPENING, headers=PROXIED)

    url = str(Calendar.from_ical(response.data).walk("VEVENT")[0]["URL"])
    assert url == f"http://localhost{API}/sessions/opening-plenary"


# --- the renderer on its own ---------------------------------------------------------------


def _render(client, **overrides) -> bytes:
    """The renderer fed from the JSON documents, as the personal feed will be."""
    programme = client.get(f"{API}/programme").get_json()
    arguments = {
        "event": programme["event"],
        "rooms": {room["id"]: room for room in programme["rooms"]},
        "tracks": {track["id"]: track for track in programme["tracks"]},
        "sessions": [s for day in programme["days"] for s in day["sessions"] if s["id"] == "opening-plenary"],
        "name": "Mine",
        "base_url": "https://example.org",
    }
    return ical.render_calendar(**{**arguments, **overrides})


MEETING = {
    "uid": "meeting-17@eventdesk",
    "title": "Matchmaking: Cluster A meets Cluster B",
    "start": "2014-10-20T09:15:00+02:00",
    "end": "2014-10-20T09:45:00+02:00",
    "location": "Table 4, Workshop Room B",
    "description": "Accepted meeting request.",
    "updated_at": "2014-10-19T18:00:00+00:00",
    "sequence": 2,
    "status": "confirmed",
}


def test_extra_events_render_like_sessions_in_time_order(client):
    data = _render(client, extra_events=[MEETING])

    _, strict = _both(data)

    first, second = strict.events
    assert (first.uid, first.summary, first.location, first.sequence) == (
        "meeting-17@eventdesk",
        "Matchmaking: Cluster A meets Cluster B",
        "Table 4, Workshop Room B",
        2,
    )
    assert first.dtstart.astimezone(UTC) == datetime(2014, 10, 20, 7, 15, tzinfo=UTC)
    assert first.dtstamp == first.last_modified == datetime(2014, 10, 19, 18, 0, tzinfo=UTC)
    assert second.uid == _uid(client, "opening-plenary")
    assert "\r\nDTSTART;TZID=Europe/Brussels:20141020T091500\r\n" in data.decode()


@pytest.mark.parametrize("url", [FEED, OPENING, f"{FEED}?track=sme-growth"])
def test_feed_is_exactly_what_icalendar_writes_for_it(client, admin, url):
    """Components are serialised one by one and cached; the whole must still be icalendar's own
    serialisation of the calendar, before and after an edit changes one VEVENT."""
    before = _get(client, url).data
    client.patch(f"{API}/sessions/opening-plenary", json={"title": "Opening, renamed"}, headers=admin)
    after = _get(client, url).data

    assert Calendar.from_ical(before).to_ical() == before
    assert Calendar.from_ical(after).to_ical() == after
    summaries = {str(vevent["SUMMARY"]) for vevent in Calendar.from_ical(after).walk("VEVENT")}
    assert ("Opening, renamed" in summaries) is (url != f"{FEED}?track=sme-growth")


def test_renderer_is_deterministic(client):
    assert _render(client, extra_events=[MEETING]) == _render(client, extra_events=[dict(MEETING)])


def test_vtimezone_spans_the_years_of_every_item(client):
    late = {**MEETING, "start": "2015-04-01T10:00:00+02:00", "end": "2015-04-01T11:00:00+02:00"}

    (vtimezone,) = Calendar.from_ical(_render(client, extra_events=[late])).walk("VTIMEZONE")

    assert [o.decoded("DTSTART") for o in vtimezone.walk("DAYLIGHT")] == [datetime(2014, 3, 30, 2, 0)]
    assert vtimezone.walk("DAYLIGHT")[0].decoded("RDATE") is not None
    assert "RDATE:20150329T020000" in vtimezone.to_ical().decode()


def test_empty_feed_still_declares_its_zone(client):
    lenient, strict = _both(_render(client, sessions=[]))

    assert lenient.walk("VEVENT") == []
    assert strict.timezones[0].tz_id == "Europe/Brussels"


def test_unknown_extra_event_status_is_refused(client):
    with pytest.raises(ValueError, match="unknown status"):
        _render(client, extra_events=[{**MEETING, "status": "maybe"}])


def test_last_modified_is_the_newest_stamp():
    sessions = [{"updated_at": "2014-10-01T08:00:00+00:00"}, {"updated_at": "2014-10-02T08:00:00+00:00"}]

    newest = ical.last_modified(sessions, {"updated_at": "2014-09-30T08:00:00Z"}, [MEETING])

    assert newest == datetime(2014, 10, 19, 18, 0, tzinfo=UTC)
    assert ical.last_modified([]) is None
