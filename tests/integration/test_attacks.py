"""Attacks on the real interface, one test (or a few) each: forward-auth path spellings and forged
proxy headers, moderators and role managers acting above their rights, API keys managing their
owner's account, refreshes widening scope, unthrottled password guessing, sessions that end only
in part, rate-limiter state from refused requests, HTTP request smuggling and HEAD desync,
invisible characters in identities, unbounded API keys, 401s without a challenge, and policy and
registration switches that do not take."""
import http.client
import json
import math
import random
import re
import socket
import string
import subprocess
import time
import urllib.parse

import jwt
import pytest
import requests

from conftest import BIN, SECRET, Server, Wire, auth, body_of

PASSWORD = "Passw0rd!x"  # Server.register's default
ROUTES = {"routes": [{"method": "*", "path": "/admin/*", "permissions": ["users:delete"]},
                     {"method": "GET", "path": "/reports", "permissions": ["analytics:view"]}]}
FORBIDDEN = (403, {"detail": "Insufficient permissions"})


def write_policy(tmp_path, doc, name="policy.json"):
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return str(path)


def claims(token):
    return jwt.decode(token, SECRET, algorithms=["HS256"])


def me(s, **kwargs):
    return requests.get(s.url("/api/v1/auth/me"), **kwargs)


def user_id(s, token):
    r = me(s, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()["id"]


def new_user(s, name, password=PASSWORD):
    """Registers name@example.com and returns a fresh access token."""
    r = s.register(f"{name}@example.com", name, password)
    assert r.status_code == 201, r.text
    return s.token(name, password)


def create_key(s, token, **body):
    r = requests.post(s.url("/api/v1/api-keys"), json={"name": "attack", **body}, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()


def external_data(s, key):
    return requests.get(s.url("/api/v1/external-data"), headers={"X-API-Key": key})


def verify(s, token=None, **headers):
    return requests.get(s.url("/api/v1/auth/verify"), headers={**(auth(token) if token else {}), **headers})


def change_password(s, token, current, new, **extra):
    return requests.post(s.url("/api/v1/auth/password"), headers=auth(token),
                         json={"current_password": current, "new_password": new, **extra})


# --- 1. forward-auth: every spelling of a protected path is the protected path --------------------

# A plain user (role user: no users:delete, no analytics:view) against ROUTES.
PROTECTED_SPELLINGS = [
    "/admin/panel", "/%61dmin/panel", "//admin/panel", "/./admin/panel", "/static/../admin/panel",
    "/static/%2e%2e/admin/panel", "/ADMIN/panel", "/admin;x=1/panel", "/admin", "/reports",
    "/%72eports", "/REPORTS", "/reports/", "http://example.com/admin/panel",
    # Dot and empty segments are refused, not resolved: "/reports/..;/x" is inside /reports to
    # Express, Flask and Go, and "/x" to a resolver that drops ";..." first.
    "/reports/..;/x", "/reports/%2e%2e;/x", "/admin/../public", "/admin/%2e%2e/public",
    "/admin/x/..;/..;/public", "/admin//../x", "/public#/../admin/panel",
]
# Paths that cannot be normalised safely are refused whatever they would match.
UNNORMALISABLE = ["/admin%2Fpanel", "/x%2F..%2Fadmin", "/admin%5Cpanel", "/a%00b", "/%ff%fe", "/a%252Fb",
                  # Found by an outside attack: a hop that decodes and splits again (Apache's
                  # rewrite) serves "/admin%3F/x" as "/admin"; these passed the rules.
                  "/admin%3F/x", "/reports%3f", "/reports%23", "/admin%23/panel"]
# Outside the rules: "/reports" is exact, "/admin/*" covers /admin and /admin/... only.
UNPROTECTED = ["/app/page", "/reports-public", "/administrator"]


def test_forward_auth_path_spellings_cannot_bypass_a_route_rule(make_server, tmp_path):
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES)})
    admin = s.admin_token()
    token = new_user(s, "spelling")
    expected = {uri: 403 for uri in PROTECTED_SPELLINGS + UNNORMALISABLE}
    expected.update({uri: 200 for uri in UNPROTECTED})
    got = {uri: verify(s, token, **{"X-Original-Method": "GET", "X-Original-URI": uri}).status_code
           for uri in expected}
    assert got == expected
    r = verify(s, admin, **{"X-Original-Method": "GET", "X-Original-URI": "/admin/panel"})
    assert r.status_code == 200


def _letters_whose_case_is_ascii():
    """Every non-ASCII letter that one of Python's case mappings (upper, lower, casefold, title)
    turns into ASCII letters alone, with those letters in lower case; and U+0130, whose simple
    lower case (Java's) is "i"."""
    found = {0x130: "i"}
    for cp in range(0x80, 0x110000):
        c = chr(cp)
        for f in (str.upper, str.lower, str.casefold, str.title):
            if f(c) != c and f(c).isascii() and f(c).isalpha():
                found[cp] = f(c).lower()
                break
    return found


def test_forward_auth_letters_whose_case_is_ascii_cannot_bypass_a_rule(make_server, tmp_path):
    """Found by an outside attack: "/%C5%BFecret" (long s) passed a rule that "/SECRET" did not,
    and an application comparing with Python's upper() or Java's equalsIgnoreCase serves /secret
    for it. For every such letter, as Python's own case tables list them (not Gatehouse's list),
    a rule on the ASCII spelling covers the letter's; a rule may be written with the letter; a
    path with such a letter where no rule applies is served (German and Turkish sites), and é is
    just a letter."""
    letters = _letters_whose_case_is_ascii()
    assert len(letters) >= 12, letters
    rules = [{"method": "*", "path": f"/x{ascii}y/*", "permissions": ["users:delete"]}
             for ascii in sorted(set(letters.values()))]
    rules.append({"method": "*", "path": "/stra\u00dfe/*", "permissions": ["users:delete"]})
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, {"routes": rules})})
    token = new_user(s, "unicodecase")

    def check(uri):
        return verify(s, token, **{"X-Original-Method": "GET", "X-Original-URI": uri}).status_code

    got = {hex(cp): check(f"/x{urllib.parse.quote(chr(cp))}y/page") for cp in letters}
    assert got == {hex(cp): 403 for cp in letters}
    assert check("/STRASSE/page") == 403 and check("/stra%C3%9Fe/page") == 403
    assert check("/app/kay%C4%B1t") == 200 and check("/app/stra%C3%9Fe") == 200
    assert check("/xcaf%C3%A9y/page") == 200


