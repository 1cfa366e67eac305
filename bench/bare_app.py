"""The limit for this stack: gunicorn + Flask answering with bytes already in memory.

bench/run.py serves it with the same gunicorn config as the real server, so the gap between
the two is what Eventdesk's own request path costs (routing in flask-restx, the database
snapshot and version check, the cache lookup, conditional headers), nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response


def create_app() -> Flask:
    """Serve the file named by EVENTDESK_BENCH_BODY as application/json on every GET."""
    body = Path(os.environ["EVENTDESK_BENCH_BODY"]).read_bytes()
    app = Flask(__name__)

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def answer(path: str) -> Response:
        return Response(body, mimetype="application/json")

    return app
