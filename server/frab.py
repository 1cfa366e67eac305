"""The programme in the frab/c3voc schedule format (schedule.json and schedule.xml), as bytes.

Offline schedule apps (Giggity, EventFahrplan, ConfClerk, ...) read this format, first written
by pentabarf and frab and kept by the c3voc (https://c3voc.de/wiki/schedule). A pure renderer
like server/ical.py: the documents of server/programme.py in, bytes out; nothing depends on
"now", so the same programme always gives the same bytes and the same ETag.

Both files come from one document (`schedule_document`), so the JSON and the XML can never
disagree. Choices the format leaves to us:

- a session's `guid` is its Eventdesk guid, the one in its iCalendar UID; its integer `id`
  (required, deprecated in favour of guid) is the session's row number, unique and stable;
- days run from local midnight to local midnight in the event's zone (a DST day lasts 23 or
  25 hours); a session belongs to the day it starts on;
- sessions with no room (breaks, registration, networking) are in one room named after the
  venue, since the format puts every session in a room;
- a cancelled session stays, its title starting "Cancelled: ": the format has no status
  field, and apps that do not compare versions (Giggity, ConfClerk) would otherwise drop it
  and its reminder silently, while EventFahrplan shows the title change as a change. The
  same rule as the calendar feeds, which keep it with STATUS:CANCELLED;
- persons carry their public name only (`name`, and `public_name` for older readers).
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from server import __version__, clock

JSON_MEDIA_TYPE = "application/json"
XML_MEDIA_TYPE = "application/xml; charset=utf-8"
SCHEMA_URL = "https://c3voc.de/schedule/schema.json"
CANCELLED_PREFIX = "Cancelled: "
CANCELLED_NOTE = "This session is cancelled."

# Room and person guids: fixed by the event and the item's id, like session guids.
_NAMESPACE = uuid.UUID("8903a5dc-31ad-48a5-9790-c0c2b93b4afb")
_SLUG = re.compile(r"[a-z0-9_-]+[a-z0-9]")  # schema.json's slug of a room, track or event
_XML_SLUG = re.compile(r"[a-z0-9_]{4,}-[a-z0-9\-_]{4,}")  # the XSD's voc-slug-new
_XML_TRACK_SLUG = re.compile(r"[a-z][a-z0-9-]+")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
# What XML 1.0 cannot hold at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def acronym(slug: str) -> str:
    """The event's slug as the format's acronym: '-' becomes '_', and at least 4 characters.

    schema.json allows a '-' only as the first character (or in a "-2014-name" suffix) and
    both schemas want 4 characters; an Eventdesk slug is 1-64 of [a-z0-9-].
    """
    return slug.replace("-", "_").ljust(4, "_")


def item_guid(slug: str, kind: str, item_id: str) -> str:
    """A room's or person's guid: the format wants one, Eventdesk's ids are strings."""
    return str(uuid.uuid5(_NAMESPACE, f"{slug}#{kind}/{item_id}"))


def person_number(guid: str) -> int:
    """A person's integer id for the XML (readers group persons by it): 31 bits of their guid."""
    return uuid.UUID(guid).int >> 97


def schedule_document(
    *,
    event: dict,
    rooms: list[dict],
    tracks: list[dict],
    sessions: list[dict],
    numbers: dict[str, int],
    base_url: str,
) -> dict:
    """The schedule as schema.json describes it.

    `event` is programme.event_document (with its days), `rooms` and `tracks` the room and
    track documents in display order, `sessions` session documents in time order, `numbers`
    each session's integer id by session id, `base_url` scheme://host[/prefix] with no
    trailing slash.
    """
    zone = ZoneInfo(event["timezone"])
    slug = event["slug"]
    room_names = {room["id"]: room["name"] for room in rooms}
    track_names = {track["id"]: track["name"] for track in tracks}
    venue_room = _venue_room_name(event, rooms)
    conference_rooms = [_room(slug, room) for room in rooms]
    if any(session["room"] is None for session in sessions):
        conference_rooms.append({"name": venue_room, "guid": item_guid(slug, "room", "")})

    days = []
    for day in event["days"]:
        start = datetime.combine(date.fromisoformat(day["date"]), time(), zone)
        end = datetime.combine(date.fromisoformat(day["date"]) + timedelta(days=1), time(), zone)
        by_room: dict[str, list[dict]] = {room["name"]: [] for room in conference_rooms}
        for session in sessions:
            if session["day"] == day["date"]:
                room = room_names[session["room"]] if session["room"] else venue_room
                by_room[room].append(_event(session, event, room, track_names, numbers[session["id"]], base_url, zone))
        days.append(
            {
                "index": day["number"],
                "date": day["date"],
                "day_start": start.isoformat(),
                "day_end": end.isoformat(),
                "rooms": by_room,
            }
        )

    conference = {
        "acronym": acronym(slug),
        "title": event["title"],
        "description": event["description"],
        "start": event["start_date"],
        "end": event["end_date"],
        "daysCount": len(event["days"]),
        "timeslot_duration": _timeslot(sessions),
        "time_zone_name": event["timezone"],
        "url": _http_url(event["url"]) or f"{base_url}/e/{slug}/",
        "rooms": conference_rooms,
        "tracks": [_track(track) for track in tracks],
        "days": days,
    }
    return {
        "$schema": SCHEMA_URL,
        "generator": {"name": "Eventdesk", "version": __version__},
        "schedule": {
            "version": str(event["version"]),
            "base_url": f"{base_url}/",
            "url": f"{base_url}/api/v1/events/{slug}/schedule.xml",
            "conference": conference,
        },
    }


