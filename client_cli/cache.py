"""The local cache: one SQLite file per server and event, filled by `sync`, read by every command.

Each item is kept as the server's own JSON document (so `--json` and the exports give the
server's shapes exactly), beside the columns that filters, ordering and full-text search need.
Reads use the standard library's sqlite3 alone, so an offline `agenda` starts fast; writes go
through sqlite-utils, imported only when something is written.

Tables: meta (schema, server, event, version, etag, synced_at, ...), event, days, rooms,
tracks, speakers, sessions (+ sessions_fts over title, abstract and speaker names),
my_schedule (as the server last answered), meetings (GET /me/meetings as last answered),
pending (changes not yet sent: `my add`/`my remove`, kind "schedule", and `meet …`, kind
"meeting") and refused (queued changes the server turned down, kept until the user acts on them).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from client_cli import config
from client_cli.errors import CliError, DamagedCache

SCHEMA_VERSION = 2  # 2: the queue keyed by (kind, target), for meetings as well as bookmarks
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_SESSION_ORDER = "ORDER BY s.start_utc, COALESCE(r.position, -1), s.end_utc, s.id"
_SESSION_SELECT = "SELECT s.document FROM sessions s LEFT JOIN rooms r ON r.id = s.room"


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


def utc_of(stamp: str) -> str:
    """An ISO 8601 time with offset as UTC text that sorts in time order."""
    return datetime.fromisoformat(stamp).astimezone(UTC).isoformat()


class Cache:
    """An open cache file: reads with plain sqlite3, writes through `self.db` (sqlite-utils)."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path, self.conn = path, conn
        self._db = None
        self._meta: dict[str, str] | None = None

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Cache:
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
    def create(cls, path: Path) -> Cache:
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

    # --- reading the programme -----------------------------------------------------------

    def _documents(self, sql: str, params: Iterable = ()) -> list[dict]:
        with self.guard():
            return [json.loads(row[0]) for row in self.conn.execute(sql, tuple(params))]

    def event(self) -> dict:
        """The event document, with the version this cache holds."""
        (document,) = self._documents("SELECT document FROM event")
        document["version"] = self.version
        return document

    def days(self) -> list[dict]:
        with self.guard():
            rows = self.conn.execute("SELECT date, number, label FROM days ORDER BY number").fetchall()
        return [{"date": day, "number": number, "label": label} for day, number, label in rows]

    def rooms(self) -> list[dict]:
        return self._documents("SELECT document FROM rooms ORDER BY position, id")

    def tracks(self) -> list[dict]:
        return self._documents("SELECT document FROM tracks ORDER BY position, id")

    def speakers(self) -> list[dict]:
        """Speakers by name, each with the ids of their sessions in time order (as the server gives)."""
        speakers = self._documents("SELECT document FROM speakers ORDER BY name, id")
        sessions: dict[str, list[str]] = {}
        with self.guard():
            rows = self.conn.execute("SELECT id, document FROM sessions ORDER BY start_utc, id").fetchall()
        for session_id, document in rows:
            for speaker in json.loads(document)["speakers"]:
                sessions.setdefault(speaker["id"], []).append(session_id)
        for speaker in speakers:
            speaker["sessions"] = sessions.get(speaker["id"], [])
        return speakers

    def sessions(
        self,
        *,
        day: str | None = None,
        track: str | None = None,
        room: str | None = None,
        type: str | None = None,
        ids: Iterable[str] | None = None,
        match: str | None = None,
    ) -> list[dict]:
        """Sessions in the server's order (start, room, end, id), filtered like GET /sessions."""
        sql, params = _SESSION_SELECT + " WHERE 1 = 1", []
        for column, value in (("day", day), ("track", track), ("room", room), ("type", type)):
            if value is not None:
                sql += f" AND s.{column} = ?"
                params.append(value)
        if ids is not None:
            sql += " AND s.id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(ids)))
        if match is not None:
            sql += " AND s.rowid IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ?)"
            params.append(match)
        return self._documents(f"{sql} {_SESSION_ORDER}", params)

    def session(self, session_id: str) -> dict | None:
        found = self.sessions(ids=[session_id])
        return found[0] if found else None

    def session_ids(self) -> set[str]:
        return self.ids("sessions")

    def ids(self, kind: str) -> set[str]:
        """The ids of every cached room, track, speaker or session."""
        if kind not in ("rooms", "tracks", "speakers", "sessions"):
            raise ValueError(kind)
        with self.guard():
            return {row[0] for row in self.conn.execute(f"SELECT id FROM {kind}")}  # noqa: S608 - checked name

    def sessions_around(self, moment: datetime) -> tuple[list[dict], list[dict]]:
        """Live sessions on at `moment`, and those of the next start time after it."""
        at = moment.astimezone(UTC).isoformat()
        live = f"{_SESSION_SELECT} WHERE s.status != 'cancelled'"
        now = self._documents(f"{live} AND s.start_utc <= ? AND s.end_utc > ? {_SESSION_ORDER}", (at, at))
        first_start = "SELECT MIN(start_utc) FROM sessions WHERE status != 'cancelled' AND start_utc > ?"
        upcoming = self._documents(f"{live} AND s.start_utc = ({first_start}) {_SESSION_ORDER}", (at,))
        return now, upcoming

    def types(self) -> list[str]:
        with self.guard():
            return [row[0] for row in self.conn.execute("SELECT DISTINCT type FROM sessions ORDER BY type")]

    def programme(self) -> dict:
        """The whole programme in the shape of GET /events/{event}/programme."""
        sessions = self.sessions()
        days = [dict(day, sessions=[]) for day in self.days()]
        by_date = {day["date"]: day for day in days}
        for session in sessions:
            by_date[session["day"]]["sessions"].append(session)
        return {
            "event": self.event(),
            "version": self.version,
            "rooms": self.rooms(),
            "tracks": self.tracks(),
            "speakers": self.speakers(),
            "days": days,
        }

    # --- writing the programme -----------------------------------------------------------

    def replace_programme(self, document: dict, progress: Callable[[list], Iterable] = iter) -> None:
        """Store a whole programme (GET /programme), replacing what was cached, in one transaction."""
        db = self.db
        sessions = [session for day in document["days"] for session in day["sessions"]]
        with self.guard(), db.atomic():
            for table in ("event", "days", "rooms", "tracks", "speakers", "sessions"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            self._store_event(document["event"])
            self.upsert("rooms", document["rooms"])
            self.upsert("tracks", document["tracks"])
            self.upsert("speakers", document["speakers"])
            batch: list[dict] = []
            for session in progress(sessions):
                batch.append(session)
                if len(batch) == 100:
                    self.upsert("sessions", batch)
                    batch = []
            self.upsert("sessions", batch)

    def apply_changes(self, changes: dict) -> None:
        """Apply a GET /changes answer (upserts and deletions per kind) in one transaction."""
        db = self.db
        with self.guard(), db.atomic():
            if changes["upserts"].get("event"):
                self._store_event(changes["upserts"]["event"])
            for kind in ("rooms", "tracks", "speakers", "sessions"):
                self.upsert(kind, changes["upserts"].get(kind) or [])
                for item_id in changes["deletions"].get(kind) or []:
                    db[kind].delete_where("id = ?", [item_id])

    def _store_event(self, event: dict) -> None:
        db = self.db
        db.execute("DELETE FROM event")
        db["event"].insert({"slug": event["slug"], "document": json.dumps(event, ensure_ascii=False)})
        db.execute("DELETE FROM days")
        db["days"].insert_all(
            [{"date": day["date"], "number": day["number"], "label": day["label"]} for day in event["days"]]
        )

    def upsert(self, kind: str, documents: list[dict]) -> None:
        if documents:
            self.db[kind].upsert_all([_row(kind, document) for document in documents], pk="id")

    # --- my schedule ---------------------------------------------------------------------

    def replace_schedule(self, document: dict) -> None:
        """Store GET /me/schedule as the server's view of my schedule."""
        rows = [
            {"session_id": item["session"]["id"], "added_at": item["added_at"], "seats_left": item["seats_left"]}
            for item in document["items"]
        ]
        db = self.db
        with self.guard(), db.atomic():
            db.execute("DELETE FROM my_schedule")
            if rows:
                db["my_schedule"].insert_all(rows)
            db["sessions"].upsert_all([_row("sessions", item["session"]) for item in document["items"]], pk="id")

    def schedule_rows(self) -> dict[str, dict]:
        with self.guard():
            rows = self.conn.execute("SELECT session_id, added_at, seats_left FROM my_schedule").fetchall()
        return {row[0]: {"added_at": row[1], "seats_left": row[2]} for row in rows}

    def pending(self, kind: str = "schedule") -> list[dict]:
        """Queued changes of one kind, oldest first: {"session"} for bookmarks, {"target", "body"} for meetings."""
        with self.guard():
            rows = self.conn.execute(
                "SELECT target, action, body, queued_at FROM pending WHERE kind = ? ORDER BY queued_at, rowid",
                (kind,),
            ).fetchall()
        return [_queued(kind, target, {"action": action, "queued_at": at}, body) for target, action, body, at in rows]

    def refused(self, kind: str = "schedule") -> list[dict]:
        with self.guard():
            rows = self.conn.execute(
                "SELECT target, action, body, reason, message, at FROM refused WHERE kind = ? ORDER BY at, target",
                (kind,),
            ).fetchall()
        return [
            _queued(kind, target, {"action": action, "reason": reason, "message": message, "at": at}, body)
            for target, action, body, reason, message, at in rows
        ]

    def queue(self, target: str, action: str, *, kind: str = "schedule", body: dict | None = None) -> None:
        """Remember a change to send on the next sync; the latest wish for a target wins."""
        db = self.db
        key = {"kind": kind, "target": target}
        with self.guard(), db.atomic():
            db["refused"].delete_where("kind = ? AND target = ?", [kind, target])
            db["pending"].delete_where("kind = ? AND target = ?", [kind, target])  # to the back of the queue
            text = json.dumps(body, ensure_ascii=False) if body is not None else None
            db["pending"].insert({**key, "action": action, "body": text, "queued_at": utc_now()})

    def mark_mine(self, session_id: str, present: bool) -> None:
        """Record locally a change the server accepted, when its schedule could not be fetched after."""
        self.set_meta(schedule_etag=None)  # the stored schedule is no longer the one that ETag names
        with self.guard():
            if present:
                row = {"session_id": session_id, "added_at": utc_now(), "seats_left": None}
                self.db["my_schedule"].insert(row, pk="session_id", ignore=True)
            else:
                self.db["my_schedule"].delete_where("session_id = ?", [session_id])

    def forget_refusal(self, target: str, kind: str = "schedule") -> bool:
        """Dismiss a refusal; whether there was one."""
        with self.guard():
            gone = self.conn.execute("DELETE FROM refused WHERE kind = ? AND target = ?", (kind, target)).rowcount
        return gone > 0

    def settle(self, target: str, refusal: dict | None = None, *, kind: str = "schedule") -> None:
        """A queued change was sent: drop it, and keep the server's refusal if there was one."""
        db = self.db
        with self.guard(), db.atomic():
            row = self.conn.execute(
                "SELECT action, body FROM pending WHERE kind = ? AND target = ?", (kind, target)
            ).fetchone()
            db["pending"].delete_where("kind = ? AND target = ?", [kind, target])
            if refusal is not None:
                kept = {"kind": kind, "target": target, "body": row[1] if row else None, "action": refusal["action"]}
                db["refused"].insert(
                    {**kept, "reason": refusal["reason"], "message": refusal["message"], "at": utc_now()},
                    pk=("kind", "target"),
                    replace=True,
                )

    # --- my meetings ---------------------------------------------------------------------

    def replace_meetings(self, meetings: list[dict], participant_id: str) -> None:
        """Store GET /me/meetings (in the server's order) and who I am in them; "": no profile."""
        db = self.db
        rows = [
            {"id": m["id"], "position": n, "status": m["status"], "document": json.dumps(m, ensure_ascii=False)}
            for n, m in enumerate(meetings)
        ]
        with self.guard(), db.atomic():
            db.execute("DELETE FROM meetings")
            if rows:
                db["meetings"].insert_all(rows)
        self.set_meta(participant_id=participant_id, meetings_synced_at=utc_now())

    def store_meeting(self, meeting: dict) -> None:
        """One meeting as the server just answered it (a request made, or an answer given)."""
        with self.guard():
            found = self.conn.execute("SELECT position FROM meetings WHERE id = ?", (meeting["id"],)).fetchone()
            if found is None:
                found = self.conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM meetings").fetchone()
            row = {"id": meeting["id"], "position": found[0], "status": meeting["status"]}
            self.db["meetings"].upsert({**row, "document": json.dumps(meeting, ensure_ascii=False)}, pk="id")

    def meetings(self) -> list[dict]:
        return self._documents("SELECT document FROM meetings ORDER BY position")

    def my_session_ids(self) -> list[str]:
        """My schedule as it will be once the queue is sent: the server's, minus removals, plus adds."""
        mine = set(self.schedule_rows())
        for change in self.pending():
            if change["action"] == "add":
                mine.add(change["session"])
            else:
                mine.discard(change["session"])
        return sorted(mine)


def _queued(kind: str, target: str, fields: dict, body: str | None) -> dict:
    """A queue row as the commands see it: bookmarks keep their old shape ({"session", ...})."""
    if kind == "schedule":
        return {"session": target, **fields}
    return {"target": target, **fields, "body": json.loads(body) if body else None}


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


def _row(kind: str, document: dict) -> dict:
    """A document as its table's row: the columns queries need, and the document itself."""
    row = {"id": document["id"], "document": json.dumps(document, ensure_ascii=False)}
    if kind in ("rooms", "tracks"):
        row.update(name=document["name"], position=document["position"])
    elif kind == "speakers":
        row.update(name=document["name"], organisation=document.get("organisation") or "")
    else:
        row.update(
            {column: document[column] for column in ("title", "type", "track", "room", "day", "status")},
            abstract=document.get("abstract") or "",
            start_utc=utc_of(document["start"]),
            end_utc=utc_of(document["end"]),
            speaker_names=" ".join(speaker["name"] for speaker in document["speakers"]),
        )
    return row


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
