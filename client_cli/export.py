"""Exports from the cache: iCalendar through the server's own renderer (same UIDs, same bytes)."""

from __future__ import annotations

from client_cli.cache import Cache


def ics(cache: Cache, server: str, *, mine: bool = False, tracks: list[str] = (), day: str | None = None) -> bytes:
    """The cached programme, or part of it, as the server's programme.ics would render it.

    `server` is the base URL each event links back to, as in the server's feeds.
    """
    from server import ical  # the server's pure renderer, shipped in the same distribution

    event = cache.event()
    track_docs = {track["id"]: track for track in cache.tracks()}
    sessions = cache.sessions(day=day)
    labels = []
    if tracks:
        sessions = [session for session in sessions if session["track"] in tracks]
        labels += [track_docs[track]["name"] for track in tracks]
    if day:
        labels += [item["label"] for item in cache.days() if item["date"] == day]
    name = event["title"]
    if mine:
        ids = set(cache.my_session_ids())
        sessions = [session for session in sessions if session["id"] in ids]
        name = f"My schedule — {name}"
    if labels:
        name += " — " + ", ".join(labels)
    return ical.render_calendar(
        event=event,
        rooms={room["id"]: room for room in cache.rooms()},
        tracks=track_docs,
        sessions=sessions,
        name=name,
        base_url=server.rstrip("/"),
    )
