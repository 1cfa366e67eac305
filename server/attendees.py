"""Attendees: registration records, their tokens, and bulk import from CSV.

Erasing an attendee, exporting their data and anonymising an event are in
server/data_lifecycle.py, which knows every table that holds personal data.
"""

from __future__ import annotations

import csv
import io
import secrets
from base64 import b32encode
from dataclasses import dataclass, field
from urllib.parse import quote

import sqlite_utils

from server import clock, db as database, keys, tickets
from server.auth import ATTENDEE_PREFIX, hash_token
from server.errors import Conflict, NotFound, ValidationError
from server.programme import get_event
from server.validation import Errors, checked

CATEGORIES = {
    "eu-policy-maker": "EU policy-maker",
    "national-policy-maker": "national policy-maker",
    "regional-policy-maker": "regional policy-maker",
    "cluster-manager": "cluster manager",
    "practitioner": "practitioner",
    "academia": "academia",
    "industry": "industry",
    "press": "press",
    "staff": "staff",
}
_BY_LABEL = {label.lower(): slug for slug, label in CATEGORIES.items()}
CSV_COLUMNS = ("name", "email", "organisation", "country", "category")
_FIELDS = ("name", "email", "organisation", "country", "category")


def new_public_id() -> str:
    return "a-" + b32encode(secrets.token_bytes(5)).decode("ascii").lower()


def new_api_token() -> str:
    return ATTENDEE_PREFIX + secrets.token_urlsafe(32)


def normalise_category(value: object) -> object:
    """Accept the slug or the label, in any case ("EU policy-maker" or "eu-policy-maker")."""
    if isinstance(value, str):
        key = value.strip().lower()
        return _BY_LABEL.get(key, key.replace(" ", "-"))
    return value


def clean_attendee(data: object, errors: Errors, *, partial: bool = False) -> dict:
    """An attendee's fields as declared (server/declarations/attendee.json), normalised."""
    return checked("Attendee", data, errors, partial=partial)


def attendee_document(row: dict, event_slug: str) -> dict:
    return {
        "id": row["id"],
        "event": event_slug,
        "name": row["name"],
        "email": row["email"],
        "organisation": row["organisation"],
        "country": row["country"],
        "category": row["category"],
        "has_api_token": row["api_token_hash"] is not None,
        "created_at": clock.parse_stamp(row["created_at"]).isoformat(),
        "updated_at": clock.parse_stamp(row["updated_at"]).isoformat(),
    }


def _row(db: sqlite_utils.Database, event: dict, attendee_id: str) -> dict:
    row = db.conn.execute(
        "SELECT * FROM attendees WHERE event_id = ? AND id = ?", (event["id"], attendee_id)
    ).fetchone()
    if row is None:
        raise NotFound(f"no attendee {attendee_id!r} in event {event['slug']!r}", resource="attendee")
    return dict(row)


def _refuse_taken_email(db, event: dict, email: str, except_pk: int | None = None) -> None:
    row = db.conn.execute("SELECT pk FROM attendees WHERE event_id = ? AND email = ?", (event["id"], email)).fetchone()
    if row is not None and row[0] != except_pk:
        raise Conflict(f"{email} is already registered for this event", fields={"email": "already registered"})


def create_attendee(db: sqlite_utils.Database, slug: str, data: dict) -> tuple[dict, str]:
    """A new attendee and their personal API token (returned once, stored as a hash)."""
    errors = Errors()
    values = clean_attendee(data, errors)
    errors.raise_if_any("attendee")
    token, stamp = new_api_token(), clock.utc_stamp()
    with database.write(db):
        event = get_event(db, slug)
        _refuse_taken_email(db, event, values["email"])
        row = {
            "id": new_public_id(),
            "event_id": event["id"],
            **values,
            "api_token_hash": hash_token(token),
            "created_at": stamp,
            "updated_at": stamp,
        }
        db.conn.execute(
            f"INSERT INTO attendees ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",  # noqa: S608
            list(row.values()),
        )
        created = _row(db, event, row["id"])
        tickets.issue_ticket(db, event["id"], created["pk"])
    return attendee_document(created, slug), token


def get_attendee(db: sqlite_utils.Database, slug: str, attendee_id: str) -> dict:
    return attendee_document(_row(db, get_event(db, slug), attendee_id), slug)


def list_attendees(db: sqlite_utils.Database, slug: str, *, q: str = "", page: int = 1, per_page: int = 50) -> dict:
    """One page of attendees by name; `q` matches name, email or organisation (case-insensitive)."""
    event = get_event(db, slug)
    where, params = "event_id = ?", [event["id"]]
    if q.strip():
        escaped = q.strip().casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        where += (
            " AND (casefold(name) LIKE ? ESCAPE '\\' OR casefold(email) LIKE ? ESCAPE '\\'"
            " OR casefold(organisation) LIKE ? ESCAPE '\\')"
        )
        params += [pattern] * 3
    total = db.conn.execute(f"SELECT COUNT(*) FROM attendees WHERE {where}", params).fetchone()[0]  # noqa: S608
    rows = db.conn.execute(
        f"SELECT * FROM attendees WHERE {where} ORDER BY name, id LIMIT ? OFFSET ?",  # noqa: S608
        [*params, per_page, (page - 1) * per_page],
    )
    return {
        "items": [attendee_document(dict(row), slug) for row in rows],
        "page": page,
        "per_page": per_page,
        "total": total,
    }


