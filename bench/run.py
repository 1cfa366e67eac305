"""Eventdesk benchmark (`make bench`): writes bench/RESULTS.md and prints a summary.

The machines this runs on are small, shared and noisy, so absolute figures mean little.
Every figure is reported as a ratio to a limit measured in the same run:
  * HTTP reads against bench/bare_app.py, Flask answering with each endpoint's own bytes from
    memory (a revalidation: the same 304, headers and all) under the same gunicorn config as
    `make run` (server/gunicorn_conf.py);
  * loading a programme file against bench/raw_sqlite.py, plain sqlite3 writing the same rows;
  * importing attendees against bench/raw_attendees.py, plain sqlite3 writing the same rows;
  * personal-feed and bookmark latency with 100,000 attendees against the same with 1,000;
  * redeeming scans (`POST /checkins`, wrk with bench/redeem.lua) against bench/bare_app.py's
    write limit, Flask doing one SQLite INSERT and COMMIT per request under the same config and
    the server's synchronous setting (and, to show what that costs, under NORMAL);
  * checking one scan offline, as a door does with its bundle, against the Ed25519 verify alone,
    and the door bundle of 100,000 attendees against plain sqlite3 + json.dumps (bench/door.py).
Servers bind 127.0.0.1 only, and are stopped on the way out, even on error.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gzip
import hashlib
import http.client
import itertools
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import door
from bare_app import write_bodies
from door import percentile

from server.db import SYNCHRONOUS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # `make bench` runs .venv/bin/python
RESULTS = ROOT / "bench" / "RESULTS.md"
SCHEMA = ROOT / "server" / "schema.sql"

EVENT = "/api/v1/events/ecc2014"
PROGRAMME = f"{EVENT}/programme"
PROGRAMME_ICS = f"{EVENT}/programme.ics"
SESSIONS = f"{EVENT}/sessions"
SESSIONS_BY_TRACK = f"{SESSIONS}?track=sme-growth"
ONE_SESSION = f"{SESSIONS}/opening-plenary"
ME = "/api/v1/me"

# Seconds per wrk measurement: 5 (8 until the calendar reads came), to keep the run under 7 minutes.
DURATION = 5
WARMUP = 2  # seconds of wrk first, so every worker has its response cache filled
# Two connections per sync worker: one being served while the next waits in the backlog, so
# no worker idles; more would only add queueing to the latency, not throughput.
CONNECTIONS = 4
WORKER_COUNTS = (2, 4, 2, 4)  # alternated, so drift on the machine hits both alike
SCALE = {"sessions": 5000, "speakers": 3000}
REPEATS = 3  # whole-process timings are seconds, so take the median of a few

BOOKMARKS = 15  # the measured attendee's schedule
ATTENDEE_EVENT = {"slug": "synthetic", "sessions": 2000, "speakers": 1500}
ATTENDEE_COUNTS = (1_000, 100_000)  # the latencies at the second may be at most SCALE_LIMIT × the first
SCALE_LIMIT = 1.2
BOOKMARKERS = 0.02  # share of the other attendees given bookmarks (and a feed) straight in the database
BOOKMARKS_EACH = 5
ROUNDS = 5  # latency rounds per attendee count, the counts alternated
WARM_READS = 20  # unmeasured feed reads, two at a time, before the cache hits: both workers hold the feed
HITS = 300  # feed reads answered from the cache, per round
CYCLES = 90  # per round: bookmark a 16th session, read the feed, remove it, read the feed
FEED_HIT, FEED_MISS, PUT, DELETE = "feed, cache hit", "feed, cache miss (after a bookmark change)", "PUT", "DELETE"

CHECKINS = f"{EVENT}/checkins"
DOOR_BUNDLE = f"{EVENT}/door-bundle"
DOOR_NOW = "2014-10-20T09:00:00+02:00"  # EVENTDESK_NOW of the door servers: Day 1 entrance is open
DOOR_LIST = "Day 1 entrance"
REDEEM_SCRIPT = ROOT / "bench" / "redeem.lua"
REDEEM_ATTENDEES = 1_000
REDEEM_CONNECTIONS = 16
REDEEM_RUNS = 3  # each between two runs of the bare limit (3: the mean moved ±0.05 between runs of 2)
REDEEM_TARGET = 0.6
CHECK_SAMPLES = 5_000  # timeit samples (one call each) of the offline check, and as many of its limit
BUNDLE_RUNS = 3  # timed requests of each kind of door bundle, and runs of its limit; medians reported
DELTA = 10  # attendees added, and scans made, between a full door bundle and the delta after it

# Server settings the caller may have set; servers get none of them, so runs compare.
_SERVER_ENV = {"HOST", "PORT", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"}


@dataclass
class Load:
    """One wrk run (or the mean of several)."""

    rps: float
    p50_ms: float
    p99_ms: float

    @classmethod
    def mean(cls, loads: list[Load]) -> Load:
        return cls(*(statistics.mean(getattr(x, name) for x in loads) for name in ("rps", "p50_ms", "p99_ms")))


@dataclass
class Row:
    """A line of a results table: what was measured, and its target ratio to the limit."""

    name: str
    load: Load
    target: float | None = None
    limit: float | None = None  # req/s of the bare limit this row is compared with
    bare_of: str | None = None  # on a bare-limit row: the path whose bytes it served (+ " 304": its 304)


@dataclass
class Read:
    """An endpoint to measure; `body` names the bytes the bare limit sends in its place."""

    name: str
    path: str
    body: str
    target: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    revalidate: bool = False  # sent with If-None-Match: the ETag of the path's 200


@dataclass
class ProcessRun:
    """One whole-process timing."""

    seconds: float
    max_rss_kb: int
    output: str


class Answer(NamedTuple):
    """One HTTP exchange, with its time from connecting to the last byte."""

    status: int
    headers: dict[str, str]
    body: bytes
    ms: float


def check(condition: bool, problem: str) -> None:
    """Stop the run when a precondition fails: figures measured on wrong answers mean nothing."""
    if not condition:
        raise RuntimeError(problem)


# --- processes ---------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without server settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_ENV and not k.startswith("EVENTDESK_")}
    return env | extra


def run_timed(command: Sequence[str | Path], env: dict[str, str], timeout: float = 300) -> ProcessRun:
    """Run a command to completion: wall time, and peak RSS of that process alone.

    os.wait4 gives the child's own rusage; RUSAGE_CHILDREN would be the largest of every
    child reaped so far, gunicorn masters included.
    """
    argv = [str(part) for part in command]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        output = proc.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
        proc.stdout.close()
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    check(proc.returncode == 0, f"{' '.join(argv)} failed ({proc.returncode}):\n{output}")
    return ProcessRun(seconds, usage.ru_maxrss, output.strip())


def eventdesk(*args: str | Path, data_dir: Path) -> ProcessRun:
    """`eventdesk-server ARGS` with EVENTDESK_DATA_DIR, as `make run` calls it."""
    return run_timed([BIN / "eventdesk-server", *args], clean_env(EVENTDESK_DATA_DIR=str(data_dir)))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes | None = None) -> Answer:
    """One request on a connection of its own (no keep-alive); a 304 or 404 is an answer here."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, target, body, headers={"Connection": "close", **(headers or {})})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return Answer(response.status, dict(response.headers), body, (time.perf_counter() - started) * 1000)


@contextlib.contextmanager
def serve(app: str, tmp: Path, name: str, ready: str = PROGRAMME, **env: str) -> Iterator[str]:
    """Run `app` under gunicorn with the config `make run` uses; yields its base URL."""
    with serve_process(app, tmp, name, ready, **env) as (base, _master):
        yield base


@contextlib.contextmanager
def serve_process(
    app: str, tmp: Path, name: str, ready: str = PROGRAMME, **env: str
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`serve`, yielding the gunicorn master's process too (its children are the workers).

    The one addition to `make run` is a private control socket: gunicorn's default is one per
    user, and the bench must not take it over from a server someone is running on this machine.
    """
    port = free_port()
    log_path = tmp / f"gunicorn-{name}.log"
    command = [BIN / "gunicorn", "--config", "python:server.gunicorn_conf"]
    command += ["--control-socket", tmp / f"gunicorn-{name}.ctl", app]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(part) for part in command],
            cwd=ROOT,
            env=clean_env(HOST="127.0.0.1", PORT=str(port), **env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stuck workers can be killed too
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base + ready, proc, log_path)
        yield base, proc
    finally:
        _stop(proc)


def _wait_ready(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check(proc.poll() is None, f"gunicorn exited ({proc.returncode}):\n{log_path.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            if fetch(url).status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn not ready after {timeout}s:\n{log_path.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the master (graceful), then SIGKILL to its process group if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- wrk ---------------------------------------------------------------------------------

_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, headers: dict[str, str] | None = None, duration: int = DURATION) -> Load:
    """Drive `url` with wrk; any answer other than 2xx/3xx fails the run."""
    text = run_wrk(url, headers, duration)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    check(errors is None, f"{url}: error responses under load:\n{text}")
    return parse_load(text)


def run_wrk(
    url: str,
    headers: dict[str, str] | None,
    duration: int,
    connections: int = CONNECTIONS,
    script: Sequence[str | Path] = (),
) -> str:
    """wrk's report on `url`: one thread, `connections` connections; `script` is the Lua script
    and its arguments."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", str(script[0]), url, "--", *(str(arg) for arg in script[1:])]
    else:
        command.append(url)
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration + 30)
    return out.stdout


