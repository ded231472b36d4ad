"""API keys and forward-auth over real HTTP (issue 4)."""
import base64
import json
import re
import sqlite3
import subprocess
import tempfile
import time

import requests

from conftest import BIN, auth


def create_key(server, token, **body):
    r = requests.post(server.url("/api/v1/api-keys"), json={"name": "ci", **body}, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()


def test_create_list_and_delete(server):
    server.register("k@example.com", "keyowner")
    token = server.token("keyowner")
    key = create_key(server, token, scopes=["users:read"], expires_in_days=30)
    assert re.fullmatch(r"gh_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", key["key"])
    assert key["key"].startswith(key["prefix"]) and key["scopes"] == ["users:read"]
    assert set(key) == {"id", "name", "key", "prefix", "scopes", "created_at", "expires_at"}
    assert key["expires_at"] is not None
    listed = requests.get(server.url("/api/v1/api-keys"), headers=auth(token)).json()["items"]
    assert [k["id"] for k in listed] == [key["id"]]
    assert "key" not in listed[0] and key["key"] not in str(listed)
    assert requests.delete(server.url(f"/api/v1/api-keys/{key['id']}"), headers=auth(token)).status_code == 204
    assert requests.get(server.url("/api/v1/api-keys"), headers=auth(token)).json()["items"] == []
    r = requests.delete(server.url(f"/api/v1/api-keys/{key['id']}"), headers=auth(token))
    assert (r.status_code, r.json()) == (404, {"detail": "API key not found"})


def test_scopes_must_be_a_subset_of_the_owners_permissions(server):
    server.register("sub@example.com", "subset")
    token = server.token("subset")
    r = requests.post(server.url("/api/v1/api-keys"), json={"name": "x", "scopes": ["users:delete"]}, headers=auth(token))
    assert r.status_code == 422
    for body in ({"name": ""}, {"scopes": []}, {"name": "x", "expires_in_days": 0}, {"name": "x", "scopes": "users:read"}):
        r = requests.post(server.url("/api/v1/api-keys"), json=body, headers=auth(token))
        assert r.status_code == 422, body
    # An unknown field is refused, not ignored (found by the outside attack): a mistyped "scope"
    # made a key with every permission of its owner.
    r = requests.post(server.url("/api/v1/api-keys"), json={"name": "typo", "scope": ["users:read"]},
                      headers=auth(token))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "scope"], r.text
    assert requests.get(server.url("/api/v1/api-keys"), headers=auth(token)).json()["items"] == []
    default = create_key(server, token)
    assert default["scopes"] == ["posts:read", "posts:write", "users:read"]


def test_a_key_name_is_readable_text(server):
    """A name is read on the account page: no controls, and nothing that hides or reorders text
    (found by the outside attack on passkey names)."""
    server.register("kname@example.com", "kname")
    token = server.token("kname")
    for name in ("bell\x07", "\u0085x", "\u202eevil", "a\u200b"):
        r = requests.post(server.url("/api/v1/api-keys"), json={"name": name}, headers=auth(token))
        assert (r.status_code, r.json()["detail"][0]["loc"]) == (422, ["body", "name"]), (repr(name), r.text)
    assert requests.get(server.url("/api/v1/api-keys"), headers=auth(token)).json()["items"] == []
    assert create_key(server, token, name="CI \U0001f5a5\ufe0f")["name"] == "CI \U0001f5a5\ufe0f"


def test_key_works_everywhere_a_token_does(server):
    server.register("use@example.com", "keyuser")
    token = server.token("keyuser")
    key = create_key(server, token, scopes=["users:read"])["key"]
    for kwargs in ({"headers": {"X-API-Key": key}},
                   {"params": {"api_key": key}},
                   {"headers": {"Authorization": f"Bearer {key}"}},
                   {"headers": {"Authorization": "Basic " + base64.b64encode(f"anyone:{key}".encode()).decode()}}):
        r = requests.get(server.url("/api/v1/auth/me"), **kwargs)
        assert r.status_code == 200 and r.json()["username"] == "keyuser", kwargs
        assert requests.get(server.url("/api/v1/users"), **kwargs).status_code == 200
    # Limited to its scopes: posts:write is the owner's, not the key's.
    r = requests.get(server.url("/api/v1/auth/verify?permission=posts:write"), headers={"X-API-Key": key})
    assert r.status_code == 403
    # Keys cannot mint keys.
    r = requests.post(server.url("/api/v1/api-keys"), json={"name": "child"}, headers={"X-API-Key": key})
    assert r.status_code == 403
    bad = key[:-1] + ("A" if key[-1] != "A" else "B")
    r = requests.get(server.url("/api/v1/auth/me"), headers={"X-API-Key": bad})
    assert (r.status_code, r.json()) == (401, {"detail": "Could not validate credentials"})


