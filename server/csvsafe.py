"""CSV files a spreadsheet may open: no cell is read as a formula.

An attendee can register as `=HYPERLINK("http://x", "click")`; an organiser opening a file the
server wrote in a spreadsheet would run it. A cell that starts with `=`, `+`, `-`, `@`, a tab
or a carriage return gets a leading `'` (the OWASP advice), which spreadsheets show as text.
Every CSV the server writes goes through `writer`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """`value`, made inert when a spreadsheet would read it as a formula; numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer whose cells pass through `safe_cell`."""

    def __init__(self, handle: IO[str], **options: object) -> None:
        self._writer = csv.writer(handle, **options)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(handle: IO[str], **options: object) -> SafeWriter:
    return SafeWriter(handle, **options)
