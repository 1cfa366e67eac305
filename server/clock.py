"""The server's idea of "now", which `EVENTDESK_NOW` can fix so a past event can be demonstrated."""

from __future__ import annotations

import os
from datetime import UTC, datetime


def now() -> datetime:
    """The current instant, timezone-aware; `EVENTDESK_NOW` (ISO 8601 with offset) overrides it."""
    fixed = os.environ.get("EVENTDESK_NOW")
    if fixed:
        try:
            value = datetime.fromisoformat(fixed)
        except ValueError:
            raise ValueError(f"EVENTDESK_NOW is not an ISO 8601 time: {fixed!r}") from None
        if value.tzinfo is None:
            raise ValueError("EVENTDESK_NOW must carry a UTC offset, e.g. 2014-10-20T08:30:00+02:00")
        return value
    return datetime.now(UTC)


def utc_stamp(moment: datetime | None = None) -> str:
    """An instant as the UTC text stored in the database, to the second."""
    # isoformat is twice as fast as strftime, and every scan stores two of these.
    return (moment or now()).astimezone(UTC).isoformat(timespec="seconds")[:-6] + "Z"


def parse_stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
