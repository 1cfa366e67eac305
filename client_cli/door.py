"""Door mode: judge ticket scans offline from the door bundle, journal every scan, upload later.

No click here: the commands are in door_cli.py. The pieces:

- `Bundle`: the server's door bundle (public keys, lists, revoked serials, roster, presence) in a
  small SQLite file of mode 0600, replaced by a full fetch or merged with `?since=cursor` deltas.
- `Journal`: every scan, appended as one JSON line and fsynced before its verdict is shown, so a
  crash or a pulled plug loses nothing; uploads append the server's verdicts beside them. It
  never holds a name: the roster stays in the bundle.
- `DoorSession`: the verdict for one payload, decided with the bundle and this device's own
  journal (`judge`), recorded (`scan`).
- `upload_pending`, `sync_bundle`: the only two calls to the server, both idempotent.

The payload is checked with server.ticketcode (parse and Ed25519 verify), the same code the
server runs, so the door and the server cannot disagree on what a genuine ticket is.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from zoneinfo import ZoneInfo

from client_cli import config, safetext
from client_cli.errors import CliError, NoCache, Offline, Refused, ServerError
from server import clock  # EVENTDESK_NOW, read as the server reads it
from server.ticketcode import MESSAGES  # the verdict words, shared with the server

UPLOAD_CHUNK = 500  # scans per batch request (the server takes up to 5000)
BACKGROUND_TIMEOUT = 3.0  # seconds a background upload may wait for the server
BUNDLE_SCHEMA_VERSION = 1
BUNDLE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS public_keys (kid TEXT PRIMARY KEY, public_key TEXT NOT NULL, retired INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lists (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, position INTEGER NOT NULL, starts TEXT NOT NULL, ends TEXT NOT NULL,
    audience TEXT NOT NULL, categories TEXT NOT NULL, allow_reentry INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS roster (
    serial TEXT PRIMARY KEY, name TEXT, organisation TEXT, category TEXT, lists TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revoked (serial TEXT PRIMARY KEY) WITHOUT ROWID;
-- as_of: the door time of the sync that said so (an "outside" answer counts from then).
CREATE TABLE IF NOT EXISTS presence (
    list TEXT NOT NULL, serial TEXT NOT NULL, inside INTEGER NOT NULL, since TEXT, as_of TEXT NOT NULL,
    PRIMARY KEY (list, serial)
) WITHOUT ROWID;
"""


class NoBundle(CliError):
    """No door bundle on this device (or an unreadable one): `eventdesk door sync` first."""


class DeviceRefused(Refused):
    """The server answered 401 to this device's token: unknown or revoked."""


# --- time and places --------------------------------------------------------------------------


def door_now() -> datetime:
    """The door's clock: the local clock, or EVENTDESK_NOW read exactly as the server reads it."""
    try:
        return clock.now()
    except ValueError as problem:
        raise CliError(str(problem)) from None


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def door_dir() -> Path:
    return config.cache_dir() / "door"


def bundle_path() -> Path:
    return door_dir() / "bundle.sqlite3"


def journal_path() -> Path:
    return door_dir() / "journal.jsonl"


def token_fingerprint(token: str | None) -> str:
    """Which token fetched the bundle, without keeping the token itself."""
    return hashlib.sha256((token or "").encode("utf-8")).hexdigest()[:32]


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)