def parse_load(text: str) -> Load:
    """Requests per second and the p50 and p99 latency of a wrk report."""
    percentiles = re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\b", text, re.MULTILINE)
    latency = {m[1]: float(m[2]) * _TO_MS[m[3]] for m in percentiles}
    return Load(float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1]), latency["50"], latency["99"])


def measure(label: str, url: str, headers: dict[str, str] | None = None) -> Load:
    """Warm up, then measure."""
    wrk(url, headers, duration=WARMUP)
    return show(label, wrk(url, headers))


def show(label: str, load: Load, extra: str = "") -> Load:
    print(
        f"  {label:<60} {load.rps:7,.0f} req/s  p50 {load.p50_ms:.2f} ms  p99 {load.p99_ms:.2f} ms{extra}",
        flush=True,
    )
    return load


# --- attendees ---------------------------------------------------------------------------


def import_attendees(source: Path, slug: str, data_dir: Path, tokens: Path) -> ProcessRun:
    """`eventdesk-server import-attendees`, issuing tokens to the new attendees."""
    return eventdesk("import-attendees", source, "--event", slug, "--tokens-out", tokens, data_dir=data_dir)


def write_attendees(path: Path, people: list[tuple[str, str]]) -> None:
    """A registration CSV of (name, email): academics from Belgium, with no organisation."""
    rows = "".join(f"{name},{email},,BE,academia\n" for name, email in people)
    path.write_text("name,email,organisation,country,category\n" + rows, encoding="utf-8")


def first_token(tokens: Path) -> tuple[str, str]:
    """The email and token of the first attendee in an `--tokens-out` file."""
    with tokens.open(encoding="utf-8", newline="") as handle:
        row = next(csv.DictReader(handle))
    return row["email"], row["token"]


@dataclass
class Person:
    """An attendee as their own client: a personal token, and their secret feed's path."""

    base: str
    token: str
    feed: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def bookmark(self, session_id: str, method: str = "PUT") -> Answer:
        return fetch(f"{self.base}{ME}/schedule/{session_id}", self.auth, method)


def subscribe(base: str, token: str, session_ids: list[str]) -> Person:
    """Bookmark `session_ids` through the API, as the attendee would, and find their feed."""
    person = Person(base, token)
    for session_id in session_ids:
        status = person.bookmark(session_id).status
        check(status == 201, f"PUT {ME}/schedule/{session_id} answered {status}, not 201")
    items = json.loads(fetch(base + f"{ME}/schedule", person.auth).body)["items"]
    check(len(items) == len(session_ids), f"{ME}/schedule holds {len(items)} items, not {len(session_ids)}")
    person.feed = urlsplit(json.loads(fetch(base + f"{ME}/calendar", person.auth).body)["https"]).path
    return person


# --- HTTP reads --------------------------------------------------------------------------


def http_section(tmp: Path) -> dict:
    """The real endpoints and worker counts, each read between two runs of its bare limit."""
    data = tmp / "data"
    eventdesk("init-db", data_dir=data)
    eventdesk("load-programme", "--builtin", data_dir=data)
    one = tmp / "one-attendee.csv"
    write_attendees(one, [("Bench Person", "bench@example.org")])
    import_attendees(one, "ecc2014", data, tmp / "one-attendee-token.csv")
    real = {"EVENTDESK_DATA_DIR": str(data)}

    print(f"HTTP: wrk {DURATION}s per endpoint after {WARMUP}s warm-up, {CONNECTIONS} connections")
    # Both servers stay up (idle ones cost nothing) and each read is measured between two runs
    # of the bare limit sending its bytes, so it is compared with the limit at that moment.
    # The bare app starts second: the feeds embed the real server's address in their bytes.
    with contextlib.ExitStack() as servers:
        base = servers.enter_context(serve("server:create_app()", tmp, "real", **real))
        reads, bodies, not_modified = _reads(base, first_token(tmp / "one-attendee-token.csv")[1])
        write_bodies(tmp / "bodies", bodies, not_modified)
        bare_env = {"EVENTDESK_BENCH_BODIES": str(tmp / "bodies")}
        bare_base = servers.enter_context(serve("bench.bare_app:create_app()", tmp, "bare", **bare_env))
        for path, (body, content_type) in bodies.items():
            answer = fetch(bare_base + path)
            check((answer.status, answer.headers["Content-Type"], answer.body) == (200, content_type, body), path)
        for path, headers in not_modified.items():
            answer = fetch(bare_base + path, {"If-None-Match": headers["ETag"]})
            check((answer.status, _304_headers(answer), answer.body) == (304, headers, b""), f"{path}: bare 304")
        rows = _interleaved(base, bare_base, reads)
    workers: dict[int, list[Load]] = {}
    for count in WORKER_COUNTS:
        with serve("server:create_app()", tmp, f"workers-{count}", WEB_CONCURRENCY=str(count), **real) as base:
            workers.setdefault(count, []).append(measure(f"`/programme`, {count} workers", base + PROGRAMME))
    sizes = {path: (len(body), content_type) for path, (body, content_type) in bodies.items()}
    names = {read.path: read.body for read in reads}
    return {"rows": rows, "workers": workers, "bodies": sizes, "names": names, "not_modified": not_modified}


def _reads(base: str, token: str) -> tuple[list[Read], dict[str, tuple[bytes, str]], dict[str, dict[str, str]]]:
    """What to measure, checked once; each path's 200 body and Content-Type; the headers of its 304."""
    sessions = json.loads(fetch(base + SESSIONS).body)
    person = subscribe(base, token, [s["id"] for s in sessions if s["status"] != "cancelled"][:BOOKMARKS])
    feed = "personal feed"
    reads = [
        Read("`/programme` (200, full)", PROGRAMME, "`/programme`", 0.8),
        Read("`/programme` If-None-Match (304)", PROGRAMME, "`/programme`", 0.9, revalidate=True),
        Read("`/sessions?track=sme-growth`", SESSIONS_BY_TRACK, "`/sessions?track=sme-growth`", 0.5),
        Read("`/sessions/opening-plenary`", ONE_SESSION, "`/sessions/opening-plenary`", 0.5),
        Read(f"personal feed `/calendars/{{token}}.ics` (200, {BOOKMARKS} bookmarks)", person.feed, feed, 0.5),
        Read("personal feed If-None-Match (304)", person.feed, feed, 0.8, revalidate=True),
        Read("`/me/schedule` (Bearer token)", f"{ME}/schedule", "`/me/schedule`", headers=person.auth),
        Read("`/programme.ics` (200, full)", PROGRAMME_ICS, "`/programme.ics`"),
    ]
    bodies, etags, not_modified = {}, {}, {}
    for read in reads:
        if read.revalidate:
            read.headers = {"If-None-Match": etags[read.path]}
        answer = fetch(base + read.path, read.headers)
        check(answer.status == (304 if read.revalidate else 200), f"{read.path} {read.headers}: {answer.status}")
        if read.revalidate:
            not_modified[read.path] = _304_headers(answer)
            check(not_modified[read.path].get("ETag") == etags[read.path], f"{read.path}: the 304's ETag")
        else:
            bodies[read.path] = (answer.body, answer.headers["Content-Type"])
            etags[read.path] = answer.headers.get("ETag")
    check(bodies[PROGRAMME][1] == "application/json", f"programme: {bodies[PROGRAMME][1]}")
    check(bodies[person.feed][1].startswith("text/calendar"), f"personal feed: {bodies[person.feed][1]}")
    check(bodies[person.feed][0].count(b"BEGIN:VEVENT") == BOOKMARKS, "the personal feed lacks bookmarks")
    return reads, bodies, not_modified


def _304_headers(answer: Answer) -> dict[str, str]:
    """A 304's own headers: those gunicorn adds to every answer left out."""
    return {name: value for name, value in answer.headers.items() if name not in ("Date", "Server", "Connection")}


