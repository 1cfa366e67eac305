"""What the commands print: readable tables in a chosen time zone, or JSON for scripts.

Tables go to stdout; notes (the cache's age, fallbacks) go to stderr so that `--json` output
stays clean to pipe. Titles are cut to the terminal's width only when stdout is a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from client_cli import safetext

MINE = "★"
CANCELLED = "✗"
STALE_AFTER = timedelta(days=1)


# --- time -------------------------------------------------------------------------------


def zone_named(name: str) -> tzinfo:
    """An IANA zone, or "local" for this machine's; ValueError if unknown."""
    if name.lower() == "local":
        return datetime.now().astimezone().tzinfo
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Brussels, or local)") from None


def zone_label(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or datetime.now(zone).strftime("%Z") or "local time"


def local(stamp: str, zone: tzinfo) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(zone)


def time_range(session: dict, zone: tzinfo) -> str:
    """ "14:00–15:30", with "+1" when it ends on a later day in that zone."""
    start, end = local(session["start"], zone), local(session["end"], zone)
    later = (end.date() - start.date()).days
    return f"{start:%H:%M}–{end:%H:%M}" + (f"+{later}" if later else "")


def day_label(day: str) -> str:
    return f"{date.fromisoformat(day):%A %-d %B %Y}"


def in_zone(session: dict, zone: tzinfo) -> dict:
    """A session document with its start and end written in `zone`."""
    return dict(session, start=local(session["start"], zone).isoformat(), end=local(session["end"], zone).isoformat())


def parse_moment(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 date-time; without an offset it is read in `zone`. ValueError if unreadable."""
    value = datetime.fromisoformat(text.strip())
    value = value.replace(tzinfo=zone) if value.tzinfo is None else value
    try:
        value.astimezone(UTC)  # the cache compares in UTC: 0001-01-01 east of Greenwich has none
    except OverflowError:
        raise ValueError(f"{text!r} is out of range") from None
    return value


# --- printing ---------------------------------------------------------------------------


def say(message: object = "", *, err: bool = False, fg: str | None = None, bold: bool | None = None) -> None:
    """Print one block of output: every line the CLI prints passes here, cleaned of escapes.

    Colours are added after cleaning, so only Eventdesk chooses them (see client_cli.safetext).
    """
    click.secho(safetext.clean(message, multi_line=True), err=err, fg=fg, bold=bold)


def json_text(value: object, *, indent: int | None = None) -> str:
    """`value` as JSON that a terminal shows as data, never obeys."""
    return safetext.json_safe(json.dumps(value, ensure_ascii=False, indent=indent))


def echo_json(value: object) -> None:
    say(json_text(value, indent=2))


def note(message: str) -> None:
    say(f"eventdesk: {message}", err=True)


def age_note(synced_at: datetime | None, *, now: datetime | None = None) -> None:
    """Say on stderr how old the cache is, when it is older than a day."""
    if synced_at is None:
        return
    age = (now or datetime.now(UTC)) - synced_at
    if age > STALE_AFTER:
        note(f"the cache is {describe_age(age)} old (last sync {synced_at:%Y-%m-%d %H:%M} UTC); run `eventdesk sync`")


def describe_age(age: timedelta) -> str:
    if age >= timedelta(days=2):
        return f"{age.days} days"
    if age >= timedelta(days=1):
        return "1 day"
    hours = int(age.total_seconds() // 3600)
    if hours:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{int(age.total_seconds() // 60)} minutes"


def _width() -> int | None:
    """The terminal's width when stdout is a terminal; None (never cut) when piped."""
    if not sys.stdout.isatty():
        return None
    try:  # os, not shutil: shutil's imports cost more start-up time than the rest of this module
        return int(os.environ.get("COLUMNS", "0")) or os.get_terminal_size(sys.stdout.fileno()).columns
    except (ValueError, OSError):
        return 80


def _fit(text: str, room: int | None) -> str:
    if room is None or len(text) <= room:
        return text
    return text[: max(room - 1, 1)] + "…"


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Left-aligned columns; the last one is cut to the terminal's width when there is one."""
    if not rows:
        return []
    rows = [[safetext.clean(cell) for cell in row] for row in rows]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers) - 1)]
    width = _width()
    lines = []
    for row in [headers, *rows]:
        head = "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row[:-1]))
        room = None if width is None else width - len(head) - 2
        lines.append(f"{head}  {_fit(str(row[-1]), room)}".rstrip())
    return lines


def session_rows(sessions: list[dict], zone: tzinfo, rooms: dict[str, dict], mine: set[str]) -> list[list[str]]:
    rows = []
    for session in sessions:
        mark = CANCELLED if session["status"] == "cancelled" else (MINE if session["id"] in mine else " ")
        room = rooms[session["room"]]["name"] if session["room"] in rooms else ""
        title = session["title"] + (" (cancelled)" if session["status"] == "cancelled" else "")
        rows.append([mark + time_range(session, zone), room, session["id"], title])
    return rows


