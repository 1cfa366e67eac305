"""`eventdesk door`: a door that judges tickets with no network and uploads with nothing lost.

A real server (gunicorn on 127.0.0.1) serves the built-in conference with its clock at 09:00 on
20 October 2014 (EVENTDESK_NOW), and the CLI runs with the same EVENTDESK_NOW and its own
EVENTDESK_HOME in tmp. "Offline" is the server stopped, or an address where nothing listens.
Door A is the device under test; Door B is another door scanning online.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
from itertools import count
from pathlib import Path
from typing import NamedTuple

import click
import httpx
import pytest
from click.testing import CliRunner, Result

from client_cli import door
from client_cli.api import Client
from client_cli.cli import cli
from client_cli.door_cli import door_group
from tests.conftest import (
    BIN,
    OTHER_EVENT,
    ROOT,
    flip_signature_character,
    gunicorn_server,
    run_script,
    server_env,
)
from tests.people import ANNA, BRAM, CARLA, DARIO, EVA

LOADED = "2014-10-01T12:00:00+02:00"
NOW = "2014-10-20T09:00:00+02:00"
DAY1 = "Day 1 entrance"
if "door" not in cli.commands:  # cli.py registers it; this keeps these tests independent of that line
    cli.add_command(door_group)
# The installed entry point when it has the door commands, else the same group run by this Python.
EVENTDESK = (
    [str(BIN / "eventdesk")]
    if "door_group" in (ROOT / "client_cli" / "cli.py").read_text(encoding="utf-8")
    else [sys.executable, "-c", "from client_cli.cli import main, cli; from client_cli.door_cli import door_group; "
          "cli.add_command(door_group); main()"]
)  # fmt: skip
_unique = count(1)


class Holder(NamedTuple):
    """A registered attendee, with their personal token and ticket."""

    id: str
    name: str
    token: str
    payload: str
    serial: str


class Served(NamedTuple):
    base: str
    env: dict
    admin: str

    def api(self, method: str, path: str, token: str | None = None, **options) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.admin}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=10, **options)

    def device(self, name: str) -> str:
        """A new door device's token, made as the README says."""
        output = run_script("eventdesk-server", "create-device", "--event", "ecc2014", "--name", name, env=self.env)
        return output.strip().splitlines()[-1]

    def register(self, person: dict, event: str = "ecc2014") -> Holder:
        """Register `person` (with an email unique to this run) and fetch their ticket."""
        email = f"{next(_unique)}.{person['email']}"
        response = self.api("POST", f"/api/v1/events/{event}/attendees", json={**person, "email": email})
        assert response.status_code == 201, response.text
        document = response.json()
        ticket = self.api("GET", "/api/v1/me/ticket", token=document["token"]).json()
        return Holder(document["id"], person["name"], document["token"], ticket["payload"], ticket["serial"])

    def reissue(self, holder: Holder) -> Holder:
        response = self.api("POST", f"/api/v1/events/ecc2014/attendees/{holder.id}/ticket/reissue")
        assert response.status_code == 201, response.text
        ticket = response.json()
        return holder._replace(payload=ticket["payload"], serial=ticket["serial"])

    def scan_online(self, token: str, holder: Holder, scan_id: str, **extra) -> dict:
        body = {"payload": holder.payload, "list": "day1-entrance", "scan_id": scan_id, **extra}
        return self.api("POST", "/api/v1/events/ecc2014/checkins", token=token, json=body).json()

    def scans(self) -> list[dict]:
        """The server's audit log of scans, straight from its database."""
        connection = sqlite3.connect(Path(self.env["EVENTDESK_DATA_DIR"]) / "eventdesk.sqlite3")
        connection.row_factory = sqlite3.Row
        try:
            rows = connection.execute(
                "SELECT s.scan_id, s.result, s.conflict, s.scanned_at, s.source, s.serial, t.label AS device "
                "FROM scans s LEFT JOIN api_tokens t ON t.id = s.device_id ORDER BY s.pk"
            )
            return [dict(row) for row in rows]
        finally:
            connection.close()


