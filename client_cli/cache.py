"""The local cache: one SQLite file per server and event, filled by `sync`, read by every command.

Each item is kept as the server's own JSON document (so `--json` and the exports give the
server's shapes exactly), beside the columns that filters, ordering and full-text search need.
Reads use the standard library's sqlite3 alone, so an offline `agenda` starts fast; writes go
through sqlite-utils, imported only when something is written.

Tables: meta (schema, server, event, version, etag, synced_at, ...), event, days, rooms,
tracks, speakers, sessions (+ sessions_fts over title, abstract and speaker names),
my_schedule (as the server last answered), meetings (GET /me/meetings as last answered),
pending (changes not yet sent: `my add`/`my remove`, kind "schedule", and `meet …`, kind
"meeting") and refused (queued changes the server turned down, kept until the user acts on them).

`Cache` is put together from three parts, one module each: the file, its schema and meta
(cache_file.py), the programme (cache_programme.py), and my schedule, meetings and the queue
(cache_personal.py). Callers import from here.
"""

from __future__ import annotations

from client_cli.cache_file import SCHEMA_VERSION, CacheMissing, cache_path, utc_now
from client_cli.cache_personal import PersonalCache
from client_cli.cache_programme import ProgrammeCache, utc_of

__all__ = ["SCHEMA_VERSION", "Cache", "CacheMissing", "cache_path", "utc_now", "utc_of"]


class Cache(ProgrammeCache, PersonalCache):
    """An open cache file: reads with plain sqlite3, writes through `self.db` (sqlite-utils)."""
