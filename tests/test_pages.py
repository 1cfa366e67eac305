"""The public pages for people: the programme, a session, speakers and rooms.

First through the Flask test client (fast: errors, escaping, caching, the HTML without
JavaScript), then in a real headless Chromium at phone size against gunicorn (what a person
sees, compared with what the API says; axe-core; the keyboard).
"""

from __future__ import annotations

import gzip
import re
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from server import programme, programme_edit
from tests.browser import NOW, assert_accessible, console_errors, new_page
from tests.conftest import API, EVENT, assert_error
from tests.people import ANNA

# What a public read allows a shared cache (server/api/caching.py); browsers revalidate every time.
PUBLIC_CACHE_CONTROL = "public, max-age=0, must-revalidate, s-maxage=1, stale-while-revalidate=5, stale-if-error=86400"

STATIC = Path(programme.__file__).parent / "static"

PAGES = f"/e/{EVENT}"
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}  # as a browser asks
PUBLIC_PAGES = [
    "/",
    f"{PAGES}/",
    f"{PAGES}/?track=sme-growth&q=finance",
    f"{PAGES}/sessions/opening-plenary",
    f"{PAGES}/sessions/access-to-finance-cluster-smes",
    f"{PAGES}/speakers",
    f"{PAGES}/speakers/ceo-photonics-sme",
    f"{PAGES}/rooms",
    f"{PAGES}/sessions/no-such-session",
]


@pytest.fixture
def at_now(monkeypatch):
    """The server's clock fixed at tests.browser.NOW, during the opening plenary; returns a setter."""

    def set_clock(moment: str) -> None:
        monkeypatch.setenv("EVENTDESK_NOW", moment)

    set_clock(NOW)
    return set_clock


def listed_ids(page: str) -> list[str]:
    """The ids of the sessions listed by day (those repeated under "Now and next" have no anchor)."""
    return re.findall(r'<li class="session[^"]*" id="s-[^"]+" data-session="([^"]+)"', page)


# --- through the test client ----------------------------------------------------------------


def test_the_programme_html_already_holds_every_session_without_javascript(client, at_now):
    sessions = client.get(f"{API}/sessions").get_json()

    response = client.get(f"{PAGES}/", headers=HTML)

    page = response.get_data(as_text=True)
    assert (response.status_code, response.mimetype) == (200, "text/html")
    assert listed_ids(page) == [session["id"] for session in sessions]
    # No inline code (the page is cached whole, so it has no CSP nonce): only module files.
    assert re.findall(r"<script[^>]*>", page) == ['<script type="module" src="/static/eventdesk.js">']
    assert "<style" not in page and 'style="' not in page


def test_now_and_next_follow_the_clock(client, at_now):
    now = client.get(f"{PAGES}/", headers=HTML).get_data(as_text=True)
    at_now("2014-10-19T12:00:00+02:00")
    before = client.get(f"{PAGES}/", headers=HTML).get_data(as_text=True)
    at_now("2014-10-22T12:00:00+02:00")
    after = client.get(f"{PAGES}/", headers=HTML).get_data(as_text=True)

    now_next = now[now.index("Now and next") : now.index('<form class="filters"')]
    assert "opening-plenary" in now_next and "Next, Monday 20 October 2014 at 15:45" in now_next
    assert "Next, Monday 20 October 2014 at 08:00" in before  # the registration desk opens the event
    assert "Now and next" not in after


def test_now_and_next_leave_cancelled_sessions_out(db):
    moment = datetime.fromisoformat(NOW)
    programme_edit.set_session_status(db, EVENT, "opening-plenary", "cancelled")

    running, following = programme.now_and_next(db, EVENT, moment)

    assert running == ("cluster-showcase-day1",)
    assert following == (
        "access-to-finance-cluster-smes",
        "clusters-engines-sme-growth",
        "key-enabling-technologies-emerging-industries",
        "smart-specialisation-cluster-policy",
    )


def test_the_filters_narrow_the_programme_as_they_narrow_the_api(client, at_now):
    query = {"track": "sme-growth", "q": "finance"}
    expected = [session["id"] for session in client.get(f"{API}/sessions", query_string=query).get_json()]

    page = client.get(f"{PAGES}/", query_string=query, headers=HTML).get_data(as_text=True)

    assert expected and listed_ids(page) == expected
    assert '<option value="sme-growth" selected>' in page and 'value="finance"' in page
    assert "Now and next" not in page  # the results come first; running sessions are marked in place
    assert "Clear filters" in page


