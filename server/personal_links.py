"""Personal links: `{public URL}/e/{event}/join#<secret>`, and the browsers signed in with one.

An attendee without an HTTP client gets one link from the organiser. The secret sits in the
URL's fragment, so browsers never send it to a server or put it in a Referer; the join page
exchanges it once (`link_login`) for an API token of that browser's own. The secret derives
from the attendee id and a generation (as the calendar feed's does), so the same link can be
mailed again; rotating it makes a new one and signs out every browser that used the old.
"""

from __future__ import annotations

import sqlite_utils

from server import clock, db as database, keys
from server.attendees import new_api_token
from server.auth import hash_token
from server.errors import NotFound

PURPOSE = "personal-link"
MAX_DEVICES = 20  # per attendee: a link opened once too often signs out its oldest browser, not the server's disk


def join_url(base_url: str, event_slug: str, secret: str) -> str:
    return f"{base_url}/e/{event_slug}/join#{secret}"


def current_link_secret(db: sqlite_utils.Database, secret: bytes, attendee_pk: int, *, rotate: bool = False) -> str:
    """The attendee's link secret, recording its hash on first use; with `rotate`, a new one.

    Rotation also deletes every browser token got with the old link: whoever had the link
    may have signed in with it.
    """
    with database.write(db):
        row = db.conn.execute(
            "SELECT a.id, l.generation, l.token_hash FROM attendees a "
            "LEFT JOIN attendee_links l ON l.attendee_pk = a.pk WHERE a.pk = ?",
            (attendee_pk,),
        ).fetchone()
        if row is None:
            raise NotFound("this attendee no longer exists", resource="attendee")
        attendee_id, generation, stored_hash = row
        generation = (generation or 0) + (1 if rotate and stored_hash is not None else 0)
        link_secret = keys.derived_token(secret, PURPOSE, attendee_id, generation)
        if stored_hash != hash_token(link_secret):
            db.conn.execute(
                "INSERT INTO attendee_links (attendee_pk, generation, token_hash) VALUES (?, ?, ?) "
                "ON CONFLICT (attendee_pk) DO UPDATE SET generation = excluded.generation, "
                "token_hash = excluded.token_hash, sent_at = NULL, sent_to = NULL",
                (attendee_pk, generation, hash_token(link_secret)),
            )
        if rotate:
            db.conn.execute("DELETE FROM attendee_devices WHERE attendee_pk = ?", (attendee_pk,))
    return link_secret


def links_for(
    db: sqlite_utils.Database, secret: bytes, base_url: str, event_slug: str, emails: list[str] | None = None
) -> list[tuple[str, str, str]]:
    """(email, name, link) of the event's attendees (those with `emails`, if given), by name."""
    rows = db.conn.execute(
        "SELECT a.pk, a.email, a.name FROM attendees a JOIN events e ON e.id = a.event_id WHERE e.slug = ? "
        "ORDER BY a.name, a.email",
        (event_slug,),
    ).fetchall()
    wanted = None if emails is None else {email.strip().lower() for email in emails}
    return [
        (email, name, join_url(base_url, event_slug, current_link_secret(db, secret, pk)))
        for pk, email, name in rows
        if wanted is None or email in wanted
    ]


def link_login(db: sqlite_utils.Database, event_slug: str, link_secret: str, label: str = "") -> dict:
    """A new API token for one browser of the attendee whose link this is, or 404.

    Returns {"token", "attendee", "device"}; the token is shown this once.
    """
    token, stamp = new_api_token(), clock.utc_stamp()
    with database.write(db):
        row = db.conn.execute(
            "SELECT a.pk, a.id FROM attendee_links l JOIN attendees a ON a.pk = l.attendee_pk "
            "JOIN events e ON e.id = a.event_id WHERE l.token_hash = ? AND e.slug = ?",
            (hash_token(link_secret), event_slug),
        ).fetchone()
        if row is None:
            raise NotFound(
                "this personal link is unknown or has been replaced by a newer one; ask the organiser for yours",
                resource="link",
            )
        cursor = db.conn.execute(
            "INSERT INTO attendee_devices (attendee_pk, token_hash, label, created_at) VALUES (?, ?, ?, ?)",
            (row[0], hash_token(token), label, stamp),
        )
        db.conn.execute(
            "DELETE FROM attendee_devices WHERE attendee_pk = ?1 AND id NOT IN "
            "(SELECT id FROM attendee_devices WHERE attendee_pk = ?1 ORDER BY id DESC LIMIT ?2)",
            (row[0], MAX_DEVICES),
        )
    device = {"id": cursor.lastrowid, "label": label, "created_at": stamp, "current": True}
    return {"token": token, "attendee": row[1], "device": device}


def list_devices(db: sqlite_utils.Database, attendee_pk: int, current_device: int | None = None) -> list[dict]:
    """The browsers signed in with the attendee's link, oldest first; `current` marks the asker's."""
    rows = db.conn.execute(
        "SELECT id, label, created_at FROM attendee_devices WHERE attendee_pk = ? ORDER BY id", (attendee_pk,)
    ).fetchall()
    return [
        {"id": id_, "label": label, "created_at": created, "current": id_ == current_device}
        for id_, label, created in rows
    ]


def sign_out_device(db: sqlite_utils.Database, attendee_pk: int, device_id: int) -> None:
    """Delete one of the attendee's browser tokens; 404 if it is not theirs (or already gone)."""
    with database.write(db):
        cursor = db.conn.execute(
            "DELETE FROM attendee_devices WHERE id = ? AND attendee_pk = ?", (device_id, attendee_pk)
        )
    if cursor.rowcount == 0:
        raise NotFound(f"you have no signed-in device {device_id}", resource="device")


def mark_sent(db: sqlite_utils.Database, attendee_pk: int, address: str) -> None:
    """Record that the current link went to `address`, so `send-links --only-unsent` skips it."""
    with database.write(db):
        db.conn.execute(
            "UPDATE attendee_links SET sent_at = ?, sent_to = ? WHERE attendee_pk = ?",
            (clock.utc_stamp(), address, attendee_pk),
        )
