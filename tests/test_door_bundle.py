"""The door bundle: what a door device needs to judge scans offline, in full or as a delta.

It holds the event's public keys, its check-in lists, the serials revoked, a minimal roster
(serial, name, organisation, category, lists: never an email) and who is inside now. It is
ETag-validated, and `?since=<cursor>` gives only roster entries, revocations and presence that
changed after an earlier bundle. The cursor is `<last scan>.<last roster change>`: counters, not
clocks, so even a clock set back cannot hide a change. The conference is loaded at LOADED and
the doors work on 20 October 2014.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest

from server import attendees, auth, create_app, db as database
from server.door_bundle import door_bundle
from server.programme_file import builtin_path, load_file
from tests.conftest import API, EVENT, assert_error, bearer, door_headers, register_with_ticket
from tests.people import ANNA, BRAM, CARLA

LOADED = "2014-10-01T12:00:00+02:00"
NOW = "2014-10-20T09:00:00+02:00"
BUNDLE = f"{API}/door-bundle"
CURSOR_RE = re.compile(r"^\d+\.\d+$")
EVERYONE = ["day1-entrance", "day2-entrance"]


class Holder(NamedTuple):
    id: str
    person: dict
    payload: str
    serial: str

    def roster_entry(self, lists: list[str] = EVERYONE, serial: str | None = None) -> dict:
        """How the roster lists this attendee."""
        return {
            "serial": serial or self.serial,
            "name": self.person["name"],
            "organisation": self.person["organisation"],
            "category": self.person["category"],
            "lists": lists,
        }


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", NOW)


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The built-in conference loaded with the clock already set, as `EVENTDESK_NOW=... make run` does."""
    monkeypatch.setenv("EVENTDESK_NOW", LOADED)
    connection = database.connect(tmp_path / "eventdesk.sqlite3")
    database.init_db(connection)
    load_file(connection, builtin_path())
    connection.close()
    monkeypatch.setenv("EVENTDESK_NOW", NOW)
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path)})


def at(monkeypatch, clock: str) -> None:
    monkeypatch.setenv("EVENTDESK_NOW", f"2014-10-20T{clock}+02:00")


def register(client, db, person: dict) -> Holder:
    document, _, ticket = register_with_ticket(client, db, person)
    return Holder(document["id"], person, ticket["payload"], ticket["serial"])


def scan(client, door: dict, holder: Holder, scan_id: str, kind: str = "entry"):
    body = {"payload": holder.payload, "list": "day1-entrance", "scan_id": scan_id, "type": kind}
    response = client.post(f"{API}/checkins", json=body, headers=door)
    assert response.get_json()["result"] == "ok", response.get_json()
    return response


def bundle(client, door: dict, since: str | None = None) -> dict:
    response = client.get(BUNDLE, query_string={"since": since} if since else None, headers=door)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_serial(entries: list[dict]) -> list[dict]:
    return sorted(entries, key=lambda entry: entry["serial"])


def last_change(db) -> int:
    return db.conn.execute("SELECT COALESCE(MAX(seq), 0) FROM roster_changes").fetchone()[0]


def last_scan(db) -> int:
    return db.conn.execute("SELECT COALESCE(MAX(pk), 0) FROM scans").fetchone()[0]


# --- the whole bundle -------------------------------------------------------------------------


