"""The README's screenshots, made again from scratch: `.venv/bin/python docs/screenshots/take.py`
(all of them), or name groups to redo only those: `take.py matchmaking` (attendee, door, matchmaking).

The same pieces as the browser tests (tests/browser.py): the built-in conference on a live
gunicorn with the clock fixed during the event (so the programme shows now and next), headless
Chromium as a 360 px wide phone at device scale 2, and an attendee signed in with their
personal link. The offline shot is taken with the server stopped, not emulated offline. The
matchmaking shots use the demo morning (`eventdesk-server load-demo`) on a server whose clock is
in its second slot; the printable agenda is an A4-wide page with print styles, and the live view
a laptop's screen at the organiser's table. Each PNG is reduced to a 64-colour palette, which
keeps it small and the text sharp.
"""

from __future__ import annotations

import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from tests.browser import (  # noqa: E402
    LiveServer,
    as_phone,
    call as browser_call,
    clear_site_data,
    loaded_image,
    make_driver,
    overlapping_pair,
    text_of,
)

EVENT = "ecc2014"
API = f"/api/v1/events/{EVENT}"
COLOURS = 64
PUBLIC_URL = "https://ecc.example.eu"  # what the calendar page shows, in place of 127.0.0.1:<port>


def call(live: LiveServer, method: str, path: str, body: object = None, headers: dict | None = None) -> object:
    """The body of a request that must succeed (tests.browser.call)."""
    status, answer = browser_call(live, method, path, body, headers)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {answer}")
    return answer


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def save(driver, name: str) -> Path:
    """The visible page as a small palette PNG in this folder."""
    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")
    path = HERE / f"{name}.png"
    image.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path.relative_to(ROOT)}: {image.width}x{image.height}, {path.stat().st_size / 1024:.0f} KB")
    return path


def take(live: LiveServer, driver) -> None:
    admin = live.admin_headers()
    registration = {"name": "Ada Lovelace", "email": "ada@example.org", "category": "cluster-manager"}
    person = call(live, "POST", f"{API}/attendees", registration, admin)
    link = call(live, "GET", f"{API}/attendees/{person['id']}/link", headers=admin)["url"].replace(
        PUBLIC_URL, live.base
    )
    mine = {"Authorization": f"Bearer {person['token']}"}
    first, overlapping = overlapping_pair(call(live, "GET", f"{API}/sessions?day=1"))
    later = [s for s in call(live, "GET", f"{API}/sessions?day=2") if s["status"] != "cancelled"][:2]
    for session in (first, overlapping, *later):
        call(live, "PUT", f"/api/v1/me/schedule/{session['id']}", headers=mine)

    clear_site_data(driver, live.base)
    driver.get(live.url("/"))
    driver.get(link)
    wait_for(lambda: driver.current_url.endswith(f"/e/{EVENT}/me"), "sign-in")
    wait_for(lambda: "Overlaps with" in text_of(driver, "#my-schedule"), "my schedule")
    wait_for(lambda: driver.execute_script("return !!navigator.serviceWorker.controller"), "service worker")

    driver.get(live.url(f"/e/{EVENT}/"))
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".star:not([hidden])"), "stars")
    wait_for(lambda: "Up to date" in text_of(driver, "#data-age"), "data age")
    save(driver, "programme")

    driver.get(live.url(f"/e/{EVENT}/sessions/{first['id']}"))
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "main h1"), "session page")
    time.sleep(0.5)
    save(driver, "session")

    driver.get(live.url(f"/e/{EVENT}/me"))
    wait_for(lambda: "Overlaps with" in text_of(driver, "#my-schedule"), "overlap warning")
    driver.execute_script("window.scrollTo(0, 0)")
    save(driver, "my-schedule")

    for page, image_id, name in (
        ("me/calendar", "calendar-qr", "my-calendar"),
        ("me/ticket", "ticket-qr", "my-ticket"),
    ):
        driver.get(live.url(f"/e/{EVENT}/{page}"))
        loaded_image(driver, image_id)
        save(driver, name)

    driver.get(live.url(f"/e/{EVENT}/"))  # drawn once more under the worker, so it is kept
    wait_for(lambda: "Up to date" in text_of(driver, "#data-age"), "programme kept")
    with live.stopped():
        driver.get(live.url(f"/e/{EVENT}/"))
        wait_for(lambda: "Offline" in text_of(driver, "#data-age"), "offline line", timeout=30)
        save(driver, "programme-offline")


