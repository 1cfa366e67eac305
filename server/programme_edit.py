"""Changing the programme: every write bumps the event version once and logs what changed.

Used by the admin API and by the file loader, so both follow the same rules: a session's
`sequence` rises when its time, room or status changes; search rows follow their session;
a room may not hold two live sessions at once unless the caller forces it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import sqlite_utils

from server import clock, contract, db as database
from server.errors import Conflict, NotFound
from server.programme import get_event
from server.validation import Errors, Refs, clean_item, clean_session

GUID_NAMESPACE = uuid.UUID("5b0f7f52-8f0e-4c5e-9a53-6c1c2d8e4a10")
_SEQUENCED = ("starts_at", "ends_at", "room_id", "status")
_SESSION_COLUMNS = (
    "title",
    "type",
    "track_id",
    "room_id",
    "starts_at",
    "ends_at",
    "day",
    "abstract",
    "language",
    "capacity",
    "status",
)


class ChangeLog:
    """Collects the changes of one transaction under one new event version."""

    def __init__(self, db: sqlite_utils.Database, event: dict):
        self.db, self.event = db, event
        self.stamp = clock.utc_stamp()
        self.version: int | None = None
        self.counts = {"created": 0, "updated": 0, "deleted": 0}

    def record(self, kind: str, item_id: str, action: str) -> None:
        if self.version is None:
            self.version = self.event["version"] + 1
        self.db.conn.execute(
            "INSERT INTO changes (event_id, version, kind, item_id, action, changed_at) VALUES (?, ?, ?, ?, ?, ?)",
            (self.event["id"], self.version, kind, item_id, action, self.stamp),
        )

    def finish(self) -> None:
        if self.version is not None:
            self.db.conn.execute(
                "UPDATE events SET version = ?, updated_at = ? WHERE id = ?",
                (self.version, self.stamp, self.event["id"]),
            )
            self.event["version"] = self.version


@contextlib.contextmanager
def programme_change(db: sqlite_utils.Database, slug: str) -> Iterator[ChangeLog]:
    """A write transaction on one event's programme; the event is read inside it."""
    with database.write(db):
        log = ChangeLog(db, get_event(db, slug))
        yield log
        log.finish()


def refs(db: sqlite_utils.Database, event_id: int) -> Refs:
    def ids(table: str) -> set[str]:
        sql = f"SELECT id FROM {table} WHERE event_id = ?"  # noqa: S608 - fixed table names
        return {row[0] for row in db.conn.execute(sql, (event_id,))}

    return Refs(rooms=ids("rooms"), tracks=ids("tracks"), speakers=ids("speakers"))


def _row(db, table: str, event_id: int, item_id: str) -> dict | None:
    sql = f"SELECT * FROM {table} WHERE event_id = ? AND id = ?"  # noqa: S608
    row = db.conn.execute(sql, (event_id, item_id)).fetchone()
    return dict(row) if row else None


# --- rooms, tracks, speakers: simple rows -------------------------------------------------

# Each kind's table, and its columns: the declared fields a body may write, less the id.
_SIMPLE = {
    kind: (f"{kind}s", tuple(name for name in contract.properties(kind.capitalize(), body="create") if name != "id"))
    for kind in ("room", "track", "speaker")
}


def write_simple(log: ChangeLog, kind: str, values: dict, existing: dict | None) -> bool:
    """Insert or update a room, track or speaker; True when anything changed."""
    table, columns = _SIMPLE[kind]
    db, event_id = log.db, log.event["id"]
    if existing is None:
        row = {"event_id": event_id, "id": values["id"], "updated_at": log.stamp}
        for name in columns:
            value = values.get(name)
            row[name] = "" if value is None and name not in ("capacity", "position") else value
        if "position" in row and row["position"] is None:
            row["position"] = _next_position(db, table, event_id)
        names = list(row)
        placeholders = ", ".join("?" for _ in names)
        db.conn.execute(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})",  # noqa: S608
            list(row.values()),
        )
        log.record(kind, values["id"], "upsert")
        log.counts["created"] += 1
        return True
    changed = {name: values[name] for name in columns if name in values and values[name] != existing[name]}
    if not changed:
        return False
    assignments = ", ".join(f"{name} = ?" for name in changed)
    db.conn.execute(
        f"UPDATE {table} SET {assignments}, updated_at = ? WHERE event_id = ? AND id = ?",  # noqa: S608
        [*changed.values(), log.stamp, event_id, existing["id"]],
    )
    log.record(kind, existing["id"], "upsert")
    log.counts["updated"] += 1
    if kind == "speaker" and {"name", "job_title", "organisation"} & changed.keys():
        _touch_sessions_of_speaker(log, existing["id"])
    return True


