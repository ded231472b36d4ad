#!/usr/bin/python3
"""Writes tests/unit/password/vectors/imported_hashes.json: password hashes made by the libraries
that other systems use, for the formats `gatehouse user import` accepts (API.md, "Moving in from
elsewhere"), which the C++ unit tests (imported_hash_test.cpp) and the integration tests
(tests/integration/test_import.py) must verify exactly as the JSON says.

  bcrypt $2a$ $2b$ $2y$          passlib (python3-passlib over python3-bcrypt)
  argon2id / argon2i PHC         argon2-cffi (python3-argon2), low-level API with fixed salts
  passlib $pbkdf2-sha256$ ...    passlib pbkdf2_sha256 / pbkdf2_sha512 / pbkdf2_sha1 ($pbkdf2$)
  Django pbkdf2_sha256$ ...      django.contrib.auth.hashers (python3-django), minimal settings
  Keycloak pbkdf2*               hashlib.pbkdf2_hmac exactly as Keycloak's
                                 Pbkdf2PasswordHashProvider does (PBEKeySpec over the UTF-8
                                 password, 16-byte salt, 512-bit derived key by default), stored
                                 as Keycloak stores it: standard base64 salt and value, and a
                                 realm-export fragment in Keycloak's own shape (secretData and
                                 credentialData are JSON *strings*)

Every salt is fixed, so running this again writes the same file. Every vector is checked here
against the library that made it before it is written.

Run with Debian's Python: /usr/bin/python3 tests/unit/password/vectors/make_vectors.py
"""
import base64
import hashlib
import json
import pathlib

import argon2
import argon2.low_level as argon2_ll
import bcrypt as bcrypt_module
import django
import passlib
from django.conf import settings

settings.configure(
    SECRET_KEY="vectors-only",
    PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher",
                      "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher"],
)
from django.contrib.auth.hashers import (  # noqa: E402  (needs the settings above)
    PBKDF2PasswordHasher, PBKDF2SHA1PasswordHasher, check_password)
from passlib.hash import bcrypt as passlib_bcrypt  # noqa: E402
from passlib.hash import pbkdf2_sha1, pbkdf2_sha256, pbkdf2_sha512  # noqa: E402

ASCII = "Correct-Horse-Battery-9"
NON_ASCII = "Pässwörd-密码-🔑-Ünïcødé"
LONG_100 = "L0ng!" * 20  # 100 bytes: longer than the SHA-1/SHA-256 HMAC block (64 bytes)
LONG_150 = "Ex+ra-L0ng/" * 13 + "1234567"  # 150 bytes: longer than the SHA-512 block (128 bytes)
assert len(LONG_100.encode()) == 100 and len(LONG_150.encode()) == 150
assert len(NON_ASCII.encode()) > len(NON_ASCII)

# The limits the importer enforces (the lead's spec): beyond them a hash is never verified.
PBKDF2_MAX_ITERATIONS = 2_000_000
ARGON2_MAX_M_KIB = 1_048_576
ARGON2_MAX_T = 64
ARGON2_MAX_P = 64


def salt_bytes(label, n=16):
    """A fixed salt derived from a label, so the file is reproducible."""
    return hashlib.sha256(b"gatehouse-vectors:" + label.encode()).digest()[:n]


def ab64(raw):
    """passlib's adapted base64: standard alphabet with '.' for '+', no padding."""
    return base64.b64encode(raw).decode().rstrip("=").replace("+", ".")


def b64(raw):
    return base64.b64encode(raw).decode()


def alter(text, at=None):
    """`text` with one character changed to another of the same base64-ish alphabet."""
    i = len(text) // 2 if at is None else at
    c = text[i]
    repl = "B" if c != "B" else "C"
    if c.isdigit():
        repl = "7" if c != "7" else "8"
    return text[:i] + repl + text[i + 1:]


def alter_last_field(encoded, sep="$"):
    head, _, last = encoded.rpartition(sep)
    return head + sep + alter(last)


def alter_field(encoded, index, sep="$"):
    parts = encoded.split(sep)
    parts[index] = alter(parts[index])
    return sep.join(parts)


vectors = []


