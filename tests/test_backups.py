"""Backups and a box that dies: `eventdesk-server backup` / `restore`, and Litestream.

The operator's commands run as subprocesses, as an operator runs them, against a served app
(gunicorn on 127.0.0.1) taking writes through the API. Every write the server acknowledged
before a backup began must be in it; after a SIGKILL of the whole box, a replacement rebuilt
from the Litestream replica may miss only writes acknowledged within the last sync interval.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from server import backups
from tests.conftest import API, BIN, ROOT, _wait_until_answering, server_env, snapshot
from tests.test_durability import NOW, Setup, call, data_dir, killable_server, setup  # noqa: F401

LOADERS = 3
# The kill test allows a write to be lost if it was acknowledged at most this long before the
# kill: Litestream's sync interval, plus a margin for a sync that was under way (and this
# shared 2-core machine's scheduling).
LOSS_MARGIN_SECONDS = 1.5


@dataclass
class Scans:
    """Scans the server acknowledged (201 or 409: either way a row), with when each answer arrived."""

    acknowledged: dict[str, float] = field(default_factory=dict)  # scan_id -> time.monotonic() of the answer
    unexpected: list[tuple[int, object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> set[str]:
        with self.lock:
            return set(self.acknowledged)


def scan_load(base: str, scene: Setup, loader: int, scans: Scans, stop: threading.Event) -> None:
    """Door scans with new scan ids, one request at a time, until `stop` or the server dies."""
    for n in itertools.count():
        if stop.is_set():
            return
        scan_id = f"backup-{loader}-{n}"
        _, payload = scene.people[(loader + n) % len(scene.people)]
        body = {"payload": payload, "list": "Day 1 entrance", "scan_id": scan_id, "type": "exit" if n % 2 else "entry"}
        try:
            status, answer = call("POST", f"{base}{API}/checkins", scene.door, body)
        except OSError:  # refused or cut off: the server is gone, and this scan does not count
            if stop.is_set():
                return
            time.sleep(0.01)
            continue
        with scans.lock:
            if status in (201, 409):
                scans.acknowledged[scan_id] = time.monotonic()
            else:
                scans.unexpected.append((status, answer))


@contextmanager
def loading(base: str, scene: Setup) -> Iterator[tuple[Scans, threading.Event]]:
    """LOADERS threads of scan_load; stopped and joined on leaving."""
    scans, stop = Scans(), threading.Event()
    threads = [threading.Thread(target=scan_load, args=(base, scene, n, scans, stop)) for n in range(LOADERS)]
    for thread in threads:
        thread.start()
    try:
        yield scans, stop
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def server_command(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "eventdesk-server"), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def stored_scans(path: Path) -> set[str]:
    connection = sqlite3.connect(path)
    try:
        return {row[0] for row in connection.execute("SELECT scan_id FROM scans")}
    finally:
        connection.close()


def integrity(path: Path) -> str:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        connection.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- backup and restore of a file ------------------------------------------------------------


def test_backup_under_a_write_load_holds_every_write_acknowledged_before_it_began(data_dir, setup, tmp_path_factory):  # noqa: F811
    copy = tmp_path_factory.mktemp("backups") / "eventdesk-backup.sqlite3"
    env = server_env(data_dir, EVENTDESK_NOW=NOW)
    with killable_server(env) as (base, _), loading(base, setup) as (scans, _):
        wait_for(lambda: len(scans.ids()) >= 60, 30, "60 acknowledged scans")
        before = scans.ids()

        backed_up = server_command("backup", str(copy), env=env)
        during = scans.ids() - before
        refused = server_command("restore", str(copy), env=env)  # the server still has it open

    assert backed_up.returncode == 0, backed_up.stderr
    assert backed_up.stdout.startswith(f"backed up to {copy} (")
    assert scans.unexpected == []
    assert len(during) > 0, "no write was acknowledged while the backup ran: it proved nothing about concurrency"
    assert integrity(copy) == "ok"
    assert before <= stored_scans(copy)
    assert copy.stat().st_mode & 0o777 == 0o600
    assert refused.returncode == 1
    assert "is open in another process" in refused.stderr

    restored = server_command("restore", str(copy), env=env)  # the server is stopped now

    live = data_dir / "eventdesk.sqlite3"
    assert restored.returncode == 0, restored.stderr
    assert integrity(live) == "ok"
    assert snapshot(live) == snapshot(copy)
    assert not Path(f"{live}-wal").exists() or Path(f"{live}-wal").stat().st_size == 0
    assert [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")] == []
    with killable_server(server_env(data_dir, EVENTDESK_NOW=NOW)) as (base, _):
        replayed = [call("POST", f"{base}{API}/checkins", setup.door, _body(setup, scan_id))[0] for scan_id in before]
    assert set(replayed) <= {201, 409}  # a scan the copy holds is repeated, not recorded again
    assert stored_scans(live) == stored_scans(copy)


def _body(scene: Setup, scan_id: str) -> dict:
    """The body scan_load sent with `scan_id`."""
    _, loader, n = scan_id.split("-")
    loader, n = int(loader), int(n)
    _, payload = scene.people[(loader + n) % len(scene.people)]
    return {"payload": payload, "list": "Day 1 entrance", "scan_id": scan_id, "type": "exit" if n % 2 else "entry"}


def _damage(path: Path) -> None:
    """Overwrite a page in the middle of the file with garbage, as a failing disk might."""
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.seek((size // 4096 // 2) * 4096)
        handle.write(b"\xa5" * 4096)


def _not_eventdesk(path: Path) -> None:
    path.unlink()
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.commit()
    connection.close()


def _from_the_future(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (999, '2030-01-01T00:00:00Z')")
    connection.commit()
    connection.close()


@pytest.mark.parametrize(
    ("spoil", "said"),
    [
        (_damage, "is damaged"),
        (lambda path: path.write_bytes(path.read_bytes()[:20000]), "is damaged"),
        (lambda path: path.write_text("name,email\n", encoding="utf-8"), "is not an SQLite database"),
        (_not_eventdesk, "is not an Eventdesk database"),
        (_from_the_future, "is at schema version 999, newer than this Eventdesk knows"),
    ],
    ids=["damaged page", "truncated", "not SQLite", "not Eventdesk", "newer schema"],
)
def test_restore_refuses_a_file_it_cannot_trust_and_leaves_the_data_as_it_was(
    data_dir,  # noqa: F811
    tmp_path_factory,
    spoil,
    said,
):
    env = server_env(data_dir)
    live = data_dir / "eventdesk.sqlite3"
    copy = tmp_path_factory.mktemp("backups") / "spoilt.sqlite3"
    assert server_command("backup", str(copy), env=env).returncode == 0
    spoil(copy)
    before, files_before = digest(live), sorted(p.name for p in data_dir.iterdir())

    result = server_command("restore", str(copy), env=env)

    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {copy} {said}"), result.stderr
    assert "Traceback" not in result.stderr
    assert digest(live) == before
    assert sorted(p.name for p in data_dir.iterdir()) == files_before


def test_backup_then_restore_of_an_older_schema_is_accepted(data_dir, tmp_path_factory):  # noqa: F811
    copy = tmp_path_factory.mktemp("backups") / "old.sqlite3"
    env = server_env(data_dir)
    assert server_command("backup", str(copy), env=env).returncode == 0
    connection = sqlite3.connect(copy)
    connection.execute("DELETE FROM schema_migrations WHERE version > 1")  # as an Eventdesk of version 1 left it
    connection.commit()
    connection.close()

    result = server_command("restore", str(copy), env=env)

    assert result.returncode == 0, result.stderr
    assert "schema version 1)" in result.stdout  # init-db (make run does it) upgrades it at the next start


# --- Litestream: a box that dies -------------------------------------------------------------


@contextmanager
def replicated_server(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen]]:
    """`make run`'s command with EVENTDESK_REPLICA: litestream replicating, gunicorn its child.

    In a process group of its own, so one SIGKILL takes the whole box down at once.
    """
    data = Path(env["EVENTDESK_DATA_DIR"])
    config = server_command("replica-config", env=env)
    assert config.returncode == 0, config.stderr
    serve = f"{BIN / 'gunicorn'} --config python:server.gunicorn_conf --control-socket {data / 'g.ctl'} "
    serve += '"server:create_app()"'
    command = [str(BIN / "litestream"), "replicate", "-config", config.stdout.strip(), "-exec", serve]
    log_path = data / "litestream.log"
    with log_path.open("wb") as log:
        box = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_answering(f"http://{env['HOST']}:{env['PORT']}", box, log_path)
        wait_for(lambda: b"snapshot complete" in log_path.read_bytes(), 30, "Litestream's first snapshot")
        yield f"http://{env['HOST']}:{env['PORT']}", box
    finally:
        with suppress(ProcessLookupError):
            os.killpg(box.pid, signal.SIGKILL)
        box.wait(timeout=10)


def test_a_box_killed_under_load_is_rebuilt_from_the_replica_losing_only_the_last_sync_interval(
    data_dir,  # noqa: F811
    setup,  # noqa: F811
    tmp_path_factory,
):
    replica = tmp_path_factory.mktemp("replica")
    env = server_env(data_dir, EVENTDESK_NOW=NOW, EVENTDESK_REPLICA=str(replica))
    with replicated_server(env) as (base, box), loading(base, setup) as (scans, stop):
        load_began = time.monotonic()  # a few sync intervals of load, so the kill comes in a steady state
        wait_for(lambda: len(scans.ids()) >= 150 and time.monotonic() - load_began > 4, 60, "150 acknowledged scans")
        os.killpg(box.pid, signal.SIGKILL)  # litestream, gunicorn and its workers, all at once
        killed_at = time.monotonic()
        box.wait(timeout=10)
        stop.set()
    new_machine = tmp_path_factory.mktemp("replacement") / "data"

    rebuilt = server_command("restore", "--from-replica", env=server_env(new_machine, EVENTDESK_REPLICA=str(replica)))

    live = new_machine / "eventdesk.sqlite3"
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert integrity(live) == "ok"
    assert scans.unexpected == []
    kept = stored_scans(live)
    lost = {scan_id: killed_at - at for scan_id, at in scans.acknowledged.items() if scan_id not in kept}
    window = backups.SYNC_INTERVAL_SECONDS + LOSS_MARGIN_SECONDS
    print(  # the figure for the README: `pytest -s` shows it
        f"\nlitestream kill -9: {len(scans.acknowledged)} scans acknowledged, {len(lost)} lost, the oldest lost "
        f"acknowledged {max(lost.values(), default=0):.2f} s before the kill (sync interval "
        f"{backups.SYNC_INTERVAL_SECONDS:g} s)"
    )
    assert len(kept & set(scans.acknowledged)) > 0
    assert all(age <= window for age in lost.values()), sorted(lost.values())[-5:]


def test_restore_from_a_replica_that_holds_nothing_is_refused(tmp_path):
    empty = tmp_path / "empty-replica"
    empty.mkdir()
    env = server_env(tmp_path / "data")

    result = server_command("restore", "--from-replica", str(empty), env=env)

    assert result.returncode == 1
    assert result.stderr.startswith(f"error: litestream restore from {empty} failed"), result.stderr
    assert not (tmp_path / "data" / "eventdesk.sqlite3").exists()


def test_replica_config_names_the_database_and_a_directory_replica_as_a_file_url(tmp_path):
    text = backups.replica_config(tmp_path / "eventdesk.sqlite3", str(tmp_path / "replica dir"))

    assert text.splitlines()[1:] == [
        "dbs:",
        f'  - path: "{tmp_path / "eventdesk.sqlite3"}"',
        "    replicas:",
        f'      - url: "{(tmp_path / "replica dir").as_uri()}"',
        "        sync-interval: 1s",
    ]
    assert backups.replica_url("s3://bucket/eventdesk") == "s3://bucket/eventdesk"
