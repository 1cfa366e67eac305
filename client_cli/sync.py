"""`eventdesk sync`: bring the cache up to date cheaply, and say in words what changed.

The programme: a conditional HEAD of /programme (If-None-Match: 304 means nothing changed),
else the deltas from /changes?since=<cached version>, else (first sync, or 410 because the
server's change log no longer reaches back that far) the whole /programme. Then, with a token,
the queued `my add`/`my remove` are sent (a refusal such as a full session is kept and
reported, never dropped) and /me/schedule is fetched; likewise the queued `meet …` changes
are sent and /me/meetings fetched (client_cli/meetings.py). Network trouble leaves the cache as it
was, with a note; only when nothing is cached at all is that an error (exit 3).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from urllib.parse import quote

from client_cli import api, meetings
from client_cli.cache import Cache, CacheMissing, cache_path, utc_now
from client_cli.config import Settings
from client_cli.errors import DamagedCache, NoCache, Offline, ServerError

# The words of the summary, in the order they are said.
KINDS = ("moved", "cancelled", "new", "renamed", "removed", "reinstated", "updated")
_WHERE_AND_WHEN = ("start", "end", "room")
_BOOKKEEPING = {"updated_at", "sequence"}  # fields that change along with others, not news in themselves


@dataclass
class SessionChange:
    """One session that changed, with what happened to it."""

    kinds: list[str]
    before: dict | None
    after: dict | None
    in_my_schedule: bool = False

    @property
    def session(self) -> dict:
        return self.after or self.before

    def to_json(self) -> dict:
        return {
            "session": self.session["id"],
            "title": self.session["title"],
            "kinds": self.kinds,
            "in_my_schedule": self.in_my_schedule,
            "before": _where_and_when(self.before),
            "after": _where_and_when(self.after),
        }


@dataclass
class ScheduleSync:
    """What happened to the personal schedule during a sync."""

    sent: list[dict] = field(default_factory=list)  # {"session", "action"}
    refused: list[dict] = field(default_factory=list)  # {"session", "action", "reason", "message"}
    waiting: int = 0  # changes still queued
    fetched: bool = False
    unchanged: bool = False  # the server answered 304: the cached schedule is current
    note: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class SyncReport:
    event: str
    server: str
    mode: str = "unchanged"  # "first", "unchanged", "delta", "full" or "offline"
    version_before: int | None = None
    version: int | None = None
    sessions: list[SessionChange] = field(default_factory=list)
    others: dict[str, Counter] = field(default_factory=dict)  # kind -> {"changed": n, "removed": n}
    schedule: ScheduleSync | None = None
    meetings: meetings.MeetingSync | None = None
    notes: list[str] = field(default_factory=list)
    gone: bool = False  # the server answered 410 to the delta request
    session_count: int = 0
    requests: int = 0
    wire_bytes: int = 0
    seconds: float = 0.0
    cache: Cache | None = field(default=None, repr=False)  # the updated cache, open

    def sync_notes(self) -> list[str]:
        """The notes to print on stderr: the sync's own, then the schedule's and the meetings'."""
        parts = (self.schedule, self.meetings)
        return self.notes + [part.note for part in parts if part is not None and part.note]

    def summary(self) -> str:
        """What changed, in words: "2 sessions moved, 1 cancelled, 1 new"."""
        counts = Counter(kind for change in self.sessions for kind in change.kinds)
        parts = [f"{counts[kind]} {kind}" for kind in KINDS if counts[kind]]
        if parts:
            first = next(kind for kind in KINDS if counts[kind])
            parts[0] = f"{counts[first]} session{'s' if counts[first] != 1 else ''} {first}"
        others = [
            f"{count} {kind[:-1] if count == 1 else kind} {what}"
            for kind, whats in self.others.items()
            for what, count in whats.items()
            if count
        ]
        if others:
            parts.append(("also " if parts else "") + ", ".join(others))
        return ", ".join(parts) if parts else "nothing changed"

    def mine(self) -> list[SessionChange]:
        return [change for change in self.sessions if change.in_my_schedule]

    def to_json(self) -> dict:
        return {
            "event": self.event,
            "server": self.server,
            "mode": self.mode,
            "gone": self.gone,
            "version_before": self.version_before,
            "version": self.version,
            "summary": self.summary(),
            "sessions": self.session_count,
            "changes": [change.to_json() for change in self.sessions],
            "others": {kind: dict(whats) for kind, whats in self.others.items()},
            "schedule": self.schedule.to_json() if self.schedule else None,
            "meetings": self.meetings.to_json() if self.meetings else None,
            "notes": self.notes,
            "requests": self.requests,
            "bytes": self.wire_bytes,
            "seconds": round(self.seconds, 3),
        }


