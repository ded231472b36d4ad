"""The Auth section of API.md over real HTTP: register, login, refresh, logout, me."""
import http.client
import json
import time

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session

from conftest import SECRET, auth


def claims(token):
    return jwt.decode(token, SECRET, algorithms=["HS256"])


def test_register_returns_token_pair_with_user_scopes(server):
    r = server.register("ann@example.com", "ann")
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 1800
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    access = claims(body["access_token"])
    assert access["type"] == "access" and access["sub"].isdigit()
    assert sorted(access["scopes"]) == ["posts:read", "posts:write", "users:read"]
    assert access["iss"] == "gatehouse" and access["jti"]
    assert access["exp"] - access["iat"] == 1800
    assert "aud" not in access
    refresh = claims(body["refresh_token"])
    assert refresh["type"] == "refresh" and refresh["sub"] == access["sub"] and refresh["jti"]
    assert refresh["exp"] - refresh["iat"] == 7 * 86400
    assert "scopes" not in refresh


def test_register_conflicts(server):
    assert server.register("bob@example.com", "bob").status_code == 201
    r = server.register("BOB@example.com", "bob2")
    assert (r.status_code, r.json()) == (409, {"detail": "Email already registered"})
    r = server.register("bob2@example.com", "Bob")
    assert (r.status_code, r.json()) == (409, {"detail": "Username already taken"})


