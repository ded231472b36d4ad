"""The shared key ring on one node (SQLite): generated keys live in the database sealed under a
key-encryption key (KEK), never as plaintext files; `gatehouse keys rotate` applies without a
restart; the keys of the old file layout are imported once. Several nodes: test_scaleout.py."""
import base64
import binascii
import datetime
import json
import os
import re
import secrets
import sqlite3
import stat
import subprocess
import time
import types

import jwt
import pytest
import requests

from conftest import ADMIN_PASSWORD, BIN, KEK, SECRET, Server, auth

# A login's response arrives a little after the token was signed: the time allowed on top of the
# spec's "within a second" for the request that observes it.
SLACK = 0.35
KEY_FILES = ("secret_key", "secret_key.kid", "signing_key.pem", "mfa_secret_key", "retired")
ROTATED = re.compile(r"^next signing key ([^\s:]+): verifies now, signs from (\S+) \(in (\d+) s\); "
                     r"every node follows without a restart$", re.M)
FIRST = re.compile(r"^first signing key ([^\s:]+): signs now \(there was none to rotate\)$", re.M)
STATE_WORDS = {"signing": ["since"], "next": ["signs", "from"], "retired": ["verifies", "until"]}


# --- helpers (test_scaleout.py uses them too) ----------------------------------------------------

def rfc3339(text):
    """Seconds since the epoch of an RFC 3339 UTC time."""
    t = text.strip()
    if t[-1:] in ("Z", "z"):
        t = t[:-1] + "+00:00"
    when = datetime.datetime.fromisoformat(t.replace("t", "T"))
    assert when.utcoffset() == datetime.timedelta(0), f"not UTC: {text}"
    return when.timestamp()


def kid_of(token):
    return jwt.get_unverified_header(token)["kid"]


def jwks(s):
    r = requests.get(s.url("/.well-known/jwks.json"))
    assert r.status_code == 200, r.text
    return r.json()["keys"]


def jwks_kids(s):
    return {k["kid"] for k in jwks(s)}


def verify_with_jwks(token, keys, alg):
    """The token's claims, its signature checked by PyJWT with the published key of its kid."""
    key = next(k for k in keys if k["kid"] == kid_of(token))
    assert key["alg"] == alg and "d" not in key, key
    return jwt.decode(token, jwt.PyJWK(key).key, algorithms=[alg], options={"verify_aud": False})


def accepted(s, token):
    r = requests.get(s.url("/api/v1/auth/me"), headers=auth(token))
    assert r.status_code in (200, 401), (r.status_code, r.text)
    return r.status_code == 200


def rotate(s, *args):
    """`keys rotate` that succeeds with a next key: its kid, signs-from time (epoch seconds) and
    announced delay, with the wall-clock times around the command."""
    started = time.time()
    r = s.cli("keys", "rotate", *args)
    done = time.time()
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    m = ROTATED.search(r.stdout)
    assert m, r.stdout
    signs_from = rfc3339(m.group(2))
    return types.SimpleNamespace(kid=m.group(1), signs_from=signs_from, signs_from_text=m.group(2),
                                 seconds=int(m.group(3)), started=started, done=done, stdout=r.stdout)


def check_delay(rot, after):
    """The next key signs `after` seconds from the command (whole seconds either way)."""
    assert rot.seconds in (after - 1, after), rot.stdout
    assert rot.started + after - 1.05 <= rot.signs_from <= rot.done + after + 1.05, \
        (rot.started, rot.done, rot.signs_from, rot.stdout)


def keys_list(s):
    """`keys list` as rows of whitespace-separated fields: kid, alg, state, then its time."""
    r = s.cli("keys", "list")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    rows = [line.split() for line in r.stdout.splitlines() if line.strip()]
    for row in rows:
        assert len(row) >= 4 and row[2] in STATE_WORDS, r.stdout
    return rows


def states(rows):
    return [tuple(row[:3]) for row in rows]


def row_time(row):
    words = STATE_WORDS[row[2]]
    assert row[3:3 + len(words)] == words, row
    return rfc3339(" ".join(row[3 + len(words):]))


def wait_for(predicate, deadline):
    """Polls until `predicate()` holds (the wall-clock time then) or `deadline` passes (None)."""
    while True:
        if predicate():
            return time.time()
        if time.time() >= deadline:
            return None
        time.sleep(0.02)


def watch_switch(nodes, username, old_kid, new_kid, signs_from):
    """Logs `username` in on every node, over and over, until each signs with `new_kid`. Checks
    that no node signs with it before `signs_from`, that each does within a second of it, and
    that none goes back to `old_kid` afterwards. The first new-kid token of each node."""
    deadline = signs_from + 1.0 + SLACK
    first = {}
    while len(first) < len(nodes) and time.time() < deadline:
        for i, n in enumerate(nodes):
            token = n.token(username)
            got = time.time()
            kid = kid_of(token)
            assert kid in (old_kid, new_kid), kid
            if got < signs_from:
                assert kid == old_kid, f"node {i} signed with the next key {signs_from - got:.2f} s early"
            if i in first:
                assert kid == new_kid, f"node {i} went back to the old key"
            elif kid == new_kid:
                first[i] = (got, token)
        time.sleep(0.02)
    late = [i for i in range(len(nodes)) if i not in first]
    assert not late, f"nodes {late} still signed with {old_kid} {time.time() - signs_from:.2f} s after its successor's time"
    for i, (got, _) in first.items():
        assert got - signs_from <= 1.0 + SLACK, (i, got - signs_from)
    return [first[i][1] for i in range(len(nodes))]