def update_attendee(db: sqlite_utils.Database, slug: str, attendee_id: str, data: dict) -> dict:
    errors = Errors()
    values = clean_attendee(data, errors, partial=True)
    errors.raise_if_any("attendee")
    with database.write(db):
        event = get_event(db, slug)
        row = _row(db, event, attendee_id)
        changed = {name: value for name, value in values.items() if row[name] != value}
        if "email" in changed:
            _refuse_taken_email(db, event, changed["email"], except_pk=row["pk"])
        if changed:
            assignments = ", ".join(f"{name} = ?" for name in changed)
            db.conn.execute(
                f"UPDATE attendees SET {assignments}, updated_at = ? WHERE pk = ?",  # noqa: S608
                [*changed.values(), clock.utc_stamp(), row["pk"]],
            )
        updated = _row(db, event, attendee_id)
    return attendee_document(updated, slug)


def rotate_api_token(db: sqlite_utils.Database, attendee_pk: int) -> str:
    """A new API token; the old one stops working at once."""
    token = new_api_token()
    with database.write(db):
        db.conn.execute(
            "UPDATE attendees SET api_token_hash = ?, updated_at = ? WHERE pk = ?",
            (hash_token(token), clock.utc_stamp(), attendee_pk),
        )
    return token


def revoke_api_token(db: sqlite_utils.Database, attendee_pk: int) -> None:
    with database.write(db):
        db.conn.execute(
            "UPDATE attendees SET api_token_hash = NULL, updated_at = ? WHERE pk = ?",
            (clock.utc_stamp(), attendee_pk),
        )


def attendee_with_event(db: sqlite_utils.Database, attendee_pk: int) -> dict:
    """The attendee's row plus their event's slug and title (what the /me routes need)."""
    row = db.conn.execute(
        "SELECT a.*, e.slug AS event_slug, e.title AS event_title FROM attendees a "
        "JOIN events e ON e.id = a.event_id WHERE a.pk = ?",
        (attendee_pk,),
    ).fetchone()
    if row is None:
        raise NotFound("this attendee no longer exists")
    return dict(row)


def attendee_pk(db: sqlite_utils.Database, slug: str, attendee_id: str) -> int:
    return _row(db, get_event(db, slug), attendee_id)["pk"]


def pk_by_email(db: sqlite_utils.Database, slug: str, email: str) -> int:
    """The attendee registered with `email` (any case, spaces around ignored), or 404."""
    event = get_event(db, slug)
    row = db.conn.execute(
        "SELECT pk FROM attendees WHERE event_id = ? AND email = ?", (event["id"], email.strip().lower())
    ).fetchone()
    if row is None:
        raise NotFound(f"no attendee of {slug} has the email {email.strip()!r}", resource="attendee")
    return row[0]


# --- calendar feed tokens -------------------------------------------------------------------


def feed_token(secret: bytes, attendee: dict) -> str:
    """The attendee's current feed token (see keys.derived_token)."""
    return keys.derived_token(secret, "calendar-feed", attendee["id"], attendee["feed_generation"])


def current_feed_token(db: sqlite_utils.Database, secret: bytes, attendee_pk: int, *, rotate: bool = False) -> str:
    """The feed token, recording its hash on first use; with `rotate`, a new one."""
    with database.write(db):
        row = dict(db.conn.execute("SELECT * FROM attendees WHERE pk = ?", (attendee_pk,)).fetchone())
        if rotate:
            row["feed_generation"] += 1
        token = feed_token(secret, row)
        if rotate or row["feed_token_hash"] != hash_token(token):
            db.conn.execute(
                "UPDATE attendees SET feed_generation = ?, feed_token_hash = ? WHERE pk = ?",
                (row["feed_generation"], hash_token(token), attendee_pk),
            )
    return token


def feed_subscription(base_url: str, token: str, name: str) -> dict[str, str]:
    """The ways to subscribe to a feed (https, webcal, Google, Outlook), under `base_url`.

    Flask-free so `/me/calendar` and the mailed links (`send-links`) give the same URLs.
    """
    https = f"{base_url}/api/v1/calendars/{token}.ics"
    webcal = "webcal://" + https.split("://", 1)[1]
    return {
        "https": https,
        "webcal": webcal,
        "google": "https://calendar.google.com/calendar/r?cid=" + quote(webcal, safe=""),
        "outlook": "https://outlook.live.com/calendar/0/addfromweb?url="
        + quote(https, safe="")
        + "&name="
        + quote(name, safe=""),
    }


def feed_name(event_title: str) -> str:
    """What calendar apps call the personal feed."""
    return f"My schedule — {event_title}"


