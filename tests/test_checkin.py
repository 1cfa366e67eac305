"""Check-in at the doors: one verdict per scan, every attempt audited, exactly one `ok` per entry.

Anna, Bram and Carla are registered for the built-in conference, whose lists are Day 1 entrance
(20 October 08:00–21:00), Day 2 entrance (21 October 07:30–18:00) and Matchmaking (20 October
08:00–12:45, named members only). Door A and Door B are door devices. The server's clock is set
with EVENTDESK_NOW; door times are Brussels time (+02:00 in October 2014).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from server import attendees, auth, checkin, db as database, migrations, tickets
from server.programme import get_event
from tests.conftest import (
    API,
    EVENT,
    assert_error,
    bearer,
    door_headers,
    flip_signature_character,
    gunicorn_server,
    register_with_ticket,
    run_script,
    scan,
    server_env,
    snapshot,
)
from tests.people import ANNA, BRAM, CARLA, DARIO

DAY1 = "2014-10-20"
NOW = f"{DAY1}T09:00:00+02:00"


class Holder(NamedTuple):
    """A registered attendee with their ticket as the API gives it."""

    id: str
    person: dict
    payload: str
    serial: str

    @property
    def view(self) -> dict:
        """How a door answer names the holder."""
        return {key: self.person[key] for key in ("name", "organisation", "category")} | {"id": self.id}


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", NOW)


@pytest.fixture
def door_a(db) -> dict:
    return door_headers(db, "Door A")


@pytest.fixture
def door_b(db) -> dict:
    return door_headers(db, "Door B")


@pytest.fixture
def anna(client, db) -> Holder:
    return register(client, db, ANNA)


@pytest.fixture
def bram(client, db) -> Holder:
    return register(client, db, BRAM)


def register(client, db, person: dict, event: str = EVENT) -> Holder:
    document, _, ticket = register_with_ticket(client, db, person, event)
    return Holder(document["id"], person, ticket["payload"], ticket["serial"])


def at(monkeypatch, clock: str, day: str = DAY1) -> str:
    """Set the server's clock to a Brussels time of day; returns the instant as the API writes it."""
    moment = f"{day}T{clock}+02:00"
    monkeypatch.setenv("EVENTDESK_NOW", moment)
    return moment


def upload(client, door: dict, *scans: dict):
    return client.post(f"{API}/checkins/batch", json={"scans": list(scans)}, headers=door)


def offline(holder_or_payload, scan_id: str, door_time: str, scan_list: str = "day1-entrance") -> dict:
    payload = holder_or_payload.payload if isinstance(holder_or_payload, Holder) else holder_or_payload
    return {"payload": payload, "list": scan_list, "scan_id": scan_id, "scanned_at": f"{DAY1}T{door_time}+02:00"}


