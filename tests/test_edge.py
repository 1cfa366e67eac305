"""The edge as `make edge` runs it: nginx with deploy/nginx.conf in front of the served app."""

from __future__ import annotations

import configparser
import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from server import attendees, auth, db as database
from server.edge import CONFIG, EdgeError, find_nginx, render_config
from tests.conftest import API, BIN, EVENT, ROOT, gunicorn_server, run_script, server_env
from tests.test_caching import PUBLIC_CACHE_CONTROL

PROGRAMME = f"{API}/programme"
UNIT = ROOT / "deploy" / "eventdesk.service"
# Answered by nginx without asking the app: fresh, or stale while one request refreshes it (the
# s-maxage of 1 s ends at nginx's next whole second, so even two quick reads may see it expire).
FROM_CACHE = {"HIT", "STALE", "UPDATING"}


def _get(url: str, headers: dict | None = None, method: str = "GET", data: bytes | None = None):
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_edge(data_dir: Path, **overrides: str) -> tuple[subprocess.Popen, dict]:
    """`make edge`'s steps on `data_dir`: init-db, load-programme, then the launcher on free ports."""
    env = server_env(data_dir, EDGE_PORT=str(_free_port()), EDGE_PREFIX=str(data_dir / "edge"), **overrides)
    run_script("eventdesk-server", "init-db", env=env)
    run_script("eventdesk-server", "load-programme", "--builtin", "--if-absent", env=env)
    with (data_dir / "edge.log").open("wb") as log:  # the children keep their own copy of the file
        launcher = subprocess.Popen(
            [str(BIN / "python"), "-m", "server.edge"], env=env, cwd=ROOT, stdout=log, stderr=log
        )
    edge = f"http://127.0.0.1:{env['EDGE_PORT']}"
    deadline = time.monotonic() + 30
    while _get_or_none(f"{edge}/api/v1/events") != 200:
        if launcher.poll() is not None or time.monotonic() > deadline:
            launcher.kill()
            pytest.fail("the edge did not start: " + (data_dir / "edge.log").read_text())
        time.sleep(0.1)
    return launcher, env


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)[0]
    except OSError:
        return None


def _stop(launcher: subprocess.Popen) -> int:
    launcher.send_signal(signal.SIGTERM)
    return launcher.wait(timeout=20)


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    """(edge URL, app URL, data dir): nginx and gunicorn as `make edge` serves them."""
    data_dir = tmp_path_factory.mktemp("edge")
    launcher, env = _start_edge(data_dir)
    yield f"http://127.0.0.1:{env['EDGE_PORT']}", f"http://127.0.0.1:{env['PORT']}", data_dir
    assert _stop(launcher) == 0


def _token(data_dir: Path, role: str = "admin") -> dict:
    connection = database.connect(str(data_dir / "eventdesk.sqlite3"))
    try:
        return {"Authorization": f"Bearer {auth.create_token(connection, role, label='edge tests')}"}
    finally:
        connection.close()


def _attendee(data_dir: Path, n: int) -> dict:
    connection = database.connect(str(data_dir / "eventdesk.sqlite3"))
    try:
        person = {"name": f"Edge Person {n}", "email": f"edge{n}@example.org", "category": "cluster-manager"}
        _, token = attendees.create_attendee(connection, EVENT, person)
        return {"Authorization": f"Bearer {token}"}
    finally:
        connection.close()


def test_edge_serves_a_repeated_public_read_from_its_cache(edge):
    base, app, _ = edge
    _get(f"{base}{API}/speakers")

    status, headers, body = _get(f"{base}{API}/speakers")

    assert (status, headers["X-Cache-Status"] in FROM_CACHE) == (200, True)
    assert body == _get(f"{app}{API}/speakers")[2]
    assert headers["Cache-Control"] == PUBLIC_CACHE_CONTROL


def test_edge_passes_the_apps_gzip_through_under_its_own_tag(edge):
    base, app, _ = edge
    _get(f"{base}{PROGRAMME}", {"Accept-Encoding": "gzip"})

    status, headers, body = _get(f"{base}{PROGRAMME}", {"Accept-Encoding": "br, gzip;q=0.8"})
    _, direct_headers, direct = _get(f"{app}{PROGRAMME}", {"Accept-Encoding": "gzip"})

    assert (status, headers["X-Cache-Status"] in FROM_CACHE, headers["Content-Encoding"]) == (200, True, "gzip")
    assert (body, headers["ETag"]) == (direct, direct_headers["ETag"])