def prepare_server(data_dir: Path) -> tuple[dict, str]:
    """`make run`'s steps with the conference loaded on 1 October; plus another event and an admin token."""
    env = server_env(data_dir, EVENTDESK_NOW=LOADED)
    run_script("eventdesk-server", "init-db", env=env)
    run_script("eventdesk-server", "load-programme", "--builtin", env=env)
    other = data_dir / "other.json"
    other.write_text(json.dumps(OTHER_EVENT), encoding="utf-8")
    run_script("eventdesk-server", "load-programme", str(other), env=env)
    admin = run_script("eventdesk-server", "create-token", "--role", "admin", env=env).strip().splitlines()[-1]
    return {**env, "EVENTDESK_NOW": NOW}, admin


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Served:
    env, admin = prepare_server(tmp_path_factory.mktemp("door-server"))
    with gunicorn_server(env) as base:
        yield Served(base, env, admin)


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


def dead_address() -> str:
    """A 127.0.0.1 URL where nothing listens: every request fails at once, as with no network."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def door_env(home: Path, server: str, token: str, now: str = NOW) -> dict:
    return {
        "EVENTDESK_HOME": str(home),
        "EVENTDESK_SERVER": server,
        "EVENTDESK_TOKEN": token,
        "EVENTDESK_EVENT": "ecc2014",
        "EVENTDESK_NOW": now,
    }


def eventdesk(env: dict, *args: str, input: str | None = None) -> Result:
    """Run `eventdesk ARGS` in-process (click's runner) with `env`."""
    return CliRunner().invoke(cli, list(args), input=input, env=env, catch_exceptions=False)


def scan_json(env: dict, *payloads: str, list_name: str = DAY1, extra: tuple = ()) -> list[dict]:
    result = eventdesk(env, "door", "scan", "--list", list_name, "--json", *extra, input="\n".join(payloads) + "\n")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def status(env: dict) -> dict:
    result = eventdesk(env, "door", "status", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def journal_lines(home: Path) -> list[dict]:
    text = (home / "cache" / "door" / "journal.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def files_under(home: Path) -> list[Path]:
    return [path for path in home.rglob("*") if path.is_file()]


# --- help ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], *[[name] for name in sorted(door_group.commands)]])
def test_door_command_help_has_an_example(command):
    result = CliRunner().invoke(cli, ["door", *command, "--help"])

    assert result.exit_code == 0
    assert "Example" in result.output


# --- offline verdicts ---------------------------------------------------------------------------


def test_door_scan_offline_judges_every_kind_of_code(tmp_path, home):
    env, admin = prepare_server(tmp_path / "server")
    with gunicorn_server(env) as base:
        server = Served(base, env, admin)
        anna, bram, carla = server.register(ANNA), server.register(BRAM), server.register(CARLA)
        new_carla = server.reissue(carla)  # before the sync: the old code is revoked in the bundle
        stranger = server.register(DARIO, event=OTHER_EVENT["event"]["slug"])
        cli_env = door_env(home, base, server.device("Door A"))
        synced = eventdesk(cli_env, "door", "sync")
        late = server.register(EVA)  # registered after the sync: not in this door's roster
    # the server is stopped now

    verdicts = scan_json(
        cli_env,
        anna.payload,
        anna.payload,
        flip_signature_character(bram.payload),
        carla.payload,
        stranger.payload,
        "HELLO WORLD",
        late.payload,
        "  " + new_carla.payload.lower() + "  ",
        bram.payload,
    )
    text = eventdesk(cli_env, "door", "scan", "--list", DAY1, input=anna.payload + "\n")
    offline_sync = eventdesk(cli_env, "door", "sync")
    offline_upload = eventdesk(cli_env, "door", "upload")

    assert synced.exit_code == 0, synced.output
    assert [(v["result"], (v["attendee"] or {}).get("name"), v["serial"]) for v in verdicts] == [
        ("ok", "Anna Berg", anna.serial),
        ("already_checked_in", "Anna Berg", anna.serial),
        ("invalid_signature", None, None),
        ("revoked", None, carla.serial),
        ("wrong_event", None, None),
        ("malformed", None, None),
        ("unknown_ticket", None, late.serial),
        ("ok", "Carla Dias", new_carla.serial),
        ("ok", "Bram de Wit", bram.serial),
    ]
    assert verdicts[0]["attendee"] == {
        "name": "Anna Berg", "organisation": "Flanders Photonics Cluster", "category": "cluster-manager",
    }  # fmt: skip
    assert verdicts[1]["inside_since"] == NOW and verdicts[1]["error"] == "already_checked_in"
    assert {v["scanned_at"] for v in verdicts} == {NOW}
    assert len({v["scan_id"] for v in verdicts}) == len(verdicts)
    assert text.exit_code == 0
    assert text.stdout == "✘ ALREADY CHECKED IN at 09:00  Anna Berg — Flanders Photonics Cluster (cluster manager)\n"
    assert [line["result"] for line in journal_lines(home)] == [v["result"] for v in verdicts] + ["already_checked_in"]
    assert offline_sync.exit_code == 0 and "offline; keeping the door bundle" in offline_sync.stderr
    assert "10 scans stay queued" in offline_sync.stderr
    assert offline_upload.exit_code == 3 and "10 scans stay queued" in offline_upload.stderr
    assert status(cli_env)["journal"]["queued"] == 10


def test_door_scan_headlines_name_the_holder_and_the_reason(served, home):
    token = served.device("Door A")
    anna, carla = served.register(ANNA), served.register(CARLA)
    old_carla = carla.payload
    served.reissue(carla)
    env = door_env(home, served.base, token)
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()

    result = eventdesk(env, "door", "scan", "--list", DAY1, input=f"{anna.payload}\n{old_carla}\nnonsense\n")

    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "✔ OK  Anna Berg — Flanders Photonics Cluster (cluster manager)",
        "✘ REVOKED  re-issued or cancelled: send to the desk",
        "✘ MALFORMED  not a readable Eventdesk ticket",
    ]
    assert "3 scans: 1 ok, 1 revoked, 1 malformed; 3 queued" in result.stderr


def test_door_scan_respects_the_lists_window_audience_and_exits(served, home):
    anna = served.register(ANNA)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()

    matchmaking = scan_json(env, anna.payload, list_name="Matchmaking")
    day2 = scan_json(env, anna.payload, list_name="day2-entrance")
    day1 = [
        *scan_json(env, anna.payload),
        *scan_json(env, anna.payload, extra=("--exit",)),
        *scan_json(env, anna.payload),
        *scan_json(env, anna.payload),
    ]
    unknown = eventdesk(env, "door", "scan", "--list", "Side door", input=anna.payload + "\n")
    day2_text = eventdesk(env, "door", "scan", "--list", "Day 2 entrance", input=anna.payload + "\n")
    matchmaking_text = eventdesk(env, "door", "scan", "--list", "matchmaking", input=anna.payload + "\n")

    assert [v["result"] for v in matchmaking + day2] == ["not_on_list", "not_on_list"]
    assert [(v["result"], v["type"], v["list"]) for v in day1] == [
        ("ok", "entry", "day1-entrance"),
        ("ok", "exit", "day1-entrance"),
        ("ok", "entry", "day1-entrance"),
        ("already_checked_in", "entry", "day1-entrance"),
    ]
    assert day2_text.stdout == (
        "✘ NOT ON LIST  Anna Berg — Flanders Photonics Cluster (cluster manager) — "
        "not admitted through Day 2 entrance: opens 21 Oct 07:30\n"
    )
    assert matchmaking_text.stdout.endswith("— not admitted through Matchmaking: not on this list\n")
    assert unknown.exit_code == 1
    assert "no check-in list 'Side door'" in unknown.stderr and "'Day 1 entrance' (day1-entrance)" in unknown.stderr


def test_door_scan_knows_who_is_inside_from_the_bundle_and_its_deltas(served, home):
    anna, bram, carla = served.register(ANNA), served.register(BRAM), served.register(CARLA)
    door_b = served.device("Door B")
    served.scan_online(door_b, bram, "b-1", scanned_at="2014-10-20T08:05:00+02:00")
    env = door_env(home, served.base, served.device("Door A"))
    first = eventdesk(env, "door", "sync", "--json")
    served.scan_online(door_b, anna, "b-2")
    served.reissue(carla)
    delta = eventdesk(env, "door", "sync", "--json")
    empty = eventdesk(env, "door", "sync", "--json")
    unchanged = eventdesk(env, "door", "sync", "--json")
    new_bram = served.reissue(bram)
    refetched = eventdesk(env, "door", "sync", "--json")
    env["EVENTDESK_SERVER"] = dead_address()

    verdicts = scan_json(env, anna.payload, carla.payload, bram.payload, new_bram.payload)

    assert json.loads(first.stdout)["fetch"] == "full"
    assert (json.loads(delta.stdout)["fetch"], json.loads(delta.stdout)["received"]) == (
        "delta", {"roster": 1, "revoked": 1, "presence": 1},
    )  # fmt: skip
    assert (json.loads(empty.stdout)["fetch"], json.loads(empty.stdout)["received"]) == (
        "delta", {"roster": 0, "revoked": 0, "presence": 0},
    )  # fmt: skip
    assert json.loads(unchanged.stdout)["fetch"] == "not_modified"
    assert json.loads(refetched.stdout)["fetch"] == "full"  # a re-issued ticket of someone inside
    assert [(v["result"], v.get("inside_since")) for v in verdicts] == [
        ("already_checked_in", NOW),
        ("revoked", None),
        ("revoked", None),
        ("already_checked_in", "2014-10-20T08:05:00+02:00"),  # Bram is inside since 08:05, new ticket or not
    ]


def test_a_running_door_sees_a_sync_made_meanwhile(served, home, monkeypatch):
    anna, bram = served.register(ANNA), served.register(BRAM)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    session = door.DoorSession(door.Bundle.open(), door.Journal(), DAY1)
    served.scan_online(served.device("Door B"), bram, "b-1")
    before = session.judge(anna.payload).result, session.judge(bram.payload).result
    served.reissue(anna)
    merged = eventdesk(env, "door", "sync", "--json")  # merged in place by another process
    after_delta = session.judge(anna.payload).result, session.judge(bram.payload).result
    served.reissue(bram)
    replaced = eventdesk(env, "door", "sync", "--json")  # the file replaced by another process
    after_full = session.judge(bram.payload).result

    session.bundle.close()
    assert before == ("ok", "ok")
    assert json.loads(merged.stdout)["fetch"] == "delta" and after_delta == ("revoked", "already_checked_in")
    assert json.loads(replaced.stdout)["fetch"] == "full" and after_full == "revoked"


def test_door_scan_without_a_bundle_is_a_user_error(home):
    env = door_env(home, dead_address(), "edd_whatever")

    result = eventdesk(env, "door", "scan", "--list", DAY1, input="ED1:ECC2014:X\n")

    assert result.exit_code == 1
    assert "no door bundle on this device: run `eventdesk door sync`" in result.stderr


def test_door_sync_offline_with_no_bundle_exits_3(home):
    result = eventdesk(door_env(home, dead_address(), "edd_whatever"), "door", "sync")

    assert result.exit_code == 3
    assert "cannot reach" in result.stderr and "no door bundle on this device yet" in result.stderr


def test_door_sync_needs_a_token(home):
    env = {**door_env(home, dead_address(), ""), "EVENTDESK_TOKEN": ""}

    result = eventdesk(env, "door", "sync")

    assert result.exit_code == 1 and "eventdesk-server create-device" in result.stderr


def test_door_bundle_and_journal_are_private_files(served, home):
    anna = served.register(ANNA)
    env = door_env(home, served.base, served.device("Door A"))

    eventdesk(env, "door", "sync")
    scan_json(env, anna.payload)

    folder = home / "cache" / "door"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()} == {
        "bundle.sqlite3": 0o600,
        "journal.jsonl": 0o600,
        "journal.jsonl.lock": 0o600,
    }
    assert "Anna Berg" not in (folder / "journal.jsonl").read_text(encoding="utf-8")


# --- the journal --------------------------------------------------------------------------------


def test_journal_keeps_every_scan_of_a_killed_process(served, home):
    anna, bram = served.register(ANNA), served.register(BRAM)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    lines = [anna.payload, anna.payload, "garbage", bram.payload, flip_signature_character(anna.payload)]
    shown = []
    with subprocess.Popen(
        [*EVENTDESK, "door", "scan", "--list", DAY1, "--json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, **env}, cwd=ROOT,
    ) as process:  # fmt: skip
        try:
            for line in lines:
                process.stdin.write(line + "\n")
                process.stdin.flush()
                ready, _, _ = select.select([process.stdout], [], [], 30)
                assert ready, "no verdict within 30 s"
                shown.append(json.loads(process.stdout.readline()))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)

    journal = journal_lines(home)
    assert process.returncode == -signal.SIGKILL
    assert [(r["record"], r["scan_id"], r["result"]) for r in journal] == [
        ("scan", v["scan_id"], v["result"]) for v in shown
    ]
    assert [r["payload"] for r in journal] == lines
    assert [v["result"] for v in shown] == ["ok", "already_checked_in", "malformed", "ok", "invalid_signature"]
    assert status(env)["journal"]["queued"] == 5


def test_journal_cut_short_by_a_crash_keeps_working(served, home):
    anna, bram = served.register(ANNA), served.register(BRAM)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    scan_json(env, anna.payload)
    path = home / "cache" / "door" / "journal.jsonl"
    with path.open("a", encoding="utf-8") as journal:
        journal.write('{"record":"scan","scan_id":"torn","payl')  # the power went mid-write

    after = scan_json(env, bram.payload, anna.payload)

    assert [v["result"] for v in after] == ["ok", "already_checked_in"]
    assert status(env)["journal"] | {"path": None} == {
        "path": None, "scans": 3, "queued": 3, "uploaded": 0, "conflicts": 0, "damaged_lines": 1,
        "door_results": {"ok": 2, "already_checked_in": 1}, "server_results": {},
    }  # fmt: skip


# --- upload -------------------------------------------------------------------------------------


def test_upload_flags_the_offline_scan_after_an_earlier_entry_at_another_door(served, home):
    anna = served.register(ANNA)
    door_a, door_b = served.device("Door A"), served.device("Door B")
    env = door_env(home, served.base, door_a)
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    offline = scan_json(env, anna.payload)  # 09:00 at Door A, no network
    served.scan_online(door_b, anna, "b-early", scanned_at="2014-10-20T08:55:00+02:00")
    env["EVENTDESK_SERVER"] = served.base

    uploaded = eventdesk(env, "door", "upload", "--json")
    again = eventdesk(env, "door", "upload")

    report = json.loads(uploaded.stdout)
    assert offline[0]["result"] == "ok"
    assert uploaded.exit_code == 0
    assert report["uploaded"] == 1 and report["results"] == {"already_checked_in": 1} and report["queued"] == 0
    assert report["conflicts"] == [
        {
            "scan_id": offline[0]["scan_id"],
            "list": "day1-entrance",
            "type": "entry",
            "scanned_at": NOW,
            "door_result": "ok",
            "server_result": "already_checked_in",
            "conflict": True,
            "first_entry": {"at": "2014-10-20T08:55:00+02:00", "device": "Door B"},
            "attendee": {**report["conflicts"][0]["attendee"], "name": "Anna Berg"},
        }
    ]
    assert sorted((s["device"], s["result"], s["conflict"]) for s in served.scans() if s["serial"] == anna.serial) == [
        ("Door A", "already_checked_in", 1),
        ("Door B", "ok", 0),
    ]
    assert again.exit_code == 0 and "Nothing to upload" in again.stdout
    assert status(env)["journal"]["conflicts"] == 1


def test_upload_keeps_the_earliest_entry_and_flags_the_later_one_at_another_door(served, home):
    bram = served.register(BRAM)
    door_a, door_b = served.device("Door A"), served.device("Door B")
    env = door_env(home, served.base, door_a, now="2014-10-20T08:50:00+02:00")
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    scan_json(env, bram.payload)  # 08:50 at Door A, no network
    later = served.scan_online(door_b, bram, "b-late")  # 09:00 at Door B, online
    env["EVENTDESK_SERVER"] = served.base

    uploaded = eventdesk(env, "door", "upload")

    assert later["result"] == "ok"
    assert uploaded.exit_code == 0 and uploaded.stdout == "Uploaded 1 scans (1 ok); 0 conflicts\n"
    assert sorted((s["device"], s["result"], s["conflict"], s["scanned_at"]) for s in served.scans()
                  if s["serial"] == bram.serial) == [
        ("Door A", "ok", 0, "2014-10-20T06:50:00Z"),
        ("Door B", "ok", 1, "2014-10-20T07:00:00Z"),  # kept, and flagged: Bram was inside since 08:50
    ]  # fmt: skip


def test_retrying_an_upload_whose_answer_was_lost_changes_nothing(served, home):
    anna, bram = served.register(ANNA), served.register(BRAM)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    scan_json(env, anna.payload, anna.payload, bram.payload, "garbage")
    env["EVENTDESK_SERVER"] = served.base
    first = json.loads(eventdesk(env, "door", "upload", "--json").stdout)
    server_before = served.scans()
    path = home / "cache" / "door" / "journal.jsonl"
    kept = [line for line in path.read_text().splitlines() if '"record":"upload"' not in line]
    path.write_text("\n".join(kept) + "\n")  # as if the reply had been lost before it was recorded

    second = json.loads(eventdesk(env, "door", "upload", "--json").stdout)

    assert first["results"] == {"ok": 2, "already_checked_in": 1, "malformed": 1}
    assert second == first
    assert served.scans() == server_before
    assert status(env)["journal"]["queued"] == 0


def test_upload_sends_scans_in_chunks(served, home, monkeypatch):
    people = [served.register(person) for person in (ANNA, BRAM, CARLA, DARIO, EVA)]
    env = door_env(home, served.base, served.device("Door C"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    scan_json(env, *(holder.payload for holder in people))
    for name, value in {**env, "EVENTDESK_SERVER": served.base}.items():
        monkeypatch.setenv(name, value)
    client = Client(served.base, env["EVENTDESK_TOKEN"])

    try:
        report = door.upload_pending(client, door.Journal(), chunk_size=2)
    finally:
        client.close()

    assert (report.uploaded, dict(report.results), report.remaining) == (5, {"ok": 5}, 0)
    assert sorted(s["serial"] for s in served.scans() if s["device"] == "Door C") == sorted(p.serial for p in people)
    assert door.Journal().read().pending() == []


def test_door_scan_uploads_in_the_background_when_the_server_answers(served, home):
    anna, bram = served.register(ANNA), served.register(BRAM)
    env = door_env(home, served.base, served.device("Door Z"))
    eventdesk(env, "door", "sync")

    result = eventdesk(env, "door", "scan", "--list", DAY1, input=f"{anna.payload}\n{bram.payload}\n")

    assert result.exit_code == 0
    assert "2 scans: 2 ok; 0 queued; 2 uploaded" in result.stderr
    assert sorted((s["device"], s["source"], s["result"]) for s in served.scans() if s["device"] == "Door Z") == [
        ("Door Z", "offline", "ok"),
        ("Door Z", "offline", "ok"),
    ]
    assert status(env)["journal"]["server_results"] == {"ok": 2}


def test_door_sync_uploads_queued_scans_first(served, home):
    anna = served.register(ANNA)
    env = door_env(home, served.base, served.device("Door Y"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    scan_json(env, anna.payload)
    env["EVENTDESK_SERVER"] = served.base

    result = eventdesk(env, "door", "sync", "--json")

    report = json.loads(result.stdout)
    assert (report["uploaded"], report["upload_results"], report["journal"]["queued"]) == (1, {"ok": 1}, 0)
    assert report["bundle"]["inside"] >= 1  # the sync after the upload sees Anna inside


# --- pictures -----------------------------------------------------------------------------------


def test_door_scan_image_decodes_the_ticket_png(served, home, tmp_path):
    anna = served.register(ANNA)
    picture = tmp_path / "ticket.png"
    picture.write_bytes(served.api("GET", "/api/v1/me/ticket.png", token=anna.token).content)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()

    result = eventdesk(env, "door", "scan", "--list", DAY1, "--image", str(picture))

    assert result.exit_code == 0
    assert result.stdout == "✔ OK  Anna Berg — Flanders Photonics Cluster (cluster manager)\n"
    assert journal_lines(home)[0]["payload"] == anna.payload


def test_door_scan_image_without_a_code_or_without_the_decoder(served, home, tmp_path, monkeypatch):
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")

    no_code = eventdesk(env, "door", "scan", "--list", DAY1, "--image", str(blank))
    monkeypatch.setitem(sys.modules, "zxingcpp", None)  # as if the door-image extra were not installed
    no_decoder = eventdesk(env, "door", "scan", "--list", DAY1, "--image", str(blank))

    assert (no_code.exit_code, no_code.stderr) == (1, f"eventdesk: no QR code found in {blank}\n")
    assert no_decoder.exit_code == 1
    assert "pip install 'eventdesk[door-image]'" in no_decoder.stderr


# --- revoked devices, wipe ----------------------------------------------------------------------


def test_revoked_door_token_wipes_personal_data_and_keeps_queued_scans(served, home):
    anna, bram = served.register(ANNA), served.register(BRAM)
    token = served.device("Door R")
    env = door_env(home, served.base, token)
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    verdicts = scan_json(env, anna.payload, bram.payload)
    run_script("eventdesk-server", "revoke-token", token, env=served.env)
    env["EVENTDESK_SERVER"] = served.base

    result = eventdesk(env, "door", "upload")

    assert result.exit_code == 4
    assert "this door's token was refused (revoked): the door bundle (names) was deleted" in result.stderr
    assert "2 scans not yet uploaded were kept" in result.stderr
    assert not (home / "cache" / "door" / "bundle.sqlite3").exists()
    assert [(r["scan_id"], r["payload"]) for r in journal_lines(home)] == [
        (v["scan_id"], p) for v, p in zip(verdicts, [anna.payload, bram.payload], strict=True)
    ]
    for path in files_under(home):
        text = path.read_bytes()
        assert b"Anna" not in text and b"Bram" not in text, path
    assert status(env)["bundle"] is None and status(env)["journal"]["queued"] == 2
    assert eventdesk(env, "door", "scan", "--list", DAY1, input=anna.payload + "\n").exit_code == 1


def test_revoked_door_token_found_while_scanning_stops_the_door(served, home):
    anna = served.register(ANNA)
    token = served.device("Door S")
    env = door_env(home, served.base, token)
    eventdesk(env, "door", "sync")
    run_script("eventdesk-server", "revoke-token", token, env=served.env)

    result = eventdesk(env, "door", "scan", "--list", DAY1, input=anna.payload + "\n")

    assert result.exit_code == 4
    assert result.stdout.startswith("✔ OK  Anna Berg")
    assert "the door bundle (names) was deleted" in result.stderr
    assert not (home / "cache" / "door" / "bundle.sqlite3").exists()
    assert status(env)["journal"]["queued"] == 1


def test_refused_unknown_token_wipes_nothing(served, home):
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_TOKEN"] = "edd_not-a-real-token"

    result = eventdesk(env, "door", "sync")

    assert result.exit_code == 4
    assert "not the token this door synced with, so nothing was wiped" in result.stderr
    assert (home / "cache" / "door" / "bundle.sqlite3").exists()


def test_door_wipe_refuses_while_scans_are_queued_unless_forced(served, home):
    anna = served.register(ANNA)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    scan_json(env, anna.payload)

    refused = eventdesk(env, "door", "wipe")
    forced = eventdesk(env, "door", "wipe", "--force")

    assert refused.exit_code == 1 and "1 scans are not uploaded yet" in refused.stderr
    assert forced.exit_code == 0
    assert forced.stdout == "Deleted the door bundle and the journal (1 scans).\n"
    assert "1 of them had never been uploaded" in forced.stderr
    assert files_under(home / "cache" / "door") == []


def test_door_wipe_after_upload(served, home):
    anna = served.register(ANNA)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    scan_json(env, anna.payload)  # uploaded in the background

    wiped = eventdesk(env, "door", "wipe")

    assert wiped.exit_code == 0 and wiped.stderr == ""
    assert status(env)["bundle"] is None and status(env)["journal"]["scans"] == 0


def test_door_status_text(served, home):
    anna = served.register(ANNA)
    env = door_env(home, served.base, served.device("Door A"))
    eventdesk(env, "door", "sync")
    env["EVENTDESK_SERVER"] = dead_address()
    scan_json(env, anna.payload, anna.payload)

    result = eventdesk(env, "door", "status")

    lines = result.stdout.splitlines()
    assert result.exit_code == 0
    assert lines[0].startswith("Bundle:  ecc2014, checked ") and "cursor " in lines[0]
    assert "  Day 1 entrance (day1-entrance): 2014-10-20 08:00–21:00, everyone" in result.stdout
    assert "Journal: 2 scans, 2 queued, 0 uploaded, 0 conflicts" in result.stdout
    assert "at the door: 1 ok, 1 already_checked_in" in result.stdout


# --- attendee-supplied text -----------------------------------------------------------------------

FAKE_ADMISSION = "\x1b[2K\r\x1b[32m✔ OK\x1b]0;door\x07 \u202eAlice\x9b1m"


def rename_in_database(served: Served, holder: Holder, name: str) -> None:
    """Store `name` as it is, bypassing the API's input checks: the door must defend itself."""
    connection = sqlite3.connect(Path(served.env["EVENTDESK_DATA_DIR"]) / "eventdesk.sqlite3")
    try:
        with connection:
            connection.execute("UPDATE attendees SET name = ? WHERE id = ?", (name, holder.id))
    finally:
        connection.close()


def test_a_name_with_terminal_escapes_cannot_make_a_refusal_look_accepted(tmp_path, home):
    env, admin = prepare_server(tmp_path / "server")
    with gunicorn_server(env) as base:
        server = Served(base, env, admin)
        anna = server.register(ANNA)
        rename_in_database(server, anna, FAKE_ADMISSION)
        cli_env = door_env(home, base, server.device("Door A"))
        eventdesk(cli_env, "door", "sync")
    cli_env["EVENTDESK_SERVER"] = dead_address()

    piped = eventdesk(cli_env, "door", "scan", "--list", "Matchmaking", input=anna.payload + "\n")
    terminal = CliRunner().invoke(
        cli, ["door", "scan", "--list", "Matchmaking"], input=anna.payload + "\n", env=cli_env, color=True
    )
    as_json = scan_json(cli_env, anna.payload, list_name="Matchmaking")

    refusal = (
        "✘ NOT ON LIST  ✔ OK Alice — Flanders Photonics Cluster (cluster manager) — "
        "not admitted through Matchmaking: not on this list"
    )
    assert piped.exit_code == 0 and terminal.exit_code == 0
    assert piped.stdout == refusal + "\n"
    assert terminal.stdout == click.style(refusal, fg="red", bold=True) + "\n"  # Eventdesk's colours only
    assert as_json[0]["result"] == "not_on_list"
    assert as_json[0]["attendee"]["name"] == FAKE_ADMISSION  # data kept whole for scripts, escaped as JSON