def _fsync_dir(path: Path) -> None:
    """Make a file's creation or rename durable (its directory entry), where the OS allows it."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


# --- the bundle -------------------------------------------------------------------------------


class Bundle:
    """The door bundle as stored on this device: small tables kept in memory, lookups by index.

    The event, zone, keys and lists are cached until the file changes: a `door sync` in another
    process merges a delta in place (SQLite's data_version moves) or replaces the file (a new
    inode); `current()` notices both before each verdict.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection):
        self.path, self.conn = path, connection
        self._cache: dict = {}
        self._inode = _inode(path)
        self._version = self._data_version()

    @classmethod
    def open(cls, path: Path | None = None) -> Bundle:
        """The stored bundle; NoBundle if there is none or it cannot be read."""
        path = path or bundle_path()
        if not path.exists():
            raise NoBundle("no door bundle on this device: run `eventdesk door sync` while online")
        try:
            connection = _connect(path)
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            bundle = cls(path, connection)
            if version != BUNDLE_SCHEMA_VERSION or bundle.meta("event") is None:
                connection.close()
                raise NoBundle("the door bundle is incomplete or from another version: run `eventdesk door sync`")
        except sqlite3.DatabaseError:
            raise NoBundle("the door bundle is damaged: run `eventdesk door sync` to fetch it again") from None
        return bundle

    @classmethod
    def create(cls, path: Path | None = None) -> Bundle:
        """A new, empty bundle file readable by its owner only (it holds names)."""
        path = path or bundle_path()
        _private_dir(path.parent)
        for leftover in (path, path.with_name(path.name + "-journal")):
            leftover.unlink(missing_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.chmod(path, 0o600)
        connection = _connect(path)
        connection.executescript(BUNDLE_SCHEMA)
        connection.execute(f"PRAGMA user_version = {BUNDLE_SCHEMA_VERSION}")
        connection.commit()
        return cls(path, connection)

    def close(self) -> None:
        self.conn.close()

    def current(self) -> Bundle:
        """This bundle up to date: the new file if a `door sync` elsewhere replaced it, else this one."""
        inode = _inode(self.path)
        if inode is not None and inode != self._inode:
            try:
                fresh = Bundle.open(self.path)
            except NoBundle:
                return self
            self.close()
            return fresh
        version = self._data_version()
        if version != self._version:
            self._cache.clear()
            self._version = version
        return self

    def _data_version(self) -> int:
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    def _cached(self, key: str, load):
        if key not in self._cache:
            self._cache[key] = load()
        return self._cache[key]

    # reading

    def meta(self, key: str) -> str | None:
        values = self._cached("meta", lambda: dict(self.conn.execute("SELECT key, value FROM meta").fetchall()))
        return values.get(key)

    @property
    def event(self) -> str:
        return self.meta("event") or ""

    @property
    def zone(self) -> ZoneInfo:
        return self._cached("zone", lambda: ZoneInfo(self.meta("timezone") or "UTC"))

    def public_keys(self) -> list[bytes]:
        return self._cached(
            "keys",
            lambda: [base64.b64decode(row[0]) for row in self.conn.execute("SELECT public_key FROM public_keys")],
        )

    def lists(self) -> list[dict]:
        return self._cached(
            "lists", lambda: [_list_row(row) for row in self.conn.execute("SELECT * FROM lists ORDER BY position")]
        )

    def resolve_list(self, ref: str) -> dict:
        """A list by id or name (exactly, then ignoring case), as the server resolves it."""
        lists = self.lists()
        for matches in (
            [item for item in lists if ref in (item["id"], item["name"])],
            [item for item in lists if ref.casefold() in (item["id"].casefold(), item["name"].casefold())],
        ):
            if len(matches) == 1:
                return matches[0]
        names = ", ".join(f"{item['name']!r} ({item['id']})" for item in lists) or "none"
        raise CliError(f"no check-in list {ref!r} in the door bundle of {self.event}; lists: {names}")

    def list_by_id(self, list_id: str) -> dict | None:
        return next((item for item in self.lists() if item["id"] == list_id), None)

    def roster_entry(self, serial: str) -> dict | None:
        row = self.conn.execute(
            "SELECT serial, name, organisation, category, lists FROM roster WHERE serial = ?", (serial,)
        ).fetchone()
        if row is None:
            return None
        return {**dict(row), "lists": json.loads(row["lists"])}

    def is_revoked(self, serial: str) -> bool:
        return self.conn.execute("SELECT 1 FROM revoked WHERE serial = ?", (serial,)).fetchone() is not None

    def presence(self, list_id: str, serial: str) -> tuple[bool, datetime | None, datetime] | None:
        """(inside, since, as of) for one ticket on one list, as the last sync said."""
        row = self.conn.execute(
            "SELECT inside, since, as_of FROM presence WHERE list = ? AND serial = ?", (list_id, serial)
        ).fetchone()
        if row is None:
            return None
        return bool(row[0]), _time(row[1]) if row[1] else None, _time(row[2])

    def inside_any(self, serials: list[str]) -> bool:
        """Is any of these tickets inside on some list, as far as this bundle knows?"""
        return any(
            self.conn.execute("SELECT 1 FROM presence WHERE serial = ? AND inside", (serial,)).fetchone()
            for serial in serials
        )

    def counts(self) -> dict:
        one = self.conn.execute
        return {
            "roster": one("SELECT COUNT(*) FROM roster").fetchone()[0],
            "revoked": one("SELECT COUNT(*) FROM revoked").fetchone()[0],
            "inside": one("SELECT COUNT(*) FROM presence WHERE inside").fetchone()[0],
            "public_keys": one("SELECT COUNT(*) FROM public_keys").fetchone()[0],
        }

    # writing

    def replace(self, document: dict, *, etag: str | None, since: str | None, token: str | None) -> None:
        """Put a whole bundle in place of what is stored, in one transaction."""
        with self.conn:
            for table in ("meta", "public_keys", "lists", "roster", "revoked", "presence"):
                self.conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self._write(document, etag=etag, since=since, token=token)

    def merge(self, delta: dict, *, etag: str | None, since: str | None, token: str | None) -> None:
        """Merge a `?since=` delta: keys and lists whole, changed roster entries, revocations, presence."""
        with self.conn:
            self.conn.execute("DELETE FROM public_keys")
            self.conn.execute("DELETE FROM lists")
            self._write(delta, etag=etag, since=since, token=token)

    def _write(self, document: dict, *, etag: str | None, since: str | None, token: str | None) -> None:
        many = self.conn.executemany
        as_of = door_now().isoformat()
        many(
            "INSERT OR REPLACE INTO public_keys VALUES (?, ?, ?)",
            [(key["kid"], key["public_key"], int(bool(key.get("retired")))) for key in document["public_keys"]],
        )
        many(
            "INSERT OR REPLACE INTO lists VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (item["id"], item["name"], position, item["start"], item["end"], item["audience"],
                 json.dumps(item.get("categories") or []), int(bool(item.get("allow_reentry", True))))
                for position, item in enumerate(document["lists"])
            ],
        )  # fmt: skip
        many("INSERT OR IGNORE INTO revoked VALUES (?)", [(serial,) for serial in document["revoked"]])
        many("DELETE FROM roster WHERE serial = ?", [(serial,) for serial in document["revoked"]])
        many(
            "INSERT OR REPLACE INTO roster VALUES (?, ?, ?, ?, ?)",
            [
                (entry["serial"], entry.get("name"), entry.get("organisation"), entry.get("category"),
                 json.dumps(entry.get("lists") or []))
                for entry in document["roster"]
            ],
        )  # fmt: skip
        many(
            "INSERT OR REPLACE INTO presence VALUES (?, ?, ?, ?, ?)",
            [
                (item["list"], item["serial"], int(bool(item["inside"])), item.get("since"), as_of)
                for item in document["presence"]
            ],
        )
        values = {
            "event": document["event"],
            "timezone": document.get("timezone") or "UTC",
            "cursor": document["cursor"],
            "etag": etag,
            "etag_since": since,  # the `since` the ETag answers for: asking that again may give 304
            "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "token": token_fingerprint(token),
        }
        many("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(values.items()))
        self._cache.clear()

    def touch(self) -> None:
        """The server said nothing changed (304): only the time of the check moves."""
        with self.conn:
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('checked_at', ?)",
                (datetime.now(UTC).isoformat(timespec="seconds"),),
            )
        self._cache.clear()


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=5, check_same_thread=False)
    connection.row_factory = sqlite3.Row
    return connection


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


