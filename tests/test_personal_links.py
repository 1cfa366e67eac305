"""Personal links: one URL per attendee, its secret in the fragment, one token per browser."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from server import attendees, auth, personal_links
from server.cli import cli
from tests.conftest import API, EVENT, assert_error, bearer, snapshot

ME = "/api/v1/me"
PERSON = {"name": "Ada Example", "email": "ada@example.org", "category": "cluster-manager"}


@pytest.fixture
def person(db) -> dict:
    document, _ = attendees.create_attendee(db, EVENT, PERSON)
    return document


def _link(client, admin, attendee_id: str, *, rotate: bool = False) -> str:
    if rotate:
        response = client.post(f"{API}/attendees/{attendee_id}/link/rotate", headers=admin)
    else:
        response = client.get(f"{API}/attendees/{attendee_id}/link", headers=admin)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["url"]


def _login(client, url: str, device: str = "Android phone"):
    secret = urlsplit(url).fragment
    return client.post(f"{API}/link-login", json={"secret": secret, "device": device})


def test_link_puts_the_secret_in_the_fragment_of_the_join_page(client, admin, person):
    url = _link(client, admin, person["id"])

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path, parts.query) == ("http", "localhost", f"/e/{EVENT}/join", "")
    assert len(parts.fragment) == 43


def test_link_is_the_same_each_time_until_rotated(client, admin, person):
    first = _link(client, admin, person["id"])

    assert _link(client, admin, person["id"]) == first
    rotated = _link(client, admin, person["id"], rotate=True)
    assert rotated != first
    assert _link(client, admin, person["id"]) == rotated


def test_link_follows_the_configured_public_url(app, admin, person):
    app.config["PUBLIC_URL"] = "https://ecc.example.eu"

    url = _link(app.test_client(), admin, person["id"])

    assert url.startswith(f"https://ecc.example.eu/e/{EVENT}/join#")


def test_link_login_gives_this_browser_a_token_of_its_own(client, admin, person):
    url = _link(client, admin, person["id"])

    response = _login(client, url)

    assert response.status_code == 201
    body = response.get_json()
    assert body["attendee"] == person["id"]
    assert body["token"].startswith("edt_")
    assert body["device"]["label"] == "Android phone"
    me = client.get(ME, headers=bearer(body["token"])).get_json()
    assert me["id"] == person["id"]


def test_each_browser_is_listed_and_can_be_signed_out(client, admin, person):
    url = _link(client, admin, person["id"])
    phone = _login(client, url, "Android phone").get_json()
    laptop = _login(client, url, "Laptop").get_json()

    devices = client.get(f"{ME}/devices", headers=bearer(phone["token"])).get_json()

    assert [(d["label"], d["current"]) for d in devices] == [("Android phone", True), ("Laptop", False)]
    response = client.delete(f"{ME}/devices/{laptop['device']['id']}", headers=bearer(phone["token"]))
    assert response.status_code == 204
    assert_error(client.get(ME, headers=bearer(laptop["token"])), 401, "unauthorized")
    assert client.get(ME, headers=bearer(phone["token"])).status_code == 200


def test_the_oldest_browsers_are_signed_out_past_the_limit(client, admin, person, monkeypatch):
    monkeypatch.setattr(personal_links, "MAX_DEVICES", 2)
    url = _link(client, admin, person["id"])
    first, second, third = (_login(client, url, name).get_json() for name in ("one", "two", "three"))

    devices = client.get(f"{ME}/devices", headers=bearer(third["token"])).get_json()

    assert [device["label"] for device in devices] == ["two", "three"]
    assert_error(client.get(ME, headers=bearer(first["token"])), 401)
    assert client.get(ME, headers=bearer(second["token"])).status_code == 200


def test_a_device_of_someone_else_cannot_be_signed_out(client, admin, db, person):
    other, _ = attendees.create_attendee(db, EVENT, {**PERSON, "email": "bob@example.org", "name": "Bob"})
    mine = _login(client, _link(client, admin, person["id"])).get_json()
    theirs = _login(client, _link(client, admin, other["id"])).get_json()

    response = client.delete(f"{ME}/devices/{theirs['device']['id']}", headers=bearer(mine["token"]))

    assert_error(response, 404)
    assert client.get(ME, headers=bearer(theirs["token"])).status_code == 200


def test_rotating_the_link_kills_the_old_link_and_its_browsers(client, admin, person):
    old = _link(client, admin, person["id"])
    signed_in = _login(client, old).get_json()

    new = _link(client, admin, person["id"], rotate=True)

    assert_error(_login(client, old), 404)
    assert_error(client.get(ME, headers=bearer(signed_in["token"])), 401, "unauthorized")
    assert _login(client, new).status_code == 201


def test_a_wrong_secret_is_refused_and_changes_nothing(app, client, admin, person):
    _link(client, admin, person["id"])
    before = snapshot(app.config["DATABASE"])

    assert_error(client.post(f"{API}/link-login", json={"secret": "A" * 43}), 404)
    assert_error(client.post(f"{API}/link-login", json={"secret": "too-short"}), 422, field="secret")
    assert_error(client.post(f"{API}/link-login", json={}), 400, field="secret")

    assert snapshot(app.config["DATABASE"]) == before


def test_a_link_signs_in_only_at_its_own_event(client, admin, other_event, person):
    url = _link(client, admin, person["id"])

    response = client.post(f"/api/v1/events/{other_event}/link-login", json={"secret": urlsplit(url).fragment})

    assert_error(response, 404)


def test_erasing_the_attendee_erases_their_link_and_browsers(client, admin, person):
    url = _link(client, admin, person["id"])
    signed_in = _login(client, url).get_json()

    assert client.delete(f"{API}/attendees/{person['id']}", headers=admin).status_code == 204

    assert_error(client.get(ME, headers=bearer(signed_in["token"])), 401)
    assert_error(_login(client, url), 404)


def test_the_link_needs_an_admin(client, db, person):
    door = bearer(auth.create_token(db, "door", event_slug=EVENT, label="Door A"))

    assert_error(client.get(f"{API}/attendees/{person['id']}/link"), 401)
    assert_error(client.get(f"{API}/attendees/{person['id']}/link", headers=door), 403)


# --- the organiser's commands ---------------------------------------------------------------


def _run(app, *args: str):
    environment = {"EVENTDESK_DATA_DIR": app.config["DATA_DIR"], "EVENTDESK_PUBLIC_URL": "https://ecc.example.eu"}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


def test_attendee_link_command_prints_the_link_the_api_gives(app, client, admin, person):
    result = _run(app, "attendee-link", "--event", EVENT, " ADA@example.org")

    assert result.exit_code == 0, result.output
    url = result.output.splitlines()[-1]
    assert url.startswith(f"https://ecc.example.eu/e/{EVENT}/join#")
    assert urlsplit(url).fragment == urlsplit(_link(client, admin, person["id"])).fragment


def test_attendee_link_command_rotates_on_request(app, client, person):
    first = _run(app, "attendee-link", "--event", EVENT, PERSON["email"]).output.splitlines()[-1]

    second = _run(app, "attendee-link", "--event", EVENT, "--rotate", PERSON["email"]).output.splitlines()[-1]

    assert second != first
    assert _login(client, first).status_code == 404
    assert _login(client, second).status_code == 201


def test_attendee_link_command_names_an_unknown_email(app):
    result = _run(app, "attendee-link", "--event", EVENT, "nobody@example.org")

    assert result.exit_code == 1
    assert "nobody@example.org" in result.output


def test_import_writes_each_attendees_link(app, client, tmp_path):
    registrations = tmp_path / "registrations.csv"
    registrations.write_text(
        "name,email,category\nAda Example,ada@example.org,cluster-manager\nBob Example,BOB@example.org,academia\n"
    )
    links = tmp_path / "links.csv"

    result = _run(app, "import-attendees", str(registrations), "--event", EVENT, "--links-out", str(links))

    assert result.exit_code == 0, result.output
    assert os.stat(links).st_mode & 0o777 == 0o600
    lines = links.read_text().splitlines()
    assert lines[0] == "email,name,link"
    rows = [line.split(",") for line in lines[1:]]
    assert [(email, name) for email, name, _ in rows] == [
        ("ada@example.org", "Ada Example"),
        ("bob@example.org", "Bob Example"),
    ]
    for _, _, url in rows:
        assert url.startswith(f"https://ecc.example.eu/e/{EVENT}/join#")
        assert _login(client, url).status_code == 201