def take_door_and_desk(live: LiveServer, driver) -> None:
    """The door page: a welcome and a refusal, full screen; then the desk with that arrival."""
    from selenium.webdriver.support.ui import Select

    admin = live.admin_headers()
    registration = {"name": "Bram de Wit", "email": "bram@example.org", "category": "national-policy-maker",
                    "organisation": "Dutch Innovation Agency"}  # fmt: skip
    person = call(live, "POST", f"{API}/attendees", registration, admin)
    payload = call(live, "GET", "/api/v1/me/ticket", headers={"Authorization": f"Bearer {person['token']}"})["payload"]
    door = call(live, "POST", f"{API}/devices", {"name": "Door A", "link": True}, admin)
    desk = call(live, "POST", f"{API}/devices", {"name": "Desk tablet", "desk": True}, admin)

    clear_site_data(driver, live.base)
    driver.get(live.url("/"))
    driver.get(door["pairing_url"].replace(PUBLIC_URL, live.base))
    wait_for(lambda: driver.find_element(By.ID, "door-setup").is_displayed(), "door set-up")
    Select(driver.find_element(By.ID, "door-list")).select_by_value("day1-entrance")
    driver.find_element(By.ID, "door-start").click()
    wait_for(lambda: driver.find_element(By.ID, "door-scanning").is_displayed(), "door scanning")
    for code, name in ((payload, "door-ok"), (payload, "door-already-in")):
        before = len(driver.find_elements(By.CSS_SELECTOR, "#door-history li"))
        driver.find_element(By.ID, "wedge-input").send_keys(code + "\n")
        wait_for(lambda before=before: len(driver.find_elements(By.CSS_SELECTOR, "#door-history li")) > before, name)
        time.sleep(1.0)  # the server's answer joins the door's
        save(driver, name)

    clear_site_data(driver, live.base)
    driver.get(live.url("/"))
    driver.get(live.url(f"/e/{EVENT}/desk#{desk['token']}"))
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".list-stats svg rect"), "desk chart")
    save(driver, "desk")


MORNING = "2014-10-20T09:25:00+02:00"  # the demo morning's second slot
ARRIVED_SHARE = 0.8  # of the parties of the slot under way and the next, checked in for the live view


def take_matchmaking(live: LiveServer, driver) -> None:
    """A demo participant's matchmaking page (meetings, suggestions, profile) and printable agenda
    on the phone, then the organiser's live view on a laptop with most of the room arrived."""
    admin = live.admin_headers()
    live.cli("load-demo", "--event", EVENT)
    morning = call(live, "GET", f"{API}/matchmaking/live", headers=admin)
    shown = morning["current"]["meetings"] + morning["next"]["meetings"]
    names = sorted({side["name"] for meeting in shown for side in (meeting["requester"], meeting["partner"])})
    people = {
        p["name"]: p["id"] for p in call(live, "GET", f"{API}/attendees?q=demo&per_page=500", headers=admin)["items"]
    }
    for index, name in enumerate(names):
        if index % 5 < ARRIVED_SHARE * 5:  # the same people every run: every fifth not yet there
            call(live, "POST", f"{API}/checkins/desk", {"attendee": people[name], "list": "matchmaking"}, admin)
    who = morning["current"]["meetings"][0]["requester"]["name"]
    link = call(live, "GET", f"{API}/attendees/{people[who]}/link", headers=admin)["url"].replace(PUBLIC_URL, live.base)

    clear_site_data(driver, live.base)
    driver.get(live.url("/"))
    driver.get(link)
    wait_for(lambda: driver.current_url.endswith(f"/e/{EVENT}/me"), "sign-in")
    driver.get(live.url(f"/e/{EVENT}/me/matchmaking"))
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#suggestion-list li"), "suggestions")
    wait_for(lambda: "Table" in text_of(driver, "#meeting-list"), "meetings")
    save(driver, "matchmaking")
    for section, name in (("mm-suggestions", "matchmaking-suggestions"), ("mm-profile", "matchmaking-profile")):
        driver.execute_script("document.getElementById(arguments[0]).scrollIntoView()", section)
        time.sleep(0.3)
        save(driver, name)

    driver.get(live.url(f"/e/{EVENT}/me/agenda"))
    wait_for(lambda: "Meeting:" in text_of(driver, "#my-agenda"), "agenda")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**A4, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    driver.execute_script("document.body.style.margin = '15mm'")  # the margin a printer leaves on the page
    time.sleep(0.3)
    save(driver, "agenda-print")
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    desk = call(live, "POST", f"{API}/devices", {"name": "Organiser's laptop", "desk": True}, admin)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**LAPTOP, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": False})
    clear_site_data(driver, live.base)
    driver.get(live.url("/"))
    driver.get(live.url(f"/e/{EVENT}/matchmaking/live#{desk['token']}"))
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "#now-tables .table-card"), "live tables")
    save(driver, "matchmaking-live")


A4 = {"width": 794, "height": 1123}  # CSS pixels at 96 dpi
LAPTOP = {"width": 1366, "height": 768}
GROUPS = ("attendee", "door", "matchmaking")


def main(groups: list[str]) -> None:
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise SystemExit(f"no such group: {', '.join(sorted(unknown))} (choose from {', '.join(GROUPS)})")
    wanted = groups or list(GROUPS)
    with tempfile.TemporaryDirectory(prefix="eventdesk-screenshots-") as name:
        driver = make_driver()
        try:
            if {"attendee", "door"} & set(wanted):
                with LiveServer.started(Path(name) / "programme", EVENTDESK_PUBLIC_URL=PUBLIC_URL) as live:
                    as_phone(driver, scale=2)
                    if "attendee" in wanted:
                        take(live, driver)
                    if "door" in wanted:
                        take_door_and_desk(live, driver)
            if "matchmaking" in wanted:
                with LiveServer.started(
                    Path(name) / "matchmaking", EVENTDESK_PUBLIC_URL=PUBLIC_URL, EVENTDESK_NOW=MORNING
                ) as live:
                    as_phone(driver, scale=2)
                    take_matchmaking(live, driver)
        finally:
            driver.quit()


if __name__ == "__main__":
    main(sys.argv[1:])
