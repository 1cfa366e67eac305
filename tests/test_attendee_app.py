"""The attendee's phone, in a real headless Chromium against a real gunicorn.

Sign in with the personal link, star sessions, show the ticket, subscribe the calendar, and
keep all of it with the server stopped (a real network cut: a service worker may bypass
DevTools' offline emulation, it cannot bypass a closed port).
"""

from __future__ import annotations

import io
import itertools
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image
from selenium.webdriver.common.by import By

from tests.browser import (
    LiveServer,
    as_phone,
    assert_accessible,
    call,
    clear_site_data,
    console_errors,
    loaded_image,
    overlapping_pair,
    text_of,
    wait_for,
)
from tests.conftest import EVENT

API = f"/api/v1/events/{EVENT}"
_people = itertools.count(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The server of this module, with an access log to prove what reached it."""
    data_dir = tmp_path_factory.mktemp("attendee-app")
    with LiveServer.started(data_dir, EVENTDESK_ACCESS_LOG=str(data_dir / "access.log")) as server:
        yield server


class Person:
    """A registered attendee: their id, personal API token and personal link."""

    def __init__(self, live: LiveServer):
        n = next(_people)
        status, body = call(
            live,
            "POST",
            f"{API}/attendees",
            {"name": f"Ada Tester {n}", "email": f"ada{n}@example.org", "category": "cluster-manager"},
            live.admin_headers(),
        )
        assert status == 201, body
        self.id, self.name, self.token = body["id"], body["name"], body["token"]
        self.link = call(live, "GET", f"{API}/attendees/{self.id}/link", headers=live.admin_headers())[1]["url"]
        self.headers = {"Authorization": f"Bearer {self.token}"}

    def schedule_ids(self, live: LiveServer) -> list[str]:
        return [
            item["session"]["id"] for item in call(live, "GET", "/api/v1/me/schedule", headers=self.headers)[1]["items"]
        ]


def signed_in(browser, live: LiveServer) -> Person:
    """A new attendee, signed in on a browser that remembers nothing of earlier tests."""
    person = Person(live)
    clear_site_data(browser, live.base)
    browser.get(live.url("/"))  # leave the event's pages so no old page or worker keeps running
    console_errors(browser)  # forget what earlier tests left in the console
    browser.get(person.link)
    wait_for(browser, lambda d: urlsplit(d.current_url).path == f"/e/{EVENT}/me", message="did not land on /me")
    wait_for(browser, lambda d: "No sessions yet" in text_of(d, "#my-schedule"), message="schedule not drawn")
    return person


def service_worker_ready(browser) -> None:
    """Wait until the event's service worker controls the page (it then serves it offline).

    A page that loaded while the worker was still installing may stay uncontrolled (its
    clients.claim() can run before the page counts as a client): then it is loaded again,
    as a person's next visit would be.
    """
    browser.set_script_timeout(30)
    browser.execute_async_script("const done = arguments[0]; navigator.serviceWorker.ready.then(() => done())")
    if not browser.execute_script("return !!navigator.serviceWorker.controller"):
        browser.refresh()
    wait_for(
        browser,
        lambda d: d.execute_script("return !!navigator.serviceWorker.controller"),
        message="no service worker took control",
    )


def star(browser, session_id: str):
    button = wait_for(
        browser,
        lambda d: next(
            (b for b in d.find_elements(By.CSS_SELECTOR, f'.star[data-session="{session_id}"]') if b.is_displayed()),
            False,
        ),
        message=f"no visible star for {session_id}",
    )
    button.click()
    return button


def decode_element(element) -> str:
    element.parent.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    image = Image.open(io.BytesIO(element.screenshot_as_png))
    results = zxingcpp.read_barcodes(image)
    assert results, "no QR code found in the element's screenshot"
    return results[0].text


# --- signing in ------------------------------------------------------------------------------


def test_personal_link_signs_in_and_the_secret_leaves_the_address_bar(browser, live):
    person = signed_in(browser, live)
    secret = urlsplit(person.link).fragment

    assert "#" not in browser.current_url
    assert secret not in browser.execute_script("return location.href + document.referrer")
    assert browser.execute_script("return history.length") >= 1
    log = (live.data_dir / "access.log").read_text()
    assert f"/e/{EVENT}/join" in log and secret not in log
    devices = call(live, "GET", "/api/v1/me/devices", headers=person.headers)[1]
    assert [device["label"] for device in devices] == ["Chrome on Linux"]
    assert console_errors(browser) == []


def test_a_rotated_link_no_longer_signs_in(browser, live):
    person = Person(live)
    call(live, "POST", f"{API}/attendees/{person.id}/link/rotate", headers=live.admin_headers())
    clear_site_data(browser, live.base)

    browser.get(person.link)

    wait_for(browser, lambda d: "does not work" in text_of(d, "#join-status"))
    assert urlsplit(browser.current_url).path == f"/e/{EVENT}/join"


# --- bookmarks -------------------------------------------------------------------------------


def test_starring_sessions_warns_of_an_overlap_and_refuses_a_full_one(browser, live):
    person = signed_in(browser, live)
    sessions = call(live, "GET", f"{API}/sessions?day=1")[1]
    first, overlapping = overlapping_pair(sessions)
    full = next(s for s in sessions if s["id"] not in (first["id"], overlapping["id"]) and s["status"] != "cancelled")
    call(live, "PATCH", f"{API}/sessions/{full['id']}", {"capacity": 1}, live.admin_headers())
    other = Person(live)
    assert call(live, "PUT", f"/api/v1/me/schedule/{full['id']}", headers=other.headers)[0] == 201
    browser.get(live.url(f"/e/{EVENT}/"))

    star(browser, first["id"])
    wait_for(browser, lambda d: f"Added “{first['title']}”" in text_of(d, "#notices"))
    star(browser, overlapping["id"])
    wait_for(browser, lambda d: "overlaps with" in text_of(d, "#notices"))
    star(browser, full["id"])

    wait_for(
        browser, lambda d: f"“{full['title']}” cannot be added to your schedule: it is full" in text_of(d, "#notices")
    )
    assert sorted(person.schedule_ids(live)) == sorted([first["id"], overlapping["id"]])
    pressed = browser.find_element(By.CSS_SELECTOR, f'.star[data-session="{full["id"]}"]').get_attribute("aria-pressed")
    assert pressed == "false"
    browser.get(live.url(f"/e/{EVENT}/me"))
    wait_for(browser, lambda d: "Overlaps with" in text_of(d, "#my-schedule"))
    assert first["title"] in text_of(browser, "#my-schedule") and overlapping["title"] in text_of(
        browser, "#my-schedule"
    )


def test_a_moved_session_is_announced_on_the_next_visit(browser, live):
    person = signed_in(browser, live)
    session = call(live, "GET", f"{API}/sessions/opening-plenary")[1]
    call(live, "PUT", "/api/v1/me/schedule/opening-plenary", headers=person.headers)
    browser.get(live.url(f"/e/{EVENT}/me"))
    wait_for(browser, lambda d: session["title"] in text_of(d, "#my-schedule"))
    rooms = call(live, "GET", f"{API}/rooms")[1]
    new_room = next(room for room in rooms if room["id"] != session["room"])

    call(live, "PATCH", f"{API}/sessions/opening-plenary", {"room": new_room["id"]}, live.admin_headers())
    browser.get(live.url(f"/e/{EVENT}/"))

    expected = f"Your {session['start'][11:16]} session “{session['title']}” moved to {new_room['name']}."
    wait_for(browser, lambda d: expected in text_of(d, "#notices"), message=text_of(browser, "#notices"))
    call(live, "PATCH", f"{API}/sessions/opening-plenary", {"room": session["room"]}, live.admin_headers())


# --- ticket and calendar ---------------------------------------------------------------------


def test_the_ticket_qr_on_the_page_decodes_to_the_ticket_payload(browser, live):
    person = signed_in(browser, live)
    payload = call(live, "GET", "/api/v1/me/ticket", headers=person.headers)[1]["payload"]
    as_phone(browser, scale=2)
    try:
        browser.get(live.url(f"/e/{EVENT}/me/ticket"))
        qr = loaded_image(browser, "ticket-qr")

        assert decode_element(qr) == payload
        assert qr.size["width"] >= 300  # most of a 360 px screen: readable at arm's length
        assert person.name in text_of(browser, ".ticket-name")
    finally:
        as_phone(browser)


def test_the_calendar_page_offers_every_way_to_subscribe(browser, live):
    person = signed_in(browser, live)
    feed = call(live, "GET", "/api/v1/me/calendar", headers=person.headers)[1]
    as_phone(browser, scale=2)
    try:
        browser.get(live.url(f"/e/{EVENT}/me/calendar"))
        qr = loaded_image(browser, "calendar-qr")

        links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#calendar a")}
        assert links["Subscribe in your calendar app"] == feed["webcal"]
        assert links["Add to Google Calendar"] == feed["google"]
        assert browser.find_element(By.ID, "feed-url").get_attribute("value") == feed["https"]
        assert decode_element(qr) == feed["webcal"]
    finally:
        as_phone(browser)

    browser.find_element(By.CSS_SELECTOR, "#calendar button.danger").click()
    browser.switch_to.alert.accept()
    wait_for(browser, lambda d: d.find_element(By.ID, "feed-url").get_attribute("value") != feed["https"])
    new = call(live, "GET", "/api/v1/me/calendar", headers=person.headers)[1]["https"]
    assert browser.find_element(By.ID, "feed-url").get_attribute("value") == new
    old_path = urlsplit(feed["https"]).path
    assert call(live, "GET", old_path)[0] == 404


# --- offline ---------------------------------------------------------------------------------


def test_with_the_server_stopped_the_programme_schedule_and_ticket_still_show_with_their_age(browser, live):
    person = signed_in(browser, live)
    call(live, "PUT", "/api/v1/me/schedule/opening-plenary", headers=person.headers)
    payload = call(live, "GET", "/api/v1/me/ticket", headers=person.headers)[1]["payload"]
    for page in ("/", "/me", "/me/ticket"):
        browser.get(live.url(f"/e/{EVENT}{page}"))
        service_worker_ready(browser)
    wait_for(browser, lambda d: d.find_elements(By.ID, "ticket-qr"))
    browser.get(live.url(f"/e/{EVENT}/me"))
    wait_for(browser, lambda d: "Opening" in text_of(d, "#my-schedule"))

    with live.stopped():
        browser.get(live.url(f"/e/{EVENT}/"))
        wait_for(browser, lambda d: "Offline" in text_of(d, "#data-age"))
        assert "saved" in text_of(browser, "#data-age")
        assert len(browser.find_elements(By.CSS_SELECTOR, "[data-session]")) > 10

        browser.get(live.url(f"/e/{EVENT}/me"))
        wait_for(browser, lambda d: "Opening" in text_of(d, "#my-schedule"))
        assert "Offline: showing your schedule as saved" in text_of(browser, "#data-age")

        as_phone(browser, scale=2)
        try:
            browser.get(live.url(f"/e/{EVENT}/me/ticket"))
            qr = loaded_image(browser, "ticket-qr")
            assert decode_element(qr) == payload
            assert "Offline: showing your ticket as saved" in text_of(browser, "#data-age")
        finally:
            as_phone(browser)


def test_a_bookmark_made_offline_reaches_the_server_after_reconnecting(browser, live):
    person = signed_in(browser, live)
    browser.get(live.url(f"/e/{EVENT}/"))
    service_worker_ready(browser)
    browser.get(live.url(f"/e/{EVENT}/"))  # now under the worker: the page is kept

    with live.stopped():
        browser.get(live.url(f"/e/{EVENT}/"))
        wait_for(browser, lambda d: "Offline" in text_of(d, "#data-age"))
        star(browser, "opening-plenary")
        wait_for(browser, lambda d: "will be sent when you are back online" in text_of(d, "#notices"))

    assert person.schedule_ids(live) == []
    browser.get(live.url(f"/e/{EVENT}/me"))
    wait_for(browser, lambda d: "Opening" in text_of(d, "#my-schedule"))
    assert person.schedule_ids(live) == ["opening-plenary"]


def test_a_bookmark_refused_after_reconnecting_is_shown_not_lost(browser, live):
    person = signed_in(browser, live)
    session = call(live, "GET", f"{API}/sessions/access-to-finance-cluster-smes")[1]
    call(live, "PATCH", f"{API}/sessions/{session['id']}", {"capacity": 1}, live.admin_headers())
    assert call(live, "PUT", f"/api/v1/me/schedule/{session['id']}", headers=Person(live).headers)[0] == 201
    browser.get(live.url(f"/e/{EVENT}/"))
    service_worker_ready(browser)
    browser.get(live.url(f"/e/{EVENT}/"))

    with live.stopped():
        browser.get(live.url(f"/e/{EVENT}/"))
        star(browser, session["id"])
        wait_for(browser, lambda d: "will be sent when you are back online" in text_of(d, "#notices"))
    browser.get(live.url(f"/e/{EVENT}/me"))

    expected = f"Not added to your schedule: “{session['title']}”."
    wait_for(browser, lambda d: expected in text_of(d, "#notices"), message=text_of(browser, "#notices"))
    assert "is full" in text_of(browser, "#notices")
    assert person.schedule_ids(live) == []
    browser.get(live.url(f"/e/{EVENT}/me/ticket"))
    wait_for(browser, lambda d: expected in text_of(d, "#notices"))  # kept until dismissed
    browser.find_element(By.CSS_SELECTOR, "#notices .dismiss").click()
    browser.get(live.url(f"/e/{EVENT}/me"))
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#my-schedule p"))
    assert expected not in text_of(browser, "#notices")
    call(live, "PATCH", f"{API}/sessions/{session['id']}", {"capacity": None}, live.admin_headers())


# --- accessibility ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["/", "/me", "/me/calendar", "/me/ticket", "/join"])
def test_my_pages_have_no_serious_accessibility_violation(browser, live, page):
    signed_in(browser, live)

    browser.get(live.url(f"/e/{EVENT}{page}"))
    drawn = {
        "/": ".star:not([hidden])",
        "/join": "#join-status",
        "/me": "#my-schedule p",
        "/me/calendar": "#calendar img",
        "/me/ticket": "#ticket img",
    }
    wait_for(
        browser,
        lambda d: (
            "already signed in" in text_of(d, drawn[page])
            if page == "/join"
            else text_of(d, drawn[page]) or d.find_elements(By.CSS_SELECTOR, drawn[page])
        ),
    )

    assert_accessible(browser)
