"""`eventdesk my [add|remove]`: my personal schedule, read from the cache, changed on the server or queued.

Registered in cli.py. The schedule logic (what is mine, what is queued, sending) is in schedule.py.
"""

from __future__ import annotations

import click

from client_cli import output
from client_cli.context import Context, display_zone, note_queued, read_options, require_session, rooms_by_id
from client_cli.errors import CliError


@click.group("my", invoke_without_command=True)
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
    zone = display_zone(cache, tz)
    document = schedule.my_schedule(cache)
    if as_json:
        if tz:
            for item in document["items"]:
                item["session"] = output.in_zone(item["session"], zone)
        output.echo_json(document)
        return
    for line in output.schedule_lines(document, zone, rooms_by_id(cache), cache.days()):
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
    session = require_session(cache, session_id)
    zone = display_zone(cache, None)
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
        note_queued(obj.settings)
    output.say(f"{verb}: {session['title']} ({session_id}), {when}")
    if action == "add":
        document = schedule.my_schedule(cache)
        item = next((i for i in document["items"] if i["session"]["id"] == session_id), None)
        others = {i["session"]["id"]: i["session"] for i in document["items"]}
        for other_id in item["overlaps"] if item else []:
            other = others[other_id]
            output.say(f"  overlaps {other['title']} ({other_id}), {output.time_range(other, zone)}")
