"""What the Prometheus metrics cost a request: the same reads with and without them, same run.

Run by `make bench` (or alone: `.venv/bin/python bench/metrics_bench.py`); writes its own
section of bench/RESULTS.md (bench/sections.py) and leaves the rest as it is.

Two gunicorns on one database, as `make run` serves (server/gunicorn_conf.py, so multiprocess
mode with its per-worker files): one as shipped, one with EVENTDESK_METRICS=0 (no middleware,
no /metrics). wrk drives `GET /programme` (a full cached read) and its 304 (answered before
Flask, server/revalidation.py: the cheapest request there is, so the one where a fixed cost
shows most) on each in turn, rounds alternated so drift on the machine hits both alike; the
figure is the median, over the rounds, of the rate with metrics over the rate without (each
pair measured back to back). This machine is shared, so a steadier figure beside it: the
same 304 called in-process straight through the WSGI stack (no HTTP, no gunicorn), with and
without the metrics, in multiprocess mode, best of several repeats, in microseconds. Then the
time of one scrape of /metrics after the load (every route's series and every worker's file).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import run
from run import PROGRAMME, Load, eventdesk, fetch, serve, wrk
from sections import write_section

ROUNDS = 4
SECONDS = 3  # per wrk measurement; a 1-second warm-up first
CALLS = 2000  # in-process 304s per repeat
SCRAPES = 20


def measure_pair(base_on: str, base_off: str, path: str, headers: dict[str, str] | None) -> dict:
    """Mean loads with and without metrics, and the median ratio of the back-to-back pairs."""
    loads: dict[str, list[Load]] = {"on": [], "off": []}
    for round_number in range(ROUNDS):
        order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
        for name in order:
            base = base_on if name == "on" else base_off
            wrk(base + path, headers, duration=1)
            loads[name].append(wrk(base + path, headers, duration=SECONDS))
    ratios = [on.rps / off.rps for on, off in zip(loads["on"], loads["off"], strict=True)]
    return {"on": Load.mean(loads["on"]), "off": Load.mean(loads["off"]), "ratio": statistics.median(ratios)}


_IN_PROCESS = """
import os, sys, tempfile, timeit
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp()  # before prometheus_client is imported
from werkzeug.test import EnvironBuilder
from server import create_app
data, calls = sys.argv[1], int(sys.argv[2])
for metrics in (True, False):
    app = create_app({"DATA_DIR": data, "METRICS": metrics})
    path = "/api/v1/events/ecc2014/programme"
    etag = app.test_client().get(path).headers["ETag"]
    environ = EnvironBuilder(path=path, headers={"If-None-Match": etag}).get_environ()
    def one():
        list(app.wsgi_app(dict(environ), lambda status, headers, exc_info=None: None))
    timeit.timeit(one, number=calls)
    print(min(timeit.repeat(one, number=calls, repeat=7)) / calls * 1e6)
"""


def in_process_us(data: Path) -> tuple[float, float]:
    """Microseconds of one 304 through the WSGI stack, with and without the metrics (best of 7)."""
    with_, without = run.run_timed(
        [run.BIN / "python", "-c", _IN_PROCESS, data, str(CALLS)], run.clean_env()
    ).output.split()
    return float(with_), float(without)


def scrape_ms(base: str) -> tuple[float, int]:
    """Median milliseconds of one /metrics scrape (its own connection), and the size of the text."""
    times, size = [], 0
    for _ in range(SCRAPES):
        answer = fetch(base + "/metrics")
        run.check(answer.status == 200, f"/metrics answered {answer.status}")
        times.append(answer.ms)
        size = len(answer.body)
    return statistics.median(times), size


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="eventdesk-metrics-bench-") as tmp_name:
        tmp = Path(tmp_name)
        data = tmp / "data"
        eventdesk("init-db", data_dir=data)
        eventdesk("load-programme", "--builtin", data_dir=data)
        with (
            serve("server:create_app()", tmp, "metrics-on", EVENTDESK_DATA_DIR=str(data)) as on,
            serve(
                "server:create_app()", tmp, "metrics-off", EVENTDESK_DATA_DIR=str(data), EVENTDESK_METRICS="0"
            ) as off,
        ):
            run.check(fetch(off + "/metrics").status == 404, "metrics still on with EVENTDESK_METRICS=0")
            full = fetch(on + PROGRAMME)
            etag = full.headers["ETag"]
            run.check(fetch(off + PROGRAMME).headers["ETag"] == etag, "the two servers answer differently")
            rows = [
                (f"`GET /programme` (200, {len(full.body) // 1024} KB)", measure_pair(on, off, PROGRAMME, None)),
                ("its 304 (`If-None-Match`)", measure_pair(on, off, PROGRAMME, {"If-None-Match": etag})),
            ]
            scrape, size = scrape_ms(on)
        with_us, without_us = in_process_us(data)
    lines = [
        "## Metrics: what counting costs a request",
        "",
        f"{run.machine()}, prometheus_client {metadata.version('prometheus-client')}; "
        f"gunicorn as `make run` (2 sync workers, prometheus_client multiprocess mode), wrk 1 thread, "
        f"{run.CONNECTIONS} connections, {ROUNDS} alternated rounds of {SECONDS} s each. "
        "Written by bench/metrics_bench.py.",
        "",
        "| read | with metrics | without (EVENTDESK_METRICS=0) | ratio with / without | p99 with / without |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, loads in rows:
        with_, without = loads["on"], loads["off"]
        lines.append(
            f"| {label} | {with_.rps:,.0f} req/s | {without.rps:,.0f} req/s | {loads['ratio']:.3f} | "
            f"{with_.p99_ms:.2f} / {without.p99_ms:.2f} ms |"
        )
    lines += [
        "",
        f"The same 304 in-process (WSGI stack only, multiprocess mode, best of 7 × {CALLS:,}): "
        f"{with_us:.1f} µs with metrics, {without_us:.1f} µs without: counting adds {with_us - without_us:.1f} µs "
        "a request (a counter and a histogram, three writes to this worker's mmap file).",
        "",
        f"One scrape of /metrics after the load: {scrape:.1f} ms median of {SCRAPES} ({size:,} bytes), "
        "reading every worker's files and the door devices from the database.",
    ]
    write_section("metrics_bench", "\n".join(lines))
    print("\n".join(lines))
    print(f"Wall time {time.monotonic() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