@pytest.mark.parametrize(
    "path, message",
    [
        ("/e/no-such-event/", "no event &#39;no-such-event&#39;"),
        (f"{PAGES}/sessions/no-such-session", "no session &#39;no-such-session&#39;"),
        (f"{PAGES}/speakers/no-such-speaker", "no speaker &#39;no-such-speaker&#39;"),
        (f"{PAGES}/?track=no-such-track", "no track &#39;no-such-track&#39;"),
        (f"{PAGES}/no-such-page", "not found on the server"),
    ],
)
def test_unknown_things_are_an_html_404_page_for_a_browser(client, path, message):
    response = client.get(path, headers=HTML)

    page = response.get_data(as_text=True)
    assert (response.status_code, response.mimetype) == (404, "text/html")
    assert "<h1>Not found</h1>" in page and message in page
    assert "Content-Security-Policy" in response.headers


def test_a_search_with_no_words_is_an_html_400_naming_the_problem(client):
    response = client.get(f"{PAGES}/", query_string={"q": "!!!"}, headers=HTML)

    assert (response.status_code, response.mimetype) == (400, "text/html")
    assert "the search text has no words" in response.get_data(as_text=True)
    assert f'<a href="{PAGES}/">Back to the programme</a>' in response.get_data(as_text=True)


def test_errors_stay_json_for_the_api_and_for_clients_that_do_not_ask_for_html(client):
    assert_error(client.get(f"{API}/sessions/no-such-session", headers=HTML), 404, "not_found")
    assert_error(client.get(f"{PAGES}/sessions/no-such-session"), 404, "not_found")
    assert_error(client.get(f"{PAGES}/sessions/no-such-session", headers={"Accept": "application/json"}), 404)


def test_user_text_is_shown_as_text_and_keeps_its_lines(client, admin, at_now):
    session = {
        "id": "escaping-test",
        "title": "<script>alert('title')</script> & friends",
        "type": "workshop",
        "start": "2014-10-21T18:00",
        "end": "2014-10-21T19:00",
        "abstract": "First line <b>not bold</b>\nSecond line",
    }
    assert client.post(f"{API}/sessions", json=session, headers=admin).status_code == 201

    listing = client.get(f"{PAGES}/", headers=HTML).get_data(as_text=True)
    detail = client.get(f"{PAGES}/sessions/escaping-test", headers=HTML).get_data(as_text=True)

    shown = "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt; &amp; friends"
    assert shown in listing and shown in detail
    assert "<script>" not in listing and "<script>" not in detail
    assert '<p class="multiline">First line &lt;b&gt;not bold&lt;/b&gt;\nSecond line</p>' in detail


def test_the_session_page_shows_time_place_people_and_seats(client, admin, db, at_now):
    api = client.get(f"{API}/sessions/access-to-finance-cluster-smes").get_json()
    token = client.post(f"{API}/attendees", json=ANNA, headers=admin).get_json()["token"]
    client.put("/api/v1/me/schedule/access-to-finance-cluster-smes", headers=_bearer(token))

    page = client.get(f"{PAGES}/sessions/access-to-finance-cluster-smes", headers=HTML).get_data(as_text=True)

    assert f'<time datetime="{api["start"]}">Monday 20 October 2014, 15:45</time>' in page
    assert "(Europe/Brussels, CEST, UTC+02:00)" in page
    assert ">Workshop Room A</a>" in page and ">SME growth</a>" in page
    assert all(speaker["name"] in page for speaker in api["speakers"])
    assert "79 of 80 seats left" in page
    assert f'href="{API}/sessions/access-to-finance-cluster-smes.ics"' in page


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_speakers_are_grouped_by_role_chairs_first(client):
    page = client.get(f"{PAGES}/sessions/opening-plenary", headers=HTML).get_data(as_text=True)

    headings = re.findall(r'<section class="speaker-group">\s*<h2>([^<]+)</h2>', page)
    assert headings == ["Chair", "Speakers", "Panellists"]


def test_a_page_revalidates_with_304_until_its_data_changes(client, admin, at_now):
    first = client.get(f"{PAGES}/speakers", headers=HTML)
    again = client.get(f"{PAGES}/speakers", headers={**HTML, "If-None-Match": first.headers["ETag"]})
    client.patch(f"{API}/speakers/ceo-photonics-sme", json={"name": "Renamed speaker"}, headers=admin)
    changed = client.get(f"{PAGES}/speakers", headers={**HTML, "If-None-Match": first.headers["ETag"]})

    assert (first.status_code, first.headers["Cache-Control"]) == (200, PUBLIC_CACHE_CONTROL)
    assert again.status_code == 304
    assert changed.status_code == 200 and "Renamed speaker" in changed.get_data(as_text=True)


