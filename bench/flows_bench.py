#!/usr/bin/python3
"""Benchmarks of two one-time flows, each printed next to what bounds it, measured in the same run,
on loopback only, bounded in time and count:
  totp   successful TOTP second-factor verifications per second (POST /api/v1/auth/mfa/verify) on
         SQLite: N users, each with a TOTP factor enrolled through the API and a pending mfa_token
         from a password login, verify once each. Next to the database's commit rate for one
         small write per transaction (python sqlite3, the server's journal settings) and to raw
         HMAC-SHA1 (python's hmac.digest, one core, over OpenSSL) over the 3 candidate steps
         one verification computes (RFC 6238 with ±1 step of skew).
  code   authorization-code exchanges per second at POST /oauth2/token (code + PKCE S256 +
         client_secret_basic) on SQLite: N codes minted through /oauth2/authorize with a portal
         session, each exchanged once. Next to raw RS256 signatures per second (one core)
         divided by the signatures one exchange makes (access token + ID token, + refresh token
         when the scope holds offline_access), and to the SQLite commit rate; plus tokens per
         second of the server's own CPU time (/proc), as http_bench's client_credentials does.
Each credential is single use, so wrk takes them from a pool (one file per wrk thread) through a
Lua script that sends each exactly once, times the first request and the last answer with
CLOCK_MONOTONIC, and stops its thread when every answer is in; wrk is then interrupted, so a run
lasts as long as the pool, never longer than the credentials stay valid.

  /usr/bin/python3 bench/flows_bench.py [totp|code]     (default: both)
Environment: BENCH_BIN (the gatehouse binary; default build/release's; results then go beside its
build tree), TOTP_USERS (2000), OP_CODES (2000), CODES_PER_USER (10: fewer than a user's limit of
ten live grants per client, so no exchange ends an older grant), FLOWS_CONNS (16),
FLOWS_PREP_WORKERS (8), FLOWS_MAX_SECONDS (25: the longest a measured run may last),
BENCH_SECONDS (10: the reference loops run for half of it). Results go to
build/release/bench-flows.json.
"""
import base64
import concurrent.futures
import hashlib
import hmac
import html
import json
import math
import os
import pathlib
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pyotp
import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import http_bench as hb  # noqa: E402  (the shared runners: start_gatehouse, report, cpu_seconds)
import paths_bench as pb  # noqa: E402  (sqlite_commits_per_second)

if os.environ.get("BENCH_BIN"):
    hb.BIN = pathlib.Path(os.environ["BENCH_BIN"]).resolve()
    hb.BUILD = hb.BIN.parents[2]  # <build>/src/app/gatehouse: results and jose_bench beside it

SECONDS = hb.SECONDS
TOTP_USERS = int(os.environ.get("TOTP_USERS", "2000"))
OP_CODES = int(os.environ.get("OP_CODES", "2000"))
CODES_PER_USER = int(os.environ.get("CODES_PER_USER", "10"))
CONNS = int(os.environ.get("FLOWS_CONNS", "16"))
WORKERS = int(os.environ.get("FLOWS_PREP_WORKERS", "8"))
MAX_RUN = float(os.environ.get("FLOWS_MAX_SECONDS", "25"))
UA = "gatehouse-flows-bench"  # an mfa_token is bound to the address and user agent that logged in
TIMEOUT = 60  # seconds, any one preparation request (hashing under ASan is slow)
HASHING = {"BCRYPT_ROUNDS": "10"}  # the lowest cost the server accepts (argon2id's minimum costs as much)
REDIRECT_URI = "https://rp.example.com/cb"
SCOPE = os.environ.get("OP_SCOPE", "openid profile email")
MFA_KEY = "bench-master-secret-0123456789abcdef"  # the server and the CLI key client secrets alike

