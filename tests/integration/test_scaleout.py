"""Several nodes: two gatehouse processes sharing a real PostgreSQL (durable data) and a real Redis
(counters, revocations, change pokes), behind a real nginx balancing round-robin, all on loopback.
Needs GATEHOUSE_TEST_POSTGRES_URL and GATEHOUSE_TEST_PG_BIN (scripts/services.sh sets them)."""
import concurrent.futures
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest
import requests

from conftest import BIN, PG_BIN, PG_URL, Redis, auth, fresh_database, free_port, start_nginx

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (run scripts/test.sh)")


def balancer(tmp_path, upstream_ports):
    """nginx balancing round-robin over the nodes; (process, base URL)."""
    port = free_port()
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=2s;" for p in upstream_ports)
    proc = start_nginx(tmp_path, port, f"""
  upstream gatehouse {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://gatehouse;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_next_upstream error timeout;
    }}
  }}""", name="nginx-lb")
    return proc, f"http://127.0.0.1:{port}"


@pytest.fixture
def cluster(make_server, tmp_path):
    redis = Redis(tmp_path)
    redis.start()
    db = fresh_database()

    def node(name, extra=None):
        data = tmp_path / name
        data.mkdir()
        env = {"DATABASE_URL": db, "REDIS_URL": redis.url, "GATEHOUSE_DATA_DIR": str(data),
               "TRUSTED_PROXIES": "127.0.0.1"}
        env.update(extra or {})
        return make_server(env)

    yield node, redis
    redis.stop()


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.02)
    return None


def test_register_on_one_node_login_on_the_other(cluster):
    node, _ = cluster
    a, b = node("a"), node("b")
    assert a.register("ann@example.com", "ann").status_code == 201
    r = b.login("ann")
    assert r.status_code == 200, r.text
    me = requests.get(b.url("/api/v1/auth/me"), headers=auth(r.json()["access_token"]))
    assert me.status_code == 200 and me.json()["email"] == "ann@example.com"
    assert a.register("ANN@example.com", "other").status_code == 409  # unique across nodes
    assert b.register("x@example.com", "ANN").status_code == 409


def test_logout_on_one_node_voids_the_token_on_the_other_within_a_second(cluster):
    node, _ = cluster
    a, b = node("a"), node("b")
    a.register("bob@example.com", "bob")
    token = a.token("bob")
    assert requests.get(b.url("/api/v1/auth/me"), headers=auth(token)).status_code == 200
    assert requests.post(a.url("/api/v1/auth/logout"), headers=auth(token)).status_code in (200, 204)
    start = time.monotonic()
    refused = wait_until(
        lambda: requests.get(b.url("/api/v1/auth/me"), headers=auth(token)).status_code == 401, 1.0)
    assert refused is not None, "node B still accepted the logged-out token after 1 s"
    assert refused - start < 1.0