def verdict(response, status: int, result: str) -> dict:
    """The door's answer: its status follows the result, and a refusal also has the error shape."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["result"] == result
    assert body["message"] == checkin.MESSAGES[result] and body["message"]
    if result == "ok":
        assert "error" not in body
    else:
        assert_error(response, status, result)
    return body


def scan_rows(db) -> list[tuple]:
    """The audit log: (device, list, scan_id, type, source, result, conflict, serial, scanned_at, received_at)."""
    return [
        tuple(row)
        for row in db.conn.execute(
            "SELECT t.label, l.id, s.scan_id, s.type, s.source, s.result, s.conflict, s.serial, s.scanned_at, "
            "s.received_at FROM scans s LEFT JOIN api_tokens t ON t.id = s.device_id "
            "LEFT JOIN checkin_lists l ON l.pk = s.list_pk ORDER BY s.pk"
        )
    ]


def scan_count(db) -> int:
    return db.conn.execute("SELECT COUNT(*) FROM scans").fetchone()[0]


def database_bytes(app) -> bytes:
    path = Path(app.config["DATABASE"])
    return b"".join(part.read_bytes() for part in sorted(path.parent.glob(path.name + "*")))


# --- every result word and its status --------------------------------------------------------


def test_checkin_of_a_valid_ticket_is_ok_and_names_the_holder(client, db, door_a, anna):
    response = scan(client, door_a, anna.payload, "s-1")

    body = verdict(response, 201, "ok")
    assert body.pop("id") == db.conn.execute("SELECT pk FROM scans WHERE scan_id = 's-1'").fetchone()[0]
    assert body == {
        "result": "ok",
        "message": "Welcome",
        "scan_id": "s-1",
        "list": "day1-entrance",
        "type": "entry",
        "scanned_at": NOW,
        "source": "online",
        "serial": anna.serial,
        "attendee": anna.view,
        "conflict": False,
    }
    assert scan_rows(db) == [
        ("Door A", "day1-entrance", "s-1", "entry", "online", "ok", 0, anna.serial, "2014-10-20T07:00:00Z",
         "2014-10-20T07:00:00Z"),
    ]  # fmt: skip


def test_checkin_twice_is_already_checked_in_with_the_first_entry(client, db, door_a, door_b, anna, monkeypatch):
    first_at = at(monkeypatch, "08:30:00")
    scan(client, door_a, anna.payload, "a-1")
    at(monkeypatch, "09:00:00")

    response = scan(client, door_b, anna.payload, "b-1")

    body = verdict(response, 409, "already_checked_in")
    assert body["first_entry"] == {"at": first_at, "device": "Door A"}
    assert (body["attendee"], body["serial"], body["conflict"]) == (anna.view, anna.serial, True)
    assert [row[5:7] for row in scan_rows(db)] == [("ok", 0), ("already_checked_in", 1)]


def test_checkin_of_a_reissued_ticket_is_revoked(client, db, admin, door_a, anna):
    client.post(f"{API}/attendees/{anna.id}/ticket/reissue", headers=admin)

    response = scan(client, door_a, anna.payload, "s-1")

    body = verdict(response, 403, "revoked")
    assert (body["attendee"], body["serial"]) == (anna.view, anna.serial)
    assert [row[5] for row in scan_rows(db)] == ["revoked"]


def test_checkin_of_a_damaged_signature_is_invalid_signature(client, db, door_a, anna):
    response = scan(client, door_a, flip_signature_character(anna.payload), "s-1")

    body = verdict(response, 400, "invalid_signature")
    assert (body["attendee"], body["serial"]) == (None, None)
    assert [row[5:8] for row in scan_rows(db)] == [("invalid_signature", 0, None)]


def test_checkin_of_a_correctly_signed_unknown_serial_is_unknown_ticket(app, client, db, door_a):
    forged_by_us = tickets.payload(db, get_event(db, EVENT), "00112233445566ff", Path(app.config["KEYS_DIR"]))

    response = scan(client, door_a, forged_by_us, "s-1")

    body = verdict(response, 404, "unknown_ticket")
    assert (body["attendee"], body["serial"]) == (None, "00112233445566ff")
    assert [row[5:8] for row in scan_rows(db)] == [("unknown_ticket", 0, "00112233445566ff")]


def test_checkin_of_another_events_ticket_is_wrong_event(client, db, door_a, other_event):
    stranger = register(client, db, ANNA, event=other_event)

    response = scan(client, door_a, stranger.payload, "s-1")

    assert stranger.payload.startswith("ED1:OTHER2015:")
    body = verdict(response, 400, "wrong_event")
    assert (body["attendee"], body["serial"]) == (None, None)
    assert [row[5] for row in scan_rows(db)] == ["wrong_event"]


@pytest.mark.parametrize(
    ("scan_list", "moment"),
    [
        ("day2-entrance", "2014-10-20T09:00:00+02:00"),
        ("Day 2 entrance", "2014-10-20T09:00:00+02:00"),
        ("matchmaking", "2014-10-20T09:00:00+02:00"),
        ("day1-entrance", "2014-10-20T07:59:59+02:00"),
        ("day1-entrance", "2014-10-20T21:00:00+02:00"),
        ("day1-entrance", "2014-10-21T09:00:00+02:00"),
        ("day2-entrance", "2014-10-21T18:00:00+02:00"),
    ],
    ids=[
        "day2-on-day1",
        "day2-by-name",
        "matchmaking-non-member",
        "before-doors-open",
        "at-closing",
        "day1-on-day2",
        "day2-at-closing",
    ],
)
def test_checkin_off_list_is_not_on_list(client, db, door_a, anna, monkeypatch, scan_list, moment):
    monkeypatch.setenv("EVENTDESK_NOW", moment)

    response = scan(client, door_a, anna.payload, "s-1", scan_list)

    body = verdict(response, 404, "not_on_list")
    assert (body["attendee"], body["serial"], body["scanned_at"]) == (anna.view, anna.serial, moment)
    assert [row[5] for row in scan_rows(db)] == ["not_on_list"]


@pytest.mark.parametrize(
    ("scan_list", "moment"),
    [
        ("day1-entrance", "2014-10-20T08:00:00+02:00"),
        ("day1-entrance", "2014-10-20T20:59:59+02:00"),
        ("day2-entrance", "2014-10-21T07:30:00+02:00"),
        ("matchmaking", "2014-10-20T12:44:59+02:00"),
    ],
    ids=["day1-opening", "day1-last-second", "day2-opening", "matchmaking-last-second"],
)
def test_checkin_inside_the_window_edges_is_ok(client, admin, door_a, anna, monkeypatch, scan_list, moment):
    client.post(f"{API}/checkin-lists/matchmaking/members", json={"attendees": [anna.id]}, headers=admin)
    monkeypatch.setenv("EVENTDESK_NOW", moment)

    response = scan(client, door_a, anna.payload, "s-1", scan_list)

    assert verdict(response, 201, "ok")["list"] == scan_list


def test_checkin_on_matchmaking_admits_members_only(client, db, admin, door_a, anna, bram):
    client.post(f"{API}/checkin-lists/matchmaking/members", json={"attendees": [anna.id]}, headers=admin)

    member = scan(client, door_a, anna.payload, "s-1", "matchmaking")
    other = scan(client, door_a, bram.payload, "s-2", "Matchmaking")

    verdict(member, 201, "ok")
    assert verdict(other, 404, "not_on_list")["attendee"] == bram.view


@pytest.mark.parametrize(
    "payload",
    ["hello", "ED1:ECC2014:TOO-SHORT", "https://example.org/ticket/4711", "ED9:ECC2014:" + "0" * 108, "{id: 17}"],
    ids=["word", "short", "url", "unknown-version", "json-ish"],
)
def test_checkin_of_garbage_is_malformed_and_recorded(client, db, door_a, payload):
    response = scan(client, door_a, payload, "s-1")

    body = verdict(response, 400, "malformed")
    assert (body["attendee"], body["serial"], body["list"]) == (None, None, "day1-entrance")
    assert [row[:8] for row in scan_rows(db)] == [
        ("Door A", "day1-entrance", "s-1", "entry", "online", "malformed", 0, None)
    ]


@pytest.mark.parametrize(
    ("scanned_at", "status", "result", "judged_at"),
    [
        ("2014-10-20T09:02:00+02:00", 201, "ok", "2014-10-20T09:02:00+02:00"),
        ("2014-10-20T07:02:00Z", 201, "ok", "2014-10-20T09:02:00+02:00"),
        ("2014-10-20T08:55:00+02:00", 201, "ok", "2014-10-20T08:55:00+02:00"),
        ("2014-10-20T09:02:01+02:00", 400, "malformed", NOW),
        ("2014-10-21T09:00:00+02:00", 400, "malformed", NOW),
        ("2014-10-20T09:00:00", 400, "malformed", NOW),
        ("soon", 400, "malformed", NOW),
        ("0001-01-01T00:00:00+05:00", 400, "malformed", NOW),  # no UTC date: before year 1 there
    ],
    ids=[
        "2-minutes-ahead",
        "2-minutes-ahead-utc",
        "past",
        "2-minutes-1-second-ahead",
        "tomorrow",
        "no-offset",
        "word",
        "before-year-1-in-utc",
    ],
)
def test_checkin_door_time_more_than_two_minutes_ahead_is_malformed(
    client, db, door_a, anna, scanned_at, status, result, judged_at
):
    response = scan(client, door_a, anna.payload, "s-1", scanned_at=scanned_at)

    body = verdict(response, status, result)
    assert body["scanned_at"] == judged_at
    assert body["attendee"] == (anna.view if result == "ok" else None)
    assert [row[5] for row in scan_rows(db)] == [result]


def test_checkin_on_an_unknown_list_is_not_found_and_not_recorded(app, client, door_a, anna):
    before = snapshot(app.config["DATABASE"])

    response = scan(client, door_a, anna.payload, "s-1", "Back door")

    body = assert_error(response, 404, "not_found", field="list")
    assert "result" not in body
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"payload": None}, "payload"),
        ({"payload": "  \n"}, "payload"),
        ({"list": None}, "list"),
        ({"scan_id": None}, "scan_id"),
        ({"scan_id": "x" * 201}, "scan_id"),
        ({"type": "sideways"}, "type"),
        ({"scanned_at": 1413788400}, "scanned_at"),
    ],
    ids=["no-payload", "blank-payload", "no-list", "no-scan-id", "long-scan-id", "bad-type", "numeric-time"],
)
def test_checkin_with_a_bad_field_is_refused_naming_it(app, client, door_a, anna, change, field):
    body = {"payload": anna.payload, "list": "day1-entrance", "scan_id": "s-1", **change}
    body = {name: value for name, value in body.items() if value is not None}
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/checkins", json=body, headers=door_a)

    assert_error(response, 400, "bad_parameter", field=field)
    assert snapshot(app.config["DATABASE"]) == before


# --- what scanners send -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["{}\n", "{}\r\n", "  {}\t\n", "\n{}"],
    ids=["newline", "crlf", "padded", "leading-newline"],
)
def test_checkin_accepts_a_payload_as_a_keyboard_wedge_types_it(client, door_a, anna, typed):
    response = scan(client, door_a, typed.format(anna.payload), "s-1")

    assert verdict(response, 201, "ok")["serial"] == anna.serial


@pytest.mark.parametrize("scan_list", ["day1-entrance", "Day 1 entrance", "  Day 1 entrance "])
def test_checkin_takes_the_list_by_id_or_name(client, door_a, anna, scan_list):
    response = scan(client, door_a, anna.payload, "s-1", scan_list)

    assert verdict(response, 201, "ok")["list"] == "day1-entrance"


# --- entry, exit, re-entry --------------------------------------------------------------------


def test_reentry_after_exit_is_ok_when_allowed(client, db, door_a, anna, monkeypatch):
    results = []
    for scan_id, clock, kind in (
        ("in-1", "08:30:00", "entry"),
        ("out-1", "10:00:00", "exit"),
        ("in-2", "11:00:00", "entry"),
    ):
        at(monkeypatch, clock)
        results.append(scan(client, door_a, anna.payload, scan_id, type=kind))

    assert [(r.status_code, r.get_json()["result"], r.get_json()["type"]) for r in results] == [
        (201, "ok", "entry"),
        (201, "ok", "exit"),
        (201, "ok", "entry"),
    ]
    assert [row[2:7] for row in scan_rows(db)] == [
        ("in-1", "entry", "online", "ok", 0),
        ("out-1", "exit", "online", "ok", 0),
        ("in-2", "entry", "online", "ok", 0),
    ]


def no_reentry_list(client, admin, how: str) -> str:
    """A list that refuses re-entry: Day 1 entrance patched, or a new list created so."""
    if how == "patched":
        changed = client.patch(f"{API}/checkin-lists/day1-entrance", json={"allow_reentry": False}, headers=admin)
        assert changed.status_code == 200 and changed.get_json()["allow_reentry"] is False, changed.get_json()
        return "day1-entrance"
    side = {"id": "side", "name": "Side door", "start": f"{DAY1}T08:00", "end": f"{DAY1}T18:00", "allow_reentry": False}
    assert client.post(f"{API}/checkin-lists", json=side, headers=admin).status_code == 201
    return "side"


@pytest.mark.parametrize("how", ["patched", "created"])
def test_reentry_after_exit_is_already_checked_in_when_not_allowed(client, db, admin, door_a, anna, monkeypatch, how):
    scan_list = no_reentry_list(client, admin, how)
    first_at = at(monkeypatch, "08:30:00")
    scan(client, door_a, anna.payload, "in-1", scan_list)
    at(monkeypatch, "10:00:00")
    scan(client, door_a, anna.payload, "out-1", scan_list, type="exit")
    at(monkeypatch, "11:00:00")

    response = scan(client, door_a, anna.payload, "in-2", scan_list)

    body = verdict(response, 409, "already_checked_in")
    assert body["first_entry"] == {"at": first_at, "device": "Door A"}
    assert [row[5] for row in scan_rows(db)] == ["ok", "ok", "already_checked_in"]


def test_a_long_day_of_exits_and_entries_keeps_every_verdict_right(client, db, door_a, anna, monkeypatch):
    """Forty scans through the day: each verdict depends only on the last accepted one before it."""
    answers = []
    for n in range(40):
        at(monkeypatch, f"{8 + n // 4:02d}:{(n % 4) * 15:02d}:00")
        kind = "entry" if n % 2 == 0 else "exit"
        answers.append(scan(client, door_a, anna.payload, f"s-{n}", type=kind).get_json()["result"])
        if kind == "entry":  # a second entry at once, while inside, is refused
            answers.append(scan(client, door_a, anna.payload, f"again-{n}").get_json()["result"])

    assert answers == ["ok", "already_checked_in", "ok"] * 20
    assert scan_count(db) == 60


def test_a_verdict_reads_the_accepted_scans_index_not_the_whole_log(db):
    """The queries a verdict runs are index lookups on scans_accepted, so a door's answer does
    not slow down as the audit log grows."""
    accepted = "FROM scans WHERE list_pk = 1 AND attendee_pk = 1 AND result = 'ok' AND undone_at IS NULL"
    for query in (
        f"SELECT type {accepted} AND scanned_at <= 'x' ORDER BY scanned_at DESC, pk DESC LIMIT 1",
        f"SELECT pk, type {accepted} AND scanned_at > 'x' ORDER BY scanned_at, pk",
    ):
        plan = " ".join(row[3] for row in db.conn.execute("EXPLAIN QUERY PLAN " + query))
        assert "USING INDEX scans_accepted" in plan and "TEMP B-TREE" not in plan, plan


def test_an_older_database_gets_the_accepted_scans_index_on_start(tmp_path):
    """Databases made before migration 2 had two full indexes on scans; init_db replaces them."""
    path = tmp_path / "old.sqlite3"
    old = database.connect(path)
    database.init_db(old)
    old.conn.execute("CREATE INDEX scans_by_attendee ON scans (list_pk, attendee_pk, scanned_at)")
    old.conn.execute("CREATE INDEX scans_by_time ON scans (event_id, scanned_at)")
    old.conn.execute("DELETE FROM schema_migrations WHERE version = 2")
    old.close()

    upgraded = database.connect(path)
    version = database.init_db(upgraded)

    indexes = {row[0] for row in upgraded.conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'scans'")}
    assert version == migrations.MIGRATIONS[-1][0]
    assert "scans_accepted" in indexes and not indexes & {"scans_by_attendee", "scans_by_time"}


# --- the device's scan_id ---------------------------------------------------------------------


def test_same_scan_id_repeats_the_answer_and_records_nothing(client, db, door_a, anna, monkeypatch):
    first = scan(client, door_a, anna.payload, "s-1")
    refused = scan(client, door_a, "hello", "s-2")
    rows = scan_rows(db)
    at(monkeypatch, "09:05:00")

    again = scan(client, door_a, anna.payload, "s-1")
    refused_again = scan(client, door_a, "hello", "s-2")

    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert (refused_again.status_code, refused_again.get_json()) == (400, refused.get_json())
    assert again.get_json()["scanned_at"] == NOW
    assert scan_rows(db) == rows and len(rows) == 2


def test_same_scan_id_from_another_device_is_a_new_scan(client, db, door_a, door_b, anna):
    scan(client, door_a, anna.payload, "s-1")

    response = scan(client, door_b, anna.payload, "s-1")

    assert verdict(response, 409, "already_checked_in")["first_entry"] == {"at": NOW, "device": "Door A"}
    assert [(row[0], row[2], row[5]) for row in scan_rows(db)] == [
        ("Door A", "s-1", "ok"),
        ("Door B", "s-1", "already_checked_in"),
    ]


def reuses(db) -> list[tuple]:
    """The refused reuses of a scan_id: (first use's scan_id, source, list as sent, type, door time as sent)."""
    return [
        tuple(row)
        for row in db.conn.execute(
            "SELECT s.scan_id, r.source, r.list_ref, r.type, r.scanned_at FROM scan_id_reuses r "
            "JOIN scans s ON s.pk = r.scan_pk ORDER BY r.pk"
        )
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"payload": "bram"},
        {"scan_list": "day2-entrance"},
        {"type": "exit"},
        {"scanned_at": "2014-10-20T08:59:00+02:00"},
    ],
    ids=["payload", "list", "type", "door-time"],
)
def test_same_scan_id_with_other_content_is_refused_and_audited(client, db, door_a, anna, bram, change):
    first = scan(client, door_a, anna.payload, "s-1")
    rows = scan_rows(db)
    sent = {"payload": anna.payload, "scan_list": "day1-entrance", **change}
    if sent["payload"] == "bram":
        sent["payload"] = bram.payload

    response = scan(client, door_a, sent.pop("payload"), "s-1", sent.pop("scan_list"), **sent)

    body = assert_error(response, 409, "scan_id_reused", field="scan_id")
    assert body["fields"] == {"scan_id": "already used for a different scan"}
    assert body["scan"] == first.get_json()["id"]
    assert scan_rows(db) == rows
    assert reuses(db) == [
        (
            "s-1",
            "online",
            change.get("scan_list", "day1-entrance"),
            change.get("type", "entry"),
            change.get("scanned_at"),
        )
    ]


