"""Loading programme files: the built-in conference, reloads, and refusals that change nothing."""

from __future__ import annotations

import copy
import json

import pytest
from flask.testing import FlaskCliRunner

from server import db as database
from server.errors import ValidationError
from server.migrations import MIGRATIONS
from server.programme_file import builtin_path, load_file, load_programme, read_file
from tests.conftest import API, bearer, snapshot


@pytest.fixture
def builtin() -> dict:
    return read_file(builtin_path())


def _count(db, table: str) -> int:
    return db.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608


def test_builtin_conference_has_the_promised_size(db):
    event = dict(db.conn.execute("SELECT * FROM events WHERE slug = 'ecc2014'").fetchone())

    assert event["timezone"] == "Europe/Brussels"
    assert (event["start_date"], event["end_date"]) == ("2014-10-20", "2014-10-21")
    assert event["capacity"] == 300
    assert "illustrative" in event["notice"].lower()
    assert _count(db, "sessions") >= 35
    assert _count(db, "rooms") == 4
    assert _count(db, "tracks") == 5
    assert _count(db, "speakers") >= 40
    assert event["version"] == 1


def test_builtin_conference_has_matchmaking_morning_and_closing_plenary(client):
    day1 = client.get(f"{API}/sessions?day=1&type=matchmaking").get_json()
    closing = client.get(f"{API}/sessions/closing-plenary").get_json()

    assert day1 and all(s["start"] < "2014-10-20T13:00" for s in day1)
    assert closing["day"] == "2014-10-21" and closing["type"] == "plenary"


def test_reloading_the_same_file_changes_nothing(app, db):
    before = snapshot(app.config["DATABASE"])

    result = load_file(db, builtin_path())

    assert not result.changed
    assert result.version_after == 1
    assert result.counts == {"created": 0, "updated": 0, "deleted": 0}
    assert snapshot(app.config["DATABASE"]) == before


def test_reloading_a_changed_file_applies_only_the_difference(db, builtin):
    changed = copy.deepcopy(builtin)
    opening = next(s for s in changed["sessions"] if s["id"] == "opening-plenary")
    opening["start"], opening["end"] = "2014-10-20T14:30", "2014-10-20T16:00"
    changed["sessions"] = [s for s in changed["sessions"] if s["id"] != "farewell-coffee"]
    changed["sessions"].append(
        {"id": "late-addition", "title": "Late addition", "type": "other",
         "start": "2014-10-21T17:00", "end": "2014-10-21T17:30"}
    )  # fmt: skip
    for session in changed["sessions"]:
        if session["id"] == "clusters-engines-sme-growth":
            session["start"], session["end"] = "2014-10-20T16:00", "2014-10-20T17:00"

    result = load_programme(db, changed)

    assert (result.version_before, result.version_after) == (1, 2)
    assert result.counts == {"created": 1, "updated": 2, "deleted": 1}
    row = db.conn.execute("SELECT starts_at, sequence FROM sessions WHERE id = 'opening-plenary'").fetchone()
    assert tuple(row) == ("2014-10-20T12:30:00Z", 1)
    changes = db.conn.execute(
        "SELECT kind, item_id, action FROM changes WHERE version = 2 AND kind = 'session' ORDER BY item_id"
    ).fetchall()
    assert [tuple(c) for c in changes] == [
        ("session", "clusters-engines-sme-growth", "upsert"),
        ("session", "farewell-coffee", "delete"),
        ("session", "late-addition", "upsert"),
        ("session", "opening-plenary", "upsert"),
    ]


def test_guid_is_kept_when_a_session_changes(db, builtin):
    guid = db.conn.execute("SELECT guid FROM sessions WHERE id = 'opening-plenary'").fetchone()[0]
    changed = copy.deepcopy(builtin)
    next(s for s in changed["sessions"] if s["id"] == "opening-plenary")["title"] = "Renamed"

    load_programme(db, changed)

    row = db.conn.execute("SELECT guid, title, sequence FROM sessions WHERE id = 'opening-plenary'").fetchone()
    assert tuple(row) == (guid, "Renamed", 0)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["sessions"][3].update(start="20 October"), "sessions[3] (eco-tools-introduction).start"),
        (lambda d: d["sessions"][12].update(room="ballroom"), "sessions[12] (opening-plenary).room"),
        (lambda d: d["sessions"][12].update(type="banquet"), "sessions[12] (opening-plenary).type"),
        (lambda d: d["sessions"][12].update(end="2014-10-20T13:00"), "sessions[12] (opening-plenary).end"),
        (
            lambda d: d["sessions"][12].update(start="2014-10-25T10:00"),
            "sessions[12] (opening-plenary).start",
        ),
        (lambda d: d["sessions"][12]["speakers"].append({"id": "nobody"}), "speakers[6].id"),
        (lambda d: d["speakers"][0].update(id="Not An Id"), "speakers[0] (Not An Id).id"),
        (lambda d: d["rooms"].append(dict(d["rooms"][0])), "rooms[4] (plenary-hall).id"),
        (lambda d: d["tracks"][0].update(color="red"), "tracks[0] (sme-growth).color"),
        (lambda d: d["event"].update(timezone="Mars/Olympus"), "event.timezone"),
        (lambda d: d.update(format="csv"), "format"),
    ],
)
def test_invalid_file_names_item_and_field_and_changes_nothing(app, db, builtin, mutate, field):
    bad = copy.deepcopy(builtin)
    mutate(bad)
    before = snapshot(app.config["DATABASE"])

    with pytest.raises(ValidationError) as refused:
        load_programme(db, bad)

    assert any(name.endswith(field) for name in refused.value.fields), refused.value.fields
    assert snapshot(app.config["DATABASE"]) == before


