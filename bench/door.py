"""Door devices for bench/run.py: the offline check of one scan, and the limits it is held to.

`Door` is what a door device does with a door bundle when the network is down: parse the QR
text and check its signature with server/ticketcode.py and the bundle's public keys, then look
the serial up in the bundle's revoked serials (a set) and roster (a dict by serial). Its limit
is `bare_verify`: Ed25519 verification of the same 64-byte signature over the same message
with `cryptography`, the key already loaded, the one cost no door can avoid.

`bare_roster` is the limit for the full door bundle: plain sqlite3 selecting the roster's
columns and json.dumps of them, nothing else.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import statistics
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from server import ticketcode

ROSTER_SQL = (
    "SELECT t.serial, a.name, a.organisation, a.category FROM tickets t JOIN attendees a ON a.pk = t.attendee_pk "
    "JOIN events e ON e.id = t.event_id WHERE e.slug = ? AND t.revoked_at IS NULL ORDER BY t.serial"
)


@dataclass(frozen=True)
class Door:
    """A door device holding a door bundle."""

    slug: str
    keys: list[bytes]
    revoked: frozenset[str]
    roster: dict[str, dict]

    @classmethod
    def from_bundle(cls, bundle: dict) -> Door:
        keys = [base64.b64decode(key["public_key"]) for key in bundle["public_keys"]]
        roster = {entry["serial"]: entry for entry in bundle["roster"]}
        return cls(bundle["event"], keys, frozenset(bundle["revoked"]), roster)

    def judge(self, text: str) -> dict | str:
        """The holder's roster entry, or why the scan fails."""
        try:
            code = ticketcode.parse(text)
        except ticketcode.MalformedPayload:
            return "malformed"
        if code.event_slug != self.slug:
            return "wrong_event"
        if not ticketcode.verify(code, self.keys):
            return "invalid_signature"
        serial = code.serial_hex
        if serial in self.revoked:
            return "revoked"
        return self.roster.get(serial, "unknown_ticket")


def bare_verify(door: Door, text: str) -> Callable[[], None]:
    """Ed25519 verification of `text`'s signature, prepared so only the verify itself is timed."""
    code = ticketcode.parse(text)
    key = Ed25519PublicKey.from_public_bytes(door.keys[0])
    return partial(key.verify, code.signature, ticketcode.signed_message(code.event_code, code.serial))


@dataclass
class Timing:
    """Microseconds per call."""

    median_us: float
    p99_us: float

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        micros = [s * 1e6 for s in seconds]
        return cls(statistics.median(micros), percentile(micros, 99))


def percentile(samples: list[float], percent: int) -> float:
    """The `percent` percentile of `samples`."""
    return statistics.quantiles(samples, n=100, method="inclusive")[percent - 1]


def time_checks(door: Door, payloads: list[str], samples: int) -> dict[str, Timing]:
    """The offline check and its bare limit, one call per timeit sample, alternated call by call
    (so the machine's noise hits both alike), cycling through `payloads`."""
    for text in payloads:
        answer = door.judge(text)
        if not isinstance(answer, dict):
            raise RuntimeError(f"the door rejects a genuine ticket: {answer}")
    checks = [partial(door.judge, text) for text in payloads]
    bares = [bare_verify(door, text) for text in payloads]
    times: dict[str, list[float]] = {"check": [], "bare": []}
    for n in range(samples):
        times["check"].append(timeit.timeit(checks[n % len(checks)], number=1))
        times["bare"].append(timeit.timeit(bares[n % len(bares)], number=1))
    return {name: Timing.of(seconds) for name, seconds in times.items()}


def bare_roster(database: Path, slug: str) -> bytes:
    """The roster's columns, selected with plain sqlite3 and serialised with json.dumps."""
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute(ROSTER_SQL, (slug,)).fetchall()
    finally:
        conn.close()
    roster = [
        {"serial": serial, "name": name, "organisation": organisation, "category": category}
        for serial, name, organisation, category in rows
    ]
    return json.dumps({"roster": roster}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
