"""The pages for people (API.md, "Pages for people"), black box over real HTTP: the sign-in portal,
the account page, the admin console and forward-auth on the browser session, attacked the way a
hostile site, a curious user or a stolen cookie would.

A `Browser` here keeps its own cookie jar (Set-Cookie parsed by hand, so a Secure or Domain cookie
is kept and sent the way a browser behind TLS would) and sends what a browser sends with a form
(Origin, Sec-Fetch-Site, Sec-Fetch-Mode). It never follows redirects: every 303 and its Location is
asserted. The pages are hidden from /openapi.json, so conftest's document check passes over them;
the JSON routes they touch (verify, sessions, users, audit) are still checked."""
import base64
import html
import http.client
import itertools
import json
import os
import re
import sqlite3
import time
import types
import urllib.parse

import pyotp
import pytest
import requests

from conftest import Redis, Server, api_document, auth, free_port
from smtp_sink import SmtpSink

PASSWORD = "Passw0rd!x"
NEW_PASSWORD = "N3w-Passw0rd!x"
UA = "Mozilla/5.0 (X11; Linux x86_64) pages-test"
ALLOWED = "http://allowed.example"
ALLOWED_PORT = "https://app.example:8443"
# The portal server: two extra return origins, headers large enough that a 10 kB cookie reaches
# the cookie code (the default 8 KiB header limit would answer 431 first, see the https test),
# a refresh lifetime to find in Max-Age.
PORTAL_ENV = {"ALLOWED_RETURN_URLS": f"{ALLOWED},{ALLOWED_PORT}",
              "GATEHOUSE_MAX_HEADER_BYTES": "65536",
              "REFRESH_TOKEN_EXPIRE_DAYS": "3"}
WRONG = "Incorrect email or password"
EXPIRED_FORM = "This form has expired. Reload the page and try again."
FORBIDDEN = "Insufficient permissions"
# A form posted from another site: a page saying so (not "Insufficient permissions").
CROSS_SITE = "This form was sent from another site, so it was refused."
TOO_MANY_PAGE = "Too many attempts. Wait a little and try again."

CSRF_RE = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)">')
_seq = itertools.count(1)


def unique(prefix):
    return f"{prefix}{next(_seq)}_{os.urandom(2).hex()}"


# --- a browser -----------------------------------------------------------------------------------

def set_cookie_lines(r):
    return r.raw.headers.getlist("Set-Cookie") if r.raw is not None else []


