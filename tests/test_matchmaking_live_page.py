"""The organiser's live view of the matchmaking morning in headless Chromium, against a real
gunicorn holding the demo morning (`eventdesk-server load-demo`) with the clock in its first slot:
reached from the desk with the desk's token, the tables of the slot under way and of the next,
and an arrival at the Matchmaking list appearing by itself."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.browser import LiveServer, assert_accessible, call, clear_site_data, console_errors, text_of, wait_for
from tests.conftest import API, EVENT
from tests.test_attendee_app import Person

DURING_FIRST = "2014-10-20T09:05:00+02:00"
LIVE = f"{API}/matchmaking/live"
REFRESHED = 25  # seconds: the page refreshes every 15


@pytest.fixture(scope="module")
def live(tmp_path_factory, browser):
    with LiveServer.started(tmp_path_factory.mktemp("matchmaking-live"), EVENTDESK_NOW=DURING_FIRST) as server:
        server.cli("load-demo", "--event", EVENT)
        yield server
        # Leave the page before its server stops: a refused refresh would land in the next module's console.
        browser.get("about:blank")
        console_errors(browser)


def figure(browser, label: str) -> int:
    """A number of the live view's counts, by its label."""
    for item in browser.find_elements(By.CSS_SELECTOR, "#live-counts div"):
        if item.find_element(By.TAG_NAME, "dt").text == label:
            return int(item.find_element(By.TAG_NAME, "dd").text)
    raise AssertionError(f"no figure {label!r}")


def attendee_named(live: LiveServer, name: str) -> str:
    """The attendee id of the demo attendee called exactly `name`."""
    page = call(live, "GET", f"{API}/attendees?q={name.replace(' ', '+')}&per_page=500", headers=live.admin_headers())
    [found] = [person["id"] for person in page[1]["items"] if person["name"] == name]
    return found


def test_the_live_view_shows_the_tables_now_and_next_and_an_arrival_appears(browser, live):
    _, desk = call(live, "POST", f"{API}/devices", {"name": "Organiser's laptop", "desk": True}, live.admin_headers())
    expected = call(live, "GET", LIVE, headers=live.admin_headers())[1]
    clear_site_data(browser, live.base)
    browser.get(live.url("/"))
    console_errors(browser)
    browser.get(live.url(f"/e/{EVENT}/desk#{desk['token']}"))
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".list-stats"), message="desk not drawn")

    browser.find_element(By.LINK_TEXT, "Matchmaking live").click()

    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#now-tables .table-card"), message="no tables now")
    cards = browser.find_elements(By.CSS_SELECTOR, "#now-tables .table-card")
    assert [card.get_attribute("data-meeting") for card in cards] == [m["id"] for m in expected["current"]["meetings"]]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#next-tables .table-card")) == len(expected["next"]["meetings"])
    assert "Now · 09:00–09:20" in text_of(browser, "#now-heading")
    assert "Next · 09:20–09:40" in text_of(browser, "#next-heading")
    assert "server clock 09:05" in text_of(browser, "#live-updated")
    assert "now" in text_of(browser, '#live-slots [aria-current="time"]')
    first = expected["current"]["meetings"][0]
    card = f'#now-tables .table-card[data-meeting="{first["id"]}"]'
    assert f"Table {first['table']}" in text_of(browser, f"{card} h3")
    assert first["requester"]["organisation"] in text_of(browser, card)
    assert "Not arrived" in text_of(browser, f"{card} .party:first-of-type")
    missing = figure(browser, "Not yet arrived (now)")
    assert missing == expected["counts"]["not_arrived"] == 2 * len(expected["current"]["meetings"])
    assert_accessible(browser)

    who = attendee_named(live, first["requester"]["name"])
    status, _ = call(
        live, "POST", f"{API}/checkins/desk", {"attendee": who, "list": "matchmaking"}, live.admin_headers()
    )
    assert status == 201

    arrived = f"{card} .party.arrived"
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, arrived), timeout=REFRESHED, message="no arrival")
    assert "Arrived 09:05" in text_of(browser, arrived)
    assert first["requester"]["name"] in text_of(browser, arrived)
    assert figure(browser, "Not yet arrived (now)") == missing - 1
    assert "Updated just now" in text_of(browser, "#live-updated")
    assert console_errors(browser) == []


def test_an_attendee_token_is_sent_back_to_sign_in(browser, live):
    person = Person(live)
    clear_site_data(browser, live.base)
    browser.get(live.url("/"))

    browser.get(live.url(f"/e/{EVENT}/matchmaking/live#{person.token}"))

    wait_for(browser, lambda d: d.find_element(By.ID, "live-sign-in").is_displayed(), message="no sign-in form")
    assert "may not see the live view" in text_of(browser, "#live-sign-in p")
    assert "#" not in browser.current_url
    assert_accessible(browser)
    console_errors(browser)  # the refused read (403) is logged by Chromium; nothing else to check there


def test_the_live_view_fits_a_phone_and_keeps_its_tables_while_the_server_is_down(browser, live):
    _, desk = call(live, "POST", f"{API}/devices", {"name": "Organiser's phone", "desk": True}, live.admin_headers())
    clear_site_data(browser, live.base)
    browser.get(live.url("/"))
    browser.get(live.url(f"/e/{EVENT}/matchmaking/live#{desk['token']}"))
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#now-tables .table-card"), message="no tables now")
    tables = len(browser.find_elements(By.CSS_SELECTOR, "#now-tables .table-card"))

    assert browser.execute_script("return window.innerWidth") == 360
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    with live.stopped():
        wait_for(
            browser,
            lambda d: "Offline: showing the view from" in text_of(d, "#live-updated"),
            timeout=REFRESHED,
            message="the server's absence not said",
        )
        assert len(browser.find_elements(By.CSS_SELECTOR, "#now-tables .table-card")) == tables
    wait_for(
        browser,
        lambda d: text_of(d, "#live-updated").startswith("Updated"),
        timeout=REFRESHED,
        message="not back after the server returned",
    )
    console_errors(browser)  # the refused refreshes while the server was down are logged by Chromium
