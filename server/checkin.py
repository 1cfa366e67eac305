"""Redeeming scans: one verdict per attempt, decided and recorded in one transaction.

Online scans, offline batches and desk check-ins all go through `_judge`, inside
BEGIN IMMEDIATE, so two doors scanning one ticket at once get exactly one `ok`. Every attempt
is stored (the audit log); a repeated (device, scan_id) gets the stored answer again, but only
for the same request: a scan_id means one scan, so another payload, list, type or door time
under a used scan_id is refused (409 scan_id_reused) and kept in `scan_id_reuses`.
Offline scans are judged by their door time: the earliest entry wins, later ones are kept
and flagged as conflicts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

import sqlite_utils

from server import clock, contract, db as database, metrics, ticketcode, tickets
from server.attendance import ACCEPTED_SCANS, last_accepted
from server.checkin_lists import admits, resolve_list
from server.errors import BadParameter, NotFound, ScanIdReused
from server.programme import get_event
from server.ticketcode import MESSAGES

HTTP_STATUS = {
    "ok": 201,
    "already_checked_in": 409,
    "revoked": 403,
    "invalid_signature": 400,
    "wrong_event": 400,
    "malformed": 400,
    "unknown_ticket": 404,
    "not_on_list": 404,
}
CLOCK_SKEW = timedelta(minutes=2)
# Longer text is malformed (ticketcode.MAX_PAYLOAD, the rule every door shares) without being
# parsed or verified, and never becomes a key of the verified-code cache, so that cache holds
# at most _CODE_CACHE_SIZE keys of at most this length (a few MB per worker).
MAX_PAYLOAD = ticketcode.MAX_PAYLOAD
_CODE_CACHE_SIZE = 16384


@dataclass
class Scan:
    """One attempt as a device reports it."""

    scan_id: str
    list_ref: str
    payload: str = ""
    type: str = "entry"
    scanned_at: str | None = None


def check_scan(data: object, *, offline: bool = False, prefix: str = "") -> Scan:
    """The scan's fields as declared (ScanInput), or a 400 naming each bad one.

    Such a request is no scan attempt, so nothing is recorded for it.
    """
    values, found = contract.check_body("ScanInput", data, body="input", prefix=prefix)
    fields = found.all
    for name in ("payload", "list", "scan_id"):
        if isinstance(values.get(name), str) and not values[name].strip():
            fields.setdefault(f"{prefix}{name}", "is required (a string)")
    if offline and isinstance(data, dict) and "scanned_at" not in data:
        fields.setdefault(f"{prefix}scanned_at", "is required for offline scans (ISO 8601 with offset)")
    if fields:
        raise BadParameter("invalid scan: " + ", ".join(sorted(fields)), fields=fields)
    return Scan(
        values["scan_id"].strip(), values["list"].strip(), values["payload"], values["type"], values.get("scanned_at")
    )


def check_batch(data: dict) -> list[Scan]:
    """An offline upload's scans (ScanBatch), or a 400 naming every bad field; nothing is judged before."""
    fields = contract.check_body("ScanBatch", data, body="input")[1].all
    scans = data.get("scans")
    checked = []
    if isinstance(scans, list) and "scans" not in fields:  # the list itself is sound: each scan's own rules
        for index, item in enumerate(scans):
            try:
                checked.append(check_scan(item, offline=True, prefix=f"scans[{index}]."))
            except BadParameter as problem:
                fields.update(problem.fields)
    if fields:
        raise BadParameter("invalid batch: " + ", ".join(sorted(fields)), fields=fields)
    return checked


def _door_time(scan: Scan, now: datetime) -> datetime | None:
    """The moment the scan happened at the door; None if unreadable or in the future."""
    if scan.scanned_at is None:
        return now
    try:
        moment = datetime.fromisoformat(scan.scanned_at.replace("Z", "+00:00"))
        if moment.tzinfo is None or moment > now + CLOCK_SKEW:
            return None
        moment.astimezone(UTC)  # stored in UTC: 0001-01-01 east of Greenwich has no UTC date
    except (ValueError, OverflowError):
        return None
    return moment


