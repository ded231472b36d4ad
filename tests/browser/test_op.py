"""Gatehouse as an OpenID Provider in a real browser (the shared headless Chromium): a relying
party sends the browser to /oauth2/authorize (code flow, PKCE S256, state, nonce); the portal
asks the person to sign in, then for consent; Allow sends the browser on to the client's
registered redirect URI with code, state and iss (RFC 9207), Deny with error=access_denied; and
RP-initiated logout ends the portal session. The client is a tiny HTTP server on a loopback port
(another origin), so the browser really goes there: Chromium enforces the pages' CSP form-action
on the redirect that follows a form, which must name the client for the flow to work at all.

Every page passed is screenshotted (build/browser-artifacts/<test>/) and must show no CSP
violation and no console error (see conftest's `look`)."""
import base64
import hashlib
import json
import secrets
import urllib.parse

import pytest
import requests
from selenium.webdriver.common.by import By

from .support import PageSite, console_entries, wait
from .test_pages import heading, submit, where

PASSWORD = "Br0wser-Passw0rd!"
SCOPE = "openid profile email offline_access"


# --- the relying party ---------------------------------------------------------------------------

class RelyingParty(PageSite):
    """http://127.0.0.1:<port>: a small page for every GET, and the paths and queries it was
    asked for."""

    def __init__(self):
        super().__init__("Relying party")
        self.callback = self.origin + "/callback"
        self.signed_out = self.origin + "/signed-out"


@pytest.fixture
def rp():
    party = RelyingParty()
    yield party
    party.stop()


@pytest.fixture
def op(make_server, rp):
    """(server, client): a provider whose issuer is its own origin, a confidential client
    registered with the relying party's addresses, and the user "rpuser"."""
    server = make_server(start=False)
    server.env.update(GATEHOUSE_PUBLIC_URL=server.base, OP_RATE_LIMIT="100000/minute")
    server.start()
    r = server.cli("client", "create", "--name", "Browser RP", "--redirect-uri", rp.callback,
                   "--post-logout-redirect-uri", rp.signed_out, "--json")
    assert r.returncode == 0, r.stderr
    client = json.loads(r.stdout)
    r = server.register("rpuser@example.com", "rpuser", PASSWORD)
    assert r.status_code == 201, r.text
    return server, client


