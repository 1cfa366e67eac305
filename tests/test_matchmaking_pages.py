"""Matchmaking on the phone, in a real headless Chromium against a real gunicorn.

Ada opts in through the form, requests a meeting from a suggestion; Bea, signed in on the same
phone after Ada's data is cleared, accepts; the meeting with its time and table is then on both
"My schedule" pages and on the printable agenda.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from selenium.webdriver.common.by import By

from tests.browser import LiveServer, assert_accessible, call, clear_site_data, console_errors, text_of, wait_for
from tests.conftest import EVENT
from tests.test_attendee_app import Person

BEFORE_CLOSE = "2014-10-15T12:00:00+02:00"  # requests for meetings are still open


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    with LiveServer.started(tmp_path_factory.mktemp("matchmaking-pages"), EVENTDESK_NOW=BEFORE_CLOSE) as server:
        yield server


def sign_in(browser, live: LiveServer, person: Person) -> None:
    """Forget whoever used this browser, then open `person`'s personal link."""
    clear_site_data(browser, live.base)
    browser.get(live.url("/"))
    console_errors(browser)
    browser.get(person.link)
    wait_for(browser, lambda d: urlsplit(d.current_url).path == f"/e/{EVENT}/me", message="did not land on /me")


def open_matchmaking(browser, live: LiveServer) -> None:
    browser.get(live.url(f"/e/{EVENT}/me/matchmaking"))
    wait_for(browser, lambda d: d.find_element(By.ID, "mm-profile").is_displayed(), message="no profile form")


def test_profile_request_accept_and_the_meeting_on_both_schedules(browser, live):
    ada, bea = Person(live), Person(live)
    bea_profile = {
        "organisation": "Bea Medical Imaging",
        "cluster": "Imaging Delta",
        "country": "NL",
        "sectors": ["medical-devices"],
        "offer": "Medical imaging equipment",
        "seek": "Laser testing",
        "languages": ["en"],
    }
    bea_id = call(live, "PUT", "/api/v1/me/matchmaking", bea_profile, bea.headers)[1]["id"]
    sign_in(browser, live, ada)
    open_matchmaking(browser, live)

    # Before opting in, GET /me/matchmaking answers 404 ("no profile"), which Chromium logs.
    assert [line for line in console_errors(browser) if "/api/v1/me/matchmaking " not in line] == []
    form = browser.find_element(By.ID, "profile-form")
    for name, value in (("organisation", "Ada Photonics"), ("cluster", "Photonics Valley"), ("country", "be"),
                        ("offer", "Laser testing facilities"), ("seek", "Partners in medical imaging"),
                        ("languages", "en, fr")):  # fmt: skip
        form.find_element(By.NAME, name).send_keys(value)
    form.find_element(By.CSS_SELECTOR, "input[name=sectors][value=ict]").click()
    form.find_element(By.ID, "profile-save").click()
    request = f'#suggestion-list li[data-participant="{bea_id}"] button'
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, request), message="Bea not suggested")
    assert "offers what you seek: medical, imaging" in text_of(browser, "#suggestion-list")
    browser.find_element(By.CSS_SELECTOR, request).click()
    wait_for(browser, lambda d: "Requested: waiting for their answer" in text_of(d, "#meeting-list"))
    assert_accessible(browser)
    assert console_errors(browser) == []

    sign_in(browser, live, bea)
    open_matchmaking(browser, live)
    accept = '#meeting-list button[aria-label="Accept the meeting with Ada Photonics"]'
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, accept), message="no request to accept")
    browser.find_element(By.CSS_SELECTOR, accept).click()
    wait_for(browser, lambda d: "Table 1, Workshop Room B" in text_of(d, "#meeting-list"))
    assert_accessible(browser)

    browser.get(live.url(f"/e/{EVENT}/me"))
    wait_for(browser, lambda d: "Meeting: Ada Photonics (Photonics Valley)" in text_of(d, "#my-schedule"))
    assert "09:00" in text_of(browser, "#my-schedule .meeting")
    assert "Table 1, Workshop Room B" in text_of(browser, "#my-schedule .meeting")

    sign_in(browser, live, ada)
    wait_for(browser, lambda d: "Meeting: Bea Medical Imaging (Imaging Delta)" in text_of(d, "#my-schedule"))
    assert "Table 1, Workshop Room B" in text_of(browser, "#my-schedule .meeting")
    browser.get(live.url(f"/e/{EVENT}/me/agenda"))
    wait_for(browser, lambda d: "Meeting: Bea Medical Imaging" in text_of(d, "#my-agenda"))
    assert "09:00–09:20" in text_of(browser, "#my-agenda")
    assert_accessible(browser)
    assert console_errors(browser) == []


def test_a_request_made_offline_is_queued_and_sent_later(browser, live):
    ada, cleo = Person(live), Person(live)
    for person, name in ((ada, "Ada Offline"), (cleo, "Cleo Offline")):
        body = {"organisation": name, "cluster": "C", "country": "FR", "offer": "robots", "seek": "robots"}
        assert call(live, "PUT", "/api/v1/me/matchmaking", body, person.headers)[0] == 201
    cleo_id = call(live, "GET", "/api/v1/me/matchmaking", headers=cleo.headers)[1]["id"]
    sign_in(browser, live, ada)
    open_matchmaking(browser, live)
    request = f'#suggestion-list li[data-participant="{cleo_id}"] button'
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, request), message="Cleo not suggested")

    with live.stopped():
        browser.find_element(By.CSS_SELECTOR, request).click()
        wait_for(browser, lambda d: "waiting to be sent" in text_of(d, "#matchmaking-status"))

    open_matchmaking(browser, live)
    wait_for(browser, lambda d: "Meeting with Cleo Offline" in text_of(d, "#meeting-list"))
    meetings = call(live, "GET", "/api/v1/me/meetings", headers=cleo.headers)[1]
    assert [(m["status"], m["requester"]["organisation"]) for m in meetings] == [("requested", "Ada Offline")]
