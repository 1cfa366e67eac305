"""Make tests/vectors/door_verdicts.json, the verdicts every door judge must give (README.md here).

    .venv/bin/python tests/vectors/make_door_verdicts.py          # write the file
    .venv/bin/python tests/vectors/make_door_verdicts.py --check  # exit 1 if the file is stale

Deterministic: the keys come from fixed seeds (RFC 8032's first two test keys, public
knowledge, so no real ticket can ever be signed with them), the serials are fixed, and the
bundle is what the server's own `door_bundle` answers for that state, loaded into a fresh
database of the built-in conference with the clock fixed. The same code gives the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from server import ticketcode

FORMAT = "eventdesk-door-verdicts/1"
EVENT = "ecc2014"
TIMEZONE = "Europe/Brussels"
PATH = Path(__file__).with_name("door_verdicts.json")
# RFC 8032 section 7.1, TEST 1 and TEST 2: the event's key, and a key the event never published.
TEST_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
OTHER_SEED = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
# RFC 8032 TEST 3: the event's earlier key, retired when TEST 1 took over (still published).
RETIRED_SEED = bytes.fromhex("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7")
KEY_CREATED, RETIRED_KEY_CREATED = "2014-10-01T10:00:00+00:00", "2014-09-01T10:00:00+00:00"

ANNA, BRAM, CARLA, DARIO, EVA, ZOE = (f"{n:016x}" for n in range(0x1000000000000001, 0x1000000000000007))
REVOKED, REVOKED_TOO = "2000000000000001", "2000000000000002"
UNKNOWN = "3000000000000001"  # signed with the event's key, never issued
PEOPLE = {
    ANNA: ("Anna Berg", "Flanders Photonics Cluster", "cluster-manager"),
    BRAM: ("Bram de Wit", "Dutch Innovation Agency", "national-policy-maker"),
    CARLA: ("Carla Dias", "University of Porto", "academia"),
    DARIO: ("Dario Esposito", "Cluster Weekly", "press"),
    EVA: ("Eva Fischer", "Regional Development Bank", "industry"),
    # A name to be shown as text, never as markup.
    ZOE: ('Zoë "Z" Ó Briain <img src=x onerror=alert(1)>', "Ørsted & Co <Cluster>", "regional-policy-maker"),
}


def local(day: int, hhmmss: str, offset: str = "+02:00") -> str:
    """A door time in October 2014 (Brussels is +02:00 until 26 October)."""
    return f"2014-10-{day:02d}T{hhmmss}{offset}"


LISTS = [  # the built-in conference's three lists as they are, and three more
    {"id": "day1-entrance", "name": "Day 1 entrance", "start": local(20, "08:00:00"), "end": local(20, "21:00:00"),
     "audience": "all", "categories": [], "allow_reentry": True},
    {"id": "day2-entrance", "name": "Day 2 entrance", "start": local(21, "07:30:00"), "end": local(21, "18:00:00"),
     "audience": "all", "categories": [], "allow_reentry": True},
    {"id": "matchmaking", "name": "Matchmaking", "start": local(20, "08:00:00"), "end": local(20, "12:45:00"),
     "audience": "explicit", "categories": [], "allow_reentry": True},
    {"id": "policy-lounge", "name": "Policy lounge", "start": local(20, "09:00:00"), "end": local(21, "18:00:00"),
     "audience": "categories", "categories": ["eu-policy-maker", "national-policy-maker", "regional-policy-maker"],
     "allow_reentry": True},
    {"id": "gala-dinner", "name": "Gala dinner", "start": local(20, "19:30:00"), "end": local(20, "23:30:00"),
     "audience": "all", "categories": [], "allow_reentry": False},
    {"id": "cluster-lab", "name": "Cluster lab", "start": local(21, "09:00:00"), "end": local(21, "12:00:00"),
     "audience": "explicit", "categories": [], "allow_reentry": False},
]  # fmt: skip
MEMBERS = {"matchmaking": [ANNA, ZOE], "cluster-lab": [ANNA, ZOE]}
PRESENCE = [  # who is inside when the bundle is fetched: (list, serial, since)
    ("day1-entrance", BRAM, local(20, "08:30:00")),
    ("gala-dinner", CARLA, local(20, "19:45:00")),
    ("policy-lounge", ZOE, local(20, "10:00:00")),
]


# --- tickets --------------------------------------------------------------------------------


def _private(seed: bytes):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return _private(seed).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_b64(seed: bytes) -> str:
    return base64.b64encode(public_key(seed)).decode("ascii")


def kid(seed: bytes) -> str:
    """As the server names its keys: the first 16 hex digits of SHA-256 of the public key."""
    return hashlib.sha256(public_key(seed)).hexdigest()[:16]


def sign(serial: str, event: str = EVENT, seed: bytes = TEST_SEED) -> str:
    """The QR payload of `serial` for `event`, signed with `seed`'s key (Ed25519 is deterministic)."""
    code, raw = ticketcode.event_code(event), bytes.fromhex(serial)
    return ticketcode.encode(code, raw, _private(seed).sign(ticketcode.signed_message(code, raw)))


