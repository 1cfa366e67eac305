"""`eventdesk-server` commands that keep the data safe and let it go: backups, restores, erasure, anonymisation."""

from __future__ import annotations

import os
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from server import attendees, data_lifecycle, private_files
from server.cli_base import CommandGroup
from server.db_app import open_for_cli

commands = CommandGroup()


# --- backups (server/backups.py) --------------------------------------------------------------


@commands.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Write a consistent copy of the database to FILE while the server keeps running.

    SQLite's online backup: the copy is the database as of one moment, every write
    acknowledged before it included; it is checked (PRAGMA integrity_check) and renamed into
    place only when whole. FILE is one self-contained SQLite file, readable by the owner only.

    \b
    Example:
      eventdesk-server backup /srv/backups/eventdesk-$(date +%F-%H%M).sqlite3
    """
    from server import backups

    copy = backups.backup(current_app.config["DATABASE"], file)
    click.echo(f"backed up to {copy.path} ({copy.bytes:,} bytes, schema version {copy.schema_version}) "
               f"in {copy.seconds:.2f} s")  # fmt: skip


@commands.command("restore")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--from-replica",
    "replica",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[URL]",
    help="Rebuild from the Litestream replica at URL (a directory or s3://...), default EVENTDESK_REPLICA.",
)
@with_appcontext
def restore_command(file: Path | None, replica: str | None) -> None:
    """Put a backup FILE (or the Litestream replica) back as the database. Stop the server first.

    A file that is not an Eventdesk database, fails PRAGMA integrity_check or comes from a
    newer Eventdesk is refused, and so is a database still open in another process (a running
    server or Litestream); then nothing changes. Otherwise the backup replaces the database in
    one atomic rename, and the old -wal and -shm files (and Litestream's local state) go.

    \b
    Examples:
      eventdesk-server restore /srv/backups/eventdesk-2014-10-20-0800.sqlite3
      EVENTDESK_REPLICA=s3://bucket/eventdesk eventdesk-server restore --from-replica
      eventdesk-server restore --from-replica /mnt/replica/eventdesk
    """
    from server import backups

    if (file is None) == (replica is None):
        raise click.UsageError("give a backup FILE or --from-replica (not both)")
    database = current_app.config["DATABASE"]
    if file is not None:
        copy = backups.restore(file, database)
        origin = str(file)
    else:
        origin = replica or os.environ.get(backups.REPLICA_ENV, "")
        if not origin:
            raise click.UsageError(f"--from-replica needs a URL or {backups.REPLICA_ENV}")
        copy = backups.restore_from_replica(origin, database, backups.litestream_binary())
    click.echo(f"restored {copy.path} from {origin} ({copy.bytes:,} bytes, schema version {copy.schema_version}) "
               f"in {copy.seconds:.2f} s")  # fmt: skip


@commands.command("replica-config")
@click.option("--replica", envvar="EVENTDESK_REPLICA", required=True, help="A directory or s3://bucket/path.")
@with_appcontext
def replica_config_command(replica: str) -> None:
    """Write Litestream's configuration for the database and EVENTDESK_REPLICA; print its path.

    `make run` calls it when EVENTDESK_REPLICA is set and runs gunicorn under
    `litestream replicate -exec`, so that both stop together.

    \b
    Example:
      EVENTDESK_REPLICA=/mnt/replica/eventdesk eventdesk-server replica-config
    """
    from server import backups

    database = Path(current_app.config["DATABASE"])
    private_files.private_dir(database.parent)
    path = database.parent / "litestream.yml"
    path.write_text(backups.replica_config(database, replica), encoding="utf-8")
    path.chmod(private_files.FILE_MODE)  # it names where the attendees' data is copied to
    click.echo(path)


@commands.command("anonymise")
@click.option("--event", "event_slug", required=True, help="The event whose attendees' personal data goes.")
@click.option("--yes", is_flag=True, help="Confirm: names, emails and organisations cannot be brought back.")
@click.option("--force", is_flag=True, help="Anonymise even before the event's end.")
@with_appcontext
def anonymise_command(event_slug: str, yes: bool, force: bool) -> None:
    """Anonymise an event after it: attendees' and participants' names, emails and organisations go.

    Counts and statistics (check-ins per list, matchmaking stats, bookmarks per session) and
    the programme stay; speakers are the public programme and are kept. Tokens, personal
    links and signed-in browsers go; door devices are revoked, so each door wipes its bundle.
    Then the database file is compacted so no old page keeps a name. Take no backup you
    would not also anonymise.

    \b
    Example:
      eventdesk-server anonymise --event ecc2014 --yes
    """
    if not yes:
        raise click.UsageError("this forgets every attendee's name, email and organisation for good: add --yes")
    db = open_for_cli()
    counts = data_lifecycle.anonymise_event(db, event_slug, force=force)
    data_lifecycle.compact(db)
    click.echo(
        f"event {event_slug} anonymised: " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in counts.items())
    )


@commands.command("erase-attendee")
@click.argument("email")
@click.option("--event", "event_slug", required=True, help="The event the attendee is registered for.")
@click.option("--yes", is_flag=True, help="Confirm: the attendee's data cannot be brought back.")
@with_appcontext
def erase_attendee_command(email: str, event_slug: str, yes: bool) -> None:
    """Erase one attendee's personal data on request (as DELETE .../attendees/{id} does).

    \b
    Example:
      eventdesk-server erase-attendee anna@example.org --event ecc2014 --yes
    """
    if not yes:
        raise click.UsageError("this erases the attendee for good: add --yes")
    db = open_for_cli()
    attendee_pk = attendees.pk_by_email(db, event_slug, email)
    attendee_id = db.conn.execute("SELECT id FROM attendees WHERE pk = ?", (attendee_pk,)).fetchone()[0]
    data_lifecycle.erase_attendee(db, event_slug, attendee_id)
    click.echo(f"erased attendee {attendee_id} of {event_slug}")
