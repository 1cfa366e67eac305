"""`eventdesk-server`: the Flask command group for running and administering the server."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from server import (
    attendees,
    auth,
    cli_data,
    create_app,
    csvsafe,
    data_lifecycle,
    db as database,
    devices,
    keys,
    link_mail,
    matchmaking_demo,
    participants_import,
    personal_links,
    private_files,
    programme_edit,
    synthetic,
)
from server.cli_base import CommandGroup
from server.db_app import open_for_cli
from server.errors import DomainError
from server.programme_file import BUILTIN, builtin_path, load_file
from server.urls import public_base_url


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=True)
def cli() -> None:
    """Eventdesk server administration (a Flask command group: `run`, `routes` and `shell` too).

    \b
    Example:
      eventdesk-server init-db
      eventdesk-server load-programme --builtin --if-absent
      eventdesk-server create-token --role admin
    """


commands = CommandGroup()


@commands.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create the database, or upgrade it to the current schema. Safe to run every time.

    \b
    Example:
      EVENTDESK_DATA_DIR=/var/lib/eventdesk eventdesk-server init-db
    """
    db = open_for_cli()
    version = database.init_db(db)
    click.echo(f"database {db.conn.execute('PRAGMA database_list').fetchone()[2]} at schema version {version}")
    _apply_retention(db)


def _apply_retention(db) -> None:
    """EVENTDESK_RETENTION_DAYS after an event's end: remind the organiser (stderr), or anonymise it."""
    settings = data_lifecycle.retention_settings(os.environ)
    if settings is not None:
        for line in data_lifecycle.apply_retention(db, *settings):
            click.echo(f"warning: {line}", err=True)


@commands.command("load-programme")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--builtin", is_flag=True, help=f"Load the built-in conference ({BUILTIN}).")
@click.option("--if-absent", is_flag=True, help="Do nothing if the file's event already exists.")
@with_appcontext
def load_programme_command(file: Path | None, builtin: bool, if_absent: bool) -> None:
    """Load or update an event from a programme file (all or nothing).

    The file is authoritative: new items are added, changed ones updated, missing ones
    deleted. Loading the same file again changes nothing. Format: docs/programme-format.md.

    \b
    Examples:
      eventdesk-server load-programme my-event.json
      eventdesk-server load-programme --builtin --if-absent
    """
    if bool(file) == builtin:
        raise click.UsageError("give a FILE or --builtin (not both)")
    path = builtin_path() if builtin else file
    db = open_for_cli()
    if if_absent:
        try:
            slug = json.loads(Path(path).read_text(encoding="utf-8"))["event"]["slug"]
        except (OSError, ValueError, KeyError, TypeError):
            slug = None
        if slug and db.conn.execute("SELECT 1 FROM events WHERE slug = ?", (slug,)).fetchone():
            click.echo(f"event {slug} already loaded; left as it is")
            return
    result = load_file(db, path)
    counts = ", ".join(f"{n} {what}" for what, n in result.counts.items())
    if result.changed:
        click.echo(f"event {result.slug}: version {result.version_before} -> {result.version_after} ({counts})")
    else:
        click.echo(f"event {result.slug}: unchanged at version {result.version_after}")


@commands.command("create-token")
@click.option("--role", type=click.Choice(["admin"]), default="admin", show_default=True)
@click.option("--event", "event_slug", help="Limit the token to one event (default: every event).")
@click.option("--label", default="", help="A note on who holds the token.")
@with_appcontext
def create_token_command(role: str, event_slug: str | None, label: str) -> None:
    """Create an API token. It is shown once, alone on the last line; only its hash is kept.

    \b
    Example:
      TOKEN=$(eventdesk-server create-token --role admin --label "programme team" | tail -n 1)
    """
    db = open_for_cli()
    token = auth.create_token(db, role, event_slug=event_slug, label=label)
    scope = f"event {event_slug}" if event_slug else "every event"
    click.echo(f"{role} token for {scope} (store it now; it cannot be shown again):")
    click.echo(token)