def body(payload: str) -> str:
    """The base45 part (which may itself hold colons)."""
    return payload.split(":", 2)[2]


BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def flip_signature_character(payload: str) -> str:
    """One character of the last base45 triple moved to its neighbour: still readable, badly signed."""
    index = len(payload) - 3  # the least significant digit of the last triple (signature bytes)
    digit = BASE45.index(payload[index])
    return payload[:index] + BASE45[digit - 1 if digit else 1] + payload[index + 1 :]


def swap_serial(payload: str, serial: str) -> str:
    """Another serial under this payload's signature."""
    import base45

    prefix, event, code = payload.split(":", 2)
    raw = base45.b45decode(code)
    return f"{prefix}:{event}:" + base45.b45encode(bytes.fromhex(serial) + raw[8:]).decode("ascii")


# --- the bundle -----------------------------------------------------------------------------


def draft_bundle() -> dict:
    """The state the vectors judge, in the bundle's own shape; `bundle()` has the server write it."""
    return {
        "event": EVENT,
        "public_keys": [
            {
                "kid": kid(seed),
                "algorithm": "Ed25519",
                "public_key": public_key_b64(seed),
                "created_at": created,
                "retired": seed == RETIRED_SEED,
            }
            for seed, created in ((RETIRED_SEED, RETIRED_KEY_CREATED), (TEST_SEED, KEY_CREATED))
        ],
        "lists": LISTS,
        "roster": [
            {
                "serial": serial,
                "name": name,
                "organisation": organisation,
                "category": category,
                "lists": [item for item, members in MEMBERS.items() if serial in members],
            }
            for serial, (name, organisation, category) in PEOPLE.items()
        ],
        "revoked": [REVOKED, REVOKED_TOO],
        "presence": [
            {"list": item, "serial": serial, "inside": True, "since": since} for item, serial, since in PRESENCE
        ],
    }


def bundle() -> dict:
    """GET /api/v1/events/ecc2014/door-bundle's answer for the draft's state, from a fresh database."""
    from server import db as database
    from server.door_bundle import door_bundle
    from server.programme_file import builtin_path, load_file
    from tests.vectors.door_state import LOADED, clock_at, load_bundle_state

    with tempfile.TemporaryDirectory() as directory:
        db = database.connect(Path(directory) / "eventdesk.sqlite3")
        try:
            with clock_at(LOADED):
                database.init_db(db)
                load_file(db, builtin_path())
            load_bundle_state(db, draft_bundle(), sign)
            with clock_at(LOADED):
                return door_bundle(db, EVENT)
        finally:
            db.close()


# --- the cases ------------------------------------------------------------------------------


def scan(payload: str, list_id: str, at: str, type: str = "entry") -> dict:
    return {"payload": payload, "list": list_id, "type": type, "at": at}