def key_ring_values(db_path):
    """Every non-null value of every row of the SQLite key_ring table."""
    conn = sqlite3.connect(db_path)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(key_ring)")]
        assert columns, "no key_ring table"
        rows = conn.execute("SELECT * FROM key_ring").fetchall()
    finally:
        conn.close()
    return columns, rows


def _b64(text, alphabet):
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        return None


def readings(value):
    """The ways a stored value could hold a key in the clear: as is, its text decoded as
    base64url, base64 or hex, and each string inside it when it is JSON."""
    out = []
    if isinstance(value, (int, float)) or value is None:
        return out
    raw = value if isinstance(value, bytes) else value.encode()
    out.append(raw)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return out
    stripped = text.strip()
    for decoded in (_b64(stripped, b"-_"), _b64(stripped, b"+/")):
        if decoded:
            out.append(decoded)
    try:
        out.append(bytes.fromhex(stripped))
    except ValueError:
        pass
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, (dict, list)):
        stack = [doc]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                assert "d" not in item, f"a private JWK in key_ring: {sorted(item)}"
                stack += list(item.values())
            elif isinstance(item, list):
                stack += item
            elif isinstance(item, str) and item != text:
                out += readings(item)
    return [r for r in out if r]


def assert_no_key_files(data):
    present = [name for name in KEY_FILES if (data / name).exists()]
    assert not present, f"key files written in {data}: {present}"


def new_server(tmp_path, env):
    """A server this test starts itself (one expected to refuse to start)."""
    return Server(tmp_path, env)


def refused(s):
    """Starts `s`, which must exit 1; its log. One still running after 30 s is killed (a start
    that hangs fails the test, and leaves nothing behind)."""
    s.start(wait=False)
    try:
        code = s.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        s.proc.kill()
        s.proc.wait()
        code = "still running after 30 s"
    s.log.close()
    text = s.log_text()
    assert code == 1, (code, text[-2000:])
    return text


# --- rotation without a restart ------------------------------------------------------------------

@pytest.mark.timing
@pytest.mark.parametrize("alg", ["HS256", "ES256"])
def test_rotation_applies_without_a_restart(make_server, alg):
    s = make_server({"ALGORITHM": alg, "SECRET_KEY": ""})
    pid = s.proc.pid
    s.register("rot@example.com", "rot")
    old = s.token("rot")
    old_kid = kid_of(old)
    if alg == "HS256":
        assert old_kid == "hs1"
    rot = rotate(s, "--after", "4")
    check_delay(rot, 4)
    assert rot.kid != old_kid
    if alg == "HS256":
        assert rot.kid == "hs2"
    # The window: the next key verifies, the current one still signs.
    mid = s.token("rot")
    assert time.time() < rot.signs_from, "the login took the whole window"
    assert kid_of(mid) == old_kid
    if alg == "ES256":
        published = wait_for(lambda: rot.kid in jwks_kids(s), rot.done + 1.0)
        assert published is not None, "the next key was not in the JWKS a second after the command"
        keys = jwks(s)
        assert len(keys) == 3 and {old_kid, rot.kid} <= {k["kid"] for k in keys}, keys
        assert next(k for k in keys if k["kid"] == rot.kid)["alg"] == "ES256"
    assert accepted(s, old) and accepted(s, mid)
    # Its time: every new login signs with it, within a second.
    new = watch_switch([s], "rot", old_kid, rot.kid, rot.signs_from)[0]
    for token in (old, mid, new):
        assert accepted(s, token)
    if alg == "ES256":
        keys = jwks(s)
        assert {old_kid, rot.kid} <= {k["kid"] for k in keys}  # the old key still verifies
        for token in (old, mid, new):
            assert verify_with_jwks(token, keys, alg)["type"] == "access"
    assert s.proc.poll() is None and s.proc.pid == pid  # the same process all along


@pytest.mark.timing
def test_keys_list_follows_a_rotation_and_a_second_rotation_waits(make_server):
    s = make_server({"SECRET_KEY": ""})
    rows = keys_list(s)
    assert states(rows) == [("hs1", "HS256", "signing")], rows
    assert row_time(rows[0]) <= time.time() + 1
    # Out of range: refused, nothing made.
    for bad in ("1", "0", "2592001", "-3", "soon"):
        r = s.cli("keys", "rotate", "--after", bad)
        assert r.returncode != 0, (bad, r.stdout)
        assert "next signing key" not in r.stdout, bad
        if bad.isdigit():
            assert "--after" in r.stderr, (bad, r.stderr)
    assert states(keys_list(s)) == [("hs1", "HS256", "signing")]
    rot = rotate(s, "--after", "6")
    check_delay(rot, 6)
    assert rot.kid == "hs2"
    # A key that never signed is never replaced.
    again = s.cli("keys", "rotate", "--after", "2")
    assert again.returncode == 1, (again.stdout, again.stderr)
    m = re.search(r"gatehouse: a rotation is under way: (\S+) signs from (\S+)", again.stderr)
    assert m and m.group(1) == "hs2", again.stderr
    assert abs(rfc3339(m.group(2)) - rot.signs_from) < 1
    assert "next signing key" not in again.stdout
    rows = keys_list(s)
    assert states(rows) == [("hs2", "HS256", "next"), ("hs1", "HS256", "signing")], rows
    assert abs(row_time(rows[0]) - rot.signs_from) < 1
    # Its time passes: it signs, the old one is retired but still verifies for a while.
    time.sleep(max(0.0, rot.signs_from - time.time()) + 0.05)
    rows = keys_list(s)
    assert states(rows) == [("hs2", "HS256", "signing"), ("hs1", "HS256", "retired")], rows
    assert abs(row_time(rows[0]) - rot.signs_from) < 1
    assert row_time(rows[1]) > time.time()
    # Now the next rotation goes ahead.
    third = rotate(s, "--after", "2")
    assert third.kid == "hs3"
    rows = keys_list(s)
    assert states(rows) == [("hs3", "HS256", "next"), ("hs2", "HS256", "signing"),
                            ("hs1", "HS256", "retired")], rows


