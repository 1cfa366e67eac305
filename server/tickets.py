"""Tickets: per-event Ed25519 keys, random serials, signed payloads, re-issue and revocation.

Private keys are files of mode 0600 under DATA_DIR/keys, never in the database or an API
answer; the database publishes the public keys, so doors verify with those alone.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

import sqlite_utils

from server import clock, db as database, ticketcode
from server.errors import NotFound
from server.programme import get_event


def _private_key_path(keys_dir: Path, slug: str, kid: str) -> Path:
    return Path(keys_dir) / f"{slug}-{kid}.pem"


def _create_key(db: sqlite_utils.Database, event: dict, keys_dir: Path) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = hashlib.sha256(public).hexdigest()[:16]
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = _private_key_path(keys_dir, event["slug"], kid)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    database.fsync_directory(path.parent)  # on disk before the row naming the key commits (and is fsynced)
    db.conn.execute(
        "INSERT INTO ticket_keys (event_id, kid, public_key, created_at) VALUES (?, ?, ?, ?)",
        (event["id"], kid, base64.b64encode(public).decode("ascii"), clock.utc_stamp()),
    )
    return kid


def signing_kid(db: sqlite_utils.Database, event: dict, keys_dir: Path) -> str:
    """The key that signs new payloads, made on first use."""
    current = "SELECT kid FROM ticket_keys WHERE event_id = ? AND retired_at IS NULL ORDER BY created_at DESC LIMIT 1"
    row = db.conn.execute(current, (event["id"],)).fetchone()
    if row:
        return row[0]
    with database.write(db):  # look again under the write lock: another worker may have just made one
        row = db.conn.execute(current, (event["id"],)).fetchone()
        return row[0] if row else _create_key(db, event, keys_dir)


def rotate_key(db: sqlite_utils.Database, slug: str, keys_dir: Path) -> str:
    """A new signing key; the old one is retired but stays published, so its tickets still verify."""
    with database.write(db):
        event = get_event(db, slug)
        db.conn.execute(
            "UPDATE ticket_keys SET retired_at = ? WHERE event_id = ? AND retired_at IS NULL",
            (clock.utc_stamp(), event["id"]),
        )
        return _create_key(db, event, keys_dir)


def public_keys(db: sqlite_utils.Database, event: dict) -> list[dict]:
    rows = db.conn.execute(
        "SELECT kid, public_key, created_at, retired_at FROM ticket_keys WHERE event_id = ? ORDER BY created_at",
        (event["id"],),
    )
    return [
        {
            "kid": kid,
            "algorithm": "Ed25519",
            "public_key": key,
            "created_at": clock.parse_stamp(created).isoformat(),
            "retired": retired is not None,
        }
        for kid, key, created, retired in rows
    ]


def event_with_keys(db: sqlite_utils.Database, slug: str) -> tuple[dict, tuple[bytes, ...]]:
    """The event's id, slug and time zone with its public keys, in one statement: every scan
    starts here, and the full event row (get_event) costs several times more."""
    row = db.conn.execute(
        "SELECT e.id, e.slug, e.timezone, group_concat(k.public_key, ' ') FROM events e "
        "LEFT JOIN ticket_keys k ON k.event_id = e.id WHERE e.slug = ? GROUP BY e.id",
        (slug,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no event {slug!r}", resource="event")
    return {"id": row[0], "slug": row[1], "timezone": row[2]}, _decoded_keys(row[3] or "")


@lru_cache(maxsize=64)
def _decoded_keys(text: str) -> tuple[bytes, ...]:
    return tuple(base64.b64decode(key) for key in text.split())


_signers: dict[Path, object] = {}


def _signer(path: Path):
    """Private keys are read once per process; they never change for a given kid."""
    if path not in _signers:
        from cryptography.hazmat.primitives import serialization

        _signers[path] = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return _signers[path]


def new_serial() -> str:
    return secrets.token_bytes(ticketcode.SERIAL_BYTES).hex()


def issue_ticket(db: sqlite_utils.Database, event_id: int, attendee_pk: int) -> str:
    """A fresh serial for the attendee (inside the caller's transaction)."""
    serial = new_serial()
    db.conn.execute(
        "INSERT INTO tickets (serial, event_id, attendee_pk, issued_at) VALUES (?, ?, ?, ?)",
        (serial, event_id, attendee_pk, clock.utc_stamp()),
    )
    return serial


def current_serial(db: sqlite_utils.Database, attendee_pk: int) -> str:
    row = db.conn.execute(
        "SELECT serial FROM tickets WHERE attendee_pk = ? AND revoked_at IS NULL ORDER BY issued_at DESC LIMIT 1",
        (attendee_pk,),
    ).fetchone()
    if row is None:
        raise NotFound("this attendee has no valid ticket; an admin can issue one with ticket/reissue")
    return row[0]


def reissue_ticket(db: sqlite_utils.Database, attendee_pk: int) -> str:
    """Revoke every serial the attendee holds and issue a new one."""
    with database.write(db):
        row = db.conn.execute("SELECT event_id FROM attendees WHERE pk = ?", (attendee_pk,)).fetchone()
        db.conn.execute(
            "UPDATE tickets SET revoked_at = ? WHERE attendee_pk = ? AND revoked_at IS NULL",
            (clock.utc_stamp(), attendee_pk),
        )
        return issue_ticket(db, row[0], attendee_pk)


def revoke_tickets(db: sqlite_utils.Database, attendee_pk: int) -> None:
    """Revoke without replacement (inside the caller's transaction), e.g. before erasure."""
    db.conn.execute(
        "UPDATE tickets SET revoked_at = ? WHERE attendee_pk = ? AND revoked_at IS NULL",
        (clock.utc_stamp(), attendee_pk),
    )


def payload(db: sqlite_utils.Database, event: dict, serial: str, keys_dir: Path) -> str:
    """The QR text for a serial, signed with the event's current key (deterministic)."""
    code = ticketcode.event_code(event["slug"])
    kid = signing_kid(db, event, keys_dir)
    raw_serial = bytes.fromhex(serial)
    signature = _signer(_private_key_path(keys_dir, event["slug"], kid)).sign(
        ticketcode.signed_message(code, raw_serial)
    )
    return ticketcode.encode(code, raw_serial, signature)
