"""Operating it: /healthz for the load balancer, /metrics for Prometheus (local or admin only)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from server import __version__, attendees, auth, create_app, db as database, devices, health
from tests.conftest import (
    ROOT,
    assert_error,
    attendee_headers,
    bearer,
    gunicorn_server,
    register_with_ticket,
    run_script,
    scan,
    server_env,
    snapshot,
)

PROGRAMME_RULE = "/api/v1/events/<string:event>/programme"
FEED_RULE = "/api/v1/calendars/<string:token>.ics"
DOORS_OPEN = "2014-10-20T09:00:00+02:00"  # Day 1 entrance is open


def scrape(client, **kwargs) -> dict[tuple[str, frozenset], float]:
    """The metrics as Prometheus reads them: {(sample name, labels): value}."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return parse_metrics(response.get_data(as_text=True))


def parse_metrics(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests_of(samples: dict, route: str, status: str | None = None) -> float:
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "eventdesk_http_requests_total"
        and ("route", route) in labels
        and (status is None or ("status", status) in labels)
    )


def scans_of(samples: dict, result: str, source: str = "online") -> float:
    return samples.get(("eventdesk_scans_total", frozenset({("result", result), ("source", source)})), 0.0)


# --- /healthz ------------------------------------------------------------------------------


def test_healthz_reports_every_check_and_the_versions(client, app):
    response = client.get("/healthz")

    body = response.get_json()
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert body["status"] == "ok" and body["version"] == __version__
    with sqlite3.connect(app.config["DATABASE"]) as conn:
        (applied,) = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    assert body["schema_version"] == health.expected_schema_version() == applied
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["schema"] == {"ok": True, "version": applied, "expected": applied}
    disk = body["checks"]["disk"]
    assert disk["ok"] is True and disk["free_bytes"] >= disk["min_free_bytes"] == 100 * 1024 * 1024
    assert app.config["DATA_DIR"] not in response.get_data(as_text=True)


def test_healthz_write_probe_leaves_nothing_behind(client, app):
    before = snapshot(app.config["DATABASE"])

    client.get("/healthz")

    assert snapshot(app.config["DATABASE"]) == before


def test_healthz_503_when_free_space_is_below_the_threshold(tmp_path, loaded_template):
    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    free_mb = shutil.disk_usage(tmp_path).free / 1024 / 1024
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "HEALTH_MIN_FREE_MB": free_mb + 1024})

    response = app.test_client().get("/healthz")

    body = assert_error(response, 503, "unhealthy")
    assert body["failing"] == ["disk"] and body["status"] == "failing"
    assert body["checks"]["disk"]["ok"] is False and body["checks"]["database"] == {"ok": True}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_503_when_the_schema_is_behind_the_code(client, db):
    (latest,) = db.conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    db.conn.execute("DELETE FROM schema_migrations WHERE version = ?", (latest,))

    body = assert_error(client.get("/healthz"), 503, "unhealthy")

    assert body["failing"] == ["schema"]
    assert body["checks"]["schema"] == {"ok": False, "version": latest - 1, "expected": latest}
    assert "init-db" in body["message"]


_HEALTH_IN_A_PROCESS = """
import json, sys
from server import create_app
response = create_app({"TESTING": True, "DATA_DIR": sys.argv[1]}).test_client().get("/healthz")
print(json.dumps([response.status_code, response.get_json()]))
"""


def test_healthz_503_when_the_database_is_read_only(loaded_template):
    """Its file and directory read-only: by their modes, or (root ignores modes) on a read-only mount."""
    folder = Path(tempfile.mkdtemp(prefix="eventdesk-readonly-"))
    try:
        shutil.copy(loaded_template, folder / "eventdesk.sqlite3")
        (folder / "eventdesk.sqlite3").chmod(0o444)
        folder.chmod(0o555)

        status, body = _run_read_only(folder, [sys.executable, "-c", _HEALTH_IN_A_PROCESS, str(folder)])

        # A WAL database whose directory cannot be written cannot even be read (no -shm file):
        # the schema version is then unknown too.
        assert status == 503 and body["error"] == "unhealthy" and body["failing"] == ["database", "schema"]
        assert body["checks"]["database"] == {"ok": False, "error": "unable to open database file"}
        assert body["schema_version"] is None and "could not be read" in body["message"]
        assert str(folder) not in json.dumps(body)
    finally:
        folder.chmod(0o755)
        shutil.rmtree(folder)


