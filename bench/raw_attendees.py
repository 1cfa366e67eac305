"""The limit for importing attendees: plain sqlite3, no validation, one transaction.

Usage: python bench/raw_attendees.py ATTENDEES.csv DATABASE SCHEMA.sql TOKENS_OUT.csv

bench/run.py times this as a whole process, like `eventdesk-server import-attendees FILE
--tokens-out TOKENS`: it reads the same CSV and writes the same rows (public id, the fields,
the SHA-256 of a new personal token, timestamps; and the ticket the import issues each new
attendee, a random 64-bit serial) into a new database with the same schema and connection
settings, then the email,token lines. What it skips is what the real import adds:
checking and normalising every field, looking for repeated emails, comparing with the
attendees already stored, and the app and schema set-up of a command.
"""

from __future__ import annotations

import csv
import hashlib
import secrets
import sys
from base64 import b32encode
from pathlib import Path

from raw_sqlite import STAMP, insert, insert_event, open_database

EVENT = {"slug": "synthetic", "title": "Attendee import", "timezone": "UTC", "start_date": "2014-10-20"}
COLUMNS = "pk, id, event_id, name, email, organisation, country, category, api_token_hash, created_at, updated_at"
SERIAL_BYTES = 8  # server/ticketcode.py


def main(argv: list[str]) -> None:
    source, database, schema, tokens_out = argv
    conn = open_database(database, schema)
    with Path(source).open(encoding="utf-8", newline="") as handle:
        people = list(csv.DictReader(handle))
    rows, tokens = [], []
    conn.execute("BEGIN IMMEDIATE")
    event_id = insert_event(conn, EVENT | {"end_date": EVENT["start_date"]})
    for pk, person in enumerate(people, start=1):
        token = "edt_" + secrets.token_urlsafe(32)
        tokens.append((person["email"], token))
        public_id = "a-" + b32encode(secrets.token_bytes(5)).decode("ascii").lower()
        fields = (person[name] for name in ("name", "email", "organisation", "country", "category"))
        rows.append((pk, public_id, event_id, *fields, hashlib.sha256(token.encode()).hexdigest(), STAMP, STAMP))
    count = insert(conn, "attendees", COLUMNS, rows)
    serials = [(secrets.token_bytes(SERIAL_BYTES).hex(), event_id, row[0], STAMP) for row in rows]
    issued = insert(conn, "tickets", "serial, event_id, attendee_pk, issued_at", serials)
    conn.execute("COMMIT")
    conn.close()
    with Path(tokens_out).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "token"])
        writer.writerows(tokens)
    print(f"{count} attendees, {issued} tickets, {len(tokens)} tokens written")


if __name__ == "__main__":
    main(sys.argv[1:])
