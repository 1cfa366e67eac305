"""The cache file: where it lives, opening and creating it, its schema and migrations, and meta.

The base of `Cache` (cache.py): the programme and the personal tables add their reads and
writes to it (cache_programme.py, cache_personal.py). Every table is created here, in one
place, so the schema and its one migration can be read together.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from client_cli import config
from client_cli.errors import CliError, DamagedCache

SCHEMA_VERSION = 2  # 2: the queue keyed by (kind, target), for meetings as well as bookmarks
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class CacheMissing(Exception):
    """No cache file for this server and event, or one that never finished its first sync."""


def cache_path(server: str, event: str) -> Path:
    """The cache file of one event on one server, e.g. `ecc2014@http-127.0.0.1-5000.sqlite3`."""
    if not _SLUG.match(event):
        raise CliError(f"{event!r} is not an event slug (lowercase letters, digits and -)")
    where = re.sub(r"[^A-Za-z0-9.]+", "-", server.replace("://", "-")).strip("-")
    return config.cache_dir() / f"{event}@{where}.sqlite3"


def utc_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class CacheFile:
    """The file part of a Cache: opening, schema, meta; reads with plain sqlite3, writes through `self.db`."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path, self.conn = path, conn
        self._db = None
        self._meta: dict[str, str] | None = None

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Self:
        """The cache at `path`; CacheMissing if there is none yet, DamagedCache if unreadable."""
        if not path.exists():
            raise CacheMissing(str(path))
        cache = cls(path, _connect(path, create=False))
        meta = cache.meta()
        if meta.get("schema") == "1":  # written before meetings: upgrade in place, queue kept
            cache._create_tables()
            meta = cache.meta()
        if meta.get("schema") != str(SCHEMA_VERSION):
            cache.close()
            raise DamagedCache(f"the cache {path} was written by another version of eventdesk")
        if "version" not in meta:
            cache.close()
            raise CacheMissing(str(path))
        return cache

    @classmethod
    def create(cls, path: Path) -> Self:
        """Open the cache at `path` for writing, creating the file and its tables if needed."""
        path.parent.mkdir(parents=True, exist_ok=True)
        cache = cls(path, _connect(path, create=True))
        cache._create_tables()
        return cache

    @staticmethod
    def set_aside(path: Path) -> Path:
        """Move a damaged cache out of the way (kept, not deleted, in case it matters to someone)."""
        damaged = path.with_name(path.name + ".damaged")
        for suffix in ("", "-wal", "-shm"):
            source = Path(str(path) + suffix)
            if source.exists():
                source.replace(Path(str(damaged) + suffix))
        return damaged

    def close(self) -> None:
        self.conn.close()

    @property
    def db(self):
        """The sqlite-utils view of the same connection, for writes."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._db

    def _create_tables(self) -> None:
        db = self.db
        with self.guard(), db.atomic():
            db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)
            db["event"].create({"slug": str, "document": str}, pk="slug", if_not_exists=True)
            db["days"].create({"date": str, "number": int, "label": str}, pk="date", if_not_exists=True)
            for kind in ("rooms", "tracks"):
                db[kind].create({"id": str, "name": str, "position": int, "document": str}, pk="id", if_not_exists=True)
            db["speakers"].create(
                {"id": str, "name": str, "organisation": str, "document": str}, pk="id", if_not_exists=True
            )
            columns = ("title", "type", "track", "room", "day", "start_utc", "end_utc", "status", "abstract")
            db["sessions"].create(
                {"id": str, **dict.fromkeys(columns, str), "speaker_names": str, "document": str},
                pk="id",
                if_not_exists=True,
            )
            if "sessions_fts" not in db.table_names():
                db["sessions"].enable_fts(["title", "abstract", "speaker_names"], create_triggers=True)
            db["sessions"].create_index(["start_utc"], if_not_exists=True)
            db["my_schedule"].create(
                {"session_id": str, "added_at": str, "seats_left": int}, pk="session_id", if_not_exists=True
            )
            if db["meta"].exists() and self._schema_on_file() == "1":
                _queue_by_kind(db)
            db["meetings"].create(
                {"id": str, "position": int, "status": str, "document": str}, pk="id", if_not_exists=True
            )
            # target: a session id (kind "schedule"), a participant id (a meeting request) or a
            # meeting id (accept, decline, cancel); body: what the request sends (JSON), if anything.
            queue_columns = {"kind": str, "target": str, "action": str, "body": str}
            db["pending"].create({**queue_columns, "queued_at": str}, pk=("kind", "target"), if_not_exists=True)
            db["refused"].create(
                {**queue_columns, "reason": str, "message": str, "at": str}, pk=("kind", "target"), if_not_exists=True
            )
            db["meta"].insert({"key": "schema", "value": str(SCHEMA_VERSION)}, replace=True)
        self._meta = None

    def _schema_on_file(self) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return row[0] if row else None

    def guard(self):
        """Turn SQLite's complaints about the file into a DamagedCache the user can act on."""
        return _Guard(self.path)

    # --- meta ----------------------------------------------------------------------------

    def meta(self) -> dict[str, str]:
        if self._meta is None:
            with self.guard():
                self._meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        return self._meta

    def set_meta(self, **values: object) -> None:
        """A few key-value rows; plain SQL, so an unchanged sync never needs to import sqlite-utils."""
        rows = [(key, None if value is None else str(value)) for key, value in values.items()]
        with self.guard():
            self.conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
        self._meta = None

    @property
    def version(self) -> int | None:
        value = self.meta().get("version")
        return int(value) if value is not None else None

    def synced_at(self) -> datetime | None:
        value = self.meta().get("synced_at")
        return datetime.fromisoformat(value) if value else None

    def _documents(self, sql: str, params: Iterable = ()) -> list[dict]:
        """The JSON documents a one-column query selects (every cached item is kept as one)."""
        with self.guard():
            return [json.loads(row[0]) for row in self.conn.execute(sql, tuple(params))]


def _queue_by_kind(db) -> None:
    """Migration 1 → 2: pending and refused keyed by (kind, target), their bookmarks kept (inside a transaction)."""
    for table, columns in (("pending", "action, queued_at"), ("refused", "action, reason, message, at")):
        db.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
        db.execute(
            f"CREATE TABLE {table} (kind TEXT, target TEXT, action TEXT, body TEXT, "
            + ", ".join(f"{column} TEXT" for column in columns.split(", ")[1:])  # after action
            + ", PRIMARY KEY (kind, target))"
        )
        copy = f"INSERT INTO {table} (kind, target, {columns}) SELECT 'schedule', session_id, {columns} FROM {table}_v1"  # noqa: S608 - fixed names
        db.execute(copy)
        db.execute(f"DROP TABLE {table}_v1")


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            path.as_uri() + ("" if create else "?mode=rw"), uri=True, timeout=10, isolation_level=None
        )
        if create:
            conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.DatabaseError as problem:
        raise DamagedCache(f"the cache {path} cannot be read ({problem})") from None
    return conn


class _Guard:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, kind, problem, traceback) -> bool:
        if isinstance(problem, sqlite3.OperationalError) and "locked" in str(problem):
            raise CliError(f"the cache {self.path} is busy (another eventdesk is writing it); try again") from None
        if isinstance(problem, sqlite3.DatabaseError):
            raise DamagedCache(f"the cache {self.path} cannot be read ({problem})") from None
        return False
