"""Eventdesk benchmark (`make bench`): writes bench/RESULTS.md and prints a summary.

The machines this runs on are small, shared and noisy, so absolute figures mean little.
Every figure is reported as a ratio to a limit measured in the same run:
  * HTTP reads against bench/bare_app.py, Flask answering with the same programme bytes from
    memory under the same gunicorn config as `make run` (server/gunicorn_conf.py);
  * loading a programme file against bench/raw_sqlite.py, plain sqlite3 writing the same rows.
Servers bind 127.0.0.1 only, run one at a time, and are stopped on the way out, even on error.
"""

from __future__ import annotations

import contextlib
import os
import platform
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
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # `make bench` runs .venv/bin/python
RESULTS = ROOT / "bench" / "RESULTS.md"

EVENT = "/api/v1/events/ecc2014"
PROGRAMME = f"{EVENT}/programme"
SESSIONS_BY_TRACK = f"{EVENT}/sessions?track=sme-growth"
ONE_SESSION = f"{EVENT}/sessions/opening-plenary"

DURATION = 8  # seconds per wrk measurement
WARMUP = 2  # seconds of wrk first, so every worker has its response cache filled
# Two connections per sync worker: one being served while the next waits in the backlog, so
# no worker idles; more would only add queueing to the latency, not throughput.
CONNECTIONS = 4
WORKER_COUNTS = (2, 4, 2, 4)  # alternated, so drift on the machine hits both alike
SCALE = {"sessions": 5000, "speakers": 3000}
REPEATS = 3  # whole-process timings are about a second, so take the median of a few

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
    limit: float | None = None  # the bare limit measured around this row, when there is one


@dataclass
class ProcessRun:
    """One whole-process timing."""

    seconds: float
    max_rss_kb: int
    output: str


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


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One plain GET; a 304 or 404 is an answer here, not an exception."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as answer:
        return answer.code, dict(answer.headers), answer.read()


@contextlib.contextmanager
def serve(app: str, tmp: Path, name: str, **env: str) -> Iterator[str]:
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
        _wait_ready(base, proc, log_path)
        yield base
    finally:
        _stop(proc)


