"""Eventdesk server: event programme, attendees and check-in over a JSON API."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Flask is imported by create_app, so the CLI can use server.ical without it
    from flask import Flask

__version__ = "0.1.0"


def create_app(test_config: dict | None = None) -> Flask:
    """The app factory: defaults, then `EVENTDESK_*` environment, then the test dict."""
    from server.web import EventdeskFlask

    app = EventdeskFlask(__name__)
    from server.urls import StorableInt

    app.url_map.converters["int"] = StorableInt  # before any route is added
    data_dir = Path(os.environ.get("EVENTDESK_DATA_DIR", "instance")).resolve()
    app.config.from_mapping(
        DATA_DIR=str(data_dir),
        DATABASE=str(data_dir / "eventdesk.sqlite3"),
        PROGRAMME_MAX_AGE=int(os.environ.get("EVENTDESK_PROGRAMME_MAX_AGE", "0")),
        CALENDAR_REFRESH_SECONDS=int(os.environ.get("EVENTDESK_CALENDAR_REFRESH", "3600")),
        PLAN_SECONDS=float(os.environ.get("EVENTDESK_PLAN_SECONDS", "10")),
        TRUSTED_PROXIES=os.environ.get("EVENTDESK_TRUSTED_PROXIES", "0"),
        PUBLIC_URL=os.environ.get("EVENTDESK_PUBLIC_URL") or None,
        RESPONSE_CACHE_SIZE=256,
        # Bodies past this answer 413; routes that need more say so (server/api/limits.py).
        MAX_CONTENT_LENGTH=int(os.environ.get("EVENTDESK_MAX_BODY", str(256 * 1024))),
        DB_KEEP_OPEN=True,
        SECRET_KEY=os.environ.get("EVENTDESK_SECRET_KEY"),
        RESTX_VALIDATE=False,  # bodies are checked by api.common.json_body, after authentication
        RESTX_MASK_SWAGGER=False,
        RESTX_ERROR_404_HELP=False,
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False
    if test_config:
        app.config.update(test_config)
        if "DATA_DIR" in test_config and "DATABASE" not in test_config:
            app.config["DATABASE"] = str(Path(test_config["DATA_DIR"]) / "eventdesk.sqlite3")
    app.config.setdefault("KEYS_DIR", str(Path(app.config["DATA_DIR"]) / "keys"))

    from server import urls

    # Checked here so a wrong setting stops the server at start-up with its name, not at the
    # first feed it would have written wrong.
    app.config["TRUSTED_PROXIES"] = urls.check_trusted_proxies(app.config["TRUSTED_PROXIES"])
    if app.config["PUBLIC_URL"]:
        app.config["PUBLIC_URL"] = urls.check_public_url(app.config["PUBLIC_URL"])
    app.wsgi_app = urls.HostGuard(app.wsgi_app)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Behind N reverse proxies, believe exactly N X-Forwarded-* hops, no more; with none in
        # front (the default), any client could set them and choose the host of our feed links.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies, x_prefix=proxies
        )

    from server import keys

    # A key file that exists must be a usable key before the first request; a missing one is
    # made on first use by whichever worker needs it first (the others read the same file).
    secret = keys.server_secret(app.config["DATA_DIR"], app.config["SECRET_KEY"], create=False)
    if secret is not None:
        app.extensions["eventdesk_secret"] = secret

    from server import cli, db_app, headers, pages, personal_pages, web
    from server.api import blueprint
    from server.revalidation import NotModifiedCache

    headers.init_app(app)
    app.wsgi_app = NotModifiedCache(app.wsgi_app, app.config["DATABASE"])  # outermost: keys on headers as sent

    cli.register(app)
    db_app.init_app(app)
    web.init_app(app)
    pages.init_app(app)
    personal_pages.init_app(app)
    app.register_blueprint(blueprint)

    from server import operations

    operations.init_app(app)  # /healthz, /metrics; its request metrics wrap everything above
    return app
