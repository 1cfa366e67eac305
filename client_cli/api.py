"""The HTTP side: a thin client for the Eventdesk API with short timeouts and clear failures.

httpx is imported only when a command really goes to the network, so offline reads start fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from client_cli.errors import Offline, Refused, ServerError

TIMEOUT_SECONDS = 10.0


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        import json

        return json.loads(self.body)


class Client:
    def __init__(self, server: str, token: str | None = None, *, timeout: float = TIMEOUT_SECONDS):
        self.server, self.token, self.timeout = server.rstrip("/"), token, timeout
        self._http = None

    def _session(self):
        if self._http is None:
            import httpx

            self._http = httpx.Client(timeout=self.timeout, headers={"User-Agent": "eventdesk-cli"})
        return self._http

    def request(self, method: str, path: str, *, json=None, headers: dict | None = None, ok=(200,)) -> Reply:
        """One request; network trouble raises Offline, 401/403 Refused, other statuses not in `ok` ServerError."""
        import httpx

        all_headers = dict(headers or {})
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._session().request(method, self.server + path, json=json, headers=all_headers)
        except httpx.HTTPError as problem:
            raise Offline(f"cannot reach {self.server} ({type(problem).__name__})") from None
        reply = Reply(response.status_code, dict(response.headers), response.content)
        if reply.status in ok:
            return reply
        body = _json_or_empty(reply)
        message = body.get("message") or f"the server answered {reply.status}"
        if reply.status in (401, 403):
            raise Refused(message)
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
