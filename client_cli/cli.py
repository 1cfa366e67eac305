"""The `eventdesk` command: thin click commands over config, api, cache, sync, schedule, door and output.

Every read command answers from the local cache, so it works with no network; see the
README's CLI section. Exit codes are named in client_cli/errors.py. Modules that are slow
to import (httpx, sqlite-utils, icalendar) are imported only by the commands that need them.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime

import click

from client_cli import __version__, config, output
from client_cli.door_cli import door_group
from client_cli.errors import CliError, DamagedCache


class Context:
    """What every command needs: the resolved settings, the output mode, and the open cache."""

    def __init__(self, flags: dict, as_json: bool):
        self.flags = flags
        self.as_json = as_json
        self._settings = None
        self._cache = None

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            self._settings = config.resolve(self.flags)
        return self._settings

    def cache(self):
        """The event's cache, filled by a first sync if there is none; exit 3 if that cannot be."""
        if self._cache is not None:
            return self._cache
        from client_cli.cache import Cache, CacheMissing, cache_path

        settings = self.settings
        path = cache_path(settings.server, settings.event)
        try:
            self._cache = Cache.open(path)
        except CacheMissing:
            output.note(f"nothing cached yet for {settings.event}; syncing from {settings.server}")
            self._cache = self._first_sync()
        except DamagedCache as problem:  # set it aside and fetch a new one, if the server answers
            output.note(problem.message)
            damaged = Cache.set_aside(path)
            output.note(f"moved it to {damaged}; syncing a new one from {settings.server}")
            self._cache = self._first_sync()
        output.age_note(self._cache.synced_at())
        return self._cache

    def _first_sync(self):
        from client_cli import sync

        report = sync.sync(self.settings, progress=_progress)  # NoCache (exit 3) when offline
        for line in report.sync_notes():
            output.note(line)
        output.note(f"cached {report.session_count} sessions (version {report.version})")
        return report.cache