def accepted(list_id: str, serial: str, type: str, at: str) -> dict:
    return {"list": list_id, "serial": serial, "type": type, "scanned_at": at}


def case(name: str, scan: dict, result: str, serial: str | None = None, *, earlier: list[dict] = (),
         server: bool = True) -> dict:  # fmt: skip
    """One vector. The name is the holder's as the roster has it, for the results that name them."""
    assert result in ticketcode.RESULTS, result
    named = result in ("ok", "already_checked_in", "not_on_list")
    document = {
        "name": name,
        "scan": scan,
        "accepted": list(earlier),
        "expect": {"result": result, "serial": serial, "name": PEOPLE[serial][0] if named else None},
    }
    if not server:
        document["server"] = False
    return document


def cases() -> list[dict]:
    day1, at9 = "day1-entrance", local(20, "09:00:00")
    anna = sign(ANNA)
    return [
        *malformed_cases(anna, day1, at9),
        *wrong_event_cases(day1, at9),
        *signature_cases(anna, day1, at9),
        case("revoked ticket in the list's window", scan(sign(REVOKED), day1, at9), "revoked", REVOKED),
        case("revoked ticket outside any window: revoked comes first",
             scan(sign(REVOKED_TOO), "gala-dinner", at9), "revoked", REVOKED_TOO),
        case("revoked ticket at an exit", scan(sign(REVOKED), day1, at9, "exit"), "revoked", REVOKED),
        case("unknown ticket: genuine signature, serial never issued", scan(sign(UNKNOWN), day1, at9),
             "unknown_ticket", UNKNOWN),
        case("unknown ticket outside the window: unknown comes first",
             scan(sign(UNKNOWN), day1, local(20, "23:00:00")), "unknown_ticket", UNKNOWN),
        *window_cases(anna, day1),
        *audience_cases(),
        *presence_cases(anna, day1),
        *exit_cases(day1),
        *offset_cases(anna, day1),
    ]  # fmt: skip


def malformed_cases(anna: str, day1: str, at9: str) -> list[dict]:
    code = body(anna)
    return [
        case("malformed: empty payload (the server refuses the request itself: 400)", scan("", day1, at9),
             "malformed", server=False),
        case("malformed: only spaces (the server refuses the request itself: 400)", scan("   ", day1, at9),
             "malformed", server=False),
        case("malformed: garbage text", scan("hello door", day1, at9), "malformed"),
        case("malformed: a web address", scan("https://example.org/ticket/1000000000000001", day1, at9), "malformed"),
        case("malformed: prefix only", scan("ED1:ECC2014", day1, at9), "malformed"),
        case("malformed: wrong format version", scan("ED2:ECC2014:" + code, day1, at9), "malformed"),
        case("malformed: no event", scan("ED1::" + code, day1, at9), "malformed"),
        case("malformed: one character short", scan(anna[:-1], day1, at9), "malformed"),
        case("malformed: one character too many", scan(anna + "0", day1, at9), "malformed"),
        case("malformed: a character outside base45", scan(anna[:-5] + "#" + anna[-4:], day1, at9), "malformed"),
        case("malformed: a base45 triple over 65535", scan(f"ED1:ECC2014:GGW{code[3:]}", day1, at9), "malformed"),
        case("malformed: a genuine code inside more than 512 characters",
             scan(anna + " " * (513 - len(anna)), day1, at9), "malformed"),
        case("ok: a genuine code with spaces around it up to 512 characters",
             scan(anna + " " * (512 - len(anna)), day1, at9), "ok", ANNA),
        case("ok: lower case and spaces around it, as scanners type", scan(f"  {anna.lower()}\t\r\n", day1, at9),
             "ok", ANNA),
    ]  # fmt: skip


