"""The way `make run` serves it: the console scripts and gunicorn, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import urllib.error
import urllib.request

import pytest

from tests.conftest import gunicorn_server, run_script, server_env


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """init-db and load-programme as `make run` calls them, twice, then gunicorn."""
    env = server_env(tmp_path_factory.mktemp("served"))
    outputs = []
    for _ in range(2):
        outputs.append(run_script("eventdesk-server", "init-db", env=env))
        outputs.append(run_script("eventdesk-server", "load-programme", "--builtin", "--if-absent", env=env))
    with gunicorn_server(env) as base:
        yield base, outputs


def test_make_run_steps_are_repeatable(served):
    _, outputs = served

    assert "event ecc2014: version 0 -> 1" in outputs[1]
    assert "already loaded" in outputs[3]


def test_gunicorn_serves_the_programme_with_etag_and_gzip(served):
    base, _ = served

    status, headers, body = _get(f"{base}/api/v1/events/ecc2014/programme")
    revalidated, _, empty = _get(f"{base}/api/v1/events/ecc2014/programme", {"If-None-Match": headers["ETag"]})
    _, zipped_headers, zipped = _get(f"{base}/api/v1/events/ecc2014/programme", {"Accept-Encoding": "gzip"})

    assert status == 200 and headers["Server"].startswith("gunicorn")
    assert json.loads(body)["event"]["slug"] == "ecc2014"
    assert (revalidated, empty) == (304, b"")
    assert zipped_headers["Content-Encoding"] == "gzip" and gzip.decompress(zipped) == body


def test_gunicorn_serves_docs_and_front_page(served):
    base, _ = served

    docs_status, docs_headers, _ = _get(f"{base}/api/v1/docs")
    spec_status, _, spec = _get(f"{base}/api/v1/swagger.json")
    front_status, _, front = _get(f"{base}/")

    assert docs_status == 200 and docs_headers["Content-Type"].startswith("text/html")
    assert spec_status == 200 and "/events/{event}/programme" in json.loads(spec)["paths"]
    assert front_status == 200 and b"/api/v1/docs" in front


def test_gunicorn_answers_unknown_paths_with_json(served):
    base, _ = served

    status, headers, body = _get(f"{base}/api/v1/events/nope/programme")

    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"] == "not_found"
