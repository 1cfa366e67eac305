"""`eventdesk meetings` and `eventdesk meet …`: my matchmaking meetings, thin commands over meetings.py.

Registered in cli.py (COMMANDS). Queued changes and refusals live in the cache's queue (kind
"meeting"), beside the bookmarks of `my add`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from client_cli import output
from client_cli.context import Context, display_zone, note_queued, read_options
from client_cli.errors import CliError


@click.command("meetings")
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
    zone = display_zone(cache, tz)
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


@click.group("meet")
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
        note_queued(obj.settings)
        output.say(f"Queued ({action}): {target}")
        return
    zone = display_zone(cache, None)
    partner = meetings.describe_party(meetings.other_side(meeting, cache.meta().get("participant_id")))
    done = {"request": "Requested", "accept": "Accepted", "decline": "Declined", "cancel": "Cancelled"}[action]
    line = f"{done}: meeting {meeting['id']} with {partner} ({meeting['status']})"
    if meeting.get("start") and meeting["status"] == "accepted":
        when = f"{output.local(meeting['start'], zone):%a %-d %b} {output.time_range(meeting, zone)}"
        line += f", {when}, table {meeting['table']}, {meeting.get('room_name') or meeting.get('room')}"
    elif action == "accept" and meeting["status"] == "accepted":
        line += ", not placed yet: the organisers will plan it"
    output.say(line)


COMMANDS = (meetings_command, meet_group)
