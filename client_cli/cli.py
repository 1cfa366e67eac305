"""The `eventdesk` command: thin click commands over config, api, cache, sync, door and output.

Every read command answers from the local cache, so it works with no network; see the
README's CLI section. Exit codes are named in client_cli/errors.py.
"""

from __future__ import annotations

import sys

import click

from client_cli import __version__, config
from client_cli.errors import CliError


class Context:
    """What every command needs: the resolved settings and the output mode."""

    def __init__(self, flags: dict, as_json: bool):
        self.flags = flags
        self.as_json = as_json
        self._settings = None

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            self._settings = config.resolve(self.flags)
        return self._settings


class EventdeskGroup(click.Group):
    """Turns a CliError from any command into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CliError as problem:
            click.echo(f"eventdesk: {problem.message}", err=True)
            sys.exit(problem.exit_code)


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
    click.echo(f"{key} saved in {path}")


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
        import json

        click.echo(json.dumps({"settings": shown, "sources": settings.sources, "file": str(config.config_path())}))
        return
    for key, value in shown.items():
        click.echo(f"{key:<7} {value or '-':<40} ({settings.sources[key]})")
    click.echo(f"file    {config.config_path()}")


def main() -> None:
    cli()