def _list_row(item: sqlite3.Row) -> dict:
    return {
        "id": item["id"],
        "name": item["name"],
        "start": item["starts"],
        "end": item["ends"],
        "audience": item["audience"],
        "categories": json.loads(item["categories"]),
        "allow_reentry": bool(item["allow_reentry"]),
    }


def delete_bundle(path: Path | None = None) -> bool:
    path = path or bundle_path()
    existed = path.exists()
    for name in (path, path.with_name(path.name + "-journal")):
        name.unlink(missing_ok=True)
    return existed


# --- the journal ------------------------------------------------------------------------------


@dataclass
class JournalState:
    """The journal folded: scans in order, and the server's verdict of those uploaded."""

    scans: dict[str, dict] = field(default_factory=dict)
    uploads: dict[str, dict] = field(default_factory=dict)
    damaged_lines: int = 0

    def pending(self) -> list[dict]:
        return [scan for scan_id, scan in self.scans.items() if scan_id not in self.uploads]

    def conflicts(self) -> list[tuple[dict, dict]]:
        return [
            (scan, self.uploads[scan_id])
            for scan_id, scan in self.scans.items()
            if scan_id in self.uploads and _is_conflict(scan, self.uploads[scan_id])
        ]


def _is_conflict(scan: dict, server: dict) -> bool:
    """The server judged differently (its `conflict` flag alone is no news when the door refused too)."""
    return server.get("result") != scan.get("result") or (scan.get("result") == "ok" and bool(server.get("conflict")))


