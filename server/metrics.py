"""Prometheus metrics: what is counted, and the text a scrape reads. No Flask here.

Counters live in this module so domain code counts where it decides (server/checkin.py counts
each recorded verdict) and the HTTP layer stays thin: one WSGI middleware (`RequestMetrics`)
times every request, including the 304s that server/revalidation.py answers before Flask.

gunicorn runs several worker processes, each with its own memory, so a scrape answered by one
worker would see only its own counts. With PROMETHEUS_MULTIPROC_DIR set (server/gunicorn_conf.py
sets it before the app is imported) prometheus_client keeps every value in a per-process file
there, and a scrape adds up all the files, those of workers that have exited included.

Requests are labelled by the Flask URL rule (`/api/v1/calendars/<string:token>.ics`), never by the
path the client sent: some paths carry secrets, and raw paths would also make one series per
URL ever asked for.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

ROUTE = "eventdesk.route"  # WSGI environ key: the URL rule of a response answered outside Flask
UNMATCHED = "(unmatched)"  # the route label of requests no URL rule matched (404, 405, bad Host)

REQUESTS = Counter(
    "eventdesk_http_requests_total",
    "HTTP requests answered, by Flask URL rule, method and status code.",
    ["route", "method", "status"],
    registry=None,
)
LATENCY = Histogram(
    "eventdesk_http_request_duration_seconds",
    "Time from receiving a request to handing its response to gunicorn, by Flask URL rule.",
    ["route"],
    # A 304 answered before Flask takes ~0.1 ms, a cached read ~1 ms, a personal feed miss tens.
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)
SCANS = Counter(
    "eventdesk_scans_total",
    "Scans recorded, by verdict and by how they arrived (online, offline upload, desk).",
    ["result", "source"],
    registry=None,
)
_OWN = (REQUESTS, LATENCY, SCANS)


def count_scan(result: str, source: str) -> None:
    """One verdict recorded (a repeated scan_id, answered from the record, is not a new scan)."""
    SCANS.labels(result, source).inc()


def route_of(environ: dict) -> str | None:
    """The URL rule Flask matched for the request in `environ`, while Flask is still answering it.

    Flask keeps its request object in the environ until the response has been started, and
    clears it after; so this is asked from start_response.
    """
    request = environ.get("werkzeug.request")
    rule = getattr(request, "url_rule", None)
    return rule.rule if rule is not None else environ.get(ROUTE)


StartResponse = Callable[..., object]
WSGIApp = Callable[[dict, StartResponse], Iterable[bytes]]


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others: one label


class RequestMetrics:
    """WSGI middleware, outermost, so a 304 answered before Flask is timed and counted too.

    Keeps the labelled children it has used: prometheus_client's `labels()` is ~1-2 µs a call
    (a lock and a tuple), most of what counting added to a 304 answered in ~8 µs in-process.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, str], tuple] = {}

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status, route = "500", UNMATCHED  # if the app raised before starting a response

        def start(line: str, headers: list[tuple[str, str]], exc_info=None) -> object:
            nonlocal status, route
            status, route = line[:3], route_of(environ) or UNMATCHED
            return start_response(line, headers, exc_info)

        # Eventdesk builds every body before starting its response (nothing streams), so the
        # time to return is the time to answer.
        try:
            return self.app(environ, start)
        finally:
            method = environ.get("REQUEST_METHOD", "")
            key = (route, method if method in _METHODS else "other", status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (REQUESTS.labels(*key), LATENCY.labels(route))
            children[0].inc()
            children[1].observe(time.perf_counter() - started)


class DoorUploads(Collector):
    """Per door device: scans it said it still holds, and when it last made contact.

    Read from the database at scrape time (server/devices.py writes them when a door syncs), so
    every worker reports the same figures and none needs to keep a gauge of its own.
    """

    def __init__(self, rows: Callable[[], list[dict]]) -> None:
        self.rows = rows

    def collect(self) -> Iterable[GaugeMetricFamily]:
        labels = ["event", "device", "name"]
        pending = GaugeMetricFamily(
            "eventdesk_door_pending_uploads",
            "Scans a door device said it still had to upload, at its last contact.",
            labels=labels,
        )
        seen = GaugeMetricFamily(
            "eventdesk_door_last_seen_timestamp_seconds",
            "Unix time of a door device's last contact (bundle sync or upload).",
            labels=labels,
        )
        for row in self.rows():
            names = [row["event"], str(row["device"]), row["name"]]
            if row["pending_uploads"] is not None:
                pending.add_metric(names, row["pending_uploads"])
            if row["last_seen"] is not None:
                seen.add_metric(names, row["last_seen"])
        yield pending
        yield seen


def exposition(door_rows: Callable[[], list[dict]], accept: str | None) -> tuple[bytes, str]:
    """(text, media type): this process's counters, or every worker's in multiprocess mode,
    in the format the scraper asks for (Prometheus text, or OpenMetrics)."""
    registry = CollectorRegistry(auto_describe=False)
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=folder)
    else:
        for metric in _OWN:
            registry.register(metric)
    registry.register(DoorUploads(door_rows))
    encoder, media_type = choose_encoder(accept)
    return encoder(registry), media_type
