"""`eventdesk door …`: scanning tickets at a door, offline first. Thin commands over door.py.

Registered in cli.py with `cli.add_command(door_group)`. The door token is the usual `token`
setting (a door device's token from `eventdesk-server create-device`).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from client_cli import config, output
from client_cli.errors import CliError, Offline, Refused
from server.ticketcode import RESULTS


def _settings(ctx: click.Context) -> config.Settings:
    """The settings resolved by the main group (flags, environment, config file)."""
    obj = ctx.find_root().obj
    settings = getattr(obj, "settings", None)
    return settings if settings is not None else config.resolve({})


def _door_token(settings: config.Settings) -> str:
    if not settings.token:
        raise CliError(
            "door mode needs this door device's token: `eventdesk config set token …` "
            "(made with `eventdesk-server create-device --event EVENT --name NAME`) or EVENTDESK_TOKEN"
        )
    return settings.token


def _client(settings: config.Settings, timeout: float | None = None):
    from client_cli.api import TIMEOUT_SECONDS, Client

    return Client(settings.server, settings.token, timeout=timeout or TIMEOUT_SECONDS)


def _refused(token: str | None) -> Refused:
    from client_cli import door

    return Refused(door.forget_after_refusal(token))


def _age(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _print_conflicts(conflicts: list, zone=None, *, err: bool = False) -> None:
    for conflict in conflicts:
        output.say(f"  conflict: {conflict.describe(zone)}", err=err)


def _conflict_json(conflict) -> dict:
    return {
        "scan_id": conflict.scan["scan_id"],
        "list": conflict.scan["list"],
        "type": conflict.scan["type"],
        "scanned_at": conflict.scan["scanned_at"],
        "door_result": conflict.scan["result"],
        "server_result": conflict.server.get("result"),
        "conflict": bool(conflict.server.get("conflict")),
        "first_entry": conflict.server.get("first_entry"),
        "attendee": conflict.server.get("attendee"),
    }


def _bundle_zone():
    from client_cli import door

    try:
        bundle = door.Bundle.open()
    except door.NoBundle:
        return None
    try:
        return bundle.zone
    finally:
        bundle.close()


@click.group("door")
def door_group() -> None:
    """Scan tickets at a door: works offline from a synced bundle, uploads when it can.

    Use a door device's token (from `eventdesk-server create-device`) as the token setting.
    A scanner that types each QR code followed by Enter feeds `door scan` directly.

    \b
    Example:
      eventdesk config set token edd_...
      eventdesk door sync
      eventdesk door scan --list "Day 1 entrance"
      eventdesk door upload
    """


@door_group.command("sync")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def door_sync(ctx: click.Context, as_json: bool) -> None:
    """Upload queued scans, then fetch the door bundle (a delta after the first time).

    The bundle (public keys, lists, revoked tickets, the roster of names, who is inside) is
    stored with mode 0600 under the cache directory (EVENTDESK_HOME/cache/door when set).
    Offline with a bundle already here: a note, and the bundle stays as it is.

    \b
    Example:
      eventdesk door sync
      EVENTDESK_TOKEN=edd_... eventdesk --event ecc2014 door sync --json
    """
    from client_cli import door

    settings = _settings(ctx)
    token = _door_token(settings)
    client = _client(settings)
    journal = door.Journal()
    uploaded = None
    try:
        uploaded = door.upload_pending(client, journal)
        report = door.sync_bundle(client, settings.event, token)
    except door.DeviceRefused:
        raise _refused(token) from None
    except Offline as problem:
        status = door.status()
        if status["bundle"] is None:
            raise door.offline_without_bundle(problem) from None
        queued = status["journal"]["queued"]
        output.say(
            f"eventdesk: {problem.message}: offline; keeping the door bundle checked "
            f"{_age(status['bundle']['age_seconds'])} ago (cursor {status['bundle']['cursor']})"
            + (f"; {queued} scans stay queued" if queued else ""),
            err=True,
        )
        if as_json:
            output.say(output.json_text({"synced": False, "offline": True, **status}))
        return
    finally:
        client.close()
    status = door.status()
    bundle = status["bundle"]
    if as_json:
        output.say(
            output.json_text(
                {
                    "synced": True,
                    "fetch": report.kind,
                    "cursor": report.cursor,
                    "received": report.changes,
                    "uploaded": uploaded.uploaded,
                    "upload_results": dict(uploaded.results),
                    "conflicts": [_conflict_json(c) for c in uploaded.conflicts],
                    **status,
                },
            )
        )
        return
    if uploaded.uploaded:
        output.say(
            f"Uploaded {uploaded.uploaded} queued scans ({_counts(uploaded.results)}); "
            f"{len(uploaded.conflicts)} conflicts"
        )
        _print_conflicts(uploaded.conflicts, _bundle_zone())
    what = {"full": "fetched in full", "delta": "delta merged", "not_modified": "unchanged (304)"}[report.kind]
    received = report.changes
    output.say(
        f"Door bundle for {bundle['event']} {what}: {bundle['roster']} on the roster, {bundle['revoked']} revoked, "
        f"{bundle['inside']} inside; cursor {bundle['cursor']}"
        + (
            f" (received {received['roster']} roster, {received['revoked']} revoked, "
            f"{received['presence']} presence entries)"
            if report.kind == "delta"
            else ""
        )
    )
    for item in bundle["lists"]:
        output.say(f"  {_list_line(item)}")
    output.say(f"Stored in {bundle['path']} (mode 0600)")


def _list_line(item: dict) -> str:
    start, end = datetime.fromisoformat(item["start"]), datetime.fromisoformat(item["end"])
    audience = {"all": "everyone", "explicit": "named attendees"}.get(
        item["audience"], "categories: " + ", ".join(item["categories"])
    )
    reentry = "" if item["allow_reentry"] else ", no re-entry"
    return f"{item['name']} ({item['id']}): {start:%Y-%m-%d %H:%M}–{end:%H:%M}, {audience}{reentry}"


def _counts(counter) -> str:
    return ", ".join(f"{count} {result}" for result, count in sorted(counter.items(), key=lambda kv: -kv[1]))


@door_group.command("scan")
@click.option("--list", "list_ref", required=True, help='Check-in list name or id, e.g. "Day 1 entrance".')
@click.option("--exit", "is_exit", is_flag=True, help="Record exits instead of entries.")
@click.option(
    "--image",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Decode the QR code(s) in this picture instead of reading stdin (needs the door-image extra).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON verdict per line.")
@click.option("--no-upload", is_flag=True, help="Only journal the scans; send them later with `door upload`.")
@click.pass_context
def door_scan(ctx: click.Context, list_ref: str, is_exit: bool, image: Path | None, as_json: bool,
              no_upload: bool) -> None:  # fmt: skip
    """Judge tickets offline: one payload per line on stdin (as a scanner types it), or --image.

    Each scan is checked with the door bundle alone (signature, event, revocation, the list's
    window and audience, already inside), written to the journal and fsynced, then its verdict
    is printed. Queued scans upload in the background whenever the server answers; the
    verdicts never wait for it. Exit status 0 whatever the verdicts: they are data.

    \b
    Example:
      eventdesk door scan --list "Day 1 entrance"
      eventdesk door scan --list day1-entrance --exit
      eventdesk door scan --list "Day 1 entrance" --image ticket.png --json
    """
    from client_cli import door

    settings = _settings(ctx)
    bundle = door.Bundle.open()
    journal = door.Journal()
    try:
        session = door.DoorSession(bundle, journal, list_ref, "exit" if is_exit else "entry")
    except CliError:
        bundle.close()
        raise
    payloads = door.payloads_from_lines(iter(sys.stdin.readline, ""))
    if image is not None:
        payloads = iter(_decode_image(image))
    warning = door.check_window(session.list)
    if warning:
        output.say(f"eventdesk: note: {warning}", err=True)
    if image is None and sys.stdin.isatty():
        output.say(f"Scanning {session.list['name']} ({'exits' if is_exit else 'entries'}); Ctrl-D to stop.", err=True)
    uploader = None
    if settings.token and not no_upload:
        uploader = door.BackgroundUploader(
            lambda: _client(settings, door.BACKGROUND_TIMEOUT), journal
        ).start()  # fmt: skip
    tally: dict[str, int] = {}
    try:
        for payload in payloads:
            verdict = session.scan(payload)
            tally[verdict.result] = tally.get(verdict.result, 0) + 1
            if as_json:
                output.say(output.json_text(verdict.as_json()))
            else:
                output.say(verdict.headline(), fg="green" if verdict.ok else "red", bold=True)
            if uploader is not None:
                uploader.queue(verdict.journal_record())
                if uploader.refused is not None:
                    break
    except KeyboardInterrupt:
        output.say("", err=True)
    finally:
        session.bundle.close()
        if uploader is not None:
            uploader.finish()
    if uploader is not None and uploader.refused is not None:
        raise _refused(settings.token)
    queued = len(journal.read().pending())
    by_result = ", ".join(f"{tally[result]} {result}" for result in RESULTS if tally.get(result))
    summary = f"{sum(tally.values())} scans" + (f": {by_result}" if by_result else "") + f"; {queued} queued"
    if uploader is not None and uploader.uploaded:
        summary += f"; {uploader.uploaded} uploaded"
    if uploader is not None and uploader.last_problem and queued:
        summary += f" (upload: {uploader.last_problem})"
    output.say(summary, err=True)
    if uploader is not None and uploader.conflicts:
        output.say(f"{len(uploader.conflicts)} conflicts (the server's verdict stands):", err=True)
        _print_conflicts(uploader.conflicts, session.bundle.zone, err=True)


def _decode_image(path: Path) -> list[str]:
    """The text of every QR code in the picture; a clear message if the decoder is not installed."""
    try:
        import zxingcpp
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise CliError(
            "reading QR pictures needs the optional decoder: pip install 'eventdesk[door-image]' (zxing-cpp)"
        ) from None
    try:
        with Image.open(path) as picture:
            picture.load()
            found = zxingcpp.read_barcodes(picture.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    except (OSError, UnidentifiedImageError):
        raise CliError(f"cannot read {path} as a picture") from None
    texts = [code.text for code in found if code.text]
    if not texts:
        raise CliError(f"no QR code found in {path}")
    return texts


@door_group.command("upload")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def door_upload(ctx: click.Context, as_json: bool) -> None:
    """Send the journal's queued scans to the server and record its verdicts (safe to repeat).

    The server judges offline scans by their door time: the earliest entry wins, later ones are
    kept and flagged. Its verdict is the one that counts; every scan it judged differently from
    this door is listed as a conflict.

    \b
    Example:
      eventdesk door upload
      eventdesk door upload --json
    """
    from client_cli import door

    settings = _settings(ctx)
    token = _door_token(settings)
    journal = door.Journal()
    queued = len(journal.read().pending())
    if not queued:
        if as_json:
            output.say(output.json_text({"uploaded": 0, "results": {}, "conflicts": [], "queued": 0}))
        else:
            output.say("Nothing to upload: every scan in the journal is on the server.")
        return
    client = _client(settings)
    try:
        report = door.upload_pending(client, journal)
    except door.DeviceRefused:
        raise _refused(token) from None
    except Offline as problem:
        left = len(journal.read().pending())
        raise Offline(f"{problem.message}: {left} scans stay queued; try again later") from None
    finally:
        client.close()
    if as_json:
        output.say(
            output.json_text(
                {
                    "uploaded": report.uploaded,
                    "results": dict(report.results),
                    "conflicts": [_conflict_json(c) for c in report.conflicts],
                    "queued": report.remaining,
                },
            )
        )
        return
    output.say(
        f"Uploaded {report.uploaded} scans ({_counts(report.results)}); {len(report.conflicts)} conflicts"
        + (" (the server's verdict stands):" if report.conflicts else "")
    )
    _print_conflicts(report.conflicts, _bundle_zone())


@door_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def door_status(as_json: bool) -> None:
    """Show the door bundle (age, cursor, roster size) and the journal (queued scans, results).

    Works offline; it never contacts the server.

    \b
    Example:
      eventdesk door status
      eventdesk door status --json
    """
    from client_cli import door

    status = door.status()
    if as_json:
        output.say(output.json_text(status))
        return
    bundle, journal = status["bundle"], status["journal"]
    if bundle is None:
        output.say(f"Bundle:  none ({status['bundle_problem']})")
    else:
        fetched = datetime.fromisoformat(bundle["fetched_at"])
        output.say(
            f"Bundle:  {bundle['event']}, checked {_age(bundle['age_seconds'])} ago "
            f"(fetched {_age((datetime.now(UTC) - fetched).total_seconds())} ago), cursor {bundle['cursor']}"
        )
        output.say(f"         {bundle['roster']} on the roster, {bundle['revoked']} revoked, {bundle['inside']} inside")
        for item in bundle["lists"]:
            output.say(f"         {_list_line(item)}")
    output.say(
        f"Journal: {journal['scans']} scans, {journal['queued']} queued, {journal['uploaded']} uploaded, "
        f"{journal['conflicts']} conflicts"
    )
    if journal["door_results"]:
        output.say(f"         at the door: {_counts(journal['door_results'])}")
    if journal["server_results"]:
        output.say(f"         on the server: {_counts(journal['server_results'])}")
    if journal["damaged_lines"]:
        output.say(f"         {journal['damaged_lines']} damaged lines skipped (cut short by a crash)")


@door_group.command("wipe")
@click.option("--force", is_flag=True, help="Delete even scans that were never uploaded.")
def door_wipe(force: bool) -> None:
    """Delete the door bundle (names) and the scan journal from this device, after the event.

    Refused while the journal holds scans the server has not received, unless --force.

    \b
    Example:
      eventdesk door upload && eventdesk door wipe
    """
    from client_cli import door

    result = door.wipe(force=force)
    parts = ["the door bundle" if result["bundle_deleted"] else "no door bundle (there was none)"]
    parts.append(f"the journal ({result['scans_deleted']} scans)")
    output.say("Deleted " + " and ".join(parts) + ".")
    if result["unuploaded_deleted"]:
        output.say(f"{result['unuploaded_deleted']} of them had never been uploaded.", err=True)
