#!/usr/bin/python3
"""Benchmarks of the paths added in the second wave and of the idle process (issue 16), each
printed next to a reference measured in the same run, on loopback only, bounded in time:
  refresh   refresh with rotation per second on SQLite and on PostgreSQL, next to the database's
            own commit rate for one row written per transaction (python sqlite3 / pgbench)
  page      the portal's sign-in page (GET /ui/login) next to nginx's static `return 200`
  idle      the idle process: anonymous (private) memory, PSS beside RSS, threads, startup to ready
            on an existing database, and memory per idle keep-alive connection with 10,000 of them,
            next to the goals
bench/run paths [refresh|page|idle] runs it after building the release preset. PostgreSQL comes
from scripts/services.sh (started and stopped here). Results go to build/release/bench-paths.json.
"""
import json
import os
import pathlib
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import http_bench as hb  # noqa: E402  (the shared runners: start_gatehouse, wrk, nginx, report)

ROOT = hb.ROOT
SECONDS = hb.SECONDS
SESSIONS = 64  # refresh-token families cycling under load; > connections, each used once at a time

# Each wrk thread takes refresh tokens from its own file, sends each once, and puts the rotated one
# it gets back into its pool: every request spends a live token, as a client would.
REFRESH_LUA = r'''
local pool, head, tail = {}, 1, 0
local counter = 0
setup = function(thread)
  thread:set("id", counter)
  counter = counter + 1
end
init = function(args)
  for line in io.lines(args[1] .. "." .. id) do
    tail = tail + 1
    pool[tail] = line
  end
end
request = function()
  local token = pool[head]
  pool[head] = nil
  head = head + 1
  return wrk.format("POST", "/api/v1/auth/refresh", {["Content-Type"] = "application/json"},
                    '{"refresh_token":"' .. token .. '"}')
end
response = function(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then
    tail = tail + 1
    pool[tail] = token
  end
end
'''


def proc_status(pid, key):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def smaps_rollup_mb(pid):
    """Rss, Pss and anonymous memory (MB) from /proc/<pid>/smaps_rollup."""
    out = {}
    for line in pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        m = re.match(r"^(Rss|Pss|Anonymous):\s+(\d+) kB", line)
        if m:
            out[m.group(1)] = int(m.group(2)) / 1024
    return out


def wrk_refresh(base, tokens, tmp, threads=2, connections=8):
    """Refreshes per second; `tokens` are split over the wrk threads' pools."""
    prefix = tmp / "tokens"
    for t in range(threads):
        (tmp / f"tokens.{t}").write_text("\n".join(tokens[t::threads]) + "\n")
    script = tmp / "refresh.lua"
    script.write_text(REFRESH_LUA)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{SECONDS}s", "--latency", "-s", str(script),
           base + "/api/v1/auth/refresh", "--", str(prefix)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=SECONDS + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    return rps, int(non2xx.group(1)) if non2xx else 0, errors.group(0) if errors else ""


def sessions(base, count):
    requests.post(base + "/api/v1/auth/register",
                  json={"email": "r@example.com", "username": "refresher", "password": hb.PASSWORD})
    tokens = []
    for _ in range(count):
        r = requests.post(base + "/api/v1/auth/login", data={"username": "refresher", "password": hb.PASSWORD})
        r.raise_for_status()
        tokens.append(r.json()["refresh_token"])
    return tokens