def test_the_programme_304_lasts_only_until_now_and_next_change(client, at_now):
    etag = client.get(f"{PAGES}/", headers=HTML).headers["ETag"]
    revalidate = {**HTML, "If-None-Match": etag}
    same_sessions_running = [client.get(f"{PAGES}/", headers=revalidate).status_code for _ in range(2)]
    at_now("2014-10-20T14:45:00+02:00")  # still the opening plenary: the same page
    later_in_the_plenary = client.get(f"{PAGES}/", headers=revalidate).status_code
    at_now("2014-10-20T15:50:00+02:00")  # the parallel sessions have begun; nothing was committed

    after_the_boundary = client.get(f"{PAGES}/", headers=revalidate)

    assert same_sessions_running == [304, 304] and later_in_the_plenary == 304
    assert after_the_boundary.status_code == 200 and after_the_boundary.headers["ETag"] != etag


def test_the_session_page_changes_when_a_seat_is_taken(client, admin):
    path = f"{PAGES}/sessions/access-to-finance-cluster-smes"
    etag = client.get(path, headers=HTML).headers["ETag"]
    token = client.post(f"{API}/attendees", json=ANNA, headers=admin).get_json()["token"]
    client.put("/api/v1/me/schedule/access-to-finance-cluster-smes", headers=_bearer(token))

    response = client.get(path, headers={**HTML, "If-None-Match": etag})

    assert response.status_code == 200 and "79 of 80 seats left" in response.get_data(as_text=True)


def test_static_files_are_revalidated_not_refetched(client):
    with client.get("/static/eventdesk.css") as first:
        etag = first.headers["ETag"]
    with client.get("/static/eventdesk.css", headers={"If-None-Match": etag}) as again:
        pass

    assert (first.status_code, first.mimetype, first.headers["Cache-Control"]) == (
        200,
        "text/css",
        PUBLIC_CACHE_CONTROL,
    )
    assert again.status_code == 304


def test_static_files_are_gzipped_for_browsers_that_ask(client):
    plain = client.get("/static/eventdesk.js")
    zipped = client.get("/static/eventdesk.js", headers={"Accept-Encoding": "gzip, br"})

    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(zipped.data) == plain.data == (STATIC / "eventdesk.js").read_bytes()
    assert len(zipped.data) < len(plain.data) / 2
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    assert plain.mimetype == "text/javascript"
    assert client.get("/static/no-such-file.js").status_code == 404
    assert client.get("/static/../schema.sql").status_code == 404


def test_the_front_page_links_each_event_page_and_keeps_its_api_links(client):
    page = client.get("/", headers=HTML).get_data(as_text=True)

    assert f'<a href="{PAGES}/">European Cluster Conference 2014' in page
    assert f'<a href="{API}/programme">programme</a>' in page


def test_the_base_template_gives_the_my_pages_their_frame(client):
    page = client.get(f"{PAGES}/rooms", headers=HTML).get_data(as_text=True)

    assert '<a class="skip-link" href="#main">' in page and '<main id="main"' in page
    assert '<p id="data-age" role="status"></p>' in page
    assert f'<link rel="manifest" href="{PAGES}/manifest.webmanifest">' in page
    assert f'<a href="{PAGES}/me">My schedule</a>' in page and f'<a href="{PAGES}/me/ticket">My ticket</a>' in page
    assert f'<a href="{PAGES}/rooms" aria-current="page">Rooms</a>' in page


# --- in a real browser ------------------------------------------------------------------------


def _api(live_server, path: str, **params) -> list[dict]:
    return httpx.get(live_server.url(f"{API}{path}"), params=params).json()


def _shown_ids(browser) -> list[str]:
    return browser.execute_script(
        "return [...document.querySelectorAll('section.day li.session')].map(li => li.dataset.session)"
    )


def test_browser_programme_lists_the_sessions_the_api_lists(browser, live_server):
    browser.get(live_server.url(f"{PAGES}/"))

    assert _shown_ids(browser) == [session["id"] for session in _api(live_server, "/sessions")]
    assert len(_shown_ids(browser)) == 44