def render_json(document: dict) -> bytes:
    """schedule.json: the document, compact, keys in the format's order."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def render_xml(document: dict) -> bytes:
    """schedule.xml, as the c3voc XSD lays it out, from the same document."""
    from xml.etree import ElementTree as ET

    schedule, conference = document["schedule"], document["schedule"]["conference"]
    root = ET.Element("schedule")
    ET.SubElement(root, "generator", _attrs(document["generator"]))
    _sub(root, "url", schedule["url"])
    _sub(root, "version", schedule["version"])
    head = ET.SubElement(root, "conference")
    for name in ("title", "acronym", "start", "end"):
        _sub(head, name, conference[name])
    _sub(head, "days", str(conference["daysCount"]))
    _sub(head, "timeslot_duration", conference["timeslot_duration"])
    _sub(head, "base_url", schedule["base_url"])
    _sub(head, "url", conference["url"])
    _sub(head, "time_zone_name", conference["time_zone_name"])
    for track in conference["tracks"]:
        attributes = {"name": track["name"]}
        if "color" in track:
            attributes["color"] = track["color"]
        if _XML_TRACK_SLUG.fullmatch(track.get("slug", "")):
            attributes["slug"] = track["slug"]
        _sub(head, "track", track["name"], attributes)
    guids = {room["name"]: room["guid"] for room in conference["rooms"]}
    for day in conference["days"]:
        attributes = {"index": str(day["index"]), "date": day["date"], "start": day["day_start"], "end": day["day_end"]}
        day_element = ET.SubElement(root, "day", attributes)
        for room_name, events in day["rooms"].items():
            room_element = ET.SubElement(day_element, "room", _attrs({"name": room_name, "guid": guids[room_name]}))
            for item in events:
                _xml_event(ET.SubElement(room_element, "event", {"id": str(item["id"]), "guid": item["guid"]}), item)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


# --- parts -----------------------------------------------------------------------------------


def _event(session: dict, event: dict, room: str, tracks: dict, number: int, base_url: str, zone: ZoneInfo) -> dict:
    starts = clock.parse_stamp(session["start"]).astimezone(zone)
    ends = clock.parse_stamp(session["end"]).astimezone(zone)
    minutes = session["duration_minutes"]
    cancelled = session["status"] == "cancelled"
    return {
        "guid": session["guid"],
        "id": number,
        "date": starts.isoformat(),
        "start": f"{starts:%H:%M}",
        "end": ends.isoformat(),
        "duration": f"{minutes // 60:02d}:{minutes % 60:02d}",
        "room": room,
        "slug": f"{acronym(event['slug'])}-{session['id']}".rstrip("-"),
        "url": f"{base_url}/e/{event['slug']}/sessions/{session['id']}",
        "title": (CANCELLED_PREFIX if cancelled else "") + session["title"],
        "subtitle": "",
        "track": tracks[session["track"]] if session["track"] else None,
        "type": session["type"],
        "language": session["language"],
        "abstract": session["abstract"],
        "description": CANCELLED_NOTE if cancelled else "",
        "persons": [_person(event["slug"], speaker) for speaker in session["speakers"]],
        "links": [],
    }


def _person(slug: str, speaker: dict) -> dict:
    """Name and guid only. No `id`: with it, a person matches both of schema.json's person kinds."""
    return {"guid": item_guid(slug, "person", speaker["id"]), "name": speaker["name"], "public_name": speaker["name"]}


def _room(slug: str, room: dict) -> dict:
    found = {"name": room["name"], "guid": item_guid(slug, "room", room["id"])}
    if _SLUG.fullmatch(room["id"]):
        found["slug"] = room["id"]
    return {**found, "capacity": room["capacity"], "description": room["description"]}


def _track(track: dict) -> dict:
    found = {"name": track["name"]}
    if _SLUG.fullmatch(track["id"]):
        found["slug"] = track["id"]
    if _COLOR.fullmatch(track["color"] or ""):
        found["color"] = track["color"]
    return found


def _venue_room_name(event: dict, rooms: list[dict]) -> str:
    """The room of sessions with none: the venue's name, unless a real room already has it."""
    name = event["venue"].strip() or "Venue"
    return f"{name} (common areas)" if name in {room["name"] for room in rooms} else name


def _timeslot(sessions: list[dict]) -> str:
    """The grid every start and duration fits (apps draw rows of it), at most an hour."""
    step = 0
    for session in sessions:
        starts = clock.parse_stamp(session["start"])
        step = math.gcd(step, starts.hour * 60 + starts.minute, session["duration_minutes"])
    step = min(step or 15, 60)
    return f"{step // 60:02d}:{step % 60:02d}"


def _http_url(value: str | None) -> str | None:
    """An http(s) URL as both schemas want one, or None."""
    value = (value or "").strip()
    return value if re.fullmatch(r"https?://\S+", value) else None


def _xml_event(element, item: dict) -> None:
    for name in ("room", "title", "subtitle", "type", "date", "start", "duration", "abstract"):
        _sub(element, name, item[name])
    if _XML_SLUG.fullmatch(item["slug"]):
        _sub(element, "slug", item["slug"])
    _sub(element, "track", item["track"] or "")
    persons = _sub(element, "persons", None)
    for person in item["persons"]:
        number = str(person_number(person["guid"]))
        _sub(persons, "person", person["name"], {"id": number, "guid": person["guid"]})
    _sub(element, "language", item["language"])
    _sub(element, "description", item["description"])
    _sub(element, "links", None)
    _sub(element, "url", item["url"])


def _sub(parent, tag: str, text: str | None, attributes: dict | None = None):
    from xml.etree import ElementTree as ET

    element = ET.SubElement(parent, tag, _attrs(attributes or {}))
    if text:
        element.text = _NOT_XML.sub("", text)
    return element


def _attrs(values: dict) -> dict:
    return {name: _NOT_XML.sub("", str(value)) for name, value in values.items()}
