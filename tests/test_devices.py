"""Door devices: pairing links, desk devices, each door's last contact and waiting scans, conflicts."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from server import db as database, migrations
from tests.conftest import API, EVENT, assert_error, bearer, register_with_ticket, snapshot
from tests.people import ANNA

NOW = "2014-10-20T08:30:00+02:00"


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", NOW)


def _device(client, admin, **body) -> dict:
    response = client.post(f"{API}/devices", json={"name": "Door A", **body}, headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_pairing_url_carries_the_door_token_in_its_fragment(client, admin):
    device = _device(client, admin, link=True)

    parts = urlsplit(device["pairing_url"])
    assert (parts.scheme, parts.netloc, parts.path, parts.query) == ("http", "localhost", f"/e/{EVENT}/door", "")
    assert parts.fragment == device["token"]
    assert client.get(f"{API}/door-bundle", headers=bearer(parts.fragment)).status_code == 200


def test_without_link_there_is_no_pairing_url(client, admin):
    assert "pairing_url" not in _device(client, admin)


def test_create_device_link_prints_the_pairing_url_last(app, client):
    app.config["PUBLIC_URL"] = "https://ecc.example.eu"

    result = app.test_cli_runner().invoke(args=["create-device", "--event", EVENT, "--name", "Door B", "--link"])

    assert result.exit_code == 0, result.output
    url = result.output.splitlines()[-1]
    assert url.startswith(f"https://ecc.example.eu/e/{EVENT}/door#edd_")
    assert client.get(f"{API}/door-bundle", headers=bearer(urlsplit(url).fragment)).status_code == 200


def test_the_bundle_carries_the_servers_clock_also_on_a_304(client, door):
    first = client.get(f"{API}/door-bundle", headers=door)

    again = client.get(f"{API}/door-bundle", headers={**door, "If-None-Match": first.headers["ETag"]})

    assert first.headers["Eventdesk-Now"] == NOW
    assert (again.status_code, again.headers["Eventdesk-Now"]) == (304, NOW)


def test_a_door_reports_its_contact_and_waiting_scans_to_the_desk(client, admin, monkeypatch):
    device = _device(client, admin)
    door = bearer(device["token"])

    client.get(f"{API}/door-bundle", headers={**door, "Eventdesk-Pending": "7"})
    listed = {d["id"]: d for d in client.get(f"{API}/devices", headers=admin).get_json()}

    assert (listed[device["id"]]["last_seen_at"], listed[device["id"]]["pending_uploads"]) == (
        "2014-10-20T06:30:00+00:00",
        7,
    )
    monkeypatch.setenv("EVENTDESK_NOW", "2014-10-20T08:30:40+02:00")
    client.get(f"{API}/door-bundle", headers={**door, "Eventdesk-Pending": "0"})
    listed = {d["id"]: d for d in client.get(f"{API}/devices", headers=admin).get_json()}
    assert (listed[device["id"]]["last_seen_at"], listed[device["id"]]["pending_uploads"]) == (
        "2014-10-20T06:30:40+00:00",
        0,
    )


def test_a_door_polling_within_the_minute_writes_nothing(app, client, admin):
    door = bearer(_device(client, admin)["token"])
    client.get(f"{API}/door-bundle", headers={**door, "Eventdesk-Pending": "3"})
    before = snapshot(app.config["DATABASE"])

    client.get(f"{API}/door-bundle", headers={**door, "Eventdesk-Pending": "3"})

    assert snapshot(app.config["DATABASE"]) == before


def test_a_pending_count_that_is_no_number_counts_as_not_said(client, admin):
    device = _device(client, admin)

    client.get(f"{API}/door-bundle", headers={**bearer(device["token"]), "Eventdesk-Pending": "-1; drop"})

    listed = {d["id"]: d for d in client.get(f"{API}/devices", headers=admin).get_json()}
    assert listed[device["id"]]["last_seen_at"] is not None
    assert listed[device["id"]]["pending_uploads"] is None


@pytest.mark.parametrize(
    "path", [f"{API}/devices", f"{API}/attendees?q=anna", f"{API}/checkins/conflicts"], ids=lambda p: p.split("/")[-1]
)
def test_a_desk_device_may_use_the_desk_reads_a_plain_door_may_not(client, admin, path):
    desk = bearer(_device(client, admin, desk=True)["token"])
    door = bearer(_device(client, admin, name="Door B")["token"])

    assert client.get(path, headers=desk).status_code == 200
    body = assert_error(client.get(path, headers=door), 403, "forbidden")
    assert "desk" in body["message"]


def test_a_desk_device_checks_in_by_hand_and_undoes(client, db, admin):
    document, _, _ = register_with_ticket(client, db, ANNA)
    desk = bearer(_device(client, admin, desk=True)["token"])

    checked = client.post(
        f"{API}/checkins/desk", json={"attendee": document["id"], "list": "day1-entrance"}, headers=desk
    )
    undone = client.post(f"{API}/checkins/{checked.get_json()['id']}/undo", headers=desk)

    assert checked.status_code == 201 and checked.get_json()["result"] == "ok"
    assert undone.status_code == 200 and undone.get_json()["undone_at"] is not None


def test_conflicts_list_the_later_of_two_offline_entries_with_its_door(client, db, admin):
    _, _, ticket = register_with_ticket(client, db, ANNA)
    door_a, door_b = (bearer(_device(client, admin, name=name)["token"]) for name in ("Door A", "Door B"))
    scan = {"payload": ticket["payload"], "list": "day1-entrance"}
    client.post(
        f"{API}/checkins/batch",
        json={"scans": [{**scan, "scan_id": "a", "scanned_at": "2014-10-20T08:05:00+02:00"}]},
        headers=door_a,
    )
    client.post(
        f"{API}/checkins/batch",
        json={"scans": [{**scan, "scan_id": "b", "scanned_at": "2014-10-20T08:10:00+02:00"}]},
        headers=door_b,
    )

    conflicts = client.get(f"{API}/checkins/conflicts", headers=admin).get_json()

    assert [(c["device"], c["result"], c["conflict"], c["scanned_at"]) for c in conflicts] == [
        ("Door B", "already_checked_in", True, "2014-10-20T08:10:00+02:00")
    ]


def test_migration_4_adds_the_device_columns_to_an_older_database(tmp_path):
    db = database.connect(tmp_path / "old.sqlite3")
    database.init_db(db)
    for column in ("desk", "last_seen_at", "pending_uploads"):
        db.conn.execute(f"ALTER TABLE api_tokens DROP COLUMN {column}")
    db.conn.execute("DELETE FROM schema_migrations WHERE version = 4")

    version = database.init_db(db)

    columns = {row[1] for row in db.conn.execute("PRAGMA table_info(api_tokens)")}
    assert {"desk", "last_seen_at", "pending_uploads"} <= columns
    assert version == migrations.MIGRATIONS[-1][0] >= 4
    db.close()