def test_door_bundle_holds_keys_lists_roster_revocations_and_presence(client, db, admin, door, monkeypatch):
    at(monkeypatch, "08:00:00")
    anna, bram, carla = (register(client, db, person) for person in (ANNA, BRAM, CARLA))
    client.post(f"{API}/checkin-lists/matchmaking/members", json={"attendees": [anna.id]}, headers=admin)
    at(monkeypatch, "08:30:00")
    new_carla = client.post(f"{API}/attendees/{carla.id}/ticket/reissue", headers=admin).get_json()["serial"]
    for clock, who, scan_id, kind in (
        ("08:45:00", bram, "1", "entry"),
        ("08:50:00", anna, "2", "entry"),
        ("08:55:00", anna, "3", "exit"),
    ):
        at(monkeypatch, clock)
        scan(client, door, who, scan_id, kind)
    at(monkeypatch, "09:00:00")

    response = client.get(BUNDLE, headers=door)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"  # personal data: in no cache at all
    assert response.get_json() == {
        "event": EVENT,
        "timezone": "Europe/Brussels",
        "cursor": f"{last_scan(db)}.{last_change(db)}",
        "delta": False,
        "public_keys": client.get(f"{API}/ticket-keys").get_json(),
        "lists": client.get(f"{API}/checkin-lists", headers=admin).get_json(),
        "revoked": [carla.serial],
        "roster": by_serial(
            [
                anna.roster_entry(["day1-entrance", "matchmaking", "day2-entrance"]),
                bram.roster_entry(),
                carla.roster_entry(serial=new_carla),
            ]
        ),
        "presence": [
            {"list": "day1-entrance", "serial": bram.serial, "inside": True, "since": "2014-10-20T08:45:00+02:00"}
        ],
    }
    assert [item["id"] for item in response.get_json()["lists"]] == ["day1-entrance", "matchmaking", "day2-entrance"]
    assert len(response.get_json()["public_keys"]) == 1


def test_door_bundle_holds_no_email(client, db, admin, door):
    people = [register(client, db, person) for person in (ANNA, BRAM, CARLA)]
    scan(client, door, people[0], "1")

    response = client.get(BUNDLE, headers=door)

    text = response.get_data(as_text=True)
    assert "@" not in text
    for person in (ANNA, BRAM, CARLA):
        assert person["email"] not in text and person["email"].split("@")[0] not in text
    assert {tuple(sorted(entry)) for entry in response.get_json()["roster"]} == {
        ("category", "lists", "name", "organisation", "serial")
    }


def test_door_bundle_answers_not_modified_until_something_changes(client, db, door, monkeypatch):
    anna = register(client, db, ANNA)
    first = client.get(BUNDLE, headers=door)
    at(monkeypatch, "09:30:00")  # time passing alone changes nothing

    unchanged = client.get(BUNDLE, headers={**door, "If-None-Match": first.headers["ETag"]})
    scan(client, door, anna, "1")
    changed = client.get(BUNDLE, headers={**door, "If-None-Match": first.headers["ETag"]})
    again = client.get(BUNDLE, headers={**door, "If-None-Match": changed.headers["ETag"]})

    assert re.match(r'^"[0-9a-f]{32}"$', first.headers["ETag"])
    assert (unchanged.status_code, unchanged.data, unchanged.headers["ETag"]) == (304, b"", first.headers["ETag"])
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert changed.get_json()["presence"][0]["serial"] == anna.serial
    assert (again.status_code, again.data) == (304, b"")


# --- deltas -----------------------------------------------------------------------------------


def test_door_bundle_since_gives_only_the_new_attendee_and_the_new_scan(client, db, admin, door, monkeypatch):
    at(monkeypatch, "08:00:00")
    anna, bram = register(client, db, ANNA), register(client, db, BRAM)
    scan(client, door, bram, "1")
    at(monkeypatch, "08:10:00")  # the organiser opens a side door: the cursor's second holds no attendee
    side = {"id": "side", "name": "Side door", "start": "2014-10-20T08:00", "end": "2014-10-20T18:00"}
    client.post(f"{API}/checkin-lists", json=side, headers=admin)
    cursor = bundle(client, door)["cursor"]
    changes_before = last_change(db)
    at(monkeypatch, "09:00:00")
    carla = register(client, db, CARLA)
    scan(client, door, anna, "2")

    delta = bundle(client, door, since=cursor)

    assert CURSOR_RE.match(cursor) and cursor == f"1.{changes_before}"
    assert delta["delta"] is True
    assert delta["roster"] == [carla.roster_entry(["day1-entrance", "side", "day2-entrance"])]
    assert delta["revoked"] == []
    assert delta["presence"] == [
        {"list": "day1-entrance", "serial": anna.serial, "inside": True, "since": "2014-10-20T09:00:00+02:00"}
    ]
    assert delta["cursor"] == f"2.{last_change(db)}"
    assert [item["id"] for item in delta["lists"]] == ["day1-entrance", "matchmaking", "side", "day2-entrance"]
    assert delta["public_keys"] == bundle(client, door)["public_keys"]


