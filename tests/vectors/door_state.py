"""A door bundle document turned back into server state, through the domain functions.

The generator uses it to make the vectors' bundle (the state is loaded, then the server's own
`door_bundle` writes the document), and tests/test_door_vectors.py uses it to give the server
the state a vector describes. Loading the file's bundle must give that bundle back, byte for
byte: a test checks it, so the server judges exactly what the offline judges are shown.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator

import sqlite_utils

from server import auth, checkin, checkin_lists, clock, db as database
from server.attendees import create_attendee
from server.programme import get_event

LOADED = "2014-10-01T12:00:00+02:00"  # when the vectors' state is set up, before the event
PRESENCE_DEVICE = "Vectors: earlier door"


@contextlib.contextmanager
def clock_at(moment: str) -> Iterator[None]:
    """The server's clock (EVENTDESK_NOW) at `moment` for the block, then as it was."""
    before = os.environ.get("EVENTDESK_NOW")
    os.environ["EVENTDESK_NOW"] = moment
    try:
        yield
    finally:
        if before is None:
            del os.environ["EVENTDESK_NOW"]
        else:
            os.environ["EVENTDESK_NOW"] = before


def load_bundle_state(db: sqlite_utils.Database, bundle: dict, sign: Callable[[str], str]) -> None:
    """Make the server hold what a full door bundle says: keys, lists, roster, revocations, presence.

    `sign(serial)` gives the ticket payload of a serial (presence is made by redeeming tickets).
    Domain functions where they exist (lists, attendees, members, scans); direct inserts where
    none does: a public key whose private half is not in DATA_DIR/keys, a ticket with a chosen
    serial (create_attendee issues a random one, renamed here), a revoked serial with no holder.
    """
    slug = bundle["event"]
    with clock_at(LOADED):
        event = get_event(db, slug)
        with database.write(db):
            for key in bundle["public_keys"]:
                created = clock.utc_stamp(clock.parse_stamp(key["created_at"]))
                db.conn.execute(
                    "INSERT INTO ticket_keys (event_id, kid, public_key, created_at, retired_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (event["id"], key["kid"], key["public_key"], created, created if key["retired"] else None),
                )
        _load_lists(db, slug, bundle["lists"])
        explicit = {item["id"] for item in bundle["lists"] if item["audience"] == "explicit"}
        for entry in bundle["roster"]:
            person = {"name": entry["name"], "email": f"{entry['serial']}@vectors.example",
                      "organisation": entry["organisation"], "category": entry["category"]}  # fmt: skip
            document, _token = create_attendee(db, slug, person)
            with database.write(db):
                db.conn.execute(
                    "UPDATE tickets SET serial = ? WHERE attendee_pk = (SELECT pk FROM attendees WHERE id = ?)",
                    (entry["serial"], document["id"]),
                )
            for list_id in sorted(explicit & set(entry["lists"])):
                checkin_lists.set_members(db, slug, list_id, [document["id"]], add=True)
        with database.write(db):
            db.conn.executemany(
                "INSERT INTO tickets (serial, event_id, attendee_pk, issued_at, revoked_at) VALUES (?, ?, NULL, ?, ?)",
                [(serial, event["id"], clock.utc_stamp(), clock.utc_stamp()) for serial in bundle["revoked"]],
            )
        auth.create_token(db, "door", event_slug=slug, label=PRESENCE_DEVICE)
    device_id = db.conn.execute("SELECT id FROM api_tokens WHERE label = ?", (PRESENCE_DEVICE,)).fetchone()[0]
    for number, item in enumerate(sorted(bundle["presence"], key=lambda item: item["since"]), 1):
        with clock_at(item["since"]):
            scan = checkin.Scan(f"presence-{number}", item["list"], sign(item["serial"]), "entry")
            verdict = checkin.redeem(db, slug, scan, device_id=device_id)
        if verdict.response["result"] != "ok":
            raise ValueError(f"presence {item} could not be made: {verdict.response['result']}")


def _load_lists(db: sqlite_utils.Database, slug: str, lists: list[dict]) -> None:
    """The bundle's lists, as they are: the built-in ones updated, others created, any other deleted."""
    existing = {item["id"] for item in checkin_lists.list_lists(db, get_event(db, slug))}
    for item in lists:
        fields = {name: item[name] for name in ("name", "start", "end", "audience", "categories", "allow_reentry")}
        if item["id"] in existing:
            checkin_lists.update_list(db, slug, item["id"], fields)
        else:
            checkin_lists.create_list(db, slug, {"id": item["id"], **fields})
    for list_id in existing - {item["id"] for item in lists}:
        checkin_lists.delete_list(db, slug, list_id)
