"""The organiser's side of matchmaking: the plan of every accepted meeting, its CSV per table,
meetings marked as held, the morning's figures, the participant import and the demo data."""

from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from server import matchmaking_plan, meetings
from server.cli import cli
from server.db import connect
from tests.conftest import API, assert_error, attendee_headers, snapshot
from tests.test_matchmaking import BEFORE_CLOSE, SETUP, accepted, ask, join, profile

MATCH = f"{API}/matchmaking"
SCHEDULE = f"{MATCH}/schedule"
DURING = "2014-10-20T09:30:00+02:00"  # inside the first slot (09:00-09:20 is over at 09:20)


@pytest.fixture(autouse=True)
def before_requests_close(monkeypatch, app):
    monkeypatch.setenv("EVENTDESK_NOW", BEFORE_CLOSE)
    app.config["PLAN_SECONDS"] = 1.0  # two shared cores: CP-SAT runs stay short in tests


@pytest.fixture
def crowd(client, db, admin):
    """SETUP with one table, and six participants (BE, BE, FR, FR, DE, DE; sectors alternate)."""
    assert client.put(MATCH, json={**SETUP, "tables": ["A"]}, headers=admin).status_code == 200
    found = []
    for n, country in enumerate(("BE", "BE", "FR", "FR", "DE", "DE"), start=1):
        headers = attendee_headers(db, n)
        sectors = ["ict"] if n % 2 else ["energy", "ict"] if n == 2 else ["energy"]
        found.append((headers, join(client, headers, organisation=f"Organisation {n}", country=country,
                                    sectors=sectors)))  # fmt: skip
    return found


def update(client, who: tuple, **changes) -> None:
    response = client.put("/api/v1/me/matchmaking", json=profile(**changes), headers=who[0])
    assert response.status_code == 200, response.get_json()


def placed(db) -> dict[str, tuple]:
    """Each accepted meeting's (slot start, table), by id."""
    rows = db.conn.execute("SELECT id, slot_start, table_name FROM meetings WHERE status = 'accepted'")
    return {meeting_id: (start, table) for meeting_id, start, table in rows}


# --- the plan ------------------------------------------------------------------------------


def test_schedule_places_what_acceptance_could_not(client, db, admin, crowd):
    # One table: eight accepted meetings over seven slots; the eighth gets no place on acceptance.
    pairs = [(0, 1), (2, 3), (4, 5), (0, 2), (1, 3), (0, 4), (1, 5), (2, 4)]
    made = [accepted(client, crowd[a], crowd[b]) for a, b in pairs]
    assert [m["table"] for m in made].count(None) == 1
    assert client.put(MATCH, json={**SETUP, "tables": ["A", "B"]}, headers=admin).status_code == 200

    response = client.post(SCHEDULE, json={}, headers=admin)

    report = response.get_json()
    assert response.status_code == 200, report
    assert (report["accepted"], report["placed"], report["bound"], report["exact"]) == (8, 8, 8, True)
    assert (report["quality"], report["unplaced"], report["kept"]) == (1.0, [], 0)
    where = placed(db)
    assert all(start is not None for start, _ in where.values())
    assert len(set(where.values())) == 8  # no table twice in a slot
    for person in range(6):
        mine = [where[m["id"]][0] for (a, b), m in zip(pairs, made, strict=True) if person in (a, b)]
        assert len(mine) == len(set(mine))  # nobody twice in a slot


def test_schedule_reports_each_unplaced_meeting_with_its_reason(client, db, admin, crowd):
    early = [{"start": "2014-10-20T09:00", "end": "2014-10-20T09:40"}]
    late = [{"start": "2014-10-20T11:00", "end": "2014-10-20T12:15"}]
    update(client, crowd[0], organisation="Organisation 1", availability=early)
    update(client, crowd[1], organisation="Organisation 2", availability=late)
    meeting = accepted(client, crowd[0], crowd[1])

    report = client.post(SCHEDULE, headers=admin).get_json()

    assert (report["placed"], report["bound"], report["exact"], report["quality"]) == (0, 0, True, 1.0)
    [unplaced] = report["unplaced"]
    assert unplaced["id"] == meeting["id"]
    assert unplaced["requester"]["organisation"] == "Organisation 1"
    assert "no free slot in common" in unplaced["reason"]


