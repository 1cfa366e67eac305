"""The server's secret key: derives calendar-feed tokens (and, later, anything else secret).

Kept in the data directory with mode 0600 (or given as EVENTDESK_SECRET_KEY), never in the
database, so a copy of the database alone reveals no feed URL. A key file that is empty or
short is refused, never used: with an empty key every feed URL could be computed from the
attendee id alone.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from server import private_files
from server.errors import ConfigurationError

MIN_KEY_BYTES = 32
KEY_FILE = "secret.key"


def server_secret(data_dir: str | Path, configured: str | None = None, *, create: bool = True) -> bytes | None:
    """The configured key, or the one in DATA_DIR/secret.key, made on first use (None if
    missing and not `create`). Several processes asking at once all get the same key."""
    if configured is not None:
        return _checked(configured.encode("utf-8"), "EVENTDESK_SECRET_KEY")
    path = Path(data_dir) / KEY_FILE
    try:
        return _checked(path.read_bytes().strip(), str(path))
    except FileNotFoundError:
        if not create:
            return None
    try:
        key = private_files.create_once(path, secrets.token_hex(MIN_KEY_BYTES).encode("ascii"))
    except FileNotFoundError:  # another process made it and it was removed before we could read it
        raise ConfigurationError(f"{path} vanished while the server was reading it; start again") from None
    return _checked(key.strip(), str(path))


def _checked(key: bytes, source: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(
            f"the secret key in {source} is {'empty' if not key else f'only {len(key)} bytes'}; it needs at "
            f"least {MIN_KEY_BYTES}. Restore the right key (every calendar feed URL derives from it), or "
            "remove the file to make a new one (every feed URL then changes)."
        )
    return key