@commands.command("create-device")
@click.option("--event", "event_slug", required=True, help="The event whose doors the device scans.")
@click.option("--name", required=True, help='What door staff call it, e.g. "Door A".')
@click.option("--link", is_flag=True, help="Print the pairing URL to open on the phone instead of the bare token.")
@click.option("--desk", is_flag=True, help="The device may also use the desk page (/e/EVENT/desk).")
@with_appcontext
def create_device_command(event_slug: str, name: str, link: bool, desk: bool) -> None:
    """Register a door device: its token (role door, one event) is printed once, alone on the last line.

    With --link the last line is instead the pairing URL, {public URL}/e/EVENT/door#TOKEN:
    opened on a phone, it makes that browser this door (the token stays in the URL's
    fragment, which no browser sends to a server). Set EVENTDESK_PUBLIC_URL for a real event.

    \b
    Example:
      TOKEN=$(eventdesk-server create-device --event ecc2014 --name "Door A" | tail -n 1)
      eventdesk-server create-device --event ecc2014 --name "Door B phone" --link
    """
    _, token = devices.create_device(open_for_cli(), event_slug, name, desk=desk)
    what = "desk and door" if desk else "door"
    if link:
        click.echo(f"{what} device {name!r} for event {event_slug}: open this on the phone (it is shown once):")
        click.echo(devices.pairing_url(public_base_url(), event_slug, token))
    else:
        click.echo(f"{what} device {name!r} for event {event_slug} (store the token now; it cannot be shown again):")
        click.echo(token)


@commands.command("revoke-token")
@click.argument("token")
@with_appcontext
def revoke_token_command(token: str) -> None:
    """Revoke a token so it no longer works.

    \b
    Example:
      eventdesk-server revoke-token eda_...
    """
    if not auth.revoke_token(open_for_cli(), token):
        click.echo("error: no such active token", err=True)
        sys.exit(1)
    click.echo("revoked")


