"""Moving in from the FastAPI seed (seed-design.md; API.md, "Moving in from elsewhere"):
`gatehouse import-seed --database-url URL` reads the seed's SQLAlchemy `users` table (SQLite and
PostgreSQL, the URL exactly as the seed's DATABASE_URL) and imports it like `user import`, with
`line` = the seed's row id, remembering which Gatehouse user each seed id became. Then, with
LEGACY_SECRET_KEY and LEGACY_TOKENS_UNTIL, tokens the seed made (python-jose, HS256, no jti/iss/sid)
are accepted for those users until that time; a seed refresh token is traded once for a normal
Gatehouse session. Everything else a seed token could try is the generic 401."""
import collections
import concurrent.futures
import datetime
import sqlite3
import subprocess
import time
import types

import jwt as pyjwt
import pytest
import requests

from conftest import BIN, PG_URL, SECRET, Redis, Server, auth, fresh_database
from import_support import (INCORRECT, NOT_VALIDATED, SEED_SECRET_KEY, FORBIDDEN, api_import, body, db_rows, db_user,
                            import_seed, login_ok, make_seed_database, me, pg_url_with, rfc3339, rfc3339_seconds,
                            rsa_pem, seed_access_token, seed_refresh_token, seed_rows, stored_hash, unsigned_token,
                            wait_for_hash)

UTC = datetime.timezone.utc
REFRESH_REFUSALS = ({"detail": "Invalid refresh token"}, {"detail": "User not found or inactive"})


def seed_users():
    """The seed's users: ids with a gap (4 was deleted), every role, an inactive account, a Google
    account without password, and one whose created_at the database filled in."""
    def at(*args):
        return datetime.datetime(*args)  # SQLAlchemy on SQLite keeps naive datetimes (UTC here)
    return [
        dict(id=1, email="alice@seed.example.com", username="alice", password="Alice-Seed-1!", role="user",
             is_active=True, created_at=at(2023, 5, 17, 8, 30, 15)),
        dict(id=2, email="bob@seed.example.com", username="bob", password="Bob-Seed-2!", role="moderator",
             is_active=True, created_at=at(2023, 6, 1, 12, 0, 0)),
        dict(id=3, email="carol@seed.example.com", username="carol", password="Carol-Seed-3!", role="admin",
             is_active=True, created_at=at(2023, 6, 2, 9, 15, 0)),
        dict(id=5, email="dave@seed.example.com", username="dave", password="Dave-Seed-5!", role="user",
             is_active=False, created_at=at(2023, 7, 4, 0, 0, 1)),
        dict(id=6, email="gina@gmail.example.com", username="gina", hashed_password="", role="user",
             is_active=True, oauth_provider="google", oauth_id="108234567890123456789",
             created_at=at(2023, 8, 9, 10, 11, 12)),
        dict(id=8, email="erin@seed.example.com", username="erin", password="Erin-Seed-8!", role="user",
             is_active=True, created_at=at(2024, 1, 2, 3, 4, 5)),
        dict(id=9, email="frank@seed.example.com", username="frank", password="Frank-Seed-9!", role="user",
             is_active=True, created_at=at(2024, 1, 3, 3, 4, 5)),
        dict(id=10, email="henry@seed.example.com", username="henry", password="Henry-Seed-10!", role="user",
             is_active=True, created_at=at(2024, 2, 3, 4, 5, 6)),
        dict(id=11, email="ivy@seed.example.com", username="ivy", password="Ivy-Seed-11!", role="user",
             is_active=True, created_at=at(2024, 2, 4, 4, 5, 6)),
        dict(id=12, email="judy@seed.example.com", username="judy", password="Judy-Seed-12!", role="user",
             is_active=True),  # created_at: the database's now()
    ]


SEED = {u["id"]: u for u in seed_users()}
ACTIVE_WITH_PASSWORD = [i for i, u in SEED.items() if u["is_active"] and "password" in u]


def legacy_env(until=None):
    until = until or datetime.datetime.now(UTC) + datetime.timedelta(days=1)
    return {"LEGACY_SECRET_KEY": SEED_SECRET_KEY, "LEGACY_TOKENS_UNTIL": rfc3339(until)}