def wrong_event_cases(day1: str, at9: str) -> list[dict]:
    other = sign(ANNA, "other2015")
    return [
        case("wrong event: signed with this event's key for another event", scan(other, day1, at9), "wrong_event"),
        case(
            "wrong event: judged before its signature (another key)",
            scan(sign(ANNA, "other2015", OTHER_SEED), day1, at9),
            "wrong_event",
        ),
        case("wrong event in lower case", scan(other.lower(), day1, at9), "wrong_event"),
    ]


def signature_cases(anna: str, day1: str, at9: str) -> list[dict]:
    return [
        case("invalid signature: one signature character flipped", scan(flip_signature_character(anna), day1, at9),
             "invalid_signature"),
        case("invalid signature: signed by a key the event never published",
             scan(sign(ANNA, seed=OTHER_SEED), day1, at9), "invalid_signature"),
        case("invalid signature: another event's signature under this event's name",
             scan("ED1:ECC2014:" + body(sign(ANNA, "other2015")), day1, at9), "invalid_signature"),
        case("invalid signature: another serial under a genuine signature", scan(swap_serial(anna, BRAM), day1, at9),
             "invalid_signature"),
        case("invalid signature: a revoked ticket forged is forged first",
             scan(flip_signature_character(sign(REVOKED)), day1, at9), "invalid_signature"),
        case("ok: signed with the event's retired key, still published", scan(sign(BRAM, seed=RETIRED_SEED),
             "day2-entrance", local(21, "08:00:00")), "ok", BRAM),
        case("invalid signature: the retired key's signature under another serial",
             scan(swap_serial(sign(BRAM, seed=RETIRED_SEED), CARLA), day1, at9), "invalid_signature"),
        case("invalid signature: an unknown serial signed by another key",
             scan(sign(UNKNOWN, seed=OTHER_SEED), day1, at9), "invalid_signature"),
    ]  # fmt: skip


def window_cases(anna: str, day1: str) -> list[dict]:
    return [
        case("ok: in the window", scan(anna, day1, local(20, "09:00:00")), "ok", ANNA),
        case("ok: exactly when the list opens", scan(anna, day1, local(20, "08:00:00")), "ok", ANNA),
        case("not on list: a second before the list opens", scan(anna, day1, local(20, "07:59:59")), "not_on_list",
             ANNA),
        case("ok: a second before the list closes", scan(anna, day1, local(20, "20:59:59")), "ok", ANNA),
        case("not on list: exactly when the list closes", scan(anna, day1, local(20, "21:00:00")), "not_on_list",
             ANNA),
        case("not on list: after the list closed", scan(anna, day1, local(20, "23:00:00")), "not_on_list", ANNA),
        case("not on list: day 2's list on day 1", scan(anna, "day2-entrance", local(20, "09:00:00")), "not_on_list",
             ANNA),
        case("ok: day 2's list on day 2", scan(anna, "day2-entrance", local(21, "08:00:00")), "ok", ANNA),
        case("not on list: inside, but the list has closed", scan(sign(BRAM), day1, local(20, "21:30:00")),
             "not_on_list", BRAM),
        case("not on list: an exit after the list closed", scan(anna, day1, local(20, "21:30:00"), "exit"),
             "not_on_list", ANNA),
    ]  # fmt: skip


def audience_cases() -> list[dict]:
    at10 = local(20, "10:00:00")
    return [
        case("ok: a category in the list's audience", scan(sign(BRAM), "policy-lounge", at10), "ok", BRAM),
        case("not on list: a category not in the list's audience", scan(sign(ANNA), "policy-lounge", at10),
             "not_on_list", ANNA),
        case("ok: named on an explicit list", scan(sign(ANNA), "matchmaking", at10), "ok", ANNA),
        case("not on list: not named on an explicit list", scan(sign(EVA), "matchmaking", at10), "not_on_list", EVA),
        case("not on list: a category in another list's audience only", scan(sign(DARIO), "policy-lounge", at10),
             "not_on_list", DARIO),
        case("not on list: not named, and at an exit", scan(sign(EVA), "matchmaking", at10, "exit"), "not_on_list",
             EVA),
        case("ok: markup in a name is a name", scan(sign(ZOE), "matchmaking", at10), "ok", ZOE),
    ]  # fmt: skip


