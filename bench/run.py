"""Eventdesk benchmark (`make bench`): writes bench/RESULTS.md and prints a summary.

The machines this runs on are small, shared and noisy, so absolute figures mean little.
Every figure is reported as a ratio to a limit measured in the same run:
  * HTTP reads against bench/bare_app.py, Flask answering with each endpoint's own bytes from
    memory under the same gunicorn config as `make run` (server/gunicorn_conf.py);
  * loading a programme file against bench/raw_sqlite.py, plain sqlite3 writing the same rows;
  * importing attendees against bench/raw_attendees.py, plain sqlite3 writing the same rows;
  * personal-feed and bookmark latency with 100,000 attendees against the same with 1,000.
Servers bind 127.0.0.1 only, and are stopped on the way out, even on error.
"""

from __future__ import annotations

import contextlib
import csv
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
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from bare_app import write_bodies

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

# Seconds per wrk measurement: 5 (8 until the calendar reads came), to keep the run near 5 minutes.
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
    bare_of: str | None = None  # on a bare-limit row: the path whose bytes it served


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


def fetch(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
    """One request on a connection of its own (no keep-alive); a 304 or 404 is an answer here."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, target, headers={"Connection": "close", **(headers or {})})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    return Answer(response.status, dict(response.headers), body, (time.perf_counter() - started) * 1000)


@contextlib.contextmanager
def serve(app: str, tmp: Path, name: str, ready: str = PROGRAMME, **env: str) -> Iterator[str]:
    """Run `app` under gunicorn with the config `make run` uses; yields its base URL.

    The one addition is a private control socket: gunicorn's default is one per user, and
    the bench must not take it over from a server someone is running on this machine.
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
        yield base
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
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s", "--timeout", "5s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=duration + 30)
    text = out.stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    check(errors is None, f"{url}: error responses under load:\n{text}")
    percentiles = re.finditer(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\b", text, re.MULTILINE)
    latency = {m[1]: float(m[2]) * _TO_MS[m[3]] for m in percentiles}
    return Load(float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1]), latency["50"], latency["99"])


def measure(label: str, url: str, headers: dict[str, str] | None = None) -> Load:
    """Warm up, then measure."""
    wrk(url, headers, duration=WARMUP)
    load = wrk(url, headers)
    print(
        f"  {label:<60} {load.rps:7,.0f} req/s  p50 {load.p50_ms:.2f} ms  p99 {load.p99_ms:.2f} ms",
        flush=True,
    )
    return load


# --- attendees ---------------------------------------------------------------------------


def import_attendees(source: Path, slug: str, data_dir: Path, tokens: Path) -> ProcessRun:
    """`eventdesk-server import-attendees`, issuing tokens to the new attendees."""
    return eventdesk("import-attendees", source, "--event", slug, "--tokens-out", tokens, data_dir=data_dir)


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
    one.write_text("name,email,organisation,country,category\nBench Person,bench@example.org,,BE,academia\n")
    import_attendees(one, "ecc2014", data, tmp / "one-attendee-token.csv")
    real = {"EVENTDESK_DATA_DIR": str(data)}

    print(f"HTTP: wrk {DURATION}s per endpoint after {WARMUP}s warm-up, {CONNECTIONS} connections")
    # Both servers stay up (idle ones cost nothing) and each read is measured between two runs
    # of the bare limit sending its bytes, so it is compared with the limit at that moment.
    # The bare app starts second: the feeds embed the real server's address in their bytes.
    with contextlib.ExitStack() as servers:
        base = servers.enter_context(serve("server:create_app()", tmp, "real", **real))
        reads, bodies = _reads(base, first_token(tmp / "one-attendee-token.csv")[1])
        write_bodies(tmp / "bodies", bodies)
        bare_env = {"EVENTDESK_BENCH_BODIES": str(tmp / "bodies")}
        bare_base = servers.enter_context(serve("bench.bare_app:create_app()", tmp, "bare", **bare_env))
        for path, (body, content_type) in bodies.items():
            answer = fetch(bare_base + path)
            check((answer.status, answer.headers["Content-Type"], answer.body) == (200, content_type, body), path)
        rows = _interleaved(base, bare_base, reads)
    workers: dict[int, list[Load]] = {}
    for count in WORKER_COUNTS:
        with serve("server:create_app()", tmp, f"workers-{count}", WEB_CONCURRENCY=str(count), **real) as base:
            workers.setdefault(count, []).append(measure(f"`/programme`, {count} workers", base + PROGRAMME))
    sizes = {path: (len(body), content_type) for path, (body, content_type) in bodies.items()}
    return {"rows": rows, "workers": workers, "bodies": sizes, "names": {read.path: read.body for read in reads}}