class Journal:
    """Append-only JSON lines: a `scan` record per scan, an `upload` record per server verdict.

    Each append is one write to a file opened with O_APPEND, then fsync, under a lock shared
    with other eventdesk processes and threads; the file is opened per append, so a rewrite
    (after a revoked token) never leaves a writer on a replaced file.
    """

    def __init__(self, path: Path | None = None):
        self.path = path or journal_path()
        self._thread_lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            _private_dir(self.path.parent)
            descriptor = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                try:
                    import fcntl

                    fcntl.flock(descriptor, fcntl.LOCK_EX)
                except ImportError:  # no fcntl (Windows): the thread lock still orders this process
                    pass
                yield
            finally:
                os.close(descriptor)  # closing releases the flock

    def append(self, records: list[dict]) -> None:
        """Write records durably: they are on disk when this returns."""
        if not records:
            return
        data = "".join(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n" for record in records)
        with self._locked():
            created = not self.path.exists()
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(descriptor).st_size
                if size and _last_byte(self.path, size) != b"\n":
                    data = "\n" + data  # a crash cut the last line short: never glue a record to it
                os.write(descriptor, data.encode("utf-8"))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            if created:
                _fsync_dir(self.path.parent)

    def read(self) -> JournalState:
        state = JournalState()
        try:
            handle = self.path.open(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return state
        with handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    state.damaged_lines += 1  # only a line cut short by a crash can be
                    continue
                if not isinstance(record, dict) or not isinstance(record.get("scan_id"), str):
                    state.damaged_lines += 1
                elif record.get("record") == "scan":
                    state.scans.setdefault(record["scan_id"], record)
                elif record.get("record") == "upload":
                    state.uploads[record["scan_id"]] = record
        return state

    def keep_only(self, records: list[dict]) -> None:
        """Replace the journal by `records`, atomically (temporary file, fsync, rename)."""
        with self._locked():
            temporary = self.path.with_name(self.path.name + ".tmp")
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                data = "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records)
                os.write(descriptor, data.encode("utf-8"))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, self.path)
            _fsync_dir(self.path.parent)

    def delete(self) -> None:
        with self._locked():
            self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".lock").unlink(missing_ok=True)