def presence_cases(anna: str, day1: str) -> list[dict]:
    bram, carla, eva = sign(BRAM), sign(CARLA), sign(EVA)
    gala, lab = "gala-dinner", "cluster-lab"
    return [
        case("already checked in: inside since the bundle", scan(bram, day1, local(20, "10:00:00")),
             "already_checked_in", BRAM),
        case("already checked in: inside the policy lounge since the bundle",
             scan(sign(ZOE), "policy-lounge", local(20, "10:30:00")), "already_checked_in", ZOE),
        case("ok: an entry at a door time before the bundle's entry", scan(carla, gala, local(20, "19:40:00")),
             "ok", CARLA),
        case("ok: inside another list only", scan(carla, day1, local(20, "20:00:00")), "ok", CARLA),
        case("already checked in: scanned the very second the bundle says they came in",
             scan(bram, day1, local(20, "08:30:00")), "already_checked_in", BRAM),
        case("already checked in: still inside a list that spans two days",
             scan(sign(ZOE), "policy-lounge", local(21, "09:30:00")), "already_checked_in", ZOE),
        case("ok: this door let someone else in", scan(eva, day1, local(20, "09:05:00")), "ok", EVA,
             earlier=[accepted(day1, ANNA, "entry", local(20, "09:00:00"))]),
        case("already checked in: inside since the bundle and let in by this door too",
             scan(bram, day1, local(20, "09:30:00")), "already_checked_in", BRAM,
             earlier=[accepted(day1, BRAM, "exit", local(20, "09:00:00")),
                      accepted(day1, BRAM, "entry", local(20, "09:10:00"))]),
        case("already checked in: this door let them in a moment ago", scan(anna, day1, local(20, "09:05:00")),
             "already_checked_in", ANNA, earlier=[accepted(day1, ANNA, "entry", local(20, "09:00:00"))]),
        case("ok: this door let them in on another list", scan(anna, "matchmaking", local(20, "09:30:00")), "ok",
             ANNA, earlier=[accepted(day1, ANNA, "entry", local(20, "09:00:00"))]),
        case("ok: re-entry after an exit where the list allows it", scan(anna, day1, local(20, "11:30:00")), "ok",
             ANNA, earlier=[accepted(day1, ANNA, "entry", local(20, "09:00:00")),
                            accepted(day1, ANNA, "exit", local(20, "11:00:00"))]),
        case("already checked in: in again after re-entering", scan(anna, day1, local(20, "12:00:00")),
             "already_checked_in", ANNA,
             earlier=[accepted(day1, ANNA, "entry", local(20, "09:00:00")),
                      accepted(day1, ANNA, "exit", local(20, "11:00:00")),
                      accepted(day1, ANNA, "entry", local(20, "11:30:00"))]),
        case("already checked in: re-entry after an exit where the list allows none",
             scan(eva, gala, local(20, "20:30:00")), "already_checked_in", EVA,
             earlier=[accepted(gala, EVA, "entry", local(20, "19:35:00")),
                      accepted(gala, EVA, "exit", local(20, "20:10:00"))]),
        case("already checked in: re-entry on a named list that allows none",
             scan(anna, lab, local(21, "10:30:00")), "already_checked_in", ANNA,
             earlier=[accepted(lab, ANNA, "entry", local(21, "09:10:00")),
                      accepted(lab, ANNA, "exit", local(21, "10:00:00"))]),
        case("ok: re-entry after an exit from the bundle's presence where the list allows it",
             scan(bram, day1, local(20, "11:30:00")), "ok", BRAM,
             earlier=[accepted(day1, BRAM, "exit", local(20, "11:00:00"))]),
        case("already checked in: re-entry after an exit from the bundle's presence where the list allows none",
             scan(carla, gala, local(20, "21:30:00")), "already_checked_in", CARLA,
             earlier=[accepted(gala, CARLA, "exit", local(20, "21:00:00"))]),
        case("ok: first entry after an exit of someone never in, where the list allows no re-entry",
             scan(eva, gala, local(20, "20:00:00")), "ok", EVA,
             earlier=[accepted(gala, EVA, "exit", local(20, "19:40:00"))]),
    ]  # fmt: skip


