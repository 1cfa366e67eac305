"""The limit for this stack: gunicorn + Flask answering with bytes already in memory.

bench/run.py serves it with the same gunicorn config as the real server, so the gap between
the two is what Eventdesk's own request path costs (routing in flask-restx, the database
snapshot and version check, the token lookup, the cache lookup, conditional headers), nothing
else. Each path answers with the bytes and Content-Type the real endpoint answered there, so
every endpoint is compared with sending its own body. A path given the headers of its 304 also
answers that 304 (the same status and headers, no body) when If-None-Match is the ETag among
them, so a revalidation is held to a bare revalidation, not to sending the whole body.

`create_write_app` is the limit for a write (redeeming a scan): Flask parsing the JSON body
and doing one SQLite INSERT and COMMIT, with the server's connection settings (its
synchronous setting, from server/db.py itself, so the limit pays the same fsync per commit).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

from flask import Flask, Response, request

from server.db import SYNCHRONOUS

# {"/path?query": ["file name", "Content-Type", {headers of its 304} or null], ...} in the bodies directory
INDEX = "index.json"


def write_bodies(
    directory: Path, bodies: dict[str, tuple[bytes, str]], not_modified: dict[str, dict[str, str]] | None = None
) -> None:
    """Store `bodies` ({path with query: (bytes, Content-Type)}) where create_app reads them, and
    `not_modified` ({path with query: the headers of its 304, ETag included}) for revalidations."""
    directory.mkdir(parents=True, exist_ok=True)
    index = {}
    for n, (path, (body, content_type)) in enumerate(bodies.items()):
        (directory / f"body-{n}").write_bytes(body)
        index[path] = [f"body-{n}", content_type, (not_modified or {}).get(path)]
    (directory / INDEX).write_text(json.dumps(index, indent=1), encoding="utf-8")


def create_app() -> Flask:
    """Serve the directory named by EVENTDESK_BENCH_BODIES (see write_bodies); 404 elsewhere."""
    directory = Path(os.environ["EVENTDESK_BENCH_BODIES"])
    index = json.loads((directory / INDEX).read_text(encoding="utf-8"))
    answers = {}
    for key, (name, content_type, headers_304) in index.items():
        path, _, query = key.partition("?")
        etag = headers_304["ETag"] if headers_304 else None
        answers[path, query.encode("ascii")] = ((directory / name).read_bytes(), content_type, etag, headers_304)
    app = Flask(__name__)

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def answer(path: str) -> Response:
        found = answers.get((request.path, request.query_string))
        if found is None:
            return Response(status=404)
        body, content_type, etag, headers_304 = found
        if etag is not None and request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers=headers_304)
        return Response(body, content_type=content_type)

    return app


# --- the limit for a write: one INSERT and COMMIT ------------------------------------------

SCANS = """CREATE TABLE IF NOT EXISTS scans (
    pk INTEGER PRIMARY KEY, scan_id TEXT NOT NULL UNIQUE, list TEXT NOT NULL, type TEXT NOT NULL,
    payload TEXT NOT NULL
)"""


def connect(path: str | Path, synchronous: str = SYNCHRONOUS) -> sqlite3.Connection:
    """A connection as server/db.py connect() makes one (WAL set on the file, as init-db does)."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10)
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def create_write_app() -> Flask:
    """POST /<anything>: parse the JSON scan, INSERT it and COMMIT; GET /ready for the bench.

    The database is EVENTDESK_BENCH_DB (made here, before gunicorn forks); each worker opens
    its own connection on its first request and keeps it, as server/db_app.py does.
    EVENTDESK_BENCH_SYNCHRONOUS, when set, replaces the server's setting (to show what it costs).
    """
    path = os.environ["EVENTDESK_BENCH_DB"]
    synchronous = os.environ.get("EVENTDESK_BENCH_SYNCHRONOUS", SYNCHRONOUS)
    with contextlib.closing(connect(path)) as conn:
        conn.execute(SCANS)
    held: dict[int, sqlite3.Connection] = {}
    app = Flask(__name__)

    @app.get("/ready")
    def ready() -> Response:
        return Response(status=200)

    @app.post("/<path:_path>")
    def insert(_path: str) -> tuple[dict, int]:
        scan = request.get_json()
        conn = held.get(os.getpid()) or held.setdefault(os.getpid(), connect(path, synchronous))
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.execute(
            "INSERT INTO scans (scan_id, list, type, payload) VALUES (?, ?, ?, ?)",
            (scan["scan_id"], scan["list"], scan["type"], scan["payload"]),
        )
        conn.execute("COMMIT")
        return {"id": cursor.lastrowid, "result": "ok", "scan_id": scan["scan_id"]}, 201

    return app
