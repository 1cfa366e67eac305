"""ETags, 304s, Cache-Control and gzip on the programme responses."""

from __future__ import annotations

import gzip
import json

import pytest

from tests.conftest import API

# What a public read allows a shared cache (server/api/caching.py); browsers revalidate every time.
PUBLIC_CACHE_CONTROL = "public, max-age=0, must-revalidate, s-maxage=1, stale-while-revalidate=5, stale-if-error=86400"

PUBLIC = [
    "/api/v1/events",
    API,
    f"{API}/programme",
    f"{API}/sessions?track=sme-growth",
    f"{API}/sessions/opening-plenary",
    f"{API}/speakers",
    f"{API}/speakers/eco-project-director",
    f"{API}/rooms",
    f"{API}/tracks",
    f"{API}/changes?since=0",
]


@pytest.mark.parametrize("url", PUBLIC)
def test_public_reads_carry_strong_etag_and_answer_304(client, url):
    first = client.get(url)

    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})

    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert first.headers["Cache-Control"] == PUBLIC_CACHE_CONTROL
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag


def test_same_data_gives_same_bytes_and_etag(client):
    first, second = client.get(f"{API}/programme"), client.get(f"{API}/programme")

    assert first.data == second.data
    assert first.headers["ETag"] == second.headers["ETag"]


def test_etag_is_a_hash_of_the_bytes_shared_by_workers(app, tmp_path):
    """Two apps (two gunicorn workers) give the same tag for the same data."""
    from server import create_app

    other = create_app({"TESTING": True, "DATABASE": app.config["DATABASE"], "DATA_DIR": str(tmp_path)})

    assert (
        other.test_client().get(f"{API}/programme").headers["ETag"]
        == app.test_client().get(f"{API}/programme").headers["ETag"]
    )


@pytest.mark.parametrize(
    "header",
    [
        "{etag}",
        "W/{etag}",
        '"nope", {etag}',
        "*",
        "{etag_gzip}",
    ],
)
def test_if_none_match_forms(client, header):
    etag = client.get(f"{API}/programme").headers["ETag"]
    etag_gzip = client.get(f"{API}/programme", headers={"Accept-Encoding": "gzip"}).headers["ETag"]

    response = client.get(f"{API}/programme", headers={"If-None-Match": header.format(etag=etag, etag_gzip=etag_gzip)})

    assert response.status_code == 304


def test_unquoted_or_stale_etag_gets_the_body(client):
    etag = client.get(f"{API}/programme").headers["ETag"]

    stale = client.get(f"{API}/programme", headers={"If-None-Match": '"0123"'})
    unquoted = client.get(f"{API}/programme", headers={"If-None-Match": etag.strip('"') + "x"})

    assert stale.status_code == unquoted.status_code == 200


def test_gzip_when_accepted_with_its_own_etag(client):
    plain = client.get(f"{API}/programme")

    zipped = client.get(f"{API}/programme", headers={"Accept-Encoding": "gzip, deflate"})

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["Vary"]
    assert gzip.decompress(zipped.data) == plain.data
    assert len(zipped.data) < len(plain.data) / 3
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert "Content-Encoding" not in plain.headers


def test_gzip_refused_with_q_zero(client):
    response = client.get(f"{API}/programme", headers={"Accept-Encoding": "gzip;q=0"})

    assert "Content-Encoding" not in response.headers
    assert json.loads(response.data)["version"] == 1


def test_admin_change_changes_etag_and_body(client, admin):
    before = client.get(f"{API}/programme")

    client.patch(f"{API}/sessions/opening-plenary", json={"title": "New title"}, headers=admin)
    after = client.get(f"{API}/programme", headers={"If-None-Match": before.headers["ETag"]})

    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert after.get_json()["version"] == 2


def test_max_age_is_configurable(tmp_path, loaded_template):
    import shutil

    from server import create_app

    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "PROGRAMME_MAX_AGE": 60})

    response = app.test_client().get(f"{API}/programme")

    assert response.headers["Cache-Control"] == PUBLIC_CACHE_CONTROL.replace("max-age=0", "max-age=60")


def test_errors_are_not_cached(client):
    missing = client.get(f"{API}/sessions/late-addition")

    assert missing.status_code == 404
    assert "ETag" not in missing.headers


@pytest.mark.parametrize("url", ["/e/ecc2014/sw.js", "/e/ecc2014/manifest.webmanifest"])
def test_service_worker_and_manifest_answer_a_revalidation_with_304(client, url):
    """Browsers fetch both on every visit: unchanged, they cost a 304, not their bytes again."""
    first = client.get(url)

    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})

    assert first.status_code == 200 and first.data
    assert first.headers["Cache-Control"] == again.headers["Cache-Control"] == "no-cache"
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == first.headers["ETag"]