def open_for_sync(path, notes: list[str]) -> Cache:
    """The cache to update: the existing one, a new one, or a new one beside a damaged one."""
    try:
        return Cache.open(path)
    except CacheMissing:
        return Cache.create(path)
    except DamagedCache as problem:
        damaged = Cache.set_aside(path)
        notes.append(f"{problem.message}; moved it to {damaged} and started a new one")
        return Cache.create(path)


def sync(
    settings: Settings, *, full: bool = False, progress: Callable[[list], Iterable] = iter, cache: Cache | None = None
) -> SyncReport:
    """Update the cache of settings.event from settings.server; see the module docstring."""
    started = time.perf_counter()
    report = SyncReport(settings.event, settings.server)
    cache = report.cache = cache or open_for_sync(cache_path(settings.server, settings.event), report.notes)
    client = api.Client(settings.server, settings.token)
    report.version_before = cache.version
    mine_before = set(cache.my_session_ids())
    try:
        try:
            _sync_programme(cache, client, report, full=full, progress=progress)
        except (Offline, ServerError) as problem:
            if isinstance(problem, ServerError) and problem.status < 500:
                if problem.status == 404:
                    raise ServerError(
                        f"{settings.server} has no event {settings.event!r} ({problem.message})", problem.status
                    ) from None
                raise
            if cache.version is None:
                raise NoCache(
                    f"nothing is cached for {settings.event} yet and {problem.message}; "
                    "connect once and run `eventdesk sync`"
                ) from None
            report.mode, report.version = "offline", cache.version
            report.notes.append(f"{problem.message}; the cache is as it was")
            report.schedule = ScheduleSync(waiting=len(cache.pending()))
            report.meetings = meetings.MeetingSync(waiting=len(cache.pending(meetings.KIND)))
        else:
            cache.set_meta(synced_at=utc_now(), server=settings.server, event=settings.event)
            report.schedule = _sync_schedule(cache, client, settings)
            recheck = full or report.mode != "unchanged" or not report.schedule.unchanged
            report.meetings = meetings.sync_meetings(cache, client, settings, recheck=recheck)
        mine = mine_before | set(cache.my_session_ids())
        for change in report.sessions:
            change.in_my_schedule = change.session["id"] in mine
        report.session_count = len(cache.session_ids())
    finally:
        report.requests, report.wire_bytes = client.requests, client.wire_bytes
        report.seconds = time.perf_counter() - started
        client.close()
    return report


def _sync_programme(cache: Cache, client: api.Client, report: SyncReport, *, full: bool, progress) -> None:
    base = f"/api/v1/events/{quote(report.event)}"
    cached_etag = cache.meta().get("etag") if cache.version is not None else None
    if cache.version is not None and not full:
        seen_etag = None
        if cached_etag:
            condition = {"If-None-Match": cached_etag}
            head = client.request("HEAD", f"{base}/programme", headers=condition, ok=(200, 304), auth=False)
            if head.status == 304:
                report.mode, report.version = "unchanged", cache.version
                return
            # Changed: the deltas are enough. The tag filed with them is the one just seen,
            # never newer than the data they bring (at worst the next sync asks once more).
            seen_etag = head.headers.get("etag")
        try:
            reply = client.get(f"{base}/changes?since={cache.version}", auth=False)
        except ServerError as problem:
            if problem.status != 410:
                raise
            report.gone = True
        else:
            _apply_changes(cache, reply.json(), seen_etag, report)
            return
        cached_etag = None  # known to be stale: fetch unconditionally
    condition = {"If-None-Match": cached_etag} if cached_etag else {}
    reply = client.get(f"{base}/programme", headers=condition, ok=(200, 304), auth=False)
    if reply.status == 304:
        report.mode, report.version = "unchanged", cache.version
        return
    document = reply.json()
    before = cache.programme() if cache.version is not None else None
    cache.replace_programme(document, progress)
    cache.set_meta(version=document["version"], etag=reply.headers.get("etag"))
    report.mode = "first" if before is None else "full"
    report.version = document["version"]
    if before is not None:
        _diff_programmes(before, document, report)


def _apply_changes(cache: Cache, changes: dict, etag: str | None, report: SyncReport) -> None:
    upserts, deletions = changes["upserts"], changes["deletions"]
    touched = [session["id"] for session in upserts["sessions"]] + list(deletions["sessions"])
    before = {session["id"]: session for session in cache.sessions(ids=touched)}
    old_items = {kind: cache.ids(kind) for kind in ("rooms", "tracks", "speakers")}
    cache.apply_changes(changes)
    cache.set_meta(version=changes["version"], etag=etag)
    report.mode = "delta" if changes["version"] != report.version_before else "unchanged"
    report.version = changes["version"]
    after = {session["id"]: session for session in upserts["sessions"]}
    after.update(dict.fromkeys(deletions["sessions"]))
    report.sessions = _session_changes(before, after)
    for kind in ("rooms", "tracks", "speakers"):
        counts = Counter(
            {
                "new": sum(1 for item in upserts[kind] if item["id"] not in old_items[kind]),
                "changed": sum(1 for item in upserts[kind] if item["id"] in old_items[kind]),
                "removed": len(deletions[kind]),
            }
        )
        if +counts:
            report.others[kind] = +counts


