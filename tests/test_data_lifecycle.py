"""The attendee data lifecycle: export on request, erasure, anonymisation after the event, retention."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from server import (
    attendance,
    attendees,
    data_lifecycle,
    db as database,
    keys,
    matchmaking_plan,
    migrations,
    personal_links,
)
from server.cli import cli
from tests.conftest import API, EVENT, assert_error, bearer, gunicorn_server, run_script, scan
from tests.people import ANNA as SOMEONE
from tests.test_cli_door import Served, door_env, eventdesk, prepare_server

BEFORE_CLOSE = "2014-10-15T12:00:00+02:00"
AT_THE_DOOR = "2014-10-20T08:30:00+02:00"
AFTER_THE_EVENT = "2014-11-01T12:00:00+01:00"
ANNA = {"name": "Annelies Vandeputte", "email": "annelies@zonnecluster.example",
        "organisation": "Zonnecluster Vlaanderen", "category": "cluster-manager"}  # fmt: skip
BRAM = {"name": "Bram Oosterhuis", "email": "bram@deltahub.example",
        "organisation": "Deltahub Rotterdam", "category": "national-policy-maker"}  # fmt: skip
ANNA_TRACES = ("Annelies", "Vandeputte", "annelies@zonnecluster.example", "Zonnecluster")


def profile(organisation: str, offer: str) -> dict:
    return {"organisation": organisation, "cluster": f"{organisation} cluster", "country": "BE", "sectors": ["ict"],
            "offer": offer, "seek": "partners in medical imaging", "languages": ["en"]}  # fmt: skip


@pytest.fixture
def world(app, client, db, door, monkeypatch):
    """Anna and Bram with everything Eventdesk can hold about a person: a bookmark, a calendar
    feed, a mailed personal link, a signed-in browser, matchmaking profiles, a placed meeting
    Anna asked for, and Anna's ticket scanned at the door. Their tokens, by name."""
    monkeypatch.setenv("EVENTDESK_NOW", BEFORE_CLOSE)
    anna_doc, anna_token = attendees.create_attendee(db, EVENT, ANNA)
    bram_doc, bram_token = attendees.create_attendee(db, EVENT, BRAM)
    anna, bram = bearer(anna_token), bearer(bram_token)
    assert client.put("/api/v1/me/schedule/opening-plenary", headers=anna).status_code == 201
    assert client.get("/api/v1/me/calendar", headers=anna).status_code == 200
    anna_pk = attendees.pk_by_email(db, EVENT, ANNA["email"])
    with app.app_context():
        secret = personal_links.current_link_secret(db, keys.app_secret(), anna_pk)
    personal_links.mark_sent(db, anna_pk, ANNA["email"])
    browser = personal_links.link_login(db, EVENT, secret, "Annelies's phone")
    offer = "solar testing; ask for Annelies Vandeputte"
    assert (
        client.put("/api/v1/me/matchmaking", json=profile("Zonnecluster Vlaanderen", offer), headers=anna).status_code
        == 201
    )
    bram_profile = client.put("/api/v1/me/matchmaking", json=profile("Deltahub Rotterdam", "ports"), headers=bram)
    meeting = client.post(
        "/api/v1/me/meetings",
        json={"with": bram_profile.get_json()["id"], "message": "Hello Bram, Annelies Vandeputte here"},
        headers=anna,
    ).get_json()
    assert client.post(f"/api/v1/me/meetings/{meeting['id']}/accept", headers=bram).status_code == 200
    monkeypatch.setenv("EVENTDESK_NOW", AT_THE_DOOR)
    ticket = client.get("/api/v1/me/ticket", headers=anna).get_json()
    assert scan(client, door, ticket["payload"], "scan-1").get_json()["result"] == "ok"
    return {"anna": anna, "bram": bram, "anna_id": anna_doc["id"], "bram_id": bram_doc["id"],
            "anna_token": anna_token, "browser_token": browser["token"], "meeting": meeting["id"],
            "serial": ticket["serial"]}  # fmt: skip


