"""Helpers for the browser tests: the gatehouse Server of tests/integration, and reading a page's
console errors and CSP violations from the shared Chromium."""
import http.server
import importlib.util
import pathlib
import re
import sys
import threading

from selenium.webdriver.support.ui import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _load_integration(name, module_name):
    # A file of tests/integration under its own module name, so its classes and fixtures are reused
    # as they are (that folder's tests import them as plain `conftest`, `smtp_sink`).
    spec = importlib.util.spec_from_file_location(
        module_name, ROOT / "tests" / "integration" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Both import it as plain `ports`; one module, so the ports one run hands out are never repeated.
sys.modules.setdefault("ports", _load_integration("ports", "ports"))
integration = _load_integration("conftest", "gatehouse_integration_conftest")
smtp_sink = _load_integration("smtp_sink", "gatehouse_integration_smtp_sink")  # SmtpSink
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


# Chromium asks every page's host for /favicon.ico unless the page names an icon, and logs the
# 404 as an error: that is the browser's request, not the page's.
FAVICON_404 = re.compile(r"^https?://[^/\s]+/favicon\.ico - Failed to load resource: "
                         r"the server responded with a status of 404 ")


def console_errors(entries, expected_statuses=(), allowed=()):
    """The SEVERE entries: JavaScript errors, failed loads, CORS and CSP refusals. Chromium also
    logs a page answered with an error status ("Failed to load resource: the server responded with
    a status of 403"): those of `expected_statuses` are left out (a refusal page a test expects),
    and so are messages that one of the `allowed` regular expressions matches."""
    expected = tuple(f"responded with a status of {status} " for status in expected_statuses)
    return [e for e in entries if e.get("level") == "SEVERE"
            and not any(text in e.get("message", "") for text in expected)
            and not any(pattern.search(e.get("message", "")) for pattern in allowed)]


def csp_violations(driver, entries=()):
    """CSP violations of the current page: those its securitypolicyviolation event reported, plus
    any console message about a Content Security Policy among `entries`."""
    seen = driver.execute_script("return window.__cspViolations || []")
    logged = [e for e in entries if "Content Security Policy" in e.get("message", "")]
    return list(seen) + logged


def assert_clean_console(driver, expected_statuses=(), allowed=()):
    """No console error and no CSP violation since the last read (a page answered with one of
    `expected_statuses`, and messages `allowed` matches, aside); returns the entries read."""
    entries = console_entries(driver)
    assert not csp_violations(driver, entries), csp_violations(driver, entries)
    found = console_errors(entries, expected_statuses, allowed)
    assert not found, found
    return entries


def wait(driver, condition, timeout=20, message=""):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition, message)


class PageSite:
    """A loopback site on another port: every GET gets a small page titled `title` (and no icon
    request), and its path is kept in `seen`. `host` names the origin: "127.0.0.1", or
    "localhost" for another origin on the host of a passkey's RP ID. Stop it with stop()."""

    def __init__(self, title, host="127.0.0.1"):
        self.seen = []
        site = self
        page = (f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>"
                f"<link rel=icon href='data:,'></head><body><h1>{title}</h1></body></html>").encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                site.seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.origin = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