def test_same_scan_id_with_other_content_does_not_replay_an_ok(client, db, door_a, anna, bram):
    """The finding: a reused scan_id got the old `ok` for another ticket; Bram is not let in by Anna's scan."""
    scan(client, door_a, anna.payload, "s-1")

    response = scan(client, door_a, bram.payload, "s-1")

    assert response.status_code == 409 and "result" not in response.get_json()
    stats = client.get(f"{API}/checkins/stats", headers=door_a).get_json()["lists"][0]
    assert stats["checked_in"] == 1


def test_same_scan_id_at_the_desk_for_another_attendee_is_refused(client, db, admin, anna, bram):
    body = {"attendee": anna.id, "list": "day1-entrance", "scan_id": "desk-1"}
    first = client.post(f"{API}/checkins/desk", json=body, headers=admin)

    again = client.post(f"{API}/checkins/desk", json=body, headers=admin)
    other = client.post(f"{API}/checkins/desk", json={**body, "attendee": bram.id}, headers=admin)

    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert_error(other, 409, "scan_id_reused", field="scan_id")
    assert [row[2] for row in scan_rows(db)] == ["desk-1"]
    assert reuses(db) == [("desk-1", "desk", "day1-entrance", "entry", None)]


def test_offline_batch_answers_a_reused_scan_id_in_its_place_and_stores_the_rest(client, db, door_a, anna, bram):
    """A door must never lose scans: one reused scan_id does not hold back the rest of the batch."""
    upload(client, door_a, offline(anna, "1", "08:05:00"))

    response = upload(client, door_a, offline(bram, "1", "08:06:00"), offline(bram, "2", "08:07:00"))

    assert response.status_code == 200
    reused, stored = response.get_json()["results"]
    assert reused == {
        "scan_id": "1",
        "error": "scan_id_reused",
        "message": reused["message"],
        "fields": {"scans[0].scan_id": "already used for a different scan"},
        "scan": db.conn.execute("SELECT pk FROM scans WHERE scan_id = '1'").fetchone()[0],
    }
    assert (stored["scan_id"], stored["result"]) == ("2", "ok")
    assert [(row[2], row[5], row[7]) for row in scan_rows(db)] == [("1", "ok", anna.serial), ("2", "ok", bram.serial)]
    assert reuses(db) == [("1", "offline", "day1-entrance", "entry", f"{DAY1}T08:06:00+02:00")]


