"""iCalendar (RFC 5545) feeds: the programme, a part of it, or one attendee's calendar, as bytes.

A pure renderer like the other exporters: the JSON shapes of server/programme.py in, bytes
out; no Flask, no SQL. Nothing depends on "now" (DTSTAMP is an item's last change), so the
same data always gives the same bytes and the same ETag. Times carry TZID=<event zone> with
a VTIMEZONE holding the zone's real transitions, never floating times or fixed offsets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from server import __version__, clock

PRODID = f"-//Eventdesk//Eventdesk {__version__}//EN"
MEDIA_TYPE = "text/calendar; charset=utf-8"
STATUSES = {"confirmed": "CONFIRMED", "tentative": "TENTATIVE", "cancelled": "CANCELLED"}

# Control characters (C0 but tab and newline, DEL, C1) and the Unicode line/paragraph separators:
# a content line cannot hold them, and a stored title with CR LF would fail every feed it is in.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAK = re.compile("\r\n|[\r\n]")

# How far from icalendar's guess to look for a zone's real transition (a DST shift is ≤ 2 h).
_ONSET_WINDOW = timedelta(hours=6)


def session_uid(guid: str) -> str:
    """A session's UID: its guid never changes, so calendar apps update rather than duplicate."""
    return f"{guid}@eventdesk"


def session_url(base_url: str, slug: str, session_id: str) -> str:
    return f"{base_url}/api/v1/events/{slug}/sessions/{session_id}"


def render_calendar(
    *,
    event: dict,
    rooms: dict[str, dict],
    tracks: dict[str, dict],
    sessions: list[dict],
    name: str,
    base_url: str,
    refresh_seconds: int = 3600,
    extra_events: Iterable[dict] = (),
) -> bytes:
    """A VCALENDAR with one VEVENT per session (cancelled ones included) and per extra event.

    `event` is programme.event_document, `rooms`/`tracks` map ids to room/track documents,
    `sessions` are session documents, `base_url` is scheme://host[/prefix] with no trailing
    slash. `extra_events` (e.g. an attendee's accepted meetings) are dicts with uid (used as
    is: make it globally unique), title, start, end (ISO 8601 with offset), location,
    description, updated_at, sequence, status, and optionally url and categories.
    """
    from icalendar import Calendar, vDuration

    if refresh_seconds <= 0:
        raise ValueError("refresh_seconds must be positive")
    zone = ZoneInfo(event["timezone"])
    entries = [_session_entry(session, event, rooms, tracks, base_url) for session in sessions]
    entries += [_extra_entry(extra) for extra in extra_events]
    entries.sort(key=lambda entry: (entry["start"], entry["sort_id"]))

    calendar = Calendar()
    calendar.add("PRODID", PRODID)
    calendar.add("VERSION", "2.0")
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    calendar.add("NAME", one_line(name))
    calendar.add("X-WR-CALNAME", one_line(name))
    calendar.add("X-WR-TIMEZONE", event["timezone"])
    refresh = timedelta(seconds=refresh_seconds)
    calendar.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(refresh))
    # The components are serialised one by one and cached: icalendar's serialiser was ~75% of a
    # feed's build, and a feed rebuilt after one bookmark or one session edit repeats all but
    # one VEVENT. A calendar's text is its properties, then its components', in order.
    envelope = calendar.to_ical()
    end = b"END:VCALENDAR\r\n"
    if not envelope.endswith(end):
        raise ValueError("unexpected VCALENDAR serialisation")
    parts = [envelope[: -len(end)], _vtimezone_ical(event["timezone"], *_years(event, entries, zone))]
    parts += [_vevent_ical(_entry_key(entry), event["timezone"]) for entry in entries]
    return b"".join([*parts, end])


def _entry_key(entry: dict) -> tuple:
    """An entry as a hashable key (its one list, the categories, as a tuple)."""
    return tuple((name, tuple(value) if isinstance(value, list) else value) for name, value in sorted(entry.items()))


@lru_cache(maxsize=8192)
def _vevent_ical(key: tuple, tzid: str) -> bytes:
    entry = {name: list(value) if name == "categories" else value for name, value in key}
    return _vevent(entry, ZoneInfo(tzid)).to_ical()


@lru_cache(maxsize=64)
def _vtimezone_ical(tzid: str, first_year: int, last_year: int) -> bytes:
    return _vtimezone(tzid, first_year, last_year).to_ical()


def last_modified(
    sessions: Iterable[dict], event: dict | None = None, extra_events: Iterable[dict] = ()
) -> datetime | None:
    """The newest `updated_at` among the feed's items, in UTC, for the Last-Modified header.

    Pass the event's database row (programme.get_event), not its document: the row's
    updated_at moves with every programme change, including those that change a feed without
    touching its sessions (a room renamed, a session deleted).
    """
    stamps = [item["updated_at"] for item in sessions] + [item["updated_at"] for item in extra_events]
    if event is not None and event.get("updated_at"):
        stamps.append(event["updated_at"])
    return max((clock.parse_stamp(stamp).astimezone(UTC) for stamp in stamps), default=None)