def test_forward_auth_without_the_original_uri_is_refused_when_routes_exist(make_server, tmp_path):
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES)})
    token = new_user(s, "nouri")
    assert verify(s, token).status_code == 403
    assert verify(s, token, **{"X-Original-Method": "GET"}).status_code == 403


def test_forward_auth_with_an_empty_or_blank_method_is_refused(make_server, tmp_path):
    """Found by an outside attack: an empty X-Original-Method matched no rule's method and passed
    "GET /reports"; a method is a token, else 403 as without the header."""
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES)})
    token = new_user(s, "blankmethod")

    def check(method):
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        try:
            conn.putrequest("GET", "/api/v1/auth/verify")
            conn.putheader("Authorization", f"Bearer {token}")
            conn.putheader("X-Original-Method", method)
            conn.putheader("X-Original-URI", "/reports")
            conn.endheaders()
            return conn.getresponse().status
        finally:
            conn.close()
    assert {m: check(m) for m in ("", " ", "G ET", "GET,POST")} == {m: 403 for m in ("", " ", "G ET", "GET,POST")}
    # The rule is GET's; a method no rule of the path matches meets it (an outside attack: PUT,
    # DELETE, PATCH and OPTIONS passed, and an application ignoring the method serves its GET).
    assert {m: check(m) for m in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS")} == dict.fromkeys(
        ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"), 403)
    # A review: a method no rule can name (an application ignoring the method serves its GET)
    # meets every method's rules.
    assert check("FOO") == 403 and check("PROPFIND") == 403


def test_a_credential_header_sent_twice_is_refused(make_server, tmp_path):
    """Found by an outside attack (stop 61): of two Authorization headers the first was checked,
    and an application behind forward-auth reading the last (or a proxy keeping it) would act on a
    credential Gatehouse never saw. RFC 9110 makes Authorization a singleton: 400, as two
    Content-Type fields are; X-API-Key the same."""
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES)})
    token = new_user(s, "twiceheader")

    def status(*headers):
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        try:
            conn.putrequest("GET", "/api/v1/auth/verify")
            conn.putheader("X-Original-Method", "GET")
            conn.putheader("X-Original-URI", "/app")
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders()
            return conn.getresponse().status
        finally:
            conn.close()
    bearer = ("Authorization", f"Bearer {token}")
    assert status(bearer) == 200
    assert status(bearer, bearer) == 400
    assert status(bearer, ("authorization", "Bearer forged.by.someone")) == 400
    assert status(("X-API-Key", "gh_a"), ("X-Api-Key", "gh_b")) == 400


# --- 2. forward-auth believes only the configured proxy's headers ----------------------------------

@pytest.mark.parametrize("proxy", ["traefik", "caddy"])
def test_forward_auth_in_traefik_or_caddy_mode_ignores_forged_nginx_headers(make_server, tmp_path, proxy):
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES), "FORWARD_AUTH_PROXY": proxy})
    token = new_user(s, "traefikuser")
    key = create_key(s, token)["key"]
    r = verify(s, token, **{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/admin/panel",
                            "X-Original-Method": "GET", "X-Original-URI": "/app/ok"})
    assert r.status_code == 403
    r = verify(s, token, **{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/app/ok"})
    assert r.status_code == 200
    # The key in the original URI's query counts only from the header this proxy kind sends.
    r = verify(s, **{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/app/ok",
                     "X-Original-URI": f"/app/ok?api_key={key}"})
    assert r.status_code == 401
    r = verify(s, **{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": f"/app/ok?api_key={key}"})
    assert r.status_code == 200


def test_forward_auth_in_nginx_mode_ignores_forged_traefik_headers(make_server, tmp_path):
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES), "FORWARD_AUTH_PROXY": "nginx"})
    token = new_user(s, "nginxuser")
    key = create_key(s, token)["key"]
    r = verify(s, token, **{"X-Original-Method": "GET", "X-Original-URI": "/admin/panel",
                            "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/app"})
    assert r.status_code == 403
    r = verify(s, **{"X-Original-Method": "GET", "X-Original-URI": "/app/ok",
                     "X-Forwarded-Uri": f"/app/ok?api_key={key}"})
    assert r.status_code == 401
    r = verify(s, **{"X-Original-Method": "GET", "X-Original-URI": f"/app/ok?api_key={key}"})
    assert r.status_code == 200


def test_forward_auth_by_default_ignores_traefik_headers(make_server, tmp_path):
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES)})  # FORWARD_AUTH_PROXY=nginx
    token = new_user(s, "defaultproxy")
    r = verify(s, token, **{"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/app/page"})
    assert r.status_code == 403


# --- 4. no one acts above their own rights ---------------------------------------------------------

def test_a_moderator_cannot_change_or_deactivate_an_admin(server):
    admin = server.admin_token()
    admin_id = user_id(server, admin)
    mod_id = user_id(server, new_user(server, "moddy"))
    r = requests.put(server.url(f"/api/v1/users/{mod_id}/role"), json={"role": "moderator"}, headers=auth(admin))
    assert r.status_code == 200, r.text
    mod = server.token("moddy")
    for change in ({"email": "taken-over@example.com"}, {"is_active": False}):
        r = requests.patch(server.url(f"/api/v1/users/{admin_id}"), json=change, headers=auth(mod))
        assert (r.status_code, body_of(r)) == FORBIDDEN, change
    r = requests.get(server.url(f"/api/v1/users/{admin_id}"), headers=auth(admin))
    assert r.status_code == 200
    assert (r.json()["email"], r.json()["is_active"]) == ("root@example.com", True)
    plain_id = user_id(server, new_user(server, "plainjane"))
    r = requests.patch(server.url(f"/api/v1/users/{plain_id}"), json={"email": "jane@example.com"},
                       headers=auth(mod))
    assert r.status_code == 200 and r.json()["email"] == "jane@example.com"


