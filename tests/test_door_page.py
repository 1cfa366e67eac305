"""The door page in a real headless Chromium against a real gunicorn: pair, scan, go offline, upload.

A door is paired the way an organiser pairs a phone: `eventdesk-server create-device` makes
the device token and the page is opened at /e/ecc2014/door#<token>. Tickets are real ones of
attendees registered through the admin API. The camera is Chromium's fake capture device
playing a video of a ticket's QR code; a scanner is keys typed into the page's field. A
network cut is the server stopped (a service worker may bypass DevTools' offline emulation,
it cannot bypass a closed port).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import urllib.request
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.browser import (
    LiveServer,
    assert_accessible,
    call,
    clear_site_data,
    console_errors,
    make_driver,
    text_of,
    wait_for,
)
from tests.conftest import EVENT, flip_signature_character

API = f"/api/v1/events/{EVENT}"
VECTORS = Path(__file__).parent / "vectors" / "door_verdicts.json"
_people = itertools.count(1)
_doors = itertools.count(1)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("door-page")
    with LiveServer.started(data_dir, EVENTDESK_ACCESS_LOG=str(data_dir / "access.log")) as server:
        yield server


@pytest.fixture(scope="module", autouse=True)
def leave_the_shared_browser_clean(browser):
    """After this module: no door page left running, and its console lines (refused connections
    while the server was stopped) not left for the next module's console_errors."""
    yield
    browser.get("about:blank")
    browser.get_log("browser")


class Holder:
    """An attendee registered through the admin API, with their ticket's payload and serial."""

    def __init__(self, live: LiveServer, name: str | None = None):
        n = next(_people)
        person = {"name": name or f"Door Guest {n}", "email": f"guest{n}@example.org", "category": "cluster-manager"}
        person["organisation"] = "Flanders Photonics Cluster"
        status, body = call(live, "POST", f"{API}/attendees", person, live.admin_headers())
        assert status == 201, body
        self.id, self.name = body["id"], body["name"]
        self.refresh(live)

    def refresh(self, live: LiveServer) -> None:
        ticket = call(live, "GET", f"{API}/attendees/{self.id}/ticket", headers=live.admin_headers())[1]
        self.payload, self.serial = ticket["payload"], ticket["serial"]

    def reissue(self, live: LiveServer) -> str:
        """A new ticket; the old payload, returned, is now revoked."""
        old = self.payload
        status, _ = call(live, "POST", f"{API}/attendees/{self.id}/ticket/reissue", headers=live.admin_headers())
        assert status == 201
        self.refresh(live)
        return old


def device_token(live: LiveServer, name: str | None = None) -> str:
    """A door device's token, as `eventdesk-server create-device` prints it (its last line)."""
    return (
        live.cli("create-device", "--event", EVENT, "--name", name or f"Door {next(_doors)}").strip().splitlines()[-1]
    )


def server_scans(live: LiveServer, serial: str) -> list[dict]:
    """The server's audit log of one ticket's scans, straight from its database, in door-time order."""
    connection = sqlite3.connect(live.data_dir / "eventdesk.sqlite3")
    connection.row_factory = sqlite3.Row
    try:
        rows = connection.execute(
            "SELECT s.result, s.conflict, s.source, s.scanned_at, s.scan_id, t.label AS device FROM scans s "
            "LEFT JOIN api_tokens t ON t.id = s.device_id WHERE s.serial = ? ORDER BY s.scanned_at, s.pk",
            (serial,),
        )
        return [dict(row) for row in rows]
    finally:
        connection.close()


def open_door(driver, live: LiveServer, token: str, query: str = "") -> None:
    """A fresh browser profile's state, then the pairing link; waits until the page has its bundle."""
    clear_site_data(driver, live.base)
    driver.get(live.url("/"))  # leave the event's pages so no old page or worker keeps running
    console_errors(driver)  # forget what earlier tests left in the shared browser's console
    driver.get(live.url(f"/e/{EVENT}/door{query}#{token}"))
    wait_for(
        driver,
        lambda d: (
            d.find_element(By.ID, "door-setup").is_displayed() or d.find_element(By.ID, "door-scanning").is_displayed()
        ),
        timeout=30,
        message="the door did not get its bundle",
    )


