"""The `eventdesk` command: the click group, its global options, `config` and `sync`.

Thin commands over config, api, cache, sync, schedule, door and output; the other commands
live in modules by concern and are registered here: programme_cli (agenda, now, next, show,
search, speakers, rooms, export), my_cli (my), meetings_cli (meetings, meet), door_cli (door).
Every read command answers from the local cache, so it works with no network; see the README's
CLI section. Exit codes are named in client_cli/errors.py. Modules that are slow to import
(httpx, sqlite-utils, icalendar) are imported only by the commands that need them.
"""

from __future__ import annotations

import sys

import click

from client_cli import __version__, config, meetings_cli, output, programme_cli
from client_cli.context import Context, display_zone, read_options, rooms_by_id, sync_progress
from client_cli.door_cli import door_group
from client_cli.errors import CliError
from client_cli.my_cli import my_group


class EventdeskGroup(click.Group):
    """Turns a CliError from any command into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CliError as problem:
            output.say(f"eventdesk: {problem.message}", err=True)
            sys.exit(problem.exit_code)


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

    report = sync.sync(obj.settings, full=full, progress=sync_progress)
    cache = report.cache
    for line in report.sync_notes():
        output.note(line)
    if as_json:
        output.echo_json(report.to_json())
        return
    zone = display_zone(cache, tz)
    rooms = rooms_by_id(cache)
    for line in output.sync_lines(report, zone, rooms):
        output.say(line)


for command in (*programme_cli.COMMANDS, my_group, *meetings_cli.COMMANDS, door_group):
    cli.add_command(command)


def main() -> None:
    cli()