def test_a_compromised_rotation_signs_at_once_and_voids_every_earlier_key(make_server):
    """Found by two outside attacks: a leaked signing key could not be taken out of use at once,
    and while a rotation waited (up to 30 days) no other could begin. `keys rotate --compromised`
    makes a key that signs now and deletes every other one, a waiting next key among them: every
    token they signed, or anyone could forge with them, is refused on every node."""
    s = make_server({"SECRET_KEY": ""})
    s.admin_token()
    pair = s.login("root", ADMIN_PASSWORD).json()
    old_access, old_refresh = pair["access_token"], pair["refresh_token"]
    assert accepted(s, old_access) and kid_of(old_access) == "hs1"
    leaked = _unseal_token_key(s.tmp / "data" / "gatehouse.db", "hs1")
    assert accepted(s, forge(leaked, old_access)), "the forging is not as a thief's"
    waiting = rotate(s, "--after", "3600")
    assert waiting.kid == "hs2"
    r = s.cli("keys", "rotate", "--compromised", "--after", "5")
    assert r.returncode != 0 and "excludes" in r.stderr, (r.stdout, r.stderr)
    r = s.cli("keys", "rotate", "--compromised")
    assert r.returncode == 0, (r.stdout, r.stderr)
    m = re.search(r"signing key (\S+): signs now; every earlier key \(hs1 hs2\) verifies nothing", r.stdout)
    assert m and m.group(1) == "hs3", r.stdout
    assert states(keys_list(s)) == [("hs3", "HS256", "signing")]
    assert wait_for(lambda: not accepted(s, old_access), time.time() + 3), "the old key still verifies"
    r = requests.post(s.url("/api/v1/auth/refresh"), json={"refresh_token": old_refresh})
    assert r.status_code == 401, r.text
    # A token anyone forges with the leaked key (shown to work before) is refused now.
    assert not accepted(s, forge(leaked, old_access))
    fresh = s.token("root", ADMIN_PASSWORD)
    assert kid_of(fresh) == "hs3" and accepted(s, fresh)
    events = requests.get(s.url("/api/v1/audit-events"), params={"type": "keys.rotated"},
                          headers=auth(fresh)).json()["items"]
    assert events[0]["detail"]["compromised"] is True and events[0]["detail"]["voided"] == ["hs1", "hs2"], events


def _unseal_token_key(db_path, kid):
    """The token key `kid` out of the SQLite ring, opened with the KEK as the ring seals it (see
    _reseal_master): what someone holding a copy of the database and the KEK has."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    key = HKDF(hashes.SHA256(), 32, salt=None, info=b"gatehouse key ring sealing v1").derive(KEK.encode())
    conn = sqlite3.connect(db_path)
    try:
        alg, generation, signs_from, sealed = conn.execute(
            "SELECT alg, generation, signs_from, sealed FROM key_ring WHERE purpose = 'token' AND kid = ?",
            (kid,)).fetchone()
    finally:
        conn.close()
    aad = b"\0".join([b"gatehouse key ring v1", b"token", alg.encode(), str(generation).encode(),
                      kid.encode(), str(signs_from).encode()])
    raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    return AESGCM(key).decrypt(raw[:12], raw[12:], aad)


def forge(secret, like):
    """A token like `like`, issued now, signed with `secret` under `like`'s kid."""
    claims = jwt.decode(like, options={"verify_signature": False})
    now = int(time.time())
    claims.update(iat=now, exp=now + 300, jti=secrets.token_hex(8))
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid_of(like)})


def test_keys_list_names_secret_key_when_it_is_set(make_server):
    s = make_server()  # SECRET_KEY set
    r = s.cli("keys", "list")
    assert r.returncode == 0, r.stderr
    assert "SECRET_KEY" in r.stdout
    assert SECRET not in r.stdout + r.stderr


# --- the first key -------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["HS256", "ES256"])
def test_first_rotate_on_an_empty_ring_makes_the_one_signing_key(make_server, tmp_path, alg):
    s = make_server({"ALGORITHM": alg, "SECRET_KEY": "", "KEY_ENCRYPTION_KEY": ""}, start=False)
    migrated = s.cli("migrate")
    assert migrated.returncode == 0, migrated.stderr
    r = s.cli("keys", "rotate")
    assert r.returncode == 0, (r.stdout, r.stderr)
    m = FIRST.search(r.stdout)
    assert m, r.stdout
    kid = m.group(1)
    assert "next signing key" not in r.stdout
    if alg == "HS256":
        assert kid == "hs1"
    rows = keys_list(s)
    assert states(rows) == [(kid, alg, "signing")], rows
    data = tmp_path / "data"
    assert_no_key_files(data)
    assert stat.S_IMODE((data / "key_encryption_key").stat().st_mode) == 0o600
    # The server starts with that key and no other.
    s.start()
    s.register("first@example.com", "first")
    token = s.token("first")
    assert kid_of(token) == kid
    assert accepted(s, token)
    keys = jwks(s)
    if alg == "ES256":
        assert len(keys) == 2, keys
        assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"], keys
        assert next(k for k in keys if k["alg"] == "ES256")["kid"] == kid
        assert verify_with_jwks(token, keys, alg)["type"] == "access"
    else:
        assert [k["alg"] for k in keys] == ["RS256"], keys  # an HMAC key is never published
    assert states(keys_list(s)) == [(kid, alg, "signing")]
    # The default delay: 10 s for HS*, 305 s for asymmetric keys (the JWKS is cached 300 s).
    rot = rotate(s)
    check_delay(rot, 10 if alg == "HS256" else 305)
    assert states(keys_list(s)) == [(rot.kid, alg, "next"), (kid, alg, "signing")]