def add(vid, group, fmt, password, expect, note, encoded=None, keycloak=None, expect_encoded=None,
        genuine=None):
    v = {"id": vid, "group": group, "format": fmt, "password": password, "expect": expect}
    if genuine is not None:
        # A real hash of the password that only a limit stops: the library that made it says true.
        v["genuine"] = genuine
    if encoded is not None:
        v["encoded"] = encoded
    if keycloak is not None:
        v["keycloak"] = keycloak
    if expect_encoded is not None:
        v["expect_encoded"] = expect_encoded
    v["note"] = note
    # Under a bcrypt policy of cost 10, only a bcrypt hash of cost >= 10 is "made by the policy".
    if expect:
        cost = None
        if encoded is not None and encoded.startswith("$2"):
            cost = int(encoded.split("$")[2])
        v["rehash_under_bcrypt10"] = not (cost is not None and cost >= 10)
    vectors.append(v)
    return v


# --- bcrypt ------------------------------------------------------------------------------------
BCRYPT64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def bcrypt_hash(password, ident, rounds, label):
    raw = salt_bytes(label, 22)
    # 22 salt characters; the last carries only 2 bits, so it is one of ". O e u" (canonical).
    fixed = "".join(BCRYPT64[b % 64] for b in raw[:21]) + BCRYPT64[(raw[21] % 4) * 16]
    encoded = passlib_bcrypt.using(rounds=rounds, ident=ident, salt=fixed).hash(password)
    assert encoded.startswith(f"${ident}${rounds:02d}${fixed}")
    assert passlib_bcrypt.verify(password, encoded)
    assert bcrypt_module.checkpw(password.encode(), encoded.replace("$2y$", "$2b$").encode())
    return encoded


def bcrypt_vectors():
    for ident in ("2a", "2b", "2y"):
        for name, pw in (("ascii", ASCII), ("non-ascii", NON_ASCII)):
            e = bcrypt_hash(pw, ident, 4, f"bcrypt-{ident}-{name}")
            add(f"bcrypt-{ident}-{name}", "formats", f"bcrypt-{ident}", pw, True,
                f"passlib bcrypt ident ${ident}$, rounds 4", encoded=e)
    for ident in ("2a", "2y"):
        e = bcrypt_hash(NON_ASCII, ident, 4, f"bcrypt-{ident}-non-ascii")
        add(f"bcrypt-{ident}-wrong-password", "wrong_password", f"bcrypt-{ident}", NON_ASCII[:-1],
            False, "right hash, password without its last character", encoded=e)
    seed = bcrypt_hash(ASCII, "2b", 12, "bcrypt-seed")
    add("bcrypt-2b-seed-cost12", "formats", "bcrypt-2b", ASCII, True,
        "the seed's CryptContext(schemes=['bcrypt'], bcrypt__rounds=12)", encoded=seed)
    e = bcrypt_hash(ASCII, "2b", 4, "bcrypt-2b-ascii")
    add("bcrypt-2b-wrong-password", "wrong_password", "bcrypt-2b", ASCII + "!", False,
        "right hash, password with one more character", encoded=e)
    add("bcrypt-2b-tampered-checksum", "tampered", "bcrypt-2b", ASCII, False,
        "one character of the checksum changed", encoded=e[:29 + 15] + alter(e[29 + 15:], 0))
    add("bcrypt-2b-tampered-cost", "tampered", "bcrypt-2b", ASCII, False,
        "cost 04 changed to 05", encoded=e.replace("$04$", "$05$", 1))
    add("bcrypt-2x-unsupported", "malformed", "bcrypt-2x", ASCII, False,
        "$2x$ (the crypt_blowfish bug-compatible variant) is not in the list",
        encoded=e.replace("$2b$", "$2x$", 1))


# --- argon2 ------------------------------------------------------------------------------------
def argon2_hash(password, kind, m, t, p, label, hash_len=32):
    encoded = argon2_ll.hash_secret(password.encode(), salt_bytes(label), time_cost=t, memory_cost=m,
                                    parallelism=p, hash_len=hash_len, type=kind,
                                    version=19).decode()
    assert argon2_ll.verify_secret(encoded.encode(), password.encode(), kind)
    return encoded