def test_schedule_keeps_an_admins_move_unless_replanning(client, db, admin, crowd):
    first = accepted(client, crowd[0], crowd[1])
    assert first["start"] == "2014-10-20T09:00:00+02:00"
    move = {"slot": "2014-10-20T11:40", "table": "A"}
    assert client.patch(f"{MATCH}/meetings/{first['id']}", json=move, headers=admin).status_code == 200

    kept = client.post(SCHEDULE, json={"replan": False}, headers=admin).get_json()

    assert (kept["kept"], kept["changed"]) == (1, 0)
    assert placed(db)[first["id"]] == ("2014-10-20T09:40:00Z", "A")

    replanned = client.post(SCHEDULE, json={"replan": True}, headers=admin).get_json()

    assert (replanned["kept"], replanned["changed"]) == (0, 1)
    row = db.conn.execute("SELECT slot_start, sequence FROM meetings WHERE id = ?", (first["id"],)).fetchone()
    assert tuple(row) == ("2014-10-20T07:00:00Z", 2)  # moved by the admin, then by the plan: two rises
    log = client.get("/api/v1/me/meetings", headers=crowd[0][0]).get_json()[0]["log"]
    assert (log[-1]["what"], log[-1]["role"], log[-1]["reason"]) == (
        "moved",
        "system",
        "organiser's plan: 2014-10-20T07:00:00Z at table A",
    )


def test_schedule_twice_changes_nothing_the_second_time(client, db, admin, crowd):
    for a, b in [(0, 1), (2, 3), (0, 2)]:
        accepted(client, crowd[a], crowd[b])
    client.post(SCHEDULE, headers=admin)
    before = placed(db)

    again = client.post(SCHEDULE, headers=admin).get_json()

    assert again["changed"] == 0
    assert placed(db) == before


def test_schedule_writes_nothing_when_a_meeting_is_accepted_meanwhile(app, client, db, admin, crowd, monkeypatch):
    accepted(client, crowd[0], crowd[1])
    waiting = ask(client, crowd[2], crowd[3]).get_json()
    real_plan = matchmaking_plan.meeting_plan.plan

    def plan_while_someone_accepts(*args, **kwargs):
        other = connect(app.config["DATABASE"])
        attendee = other.conn.execute("SELECT attendee_pk FROM participants WHERE id = ?", (crowd[3][1],)).fetchone()[0]
        meetings.answer(other, attendee, waiting["id"], "accept")
        other.close()
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(matchmaking_plan.meeting_plan, "plan", plan_while_someone_accepts)
    before = {**placed(db)}

    response = client.post(SCHEDULE, headers=admin)

    assert_error(response, 409, "conflict")
    after = placed(db)
    assert {k: v for k, v in after.items() if k != waiting["id"]} == before


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [("none", {}, 401), ("attendee", {}, 403), ("admin", {"replan": "yes"}, 400), ("admin", {"x": 1}, 400)],
)
def test_schedule_refusals_change_nothing(app, client, db, admin, crowd, headers, body, status):
    accepted(client, crowd[0], crowd[1])
    db.conn.execute("UPDATE meetings SET slot_start = NULL, table_name = NULL")
    sent = {"none": {}, "attendee": crowd[0][0], "admin": admin}[headers]
    before = snapshot(app.config["DATABASE"])

    response = client.post(SCHEDULE, json=body, headers=sent)

    assert_error(response, status)
    assert snapshot(app.config["DATABASE"]) == before


def test_schedule_of_an_unknown_event_is_404(client, admin):
    assert_error(client.post("/api/v1/events/nowhere/matchmaking/schedule", headers=admin), 404)


# --- the plan per table --------------------------------------------------------------------


def test_plan_csv_lists_meetings_per_table_and_time_and_is_formula_safe(client, db, admin, crowd):
    update(client, crowd[0], organisation='=HYPERLINK("http://x")', country="BE")
    assert client.put(MATCH, json={**SETUP, "tables": ["B", "A"]}, headers=admin).status_code == 200
    accepted(client, crowd[0], crowd[1])
    accepted(client, crowd[2], crowd[3])
    accepted(client, crowd[0], crowd[2])

    response = client.get(f"{MATCH}/plan.csv", headers=admin)

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == matchmaking_plan.CSV_HEADER
    assert [(r[0], r[2][11:], r[3][11:], r[5], r[9]) for r in rows[1:]] == [
        ("B", "09:00", "09:20", '\'=HYPERLINK("http://x")', "Organisation 2"),
        ("B", "09:20", "09:40", '\'=HYPERLINK("http://x")', "Organisation 3"),
        ("A", "09:00", "09:20", "Organisation 3", "Organisation 4"),
    ]
    assert rows[1][1] == "Workshop Room B"
    assert rows[1][4] == "Attendee 1" and rows[1][7] == "BE" and rows[1][12] == "no"
    assert client.get(f"{MATCH}/plan.csv", headers=admin).get_data() == response.get_data()


