"""Door scan verdict time, in process: `eventdesk door scan`'s path from payload to verdict.

A synthetic door bundle (Ed25519 key, the built-in conference's three lists, a roster of 1,000
and of 100,000 tickets, 1% revoked, 10% inside) is stored exactly as `eventdesk door sync`
stores it (client_cli.door.Bundle, SQLite, mode 0600) under a temporary EVENTDESK_HOME. Then a
mix of payloads as a door sees them (genuine, repeated, revoked, forged, another event's,
garbage) is judged one by one with DoorSession.judge (parse, signature, revocation, list
window and audience, presence: the verdict), and with DoorSession.scan (the verdict plus the
journal line written and fsynced before it is shown). Target: verdict p99 ≤ 5 ms.

    .venv/bin/python bench/door_cli_bench.py          # prints a markdown section

bench/run.py can call `run()` and `markdown(results)` to append it to bench/RESULTS.md.
"""

from __future__ import annotations

import base64
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROSTER_SIZES = (1_000, 100_000)
JUDGED = 3_000  # payloads timed through judge() per roster size
JOURNALED = 500  # payloads timed through scan() (with fsync) per roster size
WARM_UP = 50
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
TARGET_P99_MS = 5.0
NOW = "2014-10-20T09:00:00+02:00"
CATEGORIES = ("cluster-manager", "national-policy-maker", "regional-policy-maker", "academia", "industry")
LISTS = [
    {"id": "day1-entrance", "name": "Day 1 entrance", "start": "2014-10-20T08:00:00+02:00",
     "end": "2014-10-20T21:00:00+02:00", "audience": "all", "categories": [], "allow_reentry": True},
    {"id": "matchmaking", "name": "Matchmaking", "start": "2014-10-20T08:00:00+02:00",
     "end": "2014-10-20T12:45:00+02:00", "audience": "explicit", "categories": [], "allow_reentry": True},
    {"id": "day2-entrance", "name": "Day 2 entrance", "start": "2014-10-21T07:30:00+02:00",
     "end": "2014-10-21T18:00:00+02:00", "audience": "all", "categories": [], "allow_reentry": True},
]  # fmt: skip


