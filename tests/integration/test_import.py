"""Moving users in (API.md, "Moving in from elsewhere"): `gatehouse user import FILE|-` and
`POST /api/v1/users/import`. Every hash format of the vectors (tests/unit/password/vectors) is
imported as it is, the user signs in with the original password, and that first login replaces
the hash by the configured scheme. Each line or item gets one result (created, skipped, error with
a reason), never a partial user; an existing email is skipped and left untouched (an admin's
password cannot be taken over by importing it); running the same file twice changes nothing;
the API needs users:write and roles:manage and never creates a user above the caller; imports
are audited with their counts."""
import base64
import fcntl
import json
import pathlib
import re
import signal
import sqlite3
import struct
import subprocess
import termios
import threading
import time

import pytest
import requests

from conftest import ADMIN_PASSWORD, BIN, auth
from import_support import (FORBIDDEN, INCORRECT, api_import, audit_events, body, cli_import, db_path, db_rows, db_user,
                            hash_field, jsonl, login_ok, me, one_per_format, rfc3339_seconds, stored_form,
                            stored_hash, vector, vector_file, wait_audit, wait_for_hash)
from import_support import run_cli

NOT_AUTHENTICATED = (401, {"detail": "Not authenticated"})


def created(run_or_results):
    results = run_or_results.results if hasattr(run_or_results, "results") else run_or_results
    return {r["email"]: r["id"] for r in results if r["result"] == "created"}


def user_by_id(server, admin, uid):
    r = requests.get(server.url(f"/api/v1/users/{uid}"), headers=auth(admin))
    assert r.status_code == 200, r.text
    return r.json()


def moderator_policy(tmp_path, extra_roles=None):
    """A policy where moderators may also manage roles (the default moderator may not)."""
    policy = tmp_path / "policy.json"
    roles = {"moderator": ["users:read", "users:write", "posts:read", "posts:write", "posts:delete",
                           "roles:manage"]}
    roles.update(extra_roles or {})
    policy.write_text(json.dumps({"roles": roles}))
    return str(policy)


def make_user(server, email, username, role, password="Passw0rd!x"):
    r = server.cli("user", "create", "--email", email, "--username", username, "--role", role,
                   "--password-stdin", stdin=password + "\n")
    assert r.returncode == 0, r.stderr
    return server.token(email, password)


# --- the CLI: every format signs in, then is rehashed -----------------------------------------------

def test_cli_imports_every_hash_format_and_each_user_signs_in_with_the_original_password(server):
    admin = server.admin_token()
    formats = one_per_format()
    assert len(formats) == 13, [v["format"] for v in formats]
    items = [{"email": f"{v['format']}@import.example.com", "username": f"imp_{i}",
              "password_hash": hash_field(v)} for i, v in enumerate(formats)]
    run = cli_import(server, items)
    assert run.code == 0, run
    assert run.report == (13, 0, 0), run
    assert len(run.results) == 13, run
    for i, (item, r) in enumerate(zip(items, run.results)):
        assert isinstance(r.get("id"), int), r
        assert r == {"line": i + 1, "email": item["email"], "result": "created", "id": r["id"]}, r
    assert len({r["id"] for r in run.results}) == 13
    # Nothing secret is echoed.
    for v in formats:
        assert stored_form(v) not in run.proc.stdout + run.stderr
    listing = server.cli("user", "list")
    assert listing.returncode == 0 and "imp_0" in listing.stdout
    assert "$pbkdf2" not in listing.stdout and "$argon2" not in listing.stdout and "$2" not in listing.stdout

    ids = created(run)
    for v, item in zip(formats, items):
        email = item["email"]
        # Stored as it came (the Keycloak credential in its passlib-style form), until a login.
        assert stored_hash(server, email) == stored_form(v), v["id"]
        r = server.login(email, v["password"] + "-wrong")
        assert (r.status_code, body(r)) == INCORRECT, (v["id"], body(r))
        assert stored_hash(server, email) == stored_form(v), f"{v['id']}: a failed login changed the hash"
        pair = login_ok(server, email, v["password"])
        m = me(server, pair["access_token"])
        assert m.status_code == 200, m.text
        assert (m.json()["id"], m.json()["email"], m.json()["role"]) == (ids[email], email, "user"), v["id"]
        rehashed = wait_for_hash(server, email, lambda h: h != stored_form(v))
        assert rehashed.startswith("$2b$"), f"{v['id']}: after the first login the hash is {rehashed[:30]}"
        # The new hash holds the same password, and only that one.
        login_ok(server, email, v["password"])
        r = server.login(email, v["password"][:-1])
        assert (r.status_code, body(r)) == INCORRECT, v["id"]
        assert stored_hash(server, email) == rehashed, f"{v['id']}: rehashed again at the second login"
    assert me(server, admin).status_code == 200


def test_first_login_rehashes_to_argon2id_when_that_is_the_scheme(make_server):
    s = make_server({"PASSWORD_SCHEME": "argon2id"})
    picks = [vector(i) for i in ("bcrypt-2b-non-ascii", "passlib-pbkdf2-sha512-150-bytes",
                                 "django-pbkdf2-sha256-ascii", "keycloak-pbkdf2-sha256-non-ascii",
                                 "argon2i-ascii", "argon2id-100-bytes")]
    items = [{"email": f"argon{i}@example.com", "password_hash": hash_field(v)} for i, v in enumerate(picks)]
    run = cli_import(s, items)
    assert run.code == 0 and run.report == (6, 0, 0), run
    for v, item in zip(picks, items):
        login_ok(s, item["email"], v["password"])
        h = wait_for_hash(s, item["email"], lambda x: x.startswith("$argon2id$v=19$m=19456,"))
        # Even an argon2id hash is replaced when its parameters are below the policy (m=1024 here).
        assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), (v["id"], h[:40])
        login_ok(s, item["email"], v["password"])
        r = s.login(item["email"], "Not-" + v["password"])
        assert (r.status_code, body(r)) == INCORRECT


