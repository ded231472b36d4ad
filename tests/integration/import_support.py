"""Shared pieces of test_import.py and test_legacy.py ("Moving in from elsewhere" in API.md):
the hash vectors, running `gatehouse user import` / `import-seed`, reading Gatehouse's own
database, the audit trail, and the FastAPI seed as the seed itself would have been deployed: a
SQLAlchemy `users` table with passlib bcrypt hashes, and tokens made with python-jose exactly as
its `create_access_token` / `create_refresh_token` make them."""
import base64
import datetime
import functools
import json
import pathlib
import re
import sqlite3
import subprocess
import time
import urllib.parse

import requests
from jose import jwt as jose_jwt
from passlib.context import CryptContext
from sqlalchemy import Boolean, Column, DateTime, Integer, String, create_engine, func
from sqlalchemy.orm import declarative_base, sessionmaker

from conftest import BIN, auth

VECTORS_PATH = pathlib.Path(__file__).resolve().parents[1] / "unit" / "password" / "vectors" / "imported_hashes.json"
REPORT = re.compile(r"import: (\d+) created, (\d+) skipped, (\d+) errors")
INCORRECT = (401, {"detail": "Incorrect email or password"})
NOT_VALIDATED = (401, {"detail": "Could not validate credentials"})
FORBIDDEN = (403, {"detail": "Insufficient permissions"})


# --- hash vectors (tests/unit/password/vectors/make_vectors.py) -----------------------------------

@functools.lru_cache(maxsize=None)
def vector_file():
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


def vector(vid):
    for v in vector_file()["vectors"]:
        if v["id"] == vid:
            return v
    raise KeyError(vid)


def one_per_format():
    """The first real hash of each format (13 formats), cheapest first where there is a choice."""
    seen = {}
    for v in vector_file()["vectors"]:
        if v["group"] == "formats" and v["expect"] and v["format"] not in seen:
            seen[v["format"]] = v
    return list(seen.values())


def hash_field(v):
    """The `password_hash` an import item carries for vector `v`: a string or Keycloak's object."""
    return v["encoded"] if "encoded" in v else dict(v["keycloak"])


def stored_form(v):
    """What Gatehouse stores for `v` before the first login."""
    return v["encoded"] if "encoded" in v else v["expect_encoded"]


# --- running the importer --------------------------------------------------------------------------

class ImportRun:
    """One run of `gatehouse user import` or `gatehouse import-seed`."""

    def __init__(self, proc):
        self.proc = proc
        self.code = proc.returncode
        self.stderr = proc.stderr
        self.results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        m = REPORT.search(proc.stderr)
        self.report = tuple(int(x) for x in m.groups()) if m else None

    def by_line(self):
        return {r["line"]: r for r in self.results}

    def __repr__(self):
        return f"exit {self.code}\nstdout: {self.proc.stdout[:3000]}\nstderr: {self.stderr[-2000:]}"


def jsonl(items):
    return "".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items)


def cli_import(server, items=None, text=None, path=None):
    """`gatehouse user import -` fed `items` (dicts or raw lines) or `text`; or `user import PATH`."""
    if path is not None:
        return ImportRun(server.cli("user", "import", str(path)))
    return ImportRun(server.cli("user", "import", "-", stdin=text if text is not None else jsonl(items)))


def run_cli(server, *args, cwd=None, stdin=None, env=None):
    """The binary with the server's environment (plus `env`), in `cwd`."""
    return subprocess.run([BIN, *args], env={**server.env, **(env or {})}, cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=300)


def import_seed(server, url, cwd=None, env=None):
    return ImportRun(run_cli(server, "import-seed", "--database-url", url, cwd=cwd, env=env))


def api_import(server, token, users, headers=None):
    h = dict(headers or {})
    if token:
        h.update(auth(token))
    return requests.post(server.url("/api/v1/users/import"), json={"users": users}, headers=h)


# --- Gatehouse's own database (SQLite) ----------------------------------------------------------

def db_path(server):
    url = server.env["DATABASE_URL"]
    assert url.startswith("sqlite:///"), url
    return pathlib.Path(url[len("sqlite:///"):])


def db_rows(server):
    """Every column of every users row, by id."""
    con = sqlite3.connect(f"file:{db_path(server)}?mode=ro", uri=True, timeout=10)
    con.row_factory = sqlite3.Row
    try:
        return {r["id"]: dict(r) for r in con.execute("SELECT * FROM users ORDER BY id")}
    finally:
        con.close()


def db_user(server, email):
    for row in db_rows(server).values():
        if row["email"].lower() == email.lower():
            return row
    return None


def stored_hash(server, email):
    row = db_user(server, email)
    return None if row is None else row["password_hash"]