# Every body of this thread's pool file is sent once; a connection finding the pool spent waits (an
# hour's delay) until the last answers are in, then the thread stops itself and leaves a file that
# says so. done() prints one line per thread for the caller.
ONCE_LUA = r'''
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } flows_timespec;
int clock_gettime(int clk_id, flows_timespec *tp);
]]
local ts = ffi.new("flows_timespec")
local function now()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local threads, counter = {}, 0
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local pool, head, reserved = {}, 1, 0
local headers = @HEADERS@
sent, ok, bad, first, last, failures = 0, 0, 0, 0, 0, ""
init = function(args)
  prefix = args[1]
  for line in io.lines(prefix .. "." .. id) do
    pool[#pool + 1] = line
  end
end
-- wrk asks delay() once before each request of a connection, and calls request() later: the
-- body is reserved here, so no connection sends past the end of the pool.
delay = function()
  if reserved >= #pool then return 3600000 end
  reserved = reserved + 1
  return 0
end
-- A request without a reservation takes nothing from the pool: wrk's check of the script (it
-- calls request() once on thread 0 before the run and discards it), or a reconnection, which
-- skips delay(). It asks for a path that does not exist, and its 404 is not counted.
request = function()
  if sent >= reserved then
    return wrk.format("GET", "/flows-bench-filler", {["User-Agent"] = headers["User-Agent"]}, nil)
  end
  local body = pool[head]
  head = head + 1
  if first == 0 then first = now() end
  sent = sent + 1
  return wrk.format("POST", wrk.path, headers, body)
end
response = function(status, hdrs, body)
  if status == 404 then return end
  last = now()
  if status >= 200 and status < 300 and body:find('"access_token"', 1, true) then
    ok = ok + 1
  else
    bad = bad + 1
    if bad <= 3 then
      failures = failures .. status .. " " .. (body:sub(1, 200):gsub("[\r\n]", " ")) .. " | "
    end
  end
  if ok + bad == #pool then
    local f = io.open(prefix .. ".done." .. id, "w")
    f:write("done\n")
    f:close()
    wrk.thread:stop()
  end
end
done = function(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("FLOWS %d %d %d %d %.6f %.6f %s\n", t:get("id"), t:get("sent"),
                           t:get("ok"), t:get("bad"), t:get("first"), t:get("last"),
                           t:get("failures")))
  end
end
'''


def lua_headers(headers):
    return "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()) + "}"


