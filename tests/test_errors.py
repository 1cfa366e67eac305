"""One error shape everywhere, and a spec that tells the truth about the live responses."""

from __future__ import annotations

import pytest

from server.programme_edit import compact_changes
from tests.conftest import API, EVENT, assert_error

SPEC = "/api/v1/swagger.json"


def assert_one_shape(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """assert_error, plus: `fields`, when present, maps names to readable strings."""
    body = assert_error(response, status, code, field)
    if "fields" in body:
        assert body["fields"] and all(
            isinstance(name, str) and isinstance(text, str) and text for name, text in body["fields"].items()
        ), body
    return body


# --- routes and methods -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v1/events/ecc2014/nope", "/api/v1/"])
def test_unknown_route_is_json_not_found(client, path):
    response = client.get(path)

    assert_one_shape(response, 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/events", {"GET", "HEAD", "OPTIONS"}),
        ("PUT", f"{API}/sessions/opening-plenary", {"GET", "HEAD", "OPTIONS", "PATCH", "DELETE"}),
        ("POST", f"{API}/programme", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_method_is_json_method_not_allowed(client, method, path, allowed):
    response = client.open(path, method=method)

    assert_one_shape(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == allowed


# --- unknown things -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/events/zzz",
        "/api/v1/events/zzz/programme",
        "/api/v1/events/zzz/sessions",
        "/api/v1/events/zzz/sessions/x",
        "/api/v1/events/zzz/speakers",
        "/api/v1/events/zzz/speakers/x",
        "/api/v1/events/zzz/rooms",
        "/api/v1/events/zzz/rooms/x",
        "/api/v1/events/zzz/tracks",
        "/api/v1/events/zzz/tracks/x",
        "/api/v1/events/zzz/changes?since=0",
    ],
)
def test_unknown_event_is_not_found_on_every_public_endpoint(client, path):
    response = client.get(path)

    body = assert_one_shape(response, 404, "not_found")
    assert body["message"] == "no event 'zzz'"
    assert body["resource"] == "event"


@pytest.mark.parametrize(
    ("plural", "kind"),
    [("sessions", "session"), ("speakers", "speaker"), ("rooms", "room"), ("tracks", "track")],
)
def test_unknown_item_is_not_found(client, plural, kind):
    response = client.get(f"{API}/{plural}/no-such-{kind}")

    body = assert_one_shape(response, 404, "not_found")
    assert body["message"] == f"no {kind} 'no-such-{kind}' in event '{EVENT}'"
    assert body["resource"] == kind


# --- session filters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ({"day": "2014-13-45"}, 400, "bad_parameter", "day"),
        ({"day": "monday"}, 400, "bad_parameter", "day"),
        ({"day": "3"}, 404, "not_found", "day"),
        ({"day": "0"}, 404, "not_found", "day"),
        ({"day": "2014-10-22"}, 404, "not_found", "day"),
        ({"day": "2014-10-19"}, 404, "not_found", "day"),
        ({"track": "nope"}, 404, "not_found", "track"),
        ({"room": "nope"}, 404, "not_found", "room"),
        ({"speaker": "nope"}, 404, "not_found", "speaker"),
        ({"type": "banquet"}, 400, "bad_parameter", "type"),
        ({"q": "!!!"}, 400, "bad_parameter", "q"),
        ({"q": ' -*"() '}, 400, "bad_parameter", "q"),
        ({"day": "1", "room": "nope"}, 404, "not_found", "room"),
    ],
    ids=lambda value: "&".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None,
)
def test_bad_session_filter_is_refused_naming_it(client, query, status, code, field):
    response = client.get(f"{API}/sessions", query_string=query)

    body = assert_one_shape(response, status, code, field)
    assert list(body["fields"]) == [field]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"day": "2"}, 21),
        ({"day": "2014-10-20"}, 23),
        ({"room": "plenary-hall", "day": "1"}, 3),
        ({"type": "plenary"}, 3),
        ({"q": "   "}, 44),
    ],
)
def test_good_session_filters_are_answered(client, query, expected):
    response = client.get(f"{API}/sessions", query_string=query)

    assert response.status_code == 200
    assert len(response.get_json()) == expected


def test_day_filter_with_superscript_digit_is_a_bad_parameter(client):
    response = client.get(f"{API}/sessions", query_string={"day": "²"})

    assert_one_shape(response, 400, "bad_parameter", "day")


# --- the change feed ----------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?since=", "?since=abc", "?since=-1", "?since=1.5", "?since=0x1"])
def test_changes_with_bad_since_is_bad_parameter(client, query):
    response = client.get(f"{API}/changes{query}")

    assert_one_shape(response, 400, "bad_parameter", "since")


@pytest.mark.parametrize("since", ["2", "99999999999999999999999"])
def test_changes_since_a_future_version_is_gone(client, since):
    response = client.get(f"{API}/changes?since={since}")

    body = assert_one_shape(response, 410, "gone")
    assert body["version"] == 1
    assert body["resync"] == f"{API}/programme"