def test_offline_batch_with_the_same_scan_at_another_door_time_is_a_reuse(client, db, door_a, anna):
    upload(client, door_a, offline(anna, "1", "08:05:00"))

    again = upload(client, door_a, offline(anna, "1", "08:05:00"))
    moved = upload(client, door_a, offline(anna, "1", "08:45:00"))

    assert again.get_json()["results"][0]["result"] == "ok"
    assert moved.get_json()["results"][0]["error"] == "scan_id_reused"
    assert len(scan_rows(db)) == 1


def test_a_scan_stored_before_scan_ids_were_checked_is_replayed_as_before(client, db, door_a, anna, bram):
    first = scan(client, door_a, anna.payload, "s-1")
    db.conn.execute("UPDATE scans SET request_hash = NULL")  # as migration 3 leaves older rows

    again = scan(client, door_a, bram.payload, "s-1")

    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert reuses(db) == []


# --- the audit log ----------------------------------------------------------------------------


def test_every_attempt_is_one_row_in_the_audit_log(client, db, door_a, door_b, anna, bram, monkeypatch):
    for door, scan_id, clock, payload, scan_list, kind in (
        (door_a, "a-1", "08:30:00", anna.payload, "day1-entrance", "entry"),
        (door_a, "a-2", "08:31:00", anna.payload, "day1-entrance", "entry"),
        (door_a, "a-3", "08:32:00", "hello", "day1-entrance", "entry"),
        (door_a, "a-4", "08:33:00", anna.payload, "day2-entrance", "entry"),
        (door_a, "a-5", "08:34:00", flip_signature_character(anna.payload), "day1-entrance", "entry"),
        (door_b, "b-1", "08:35:00", anna.payload, "Day 1 entrance", "exit"),
    ):
        at(monkeypatch, clock)
        scan(client, door, payload, scan_id, scan_list, type=kind)
    at(monkeypatch, "09:00:00")

    upload(client, door_b, offline(bram, "b-2", "08:10:00"))

    assert scan_rows(db) == [
        ("Door A", "day1-entrance", "a-1", "entry", "online", "ok", 0, anna.serial, "2014-10-20T06:30:00Z",
         "2014-10-20T06:30:00Z"),
        ("Door A", "day1-entrance", "a-2", "entry", "online", "already_checked_in", 1, anna.serial,
         "2014-10-20T06:31:00Z", "2014-10-20T06:31:00Z"),
        ("Door A", "day1-entrance", "a-3", "entry", "online", "malformed", 0, None, "2014-10-20T06:32:00Z",
         "2014-10-20T06:32:00Z"),
        ("Door A", "day2-entrance", "a-4", "entry", "online", "not_on_list", 0, anna.serial, "2014-10-20T06:33:00Z",
         "2014-10-20T06:33:00Z"),
        ("Door A", "day1-entrance", "a-5", "entry", "online", "invalid_signature", 0, None, "2014-10-20T06:34:00Z",
         "2014-10-20T06:34:00Z"),
        ("Door B", "day1-entrance", "b-1", "exit", "online", "ok", 0, anna.serial, "2014-10-20T06:35:00Z",
         "2014-10-20T06:35:00Z"),
        ("Door B", "day1-entrance", "b-2", "entry", "offline", "ok", 0, bram.serial, "2014-10-20T06:10:00Z",
         "2014-10-20T07:00:00Z"),
    ]  # fmt: skip


