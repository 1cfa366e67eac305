"""Whole numbers as SQLite can hold them: read from text without an OverflowError or a 500.

SQLite stores integers in 64 signed bits; Python's int has no bound, and `int()` of more than
4,300 digits raises ValueError. A number a client sends in a path or a query string is read
here, so a value SQLite cannot store is refused as input rather than failing in a query.
"""

from __future__ import annotations

SQLITE_INT_MAX = 2**63 - 1
_MAX_DIGITS = len(str(SQLITE_INT_MAX))


def whole_number(text: str) -> int | None:
    """`text` (ASCII digits) as an int from 0 to SQLITE_INT_MAX, else None."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > _MAX_DIGITS:
        return None
    value = int(text)
    return value if value <= SQLITE_INT_MAX else None


def storable(value: int) -> bool:
    """Whether SQLite can store `value` as an integer."""
    return -SQLITE_INT_MAX - 1 <= value <= SQLITE_INT_MAX
