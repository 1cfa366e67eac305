"""Benches that add to bench/RESULTS.md own a section between two markers and rewrite only it."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name} results: written by bench/{name}.py -->", f"<!-- end of {name} results -->"


def write_section(name: str, body: str) -> None:
    """Put `body` between this bench's markers in RESULTS.md (appended the first time)."""
    start, end = markers(name)
    section = f"{start}\n{body.rstrip()}\n{end}\n"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Eventdesk benchmark results\n"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(text):
        RESULTS.write_text(pattern.sub(lambda _: section, text), encoding="utf-8")
    else:
        RESULTS.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")