def wrk_once(base, path, bodies, headers, d, name, limit):
    """Sends each of `bodies` once (POST `path`), over FLOWS_CONNS connections, for at most `limit`
    seconds. Returns {ok, bad, sent, unanswered, seconds, rate, failures}: `rate` is the 2xx answers
    (with an access token) over the time from the first request to the last answer."""
    threads = max(1, min(2, len(bodies)))
    prefix = d / name
    for t in range(threads):
        (d / f"{name}.{t}").write_text("\n".join(bodies[t::threads]) + "\n")
        (d / f"{name}.done.{t}").unlink(missing_ok=True)
    script = d / f"{name}.lua"
    script.write_text(ONCE_LUA.replace("@HEADERS@", lua_headers(headers)))
    cmd = ["wrk", f"-t{threads}", f"-c{max(threads, CONNS)}", f"-d{math.ceil(limit) + 5}s", "--timeout", "30s",
           "-s", str(script), base + path, "--", str(prefix)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + limit
        while time.monotonic() < end and proc.poll() is None:
            if all((d / f"{name}.done.{t}").exists() for t in range(threads)):
                break
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # wrk stops its threads and prints its summary
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [ln.split(" ", 7) for ln in out.splitlines() if ln.startswith("FLOWS ")]
    if len(lines) != threads:
        sys.exit(f"wrk did not report its threads:\n{out}\n{err}")
    ok = sum(int(x[3]) for x in lines)
    bad = sum(int(x[4]) for x in lines)
    sent = sum(int(x[2]) for x in lines)
    firsts = [float(x[5]) for x in lines if float(x[5]) > 0]
    lasts = [float(x[6]) for x in lines if float(x[6]) > 0]
    seconds = max(lasts) - min(firsts) if firsts and lasts else float("nan")
    failures = " ".join(x[7] for x in lines if len(x) > 7 and x[7].strip())
    return {"ok": ok, "bad": bad, "sent": sent, "unanswered": len(bodies) - ok - bad, "seconds": seconds,
            "rate": ok / seconds if seconds and seconds > 0 else 0.0, "failures": failures}


def check_all(res, total, what):
    print(f"  {what}: {res['ok']} of {total} succeeded in {res['seconds']:.3f} s "
          f"({res['bad']} refused, {res['unanswered']} unanswered, {res['sent']} sent)")
    if res["failures"]:
        print(f"  first refusals: {res['failures']}")
    if res["ok"] != total:
        print(f"  WARNING: {total - res['ok']} of {total} {what} did not succeed; the rate counts successes only")


def session():
    s = requests.Session()
    s.trust_env = False
    s.headers["User-Agent"] = UA
    return s


def parallel(fn, items):
    """fn over items on FLOWS_PREP_WORKERS threads, in order; a failure is raised once the others
    have run (each request has its own timeout)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(fn, items))


def register(s, base, email, username):
    r = s.post(base + "/api/v1/auth/register", json={"email": email, "username": username, "password": hb.PASSWORD},
               timeout=TIMEOUT)
    if r.status_code != 201:
        raise RuntimeError(f"register {username}: {r.status_code} {r.text[:300]}")
    return r.json()


def metric(base, name, label):
    text = requests.get(base + "/metrics", timeout=TIMEOUT).text
    m = re.search(r"^%s\{[^}]*%s[^}]*\} ([\d.e+]+)$" % (re.escape(name), re.escape(label)), text, re.M)
    return float(m.group(1)) if m else None


def hmac_sha1_per_second():
    """One core: python's one-shot hmac.digest (OpenSSL underneath) of an 8-byte counter under a
    20-byte key, the shape of one TOTP candidate, for half of BENCH_SECONDS."""
    key, n = os.urandom(20), 0
    end = time.perf_counter() + SECONDS / 2
    started = time.perf_counter()
    while time.perf_counter() < end:
        for i in range(1000):
            hmac.digest(key, i.to_bytes(8, "big"), "sha1")
        n += 1000
    return n / (time.perf_counter() - started)


# ------------------------------------------------------------------------------------------------
# totp


def enrol(base, i):
    """Registers user i, enrols and confirms a TOTP factor through the API; (pyotp.TOTP, step the
    confirmation used)."""
    with session() as s:
        pair = register(s, base, f"totp{i}@example.com", f"totp{i}")
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        r = s.post(base + "/api/v1/auth/mfa/totp", json={"name": "bench"}, headers=auth, timeout=TIMEOUT)
        if r.status_code != 201:
            raise RuntimeError(f"enrol totp{i}: {r.status_code} {r.text[:300]}")
        factor = r.json()
        totp = pyotp.parse_uri(factor["otpauth_uri"])
        now = int(time.time())
        r = s.post(base + f"/api/v1/auth/mfa/totp/{factor['id']}/confirm", json={"code": totp.at(now)},
                   headers=auth, timeout=TIMEOUT)
    if r.status_code != 200:
        raise RuntimeError(f"confirm totp{i}: {r.status_code} {r.text[:300]}")
    return totp, now // 30


def pending(base, i):
    """A password login of user i answering `MFA required`: its mfa_token."""
    with session() as s:
        r = s.post(base + "/api/v1/auth/login", data={"username": f"totp{i}", "password": hb.PASSWORD},
                   timeout=TIMEOUT)
    body = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {}
    if r.status_code != 401 or "mfa_token" not in body:
        raise RuntimeError(f"login totp{i}: {r.status_code} {r.text[:300]}")
    return body["mfa_token"]


def totp(tmp):
    n = TOTP_USERS
    d = tmp / "totp"
    d.mkdir()
    proc, base, _ = hb.start_gatehouse(d, GATEHOUSE_DATA_DIR=str(d), MFA_SECRET_KEY=MFA_KEY, **HASHING)
    try:
        t = time.perf_counter()
        factors = parallel(lambda i: enrol(base, i), range(n))
        print(f"  {n} users registered, TOTP enrolled and confirmed in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        logged_in = time.time()
        tokens = parallel(lambda i: pending(base, i), range(n))
        print(f"  {n} password logins answered MFA required in {time.perf_counter() - t:.1f} s")
        verified_before = metric(base, "gatehouse_mfa_events_total", 'event="verified"')
        # The codes, right before the run. A step is accepted once per factor (the confirmation spent
        # its own) and the server takes the steps now-1..now+1: a code of step max(T, confirmed + 1)
        # stays good until step T + 2 begins, at least 30 s from now.
        now = time.time()
        step = int(now) // 30
        bodies = [json.dumps({"mfa_token": tok, "code": f.at(max(step, confirmed + 1) * 30)}, separators=(",", ":"))
                  for tok, (f, confirmed) in zip(tokens, factors)]
        limit = min(MAX_RUN, (step + 2) * 30 - now - 1, logged_in + 300 - now - 5)
        if limit < 5:
            sys.exit(f"only {limit:.1f} s left before the codes or mfa_tokens expire: lower TOTP_USERS")
        cpu = hb.cpu_seconds(proc.pid)
        res = wrk_once(base, "/api/v1/auth/mfa/verify", bodies,
                       {"Content-Type": "application/json", "User-Agent": UA}, d, "totp", limit)
        used = hb.cpu_seconds(proc.pid) - cpu
        verified_after = metric(base, "gatehouse_mfa_events_total", 'event="verified"')
    finally:
        hb.stop(proc)
    check_all(res, n, "TOTP verifications")
    if verified_before is not None and verified_after is not None:
        print(f"  server's own count (gatehouse_mfa_events_total verified): +{verified_after - verified_before:.0f}")
    commits = pb.sqlite_commits_per_second(d)
    macs = hmac_sha1_per_second()
    hb.report("TOTP verifications/s, SQLite (vs SQLite commits/s, 1 client)", res["rate"], commits, "/s",
              "(the database alone: the ceiling)")
    hb.report("TOTP verifications/s (vs raw HMAC-SHA1/s / 3 candidates, 1 core)", res["rate"], macs / 3, "/s",
              "(the code check alone: far above)")
    hb.report("TOTP verifications/s per server core (vs raw HMAC-SHA1/s / 3)", res["ok"] / used if used else 0.0,
              macs / 3, "/s", "(for the record)")


# ------------------------------------------------------------------------------------------------
# code


def openssl_rs256_signs_per_second():
    """Fallback when jose_bench is not built beside the binary: OpenSSL's own RSA-2048 private-key
    operations per second, one core (`openssl speed rsa2048`; RS256 adds one SHA-256 of a short
    input)."""
    out = subprocess.run(["openssl", "speed", "-seconds", str(max(1, SECONDS // 4)), "rsa2048"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return float(re.search(r"^rsa\s+2048 bits\s+[\d.]+s\s+[\d.]+s\s+([\d.]+)", out, re.M).group(1))


def rs256_signs_per_second():
    if (hb.BUILD / "bench" / "jose_bench").exists():
        return hb.raw_rs256_signs_per_second(), "jose_bench Raw/sign/RS256"
    return openssl_rs256_signs_per_second(), "openssl speed rsa2048 (jose_bench not built here)"


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(s, base, client_id):
    """One authorization request in a signed-in browser: (response, verifier)."""
    verifier, challenge = pkce_pair()
    params = {"client_id": client_id, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": SCOPE,
              "state": secrets.token_urlsafe(12), "nonce": secrets.token_urlsafe(12),
              "code_challenge": challenge, "code_challenge_method": "S256"}
    r = s.get(base + "/oauth2/authorize?" + urllib.parse.urlencode(params), allow_redirects=False, timeout=TIMEOUT)
    return r, verifier


def code_of(r):
    if r.status_code not in (302, 303) or not r.headers.get("Location", "").startswith(REDIRECT_URI + "?"):
        raise RuntimeError(f"authorize: {r.status_code} {r.headers.get('Location')} {r.text[:300]}")
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers["Location"]).query))
    if "code" not in q:
        raise RuntimeError(f"authorize: no code in {r.headers['Location']}")
    return q["code"]


def browser(base, client_id, u):
    """Registers user u, signs in at the portal and consents to the client once (remembered):
    a signed-in browser that gets codes without any page."""
    s = session()
    register(s, base, f"op{u}@example.com", f"op{u}")
    hb.portal_sign_in(s, base, f"op{u}", timeout=TIMEOUT)
    r, _ = authorize(s, base, client_id)
    if r.status_code == 200 and 'id="consent-form"' in r.text:
        fields = {k: html.unescape(v)
                  for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', r.text)}
        fields["decision"] = "allow"
        action = html.unescape(re.search(r'<form method="post" action="([^"]+)" id="consent-form"', r.text).group(1))
        r = s.post(base + action if action.startswith("/") else action, data=fields, headers={"Origin": base},
                   allow_redirects=False, timeout=TIMEOUT)
    code_of(r)  # signed in and consented: the flow reaches the client
    return s


def mint(base, client_id, s, count):
    """`count` codes from one browser: the exchange bodies."""
    bodies = []
    for _ in range(count):
        r, verifier = authorize(s, base, client_id)
        bodies.append(urllib.parse.urlencode({"grant_type": "authorization_code", "code": code_of(r),
                                              "redirect_uri": REDIRECT_URI, "code_verifier": verifier}))
    return bodies


def code(tmp):
    n = OP_CODES
    users = math.ceil(n / CODES_PER_USER)
    d = tmp / "code"
    d.mkdir()
    signatures = 2 + ("offline_access" in SCOPE.split())  # access + ID token (+ refresh token)
    proc, base, _ = hb.start_gatehouse(d, GATEHOUSE_DATA_DIR=str(d), MFA_SECRET_KEY=MFA_KEY,
                                       OP_RATE_LIMIT="100000000/second", **HASHING)
    try:
        env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": hb.SECRET, "MFA_SECRET_KEY": MFA_KEY,
               "GATEHOUSE_DATA_DIR": str(d), "DATABASE_URL": f"sqlite:///{d}/gatehouse.db"}
        made = subprocess.run([str(hb.BIN), "client", "create", "--name", "bench-rp", "--redirect-uri", REDIRECT_URI,
                               "--json"], env=env, capture_output=True, text=True, check=True, timeout=120)
        client = json.loads(made.stdout)
        cid = client["client_id"]
        basic = base64.b64encode(f"{urllib.parse.quote(cid, safe='')}:"
                                 f"{urllib.parse.quote(client['client_secret'], safe='')}".encode()).decode()
        t = time.perf_counter()
        browsers = parallel(lambda u: browser(base, cid, u), range(users))
        print(f"  {users} users registered, signed in at the portal and consented in {time.perf_counter() - t:.1f} s")
        # A code lives 60 s: the first one minted bounds the run.
        first_minted = time.time()
        t = time.perf_counter()
        shares = [min(CODES_PER_USER, n - u * CODES_PER_USER) for u in range(users)]
        bodies = [b for part in parallel(lambda u: mint(base, cid, browsers[u], shares[u]), range(users))
                  for b in part]
        minting = time.perf_counter() - t
        print(f"  {n} codes minted at /oauth2/authorize in {minting:.1f} s ({n / minting:.0f}/s, "
              f"{WORKERS} python clients)")
        limit = min(MAX_RUN, first_minted + 60 - time.time() - 1)
        if limit < 3:
            sys.exit(f"only {limit:.1f} s left before the first code expires: lower OP_CODES")
        cpu = hb.cpu_seconds(proc.pid)
        res = wrk_once(base, "/oauth2/token", bodies,
                       {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}",
                        "User-Agent": UA}, d, "code", limit)
        used = hb.cpu_seconds(proc.pid) - cpu
    finally:
        hb.stop(proc)
    check_all(res, n, "code exchanges")
    for s in browsers:
        s.close()
    signs, source = rs256_signs_per_second()
    commits = pb.sqlite_commits_per_second(d)
    print(f"  reference: {signs:.0f} RS256 signatures/s on one core ({source}); {signatures} per exchange "
          f"(scope {SCOPE!r})")
    hb.report(f"code exchanges/s (vs raw RS256 signs/s / {signatures}, 1 core)", res["rate"], signs / signatures,
              "/s", "(the signatures alone: one core's ceiling)")
    hb.report("code exchanges/s, SQLite (vs SQLite commits/s, 1 client)", res["rate"], commits, "/s",
              "(the database alone: the ceiling)")
    hb.report(f"code exchanges/s per server core (vs raw RS256 / {signatures}, 1 core)",
              res["ok"] / used if used else 0.0, signs / signatures, "/s", "(for the record)")
    hb.report(f"code exchanges/s per machine core, wrk included (vs raw RS256 / {signatures})",
              res["rate"] / os.cpu_count(), signs / signatures, "/s", "(for the record)")


def main():
    only = sys.argv[1:] or ["totp", "code"]
    unknown = set(only) - {"totp", "code"}
    if unknown:
        sys.exit(f"usage: {sys.argv[0]} [totp|code]  (unknown: {' '.join(sorted(unknown))})")
    if TOTP_USERS < 1 or OP_CODES < 1 or CODES_PER_USER < 1 or CONNS < 1 or WORKERS < 1:
        sys.exit("TOTP_USERS, OP_CODES, CODES_PER_USER, FLOWS_CONNS and FLOWS_PREP_WORKERS must be at least 1")
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: scripts/deps.sh --bench installs it")
    if not hb.BIN.exists():
        sys.exit(f"{hb.BIN} is missing: build it (bench/run builds the release preset) or set BENCH_BIN")
    print(f"machine: {os.cpu_count()} cores; binary {hb.BIN}; {CONNS} connections; "
          f"{TOTP_USERS} TOTP users, {OP_CODES} codes; each run at most {MAX_RUN:.0f} s")
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        if "totp" in only:
            totp(tmp)
        if "code" in only:
            code(tmp)
    (hb.BUILD / "bench-flows.json").write_text(json.dumps(hb.RESULTS, indent=1))


if __name__ == "__main__":
    main()
