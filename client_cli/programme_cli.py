"""`eventdesk agenda|now|next|show|search|speakers|rooms|export`: the programme, read from the cache.

Every command here answers from the local cache alone, so it works with no network. Registered
in cli.py (COMMANDS).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import click

from client_cli import output
from client_cli.context import Context, display_zone, read_options, require_session, rooms_by_id
from client_cli.errors import CliError
from server.fts import fts_query


def _json_sessions(sessions: list[dict], zone, tz: str | None) -> list[dict]:
    return [output.in_zone(session, zone) for session in sessions] if tz else sessions


def _print_sessions(cache, sessions: list[dict], zone, *, empty: str) -> None:
    if not sessions:
        output.say(empty)
        return
    mine = set(cache.my_session_ids())
    for line in output.sessions_by_day(sessions, zone, cache.days(), rooms_by_id(cache), mine):
        output.say(line)
    output.say("")
    output.say(output.legend(zone, mine))


@click.command("agenda")
@click.option("--day", help="Day number (1, 2, …) or date (YYYY-MM-DD).")
@click.option("--track", help="Track id or name.")
@click.option("--room", help="Room id or name.")
@click.option("--type", "session_type", help="Session type (plenary, workshop, break, …).")
@read_options
@click.pass_obj
def agenda_command(
    obj: Context, day: str | None, track: str | None, room: str | None, session_type: str | None, as_json, tz
) -> None:
    """The programme, day by day, from the local cache (works offline).

    \b
    Example:
      eventdesk agenda --day 1 --track sme-growth
      eventdesk agenda --room "Plenary Hall" --json
    """
    cache = obj.cache()
    zone = display_zone(cache, tz)
    filters = {
        "day": _resolve_day(cache, day) if day else None,
        "track": _resolve_item("track", cache.tracks(), track) if track else None,
        "room": _resolve_item("room", cache.rooms(), room) if room else None,
        "type": _resolve_type(cache, session_type) if session_type else None,
    }
    sessions = cache.sessions(**filters)
    if as_json:
        output.echo_json(_json_sessions(sessions, zone, tz))
        return
    _print_sessions(cache, sessions, zone, empty="No sessions match.")


def _resolve_day(cache, value: str) -> str:
    days = cache.days()
    for day in days:
        if value.strip() in (str(day["number"]), day["date"]):
            return day["date"]
    choices = ", ".join(f"{day['number']} ({day['date']})" for day in days)
    raise CliError(f"the event has no day {value!r}; its days are {choices}")


def _resolve_item(kind: str, items: list[dict], value: str) -> str:
    wanted = value.strip().casefold()
    for item in items:
        if wanted in (item["id"].casefold(), item["name"].casefold()):
            return item["id"]
    choices = ", ".join(f"{item['id']} ({item['name']})" for item in items)
    raise CliError(f"no {kind} {value!r}; the {kind}s are {choices}")


def _resolve_type(cache, value: str) -> str:
    types = cache.types()
    if value.strip().lower() in types:
        return value.strip().lower()
    raise CliError(f"no sessions of type {value!r}; the types are {', '.join(types)}")


def _at_option(function):
    """--at, which `now` and `next` take (read by `_now`)."""
    return click.option(
        "--at", metavar="DATETIME", help="Pretend it is this time (e.g. 2014-10-20T14:30; else EVENTDESK_NOW)."
    )(function)


def _now(at: str | None, zone) -> datetime:
    """--at, else EVENTDESK_NOW (as the server reads it), else the clock; naive times are in `zone`."""
    text = at or os.environ.get("EVENTDESK_NOW")
    if not text:
        return datetime.now(UTC)
    try:
        return output.parse_moment(text, zone)
    except ValueError:
        source = "--at" if at else "EVENTDESK_NOW"
        problem = f"{text!r} is not a date and time such as 2014-10-20T14:30"
        raise click.BadParameter(problem, param_hint=source) from None


@click.command("now")
@_at_option
@read_options
@click.pass_obj
def now_command(obj: Context, at: str | None, as_json: bool, tz: str | None) -> None:
    """What is on now (cancelled sessions left out).

    \b
    Example:
      eventdesk now
      eventdesk now --at 2014-10-20T15:00
    """
    cache = obj.cache()
    zone = display_zone(cache, tz)
    moment = _now(at, zone)
    on, upcoming = cache.sessions_around(moment)
    if as_json:
        output.echo_json(_json_sessions(on, zone, tz))
        return
    when = f"{moment.astimezone(zone):%A %-d %B %Y %H:%M}"
    if not on:
        output.say(f"Nothing on at {when}.")
        if upcoming:
            first = output.local(upcoming[0]["start"], zone)
            output.say(f"Next, at {first:%A %-d %B %H:%M}: {', '.join(s['title'] for s in upcoming)}")
        return
    output.say(f"On at {when}:")
    _print_sessions(cache, on, zone, empty="")


@click.command("next")
@_at_option
@read_options
@click.pass_obj
def next_command(obj: Context, at: str | None, as_json: bool, tz: str | None) -> None:
    """The sessions that start next (all of that time slot; cancelled ones left out).

    \b
    Example:
      eventdesk next
      eventdesk next --at "2014-10-21 10:15"
    """
    cache = obj.cache()
    zone = display_zone(cache, tz)
    moment = _now(at, zone)
    _, upcoming = cache.sessions_around(moment)
    if as_json:
        output.echo_json(_json_sessions(upcoming, zone, tz))
        return
    when = f"{moment.astimezone(zone):%A %-d %B %Y %H:%M}"
    if not upcoming:
        output.say(f"Nothing starts after {when}.")
        return
    output.say(f"Next after {when}:")
    _print_sessions(cache, upcoming, zone, empty="")


@click.command("show")
@click.argument("session_id")
@read_options
@click.pass_obj
def show_command(obj: Context, session_id: str, as_json: bool, tz: str | None) -> None:
    """One session in full: time, room, speakers, abstract, and whether it is in your schedule.

    \b
    Example:
      eventdesk show opening-plenary
    """
    from client_cli import schedule

    cache = obj.cache()
    zone = display_zone(cache, tz)
    session = require_session(cache, session_id.strip())
    if as_json:
        output.echo_json(_json_sessions([session], zone, tz)[0])
        return
    items = {item["session"]["id"]: item for item in schedule.my_schedule(cache)["items"]}
    lines = output.session_detail(
        session,
        zone,
        rooms_by_id(cache),
        {track["id"]: track for track in cache.tracks()},
        cache.days(),
        items.get(session["id"]),
    )
    for line in lines:
        output.say(line)


@click.command("search")
@click.argument("words", nargs=-1, required=True)
@read_options
@click.pass_obj
def search_command(obj: Context, words: tuple[str, ...], as_json: bool, tz: str | None) -> None:
    """Full-text search over titles, abstracts and speaker names (every word, as a prefix).

    \b
    Example:
      eventdesk search cluster finance
      eventdesk search "smart spec" --json
    """
    cache = obj.cache()
    zone = display_zone(cache, tz)
    text = " ".join(words)
    query = fts_query(text)
    if not query:
        raise CliError("the search text has no words")
    sessions = cache.sessions(match=query)
    if as_json:
        output.echo_json(_json_sessions(sessions, zone, tz))
        return
    _print_sessions(cache, sessions, zone, empty=f"Nothing matches {text!r}.")


@click.command("speakers")
@click.argument("name", required=False)
@read_options
@click.pass_obj
def speakers_command(obj: Context, name: str | None, as_json: bool, tz: str | None) -> None:
    """Speakers by name, with their sessions; NAME filters by name or organisation.

    \b
    Example:
      eventdesk speakers
      eventdesk speakers commission --json
    """
    cache = obj.cache()
    speakers = cache.speakers()
    if name:
        wanted = name.casefold()
        speakers = [s for s in speakers if wanted in f"{s['name']} {s.get('organisation') or ''}".casefold()]
    if as_json:
        output.echo_json(speakers)
        return
    if not speakers:
        output.say("No speakers match.")
        return
    for speaker in speakers:
        output.say(f"{speaker['name']}  [{speaker['id']}]")
        if speaker.get("organisation"):
            output.say(f"    {speaker['organisation']}")
        output.say(f"    sessions: {', '.join(speaker['sessions']) or '-'}")


@click.command("rooms")
@read_options
@click.pass_obj
def rooms_command(obj: Context, as_json: bool, tz: str | None) -> None:
    """The rooms, with capacity and how many sessions each holds.

    \b
    Example:
      eventdesk rooms
      eventdesk rooms --json
    """
    cache = obj.cache()
    rooms = cache.rooms()
    if as_json:
        output.echo_json(rooms)
        return
    counts: dict[str, int] = {}
    for session in cache.sessions():
        counts[session["room"]] = counts.get(session["room"], 0) + 1
    rows = [
        [
            room["id"],
            "-" if room["capacity"] is None else str(room["capacity"]),
            str(counts.get(room["id"], 0)),
            room["name"],
        ]
        for room in rooms
    ]
    for line in output.table(["ID", "CAPACITY", "SESSIONS", "NAME"], rows):
        output.say(line)


# --- export -------------------------------------------------------------------------------


@click.group("export")
def export_group() -> None:
    """Write the cached programme as iCalendar or JSON (to stdout, or --output FILE).

    \b
    Example:
      eventdesk export ics --mine > my-schedule.ics
      eventdesk export json -o programme.json
    """


@export_group.command("ics")
@click.option("--mine", is_flag=True, help="Only your schedule.")
@click.option("--track", "tracks", multiple=True, help="Only this track (id or name); repeat for several.")
@click.option("--day", help="Only this day (number or date).")
@click.option("-o", "--output", "target", type=click.File("wb"), default="-", help="Write here, not to stdout.")
@click.pass_obj
def export_ics(obj: Context, mine: bool, tracks: tuple[str, ...], day: str | None, target) -> None:
    """The programme (or a part) as an iCalendar file, with the same UIDs as the server's feeds.

    \b
    Example:
      eventdesk export ics --track sme-growth --track "Cluster policy" > sessions.ics
      eventdesk export ics --mine -o mine.ics
    """
    from client_cli import export

    cache = obj.cache()
    track_ids = [_resolve_item("track", cache.tracks(), track) for track in tracks]
    day_date = _resolve_day(cache, day) if day else None
    target.write(export.ics(cache, obj.settings.server, mine=mine, tracks=track_ids, day=day_date))


@export_group.command("json")
@click.option("-o", "--output", "target", type=click.File("w", encoding="utf-8"), default="-", help="Write here.")
@click.pass_obj
def export_json(obj: Context, target) -> None:
    """The whole cached programme as JSON, in the shape of GET /events/{event}/programme.

    \b
    Example:
      eventdesk export json > programme.json
    """

    cache = obj.cache()
    target.write(output.json_text(cache.programme(), indent=2) + "\n")


COMMANDS = (
    agenda_command,
    now_command,
    next_command,
    show_command,
    search_command,
    speakers_command,
    rooms_command,
    export_group,
)