def sessions_by_day(
    sessions: list[dict], zone: tzinfo, days: list[dict], rooms: dict[str, dict], mine: set[str]
) -> list[str]:
    """The agenda: a heading per event day, then its sessions; one column layout for all days."""
    labels = {day["date"]: day["label"] for day in days}
    rows = session_rows(sessions, zone, rooms, mine)
    lines = table([" TIME", "ROOM", "ID", "TITLE"], rows)
    if not lines:
        return []
    out: list[str] = []
    current = None
    for session, line in zip(sessions, lines[1:], strict=True):
        if session["day"] != current:
            current = session["day"]
            out += [""] if out else []
            out += [labels.get(current, day_label(current)), lines[0]]
        out.append(line)
    return out


def legend(zone: tzinfo, mine: set[str]) -> str:
    marks = f"; {MINE} in your schedule" if mine else ""
    return f"Times in {zone_label(zone)}{marks}; {CANCELLED} cancelled."


def session_detail(
    session: dict, zone: tzinfo, rooms: dict, tracks: dict, days: list[dict], schedule: dict | None
) -> list[str]:
    """`show ID`: every field worth reading, then the abstract."""
    import textwrap

    labels = {day["date"]: day["label"] for day in days}
    room = rooms.get(session["room"])
    track = tracks.get(session["track"])
    lines = [session["title"], ""]
    facts = [
        ("id", session["id"]),
        ("when", f"{labels.get(session['day'], session['day'])}, {time_range(session, zone)} ({zone_label(zone)})"),
        ("length", f"{session['duration_minutes']} min"),
        ("room", room["name"] if room else "-"),
        ("track", track["name"] if track else "-"),
        ("type", session["type"]),
        ("status", session["status"].upper() if session["status"] == "cancelled" else session["status"]),
        ("capacity", str(session["capacity"]) if session["capacity"] is not None else "-"),
        ("language", session.get("language") or "-"),
    ]
    if schedule is not None:
        facts.append(("schedule", schedule_note(schedule)))
    lines += [f"  {name:<9} {value}" for name, value in facts]
    if session["speakers"]:
        lines.append("")
        lines.append("Speakers:")
        for speaker in session["speakers"]:
            where = f", {speaker['organisation']}" if speaker.get("organisation") else ""
            lines.append(f"  {speaker['name']} ({speaker['role']}){where}")
    if session.get("abstract", "").strip():
        lines.append("")
        lines += textwrap.wrap(session["abstract"].strip(), width=78)
    return lines


def schedule_note(item: dict) -> str:
    """One schedule item's state: in it, queued, overlaps, seats left."""
    parts = ["queued to add (sent on the next sync)" if item.get("pending") == "add" else "in your schedule"]
    if item.get("overlaps"):
        parts.append("overlaps " + ", ".join(item["overlaps"]))
    if item.get("seats_left") is not None:
        parts.append(f"{item['seats_left']} seats left at the last sync")
    return "; ".join(parts)


def when_and_where(session: dict | None, zone: tzinfo, rooms: dict[str, dict]) -> str:
    """ "Mon 20 Oct 14:00–15:30, Plenary Hall"."""
    if session is None:
        return "-"
    when = f"{local(session['start'], zone):%a %-d %b} {time_range(session, zone)}"
    if not session["room"]:
        return when
    return f"{when}, {rooms.get(session['room'], {}).get('name', session['room'])}"


def sync_lines(report, zone: tzinfo, rooms: dict[str, dict]) -> list[str]:
    """What `eventdesk sync` says: the versions, what changed in words, and what it means for you."""
    event, lines = report.event, []
    if report.mode == "first":
        lines.append(f"{event}: {report.session_count} sessions cached (version {report.version}) from {report.server}")
    elif report.mode == "offline":
        lines.append(f"{event}: not synced; the cache holds version {report.version}")
    elif report.mode == "unchanged":
        lines.append(f"{event}: nothing changed (version {report.version})")
    else:
        how = " (whole programme: the server's change log no longer reaches back that far)" if report.gone else ""
        lines.append(f"{event}: version {report.version_before} → {report.version}{how}")
        lines.append(report.summary())
        for change in report.sessions:
            session = change.session
            mark = f"  {MINE} in your schedule" if change.in_my_schedule else ""
            lines.append(f"  {', '.join(change.kinds):<10} {session['title']} ({session['id']}){mark}")
            if "moved" in change.kinds:
                before = when_and_where(change.before, zone, rooms)
                lines.append(f"             {before} → {when_and_where(change.after, zone, rooms)}")
            elif change.kinds != ["removed"]:
                lines.append(f"             {when_and_where(session, zone, rooms)}")
        mine = report.mine()
        if mine:
            said = "; ".join(f"{c.session['title']} ({', '.join(c.kinds)})" for c in mine)
            lines.append(f"In your schedule: {said}")
    for result, noun, key, kept in (
        (report.schedule, "schedule", "session", "kept in `eventdesk my`; dismiss with `eventdesk my remove ID`"),
        (
            report.meetings,
            "meeting",
            "target",
            "kept in `eventdesk meetings`; dismiss with `eventdesk meet dismiss ID`",
        ),
    ):
        if result is not None:
            lines += _queue_lines(result, noun, key, kept)
    return lines


