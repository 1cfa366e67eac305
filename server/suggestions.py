"""Partner suggestions: other participants ranked by how well each pair would meet, with why.

At ECC 2014 the organisers favoured meetings across sectors and borders, and a meeting is
worth most when what one side offers answers what the other seeks. So a candidate's score is

- text relevance, both ways: SQLite FTS5's bm25 of their `offer` against the words of my
  `seek` (weight 3) and of their `seek` against my `offer` (weight 2), each divided by the
  best candidate's, so the part lies in 0..1 whatever the texts' lengths. Two MATCH queries
  over the participants_fts index rank everybody at once (no per-pair work in Python);
- shared languages (+1: they can talk), free slots in common (+1 × the share of the session's
  slots both are free; −3 when there is none: they could never be placed);
- a different sector (+0.5) and a different country (+0.5).

The reasons say the same in words ("offers what you seek: laser, imaging", "you share
French", "different sector", "different country"). Words are matched as the index does
(case and accents folded, as prefixes, a plural "s" dropped), less common English words.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from functools import cache
from typing import NamedTuple

import sqlite_utils

from server import matchmaking, meetings
from server.errors import BadParameter, Forbidden

DEFAULT_LIMIT, MAX_LIMIT = 20, 100
WEIGHTS = {"they_offer": 3.0, "they_seek": 2.0, "language": 1.0, "time": 1.0, "no_time": -3.0,
           "sector": 0.5, "country": 0.5}  # fmt: skip
_QUERY_WORDS = 30  # of my offer or seek, the first this many distinct ones
_REASON_WORDS = 5

_STOPWORDS = frozenset(
    """a about after all also an and any are as at be been but by can for from has have in into is it its
    more new not of on or our such that the their them they this to up we what which who will with you your
    looking look seek seeking offer offering partner partners cluster clusters""".split()
)

# ISO 639-1 names, for "you share French": the EU's languages and the neighbours' at ECC 2014.
LANGUAGE_NAMES = {
    "bg": "Bulgarian", "ca": "Catalan", "cs": "Czech", "da": "Danish", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fi": "Finnish", "fr": "French",
    "ga": "Irish", "hr": "Croatian", "hu": "Hungarian", "is": "Icelandic", "it": "Italian", "lt": "Lithuanian",
    "lb": "Luxembourgish", "lv": "Latvian", "mk": "Macedonian", "mt": "Maltese", "nl": "Dutch", "no": "Norwegian",
    "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian", "sk": "Slovak", "sl": "Slovenian",
    "sq": "Albanian", "sr": "Serbian", "sv": "Swedish", "tr": "Turkish", "uk": "Ukrainian",
}  # fmt: skip


def parse_limit(args: dict[str, str]) -> int:
    text = args.get("limit", "").strip()
    if not text:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise BadParameter(f"limit must be a whole number from 1 to {MAX_LIMIT}", fields={"limit": "e.g. 20"})
    return int(text)


def stems(text: str) -> list[str]:
    """The words of a text as the index folds them (lower case, no accents), less common words,
    a plural "s" dropped, each once, in order."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in folded if not unicodedata.combining(ch))
    found: dict[str, None] = {}
    for word in re.findall(r"\w+", plain):
        if len(word) < 3 or word in _STOPWORDS or word.isdigit():
            continue
        found[word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word] = None
    return list(found)


def _matched(query: list[str], text: str) -> list[str]:
    """The words of `text` that one of the query's stems starts, each once (for the reasons)."""
    words = []
    for word in stems(text):
        if any(word.startswith(stem) for stem in query) and word not in words:
            words.append(word)
    return words[:_REASON_WORDS]


def _relevance(db: sqlite_utils.Database, column: str, words: list[str]) -> dict[int, float]:
    """bm25 of each participant's `column` against the words (any of them), higher is better;
    every event's participants (the caller picks its own)."""
    if not words:
        return {}
    weights = ", ".join("1.0" if name == column else "0.0" for name in ("organisation", "cluster", "offer", "seek"))
    query = f"{column} : (" + " OR ".join(f'"{word}"*' for word in words[:_QUERY_WORDS]) + ")"
    # The match alone: the caller keeps only its event's candidates. Asked in SQL (joined to
    # participants, or `rowid IN (...)`), SQLite ran the whole MATCH once per participant:
    # 2 s a query with 2,000 of them, against 5 ms (bench/matchmaking_bench.py).
    rows = db.conn.execute(
        f"SELECT rowid, -bm25(participants_fts, {weights}) FROM participants_fts "  # noqa: S608 - fixed text
        "WHERE participants_fts MATCH ?",
        (query,),
    ).fetchall()
    return {pk: max(score, 0.0) for pk, score in rows}


def _free_slots(grid: list, availability: str | None) -> set[int]:
    """The slots a participant can meet in, by the rule placing uses (so a suggestion's "both
    free" is a slot the meeting could really get)."""
    return meetings._inside(grid, availability)