def test_plan_csv_is_for_admins(client, crowd):
    assert_error(client.get(f"{MATCH}/plan.csv"), 401)
    assert_error(client.get(f"{MATCH}/plan.csv", headers=crowd[0][0]), 403)


# --- held ----------------------------------------------------------------------------------


def held(client, who: tuple, meeting: dict, value: bool = True):
    return client.post(f"/api/v1/me/meetings/{meeting['id']}/held", json={"held": value}, headers=who[0])


def test_both_sides_say_the_meeting_was_held_after_it_began(app, client, db, crowd, monkeypatch):
    meeting = accepted(client, crowd[0], crowd[1])
    before = snapshot(app.config["DATABASE"])
    assert_error(held(client, crowd[0], meeting), 409)
    assert snapshot(app.config["DATABASE"]) == before
    monkeypatch.setenv("EVENTDESK_NOW", DURING)

    first = held(client, crowd[0], meeting)
    second = held(client, crowd[1], meeting, False)
    third = held(client, crowd[1], meeting, True)

    assert first.get_json() == {"id": meeting["id"], "by_requester": True, "by_partner": None, "held": False}
    assert second.get_json()["held"] is False
    assert third.get_json() == {"id": meeting["id"], "by_requester": True, "by_partner": True, "held": True}
    mine = client.get("/api/v1/me/meetings", headers=crowd[1][0]).get_json()[0]
    assert mine["held"] == {"requester": True, "partner": True}
    assert [entry["what"] for entry in mine["log"]][-3:] == ["held", "not held", "held"]


def test_held_is_refused_for_unplaced_or_someone_elses_meetings(app, client, crowd, monkeypatch):
    waiting = ask(client, crowd[0], crowd[1]).get_json()
    meeting = accepted(client, crowd[2], crowd[3])
    monkeypatch.setenv("EVENTDESK_NOW", DURING)
    before = snapshot(app.config["DATABASE"])

    assert_error(held(client, crowd[0], waiting), 409)
    assert_error(held(client, crowd[0], meeting), 404)
    assert_error(client.post(f"/api/v1/me/meetings/{meeting['id']}/held", json={}, headers=crowd[2][0]), 400)
    assert snapshot(app.config["DATABASE"]) == before


# --- the figures ---------------------------------------------------------------------------


def test_stats_count_the_morning(client, db, admin, crowd, monkeypatch):
    # BE1(ict) FR3(ict): same sector, across borders; BE1(ict) BE2(energy, ict): neither;
    # FR4(energy) DE5(ict): across both; requested, declined and cancelled ones too.
    one = accepted(client, crowd[0], crowd[2])
    accepted(client, crowd[0], crowd[1])
    accepted(client, crowd[3], crowd[4])
    ask(client, crowd[5], crowd[0])
    declined = ask(client, crowd[5], crowd[1]).get_json()
    client.post(f"/api/v1/me/meetings/{declined['id']}/decline", headers=crowd[1][0])
    cancelled = ask(client, crowd[5], crowd[2]).get_json()
    client.post(f"/api/v1/me/meetings/{cancelled['id']}/cancel", headers=crowd[5][0])
    monkeypatch.setenv("EVENTDESK_NOW", DURING)
    held(client, crowd[0], one)
    held(client, crowd[2], one)

    body = client.get(f"{MATCH}/stats", headers=admin).get_json()

    assert body == {
        "event": "ecc2014",
        "participants": 6,
        "synthetic_participants": 0,
        "requests": 6,
        "requested": 0,
        "accepted": 3,
        "declined": 1,
        "cancelled": 1,
        "expired": 1,  # requests closed on 19 October
        "placed": 3,
        "held": 1,
        "across_sectors": 1,
        "across_sectors_share": 0.3333,
        "across_borders": 2,
        "across_borders_share": 0.6667,
    }


def test_stats_are_for_admins(client, crowd):
    assert_error(client.get(f"{MATCH}/stats"), 401)
    assert_error(client.get(f"{MATCH}/stats", headers=crowd[0][0]), 403)


# --- the participant import and the demo (CLI) ---------------------------------------------


def run(app, *args: str):
    environment = {"EVENTDESK_DATA_DIR": app.config["DATA_DIR"], "EVENTDESK_PLAN_SECONDS": "2"}
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


PARTICIPANTS_CSV = (
    "email,organisation,cluster,country,sectors,offer,seek,languages,availability\n"
    "person1@example.org,Org One,Cluster One,be,ict;energy,lasers,imaging,en;fr,\n"
    'person2@example.org,Org Two,Cluster Two,FR,,,,en,"2014-10-20T09:00/2014-10-20T10:30"\n'
)


