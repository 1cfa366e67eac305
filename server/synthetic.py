"""Synthetic programmes of any size, in the programme-file format, for benchmarks."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

_WORDS = (
    "cluster innovation growth industry region policy finance export digital green energy health mobility "
    "food textile maritime space materials manufacturing services skills startup value chain partnership "
    "strategy excellence smart specialisation"
).split()


def programme(*, slug: str, sessions: int, speakers: int, rooms: int, tracks: int, days: int, seed: int) -> dict:
    """A valid programme: sessions packed into rooms without overlaps, 1-3 speakers each."""
    rng = random.Random(seed)
    first = date(2014, 10, 20)
    slots_per_day = 16  # 30-minute sessions, 09:00 to 17:00
    capacity = rooms * slots_per_day * days
    if sessions > capacity:
        raise ValueError(f"{sessions} sessions do not fit {rooms} rooms x {days} days x {slots_per_day} slots")
    speaker_ids = [f"speaker-{n}" for n in range(speakers)]
    items = []
    for n in range(sessions):
        slot = n // rooms
        day, slot_in_day = divmod(slot, slots_per_day)
        start = datetime.combine(first + timedelta(days=day), datetime.min.time()) + timedelta(
            hours=9, minutes=30 * slot_in_day
        )
        title = " ".join(rng.choice(_WORDS) for _ in range(5)).capitalize()
        items.append(
            {
                "id": f"session-{n}",
                "title": title,
                "type": rng.choice(("workshop", "parallel", "plenary")),
                "start": start.isoformat(timespec="minutes"),
                "end": (start + timedelta(minutes=30)).isoformat(timespec="minutes"),
                "room": f"room-{n % rooms}",
                "track": f"track-{rng.randrange(tracks)}",
                "abstract": " ".join(rng.choice(_WORDS) for _ in range(40)),
                "capacity": rng.choice((None, 40, 80, 200)),
                "speakers": [
                    {"id": speaker_id, "role": "speaker"}
                    for speaker_id in rng.sample(speaker_ids, k=min(len(speaker_ids), rng.randint(1, 3)))
                ],
            }
        )
    for item in items:
        if item["capacity"] is None:
            del item["capacity"]
    return {
        "format": "eventdesk-programme/1",
        "event": {
            "slug": slug,
            "title": f"Synthetic event ({sessions} sessions)",
            "timezone": "Europe/Brussels",
            "start_date": first.isoformat(),
            "end_date": (first + timedelta(days=days - 1)).isoformat(),
            "notice": "Synthetic data for benchmarks.",
        },
        "rooms": [{"id": f"room-{n}", "name": f"Room {n}", "capacity": 200} for n in range(rooms)],
        "tracks": [{"id": f"track-{n}", "name": f"Track {n}"} for n in range(tracks)],
        "speakers": [
            {"id": speaker_id, "name": f"Speaker {n}", "organisation": f"Organisation {n % 500}"}
            for n, speaker_id in enumerate(speaker_ids)
        ],
        "sessions": items,
    }


def attendees_csv(*, count: int, seed: int) -> str:
    """A registration CSV of `count` synthetic attendees, as import-attendees reads it."""
    import io

    from server import csvsafe
    from server.attendees import CATEGORIES

    rng = random.Random(seed)
    categories = list(CATEGORIES)
    out = io.StringIO()
    writer = csvsafe.writer(out, lineterminator="\n")
    writer.writerow(["name", "email", "organisation", "country", "category"])
    for n in range(count):
        writer.writerow(
            [
                f"Attendee {n}",
                f"attendee{n}@example.org",
                f"Organisation {rng.randrange(max(count // 20, 1))}",
                rng.choice(("BE", "DE", "FR", "IT", "ES", "NL", "PL", "SE", "AT", "PT")),
                rng.choice(categories),
            ]
        )
    return out.getvalue()
