"""A repeated revalidation is answered before Flask, with the same 304, until anything commits."""

from __future__ import annotations

import pytest
from flask import Flask

from server import attendees
from tests.conftest import API, bearer

PROGRAMME = f"{API}/programme"


@pytest.fixture
def seen_by_flask(app: Flask) -> list[str]:
    """The paths of the requests that reached Flask's request handling."""
    paths: list[str] = []

    @app.before_request
    def count() -> None:
        from flask import request

        paths.append(request.path)

    return paths


def revalidate(client, url: str, **headers: str):
    """Fetch `url`, then revalidate it twice (the second one is kept); the tag and the last 304."""
    etag = client.get(url).headers["ETag"]
    client.get(url, headers={"If-None-Match": etag, **headers})
    return etag, client.get(url, headers={"If-None-Match": etag, **headers})


def test_a_repeated_revalidation_gets_the_same_304_without_entering_flask(client, seen_by_flask):
    etag = client.get(PROGRAMME).headers["ETag"]
    first = client.get(PROGRAMME, headers={"If-None-Match": etag})

    again = client.get(PROGRAMME, headers={"If-None-Match": etag})

    assert (first.status_code, again.status_code) == (304, 304)
    assert sorted(again.headers.items()) == sorted(first.headers.items())
    assert again.headers["ETag"] == etag and again.data == b""
    assert seen_by_flask == [PROGRAMME, PROGRAMME]  # the 200 and the first 304 only


def test_a_commit_through_the_api_retires_the_kept_304(client, admin, seen_by_flask):
    etag, _ = revalidate(client, PROGRAMME)
    client.patch(f"{API}/sessions/opening-plenary", json={"title": "Renamed"}, headers=admin)

    after = client.get(PROGRAMME, headers={"If-None-Match": etag})

    assert seen_by_flask == [PROGRAMME, PROGRAMME, f"{API}/sessions/opening-plenary", PROGRAMME]
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    titles = {session["id"]: session["title"] for day in after.get_json()["days"] for session in day["sessions"]}
    assert titles["opening-plenary"] == "Renamed"


def test_a_commit_by_another_connection_retires_the_kept_304(client, db, seen_by_flask):
    etag, _ = revalidate(client, PROGRAMME)
    attendees.create_attendee(
        db, "ecc2014", {"name": "Anna Berg", "email": "anna@example.org", "category": "cluster-manager"}
    )

    after = client.get(PROGRAMME, headers={"If-None-Match": etag})

    assert after.status_code == 304  # the programme did not change; Flask was asked again to be sure
    assert seen_by_flask == [PROGRAMME, PROGRAMME, PROGRAMME]


def test_a_different_header_is_a_different_request(client, seen_by_flask):
    etag, _ = revalidate(client, PROGRAMME)

    gzip = client.get(PROGRAMME, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"})

    assert (gzip.status_code, gzip.headers["ETag"]) == (304, etag[:-1] + '-gzip"')
    assert seen_by_flask == [PROGRAMME, PROGRAMME, PROGRAMME]


def test_requests_with_credentials_always_reach_flask(client, db, seen_by_flask):
    _, token = attendees.create_attendee(
        db, "ecc2014", {"name": "Anna Berg", "email": "anna@example.org", "category": "cluster-manager"}
    )
    etag = client.get("/api/v1/me/schedule", headers=bearer(token)).headers["ETag"]

    answers = [
        client.get("/api/v1/me/schedule", headers={**bearer(token), "If-None-Match": etag}).status_code
        for _ in range(2)
    ]

    assert answers == [304, 304]
    assert seen_by_flask == ["/api/v1/me/schedule"] * 3


def test_only_a_304_is_kept(client, seen_by_flask):
    for _ in range(2):
        client.get(PROGRAMME, headers={"If-None-Match": '"stale"'})

    assert seen_by_flask == [PROGRAMME, PROGRAMME]
