"""CORS in a real browser: a page on another loopback origin (Python's http.server on its own
port) logs in with fetch() (a url-encoded form, then Chromium's FormData: multipart) and calls
GET /api/v1/auth/me with the bearer token. With
CORS_ALLOW_ORIGINS naming the page's origin it reads the answers; otherwise the browser refuses
them and fetch() fails with a TypeError. Origins are always spelled http://127.0.0.1:<port>;
http://localhost:<port> is another origin, which the last case relies on."""
import functools
import http.server
import threading
import urllib.parse

import pytest
from selenium.webdriver.common.by import By

from .support import console_entries, console_errors, csp_violations, free_port, wait

EMAIL = "cors.user@example.com"
USERNAME = "corsuser"
PASSWORD = "C0rs-Passw0rd!x"

PAGE_HTML = """<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>CORS client</title>
    <link rel="icon" href="data:,">
  </head>
  <body>
    <h1>Another origin calling Gatehouse</h1>
    <pre id="result">running</pre>
    <script src="page.js"></script>
  </body>
</html>
"""

# The API's address and the credentials come in the page's query string.
PAGE_JS = """"use strict";
const out = document.getElementById("result");
const q = new URLSearchParams(location.search);
const api = q.get("api");

async function run() {
  // A form POST is a "simple" request: no preflight, but its answer is readable only with
  // Access-Control-Allow-Origin.
  const login = await fetch(api + "/api/v1/auth/login", {
    method: "POST",
    body: new URLSearchParams({username: q.get("username"), password: q.get("password")}),
  });
  if (!login.ok) throw new Error("login answered " + login.status);
  const token = (await login.json()).access_token;
  // Authorization makes this one preflighted; credentials: "include" also needs
  // Access-Control-Allow-Credentials: true and an exact origin (never "*").
  const me = await fetch(api + "/api/v1/auth/me", {
    headers: {Authorization: "Bearer " + token},
    credentials: "include",
  });
  const user = await me.json();
  // The same login as a seed frontend's FormData sends it: multipart/form-data, with the
  // boundary Chromium chooses (FastAPI's OAuth2PasswordRequestForm takes it).
  const form = new FormData();
  form.append("username", q.get("username"));
  form.append("password", q.get("password"));
  const multipart = await fetch(api + "/api/v1/auth/login", {method: "POST", body: form});
  const kind = multipart.ok ? (await multipart.json()).token_type : "none";
  return "ok " + me.status + " " + user.email + " multipart=" + multipart.status + " " + kind +
         " request-id=" + me.headers.get("X-Request-Id");
}

run().then(
  (text) => { out.textContent = text; },
  (err) => { out.textContent = "error " + err.name + ": " + err.message; },
).finally(() => { out.dataset.done = "1"; });
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def page_origin(tmp_path):
    """http://127.0.0.1:<port> serving page.html and page.js from a temporary folder."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "page.html").write_text(PAGE_HTML)
    (site / "page.js").write_text(PAGE_JS)
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    httpd.shutdown()
    httpd.server_close()


def run_page(browser, server, origin):
    query = urllib.parse.urlencode({"api": server.base, "username": EMAIL, "password": PASSWORD})
    browser.get(f"{origin}/page.html?{query}")
    result = browser.find_element(By.ID, "result")
    wait(browser, lambda d: result.get_attribute("data-done") == "1", message="the page never finished")
    return result.text


def test_listed_origin_reads_the_answers(make_server, page_origin, browser, shot):
    server = make_server({"CORS_ALLOW_ORIGINS": page_origin})
    assert server.register(EMAIL, USERNAME, PASSWORD).status_code == 201
    text = run_page(browser, server, page_origin)
    shot("allowed")
    assert text.startswith(f"ok 200 {EMAIL} multipart=200 bearer request-id="), text
    assert not text.endswith("request-id=null"), "X-Request-Id is not exposed: " + text
    entries = console_entries(browser)
    assert not console_errors(entries), entries
    assert not csp_violations(browser, entries)


@pytest.mark.parametrize("listed", [None, "other", "localhost"])
def test_unlisted_origin_is_refused_by_the_browser(make_server, page_origin, browser, shot, listed):
    # None: CORS_ALLOW_ORIGINS unset. "other": another 127.0.0.1 origin listed. "localhost": the
    # page's own port under the name localhost, which is a different origin.
    port = page_origin.rsplit(":", 1)[1]
    env = {
        None: {},
        "other": {"CORS_ALLOW_ORIGINS": f"http://127.0.0.1:{free_port()}"},
        "localhost": {"CORS_ALLOW_ORIGINS": f"http://localhost:{port}"},
    }[listed]
    server = make_server(env)
    assert server.register(EMAIL, USERNAME, PASSWORD).status_code == 201
    text = run_page(browser, server, page_origin)
    shot(f"refused-{listed}")
    assert text.startswith("error TypeError"), text
    refusals = [e["message"] for e in console_errors(console_entries(browser))]
    assert any("CORS policy" in m for m in refusals), refusals