def _wait_ready(base: str, proc: subprocess.Popen, log_path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check(proc.poll() is None, f"gunicorn exited ({proc.returncode}):\n{log_path.read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            if fetch(base + PROGRAMME)[0] == 200:
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
        f"  {label:<40} {load.rps:7,.0f} req/s  p50 {load.p50_ms:.2f} ms  p99 {load.p99_ms:.2f} ms",
        flush=True,
    )
    return load


# --- sections ----------------------------------------------------------------------------


def http_section(tmp: Path) -> dict:
    """The real endpoints and worker counts, and the bare limit before and after them."""
    data = tmp / "data"
    eventdesk("init-db", data_dir=data)
    eventdesk("load-programme", "--builtin", data_dir=data)
    real = {"EVENTDESK_DATA_DIR": str(data)}

    with serve("server:create_app()", tmp, "check", **real) as base:
        status, headers, body = fetch(base + PROGRAMME)
        check(status == 200 and headers["Content-Type"] == "application/json", f"programme: {status}")
        etag = headers["ETag"]
        status = fetch(base + PROGRAMME, {"If-None-Match": etag})[0]
        check(status == 304, f"If-None-Match {etag} answered {status}, not 304")
        for path in (SESSIONS_BY_TRACK, ONE_SESSION):
            status = fetch(base + path)[0]
            check(status == 200, f"{path} answered {status}")
    body_path = tmp / "programme.json"
    body_path.write_bytes(body)

    print(f"HTTP: wrk {DURATION}s per endpoint after {WARMUP}s warm-up, {CONNECTIONS} connections")
    reads = [
        ("`/programme` (200, full)", PROGRAMME, None, 0.8),
        ("`/programme` If-None-Match (304)", PROGRAMME, {"If-None-Match": etag}, 0.9),
        ("`/sessions?track=sme-growth`", SESSIONS_BY_TRACK, None, 0.5),
        ("`/sessions/opening-plenary`", ONE_SESSION, None, 0.5),
    ]
    # Both servers stay up (idle ones cost nothing) and the bare limit is measured before and
    # after every read, so each read is compared with the limit at that moment, not an hour ago.
    bare_env = {"EVENTDESK_BENCH_BODY": str(body_path)}
    with (
        serve("bench.bare_app:create_app()", tmp, "bare", **bare_env) as bare_base,
        serve("server:create_app()", tmp, "real", **real) as base,
    ):
        status, headers, same = fetch(bare_base + PROGRAMME)
        check((status, headers["Content-Type"], same) == (200, "application/json", body), "bare app")
        bare = [Row("bare limit (1)", measure("bare limit (1)", bare_base + PROGRAMME))]
        rows = []
        for n, (name, path, headers, target) in enumerate(reads, start=2):
            row = Row(name, measure(name, base + path, headers), target)
            bare.append(Row(f"bare limit ({n})", measure(f"bare limit ({n})", bare_base + PROGRAMME)))
            row.limit = (bare[-2].load.rps + bare[-1].load.rps) / 2
            rows.append(row)
    workers: dict[int, list[Load]] = {}
    for count in WORKER_COUNTS:
        with serve("server:create_app()", tmp, f"workers-{count}", WEB_CONCURRENCY=str(count), **real) as base:
            workers.setdefault(count, []).append(measure(f"`/programme`, {count} workers", base + PROGRAMME))
    return {"bare": bare, "rows": rows, "workers": workers, "bytes": len(body)}


def scale_section(tmp: Path) -> dict:
    """Loading a large file as a whole process, against plain sqlite3 writing the same rows."""
    print(f"Scale: {SCALE['sessions']} sessions, {SCALE['speakers']} speakers, {REPEATS} runs each")
    source = tmp / "synthetic.json"
    sizes = [f"--{name}={n}" for name, n in SCALE.items()]
    eventdesk("generate-synthetic", *sizes, "-o", source, data_dir=tmp / "unused")
    raw_loader = [sys.executable, ROOT / "bench" / "raw_sqlite.py", source]
    first, raw = [], []
    for n in range(REPEATS):  # alternated, so drift on the machine hits both alike
        raw.append(run_timed([*raw_loader, tmp / f"raw-{n}.db", ROOT / "server" / "schema.sql"], clean_env()))
        first.append(eventdesk("load-programme", source, data_dir=tmp / f"scale-{n}"))
    second = [eventdesk("load-programme", source, data_dir=tmp / "scale-0") for _ in range(REPEATS)]
    check(all("version 0 -> 1" in run.output for run in first), first[0].output)
    check(all("unchanged" in run.output for run in second), second[0].output)
    return {"first": first, "second": second, "raw": raw, "file_mb": source.stat().st_size / 1e6}


# --- report ------------------------------------------------------------------------------


@dataclass
class Figures:
    """What the report needs, computed once."""

    limit: float
    spread: float
    rows: list[Row]
    workers: dict[int, Load]
    raw: ProcessRun
    first_load: ProcessRun
    second_load: ProcessRun

    def ratio(self, row: Row) -> float:
        return row.load.rps / (row.limit or self.limit)


def figures(http: dict, scale: dict) -> Figures:
    bares = [row.load.rps for row in http["bare"]]
    limit = statistics.mean(bares)
    workers = {count: Load.mean(loads) for count, loads in http["workers"].items()}
    raw, first_load, second_load = (_median(scale[key]) for key in ("raw", "first", "second"))
    spread = (max(bares) - min(bares)) / limit
    return Figures(limit, spread, http["rows"], workers, raw, first_load, second_load)


def _median(runs: list[ProcessRun]) -> ProcessRun:
    """The median time, the highest peak memory, the first output (they are all alike)."""
    seconds = statistics.median(run.seconds for run in runs)
    return ProcessRun(seconds, max(run.max_rss_kb for run in runs), runs[0].output)


def mark(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return "pass" if ratio >= target else "**miss**"


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


def report(http: dict, scale: dict, f: Figures, started: datetime, wall: float, load_avg: float) -> str:
    """bench/RESULTS.md: the tables, the ratios to the limits against the targets, and notes."""
    bare = http["bare"]
    full, not_modified = f.rows[0].load, f.rows[1].load
    missed = [row.name for row in f.rows if row.target is not None and f.ratio(row) < row.target]
    worker_rows = [
        Row(f"WEB_CONCURRENCY={count}, run {n}", load)
        for count, loads in sorted(http["workers"].items())
        for n, load in enumerate(loads, start=1)
    ] + [Row(f"WEB_CONCURRENCY={count}, mean", load) for count, load in sorted(f.workers.items())]
    two, four = f.workers[2].rps, f.workers[4].rps
    loads = [("raw sqlite3 (the limit)", f.raw), ("first load, fresh data dir", f.first_load)]
    loads.append(("second load, same file", f.second_load))
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
            f"{WARMUP} s of warm-up, one measurement at a time. The limit is bench/bare_app.py under the "
            f"same gunicorn config, answering with the same {http['bytes']:,} bytes as the real "
            "`/programme` from memory (for the session reads too, whose own answers are smaller). The "
            "limit is measured before and after every read, and each read's ratio is to the mean of "
            f"those two; over the run the limit averaged {f.limit:,.0f} req/s (spread {f.spread:.0%}).",
            "",
            *_load_table([*bare, *f.rows], f),
            "",
            "The single-session read has no target of its own; it is held to that of the filtered lists.",
            "",
            "## Worker count",
            "",
            "`/programme` (200) with WEB_CONCURRENCY set (server/gunicorn_conf.py defaults to 2), "
            "runs alternated, same wrk settings, ratio to the run's mean limit.",
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
            "| | wall s | peak RSS MB | ratio to raw | output |",
            "|---|---|---|---|---|",
            *(
                f"| {name} | {run.seconds:.2f} | {run.max_rss_kb / 1024:.0f} "
                f"| {f.raw.seconds / run.seconds:.2f} | {run.output} |"
                for name, run in loads
            ),
            "",
            "## What the numbers mean",
            "",
            "- A ratio of 1.00 means Eventdesk's own request path (flask-restx dispatch, the database "
            "snapshot and version check, the response cache, conditional headers) costs nothing over "
            "gunicorn + Flask handing out bytes from memory.",
            f"- Targets missed: {', '.join(missed) or 'none'}. The limit varied by {f.spread:.0%} over the "
            "run: a ratio within that of its target is no clear pass or miss.",
            f"- The 304 ran at {not_modified.rps / full.rps:.2f}× the rate of the full 200: "
            + (
                f"the time goes into each request's fixed cost, not into sending {http['bytes'] // 1000} kB."
                if not_modified.rps < 1.2 * full.rps
                else "sending the body is a large part of each request's cost."
            ),
            f"- 4 workers served {four / two:.2f}× the requests of 2 on {os.cpu_count()} CPUs, with a p99 of "
            f"{f.workers[4].p99_ms:.1f} ms against {f.workers[2].p99_ms:.1f} ms: "
            + (
                "the measurement supports the default of 2."
                if four <= 1.1 * two
                else "on this run 4 workers were clearly faster; revisit the default of 2."
            ),
            f"- Loading {SCALE['sessions']} sessions took {f.first_load.seconds:.1f} s, "
            f"{f.first_load.seconds / f.raw.seconds:.1f}× plain sqlite3; loading the same file again took "
            f"{f.second_load.seconds / f.first_load.seconds:.0%} of the first load and changed nothing.",
            "",
        ]
    )