def authorization_request(server, client, rp, **extra):
    """(URL, state, code_verifier) of a code flow request with PKCE S256 and a nonce."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    params = {"response_type": "code", "client_id": client["client_id"], "redirect_uri": rp.callback,
              "scope": SCOPE, "state": state, "nonce": secrets.token_urlsafe(16),
              "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    return server.url("/oauth2/authorize?" + urllib.parse.urlencode(params)), state, verifier


def query(url):
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def at_client(browser, rp, path):
    wait(browser, lambda d: d.current_url.startswith(rp.origin + path),
         message=f"the browser did not reach the client's {path}")
    return query(browser.current_url)


def no_csp_refusal_in_console(browser):
    """Chromium logs a form-action refusal ("Refused to send form data to ... because it violates
    the following Content Security Policy directive") on the page that sent the form, which is
    gone by now: the console log keeps it."""
    entries = console_entries(browser)
    refused = [e for e in entries if "Content Security Policy" in e.get("message", "")]
    assert not refused, refused


def choose(browser, decision):
    """Presses Allow or Deny on the consent page, like a person."""
    form = browser.find_element(By.ID, "consent-form")
    button = form.find_element(By.CSS_SELECTOR, f"button[name=decision][value={decision}]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()


def sign_in_and_allow(browser, look, server, client, rp):
    """The whole flow from the client's link to its callback; (the callback's query, state,
    code_verifier)."""
    url, state, verifier = authorization_request(server, client, rp)
    browser.get(url)
    assert where(browser).startswith("/ui/login?"), where(browser)
    assert heading(browser) == "Sign in"
    look("sign-in")
    submit(browser, "login-form", username="rpuser", password=PASSWORD)
    assert heading(browser) == "Allow access", heading(browser)
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "Browser RP" in main and "openid" in main and "offline_access" in main, main
    look("consent")
    choose(browser, "allow")
    back = at_client(browser, rp, "/callback")
    no_csp_refusal_in_console(browser)
    look("back-at-the-client")
    return back, state, verifier


def redeem(server, client, rp, code, verifier):
    r = requests.post(server.url("/oauth2/token"), auth=(client["client_id"], client["client_secret"]),
                      data={"grant_type": "authorization_code", "code": code, "redirect_uri": rp.callback,
                            "code_verifier": verifier})
    assert r.status_code == 200, r.text
    return r.json()


# --- the journeys --------------------------------------------------------------------------------

def test_sign_in_and_consent_bring_the_browser_back_to_the_client(op, rp, browser, look):
    server, client = op
    back, state, verifier = sign_in_and_allow(browser, look, server, client, rp)
    assert set(back) == {"code", "state", "iss"}, back
    assert back["state"] == state and back["iss"] == server.base
    assert rp.seen and rp.seen[-1].startswith("/callback?"), rp.seen
    # The code is good (once) for the verifier: the client's side of the flow.
    tokens = redeem(server, client, rp, back["code"], verifier)
    assert tokens["id_token"] and tokens["refresh_token"]

    # Signed in and consent given: the next request goes straight back, no page on the way.
    url, state, _ = authorization_request(server, client, rp)
    browser.get(url)
    again = at_client(browser, rp, "/callback")
    assert again["state"] == state and again["iss"] == server.base and again["code"] != back["code"]
    look("straight-back")


def test_deny_sends_access_denied_to_the_client(op, rp, browser, look):
    server, client = op
    url, state, _ = authorization_request(server, client, rp)
    browser.get(url)
    look("sign-in")
    submit(browser, "login-form", username="rpuser", password=PASSWORD)
    assert heading(browser) == "Allow access"
    look("consent")
    choose(browser, "deny")
    back = at_client(browser, rp, "/callback")
    no_csp_refusal_in_console(browser)
    assert back.get("error") == "access_denied" and "code" not in back, back
    assert back["state"] == state and back["iss"] == server.base
    look("denied-at-the-client")
    # Denied is not remembered as given: the next request asks again.
    url, _, _ = authorization_request(server, client, rp)
    browser.get(url)
    assert heading(browser) == "Allow access"
    look("asked-again")


def test_rp_initiated_logout_ends_the_portal_session(op, rp, browser, look):
    server, client = op
    back, _, verifier = sign_in_and_allow(browser, look, server, client, rp)
    tokens = redeem(server, client, rp, back["code"], verifier)

    # The client's logout link, with the ID token as hint: no question, back to the client.
    logout_state = secrets.token_urlsafe(12)
    browser.get(server.url("/oauth2/logout?" + urllib.parse.urlencode(
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": rp.signed_out, "state": logout_state})))
    landed = at_client(browser, rp, "/signed-out")
    assert landed == {"state": logout_state}, landed
    look("signed-out-at-the-client")

    # The portal session is over: the next authorization request asks to sign in again...
    url, state, _ = authorization_request(server, client, rp)
    browser.get(url)
    assert where(browser).startswith("/ui/login?"), where(browser)
    assert heading(browser) == "Sign in"
    look("sign-in-again")
    # ...and once signed in (consent remembered) the sign-in form's answer redirects straight on
    # to the client: the sign-in page's form-action must allow that too.
    submit_to_client = browser.find_element(By.ID, "login-form")
    for name, value in (("username", "rpuser"), ("password", PASSWORD)):
        field = submit_to_client.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    submit_to_client.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    again = at_client(browser, rp, "/callback")
    no_csp_refusal_in_console(browser)
    assert again["state"] == state and again["iss"] == server.base and "code" in again, again
    look("back-without-consent")


def test_logout_without_a_hint_asks_first(op, rp, browser, look):
    server, client = op
    sign_in_and_allow(browser, look, server, client, rp)
    state = secrets.token_urlsafe(12)
    browser.get(server.url("/oauth2/logout?" + urllib.parse.urlencode(
        {"client_id": client["client_id"], "post_logout_redirect_uri": rp.signed_out, "state": state})))
    assert heading(browser) == "Sign out", heading(browser)
    assert "Browser RP" in browser.find_element(By.TAG_NAME, "main").text
    look("asked-to-sign-out")
    form = browser.find_element(By.ID, "op-logout-form")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    landed = at_client(browser, rp, "/signed-out")
    no_csp_refusal_in_console(browser)
    assert landed == {"state": state}, landed
    look("signed-out-at-the-client")
    browser.get(server.url("/ui/account"))
    assert where(browser).startswith("/ui/login"), where(browser)
    look("portal-signed-out")
