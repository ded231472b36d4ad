"""Browser tests: one headless Chromium (Debian's chromium + chromium-driver, driven by
python3-selenium) for the whole session, loopback only, against the real gatehouse binary
(GATEHOUSE_BIN) started by tests/integration's Server class (`make_server`, `server`).

Every test gets `browser` (the shared driver, its console log drained first) and `shot(step)`,
which saves a numbered screenshot under GATEHOUSE_BROWSER_ARTIFACTS (default
build/browser-artifacts/) in a folder named after the test; when the test ends, pass or fail, a
last screenshot and the test's console log are saved there too."""
import os
import pathlib
import re
import shutil
import tempfile

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService

from . import support

ARTIFACTS = os.environ.get("GATEHOUSE_BROWSER_ARTIFACTS",
                           str(support.ROOT / "build" / "browser-artifacts"))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

# tests/integration's fixtures: servers on free loopback ports, stopped and checked after the test.
make_server = support.integration.make_server
server = support.integration.server


@pytest.fixture(scope="session")
def driver():
    if not support.BIN:
        pytest.skip("GATEHOUSE_BIN is not set")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a container: Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--window-size=1280,1200",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-proxy-server",
        # Loopback only: no host name resolves but localhost (the tests use 127.0.0.1, and
        # localhost where WebAuthn needs a domain for its RP ID), so a page that reaches for a CDN
        # shows up as a console error instead of quietly working.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # Chromium leaves a folder of its own in TMPDIR after it quits: one per run stayed in /tmp.
    scratch = tempfile.mkdtemp(prefix="gatehouse-chromium-")
    service = ChromeService(executable_path=CHROMEDRIVER, log_path=os.devnull,
                            env={**os.environ, "TMPDIR": scratch})
    d = webdriver.Chrome(service=service, options=options)
    d.set_page_load_timeout(60)
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": support.RECORD_CSP})
    yield d
    d.quit()
    shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def artifacts(request):
    """This test's artifact folder, emptied first."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    folder = pathlib.Path(ARTIFACTS) / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def browser(driver, artifacts):
    driver.get_log("browser")  # drop what earlier tests left
    support.test_log.clear()
    yield driver
    try:
        driver.save_screenshot(str(artifacts / "zz-end.png"))
        support.console_entries(driver)
        (artifacts / "console.log").write_text(
            "".join(f"{e.get('level')} {e.get('message')}\n" for e in support.test_log))
    finally:
        driver.delete_all_cookies()
        driver.get("about:blank")


@pytest.fixture
def shot(browser, artifacts):
    """shot("step-name"): a numbered screenshot of the current page in this test's folder."""
    count = [0]

    def take(step):
        count[0] += 1
        path = artifacts / f"{count[0]:02d}-{step}.png"
        browser.save_screenshot(str(path))
        return path

    return take


@pytest.fixture
def look(browser, shot):
    """look("step"): once the current page has loaded, its screenshot, and no CSP violation nor
    console error on it (a page answered with one of `expected_statuses`, such as the 403 of a
    refusal a test expects, aside). Call it on every page a journey passes: a page's CSP
    violations are read from the page itself, so they are lost once the browser moves on.
    Chromium's own request for /favicon.ico is no page's doing: its 404 is let through (the pages
    name no icon; see support.FAVICON_404)."""

    def check(step, expected_statuses=()):
        support.wait(browser, lambda d: d.execute_script("return document.readyState") == "complete",
                     message=f"{step}: the page did not finish loading")
        shot(step)
        support.assert_clean_console(browser, expected_statuses, allowed=(support.FAVICON_404,))

    return check


@pytest.fixture
def make_sink(tmp_path):
    """SMTP sinks on loopback (tests/integration/smtp_sink.py: STARTTLS and AUTH required),
    stopped after the test."""
    made = []

    def make(**kwargs):
        sink = support.smtp_sink.SmtpSink(tmp_path, **kwargs)
        made.append(sink)
        return sink.start()

    yield make
    for sink in made:
        sink.stop()
