"""The `eventdesk` command. For now only --version; sync and offline reading come next."""

from __future__ import annotations

import click

from client_cli import __version__


@click.group()
@click.version_option(__version__, prog_name="eventdesk")
def cli() -> None:
    """Eventdesk companion: the event agenda offline, and door scanning.

    \b
    Example:
      eventdesk --version
    """


def main() -> None:
    cli()
