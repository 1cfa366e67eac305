"""Search text as an SQLite FTS5 query: one rule for the server's indexes and the CLI's offline cache.

Pure (no Flask, no sqlite-utils), so `eventdesk` can import it without the server's stack.
"""

from __future__ import annotations


def fts_query(text: str) -> str:
    """User text as an FTS5 query: every word must match, as a prefix, with no operators."""
    words = "".join(ch if ch.isalnum() else " " for ch in text).split()
    return " ".join(f'"{word}"*' for word in words[:20])