def feed_fingerprint(db: sqlite_utils.Database, token: str) -> tuple[int, int, int]:
    """(attendee, schedule version, programme version) behind a feed URL, or 404: one indexed read."""
    row = db.conn.execute(
        "SELECT a.pk, a.schedule_version, e.version FROM attendees a JOIN events e ON e.id = a.event_id "
        "WHERE a.feed_token_hash = ?",
        (hash_token(token),),
    ).fetchone()
    if row is None:
        raise NotFound("no calendar at this address (it may have been replaced by a new one)")
    return tuple(row)


def attendee_for_feed_token(db: sqlite_utils.Database, token: str) -> dict:
    """The attendee behind a feed URL (with their event's slug and programme version), or 404."""
    row = db.conn.execute(
        "SELECT a.*, e.slug AS event_slug, e.version AS event_version FROM attendees a "
        "JOIN events e ON e.id = a.event_id "
        "WHERE a.feed_token_hash = ?",
        (hash_token(token),),
    ).fetchone()
    if row is None:
        raise NotFound("no calendar at this address (it may have been replaced by a new one)")
    return dict(row)


# --- CSV import -----------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    tokens: list[tuple[str, str]] = field(default_factory=list)  # (email, token) of new attendees

    def document(self) -> dict:
        """The counts and the new tokens, as the HTTP import answers them."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "tokens": [{"email": email, "token": token} for email, token in self.tokens],
        }


def parse_csv(text: str) -> list[tuple[int, dict]]:
    """Rows with the file line they start on; every bad row reported by line and field.

    Each field is bounded twice: by the csv module's field limit (131,072 characters, past
    which it raises rather than reads on) and by clean_attendee's lengths (name and
    organisation 300, email 320); both are reported by line, never as a traceback.
    """
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _parse_rows(reader)
    except csv.Error as problem:
        line = max(reader.reader.line_num, 1)  # DictReader.line_num lags: set after a row is read
        reason = str(problem)
        if "field limit" in reason:
            reason = f"a field is longer than {csv.field_size_limit()} characters"
        raise ValidationError(
            f"line {line} cannot be read as CSV ({reason}); nothing imported", fields={f"line {line}": reason}
        ) from None


def _parse_rows(reader: csv.DictReader) -> list[tuple[int, dict]]:
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    missing = [name for name in ("name", "email", "category") if name not in header]
    if missing:
        raise ValidationError(
            f"the CSV header must name the columns {', '.join(CSV_COLUMNS)}; missing: {', '.join(missing)}",
            fields={"line 1": f"missing column(s): {', '.join(missing)}"},
        )
    reader.fieldnames = header
    errors = Errors()
    rows, seen = [], {}
    line = reader.line_num
    for raw in reader:
        start, line = line + 1, reader.line_num
        data = {name: (value or "").strip() for name, value in raw.items() if name in CSV_COLUMNS}
        if not data.get("country"):
            data.pop("country", None)
        values = clean_attendee(data, errors.within(f"line {start}: "))
        email = values.get("email")
        if email and email in seen:
            errors.add(f"line {start}: email", f"repeats line {seen[email]}")
        elif email:
            seen[email] = start
        rows.append((start, values))
    if errors:
        count = len({name.split(":")[0] for name in errors.messages})
        raise ValidationError(f"{count} bad row{'s' if count > 1 else ''}; nothing imported", fields=errors.messages)
    return rows


def import_attendees(db: sqlite_utils.Database, slug: str, text: str, *, issue_tokens: bool = False) -> ImportResult:
    """All rows or none; rows whose email exists update that attendee instead of duplicating."""
    rows = parse_csv(text)
    result, stamp = ImportResult(), clock.utc_stamp()
    with database.write(db):
        event = get_event(db, slug)
        existing = {
            row["email"]: dict(row)
            for row in db.conn.execute("SELECT * FROM attendees WHERE event_id = ?", (event["id"],))
        }
        inserts, updates = [], []
        for _line, values in rows:
            current = existing.get(values["email"])
            if current is None:
                token = new_api_token() if issue_tokens else None
                if token:
                    result.tokens.append((values["email"], token))
                inserts.append((new_public_id(), event["id"], *(values[name] for name in _FIELDS),
                                hash_token(token) if token else None, stamp, stamp))  # fmt: skip
            elif any(current[name] != values[name] for name in _FIELDS):
                updates.append((*(values[name] for name in _FIELDS), stamp, current["pk"]))
            else:
                result.unchanged += 1
        db.conn.executemany(
            "INSERT INTO attendees (id, event_id, name, email, organisation, country, category, "
            "api_token_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            inserts,
        )
        db.conn.executemany(
            "INSERT INTO tickets (serial, event_id, attendee_pk, issued_at) "
            "SELECT ?, event_id, pk, ? FROM attendees WHERE id = ?",
            [(tickets.new_serial(), stamp, row[0]) for row in inserts],
        )
        db.conn.executemany(
            "UPDATE attendees SET name = ?, email = ?, organisation = ?, country = ?, category = ?, "
            "updated_at = ? WHERE pk = ?",
            updates,
        )
    result.created, result.updated = len(inserts), len(updates)
    return result
