"""The limit for loading a programme file: plain sqlite3, no validation, one transaction.

Usage: python bench/raw_sqlite.py PROGRAMME.json DATABASE SCHEMA.sql

bench/run.py times this as a whole process, like `eventdesk-server load-programme`: it
parses the same file and writes the same rows (event, rooms, tracks, speakers, sessions,
speaker links and the full-text rows) into the same schema with the same connection
settings (WAL, foreign keys, synchronous=FULL). What it skips is exactly what the real
loader adds: validation, time-zone conversion, diffing against what is stored, the change log.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from pathlib import Path

STAMP = "2014-01-01T00:00:00+00:00"


def insert(conn: sqlite3.Connection, table: str, columns: str, rows: list[tuple]) -> int:
    """executemany of one INSERT; returns the row count."""
    marks = ", ".join("?" * len(columns.split(",")))
    conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)  # noqa: S608 - fixed names
    return len(rows)


def insert_event(conn: sqlite3.Connection, event: dict) -> int:
    """The events row of a programme file's `event`; returns its id."""
    return conn.execute(
        "INSERT INTO events (slug, title, timezone, start_date, end_date, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (*(event[k] for k in ("slug", "title", "timezone", "start_date", "end_date")), STAMP, STAMP),
    ).lastrowid


def load(document: dict, conn: sqlite3.Connection) -> dict[str, int]:
    """Insert every item of `document` in one transaction; returns row counts per table."""
    conn.execute("BEGIN IMMEDIATE")
    event_id = insert_event(conn, document["event"])
    names = {s["id"]: s["name"] for s in document["speakers"]}
    sessions, links, texts = [], [], []
    for pk, s in enumerate(document["sessions"], start=1):
        sessions.append(
            (pk, event_id, s["id"], str(uuid.uuid4()), s["title"], s["type"], s.get("track"), s.get("room"),
             s["start"], s["end"], s["start"][:10], s.get("abstract", ""), s.get("capacity"), STAMP, STAMP)
        )  # fmt: skip
        speakers = s.get("speakers", [])
        links += [(event_id, s["id"], p["id"], p["role"], n) for n, p in enumerate(speakers)]
        texts.append((pk, s["title"], s.get("abstract", ""), " ".join(names[p["id"]] for p in speakers)))
    counts = {
        "rooms": insert(
            conn,
            "rooms",
            "event_id, id, name, capacity, position, updated_at",
            [(event_id, r["id"], r["name"], r.get("capacity"), n, STAMP) for n, r in enumerate(document["rooms"])],
        ),
        "tracks": insert(
            conn,
            "tracks",
            "event_id, id, name, position, updated_at",
            [(event_id, t["id"], t["name"], n, STAMP) for n, t in enumerate(document["tracks"])],
        ),
        "speakers": insert(
            conn,
            "speakers",
            "event_id, id, name, organisation, updated_at",
            [(event_id, s["id"], s["name"], s.get("organisation", ""), STAMP) for s in document["speakers"]],
        ),
        "sessions": insert(
            conn,
            "sessions",
            "pk, event_id, id, guid, title, type, track_id, room_id, starts_at, ends_at, day, abstract, "
            "capacity, created_at, updated_at",
            sessions,
        ),
        "links": insert(conn, "session_speakers", "event_id, session_id, speaker_id, role, position", links),
        "full-text rows": insert(conn, "sessions_fts", "rowid, title, abstract, speakers", texts),
    }
    conn.execute("COMMIT")
    return counts


def open_database(database: str, schema: str) -> sqlite3.Connection:
    """A new database with the schema, and the connection settings the server uses."""
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = FULL")  # server/db.py SYNCHRONOUS (not imported: it would time sqlite_utils)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(Path(schema).read_text(encoding="utf-8"))
    return conn


def main(argv: list[str]) -> None:
    source, database, schema = argv
    document = json.loads(Path(source).read_text(encoding="utf-8"))
    conn = open_database(database, schema)
    counts = load(document, conn)
    conn.close()
    print(", ".join(f"{n} {what}" for what, n in counts.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