def start_scanning(driver, list_id: str = "day1-entrance", exit_scans: bool = False) -> None:
    Select(driver.find_element(By.ID, "door-list")).select_by_value(list_id)
    if exit_scans:
        driver.find_element(By.CSS_SELECTOR, "input[name=type][value=exit]").click()
    driver.find_element(By.ID, "door-start").click()
    wait_for(driver, lambda d: d.find_element(By.ID, "door-scanning").is_displayed())


def paired(driver, live: LiveServer, name: str | None = None) -> str:
    """A new door device, paired on `driver` and scanning entries at the Day 1 entrance; its token."""
    token = device_token(live, name)
    open_door(driver, live, token)
    start_scanning(driver)
    return token


def history_size(driver) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, "#door-history li"))


def type_code(driver, payload: str) -> dict:
    """Type a code into the field as a scanner does (then Enter); the verdict shown for it."""
    before = history_size(driver)
    field = driver.find_element(By.ID, "wedge-input")
    field.send_keys(payload + "\n")
    wait_for(driver, lambda d: history_size(d) > before, message="no verdict for the typed code")
    return shown_verdict(driver)


def shown_verdict(driver) -> dict:
    return driver.execute_script(
        "const v = document.getElementById('verdict');"
        "return {result: v.dataset.result, scan_id: v.dataset.scanId, hidden: v.hidden,"
        " word: document.getElementById('verdict-word').textContent,"
        " name: document.getElementById('verdict-name').textContent,"
        " reason: document.getElementById('verdict-reason').textContent,"
        " name_html: document.getElementById('verdict-name').innerHTML,"
        " server: document.getElementById('verdict-server').textContent}"
    )


def waiting(driver) -> int:
    """Scans waiting to upload, as the status line says."""
    return int(driver.execute_script("return document.getElementById('data-age').dataset.waiting || '-1'"))


def journal_record(driver, scan_id: str) -> dict | None:
    """One scan as the page keeps it in its journal (IndexedDB)."""
    driver.set_script_timeout(20)
    return driver.execute_async_script(
        "const [id, done] = arguments;"
        "const open = indexedDB.open('eventdesk-door:" + EVENT + "');"
        "open.onsuccess = () => { const get = open.result.transaction('journal').objectStore('journal').get(id);"
        "  get.onsuccess = () => { open.result.close(); done(get.result || null); }; };",
        scan_id,
    )


def server_answered(driver, scan_id: str) -> str | None:
    """The server's verdict for a scan as the page recorded it in its journal."""
    record = journal_record(driver, scan_id) or {}
    return (record.get("server") or {}).get("result")


def refresh_bundle(driver) -> None:
    """Fetch the bundle's changes now, as the page does every minute."""
    driver.set_script_timeout(30)
    driver.execute_async_script(
        "const done = arguments[0]; import('/static/door.js').then(m => m.refreshBundle()).then(() => done())"
    )


def service_worker_ready(driver) -> None:
    driver.set_script_timeout(30)
    driver.execute_async_script("const done = arguments[0]; navigator.serviceWorker.ready.then(() => done())")
    if not driver.execute_script("return !!navigator.serviceWorker.controller"):
        driver.refresh()
    wait_for(driver, lambda d: d.execute_script("return !!navigator.serviceWorker.controller"), timeout=30,
             message="no service worker took control")  # fmt: skip


# --- pairing ---------------------------------------------------------------------------------


def test_the_door_without_a_pairing_link_explains_how_to_pair(browser, live):
    clear_site_data(browser, live.base)
    browser.get(live.url("/"))

    browser.get(live.url(f"/e/{EVENT}/door"))

    wait_for(browser, lambda d: d.find_element(By.ID, "door-unpaired").is_displayed())
    assert "Not paired" in text_of(browser, "#data-age")
    assert "create-device --event ecc2014" in text_of(browser, "#door-unpaired")
    assert_accessible(browser)