def argon2_vectors():
    ID, I = argon2_ll.Type.ID, argon2_ll.Type.I
    for name, pw in (("ascii", ASCII), ("non-ascii", NON_ASCII), ("100-bytes", LONG_100)):
        add(f"argon2id-{name}", "formats", "argon2id", pw, True, "argon2-cffi, m=1024 t=2 p=1",
            encoded=argon2_hash(pw, ID, 1024, 2, 1, f"argon2id-{name}"))
        add(f"argon2i-{name}", "formats", "argon2i", pw, True, "argon2-cffi argon2i, m=1024 t=3 p=2",
            encoded=argon2_hash(pw, I, 1024, 3, 2, f"argon2i-{name}"))
    e = argon2_hash(ASCII, ID, 1024, 2, 1, "argon2id-ascii")
    i = argon2_hash(ASCII, I, 1024, 3, 2, "argon2i-ascii")
    add("argon2id-wrong-password", "wrong_password", "argon2id", ASCII.lower(), False,
        "right hash, password in another case", encoded=e)
    long_id = argon2_hash(LONG_100, ID, 1024, 2, 1, "argon2id-100-bytes")
    add("argon2id-100-bytes-last-byte-differs", "wrong_password", "argon2id", LONG_100[:-1] + "?",
        False, "the 100-byte password with its last byte changed (no truncation)", encoded=long_id)
    add("argon2id-tampered-hash", "tampered", "argon2id", ASCII, False,
        "one character of the hash changed", encoded=alter_last_field(e))
    add("argon2id-tampered-salt", "tampered", "argon2id", ASCII, False,
        "one character of the salt changed", encoded=alter_field(e, 4))
    add("argon2id-tampered-t", "tampered", "argon2id", ASCII, False,
        "t=2 changed to t=3", encoded=e.replace(",t=2,", ",t=3,"))
    add("argon2id-as-argon2i", "tampered", "argon2i", ASCII, False,
        "an argon2id hash relabelled as argon2i", encoded=e.replace("$argon2id$", "$argon2i$"))
    add("argon2i-wrong-password", "wrong_password", "argon2i", ASCII + " ", False,
        "right hash, trailing space added", encoded=i)
    # Limits on imported argon2i: at the limit verifies, one beyond never does (each a real hash of
    # the password, so an implementation that ignores the limit would say true).
    add("argon2i-t-at-limit", "limits", "argon2i", ASCII, True, f"t={ARGON2_MAX_T}",
        encoded=argon2_hash(ASCII, I, 8, ARGON2_MAX_T, 1, "argon2i-t64", 16))
    add("argon2i-t-over-limit", "limits", "argon2i", ASCII, False, f"t={ARGON2_MAX_T + 1}",
        genuine=True, encoded=argon2_hash(ASCII, I, 8, ARGON2_MAX_T + 1, 1, "argon2i-t65", 16))
    add("argon2i-p-at-limit", "limits", "argon2i", ASCII, True, f"p={ARGON2_MAX_P}",
        encoded=argon2_hash(ASCII, I, 8 * ARGON2_MAX_P, 1, ARGON2_MAX_P, "argon2i-p64", 16))
    add("argon2i-p-over-limit", "limits", "argon2i", ASCII, False, f"p={ARGON2_MAX_P + 1}",
        genuine=True, encoded=argon2_hash(ASCII, I, 8 * (ARGON2_MAX_P + 1), 1, ARGON2_MAX_P + 1,
                                          "argon2i-p65", 16))
    # Not a real hash (that would need 1 GiB here too): must be refused from its parameters alone.
    add("argon2i-m-over-limit", "limits", "argon2i", ASCII, False,
        f"m={ARGON2_MAX_M_KIB + 1} KiB: refused from the parameters, never attempted",
        encoded=i.replace("m=1024,", f"m={ARGON2_MAX_M_KIB + 1},"))
    # argon2id is also Gatehouse's own scheme, whose configuration allows more (ARGON2_MEMORY_KIB
    # up to 4 GiB, ARGON2_ITERATIONS up to 1000), so what verify() does with these is not pinned
    # here; the importer refuses them (`password_hash: unsupported format`).
    add("argon2id-t-over-import-limit", "import_limits", "argon2id", ASCII, False,
        f"t={ARGON2_MAX_T + 1}", genuine=True,
        encoded=argon2_hash(ASCII, ID, 8, ARGON2_MAX_T + 1, 1, "argon2id-t65", 16))
    add("argon2id-p-over-import-limit", "import_limits", "argon2id", ASCII, False,
        f"p={ARGON2_MAX_P + 1}", genuine=True,
        encoded=argon2_hash(ASCII, ID, 8 * (ARGON2_MAX_P + 1), 1, ARGON2_MAX_P + 1,
                            "argon2id-p65", 16))
    add("argon2id-m-over-import-limit", "import_limits", "argon2id", ASCII, False,
        f"m={ARGON2_MAX_M_KIB + 1} KiB (not a real hash)",
        encoded=e.replace("m=1024,", f"m={ARGON2_MAX_M_KIB + 1},"))
    add("argon2id-t-at-import-limit", "limits", "argon2id", ASCII, True, f"t={ARGON2_MAX_T}",
        encoded=argon2_hash(ASCII, ID, 8, ARGON2_MAX_T, 1, "argon2id-t64", 16))
    add("argon2id-p-at-import-limit", "limits", "argon2id", ASCII, True, f"p={ARGON2_MAX_P}",
        encoded=argon2_hash(ASCII, ID, 8 * ARGON2_MAX_P, 1, ARGON2_MAX_P, "argon2id-p64", 16))
    add("argon2id-m-huge", "limits", "argon2id", ASCII, False, "m=2^32-1 KiB",
        encoded=e.replace("m=1024,", "m=4294967295,"))
    add("argon2id-m-overflow", "limits", "argon2id", ASCII, False, "m beyond 64 bits",
        encoded=e.replace("m=1024,", "m=184467440737095516160,"))
    add("argon2id-missing-hash", "malformed", "argon2id", ASCII, False, "no hash field",
        encoded=e.rpartition("$")[0])
    add("argon2id-empty-hash", "malformed", "argon2id", ASCII, False, "empty hash field",
        encoded=e.rpartition("$")[0] + "$")
    add("argon2id-bad-params", "malformed", "argon2id", ASCII, False, "m=abc",
        encoded=e.replace("m=1024,", "m=abc,"))