def test_external_data_messages(server):
    server.register("ext@example.com", "external")
    key = create_key(server, server.token("external"))["key"]
    r = requests.get(server.url("/api/v1/external-data"))
    assert (r.status_code, r.json()) == (401, {"detail": "API key required"})
    r = requests.get(server.url("/api/v1/external-data"), headers={"X-API-Key": "gh_nope"})
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid API key"})
    assert requests.get(server.url("/api/v1/external-data"), headers={"X-API-Key": key}).status_code == 200
    assert requests.get(server.url("/api/v1/external-data"), params={"api_key": key}).status_code == 200


def test_revocation_expiry_and_owner_state_apply_at_once(server):
    admin = server.admin_token()
    server.register("own@example.com", "owner2")
    token = server.token("owner2")
    key = create_key(server, token)
    headers = {"X-API-Key": key["key"]}
    assert requests.get(server.url("/api/v1/auth/me"), headers=headers).status_code == 200
    uid = requests.get(server.url("/api/v1/auth/me"), headers=headers).json()["id"]
    second = create_key(server, token)
    requests.delete(server.url(f"/api/v1/api-keys/{second['id']}"), headers=auth(token))
    assert requests.get(server.url("/api/v1/auth/me"), headers={"X-API-Key": second["key"]}).status_code == 401
    requests.patch(server.url(f"/api/v1/users/{uid}"), json={"is_active": False}, headers=auth(admin))
    r = requests.get(server.url("/api/v1/auth/me"), headers=headers)
    assert (r.status_code, r.json()) == (403, {"detail": "Inactive user"})
    # Deactivation ends the owner's keys for good: reactivation does not revive them.
    requests.patch(server.url(f"/api/v1/users/{uid}"), json={"is_active": True}, headers=auth(admin))
    assert requests.get(server.url("/api/v1/auth/me"), headers=headers).status_code == 401


def test_key_of_deleted_owner_stops_working(server):
    admin = server.admin_token()
    server.register("gone@example.com", "goner")
    key = create_key(server, server.token("goner"))["key"]
    uid = requests.get(server.url("/api/v1/auth/me"), headers={"X-API-Key": key}).json()["id"]
    assert requests.delete(server.url(f"/api/v1/users/{uid}"), headers=auth(admin)).status_code == 204
    assert requests.get(server.url("/api/v1/auth/me"), headers={"X-API-Key": key}).status_code == 401


def test_keys_are_audited_and_never_logged(server, tmp_path):
    admin = server.admin_token()
    server.register("aud@example.com", "keyaudit")
    token = server.token("keyaudit")
    key = create_key(server, token)
    for _ in range(3):
        requests.get(server.url("/api/v1/auth/me"), params={"api_key": key["key"]})
    requests.delete(server.url(f"/api/v1/api-keys/{key['id']}"), headers=auth(token))
    events = requests.get(server.url("/api/v1/audit-events"), headers=auth(admin)).json()["items"]
    types = [e["type"] for e in events]
    assert types.count("apikey.created") == 1 and types.count("apikey.revoked") == 1
    assert types.count("apikey.used") == 1  # sampled: at most once an hour per key
    server.stop()
    log = server.log_text()
    secret = key["key"].split("_", 2)[2]
    assert secret not in log and "api_key=" not in log