def _diff_programmes(before: dict, after: dict, report: SyncReport) -> None:
    """What a full fetch changed, said the same way as a delta."""
    old = {s["id"]: s for day in before["days"] for s in day["sessions"]}
    new = {s["id"]: s for day in after["days"] for s in day["sessions"]}
    touched = {i: new.get(i) for i in old.keys() | new.keys() if old.get(i) != new.get(i)}
    report.sessions = _session_changes({i: old[i] for i in touched if i in old}, touched)
    for kind in ("rooms", "tracks", "speakers"):
        strip = (lambda item: {k: v for k, v in item.items() if k != "sessions"}) if kind == "speakers" else dict
        old_items = {item["id"]: strip(item) for item in before[kind]}
        new_items = {item["id"]: strip(item) for item in after[kind]}
        counts = Counter(
            {
                "new": len(new_items.keys() - old_items.keys()),
                "changed": sum(1 for i in new_items.keys() & old_items.keys() if new_items[i] != old_items[i]),
                "removed": len(old_items.keys() - new_items.keys()),
            }
        )
        if +counts:
            report.others[kind] = +counts


def _session_changes(before: dict[str, dict], after: dict[str, dict | None]) -> list[SessionChange]:
    """Each touched session's change; `after` maps deleted ids to None."""
    changes = []
    for session_id, new in after.items():
        kinds = classify(before.get(session_id), new)
        if kinds:
            changes.append(SessionChange(kinds, before.get(session_id), new))
    changes.sort(key=lambda change: (change.session["start"], change.session["id"]))
    return changes


def classify(before: dict | None, after: dict | None) -> list[str]:
    """What happened to one session: new, removed, cancelled, reinstated, moved, renamed or updated."""
    if before is None:
        return ["new"] if after is not None else []
    if after is None:
        return ["removed"]
    kinds = []
    if after["status"] == "cancelled" and before["status"] != "cancelled":
        kinds.append("cancelled")
    elif before["status"] == "cancelled" and after["status"] != "cancelled":
        kinds.append("reinstated")
    if any(before[key] != after[key] for key in _WHERE_AND_WHEN):
        kinds.append("moved")
    if before["title"] != after["title"]:
        kinds.append("renamed")
    if not kinds and any(before.get(key) != value for key, value in after.items() if key not in _BOOKKEEPING):
        kinds.append("updated")
    return kinds


def _sync_schedule(cache: Cache, client: api.Client, settings: Settings) -> ScheduleSync:
    """Send the queued changes, then fetch the schedule; Refused (a bad token) propagates."""
    result = ScheduleSync()
    if not settings.token:
        result.waiting = len(cache.pending())
        if result.waiting:
            result.note = (
                f"{result.waiting} schedule change(s) queued; set a token (`eventdesk config set token …`) to send them"
            )
        return result
    for change in cache.pending():
        path = f"/api/v1/me/schedule/{quote(change['session'])}"
        try:
            if change["action"] == "add":
                client.request("PUT", path, ok=(200, 201))
            else:
                client.request("DELETE", path, ok=(204,))
        except Offline as problem:
            result.note = f"{problem.message}; queued changes kept for the next sync"
            break
        except ServerError as problem:
            if problem.status >= 500:
                result.note = f"the server failed ({problem.message}); queued changes kept for the next sync"
                break
            refusal = {
                "action": change["action"],
                "reason": problem.body.get("reason") or problem.body.get("error") or str(problem.status),
                "message": problem.message,
            }
            cache.settle(change["session"], refusal)
            result.refused.append({"session": change["session"], **refusal})
        else:
            cache.settle(change["session"])
            result.sent.append({"session": change["session"], "action": change["action"]})
    result.waiting = len(cache.pending())
    if result.note is None:
        known = cache.meta().get("schedule_etag")  # 304 while nothing the schedule shows changed
        try:
            reply = client.get(
                "/api/v1/me/schedule", headers={"If-None-Match": known} if known else None, ok=(200, 304)
            )
        except Offline as problem:
            result.note = f"{problem.message}; your schedule is as last synced"
            return result
        if reply.status == 304:
            cache.set_meta(schedule_synced_at=utc_now())
            result.fetched = result.unchanged = True
            return result
        document = reply.json()
        if document.get("event") != settings.event:
            result.note = f"your token belongs to event {document.get('event')!r}, not {settings.event!r}"
            return result
        cache.replace_schedule(document)
        cache.set_meta(schedule_synced_at=utc_now(), schedule_etag=reply.headers.get("etag"))
        result.fetched = True
    return result


def _where_and_when(session: dict | None) -> dict | None:
    if session is None:
        return None
    return {key: session[key] for key in ("start", "end", "room", "status", "title")}