# --- nothing in the clear ------------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["HS256", "ES256"])
def test_no_key_files_are_written_and_the_ring_holds_no_plaintext(make_server, tmp_path, alg):
    s = make_server({"ALGORITHM": alg, "SECRET_KEY": "", "KEY_ENCRYPTION_KEY": ""})  # the generated one
    s.register("plain@example.com", "plain")
    token = s.token("plain")
    rotate(s, "--after", "2")  # a next key too (the old layout wrote retired/ here)
    data = tmp_path / "data"
    assert_no_key_files(data)
    kek_path = data / "key_encryption_key"
    assert stat.S_IMODE(kek_path.stat().st_mode) == 0o600
    assert len(kek_path.read_bytes()) >= 32
    kek = kek_path.read_bytes().rstrip(b"\n")
    assert kek.decode(errors="replace") not in s.log_text()
    columns, rows = key_ring_values(data / "gatehouse.db")
    assert len(rows) >= 3, (columns, len(rows))  # the signing key, the next one, the master secret
    values = [v for row in rows for v in row]
    assert not any(kek in r for v in values for r in readings(v)), "the KEK is stored in the database"
    if alg == "ES256":
        from cryptography.hazmat.primitives import serialization

        for v in values:
            for r in readings(v):
                assert b"BEGIN" not in r and b"PRIVATE" not in r, "a PEM key in key_ring"
                try:
                    serialization.load_der_private_key(r, password=None)
                except Exception:  # noqa: BLE001 - anything but a key that loads
                    continue
                raise AssertionError("a DER private key in the clear in key_ring")
    else:
        checked = 0
        for v in values:
            for r in readings(v):
                checked += 1
                try:
                    jwt.PyJWS().decode(token, key=r, algorithms=["HS256"])
                except jwt.PyJWTError:
                    continue
                raise AssertionError(f"the signing secret is in key_ring in the clear ({columns})")
        assert checked >= len(rows)


# --- moving in from the file layout --------------------------------------------------------------

def test_keys_in_files_are_imported_once_and_the_ring_keeps_them(make_server, tmp_path):
    """An old node's data directory: secret_key (kid hs2), retired/hs1.secret, mfa_secret_key.
    Tokens and a second factor made under those keys keep working after the import, and after the
    files are deleted."""
    from test_mfa import challenge, enrol, verify

    hs1, hs2, master = (secrets.token_urlsafe(48) for _ in range(3))  # 64 url-safe characters
    # Before: the secrets from the settings, as the old layout's files will hold them.
    s = make_server({"SECRET_KEY": hs1, "MFA_SECRET_KEY": master, "MFA_RATE_LIMIT": "100000/minute"})
    s.register("old@example.com", "oldie")
    before = s.token("oldie")
    assert kid_of(before) == "hs1"
    jwt.decode(before, hs1, algorithms=["HS256"])
    e = enrol(s, "upmfa")  # a TOTP secret sealed under the master secret
    s.stop()
    data = tmp_path / "data"
    # A database as a version without the ring left it: no keys in it.
    conn = sqlite3.connect(data / "gatehouse.db")
    conn.execute("DELETE FROM key_ring")
    conn.commit()
    conn.close()
    (data / "retired").mkdir(exist_ok=True)
    for name, content in (("secret_key", hs2), ("secret_key.kid", "hs2"), ("retired/hs1.secret", hs1),
                          ("mfa_secret_key", master)):
        (data / name).write_text(content)
        (data / name).chmod(0o600)
    s.env["SECRET_KEY"] = ""
    del s.env["MFA_SECRET_KEY"]
    s.start()
    # The current secret signs (kid hs2), the retired one verifies.
    after = s.token("oldie")
    assert kid_of(after) == "hs2"
    claims = jwt.decode(after, hs2, algorithms=["HS256"])
    assert accepted(s, before) and accepted(s, after)
    forged = dict(claims, jti=secrets.token_urlsafe(16))
    assert accepted(s, jwt.encode(forged, hs1, algorithm="HS256", headers={"kid": "hs1"}))
    # An outside attack: a retired key signed tokens a year long that were taken. It verifies only
    # tokens living no longer than this server issues (and issued before it retired, within a
    # minute: unit AuthRules.ARetiredKeyVerifiesOnlyTokensItCouldHaveSignedBeforeItsRetirement).
    year = dict(forged, exp=claims["iat"] + 365 * 86400)
    assert not accepted(s, jwt.encode(year, hs1, algorithm="HS256", headers={"kid": "hs1"}))
    assert accepted(s, jwt.encode(year, hs2, algorithm="HS256", headers={"kid": "hs2"}))
    for secret, kid in ((secrets.token_urlsafe(48), "hs1"), (hs2, "hs1"), (hs1, "hs2"), (hs1, "hs9")):
        assert not accepted(s, jwt.encode(forged, secret, algorithm="HS256", headers={"kid": kid})), kid
    rows = keys_list(s)
    assert states(rows)[:2] == [("hs2", "HS256", "signing"), ("hs1", "HS256", "retired")], rows
    # The master secret: the second factor opens, the provider's stored key too.
    code = e.totp.at((e.step + 1) * e.totp.interval)  # the step after the confirmation's
    r = verify(s, challenge(s, "upmfa"), code)
    assert r.status_code == 200, r.text
    assert requests.get(s.url("/.well-known/openid-configuration")).status_code == 200
    # The files are left in place (and no longer read).
    for name in ("secret_key", "secret_key.kid", "retired/hs1.secret", "mfa_secret_key"):
        assert (data / name).exists(), name
    log = s.log_text()
    for secret in (hs1, hs2, master):
        assert secret not in log
    # Deleted: the ring holds everything.
    s.stop()
    for name in ("secret_key", "secret_key.kid", "retired/hs1.secret", "mfa_secret_key"):
        (data / name).unlink()
    (data / "retired").rmdir()
    s.start()
    assert accepted(s, before) and accepted(s, after)
    latest = s.token("oldie")
    assert kid_of(latest) == "hs2"
    jwt.decode(latest, hs2, algorithms=["HS256"])
    r = verify(s, challenge(s, "upmfa"), e.recovery_codes[0])  # keyed under the master secret
    assert r.status_code == 200, r.text
    assert requests.get(s.url("/.well-known/openid-configuration")).status_code == 200
    assert_no_key_files(data)
    # The imported generation goes on.
    assert rotate(s, "--after", "2").kid == "hs3"


