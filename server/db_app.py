"""The app's database connection: one per worker thread, opened lazily and kept.

Opening SQLite per request cost ~0.6 ms (schema parse, WAL files made and removed when the
last connection closed): more than the rest of a cached read. So each worker process and
thread keeps one connection (made after gunicorn forks, keyed by pid), and teardown only
rolls back whatever a failed request left open. Tests can ask for per-request connections.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlite_utils
from flask import Flask, current_app, g

from server import db as database, private_files


def get_db() -> sqlite_utils.Database:
    db = g.get("db")
    if db is None:
        db = g.db = _worker_connection() if current_app.config["DB_KEEP_OPEN"] else _request_connection()
    return db


def _request_connection() -> sqlite_utils.Database:
    g.db_close = True
    return database.connect(current_app.config["DATABASE"])


def _worker_connection() -> sqlite_utils.Database:
    local = current_app.extensions.setdefault("eventdesk_db", threading.local())
    held = getattr(local, "held", None)
    if held is None or held[0] != database.process_id():
        held = (database.process_id(), database.connect(current_app.config["DATABASE"]))
        local.held = held
    return held[1]


def end_request(_exception: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is None:
        return
    if db.conn.in_transaction:
        db.conn.execute("ROLLBACK")
    if g.pop("db_close", False):
        db.close()


def open_for_cli() -> sqlite_utils.Database:
    """For commands: make sure the data directory exists and the schema is current."""
    path = Path(current_app.config["DATABASE"])
    private_files.private_dir(path.parent)
    db = database.connect(path)
    database.init_db(db)
    return db


def init_app(app: Flask) -> None:
    app.teardown_appcontext(end_request)
