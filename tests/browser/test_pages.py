"""The pages for people (/ui/...) in a real browser, whole journeys: register and verify the
address from the mail, enrol TOTP from the QR page and sign in with a code (and a recovery code),
reset the password from the mail, end another session from the account page, an admin demoting a
user in the console (and that user's next requests refused), nginx forward-auth through the
portal and back, return addresses on other origins, forms posted from another origin, the sign-in
without JavaScript, and the account page's other forms (address change, API keys, password).

Every page a journey passes is screenshotted (`look`, in build/browser-artifacts/<test>/) and must
show no CSP violation and no console error; a refusal the journey expects may only add Chromium's
"the server responded with a status of <its status>". Mail goes through a real SMTP server on
loopback (tests/integration/smtp_sink.py); TOTP codes come from pyotp; nginx is Debian's. Origins
are spelled http://127.0.0.1:<port>: cookies belong to the host, not the port, so nginx and
Gatehouse on two ports share the session cookie, while another port is another origin (and the
same site, so SameSite=Lax still sends the cookie: only the server's own check refuses a post)."""
import functools
import html
import http.server
import re
import threading
import time
import urllib.parse

import jwt
import pyotp
import pytest
import requests
from selenium.common.exceptions import (StaleElementReferenceException, TimeoutException,
                                        WebDriverException)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from .support import ROOT, console_entries, csp_violations, free_port, integration, wait

PASSWORD = "Br0wser-Passw0rd!"
NEW_PASSWORD = "N3w-Br0wser-Passw0rd!"
ADMIN_PASSWORD = integration.ADMIN_PASSWORD
# The mail limits of a test server out of the way (a journey sends a mail or two, but the
# defaults are per hour and the test runs are many).
NO_LIMITS = {"EMAIL_RATE_LIMIT": "100000/minute", "EMAIL_IP_RATE_LIMIT": "100000/minute",
             "EMAIL_TOKEN_RATE_LIMIT": "100000/minute"}
MAIL_WAIT = 20  # seconds a message may take to arrive (an ASan build on a busy machine)
GENERIC_REFUSAL = "Incorrect email or password"
FORGOT_NOTICE = "If an account uses that address, we have sent it a link to choose a new password."
TOTP_PERIOD = 30


# --- servers -------------------------------------------------------------------------------------

def gate(make_server, sink=None, env=None):
    """A gatehouse server whose public URL is its own http://127.0.0.1:<port> (so its cookies are
    not Secure), sending mail through `sink` when given; `env` adds or overrides."""
    s = make_server(start=False)
    s.env.update(NO_LIMITS, GATEHOUSE_PUBLIC_URL=s.base)
    if sink is not None:
        s.env.update(sink.env())
    s.env.update(env or {})
    return s.start()


def new_user(server, username, password=PASSWORD, role=None):
    """username@example.com: registered through the API, or made by the CLI with `role`."""
    email = f"{username}@example.com"
    if role is None:
        r = server.register(email, username, password)
        assert r.status_code == 201, r.text
    else:
        r = server.cli("user", "create", "--email", email, "--username", username, "--role", role,
                       "--password-stdin", stdin=password + "\n")
        assert r.returncode == 0, r.stderr
    return email


