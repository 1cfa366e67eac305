"""The organiser's desk page in headless Chromium: live counts, check-in by hand with undo,
each door's last contact and waiting scans, and conflicts from offline doors."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser import assert_accessible, call, clear_site_data, console_errors, text_of, wait_for
from tests.test_attendee_app import API, Person

EVENT = "ecc2014"


@pytest.fixture(scope="module")
def live(live_server, browser):
    yield live_server
    # Leave the desk before its server stops: it refreshes every 10 s, and a refused refresh
    # would land in the next module's console. The refused sign-in's 401 stays here too.
    browser.get("about:blank")
    console_errors(browser)


def figures(browser, list_id: str) -> dict[str, int]:
    """The numbers the desk shows for one list: {"Checked in": n, ...}."""
    card = browser.find_element(By.CSS_SELECTOR, f'.list-stats[data-list="{list_id}"]')
    labels = [node.text for node in card.find_elements(By.CSS_SELECTOR, "dt")]
    values = [int(node.text) for node in card.find_elements(By.CSS_SELECTOR, "dd")]
    return dict(zip(labels, values, strict=True))


def open_desk(browser, live, token: str) -> None:
    clear_site_data(browser, live.base)
    browser.get(live.url("/"))
    browser.get(live.url(f"/e/{EVENT}/desk#{token}"))
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '.list-stats[data-list="day1-entrance"]'))


def test_the_desk_checks_someone_in_by_hand_and_undoes_it(browser, live):
    person = Person(live)
    open_desk(browser, live, live.admin_headers()["Authorization"].split()[1])
    before = figures(browser, "day1-entrance")
    assert "#" not in browser.current_url

    browser.find_element(By.ID, "search-text").send_keys(person.name)
    Select(browser.find_element(By.ID, "search-list")).select_by_value("day1-entrance")
    browser.find_element(By.CSS_SELECTOR, "#search button[type=submit]").click()
    wait_for(
        browser,
        lambda d: d.find_elements(By.CSS_SELECTOR, f'#search-results button[aria-label="Check in {person.name}"]'),
    )
    browser.find_element(By.CSS_SELECTOR, f'#search-results button[aria-label="Check in {person.name}"]').click()

    wait_for(browser, lambda d: f"{person.name} checked in." in text_of(d, "#desk-actions"))
    wait_for(browser, lambda d: figures(d, "day1-entrance")["Checked in"] == before["Checked in"] + 1)
    assert figures(browser, "day1-entrance")["Inside now"] == before["Inside now"] + 1
    browser.find_element(By.CSS_SELECTOR, "#desk-actions button").click()
    wait_for(browser, lambda d: "Undone." in text_of(d, "#desk-actions"))
    wait_for(browser, lambda d: figures(d, "day1-entrance")["Checked in"] == before["Checked in"])


def test_the_desk_shows_doors_and_the_conflicts_of_offline_doors(browser, live):
    person = Person(live)
    payload = call(live, "GET", "/api/v1/me/ticket", headers=person.headers)[1]["payload"]
    doors = {}
    for name in ("Door North", "Door South"):
        _, device = call(live, "POST", f"{API}/devices", {"name": name}, live.admin_headers())
        doors[name] = {"Authorization": f"Bearer {device['token']}"}
    call(live, "GET", f"{API}/door-bundle", headers={**doors["Door North"], "Eventdesk-Pending": "4"})
    for name, time in (("Door North", "14:05"), ("Door South", "14:10")):
        scan = {
            "payload": payload,
            "list": "day1-entrance",
            "scan_id": f"{name}-1",
            "scanned_at": f"2014-10-20T{time}:00+02:00",
        }
        call(live, "POST", f"{API}/checkins/batch", {"scans": [scan]}, doors[name])
    _, desk = call(live, "POST", f"{API}/devices", {"name": "Desk tablet", "desk": True}, live.admin_headers())

    open_desk(browser, live, desk["token"])

    wait_for(browser, lambda d: "Door North" in text_of(d, "#devices"))
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#devices tr") if "Door North" in r.text)
    assert row.text.split()[-1] == "4"
    wait_for(browser, lambda d: person.name in text_of(d, "#conflicts"))
    conflict = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#conflicts tbody tr") if person.name in r.text)
    assert (
        "14:10" in conflict.text and "Door South" in conflict.text and "first in at 14:05 (Door North)" in conflict.text
    )
    assert_accessible(browser)


def test_a_door_token_without_desk_is_sent_back_to_sign_in(browser, live):
    _, door = call(live, "POST", f"{API}/devices", {"name": "Plain door"}, live.admin_headers())

    open_desk_attempt = live.url(f"/e/{EVENT}/desk#{door['token']}")
    clear_site_data(browser, live.base)
    browser.get(open_desk_attempt)

    wait_for(browser, lambda d: d.find_element(By.ID, "desk-sign-in").is_displayed())
    assert "may not use the desk" in text_of(browser, "#desk-sign-in p")
    assert_accessible(browser)