def _next_position(db, table: str, event_id: int) -> int:
    sql = f"SELECT COALESCE(MAX(position) + 1, 0) FROM {table} WHERE event_id = ?"  # noqa: S608
    return db.conn.execute(sql, (event_id,)).fetchone()[0]


def _touch_sessions_of_speaker(log: ChangeLog, speaker_id: str) -> None:
    """Sessions embed their speakers' names, so they change too (search text included)."""
    db, event_id = log.db, log.event["id"]
    session_ids = [
        row[0]
        for row in db.conn.execute(
            "SELECT session_id FROM session_speakers WHERE event_id = ? AND speaker_id = ?",
            (event_id, speaker_id),
        )
    ]
    _touch_sessions(log, session_ids)


def _touch_sessions(log: ChangeLog, session_ids: list[str]) -> None:
    """Mark sessions changed whose embedded speakers changed, and redo their search text."""
    for session_id in session_ids:
        log.db.conn.execute(
            "UPDATE sessions SET updated_at = ? WHERE event_id = ? AND id = ?",
            (log.stamp, log.event["id"], session_id),
        )
        refresh_search(log.db, log.event["id"], session_id)
        log.record("session", session_id, "upsert")


def delete_simple(log: ChangeLog, kind: str, item_id: str, *, unlink: bool = False) -> None:
    """Delete a room, track or speaker; refused while sessions still use it."""
    table, _ = _SIMPLE[kind]
    db, event_id = log.db, log.event["id"]
    if _row(db, table, event_id, item_id) is None:
        raise NotFound(f"no {kind} {item_id!r} in event {log.event['slug']!r}", resource=kind)
    if kind == "speaker":
        users_sql = "SELECT session_id FROM session_speakers WHERE event_id = ? AND speaker_id = ?"
    else:
        users_sql = f"SELECT id FROM sessions WHERE event_id = ? AND {kind}_id = ?"  # noqa: S608
    users = [row[0] for row in db.conn.execute(users_sql, (event_id, item_id))]
    if users and not unlink:
        raise Conflict(
            f"{kind} {item_id!r} is used by {len(users)} session(s): {', '.join(sorted(users)[:10])}",
            sessions=sorted(users),
        )
    if kind == "speaker" and users:
        db.conn.execute("DELETE FROM session_speakers WHERE event_id = ? AND speaker_id = ?", (event_id, item_id))
        _touch_sessions(log, users)
    db.conn.execute(f"DELETE FROM {table} WHERE event_id = ? AND id = ?", (event_id, item_id))  # noqa: S608
    log.record(kind, item_id, "delete")
    log.counts["deleted"] += 1


# --- sessions -----------------------------------------------------------------------------


def session_guid(slug: str, session_id: str) -> str:
    """The UUID a new session gets unless the caller gives one: fixed by event and id."""
    return str(uuid.uuid5(GUID_NAMESPACE, f"{slug}/{session_id}"))


def _speaker_links(db, event_id: int, session_id: str) -> list[dict]:
    rows = db.conn.execute(
        "SELECT speaker_id, role FROM session_speakers WHERE event_id = ? AND session_id = ? ORDER BY position",
        (event_id, session_id),
    )
    return [{"speaker_id": speaker_id, "role": role} for speaker_id, role in rows]


