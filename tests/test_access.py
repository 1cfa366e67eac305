"""One attendee can never read or change another's data, on any route.

Ann and Ben are both registered for the built-in conference; Ann has bookmarked the opening
plenary. Ben's token must only ever show and change Ben's things; an attendee token opens no
admin route, an admin token opens no personal route, a token of another event's attendee
reaches nothing of this event, and a token travels only in the Authorization header.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest

from server import attendees, auth
from tests.conftest import API, EVENT, PROGRAMME_EDITS, assert_error, bearer, snapshot

BOOKMARK = "opening-plenary"
FEED_URL = re.compile(r"^http://localhost/api/v1/calendars/([A-Za-z0-9_-]{43})\.ics$")


class Holder(NamedTuple):
    """A registered attendee and their personal API token."""

    document: dict
    token: str

    @property
    def id(self) -> str:
        return self.document["id"]

    @property
    def headers(self) -> dict:
        return bearer(self.token)


def register(db, name: str, email: str, event: str = EVENT) -> Holder:
    return Holder(*attendees.create_attendee(db, event, {"name": name, "email": email, "category": "practitioner"}))


def bookmarks(client, holder: Holder) -> list[str]:
    response = client.get("/api/v1/me/schedule", headers=holder.headers)
    assert response.status_code == 200, response.get_json()
    return [item["session"]["id"] for item in response.get_json()["items"]]


def stored_bookmarks(db) -> list[tuple[str, str]]:
    rows = db.conn.execute(
        "SELECT a.id, s.session_id FROM schedule_items s JOIN attendees a ON a.pk = s.attendee_pk "
        "ORDER BY a.id, s.session_id"
    )
    return [tuple(row) for row in rows]


@pytest.fixture
def ann(client, db) -> Holder:
    holder = register(db, "Ann Example", "ann@example.org")
    assert client.put(f"/api/v1/me/schedule/{BOOKMARK}", headers=holder.headers).status_code == 201
    return holder


@pytest.fixture
def ben(db) -> Holder:
    return register(db, "Ben Example", "ben@example.org")


@pytest.fixture
def outsider(db, other_event) -> Holder:
    """An attendee of another event, which has its own single session."""
    return register(db, "Olga Other", "ann@example.org", event=other_event)


# --- one attendee, another's data ---------------------------------------------------------


def test_me_with_ben_token_returns_ben(client, ann, ben):
    response = client.get("/api/v1/me", headers=ben.headers)

    assert response.status_code == 200
    assert response.get_json() == ben.document
    assert response.get_json()["id"] != ann.id


def test_schedule_of_ben_does_not_show_ann_bookmark(client, ann, ben):
    response = client.get("/api/v1/me/schedule", headers=ben.headers)

    assert response.get_json() == {
        "attendee": ben.id,
        "event": EVENT,
        "items": [],
        "overlap_count": 0,
        "meetings": [],
    }
    assert bookmarks(client, ann) == [BOOKMARK]


def test_unbookmark_by_ben_leaves_ann_bookmark(app, client, db, ann, ben):
    before = snapshot(app.config["DATABASE"])

    response = client.delete(f"/api/v1/me/schedule/{BOOKMARK}", headers=ben.headers)

    assert (response.status_code, response.get_data()) == (204, b"")
    assert snapshot(app.config["DATABASE"]) == before
    assert stored_bookmarks(db) == [(ann.id, BOOKMARK)]
    assert bookmarks(client, ann) == [BOOKMARK]


def test_bookmark_by_ben_is_his_alone(client, db, ann, ben):
    response = client.put("/api/v1/me/schedule/closing-plenary", headers=ben.headers)

    assert response.status_code == 201
    assert sorted(stored_bookmarks(db)) == sorted([(ann.id, BOOKMARK), (ben.id, "closing-plenary")])
    assert bookmarks(client, ann) == [BOOKMARK]
    assert bookmarks(client, ben) == ["closing-plenary"]


def test_calendar_of_ben_has_a_different_secret_url(client, ann, ben):
    mine = client.get("/api/v1/me/calendar", headers=ann.headers).get_json()

    his = client.get("/api/v1/me/calendar", headers=ben.headers).get_json()

    assert FEED_URL.match(mine["https"]) and FEED_URL.match(his["https"]), (mine["https"], his["https"])
    for way in ("https", "webcal", "google", "outlook", "qr_svg"):
        assert mine[way] != his[way], way
    assert client.get("/api/v1/me/calendar", headers=ann.headers).get_json()["https"] == mine["https"]


def test_calendar_rotation_by_ben_leaves_ann_url(client, ann, ben):
    before = client.get("/api/v1/me/calendar", headers=ann.headers).get_json()

    rotated = client.post("/api/v1/me/calendar/rotate", headers=ben.headers)

    assert rotated.status_code == 200
    assert client.get("/api/v1/me/calendar", headers=ann.headers).get_json() == before


def feed_path(client, holder: Holder) -> str:
    url = client.get("/api/v1/me/calendar", headers=holder.headers).get_json()["https"]
    return url.removeprefix("http://localhost")


def feed_summaries(response) -> list[str]:
    from icalendar import Calendar

    assert response.status_code == 200, response.get_data(as_text=True)
    return [str(event.get("SUMMARY")) for event in Calendar.from_ical(response.get_data()).walk("VEVENT")]


def test_feed_of_ben_does_not_contain_ann_sessions(client, ann, ben):
    title = client.get(f"{API}/sessions/{BOOKMARK}").get_json()["title"]
    ann_feed = client.get(feed_path(client, ann))

    ben_feed = client.get(feed_path(client, ben))

    assert feed_summaries(ann_feed) == [title]
    assert feed_summaries(ben_feed) == []
    assert BOOKMARK not in ben_feed.get_data(as_text=True)
    assert ben_feed.headers["Cache-Control"] == "private, no-cache"


def test_feed_follows_only_its_own_attendee_bookmarks(client, ann, ben):
    ann_path, ben_path = feed_path(client, ann), feed_path(client, ben)
    for path in (ann_path, ben_path):  # both feeds are now in the response cache
        assert client.get(path).status_code == 200

    client.put("/api/v1/me/schedule/closing-plenary", headers=ben.headers)

    closing = client.get(f"{API}/sessions/closing-plenary").get_json()["title"]
    opening = client.get(f"{API}/sessions/{BOOKMARK}").get_json()["title"]
    assert feed_summaries(client.get(ann_path)) == [opening]
    assert feed_summaries(client.get(ben_path)) == [closing]


def test_feed_url_replaced_by_rotation_is_not_found(client, ann):
    old = feed_path(client, ann)
    client.get(old)

    new = client.post("/api/v1/me/calendar/rotate", headers=ann.headers).get_json()["https"]

    assert_error(client.get(old), 404, "not_found")
    assert feed_summaries(client.get(new.removeprefix("http://localhost")))
    assert new.removeprefix("http://localhost") != old


def test_feed_of_erased_attendee_is_not_found(client, admin, ann):
    path = feed_path(client, ann)
    client.get(path)

    client.delete(f"{API}/attendees/{ann.id}", headers=admin)

    assert_error(client.get(path), 404, "not_found")


def test_feed_with_a_guessed_token_is_not_found(client, ann):
    real = FEED_URL.match("http://localhost" + feed_path(client, ann)).group(1)
    guessed = real[:-1] + ("A" if real[-1] != "A" else "B")

    response = client.get(f"/api/v1/calendars/{guessed}.ics")

    assert_error(response, 404, "not_found")


# --- attendee tokens on admin routes ------------------------------------------------------

ADMIN_WRITES = [
    ("post", f"{API}/sessions", {"id": "clinic", "title": "Clinic", "type": "workshop",
                                  "start": "2014-10-21T10:00", "end": "2014-10-21T10:30"}),
    *PROGRAMME_EDITS,
    ("get", f"{API}/attendees", None),
    ("post", f"{API}/attendees", {"name": "Eve Example", "email": "eve@example.org", "category": "press"}),
    ("get", f"{API}/attendees/{{ann}}", None),
    ("patch", f"{API}/attendees/{{ann}}", {"email": "ben-now@example.org"}),
    ("patch", f"{API}/attendees/{{ben}}", {"organisation": "Promoted himself"}),
    ("delete", f"{API}/attendees/{{ann}}", None),
    ("post", f"{API}/attendees/{{ann}}/token/rotate", None),
    ("post", f"{API}/attendees/{{ann}}/token/revoke", None),
    ("post", f"{API}/attendees/{{ben}}/token/revoke", None),
]  # fmt: skip
ADMIN_WRITE_IDS = [f"{method.upper()} {path.removeprefix(API)}" for method, path, _ in ADMIN_WRITES]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_WRITES, ids=ADMIN_WRITE_IDS)
def test_admin_route_with_attendee_token_is_forbidden(app, client, ann, ben, method, path, body):
    before = snapshot(app.config["DATABASE"])

    response = client.open(path.format(ann=ann.id, ben=ben.id), method=method.upper(), json=body, headers=ben.headers)

    body = assert_error(response, 403, "forbidden")
    assert body["message"].startswith("this needs a token with role 'admin'")
    assert body["message"].endswith("yours has role 'attendee'")
    assert snapshot(app.config["DATABASE"]) == before


# --- admin tokens on personal routes ------------------------------------------------------

ME_ROUTES = [
    ("get", "/api/v1/me"),
    ("get", "/api/v1/me/schedule"),
    ("put", f"/api/v1/me/schedule/{BOOKMARK}"),
    ("delete", f"/api/v1/me/schedule/{BOOKMARK}"),
    ("get", "/api/v1/me/calendar"),
    ("post", "/api/v1/me/calendar/rotate"),
    ("post", "/api/v1/me/token/rotate"),
]
ME_ROUTE_IDS = [f"{method.upper()} {path.removeprefix('/api/v1')}" for method, path in ME_ROUTES]


@pytest.mark.parametrize("role", ["admin", "door"])
@pytest.mark.parametrize(("method", "path"), ME_ROUTES, ids=ME_ROUTE_IDS)
def test_me_route_with_staff_token_is_forbidden(app, client, db, ann, method, path, role):
    token = auth.create_token(db, role, label="staff")
    before = snapshot(app.config["DATABASE"])

    response = client.open(path, method=method.upper(), headers=bearer(token))

    body = assert_error(response, 403, "forbidden")
    assert body["message"] == f"this needs an attendee's personal token; yours has role '{role}'"
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(("method", "path"), ME_ROUTES, ids=ME_ROUTE_IDS)
def test_calendar_feed_token_is_not_an_api_token(app, client, ann, method, path):
    feed_url = client.get("/api/v1/me/calendar", headers=ann.headers).get_json()["https"]
    before = snapshot(app.config["DATABASE"])

    response = client.open(path, method=method.upper(), headers=bearer(FEED_URL.match(feed_url).group(1)))

    assert_error(response, 401, "unauthorized")
    assert snapshot(app.config["DATABASE"]) == before


# --- an attendee of another event ---------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "delete"])
def test_attendee_of_another_event_cannot_touch_this_event_session(app, client, ann, outsider, method):
    before = snapshot(app.config["DATABASE"])

    response = client.open(f"/api/v1/me/schedule/{BOOKMARK}", method=method.upper(), headers=outsider.headers)

    body = assert_error(response, 404, "not_found")
    assert body["message"] == f"no session '{BOOKMARK}' in event 'other2015'"
    assert snapshot(app.config["DATABASE"]) == before
    assert bookmarks(client, ann) == [BOOKMARK]


def test_attendee_of_another_event_sees_only_their_own_schedule(client, ann, outsider):
    client.put(f"/api/v1/me/schedule/{BOOKMARK}", headers=outsider.headers)

    response = client.get("/api/v1/me/schedule", headers=outsider.headers)

    assert response.get_json() == {
        "attendee": outsider.id,
        "event": "other2015",
        "items": [],
        "overlap_count": 0,
        "meetings": [],
    }


def test_attendee_of_another_event_bookmarks_their_own_sessions(client, db, ann, outsider):
    response = client.put("/api/v1/me/schedule/welcome", headers=outsider.headers)

    assert response.status_code == 201
    assert bookmarks(client, outsider) == ["welcome"]
    assert bookmarks(client, ann) == [BOOKMARK]
    assert client.get("/api/v1/me", headers=outsider.headers).get_json()["event"] == "other2015"


def test_attendee_of_another_event_cannot_use_this_event_admin_routes(app, client, ann, outsider):
    before = snapshot(app.config["DATABASE"])

    response = client.get(f"{API}/attendees/{ann.id}", headers=outsider.headers)

    assert_error(response, 403, "forbidden")
    assert snapshot(app.config["DATABASE"]) == before


# --- where a token may travel -------------------------------------------------------------


@pytest.mark.parametrize("parameter", ["token", "access_token"])
@pytest.mark.parametrize(("method", "path"), ME_ROUTES, ids=ME_ROUTE_IDS)
def test_attendee_token_in_query_string_is_unauthorized(app, client, ann, method, path, parameter):
    before = snapshot(app.config["DATABASE"])

    response = client.open(path, method=method.upper(), query_string={parameter: ann.token})

    body = assert_error(response, 401, "unauthorized")
    assert body["message"] == "this needs an Authorization: Bearer <token> header"
    assert snapshot(app.config["DATABASE"]) == before


def test_admin_token_in_query_string_is_unauthorized(app, client, admin_token, ann):
    before = snapshot(app.config["DATABASE"])

    response = client.delete(f"{API}/attendees/{ann.id}", query_string={"token": admin_token})

    assert_error(response, 401, "unauthorized")
    assert snapshot(app.config["DATABASE"]) == before


# --- tokens that no longer work -----------------------------------------------------------


def _stop(client, admin, holder: Holder, how: str) -> None:
    """Make `holder.token` stale: revoked or rotated by an admin, or rotated by its holder."""
    if how == "self-rotated":
        response = client.post("/api/v1/me/token/rotate", headers=holder.headers)
    else:
        action = "revoke" if how == "revoked" else "rotate"
        response = client.post(f"{API}/attendees/{holder.id}/token/{action}", headers=admin)
    assert response.status_code in (200, 204), response.get_json()


@pytest.mark.parametrize("how", ["revoked", "rotated", "self-rotated"])
@pytest.mark.parametrize(("method", "path"), ME_ROUTES, ids=ME_ROUTE_IDS)
def test_stale_attendee_token_is_unauthorized_on_every_me_route(app, client, admin, ann, how, method, path):
    _stop(client, admin, ann, how)
    before = snapshot(app.config["DATABASE"])

    response = client.open(path, method=method.upper(), headers=ann.headers)

    body = assert_error(response, 401, "unauthorized")
    assert body["message"] == "the token is unknown or has been revoked"
    assert snapshot(app.config["DATABASE"]) == before


def test_stale_token_of_ann_does_not_disturb_ben(client, admin, ann, ben):
    _stop(client, admin, ann, "revoked")

    response = client.get("/api/v1/me", headers=ben.headers)

    assert response.get_json() == ben.document
