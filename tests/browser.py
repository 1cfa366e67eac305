"""Real-browser testing: Debian's headless Chromium through Selenium, a live gunicorn, axe-core.

The fixtures live in tests/conftest.py and are built from what is here:

- `browser` (session scope): one Chromium for the whole run, a 360x800 phone (touch, mobile
  viewport), made by `make_driver`. Never skipped: without chromium or chromedriver the test
  fails and says how to install them (`make test` does).
- `live_server` (module scope): a `LiveServer`, i.e. gunicorn with the project's config on
  127.0.0.1 and a data directory prepared as `make run` prepares it (`eventdesk-server init-db`,
  `load-programme --builtin`), with the clock fixed at `NOW` (EVENTDESK_NOW). A module that
  needs other settings makes its own: `with LiveServer.started(tmp_path, EVENTDESK_X="1") as live:`.
- `assert_accessible(driver)`: axe-core (tests/vendor/axe.min.js) run on the current page;
  fails on any serious or critical violation and prints each one with the elements at fault.
"""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import gunicorn_server, run_script, server_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PHONE = {"width": 360, "height": 800}
NOW = "2014-10-20T14:30:00+02:00"  # during the opening plenary of the built-in conference
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
FAILING_IMPACTS = ("serious", "critical")


def make_driver(performance_log: bool = False, extra_arguments: tuple[str, ...] = ()):
    """Headless Chromium sized and behaving as a 360x800 phone; fails (never skips) without it.

    `performance_log` also records the DevTools protocol's Network and Page events, for
    `driver.get_log("performance")` (bench/pages_bench.py counts bytes with them).
    `extra_arguments` are more command-line switches (a fake camera for the door page).
    """
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"browser tests need {' and '.join(missing)}: "
            "apt-get install chromium chromium-driver (make test installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        f"--window-size={PHONE['width']},{PHONE['height']}",
        *extra_arguments,
    ):
        options.add_argument(argument)
    logging = {"browser": "ALL"}  # console errors, CSP reports
    if performance_log:
        logging["performance"] = "ALL"
    options.set_capability("goog:loggingPrefs", logging)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    driver.set_page_load_timeout(30)
    as_phone(driver)
    return driver


def as_phone(driver, scale: float = 1) -> None:
    """Lay pages out as a phone does (360 CSS px wide, the viewport meta honoured, touch events).

    `scale` is the device pixel ratio: 2 gives sharper screenshots (a QR code to decode).
    """
    metrics = {**PHONE, "deviceScaleFactor": scale, "mobile": True}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 1})


@contextmanager
def new_page(driver, timeout: float = 10) -> Iterator[None]:
    """Wait, after the block (a click, a submit), until the browser has loaded another document."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element("tag name", "html")
    yield
    wait = WebDriverWait(driver, timeout)
    wait.until(expected_conditions.staleness_of(old))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def clear_site_data(driver, base_url: str) -> None:
    """Forget everything the origin stored: cookies, storage, caches, service workers."""
    driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": base_url, "storageTypes": "all"})


def wait_for(driver, condition, timeout: float = 15, message: str = ""):
    """Poll `condition(driver)` until it holds; an element the page redrew meanwhile is looked up again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    waiting = WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))
    return waiting.until(lambda d: condition(d), message)


def text_of(driver, css: str) -> str:
    """The visible text of every element matching `css`, joined."""
    from selenium.webdriver.common.by import By

    return " ".join(element.text for element in driver.find_elements(By.CSS_SELECTOR, css))


def loaded_image(driver, element_id: str, timeout: float = 15):
    """The <img> with `element_id` once it is in the page and its picture has loaded."""
    from selenium.webdriver.support.ui import WebDriverWait

    script = "const i = document.getElementById(arguments[0]); return i && i.complete && i.naturalWidth > 0 && i"
    return WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(script, element_id), f"no image #{element_id}"
    )


def overlapping_pair(sessions: list[dict]) -> tuple[dict, dict]:
    """Two live sessions that overlap in time (the built-in programme has some on day 1)."""
    live_sessions = [s for s in sessions if s["status"] != "cancelled"]
    for a, b in itertools.combinations(live_sessions, 2):
        if a["start"] < b["end"] and b["start"] < a["end"]:
            return a, b
    raise AssertionError("no two of these sessions overlap")


def console_errors(driver) -> list[str]:
    """The browser console's errors since the last call (a CSP refusal shows up here)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


@cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def axe_violations(driver, impacts: tuple[str, ...] = FAILING_IMPACTS) -> list[dict]:
    """axe-core's violations on the current page with one of `impacts`.

    Injected with execute_script, which the page's Content-Security-Policy does not govern.
    """
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(_axe_source())
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then("
        "  r => done(JSON.stringify(r.violations)), e => done(JSON.stringify({error: String(e)})));"
    )
    found = json.loads(result)
    if isinstance(found, dict):
        raise AssertionError(f"axe-core failed to run: {found['error']}")
    return [violation for violation in found if violation["impact"] in impacts]


def assert_accessible(driver) -> None:
    """No serious or critical axe-core violation on the current page; else each is printed."""
    violations = axe_violations(driver)
    if violations:
        lines = [f"{len(violations)} serious or critical accessibility violation(s) on {driver.current_url}:"]
        for violation in violations:
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>")
            for node in violation["nodes"][:5]:
                lines.append(f"    {', '.join(map(str, node['target']))}: {node['failureSummary']}".replace("\n", " "))
        message = "\n".join(lines)
        print(message)
        raise AssertionError(message)


def call(live: LiveServer, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, object]:
    """One JSON request to the live server (urllib: nothing the browser shares); (status, body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(live.url(path), data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read().decode() or "null")


class LiveServer:
    """gunicorn on 127.0.0.1 over a data directory prepared like `make run`; stop and start it at will."""

    def __init__(self, data_dir: Path, **env_overrides: str):
        self.data_dir = data_dir
        self.env = server_env(data_dir, **{"EVENTDESK_NOW": NOW, **env_overrides})
        self.base = f"http://{self.env['HOST']}:{self.env['PORT']}"  # the same port across restarts
        self._running: ExitStack | None = None
        self._admin_token: str | None = None
        self.cli("init-db")
        self.cli("load-programme", "--builtin")

    @classmethod
    @contextmanager
    def started(cls, data_dir: Path, **env_overrides: str) -> Iterator[LiveServer]:
        server = cls(data_dir, **env_overrides)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> None:
        if self._running is None:
            stack = ExitStack()
            stack.enter_context(gunicorn_server(self.env))
            self._running = stack

    def stop(self) -> None:
        """Stop gunicorn for real (the network is gone, not merely emulated offline)."""
        if self._running is not None:
            self._running.close()
            self._running = None

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """The server down for the block, up again after it, on the same address and data."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def cli(self, *args: str) -> str:
        """`eventdesk-server ARGS` on this server's data; its standard output."""
        return run_script("eventdesk-server", *args, env=self.env)

    def admin_headers(self) -> dict[str, str]:
        """Headers of an admin request (one token made on first use)."""
        if self._admin_token is None:
            self._admin_token = self.cli("create-token", "--role", "admin").split()[-1]
        return {"Authorization": f"Bearer {self._admin_token}"}
