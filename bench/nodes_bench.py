#!/usr/bin/python3
"""Two nodes behind nginx on PostgreSQL + Redis (the performance issue), each figure printed next to
a reference measured in the same run, on loopback only, every load bounded in time and count:
  checks      token checks (/api/v1/auth/verify and /auth/me, wrk -t2 -c64) through nginx with
              upstream keep-alive: two nodes (round robin) next to one node behind the same nginx,
              and next to that nginx answering `return 200` itself (the proxy's own ceiling)
  revocation  the added latency of a cross-node revocation: logout (and RFC 7009 revoke) on node A,
              then node B polled over one kept-alive connection until it answers 401; the time from
              A's response to B's first 401, next to the same revocation watched on A itself and to
              a Redis PUBLISH -> subscriber receive round trip
Usage: python3 bench/nodes_bench.py [checks|revocation]   (default: both)
PostgreSQL and Redis come from the environment scripts/services.sh prints (GATEHOUSE_TEST_POSTGRES_URL,
GATEHOUSE_TEST_PG_BIN, GATEHOUSE_TEST_REDIS_URL; bench/run evals it); without it this script starts
and stops its own. Each run uses a fresh PostgreSQL database, dropped at the end.
BENCH_SECONDS (10) sets each wrk run, BENCH_REPS (50) the revocations of each kind, BENCH_BIN the
binary (default build/release/src/app/gatehouse). Results go to build/release/bench-nodes.json.
"""
import contextlib
import glob
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import http_bench as hb  # noqa: E402  (the shared runners: free_port, wrk, report)

if os.environ.get("BENCH_BIN"):
    hb.BIN = pathlib.Path(os.environ["BENCH_BIN"]).resolve()

ROOT = hb.ROOT
SECONDS = hb.SECONDS
REPS = max(1, min(500, int(os.environ.get("BENCH_REPS", "50"))))
KEK = "bench-key-encryption-key-0123456789-abcdef"  # the same on both nodes, as deployment.md asks
CONNECTIONS = 64
POLL_LIMIT_S = 5.0  # a node still accepting a revoked token after this long counts as a miss
PATHS = ("/api/v1/auth/verify", "/api/v1/auth/me")
LIMIT = "100000000/second"


# --- PostgreSQL and Redis ------------------------------------------------------------------------
@contextlib.contextmanager
def services():
    """(PostgreSQL URL, its bin directory, Redis URL): from the environment bench/run sets, else a
    private pair from scripts/services.sh, stopped on the way out."""
    url, redis_url = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL"), os.environ.get("GATEHOUSE_TEST_REDIS_URL")
    pg_bin = os.environ.get("GATEHOUSE_TEST_PG_BIN") or sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
    if url and redis_url:
        yield url, pg_bin, redis_url
        return
    script = ROOT / "scripts" / "services.sh"
    d = tempfile.mkdtemp(prefix="gatehouse-nodes-services-")
    try:
        out = subprocess.run([str(script), "start", d], env={**os.environ, "GATEHOUSE_PG_FSYNC": "on"},
                             capture_output=True, text=True, timeout=180)
        if out.returncode != 0:
            sys.exit(f"scripts/services.sh start failed: {out.stderr.strip()}")
        env = dict(re.findall(r"^export (\w+)=(.*)$", out.stdout, re.M))
        yield env["GATEHOUSE_TEST_POSTGRES_URL"], env["GATEHOUSE_TEST_PG_BIN"], env["GATEHOUSE_TEST_REDIS_URL"]
    finally:
        subprocess.run([str(script), "stop", d], capture_output=True, timeout=120)


@contextlib.contextmanager
def fresh_database(url, pg_bin):
    """A new empty database on that server for this run (its URL), dropped afterwards."""
    u = urllib.parse.urlparse(url)
    name = "gh_bench_nodes_" + uuid.uuid4().hex[:10]
    args = ["-h", u.hostname, "-p", str(u.port or 5432), "-U", u.username]
    env = {**os.environ, **({"PGPASSWORD": urllib.parse.unquote(u.password)} if u.password else {})}
    subprocess.run([f"{pg_bin}/createdb", *args, name], env=env, check=True, capture_output=True, timeout=60)
    try:
        yield urllib.parse.urlunparse(u._replace(path="/" + name))
    finally:
        subprocess.run([f"{pg_bin}/dropdb", *args, "--if-exists", name], env=env, capture_output=True, timeout=60)