# --- the key-encryption key ----------------------------------------------------------------------

def test_a_short_key_encryption_key_is_refused_and_never_echoed(make_server, tmp_path):
    short = "zq-short-kek-0123456789abcdefghij"[:31]
    assert len(short.encode()) == 31
    log = refused(new_server(tmp_path, {"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": short}))
    assert "KEY_ENCRYPTION_KEY" in log
    assert "zq-short" not in log
    r = Server(tmp_path, {"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": short}).cli("keys", "list")
    assert r.returncode == 1 and "KEY_ENCRYPTION_KEY" in r.stderr
    assert "zq-short" not in r.stdout + r.stderr
    # 32 bytes are enough; `config` does not show it either.
    enough = "zq-kek-of-32-bytes-0123456789abc"
    assert len(enough.encode()) == 32
    s = make_server({"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": enough})
    s.register("kek@example.com", "kek")
    assert accepted(s, s.token("kek"))
    shown = s.cli("config")
    assert shown.returncode == 0, shown.stderr
    assert enough not in shown.stdout + shown.stderr + s.log_text()
    assert not (tmp_path / "data" / "key_encryption_key").exists()


@pytest.mark.parametrize("kind", ["empty", "short", "zeroed", "folder", "fifo", "dangling"])
def test_an_old_master_secret_file_that_holds_no_secret_is_refused(make_server, tmp_path, kind):
    """An empty, short or zeroed mfa_secret_key, or anything but a file in its place (a folder a
    volume mount made, a FIFO, a link to nothing), was stored as the master secret on a first
    start, or hung it: every key derived from it (the pages' cookies and CSRF tokens, emailed
    links, sealed second factors) was anyone's, for good."""
    data = tmp_path / "data"
    data.mkdir()
    path = data / "mfa_secret_key"
    short = "zq-old-master-0123456789abcdefg"
    assert len(short) == 31
    if kind == "folder":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dangling":
        path.symlink_to(tmp_path / "run" / "secrets" / "missing")
    else:
        path.write_bytes({"empty": b"", "short": short.encode(), "zeroed": bytes(64)}[kind])
    expected = {"empty": f"{path} holds 0 bytes; a master secret to import needs at least 32",
                "short": f"{path} holds 31 bytes; a master secret to import needs at least 32",
                "zeroed": f"{path} holds 64 bytes of only 1 distinct values (zeroed by a crash",
                "folder": f"cannot read {path}: not a regular file",
                "fifo": f"cannot read {path}: not a regular file",
                "dangling": f"cannot read {path}: no such file"}[kind]
    log = refused(new_server(tmp_path, {}))
    assert expected in log, log[-2000:]
    assert short not in log
    # `config --check` says so before a start would; the CLI's way to the secret (client secrets
    # are keyed under it) refuses alike.
    r = Server(tmp_path, {}).cli("config", "--check")
    assert r.returncode == 1 and expected in r.stderr, r.stderr
    assert Server(tmp_path, {}).cli("migrate").returncode == 0
    r = Server(tmp_path, {}).cli("client", "create", "--name", "x", "--grant", "client_credentials")
    assert r.returncode == 1 and expected in r.stderr, r.stderr
    columns, rows = key_ring_values(data / "gatehouse.db")
    purposes = [row[columns.index("purpose")] for row in rows]
    assert "master" not in purposes, "nothing was stored"
    # Without the file a secret is generated, and it is a secret.
    if kind == "folder":
        path.rmdir()
    else:
        path.unlink()
    s = make_server()
    s.register("master@example.com", "master")
    columns, rows = key_ring_values(data / "gatehouse.db")
    purposes = [row[columns.index("purpose")] for row in rows]
    assert purposes.count("master") == 1
    # Once one is stored, a file left beside it (even a folder) is only compared: the node starts
    # and names it.
    s.stop()
    path.mkdir()
    s = make_server()
    assert f"{path} is not the master secret in the database" in s.log_text()


