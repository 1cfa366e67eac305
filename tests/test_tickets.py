"""Tickets: the signed QR payload, the attendee's ticket and its images, keys, re-issue, erasure.

A ticket is `ED1:<EVENT>:<base45(serial + Ed25519 signature)>`: short, QR-alphanumeric, free of
personal data, and verifiable with the event's public keys alone. The images are decoded back
with an independent reader (zxing-cpp), also after a phone-photo-like degradation. Private keys
are 0600 files and never leave the server; a rotated key keeps old tickets valid; re-issuing or
erasing makes the old code answer `revoked` at the door.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import stat
from pathlib import Path
from typing import NamedTuple

import pytest
import resvg_py
import zxingcpp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, ImageFilter

from server import ticketcode, tickets
from tests.conftest import (
    API,
    EVENT,
    assert_error,
    bearer,
    flip_signature_character,
    register_with_ticket,
    scan,
    snapshot,
)
from tests.people import ANNA

NOW = "2014-10-20T09:00:00+02:00"
NOW_UTC = "2014-10-20T07:00:00Z"
LATER = "2014-10-20T10:00:00+02:00"
LATER_UTC = "2014-10-20T08:00:00Z"
QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
QUIET_ZONE = 4
SERIAL_RE = re.compile(r"^[0-9a-f]{16}$")
# A payload made of fixed bytes: its shape is a real ticket's, its signature is nobody's.
FIXED = ticketcode.encode("ECC2014", bytes(range(8)), bytes(range(64)))


class Holder(NamedTuple):
    """A registered attendee, their personal token's headers and their ticket as the API gives it."""

    id: str
    headers: dict
    payload: str
    serial: str


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", NOW)


@pytest.fixture
def anna(client, db) -> Holder:
    return register(client, db, ANNA)


def register(client, db, person: dict) -> Holder:
    document, token, ticket = register_with_ticket(client, db, person)
    return Holder(document["id"], bearer(token), ticket["payload"], ticket["serial"])


def published_keys(client) -> list[bytes]:
    return [base64.b64decode(key["public_key"]) for key in client.get(f"{API}/ticket-keys").get_json()]


def decode(image: Image.Image) -> zxingcpp.Barcode:
    """The one QR code an independent reader finds in the image."""
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1, found
    return found[0]