def _language_list(codes: list[str]) -> str:
    names = [LANGUAGE_NAMES.get(code, code) for code in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def suggest(db: sqlite_utils.Database, attendee_pk: int, args: dict[str, str]) -> list[dict]:
    """Other visible participants of my event, best partners first, each with score and reasons."""
    limit = parse_limit(args)
    me = matchmaking.my_participant(db, attendee_pk)
    if me is None:
        raise Forbidden("only matchmaking participants get suggestions: opt in with PUT /api/v1/me/matchmaking")
    event = dict(db.conn.execute("SELECT * FROM events WHERE id = ?", (me["event_id"],)).fetchone())
    settings = matchmaking.require_settings(db, event)
    candidates = [
        dict(row)
        for row in db.conn.execute(
            "SELECT * FROM participants p WHERE event_id = ? AND left_at IS NULL AND hidden = 0 AND pk != ? "
            "AND NOT EXISTS (SELECT 1 FROM meetings m WHERE m.status IN ('requested', 'accepted') AND "
            "((m.requester_pk = ? AND m.partner_pk = p.pk) OR (m.partner_pk = ? AND m.requester_pk = p.pk)))",
            (event["id"], me["pk"], me["pk"], me["pk"]),
        ).fetchall()
    ]
    my_seek, my_offer = stems(me["seek"]), stems(me["offer"])
    they_offer = _relevance(db, "offer", my_seek)
    they_seek = _relevance(db, "seek", my_offer)
    best_offer = max((they_offer.get(c["pk"], 0.0) for c in candidates), default=0.0) or 1.0
    best_seek = max((they_seek.get(c["pk"], 0.0) for c in candidates), default=0.0) or 1.0
    grid = matchmaking.slots(settings)
    # Profiles repeat a few language lists, sector lists and availabilities: each is read once a call.
    as_set, free = cache(lambda text: frozenset(json.loads(text))), cache(lambda text: _free_slots(grid, text))
    mine = _Mine(me, as_set(me["languages"]), as_set(me["sectors"]), free(me["availability"]), len(grid), as_set, free)
    ranked = [
        _scored(c, mine, they_offer.get(c["pk"], 0.0) / best_offer, they_seek.get(c["pk"], 0.0) / best_seek)
        for c in candidates
    ]
    ranked.sort(key=lambda scored: (-scored.score, scored.row["organisation"].casefold(), scored.row["id"]))
    # Reasons in words for those shown only: finding the matched words was 80 % of a call when
    # every candidate got them (2,000 participants: p50 167 ms, bench/matchmaking_bench.py).
    return [
        {
            "participant": matchmaking.participant_document(scored.row, event),
            "score": scored.score,
            "reasons": _reasons(scored, my_seek, my_offer, len(grid)),
        }
        for scored in ranked[:limit]
    ]


class _Mine(NamedTuple):
    """What every candidate is compared with: my row, languages, sectors and free slots, and
    the memoised readers of the candidates' own."""

    row: dict
    languages: frozenset[str]
    sectors: frozenset[str]
    slots: set[int]
    slot_count: int
    as_set: Callable[[str], frozenset[str]]  # a JSON list as a set, memoised
    free: Callable[[str | None], set[int]]  # an availability as free slots, memoised


class _Scored(NamedTuple):
    """A candidate's score (rounded, so equal pairs tie and sort by name) and what it rests on."""

    score: float
    row: dict
    offer_part: float
    seek_part: float
    shared_languages: list[str]
    common_slots: int
    other_sector: bool
    other_country: bool


def _scored(other: dict, mine: _Mine, offer_part: float, seek_part: float) -> _Scored:
    shared = sorted(mine.languages & mine.as_set(other["languages"]))
    common = len(mine.slots & mine.free(other["availability"]))
    other_sector = not mine.sectors & mine.as_set(other["sectors"])
    other_country = mine.row["country"] != other["country"]
    score = WEIGHTS["they_offer"] * offer_part + WEIGHTS["they_seek"] * seek_part
    score += WEIGHTS["language"] if shared else 0.0
    score += WEIGHTS["time"] * common / mine.slot_count if common else WEIGHTS["no_time"]
    score += WEIGHTS["sector"] if other_sector else 0.0
    score += WEIGHTS["country"] if other_country else 0.0
    return _Scored(round(score, 3), other, offer_part, seek_part, shared, common, other_sector, other_country)


def _reasons(scored: _Scored, my_seek: list[str], my_offer: list[str], slot_count: int) -> list[str]:
    """The score in words, in the order its parts are added."""
    reasons = []
    if scored.offer_part > 0 and (words := _matched(my_seek, scored.row["offer"])):
        reasons.append("offers what you seek: " + ", ".join(words))
    if scored.seek_part > 0 and (words := _matched(my_offer, scored.row["seek"])):
        reasons.append("seeks what you offer: " + ", ".join(words))
    if scored.shared_languages:
        reasons.append("you share " + _language_list(scored.shared_languages))
    if not scored.common_slots:
        reasons.append("no slot when you are both free")
    elif scored.common_slots < slot_count:
        reasons.append(f"both free in {scored.common_slots} of {slot_count} slots")
    if scored.other_sector:
        reasons.append("different sector")
    if scored.other_country:
        reasons.append("different country")
    return reasons