def _interleaved(base: str, bare_base: str, reads: list[Read]) -> list[Row]:
    """Rows in the order measured: the bare limit, then each read of those bytes and the limit again."""
    rows: list[Row] = []
    for _answer, same_bytes in itertools.groupby(reads, key=lambda read: (read.path, read.revalidate)):
        group = list(same_bytes)
        runs = [(read.name, read.target, functools.partial(measure, read.name, base + read.path, read.headers))
                for read in group]  # fmt: skip
        rows += bracketed(runs, functools.partial(_bare, group[0], bare_base=bare_base))
    return rows


def bracketed(runs: list[tuple[str, float | None, Callable[[], Load]]], bare: Callable[[int], Row]) -> list[Row]:
    """Each of `runs` (name, target, measurement) between two runs of its limit (`bare(n)`, n from 1),
    rows in the order measured. A run's limit is the mean of the two around it; a bare row's, the
    mean of them all."""
    bares = [bare(1)]
    rows = [bares[0]]
    for name, target, run in runs:
        row = Row(name, run(), target)
        bares.append(bare(len(bares) + 1))
        row.limit = (bares[-2].load.rps + bares[-1].load.rps) / 2
        rows += [row, bares[-1]]
    for row in bares:
        row.limit = statistics.mean(b.load.rps for b in bares)
    return rows


def _bare(read: Read, n: int, *, bare_base: str) -> Row:
    """The bare limit of `read`: its 200's bytes, or for a revalidation the same 304."""
    if read.revalidate:
        name = f"bare limit, {read.body} 304 ({n})"
        return Row(name, measure(name, bare_base + read.path, read.headers), bare_of=f"{read.path} 304")
    name = f"bare limit, {read.body} bytes ({n})"
    return Row(name, measure(name, bare_base + read.path), bare_of=read.path)


# --- loading a programme -----------------------------------------------------------------


def scale_section(tmp: Path) -> dict:
    """Loading a large file as a whole process, against plain sqlite3 writing the same rows."""
    print(f"Scale: {SCALE['sessions']} sessions, {SCALE['speakers']} speakers, {REPEATS} runs each")
    source = tmp / "synthetic.json"
    sizes = [f"--{name}={n}" for name, n in SCALE.items()]
    eventdesk("generate-synthetic", *sizes, "-o", source, data_dir=tmp / "unused")
    raw_loader = [sys.executable, ROOT / "bench" / "raw_sqlite.py", source]
    first, raw = [], []
    for n in range(REPEATS):  # alternated, so drift on the machine hits both alike
        raw.append(run_timed([*raw_loader, tmp / f"raw-{n}.db", SCHEMA], clean_env()))
        first.append(eventdesk("load-programme", source, data_dir=tmp / f"scale-{n}"))
    second = [eventdesk("load-programme", source, data_dir=tmp / "scale-0") for _ in range(REPEATS)]
    check(all("version 0 -> 1" in run.output for run in first), first[0].output)
    check(all("unchanged" in run.output for run in second), second[0].output)
    return {"first": first, "second": second, "raw": raw, "file_mb": source.stat().st_size / 1e6}


# --- attendees at scale ------------------------------------------------------------------


def attendee_section(tmp: Path) -> dict:
    """Importing the largest attendee file, then feed and bookmark latency at each attendee count."""
    slug = ATTENDEE_EVENT["slug"]
    source = tmp / "attendee-event.json"
    options = [f"--{name}={value}" for name, value in ATTENDEE_EVENT.items()]
    eventdesk("generate-synthetic", *options, "-o", source, data_dir=tmp / "unused")
    template = tmp / "attendee-template"  # the event alone; each data dir below starts as a copy
    eventdesk("init-db", data_dir=template)
    eventdesk("load-programme", source, data_dir=template)
    files, dirs, tokens = {}, {}, {}
    for count in ATTENDEE_COUNTS:
        files[count], dirs[count], tokens[count] = (tmp / f"attendees-{count}{end}" for end in (".csv", "", ".tok"))
        eventdesk("generate-attendees", f"--count={count}", "-o", files[count], data_dir=tmp / "unused")
    largest = ATTENDEE_COUNTS[-1]
    print(f"Import: {largest:,} attendees, {REPEATS} runs each")
    imports = _time_imports(tmp, template, files[largest], dirs[largest], tokens[largest])
    for count in ATTENDEE_COUNTS[:-1]:
        shutil.copytree(template, dirs[count])
        import_attendees(files[count], slug, dirs[count], tokens[count])
    return {
        "imports": imports,
        "source": files[largest],
        "file_mb": files[largest].stat().st_size / 1e6,
        **_latencies(tmp, dirs, tokens),
    }


def _time_imports(tmp: Path, template: Path, source: Path, keep: Path, tokens: Path) -> dict:
    """Import `source` into fresh copies of `template`, alternated with the raw limit, then again
    into the first copy (`keep`, left holding the attendees, their tokens in `tokens`)."""
    raw_import = [sys.executable, ROOT / "bench" / "raw_attendees.py", source]
    raw, first = [], []
    for n in range(REPEATS):
        raw.append(run_timed([*raw_import, tmp / f"raw-attendees-{n}.db", SCHEMA, tmp / f"raw-{n}.tok"], clean_env()))
        data = keep if n == 0 else tmp / f"import-{n}"
        shutil.copytree(template, data)
        first.append(import_attendees(source, ATTENDEE_EVENT["slug"], data, tokens if n == 0 else tmp / f"{n}.tok"))
        if n:
            shutil.rmtree(data)
    again = [import_attendees(source, ATTENDEE_EVENT["slug"], keep, tmp / "again.tok") for _ in range(REPEATS)]
    count = ATTENDEE_COUNTS[-1]
    check(all(run.output.startswith(f"{count} created, 0 updated") for run in first), first[0].output)
    check(all(run.output.startswith(f"0 created, 0 updated, {count} unchanged") for run in again), again[0].output)
    return {"raw": raw, "first": first, "again": again}


def _latencies(tmp: Path, dirs: dict[int, Path], tokens: dict[int, Path]) -> dict:
    """Both servers up, measured in turns; per attendee count, a list of ms per kind of request."""
    rng = random.Random(2014)
    picked = rng.sample(range(ATTENDEE_EVENT["sessions"]), BOOKMARKS + 1)
    bookmarks, extra = [f"session-{n}" for n in picked[:-1]], f"session-{picked[-1]}"
    sizes = {count: _add_bookmarkers(dirs[count], first_token(tokens[count])[0]) for count in dirs}
    ready = f"/api/v1/events/{ATTENDEE_EVENT['slug']}"
    print(f"Latency: {ROUNDS} rounds of {HITS} cached feed reads and {CYCLES} bookmark cycles per count")
    with contextlib.ExitStack() as servers:
        people = {}
        for count, data in dirs.items():
            env = {"EVENTDESK_DATA_DIR": str(data)}
            base = servers.enter_context(serve("server:create_app()", tmp, f"attendees-{count}", ready, **env))
            people[count] = subscribe(base, first_token(tokens[count])[1], bookmarks)
        samples = _latency_rounds(people, extra)
    for count, kinds in samples.items():
        print(
            f"  {count:>7,} attendees: "
            + ", ".join(f"{k.split(' (')[0]} p50 {percentile(v, 50):.2f} ms" for k, v in kinds.items())
        )
    return {"latency": samples, "sizes": sizes}


def _add_bookmarkers(data: Path, measured_email: str) -> dict[str, int]:
    """Give a share of the other attendees a few random bookmarks and a feed token, with SQL.

    Through the API this would take minutes at 100,000 attendees; the rows are the same.
    """
    rng = random.Random(2014)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conn = sqlite3.connect(data / "eventdesk.sqlite3", isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        event_id = conn.execute("SELECT id FROM events WHERE slug = ?", (ATTENDEE_EVENT["slug"],)).fetchone()[0]
        sessions = [
            row[0] for row in conn.execute("SELECT id FROM sessions WHERE event_id = ? ORDER BY id", (event_id,))
        ]
        others = [row[0] for row in conn.execute("SELECT pk FROM attendees WHERE email != ?", (measured_email,))]
        chosen = rng.sample(others, round(len(others) * BOOKMARKERS))
        items = [(pk, event_id, s, stamp) for pk in chosen for s in rng.sample(sessions, BOOKMARKS_EACH)]
        feeds = [(hashlib.sha256(rng.randbytes(32)).hexdigest(), pk) for pk in chosen]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO schedule_items (attendee_pk, event_id, session_id, added_at) VALUES (?, ?, ?, ?)", items
        )
        conn.executemany("UPDATE attendees SET feed_token_hash = ? WHERE pk = ?", feeds)
        conn.execute("COMMIT")
        return {"attendees": len(others) + 1, "bookmarkers": len(chosen), "items": len(items) + BOOKMARKS}
    finally:
        conn.close()