def test_changes_since_a_compacted_version_is_gone(client, db):
    compact_changes(db, EVENT, keep=0)

    response = client.get(f"{API}/changes?since=0")

    body = assert_one_shape(response, 410, "gone")
    assert body["version"] == 1
    assert client.get(f"{API}/changes?since=1").status_code == 200


def test_changes_with_superscript_digit_is_a_bad_parameter(client):
    response = client.get(f"{API}/changes", query_string={"since": "²"})

    assert_one_shape(response, 400, "bad_parameter", "since")


# --- the OpenAPI spec ---------------------------------------------------------------------


@pytest.fixture
def spec(client) -> dict:
    response = client.get(SPEC)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_spec_describes_every_property_of_every_definition(spec):
    undescribed = [
        f"{name}.{prop}"
        for name, definition in spec["definitions"].items()
        for prop, schema in definition.get("properties", {}).items()
        if not (isinstance(schema.get("description"), str) and schema["description"].strip())
    ]

    assert len(spec["definitions"]) >= 20
    assert undescribed == []


ADMIN_OPERATIONS = [
    ("/events/{event}/sessions", "post"),
    ("/events/{event}/sessions/{session_id}", "patch"),
    ("/events/{event}/sessions/{session_id}", "delete"),
    ("/events/{event}/sessions/{session_id}/cancel", "post"),
    *((f"/events/{{event}}/{plural}", "post") for plural in ("speakers", "rooms", "tracks")),
    *(
        (f"/events/{{event}}/{plural}/{{item_id}}", method)
        for plural in ("speakers", "rooms", "tracks")
        for method in ("patch", "delete")
    ),
]


@pytest.mark.parametrize(("path", "method"), ADMIN_OPERATIONS)
def test_spec_documents_admin_routes_with_bearer_security(spec, path, method):
    operation = spec["paths"][path][method]

    assert operation["security"] == [{"bearer": []}]
    assert {"401", "403"} <= set(operation["responses"])


def _live(client, admin, path: str, method: str = "GET"):
    response = client.open(path, method=method, headers=admin)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


LIVE_SHAPES = {
    "Session": lambda get: get(f"{API}/sessions/opening-plenary"),
    "SessionSpeaker": lambda get: get(f"{API}/sessions/opening-plenary")["speakers"][0],
    "Event": lambda get: get(f"{API}"),
    "Day": lambda get: get(f"{API}")["days"][0],
    "PreviousEdition": lambda get: get(f"{API}")["previous_editions"][0],
    "Programme": lambda get: get(f"{API}/programme"),
    "ProgrammeDay": lambda get: get(f"{API}/programme")["days"][0],
    "Speaker": lambda get: get(f"{API}/speakers")[0],
    "SpeakerDetail": lambda get: get(f"{API}/speakers/ceo-photonics-sme"),
    "Room": lambda get: get(f"{API}/rooms")[0],
    "Track": lambda get: get(f"{API}/tracks")[0],
    "Changes": lambda get: get(f"{API}/changes?since=0"),
    "Upserts": lambda get: get(f"{API}/changes?since=0")["upserts"],
    "Deletions": lambda get: get(f"{API}/changes?since=0")["deletions"],
    "WriteResult": lambda get: get(f"{API}/sessions/day1-registration", "DELETE"),
}


@pytest.mark.parametrize("definition", LIVE_SHAPES)
def test_spec_definition_has_exactly_the_live_keys(client, spec, admin, definition):
    live = LIVE_SHAPES[definition](lambda path, method="GET": _live(client, admin, path, method))

    assert set(spec["definitions"][definition]["properties"]) == set(live)


def test_spec_session_keys_match_every_listed_session(client, spec):
    sessions = client.get(f"{API}/sessions").get_json()

    assert len(sessions) == 44
    assert {frozenset(session) for session in sessions} == {frozenset(spec["definitions"]["Session"]["properties"])}


def test_spec_error_definition_has_the_error_keys(client, spec):
    body = client.get(f"{API}/sessions", query_string={"type": "banquet"}).get_json()

    assert set(body) == set(spec["definitions"]["Error"]["properties"]) == {"error", "message", "fields"}


def test_docs_page_is_swagger_ui(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "swagger-ui" in page
    assert SPEC in page


# --- the front page -----------------------------------------------------------------------


def test_front_page_is_html_linking_the_docs(client):
    response = client.get("/", headers={"Accept": "text/html"})

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<a href="/api/v1/docs">' in page
    assert f'<a href="{API}/programme">programme</a>' in page


def test_front_page_as_json_lists_the_events(client):
    response = client.get("/", headers={"Accept": "application/json"})

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert (body["docs"], body["spec"], body["api"]) == ("/api/v1/docs", SPEC, "/api/v1/")
    assert [(e["slug"], e["programme"]) for e in body["events"]] == [(EVENT, f"{API}/programme")]
