"""Recorded schema changes after version 1 of schema.sql.

Each entry is (version, [SQL statements]); `db.init_db` applies the ones not yet in
`schema_migrations`, in order, inside one transaction. schema.sql must be edited to match,
so a fresh database and an upgraded one end up the same.
"""

MIGRATIONS: list[tuple[int, list[str]]] = []