def wait_for_hash(server, email, predicate, timeout=5):
    """The stored hash once `predicate` holds for it (a rehash may be written just after the
    login answers); the last value seen otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        h = stored_hash(server, email)
        if predicate(h) or time.monotonic() > deadline:
            return h
        time.sleep(0.05)


# --- audit ----------------------------------------------------------------------------------------

def audit_events(server, admin_token, event_type):
    r = requests.get(server.url("/api/v1/audit-events"), params={"type": event_type, "limit": 1000},
                     headers=auth(admin_token))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def wait_audit(server, admin_token, event_type, count=1, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        events = audit_events(server, admin_token, event_type)
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def me(server, token):
    return requests.get(server.url("/api/v1/auth/me"), headers=auth(token))


def login_ok(server, email, password):
    r = server.login(email, password)
    assert r.status_code == 200, (email, r.status_code, r.text)
    return r.json()


def body(r):
    try:
        return r.json()
    except ValueError:
        return r.text


def rfc3339_seconds(text):
    """Unix seconds of an RFC 3339 time."""
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")).timestamp())


# --- the FastAPI seed -----------------------------------------------------------------------------

SEED_SECRET_KEY = "seed-app-SECRET_KEY-from-its-.env-0123456789abcdef"  # 50 bytes, HS256
# The seed's CryptContext, at the lowest cost passlib allows so the tests stay quick.
seed_pwd_context = CryptContext(schemes=["bcrypt"], deprecated="auto", bcrypt__rounds=4)

SeedBase = declarative_base()


class SeedUser(SeedBase):
    """The seed's `app.models.user.User` (the columns its repository and Google sign-in use)."""
    __tablename__ = "users"
    id = Column(Integer, primary_key=True, index=True)
    email = Column(String(255), unique=True, index=True, nullable=False)
    username = Column(String(50), unique=True, index=True, nullable=False)
    hashed_password = Column(String(255), nullable=False)
    role = Column(String(20), nullable=False, default="user")
    is_active = Column(Boolean, nullable=False, default=True)
    oauth_provider = Column(String(50), nullable=True)
    oauth_id = Column(String(255), nullable=True)
    created_at = Column(DateTime(timezone=True), server_default=func.now(), nullable=False)
    updated_at = Column(DateTime(timezone=True), onupdate=func.now(), nullable=True)


def sqlalchemy_url(url):
    """The URL SQLAlchemy itself should open (Gatehouse is given the seed's own URL, which may
    name an async driver this machine has no module for)."""
    return url.replace("postgresql+asyncpg://", "postgresql+psycopg2://")


def make_seed_database(url, users):
    """Creates the seed's tables at `url` and inserts `users` (dicts with SeedUser's columns, and
    `password` instead of `hashed_password` when the seed should hash it)."""
    engine = create_engine(sqlalchemy_url(url))
    SeedBase.metadata.create_all(engine)
    Session = sessionmaker(bind=engine)
    with Session() as session:
        for u in users:
            fields = {k: v for k, v in u.items() if k != "password"}
            if "password" in u:
                fields["hashed_password"] = seed_pwd_context.hash(u["password"])
            session.add(SeedUser(**fields))
        session.commit()
    engine.dispose()


def seed_rows(url):
    """The seed's users table as it is now: {id: {column: value}}."""
    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as c:
            return {r._mapping["id"]: dict(r._mapping) for r in c.exec_driver_sql("SELECT * FROM users")}
    finally:
        engine.dispose()


def seed_access_token(sub, key=SEED_SECRET_KEY, scopes=None, expires_delta=None, now=None, algorithm="HS256",
                      **extra):
    """The seed's create_access_token: sub, exp, iat, type "access", scopes; python-jose, HS256."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    expire = now + (expires_delta or datetime.timedelta(minutes=30))
    payload = {"sub": str(sub), "exp": expire, "iat": now, "type": "access", "scopes": scopes or []}
    payload.update(extra)  # a claim given as None is left out
    return jose_jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm=algorithm)


def seed_refresh_token(sub, key=SEED_SECRET_KEY, expires_delta=None, now=None, algorithm="HS256", **extra):
    """The seed's create_refresh_token: sub, exp, iat, type "refresh"."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    expire = now + (expires_delta or datetime.timedelta(days=7))
    payload = {"sub": str(sub), "exp": expire, "iat": now, "type": "refresh"}
    payload.update(extra)  # a claim given as None is left out
    return jose_jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm=algorithm)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unsigned_token(token, alg="none"):
    """`token`'s claims under a header saying alg `alg`, with an empty signature."""
    payload = token.split(".")[1]
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    return f"{header}.{payload}."


def rsa_pem():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def rfc3339(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pg_url_with(url, scheme=None, password=None):
    """`url` with another scheme (postgresql+asyncpg) and/or a password in its userinfo."""
    u = urllib.parse.urlsplit(url)
    netloc = u.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':')[0]}:{password}@{host}"
    return urllib.parse.urlunsplit((scheme or u.scheme, netloc, u.path, u.query, u.fragment))