def test_a_keycloak_realm_export_moves_in(server):
    """Users of `kc.sh export` (credentials with secretData/credentialData as JSON strings), turned
    into import lines the way an operator's script would."""
    admin = server.admin_token()
    realm = vector_file()["keycloak_realm_export"]
    passwords = vector_file()["keycloak_realm_passwords"]
    items = []
    for u in realm["users"]:
        cred = next(c for c in u["credentials"] if c["type"] == "password")
        secret, data = json.loads(cred["secretData"]), json.loads(cred["credentialData"])
        items.append({"email": u["email"], "username": u["username"], "is_active": u["enabled"],
                      "email_verified": u["emailVerified"], "created_at": u["createdTimestamp"] // 1000,
                      "password_hash": {"algorithm": data["algorithm"], "hashIterations": data["hashIterations"],
                                        "salt": secret["salt"], "value": secret["value"]}})
    run = cli_import(server, items)
    assert run.code == 0 and run.report == (2, 0, 0), run
    ids = created(run)
    for u, item in zip(realm["users"], items):
        got = user_by_id(server, admin, ids[u["email"]])
        assert (got["username"], got["is_active"]) == (u["username"], True)
        assert rfc3339_seconds(got["created_at"]) == u["createdTimestamp"] // 1000, got
        assert db_user(server, u["email"])["email_verified"] == 1
        assert stored_hash(server, u["email"]).startswith(
            "$pbkdf2-sha256$27500$" if u["username"] == "alice.kc" else "$pbkdf2-sha512$1000$")
        login_ok(server, u["email"], passwords[u["username"]])
        assert wait_for_hash(server, u["email"], lambda h: h.startswith("$2b$")).startswith("$2b$")


# --- fields ----------------------------------------------------------------------------------------

def test_usernames_are_derived_from_the_email_when_absent(server):
    admin = server.admin_token()
    cases = {
        "John.Doe+news@example.com": "John.Doenews",
        "o'brien@example.com": "obrien",
        "a@example.com": "a__",
        "first_last-1.x@example.com": "first_last-1.x",
        ("x" * 40) + "@example.com": "x" * 32,
        "'+'@example.com": "___",
        "ünï~@example.com": "n__",  # every byte of a non-ASCII character is dropped
    }
    run = cli_import(server, [{"email": e} for e in cases])
    assert run.code == 0 and run.report == (len(cases), 0, 0), run
    ids = created(run)
    for email, username in cases.items():
        assert user_by_id(server, admin, ids[email])["username"] == username, email


def test_fields_defaults_and_explicit_values(server):
    admin = server.admin_token()
    pw = vector("passlib-pbkdf2-sha256-ascii")
    before = int(time.time())
    items = [
        {"email": "plain@example.com"},
        {"email": "full@example.com", "username": "full", "role": "moderator", "is_active": False,
         "email_verified": True, "created_at": "2021-03-04T05:06:07Z", "password_hash": pw["encoded"]},
        {"email": "unix@example.com", "created_at": 1600000000},
        {"email": "offset@example.com", "created_at": "2021-03-04T07:06:07+02:00"},
    ]
    run = cli_import(server, items)
    assert run.code == 0 and run.report == (4, 0, 0), run
    ids = created(run)
    plain = user_by_id(server, admin, ids["plain@example.com"])
    assert (plain["username"], plain["role"], plain["is_active"]) == ("plain", "user", True)
    assert before - 5 <= rfc3339_seconds(plain["created_at"]) <= time.time() + 5, plain
    assert db_user(server, "plain@example.com")["email_verified"] == 0
    assert db_user(server, "plain@example.com")["password_hash"] == ""
    r = server.login("plain@example.com", "Passw0rd!x")  # an account without a password
    assert (r.status_code, body(r)) == INCORRECT

    full = user_by_id(server, admin, ids["full@example.com"])
    assert (full["username"], full["role"], full["is_active"]) == ("full", "moderator", False)
    assert rfc3339_seconds(full["created_at"]) == 1614834367, full
    assert db_user(server, "full@example.com")["email_verified"] == 1
    r = server.login("full@example.com", pw["password"])  # right password, inactive account
    assert (r.status_code, body(r)) == (403, {"detail": "Account is deactivated"})
    r = server.login("full@example.com", "Wrong-" + pw["password"])
    assert (r.status_code, body(r)) == INCORRECT

    assert rfc3339_seconds(user_by_id(server, admin, ids["unix@example.com"])["created_at"]) == 1600000000
    assert rfc3339_seconds(user_by_id(server, admin, ids["offset@example.com"])["created_at"]) == 1614834367


def test_the_cli_may_import_an_admin(server):
    server.admin_token()
    v = vector("bcrypt-2y-ascii")
    run = cli_import(server, [{"email": "boss@example.com", "role": "admin", "password_hash": v["encoded"]}])
    assert run.code == 0 and run.report == (1, 0, 0), run
    token = login_ok(server, "boss@example.com", v["password"])["access_token"]
    assert me(server, token).json()["role"] == "admin"
    assert requests.get(server.url("/api/v1/audit-events"), headers=auth(token)).status_code == 200


# --- errors, skips, idempotence --------------------------------------------------------------------