# --- passlib pbkdf2 ----------------------------------------------------------------------------
PASSLIB = {"sha256": (pbkdf2_sha256, "$pbkdf2-sha256$"),
           "sha512": (pbkdf2_sha512, "$pbkdf2-sha512$"),
           "sha1": (pbkdf2_sha1, "$pbkdf2$")}


def passlib_hash(digest, password, rounds, label):
    handler, prefix = PASSLIB[digest]
    encoded = handler.using(rounds=rounds, salt=salt_bytes(label)).hash(password)
    assert encoded.startswith(prefix) and handler.verify(password, encoded)
    return encoded


def manual_passlib(digest, password, rounds, label, dklen=None):
    """The same string passlib writes, computed with hashlib (for iteration counts passlib's
    `using()` refuses, and to pin the format independently of passlib)."""
    _, prefix = PASSLIB[digest]
    salt = salt_bytes(label)
    dk = hashlib.pbkdf2_hmac(digest, password.encode(), salt, rounds, dklen)
    return f"{prefix}{rounds}${ab64(salt)}${ab64(dk)}"


def passlib_vectors():
    for digest in ("sha256", "sha512", "sha1"):
        fmt = f"passlib-pbkdf2-{digest}"
        pws = [("ascii", ASCII), ("non-ascii", NON_ASCII), ("100-bytes", LONG_100)]
        if digest == "sha512":
            pws.append(("150-bytes", LONG_150))
        for name, pw in pws:
            e = passlib_hash(digest, pw, 1000, f"{fmt}-{name}")
            assert e == manual_passlib(digest, pw, 1000, f"{fmt}-{name}")
            add(f"{fmt}-{name}", "formats", fmt, pw, True, f"passlib pbkdf2_{digest}, rounds 1000",
                encoded=e)
        e = passlib_hash(digest, ASCII, 1000, f"{fmt}-ascii")
        add(f"{fmt}-wrong-password", "wrong_password", fmt, ASCII + "x", False,
            "right hash, one more character", encoded=e)
        long_e = passlib_hash(digest, LONG_100, 1000, f"{fmt}-100-bytes")
        add(f"{fmt}-100-bytes-last-byte-differs", "wrong_password", fmt, LONG_100[:-1] + "?", False,
            "the 100-byte password with its last byte changed (no truncation)", encoded=long_e)
        add(f"{fmt}-tampered-checksum", "tampered", fmt, ASCII, False,
            "one character of the checksum changed", encoded=alter_last_field(e))
        add(f"{fmt}-tampered-salt", "tampered", fmt, ASCII, False,
            "one character of the salt changed", encoded=alter_field(e, 3))
        add(f"{fmt}-tampered-rounds", "tampered", fmt, ASCII, False,
            "rounds 1000 changed to 1001", encoded=e.replace("$1000$", "$1001$", 1))
        add(f"{fmt}-empty-checksum", "malformed", fmt, ASCII, False,
            "an empty checksum must never compare equal", encoded=e.rpartition("$")[0] + "$")
    # The default rounds passlib 1.7 uses for pbkdf2_sha256 (29000): a realistic export.
    e = pbkdf2_sha256.using(salt=salt_bytes("passlib-default")).hash(ASCII)
    assert pbkdf2_sha256.verify(ASCII, e)
    add("passlib-pbkdf2-sha256-default-rounds", "formats", "passlib-pbkdf2-sha256", ASCII, True,
        f"passlib's default rounds ({pbkdf2_sha256.default_rounds})", encoded=e)
    # Limits: 1 and 2,000,000 iterations verify; 2,000,001 never does (a real hash).
    e1 = passlib_hash("sha256", ASCII, 1, "pbkdf2-rounds-1")
    add("passlib-pbkdf2-sha256-rounds-1", "limits", "passlib-pbkdf2-sha256", ASCII, True,
        "rounds 1 (the minimum)", encoded=e1)
    add("passlib-pbkdf2-sha1-rounds-at-limit", "limits", "passlib-pbkdf2-sha1", ASCII, True,
        f"rounds {PBKDF2_MAX_ITERATIONS}",
        encoded=manual_passlib("sha1", ASCII, PBKDF2_MAX_ITERATIONS, "pbkdf2-at-limit"))
    add("passlib-pbkdf2-sha256-rounds-over-limit", "limits", "passlib-pbkdf2-sha256", ASCII, False,
        f"rounds {PBKDF2_MAX_ITERATIONS + 1}: a real hash, refused from its rounds", genuine=True,
        encoded=manual_passlib("sha256", ASCII, PBKDF2_MAX_ITERATIONS + 1, "pbkdf2-over-limit"))
    zero = manual_passlib("sha256", ASCII, 1, "pbkdf2-rounds-0").replace("$1$", "$0$", 1)
    add("passlib-pbkdf2-sha256-rounds-0", "limits", "passlib-pbkdf2-sha256", ASCII, False,
        "rounds 0", encoded=zero)
    add("passlib-pbkdf2-sha256-rounds-negative", "malformed", "passlib-pbkdf2-sha256", ASCII, False,
        "rounds -1000", encoded=e.replace("$29000$", "$-1000$", 1))
    add("passlib-pbkdf2-sha256-rounds-not-a-number", "malformed", "passlib-pbkdf2-sha256", ASCII,
        False, "rounds 1e3", encoded=e.replace("$29000$", "$1e3$", 1))
    add("passlib-pbkdf2-sha256-rounds-overflow", "malformed", "passlib-pbkdf2-sha256", ASCII, False,
        "rounds beyond 64 bits", encoded=e.replace("$29000$", "$18446744073709551617$", 1))
    add("passlib-pbkdf2-sha384-unknown", "malformed", "passlib-pbkdf2-sha384", ASCII, False,
        "no such passlib scheme",
        encoded=e.replace("$pbkdf2-sha256$", "$pbkdf2-sha384$", 1))
    add("passlib-pbkdf2-sha256-missing-checksum", "malformed", "passlib-pbkdf2-sha256", ASCII,
        False, "three fields only", encoded=e.rpartition("$")[0])
    add("passlib-pbkdf2-sha256-bad-salt", "malformed", "passlib-pbkdf2-sha256", ASCII, False,
        "salt with characters outside ab64", encoded=alter_field(e, 3).replace(
            e.split("$")[3][:4], "%%%%", 1))