def test_audit_log_keeps_a_hash_of_the_scanned_text_never_the_text(app, client, db, door_a, anna):
    garbage = "NOT-AN-EVENTDESK-TICKET-4711"
    damaged = flip_signature_character(anna.payload)
    typed = f"  {anna.payload}\r\n"
    for scan_id, text in (("ok", typed), ("garbage", garbage), ("damaged", damaged)):
        scan(client, door_a, text, scan_id)

    stored = dict(db.conn.execute("SELECT scan_id, payload_hash FROM scans"))
    on_disk = database_bytes(app)

    assert stored == {scan_id: hashlib.sha256(text.encode()).hexdigest() for scan_id, text in (
        ("ok", typed), ("garbage", garbage), ("damaged", damaged))}  # fmt: skip
    for text in (anna.payload, garbage, damaged):
        assert text.encode() not in on_disk
        assert text[len("ED1:ECC2014:") :].encode() not in on_disk
    for text in (garbage, damaged):
        assert hashlib.sha256(text.encode()).hexdigest().encode() in on_disk


# --- two doors at once (a real server) --------------------------------------------------------


class Served(NamedTuple):
    base: str
    door_token: str
    payload: str
    database: Path


def _post(url: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={**bearer(token), "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.fixture
def served(tmp_path):
    """gunicorn with two workers on a fresh data directory, its clock at 09:00 on Day 1."""
    env = server_env(tmp_path, EVENTDESK_NOW=NOW, WEB_CONCURRENCY="2")
    run_script("eventdesk-server", "init-db", env=env)
    run_script("eventdesk-server", "load-programme", "--builtin", env=env)
    created = run_script("eventdesk-server", "create-device", "--event", EVENT, "--name", "Door A", env=env)
    token = created.splitlines()[-1]
    db = database.connect(tmp_path / "eventdesk.sqlite3")
    try:
        document, _ = attendees.create_attendee(db, EVENT, ANNA)
        serial = tickets.current_serial(db, attendees.attendee_pk(db, EVENT, document["id"]))
        payload = tickets.payload(db, get_event(db, EVENT), serial, tmp_path / "keys")
    finally:
        db.close()
    with gunicorn_server(env) as base:
        yield Served(base, token, payload, tmp_path / "eventdesk.sqlite3")


def test_ten_doors_scanning_one_ticket_at_once_get_exactly_one_ok(served):
    start = threading.Barrier(10)

    def door(number: int) -> tuple[int, dict]:
        body = {"payload": served.payload, "list": "Day 1 entrance", "scan_id": f"door-{number}"}
        start.wait(timeout=30)
        return _post(f"{served.base}/api/v1/events/{EVENT}/checkins", served.door_token, body)

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(door, range(10)))

    assert sorted(status for status, _ in answers) == [201] + [409] * 9
    assert Counter(body["result"] for _, body in answers) == {"ok": 1, "already_checked_in": 9}
    db = database.connect(served.database)
    try:
        stored = dict(db.conn.execute("SELECT result, COUNT(*) FROM scans GROUP BY result"))
        device = db.conn.execute("SELECT DISTINCT t.label FROM scans s JOIN api_tokens t ON t.id = s.device_id")
        assert [row[0] for row in device] == ["Door A"]
    finally:
        db.close()
    assert stored == {"ok": 1, "already_checked_in": 9}


# --- offline batches --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "b_answer", "b_stored"),
    [
        (("A", "B"), ("already_checked_in", True), "already_checked_in"),
        (("B", "A"), ("ok", False), "ok"),
    ],
    ids=["earliest-uploaded-first", "earliest-uploaded-last"],
)
def test_offline_batches_earliest_entry_wins_whichever_uploads_first(
    client, db, door_a, door_b, anna, order, b_answer, b_stored
):
    batches = {"A": (door_a, offline(anna, "a-0805", "08:05:00")), "B": (door_b, offline(anna, "b-0810", "08:10:00"))}

    answers = {name: upload(client, batches[name][0], batches[name][1]) for name in order}

    assert all(response.status_code == 200 for response in answers.values())
    a_result, b_result = (answers[name].get_json()["results"] for name in ("A", "B"))
    assert [(item["result"], item["conflict"], item["source"]) for item in a_result] == [("ok", False, "offline")]
    assert [(item["result"], item["conflict"]) for item in b_result] == [b_answer]
    if b_answer[0] == "already_checked_in":
        assert b_result[0]["first_entry"] == {"at": "2014-10-20T08:05:00+02:00", "device": "Door A"}
    rows = sorted((row[0], row[2], row[5], row[6], row[8]) for row in scan_rows(db))
    assert rows == [
        ("Door A", "a-0805", "ok", 0, "2014-10-20T06:05:00Z"),
        ("Door B", "b-0810", b_stored, 1, "2014-10-20T06:10:00Z"),
    ]
    day1 = client.get(f"{API}/checkins/stats", headers=door_a).get_json()["lists"][0]
    assert (day1["checked_in"], day1["arrivals_per_15_minutes"]) == (
        1,
        [{"from": "2014-10-20T08:00:00+02:00", "count": 1}],
    )