class Verdict(NamedTuple):
    """One scan's answer: `text` is the JSON sent to the door (the stored answer, once encoded)."""

    pk: int
    response: dict
    status: int
    text: str

    @classmethod
    def of(cls, pk: int, stored: str, response: dict | None = None) -> Verdict:
        response = json.loads(stored) if response is None else response
        return cls(pk, response, HTTP_STATUS[response["result"]], f'{{"id":{pk},{stored[1:]}')

    @property
    def answer(self) -> dict:
        return {"id": self.pk, **self.response}


def request_hash(scan: Scan, source: str, attendee_pk: int | None) -> str:
    """What makes two requests under one scan_id the same scan: everything the device sent."""
    sent = [source, scan.payload, scan.list_ref, scan.type, scan.scanned_at, attendee_pk]
    return hashlib.sha256(json.dumps(sent).encode("ascii")).hexdigest()


def _previous(db, scan: Scan, device_id: int | None, event_id: int, fingerprint: str,
              *, source: str, now: datetime) -> Verdict | ScanIdReused | None:  # fmt: skip
    """The stored answer to this very request; a used scan_id with other content is refused
    (and recorded: the attempt is part of the audit, though not a scan)."""
    row = db.conn.execute(
        "SELECT pk, response, request_hash FROM scans WHERE event_id = ? AND device_id IS ? AND scan_id = ?",
        (event_id, device_id, scan.scan_id),
    ).fetchone()
    if row is None:
        return None
    if row[2] is None or row[2] == fingerprint:  # None: stored before migration 3, replayed as then
        return Verdict.of(row[0], row[1])
    db.conn.execute(
        "INSERT INTO scan_id_reuses (scan_pk, source, payload_hash, list_ref, type, scanned_at, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (row[0], source, _payload_hash(scan), scan.list_ref, scan.type, scan.scanned_at, clock.utc_stamp(now)),
    )
    return ScanIdReused(
        f"scan_id {scan.scan_id!r} was used by this device for another scan (id {row[0]}); "
        "make a new scan_id for every scan",
        fields={"scan_id": "already used for a different scan"},
        scan=row[0],
    )


def _payload_hash(scan: Scan) -> str:
    return hashlib.sha256(scan.payload.encode("utf-8")).hexdigest() if scan.payload else ""


def _holder(db, event_id: int, list_pk: int, checked: tuple[str, str | None],
            attendee_pk: int | None) -> tuple[str, str | None, dict | None, bool]:  # fmt: skip
    """(result so far, serial, holder, member of the list): the ticket's state and its holder in
    one statement, inside the write lock (a revocation committed a moment ago counts)."""
    result, serial = checked
    if attendee_pk is not None:  # the desk names the attendee; no ticket involved
        row = db.conn.execute(
            "SELECT 'ok', pk, id, name, organisation, category, "
            "EXISTS (SELECT 1 FROM checkin_list_members WHERE list_pk = ? AND attendee_pk = a.pk) "
            "FROM attendees a WHERE a.pk = ?",
            (list_pk, attendee_pk),
        ).fetchone()
    elif result != "ok":
        return result, None, None, False
    else:
        row = db.conn.execute(
            "SELECT CASE WHEN t.revoked_at IS NULL AND a.pk IS NOT NULL THEN 'ok' ELSE 'revoked' END, "
            "a.pk, a.id, a.name, a.organisation, a.category, "
            "EXISTS (SELECT 1 FROM checkin_list_members WHERE list_pk = ? AND attendee_pk = a.pk) "
            "FROM tickets t LEFT JOIN attendees a ON a.pk = t.attendee_pk WHERE t.serial = ? AND t.event_id = ?",
            (list_pk, serial, event_id),
        ).fetchone()
        if row is None:
            return "unknown_ticket", serial, None, False
    if row[1] is None:  # a ticket whose holder was erased
        return row[0], serial, None, False
    holder = {"pk": row[1], "id": row[2], "name": row[3], "organisation": row[4], "category": row[5]}
    return row[0], serial, holder, bool(row[6])


