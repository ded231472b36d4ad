"""GET /docs in a real browser: Swagger UI from the binary (no CDN) under the page's CSP,
"Authorize" through the OAuth2 password flow, then "Try it out" on GET /api/v1/auth/me."""
import os

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from .support import assert_clean_console, console_entries, csp_violations, wait

EMAIL = "swagger.user@example.com"
USERNAME = "swaggeruser"
PASSWORD = "Sw4gger-Passw0rd!"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "gatehouse-init.js": "text/javascript",
    "LICENSE": "text/plain",
}


def require_docs(server):
    """The /docs page; skipped only where Swagger UI was knowingly left out of the build."""
    r = requests.get(server.url("/docs"))
    if r.status_code == 404 and os.environ.get("GATEHOUSE_SKIP_NPM") == "1":
        pytest.skip("GATEHOUSE_SKIP_NPM=1: the binary was built without Swagger UI")
    assert r.status_code == 200, (r.status_code, r.text[:200])
    return r


def csp_directives(header):
    out = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def test_docs_is_served_from_the_binary_with_a_strict_csp(make_server):
    server = make_server()
    r = require_docs(server)
    assert r.headers["Content-Type"].startswith("text/html")
    csp = csp_directives(r.headers["Content-Security-Policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    for sources in csp.values():  # no inline script or style, no eval, no other host
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "https:", "http:"} & set(sources), csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    for src in ('"/docs/swagger-ui.css"', '"/docs/swagger-ui-bundle.js"', '"/docs/gatehouse-init.js"'):
        assert src in r.text
    assert "https://" not in r.text and "//cdn" not in r.text
    for name, content_type in ASSETS.items():
        a = requests.get(server.url("/docs/" + name))
        assert a.status_code == 200, name
        assert a.headers["Content-Type"].startswith(content_type), (name, a.headers["Content-Type"])
        assert a.headers["Cache-Control"] == "public, max-age=86400", name
        assert a.content
    assert "Apache License" in requests.get(server.url("/docs/LICENSE")).text
    for name in ("nothing.js", "swagger-ui-bundle.js.map", "swagger-initializer.js", "..%2Findex.html",
                 "index.html/x"):
        assert requests.get(server.url("/docs/" + name)).status_code in (400, 404), name


def test_docs_disabled(make_server):
    server = make_server({"DOCS_ENABLED": "false"})
    for path in ("/docs", "/docs/swagger-ui-bundle.js", "/docs/index.html", "/openapi.json"):
        assert requests.get(server.url(path)).status_code == 404, path


def _click(browser, element):
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    wait(browser, lambda d: element.is_displayed() and element.is_enabled())
    element.click()


def test_authorize_with_the_password_flow_then_try_me(make_server, browser, shot):
    server = make_server()
    require_docs(server)
    assert server.register(EMAIL, USERNAME, PASSWORD).status_code == 201

    # 1. The page loads, renders the document and reports nothing.
    browser.get(server.url("/docs"))
    wait(browser, ec.presence_of_element_located((By.CSS_SELECTOR, ".swagger-ui .information-container .title")),
         message="Swagger UI did not render /openapi.json")
    me_block = (By.XPATH, "//div[contains(@class,'opblock-get')]"
                          "[.//*[@data-path='/api/v1/auth/me']]")
    wait(browser, ec.presence_of_element_located(me_block), message="GET /api/v1/auth/me not listed")
    assert browser.find_elements(By.CSS_SELECTOR, ".swagger-ui .errors-wrapper") == []
    shot("loaded")
    assert_clean_console(browser)
    # Everything came from the server itself: no CDN, no other host.
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)")
    assert resources and all(u.startswith(server.base + "/") for u in resources), resources

    # 2. "Authorize" opens the dialog with the password flow.
    _click(browser, browser.find_element(By.CSS_SELECTOR, ".auth-wrapper button.authorize"))
    username = wait(browser, ec.visibility_of_element_located((By.ID, "oauth_username")))
    shot("authorize-dialog")
    username.send_keys(EMAIL)
    browser.find_element(By.ID, "oauth_password").send_keys(PASSWORD)
    shot("credentials-filled")

    # 3. Authorize: Swagger UI posts the form to tokenUrl; the section then offers "Logout".
    oauth = username.find_element(By.XPATH, "ancestor::div[contains(@class,'auth-container')]")
    _click(browser, oauth.find_element(
        By.XPATH, ".//button[@aria-label='Apply given OAuth2 credentials']"))
    wait(browser, lambda d: oauth.find_elements(By.XPATH, ".//button[@aria-label='Remove authorization']"),
         message="the password flow did not authorize: "
                 + " / ".join(e.text for e in oauth.find_elements(By.CSS_SELECTOR, ".errors")))
    assert "Authorized" in oauth.text
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", oauth)
    shot("authorized")

    # 4. Close the dialog.
    _click(browser, oauth.find_element(By.CSS_SELECTOR, "button.btn-done"))
    wait(browser, ec.invisibility_of_element_located((By.CSS_SELECTOR, ".dialog-ux .modal-ux")))
    assert browser.find_elements(By.CSS_SELECTOR, ".auth-wrapper button.authorize.locked")
    shot("dialog-closed")

    # 5. GET /api/v1/auth/me: expand, "Try it out", "Execute".
    block = browser.find_element(*me_block)
    _click(browser, block.find_element(By.CSS_SELECTOR, ".opblock-summary-control"))
    try_it = wait(browser, lambda d: block.find_element(By.CSS_SELECTOR, "button.try-out__btn"))
    shot("me-expanded")
    _click(browser, try_it)
    execute = wait(browser, lambda d: block.find_element(By.CSS_SELECTOR, "button.execute"))
    shot("me-try-it-out")
    _click(browser, execute)
    status = wait(browser, lambda d: block.find_element(
        By.CSS_SELECTOR, ".live-responses-table .response .response-col_status"),
        message="no response shown")
    response = block.find_element(By.CSS_SELECTOR, ".live-responses-table .response")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", response)
    shot("me-response")
    assert status.text.strip() == "200", response.text
    body = response.find_element(By.CSS_SELECTOR, ".response-col_description pre").text
    assert EMAIL in body, body
    curl = block.find_element(By.CSS_SELECTOR, ".curl-command").text
    assert "Authorization: Bearer " in curl, curl

    entries = console_entries(browser)
    assert not csp_violations(browser, entries), csp_violations(browser, entries)
    assert not [e for e in entries if e.get("level") == "SEVERE"], entries