def test_import_participants_opts_attendees_in_and_twice_changes_nothing(app, client, db, tmp_path):
    attendee_headers(db, 1), attendee_headers(db, 2)
    path = tmp_path / "participants.csv"
    path.write_text(PARTICIPANTS_CSV, encoding="utf-8")

    first = run(app, "import-participants", str(path), "--event", "ecc2014")
    second = run(app, "import-participants", str(path), "--event", "ecc2014")

    assert (first.exit_code, first.output) == (0, "2 created, 0 updated, 0 unchanged\n")
    assert second.output == "0 created, 0 updated, 2 unchanged\n"
    rows = db.conn.execute(
        "SELECT organisation, country, sectors, languages, availability FROM participants ORDER BY organisation"
    ).fetchall()
    assert [tuple(row) for row in rows] == [
        ("Org One", "BE", '["energy", "ict"]', '["en", "fr"]', None),
        ("Org Two", "FR", "[]", '["en"]', '[["2014-10-20T07:00:00Z", "2014-10-20T08:30:00Z"]]'),
    ]


def test_import_participants_reports_every_bad_row_and_imports_nothing(app, db, tmp_path):
    attendee_headers(db, 1), attendee_headers(db, 2)
    bad = PARTICIPANTS_CSV + (
        "nobody@example.org,Org,Cluster,BE,,,,,\n"
        "person1@example.org,Org,Cluster,Belgium,,,,english,\n"
        "person3@example.org,Org,Cluster,BE,nonsense,,,,2014-10-20T13:00/2014-10-20T14:00\n"
    )
    attendee_headers(db, 3)
    path = tmp_path / "participants.csv"
    path.write_text(bad, encoding="utf-8")
    before = snapshot(app.config["DATABASE"])

    result = run(app, "import-participants", str(path), "--event", "ecc2014")

    assert result.exit_code == 1
    assert "3 bad rows; nothing imported" in result.output
    for expected in ("line 4: email", "line 5: email: repeats line 2", "line 5: country", "line 5: languages[0]",
                     "line 6: sectors[0]", "line 6: availability[0]"):  # fmt: skip
        assert expected in result.output, result.output
    assert snapshot(app.config["DATABASE"]) == before


def test_import_participants_needs_the_required_columns(app, tmp_path):
    path = tmp_path / "participants.csv"
    path.write_text("email,organisation\nperson1@example.org,Org\n", encoding="utf-8")

    result = run(app, "import-participants", str(path), "--event", "ecc2014")

    assert result.exit_code == 1
    assert "missing: cluster, country" in result.output


def test_load_demo_gives_a_full_synthetic_morning_once(app, client, db, admin):
    first = run(app, "load-demo", "--event", "ecc2014")
    after_first = snapshot(app.config["DATABASE"])
    second = run(app, "load-demo", "--event", "ecc2014")

    assert first.exit_code == 0, first.output
    assert first.output.startswith("added 110 attendees, 110 participants, 196 meetings (all synthetic)")
    assert second.output.startswith("added 0 attendees, 0 participants, 0 meetings")
    assert snapshot(app.config["DATABASE"]) == after_first
    stats = client.get(f"{MATCH}/stats", headers=admin).get_json()
    assert (stats["participants"], stats["synthetic_participants"], stats["accepted"]) == (110, 110, 170)
    assert 0.4 <= stats["across_sectors_share"] < 0.5
    assert stats["placed"] >= 160
    countries, clusters, sectors = db.conn.execute(
        "SELECT COUNT(DISTINCT country), COUNT(DISTINCT cluster), "
        "(SELECT COUNT(DISTINCT j.value) FROM participants, json_each(participants.sectors) j) FROM participants"
    ).fetchone()
    assert (countries, clusters, sectors) == (20, 80, 15)
    names = db.conn.execute("SELECT name, email FROM attendees WHERE email LIKE 'demo-%' ORDER BY pk").fetchall()
    assert tuple(names[16]) == ("Demo participant 17", "demo-participant-017@example.org")
    plan = list(csv.reader(io.StringIO(client.get(f"{MATCH}/plan.csv", headers=admin).get_data(as_text=True))))
    assert len(plan) - 1 == stats["placed"]
    assert {row[12] for row in plan[1:]} == {"yes"}
    assert all("(synthetic)" in row[6] and "(synthetic)" in row[10] for row in plan[1:])


def test_server_commands_have_help_with_an_example(app):
    for command in ("import-participants", "load-demo"):
        result = run(app, command, "--help")

        assert result.exit_code == 0
        assert "Example:" in result.output