def assert_quiet_zone(image: Image.Image, version: int) -> None:
    """The outer four modules on every side are white, and the symbol starts right inside them."""
    gray = image.convert("L")
    width, height = gray.size
    modules = 4 * version + 17 + 2 * QUIET_ZONE
    assert width == height and width % modules == 0, (gray.size, modules)
    border = QUIET_ZONE * (width // modules)
    for box in (
        (0, 0, width, border),
        (0, height - border, width, height),
        (0, 0, border, height),
        (width - border, 0, width, height),
    ):
        assert gray.crop(box).getextrema() == (255, 255), box
    for corner in ((border, border), (width - border - 1, border), (border, height - border - 1)):
        assert gray.getpixel(corner) == 0, corner  # a finder pattern's dark outer ring


def image_of(response) -> Image.Image:
    """The response's image as pixels: a PNG as it is, an SVG rendered by resvg."""
    if response.mimetype == "image/svg+xml":
        return Image.open(io.BytesIO(resvg_py.svg_to_bytes(svg_string=response.get_data(as_text=True))))
    return Image.open(io.BytesIO(response.data))


def private_key_secrets(keys_dir: Path) -> list[bytes]:
    """Every form in which a private key could leak: raw bytes (hex, base64) and the PEM body."""
    leaks = []
    for path in keys_dir.iterdir():
        pem = path.read_bytes()
        key = serialization.load_pem_private_key(pem, password=None)
        raw = key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
        leaks += [raw.hex().encode(), base64.b64encode(raw), base64.b64encode(raw).rstrip(b"="), body]
    return leaks


def database_bytes(app) -> bytes:
    """The database file and its write-ahead log, as they lie on disk."""
    path = Path(app.config["DATABASE"])
    return b"".join(part.read_bytes() for part in sorted(path.parent.glob(path.name + "*")))


# --- the payload format ---------------------------------------------------------------------


def test_payload_round_trips_through_encode_parse_and_verify():
    private, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    public, other = (
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        for key in (private, stranger)
    )
    serial = bytes.fromhex("0123456789abcdef")
    signature = private.sign(ticketcode.signed_message("ECC2014", serial))

    payload = ticketcode.encode("ECC2014", serial, signature)
    parsed = ticketcode.parse(payload)

    assert parsed == ticketcode.TicketCode("ECC2014", serial, signature)
    assert (parsed.serial_hex, parsed.event_slug) == ("0123456789abcdef", "ecc2014")
    assert ticketcode.verify(parsed, [public]) is True
    assert ticketcode.verify(parsed, [other, public]) is True  # any published key will do
    assert ticketcode.verify(parsed, [other]) is False
    assert ticketcode.verify(parsed, []) is False


def test_payload_from_the_api_is_short_alphanumeric_prefixed_and_anonymous(anna):
    payload = anna.payload

    assert len(payload) == 120 <= 130
    assert set(payload) <= QR_ALPHANUMERIC
    assert payload.startswith("ED1:ECC2014:")
    for personal in (ANNA["name"], ANNA["email"], anna.id, "Anna", "Berg"):
        assert personal.upper() not in payload


def test_payload_of_the_longest_event_code_is_130_characters():
    code = ticketcode.event_code("a" * ticketcode.MAX_EVENT_CODE)

    payload = ticketcode.encode(code, bytes(8), bytes(64))

    assert len(payload) == 130
    with pytest.raises(ValueError, match="too long"):
        ticketcode.event_code("a" * (ticketcode.MAX_EVENT_CODE + 1))


@pytest.mark.parametrize(
    "scanned",
    [FIXED, f"  {FIXED}\n", f"\t{FIXED}\r\n", FIXED.lower(), f"\n{FIXED.lower()} "],
    ids=["as-is", "spaces-newline", "tab-crlf", "lower-case", "lower-case-padded"],
)
def test_parse_tolerates_surrounding_whitespace_and_lower_case(scanned):
    parsed = ticketcode.parse(scanned)

    assert parsed == ticketcode.TicketCode("ECC2014", bytes(range(8)), bytes(range(64)))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "ED2" + FIXED[3:],
        "XED1" + FIXED[3:],
        FIXED[:-1],
        FIXED + "A",
        "ED1::" + FIXED[len("ED1:ECC2014:") :],
        FIXED[:-3] + "~~~",
        FIXED[:-3] + "ZZZ",
        "https://example.org/ticket/123",
    ],
    ids=[
        "empty",
        "word",
        "wrong-version",
        "wrong-prefix",
        "one-short",
        "one-long",
        "no-event",
        "not-base45",
        "base45-overflow",
        "url",
    ],
)
def test_parse_refuses_what_is_not_a_ticket(text):
    with pytest.raises(ticketcode.MalformedPayload):
        ticketcode.parse(text)


def test_flipped_signature_character_fails_verification_and_the_door_says_so(client, anna, door):
    damaged = flip_signature_character(anna.payload)

    verified = ticketcode.verify(ticketcode.parse(damaged), published_keys(client))
    response = scan(client, door, damaged, "flip-1")

    assert damaged != anna.payload and len(damaged) == len(anna.payload)
    assert verified is False
    assert ticketcode.verify(ticketcode.parse(anna.payload), published_keys(client)) is True
    body = assert_error(response, 400, "invalid_signature")
    assert (body["result"], body["attendee"], body["serial"]) == ("invalid_signature", None, None)


# --- the attendee's ticket ------------------------------------------------------------------


def test_my_ticket_gives_the_payload_serial_and_lists(client, db, anna):
    response = client.get("/api/v1/me/ticket", headers=anna.headers)

    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "payload": anna.payload,
        "serial": anna.serial,
        "event": EVENT,
        "attendee": anna.id,
        "lists": ["day1-entrance", "day2-entrance"],
    }
    assert SERIAL_RE.match(body["serial"])
    assert ticketcode.parse(body["payload"]).serial_hex == body["serial"]
    stored = db.conn.execute(
        "SELECT t.serial, t.issued_at, t.revoked_at FROM tickets t JOIN attendees a ON a.pk = t.attendee_pk "
        "WHERE a.id = ?",
        (anna.id,),
    ).fetchall()
    assert [tuple(row) for row in stored] == [(body["serial"], NOW_UTC, None)]


def test_my_ticket_lists_matchmaking_once_a_member(client, db, admin, anna):
    added = client.post(f"{API}/checkin-lists/matchmaking/members", json={"attendees": [anna.id]}, headers=admin)

    response = client.get("/api/v1/me/ticket", headers=anna.headers)

    assert added.status_code == 200 and added.get_json()["members"] == 1
    assert response.get_json()["lists"] == ["day1-entrance", "matchmaking", "day2-entrance"]
    assert response.get_json()["payload"] == anna.payload