def test_a_role_manager_cannot_grant_or_take_away_admin(make_server, tmp_path):
    # Everything a plain user holds plus the right to manage roles, but not admin's other rights.
    policy = {"roles": {"manager": ["users:read", "users:write", "roles:manage", "posts:read",
                                    "posts:write"]}}
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, policy)})
    admin = s.admin_token()
    admin_id = user_id(s, admin)
    r = s.cli("user", "create", "--email", "boss@example.com", "--username", "boss", "--role", "manager",
              "--password-stdin", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    manager = s.token("boss")
    plain_id = user_id(s, new_user(s, "worker"))

    def set_role(uid, role):
        return requests.put(s.url(f"/api/v1/users/{uid}/role"), json={"role": role}, headers=auth(manager))

    r = set_role(plain_id, "admin")
    assert (r.status_code, body_of(r)) == FORBIDDEN
    r = set_role(admin_id, "user")
    assert (r.status_code, body_of(r)) == FORBIDDEN
    r = set_role(plain_id, "user")
    assert r.status_code == 200 and r.json()["role"] == "user"
    roles = {u["id"]: u["role"] for u in requests.get(s.url("/api/v1/users"), headers=auth(admin)).json()["items"]}
    assert (roles[admin_id], roles[plain_id]) == ("admin", "user")


# --- 5. an API key never manages its owner's account ------------------------------------------------

@pytest.mark.parametrize("scopes", [["posts:read"], None], ids=["posts-read-key", "full-key"])
def test_an_api_key_cannot_manage_its_owners_account(server, scopes):
    token = new_user(server, "keyowner")
    other = server.login("keyowner").json()["access_token"]  # a second session to delete
    sessions = requests.get(server.url("/api/v1/auth/sessions"), headers=auth(token)).json()["items"]
    victim = claims(other)["sid"]
    assert victim in [i["id"] for i in sessions]
    key = create_key(server, token, **({"scopes": scopes} if scopes else {}))["key"]
    h = {"X-API-Key": key}
    assert me(server, headers=h).status_code == 200
    attempts = {  # the destructive ones last
        "GET /auth/sessions": lambda: requests.get(server.url("/api/v1/auth/sessions"), headers=h),
        "DELETE /auth/sessions/{id}": lambda: requests.delete(server.url(f"/api/v1/auth/sessions/{victim}"), headers=h),
        "GET /auth/identities": lambda: requests.get(server.url("/api/v1/auth/identities"), headers=h),
        "GET /api-keys": lambda: requests.get(server.url("/api/v1/api-keys"), headers=h),
        "POST /api-keys": lambda: requests.post(server.url("/api/v1/api-keys"), json={"name": "child"}, headers=h),
        "POST /auth/password": lambda: requests.post(server.url("/api/v1/auth/password"), headers=h,
                                                     json={"current_password": PASSWORD,
                                                           "new_password": "N3w-Passw0rd!"}),
        "POST /auth/logout": lambda: requests.post(server.url("/api/v1/auth/logout"), headers=h),
    }
    got = {}
    for name, call in attempts.items():
        r = call()
        got[name] = (r.status_code, body_of(r))
    assert got == {name: FORBIDDEN for name in attempts}
    assert me(server, headers=h).status_code == 200
    assert me(server, headers=auth(other)).status_code == 200  # that session still lives


# --- 6. a refresh never widens the scope -----------------------------------------------------------

def test_refresh_keeps_the_granted_scope(server):
    server.register("narrow@example.com", "narrow")
    pair = server.login("narrow", scope="posts:read").json()
    assert claims(pair["access_token"])["scopes"] == ["posts:read"]
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200, r.text
    refreshed = r.json()["access_token"]
    assert claims(refreshed)["scopes"] == ["posts:read"]
    r = requests.get(server.url("/api/v1/users"), headers=auth(refreshed))
    assert (r.status_code, body_of(r)) == FORBIDDEN


# --- 7. password guessing through the password-change endpoint -------------------------------------

def test_password_change_is_rate_limited_like_login(make_server):
    s = make_server({"LOGIN_RATE_LIMIT": ""})  # the default: 5/minute
    token = new_user(s, "guessme")  # one login from this IP
    for i in range(5):
        r = change_password(s, token, f"Wr0ng-guess-{i}!", "N3w-Passw0rd!")
        assert (r.status_code, body_of(r)) == (400, {"detail": "Incorrect password"}), i
    r = change_password(s, token, PASSWORD, "N3w-Passw0rd!")
    assert (r.status_code, body_of(r)) == (429, {"detail": "Too many requests"})
    assert int(r.headers["Retry-After"]) >= 1


def test_a_thief_cannot_block_the_owners_password_change(make_server):
    """Failures count per session: a stolen token's wrong guesses never lock the owner's own
    session out of changing the password."""
    # The thief and the owner come from different addresses (X-Forwarded-For from a trusted
    # proxy), so the per-address limit is not what this test sees.
    s = make_server({"LOGIN_RATE_LIMIT": "", "LOGIN_DELAY_AFTER_FAILURES": "2",
                     "LOGIN_MAX_DELAY_SECONDS": "2", "TRUSTED_PROXIES": "127.0.0.1"})
    thief = new_user(s, "stolen")
    for i in range(5):
        r = change_password(s, thief, f"Wr0ng-guess-{i}!", "N3w-Passw0rd!")
        assert r.status_code in (400, 429), r.text
        # Retry-After says the delay (a limits attack: 60 for a delay of a second or two; the
        # delays here are at most 2 s, a whole second more at most).
        assert r.status_code == 400 or 1 <= int(r.headers["Retry-After"]) <= 3, r.headers
    assert r.status_code == 429  # the thief's session is slowed down, not told "incorrect"
    owner = requests.post(s.url("/api/v1/auth/login"),
                          data={"username": "stolen", "password": PASSWORD},
                          headers={"X-Forwarded-For": "198.51.100.9"}).json()["access_token"]
    r = requests.post(s.url("/api/v1/auth/password"),
                      headers={**auth(owner), "X-Forwarded-For": "198.51.100.9"},
                      json={"current_password": PASSWORD, "new_password": "N3w-Passw0rd!"})
    assert r.status_code == 200, r.text


def test_refreshes_per_session_are_limited(make_server):
    """Each refresh can feed a revocation: a bounded pace keeps the revocation list bounded."""
    s = make_server({"REFRESH_RATE_LIMIT": "3/minute"})
    s.register("pacer@example.com", "pacer")
    pair = s.login("pacer").json()
    for _ in range(3):
        r = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 200, r.text
        pair = r.json()
    r = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
    assert (r.status_code, body_of(r)) == (429, {"detail": "Too many requests"})


def test_an_api_key_cannot_change_its_own_owner_through_the_users_api(server):
    admin = server.admin_token()
    uid = user_id(server, admin)
    key = create_key(server, admin)["key"]
    r = requests.patch(server.url(f"/api/v1/users/{uid}"), headers={"X-API-Key": key},
                       json={"email": "attacker@evil.example"})
    assert (r.status_code, body_of(r)) == FORBIDDEN
    r = requests.delete(server.url(f"/api/v1/users/{uid}"), headers={"X-API-Key": key})
    assert (r.status_code, body_of(r)) == FORBIDDEN
    assert me(server, headers=auth(admin)).json()["email"] == "root@example.com"


def test_a_get_rule_also_covers_head(make_server, tmp_path):
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES)})
    token = new_user(s, "header")
    r = verify(s, token, **{"X-Original-Method": "HEAD", "X-Original-URI": "/reports"})
    assert (r.status_code, body_of(r)) == FORBIDDEN