def _run_read_only(folder: Path, argv: list[str]) -> tuple[int, dict]:
    """Run `argv` where `folder` cannot be written; its last line of output, as JSON."""
    if os.geteuid() == 0:  # a private mount namespace: `folder` bound read-only onto itself
        script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(folder), *argv]
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    if os.geteuid() == 0 and result.returncode != 0 and "mount" in result.stderr:
        pytest.fail(f"root, and no read-only mount possible here (needs unshare --mount): {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_healthz_503_while_another_writer_holds_the_database(client, app, monkeypatch):
    monkeypatch.setattr(health, "PROBE_TIMEOUT", 0.1)
    holder = sqlite3.connect(app.config["DATABASE"], isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        body = assert_error(client.get("/healthz"), 503, "unhealthy")
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert body["failing"] == ["database"] and "locked" in body["checks"]["database"]["error"]


# --- /metrics: who may read it ---------------------------------------------------------------


def test_metrics_from_this_machine_over_ipv4_and_ipv6(client):
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})

        assert response.status_code == 200, address
        assert response.headers["Cache-Control"] == "no-store"
        assert response.mimetype == "text/plain"


def test_metrics_refused_to_another_machine(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"})

    assert_error(response, 403, "forbidden")


def test_metrics_refused_to_a_remote_client_through_a_trusted_proxy(tmp_path, loaded_template):
    """nginx on this machine forwards a remote client: the client is remote, not 127.0.0.1."""
    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "TRUSTED_PROXIES": 1})
    through_proxy = {"REMOTE_ADDR": "127.0.0.1"}

    remote = app.test_client().get("/metrics", environ_base=through_proxy, headers={"X-Forwarded-For": "203.0.113.7"})
    spoofed = app.test_client().get(
        "/metrics", environ_base=through_proxy, headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.7"}
    )
    local = app.test_client().get("/metrics", environ_base=through_proxy, headers={"X-Forwarded-For": "127.0.0.1"})

    assert_error(remote, 403, "forbidden")
    assert_error(spoofed, 403, "forbidden")  # the first hop is the client's claim; the proxy's is the last
    assert local.status_code == 200  # a client on the proxy's machine


def test_a_forwarded_header_alone_does_not_make_a_client_local(client):
    response = client.get(
        "/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"}, headers={"X-Forwarded-For": "127.0.0.1"}
    )

    assert_error(response, 403, "forbidden")


def test_metrics_for_a_remote_admin_with_a_token_for_every_event(client, db, admin):
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    event_admin = bearer(auth.create_token(db, "admin", event_slug="ecc2014", label="event admin"))
    door = bearer(auth.create_token(db, "door", event_slug="ecc2014", label="Door A"))

    allowed = client.get("/metrics", environ_base=remote, headers=admin)
    one_event = client.get("/metrics", environ_base=remote, headers=event_admin)
    a_door = client.get("/metrics", environ_base=remote, headers=door)
    unknown = client.get("/metrics", environ_base=remote, headers=bearer("eda_nope"))

    assert allowed.status_code == 200 and b"eventdesk_http_requests_total" in allowed.data
    assert "every event" in assert_error(one_event, 403, "forbidden")["message"]
    assert_error(a_door, 403, "forbidden")
    assert_error(unknown, 401, "unauthorized")


def test_metrics_can_be_turned_off(tmp_path, loaded_template):
    shutil.copy(loaded_template, tmp_path / "eventdesk.sqlite3")
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "METRICS": False})

    assert_error(app.test_client().get("/metrics"), 404)


# --- /metrics: what it counts ----------------------------------------------------------------


