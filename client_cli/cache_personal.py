"""My things in the cache: my schedule and meetings as the server last answered, and the queue.

The queue (`pending`) holds changes not yet sent, keyed by (kind, target): `my add`/`my remove`
(kind "schedule") and `meet …` (kind "meeting"); `refused` keeps those the server turned down
until the user acts on them.
"""

from __future__ import annotations

import json

from client_cli.cache_file import CacheFile, utc_now
from client_cli.cache_programme import document_row


class PersonalCache(CacheFile):
    """my_schedule, meetings, pending and refused of a cache file."""

    # --- my schedule ---------------------------------------------------------------------

    def replace_schedule(self, document: dict) -> None:
        """Store GET /me/schedule as the server's view of my schedule."""
        rows = [
            {"session_id": item["session"]["id"], "added_at": item["added_at"], "seats_left": item["seats_left"]}
            for item in document["items"]
        ]
        db = self.db
        with self.guard(), db.atomic():
            db.execute("DELETE FROM my_schedule")
            if rows:
                db["my_schedule"].insert_all(rows)
            db["sessions"].upsert_all(
                [document_row("sessions", item["session"]) for item in document["items"]], pk="id"
            )

    def schedule_rows(self) -> dict[str, dict]:
        with self.guard():
            rows = self.conn.execute("SELECT session_id, added_at, seats_left FROM my_schedule").fetchall()
        return {row[0]: {"added_at": row[1], "seats_left": row[2]} for row in rows}

    def pending(self, kind: str = "schedule") -> list[dict]:
        """Queued changes of one kind, oldest first: {"session"} for bookmarks, {"target", "body"} for meetings."""
        with self.guard():
            rows = self.conn.execute(
                "SELECT target, action, body, queued_at FROM pending WHERE kind = ? ORDER BY queued_at, rowid",
                (kind,),
            ).fetchall()
        return [_queued(kind, target, {"action": action, "queued_at": at}, body) for target, action, body, at in rows]

    def refused(self, kind: str = "schedule") -> list[dict]:
        with self.guard():
            rows = self.conn.execute(
                "SELECT target, action, body, reason, message, at FROM refused WHERE kind = ? ORDER BY at, target",
                (kind,),
            ).fetchall()
        return [
            _queued(kind, target, {"action": action, "reason": reason, "message": message, "at": at}, body)
            for target, action, body, reason, message, at in rows
        ]

    def queue(self, target: str, action: str, *, kind: str = "schedule", body: dict | None = None) -> None:
        """Remember a change to send on the next sync; the latest wish for a target wins."""
        db = self.db
        key = {"kind": kind, "target": target}
        with self.guard(), db.atomic():
            db["refused"].delete_where("kind = ? AND target = ?", [kind, target])
            db["pending"].delete_where("kind = ? AND target = ?", [kind, target])  # to the back of the queue
            text = json.dumps(body, ensure_ascii=False) if body is not None else None
            db["pending"].insert({**key, "action": action, "body": text, "queued_at": utc_now()})

    def mark_mine(self, session_id: str, present: bool) -> None:
        """Record locally a change the server accepted, when its schedule could not be fetched after."""
        self.set_meta(schedule_etag=None)  # the stored schedule is no longer the one that ETag names
        with self.guard():
            if present:
                row = {"session_id": session_id, "added_at": utc_now(), "seats_left": None}
                self.db["my_schedule"].insert(row, pk="session_id", ignore=True)
            else:
                self.db["my_schedule"].delete_where("session_id = ?", [session_id])

    def forget_refusal(self, target: str, kind: str = "schedule") -> bool:
        """Dismiss a refusal; whether there was one."""
        with self.guard():
            gone = self.conn.execute("DELETE FROM refused WHERE kind = ? AND target = ?", (kind, target)).rowcount
        return gone > 0

    def settle(self, target: str, refusal: dict | None = None, *, kind: str = "schedule") -> None:
        """A queued change was sent: drop it, and keep the server's refusal if there was one."""
        db = self.db
        with self.guard(), db.atomic():
            row = self.conn.execute(
                "SELECT action, body FROM pending WHERE kind = ? AND target = ?", (kind, target)
            ).fetchone()
            db["pending"].delete_where("kind = ? AND target = ?", [kind, target])
            if refusal is not None:
                kept = {"kind": kind, "target": target, "body": row[1] if row else None, "action": refusal["action"]}
                db["refused"].insert(
                    {**kept, "reason": refusal["reason"], "message": refusal["message"], "at": utc_now()},
                    pk=("kind", "target"),
                    replace=True,
                )

    # --- my meetings ---------------------------------------------------------------------

    def replace_meetings(self, meetings: list[dict], participant_id: str) -> None:
        """Store GET /me/meetings (in the server's order) and who I am in them; "": no profile."""
        db = self.db
        rows = [
            {"id": m["id"], "position": n, "status": m["status"], "document": json.dumps(m, ensure_ascii=False)}
            for n, m in enumerate(meetings)
        ]
        with self.guard(), db.atomic():
            db.execute("DELETE FROM meetings")
            if rows:
                db["meetings"].insert_all(rows)
        self.set_meta(participant_id=participant_id, meetings_synced_at=utc_now())

    def store_meeting(self, meeting: dict) -> None:
        """One meeting as the server just answered it (a request made, or an answer given)."""
        with self.guard():
            found = self.conn.execute("SELECT position FROM meetings WHERE id = ?", (meeting["id"],)).fetchone()
            if found is None:
                found = self.conn.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM meetings").fetchone()
            row = {"id": meeting["id"], "position": found[0], "status": meeting["status"]}
            self.db["meetings"].upsert({**row, "document": json.dumps(meeting, ensure_ascii=False)}, pk="id")

    def meetings(self) -> list[dict]:
        return self._documents("SELECT document FROM meetings ORDER BY position")

    def my_session_ids(self) -> list[str]:
        """My schedule as it will be once the queue is sent: the server's, minus removals, plus adds."""
        mine = set(self.schedule_rows())
        for change in self.pending():
            if change["action"] == "add":
                mine.add(change["session"])
            else:
                mine.discard(change["session"])
        return sorted(mine)


def _queued(kind: str, target: str, fields: dict, body: str | None) -> dict:
    """A queue row as the commands see it: bookmarks keep their old shape ({"session", ...})."""
    if kind == "schedule":
        return {"session": target, **fields}
    return {"target": target, **fields, "body": json.loads(body) if body else None}