def _latency_rounds(people: dict[int, Person], extra: str) -> dict[int, dict[str, list[float]]]:
    """Cached feed reads, then cycles of bookmark change and feed read (each read then a miss).

    The attendee counts take turns request by request (cycle by cycle), so a burst of noise on
    the machine hits both alike.
    """
    samples = {count: {kind: [] for kind in (FEED_HIT, FEED_MISS, PUT, DELETE)} for count in people}
    for _round in range(ROUNDS):
        etags = {count: _warm(person) for count, person in people.items()}
        for _, (count, person) in itertools.product(range(HITS), people.items()):
            hit = fetch(person.base + person.feed)
            check((hit.status, hit.headers["ETag"]) == (200, etags[count]), "the cached feed changed")
            samples[count][FEED_HIT].append(hit.ms)
        for _, (count, person) in itertools.product(range(CYCLES), people.items()):
            put, added = person.bookmark(extra, "PUT"), fetch(person.base + person.feed)
            delete, removed = person.bookmark(extra, "DELETE"), fetch(person.base + person.feed)
            statuses = (put.status, added.status, delete.status, removed.status)
            check(statuses == (201, 200, 204, 200), f"bookmark cycle answered {statuses}")
            check(added.headers["ETag"] != removed.headers["ETag"], "the feed did not follow a bookmark change")
            samples[count][FEED_MISS] += [added.ms, removed.ms]
            samples[count][PUT].append(put.ms)
            samples[count][DELETE].append(delete.ms)
    return samples


def _warm(person: Person) -> str:
    """Unmeasured feed reads, two at a time so both workers build and keep the feed; its ETag."""
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(fetch, [person.base + person.feed] * WARM_READS))
    found = {(answer.status, answer.headers.get("ETag")) for answer in answers}
    check(len(found) == 1 and next(iter(found))[0] == 200, f"feed warm-up answered {found}")
    return next(iter(found))[1]


# --- doors -------------------------------------------------------------------------------


def door_section(tmp: Path, large: Path, large_count: int) -> dict:
    """Redeeming scans online, the offline check of one scan, and the door bundle of `large`
    (a CSV of `large_count` attendees), each against its limit."""
    template = tmp / "door-template"  # the built-in conference alone; each data dir starts as a copy
    eventdesk("init-db", data_dir=template)
    eventdesk("load-programme", "--builtin", data_dir=template)
    redeem_dir, bundle_dir = tmp / "door-redeem", tmp / "door-bundle"
    for data in (redeem_dir, bundle_dir):
        shutil.copytree(template, data)
    small, tokens = tmp / "door-attendees.csv", tmp / "door-attendees.tok"
    eventdesk("generate-attendees", f"--count={REDEEM_ATTENDEES}", "-o", small, data_dir=tmp / "unused")
    import_attendees(small, "ecc2014", redeem_dir, tokens)
    redeem = _redeem(tmp, redeem_dir, tokens)
    print(f"Offline check: {CHECK_SAMPLES:,} timeit samples each, alternated")
    checks = door.time_checks(door.Door.from_bundle(redeem.pop("bundle")), redeem.pop("payloads"), CHECK_SAMPLES)
    for name, timing in checks.items():
        print(f"  {name:<60} median {timing.median_us:.1f} µs  p99 {timing.p99_us:.1f} µs", flush=True)
    return {"redeem": redeem, "check": checks, "bundle": _bundle(tmp, bundle_dir, large, large_count)}


def create_device(data: Path) -> str:
    """A door device's token (`eventdesk-server create-device` prints it alone on its last line)."""
    run = eventdesk("create-device", "--event", "ecc2014", "--name", "Bench door", data_dir=data)
    return run.output.splitlines()[-1].strip()


def ticket_payloads(base: str, tokens: Path) -> list[str]:
    """The QR payload of every attendee in an `--tokens-out` file, from `GET /me/ticket` with their token."""
    with tokens.open(encoding="utf-8", newline="") as handle:
        people = [row["token"] for row in csv.DictReader(handle)]

    def payload(token: str) -> str:
        answer = fetch(f"{base}{ME}/ticket", {"Authorization": f"Bearer {token}"})
        check(answer.status == 200, f"GET {ME}/ticket answered {answer.status}")
        return json.loads(answer.body)["payload"]

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(payload, people))


def _redeem(tmp: Path, data: Path, tokens: Path) -> dict:
    """`POST /checkins` under wrk and bench/redeem.lua, each run between two of the bare limit's."""
    auth = {"Authorization": f"Bearer {create_device(data)}"}
    real_env = {"EVENTDESK_DATA_DIR": str(data), "EVENTDESK_NOW": DOOR_NOW}
    bare_env = {"EVENTDESK_BENCH_DB": str(tmp / "bare-scans.sqlite3")}
    payloads = tmp / "payloads.txt"
    statuses: dict[str, dict[int, int]] = {}

    def run(name: str, url: str, duration: int = DURATION) -> Load:
        """One wrk run; `name` tags its scan ids (each run's are new) and files its statuses."""
        script = [REDEEM_SCRIPT, re.sub(r"\W+", "-", name), payloads, DOOR_LIST]
        text = run_wrk(url, auth, duration, REDEEM_CONNECTIONS, script)
        check("Socket errors" not in text, f"{name}: connection errors under load:\n{text}")
        seen = {int(code): int(count) for code, count in re.findall(r"^status (\d+) (\d+)$", text, re.MULTILINE)}
        check(not any(code >= 500 for code in seen), f"{name}: server errors under load: {seen}")
        check(not name.startswith("bare") or set(seen) == {201}, f"{name}: the bare limit answered {seen}")
        statuses[name] = seen
        return show(name, parse_load(text), "  " + ", ".join(f"{n:,} × {code}" for code, n in sorted(seen.items())))

    print(
        f"Redeem: wrk -c{REDEEM_CONNECTIONS} {DURATION}s per run, "
        f"{REDEEM_RUNS} runs between {REDEEM_RUNS + 1} of the bare limit"
    )
    with contextlib.ExitStack() as servers:
        base = servers.enter_context(serve("server:create_app()", tmp, "redeem", **real_env))
        bare_app = "bench.bare_app:create_write_app()"
        bare_base = servers.enter_context(serve(bare_app, tmp, "redeem-bare", "/ready", **bare_env))
        normal_env = {
            "EVENTDESK_BENCH_DB": str(tmp / "bare-scans-normal.sqlite3"),
            "EVENTDESK_BENCH_SYNCHRONOUS": "NORMAL",
        }
        normal_base = servers.enter_context(serve(bare_app, tmp, "redeem-bare-normal", "/ready", **normal_env))
        found = ticket_payloads(base, tokens)
        payloads.write_text("\n".join(found) + "\n", encoding="utf-8")
        bundle = fetch(base + DOOR_BUNDLE, auth)
        check(bundle.status == 200, f"GET {DOOR_BUNDLE} answered {bundle.status}")
        run("warm-up", base + CHECKINS, WARMUP)
        run("bare warm-up", bare_base + CHECKINS, WARMUP)
        run("bare NORMAL warm-up", normal_base + CHECKINS, WARMUP)
        # What one fsync per commit costs: the bare limit under NORMAL, before and after the series.
        normal = [run("bare NORMAL 1", normal_base + CHECKINS)]
        rows = bracketed(
            [
                (f"`POST {CHECKINS}`, run {n}", REDEEM_TARGET, functools.partial(run, f"redeem {n}", base + CHECKINS))
                for n in range(1, REDEEM_RUNS + 1)
            ],
            lambda n: Row(
                f"bare limit, INSERT + COMMIT ({n})", run(f"bare {n}", bare_base + CHECKINS), bare_of=CHECKINS
            ),
        )
        normal.append(run("bare NORMAL 2", normal_base + CHECKINS))
    conn = sqlite3.connect(data / "eventdesk.sqlite3")
    try:
        mix = dict(conn.execute("SELECT result, COUNT(*) FROM scans GROUP BY result ORDER BY COUNT(*) DESC"))
        kinds = dict(conn.execute("SELECT type, COUNT(*) FROM scans GROUP BY type ORDER BY type"))
    finally:
        conn.close()
    answered = sum(n for name, seen in statuses.items() if not name.startswith("bare") for n in seen.values())
    check(sum(mix.values()) >= answered, f"{answered} scans answered, {sum(mix.values())} recorded")
    return {
        "rows": rows,
        "normal": Load.mean(normal),
        "statuses": statuses,
        "mix": mix,
        "types": kinds,
        "bundle": json.loads(bundle.body),
        "payloads": found,
        "bundle_bytes": len(bundle.body),
    }