def _first_entry(db, list_pk: int, attendee_pk: int) -> dict | None:
    row = db.conn.execute(
        "SELECT scanned_at, (SELECT label FROM api_tokens WHERE api_tokens.id = scans.device_id) "  # noqa: S608
        f"{ACCEPTED_SCANS} AND type = 'entry' ORDER BY scanned_at, pk LIMIT 1",
        (list_pk, attendee_pk),
    ).fetchone()
    return {"scanned_at": row[0], "device": row[1]} if row else None


def _entry_verdict(db, list_row: dict, attendee_pk: int, stamp: str) -> tuple[str, dict | None, list[int]]:
    """ok or already_checked_in at door time `stamp`, the first entry, and later entries it supersedes.

    A few indexed lookups (the partial index `scans_accepted`), not the person's whole history:
    the last accepted scan at or before `stamp` says whether they are inside.
    """
    key = (list_row["pk"], attendee_pk)
    last = last_accepted(db, *key, at=stamp)
    inside = last is not None and last[0] == "entry"
    came_before = (
        last is not None
        and not list_row["allow_reentry"]
        and db.conn.execute(f"SELECT 1 {ACCEPTED_SCANS} AND scanned_at <= ? AND type = 'entry' LIMIT 1", (*key, stamp))
        .fetchone() is not None
    )  # fmt: skip
    if inside or came_before:  # came_before: left, and the list allows no re-entry
        return "already_checked_in", _first_entry(db, *key), []
    superseded = []
    for pk, kind in db.conn.execute(f"SELECT pk, type {ACCEPTED_SCANS} AND scanned_at > ? ORDER BY scanned_at, pk",
                                    (*key, stamp)):  # fmt: skip
        if kind == "exit":  # entries after this one, until the next exit, now repeat it
            break
        superseded.append(pk)
    return "ok", None, superseded


def _judge(db, event: dict, scan: Scan, *, device_id: int | None, source: str, now: datetime,
           checked: tuple[str, str | None] = ("malformed", None),
           attendee_pk: int | None = None) -> Verdict | ScanIdReused:  # fmt: skip
    """Decide and record one attempt (inside the caller's write transaction).

    A reused scan_id is answered with the ScanIdReused to raise once the transaction (which
    recorded it) has committed.
    """
    fingerprint = request_hash(scan, source, attendee_pk)
    previous = _previous(db, scan, device_id, event["id"], fingerprint, source=source, now=now)
    if previous is not None:
        return previous
    try:
        list_row = resolve_list(db, event, scan.list_ref)
    except NotFound:
        if source == "online":
            raise  # the device can fix its request; offline scans are kept whatever they say
        list_row = None
    moment = _door_time(scan, now)
    serial = holder = first = None
    member = False
    superseded: list[int] = []
    if moment is None or list_row is None:
        result, moment = "malformed", moment or now
    else:
        result, serial, holder, member = _holder(db, event["id"], list_row["pk"], checked, attendee_pk)
        attendee_pk = holder.pop("pk") if holder else None
    stamp = clock.utc_stamp(moment)
    zone = ZoneInfo(event["timezone"])
    if result == "ok":
        in_window = list_row["starts_at"] <= stamp < list_row["ends_at"]
        if not (admits(list_row, holder["category"], member) and in_window):
            result = "not_on_list"
    if result == "ok" and scan.type == "entry":
        result, first, superseded = _entry_verdict(db, list_row, attendee_pk, stamp)
    conflict = result == "already_checked_in"
    response = {
        "result": result,
        "message": MESSAGES[result],
        "scan_id": scan.scan_id,
        "list": list_row["id"] if list_row else scan.list_ref,
        "type": scan.type,
        "scanned_at": moment.replace(microsecond=0).astimezone(zone).isoformat(),
        "source": source,
        "serial": serial,
        "attendee": holder,
        "conflict": conflict,
    }
    if first is not None and result == "already_checked_in":
        response["first_entry"] = {
            "at": clock.parse_stamp(first["scanned_at"]).astimezone(zone).isoformat(),
            "device": first["device"],
        }
    if result != "ok":
        response["error"] = result
    stored = json.dumps(response, ensure_ascii=False, separators=(",", ":"))
    cursor = db.conn.execute(
        "INSERT INTO scans (event_id, device_id, scan_id, list_pk, type, source, payload_hash, serial, attendee_pk, "
        "result, conflict, scanned_at, received_at, response, request_hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event["id"], device_id, scan.scan_id, list_row["pk"] if list_row else None, scan.type, source,
            _payload_hash(scan), serial, attendee_pk, result, int(conflict), stamp,
            stamp if moment is now else clock.utc_stamp(now), stored, fingerprint,
        ),
    )  # fmt: skip
    if superseded:
        db.conn.executemany("UPDATE scans SET conflict = 1 WHERE pk = ?", [(pk,) for pk in superseded])
    # Counted as recorded, before the caller's COMMIT: only an unexpected error (a 500) between
    # here and the commit could roll back a counted scan.
    metrics.count_scan(result, source)
    return Verdict.of(cursor.lastrowid, stored, response)


