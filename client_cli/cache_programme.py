"""The programme in the cache: the reads every command makes, and the writes a sync makes.

Each item is kept as the server's own JSON document (so `--json` and the exports give the
server's shapes exactly), beside the columns that filters, ordering and full-text search need.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from client_cli.cache_file import CacheFile

_SESSION_ORDER = "ORDER BY s.start_utc, COALESCE(r.position, -1), s.end_utc, s.id"
_SESSION_SELECT = "SELECT s.document FROM sessions s LEFT JOIN rooms r ON r.id = s.room"


class ProgrammeCache(CacheFile):
    """The event, days, rooms, tracks, speakers and sessions (+ sessions_fts) of a cache file."""

    # --- reading the programme -----------------------------------------------------------

    def event(self) -> dict:
        """The event document, with the version this cache holds."""
        (document,) = self._documents("SELECT document FROM event")
        document["version"] = self.version
        return document

    def days(self) -> list[dict]:
        with self.guard():
            rows = self.conn.execute("SELECT date, number, label FROM days ORDER BY number").fetchall()
        return [{"date": day, "number": number, "label": label} for day, number, label in rows]

    def rooms(self) -> list[dict]:
        return self._documents("SELECT document FROM rooms ORDER BY position, id")

    def tracks(self) -> list[dict]:
        return self._documents("SELECT document FROM tracks ORDER BY position, id")

    def speakers(self) -> list[dict]:
        """Speakers by name, each with the ids of their sessions in time order (as the server gives)."""
        speakers = self._documents("SELECT document FROM speakers ORDER BY name, id")
        sessions: dict[str, list[str]] = {}
        with self.guard():
            rows = self.conn.execute("SELECT id, document FROM sessions ORDER BY start_utc, id").fetchall()
        for session_id, document in rows:
            for speaker in json.loads(document)["speakers"]:
                sessions.setdefault(speaker["id"], []).append(session_id)
        for speaker in speakers:
            speaker["sessions"] = sessions.get(speaker["id"], [])
        return speakers

    def sessions(
        self,
        *,
        day: str | None = None,
        track: str | None = None,
        room: str | None = None,
        type: str | None = None,
        ids: Iterable[str] | None = None,
        match: str | None = None,
    ) -> list[dict]:
        """Sessions in the server's order (start, room, end, id), filtered like GET /sessions."""
        sql, params = _SESSION_SELECT + " WHERE 1 = 1", []
        for column, value in (("day", day), ("track", track), ("room", room), ("type", type)):
            if value is not None:
                sql += f" AND s.{column} = ?"
                params.append(value)
        if ids is not None:
            sql += " AND s.id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(ids)))
        if match is not None:
            sql += " AND s.rowid IN (SELECT rowid FROM sessions_fts WHERE sessions_fts MATCH ?)"
            params.append(match)
        return self._documents(f"{sql} {_SESSION_ORDER}", params)

    def session(self, session_id: str) -> dict | None:
        found = self.sessions(ids=[session_id])
        return found[0] if found else None

    def session_ids(self) -> set[str]:
        return self.ids("sessions")

    def ids(self, kind: str) -> set[str]:
        """The ids of every cached room, track, speaker or session."""
        if kind not in ("rooms", "tracks", "speakers", "sessions"):
            raise ValueError(kind)
        with self.guard():
            return {row[0] for row in self.conn.execute(f"SELECT id FROM {kind}")}  # noqa: S608 - checked name

    def sessions_around(self, moment: datetime) -> tuple[list[dict], list[dict]]:
        """Live sessions on at `moment`, and those of the next start time after it."""
        at = moment.astimezone(UTC).isoformat()
        live = f"{_SESSION_SELECT} WHERE s.status != 'cancelled'"
        now = self._documents(f"{live} AND s.start_utc <= ? AND s.end_utc > ? {_SESSION_ORDER}", (at, at))
        first_start = "SELECT MIN(start_utc) FROM sessions WHERE status != 'cancelled' AND start_utc > ?"
        upcoming = self._documents(f"{live} AND s.start_utc = ({first_start}) {_SESSION_ORDER}", (at,))
        return now, upcoming

    def types(self) -> list[str]:
        with self.guard():
            return [row[0] for row in self.conn.execute("SELECT DISTINCT type FROM sessions ORDER BY type")]

    def programme(self) -> dict:
        """The whole programme in the shape of GET /events/{event}/programme."""
        sessions = self.sessions()
        days = [dict(day, sessions=[]) for day in self.days()]
        by_date = {day["date"]: day for day in days}
        for session in sessions:
            by_date[session["day"]]["sessions"].append(session)
        return {
            "event": self.event(),
            "version": self.version,
            "rooms": self.rooms(),
            "tracks": self.tracks(),
            "speakers": self.speakers(),
            "days": days,
        }

    # --- writing the programme -----------------------------------------------------------

    def replace_programme(self, document: dict, progress: Callable[[list], Iterable] = iter) -> None:
        """Store a whole programme (GET /programme), replacing what was cached, in one transaction."""
        db = self.db
        sessions = [session for day in document["days"] for session in day["sessions"]]
        with self.guard(), db.atomic():
            for table in ("event", "days", "rooms", "tracks", "speakers", "sessions"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            self._store_event(document["event"])
            self.upsert("rooms", document["rooms"])
            self.upsert("tracks", document["tracks"])
            self.upsert("speakers", document["speakers"])
            batch: list[dict] = []
            for session in progress(sessions):
                batch.append(session)
                if len(batch) == 100:
                    self.upsert("sessions", batch)
                    batch = []
            self.upsert("sessions", batch)

    def apply_changes(self, changes: dict) -> None:
        """Apply a GET /changes answer (upserts and deletions per kind) in one transaction."""
        db = self.db
        with self.guard(), db.atomic():
            if changes["upserts"].get("event"):
                self._store_event(changes["upserts"]["event"])
            for kind in ("rooms", "tracks", "speakers", "sessions"):
                self.upsert(kind, changes["upserts"].get(kind) or [])
                for item_id in changes["deletions"].get(kind) or []:
                    db[kind].delete_where("id = ?", [item_id])

    def _store_event(self, event: dict) -> None:
        db = self.db
        db.execute("DELETE FROM event")
        db["event"].insert({"slug": event["slug"], "document": json.dumps(event, ensure_ascii=False)})
        db.execute("DELETE FROM days")
        db["days"].insert_all(
            [{"date": day["date"], "number": day["number"], "label": day["label"]} for day in event["days"]]
        )

    def upsert(self, kind: str, documents: list[dict]) -> None:
        if documents:
            self.db[kind].upsert_all([document_row(kind, document) for document in documents], pk="id")


def document_row(kind: str, document: dict) -> dict:
    """A document as its table's row: the columns queries need, and the document itself."""
    row = {"id": document["id"], "document": json.dumps(document, ensure_ascii=False)}
    if kind in ("rooms", "tracks"):
        row.update(name=document["name"], position=document["position"])
    elif kind == "speakers":
        row.update(name=document["name"], organisation=document.get("organisation") or "")
    else:
        row.update(
            {column: document[column] for column in ("title", "type", "track", "room", "day", "status")},
            abstract=document.get("abstract") or "",
            start_utc=utc_of(document["start"]),
            end_utc=utc_of(document["end"]),
            speaker_names=" ".join(speaker["name"] for speaker in document["speakers"]),
        )
    return row


def utc_of(stamp: str) -> str:
    """An ISO 8601 time with offset as UTC text that sorts in time order."""
    return datetime.fromisoformat(stamp).astimezone(UTC).isoformat()
