"""My schedule on this machine: the server's last answer, plus what is queued, with overlaps.

`my add` and `my remove` go to the server at once when it answers; otherwise (or with no
token yet) they are queued in the cache and `eventdesk sync` sends them. A refusal met at
once (a full or cancelled session) is an error; one met during a sync is kept in the cache
and shown by `eventdesk my` until the user adds again or removes it.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from client_cli import api
from client_cli.cache import Cache
from client_cli.config import Settings
from client_cli.errors import CliError, Offline, ServerError


def overlaps(sessions: list[dict]) -> dict[str, list[str]]:
    """For each session, the other live sessions it overlaps in time (as the server counts them)."""
    live = [s for s in sessions if s["status"] != "cancelled"]
    spans = {s["id"]: (datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"])) for s in live}
    clashes: dict[str, list[str]] = {s["id"]: [] for s in sessions}
    for index, first in enumerate(live):
        for second in live[index + 1 :]:
            (a_start, a_end), (b_start, b_end) = spans[first["id"]], spans[second["id"]]
            if a_start < b_end and b_start < a_end:
                clashes[first["id"]].append(second["id"])
                clashes[second["id"]].append(first["id"])
    return clashes


def my_schedule(cache: Cache) -> dict:
    """The schedule as `eventdesk my` shows it, in the shape of GET /me/schedule plus the queue."""
    rows = cache.schedule_rows()
    pending = cache.pending()
    queued = {change["session"]: change for change in pending}
    sessions = cache.sessions(ids=cache.my_session_ids())
    clashes = overlaps(sessions)
    items = []
    for session in sessions:
        row = rows.get(session["id"])
        change = queued.get(session["id"])
        items.append(
            {
                "session": session,
                "added_at": row["added_at"] if row else change["queued_at"],
                "overlaps": clashes[session["id"]],
                "seats_left": row["seats_left"] if row else None,
                "pending": change["action"] if change else None,
            }
        )
    return {
        "event": cache.meta().get("event"),
        "items": items,
        "overlap_count": sum(1 for item in items if item["overlaps"]),
        "pending": pending,
        "refused": cache.refused(),
        "synced_at": cache.meta().get("schedule_synced_at"),
    }


def change(cache: Cache, settings: Settings, session_id: str, action: str) -> str:
    """Add or remove a bookmark: "sent", or "queued" when there is no token or no network.

    A refusal by the server (full, cancelled, unknown) raises CliError; a bad token, Refused.
    """
    if not settings.token:
        cache.queue(session_id, action)
        return "queued"
    client = api.Client(settings.server, settings.token)
    path = f"/api/v1/me/schedule/{quote(session_id)}"
    try:
        try:
            if action == "add":
                client.request("PUT", path, ok=(200, 201))
            else:
                client.request("DELETE", path, ok=(204,))
        except Offline:
            cache.queue(session_id, action)
            return "queued"
        except ServerError as problem:
            if problem.status >= 500:
                cache.queue(session_id, action)
                return "queued"
            verb = "add" if action == "add" else "remove"
            raise CliError(f"the server would not {verb} {session_id}: {problem.message}") from None
        cache.settle(session_id)
        cache.forget_refusal(session_id)
        try:
            document = client.get("/api/v1/me/schedule").json()
        except (Offline, ServerError):
            document = None
        if document is not None and document.get("event") == settings.event:
            cache.replace_schedule(document)
        else:  # the change is made; note it locally until the next sync fetches the schedule
            cache.mark_mine(session_id, action == "add")
        return "sent"
    finally:
        client.close()
