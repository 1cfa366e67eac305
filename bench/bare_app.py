"""The limit for this stack: gunicorn + Flask answering with bytes already in memory.

bench/run.py serves it with the same gunicorn config as the real server, so the gap between
the two is what Eventdesk's own request path costs (routing in flask-restx, the database
snapshot and version check, the token lookup, the cache lookup, conditional headers), nothing
else. Each path answers with the bytes and Content-Type the real endpoint answered there, so
every endpoint is compared with sending its own body.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, Response, request

INDEX = "index.json"  # {"/path?query": ["file name", "Content-Type"], ...} in the bodies directory


def write_bodies(directory: Path, bodies: dict[str, tuple[bytes, str]]) -> None:
    """Store `bodies` ({path with query: (bytes, Content-Type)}) where create_app reads them."""
    directory.mkdir(parents=True, exist_ok=True)
    index = {}
    for n, (path, (body, content_type)) in enumerate(bodies.items()):
        (directory / f"body-{n}").write_bytes(body)
        index[path] = [f"body-{n}", content_type]
    (directory / INDEX).write_text(json.dumps(index, indent=1), encoding="utf-8")


def create_app() -> Flask:
    """Serve the directory named by EVENTDESK_BENCH_BODIES (see write_bodies); 404 elsewhere."""
    directory = Path(os.environ["EVENTDESK_BENCH_BODIES"])
    index = json.loads((directory / INDEX).read_text(encoding="utf-8"))
    answers = {}
    for key, (name, content_type) in index.items():
        path, _, query = key.partition("?")
        answers[path, query.encode("ascii")] = ((directory / name).read_bytes(), content_type)
    app = Flask(__name__)

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def answer(path: str) -> Response:
        found = answers.get((request.path, request.query_string))
        if found is None:
            return Response(status=404)
        return Response(found[0], content_type=found[1])

    return app