def _reseal_master(db_path, secret):
    """Replaces the stored master secret with `secret`, sealed as the ring seals (AES-256-GCM
    under HKDF-SHA256(KEK, "gatehouse key ring sealing v1"), the row's fields as associated data),
    as an earlier version that stored a short mfa_secret_key left it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    key = HKDF(hashes.SHA256(), 32, salt=None, info=b"gatehouse key ring sealing v1").derive(KEK.encode())
    conn = sqlite3.connect(db_path)
    try:
        alg, generation, kid, signs_from = conn.execute(
            "SELECT alg, generation, kid, signs_from FROM key_ring WHERE purpose = 'master'").fetchone()
        aad = b"\0".join([b"gatehouse key ring v1", b"master", alg.encode(), str(generation).encode(),
                          kid.encode(), str(signs_from).encode()])
        nonce = secrets.token_bytes(12)
        sealed = base64.urlsafe_b64encode(nonce + AESGCM(key).encrypt(nonce, secret, aad)).rstrip(b"=")
        conn.execute("UPDATE key_ring SET sealed = ? WHERE purpose = 'master'", (sealed.decode(),))
        conn.commit()
    finally:
        conn.close()


def _reseal_ring(db_path, old_kek, new_kek):
    """Seals every stored key again under `new_kek`, as an earlier version that took any
    KEY_ENCRYPTION_KEY of 32 bytes left them."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    def aead(kek):
        return AESGCM(HKDF(hashes.SHA256(), 32, salt=None, info=b"gatehouse key ring sealing v1").derive(kek))

    old, new = aead(old_kek.encode()), aead(new_kek.encode())
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute("SELECT purpose, alg, generation, kid, signs_from, sealed FROM key_ring").fetchall()
        assert rows
        for purpose, alg, generation, kid, signs_from, sealed in rows:
            aad = b"\0".join([b"gatehouse key ring v1", purpose.encode(), alg.encode(), str(generation).encode(),
                              kid.encode(), str(signs_from).encode()])
            raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
            secret = old.decrypt(raw[:12], raw[12:], aad)
            nonce = secrets.token_bytes(12)
            resealed = base64.urlsafe_b64encode(nonce + new.encrypt(nonce, secret, aad)).rstrip(b"=").decode()
            conn.execute("UPDATE key_ring SET sealed = ? WHERE purpose = ? AND alg = ? AND generation = ?",
                         (resealed, purpose, alg, generation))
        conn.commit()
    finally:
        conn.close()


def test_a_key_encryption_key_that_is_no_secret_seals_nothing_new(make_server, tmp_path):
    """A KEY_ENCRYPTION_KEY copied from the docs' placeholder, or of one character: a first start
    refuses it and seals nothing, and `config --check` says so. A database whose keys an earlier
    version sealed under such a key (it cannot be changed in place) is not locked out: it
    starts, and every start and `config --check` name the key as no secret."""
    placeholder = "CHANGE-ME-the-same-on-every-node-at-least-32-bytes"
    data = tmp_path / "data"
    # Never read where SECRET_KEY signs and MFA_SECRET_KEY is set: not judged there either.
    unused = {"MFA_SECRET_KEY": secrets.token_urlsafe(48), "KEY_ENCRYPTION_KEY": placeholder}
    r = Server(tmp_path, unused).cli("config", "--check")
    assert r.returncode == 0 and "KEY_ENCRYPTION_KEY" not in r.stdout + r.stderr, r.stdout + r.stderr
    for weak, why in ((placeholder, "is an example published in documentation"),
                      ("k" * 40, "holds 40 bytes of only 1 distinct values")):
        env = {"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": weak}
        expected = (f"KEY_ENCRYPTION_KEY is not a secret: it {why}", "; nothing is sealed under it yet")
        r = Server(tmp_path, env).cli("config", "--check")
        assert r.returncode == 1 and all(e in r.stderr for e in expected), r.stdout + r.stderr
        log = refused(new_server(tmp_path, env))
        assert all(e in log for e in expected) and weak not in log, log[-2000:]
        if (data / "gatehouse.db").exists():
            assert key_ring_values(data / "gatehouse.db")[1] == []
    # An earlier version sealed the keys under the placeholder.
    s = make_server({"SECRET_KEY": ""})
    s.register("sealed@example.com", "sealed")
    token = s.token("sealed")
    s.stop()
    _reseal_ring(data / "gatehouse.db", KEK, placeholder)
    s.env["KEY_ENCRYPTION_KEY"] = placeholder
    warning = ("KEY_ENCRYPTION_KEY is not a secret: it is an example published in documentation, and the keys in "
               "the database are sealed under it: anyone with a copy of the database can open them")
    r = s.cli("config", "--check")
    assert r.returncode == 0 and f"gatehouse: warning: {warning}" in r.stdout, r.stdout + r.stderr
    s.start()
    assert accepted(s, token)
    assert warning in s.log_text()
    assert placeholder not in s.log_text()


def test_a_generated_key_encryption_key_zeroed_by_a_crash_asks_for_the_backup(make_server, tmp_path):
    """<data dir>/key_encryption_key is made at random: one that is no secret was zeroed or written
    over, and the way back is a backup, which the refusal says (not "set a random one")."""
    s = make_server({"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": ""})
    s.stop()
    path = tmp_path / "data" / "key_encryption_key"
    assert path.exists()
    path.write_bytes(bytes(64))
    log = refused(new_server(tmp_path, {"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": ""}))
    assert f"{path} holds 64 bytes of only 1 distinct values" in log, log[-2000:]
    assert "restore it from a backup" in log
    r = Server(tmp_path, {"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": ""}).cli("config", "--check")
    assert r.returncode == 1 and "restore it from a backup" in r.stderr, r.stdout + r.stderr


