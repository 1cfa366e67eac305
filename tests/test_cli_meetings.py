"""`eventdesk meetings` and `eventdesk meet …` against a real server on 127.0.0.1, online and offline.

Two participants of the built-in conference's matchmaking morning are made through the API; the
server's clock (EVENTDESK_NOW) is set before requests close (19 October 2014, 18:00).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from client_cli.cache import SCHEMA_VERSION, Cache
from tests.conftest import run_script, server_env
from tests.test_cli import Server, cache_file, eventdesk

BEFORE_CLOSE = "2014-10-15T12:00:00+02:00"


def profile(n: int) -> dict:
    return {
        "organisation": f"Organisation {n}",
        "cluster": f"Cluster {n}",
        "country": ("BE", "FR")[n % 2],
        "sectors": ["ict"],
        "offer": "laser testing facilities",
        "seek": "partners in medical imaging",
        "languages": ["en"],
    }


@pytest.fixture(scope="module")
def conference(tmp_path_factory) -> Path:
    """A data dir holding the built-in conference (with its matchmaking morning), as `make run` makes it."""
    data = tmp_path_factory.mktemp("cli-meetings")
    env = server_env(data)
    run_script("eventdesk-server", "init-db", env=env)
    run_script("eventdesk-server", "load-programme", "--builtin", env=env)
    return data


@pytest.fixture
def morning(conference, tmp_path):
    """The served conference before requests close, and two participants: (token, participant id) each."""
    data = tmp_path / "data"
    shutil.copytree(conference, data)
    server = Server(data)
    server.env["EVENTDESK_NOW"] = BEFORE_CLOSE
    people = []
    with server.running():
        for n in (1, 2):
            token = server.attendee(n)
            status, body = server.call("PUT", "/api/v1/me/matchmaking", profile(n), token=token)
            assert status == 201, body
            people.append((token, json.loads(body)["id"]))
    return server, people


def served_meetings(server: Server, token: str) -> list[dict]:
    status, body = server.call("GET", "/api/v1/me/meetings", token=token)
    assert status == 200, body
    return json.loads(body)


def test_request_and_accept_online_change_the_server_and_the_cache(morning, tmp_path):
    server, ((asker, _), (asked, asked_id)) = morning
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    with server.running():
        eventdesk(home_a, server.url, "sync", token=asker)
        eventdesk(home_b, server.url, "sync", token=asked)

        requested = eventdesk(home_a, server.url, "meet", "request", asked_id, "--message", "Lasers?", token=asker)
        (meeting,) = served_meetings(server, asker)
        eventdesk(home_b, server.url, "sync", token=asked)
        waiting = eventdesk(home_b, server.url, "meetings", token=asked)
        accepted = eventdesk(home_b, server.url, "meet", "accept", meeting["id"], token=asked)
        (after,) = served_meetings(server, asker)

    assert requested.stdout == f"Requested: meeting {meeting['id']} with Organisation 2 (Cluster 2, BE) (requested)\n"
    assert (meeting["status"], meeting["message"], meeting["partner"]["id"]) == ("requested", "Lasers?", asked_id)
    assert f"requested  -     -      {meeting['id']}  Organisation 1 (Cluster 1, FR)  [asks you" in waiting.stdout
    assert after["status"] == "accepted" and after["table"]
    assert accepted.stdout == (
        f"Accepted: meeting {meeting['id']} with Organisation 1 (Cluster 1, FR) (accepted), "
        f"Mon 20 Oct 09:00–09:20, table {after['table']}, Workshop Room B\n"
    )


def test_sync_caches_meetings_and_meetings_offline_shows_them_with_the_cache_age(morning, tmp_path):
    server, ((asker, _), (_, asked_id)) = morning
    home = tmp_path / "home"
    with server.running():
        assert server.call("POST", "/api/v1/me/meetings", {"with": asked_id}, token=asker)[0] == 201
        eventdesk(home, server.url, "sync", token=asker)
        served = served_meetings(server, asker)

    table = eventdesk(home, server.url, "meetings", token=asker)
    as_json = eventdesk(home, server.url, "meetings", "--json", token=asker)

    lines = table.stdout.splitlines()
    assert lines[0] == "STATUS     WHEN  TABLE  ID          WITH"
    assert lines[1] == f"requested  -     -      {served[0]['id']}  Organisation 2 (Cluster 2, BE)"
    assert lines[-1].startswith("As of the last sync, 0 minutes ago (")
    assert json.loads(as_json.stdout) == served
    assert as_json.stderr.startswith("eventdesk: As of the last sync, 0 minutes ago")


def test_a_request_made_offline_is_queued_and_sent_by_the_next_sync(morning, tmp_path):
    server, ((asker, _), (_, asked_id)) = morning
    home = tmp_path / "home"
    with server.running():
        eventdesk(home, server.url, "sync", token=asker)

    queued = eventdesk(home, server.url, "meet", "request", asked_id, "--message", "On the train", token=asker)
    listed = eventdesk(home, server.url, "meetings", token=asker)
    with server.running():
        sent = eventdesk(home, server.url, "sync", token=asker)
        served = served_meetings(server, asker)
    after = eventdesk(home, server.url, "meetings", "--json", token=asker)

    assert queued.stdout == f"Queued (request): {asked_id}\n"
    assert "the server cannot be reached: the change is kept here" in queued.stderr
    assert f"Queued for the next sync: request {asked_id}" in listed.stdout
    assert f"Sent 1 queued meeting change(s): request {asked_id}" in sent.stdout
    assert [(m["partner"]["id"], m["message"], m["status"]) for m in served] == [
        (asked_id, "On the train", "requested")
    ]
    assert json.loads(after.stdout) == served


def test_a_refused_queued_change_is_reported_kept_and_dismissable(morning, tmp_path):
    server, ((asker, _), (_, asked_id)) = morning
    home = tmp_path / "home"
    with server.running():
        eventdesk(home, server.url, "meet", "request", asked_id, token=asker)

    eventdesk(home, server.url, "meet", "request", asked_id, token=asker)  # offline: queued again
    eventdesk(home, server.url, "meet", "accept", "m-nosuchone", token=asker)
    with server.running():
        synced = eventdesk(home, server.url, "sync", token=asker)
        at_once = eventdesk(home, server.url, "meet", "request", asked_id, token=asker, expect=1)
    listed = eventdesk(home, server.url, "meetings", token=asker)
    dismissed = eventdesk(home, server.url, "meet", "dismiss", asked_id, token=asker)
    again = eventdesk(home, server.url, "meet", "dismiss", asked_id, token=asker, expect=1)

    duplicate = "you already have a live meeting or request with this participant"
    assert f"Refused by the server: request {asked_id}: {duplicate}" in synced.stdout
    assert "Refused by the server: accept m-nosuchone: no meeting 'm-nosuchone' of yours" in synced.stdout
    assert at_once.stderr == f"eventdesk: the server would not request {asked_id}: {duplicate}\n"
    assert f"  request {asked_id}: {duplicate}" in listed.stdout
    assert "  accept m-nosuchone: no meeting 'm-nosuchone' of yours" in listed.stdout
    assert dismissed.stdout == f"Dismissed the refused change for {asked_id}.\n"
    assert again.stderr.startswith(f"eventdesk: no refused meeting change for {asked_id!r}")


def test_only_the_partner_may_accept_said_in_words_with_exit_1(morning, tmp_path):
    server, ((asker, _), (_, asked_id)) = morning
    home = tmp_path / "home"
    with server.running():
        eventdesk(home, server.url, "meet", "request", asked_id, token=asker)
        (meeting,) = served_meetings(server, asker)

        refused = eventdesk(home, server.url, "meet", "accept", meeting["id"], token=asker, expect=1)

    assert refused.stderr == (
        f"eventdesk: the server would not accept {meeting['id']}: "
        "only the participant asked may accept a meeting request\n"
    )


def test_a_cache_of_schema_1_is_upgraded_keeping_its_queued_bookmarks(morning, tmp_path):
    server, ((token, _), _) = morning
    home = tmp_path / "home"
    with server.running():
        eventdesk(home, server.url, "sync", token=token)
    path = cache_file(home)
    with sqlite3.connect(path) as conn:  # the queue as schema 1 wrote it
        conn.executescript(
            "DROP TABLE pending; DROP TABLE refused; DROP TABLE meetings;"
            "CREATE TABLE pending (session_id TEXT PRIMARY KEY, action TEXT, queued_at TEXT);"
            "CREATE TABLE refused (session_id TEXT PRIMARY KEY, action TEXT, reason TEXT, message TEXT, at TEXT);"
            "INSERT INTO pending VALUES ('opening-plenary', 'add', '2014-10-01T10:00:00+00:00');"
            "UPDATE meta SET value = '1' WHERE key = 'schema';"
        )
    conn.close()

    mine = json.loads(eventdesk(home, server.url, "my", "--json", token=token).stdout)

    assert [(c["session"], c["action"]) for c in mine["pending"]] == [("opening-plenary", "add")]
    cache = Cache.open(path)
    assert cache.meta()["schema"] == str(SCHEMA_VERSION) and cache.meetings() == []
    cache.close()


def test_meetings_with_no_cache_and_no_network_exits_3(tmp_path):
    nowhere = f"http://127.0.0.1:{server_env(tmp_path)['PORT']}"

    result = eventdesk(tmp_path / "home", nowhere, "meetings", expect=3)

    assert "connect once and run `eventdesk sync`" in result.stderr
