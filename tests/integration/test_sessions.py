"""Sessions, revocation, abuse control and the audit log over real HTTP (issue 3)."""
import concurrent.futures
import fcntl
import hashlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import time
import urllib.error
import urllib.request

import jwt
import pytest
import requests

from conftest import BIN, SECRET, auth, interleaved_timings


def audit(server, token, **params):
    r = requests.get(server.url("/api/v1/audit-events"), params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def uid(token):
    return int(jwt.decode(token, SECRET, algorithms=["HS256"])["sub"])


def test_refresh_reuse_is_audited_as_theft(server):
    admin = server.admin_token()
    server.register("theft@example.com", "theft")
    first = server.login("theft").json()
    second = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": first["refresh_token"]}).json()
    assert requests.post(server.url("/api/v1/auth/refresh"),
                         json={"refresh_token": first["refresh_token"]}).status_code == 401
    events = audit(server, admin, type="refresh.reuse_detected")
    assert len(events) == 1 and events[0]["subject_id"] == uid(first["access_token"])
    assert requests.post(server.url("/api/v1/auth/refresh"),
                         json={"refresh_token": second["refresh_token"]}).status_code == 401
    metrics = requests.get(server.url("/metrics")).text
    assert "gatehouse_refresh_reuse_detected_total 1" in metrics


def test_a_reuse_never_ends_a_session_whose_access_tokens_still_work(make_server, tmp_path):
    """An outside attack: on a replayed refresh token the rotation's transaction ended the
    session, and its access tokens were revoked in a second write; a failure between (a full
    disk, a crash) left the session ended for good with the thief's access token working until
    it expired. Now both are one transaction: a failure leaves the session as it was (the replay
    refused), and the next replay ends both."""
    s = make_server()
    assert s.register("replayed@example.com", "replayed").status_code == 201
    owner = s.login("replayed").json()
    stolen = s.login("replayed").json()
    sid = jwt.decode(stolen["access_token"], SECRET, algorithms=["HS256"])["sid"]
    rotated = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": stolen["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    thief = rotated.json()["access_token"]
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    with db:  # the session's revocation entry cannot be written, as on a full disk
        db.execute("CREATE TRIGGER refuse_sid BEFORE INSERT ON revoked_tokens "
                   "WHEN NEW.jti LIKE 'sid:%' BEGIN SELECT RAISE(ABORT, 'refused'); END")
    # Sent past the OpenAPI check: the refusal this trigger makes (a constraint) answers 500,
    # which the document leaves undeclared as it does every server fault.
    replay = urllib.request.Request(s.url("/api/v1/auth/refresh"), method="POST",
                                    data=json.dumps({"refresh_token": stolen["refresh_token"]}).encode(),
                                    headers={"Content-Type": "application/json"})
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(replay, timeout=10)
    finally:
        with db:
            db.execute("DROP TRIGGER refuse_sid")
    assert refused.value.code in (401, 500, 503), refused.value.code
    listed = requests.get(s.url("/api/v1/auth/sessions"), headers=auth(owner["access_token"])).json()["items"]
    thief_me = requests.get(s.url("/api/v1/auth/me"), headers=auth(thief)).status_code
    assert any(x["id"] == sid for x in listed) or thief_me == 401, thief_me
    # The replay again: the session and every access token of it end together.
    again = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": stolen["refresh_token"]})
    assert again.status_code == 401, again.text
    assert requests.get(s.url("/api/v1/auth/me"), headers=auth(thief)).status_code == 401
    listed = requests.get(s.url("/api/v1/auth/sessions"), headers=auth(owner["access_token"])).json()["items"]
    assert all(x["id"] != sid for x in listed)
    with db:
        rows = db.execute("SELECT jti FROM revoked_tokens WHERE jti = ?", (f"sid:{sid}",)).fetchall()
    db.close()
    assert rows == [(f"sid:{sid}",)]
    # A restart reads it back: the thief's token stays refused.
    assert s.stop() == 0
    s.start()
    assert requests.get(s.url("/api/v1/auth/me"), headers=auth(thief)).status_code == 401


def test_a_reuse_ends_the_thieves_access_tokens_at_once_with_no_second_write(make_server, tmp_path):
    """The review of the fix above: the rotation stored the session's entry, then the revocation
    list wrote it again before it held it in memory; that second write failing (a busy or full
    disk) left this node accepting the thief's access tokens until a restart."""
    s = make_server()
    assert s.register("second@example.com", "secondw").status_code == 201
    stolen = s.login("secondw").json()
    rotated = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": stolen["refresh_token"]})
    thief = rotated.json()["access_token"]
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    with db:  # any write of an entry already there fails
        db.execute("CREATE TRIGGER refuse_again BEFORE INSERT ON revoked_tokens "
                   "WHEN EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = NEW.jti) "
                   "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    try:
        replay = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": stolen["refresh_token"]})
        assert replay.status_code == 401, replay.text
        assert requests.get(s.url("/api/v1/auth/me"), headers=auth(thief)).status_code == 401
    finally:
        with db:
            db.execute("DROP TRIGGER refuse_again")
        db.close()


def test_a_logout_that_stops_halfway_leaves_no_refresh_token_working(make_server, tmp_path):
    """An outside attack: a logout whose tokens were ended but whose session's own end was lost
    (a dropped connection) answered an error, and the session's refresh token went on giving
    tokens, which worked again everywhere once the session's revocation entry expired. Now a
    refresh of a session whose tokens were ended is refused and ends it, and the purge of its
    entry ends it too."""
    s = make_server()
    assert s.register("halfout@example.com", "halfout").status_code == 201
    pair = s.login("halfout").json()
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    with db:
        db.execute("CREATE TRIGGER refuse_end BEFORE UPDATE OF revoked ON sessions WHEN NEW.revoked "
                   "BEGIN SELECT RAISE(ABORT, 'refused'); END")
    try:
        # Past the OpenAPI check: this trigger's refusal answers an undeclared 500.
        logout = urllib.request.Request(s.url("/api/v1/auth/logout"), method="POST",
                                        data=json.dumps({"refresh_token": pair["refresh_token"]}).encode(),
                                        headers={"Content-Type": "application/json",
                                                 "Authorization": "Bearer " + pair["access_token"]})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(logout, timeout=10)
        assert requests.get(s.url("/api/v1/auth/me"), headers=auth(pair["access_token"])).status_code == 401
        refused = urllib.request.Request(s.url("/api/v1/auth/refresh"), method="POST",
                                         data=json.dumps({"refresh_token": pair["refresh_token"]}).encode(),
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(refused, timeout=10)
        assert answer.value.code == 401
    finally:
        with db:
            db.execute("DROP TRIGGER refuse_end")
    # With storage whole again, a refresh is still refused and ends the session for good.
    r = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401, r.text
    sid = jwt.decode(pair["access_token"], SECRET, algorithms=["HS256"])["sid"]
    with db:
        rows = db.execute("SELECT revoked FROM sessions WHERE id = ?", (sid,)).fetchall()
    db.close()
    assert rows == [(1,)], rows


def test_twenty_concurrent_refreshes_give_exactly_one_200(server):
    server.register("race2@example.com", "race2")
    token = server.login("race2").json()["refresh_token"]

    def attempt(_):
        return requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": token}).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        codes = list(pool.map(attempt, range(20)))
    assert codes.count(200) == 1, codes
    assert codes.count(401) == 19, codes


@pytest.mark.timing
def test_grace_window_spares_the_session_but_still_detects_reuse(make_server):
    s = make_server({"REFRESH_GRACE_SECONDS": "2"})
    s.register("tabs@example.com", "tabs")
    first = s.login("tabs").json()
    second = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": first["refresh_token"]}).json()
    # A second tab replays the old token at once: refused, but the family lives on.
    r = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 401
    third = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200
    # After the window, a replay is theft again.
    time.sleep(3)
    assert requests.post(s.url("/api/v1/auth/refresh"),
                         json={"refresh_token": second["refresh_token"]}).status_code == 401
    assert requests.post(s.url("/api/v1/auth/refresh"),
                         json={"refresh_token": third.json()["refresh_token"]}).status_code == 401


def test_revoke_endpoint(server):
    server.register("rev@example.com", "rev")
    pair = server.login("rev").json()
    # Checked twice first, so the node has verified it before: the refusal below comes on a hit.
    for _ in range(2):
        assert requests.get(server.url("/api/v1/auth/me"), headers=auth(pair["access_token"])).status_code == 200
    r = requests.post(server.url("/api/v1/auth/revoke"), data={"token": pair["access_token"]})
    assert r.status_code == 200
    assert requests.get(server.url("/api/v1/auth/me"), headers=auth(pair["access_token"])).status_code == 401
    r = requests.post(server.url("/api/v1/auth/revoke"),
                      data={"token": pair["refresh_token"], "token_type_hint": "refresh_token"})
    assert r.status_code == 200
    assert requests.post(server.url("/api/v1/auth/refresh"),
                         json={"refresh_token": pair["refresh_token"]}).status_code == 401
    for junk in ("unknown", pair["access_token"] + "x"):
        assert requests.post(server.url("/api/v1/auth/revoke"), data={"token": junk}).status_code == 200
    assert requests.post(server.url("/api/v1/auth/revoke"), data={}).status_code == 422
    # Sent again (by anyone holding them), the tokens have nothing left to end: the same answer,
    # and no record (an outside attack grew the append-only audit log by a row per call).
    admin = server.admin_token()

    def revoked_records():
        return [e for e in requests.get(server.url("/api/v1/audit-events"), params={"type": "token.revoked"},
                                        headers=auth(admin)).json()["items"] if e["subject_id"] == uid(pair["access_token"])]
    assert [e["detail"]["token_type"] for e in revoked_records()] == ["refresh_token", "access_token"]
    for _ in range(5):
        for token in (pair["access_token"], pair["refresh_token"]):
            assert requests.post(server.url("/api/v1/auth/revoke"), data={"token": token}).status_code == 200
    # Another session's access token, its session ended by logout: nothing more to end either.
    other = server.login("rev").json()
    assert requests.post(server.url("/api/v1/auth/logout"), headers=auth(other["access_token"])).status_code in (200, 204)
    for token in (other["access_token"], other["refresh_token"]):
        assert requests.post(server.url("/api/v1/auth/revoke"), data={"token": token}).status_code == 200
    assert len(revoked_records()) == 2


def test_introspect(server):
    admin = server.admin_token()
    server.register("intro@example.com", "intro")
    pair = server.login("intro").json()
    r = requests.post(server.url("/api/v1/auth/introspect"), data={"token": pair["access_token"]},
                      headers=auth(pair["access_token"]))
    assert (r.status_code, r.json()) == (403, {"detail": "Insufficient permissions"})
    r = requests.post(server.url("/api/v1/auth/introspect"), data={"token": pair["access_token"]}, headers=auth(admin))
    body = r.json()
    assert r.status_code == 200 and body["active"] is True and body["token_type"] == "access_token"
    assert body["username"] == "intro" and body["scope"].split() == sorted(body["scope"].split())
    assert body["sub"] == str(uid(pair["access_token"])) and body["exp"] > time.time()
    r = requests.post(server.url("/api/v1/auth/introspect"), data={"token": pair["refresh_token"]}, headers=auth(admin))
    assert r.json()["active"] is True and r.json()["token_type"] == "refresh_token"
    requests.post(server.url("/api/v1/auth/logout"), headers=auth(pair["access_token"]))
    for token in (pair["access_token"], pair["refresh_token"], "garbage"):
        r = requests.post(server.url("/api/v1/auth/introspect"), data={"token": token}, headers=auth(admin))
        assert r.json() == {"active": False}
    assert requests.post(server.url("/api/v1/auth/introspect"), data={"token": "x"}).status_code == 401


def test_introspection_reports_only_the_permissions_still_held(server):
    """Found by an outside attack (stop 60): after a moderator was made a user again, the API's
    introspection still reported users:write and posts:delete in the token's scope (the server
    itself refused them), and services that read scope take it as the right. The scope is now
    what the token may still do; /oauth2/introspect already narrowed it."""
    admin = server.admin_token()
    server.register("demoted@example.com", "demoted")
    assert server.cli("user", "set-role", "--email", "demoted@example.com", "--role", "moderator").returncode == 0
    token = server.login("demoted").json()["access_token"]

    def scope():
        r = requests.post(server.url("/api/v1/auth/introspect"), data={"token": token}, headers=auth(admin))
        assert r.status_code == 200 and r.json()["active"] is True, r.text
        return set(r.json()["scope"].split())
    assert {"users:write", "posts:delete"} <= scope()
    r = requests.put(server.url(f"/api/v1/users/{uid(token)}/role"), json={"role": "user"}, headers=auth(admin))
    assert r.status_code == 200, r.text
    assert requests.delete(server.url(f"/api/v1/users/{uid(token) + 1000}"), headers=auth(token)).status_code == 403
    assert scope() == {"users:read", "posts:read", "posts:write"}  # the user role's, as issued


def test_sessions_list_and_delete(server):
    server.register("multi@example.com", "multi")
    a = server.login("multi").json()
    b = requests.post(server.url("/api/v1/auth/login"), data={"username": "multi", "password": "Passw0rd!x"},
                      headers={"User-Agent": "second-device"}).json()
    r = requests.get(server.url("/api/v1/auth/sessions"), headers=auth(a["access_token"]))
    items = r.json()["items"]
    assert r.status_code == 200 and len(items) == 3  # registration, a and b
    assert set(items[0]) == {"id", "user_agent", "ip", "created_at", "last_used_at", "current"}
    assert sum(1 for i in items if i["current"]) == 1
    other = next(i for i in items if i["user_agent"] == "second-device")
    assert other["ip"] == "127.0.0.1"
    assert requests.delete(server.url(f"/api/v1/auth/sessions/{other['id']}"),
                           headers=auth(a["access_token"])).status_code == 204
    assert requests.post(server.url("/api/v1/auth/refresh"),
                         json={"refresh_token": b["refresh_token"]}).status_code == 401
    assert requests.delete(server.url(f"/api/v1/auth/sessions/{other['id']}"),
                           headers=auth(a["access_token"])).status_code == 404
    server.register("else@example.com", "someone")
    stranger = server.token("someone")
    mine = next(i for i in items if i["current"])
    r = requests.delete(server.url(f"/api/v1/auth/sessions/{mine['id']}"), headers=auth(stranger))
    assert (r.status_code, r.json()) == (404, {"detail": "Session not found"})
    assert requests.get(server.url("/api/v1/auth/sessions")).status_code == 401


def test_password_change_voids_tokens_and_sessions(server):
    server.register("pw@example.com", "pwchange")
    old = server.login("pwchange").json()
    other = server.login("pwchange").json()
    r = requests.post(server.url("/api/v1/auth/password"), headers=auth(old["access_token"]),
                      json={"current_password": "wrong", "new_password": "N3w-Passw0rd!"})
    assert (r.status_code, r.json()) == (400, {"detail": "Incorrect password"})
    r = requests.post(server.url("/api/v1/auth/password"), headers=auth(old["access_token"]),
                      json={"current_password": "Passw0rd!x", "new_password": "weak"})
    assert r.status_code == 422
    time.sleep(1.1)  # the old tokens' iat is now strictly before the change
    r = requests.post(server.url("/api/v1/auth/password"), headers=auth(old["access_token"]),
                      json={"current_password": "Passw0rd!x", "new_password": "N3w-Passw0rd!"})
    assert r.status_code == 200
    for token in (old["access_token"], other["access_token"]):
        assert requests.get(server.url("/api/v1/auth/me"), headers=auth(token)).status_code == 401
    for token in (old["refresh_token"], other["refresh_token"]):
        assert requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": token}).status_code == 401
    assert server.login("pwchange").status_code == 401
    fresh = server.token("pwchange", "N3w-Passw0rd!")
    assert requests.get(server.url("/api/v1/auth/me"), headers=auth(fresh)).status_code == 200


def test_deactivation_voids_tokens_even_after_reactivation(server):
    admin = server.admin_token()
    server.register("re@example.com", "react")
    pair = server.login("react").json()
    user = uid(pair["access_token"])
    time.sleep(1.1)
    requests.patch(server.url(f"/api/v1/users/{user}"), json={"is_active": False}, headers=auth(admin))
    assert requests.get(server.url("/api/v1/auth/me"), headers=auth(pair["access_token"])).status_code == 403
    requests.patch(server.url(f"/api/v1/users/{user}"), json={"is_active": True}, headers=auth(admin))
    assert requests.get(server.url("/api/v1/auth/me"), headers=auth(pair["access_token"])).status_code == 401
    assert requests.post(server.url("/api/v1/auth/refresh"),
                         json={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert server.login("react").status_code == 200


def test_cli_changes_reach_the_running_server_within_seconds(server):
    server.register("cli2@example.com", "clichange")
    token = server.token("clichange")
    assert requests.get(server.url("/api/v1/auth/me"), headers=auth(token)).status_code == 200
    assert server.cli("user", "set-role", "--email", "cli2@example.com", "--role", "moderator").returncode == 0
    deadline = time.time() + 5
    while time.time() < deadline:
        if requests.get(server.url("/api/v1/auth/me"), headers=auth(token)).json().get("role") == "moderator":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("role change by the CLI not seen within 5 s")
    assert server.cli("user", "deactivate", "--email", "cli2@example.com").returncode == 0
    deadline = time.time() + 5
    while requests.get(server.url("/api/v1/auth/me"), headers=auth(token)).status_code != 403:
        assert time.time() < deadline, "deactivation by the CLI not seen within 5 s"
        time.sleep(0.1)


def test_default_rate_limits_answer_429_with_retry_after(make_server):
    s = make_server({"LOGIN_RATE_LIMIT": "", "REGISTER_RATE_LIMIT": ""})
    codes = [s.register(f"rl{i}@example.com", f"ratelim{i}").status_code for i in range(4)]
    assert codes == [201, 201, 201, 429], codes
    r = s.register("rl9@example.com", "ratelim9")
    assert r.status_code == 429 and r.json() == {"detail": "Too many requests"}
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    codes = [s.login("ratelim0").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429], codes
    admin_count = audit_count = None
    assert "gatehouse_rate_limited_total" in requests.get(s.url("/metrics")).text
    del admin_count, audit_count


def test_forwarded_for_counts_only_from_trusted_proxies(make_server):
    s = make_server({"LOGIN_RATE_LIMIT": "3/minute", "TRUSTED_PROXIES": "127.0.0.1"})
    s.register("xff@example.com", "xff")
    # Different clients behind the trusted proxy each get their own per-IP budget...
    for i in range(3):
        r = requests.post(s.url("/api/v1/auth/login"), data={"username": f"nobody{i}", "password": "x"},
                          headers={"X-Forwarded-For": f"203.0.113.{i}"})
        assert r.status_code == 401
    # ...and the right-most untrusted hop is the client, whatever the client claims to the left.
    for _ in range(3):
        r = requests.post(s.url("/api/v1/auth/login"), data={"username": "someone", "password": "x"},
                          headers={"X-Forwarded-For": "1.2.3.4, 198.51.100.7"})
    r = requests.post(s.url("/api/v1/auth/login"), data={"username": "someone-else", "password": "x"},
                      headers={"X-Forwarded-For": "9.9.9.9, 198.51.100.7"})
    assert r.status_code == 429


def test_lockout_across_many_client_ips(make_server):
    s = make_server({"TRUSTED_PROXIES": "127.0.0.1", "LOGIN_LOCKOUT_THRESHOLD": "8",
                     "LOGIN_DELAY_AFTER_FAILURES": "0"})
    admin = s.admin_token()
    s.register("victim@example.com", "victim")
    for i in range(8):
        r = requests.post(s.url("/api/v1/auth/login"), data={"username": "victim@example.com", "password": f"guess{i}"},
                          headers={"X-Forwarded-For": f"198.51.100.{i}"})
        assert r.status_code == 401
    # Locked: even the right password gets exactly the wrong-password answer.
    locked = requests.post(s.url("/api/v1/auth/login"), data={"username": "victim@example.com", "password": "Passw0rd!x"},
                           headers={"X-Forwarded-For": "192.0.2.1"})
    wrong = requests.post(s.url("/api/v1/auth/login"), data={"username": "nobody@example.com", "password": "x"},
                          headers={"X-Forwarded-For": "192.0.2.2"})
    assert locked.status_code == wrong.status_code == 401
    assert locked.content == wrong.content
    events = audit(s, admin, type="login.locked_out")
    assert len(events) == 1 and events[0]["client_ip"] == "198.51.100.7"
    # Other accounts are unaffected.
    assert s.login("root@example.com", "Adm1n-Passw0rd!").status_code == 200


def test_one_lockout_for_an_account_whichever_name_is_typed(make_server):
    """An outside attack (carried): the email and the username were two lockout counters, so an
    attacker on many addresses had twice the guesses before the lock. Guesses under either name
    now count toward the account's one lock; a name no account has still counts under itself."""
    s = make_server({"TRUSTED_PROXIES": "127.0.0.1", "LOGIN_LOCKOUT_THRESHOLD": "8",
                     "LOGIN_DELAY_AFTER_FAILURES": "0"})
    admin = s.admin_token()
    s.register("twonames@example.com", "twonames")
    names = ["twonames@example.com", "twonames", "TwoNames@Example.com", "TWONAMES"]
    for i in range(8):
        r = requests.post(s.url("/api/v1/auth/login"), data={"username": names[i % 4], "password": f"guess{i}"},
                          headers={"X-Forwarded-For": f"198.51.100.{i}"})
        assert r.status_code == 401
    for name in ("twonames@example.com", "twonames"):
        r = requests.post(s.url("/api/v1/auth/login"), data={"username": name, "password": "Passw0rd!x"},
                          headers={"X-Forwarded-For": "192.0.2.1"})
        assert r.status_code == 401 and r.json() == {"detail": "Incorrect email or password"}, name
    events = audit(s, admin, type="login.locked_out")
    assert len(events) == 1, events
    # Unknown names lock under themselves, after as many guesses, with the same answers.
    for i in range(7):
        assert s.login("ghost-account", f"guess{i}").status_code == 401
    assert s.login("twonames-other", "x").status_code == 401
    assert len(audit(s, admin, type="login.locked_out")) == 1
    assert s.login("ghost-account", "guess7").status_code == 401
    assert len(audit(s, admin, type="login.locked_out")) == 2

    # No typed name reaches an account's counter (a review: "user:1" counted on account 1's, so
    # anyone locked any account out by its id).
    me = requests.get(s.url("/api/v1/auth/me"), headers=auth(s.token("root@example.com", "Adm1n-Passw0rd!")))
    root_id = me.json()["id"]
    for typed in (f"user:{root_id}", f"account:{root_id}", "name:root@example.com", f"id:{root_id}"):
        for i in range(8):
            assert s.login(typed, f"guess{i}").status_code == 401
    assert s.login("root@example.com", "Adm1n-Passw0rd!").status_code == 200
    assert s.login("root", "Adm1n-Passw0rd!").status_code == 200


@pytest.mark.timing
def test_growing_delays_after_failures(make_server):
    s = make_server({"LOGIN_DELAY_AFTER_FAILURES": "2"})
    s.register("slowdown@example.com", "slowdown")
    assert s.login("slowdown", "bad1").status_code == 401
    assert s.login("slowdown", "bad2").status_code == 401  # second failure: 1 s delay begins
    assert s.login("slowdown").status_code == 401            # refused inside the delay, uncounted
    time.sleep(2.1)  # the delay is at least 1 s and, in whole seconds, less than 2
    assert s.login("slowdown").status_code == 200            # success resets


def test_revocations_are_rate_limited_per_client_address(make_server):
    """Found by an outside attack: each revocation of a live token is a kept audit record, and the
    route had no limit: an account's sessions minting and revoking tokens in a loop grew the log as
    fast as refreshes once did. REFRESH_RATE_LIMIT counts them per client address."""
    s = make_server({"REFRESH_RATE_LIMIT": "3/minute"})
    s.register("revoker@example.com", "revoker")
    tokens = [s.token("revoker") for _ in range(4)]
    answers = [requests.post(s.url("/api/v1/auth/revoke"), data={"token": t}).status_code for t in tokens]
    assert answers == [200, 200, 200, 429], answers
    assert requests.get(s.url("/api/v1/auth/me"), headers=auth(tokens[3])).status_code == 200


def test_refreshes_leave_the_audit_log_as_it_was(server):
    """Found by an outside attack: each refresh wrote a row to the audit log, which is kept for
    good; an account's hundred sessions at their rate limit wrote 3,000 rows a minute."""
    admin = server.admin_token()
    server.register("refresher@example.com", "refresher")
    pair = server.login("refresher").json()
    before = len(audit(server, admin, limit=500))
    for _ in range(10):
        r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 200, r.text
        pair = r.json()
    assert len(audit(server, admin, limit=500)) == before
    # A reuse is still recorded.
    assert requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]}).ok
    r = requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401
    assert [e["type"] for e in audit(server, admin, type="refresh.reuse_detected")] == ["refresh.reuse_detected"]


def test_concurrent_wrong_passwords_meet_the_delay_of_those_being_checked(make_server):
    """Found by an outside attack: the gate was read before a password's hash and the failure
    counted after it, so every guess arriving during one hash passed the open gate (26 real
    checks where the delays allowed 7). Each guess now counts before its hash: of twelve at
    once, only as many are checked as the delays allow, the rest refused uncounted."""
    s = make_server({"LOGIN_DELAY_AFTER_FAILURES": "3", "LOGIN_MAX_DELAY_SECONDS": "60"})
    s.register("racer@example.com", "racer")
    admin = s.admin_token()
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda i: s.login("racer", f"Wrong-{i}-passw0rd").status_code, range(12)))
    assert answers == [401] * 12, answers
    events = audit(s, admin, type="login.failed")
    reasons = sorted(e["detail"]["reason"] for e in events)
    assert reasons.count("wrong_password") == 3, reasons
    assert reasons.count("delayed") == 9, reasons