def sqlite_commits_per_second(tmp):
    """The same journal settings as the server (WAL, synchronous=NORMAL, checked below): one row
    updated per transaction, as fast as one client can."""
    import sqlite3
    con = sqlite3.connect(tmp / "ref.db", isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("CREATE TABLE s (id INTEGER PRIMARY KEY, jti TEXT, at INTEGER)")
    con.executemany("INSERT INTO s VALUES (?, ?, 0)", ((i, "x") for i in range(SESSIONS)))
    n, end = 0, time.perf_counter() + SECONDS / 2
    while time.perf_counter() < end:
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE s SET jti = ?, at = ? WHERE id = ?", (os.urandom(8).hex(), n, n % SESSIONS))
        con.execute("COMMIT")
        n += 1
    con.close()
    return n / (SECONDS / 2)


def pg_commits_per_second(url, pg_bin, tmp):
    """pgbench, 8 clients, each transaction updating one row (the shape of a rotation's write)."""
    script = tmp / "rotate.sql"
    script.write_text("\\set id random(1, 64)\nBEGIN;\nUPDATE bench_sessions SET jti = md5(random()::text), "
                      "at = extract(epoch from now()) WHERE id = :id;\nCOMMIT;\n")
    psql = pathlib.Path(pg_bin) / "psql"
    subprocess.run([str(psql), url, "-qc", "DROP TABLE IF EXISTS bench_sessions; CREATE TABLE bench_sessions "
                    "(id int primary key, jti text, at bigint); INSERT INTO bench_sessions SELECT g, 'x', 0 "
                    "FROM generate_series(1, 64) g"], check=True, capture_output=True)
    out = subprocess.run([str(pathlib.Path(pg_bin) / "pgbench"), "-n", "-c", "8", "-j", "2", "-T",
                          str(max(2, SECONDS // 2)), "-f", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    subprocess.run([str(psql), url, "-qc", "DROP TABLE bench_sessions"], check=True, capture_output=True)
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def measure_refresh(d, **env):
    """Refreshes per second through one server over the database `env` names, and per second of
    that server's own CPU time."""
    proc, base, _ = hb.start_gatehouse(d, BCRYPT_ROUNDS="10", REFRESH_RATE_LIMIT="100000000/second",
                                       GATEHOUSE_DATA_DIR=str(d), **env)
    try:
        tokens = sessions(base, SESSIONS)
        cpu = hb.cpu_seconds(proc.pid)
        rps, bad, errors = wrk_refresh(base, tokens, d)
        used = hb.cpu_seconds(proc.pid) - cpu
        assert bad == 0, f"{bad} refreshes failed {errors}"
    finally:
        hb.stop(proc)
    return rps, rps * SECONDS / used


def refresh(tmp):
    cores = os.cpu_count()
    d = tmp / "refresh-sqlite"
    d.mkdir()
    rps, per_core = measure_refresh(d)
    hb.report("refresh with rotation/s, SQLite (vs SQLite commits/s, 1 client)", rps,
              sqlite_commits_per_second(d), "/s", "(the database alone: the ceiling)")
    hb.report("refresh with rotation/s per server core, SQLite", per_core, 1000, "/s", ">= 1000/s per core")
    url, pg_bin = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL"), os.environ.get("GATEHOUSE_TEST_PG_BIN")
    if not url:
        print("refresh on PostgreSQL skipped: GATEHOUSE_TEST_POSTGRES_URL is not set")
        return
    d = tmp / "refresh-pg"
    d.mkdir()
    subprocess.run([str(pathlib.Path(pg_bin) / "psql"), url, "-qc",
                    "DROP SCHEMA public CASCADE; CREATE SCHEMA public"], check=True, capture_output=True)
    rps, per_core = measure_refresh(d, DATABASE_URL=url)
    hb.report("refresh with rotation/s, PostgreSQL (vs pgbench 1-row tx/s)", rps,
              pg_commits_per_second(url, pg_bin, d), "/s", "(the database alone: the ceiling)")
    hb.report("refresh/s per server core, PostgreSQL (vs goal 1000)", per_core, 1000, "/s",
              ">= 1000/s per core (Keycloak: 120 per vCPU)")
    hb.report("refresh/s per machine core, PostgreSQL, wrk and PostgreSQL included", rps / cores, 120, "/s",
              "(vs Keycloak's published 120 per vCPU)")


def page(tmp):
    proc, base, _ = hb.start_gatehouse(tmp / "page", GATEHOUSE_DATA_DIR=str(tmp / "page"))
    nginx, nginx_url = hb.start_nginx(tmp)
    try:
        assert requests.get(base + "/ui/login").status_code == 200
        ref = hb.wrk(nginx_url, 64, SECONDS)
        res = hb.wrk(base + "/ui/login", 64, SECONDS)
        assert res["non2xx"] == 0, res
        hb.report("sign-in page GET /ui/login req/s (vs nginx return 200)", res["rps"], ref["rps"], "req/s", "(for the record)")
        hb.report("sign-in page p99 (vs nginx p99)", res["p99_ms"], ref["p99_ms"], "ms", "(for the record)")
    finally:
        nginx.terminate()
        nginx.wait()
        hb.stop(proc)


def exec_ms(program, runs=21):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([str(program)], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def empty_program_ms(tmp):
    """The floor under the server's startup: an empty main() linked against the same shared
    libraries (readelf's NEEDED list), and one linked against none, timed the same way."""
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        subprocess.run(["readelf", "-d", str(hb.BIN)], capture_output=True, text=True,
                                       check=True).stdout)
    source = tmp / "empty.c"
    source.write_text("int main(void) { return 0; }\n")
    bare, linked = tmp / "empty-bare", tmp / "empty-linked"
    subprocess.run(["cc", str(source), "-o", str(bare)], check=True)
    subprocess.run(["cc", str(source), "-o", str(linked), "-Wl,--no-as-needed"] + [f"-l:{n}" for n in needed],
                   check=True)
    return exec_ms(linked), exec_ms(bare), len(needed)


def first_touch_us(pages=4000):
    """What one page fault costs on this machine: the first write to each page of a fresh private
    anonymous mapping, less a second pass over the same pages (the loop's own cost)."""
    import mmap
    m = mmap.mmap(-1, pages * 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    passes = []
    for _ in range(2):
        started = time.perf_counter()
        for offset in range(0, pages * 4096, 4096):
            m[offset] = 1
        passes.append(time.perf_counter() - started)
    m.close()
    return (passes[0] - passes[1]) * 1e6 / pages


def keepalive_kb(d, count=10_000):
    """Anonymous memory per idle keep-alive connection: `count` connections that each made one
    request and now wait, against the same process before they opened."""
    # This process holds the client ends and the server its own: each needs `count` descriptors.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = count + 1000
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit(f"keep-alive figure: the open-files hard limit {hard} is below {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    # All from this one client address: the per-client limit is lifted with the total.
    proc, base, _ = hb.start_gatehouse(d, GATEHOUSE_DATA_DIR=str(d), GATEHOUSE_MAX_CONNECTIONS=str(count + 100),
                                       GATEHOUSE_MAX_CONNECTIONS_PER_CLIENT="0",
                                       GATEHOUSE_IDLE_TIMEOUT_SECONDS="600")
    port = int(base.rsplit(":", 1)[1])
    conns = []
    try:
        time.sleep(0.5)
        before = smaps_rollup_mb(proc.pid)["Anonymous"]
        request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        for _ in range(count):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(request)
            conns.append(c)
        for c in conns:
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
        time.sleep(0.5)
        after = smaps_rollup_mb(proc.pid)["Anonymous"]
        return (after - before) * 1024 / count
    finally:
        for c in conns:
            c.close()
        hb.stop(proc)


def idle(tmp):
    cores = os.cpu_count()
    d = tmp / "idle"
    proc, base, _ = hb.start_gatehouse(d, GATEHOUSE_DATA_DIR=str(d))
    try:
        time.sleep(1)
        mem = smaps_rollup_mb(proc.pid)
        threads = proc_status(proc.pid, "Threads")
    finally:
        hb.stop(proc)
    hb.report("idle anonymous (private) memory (vs goal)", mem["Anonymous"], 4, "MB", "<= 4 MB")
    hb.report("idle PSS (vs RSS)", mem["Pss"], mem["Rss"], "MB", "(shared libraries counted once)")
    hb.report("idle threads (vs 2 x cores + 4)", threads, 2 * cores + 4, "", "<= 1x")
    faults = []
    ready = hb.ready_ms(d, faults=faults)
    linked, bare, libraries = empty_program_ms(tmp)
    hb.report("startup to ready, existing database, median of 7 (vs goal)", ready, 15, "ms", "<= 15 ms")
    hb.report(f"startup to ready (vs an empty program linked to the same {libraries} libraries)", ready, linked,
              "ms", "(the loader's share)")
    hb.report("an empty program linked to them (vs one linked to none)", linked, bare, "ms", "(for the record)")
    hb.report("startup to ready (vs a static nginx's, exec to its first 200)", ready, hb.nginx_ready_ms(tmp), "ms",
              "(for the record)")
    # On a virtual machine a page fault can cost tens of times what it does on bare metal; the
    # start's first touches of memory (the loader's relocations, heap, stacks) are then its cost.
    # The count includes the heap pages the start fills in one call (app/startup_heap), which cost
    # far less each: the estimate is an upper bound.
    touch, count = first_touch_us(), statistics.median(faults)
    hb.report("page faults to ready, prefilled heap pages included, median of 7 (vs one)", count, 1, "",
              "(for the record)")
    hb.report("one page fault: first write to a fresh page (vs 1 us)", touch, 1, "us", "(for the record)")
    hb.report("time in those faults, upper bound (vs startup to ready)", count * touch / 1000, ready, "ms",
              "(their share of the start)")
    hb.report("memory per idle keep-alive connection, 10,000 open (vs goal)", keepalive_kb(d), 8, "KB", "<= 8 KB")


def main():
    only = sys.argv[1:] or ["refresh", "page", "idle"]
    print(f"machine: {os.cpu_count()} cores; {SECONDS} s per wrk run")
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        if "refresh" in only:
            refresh(tmp)
        if "page" in only:
            page(tmp)
        if "idle" in only:
            idle(tmp)
    (hb.BUILD / "bench-paths.json").write_text(json.dumps(hb.RESULTS, indent=1))


if __name__ == "__main__":
    main()
