"""Checks programme items for both the file loader and the admin API.

What each field may hold is declared once in server/declarations/ and checked by
server/contract.py; what is left here are the rules that span fields or items (a session's
room must exist, its end must follow its start) and turning values into what is stored.
Each `clean_*` collects problems per field into an `Errors`, so a caller can report every
problem at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server import clock, contract

SESSION_TYPES = tuple(contract.properties("Session")["type"]["enum"])


@dataclass
class Errors:
    """Messages keyed by field path, e.g. {"start": "...", "speakers[0].role": "..."}.

    `shape` names the fields whose problem is the body's shape (unknown, wrong type,
    missing): the API answers those with 400, other problems with 422.
    """

    prefix: str = ""
    messages: dict[str, str] = field(default_factory=dict)
    shape: set[str] = field(default_factory=set)

    def add(self, name: str, message: str) -> None:
        self.messages.setdefault(f"{self.prefix}{name}", message)

    def take(self, found: contract.Problems) -> None:
        """Problems found by contract.check_body (already carrying this prefix)."""
        for name, message in found.shape.items():  # a wrong type says more than the rule it also breaks
            self.messages.setdefault(name, message)
            self.shape.add(name)
        for name, message in found.values.items():
            self.messages.setdefault(name, message)

    def within(self, prefix: str) -> Errors:
        """The same collection, naming fields under `prefix` (an item of a file)."""
        return Errors(prefix=prefix, messages=self.messages, shape=self.shape)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def raise_if_any(self, what: str) -> None:
        """400 when a field has the wrong shape, else 422 (contract.Problems decides, for every body)."""
        shape = {name: message for name, message in self.messages.items() if name in self.shape}
        values = {name: message for name, message in self.messages.items() if name not in self.shape}
        contract.Problems(shape=shape, values=values).raise_if_any(what)


@dataclass
class Refs:
    """Ids a session may point at: the rooms, tracks and speakers that exist."""

    rooms: set[str]
    tracks: set[str]
    speakers: set[str]


def checked(kind: str, data: object, errors: Errors, *, partial: bool = False) -> dict:
    """The declared fields of `data` as the item `kind` (e.g. "Room"), normalised; problems into errors."""
    values, found = contract.check_body(kind, data, body="patch" if partial else "create", prefix=errors.prefix)
    errors.take(found)
    return values


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


def clean_event(data: object, errors: Errors) -> dict:
    values = checked("Event", data, errors)
    zone_name = values.get("timezone")
    if isinstance(zone_name, str) and zone_name:
        try:
            ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            errors.add("timezone", f"unknown IANA time zone {zone_name!r}, e.g. Europe/Brussels")
    start, end = _date(values.get("start_date")), _date(values.get("end_date"))
    if start and end:
        if end < start:
            errors.add("end_date", "must not be before start_date")
        elif (end - start).days > 60:
            errors.add("end_date", "an event may last at most 61 days")
    if isinstance(values.get("themes"), list):
        values["themes"] = [item.strip() if isinstance(item, str) else item for item in values["themes"]]
    return values


def _date(value: object) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def clean_item(kind: str, data: object, errors: Errors, *, partial: bool = False) -> dict:
    """A room, track or speaker: its declaration is all there is to check."""
    return checked(kind.capitalize(), data, errors, partial=partial)


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
    values = checked("Session", data, errors, partial=partial)
    if not isinstance(data, dict):
        return values
    if values.get("guid") is not None:
        try:
            values["guid"] = str(uuid.UUID(str(values["guid"])))
        except ValueError:
            errors.add("guid", "must be a UUID")
    for name, known in (("room", refs.rooms), ("track", refs.tracks)):
        if name not in values:
            continue
        ref = values.pop(name)
        if ref is None or ref == "":
            values[f"{name}_id"] = None
        elif not isinstance(ref, str) or ref not in known:
            errors.add(name, f"no {name} with id {ref!r} in this event")
        else:
            values[f"{name}_id"] = ref
    if "speakers" in values:
        values["speakers"] = _session_speakers(values["speakers"], errors, refs)
    values.pop("start", None)
    values.pop("end", None)
    _clean_times(data, values, errors, event, partial, current)
    return values


def _session_speakers(value: object, errors: Errors, refs: Refs) -> list[dict]:
    if not isinstance(value, list):
        return []
    links, seen = [], set()
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            continue
        name, speaker_id = f"speakers[{index}]", item.get("id")
        if not isinstance(speaker_id, str) or speaker_id not in refs.speakers:
            errors.add(f"{name}.id", f"no speaker with id {speaker_id!r} in this event")
        elif speaker_id in seen:
            errors.add(f"{name}.id", f"speaker {speaker_id!r} is listed twice")
        else:
            seen.add(speaker_id)
            links.append({"speaker_id": speaker_id, "role": item.get("role", "speaker")})
    return links


def _clean_times(data: dict, values: dict, errors: Errors, event: dict, partial: bool, current: dict | None) -> None:
    if partial and "start" not in data and "end" not in data:
        return
    zone = ZoneInfo(event["timezone"])
    moments = {}
    for name in ("start", "end"):
        if name in data:
            try:
                moments[name] = parse_local_datetime(data[name], zone)
            except ValueError as problem:
                errors.add(name, str(problem))
        elif partial and current:
            moments[name] = clock.parse_stamp(current[f"{name}s_at"]).astimezone(zone)
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
