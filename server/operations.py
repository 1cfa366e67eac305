"""`GET /healthz` and `GET /metrics`: for the load balancer and Prometheus, outside /api.

Both sit at the root, where load balancers and Prometheus look by default, and outside the
versioned API and its spec: they describe this server process, not the event data, and change
with the deployment rather than with API versions.

/healthz is public (a load balancer must reach it) and says nothing secret. /metrics names
door devices and shows traffic, so it answers only a client on this machine, or anyone with
an admin token for every event. "On this machine" is the address the request came from after
EVENTDESK_TRUSTED_PROXIES is applied (create_app): through a trusted proxy the client is the
address the proxy reports, not the proxy's own 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import os

from flask import Flask, Response, current_app, jsonify, request

from server import auth, devices, health, metrics
from server.db_app import get_db
from server.errors import ConfigurationError, Forbidden


def _healthz() -> Response:
    healthy, document = health.report(
        current_app.config["DATABASE"],
        current_app.config["DATA_DIR"],
        int(current_app.config["HEALTH_MIN_FREE_MB"] * 1024 * 1024),
    )
    response = jsonify(document)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"  # a cached "healthy" would hide an outage
    return response


def _metrics() -> Response:
    _check_scraper()
    text, media_type = metrics.exposition(lambda: devices.door_contacts(get_db()), request.headers.get("Accept"))
    return Response(text, content_type=media_type, headers={"Cache-Control": "no-store"})


def _check_scraper() -> None:
    """A client on this machine, or an admin token for every event; else 403 (or 401 for a bad token)."""
    if _is_loopback(request.remote_addr):
        return
    authorization = request.headers.get("Authorization")
    if not authorization:
        raise Forbidden("metrics are served to this machine only, or with an admin token")
    token = auth.authenticate(get_db(), authorization)
    auth.require_role(token, "admin")
    if token["event_slug"] is not None:
        raise Forbidden("metrics cover every event: this needs an admin token that is not limited to one event")


def _is_loopback(address: str | None) -> bool:
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:  # a Unix socket gives no address: not known to be local
        return False
    mapped = getattr(parsed, "ipv4_mapped", None)  # ::ffff:127.0.0.1 from a dual-stack socket
    return (mapped or parsed).is_loopback


def _megabytes(value: object) -> float:
    """EVENTDESK_HEALTH_MIN_FREE_MB checked at start-up, so a typo stops the server with its name."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not number >= 0:  # also refuses NaN
        raise ConfigurationError(f"EVENTDESK_HEALTH_MIN_FREE_MB={value!r} must be a number of megabytes, 0 or more")
    return number


def init_app(app: Flask) -> None:
    """The two routes, and request metrics around the whole app (call after every other wrapper)."""
    app.config.setdefault("METRICS", os.environ.get("EVENTDESK_METRICS", "1") not in ("0", "false", "no", "off"))
    app.config.setdefault("HEALTH_MIN_FREE_MB", os.environ.get("EVENTDESK_HEALTH_MIN_FREE_MB", "100"))
    app.config["HEALTH_MIN_FREE_MB"] = _megabytes(app.config["HEALTH_MIN_FREE_MB"])
    app.add_url_rule("/healthz", "healthz", _healthz)
    if app.config["METRICS"]:
        app.add_url_rule("/metrics", "metrics", _metrics)
        app.wsgi_app = metrics.RequestMetrics(app.wsgi_app)