# --- Django --------------------------------------------------------------------------------------
DJANGO = {"sha256": PBKDF2PasswordHasher, "sha1": PBKDF2SHA1PasswordHasher}


def django_salt(label):
    # Django's salts are text from [a-zA-Z0-9] (get_random_string); the hash uses them as UTF-8.
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in salt_bytes(label, 22))


def django_hash(digest, password, iterations, label):
    encoded = DJANGO[digest]().encode(password, django_salt(label), iterations=iterations)
    assert encoded.startswith(f"pbkdf2_{digest}$") and check_password(password, encoded)
    return encoded


def django_vectors():
    for digest in ("sha256", "sha1"):
        fmt = f"django-pbkdf2-{digest}"
        for name, pw in (("ascii", ASCII), ("non-ascii", NON_ASCII), ("100-bytes", LONG_100)):
            add(f"{fmt}-{name}", "formats", fmt, pw, True, f"Django pbkdf2_{digest}, 1000 iterations",
                encoded=django_hash(digest, pw, 1000, f"{fmt}-{name}"))
        e = django_hash(digest, ASCII, 1000, f"{fmt}-ascii")
        add(f"{fmt}-wrong-password", "wrong_password", fmt, "correct-horse-battery-9", False,
            "right hash, password in another case", encoded=e)
        long_e = django_hash(digest, LONG_100, 1000, f"{fmt}-100-bytes")
        add(f"{fmt}-100-bytes-last-byte-differs", "wrong_password", fmt, LONG_100[:-1] + "?", False,
            "the 100-byte password with its last byte changed (no truncation)", encoded=long_e)
        add(f"{fmt}-tampered-hash", "tampered", fmt, ASCII, False,
            "one character of the base64 hash changed", encoded=alter_last_field(e))
        add(f"{fmt}-tampered-salt", "tampered", fmt, ASCII, False,
            "one character of the salt changed", encoded=alter_field(e, 2))
        add(f"{fmt}-tampered-iterations", "tampered", fmt, ASCII, False,
            "1000 iterations changed to 1001", encoded=e.replace("$1000$", "$1001$", 1))
        add(f"{fmt}-empty-hash", "malformed", fmt, ASCII, False,
            "an empty hash must never compare equal", encoded=e.rpartition("$")[0] + "$")
    # Django 3.2's own default iteration count: the realistic export.
    default = PBKDF2PasswordHasher().encode(ASCII, django_salt("django-default"))
    assert check_password(ASCII, default)
    add("django-pbkdf2-sha256-default-iterations", "formats", "django-pbkdf2-sha256", ASCII, True,
        f"Django {django.get_version()} default ({PBKDF2PasswordHasher.iterations} iterations)",
        encoded=default)
    over = django_hash("sha256", ASCII, PBKDF2_MAX_ITERATIONS + 1, "django-over-limit")
    add("django-pbkdf2-sha256-over-limit", "limits", "django-pbkdf2-sha256", ASCII, False,
        f"{PBKDF2_MAX_ITERATIONS + 1} iterations: a real hash, refused from its count", encoded=over,
        genuine=True)
    e = django_hash("sha256", ASCII, 1000, "django-pbkdf2-sha256-ascii")
    add("django-pbkdf2-sha256-iterations-not-a-number", "malformed", "django-pbkdf2-sha256", ASCII,
        False, "iterations 'abc'", encoded=e.replace("$1000$", "$abc$", 1))
    add("django-pbkdf2-sha256-missing-field", "malformed", "django-pbkdf2-sha256", ASCII, False,
        "no hash field", encoded=e.rpartition("$")[0])
    add("django-pbkdf2-md5-unknown", "malformed", "django-pbkdf2-md5", ASCII, False,
        "no such Django hasher", encoded=e.replace("pbkdf2_sha256$", "pbkdf2_md5$", 1))
    add("django-unsalted-md5", "malformed", "django-md5", ASCII, False,
        "Django's legacy unsalted MD5 is not accepted",
        encoded="md5$$" + hashlib.md5(ASCII.encode()).hexdigest())