def test_ending_a_session_on_one_node_ends_all_its_access_tokens_on_the_other(cluster):
    """A session ends as a whole on every node: the victim's other session (its access token
    refreshed on node B, so no jti of it was ever revoked) dies on B when A ends it."""
    node, _ = cluster
    a, b = node("a"), node("b")
    a.register("dan@example.com", "dan")
    mine = a.token("dan")
    stolen = b.login("dan").json()
    refreshed = requests.post(b.url("/api/v1/auth/refresh"), json={"refresh_token": stolen["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    stolen_access = refreshed.json()["access_token"]
    assert requests.get(b.url("/api/v1/auth/me"), headers=auth(stolen_access)).status_code == 200
    sessions = requests.get(a.url("/api/v1/auth/sessions"), headers=auth(mine)).json()["items"]
    for s in sessions:
        if not s["current"]:
            assert requests.delete(a.url(f"/api/v1/auth/sessions/{s['id']}"), headers=auth(mine)).status_code == 204
    start = time.monotonic()
    refused = wait_until(
        lambda: requests.get(b.url("/api/v1/auth/me"), headers=auth(stolen_access)).status_code == 401, 1.0)
    assert refused is not None, "node B still accepted an access token of the ended session after 1 s"
    assert refused - start < 1.0
    assert requests.get(b.url("/api/v1/auth/me"), headers=auth(mine)).status_code == 200


def test_deactivation_on_one_node_applies_on_the_other_within_a_second(cluster):
    node, _ = cluster
    a, b = node("a"), node("b")
    admin = a.admin_token()
    a.register("cat@example.com", "cat")
    token = b.token("cat")
    uid = requests.get(b.url("/api/v1/auth/me"), headers=auth(token)).json()["id"]
    r = requests.patch(a.url(f"/api/v1/users/{uid}"), headers=auth(admin), json={"is_active": False})
    assert r.status_code == 200, r.text
    assert wait_until(
        lambda: requests.get(b.url("/api/v1/auth/me"), headers=auth(token)).status_code == 403, 1.0)


def test_login_rate_limit_counts_both_nodes_together(cluster, tmp_path):
    node, _ = cluster
    a, b = node("a", {"LOGIN_RATE_LIMIT": "5/minute"}), node("b", {"LOGIN_RATE_LIMIT": "5/minute"})
    nginx, base = balancer(tmp_path, [a.port, b.port])
    try:
        codes = [requests.post(base + "/api/v1/auth/login", data={"username": "dan", "password": "wrong"}).status_code
                 for _ in range(6)]
        assert codes[:5] == [401] * 5, codes
        assert codes[5] == 429, codes
        # Each node took part (round-robin), and both now refuse that client.
        for n in (a, b):
            r = requests.post(n.url("/api/v1/auth/login"), data={"username": "dan", "password": "wrong"},
                              headers={"X-Forwarded-For": "127.0.0.1"})
            assert r.status_code == 429
            assert int(r.headers["Retry-After"]) > 0
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


def test_sigkill_during_a_registration_burst_loses_no_created_user(cluster, tmp_path):
    node, _ = cluster
    a, b = node("a"), node("b")
    nginx, base = balancer(tmp_path, [a.port, b.port])
    try:
        def register(i):
            try:
                r = requests.post(base + "/api/v1/auth/register", timeout=30,
                                  json={"email": f"u{i}@example.com", "username": f"user{i}", "password": "Passw0rd!x"})
                return i, r.status_code
            except requests.RequestException:
                return i, None

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            futures = [pool.submit(register, i) for i in range(120)]
            time.sleep(0.3)
            a.kill()
            results = [f.result() for f in futures]
        created = [i for i, code in results if code == 201]
        assert len(created) >= 20, results  # the burst really ran on both sides of the kill
        for i in created:
            r = b.login(f"user{i}")
            assert r.status_code == 200, (i, r.text)
        # The survivor keeps serving, directly and through the balancer.
        assert requests.get(b.url("/readyz")).status_code == 200
        r = requests.post(base + "/api/v1/auth/register",
                          json={"email": "after@example.com", "username": "after", "password": "Passw0rd!x"})
        assert r.status_code == 201, r.text
    finally:
        nginx.terminate()
        nginx.wait(timeout=10)


def test_redis_down_fails_closed_then_recovers(cluster):
    node, redis = cluster
    a = node("a")
    a.register("eve@example.com", "eve")
    pair = a.login("eve").json()
    token = pair["access_token"]
    assert requests.get(a.url("/api/v1/auth/me"), headers=auth(token)).status_code == 200
    key = requests.post(a.url("/api/v1/api-keys"), json={"name": "ci"}, headers=auth(token)).json()["key"]
    redis.stop()
    assert wait_until(lambda: requests.get(a.url("/api/v1/auth/me"), headers=auth(token)).status_code == 503, 5)
    r = requests.get(a.url("/api/v1/auth/me"), headers=auth(token))
    assert r.status_code == 503 and "detail" in r.json()
    assert a.login("eve").status_code == 503  # no shared rate-limit counters: refuse, don't guess
    assert requests.get(a.url("/readyz")).status_code == 503
    assert requests.get(a.url("/healthz")).status_code == 200  # alive, just not ready
    # API keys and refresh tokens are checked against PostgreSQL alone: they keep working.
    assert requests.get(a.url("/api/v1/auth/me"), headers={"X-API-Key": key}).status_code == 200
    r = requests.post(a.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    redis.start()
    assert wait_until(lambda: requests.get(a.url("/api/v1/auth/me"), headers=auth(token)).status_code == 200, 10)
    assert requests.get(a.url("/readyz")).status_code == 200
    assert a.login("eve").status_code == 200


class CuttableLink:
    """A loopback TCP relay to Redis that a test can cut (dropping every connection) and restore:
    one node loses Redis while the others keep it."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.conns += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        self.open = False
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns = []

    def restore(self):
        self.open = True

    def close(self):
        self.cut()
        self.listener.close()


def test_revocation_published_while_a_node_was_cut_off_reaches_it_after_resync(cluster):
    node, redis = cluster
    link = CuttableLink(redis.port)
    try:
        a = node("a")
        b = node("b", {"REDIS_URL": f"redis://127.0.0.1:{link.port}"})
        a.register("fay@example.com", "fay")
        token = a.token("fay")
        assert requests.get(b.url("/api/v1/auth/me"), headers=auth(token)).status_code == 200
        link.cut()
        # B may have missed something now: it refuses to call any token valid.
        assert wait_until(lambda: requests.get(b.url("/api/v1/auth/me"), headers=auth(token)).status_code == 503, 5)
        # A still has Redis: the logout is stored and published, and B does not hear it.
        assert requests.post(a.url("/api/v1/auth/logout"), headers=auth(token)).status_code == 200
        link.restore()
        # B re-reads the revocations from PostgreSQL before it counts as live again.
        assert wait_until(lambda: requests.get(b.url("/api/v1/auth/me"), headers=auth(token)).status_code != 503, 10)
        assert requests.get(b.url("/api/v1/auth/me"), headers=auth(token)).status_code == 401
    finally:
        link.close()


def test_migrate_from_several_nodes_at_once_applies_each_migration_once(tmp_path):
    db = fresh_database()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DATABASE_URL": db, "GATEHOUSE_DATA_DIR": str(tmp_path)}
    procs = [subprocess.Popen([BIN, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outputs
    versions = {out.strip().split()[-1] for out, _ in outputs}
    assert len(versions) == 1, outputs
    u = urllib.parse.urlparse(db)
    applied = subprocess.run([f"{PG_BIN}/psql", "-h", u.hostname, "-p", str(u.port), "-U", u.username, "-d",
                              u.path[1:], "-tAc", "SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations"],
                             capture_output=True, text=True, check=True).stdout.strip()
    count, distinct = applied.split("|")
    assert count == distinct and int(count) >= 4


def test_unreachable_database_stops_startup_with_a_clear_message_and_no_password(tmp_path):
    port = free_port()  # nothing listens here
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GATEHOUSE_DATA_DIR": str(tmp_path),
           "DATABASE_URL": f"postgresql://gate:pw-zzzz-secret@127.0.0.1:{port}/gh", "SECRET_KEY": "k" * 40}
    r = subprocess.run([BIN, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "cannot connect to PostgreSQL" in r.stderr, r.stderr
    assert "zzzz" not in r.stdout + r.stderr
    shown = subprocess.run([BIN, "config"], env=env, capture_output=True, text=True, timeout=60)
    assert "postgresql://gate:***@127.0.0.1" in shown.stdout and "zzzz" not in shown.stdout


def test_a_totp_code_is_accepted_once_across_nodes(cluster):
    """The last accepted time step lives in the shared database: a code used on one node is a
    replay on the other, and the mfa_token (in Redis) is single use across nodes too."""
    import pyotp
    from test_mfa import challenge, enrol, fresh_code, verify

    node, _ = cluster
    shared = {"MFA_SECRET_KEY": "m" * 40, "MFA_RATE_LIMIT": "1000/minute"}
    a, b = node("a", shared), node("b", shared)
    e = enrol(a, "twonodes")  # sealed on node a
    code, _ = fresh_code(e.uri, after=e.step)
    token = challenge(b, "twonodes")  # opened on node b
    r = verify(b, token, code)
    assert r.status_code == 200, r.text
    # The same code with a new challenge on the other node: a replay.
    r = verify(a, challenge(a, "twonodes"), code)
    assert (r.status_code, r.json()) == (401, {"detail": "Invalid code"})
    # An mfa_token spent on one node is spent on the other.
    again = verify(a, token, code)
    assert (again.status_code, again.json()) == (401, {"detail": "Invalid code"})
    assert pyotp.parse_uri(e.uri).verify(code, valid_window=1)  # it was a right code all along


def test_the_openid_provider_shares_clients_keys_consent_and_codes_across_nodes(cluster):
    """Gatehouse as an OpenID Provider on two nodes: one signing key, one client registry, a
    consent given on one node known to the other, a code issued on one node spent on the other,
    and a replay on the first ending on both what the code gave."""
    import base64
    import hashlib
    import html
    import re

    node, _ = cluster
    shared = {"MFA_SECRET_KEY": "m" * 40, "GATEHOUSE_PUBLIC_URL": "http://127.0.0.1"}
    a, b = node("a", shared), node("b", shared)
    assert requests.get(a.url("/.well-known/jwks.json")).json() == \
        requests.get(b.url("/.well-known/jwks.json")).json()
    made = a.cli("client", "create", "--name", "Two nodes", "--redirect-uri", "https://rp.example/cb", "--json")
    assert made.returncode == 0, made.stderr
    client = json.loads(made.stdout)
    assert a.register("op2@example.com", "optwo").status_code == 201
    verifier = "v" * 50
    query = urllib.parse.urlencode({
        "client_id": client["client_id"], "redirect_uri": "https://rp.example/cb", "response_type": "code",
        "scope": "openid email offline_access", "state": "s1", "nonce": "n1", "code_challenge_method": "S256",
        "code_challenge": base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()})
    browser = requests.Session()  # cookies are per host, not per port: one browser for both nodes
    origin = {"Origin": "http://127.0.0.1"}

    def hidden(page):
        return {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)}

    r = browser.get(a.url("/oauth2/authorize?" + query), allow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?")
    form = hidden(browser.get(b.url(r.headers["location"])).text)
    r = browser.post(b.url("/ui/login"), data={**form, "username": "optwo", "password": "Passw0rd!x"},
                     headers=origin, allow_redirects=False)
    assert r.status_code == 303, r.text
    consent = browser.get(a.url(r.headers["location"]), allow_redirects=False)
    assert consent.status_code == 200 and 'action="/ui/consent"' in consent.text
    r = browser.post(b.url("/ui/consent"), data={**hidden(consent.text), "decision": "allow"}, headers=origin,
                     allow_redirects=False)
    assert r.status_code == 303, r.text
    code = urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["location"]).query)["code"][0]

    def exchange(server):
        return requests.post(server.url("/oauth2/token"), auth=(client["client_id"], client["client_secret"]),
                             data={"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                   "redirect_uri": "https://rp.example/cb"})

    tokens = exchange(b)
    assert tokens.status_code == 200, tokens.text
    bearer = {"Authorization": "Bearer " + tokens.json()["access_token"]}
    assert requests.get(a.url("/oauth2/userinfo"), headers=bearer).json()["email"] == "op2@example.com"
    # The consent given through node b: node a issues the next code without asking.
    again = browser.get(a.url("/oauth2/authorize?" + query), allow_redirects=False)
    assert again.status_code == 302 and "code=" in again.headers["location"], again.text
    # The same code again on node a: refused, and the first use's tokens end on both nodes.
    replay = exchange(a)
    assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
    assert wait_until(lambda: requests.get(b.url("/oauth2/userinfo"), headers=bearer).status_code == 401, 5)
    assert requests.get(a.url("/api/v1/auth/verify"), headers=bearer).status_code == 401
    refreshed = requests.post(a.url("/oauth2/token"), auth=(client["client_id"], client["client_secret"]),
                              data={"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]})
    assert (refreshed.status_code, refreshed.json()["error"]) == (400, "invalid_grant")


def test_a_node_that_cannot_open_the_provider_key_serves_everything_else(cluster):
    """Nodes that share no MFA_SECRET_KEY (as before the provider existed) keep serving; the one
    whose key does not open the provider's stored key answers 503 on /oauth2/* and says why."""
    node, _ = cluster
    a = node("a", {"MFA_SECRET_KEY": "m" * 40})
    b = node("b", {"MFA_SECRET_KEY": "n" * 40})
    assert b.register("nokey@example.com", "nokey").status_code == 201
    assert requests.get(a.url("/api/v1/auth/me"), headers=auth(a.token("nokey"))).status_code == 200
    assert requests.get(a.url("/.well-known/openid-configuration")).status_code == 200
    off = requests.get(b.url("/.well-known/openid-configuration"))
    assert (off.status_code, off.json()["error"]) == (503, "temporarily_unavailable")
    token = requests.post(b.url("/oauth2/token"), data={"grant_type": "client_credentials"})
    assert token.status_code == 503
    assert "OpenID Provider off on this node" in b.log_text()