def check_code(event: dict, payload: str, keys: tuple[bytes, ...]) -> tuple[str, str | None]:
    """(result so far, serial) from the scanned text alone: no database, so it runs before the write lock."""
    if len(payload) > MAX_PAYLOAD:
        return "malformed", None
    return _check_code(event["slug"], payload.strip().upper(), keys)


@lru_cache(maxsize=_CODE_CACHE_SIZE)
def _check_code(slug: str, payload: str, keys: tuple[bytes, ...]) -> tuple[str, str | None]:
    """Cached per worker: the same code is shown again at exits and re-entries, and an Ed25519
    verify is the largest single cost of a redeem (~13% under load). The answer depends only on
    the text and the keys, both in the key, so a cached answer is never stale."""
    try:
        code = ticketcode.parse(payload)
    except ticketcode.MalformedPayload:
        return "malformed", None
    if code.event_slug != slug:
        return "wrong_event", None
    if not ticketcode.verify(code, keys):
        return "invalid_signature", None
    return "ok", code.serial_hex


def redeem(db: sqlite_utils.Database, slug: str, scan: Scan, *, device_id: int | None) -> Verdict:
    """One online scan: its verdict, with the HTTP status and the JSON to answer with.

    The signature is checked before the write lock is taken (it needs no database), so the
    lock is held only for the few statements that decide and record.
    """
    event, keys = tickets.event_with_keys(db, slug)
    checked = check_code(event, scan.payload, keys)
    with database.write(db):
        verdict = _judge(db, event, scan, device_id=device_id, source="online", now=clock.now(), checked=checked)
    if isinstance(verdict, ScanIdReused):
        raise verdict
    return verdict


def redeem_batch(db: sqlite_utils.Database, slug: str, scans: list[Scan], *, device_id: int | None) -> list[dict]:
    """Offline scans uploaded later, judged in door-time order; retrying the batch changes nothing.

    A scan whose scan_id this device already used for another scan is answered, in its place,
    with the scan_id_reused error (its fields naming scans[i].scan_id) and recorded; the other
    scans are judged and stored as usual. A door must never lose scans, so one bad scan_id
    (a device bug) does not hold back the rest of the batch.
    """
    event, keys = tickets.event_with_keys(db, slug)
    checked = [check_code(event, scan.payload, keys) for scan in scans]
    with database.write(db):
        now = clock.now()

        def door_order(index: int) -> tuple:
            moment = _door_time(scans[index], now)  # unreadable or future times go last, as malformed
            return (moment is None, moment.timestamp() if moment else 0, index)

        order = sorted(range(len(scans)), key=door_order)
        answers: dict[int, dict] = {}
        for index in order:
            verdict = _judge(
                db, event, scans[index], device_id=device_id, source="offline", now=now, checked=checked[index]
            )
            answers[index] = _batch_answer(verdict, index, scans[index])
    return [answers[index] for index in range(len(scans))]


