"""Is this server fit to take requests? The checks behind `GET /healthz`. No Flask here.

Each check answers on its own, so a failing one is named and the others still report.
Nothing here names a path or a secret: the answer goes to a load balancer, and perhaps further.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import sqlite_utils

from server import __version__, db as database, migrations

PROBE_TIMEOUT = 2.0  # seconds to wait for the write lock; a writer holding it longer is a problem too


class _RollBack(Exception):
    """Raised inside the probe's transaction so that database.write rolls it back."""


def _reason(problem: BaseException) -> str:
    """What went wrong, without the file name an OSError carries."""
    if isinstance(problem, OSError) and problem.errno is not None:
        return os.strerror(problem.errno)
    return str(problem) or type(problem).__name__


def database_check(path: str | Path) -> tuple[dict, int | None]:
    """(the check, the schema version found): can a write transaction start and write a row?

    A real write, rolled back: `BEGIN IMMEDIATE` takes the write lock and an INSERT dirties a
    page, so a read-only file or directory, a lost lock file or a stuck writer all show here,
    and nothing is left behind. It queues like every writer (database.write); mode=rw never
    creates a missing database.
    """
    version = None
    try:
        connection = sqlite3.connect(
            Path(path).resolve().as_uri() + "?mode=rw", uri=True, isolation_level=None, timeout=PROBE_TIMEOUT
        )
    except sqlite3.Error as problem:
        return {"ok": False, "error": _reason(problem)}, None
    db = sqlite_utils.Database(connection)
    db.eventdesk_path = str(path)  # the writers' lock file sits beside it
    try:
        version = connection.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        with database.write(db):
            connection.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (-1, 'health probe')")
            raise _RollBack
    except _RollBack:
        return {"ok": True}, version
    except (sqlite3.Error, OSError) as problem:
        return {"ok": False, "error": _reason(problem)}, version
    finally:
        connection.close()


def disk_check(folder: str | Path, min_free_bytes: int) -> dict:
    """Free space where the database, its WAL and the backups grow; below the threshold is unhealthy."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError as problem:
        return {"ok": False, "error": _reason(problem), "min_free_bytes": min_free_bytes}
    return {"ok": free >= min_free_bytes, "free_bytes": free, "min_free_bytes": min_free_bytes}


def expected_schema_version() -> int:
    """The version this code's schema.sql and migrations make (`init-db` brings a database to it)."""
    return max([1] + [version for version, _ in migrations.MIGRATIONS])


def report(database_path: str | Path, data_dir: str | Path, min_free_bytes: int) -> tuple[bool, dict]:
    """(healthy, the document): every check, the failing ones named, the versions."""
    database_state, version = database_check(database_path)
    expected = expected_schema_version()
    checks = {
        "database": database_state,
        "disk": disk_check(data_dir, min_free_bytes),
        # Older: the code expects tables `init-db` has not made yet. Newer: old code on a new database.
        "schema": {"ok": version == expected, "version": version, "expected": expected},
    }
    failing = [name for name, check in checks.items() if not check["ok"]]
    document = {
        "status": "failing" if failing else "ok",
        "version": __version__,
        "schema_version": version,
        "checks": checks,
    }
    if failing:
        problems = "; ".join(f"{name}: {_summary(checks[name])}" for name in failing)
        document = {"error": "unhealthy", "message": f"failing checks: {problems}", "failing": failing, **document}
    return not failing, document


def _summary(check: dict) -> str:
    if "error" in check:
        return check["error"]
    if "free_bytes" in check:
        return f"{check['free_bytes']} bytes free, fewer than {check['min_free_bytes']}"
    if check["version"] is None:
        return "schema version unknown: the database could not be read"
    return f"schema version {check['version']}, this code expects {check['expected']} (run init-db)"