def test_register_validation_names_each_failed_rule(server):
    r = requests.post(server.url("/api/v1/auth/register"),
                      json={"email": "not-an-email", "username": "x!", "password": "short"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    locs = [tuple(d["loc"]) for d in detail]
    assert ("body", "email") in locs and ("body", "username") in locs
    msgs = " | ".join(d["msg"] for d in detail if d["loc"] == ["body", "password"])
    assert "at least 8 characters" in msgs
    assert "uppercase" in msgs and "digit" in msgs and "special" in msgs
    assert "lowercase" not in msgs
    for d in detail:
        assert set(d) == {"loc", "msg", "type"}


def test_register_refuses_password_over_72_bytes_with_bcrypt(server):
    r = server.register("long@example.com", "longpw", "Aa1!" + "x" * 69)
    assert r.status_code == 422
    assert any("72 bytes" in d["msg"] for d in r.json()["detail"])


def test_register_missing_fields_and_bad_json(server):
    r = requests.post(server.url("/api/v1/auth/register"), json={"email": "a@example.com"})
    assert r.status_code == 422
    assert {tuple(d["loc"]) for d in r.json()["detail"]} == {("body", "username"), ("body", "password")}
    assert all(d["type"] == "value_error.missing" for d in r.json()["detail"])
    r = requests.post(server.url("/api/v1/auth/register"), data="{bad json",
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and isinstance(r.json()["detail"], list)
    r = requests.post(server.url("/api/v1/auth/register"), data="email=a@example.com",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422


def test_login_by_email_or_username(server):
    server.register("cat@example.com", "cat")
    for ident in ("cat@example.com", "cat", "CAT@example.com"):
        r = server.login(ident)
        assert r.status_code == 200, ident
        assert r.headers["Cache-Control"] == "no-store"
    r = server.login("cat@example.com", grant_type="password")
    assert r.status_code == 200
    r = server.login("cat@example.com", grant_type="client_credentials")
    assert r.status_code == 422


def test_login_failures_are_identical_for_unknown_user_and_wrong_password(server):
    server.register("dan@example.com", "dan")
    wrong = server.login("dan@example.com", "Wrong-passw0rd")
    unknown = server.login("nobody@example.com", "Wrong-passw0rd")
    for r in (wrong, unknown):
        assert r.status_code == 401
        assert r.json() == {"detail": "Incorrect email or password"}
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert wrong.content == unknown.content


def test_login_missing_fields(server):
    r = requests.post(server.url("/api/v1/auth/login"), data={"username": "x"})
    assert r.status_code == 422
    assert [d["loc"] for d in r.json()["detail"]] == [["body", "password"]]


def test_login_takes_the_multipart_form_a_browsers_formdata_sends(server):
    """Found by a check of the seed's contract: FastAPI's OAuth2PasswordRequestForm takes
    multipart/form-data too (fetch with `new FormData(form)`, axios given a FormData, curl -F),
    and a seed frontend sending it got 422. Encoded here by urllib3, as requests' `files=` does;
    a field sent empty counts as absent, as with FastAPI's Form."""
    server.register("mia@example.com", "mia")
    login = server.url("/api/v1/auth/login")

    def multipart(fields):
        return requests.post(login, files={k: (None, v) for k, v in fields.items()})

    r = multipart({"username": "mia@example.com", "password": "Passw0rd!x", "grant_type": "password"})
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["type"] == "access"
    # The scope narrows as in the url-encoded form; an empty one is none asked.
    r = multipart({"username": "mia", "password": "Passw0rd!x", "scope": "users:read roles:manage"})
    assert claims(r.json()["access_token"])["scopes"] == ["users:read"]
    r = multipart({"username": "mia", "password": "Passw0rd!x", "scope": "", "grant_type": ""})
    assert sorted(claims(r.json()["access_token"])["scopes"]) == ["posts:read", "posts:write", "users:read"]
    r = server.login("mia", scope=" \t ")  # white space alone, as the seed's scope.split(): none
    assert sorted(claims(r.json()["access_token"])["scopes"]) == ["posts:read", "posts:write", "users:read"]
    # The same answers as the url-encoded form for a wrong password and a missing field.
    r = multipart({"username": "mia@example.com", "password": "Wrong-passw0rd"})
    assert (r.status_code, r.json()) == (401, {"detail": "Incorrect email or password"})
    for fields, missing in (({"username": "mia"}, [["body", "password"]]),
                            ({"username": "mia", "password": ""}, [["body", "password"]]),
                            ({"username": "", "password": "x"}, [["body", "username"]])):
        for send in (multipart, lambda f: requests.post(login, data=f)):
            r = send(fields)
            assert r.status_code == 422, (fields, r.text)
            assert [d["loc"] for d in r.json()["detail"]] == missing, r.text
            assert r.json()["detail"][0]["type"] == "value_error.missing"
    # A file where a text field belongs, or a body its boundary does not frame: one error item.
    r = requests.post(login, files={"username": (None, "mia"), "password": ("p.txt", b"Passw0rd!x")})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "value_error.form", r.text
    r = requests.post(login, data=b"--b\r\nContent-Disposition: form-data; name=username\r\n\r\nmia",
                      headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "value_error.form", r.text
    # Two Content-Type fields (an outside attack's note: a proxy reading the last one would see
    # another body than the first names): refused by the request parser, for every endpoint (a
    # review: the OpenID Provider's forms read the first too).
    for path, first, second, body in (
            ("/api/v1/auth/login", "multipart/form-data; boundary=b", "application/x-www-form-urlencoded",
             b"--b\r\nContent-Disposition: form-data; name=username\r\n\r\nmia\r\n--b--"),
            ("/api/v1/auth/register", "application/json", "text/plain", b'{"email": "x@example.com"}'),
            ("/oauth2/token", "application/x-www-form-urlencoded", "application/json", b"grant_type=x")):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", first)
        conn.putheader("Content-Type", second)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        answer = conn.getresponse()
        detail = json.loads(answer.read())["detail"]
        conn.close()
        assert (answer.status, detail) == (400, "Bad Request"), (path, answer.status, detail)


def test_login_scope_narrows_never_widens(server):
    server.register("eve@example.com", "eve")
    r = server.login("eve@example.com", scope="users:read roles:manage")
    assert r.status_code == 200
    assert claims(r.json()["access_token"])["scopes"] == ["users:read"]


def test_deactivated_account(server):
    admin = server.admin_token()
    server.register("fay@example.com", "fay")
    live = server.token("fay@example.com")
    uid = int(claims(live)["sub"])
    r = requests.patch(server.url(f"/api/v1/users/{uid}"), json={"is_active": False}, headers=auth(admin))
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = server.login("fay@example.com")
    assert (r.status_code, r.json()) == (403, {"detail": "Account is deactivated"})
    r = server.login("fay@example.com", "Wrong-passw0rd")
    assert r.status_code == 401  # only a correct password learns the account is deactivated
    r = requests.get(server.url("/api/v1/auth/me"), headers=auth(live))
    assert (r.status_code, r.json()) == (403, {"detail": "Inactive user"})


def test_refresh_rotates_and_detects_reuse(server):
    server.register("gus@example.com", "gus")
    first = server.login("gus@example.com").json()
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert r.headers["Cache-Control"] == "no-store"
    assert sorted(claims(second["access_token"])["scopes"]) == ["posts:read", "posts:write", "users:read"]
    # The rotated token no longer works, and presenting it revokes the whole session.
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": first["refresh_token"]})
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid refresh token"})
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": second["refresh_token"]})
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid refresh token"})


def test_refresh_rejects_access_tokens_and_garbage(server):
    server.register("hal@example.com", "hal")
    pair = server.login("hal@example.com").json()
    for bad in (pair["access_token"], "garbage", ""):
        r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": bad})
        assert (r.status_code, r.json()) == (401, {"detail": "Invalid refresh token"})
    r = requests.post(server.url("/api/v1/auth/refresh"), json={})
    assert r.status_code == 422


def test_refresh_for_inactive_user(server):
    admin = server.admin_token()
    server.register("ida@example.com", "ida")
    pair = server.login("ida@example.com").json()
    uid = claims(pair["access_token"])["sub"]
    requests.patch(server.url(f"/api/v1/users/{uid}"), json={"is_active": False}, headers=auth(admin))
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
    assert (r.status_code, r.json()) == (401, {"detail": "User not found or inactive"})


def test_logout_revokes_access_token_and_session(server):
    server.register("jay@example.com", "jay")
    pair = server.login("jay@example.com").json()
    r = requests.post(server.url("/api/v1/auth/logout"), headers=auth(pair["access_token"]))
    assert (r.status_code, r.json()) == (200, {"message": "Successfully logged out"})
    r = requests.get(server.url("/api/v1/auth/me"), headers=auth(pair["access_token"]))
    assert (r.status_code, r.json()) == (401, {"detail": "Could not validate credentials"})
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401
    r = requests.post(server.url("/api/v1/auth/logout"))
    assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"})


def test_logout_with_refresh_token_body(server):
    server.register("kim@example.com", "kim")
    a = server.login("kim@example.com").json()
    b = server.login("kim@example.com").json()  # a second session
    r = requests.post(server.url("/api/v1/auth/logout"), headers=auth(a["access_token"]),
                      json={"refresh_token": b["refresh_token"]})
    assert r.status_code == 200
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": b["refresh_token"]})
    assert r.status_code == 401


def test_revocation_survives_restart(make_server):
    s = make_server()
    s.register("lea@example.com", "lea")
    token = s.token("lea@example.com")
    assert requests.post(s.url("/api/v1/auth/logout"), headers=auth(token)).status_code == 200
    s.stop()
    s.start()
    assert requests.get(s.url("/api/v1/auth/me"), headers=auth(token)).status_code == 401


def test_me(server):
    server.register("max@example.com", "max")
    token = server.token("max")
    r = requests.get(server.url("/api/v1/auth/me"), headers=auth(token))
    assert r.status_code == 200
    user = r.json()
    # The seed's fields, and the second wave's mfa_enabled and email_verified (API.md).
    assert set(user) == {"id", "email", "username", "role", "is_active", "created_at", "mfa_enabled",
                         "email_verified"}
    assert user["email_verified"] is False  # nothing has proven the address yet
    assert user["mfa_enabled"] is False
    assert user["email"] == "max@example.com" and user["role"] == "user" and user["is_active"] is True
    assert time.strptime(user["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    # RFC 6750 §3: a presented and refused credential gets error="invalid_token".
    refused = 'Bearer error="invalid_token"'
    for headers, detail, challenge in (
            ({}, "Not authenticated", "Bearer"),
            ({"Authorization": "Bearer nope"}, "Could not validate credentials", refused),
            ({"Authorization": "Basic Zm9vOmJhcg=="}, "Could not validate credentials", refused)):
        r = requests.get(server.url("/api/v1/auth/me"), headers=headers)
        assert (r.status_code, r.json()) == (401, {"detail": detail}), headers
        assert r.headers["WWW-Authenticate"] == challenge


def test_token_over_cap_is_plain_401(make_server):
    s = make_server({"GATEHOUSE_MAX_TOKEN_BYTES": "1024"})
    s.register("cap@example.com", "capped")
    good = jwt.decode(s.token("capped"), SECRET, algorithms=["HS256"])
    big = jwt.encode({**good, "pad": "x" * 2000}, SECRET, algorithm="HS256", headers={"kid": "hs1"})
    r = requests.get(s.url("/api/v1/auth/me"), headers=auth(big))
    assert (r.status_code, r.json()) == (401, {"detail": "Could not validate credentials"})
    small = jwt.encode(good, SECRET, algorithm="HS256", headers={"kid": "hs1"})
    assert requests.get(s.url("/api/v1/auth/me"), headers=auth(small)).status_code == 200


def test_refresh_token_is_not_an_access_token(server):
    server.register("ned@example.com", "ned")
    pair = server.login("ned").json()
    r = requests.get(server.url("/api/v1/auth/me"), headers=auth(pair["refresh_token"]))
    assert (r.status_code, r.json()) == (401, {"detail": "Could not validate credentials"})


def test_expired_and_forged_tokens(server):
    server.register("oli@example.com", "oli")
    good = claims(server.token("oli"))
    now = int(time.time())
    expired = jwt.encode({**good, "exp": now - 10}, SECRET, algorithm="HS256", headers={"kid": "hs1"})
    forged = jwt.encode(good, "another-secret-that-is-long-enough-000", algorithm="HS256", headers={"kid": "hs1"})
    none = jwt.encode(good, None, algorithm="none")
    for token in (expired, forged, none):
        r = requests.get(server.url("/api/v1/auth/me"), headers=auth(token))
        assert r.status_code == 401, token


def test_tokens_made_elsewhere_need_a_jti(server):
    # Tokens made exactly like the seed's create_access_token (no kid, no jti) still decode with
    # SECRET_KEY, but the server also needs jti for revocation: such tokens are refused.
    server.register("pam@example.com", "pam")
    good = claims(server.token("pam"))
    seedlike = jwt.encode({k: v for k, v in good.items() if k != "jti"}, SECRET, algorithm="HS256")
    assert requests.get(server.url("/api/v1/auth/me"), headers=auth(seedlike)).status_code == 401
    with_jti = jwt.encode(good, SECRET, algorithm="HS256")
    assert requests.get(server.url("/api/v1/auth/me"), headers=auth(with_jti)).status_code == 200


def test_oauth2_password_grant_with_authlib(server):
    server.register("quin@example.com", "quin")
    client = OAuth2Session(client_id="frontend", token_endpoint_auth_method="none")
    token = client.fetch_token(server.url("/api/v1/auth/login"), username="quin@example.com",
                               password="Passw0rd!x", grant_type="password")
    assert token["token_type"] == "bearer"
    r = client.get(server.url("/api/v1/auth/me"))
    assert r.status_code == 200 and r.json()["username"] == "quin"
    # Refresh through the contract's JSON endpoint with the token authlib holds.
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": token["refresh_token"]})
    assert r.status_code == 200
