"""The data directory and its files are the server's alone, and the secret key is made once.

The database holds personal data and token hashes; secret.key turns an attendee id into a
calendar-feed URL; the ticket keys sign admissions. Nobody else on the host may read them, and
several workers starting at once on a fresh directory must agree on one whole key.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server import create_app, keys
from server.errors import ConfigurationError
from tests.conftest import EVENT, ROOT, gunicorn_server, run_script, server_env
from tests.people import ANNA


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_db_and_a_served_write_leave_only_private_files(tmp_path):
    data_dir = tmp_path / "data"
    env = server_env(data_dir)
    run_script("eventdesk-server", "init-db", env=env)
    run_script("eventdesk-server", "load-programme", "--builtin", env=env)
    admin = run_script("eventdesk-server", "create-token", "--role", "admin", env=env).split()[-1]
    after_init = {path.name: mode(path) for path in data_dir.iterdir()}

    with gunicorn_server(env) as base:
        registered = httpx.post(
            f"{base}/api/v1/events/{EVENT}/attendees", json=ANNA, headers={"Authorization": f"Bearer {admin}"}
        )
        personal = {"Authorization": f"Bearer {registered.json()['token']}"}
        ticket = httpx.get(f"{base}/api/v1/me/ticket", headers=personal)
        feed = httpx.get(f"{base}/api/v1/me/calendar", headers=personal)
        served = {path.name: mode(path) for path in data_dir.iterdir() if path.name != "gunicorn.log"}

    assert (registered.status_code, ticket.status_code, feed.status_code) == (201, 200, 200)
    assert mode(data_dir) == 0o700
    assert after_init["eventdesk.sqlite3"] == 0o600
    assert {name: value for name, value in served.items() if name != "keys"} == {
        "eventdesk.sqlite3": 0o600,
        "eventdesk.sqlite3-wal": 0o600,
        "eventdesk.sqlite3-shm": 0o600,
        "eventdesk.sqlite3.lock": 0o600,
        "secret.key": 0o600,
    }
    assert served["keys"] == 0o700
    assert [mode(path) for path in (data_dir / "keys").iterdir()] == [0o600]


RACER = """
import sys, time
from server import keys
while time.time() < float(sys.argv[2]):
    time.sleep(0.001)
print(keys.server_secret(sys.argv[1]).decode())
"""


def test_processes_starting_at_once_on_a_fresh_directory_share_one_key(tmp_path):
    data_dir = tmp_path / "fresh"
    start = str(time.time() + 1.5)  # every process imports first, then all race for the file

    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(data_dir), start], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    answers = [racer.communicate(timeout=30)[0].strip() for racer in racers]

    assert [racer.returncode for racer in racers] == [0] * 6
    assert len(set(answers)) == 1 and len(answers[0]) == 64
    assert (data_dir / "secret.key").read_text() == answers[0]
    assert sorted(path.name for path in data_dir.iterdir()) == ["secret.key"]  # no temporary file left
    assert mode(data_dir) == 0o700 and mode(data_dir / "secret.key") == 0o600


@pytest.mark.parametrize(
    ("content", "problem"), [(b"", "is empty"), (b"\n", "is empty"), (b"abc123\n", "only 6 bytes")]
)
def test_an_empty_or_short_key_file_is_refused_at_start_up(tmp_path, content, problem):
    (tmp_path / "secret.key").write_bytes(content)

    with pytest.raises(ConfigurationError) as refused:
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})

    assert problem in str(refused.value) and str(tmp_path / "secret.key") in str(refused.value)
    assert (tmp_path / "secret.key").read_bytes() == content  # never replaced: feed URLs depend on it


def test_a_short_configured_secret_key_is_refused(tmp_path):
    with pytest.raises(ConfigurationError) as refused:
        create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": "hunter2"})

    assert "EVENTDESK_SECRET_KEY is only 7 bytes" in str(refused.value)


def test_a_long_enough_configured_secret_key_is_used_as_given(tmp_path):
    configured = "k" * keys.MIN_KEY_BYTES

    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "SECRET_KEY": configured})

    assert app.extensions["eventdesk_secret"] == configured.encode()
    assert not (tmp_path / "secret.key").exists()