def _reads(base: str, token: str) -> tuple[list[Read], dict[str, tuple[bytes, str]]]:
    """What to measure, checked once; and each path's 200 body and Content-Type."""
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
    bodies, etags = {}, {}
    for read in reads:
        if read.revalidate:
            read.headers = {"If-None-Match": etags[read.path]}
        answer = fetch(base + read.path, read.headers)
        check(answer.status == (304 if read.revalidate else 200), f"{read.path} {read.headers}: {answer.status}")
        if not read.revalidate:
            bodies[read.path] = (answer.body, answer.headers["Content-Type"])
            etags[read.path] = answer.headers.get("ETag")
    check(bodies[PROGRAMME][1] == "application/json", f"programme: {bodies[PROGRAMME][1]}")
    check(bodies[person.feed][1].startswith("text/calendar"), f"personal feed: {bodies[person.feed][1]}")
    check(bodies[person.feed][0].count(b"BEGIN:VEVENT") == BOOKMARKS, "the personal feed lacks bookmarks")
    return reads, bodies


def _interleaved(base: str, bare_base: str, reads: list[Read]) -> list[Row]:
    """Rows in the order measured: the bare limit, then each read of those bytes and the limit again."""
    rows: list[Row] = []
    for _path, same_bytes in itertools.groupby(reads, key=lambda read: read.path):
        group = list(same_bytes)
        bares = [_bare(group[0], 1, bare_base)]
        rows.append(bares[0])
        for read in group:
            row = Row(read.name, measure(read.name, base + read.path, read.headers), read.target)
            bares.append(_bare(read, len(bares) + 1, bare_base))
            row.limit = (bares[-2].load.rps + bares[-1].load.rps) / 2
            rows += [row, bares[-1]]
        for bare in bares:
            bare.limit = statistics.mean(b.load.rps for b in bares)
    return rows


def _bare(read: Read, n: int, bare_base: str) -> Row:
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
            + ", ".join(f"{k.split(' (')[0]} p50 {_p(v, 50):.2f} ms" for k, v in kinds.items())
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


def _p(samples: list[float], percent: int) -> float:
    """The `percent` percentile of `samples` (ms)."""
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


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

    @property
    def reads(self) -> list[Row]:
        return [row for row in self.rows if row.bare_of is None]

    def ratio(self, row: Row) -> float:
        return row.load.rps / row.limit

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
        return late + slow


def figures(http: dict, scale: dict, attendees: dict) -> Figures:
    bares: dict[str, list[float]] = {}
    for row in http["rows"]:
        if row.bare_of is not None:
            bares.setdefault(row.bare_of, []).append(row.load.rps)
    limits = {path: statistics.mean(rps) for path, rps in bares.items()}
    spreads = {path: (max(rps) - min(rps)) / limits[path] for path, rps in bares.items()}
    workers = {count: Load.mean(loads) for count, loads in http["workers"].items()}
    latency = {
        kind: {count: (_p(kinds[kind], 50), _p(kinds[kind], 99)) for count, kinds in attendees["latency"].items()}
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
    spread = max(f.spreads.values())
    programme_kb = http["bodies"][PROGRAMME][0] // 1000
    bodies = [
        f"{http['names'][path]} {size:,} bytes ({content_type})"
        for path, (size, content_type) in http["bodies"].items()
    ]
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
            "calendar reads were added, 8 s before, to keep the whole run near 5 minutes). The limit is "
            "bench/bare_app.py under the same gunicorn config, answering each path from memory with the "
            "bytes and Content-Type the real endpoint's 200 has there (a 304 is held to sending its full "
            f"body, as before): {'; '.join(bodies)}. The personal feed is that of an attendee made with "
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
            "## What the numbers mean",
            "",
            "- A ratio of 1.00 means Eventdesk's own request path (flask-restx dispatch, the database "
            "snapshot and version check, the token lookup, the response cache, conditional headers) costs "
            "nothing over gunicorn + Flask handing out the same bytes from memory.",
            f"- Targets missed: {', '.join(missed) or 'none'}. The limit varied by up to {spread:.0%} over the "
            "run: a ratio within that of its target is no clear pass or miss. With "
            f"{min(ROUNDS * HITS, ROUNDS * CYCLES)} to {max(ROUNDS * HITS, ROUNDS * 2 * CYCLES)} requests per "
            "latency figure, a p99 rests on a few requests and moves with the machine's noise more than a p50.",
            f"- The 304 ran at {not_modified.rps / full.rps:.2f}× the rate of the full 200: "
            + (
                f"the time goes into each request's fixed cost, not into sending {programme_kb} kB."
                if not_modified.rps < 1.2 * full.rps
                else "sending the body is a large part of each request's cost."
            ),
            f"- The personal feed's 304 ran at {feed_304.rps / feed.rps:.2f}× the rate of its 200.",
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
            "",
        ]
    )


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
    f = figures(http, scale, attendees)
    wall = time.monotonic() - clock
    RESULTS.write_text(report(http, scale, attendees, f, started, wall, load_avg), encoding="utf-8")
    print("\n".join(summary(f)))
    print(f"Wall time {time.monotonic() - clock:.0f} s; tables in {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