def test_offline_batch_is_judged_in_door_time_order_not_upload_order(client, db, door_a, anna):
    response = upload(client, door_a, offline(anna, "late", "08:10:00"), offline(anna, "early", "08:05:00"))

    results = response.get_json()["results"]
    assert [(item["scan_id"], item["result"], item["conflict"]) for item in results] == [
        ("late", "already_checked_in", True),
        ("early", "ok", False),
    ]
    assert results[0]["first_entry"] == {"at": "2014-10-20T08:05:00+02:00", "device": "Door A"}


def test_offline_batch_is_judged_by_door_time_whatever_the_offset_notation(client, db, door_a, anna):
    early = offline(anna, "early", "08:05:00")
    late = {**offline(anna, "late", "08:10:00"), "scanned_at": "2014-10-20T06:10:00Z"}

    response = upload(client, door_a, early, late)

    results = response.get_json()["results"]
    assert [(item["scan_id"], item["result"]) for item in results] == [("early", "ok"), ("late", "already_checked_in")]


def test_offline_batch_keeps_a_scan_with_an_impossible_door_time_as_malformed(client, db, door_a, anna, bram):
    """A door clock gone wild (before year 1 in UTC) spoils that scan only; the batch goes through."""
    wild = {**offline(bram, "2", "08:06:00"), "scanned_at": "0001-01-01T00:00:00+05:00"}

    response = upload(client, door_a, offline(anna, "1", "08:05:00"), wild)

    assert response.status_code == 200
    assert [(item["scan_id"], item["result"]) for item in response.get_json()["results"]] == [
        ("1", "ok"),
        ("2", "malformed"),
    ]
    assert [row[5] for row in scan_rows(db)] == ["ok", "malformed"]


def test_offline_batch_retry_returns_the_same_results_and_adds_no_rows(app, client, door_a, anna, bram):
    scans = (offline(anna, "1", "08:05:00"), offline(bram, "2", "08:06:00"), offline("hello", "3", "08:07:00"))
    first = upload(client, door_a, *scans)
    before = snapshot(app.config["DATABASE"])

    again = upload(client, door_a, *scans)

    assert [item["result"] for item in first.get_json()["results"]] == ["ok", "ok", "malformed"]
    assert (again.status_code, again.get_json()) == (200, first.get_json())
    assert snapshot(app.config["DATABASE"]) == before


def test_offline_batch_scan_without_door_time_is_refused_naming_it(app, client, door_a, anna, bram):
    missing = offline(bram, "2", "08:06:00")
    del missing["scanned_at"]
    before = snapshot(app.config["DATABASE"])

    response = upload(client, door_a, offline(anna, "1", "08:05:00"), missing)

    body = assert_error(response, 400, "bad_parameter")
    assert body["fields"] == {"scans[1].scanned_at": "is required for offline scans (ISO 8601 with offset)"}
    assert snapshot(app.config["DATABASE"]) == before


def test_offline_batch_keeps_a_scan_on_an_unknown_list_as_malformed(client, db, door_a, anna):
    response = upload(client, door_a, offline(anna, "1", "08:05:00", "Back door"), offline(anna, "2", "08:06:00"))

    results = response.get_json()["results"]
    assert [(item["result"], item["list"], item["attendee"]) for item in results] == [
        ("malformed", "Back door", None),
        ("ok", "day1-entrance", anna.view),
    ]
    assert [(row[1], row[2], row[5]) for row in scan_rows(db)] == [
        (None, "1", "malformed"),
        ("day1-entrance", "2", "ok"),
    ]


# --- the desk ---------------------------------------------------------------------------------


def test_desk_checkin_by_an_admin_is_ok_from_the_desk(client, db, admin, anna):
    response = client.post(f"{API}/checkins/desk", json={"attendee": anna.id, "list": "Day 1 entrance"}, headers=admin)

    body = verdict(response, 201, "ok")
    scan_id = body.pop("scan_id")
    assert re.match(r"^desk-[0-9a-f]{16}$", scan_id)
    assert body.pop("id") == db.conn.execute("SELECT pk FROM scans WHERE scan_id = ?", (scan_id,)).fetchone()[0]
    assert body == {
        "result": "ok",
        "message": "Welcome",
        "list": "day1-entrance",
        "type": "entry",
        "scanned_at": NOW,
        "source": "desk",
        "serial": None,
        "attendee": anna.view,
        "conflict": False,
    }
    assert [(row[0], row[1], row[4], row[5]) for row in scan_rows(db)] == [("tests", "day1-entrance", "desk", "ok")]


def test_undo_marks_the_scan_undone_and_lets_the_person_check_in_again(client, db, admin, door_a, anna, monkeypatch):
    desk = client.post(f"{API}/checkins/desk", json={"attendee": anna.id, "list": "day1-entrance"}, headers=admin)
    scan_pk = db.conn.execute("SELECT pk FROM scans WHERE source = 'desk'").fetchone()[0]
    at(monkeypatch, "09:05:00")

    undone = client.post(f"{API}/checkins/{scan_pk}/undo", headers=admin)

    assert undone.status_code == 200
    assert undone.get_json() == {
        "id": scan_pk,
        **desk.get_json(),
        "undone_at": "2014-10-20T07:05:00+00:00",
        "received_at": "2014-10-20T07:00:00+00:00",
    }
    admin_id = db.conn.execute("SELECT id FROM api_tokens WHERE role = 'admin'").fetchone()[0]
    row = db.conn.execute("SELECT result, undone_at, undone_by FROM scans WHERE pk = ?", (scan_pk,)).fetchone()
    assert tuple(row) == ("ok", "2014-10-20T07:05:00Z", admin_id)
    at(monkeypatch, "09:10:00")
    assert verdict(scan(client, door_a, anna.payload, "s-1"), 201, "ok")["scanned_at"] == "2014-10-20T09:10:00+02:00"


def test_desk_answer_names_the_scan_to_undo(client, db, admin, anna):
    response = client.post(f"{API}/checkins/desk", json={"attendee": anna.id, "list": "day1-entrance"}, headers=admin)

    scan_pk = db.conn.execute("SELECT pk FROM scans").fetchone()[0]
    assert response.get_json().get("id") == scan_pk


@pytest.mark.parametrize("route", ["desk", "undo"])
def test_door_token_cannot_use_the_desk_or_undo(app, client, db, door_a, anna, route):
    scan(client, door_a, anna.payload, "s-1")
    scan_pk = db.conn.execute("SELECT pk FROM scans").fetchone()[0]
    before = snapshot(app.config["DATABASE"])

    if route == "desk":
        response = client.post(
            f"{API}/checkins/desk", json={"attendee": anna.id, "list": "day1-entrance"}, headers=door_a
        )
    else:
        response = client.post(f"{API}/checkins/{scan_pk}/undo", headers=door_a)

    assert_error(response, 403, "forbidden")
    assert snapshot(app.config["DATABASE"]) == before


