"""The published contract: a valid Swagger 2.0 spec, built from one declaration per item."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator.validation.validators import OpenAPIV2SpecValidator

from server import attendees, contract
from tests.conftest import API, assert_error, snapshot
from tests.spec_check import SpecMismatch, check_response

SPEC = "/api/v1/swagger.json"
SESSION_BODY = {"id": "s", "title": "T", "type": "plenary", "start": "x", "end": "y"}


@pytest.fixture
def spec(client) -> dict:
    return client.get(SPEC).get_json()


def test_spec_is_valid_swagger_2(spec):
    errors = [str(error).splitlines()[0] for error in OpenAPIV2SpecValidator(spec).iter_errors()]

    assert errors == []


def test_spec_operation_ids_are_unique(spec):
    ids = [op["operationId"] for item in spec["paths"].values() for name, op in item.items() if name != "parameters"]

    assert len(ids) == len(set(ids))
    assert {"get_room_list", "get_speaker_list", "get_track_list", "patch_room", "delete_speaker"} <= set(ids)


def test_spec_says_nullable_the_swagger_2_way(spec):
    text = json.dumps(spec)
    session = spec["definitions"]["Session"]["properties"]

    assert '"type": ["' not in text  # no list-valued type anywhere
    assert (session["room"]["type"], session["room"]["x-nullable"]) == ("string", True)
    assert session["capacity"]["x-nullable"] is True
    assert spec["definitions"]["ScheduleItem"]["properties"]["seats_left"]["x-nullable"] is True
    assert spec["definitions"]["ScanVerdict"]["properties"]["attendee"]["x-nullable"] is True


def test_spec_documents_400_on_every_route_that_takes_a_body(spec):
    missing = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in ("post", "put", "patch")
        and any(param["in"] == "body" for param in op.get("parameters", []))
        and "400" not in op["responses"]
    ]

    assert missing == []


def test_spec_keeps_no_private_annotation(spec):
    text = json.dumps(spec)

    for key in ("x-text", "x-normalise", "x-input", "x-create-only", "x-optional", "x-role", "x-extends", "x-hint"):
        assert f'"{key}"' not in text


def test_every_body_field_is_bounded():
    """No string without a length limit and no integer beyond what SQLite stores, in any body."""
    unbounded = []
    for name, schema in contract.declarations_with_bodies().items():
        if schema.get("additionalProperties") is not False:
            continue  # a response
        for field, spec in schema["properties"].items():
            for part in (spec, spec.get("items", {})):
                bounded_text = {"maxLength", "enum", "pattern"} & part.keys() or part.get("format") == "date"
                if part.get("type") == "string" and not bounded_text:
                    unbounded.append(f"{name}.{field}")
                if part.get("type") == "integer" and not ({"minimum", "maximum"} <= part.keys()):
                    unbounded.append(f"{name}.{field}")
                if part.get("type") == "array" and "maxItems" not in part and part is spec:
                    unbounded.append(f"{name}.{field}")

    assert unbounded == []


def test_categories_are_declared_as_the_attendee_module_names_them():
    declared = contract.properties("Attendee")["category"]["enum"]

    assert declared == list(attendees.CATEGORIES)
    assert contract.properties("CheckinList")["categories"]["items"]["enum"] == declared


@pytest.fixture
def room_with_floor(monkeypatch):
    """The Room declaration with one more field, as a developer would add it."""
    room = contract.declarations()["Room"]
    monkeypatch.setitem(room["properties"], "floor", {"type": "integer", "minimum": -5, "maximum": 200})
    derived = (
        contract.validator,
        contract._fast_validator,
        contract.declarations_with_bodies,
        contract.model_schemas,
        contract._properties,
    )
    for cached in derived:
        cached.cache_clear()
    yield
    for cached in derived:
        cached.cache_clear()


def test_a_new_field_is_checked_from_its_declaration_alone(room_with_floor):
    accepted, no_problems = contract.check_body("Room", {"id": "annex", "name": "Annex", "floor": 3})
    _, problems = contract.check_body("Room", {"id": "annex", "name": "Annex", "floor": 900})

    assert accepted["floor"] == 3 and not no_problems
    assert problems.values == {"floor": "must be a whole number from -5 to 200"}
    assert "floor" in contract.model_schemas()["RoomPatch"]["properties"]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("name", "Annex\x1b[32m", "must not contain a control character (U+001B)"),
        ("name", "Annex\x00", "must not contain a control character (U+0000)"),
        ("name", "An\u0085nex", "must not contain a control character (U+0085)"),
        ("name", "Ann\nex", "must not contain a line break (U+000A)"),
        ("name", "\u200b \u200b", "must contain a visible character"),
        ("description", "two\nlines\tand a tab", None),
        ("description", "bell\x07", "must not contain a control character (U+0007)"),
    ],
    ids=["escape", "nul", "c1", "newline in a name", "invisible name", "multi-line ok", "bell in multi-line"],
)
def test_text_with_control_characters_is_refused(app, client, admin, name, value, message):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/rooms", json={"id": "annex", "name": "Annex", name: value}, headers=admin)

    if message is None:
        assert response.status_code == 201
        assert response.get_json()[name] == value
    else:
        assert assert_error(response, 422, "validation_failed")["fields"] == {name: message}
        assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (f"{API}/rooms", {"id": "annex", "name": "Annex", "capacity": 2**63}, "capacity"),
        (f"{API}/rooms", {"id": "annex", "name": "Annex", "capacity": 10**30}, "capacity"),
        (f"{API}/rooms/plenary-hall", {"position": -(2**64)}, "position"),
        (f"{API}/sessions/opening-plenary", {"capacity": 2**63}, "capacity"),
    ],
    ids=["2^63", "10^30", "-2^64 position", "session capacity"],
)
def test_oversized_integers_are_refused_naming_the_field(app, client, admin, path, body, field):
    before = snapshot(app.config["DATABASE"])

    response = (client.patch if "/rooms/" in path or "/sessions/" in path else client.post)(
        path, json=body, headers=admin
    )

    assert field in assert_error(response, 422, "validation_failed")["fields"]
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            f"{API}/checkin-lists",
            {"id": "vip", "name": "VIP", "start": "2014-10-20T08:00", "end": "2014-10-20T09:00", "allowReentry": False},
            "allowReentry",
        ),
        (
            f"{API}/checkin-lists",
            {"id": "vip", "name": "VIP", "start": "2014-10-20T08:00", "end": "2014-10-20T09:00", "categories": [{}]},
            "categories[0]",
        ),
        (
            f"{API}/checkin-lists",
            {"id": "vip", "name": "VIP", "start": "2014-10-20T08:00", "end": "2014-10-20T09:00", "categories": [["x"]]},
            "categories[0]",
        ),
        (f"{API}/devices", {"name": "Door Z", "role": "admin"}, "role"),
        (f"{API}/checkins/desk", {"attendee": "a-1", "list": "day1-entrance", "scan_id": {"x": 1}}, "scan_id"),
    ],
    ids=["unknown list field", "object category", "list category", "unknown device field", "object scan_id"],
)
def test_bodies_of_every_route_refuse_unknown_fields_and_wrong_types(app, client, admin, path, body, field):
    before = snapshot(app.config["DATABASE"])

    response = client.post(path, json=body, headers=admin)

    assert field in assert_error(response, 400, "invalid_input" if "desk" not in path else None)["fields"]
    assert snapshot(app.config["DATABASE"]) == before


def test_a_scan_with_an_object_scan_id_is_refused(client, door):
    response = client.post(
        f"{API}/checkins", json={"payload": "ED1:X:Y", "list": "day1-entrance", "scan_id": {"x": 1}}, headers=door
    )

    assert assert_error(response, 400)["fields"] == {"scan_id": "must be a string"}


def test_spec_check_catches_a_body_the_spec_does_not_describe(app, client):
    """The helper every test's client runs is no rubber stamp."""
    response = client.get(f"{API}/rooms/plenary-hall")
    response.set_data(json.dumps({**response.get_json(), "capacity": "many"}))

    with pytest.raises(SpecMismatch, match="capacity"):
        check_response(app, "GET", f"{API}/rooms/plenary-hall", response)


