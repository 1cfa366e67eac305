"""Partner suggestions: who ranks first on a crafted set, the reasons in words, and who may ask."""

from __future__ import annotations

import pytest

from server import suggestions
from tests.conftest import API, assert_error, attendee_headers

ME = "/api/v1/me"
SUGGESTIONS = f"{ME}/matchmaking/suggestions"


@pytest.fixture(autouse=True)
def before_requests_close(monkeypatch):
    monkeypatch.setenv("EVENTDESK_NOW", "2014-10-15T12:00:00+02:00")


def _join(client, headers: dict, **profile) -> str:
    body = {"cluster": "A cluster", "languages": [], "sectors": [], **profile}
    response = client.put(f"{ME}/matchmaking", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


@pytest.fixture
def crowd(client, db, admin) -> dict:
    """Me (a Belgian photonics cluster, free 09:00–10:30) and six others; their headers and ids by name."""
    people = {}
    profiles = {
        "me": dict(organisation="Me", country="BE", sectors=["ict"], languages=["en", "fr"],
                   offer="Laser testing facilities", seek="Partners in medical imaging",
                   availability=[{"start": "2014-10-20T09:00", "end": "2014-10-20T10:30"}]),
        "answer": dict(organisation="Answer", country="NL", sectors=["medical-devices"], languages=["fr"],
                       offer="Medical imaging equipment and clinical trials", seek="Laser testing for scanners"),
        "neighbour": dict(organisation="Neighbour", country="BE", sectors=["ict"], languages=["en"],
                          offer="Imaging software"),
        "stranger": dict(organisation="Stranger", country="DE", sectors=["agri-food"], languages=["de"],
                         offer="Bakery equipment", seek="Logistics"),
        "busy": dict(organisation="Busy", country="FR", sectors=["tourism"], languages=["de"], offer="Hotels",
                     availability=[{"start": "2014-10-20T11:00", "end": "2014-10-20T12:15"}]),
        "asked": dict(organisation="Asked already", country="NL", sectors=["medical-devices"],
                      offer="Medical imaging"),
        "hidden": dict(organisation="Hidden", country="NL", sectors=["medical-devices"], offer="Medical imaging"),
    }  # fmt: skip
    for n, (name, profile) in enumerate(profiles.items(), start=1):
        headers = attendee_headers(db, n)
        people[name] = (headers, _join(client, headers, **profile))
    client.post(f"{ME}/meetings", json={"with": people["asked"][1]}, headers=people["me"][0])
    client.patch(f"{API}/matchmaking/participants/{people['hidden'][1]}", json={"hidden": True}, headers=admin)
    return people


def test_suggestions_rank_the_best_match_first(client, crowd):
    response = client.get(SUGGESTIONS, headers=crowd["me"][0])

    assert response.status_code == 200
    ranked = response.get_json()
    assert [item["participant"]["organisation"] for item in ranked] == ["Answer", "Neighbour", "Stranger", "Busy"]
    scores = [item["score"] for item in ranked]
    assert scores == sorted(scores, reverse=True)
    assert ranked[0]["reasons"] == [
        "offers what you seek: medical, imaging",
        "seeks what you offer: laser, testing",
        "you share French",
        "both free in 4 of 7 slots",
        "different sector",
        "different country",
    ]
    assert ranked[1]["reasons"] == ["offers what you seek: imaging", "you share English", "both free in 4 of 7 slots"]
    assert ranked[3]["reasons"] == ["no slot when you are both free", "different sector", "different country"]


def test_suggestions_leave_out_me_my_live_partners_and_hidden_profiles(client, crowd):
    ranked = client.get(SUGGESTIONS, headers=crowd["me"][0]).get_json()

    organisations = {item["participant"]["organisation"] for item in ranked}
    assert organisations.isdisjoint({"Me", "Asked already", "Hidden"})


def test_a_cancelled_request_brings_the_partner_back(client, crowd):
    meeting = client.get(f"{ME}/meetings", headers=crowd["me"][0]).get_json()[0]

    client.post(f"{ME}/meetings/{meeting['id']}/cancel", headers=crowd["me"][0])

    names = [item["participant"]["organisation"] for item in client.get(SUGGESTIONS, headers=crowd["me"][0]).json]
    assert "Asked already" in names


def test_suggestions_limit(client, crowd):
    one = client.get(f"{SUGGESTIONS}?limit=1", headers=crowd["me"][0]).get_json()

    assert [item["participant"]["organisation"] for item in one] == ["Answer"]
    assert_error(client.get(f"{SUGGESTIONS}?limit=0", headers=crowd["me"][0]), 400, field="limit")
    assert_error(client.get(f"{SUGGESTIONS}?limit=101", headers=crowd["me"][0]), 400, field="limit")
    assert_error(client.get(f"{SUGGESTIONS}?limit=ten", headers=crowd["me"][0]), 400, field="limit")


def test_suggestions_are_for_participants_only(client, db, admin, crowd):
    outsider = attendee_headers(db, 20)

    assert_error(client.get(SUGGESTIONS, headers=outsider), 403)
    assert_error(client.get(SUGGESTIONS, headers=admin), 403)
    assert_error(client.get(SUGGESTIONS), 401)


def test_a_participant_who_left_gets_no_suggestions(client, crowd):
    client.delete(f"{ME}/matchmaking", headers=crowd["answer"][0])

    names = [item["participant"]["organisation"] for item in client.get(SUGGESTIONS, headers=crowd["me"][0]).json]

    assert "Answer" not in names
    assert_error(client.get(SUGGESTIONS, headers=crowd["answer"][0]), 403)


def test_stems_fold_case_accents_plurals_and_common_words():
    assert suggestions.stems("Partners for Énergie and LASERS, lasers; the R&D") == ["energie", "laser"]
