"""The way `make run` serves it: the console scripts and gunicorn, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(*args: str, env: dict) -> str:
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """init-db and load-programme as `make run` calls them, twice, then gunicorn."""
    data_dir = tmp_path_factory.mktemp("served")
    port = _free_port()
    env = {**os.environ, "EVENTDESK_DATA_DIR": str(data_dir), "HOST": "127.0.0.1", "PORT": str(port)}
    outputs = []
    for _ in range(2):
        outputs.append(_run("eventdesk-server", "init-db", env=env))
        outputs.append(_run("eventdesk-server", "load-programme", "--builtin", "--if-absent", env=env))
    log_path = data_dir / "gunicorn.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "python:server.gunicorn_conf", "server:create_app()"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _get(f"{base}/api/v1/events")
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        server.wait(timeout=10)
        log.close()
        pytest.fail("gunicorn did not start: " + log_path.read_text())
    yield base, outputs
    server.terminate()
    server.wait(timeout=10)
    log.close()


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
