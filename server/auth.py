"""Bearer tokens: random, shown once, stored only as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets

import sqlite_utils

from server import clock, db as database
from server.errors import Forbidden, InvalidToken, NotFound, Unauthorized

ROLES = ("admin", "attendee", "door")
_PREFIX = {"admin": "eda_", "attendee": "edt_", "door": "edd_"}
ATTENDEE_PREFIX = _PREFIX["attendee"]


def hash_token(token: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is enough: there is nothing to guess."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(db: sqlite_utils.Database, role: str, *, event_slug: str | None = None, label: str = "") -> str:
    """A new token for `role`, optionally bound to one event. The plain token is returned once."""
    if role not in ("admin", "door"):
        raise ValueError("role must be admin or door; attendee tokens come with the attendee")
    token = _PREFIX[role] + secrets.token_urlsafe(32)
    with database.write(db):
        event_id = None
        if event_slug is not None:
            row = db.conn.execute("SELECT id FROM events WHERE slug = ?", (event_slug,)).fetchone()
            if row is None:
                raise NotFound(f"no event {event_slug!r}", resource="event")
            event_id = row[0]
        db.conn.execute(
            "INSERT INTO api_tokens (token_hash, role, event_id, label, created_at) VALUES (?, ?, ?, ?, ?)",
            (hash_token(token), role, event_id, label, clock.utc_stamp()),
        )
    return token


def revoke_token(db: sqlite_utils.Database, token: str) -> bool:
    with database.write(db):
        cursor = db.conn.execute(
            "UPDATE api_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
            (clock.utc_stamp(), hash_token(token)),
        )
    return cursor.rowcount == 1


def authenticate(db: sqlite_utils.Database, authorization: str | None) -> dict:
    """The token row behind an `Authorization: Bearer ...` header, or 401."""
    if not authorization:
        raise Unauthorized("this needs an Authorization: Bearer <token> header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    if token.strip().startswith(ATTENDEE_PREFIX):
        return _attendee_token(db, token.strip())
    row = db.conn.execute(
        "SELECT t.id, t.role, e.slug, t.desk FROM api_tokens t LEFT JOIN events e ON e.id = t.event_id "
        "WHERE t.token_hash = ? AND t.revoked_at IS NULL",
        (hash_token(token.strip()),),
    ).fetchone()
    if row is None:
        raise InvalidToken("the token is unknown or has been revoked")
    return {"id": row[0], "role": row[1], "event_slug": row[2], "desk": bool(row[3])}


def _attendee_token(db: sqlite_utils.Database, token: str) -> dict:
    """Attendee tokens live on the attendee row (the one the organiser hands out) or on a row of
    their signed-in browsers, so erasing the attendee erases them all."""
    row = db.conn.execute(
        "SELECT a.pk, a.id, e.slug, NULL FROM attendees a JOIN events e ON e.id = a.event_id "
        "WHERE a.api_token_hash = ?1 "
        "UNION ALL SELECT a.pk, a.id, e.slug, d.id FROM attendee_devices d "
        "JOIN attendees a ON a.pk = d.attendee_pk JOIN events e ON e.id = a.event_id WHERE d.token_hash = ?1",
        (hash_token(token),),
    ).fetchone()
    if row is None:
        raise InvalidToken("the token is unknown or has been revoked")
    return {"role": "attendee", "attendee_pk": row[0], "attendee_id": row[1], "event_slug": row[2], "device": row[3]}


def require_role(token: dict, role: str, event_slug: str | None = None) -> None:
    if token["role"] != role:
        raise Forbidden(f"this needs a token with role {role!r}; yours has role {token['role']!r}")
    if event_slug is not None and token["event_slug"] not in (None, event_slug):
        raise Forbidden(f"this token is for event {token['event_slug']!r}, not {event_slug!r}")


def revoke_device(db: sqlite_utils.Database, event_id: int, device_id: int) -> bool:
    """Revoke a door token by its number; False if no such device in the event."""
    with database.write(db):
        row = db.conn.execute(
            "SELECT revoked_at FROM api_tokens WHERE id = ? AND role = 'door' AND event_id = ?", (device_id, event_id)
        ).fetchone()
        if row is None:
            return False
        if row[0] is None:
            db.conn.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (clock.utc_stamp(), device_id))
    return True