@commands.command("import-attendees")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--event", "event_slug", required=True, help="The event the attendees register for.")
@click.option(
    "--tokens-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Issue personal API tokens to new attendees and write email,token lines here (mode 0600).",
)
@click.option(
    "--links-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write email,name,link lines here (mode 0600): each attendee's personal link, to send them.",
)
@with_appcontext
def import_attendees_command(file: Path, event_slug: str, tokens_out: Path | None, links_out: Path | None) -> None:
    """Import or update attendees from a CSV file, all rows or none.

    Columns: name, email, category (required), organisation, country. A row whose email is
    already registered updates that attendee, so importing a file twice duplicates nothing.
    Every bad row is reported by line and field, and then nothing is imported.

    \b
    Example:
      eventdesk-server import-attendees registrations.csv --event ecc2014 --links-out links.csv

    Links use EVENTDESK_PUBLIC_URL (set it for a real event), else http://HOST:PORT.
    """
    text = _csv_text(file)
    # Open the tokens file first: once the import commits, tokens not written are lost for good.
    handle = _private_file(tokens_out, "--tokens-out") if tokens_out else None
    links_handle = _private_file(links_out, "--links-out") if links_out else None
    db = open_for_cli()
    try:
        result = attendees.import_attendees(db, event_slug, text, issue_tokens=handle is not None)
        if handle is not None:
            writer = csvsafe.writer(handle)
            writer.writerow(["email", "token"])
            writer.writerows(result.tokens)
        if links_handle is not None:
            emails = [row["email"] for _, row in attendees.parse_csv(text)]
            writer = csvsafe.writer(links_handle)
            writer.writerow(["email", "name", "link"])
            writer.writerows(personal_links.links_for(db, keys.app_secret(), public_base_url(), event_slug, emails))
    finally:
        for path, opened in ((tokens_out, handle), (links_out, links_handle)):
            if opened is not None:
                opened.flush()
                os.fsync(opened.fileno())  # the import has committed durably: so must its tokens
                opened.close()
                private_files.sync_dir(path.absolute().parent)
    click.echo(f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged")
    if tokens_out:
        click.echo(f"{len(result.tokens)} new personal tokens written to {tokens_out}")
    if links_out:
        click.echo(f"personal links written to {links_out}")


@commands.command("import-participants")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--event", "event_slug", required=True, help="The event whose matchmaking they join.")
@with_appcontext
def import_participants_command(file: Path, event_slug: str) -> None:
    """Opt registered attendees in to matchmaking from a CSV file, all rows or none.

    Columns: email (of a registered attendee), organisation, cluster, country (required),
    sectors, offer, seek, languages, availability. Lists are `;`-separated: sectors by id
    (GET .../matchmaking/sectors), languages as ISO 639-1 codes, availability as
    START/END ranges local to the event (empty: the whole session). A row for someone who
    already takes part updates their profile, so importing a file twice changes nothing.
    Every bad row is reported by line and field, and then nothing is imported.

    \b
    Example:
      eventdesk-server import-participants participants.csv --event ecc2014
    """
    text = _csv_text(file)
    result = participants_import.import_participants(open_for_cli(), event_slug, text)
    click.echo(f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged")


@commands.command("load-demo")
@click.option("--event", "event_slug", required=True, help="The event with matchmaking set up, e.g. ecc2014.")
@with_appcontext
def load_demo_command(event_slug: str) -> None:
    """Add a clearly synthetic matchmaking morning to an event, then plan it.

    About 110 demo participants (attendees "Demo participant N" at demo-participant-NNN@example.org,
    flagged synthetic) from 80 generated clusters in 20 countries across 15 sectors, and about
    170 accepted meetings, almost half across sectors; then the organiser's plan places them.
    The same every time (seeded); loading it again adds nothing twice.

    \b
    Example:
      eventdesk-server load-demo --event ecc2014
    """
    result = matchmaking_demo.load_demo(open_for_cli(), event_slug, seconds=current_app.config["PLAN_SECONDS"])
    plan = result.plan
    click.echo(
        f"added {result.attendees} attendees, {result.participants} participants, {result.meetings} meetings "
        f"(all synthetic) to {event_slug}"
    )
    if plan is None:
        click.echo("the demo was loaded before: nothing added, the plan left as it is")
        return
    click.echo(
        f"plan: {plan['placed']} of {plan['accepted']} accepted meetings placed (bound {plan['bound']}, "
        f"{'proved optimal' if plan['exact'] else 'not proved optimal'}) in {plan['seconds']:.1f} s"
    )


@commands.command("attendee-link")
@click.argument("email")
@click.option("--event", "event_slug", required=True, help="The event the attendee is registered for.")
@click.option("--rotate", is_flag=True, help="Make a new link; the old one and its signed-in browsers stop working.")
@with_appcontext
def attendee_link_command(email: str, event_slug: str, rotate: bool) -> None:
    """Print an attendee's personal link, alone on the last line: the same one each time until rotated.

    Opening it on a phone signs that browser in: the programme, their schedule, calendar and
    ticket, also offline. It uses EVENTDESK_PUBLIC_URL (set it for a real event), else
    http://HOST:PORT.

    \b
    Example:
      eventdesk-server attendee-link --event ecc2014 ada@example.org | tail -n 1
    """
    db = open_for_cli()
    pk = attendees.pk_by_email(db, event_slug, email)
    secret = personal_links.current_link_secret(db, keys.app_secret(), pk, rotate=rotate)
    click.echo(f"personal link of {email.strip().lower()} for {event_slug}{' (new)' if rotate else ''}:")
    click.echo(personal_links.join_url(public_base_url(), event_slug, secret))


@commands.command("send-links")
@click.option("--event", "event_slug", required=True, help="The event whose attendees get their links.")
@click.option("--only-unsent", is_flag=True, help="Skip attendees whose current link already went to their address.")
@click.option(
    "--dry-run",
    "dry_run",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/<attendee id>.eml (mode 0600) instead of sending; nothing is recorded as sent.",
)
@with_appcontext
def send_links_command(event_slug: str, only_unsent: bool, dry_run: Path | None) -> None:
    """Mail each attendee their personal link, calendar URL and ticket QR, by name order.

    SMTP from EVENTDESK_SMTP_URL (smtp://[user:password@]host[:port][?starttls=1] or
    smtps://...), sender from EVENTDESK_SMTP_FROM; links from EVENTDESK_PUBLIC_URL, which
    sending requires. Each accepted message is recorded, so --only-unsent resumes after a
    failure without sending twice. A refused address is reported and the others go on; the
    exit status is then 1.

    \b
    Examples:
      eventdesk-server send-links --event ecc2014 --dry-run outbox/
      EVENTDESK_SMTP_URL=smtp://mail.example.org:587?starttls=1 \\
      EVENTDESK_SMTP_FROM="ECC 2014 <registration@example.org>" \\
      eventdesk-server send-links --event ecc2014 --only-unsent
    """
    settings = None if dry_run else link_mail.smtp_settings(os.environ.get(link_mail.SMTP_URL))
    sender = link_mail.sender_address(os.environ.get(link_mail.SMTP_FROM), required=dry_run is None)
    if dry_run and sender == link_mail.DRY_RUN_SENDER:
        click.echo(f"note: {link_mail.SMTP_FROM} is unset; the files say From: {sender}", err=True)
    if not current_app.config.get("PUBLIC_URL"):
        if not dry_run:
            raise DomainError(
                f"set EVENTDESK_PUBLIC_URL to the address attendees reach the server at: the links would "
                f"point at {public_base_url()}",
                fields={"EVENTDESK_PUBLIC_URL": "unset"},
            )
        click.echo(f"note: EVENTDESK_PUBLIC_URL is unset; the links point at {public_base_url()}", err=True)
    db = open_for_cli()
    mails, skipped = link_mail.link_mails(
        db, keys.app_secret(), public_base_url(), event_slug, current_app.config["KEYS_DIR"], only_unsent=only_unsent
    )
    transport = link_mail.EmlDirectory(dry_run) if dry_run else link_mail.SmtpTransport(settings)
    verb = "wrote" if dry_run else "sent"

    def sent(mail: link_mail.LinkMail) -> None:
        click.echo(f"{verb} {transport.path_for(mail) if dry_run else mail.email}")

    def failed(mail: link_mail.LinkMail, reason: str) -> None:
        click.echo(f"error: {mail.email} ({mail.attendee_id}): {reason}", err=True)

    with transport:
        outcome = link_mail.send_link_mails(db, mails, sender, transport, on_sent=sent, on_failed=failed)
    click.echo(f"{verb} {outcome.sent}, failed {outcome.failed}, skipped {skipped}")
    if dry_run:
        click.echo(f"dry run: nothing was sent or recorded; the messages are in {dry_run}")
    if outcome.failed:
        sys.exit(1)


def _csv_text(file: Path) -> str:
    """A CSV export as text; spreadsheets write UTF-8 with a byte-order mark."""
    try:
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DomainError(f"{file} is not UTF-8 text", fields={"file": "save it as UTF-8 CSV"}) from None


def _private_file(path: Path, option: str):
    """Open `path` for writing, readable by its owner only, even if it already existed."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as problem:
        raise DomainError(f"cannot write {path}: {problem.strerror}", fields={option: str(path)}) from None
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "w", encoding="utf-8", newline="")


@commands.command("compact-changes")
@click.argument("event_slug")
@click.option("--keep", default=1000, show_default=True, help="How many recent versions stay answerable.")
@with_appcontext
def compact_changes_command(event_slug: str, keep: int) -> None:
    """Forget old change-log entries; clients behind them get 410 and fetch the programme.

    \b
    Example:
      eventdesk-server compact-changes ecc2014 --keep 500
    """
    removed = programme_edit.compact_changes(open_for_cli(), event_slug, keep)
    click.echo(f"removed {removed} change-log entries")


@commands.command("generate-synthetic")
@click.option("--slug", default="synthetic", show_default=True)
@click.option("--sessions", default=5000, show_default=True)
@click.option("--speakers", default=3000, show_default=True)
@click.option("--rooms", default=64, show_default=True)
@click.option("--tracks", default=12, show_default=True)
@click.option("--days", default=5, show_default=True)
@click.option("--seed", default=2014, show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
def generate_synthetic_command(output, **options) -> None:
    """Write a synthetic programme file of any size, for benchmarks and scale tests.

    \b
    Example:
      eventdesk-server generate-synthetic --sessions 5000 --speakers 3000 -o big.json
      eventdesk-server load-programme big.json
    """
    json.dump(synthetic.programme(**options), output, ensure_ascii=False)
    output.write("\n")


@commands.command("generate-attendees")
@click.option("--count", default=1000, show_default=True)
@click.option("--seed", default=2014, show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
def generate_attendees_command(count: int, seed: int, output) -> None:
    """Write a CSV of synthetic attendees, for load and scale tests.

    \b
    Example:
      eventdesk-server generate-attendees --count 100000 -o attendees.csv
      eventdesk-server import-attendees attendees.csv --event synthetic
    """
    output.write(synthetic.attendees_csv(count=count, seed=seed))


def register(app) -> None:
    """Put the commands on `app.cli`, where `flask` and `eventdesk-server` both find them."""
    for group in (commands, cli_data.commands):
        for command in group.commands.values():
            app.cli.add_command(command)


def main() -> None:
    cli()
