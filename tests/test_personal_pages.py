"""The attendee's page shells, the web app manifest and the service worker, over HTTP.

What the browser does with them is tested in Chromium (tests/test_attendee_app.py); here,
what the server promises: the same bytes for everyone, revalidated with 304, nothing from
elsewhere, and a worker that knows every file the pages need.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from server import personal_pages
from tests.conftest import EVENT, attendee_headers

SHELLS = ["/join", "/me", "/me/calendar", "/me/ticket", "/desk", "/matchmaking/live"]
STATIC = Path(personal_pages.__file__).parent / "static"


@pytest.mark.parametrize("page", SHELLS)
def test_a_shell_is_the_same_for_everyone_and_revalidates(client, db, page):
    anonymous = client.get(f"/e/{EVENT}{page}")
    signed_in = client.get(f"/e/{EVENT}{page}", headers=attendee_headers(db))

    assert anonymous.status_code == 200 and anonymous.mimetype == "text/html"
    assert anonymous.data == signed_in.data
    assert "Attendee 1" not in anonymous.get_data(as_text=True)
    again = client.get(f"/e/{EVENT}{page}", headers={"If-None-Match": anonymous.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("page", SHELLS)
def test_a_shell_loads_only_its_own_scripts_and_no_inline_code(client, page):
    response = client.get(f"/e/{EVENT}{page}")
    html = response.get_data(as_text=True)

    sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert sources and all(source.startswith("/static/") for source in sources)
    assert not re.search(r"<script(?![^>]*src=)[^>]*>", html)
    assert not re.search(r"https?://", " ".join(re.findall(r'(?:src|href)="([^"]+)"', html)))
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_shell_of_an_unknown_event_is_a_404_page(client):
    response = client.get("/e/no-such-event/me", headers={"Accept": "text/html"})

    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_the_manifest_makes_the_event_an_installable_app(client):
    response = client.get(f"/e/{EVENT}/manifest.webmanifest")

    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.data)
    assert manifest["scope"] == f"/e/{EVENT}/"
    assert manifest["start_url"] == f"/e/{EVENT}/me"
    assert manifest["display"] == "standalone"
    assert manifest["name"].startswith("European Cluster Conference")
    for icon in manifest["icons"]:
        with client.get(icon["src"]) as answer:
            assert answer.status_code == 200


def test_the_service_worker_precaches_every_static_file_and_the_shell(client):
    response = client.get(f"/e/{EVENT}/sw.js")

    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", response.get_data(as_text=True)).group(1))
    on_disk = {f"/static/{path.name}" for path in STATIC.iterdir() if path.is_file() and path.name != "sw.js"}
    assert on_disk <= set(precache)
    assert {f"/e/{EVENT}/", f"/e/{EVENT}/me", f"/e/{EVENT}/me/ticket", f"/api/v1/events/{EVENT}"} <= set(precache)
    for url in precache:
        with client.get(url) as answer:
            assert answer.status_code == 200, url


def test_every_module_a_page_imports_exists(client):
    for script in STATIC.glob("*.js"):
        for imported in re.findall(r'from "\./([^"]+)"', script.read_text()):
            assert (STATIC / imported).is_file(), f"{script.name} imports missing {imported}"


def test_the_worker_changes_when_a_static_file_does(client, monkeypatch):
    before = client.get(f"/e/{EVENT}/sw.js").data
    personal_pages.asset_version.cache_clear()
    monkeypatch.setattr(personal_pages, "__version__", "99.0")

    after = client.get(f"/e/{EVENT}/sw.js").data

    personal_pages.asset_version.cache_clear()
    assert before != after
