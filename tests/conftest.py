"""Shared fixtures and helpers: a real app on a real SQLite file holding the built-in conference."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import flask
import pytest

from server import attendees, auth, create_app, db as database
from server.programme_file import builtin_path, load_file, load_programme
from tests.spec_check import SpecCheckingClient

# Every app a test makes answers through a client that holds each API response to the spec.
flask.Flask.test_client_class = SpecCheckingClient

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EVENT = "ecc2014"
API = f"/api/v1/events/{EVENT}"
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# A second, minimal event with a single session.
OTHER_EVENT = {
    "format": "eventdesk-programme/1",
    "event": {
        "slug": "other2015",
        "title": "Another conference",
        "timezone": "Europe/Brussels",
        "start_date": "2015-05-04",
        "end_date": "2015-05-04",
    },
    "sessions": [
        {"id": "welcome", "title": "Welcome", "type": "plenary", "start": "2015-05-04T09:00", "end": "2015-05-04T10:00"}
    ],
}
# The write routes of the built-in programme that edit what is already there (all but adding a session).
PROGRAMME_EDITS = [
    ("patch", f"{API}/sessions/opening-plenary", {"title": "Renamed"}),
    ("delete", f"{API}/sessions/opening-plenary", None),
    ("post", f"{API}/sessions/opening-plenary/cancel", None),
    ("post", f"{API}/speakers", {"id": "new-speaker", "name": "Ada Example"}),
    ("patch", f"{API}/speakers/ceo-photonics-sme", {"name": "Renamed"}),
    ("delete", f"{API}/speakers/ceo-photonics-sme?force=true", None),
    ("post", f"{API}/rooms", {"id": "annex", "name": "Annex"}),
    ("patch", f"{API}/rooms/plenary-hall", {"name": "Renamed"}),
    ("delete", f"{API}/rooms/plenary-hall", None),
    ("post", f"{API}/tracks", {"id": "digital", "name": "Digital"}),
    ("patch", f"{API}/tracks/sme-growth", {"name": "Renamed"}),
    ("delete", f"{API}/tracks/sme-growth", None),
]


@pytest.fixture(scope="session")
def loaded_template(tmp_path_factory) -> Path:
    """The built-in conference loaded once; each test gets its own copy of the file."""
    path = tmp_path_factory.mktemp("template") / "eventdesk.sqlite3"
    db = database.connect(path)
    database.init_db(db)
    load_file(db, builtin_path())
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


@pytest.fixture
def app(tmp_path, loaded_template):
    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})


@pytest.fixture
def empty_app(tmp_path):
    """An app whose database has the schema but no event."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    db = database.connect(app.config["DATABASE"])
    database.init_db(db)
    db.close()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """A second connection to the app's database, to check what was stored."""
    connection = database.connect(app.config["DATABASE"])
    yield connection
    connection.close()


@pytest.fixture
def admin_token(db) -> str:
    return auth.create_token(db, "admin", label="tests")


@pytest.fixture
def admin(admin_token) -> dict:
    """Headers of an admin request."""
    return bearer(admin_token)


@pytest.fixture
def door(db) -> dict:
    """Headers of a request from the door device "Door A" of the built-in conference."""
    return door_headers(db, "Door A")


@pytest.fixture
def other_event(db) -> str:
    """OTHER_EVENT loaded next to the built-in conference; its slug."""
    load_programme(db, OTHER_EVENT)
    return OTHER_EVENT["event"]["slug"]


def bearer(token: str) -> dict:
    """Headers that send `token` the one way the API takes it."""
    return {"Authorization": f"Bearer {token}"}


def door_headers(db, label: str) -> dict:
    """Headers of a new door device of the built-in conference."""
    return bearer(auth.create_token(db, "door", event_slug=EVENT, label=label))


def attendee_headers(db, n: int = 1) -> dict:
    """Register attendee number `n` of the built-in conference; the headers of their personal token."""
    person = {"name": f"Attendee {n}", "email": f"person{n}@example.org", "category": "cluster-manager"}
    _, token = attendees.create_attendee(db, EVENT, person)
    return bearer(token)


def register_with_ticket(client, db, person: dict, event: str = EVENT) -> tuple[dict, str, dict]:
    """Register `person`; their record, their personal token and their ticket as the API gives it."""
    document, token = attendees.create_attendee(db, event, person)
    ticket = client.get("/api/v1/me/ticket", headers=bearer(token)).get_json()
    return document, token, ticket


def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """Every error has one JSON shape: {"error", "message", "fields"?}."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["error"] == code, body
    if field is not None:
        assert any(field in name for name in body.get("fields", {})), body
    return body


def snapshot(path: str | Path) -> dict[str, list[tuple]]:
    """Every row of every table, to prove that a refused request changed nothing."""
    connection = sqlite3.connect(str(path))
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sessions_fts_%' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            table: sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)  # noqa: S608
            for table in tables
        }
    finally:
        connection.close()


def scan(client, door: dict, payload: str, scan_id: str, scan_list: str = "day1-entrance", **extra):
    """One scan at a door, as the door device sends it."""
    body = {"payload": payload, "list": scan_list, "scan_id": scan_id, **extra}
    return client.post(f"{API}/checkins", json=body, headers=door)


def flip_signature_character(payload: str) -> str:
    """Change one character of the last base45 triple (inside the signature) to its neighbour.

    The first character of a triple is its least significant digit, so moving it by one keeps
    the triple a valid base45 value: the code still reads, only the signature no longer fits.
    """
    index = len(payload) - 3
    digit = BASE45.index(payload[index])
    return payload[:index] + BASE45[digit - 1 if digit else 1] + payload[index + 1 :]


# --- a real server ------------------------------------------------------------------------


def server_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of `make run` on `data_dir` and a free 127.0.0.1 port, plus `overrides`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"EVENTDESK_DATA_DIR": str(data_dir), "HOST": "127.0.0.1", "PORT": str(port), **overrides}
    return {**os.environ, **env}


def run_script(*args: str, env: dict) -> str:
    """Run one of the project's console scripts; its standard output, once it has succeeded."""
    result = subprocess.run(
        [str(BIN / args[0]), *args[1:]], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@contextmanager
def gunicorn_server(env: dict) -> Iterator[str]:
    """gunicorn with the project's config on env's HOST and PORT; yields its base URL once it answers.

    Its log is EVENTDESK_DATA_DIR/gunicorn.log; on leaving, the server is stopped and waited for.
    """
    base = f"http://{env['HOST']}:{env['PORT']}"
    log_path = Path(env["EVENTDESK_DATA_DIR"]) / "gunicorn.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "--config", "python:server.gunicorn_conf", "server:create_app()"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_until_answering(base, server, log_path)
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
            # A worker that outlived its master ("Parent changed, shutting down") still holds the
            # listening socket and took the next server's first connection on this port, reset.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)


def _wait_until_answering(base: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/events", timeout=5):
                return
        except urllib.error.HTTPError as error:
            error.close()
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gunicorn did not start: " + log_path.read_text())
            time.sleep(0.1)


# --- a real browser (tests/browser.py) ------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run, as a 360x800 phone (tests/browser.py)."""
    from tests.browser import make_driver

    driver = make_driver()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """gunicorn serving the built-in conference like `make run`, clock at tests.browser.NOW; one per module."""
    from tests.browser import LiveServer

    with LiveServer.started(tmp_path_factory.mktemp("live")) as server:
        yield server
