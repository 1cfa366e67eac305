"""Text from the server made harmless before it reaches a terminal.

Names, organisations, list names and server messages are typed by attendees and organisers.
A terminal obeys escape sequences inside them: a name such as "\\x1b[2K\\r\\x1b[32m✔ OK Alice"
would erase a red refusal and print a green admission in its place. So every line the CLI
prints passes through `clean` (see `output.say`), and the verdict's words and colours are
added by Eventdesk after the untrusted parts have been cleaned.
"""

from __future__ import annotations

import re

# ESC sequences first, whole, so their parameters do not survive as visible junk:
# CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings (ended by BEL or ESC \), then any other
# two-character ESC sequence; the 8-bit CSI (U+009B) with its parameters.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|\x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
    r"|\x9b[0-?]*[ -/]*[@-~]?"
)
# C0 controls, DEL, C1 controls, and the invisible marks that reorder or hide text
# (bidi embeddings, overrides and isolates, zero-width and direction marks).
_BIDI_AND_INVISIBLE = "\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
_CONTROLS_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI_AND_INVISIBLE}]")
_CONTROLS_MULTI_LINE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI_AND_INVISIBLE}]")
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_BIDI_AND_INVISIBLE}]")


def clean(text: object, *, multi_line: bool = False) -> str:
    """`text` with every escape sequence and control character removed.

    One-line values (a name, a list name) lose newlines and tabs too, so they cannot start a
    fake line of their own; `multi_line` keeps newline and tab for whole blocks of output.
    """
    text = _ESCAPES.sub("", str(text))
    return (_CONTROLS_MULTI_LINE if multi_line else _CONTROLS_ONE_LINE).sub("", text)


def json_safe(document: str) -> str:
    """JSON text with DEL, C1 and invisible marks written as \\u escapes: same data, inert.

    json.dumps already escapes C0 controls (ESC included); with ensure_ascii=False it leaves
    the 8-bit controls and bidi marks raw, which some terminals obey.
    """
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group()):04x}", document)