# --- Gatehouse nodes and nginx ------------------------------------------------------------------
class Node:
    """One gatehouse process on the shared PostgreSQL and Redis, configured as deployment.md says
    every node must be: same DATABASE_URL, REDIS_URL, SECRET_KEY, KEY_ENCRYPTION_KEY."""

    def __init__(self, tmp, name, db, redis_url):
        self.name = name
        self.port = hb.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        data = tmp / name
        data.mkdir()
        env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": hb.SECRET, "KEY_ENCRYPTION_KEY": KEK, "DATABASE_URL": db,
               "REDIS_URL": redis_url, "GATEHOUSE_DATA_DIR": str(data), "GATEHOUSE_LISTEN": f"127.0.0.1:{self.port}",
               "TRUSTED_PROXIES": "127.0.0.1", "BCRYPT_ROUNDS": "10", "LOGIN_RATE_LIMIT": LIMIT,
               "REGISTER_RATE_LIMIT": LIMIT, "REFRESH_RATE_LIMIT": LIMIT, "GATEHOUSE_LOG_LEVEL": "warn"}
        for passed in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):  # for a sanitizer build given as BENCH_BIN
            if passed in os.environ:
                env[passed] = os.environ[passed]
        self.log_path = tmp / f"node-{name}.log"
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(hb.BIN), "serve"], env=env, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(self.base + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                sys.exit(f"node {name} did not become ready:\n{self.tail()}")
            time.sleep(0.01)

    def tail(self, chars=3000):
        return self.log_path.read_text(errors="replace")[-chars:]

    def served(self, path):
        """Requests with status 200 this node has answered on `path` (its /metrics)."""
        text = requests.get(self.base + "/metrics", timeout=10).text
        return sum(int(n) for n in re.findall(r'^gatehouse_http_requests_total\{[^}]*route="' + re.escape(path) +
                                               r'"[^}]*status="200"\} (\d+)$', text, re.M))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                print(f"note: node {self.name} ignored SIGTERM for 30 s and was killed")
        self.log.close()
        if self.proc.returncode not in (0, -signal.SIGTERM):
            print(f"note: node {self.name} exited with {self.proc.returncode}:\n{self.tail()}")


def start_proxy(tmp, a, b):
    """One nginx (hb.start_nginx's global settings) with three listeners that differ only in where
    a request goes: upstream `one` (node A), upstream `two` (A and B, round robin), or nginx's own
    `return 200`. Both upstreams keep idle connections open (keepalive 64 per worker)."""
    ports = {k: hb.free_port() for k in ("one", "two", "static")}
    proxy = """proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for; proxy_next_upstream error timeout;"""
    conf = tmp / "nginx-nodes.conf"
    conf.write_text(f"""
daemon off; master_process on; worker_processes auto; pid {tmp}/nginx-nodes.pid; error_log {tmp}/nginx-nodes.log;
events {{ worker_connections 1024; }}
http {{ access_log off; client_body_temp_path {tmp}/b; proxy_temp_path {tmp}/p; fastcgi_temp_path {tmp}/f;
  uwsgi_temp_path {tmp}/u; scgi_temp_path {tmp}/s;
  upstream one {{ server 127.0.0.1:{a.port}; keepalive {CONNECTIONS}; }}
  upstream two {{ server 127.0.0.1:{a.port}; server 127.0.0.1:{b.port}; keepalive {CONNECTIONS}; }}
  server {{ listen 127.0.0.1:{ports['one']}; location / {{ proxy_pass http://one; {proxy} }} }}
  server {{ listen 127.0.0.1:{ports['two']}; location / {{ proxy_pass http://two; {proxy} }} }}
  server {{ listen 127.0.0.1:{ports['static']}; location / {{ return 200 "ok"; }} }} }}
""")
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp)], stderr=subprocess.DEVNULL)
    urls = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
    deadline = time.monotonic() + 10
    for url in urls.values():
        while True:
            try:
                requests.get(url + "/healthz", timeout=0.5)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    stop_proxy(proc)
                    log = (tmp / "nginx-nodes.log")
                    sys.exit("nginx did not start: " + (log.read_text()[-2000:] if log.exists() else ""))
                time.sleep(0.02)
    return proc, urls


