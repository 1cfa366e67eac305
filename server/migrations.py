"""Recorded schema changes after version 1 of schema.sql.

Each entry is (version, [SQL statements]); `db.init_db` applies the ones not yet in
`schema_migrations`, in order, inside one transaction. schema.sql must be edited to match,
so a fresh database and an upgraded one end up the same.
"""

MIGRATIONS: list[tuple[int, list[str]]] = [
    # 2: a verdict reads only accepted scans (partial index scans_accepted, in schema.sql);
    # the older full indexes cost every scan an extra page write and served no query.
    (2, ["DROP INDEX IF EXISTS scans_by_attendee", "DROP INDEX IF EXISTS scans_by_time"]),
]