def api_login(server, username, password=PASSWORD, user_agent=None):
    headers = {"User-Agent": user_agent} if user_agent else {}
    r = requests.post(server.url("/api/v1/auth/login"), data={"username": username, "password": password},
                      headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def portal_sign_in(session, server, username, password=PASSWORD):
    """Another browser, as a plain cookie jar: the portal's form, its CSRF token, the cookie."""
    page = session.get(server.url("/ui/login"))
    assert page.status_code == 200, page.status_code
    csrf = html.unescape(re.search(r'name="csrf" value="([^"]+)"', page.text).group(1))
    r = session.post(server.url("/ui/login"), allow_redirects=False,
                     data={"csrf": csrf, "return_to": "", "username": username, "password": password})
    assert (r.status_code, r.headers.get("Location")) == (303, "/ui/account"), (r.status_code, r.text[:500])
    assert session.cookies.get("gatehouse_session")


# --- mail ----------------------------------------------------------------------------------------

def mail_link(sink, address, page):
    """The one link to `page` (a URL ending in #token=...) in the latest message to `address`,
    the same in its text and its HTML part."""
    deadline = time.monotonic() + MAIL_WAIT
    while True:
        found = [m for m in sink.messages if address in str(m["To"])]
        if found:
            break
        assert time.monotonic() < deadline, f"no mail to {address} after {MAIL_WAIT} s"
        time.sleep(0.05)
    msg = found[-1]
    pattern = re.compile(re.escape(page) + r"#token=[A-Za-z0-9_-]{22,}")
    in_text = set(pattern.findall(msg.get_body(("plain",)).get_content()))
    in_html = set(pattern.findall(html.unescape(msg.get_body(("html",)).get_content())))
    assert len(in_text) == 1 and in_html == in_text, (in_text, in_html)
    return in_text.pop()


# --- the browser ---------------------------------------------------------------------------------

def by_id(browser, element_id):
    return browser.find_element(By.ID, element_id)


def text_of(browser, element_id):
    return by_id(browser, element_id).text.strip()


def heading(browser):
    return browser.find_element(By.TAG_NAME, "h1").text.strip()


def where(browser):
    """The current address without scheme and host: path?query#fragment."""
    u = urllib.parse.urlsplit(browser.current_url)
    return u.path + (f"?{u.query}" if u.query else "") + (f"#{u.fragment}" if u.fragment else "")


def status(browser):
    """The HTTP status of the current page."""
    return browser.execute_script("return performance.getEntriesByType('navigation')[0].responseStatus")


def notices(browser):
    return [e.text.strip() for e in browser.find_elements(By.CSS_SELECTOR, "main .notice")]


def errors(browser):
    return [e.text.strip() for e in browser.find_elements(By.CSS_SELECTOR, "main .error")]


def _replaced(element):
    """A wait condition: `element`'s document has gone (the browser is on another page)."""
    def check(_):
        try:
            element.tag_name
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:  # chromedriver's word for it while a page is replaced
            if "does not belong to the document" in str(e):
                return True
            raise
    return check


def _navigate(browser, act, what):
    page = browser.find_element(By.TAG_NAME, "html")
    act()
    wait(browser, _replaced(page), message=f"{what}: the browser did not load a new page")
    wait(browser, lambda d: d.execute_script("return document.readyState") == "complete",
         message=f"{what}: the new page did not finish loading")


def submit(browser, form_id, **fields):
    """Types `fields` into the form (a select gets the option of that value), then presses its
    submit button like a person and waits for the next page."""
    form = by_id(browser, form_id)
    for name, value in fields.items():
        field = form.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)
    button = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    _navigate(browser, button.click, form_id)


def follow(browser, link_text):
    link = browser.find_element(By.LINK_TEXT, link_text)
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    _navigate(browser, link.click, link_text)


def sign_in(browser, look, server, username, password=PASSWORD, step="sign-in"):
    """The portal's password step; the browser is then on whatever page comes next."""
    browser.get(server.url("/ui/login"))
    assert heading(browser) == "Sign in"
    look(step)
    submit(browser, "login-form", username=username, password=password)


def sign_out(browser, look, step="signed-out"):
    """The header's "Sign out" button: back on the portal with its notice."""
    submit(browser, "logout-form")
    assert where(browser) == "/ui/login?signed_out=1", where(browser)
    assert notices(browser) == ["You have signed out."]
    look(step)


def on_account_page(browser, username):
    assert where(browser).split("#")[0].startswith("/ui/account"), where(browser)
    assert heading(browser) == "Your account"
    assert text_of(browser, "profile-username") == username
    assert status(browser) == 200


def nav_links(browser):
    return [a.text.strip() for a in browser.find_elements(By.CSS_SELECTOR, "header nav a")]