def stop_proxy(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def login(base, session=requests):
    r = session.post(base + "/api/v1/auth/login", data={"username": "bench", "password": hb.PASSWORD}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


# --- checks -------------------------------------------------------------------------------------
def checks(tmp, a, b):
    cores = os.cpu_count()
    print(f"note: {cores} cores shared by wrk, nginx ({cores} workers) and the nodes: two nodes cannot get more CPU "
          "than one here, so two-vs-one shows the cost of a second node, not scale-out; scale-out needs the "
          "nodes on their own machines" if cores <= 4 else f"note: {cores} cores shared by wrk, nginx and the nodes")
    token = login(a.base)
    header = f"Authorization: Bearer {token}"
    nginx, urls = start_proxy(tmp, a, b)
    try:
        for which in ("one", "two"):  # every node's user cache and nginx's keep-alive pools warm
            for _ in range(20):
                for path in PATHS:
                    r = requests.get(urls[which] + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
                    assert r.status_code == 200, (which, path, r.status_code, r.text)
        for path in PATHS:
            ref = hb.wrk(urls["static"] + path, CONNECTIONS, SECONDS, [header])
            one = hb.wrk(urls["one"] + path, CONNECTIONS, SECONDS, [header])
            before = (a.served(path), b.served(path))
            two = hb.wrk(urls["two"] + path, CONNECTIONS, SECONDS, [header])
            split = (a.served(path) - before[0], b.served(path) - before[1])
            assert one["non2xx"] == 0 and two["non2xx"] == 0, (one, two)
            share = 100.0 * split[0] / max(1, sum(split))
            print(f"  {path}: two nodes served A {share:.0f}% / B {100 - share:.0f}% of {sum(split)} requests")
            hb.report(f"two nodes {path} req/s via nginx (vs one node via nginx)", two["rps"], one["rps"], "req/s",
                      "(for the record: 2 cores shared)")
            hb.report(f"two nodes {path} p99 via nginx (vs one node via nginx)", two["p99_ms"], one["p99_ms"], "ms",
                      "(for the record)")
            hb.report(f"two nodes {path} req/s via nginx (vs nginx return 200)", two["rps"], ref["rps"], "req/s",
                      "(the proxy's own ceiling)")
            hb.report(f"two nodes {path} p99 via nginx (vs nginx return 200 p99)", two["p99_ms"], ref["p99_ms"], "ms",
                      "(for the record)")
            hb.report(f"one node {path} req/s via nginx (vs nginx return 200)", one["rps"], ref["rps"], "req/s",
                      "(for the record)")
    finally:
        stop_proxy(nginx)


# --- revocation ---------------------------------------------------------------------------------
class Conn:
    """One kept-alive HTTP/1.1 connection on a raw socket: a request is bytes built once, an answer
    is (status, body, time its last byte arrived), with nothing in between that could blur a poll."""

    def __init__(self, port):
        self.port, self.sock, self.buf, self.reconnects = port, None, b"", 0

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock, self.buf = None, b""

    def _recv(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by the server")
        self.buf += chunk

    def send(self, data, retry=True):
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.sendall(data)
            while b"\r\n\r\n" not in self.buf:
                self._recv()
        except (ConnectionError, socket.timeout):
            self.close()
            if not retry:
                raise
            self.reconnects += 1
            return self.send(data, retry=False)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
        if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
            raise RuntimeError("a chunked answer: this client reads Content-Length only")
        length = int(fields.get(b"content-length", b"0"))
        while len(self.buf) < length:
            self._recv()
        body, self.buf = self.buf[:length], self.buf[length:]
        done = time.perf_counter()
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, body, done


def get(path, token):
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode()


def post(path, body=b"", token=None, ctype="application/x-www-form-urlencoded"):
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def revoking(how, token):
    if how == "logout":
        return post("/api/v1/auth/logout", token=token)
    return post("/api/v1/auth/revoke", urllib.parse.urlencode({"token": token, "token_type_hint": "access_token"}).encode())


def one_revocation(issuer, watcher, token, how):
    """Revokes `token` through `issuer` (a connection to node A) and polls `watcher` (to A or B) from
    the moment A's answer has arrived: (ms until the watcher's first 401 or None, polls answered 200)."""
    check = get("/api/v1/auth/verify", token)
    for _ in range(2):  # the token works there (the first check may fill the user cache)
        status, body, _ = watcher.send(check)
        assert status == 200, (status, body)
    status, body, t0 = issuer.send(revoking(how, token))
    assert status == 200, (how, status, body)
    accepted = 0
    while True:
        status, body, t = watcher.send(check)
        if status == 401:
            return (t - t0) * 1000, accepted
        assert status == 200, (status, body)  # a 503 would mean a node cut off from Redis
        accepted += 1
        if t - t0 > POLL_LIMIT_S:
            return None, accepted


class Resp:
    """A minimal RESP2 client on a raw socket (redis-py is not a dependency)."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port or 6379), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        if u.password:
            user = [urllib.parse.unquote(u.username)] if u.username else []
            self.call("AUTH", *user, urllib.parse.unquote(u.password))

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("redis closed the connection")
                self.buf += chunk
            value, self.buf = self.buf[:n], self.buf[n + 2:]
            return value
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected RESP line {line!r}")

    def call(self, *args):
        self.send(*args)
        return self.read()

    def close(self):
        self.sock.close()


def redis_pubsub_ms(url, count=200):
    """Redis PUBLISH sent -> the message read by a subscriber on another connection (ms each): the
    one hop a revocation takes from node A to node B, with this client's own overhead."""
    channel = "bench:nodes:" + uuid.uuid4().hex[:8]  # never gatehouse:events: the nodes listen there
    sub, pub = Resp(url), Resp(url)
    try:
        sub.send("SUBSCRIBE", channel)
        assert sub.read()[0] == b"subscribe"
        samples = []
        for i in range(count + 10):  # the first ten warm both connections and are not kept
            payload = b"%d" % i
            t0 = time.perf_counter()
            pub.send("PUBLISH", channel, payload)
            message = sub.read()
            t1 = time.perf_counter()
            assert message == [b"message", channel.encode(), payload], message
            assert pub.read() == 1
            samples.append((t1 - t0) * 1000)
        return samples[10:]
    finally:
        sub.close()
        pub.close()


def p90(samples):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def revocation(a, b, redis_url):
    print(f"revocation: {REPS} of each kind on fresh logins; node B (or A, the reference) polled on /verify over one "
          "kept-alive connection from the moment node A's 200 has arrived")
    to_a, watch_a, watch_b = Conn(a.port), Conn(a.port), Conn(b.port)
    seen = {(how, where): [] for how in ("logout", "revoke") for where in ("B", "A")}
    polls = {key: [] for key in seen}
    misses = {key: 0 for key in seen}
    started = time.monotonic()
    try:
        with requests.Session() as s:
            for i in range(REPS):
                for how in ("logout", "revoke"):
                    # Alternate which is measured first, so neither always follows a login directly.
                    for where in (("B", "A") if i % 2 == 0 else ("A", "B")):
                        token = login(a.base, s)
                        ms, accepted = one_revocation(to_a, watch_b if where == "B" else watch_a, token, how)
                        if ms is None:
                            misses[(how, where)] += 1
                        else:
                            seen[(how, where)].append(ms)
                        polls[(how, where)].append(accepted)
        redis = redis_pubsub_ms(redis_url)
    finally:
        for c in (to_a, watch_a, watch_b):
            c.close()
    print(f"  {REPS * 4} revocations in {time.monotonic() - started:.1f} s; reconnects: "
          f"{to_a.reconnects + watch_a.reconnects + watch_b.reconnects}")
    for key, values in seen.items():
        if misses[key]:
            print(f"  {key[0]} watched on {key[1]}: {misses[key]} of {REPS} still accepted after {POLL_LIMIT_S} s")
        first = sum(1 for n in polls[key] if n == 0)
        print(f"  {key[0]} watched on {key[1]}: refused at the first poll in {first} of {REPS}; polls answered 200 "
              f"after A's 200: median "
              f"{statistics.median(polls[key]):.0f}, max {max(polls[key])}; ms: median "
              f"{statistics.median(values) if values else float('nan'):.3f}, max {max(values) if values else float('nan'):.3f}")
    print("  (a refusal at the first poll means the revocation had reached that node before A's answer reached "
          "this client, so its time is one /verify round trip: the method cannot resolve less)")
    print(f"  Redis PUBLISH -> receive ({len(redis)} messages): median {statistics.median(redis):.3f} ms, "
          f"p90 {p90(redis):.3f} ms, max {max(redis):.3f} ms")
    redis_median = statistics.median(redis)
    for how, label in (("logout", "logout on A"), ("revoke", "RFC 7009 revoke on A")):
        on_b, on_a = seen[(how, "B")], seen[(how, "A")]
        if not on_b or not on_a:
            print(f"  {label}: no revocation seen within {POLL_LIMIT_S} s; no figures")
            continue
        hb.report(f"{label}, first 401 on B median (vs on A itself)", statistics.median(on_b),
                  statistics.median(on_a), "ms", "(the added latency is the difference)")
        hb.RESULTS[f"{label}, first 401 on B median (vs on A itself)"].update(
            samples_b_ms=[round(v, 4) for v in on_b], samples_a_ms=[round(v, 4) for v in on_a],
            misses_b=misses[(how, "B")], misses_a=misses[(how, "A")])
        hb.report(f"{label}, first 401 on B p90 (vs on A itself)", p90(on_b), p90(on_a), "ms", "(for the record)")
        hb.report(f"{label}, first 401 on B max (vs on A itself)", max(on_b), max(on_a), "ms", "< 1000 ms (tests)")
        hb.report(f"{label}, first 401 on B median (vs Redis PUBLISH->receive)", statistics.median(on_b), redis_median,
                  "ms", "(one pub/sub hop)")
        added = statistics.median(on_b) - statistics.median(on_a)
        print(f"  {label}: added latency of the cross-node revocation (median B - median A): {added:.3f} ms")
    hb.RESULTS["Redis PUBLISH->receive"] = {"median_ms": redis_median, "p90_ms": p90(redis), "max_ms": max(redis)}


# --- main ---------------------------------------------------------------------------------------
def on_sigterm(signum, frame):
    raise SystemExit(128 + signum)  # so every finally below stops what it started


def main():
    only = sys.argv[1:] or ["checks", "revocation"]
    unknown = set(only) - {"checks", "revocation"}
    if unknown:
        sys.exit(f"usage: {sys.argv[0]} [checks|revocation]  (unknown: {' '.join(sorted(unknown))})")
    if not hb.BIN.exists():
        sys.exit(f"{hb.BIN} is missing: build the release preset (bench/run) or set BENCH_BIN")
    for tool in ("wrk", "nginx"):
        if "checks" in only and not shutil.which(tool):
            sys.exit(f"{tool} is missing: scripts/deps.sh --bench installs it")
    signal.signal(signal.SIGTERM, on_sigterm)
    print(f"machine: {os.cpu_count()} cores; {SECONDS} s per wrk run, -t2 -c{CONNECTIONS}; binary {hb.BIN}")
    with tempfile.TemporaryDirectory() as t, services() as (url, pg_bin, redis_url), \
            fresh_database(url, pg_bin) as db:
        tmp = pathlib.Path(t)
        nodes = []
        try:
            nodes.append(Node(tmp, "a", db, redis_url))  # A first: it migrates and makes the keys
            nodes.append(Node(tmp, "b", db, redis_url))
            a, b = nodes
            r = requests.post(a.base + "/api/v1/auth/register", timeout=30,
                              json={"email": "b@example.com", "username": "bench", "password": hb.PASSWORD})
            assert r.status_code == 201, r.text
            if "checks" in only:
                checks(tmp, a, b)
            if "revocation" in only:
                revocation(a, b, redis_url)
        finally:
            for n in reversed(nodes):
                n.stop()
    hb.BUILD.mkdir(parents=True, exist_ok=True)
    (hb.BUILD / "bench-nodes.json").write_text(json.dumps(hb.RESULTS, indent=1))


if __name__ == "__main__":
    main()