def test_my_ticket_is_the_same_on_repeat_and_for_the_admin(client, admin, anna):
    again = client.get("/api/v1/me/ticket", headers=anna.headers)

    by_admin = client.get(f"{API}/attendees/{anna.id}/ticket", headers=admin)

    assert again.get_json()["payload"] == anna.payload
    assert by_admin.status_code == 200
    assert by_admin.get_json() == again.get_json()


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [("none", 401, "unauthorized"), ("door", 403, "forbidden"), ("admin", 403, "forbidden")],
    ids=["no-token", "door-token", "admin-token"],
)
def test_my_ticket_needs_an_attendee_token(client, door, admin, anna, headers, status, code):
    chosen = {"none": {}, "door": door, "admin": admin}[headers]

    response = client.get("/api/v1/me/ticket", headers=chosen)

    assert_error(response, status, code)


# --- QR images ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "mimetype", "pixels"),
    [
        ("/api/v1/me/ticket.png", "image/png", 450),
        ("/api/v1/me/ticket.svg", "image/svg+xml", 360),
        (f"{API}/attendees/{{id}}/ticket.png", "image/png", 450),
        (f"{API}/attendees/{{id}}/ticket.svg", "image/svg+xml", 360),
    ],
    ids=["mine-png", "mine-svg", "admin-png", "admin-svg"],
)
def test_ticket_image_decodes_back_to_the_payload(client, admin, anna, path, mimetype, pixels):
    headers = anna.headers if path.startswith("/api/v1/me") else admin

    response = client.get(path.format(id=anna.id), headers=headers)

    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.headers["Cache-Control"] == "no-store"  # the QR is a credential
    image = image_of(response)
    assert image.size == (pixels, pixels)
    found = decode(image)
    assert found.text == anna.payload
    assert found.ec_level == "M"
    assert found.extra["Version"] == "5"
    assert_quiet_zone(image, version=5)


def test_ticket_png_is_wide_enough_for_a_phone_screen(client, anna):
    response = client.get("/api/v1/me/ticket.png", headers=anna.headers)

    image = image_of(response)

    assert image.width >= 300
    assert image.width // (4 * 5 + 17 + 2 * QUIET_ZONE) == 10  # pixels per module
    assert decode(image).position.top_left.x == QUIET_ZONE * 10