def test_the_pairing_link_pairs_the_door_and_leaves_no_secret_in_the_address_bar(browser, live):
    link = live.cli("create-device", "--event", EVENT, "--name", "Door Pairing", "--link").strip().splitlines()[-1]
    token = link.partition("#")[2]
    assert link == live.url(f"/e/{EVENT}/door#{token}")
    clear_site_data(browser, live.base)
    browser.get(live.url("/"))

    browser.get(link)
    wait_for(browser, lambda d: d.find_element(By.ID, "door-setup").is_displayed(), timeout=30)

    assert "#" not in browser.current_url
    assert token not in browser.execute_script("return location.href")
    log = (live.data_dir / "access.log").read_text()
    assert f"/e/{EVENT}/door" in log and token not in log
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#door-list option")]
    assert options == ["day1-entrance", "matchmaking", "day2-entrance"]
    wait_for(browser, lambda d: "Online" in text_of(d, "#data-age"))
    assert "0 scans waiting to upload" in text_of(browser, "#data-age")
    assert_accessible(browser)
    browser.get(live.url(f"/e/{EVENT}/door"))  # the next visit: the token stays in this browser
    wait_for(browser, lambda d: d.find_element(By.ID, "door-setup").is_displayed())
    assert console_errors(browser) == []


def test_the_bundle_answer_carries_the_server_clock(live):
    token = device_token(live)

    request = urllib.request.Request(live.url(f"{API}/door-bundle"), headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        now, etag = response.headers["Eventdesk-Now"], response.headers["ETag"]
    request.add_header("If-None-Match", etag)
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(request, timeout=10)
    not_modified.value.close()

    assert now == "2014-10-20T14:30:00+02:00"  # EVENTDESK_NOW of the live server
    assert not_modified.value.code == 304 and not_modified.value.headers["Eventdesk-Now"] == now


# --- verdicts --------------------------------------------------------------------------------


def test_a_typed_ticket_is_admitted_then_already_checked_in(browser, live):
    holder = Holder(live)
    paired(browser, live, "Door Wedge")

    first = type_code(browser, holder.payload)
    wait_for(browser, lambda d: server_answered(d, first["scan_id"]) == "ok", message="the server did not answer")
    second = type_code(browser, "  " + holder.payload.lower() + "  ")  # what scanners do: spaces, lower case

    assert (first["result"], first["word"], first["name"]) == (
        "ok",
        "Welcome",
        f"{holder.name} — Flanders Photonics Cluster",
    )
    assert second["result"] == "already_checked_in" and second["word"].startswith("Already checked in at 14:3")
    wait_for(browser, lambda d: server_answered(d, second["scan_id"]) == "already_checked_in")
    scans = server_scans(live, holder.serial)
    assert [(s["result"], s["source"], s["device"]) for s in scans] == [
        ("ok", "online", "Door Wedge"), ("already_checked_in", "online", "Door Wedge"),
    ]  # fmt: skip
    assert scans[0]["scanned_at"].startswith("2014-10-20T12:3")  # door time: the server's clock, not the phone's
    assert_accessible(browser)


def test_forged_and_revoked_tickets_are_refused_in_words(browser, live):
    holder = Holder(live)
    revoked = holder.reissue(live)
    paired(browser, live)

    forged = type_code(browser, flip_signature_character(holder.payload))
    refused = type_code(browser, revoked)
    garbage = type_code(browser, "hello")
    other_event = type_code(browser, holder.payload.replace("ED1:ECC2014:", "ED1:OTHER2015:"))

    assert (forged["result"], forged["word"], forged["name"]) == (
        "invalid_signature", "Forged or damaged code: the signature does not match", "",
    )  # fmt: skip
    assert forged["reason"] == "Forged or damaged code"
    assert (refused["result"], refused["word"]) == ("revoked", "This ticket was revoked (re-issued or cancelled)")
    assert refused["reason"] == "Re-issued or cancelled: send to the desk"
    assert (garbage["result"], garbage["word"]) == ("malformed", "Not a readable Eventdesk ticket")
    assert other_event["result"] == "wrong_event" and other_event["reason"] == "This ticket is for other2015"
    assert browser.find_element(By.ID, "verdict").get_attribute("class") == "verdict bad"
    wait_for(browser, lambda d: server_answered(d, refused["scan_id"]) == "revoked")
    assert [s["result"] for s in server_scans(live, holder.serial)] == []  # nothing recorded for the new serial


def test_a_bundle_delta_brings_new_tickets_and_revocations_to_the_offline_door(browser, live):
    old = Holder(live)
    paired(browser, live)
    revoked = old.reissue(live)
    newcomer = Holder(live)

    refresh_bundle(browser)  # a delta: ?since=<cursor>
    with live.stopped():
        verdicts = [type_code(browser, payload) for payload in (revoked, old.payload, newcomer.payload)]

    assert [v["result"] for v in verdicts] == ["revoked", "ok", "ok"]
    assert verdicts[2]["name"].startswith(newcomer.name)


def test_a_list_outside_its_window_refuses_with_when_it_opens(browser, live):
    holder = Holder(live)
    paired(browser, live)
    browser.find_element(By.ID, "door-change").click()
    start_scanning(browser, "day2-entrance")

    verdict = type_code(browser, holder.payload)

    assert verdict["result"] == "not_on_list"
    assert verdict["reason"] == "Not admitted through Day 2 entrance: opens 21 Oct 07:30"


def test_a_name_with_html_or_control_characters_shows_as_text(browser, live):
    # The server refuses C0 controls in a name; an invisible mark that reorders text gets through.
    holder = Holder(live, name="<img src=x onerror=alert(1)>\u202eEve\u200b <b>Bold</b>")
    paired(browser, live)

    verdict = type_code(browser, holder.payload)

    assert verdict["result"] == "ok"
    assert verdict["name"] == "<img src=x onerror=alert(1)>Eve <b>Bold</b> — Flanders Photonics Cluster"
    assert "<img" not in verdict["name_html"] and "&lt;img" in verdict["name_html"]
    assert browser.find_elements(By.CSS_SELECTOR, "#verdict img, #door-history img, #verdict b") == []


def test_the_server_verdict_replaces_the_local_one_when_they_differ(browser, live):
    paired(browser, live)
    holder = Holder(live)
    browser.execute_async_script(
        "const done = arguments[0]; import('/static/door.js').then(m => m.refreshBundle()).then(() => done())"
    )  # the holder is in this door's bundle now, not yet inside
    other = device_token(live, "Door Elsewhere")
    body = {"payload": holder.payload, "list": "day1-entrance", "scan_id": "elsewhere-1"}
    assert call(live, "POST", f"{API}/checkins", body, {"Authorization": f"Bearer {other}"})[0] == 201

    verdict = type_code(browser, holder.payload)

    assert verdict["result"] == "ok"  # as far as this door knew
    wait_for(
        browser, lambda d: d.find_element(By.ID, "verdict").get_attribute("data-server-result") == "already_checked_in"
    )
    assert "Server: Already checked in (first entry 14:3" in text_of(browser, "#verdict-server")
    assert "at Door Elsewhere" in text_of(browser, "#verdict-server")
    wait_for(browser, lambda d: d.find_element(By.ID, "door-conflicts").is_displayed())
    assert "door said ok, server says already_checked_in" in text_of(browser, "#door-conflict-list")


# --- the camera ------------------------------------------------------------------------------


def ticket_video(path: Path, payload: str, width: int = 640, height: int = 480, frames: int = 10) -> Path:
    """A Y4M video (what Chromium's fake camera plays) of the ticket's QR code, grey on the Y plane."""
    import qrcode
    from PIL import Image

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4, box_size=8)
    code.add_data(payload)
    code.make(fit=True)
    picture = code.make_image().get_image().convert("L")
    canvas = Image.new("L", (width, height), 255)
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    luma = canvas.tobytes()
    chroma = bytes([128]) * (width // 2 * height // 2)
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            video.write(b"FRAME\n" + luma + chroma + chroma)
    return path


@pytest.fixture
def camera_browser(tmp_path, live):
    """A second Chromium whose camera films a real ticket's QR code; yields (driver, holder)."""
    holder = Holder(live, name="Anna Berg")
    video = ticket_video(tmp_path / "ticket.y4m", holder.payload)
    driver = make_driver(
        extra_arguments=(
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        )
    )
    try:
        yield driver, holder
    finally:
        driver.quit()


def test_the_camera_reads_a_real_ticket_ok_then_already_checked_in(camera_browser, live):
    driver, holder = camera_browser
    token = device_token(live, "Door Camera")

    open_door(driver, live, token, "?list=day1-entrance&type=entry")  # opens ready, camera on

    wait_for(driver, lambda d: history_size(d) >= 1, timeout=30, message="the camera read no code")
    assert shown_verdict(driver)["result"] == "ok" and "Anna Berg" in shown_verdict(driver)["name"]
    assert driver.find_element(By.ID, "camera-toggle").get_attribute("aria-pressed") == "true"
    wait_for(driver, lambda d: [s["result"] for s in server_scans(live, holder.serial)] == ["ok"])
    # The same code still in front of the camera counts once in 5 seconds, then again.
    wait_for(driver, lambda d: history_size(d) >= 2, timeout=20, message="no second reading")
    results = driver.execute_script(
        "return [...document.querySelectorAll('#door-history li')].map(li => li.dataset.result).reverse()"
    )
    assert results[:2] == ["ok", "already_checked_in"]
    wait_for(
        driver, lambda d: [s["result"] for s in server_scans(live, holder.serial)][:2] == ["ok", "already_checked_in"]
    )
    # A refusal is an HTTP 409, which the console lists as a failed load; nothing else may be there.
    assert [e for e in console_errors(driver) if "the server responded with a status of" not in e] == []


# --- offline ---------------------------------------------------------------------------------


def test_offline_the_door_judges_from_its_bundle_and_uploads_when_back(browser, live):
    paired(browser, live, "Door Offline")
    service_worker_ready(browser)
    start_scanning(browser) if not browser.find_element(By.ID, "door-scanning").is_displayed() else None
    guests = [Holder(live) for _ in range(2)]
    browser.execute_async_script(
        "const done = arguments[0]; import('/static/door.js').then(m => m.refreshBundle()).then(() => done())"
    )
    revoked = guests[1].reissue(live)  # after the sync: this door does not know yet

    with live.stopped():
        first = type_code(browser, guests[0].payload)
        again = type_code(browser, guests[0].payload)
        stale = type_code(browser, revoked)
        wait_for(browser, lambda d: waiting(d) == 3, message="the journal did not grow")
        assert "Offline" in text_of(browser, "#data-age")
        browser.refresh()  # the page itself loads with no network (the service worker keeps it)
        wait_for(browser, lambda d: d.find_element(By.ID, "door-setup").is_displayed())
        start_scanning(browser)
        forged = type_code(browser, flip_signature_character(guests[1].payload))
        wait_for(browser, lambda d: waiting(d) == 4)

    assert [v["result"] for v in (first, again, stale, forged)] == [
        "ok",
        "already_checked_in",
        "ok",
        "invalid_signature",
    ]
    browser.execute_async_script(
        "const done = arguments[0]; import('/static/door.js').then(m => m.uploadPending()).then(() => done())"
    )
    wait_for(browser, lambda d: waiting(d) == 0, timeout=30, message="the journal was not uploaded")
    assert [(s["result"], s["source"]) for s in server_scans(live, guests[0].serial)] == [
        ("ok", "offline"), ("already_checked_in", "offline"),
    ]  # fmt: skip
    # The revoked ticket this door let in offline: the server's word stands, shown as a conflict.
    wait_for(browser, lambda d: "door said ok, server says revoked" in text_of(d, "#door-conflict-list"))


def test_two_doors_that_admitted_one_ticket_offline_end_with_one_ok_and_one_conflict(browser, live):
    holder = Holder(live)
    other = make_driver()
    try:
        doors = [(browser, "Door North"), (other, "Door South")]
        for driver, name in doors:
            paired(driver, live, name)
        with live.stopped():
            verdicts = [type_code(driver, holder.payload) for driver, _ in doors]
        # Each door's clock is its own (corrected at its last sync): upload the earlier scan first,
        # so that the later door hears of the conflict in its upload's answer.
        at = [
            journal_record(driver, verdict["scan_id"])["scanned_at"]
            for (driver, _), verdict in zip(doors, verdicts, strict=True)
        ]
        first, second = sorted(range(2), key=lambda index: at[index])
        for index in (first, second):
            driver = doors[index][0]
            driver.execute_async_script(
                "const done = arguments[0]; import('/static/door.js').then(m => m.uploadPending()).then(() => done())"
            )
            wait_for(driver, lambda d: waiting(d) == 0, timeout=30)
        later = doors[second][0]
        wait_for(later, lambda d: d.find_element(By.ID, "door-conflicts").is_displayed())
        conflicts = [text_of(driver, "#door-conflict-list") for driver, _ in doors]
    finally:
        other.quit()

    assert [v["result"] for v in verdicts] == ["ok", "ok"]
    scans = server_scans(live, holder.serial)
    assert [(s["device"], s["result"], s["conflict"]) for s in scans] == [
        (doors[first][1], "ok", 0), (doors[second][1], "already_checked_in", 1),
    ]  # fmt: skip
    assert conflicts[first] == ""
    assert (
        "entry: door said ok, server says already_checked_in (flagged: a later entry of someone already inside)"
        in (conflicts[second])
    )
    assert f"— {holder.name}, first entry 14:3" in conflicts[second] and f"at {doors[first][1]}" in conflicts[second]


def test_a_revoked_door_forgets_its_bundle_and_says_so(browser, live):
    token = paired(browser, live, "Door Revoked")
    holder = Holder(live)
    with live.stopped():
        type_code(browser, holder.payload)  # kept for upload, no name in it
    device = next(
        d for d in call(live, "GET", f"{API}/devices", headers=live.admin_headers())[1] if d["name"] == "Door Revoked"
    )
    assert call(live, "DELETE", f"{API}/devices/{device['id']}", headers=live.admin_headers())[0] in (200, 204)

    browser.refresh()

    wait_for(browser, lambda d: "unpaired by the organiser" in text_of(d, "#data-age"))
    assert "1 scan not yet uploaded is kept" in text_of(browser, "#data-age")
    stored = browser.execute_async_script(
        "const done = arguments[0]; const open = indexedDB.open('eventdesk-door:" + EVENT + "');"
        "open.onsuccess = () => { const t = open.result.transaction(['roster0', 'roster1', 'meta', 'journal']);"
        "  Promise.all(['roster0', 'roster1', 'meta', 'journal'].map(n => new Promise(r => {"
        "    const q = t.objectStore(n).count(); q.onsuccess = () => r(q.result); })))"
        "  .then(c => { open.result.close(); done(c); }); };"
    )
    assert stored == [0, 0, 0, 1]
    assert browser.execute_script(f"return localStorage.getItem('eventdesk:{EVENT}:door-token')") is None
    assert token not in json.dumps(browser.execute_script("return {...localStorage}"))


# --- one judge, three places: the shared verdict vectors -----------------------------------


def _vector_cases() -> list[dict]:
    if not VECTORS.exists():
        return []
    return json.loads(VECTORS.read_text(encoding="utf-8"))["cases"]


@pytest.fixture(scope="module")
def vector_results(browser, live) -> dict[str, dict]:
    """Every case of the vectors judged by door-judge.js in the page, over a bundle in memory."""
    vectors = json.loads(VECTORS.read_text(encoding="utf-8"))
    browser.get(live.url(f"/e/{EVENT}/door"))
    browser.set_script_timeout(60)
    results = browser.execute_async_script(
        "const [vectors, done] = arguments;"
        "import('/static/door-judge.js').then(async ({judge, memoryBundle}) => {"
        "  const bundle = memoryBundle(vectors.bundle);"
        "  const out = {};"
        "  for (const c of vectors.cases) {"
        "    try {"
        "      const v = await judge({...c.scan, bundle, accepted: c.accepted || []});"
        "      out[c.name] = {result: v.result, serial: v.serial, name: v.holder ? v.holder.name : null};"
        "    } catch (e) { out[c.name] = {error: String(e)}; }"
        "  }"
        "  done(out);"
        "}).catch(e => done({'': {error: String(e)}}));",
        vectors,
    )
    return results


@pytest.mark.parametrize("case", _vector_cases(), ids=lambda case: case["name"])
def test_the_browser_judge_agrees_with_the_verdict_vectors(vector_results, case):
    expected = case["expect"]

    got = vector_results[case["name"]]

    assert {key: got.get(key) for key in expected} == expected


def test_the_verdict_vectors_are_here():
    assert VECTORS.exists(), "tests/vectors/door_verdicts.json is missing"
    assert json.loads(VECTORS.read_text(encoding="utf-8"))["format"] == "eventdesk-door-verdicts/1"