def test_browser_track_filter_narrows_as_the_api_does(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(live_server.url(f"{PAGES}/"))
    Select(browser.find_element(By.ID, "filter-track")).select_by_visible_text("SME growth")

    with new_page(browser):
        browser.find_element(By.CSS_SELECTOR, ".filters button[type=submit]").click()

    expected = [session["id"] for session in _api(live_server, "/sessions", track="sme-growth")]
    assert "track=sme-growth" in browser.current_url
    assert 0 < len(expected) < 44 and _shown_ids(browser) == expected


def test_browser_search_narrows_as_the_api_does(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(live_server.url(f"{PAGES}/"))

    with new_page(browser):
        browser.find_element(By.ID, "filter-q").send_keys("venture capital", Keys.ENTER)

    expected = [session["id"] for session in _api(live_server, "/sessions", q="venture capital")]
    assert 0 < len(expected) < 44 and _shown_ids(browser) == expected
    assert browser.find_element(By.ID, "filter-q").get_attribute("value") == "venture capital"


def test_browser_session_page_shows_brussels_time_room_speakers_and_seats(browser, live_server):
    from selenium.webdriver.common.by import By

    api = _api(live_server, "/sessions/smart-specialisation-cluster-policy")

    browser.get(live_server.url(f"{PAGES}/sessions/smart-specialisation-cluster-policy"))

    facts = browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    assert "Monday 20 October 2014, 15:45–16:45" in facts
    assert "Europe/Brussels, CEST, UTC+02:00" in facts
    assert "Workshop Room B" in facts and "Regional structural change" in facts
    assert "60 of 60 seats left" in facts
    shown = [element.text for element in browser.find_elements(By.CSS_SELECTOR, ".speaker-group li a")]
    assert sorted(shown) == sorted(speaker["name"] for speaker in api["speakers"])


def test_browser_cancelled_session_is_struck_out_and_says_cancelled(browser, live_server):
    from selenium.webdriver.common.by import By

    cancelled = httpx.post(
        live_server.url(f"{API}/sessions/cluster-excellence-management/cancel"), headers=live_server.admin_headers()
    )
    browser.get(live_server.url(f"{PAGES}/"))

    item = browser.find_element(By.ID, "s-cluster-excellence-management")
    assert cancelled.status_code == 200
    assert "cancelled" in item.get_attribute("class").split()
    assert item.find_element(By.CSS_SELECTOR, ".session-title del").text == cancelled.json()["title"]
    assert "Cancelled" in item.find_element(By.CSS_SELECTOR, ".flags").text
    assert (
        browser.execute_script(
            "return getComputedStyle(arguments[0]).textDecorationLine", item.find_element(By.TAG_NAME, "del")
        )
        == "line-through"
    )


def test_browser_moved_session_says_moved(browser, live_server):
    from selenium.webdriver.common.by import By

    moved = httpx.patch(
        live_server.url(f"{API}/sessions/closing-plenary"),
        json={"start": "2014-10-21T16:00", "end": "2014-10-21T17:00"},
        headers=live_server.admin_headers(),
    )
    browser.get(live_server.url(f"{PAGES}/sessions/closing-plenary"))

    assert moved.status_code == 200 and moved.json()["sequence"] == 1
    assert browser.find_element(By.CSS_SELECTOR, ".flags").text == "Moved"
    assert "16:00–17:00" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_browser_every_public_page_is_accessible_at_phone_size(browser, live_server, path):
    browser.get(live_server.url(path))

    assert browser.execute_script("return window.innerWidth") == 360
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    assert_accessible(browser)
    assert not [message for message in console_errors(browser) if "Content Security Policy" in message]


def test_browser_filter_form_is_reachable_by_keyboard_and_every_field_is_labelled(browser, live_server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.get(live_server.url(f"{PAGES}/"))
    reached = []
    for _ in range(60):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        active = browser.switch_to.active_element
        reached.append(active.get_attribute("id") or active.text)
        if active.get_attribute("id") == "filter-type":
            break

    labels = browser.execute_script(
        "return [...document.querySelectorAll('form.filters input, form.filters select')]"
        ".map(field => [field.id, [...field.labels].map(label => label.textContent.trim())])"
    )
    assert reached[0] == "Skip to content"
    assert reached[-4:] == ["filter-q", "filter-track", "filter-room", "filter-type"]
    assert labels == [
        ["filter-q", ["Search"]],
        ["filter-track", ["Track"]],
        ["filter-room", ["Room"]],
        ["filter-type", ["Type"]],
    ]
