"""Shared fixtures: a real app on a real SQLite file holding the built-in conference."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from server import auth, create_app, db as database
from server.programme_file import builtin_path, load_file

EVENT = "ecc2014"
API = f"/api/v1/events/{EVENT}"


@pytest.fixture(scope="session")
def loaded_template(tmp_path_factory) -> Path:
    """The built-in conference loaded once; each test gets its own copy of the file."""
    path = tmp_path_factory.mktemp("template") / "eventdesk.sqlite3"
    db = database.connect(path)
    database.init_db(db)
    load_file(db, builtin_path())
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


@pytest.fixture
def app(tmp_path, loaded_template):
    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})


@pytest.fixture
def empty_app(tmp_path):
    """An app whose database has the schema but no event."""
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})
    db = database.connect(app.config["DATABASE"])
    database.init_db(db)
    db.close()
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """A second connection to the app's database, to check what was stored."""
    connection = database.connect(app.config["DATABASE"])
    yield connection
    connection.close()


@pytest.fixture
def admin_token(db) -> str:
    return auth.create_token(db, "admin", label="tests")


@pytest.fixture
def admin(admin_token) -> dict:
    """Headers of an admin request."""
    return {"Authorization": f"Bearer {admin_token}"}


def assert_error(response, status: int, code: str | None = None, field: str | None = None) -> dict:
    """Every error has one JSON shape: {"error", "message", "fields"?}."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["error"] == code, body
    if field is not None:
        assert any(field in name for name in body.get("fields", {})), body
    return body


def snapshot(path: str | Path) -> dict[str, list[tuple]]:
    """Every row of every table, to prove that a refused request changed nothing."""
    connection = sqlite3.connect(str(path))
    try:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sessions_fts_%' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            table: sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)  # noqa: S608
            for table in tables
        }
    finally:
        connection.close()