def audit_rows(browser):
    """The console's audit table: [time, event, actor, subject, address, detail] per row."""
    return [[td.text.strip() for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#audit-table tbody tr")]


def totp_code(totp, after_step=None):
    """A code the server takes now and has not seen: the current step's, or (when that step is
    spent) the next step's, which the server's one-step window accepts. The step is returned."""
    step = int(time.time() // TOTP_PERIOD)
    if after_step is not None and step <= after_step:
        step = after_step + 1
    return totp.at(step * TOTP_PERIOD), step


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def other_origin(tmp_path):
    """(origin, folder): http://127.0.0.1:<port> serving the files of a temporary folder."""
    site = tmp_path / "other-origin"
    site.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", site
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


# --- the journeys --------------------------------------------------------------------------------

def test_register_then_verify_the_address_from_the_mail(make_server, make_sink, browser, look):
    sink = make_sink()
    server = gate(make_server, sink, {"EMAIL_VERIFICATION": "optional"})
    email, username = "newcomer@example.com", "newcomer"

    browser.get(server.url("/ui/login"))
    look("portal")
    follow(browser, "Create an account")
    assert (where(browser), heading(browser)) == ("/ui/register", "Create an account")
    look("register")
    submit(browser, "register-form", email=email, username=username, password=PASSWORD)
    # Signed in at once (verification is optional), the address not verified yet.
    on_account_page(browser, username)
    assert text_of(browser, "profile-email") == f"{email} (not verified)"
    assert by_id(browser, "email-verify-form").is_displayed()
    assert nav_links(browser) == [username]  # no console for a plain user
    look("account-not-verified")

    # The link from the mail: the page takes the token from the fragment, out of the address bar.
    link = mail_link(sink, email, server.url("/ui/verify-email"))
    browser.get(link)
    token = by_id(browser, "token")
    wait(browser, lambda d: token.get_attribute("value"), message="the page did not take the token")
    assert link.endswith("#token=" + token.get_attribute("value"))
    assert where(browser) == "/ui/verify-email", "the token stayed in the address bar"
    assert not by_id(browser, "token-row").is_displayed()
    assert heading(browser) == "Verify your email address"
    look("verify-link-opened")
    submit(browser, "token-form")
    assert (status(browser), heading(browser)) == (200, "Done")
    assert "Your email address is verified." in browser.find_element(By.TAG_NAME, "main").text
    look("verified")

    browser.get(server.url("/ui/account"))
    on_account_page(browser, username)
    assert text_of(browser, "profile-email") == f"{email} (verified)"
    assert not browser.find_elements(By.ID, "email-verify-form")
    look("account-verified")


def test_enrol_totp_from_the_qr_page_then_sign_in_with_a_code(make_server, browser, look):
    server = gate(make_server)
    new_user(server, "twostep")

    sign_in(browser, look, server, "twostep@example.com")
    on_account_page(browser, "twostep")
    assert "No second factor yet." in text_of(browser, "mfa")
    look("account-no-factor")

    # The QR page: our own inline SVG, and the key typed out beside it.
    submit(browser, "totp-enrol-form", name="Phone")
    assert (status(browser), heading(browser)) == (200, "Add an authenticator app")
    qr = by_id(browser, "totp-qr").find_element(By.TAG_NAME, "svg")
    assert qr.size["width"] >= 100 and qr.size["height"] >= 100, qr.size
    secret = text_of(browser, "totp-secret")
    assert re.fullmatch(r"[A-Z2-7]{16,}=*", secret), secret
    look("qr-page")
    totp = pyotp.TOTP(secret)
    code, confirmed_step = totp_code(totp)
    submit(browser, "totp-confirm-form", code=code)
    assert (status(browser), heading(browser)) == (200, "Your recovery codes")
    recovery = [li.text.strip() for li in browser.find_elements(By.CSS_SELECTOR, "#recovery-codes li")]
    assert len(recovery) == 10 and len(set(recovery)) == 10 and all(recovery), recovery
    assert notices(browser) == ["The authenticator app is now your second factor."]
    look("recovery-codes")
    follow(browser, "Back to your account")
    on_account_page(browser, "twostep")
    rows = browser.find_elements(By.CSS_SELECTOR, "#factors-table tbody tr[data-factor-id]")
    assert [r.find_element(By.TAG_NAME, "td").text for r in rows] == ["Phone"]
    assert text_of(browser, "recovery-codes-left") == "Recovery codes left: 10"
    look("account-with-factor")

    sign_out(browser, look)
    # The password alone no longer signs in: the second step asks for a code.
    submit(browser, "login-form", username="twostep", password=PASSWORD)
    assert (status(browser), heading(browser)) == (200, "Two-step verification")
    assert by_id(browser, "mfa-form").is_displayed()
    look("asked-for-the-code")
    # A mistyped code: the same page asks again, with the reason.
    near = {totp.at(time.time() + k * TOTP_PERIOD) for k in range(-2, 3)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555")
                 if code not in near)
    submit(browser, "mfa-form", code=wrong)
    assert (status(browser), heading(browser), errors(browser)) == (401, "Two-step verification", ["Invalid code"])
    assert by_id(browser, "code").get_attribute("value") == ""
    look("wrong-code", expected_statuses=(401,))
    code, _ = totp_code(totp, after_step=confirmed_step)
    submit(browser, "mfa-form", code=code[:3] + " " + code[3:])  # as the app shows it
    on_account_page(browser, "twostep")
    look("signed-in-with-the-code")

    # A recovery code kept from the enrolment signs in once.
    sign_out(browser, look, "signed-out-again")
    submit(browser, "login-form", username="twostep@example.com", password=PASSWORD)
    look("asked-for-the-code-again")
    submit(browser, "mfa-form", code=recovery[0])
    on_account_page(browser, "twostep")
    assert text_of(browser, "recovery-codes-left") == "Recovery codes left: 9"
    look("signed-in-with-a-recovery-code")


def test_reset_the_password_from_the_mail(make_server, make_sink, browser, look):
    sink = make_sink()
    server = gate(make_server, sink)
    email = new_user(server, "forgetful")

    browser.get(server.url("/ui/login"))
    look("portal")
    follow(browser, "Forgot your password?")
    assert heading(browser) == "Forgot your password?"
    look("forgot")
    submit(browser, "forgot-form", email=email)
    assert (status(browser), notices(browser)) == (200, [FORGOT_NOTICE])
    look("link-sent")

    link = mail_link(sink, email, server.url("/ui/reset-password"))
    browser.get(link)
    token = by_id(browser, "token")
    wait(browser, lambda d: token.get_attribute("value"), message="the page did not take the token")
    assert where(browser) == "/ui/reset-password"
    assert heading(browser) == "Choose a new password"
    look("reset-link-opened")
    submit(browser, "token-form", new_password=NEW_PASSWORD)
    assert (status(browser), heading(browser)) == (200, "Done")
    assert "Your password has been reset" in browser.find_element(By.TAG_NAME, "main").text
    look("reset-done")

    # The old password: the generic refusal, the same as for an unknown account.
    sign_in(browser, look, server, email, PASSWORD, step="portal-again")
    assert (status(browser), heading(browser), errors(browser)) == (401, "Sign in", [GENERIC_REFUSAL])
    assert by_id(browser, "username").get_attribute("value") == email
    look("old-password-refused", expected_statuses=(401,))
    submit(browser, "login-form", username="nobody@example.com", password=PASSWORD)
    assert (status(browser), errors(browser)) == (401, [GENERIC_REFUSAL])
    look("unknown-account-refused", expected_statuses=(401,))
    submit(browser, "login-form", username=email, password=NEW_PASSWORD)
    on_account_page(browser, "forgetful")
    look("signed-in-with-the-new-password")
    assert requests.post(server.url("/api/v1/auth/login"),
                         data={"username": email, "password": PASSWORD}).status_code == 401


def test_end_another_session_from_the_account_page(make_server, browser, look):
    server = gate(make_server)
    new_user(server, "traveller", role="user")  # the CLI: no session (the API's registration makes one)
    # Two other sessions: an application's token pair, and another browser's cookie.
    api_agent, other_agent = "journey-api-client/1.0", "journey-other-browser/1.0"
    pair = api_login(server, "traveller", user_agent=api_agent)
    api_sid = jwt.decode(pair["access_token"], options={"verify_signature": False})["sid"]
    other = requests.Session()
    other.headers["User-Agent"] = other_agent
    portal_sign_in(other, server, "traveller")
    assert other.get(server.url("/ui/account"), allow_redirects=False).status_code == 200

    sign_in(browser, look, server, "traveller")
    on_account_page(browser, "traveller")
    browser.get(server.url("/ui/account#sessions"))

    def rows():
        return {r.get_attribute("data-session-id"): r for r in
                browser.find_elements(By.CSS_SELECTOR, "#sessions-table tbody tr[data-session-id]")}

    def sid_of(agent):
        found = [sid for sid, r in rows().items() if agent in r.text]
        assert len(found) == 1, (agent, [r.text for r in rows().values()])
        return found[0]

    current = [sid for sid, r in rows().items() if "current" in r.get_attribute("class").split()]
    assert len(rows()) == 3 and len(current) == 1, [r.text for r in rows().values()]
    assert "(this browser)" in rows()[current[0]].text
    assert sid_of(api_agent) == api_sid
    other_sid = sid_of(other_agent)
    assert len({current[0], api_sid, other_sid}) == 3
    look("three-sessions")

    submit(browser, f"session-end-{api_sid}")
    on_account_page(browser, "traveller")
    assert notices(browser) == ["The session has ended."]
    assert set(rows()) == {current[0], other_sid}
    look("api-session-ended")
    # Its tokens are refused at once.
    r = requests.get(server.url("/api/v1/auth/me"), headers=bearer(pair["access_token"]))
    assert r.status_code == 401, r.text
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401, r.text

    submit(browser, f"session-end-{other_sid}")
    assert notices(browser) == ["The session has ended."]
    assert set(rows()) == {current[0]}
    look("other-browser-ended")
    # The other browser's cookie now leads to the portal, and its forms are refused.
    r = other.get(server.url("/ui/account"), allow_redirects=False)
    assert (r.status_code, r.headers.get("Location")) == (303, "/ui/login?return_to=%2Fui%2Faccount")
    r = other.get(server.url("/api/v1/auth/verify"), allow_redirects=False)
    assert r.status_code == 401, r.text

    browser.get(server.url("/ui/account"))
    on_account_page(browser, "traveller")
    look("this-browser-still-signed-in")


def test_an_admin_demotes_a_user_in_the_console_and_their_next_request_is_refused(
        make_server, browser, look):
    server = gate(make_server)
    new_user(server, "root", ADMIN_PASSWORD, role="admin")
    new_user(server, "deputy", role="moderator")  # users:write: the console's users section
    registered_on = time.strftime("%Y-%m-%d", time.gmtime())
    new_user(server, "newbie")  # registered (the CLI's users are not registrations): a bar today
    deputy_token = api_login(server, "deputy")["access_token"]
    may_write = functools.partial(requests.get, server.url("/api/v1/auth/verify"),
                                  params={"permission": "users:write"}, headers=bearer(deputy_token))
    assert may_write().status_code == 200

    # The moderator's browser: the console's users, not its analytics.
    sign_in(browser, look, server, "deputy", step="deputy-portal")
    on_account_page(browser, "deputy")
    assert nav_links(browser) == ["deputy", "Admin"]
    follow(browser, "Admin")
    assert (where(browser), status(browser), heading(browser)) == ("/ui/admin", 200, "Administration")
    assert by_id(browser, "users-table") and not browser.find_elements(By.ID, "analytics")
    look("deputy-console")
    deputy_cookies = browser.get_cookies()

    # The admin, in the same browser with a cookie jar of their own.
    browser.delete_all_cookies()
    sign_in(browser, look, server, "root", ADMIN_PASSWORD, step="admin-portal")
    on_account_page(browser, "root")
    follow(browser, "Admin")
    assert heading(browser) == "Administration"
    chart = by_id(browser, "registrations-chart").find_element(By.TAG_NAME, "svg")
    assert chart.size["width"] > 100, chart.size
    # One bar per day (days without a registration may be drawn with no height): today's shows 1
    # (the day of the registration, or the next if midnight UTC came in between).
    days = {registered_on, time.strftime("%Y-%m-%d", time.gmtime())}
    bars = {b.find_element(By.TAG_NAME, "title").get_attribute("textContent"): b
            for b in chart.find_elements(By.CSS_SELECTOR, "rect.bar")}
    drawn = {title: b.size["height"] for title, b in bars.items() if not title.endswith(": 0")}
    assert len(drawn) == 1 and next(iter(drawn)) in {f"{d}: 1" for d in days}, (drawn, list(bars))
    assert next(iter(drawn.values())) > 10, drawn
    look("admin-console")
    submit(browser, "user-search-form", q="deputy")
    users = browser.find_elements(By.CSS_SELECTOR, "#users-table tbody tr[data-user-id]")
    assert [u.find_elements(By.TAG_NAME, "td")[1].text for u in users] == ["deputy"]
    deputy_id = users[0].get_attribute("data-user-id")
    look("search")
    _navigate(browser, by_id(browser, f"manage-{deputy_id}").click, "manage")
    assert (where(browser), heading(browser)) == (f"/ui/admin/users/{deputy_id}", "deputy")
    assert text_of(browser, "user-role") == "moderator"
    look("deputy-in-the-console")
    submit(browser, "role-form", role="user")
    assert where(browser) == f"/ui/admin/users/{deputy_id}?done=role"
    assert notices(browser) == ["The role has changed."]
    assert text_of(browser, "user-role") == "user"
    look("demoted")
    # The user's audit trail tells it.
    follow(browser, "Its audit trail")
    assert (where(browser), status(browser), heading(browser)) == (
        f"/ui/admin/audit?user_id={deputy_id}", 200, "Audit log")
    changes = [row for row in audit_rows(browser) if row[1] == "user.role_changed"]
    assert len(changes) == 1, audit_rows(browser)
    assert '"from":"moderator"' in changes[0][5] and '"to":"user"' in changes[0][5], changes
    look("audit-trail")

    # The demoted user's very next requests, from the session that held the permission.
    browser.delete_all_cookies()
    for c in deputy_cookies:
        browser.add_cookie({k: c[k] for k in ("name", "value", "path", "httpOnly", "secure", "sameSite")
                            if k in c})
    browser.get(server.url("/ui/admin"))
    assert (status(browser), heading(browser)) == (403, "Not possible")
    look("deputy-console-refused", expected_statuses=(403,))
    browser.get(server.url(f"/ui/admin/users/{deputy_id}"))
    assert (status(browser), heading(browser)) == (403, "Not possible")
    look("deputy-user-page-refused", expected_statuses=(403,))
    browser.get(server.url("/ui/account"))
    on_account_page(browser, "deputy")  # still signed in, as a user
    assert text_of(browser, "profile-role") == "user"
    assert nav_links(browser) == ["deputy"]
    look("deputy-account")
    r = may_write()  # and the token signed in before the change
    assert r.status_code == 403, (r.status_code, r.text)


def test_the_audit_log_filtered_by_event_type_alone(make_server, browser, look):
    server = gate(make_server)
    new_user(server, "root", ADMIN_PASSWORD, role="admin")
    sign_in(browser, look, server, "root", ADMIN_PASSWORD)
    browser.get(server.url("/ui/admin/audit"))
    assert (status(browser), heading(browser)) == (200, "Audit log")
    types = {row[1] for row in audit_rows(browser)}
    assert types, "the sign-in left no audit event"
    look("audit-log")
    # Only the event type typed in, the other fields left empty as they came.
    wanted = sorted(types)[0]
    submit(browser, "audit-filter-form", type=wanted)
    assert (status(browser), errors(browser)) == (200, []), errors(browser)
    rows = audit_rows(browser)
    assert rows and {row[1] for row in rows} == {wanted}, rows
    look("filtered")


def nginx_conf(port, gate_port, app_port, access_log):
    """docs/nginx-portal.conf as it is, on the test's ports and with its access log there."""
    text = (ROOT / "docs" / "nginx-portal.conf").read_text()
    for documented, actual in (("127.0.0.1:8080", f"127.0.0.1:{port}"), ("127.0.0.1:8000", f"127.0.0.1:{gate_port}"),
                               ("127.0.0.1:9000", f"127.0.0.1:{app_port}"),
                               ("/var/log/nginx/gatehouse-portal-app.access.log", access_log)):
        assert documented in text, documented
        text = text.replace(documented, actual)
    return text


class App(http.server.BaseHTTPRequestHandler):
    """The application behind nginx: a page showing what reached it (the Cookie header and the
    identity nginx passed on), so the journey can see what an application receives."""

    def do_GET(self):
        body = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Protected app</title>'
                '<link rel="icon" href="data:,"></head>\n<body><h1 id="app">The protected application</h1>'
                f'<p id="seen-user">{html.escape(self.headers.get("X-Auth-User-Email", ""))}</p>'
                f'<p id="seen-cookie">{html.escape(self.headers.get("Cookie", ""))}</p></body></html>\n').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def behind_nginx(make_server, tmp_path):
    """(gatehouse, app URL): nginx on its own port in front of a static page, asking Gatehouse
    (FORWARD_AUTH_PROXY=nginx) about each request; nginx's origin is the one allowed return
    origin. The user "reader" exists."""
    nginx_port = free_port()
    server = make_server(start=False)
    server.env.update(GATEHOUSE_PUBLIC_URL=server.base, FORWARD_AUTH_PROXY="nginx",
                      ALLOWED_RETURN_URLS=f"http://127.0.0.1:{nginx_port}")
    server.start()
    new_user(server, "reader", role="user")
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    nginx = integration.start_nginx(tmp_path, nginx_port,
                                    nginx_conf(nginx_port, server.port, app.server_address[1],
                                               str(tmp_path / "access.log")))
    # A query with a space and an ampersand: the address must come back exactly.
    yield server, f"http://127.0.0.1:{nginx_port}/app/index.html?from=journey&x=1%202"
    nginx.terminate()
    nginx.wait(timeout=10)
    app.shutdown()


def on_the_portal_for(browser, server, app):
    assert browser.current_url.startswith(server.url("/ui/login?return_to=")), browser.current_url
    assert (status(browser), heading(browser)) == (200, "Sign in")
    assert by_id(browser, "login-form").find_element(By.NAME, "return_to").get_attribute("value") == app


def test_forward_auth_behind_nginx_goes_through_the_portal_and_back(behind_nginx, browser, look):
    server, app = behind_nginx
    browser.get(app)
    on_the_portal_for(browser, server, app)
    look("portal-from-the-app")
    form = by_id(browser, "login-form")
    form.find_element(By.NAME, "username").send_keys("reader")
    form.find_element(By.NAME, "password").send_keys(PASSWORD)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    try:
        wait(browser, lambda d: d.current_url == app, timeout=10)
    except TimeoutException:
        pass
    entries = console_entries(browser)
    assert not csp_violations(browser, entries), (
        f"signing in did not bring the browser back to {app}: the page's CSP blocked it; "
        f"the browser is on {browser.current_url}; {csp_violations(browser, entries)}")
    assert browser.current_url == app, browser.current_url
    assert (status(browser), text_of(browser, "app")) == (200, "The protected application")
    # The application learns who it is, and never gets Gatehouse's cookie (nginx-portal.conf).
    assert text_of(browser, "seen-user") == "reader@example.com"
    seen = text_of(browser, "seen-cookie")
    assert "gatehouse_session" not in seen, seen
    # Only that cookie is taken out (on loopback every port is one cookie host, so the app sees
    # the portal's host-only ones too; on a real domain it would not).
    assert "gatehouse_portal=" in seen, seen
    look("back-on-the-app")
    browser.refresh()
    assert (status(browser), text_of(browser, "app")) == (200, "The protected application")
    # Signed out, the app sends the browser to the portal again.
    browser.get(server.url("/ui/account"))
    sign_out(browser, look)
    browser.get(app)
    on_the_portal_for(browser, server, app)
    look("portal-again")


def test_forward_auth_sends_a_browser_to_the_portal_and_lets_it_in_once_signed_in(
        behind_nginx, browser, look):
    # The part of the journey the bug above leaves working: the portal's address from nginx, and
    # the app's page once the browser holds the session cookie (signed in on the portal itself).
    server, app = behind_nginx
    browser.get(app)
    on_the_portal_for(browser, server, app)
    look("portal-from-the-app")
    sign_in(browser, look, server, "reader", step="portal")
    on_account_page(browser, "reader")
    look("signed-in")
    browser.get(app)
    assert (browser.current_url, status(browser)) == (app, 200)
    assert text_of(browser, "app") == "The protected application"
    look("on-the-app")
    browser.get(server.url("/ui/account"))
    sign_out(browser, look)
    browser.get(app)
    on_the_portal_for(browser, server, app)
    look("portal-again")


def test_a_return_address_on_another_origin_is_not_followed(behind_nginx, browser, look):
    server, _ = behind_nginx
    unlisted = f"http://127.0.0.1:{free_port()}/steal"  # another origin, not in ALLOWED_RETURN_URLS
    foreign = (unlisted, "//127.0.0.1:1/steal", "/\\127.0.0.1:1/steal", "http://evil.example/steal",
               "javascript:alert(1)", "http://reader@127.0.0.1:1/steal")
    # Signed out: the portal's form does not carry it, and after sign-in the browser lands on its
    # account page.
    browser.get(server.url("/ui/login?return_to=" + urllib.parse.quote(unlisted, safe="")))
    assert by_id(browser, "login-form").find_element(By.NAME, "return_to").get_attribute("value") == ""
    look("portal-with-a-foreign-return-address")
    submit(browser, "login-form", username="reader", password=PASSWORD)
    on_account_page(browser, "reader")
    look("landed-on-the-account")
    # Signed in, the portal sends the browser on at once: never to those.
    for target in foreign:
        browser.get(server.url("/ui/login?return_to=" + urllib.parse.quote(target, safe="")))
        on_account_page(browser, "reader")
    look("foreign-addresses-not-followed")
    # A path of Gatehouse's own is followed.
    browser.get(server.url("/ui/login?return_to=" + urllib.parse.quote("/ui/account#sessions", safe="")))
    assert where(browser) == "/ui/account#sessions", where(browser)
    look("own-path-followed")


ATTACK_PAGE = """<!DOCTYPE html>
<html lang="en">
  <head><meta charset="utf-8"><title>Win a prize</title><link rel="icon" href="data:,"></head>
  <body>
    <h1>Another origin's page</h1>
    <form id="evil-logout" method="post" action="{gate}/ui/logout">
      <input type="hidden" name="csrf" value="{csrf}">
      <button type="submit">Sign them out (with their own CSRF token)</button>
    </form>
    <form id="evil-password" method="post" action="{gate}/ui/account/password">
      <input type="hidden" name="csrf" value="{csrf}">
      <input type="hidden" name="current_password" value="{password}">
      <input type="hidden" name="new_password" value="Att4cker-Passw0rd!">
      <button type="submit">Change their password</button>
    </form>
    <form id="evil-login" method="post" action="{gate}/ui/login">
      <input type="hidden" name="return_to" value="">
      <input type="hidden" name="username" value="attacker">
      <input type="hidden" name="password" value="{password}">
      <button type="submit">Sign them in as me</button>
    </form>
  </body>
</html>
"""


def test_forms_posted_from_another_origin_are_refused(make_server, other_origin, browser, look):
    server = gate(make_server)
    new_user(server, "victim")
    new_user(server, "attacker")
    origin, site = other_origin

    sign_in(browser, look, server, "victim")
    on_account_page(browser, "victim")
    csrf = by_id(browser, "logout-form").find_element(By.NAME, "csrf").get_attribute("value")
    look("victim-signed-in")
    # The worst case: the page even knows the victim's CSRF token; the origin check alone refuses.
    (site / "attack.html").write_text(
        ATTACK_PAGE.format(gate=server.base, csrf=html.escape(csrf), password=html.escape(PASSWORD)))

    def attack(form_id, step):
        browser.get(f"{origin}/attack.html")
        look(f"{step}-attack-page")
        submit(browser, form_id)
        assert browser.current_url.startswith(server.base), browser.current_url
        assert (status(browser), heading(browser)) == (403, "Not possible"), browser.page_source[:2000]
        look(f"{step}-refused", expected_statuses=(403,))

    attack("evil-logout", "logout")
    browser.get(server.url("/ui/account"))
    on_account_page(browser, "victim")  # still signed in
    look("still-signed-in")

    attack("evil-password", "password")
    assert requests.post(server.url("/api/v1/auth/login"),
                         data={"username": "victim", "password": PASSWORD}).status_code == 200

    # From the page itself, a form whose token was tampered with: refused as well.
    browser.get(server.url("/ui/account"))
    browser.execute_script(
        "document.querySelector('#logout-form input[name=csrf]').value = arguments[0]", "x" + csrf[1:])
    submit(browser, "logout-form")
    assert (status(browser), heading(browser)) == (403, "Not possible")
    assert "This form has expired. Reload the page and try again." in browser.find_element(By.TAG_NAME, "main").text
    look("forged-token-refused", expected_statuses=(403,))
    browser.get(server.url("/ui/account"))
    on_account_page(browser, "victim")

    # Signed out, a sign-in posted from elsewhere does not sign the browser in as the attacker.
    sign_out(browser, look)
    attack("evil-login", "login")
    browser.get(server.url("/ui/account"))
    assert where(browser).startswith("/ui/login"), where(browser)
    look("not-signed-in")


def test_sign_in_works_without_javascript(make_server, browser, look):
    server = gate(make_server)
    new_user(server, "noscript")
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(server.url("/ui/reset-password#token=abcdefghijklmnopqrstuvwxyz"))
        # No script ran: the token was not taken from the fragment (it would be typed in).
        assert by_id(browser, "token").get_attribute("value") == ""
        assert by_id(browser, "token-row").is_displayed()
        sign_in(browser, look, server, "noscript")
        on_account_page(browser, "noscript")
        look("account")
        browser.get(server.url("/ui/logout"))
        assert (status(browser), heading(browser)) == (200, "Sign out")
        look("sign-out-confirmation")
        submit(browser, "logout-confirm-form")
        assert where(browser) == "/ui/login?signed_out=1"
        look("signed-out")
        browser.get(server.url("/ui/account"))
        assert where(browser) == "/ui/login?return_to=%2Fui%2Faccount", where(browser)
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_change_the_address_from_the_account_page(make_server, make_sink, browser, look):
    sink = make_sink()
    server = gate(make_server, sink)
    old_email = new_user(server, "mover")
    new_email = "moved@example.com"

    sign_in(browser, look, server, "mover")
    on_account_page(browser, "mover")
    submit(browser, "email-change-form", new_email=new_email)
    assert where(browser) == "/ui/account?done=change-sent#email"
    assert notices(browser) == ["We have sent a confirmation link to the new address. Open it to finish."]
    assert text_of(browser, "profile-email").startswith(old_email)  # nothing changes before the link
    look("confirmation-sent")

    link = mail_link(sink, new_email, server.url("/ui/confirm-email"))
    browser.get(link)
    token = by_id(browser, "token")
    wait(browser, lambda d: token.get_attribute("value"), message="the page did not take the token")
    assert (where(browser), heading(browser)) == ("/ui/confirm-email", "Confirm your new email address")
    look("confirm-link-opened")
    submit(browser, "token-form")
    assert (status(browser), heading(browser)) == (200, "Done")
    assert "Your account's email address has changed." in browser.find_element(By.TAG_NAME, "main").text
    look("changed")
    browser.get(server.url("/ui/account"))
    on_account_page(browser, "mover")
    assert text_of(browser, "profile-email") == f"{new_email} (verified)"
    look("account-with-the-new-address")


def test_api_key_and_password_from_the_account_page(make_server, browser, look):
    server = gate(make_server)
    new_user(server, "builder", role="user")
    sign_in(browser, look, server, "builder")
    on_account_page(browser, "builder")
    scopes = [c.get_attribute("value") for c in browser.find_elements(
        By.CSS_SELECTOR, "#api-key-form input[name=scopes]")]
    assert set(scopes) == {"users:read", "posts:read", "posts:write"}, scopes

    # A key with one scope, shown once.
    form = by_id(browser, "api-key-form")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", form)
    form.find_element(By.CSS_SELECTOR, "input[name=scopes][value='posts:read']").click()
    submit(browser, "api-key-form", name="ci", expires_in_days="7")
    assert (status(browser), heading(browser)) == (200, "Your new API key")
    key = text_of(browser, "new-api-key")
    assert key.startswith("gh_"), key
    look("new-key")
    verify = functools.partial(requests.get, server.url("/api/v1/auth/verify"), headers={"X-API-Key": key})
    r = verify()
    assert (r.status_code, r.headers.get("X-Auth-Scopes")) == (200, "posts:read"), (r.status_code, r.headers)

    browser.get(server.url("/ui/account#api-keys"))
    rows = browser.find_elements(By.CSS_SELECTOR, "#api-keys-table tbody tr[data-api-key-id]")
    assert len(rows) == 1 and "ci" in rows[0].text and "posts:read" in rows[0].text, [r.text for r in rows]
    key_id = rows[0].get_attribute("data-api-key-id")
    look("key-listed")
    submit(browser, f"api-key-revoke-{key_id}")
    assert notices(browser) == ["The API key was revoked."]
    assert not browser.find_elements(By.ID, "api-keys-table")
    look("key-revoked")
    assert verify().status_code == 401

    # A wrong current password: the API's words on the page, nothing changed.
    submit(browser, "password-form", current_password="Not-the-passw0rd!", new_password=NEW_PASSWORD)
    assert (status(browser), heading(browser), errors(browser)) == (400, "Your account", ["Incorrect password"])
    look("wrong-current-password", expected_statuses=(400,))
    # The right one: signed out everywhere, in with the new password.
    submit(browser, "password-form", current_password=PASSWORD, new_password=NEW_PASSWORD)
    assert where(browser) == "/ui/login?signed_out=password", where(browser)
    look("password-changed")
    submit(browser, "login-form", username="builder", password=NEW_PASSWORD)
    on_account_page(browser, "builder")
    look("signed-in-with-the-new-password")