def _bundle(tmp: Path, data: Path, source: Path, count: int) -> dict:
    """`GET /door-bundle` with `count` attendees, alternated with its limit (plain sqlite3 +
    json.dumps); then its delta after DELTA new attendees, and after DELTA scans of them too."""
    imported = eventdesk("import-attendees", source, "--event", "ecc2014", data_dir=data)
    auth = {"Authorization": f"Bearer {create_device(data)}"}
    env = {"EVENTDESK_DATA_DIR": str(data), "EVENTDESK_NOW": DOOR_NOW}
    print(f"Door bundle: {count:,} attendees, {BUNDLE_RUNS} requests of each kind")
    with serve_process("server:create_app()", tmp, "bundle", **env) as (base, master):
        idle = worker_peaks(master)
        whole, bare_ms = Bundles(base + DOOR_BUNDLE, auth), []
        for _ in range(BUNDLE_RUNS):
            started = time.perf_counter()
            bare_body = door.bare_roster(data / "eventdesk.sqlite3", "ecc2014")
            bare_ms.append((time.perf_counter() - started) * 1000)
            whole.request()
        check(whole.failure is None, f"{DOOR_BUNDLE}: {whole.failure}")
        roster = len(whole.document["roster"])
        check(roster == count, f"the door bundle lists {roster} attendees, not {count}")
        since = f"{base}{DOOR_BUNDLE}?since={whole.document['cursor']}"
        tokens = _add_attendees(tmp, data)
        added = Bundles(since, auth).measure((DELTA, 0))
        _scan(base, auth, tokens)
        scanned = Bundles(since, auth).measure((DELTA, DELTA))
        peaks = worker_peaks(master)
    for fetched in (added, scanned):
        fetched.failure = fetched.failure and f"{fetched.failure}: {last_error(tmp / 'gunicorn-bundle.log')}"
    for name, fetched in (("whole", whole), ("delta", added), ("delta+", scanned)):
        times = ", ".join(f"{kind} {fetched.median_ms(kind):,.1f} ms" for kind in fetched.ms if fetched.ms[kind])
        found = fetched.failure or f"{len(fetched.body):,} bytes, gzip {len(fetched.gzipped):,}: {times}"
        print(f"  {name:<8} {found}", flush=True)
    print(f"  {'limit':<8} {len(bare_body):,} bytes: {statistics.median(bare_ms):,.0f} ms; worker peak RSS {peaks}")
    return {
        "import": imported,
        "whole": whole,
        "added": added,
        "scanned": scanned,
        "bare_ms": statistics.median(bare_ms),
        "bare_bytes": len(bare_body),
        "idle_kb": idle,
        "peak_kb": peaks,
    }


@dataclass
class Bundles:
    """Timed requests of one door-bundle URL, as is and with Accept-Encoding: gzip, alternated."""

    url: str
    auth: dict[str, str]
    ms: dict[str, list[float]] = field(default_factory=lambda: {"identity": [], "gzip": []})
    body: bytes = b""
    gzipped: bytes = b""
    failure: str | None = None  # why the server could not answer, if it could not

    def request(self) -> None:
        """One request of each kind; the bytes must not change between requests."""
        for kind, times in self.ms.items():
            packed = kind == "gzip"
            answer = fetch(self.url, self.auth | ({"Accept-Encoding": "gzip"} if packed else {}))
            if answer.status >= 500:
                self.failure = f"HTTP {answer.status}"
                return
            check(answer.status == 200, f"GET {self.url} answered {answer.status}")
            check(answer.headers.get("Content-Encoding") == (kind if packed else None), f"{kind}: {answer.headers}")
            body = gzip.decompress(answer.body) if packed else answer.body
            check(self.body in (b"", body), f"GET {self.url} changed between requests")
            self.body = body
            self.gzipped = answer.body if packed else self.gzipped
            times.append(answer.ms)

    def measure(self, expected: tuple[int, int]) -> Bundles:
        """BUNDLE_RUNS requests of each kind of a delta listing `expected` (roster, presence) entries."""
        for _ in range(BUNDLE_RUNS):
            self.request()
            if self.failure:
                return self
        found = (self.document["delta"], len(self.document["roster"]), len(self.document["presence"]))
        check(found == (True, *expected), f"the delta's (delta, roster, presence) is {found}, not {expected}")
        return self

    def median_ms(self, kind: str) -> float:
        return statistics.median(self.ms[kind])

    @functools.cached_property
    def document(self) -> dict:
        return json.loads(self.body)


def last_error(log: Path) -> str:
    """The last exception a server logged (its type and message), for a 5xx answer."""
    errors = re.findall(r"^\w+(?:Error|Exception)\b.*$", log.read_text(errors="replace"), re.MULTILINE)
    return errors[-1] if errors else "no exception logged"


def _add_attendees(tmp: Path, data: Path) -> Path:
    """DELTA new attendees, imported with `import-attendees` while the server runs; their tokens."""
    source, tokens = tmp / "delta-attendees.csv", tmp / "delta-attendees.tok"
    write_attendees(source, [(f"Delta Person {n}", f"delta{n}@example.org") for n in range(DELTA)])
    import_attendees(source, "ecc2014", data, tokens)
    return tokens


def _scan(base: str, auth: dict[str, str], tokens: Path) -> None:
    """Scan in each attendee of an `--tokens-out` file once, at the door, online."""
    headers = auth | {"Content-Type": "application/json"}
    for n, payload in enumerate(ticket_payloads(base, tokens)):
        scan = {"payload": payload, "list": DOOR_LIST, "type": "entry", "scan_id": f"delta-{n}"}
        answer = fetch(base + CHECKINS, headers, "POST", json.dumps(scan).encode())
        check(answer.status == 201, f"POST {CHECKINS} answered {answer.status}: {answer.body[:300]!r}")


def worker_peaks(master: subprocess.Popen) -> list[int]:
    """Peak RSS so far (VmHWM, kB) of each worker of a gunicorn master; [] if /proc cannot tell."""
    try:
        workers = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
        statuses = [Path(f"/proc/{pid}/status").read_text() for pid in workers]
    except OSError:
        return []
    return sorted(int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)[1]) for status in statuses)


# --- report ------------------------------------------------------------------------------


@dataclass
class Figures:
    """What the report needs, computed once."""

    rows: list[Row]  # the HTTP reads and their bare limits, in the order measured
    limits: dict[str, float]  # mean req/s of each body's bare limit, by path
    spreads: dict[str, float]  # (max - min) / mean of each body's bare limit
    workers: dict[int, Load]
    loads: dict[str, ProcessRun]  # programme loading: raw, first, second (medians)
    imports: dict[str, ProcessRun]  # attendee import: raw, first, again (medians)
    latency: dict[str, dict[int, tuple[float, float]]]  # kind -> attendee count -> (p50, p99) ms
    doors: dict  # what door_section measured

    @property
    def reads(self) -> list[Row]:
        return [row for row in self.rows if row.bare_of is None]

    @property
    def redeems(self) -> list[Row]:
        return [row for row in self.doors["redeem"]["rows"] if row.bare_of is None]

    @property
    def redeem_ratio(self) -> float:
        """The mean of the redeem runs' ratios to their limits."""
        return statistics.mean(self.ratio(row) for row in self.redeems)

    @property
    def bundles(self) -> dict[str, Bundles]:
        """The door bundle requests by what they were: the whole, then the two deltas."""
        names = {"whole": "whole bundle", "added": f"delta after {DELTA} new attendees"}
        names["scanned"] = f"delta after {DELTA} new attendees and {DELTA} scans"
        return {name: self.doors["bundle"][key] for key, name in names.items()}

    def failures(self) -> list[str]:
        return [f"{name}: {fetched.failure}" for name, fetched in self.bundles.items() if fetched.failure]

    def ratio(self, row: Row) -> float:
        return row.load.rps / row.limit

    @staticmethod
    def limits_of(rows: list[Row]) -> float:
        """The mean req/s of the bare-limit rows among `rows`."""
        return statistics.mean(row.load.rps for row in rows if row.bare_of is not None)

    def read(self, name_start: str) -> Row:
        return next(row for row in self.reads if row.name.startswith(name_start))

    def growth(self, kind: str) -> tuple[float, float]:
        """p50 and p99 at the largest attendee count over those at the smallest."""
        small, large = (self.latency[kind][count] for count in (ATTENDEE_COUNTS[0], ATTENDEE_COUNTS[-1]))
        return large[0] / small[0], large[1] / small[1]

    def missed(self) -> list[str]:
        late = [row.name for row in self.reads if row.target is not None and self.ratio(row) < row.target]
        slow = [
            f"personal {kind}, {' and '.join(_scale_marks(self, kind))} at {ATTENDEE_COUNTS[-1]:,} attendees "
            f"over {SCALE_LIMIT}× that at {ATTENDEE_COUNTS[0]:,}"
            for kind in self.latency
            if _scale_marks(self, kind)
        ]
        redeem = [f"redeem `POST {CHECKINS}`"] if self.redeem_ratio < REDEEM_TARGET else []
        return late + redeem + slow