def write_session(log: ChangeLog, values: dict, existing: dict | None) -> bool:
    """Insert or update a session and its speaker links; True when anything changed."""
    db, event = log.db, log.event
    links = values.pop("speakers", None)
    if existing is None:
        row = {
            "event_id": event["id"],
            "id": values["id"],
            "guid": values.get("guid") or session_guid(event["slug"], values["id"]),
            "sequence": 0,
            "created_at": log.stamp,
            "updated_at": log.stamp,
            **{name: values.get(name) for name in _SESSION_COLUMNS},
        }
        row["abstract"] = row["abstract"] or ""
        row["language"] = row["language"] or "en"
        row["status"] = row["status"] or "confirmed"
        db.conn.execute(
            f"INSERT INTO sessions ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",  # noqa: S608
            list(row.values()),
        )
        _set_links(log, values["id"], [], links or [])
        refresh_search(db, event["id"], values["id"])
        log.record("session", values["id"], "upsert")
        log.counts["created"] += 1
        return True
    changed = {name: values[name] for name in _SESSION_COLUMNS if name in values and values[name] != existing[name]}
    old_links = _speaker_links(db, event["id"], existing["id"])
    links_changed = links is not None and links != old_links
    if not changed and not links_changed:
        return False
    sequence = existing["sequence"] + (1 if set(_SEQUENCED) & changed.keys() else 0)
    assignments = "".join(f"{name} = ?, " for name in changed)
    db.conn.execute(
        f"UPDATE sessions SET {assignments}sequence = ?, updated_at = ? WHERE pk = ?",  # noqa: S608
        [*changed.values(), sequence, log.stamp, existing["pk"]],
    )
    if links_changed:
        _set_links(log, existing["id"], old_links, links)
    refresh_search(db, event["id"], existing["id"])
    log.record("session", existing["id"], "upsert")
    log.counts["updated"] += 1
    return True


def _set_links(log: ChangeLog, session_id: str, old: list[dict], new: list[dict]) -> None:
    """Replace a session's speakers; speakers gained or lost change too (their session lists)."""
    db, event_id = log.db, log.event["id"]
    db.conn.execute("DELETE FROM session_speakers WHERE event_id = ? AND session_id = ?", (event_id, session_id))
    db.conn.executemany(
        "INSERT INTO session_speakers (event_id, session_id, speaker_id, role, position) VALUES (?, ?, ?, ?, ?)",
        [(event_id, session_id, link["speaker_id"], link["role"], i) for i, link in enumerate(new)],
    )
    affected = {link["speaker_id"] for link in old} ^ {link["speaker_id"] for link in new}
    for speaker_id in sorted(affected):
        log.record("speaker", speaker_id, "upsert")


def refresh_search(db: sqlite_utils.Database, event_id: int, session_id: str) -> None:
    row = db.conn.execute(
        "SELECT pk, title, abstract FROM sessions WHERE event_id = ? AND id = ?", (event_id, session_id)
    ).fetchone()
    names = " ".join(
        f"{name} {organisation}"
        for name, organisation in db.conn.execute(
            "SELECT sp.name, sp.organisation FROM session_speakers ss JOIN speakers sp "
            "ON sp.event_id = ss.event_id AND sp.id = ss.speaker_id "
            "WHERE ss.event_id = ? AND ss.session_id = ? ORDER BY ss.position",
            (event_id, session_id),
        )
    )
    db.conn.execute("DELETE FROM sessions_fts WHERE rowid = ?", (row["pk"],))
    db.conn.execute(
        "INSERT INTO sessions_fts (rowid, title, abstract, speakers) VALUES (?, ?, ?, ?)",
        (row["pk"], row["title"], row["abstract"], names),
    )


def delete_session_row(log: ChangeLog, existing: dict) -> None:
    db, event_id = log.db, log.event["id"]
    for link in _speaker_links(db, event_id, existing["id"]):
        log.record("speaker", link["speaker_id"], "upsert")
    db.conn.execute("DELETE FROM sessions_fts WHERE rowid = ?", (existing["pk"],))
    db.conn.execute("DELETE FROM sessions WHERE pk = ?", (existing["pk"],))
    log.record("session", existing["id"], "delete")
    log.counts["deleted"] += 1


def room_clashes(db: sqlite_utils.Database, event_id: int, session: dict) -> list[str]:
    """Live sessions in the same room whose times overlap this one's."""
    if not session.get("room_id") or session.get("status") == "cancelled":
        return []
    rows = db.conn.execute(
        "SELECT id FROM sessions WHERE event_id = ? AND room_id = ? AND id != ? "
        "AND status != 'cancelled' AND starts_at < ? AND ends_at > ? ORDER BY starts_at",
        (event_id, session["room_id"], session["id"], session["ends_at"], session["starts_at"]),
    )
    return [row[0] for row in rows]


# --- the admin API's operations -----------------------------------------------------------