def test_door_bundle_since_leaves_out_changes_the_cursor_already_holds(client, db, door, monkeypatch):
    at(monkeypatch, "08:00:00")
    register(client, db, ANNA)
    bram = register(client, db, BRAM)
    cursor = bundle(client, door)["cursor"]
    carla = register(client, db, CARLA)  # the same second as the cursor: a counter tells them apart

    delta = bundle(client, door, since=cursor)

    assert cursor == f"0.{last_change(db) - 2}"
    assert bram.roster_entry() not in delta["roster"]
    assert delta["roster"] == [carla.roster_entry()]
    assert delta["presence"] == []


def test_door_bundle_since_gives_revocations_of_reissued_and_erased_tickets(client, db, admin, door, monkeypatch):
    at(monkeypatch, "08:00:00")
    anna, bram = register(client, db, ANNA), register(client, db, BRAM)
    cursor = bundle(client, door)["cursor"]
    at(monkeypatch, "09:00:00")
    new_anna = client.post(f"{API}/attendees/{anna.id}/ticket/reissue", headers=admin).get_json()["serial"]
    client.delete(f"{API}/attendees/{bram.id}", headers=admin)

    delta = bundle(client, door, since=cursor)

    assert delta["revoked"] == sorted([anna.serial, bram.serial])
    assert delta["roster"] == [anna.roster_entry(serial=new_anna)]
    assert bundle(client, door)["roster"] == [anna.roster_entry(serial=new_anna)]


def test_door_bundle_since_reads_only_what_changed(app, client, db, door, monkeypatch):
    """A door polls for deltas all day: each statement of a delta is an index lookup or a range
    of new rows, never a pass over every ticket, attendee or scan of the event."""
    at(monkeypatch, "08:00:00")
    anna, bram = register(client, db, ANNA), register(client, db, BRAM)
    scan(client, door, anna, "1")
    cursor = bundle(client, door)["cursor"]
    register(client, db, CARLA)
    scan(client, door, bram, "2")
    statements: list[str] = []
    reader = database.connect(app.config["DATABASE"])
    reader.conn.set_trace_callback(statements.append)

    delta = door_bundle(reader, EVENT, cursor)

    reader.conn.set_trace_callback(None)
    assert len(delta["roster"]) == 1 and len(delta["presence"]) == 1
    plans = {
        sql: " | ".join(row[3] for row in reader.conn.execute("EXPLAIN QUERY PLAN " + sql))
        for sql in statements
        if sql.lstrip().upper().startswith("SELECT")
    }
    everyone = re.compile(  # a pass over all the event's rows of a per-person table
        r"\bSCAN (tickets|attendees|scans|checkin_list_members|t|a|s|m)\b"
        r"|\b(tickets|attendees|scans|t|a|s) USING (COVERING )?INDEX \w+ \(event_id=\?( AND revoked_at=\?)?\)"
    )
    full_passes = {sql: plan for sql, plan in plans.items() if everyone.search(plan)}
    assert len(plans) >= 8 and full_passes == {}


def test_door_bundle_since_gives_presence_and_membership_changes(client, db, admin, door, monkeypatch):
    at(monkeypatch, "08:00:00")
    anna, bram = register(client, db, ANNA), register(client, db, BRAM)
    at(monkeypatch, "08:30:00")
    scan(client, door, anna, "1")
    scan(client, door, bram, "2")
    cursor = bundle(client, door)["cursor"]
    at(monkeypatch, "09:00:00")
    scan(client, door, anna, "3", "exit")
    client.post(f"{API}/checkin-lists/matchmaking/members", json={"attendees": [bram.id]}, headers=admin)

    delta = bundle(client, door, since=cursor)

    assert delta["presence"] == [{"list": "day1-entrance", "serial": anna.serial, "inside": False, "since": None}]
    assert delta["roster"] == [bram.roster_entry(["day1-entrance", "matchmaking", "day2-entrance"])]
    assert [(item["id"], item["members"]) for item in delta["lists"] if item["id"] == "matchmaking"] == [
        ("matchmaking", 1)
    ]