def _last_byte(path: Path, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(size - 1)
        return handle.read(1)


# --- judging a scan ---------------------------------------------------------------------------


@dataclass
class Verdict:
    """One scan's outcome at this door, decided offline."""

    result: str
    scan_id: str
    payload: str
    list_id: str
    list_name: str
    type: str
    scanned_at: datetime
    event: str
    serial: str | None = None
    holder: dict | None = None  # name, organisation, category from the roster
    inside_since: datetime | None = None  # for already_checked_in: when they entered
    ticket_event: str | None = None  # for wrong_event: the event the ticket is for
    reason: str | None = None  # for not_on_list: outside the window, or not in the audience

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def journal_record(self) -> dict:
        """What the journal keeps: enough to upload and to judge the next scan; no name."""
        return {
            "record": "scan",
            "scan_id": self.scan_id,
            "event": self.event,
            "list": self.list_id,
            "type": self.type,
            "payload": self.payload,
            "scanned_at": self.scanned_at.isoformat(),
            "result": self.result,
            "serial": self.serial,
        }

    def as_json(self) -> dict:
        """The verdict in the shape of the server's ScanVerdict, plus `inside_since` and `queued`."""
        document = {
            "result": self.result,
            "message": MESSAGES[self.result],
            "scan_id": self.scan_id,
            "list": self.list_id,
            "type": self.type,
            "scanned_at": self.scanned_at.isoformat(),
            "source": "door",
            "serial": self.serial,
            "attendee": dict(self.holder) if self.holder else None,
            "conflict": False,
            "queued": True,
        }
        if self.inside_since is not None:
            document["inside_since"] = self.inside_since.isoformat()
        if not self.ok:
            document["error"] = self.result
        return document

    def headline(self) -> str:
        """The big line door staff read: result word first, then who, then why."""
        mark = "✔" if self.ok else "✘"
        word = self.result.replace("_", " ").upper()
        if self.ok and self.type == "exit":
            word = "OK  EXIT"
        if self.result == "already_checked_in" and self.inside_since is not None:
            word += f" at {self.inside_since.astimezone(self.scanned_at.tzinfo):%H:%M}"
        who = _who(self.holder)
        if self.ok or self.result == "already_checked_in":
            return f"{mark} {word}  {who}".rstrip()
        why = {
            "revoked": "re-issued or cancelled: send to the desk",
            "invalid_signature": "forged or damaged code",
            "unknown_ticket": "genuine code, not in this door's roster: send to the desk (or sync the bundle)",
            "wrong_event": f"this ticket is for {safetext.clean(self.ticket_event or 'another event')}",
            "not_on_list": f"not admitted through {safetext.clean(self.list_name)}"
            + (f": {safetext.clean(self.reason)}" if self.reason else ""),
            "malformed": "not a readable Eventdesk ticket",
        }[self.result]
        return f"{mark} {word}  " + (f"{who} — {why}" if who else why)


def _who(holder: dict | None) -> str:
    """Who the ticket holder is, as one line of plain text: these words were typed by attendees."""
    if not holder:
        return ""
    text = safetext.clean(holder.get("name") or "")
    if holder.get("organisation"):
        text += f" — {safetext.clean(holder['organisation'])}"
    if holder.get("category"):
        text += f" ({safetext.clean(holder['category']).replace('-', ' ')})"
    return text


def new_scan_id() -> str:
    """Unique per scan, made on the device (the server deduplicates on it)."""
    return uuid.uuid4().hex


class DoorSession:
    """Scanning at one list: the bundle, this device's journal, and who this device let in."""

    def __init__(self, bundle: Bundle, journal: Journal, list_ref: str, scan_type: str = "entry"):
        from server import ticketcode  # the format and its checks, shared with the server

        self._ticketcode = ticketcode
        self.bundle, self.journal, self.type = bundle, journal, scan_type
        self.list = bundle.resolve_list(list_ref)
        # (list id, serial) -> [(door time, journal order, entry|exit)] of scans this device accepted
        self._accepted: dict[tuple[str, str], list[tuple[datetime, int, str]]] = {}
        self._order = count(1)
        for record in journal.read().scans.values():
            self._remember(record)

    def _remember(self, record: dict) -> None:
        if record.get("result") == "ok" and record.get("event") == self.bundle.event and record.get("serial"):
            try:
                moment = _time(record["scanned_at"])
            except (KeyError, ValueError):
                return
            key = (record["list"], record["serial"])
            self._accepted.setdefault(key, []).append((moment, next(self._order), record["type"]))

    def scan(self, payload: str, at: datetime | None = None) -> Verdict:
        """Judge one payload, journal it durably, then return the verdict to show."""
        verdict = self.judge(payload, at)
        record = verdict.journal_record()
        self.journal.append([record])
        self._remember(record)
        return verdict

    def judge(self, payload: str, at: datetime | None = None) -> Verdict:
        """The verdict for one payload at door time `at` (now), from the bundle and the journal alone."""
        self.bundle = self.bundle.current()
        moment = (at or door_now()).astimezone(self.bundle.zone).replace(microsecond=0)
        list_row = self.bundle.list_by_id(self.list["id"]) or self.list
        verdict = Verdict("ok", new_scan_id(), payload.strip(), list_row["id"], list_row["name"], self.type, moment,
                          self.bundle.event)  # fmt: skip
        codes = self._ticketcode
        try:
            code = codes.parse(payload)
        except codes.MalformedPayload:
            verdict.result = "malformed"
            return verdict
        if code.event_slug != self.bundle.event:
            verdict.result, verdict.ticket_event = "wrong_event", code.event_slug
            return verdict
        if not codes.verify(code, self.bundle.public_keys()):
            verdict.result = "invalid_signature"
            return verdict
        verdict.serial = code.serial_hex
        if self.bundle.is_revoked(verdict.serial):
            verdict.result = "revoked"
            return verdict
        entry = self.bundle.roster_entry(verdict.serial)
        if entry is None:
            verdict.result = "unknown_ticket"
            return verdict
        verdict.holder = {key: entry[key] for key in ("name", "organisation", "category")}
        start, end = _time(list_row["start"]), _time(list_row["end"])
        if not (_admits(list_row, entry) and start <= moment < end):
            verdict.result = "not_on_list"
            if moment < start:
                verdict.reason = f"opens {start.astimezone(moment.tzinfo):%d %b %H:%M}"
            elif moment >= end:
                verdict.reason = f"closed at {end.astimezone(moment.tzinfo):%d %b %H:%M}"
            else:
                verdict.reason = "not on this list" if list_row["audience"] == "explicit" else "not in its audience"
            return verdict
        if self.type == "entry":
            inside_since = self._already_in(list_row, verdict.serial, moment)
            if inside_since is not None:
                verdict.result, verdict.inside_since = "already_checked_in", inside_since
        return verdict

    def _already_in(self, list_row: dict, serial: str, moment: datetime) -> datetime | None:
        """When they entered, if an entry now would repeat one (inside, or re-entry not allowed)."""
        timeline: list[tuple[datetime, int, str]] = []  # (door time, order, kind): the bundle's word first
        known = self.bundle.presence(list_row["id"], serial)
        if known is not None:
            inside, since, as_of = known
            # The bundle lists accepted scans only: someone outside now came in and went out before.
            timeline.append((since, 0, "entry") if inside and since else (as_of, 0, "left"))
        timeline += self._accepted.get((list_row["id"], serial), [])
        before = sorted(item for item in timeline if item[0] <= moment)
        if not before:
            return None
        if before[-1][2] == "entry":
            return before[-1][0]
        if not list_row["allow_reentry"]:
            # Only an entry (or the bundle's word that they left) forbids another; an exit scanned
            # of someone never in does not, as on the server (server/checkin.py `came_before`).
            entries = [at for at, _, kind in before if kind == "entry"]
            left = [at for at, _, kind in before if kind == "left"]
            return (entries or left or [None])[0]
        return None


def _admits(list_row: dict, entry: dict) -> bool:
    """Is the roster entry in the list's audience? Categories are judged from the list itself, so a list
    changed after the roster entry was sent still judges right; named members come from the roster."""
    if list_row["audience"] == "all":
        return True
    if list_row["audience"] == "categories":
        return entry.get("category") in list_row["categories"]
    return list_row["id"] in entry["lists"]


def check_window(list_row: dict, at: datetime | None = None) -> str | None:
    """A warning when the list is not open at door time `at`, else None."""
    moment = at or door_now()
    start, end = _time(list_row["start"]), _time(list_row["end"])
    if moment < start:
        return f"{list_row['name']} opens at {start:%Y-%m-%d %H:%M}: until then every entry is not_on_list"
    if moment >= end:
        return f"{list_row['name']} closed at {end:%Y-%m-%d %H:%M}: every entry is not_on_list"
    return None


# --- talking to the server --------------------------------------------------------------------


def _call(client, method: str, path: str, *, body=None, headers=None, ok=(200,)):
    """One request; a 401 becomes DeviceRefused (the token is unknown or revoked)."""
    reply = client.request(method, path, json=body, headers=headers, ok=(*ok, 401))
    if reply.status == 401:
        message = _json_or_empty(reply.body).get("message") or "the token is unknown or has been revoked"
        raise DeviceRefused(f"the server refused this door's token: {message}")
    return reply


def _json_or_empty(body: bytes) -> dict:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class SyncReport:
    kind: str  # full, delta or not_modified
    cursor: str
    changes: dict  # roster, revoked, presence: entries received


def _cursor_numbers(cursor: str | None) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in (cursor or "").split("."))
    except ValueError:
        return None