def _p(samples: list[float], percent: int) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def synthetic_bundle(size: int, rng: random.Random):
    """(bundle document, signing key) for `size` tickets of event ECC2014."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    serials = sorted({rng.randbytes(8).hex() for _ in range(size + size // 100)})
    rng.shuffle(serials)
    revoked, current = sorted(serials[: len(serials) - size]), serials[len(serials) - size :]
    roster = [
        {
            "serial": serial,
            "name": f"Attendee {n:06d}",
            "organisation": f"Organisation {n % 997}",
            "category": CATEGORIES[n % len(CATEGORIES)],
            "lists": ["day1-entrance", "matchmaking", "day2-entrance"] if n % 20 == 0 else ["day1-entrance",
                                                                                             "day2-entrance"],
        }
        for n, serial in enumerate(current)
    ]  # fmt: skip
    presence = [
        {"list": "day1-entrance", "serial": serial, "inside": True, "since": "2014-10-20T08:30:00+02:00"}
        for serial in current[: size // 10]
    ]
    document = {
        "event": "ecc2014",
        "timezone": "Europe/Brussels",
        "cursor": f"{len(presence)}.{size}",
        "delta": False,
        "public_keys": [
            {"kid": "k1", "algorithm": "Ed25519", "public_key": base64.b64encode(public).decode(), "retired": False}
        ],
        "lists": LISTS,
        "revoked": revoked,
        "roster": sorted(roster, key=lambda entry: entry["serial"]),
        "presence": presence,
    }
    return document, key, current, revoked


def payload_mix(key, current: list[str], revoked: list[str], count: int, rng: random.Random) -> list[str]:
    """What a door sees: mostly genuine tickets, some again, revoked, forged, foreign, garbage."""
    from server import ticketcode

    def sign(serial_hex: str, code: str = "ECC2014") -> str:
        serial = bytes.fromhex(serial_hex)
        return ticketcode.encode(code, serial, key.sign(ticketcode.signed_message(code, serial)))

    genuine = [sign(serial) for serial in rng.choices(current, k=count)]
    payloads = []
    for n, text in enumerate(genuine):
        kind = n % 20
        if kind == 0 and revoked:
            text = sign(rng.choice(revoked))
        elif kind == 1:  # forged: one signature character moved to its neighbour (still valid base45)
            digit = BASE45.index(text[-3])
            text = text[:-3] + BASE45[digit - 1 if digit else 1] + text[-2:]
        elif kind == 2:
            text = sign(rng.choice(current), "OTHER2015")
        elif kind == 3:
            text = "NOT A TICKET"
        elif kind in (4, 5) and payloads:
            text = rng.choice(payloads)  # shown twice
        payloads.append(text)
    return payloads


def measure(size: int, rng: random.Random) -> dict:
    from client_cli import door

    document, key, current, revoked = synthetic_bundle(size, rng)
    started = time.perf_counter()
    bundle = door.Bundle.create()
    bundle.replace(document, etag=None, since=None, token="bench-device")  # noqa: S106 - a label, not a secret
    store_seconds = time.perf_counter() - started
    file_bytes = bundle.path.stat().st_size
    payloads = payload_mix(key, current, revoked, JUDGED + JOURNALED + WARM_UP, rng)
    session = door.DoorSession(bundle, door.Journal(), "Day 1 entrance")
    results: dict[str, int] = {}
    for payload in payloads[:WARM_UP]:
        session.judge(payload)
    judged = []
    for payload in payloads[WARM_UP : WARM_UP + JUDGED]:
        start = time.perf_counter()
        verdict = session.judge(payload)
        judged.append((time.perf_counter() - start) * 1000)
        results[verdict.result] = results.get(verdict.result, 0) + 1
    journaled = []
    for payload in payloads[WARM_UP + JUDGED :]:
        start = time.perf_counter()
        session.scan(payload)
        journaled.append((time.perf_counter() - start) * 1000)
    session.bundle.close()
    door.wipe(force=True)
    return {
        "roster": size,
        "revoked": len(revoked),
        "inside": len(document["presence"]),
        "file_mb": file_bytes / 1e6,
        "store_seconds": store_seconds,
        "judge": (statistics.median(judged), _p(judged, 99), max(judged)),
        "scan": (statistics.median(journaled), _p(journaled, 99), max(journaled)),
        "results": results,
    }


def run() -> list[dict]:
    """Both roster sizes, each in its own temporary EVENTDESK_HOME, at door time NOW."""
    saved = {name: os.environ.get(name) for name in ("EVENTDESK_HOME", "EVENTDESK_NOW")}
    rng = random.Random(2014)
    try:
        os.environ["EVENTDESK_NOW"] = NOW
        rows = []
        for size in ROSTER_SIZES:
            with tempfile.TemporaryDirectory(prefix="eventdesk-door-bench-", dir=ROOT / "bench") as home:
                os.environ["EVENTDESK_HOME"] = home
                rows.append(measure(size, rng))
        return rows
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def markdown(rows: list[dict]) -> str:
    lines = [
        "## Door scan verdicts (offline, in process)",
        "",
        "`bench/door_cli_bench.py`: a synthetic door bundle stored as `eventdesk door sync` stores it (SQLite, "
        "mode 0600), 1% of tickets revoked and 10% inside; a door's mix of payloads (genuine, shown twice, revoked, "
        "forged, another event's, garbage) judged one at a time at *Day 1 entrance*. *Verdict* is "
        f"`DoorSession.judge` (parse, Ed25519 signature, revocation, window and audience, presence; {JUDGED:,} "
        f"payloads after {WARM_UP} warm-up); *with journal* is `DoorSession.scan`, which also appends the scan to "
        f"the journal and fsyncs it before the verdict is shown ({JOURNALED} payloads; the disk's fsync dominates). "
        f"Target: verdict p99 ≤ {TARGET_P99_MS:g} ms.",
        "",
        "| roster | bundle file | store | verdict p50 ms | verdict p99 ms | max ms "
        "| with journal p50 ms | with journal p99 ms | target |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        p50, p99, worst = row["judge"]
        j50, j99, _ = row["scan"]
        mark = "pass" if p99 <= TARGET_P99_MS else "**miss**"
        lines.append(
            f"| {row['roster']:,} | {row['file_mb']:.1f} MB | {row['store_seconds']:.2f} s | {p50:.3f} | {p99:.3f} "
            f"| {worst:.2f} | {j50:.3f} | {j99:.3f} | {mark} |"
        )
    mix = rows[-1]["results"]
    lines += ["", "Verdicts in the mix: " + ", ".join(f"{result} {n:,}" for result, n in sorted(mix.items())) + "."]
    return "\n".join(lines) + "\n"


def main() -> None:
    from sections import write_section

    section = markdown(run())
    write_section("door_cli_bench", section)
    print(section)


if __name__ == "__main__":
    main()