def test_a_second_name_of_the_key_file_left_by_a_crash_is_removed(make_server, tmp_path):
    """The first start links its temporary file in place as key_encryption_key, then removes the
    temporary name. A crash between the two leaves that name, a second copy of the secret, and
    nothing writes the key file again to sweep it: the next start removes it (once it is older
    than a live write could be), keeps the key, and leaves anything else alone."""
    s = make_server({"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": ""})
    s.stop()
    data = tmp_path / "data"
    key = data / "key_encryption_key"
    secret = key.read_bytes()
    left = data / ".key_encryption_key.gatehouse-tmp.Ab3xYz"
    os.link(key, left)
    old = time.time() - 3600
    os.utime(key, (old, old))  # the two names share the inode, and so its times
    backup = data / ".key_encryption_key.backup"  # an operator's, not a temporary's name
    backup.write_bytes(secret)
    os.utime(backup, (old, old))
    s = make_server({"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": ""})
    assert s.register("after@example.com", "after").status_code == 201
    assert not left.exists()
    assert key.read_bytes() == secret and os.stat(key).st_nlink == 1
    assert backup.read_bytes() == secret


def test_a_short_master_secret_an_earlier_version_stored_is_refused(make_server, tmp_path):
    """Earlier versions stored an empty mfa_secret_key as the master secret: a node on such a
    database refuses to start (and the CLI to key client secrets) until MFA_SECRET_KEY is set."""
    s = make_server()
    s.stop()
    db = tmp_path / "data" / "gatehouse.db"
    # The forged row opens: a secret of 32 bytes sealed the same way is taken.
    _reseal_master(db, b"0123456789abcdefghijklmnopqrstuv")
    s = make_server()
    s.stop()
    _reseal_master(db, bytes(64))  # a file a crash had zeroed
    assert "the master secret in the database holds 64 bytes of only 1 distinct values" in refused(
        new_server(tmp_path, {}))
    _reseal_master(db, b"")
    log = refused(new_server(tmp_path, {}))
    assert "the master secret in the database holds 0 bytes" in log
    assert "Set MFA_SECRET_KEY to a new secret of at least 32 bytes on every node" in log
    assert Server(tmp_path, {}).cli("migrate").returncode == 0
    r = Server(tmp_path, {}).cli("client", "create", "--name", "x", "--grant", "client_credentials")
    assert r.returncode == 1 and "the master secret in the database holds 0 bytes" in r.stderr
    # MFA_SECRET_KEY wins over the database's, as documented.
    s = make_server({"MFA_SECRET_KEY": secrets.token_urlsafe(48)})
    assert s.register("fresh@example.com", "fresh").status_code == 201


def test_no_master_secret_is_made_over_data_an_earlier_one_keyed(make_server, tmp_path):
    """Found by an outside attack on upgrades (stop 60): a start without the earlier master secret
    (its mfa_secret_key file lost with a partial restore, or MFA_SECRET_KEY left out of a new
    gatehouse.conf) made a fresh one silently and stored it for good: every second factor,
    recovery code, emailed link and client secret stopped working. It now stops, as every command
    does, until the old secret is set; a new one set explicitly starts over."""
    master = secrets.token_urlsafe(48)
    s = make_server({"MFA_SECRET_KEY": master})
    assert s.register("keyed@example.com", "keyed").status_code == 201  # a keyed audit record
    s.stop()
    log = refused(new_server(tmp_path, {}))
    assert "made under a master secret this start does not have" in log, log[-2000:]
    assert "set MFA_SECRET_KEY to the secret the earlier version used" in log
    assert master not in log
    # Every command and the check alike (a review: they went on, writing records no key checks).
    without = Server(tmp_path, {})
    for args, stdin in ((["client", "create", "--name", "x", "--grant", "client_credentials"], None),
                        (["user", "create", "--email", "u@example.com", "--username", "u2",
                          "--password-stdin"], "Str0ng-Passw0rd\n"),
                        (["keys", "rotate"], None), (["config", "--check"], None)):
        r = without.cli(*args, stdin=stdin)
        assert r.returncode == 1 and "made under a master secret this start does not have" in r.stderr, (args, r.stderr)
    db = tmp_path / "data" / "gatehouse.db"
    with sqlite3.connect(db) as c:  # nothing was stored meanwhile
        assert c.execute("SELECT COUNT(*) FROM key_ring WHERE purpose = 'master'").fetchone()[0] == 0
    s = make_server({"MFA_SECRET_KEY": master})
    assert s.login("keyed").status_code == 200
    s.stop()
    # A database of accounts alone (an earlier version's, without second factors, the provider's
    # key or keyed records) holds nothing of the secret: the start makes one.
    with sqlite3.connect(db) as c:
        c.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        c.execute("DELETE FROM audit_events")
        c.execute("DELETE FROM op_keys")
    s = make_server()
    assert s.login("keyed").status_code == 200


@pytest.mark.parametrize("kind", ["short", "zeroed", "folder", "kid", "kid-folder", "retired",
                                  "zeroed-retired", "retired-file"])
