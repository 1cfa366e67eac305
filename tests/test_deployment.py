"""Where the server says it lives: forwarded headers, EVENTDESK_PUBLIC_URL and the Host header.

Feed links end up in calendar apps for years, so a client must not be able to choose their
host: X-Forwarded-* is believed only with EVENTDESK_TRUSTED_PROXIES, EVENTDESK_PUBLIC_URL wins
over everything, and a Host the server cannot route with is a 400 in the error shape.
"""

from __future__ import annotations

import shutil

import pytest

from server import create_app, db as database
from server.errors import ConfigurationError
from tests.conftest import API, assert_error, attendee_headers

FORWARDED = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}


@pytest.fixture
def make_client(tmp_path, loaded_template):
    """A test client of an app on a copy of the built-in conference, with extra settings."""

    def make(**settings):
        shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
        return create_app({"TESTING": True, "DATA_DIR": str(tmp_path), **settings}).test_client()

    return make


def feed_urls(client, **headers) -> set[str]:
    """The distinct scheme://host/prefix parts of the URL: lines of the programme feed."""
    response = client.get(f"{API}/programme.ics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    lines = response.get_data(as_text=True).replace("\r\n ", "").splitlines()
    return {line[4:].split("/api/v1/")[0] for line in lines if line.startswith("URL:")}


def calendar_link(client, **headers) -> str:
    """Where /me/calendar tells a newly registered attendee to subscribe."""
    db = database.connect(client.application.config["DATABASE"])
    try:
        token = attendee_headers(db)
    finally:
        db.close()
    return client.get("/api/v1/me/calendar", headers={**token, **headers}).get_json()["https"]


def test_forwarded_headers_are_ignored_by_default(make_client):
    client = make_client()

    urls = feed_urls(client, **FORWARDED)
    link = calendar_link(client, **FORWARDED)

    assert urls == {"http://localhost"}
    assert link.startswith("http://localhost/api/v1/calendars/")


def test_forwarded_headers_are_honoured_with_trusted_proxies(make_client):
    client = make_client(TRUSTED_PROXIES="1")

    urls = feed_urls(client, **FORWARDED)
    link = calendar_link(client, **FORWARDED)
    direct = feed_urls(client)

    assert urls == {"https://evil.example"}
    assert link.startswith("https://evil.example/api/v1/calendars/")
    assert direct == {"http://localhost"}  # each origin its own cached feed


def test_public_url_wins_over_host_and_forwarded_headers(make_client):
    client = make_client(TRUSTED_PROXIES="1", PUBLIC_URL="https://agenda.example.org/ecc/")

    urls = feed_urls(client, Host="other.example", **FORWARDED)
    link = calendar_link(client, Host="other.example", **FORWARDED)

    assert urls == {"https://agenda.example.org/ecc"}
    assert link.startswith("https://agenda.example.org/ecc/api/v1/calendars/")


def test_public_url_and_trusted_proxies_come_from_the_environment(tmp_path, loaded_template, monkeypatch):
    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    monkeypatch.setenv("EVENTDESK_PUBLIC_URL", "http://127.0.0.1:8080")
    monkeypatch.setenv("EVENTDESK_TRUSTED_PROXIES", "2")

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})

    assert (app.config["PUBLIC_URL"], app.config["TRUSTED_PROXIES"]) == ("http://127.0.0.1:8080", 2)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("PUBLIC_URL", "agenda.example.org", "must start with http:// or https://"),
        ("PUBLIC_URL", "ftp://agenda.example.org", "must start with http:// or https://"),
        ("PUBLIC_URL", "https://", "must name a host"),
        ("PUBLIC_URL", "https://a b.example", "must name a host"),
        ("PUBLIC_URL", "https://user:pw@agenda.example.org", "no user or password"),
        ("PUBLIC_URL", "https://agenda.example.org/?x=1", "must not have a query"),
        ("PUBLIC_URL", "https://agenda.example.org/#top", "or a fragment"),
        ("TRUSTED_PROXIES", "yes", "must be a whole number of proxies"),
        ("TRUSTED_PROXIES", "-1", "must be a whole number of proxies"),
    ],
)
def test_a_wrong_address_setting_stops_the_server_with_its_name(tmp_path, setting, value, message):
    with pytest.raises(ConfigurationError) as refused:
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), setting: value})

    assert f"EVENTDESK_{setting}={value!r}" in str(refused.value)
    assert message in str(refused.value)


@pytest.mark.parametrize("host", ["..", "a b", "host:99999x", "host:0", "ex..ample", "[::1", "a/b", "é.example"])
@pytest.mark.parametrize("path", [f"{API}/programme.ics", "/api/v1/events", "/", "/api/v1/docs"])
def test_a_malformed_host_is_a_400_in_the_error_shape(make_client, host, path):
    client = make_client()

    response = client.get(path, headers={"Host": host})

    assert_error(response, 400, "bad_host")


@pytest.mark.parametrize("header", ["X-Forwarded-Host", "X-Forwarded-Port"])
def test_a_malformed_forwarded_host_is_a_400_when_proxies_are_trusted(make_client, header):
    client = make_client(TRUSTED_PROXIES=1)

    response = client.get(f"{API}/programme.ics", headers={header: ".." if header.endswith("Host") else "99999x"})

    assert_error(response, 400, "bad_host")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:5000", "[::1]:8080", "agenda.example.org.", "web_1:80"])
def test_ordinary_hosts_are_served(make_client, host):
    client = make_client()

    response = client.get("/api/v1/events", headers={"Host": host})

    assert response.status_code == 200