def wait_accepted(server, token, timeout=5):
    """/me with `token` once it answers 200 (the CLI wrote the users; the server may take a moment
    to see them); the last response otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        r = me(server, token)
        if r.status_code == 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


def refresh(server, token):
    return requests.post(server.url("/api/v1/auth/refresh"), json={"refresh_token": token})


def assert_not_validated(r, what):
    assert (r.status_code, body(r)) == NOT_VALIDATED, (what, r.status_code, body(r))
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), (what, r.headers)


def assert_inactive_refused(r, what):
    """A seed token of an inactive user: refused as API.md refuses any token of an inactive user
    (403 `Inactive user`, the seed's own get_current_active_user), or as the generic 401."""
    assert (r.status_code, body(r)) in (NOT_VALIDATED, (403, {"detail": "Inactive user"})), \
        (what, r.status_code, body(r))


def assert_refresh_refused(r, what):
    assert r.status_code == 401 and body(r) in REFRESH_REFUSALS, (what, r.status_code, body(r))


def check_imported(run, seed_ids):
    """The import-seed output: one created line per seed row, `line` = the seed id."""
    assert run.code == 0, run
    assert run.report == (len(seed_ids), 0, 0), run
    assert [r["line"] for r in run.results] == sorted(seed_ids), run
    for r in run.results:
        assert r == {"line": r["line"], "email": SEED[r["line"]]["email"], "result": "created", "id": r["id"]}, r
        assert isinstance(r["id"], int)
    return {r["line"]: r["id"] for r in run.results}


@pytest.fixture
def legacy(make_server, tmp_path):
    """A server accepting seed tokens for a day, with the seed (SQLite, absolute URL) imported.
    Gatehouse already had two users, so seed id n is not Gatehouse id n: root (an admin) is id 1,
    which seed id 1 (alice, a user) must never be taken for."""
    seed_dir = tmp_path / "seed"
    seed_dir.mkdir()
    url = f"sqlite:///{seed_dir / 'app.db'}"
    assert url.startswith("sqlite:////")
    make_seed_database(url, seed_users())
    s = make_server(legacy_env())
    admin = s.admin_token()
    assert s.register("zed@example.com", "zed").status_code == 201
    run = import_seed(s, url)
    ids = check_imported(run, SEED)
    assert me(s, admin).json()["id"] == 1 and 1 not in ids.values()
    r = wait_accepted(s, seed_access_token(1))
    assert r.status_code == 200, (r.status_code, body(r))
    return types.SimpleNamespace(server=s, admin=admin, ids=ids, url=url, run=run, seed_dir=seed_dir)


# --- import-seed ----------------------------------------------------------------------------------

def test_import_seed_brings_every_user_with_role_state_and_creation_time(legacy):
    s, admin, ids = legacy.server, legacy.admin, legacy.ids
    stored = seed_rows(legacy.url)
    for seed_id, u in SEED.items():
        r = requests.get(s.url(f"/api/v1/users/{ids[seed_id]}"), headers=auth(admin))
        assert r.status_code == 200, r.text
        got = r.json()
        assert (got["email"], got["username"], got["role"], got["is_active"]) == \
            (u["email"], u["username"], u["role"], u["is_active"]), got
        seed_created = stored[seed_id]["created_at"]
        if isinstance(seed_created, str):  # the database's CURRENT_TIMESTAMP, as text
            seed_created = datetime.datetime.fromisoformat(seed_created)
        want = int(seed_created.replace(tzinfo=UTC).timestamp())
        assert rfc3339_seconds(got["created_at"]) == want, (seed_id, got["created_at"], seed_created)
        # The hash is the seed's own until the first login.
        assert stored_hash(s, u["email"]) == stored[seed_id]["hashed_password"], seed_id


def test_seed_users_sign_in_with_their_seed_passwords(legacy):
    s = legacy.server
    for seed_id in ACTIVE_WITH_PASSWORD:
        u = SEED[seed_id]
        r = s.login(u["email"], u["password"] + "?")
        assert (r.status_code, body(r)) == INCORRECT, seed_id
        token = login_ok(s, u["email"], u["password"])["access_token"]
        got = me(s, token).json()
        assert (got["id"], got["email"], got["role"]) == (legacy.ids[seed_id], u["email"], u["role"])
        assert wait_for_hash(s, u["email"], lambda h: h.startswith("$2b$10$")).startswith("$2b$10$"), seed_id
        login_ok(s, u["email"], u["password"])
    r = s.login("dave@seed.example.com", SEED[5]["password"])
    assert (r.status_code, body(r)) == (403, {"detail": "Account is deactivated"})
    for pw in ("x", "Gina-Google-6!"):  # signed in with Google only: no password at all
        r = s.login("gina@gmail.example.com", pw)
        assert (r.status_code, body(r)) == INCORRECT


def test_import_seed_with_a_relative_url_twice_changes_nothing_and_never_writes_the_seed(make_server, tmp_path):
    seed_dir = tmp_path / "app"
    seed_dir.mkdir()
    make_seed_database(f"sqlite:///{seed_dir / 'app.db'}", seed_users())
    con = sqlite3.connect(seed_dir / "app.db")
    seed_schema = con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    con.close()
    seed_before = seed_rows(f"sqlite:///{seed_dir / 'app.db'}")
    s = make_server()
    s.admin_token()
    first = import_seed(s, "sqlite:///./app.db", cwd=seed_dir)  # relative to the working directory
    check_imported(first, SEED)
    rows = db_rows(s)
    second = import_seed(s, "sqlite:///./app.db", cwd=seed_dir)
    assert second.code == 0 and second.report == (0, len(SEED), 0), second
    assert [(r["line"], r["email"], r["result"]) for r in second.results] == \
        [(i, SEED[i]["email"], "skipped") for i in sorted(SEED)], second
    assert db_rows(s) == rows
    # The seed's database is read, never written (no table of Gatehouse's put there either).
    con = sqlite3.connect(seed_dir / "app.db")
    assert con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall() == seed_schema
    con.close()
    assert seed_rows(f"sqlite:///{seed_dir / 'app.db'}") == seed_before


def test_import_seed_refuses_a_missing_database_without_creating_it(server, tmp_path):
    server.admin_token()
    r = subprocess.run([BIN, "import-seed", "--database-url", "sqlite:///./missing.db"], env=server.env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.strip(), (r.returncode, r.stderr)
    assert not (tmp_path / "missing.db").exists()
    for url in ("mysql://app:mysql-secret-pw@127.0.0.1/app", "sqlite:/app.db", "not a url"):
        r = subprocess.run([BIN, "import-seed", "--database-url", url], env=server.env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode in (1, 2) and r.stderr.strip(), (url, r.returncode, r.stderr)
        assert "mysql-secret-pw" not in r.stderr + r.stdout  # a password in a URL is never echoed
    assert len(db_rows(server)) == 1


def test_import_seed_reports_bad_rows_by_seed_id_and_imports_the_rest(make_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    users = [SEED[1], SEED[2],
             dict(id=20, email="not-an-email", username="bademail", password="X-Seed-20!", role="user",
                  is_active=True),
             dict(id=21, email="plain@seed.example.com", username="plain", hashed_password="hunter2",
                  role="user", is_active=True),
             dict(id=22, email="king@seed.example.com", username="king", password="King-Seed-22!",
                  role="superuser", is_active=True),
             dict(id=23, email="dupname@seed.example.com", username="ALICE", password="D-Seed-23!",
                  role="user", is_active=True)]
    make_seed_database(url, users)
    s = make_server()
    s.admin_token()
    run = import_seed(s, url)
    assert run.code == 1, run
    assert run.report == (2, 0, 4), run
    got = run.by_line()
    assert sorted(got) == [1, 2, 20, 21, 22, 23]
    assert got[20]["result"] == "error" and got[20]["reason"] == "email: invalid", got[20]
    assert (got[21]["result"], got[21]["reason"], got[21]["email"]) == \
        ("error", "password_hash: unsupported format", "plain@seed.example.com"), got[21]
    assert (got[22]["result"], got[22]["reason"]) == ("error", "role: unknown"), got[22]
    assert (got[23]["result"], got[23]["reason"]) == ("error", "username already taken"), got[23]
    for email in ("plain@seed.example.com", "king@seed.example.com", "dupname@seed.example.com"):
        assert db_user(s, email) is None, email


def test_a_seed_row_without_a_usable_id_is_reported_not_passed_over(make_server, tmp_path):
    """An outside attack: a row whose id was NULL was skipped with no line and no count. (Only a
    hand-made table can hold one: SQLAlchemy's integer key cannot.)"""
    path = tmp_path / "odd.db"
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE users (id TEXT, email TEXT, username TEXT, hashed_password TEXT,"
                    " role TEXT, is_active BOOLEAN, created_at DATETIME)")
        rows = [(None, "nullid@seed.example.com", "nullid"), ("x7", "textid@seed.example.com", "textid"),
                ("0", "zeroid@seed.example.com", "zeroid"), ("31", "fine@seed.example.com", "fine")]
        con.executemany("INSERT INTO users VALUES (?, ?, ?, '', 'user', 1, NULL)", rows)
    con.close()
    s = make_server()
    s.admin_token()
    run = import_seed(s, f"sqlite:///{path}")
    assert run.code == 1 and run.report == (1, 0, 3), run
    reasons = {r["email"]: (r["result"], r.get("reason")) for r in run.results}
    assert reasons == {"nullid@seed.example.com": ("error", "id: missing (NULL)"),
                       "textid@seed.example.com": ("error", "id: not a positive whole number"),
                       "zeroid@seed.example.com": ("error", "id: not a positive whole number"),
                       "fine@seed.example.com": ("created", None)}, run.results


def test_a_seed_row_that_failed_to_import_has_no_token(make_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    make_seed_database(url, [SEED[1], dict(id=21, email="plain@seed.example.com", username="plain",
                                           hashed_password="hunter2", role="user", is_active=True)])
    s = make_server(legacy_env())
    s.admin_token()
    run = import_seed(s, url)
    assert run.code == 1 and run.report == (1, 0, 1), run
    assert wait_accepted(s, seed_access_token(1)).status_code == 200
    assert_not_validated(me(s, seed_access_token(21)), "the seed row that was not imported")
    assert_refresh_refused(refresh(s, seed_refresh_token(21)), "the seed row that was not imported")


# --- PostgreSQL ------------------------------------------------------------------------------------

needs_pg = pytest.mark.skipif(
    not PG_URL, reason="needs PostgreSQL (scripts/services.sh sets GATEHOUSE_TEST_POSTGRES_URL)")


def pg_seed_users():
    """The same users with timezone-aware creation times (timestamptz on PostgreSQL)."""
    out = []
    for u in seed_users():
        u = dict(u)
        if "created_at" in u:
            u["created_at"] = u["created_at"].replace(tzinfo=UTC)
        out.append(u)
    return out


@needs_pg
def test_import_seed_from_postgresql_with_the_asyncpg_url_the_seed_uses(make_server):
    seed_db = fresh_database()
    make_seed_database(seed_db, pg_seed_users())
    s = make_server(legacy_env())
    admin = s.admin_token()
    asyncpg = pg_url_with(seed_db, scheme="postgresql+asyncpg", password="seed-db-password")
    assert asyncpg.startswith("postgresql+asyncpg://gatehouse:seed-db-password@")
    run = import_seed(s, asyncpg)
    ids = check_imported(run, SEED)
    assert "seed-db-password" not in run.stderr + run.proc.stdout
    # The plain driver-less form of the same database: everything is there already.
    again = import_seed(s, pg_url_with(seed_db, password="seed-db-password"))
    assert again.code == 0 and again.report == (0, len(SEED), 0), again
    stored = seed_rows(seed_db)
    for seed_id, u in SEED.items():
        got = requests.get(s.url(f"/api/v1/users/{ids[seed_id]}"), headers=auth(admin)).json()
        assert (got["email"], got["role"], got["is_active"]) == (u["email"], u["role"], u["is_active"])
        assert rfc3339_seconds(got["created_at"]) == int(stored[seed_id]["created_at"].timestamp()), got
    login_ok(s, SEED[2]["email"], SEED[2]["password"])
    r = wait_accepted(s, seed_access_token(2))
    assert r.status_code == 200 and r.json()["id"] == ids[2], body(r)


@needs_pg
def test_import_seed_into_a_gatehouse_on_postgresql(make_server, tmp_path):
    import psycopg2
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    make_seed_database(url, seed_users())
    gh_db = fresh_database()
    s = make_server({"DATABASE_URL": gh_db, "GATEHOUSE_DATA_DIR": str(tmp_path / "data"), **legacy_env()})
    s.admin_token()
    ids = check_imported(import_seed(s, url), SEED)
    with psycopg2.connect(gh_db) as con, con.cursor() as cur:
        cur.execute("SELECT password_hash FROM users WHERE id = %s", (ids[1],))
        assert cur.fetchone()[0] == seed_rows(url)[1]["hashed_password"]
    con.close()
    token = login_ok(s, SEED[1]["email"], SEED[1]["password"])["access_token"]
    assert me(s, token).json()["id"] == ids[1]
    with psycopg2.connect(gh_db) as con, con.cursor() as cur:
        cur.execute("SELECT password_hash FROM users WHERE id = %s", (ids[1],))
        assert cur.fetchone()[0].startswith("$2b$10$")
    con.close()
    r = wait_accepted(s, seed_access_token(1))
    assert r.status_code == 200 and r.json()["id"] == ids[1], body(r)
    r = refresh(s, seed_refresh_token(3))
    assert r.status_code == 200, body(r)
    assert me(s, r.json()["access_token"]).json()["id"] == ids[3]


@needs_pg
def test_a_seed_refresh_token_is_traded_once_across_nodes(make_server, tmp_path):
    """Two nodes on one PostgreSQL and one Redis: a seed refresh token traded on one node is spent
    on the other, and a race between the nodes still trades it once."""
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    make_seed_database(url, seed_users())
    redis = Redis(tmp_path)
    redis.start()
    try:
        db = fresh_database()
        nodes = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            nodes.append(make_server({"DATABASE_URL": db, "REDIS_URL": redis.url,
                                      "GATEHOUSE_DATA_DIR": str(tmp_path / name), **legacy_env()}))
        a, b = nodes
        a.admin_token()
        ids = check_imported(import_seed(a, url), SEED)
        for node in (a, b):
            r = wait_accepted(node, seed_access_token(2))
            assert r.status_code == 200 and r.json()["id"] == ids[2], body(r)
        first = seed_refresh_token(10)
        r = refresh(a, first)
        assert r.status_code == 200, body(r)
        assert_refresh_refused(refresh(b, first), "a seed refresh token already traded on the other node")
        raced = seed_refresh_token(11)
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(lambda i: refresh(nodes[i % 2], raced).status_code, range(8)))
        assert collections.Counter(codes) == {200: 1, 401: 7}, codes
    finally:
        redis.stop()


# --- seed tokens that work ---------------------------------------------------------------------------

def test_a_seed_access_token_answers_as_the_imported_user(legacy):
    s, ids = legacy.server, legacy.ids
    for seed_id in (1, 2, 3, 6, 12):
        u = SEED[seed_id]
        r = wait_accepted(s, seed_access_token(seed_id, scopes=["users:read"]))
        assert r.status_code == 200, (seed_id, body(r))
        got = r.json()
        assert (got["id"], got["email"], got["username"], got["role"]) == \
            (ids[seed_id], u["email"], u["username"], u["role"]), got
    # Seed id 1 is alice, never Gatehouse's user 1 (root, an admin).
    assert me(s, seed_access_token(1)).json()["email"] == "alice@seed.example.com"
    r = requests.get(s.url("/api/v1/users"), headers=auth(seed_access_token(1, scopes=["users:read"])))
    assert r.status_code == 200, body(r)
    r = requests.get(s.url("/api/v1/auth/verify"), headers=auth(seed_access_token(2, scopes=["users:read"])))
    assert r.status_code == 200, body(r)
    assert r.headers["X-Auth-User-Id"] == str(ids[2]) and r.headers["X-Auth-User-Email"] == SEED[2]["email"]


def test_a_seed_id_given_again_to_a_new_user_names_nobody(legacy):
    """The seed on SQLite gives a deleted user's id to the next one (SQLAlchemy's integer key
    reuses the highest id). An outside attack: after judy (seed id 12) was deleted and newbie
    registered as id 12, the second import-seed the docs ask for left 12 naming judy, and
    newbie's seed tokens signed in as judy. Neither may now: the id names nobody."""
    s = legacy.server
    assert me(s, seed_access_token(12)).json()["email"] == SEED[12]["email"]
    seed_db = legacy.url[len("sqlite:///"):]
    con = sqlite3.connect(seed_db)
    with con:
        con.execute("DELETE FROM users WHERE id = 12")
        con.execute("INSERT INTO users (id, email, username, hashed_password, role, is_active, created_at)"
                    " SELECT 12, 'newbie@seed.example.com', 'newbie', hashed_password, 'user', 1, created_at"
                    " FROM users WHERE id = 11")
    con.close()
    again = import_seed(s, legacy.url)
    assert again.code == 0, again
    line = next(r for r in again.results if r["line"] == 12)
    assert (line["email"], line["result"]) == ("newbie@seed.example.com", "created"), line
    assert "refused from now on" in line.get("note", ""), line
    assert all("note" not in r for r in again.results if r["line"] != 12), again.results
    for token in (seed_access_token(12), seed_access_token(12, scopes=["users:read"])):
        assert_not_validated(me(s, token), "seed id 12 after it was given again")
    assert_refresh_refused(refresh(s, seed_refresh_token(12)), "seed refresh token of id 12")
    # Both accounts are still there, reached by their own sign-ins; a third import changes nothing.
    assert login_ok(s, "newbie", SEED[11]["password"])
    third = import_seed(s, legacy.url)
    assert third.code == 0 and third.report == (0, len(SEED), 0), third
    assert all("note" not in r for r in third.results), third.results
    assert_not_validated(me(s, seed_access_token(12)), "seed id 12 after a third import")
    assert me(s, seed_access_token(11)).json()["email"] == SEED[11]["email"]


def test_a_seed_token_never_grants_more_than_the_users_current_role(legacy):
    s, ids = legacy.server, legacy.ids
    everything = ["users:read", "users:write", "users:delete", "posts:read", "posts:write", "posts:delete",
                  "roles:manage", "analytics:view", "tokens:introspect", "admin"]
    alice = seed_access_token(1, scopes=everything)
    zed = db_user(s, "zed@example.com")["id"]
    r = requests.delete(s.url(f"/api/v1/users/{zed}"), headers=auth(alice))
    assert (r.status_code, body(r)) == FORBIDDEN
    r = requests.put(s.url(f"/api/v1/users/{ids[1]}/role"), json={"role": "admin"}, headers=auth(alice))
    assert r.status_code == 403, body(r)
    r = requests.get(s.url("/api/v1/audit-events"), headers=auth(alice))
    assert (r.status_code, body(r)) == FORBIDDEN
    r = api_import(s, alice, [{"email": "sneaky@example.com", "role": "admin"}])
    assert r.status_code == 403, body(r)
    assert db_user(s, "zed@example.com") is not None and db_user(s, "sneaky@example.com") is None
    assert me(s, alice).json()["role"] == "user"


def test_a_seed_refresh_token_is_traded_once_for_a_gatehouse_session(legacy):
    s, ids = legacy.server, legacy.ids
    seed_refresh = seed_refresh_token(10)
    r = refresh(s, seed_refresh)
    assert r.status_code == 200, body(r)
    pair = r.json()
    assert set(pair) >= {"access_token", "refresh_token", "token_type", "expires_in"} and pair["token_type"] == "bearer"
    assert r.headers.get("Cache-Control") == "no-store"
    claims = pyjwt.decode(pair["access_token"], SECRET, algorithms=["HS256"], options={"verify_aud": False})
    assert claims["sub"] == str(ids[10]) and claims["type"] == "access" and claims.get("jti") and claims.get("iss")
    assert set(claims.get("scopes", [])) <= {"users:read", "posts:read", "posts:write"}, claims  # henry's role
    assert me(s, pair["access_token"]).json()["email"] == SEED[10]["email"]
    # The new refresh token is an ordinary one: it rotates.
    r2 = refresh(s, pair["refresh_token"])
    assert r2.status_code == 200, body(r2)
    assert me(s, r2.json()["access_token"]).json()["id"] == ids[10]
    # The seed's refresh token was spent.
    assert_refresh_refused(refresh(s, seed_refresh), "a spent seed refresh token")
    # Spending it again did not end the session it was traded for.
    assert refresh(s, r2.json()["refresh_token"]).status_code == 200


def test_a_seed_refresh_token_is_spent_once_even_under_a_race(legacy):
    s = legacy.server
    seed_refresh = seed_refresh_token(11)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: refresh(s, seed_refresh).status_code, range(8)))
    assert collections.Counter(codes) == {200: 1, 401: 7}, codes


# --- seed tokens that must not work ------------------------------------------------------------------

def test_seed_access_tokens_that_must_be_refused(legacy):
    s, url = legacy.server, legacy.url
    now = datetime.datetime.now(UTC)
    good = seed_access_token(1)
    assert me(s, good).status_code == 200  # the control: the same user's proper token works
    # A seed row added after the import, never imported.
    make_seed_database(url, [dict(id=42, email="late@seed.example.com", username="late", password="Late-42!",
                                  role="admin", is_active=True)])
    header, payload, signature = good.split(".")
    cases = {
        "expired": seed_access_token(1, now=now - datetime.timedelta(hours=2)),
        # The seed's python-jose allows no leeway either.
        "expired two seconds ago": seed_access_token(1, now=now - datetime.timedelta(minutes=30, seconds=2)),
        "signed with another key": seed_access_token(1, key="another-seed-SECRET_KEY-0123456789abcdefgh"),
        "signed with Gatehouse's SECRET_KEY": seed_access_token(1, key=SECRET),
        "alg none": unsigned_token(good, "none"),
        "alg None": unsigned_token(good, "None"),
        "alg NONE": unsigned_token(good, "NONE"),
        "HS256 header, signature stripped": f"{header}.{payload}.",
        "HS512 with the legacy key": seed_access_token(1, algorithm="HS512"),
        "HS384 with the legacy key": seed_access_token(1, algorithm="HS384"),
        "RS256": seed_access_token(1, key=rsa_pem(), algorithm="RS256"),
        "a refresh token": seed_refresh_token(1),
        "sub of no seed user": seed_access_token(999),
        "sub of a seed row added after the import": seed_access_token(42),
        "sub not a number": seed_access_token("abc"),
        "sub with a sign": seed_access_token("+1"),
        "sub empty": seed_access_token(""),
        "no type": seed_access_token(1, type=None),
        "type id_token": seed_access_token(1, type="id_token"),
        "no exp": pyjwt.encode({"sub": "1", "iat": int(now.timestamp()), "type": "access", "scopes": []},
                               SEED_SECRET_KEY, algorithm="HS256"),
        "another signature": f"{header}.{payload}.{signature[::-1]}",
    }
    wrong = []
    for what, token in cases.items():
        r = me(s, token)
        if (r.status_code, body(r)) != NOT_VALIDATED or not r.headers.get("WWW-Authenticate", "").startswith("Bearer"):
            wrong.append((what, r.status_code, body(r), r.headers.get("WWW-Authenticate")))
    assert not wrong, "\n".join(map(str, wrong))
    assert_inactive_refused(me(s, seed_access_token(5)), "sub of an inactive seed user")
    # Gatehouse's own user ids mean nothing to the seed key: sub 1 is alice or nobody, never root.
    assert me(s, seed_access_token(1)).json()["email"] == "alice@seed.example.com"


def test_seed_refresh_tokens_that_must_be_refused(legacy):
    s = legacy.server
    now = datetime.datetime.now(UTC)
    cases = {
        "an access token": seed_access_token(3),
        "expired": seed_refresh_token(3, now=now - datetime.timedelta(days=8)),
        "signed with another key": seed_refresh_token(3, key="another-seed-SECRET_KEY-0123456789abcdefgh"),
        "alg none": unsigned_token(seed_refresh_token(3), "none"),
        "HS512 with the legacy key": seed_refresh_token(3, algorithm="HS512"),
        "RS256": seed_refresh_token(3, key=rsa_pem(), algorithm="RS256"),
        "sub of no seed user": seed_refresh_token(999),
        "sub of an inactive seed user": seed_refresh_token(5),
    }
    wrong = []
    for what, token in cases.items():
        r = refresh(s, token)
        if r.status_code != 401 or body(r) not in REFRESH_REFUSALS:
            wrong.append((what, r.status_code, body(r)))
    assert not wrong, "\n".join(map(str, wrong))
    # None of them was spent by the attempts: carol's real refresh token still works once.
    assert refresh(s, seed_refresh_token(3)).status_code == 200


def test_a_password_change_in_gatehouse_ends_the_seed_tokens_issued_before_it(legacy):
    s = legacy.server
    u = SEED[8]
    earlier = datetime.datetime.now(UTC) - datetime.timedelta(seconds=60)
    old_access = seed_access_token(8, now=earlier)
    old_refresh = seed_refresh_token(8, now=earlier)
    assert me(s, old_access).status_code == 200
    token = login_ok(s, u["email"], u["password"])["access_token"]
    r = requests.post(s.url("/api/v1/auth/password"), headers=auth(token),
                      json={"current_password": u["password"], "new_password": "Erin-Gatehouse-88!"})
    assert r.status_code == 200, body(r)
    assert_not_validated(me(s, old_access), "a seed access token older than the password change")
    assert_refresh_refused(refresh(s, old_refresh), "a seed refresh token older than the password change")
    time.sleep(2)  # clearly after the change, whatever the stored time's resolution
    assert wait_accepted(s, seed_access_token(8)).status_code == 200
    login_ok(s, u["email"], "Erin-Gatehouse-88!")


def test_an_administrator_ending_every_session_ends_the_seed_tokens_too(legacy):
    """Found by an outside attack: DELETE /users/{id}/sessions ended the Gatehouse sessions, and a
    stolen seed access token kept answering, and its refresh token traded for a new session."""
    s, admin, ids = legacy.server, legacy.admin, legacy.ids
    u = SEED[8]
    earlier = datetime.datetime.now(UTC) - datetime.timedelta(seconds=60)
    old_access, old_refresh = seed_access_token(8, now=earlier), seed_refresh_token(8, now=earlier)
    assert me(s, old_access).status_code == 200
    # Nothing of the user's live in Gatehouse: the seed tokens end all the same.
    r = requests.delete(s.url(f"/api/v1/users/{ids[8]}/sessions"), headers=auth(admin))
    assert r.status_code == 204, body(r)
    assert_not_validated(me(s, old_access), "a seed access token after every session was ended")
    assert_refresh_refused(refresh(s, old_refresh), "a seed refresh token after every session was ended")
    # The owner signs in again at once (a session begun in the very second is judged by its own).
    fresh = login_ok(s, u["email"], u["password"])["access_token"]
    assert me(s, fresh).status_code == 200
    # Ending them again ends the new session's token as well.
    r = requests.delete(s.url(f"/api/v1/users/{ids[8]}/sessions"), headers=auth(admin))
    assert r.status_code == 204, body(r)
    assert_not_validated(me(s, fresh), "a Gatehouse token after every session was ended")


def test_deactivating_or_deleting_the_user_ends_their_seed_tokens(legacy):
    s, admin, ids = legacy.server, legacy.admin, legacy.ids
    frank, alice_refresh = seed_access_token(9), seed_refresh_token(1)
    assert me(s, frank).status_code == 200
    r = s.cli("user", "deactivate", "--email", SEED[9]["email"])
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 5
    while me(s, frank).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert_inactive_refused(me(s, frank), "the seed token of a deactivated user")
    assert_refresh_refused(refresh(s, seed_refresh_token(9)), "the seed refresh token of a deactivated user")
    r = requests.delete(s.url(f"/api/v1/users/{ids[1]}"), headers=auth(admin))
    assert r.status_code == 204, body(r)
    assert_not_validated(me(s, seed_access_token(1)), "the seed token of a deleted user")
    assert_refresh_refused(refresh(s, alice_refresh), "the seed refresh token of a deleted user")
    # A new Gatehouse user does not inherit the deleted one's seed id.
    assert s.register("newcomer@example.com", "newcomer").status_code == 201
    assert_not_validated(me(s, seed_access_token(1)), "seed id 1 after a new user was created")


@pytest.mark.timing
def test_seed_tokens_stop_at_LEGACY_TOKENS_UNTIL(make_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    make_seed_database(url, [SEED[1], SEED[3]])
    # Closed an hour ago.
    s = make_server(legacy_env(until=datetime.datetime.now(UTC) - datetime.timedelta(hours=1)))
    s.admin_token()
    check_imported(import_seed(s, url), [1, 3])
    login_ok(s, SEED[1]["email"], SEED[1]["password"])  # the users are there and may sign in
    time.sleep(1)
    assert_not_validated(me(s, seed_access_token(1)), "after LEGACY_TOKENS_UNTIL")
    assert_refresh_refused(refresh(s, seed_refresh_token(3)), "after LEGACY_TOKENS_UNTIL")
    s.stop()
    # Closing in a few seconds: accepted now, refused once the time has passed, without a restart.
    until = datetime.datetime.now(UTC).replace(microsecond=0) + datetime.timedelta(seconds=8)
    s.env.update(legacy_env(until=until))
    s.start()
    token = seed_access_token(1)
    r = wait_accepted(s, token, timeout=5)
    assert r.status_code == 200, body(r)
    assert datetime.datetime.now(UTC) < until, "the server took the whole window to start"
    while datetime.datetime.now(UTC) < until + datetime.timedelta(seconds=1):
        time.sleep(0.2)
    assert_not_validated(me(s, token), "the same token once LEGACY_TOKENS_UNTIL passed")
    assert_refresh_refused(refresh(s, seed_refresh_token(3)), "a refresh once LEGACY_TOKENS_UNTIL passed")


def test_no_seed_token_works_without_LEGACY_SECRET_KEY(make_server, tmp_path):
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    make_seed_database(url, [SEED[1], SEED[3]])
    s = make_server()
    s.admin_token()
    check_imported(import_seed(s, url), [1, 3])
    time.sleep(1)
    assert_not_validated(me(s, seed_access_token(1)), "LEGACY_SECRET_KEY unset")
    assert_refresh_refused(refresh(s, seed_refresh_token(3)), "LEGACY_SECRET_KEY unset")
    s.stop()
    # Even when Gatehouse's own SECRET_KEY is the seed's key, a seed token (no jti, iss, sid) is
    # not a Gatehouse token: its sub 1 is not Gatehouse's user 1 (root, an admin).
    s.env["SECRET_KEY"] = SEED_SECRET_KEY
    s.start()
    root = s.token("root@example.com", "Adm1n-Passw0rd!")
    assert me(s, root).json()["id"] == 1
    assert_not_validated(me(s, seed_access_token(1)), "a seed token under a shared SECRET_KEY")
    assert_refresh_refused(refresh(s, seed_refresh_token(1)), "a seed refresh token under a shared SECRET_KEY")


@pytest.mark.parametrize("env", [
    {"LEGACY_SECRET_KEY": SEED_SECRET_KEY},
    {"LEGACY_SECRET_KEY": SEED_SECRET_KEY, "LEGACY_TOKENS_UNTIL": "next tuesday"},
    {"LEGACY_SECRET_KEY": SEED_SECRET_KEY, "LEGACY_TOKENS_UNTIL": "2030-13-40T99:00:00Z"},
])
def test_LEGACY_SECRET_KEY_needs_a_valid_LEGACY_TOKENS_UNTIL(tmp_path, env):
    s = Server(tmp_path, env)
    s.start(wait=False)
    try:
        code = s.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        s.kill()
        pytest.fail("the server started with " + repr(env))
    s.log.close()
    assert code == 1, s.log_text()
    assert "LEGACY_TOKENS_UNTIL" in s.log_text()
    assert SEED_SECRET_KEY not in s.log_text()  # a secret is never echoed


# --- what the outside review found ------------------------------------------------------------

def test_revocation_ends_a_seed_access_token(legacy):
    """Found by an outside attack: POST /auth/revoke answered 200 for a seed access token and
    revoked nothing (only logout did); it worked on."""
    s = legacy.server
    token = seed_access_token(8)
    assert me(s, token).status_code == 200
    r = requests.post(s.url("/api/v1/auth/revoke"), data={"token": token})
    assert r.status_code == 200, r.text
    assert_not_validated(me(s, token), "a revoked seed access token")
    # Another seed token of the same user is not touched.
    assert me(s, seed_access_token(8, now=datetime.datetime.now(UTC) - datetime.timedelta(seconds=3))).status_code == 200


def test_logout_or_revocation_spends_a_seed_refresh_token(legacy):
    """A seed refresh token handed to logout or to RFC 7009 revocation can never be traded, and
    logging out with it after a trade ends the traded session."""
    s = legacy.server
    kept = seed_refresh_token(1, now=datetime.datetime.now(UTC) - datetime.timedelta(seconds=5))
    r = requests.post(s.url("/api/v1/auth/logout"), headers=auth(seed_access_token(1)),
                      json={"refresh_token": kept})
    assert r.status_code in (200, 204), (r.status_code, body(r))
    assert_refresh_refused(refresh(s, kept), "traded after logout")
    revoked = seed_refresh_token(8, now=datetime.datetime.now(UTC) - datetime.timedelta(seconds=6))
    r = requests.post(s.url("/api/v1/auth/revoke"), data={"token": revoked})
    assert r.status_code == 200, r.text
    assert_refresh_refused(refresh(s, revoked), "traded after revocation")
    # Traded first, then logged out with the seed token: the session it became ends.
    traded = seed_refresh_token(9, now=datetime.datetime.now(UTC) - datetime.timedelta(seconds=7))
    pair = refresh(s, traded).json()
    assert me(s, pair["access_token"]).status_code == 200
    r = requests.post(s.url("/api/v1/auth/logout"), headers=auth(seed_access_token(9)),
                      json={"refresh_token": traded})
    assert r.status_code in (200, 204), (r.status_code, body(r))
    assert_refresh_refused(refresh(s, pair["refresh_token"]), "the traded session after logout")


def test_a_seed_token_never_passes_step_up_nor_carries_claims_of_its_choosing(legacy):
    """auth_time and amr in a seed token (forged by whoever holds the seed's old key) and a traded
    session both ask for the password again before a step-up operation."""
    s = legacy.server
    forged = seed_access_token(1, auth_time=int(time.time()), amr=["pwd", "otp"])
    assert me(s, forged).status_code == 200
    r = requests.post(s.url("/api/v1/api-keys"), headers=auth(forged), json={"name": "k"})
    assert r.status_code in (401, 403), (r.status_code, body(r))
    pair = refresh(s, seed_refresh_token(1)).json()
    r = requests.post(s.url("/api/v1/api-keys"), headers=auth(pair["access_token"]), json={"name": "k"})
    assert r.status_code in (401, 403), (r.status_code, body(r))