def test_spec_check_catches_an_undocumented_status(app, client):
    response = client.get(f"{API}/rooms/plenary-hall")
    response.status_code = 418

    with pytest.raises(SpecMismatch, match="does not document"):
        check_response(app, "GET", f"{API}/rooms/plenary-hall", response)


def test_spec_summaries_are_whole_sentences(spec):
    """flask-restx cuts a summary at its first full stop: "e.g." must not cut one short."""
    cut = [
        op["summary"]
        for item in spec["paths"].values()
        for name, op in item.items()
        if name != "parameters" and op["summary"].rstrip(".").endswith(("e.g", "i.e", "etc"))
    ]

    assert cut == []


def test_spec_documents_json_errors_on_calendar_and_image_routes(spec):
    binary = [
        op
        for item in spec["paths"].values()
        for name, op in item.items()
        if name != "parameters" and set(op.get("produces", [])) & {"text/calendar", "image/png"}
    ]

    assert len(binary) >= 5
    assert all("application/json" in op["produces"] and "404" in op["responses"] for op in binary)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        ("RoomInput", {"id": "annex", "name": "Annex"}),
        ("RoomInput", {"id": "annex\n", "name": "Annex"}),
        ("RoomInput", {"id": "annex", "name": "Annex", "capacity": None}),
        ("RoomInput", {"id": "annex", "name": "Annex", "capacity": 2**63}),
        ("RoomInput", {"id": "annex", "name": "\u200b"}),
        ("RoomInput", {"id": "annex", "name": "An\x1bnex"}),
        ("RoomPatch", {"position": True}),
        ("SessionInput", {**SESSION_BODY, "speakers": [{"id": "a", "role": "chair"}]}),
        ("SessionInput", {**SESSION_BODY, "speakers": [{"id": "a", "role": "boss"}]}),
        ("SessionPatch", {"abstract": "two\r\nlines\tok"}),
        ("SessionPatch", {"room": None, "track": 5}),
        (
            "EventInput",
            {
                "slug": "e",
                "title": "E",
                "timezone": "Europe/Brussels",
                "start_date": "2014-10-20",
                "end_date": "2014-13-40",
            },
        ),
        (
            "EventInput",
            {
                "slug": "e",
                "title": "E",
                "timezone": "Europe/Brussels",
                "start_date": "2014-10-20",
                "end_date": "2014-10-21",
                "previous_editions": [{"year": 2012, "city": "Vienna"}],
            },
        ),
        ("AttendeeInput", {"name": "Zoe", "email": "zoe@example.org", "category": "press"}),
        ("AttendeeInput", {"name": "Zoe", "email": "zoe@example.org\n", "category": "press"}),
        ("ScanBatch", {"scans": [{"payload": "\x00x", "list": "l", "scan_id": "1", "scanned_at": "t"}]}),
        ("ScanBatch", {"scans": [{"payload": "x", "list": "l", "scan_id": {"x": 1}}]}),
        ("CheckinListPatch", {"categories": ["press", "staff"]}),
        ("CheckinListPatch", {"categories": [{}]}),
    ],
)
def test_the_compiled_check_and_the_full_check_agree(model, body):
    """The fast yes/no (fastjsonschema) must refuse exactly what the named problems (jsonschema) refuse."""
    from fastjsonschema import JsonSchemaException

    try:
        contract._fast_validator(model)(body)
        fast_accepts = True
    except JsonSchemaException:
        fast_accepts = False

    full_accepts = not list(contract.validator(model).iter_errors(body))

    assert fast_accepts == full_accepts