def test_each_bad_line_is_an_error_with_its_reason_and_creates_nothing(server):
    server.admin_token()  # root@example.com / root
    over_limit = vector("passlib-pbkdf2-sha256-rounds-over-limit")["encoded"]
    huge_memory = vector("argon2id-m-over-import-limit")["encoded"]
    kc_zero = dict(vector("keycloak-pbkdf2-sha256-ascii")["keycloak"], hashIterations=0)
    lines = [
        json.dumps({"email": "first@example.com"}),                                     # 1
        '{"email": "broken@example.com", ',                                             # 2
        "",                                                                             # 3 blank
        json.dumps({"email": "nick@example.com", "nickname": "x"}),                     # 4
        json.dumps({"username": "nomail"}),                                             # 5
        json.dumps({"email": "not-an-email"}),                                          # 6
        json.dumps({"email": "nul\u0000@example.com"}),                                 # 7
        json.dumps({"email": "space@example.com", "username": "a b"}),                  # 8
        json.dumps({"email": "short@example.com", "username": "ab"}),                   # 9
        json.dumps({"email": "emperor@example.com", "role": "emperor"}),                # 10
        json.dumps({"email": "md5@example.com", "password_hash": "md5$$2323cce91472358840a10743b73b3d2e"}),  # 11
        json.dumps({"email": "rounds@example.com", "password_hash": over_limit}),       # 12
        json.dumps({"email": "memory@example.com", "password_hash": huge_memory}),      # 13
        json.dumps({"email": "kczero@example.com", "password_hash": kc_zero}),          # 14
        "[1, 2]",                                                                       # 15
        json.dumps({"email": "taken@example.com", "username": "ROOT"}),                 # 16
        json.dumps({"email": "long@example.com", "username": "x" * 70000}),             # 17 > 64 KiB
        json.dumps({"email": "active@example.com", "is_active": "yes"}),                # 18
        json.dumps({"email": "when@example.com", "created_at": "yesterday"}),           # 19
        json.dumps({"email": "last@example.com"}),                                      # 20
        json.dumps({"email": "empty@example.com",
                    "password_hash": vector("passlib-pbkdf2-sha256-empty-checksum")["encoded"]}),  # 21
        "   ",                                                                          # 22 blank
    ]
    assert len(lines[16]) > 65536
    before = db_rows(server)
    run = cli_import(server, text="\n".join(lines) + "\n")
    assert run.code == 1, run
    assert run.report == (2, 0, 18), run
    got = run.by_line()
    assert sorted(got) == [n for n in range(1, 22) if n != 3], sorted(got)  # physical line numbers
    assert got[1]["result"] == "created" and got[20]["result"] == "created"
    exact = {2: "invalid JSON", 4: "unknown field nickname", 6: "email: invalid", 7: "email: invalid",
             8: "username: invalid", 9: "username: invalid", 10: "role: unknown",
             11: "password_hash: unsupported format", 12: "password_hash: unsupported format",
             13: "password_hash: unsupported format", 14: "password_hash: unsupported format",
             16: "username already taken", 17: "line too long", 21: "password_hash: unsupported format"}
    for n, reason in exact.items():
        assert (got[n]["result"], got[n].get("reason")) == ("error", reason), got[n]
    assert got[5]["result"] == "error" and got[5]["reason"].startswith("email"), got[5]
    assert got[15]["result"] == "error" and got[15]["reason"], got[15]
    assert got[18]["result"] == "error" and got[18]["reason"].startswith("is_active"), got[18]
    assert got[19]["result"] == "error" and got[19]["reason"].startswith("created_at"), got[19]
    # The email is named when the line had one.
    for n in (4, 10, 11, 12, 13, 14, 16, 18, 19, 21):
        assert got[n]["email"] == json.loads(lines[n - 1])["email"], got[n]
    for n in (2, 15, 17):
        assert set(got[n]) <= {"line", "email", "result", "reason"}, got[n]
    # Never a partial user: only the two good lines became users.
    after = db_rows(server)
    new = {row["email"] for uid, row in after.items() if uid not in before}
    assert new == {"first@example.com", "last@example.com"}, new


def test_an_existing_email_is_skipped_and_left_untouched(server):
    server.admin_token()
    assert server.register("Ann@Example.com", "ann", "Ann-Passw0rd!").status_code == 201
    before = db_user(server, "ann@example.com")
    v = vector("django-pbkdf2-sha256-ascii")
    run = cli_import(server, [{"email": "ann@EXAMPLE.com", "username": "other", "role": "moderator",
                               "is_active": False, "email_verified": True, "created_at": 0,
                               "password_hash": v["encoded"]}])
    assert run.code == 0 and run.report == (0, 1, 0), run
    # With the existing user's id: a run repeated after one cut short names every user (a crash
    # test: the ids of a batch stored before a kill were never told).
    assert run.results == [{"line": 1, "email": "ann@EXAMPLE.com", "result": "skipped", "id": before["id"]}], run
    assert db_user(server, "ann@example.com") == before
    assert db_user(server, "other@example.com") is None and len(db_rows(server)) == 2
    login_ok(server, "ann@example.com", "Ann-Passw0rd!")
    r = server.login("ann@example.com", v["password"])
    assert (r.status_code, body(r)) == INCORRECT


def test_an_admins_password_cannot_be_taken_over_by_importing_its_email(server):
    admin = server.admin_token()
    before = db_user(server, "root@example.com")
    v = vector("bcrypt-2b-ascii")
    run = cli_import(server, [{"email": "ROOT@example.com", "role": "user", "password_hash": v["encoded"]}])
    assert run.code == 0 and [r["result"] for r in run.results] == ["skipped"], run
    r = api_import(server, admin, [{"email": "root@EXAMPLE.COM", "username": "root2", "password_hash": v["encoded"]}])
    assert r.status_code == 200, r.text
    assert [x["result"] for x in r.json()["results"]] == ["skipped"], r.json()
    assert db_user(server, "root@example.com") == before
    r = server.login("root@example.com", v["password"])
    assert (r.status_code, body(r)) == INCORRECT
    token = login_ok(server, "root@example.com", ADMIN_PASSWORD)["access_token"]
    assert me(server, token).json()["role"] == "admin"


def wait_for_handlers(proc, signals=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT),
                      timeout=30):
    """Until the command catches `signals` (its /proc status's SigCgt mask)."""
    wanted = sum(1 << (s - 1) for s in signals)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/status") as f:
            caught = int(next(line for line in f if line.startswith("SigCgt:")).split()[1], 16)
        if caught & wanted == wanted:
            return
        time.sleep(0.05)
    raise AssertionError("the command never caught the signals")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT])
