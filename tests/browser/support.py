"""Helpers for the browser tests: the gatehouse Server of tests/integration, and reading a page's
console errors and CSP violations from the shared Chromium."""
import importlib.util
import pathlib

from selenium.webdriver.support.ui import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load_integration_support():
    # tests/integration/conftest.py under its own module name, so its Server class and fixtures
    # are reused as they are (that folder's tests import it as plain `conftest`).
    spec = importlib.util.spec_from_file_location(
        "gatehouse_integration_conftest", ROOT / "tests" / "integration" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


integration = _load_integration_support()
Server = integration.Server
free_port = integration.free_port
BIN = integration.BIN

# Runs in every page before its own scripts (injected by DevTools, so the page's CSP does not apply
# to it): records each CSP violation the page reports.
RECORD_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI,
                               source: e.sourceFile, line: e.lineNumber, sample: e.sample});
});
"""

test_log = []  # every console entry of the running test; conftest writes it to its artifacts


def console_entries(driver):
    """Console messages since the last call (reading drains Chromium's buffer)."""
    entries = driver.get_log("browser")
    test_log.extend(entries)
    return entries


def console_errors(entries):
    """The SEVERE entries: JavaScript errors, failed loads, CORS and CSP refusals."""
    return [e for e in entries if e.get("level") == "SEVERE"]


def csp_violations(driver, entries=()):
    """CSP violations of the current page: those its securitypolicyviolation event reported, plus
    any console message about a Content Security Policy among `entries`."""
    seen = driver.execute_script("return window.__cspViolations || []")
    logged = [e for e in entries if "Content Security Policy" in e.get("message", "")]
    return list(seen) + logged


def assert_clean_console(driver):
    """No console error and no CSP violation since the last read; returns the entries read."""
    entries = console_entries(driver)
    assert not csp_violations(driver, entries), csp_violations(driver, entries)
    assert not console_errors(entries), console_errors(entries)
    return entries


def wait(driver, condition, timeout=20, message=""):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)