def figures(http: dict, scale: dict, attendees: dict, doors: dict) -> Figures:
    bares: dict[str, list[float]] = {}
    for row in http["rows"]:
        if row.bare_of is not None:
            bares.setdefault(row.bare_of, []).append(row.load.rps)
    limits = {path: statistics.mean(rps) for path, rps in bares.items()}
    spreads = {path: (max(rps) - min(rps)) / limits[path] for path, rps in bares.items()}
    workers = {count: Load.mean(loads) for count, loads in http["workers"].items()}
    latency = {
        kind: {
            count: (percentile(kinds[kind], 50), percentile(kinds[kind], 99))
            for count, kinds in attendees["latency"].items()
        }
        for kind in (FEED_HIT, FEED_MISS, PUT, DELETE)
    }
    return Figures(
        http["rows"],
        limits,
        spreads,
        workers,
        {key: _median(runs) for key, runs in scale.items() if key != "file_mb"},
        {key: _median(runs) for key, runs in attendees["imports"].items()},
        latency,
        doors,
    )


def _median(runs: list[ProcessRun]) -> ProcessRun:
    """The median time, the highest peak memory, the first output (they are all alike)."""
    seconds = statistics.median(run.seconds for run in runs)
    return ProcessRun(seconds, max(run.max_rss_kb for run in runs), runs[0].output)


