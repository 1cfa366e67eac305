"""Durable writes: what the server has acknowledged is still there after it is killed.

server/db.py opens every connection with `synchronous = FULL`: in WAL mode each COMMIT fsyncs
the WAL before the answer goes out, so an acknowledged write survives a power cut, not only a
killed process. A power cut cannot be simulated here; what these tests can show is the setting
itself, and that kill -9 of the whole serving process group in the middle of a write load loses
no acknowledged scan, bookmark or registration and leaves a database that passes
`PRAGMA integrity_check`.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from server import attendees, auth, db as database, tickets
from server.db_app import get_db
from server.programme import get_event
from tests.conftest import API, BIN, EVENT, ROOT, _wait_until_answering, bearer, server_env

NOW = "2014-10-20T09:00:00+02:00"  # Day 1 entrance is open
SQLITE_FULL = 2  # what PRAGMA synchronous answers for FULL
PEOPLE = 24  # attendees with tickets, made before the server starts
LOADERS = 4  # threads writing at once
ACKNOWLEDGED_BEFORE_KILL = 300  # the kill comes once this many writes were answered
LOAD_SECONDS = 8  # or after this long, whichever is first


def test_every_connection_syncs_each_commit_to_disk(tmp_path):
    db = database.connect(tmp_path / "eventdesk.sqlite3")
    database.init_db(db)

    synchronous = db.conn.execute("PRAGMA synchronous").fetchone()[0]
    journal = db.conn.execute("PRAGMA journal_mode").fetchone()[0]

    db.close()
    assert (synchronous, journal) == (SQLITE_FULL, "wal")


def test_the_app_serves_requests_on_a_fully_synced_connection(app):
    with app.app_context():
        synchronous = get_db().conn.execute("PRAGMA synchronous").fetchone()[0]

    assert synchronous == SQLITE_FULL


@pytest.fixture
def fsynced(app, monkeypatch) -> list[tuple[str, int]]:
    """Each os.fsync call: the file or directory synced, and how many ticket keys were committed then."""
    calls: list[tuple[str, int]] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        calls.append((os.readlink(f"/proc/self/fd/{descriptor}"), committed_keys(app.config["DATABASE"])))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    return calls


def committed_keys(path: str) -> int:
    """The ticket_keys rows another connection sees: those committed."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT COUNT(*) FROM ticket_keys").fetchone()[0]
    finally:
        connection.close()


def test_a_new_signing_key_file_is_on_disk_before_its_row_commits(app, db, fsynced):
    keys_dir = Path(app.config["KEYS_DIR"])
    before = committed_keys(app.config["DATABASE"])

    kid = tickets.rotate_key(db, EVENT, keys_dir)

    (written, written_at), (directory, directory_at) = fsynced  # the key's bytes, linked into place, then its name
    assert Path(written).parent == keys_dir and Path(written).name.startswith(f".{EVENT}-{kid}.pem.")
    assert (directory, written_at, directory_at) == (str(keys_dir), before, before)
    assert (keys_dir / f"{EVENT}-{kid}.pem").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert committed_keys(app.config["DATABASE"]) == before + 1


def test_imported_tokens_file_is_on_disk_when_the_import_command_returns(app, fsynced, tmp_path):
    source, tokens_path = tmp_path / "people.csv", tmp_path / "tokens.csv"
    source.write_text("name,email,category\nAnna Berg,anna@example.org,cluster-manager\n", encoding="utf-8")

    result = app.test_cli_runner().invoke(
        args=["import-attendees", str(source), "--event", EVENT, "--tokens-out", str(tokens_path)]
    )

    assert result.exit_code == 0, result.output
    assert [path for path, _ in fsynced][-2:] == [str(tokens_path), str(tmp_path)]
    assert [line.split(",")[0] for line in tokens_path.read_text(encoding="utf-8").splitlines()] == [
        "email",
        "anna@example.org",
    ]


# --- kill -9 during a write load ----------------------------------------------------------


@dataclass
class Acknowledged:
    """Every write the server answered, by kind; filled by the load threads."""

    scans: dict[str, str] = field(default_factory=dict)  # scan_id -> result
    bookmarks: set[tuple[str, str]] = field(default_factory=set)  # (attendee token, session id)
    registrations: dict[str, str] = field(default_factory=dict)  # attendee id -> email
    unexpected: list[tuple[int, object]] = field(default_factory=list)  # answers no write should get
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.scans) + len(self.bookmarks) + len(self.registrations)


@dataclass
class Setup:
    door: dict[str, str]
    admin: dict[str, str]
    people: list[tuple[str, str]]  # (personal token, ticket payload)
    sessions: list[str]


@pytest.fixture
def data_dir(tmp_path, loaded_template) -> Path:
    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    return tmp_path


@pytest.fixture
def setup(data_dir) -> Setup:
    """A door, an admin, PEOPLE attendees with tickets, and the sessions to bookmark."""
    db = database.connect(data_dir / "eventdesk.sqlite3")
    try:
        door = bearer(auth.create_token(db, "door", event_slug=EVENT, label="Door A"))
        admin = bearer(auth.create_token(db, "admin", label="tests"))
        event = get_event(db, EVENT)
        people = []
        for n in range(PEOPLE):
            person = {"name": f"Guest {n}", "email": f"guest{n}@example.org", "category": "cluster-manager"}
            document, token = attendees.create_attendee(db, EVENT, person)
            serial = tickets.current_serial(db, attendees.attendee_pk(db, EVENT, document["id"]))
            people.append((token, tickets.payload(db, event, serial, data_dir / "keys")))
        sessions = [row[0] for row in db.conn.execute("SELECT id FROM sessions WHERE status != 'cancelled'")]
    finally:
        db.close()
    return Setup(door, admin, people, sessions)