def summary(f: Figures) -> list[str]:
    """The ratios and marks, for the terminal."""
    lines = [f"\nBare limit {f.limit:,.0f} req/s (spread {f.spread:.0%}); ratios:"]
    for row in f.rows:
        ratio = f.ratio(row)
        lines.append(f"  {row.name:<36} {ratio:5.2f}  target ≥ {row.target}: {mark(ratio, row.target)}")
    for count, load in sorted(f.workers.items()):
        lines.append(f"  {f'WEB_CONCURRENCY={count} /programme':<36} {load.rps / f.limit:5.2f}")
    lines.append(
        f"Load {f.first_load.seconds:.2f} s, {f.first_load.max_rss_kb / 1024:.0f} MB "
        f"({f.raw.seconds / f.first_load.seconds:.2f} of raw sqlite3's {f.raw.seconds:.2f} s); "
        f"again {f.second_load.seconds:.2f} s: {f.second_load.output}"
    )
    return lines


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (`make bench` installs it: apt-get install wrk)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwinds, so the servers are stopped
    started, clock, load_avg = datetime.now(UTC), time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="eventdesk-bench-") as tmp:
        http = http_section(Path(tmp))
        scale = scale_section(Path(tmp))
    f = figures(http, scale)
    RESULTS.write_text(report(http, scale, f, started, time.monotonic() - clock, load_avg), encoding="utf-8")
    print("\n".join(summary(f)))
    print(f"Wall time {time.monotonic() - clock:.0f} s; tables in {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