def test_the_other_proxy_kinds_headers_are_refused_when_routes_exist(make_server, tmp_path):
    """Behind Traefik with the default nginx mode, the client supplies X-Original-* itself: the
    presence of the other kind's headers fails closed."""
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES)})
    token = new_user(s, "mixed")
    r = verify(s, token, **{"X-Forwarded-Uri": "/admin/panel", "X-Forwarded-Method": "GET",
                            "X-Original-Method": "GET", "X-Original-URI": "/public"})
    assert (r.status_code, body_of(r)) == FORBIDDEN
    assert verify(s, token, **{"X-Original-Method": "GET", "X-Original-URI": "/public"}).status_code == 200


@pytest.mark.parametrize("twice", ["X-Original-URI", "X-Original-Method"])
def test_the_original_request_headers_sent_twice_are_refused(make_server, tmp_path, twice):
    """Found by the outside attack: with X-Original-URI twice the first value was judged
    (/public before /admin/panel: 200). Which one the proxy sent is unknown: refused."""
    s = make_server({"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, ROUTES)})
    token = new_user(s, "twice" + twice[-3:].lower())
    values = {"X-Original-URI": ["/public", "/admin/panel"], "X-Original-Method": ["GET", "DELETE"]}
    once = {"X-Original-URI": "/public", "X-Original-Method": "GET"}
    lines = [f"Authorization: Bearer {token}"]
    for name in ("X-Original-Method", "X-Original-URI"):
        lines += [f"{name}: {v}" for v in (values[name] if name == twice else [once[name]])]
    wire = Wire(s)
    wire.send(("GET /api/v1/auth/verify HTTP/1.1\r\nHost: x\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode())
    status, _, body = wire.response()
    wire.close()
    assert (status, json.loads(body)) == FORBIDDEN
    assert verify(s, token, **once).status_code == 200


# --- 8. ending things ends everything --------------------------------------------------------------

def test_deleting_a_session_ends_its_access_token_at_once(server):
    server.register("ender@example.com", "ender")
    a = server.login("ender").json()["access_token"]
    b = requests.post(server.url("/api/v1/auth/login"), data={"username": "ender", "password": PASSWORD},
                      headers={"User-Agent": "stolen-laptop"}).json()["access_token"]
    assert me(server, headers=auth(b)).status_code == 200
    items = requests.get(server.url("/api/v1/auth/sessions"), headers=auth(a)).json()["items"]
    target = next(i["id"] for i in items if i["user_agent"] == "stolen-laptop")
    assert requests.delete(server.url(f"/api/v1/auth/sessions/{target}"), headers=auth(a)).status_code == 204
    assert me(server, headers=auth(b)).status_code == 401
    assert me(server, headers=auth(a)).status_code == 200


def test_refresh_token_reuse_ends_the_sessions_access_tokens(server):
    server.register("reuse@example.com", "reuser")
    pair1 = server.login("reuser").json()
    pair2 = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": pair1["refresh_token"]}).json()
    assert me(server, headers=auth(pair2["access_token"])).status_code == 200
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": pair1["refresh_token"]})
    assert r.status_code == 401
    assert me(server, headers=auth(pair2["access_token"])).status_code == 401


def test_revoking_a_refresh_token_ends_its_access_token(server):
    server.register("revoker@example.com", "revoker")
    pair = server.login("revoker").json()
    r = requests.post(server.url("/api/v1/auth/revoke"),
                      data={"token": pair["refresh_token"], "token_type_hint": "refresh_token"})
    assert r.status_code == 200
    assert me(server, headers=auth(pair["access_token"])).status_code == 401


def test_deactivation_ends_the_owners_api_keys_for_good(server):
    admin = server.admin_token()
    token = new_user(server, "deactkey")
    uid = user_id(server, token)
    key = create_key(server, token)["key"]
    assert external_data(server, key).status_code == 200
    r = requests.patch(server.url(f"/api/v1/users/{uid}"), json={"is_active": False}, headers=auth(admin))
    assert r.status_code == 200
    r = external_data(server, key)
    assert (r.status_code, body_of(r)) == (401, {"detail": "Invalid API key"})
    r = me(server, headers={"X-API-Key": key})
    assert (r.status_code, body_of(r)) == (403, {"detail": "Inactive user"})
    r = requests.patch(server.url(f"/api/v1/users/{uid}"), json={"is_active": True}, headers=auth(admin))
    assert r.status_code == 200
    r = external_data(server, key)
    assert (r.status_code, body_of(r)) == (401, {"detail": "Invalid API key"})


def test_a_deleted_owners_api_key_is_refused(server):
    admin = server.admin_token()
    token = new_user(server, "deletedkey")
    uid = user_id(server, token)
    key = create_key(server, token)["key"]
    assert requests.delete(server.url(f"/api/v1/users/{uid}"), headers=auth(admin)).status_code == 204
    r = external_data(server, key)
    assert (r.status_code, body_of(r)) == (401, {"detail": "Invalid API key"})
    assert me(server, headers={"X-API-Key": key}).status_code == 401


def test_password_change_revokes_api_keys_unless_kept(server):
    token = new_user(server, "pwkeys")
    key = create_key(server, token)["key"]
    r = change_password(server, token, PASSWORD, "Sec0nd-Passw0rd!", keep_api_keys=True)
    assert r.status_code == 200, r.text
    assert external_data(server, key).status_code == 200
    token = server.token("pwkeys", "Sec0nd-Passw0rd!")
    r = change_password(server, token, "Sec0nd-Passw0rd!", "Th1rd-Passw0rd!")
    assert r.status_code == 200, r.text
    r = external_data(server, key)
    assert (r.status_code, body_of(r)) == (401, {"detail": "Invalid API key"})


@pytest.mark.timing
def test_a_token_from_the_same_second_as_a_password_change_is_refused(server):
    """Another session's access token (say, a thief's) issued in the very second the owner changes
    the password dies with the change; a login with the new password right after it works."""
    server.register("samesec@example.com", "samesec")
    passwords = [PASSWORD, "Oth3r-Passw0rd!"]
    same_second = []
    for i in range(10):
        current, new = passwords[i % 2], passwords[(i + 1) % 2]
        started = time.time()
        owner = server.login("samesec", current).json()["access_token"]
        login_time = time.time() - started
        # Time the next login so that its token is issued just after a second boundary, leaving
        # the password change (two hashes) most of that second.
        now = time.time()
        time.sleep(math.floor(now + login_time) + 1.05 - login_time - now)
        thief = server.login("samesec", current).json()["access_token"]
        r = change_password(server, owner, current, new)
        now = int(time.time())
        assert r.status_code == 200, r.text
        same_second.append(claims(thief)["iat"] == now)
        assert me(server, headers=auth(thief)).status_code == 401, f"iteration {i}, same second: {same_second[-1]}"
        fresh = server.login("samesec", new)
        assert fresh.status_code == 200, fresh.text
        assert me(server, headers=auth(fresh.json()["access_token"])).status_code == 200
        if same_second[-1]:
            break
    assert any(same_second), "no iteration issued the token in the second of the change"


# --- 9. refused requests create no state ------------------------------------------------------------

def rate_limit_keys(s):
    text = requests.get(s.url("/metrics")).text
    values = re.findall(r"^gatehouse_rate_limit_keys(?:\{[^}]*\})? ([0-9.eE+-]+)$", text, re.M)
    assert values, "/metrics has no gatehouse_rate_limit_keys gauge"
    return sum(float(v) for v in values)


def test_refused_logins_leave_no_rate_limiter_state(make_server):
    s = make_server({"LOGIN_RATE_LIMIT": ""})  # the default: 5/minute
    before = rate_limit_keys(s)
    codes = {}
    with requests.Session() as session:
        for _ in range(2000):
            email = "".join(random.choices(string.ascii_lowercase, k=288)) + "@example.com"  # 300 chars
            r = session.post(s.url("/api/v1/auth/login"), data={"username": email, "password": "Wr0ng-Passw0rd!"})
            codes[r.status_code] = codes.get(r.status_code, 0) + 1
    assert codes == {401: 5, 429: 1995}
    after = rate_limit_keys(s)
    assert after <= before + 20, (before, after)


# --- 10. HTTP framing over raw sockets ---------------------------------------------------------------

SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("encoding", ["gzip", "chunked, gzip"])
def test_transfer_encoding_not_ending_in_chunked_cannot_smuggle_a_request(server, encoding):
    wire = Wire(server)
    wire.send(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\n"
              b"Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n" + SMUGGLED)
    status, headers, _ = wire.response()
    assert (status, headers.get("connection", "").lower()) == (400, "close")
    assert wire.closes_without_more(), f"a second response followed: {wire.buf[:200]!r}"
    wire.close()


def test_http10_chunked_request_is_refused_and_closed(server):
    wire = Wire(server)
    wire.send(b"POST /api/v1/auth/login HTTP/1.0\r\nHost: x\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"0\r\n\r\n" + SMUGGLED)
    status, _, _ = wire.response()
    assert status == 400
    assert wire.closes_without_more(), f"more followed: {wire.buf[:200]!r}"
    wire.close()


def test_http11_request_without_host_is_refused(server):
    wire = Wire(server)
    wire.send(b"GET /healthz HTTP/1.1\r\n\r\n")
    status, _, _ = wire.response()
    assert status == 400
    wire.close()


@pytest.mark.parametrize("target", ["*metrics", "Xmetrics", "metrics", "xui/login", "?x", "*", "ftp://x/metrics"])
def test_a_target_of_no_http_form_is_refused_not_routed(server, target):
    """An outside attack: a target without its leading '/' was routed by dropping its first
    character, so "GET *metrics" through a proxy refusing paths that begin with /metrics (HAProxy's
    path_beg) answered the counters. Now anything but origin-form, absolute-form or "OPTIONS *"
    is a 400 (RFC 9112 §3.2), and the connection ends."""
    wire = Wire(server)
    wire.send(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    status, headers, body = wire.response()
    assert (status, headers.get("connection", "").lower()) == (400, "close"), (status, headers, body)
    assert b"gatehouse_" not in body and b"<form" not in body
    assert wire.closes_without_more(), f"more followed: {wire.buf[:200]!r}"
    wire.close()
    # The same requests in their own forms still answer.
    assert requests.get(server.url("/metrics")).status_code == 200
    wire = Wire(server)
    wire.send(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert wire.response()[0] == 404  # no route has "*"
    wire.send("GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert wire.response()[0] == 200
    wire.close()


def test_a_chunk_extension_without_end_cannot_grow_memory(server):
    """The read buffer is bounded: a chunk-size line that never ends is refused once it exceeds
    the buffer, instead of being held in memory whole."""
    wire = Wire(server, timeout=10)
    wire.send(b"POST /api/v1/auth/revoke HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
              b"Content-Type: application/x-www-form-urlencoded\r\n\r\n1;")
    # A megabyte, far past the buffer, then nothing more: a server holding the line whole would
    # wait for its end. (Counting what the kernel let through instead failed under load: loopback
    # socket buffers take megabytes before the server reads a byte.)
    sent = 0
    try:
        while sent < 1024 * 1024:
            wire.send(b"a" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        wire.close()
        return  # ended while we were still sending
    ended = False
    try:
        while True:
            if not wire.sock.recv(65536):
                ended = True
                break
    except ConnectionResetError:
        ended = True
    except socket.timeout:
        pass
    assert ended, "the server kept reading an endless chunk extension"
    wire.close()


@pytest.mark.parametrize("hosts", [[b"a", b"b"], [b"a b"], [b"a@b/c"], [b""]],
                         ids=["two-hosts", "space", "userinfo-path", "empty"])
def test_bad_or_duplicate_host_is_refused(server, hosts):
    wire = Wire(server)
    wire.send(b"GET /healthz HTTP/1.1\r\n" + b"".join(b"Host: " + h + b"\r\n" for h in hosts) + b"\r\n")
    status, _, _ = wire.response()
    assert status == 400
    wire.close()


def test_a_transfer_coding_we_do_not_implement_is_501(server):
    wire = Wire(server)
    wire.send(b"POST /api/v1/auth/revoke HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
              b"0\r\n\r\n")
    status, headers, _ = wire.response()
    assert (status, headers.get("connection", "").lower()) == (501, "close")
    wire.close()


def test_head_response_has_no_body_and_keeps_the_connection_in_step(server):
    wire = Wire(server)
    wire.send(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    head_status, head_headers, _ = wire.response(head=True)
    wire.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = wire.response()  # fails to parse if the HEAD answer carried a body
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert head_status == 200
    assert head_headers.get("content-length") == str(len(body))
    wire.close()


@pytest.mark.parametrize("request_bytes", [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n",
    b"GET /healthz HTTP/1.1\nHost: x\n\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
    b"POST /api/v1/auth/revoke HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab",
    b"POST /api/v1/auth/revoke HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\nContent-Length: 40\r\n\r\n",
    b"POST /api/v1/auth/revoke HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: \r\n\r\n"
    b"0\r\n\r\n",
    b"POST /api/v1/auth/revoke HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close, Content-Length\r\n\r\n",
], ids=["obs-fold", "space-before-colon", "bare-lf", "nul", "two-lengths", "framing-trailer", "te-te",
        "connection-drops-length"])
def test_malformed_framing_is_answered_400_and_closed(server, request_bytes):
    """The parser refuses what another parser on the path could read differently, and says so
    with the contract's error body before closing, instead of dropping the connection."""
    wire = Wire(server)
    wire.send(request_bytes + SMUGGLED)
    status, headers, body = wire.response()
    assert (status, json.loads(body), headers.get("connection", "").lower()) == \
        (400, {"detail": "Bad Request"}, "close")
    assert headers.get("x-content-type-options") == "nosniff"
    assert wire.closes_without_more(), f"a second response followed: {wire.buf[:200]!r}"
    wire.close()


def test_an_http_version_we_do_not_speak_is_505(server):
    wire = Wire(server)
    wire.send(b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n")
    status, _, body = wire.response()
    assert (status, json.loads(body)) == (505, {"detail": "HTTP Version Not Supported"})
    wire.close()


def test_pipelined_and_trickled_requests_are_answered_in_order(server):
    wire = Wire(server)
    chunked = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
               b"9;note=\"a;b\"\r\nusername=\r\n0\r\nX-Trailer: 1\r\n\r\n")
    # Three requests in one write: each is answered, in order, the chunked one in the middle.
    wire.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + chunked + b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
    assert [wire.response()[0] for _ in range(3)] == [200, 422, 404]
    # The same bytes one at a time.
    for byte in chunked:
        wire.send(bytes([byte]))
    assert wire.response()[0] == 422
    wire.close()


def test_a_large_request_then_part_of_the_next_keeps_those_bytes(server):
    # The first request's headers grow the connection's read buffer past its idle size; the bytes
    # of the next request that came with it must survive the buffer shrinking back between the
    # two, and the rest must complete them.
    wire = Wire(server)
    pad = "".join(f"X-Pad-{i}: {'p' * 90}\r\n" for i in range(60)).encode()
    for split in (1, 20, 33):  # the next request is 34 bytes
        nxt = b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
        wire.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + pad + b"\r\n" + nxt[:split])
        assert wire.response()[0] == 200
        wire.send(nxt[split:])
        assert wire.response()[0] == 404
    wire.close()


# --- 11. low ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("char", ["\u200b", "\u00ad", "\u202e", "\u2060", "\u2800"],
                         ids=["zero-width-space", "soft-hyphen", "rtl-override", "word-joiner",
                              "braille-blank"])
def test_invisible_characters_are_refused_in_identities(server, char):
    r = server.register(f"in{char}visible@example.com", "invisible")
    assert r.status_code == 422, r.text
    r = server.register("visible@example.com", f"in{char}visible")
    assert r.status_code == 422, r.text


def test_api_keys_per_user_are_capped_and_listed_in_pages(make_server):
    s = make_server({"API_KEYS_PER_USER": "3"})
    token = new_user(s, "keycap")
    for i in range(3):
        create_key(s, token, name=f"k{i}")
    r = requests.post(s.url("/api/v1/api-keys"), json={"name": "one-too-many"}, headers=auth(token))
    assert (r.status_code, body_of(r)) == (409, {"detail": "API key limit reached"})
    page = requests.get(s.url("/api/v1/api-keys?limit=2&offset=0"), headers=auth(token)).json()
    assert (len(page["items"]), page.get("total")) == (2, 3)
    page = requests.get(s.url("/api/v1/api-keys?limit=2&offset=2"), headers=auth(token)).json()
    assert (len(page["items"]), page.get("total")) == (1, 3)



def test_api_keys_made_at_once_stay_within_the_cap(make_server):
    """Found by an outside attack: 20 creations at once made 9 keys under a limit of 5 (the count
    and the insert were apart). Now exactly the cap is made, the rest get the 409."""
    import concurrent.futures
    s = make_server({"API_KEYS_PER_USER": "5"})
    token = new_user(s, "keyrace")

    def make(i):
        r = requests.post(s.url("/api/v1/api-keys"), json={"name": f"race{i}"}, headers=auth(token))
        return r.status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        codes = sorted(pool.map(make, range(20)))
    assert codes == [201] * 5 + [409] * 15, codes
    total = requests.get(s.url("/api/v1/api-keys"), headers=auth(token)).json()["total"]
    assert total == 5


UNAUTHENTICATED = {
    "refresh-bad-token": lambda s: requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": "garbage"}),
    "external-data-no-key": lambda s: requests.get(s.url("/api/v1/external-data")),
    "external-data-bad-key": lambda s: requests.get(s.url("/api/v1/external-data"), headers={"X-API-Key": "gh_nope"}),
    "me-bad-bearer": lambda s: me(s, headers={"Authorization": "Bearer garbage"}),
    "me-no-credentials": lambda s: me(s),
}


@pytest.mark.parametrize("case", UNAUTHENTICATED)
def test_every_401_carries_a_challenge(server, case):
    r = UNAUTHENTICATED[case](server)
    assert r.status_code == 401
    challenge = r.headers.get("WWW-Authenticate")
    assert challenge, f"401 without WWW-Authenticate: {r.text}"
    if case == "me-bad-bearer":
        assert 'error="invalid_token"' in challenge, challenge
    if case == "me-no-credentials":
        assert challenge.startswith("Bearer"), challenge


@pytest.mark.parametrize("method", ["FETCH", "get"])
def test_a_policy_route_with_an_unknown_method_stops_startup(tmp_path, method):
    policy = {"routes": [{"method": method, "path": "/reports", "permissions": ["analytics:view"]}]}
    s = Server(tmp_path, {"GATEHOUSE_POLICY_FILE": write_policy(tmp_path, policy)})
    s.start(wait=False)
    try:
        deadline = time.time() + 30
        while s.proc.poll() is None:
            try:
                started = requests.get(s.url("/readyz"), timeout=1).status_code == 200
            except requests.ConnectionError:
                started = False
            assert not started, f"serve started with route method {method!r}"
            assert time.time() < deadline, "serve neither started nor exited"
            time.sleep(0.05)
        assert s.proc.returncode != 0
        assert method in s.log_text()
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
        s.proc.wait()
        s.log.close()


# --- 12. policy and registration switches take effect --------------------------------------------------

def test_a_policy_can_narrow_the_default_user_role(make_server, tmp_path):
    default = make_server()
    r = requests.get(default.url("/api/v1/users"), headers=auth(new_user(default, "seeduser")))
    assert r.status_code == 200
    narrowed = make_server({"GATEHOUSE_POLICY_FILE": write_policy(
        tmp_path, {"roles": {"user": ["posts:read", "posts:write"]}})})
    r = requests.get(narrowed.url("/api/v1/users"), headers=auth(new_user(narrowed, "narrowuser")))
    assert (r.status_code, body_of(r)) == FORBIDDEN


def test_registration_can_be_switched_off(make_server):
    s = make_server({"REGISTRATION_ENABLED": "false"})
    r = s.register("walkin@example.com", "walkin")
    assert (r.status_code, body_of(r)) == (403, {"detail": "Registration is disabled"})
    r = s.cli("user", "create", "--email", "invited@example.com", "--username", "invited", "--role", "user",
              "--password-stdin", stdin=PASSWORD + "\n")
    assert r.returncode == 0, r.stderr
    assert s.login("invited@example.com").status_code == 200


def _connect_from(source, server, timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", server.port))
    return s


def _answer(sock):
    """The status line and headers of the one response `sock` receives before it closes."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return head.split("\r\n")


def test_one_client_cannot_hold_every_connection(make_server):
    """Found by an outside attack: 1024 idle keep-alive connections from one address (a request
    each per idle timeout keeps them) took every slot, and everyone else got 503. Connections per
    client address are limited; a trusted proxy, through which every client comes, is not."""
    s = make_server({"GATEHOUSE_MAX_CONNECTIONS_PER_CLIENT": "3", "TRUSTED_PROXIES": "127.0.0.4"})
    held = [_connect_from("127.0.0.3", s) for _ in range(3)]
    for h in held:  # each in use: accepted and counted
        h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answer(h)[0].startswith("HTTP/1.1 200"), "held connection refused"
    refused = _connect_from("127.0.0.3", s)
    refused.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    lines = _answer(refused)
    assert lines[0].startswith("HTTP/1.1 503") and "Retry-After: 1" in lines, lines
    refused.close()
    # Others still get in, and a trusted proxy has no per-client limit.
    assert requests.get(s.url("/healthz")).status_code == 200
    proxies = [_connect_from("127.0.0.4", s) for _ in range(5)]
    for p in proxies:
        p.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _answer(p)[0].startswith("HTTP/1.1 200")
    for c in held + proxies:
        c.close()
    # Its slots come back once it lets go (the server notices the closes asynchronously).
    deadline = time.time() + 5
    while True:
        again = _connect_from("127.0.0.3", s)
        again.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        ok = _answer(again)[0].startswith("HTTP/1.1 200")
        again.close()
        if ok:
            break
        assert time.time() < deadline, "the client's slots did not come back"
        time.sleep(0.1)


_BIG = b'{"username": "' + b"a" * 39970 + b'", "password": "x"}'  # a body of 40,003 bytes


def _big_head(extra=b""):
    return (b"POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + extra
            + b"Content-Length: " + str(len(_BIG)).encode() + b"\r\n\r\n")


def _second_while_first_holds(first, first_head, second, second_head):
    """`first` sends all of a big body but its last byte, and holds it; then `second` does: the
    status line and headers `second` is answered (it is closed after)."""
    first.sendall(first_head + _BIG[:-1])
    time.sleep(1)  # read, and held (a second: a busy machine's I/O thread may read late)
    second.sendall(second_head + _BIG[:-1])
    lines = _answer(second)
    second.close()
    return lines


def _busy(lines):
    return lines[0].startswith("HTTP/1.1 503") and "Retry-After: 1" in lines


def _answered(sock, data):
    sock.sendall(data)
    lines = _answer(sock)
    sock.close()
    return bool(lines) and not lines[0].startswith("HTTP/1.1 503")


def test_bodies_held_at_once_are_bounded(make_server):
    """Found by an outside attack: connections each sending all but the last byte of a
    maximal body held that much memory each (about 1 GiB from one client). Bodies held at once
    are bounded; the request that would pass the bound gets 503 with Retry-After, the others go
    on."""
    s = make_server({"GATEHOUSE_MAX_BODY_BYTES": "50000", "GATEHOUSE_MAX_BODY_MEMORY_BYTES": "65536"})
    first = _connect_from("127.0.0.5", s)
    lines = _second_while_first_holds(first, _big_head(), _connect_from("127.0.0.6", s), _big_head())
    assert _busy(lines), lines
    assert _answered(first, _BIG[-1:])
    # Given back: a whole body fits again.
    r = requests.post(s.url("/api/v1/auth/register"), data=_BIG, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    # Announcing a body holds nothing until its bytes come.
    announced = [_connect_from("127.0.0.9", s) for _ in range(4)]
    for a in announced:
        a.sendall(_big_head())
    time.sleep(0.3)
    r = requests.post(s.url("/api/v1/auth/register"), data=_BIG, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    for a in announced:
        a.close()


def test_one_client_cannot_spend_every_clients_body_budget(make_server):
    """Found by the review of the fix above: one address holding bodies filled the whole budget,
    and every other client's bodies over 4 KiB got 503. One address may hold an eighth of it (at
    least one whole body)."""
    s = make_server({"GATEHOUSE_MAX_BODY_BYTES": "50000", "GATEHOUSE_MAX_BODY_MEMORY_BYTES": "400000"})
    first = _connect_from("127.0.0.7", s)
    # The same client is past its share; another has its own.
    assert _busy(_second_while_first_holds(first, _big_head(), _connect_from("127.0.0.7", s), _big_head()))
    assert _answered(_connect_from("127.0.0.8", s), _big_head() + _BIG)
    first.close()


def test_behind_a_trusted_proxy_the_body_share_is_the_forwarded_clients(make_server):
    """Found by a review: behind a trusted proxy every client shares the proxy's address, so the
    per-client body share counted nothing, and one client filled the whole budget through it. The
    share is the forwarded client's."""
    s = make_server({"GATEHOUSE_MAX_BODY_BYTES": "50000", "GATEHOUSE_MAX_BODY_MEMORY_BYTES": "400000",
                     "TRUSTED_PROXIES": "127.0.0.1"})
    one, two = b"X-Forwarded-For: 203.0.113.7\r\n", b"X-Forwarded-For: 198.51.100.9\r\n"
    first = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    again = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    assert _busy(_second_while_first_holds(first, _big_head(one), again, _big_head(one)))
    other = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    assert _answered(other, _big_head(two) + _BIG)
    first.close()


def _client_of(s, request_id):
    lines = [line for line in s.log_text().splitlines() if f"request_id={request_id} " in line]
    assert lines, request_id
    return lines[-1].split(" client=", 1)[1].split(" ", 1)[0]


def _healthz_with(s, request_id, xff_lines):
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    extra = "".join(f"X-Forwarded-For: {v}\r\n" for v in xff_lines)
    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: {request_id}\r\n{extra}"
                 "Connection: close\r\n\r\n".encode())
    assert _answer(sock)[0].startswith("HTTP/1.1 200")
    sock.close()
    return _client_of(s, request_id)


def test_the_client_address_is_read_from_every_forwarded_line_and_must_be_an_address(make_server):
    """Found by an outside attack: only the first X-Forwarded-For line was read, so behind a
    proxy that adds a line of its own (HAProxy) the client's forged first line was its address;
    and a hop was never checked to be an address (log lines forged, junk in the audit trail)."""
    s = make_server({"TRUSTED_PROXIES": "127.0.0.1, 10.0.0.9"})
    assert _healthz_with(s, "xff-two-lines", ["198.51.100.1", "203.0.113.7"]) == "203.0.113.7"
    assert _healthz_with(s, "xff-proxy-hop", ["198.51.100.1", "203.0.113.7, 10.0.0.9"]) == "203.0.113.7"
    assert _healthz_with(s, "xff-junk", ["6.6.6.6 method=GET path=/admin"]) == "127.0.0.1"
    assert _healthz_with(s, "xff-junk-behind", ["203.0.113.8", "not-an-ip, 10.0.0.9"]) == "10.0.0.9"
    assert _healthz_with(s, "xff-port", ["1.2.3.4:5555"]) == "1.2.3.4"
    assert _healthz_with(s, "xff-v6", ["[2001:DB8:0:0::1]:443"]) == "2001:db8::1"
    assert _healthz_with(s, "xff-mapped", ["::ffff:192.0.2.7"]) == "192.0.2.7"


def test_trusted_proxies_take_ranges_and_refuse_what_would_match_nothing(make_server, tmp_path):
    """A new user's first try: TRUSTED_PROXIES=127.0.0.0/8 (or a host name) was taken and matched
    nothing, silently: every client behind the proxy shared the proxy's address, its limits and
    its lockouts. Ranges now work; anything else stops the start, named."""
    s = make_server({"TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.0/8"})
    assert _healthz_with(s, "xff-range", ["203.0.113.7, 10.1.2.3"]) == "203.0.113.7"
    for bad in ("10.0.0.1/8", "proxy.internal", "127.0.0.0/33", "*"):
        r = subprocess.run([BIN, "config", "--check"], env={**s.env, "TRUSTED_PROXIES": f"127.0.0.1,{bad}"},
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1, (bad, r.returncode, r.stderr)
        assert "TRUSTED_PROXIES" in r.stderr and bad in r.stderr, r.stderr


def test_an_ipv6_client_is_limited_by_its_slash_64(make_server):
    """Found by an outside attack: per-address limits counted each IPv6 address apart, so one
    host with a /64 had 2^64 budgets."""
    s = make_server({"TRUSTED_PROXIES": "127.0.0.1", "LOGIN_RATE_LIMIT": "3/minute"})
    statuses = []
    for i in range(1, 5):
        r = requests.post(s.url("/api/v1/auth/login"), data={"username": f"nobody{i}", "password": "x"},
                          headers={"X-Forwarded-For": f"2001:db8:1:2::{i:x}"})
        statuses.append(r.status_code)
    assert statuses == [401, 401, 401, 429], statuses
    # Another /64 has its own budget.
    r = requests.post(s.url("/api/v1/auth/login"), data={"username": "nobody9", "password": "x"},
                      headers={"X-Forwarded-For": "2001:db8:1:3::1"})
    assert r.status_code == 401, r.text


def test_on_a_dual_stack_listener_each_ipv4_client_has_its_own_limits(make_server):
    """Found by the review of the /64 fix: on a [::] listener an IPv4 client arrives as
    ::ffff:a.b.c.d, which the per-address limits took for one IPv6 /64 shared by every IPv4
    client: one client's failed logins locked out everyone's."""
    s = make_server(start=False)
    s.env["GATEHOUSE_LISTEN"] = f"[::]:{s.port}"
    s.env["LOGIN_RATE_LIMIT"] = "3/minute"
    s.start()
    s.register("dual@example.com", "dual")
    statuses = []
    for i in range(4):
        sock = _connect_from("127.0.0.66", s)
        body = f"username=nobody{i}&password=x".encode()
        sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        statuses.append(_answer(sock)[0].split(" ")[1])
        sock.close()
    assert statuses == ["401", "401", "401", "429"], statuses
    assert s.login("dual").status_code == 200  # from 127.0.0.1: its own budget
    assert "client=127.0.0.66 " in s.log_text()  # and one spelling of it