def test_edge_answers_a_conditional_request_itself(edge):
    base, _, _ = edge
    _, first, _ = _get(f"{base}{API}/rooms")

    status, headers, body = _get(f"{base}{API}/rooms", {"If-None-Match": first["ETag"]})

    assert (status, body, headers["ETag"]) == (304, b"", first["ETag"])
    assert headers["X-Cache-Status"] in FROM_CACHE


def test_a_programme_change_is_visible_through_the_edge_within_2_seconds(edge):
    base, app, data_dir = edge
    url = f"{base}{API}/sessions/opening-plenary"
    _get(url)
    assert _get(url)[1]["X-Cache-Status"] in FROM_CACHE
    edit = b'{"title": "Opening plenary, moved up"}'
    headers = {**_token(data_dir), "Content-Type": "application/json"}

    status = _get(f"{app}{API}/sessions/opening-plenary", headers, "PATCH", edit)[0]
    changed = time.monotonic()
    seen = []
    while time.monotonic() - changed < 2 and "moved up" not in (seen or [""])[-1]:
        seen.append(_get(url)[2].decode())
        time.sleep(0.05)

    assert status == 200
    assert "Opening plenary, moved up" in seen[-1], f"not visible within 2 s ({len(seen)} reads)"


def test_requests_with_authorization_never_come_from_the_cache(edge):
    base, _, data_dir = edge
    admin = _token(data_dir)
    _get(f"{base}{API}/tracks")
    assert _get(f"{base}{API}/tracks")[1]["X-Cache-Status"] in FROM_CACHE

    statuses = [_get(f"{base}{API}/tracks", admin)[1]["X-Cache-Status"] for _ in range(3)]
    after = _get(f"{base}{API}/tracks")[1]["X-Cache-Status"]

    assert statuses == ["BYPASS"] * 3
    assert after in {*FROM_CACHE, "EXPIRED", "REVALIDATED"}  # the anonymous entry is still there


def test_personal_reads_are_passed_through_and_never_cached(edge):
    base, _, data_dir = edge
    person = _attendee(data_dir, 1)
    first = _get(f"{base}/api/v1/me/schedule", person)
    added = _get(f"{base}/api/v1/me/schedule/opening-plenary", person, "PUT")

    after = _get(f"{base}/api/v1/me/schedule", person)
    pages = [_get(f"{base}/e/{EVENT}/me") for _ in range(2)]

    assert (first[0], added[0], after[0]) == (200, 201, 200)
    assert b"opening-plenary" not in first[2] and b"opening-plenary" in after[2]
    assert [response[1]["X-Cache-Status"] for response in (first, after, *pages)] == [None] * 4
    assert after[1]["Cache-Control"] == "no-store"
    assert [response[0] for response in pages] == [200, 200]


def test_personal_feeds_are_never_cached_and_their_secret_stays_out_of_the_log(edge):
    base, _, data_dir = edge
    person = _attendee(data_dir, 2)
    feed = _get(f"{base}/api/v1/me/calendar", person)[2]
    path = "/api/v1/calendars/" + feed.decode().split("/api/v1/calendars/")[1].split('"')[0]
    token = path.removeprefix("/api/v1/calendars/").removesuffix(".ics")

    answers = [_get(f"{base}{path}") for _ in range(2)]
    time.sleep(1.2)  # the access log is flushed every second

    assert [(status, headers["X-Cache-Status"]) for status, headers, _ in answers] == [(200, None)] * 2
    assert answers[0][1]["Cache-Control"] == "private, no-cache"
    log = (data_dir / "edge" / "access.log").read_text()
    assert "/api/v1/calendars/[redacted].ics" in log and token not in log


def test_forwarded_headers_name_the_edge_not_what_the_client_claims(edge):
    base, app, _ = edge
    spoof = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "X-Forwarded-Prefix": "/x"}

    through_edge = _get(f"{base}{API}/programme.ics", spoof)[2].decode()
    direct_trusting = _get(f"{app}{API}/programme.ics", spoof)[2].decode()

    assert f"URL:{base}{API}/sessions/" in through_edge.replace("\r\n ", "")
    assert "evil.example" not in through_edge and app not in through_edge
    assert "https://evil.example/x/api" in direct_trusting.replace("\r\n ", "")  # why gunicorn stays on 127.0.0.1


