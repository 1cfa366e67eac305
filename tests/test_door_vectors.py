"""The door verdict vectors (tests/vectors/door_verdicts.json), judged by the CLI door and the server.

One judge, three places: the same file is judged here by the CLI door (its bundle and journal,
no network) and by the server (a real app on a real SQLite file holding the bundle's state),
and by the browser door in its own suite. A vector that fails names the case and the judge.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from client_cli.door import Bundle, DoorSession, Journal
from server import auth, create_app, db as database
from server.door_bundle import door_bundle
from server.ticketcode import RESULTS
from tests.conftest import API, EVENT, bearer
from tests.vectors import make_door_verdicts
from tests.vectors.door_state import load_bundle_state

VECTORS = json.loads(make_door_verdicts.PATH.read_text(encoding="utf-8"))
CASES = [pytest.param(vector, id=vector["name"]) for vector in VECTORS["cases"]]
THIS_DOOR = "Vectors: this door"


def sign(serial: str) -> str:
    """A ticket of the vectors' event signed with the file's own key (its seed)."""
    return make_door_verdicts.sign(serial, VECTORS["event"], bytes.fromhex(VECTORS["key"]["seed_hex"]))


def verdict(result: str, serial: str | None, holder: dict | None) -> dict:
    """A judge's answer in the shape of a vector's `expect`."""
    return {"result": result, "serial": serial, "name": (holder or {}).get("name")}


def test_door_vectors_file_is_what_its_script_makes():
    expected = make_door_verdicts.render(make_door_verdicts.document())

    committed = make_door_verdicts.PATH.read_text(encoding="utf-8")

    assert committed == expected, "door_verdicts.json is stale: run tests/vectors/make_door_verdicts.py"


def test_door_vectors_cover_every_result_word_with_unique_names():
    names = [vector["name"] for vector in VECTORS["cases"]]

    words = {vector["expect"]["result"] for vector in VECTORS["cases"]}

    assert VECTORS["format"] == "eventdesk-door-verdicts/1"
    assert words == set(RESULTS)
    assert len(names) == len(set(names))
    assert all(vector["scan"]["type"] in ("entry", "exit") for vector in VECTORS["cases"])


# --- the CLI door -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle_file(tmp_path_factory) -> Path:
    """The file's bundle as `eventdesk door sync` stores it."""
    bundle = Bundle.create(tmp_path_factory.mktemp("door") / "bundle.sqlite3")
    bundle.replace(VECTORS["bundle"], etag=None, since=None, token=None)
    bundle.close()
    return bundle.path


def journal_record(number: int, scan: dict) -> dict:
    """An accepted scan as this door's journal holds it."""
    return {"record": "scan", "scan_id": f"accepted-{number}", "event": VECTORS["event"], "list": scan["list"],
            "type": scan["type"], "payload": sign(scan["serial"]), "scanned_at": scan["scanned_at"], "result": "ok",
            "serial": scan["serial"]}  # fmt: skip


@pytest.mark.parametrize("vector", CASES)
def test_cli_door_gives_the_vector_verdict(vector, bundle_file, tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append([journal_record(number, scan) for number, scan in enumerate(vector["accepted"], 1)])
    session = DoorSession(Bundle.open(bundle_file), journal, vector["scan"]["list"], vector["scan"]["type"])

    try:
        judged = session.judge(vector["scan"]["payload"], datetime.fromisoformat(vector["scan"]["at"]))
    finally:
        session.bundle.close()

    assert verdict(judged.result, judged.serial, judged.holder) == vector["expect"]


# --- the server -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_state(tmp_path_factory, loaded_template) -> tuple[Path, str]:
    """The built-in conference holding the bundle's state, once; each case judges on its own copy.

    Also a door device, "this door", whose token replays each case's `accepted` scans.
    """
    path = tmp_path_factory.mktemp("vectors") / "eventdesk.sqlite3"
    shutil.copy(loaded_template, path)
    db = database.connect(path)
    load_bundle_state(db, VECTORS["bundle"], sign)
    token = auth.create_token(db, "door", event_slug=EVENT, label=THIS_DOOR)
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path, token


@pytest.fixture
def server(server_state, tmp_path):
    """A real app on a copy of the vectors' state, and this door's request headers."""
    template, token = server_state
    shutil.copy(template, tmp_path / "eventdesk.sqlite3")
    return create_app({"TESTING": True, "DATA_DIR": str(tmp_path)}).test_client(), bearer(token)


def test_server_answers_the_vectors_bundle_for_their_state(server):
    client, door = server

    answered = client.get(f"{API}/door-bundle", headers=door).get_json()

    assert answered == VECTORS["bundle"]


@pytest.mark.parametrize("vector", CASES)
def test_server_gives_the_vector_verdict(vector, server, monkeypatch):
    client, door = server
    # This door's earlier scans, redeemed online at their door time (the server's clock set to it),
    # as the door would have sent them: they must all be accepted, or the vector is wrong.
    for number, earlier in enumerate(vector["accepted"], 1):
        monkeypatch.setenv("EVENTDESK_NOW", earlier["scanned_at"])
        body = {"payload": sign(earlier["serial"]), "list": earlier["list"], "type": earlier["type"],
                "scan_id": f"accepted-{number}"}  # fmt: skip
        assert client.post(f"{API}/checkins", json=body, headers=door).get_json()["result"] == "ok", earlier
    monkeypatch.setenv("EVENTDESK_NOW", vector["scan"]["at"])
    scan = vector["scan"]
    body = {"payload": scan["payload"], "list": scan["list"], "type": scan["type"], "scan_id": "the-scan"}

    response = client.post(f"{API}/checkins", json=body, headers=door)

    answer = response.get_json()
    if vector.get("server", True):
        assert verdict(answer["result"], answer["serial"], answer["attendee"]) == vector["expect"]
    else:  # a request the server refuses before judging: no scan, no verdict
        assert (response.status_code, answer["error"]) == (400, "bad_parameter")


def test_server_state_is_the_bundle_made_by_the_domain(server_state):
    """The state is built by the domain functions the admin API calls (a sanity check of the loader)."""
    db = database.connect(server_state[0])
    try:
        bundle = door_bundle(db, EVENT)
    finally:
        db.close()

    assert bundle == VECTORS["bundle"]