def test_an_old_token_key_file_that_holds_no_key_is_refused_by_name(make_server, tmp_path, kind):
    """A secret_key that is short or zeroed (imported, it signed tokens anyone could forge with a
    key of zero bytes), a folder in its place (a fresh key was made beside it: every token it had
    signed stopped working, unheard), a secret_key.kid no token can carry (each token it signed
    was refused), or a retired key that cannot be read: the import stops and names the file."""
    data = tmp_path / "data"
    (data / "retired").mkdir(parents=True)
    path = data / "secret_key"
    good = secrets.token_urlsafe(48)
    if kind == "folder":
        path.mkdir()
    else:
        path.write_bytes({"short": b"zq-short", "zeroed": bytes(32)}.get(kind, good.encode()))
    if kind == "kid":
        (data / "secret_key.kid").write_bytes(b"\xff\xfe\"\n")
    if kind == "kid-folder":  # read as no kid at all, the key was imported as hs1, unheard
        (data / "secret_key.kid").mkdir()
    if kind == "retired":
        (data / "retired" / "hs1.secret").mkdir()
    if kind == "zeroed-retired":  # imported, it verified tokens forged with 32 zero bytes
        (data / "retired" / "hs1.secret").write_bytes(bytes(32))
    if kind == "retired-file":  # its keys were dropped unheard
        (data / "retired").rmdir()
        (data / "retired").write_text("not a folder\n")
    expected = {
        "short": f"{path} holds 8 bytes",
        "zeroed": f"{path} holds 32 bytes of only 1 distinct values",
        "folder": f"cannot read {path}: not a regular file",
        "kid": f"{data / 'secret_key.kid'} does not hold a key id",
        "kid-folder": f"cannot read {data / 'secret_key.kid'}: not a regular file",
        "retired": f"cannot read {data / 'retired' / 'hs1.secret'}: not a regular file",
        "zeroed-retired": f"{data / 'retired' / 'hs1.secret'} holds 32 bytes of only 1 distinct values",
        "retired-file": f"{data / 'retired'} is not a folder that can be read"}[kind]
    log = refused(new_server(tmp_path, {"SECRET_KEY": ""}))
    assert expected in log, log[-2000:]
    assert "zq-short" not in log and good not in log and "this node's is" not in log
    columns, rows = key_ring_values(data / "gatehouse.db")
    assert "token" not in [row[columns.index("purpose")] for row in rows]
    r = Server(tmp_path, {"SECRET_KEY": ""}).cli("config", "--check")
    assert r.returncode == 1 and expected in r.stderr, r.stderr


def test_key_encryption_key_and_its_file_together_are_refused(tmp_path):
    value, other = "zq-kek-in-the-environment-0123456789", "zq-kek-in-a-file-0123456789abcdefgh"
    path = tmp_path / "kek.txt"
    path.write_text(other + "\n")
    log = refused(new_server(tmp_path, {"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": value,
                                        "KEY_ENCRYPTION_KEY_FILE": str(path)}))
    assert "KEY_ENCRYPTION_KEY" in log
    assert value not in log and other not in log and "zq-kek" not in log


def test_key_encryption_key_file_opens_the_ring_and_another_kek_stops_serve(make_server, tmp_path):
    kek, wrong = "zq-right-kek-" + secrets.token_hex(16), "zq-wrong-kek-" + secrets.token_hex(16)
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "kek.txt").write_text(kek + "\n")  # one trailing newline: trimmed
    (conf / "kek.txt").chmod(0o644)
    (conf / "gatehouse.env").write_text("KEY_ENCRYPTION_KEY_FILE=kek.txt\n")  # beside the file
    # An outside attack: a key file every user may read was taken without a word.
    check = subprocess.run([BIN, "config", "--check", "--config", str(conf / "gatehouse.env")],
                           env={"PATH": os.environ["PATH"], "DATABASE_URL": f"sqlite:///{tmp_path}/chk.db"},
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"the key-encryption key {conf / 'kek.txt'} may be read by other users (mode 0644)" in check.stdout, \
        check.stdout
    (conf / "kek.txt").chmod(0o600)
    s = make_server({"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": "",
                     "GATEHOUSE_CONFIG_FILE": str(conf / "gatehouse.env")})
    assert "may be read by other users" not in s.log_text()
    s.register("kekfile@example.com", "kekfile")
    token = s.token("kekfile")
    data = tmp_path / "data"
    assert not (data / "key_encryption_key").exists()
    assert_no_key_files(data)
    s.stop()
    # The same key from the environment (no newline) opens what the file's sealed.
    del s.env["GATEHOUSE_CONFIG_FILE"]
    s.env["KEY_ENCRYPTION_KEY"] = kek
    s.start()
    assert accepted(s, token)
    s.stop()
    base = {"SECRET_KEY": "", "KEY_ENCRYPTION_KEY": ""}
    # Another KEK, or none at all (and none generated: the database holds keys).
    for env in ({**base, "KEY_ENCRYPTION_KEY": wrong}, base):
        log = refused(new_server(tmp_path, env))
        assert "KEY_ENCRYPTION_KEY" in log, log[-2000:]
        assert not (data / "key_encryption_key").exists()
    for text in [s.log_text()] + [p.read_text(errors="replace") for p in tmp_path.glob("server-*.log")]:
        assert kek not in text and wrong not in text
    # The refusals changed nothing.
    s.start()
    assert accepted(s, token)


def test_config_check_opens_the_stored_keys_with_this_nodes_key_encryption_key(make_server):
    """`config --check` reads the key ring as serve would and makes nothing: another KEK is
    named as the problem before a restart would find it."""
    s = make_server({"SECRET_KEY": "", "ALGORITHM": "ES256"})
    s.stop()
    assert s.cli("config", "--check").returncode == 0
    other = dict(s.env)
    wrong = "a-different-key-encryption-key-0123456789"
    s.env["KEY_ENCRYPTION_KEY"] = wrong
    try:
        r = s.cli("config", "--check")
    finally:
        s.env = other
    assert r.returncode == 1, r.stdout + r.stderr
    assert "KEY_ENCRYPTION_KEY" in r.stderr and wrong not in r.stdout + r.stderr
    rows_before = s.cli("keys", "list").stdout
    assert len(rows_before.splitlines()) == 1