def sync_bundle(client, event: str, token: str | None) -> SyncReport:
    """Fetch the bundle: a delta since the stored cursor when there is one, else (or on doubt) in full."""
    try:
        stored = Bundle.open()
    except NoBundle:
        stored = None
    try:
        usable = stored is not None and stored.event == event and stored.meta("token") == token_fingerprint(token)
        if usable:
            cursor = stored.meta("cursor")
            headers = {"If-None-Match": stored.meta("etag")} if stored.meta("etag_since") == cursor else {}
            try:
                reply = _call(client, "GET", f"/api/v1/events/{event}/door-bundle?since={cursor}",
                              headers=headers, ok=(200, 304))  # fmt: skip
            except ServerError as problem:
                if problem.status != 400:
                    raise
                reply = None  # the server no longer takes that cursor: fetch everything
            if reply is not None and reply.status == 304:
                stored.touch()
                return SyncReport("not_modified", cursor, {"roster": 0, "revoked": 0, "presence": 0})
            if reply is not None:
                delta = _document(reply)
                old, new = _cursor_numbers(cursor), _cursor_numbers(delta.get("cursor"))
                forward = bool(old and new and len(old) == len(new)) and all(
                    b >= a for a, b in zip(old, new, strict=True)
                )
                # A cursor going back means the server's data was replaced; a re-issued ticket of someone
                # inside moves their presence to a serial a delta does not repeat. Both: fetch it all.
                if forward and not stored.inside_any(delta["revoked"]):
                    with _understood():
                        stored.merge(delta, etag=_etag(reply), since=cursor, token=token)
                    return SyncReport("delta", delta["cursor"], _changes(delta))
        reply = _call(client, "GET", f"/api/v1/events/{event}/door-bundle")
        document = _document(reply)
    finally:
        if stored is not None:
            stored.close()
    fresh = Bundle.create(bundle_path().with_name("bundle.sqlite3.new"))
    try:
        with _understood():
            fresh.replace(document, etag=_etag(reply), since=None, token=token)
    finally:
        fresh.close()
    os.replace(fresh.path, bundle_path())  # readers see the old bundle or the new one, never half
    _fsync_dir(bundle_path().parent)
    return SyncReport("full", document["cursor"], _changes(document))


def _document(reply) -> dict:
    try:
        document = reply.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ServerError("the server's answer is not the JSON object expected", reply.status)
    return document