def test_an_interrupted_import_leaves_no_user_unaudited(server, sig):
    """Found by an outside attack: Ctrl-C (or a closed SSH session, or `kill`) between a batch's
    commit and its audit records left users, administrators among them, that no record named,
    while `audit verify` said intact. A signal now ends the import after the batch under way,
    its records written; no batch begins after it; it says so and exits 1. The input comes
    through a pipe, so the signal lands while the second batch is being read."""
    server.admin_token()
    lines = jsonl([{"email": f"bulk{i}@example.com", "role": "admin" if i % 1000 == 999 else "user"}
                   for i in range(1500)]).splitlines(keepends=True)
    proc = subprocess.Popen([BIN, "user", "import", "-"], env=server.env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("".join(lines[:1000]))
    proc.stdin.flush()
    for _ in range(1000):  # the first batch is committed once its lines are out
        assert proc.stdout.readline(), proc.stderr.read()
    proc.stdin.write("".join(lines[1000:1200]))  # half a batch, read before the signal
    proc.stdin.flush()
    time.sleep(0.5)
    wait_for_handlers(proc)
    proc.send_signal(sig)
    proc.stdin.write("".join(lines[1200:]))  # seen at the next line: nothing more begins
    proc.stdin.close()
    rest, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 1, err
    assert f"import interrupted (signal {int(sig)})" in err, err
    assert "import: 1000 created, 0 skipped, 0 errors" in err, err
    assert rest == ""
    made = [row for row in db_rows(server).values() if row["email"].startswith("bulk")]
    assert len(made) == 1000, len(made)
    with sqlite3.connect(db_path(server)) as con:  # every record (the API gives 1000 at most)
        named = {r[0] for r in con.execute("SELECT subject_id FROM audit_events WHERE type = 'user.created'")}
        batches = con.execute("SELECT COUNT(*) FROM audit_events WHERE type = 'user.import'").fetchone()[0]
    assert all(row["id"] in named for row in made), (len(named), len(made))
    assert batches == 1
    assert server.cli("audit", "verify").returncode == 0


def test_a_signal_landing_in_the_report_loses_none_of_its_lines(server):
    """A review: a signal landing while the command waited to write a batch's lines (a reader
    slower than the pipe: more than 64 KiB of lines) made the write fail, and the rest of the
    batch's lines vanished from the report (the users and records were whole). Interrupted
    writes go on: every line of the batch arrives, then the command stops."""
    server.admin_token()
    # About 200 bytes a line: a batch's report fills the pipe thrice.
    lines = jsonl([{"email": f"l{i}.{'x' * 50}@{'d' * 60}.example.com"} for i in range(1000)])
    proc = subprocess.Popen([BIN, "user", "import", "-"], env=server.env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(lines)
    proc.stdin.flush()
    # Until the report's pipe is full (so the command waits to write), seen from the reading end:
    # the command is not dumpable, so its /proc/<pid>/wchan says nothing to a reader without
    # CAP_SYS_PTRACE (a review).
    capacity = fcntl.fcntl(proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)
    deadline = time.monotonic() + 60
    while struct.unpack("i", fcntl.ioctl(proc.stdout.fileno(), termios.FIONREAD, b"\0" * 4))[0] < capacity:
        assert time.monotonic() < deadline, "the command never filled its report's pipe"
        time.sleep(0.05)
    time.sleep(0.2)  # and is waiting in the write that does not fit
    proc.send_signal(signal.SIGINT)
    assert "stopping at the next safe point" in proc.stderr.readline()
    # A second interrupt while the batch is being written waits for it (InterruptLatch::Hold):
    # the lines, the records, then the end (a review: no test held this).
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(input="", timeout=120)
    assert len(out.splitlines()) == 1000, (len(out.splitlines()), err)
    assert all(json.loads(line)["result"] == "created" for line in out.splitlines())
    assert proc.returncode == 1 and "import interrupted (signal 2)" in err, err  # not -15
    with sqlite3.connect(db_path(server)) as con:
        named = con.execute("SELECT COUNT(*) FROM audit_events WHERE type = 'user.created'").fetchone()[0]
    assert named == 1001, named  # the thousand and the administrator


def test_a_second_signal_stops_a_stalled_import_at_once(server):
    """Found by an outside attack: an import reading a pipe that stalled (a hung `curl | gatehouse
    user import -`) kept waiting through every signal; only kill -9 ended it. The first signal
    says it will stop at the next safe point; a second ends the process as the signal would."""
    server.admin_token()
    proc = subprocess.Popen([BIN, "user", "import", "-"], env=server.env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_handlers(proc)
    proc.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == -signal.SIGTERM
    assert "stopping at the next safe point; a second interrupt stops at once" in proc.stderr.read()
    proc.stdin.close()
    proc.stdout.close()


def test_a_second_quit_stops_at_once_without_a_core_dump(server, tmp_path):
    """Ctrl-\\ twice ended the import as SIGQUIT does: with a core dump, a file of the process's
    memory (the import's lines, the key ring) in the directory it ran in. It ends with the status
    a shell gives it (128 + 3), and no core."""
    server.admin_token()
    where = tmp_path / "cwd"
    where.mkdir()
    proc = subprocess.Popen(["/bin/sh", "-c", f"ulimit -c unlimited; exec {BIN} user import -"],
                            env=server.env, cwd=where, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_handlers(proc)
    # No core at all, whatever ends it (a review: a single SIGQUIT, a crash): its size limit is 0.
    limits = pathlib.Path(f"/proc/{proc.pid}/limits").read_text()
    assert re.search(r"^Max core file size\s+0\s+0\s", limits, re.M), limits
    proc.send_signal(signal.SIGQUIT)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=1.0)
    proc.send_signal(signal.SIGQUIT)
    assert proc.wait(timeout=10) == 128 + signal.SIGQUIT
    assert "stopping at the next safe point" in proc.stderr.read()
    assert list(where.iterdir()) == []
    proc.stdin.close()
    proc.stdout.close()


def test_hangups_never_stop_an_import_at_once_and_an_ignored_one_stays_ignored(server):
    """A review: a closing SSH session sends a foreground job SIGHUP twice (bash, then the
    kernel), and "a second signal stops at once" would have ended an import between a batch and
    its records again. A repeated hangup is one. And a SIGHUP ignored when the command began
    (nohup) stays ignored: the import runs to its end."""
    server.admin_token()
    proc = subprocess.Popen([BIN, "user", "import", "-"], env=server.env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_handlers(proc)
    proc.send_signal(signal.SIGHUP)
    assert "stopping at the next safe point" in proc.stderr.readline()  # the first is noted
    proc.send_signal(signal.SIGHUP)  # then the second (back to back, the kernel merges them)
    with pytest.raises(subprocess.TimeoutExpired):
        proc.wait(timeout=1.0)
    out, err = proc.communicate(input=jsonl([{"email": "hup@example.com"}]), timeout=60)
    assert proc.returncode == 1 and "import interrupted (signal 1)" in err, err
    assert db_user(server, "hup@example.com") is None  # no batch begins after the signal

    def ignore_hangups():
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen([BIN, "user", "import", "-"], env=server.env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ignore_hangups)
    wait_for_handlers(proc, (signal.SIGINT, signal.SIGTERM))
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(input=jsonl([{"email": "nohup@example.com"}]), timeout=60)
    assert proc.returncode == 0 and "interrupted" not in err, err
    assert db_user(server, "nohup@example.com") is not None


def test_the_same_file_twice_changes_nothing(server, tmp_path):
    server.admin_token()
    picks = [vector(i) for i in ("bcrypt-2a-ascii", "argon2id-non-ascii", "passlib-pbkdf2-sha1-100-bytes",
                                 "django-pbkdf2-sha1-non-ascii", "keycloak-pbkdf2-sha512-non-ascii")]
    items = [{"email": f"twice{i}@example.com", "role": "moderator" if i % 2 else "user",
              "created_at": 1500000000 + i, "password_hash": hash_field(v)} for i, v in enumerate(picks)]
    items.append({"email": "nopass@example.com", "is_active": False})
    path = tmp_path / "users.jsonl"
    path.write_text(jsonl(items))
    first = cli_import(server, path=path)
    assert first.code == 0 and first.report == (6, 0, 0), first
    rows = db_rows(server)
    second = cli_import(server, path=path)
    assert second.code == 0 and second.report == (0, 6, 0), second
    assert [(r["line"], r["email"], r["result"]) for r in second.results] == \
        [(i + 1, item["email"], "skipped") for i, item in enumerate(items)], second
    assert [r["id"] for r in second.results] == [r["id"] for r in first.results], (first, second)
    assert db_rows(server) == rows
    for v, item in zip(picks, items):
        login_ok(server, item["email"], v["password"])


def test_a_repeated_email_within_one_import_is_skipped_the_second_time(server):
    admin = server.admin_token()
    run = cli_import(server, [{"email": "dup@example.com", "username": "dup1"},
                              {"email": "DUP@example.com", "username": "dup2"}])
    assert [r["result"] for r in run.results] == ["created", "skipped"], run
    assert run.code == 0 and run.report == (1, 1, 0), run
    assert db_user(server, "dup@example.com")["username"] == "dup1"
    r = api_import(server, admin, [{"email": "twin@example.com", "username": "twin1"},
                                   {"email": "Twin@Example.com", "username": "twin2"}])
    assert r.status_code == 200, r.text
    assert [x["result"] for x in r.json()["results"]] == ["created", "skipped"], r.json()
    assert db_user(server, "twin@example.com")["username"] == "twin1"
    assert db_user(server, "twin2@example.com") is None


def test_thousands_of_lines_go_in_batches_and_one_bad_line_costs_only_itself(server, tmp_path):
    server.admin_token()
    items = [{"email": f"bulk{i}@example.com"} for i in range(2500)]
    items[1700] = {"email": "bulk-bad-at-1701"}
    path = tmp_path / "bulk.jsonl"
    path.write_text(jsonl(items))
    run = cli_import(server, path=path)
    assert run.code == 1, run
    assert run.report == (2499, 0, 1), run.report
    assert [r["line"] for r in run.results] == list(range(1, 2501))
    assert run.results[1700] == {"line": 1701, "email": "bulk-bad-at-1701", "result": "error",
                                 "reason": "email: invalid"}, run.results[1700]
    rows = db_rows(server)
    assert len(rows) == 2500  # root + 2499
    root_id = db_user(server, "root@example.com")["id"]
    assert {r["id"] for r in run.results if r["result"] == "created"} == set(rows) - {root_id}


def test_stdin_and_a_missing_file(server, tmp_path):
    server.admin_token()
    r = server.cli("user", "import", str(tmp_path / "absent.jsonl"))
    assert r.returncode == 1 and r.stderr.strip(), (r.returncode, r.stderr)
    assert len(db_rows(server)) == 1
    run = cli_import(server, text="\n\n" + json.dumps({"email": "in@example.com"}) + "\n")
    assert run.code == 0 and run.results == [{"line": 3, "email": "in@example.com", "result": "created",
                                              "id": run.results[0]["id"]}], run


# --- audit -----------------------------------------------------------------------------------------

def test_imports_are_audited_with_their_counts_and_no_hash(server):
    admin = server.admin_token()
    admin_id = me(server, admin).json()["id"]
    v = vector("passlib-pbkdf2-sha512-ascii")
    run = cli_import(server, [{"email": "aud1@example.com", "password_hash": v["encoded"]},
                              {"email": "aud2@example.com"},
                              {"email": "root@example.com"},
                              {"email": "bad"}])
    assert run.report == (2, 1, 1), run
    events = wait_audit(server, admin, "user.import")
    assert len(events) == 1, events
    detail = events[0]["detail"]
    assert (detail.get("created"), detail.get("skipped"), detail.get("errors")) == (2, 1, 1), detail
    assert detail.get("actor") == "cli", detail
    r = api_import(server, admin, [{"email": "aud3@example.com", "password_hash": v["encoded"]},
                                   {"email": "aud1@example.com"}])
    assert r.status_code == 200, r.text
    events = wait_audit(server, admin, "user.import", count=2)
    assert len(events) == 2, events
    api_event = max(events, key=lambda e: e["id"])
    assert api_event["actor_id"] == admin_id, api_event
    d = api_event["detail"]
    assert (d.get("created"), d.get("skipped"), d.get("errors")) == (1, 1, 0), d
    everything = json.dumps(audit_events(server, admin, "user.import"))
    checksum = v["encoded"].rsplit("$", 1)[1]
    assert checksum not in everything and "$pbkdf2" not in everything
    # An outside attack: an import made accounts, administrators included, that no record named.
    r = api_import(server, admin, [{"email": "aud4@example.com", "role": "admin", "email_verified": True}])
    assert r.status_code == 200, r.text
    new_admin = r.json()["results"][0]["id"]
    made = wait_audit(server, admin, "user.created", count=4)
    mine = [e for e in made if e["subject_id"] == new_admin]
    assert len(mine) == 1, made
    assert mine[0]["actor_id"] == admin_id
    assert mine[0]["detail"] == {"role": "admin", "email_verified": True, "source": "import"}, mine[0]
    cli_made = [e for e in made if e["detail"].get("actor") == "cli" and "source" in e["detail"]]
    assert len(cli_made) == 2 and all(e["detail"]["source"] == "import" for e in cli_made), made
    everything = json.dumps(made)
    assert checksum not in everything and "$pbkdf2" not in everything


# --- the API ---------------------------------------------------------------------------------------

def test_api_import_answers_one_result_per_item(server):
    admin = server.admin_token()
    server.register("exists@example.com", "exists")
    bc = vector("bcrypt-2b-non-ascii")
    kc = vector("keycloak-pbkdf2-ascii")
    users = [
        {"email": "api1@example.com", "username": "api1", "password_hash": bc["encoded"]},
        {"email": "EXISTS@example.com", "password_hash": bc["encoded"]},
        {"email": "nope"},
        {"email": "api2@example.com", "role": "moderator", "password_hash": kc["keycloak"]},
        {"email": "api3@example.com", "colour": "red"},
        {"email": "api4@example.com", "password_hash": "$1$abcdefgh$abcdefghijklmnopqrstuv"},
    ]
    r = api_import(server, admin, users)
    assert r.status_code == 200, r.text
    b = r.json()
    results = b["results"]
    assert [x["index"] for x in results] == list(range(6))
    assert [x["result"] for x in results] == ["created", "skipped", "error", "created", "error", "error"], b
    assert (b["created"], b["skipped"], b["errors"]) == (2, 1, 3), b
    assert results[0] == {"index": 0, "email": "api1@example.com", "result": "created", "id": results[0]["id"]}
    assert results[1] == {"index": 1, "email": "EXISTS@example.com", "result": "skipped",
                          "id": db_user(server, "exists@example.com")["id"]}
    assert results[2]["reason"] == "email: invalid"
    assert results[4]["reason"] == "unknown field colour" and results[4]["email"] == "api3@example.com"
    assert results[5]["reason"] == "password_hash: unsupported format"
    assert "$2b$" not in r.text and kc["keycloak"]["value"] not in r.text
    assert db_user(server, "api3@example.com") is None and db_user(server, "api4@example.com") is None
    pair = login_ok(server, "api1@example.com", bc["password"])
    assert me(server, pair["access_token"]).json()["id"] == results[0]["id"]
    pair = login_ok(server, "api2@example.com", kc["password"])
    assert me(server, pair["access_token"]).json()["role"] == "moderator"
    assert wait_for_hash(server, "api2@example.com", lambda h: h.startswith("$2b$")).startswith("$2b$")


def test_every_unverifiable_hash_is_refused_and_every_verifiable_one_accepted(server):
    """The vectors through the API: what verify() must refuse on sight (malformed, beyond the
    limits) is an item error; real, tampered or wrong-password hashes are well-formed and go in."""
    admin = server.admin_token()
    refused = [v for v in vector_file()["vectors"]
               if v["group"] in ("malformed", "import_limits") or (v["group"] == "limits" and not v["expect"])]
    accepted = [v for v in vector_file()["vectors"]
                if v["group"] in ("formats", "tampered") or (v["group"] == "limits" and v["expect"])]
    users = [{"email": f"r{i}@example.com", "password_hash": hash_field(v)} for i, v in enumerate(refused)]
    users += [{"email": f"a{i}@example.com", "password_hash": hash_field(v)} for i, v in enumerate(accepted)]
    users += [{"email": f"k{i}@example.com", "password_hash": x["keycloak"]}
              for i, x in enumerate(vector_file()["keycloak_invalid"])]
    r = api_import(server, admin, users)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    unsupported = ("error", "password_hash: unsupported format")
    bad = [("should be refused", v["id"], x) for v, x in zip(refused, results)
           if (x["result"], x.get("reason")) != unsupported]
    bad += [("should be created", v["id"], x) for v, x in zip(accepted, results[len(refused):])
            if x["result"] != "created"]
    bad += [("keycloak, should be refused", k["id"], x)
            for k, x in zip(vector_file()["keycloak_invalid"], results[len(refused) + len(accepted):])
            if (x["result"], x.get("reason")) != unsupported]
    assert not bad, "\n".join(map(str, bad))
    # The genuine hashes beyond a limit never log in either (they were not stored at all).
    for i, v in enumerate(refused):
        assert db_user(server, f"r{i}@example.com") is None, v["id"]


def test_hashes_no_password_can_match_or_dearer_than_they_look_are_refused(server):
    """Found by an outside attack: argon2 strings libargon2 refuses before hashing (m, t or p of 0,
    m under 8 KiB a lane, a salt under 8 bytes, a hash under 4) were reported "created", and the
    user could never sign in with a password; PBKDF2-SHA1 at 2,000,000 iterations with a 128-byte
    key (seven runs, seconds a sign-in attempt) went in. Each is an item error now; the least
    libargon2 takes, and a Keycloak-sized PBKDF2-SHA256 key, still go in."""
    admin = server.admin_token()
    salt, digest = "c29tZXNhbHRzb21lc2FsdA", "A" * 43
    ab64 = lambda n: base64.b64encode(b"k" * n).decode().rstrip("=").replace("+", ".")  # noqa: E731
    users = [{"email": f"bad{i}@example.com", "password_hash": h} for i, h in enumerate([
        f"$argon2id$v=19$m=0,t=2,p=1${salt}${digest}",
        f"$argon2id$v=19$m=1024,t=0,p=1${salt}${digest}",
        f"$argon2i$v=19$m=1024,t=2,p=0${salt}${digest}",
        f"$argon2id$v=19$m=8,t=2,p=64${salt}${digest}",
        f"$argon2id$v=19$m=1024,t=2,p=1$YQ${digest}",
        f"$argon2id$v=19$m=1024,t=2,p=1${salt}$AA",
        f"$pbkdf2$2000000${salt}${ab64(128)}"])]
    users += [{"email": "least@example.com", "password_hash": "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$aGFzaA"},
              {"email": "keycloak@example.com", "password_hash": f"$pbkdf2-sha256$1000000${salt}${ab64(64)}"}]
    r = api_import(server, admin, users)
    assert r.status_code == 200, r.text
    got = [(x["result"], x.get("reason")) for x in r.json()["results"]]
    assert got == [("error", "password_hash: unsupported format")] * 7 + [("created", None)] * 2, got


def test_hashes_asking_more_work_than_the_import_bounds_are_refused(server):
    """Found by an outside attack: an imported bcrypt hash of cost 31 (about a day per check), or
    an argon2 one of 1 GiB x 64 passes, let two sign-in attempts on that account hold every hashing
    thread. Beyond bcrypt cost 16 or 4 GiB-passes of argon2 work a hash is an item error; within
    them it goes in."""
    admin = server.admin_token()
    salt_and_hash = "3NE2V4T8Nugw2KIG7AJZUu6xx9LobOEZdBz/Rgn./7tSA5qAKq8zC"
    argon2_tail = "$c29tZXNhbHRzb21lc2FsdA$" + "A" * 43
    users = [{"email": "cost31@example.com", "password_hash": "$2b$31$" + salt_and_hash},
             {"email": "cost17@example.com", "password_hash": "$2b$17$" + salt_and_hash},
             {"email": "deep@example.com", "password_hash": "$argon2id$v=19$m=1048576,t=64,p=64" + argon2_tail},
             {"email": "wide@example.com", "password_hash": "$argon2i$v=19$m=1048576,t=5,p=1" + argon2_tail},
             {"email": "cost16@example.com", "password_hash": "$2b$16$" + salt_and_hash},
             {"email": "rfc9106@example.com", "password_hash": "$argon2id$v=19$m=65536,t=3,p=4" + argon2_tail}]
    r = api_import(server, admin, users)
    assert r.status_code == 200, r.text
    got = [(x["result"], x.get("reason")) for x in r.json()["results"]]
    assert got == [("error", "password_hash: unsupported format")] * 4 + [("created", None)] * 2, got
    assert db_user(server, "cost31@example.com") is None


def test_api_import_needs_users_write_and_roles_manage(make_server, tmp_path):
    s = make_server({"STEP_UP_MAX_AGE_SECONDS": "8", "GATEHOUSE_POLICY_FILE": moderator_policy(
        tmp_path, {"rolekeeper": ["users:read", "roles:manage"], "writer": ["users:read", "users:write"]})})
    s.admin_token()
    one = [{"email": "victim@example.com"}]
    r = api_import(s, None, one)
    assert (r.status_code, body(r)) == NOT_AUTHENTICATED
    assert s.register("plain@example.com", "plain").status_code == 201
    for token in (s.token("plain"), make_user(s, "keeper@example.com", "keeper", "rolekeeper"),
                  make_user(s, "writer@example.com", "writer", "writer")):
        r = api_import(s, token, one)
        assert (r.status_code, body(r)) == FORBIDDEN, body(r)
    # The admin's own token narrowed to users:write, and the admin's API key without roles:manage.
    narrow = s.login("root@example.com", ADMIN_PASSWORD, scope="users:read users:write").json()["access_token"]
    r = api_import(s, narrow, one)
    assert (r.status_code, body(r)) == FORBIDDEN
    fresh = s.token("root@example.com", ADMIN_PASSWORD)  # making a key is a step-up operation
    k = requests.post(s.url("/api/v1/api-keys"), json={"name": "import", "scopes": ["users:read", "users:write"]},
                      headers=auth(fresh))
    assert k.status_code == 201, k.text
    r = api_import(s, None, one, headers={"X-API-Key": k.json()["key"]})
    assert r.status_code == 403, body(r)
    # Found by an outside attack: the admin's key with every permission made an administrator
    # with a password of its choosing, who outlived the key. A key never imports, nor a token
    # whose sign-in is older than STEP_UP_MAX_AGE_SECONDS: the accounts outlive the request.
    full = requests.post(s.url("/api/v1/api-keys"), json={"name": "full"}, headers=auth(fresh))
    assert full.status_code == 201, full.text
    evil = [{"email": "evil@example.com", "role": "admin", "password_hash": vector("argon2i-ascii")["encoded"]}]
    r = api_import(s, None, evil, headers={"X-API-Key": full.json()["key"]})
    assert r.status_code == 403, body(r)
    time.sleep(9)
    r = api_import(s, fresh, evil)
    assert r.status_code == 401, body(r)
    assert "insufficient_user_authentication" in r.headers["WWW-Authenticate"], r.headers
    assert db_user(s, "victim@example.com") is None and db_user(s, "evil@example.com") is None
    r = api_import(s, s.token("root@example.com", ADMIN_PASSWORD), evil)
    assert r.status_code == 200 and r.json()["created"] == 1, r.text


def test_the_default_moderator_cannot_import(server):
    server.admin_token()
    mod = make_user(server, "mod@example.com", "mod", "moderator")
    r = api_import(server, mod, [{"email": "m1@example.com"}])
    assert (r.status_code, body(r)) == FORBIDDEN
    assert db_user(server, "m1@example.com") is None


def test_no_one_imports_a_user_above_themselves(make_server, tmp_path):
    s = make_server({"GATEHOUSE_POLICY_FILE": moderator_policy(tmp_path)})
    s.admin_token()
    mod = make_user(s, "mod@example.com", "mod", "moderator")
    v = vector("argon2i-ascii")
    r = api_import(s, mod, [{"email": "u@example.com", "role": "user"},
                            {"email": "m@example.com", "role": "moderator"},
                            {"email": "a@example.com", "role": "admin", "password_hash": v["encoded"]},
                            {"email": "d@example.com"},
                            {"email": "root@example.com", "role": "moderator", "password_hash": v["encoded"]}])
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["result"] for x in res] == ["created", "created", "error", "created", "skipped"], res
    assert res[2]["reason"] == "role: above your own" and res[2]["email"] == "a@example.com"
    assert (r.json()["created"], r.json()["skipped"], r.json()["errors"]) == (3, 1, 1)
    assert db_user(s, "a@example.com") is None
    assert {row["role"] for row in db_rows(s).values()} == {"admin", "moderator", "user"}
    assert db_user(s, "root@example.com")["role"] == "admin"
    r = s.login("a@example.com", v["password"])
    assert (r.status_code, body(r)) == INCORRECT
    # Found by an outside attack: an address vouched for is one an external sign-in with it joins,
    # so a role without every permission pre-made a victim's account for their sign-in with Google
    # to land in. Only a caller holding every permission vouches; unvouched, it goes in.
    r = api_import(s, mod, [{"email": "victim@example.com", "email_verified": True, "password_hash": v["encoded"]},
                            {"email": "plain@example.com", "email_verified": False}])
    assert [(x["result"], x.get("reason")) for x in r.json()["results"]] == [
        ("error", "email_verified: true needs every permission"), ("created", None)], r.text
    assert db_user(s, "victim@example.com") is None
    r = api_import(s, s.token("root@example.com", ADMIN_PASSWORD),
                   [{"email": "victim@example.com", "email_verified": True}])
    assert r.json()["created"] == 1, r.text
    assert bool(db_user(s, "victim@example.com")["email_verified"])


def test_api_import_size_limits(server):
    admin = server.admin_token()
    r = api_import(server, admin, [{"email": f"over{i}@example.com"} for i in range(1001)])
    assert r.status_code == 422, body(r)
    assert db_user(server, "over0@example.com") is None
    r = requests.post(server.url("/api/v1/users/import"), headers=auth(admin),
                      data=b'{"users": [{"email": "big@example.com", "username": "' + b"x" * (1 << 20) + b'"}]}',
                      )
    assert r.status_code == 413, body(r)
    for bad in ({}, {"users": "x"}, {"users": None}, {"users": {"email": "obj@example.com"}}):
        r = requests.post(server.url("/api/v1/users/import"), json=bad, headers=auth(admin))
        assert r.status_code == 422, (bad, r.status_code, body(r))
        assert isinstance(body(r)["detail"], list), body(r)
    r = api_import(server, admin, [1])
    if r.status_code == 200:  # an item that is not an object: a 422, or an item error
        assert (r.json()["created"], r.json()["errors"]) == (0, 1), r.json()
    else:
        assert r.status_code == 422, body(r)
    r = requests.post(server.url("/api/v1/users/import"), data="{not json", headers={
        **auth(admin), "Content-Type": "application/json"})
    assert r.status_code == 422
    r = api_import(server, admin, [{"email": f"fill{i}@example.com"} for i in range(1000)])
    assert r.status_code == 200, body(r)
    assert (r.json()["created"], r.json()["skipped"], r.json()["errors"]) == (1000, 0, 0)
    assert len(db_rows(server)) == 1001


def test_the_importer_never_stores_a_hash_it_was_not_given(server):
    """An item without password_hash is an account without password; one with a hash keeps
    exactly that hash (no re-encoding on the way in) until the first login."""
    server.admin_token()
    v = vector("django-pbkdf2-sha256-default-iterations")
    run = cli_import(server, [{"email": "keep@example.com", "password_hash": v["encoded"]},
                              {"email": "none@example.com"}])
    assert run.code == 0, run
    assert stored_hash(server, "keep@example.com") == v["encoded"]
    assert stored_hash(server, "none@example.com") == ""
    for pw in (" ", "x", v["password"]):
        r = server.login("none@example.com", pw)
        assert (r.status_code, body(r)) == INCORRECT
    login_ok(server, "keep@example.com", v["password"])


def test_bcrypt_costs_no_bcrypt_can_check_are_refused(server):
    """$2b$99$ or $2b$00$ would create an account whose password can never match; so would a
    string outside bcrypt's alphabet, or with bits set that bcrypt never writes (an outside attack
    imported "$2b$12$...!" as created)."""
    admin = server.admin_token()
    body = "a" * 21 + "e" + "a" * 31  # the salt's last character carries no stray bits
    good = "$2b$04$" + body
    users = [{"email": f"c{cost}@example.com", "password_hash": f"$2b${cost}$" + body}
             for cost in ("00", "03", "32", "99")]
    users += [{"email": "bang@example.com", "password_hash": good[:-1] + "!"},
              {"email": "bits@example.com", "password_hash": "$2b$04$" + "a" * 53}]
    users.append({"email": "c04@example.com", "password_hash": good})
    results = api_import(server, admin, users).json()["results"]
    assert [(x["result"], x.get("reason")) for x in results[:6]] == \
        [("error", "password_hash: unsupported format")] * 6
    assert results[6]["result"] == "created"


def test_a_creation_time_in_the_future_or_in_milliseconds_is_refused(server):
    """Keycloak's createdTimestamp is in milliseconds: imported unconverted it would date an
    account thousands of years ahead."""
    admin = server.admin_token()
    now = int(time.time())
    users = [{"email": "ms@example.com", "created_at": now * 1000},
             {"email": "tomorrow@example.com", "created_at": now + 3 * 86400},
             {"email": "today@example.com", "created_at": now}]
    results = api_import(server, admin, users).json()["results"]
    assert [(x["result"], x.get("reason", "")[:10]) for x in results[:2]] == \
        [("error", "created_at")] * 2, results
    assert results[2]["result"] == "created", results


def test_dear_imported_hashes_are_checked_apart_and_never_hold_everyones_logins(make_server):
    """Found by an outside attack: five wrong passwords a minute at one account imported with a
    1 GiB x 4 argon2 hash (within the import bounds) held both hashing threads, and everyone's
    logins waited. Hashes far dearer than the policy's are checked on a pool of their own, one at
    a time, and at most one per hashing thread wait for it (a review: waiting, they had parked
    every thread of the login lane); beyond that such a sign-in is a 503 at once. A plain login
    is answered while they are under way."""
    # No login delays: each wrong password here must reach the pools (with delays, the guesses
    # after the fifth are refused before any hash, test_sessions.py).
    s = make_server({"GATEHOUSE_HASH_THREADS": "2", "LOGIN_DELAY_AFTER_FAILURES": "0"})
    r = run_cli(s, "user", "create", "--email", "dear@example.com", "--username", "dear", "--password-stdin",
                stdin="Passw0rd!x\n",
                env={"PASSWORD_SCHEME": "argon2id", "ARGON2_MEMORY_KIB": "300000", "ARGON2_ITERATIONS": "3"})
    assert r.returncode == 0, r.stderr
    assert s.register("plain@example.com", "plain").status_code == 201
    finished = {}

    def attempt(name, username, password):
        r = requests.post(s.url("/api/v1/auth/login"), data={"username": username, "password": password})
        finished[name] = (r.status_code, time.monotonic(), r.headers.get("Retry-After"))

    dear = [threading.Thread(target=attempt, args=(f"dear{i}", "dear", f"Wr0ng-{i}!")) for i in range(8)]
    for t in dear:
        t.start()
    time.sleep(0.3)  # all asked: under the old pools, they held every hashing and lane thread
    attempt("plain", "plain", "Passw0rd!x")
    for t in dear:
        t.join()
    assert finished["plain"][0] == 200, finished
    checked = [v for k, v in finished.items() if k.startswith("dear") and v[0] == 401]
    busy = [v for k, v in finished.items() if k.startswith("dear") and v[0] == 503]
    assert 1 <= len(checked) <= 2 and len(checked) + len(busy) == 8, finished
    assert all(v[2] == "1" for v in busy), busy
    assert finished["plain"][1] < min(v[1] for v in checked), finished
    # And the dear account itself still signs in (and is rehashed to the policy's).
    assert s.login("dear").status_code == 200
