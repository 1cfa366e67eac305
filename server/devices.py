"""Door devices: their tokens, pairing links, and what the desk sees of each.

A door device is a token of role `door` for one event. A phone becomes one by opening its
pairing link, `{public URL}/e/{event}/door#<token>`: the token sits in the fragment, which no
browser sends to a server, so it reaches no log (as with personal links). A device made with
`desk` may also use the desk page. Each door reports, when it syncs, how many scans it still
holds; the desk shows that with its last contact.
"""

from __future__ import annotations

from datetime import timedelta

import sqlite_utils

from server import auth, clock, data_lifecycle, db as database
from server.errors import NotFound
from server.programme import get_event

CONTACT_EVERY = timedelta(minutes=1)  # a door polling often costs at most one write a minute


def pairing_url(base_url: str, event_slug: str, token: str) -> str:
    return f"{base_url}/e/{event_slug}/door#{token}"


def device_document(row) -> dict:
    return {
        "id": row["id"],
        "name": row["label"],
        "created_at": row["created_at"],
        "revoked": row["revoked_at"] is not None,
        "desk": bool(row["desk"]),
        "last_seen_at": clock.parse_stamp(row["last_seen_at"]).isoformat() if row["last_seen_at"] else None,
        "pending_uploads": row["pending_uploads"],
    }


def create_device(db: sqlite_utils.Database, event_slug: str, name: str, *, desk: bool = False) -> tuple[dict, str]:
    """A new door device of the event; its document and its token (shown once). None after anonymisation."""
    data_lifecycle.refuse_if_anonymised(db, event_slug)
    token = auth.create_token(db, "door", event_slug=event_slug, label=name.strip())
    with database.write(db):
        if desk:
            db.conn.execute("UPDATE api_tokens SET desk = 1 WHERE token_hash = ?", (auth.hash_token(token),))
        row = db.conn.execute("SELECT * FROM api_tokens WHERE token_hash = ?", (auth.hash_token(token),)).fetchone()
    return device_document(row), token


def list_devices(db: sqlite_utils.Database, event_slug: str) -> list[dict]:
    rows = db.conn.execute(
        "SELECT * FROM api_tokens WHERE role = 'door' AND event_id = ? ORDER BY id", (get_event(db, event_slug)["id"],)
    )
    return [device_document(row) for row in rows]


def revoke_device(db: sqlite_utils.Database, event_slug: str, device_id: int) -> dict:
    """Revoke a device's token (its door wipes its data at next contact); 404 if not the event's."""
    if not auth.revoke_device(db, get_event(db, event_slug)["id"], device_id):
        raise NotFound(f"no device {device_id} in event {event_slug!r}", resource="device")
    return device_document(db.conn.execute("SELECT * FROM api_tokens WHERE id = ?", (device_id,)).fetchone())


def record_contact(db: sqlite_utils.Database, device_id: int, pending_uploads: int | None) -> None:
    """Note a door's contact and its waiting scans; a read only, if noted less than a minute ago with the same count."""
    now = clock.now()
    row = db.conn.execute("SELECT last_seen_at, pending_uploads FROM api_tokens WHERE id = ?", (device_id,)).fetchone()
    if row is None or (
        row[0] is not None and row[0] >= clock.utc_stamp(now - CONTACT_EVERY) and row[1] == pending_uploads
    ):
        return
    with database.write(db):
        db.conn.execute(
            "UPDATE api_tokens SET last_seen_at = ?, pending_uploads = ? WHERE id = ? AND role = 'door'",
            (clock.utc_stamp(now), pending_uploads, device_id),
        )


def door_contacts(db: sqlite_utils.Database) -> list[dict]:
    """Every door device still in use, with its waiting scans and last contact (for the metrics)."""
    rows = db.conn.execute(
        "SELECT e.slug, t.id, t.label, t.pending_uploads, t.last_seen_at FROM api_tokens t "
        "JOIN events e ON e.id = t.event_id WHERE t.role = 'door' AND t.revoked_at IS NULL ORDER BY t.id"
    )
    return [
        {
            "event": row[0],
            "device": row[1],
            "name": row[2],
            "pending_uploads": row[3],
            "last_seen": clock.parse_stamp(row[4]).timestamp() if row[4] else None,
        }
        for row in rows
    ]