def _queue_lines(result, noun: str, key: str, kept: str) -> list[str]:
    """What a sync did with the changes queued offline: sent, refused (and where they stay), waiting."""
    lines = []
    if result.sent:
        said = ", ".join(f"{item['action']} {item[key]}" for item in result.sent)
        lines.append(f"Sent {len(result.sent)} queued {noun} change(s): {said}")
    for item in result.refused:
        lines.append(f"Refused by the server: {item['action']} {item[key]}: {item['message']}")
    if result.refused:
        lines.append(f"  ({kept})")
    if result.waiting:
        lines.append(f"{result.waiting} {noun} change(s) still queued for the next sync")
    return lines


def schedule_lines(document: dict, zone: tzinfo, rooms: dict[str, dict], days: list[dict]) -> list[str]:
    """`eventdesk my`: the sessions with their flags, then the queue and any refusals."""
    items, lines = document["items"], []
    if not items:
        lines.append("Your schedule is empty; add sessions with `eventdesk my add ID`.")
    else:
        overlapping = f", {document['overlap_count']} overlapping" if document["overlap_count"] else ""
        lines.append(f"Your schedule: {len(items)} session{'s' if len(items) != 1 else ''}{overlapping}")
        rows = []
        for item in items:
            session = item["session"]
            flags = []
            if session["status"] == "cancelled":
                flags.append("cancelled")
            if item["pending"] == "add":
                flags.append("queued")
            if item["overlaps"]:
                flags.append("overlaps " + ", ".join(item["overlaps"]))
            mark = CANCELLED if session["status"] == "cancelled" else MINE
            room = rooms[session["room"]]["name"] if session["room"] in rooms else ""
            title = session["title"] + (f"  [{'; '.join(flags)}]" if flags else "")
            day = f"{local(session['start'], zone):%a %-d %b}"
            rows.append([mark + day, time_range(session, zone), room, session["id"], title])
        lines += table([" DAY", "TIME", "ROOM", "ID", "TITLE"], rows)
        lines.append(f"Times in {zone_label(zone)}.")
    removals = [change["session"] for change in document["pending"] if change["action"] == "remove"]
    additions = [change["session"] for change in document["pending"] if change["action"] == "add"]
    if additions or removals:
        said = [f"add {i}" for i in additions] + [f"remove {i}" for i in removals]
        lines.append(f"Queued for the next sync: {', '.join(said)}")
    if document["refused"]:
        lines.append("Refused by the server at a sync (try `my add ID` again, or dismiss with `my remove ID`):")
        for item in document["refused"]:
            lines.append(f"  {item['action']} {item['session']}: {item['message']}")
    return lines


def meeting_lines(
    meetings: list[dict], me: str | None, zone: tzinfo, queued: list[dict], refused: list[dict]
) -> list[str]:
    """`eventdesk meetings`: status, time, table and partner of each, then the queue and any refusals."""
    from client_cli.meetings import describe_party, other_side

    lines = []
    if not meetings:
        lines.append("No meetings yet; ask for one with `eventdesk meet request PARTICIPANT_ID`.")
    else:
        rows = []
        for meeting in meetings:
            when = "-"
            if meeting.get("start"):
                when = f"{local(meeting['start'], zone):%a %-d %b} {time_range(meeting, zone)}"
            place = meeting.get("table") or "-"
            asked_me = bool(me) and meeting["partner"]["id"] == me
            hint = "  [asks you: accept or decline]" if asked_me and meeting["status"] == "requested" else ""
            rows.append([meeting["status"], when, place, meeting["id"], describe_party(other_side(meeting, me)) + hint])
        lines += table(["STATUS", "WHEN", "TABLE", "ID", "WITH"], rows)
        lines.append(f"Times in {zone_label(zone)}.")
    if queued:
        lines.append("Queued for the next sync: " + ", ".join(f"{c['action']} {c['target']}" for c in queued))
    if refused:
        lines.append("Refused by the server at a sync (try again, or dismiss with `eventdesk meet dismiss ID`):")
        for item in refused:
            lines.append(f"  {item['action']} {item['target']}: {item['message']}")
    return lines
