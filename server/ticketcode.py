"""The QR ticket payload: `ED1:<EVENT>:<base45(serial + signature)>`, signed with Ed25519.

Pure functions with no database and no Flask, so a door device (the `eventdesk` CLI, or any
scanner that implements the README's description) verifies a ticket with the event's public
key alone. Every character is in the QR alphanumeric set (0-9 A-Z space $ % * + - . / :), which
QR codes pack at 5.5 bits a character:

    ED1            format and version
    <EVENT>        the event slug in capitals, e.g. ECC2014 (at most 17 characters)
    base45 (RFC 9285) of 72 bytes: the 8-byte serial, then the 64-byte Ed25519 signature of
                   the ASCII bytes "ED1:<EVENT>:" followed by the 8 serial bytes

That is 4 + len(EVENT) + 1 + 108 characters: 120 for ECC2014, never more than 130.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

PREFIX = "ED1"
# The verdict words every door speaks, online (server/checkin.py) and offline (client_cli/door.py).
RESULTS = (
    "ok", "already_checked_in", "revoked", "invalid_signature", "unknown_ticket", "wrong_event",
    "not_on_list", "malformed",
)  # fmt: skip
MESSAGES = {
    "ok": "Welcome",
    "already_checked_in": "Already checked in",
    "revoked": "This ticket was revoked (re-issued or cancelled)",
    "invalid_signature": "Forged or damaged code: the signature does not match",
    "unknown_ticket": "No such ticket",
    "wrong_event": "This ticket is for another event",
    "not_on_list": "Not admitted through this door at this time",
    "malformed": "Not a readable Eventdesk ticket",
}

SERIAL_BYTES = 8
SIGNATURE_BYTES = 64
# A code is ~120 characters; a scanner may add whitespace. Longer text, as scanned, is no ticket:
# every judge (server, CLI door, browser door) refuses it before reading it.
MAX_PAYLOAD = 512
MAX_EVENT_CODE = 17
_BODY_CHARS = (SERIAL_BYTES + SIGNATURE_BYTES) // 2 * 3


class MalformedPayload(ValueError):
    """Not an Eventdesk ticket at all (or one this version cannot read)."""


@dataclass(frozen=True)
class TicketCode:
    event_code: str
    serial: bytes
    signature: bytes

    @property
    def serial_hex(self) -> str:
        return self.serial.hex()

    @property
    def event_slug(self) -> str:
        return self.event_code.lower()


def event_code(slug: str) -> str:
    """The event as it appears in a payload; short slugs only, to keep codes small."""
    code = slug.upper()
    if len(code) > MAX_EVENT_CODE:
        raise ValueError(f"event slug {slug!r} is too long for tickets (at most {MAX_EVENT_CODE} characters)")
    return code


def signed_message(code: str, serial: bytes) -> bytes:
    return f"{PREFIX}:{code}:".encode("ascii") + serial


def encode(code: str, serial: bytes, signature: bytes) -> str:
    import base45

    if len(serial) != SERIAL_BYTES or len(signature) != SIGNATURE_BYTES:
        raise ValueError("a ticket needs an 8-byte serial and a 64-byte signature")
    return f"{PREFIX}:{code}:" + base45.b45encode(serial + signature).decode("ascii")


def parse(text: str) -> TicketCode:
    """Read a scanned payload, forgiving what scanners do: surrounding whitespace, lower case."""
    import base45

    if len(text) > MAX_PAYLOAD:
        raise MalformedPayload(f"longer than {MAX_PAYLOAD} characters")
    payload = text.strip().upper()
    prefix, _, rest = payload.partition(":")
    code, _, body = rest.partition(":")
    if prefix != PREFIX or not code or len(body) != _BODY_CHARS:
        raise MalformedPayload("not an Eventdesk ticket")
    try:
        raw = base45.b45decode(body)
    except ValueError:
        raise MalformedPayload("the ticket's code part is damaged") from None
    return TicketCode(code, raw[:SERIAL_BYTES], raw[SERIAL_BYTES:])


@lru_cache(maxsize=64)
def _public_key(raw: bytes):
    """Key objects are made once per key: a door verifies thousands of codes with one or two keys."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)


def verify(ticket: TicketCode, public_keys: list[bytes]) -> bool:
    """True if any of the event's published keys signed this ticket."""
    from cryptography.exceptions import InvalidSignature

    message = signed_message(ticket.event_code, ticket.serial)
    for raw in public_keys:
        try:
            _public_key(raw).verify(ticket.signature, message)
            return True
        except InvalidSignature:
            continue
    return False