@pytest.mark.timing
def test_unknown_user_and_wrong_password_look_the_same(server):
    server.register("timing@example.com", "timing")

    runs = interleaved_timings({
        "known": lambda i: server.login("timing@example.com", "Wrong-passw0rd!"),
        "unknown": lambda i: server.login(f"ghost{i}@example.com", "Wrong-passw0rd!"),
    }, rounds=7)
    known, unknown = runs["known"], runs["unknown"]
    assert {r.status_code for _, r in known + unknown} == {401}
    assert {r.content for _, r in known + unknown} == {b'{"detail":"Incorrect email or password"}'}
    assert known[0][1].headers.keys() == unknown[0][1].headers.keys()
    # Both pay one bcrypt hash; "within noise" is a loose factor of two on medians.
    k = statistics.median(t for t, _ in known)
    u = statistics.median(t for t, _ in unknown)
    assert 0.5 < u / k < 2.0, (k, u)


def test_audit_trail_and_analytics(server):
    admin = server.admin_token()
    server.register("aud1@example.com", "aud1")
    server.login("aud1")
    server.login("aud1", "nope-Passw0rd")
    user = uid(server.token("aud1"))
    requests.put(server.url(f"/api/v1/users/{user}/role"), json={"role": "moderator"},
                 headers={**auth(admin), "X-Request-Id": "role-change-1", "User-Agent": "pytest-agent"})
    events = audit(server, admin, user_id=user)
    types = [e["type"] for e in events]
    for expected in ("user.registered", "login.succeeded", "login.failed", "user.role_changed"):
        assert expected in types, types
    change = next(e for e in events if e["type"] == "user.role_changed")
    assert change["request_id"] == "role-change-1" and change["user_agent"] == "pytest-agent"
    assert change["actor_id"] == uid(admin) and change["detail"] == {"from": "user", "to": "moderator"}
    assert change["client_ip"] == "127.0.0.1" and change["time"] > 0
    failed = next(e for e in events if e["type"] == "login.failed")
    assert failed["detail"] == {"reason": "wrong_password"}
    text = str(events)
    assert "Passw0rd" not in text and "$2b$" not in text
    assert [e["type"] for e in audit(server, admin, type="login.failed", limit=1)] == ["login.failed"]
    assert audit(server, admin, since=int(time.time()) + 3600) == []
    assert audit(server, admin, since="2000-01-01T00:00:00Z")
    assert requests.get(server.url("/api/v1/audit-events?limit=0"), headers=auth(admin)).status_code == 422
    # Found by an outside attack: seconds whose milliseconds overflow stopped the (sanitized) server.
    # Before 1970 or after 9999 is a 422, as a malformed time is; the console's filter the same.
    assert audit(server, admin, since=253402300799) == []
    for since in ("9999999999999999", "-9223372036854776", "-1", "253402300800", "1969-12-31T23:59:59Z"):
        r = requests.get(server.url("/api/v1/audit-events"), params={"since": since}, headers=auth(admin))
        assert r.status_code == 422 and "expected Unix seconds" in r.text, (since, r.status_code)
    assert requests.get(server.url("/readyz")).status_code == 200
    summary = requests.get(server.url("/api/v1/analytics/summary"), headers=auth(admin)).json()
    assert summary["logins_ok"] >= 2 and summary["logins_failed"] >= 1 and summary["active_users"] >= 2
    assert summary["registrations_per_day"][0]["count"] >= 1
    normal = server.token("aud1")
    assert requests.get(server.url("/api/v1/audit-events"), headers=auth(normal)).status_code == 403
    assert requests.get(server.url("/api/v1/analytics/summary"), headers=auth(normal)).status_code == 403


