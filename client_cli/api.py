"""The HTTP side: a thin client for the Eventdesk API with short timeouts and clear failures.

httpx is imported only when a command really goes to the network, so offline reads start fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from client_cli.errors import Offline, Refused, ServerError

TIMEOUT_SECONDS = float(os.environ.get("EVENTDESK_TIMEOUT") or 10.0)


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes
    wire_bytes: int = 0  # the body as it crossed the network (gzipped when the server gzipped it)

    def json(self):
        import json

        return json.loads(self.body)


class Client:
    def __init__(self, server: str, token: str | None = None, *, timeout: float = TIMEOUT_SECONDS):
        self.server, self.token, self.timeout = server.rstrip("/"), token, timeout
        self._http = None
        self.requests = 0  # how many requests this client made, and the body bytes they received
        self.wire_bytes = 0

    def _session(self):
        if self._http is None:
            import httpx

            # Loading the CA bundle costs ~0.1 s per process; a plain-http server never uses it
            # (and redirects are not followed, so no request can end up on https unverified).
            plain = self.server.startswith("http://")
            self._http = httpx.Client(timeout=self.timeout, headers={"User-Agent": "eventdesk-cli"}, verify=not plain)
        return self._http

    def request(
        self, method: str, path: str, *, json=None, headers: dict | None = None, ok=(200,), auth: bool = True
    ) -> Reply:
        """One request; network trouble raises Offline, 401/403 Refused, other statuses not in `ok` ServerError.

        `auth=False` leaves the token out: public reads need none, and should not carry it.
        """
        import httpx

        all_headers = dict(headers or {})
        if self.token and auth:
            all_headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._session().request(method, self.server + path, json=json, headers=all_headers)
        except httpx.HTTPError as problem:
            raise Offline(f"cannot reach {self.server} ({type(problem).__name__})") from None
        reply = Reply(response.status_code, dict(response.headers), response.content, response.num_bytes_downloaded)
        self.requests += 1
        self.wire_bytes += reply.wire_bytes
        if reply.status in ok:
            return reply
        body = _json_or_empty(reply)
        message = body.get("message") or f"the server answered {reply.status}"
        if reply.status in (401, 403):
            raise Refused(message, reply.status, body)
        raise ServerError(message, reply.status, body)

    def get(self, path: str, **options) -> Reply:
        return self.request("GET", path, **options)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()


def _json_or_empty(reply: Reply) -> dict:
    try:
        body = reply.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
