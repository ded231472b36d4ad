"""Passkeys (WebAuthn, docs/passkeys.md) in a real browser: the shared headless Chromium with
Chromium's virtual authenticator (CTAP2, internal transport, resident keys, user verification) in
place of a person's device.

A passkey needs a domain for its RP ID (an IP address is none), so the server under test has
GATEHOUSE_PUBLIC_URL=http://localhost:<port> (RP ID `localhost`, origin http://localhost:<port>)
and the browser goes there; Python still talks to the API at http://127.0.0.1:<port>.

The API-level tests take the options from the server with requests, run
navigator.credentials.create/get on a page of the server's origin with them
(PublicKeyCredential.parse*OptionsFromJSON), and send what credential.toJSON() returns both to
the server and to a second verifier, npm's @simplewebauthn/server (tests/oidc/webauthn_verify.mjs),
which must agree with it: registration and passwordless sign-in both verify; a ceremony run on
another origin (http://localhost:<another port>, where the RP ID localhost is just as valid) and
an authenticator cloned with a lower signature counter are refused by both.

The page journeys press the buttons of the account page (#passkeys, #passkey-name,
#passkey-add: the first passkey's recovery codes, then the list, rename and remove), the sign-in
page (#passkey-signin: no username, no password) and the second-factor page after a password
(#passkey-mfa); every page passed is screenshotted and must show no CSP violation and no console
error (conftest's `look`)."""
import base64
import json
import os
import shutil
import subprocess

import jwt
import pytest
import requests
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import Credential, VirtualAuthenticatorOptions

from .support import ROOT, PageSite, console_entries, wait
from .test_pages import (PASSWORD, by_id, follow, heading, new_user, notices, on_account_page,
                         sign_out, status, submit)

NODE = shutil.which("node") or "/usr/bin/node"
OIDC_DIR = ROOT / "tests" / "oidc"
VERIFY = OIDC_DIR / "webauthn_verify.mjs"
API = "/api/v1/auth"
RP_ID = "localhost"
# The AAGUID every Chromium virtual authenticator reports.
CHROMIUM_AAGUID = "01020304-0506-0708-0102-030405060708"


# --- the server ----------------------------------------------------------------------------------

def passkey_server(make_server, env=None):
    """A gatehouse server whose public URL is http://localhost:<its port>: RP ID `localhost`, the
    one allowed origin `server.origin`; `env` adds or overrides."""
    s = make_server(start=False)
    s.origin = f"http://localhost:{s.port}"
    s.env.update(GATEHOUSE_PUBLIC_URL=s.origin)
    s.env.update(env or {})
    return s.start()