@contextlib.contextmanager
def _understood() -> Iterator[None]:
    """A bundle missing a field or with one of the wrong type is reported, not a traceback."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError) as problem:
        raise ServerError(f"the server's door bundle is not one this client understands ({problem!r})", 200) from None


def _etag(reply) -> str | None:
    return next((value for key, value in reply.headers.items() if key.lower() == "etag"), None)


def _changes(document: dict) -> dict:
    return {name: len(document.get(name) or []) for name in ("roster", "revoked", "presence")}


@dataclass
class Conflict:
    """An uploaded scan the server judged differently from the door (the server's verdict stands)."""

    scan: dict
    server: dict

    def describe(self, zone: ZoneInfo | None = None) -> str:
        moment = _time(self.scan["scanned_at"])
        if zone is not None:
            moment = moment.astimezone(zone)
        text = (
            f"{moment:%Y-%m-%d %H:%M} {self.scan['list']} {self.scan['type']}: "
            f"door said {self.scan['result']}, server says {safetext.clean(self.server.get('result'))}"
        )
        if self.server.get("conflict"):
            text += " (flagged: a later entry of someone already inside)"
        holder = self.server.get("attendee") or {}
        if holder.get("name"):
            text += f" — {safetext.clean(holder['name'])}"
        first = self.server.get("first_entry") or {}
        if first.get("at"):
            at = _time(first["at"]).astimezone(zone) if zone else _time(first["at"])
            text += f", first entry {at:%H:%M}" + (
                f" at {safetext.clean(first['device'])}" if first.get("device") else ""
            )
        return text


@dataclass
class UploadReport:
    uploaded: int = 0
    results: Counter = field(default_factory=Counter)
    conflicts: list[Conflict] = field(default_factory=list)
    remaining: int = 0
    uploaded_ids: set[str] = field(default_factory=set)


def upload_pending(client, journal: Journal, *, chunk_size: int = UPLOAD_CHUNK) -> UploadReport:
    """Send the journal's not-yet-uploaded scans in batches and record the server's verdicts.

    Safe to repeat at any point: the server keeps one answer per (device, scan_id), so a batch
    sent twice (say the reply was lost) gets the same verdicts and records nothing new.
    """
    report = UploadReport()
    upload_scans(client, journal, journal.read().pending(), report, chunk_size=chunk_size)
    return report


def upload_scans(client, journal: Journal, scans: list[dict], report: UploadReport, *,
                 chunk_size: int = UPLOAD_CHUNK) -> None:  # fmt: skip
    """Upload `scans` (journal records) chunk by chunk; `report` holds the progress even if one fails."""
    by_event: dict[str, list[dict]] = {}
    for scan in scans:
        by_event.setdefault(scan["event"], []).append(scan)
    report.remaining += len(scans)
    for event, event_scans in by_event.items():
        for start in range(0, len(event_scans), chunk_size):
            chunk = event_scans[start : start + chunk_size]
            fields = ("scan_id", "payload", "list", "type", "scanned_at")
            body = {"scans": [{key: scan[key] for key in fields} for scan in chunk]}
            reply = _call(client, "POST", f"/api/v1/events/{event}/checkins/batch", body=body)
            results = _document(reply).get("results")
            if not isinstance(results, list) or len(results) != len(chunk):
                raise ServerError("the server's batch answer does not match the scans sent", reply.status)
            uploaded_at = datetime.now(UTC).isoformat(timespec="seconds")
            journal.append(
                [
                    {
                        "record": "upload",
                        "scan_id": scan["scan_id"],
                        "result": answer.get("result"),
                        "conflict": bool(answer.get("conflict")),
                        "first_entry": answer.get("first_entry"),
                        "server_id": answer.get("id"),
                        "uploaded_at": uploaded_at,
                    }
                    for scan, answer in zip(chunk, results, strict=True)
                ]
            )
            for scan, answer in zip(chunk, results, strict=True):
                report.results[answer.get("result")] += 1
                report.uploaded_ids.add(scan["scan_id"])
                if _is_conflict(scan, answer):
                    report.conflicts.append(Conflict(scan, answer))
            report.uploaded += len(chunk)
            report.remaining -= len(chunk)


def forget_after_refusal(token: str | None, journal: Journal | None = None) -> str:
    """After a 401: wipe personal data if the refused token is the one this door synced with.

    The bundle (the roster: names, organisations) is deleted. The journal never holds names;
    it keeps only the scans not yet uploaded (scan_id, payload, list, type, door time, local
    verdict) so that nothing is lost: a new device token can upload them with `door upload`.
    A different token refused (a typo, another device's) wipes nothing.
    """
    journal = journal or Journal()
    try:
        bundle = Bundle.open()
    except NoBundle:
        return "the server refused the token (revoked or unknown); there is no door bundle on this device"
    synced_with = bundle.meta("token")
    bundle.close()
    if synced_with != token_fingerprint(token):
        return (
            "the server refused this token (revoked or unknown); it is not the token this door synced with, "
            "so nothing was wiped"
        )
    delete_bundle()
    queued = journal.read().pending()
    journal.keep_only(queued)
    return (
        "this door's token was refused (revoked): the door bundle (names) was deleted; "
        f"{len(queued)} scans not yet uploaded were kept (no names) for `eventdesk door upload` with a new token"
    )


# --- the background uploader ------------------------------------------------------------------


class BackgroundUploader:
    """Uploads queued scans on a thread while the door keeps scanning; never delays a verdict.

    The scanning loop hands over each journaled scan (`queue`); the thread sends what is queued
    when woken by a scan, and every `retry_seconds` while something waits. A failed attempt
    (offline, server trouble) waits `retry_seconds` before the next; a 401 stops it and sets
    `refused`, for the caller to wipe personal data and stop. It keeps the queue in memory, so
    it never rereads the journal while the door scans.
    """

    def __init__(self, make_client, journal: Journal, *, retry_seconds: float = 15.0):
        self._make_client, self.journal, self.retry_seconds = make_client, journal, retry_seconds
        self._wake, self._stop, self._lock = threading.Event(), threading.Event(), threading.Lock()
        self._queue: list[dict] = journal.read().pending()  # left from earlier sessions
        self._next_try = 0.0
        self.refused: DeviceRefused | None = None
        self.uploaded = 0
        self.conflicts: list[Conflict] = []
        self.last_problem: str | None = None
        self._thread = threading.Thread(target=self._run, name="eventdesk-door-upload", daemon=True)

    def start(self) -> BackgroundUploader:
        self._thread.start()
        return self

    def queue(self, record: dict) -> None:
        """A scan now in the journal: send it when the server answers."""
        with self._lock:
            self._queue.append(record)
        self._wake.set()

    def _run(self) -> None:
        client = self._make_client()
        try:
            while not self._stop.is_set():
                self._wake.wait(timeout=self.retry_seconds)
                self._wake.clear()
                if not self._stop.is_set() and time.monotonic() >= self._next_try:
                    self._attempt(client)
        finally:
            client.close()

    def _attempt(self, client) -> None:
        with self._lock:
            scans = list(self._queue)
        if not scans:
            return
        report = UploadReport()
        try:
            upload_scans(client, self.journal, scans, report)
            self.last_problem = None
        except DeviceRefused as problem:
            self.refused = problem
            self._stop.set()
        except (CliError, OSError, ValueError) as problem:  # offline, refused (403), server trouble
            self.last_problem = getattr(problem, "message", None) or str(problem)
            self._next_try = time.monotonic() + self.retry_seconds
        finally:
            with self._lock:
                self._queue = [scan for scan in self._queue if scan["scan_id"] not in report.uploaded_ids]
            self.uploaded += report.uploaded
            self.conflicts += report.conflicts

    def finish(self) -> None:
        """Stop the thread, then one last attempt (short timeout) so a door closing online leaves nothing queued."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=BACKGROUND_TIMEOUT * 2)
        if self.refused is None and self._queue and not self._thread.is_alive():
            client = self._make_client()
            try:
                self._attempt(client)
            finally:
                client.close()


# --- status and wipe --------------------------------------------------------------------------


def status() -> dict:
    """What is on this device: the bundle's age and cursor, and the journal's scans by result."""
    journal = Journal()
    state = journal.read()
    try:
        bundle = Bundle.open()
    except NoBundle as problem:
        bundle_info = None
        bundle_problem = problem.message
    else:
        try:
            fetched = _time(bundle.meta("fetched_at"))
            checked = _time(bundle.meta("checked_at") or bundle.meta("fetched_at"))
            bundle_info = {
                "path": str(bundle.path),
                "event": bundle.event,
                "cursor": bundle.meta("cursor"),
                "fetched_at": fetched.isoformat(),
                "checked_at": checked.isoformat(),
                "age_seconds": int((datetime.now(UTC) - checked).total_seconds()),
                **bundle.counts(),
                "lists": bundle.lists(),
            }
            bundle_problem = None
        finally:
            bundle.close()
    uploads = state.uploads
    return {
        "bundle": bundle_info,
        "bundle_problem": bundle_problem,
        "journal": {
            "path": str(journal.path),
            "scans": len(state.scans),
            "queued": len(state.pending()),
            "uploaded": sum(1 for scan_id in state.scans if scan_id in uploads),
            "conflicts": len(state.conflicts()),
            "damaged_lines": state.damaged_lines,
            "door_results": dict(Counter(scan["result"] for scan in state.scans.values())),
            "server_results": dict(Counter(uploads[s]["result"] for s in state.scans if s in uploads)),
        },
    }


def wipe(*, force: bool = False) -> dict:
    """Delete the bundle and the journal; refuse while scans are not uploaded unless forced."""
    journal = Journal()
    queued = journal.read().pending()
    if queued and not force:
        raise CliError(
            f"{len(queued)} scans are not uploaded yet: run `eventdesk door upload` first "
            "(or `eventdesk door wipe --force` to lose them)"
        )
    scans = len(journal.read().scans)
    had_bundle = delete_bundle()
    journal.delete()
    return {"bundle_deleted": had_bundle, "scans_deleted": scans, "unuploaded_deleted": len(queued)}


def offline_without_bundle(problem: Offline) -> NoCache:
    return NoCache(f"{problem.message}; and there is no door bundle on this device yet")


def payloads_from_lines(lines: Iterable[str]) -> Iterator[str]:
    """Each non-empty line a scanner typed, without its line ending."""
    for line in lines:
        text = line.strip("\r\n")
        if text.strip():
            yield text