def traces(path: str | Path, needles: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(table, column, needle) wherever a needle appears, in any case, in any column of any table,
    FTS shadow tables included (their blobs read as text)."""
    connection = sqlite3.connect(str(path))
    try:
        found = []
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for needle in needles:
                    hit = connection.execute(
                        f'SELECT 1 FROM "{table}" WHERE instr(lower(CAST("{column}" AS TEXT)), lower(?)) LIMIT 1',  # noqa: S608
                        (needle,),
                    ).fetchone()
                    if hit:
                        found.append((table, column, needle))
        return found
    finally:
        connection.close()


def referencing_attendees(db) -> set[str]:
    """Tables whose foreign keys lead to attendees (directly or through another such table), and
    tables with an attendee column that no foreign key declares (read from the real database)."""
    tables = [row[0] for row in db.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    found, grew = {"attendees"}, True
    while grew:
        grew = False
        for table in tables:
            targets = {row[2] for row in db.conn.execute(f'PRAGMA foreign_key_list("{table}")')}
            if table not in found and targets & found:
                found.add(table)
                grew = True
    for table in tables:
        if any("attendee" in row[1] for row in db.conn.execute(f'PRAGMA table_info("{table}")')):
            found.add(table)
    return found


# --- export ----------------------------------------------------------------------------------


def test_every_table_that_points_at_attendees_is_exported_and_known_to_erasure(client, db, world):
    body = client.get("/api/v1/me/export", headers=world["anna"]).get_json()

    tables = referencing_attendees(db)

    assert tables - set(data_lifecycle.PERSONAL_TABLES) == set(), "a new table holds attendee data: export and erase it"
    for table in tables:
        key = data_lifecycle.PERSONAL_TABLES[table]
        assert key == "" or body[key], f"{table}: the export's {key!r} shows nothing"


def test_export_holds_all_my_data_and_no_secret(client, db, world):
    response = client.get("/api/v1/me/export", headers=world["anna"])

    body = response.get_json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["format"] == "eventdesk-personal-data/1"
    assert body["event"] == {"slug": EVENT, "title": body["event"]["title"]}
    assert body["attendee"]["id"] == world["anna_id"]
    assert {key: body["attendee"][key] for key in ("name", "email", "organisation")} == {
        key: ANNA[key] for key in ("name", "email", "organisation")
    }
    assert [item["session"] for item in body["schedule"]] == ["opening-plenary"]
    assert [(t["serial"], t["revoked_at"]) for t in body["tickets"]] == [(world["serial"], None)]
    assert [(c["list"], c["result"], c["device"]) for c in body["checkins"]] == [("day1-entrance", "ok", "Door A")]
    assert body["matchmaking"]["profile"]["organisation"] == "Zonnecluster Vlaanderen"
    assert body["checkin_lists"] == ["matchmaking"]
    assert [(m["id"], m["status"], m["message"]) for m in body["meetings"]] == [
        (world["meeting"], "accepted", "Hello Bram, Annelies Vandeputte here")]  # fmt: skip
    assert [entry["what"] for entry in body["meetings"][0]["log"]] == ["requested", "accepted", "placed"]
    assert body["tokens"] == {"api_token": True, "calendar_feed": True, "calendar_feed_generation": 0}
    assert body["personal_link"] == {"generation": 0}
    assert [device["label"] for device in body["devices"]] == ["Annelies's phone"]
    assert [(mail["to"], mail["what"]) for mail in body["emails"]] == [
        (ANNA["email"], "personal link, calendar and ticket")]  # fmt: skip
    text = response.get_data(as_text=True)
    secrets = [world["anna_token"], world["browser_token"]] + [
        value
        for query in (
            "SELECT api_token_hash, feed_token_hash FROM attendees",
            "SELECT token_hash, NULL FROM attendee_links",
            "SELECT token_hash, NULL FROM attendee_devices",
        )
        for row in db.conn.execute(query)
        for value in row
        if value
    ]
    assert len(secrets) == 7  # two tokens; hashes: both attendees' API tokens, feed, link, browser
    assert not [secret for secret in secrets if secret in text]


def test_export_needs_an_attendee_token(client, admin):
    assert_error(client.get("/api/v1/me/export"), 401)
    assert_error(client.get("/api/v1/me/export", headers=admin), 403)


# --- erasure ---------------------------------------------------------------------------------


def test_erasure_leaves_no_trace_in_any_table_or_feed_and_the_partner_sees_the_meeting_cancelled(
    app, client, db, admin, world
):
    response = client.delete(f"{API}/attendees/{world['anna_id']}", headers=admin)

    assert response.status_code == 204
    assert traces(app.config["DATABASE"], ANNA_TRACES) == []
    bram_meetings = client.get("/api/v1/me/meetings", headers=world["bram"]).get_json()
    assert [(m["id"], m["status"], m["message"]) for m in bram_meetings] == [(world["meeting"], "cancelled", "")]
    assert bram_meetings[0]["log"][-1]["reason"] == data_lifecycle.ERASED_REASON
    schedule = client.get("/api/v1/me/schedule", headers=world["bram"]).get_json()
    assert [m["status"] for m in schedule["meetings"]] == ["cancelled"]
    feed_url = client.get("/api/v1/me/calendar", headers=world["bram"]).get_json()["https"]
    readable = [
        client.get(urlsplit(feed_url).path),
        client.get(f"{API}/programme"),
        client.get(f"{API}/programme.ics"),
        client.get(f"{API}/matchmaking/participants", headers=world["bram"]),
        client.get(f"{API}/attendees", headers=admin),
    ]
    for reply in readable:
        assert reply.status_code == 200
        text = reply.get_data(as_text=True).lower()
        assert not [needle for needle in ANNA_TRACES if needle.lower() in text]
    assert "STATUS:CANCELLED" in readable[0].get_data(as_text=True)
    for token in (world["anna_token"], world["browser_token"]):
        assert_error(client.get("/api/v1/me", headers=bearer(token)), 401)


def test_erase_attendee_command_refuses_without_yes_then_erases(app, db, world, tmp_path):
    environment = {"EVENTDESK_DATA_DIR": str(tmp_path)}

    refused = CliRunner().invoke(cli, ["erase-attendee", ANNA["email"], "--event", EVENT], env=environment)
    done = CliRunner().invoke(cli, ["erase-attendee", ANNA["email"], "--event", EVENT, "--yes"], env=environment)

    assert refused.exit_code == 2 and "--yes" in refused.output
    assert done.exit_code == 0, done.output
    assert traces(app.config["DATABASE"], ANNA_TRACES) == []


# --- anonymisation ---------------------------------------------------------------------------


def statistics(db) -> tuple:
    return attendance.stats(db, EVENT), matchmaking_plan.stats(db, EVENT)


def test_anonymise_refuses_without_yes_and_before_the_end(db, world, tmp_path):
    environment = {"EVENTDESK_DATA_DIR": str(tmp_path), "EVENTDESK_NOW": AT_THE_DOOR}

    no_yes = CliRunner().invoke(cli, ["anonymise", "--event", EVENT], env=environment)
    too_early = CliRunner().invoke(cli, ["anonymise", "--event", EVENT, "--yes"], env=environment)

    assert no_yes.exit_code == 2 and "--yes" in no_yes.output
    assert too_early.exit_code == 1 and "2014-10-22T00:00:00+02:00" in too_early.output
    assert db.conn.execute("SELECT name FROM attendees WHERE id = ?", (world["anna_id"],)).fetchone()[0] == ANNA["name"]


def test_anonymise_forgets_every_attendee_and_keeps_counts_statistics_and_programme(
    app, client, db, world, tmp_path, monkeypatch
):
    monkeypatch.setenv("EVENTDESK_NOW", AFTER_THE_EVENT)
    people = [tuple(row) for row in db.conn.execute("SELECT name, email, organisation FROM attendees")]
    before = statistics(db), client.get(f"{API}/programme").get_data(), db.conn.execute(
        "SELECT COUNT(*) FROM attendees").fetchone()  # fmt: skip

    result = CliRunner().invoke(
        cli, ["anonymise", "--event", EVENT, "--yes"], env={"EVENTDESK_DATA_DIR": str(tmp_path)}
    )

    assert result.exit_code == 0, result.output
    assert "2 attendees" in result.output and "1 door devices revoked" in result.output
    needles = (*[value for person in people for value in person if value], "Bram Oosterhuis", "Deltahub")
    assert traces(app.config["DATABASE"], needles) == []
    after = statistics(db), client.get(f"{API}/programme").get_data(), db.conn.execute(
        "SELECT COUNT(*) FROM attendees").fetchone()  # fmt: skip
    assert after == before
    speakers = client.get(f"{API}/speakers").get_json()
    assert speakers and all(speaker["name"] for speaker in speakers)
    assert_error(client.get("/api/v1/me", headers=world["anna"]), 401)


def test_an_anonymised_event_tells_its_doors_to_wipe_as_a_revoked_door_is_told(app, client, db, admin, door, world):
    assert client.get(f"{API}/door-bundle", headers=door).status_code == 200

    data_lifecycle.anonymise_event(db, EVENT, force=True)

    assert_error(client.get(f"{API}/door-bundle", headers=door), 401)
    assert_error(client.post(f"{API}/devices", json={"name": "Door Z"}, headers=admin), 409)
    bundle = client.get(f"{API}/door-bundle", headers=admin).get_data(as_text=True)
    assert not [needle for needle in ANNA_TRACES if needle.lower() in bundle.lower()]


# --- retention -------------------------------------------------------------------------------


def run_init_db(tmp_path, **settings: str):
    environment = {"EVENTDESK_DATA_DIR": str(tmp_path), "EVENTDESK_NOW": AFTER_THE_EVENT, **settings}
    return CliRunner().invoke(cli, ["init-db"], env=environment)


def test_retention_reminds_the_organiser_at_start(db, world, tmp_path):
    early = run_init_db(tmp_path, EVENTDESK_RETENTION_DAYS="30")
    due = run_init_db(tmp_path, EVENTDESK_RETENTION_DAYS="7")

    assert early.exit_code == 0 and "warning" not in early.output
    assert due.exit_code == 0, due.output
    assert f"warning: event {EVENT} ended more than 7 days ago" in due.output
    assert f"eventdesk-server anonymise --event {EVENT} --yes" in due.output
    assert db.conn.execute("SELECT name FROM attendees WHERE id = ?", (world["anna_id"],)).fetchone()[0] == ANNA["name"]


def test_retention_anonymises_when_told_to_and_then_stays_quiet(app, db, world, tmp_path):
    first = run_init_db(tmp_path, EVENTDESK_RETENTION_DAYS="7", EVENTDESK_RETENTION_ACTION="anonymise")
    second = run_init_db(tmp_path, EVENTDESK_RETENTION_DAYS="7", EVENTDESK_RETENTION_ACTION="anonymise")

    assert first.exit_code == 0 and "was anonymised (2 attendees)" in first.output
    assert second.exit_code == 0 and "warning" not in second.output
    assert traces(app.config["DATABASE"], ANNA_TRACES) == []


def test_retention_settings_that_make_no_sense_stop_init_db(tmp_path, app):
    wrong_days = run_init_db(tmp_path, EVENTDESK_RETENTION_DAYS="soon")
    wrong_action = run_init_db(tmp_path, EVENTDESK_RETENTION_DAYS="7", EVENTDESK_RETENTION_ACTION="delete")

    assert wrong_days.exit_code == 1 and "EVENTDESK_RETENTION_DAYS" in wrong_days.output
    assert wrong_action.exit_code == 1 and "EVENTDESK_RETENTION_ACTION" in wrong_action.output


# --- the schema change -----------------------------------------------------------------------


def test_migration_5_lets_participants_outlive_their_attendee_and_keeps_every_row(tmp_path):
    path = tmp_path / "old.sqlite3"
    old_schema = database.schema_sql().replace(
        migrations._PARTICIPANT_ATTENDEE_AFTER, migrations._PARTICIPANT_ATTENDEE_BEFORE
    )
    old_schema = "\n".join(line for line in old_schema.splitlines() if "anonymised_at" not in line)
    connection = sqlite3.connect(path)
    connection.executescript(old_schema)
    connection.executemany("INSERT INTO schema_migrations VALUES (?, 'then')", [(v,) for v in (1, 2, 3, 4)])
    connection.execute("INSERT INTO events (id, slug, title, timezone, start_date, end_date, created_at, updated_at) "
                       "VALUES (1, 'e', 'E', 'UTC', '2014-10-20', '2014-10-20', 'x', 'x')")  # fmt: skip
    connection.execute("INSERT INTO attendees (pk, id, event_id, name, email, category, created_at, updated_at) "
                       "VALUES (1, 'a-1', 1, 'N', 'n@x', 'press', 'x', 'x')")  # fmt: skip
    connection.execute("INSERT INTO participants (pk, id, event_id, attendee_pk, organisation, cluster, country, "
                       "created_at, updated_at) VALUES (1, 'p-1', 1, 1, 'O', 'C', 'BE', 'x', 'x')")  # fmt: skip
    connection.commit()
    connection.close()
    db = database.connect(path)

    version = database.init_db(db)

    assert version >= 5
    keys_of = {row[2]: (row[3], row[6]) for row in db.conn.execute("PRAGMA foreign_key_list(participants)")}
    assert keys_of["attendees"] == ("attendee_pk", "SET NULL")
    assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.conn.execute("DELETE FROM attendees WHERE pk = 1")
    assert [tuple(row) for row in db.conn.execute("SELECT id, attendee_pk FROM participants")] == [("p-1", None)]
    assert database.schema_sql().count(migrations._PARTICIPANT_ATTENDEE_AFTER) == 1
    assert db.conn.execute("SELECT anonymised_at FROM events").fetchone()[0] is None


def test_a_cli_door_wipes_its_bundle_when_its_event_is_anonymised(tmp_path):
    env, admin = prepare_server(tmp_path / "server")
    with gunicorn_server(env) as base:
        served = Served(base, env, admin)
        served.register(SOMEONE)
        door_home = tmp_path / "door"
        door = door_env(door_home, base, served.device("Door W"))
        assert eventdesk(door, "door", "sync").exit_code == 0
        bundle = door_home / "cache" / "door" / "bundle.sqlite3"
        assert SOMEONE["name"].encode() in bundle.read_bytes()

        run_script("eventdesk-server", "anonymise", "--event", EVENT, "--yes", "--force", env=env)
        result = eventdesk(door, "door", "sync")

    assert result.exit_code == 4
    assert "the door bundle (names) was deleted" in result.stderr
    assert not bundle.exists()


@pytest.mark.parametrize("command", ["anonymise", "erase-attendee"])
def test_lifecycle_commands_have_help_with_an_example(command, tmp_path):
    result = CliRunner().invoke(cli, [command, "--help"], env={"EVENTDESK_DATA_DIR": str(tmp_path)})

    assert result.exit_code == 0
    assert f"eventdesk-server {command} " in result.output and "Example" in result.output