def test_desk_checkin_of_an_unknown_attendee_is_not_found(app, client, admin):
    before = snapshot(app.config["DATABASE"])

    response = client.post(
        f"{API}/checkins/desk", json={"attendee": "a-nobody00", "list": "day1-entrance"}, headers=admin
    )

    assert_error(response, 404, "not_found", field="attendee")
    assert snapshot(app.config["DATABASE"]) == before


# --- live numbers -----------------------------------------------------------------------------


def test_stats_count_arrivals_presence_and_absentees(client, db, admin, door_a, door_b, anna, bram, monkeypatch):
    register(client, db, CARLA)
    client.post(f"{API}/checkin-lists/matchmaking/members", json={"attendees": [anna.id]}, headers=admin)
    for door, scan_id, clock, who, scan_list, kind in (
        (door_a, "1", "08:05:00", anna, "day1-entrance", "entry"),
        (door_b, "2", "08:20:00", bram, "day1-entrance", "entry"),
        (door_a, "3", "08:25:00", bram, "day1-entrance", "entry"),  # already inside: not a second arrival
        (door_a, "4", "08:40:00", anna, "day1-entrance", "exit"),
        (door_b, "5", "09:00:00", anna, "matchmaking", "entry"),
    ):
        at(monkeypatch, clock)
        scan(client, door, who.payload, scan_id, scan_list, type=kind)
    at(monkeypatch, "10:00:00")

    response = client.get(f"{API}/checkins/stats", headers=door_a)

    assert response.status_code == 200
    assert response.get_json() == {
        "event": EVENT,
        "at": "2014-10-20T10:00:00+02:00",
        "lists": [
            {
                "list": "day1-entrance",
                "name": "Day 1 entrance",
                "eligible": 3,
                "checked_in": 2,
                "inside_now": 1,
                "not_yet_arrived": 1,
                "arrivals_per_15_minutes": [
                    {"from": "2014-10-20T08:00:00+02:00", "count": 1},
                    {"from": "2014-10-20T08:15:00+02:00", "count": 1},
                ],
            },
            {
                "list": "matchmaking",
                "name": "Matchmaking",
                "eligible": 1,
                "checked_in": 1,
                "inside_now": 1,
                "not_yet_arrived": 0,
                "arrivals_per_15_minutes": [{"from": "2014-10-20T09:00:00+02:00", "count": 1}],
            },
            {
                "list": "day2-entrance",
                "name": "Day 2 entrance",
                "eligible": 3,
                "checked_in": 0,
                "inside_now": 0,
                "not_yet_arrived": 3,
                "arrivals_per_15_minutes": [],
            },
        ],
    }


# --- who may call what ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{API}/attendees", None),
        ("POST", f"{API}/attendees", DARIO),
        ("PATCH", f"{API}/sessions/day1-registration", {"title": "Doors"}),
        ("GET", f"{API}/checkin-lists", None),
        (
            "POST",
            f"{API}/checkin-lists",
            {"id": "side", "name": "Side door", "start": f"{DAY1}T08:00", "end": f"{DAY1}T18:00"},
        ),
        ("PATCH", f"{API}/checkin-lists/day1-entrance", {"allow_reentry": False}),
        ("DELETE", f"{API}/checkin-lists/day1-entrance", None),
        ("GET", f"{API}/devices", None),
        ("POST", f"{API}/devices", {"name": "Door Z"}),
        ("POST", f"{API}/attendees/a-nobody00/ticket/reissue", None),
    ],
    ids=[
        "list-attendees",
        "create-attendee",
        "patch-session",
        "list-checkin-lists",
        "create-checkin-list",
        "patch-checkin-list",
        "delete-checkin-list",
        "list-devices",
        "create-device",
        "reissue-ticket",
    ],
)
def test_door_token_is_refused_on_admin_routes(app, client, door_a, method, path, body):
    before = snapshot(app.config["DATABASE"])

    response = client.open(path, method=method, json=body, headers=door_a)

    assert_error(response, 403, "forbidden")
    assert snapshot(app.config["DATABASE"]) == before


DOOR_ROUTES = [
    ("POST", f"{API}/checkins", {"payload": "hello", "list": "day1-entrance", "scan_id": "s-1"}),
    ("POST", f"{API}/checkins/batch", {"scans": []}),
    ("GET", f"{API}/checkins/stats", None),
    ("GET", f"{API}/door-bundle", None),
]
DOOR_ROUTE_IDS = ["scan", "batch", "stats", "door-bundle"]


@pytest.mark.parametrize(("method", "path", "body"), DOOR_ROUTES, ids=DOOR_ROUTE_IDS)
def test_attendee_token_is_refused_on_door_routes(app, client, db, method, path, body):
    _, token = attendees.create_attendee(db, EVENT, ANNA)
    before = snapshot(app.config["DATABASE"])

    response = client.open(path, method=method, json=body, headers=bearer(token))

    assert_error(response, 403, "forbidden")
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(("method", "path", "body"), DOOR_ROUTES, ids=DOOR_ROUTE_IDS)
def test_door_route_without_a_token_is_unauthorized(app, client, method, path, body):
    before = snapshot(app.config["DATABASE"])

    response = client.open(path, method=method, json=body)

    assert_error(response, 401, "unauthorized")
    assert snapshot(app.config["DATABASE"]) == before


def test_door_token_of_one_event_is_refused_by_another(app, client, db, door_a, other_event):
    before = snapshot(app.config["DATABASE"])

    response = client.post(
        "/api/v1/events/other2015/checkins",
        json={"payload": "hello", "list": "anything", "scan_id": "s-1"},
        headers=door_a,
    )

    assert_error(response, 403, "forbidden")
    assert snapshot(app.config["DATABASE"]) == before


def test_revoked_device_is_unauthorized(app, client, db, admin, anna):
    created = client.post(f"{API}/devices", json={"name": "Door C"}, headers=admin)
    device = created.get_json()
    door_c = bearer(device.pop("token"))
    verdict(scan(client, door_c, anna.payload, "c-1"), 201, "ok")

    revoked = client.delete(f"{API}/devices/{device['id']}", headers=admin)

    assert created.status_code == 201
    assert device == {
        "id": device["id"],
        "name": "Door C",
        "created_at": "2014-10-20T07:00:00Z",
        "revoked": False,
        "desk": False,
        "last_seen_at": None,
        "pending_uploads": None,
    }
    assert revoked.status_code == 200
    assert revoked.get_json() == {**device, "revoked": True}
    before = snapshot(app.config["DATABASE"])
    assert_error(scan(client, door_c, anna.payload, "c-2"), 401, "unauthorized")
    assert_error(client.get(f"{API}/door-bundle", headers=door_c), 401, "unauthorized")
    assert snapshot(app.config["DATABASE"]) == before