def test_ticket_png_still_decodes_after_a_phone_photo(client, anna):
    image = image_of(client.get("/api/v1/me/ticket.png", headers=anna.headers)).convert("L")
    small = image.resize((image.width * 2 // 5, image.height * 2 // 5), Image.Resampling.BILINEAR)
    blurred = small.filter(ImageFilter.GaussianBlur(radius=1))
    photo = io.BytesIO()
    blurred.save(photo, format="JPEG", quality=60)

    found = decode(Image.open(io.BytesIO(photo.getvalue())))

    assert blurred.size == (180, 180)
    assert found.text == anna.payload


# --- keys -----------------------------------------------------------------------------------


def test_private_key_is_a_0600_file_under_the_keys_directory(app, client, anna):
    keys = client.get(f"{API}/ticket-keys").get_json()

    files = sorted(Path(app.config["KEYS_DIR"]).iterdir())

    assert Path(app.config["KEYS_DIR"]) == Path(app.config["DATA_DIR"]) / "keys"
    assert [path.name for path in files] == [f"{EVENT}-{keys[0]['kid']}.pem"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_ticket_keys_publish_only_public_keys_that_verify_tickets(app, client, db, admin, door, anna):
    response = client.get(f"{API}/ticket-keys")

    assert response.status_code == 200
    keys = response.get_json()
    public = base64.b64decode(keys[0]["public_key"])
    assert keys == [
        {
            "kid": hashlib.sha256(public).hexdigest()[:16],
            "algorithm": "Ed25519",
            "public_key": keys[0]["public_key"],
            "created_at": "2014-10-20T07:00:00+00:00",
            "retired": False,
        }
    ]
    assert len(public) == 32
    assert ticketcode.verify(ticketcode.parse(anna.payload), [public]) is True
    answers = [
        response.data,
        client.get(f"{API}/door-bundle", headers=door).data,
        client.get("/api/v1/me/ticket", headers=anna.headers).data,
        client.get(f"{API}/attendees/{anna.id}/ticket", headers=admin).data,
        client.get("/api/v1/swagger.json").data,
    ]
    for secret in private_key_secrets(Path(app.config["KEYS_DIR"])):
        assert all(secret not in answer for answer in answers)
        assert secret not in database_bytes(app)


def test_rotated_key_keeps_old_tickets_valid_and_signs_new_ones(app, client, db, door, anna):
    old_payload = anna.payload
    old_kid = client.get(f"{API}/ticket-keys").get_json()[0]["kid"]

    new_kid = tickets.rotate_key(db, EVENT, Path(app.config["KEYS_DIR"]))

    keys = {key["kid"]: key for key in client.get(f"{API}/ticket-keys").get_json()}
    assert new_kid != old_kid and set(keys) == {old_kid, new_kid}
    assert (keys[old_kid]["retired"], keys[new_kid]["retired"]) == (True, False)
    old_key, new_key = (base64.b64decode(keys[kid]["public_key"]) for kid in (old_kid, new_kid))
    new_payload = client.get("/api/v1/me/ticket", headers=anna.headers).get_json()["payload"]
    assert new_payload != old_payload
    assert ticketcode.parse(new_payload).serial == ticketcode.parse(old_payload).serial
    assert ticketcode.verify(ticketcode.parse(new_payload), [new_key]) is True
    assert ticketcode.verify(ticketcode.parse(new_payload), [old_key]) is False
    assert ticketcode.verify(ticketcode.parse(old_payload), [old_key]) is True
    assert scan(client, door, old_payload, "old-in").get_json()["result"] == "ok"
    assert scan(client, door, new_payload, "new-out", type="exit").get_json()["result"] == "ok"
    assert len(list(Path(app.config["KEYS_DIR"]).iterdir())) == 2


# --- re-issue and erasure -------------------------------------------------------------------


def test_reissue_gives_a_new_serial_and_revokes_the_old_one(client, db, admin, door, anna, monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", LATER)

    response = client.post(f"{API}/attendees/{anna.id}/ticket/reissue", headers=admin)

    assert response.status_code == 201
    body = response.get_json()
    assert body["serial"] != anna.serial and SERIAL_RE.match(body["serial"])
    assert body == client.get("/api/v1/me/ticket", headers=anna.headers).get_json()
    stored = dict(
        db.conn.execute("SELECT serial, revoked_at FROM tickets WHERE serial IN (?, ?)", (anna.serial, body["serial"]))
    )
    assert stored == {anna.serial: LATER_UTC, body["serial"]: None}
    old = scan(client, door, anna.payload, "old")
    new = scan(client, door, body["payload"], "new")
    refused = assert_error(old, 403, "revoked")
    assert (refused["result"], refused["serial"], refused["attendee"]["name"]) == ("revoked", anna.serial, "Anna Berg")
    assert new.status_code == 201
    assert (new.get_json()["result"], new.get_json()["serial"]) == ("ok", body["serial"])


@pytest.mark.parametrize(
    ("who", "status", "code"), [("door", 403, "forbidden"), ("nobody", 404, "not_found")], ids=["door", "unknown"]
)
def test_reissue_refused_changes_nothing(app, client, admin, door, anna, who, status, code):
    before = snapshot(app.config["DATABASE"])

    if who == "door":
        response = client.post(f"{API}/attendees/{anna.id}/ticket/reissue", headers=door)
    else:
        response = client.post(f"{API}/attendees/a-nobody00/ticket/reissue", headers=admin)

    assert_error(response, status, code)
    assert snapshot(app.config["DATABASE"]) == before


def test_erased_attendees_ticket_scans_as_revoked_and_keeps_no_attendee(client, db, admin, door, anna, monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", LATER)

    erased = client.delete(f"{API}/attendees/{anna.id}", headers=admin)

    assert erased.status_code == 204
    row = db.conn.execute("SELECT attendee_pk, revoked_at FROM tickets WHERE serial = ?", (anna.serial,)).fetchone()
    assert tuple(row) == (None, LATER_UTC)
    body = assert_error(scan(client, door, anna.payload, "after-erasure"), 403, "revoked")
    assert (body["result"], body["serial"], body["attendee"]) == ("revoked", anna.serial, None)


def test_erasing_an_attendee_leaves_their_name_in_no_scan(client, db, admin, door, anna):
    scan(client, door, anna.payload, "before-erasure")

    client.delete(f"{API}/attendees/{anna.id}", headers=admin)

    responses = [row[0] for row in db.conn.execute("SELECT response FROM scans")]
    assert len(responses) == 1
    assert all(ANNA["name"] not in text and ANNA["organisation"] not in text for text in responses)
