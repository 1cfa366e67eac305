"""Files only the server's own user may read: the data directory, the database, the keys.

The database holds attendees' personal data and token hashes; the key files turn an attendee
id into a calendar-feed URL or sign tickets. So the directory is 0700 and every file 0600
from the moment it exists (SQLite gives its -wal and -shm files the main file's mode), and a
secret file is written whole before anyone can see it: several workers starting at once on a
fresh directory must all end up with the same key, never with an empty one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """`path` as a directory only its owner can enter, made (with its parents) if missing."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_uid == os.geteuid() and path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)  # made by an older version, or by hand: tighten it
    return path


def private_file(path: str | Path) -> Path:
    """Make sure `path` exists with mode 0600 before anything else (SQLite) opens it."""
    path = Path(path)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        if os.fstat(descriptor).st_uid == os.geteuid():
            os.fchmod(descriptor, FILE_MODE)
    finally:
        os.close(descriptor)
    return path


def create_once(path: str | Path, content: bytes) -> bytes:
    """Write `content` to `path` unless it exists; the content `path` holds afterwards.

    Written to a temporary file in the same directory (mode 0600), flushed to disk, then
    linked into place: the first writer wins, later ones read the winner, and nobody ever
    sees a half-written file, even after a crash. The directory is synced so the name stays.
    """
    path = Path(path)
    directory = private_dir(path.parent)
    temporary = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_bytes()
        sync_dir(directory)
        return content
    finally:
        temporary.unlink(missing_ok=True)


def sync_dir(directory: str | Path) -> None:
    """Make the files just created in `directory` survive a power cut (their names)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