def test_invalid_file_reports_every_problem_at_once(db, builtin):
    bad = copy.deepcopy(builtin)
    bad["sessions"][0]["type"] = "banquet"
    bad["sessions"][1]["room"] = "ballroom"
    bad["speakers"][2]["country"] = "Belgium"

    with pytest.raises(ValidationError) as refused:
        load_programme(db, bad)

    assert len(refused.value.fields) == 3
    assert refused.value.message == "the programme file has 3 problems"


def test_double_booked_room_in_a_file_is_refused(db, builtin):
    bad = copy.deepcopy(builtin)
    clash = next(s for s in bad["sessions"] if s["id"] == "clusters-engines-sme-growth")
    clash["start"] = "2014-10-20T15:00"

    with pytest.raises(ValidationError) as refused:
        load_programme(db, bad)

    assert refused.value.fields == {
        "sessions (clusters-engines-sme-growth).start": (
            "room 'plenary-hall' already holds 'opening-plenary' until 2014-10-20T13:30:00Z"
        )
    }


def test_load_is_all_or_nothing_when_the_database_refuses(app, db, builtin):
    """A failure after validation (here a trigger standing in for a full disk) rolls back all."""
    changed = copy.deepcopy(builtin)
    changed["event"]["title"] = "New title"
    changed["sessions"][-1]["title"] = "Changed"
    db.conn.execute(
        "CREATE TRIGGER refuse_last BEFORE UPDATE ON sessions WHEN NEW.id = 'farewell-coffee' "
        "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    before = snapshot(app.config["DATABASE"])

    with pytest.raises(Exception, match="disk full"):
        load_programme(db, changed)

    assert snapshot(app.config["DATABASE"]) == before


def _cli(app) -> FlaskCliRunner:
    return app.test_cli_runner()


def test_cli_load_programme_if_absent_keeps_existing_data(app, client, admin):
    client.patch(f"{API}/sessions/opening-plenary", json={"title": "Edited by admin"}, headers=admin)

    result = _cli(app).invoke(args=["load-programme", "--builtin", "--if-absent"])

    assert result.exit_code == 0, result.output
    assert "already loaded" in result.output
    assert client.get(f"{API}/sessions/opening-plenary").get_json()["title"] == "Edited by admin"


def test_cli_init_db_twice_keeps_data(app, db):
    runner = _cli(app)

    first = runner.invoke(args=["init-db"])
    second = runner.invoke(args=["init-db"])

    assert first.exit_code == second.exit_code == 0
    assert f"schema version {MIGRATIONS[-1][0]}" in second.output  # version 1 and the recorded migrations
    assert _count(db, "sessions") >= 35


def test_cli_load_programme_reports_bad_rows_and_exits_1(app, tmp_path, builtin):
    bad = copy.deepcopy(builtin)
    bad["sessions"][12]["room"] = "ballroom"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")

    result = _cli(app).invoke(args=["load-programme", str(path)])

    assert result.exit_code == 1
    assert "sessions[12] (opening-plenary).room: no room with id 'ballroom' in this event" in result.output


def test_cli_load_programme_names_a_broken_json_line(app, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "format": "eventdesk-programme/1",\n  "event": {,\n}', encoding="utf-8")

    result = _cli(app).invoke(args=["load-programme", str(path)])

    assert result.exit_code == 1
    assert "line 3" in result.output


def test_cli_load_into_empty_database_creates_the_event(empty_app):
    result = empty_app.test_cli_runner().invoke(args=["load-programme", "--builtin"])

    assert result.exit_code == 0, result.output
    assert "event ecc2014: version 0 -> 1" in result.output
    assert empty_app.test_client().get(f"{API}").get_json()["version"] == 1


def test_cli_create_token_prints_token_alone_on_last_line(app, client):
    result = _cli(app).invoke(args=["create-token", "--role", "admin"])

    token = result.output.strip().splitlines()[-1]
    response = client.post(f"{API}/rooms", json={"id": "annex", "name": "Annex"}, headers=bearer(token))
    assert result.exit_code == 0
    assert response.status_code == 201


def test_cli_generate_synthetic_writes_a_loadable_file(app, db, tmp_path):
    path = tmp_path / "synthetic.json"

    generated = _cli(app).invoke(args=["generate-synthetic", "--sessions", "300", "--speakers", "120", "-o", str(path)])
    result = load_file(db, path)

    assert generated.exit_code == 0, generated.output
    assert result.created_event and result.slug == "synthetic"
    event_id = db.conn.execute("SELECT id FROM events WHERE slug = 'synthetic'").fetchone()[0]
    assert db.conn.execute("SELECT COUNT(*) FROM sessions WHERE event_id = ?", (event_id,)).fetchone()[0] == 300


def test_schema_is_safe_to_run_twice(tmp_path):
    db = database.connect(tmp_path / "x.sqlite3")

    first, second = database.init_db(db), database.init_db(db)

    assert first == second == MIGRATIONS[-1][0]
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
