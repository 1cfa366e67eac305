"""The server's secret key: derives calendar-feed tokens (and, later, anything else secret).

Kept in the data directory with mode 0600 (or given as EVENTDESK_SECRET_KEY), never in the
database, so a copy of the database alone reveals no feed URL.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def server_secret(data_dir: str | Path, configured: str | None = None) -> bytes:
    """The configured key, or the one in DATA_DIR/secret.key, made on first use."""
    if configured:
        return configured.encode("utf-8")
    path = Path(data_dir) / "secret.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode("ascii")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key