def test_create_device_command_prints_a_working_door_token_last(app, client, db, door_b, anna):
    result = app.test_cli_runner().invoke(args=["create-device", "--event", EVENT, "--name", "Door A"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "door device 'Door A' for event ecc2014 (store the token now; it cannot be shown again):"
    token = lines[-1]
    assert re.match(r"^edd_[A-Za-z0-9_-]{43}$", token)
    row = db.conn.execute(
        "SELECT t.role, t.label, e.slug, t.revoked_at FROM api_tokens t JOIN events e ON e.id = t.event_id "
        "WHERE t.token_hash = ?",
        (auth.hash_token(token),),
    ).fetchone()
    assert tuple(row) == ("door", "Door A", EVENT, None)
    verdict(scan(client, bearer(token), anna.payload, "s-1"), 201, "ok")
    repeat = verdict(scan(client, door_b, anna.payload, "s-2"), 409, "already_checked_in")
    assert repeat["first_entry"] == {"at": NOW, "device": "Door A"}


# --- check-in lists (admin) -------------------------------------------------------------------

GALA = {
    "id": "gala",
    "name": "Gala dinner",
    "start": f"{DAY1}T19:00",
    "end": f"{DAY1}T23:30",
    "audience": "categories",
    "categories": ["staff", "press"],
    "allow_reentry": False,
}


def test_create_checkin_list_reads_times_as_local(client, db, admin):
    response = client.post(f"{API}/checkin-lists", json=GALA, headers=admin)

    assert response.status_code == 201
    assert response.get_json() == {
        "id": "gala",
        "name": "Gala dinner",
        "start": "2014-10-20T19:00:00+02:00",
        "end": "2014-10-20T23:30:00+02:00",
        "audience": "categories",
        "categories": ["press", "staff"],
        "allow_reentry": False,
        "members": None,
    }
    row = db.conn.execute(
        "SELECT name, starts_at, ends_at, audience, categories, allow_reentry FROM checkin_lists WHERE id = 'gala'"
    ).fetchone()
    assert tuple(row) == ("Gala dinner", "2014-10-20T17:00:00Z", "2014-10-20T21:30:00Z", "categories",
                          '["press", "staff"]', 0)  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"categories": []}, "categories"),
        ({"categories": None}, "categories"),
        ({"categories": ["astronauts"]}, "categories"),
        ({"audience": "everyone"}, "audience"),
        ({"end": f"{DAY1}T18:00"}, "end"),
        ({"start": "tonight"}, "start"),
        ({"start": "0001-01-01T00:00"}, "start"),  # Brussels local time east of UTC: no UTC date
        ({"end": "9999-12-31T23:59:00-05:00"}, "end"),
    ],
    ids=[
        "no-categories",
        "categories-absent",
        "unknown-category",
        "unknown-audience",
        "ends-before-start",
        "bad-time",
        "before-year-1-in-utc",
        "after-year-9999-in-utc",
    ],
)
def test_create_checkin_list_with_invalid_values_is_unprocessable(app, client, admin, change, field):
    body = {name: value for name, value in {**GALA, **change}.items() if value is not None}
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/checkin-lists", json=body, headers=admin)

    assert_error(response, 422, "validation_failed", field=field)
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize(
    "change", [{"name": "Day 1 entrance"}, {"id": "day1-entrance"}], ids=["name-taken", "id-taken"]
)
def test_create_checkin_list_with_a_taken_name_or_id_is_conflict(app, client, admin, change):
    before = snapshot(app.config["DATABASE"])

    response = client.post(f"{API}/checkin-lists", json={**GALA, **change}, headers=admin)

    assert_error(response, 409, "conflict")
    assert snapshot(app.config["DATABASE"]) == before


@pytest.mark.parametrize("ref", ["day1-entrance", "Day 1 entrance"])
def test_get_checkin_list_by_id_or_name(client, admin, ref):
    response = client.get(f"{API}/checkin-lists/{ref}", headers=admin)

    assert response.status_code == 200
    assert response.get_json() == {
        "id": "day1-entrance",
        "name": "Day 1 entrance",
        "start": "2014-10-20T08:00:00+02:00",
        "end": "2014-10-20T21:00:00+02:00",
        "audience": "all",
        "categories": [],
        "allow_reentry": True,
        "members": None,
    }


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"allow_reentry": False}, {"allow_reentry": False}),
        ({"end": f"{DAY1}T22:00"}, {"end": "2014-10-20T22:00:00+02:00"}),
        ({"name": "Main entrance"}, {"name": "Main entrance"}),
    ],
    ids=["reentry", "end", "name"],
)
def test_patch_checkin_list_changes_only_the_given_fields(client, admin, change, expected):
    before = client.get(f"{API}/checkin-lists/day1-entrance", headers=admin).get_json()

    response = client.patch(f"{API}/checkin-lists/day1-entrance", json=change, headers=admin)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {**before, **expected}


def test_delete_checkin_list_keeps_its_scans_in_the_audit_log(client, db, admin, door_a, anna):
    side = {"id": "side", "name": "Side door", "start": f"{DAY1}T08:00", "end": f"{DAY1}T18:00"}
    client.post(f"{API}/checkin-lists", json=side, headers=admin)
    verdict(scan(client, door_a, anna.payload, "s-1", "Side door"), 201, "ok")

    deleted = client.delete(f"{API}/checkin-lists/Side door", headers=admin)

    assert deleted.status_code == 204
    assert_error(client.get(f"{API}/checkin-lists/side", headers=admin), 404, "not_found")
    assert [(row[1], row[2], row[5]) for row in scan_rows(db)] == [(None, "s-1", "ok")]
    assert_error(scan(client, door_a, anna.payload, "s-2", "side"), 404, "not_found", field="list")


def test_categories_list_admits_only_those_categories(client, db, admin, door_a, anna, monkeypatch):
    client.post(f"{API}/checkin-lists", json=GALA, headers=admin)
    dario = register(client, db, DARIO)
    at(monkeypatch, "20:00:00")

    press = scan(client, door_a, dario.payload, "s-1", "Gala dinner")
    manager = scan(client, door_a, anna.payload, "s-2", "Gala dinner")

    assert verdict(press, 201, "ok")["attendee"] == dario.view
    assert verdict(manager, 404, "not_on_list")["attendee"] == anna.view
