"""Attendees for admins: register, list, search, correct, erase, manage tokens, import CSV.

A registration answers with the attendee's personal API token exactly once; the database
keeps only its SHA-256 hash. Every refused request leaves the database as it was, and a CSV
import is all rows or none, with every bad row named by its line and field.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import stat
from pathlib import Path

import pytest

from server import attendees, auth
from tests.conftest import API, EVENT, assert_error, bearer, snapshot
from tests.people import ANNA, BRAM, CARLA, DARIO, EVA

ATTENDEES = f"{API}/attendees"
NOW = "2014-09-01T10:00:00+02:00"
STAMP = "2014-09-01T08:00:00+00:00"
LATER = "2014-09-02T12:30:00+02:00"
LATER_STAMP = "2014-09-02T10:30:00+00:00"
ID_RE = re.compile(r"^a-[a-z2-7]{8}$")

ZOE = {
    "name": "Zoë Ñúñez",
    "email": "Zoe.Nunez@Example.ORG",
    "organisation": "Clúster Agency, Madrid",
    "country": "es",
    "category": "EU policy-maker",
}
ZOE_STORED = {
    "name": "Zoë Ñúñez",
    "email": "zoe.nunez@example.org",
    "organisation": "Clúster Agency, Madrid",
    "country": "ES",
    "category": "eu-policy-maker",
}
PEOPLE = [CARLA, ANNA, EVA, BRAM, DARIO]
BY_NAME = ["Anna Berg", "Bram de Wit", "Carla Dias", "Dario Esposito", "Eva Fischer"]


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    """Registrations made at a known instant, so timestamps can be compared exactly."""
    monkeypatch.setenv("EVENTDESK_NOW", NOW)


def register(db, **values) -> tuple[dict, str]:
    return attendees.create_attendee(db, EVENT, values)


def register_people(db) -> dict[str, dict]:
    return {person["name"]: register(db, **person)[0] for person in PEOPLE}


def attendee_row(db, attendee_id: str) -> dict | None:
    row = db.conn.execute("SELECT * FROM attendees WHERE id = ?", (attendee_id,)).fetchone()
    return dict(row) if row else None


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["name"] for item in response.get_json()["items"]]


def document(attendee_id: str, values: dict, *, has_api_token: bool = True, updated_at: str = STAMP) -> dict:
    return {
        "id": attendee_id,
        "event": EVENT,
        "name": values["name"],
        "email": values["email"],
        "organisation": values.get("organisation", ""),
        "country": values.get("country", ""),
        "category": values["category"],
        "has_api_token": has_api_token,
        "created_at": STAMP,
        "updated_at": updated_at,
    }


# --- registering --------------------------------------------------------------------------


def test_create_attendee_returns_the_document_and_a_token(client, db, admin):
    response = client.post(ATTENDEES, json=ZOE, headers=admin)

    assert response.status_code == 201
    body = response.get_json()
    assert ID_RE.match(body["id"]), body["id"]
    assert body["token"].startswith("edt_") and len(body["token"]) > 40
    assert body == {**document(body["id"], ZOE_STORED), "token": body["token"]}
    row = attendee_row(db, body["id"])
    assert {name: row[name] for name in ZOE_STORED} == ZOE_STORED
    assert (row["created_at"], row["updated_at"]) == ("2014-09-01T08:00:00Z", "2014-09-01T08:00:00Z")


def test_create_attendee_token_opens_their_own_record(client, admin):
    created = client.post(ATTENDEES, json=ZOE, headers=admin).get_json()

    response = client.get("/api/v1/me", headers=bearer(created["token"]))

    assert response.status_code == 200
    assert response.get_json() == document(created["id"], ZOE_STORED)


def test_create_attendee_stores_only_the_hash_of_the_token(app, client, db, admin):
    created = client.post(ATTENDEES, json=ZOE, headers=admin).get_json()

    stored = attendee_row(db, created["id"])["api_token_hash"]

    assert stored == hashlib.sha256(created["token"].encode("utf-8")).hexdigest()
    database = Path(app.config["DATABASE"])
    files = [path for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")) if path.exists()]
    assert database in files
    for path in files:
        assert created["token"].encode("utf-8") not in path.read_bytes(), path.name


@pytest.mark.parametrize("category", ["eu-policy-maker", "EU policy-maker", "  eu POLICY-maker "])
def test_create_attendee_accepts_category_slug_or_label(client, admin, category):
    response = client.post(ATTENDEES, json={**ZOE, "category": category}, headers=admin)

    assert response.status_code == 201
    assert response.get_json()["category"] == "eu-policy-maker"


@pytest.mark.parametrize("email", ["zoe.nunez@example.org", "ZOE.NUNEZ@EXAMPLE.ORG", " Zoe.Nunez@example.org "])
def test_create_attendee_with_taken_email_is_conflict(app, client, db, admin, email):
    register(db, **ZOE)
    before = snapshot(app.config["DATABASE"])

    response = client.post(ATTENDEES, json={**PEOPLE[0], "email": email}, headers=admin)

    body = assert_error(response, 409, "conflict")
    assert body["fields"] == {"email": "already registered"}
    assert body["message"] == "zoe.nunez@example.org is already registered for this event"
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"email": "zoe.example.org"}, "email", "is not an email address"),
        ({"email": "zoe @example.org"}, "email", "is not an email address"),
        ({"category": "astronaut"}, "category", "must be one of: " + ", ".join(attendees.CATEGORIES)),
        ({"country": "Spain"}, "country", "must be an ISO 3166-1 alpha-2 code such as BE"),
        ({"country": "E1"}, "country", "must be an ISO 3166-1 alpha-2 code such as BE"),
        ({"name": "   "}, "name", "must not be empty"),
        ({"name": ""}, "name", "must not be empty"),
    ],
    ids=[
        "email without @",
        "email with space",
        "unknown category",
        "country name",
        "bad country",
        "blank name",
        "empty name",
    ],
)
def test_create_attendee_with_invalid_value_is_unprocessable(app, client, admin, change, field, message):
    before = snapshot(app.config["DATABASE"])

    response = client.post(ATTENDEES, json={**ZOE, **change}, headers=admin)

    body = assert_error(response, 422, "validation_failed")
    assert body["fields"] == {field: message}
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({key: value for key, value in ZOE.items() if key != "name"}, {"name": "is required"}),
        ({**ZOE, "name": ["Zoe"]}, {"name": "must be a string"}),
        ({**ZOE, "bogus": 1}, {"bogus": "is not a known field"}),
        ({**ZOE, "email": 42}, {"email": "must be a string"}),
    ],
    ids=["missing name", "name a list", "unknown field", "email not a string"],
)
def test_create_attendee_with_body_not_fitting_the_model_is_bad_request(app, client, admin, body, fields):
    before = snapshot(app.config["DATABASE"])

    response = client.post(ATTENDEES, json=body, headers=admin)

    assert assert_error(response, 400, "invalid_input")["fields"] == fields
    assert snapshot(app.config["DATABASE"]) == before


def test_create_attendee_in_unknown_event_is_not_found(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.post("/api/v1/events/nope2099/attendees", json=ZOE, headers=admin)

    assert assert_error(response, 404, "not_found")["message"] == "no event 'nope2099'"
    assert snapshot(app.config["DATABASE"]) == before


# --- listing and searching ----------------------------------------------------------------


def test_list_attendees_pages_through_them_by_name(client, db, admin):
    register_people(db)

    pages = [client.get(ATTENDEES, query_string={"page": page, "per_page": 2}, headers=admin) for page in (1, 2, 3)]

    assert [names(page) for page in pages] == [BY_NAME[0:2], BY_NAME[2:4], BY_NAME[4:]]
    assert [(p.get_json()["page"], p.get_json()["per_page"], p.get_json()["total"]) for p in pages] == [
        (1, 2, 5),
        (2, 2, 5),
        (3, 2, 5),
    ]


def test_list_attendees_gives_whole_documents_fifty_to_a_page_by_default(client, db, admin):
    people = register_people(db)

    response = client.get(ATTENDEES, headers=admin)

    assert response.get_json() == {
        "items": [people[name] for name in BY_NAME],
        "page": 1,
        "per_page": 50,
        "total": 5,
    }


def test_list_attendees_past_the_last_page_is_empty(client, db, admin):
    register_people(db)

    response = client.get(ATTENDEES, query_string={"page": 4, "per_page": 2}, headers=admin)

    assert response.get_json() == {"items": [], "page": 4, "per_page": 2, "total": 5}


def test_list_attendees_of_unknown_event_is_not_found(client, db, admin):
    register_people(db)

    response = client.get("/api/v1/events/nope2099/attendees", headers=admin)

    assert assert_error(response, 404, "not_found")["message"] == "no event 'nope2099'"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("anna", ["Anna Berg"]),
        ("BERG", ["Anna Berg"]),
        ("Bram@AGENCY.example", ["Bram de Wit"]),
        ("photonics CLUSTER", ["Anna Berg"]),
        ("  porto  ", ["Carla Dias"]),
        ("cluster", ["Anna Berg", "Dario Esposito"]),
        ("nobody", []),
        ("", BY_NAME),
    ],
    ids=["name", "name in capitals", "email", "organisation", "padded", "several", "no match", "empty"],
)
def test_list_attendees_searches_name_email_and_organisation_ignoring_case(client, db, admin, q, expected):
    register_people(db)

    response = client.get(ATTENDEES, query_string={"q": q}, headers=admin)

    assert names(response) == expected
    assert response.get_json()["total"] == len(expected)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("%", ["Fay Growth"]),
        ("100%", ["Fay Growth"]),
        ("%ltd", []),  # as a wildcard it would match "Growth 100% Ltd"
        ("_", ["Gus Under"]),
        ("s_c", []),  # as a wildcard it would match "Flanders Photonics Cluster"
        ("\\", []),
    ],
)
def test_list_attendees_search_takes_like_wildcards_literally(client, db, admin, q, expected):
    register_people(db)
    register(db, name="Fay Growth", email="fay@growth.example", organisation="Growth 100% Ltd", category="industry")
    register(db, name="Gus Under", email="gus_under@lab.example", category="academia")

    response = client.get(ATTENDEES, query_string={"q": q}, headers=admin)

    assert names(response) == expected


@pytest.mark.parametrize("q", ["Ñúñez", "ñúñez", "ZOË ÑÚÑEZ"])
def test_list_attendees_search_ignores_case_of_non_ascii_letters(client, db, admin, q):
    created, _ = register(db, **ZOE)

    response = client.get(ATTENDEES, query_string={"q": q}, headers=admin)

    assert response.get_json()["items"] == [created]


@pytest.mark.parametrize(
    ("name", "value", "top"),
    [
        ("page", "0", 1_000_000),
        ("page", "-1", 1_000_000),
        ("page", "abc", 1_000_000),
        ("page", "1.5", 1_000_000),
        ("per_page", "0", 500),
        ("per_page", "-1", 500),
        ("per_page", "abc", 500),
        ("per_page", "501", 500),
        ("per_page", "", 500),
    ],
)
def test_list_attendees_with_bad_paging_is_bad_request_naming_it(client, db, admin, name, value, top):
    register_people(db)

    response = client.get(ATTENDEES, query_string={name: value}, headers=admin)

    body = assert_error(response, 400, "bad_parameter")
    assert body["fields"] == {name: f"1 to {top}"}
    assert body["message"] == f"{name} must be a whole number from 1 to {top}"


def test_list_attendees_accepts_the_largest_page_size(client, db, admin):
    register_people(db)

    response = client.get(ATTENDEES, query_string={"per_page": 500}, headers=admin)

    assert (names(response), response.get_json()["per_page"]) == (BY_NAME, 500)


# --- reading, correcting, erasing ---------------------------------------------------------


def test_get_attendee_returns_their_document(client, db, admin):
    created, _ = register(db, **ZOE)

    response = client.get(f"{ATTENDEES}/{created['id']}", headers=admin)

    assert response.status_code == 200
    assert response.get_json() == created == document(created["id"], ZOE_STORED)


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_unknown_attendee_is_not_found(app, client, db, admin, method):
    register(db, **ZOE)
    before = snapshot(app.config["DATABASE"])

    response = client.open(
        f"{ATTENDEES}/a-zzzzzzzz",
        method=method.upper(),
        json={"name": "X"} if method == "patch" else None,
        headers=admin,
    )

    body = assert_error(response, 404, "not_found")
    assert body["message"] == "no attendee 'a-zzzzzzzz' in event 'ecc2014'"
    assert snapshot(app.config["DATABASE"]) == before


def test_patch_attendee_changes_only_the_given_fields(client, db, admin, monkeypatch):
    created, token = register(db, **ZOE)
    monkeypatch.setenv("EVENTDESK_NOW", LATER)

    response = client.patch(f"{ATTENDEES}/{created['id']}", json={"organisation": "Madrid Cluster Hub"}, headers=admin)

    expected = document(created["id"], {**ZOE_STORED, "organisation": "Madrid Cluster Hub"}, updated_at=LATER_STAMP)
    assert response.status_code == 200
    assert response.get_json() == expected
    assert client.get(f"{ATTENDEES}/{created['id']}", headers=admin).get_json() == expected
    assert attendee_row(db, created["id"])["api_token_hash"] == hashlib.sha256(token.encode()).hexdigest()


def test_patch_attendee_normalises_like_create(client, db, admin):
    created, _ = register(db, **ZOE)

    response = client.patch(
        f"{ATTENDEES}/{created['id']}",
        json={"email": "Zoe@Cluster.Example", "country": "pt", "category": "cluster manager"},
        headers=admin,
    )

    body = response.get_json()
    assert (body["email"], body["country"], body["category"]) == ("zoe@cluster.example", "PT", "cluster-manager")


def test_patch_attendee_with_identical_values_changes_nothing(app, client, db, admin, monkeypatch):
    created, _ = register(db, **ZOE)
    monkeypatch.setenv("EVENTDESK_NOW", LATER)
    before = snapshot(app.config["DATABASE"])

    response = client.patch(
        f"{ATTENDEES}/{created['id']}", json={"email": "ZOE.NUNEZ@example.org", "country": "ES"}, headers=admin
    )

    assert response.get_json() == created
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize("email", ["anna.berg@cluster.example", "Anna.Berg@CLUSTER.example"])
def test_patch_attendee_email_to_a_taken_one_is_conflict(app, client, db, admin, email):
    register_people(db)
    created, _ = register(db, **ZOE)
    before = snapshot(app.config["DATABASE"])

    response = client.patch(f"{ATTENDEES}/{created['id']}", json={"email": email}, headers=admin)

    body = assert_error(response, 409, "conflict")
    assert body["fields"] == {"email": "already registered"}
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("change", "status", "fields"),
    [
        ({"email": "nope"}, 422, {"email": "is not an email address"}),
        ({"category": None}, 400, {"category": "must be a string"}),
        ({"name": "  "}, 422, {"name": "must not be empty"}),
        ({"id": "a-22222222"}, 400, {"id": "is not a known field"}),
    ],
    ids=["bad email", "null category", "blank name", "id"],
)
def test_patch_attendee_with_bad_input_is_refused(app, client, db, admin, change, status, fields):
    created, _ = register(db, **ZOE)
    before = snapshot(app.config["DATABASE"])

    response = client.patch(f"{ATTENDEES}/{created['id']}", json=change, headers=admin)

    assert assert_error(response, status)["fields"] == fields
    assert snapshot(app.config["DATABASE"]) == before


def test_delete_attendee_erases_them_their_schedule_and_token(client, db, admin):
    created, token = register(db, **ZOE)
    other, other_token = register(db, **PEOPLE[0])
    for session_id in ("opening-plenary", "closing-plenary"):
        assert client.put(f"/api/v1/me/schedule/{session_id}", headers=bearer(token)).status_code == 201
    assert client.put("/api/v1/me/schedule/opening-plenary", headers=bearer(other_token)).status_code == 201
    pk = attendee_row(db, created["id"])["pk"]

    response = client.delete(f"{ATTENDEES}/{created['id']}", headers=admin)

    assert (response.status_code, response.get_data()) == (204, b"")
    assert attendee_row(db, created["id"]) is None
    assert db.conn.execute("SELECT COUNT(*) FROM schedule_items WHERE attendee_pk = ?", (pk,)).fetchone()[0] == 0
    hashed = hashlib.sha256(token.encode()).hexdigest()
    assert db.conn.execute("SELECT COUNT(*) FROM attendees WHERE api_token_hash = ?", (hashed,)).fetchone()[0] == 0
    assert_error(client.get("/api/v1/me", headers=bearer(token)), 401, "unauthorized")
    assert_error(client.get(f"{ATTENDEES}/{created['id']}", headers=admin), 404, "not_found")
    schedule = client.get("/api/v1/me/schedule", headers=bearer(other_token)).get_json()
    assert [item["session"]["id"] for item in schedule["items"]] == ["opening-plenary"]
    assert attendee_row(db, other["id"]) is not None


# --- personal API tokens ------------------------------------------------------------------


def test_rotate_attendee_token_replaces_the_old_one(client, db, admin):
    created, old = register(db, **ZOE)

    response = client.post(f"{ATTENDEES}/{created['id']}/token/rotate", headers=admin)

    assert response.status_code == 200
    assert list(response.get_json()) == ["token"]
    new = response.get_json()["token"]
    assert new != old and new.startswith("edt_")
    assert client.get("/api/v1/me", headers=bearer(new)).get_json()["id"] == created["id"]
    assert_error(client.get("/api/v1/me", headers=bearer(old)), 401, "unauthorized")
    assert attendee_row(db, created["id"])["api_token_hash"] == hashlib.sha256(new.encode()).hexdigest()


def test_revoke_attendee_token_stops_it(client, db, admin):
    created, token = register(db, **ZOE)

    response = client.post(f"{ATTENDEES}/{created['id']}/token/revoke", headers=admin)

    assert (response.status_code, response.get_data()) == (204, b"")
    body = assert_error(client.get("/api/v1/me", headers=bearer(token)), 401, "unauthorized")
    assert body["message"] == "the token is unknown or has been revoked"
    assert client.get(f"{ATTENDEES}/{created['id']}", headers=admin).get_json()["has_api_token"] is False
    assert attendee_row(db, created["id"])["api_token_hash"] is None


def test_rotate_after_revoke_issues_a_working_token(client, db, admin):
    created, _ = register(db, **ZOE)
    client.post(f"{ATTENDEES}/{created['id']}/token/revoke", headers=admin)

    new = client.post(f"{ATTENDEES}/{created['id']}/token/rotate", headers=admin).get_json()["token"]

    assert client.get("/api/v1/me", headers=bearer(new)).get_json()["has_api_token"] is True


def test_rotate_own_token_replaces_the_one_used(client, db):
    created, old = register(db, **ZOE)

    response = client.post("/api/v1/me/token/rotate", headers=bearer(old))

    assert response.status_code == 200
    new = response.get_json()["token"]
    assert new != old
    assert client.get("/api/v1/me", headers=bearer(new)).get_json()["id"] == created["id"]
    assert_error(client.get("/api/v1/me", headers=bearer(old)), 401, "unauthorized")
    assert_error(client.post("/api/v1/me/token/rotate", headers=bearer(old)), 401, "unauthorized")


@pytest.mark.parametrize("action", ["rotate", "revoke"])
def test_token_action_on_unknown_attendee_is_not_found(app, client, admin, action):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{ATTENDEES}/a-zzzzzzzz/token/{action}", headers=admin)

    assert_error(response, 404, "not_found")
    assert snapshot(app.config["DATABASE"]) == before


# --- who may manage attendees -------------------------------------------------------------

ADMIN_ROUTES = [
    ("get", "", None),
    ("post", "", {"name": "New Person", "email": "new@example.org", "category": "press"}),
    ("get", "/{id}", None),
    ("patch", "/{id}", {"organisation": "Changed"}),
    ("delete", "/{id}", None),
    ("post", "/{id}/token/rotate", None),
    ("post", "/{id}/token/revoke", None),
]
ADMIN_ROUTE_IDS = [f"{method.upper()} attendees{path}" for method, path, _ in ADMIN_ROUTES]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES, ids=ADMIN_ROUTE_IDS)
def test_attendee_admin_route_without_token_is_unauthorized(app, client, db, method, path, body):
    created, _ = register(db, **ZOE)
    before = snapshot(app.config["DATABASE"])

    response = client.open(ATTENDEES + path.format(id=created["id"]), method=method.upper(), json=body)

    assert_error(response, 401, "unauthorized")
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES, ids=ADMIN_ROUTE_IDS)
def test_attendee_admin_route_with_attendee_token_is_forbidden(app, client, db, method, path, body):
    created, token = register(db, **ZOE)
    before = snapshot(app.config["DATABASE"])

    response = client.open(
        ATTENDEES + path.format(id=created["id"]), method=method.upper(), json=body, headers=bearer(token)
    )

    body = assert_error(response, 403, "forbidden")
    assert body["message"].startswith("this needs a token with role 'admin'")
    assert body["message"].endswith("yours has role 'attendee'")
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES, ids=ADMIN_ROUTE_IDS)
def test_attendee_admin_route_with_admin_token_of_another_event_is_forbidden(
    app, client, db, other_event, method, path, body
):
    created, _ = register(db, **ZOE)
    token = auth.create_token(db, "admin", event_slug=other_event)
    before = snapshot(app.config["DATABASE"])

    response = client.open(
        ATTENDEES + path.format(id=created["id"]), method=method.upper(), json=body, headers=bearer(token)
    )

    body = assert_error(response, 403, "forbidden")
    assert body["message"] == "this token is for event 'other2015', not 'ecc2014'"
    assert snapshot(app.config["DATABASE"]) == before


def test_attendee_of_another_event_is_not_found_through_this_event(app, client, db, admin, other_event):
    other, _ = attendees.create_attendee(db, other_event, ZOE)
    before = snapshot(app.config["DATABASE"])

    responses = [
        client.get(f"{ATTENDEES}/{other['id']}", headers=admin),
        client.patch(f"{ATTENDEES}/{other['id']}", json={"organisation": "X"}, headers=admin),
        client.delete(f"{ATTENDEES}/{other['id']}", headers=admin),
        client.post(f"{ATTENDEES}/{other['id']}/token/revoke", headers=admin),
    ]

    for response in responses:
        assert_error(response, 404, "not_found")
    assert client.get(ATTENDEES, headers=admin).get_json()["total"] == 0
    assert snapshot(app.config["DATABASE"]) == before


# --- CSV import ---------------------------------------------------------------------------

HEADER = "name,email,organisation,country,category\n"
GOOD_CSV = HEADER + (
    "Anna Berg,anna.berg@cluster.example,Flanders Photonics Cluster,BE,cluster-manager\n"
    "Bram de Wit,Bram@Agency.Example,Dutch Innovation Agency,nl,national policy-maker\n"
    "Carla Dias,carla@uni.example,,,academia\n"
)
GOOD_ROWS = [
    ("Anna Berg", "anna.berg@cluster.example", "Flanders Photonics Cluster", "BE", "cluster-manager"),
    ("Bram de Wit", "bram@agency.example", "Dutch Innovation Agency", "NL", "national-policy-maker"),
    ("Carla Dias", "carla@uni.example", "", "", "academia"),
]


def write_csv(tmp_path: Path, text: str, name: str = "attendees.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run_import(app, path: Path, *options: str, event: str = EVENT):
    return app.test_cli_runner().invoke(args=["import-attendees", str(path), "--event", event, *options])


def stored_rows(db) -> list[tuple]:
    return [
        tuple(row)
        for row in db.conn.execute("SELECT name, email, organisation, country, category FROM attendees ORDER BY email")
    ]


def test_import_attendees_creates_each_row_without_tokens(app, client, db, admin, tmp_path):
    path = write_csv(tmp_path, GOOD_CSV)

    result = run_import(app, path)

    assert result.exit_code == 0, result.output
    assert result.output == "3 created, 0 updated, 0 unchanged\n"
    assert stored_rows(db) == GOOD_ROWS
    listed = client.get(ATTENDEES, headers=admin).get_json()["items"]
    assert [(item["name"], item["has_api_token"]) for item in listed] == [(row[0], False) for row in GOOD_ROWS]
    assert all(ID_RE.match(item["id"]) for item in listed)
    assert db.conn.execute("SELECT COUNT(*) FROM attendees WHERE api_token_hash IS NOT NULL").fetchone()[0] == 0


def test_import_attendees_twice_changes_nothing(app, db, tmp_path, monkeypatch):
    path = write_csv(tmp_path, GOOD_CSV)
    run_import(app, path)
    monkeypatch.setenv("EVENTDESK_NOW", LATER)
    before = snapshot(app.config["DATABASE"])

    result = run_import(app, path)

    assert result.exit_code == 0, result.output
    assert result.output == "0 created, 0 updated, 3 unchanged\n"
    assert snapshot(app.config["DATABASE"]) == before
    assert stored_rows(db) == GOOD_ROWS


def test_import_attendees_with_a_changed_organisation_updates_that_row(app, db, tmp_path, monkeypatch):
    run_import(app, write_csv(tmp_path, GOOD_CSV))
    before = {row["email"]: dict(row) for row in db.conn.execute("SELECT * FROM attendees")}
    changed = GOOD_CSV.replace("Dutch Innovation Agency", "Netherlands Enterprise Agency")
    monkeypatch.setenv("EVENTDESK_NOW", LATER)

    result = run_import(app, write_csv(tmp_path, changed, name="changed.csv"))

    assert result.exit_code == 0, result.output
    assert result.output == "0 created, 1 updated, 2 unchanged\n"
    after = {row["email"]: dict(row) for row in db.conn.execute("SELECT * FROM attendees")}
    assert after == {
        **before,
        "bram@agency.example": {
            **before["bram@agency.example"],
            "organisation": "Netherlands Enterprise Agency",
            "updated_at": "2014-09-02T10:30:00Z",
        },
    }


def test_import_attendees_matches_existing_email_ignoring_case(app, db, tmp_path):
    created, _ = register(db, name="Anna Berg", email="Anna.Berg@Cluster.example", category="academia")

    result = run_import(app, write_csv(tmp_path, GOOD_CSV))

    assert result.output == "2 created, 1 updated, 0 unchanged\n"
    assert stored_rows(db) == GOOD_ROWS
    assert attendee_row(db, created["id"])["category"] == "cluster-manager"


def test_import_attendees_with_bad_rows_names_each_and_imports_nothing(app, tmp_path):
    text = HEADER + (
        "Anna Berg,anna.berg@cluster.example,,BE,cluster-manager\n"  # line 2: good
        "Bram de Wit,bram-at-agency.example,,NL,industry\n"  # line 3: bad email
        "Carla Dias,carla@uni.example,,PT,academia\n"  # line 4: good
        "Dario Esposito,dario@press.example,,IT,astronaut\n"  # line 5: unknown category
        "Anna Again,ANNA.BERG@cluster.example,,BE,press\n"  # line 6: repeats line 2
        ",nameless@example.org,,,press\n"  # line 7: no name
    )
    path = write_csv(tmp_path, text)
    before = snapshot(app.config["DATABASE"])

    result = run_import(app, path)

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "error: 4 bad rows; nothing imported"
    assert [re.match(r"  (line \d+: \w+): ", line).group(1) for line in lines[1:]] == [
        "line 3: email",
        "line 5: category",
        "line 6: email",
        "line 7: name",
    ]
    assert "  line 3: email: is not an email address" in lines
    assert "  line 6: email: repeats line 2" in lines
    assert "  line 7: name: must not be empty" in lines
    assert snapshot(app.config["DATABASE"]) == before


def test_import_attendees_names_the_line_a_multiline_row_starts_on(app, tmp_path):
    text = HEADER + (
        'Anna Berg,anna.berg@cluster.example,"Flanders Photonics Cluster\nGhent office",BE,cluster-manager\n'
        "Bram de Wit,bram-at-agency.example,,NL,industry\n"
    )
    before = snapshot(app.config["DATABASE"])

    result = run_import(app, write_csv(tmp_path, text))

    assert result.exit_code == 1
    assert result.output.splitlines()[1:] == [
        "  line 2: organisation: must not contain a line break (U+000A)",
        "  line 4: email: is not an email address",
    ]
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize("column", ["name", "email", "category"])
def test_import_attendees_without_a_required_column_names_it(app, tmp_path, column):
    columns = ["name", "email", "organisation", "country", "category"]
    rows = [dict(zip(columns, row, strict=True)) for row in GOOD_ROWS]
    kept = [name for name in columns if name != column]
    text = ",".join(kept) + "\n" + "".join(",".join(row[name] for name in kept) + "\n" for row in rows)
    before = snapshot(app.config["DATABASE"])

    result = run_import(app, write_csv(tmp_path, text))

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"error: the CSV header must name the columns name, email, organisation, country, category; missing: {column}",
        f"  line 1: missing column(s): {column}",
    ]
    assert snapshot(app.config["DATABASE"]) == before


def test_import_attendees_reads_quotes_bom_and_non_ascii(app, client, admin, db, tmp_path):
    text = HEADER + (
        '"Zoë Ñúñez",Zoe.Nunez@example.org,"Clusters, Regions and ""SMEs"" Network",es,EU policy-maker\n'
        '"Łukasz Żółć",lukasz@example.pl,"Kraków, Poland",pl,industry\n'
    )
    path = write_csv(tmp_path, text, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    result = run_import(app, path)

    assert result.output == "2 created, 0 updated, 0 unchanged\n"
    assert stored_rows(db) == [
        ("Łukasz Żółć", "lukasz@example.pl", "Kraków, Poland", "PL", "industry"),
        ("Zoë Ñúñez", "zoe.nunez@example.org", 'Clusters, Regions and "SMEs" Network', "ES", "eu-policy-maker"),
    ]
    listed = client.get(ATTENDEES, query_string={"q": "zoë"}, headers=admin).get_json()["items"]
    assert [(item["name"], item["organisation"]) for item in listed] == [
        ("Zoë Ñúñez", 'Clusters, Regions and "SMEs" Network')
    ]


def test_import_attendees_that_is_not_utf8_is_refused(app, tmp_path):
    path = write_csv(tmp_path, HEADER + "Zoë Ñúñez,zoe@example.org,,,press\n", encoding="latin-1")
    before = snapshot(app.config["DATABASE"])

    result = run_import(app, path)

    assert result.exit_code == 1
    assert result.output.splitlines() == [f"error: {path} is not UTF-8 text", "  file: save it as UTF-8 CSV"]
    assert snapshot(app.config["DATABASE"]) == before


def test_import_attendees_with_tokens_out_writes_a_private_token_file(app, client, db, tmp_path):
    tokens_path = tmp_path / "tokens.csv"

    result = run_import(app, write_csv(tmp_path, GOOD_CSV), "--tokens-out", str(tokens_path))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "3 created, 0 updated, 0 unchanged",
        f"3 new personal tokens written to {tokens_path}",
    ]
    assert stat.S_IMODE(os.stat(tokens_path).st_mode) == 0o600
    with tokens_path.open(encoding="utf-8", newline="") as handle:
        header, *lines = list(csv.reader(handle))
    assert header == ["email", "token"]
    assert [email for email, _ in lines] == [row[1] for row in GOOD_ROWS]
    for email, token in lines:
        me = client.get("/api/v1/me", headers=bearer(token))
        assert (me.status_code, me.get_json()["email"], me.get_json()["has_api_token"]) == (200, email, True)
        assert hashlib.sha256(token.encode()).hexdigest() in {
            row[0] for row in db.conn.execute("SELECT api_token_hash FROM attendees")
        }


def test_import_attendees_with_tokens_out_issues_tokens_to_new_attendees_only(app, db, tmp_path):
    existing, token = register(db, name="Anna Berg", email="anna.berg@cluster.example", category="cluster-manager")
    tokens_path = tmp_path / "tokens.csv"

    run_import(app, write_csv(tmp_path, GOOD_CSV), "--tokens-out", str(tokens_path))

    with tokens_path.open(encoding="utf-8", newline="") as handle:
        emails = [row[0] for row in csv.reader(handle)][1:]
    assert emails == ["bram@agency.example", "carla@uni.example"]
    assert attendee_row(db, existing["id"])["api_token_hash"] == hashlib.sha256(token.encode()).hexdigest()


def test_import_attendees_tokens_out_makes_an_existing_file_private(app, tmp_path):
    tokens_path = tmp_path / "tokens.csv"
    tokens_path.write_text("old\n", encoding="utf-8")
    tokens_path.chmod(0o644)

    run_import(app, write_csv(tmp_path, GOOD_CSV), "--tokens-out", str(tokens_path))

    assert tokens_path.read_text(encoding="utf-8").startswith("email,token\n")
    assert stat.S_IMODE(os.stat(tokens_path).st_mode) == 0o600


def test_import_attendees_with_unwritable_tokens_out_imports_nothing(app, tmp_path):
    path = write_csv(tmp_path, GOOD_CSV)
    before = snapshot(app.config["DATABASE"])

    result = run_import(app, path, "--tokens-out", str(tmp_path / "no-such-dir" / "tokens.csv"))

    assert (result.exit_code, type(result.exception)) == (1, SystemExit)
    assert "tokens.csv" in result.output
    assert snapshot(app.config["DATABASE"]) == before


def test_import_attendees_into_unknown_event_fails(app, tmp_path):
    path = write_csv(tmp_path, GOOD_CSV)
    before = snapshot(app.config["DATABASE"])

    result = run_import(app, path, event="nope2099")

    assert result.exit_code == 1
    assert result.output == "error: no event 'nope2099'\n"
    assert snapshot(app.config["DATABASE"]) == before


def test_import_attendees_with_a_field_past_the_csv_limit_names_its_line(app, tmp_path):
    text = GOOD_CSV + f"Dario Esposito,dario@press.example,{'x' * 200_000},IT,press\n"  # line 5
    before = snapshot(app.config["DATABASE"])

    result = run_import(app, write_csv(tmp_path, text))

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "error: line 5 cannot be read as CSV (a field is longer than 131072 characters); nothing imported",
        "  line 5: a field is longer than 131072 characters",
    ]
    assert "Traceback" not in result.output
    assert snapshot(app.config["DATABASE"]) == before


def test_import_attendees_with_a_name_past_its_bound_names_line_and_field(app, tmp_path):
    text = HEADER + f"{'A' * 301},anna@example.org,,,press\n"
    before = snapshot(app.config["DATABASE"])

    result = run_import(app, write_csv(tmp_path, text))

    assert result.exit_code == 1
    assert "  line 2: name: must be at most 300 characters" in result.output.splitlines()
    assert snapshot(app.config["DATABASE"]) == before


# --- CSV import over HTTP -----------------------------------------------------------------


def post_csv(client, headers: dict, text: str | bytes, query: str = "", content_type: str = "text/csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(f"{ATTENDEES}/import{query}", data=data, content_type=content_type, headers=headers)


def test_http_import_creates_each_row_and_answers_the_counts(client, db, admin):
    response = post_csv(client, admin, GOOD_CSV)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"created": 3, "updated": 0, "unchanged": 0, "tokens": []}
    assert response.headers["Cache-Control"] == "no-store"
    assert stored_rows(db) == GOOD_ROWS
    assert db.conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0] == 3


def test_http_import_twice_changes_nothing(app, client, admin):
    post_csv(client, admin, GOOD_CSV)
    before = snapshot(app.config["DATABASE"])

    response = post_csv(client, admin, GOOD_CSV)

    assert response.get_json() == {"created": 0, "updated": 0, "unchanged": 3, "tokens": []}
    assert snapshot(app.config["DATABASE"]) == before


def test_http_import_with_tokens_answers_each_new_token_once_and_uncached(client, db, admin):
    response = post_csv(client, admin, GOOD_CSV, "?tokens=true")

    body = response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    assert [item["email"] for item in body["tokens"]] == [row[1] for row in GOOD_ROWS]
    for item in body["tokens"]:
        me = client.get("/api/v1/me", headers=bearer(item["token"]))
        assert (me.status_code, me.get_json()["email"]) == (200, item["email"])


def test_http_import_with_bad_rows_names_each_by_line_and_imports_nothing(app, client, admin):
    text = HEADER + "Anna Berg,anna.berg@cluster.example,,BE,cluster-manager\nBram,bram-at-agency,,NL,astronaut\n"
    before = snapshot(app.config["DATABASE"])

    response = post_csv(client, admin, text)

    body = assert_error(response, 422, "validation_failed")
    assert body["fields"] == {
        "line 3: email": "is not an email address",
        "line 3: category": body["fields"]["line 3: category"],
    }
    assert snapshot(app.config["DATABASE"]) == before


def test_http_import_with_a_field_past_the_csv_limit_is_unprocessable(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = post_csv(client, admin, GOOD_CSV + f"Dario,dario@press.example,{'x' * 200_000},IT,press\n")

    body = assert_error(response, 422, "validation_failed")
    assert body["fields"] == {"line 5": "a field is longer than 131072 characters"}
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (GOOD_CSV.encode(), "application/json", 415, "unsupported_media_type"),
        (GOOD_CSV.encode("utf-16"), "text/csv", 400, "invalid_input"),
    ],
)
def test_http_import_of_something_else_than_utf8_csv_is_refused(app, client, admin, body, content_type, status, code):
    before = snapshot(app.config["DATABASE"])

    response = post_csv(client, admin, body, content_type=content_type)

    assert_error(response, status, code)
    assert snapshot(app.config["DATABASE"]) == before


def test_http_import_takes_more_than_the_default_body_limit_up_to_16_mib(app, client, admin):
    rows = "".join(f"Person {n},person{n}@example.org,{'o' * 250},,press\n" for n in range(2000))  # ~560 KB
    too_big = HEADER + "x" * (16 * 1024 * 1024)
    before = snapshot(app.config["DATABASE"])

    refused = post_csv(client, admin, too_big)
    taken = post_csv(client, admin, HEADER + rows)

    assert assert_error(refused, 413, "payload_too_large")["limit"] == 16 * 1024 * 1024
    assert taken.get_json()["created"] == 2000
    assert before["attendees"] == []


def test_http_import_needs_an_admin(app, client, db):
    door = bearer(auth.create_token(db, "door", event_slug=EVENT, label="Door A"))
    before = snapshot(app.config["DATABASE"])

    responses = [post_csv(client, {}, GOOD_CSV), post_csv(client, door, GOOD_CSV)]

    assert [response.status_code for response in responses] == [401, 403]
    assert snapshot(app.config["DATABASE"]) == before