# --- Keycloak ------------------------------------------------------------------------------------
KEYCLOAK = {"pbkdf2-sha256": ("sha256", "$pbkdf2-sha256$"),
            "pbkdf2-sha512": ("sha512", "$pbkdf2-sha512$"),
            "pbkdf2": ("sha1", "$pbkdf2$")}


def keycloak_credential(algorithm, password, iterations, label, key_bits=512):
    """What Keycloak's Pbkdf2PasswordHashProvider stores: PBKDF2WithHmacSHA* over the password's
    UTF-8 bytes (PBKDF2KeyImpl), a 16-byte random salt, a 512-bit derived key by default."""
    digest, _ = KEYCLOAK[algorithm]
    salt = salt_bytes(label)
    value = hashlib.pbkdf2_hmac(digest, password.encode("utf-8"), salt, iterations, key_bits // 8)
    return {"algorithm": algorithm, "hashIterations": iterations, "salt": b64(salt), "value": b64(value)}


def keycloak_encoded(cred):
    _, prefix = KEYCLOAK[cred["algorithm"]]
    return (f"{prefix}{cred['hashIterations']}$"
            f"{ab64(base64.b64decode(cred['salt']))}${ab64(base64.b64decode(cred['value']))}")


def keycloak_vectors():
    cases = [
        ("pbkdf2-sha256", 27500, "Keycloak's pbkdf2-sha256 default before 24 (27500 iterations)"),
        ("pbkdf2-sha512", 210000, "Keycloak 24's default, pbkdf2-sha512 with 210000 iterations"),
        ("pbkdf2", 20000, "Keycloak's old pbkdf2 (HMAC-SHA1), 20000 iterations"),
    ]
    for algorithm, iterations, note in cases:
        fmt = f"keycloak-{algorithm}"
        for name, pw in (("ascii", ASCII), ("non-ascii", NON_ASCII), ("100-bytes", LONG_100)):
            its = iterations if name == "ascii" else 1000
            cred = keycloak_credential(algorithm, pw, its, f"{fmt}-{name}")
            add(f"{fmt}-{name}", "formats", fmt, pw, True,
                note if name == "ascii" else f"{algorithm}, 1000 iterations",
                keycloak=cred, expect_encoded=keycloak_encoded(cred))
        cred = keycloak_credential(algorithm, ASCII, 1000, f"{fmt}-wrong")
        add(f"{fmt}-wrong-password", "wrong_password", fmt, ASCII + "!", False,
            "right credential, one more character", keycloak=cred,
            expect_encoded=keycloak_encoded(cred))
        tampered = dict(cred, value=b64(bytes([base64.b64decode(cred["value"])[0] ^ 1])
                                        + base64.b64decode(cred["value"])[1:]))
        add(f"{fmt}-tampered-value", "tampered", fmt, ASCII, False,
            "first byte of the value flipped", keycloak=tampered,
            expect_encoded=keycloak_encoded(tampered))
        other_salt = dict(cred, salt=b64(salt_bytes("another salt")))
        add(f"{fmt}-tampered-salt", "tampered", fmt, ASCII, False, "another salt",
            keycloak=other_salt, expect_encoded=keycloak_encoded(other_salt))
        fewer = dict(cred, hashIterations=999)
        add(f"{fmt}-tampered-iterations", "tampered", fmt, ASCII, False, "999 iterations, not 1000",
            keycloak=fewer, expect_encoded=keycloak_encoded(fewer))
    # A realm configured with a 256-bit derived key: the key length is the value's length.
    cred = keycloak_credential("pbkdf2-sha256", ASCII, 1000, "keycloak-256-bit", key_bits=256)
    add("keycloak-pbkdf2-sha256-256-bit-key", "formats", "keycloak-pbkdf2-sha256", ASCII, True,
        "derived key of 256 bits (the value's length decides)", keycloak=cred,
        expect_encoded=keycloak_encoded(cred))
    # At the iteration limit (a real credential).
    cred = keycloak_credential("pbkdf2", ASCII, PBKDF2_MAX_ITERATIONS, "keycloak-at-limit", 160)
    add("keycloak-pbkdf2-iterations-at-limit", "limits", "keycloak-pbkdf2", ASCII, True,
        f"{PBKDF2_MAX_ITERATIONS} iterations", keycloak=cred, expect_encoded=keycloak_encoded(cred))


def keycloak_invalid():
    """Credentials keycloakToEncoded must refuse (the importer's `password_hash: unsupported
    format`)."""
    good = keycloak_credential("pbkdf2-sha256", ASCII, 1000, "keycloak-invalid")
    over = keycloak_credential("pbkdf2-sha256", ASCII, 1, "keycloak-over")
    over["hashIterations"] = PBKDF2_MAX_ITERATIONS + 1
    return [
        {"id": "iterations-0", "keycloak": dict(good, hashIterations=0)},
        {"id": "iterations-negative", "keycloak": dict(good, hashIterations=-27500)},
        {"id": "iterations-over-limit", "keycloak": over},
        {"id": "algorithm-argon2", "keycloak": dict(good, algorithm="argon2")},
        {"id": "algorithm-pbkdf2-md5", "keycloak": dict(good, algorithm="pbkdf2-md5")},
        {"id": "algorithm-bcrypt", "keycloak": dict(good, algorithm="bcrypt")},
        {"id": "algorithm-empty", "keycloak": dict(good, algorithm="")},
        {"id": "salt-not-base64", "keycloak": dict(good, salt="not base64!!")},
        {"id": "value-not-base64", "keycloak": dict(good, value="***")},
        {"id": "value-empty", "keycloak": dict(good, value="")},
    ]


def keycloak_realm_export():
    """Two users as `kc.sh export --realm acme` writes them (trimmed to the fields that matter
    here, each still in Keycloak's shape), with the passwords that made them beside."""
    users, passwords = [], {}
    for username, email, algorithm, iterations, pw in (
            ("alice.kc", "alice.kc@example.com", "pbkdf2-sha256", 27500, ASCII),
            ("bob.kc", "bob.kc@example.com", "pbkdf2-sha512", 1000, NON_ASCII)):
        cred = keycloak_credential(algorithm, pw, iterations, f"realm-{username}")
        users.append({
            "id": hashlib.md5(username.encode()).hexdigest()[:8] + "-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
            "createdTimestamp": 1700000000000 + len(users) * 86400000,
            "username": username,
            "enabled": True,
            "totp": False,
            "emailVerified": True,
            "firstName": username.split(".")[0].capitalize(),
            "lastName": "Keycloak",
            "email": email,
            "credentials": [{
                "id": hashlib.md5(("cred" + username).encode()).hexdigest()[:8]
                + "-aaaa-4bbb-8ccc-dddddddddddd",
                "type": "password",
                "userLabel": "My password",
                "createdDate": 1700000000000 + len(users) * 86400000,
                "secretData": json.dumps({"value": cred["value"], "salt": cred["salt"],
                                          "additionalParameters": {}}, separators=(",", ":")),
                "credentialData": json.dumps({"hashIterations": iterations, "algorithm": algorithm,
                                              "additionalParameters": {}}, separators=(",", ":")),
            }],
            "disableableCredentialTypes": [],
            "requiredActions": [],
            "realmRoles": ["default-roles-acme"],
            "notBefore": 0,
            "groups": [],
        })
        passwords[username] = pw
    return {"realm": "acme", "users": users}, passwords


def self_check(v):
    """Recompute each vector's truth with an independent implementation before writing it."""
    pw, fmt = v["password"], v["format"]
    if "keycloak" in v:
        c = v["keycloak"]
        digest, _ = KEYCLOAK[c["algorithm"]]
        value = base64.b64decode(c["value"])
        got = hashlib.pbkdf2_hmac(digest, pw.encode(), base64.b64decode(c["salt"]),
                                  c["hashIterations"], len(value)) == value
        assert 1 <= c["hashIterations"] <= PBKDF2_MAX_ITERATIONS, v["id"]
        assert got == v["expect"], v["id"]
        return
    e = v["encoded"]
    if v["group"] == "malformed" or (v["group"] in ("limits", "import_limits") and not v["expect"]
                                     and not v.get("genuine")):
        assert not v["expect"], v["id"]  # not a hash any library would take
        return
    truth = True if v.get("genuine") else v["expect"]
    if fmt.startswith("bcrypt"):
        ok = passlib_bcrypt.verify(pw, e)
    elif fmt.startswith("argon2"):
        kind = argon2_ll.Type.ID if e.startswith("$argon2id$") else argon2_ll.Type.I
        try:
            ok = argon2_ll.verify_secret(e.encode(), pw.encode(), kind)
        except argon2.exceptions.VerificationError:
            ok = False
        except argon2.exceptions.InvalidHash:
            ok = False
    elif fmt.startswith("passlib-pbkdf2"):
        digest = fmt.rsplit("-", 1)[1]
        _, _, rounds, salt, chk = e.split("$")
        unab = lambda s: base64.b64decode(s.replace(".", "+") + "=" * (-len(s) % 4))  # noqa: E731
        want = unab(chk)
        ok = hashlib.pbkdf2_hmac(digest, pw.encode(), unab(salt), int(rounds), len(want)) == want
    elif fmt.startswith("django-pbkdf2"):
        ok = check_password(pw, e)
    else:
        raise AssertionError(v["id"])
    assert ok == truth, (v["id"], ok)


def main():
    bcrypt_vectors()
    argon2_vectors()
    passlib_vectors()
    django_vectors()
    keycloak_vectors()
    ids = [v["id"] for v in vectors]
    assert len(ids) == len(set(ids)), "duplicate vector ids"
    for v in vectors:
        self_check(v)
    realm, realm_passwords = keycloak_realm_export()
    out = {
        "generated_by": "tests/unit/password/vectors/make_vectors.py",
        "libraries": {"passlib": passlib.__version__, "bcrypt": bcrypt_module.__version__,
                      "argon2-cffi": argon2.__version__, "django": django.get_version()},
        "limits": {"pbkdf2_iterations": [1, PBKDF2_MAX_ITERATIONS],
                   "argon2_max_m_kib": ARGON2_MAX_M_KIB, "argon2_max_t": ARGON2_MAX_T,
                   "argon2_max_p": ARGON2_MAX_P},
        "groups": {
            "formats": "real hashes of `password`: verify() is true",
            "wrong_password": "a real hash with another password: false",
            "tampered": "one field of a real hash changed: false",
            "malformed": "not a well-formed hash of a supported format: false",
            "limits": "parameters at a limit (true) and beyond it (false, even for a real hash)",
            "import_limits": "argon2id beyond the import limits: the importer refuses them; "
                             "verify() is not pinned (Gatehouse's own argon2id may go further)",
        },
        "vectors": vectors,
        "keycloak_invalid": keycloak_invalid(),
        "keycloak_realm_export": realm,
        "keycloak_realm_passwords": realm_passwords,
    }
    path = pathlib.Path(__file__).resolve().parent / "imported_hashes.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(vectors)} vectors")


if __name__ == "__main__":
    main()
