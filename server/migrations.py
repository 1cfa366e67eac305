"""Recorded schema changes after version 1 of schema.sql.

Each entry is (version, [SQL statements]); `db.init_db` applies the ones not yet in
`schema_migrations`, in order, inside one transaction. schema.sql must be edited to match,
so a fresh database and an upgraded one end up the same (a fresh database is made from
schema.sql, already current, and records every migration as applied without running it).
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
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
]
