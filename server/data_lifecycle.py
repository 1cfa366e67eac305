"""An attendee's personal data from registration to the end: export, erasure, anonymisation, retention.

`PERSONAL_TABLES` names every table that holds or points at an attendee (a test introspects the
foreign keys of the real database and fails on a table missing here), with the key of the
export that shows it. Erasure forgets one person; anonymisation, after the event, forgets every
attendee's name, email and organisation but keeps the rows, so counts and statistics stay.
Speakers are the public programme and are kept by both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from server import attendees, clock, db as database, matchmaking, meetings, tickets
from server.errors import Conflict, NotFound, ValidationError
from server.programme import get_event

EXPORT_FORMAT = "eventdesk-personal-data/1"
ERASED_REASON = "the other participant's personal data was erased"
ERASED_PROFILE = "(erased)"
ANONYMISED_NAME = "(anonymised)"
ANONYMISED_DOMAIN = "anonymised.invalid"  # RFC 2606: an address that can never receive mail
RETENTION_DAYS = "EVENTDESK_RETENTION_DAYS"
RETENTION_ACTION = "EVENTDESK_RETENTION_ACTION"
RETENTION_ACTIONS = ("remind", "anonymise")


# Every table holding an attendee's data or pointing at them -> the export key that shows it
# ("" when the table keeps nothing of theirs to show, the reason beside it).
PERSONAL_TABLES: dict[str, str] = {
    "attendees": "attendee",
    "attendee_links": "personal_link",  # and `emails`: sent_at, sent_to
    "attendee_devices": "devices",
    "schedule_items": "schedule",
    "tickets": "tickets",
    "checkin_list_members": "checkin_lists",
    "scans": "checkins",
    "scan_id_reuses": "",  # a scan_id sent again with other content: hashes and times only
    "roster_changes": "",  # a counter of door-roster changes: pks only
    "participants": "matchmaking",
    "meetings": "meetings",
    "meeting_log": "meetings",  # each meeting's `log`
}


@contextlib.contextmanager
def _secure_delete(db: sqlite_utils.Database) -> Iterator[None]:
    """Deleted and overwritten content is zeroed in the file, not left in free pages."""
    db.conn.execute("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        db.conn.execute("PRAGMA secure_delete = OFF")


def _forget_index_history(db: sqlite_utils.Database) -> None:
    """FTS5 keeps replaced terms in older index segments until they merge: merge them now."""
    db.conn.execute("INSERT INTO participants_fts (participants_fts) VALUES ('optimize')")


def _iso(stamp: str | None, zone: ZoneInfo | None = None) -> str | None:
    if stamp is None:
        return None
    moment = clock.parse_stamp(stamp)
    return (moment.astimezone(zone) if zone else moment).isoformat()


# --- export ----------------------------------------------------------------------------------


def export(db: sqlite_utils.Database, attendee_pk: int) -> dict:
    """Everything Eventdesk holds about one attendee, as one JSON document (GET /me/export).

    Tokens and devices are shown by what they are and when they were made, never a secret
    or a hash of one.
    """
    with database.read(db):
        row = attendees.attendee_with_event(db, attendee_pk)
        event = get_event(db, row["event_slug"])
        zone = ZoneInfo(event["timezone"])
        link = db.conn.execute("SELECT * FROM attendee_links WHERE attendee_pk = ?", (attendee_pk,)).fetchone()
        participant = db.conn.execute("SELECT * FROM participants WHERE attendee_pk = ?", (attendee_pk,)).fetchone()
        return {
            "format": EXPORT_FORMAT,
            "exported_at": clock.now().astimezone(zone).replace(microsecond=0).isoformat(),
            "event": {"slug": event["slug"], "title": event["title"]},
            "attendee": attendees.attendee_document(row, event["slug"]),
            "schedule": _schedule(db, attendee_pk, zone),
            "tickets": [
                {"serial": serial, "issued_at": _iso(issued), "revoked_at": _iso(revoked)}
                for serial, issued, revoked in db.conn.execute(
                    "SELECT serial, issued_at, revoked_at FROM tickets WHERE attendee_pk = ? "
                    "ORDER BY issued_at, serial",
                    (attendee_pk,),
                )
            ],
            "checkin_lists": [
                list_id
                for (list_id,) in db.conn.execute(
                    "SELECT l.id FROM checkin_list_members m JOIN checkin_lists l ON l.pk = m.list_pk "
                    "WHERE m.attendee_pk = ? ORDER BY l.id",
                    (attendee_pk,),
                )
            ],
            "checkins": _checkins(db, attendee_pk, zone),
            "matchmaking": _matchmaking(dict(participant), event) if participant else None,
            "meetings": _meetings(db, event, participant["pk"]) if participant else [],
            "tokens": {
                "api_token": row["api_token_hash"] is not None,
                "calendar_feed": row["feed_token_hash"] is not None,
                "calendar_feed_generation": row["feed_generation"],
            },
            "personal_link": {"generation": link["generation"]} if link else None,
            "devices": [
                {"id": device_id, "label": label, "created_at": _iso(created)}
                for device_id, label, created in db.conn.execute(
                    "SELECT id, label, created_at FROM attendee_devices WHERE attendee_pk = ? ORDER BY id",
                    (attendee_pk,),
                )
            ],
            "emails": [
                {"what": "personal link, calendar and ticket", "sent_at": _iso(link["sent_at"]), "to": link["sent_to"]}
            ]
            if link and link["sent_at"]
            else [],
        }


def _schedule(db: sqlite_utils.Database, attendee_pk: int, zone: ZoneInfo) -> list[dict]:
    rows = db.conn.execute(
        "SELECT s.id, s.title, s.starts_at, i.added_at FROM schedule_items i "
        "JOIN sessions s ON s.event_id = i.event_id AND s.id = i.session_id "
        "WHERE i.attendee_pk = ? ORDER BY s.starts_at, s.id",
        (attendee_pk,),
    )
    return [
        {"session": session, "title": title, "start": _iso(start, zone), "added_at": _iso(added)}
        for session, title, start, added in rows
    ]


def _checkins(db: sqlite_utils.Database, attendee_pk: int, zone: ZoneInfo) -> list[dict]:
    rows = db.conn.execute(
        "SELECT l.id AS list, s.type, s.source, s.result, s.conflict, s.scanned_at, s.received_at, s.undone_at, "
        "t.label AS device FROM scans s LEFT JOIN checkin_lists l ON l.pk = s.list_pk "
        "LEFT JOIN api_tokens t ON t.id = s.device_id WHERE s.attendee_pk = ? ORDER BY s.scanned_at, s.pk",
        (attendee_pk,),
    )
    return [
        {
            "list": row["list"],
            "type": row["type"],
            "source": row["source"],
            "result": row["result"],
            "conflict": bool(row["conflict"]),
            "scanned_at": _iso(row["scanned_at"], zone),
            "received_at": _iso(row["received_at"], zone),
            "undone_at": _iso(row["undone_at"], zone),
            "device": row["device"],
        }
        for row in rows
    ]


def _matchmaking(participant: dict, event: dict) -> dict:
    return {"profile": matchmaking.participant_document(participant, event), "left_at": _iso(participant["left_at"])}


def _meetings(db: sqlite_utils.Database, event: dict, participant_pk: int) -> list[dict]:
    settings = matchmaking.settings_row(db, event["id"])
    if settings is None:
        return []
    rows = db.conn.execute(
        "SELECT * FROM meetings WHERE requester_pk = ? OR partner_pk = ? ORDER BY created_at, pk",
        (participant_pk, participant_pk),
    ).fetchall()
    return [meetings.meeting_document(db, event, dict(row), settings) for row in rows]


# --- erasure ---------------------------------------------------------------------------------


def erase_attendee(db: sqlite_utils.Database, slug: str, attendee_id: str) -> None:
    """Erase an attendee on request: nothing of theirs is left that names or reaches them.

    Their tickets stay, revoked and anonymous, so doors learn the codes are dead; scans stay
    in the audit log without the holder. A matchmaking participant's live meetings are
    cancelled with a reason, and the emptied profile row stays so the partner sees why.
    Everything else (link, browsers, bookmarks, list memberships) goes with the attendee row.
    """
    with _secure_delete(db), database.write(db):
        event = get_event(db, slug)
        row = db.conn.execute(
            "SELECT pk FROM attendees WHERE event_id = ? AND id = ?", (event["id"], attendee_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"no attendee {attendee_id!r} in event {slug!r}", resource="attendee")
        attendee_pk = row[0]
        tickets.revoke_tickets(db, attendee_pk)
        db.conn.execute(
            "UPDATE scans SET response = json_set(response, '$.attendee', json('null')) WHERE attendee_pk = ?",
            (attendee_pk,),
        )
        participant = db.conn.execute("SELECT * FROM participants WHERE attendee_pk = ?", (attendee_pk,)).fetchone()
        if participant is not None:
            meetings.cancel_all(db, dict(participant), reason=ERASED_REASON)
            db.conn.execute("UPDATE meetings SET message = '' WHERE requester_pk = ?", (participant["pk"],))
            stamp = clock.utc_stamp()
            db["participants"].update(
                participant["pk"],
                {"organisation": ERASED_PROFILE, "cluster": "", "country": "", "sectors": "[]", "offer": "",
                 "seek": "", "languages": "[]", "availability": None, "hidden": 1,
                 "left_at": participant["left_at"] or stamp, "updated_at": stamp},
            )  # fmt: skip
        db.conn.execute("DELETE FROM attendees WHERE pk = ?", (attendee_pk,))
        if participant is not None:
            _forget_index_history(db)


# --- anonymisation ---------------------------------------------------------------------------


def event_end(event: dict) -> datetime:
    """The instant an event is over: midnight after its last day, in its own zone."""
    last = date.fromisoformat(event["end_date"])
    return datetime.combine(last + timedelta(days=1), time(0), ZoneInfo(event["timezone"]))


def anonymise_event(db: sqlite_utils.Database, slug: str, *, force: bool = False) -> dict:
    """Forget every attendee's name, email and organisation, and participants' free text.

    Rows stay, so every count and statistic (check-ins per list, matchmaking stats, bookmarks
    per session) is the same afterwards; categories and countries stay for the same reason.
    Tokens, personal links, signed-in browsers and mailing records go; door devices are
    revoked, which tells each door (CLI and browser) to wipe its bundle at its next contact.
    Refused before the event's end unless `force`. Running it again changes nothing more.
    """
    with _secure_delete(db), database.write(db):
        event = get_event(db, slug)
        end = event_end(event)
        if clock.now() < end and not force:
            raise Conflict(
                f"event {slug} ends at {end.isoformat()}: anonymise after that (or force it)",
                reason="event_not_over",
            )
        stamp, event_id = clock.utc_stamp(), event["id"]
        mine = "attendee_pk IN (SELECT pk FROM attendees WHERE event_id = ?)"
        counts = {
            "attendees": db.conn.execute(
                "UPDATE attendees SET name = ?, email = id || '@' || ?, organisation = '', api_token_hash = NULL, "
                "feed_token_hash = NULL, updated_at = ? WHERE event_id = ? AND email != id || '@' || ?",
                (ANONYMISED_NAME, ANONYMISED_DOMAIN, stamp, event_id, ANONYMISED_DOMAIN),
            ).rowcount,
            "personal_links": db.conn.execute(f"DELETE FROM attendee_links WHERE {mine}", (event_id,)).rowcount,  # noqa: S608
            "signed_in_browsers": db.conn.execute(f"DELETE FROM attendee_devices WHERE {mine}", (event_id,)).rowcount,  # noqa: S608
            "scans": db.conn.execute(
                "UPDATE scans SET response = json_set(response, '$.attendee', json('null')) "
                "WHERE event_id = ? AND json_extract(response, '$.attendee') IS NOT NULL",
                (event_id,),
            ).rowcount,
            "participants": db.conn.execute(
                "UPDATE participants SET organisation = '', cluster = '', offer = '', seek = '', updated_at = ? "
                "WHERE event_id = ? AND (organisation != '' OR cluster != '' OR offer != '' OR seek != '')",
                (stamp, event_id),
            ).rowcount,
            "meeting_messages": db.conn.execute(
                "UPDATE meetings SET message = '' WHERE event_id = ? AND message != ''", (event_id,)
            ).rowcount,
            "door_devices_revoked": db.conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE role = 'door' AND event_id = ? AND revoked_at IS NULL",
                (stamp, event_id),
            ).rowcount,
        }
        db.conn.execute("UPDATE events SET anonymised_at = COALESCE(anonymised_at, ?) WHERE id = ?", (stamp, event_id))
        _forget_index_history(db)
    return counts


def compact(db: sqlite_utils.Database) -> None:
    """Rewrite the file without its free pages and empty the WAL, so old page images go too."""
    db.conn.execute("VACUUM")
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def refuse_if_anonymised(db: sqlite_utils.Database, slug: str) -> None:
    """New door devices of an anonymised event would only be told to wipe: refused instead."""
    if get_event(db, slug)["anonymised_at"] is not None:
        raise Conflict(f"event {slug}'s personal data was anonymised: it has no doors any more", reason="anonymised")


# --- retention -------------------------------------------------------------------------------


def retention_settings(environ: dict[str, str]) -> tuple[int, str] | None:
    """(days, action) from EVENTDESK_RETENTION_DAYS and EVENTDESK_RETENTION_ACTION, or None when unset."""
    days_text = environ.get(RETENTION_DAYS, "").strip()
    action = environ.get(RETENTION_ACTION, "remind").strip().lower() or "remind"
    if not days_text:
        return None
    try:
        days = int(days_text)
    except ValueError:
        days = -1
    if days < 0:
        raise ValidationError(f"{RETENTION_DAYS} must be a whole number of days", fields={RETENTION_DAYS: days_text})
    if action not in RETENTION_ACTIONS:
        raise ValidationError(
            f"{RETENTION_ACTION} must be one of {', '.join(RETENTION_ACTIONS)}", fields={RETENTION_ACTION: action}
        )
    return days, action


def apply_retention(db: sqlite_utils.Database, days: int, action: str) -> list[str]:
    """Events kept `days` past their end and not yet anonymised: each reminded of, or anonymised.

    Returns what was said or done, one line per event, for the caller to show as a warning.
    """
    lines = []
    for row in db.conn.execute("SELECT slug FROM events WHERE anonymised_at IS NULL ORDER BY slug").fetchall():
        event = get_event(db, row[0])
        due = event_end(event) + timedelta(days=days)
        if clock.now() < due:
            continue
        if action == "anonymise":
            counts = anonymise_event(db, event["slug"])
            line = (
                f"event {event['slug']} ended more than {days} days ago ({RETENTION_DAYS}): its personal data "
                f"was anonymised ({counts['attendees']} attendees)"
            )
        else:
            line = (
                f"event {event['slug']} ended more than {days} days ago ({RETENTION_DAYS}={days}): anonymise its "
                f"personal data with `eventdesk-server anonymise --event {event['slug']} --yes` "
                f"(or set {RETENTION_ACTION}=anonymise)"
            )
        lines.append(line)
    return lines