def _session_entry(session: dict, event: dict, rooms: dict, tracks: dict, base_url: str) -> dict:
    url = session_url(base_url, event["slug"], session["id"])
    room = rooms.get(session["room"]) if session["room"] else None
    track = tracks.get(session["track"]) if session["track"] else None
    return {
        "uid": session_uid(session["guid"]),
        "sort_id": session["id"],
        "summary": session["title"],
        "start": clock.parse_stamp(session["start"]),
        "end": clock.parse_stamp(session["end"]),
        "location": _joined(room["name"] if room else "", event["venue"], event["city"]),
        "description": _description(session, url),
        "url": url,
        "categories": [category for category in (track["name"] if track else "", session["type"]) if category],
        "status": session["status"],
        "sequence": session["sequence"],
        "updated_at": session["updated_at"],
    }


def _extra_entry(extra: dict) -> dict:
    return {
        "uid": extra["uid"],
        "sort_id": extra["uid"],
        "summary": extra["title"],
        "start": clock.parse_stamp(extra["start"]),
        "end": clock.parse_stamp(extra["end"]),
        "location": extra.get("location") or "",
        "description": extra.get("description") or "",
        "url": extra.get("url") or "",
        "categories": list(extra.get("categories") or ()),
        "status": extra["status"],
        "sequence": extra["sequence"],
        "updated_at": extra["updated_at"],
    }


def one_line(text: str) -> str:
    """Text for a one-line property (summary, location, name, URL): every control character a space."""
    return _CONTROL.sub(" ", _LINE_BREAK.sub(" ", text.replace("\t", " ")))


def multi_line(text: str) -> str:
    """Text for DESCRIPTION: line breaks kept as newlines (icalendar escapes them), other controls a space."""
    return _CONTROL.sub(" ", _LINE_BREAK.sub("\n", text))


def _joined(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


def _description(session: dict, url: str) -> str:
    """The abstract, the speakers ("name (role), organisation"), then the session's URL."""
    blocks = [session["abstract"].strip()] if session["abstract"].strip() else []
    if session["speakers"]:
        lines = [_joined(f"{s['name']} ({s['role']})", s["organisation"]) for s in session["speakers"]]
        blocks.append("\n".join(["Speakers:", *lines]))
    blocks.append(url)
    return "\n\n".join(blocks)


def _vevent(entry: dict, zone: ZoneInfo):
    from icalendar import Event

    status = STATUSES.get(entry["status"].lower())
    if status is None:
        raise ValueError(f"unknown status {entry['status']!r} for {entry['uid']}")
    stamp = clock.parse_stamp(entry["updated_at"]).astimezone(UTC)
    vevent = Event()
    vevent.add("UID", entry["uid"])
    vevent.add("DTSTAMP", stamp)
    vevent.add("LAST-MODIFIED", stamp)
    vevent.add("SEQUENCE", entry["sequence"])
    vevent.add("DTSTART", entry["start"].astimezone(zone))
    vevent.add("DTEND", entry["end"].astimezone(zone))
    vevent.add("SUMMARY", one_line(entry["summary"]))
    for prop, clean in (("location", one_line), ("description", multi_line), ("url", one_line)):
        if entry[prop]:
            vevent.add(prop.upper(), clean(entry[prop]))
    if entry["categories"]:
        vevent.add("CATEGORIES", [one_line(category) for category in entry["categories"]])
    vevent.add("STATUS", status)
    return vevent


def _years(event: dict, entries: list[dict], zone: ZoneInfo) -> tuple[int, int]:
    """The first and last year the feed touches: its VTIMEZONE covers these whole years."""
    days = [date.fromisoformat(event["start_date"]), date.fromisoformat(event["end_date"])]
    days += [entry[end].astimezone(zone).date() for entry in entries for end in ("start", "end")]
    return min(days).year, max(days).year


def _vtimezone(tzid: str, first_year: int, last_year: int):
    """The zone's VTIMEZONE for whole years: a small, deterministic set of observances.

    icalendar bounds the transitions it lists by first_date/last_date (default 1970–2038,
    dozens of RDATEs); whole years keep both STANDARD and DAYLIGHT present for a DST zone.
    """
    from icalendar import Timezone

    vtimezone = Timezone.from_tzid(tzid, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1))
    zone = ZoneInfo(tzid)
    for observance in vtimezone.subcomponents:
        before, after = observance.decoded("TZOFFSETFROM"), observance.decoded("TZOFFSETTO")
        if before == after:
            continue  # the opening observance at first_date: not a transition
        onset = observance.decoded("DTSTART")
        del observance["DTSTART"]
        observance.add("DTSTART", _onset(onset, zone, before, after))
        rdates = observance.pop("RDATE", None)
        if rdates is not None:
            values = [item.dt for group in (rdates if isinstance(rdates, list) else [rdates]) for item in group.dts]
            observance.add("RDATE", [_onset(value, zone, before, after) for value in values])
    return vtimezone


def _onset(guess: datetime, zone: ZoneInfo, before: timedelta, after: timedelta) -> datetime:
    """A transition's onset as RFC 5545 §3.6.5 wants it: local time in the offset before it.

    icalendar gives the first wall-clock time after a spring-forward gap (03:00, not 02:00
    for Europe/Brussels), which puts the change an hour late; so find the exact second the
    zone's offset changes near the guess and write that in the old offset.
    """
    low = (guess - before).replace(tzinfo=UTC) - _ONSET_WINDOW
    high = low + 2 * _ONSET_WINDOW
    offset = lambda moment: moment.astimezone(zone).utcoffset()  # noqa: E731 - a one-line helper
    if offset(low) != before or offset(high) != after:
        return guess
    while high - low > timedelta(seconds=1):
        middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
        if offset(middle) == before:
            low = middle
        else:
            high = middle
    return (high + before).replace(tzinfo=None)
