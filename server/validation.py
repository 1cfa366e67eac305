"""Checks and normalises programme items, for both the file loader and the admin API.

Each `clean_*` takes a raw mapping and returns the values to store, or collects
messages per field into an `Errors` so the caller can report every problem at once.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server import clock

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
_ID_RE = re.compile(ID_PATTERN)
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2}$")

SESSION_TYPES = (
    "plenary",
    "parallel",
    "workshop",
    "break",
    "networking",
    "matchmaking",
    "reception",
    "other",
)
SESSION_STATUSES = ("confirmed", "cancelled")
SPEAKER_ROLES = ("speaker", "moderator", "panellist", "chair")
ORGANISATION_TYPES = (
    "eu-institution",
    "national-government",
    "regional-government",
    "cluster-organisation",
    "business",
    "sme",
    "academia",
    "research",
    "finance",
    "international-organisation",
    "association",
    "other",
)
_MAX_TEXT = 20_000
_COUNTRY_HINT = "must be an ISO 3166-1 alpha-2 code such as BE"


@dataclass
class Errors:
    """Messages keyed by field path, e.g. {"start": "...", "speakers[0].role": "..."}."""

    prefix: str = ""
    messages: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.messages.setdefault(f"{self.prefix}{name}", message)

    def __bool__(self) -> bool:
        return bool(self.messages)


@dataclass
class Refs:
    """Ids a session may point at: the rooms, tracks and speakers that exist."""

    rooms: set[str]
    tracks: set[str]
    speakers: set[str]


def _text(data, name, errors, *, required=False, default="", max_len=_MAX_TEXT):
    if name not in data or data[name] is None:
        if required:
            errors.add(name, "is required")
        return default
    value = data[name]
    if not isinstance(value, str):
        errors.add(name, "must be a string")
        return default
    value = value.strip()
    if required and not value:
        errors.add(name, "must not be empty")
    if len(value) > max_len:
        errors.add(name, f"must be at most {max_len} characters")
    return value


def _identifier(data, name, errors, *, required=True):
    value = data.get(name)
    if value is None:
        if required:
            errors.add(name, "is required")
        return None
    if not isinstance(value, str) or not _ID_RE.match(value):
        errors.add(name, "must be 1-64 lowercase letters, digits or '-', e.g. 'opening-plenary'")
        return None
    return value


def _choice(data, name, errors, choices, *, default=None, required=False):
    value = data.get(name)
    if value is None:
        if required:
            errors.add(name, "is required")
        return default
    if value not in choices:
        errors.add(name, f"must be one of: {', '.join(choices)}")
        return default
    return value


def _positive_int(data, name, errors):
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        errors.add(name, "must be a whole number of at least 1")
        return None
    return value


def _pattern(data, name, errors, regex, hint):
    value = _text(data, name, errors)
    if value and not regex.match(value):
        errors.add(name, hint)
        return ""
    return value


def parse_local_datetime(text: object, zone: ZoneInfo) -> datetime:
    """ISO 8601 with or without offset; without one it is local time in `zone`."""
    if not isinstance(text, str):
        raise ValueError("must be an ISO 8601 date-time string")
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time such as 2014-10-20T09:00:00+02:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    try:
        value.astimezone(UTC)  # it is stored in UTC: 0001-01-01 east of Greenwich has no UTC date
        return value.astimezone(zone)
    except OverflowError:
        raise ValueError("is out of range (years 1 to 9999 in UTC)") from None


def _date(data, name, errors, *, required=True):
    value = data.get(name)
    if value is None:
        if required:
            errors.add(name, "is required")
        return None
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        pass
    errors.add(name, "must be a date as YYYY-MM-DD")
    return None


def clean_event(data: object, errors: Errors) -> dict:
    if not isinstance(data, dict):
        errors.add("", "must be an object")
        return {}
    values = {
        "slug": _identifier(data, "slug", errors),
        "title": _text(data, "title", errors, required=True, max_len=500),
        "description": _text(data, "description", errors),
        "venue": _text(data, "venue", errors, max_len=500),
        "city": _text(data, "city", errors, max_len=200),
        "country": _pattern(data, "country", errors, _COUNTRY_RE, _COUNTRY_HINT),
        "capacity": _positive_int(data, "capacity", errors),
        "organiser": _text(data, "organiser", errors, max_len=1000),
        "url": _text(data, "url", errors, max_len=2000),
        "notice": _text(data, "notice", errors),
        "themes": _string_list(data, "themes", errors),
        "guiding_questions": _string_list(data, "guiding_questions", errors),
        "previous_editions": _editions(data, errors),
    }
    zone_name = _text(data, "timezone", errors, required=True, max_len=100)
    if zone_name:
        try:
            ZoneInfo(zone_name)
            values["timezone"] = zone_name
        except (ZoneInfoNotFoundError, ValueError):
            errors.add("timezone", f"unknown IANA time zone {zone_name!r}, e.g. Europe/Brussels")
    start, end = _date(data, "start_date", errors), _date(data, "end_date", errors)
    if start and end:
        if end < start:
            errors.add("end_date", "must not be before start_date")
        elif (end - start).days > 60:
            errors.add("end_date", "an event may last at most 61 days")
        values["start_date"], values["end_date"] = start.isoformat(), end.isoformat()
    return values


def _string_list(data, name, errors):
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        errors.add(name, "must be a list of strings")
        return []
    return [item.strip() for item in value]


def _editions(data, errors):
    value = data.get("previous_editions", [])
    ok = isinstance(value, list) and all(
        isinstance(item, dict) and isinstance(item.get("year"), int) and isinstance(item.get("city"), str)
        for item in value
    )
    if not ok:
        errors.add("previous_editions", 'must be a list of {"year": 2012, "city": "Vienna"}')
        return []
    return [{"year": item["year"], "city": item["city"]} for item in value]


def _clean_item(data: dict, errors: Errors, partial: bool, checks: dict) -> dict:
    """Run the checks of the fields present (all of them unless `partial`); add the id on create."""
    values = {} if partial else {"id": _identifier(data, "id", errors)}
    for name, check in checks.items():
        _maybe(values, data, partial, name, check)
    return values


def clean_room(data: dict, errors: Errors, *, partial: bool = False) -> dict:
    return _clean_item(data, errors, partial, {
        "name": lambda: _text(data, "name", errors, required=True, max_len=200),
        "capacity": lambda: _positive_int(data, "capacity", errors),
        "description": lambda: _text(data, "description", errors),
    })  # fmt: skip


def clean_track(data: dict, errors: Errors, *, partial: bool = False) -> dict:
    return _clean_item(data, errors, partial, {
        "name": lambda: _text(data, "name", errors, required=True, max_len=200),
        "color": lambda: _pattern(data, "color", errors, _COLOR_RE, "must be a colour as #rrggbb"),
        "description": lambda: _text(data, "description", errors),
    })  # fmt: skip


def clean_speaker(data: dict, errors: Errors, *, partial: bool = False) -> dict:
    return _clean_item(data, errors, partial, {
        "name": lambda: _text(data, "name", errors, required=True, max_len=300),
        "job_title": lambda: _text(data, "job_title", errors, max_len=300),
        "organisation": lambda: _text(data, "organisation", errors, max_len=300),
        "organisation_type": lambda: _choice(data, "organisation_type", errors, ORGANISATION_TYPES, default=""),
        "country": lambda: _pattern(data, "country", errors, _COUNTRY_RE, _COUNTRY_HINT),
        "bio": lambda: _text(data, "bio", errors),
    })  # fmt: skip


def _maybe(values, data, partial, name, check):
    """In a partial update only the fields present are checked and changed."""
    if not partial or name in data:
        values[name] = check()


def clean_session(
    data: dict,
    errors: Errors,
    *,
    event: dict,
    refs: Refs,
    partial: bool = False,
    current: dict | None = None,
) -> dict:
    """Normalise a session; with `partial`, `current` holds the stored values for cross-checks."""
    zone = ZoneInfo(event["timezone"])
    values: dict = {}
    if not partial:
        values["id"] = _identifier(data, "id", errors)
        guid = data.get("guid")
        if guid is not None:
            try:
                values["guid"] = str(uuid.UUID(str(guid)))
            except ValueError:
                errors.add("guid", "must be a UUID")
    _maybe(values, data, partial, "title", lambda: _text(data, "title", errors, required=True, max_len=500))
    _maybe(values, data, partial, "type", lambda: _choice(data, "type", errors, SESSION_TYPES, required=True))
    _maybe(values, data, partial, "abstract", lambda: _text(data, "abstract", errors))
    _maybe(
        values,
        data,
        partial,
        "language",
        lambda: _pattern(data, "language", errors, _LANGUAGE_RE, "must be an ISO 639-1 code, e.g. en") or "en",
    )
    _maybe(values, data, partial, "capacity", lambda: _positive_int(data, "capacity", errors))
    _maybe(
        values,
        data,
        partial,
        "status",
        lambda: _choice(data, "status", errors, SESSION_STATUSES, default="confirmed"),
    )
    for name, known, label in (("room", refs.rooms, "room"), ("track", refs.tracks, "track")):
        if partial and name not in data:
            continue
        ref = data.get(name)
        if ref is None or ref == "":
            values[f"{name}_id"] = None
        elif not isinstance(ref, str) or ref not in known:
            errors.add(name, f"no {label} with id {ref!r} in this event")
        else:
            values[f"{name}_id"] = ref
    if not partial or "speakers" in data:
        values["speakers"] = _session_speakers(data.get("speakers", []), errors, refs)
    _clean_times(data, values, errors, event, zone, partial, current)
    return values


def _session_speakers(value, errors, refs):
    if not isinstance(value, list):
        errors.add("speakers", 'must be a list of {"id": speaker id, "role": "speaker"}')
        return []
    links, seen = [], set()
    for index, item in enumerate(value):
        name = f"speakers[{index}]"
        if isinstance(item, str):
            item = {"id": item}
        if not isinstance(item, dict):
            errors.add(name, 'must be {"id": speaker id, "role": "speaker"}')
            continue
        speaker_id = item.get("id")
        if not isinstance(speaker_id, str) or speaker_id not in refs.speakers:
            errors.add(f"{name}.id", f"no speaker with id {speaker_id!r} in this event")
            continue
        if speaker_id in seen:
            errors.add(f"{name}.id", f"speaker {speaker_id!r} is listed twice")
            continue
        role = item.get("role", "speaker")
        if role not in SPEAKER_ROLES:
            errors.add(f"{name}.role", f"must be one of: {', '.join(SPEAKER_ROLES)}")
            continue
        seen.add(speaker_id)
        links.append({"speaker_id": speaker_id, "role": role})
    return links


def _clean_times(data, values, errors, event, zone, partial, current):
    if partial and "start" not in data and "end" not in data:
        return
    moments = {}
    for name in ("start", "end"):
        if name in data:
            try:
                moments[name] = parse_local_datetime(data[name], zone)
            except ValueError as problem:
                errors.add(name, str(problem))
        elif partial and current:
            moments[name] = clock.parse_stamp(current[f"{name}s_at"]).astimezone(zone)
        else:
            errors.add(name, "is required")
    if len(moments) < 2:
        return
    start, end = moments["start"], moments["end"]
    first, last = date.fromisoformat(event["start_date"]), date.fromisoformat(event["end_date"])
    if not first <= start.date() <= last:
        errors.add("start", f"must fall within the event's dates, {first} to {last} ({event['timezone']})")
    if end <= start:
        errors.add("end", "must be after start")
    elif end - start > timedelta(hours=24):
        errors.add("end", "a session may last at most 24 hours")
    values["starts_at"], values["ends_at"] = clock.utc_stamp(start), clock.utc_stamp(end)
    values["day"] = start.date().isoformat()
