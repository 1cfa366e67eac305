"""The one module that owns SQLite: connections, the schema, transactions."""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import sqlite_utils

from server import clock, migrations, private_files

# Every connection, not only the door's: one setting is the simplest promise to state, and the
# other writes (bookmarks, attendee edits, programme edits) are rare next to scans.
SYNCHRONOUS = "FULL"


def connect(path: str | Path) -> sqlite_utils.Database:
    """Open the database file with the settings every connection needs.

    Autocommit at the driver level so that transactions are explicit (see `write`),
    foreign keys enforced, and a busy timeout so concurrent writers queue instead of failing.
    `synchronous = FULL`: in WAL mode every COMMIT fsyncs the WAL before it returns, so a write
    the API has acknowledged (a scan's verdict, a ticket revoked) survives a power cut, not only
    a killed process as with NORMAL; a door must never admit a ticket twice because the server
    forgot the first entry. It costs one fsync per write transaction, none per read.
    """
    if str(path) != ":memory:":
        private_files.private_file(path)  # 0600 before SQLite makes it; its -wal and -shm copy the mode
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
    # SQLite's lower() and LIKE fold ASCII only; searches of names need Unicode folding.
    conn.create_function("casefold", 1, _casefold, deterministic=True)
    db = sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)
    db.eventdesk_path = str(path)  # for the writers' lock file, without a PRAGMA per write
    return db


def _casefold(value: object) -> object:
    return value.casefold() if isinstance(value, str) else value


def schema_sql() -> str:
    return resources.files("server").joinpath("schema.sql").read_text(encoding="utf-8")


def init_db(db: sqlite_utils.Database) -> int:
    """Create or upgrade the schema; safe to run on every start. Returns the schema version."""
    db.conn.execute("PRAGMA journal_mode = WAL")
    fresh = db.conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations'").fetchone() is None
    db.conn.executescript(schema_sql())
    with write(db):
        applied = {row[0] for row in db.conn.execute("SELECT version FROM schema_migrations")}
        # schema.sql is the current schema: a database it just made needs none of the migrations.
        for version in [1] + ([v for v, _ in migrations.MIGRATIONS] if fresh else []):
            if version not in applied:
                db.conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, clock.utc_stamp()),
                )
                applied.add(version)
        for version, statements in migrations.MIGRATIONS:
            if version not in applied:
                for statement in statements:
                    statement(db.conn) if callable(statement) else db.conn.execute(statement)
                db.conn.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    (version, clock.utc_stamp()),
                )
    return max(applied | {v for v, _ in migrations.MIGRATIONS})


_thread_locks: dict[str, threading.Lock] = {}
_lock_files: dict[tuple[int, str], int] = {}
_registry_lock = threading.Lock()


_process = [os.getpid()]  # kept current at fork: os.getpid() is a system call on every write
os.register_at_fork(after_in_child=lambda: _process.__setitem__(0, os.getpid()))


def process_id() -> int:
    """This process's id, without a system call (gunicorn workers are forked)."""
    return _process[0]


def _writer_locks(path: str) -> tuple[threading.Lock, int]:
    """The thread lock and this process's open lock file for the database at `path`."""
    key = (_process[0], path)
    found = _lock_files.get(key)
    if found is None:
        with _registry_lock:
            _thread_locks.setdefault(path, threading.Lock())
            if key not in _lock_files:
                _lock_files[key] = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            found = _lock_files[key]
    return _thread_locks[path], found


def _path_of(db: sqlite_utils.Database) -> str | None:
    path = getattr(db, "eventdesk_path", None)
    if path is None:
        path = db.conn.execute("PRAGMA database_list").fetchone()[2] or None
    return path


class write:
    """One write transaction, taken with BEGIN IMMEDIATE because our writes read first.

    Writers queue on a lock file before BEGIN IMMEDIATE. SQLite's busy handler sleeps 1, 2, 5,
    10 ms between tries, so a worker kept waiting for a sub-millisecond write lost milliseconds
    (measured: redeem throughput with 2 workers was no better than with 1); flock wakes the next
    writer the moment the lock is free. The thread lock orders threads of one process, which
    share the lock file; the file is opened per process (keyed by pid), so forked workers never
    share one open file. Nested use becomes a savepoint, so a domain function may call another
    that also writes. A class, not a generator: every door scan passes through here.
    """

    __slots__ = ("_locks", "_savepoint", "db")

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._locks: tuple[threading.Lock, int] | None = None
        self._savepoint = None

    def __enter__(self) -> sqlite_utils.Database:
        conn = self.db.conn
        if conn.in_transaction:
            self._savepoint = self.db.atomic()
            self._savepoint.__enter__()
            return self.db
        path = _path_of(self.db)
        if path:
            thread_lock, descriptor = self._locks = _writer_locks(path)
            thread_lock.acquire()
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise
        return self.db

    def __exit__(self, kind, value, traceback) -> None:
        if self._savepoint is not None:
            self._savepoint.__exit__(kind, value, traceback)
            return
        conn = self.db.conn
        try:
            if kind is None:
                conn.execute("COMMIT")
            elif conn.in_transaction:
                conn.execute("ROLLBACK")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        finally:
            self._release()

    def _release(self) -> None:
        if self._locks is not None:
            thread_lock, descriptor = self._locks
            self._locks = None
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            thread_lock.release()


@contextlib.contextmanager
def read(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One consistent snapshot for several reads (a version check and the body it keys)."""
    if db.conn.in_transaction:
        yield db
        return
    db.conn.execute("BEGIN")
    try:
        yield db
    finally:
        if db.conn.in_transaction:
            db.conn.execute("COMMIT")
