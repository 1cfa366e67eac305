"""What every `eventdesk-server` command shares: domain errors end as a message and exit 1, not a traceback."""

from __future__ import annotations

import sys

import click

from server.errors import DomainError


def fail(problem: DomainError) -> None:
    click.echo(f"error: {problem.message}", err=True)
    for name, message in problem.fields.items():
        click.echo(f"  {name}: {message}", err=True)
    sys.exit(1)


class DomainErrorsAsMessages(click.Command):
    """A command whose domain errors end as a message and exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DomainError as problem:
            fail(problem)


class CommandGroup(click.Group):
    command_class = DomainErrorsAsMessages