def test_requests_are_counted_by_url_rule_and_status_including_304s(client):
    before = scrape(client)
    etag = client.get("/api/v1/events/ecc2014/programme").headers["ETag"]
    for _ in range(3):  # the second and third are answered before Flask (server/revalidation.py)
        client.get("/api/v1/events/ecc2014/programme", headers={"If-None-Match": etag})
    client.get("/api/v1/events/nope/programme")

    after = scrape(client)

    assert requests_of(after, PROGRAMME_RULE, "200") - requests_of(before, PROGRAMME_RULE, "200") == 1
    assert requests_of(after, PROGRAMME_RULE, "304") - requests_of(before, PROGRAMME_RULE, "304") == 3
    assert requests_of(after, PROGRAMME_RULE, "404") - requests_of(before, PROGRAMME_RULE, "404") == 1
    latency = ("eventdesk_http_request_duration_seconds_count", frozenset({("route", PROGRAMME_RULE)}))
    assert after[latency] - before.get(latency, 0) == 5


def test_made_up_methods_share_one_label(client):
    client.open("/api/v1/events", method="BREW-COFFEE-1")
    client.open("/api/v1/events", method="BREW-COFFEE-2")

    text = client.get("/metrics").get_data(as_text=True)

    assert "BREW-COFFEE" not in text
    assert 'method="other"' in text


def test_feed_tokens_never_reach_the_metrics(client, db):
    feed_url = client.get("/api/v1/me/calendar", headers=attendee_headers(db)).get_json()["https"]
    feed_path = "/" + feed_url.split("/", 3)[3]
    token = feed_path.rsplit("/", 1)[1].removesuffix(".ics")
    assert client.get(feed_path).status_code == 200
    client.get("/api/v1/calendars/not-a-real-secret-1234567.ics")
    client.get("/nowhere/another-secret-7654321")

    text = client.get("/metrics").get_data(as_text=True)

    assert token not in text and "not-a-real-secret" not in text and "another-secret" not in text
    assert requests_of(parse_metrics(text), FEED_RULE, "200") >= 1
    assert requests_of(parse_metrics(text), "(unmatched)", "404") >= 1