def parse_set_cookie(line):
    """(name, value, attributes with lower-case names; flags map to True)."""
    parts = [p.strip() for p in line.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        key, eq, v = p.partition("=")
        attrs[key.strip().lower()] = v.strip() if eq else True
    return name.strip(), value.strip(), attrs


def set_cookies(r):
    """name -> (value, attributes) of every Set-Cookie of a response."""
    out = {}
    for line in set_cookie_lines(r):
        name, value, attrs = parse_set_cookie(line)
        out[name] = (value, attrs)
    return out


class Browser:
    """One browser: a cookie jar, a user agent, what browsers add to a form post. `xff` makes the
    request come from that address through a trusted proxy (TRUSTED_PROXIES=127.0.0.1)."""

    def __init__(self, server, origin=None, xff=None, ua=UA):
        self.server = server
        self.origin = origin or server.base
        self.xff = xff
        self.ua = ua
        self.jar = {}

    @property
    def session(self):
        return self.jar.get("gatehouse_session")

    def request(self, method, path, data=None, params=None, headers=None, cookies=None):
        h = {"User-Agent": self.ua, "Accept": "text/html,application/xhtml+xml"}
        if self.xff:
            h["X-Forwarded-For"] = self.xff
        if method == "POST":
            h.update({"Origin": self.origin, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"})
        jar = self.jar if cookies is None else cookies
        if jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        for k, v in (headers or {}).items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        r = requests.request(method, self.server.url(path), params=params, data=data, headers=h,
                             allow_redirects=False, timeout=60)
        if cookies is None:
            for name, (value, attrs) in set_cookies(r).items():
                if value == "" or attrs.get("max-age") == "0":
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = value
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, data, **kw):
        return self.request("POST", path, data=data, **kw)

    def csrf(self, path="/ui/login"):
        r = self.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        return csrf_in(r)

    def sign_in(self, username, password=PASSWORD, return_to="", **kw):
        # A signed-in browser reaches the form again only with reauth (else it is forwarded).
        r = self.get("/ui/login", params={"reauth": "1"} if self.session else None)
        assert r.status_code == 200, (r.status_code, r.headers.get("Location"), r.text[:300])
        token = csrf_in(r)
        return self.post("/ui/login", {"username": username, "password": password, "csrf": token,
                                       "return_to": return_to}, **kw)


def csrf_in(r):
    found = CSRF_RE.findall(r.text)
    assert found, f"no csrf field on the page: {r.text[:500]}"
    assert len(set(found)) == 1, f"a page with several csrf tokens: {set(found)}"
    return found[0]


def hidden(r, name):
    m = re.search(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)">', r.text)
    return html.unescape(m.group(1)) if m else None


def main_text(r):
    m = re.search(r"<main>(.*)</main>", r.text, re.S)
    assert m, f"not a page: {r.status_code} {r.text[:300]}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())


def form_ids(r):
    return set(re.findall(r'<form [^>]*id="([^"]+)"', r.text))


def assert_page(r, status):
    assert r.status_code == status, (r.status_code, r.headers.get("Location"), r.text[:600])
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    assert r.headers["Cache-Control"] == "no-store"
    csp = r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp, csp
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Referrer-Policy"] == "same-origin"


def assert_to_login(r, back="/ui/account", cleared=True):
    """A refused page: 303 to the portal with the way back, the dead cookie deleted."""
    assert r.status_code == 303, (r.status_code, r.text[:300])
    assert r.headers["Location"] == "/ui/login?return_to=" + urllib.parse.quote(back, safe=""), r.headers["Location"]
    assert r.headers["Cache-Control"] == "no-store"
    cookies = set_cookies(r)
    if cleared:
        assert "gatehouse_session" in cookies, r.headers
        value, attrs = cookies["gatehouse_session"]
        assert value == "" and attrs.get("max-age") == "0", cookies


def signed_in(server, username, password=PASSWORD, **kw):
    b = Browser(server, **kw)
    r = b.sign_in(username, password)
    assert r.status_code == 303 and r.headers["Location"] == "/ui/account", (r.status_code, r.text[:500])
    assert b.session, "no session cookie after sign-in"
    return b


def verify(server, cookie=None, params=None, headers=None):
    h = dict(headers or {})
    if cookie is not None:
        h["Cookie"] = f"gatehouse_session={cookie}"
    return requests.get(server.url("/api/v1/auth/verify"), params=params, headers=h,
                        allow_redirects=False, timeout=30)


def raw_verify(server, cookie=None, params=None, headers=None):
    """verify over http.client, which conftest's document check does not see: for the answers
    whose drift from /openapi.json is a test of its own (test_verify_302_matches_the_document)."""
    h = dict(headers or {})
    if cookie is not None:
        h["Cookie"] = f"gatehouse_session={cookie}"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", "/api/v1/auth/verify" + ("?" + urllib.parse.urlencode(params) if params else ""),
                     headers=h)
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    return types.SimpleNamespace(status_code=resp.status, content=body, text=body.decode(),
                                 headers=requests.structures.CaseInsensitiveDict(resp.getheaders()))


# --- users ---------------------------------------------------------------------------------------

def register(server, name, password=PASSWORD):
    r = server.register(f"{name}@example.com", name, password)
    assert r.status_code == 201, r.text
    return types.SimpleNamespace(name=name, email=f"{name}@example.com", id=me(server, r.json()["access_token"])["id"])


def cli_user(server, name, role):
    r = server.cli("user", "create", "--email", f"{name}@example.com", "--username", name, "--role", role,
                   "--password-stdin", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    token = server.token(name, PASSWORD)
    return types.SimpleNamespace(name=name, email=f"{name}@example.com", id=me(server, token)["id"], token=token)


def api_login(server, username, password=PASSWORD, xff=None):
    """The JSON API's password login, from `xff` through the trusted proxy when given."""
    return requests.post(server.url("/api/v1/auth/login"), data={"username": username, "password": password},
                         headers={"X-Forwarded-For": xff} if xff else {})


def me(server, token):
    r = requests.get(server.url("/api/v1/auth/me"), headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def user_by_id(server, admin_token, user_id):
    r = requests.get(server.url(f"/api/v1/users/{user_id}"), headers=auth(admin_token))
    assert r.status_code == 200, r.text
    return r.json()


def audit(server, token, **params):
    r = requests.get(server.url("/api/v1/audit-events"), params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def api_sessions(server, token):
    r = requests.get(server.url("/api/v1/auth/sessions"), headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def current_session_id(browser):
    r = browser.get("/ui/account")
    assert_page(r, 200)
    ids = re.findall(r'<tr data-session-id="([^"]+)" class="current">', r.text)
    assert len(ids) == 1, r.text
    return ids[0]


# --- servers -------------------------------------------------------------------------------------

def _own_server(tmp_path_factory, name, env):
    return Server(tmp_path_factory.mktemp(name), env).start()


def _stop(s):
    code = s.stop()
    if code not in (0, None):
        pytest.fail(f"server exited with {code}: {s.log_text()[-3000:]}")


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    """One server for the tests that need no special settings (each uses its own accounts)."""
    s = _own_server(tmp_path_factory, "portal", PORTAL_ENV)
    yield s
    _stop(s)


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """The seed's kind of login limit (3/minute per address, account, account+address); tests tell
    their addresses apart with X-Forwarded-For through a trusted proxy."""
    s = _own_server(tmp_path_factory, "limited", {"LOGIN_RATE_LIMIT": "3/minute", "TRUSTED_PROXIES": "127.0.0.1"})
    yield s
    _stop(s)


_ip = itertools.count(1)


def fresh_ip():
    n = next(_ip)
    return f"10.77.{n // 250}.{n % 250 + 1}"


# --- the portal works at all ---------------------------------------------------------------------

def test_portal_signs_in_and_registers_a_browser(portal):
    register(portal, "ann_portal")
    b = Browser(portal)
    r = b.get("/ui/login")
    assert_page(r, 200)
    assert "login-form" in form_ids(r)
    assert set(set_cookies(r)) == {"gatehouse_csrf"}, "an anonymous page sets only the CSRF cookie"
    r = b.sign_in("ann_portal")
    assert r.status_code == 303 and r.headers["Location"] == "/ui/account", r.text[:300]
    first = b.session
    r = b.get("/ui/account")
    assert_page(r, 200)
    assert '<dd id="profile-username">ann_portal</dd>' in r.text
    assert verify(portal, first).status_code == 200
    # Signing in again in the same browser replaces its session: the previous cookie is dead.
    r = b.sign_in("ann_portal@example.com")
    assert r.status_code == 303 and b.session != first
    assert verify(portal, first).status_code == 401
    assert verify(portal, b.session).status_code == 200

    # Registration from the page signs the new account in.
    nb = Browser(portal)
    token = nb.csrf("/ui/register")
    r = nb.post("/ui/register", {"email": "bea_portal@example.com", "username": "bea_portal",
                                 "password": PASSWORD, "csrf": token})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/account", (r.status_code, r.text[:500])
    assert '<dd id="profile-username">bea_portal</dd>' in nb.get("/ui/account").text
    assert portal.login("bea_portal").status_code == 200


def test_pages_without_a_session_send_the_browser_to_the_portal_and_back(portal):
    register(portal, "cyd_back")
    b = Browser(portal)
    assert_to_login(b.get("/ui/account"), "/ui/account", cleared=True)
    assert_to_login(b.get("/ui/admin/audit", params={"type": "login.failed"}), "/ui/admin/audit?type=login.failed")
    # A form posted without a session (but with a good anonymous token) goes to the portal too.
    token = b.csrf("/ui/login")
    assert_to_login(b.post("/ui/account/api-keys", {"name": "k", "csrf": token}), "/ui/account")
    assert_to_login(b.post("/ui/admin/users/1/active", {"is_active": "false", "csrf": token}), "/ui/admin")
    # The portal carries the way back through the sign-in.
    r = b.get("/ui/login", params={"return_to": "/ui/admin/audit?type=login.failed"})
    assert_page(r, 200)
    assert hidden(r, "return_to") == "/ui/admin/audit?type=login.failed"
    r = b.post("/ui/login", {"username": "cyd_back", "password": PASSWORD, "csrf": csrf_in(r),
                             "return_to": hidden(r, "return_to")})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/admin/audit?type=login.failed"


# --- 1. CSRF -------------------------------------------------------------------------------------

def test_two_session_cookies_sign_the_browser_in_as_no_one(portal):
    """Found by an outside attack: with SESSION_COOKIE_DOMAIN the session cookie cannot be
    __Host-, so a sibling subdomain can plant a second one with a longer Path, which the browser
    sends first; forward-auth took the first and let the victim into every application as the
    planter (login CSRF), and the pages deleted the victim's own cookie. Two session cookies sign
    in no one, whichever comes first, and the pages delete nothing."""
    victim, planter = register(portal, unique("tossed")), register(portal, unique("planter"))
    v, p = signed_in(portal, victim.name), signed_in(portal, planter.name)
    assert verify(portal, v.session).headers["X-Auth-User-Email"] == victim.email
    # A review: sixteen equal planted copies first (longer paths are sent first) hid ours behind a
    # cap; every value counts.
    for pair in ((p.session, v.session), (v.session, p.session), ("", v.session), ("x", v.session),
                 (p.session,) * 17 + (v.session,)):
        cookie = "; ".join(f"gatehouse_session={value}" for value in pair)
        r = verify(portal, headers={"Cookie": cookie})
        assert r.status_code == 401 and "X-Auth-User-Email" not in r.headers, (pair, r.status_code)
    # The pages: sent to sign in, the victim's cookie left alone (deleting it would leave only the
    # planted one).
    portal_cookies = "; ".join(f"{k}={val}" for k, val in v.jar.items() if k != "gatehouse_session")
    r = v.get("/ui/account", headers={
        "Cookie": f"gatehouse_session={p.session}; gatehouse_session={v.session}; {portal_cookies}"})
    assert_to_login(r, cleared=False)
    assert "gatehouse_session" not in set_cookies(r), r.headers
    # The same cookie twice (a host-only and a Domain one) is that cookie.
    r = verify(portal, headers={"Cookie": f"gatehouse_session={v.session}; gatehouse_session={v.session}"})
    assert r.headers["X-Auth-User-Email"] == victim.email
    # Alone again, the victim's cookie is as it was.
    assert v.get("/ui/account").status_code == 200


def test_login_form_refuses_forged_posts_before_anything_is_counted(limited):
    """Twelve forged sign-ins with the right password: each 403, no cookie, no session, and nothing
    counted against a 3/minute limit (the API login afterwards still passes)."""
    ip = fresh_ip()
    victim = register(limited, unique("csrfv"))
    other = register(limited, unique("csrfo"))
    a = Browser(limited, xff=ip)
    b = Browser(limited, xff=fresh_ip())
    ta, tb = a.csrf(), b.csrf()
    assert ta != tb
    c = signed_in(limited, other.name, xff=fresh_ip())
    session_token = csrf_in(c.get("/ui/account"))
    good = {"username": victim.name, "password": PASSWORD, "return_to": ""}
    # A sibling subdomain can plant a gatehouse_csrf cookie together with the token the server
    # itself gave for it (any visitor gets such a pair): only the cross-site check stops that.
    planted = {"gatehouse_csrf": b.jar["gatehouse_csrf"]}
    sibling = "http://evil.allowed.example"
    forged = [  # what, form, headers, cookies (None: the browser's own), the page's words
        ("no csrf field", dict(good), {}, None, EXPIRED_FORM),
        ("empty csrf", {**good, "csrf": ""}, {}, None, EXPIRED_FORM),
        ("another browser's token", {**good, "csrf": tb}, {}, None, EXPIRED_FORM),
        ("a signed-in form's token", {**good, "csrf": session_token}, {}, None, EXPIRED_FORM),
        ("the token without its cookie", {**good, "csrf": ta}, {}, {}, EXPIRED_FORM),
        ("Origin: evil", {**good, "csrf": ta}, {"Origin": "http://evil.example", "Sec-Fetch-Site": None}, None,
         CROSS_SITE),
        ("Origin: null", {**good, "csrf": ta}, {"Origin": "null", "Sec-Fetch-Site": None}, None, CROSS_SITE),
        ("Sec-Fetch-Site: cross-site", {**good, "csrf": ta}, {"Sec-Fetch-Site": "cross-site"}, None, CROSS_SITE),
        ("Sec-Fetch-Site: same-site", {**good, "csrf": ta}, {"Sec-Fetch-Site": "same-site"}, None, CROSS_SITE),
        ("cross-site wins over our Origin", {**good, "csrf": ta}, {"Sec-Fetch-Site": "cross-site"}, None, CROSS_SITE),
        ("planted pair, same-site", {**good, "csrf": tb}, {"Sec-Fetch-Site": "same-site", "Origin": sibling},
         planted, CROSS_SITE),
        ("planted pair, Origin only", {**good, "csrf": tb}, {"Sec-Fetch-Site": None, "Origin": sibling},
         planted, CROSS_SITE),
        # Found by an outside attack: "none" was taken and the Origin then never looked at.
        ("Sec-Fetch-Site: none from evil", {**good, "csrf": ta},
         {"Sec-Fetch-Site": "none", "Origin": "http://evil.example"}, None, CROSS_SITE),
    ]
    for what, data, headers, cookies, words in forged:
        r = a.post("/ui/login", data, headers=headers, cookies=cookies)
        assert_page(r, 403)
        assert "gatehouse_session" not in set_cookies(r), what
        assert main_text(r).startswith("Not possible") and words in main_text(r), (what, main_text(r))
    assert a.session is None
    # Nothing was counted: with 3/minute per address and per account, these still pass.
    r = api_login(limited, victim.name, xff=ip)
    assert r.status_code == 200, r.text
    assert len(api_sessions(limited, r.json()["access_token"])) == 2  # registration's and this one
    r = a.post("/ui/login", {**good, "csrf": ta})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/account"
    r = a.post("/ui/login", {**good, "csrf": ta}, headers={"Sec-Fetch-Site": "none", "Origin": None})
    assert r.status_code == 303, "a navigation the user typed (Sec-Fetch-Site: none) is not cross-site"


def test_the_sign_in_page_sends_a_signed_in_browser_on_even_when_its_session_is_not_in_memory(
        tmp_path_factory):
    # The sign-in page answers on the I/O thread when it needs no storage. After a restart the
    # browser's session is known only to the database: the page must go to a worker for it and
    # still see the browser signed in, not offer it a second sign-in.
    s = _own_server(tmp_path_factory, "signin-cold", PORTAL_ENV)
    try:
        name = unique("cold")
        register(s, name)
        b = signed_in(s, name)
        r = b.get("/ui/login")
        assert (r.status_code, r.headers.get("Location")) == (303, "/ui/account")
        s.stop()
        s.start()
        for _ in range(2):  # cold, then from memory
            r = b.get("/ui/login")
            assert (r.status_code, r.headers.get("Location")) == (303, "/ui/account")
        assert_page(b.get("/ui/login", params={"reauth": "1"}), 200)
        assert_page(Browser(s).get("/ui/login"), 200)
        # HEAD is answered as GET without the body, on either thread.
        r = b.request("HEAD", "/ui/login")
        assert (r.status_code, r.headers.get("Location"), r.content) == (303, "/ui/account", b"")
        r = Browser(s).request("HEAD", "/ui/login")
        assert (r.status_code, r.content) == (200, b"") and int(r.headers["Content-Length"]) > 0
    finally:
        _stop(s)


def test_account_forms_refuse_forged_posts_and_change_nothing(portal):
    name = unique("csrfacct")
    register(portal, name)
    a = signed_in(portal, name)
    a2 = signed_in(portal, name)  # the same user's other browser: another session
    stranger = register(portal, unique("csrfstr"))
    b = signed_in(portal, stranger.name)
    mine = csrf_in(a.get("/ui/account"))
    theirs, my_other = csrf_in(b.get("/ui/account")), csrf_in(a2.get("/ui/account"))
    anonymous = csrf_in(a.get("/ui/forgot-password"))  # bound to a's gatehouse_csrf cookie
    assert len({mine, theirs, my_other, anonymous}) == 4
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    forged = [
        ("no csrf", dict(change), {}),
        ("anonymous token", {**change, "csrf": anonymous}, {}),
        ("same user, other session", {**change, "csrf": my_other}, {}),
        ("another user's session", {**change, "csrf": theirs}, {}),
        ("Origin: evil", {**change, "csrf": mine}, {"Origin": "http://evil.example", "Sec-Fetch-Site": None}),
        ("Sec-Fetch-Site: cross-site", {**change, "csrf": mine}, {"Sec-Fetch-Site": "cross-site"}),
        ("Sec-Fetch-Site: same-site", {**change, "csrf": mine}, {"Sec-Fetch-Site": "same-site"}),
    ]
    for what, data, headers in forged:
        r = a.post("/ui/account/password", data, headers=headers)
        assert_page(r, 403)
        assert set_cookies(r) == {}, (what, r.headers)
        cross_site = "Origin" in what or "Sec-Fetch-Site" in what
        assert (CROSS_SITE if cross_site else EXPIRED_FORM) in main_text(r), (what, main_text(r))
    for what, path, data in [("logout", "/ui/logout", {}),
                             ("api key", "/ui/account/api-keys", {"name": "forged"}),
                             ("end session", f"/ui/account/sessions/{current_session_id(a2)}/end", {})]:
        r = a.post(path, {**data, "csrf": mine}, headers={"Sec-Fetch-Site": "cross-site"})
        assert_page(r, 403)
        r = a.post(path, {**data, "csrf": theirs})
        assert_page(r, 403)
    # Nothing happened: both sessions work, the password is the old one, no key was made.
    assert_page(a.get("/ui/account"), 200)
    assert_page(a2.get("/ui/account"), 200)
    token = portal.token(name, PASSWORD)
    assert requests.get(portal.url("/api/v1/api-keys"), headers=auth(token)).json()["items"] == []
    # The genuine form works: same origin, the session's own token.
    r = a.post("/ui/account/password", {**change, "csrf": mine})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/login?signed_out=password", r.text[:500]
    assert a.session is None, "the changed password's page deletes the cookie"
    assert portal.login(name, PASSWORD).status_code == 401
    assert portal.login(name, NEW_PASSWORD).status_code == 200
    assert_to_login(a2.get("/ui/account"))  # every session ended, the other browser's too


# --- 2. open redirects ---------------------------------------------------------------------------

OFFSITE = [
    "https://evil.example/",
    "//evil.example",
    "//evil.example/ui/account",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    # A dot segment a browser resolves, or a proxy collapses into a redirect of its own, to "//evil":
    "/.//evil.example",
    "/%2e//evil.example/ui/account",
    "/ui/..//evil.example",
    "{own}//evil.example",  # the same path in an absolute URL of ours
    "{own}/.//evil.example",
    "http://127.0.0.1:{other}/",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "http://allowed.example@evil.example/",
    "http://allowed.example.evil.example/",
    "http://evil.example#@allowed.example",
    "http://evil.example\\@allowed.example",
    "https://allowed.example/",  # the origin is http://allowed.example: the scheme is part of it
    "https://app.example/p",  # allowed only on port 8443
    "http:evil.example",
    "https:/evil.example",
    " https://evil.example/",
    "/ui/account\r\nLocation: https://evil.example/",
    "https://evil.example/\r\nSet-Cookie: x=1",
    "/" + "a" * 3000,
    "http://allowed.example/" + "a" * 5000,
]


def _offsite_id(v):
    return re.sub(r"[^A-Za-z0-9]+", "_", v[:40]) + (f"_len{len(v)}" if len(v) > 40 else "")


@pytest.mark.parametrize("value", OFFSITE, ids=_offsite_id)
def test_return_to_and_rd_never_send_a_browser_off_site(portal, value):
    value = value.replace("{other}", str(free_port())).replace("{own}", portal.base)
    name = unique("redir")
    register(portal, name)
    b = Browser(portal)
    for param in ("return_to", "rd"):
        r = b.get("/ui/login", params={param: value})
        assert_page(r, 200)
        assert hidden(r, "return_to") == "", (param, hidden(r, "return_to"))
    r = b.sign_in(name, return_to=value)
    assert r.status_code == 303, r.text[:300]
    assert r.headers["Location"] == "/ui/account", r.headers["Location"]
    # Already signed in, the portal forwards at once: to the default, not to the value.
    r = b.get("/ui/login", params={"return_to": value})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/account", r.headers.get("Location")
    # Forward-auth: a refused navigation gets no Location to a value that is not allowed.
    r = verify(portal, params={"rd": value}, headers={"Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
    assert r.status_code == 401 and "Location" not in r.headers, r.headers.get("Location")


@pytest.mark.parametrize("value", [
    "/ui/account#sessions",
    "/ui/admin?q=a%20b&page=1",
    "http://allowed.example/after?x=1&y=2",
    "HTTP://ALLOWED.EXAMPLE/Upper",
    "https://app.example:8443/deep/path",
    "{own}/ui/account?from=absolute",
], ids=lambda v: re.sub(r"[^A-Za-z0-9]+", "_", v))
def test_return_to_follows_allowed_origins_and_local_paths(portal, value):
    value = value.replace("{own}", portal.base)
    name = unique("follow")
    register(portal, name)
    b = Browser(portal)
    r = b.get("/ui/login", params={"return_to": value})
    assert hidden(r, "return_to") == value
    r = b.get("/ui/login", params={"rd": value})
    assert hidden(r, "return_to") == value
    r = b.sign_in(name, return_to=value)
    assert r.status_code == 303 and r.headers["Location"] == value, (r.status_code, r.headers.get("Location"))
    r = b.get("/ui/login", params={"return_to": value})
    assert r.status_code == 303 and r.headers["Location"] == value
    if not value.startswith("/"):
        r = verify(portal, params={"rd": value}, headers={"Accept": "text/html"})
        assert r.status_code == 401
        assert r.headers["Location"] == portal.base + "/ui/login?return_to=" + urllib.parse.quote(value, safe="")


def test_reflected_values_are_escaped_on_the_pages(portal):
    attack = '/x"><script>alert(1)</script><img/src=x/onerror=alert(2)>'
    b = Browser(portal)
    r = b.get("/ui/login", params={"return_to": attack})
    assert_page(r, 200)
    assert hidden(r, "return_to") == attack  # a path of ours, so kept, but only as text
    assert "<script>alert" not in r.text and "<img/src" not in r.text
    # ?done= picks a fixed notice by key: a link cannot put words (or markup) on the page.
    register(portal, "escaper")
    sb = signed_in(portal, "escaper")
    page = sb.get("/ui/account", params={"done": "<b>pwned</b>"})
    assert_page(page, 200)
    assert "pwned" not in page.text and 'role="status"' not in page.text
    assert 'role="status"' in sb.get("/ui/account", params={"done": "key-revoked"}).text
    typed = '"><svg onload=alert(3)>'
    r = b.post("/ui/login", {"username": typed, "password": "x", "csrf": csrf_in(r), "return_to": attack})
    assert_page(r, 401)
    assert "<svg onload" not in r.text and "<script>alert" not in r.text
    r = b.post("/ui/register", {"email": typed + "@example.com", "username": typed, "password": "weak",
                                "csrf": b.csrf("/ui/register")})
    assert_page(r, 422)
    assert "<svg onload" not in r.text


# --- 3. enumeration ------------------------------------------------------------------------------

def _normalised(r, typed):
    text = r.text.replace(f'value="{html.escape(typed, quote=True)}"', 'value="TYPED"')
    return CSRF_RE.sub('<input type="hidden" name="csrf" value="TOKEN">', text)


def test_login_refusal_is_the_same_for_unknown_users_wrong_passwords_and_inactive_accounts(portal):
    known = unique("enum")
    register(portal, known)
    inactive = unique("enumoff")
    register(portal, inactive)
    r = portal.cli("user", "deactivate", "--email", f"{inactive}@example.com")
    assert r.returncode == 0, r.stderr
    b = Browser(portal)
    token = b.csrf()
    answers = {}
    for what, typed in [("wrong password", known), ("wrong password by email", f"{known}@example.com"),
                        ("unknown user", unique("nobody")), ("unknown email", f"{unique('nobody')}@example.com"),
                        ("inactive, wrong password", inactive)]:
        r = b.post("/ui/login", {"username": typed, "password": "Wr0ng-Passw0rd!", "csrf": token, "return_to": ""})
        assert_page(r, 401)
        assert r.headers["WWW-Authenticate"] == "Bearer"
        assert f'<p class="error" role="alert">{WRONG}</p>' in r.text
        assert "gatehouse_session" not in set_cookies(r)
        answers[what] = (r.status_code, sorted(k for k in r.headers if k.lower() not in ("x-request-id", "content-length")),
                         _normalised(r, typed))
    first = next(iter(answers.values()))
    for what, answer in answers.items():
        assert answer == first, f"{what} answers differently from a wrong password"


def test_forgot_password_gives_every_address_the_same_answer(make_server, tmp_path):
    sink = SmtpSink(tmp_path)
    sink.start()
    try:
        s = make_server(start=False)
        s.env.update(sink.env(), GATEHOUSE_PUBLIC_URL=s.base, EMAIL_RATE_LIMIT="100000/minute",
                     EMAIL_IP_RATE_LIMIT="100000/minute", EMAIL_TOKEN_RATE_LIMIT="100000/minute")
        s.start()
        register(s, "forgetful")
        b = Browser(s)
        token = b.csrf("/ui/forgot-password")
        answers = []
        for address in ("nobody-here@example.com", "forgetful@example.com", "FORGETFUL@example.com"):
            r = b.post("/ui/forgot-password", {"email": address, "csrf": token})
            assert_page(r, 200)
            assert "If an account uses that address, we have sent it a link" in main_text(r)
            answers.append((r.status_code, _normalised(r, address)))
        assert answers[0] == answers[1] == answers[2]
        messages = sink.wait_for(2, timeout=30)
        time.sleep(0.5)
        assert [m["To"] for m in sink.messages] == ["forgetful@example.com"] * 2, \
            "a mail went to an address that has no account, or the known one got none"
        assert len(messages) == 2
    finally:
        sink.stop()


# --- 4. the API's limits and lockout -------------------------------------------------------------

def test_page_and_api_logins_spend_one_rate_limit(limited):
    ip, ip2, ip3, ip4 = fresh_ip(), fresh_ip(), fresh_ip(), fresh_ip()
    a, b2, c, d = (register(limited, unique(p)) for p in ("lima", "limb", "limc", "limd"))
    page = Browser(limited, xff=ip)
    for _ in range(3):
        r = page.sign_in(a.name, "Wr0ng-Passw0rd!")
        assert_page(r, 401)
        assert WRONG in main_text(r)
    r = page.sign_in(a.name, PASSWORD)
    assert_page(r, 429)
    assert int(r.headers["Retry-After"]) >= 1
    assert TOO_MANY_PAGE in main_text(r) and page.session is None
    # The API login meets the same counters: the address's ...
    r = api_login(limited, a.name, xff=ip)
    assert r.status_code == 429 and r.json() == {"detail": "Too many requests"}, r.text
    assert int(r.headers["Retry-After"]) >= 1
    r = api_login(limited, b2.name, xff=ip)
    assert r.status_code == 429, "the address's budget was spent on the page"
    # ... and the account's, from any address.
    r = api_login(limited, a.name, xff=ip2)
    assert r.status_code == 429, "the account's budget was spent on the page"
    # Not a global stop: another account from another address signs in.
    assert Browser(limited, xff=ip3).sign_in(c.name).status_code == 303
    # And the other way round: the API spends what the page then lacks.
    for _ in range(3):
        assert api_login(limited, d.name, "Wr0ng-Passw0rd!", xff=ip4).status_code == 401
    r = Browser(limited, xff=ip4).sign_in(d.name)
    assert_page(r, 429)
    assert int(r.headers["Retry-After"]) >= 1


@pytest.mark.timing
def test_failed_login_delay_and_lockout_cover_the_page_and_the_api(make_server):
    s = make_server({"LOGIN_DELAY_AFTER_FAILURES": "2", "LOGIN_LOCKOUT_THRESHOLD": "3",
                     "LOGIN_MAX_DELAY_SECONDS": "1"})
    admin = cli_user(s, "lockadmin", "admin")
    slow, locked = register(s, "slowpoke"), register(s, "lockee")
    page = Browser(s)
    # Two failures on the page: the next attempt inside the delay is refused, on the API too,
    # with the right password and the same words as a wrong one.
    for _ in range(2):
        assert_page(page.sign_in(slow.name, "Wr0ng-Passw0rd!"), 401)
    r = s.login(slow.name)
    assert r.status_code == 401 and r.json() == {"detail": WRONG}, r.text
    r = page.sign_in(slow.name)
    assert_page(r, 401)
    assert WRONG in main_text(r) and page.session is None
    # The lock: failures counted wherever they happen.
    assert s.login(locked.name, "Wr0ng-Passw0rd!").status_code == 401
    assert_page(page.sign_in(locked.name, "Wr0ng-Passw0rd!"), 401)
    time.sleep(2.2)  # the delay (1 s, counted in whole seconds) is over
    r = page.sign_in(slow.name)
    assert r.status_code == 303, "after the delay the right password signs in"
    assert_page(page.sign_in(locked.name, "Wr0ng-Passw0rd!"), 401)  # third failure: locked
    # The right password, refused now by the lock (the audit below tells "locked" from "delayed").
    assert s.login(locked.name).status_code == 401
    other = Browser(s)
    r = other.sign_in(locked.name)
    assert_page(r, 401)
    assert WRONG in main_text(r) and other.session is None
    assert len(audit(s, admin.token, type="login.locked_out", user_id=locked.id)) == 1
    # Delayed and locked refusals look no account up (so they carry no subject): count them all.
    reasons = sorted(e["detail"]["reason"] for e in audit(s, admin.token, type="login.failed", limit=1000))
    assert reasons == ["delayed"] * 2 + ["locked"] * 2 + ["wrong_password"] * 5, reasons


# --- 5. the cookie -------------------------------------------------------------------------------

def test_cookies_on_plain_http_localhost(portal):
    register(portal, "cookie_plain")
    b = Browser(portal)
    r = b.get("/ui/login")
    value, attrs = set_cookies(r)["gatehouse_csrf"]
    assert len(value) >= 32
    assert attrs == {"path": "/", "httponly": True, "samesite": "Lax", "max-age": "86400"}, attrs
    r = b.sign_in("cookie_plain")
    value, attrs = set_cookies(r)["gatehouse_session"]
    assert value and attrs == {"path": "/", "httponly": True, "samesite": "Lax", "max-age": str(3 * 86400)}, attrs
    token = csrf_in(b.get("/ui/account"))
    r = b.post("/ui/logout", {"csrf": token})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/login?signed_out=1"
    value, attrs = set_cookies(r)["gatehouse_session"]
    assert value == "" and attrs == {"path": "/", "httponly": True, "samesite": "Lax", "max-age": "0"}, attrs


def test_cookies_are_secure_and_scoped_behind_an_https_public_url(make_server):
    public = "https://auth.example.test"
    s = make_server({"GATEHOUSE_PUBLIC_URL": public, "SESSION_COOKIE_DOMAIN": "example.test",
                     "REFRESH_TOKEN_EXPIRE_DAYS": "2", "ALLOWED_RETURN_URLS": "https://app.example.test"})
    register(s, "cookie_tls")
    b = Browser(s, origin=public)
    r = b.get("/ui/login")
    # Host-only cookies get the __Host- prefix once Secure: no sibling subdomain can set them.
    _, attrs = set_cookies(r)["__Host-gatehouse_csrf"]
    assert attrs.get("secure") is True and "domain" not in attrs and attrs.get("path") == "/", attrs
    # The Origin is compared with the public origin, not with the address the request reached.
    token = csrf_in(r)
    creds = {"username": "cookie_tls", "password": PASSWORD, "csrf": token, "return_to": ""}
    r = b.post("/ui/login", creds, headers={"Origin": s.base, "Sec-Fetch-Site": None})
    assert_page(r, 403)
    r = b.post("/ui/login", creds, headers={"Sec-Fetch-Site": None})
    assert r.status_code == 303, r.text[:300]
    value, attrs = set_cookies(r)["gatehouse_session"]
    assert attrs == {"path": "/", "httponly": True, "samesite": "Lax", "max-age": str(2 * 86400),
                     "secure": True, "domain": "example.test"}, attrs
    # The pages also want the portal cookie, which never leaves this host: an application behind
    # forward-auth (on the parent domain) receives only gatehouse_session.
    _, attrs = set_cookies(r)["__Host-gatehouse_portal"]
    assert attrs == {"path": "/", "httponly": True, "samesite": "Lax", "max-age": str(2 * 86400),
                     "secure": True}, attrs
    # Deleting a Domain cookie takes the same Domain (else the browser keeps the original).
    r = b.post("/ui/logout", {"csrf": csrf_in(b.get("/ui/account"))})
    value, attrs = set_cookies(r)["gatehouse_session"]
    assert value == "" and attrs.get("max-age") == "0" and attrs.get("domain") == "example.test" \
        and attrs.get("secure") is True, attrs
    # The portal's address in forward-auth's Location is the public URL, whatever Host says.
    r = verify(s, params={"rd": "https://app.example.test/x"},
               headers={"Accept": "text/html", "Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    assert r.status_code == 401
    assert r.headers["Location"] == public + "/ui/login?return_to=https%3A%2F%2Fapp.example.test%2Fx"
    # At the default 8 KiB header limit a 10 kB cookie is refused before routing: 431, not 500.
    huge = "A" * 10240
    r = Browser(s).get("/ui/account", cookies={"gatehouse_session": huge})
    assert r.status_code == 431, r.status_code
    assert verify(s, huge).status_code == 431


def _forged_cookies(good):
    mid = len(good) // 2
    flipped = good[:mid] + ("A" if good[mid] != "A" else "B") + good[mid + 1:]
    return {
        "flipped": flipped,
        "truncated": good[: len(good) - 10],
        "extended": good + "AAAA",
        "random_5k": base64.urlsafe_b64encode(os.urandom(3800)).decode().rstrip("="),
        "huge_10k": base64.urlsafe_b64encode(os.urandom(7680)).decode().rstrip("="),
        "not_base64": "%%%!!*()",
        "json_looking": "eyJzaWQiOiJ4In0",
        "quoted": '"' + good + '"',
    }


@pytest.mark.parametrize("kind", ["flipped", "truncated", "extended", "random_5k", "huge_10k", "not_base64",
                                  "json_looking", "quoted"])
def test_forged_truncated_and_huge_cookies_are_refused_cleanly(portal, kind):
    name = unique("forge")
    register(portal, name)
    b = signed_in(portal, name)
    good = b.session
    bad = _forged_cookies(good)[kind]
    jar = {"gatehouse_csrf": b.jar["gatehouse_csrf"], "gatehouse_session": bad}
    x = Browser(portal)
    assert_to_login(x.get("/ui/account", cookies=jar))
    assert_to_login(x.get("/ui/admin", cookies=jar), "/ui/admin")
    assert_to_login(x.post("/ui/logout", {"csrf": csrf_in(b.get("/ui/account"))}, cookies=jar), "/ui/account")
    r = x.get("/ui/login", cookies=jar)
    assert_page(r, 200)  # the portal itself opens (no redirect loop)
    r = verify(portal, bad)
    assert r.status_code == 401 and r.json() == {"detail": "Could not validate credentials"}, r.text
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    # The genuine cookie is unharmed.
    assert verify(portal, good).status_code == 200


# --- 6. the browser session is a session ---------------------------------------------------------

def test_the_browser_session_is_listed_and_ended_by_the_sessions_api(portal):
    name = unique("listed")
    register(portal, name)
    token = portal.token(name)
    b = signed_in(portal, name)
    sid = current_session_id(b)
    listed = {s["id"]: s for s in api_sessions(portal, token)}
    assert sid in listed, "the sessions API does not list the browser's session"
    assert listed[sid]["current"] is False and listed[sid]["user_agent"] == UA and listed[sid]["ip"] == "127.0.0.1"
    # The page lists the token's session too, and ends it with its form.
    page = b.get("/ui/account")
    token_sid = [s["id"] for s in api_sessions(portal, token) if s["current"]]
    assert len(token_sid) == 1 and f'<tr data-session-id="{token_sid[0]}">' in page.text
    r = b.post(f"/ui/account/sessions/{token_sid[0]}/end", {"csrf": csrf_in(page)})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/account?done=session-ended#sessions"
    assert requests.get(portal.url("/api/v1/auth/me"), headers=auth(token)).status_code == 401
    assert "The session has ended." in main_text(b.get("/ui/account", params={"done": "session-ended"}))
    # Ending the browser's session through the API kills the cookie everywhere.
    token = portal.token(name)
    assert requests.delete(portal.url(f"/api/v1/auth/sessions/{sid}"), headers=auth(token)).status_code == 204
    r = verify(portal, b.session)
    assert r.status_code == 401 and r.json() == {"detail": "Could not validate credentials"}
    assert_to_login(b.get("/ui/account"))
    assert me(portal, token)["username"] == name


def test_sign_out_ends_the_session_and_a_replayed_cookie_stays_refused(portal):
    name = unique("logout")
    register(portal, name)
    token = portal.token(name)
    b = signed_in(portal, name)
    old, sid = b.session, current_session_id(b)
    r = b.get("/ui/logout")
    assert_page(r, 200)
    assert "logout-confirm-form" in form_ids(r)
    assert verify(portal, old).status_code == 200, "opening the sign-out page signed the browser out"
    r = b.post("/ui/logout", {"csrf": csrf_in(r)})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/login?signed_out=1"
    assert b.session is None
    assert sid not in {s["id"] for s in api_sessions(portal, token)}
    assert verify(portal, old).status_code == 401
    replay = Browser(portal)
    replay.jar = {"gatehouse_session": old}
    assert_to_login(replay.get("/ui/account"))
    replay.jar = {"gatehouse_session": old}
    assert_to_login(replay.post("/ui/logout", {"csrf": "whatever"}))
    r = Browser(portal).get("/ui/login", params={"signed_out": "1"})
    assert "You have signed out." in main_text(r)


def test_a_password_change_through_the_api_ends_the_browser_session(portal):
    name = unique("pwapi")
    register(portal, name)
    b = signed_in(portal, name)
    token = portal.token(name)
    r = requests.post(portal.url("/api/v1/auth/password"), headers=auth(token),
                      json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    assert verify(portal, b.session).status_code == 401
    assert_to_login(b.get("/ui/account"))
    assert signed_in(portal, name, NEW_PASSWORD).session


# --- 7. nobody above their rights; the cookie is no API credential -------------------------------

def test_a_plain_user_is_refused_by_the_console(portal):
    plain = register(portal, unique("plain"))
    victim = register(portal, unique("victim"))
    admin = cli_user(portal, unique("padmin"), "admin")
    vb = signed_in(portal, victim.name)
    b = signed_in(portal, plain.name)
    assert '<a href="/ui/admin"' not in b.get("/ui/account").text
    for path in ("/ui/admin", f"/ui/admin/users/{admin.id}", f"/ui/admin/users/{victim.id}", "/ui/admin/audit"):
        r = b.get(path)
        assert_page(r, 403)
        assert FORBIDDEN in main_text(r)
    token = csrf_in(b.get("/ui/account"))
    for target in (victim, plain):
        for action, data in [("role", {"role": "admin"}), ("active", {"is_active": "false"}),
                             ("sessions-end", {}), ("mfa-reset", {}),
                             ("password", {"new_password": NEW_PASSWORD})]:
            r = b.post(f"/ui/admin/users/{target.id}/{action}", {**data, "csrf": token})
            assert_page(r, 403)
            assert FORBIDDEN in main_text(r), (target.name, action, main_text(r))
    for target in (victim, plain):
        u = user_by_id(portal, admin.token, target.id)
        assert (u["role"], u["is_active"]) == ("user", True), u
    assert verify(portal, vb.session).status_code == 200
    assert portal.login(victim.name, PASSWORD).status_code == 200
    # The account page's key form keeps to the API's rule: no scope the user does not hold.
    r = b.post("/ui/account/api-keys", {"name": "grab", "scopes": ["users:read", "users:delete"], "csrf": token})
    assert_page(r, 422)
    assert "new-api-key" not in r.text
    assert requests.get(portal.url("/api/v1/api-keys"), headers=auth(portal.token(plain.name))).json()["items"] == []


def test_a_moderator_cannot_act_on_an_admin_but_can_on_a_user(portal):
    mod = cli_user(portal, unique("mod"), "moderator")
    admin = cli_user(portal, unique("madmin"), "admin")
    user = register(portal, unique("moduser"))
    ab, ub = signed_in(portal, admin.name), signed_in(portal, user.name)
    b = signed_in(portal, mod.name)
    r = b.get("/ui/admin", params={"q": user.name})
    assert_page(r, 200)
    assert f'data-user-id="{user.id}"' in r.text and 'id="analytics"' not in r.text
    assert_page(b.get("/ui/admin/audit"), 403)  # analytics:view is not a moderator's
    r = b.get(f"/ui/admin/users/{admin.id}")
    assert_page(r, 200)
    assert "you cannot change it" in main_text(r)
    assert not {"active-form", "sessions-end-form", "set-password-form", "role-form"} & form_ids(r)
    token = csrf_in(r)
    for action, data in [("active", {"is_active": "false"}), ("sessions-end", {}),
                         ("password", {"new_password": NEW_PASSWORD}), ("role", {"role": "user"}),
                         ("mfa-reset", {})]:
        r = b.post(f"/ui/admin/users/{admin.id}/{action}", {**data, "csrf": token})
        assert_page(r, 403)
        assert FORBIDDEN in main_text(r), (action, main_text(r))
    u = user_by_id(portal, admin.token, admin.id)
    assert (u["role"], u["is_active"]) == ("admin", True)
    assert verify(portal, ab.session).status_code == 200, "the admin's browser session survived"
    assert portal.login(admin.name, PASSWORD).status_code == 200, "the admin's password is unchanged"
    refused = audit(portal, admin.token, type="user.change_refused", user_id=admin.id)
    assert len(refused) >= 3, refused
    # Within rights, the same forms work.
    r = b.get(f"/ui/admin/users/{user.id}")
    assert {"active-form", "sessions-end-form", "set-password-form"} <= form_ids(r)
    assert "role-form" not in form_ids(r)  # roles:manage is the admin's
    r = b.post(f"/ui/admin/users/{user.id}/sessions-end", {"csrf": token})
    assert r.status_code == 303 and r.headers["Location"] == f"/ui/admin/users/{user.id}?done=sessions-ended"
    assert verify(portal, ub.session).status_code == 401
    ub = signed_in(portal, user.name)
    r = b.post(f"/ui/admin/users/{user.id}/active", {"is_active": "false", "csrf": token})
    assert r.status_code == 303 and r.headers["Location"] == f"/ui/admin/users/{user.id}?done=active"
    assert verify(portal, ub.session).status_code == 401, "a deactivation ends the browser session"
    r = portal.login(user.name)
    assert r.status_code == 403 and r.json() == {"detail": "Account is deactivated"}
    r = Browser(portal).sign_in(user.name)
    assert_page(r, 403)
    assert "Account is deactivated" in main_text(r)
    r = Browser(portal).sign_in(user.name, "Wr0ng-Passw0rd!")
    assert_page(r, 401)  # only the right password learns that the account is deactivated


def test_an_admin_sets_a_password_and_a_demotion_reaches_a_signed_in_browser(portal):
    admin = cli_user(portal, unique("sadmin"), "admin")
    mod = cli_user(portal, unique("smod"), "moderator")
    ab, mb = signed_in(portal, admin.name), signed_in(portal, mod.name)
    r = ab.get("/ui/admin")
    assert_page(r, 200)
    assert 'id="users-table"' in r.text and 'id="registrations-chart"' in r.text
    assert_page(ab.get("/ui/admin/audit", params={"type": "login.succeeded"}), 200)
    r = ab.get(f"/ui/admin/users/{mod.id}")
    assert {"role-form", "active-form", "sessions-end-form", "set-password-form"} <= form_ids(r)
    token = csrf_in(r)
    r = ab.post(f"/ui/admin/users/{mod.id}/password", {"new_password": NEW_PASSWORD, "csrf": token})
    assert r.status_code == 303 and r.headers["Location"] == f"/ui/admin/users/{mod.id}?done=password", r.text[:400]
    assert verify(portal, mb.session).status_code == 401
    assert requests.get(portal.url("/api/v1/auth/me"), headers=auth(mod.token)).status_code == 401
    assert portal.login(mod.name, PASSWORD).status_code == 401
    mb = signed_in(portal, mod.name, NEW_PASSWORD)
    assert_page(mb.get("/ui/admin"), 200)
    # A demotion narrows the signed-in browser at once.
    r = ab.post(f"/ui/admin/users/{mod.id}/role", {"role": "user", "csrf": token})
    assert r.status_code == 303 and r.headers["Location"] == f"/ui/admin/users/{mod.id}?done=role"
    assert_page(mb.get("/ui/admin"), 403)
    r = verify(portal, mb.session)
    assert r.status_code == 200 and "users:write" not in r.headers["X-Auth-Scopes"].split()
    assert r.headers["X-Auth-User-Role"] == "user"


def test_no_admin_link_for_a_user_who_must_first_enrol(make_server):
    """Found by an outside attack of the console: a user whose role must enrol a second factor
    (MFA_REQUIRED_ROLES) was shown the Admin link, which only led to a 403. The console stays
    refused until they enrol; the link is not offered meanwhile."""
    s = make_server({"MFA_REQUIRED_ROLES": "admin"})
    admin = cli_user(s, unique("enrol"), "admin")
    b = signed_in(s, admin.name)
    page = b.get("/ui/account")
    assert_page(page, 200)
    assert '<a href="/ui/admin"' not in page.text
    assert_page(b.get("/ui/admin"), 403)
    t = make_server()
    other = cli_user(t, unique("admin"), "admin")
    assert '<a href="/ui/admin"' in signed_in(t, other.name).get("/ui/account").text


def test_the_console_offers_no_change_to_ones_own_account(make_server):
    s = make_server()
    admin = cli_user(s, "onlyadmin", "admin")
    b = signed_in(s, admin.name)
    token = csrf_in(b.get("/ui/account"))
    # One's own row offers no change (the account page is where one changes oneself), and a
    # forged post is refused before the last-admin count.
    page = b.get(f"/ui/admin/users/{admin.id}")
    assert_page(page, 200)
    assert "This is your own account" in main_text(page)
    assert not form_ids(page) & {"role-form", "active-form", "mfa-reset-form", "set-password-form"}, form_ids(page)
    for action, data in [("active", {"is_active": "false"}), ("role", {"role": "moderator"})]:
        assert_page(b.post(f"/ui/admin/users/{admin.id}/{action}", {**data, "csrf": token}), 403)
    u = user_by_id(s, admin.token, admin.id)
    assert (u["role"], u["is_active"]) == ("admin", True)
    assert_page(b.get("/ui/admin"), 200)


def test_an_administrators_routes_never_skip_the_self_service_checks_on_ones_own_account(portal):
    """An outside attack: with a fresh token, a moderator (or an admin) set its own password through
    PUT /users/{id}/password, no current password asked, and moved its own address through
    PATCH /users/{id}, no confirmation mail: a stolen token took the account for good."""
    mod = cli_user(portal, unique("smod"), "moderator")
    other = register(portal, unique("suser"))
    for who in (mod, cli_user(portal, unique("sadm"), "admin")):
        r = requests.put(portal.url(f"/api/v1/users/{who.id}/password"), headers=auth(who.token),
                         json={"new_password": NEW_PASSWORD})
        assert r.status_code == 403 and r.json() == {"detail": FORBIDDEN}, r.text
        r = requests.patch(portal.url(f"/api/v1/users/{who.id}"), headers=auth(who.token),
                           json={"email": unique("thief") + "@evil.example"})
        assert r.status_code == 403 and r.json() == {"detail": FORBIDDEN}, r.text
        r = requests.delete(portal.url(f"/api/v1/users/{who.id}/mfa"), headers=auth(who.token))
        assert r.status_code == 403 and r.json() == {"detail": FORBIDDEN}, r.text
        # Found by the next outside attack: the console's deactivate button on one's own row.
        r = requests.patch(portal.url(f"/api/v1/users/{who.id}"), headers=auth(who.token),
                           json={"is_active": False})
        assert r.status_code == 403 and r.json() == {"detail": FORBIDDEN}, r.text
        b = signed_in(portal, who.name)
        r = b.post(f"/ui/admin/users/{who.id}/active", {"is_active": "false", "csrf": csrf_in(b.get("/ui/account"))})
        assert_page(r, 403)
        assert user_by_id(portal, who.token, who.id)["is_active"] is True
        # Nor deleted or demoted (a review of that fix).
        r = requests.delete(portal.url(f"/api/v1/users/{who.id}"), headers=auth(who.token))
        assert r.status_code == 403 and r.json() == {"detail": FORBIDDEN}, r.text
        r = requests.put(portal.url(f"/api/v1/users/{who.id}/role"), headers=auth(who.token), json={"role": "user"})
        assert r.status_code == 403 and r.json() == {"detail": FORBIDDEN}, r.text
        assert portal.login(who.name, PASSWORD).status_code == 200
        # The caller's other changes to itself stand, and another's password is still theirs to set.
        r = requests.patch(portal.url(f"/api/v1/users/{who.id}"), headers=auth(who.token),
                           json={"username": unique("renamed")})
        assert r.status_code == 200, r.text
    r = requests.put(portal.url(f"/api/v1/users/{other.id}/password"), headers=auth(mod.token),
                     json={"new_password": NEW_PASSWORD})
    assert r.status_code == 204, r.text


def test_the_new_admin_api_routes_keep_to_the_callers_rights(portal):
    admin = cli_user(portal, unique("napi"), "admin")
    mod = cli_user(portal, unique("nmod"), "moderator")
    other_admin = cli_user(portal, unique("nadm2"), "admin")
    user = register(portal, unique("nuser"))
    ub = signed_in(portal, user.name)
    utoken = portal.token(user.name)
    # Above rights: a moderator on an admin, a user on anyone.
    for token, target in ((mod.token, other_admin.id), (utoken, mod.id)):
        r = requests.put(portal.url(f"/api/v1/users/{target}/password"), headers=auth(token),
                         json={"new_password": NEW_PASSWORD})
        assert r.status_code == 403 and r.json() == {"detail": FORBIDDEN}, r.text
        r = requests.delete(portal.url(f"/api/v1/users/{target}/sessions"), headers=auth(token))
        assert r.status_code == 403 and r.json() == {"detail": FORBIDDEN}, r.text
    assert me(portal, other_admin.token)["role"] == "admin"
    assert portal.login(other_admin.name, PASSWORD).status_code == 200
    r = requests.put(portal.url("/api/v1/users/999999/password"), headers=auth(admin.token),
                     json={"new_password": NEW_PASSWORD})
    assert r.status_code == 404 and r.json() == {"detail": "User not found"}
    r = requests.put(portal.url(f"/api/v1/users/{user.id}/password"), headers=auth(admin.token),
                     json={"new_password": "short"})
    assert r.status_code == 422
    # Within rights: every session of the user ends, the browser's included.
    r = requests.delete(portal.url(f"/api/v1/users/{user.id}/sessions"), headers=auth(mod.token))
    assert r.status_code == 204, r.text
    assert verify(portal, ub.session).status_code == 401
    assert requests.get(portal.url("/api/v1/auth/me"), headers=auth(utoken)).status_code == 401
    ub = signed_in(portal, user.name)
    r = requests.put(portal.url(f"/api/v1/users/{user.id}/password"), headers=auth(admin.token),
                     json={"new_password": NEW_PASSWORD, "keep_api_keys": False})
    assert r.status_code == 204, r.text
    assert verify(portal, ub.session).status_code == 401
    assert portal.login(user.name, NEW_PASSWORD).status_code == 200
    # The document names them and the cookie scheme, and hides the pages.
    doc = requests.get(portal.url("/openapi.json")).json()
    assert "put" in doc["paths"]["/api/v1/users/{id}/password"]
    assert "delete" in doc["paths"]["/api/v1/users/{id}/sessions"]
    scheme = doc["components"]["securitySchemes"]["SessionCookie"]
    assert scheme["in"] == "cookie" and scheme["name"] == "gatehouse_session"
    assert {"SessionCookie": []} in doc["paths"]["/api/v1/auth/verify"]["get"]["security"]
    assert not [p for p in doc["paths"] if p.startswith("/ui/")]


def test_the_session_cookie_is_not_an_api_credential(portal):
    name = unique("notapi")
    register(portal, name)
    b = signed_in(portal, name)
    sid = current_session_id(b)
    jar = {"Cookie": f"gatehouse_session={b.session}"}
    for method, path in [("GET", "/api/v1/auth/me"), ("GET", "/api/v1/users"), ("GET", "/api/v1/auth/sessions"),
                         ("DELETE", f"/api/v1/auth/sessions/{sid}"), ("GET", "/api/v1/api-keys"),
                         ("GET", "/api/v1/auth/mfa")]:
        r = requests.request(method, portal.url(path), headers=jar)
        assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}, (path, r.status_code, r.text)
    for path, body in [("/api/v1/auth/logout", None), ("/api/v1/api-keys", {"name": "via-cookie"}),
                       ("/api/v1/auth/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})]:
        r = requests.post(portal.url(path), json=body, headers=jar)
        assert r.status_code == 401, (path, r.status_code, r.text)
    r = requests.get(portal.url("/api/v1/external-data"), headers=jar)
    assert r.status_code == 401 and r.json() == {"detail": "API key required"}
    # Nothing happened; only the pages and forward-auth take the cookie.
    assert verify(portal, b.session).status_code == 200
    assert_page(b.get("/ui/account"), 200)
    assert portal.login(name, PASSWORD).status_code == 200


# --- 8. forward-auth -----------------------------------------------------------------------------

def _portal_location(server, url):
    return server.base + "/ui/login?return_to=" + urllib.parse.quote(url, safe="")


def test_forward_auth_for_nginx_points_a_refused_navigation_at_the_portal(portal):
    url = "http://allowed.example/app/page?x=1&y=a%20b"
    nav = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}
    r = verify(portal, params={"rd": url}, headers=nav)
    assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
    assert r.headers["Location"] == _portal_location(portal, url)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    cases = [
        ("Accept: text/html alone", {"rd": url}, {"Accept": "text/html"}, True),
        ("Sec-Fetch-Mode: navigate alone", {"rd": url}, {"Sec-Fetch-Mode": "navigate", "Accept": "*/*"}, True),
        ("original method HEAD", {"rd": url}, {**nav, "X-Original-Method": "HEAD"}, True),
        # A request that carried a token or key is no person at an address bar.
        ("a bad bearer token", {"rd": url}, {**nav, "Authorization": "Bearer not.a.token"}, False),
        ("an API client", {"rd": url}, {"Accept": "application/json"}, False),
        ("a script (Sec-Fetch-Mode: cors)", {"rd": url}, {"Accept": "text/html", "Sec-Fetch-Mode": "cors"}, False),
        ("original method POST", {"rd": url}, {**nav, "X-Original-Method": "POST"}, False),
        ("no rd", {}, nav, False),
        ("rd off-site", {"rd": "https://evil.example/"}, nav, False),
        ("rd scheme-relative", {"rd": "//evil.example/"}, nav, False),
        ("rd a local path", {"rd": "/ui/account"}, nav, False),
    ]
    for what, params, headers, redirected in cases:
        r = verify(portal, params=params, headers=headers)
        assert r.status_code == 401, (what, r.status_code)
        if redirected:
            assert r.headers.get("Location") == _portal_location(portal, url), (what, r.headers.get("Location"))
        else:
            assert "Location" not in r.headers, (what, r.headers.get("Location"))
    # rd empty: the URL comes from the proxy's headers.
    r = verify(portal, params={"rd": ""}, headers={**nav, "X-Original-URL": "http://allowed.example/from-header"})
    assert r.headers.get("Location") == _portal_location(portal, "http://allowed.example/from-header")
    r = verify(portal, params={"rd": ""}, headers={**nav, "X-Original-URL": "https://evil.example/x"})
    assert r.status_code == 401 and "Location" not in r.headers
    r = verify(portal, params={"rd": ""}, headers={**nav, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example:8443",
                                                   "X-Original-URI": "/fwd?q=1"})
    assert r.headers.get("Location") == _portal_location(portal, "https://app.example:8443/fwd?q=1")


def test_forward_auth_journey_and_a_good_cookie(portal):
    name = unique("fwd")
    user = register(portal, name)
    url = "https://app.example:8443/dashboard?tab=2"
    r = verify(portal, params={"rd": url}, headers={"Accept": "text/html"})
    location = urllib.parse.urlsplit(r.headers["Location"])
    b = Browser(portal)
    r = b.get(location.path + "?" + location.query)
    assert_page(r, 200)
    assert hidden(r, "return_to") == url
    r = b.post("/ui/login", {"username": name, "password": PASSWORD, "csrf": csrf_in(r), "return_to": url})
    assert r.status_code == 303 and r.headers["Location"] == url
    r = verify(portal, b.session, params={"rd": url}, headers={"Accept": "text/html"})
    assert r.status_code == 200 and "Location" not in r.headers
    assert r.headers["X-Auth-User-Id"] == str(user.id)
    assert r.headers["X-Auth-User-Email"] == user.email
    assert r.headers["X-Auth-User-Role"] == "user"
    assert set(r.headers["X-Auth-Scopes"].split()) == {"users:read", "posts:read", "posts:write"}
    assert r.headers["X-Auth-Amr"] == "pwd"
    r = verify(portal, b.session, params={"rd": url, "permission": "users:write"}, headers={"Accept": "text/html"})
    assert r.status_code == 403 and r.json() == {"detail": FORBIDDEN} and "Location" not in r.headers


@pytest.mark.parametrize("proxy", ["caddy", "traefik"])
def test_a_links_key_never_outranks_the_browsers_sign_in_behind_caddy_or_traefik(make_server, proxy):
    """A review of the fix for nginx (test_nginx.py): Caddy's forward_auth keeps the original
    query on the check's own URL, where ?api_key= was read before the session cookie, so a link
    carrying an attacker's key still made a signed-in victim pass as the attacker."""
    s = make_server({"FORWARD_AUTH_PROXY": proxy})
    owner = cli_user(s, unique("lowner"), "user")
    r = requests.post(s.url("/api/v1/api-keys"), json={"name": "link"}, headers=auth(owner.token))
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    victim = register(s, unique("lvictim"))
    b = signed_in(s, victim.name)
    original = {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/upload?api_key=" + key}
    for params in ({"api_key": key}, None):  # Caddy's kept query; Traefik's header only
        r = verify(s, b.session, params=params, headers=original)
        assert r.status_code == 200 and r.headers["X-Auth-User-Email"] == victim.email, (params, r.headers)
        r = verify(s, None, params=params, headers=original)
        assert r.status_code == 200 and r.headers["X-Auth-User-Email"] == owner.email, (params, r.headers)


def test_forward_auth_for_traefik_redirects_with_302(make_server):
    s = make_server({"FORWARD_AUTH_PROXY": "traefik", "ALLOWED_RETURN_URLS": ALLOWED})
    url = "http://allowed.example/t?x=1"
    nav = {"Accept": "text/html", "Sec-Fetch-Mode": "navigate"}
    r = raw_verify(s, params={"rd": url}, headers=nav)
    assert r.status_code == 302 and r.headers["Location"] == _portal_location(s, url)
    r = raw_verify(s, params={"rd": ""}, headers={**nav, "X-Forwarded-Proto": "http", "X-Forwarded-Host": "allowed.example",
                                              "X-Forwarded-Uri": "/from/traefik?a=1"})
    assert r.status_code == 302 and r.headers["Location"] == _portal_location(s, "http://allowed.example/from/traefik?a=1")
    # Traefik's method header counts; nginx's is not believed here.
    r = raw_verify(s, params={"rd": url}, headers={**nav, "X-Forwarded-Method": "POST"})
    assert r.status_code == 401 and "Location" not in r.headers
    r = raw_verify(s, params={"rd": url}, headers={**nav, "X-Original-Method": "POST"})
    assert r.status_code == 302
    for what, params, headers in [("json", {"rd": url}, {"Accept": "application/json"}), ("no rd", {}, nav),
                                  ("off-site", {"rd": "https://evil.example/"}, nav)]:
        r = raw_verify(s, params=params, headers=headers)
        assert r.status_code == 401 and "Location" not in r.headers, what
    register(s, "traefikuser")
    b = signed_in(s, "traefikuser")
    r = raw_verify(s, b.session, params={"rd": url}, headers=nav)
    assert r.status_code == 200 and r.headers["X-Auth-User-Email"] == "traefikuser@example.com"


def test_verify_302_matches_the_document(make_server):
    """The 302 carries no body (the 401's JSON would disagree with the document)."""
    s = make_server({"FORWARD_AUTH_PROXY": "traefik", "ALLOWED_RETURN_URLS": ALLOWED})
    r = raw_verify(s, params={"rd": ALLOWED + "/x"}, headers={"Accept": "text/html"})
    assert r.status_code == 302 and r.headers["Location"] == _portal_location(s, ALLOWED + "/x")
    problems = api_document(s).check("GET", "/api/v1/auth/verify", 302, r.headers.get("Content-Type"), r.content)
    assert problems == [], problems


# --- 9. a second node ----------------------------------------------------------------------------

@pytest.mark.timing
def test_a_cookie_works_on_every_node_and_sign_out_reaches_them(make_server, tmp_path):
    redis = Redis(tmp_path)
    redis.start()
    try:
        shared = {"MFA_SECRET_KEY": "mfa-secret-for-the-pages-test-0123456789abcdef", "REDIS_URL": redis.url}
        a = make_server(shared)
        b = make_server(shared)  # the same SQLite file (one tmp_path), SECRET_KEY and MFA_SECRET_KEY
        c = make_server({**shared, "MFA_SECRET_KEY": "another-mfa-secret-0123456789abcdefghijklmn"})
        register(a, "twonodes")
        ba = signed_in(a, "twonodes")
        cookie = ba.session
        on_b = Browser(b)
        on_b.jar = dict(ba.jar)
        r = on_b.get("/ui/account")
        assert_page(r, 200)
        assert '<dd id="profile-username">twonodes</dd>' in r.text
        assert verify(b, cookie).status_code == 200
        # B's sign-in page (answered from memory: B checked the session just now) sees the
        # browser signed in.
        r = on_b.get("/ui/login")
        assert (r.status_code, r.headers.get("Location")) == (303, "/ui/account")
        # A node with another key cannot open the cookie.
        assert verify(c, cookie).status_code == 401
        on_c = Browser(c)
        on_c.jar = dict(ba.jar)
        assert_to_login(on_c.get("/ui/account"))
        signed_in_jar = dict(ba.jar)  # the session cookie and the portal cookie bound to it
        # Sign out on A: B refuses the cookie within a second.
        r = ba.post("/ui/logout", {"csrf": csrf_in(ba.get("/ui/account"))})
        assert r.status_code == 303
        deadline = time.monotonic() + 1.0
        while verify(b, cookie).status_code != 401:
            assert time.monotonic() < deadline, "node B still takes the cookie 1 s after sign-out on A"
            time.sleep(0.05)
        on_b.jar = dict(ba.jar, gatehouse_session=cookie)
        assert_to_login(on_b.get("/ui/account"))
        # Nor does B's sign-in page take the ended session, with both its cookies, from memory:
        # it offers the form.
        on_b.jar = dict(signed_in_jar)
        assert_page(on_b.get("/ui/login"), 200)
    finally:
        redis.stop()


# --- 10. state that grows ------------------------------------------------------------------------

def _row_counts(server):
    path = server.tmp / "data" / "gatehouse.db"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: db.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def _rate_keys(server):
    text = requests.get(server.url("/metrics")).text
    return int(re.search(r"^gatehouse_rate_limit_keys (\d+)", text, re.M).group(1))


def test_anonymous_pages_and_refused_posts_leave_no_server_state(make_server):
    s = make_server()
    register(s, "stateful")
    before, keys = _row_counts(s), _rate_keys(s)
    cookies = set()
    for i in range(150):
        r = requests.get(s.url("/ui/login"), headers={"User-Agent": f"spray-{i}"})
        assert r.status_code == 200
        cookies.add(set_cookies(r)["gatehouse_csrf"][0])
    for path in ("/ui/register", "/ui/forgot-password", "/ui/reset-password", "/ui/logout", "/ui/account"):
        for _ in range(20):
            assert requests.get(s.url(path), allow_redirects=False).status_code in (200, 303)
    b = Browser(s)
    token = b.csrf()
    for i in range(40):
        # Refused before anything is read or counted: foreign, tokenless, or another browser's.
        r = b.post("/ui/login", {"username": f"spray{i}", "password": "x", "csrf": token},
                   headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
        r = requests.post(s.url("/ui/login"), data={"username": f"spray{i}", "password": "x", "csrf": token})
        assert r.status_code == 403
        r = b.get("/ui/account", cookies={"gatehouse_session": base64.urlsafe_b64encode(os.urandom(200)).decode()})
        assert r.status_code == 303
    assert len(cookies) == 150, "each cookie-less visit gets its own random CSRF cookie"
    assert _row_counts(s) == before, "anonymous page views or refused posts wrote to the database"
    assert _rate_keys(s) == keys, "refused posts created rate-limit counters"


# --- the second factor and step-up on the pages --------------------------------------------------

def test_the_second_factor_is_asked_before_the_cookie_is_given(portal):
    name = unique("totp")
    register(portal, name)
    token = portal.token(name)
    r = requests.post(portal.url("/api/v1/auth/mfa/totp"), json={"name": "phone"}, headers=auth(token))
    assert r.status_code == 201, r.text
    factor = r.json()
    r = requests.post(portal.url(f"/api/v1/auth/mfa/totp/{factor['id']}/confirm"),
                      json={"code": pyotp.parse_uri(factor["otpauth_uri"]).now()}, headers=auth(token))
    assert r.status_code == 200, r.text
    recovery = r.json()["recovery_codes"]
    b = Browser(portal)
    r = b.sign_in(name, return_to="/ui/account#mfa")
    assert_page(r, 200)
    assert "mfa-form" in form_ids(r) and b.session is None, "the password alone gave a session"
    mfa_token = hidden(r, "mfa_token")
    assert mfa_token and hidden(r, "return_to") == "/ui/account#mfa"
    totp = pyotp.parse_uri(factor["otpauth_uri"])
    near = {totp.at(time.time() + k * totp.interval) for k in range(-3, 4)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333", "444444", "555555", "666666", "777777")
                 if c not in near)  # 000000 alone was a valid code about once in 300,000 runs
    r = b.post("/ui/login/mfa", {"mfa_token": mfa_token, "code": wrong, "return_to": "/ui/account#mfa",
                                 "csrf": csrf_in(r)})
    assert_page(r, 401)
    # A mistyped code: asked again, with the same mfa_token (MFA_RATE_LIMIT counts the attempts).
    assert "Invalid code" in main_text(r) and b.session is None
    assert "mfa-form" in form_ids(r) and hidden(r, "mfa_token") == mfa_token
    # The mfa_token is bound to the browser that passed the password step: elsewhere, with a good
    # code, it is refused (and spent).
    thief = Browser(portal, ua="thief/1.0")
    r = thief.post("/ui/login/mfa", {"mfa_token": mfa_token, "code": recovery[0], "return_to": "",
                                     "csrf": thief.csrf()})
    assert_page(r, 401)
    assert thief.session is None
    r = b.post("/ui/login/mfa", {"mfa_token": mfa_token, "code": recovery[0], "return_to": "", "csrf": b.csrf()})
    assert_page(r, 401)
    assert b.session is None
    r = b.sign_in(name, return_to="/ui/account#mfa")
    r = b.post("/ui/login/mfa", {"mfa_token": hidden(r, "mfa_token"), "code": recovery[1],
                                 "return_to": hidden(r, "return_to"), "csrf": csrf_in(r)})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/account#mfa", r.text[:400]
    r = verify(portal, b.session)
    assert r.status_code == 200 and set(r.headers["X-Auth-Amr"].split()) == {"pwd", "rc"}
    assert 'id="factors-table"' in b.get("/ui/account").text
    # The second step checks its return address again: a forged hidden field goes nowhere.
    other = Browser(portal)
    r = other.sign_in(name)
    r = other.post("/ui/login/mfa", {"mfa_token": hidden(r, "mfa_token"), "code": recovery[2],
                                     "return_to": "https://evil.example/", "csrf": csrf_in(r)})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/account"


@pytest.mark.timing
def test_a_due_step_up_sends_the_browser_through_the_portal_again(make_server):
    s = make_server({"STEP_UP_MAX_AGE_SECONDS": "2"})
    name = "stepper"
    register(s, name)
    b = signed_in(s, name)
    r = b.post("/ui/account/api-keys", {"name": "fresh", "csrf": csrf_in(b.get("/ui/account"))})
    assert_page(r, 200)
    assert re.search(r'<code id="new-api-key" class="secret">([^<]+)</code>', r.text)
    time.sleep(3.2)
    token = csrf_in(b.get("/ui/account"))
    r = b.post("/ui/account/api-keys", {"name": "stale", "csrf": token})
    assert r.status_code == 303
    assert r.headers["Location"] == "/ui/login?return_to=%2Fui%2Faccount&reauth=1"
    assert "gatehouse_session" not in set_cookies(r), "a due step-up does not sign the browser out"
    assert_page(b.get("/ui/account"), 200)
    r = b.get(r.headers["Location"])
    assert_page(r, 200)  # signed in, yet the portal asks again
    assert "Sign in again to continue." in main_text(r)
    r = b.post("/ui/login", {"username": name, "password": PASSWORD, "csrf": csrf_in(r),
                             "return_to": hidden(r, "return_to")})
    assert r.status_code == 303 and r.headers["Location"] == "/ui/account"
    r = b.post("/ui/account/api-keys", {"name": "again", "csrf": csrf_in(b.get("/ui/account"))})
    assert_page(r, 200)
    key = re.search(r'<code id="new-api-key" class="secret">([^<]+)</code>', r.text).group(1)
    r = requests.get(s.url("/api/v1/auth/me"), headers={"X-API-Key": html.unescape(key)})
    assert r.status_code == 200 and r.json()["username"] == name
    names = sorted(k["name"] for k in requests.get(s.url("/api/v1/api-keys"), headers=auth(s.token(name))).json()["items"])
    assert names == ["again", "fresh"]


# --- found by the outside review ------------------------------------------------------------------

def test_an_application_holding_only_the_session_cookie_cannot_use_the_pages(portal):
    """Every application behind forward-auth receives gatehouse_session (SESSION_COOKIE_DOMAIN);
    the pages also want the host-only portal cookie, which never leaves Gatehouse's host."""
    name = unique("leak")
    register(portal, name)
    b = signed_in(portal, name)
    assert set(b.jar) >= {"gatehouse_session", "gatehouse_portal"}, b.jar
    stolen = {"gatehouse_session": b.session}
    # Forward-auth takes it: that is what it is for.
    assert verify(portal, b.session).status_code == 200
    # The pages do not, for reading or for acting.
    assert_to_login(b.get("/ui/account", cookies=stolen))
    assert_to_login(b.get("/ui/admin", cookies=stolen), back="/ui/admin")
    r = b.post("/ui/account/api-keys", {"name": "stolen", "csrf": csrf_in(b.get("/ui/account"))},
               cookies=stolen)
    assert r.status_code == 303 and r.headers["Location"].startswith("/ui/login"), r.status_code
    # A portal cookie of another session does not fit either.
    other = signed_in(portal, name)
    mixed = {"gatehouse_session": b.session, "gatehouse_portal": other.jar["gatehouse_portal"]}
    assert_to_login(b.get("/ui/account", cookies=mixed))
    # The browser that has both is still signed in, with no key made.
    r = b.get("/ui/account")
    assert_page(r, 200)
    assert 'id="api-keys-table"' not in r.text


def test_pages_and_forward_auth_never_answer_another_origins_script(make_server):
    """CORS_ALLOW_ORIGINS opens the JSON API to a listed origin's scripts, never the pages or
    verify (a listed sibling origin is same-site: the browser would send the cookie along)."""
    listed = "http://app.example.test"
    s = make_server({"CORS_ALLOW_ORIGINS": listed})
    name = unique("cors")
    register(s, name)
    b = signed_in(s, name)
    for path in ("/ui/account", "/ui/login", "/api/v1/auth/verify"):
        r = b.get(path, headers={"Origin": listed})
        assert "Access-Control-Allow-Origin" not in r.headers, (path, r.headers)
        pre = requests.options(s.url(path), headers={"Origin": listed, "Access-Control-Request-Method": "GET"})
        assert "Access-Control-Allow-Origin" not in pre.headers, (path, pre.headers)
    # The control: the JSON API answers the listed origin.
    r = requests.get(s.url("/api/v1/auth/me"), headers={**auth(s.token(name, PASSWORD)), "Origin": listed})
    assert r.headers.get("Access-Control-Allow-Origin") == listed


def test_page_forms_refuse_fields_their_api_route_refuses(portal):
    admin = cli_user(portal, unique("fadmin"), "admin")
    target = cli_user(portal, unique("ftarget"), "user")
    ab = signed_in(portal, admin.name)
    token = csrf_in(ab.get(f"/ui/admin/users/{target.id}"))
    r = ab.post(f"/ui/admin/users/{target.id}/active",
                {"is_active": "false", "username": "renamed", "email": "renamed@example.com", "csrf": token})
    assert_page(r, 422)
    assert "extra fields not permitted" in main_text(r)
    after = user_by_id(portal, admin.token, target.id)
    assert after["username"] == target.name and after["email"] == target.email and after["is_active"]
    r = ab.post(f"/ui/admin/users/{target.id}/password",
                {"new_password": NEW_PASSWORD, "bogus": "1", "csrf": token})
    assert_page(r, 422)
    assert portal.login(target.name, PASSWORD).status_code == 200
    # The form as the page sends it works.
    r = ab.post(f"/ui/admin/users/{target.id}/active", {"is_active": "false", "csrf": token})
    assert r.status_code == 303, r.text[:300]
    assert user_by_id(portal, admin.token, target.id)["is_active"] is False
    # Found by an outside attack: the portal's forgot form and the emailed links' forms took an
    # extra field their API routes refuse (ForgotPasswordRequest, ResetPasswordRequest, ...).
    b = Browser(portal)
    token = b.csrf("/ui/forgot-password")
    r = b.post("/ui/forgot-password", {"email": target.email, "foo": "1", "csrf": token})
    assert_page(r, 422)
    assert "This form takes the email address alone." in main_text(r)
    for path, fields in (("/ui/reset-password", {"token": "x" * 43, "new_password": NEW_PASSWORD}),
                         ("/ui/verify-email", {"token": "x" * 43}),
                         ("/ui/confirm-email", {"token": "x" * 43})):
        token = b.csrf(path)
        r = b.post(path, {**fields, "foo": "1", "csrf": token})
        assert_page(r, 422)
        assert "extra fields not permitted" in main_text(r), (path, main_text(r))
        r = b.post(path, {**fields, "csrf": token})
        assert r.status_code == 400, (path, r.status_code)  # as sent: only the token is wrong


def test_a_route_rule_wanting_a_second_factor_sends_the_browser_to_sign_in_again(make_server, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"routes": [{"method": "*", "path": "/vault/*", "permissions": [],
                                              "mfa": True}]}))
    s = make_server({"GATEHOUSE_POLICY_FILE": str(policy), "ALLOWED_RETURN_URLS": ALLOWED})
    name = unique("vault")
    register(s, name)
    b = signed_in(s, name)
    nav = {"Accept": "text/html", "X-Original-Method": "GET", "X-Original-URI": "/vault/x"}
    # Without a factor, signing in again would not help: the plain refusal, no loop.
    r = verify(s, b.session, params={"rd": ALLOWED + "/vault/x"}, headers=nav)
    assert r.status_code == 401 and r.json() == {"detail": "Step-up authentication required"}
    assert "Location" not in r.headers
    # A factor enrolled after this browser signed in: to the portal, to sign in with it.
    token = s.token(name, PASSWORD)
    made = requests.post(s.url("/api/v1/auth/mfa/totp"), json={}, headers=auth(token)).json()
    r = requests.post(s.url(f"/api/v1/auth/mfa/totp/{made['id']}/confirm"),
                      json={"code": pyotp.parse_uri(made["otpauth_uri"]).now()}, headers=auth(token))
    assert r.status_code == 200, r.text
    r = verify(s, b.session, params={"rd": ALLOWED + "/vault/x"}, headers=nav)
    assert r.status_code == 401 and r.json() == {"detail": "Step-up authentication required"}
    assert r.headers["Location"] == _portal_location(s, ALLOWED + "/vault/x") + "&reauth=1"
    # An API client with a token gets the plain challenge.
    r = verify(s, params={"rd": ""}, headers={**nav, **auth(token)})
    assert r.status_code == 401 and "Location" not in r.headers


def test_the_console_audit_page_links_to_older_events(portal):
    """A review: the console's audit page kept no `before`, so records past its newest 100 (a
    flood of harmless changes) could not be reached there. A full page links to the older one,
    with the same filters."""
    admin = cli_user(portal, unique("oadmin"), "admin")
    for i in range(60):  # 120 records of this admin's: keys made and revoked
        r = requests.post(portal.url("/api/v1/api-keys"), json={"name": f"k{i}"}, headers=auth(admin.token))
        assert r.status_code == 201, r.text
        assert requests.delete(portal.url(f"/api/v1/api-keys/{r.json()['id']}"),
                               headers=auth(admin.token)).status_code == 204
    b = signed_in(portal, admin.name)
    r = b.get("/ui/admin/audit", params={"user_id": admin.id})
    assert_page(r, 200)
    link = re.search(r'<a id="audit-older" href="([^"]+)"', r.text)
    assert link, r.text[-800:]
    href = html.unescape(link.group(1))
    assert href.startswith(f"/ui/admin/audit?user_id={admin.id}&before="), href
    path, query = href.split("?", 1)
    older = b.get(path, params=query)
    assert_page(older, 200)
    assert 'id="audit-older"' not in older.text  # the last page
    total = requests.get(portal.url("/api/v1/audit-events"), params={"user_id": admin.id, "limit": 1000},
                         headers=auth(admin.token)).json()["items"]
    rows = [len(re.findall(r"<tr><td>", page.text)) for page in (r, older)]
    assert rows == [100, len(total) - 100], (rows, len(total))  # every record once, in two pages