def test_a_commands_audit_copy_to_standard_output_goes_to_standard_error(server):
    """An outside attack: with AUDIT_LOG_FILE=- (a container's choice, shared by its commands) the
    command's records went to its standard output, into a key captured by $(gatehouse apikey
    create) and into the JSON a script reads. A command writes them to standard error instead."""
    server.register("stdout@example.com", "stdoutkeys")
    for n, out in enumerate(("-", "/dev/stdout", "/dev/fd/1")):
        r = subprocess.run([BIN, "apikey", "create", "--email", "stdout@example.com", "--name", f"k{n}"],
                           env={**server.env, "AUDIT_LOG_FILE": out}, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert re.fullmatch(r"gh_[A-Za-z0-9_-]+\n", r.stdout), (out, r.stdout)
        record = json.loads(next(line for line in r.stderr.splitlines() if line.startswith("{")))
        assert record["type"] == "apikey.created", (out, r.stderr)
        key = r.stdout.strip()
        assert requests.get(server.url("/api/v1/auth/me"), headers={"X-API-Key": key}).status_code == 200
    # Standard error a regular file (2>>cli.log) or a socket (a journal) takes them as well.
    with tempfile.TemporaryFile(mode="w+") as err:
        r = subprocess.run([BIN, "apikey", "create", "--email", "stdout@example.com", "--name", "to-file"],
                           env={**server.env, "AUDIT_LOG_FILE": "-"}, stdout=subprocess.PIPE, stderr=err,
                           text=True, timeout=120)
        err.seek(0)
        written = err.read()
    assert r.returncode == 0, written
    assert re.fullmatch(r"gh_[A-Za-z0-9_-]+\n", r.stdout) and "apikey.created" in written, written
    r = subprocess.run([BIN, "client", "create", "--name", "json-out", "--redirect-uri", "https://app.example/cb",
                        "--json"], env={**server.env, "AUDIT_LOG_FILE": "-"}, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["name"] == "json-out"  # the whole answer is one JSON document
    assert "client.created" in r.stderr


def test_external_data_keeps_its_two_messages_for_a_key_whose_owner_must_enrol(make_server):
    """The seed's /external-data answers a refused key with 401 (its contract); a key whose owner's
    role needs a second factor not yet enrolled (MFA_REQUIRED_ROLES) got 403 there (found by the
    second review). Elsewhere the key gets the enrolment's 403."""
    s = make_server({"MFA_REQUIRED_ROLES": "user"})
    s.register("enrol@example.com", "enrolkeys")
    r = s.cli("apikey", "create", "--email", "enrol@example.com", "--name", "k")
    assert r.returncode == 0, r.stderr
    key = {"X-API-Key": r.stdout.strip()}
    r = requests.get(s.url("/api/v1/external-data"), headers=key)
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid API key"})
    r = requests.get(s.url("/api/v1/auth/verify"), headers=key)
    assert r.status_code == 403 and "enrol" in r.json()["detail"].lower(), r.text


def test_cli_apikeys(server):
    server.register("cli@example.com", "clikeys")
    r = server.cli("apikey", "create", "--email", "cli@example.com", "--name", "deploy", "--scope", "users:read")
    assert r.returncode == 0, r.stderr
    key = r.stdout.strip()
    assert key.startswith("gh_") and key not in r.stderr
    assert requests.get(server.url("/api/v1/auth/me"), headers={"X-API-Key": key}).status_code == 200
    listed = server.cli("apikey", "list", "--email", "cli@example.com")
    assert listed.returncode == 0 and "deploy" in listed.stdout and key not in listed.stdout
    key_id = listed.stdout.splitlines()[1].split("\t")[0]
    assert server.cli("apikey", "create", "--email", "cli@example.com", "--name", "x", "--scope",
                      "roles:manage").returncode == 1
    assert server.cli("apikey", "revoke", "--email", "cli@example.com", "--id", key_id).returncode == 0
    # Revoked by another process: the running server learns it from the change log.
    deadline = time.time() + 5
    while requests.get(server.url("/api/v1/auth/me"), headers={"X-API-Key": key}).status_code != 401:
        assert time.time() < deadline, "CLI revocation not seen within 5 s"
        time.sleep(0.1)
    assert server.cli("apikey", "revoke", "--email", "cli@example.com", "--id", key_id).returncode == 1
    # An outside attack: --expires-in-days 0 or -5 made a key that never expires, and a key made
    # for a deactivated user came alive when the user was activated again.
    for days in ("0", "-5", "3651"):
        r = server.cli("apikey", "create", "--email", "cli@example.com", "--name", "d" + days,
                       "--expires-in-days", days)
        assert r.returncode == 1 and "between 1 and 3650" in r.stderr, (days, r.stdout, r.stderr)
    r = server.cli("apikey", "create", "--email", "cli@example.com", "--name", "week", "--expires-in-days", "7")
    assert r.returncode == 0, r.stderr

    def names():
        listed = server.cli("apikey", "list", "--email", "cli@example.com").stdout.splitlines()[1:]
        return [line.split("\t")[1] for line in listed]
    assert "week" in names() and "d0" not in names(), names()
    assert server.cli("user", "deactivate", "--email", "cli@example.com").returncode == 0
    r = server.cli("apikey", "create", "--email", "cli@example.com", "--name", "sleeper")
    assert r.returncode == 1 and "Inactive user" in r.stderr, (r.stdout, r.stderr)
    assert server.cli("user", "activate", "--email", "cli@example.com").returncode == 0
    assert names() == [], names()  # the deactivation ended "week"; "sleeper" was never made


def test_verify_endpoint(make_server, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text('{"routes": [{"method": "DELETE", "path": "/admin/*", "permissions": ["users:delete"]},'
                      ' {"method": "*", "path": "/reports", "permissions": ["analytics:view"]},'
                      ' {"method": "GET", "path": "/stats/*", "permissions": ["analytics:view"]}]}')
    s = make_server({"GATEHOUSE_POLICY_FILE": str(policy)})
    admin = s.admin_token()
    s.register("v@example.com", "verifier")
    token = s.token("verifier")
    # With route rules, every check carries the original request (as the proxy sends it).
    original = {"X-Original-Method": "GET", "X-Original-URI": "/app"}
    r = requests.get(s.url("/api/v1/auth/verify"), headers={**auth(token), **original})
    assert r.status_code == 200
    assert r.headers["X-Auth-User-Email"] == "v@example.com" and r.headers["X-Auth-User-Role"] == "user"
    assert r.headers["X-Auth-Scopes"].split() == ["posts:read", "posts:write", "users:read"]
    assert r.headers["X-Auth-User-Id"].isdigit()
    assert requests.get(s.url("/api/v1/auth/verify?permission=users:read&permission=posts:read"),
                        headers={**auth(token), **original}).status_code == 200
    r = requests.get(s.url("/api/v1/auth/verify?permission=users:read&permission=users:delete"),
                     headers={**auth(token), **original})
    assert (r.status_code, r.json()) == (403, {"detail": "Insufficient permissions"})
    assert requests.get(s.url("/api/v1/auth/verify")).status_code == 401
    # Route map from the original request: nginx's header names by default (FORWARD_AUTH_PROXY);
    # test_attacks.py covers Traefik's and Caddy's.
    for method_h, uri_h in (("X-Original-Method", "X-Original-URI"),):
        headers = {**auth(token), method_h: "DELETE", uri_h: "/admin/users/3?x=1"}
        assert requests.get(s.url("/api/v1/auth/verify"), headers=headers).status_code == 403
        headers[method_h] = "GET"
        assert requests.get(s.url("/api/v1/auth/verify"), headers=headers).status_code == 200
        headers = {**auth(admin), method_h: "DELETE", uri_h: "/admin/users/3"}
        assert requests.get(s.url("/api/v1/auth/verify"), headers=headers).status_code == 200
        # A POST the application may take as a DELETE (`_method`, X-HTTP-Method-Override) meets
        # the DELETE rule: an outside attack got 200 here with a plain user's token.
        headers = {**auth(token), method_h: "POST", uri_h: "/admin/users/3?_method=DELETE",
                   "X-HTTP-Method-Override": "DELETE"}
        assert requests.get(s.url("/api/v1/auth/verify"), headers=headers).status_code == 403
        headers = {**auth(admin), method_h: "POST", uri_h: "/admin/users/3"}
        assert requests.get(s.url("/api/v1/auth/verify"), headers=headers).status_code == 200
        # And one Rack takes as a GET meets the GET rule (a review got 200 here).
        headers = {**auth(token), method_h: "POST", uri_h: "/stats/q?_method=GET",
                   "X-HTTP-Method-Override": "GET"}
        assert requests.get(s.url("/api/v1/auth/verify"), headers=headers).status_code == 403
        headers[method_h] = "PUT"  # no PUT rule: the GET rule (an outside attack got 200 here)
        assert requests.get(s.url("/api/v1/auth/verify"), headers=headers).status_code == 403
    key = create_key(s, token, scopes=["users:read"])["key"]
    r = requests.get(s.url("/api/v1/auth/verify"),
                     headers={"X-Original-Method": "GET", "X-Original-URI": f"/data?api_key={key}"})
    assert r.status_code == 200 and r.headers["X-Auth-Scopes"] == "users:read"


def test_a_key_made_as_its_session_ends_is_revoked_again(make_server, tmp_path):
    """A sign-out racing the key's creation, made certain: a trigger ends every session of the
    user in the very statement that stores the key. The creation must answer 401 and the key
    must not work."""
    s = make_server()
    assert s.register("race@example.com", "racekey").status_code == 201
    token = s.token("racekey")
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    with db:
        db.execute("CREATE TRIGGER end_as_stored AFTER INSERT ON api_keys BEGIN "
                   "UPDATE sessions SET revoked = 1 WHERE user_id = NEW.user_id; END")
    r = requests.post(s.url("/api/v1/api-keys"), json={"name": "raced"}, headers=auth(token))
    assert r.status_code == 401, r.text
    with db:
        db.execute("DROP TRIGGER end_as_stored")
        rows = db.execute("SELECT revoked FROM api_keys").fetchall()
    db.close()
    assert rows == [(1,)]
    fresh = s.token("racekey")
    assert requests.get(s.url("/api/v1/api-keys"), headers=auth(fresh)).json()["items"] == []


def test_changes_to_ones_own_ways_in_are_counted_per_account(make_server):
    """An outside attack: making and revoking keys in a loop wrote 129 audit records a second from
    one self-registered account, kept for good. What adds a way in (a key, a factor, recovery
    codes) counts against ACCOUNT_CHANGE_RATE_LIMIT per account; what takes one away never does
    (a second attack: a thief spending the budget kept the owner from revoking the thief's key)."""
    s = make_server({"ACCOUNT_CHANGE_RATE_LIMIT": "3/minute"})
    s.register("churn@example.com", "churn")
    s.register("other@example.com", "other")
    token = s.token("churn")

    def make(token, name):
        return requests.post(s.url("/api/v1/api-keys"), json={"name": name}, headers=auth(token))

    first = make(token, "one")
    assert first.status_code == 201, first.text
    assert make(token, "two").status_code == 201
    assert requests.post(s.url("/api/v1/auth/mfa/totp"), json={}, headers=auth(token)).status_code == 201
    refused = make(token, "four")
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) > 0
    # Another session of the same account shares the budget; another account has its own.
    assert make(s.token("churn"), "five").status_code == 429
    assert make(s.token("other"), "theirs").status_code == 201
    # Revoking is never held back by it: the owner can always take a key away.
    for key in requests.get(s.url("/api/v1/api-keys"), headers=auth(token)).json()["items"]:
        assert requests.delete(s.url(f"/api/v1/api-keys/{key['id']}"), headers=auth(token)).status_code == 204
    assert requests.get(s.url("/api/v1/api-keys"), headers=auth(token)).json()["items"] == []


def test_what_a_key_did_is_audited_apart_from_what_its_owner_did(server):
    """An outside attack: an administrator's key changed, deactivated and deleted users, and each
    record said only the owner's id: what the key did and what its owner did by hand read alike."""
    admin = server.admin_token()
    server.register("keyed@example.com", "keyed")
    target = requests.get(server.url("/api/v1/users"), headers=auth(admin)).json()["items"]
    target = next(u["id"] for u in target if u["username"] == "keyed")
    key = requests.post(server.url("/api/v1/api-keys"), json={"name": "ops"},
                        headers=auth(admin)).json()
    r = requests.patch(server.url(f"/api/v1/users/{target}"), json={"username": "keyed2"},
                       headers={"X-API-Key": key["key"]})
    assert r.status_code == 200, r.text
    r = requests.patch(server.url(f"/api/v1/users/{target}"), json={"username": "keyed3"}, headers=auth(admin))
    assert r.status_code == 200, r.text
    events = requests.get(server.url("/api/v1/audit-events"), params={"type": "user.updated"},
                          headers=auth(admin)).json()["items"]
    by_key = [e for e in events if e["detail"].get("api_key_id") == key["id"]]
    by_hand = [e for e in events if "api_key_id" not in e["detail"]]
    assert len(by_key) == 1 and len(by_hand) == 1, events
    assert by_key[0]["actor_id"] == by_hand[0]["actor_id"]
    # The OpenID Provider's client records too (built by hand before a review found them).
    r = requests.post(server.url("/api/v1/clients"), json={"name": "Keyed", "redirect_uris": ["https://k.example.com/cb"]},
                      headers={"X-API-Key": key["key"]})
    assert r.status_code == 201, r.text
    made = requests.get(server.url("/api/v1/audit-events"), params={"type": "client.created"},
                        headers=auth(admin)).json()["items"]
    assert [e["detail"].get("api_key_id") for e in made] == [key["id"]], made