def test_scans_are_counted_by_verdict_once_each(client, db, door, monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", DOORS_OPEN)
    person = {"name": "Anna Metric", "email": "anna.metric@example.org", "category": "cluster-manager"}
    _, _, ticket = register_with_ticket(client, db, person)
    before = scrape(client)

    first = scan(client, door, ticket["payload"], "metrics-1")
    repeated = scan(client, door, ticket["payload"], "metrics-1")  # the same scan again: no new verdict
    again = scan(client, door, ticket["payload"], "metrics-2")
    scan(client, door, "not a ticket", "metrics-3")
    after = scrape(client)

    assert [first.status_code, repeated.status_code, again.status_code] == [201, 201, 409]
    assert scans_of(after, "ok") - scans_of(before, "ok") == 1
    assert scans_of(after, "already_checked_in") - scans_of(before, "already_checked_in") == 1
    assert scans_of(after, "malformed") - scans_of(before, "malformed") == 1


def test_pending_uploads_per_door_device_are_read_at_scrape_time(client, db):
    device, _ = devices.create_device(db, "ecc2014", "Door West")
    devices.record_contact(db, device["id"], 17)

    samples = scrape(client)

    labels = frozenset({("event", "ecc2014"), ("device", str(device["id"])), ("name", "Door West")})
    assert samples[("eventdesk_door_pending_uploads", labels)] == 17
    assert samples[("eventdesk_door_last_seen_timestamp_seconds", labels)] > 1.4e9


# --- /metrics under gunicorn: several workers, one count ----------------------------------------


def _get(url: str, headers: dict | None = None, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """gunicorn as `make run` serves, two workers, with an attendee and a door device; the metrics
    directory given, to see which workers counted."""
    data = tmp_path_factory.mktemp("ops")
    metrics_dir = data / "metrics"
    env = server_env(data, WEB_CONCURRENCY="2", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir), EVENTDESK_NOW=DOORS_OPEN)
    run_script("eventdesk-server", "init-db", env=env)
    run_script("eventdesk-server", "load-programme", "--builtin", env=env)
    db = database.connect(data / "eventdesk.sqlite3")
    person = {"name": "Bram Served", "email": "bram.served@example.org", "category": "cluster-manager"}
    _, attendee_token = attendees.create_attendee(db, "ecc2014", person)
    door_token = auth.create_token(db, "door", event_slug="ecc2014", label="Door A")
    db.close()
    with gunicorn_server(env) as base:
        yield {"base": base, "metrics_dir": metrics_dir, "attendee": attendee_token, "door": door_token}


def _worker_pids(metrics_dir: Path) -> set[int]:
    """Workers that have counted something: prometheus_client writes one file per process and kind."""
    return {int(path.stem.rsplit("_", 1)[1]) for path in metrics_dir.glob("counter_*.db")}


def _served_scrape(base: str) -> dict[tuple[str, frozenset], float]:
    status, body = _get(f"{base}/metrics")
    assert status == 200, body
    return parse_metrics(body.decode())


def _read_until_both_workers_counted(base: str, metrics_dir: Path) -> int:
    """Read the programme, four at a time, until each worker has answered some; how many were read."""
    sent = 0
    with ThreadPoolExecutor(4) as pool:
        while len(_worker_pids(metrics_dir)) < 2 and sent < 400:
            statuses = list(pool.map(lambda _: _get(f"{base}/api/v1/events/ecc2014/programme")[0], range(20)))
            assert statuses == [200] * 20
            sent += 20
    return sent


def test_served_metrics_add_up_every_workers_requests(served):
    base = served["base"]
    before = requests_of(_served_scrape(base), PROGRAMME_RULE, "200")

    sent = _read_until_both_workers_counted(base, served["metrics_dir"])
    scraped = _served_scrape(base)

    assert len(_worker_pids(served["metrics_dir"])) == 2  # both workers answered some of them
    assert requests_of(scraped, PROGRAMME_RULE, "200") - before == sent


def test_served_counts_outlive_the_worker_that_made_them(served):
    base = served["base"]
    _read_until_both_workers_counted(base, served["metrics_dir"])
    before = requests_of(_served_scrape(base), PROGRAMME_RULE, "200")
    victim = min(_worker_pids(served["metrics_dir"]))

    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20  # gone from /proc once gunicorn has reaped it (and run child_exit)
    while Path(f"/proc/{victim}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    statuses = [_get(f"{base}/api/v1/events/ecc2014/programme")[0] for _ in range(5)]
    after = requests_of(_served_scrape(base), PROGRAMME_RULE, "200")

    assert not Path(f"/proc/{victim}").exists() and statuses == [200] * 5
    assert after == before + 5


def test_served_metrics_never_show_a_feed_token_and_count_scans(served):
    base, attendee = served["base"], bearer(served["attendee"])
    _, subscription = _get(f"{base}/api/v1/me/calendar", attendee)
    feed_path = "/" + json.loads(subscription)["https"].split("/", 3)[3]
    token = feed_path.rsplit("/", 1)[1].removesuffix(".ics")
    _, ticket = _get(f"{base}/api/v1/me/ticket", attendee)
    body = {"payload": json.loads(ticket)["payload"], "list": "day1-entrance", "scan_id": "served-1"}
    door = {**bearer(served["door"]), "Content-Type": "application/json"}
    before = _served_scrape(base)

    feed_status, _ = _get(f"{base}{feed_path}")
    scan_status, _ = _get(f"{base}/api/v1/events/ecc2014/checkins", door, json.dumps(body).encode())
    status, text = _get(f"{base}/metrics")

    assert (feed_status, scan_status, status) == (200, 201, 200)
    assert token not in text.decode() and served["attendee"] not in text.decode()
    after = parse_metrics(text.decode())
    assert requests_of(after, FEED_RULE, "200") - requests_of(before, FEED_RULE, "200") == 1
    assert scans_of(after, "ok") - scans_of(before, "ok") == 1
