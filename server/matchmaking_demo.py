"""A full, clearly synthetic matchmaking morning for ECC 2014, so a newcomer sees one.

About 110 participants ("Demo participant 17", demo-participant-017@example.org, flagged
`synthetic`) from 80 generated clusters in 20 countries (18 EU members, Turkey and Serbia)
across 15 sectors, and requests answered so that about 170 meetings are accepted, almost half
of them across sectors, as at the real event. Generated from a seed, so every run makes the
same morning; loading it again adds nothing twice (attendees by email, participants by
attendee, meetings by pair). The organiser's plan then places the meetings.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

from server import attendees, clock, db as database, matchmaking, matchmaking_plan
from server.programme import get_event

SEED = 2014
PARTICIPANTS = 110
CLUSTERS = 80
ACCEPTED = 170
CROSS_SECTOR = 0.47  # "almost half of them across sectors"
COUNTRIES = ("AT", "BE", "BG", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IT", "LT", "NL", "PL",
             "PT", "TR", "RS")  # fmt: skip
MOST_MEETINGS = 6  # per participant: under the built-in cap of 7, and within the morning's 7 slots
_OTHER = {"declined": 12, "cancelled": 6, "requested": 8}  # answered otherwise, or not at all (they expire)


@dataclass
class DemoMeeting:
    requester: int  # participant number, 1-based
    partner: int
    status: str
    message: str


def _email(number: int) -> str:
    return f"demo-participant-{number:03d}@example.org"


def participants(session: tuple[datetime, datetime], breaks: list[tuple[datetime, datetime]]) -> list[dict]:
    """The demo participants as profile bodies (plus `number`, `name`, `email`), seeded.

    `session` is the matchmaking window; about one in four can come only before or only after
    the first break, so the plan has availability to respect.
    """
    rng = random.Random(SEED)
    sectors = matchmaking.sectors()[:15]
    clusters = []
    for index in range(CLUSTERS):
        own = [sectors[index % 15]]
        if rng.random() < 0.3:
            own.append(rng.choice([s for s in sectors if s not in own]))
        clusters.append(
            {
                "number": index + 1,
                "country": COUNTRIES[index % len(COUNTRIES)],
                "sectors": own,
                "name": f"Demo {own[0]['name']} Cluster {index + 1} (synthetic)",
            }
        )
    pause = breaks[0] if breaks else None
    found = []
    for number in range(1, PARTICIPANTS + 1):
        cluster = clusters[number - 1] if number <= CLUSTERS else clusters[rng.randrange(CLUSTERS)]
        names = [sector["name"].lower() for sector in cluster["sectors"]]
        wanted = rng.choice([s for s in sectors if s not in cluster["sectors"]])["name"].lower()
        availability = None
        draw = rng.random()
        if pause and draw < 0.13:
            availability = [(session[0], pause[0])]
        elif pause and draw < 0.25:
            availability = [(pause[1], session[1])]
        found.append(
            {
                "number": number,
                "name": f"Demo participant {number}",
                "email": _email(number),
                "cluster_number": cluster["number"],
                "organisation": f"Synthetic cluster organisation {cluster['number']}",
                "cluster": cluster["name"],
                "country": cluster["country"],
                "sectors": [sector["id"] for sector in cluster["sectors"]],
                "offer": f"Demo data: {' and '.join(names)} know-how, test beds and SME contacts",
                "seek": f"Demo data: partners in {wanted} for joint projects and export",
                "languages": sorted({"en", rng.choice(["de", "fr", "es", "it", "pl", "tr", "sr", "nl"])}),
                "availability": availability,
            }
        )
    return found


def meetings(people: list[dict], grid: list[tuple[datetime, datetime]]) -> list[DemoMeeting]:
    """ACCEPTED accepted meetings (CROSS_SECTOR of them with no sector in common), and a few
    declined, cancelled and unanswered requests; never within one cluster, nor twice per pair."""
    rng = random.Random(SEED + 1)

    def free(person: dict) -> set[int]:
        if person["availability"] is None:
            return set(range(len(grid)))
        (start, end), = person["availability"]  # fmt: skip
        return {index for index, (s, e) in enumerate(grid) if start <= s and e <= end}

    slots = [free(person) for person in people]
    count = [0] * len(people)
    pairs: set[frozenset[int]] = set()
    found: list[DemoMeeting] = []
    wanted = [("accepted", ACCEPTED), *_OTHER.items()]
    for status, total in wanted:
        made, across, tries = 0, 0, 0
        while made < total:
            tries += 1
            if tries > 1_000_000:
                raise RuntimeError(f"the demo cannot find {total} {status} meetings: its constants do not fit")
            a, b = rng.sample(range(len(people)), 2)
            first, second = people[a], people[b]
            cross = not set(first["sectors"]) & set(second["sectors"])
            if status == "accepted" and cross != (across < round(total * CROSS_SECTOR)):
                continue  # first the cross-sector meetings, then the others
            if first["cluster_number"] == second["cluster_number"] or frozenset((a, b)) in pairs:
                continue
            if len(slots[a] & slots[b]) == 0 or max(count[a], count[b]) >= min(MOST_MEETINGS, len(slots[a])):
                continue
            if status in ("accepted", "requested"):  # live ones count towards the cap
                count[a] += 1
                count[b] += 1
            pairs.add(frozenset((a, b)))
            verb = "exchange" if cross else "deepen"
            message = f"Demo request: shall we {verb} ideas between {first['cluster']} and {second['cluster']}?"
            found.append(DemoMeeting(first["number"], second["number"], status, message))
            made += 1
            across += cross
    return found


def _attendees_csv(people: list[dict]) -> str:
    handle = io.StringIO()
    writer = csv.writer(handle)
    writer.writerow(["name", "email", "category", "organisation", "country"])
    for person in people:
        writer.writerow([person["name"], person["email"], "cluster-manager", person["organisation"], person["country"]])
    return handle.getvalue()


@dataclass
class DemoResult:
    attendees: int
    participants: int
    meetings: int
    plan: dict | None  # the organiser's plan's report, when meetings were added


def load_demo(db: sqlite_utils.Database, slug: str, *, seconds: float = 10.0) -> DemoResult:
    """Add the demo morning to an event with matchmaking set up (once), then plan it (when added)."""
    event = get_event(db, slug)
    settings = matchmaking.require_settings(db, event)
    plan = matchmaking.plan_settings(settings)
    grid = matchmaking.slots(settings)
    people = participants((plan["start"], plan["end"]), plan["breaks"])
    demo_meetings = meetings(people, grid)
    with database.write(db):
        imported = attendees.import_attendees(db, slug, _attendees_csv(people))
        added_people, by_number = 0, {}
        for person in people:
            attendee_pk = attendees.pk_by_email(db, slug, person["email"])
            row = db.conn.execute("SELECT pk FROM participants WHERE attendee_pk = ?", (attendee_pk,)).fetchone()
            if row is None:
                body = {key: person[key] for key in ("organisation", "cluster", "country", "sectors", "offer", "seek",
                                                     "languages")}  # fmt: skip
                if person["availability"]:
                    body["availability"] = [{"start": s.isoformat(), "end": e.isoformat()} for s, e in
                                            person["availability"]]  # fmt: skip
                document, _ = matchmaking.put_profile(db, attendee_pk, body)
                db.conn.execute("UPDATE participants SET synthetic = 1 WHERE id = ?", (document["id"],))
                added_people += 1
                row = db.conn.execute("SELECT pk FROM participants WHERE attendee_pk = ?", (attendee_pk,)).fetchone()
            by_number[person["number"]] = row[0]
        added_meetings = _add_meetings(db, event, demo_meetings, by_number)
    # Planned only when meetings were added: a second load leaves the morning as it is.
    report = matchmaking_plan.schedule(db, slug, seconds=seconds) if added_meetings else None
    return DemoResult(imported.created, added_people, added_meetings, report)


def _add_meetings(db: sqlite_utils.Database, event: dict, demo: list[DemoMeeting], by_number: dict) -> int:
    """Insert the demo's meetings with their logs, as if asked and answered in early October 2014."""
    asked = datetime(2014, 10, 1, 8, 0, tzinfo=UTC)
    added = 0
    for index, meeting in enumerate(demo):
        requester, partner = by_number[meeting.requester], by_number[meeting.partner]
        if db.conn.execute(
            "SELECT 1 FROM meetings WHERE min(requester_pk, partner_pk) = ? AND max(requester_pk, partner_pk) = ?",
            (min(requester, partner), max(requester, partner)),
        ).fetchone():
            continue
        created = asked + timedelta(minutes=97 * index)
        answered = created + timedelta(hours=20)
        changed = created if meeting.status == "requested" else answered
        meeting_pk = db["meetings"].insert(
            {"id": matchmaking.new_public_id("m"), "event_id": event["id"], "requester_pk": requester,
             "partner_pk": partner, "message": meeting.message, "status": meeting.status,
             "created_at": clock.utc_stamp(created), "updated_at": clock.utc_stamp(changed)}
        ).last_pk  # fmt: skip
        log = [("requested", requester, "requester", created)]
        if meeting.status in ("accepted", "declined"):
            log.append((meeting.status, partner, "partner", answered))
        elif meeting.status == "cancelled":
            log.append(("cancelled", requester, "requester", answered))
        for what, by_pk, role, moment in log:
            db["meeting_log"].insert(
                {"meeting_pk": meeting_pk, "what": what, "by_pk": by_pk, "by_role": role, "reason": "",
                 "at": clock.utc_stamp(moment)}
            )  # fmt: skip
        added += 1
    return added
