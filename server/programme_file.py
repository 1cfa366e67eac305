"""Loading a whole programme file (docs/programme-format.md): validate all, then apply all.

The file is authoritative for its event: new items are created, changed ones updated,
missing ones deleted, identical ones left alone, so a second load of the same file
changes nothing and does not bump the version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from itertools import pairwise
from pathlib import Path

import sqlite_utils

from server import checkin_lists, clock, db as database, matchmaking
from server.errors import ValidationError
from server.programme_edit import ChangeLog, delete_session_row, delete_simple, write_session, write_simple
from server.validation import Errors, Refs, clean_event, clean_item, clean_session

FORMAT = "eventdesk-programme/1"
BUILTIN = "ecc2014"


@dataclass
class LoadResult:
    slug: str
    created_event: bool
    version_before: int
    version_after: int
    counts: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.version_after != self.version_before


def builtin_path(name: str = BUILTIN) -> Path:
    return Path(str(resources.files("server").joinpath("data", f"{name}.json")))


def read_file(path: str | Path) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as problem:
        raise ValidationError(f"cannot read {path}: {problem.strerror}", fields={"file": str(path)}) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as problem:
        raise ValidationError(
            f"{path} is not valid JSON: {problem.msg} at line {problem.lineno}, column {problem.colno}",
            fields={"file": f"line {problem.lineno}: {problem.msg}"},
        ) from None
    return document


@dataclass
class CleanProgramme:
    event: dict
    rooms: list[dict]
    tracks: list[dict]
    speakers: list[dict]
    sessions: list[dict]
    checkin_lists: list[dict] = field(default_factory=list)


def validate_programme(document: object) -> CleanProgramme:
    """Every problem in the file, named by item and field, in one ValidationError."""
    errors = Errors()
    if not isinstance(document, dict):
        raise ValidationError("a programme file must be a JSON object", fields={"": "not an object"})
    if document.get("format") != FORMAT:
        errors.add("format", f"must be {FORMAT!r}")
    event = clean_event(document.get("event"), errors.within("event."))
    by_kind = {}
    for kind in ("room", "track", "speaker"):
        by_kind[f"{kind}s"] = _clean_list(
            document, f"{kind}s", errors, lambda item, e, kind=kind: clean_item(kind, item, e)
        )
    refs = Refs(
        rooms={item["id"] for item in by_kind["rooms"] if item.get("id")},
        tracks={item["id"] for item in by_kind["tracks"] if item.get("id")},
        speakers={item["id"] for item in by_kind["speakers"] if item.get("id")},
    )
    sessions, lists = [], []
    if errors.messages.keys() & {"event.timezone", "event.start_date", "event.end_date"} or not event.get("timezone"):
        errors.add("sessions", "not checked until the event's timezone and dates are valid")
    else:
        sessions = _clean_list(
            document, "sessions", errors, lambda item, e: clean_session(item, e, event=event, refs=refs)
        )
        _check_rooms_free(sessions, errors)
        lists = _clean_list(
            document, "checkin_lists", errors, lambda item, e: checkin_lists.clean_list(item, e, event=event)
        )
    if errors:
        count = len(errors.messages)
        raise ValidationError(
            f"the programme file has {count} problem{'s' if count > 1 else ''}", fields=errors.messages
        )
    for position, item in enumerate(by_kind["rooms"]):
        item["position"] = position
    for position, item in enumerate(by_kind["tracks"]):
        item["position"] = position
    return CleanProgramme(event, by_kind["rooms"], by_kind["tracks"], by_kind["speakers"], sessions, lists)


def _clean_list(document: dict, kind: str, errors: Errors, cleaner) -> list[dict]:
    items = document.get(kind, [])
    if not isinstance(items, list):
        errors.add(kind, "must be a list")
        return []
    cleaned, seen = [], set()
    for index, item in enumerate(items):
        label = f"{kind}[{index}]"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            label += f" ({item['id']})"
        if not isinstance(item, dict):
            errors.add(label, "must be an object")
            continue
        values = cleaner(item, errors.within(f"{label}."))
        if values.get("id") in seen:
            errors.add(f"{label}.id", "is used twice")
        seen.add(values.get("id"))
        cleaned.append(values)
    return cleaned


def _check_rooms_free(sessions: list[dict], errors: Errors) -> None:
    by_room: dict[str, list[dict]] = {}
    for session in sessions:
        if session.get("room_id") and session.get("starts_at") and session.get("status") != "cancelled":
            by_room.setdefault(session["room_id"], []).append(session)
    for room, items in by_room.items():
        items.sort(key=lambda s: s["starts_at"])
        for before, after in pairwise(items):
            if after["starts_at"] < before["ends_at"]:
                errors.add(
                    f"sessions ({after['id']}).start",
                    f"room {room!r} already holds {before['id']!r} until {before['ends_at']}",
                )


def load_programme(db: sqlite_utils.Database, document: object) -> LoadResult:
    """Validate, then apply the whole file in one transaction (all or nothing)."""
    programme = validate_programme(document)
    slug = programme.event["slug"]
    with database.write(db):
        event, created = _upsert_event(db, programme.event)
        log = ChangeLog(db, event)
        version_before = 0 if created else event["version"]
        if created:
            log.record("event", slug, "upsert")
        elif _event_changed(event, programme.event):
            _update_event(db, event, programme.event)
            log.record("event", slug, "upsert")
        _sync_days(db, event)
        for kind, items in (
            ("room", programme.rooms),
            ("track", programme.tracks),
            ("speaker", programme.speakers),
        ):
            existing = _existing(db, kind + "s", event["id"])
            for values in items:
                write_simple(log, kind, values, existing.get(values["id"]))
        existing_sessions = _existing(db, "sessions", event["id"])
        wanted = {values["id"] for values in programme.sessions}
        for session_id, row in existing_sessions.items():
            if session_id not in wanted:
                delete_session_row(log, row)
        for values in programme.sessions:
            write_session(log, values, existing_sessions.get(values["id"]))
        for kind, items in (
            ("speaker", programme.speakers),
            ("track", programme.tracks),
            ("room", programme.rooms),
        ):
            wanted = {values["id"] for values in items}
            for item_id in _existing(db, kind + "s", event["id"]).keys() - wanted:
                delete_simple(log, kind, item_id)
        _sync_checkin_lists(db, event, programme.checkin_lists)
        if isinstance(document, dict) and "matchmaking" in document:
            _sync_matchmaking(db, event, document["matchmaking"])
        log.finish()
    return LoadResult(slug, created, version_before, event["version"], log.counts)


def load_file(db: sqlite_utils.Database, path: str | Path) -> LoadResult:
    return load_programme(db, read_file(path))


def _existing(db, table: str, event_id: int) -> dict[str, dict]:
    sql = f"SELECT * FROM {table} WHERE event_id = ?"  # noqa: S608 - fixed table names
    return {row["id"]: dict(row) for row in db.conn.execute(sql, (event_id,))}


_EVENT_COLUMNS = (
    "title",
    "description",
    "timezone",
    "start_date",
    "end_date",
    "venue",
    "city",
    "country",
    "capacity",
    "organiser",
    "url",
    "notice",
    "themes",
    "guiding_questions",
    "previous_editions",
)


def _event_row(values: dict) -> dict:
    row = {name: values.get(name) for name in _EVENT_COLUMNS}
    for name in ("themes", "guiding_questions", "previous_editions"):
        row[name] = json.dumps(row[name] or [], ensure_ascii=False)
    return row


def _upsert_event(db, values: dict) -> tuple[dict, bool]:
    row = db.conn.execute("SELECT * FROM events WHERE slug = ?", (values["slug"],)).fetchone()
    if row is not None:
        return dict(row), False
    stamp = clock.utc_stamp()
    columns = {
        "slug": values["slug"],
        **_event_row(values),
        "version": 0,
        "created_at": stamp,
        "updated_at": stamp,
    }
    db.conn.execute(
        f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",  # noqa: S608
        list(columns.values()),
    )
    return dict(db.conn.execute("SELECT * FROM events WHERE slug = ?", (values["slug"],)).fetchone()), True


def _event_changed(event: dict, values: dict) -> bool:
    return any(event[name] != value for name, value in _event_row(values).items())


def _update_event(db, event: dict, values: dict) -> None:
    row = _event_row(values)
    assignments = ", ".join(f"{name} = ?" for name in row)
    db.conn.execute(f"UPDATE events SET {assignments} WHERE id = ?", [*row.values(), event["id"]])  # noqa: S608
    event.update(row)


def _sync_checkin_lists(db, event: dict, lists: list[dict]) -> None:
    """Lists in the file are created or brought in line; lists made by admins are left alone.

    They are door settings, not programme content, so they do not bump the version.
    """
    existing = {row["id"]: dict(row) for row in db.conn.execute(
        "SELECT * FROM checkin_lists WHERE event_id = ?", (event["id"],))}  # fmt: skip
    for values in lists:
        current = existing.get(values["id"])
        if current is None or any(current[name] != value for name, value in values.items()):
            checkin_lists.upsert_list(db, event, values)


def _sync_matchmaking(db, event: dict, data: object) -> None:
    """The file's matchmaking set-up, checked against the rooms just written; like the check-in
    lists it is a setting, not programme content, so it does not bump the version. A problem
    raises, and the whole load rolls back."""
    errors = Errors(prefix="matchmaking.")
    values = matchmaking.clean_settings(db, event, data, errors)
    if errors:
        raise ValidationError("the programme file's matchmaking set-up has problems", fields=errors.messages)
    current = matchmaking.settings_row(db, event["id"])
    if current is None or any(current[name] != value for name, value in values.items()):
        matchmaking.write_settings(db, event, values)


def _sync_days(db, event: dict) -> None:
    """One row per calendar day of the event, numbered from 1."""
    first, last = date.fromisoformat(event["start_date"]), date.fromisoformat(event["end_date"])
    days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    current = [
        row[0] for row in db.conn.execute("SELECT date FROM days WHERE event_id = ? ORDER BY number", (event["id"],))
    ]
    if current != days:
        db.conn.execute("DELETE FROM days WHERE event_id = ?", (event["id"],))
        db.conn.executemany(
            "INSERT INTO days (event_id, date, number) VALUES (?, ?, ?)",
            [(event["id"], day, number) for number, day in enumerate(days, start=1)],
        )
