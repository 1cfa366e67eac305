"""My matchmaking meetings on this machine: the server's last answer, plus what is queued.

`meet request|accept|decline|cancel` go to the server at once when it answers; otherwise (or
with no token yet) they join the cache's queue with kind "meeting" (the queue `my add` uses),
and the next sync, or the next `meet` command that reaches the server, sends them in order. A
refusal met at once is an error in the server's words; one met while sending the queue is kept
in the cache and shown by `eventdesk meetings` until asked again or dismissed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from urllib.parse import quote

from client_cli import api
from client_cli.cache import Cache
from client_cli.config import Settings
from client_cli.errors import CliError, Offline, Refused, ServerError

KIND = "meeting"
ANSWERS = ("accept", "decline", "cancel")


@dataclass
class MeetingSync:
    """What happened to my meetings while reaching the server."""

    sent: list[dict] = field(default_factory=list)  # {"target", "action", "meeting"}
    refused: list[dict] = field(default_factory=list)  # {"target", "action", "reason", "message"}
    waiting: int = 0  # changes still queued
    fetched: bool = False
    note: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


def send(client: api.Client, action: str, target: str, body: dict | None) -> dict:
    """One change, as the server answers it (a Meeting); the client's errors propagate."""
    if action == "request":
        path, ok, payload = "/api/v1/me/meetings", (201,), {"with": target, **(body or {})}
    else:
        path, ok, payload = f"/api/v1/me/meetings/{quote(target)}/{action}", (200,), None
    return client.request("POST", path, json=payload, ok=ok).json()


def _refusal(action: str, problem: Refused | ServerError) -> dict:
    reason = problem.body.get("reason") or problem.body.get("error") or str(problem.status)
    return {"action": action, "reason": reason, "message": problem.message}


def send_queue(cache: Cache, client: api.Client, result: MeetingSync) -> bool:
    """Send the queued meeting changes in order; False when the server could not take them now.

    A refusal (403, 404, 409, 422) is kept in the cache; a bad token (401) propagates.
    """
    for change in cache.pending(KIND):
        target, action = change["target"], change["action"]
        try:
            meeting = send(client, action, target, change["body"])
        except Offline as problem:
            result.note = f"{problem.message}; queued meeting changes kept for the next sync"
            return False
        except (Refused, ServerError) as problem:
            if problem.status == 401:
                raise
            if problem.status >= 500:
                result.note = f"the server failed ({problem.message}); queued meeting changes kept for the next sync"
                return False
            refusal = _refusal(action, problem)
            cache.settle(target, refusal, kind=KIND)
            result.refused.append({"target": target, **refusal})
        else:
            cache.settle(target, kind=KIND)
            _remember_side(cache, action, meeting)
            cache.store_meeting(meeting)
            result.sent.append({"target": target, "action": action, "meeting": meeting["id"]})
    return True


def fetch(cache: Cache, client: api.Client, result: MeetingSync) -> None:
    """Store my participant id and GET /me/meetings; no profile stores none."""
    try:
        profile = client.get("/api/v1/me/matchmaking").json()
    except (Refused, ServerError) as problem:
        if problem.status == 404:  # not a participant (most attendees): nothing to say
            cache.replace_meetings([], "")
            result.fetched = True
            return
        if problem.status == 401:
            raise
        result.note = f"your meetings could not be fetched ({problem.message})"
        return
    cache.replace_meetings(client.get("/api/v1/me/meetings").json(), profile["id"])
    result.fetched = True


def sync_meetings(cache: Cache, client: api.Client, settings: Settings, *, recheck: bool = True) -> MeetingSync:
    """Send the queue, then fetch my meetings; for `eventdesk sync`.

    Without `recheck` (nothing else changed) an attendee the last sync found without a profile is
    not asked again, so that an unchanged sync still costs no body; `sync --full` asks.
    """
    result = MeetingSync()
    known_outsider = cache.meta().get("participant_id") == "" and not cache.pending(KIND)
    if known_outsider and not recheck:
        return result
    if settings.token and send_queue(cache, client, result):
        try:
            fetch(cache, client, result)
        except Offline as problem:
            result.note = f"{problem.message}; your meetings are as last synced"
    result.waiting = len(cache.pending(KIND))
    if result.waiting and not settings.token:
        result.note = f"{result.waiting} meeting change(s) queued; set a token to send them"
    return result


def change(cache: Cache, settings: Settings, action: str, target: str, body: dict | None = None):
    """Send one change now, after any queued ones: ("sent", meeting, earlier) or ("queued", None, earlier).

    A refusal by the server raises CliError (exit 1) in its words; a bad token, Refused.
    """
    earlier = MeetingSync()
    if not settings.token:
        cache.queue(target, action, kind=KIND, body=body)
        return "queued", None, earlier
    client = api.Client(settings.server, settings.token)
    try:
        if not send_queue(cache, client, earlier):
            cache.queue(target, action, kind=KIND, body=body)
            return "queued", None, earlier
        try:
            meeting = send(client, action, target, body)
        except Offline:
            cache.queue(target, action, kind=KIND, body=body)
            return "queued", None, earlier
        except (Refused, ServerError) as problem:
            if problem.status == 401:
                raise
            if problem.status >= 500:
                cache.queue(target, action, kind=KIND, body=body)
                return "queued", None, earlier
            raise CliError(f"the server would not {action} {target}: {problem.message}") from None
        cache.forget_refusal(target, KIND)
        _remember_side(cache, action, meeting)
        cache.store_meeting(meeting)
        return "sent", meeting, earlier
    finally:
        client.close()


def _remember_side(cache: Cache, action: str, meeting: dict) -> None:
    """Learn my participant id from an answer when no sync has told it yet (who asked, who accepted)."""
    if cache.meta().get("participant_id") or action == "cancel":
        return
    side = meeting["requester"] if action == "request" else meeting["partner"]
    cache.set_meta(participant_id=side["id"])


def other_side(meeting: dict, me: str | None) -> dict:
    """The partner from my point of view (the requester when I was asked)."""
    return meeting["requester"] if me and meeting["partner"]["id"] == me else meeting["partner"]


def describe_party(party: dict) -> str:
    """ "Organisation 2 (Photonics Valley, BE)"."""
    where = ", ".join(part for part in (party.get("cluster"), party.get("country")) if part)
    return f"{party.get('organisation') or party['id']}" + (f" ({where})" if where else "")
