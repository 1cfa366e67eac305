"""The `eventdesk` CLI against a real server on 127.0.0.1: sync once, then everything offline.

The server is gunicorn as `make run` starts it, on its own copy of the built-in conference;
"offline" means that server has been stopped, so its address answers nothing. Each CLI run has
its own EVENTDESK_HOME, so nothing touches the real home.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import urllib.error
import urllib.request
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner
from ical.calendar_stream import IcsCalendarStream

from client_cli.cli import cli
from server import attendees, db as database
from tests.conftest import BIN, EVENT, gunicorn_server, run_script, server_env

API = f"/api/v1/events/{EVENT}"
# Server queries whose answers the matching `agenda` filters must reproduce offline.
AGENDA_FILTERS = {
    ("--day", "2"): "day=2",
    ("--day", "2014-10-20"): "day=2014-10-20",
    ("--track", "sme-growth"): "track=sme-growth",
    ("--track", "SME growth"): "track=sme-growth",
    ("--room", "workshop-room-b"): "room=workshop-room-b",
    ("--type", "workshop"): "type=workshop",
}
SEARCHES = ("cluster", "venture capital", "smart spec")
# On at 15:00 on day 1, and the sessions that start next (15:45, in four rooms).
ON_AT_3PM = ["cluster-showcase-day1", "opening-plenary"]
NEXT_AFTER_3PM = [
    "clusters-engines-sme-growth",
    "access-to-finance-cluster-smes",
    "smart-specialisation-cluster-policy",
    "key-enabling-technologies-emerging-industries",
]


# --- a server to sync from ------------------------------------------------------------------


class Server:
    """A copy of the built-in conference served by gunicorn on one port, started and stopped at will."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.env = server_env(data_dir)
        self.url = f"http://127.0.0.1:{self.env['PORT']}"
        self.admin_token = run_script("eventdesk-server", "create-token", "--role", "admin", env=self.env).split()[-1]

    @contextmanager
    def running(self):
        with gunicorn_server(self.env):
            yield self

    def attendee(self, n: int = 1) -> str:
        """A new attendee of the served event; their personal token."""
        db = database.connect(self.data_dir / "eventdesk.sqlite3")
        try:
            person = {"name": f"Attendee {n}", "email": f"person{n}@example.org", "category": "cluster-manager"}
            return attendees.create_attendee(db, EVENT, person)[1]
        finally:
            db.close()

    def call(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read()

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        status, data = self.call(method, API + path, body)
        assert status in (200, 201), data
        return json.loads(data)

    def get(self, path: str) -> bytes:
        status, data = self.call("GET", path, token="none")
        assert status == 200, data
        return data

    def get_json(self, path: str):
        return json.loads(self.get(path))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A data dir holding the built-in conference, made as `make run` makes it."""
    data = tmp_path_factory.mktemp("cli-template")
    env = server_env(data)
    run_script("eventdesk-server", "init-db", env=env)
    run_script("eventdesk-server", "load-programme", "--builtin", env=env)
    return data


@pytest.fixture
def server(template, tmp_path) -> Server:
    data = tmp_path / "data"
    shutil.copytree(template, data)
    return Server(data)


def eventdesk(home: Path, url: str, *args: str, token: str | None = None, expect: int = 0, **env: str):
    """Run `eventdesk ARGS` in-process with its own home; check its exit code."""
    environment = {
        "EVENTDESK_HOME": str(home),
        "EVENTDESK_SERVER": url,
        "EVENTDESK_TOKEN": token,
        "EVENTDESK_EVENT": None,
        "EVENTDESK_NOW": None,
        **env,
    }
    result = CliRunner().invoke(cli, list(args), env=environment)
    assert result.exit_code == expect, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def ids(sessions: list[dict]) -> list[str]:
    return [session["id"] for session in sessions]


def cache_file(home: Path) -> Path:
    (path,) = (home / "cache").glob(f"{EVENT}@*.sqlite3")
    return path


# --- synced once, then offline ----------------------------------------------------------------


@pytest.fixture(scope="module")
def offline(template, tmp_path_factory) -> SimpleNamespace:
    """A home synced (with two overlapping bookmarks), what the server answered then, and the server stopped."""
    data = tmp_path_factory.mktemp("cli-offline") / "data"
    shutil.copytree(template, data)
    server = Server(data)
    home = data.parent / "home"
    token = server.attendee()
    with server.running():
        first = eventdesk(home, server.url, "sync", token=token)
        eventdesk(home, server.url, "my", "add", "opening-plenary", token=token)
        eventdesk(home, server.url, "my", "add", "cluster-showcase-day1", token=token)
        seen = SimpleNamespace(
            home=home,
            url=server.url,
            token=token,
            first_sync=first.stdout,
            programme=server.get_json(f"{API}/programme"),
            ics=server.get(f"{API}/programme.ics"),
            ics_sme=server.get(f"{API}/programme.ics?track=sme-growth"),
            sessions=server.get_json(f"{API}/sessions"),
            filtered={query: ids(server.get_json(f"{API}/sessions?{query}")) for query in AGENDA_FILTERS.values()},
            searches={text: ids(server.get_json(f"{API}/sessions?q={text.replace(' ', '+')}")) for text in SEARCHES},
            opening=server.get_json(f"{API}/sessions/opening-plenary"),
            speakers=server.get_json(f"{API}/speakers"),
            rooms=server.get_json(f"{API}/rooms"),
            schedule=json.loads(server.call("GET", "/api/v1/me/schedule", token=token)[1]),
        )
    return seen


def read(offline: SimpleNamespace, *args: str, expect: int = 0, **env: str):
    """A command against the synced home, with the server gone."""
    return eventdesk(offline.home, offline.url, *args, token=offline.token, expect=expect, **env)


def test_first_sync_says_what_it_cached(offline):
    assert offline.first_sync.startswith(f"{EVENT}: 44 sessions cached (version 1) from {offline.url}")


def test_agenda_offline_lists_every_day_with_times_rooms_and_marks(offline):
    result = read(offline, "agenda")

    lines = result.stdout.splitlines()
    assert lines[0] == "Day 1, Monday 20 October 2014"
    assert "Day 2, Tuesday 21 October 2014" in lines
    opening = next(line for line in lines if " opening-plenary " in line)
    assert opening.startswith("★14:00–15:30  Plenary Hall")
    assert opening.endswith("Opening plenary: Modern cluster policies for SME growth and industrial renewal")
    assert sum(1 for line in lines if line[1:3].isdigit()) == 44
    assert lines[-1] == "Times in Europe/Brussels; ★ in your schedule; ✗ cancelled."
    assert result.stderr == ""


def test_agenda_json_is_the_servers_session_list(offline):
    result = read(offline, "agenda", "--json")

    assert json.loads(result.stdout) == offline.sessions


@pytest.mark.parametrize(("option", "query"), AGENDA_FILTERS.items(), ids=lambda value: str(value))
def test_agenda_filters_match_the_servers(offline, option, query):
    result = read(offline, "agenda", *option, "--json")

    assert ids(json.loads(result.stdout)) == offline.filtered[query]
    assert offline.filtered[query]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--day", "3"), "the event has no day '3'; its days are 1 (2014-10-20), 2 (2014-10-21)"),
        (("--track", "nope"), "no track 'nope'; the tracks are sme-growth (SME growth)"),
        (("--room", "attic"), "no room 'attic'; the rooms are plenary-hall (Plenary Hall)"),
        (("--type", "party"), "no sessions of type 'party'; the types are break, matchmaking"),
    ],
)
def test_agenda_unknown_filter_is_a_user_error_naming_the_choices(offline, option, message):
    result = read(offline, "agenda", *option, expect=1)

    assert result.stdout == ""
    assert result.stderr.startswith(f"eventdesk: {message}")


def test_agenda_shows_times_in_another_zone_on_request(offline):
    table = read(offline, "agenda", "--day", "1", "--tz", "UTC")
    as_json = read(offline, "agenda", "--day", "1", "--tz", "UTC", "--json")
    wrong = read(offline, "agenda", "--tz", "Mars/Olympus", expect=2)

    assert "★12:00–13:30  Plenary Hall" in table.stdout
    assert table.stdout.splitlines()[-1].startswith("Times in UTC")
    opening = next(s for s in json.loads(as_json.stdout) if s["id"] == "opening-plenary")
    assert (opening["start"], opening["end"]) == ("2014-10-20T12:00:00+00:00", "2014-10-20T13:30:00+00:00")
    assert "unknown time zone 'Mars/Olympus'" in wrong.stderr


def test_now_and_next_at_a_moment_of_the_2014_programme(offline):
    now = read(offline, "now", "--at", "2014-10-20T15:00", "--json")
    following = read(offline, "next", "--at", "2014-10-20T15:00", "--json")
    table = read(offline, "now", "--at", "2014-10-20 15:00")
    in_utc = read(offline, "now", "--at", "2014-10-20T13:00:00+00:00", "--json")

    assert ids(json.loads(now.stdout)) == ON_AT_3PM
    assert ids(json.loads(following.stdout)) == NEXT_AFTER_3PM
    assert table.stdout.startswith("On at Monday 20 October 2014 15:00:\n")
    assert " opening-plenary " in table.stdout
    assert ids(json.loads(in_utc.stdout)) == ON_AT_3PM


@pytest.mark.parametrize("command", ["now", "next"])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:00-05:00", "teatime"])
def test_now_and_next_at_an_impossible_moment_are_usage_errors(offline, command, moment):
    """Exit 2 naming --at, not a traceback: those moments have no date in UTC."""
    result = read(offline, command, "--at", moment, expect=2)

    assert "--at" in result.stderr and moment in result.stderr
    assert "Traceback" not in result.stderr


def test_now_and_next_honour_eventdesk_now_like_the_server(offline):
    now = read(offline, "now", "--json", EVENTDESK_NOW="2014-10-20T15:00:00+02:00")
    following = read(offline, "next", EVENTDESK_NOW="2014-10-20T15:00:00+02:00")
    night = read(offline, "now", EVENTDESK_NOW="2014-10-20T23:00:00+02:00")
    after = read(offline, "next", EVENTDESK_NOW="2014-10-22T09:00:00+02:00")

    assert ids(json.loads(now.stdout)) == ON_AT_3PM
    assert following.stdout.startswith("Next after Monday 20 October 2014 15:00:\n")
    assert all(f" {session_id} " in following.stdout for session_id in NEXT_AFTER_3PM)
    assert night.stdout.splitlines() == [
        "Nothing on at Monday 20 October 2014 23:00.",
        "Next, at Tuesday 21 October 08:00: Welcome coffee",
    ]
    assert after.stdout == "Nothing starts after Wednesday 22 October 2014 09:00.\n"


def test_show_prints_the_session_in_full(offline):
    result = read(offline, "show", "opening-plenary")
    as_json = read(offline, "show", "opening-plenary", "--json")

    lines = result.stdout.splitlines()
    assert lines[0] == offline.opening["title"]
    assert "  when      Day 1, Monday 20 October 2014, 14:00–15:30 (Europe/Brussels)" in lines
    assert "  room      Plenary Hall" in lines
    assert "  schedule  in your schedule; overlaps cluster-showcase-day1" in lines
    speaker = offline.opening["speakers"][0]
    assert f"  {speaker['name']} ({speaker['role']}), {speaker['organisation']}" in lines
    assert offline.opening["abstract"][:60] in result.stdout.replace("\n", " ")
    assert json.loads(as_json.stdout) == offline.opening


def test_show_unknown_session_exits_1_with_a_suggestion(offline):
    result = read(offline, "show", "opening-plenery", expect=1)

    assert (
        result.stderr
        == "eventdesk: no session 'opening-plenery' in ecc2014; did you mean opening-plenary, closing-plenary?\n"
    )


@pytest.mark.parametrize("text", SEARCHES)
def test_search_offline_finds_what_the_server_finds(offline, text):
    as_json = read(offline, "search", *text.split(), "--json")
    table = read(offline, "search", text)

    assert ids(json.loads(as_json.stdout)) == offline.searches[text]
    assert offline.searches[text]
    assert all(f" {session_id} " in table.stdout for session_id in offline.searches[text])


def test_search_with_no_match_says_so(offline):
    result = read(offline, "search", "zeppelin")

    assert result.stdout == "Nothing matches 'zeppelin'.\n"


def test_speakers_and_rooms_offline(offline):
    speakers = read(offline, "speakers")
    speakers_json = read(offline, "speakers", "--json")
    rooms = read(offline, "rooms")
    rooms_json = read(offline, "rooms", "--json")

    assert json.loads(speakers_json.stdout) == offline.speakers
    first = offline.speakers[0]
    assert speakers.stdout.startswith(f"{first['name']}  [{first['id']}]\n    {first['organisation']}\n")
    assert json.loads(rooms_json.stdout) == offline.rooms
    assert rooms.stdout.splitlines()[:2] == [
        "ID               CAPACITY  SESSIONS  NAME",
        "plenary-hall     300       8         Plenary Hall",
    ]


def test_speakers_filter_by_name_or_organisation(offline):
    result = read(offline, "speakers", "european commission", "--json")

    found = json.loads(result.stdout)
    assert found and all("European Commission" in f"{s['name']} {s['organisation']}" for s in found)
    assert len(found) < len(offline.speakers)


def test_my_schedule_offline_shows_bookmarks_and_overlaps(offline):
    table = read(offline, "my")
    as_json = read(offline, "my", "--json")

    document = json.loads(as_json.stdout)
    assert ids(item["session"] for item in document["items"]) == ["cluster-showcase-day1", "opening-plenary"]
    assert [item["overlaps"] for item in document["items"]] == [["opening-plenary"], ["cluster-showcase-day1"]]
    assert [item["session"] for item in document["items"]] == [item["session"] for item in offline.schedule["items"]]
    assert (document["overlap_count"], document["pending"], document["refused"]) == (2, [], [])
    assert table.stdout.startswith("Your schedule: 2 sessions, 2 overlapping\n")
    assert "[overlaps cluster-showcase-day1]" in table.stdout


def test_export_json_is_the_servers_programme(offline):
    result = read(offline, "export", "json")

    assert json.loads(result.stdout) == offline.programme


def test_export_ics_is_the_servers_feed_byte_for_byte(offline):
    whole = read(offline, "export", "ics")
    track = read(offline, "export", "ics", "--track", "SME growth")

    assert whole.stdout_bytes == offline.ics
    assert track.stdout_bytes == offline.ics_sme


def test_export_ics_parses_back_with_the_servers_uids(offline):
    whole = IcsCalendarStream.calendar_from_ics(read(offline, "export", "ics").stdout)
    mine = IcsCalendarStream.calendar_from_ics(read(offline, "export", "ics", "--mine").stdout)
    two_tracks = IcsCalendarStream.calendar_from_ics(
        read(offline, "export", "ics", "--track", "sme-growth", "--track", "cluster-policy").stdout
    )
    served = IcsCalendarStream.calendar_from_ics(offline.ics.decode())

    uids = {f"{session['guid']}@eventdesk" for session in offline.sessions}
    assert {event.uid for event in whole.events} == uids == {event.uid for event in served.events}
    by_id = {session["id"]: f"{session['guid']}@eventdesk" for session in offline.sessions}
    assert {event.uid for event in mine.events} == {by_id["opening-plenary"], by_id["cluster-showcase-day1"]}
    wanted = {by_id[s["id"]] for s in offline.sessions if s["track"] in ("sme-growth", "cluster-policy")}
    assert {event.uid for event in two_tracks.events} == wanted


def test_export_writes_to_a_file(offline, tmp_path):
    read(offline, "export", "ics", "-o", str(tmp_path / "all.ics"))
    read(offline, "export", "json", "--output", str(tmp_path / "all.json"))

    assert (tmp_path / "all.ics").read_bytes() == offline.ics
    assert json.loads((tmp_path / "all.json").read_text()) == offline.programme


def test_installed_entry_point_runs_offline(offline):
    env = {
        "PATH": str(BIN),
        "HOME": str(offline.home),
        "EVENTDESK_HOME": str(offline.home),
        "EVENTDESK_SERVER": offline.url,
    }

    agenda = subprocess.run(
        [str(BIN / "eventdesk"), "agenda", "--day", "2"], env=env, capture_output=True, text=True, timeout=30
    )
    search = subprocess.run(
        [str(BIN / "eventdesk"), "search", "cluster", "--json"], env=env, capture_output=True, text=True, timeout=30
    )
    version = subprocess.run([str(BIN / "eventdesk"), "--version"], env=env, capture_output=True, text=True, timeout=30)

    assert (agenda.returncode, agenda.stderr) == (0, "")
    assert agenda.stdout.startswith("Day 2, Tuesday 21 October 2014\n")
    assert " closing-plenary " in agenda.stdout and " opening-plenary " not in agenda.stdout
    assert search.returncode == 0 and ids(json.loads(search.stdout)) == offline.searches["cluster"]
    assert version.stdout == "eventdesk, version 0.1.0\n"


def test_sync_with_the_server_gone_keeps_the_cache_with_a_note(offline, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(offline.home, home)

    result = eventdesk(home, offline.url, "sync", token=offline.token)
    agenda = eventdesk(home, offline.url, "agenda", "--json")

    assert result.stdout == f"{EVENT}: not synced; the cache holds version 1\n"
    assert result.stderr == f"eventdesk: cannot reach {offline.url} (ConnectError); the cache is as it was\n"
    assert json.loads(agenda.stdout) == offline.sessions


def test_a_cache_older_than_a_day_says_so_on_stderr(offline, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(offline.home, home)
    synced = (datetime.now(UTC) - timedelta(days=3, hours=1)).replace(microsecond=0)
    with sqlite3.connect(cache_file(home)) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'synced_at'", (synced.isoformat(),))

    result = eventdesk(home, offline.url, "agenda", "--json")

    assert json.loads(result.stdout) == offline.sessions
    assert result.stderr == (
        f"eventdesk: the cache is 3 days old (last sync {synced:%Y-%m-%d %H:%M} UTC); run `eventdesk sync`\n"
    )


# --- no cache, a damaged cache, a refused token ------------------------------------------------


@pytest.mark.parametrize("command", [("agenda",), ("sync",), ("search", "cluster"), ("my", "add", "opening-plenary")])
def test_no_cache_and_no_network_exits_3_with_a_clear_message(tmp_path, command):
    nowhere = f"http://127.0.0.1:{server_env(tmp_path)['PORT']}"

    result = eventdesk(tmp_path / "home", nowhere, *command, expect=3)

    assert result.stdout == ""
    assert result.stderr.endswith(
        f"eventdesk: nothing is cached for {EVENT} yet and cannot reach {nowhere} (ConnectError); "
        "connect once and run `eventdesk sync`\n"
    )


GARBAGE = b"this is not a database" * 100


def damage(path: Path) -> Path:
    """Overwrite a cache file (and drop its write-ahead log, which would still hold good pages)."""
    path.write_bytes(GARBAGE)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def test_a_damaged_cache_is_reported_and_set_aside_never_a_traceback(offline, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(offline.home, home)
    path = damage(cache_file(home))

    result = eventdesk(home, offline.url, "agenda", expect=3)

    assert f"eventdesk: the cache {path} cannot be read (file is not a database)\n" in result.stderr
    assert "nothing is cached for ecc2014 yet" in result.stderr
    assert Path(f"{path}.damaged").read_bytes() == GARBAGE


def test_a_damaged_cache_is_rebuilt_when_the_server_answers(server, tmp_path):
    home = tmp_path / "home"
    with server.running():
        eventdesk(home, server.url, "sync")
        damage(cache_file(home))

        result = eventdesk(home, server.url, "rooms", "--json")

    assert next(room["id"] for room in json.loads(result.stdout)) == "plenary-hall"
    assert "cannot be read" in result.stderr and "cached 44 sessions (version 1)" in result.stderr


def test_a_wrong_token_is_refused_with_exit_4(server, tmp_path):
    home = tmp_path / "home"
    with server.running():
        sync = eventdesk(home, server.url, "sync", token="edt_wrong", expect=4)
        add = eventdesk(home, server.url, "my", "add", "opening-plenary", token="edt_wrong", expect=4)

    assert sync.stderr == "eventdesk: the token is unknown or has been revoked\n"
    assert add.stderr == "eventdesk: the token is unknown or has been revoked\n"


# --- syncing changes -------------------------------------------------------------------------


def test_sync_without_changes_is_one_conditional_request(server, tmp_path):
    home = tmp_path / "home"
    with server.running():
        eventdesk(home, server.url, "sync")

        again = eventdesk(home, server.url, "sync")
        report = json.loads(eventdesk(home, server.url, "sync", "--json").stdout)

    assert again.stdout == f"{EVENT}: nothing changed (version 1)\n"
    assert (report["mode"], report["requests"], report["bytes"], report["summary"]) == (
        "unchanged",
        1,
        0,
        "nothing changed",
    )


def test_delta_sync_says_what_changed_and_what_is_in_your_schedule(server, tmp_path):
    home = tmp_path / "home"
    token = server.attendee()
    with server.running():
        eventdesk(home, server.url, "sync", token=token)
        eventdesk(home, server.url, "my", "add", "opening-plenary", token=token)
        server.admin(
            "PATCH", "/sessions/opening-plenary?force=true", {"start": "2014-10-20T14:15", "end": "2014-10-20T15:45"}
        )
        server.admin("PATCH", "/sessions/lunch-briefing-cosme?force=true", {"room": "workshop-room-a"})
        server.admin("POST", "/sessions/closing-plenary/cancel")
        server.admin("PATCH", "/sessions/day2-lunch", {"title": "Lunch on the terrace"})
        server.admin(
            "POST",
            "/sessions",
            {"id": "late-addition", "title": "Late addition", "type": "other", "start": "2014-10-21T17:30",
             "end": "2014-10-21T18:00", "room": "workshop-room-c"},
        )  # fmt: skip

        result = eventdesk(home, server.url, "sync", token=token)
        programme = server.get_json(f"{API}/programme")
        again = json.loads(eventdesk(home, server.url, "sync", "--json", token=token).stdout)
    exported = eventdesk(home, server.url, "export", "json")

    lines = result.stdout.splitlines()
    assert lines[:2] == [f"{EVENT}: version 1 → 6", "2 sessions moved, 1 cancelled, 1 new, 1 renamed"]
    assert (
        "  moved      Opening plenary: Modern cluster policies for SME growth and industrial renewal "
        "(opening-plenary)  ★ in your schedule"
    ) in lines
    assert "             Mon 20 Oct 14:00–15:30, Plenary Hall → Mon 20 Oct 14:15–15:45, Plenary Hall" in lines
    assert any(line.startswith("  moved      Lunchtime briefing: COSME") for line in lines)
    assert "  cancelled  Closing plenary: A new European Cluster Strategy for Growth (closing-plenary)" in lines
    assert "             Tue 21 Oct 15:30–17:00, Plenary Hall" in lines
    assert lines[-1] == (
        "In your schedule: Opening plenary: Modern cluster policies for SME growth and industrial renewal (moved)"
    )
    assert (again["mode"], again["version"]) == ("unchanged", 6)
    assert json.loads(exported.stdout) == programme


def test_delta_sync_reports_json_with_before_and_after(server, tmp_path):
    home = tmp_path / "home"
    with server.running():
        eventdesk(home, server.url, "sync")
        server.admin("PATCH", "/sessions/opening-plenary?force=true", {"room": "workshop-room-a"})

        report = json.loads(eventdesk(home, server.url, "sync", "--json").stdout)

    assert (report["mode"], report["gone"], report["version_before"], report["version"]) == ("delta", False, 1, 2)
    assert report["summary"] == "1 session moved"
    (change,) = report["changes"]
    assert (change["session"], change["kinds"], change["in_my_schedule"]) == ("opening-plenary", ["moved"], False)
    assert (change["before"]["room"], change["after"]["room"]) == ("plenary-hall", "workshop-room-a")
    assert report["requests"] == 2  # HEAD /programme (changed), then GET /changes


def test_sync_after_the_change_log_was_compacted_falls_back_to_a_full_fetch(server, tmp_path):
    home = tmp_path / "home"
    with server.running():
        eventdesk(home, server.url, "sync")
        server.admin(
            "PATCH", "/sessions/opening-plenary?force=true", {"start": "2014-10-20T14:30", "end": "2014-10-20T16:00"}
        )
        server.admin("PATCH", "/rooms/plenary-hall", {"name": "Grand Hall"})
        run_script("eventdesk-server", "compact-changes", EVENT, "--keep", "0", env=server.env)

        report = json.loads(eventdesk(home, server.url, "sync", "--json").stdout)
        programme = server.get_json(f"{API}/programme")
    agenda = eventdesk(home, server.url, "agenda", "--day", "1")
    exported = eventdesk(home, server.url, "export", "json")

    assert (report["mode"], report["gone"], report["version"]) == ("full", True, 3)
    assert report["summary"] == "1 session moved, also 1 room changed"
    assert json.loads(exported.stdout) == programme
    assert " 14:30–16:00  Grand Hall       opening-plenary " in agenda.stdout


def test_my_add_offline_is_queued_then_sent_and_a_full_session_is_reported(server, tmp_path):
    home = tmp_path / "home"
    token, other = server.attendee(1), server.attendee(2)
    with server.running():
        eventdesk(home, server.url, "sync", token=token)
        server.admin("PATCH", "/sessions/service-innovation-kibs", {"capacity": 1})
        assert server.call("PUT", "/api/v1/me/schedule/service-innovation-kibs", token=other)[0] == 201

    queued = eventdesk(home, server.url, "my", "add", "opening-plenary", token=token)
    eventdesk(home, server.url, "my", "add", "service-innovation-kibs", token=token)
    waiting = json.loads(eventdesk(home, server.url, "my", "--json", token=token).stdout)
    with server.running():
        sent = eventdesk(home, server.url, "sync", token=token)
        on_server = json.loads(server.call("GET", "/api/v1/me/schedule", token=token)[1])
    after = json.loads(eventdesk(home, server.url, "my", "--json", token=token).stdout)
    table = eventdesk(home, server.url, "my", token=token)

    assert queued.stdout.startswith("Queued (add): Opening plenary")
    assert "the server cannot be reached: the change is kept here" in queued.stderr
    assert [(c["session"], c["action"]) for c in waiting["pending"]] == [
        ("opening-plenary", "add"),
        ("service-innovation-kibs", "add"),
    ]
    assert [item["pending"] for item in waiting["items"]] == ["add", "add"]
    assert "Sent 1 queued schedule change(s): add opening-plenary" in sent.stdout
    assert (
        "Refused by the server: add service-innovation-kibs: session 'service-innovation-kibs' is full (1 seats)"
        in sent.stdout
    )
    assert ids(item["session"] for item in on_server["items"]) == ["opening-plenary"]
    assert ids(item["session"] for item in after["items"]) == ["opening-plenary"]
    assert after["pending"] == []
    assert [(r["session"], r["reason"]) for r in after["refused"]] == [("service-innovation-kibs", "full")]
    assert "  add service-innovation-kibs: session 'service-innovation-kibs' is full (1 seats)" in table.stdout


def test_sync_fetches_the_schedule_again_only_when_something_in_it_changed(server, tmp_path):
    home = tmp_path / "home"
    token, other = server.attendee(1), server.attendee(2)
    with server.running():
        server.admin("PATCH", "/sessions/service-innovation-kibs", {"capacity": 5})
        assert server.call("PUT", "/api/v1/me/schedule/service-innovation-kibs", token=token)[0] == 201
        eventdesk(home, server.url, "sync", token=token)
        again = json.loads(eventdesk(home, server.url, "sync", "--json", token=token).stdout)
        assert server.call("PUT", "/api/v1/me/schedule/service-innovation-kibs", token=other)[0] == 201
        after_seat = json.loads(eventdesk(home, server.url, "sync", "--json", token=token).stdout)
    mine = json.loads(eventdesk(home, server.url, "my", "--json", token=token).stdout)

    assert (again["bytes"], again["schedule"]["unchanged"], again["schedule"]["fetched"]) == (0, True, True)
    assert after_seat["bytes"] > 0 and after_seat["schedule"]["unchanged"] is False
    assert [(item["session"]["id"], item["seats_left"]) for item in mine["items"]] == [("service-innovation-kibs", 3)]


def test_my_add_online_goes_straight_to_the_server_and_shows_overlaps(server, tmp_path):
    home = tmp_path / "home"
    token = server.attendee()
    with server.running():
        eventdesk(home, server.url, "sync", token=token)
        eventdesk(home, server.url, "my", "add", "opening-plenary", token=token)

        added = eventdesk(home, server.url, "my", "add", "cluster-showcase-day1", token=token)
        on_server = json.loads(server.call("GET", "/api/v1/me/schedule", token=token)[1])
        removed = eventdesk(home, server.url, "my", "remove", "opening-plenary", token=token)
        missing = eventdesk(home, server.url, "my", "remove", "opening-plenary", token=token, expect=1)
        unknown = eventdesk(home, server.url, "my", "add", "no-such-session", token=token, expect=1)

    assert added.stdout.splitlines() == [
        "Added: Cluster showcase exhibition (cluster-showcase-day1), Mon 20 Oct 12:30–18:30",
        "  overlaps Opening plenary: Modern cluster policies for SME growth and industrial renewal "
        "(opening-plenary), 14:00–15:30",
    ]
    assert ids(item["session"] for item in on_server["items"]) == ["cluster-showcase-day1", "opening-plenary"]
    assert removed.stdout.startswith("Removed: Opening plenary")
    assert missing.stderr == "eventdesk: opening-plenary is not in your schedule\n"
    assert unknown.stderr.startswith("eventdesk: no session 'no-such-session' in ecc2014")


# --- help ------------------------------------------------------------------------------------


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    yield prefix
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("path", list(_commands(cli)), ids=lambda path: " ".join(path) or "eventdesk")
def test_every_command_help_has_an_example(path, tmp_path):
    result = CliRunner().invoke(cli, [*path, "--help"], env={"EVENTDESK_HOME": str(tmp_path)})

    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    assert not (tmp_path / "cache").exists()


def test_usage_errors_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["agenda", "--no-such-option"], env={"EVENTDESK_HOME": str(tmp_path)})

    assert result.exit_code == 2


def test_each_event_has_its_own_cache_and_a_large_sync_works(server, tmp_path):
    home = tmp_path / "home"
    big = tmp_path / "synthetic.json"
    run_script("eventdesk-server", "generate-synthetic", "--sessions", "600", "--speakers", "300", "-o", str(big),
               env=server.env)  # fmt: skip
    run_script("eventdesk-server", "load-programme", str(big), env=server.env)
    with server.running():
        synced = eventdesk(home, server.url, "--event", "synthetic", "sync")
        eventdesk(home, server.url, "sync")
        served = server.get_json("/api/v1/events/synthetic/sessions?q=cluster+growth")

    agenda = json.loads(eventdesk(home, server.url, "--event", "synthetic", "agenda", "--json").stdout)
    found = json.loads(
        eventdesk(home, server.url, "search", "cluster", "growth", "--json", EVENTDESK_EVENT="synthetic").stdout
    )
    ours = json.loads(eventdesk(home, server.url, "agenda", "--json").stdout)

    assert synced.stdout.startswith("synthetic: 600 sessions cached (version 1)")
    assert "Storing sessions" in synced.stderr  # the progress bar (drawn in full on a terminal)
    assert len(agenda) == 600 and len(ours) == 44
    assert ids(found) == ids(served) and served
    assert sorted(path.name.split("@")[0] for path in (home / "cache").glob("*.sqlite3")) == ["ecc2014", "synthetic"]


def test_config_file_settings_are_used_by_sync(server, tmp_path):
    home = tmp_path / "home"
    environment = {"EVENTDESK_HOME": str(home), "EVENTDESK_SERVER": None, "EVENTDESK_TOKEN": None}
    runner = CliRunner()
    saved = runner.invoke(cli, ["config", "set", "server", server.url], env=environment)
    shown = runner.invoke(cli, ["config", "show", "--json"], env=environment)
    with server.running():
        synced = runner.invoke(cli, ["sync"], env=environment)

    assert saved.exit_code == 0 and oct((home / "config.json").stat().st_mode & 0o777) == "0o600"
    assert json.loads(shown.stdout)["sources"]["server"] == "config file"
    assert synced.exit_code == 0 and synced.stdout.startswith(
        f"{EVENT}: 44 sessions cached (version 1) from {server.url}"
    )


def test_the_cli_starts_without_loading_the_server_or_its_libraries():
    """`eventdesk` runs on laptops without the server's stack, and starts fast because of it."""
    loaded = subprocess.run(
        [str(BIN / "python"), "-c", "import sys, client_cli.cli; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    server_side = {"flask", "flask_restx", "sqlite_utils", "werkzeug", "jinja2", "icalendar", "qrcode"}
    assert [name for name in loaded if name.split(".")[0] in server_side] == []
    # The rules both sides share are pure modules of the server package (ticketcode, clock, ...).
    assert "server.ticketcode" in loaded