def test_a_stopped_audit_file_reader_holds_up_no_sign_in(make_server, tmp_path):
    """An outside attack: the AUDIT_LOG_FILE copy was written on the request's own thread, so a
    FIFO reader that stopped reading (a stalled log shipper, a blocked journald on stdout) held
    every request that wrote an audit record, sign-ins included, for as long as it stayed
    stopped. Now a writer of its own takes it: the requests go on, and the records arrive once
    the reader reads again."""
    fifo = tmp_path / "audit.fifo"
    os.mkfifo(fifo, 0o600)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, and not reading
    fcntl.fcntl(reader, 1031, 4096)  # F_SETPIPE_SZ: one page, full after a few records
    try:
        s = make_server({"AUDIT_LOG_FILE": str(fifo), "LOGIN_RATE_LIMIT": "1000/minute",
                         "LOGIN_LOCKOUT_THRESHOLD": "100", "LOGIN_DELAY_AFTER_FAILURES": "0"})
        assert s.register("stalled@example.com", "stalled").status_code == 201
        for _ in range(30):  # about 15 KB of records into a 4 KB pipe
            r = requests.post(s.url("/api/v1/auth/login"), data={"username": "stalled", "password": "wrong-one"},
                              timeout=10)
            assert r.status_code == 401, r.text
        r = requests.post(s.url("/api/v1/auth/login"), data={"username": "stalled", "password": "Passw0rd!x"},
                          timeout=10)
        assert r.status_code == 200, r.text
        got = b""
        deadline = time.monotonic() + 10
        while got.count(b"\n") < 32 and time.monotonic() < deadline:
            try:
                got += os.read(reader, 65536)
            except BlockingIOError:
                time.sleep(0.05)
        lines = got.decode().splitlines()
        assert len(lines) == 32, len(lines)
        assert [json.loads(x)["type"] for x in lines].count("login.failed") == 30
        metrics = requests.get(s.url("/metrics")).text
        assert 'gatehouse_audit_copy_lost_total{reason="reader_lagging"} 0' in metrics
        assert 'gatehouse_audit_copy_lost_total{reason="write_failed"} 0' in metrics
    finally:
        os.close(reader)


