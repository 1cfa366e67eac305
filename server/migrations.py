"""Recorded schema changes after version 1 of schema.sql.

Each entry is (version, [SQL statements, or functions of the connection for a step SQL
cannot say as one fixed statement]); `db.init_db` applies the ones not yet in
`schema_migrations`, in order, inside one transaction. schema.sql must be edited to match,
so a fresh database and an upgraded one end up the same (a fresh database is made from
schema.sql, already current, and records every migration as applied without running it).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# participants.attendee_pk as first written, and as it is since migration 5.
_PARTICIPANT_ATTENDEE_BEFORE = "attendee_pk   INTEGER NOT NULL REFERENCES attendees(pk) ON DELETE CASCADE,"
_PARTICIPANT_ATTENDEE_AFTER = (
    "attendee_pk   INTEGER REFERENCES attendees(pk) ON DELETE SET NULL,  -- NULL: the attendee was erased"
)


def _participants_outlive_their_attendee(conn: sqlite3.Connection) -> None:
    """participants.attendee_pk becomes nullable, ON DELETE SET NULL, by editing its declaration.

    Rebuilding the table is not possible here: with foreign keys on (they cannot be turned off
    inside the migrations' transaction) dropping it would cascade into meetings. SQLite documents
    this edit of sqlite_schema for exactly such changes, which leave the stored rows as they are
    (https://www.sqlite.org/lang_altertable.html#otheralter, "removing ... NOT NULL constraints").
    """
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'participants'").fetchone()
    if _PARTICIPANT_ATTENDEE_AFTER in sql:
        return  # made by schema.sql after this change (a database older than matchmaking)
    if _PARTICIPANT_ATTENDEE_BEFORE not in sql:
        raise RuntimeError("participants.attendee_pk is not declared as migration 5 expects; nothing changed")
    (version,) = conn.execute("PRAGMA schema_version").fetchone()
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'participants'",
            (sql.replace(_PARTICIPANT_ATTENDEE_BEFORE, _PARTICIPANT_ATTENDEE_AFTER),),
        )
        conn.execute(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")


MIGRATIONS: list[tuple[int, list[str | Callable[[sqlite3.Connection], None]]]] = [
    # 2: a verdict reads only accepted scans (partial index scans_accepted, in schema.sql);
    # the older full indexes cost every scan an extra page write and served no query.
    (2, ["DROP INDEX IF EXISTS scans_by_attendee", "DROP INDEX IF EXISTS scans_by_time"]),
    # 3: a scan_id's answer is repeated only for the same request (checkin._previous).
    (3, ["ALTER TABLE scans ADD COLUMN request_hash TEXT"]),
    # 4: desk devices, and what the desk page shows of each door: last contact, scans not yet uploaded.
    (
        4,
        [
            "ALTER TABLE api_tokens ADD COLUMN desk INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE api_tokens ADD COLUMN last_seen_at TEXT",
            "ALTER TABLE api_tokens ADD COLUMN pending_uploads INTEGER",
        ],
    ),
    # 5: erasing an attendee keeps their matchmaking participant row, emptied, so partners see
    # their meetings cancelled with the reason (server/data_lifecycle.py); events record when
    # their personal data was anonymised.
    (
        5,
        [
            _participants_outlive_their_attendee,
            "ALTER TABLE events ADD COLUMN anonymised_at TEXT",
        ],
    ),
]