def mark(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return "pass" if ratio >= target else "**miss**"


def _scale_marks(f: Figures, kind: str) -> list[str]:
    """Which of p50 and p99 grew by more than SCALE_LIMIT from the smallest attendee count."""
    return [name for name, ratio in zip(("p50", "p99"), f.growth(kind), strict=True) if ratio > SCALE_LIMIT]


def machine() -> str:
    """CPUs, OS and the versions that shape the figures."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = models[0] if models else platform.processor() or "unknown CPU"
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in ("gunicorn", "Flask", "flask-restx"))
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split(" [")[0]
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{versions}, {wrk_version}"
    )


def _load_table(rows: list[Row], f: Figures) -> list[str]:
    lines = ["| | req/s | p50 ms | p99 ms | ratio to bare | target | |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        ratio = f.ratio(row)
        target = f"≥ {row.target}" if row.target is not None else ""
        lines.append(
            f"| {row.name} | {row.load.rps:,.0f} | {row.load.p50_ms:.2f} | {row.load.p99_ms:.2f} "
            f"| {ratio:.2f} | {target} | {mark(ratio, row.target)} |"
        )
    return lines


def _process_table(runs: list[tuple[str, ProcessRun]]) -> list[str]:
    """Whole-process timings; the first is the limit the others are divided into."""
    limit = runs[0][1].seconds
    lines = ["| | wall s | peak RSS MB | ratio to raw | output |", "|---|---|---|---|---|"]
    for name, run in runs:
        ratio = limit / run.seconds
        lines.append(f"| {name} | {run.seconds:.2f} | {run.max_rss_kb / 1024:.0f} | {ratio:.2f} | {_one_line(run)} |")
    return lines


def _one_line(run: ProcessRun) -> str:
    """A command's output for a table cell: one line, without the run's temporary paths."""
    return re.sub(r" to /\S+", "", run.output).replace("\n", "; ")


def _latency_table(f: Figures) -> list[str]:
    small, large = ATTENDEE_COUNTS[0], ATTENDEE_COUNTS[-1]
    lines = [
        f"| | {small:,}: p50 ms | p99 ms | {large:,}: p50 ms | p99 ms | p50 ratio | p99 ratio | target | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, by_count in f.latency.items():
        name = kind if kind.startswith("feed") else f"bookmark {kind} `/me/schedule/{{id}}`"
        growth, slow = f.growth(kind), _scale_marks(f, kind)
        lines.append(
            f"| personal {name} | {by_count[small][0]:.2f} | {by_count[small][1]:.2f} | {by_count[large][0]:.2f} "
            f"| {by_count[large][1]:.2f} | {growth[0]:.2f} | {growth[1]:.2f} | ≤ {SCALE_LIMIT} "
            f"| {'**miss** (' + ', '.join(slow) + ')' if slow else 'pass'} |"
        )
    return lines


def report(
    http: dict, scale: dict, attendees: dict, f: Figures, started: datetime, wall: float, load_avg: float
) -> str:
    """bench/RESULTS.md: the tables, the ratios to the limits against the targets, and notes."""
    programme_limit = f.limits[PROGRAMME]
    missed = f.missed()
    worker_rows = [
        Row(f"WEB_CONCURRENCY={count}, run {n}", load, limit=programme_limit)
        for count, loads in sorted(http["workers"].items())
        for n, load in enumerate(loads, start=1)
    ] + [
        Row(f"WEB_CONCURRENCY={count}, mean", load, limit=programme_limit) for count, load in sorted(f.workers.items())
    ]
    two, four = f.workers[2].rps, f.workers[4].rps
    full, not_modified = f.read("`/programme` (200").load, f.read("`/programme` If-None").load
    feed, feed_304 = f.read("personal feed `").load, f.read("personal feed If-None").load
    feed_path = next(path for path in http["not_modified"] if path != PROGRAMME)
    spread = max(f.spreads.values())
    bodies = [
        f"{http['names'][path]} {size:,} bytes ({content_type})"
        for path, (size, content_type) in http["bodies"].items()
    ]
    revalidation_headers = sorted({name for headers in http["not_modified"].values() for name in headers})
    sizes = attendees["sizes"]
    small, large = ATTENDEE_COUNTS[0], ATTENDEE_COUNTS[-1]
    imports = f.imports
    return "\n".join(
        [
            "# Eventdesk benchmark results",
            "",
            f"Produced by `make bench` (`.venv/bin/python bench/run.py`) on {started:%Y-%m-%d %H:%M} UTC "
            f"in {wall:.0f} s.",
            "",
            f"Machine: {machine()}. Load average when the run started: {load_avg:.2f}.",
            "",
            "The machine is shared and noisy, so every figure is a ratio to a limit measured in the same "
            "run; compare ratios between runs, not requests per second.",
            "",
            "## HTTP reads",
            "",
            "`gunicorn --config python:server.gunicorn_conf` as `make run` (2 sync workers; a private "
            f"control socket), driven by `wrk -t1 -c{CONNECTIONS} -d{DURATION}s --latency` after "
            f"{WARMUP} s of warm-up, one measurement at a time ({DURATION} s per measurement since the "
            "calendar reads were added, 8 s before, to keep the whole run under 7 minutes). The limit is "
            "bench/bare_app.py under the same gunicorn config, answering each path from memory with the "
            "bytes and Content-Type the real endpoint's 200 has there: "
            f"{'; '.join(bodies)}. A 304 is held to the same bare app answering the same 304 (status, and the "
            f"headers the real 304 sent: {', '.join(revalidation_headers)}) when If-None-Match is that ETag; "
            "until this run it was held to the bare app sending the full body, which flattered it (that "
            "ratio is kept in the notes below). The personal feed is that of an attendee made with "
            f"`eventdesk-server import-attendees FILE --event ecc2014 --tokens-out TOKENS` (a one-row CSV) "
            f"who bookmarked the first {BOOKMARKS} sessions of `GET {SESSIONS}` with `PUT {ME}/schedule/{{id}}` "
            f"(some overlap); its URL is the `https` of `GET {ME}/calendar`. Each read's limit is measured "
            "right before and after it, and its ratio is to the mean of those two; the largest spread of "
            f"any one body's limit over the run was {spread:.0%} (`/programme` bytes: "
            f"{programme_limit:,.0f} req/s on average, spread {f.spreads[PROGRAMME]:.0%}). A bare row's "
            "ratio is to the mean of its body's limit.",
            "",
            *_load_table(f.rows, f),
            "",
            "The single-session read has no target of its own; it is held to that of the filtered lists. "
            "`/me/schedule` and `/programme.ics` have no targets; their ratios are reported.",
            "",
            "## Worker count",
            "",
            "`/programme` (200) with WEB_CONCURRENCY set (server/gunicorn_conf.py defaults to 2), "
            "runs alternated, same wrk settings, ratio to the run's mean limit for the `/programme` bytes.",
            "",
            *_load_table(worker_rows, f),
            "",
            "## Loading a large programme file",
            "",
            f"`eventdesk-server generate-synthetic --sessions {SCALE['sessions']} --speakers "
            f"{SCALE['speakers']}` ({scale['file_mb']:.1f} MB), then `eventdesk-server load-programme FILE`, "
            f"timed as a whole process (median of {REPEATS}; peak RSS of that process). The limit is "
            "bench/raw_sqlite.py: plain sqlite3 in its own process parsing the same file and inserting the "
            "same rows (event, rooms, tracks, speakers, sessions, their speaker links and full-text rows) "
            "into the same schema in one transaction, with no validation, diffing or change log. "
            "Ratio = limit time / time.",
            "",
            *_process_table(
                [
                    ("raw sqlite3 (the limit)", f.loads["raw"]),
                    ("first load, fresh data dir", f.loads["first"]),
                    ("second load, same file", f.loads["second"]),
                ]
            ),
            "",
            "## Importing attendees",
            "",
            f"`eventdesk-server generate-attendees --count {large}` ({attendees['file_mb']:.1f} MB), then "
            "`eventdesk-server import-attendees FILE --event synthetic --tokens-out TOKENS`, timed as a whole "
            f"process (median of {REPEATS}; peak RSS of that process), into a copy of a data dir holding only "
            f"the synthetic event of the next section; then the same file again into the first of those. The "
            "limit is bench/raw_attendees.py: plain sqlite3 in its own process reading the same CSV and "
            "inserting the same rows (public id, fields, hash of a new personal token, timestamps, and the ticket "
            "the import issues each new attendee) into a new database with the same schema in one transaction, "
            "then writing the email,token lines; no validation, no comparison with stored attendees. "
            "Ratio = limit time / time.",
            "",
            *_process_table(
                [
                    ("raw sqlite3 (the limit)", imports["raw"]),
                    ("first import, new attendees", imports["first"]),
                    ("second import, same file", imports["again"]),
                ]
            ),
            "",
            f"## Personal feed and bookmarks: {small:,} against {large:,} attendees",
            "",
            f"`eventdesk-server generate-synthetic --sessions {ATTENDEE_EVENT['sessions']} --speakers "
            f"{ATTENDEE_EVENT['speakers']} --slug synthetic`, loaded, then `generate-attendees --count N` "
            "imported with `import-attendees --event synthetic --tokens-out TOKENS`, once with "
            f"N = {small:,} and once with N = {large:,} (each in its own data dir). In each, the first "
            f"attendee bookmarks the same {BOOKMARKS} random sessions with `PUT {ME}/schedule/{{id}}`, and "
            f"{BOOKMARKERS:.0%} of the others ({sizes[small]['bookmarkers']:,} and {sizes[large]['bookmarkers']:,}) "
            f"get {BOOKMARKS_EACH} random bookmarks each and a feed token, written with SQL inserts into "
            "schedule_items (and an update of attendees.feed_token_hash) before the server starts, as the API "
            f"would take minutes for them; schedule_items then holds {sizes[small]['items']:,} and "
            f"{sizes[large]['items']:,} rows. Both servers (`make run`'s gunicorn config) stay up and take "
            "turns request by request (cycle by cycle), so the machine's noise hits both alike, driven by a "
            "Python client (http.client) making one request per connection, one at a time. "
            f"{ROUNDS} rounds of: {WARM_READS} unmeasured feed reads, two at a time (so both workers hold "
            f"the feed), {HITS} feed reads from the response cache, then {CYCLES} cycles of `PUT` of a 16th "
            "session, feed read, `DELETE` of it, feed read; a feed read after a bookmark change is a cache "
            "miss, as the schedule version is part of the cache key (checked: the ETag changes every time). "
            f"Latency is from connecting to the last byte. Ratio = {large:,} / {small:,}; the requirement is "
            f"at most {SCALE_LIMIT}× for each.",
            "",
            *_latency_table(f),
            "",
            *_door_report(f),
            "## What the numbers mean",
            "",
            "- A ratio of 1.00 means Eventdesk's own request path (flask-restx dispatch, the database "
            "snapshot and version check, the token lookup, the response cache, conditional headers) costs "
            "nothing over gunicorn + Flask handing out the same bytes from memory.",
            f"- Targets missed: {', '.join(missed) or 'none'}. The limit varied by up to {spread:.0%} over the "
            "run: a ratio within that of its target is no clear pass or miss. With "
            f"{min(ROUNDS * HITS, ROUNDS * CYCLES)} to {max(ROUNDS * HITS, ROUNDS * 2 * CYCLES)} requests per "
            "latency figure, a p99 rests on a few requests and moves with the machine's noise more than a p50.",
            f"- The 304 ran at {not_modified.rps / full.rps:.2f}× the rate of the full 200. A revalidation "
            "repeated while nothing has been committed is answered before Flask (server/revalidation.py: a "
            "dict lookup and one `PRAGMA data_version`), while the bare 304 still passes through Flask's "
            "request handling: that is why a 304's ratio can pass 1.",
            f"- The personal feed's 304 ran at {feed_304.rps / feed.rps:.2f}× the rate of its 200.",
            f"- Against the old limit (the bare app sending the full body, mean over the run), the "
            f"`/programme` 304 is {not_modified.rps / programme_limit:.2f} and the personal feed's "
            f"{feed_304.rps / f.limits[feed_path]:.2f}; a bare 304 runs at "
            f"{f.limits[PROGRAMME + ' 304'] / programme_limit:.2f}× the bare `/programme` 200.",
            f"- 4 workers served {four / two:.2f}× the requests of 2 on {os.cpu_count()} CPUs, with a p99 of "
            f"{f.workers[4].p99_ms:.1f} ms against {f.workers[2].p99_ms:.1f} ms: "
            + (
                "the measurement supports the default of 2."
                if four <= 1.1 * two
                else "on this run 4 workers were clearly faster; revisit the default of 2."
            ),
            f"- Loading {SCALE['sessions']} sessions took {f.loads['first'].seconds:.1f} s, "
            f"{f.loads['first'].seconds / f.loads['raw'].seconds:.1f}× plain sqlite3; loading the same file "
            f"again took {f.loads['second'].seconds / f.loads['first'].seconds:.0%} of the first load and "
            "changed nothing.",
            f"- Importing {large:,} attendees took {imports['first'].seconds:.1f} s "
            f"({imports['first'].max_rss_kb / 1024:.0f} MB), {imports['first'].seconds / imports['raw'].seconds:.1f}× "
            f"plain sqlite3; importing the same file again took {imports['again'].seconds:.1f} s "
            f"({imports['again'].max_rss_kb / 1024:.0f} MB) and changed nothing.",
            *_door_meanings(f),
            "",
        ]
    )


def _door_report(f: Figures) -> list[str]:
    """The door check-in section of bench/RESULTS.md."""
    redeem, checks, bundle = f.doors["redeem"], f.doors["check"], f.doors["bundle"]
    statuses = "; ".join(
        f"{name}: " + ", ".join(f"{n:,} × {code}" for code, n in sorted(seen.items()))
        for name, seen in redeem["statuses"].items()
    )
    mix = ", ".join(f"{result} {n:,}" for result, n in redeem["mix"].items())
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in redeem["types"].items())
    check_row = "offline check: `ticketcode.parse` + `ticketcode.verify` + revoked set + roster dict"
    bare_verify = "bare limit: Ed25519 `verify` of the same signature and message (`cryptography`, key loaded)"
    lines = [
        "## Door check-in",
        "",
        "### Redeeming scans online",
        "",
        f"`POST {CHECKINS}` on a server as `make run` (2 sync workers) with `EVENTDESK_NOW={DOOR_NOW}` (so "
        f"{DOOR_LIST} is open), holding the built-in conference and {REDEEM_ATTENDEES:,} attendees "
        "(`generate-attendees` + `import-attendees --event ecc2014 --tokens-out TOKENS`), whose QR payloads "
        f"were fetched once with `GET {ME}/ticket` and their own tokens; the door token is from "
        '`eventdesk-server create-device --event ecc2014 --name "Bench door"`. Driven by `wrk -t1 '
        f"-c{REDEEM_CONNECTIONS} -d{DURATION}s --latency -s bench/redeem.lua` after {WARMUP} s of warm-up of "
        f'each server: every request is a new scan, `{{"payload", "list": "{DOOR_LIST}", "type", "scan_id"}}` '
        "with a scan id never sent before; request k scans ticket k mod "
        f"{REDEEM_ATTENDEES:,}, as an exit in the first pass over the tickets, an entry in the second, and so "
        "on, so every scan should be accepted (`ok`, 201): an exit always is, and the list allows re-entry. "
        "The limit is `create_write_app` of bench/bare_app.py under the same gunicorn config: it parses the "
        "same JSON and does one INSERT into a table with a unique scan id (BEGIN IMMEDIATE, INSERT, COMMIT) "
        f"in a WAL database with server/db.py's settings (synchronous={SYNCHRONOUS}: one fsync of the WAL per "
        "commit, as the server pays; busy timeout 10 s), one "
        "connection kept per worker. Runs alternate with the limit's, as the HTTP reads do.",
        "",
        *_load_table(redeem["rows"], f),
        "",
        f"Mean ratio {f.redeem_ratio:.2f}, target ≥ {REDEEM_TARGET}: {mark(f.redeem_ratio, REDEEM_TARGET)}. "
        f"{_fsync_cost(f)} "
        f"HTTP statuses (from the script): {statuses}. Results recorded in the server's scans table over "
        f"the whole run, warm-up included: {mix} (by type: {kinds}).",
        "",
        "### Checking one scan offline",
        "",
        "What a door device does with the door bundle when offline, in-process: parse the QR text and verify "
        "its Ed25519 signature with server/ticketcode.py and the bundle's public keys, look the serial up in "
        "the revoked serials (a set) and the roster (a dict by serial); bench/door.py. The limit is the one "
        "step no door can skip: `cryptography`'s Ed25519 verify of the same 64-byte signature over the same "
        f"message, the key loaded once. {CHECK_SAMPLES:,} timeit samples of one call each, the two alternated "
        f"call by call, over the {REDEEM_ATTENDEES:,} payloads above (bundle of the redeem server, "
        f"{redeem['bundle_bytes']:,} bytes). Ratio = limit / check.",
        "",
        "| | median µs | p99 µs | ratio (median) | ratio (p99) |",
        "|---|---|---|---|---|",
        f"| {bare_verify} | {checks['bare'].median_us:.1f} | {checks['bare'].p99_us:.1f} | 1.00 | 1.00 |",
        f"| {check_row} | {checks['check'].median_us:.1f} | {checks['check'].p99_us:.1f} "
        f"| {checks['bare'].median_us / checks['check'].median_us:.2f} "
        f"| {checks['bare'].p99_us / checks['check'].p99_us:.2f} |",
        "",
        f"### Door bundle with {ATTENDEE_COUNTS[-1]:,} attendees",
        "",
        f"The attendee file of the import above imported into a copy of the built-in conference "
        f"({bundle['import'].seconds:.1f} s, {_one_line(bundle['import'])}), then `GET {DOOR_BUNDLE}` with a "
        f"door token, {BUNDLE_RUNS} times as is and {BUNDLE_RUNS} times with `Accept-Encoding: gzip`, "
        "alternated; time from connecting to the last byte, median. Then "
        f"`import-attendees` of {DELTA} new attendees while the server runs, and `?since=<cursor of the whole "
        f"bundle>` the same way; then {DELTA} online scans of them (entries, 201) and that delta again. The "
        "limit for the whole bundle is plain sqlite3 + json.dumps in the bench's own process selecting the "
        "roster's columns (serial, name, organisation, category; no lists, keys or presence) of the same "
        f"database, alternated with the requests (median of {BUNDLE_RUNS}). Ratio = limit time / time.",
        "",
        "| | median ms | median ms, gzip | bytes | gzip bytes | ratio to limit |",
        "|---|---|---|---|---|---|",
        f"| bare limit: sqlite3 + json.dumps of the roster | {bundle['bare_ms']:,.1f} | | "
        f"{bundle['bare_bytes']:,} | | 1.00 |",
    ]
    for name, fetched in f.bundles.items():
        if fetched.failure:
            lines.append(f"| {name} | **failed**: {fetched.failure} | | | | |")
            continue
        plain, packed = fetched.median_ms("identity"), fetched.median_ms("gzip")
        ratio = f"{bundle['bare_ms'] / plain:.2f}" if name == "whole bundle" else ""
        lines.append(
            f"| {name} | {plain:,.1f} | {packed:,.1f} | {len(fetched.body):,} | {len(fetched.gzipped):,} | {ratio} |"
        )
    idle, peak = (", ".join(f"{kb / 1024:.0f}" for kb in bundle[key]) or "unknown" for key in ("idle_kb", "peak_kb"))
    return [
        *lines,
        "",
        f"Peak RSS (VmHWM) of the server's workers: {idle} MB when ready, {peak} MB after all of the above.",
        "",
    ]


def _fsync_cost(f: Figures) -> str:
    """What synchronous=FULL costs, from the same bare limit run under NORMAL (the setting before)."""
    normal, bare = f.doors["redeem"]["normal"].rps, f.limits_of(f.doors["redeem"]["rows"])
    redeem = statistics.mean(row.load.rps for row in f.redeems)
    return (
        f"The same bare limit under synchronous=NORMAL (the server's setting before FULL; run once before "
        f"and once after the series above) averaged {normal:,.0f} req/s: under {SYNCHRONOUS} the bare limit "
        f"ran at {bare / normal:.2f} of that, and redeeming at {redeem / normal:.2f}."
    )


def _door_meanings(f: Figures) -> list[str]:
    """The door check-in bullets of 'What the numbers mean'."""
    checks, bundle, whole = f.doors["check"], f.doors["bundle"], f.bundles["whole bundle"]
    failures = f.failures()
    return [
        f"- Redeeming a scan ran at {f.redeem_ratio:.2f} of the rate of one bare INSERT + COMMIT per request "
        f"(target {REDEEM_TARGET}), both with synchronous={SYNCHRONOUS}. {_fsync_cost(f)}",
        f"- Checking a scan offline took {checks['check'].median_us:.0f} µs, "
        f"{checks['check'].median_us / checks['bare'].median_us:.2f}× the Ed25519 verify alone.",
        f"- The whole door bundle for {ATTENDEE_COUNTS[-1]:,} attendees took {whole.median_ms('identity'):,.0f} ms "
        f"({len(whole.body) / 1e6:.1f} MB, {len(whole.gzipped) / 1e6:.1f} MB gzipped), "
        f"{whole.median_ms('identity') / bundle['bare_ms']:.1f}× plain sqlite3 + json.dumps of its roster.",
        f"- Failures: {'; '.join(failures)}." if failures else "- Failures: none.",
    ]


def summary(f: Figures) -> list[str]:
    """The ratios and marks, for the terminal."""
    lines = [f"\nBare limits: largest spread {max(f.spreads.values()):.0%}; ratios:"]
    for row in f.reads:
        ratio = f.ratio(row)
        target = f"target ≥ {row.target}: {mark(ratio, row.target)}" if row.target is not None else ""
        lines.append(f"  {row.name:<58} {ratio:5.2f}  {target}")
    for count, load in sorted(f.workers.items()):
        lines.append(f"  {f'WEB_CONCURRENCY={count} /programme':<58} {load.rps / f.limits[PROGRAMME]:5.2f}")
    for name, runs in (("Load", f.loads), ("Import", f.imports)):
        first, again = runs["first"], runs.get("second") or runs["again"]
        lines.append(
            f"{name} {first.seconds:.2f} s, {first.max_rss_kb / 1024:.0f} MB "
            f"({runs['raw'].seconds / first.seconds:.2f} of raw sqlite3's {runs['raw'].seconds:.2f} s); "
            f"again {again.seconds:.2f} s: {_one_line(again)}"
        )
    lines.append(f"{ATTENDEE_COUNTS[-1]:,} / {ATTENDEE_COUNTS[0]:,} attendees (p50, p99), at most {SCALE_LIMIT}:")
    for kind in f.latency:
        p50, p99 = f.growth(kind)
        slow = _scale_marks(f, kind)
        lines.append(f"  {kind:<58} {p50:5.2f} {p99:5.2f}  {'miss: ' + ', '.join(slow) if slow else 'pass'}")
    ratio = f.redeem_ratio
    lines.append(f"Redeem `POST /checkins` -c{REDEEM_CONNECTIONS}, ratio to a bare INSERT + COMMIT:")
    for row in f.redeems:
        lines.append(f"  {row.name:<58} {f.ratio(row):5.2f}")
    lines.append(f"  {'mean':<58} {ratio:5.2f}  target ≥ {REDEEM_TARGET}: {mark(ratio, REDEEM_TARGET)}")
    lines += _door_meanings(f)[1:]
    return lines


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (`make bench` installs it: apt-get install wrk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds, so the servers are stopped
    started, clock, load_avg = datetime.now(UTC), time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="eventdesk-bench-") as tmp:
        http = http_section(Path(tmp))
        scale = scale_section(Path(tmp))
        attendees = attendee_section(Path(tmp))
        doors = door_section(Path(tmp), attendees["source"], ATTENDEE_COUNTS[-1])
    f = figures(http, scale, attendees, doors)
    wall = time.monotonic() - clock
    RESULTS.write_text(report(http, scale, attendees, f, started, wall, load_avg), encoding="utf-8")
    print("\n".join(summary(f)))
    print(f"Wall time {time.monotonic() - clock:.0f} s; tables in {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
