"""One database connection per app context, closed on teardown."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils
from flask import Flask, current_app, g

from server import db as database


def get_db() -> sqlite_utils.Database:
    if "db" not in g:
        g.db = database.connect(current_app.config["DATABASE"])
    return g.db


def close_db(_exception: BaseException | None = None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def open_for_cli() -> sqlite_utils.Database:
    """For commands: make sure the data directory exists and the schema is current."""
    path = Path(current_app.config["DATABASE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    db = database.connect(path)
    database.init_db(db)
    return db


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_db)