@contextmanager
def killable_server(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen]]:
    """gunicorn as `make run` starts it, in a process group of its own so one signal reaches
    the master and every worker; yields its base URL and the master."""
    base = f"http://{env['HOST']}:{env['PORT']}"
    data_dir = Path(env["EVENTDESK_DATA_DIR"])
    log_path = data_dir / f"gunicorn-{env['PORT']}.log"
    command = [str(BIN / "gunicorn"), "--config", "python:server.gunicorn_conf"]
    command += ["--control-socket", str(data_dir / f"gunicorn-{env['PORT']}.ctl"), "server:create_app()"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_until_answering(base, server, log_path)
        yield base, server
    finally:
        with suppress(ProcessLookupError):  # already killed by the test
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


def call(method: str, url: str, headers: dict[str, str], body: dict | None = None) -> tuple[int, dict | None]:
    """One request on its own connection: the status and JSON answer, once fully received."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={**headers, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def write_load(base: str, setup: Setup, loader: int, acknowledged: Acknowledged, stop: threading.Event) -> None:
    """Scans (three in four requests), bookmarks and registrations, until `stop` or the server dies.

    A write counts as acknowledged only once its whole answer has arrived; a request cut off by
    the kill is not counted, whatever happened to it.
    """
    token, _ = setup.people[loader]
    for n in itertools.count():
        if stop.is_set():
            return
        try:
            if n % 8 == 3:
                session = setup.sessions[(loader * 7 + n) % len(setup.sessions)]
                status, _ = call("PUT", f"{base}/api/v1/me/schedule/{session}", bearer(token))
                if status in (200, 201):
                    with acknowledged.lock:
                        acknowledged.bookmarks.add((token, session))
            elif n % 8 == 7:
                email = f"walk-in-{loader}-{n}@example.org"
                person = {"name": f"Walk-in {loader}-{n}", "email": email, "category": "cluster-manager"}
                status, answer = call("POST", f"{base}{API}/attendees", setup.admin, person)
                with acknowledged.lock:
                    if status == 201:
                        acknowledged.registrations[answer["id"]] = email
                    else:
                        acknowledged.unexpected.append((status, answer))
            else:
                scan_id = f"loader-{loader}-{n}"
                _, payload = setup.people[(loader + n) % len(setup.people)]
                body = {"payload": payload, "list": "Day 1 entrance", "scan_id": scan_id}
                body["type"] = "exit" if n % 2 else "entry"
                status, answer = call("POST", f"{base}{API}/checkins", setup.door, body)
                with acknowledged.lock:
                    if status in (201, 409):
                        acknowledged.scans[scan_id] = answer["result"]
                    else:
                        acknowledged.unexpected.append((status, answer))
        except OSError:  # refused or cut off: the server is gone
            if stop.is_set():
                return
            time.sleep(0.01)


def test_kill_9_during_a_write_load_loses_no_acknowledged_write(data_dir, setup):
    """SIGKILL to gunicorn's whole process group mid-load, then a restart on the same directory.

    This is the crash a test can make; it held under NORMAL too. A power cut, which NORMAL does
    not survive and FULL does, cannot be simulated here: the setting's own tests cover that.
    """
    env = server_env(data_dir, EVENTDESK_NOW=NOW, WEB_CONCURRENCY="2")
    acknowledged, stop = Acknowledged(), threading.Event()
    with killable_server(env) as (base, server):
        loaders = [
            threading.Thread(target=write_load, args=(base, setup, n, acknowledged, stop)) for n in range(LOADERS)
        ]
        for thread in loaders:
            thread.start()
        deadline = time.monotonic() + LOAD_SECONDS
        while acknowledged.count() < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.01)

        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        for thread in loaders:
            thread.join(timeout=20)

    restarted = server_env(data_dir, EVENTDESK_NOW=NOW, WEB_CONCURRENCY="2")
    with killable_server(restarted) as (base, _):
        replays = {
            scan_id: call("POST", f"{base}{API}/checkins", setup.door, _scan_body(setup, scan_id))[1]["result"]
            for scan_id in acknowledged.scans
        }
        schedules = {
            token: {
                item["session"]["id"] for item in call("GET", f"{base}/api/v1/me/schedule", bearer(token))[1]["items"]
            }
            for token, _ in setup.people
        }
        registered = {
            attendee_id: call("GET", f"{base}{API}/attendees/{attendee_id}", setup.admin)[1].get("email")
            for attendee_id in acknowledged.registrations
        }
    stored, integrity = _stored_scans_and_integrity(data_dir / "eventdesk.sqlite3")

    assert all(not thread.is_alive() for thread in loaders)
    assert acknowledged.unexpected == []
    assert acknowledged.count() >= 100, "too little load before the kill to prove anything"
    assert {scan_id: stored.get(scan_id) for scan_id in acknowledged.scans} == acknowledged.scans
    assert replays == acknowledged.scans  # the same scan again replays the verdict it was given
    assert all(session in schedules[token] for token, session in acknowledged.bookmarks)
    assert registered == acknowledged.registrations
    assert integrity == "ok"


def _scan_body(setup: Setup, scan_id: str) -> dict:
    """The body that was sent with `scan_id` by write_load."""
    _, loader, n = scan_id.split("-")
    loader, n = int(loader), int(n)
    _, payload = setup.people[(loader + n) % len(setup.people)]
    return {"payload": payload, "list": "Day 1 entrance", "scan_id": scan_id, "type": "exit" if n % 2 else "entry"}


def _stored_scans_and_integrity(path: Path) -> tuple[dict[str, str], str]:
    connection = sqlite3.connect(path)
    try:
        stored = dict(connection.execute("SELECT scan_id, result FROM scans"))
        integrity = connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()
    return stored, integrity
