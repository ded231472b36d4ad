"""Live interop with Debian's Python libraries, both directions.

Password hashes: python3-passlib, python3-bcrypt and python3-argon2 make fresh hashes that the C++
code verifies, and C++ hashes verify in them. JWTs: tokens we sign verify in PyJWT and python-jose,
and tokens they sign verify here, for every algorithm each library implements (python-jose 3.3
has no PS* and no EdDSA; PyJWT has all of ours).

Needs GATEHOUSE_INTEROP_TOOL: the path of the built interop_tool.
"""
import json
import os
import subprocess
import time

import argon2
import bcrypt
import jwt as pyjwt
import pytest
from jose import jwt as jose_jwt
from passlib.hash import argon2 as passlib_argon2
from passlib.hash import bcrypt as passlib_bcrypt

TOOL = os.environ["GATEHOUSE_INTEROP_TOOL"]
ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA"]
JOSE_ALGS = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}
PASSWORD = "Tr0ub4dor&3-ünïcødé"


def tool(*args, stdin=b""):
    return subprocess.run([TOOL, *args], input=stdin, capture_output=True, timeout=120)


def ok(*args, stdin=b""):
    r = tool(*args, stdin=stdin)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode().strip()


# --- passwords ---------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=10)).decode(),
    lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=10, prefix=b"2a")).decode(),
    lambda pw: passlib_bcrypt.using(rounds=10, ident="2y").hash(pw),
    lambda pw: passlib_bcrypt.using(rounds=12).hash(pw),
    lambda pw: argon2.PasswordHasher().hash(pw),
    lambda pw: argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(pw),
    lambda pw: passlib_argon2.using(type="ID").hash(pw),
], ids=["bcrypt-2b", "bcrypt-2a", "passlib-2y", "passlib-2b-12", "argon2-cffi", "argon2-owasp",
        "passlib-argon2"])
def test_python_hashes_verify_in_cpp(make):
    encoded = make(PASSWORD)
    assert tool("check", encoded, stdin=PASSWORD.encode()).returncode == 0
    assert tool("check", encoded, stdin=(PASSWORD + "x").encode()).returncode == 1


def test_cpp_bcrypt_verifies_in_python():
    encoded = ok("hash", "bcrypt", stdin=PASSWORD.encode())
    assert encoded.startswith("$2b$10$")
    assert bcrypt.checkpw(PASSWORD.encode(), encoded.encode())
    assert passlib_bcrypt.verify(PASSWORD, encoded)
    assert not passlib_bcrypt.verify(PASSWORD + "x", encoded)


def test_cpp_argon2id_verifies_in_python():
    encoded = ok("hash", "argon2id", stdin=PASSWORD.encode())
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert argon2.PasswordHasher().verify(encoded, PASSWORD)
    assert passlib_argon2.verify(PASSWORD, encoded)
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(encoded, PASSWORD + "x")


def test_cpp_refuses_73_byte_bcrypt_password():
    r = tool("hash", "bcrypt", stdin=b"a" * 73)
    assert r.returncode == 1
    assert b"72 bytes" in r.stderr
    # A passlib hash of the 72-byte prefix must not accept the 73-byte password.
    encoded = bcrypt.hashpw(b"a" * 72, bcrypt.gensalt(rounds=10)).decode()
    assert tool("check", encoded, stdin=b"a" * 73).returncode == 1


# --- JWT ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=ALGS)
def keypair(request, tmp_path_factory):
    alg = request.param
    jwk = json.loads(ok("keygen", alg))
    path = tmp_path_factory.mktemp(alg) / "key.json"
    path.write_text(json.dumps(jwk))
    return alg, jwk, str(path)


def claims():
    now = int(time.time())
    return {"sub": "42", "exp": now + 600, "iat": now, "type": "access",
            "scopes": ["users:read"], "jti": "abc"}


def test_cpp_token_verifies_in_pyjwt(keypair):
    alg, jwk, path = keypair
    token = ok("sign", path, stdin=json.dumps(claims()).encode())
    key = pyjwt.PyJWK(jwk, algorithm=alg).key
    if alg not in ("HS256", "HS384", "HS512"):
        key = key.public_key()
    decoded = pyjwt.decode(token, key, algorithms=[alg])
    assert decoded["sub"] == "42" and decoded["scopes"] == ["users:read"]
    assert pyjwt.get_unverified_header(token)["kid"] == jwk["kid"]


def test_pyjwt_token_verifies_in_cpp(keypair):
    alg, jwk, path = keypair
    key = pyjwt.PyJWK(jwk, algorithm=alg).key
    token = pyjwt.encode(claims(), key, algorithm=alg, headers={"kid": jwk["kid"]})
    out = json.loads(ok("verify", path, stdin=token.encode()))
    assert out["sub"] == "42"
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert tool("verify", path, stdin=tampered.encode()).returncode == 1


def test_cpp_token_verifies_in_python_jose(keypair):
    alg, jwk, path = keypair
    if alg not in JOSE_ALGS:
        pytest.skip(f"python-jose 3.3 does not implement {alg}")
    token = ok("sign", path, stdin=json.dumps(claims()).encode())
    public = {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    decoded = jose_jwt.decode(token, public, algorithms=[alg])
    assert decoded["sub"] == "42"


def test_python_jose_token_verifies_in_cpp(keypair):
    alg, jwk, path = keypair
    if alg not in JOSE_ALGS:
        pytest.skip(f"python-jose 3.3 does not implement {alg}")
    token = jose_jwt.encode(claims(), jwk, algorithm=alg, headers={"kid": jwk["kid"]})
    out = json.loads(ok("verify", path, stdin=token.encode()))
    assert out["type"] == "access"


def test_alg_none_from_pyjwt_is_refused(keypair):
    alg, jwk, path = keypair
    token = pyjwt.encode(claims(), None, algorithm="none", headers={"kid": jwk["kid"]})
    r = tool("verify", path, stdin=token.encode())
    assert r.returncode == 1 and b"AlgNone" in r.stderr