def test_forwarded_headers_are_ignored_without_trusted_proxies(tmp_path):
    env = server_env(tmp_path, EVENTDESK_TRUSTED_PROXIES="0")
    run_script("eventdesk-server", "init-db", env=env)
    run_script("eventdesk-server", "load-programme", "--builtin", env=env)

    with gunicorn_server(env) as app:
        feed = _get(f"{app}{API}/programme.ics", {"X-Forwarded-Host": "evil.example"})[2].decode()

    assert "evil.example" not in feed and f"URL:{app}{API}/sessions/" in feed.replace("\r\n ", "")


def test_edge_refuses_large_bodies_in_the_apps_error_shape_except_on_import(edge):
    base, _, _ = edge
    body = b"x" * (300 * 1024)

    refused = _get(f"{base}{API}/sessions", {"Content-Type": "application/json"}, "POST", body)
    import_status = _get(f"{base}{API}/attendees/import", {"Content-Type": "text/csv"}, "POST", body)[0]

    assert refused[0] == 413 and refused[1]["Content-Type"] == "application/json"
    assert b'"error": "payload_too_large"' in refused[2]
    assert import_status == 401  # reached the app, which wants an admin


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _command(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def test_edge_stops_nginx_when_gunicorn_dies(tmp_path):
    launcher, env = _start_edge(tmp_path)
    gunicorn, nginx = (
        next(pid for pid in _children(launcher.pid) if name in _command(pid)) for name in ("gunicorn", "nginx")
    )

    os.kill(gunicorn, signal.SIGKILL)
    status = launcher.wait(timeout=20)

    assert status != 0
    assert not Path(f"/proc/{nginx}").exists()
    assert _get_or_none(f"http://127.0.0.1:{env['EDGE_PORT']}/") is None


def test_render_config_sets_only_the_marked_lines():
    shipped = CONFIG.read_text()

    rendered = render_config(shipped, "127.0.0.1:9999", "127.0.0.1:7777")

    changed = [(a, b) for a, b in zip(shipped.splitlines(), rendered.splitlines(), strict=True) if a != b]
    assert [b.strip() for _, b in changed] == [
        "server 127.0.0.1:7777;  # edge:upstream",
        "listen 127.0.0.1:9999;  # edge:listen",
    ]
    with pytest.raises(EdgeError):
        render_config(shipped.replace("# edge:listen", ""), "127.0.0.1:9999", "127.0.0.1:7777")


def test_shipped_config_passes_nginx_test_as_shipped(tmp_path):
    result = subprocess.run(
        [find_nginx(), "-t", "-p", f"{tmp_path}/", "-c", str(CONFIG), "-g", "user root;" if os.geteuid() == 0 else ""],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_systemd_unit_is_hardened_and_verifies(tmp_path):
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(UNIT)
    service = unit["Service"]

    hardening = {key: service.get(key) for key in ("ProtectSystem", "NoNewPrivileges", "PrivateTmp", "ProtectHome")}
    assert hardening == {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes"}
    assert service["SystemCallFilter"].startswith("@system-service")
    assert service["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    assert "/var/lib/eventdesk" in service["ReadWritePaths"] or service.get("StateDirectory") == "eventdesk"
    assert "gunicorn --config python:server.gunicorn_conf" in service["ExecStart"]
    analyze = shutil.which("systemd-analyze")
    if analyze:  # also checked by systemd itself where the machine has it
        result = subprocess.run([analyze, "verify", str(UNIT)], capture_output=True, text=True, timeout=60)
        assert "Unknown key" not in result.stderr and "Invalid" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "path", ["/api/v1/events", "/api/v1/events/ecc2014", "/e/ecc2014/", "/e/ecc2014/me", "/e", "/api/v1/calendars"]
)
def test_edge_answers_every_path_as_the_app_does_without_redirects_of_its_own(edge, path):
    """A proxied prefix with a trailing slash makes nginx answer its bare path with a 301."""
    base, app, _ = edge

    def status(origin: str) -> int:
        host, port = origin.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        finally:
            connection.close()

    assert status(base) == status(app)