def create_item(db: sqlite_utils.Database, slug: str, kind: str, data: dict) -> dict:
    """Create a room, track or speaker; 409 if the id is taken."""
    errors = Errors()
    values = clean_item(kind, data, errors)
    errors.raise_if_any(kind)
    table = _SIMPLE[kind][0]
    with programme_change(db, slug) as log:
        if _row(db, table, log.event["id"], values["id"]) is not None:
            raise Conflict(f"{kind} {values['id']!r} already exists", fields={"id": "already taken"})
        write_simple(log, kind, values, None)
    return {"id": values["id"], "version": log.event["version"]}


def update_item(db: sqlite_utils.Database, slug: str, kind: str, item_id: str, data: dict) -> dict:
    errors = Errors()
    values = clean_item(kind, data, errors, partial=True)
    errors.raise_if_any(kind)
    table = _SIMPLE[kind][0]
    with programme_change(db, slug) as log:
        existing = _row(db, table, log.event["id"], item_id)
        if existing is None:
            raise NotFound(f"no {kind} {item_id!r} in event {slug!r}", resource=kind)
        write_simple(log, kind, values, existing)
    return {"id": item_id, "version": log.event["version"]}


def delete_item(db: sqlite_utils.Database, slug: str, kind: str, item_id: str, *, force: bool = False) -> dict:
    with programme_change(db, slug) as log:
        delete_simple(log, kind, item_id, unlink=force)
    return {"id": item_id, "version": log.event["version"]}


def create_session(db: sqlite_utils.Database, slug: str, data: dict, *, force: bool = False) -> dict:
    with programme_change(db, slug) as log:
        event = log.event
        errors = Errors()
        values = clean_session(data, errors, event=event, refs=refs(db, event["id"]))
        errors.raise_if_any("session")
        if _row(db, "sessions", event["id"], values["id"]) is not None:
            raise Conflict(f"session {values['id']!r} already exists", fields={"id": "already taken"})
        if (
            values.get("guid")
            and db.conn.execute("SELECT 1 FROM sessions WHERE guid = ?", (values["guid"],)).fetchone()
        ):
            raise Conflict("that guid belongs to another session", fields={"guid": "already taken"})
        _refuse_clash(db, event, values, force)
        write_session(log, values, None)
    return {"id": values["id"], "version": log.event["version"]}


def update_session(db: sqlite_utils.Database, slug: str, session_id: str, data: dict, *, force: bool = False) -> dict:
    with programme_change(db, slug) as log:
        event = log.event
        existing = _row(db, "sessions", event["id"], session_id)
        if existing is None:
            raise NotFound(f"no session {session_id!r} in event {slug!r}", resource="session")
        errors = Errors()
        values = clean_session(data, errors, event=event, refs=refs(db, event["id"]), partial=True, current=existing)
        errors.raise_if_any("session")
        _refuse_clash(db, event, {**existing, **values}, force)
        write_session(log, values, existing)
    return {"id": session_id, "version": log.event["version"]}


def _refuse_clash(db, event: dict, session: dict, force: bool) -> None:
    clashes = room_clashes(db, event["id"], session)
    if clashes and not force:
        raise Conflict(
            f"room {session['room_id']!r} already holds {', '.join(clashes)} at that time; send force=true to allow it",
            fields={"room": "double-booked"},
            clashes=clashes,
        )


def delete_session(db: sqlite_utils.Database, slug: str, session_id: str) -> dict:
    with programme_change(db, slug) as log:
        existing = _row(db, "sessions", log.event["id"], session_id)
        if existing is None:
            raise NotFound(f"no session {session_id!r} in event {slug!r}", resource="session")
        delete_session_row(log, existing)
    return {"id": session_id, "version": log.event["version"]}


def set_session_status(db: sqlite_utils.Database, slug: str, session_id: str, status: str) -> dict:
    """Cancel (the session stays, marked cancelled) or reinstate a session."""
    return update_session(db, slug, session_id, {"status": status}, force=status == "cancelled")


def compact_changes(db: sqlite_utils.Database, slug: str, keep: int) -> int:
    """Forget change-log entries older than the last `keep` versions; returns rows removed."""
    with database.write(db):
        event = get_event(db, slug)
        floor = max(event["changes_floor"], event["version"] - keep)
        removed = db.conn.execute(
            "DELETE FROM changes WHERE event_id = ? AND version <= ?", (event["id"], floor)
        ).rowcount
        db.conn.execute("UPDATE events SET changes_floor = ? WHERE id = ?", (floor, event["id"]))
    return removed