def test_a_hangup_reopens_the_audit_file_a_rotation_renamed(make_server, tmp_path):
    """logrotate's recipe (rename, then `kill -HUP`): SIGHUP's default action ended the server,
    and without it records went on into the renamed file. Now SIGHUP opens the path again."""
    path = tmp_path / "audit.jsonl"
    s = make_server({"AUDIT_LOG_FILE": str(path)})
    assert s.register("rotated@example.com", "rotated").status_code == 201
    # The file's writer runs beside the request: the first record is written before the rename
    # (on a loaded machine it was written after, into the reopened file, and this failed).
    deadline = time.monotonic() + 5
    while not (path.exists() and path.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.rename(path, tmp_path / "audit.jsonl.1")
    s.proc.send_signal(signal.SIGHUP)
    assert s.register("rotated2@example.com", "rotated2").status_code == 201
    assert s.proc.poll() is None
    assert requests.get(s.url("/readyz")).status_code == 200

    def types(p):
        return [json.loads(x)["type"] for x in p.read_text().splitlines()]

    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert types(tmp_path / "audit.jsonl.1") == ["user.registered"]
    assert types(path) == ["user.registered"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "audit log file reopened" in s.log_text()


def test_audit_chain_detects_an_edited_row(make_server, tmp_path):
    s = make_server({"AUDIT_LOG_FILE": str(tmp_path / "audit.jsonl")})
    for i in range(3):
        s.register(f"chain{i}@example.com", f"chain{i}")
    s.stop()
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 3 and '"user.registered"' in lines[0]
    r = s.cli("audit", "verify")
    assert r.returncode == 0 and "3 records" in r.stdout
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    try:
        db.execute("UPDATE audit_events SET type='x' WHERE id=2")
        raise AssertionError("update should be refused by the append-only trigger")
    except sqlite3.DatabaseError:
        pass
    # A determined attacker drops the trigger first; the chain still gives them away.
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit_events SET client_ip='10.6.6.6' WHERE id=2")
    db.commit()
    r = s.cli("audit", "verify")
    assert r.returncode == 1 and "record 2 was altered" in r.stderr
    # Found by an outside attack: the chain was plain SHA-256, and computing the hashes again from
    # the edited row on made `audit verify` say intact. Each record's hash is now also keyed under
    # a key from the master secret, which the database does not hold.
    rechain(db, 2)
    assert rechain(db, 2) == 0  # the hashes alone are whole again
    r = s.cli("audit", "verify")
    assert r.returncode == 1 and "record 2's key does not match" in r.stderr, r.stderr
    # Stripping the keys as well: those records carry none, and nothing in the database excuses them.
    db.execute("UPDATE audit_events SET mac='' WHERE id >= 2")
    db.commit()
    r = s.cli("audit", "verify")
    assert r.returncode == 1 and "2 record(s) carry no key, the first 2" in r.stderr, r.stderr
    # And the key ring emptied, so that no key is there to check with: that is not intact either.
    db.execute("UPDATE audit_events SET mac=''")
    db.execute("DELETE FROM key_ring")
    db.commit()
    r = s.cli("audit", "verify")
    assert r.returncode == 1 and "no master secret in this database" in r.stderr, (r.stdout, r.stderr)
    # Every record deleted (the triggers dropped): a whole chain of none, which is said plainly.
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit_events")
    db.commit()
    r = s.cli("audit", "verify")
    assert r.returncode == 0 and "intact: 0 records" in r.stdout, (r.stdout, r.stderr)
    assert "no audit records at all" in r.stderr and "AUDIT_LOG_FILE" in r.stderr, r.stderr
    db.close()


def rechain(db, start):
    """What a writer of the table without the key can do: compute each record's hash (and the
    next one's prev_hash) again from `start` on, as the server's sealRecord does. How many rows'
    hashes changed."""
    rows = db.execute("SELECT id, time_ms, type, request_id, actor_id, subject_id, client_ip, user_agent, "
                      "detail, prev_hash, hash FROM audit_events ORDER BY id").fetchall()
    prev, changed = rows[start - 2][10] if start > 1 else "0" * 64, 0
    for row in rows[start - 1:]:
        canonical = json.dumps(list(row[:9]) + [prev], separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        changed += digest != row[10]
        db.execute("UPDATE audit_events SET prev_hash=?, hash=? WHERE id=?", (prev, digest, row[0]))
        prev = digest
    db.commit()
    return changed


def test_records_from_before_keying_are_accepted_only_below_the_operators_number(make_server, tmp_path):
    s = make_server()
    for i in range(3):
        s.register(f"old{i}@example.com", f"old{i}")
    s.stop()
    # As a version from before keying wrote them: no key (the column's default).
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit_events SET mac=''")
    db.commit()
    db.close()
    s.start()
    # Found by the review: a node named the unkeyed end at every start, so a writer who stripped
    # the keys got the number that excuses them from the server itself. Nothing vouches now.
    assert "unkeyed-before" not in s.log_text() and "vouch" not in s.log_text()
    s.register("new@example.com", "newer")
    s.stop()
    r = s.cli("audit", "verify")
    assert r.returncode == 1 and "3 record(s) carry no key, the first 1" in r.stderr, r.stderr
    r = s.cli("audit", "verify", "--unkeyed-before", "4")
    assert r.returncode == 0 and "4 records, 1 keyed" in r.stdout, (r.stdout, r.stderr)
    # The older records are covered by the first keyed one: a rewrite among them is found.
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db")
    db.execute("UPDATE audit_events SET client_ip='10.6.6.6' WHERE id=2")
    db.commit()
    assert rechain(db, 2) == 3
    db.close()
    r = s.cli("audit", "verify", "--unkeyed-before", "4")
    assert r.returncode == 1 and "record 4's key does not match" in r.stderr, r.stderr
    assert s.cli("audit", "verify", "--unkeyed-before", "0").returncode != 0  # a positive id


def test_commands_run_before_the_first_start_are_named_by_it_once(make_server):
    """The review: `migrate` then `user create` before the first start (as docs/migrating.md does)
    left records no key covers, and nothing said which. The start that makes the master secret
    names them, once; the operator's number then excuses them (a record the database vouched for
    could be vouched for again by a writer: the review did, twice)."""
    s = make_server(start=False)
    assert s.cli("migrate").returncode == 0
    r = s.cli("user", "create", "--email", "early@example.com", "--username", "early", "--password-stdin",
              stdin="Passw0rd!x\n")
    assert r.returncode == 0, r.stderr
    r = s.cli("audit", "verify")  # no master secret yet: nothing can check the record
    assert r.returncode == 1 and "no master secret in this database" in r.stderr, (r.stdout, r.stderr)
    s.start()
    assert "first 1 records carry no key" in s.log_text() and "--unkeyed-before 2" in s.log_text()
    s.login("early")
    s.stop()
    r = s.cli("audit", "verify")
    assert r.returncode == 1 and "1 record(s) carry no key, the first 1" in r.stderr, r.stderr
    r = s.cli("audit", "verify", "--unkeyed-before", "2")
    assert r.returncode == 0 and "2 records, 1 keyed" in r.stdout, (r.stdout, r.stderr)
    s.start()
    s.stop()
    assert s.log_text().count("carry no key") == 1

def test_metrics_endpoint(server):
    server.register("met@example.com", "metrics")
    server.login("metrics")
    server.login("metrics", "bad")
    text = requests.get(server.url("/metrics")).text
    assert 'gatehouse_http_requests_total{method="POST",route="/api/v1/auth/login",status="200"} 1' in text
    assert 'gatehouse_logins_total{result="ok"} 1' in text
    assert 'gatehouse_logins_total{result="failed"} 1' in text
    assert "gatehouse_http_request_duration_seconds_bucket" in text
    assert "gatehouse_hash_queue_depth 0" in text
    assert "gatehouse_tokens_issued_total 4" in text


def test_malformed_requests_do_not_spend_a_rate_limit(make_server):
    """The seed's limiter counts requests that reach the endpoint: a registration or login refused
    as malformed (422, a weak password included) is not counted, a well-formed one is, and the
    password grant's limit is not spent by refresh_token grants."""
    s = make_server({"LOGIN_RATE_LIMIT": "2/minute", "REGISTER_RATE_LIMIT": "2/minute"})
    for _ in range(4):
        assert s.register("weak@example.com", "weakpw", "short").status_code == 422
        r = requests.post(s.url("/api/v1/auth/register"), json={"email": "x@example.com"})
        assert r.status_code == 422
    assert s.register("ok1@example.com", "okone").status_code == 201
    pair = s.login("okone").json()
    for _ in range(4):
        r = requests.post(s.url("/api/v1/auth/login"), data={"password": "no-username"})
        assert r.status_code == 422
        r = requests.post(s.url("/api/v1/auth/login"),
                          data={"grant_type": "refresh_token", "refresh_token": pair["refresh_token"]})
        assert r.status_code == 200, r.text
        pair = r.json()
    assert s.register("ok2@example.com", "oktwo").status_code == 201
    assert s.register("ok3@example.com", "okthree").status_code == 429
    assert s.login("okone").status_code == 200
    r = s.login("okone")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_cli_acts_through_the_services_and_is_audited_as_cli(server):
    """The CLI runs the API's own services: the same rules, transactions and audit events, with
    actor "cli" and no user id."""
    admin = server.admin_token()
    server.register("clia@example.com", "clia")
    user_token = server.token("clia")
    uid = requests.get(server.url("/api/v1/auth/me"), headers=auth(user_token)).json()["id"]
    r = server.cli("user", "set-role", "--email", "clia@example.com", "--role", "king")
    assert r.returncode == 1 and "Unknown role: king" in r.stderr
    assert server.cli("user", "set-role", "--email", "clia@example.com", "--role", "moderator").returncode == 0
    assert server.cli("user", "set-password", "--email", "clia@example.com", stdin="An0ther-Passw0rd!\n").returncode == 0
    assert server.cli("user", "deactivate", "--email", "clia@example.com").returncode == 0
    deadline = time.time() + 5
    while requests.get(server.url("/api/v1/auth/me"), headers=auth(user_token)).status_code == 200:
        assert time.time() < deadline, "the CLI's deactivation did not reach the server"
        time.sleep(0.1)
    events = requests.get(server.url("/api/v1/audit-events"), params={"user_id": uid, "limit": 100},
                          headers=auth(admin)).json()["items"]
    by_type = {e["type"]: e for e in events}
    for kind in ("user.role_changed", "password.reset", "user.deactivated"):
        assert kind in by_type, (kind, [e["type"] for e in events])
        assert by_type[kind]["detail"].get("actor") == "cli", by_type[kind]
        assert by_type[kind]["actor_id"] is None, by_type[kind]
    root = requests.get(server.url("/api/v1/audit-events"), params={"type": "user.created", "limit": 100},
                        headers=auth(admin)).json()["items"]
    assert any(e["detail"].get("actor") == "cli" and e["detail"].get("role") == "admin" for e in root), root


def test_a_hangup_during_the_start_does_not_end_it(make_server, tmp_path):
    """A SIGHUP (logrotate, a reload) arriving before the server's signal set was in place took
    its default action and ended the start: here while the start waits for the database, which
    another process holds locked."""
    s = make_server()
    s.stop()
    db = sqlite3.connect(tmp_path / "data" / "gatehouse.db", isolation_level=None)
    # WAL lets readers past a writer's lock; this mode shuts them out too.
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    db.execute("BEGIN EXCLUSIVE")
    db.execute("SELECT COUNT(*) FROM users").fetchall()
    try:
        s.start(wait=False)
        time.sleep(1.5)  # the start is waiting for the lock (busy timeout 5 s)
        assert s.proc.poll() is None, s.log_text()[-2000:]
        s.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert s.proc.poll() is None, f"ended by SIGHUP: {s.proc.returncode}"
        with pytest.raises(requests.ConnectionError):  # still waiting, not listening
            requests.get(s.url("/readyz"), timeout=1)
    finally:
        db.execute("COMMIT")
        db.close()
    s.wait_ready()
    assert requests.get(s.url("/readyz")).status_code == 200


def test_ending_a_users_sessions_records_only_what_ended(server):
    """An outside attack: each DELETE /users/{id}/sessions added a sessions.ended record, also
    with no session left to end ("sessions_ended": 0). Only an end that ended something is
    recorded; the answer stays 204."""
    admin = server.admin_token()
    server.register("ends@example.com", "ends")
    victim = server.login("ends").json()
    user_id = uid(victim["access_token"])

    def ended():
        items = requests.get(server.url("/api/v1/audit-events"), params={"type": "sessions.ended", "user_id": user_id},
                             headers=auth(admin)).json()["items"]
        return [e["detail"]["sessions_ended"] for e in items]
    for _ in range(3):
        assert requests.delete(server.url(f"/api/v1/users/{user_id}/sessions"), headers=auth(admin)).status_code == 204
    assert ended() == [2]  # registration's and the login's
    assert requests.get(server.url("/api/v1/auth/me"), headers=auth(victim["access_token"])).status_code == 401


def test_a_sign_in_past_sessions_per_user_ends_the_least_recently_used(make_server):
    """An outside attack held 1,500 live sessions on one account (each listed, each renewing at
    its own pace). SESSIONS_PER_USER: a sign-in past it ends the least recently used sessions
    begun before its second, tokens included; a session in use stays, the new one always stays,
    and other users' sessions are untouched."""
    s = make_server({"SESSIONS_PER_USER": "3"})
    admin = s.admin_token()
    first = s.register("many@example.com", "many").json()  # the registration's own session
    s.register("other@example.com", "other")
    others = s.login("other").json()
    logins = []
    for _ in range(2):
        time.sleep(1.1)  # each begun in a second of its own
        logins.append(s.login("many").json())
    # The first session is the oldest but in use (refreshed now): the next sign-ins end others.
    time.sleep(1.1)
    first = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": first["refresh_token"]}).json()
    for _ in range(2):
        time.sleep(1.1)
        logins.append(s.login("many").json())
    newest = logins.pop()
    live = {name: requests.get(s.url("/api/v1/auth/me"), headers=auth(p["access_token"])).status_code
            for name, p in (("first", first), ("l0", logins[0]), ("l1", logins[1]), ("l2", logins[2]),
                            ("newest", newest))}
    # l2 made four (l0 ended, the least recently used then); newest made four again (l1 ended).
    assert live == {"first": 200, "l0": 401, "l1": 401, "l2": 200, "newest": 200}, live
    for ended in (logins[0], logins[1]):
        r = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": ended["refresh_token"]})
        assert r.status_code == 401
    listed = requests.get(s.url("/api/v1/auth/sessions"), headers=auth(newest["access_token"])).json()["items"]
    assert len(listed) == 3 and [x["current"] for x in listed].count(True) == 1
    assert requests.get(s.url("/api/v1/auth/me"), headers=auth(others["access_token"])).status_code == 200
    events = requests.get(s.url("/api/v1/audit-events"), params={"type": "sessions.ended", "user_id": uid(newest["access_token"])},
                          headers=auth(admin)).json()["items"]
    assert [(e["detail"]["sessions_ended"], e["detail"]["reason"]) for e in events] == [(1, "SESSIONS_PER_USER")] * 2
    r = subprocess.run([BIN, "config", "--check"], env={**s.env, "SESSIONS_PER_USER": "0"}, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "SESSIONS_PER_USER" in r.stderr, r.stderr


def test_concurrent_sign_ins_never_end_each_others_new_session(make_server):
    """The review: with SESSIONS_PER_USER=1, two sign-ins at once each ended the other's new
    session, and both callers held dead tokens. Only sessions begun before a sign-in's second may
    go: every pair handed out works (the limit is passed until the next sign-in)."""
    s = make_server({"SESSIONS_PER_USER": "1"})
    s.register("race@example.com", "race")
    one_second = rounds = 0
    while rounds < 3 or (not one_second and rounds < 10):  # until one fits in a second
        rounds += 1
        time.sleep(1.02 - time.time() % 1)  # just after a second begins
        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            pairs = list(pool.map(lambda _: s.login("race").json(), range(4)))
        ended = time.time()
        works = [requests.get(s.url("/api/v1/auth/me"), headers=auth(p["access_token"])).status_code == 200
                 for p in pairs]
        # Only a session begun in an earlier second than another may be ended by it: sign-ins of
        # one second never end each other's, and some pair always works. By the clock around
        # them, not the tokens' iat: a token is stamped after its session's row, maybe a second
        # later (a review saw [False, True, True, True] under four equal iat).
        assert any(works), works
        if int(started) == int(ended):
            one_second += 1
            assert all(works), works
        time.sleep(1.1)
    assert one_second, "no round of four sign-ins within one second in ten: the test proved less"
    # The next sign-in, a second later, ends all of those.
    last = s.login("race").json()
    listed = requests.get(s.url("/api/v1/auth/sessions"), headers=auth(last["access_token"])).json()["items"]
    assert len(listed) == 1 and listed[0]["current"] is True
