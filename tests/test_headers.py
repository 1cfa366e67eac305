"""Headers that keep secrets out of caches, logs and other sites, on every response.

A 401 says how to authenticate; whatever carries a token, a ticket code, a feed URL or personal
data is `no-store`; HTML pages have a Content-Security-Policy; nothing is sniffed or referred.
"""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import API, EVENT, attendee_headers, bearer, gunicorn_server, run_script, server_env
from tests.people import ANNA

CHALLENGE = 'Bearer realm="eventdesk"'


def test_a_missing_token_is_answered_with_a_bearer_challenge(client):
    response = client.get("/api/v1/me")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE


def test_a_wrong_token_is_answered_with_an_invalid_token_challenge(client):
    response = client.get(f"{API}/attendees", headers=bearer("eda_not-a-real-token"))

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE + ', error="invalid_token"'


def test_answers_that_carry_secrets_are_not_stored(client, db, admin):
    person = attendee_headers(db)

    answers = {
        "new attendee and token": client.post(f"{API}/attendees", json=ANNA, headers=admin),
        "new device": client.post(f"{API}/devices", json={"name": "Door Z"}, headers=admin),
        "me": client.get("/api/v1/me", headers=person),
        "ticket": client.get("/api/v1/me/ticket", headers=person),
        "ticket png": client.get("/api/v1/me/ticket.png", headers=person),
        "ticket svg": client.get("/api/v1/me/ticket.svg", headers=person),
        "feed url": client.get("/api/v1/me/calendar", headers=person),
        "new feed url": client.post("/api/v1/me/calendar/rotate", headers=person),
        "schedule": client.get("/api/v1/me/schedule", headers=person),
        "new token": client.post("/api/v1/me/token/rotate", headers=person),
    }

    assert {name: (r.status_code < 300, r.headers.get("Cache-Control")) for name, r in answers.items()} == {
        name: (True, "no-store") for name in answers
    }


def test_the_personal_feed_is_private_and_still_answers_304(client, db):
    person = attendee_headers(db)
    feed = client.get("/api/v1/me/calendar", headers=person).get_json()["https"].removeprefix("http://localhost")

    first = client.get(feed)
    again = client.get(feed, headers={"If-None-Match": first.headers["ETag"]})

    assert (first.status_code, first.headers["Cache-Control"]) == (200, "private, no-cache")
    assert (again.status_code, again.headers["Cache-Control"]) == (304, "private, no-cache")


def test_public_reads_stay_cacheable(client):
    response = client.get(f"{API}/programme")

    assert response.headers["Cache-Control"].startswith("public")


@pytest.mark.parametrize("path", ["/", "/api/v1/docs", f"{API}/programme", "/api/v1/nowhere"])
def test_every_response_is_neither_sniffed_nor_referred(client, path):
    response = client.get(path)

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/api/v1/docs"])
def test_html_pages_have_a_strict_content_security_policy_with_a_fresh_nonce(client, path):
    first, second = client.get(path, headers={"Accept": "text/html"}), client.get(path, headers={"Accept": "text/html"})

    policy = first.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == directives["object-src"] == directives["base-uri"] == ["'none'"]
    assert f'nonce="{nonce}"' in first.get_data(as_text=True)
    assert 'style="' not in first.get_data(as_text=True)  # inline style attributes would be blocked
    assert second.headers["Content-Security-Policy"] != policy


def test_swagger_ui_renders_in_a_real_browser_under_its_policy(tmp_path):
    env = server_env(tmp_path)
    run_script("eventdesk-server", "init-db", env=env)
    with gunicorn_server(env) as base:
        page = httpx.get(f"{base}/api/v1/docs")
        dom = subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
             "--dump-dom", f"{base}/api/v1/docs"],
            capture_output=True, text=True, timeout=90,
        )  # fmt: skip

    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert dom.returncode == 0, dom.stderr
    assert 'class="opblock-tag' in dom.stdout  # the script ran, fetched the spec and drew its sections
    assert "Check-in lists and door devices (admin)" in dom.stdout


def test_the_access_log_never_holds_a_feed_token(tmp_path, loaded_template):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "eventdesk.sqlite3").write_bytes(Path(loaded_template).read_bytes())
    log = tmp_path / "access.log"
    env = server_env(data_dir, EVENTDESK_ACCESS_LOG=str(log))
    admin = run_script("eventdesk-server", "create-token", "--role", "admin", env=env).split()[-1]
    with gunicorn_server(env) as base:
        token = httpx.post(f"{base}{API}/attendees", json=ANNA, headers=bearer(admin)).json()["token"]
        feed = httpx.get(f"{base}/api/v1/me/calendar", headers=bearer(token)).json()["https"]
        fetched = httpx.get(feed + "?token=abc123")

    secret = feed.rsplit("/", 1)[1].removesuffix(".ics")
    text = log.read_text()
    assert fetched.status_code == 200
    assert '"GET /api/v1/calendars/[redacted].ics?token=[redacted] HTTP/1.1" 200' in text
    assert secret not in text and "abc123" not in text and token not in text


def test_tokens_out_neutralises_spreadsheet_formulas(tmp_path):
    env = server_env(tmp_path / "data")
    run_script("eventdesk-server", "init-db", env=env)
    run_script("eventdesk-server", "load-programme", "--builtin", env=env)
    registrations = tmp_path / "registrations.csv"
    registrations.write_text(
        "name,email,category\n"
        '"=HYPERLINK(""http://x"")","=HYPERLINK(""http://x"")@example.org",cluster-manager\n'
        "+Bram,+bram@example.org,academia\n"
        "Carla,carla@example.org,industry\n",
        encoding="utf-8",
    )
    tokens = tmp_path / "tokens.csv"

    run_script(
        "eventdesk-server",
        "import-attendees",
        str(registrations),
        "--event",
        EVENT,
        "--tokens-out",
        str(tokens),
        env=env,
    )

    with tokens.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[0] for row in rows] == [
        "email", "'=hyperlink(\"http://x\")@example.org", "'+bram@example.org", "carla@example.org",
    ]  # fmt: skip
    assert all(row[1].startswith("edt_") for row in rows[1:])


def test_control_socket_is_off(monkeypatch, tmp_path):
    # Reading the config makes a metrics directory and says so in the environment, which every
    # server a later test starts would inherit: keep both to this test.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    from server import gunicorn_conf

    assert gunicorn_conf.control_socket_disable is True