@pytest.fixture
def gate(make_server):
    return passkey_server(make_server)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def password_token(server, username):
    """A fresh password-only access token (fresh enough for step-up while the user has no factor)."""
    r = requests.post(server.url(API + "/login"), data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def detail(r):
    try:
        return r.json().get("detail")
    except ValueError:
        return r.text


def options(server, path, token=None, body=None):
    """POST {API}{path} → the `publicKey` of its 200 answer."""
    r = requests.post(server.url(API + path), json=body if body is not None else {},
                      headers=bearer(token) if token else {})
    assert r.status_code == 200, (path, r.status_code, r.text)
    public_key = r.json()["publicKey"]
    challenge = b64decode(public_key["challenge"])
    assert len(challenge) >= 16, public_key  # WebAuthn §13.4.3: at least 16 random bytes
    return public_key


def b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- the authenticator ---------------------------------------------------------------------------

AUTHENTICATOR = VirtualAuthenticatorOptions(
    protocol=VirtualAuthenticatorOptions.Protocol.CTAP2,
    transport=VirtualAuthenticatorOptions.Transport.INTERNAL,
    has_resident_key=True, has_user_verification=True, is_user_verified=True)


@pytest.fixture
def authenticator(browser):
    """The browser with one virtual authenticator (a platform authenticator that verifies its
    user), removed after the test so the next test's browser has none."""
    browser.set_script_timeout(60)
    browser.add_virtual_authenticator(AUTHENTICATOR)
    yield browser
    if browser.virtual_authenticator_id:
        browser.remove_virtual_authenticator()


def replace_authenticator(browser, credential):
    """Swaps the browser's authenticator for a fresh one holding only `credential`."""
    browser.remove_virtual_authenticator()
    browser.add_virtual_authenticator(AUTHENTICATOR)
    browser.add_credential(credential)


CEREMONY = """
const [kind, json, done] = arguments;
(async () => {
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON !== 'function') {
    throw new Error('this Chromium lacks PublicKeyCredential.parse*OptionsFromJSON');
  }
  const publicKey = kind === 'create'
    ? PublicKeyCredential.parseCreationOptionsFromJSON(json)
    : PublicKeyCredential.parseRequestOptionsFromJSON(json);
  const credential = await navigator.credentials[kind]({publicKey});
  return {credential: credential.toJSON(), origin: location.origin};
})().then(done, (e) => done({error: `${e.name}: ${e.message}`}));
"""


def ceremony(browser, kind, public_key, expect_error=False):
    """navigator.credentials.<kind>() on the browser's current page with the server's options;
    what credential.toJSON() returns (or, with expect_error, the DOMException's "name: message")."""
    result = browser.execute_async_script(CEREMONY, kind, public_key)
    if expect_error:
        assert "error" in result, result
        return result["error"]
    assert "error" not in result, (kind, result, public_key)
    return result["credential"]


def on_origin(browser, origin):
    """A page of `origin` for the ceremonies to run on."""
    browser.get(origin + "/ui/login")
    wait(browser, lambda d: d.execute_script("return document.readyState") == "complete")
    assert browser.execute_script("return location.origin") == origin


# --- the second verifier -------------------------------------------------------------------------

@pytest.fixture
def simplewebauthn():
    """simplewebauthn(ceremony, response, public_key, origin, credential=None): the answer of
    @simplewebauthn/server (tests/oidc/webauthn_verify.mjs) for a browser's response to the
    server's options, expecting `origin` and the RP ID localhost, user verification required."""
    if not (OIDC_DIR / "node_modules" / "@simplewebauthn" / "server").is_dir():
        if os.environ.get("GATEHOUSE_SKIP_NPM") == "1":
            pytest.skip("GATEHOUSE_SKIP_NPM=1 and @simplewebauthn/server is not installed")
        pytest.fail("@simplewebauthn/server is not installed: npm ci --prefix tests/oidc")

    def verify(kind, response, public_key, origin, credential=None):
        request = {"ceremony": kind, "response": response, "expectedChallenge": public_key["challenge"],
                   "expectedOrigin": origin, "expectedRPID": RP_ID, "requireUserVerification": True}
        if credential is not None:
            request["credential"] = credential
        r = subprocess.run([NODE, str(VERIFY)], cwd=OIDC_DIR, input=json.dumps(request),
                           capture_output=True, text=True, timeout=60,
                           env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        assert r.returncode == 0, f"webauthn_verify.mjs exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
        return json.loads(r.stdout)

    return verify


def stored(verified_registration):
    """What a relying party keeps of a registration simplewebauthn verified: the credential for
    verifying later assertions."""
    return {"id": verified_registration["credentialId"], "publicKey": verified_registration["publicKey"],
            "counter": verified_registration["counter"]}


# --- the API ceremonies --------------------------------------------------------------------------

def register_passkey(server, browser, token, name="Laptop"):
    """Registration through the API on the server's own origin: (options, browser's response,
    the server's 201 body)."""
    public_key = options(server, "/webauthn/register/options", token)
    on_origin(browser, server.origin)
    response = ceremony(browser, "create", public_key)
    r = requests.post(server.url(API + "/webauthn/register"), headers=bearer(token),
                      json={"name": name, "credential": response})
    assert r.status_code == 201, (r.status_code, r.text)
    return public_key, response, r.json()


def passwordless(server, browser, origin=None):
    """The usernameless sign-in's options and the browser's assertion on `origin` (by default
    the server's), not yet sent to the server."""
    public_key = options(server, "/webauthn/login/options")
    on_origin(browser, origin or server.origin)
    return public_key, ceremony(browser, "get", public_key)


def sign_in_with(server, assertion):
    return requests.post(server.url(API + "/webauthn/login"), json={"credential": assertion})


def me(server, token):
    r = requests.get(server.url(API + "/me"), headers=bearer(token))
    assert r.status_code == 200, r.text
    return r.json()


# --- the API tests -------------------------------------------------------------------------------

def test_register_a_passkey_through_the_api_both_verifiers_agree(gate, authenticator, simplewebauthn):
    browser = authenticator
    new_user(gate, "keyholder")
    token = password_token(gate, "keyholder")
    assert me(gate, token)["mfa_enabled"] is False

    public_key = options(gate, "/webauthn/register/options", token)
    assert public_key["rp"]["id"] == RP_ID, public_key
    assert public_key["user"]["id"] and b64decode(public_key["user"]["id"]), public_key
    assert {"type": "public-key", "alg": -7} in public_key["pubKeyCredParams"], public_key
    assert public_key.get("attestation", "none") == "none", public_key
    assert not public_key.get("excludeCredentials"), public_key

    on_origin(browser, gate.origin)
    response = ceremony(browser, "create", public_key)
    assert response["type"] == "public-key" and response["id"] == response["rawId"]

    # The second verifier takes the very response the server is about to judge.
    second = simplewebauthn("registration", response, public_key, gate.origin)
    assert second["verified"] is True, second
    assert second["credentialId"] == response["id"] and second["fmt"] == "none", second
    assert second["rpID"] == RP_ID and second["origin"] == gate.origin, second

    r = requests.post(gate.url(API + "/webauthn/register"), headers=bearer(token),
                      json={"name": "Laptop", "credential": response})
    assert r.status_code == 201, (r.status_code, r.text)
    passkey = r.json()
    assert passkey["type"] == "webauthn" and passkey["name"] == "Laptop", passkey
    assert passkey["attestation"] == "none", passkey
    # The virtual authenticator's key is device-bound: not backup eligible, not backed up.
    assert passkey["backup_eligible"] is False and passkey["backed_up"] is False, passkey
    assert passkey["discoverable"] is True, passkey  # credProps from the browser
    assert passkey["backup_eligible"] is (second["deviceType"] == "multiDevice"), (passkey, second)
    assert str(passkey["aaguid"]).replace("-", "").lower() == CHROMIUM_AAGUID.replace("-", ""), passkey
    assert "internal" in passkey["transports"], passkey
    # The user's first factor brings the ten recovery codes.
    codes = passkey["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10, codes

    # The authenticator holds it as a discoverable credential for localhost.
    held = browser.get_credentials()
    assert [(c.rp_id, c.is_resident_credential) for c in held] == [(RP_ID, True)], held

    r = requests.get(gate.url(API + "/webauthn/credentials"), headers=bearer(token))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [(p["id"], p["name"]) for p in items] == [(passkey["id"], "Laptop")], items
    assert "recovery_codes" not in items[0], items
    # A second factor like any other: listed with the factors, recovery codes counted.
    r = requests.get(gate.url(API + "/mfa"), headers=bearer(token))
    assert r.status_code == 200, r.text
    factors = r.json()
    assert [(f["id"], f["type"], f["name"]) for f in factors["items"]] == [
        (passkey["id"], "webauthn", "Laptop")], factors
    assert factors["recovery_codes_left"] == 10, factors
    assert me(gate, token)["mfa_enabled"] is True

    # The same response a second time is refused: the user now has a factor, which this
    # password-only session does not prove (a spent challenge under a session that does is
    # tests/integration/test_webauthn.py's test_a_registration_replayed_is_refused).
    r = requests.post(gate.url(API + "/webauthn/register"), headers=bearer(token),
                      json={"name": "Again", "credential": response})
    assert (r.status_code, detail(r)) == (401, "Step-up authentication required"), r.text
    # A password-only token no longer enrols anything: the user now has a second factor.
    r = requests.post(gate.url(API + "/webauthn/register/options"), headers=bearer(token), json={})
    assert r.status_code == 401, r.text
    assert "insufficient_user_authentication" in r.headers.get("WWW-Authenticate", ""), r.headers
    # And the password alone no longer signs in.
    r = requests.post(gate.url(API + "/login"), data={"username": "keyholder", "password": PASSWORD})
    assert (r.status_code, detail(r)) == (401, "MFA required"), r.text
    assert "webauthn" in r.json()["methods"] and "recovery_code" in r.json()["methods"], r.json()


def test_passwordless_usernameless_sign_in_both_verifiers_agree(gate, authenticator, simplewebauthn):
    browser = authenticator
    new_user(gate, "nopassword")
    reg_options, reg_response, passkey = register_passkey(gate, browser, password_token(gate, "nopassword"))
    registration = simplewebauthn("registration", reg_response, reg_options, gate.origin)
    assert registration["verified"] is True, registration

    public_key, assertion = passwordless(gate, browser)
    # Usernameless: the options name no account and no credential, and want the user verified.
    assert not public_key.get("allowCredentials"), public_key
    assert public_key["userVerification"] == "required", public_key
    assert public_key.get("rpId", RP_ID) == RP_ID, public_key
    assert assertion["id"] == reg_response["id"], assertion
    assert assertion["response"].get("userHandle") == reg_options["user"]["id"], assertion

    second = simplewebauthn("authentication", assertion, public_key, gate.origin, stored(registration))
    assert second["verified"] is True and second["userVerified"] is True, second
    assert second["counter"] > registration["counter"], (second, registration)

    r = sign_in_with(gate, assertion)
    assert r.status_code == 200, (r.status_code, r.text)
    pair = r.json()
    assert pair["access_token"] and pair["refresh_token"], pair
    access = claims(pair["access_token"])
    # The key claims to be device-bound (backup eligibility clear), but with attestation "none"
    # nothing proves it: software-secured. (hwk needs an attestation that chains to
    # WEBAUTHN_TRUST_STORE as well.)
    assert access["amr"] == ["swk"], access
    assert access.get("auth_time"), access
    assert me(gate, pair["access_token"])["username"] == "nopassword"

    # An assertion is good once: its challenge is spent.
    r = sign_in_with(gate, assertion)
    assert (r.status_code, detail(r)) == (401, "Invalid passkey"), r.text

    # The passkey counts as the second factor for step-up: a fresh passwordless token may enrol
    # again, and the options exclude the passkey the authenticator already holds.
    public_key = options(gate, "/webauthn/register/options", pair["access_token"])
    excluded = [c["id"] for c in public_key.get("excludeCredentials", [])]
    assert excluded == [reg_response["id"]], public_key
    on_origin(browser, gate.origin)
    error = ceremony(browser, "create", public_key, expect_error=True)
    assert error.startswith("InvalidStateError"), error


def test_passkey_as_the_second_factor_through_the_api(gate, authenticator, simplewebauthn):
    browser = authenticator
    new_user(gate, "twofactor")
    reg_options, reg_response, _ = register_passkey(gate, browser, password_token(gate, "twofactor"))
    registration = simplewebauthn("registration", reg_response, reg_options, gate.origin)
    assert registration["verified"] is True, registration

    r = requests.post(gate.url(API + "/login"), data={"username": "twofactor", "password": PASSWORD})
    assert (r.status_code, detail(r)) == (401, "MFA required"), r.text
    mfa_token = r.json()["mfa_token"]
    public_key = options(gate, "/webauthn/mfa/options", body={"mfa_token": mfa_token})
    assert [c["id"] for c in public_key["allowCredentials"]] == [reg_response["id"]], public_key
    on_origin(browser, gate.origin)
    assertion = ceremony(browser, "get", public_key)

    second = simplewebauthn("authentication", assertion, public_key, gate.origin, stored(registration))
    assert second["verified"] is True, second

    r = requests.post(gate.url(API + "/webauthn/mfa"), json={"mfa_token": mfa_token, "credential": assertion})
    assert r.status_code == 200, (r.status_code, r.text)
    assert claims(r.json()["access_token"])["amr"] == ["pwd", "swk"], claims(r.json()["access_token"])


@pytest.fixture
def elsewhere():
    # http://localhost:<port>: another origin on the same host (the RP ID localhost is valid
    # there too).
    site = PageSite("Elsewhere", host="localhost")
    yield site
    site.stop()


def on_blank(browser, origin):
    browser.get(origin + "/")
    assert heading(browser) == "Elsewhere"
    assert browser.execute_script("return location.origin") == origin


def test_a_ceremony_on_another_origin_is_refused_by_both(gate, elsewhere, authenticator, simplewebauthn):
    browser = authenticator
    new_user(gate, "phished")
    token = password_token(gate, "phished")

    # Registration on the other origin: the server's options, a valid RP ID, the wrong origin.
    public_key = options(gate, "/webauthn/register/options", token)
    on_blank(browser, elsewhere.origin)
    response = ceremony(browser, "create", public_key)
    r = requests.post(gate.url(API + "/webauthn/register"), headers=bearer(token),
                      json={"name": "Phished", "credential": response})
    assert (r.status_code, detail(r)) == (400, "Invalid passkey"), r.text
    refused = simplewebauthn("registration", response, public_key, gate.origin)
    assert refused["verified"] is False and "origin" in refused["error"].lower(), refused
    # Nothing else is wrong with it: expecting that origin, simplewebauthn takes it.
    assert simplewebauthn("registration", response, public_key, elsewhere.origin)["verified"] is True
    r = requests.get(gate.url(API + "/webauthn/credentials"), headers=bearer(token))
    assert r.status_code == 200 and r.json()["items"] == [], r.text
    browser.remove_all_credentials()  # a credential the server never took

    # A real passkey, registered on the server's origin.
    reg_options, reg_response, _ = register_passkey(gate, browser, token)
    registration = simplewebauthn("registration", reg_response, reg_options, gate.origin)
    assert registration["verified"] is True, registration

    # Sign-in on the other origin with the server's options: refused.
    public_key = options(gate, "/webauthn/login/options")
    on_blank(browser, elsewhere.origin)
    assertion = ceremony(browser, "get", public_key)
    assert assertion["id"] == reg_response["id"]
    refused = simplewebauthn("authentication", assertion, public_key, gate.origin, stored(registration))
    assert refused["verified"] is False and "origin" in refused["error"].lower(), refused
    assert simplewebauthn("authentication", assertion, public_key, elsewhere.origin,
                          stored(registration))["verified"] is True
    r = sign_in_with(gate, assertion)
    assert (r.status_code, detail(r)) == (401, "Invalid passkey"), r.text
    assert "access_token" not in r.text

    # The same passkey on the server's own origin still signs in.
    _, assertion = passwordless(gate, browser)
    r = sign_in_with(gate, assertion)
    assert r.status_code == 200, (r.status_code, r.text)
    assert me(gate, r.json()["access_token"])["username"] == "phished"


def test_a_cloned_authenticator_is_refused_and_the_real_one_still_works(gate, authenticator, simplewebauthn):
    browser = authenticator
    new_user(gate, "cloned")
    reg_options, reg_response, _ = register_passkey(gate, browser, password_token(gate, "cloned"))
    registration = simplewebauthn("registration", reg_response, reg_options, gate.origin)
    assert registration["verified"] is True, registration

    # One sign-in: the server now knows the counter the authenticator signed.
    public_key, assertion = passwordless(gate, browser)
    seen = simplewebauthn("authentication", assertion, public_key, gate.origin, stored(registration))
    assert seen["verified"] is True, seen
    r = sign_in_with(gate, assertion)
    assert r.status_code == 200, (r.status_code, r.text)

    # The key leaves the device (private key and counter), into another authenticator whose
    # counter lags behind: a clone.
    [real] = browser.get_credentials()
    assert real.sign_count == seen["counter"] and real.sign_count > 0, (real.sign_count, seen)
    raw_id, user_handle = b64decode(real.id.rstrip("=")), b64decode(real.user_handle.rstrip("="))
    private_key = b64decode(real.private_key.rstrip("="))
    replace_authenticator(browser, Credential.create_resident_credential(
        raw_id, RP_ID, user_handle, private_key, 0))

    public_key, assertion = passwordless(gate, browser)
    assert assertion["id"] == reg_response["id"]
    counter = {**stored(registration), "counter": seen["counter"]}
    refused = simplewebauthn("authentication", assertion, public_key, gate.origin, counter)
    assert refused["verified"] is False and "counter" in refused["error"].lower(), refused
    r = sign_in_with(gate, assertion)
    assert (r.status_code, detail(r)) == (401, "Invalid passkey"), r.text

    # The real device, as it was (its own counter, ahead of the server's), still signs in.
    replace_authenticator(browser, Credential.create_resident_credential(
        raw_id, RP_ID, user_handle, private_key, real.sign_count))
    public_key, assertion = passwordless(gate, browser)
    again = simplewebauthn("authentication", assertion, public_key, gate.origin, counter)
    assert again["verified"] is True and again["counter"] > seen["counter"], again
    r = sign_in_with(gate, assertion)
    assert r.status_code == 200, (r.status_code, r.text)
    assert me(gate, r.json()["access_token"])["username"] == "cloned"


# --- the pages -----------------------------------------------------------------------------------

def click_and_load(browser, element_id, timeout=30):
    """Presses the passkey button like a person and waits until its script (fetch the options,
    the ceremony, post the form) has brought a new page and that page has loaded. When the
    script shows its error instead, fails at once with it and the console."""
    page = browser.find_element(By.TAG_NAME, "html")
    button = by_id(browser, element_id)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()

    def replaced(_):
        try:
            page.tag_name
        except WebDriverException:  # stale: the document is gone
            return True
        try:
            shown = [e.text.strip() for e in browser.find_elements(By.CSS_SELECTOR, ".passkey-error")
                     if e.is_displayed() and e.text.strip()]
        except WebDriverException:  # the page went while we looked: the next poll sees it gone
            return False
        if shown:
            console = [f"{e.get('level')} {e.get('message')}" for e in console_entries(browser)]
            raise AssertionError(f"{element_id}: the page says {shown}; console: {console}")
        return False

    wait(browser, replaced, timeout=timeout, message=f"{element_id}: no new page came")
    wait(browser, lambda d: d.execute_script("return document.readyState") == "complete",
         message=f"{element_id}: the new page did not finish loading")


def passkey_rows(browser):
    """The account page's passkeys: [(name, kind)] (the name is its rename field's value)."""
    return [(row.find_element(By.NAME, "name").get_attribute("value"),
             row.find_elements(By.TAG_NAME, "td")[1].text.strip())
            for row in browser.find_elements(By.CSS_SELECTOR, "#passkeys-table tbody tr[data-passkey-id]")]


def page_sign_in(browser, look, server, username, step="sign-in"):
    """The portal's password step on the server's origin."""
    browser.get(server.origin + "/ui/login")
    assert heading(browser) == "Sign in"
    look(step)
    submit(browser, "login-form", username=username, password=PASSWORD)


def test_add_a_passkey_on_the_account_page_then_sign_in_with_it(gate, authenticator, look):
    browser = authenticator
    new_user(gate, "pageuser")
    page_sign_in(browser, look, gate, "pageuser")
    on_account_page(browser, "pageuser")
    assert by_id(browser, "passkeys").is_displayed() and passkey_rows(browser) == []
    look("account-without-passkey")

    by_id(browser, "passkey-name").send_keys("Work laptop")
    click_and_load(browser, "passkey-add")
    # The first factor brings the recovery codes, on a page of their own (as for TOTP).
    assert (status(browser), heading(browser)) == (200, "Your recovery codes"), heading(browser)
    recovery = [li.text.strip() for li in browser.find_elements(By.CSS_SELECTOR, "#recovery-codes li")]
    assert len(recovery) == 10 and len(set(recovery)) == 10 and all(recovery), recovery
    assert notices(browser) == ["The passkey is added: it signs you in, and is your second factor."]
    look("recovery-codes")
    follow(browser, "Back to your account")
    on_account_page(browser, "pageuser")
    assert [name for name, _ in passkey_rows(browser)] == ["Work laptop"], passkey_rows(browser)
    held = browser.get_credentials()
    assert [(c.rp_id, c.is_resident_credential) for c in held] == [(RP_ID, True)], held
    look("account-with-passkey")

    # Renamed from the list.
    row = browser.find_element(By.CSS_SELECTOR, "#passkeys-table tbody tr[data-passkey-id]")
    submit(browser, f"passkey-rename-{row.get_attribute('data-passkey-id')}", name="Old laptop")
    on_account_page(browser, "pageuser")
    assert notices(browser) == ["The passkey was renamed."]
    assert [name for name, _ in passkey_rows(browser)] == ["Old laptop"], passkey_rows(browser)
    look("renamed")

    sign_out(browser, look)
    # No username, no password: the button, and the authenticator's passkey.
    click_and_load(browser, "passkey-signin")
    on_account_page(browser, "pageuser")
    look("signed-in-with-the-passkey")

    # Signed in with the passkey just now, which is step-up enough to remove it.
    row = browser.find_element(By.CSS_SELECTOR, "#passkeys-table tbody tr[data-passkey-id]")
    submit(browser, f"passkey-remove-{row.get_attribute('data-passkey-id')}")
    on_account_page(browser, "pageuser")
    assert notices(browser) == ["The passkey was removed."]
    assert passkey_rows(browser) == []
    look("removed")


def test_password_then_passkey_as_the_second_factor_on_the_pages(gate, authenticator, look):
    browser = authenticator
    new_user(gate, "pagemfa")
    register_passkey(gate, browser, password_token(gate, "pagemfa"), name="Desk key")

    page_sign_in(browser, look, gate, "pagemfa")
    # The password was right; the second step asks for the factor, the passkey offered.
    assert (status(browser), heading(browser)) == (200, "Two-step verification")
    assert by_id(browser, "passkey-mfa").is_displayed()
    look("asked-for-the-second-factor")
    click_and_load(browser, "passkey-mfa")
    on_account_page(browser, "pagemfa")
    assert [name for name, _ in passkey_rows(browser)] == ["Desk key"], passkey_rows(browser)
    look("signed-in-with-password-and-passkey")