def exit_cases(day1: str) -> list[dict]:
    bram, eva = sign(BRAM), sign(EVA)
    return [
        case("ok: exit when inside since the bundle", scan(bram, day1, local(20, "12:00:00"), "exit"), "ok", BRAM),
        case("ok: exit of someone this door let in", scan(eva, day1, local(20, "12:00:00"), "exit"), "ok", EVA,
             earlier=[accepted(day1, EVA, "entry", local(20, "09:00:00"))]),
        case("ok: exit of someone never in (exits are not judged by presence)",
             scan(eva, day1, local(20, "10:00:00"), "exit"), "ok", EVA),
        case("ok: a second exit", scan(eva, day1, local(20, "10:05:00"), "exit"), "ok", EVA,
             earlier=[accepted(day1, EVA, "exit", local(20, "10:00:00"))]),
        case("ok: exit where the list allows no re-entry", scan(sign(CARLA), "gala-dinner", local(20, "22:00:00"),
             "exit"), "ok", CARLA),
    ]  # fmt: skip


def offset_cases(anna: str, day1: str) -> list[dict]:
    eva = sign(EVA)
    return [
        case("ok: the opening time written in UTC", scan(eva, day1, "2014-10-20T06:00:00+00:00"), "ok", EVA),
        case("not on list: a second before opening, written in UTC", scan(eva, day1, "2014-10-20T05:59:59+00:00"),
             "not_on_list", EVA),
        case("ok: a door time written with Z", scan(eva, day1, "2014-10-20T10:00:00Z"), "ok", EVA),
        case("not on list: the closing time written in New York time", scan(eva, day1, "2014-10-20T15:00:00-04:00"),
             "not_on_list", EVA),
        case("ok: a second before closing, written in Kolkata time", scan(eva, day1, "2014-10-21T00:29:59+05:30"),
             "ok", EVA),
        case("ok: a door time with milliseconds, a moment before closing",
             scan(eva, day1, "2014-10-20T20:59:59.999+02:00"), "ok", EVA),
        case("not on list: a door time with milliseconds, a moment before opening",
             scan(eva, day1, "2014-10-20T07:59:59.999+02:00"), "not_on_list", EVA),
        case("already checked in: the earlier entry written in UTC", scan(anna, day1, local(20, "09:05:00")),
             "already_checked_in", ANNA, earlier=[accepted(day1, ANNA, "entry", "2014-10-20T07:00:00+00:00")]),
        case("ok: the earlier entry in UTC is later than the scan", scan(anna, day1, local(20, "08:55:00")), "ok",
             ANNA, earlier=[accepted(day1, ANNA, "entry", "2014-10-20T07:00:00+00:00")]),
    ]  # fmt: skip


# --- the file -------------------------------------------------------------------------------


def document() -> dict:
    return {
        "format": FORMAT,
        "event": EVENT,
        "timezone": TIMEZONE,
        "key": {"seed_hex": TEST_SEED.hex(), "public_key": public_key_b64(TEST_SEED), "kid": kid(TEST_SEED)},
        "bundle": bundle(),
        "cases": cases(),
    }


def render(value: dict) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render(document())
    if "--check" in argv:
        if PATH.read_text(encoding="utf-8") != text:
            print(f"{PATH} is stale: run {Path(__file__).name} again", file=sys.stderr)
            return 1
        return 0
    PATH.write_text(text, encoding="utf-8")
    print(f"wrote {PATH} ({len(json.loads(text)['cases'])} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
