"""The edge (deploy/nginx.conf) against the limit of this machine: nginx serving a static file.

Run by `make bench` (or alone: `.venv/bin/python bench/edge_bench.py`; needs nginx and wrk). It
writes its own section of bench/RESULTS.md (bench/sections.py) and leaves the rest as it is.

One nginx, started as `make edge` starts it (server/edge.py renders the shipped config), gets a
second `server` block on another port that serves, as static files, the very bytes the edge
answers with (gzip, as clients ask). Each read is measured through the edge, against that same
nginx serving its bytes from a file (run before and after, the mean taken, so drift on the
shared machine hits both), and straight from gunicorn:

  * `/programme` (gzip), its 304 (If-None-Match; the static file's 304 uses nginx's own ETag),
  * `programme.ics` (gzip),
  * a personal calendar feed (gzip), which the edge never caches: gunicorn answers every one.

Targets: through the edge at least 0.9 of the static file's rate, p99 at most twice its p99.
Then, with wrk loading the edge's `/programme`, a session is renamed through the app and the
edge is read until the new title shows: the seconds that took.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import Load, free_port, parse_load, run_wrk  # noqa: E402
from sections import write_section  # noqa: E402

from server import attendees, auth, db as database, edge  # noqa: E402

EVENT = "/api/v1/events/ecc2014"
DURATION = 5  # seconds per wrk run
WARMUP = 1
ROUNDS = 2  # edge runs per read, each between two runs of the static file
CONNECTIONS = 16  # a crowd: more than gunicorn's two sync workers could serve at once
RATE_TARGET, P99_TARGET = 0.9, 2.0
BIN = Path(sys.executable).parent
GZIP = {"Accept-Encoding": "gzip"}


def fetch(url: str, headers: dict | None = None, method: str = "GET", data: bytes | None = None):
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def wait_for(url: str, procs: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            fetch(url)
            return
        except OSError:
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                raise SystemExit(f"edge bench: {url} never answered") from None
            time.sleep(0.1)


def with_static_server(config: str, listen: str, root: Path) -> str:
    """The rendered config plus a server block serving `root` as plain files (the limit)."""
    block = (
        f"    server {{\n        listen {listen};\n        root {root};\n"
        "        default_type application/octet-stream;\n    }\n"
    )
    head, tail = config.rstrip().rsplit("}", 1)
    return head + block + "}" + tail + "\n"


def load(url: str, headers: dict | None = None) -> Load:
    run_wrk(url, headers, WARMUP, CONNECTIONS)
    text = run_wrk(url, headers, DURATION, CONNECTIONS)
    if "Non-2xx or 3xx" in text:
        raise SystemExit(f"edge bench: error answers from {url}:\n{text}")
    return parse_load(text)


def change_under_load(edge_base: str, app_base: str, admin: dict) -> float:
    """Seconds from a programme change (acknowledged by the app) to the edge showing it, under load."""
    url = f"{edge_base}{EVENT}/programme"
    loader = threading.Thread(target=run_wrk, args=(url, GZIP, DURATION, CONNECTIONS), daemon=True)
    loader.start()
    time.sleep(1.5)
    title = f"Opening plenary ({time.time():.0f})"
    body = json.dumps({"title": title}).encode()
    fetch(f"{app_base}{EVENT}/sessions/opening-plenary", {**admin, "Content-Type": "application/json"}, "PATCH", body)
    changed = time.monotonic()
    while title.encode() not in gzip.decompress(fetch(url, GZIP)[2]):  # the very entry under load
        if time.monotonic() - changed > 10:
            break
        time.sleep(0.01)
    seen = time.monotonic() - changed
    loader.join()
    return seen


def main() -> None:
    clock = time.monotonic()
    if shutil.which("wrk") is None:
        raise SystemExit("edge bench: wrk is not installed (make bench installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="edge-bench-"))
    env = {
        **os.environ,
        "EVENTDESK_DATA_DIR": str(tmp / "data"),
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "EVENTDESK_TRUSTED_PROXIES": "1",
    }
    edge_port, static_port = free_port(), free_port()
    procs: list[subprocess.Popen] = []
    try:
        for args in (["init-db"], ["load-programme", "--builtin", "--if-absent"]):
            subprocess.run([str(BIN / "eventdesk-server"), *args], env=env, check=True, capture_output=True)
        db = database.connect(str(tmp / "data" / "eventdesk.sqlite3"))
        admin = {"Authorization": f"Bearer {auth.create_token(db, 'admin', label='edge bench')}"}
        person = {"name": "Bench Person", "email": "bench@example.org", "category": "cluster-manager"}
        _, token = attendees.create_attendee(db, "ecc2014", person)
        db.close()
        app_base, edge_base = f"http://127.0.0.1:{env['PORT']}", f"http://127.0.0.1:{edge_port}"
        me = {"Authorization": f"Bearer {token}"}

        prefix, static = tmp / "edge", tmp / "static"
        static.mkdir()
        config = edge.prepare_prefix(prefix, f"127.0.0.1:{edge_port}", f"127.0.0.1:{env['PORT']}")
        config.write_text(with_static_server(config.read_text(), f"127.0.0.1:{static_port}", static))
        procs.append(subprocess.Popen(edge.gunicorn_command(), env=env, cwd=ROOT, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(edge.nginx_command(prefix, config), env=env))
        wait_for(f"{app_base}/api/v1/events", procs)
        wait_for(f"{edge_base}/api/v1/events", procs)
        for session in ("opening-plenary", "regional-policy-roundtable"):
            fetch(f"{app_base}/api/v1/me/schedule/{session}", me, "PUT")
        _, _, feed_doc = fetch(f"{app_base}/api/v1/me/calendar", me)
        feed = "/api/v1/calendars/" + json.loads(feed_doc)["https"].split("/api/v1/calendars/")[1]

        reads = [("`/programme` (gzip)", f"{EVENT}/programme", GZIP, False),
                 ("`/programme` 304", f"{EVENT}/programme", GZIP, True),
                 ("`programme.ics` (gzip)", f"{EVENT}/programme.ics", GZIP, False),
                 ("personal feed (gzip, never cached)", feed, GZIP, False)]  # fmt: skip
        rows = []
        for name, path, headers, conditional in reads:
            _, answer, body = fetch(f"{edge_base}{path}", headers)
            file_name = f"{len(rows)}.bin"
            (static / file_name).write_bytes(body)
            edge_headers, static_headers = dict(headers), {}
            if conditional:
                edge_headers["If-None-Match"] = answer["ETag"]
                static_headers["If-None-Match"] = fetch(f"http://127.0.0.1:{static_port}/{file_name}")[1]["ETag"]
            static_url = f"http://127.0.0.1:{static_port}/{file_name}"
            limits, throughs = [load(static_url, static_headers)], []
            for _ in range(ROUNDS):  # static, edge, static, edge, static: drift hits both alike
                throughs.append(load(f"{edge_base}{path}", edge_headers))
                limits.append(load(static_url, static_headers))
            through, limit = Load.mean(throughs), Load.mean(limits)
            direct = load(f"{app_base}{path}", edge_headers)
            rows.append((name, len(body), through, limit, direct))
            print(f"  {name}: edge {through.rps:,.0f}/s p99 {through.p99_ms:.1f} ms; static {limit.rps:,.0f}/s "
                  f"p99 {limit.p99_ms:.1f} ms; app {direct.rps:,.0f}/s", flush=True)  # fmt: skip
        seen = change_under_load(edge_base, app_base, admin)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)

    version = subprocess.run([edge.find_nginx(), "-v"], capture_output=True, text=True).stderr.strip()
    lines = [
        "## The edge: nginx in front of gunicorn (bench/edge_bench.py)",
        "",
        f"{platform.machine()}, {os.cpu_count()} cores (shared; load average {os.getloadavg()[1]:.1f} over the "
        f"run's last 5 minutes), {version.replace('nginx version: ', '')}, "
        f"deploy/nginx.conf as `make edge` renders it, gunicorn with 2 sync workers; wrk, 1 thread, "
        f"{CONNECTIONS} connections, {DURATION} s per run after {WARMUP} s. The limit is the same nginx "
        "serving the same bytes from a static file, run before and after each of "
        f"{ROUNDS} edge runs (means).",
        "",
        "| read | bytes | edge req/s | static file req/s | edge / static | edge p99 | static p99 "
        "| p99 ratio | app alone req/s | app p99 | targets |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, size, through, limit, direct in rows:
        ratio, p99_ratio = through.rps / limit.rps, through.p99_ms / limit.p99_ms
        met = "met" if ratio >= RATE_TARGET and p99_ratio <= P99_TARGET else "MISSED"
        if name.startswith("personal"):  # never cached, by design: the app's rate is its limit
            met = f"not cached by design: {through.rps / direct.rps:.2f} of the app alone"
        lines.append(
            f"| {name} | {size:,} | {through.rps:,.0f} | {limit.rps:,.0f} | {ratio:.2f} | "
            f"{through.p99_ms:.1f} ms | {limit.p99_ms:.1f} ms | {p99_ratio:.1f}x | {direct.rps:,.0f} | "
            f"{direct.p99_ms:.1f} ms | {met} |"
        )
    lines += [
        "",
        f"Targets: edge at least {RATE_TARGET} of the static file's rate, p99 at most {P99_TARGET:.0f}x its p99. "
        "The personal feed is passed to gunicorn on every request (nothing personal is cached), so "
        "its row is the app's own rate behind nginx, not a cache's.",
        "",
        f"A programme change under load (wrk on `/programme` through the edge): visible through the "
        f"edge {seen:.2f} s after the app acknowledged it (target: within 2 s"
        f"{'' if seen <= 2 else ' — MISSED'}).",
    ]
    write_section("edge_bench", "\n".join(lines))
    print("\n".join(lines))
    print(f"Edge bench: {time.monotonic() - clock:.0f} s")


if __name__ == "__main__":
    main()