def test_door_bundle_since_leaves_out_people_scanned_but_never_admitted(client, db, door, monkeypatch):
    at(monkeypatch, "08:00:00")
    anna = register(client, db, ANNA)
    cursor = bundle(client, door)["cursor"]
    at(monkeypatch, "08:30:00")
    refused = {"payload": anna.payload, "list": "day2-entrance", "scan_id": "too-early", "type": "entry"}
    assert client.post(f"{API}/checkins", json=refused, headers=door).get_json()["result"] == "not_on_list"
    scan(client, door, anna, "out-first", "exit")  # an exit of someone never in: accepted, yet not an entry

    delta = bundle(client, door, since=cursor)

    # "inside": false would read as "came in and left", which a list without re-entry refuses.
    assert delta["presence"] == []


def test_door_bundle_since_gives_presence_of_several_people_scanned(client, db, door, monkeypatch):
    at(monkeypatch, "08:00:00")
    anna, bram, carla = register(client, db, ANNA), register(client, db, BRAM), register(client, db, CARLA)
    cursor = bundle(client, door)["cursor"]
    at(monkeypatch, "08:30:00")
    for number, holder in enumerate((carla, anna, bram)):
        scan(client, door, holder, f"many-{number}")

    delta = bundle(client, door, since=cursor)

    inside = {"inside": True, "since": "2014-10-20T08:30:00+02:00", "list": "day1-entrance"}
    assert sorted(delta["presence"], key=lambda item: item["serial"]) == sorted(
        ({**inside, "serial": holder.serial} for holder in (anna, bram, carla)), key=lambda item: item["serial"]
    )


@pytest.mark.parametrize("since", ["yesterday", "12", "3.2014-10-20T08:00:00Z", "3.", "x.12", "3.12.5", "-1.4"])
def test_door_bundle_with_a_bad_cursor_is_bad_request(client, door, since):
    response = client.get(BUNDLE, query_string={"since": since}, headers=door)

    assert_error(response, 400, "bad_parameter", field="since")


@pytest.fixture
def installed_earlier(tmp_path, monkeypatch):
    """A server installed (conference loaded) in 2024, then run as the README's 2014 demonstration."""
    monkeypatch.setenv("EVENTDESK_NOW", "2024-06-01T12:00:00+02:00")
    connection = database.connect(tmp_path / "eventdesk.sqlite3")
    database.init_db(connection)
    load_file(connection, builtin_path())
    monkeypatch.setenv("EVENTDESK_NOW", "2014-10-20T08:00:00+02:00")
    yield create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}), connection
    connection.close()


def test_door_bundle_since_sees_a_reissue_after_the_clock_was_set_back(installed_earlier, monkeypatch):
    app, connection = installed_earlier
    client = app.test_client()
    admin = bearer(auth.create_token(connection, "admin", label="tests"))
    door = door_headers(connection, "Door A")
    anna = register(client, connection, ANNA)
    cursor = bundle(client, door)["cursor"]
    monkeypatch.setenv("EVENTDESK_NOW", "2014-10-20T09:00:00+02:00")
    client.post(f"{API}/attendees/{anna.id}/ticket/reissue", headers=admin)

    delta = bundle(client, door, since=cursor)

    assert delta["revoked"] == [anna.serial]


# --- who may fetch it -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("door", 200), ("admin", 200), ("attendee", 403), ("other-event-door", 403), ("nobody", 401)],
)
def test_door_bundle_is_for_doors_and_admins(client, db, admin, door, other_event, who, status):
    _, attendee_token = attendees.create_attendee(db, EVENT, ANNA)
    headers = {
        "door": door,
        "admin": admin,
        "attendee": bearer(attendee_token),
        "other-event-door": bearer(auth.create_token(db, "door", event_slug=other_event, label="Door X")),
        "nobody": {},
    }[who]

    response = client.get(BUNDLE, headers=headers)

    if status == 200:
        assert response.status_code == 200 and response.get_json()["roster"][0]["name"] == "Anna Berg"
    else:
        body = assert_error(response, status, "forbidden" if status == 403 else "unauthorized")
        assert "roster" not in body
