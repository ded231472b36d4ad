#!/usr/bin/python3
"""Writes tests/testdata/password_fixtures.json: hashes made by Debian's python3-passlib,
python3-bcrypt and python3-argon2, which the C++ unit tests must verify.

Run with Debian's Python: /usr/bin/python3 tests/interop/make_password_fixtures.py
"""
import json
import pathlib

import argon2
import bcrypt
from passlib.hash import argon2 as passlib_argon2
from passlib.hash import bcrypt as passlib_bcrypt

PASSWORDS = ["Correct-Horse-9", "pässwörd-ÜTF8-✓", "x" * 72]


def fixtures():
    out = []
    for pw in PASSWORDS:
        out.append({"source": "python3-bcrypt $2b$",
                    "password": pw,
                    "hash": bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=5)).decode()})
        out.append({"source": "python3-bcrypt $2a$",
                    "password": pw,
                    "hash": bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=5, prefix=b"2a")).decode()})
        out.append({"source": "passlib bcrypt $2y$",
                    "password": pw,
                    "hash": passlib_bcrypt.using(rounds=5, ident="2y").hash(pw)})
        out.append({"source": "passlib bcrypt $2b$ (the seed's CryptContext)",
                    "password": pw,
                    "hash": passlib_bcrypt.using(rounds=12).hash(pw)})
        out.append({"source": "argon2-cffi defaults",
                    "password": pw,
                    "hash": argon2.PasswordHasher().hash(pw)})
        out.append({"source": "argon2-cffi OWASP minimum",
                    "password": pw,
                    "hash": argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash(pw)})
        out.append({"source": "passlib argon2",
                    "password": pw,
                    "hash": passlib_argon2.using(type="ID").hash(pw)})
    return out


if __name__ == "__main__":
    path = pathlib.Path(__file__).resolve().parents[1] / "testdata" / "password_fixtures.json"
    path.write_text(json.dumps(fixtures(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}")