class EventdeskGroup(click.Group):
    """Turns a CliError from any command into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CliError as problem:
            output.say(f"eventdesk: {problem.message}", err=True)
            sys.exit(problem.exit_code)


def _progress(items: list):
    """A progress bar on stderr for large syncs (click shows it only on a terminal)."""
    if len(items) <= 500:
        return iter(items)
    return _bar(items)


def _bar(items: list):
    with click.progressbar(items, label="Storing sessions", file=sys.stderr) as bar:
        yield from bar


def read_options(function):
    """--json and --tz, which every read command takes."""
    function = click.option(
        "--tz", metavar="ZONE", help="Show times in this IANA zone, or 'local' (default: the event's zone)."
    )(function)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (the API's shapes) instead of a table.")(
        function
    )


def _zone(cache, tz: str | None):
    try:
        return output.zone_named(tz or cache.event()["timezone"])
    except ValueError as problem:
        raise click.BadParameter(str(problem), param_hint="--tz") from None


def _json_sessions(sessions: list[dict], zone, tz: str | None) -> list[dict]:
    return [output.in_zone(session, zone) for session in sessions] if tz else sessions


def _rooms(cache) -> dict[str, dict]:
    return {room["id"]: room for room in cache.rooms()}


def _require_session(cache, session_id: str) -> dict:
    session = cache.session(session_id)
    if session is None:
        import difflib

        close = difflib.get_close_matches(session_id, sorted(cache.session_ids()), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; try `eventdesk search WORDS`"
        raise CliError(f"no session {session_id!r} in {cache.meta().get('event')}{hint}")
    return session


def _print_sessions(cache, sessions: list[dict], zone, *, empty: str) -> None:
    if not sessions:
        output.say(empty)
        return
    mine = set(cache.my_session_ids())
    for line in output.sessions_by_day(sessions, zone, cache.days(), _rooms(cache), mine):
        output.say(line)
    output.say("")
    output.say(output.legend(zone, mine))


# --- the group ----------------------------------------------------------------------------


@click.group(cls=EventdeskGroup)
@click.version_option(__version__, prog_name="eventdesk")
@click.option("--server", help="Server URL (else EVENTDESK_SERVER, else the config file).")
@click.option("--token", help="Personal or door token (else EVENTDESK_TOKEN, else the config file).")
@click.option("--event", help="Event slug (else EVENTDESK_EVENT, else the config file, else ecc2014).")
@click.pass_context
def cli(ctx: click.Context, server: str | None, token: str | None, event: str | None) -> None:
    """Eventdesk companion: the event agenda offline, your schedule, and door scanning.

    \b
    Example:
      eventdesk config set server https://events.example.org
      eventdesk sync
      eventdesk agenda --day 1
    """
    ctx.obj = Context({"server": server, "token": token, "event": event}, as_json=False)


@cli.group("config")
def config_group() -> None:
    """Show or save settings (server URL, token, event).

    \b
    Example:
      eventdesk config set server http://127.0.0.1:5000
      eventdesk config show
    """


@config_group.command("set")
@click.argument("key", type=click.Choice(config.KEYS))
@click.argument("value")
def config_set(key: str, value: str) -> None:
    """Save one setting in the config file (mode 0600).

    \b
    Example:
      eventdesk config set token edt_...
    """
    values = config.read_file()
    values[key] = value
    path = config.write_file(values)
    output.say(f"{key} saved in {path}")


@config_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def config_show(obj: Context, as_json: bool) -> None:
    """Show the settings in force and where each comes from (tokens are masked).

    \b
    Example:
      eventdesk config show --json
    """
    settings = obj.settings
    shown = {
        "server": settings.server,
        "token": (settings.token[:8] + "…") if settings.token else None,
        "event": settings.event,
    }
    if as_json:
        output.say(
            output.json_text({"settings": shown, "sources": settings.sources, "file": str(config.config_path())})
        )
        return
    for key, value in shown.items():
        output.say(f"{key:<7} {value or '-':<40} ({settings.sources[key]})")
    output.say(f"file    {config.config_path()}")


# --- sync ---------------------------------------------------------------------------------


@cli.command("sync")
@click.option("--full", is_flag=True, help="Fetch the whole programme, not just what changed.")
@read_options
@click.pass_obj
def sync_command(obj: Context, full: bool, as_json: bool, tz: str | None) -> None:
    """Bring the local cache up to date, send queued schedule changes, and say what changed.

    Asks the server whether the programme changed (a 304 costs a few bytes), fetches only the
    changes since the last sync, and, with a token, sends `my add`/`my remove` made offline and
    fetches your schedule. With no network it keeps the cache and says so.

    \b
    Example:
      eventdesk sync
      eventdesk --server http://127.0.0.1:5000 --event ecc2014 sync --json
    """
    from client_cli import sync

    report = sync.sync(obj.settings, full=full, progress=_progress)
    cache = report.cache
    for line in report.sync_notes():
        output.note(line)
    if as_json:
        output.echo_json(report.to_json())
        return
    zone = _zone(cache, tz)
    rooms = _rooms(cache)
    for line in output.sync_lines(report, zone, rooms):
        output.say(line)


# --- reading ------------------------------------------------------------------------------


@cli.command("agenda")
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
    zone = _zone(cache, tz)
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


@cli.command("now")
@click.option("--at", metavar="DATETIME", help="Pretend it is this time (e.g. 2014-10-20T14:30; else EVENTDESK_NOW).")
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
    zone = _zone(cache, tz)
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


@cli.command("next")
@click.option("--at", metavar="DATETIME", help="Pretend it is this time (e.g. 2014-10-20T14:30; else EVENTDESK_NOW).")
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
    zone = _zone(cache, tz)
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


@cli.command("show")
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
    zone = _zone(cache, tz)
    session = _require_session(cache, session_id.strip())
    if as_json:
        output.echo_json(_json_sessions([session], zone, tz)[0])
        return
    items = {item["session"]["id"]: item for item in schedule.my_schedule(cache)["items"]}
    lines = output.session_detail(
        session,
        zone,
        _rooms(cache),
        {track["id"]: track for track in cache.tracks()},
        cache.days(),
        items.get(session["id"]),
    )
    for line in lines:
        output.say(line)


@cli.command("search")
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
    zone = _zone(cache, tz)
    text = " ".join(words)
    query = _fts_query(text)
    if not query:
        raise CliError("the search text has no words")
    sessions = cache.sessions(match=query)
    if as_json:
        output.echo_json(_json_sessions(sessions, zone, tz))
        return
    _print_sessions(cache, sessions, zone, empty=f"Nothing matches {text!r}.")


def _fts_query(text: str) -> str:
    """User text as an FTS5 query, as the server builds it: every word must match, as a prefix."""
    words = "".join(ch if ch.isalnum() else " " for ch in text).split()
    return " ".join(f'"{word}"*' for word in words[:20])


@cli.command("speakers")
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


@cli.command("rooms")
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


# --- my schedule --------------------------------------------------------------------------


@cli.group("my", invoke_without_command=True)
@read_options
@click.pass_context
def my_group(ctx: click.Context, as_json: bool, tz: str | None) -> None:
    """Your personal schedule (needs a personal token to reach the server).

    With no subcommand, lists it: overlaps flagged, queued changes and refusals shown.

    \b
    Example:
      eventdesk my
      eventdesk my add opening-plenary
      eventdesk my remove opening-plenary
    """
    if ctx.invoked_subcommand is not None:
        return
    from client_cli import schedule

    cache = ctx.obj.cache()
    zone = _zone(cache, tz)
    document = schedule.my_schedule(cache)
    if as_json:
        if tz:
            for item in document["items"]:
                item["session"] = output.in_zone(item["session"], zone)
        output.echo_json(document)
        return
    for line in output.schedule_lines(document, zone, _rooms(cache), cache.days()):
        output.say(line)
    if not ctx.obj.settings.token and (document["items"] or document["pending"]):
        output.note("no token set: your schedule stays on this machine until `eventdesk config set token …`")


@my_group.command("add")
@click.argument("session_id")
@click.pass_obj
def my_add(obj: Context, session_id: str) -> None:
    """Bookmark a session; queued if the server cannot be reached, and sent by the next sync.

    \b
    Example:
      eventdesk my add opening-plenary
    """
    _change_schedule(obj, session_id.strip(), "add")


@my_group.command("remove")
@click.argument("session_id")
@click.pass_obj
def my_remove(obj: Context, session_id: str) -> None:
    """Remove a bookmark (or dismiss a refused one); queued if the server cannot be reached.

    \b
    Example:
      eventdesk my remove opening-plenary
    """
    _change_schedule(obj, session_id.strip(), "remove")


def _change_schedule(obj: Context, session_id: str, action: str) -> None:
    from client_cli import schedule

    cache = obj.cache()
    session = _require_session(cache, session_id)
    zone = _zone(cache, None)
    mine = set(cache.my_session_ids())
    refused = {item["session"] for item in cache.refused()}
    if action == "add" and session_id in mine:
        output.say(f"{session['title']} ({session_id}) is already in your schedule.")
        return
    if action == "add" and session["status"] == "cancelled":
        raise CliError(f"{session_id} is cancelled (as of the last sync); it cannot be added")
    if action == "remove" and session_id not in mine:
        if session_id in refused:
            cache.forget_refusal(session_id)
            output.say(f"Dismissed the refused request for {session_id}.")
            return
        raise CliError(f"{session_id} is not in your schedule")
    outcome = schedule.change(cache, obj.settings, session_id, action)
    when = f"{output.local(session['start'], zone):%a %-d %b} {output.time_range(session, zone)}"
    verb = "Added" if action == "add" else "Removed"
    if outcome == "queued":
        verb = f"Queued ({action})"
        reason = "no token set" if not obj.settings.token else "the server cannot be reached"
        output.note(f"{reason}: the change is kept here and sent by the next `eventdesk sync`")
    output.say(f"{verb}: {session['title']} ({session_id}), {when}")
    if action == "add":
        document = schedule.my_schedule(cache)
        item = next((i for i in document["items"] if i["session"]["id"] == session_id), None)
        others = {i["session"]["id"]: i["session"] for i in document["items"]}
        for other_id in item["overlaps"] if item else []:
            other = others[other_id]
            output.say(f"  overlaps {other['title']} ({other_id}), {output.time_range(other, zone)}")


# --- matchmaking meetings -----------------------------------------------------------------


@cli.command("meetings")
@read_options
@click.pass_obj
def meetings_command(obj: Context, as_json: bool, tz: str | None) -> None:
    """Your matchmaking meetings as of the last sync: status, time, table and partner (works offline).

    Queued `meet` changes and refusals met at a sync are listed after them.

    \b
    Example:
      eventdesk meetings
      eventdesk meetings --json
    """
    from client_cli import meetings

    cache = obj.cache()
    zone = _zone(cache, tz)
    found = cache.meetings()
    if tz:
        found = [_meeting_in_zone(meeting, zone) for meeting in found]
    synced = cache.meta().get("meetings_synced_at")
    age = _meetings_age(synced)
    if as_json:
        output.echo_json(found)
        output.note(age)
        return
    queued, refused = cache.pending(meetings.KIND), cache.refused(meetings.KIND)
    for line in output.meeting_lines(found, cache.meta().get("participant_id"), zone, queued, refused):
        output.say(line)
    output.say(age)
    if not obj.settings.token and queued:
        output.note("no token set: queued meeting changes stay on this machine until `eventdesk config set token …`")


def _meeting_in_zone(meeting: dict, zone) -> dict:
    return output.in_zone(meeting, zone) if meeting.get("start") else meeting


def _meetings_age(synced: str | None) -> str:
    if not synced:
        return "Meetings not synced yet: run `eventdesk sync` with your personal token."
    at = datetime.fromisoformat(synced)
    return f"As of the last sync, {output.describe_age(datetime.now(UTC) - at)} ago ({at:%Y-%m-%d %H:%M} UTC)."


@cli.group("meet")
def meet_group() -> None:
    """Ask for, answer or cancel a matchmaking meeting; queued when the server cannot be reached.

    \b
    Example:
      eventdesk meet request p-3f9k2m7q --message "Shall we talk photonics?"
      eventdesk meet accept m-7k2m9q4x
    """


@meet_group.command("request")
@click.argument("participant_id")
@click.option("--message", default="", help="A few words for them (up to 1,000 characters).")
@click.pass_obj
def meet_request(obj: Context, participant_id: str, message: str) -> None:
    """Ask a participant for a meeting (PARTICIPANT_ID from suggestions or the participant list).

    \b
    Example:
      eventdesk meet request p-3f9k2m7q --message "Shall we talk photonics?"
    """
    body = {"message": message} if message else {}
    _change_meeting(obj, "request", participant_id.strip(), body)


def _answer_command(action: str, summary: str) -> None:
    def command(obj: Context, meeting_id: str) -> None:
        _change_meeting(obj, action, meeting_id.strip(), None)

    command.__doc__ = f"{summary}\n\n\b\nExample:\n  eventdesk meet {action} m-7k2m9q4x\n"
    command = click.pass_obj(command)
    command = click.argument("meeting_id")(command)
    meet_group.command(action)(command)


_answer_command("accept", "Accept a request made to you; placed at once when a slot and table are free.")
_answer_command("decline", "Decline a request made to you.")
_answer_command("cancel", "Cancel your request or an accepted meeting (either side).")


@meet_group.command("dismiss")
@click.argument("target")
@click.pass_obj
def meet_dismiss(obj: Context, target: str) -> None:
    """Dismiss a meeting change the server refused at a sync (TARGET: the participant or meeting id).

    \b
    Example:
      eventdesk meet dismiss p-3f9k2m7q
    """
    from client_cli import meetings

    if not obj.cache().forget_refusal(target.strip(), meetings.KIND):
        raise CliError(f"no refused meeting change for {target.strip()!r}; see `eventdesk meetings`")
    output.say(f"Dismissed the refused change for {target.strip()}.")


def _change_meeting(obj: Context, action: str, target: str, body: dict | None) -> None:
    from client_cli import meetings

    cache = obj.cache()
    outcome, meeting, earlier = meetings.change(cache, obj.settings, action, target, body)
    for item in earlier.sent:
        output.say(f"Sent queued: {item['action']} {item['target']} ({item['meeting']})")
    for item in earlier.refused:
        output.say(f"Refused by the server: {item['action']} {item['target']}: {item['message']}")
    if earlier.refused:
        output.say("  (kept in `eventdesk meetings`; dismiss with `eventdesk meet dismiss ID`)")
    if outcome == "queued":
        reason = "no token set" if not obj.settings.token else "the server cannot be reached"
        output.note(f"{reason}: the change is kept here and sent by the next `eventdesk sync`")
        output.say(f"Queued ({action}): {target}")
        return
    zone = _zone(cache, None)
    partner = meetings.describe_party(meetings.other_side(meeting, cache.meta().get("participant_id")))
    done = {"request": "Requested", "accept": "Accepted", "decline": "Declined", "cancel": "Cancelled"}[action]
    line = f"{done}: meeting {meeting['id']} with {partner} ({meeting['status']})"
    if meeting.get("start") and meeting["status"] == "accepted":
        when = f"{output.local(meeting['start'], zone):%a %-d %b} {output.time_range(meeting, zone)}"
        line += f", {when}, table {meeting['table']}, {meeting.get('room_name') or meeting.get('room')}"
    elif action == "accept" and meeting["status"] == "accepted":
        line += ", not placed yet: the organisers will plan it"
    output.say(line)


# --- export -------------------------------------------------------------------------------


@cli.group("export")
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


cli.add_command(door_group)


def main() -> None:
    cli()
