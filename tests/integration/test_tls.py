"""TLS to the backends. Gatehouse on a PostgreSQL that accepts TCP only with TLS
(`DATABASE_URL=...?sslmode=verify-full&sslrootcert=CA`) and a Redis that listens only with TLS
(`REDIS_URL=rediss://...`, `REDIS_CA_FILE=CA`), both presenting throw-away certificates made with
the openssl command line (tls_support.py).

What works: readiness, sign-in and revocation, one node and two sharing the Redis, with proof from
the servers' side that Gatehouse's connections are TLS (PostgreSQL's pg_stat_ssl; a Redis with no
plain port that counts Gatehouse's commands and subscriptions). What is refused: a certificate of
another CA, a certificate for another host, no TLS at all, a missing CA file; each either stops the
start or leaves the node not ready (never serving tokens, never sending a Redis command), with a log
line naming the problem and showing neither the Redis nor the database password.

Needs GATEHOUSE_BIN, redis-server built with TLS (Debian's is), PostgreSQL and openssl; starts its
own PostgreSQL and Redis (scripts/services.sh is not needed)."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
import requests

from conftest import Redis, Server, auth, body_of
from tls_support import PG_BIN, REDIS_SERVER, Pki, TlsPostgres, TlsRedis, free_port

pytestmark = pytest.mark.skipif(
    not (PG_BIN and os.path.exists(REDIS_SERVER) and shutil.which("openssl")),
    reason="needs PostgreSQL, redis-server and openssl (scripts/deps.sh --test)")

# Distinctive, so a log that shows either is caught (and nothing else in a log looks like them).
REDIS_PASSWORD = "rp-Hq3x-REDIS-SECRET-7731"
DB_PASSWORD = "pg-W8vz-DB-SECRET-4410"
SECRETS = (REDIS_PASSWORD, DB_PASSWORD)
# Nodes on the one refusal database share the key that seals what they store there.
SHARED_MFA_KEY = {"MFA_SECRET_KEY": "tls-refusals-share-this-mfa-secret-key-0123456789"}
# Gatehouse's Redis commands (state/redis.cpp): none may run for a node that refused the Redis.
GATEHOUSE_COMMANDS = ("auth", "select", "subscribe", "publish", "eval", "set", "get", "getdel",
                      "hmget", "del")


# --- services, one of each per module ---------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def redis(pki, tmp_path_factory):
    """TLS-only Redis with a certificate for localhost and 127.0.0.1, and a password."""
    r = TlsRedis(tmp_path_factory.mktemp("redis"), pki, password=REDIS_PASSWORD).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def redis_otherhost(pki, tmp_path_factory):
    """TLS-only Redis whose certificate (from the trusted CA) names only `otherhost`."""
    r = TlsRedis(tmp_path_factory.mktemp("redis-otherhost"), pki, cert="otherhost",
                 password=REDIS_PASSWORD).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def pg(pki):
    """PostgreSQL taking TCP only with TLS, with a certificate for localhost and 127.0.0.1."""
    p = TlsPostgres(pki, password=DB_PASSWORD).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def pg_otherhost(pki):
    """PostgreSQL taking TCP only with TLS, its certificate (from the trusted CA) for `otherhost`."""
    p = TlsPostgres(pki, cert="otherhost", password=DB_PASSWORD).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def refusal_db(pg):
    """One database for the refusal tests (their nodes never get as far as writing)."""
    return pg.createdb()


@pytest.fixture
def node(make_server, tmp_path, pki, pg, redis):
    """node(name, extra_env) starts a gatehouse on a fresh database of `pg` over verify-full TLS
    and on `redis` over rediss:// with REDIS_CA_FILE, and waits until /readyz is 200. Nodes of one
    test share the database."""
    db = pg.createdb()

    def make(name, extra=None):
        data = tmp_path / f"data-{name}"
        data.mkdir()
        env = {"DATABASE_URL": pg.url(db), "REDIS_URL": redis.url(), "REDIS_CA_FILE": pki.ca,
               "GATEHOUSE_DATA_DIR": str(data)}
        env.update(extra or {})
        s = make_server({k: v for k, v in env.items() if v is not None}, start=False)  # None: unset
        s.start(wait=False)
        s.wait_ready(timeout=15)  # a node that reaches its Redis is ready in a second or two
        return s

    make.db = db
    return make


# --- helpers -------------------------------------------------------------------------------------------

def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.02)
    return None


def me(n, token):
    return requests.get(n.url("/api/v1/auth/me"), headers=auth(token)).status_code


def logout(n, token):
    return requests.post(n.url("/api/v1/auth/logout"), headers=auth(token)).status_code


def readyz(n):
    return requests.get(n.url("/readyz"), timeout=5).status_code


def problem_line(log, *patterns):
    """The first line of `log` that matches every regex (case-insensitive), or None."""
    for line in log.splitlines():
        if all(re.search(p, line, re.IGNORECASE) for p in patterns):
            return line
    return None


def assert_no_secrets(text):
    for secret in SECRETS:
        assert secret not in text, f"a password is in the output:\n{text[-3000:]}"
    assert "Sanitizer" not in text, text[-5000:]


def gatehouse_calls(redis):
    calls = redis.command_calls()
    return {c: calls.get(c, 0) for c in GATEHOUSE_COMMANDS}


def refused_start(tmp_path, env, redis=None, observe=1.0):
    """Starts a gatehouse that must not come to serve: either it exits with 1, or it runs with
    /readyz 503 (for `observe` seconds, through the client's reconnection attempts), /healthz 200
    and registration 503, and it exits 0 on SIGTERM. With `redis`: not one Redis command of
    Gatehouse's (AUTH included) ran there meanwhile. Returns ("exited" | "not ready", log)."""
    data = tmp_path / f"data-{free_port()}"
    data.mkdir()
    s = Server(tmp_path, {"GATEHOUSE_DATA_DIR": str(data), **SHARED_MFA_KEY, **env})
    before = gatehouse_calls(redis) if redis else None
    s.start(wait=False)
    outcome = None
    try:
        deadline = time.time() + 30
        while outcome is None and time.time() < deadline:
            if s.proc.poll() is not None:
                outcome = "exited"
                break
            try:
                outcome = ("not ready", readyz(s))
            except requests.ConnectionError:
                time.sleep(0.05)
        assert outcome is not None, "neither listening nor exited after 30 s: " + s.log_text()[-3000:]
        if outcome == "exited":
            assert s.proc.returncode == 1, (s.proc.returncode, s.log_text()[-3000:])
        else:
            assert outcome[1] == 503, ("ready although the backend was refused", s.log_text()[-3000:])
            outcome = "not ready"
            end = time.time() + observe
            while time.time() < end:
                assert readyz(s) == 503, s.log_text()[-3000:]
                time.sleep(0.1)
            assert requests.get(s.url("/healthz")).status_code == 200
            r = s.register("refused@example.com", "refused")
            assert r.status_code == 503, (r.status_code, body_of(r))
            if redis:
                after = gatehouse_calls(redis)
                after["auth"] -= 1 if redis.password else 0  # the AUTH of this very query
                assert after == before, ("Gatehouse's commands ran on the refused Redis", before, after)
    finally:
        stopping = time.monotonic()
        code = s.stop()
        stopped_in = time.monotonic() - stopping
    if outcome == "not ready":
        assert code == 0, (code, s.log_text()[-3000:])
        assert stopped_in < 10, f"SIGTERM took {stopped_in:.1f} s while Redis was refused"
    log = s.log_text()
    assert_no_secrets(log)
    return outcome, log


# --- what works ----------------------------------------------------------------------------------------

def test_a_node_on_tls_postgres_and_tls_redis_serves_sign_in_and_revocation(node, pg, redis):
    calls = gatehouse_calls(redis)
    a = node("a")
    assert readyz(a) == 200
    assert a.register("tina@example.com", "tina").status_code == 201
    pair = a.login("tina").json()
    token = pair["access_token"]
    r = requests.get(a.url("/api/v1/auth/me"), headers=auth(token))
    assert r.status_code == 200 and r.json()["email"] == "tina@example.com", (r.status_code, body_of(r))
    assert logout(a, token) in (200, 204)
    assert me(a, token) == 401
    refreshed = requests.post(a.url("/api/v1/auth/refresh"), json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 401, (refreshed.status_code, body_of(refreshed))  # logout ends the session
    fresh = a.token("tina")
    assert me(a, fresh) == 200
    # PostgreSQL's side: every connection of Gatehouse's to its database is TLS 1.2 or later.
    rows = pg.sql("SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
                  f"WHERE a.datname = '{node.db}' AND a.backend_type = 'client backend'").splitlines()
    assert rows, "no connection of Gatehouse's in pg_stat_activity"
    assert all(row in ("t|TLSv1.2", "t|TLSv1.3") for row in rows), rows
    # Redis's side: it has no plain port, and it ran Gatehouse's counting scripts, took its
    # subscription and its password.
    assert redis.cli("CONFIG", "GET", "port").stdout.split() == ["port", "0"]
    assert redis.subscribers() == 1
    now = gatehouse_calls(redis)
    assert now["eval"] > calls["eval"] and now["subscribe"] > calls["subscribe"], (calls, now)
    assert now["auth"] > calls["auth"] + 1, (calls, now)
    assert_no_secrets(a.log_text())


@pytest.mark.timing
def test_two_nodes_on_one_tls_redis_see_each_others_revocations_within_a_second(node, redis):
    a, b = node("a"), node("b")
    assert redis.subscribers() == 2  # one subscription per node, both over TLS
    assert a.register("rex@example.com", "rex").status_code == 201
    tokens = [a.token("rex") for _ in range(6)]
    assert [me(b, t) for t in tokens] == [200] * 6
    # A burst of revocations published on A: B must hear every one of them (several messages may
    # arrive in one TLS record), not only the first.
    for t in tokens:
        assert logout(a, t) in (200, 204)
    start = time.monotonic()
    refused = wait_until(lambda: all(me(b, t) == 401 for t in tokens), 1.0)
    assert refused is not None, ("node B still accepted logged-out tokens after 1 s",
                                 [me(b, t) for t in tokens])
    assert refused - start < 1.0
    # And the other way round.
    assert b.register("rita@example.com", "rita").status_code == 201
    token = b.token("rita")
    assert me(a, token) == 200
    assert logout(b, token) in (200, 204)
    assert wait_until(lambda: me(a, token) == 401, 1.0) is not None


def test_two_nodes_count_one_login_rate_limit_in_the_tls_redis(node, redis):
    # A Redis database of its own: the module's other tests counted logins from this address too.
    assert redis.cli("FLUSHDB", db=5).stdout.strip() == "OK"
    limited = {"LOGIN_RATE_LIMIT": "4/minute", "REDIS_URL": redis.url(db=5)}
    a, b = node("a", limited), node("b", limited)
    codes = [(n.login("nobody", "wrong")).status_code for n in (a, b, a, b)]
    assert codes == [401] * 4, codes
    for n in (a, b):
        r = n.login("nobody", "wrong")
        assert r.status_code == 429, (r.status_code, body_of(r))


def test_rediss_by_ip_address_with_a_database_number(node, redis):
    """The certificate's IP address entry matches rediss://127.0.0.1, and SELECT goes over TLS."""
    a = node("a", {"REDIS_URL": redis.url(host="127.0.0.1", db=2)})
    assert a.register("ivy@example.com", "ivy").status_code == 201
    assert me(a, a.token("ivy")) == 200
    keys = redis.cli("--scan", "--pattern", "gatehouse:*", db=2).stdout.split()
    assert keys, "nothing of Gatehouse's in Redis database 2"


def test_rediss_by_ipv6_address(node, pki, tmp_path):
    """rediss://[::1]:port: the bracketed literal is the host, the number after it the port, and
    the certificate's IP entry ::1 matches."""
    six = TlsRedis(tmp_path, pki, password=REDIS_PASSWORD, bind="::1").start()
    try:
        a = node("a", {"REDIS_URL": six.url(host="[::1]")})
        assert six.subscribers() == 1
        assert a.register("six@example.com", "six").status_code == 201
        assert me(a, a.token("six")) == 200
    finally:
        six.stop()


@pytest.mark.parametrize("version", ["TLSv1.2", "TLSv1.3"])
def test_a_redis_offering_one_tls_version_is_accepted(node, pki, tmp_path, version):
    only = TlsRedis(tmp_path, pki, password=REDIS_PASSWORD, protocols=version).start()
    try:
        a = node("a", {"REDIS_URL": only.url()})
        assert only.subscribers() == 1
        assert a.register("vera@example.com", "vera").status_code == 201
        assert me(a, a.token("vera")) == 200
    finally:
        only.stop()


@pytest.mark.parametrize("ca_file", ["unset", "unrelated"])
def test_the_system_trust_store_counts_with_or_without_REDIS_CA_FILE(node, pki, tmp_path, ca_file):
    """The certificate is verified against the system store *plus* REDIS_CA_FILE: a CA that only
    the system store holds (OpenSSL's SSL_CERT_FILE stands in for it here) is trusted whether
    REDIS_CA_FILE is unset or names another CA."""
    system = "/etc/ssl/certs/ca-certificates.crt"
    bundle = tmp_path / "system-store.pem"
    bundle.write_text((open(system).read() if os.path.exists(system) else "") + open(pki.ca).read())
    a = node("a", {"SSL_CERT_FILE": str(bundle), "REDIS_CA_FILE": pki.other_ca if ca_file == "unrelated" else None})
    assert a.register("sys@example.com", "sys").status_code == 201
    assert me(a, a.token("sys")) == 200


def test_redis_unreachable_at_start_leaves_the_node_not_ready_until_it_comes(make_server, tmp_path, pki, pg,
                                                                            refusal_db):
    """Nothing listens on the rediss:// port at start: the node starts anyway, alive (/healthz
    200) but not ready (/readyz 503, token checks and logins 503), says so in its log; when the
    TLS Redis comes it connects, verifies and serves, and again after a Redis restart."""
    later = TlsRedis(tmp_path, pki, password=REDIS_PASSWORD)
    data = tmp_path / "data"
    data.mkdir()
    s = make_server({"DATABASE_URL": pg.url(refusal_db), "REDIS_URL": later.url(),
                     "REDIS_CA_FILE": pki.ca, "GATEHOUSE_DATA_DIR": str(data), **SHARED_MFA_KEY}, start=False)
    s.start(wait=False)
    try:
        assert wait_until(lambda: s.proc.poll() is not None or _answers(s), 30), s.log_text()[-3000:]
        assert s.proc.poll() is None, ("exited while Redis was unreachable", s.log_text()[-3000:])
        assert readyz(s) == 503
        assert requests.get(s.url("/healthz")).status_code == 200
        r = s.register("late@example.com", "late")
        assert r.status_code == 503 and "detail" in r.json(), (r.status_code, body_of(r))
        assert problem_line(s.log_text(), "redis", str(later.port)), s.log_text()[-3000:]
        later.start()
        assert wait_until(lambda: readyz(s) == 200, 15), s.log_text()[-3000:]
        assert s.register("late@example.com", "late").status_code == 201
        token = s.token("late")
        assert me(s, token) == 200
        later.stop()
        assert wait_until(lambda: me(s, token) == 503, 5), "still serving token checks without Redis"
        assert readyz(s) == 503
        later.start()
        assert wait_until(lambda: me(s, token) == 200, 15), s.log_text()[-3000:]
        assert readyz(s) == 200
        assert_no_secrets(s.log_text())
    finally:
        later.stop()


def _answers(s):
    try:
        readyz(s)
        return True
    except requests.ConnectionError:
        return False


def test_config_shows_rediss_urls_without_the_password(pki, pg, redis, tmp_path):
    s = Server(tmp_path, {"DATABASE_URL": pg.url("gatehouse"), "REDIS_URL": redis.url(db=1),
                          "REDIS_CA_FILE": pki.ca, "GATEHOUSE_DATA_DIR": str(tmp_path)})
    r = s.cli("config")
    assert r.returncode == 0, r.stderr
    assert f"rediss://:***@localhost:{redis.port}/1" in r.stdout, r.stdout
    assert "postgresql://gatehouse:***@localhost" in r.stdout, r.stdout
    assert_no_secrets(r.stdout + r.stderr)


# --- what is refused: Redis -------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["other-ca", "no-ca-file"])
def test_a_redis_certificate_from_an_untrusted_ca_is_refused(tmp_path, pki, pg, refusal_db, redis, case):
    """REDIS_CA_FILE of an unrelated CA, or none (the system store does not know the test CA)."""
    env = {"DATABASE_URL": pg.url(refusal_db), "REDIS_URL": redis.url()}
    if case == "other-ca":
        env["REDIS_CA_FILE"] = pki.other_ca
    outcome, log = refused_start(tmp_path, env, redis)
    assert problem_line(log, "redis", str(redis.port), r"certificate|verif|unknown ca|issuer"), log[-3000:]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_a_redis_certificate_for_another_host_is_refused(tmp_path, pki, pg, refusal_db, redis_otherhost, host):
    """The certificate is from the trusted CA but names only otherhost: neither the DNS name nor
    the IP address in the URL matches its subjectAltName."""
    env = {"DATABASE_URL": pg.url(refusal_db), "REDIS_URL": redis_otherhost.url(host=host),
           "REDIS_CA_FILE": pki.ca}
    outcome, log = refused_start(tmp_path, env, redis_otherhost)
    assert problem_line(log, "redis", str(redis_otherhost.port),
                        r"host ?name|ip address|mismatch|does not match"), log[-3000:]


def test_plain_redis_url_against_the_tls_port_is_refused(tmp_path, pki, pg, refusal_db, redis):
    env = {"DATABASE_URL": pg.url(refusal_db), "REDIS_URL": redis.url(scheme="redis")}
    outcome, log = refused_start(tmp_path, env, redis)
    assert problem_line(log, "redis", r"closed|reset|protocol|tls|ssl|rediss|handshake|eof"), log[-3000:]


def test_rediss_url_against_a_plain_redis_is_refused(tmp_path, pki, pg, refusal_db):
    plain = Redis(tmp_path)
    plain.start()
    try:
        env = {"DATABASE_URL": pg.url(refusal_db), "REDIS_CA_FILE": pki.ca,
               "REDIS_URL": f"rediss://:{REDIS_PASSWORD}@localhost:{plain.port}"}
        outcome, log = refused_start(tmp_path, env)
        assert problem_line(log, "redis", str(plain.port), r"tls|ssl|handshake|version"), log[-3000:]
        # The password was never sent: nobody authenticated (the plain Redis has no password, so
        # an AUTH would have been answered with an error and counted).
        stats = subprocess.run(["redis-cli", "-p", str(plain.port), "INFO", "commandstats"],
                               capture_output=True, text=True).stdout
        assert "cmdstat_auth" not in stats, stats
    finally:
        plain.stop()


class SilentListener:
    """A loopback port that accepts TCP connections and never says a word."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def test_a_redis_port_that_never_answers_the_handshake_is_refused_in_time(tmp_path, pki, pg, refusal_db):
    """The handshake has a deadline: the node is not ready, says so, and still stops promptly."""
    silent = SilentListener()
    try:
        env = {"DATABASE_URL": pg.url(refusal_db), "REDIS_CA_FILE": pki.ca,
               "REDIS_URL": f"rediss://:{REDIS_PASSWORD}@localhost:{silent.port}"}
        outcome, log = refused_start(tmp_path, env)
        assert outcome == "not ready", log[-3000:]
        assert problem_line(log, "redis", str(silent.port), r"tls|ssl|handshake|timed out|timeout"), log[-3000:]
        assert silent.held, "Gatehouse never connected"
    finally:
        silent.close()


def test_a_wrong_redis_password_over_tls_is_refused_without_showing_it(tmp_path, pki, pg, refusal_db, redis):
    wrong = "rp-WRONG-" + REDIS_PASSWORD
    env = {"DATABASE_URL": pg.url(refusal_db), "REDIS_URL": f"rediss://:{wrong}@localhost:{redis.port}",
           "REDIS_CA_FILE": pki.ca}
    outcome, log = refused_start(tmp_path, env)  # its AUTH does run (and fail): no command count
    assert outcome == "not ready", log[-3000:]
    assert problem_line(log, "redis", r"credential|auth|password"), log[-3000:]
    assert wrong not in log and "WRONG" not in log, log[-3000:]


@pytest.mark.parametrize("case", ["missing", "not-pem"])
def test_an_unusable_REDIS_CA_FILE_is_a_configuration_error_at_startup(tmp_path, pg, refusal_db, redis, case):
    ca_file = tmp_path / ("no-such-ca.pem" if case == "missing" else "not-a-ca.pem")
    if case == "not-pem":
        ca_file.write_text("this is not a PEM certificate\n")
    env = {"DATABASE_URL": pg.url(refusal_db), "REDIS_URL": redis.url(), "REDIS_CA_FILE": str(ca_file),
           "GATEHOUSE_DATA_DIR": str(tmp_path), **SHARED_MFA_KEY}
    s = Server(tmp_path, env)
    try:
        r = s.serve_to_exit(timeout=10)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"still running 10 s after start with REDIS_CA_FILE {case}: {e.stdout}{e.stderr}")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert problem_line(r.stderr, "REDIS_CA_FILE"), r.stderr
    assert_no_secrets(r.stdout + r.stderr)


# --- what is refused: PostgreSQL ----------------------------------------------------------------------

def test_postgres_with_the_wrong_ca_is_refused(tmp_path, pki, pg, refusal_db, redis):
    env = {"DATABASE_URL": pg.url(refusal_db, sslrootcert=pki.other_ca), "REDIS_URL": redis.url(),
           "REDIS_CA_FILE": pki.ca}
    outcome, log = refused_start(tmp_path, env)
    assert outcome == "exited", log[-3000:]
    assert problem_line(log, "cannot connect to PostgreSQL", "certificate verify failed"), log[-3000:]


def test_postgres_verify_full_checks_the_host_name(tmp_path, pki, pg_otherhost, redis):
    """verify-full against 127.0.0.1 while the certificate (from the trusted CA) is for otherhost."""
    db = pg_otherhost.createdb()
    env = {"DATABASE_URL": pg_otherhost.url(db, host="127.0.0.1"), "REDIS_URL": redis.url(),
           "REDIS_CA_FILE": pki.ca}
    outcome, log = refused_start(tmp_path, env)
    assert outcome == "exited", log[-3000:]
    assert problem_line(log, "cannot connect to PostgreSQL", "otherhost", 'does not match host name "127.0.0.1"'), \
        log[-3000:]


def test_postgres_without_tls_is_refused_by_the_server(tmp_path, pg, refusal_db, redis, pki):
    """The cluster takes TCP only with TLS (hostssl): the nodes above that worked used TLS."""
    env = {"DATABASE_URL": pg.url(refusal_db, sslmode="disable", sslrootcert=""), "REDIS_URL": redis.url(),
           "REDIS_CA_FILE": pki.ca}
    outcome, log = refused_start(tmp_path, env)
    assert outcome == "exited", log[-3000:]
    assert problem_line(log, "cannot connect to PostgreSQL", "no encryption"), log[-3000:]


@pytest.mark.parametrize("sslrootcert", ["none", "the-ca"])
def test_why_verify_full_sslmode_require_accepts_a_certificate_for_another_host(make_server, tmp_path, pki,
                                                                              pg_otherhost, sslrootcert):
    """Why the docs ask for verify-full: with sslmode=require libpq checks no name, and without a
    root certificate nothing at all, so a node connects to a server whose certificate is for
    another host (with a managed service's shared CA: any other customer's database)."""
    db = pg_otherhost.createdb()
    root = pki.ca if sslrootcert == "the-ca" else ""
    s = make_server({"DATABASE_URL": pg_otherhost.url(db, sslmode="require", sslrootcert=root, host="127.0.0.1"),
                     "GATEHOUSE_DATA_DIR": str(tmp_path)})
    assert readyz(s) == 200
