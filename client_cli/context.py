"""What every `eventdesk` command shares: the Context (settings and the open cache), --json and
--tz, and the look-ups that turn the user's words into a zone or a session.

Apart from cli.py so that the command modules (programme_cli, my_cli, meetings_cli) can import
it while cli.py imports them to register their commands.
"""

from __future__ import annotations

import sys

import click

from client_cli import config, output
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

        report = sync.sync(self.settings, progress=sync_progress)  # NoCache (exit 3) when offline
        for line in report.sync_notes():
            output.note(line)
        output.note(f"cached {report.session_count} sessions (version {report.version})")
        return report.cache


def sync_progress(items: list):
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


def display_zone(cache, tz: str | None):
    """The zone times are shown in: --tz, else the event's; a bad --tz is a usage error (exit 2)."""
    try:
        return output.zone_named(tz or cache.event()["timezone"])
    except ValueError as problem:
        raise click.BadParameter(str(problem), param_hint="--tz") from None


def rooms_by_id(cache) -> dict[str, dict]:
    return {room["id"]: room for room in cache.rooms()}


def require_session(cache, session_id: str) -> dict:
    """The cached session, or an error naming the closest ids (a typo is the usual cause)."""
    session = cache.session(session_id)
    if session is None:
        import difflib

        close = difflib.get_close_matches(session_id, sorted(cache.session_ids()), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; try `eventdesk search WORDS`"
        raise CliError(f"no session {session_id!r} in {cache.meta().get('event')}{hint}")
    return session


def note_queued(settings: config.Settings) -> None:
    """Say on stderr why a change was queued rather than sent (`my` and `meet` alike)."""
    reason = "no token set" if not settings.token else "the server cannot be reached"
    output.note(f"{reason}: the change is kept here and sent by the next `eventdesk sync`")
