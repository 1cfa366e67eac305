"""Backups: `backup` of the 100,000-attendee database, and Litestream's lag under the redeem load.

Run by `make bench` (or alone: `.venv/bin/python bench/backup_bench.py`). It writes its own
section of bench/RESULTS.md (bench/sections.py) and leaves the rest as it is.

  * `backup` time: the built-in conference with 100,000 attendees imported
    (`generate-attendees --count 100000`, `import-attendees`), copied by
    server.backups.backup (SQLite's online backup, integrity_check of the copy, fsync, rename)
    and, alternated with it, by shutil.copyfile of the same file: the bare limit, a byte copy
    that neither checks nor syncs. Ratio = copyfile time / backup time. The online-backup step
    alone and the whole `eventdesk-server backup` process are shown too.
  * Replication lag: the redeem load of bench/run.py (wrk, bench/redeem.lua, 1,000 attendees,
    16 connections) against `make run`'s command with EVENTDESK_REPLICA, Litestream replicating
    to a directory and running gunicorn. While it runs, the replica is restored
    (`litestream restore`) again and again; each time, the scans committed on the live
    database when the restore began but missing from the restored copy are the acknowledged
    writes not yet in the replica (a slight overcount: the up to 16 scans committed but not yet
    answered count too), and the lag in seconds is how long before that the live database
    held as many scans as the replica. The limit is Litestream's sync interval. The redeem rate
    under Litestream is set against the same load on plain gunicorn, in the same run.
Servers bind 127.0.0.1 only and are stopped on the way out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import run  # noqa: E402  (bench/run.py: servers, wrk, the redeem load)
from sections import write_section  # noqa: E402

from server import backups  # noqa: E402

ATTENDEES = 100_000
COPIES = 3  # backups and bare copies, alternated; medians reported
LOAD_SECONDS = 5  # each throughput run
LAG_SECONDS = 12  # the run during which the replica is sampled


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


# --- backup time ---------------------------------------------------------------------------------


def measure_backup(tmp: Path, template: Path) -> dict:
    data = tmp / "backup-100k"
    shutil.copytree(template, data)
    source = tmp / "attendees-100k.csv"
    run.eventdesk("generate-attendees", f"--count={ATTENDEES}", "-o", source, data_dir=tmp / "unused")
    started = time.monotonic()
    run.eventdesk("import-attendees", source, "--event", "ecc2014", data_dir=data)
    print(f"Backup: {ATTENDEES:,} attendees imported in {time.monotonic() - started:.0f} s", flush=True)
    database = data / "eventdesk.sqlite3"
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the whole database in the one file copyfile reads
        attendees = connection.execute("SELECT COUNT(*) FROM attendees").fetchone()[0]
    run.check(attendees == ATTENDEES, f"{attendees} attendees imported")
    timings: dict[str, list[float]] = {"copyfile": [], "online step": [], "backup": [], "command": []}
    for n in range(COPIES):
        started = time.perf_counter()
        shutil.copyfile(database, tmp / f"bare-{n}.sqlite3")
        timings["copyfile"].append(time.perf_counter() - started)
        started = time.perf_counter()
        with (
            contextlib.closing(sqlite3.connect(database)) as live,
            contextlib.closing(sqlite3.connect(tmp / f"step-{n}.sqlite3")) as copy,
        ):
            live.backup(copy)
        timings["online step"].append(time.perf_counter() - started)
        timings["backup"].append(backups.backup(database, tmp / f"backup-{n}.sqlite3").seconds)
        process = run.eventdesk("backup", tmp / f"command-{n}.sqlite3", data_dir=data)
        timings["command"].append(process.seconds)
        for name in ("bare", "step", "backup", "command"):
            (tmp / f"{name}-{n}.sqlite3").unlink()
        print("  " + ", ".join(f"{name} {values[-1]:.2f} s" for name, values in timings.items()), flush=True)
    return {"bytes": database.stat().st_size, "seconds": {name: median(v) for name, v in timings.items()}}


# --- replication lag -----------------------------------------------------------------------------


@contextlib.contextmanager
def replicated(tmp: Path, data: Path, replica: Path) -> Iterator[str]:
    """`make run`'s command with EVENTDESK_REPLICA: litestream replicate -exec gunicorn; its base URL."""
    port = run.free_port()
    env = run.clean_env(
        HOST="127.0.0.1", PORT=str(port), EVENTDESK_DATA_DIR=str(data), EVENTDESK_NOW=run.DOOR_NOW,
        EVENTDESK_REPLICA=str(replica),
    )  # fmt: skip
    config = subprocess.run(
        [str(run.BIN / "eventdesk-server"), "replica-config"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    serve = f"{run.BIN / 'gunicorn'} --config python:server.gunicorn_conf --control-socket {tmp / 'lag.ctl'} "
    serve += '"server:create_app()"'
    log_path = tmp / "litestream.log"
    with log_path.open("wb") as log:
        box = subprocess.Popen(
            [str(run.BIN / "litestream"), "replicate", "-config", config, "-exec", serve],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        run._wait_ready(base + run.PROGRAMME, box, log_path)
        deadline = time.monotonic() + 30
        while b"snapshot complete" not in log_path.read_bytes():
            run.check(time.monotonic() < deadline, f"no Litestream snapshot:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.05)
        yield base
    finally:
        box.send_signal(signal.SIGTERM)  # litestream passes it to gunicorn, and both stop
        try:
            box.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(box.pid, signal.SIGKILL)
            box.wait(timeout=10)


def redeem_load(base: str, auth: dict[str, str], payloads: Path, name: str, seconds: int) -> run.Load:
    text = run.run_wrk(
        base + run.CHECKINS, auth, seconds, run.REDEEM_CONNECTIONS, [run.REDEEM_SCRIPT, name, payloads, run.DOOR_LIST]
    )
    run.check("Socket errors" not in text, f"{name}: connection errors:\n{text}")
    return run.parse_load(text)


def live_counts(database: Path, stop: threading.Event, samples: list[tuple[float, int]]) -> None:
    """(time, scans committed) every 10 ms on the live database."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
        while not stop.is_set():
            count = connection.execute("SELECT COUNT(*) FROM scans").fetchone()[0]
            samples.append((time.monotonic(), count))
            time.sleep(0.01)


def replica_lags(tmp: Path, replica: Path, live: list[tuple[float, int]], stop: threading.Event) -> list[tuple]:
    """Restore the replica in a loop; (writes not yet in it, seconds behind, restore seconds) each time."""
    found = []
    for n in range(10_000):
        if stop.is_set():
            break
        if not live:
            time.sleep(0.05)
            continue
        began, committed = live[-1]
        target = tmp / f"lag-{n}.sqlite3"
        subprocess.run(
            [str(run.BIN / "litestream"), "restore", "-o", str(target), backups.replica_url(str(replica))],
            capture_output=True, check=True, timeout=60,
        )  # fmt: skip
        took = time.monotonic() - began
        with contextlib.closing(sqlite3.connect(target)) as connection:
            replicated = connection.execute("SELECT COUNT(*) FROM scans").fetchone()[0]
        for leftover in tmp.glob(f"lag-{n}.sqlite3*"):
            leftover.unlink()
        reached = next((at for at, count in live if count >= replicated), began)
        found.append((max(0, committed - replicated), max(0.0, began - reached), took))
        time.sleep(0.2)
    return found


def measure_lag(tmp: Path, template: Path) -> dict:
    small, tokens = tmp / "attendees-1k.csv", tmp / "attendees-1k.tok"
    run.eventdesk("generate-attendees", f"--count={run.REDEEM_ATTENDEES}", "-o", small, data_dir=tmp / "unused")
    plain, lagged = tmp / "lag-plain", tmp / "lag-replicated"
    shutil.copytree(template, plain)
    run.import_attendees(small, "ecc2014", plain, tokens)
    auth = {"Authorization": f"Bearer {run.create_device(plain)}"}
    shutil.copytree(plain, lagged)  # the same attendees, keys and door device, no scans yet
    payloads = tmp / "payloads.txt"
    print(f"Replication lag: redeem load, wrk -c{run.REDEEM_CONNECTIONS}", flush=True)
    replica = tmp / "replica"
    plain_env = {"EVENTDESK_DATA_DIR": str(plain), "EVENTDESK_NOW": run.DOOR_NOW}
    with contextlib.ExitStack() as servers:
        plain_base = servers.enter_context(run.serve("server:create_app()", tmp, "plain", **plain_env))
        base = servers.enter_context(replicated(tmp, lagged, replica))
        payloads.write_text("\n".join(run.ticket_payloads(plain_base, tokens)) + "\n", encoding="utf-8")
        redeem_load(plain_base, auth, payloads, "plain-warm", 2)
        redeem_load(base, auth, payloads, "replicated-warm", 2)
        # The limit before and after, the machine being shared and noisy.
        plain_loads = [
            run.show("plain gunicorn (the limit)", redeem_load(plain_base, auth, payloads, "plain-1", LOAD_SECONDS))
        ]
        replicated_load = run.show("under Litestream", redeem_load(base, auth, payloads, "replicated", LOAD_SECONDS))
        plain_loads.append(
            run.show("plain gunicorn (the limit)", redeem_load(plain_base, auth, payloads, "plain-2", LOAD_SECONDS))
        )
        plain_load = run.Load.mean(plain_loads)
        live: list[tuple[float, int]] = []
        stop = threading.Event()
        counter = threading.Thread(target=live_counts, args=(lagged / "eventdesk.sqlite3", stop, live))
        results: list[list] = [[]]
        sampler = threading.Thread(target=lambda: results.__setitem__(0, replica_lags(tmp, replica, live, stop)))
        counter.start()
        sampler.start()
        try:
            sampled_load = run.show(
                "under Litestream, replica sampled", redeem_load(base, auth, payloads, "sampled", LAG_SECONDS)
            )
        finally:
            stop.set()
            counter.join()
            sampler.join()
    lags = results[0][2:]  # the first restores overlap the start of the load
    run.check(len(lags) >= 5, f"only {len(lags)} replica samples")
    writes, seconds, restores = zip(*lags, strict=True)
    return {
        "plain": plain_load,
        "replicated": replicated_load,
        "sampled": sampled_load,
        "samples": len(lags),
        "writes": {"p50": percentile(writes, 50), "p99": percentile(writes, 99), "max": max(writes)},
        "seconds": {"p50": percentile(seconds, 50), "p99": percentile(seconds, 99), "max": max(seconds)},
        "restore_seconds": median(list(restores)),
    }


# --- report --------------------------------------------------------------------------------------


def markdown(backup: dict, lag: dict, litestream: str) -> str:
    s = backup["seconds"]
    interval = backups.SYNC_INTERVAL_SECONDS
    lines = [
        "## Backups",
        "",
        f"bench/backup_bench.py, litestream {litestream}, {run.machine()}.",
        "",
        f"### `backup` of the {ATTENDEES:,}-attendee database ({backup['bytes'] / 1e6:.1f} MB)",
        "",
        f"Median of {COPIES}, alternated. The limit is shutil.copyfile of the same file (no check, no fsync). "
        "Ratio = limit time / time.",
        "",
        "| copy | seconds | ratio |",
        "| --- | ---: | ---: |",
        f"| shutil.copyfile (the limit) | {s['copyfile']:.2f} | 1.00 |",
        f"| SQLite online backup step alone | {s['online step']:.2f} | {s['copyfile'] / s['online step']:.2f} |",
        f"| server.backups.backup (step + integrity_check + fsync + rename) | {s['backup']:.2f} | "
        f"{s['copyfile'] / s['backup']:.2f} |",
        f"| `eventdesk-server backup FILE`, whole process (start-up included) | {s['command']:.2f} | "
        f"{s['copyfile'] / s['command']:.2f} |",
        "",
        "Nearly all of `backup`'s time is the full integrity_check of the copy.",
        "",
        "### Replication lag under the redeem load",
        "",
        f"`make run` with EVENTDESK_REPLICA (a directory): Litestream, sync interval {interval:g} s, running gunicorn "
        f"(2 sync workers); wrk -c{run.REDEEM_CONNECTIONS} with bench/redeem.lua over {run.REDEEM_ATTENDEES:,} "
        f"tickets. During a {LAG_SECONDS} s run the replica was restored {lag['samples']} times (`litestream restore`, "
        f"median {lag['restore_seconds'] * 1000:.0f} ms each); writes not yet in the replica = scans committed on the "
        "live database when a restore began, missing from what it restored.",
        "",
        "| | p50 | p99 | max |",
        "| --- | ---: | ---: | ---: |",
        "| acknowledged writes not yet in the replica | "
        + " | ".join(f"{lag['writes'][k]:,.0f}" for k in ("p50", "p99", "max"))
        + " |",
        "| replica behind the live database, seconds | "
        + " | ".join(f"{lag['seconds'][k]:.2f}" for k in ("p50", "p99", "max"))
        + " |",
        f"| the same, as a ratio to the sync interval ({interval:g} s, the limit) | "
        + " | ".join(f"{lag['seconds'][k] / interval:.2f}" for k in ("p50", "p99", "max"))
        + " |",
        "",
        "| redeem `POST /checkins` | req/s | p99 ms | ratio |",
        "| --- | ---: | ---: | ---: |",
        f"| plain gunicorn (the limit, mean of a run before and one after) | {lag['plain'].rps:,.0f} | "
        f"{lag['plain'].p99_ms:.1f} | 1.00 |",
        f"| under Litestream | {lag['replicated'].rps:,.0f} | {lag['replicated'].p99_ms:.1f} | "
        f"{lag['replicated'].rps / lag['plain'].rps:.2f} |",
        f"| under Litestream, replica restored in a loop beside it | {lag['sampled'].rps:,.0f} | "
        f"{lag['sampled'].p99_ms:.1f} | {lag['sampled'].rps / lag['plain'].rps:.2f} |",
        "",
        "The machine is shared by several benchmarks and builds at once: the rates swing from run to run.",
        "",
        f"What a box that dies loses is what the replica lacks at that moment: at this load, p99 "
        f"{lag['writes']['p99']:,.0f} scans, {lag['seconds']['p99']:.2f} s of them "
        "(tests/test_backups.py kills such a box with SIGKILL and counts them).",
    ]
    return "\n".join(lines)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="backup-bench-"))
    try:
        template = tmp / "template"
        run.eventdesk("init-db", data_dir=template)
        run.eventdesk("load-programme", "--builtin", data_dir=template)
        litestream = subprocess.run(
            [str(run.BIN / "litestream"), "version"], capture_output=True, text=True, check=True
        ).stdout.strip()
        lag = measure_lag(tmp, template)
        backup = measure_backup(tmp, template)
        body = markdown(backup, lag, litestream)
        write_section("backup_bench", body)
        print(body)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
