"""The server's secret key: derives calendar-feed tokens and personal links.

Kept in the data directory with mode 0600 (or given as EVENTDESK_SECRET_KEY), never in the
database, so a copy of the database alone reveals no feed URL. A key file that is empty or
short is refused, never used: with an empty key every feed URL could be computed from the
attendee id alone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
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


def derived_token(secret: bytes, purpose: str, attendee_id: str, generation: int) -> str:
    """A URL-safe secret for one attendee and purpose, the same each time it is asked for.

    Derived rather than stored so a link or feed URL can be shown or sent again, while the
    database holds only its hash; raising `generation` (rotation) gives a new one.
    """
    message = f"{purpose}/{attendee_id}/{generation}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def app_secret() -> bytes:
    """The running app's key (made on first use), for requests and commands alike."""
    from flask import current_app

    extensions = current_app.extensions
    if "eventdesk_secret" not in extensions:
        extensions["eventdesk_secret"] = server_secret(current_app.config["DATA_DIR"], current_app.config["SECRET_KEY"])
    return extensions["eventdesk_secret"]