def _batch_answer(verdict: Verdict | ScanIdReused, index: int, scan: Scan) -> dict:
    if isinstance(verdict, Verdict):
        return verdict.answer
    problem = verdict.to_dict()
    problem["fields"] = {f"scans[{index}].{name}": text for name, text in problem["fields"].items()}
    return {"scan_id": scan.scan_id, **problem}


def desk_checkin(
    db: sqlite_utils.Database, slug: str, attendee_id: str, list_ref: str, scan_type: str, scan_id: str,
    *, device_id: int | None,
) -> tuple[dict, int]:  # fmt: skip
    """Check someone in (or out) by hand at the desk, e.g. with no phone or a damaged code."""
    with database.write(db):
        event = get_event(db, slug)
        row = db.conn.execute(
            "SELECT pk FROM attendees WHERE event_id = ? AND id = ?", (event["id"], attendee_id)
        ).fetchone()
        if row is None:
            raise NotFound(f"no attendee {attendee_id!r} in event {slug!r}", fields={"attendee": "unknown id"})
        scan = Scan(scan_id, list_ref, "", scan_type)
        verdict = _judge(db, event, scan, device_id=device_id, source="desk", now=clock.now(), attendee_pk=row[0])
    if isinstance(verdict, ScanIdReused):
        raise verdict
    return verdict.answer, verdict.status


def undo_scan(db: sqlite_utils.Database, slug: str, scan_pk: int, *, device_id: int | None) -> dict:
    """Take back an accepted scan (a mistaken check-in); the row stays, marked undone, for the audit."""
    with database.write(db):
        event = get_event(db, slug)
        row = db.conn.execute(
            "SELECT pk, result, undone_at FROM scans WHERE event_id = ? AND pk = ?", (event["id"], scan_pk)
        ).fetchone()
        if row is None:
            raise NotFound(f"no scan {scan_pk} in event {slug!r}", resource="scan")
        if row["result"] == "ok" and row["undone_at"] is None:
            db.conn.execute(
                "UPDATE scans SET undone_at = ?, undone_by = ? WHERE pk = ?", (clock.utc_stamp(), device_id, scan_pk)
            )
    return scan_record(db, event, scan_pk)


def scan_record(db: sqlite_utils.Database, event: dict, scan_pk: int) -> dict:
    row = dict(db.conn.execute("SELECT * FROM scans WHERE pk = ?", (scan_pk,)).fetchone())
    return {
        "id": row["pk"],
        **json.loads(row["response"]),
        "conflict": bool(row["conflict"]),
        "undone_at": clock.parse_stamp(row["undone_at"]).isoformat() if row["undone_at"] else None,
        "received_at": clock.parse_stamp(row["received_at"]).isoformat(),
    }


def conflicts(db: sqlite_utils.Database, slug: str, limit: int = 500) -> list[dict]:
    """Entries flagged as conflicts (someone already inside, usually two offline doors), newest first,
    each with the name of the door that sent it, for the desk to review."""
    with database.read(db):
        event = get_event(db, slug)
        rows = db.conn.execute(
            "SELECT s.pk, t.label FROM scans s LEFT JOIN api_tokens t ON t.id = s.device_id "
            "WHERE s.event_id = ? AND s.conflict = 1 ORDER BY s.scanned_at DESC, s.pk DESC LIMIT ?",
            (event["id"], limit),
        ).fetchall()
        return [{**scan_record(db, event, pk), "device": label} for pk, label in rows]
