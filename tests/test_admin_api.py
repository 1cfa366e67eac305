"""The admin API: who may write, and what every programme write does to the stored data.

Each write must bump the event version exactly once, show up in the change feed, keep
session identities (id, guid) stable, raise a session's `sequence` only when its time,
room or status changes, and leave the database untouched when it is refused.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest

from server import attendees, auth, programme_edit
from server.programme_edit import programme_change, session_guid
from tests.conftest import API, EVENT, PROGRAMME_EDITS, assert_error, bearer, snapshot

# Day 2, 10:00-10:30 local: workshop-room-a is free until european-strategic-cluster-partnerships
# begins there at 10:30.
NEW_SESSION = {
    "id": "cluster-clinic",
    "title": "Cluster clinic",
    "type": "workshop",
    "start": "2014-10-21T10:00",
    "end": "2014-10-21T10:30",
    "room": "workshop-room-a",
    "track": "sme-growth",
    "speakers": [{"id": "ceo-photonics-sme", "role": "moderator"}, {"id": "ec-director-smes"}],
}
# Overlaps opening-plenary (14:00-15:30 in plenary-hall) and nothing else.
CLASHING_SESSION = {
    "id": "press-briefing",
    "title": "Press briefing",
    "type": "other",
    "start": "2014-10-20T15:00",
    "end": "2014-10-20T15:30",
    "room": "plenary-hall",
}
# Sessions that use each room, track or speaker of the built-in data.
USERS_OF = {
    ("rooms", "workshop-room-c"): [
        "creative-industries-cross-sectoral-innovation",
        "eco-tools-introduction",
        "emerging-industries-services",
        "key-enabling-technologies-emerging-industries",
        "less-developed-rural-regions",
        "lunch-briefing-cluster-excellence",
        "lunch-briefing-cosme",
        "service-innovation-kibs",
    ],
    ("tracks", "emerging-industries"): [
        "creative-industries-cross-sectoral-innovation",
        "emerging-industries-services",
        "key-enabling-technologies-emerging-industries",
        "service-innovation-kibs",
    ],
    ("speakers", "ceo-photonics-sme"): ["clusters-engines-sme-growth", "skills-talent-entrepreneurship"],
}
WRITE_ROUTES = [
    ("post", f"{API}/sessions", NEW_SESSION),
    *PROGRAMME_EDITS,
]
ROUTE_IDS = [f"{method.upper()} {path.removeprefix(API)}" for method, path, _ in WRITE_ROUTES]


def version(db) -> int:
    return db.conn.execute("SELECT version FROM events WHERE slug = ?", (EVENT,)).fetchone()[0]


def session_row(db, session_id: str) -> dict | None:
    row = db.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
    return dict(row) if row else None


def speaker_ids(db, session_id: str) -> list[str]:
    rows = db.conn.execute(
        "SELECT speaker_id FROM session_speakers WHERE session_id = ? ORDER BY position", (session_id,)
    )
    return [row[0] for row in rows]


def count(db, table: str, item_id: str) -> int:
    sql = f"SELECT COUNT(*) FROM {table} WHERE id = ?"  # noqa: S608 - table names from the tests
    return db.conn.execute(sql, (item_id,)).fetchone()[0]


def send(client, method: str, path: str, body: dict | None, headers: dict | None = None):
    if body is None:
        return client.open(path, method=method.upper(), headers=headers)
    return client.open(path, method=method.upper(), json=body, headers=headers)


def changes(client, since: int) -> dict:
    response = client.get(f"{API}/changes?since={since}")
    assert response.status_code == 200
    return response.get_json()


# --- who may write ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ROUTES, ids=ROUTE_IDS)
def test_write_route_without_token_is_unauthorized(app, client, method, path, body):
    before = snapshot(app.config["DATABASE"])

    response = send(client, method, path, body)

    assert_error(response, 401, "unauthorized")
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize("header", ["Token x", "Bearer ", "Bearer", "Basic YWRtaW46YWRtaW4=", "eda_abc"])
def test_write_with_malformed_authorization_header_is_unauthorized(app, client, admin_token, header):
    before = snapshot(app.config["DATABASE"])

    response = client.patch(
        f"{API}/sessions/opening-plenary", json={"title": "Renamed"}, headers={"Authorization": header}
    )

    body = assert_error(response, 401, "unauthorized")
    assert "Bearer <token>" in body["message"]
    assert snapshot(app.config["DATABASE"]) == before


def test_write_with_unknown_token_is_unauthorized(app, client, admin_token):
    before = snapshot(app.config["DATABASE"])

    response = client.patch(
        f"{API}/sessions/opening-plenary", json={"title": "Renamed"}, headers=bearer(admin_token + "x")
    )

    assert_error(response, 401, "unauthorized")
    assert snapshot(app.config["DATABASE"]) == before


def test_write_with_revoked_token_is_unauthorized(app, client, db, admin_token):
    assert auth.revoke_token(db, admin_token) is True
    before = snapshot(app.config["DATABASE"])

    response = client.patch(f"{API}/sessions/opening-plenary", json={"title": "Renamed"}, headers=bearer(admin_token))

    body = assert_error(response, 401, "unauthorized")
    assert "revoked" in body["message"]
    assert snapshot(app.config["DATABASE"]) == before


def test_write_with_token_of_another_event_is_forbidden(app, client, db, other_event):
    token = auth.create_token(db, "admin", event_slug=other_event)
    before = snapshot(app.config["DATABASE"])

    response = client.patch(f"{API}/sessions/opening-plenary", json={"title": "Renamed"}, headers=bearer(token))

    body = assert_error(response, 403, "forbidden")
    assert body["message"] == "this token is for event 'other2015', not 'ecc2014'"
    assert snapshot(app.config["DATABASE"]) == before


def test_token_bound_to_an_event_may_write_that_event(client, db, other_event):
    token = auth.create_token(db, "admin", event_slug=other_event)

    response = client.post("/api/v1/events/other2015/rooms", json={"id": "hall", "name": "Hall"}, headers=bearer(token))

    assert response.status_code == 201
    assert response.get_json() == {
        "id": "hall",
        "name": "Hall",
        "capacity": None,
        "description": "",
        "position": 0,
    }


def test_write_with_attendee_token_is_forbidden(app, client, db):
    _, token = attendees.create_attendee(
        db, "ecc2014", {"name": "Ann Example", "email": "ann@example.org", "category": "academia"}
    )
    before = snapshot(app.config["DATABASE"])

    response = client.delete(f"{API}/sessions/opening-plenary", headers=bearer(token))

    body = assert_error(response, 403, "forbidden")
    assert "role 'admin'" in body["message"]
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize("body", [None, {"bogus": 1}], ids=["no body", "invalid body"])
def test_write_without_token_is_unauthorized_whatever_the_body(app, client, body):
    before = snapshot(app.config["DATABASE"])

    response = send(client, "post", f"{API}/sessions", body)

    assert_error(response, 401, "unauthorized")
    assert snapshot(app.config["DATABASE"]) == before


# --- creating sessions --------------------------------------------------------------------


def test_create_session_returns_the_stored_session(client, db, admin):
    before = version(db)

    response = client.post(f"{API}/sessions", json=NEW_SESSION, headers=admin)

    assert response.status_code == 201
    row = session_row(db, "cluster-clinic")
    assert response.get_json() == {
        "id": "cluster-clinic",
        "guid": session_guid(EVENT, "cluster-clinic"),
        "title": "Cluster clinic",
        "type": "workshop",
        "track": "sme-growth",
        "room": "workshop-room-a",
        "day": "2014-10-21",
        "start": "2014-10-21T10:00:00+02:00",
        "end": "2014-10-21T10:30:00+02:00",
        "duration_minutes": 30,
        "abstract": "",
        "language": "en",
        "capacity": None,
        "status": "confirmed",
        "sequence": 0,
        "updated_at": row["updated_at"].replace("Z", "+00:00"),
        "speakers": [
            {
                "id": "ceo-photonics-sme",
                "name": "Chief executive, photonics SME (cluster member)",
                "job_title": "Chief executive",
                "organisation": "A photonics SME in a regional optics cluster",
                "role": "moderator",
            },
            {
                "id": "ec-director-smes",
                "name": "Director, SMEs and Entrepreneurship (European Commission)",
                "job_title": "Director",
                "organisation": "European Commission, DG Enterprise and Industry",
                "role": "speaker",
            },
        ],
    }
    assert (row["starts_at"], row["ends_at"]) == ("2014-10-21T08:00:00Z", "2014-10-21T08:30:00Z")
    assert speaker_ids(db, "cluster-clinic") == ["ceo-photonics-sme", "ec-director-smes"]
    assert version(db) == before + 1


def test_create_session_appears_in_changes_as_upsert(client, db, admin):
    before = version(db)

    created = client.post(f"{API}/sessions", json=NEW_SESSION, headers=admin).get_json()

    feed = changes(client, before)
    assert (feed["since"], feed["version"]) == (before, before + 1)
    assert feed["upserts"]["sessions"] == [created]
    assert [s["id"] for s in feed["upserts"]["speakers"]] == ["ceo-photonics-sme", "ec-director-smes"]
    assert feed["upserts"]["speakers"][0]["sessions"] == [
        "clusters-engines-sme-growth",
        "cluster-clinic",
        "skills-talent-entrepreneurship",
    ]
    assert feed["deletions"] == {"sessions": [], "speakers": [], "rooms": [], "tracks": []}


@pytest.mark.parametrize(
    "start",
    ["2014-10-21T10:00", "2014-10-21T08:00:00Z", "2014-10-21T10:00:00+02:00", "2014-10-21T09:00:00+01:00"],
)
def test_create_session_reads_naive_times_as_event_local(client, db, admin, start):
    body = {**NEW_SESSION, "start": start}

    response = client.post(f"{API}/sessions", json=body, headers=admin)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["start"] == "2014-10-21T10:00:00+02:00"
    assert session_row(db, "cluster-clinic")["starts_at"] == "2014-10-21T08:00:00Z"


def test_create_session_with_taken_id_is_conflict(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/sessions", json={**NEW_SESSION, "id": "opening-plenary"}, headers=admin)

    assert_error(response, 409, "conflict", field="id")
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"room": "attic"}, "room"),
        ({"track": "space-tourism"}, "track"),
        ({"speakers": [{"id": "nobody"}]}, "speakers[0].id"),
        ({"end": "2014-10-21T09:30"}, "end"),
        ({"end": "2014-10-21T10:00"}, "end"),
        ({"start": "2014-10-19T10:00", "end": "2014-10-19T10:30"}, "start"),
        ({"start": "2014-10-22T10:00", "end": "2014-10-22T10:30"}, "start"),
        # 22:30 UTC on the last day is already the next day in Brussels.
        ({"start": "2014-10-21T22:30:00Z", "end": "2014-10-21T23:00:00Z"}, "start"),
        ({"start": "tomorrow"}, "start"),
        ({"language": "English"}, "language"),
    ],
    ids=[
        "unknown room",
        "unknown track",
        "unknown speaker",
        "end before start",
        "end equals start",
        "before the event",
        "after the event",
        "after the event locally",
        "not a date",
        "bad language",
    ],
)
def test_create_session_with_invalid_values_is_unprocessable(app, client, admin, change, field):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/sessions", json={**NEW_SESSION, **change}, headers=admin)

    body = assert_error(response, 422, "validation_failed")
    assert list(body["fields"]) == [field]
    assert snapshot(app.config["DATABASE"]) == before


def test_create_session_with_unknown_field_is_bad_request(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/sessions", json={**NEW_SESSION, "bogus": 1}, headers=admin)

    body = assert_error(response, 400, "invalid_input")
    assert body["fields"] == {"bogus": "is not a known field"}
    assert snapshot(app.config["DATABASE"]) == before


def test_create_session_with_unknown_field_names_it(client, admin):
    response = client.post(f"{API}/sessions", json={**NEW_SESSION, "bogus": 1}, headers=admin)

    assert_error(response, 400, field="bogus")


def test_create_session_with_wrong_type_is_bad_request(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/sessions", json={**NEW_SESSION, "capacity": "ten"}, headers=admin)

    body = assert_error(response, 400, "invalid_input")
    assert body["fields"] == {"capacity": "must be an integer or null"}
    assert snapshot(app.config["DATABASE"]) == before


def test_create_session_with_malformed_json_is_bad_request(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/sessions", data='{"id": "x",', headers={**admin, "Content-Type": "application/json"})

    assert_error(response, 400)
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("content_type", "data"),
    [("application/json", '{"id": "x",'), ("text/plain", "id=x"), ("application/json", "[1, 2]")],
    ids=["malformed json", "plain text", "json array"],
)
def test_create_session_with_non_json_body_is_bad_request_naming_body(client, admin, content_type, data):
    response = client.post(f"{API}/sessions", data=data, headers={**admin, "Content-Type": content_type})

    assert_error(response, 400, field="body")


def test_create_session_in_a_booked_room_is_conflict(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/sessions", json=CLASHING_SESSION, headers=admin)

    body = assert_error(response, 409, "conflict", field="room")
    assert body["clashes"] == ["opening-plenary"]
    assert snapshot(app.config["DATABASE"]) == before


def test_create_session_in_a_booked_room_with_force_is_created(client, db, admin):
    before = version(db)

    response = client.post(f"{API}/sessions?force=true", json=CLASHING_SESSION, headers=admin)

    assert response.status_code == 201
    assert response.get_json()["room"] == "plenary-hall"
    assert session_row(db, "press-briefing")["room_id"] == "plenary-hall"
    assert version(db) == before + 1


def test_cancelled_session_does_not_block_its_room(client, db, admin):
    client.post(f"{API}/sessions/opening-plenary/cancel", headers=admin)

    response = client.post(f"{API}/sessions", json=CLASHING_SESSION, headers=admin)

    assert response.status_code == 201, response.get_json()
    assert session_row(db, "press-briefing")["room_id"] == "plenary-hall"


def test_session_may_start_when_the_last_in_its_room_ends(client, db, admin):
    body = {**CLASHING_SESSION, "start": "2014-10-20T15:30", "end": "2014-10-20T15:45"}

    response = client.post(f"{API}/sessions", json=body, headers=admin)

    assert response.status_code == 201, response.get_json()
    assert session_row(db, "press-briefing")["starts_at"] == session_row(db, "opening-plenary")["ends_at"]


# --- changing sessions --------------------------------------------------------------------


def test_patch_session_room_raises_sequence_and_version_by_one(client, db, admin):
    before_version, before = version(db), session_row(db, "opening-plenary")

    response = client.patch(f"{API}/sessions/opening-plenary", json={"room": "workshop-room-a"}, headers=admin)

    assert response.status_code == 200
    document = response.get_json()
    assert (document["room"], document["sequence"], document["guid"]) == (
        "workshop-room-a",
        1,
        before["guid"],
    )
    after = session_row(db, "opening-plenary")
    assert (after["room_id"], after["sequence"], after["guid"]) == ("workshop-room-a", 1, before["guid"])
    assert (after["starts_at"], after["ends_at"]) == (before["starts_at"], before["ends_at"])
    assert version(db) == before_version + 1
    assert [s["id"] for s in changes(client, before_version)["upserts"]["sessions"]] == ["opening-plenary"]


def test_patch_session_time_raises_sequence(client, db, admin):
    before_version = version(db)

    response = client.patch(
        f"{API}/sessions/opening-plenary",
        json={"start": "2014-10-20T14:15", "end": "2014-10-20T15:30"},
        headers=admin,
    )

    assert response.status_code == 200
    assert (response.get_json()["start"], response.get_json()["sequence"]) == ("2014-10-20T14:15:00+02:00", 1)
    assert session_row(db, "opening-plenary")["starts_at"] == "2014-10-20T12:15:00Z"
    assert version(db) == before_version + 1


def test_patch_session_title_keeps_sequence_but_bumps_version(client, db, admin):
    before_version = version(db)

    response = client.patch(f"{API}/sessions/opening-plenary", json={"title": "Opening"}, headers=admin)

    assert response.status_code == 200
    assert (response.get_json()["title"], response.get_json()["sequence"]) == ("Opening", 0)
    after = session_row(db, "opening-plenary")
    assert (after["title"], after["sequence"]) == ("Opening", 0)
    assert version(db) == before_version + 1


def test_patch_session_with_identical_values_changes_nothing(app, client, admin):
    same = {
        "title": "Opening plenary: Modern cluster policies for SME growth and industrial renewal",
        "room": "plenary-hall",
        "track": "cluster-policy",
        "start": "2014-10-20T12:00:00Z",
        "end": "2014-10-20T15:30",
        "speakers": [
            {"id": "eco-project-director", "role": "chair"},
            {"id": "ec-deputy-director-general-enterprise"},
            {"id": "professor-economic-geography-clusters", "role": "speaker"},
            {"id": "mep-industry-committee", "role": "panellist"},
            {"id": "regional-innovation-minister-central-europe", "role": "panellist"},
            {"id": "adviser-industrial-policy-business-federation", "role": "panellist"},
        ],
    }
    before = snapshot(app.config["DATABASE"])

    response = client.patch(f"{API}/sessions/opening-plenary", json=same, headers=admin)

    assert response.status_code == 200
    assert response.get_json()["sequence"] == 0
    assert snapshot(app.config["DATABASE"]) == before


def test_patch_session_room_to_null_clears_it(client, db, admin):
    before_version = version(db)

    response = client.patch(f"{API}/sessions/opening-plenary", json={"room": None}, headers=admin)

    assert response.status_code == 200
    assert (response.get_json()["room"], response.get_json()["sequence"]) == (None, 1)
    assert session_row(db, "opening-plenary")["room_id"] is None
    assert version(db) == before_version + 1


def test_patch_session_speakers_replaces_them_in_order(client, db, admin):
    response = client.patch(
        f"{API}/sessions/opening-plenary",
        json={"speakers": [{"id": "ec-director-smes", "role": "chair"}, {"id": "eco-project-director"}]},
        headers=admin,
    )

    assert response.status_code == 200
    assert [(s["id"], s["role"]) for s in response.get_json()["speakers"]] == [
        ("ec-director-smes", "chair"),
        ("eco-project-director", "speaker"),
    ]
    assert speaker_ids(db, "opening-plenary") == ["ec-director-smes", "eco-project-director"]
    assert session_row(db, "opening-plenary")["sequence"] == 0


def test_patch_session_into_a_booked_room_is_conflict(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    # Only the start moves; the stored end (16:45) is kept, so it overlaps opening-plenary.
    response = client.patch(
        f"{API}/sessions/clusters-engines-sme-growth", json={"start": "2014-10-20T15:00"}, headers=admin
    )

    body = assert_error(response, 409, "conflict", field="room")
    assert body["clashes"] == ["opening-plenary"]
    assert snapshot(app.config["DATABASE"]) == before


def test_patch_unknown_session_is_not_found(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.patch(f"{API}/sessions/no-such-session", json={"title": "x"}, headers=admin)

    body = assert_error(response, 404, "not_found")
    assert "no-such-session" in body["message"]
    assert snapshot(app.config["DATABASE"]) == before


def test_cancel_session_keeps_it_listed_as_cancelled(client, db, admin):
    before_version = version(db)

    response = client.post(f"{API}/sessions/opening-plenary/cancel", headers=admin)

    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["sequence"]) == ("cancelled", 1)
    assert (session_row(db, "opening-plenary")["status"], version(db)) == ("cancelled", before_version + 1)
    listed = {s["id"]: s for s in client.get(f"{API}/sessions").get_json()}
    assert listed["opening-plenary"] == response.get_json()
    day1 = client.get(f"{API}/programme").get_json()["days"][0]
    assert [s["status"] for s in day1["sessions"] if s["id"] == "opening-plenary"] == ["cancelled"]


def test_cancel_unknown_session_is_not_found(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/sessions/no-such-session/cancel", headers=admin)

    assert_error(response, 404, "not_found")
    assert snapshot(app.config["DATABASE"]) == before


def test_delete_session_removes_it_and_logs_a_deletion(client, db, admin):
    before_version = version(db)

    response = client.delete(f"{API}/sessions/opening-plenary", headers=admin)

    assert response.status_code == 200
    assert response.get_json() == {"id": "opening-plenary", "version": before_version + 1}
    assert session_row(db, "opening-plenary") is None
    assert speaker_ids(db, "opening-plenary") == []
    assert_error(client.get(f"{API}/sessions/opening-plenary"), 404, "not_found")
    assert "opening-plenary" not in [s["id"] for s in client.get(f"{API}/sessions").get_json()]
    feed = changes(client, before_version)
    assert feed["deletions"]["sessions"] == ["opening-plenary"]
    assert feed["upserts"]["sessions"] == []


def test_delete_unknown_session_is_not_found(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.delete(f"{API}/sessions/no-such-session", headers=admin)

    assert_error(response, 404, "not_found")
    assert snapshot(app.config["DATABASE"]) == before


# --- rooms, tracks and speakers -----------------------------------------------------------

ITEMS = {
    "rooms": (
        {"id": "annex", "name": "Annex", "capacity": 40, "description": "Ground floor"},
        {"id": "annex", "name": "Annex", "capacity": 40, "description": "Ground floor", "position": 4},
        {"name": "Annex hall", "capacity": 60},
    ),
    "tracks": (
        {"id": "digital", "name": "Digital", "color": "#336699"},
        {"id": "digital", "name": "Digital", "color": "#336699", "description": "", "position": 5},
        {"color": "#000000", "description": "Going digital"},
    ),
    "speakers": (
        {"id": "ada-example", "name": "Ada Example", "organisation_type": "research", "country": "BE"},
        {
            "id": "ada-example",
            "name": "Ada Example",
            "job_title": "",
            "organisation": "",
            "organisation_type": "research",
            "country": "BE",
            "bio": "",
            "sessions": [],
        },
        {"job_title": "Analyst", "bio": "Works on clusters."},
    ),
}


@pytest.mark.parametrize("plural", ITEMS)
def test_create_item_returns_it_and_logs_an_upsert(client, db, admin, plural):
    payload, expected, _ = ITEMS[plural]
    before_version = version(db)

    response = client.post(f"{API}/{plural}", json=payload, headers=admin)

    assert response.status_code == 201
    assert response.get_json() == expected
    assert client.get(f"{API}/{plural}/{expected['id']}").get_json() == expected
    assert version(db) == before_version + 1
    assert changes(client, before_version)["upserts"][plural] == [expected]


@pytest.mark.parametrize("plural", ITEMS)
def test_patch_item_changes_only_the_given_fields(client, db, admin, plural):
    payload, expected, patch = ITEMS[plural]
    client.post(f"{API}/{plural}", json=payload, headers=admin)
    before_version = version(db)

    response = client.patch(f"{API}/{plural}/{expected['id']}", json=patch, headers=admin)

    assert response.status_code == 200
    assert response.get_json() == {**expected, **patch}
    assert version(db) == before_version + 1
    assert changes(client, before_version)["upserts"][plural] == [{**expected, **patch}]


@pytest.mark.parametrize("plural", ITEMS)
def test_patch_item_with_identical_values_changes_nothing(app, client, admin, plural):
    payload, expected, _ = ITEMS[plural]
    client.post(f"{API}/{plural}", json=payload, headers=admin)
    before = snapshot(app.config["DATABASE"])

    response = client.patch(f"{API}/{plural}/{expected['id']}", json={"name": expected["name"]}, headers=admin)

    assert response.get_json() == expected
    assert snapshot(app.config["DATABASE"]) == before


def test_patch_room_position_reorders_rooms(client, admin):
    response = client.patch(f"{API}/rooms/workshop-room-c", json={"position": -1}, headers=admin)

    assert response.get_json()["position"] == -1
    assert [room["id"] for room in client.get(f"{API}/rooms").get_json()] == [
        "workshop-room-c",
        "plenary-hall",
        "workshop-room-a",
        "workshop-room-b",
    ]


@pytest.mark.parametrize("plural", ITEMS)
def test_delete_unused_item_removes_it_and_logs_a_deletion(client, db, admin, plural):
    payload, expected, _ = ITEMS[plural]
    client.post(f"{API}/{plural}", json=payload, headers=admin)
    before_version = version(db)

    response = client.delete(f"{API}/{plural}/{expected['id']}", headers=admin)

    assert response.get_json() == {"id": expected["id"], "version": before_version + 1}
    assert count(db, plural, expected["id"]) == 0
    assert_error(client.get(f"{API}/{plural}/{expected['id']}"), 404, "not_found")
    assert changes(client, before_version)["deletions"][plural] == [expected["id"]]


@pytest.mark.parametrize(
    ("plural", "item_id"),
    [("rooms", "plenary-hall"), ("tracks", "sme-growth"), ("speakers", "ec-director-smes")],
)
def test_create_item_with_taken_id_is_conflict(app, client, admin, plural, item_id):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/{plural}", json={"id": item_id, "name": "Duplicate"}, headers=admin)

    assert_error(response, 409, "conflict", field="id")
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("plural", "payload", "status", "code", "field"),
    [
        ("rooms", {"id": "annex", "name": "   "}, 422, "validation_failed", "name"),
        ("rooms", {"id": "annex", "name": "Annex", "capacity": 0}, 422, "validation_failed", "capacity"),
        ("tracks", {"id": "digital", "name": "Digital", "color": "#12345"}, 422, "validation_failed", "color"),
        ("speakers", {"id": "ada", "name": "Ada", "country": "Belgium"}, 422, "validation_failed", "country"),
        ("speakers", {"id": "Ada Example", "name": "Ada"}, 422, "validation_failed", "id"),
        ("speakers", {"id": "ada"}, 400, "invalid_input", "name"),
    ],
    ids=["blank name", "zero capacity", "bad colour", "bad country", "bad id", "no name"],
)
def test_create_item_with_invalid_values_is_refused(app, client, admin, plural, payload, status, code, field):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/{plural}", json=payload, headers=admin)

    body = assert_error(response, status, code, field=field)
    assert list(body["fields"]) == [field]
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize("plural", ITEMS)
@pytest.mark.parametrize("method", ["patch", "delete"])
def test_change_unknown_item_is_not_found(app, client, admin, plural, method):
    before = snapshot(app.config["DATABASE"])

    response = send(client, method, f"{API}/{plural}/no-such-item", {"name": "x"} if method == "patch" else None, admin)

    body = assert_error(response, 404, "not_found")
    assert "no-such-item" in body["message"]
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("plural", "item_id", "query"),
    [
        ("rooms", "workshop-room-c", ""),
        ("rooms", "workshop-room-c", "?force=true"),  # force unlinks speakers only
        ("tracks", "emerging-industries", ""),
        ("tracks", "emerging-industries", "?force=true"),
        ("speakers", "ceo-photonics-sme", ""),
    ],
)
def test_delete_item_in_use_is_conflict_naming_sessions(app, client, admin, plural, item_id, query):
    before = snapshot(app.config["DATABASE"])

    response = client.delete(f"{API}/{plural}/{item_id}{query}", headers=admin)

    body = assert_error(response, 409, "conflict")
    assert body["sessions"] == USERS_OF[(plural, item_id)]
    assert snapshot(app.config["DATABASE"]) == before


def test_delete_speaker_in_use_with_force_unlinks_them(client, db, admin):
    before_version = version(db)

    response = client.delete(f"{API}/speakers/ceo-photonics-sme?force=true", headers=admin)

    assert response.get_json() == {"id": "ceo-photonics-sme", "version": before_version + 1}
    users = USERS_OF[("speakers", "ceo-photonics-sme")]
    for session_id in users:
        assert "ceo-photonics-sme" not in speaker_ids(db, session_id)
        speakers = client.get(f"{API}/sessions/{session_id}").get_json()["speakers"]
        assert "ceo-photonics-sme" not in [s["id"] for s in speakers]
    feed = changes(client, before_version)
    assert [s["id"] for s in feed["upserts"]["sessions"]] == users
    assert feed["deletions"]["speakers"] == ["ceo-photonics-sme"]


def test_speaker_rename_reaches_their_sessions_and_search(client, db, admin):
    users = USERS_OF[("speakers", "ceo-photonics-sme")]
    before_version = version(db)

    response = client.patch(f"{API}/speakers/ceo-photonics-sme", json={"name": "Zebulon Quagmire"}, headers=admin)

    assert response.get_json()["name"] == "Zebulon Quagmire"
    for session_id in users:
        speakers = client.get(f"{API}/sessions/{session_id}").get_json()["speakers"]
        assert [s["name"] for s in speakers if s["id"] == "ceo-photonics-sme"] == ["Zebulon Quagmire"]
    for text in ("quagmire", "Zebulon Quagmire", "zeb"):
        found = client.get(f"{API}/sessions", query_string={"q": text}).get_json()
        assert [s["id"] for s in found] == users, text
    assert [s["id"] for s in changes(client, before_version)["upserts"]["sessions"]] == users
    assert version(db) == before_version + 1


def test_speaker_rename_drops_the_old_name_from_search(client, admin):
    # "Chief" is in ceo-photonics-sme's name only: in no title, abstract, organisation or other name.
    found_before = [s["id"] for s in client.get(f"{API}/sessions?q=chief").get_json()]

    client.patch(f"{API}/speakers/ceo-photonics-sme", json={"name": "Zebulon Quagmire"}, headers=admin)

    assert found_before == USERS_OF[("speakers", "ceo-photonics-sme")]
    assert client.get(f"{API}/sessions?q=chief").get_json() == []


# --- transactions -------------------------------------------------------------------------


def test_write_failing_halfway_rolls_back_everything(app, db):
    before, before_version = snapshot(app.config["DATABASE"]), version(db)
    opening = session_row(db, "opening-plenary")
    seen_inside = {}

    with pytest.raises(sqlite3.IntegrityError), programme_change(db, EVENT) as log:
        programme_edit.write_simple(log, "room", {"id": "annex", "name": "Annex"}, None)
        programme_edit.write_session(log, {"title": "Half-done", "room_id": "annex"}, opening)
        seen_inside["title"] = session_row(db, "opening-plenary")["title"]
        # The track does not exist: the foreign key stops this third write.
        programme_edit.write_session(log, {"track_id": "no-such-track"}, session_row(db, "opening-plenary"))

    assert seen_inside == {"title": "Half-done"}
    assert snapshot(app.config["DATABASE"]) == before
    assert version(db) == before_version


def test_write_raising_inside_a_change_rolls_back(app, client, db):
    before, before_version = snapshot(app.config["DATABASE"]), version(db)
    seen_inside = {}

    with pytest.raises(RuntimeError, match="disk on fire"), programme_change(db, EVENT) as log:
        programme_edit.delete_simple(log, "speaker", "ceo-photonics-sme", unlink=True)
        programme_edit.create_item(db, EVENT, "room", {"id": "annex", "name": "Annex"})
        seen_inside.update(speakers=count(db, "speakers", "ceo-photonics-sme"), rooms=count(db, "rooms", "annex"))
        raise RuntimeError("disk on fire")

    assert seen_inside == {"speakers": 0, "rooms": 1}
    assert snapshot(app.config["DATABASE"]) == before
    assert version(db) == before_version
    assert client.get(f"{API}/speakers/ceo-photonics-sme").get_json()["sessions"][0]["id"] == (
        "clusters-engines-sme-growth"
    )


# --- concurrency --------------------------------------------------------------------------


def test_concurrent_patches_of_different_sessions_both_apply(app, db, admin):
    before_version = version(db)
    targets = {"opening-plenary": "Opening, renamed", "closing-plenary": "Closing, renamed"}
    barrier = Barrier(len(targets))

    def rename(session_id: str) -> int:
        client = app.test_client()
        barrier.wait(timeout=10)
        response = client.patch(f"{API}/sessions/{session_id}", json={"title": targets[session_id]}, headers=admin)
        return response.status_code

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        statuses = list(pool.map(rename, targets))

    assert statuses == [200, 200]
    assert {sid: session_row(db, sid)["title"] for sid in targets} == targets
    assert version(db) == before_version + 2
    logged = db.conn.execute(
        "SELECT version, item_id FROM changes WHERE version > ? ORDER BY version", (before_version,)
    ).fetchall()
    assert sorted(item for _, item in logged) == sorted(targets)
    assert sorted(v for v, _ in logged) == [before_version + 1, before_version + 2]
