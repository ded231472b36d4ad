"""A software WebAuthn authenticator and client (Web Authentication Level 3), for the integration
tests of Gatehouse's passkeys. Only Debian's python3-cryptography and python3-cbor2.

What it sends is what a browser's `credential.toJSON()` gives (RegistrationResponseJSON and
AuthenticationResponseJSON: binary members base64url without padding), built the way the
specification builds it:

- clientDataJSON: `{"type","challenge","origin","crossOrigin"}` serialised compactly in that order
  (§5.8.1.1), plus `topOrigin` for a cross-origin call and any extra member;
- authenticator data (§6.1): rpIdHash(32) || flags(1) || signCount(4, big-endian) ||
  [aaguid(16) || credentialIdLength(2, big-endian) || credentialId || COSE public key];
- attestation object (§6.5): CBOR `{"fmt","attStmt","authData"}` in CTAP2 canonical order;
  formats `none` and `packed` (self attestation, or x5c from a throw-away CA, §8.2);
- assertion signature over authenticatorData || SHA-256(clientDataJSON), ECDSA signatures in
  ASN.1 DER (§6.5.5).

Algorithms ES256 (-7), EdDSA with Ed25519 (-8), RS256 (-257), ES384 (-35), ES512 (-36).

Everything a browser or an authenticator would never let through can be forced, for the abuse
tests: origin, RP ID (hash), type, crossOrigin, challenge, the UP/UV/BE/BS/AT/ED flags, the
signature counter, the credential id, the user handle, the attestation statement, raw bytes.

`python3 webauthn_support.py` runs a self-check: the W3C specification's own test vectors verify
with this module's verifier, and what this authenticator makes verifies too, for every algorithm
and format.
"""
import base64
import copy
import datetime
import hashlib
import io
import json
import os
import struct
import urllib.parse

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import NameOID

ES256, EDDSA, ES384, ES512, RS256 = -7, -8, -35, -36, -257
PS256 = -37  # not one of ours: an algorithm a server that did not offer it must refuse
ALGORITHMS = {ES256: "ES256", EDDSA: "EdDSA", RS256: "RS256", ES384: "ES384", ES512: "ES512"}

# Authenticator data flags (§6.1).
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80

# id-fido-gen-ce-aaguid (§8.2.1): the AAGUID in an attestation certificate.
AAGUID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")

_EC = {  # alg -> (curve, COSE crv, hash, coordinate length)
    ES256: (ec.SECP256R1, 1, hashes.SHA256, 32),
    ES384: (ec.SECP384R1, 2, hashes.SHA384, 48),
    ES512: (ec.SECP521R1, 3, hashes.SHA512, 66),
}
_CRV_TO_ALG = {crv: alg for alg, (_, crv, _, _) in _EC.items()}


# --- encodings ---------------------------------------------------------------------------------

def b64u(data):
    """base64url without padding (what toJSON() writes)."""
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def b64u_decode(text):
    text = text.strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256(data):
    return hashlib.sha256(data).digest()


def cbor(obj):
    """CTAP2 canonical CBOR (RFC 7049 §3.9 order: shorter keys first, then bytewise), definite
    lengths, shortest integer forms: what authenticators emit."""
    return cbor2.dumps(obj, canonical=True)


def cbor_head(major, n):
    """The initial bytes of a CBOR item of major type `major` with argument `n`."""
    if n < 24:
        return bytes([major << 5 | n])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | extra]) + n.to_bytes(size, "big")
    raise ValueError(n)


def cbor_map_raw(pairs, indefinite=False):
    """A CBOR map from (key, value) pairs as given: keys may repeat (duplicate keys), order is kept,
    and `indefinite` writes an indefinite-length map (0xbf ... 0xff). Values that are already
    `bytes` produced by this function can be spliced with `Raw`."""
    body = b"".join(_enc(k) + _enc(v) for k, v in pairs)
    if indefinite:
        return b"\xbf" + body + b"\xff"
    return cbor_head(5, len(pairs)) + body


class Raw(bytes):
    """Pre-encoded CBOR, spliced as is by cbor_map_raw."""


def _enc(value):
    return bytes(value) if isinstance(value, Raw) else cbor(value)


def indefinite_bytes(data, chunk=16):
    """An indefinite-length byte string (0x5f chunks... 0xff) holding `data`."""
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)] or [b""]
    return Raw(b"\x5f" + b"".join(cbor_head(2, len(c)) + c for c in chunks) + b"\xff")


# --- keys, COSE and signatures ------------------------------------------------------------------

def generate_key(alg):
    if alg in _EC:
        return ec.generate_private_key(_EC[alg][0]())
    if alg == EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    if alg in (RS256, PS256):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"unsupported algorithm {alg}")


def _int_bytes(n):
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")


def cose_key(public_key, alg):
    """The COSE_Key map (RFC 9052/9053) of a public key, for `alg`."""
    if alg in _EC:
        _, crv, _, size = _EC[alg]
        numbers = public_key.public_numbers()
        return {1: 2, 3: alg, -1: crv, -2: numbers.x.to_bytes(size, "big"),
                -3: numbers.y.to_bytes(size, "big")}
    if alg == EDDSA:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {1: 1, 3: EDDSA, -1: 6, -2: raw}
    if alg in (RS256, PS256):
        numbers = public_key.public_numbers()
        return {1: 3, 3: alg, -1: _int_bytes(numbers.n), -2: _int_bytes(numbers.e)}
    raise ValueError(f"unsupported algorithm {alg}")


def cose_to_public_key(key):
    """(public key, alg) of a decoded COSE_Key; ValueError when it is not one we know."""
    kty, alg = key.get(1), key.get(3)
    if kty == 2:
        crv = key[-1]
        if alg not in _EC or _EC[alg][1] != crv:
            raise ValueError(f"EC2 key with alg {alg} and crv {crv}")
        curve, _, _, size = _EC[alg]
        x, y = key[-2], key[-3]
        if len(x) != size or len(y) != size:
            raise ValueError("EC2 coordinates of the wrong length")
        return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                             curve()).public_key(), alg
    if kty == 1:
        if alg != EDDSA or key.get(-1) != 6:
            raise ValueError(f"OKP key with alg {alg} and crv {key.get(-1)}")
        return ed25519.Ed25519PublicKey.from_public_bytes(key[-2]), alg
    if kty == 3:
        if alg not in (RS256, PS256):
            raise ValueError(f"RSA key with alg {alg}")
        n, e = int.from_bytes(key[-1], "big"), int.from_bytes(key[-2], "big")
        return rsa.RSAPublicNumbers(e, n).public_key(), alg
    raise ValueError(f"unknown kty {kty}")


def sign(private_key, alg, data):
    if alg in _EC:
        return private_key.sign(data, ec.ECDSA(_EC[alg][2]()))  # DER, as WebAuthn uses
    if alg == EDDSA:
        return private_key.sign(data)
    if alg == RS256:
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == PS256:
        return private_key.sign(data, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    raise ValueError(f"unsupported algorithm {alg}")


def verify(public_key, alg, signature, data):
    """True when `signature` by `public_key` over `data` verifies for `alg`."""
    try:
        if alg in _EC:
            public_key.verify(signature, data, ec.ECDSA(_EC[alg][2]()))
        elif alg == EDDSA:
            public_key.verify(signature, data)
        elif alg == RS256:
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif alg == PS256:
            public_key.verify(signature, data, padding.PSS(padding.MGF1(hashes.SHA256()), 32),
                              hashes.SHA256())
        else:
            return False
        return True
    except InvalidSignature:
        return False


def spki_der(public_key):
    return public_key.public_bytes(serialization.Encoding.DER,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


# --- authenticator data -------------------------------------------------------------------------

def auth_data(rp_id_hash, flags, sign_count, attested=None, extensions=None):
    """Authenticator data (§6.1). `attested` is (aaguid, credential id, COSE key bytes)."""
    out = bytes(rp_id_hash) + bytes([flags]) + struct.pack(">I", sign_count & 0xFFFFFFFF)
    if attested is not None:
        aaguid, credential_id, key_bytes = attested
        out += bytes(aaguid) + struct.pack(">H", len(credential_id) & 0xFFFF) + bytes(credential_id)
        out += bytes(key_bytes)
    if extensions is not None:
        out += extensions if isinstance(extensions, bytes) else cbor(extensions)
    return out


def parse_auth_data(data):
    """Authenticator data back into its parts (a strict reader, for the self-check)."""
    if len(data) < 37:
        raise ValueError("authenticator data shorter than 37 bytes")
    parsed = {"rp_id_hash": data[:32], "flags": data[32],
              "sign_count": struct.unpack(">I", data[33:37])[0]}
    rest = data[37:]
    if parsed["flags"] & AT:
        if len(rest) < 18:
            raise ValueError("attested credential data too short")
        parsed["aaguid"] = rest[:16]
        length = struct.unpack(">H", rest[16:18])[0]
        parsed["credential_id"] = rest[18:18 + length]
        if len(parsed["credential_id"]) != length:
            raise ValueError("credential id runs past the end")
        rest = rest[18 + length:]
        stream = io.BytesIO(rest)
        parsed["public_key"] = cbor2.CBORDecoder(stream).decode()
        rest = rest[stream.tell():]
    if parsed["flags"] & ED:
        parsed["extensions"] = cbor2.loads(rest)
    elif rest:
        raise ValueError("bytes after the authenticator data")
    return parsed


# --- attestation CA -----------------------------------------------------------------------------

def _name(cn, ou=None, org="Gatehouse test authenticators", country="AA"):
    parts = [x509.NameAttribute(NameOID.COUNTRY_NAME, country),
             x509.NameAttribute(NameOID.ORGANIZATION_NAME, org)]
    if ou is not None:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou))
    parts.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(parts)


def _now():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


class AttestationCA:
    """A throw-away attestation root (and, with `intermediate`, an intermediate CA under it) that
    issues packed attestation certificates (§8.2.1: version 3, C, O, OU "Authenticator
    Attestation", CN, basic constraints CA false, the AAGUID extension)."""

    def __init__(self, name="Gatehouse test attestation root", intermediate=False):
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        subject = _name(name, ou="Authenticator Attestation CA")
        self.root_cert = self._ca_cert(subject, subject, self.root_key.public_key(), self.root_key)
        self.intermediate_key = self.intermediate_cert = None
        if intermediate:
            self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
            self.intermediate_cert = self._ca_cert(
                _name(name + " intermediate", ou="Authenticator Attestation CA"), subject,
                self.intermediate_key.public_key(), self.root_key, path_length=0)

    @staticmethod
    def _ca_cert(subject, issuer, public_key, signer, path_length=None):
        now = _now()
        return (x509.CertificateBuilder()
                .subject_name(subject).issuer_name(issuer).public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True, crl_sign=True,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                .sign(signer, hashes.SHA256()))

    def root_pem(self):
        return self.root_cert.public_bytes(serialization.Encoding.PEM)

    def write_trust_store(self, path):
        with open(path, "wb") as f:
            f.write(self.root_pem())
        return str(path)

    def issue(self, aaguid, *, ou="Authenticator Attestation", ca=False, aaguid_extension=True,
              not_before=None, not_after=None, key=None):
        """(attestation private key, x5c: [leaf DER, intermediate DER?]) for an authenticator
        model `aaguid`. `aaguid_extension` may be bytes to write another AAGUID, or False."""
        key = key or ec.generate_private_key(ec.SECP256R1())
        signer, issuer = ((self.intermediate_key, self.intermediate_cert.subject)
                          if self.intermediate_cert else (self.root_key, self.root_cert.subject))
        now = _now()
        builder = (x509.CertificateBuilder()
                   .subject_name(_name("Gatehouse software authenticator", ou=ou))
                   .issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before or now - datetime.timedelta(days=1))
                   .not_valid_after(not_after or now + datetime.timedelta(days=365))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                                key_encipherment=False, data_encipherment=False,
                                                key_agreement=False, key_cert_sign=ca, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True))
        if aaguid_extension is not False:
            value = aaguid if aaguid_extension is True else aaguid_extension
            builder = builder.add_extension(
                x509.UnrecognizedExtension(AAGUID_OID, b"\x04\x10" + bytes(value)), critical=False)
        leaf = builder.sign(signer, hashes.SHA256())
        chain = [leaf.public_bytes(serialization.Encoding.DER)]
        if self.intermediate_cert is not None:
            chain.append(self.intermediate_cert.public_bytes(serialization.Encoding.DER))
        return key, chain


# --- the authenticator --------------------------------------------------------------------------

class Credential:
    """One public key credential source held by the authenticator (§6: its private key, id, RP ID,
    user handle and signature counter)."""

    def __init__(self, alg, credential_id, rp_id, user_handle, private_key=None, sign_count=0,
                 backup_eligible=False, backed_up=False, discoverable=True):
        self.alg = alg
        self.credential_id = bytes(credential_id)
        self.rp_id = rp_id
        self.user_handle = user_handle
        self.private_key = private_key or generate_key(alg)
        self.public_key = self.private_key.public_key()
        self.sign_count = sign_count
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.discoverable = discoverable

    @property
    def id(self):
        return b64u(self.credential_id)

    def cose(self):
        return cose_key(self.public_key, self.alg)

    def sign(self, data):
        return sign(self.private_key, self.alg, data)

    def clone(self):
        """Another authenticator holding the same key (a cloned device): its counter is a copy."""
        return copy.copy(self)


_DEFAULT = object()


class Authenticator:
    """A software authenticator. `attestation`: "none", "self" (packed self attestation) or "x5c"
    (packed with a certificate from `ca`). `counter`: how much each assertion adds to a
    credential's counter (0: an authenticator without a counter, as most synced passkeys)."""

    def __init__(self, alg=ES256, attestation="none", ca=None, aaguid=None, transports=None,
                 attachment=None, backup_eligible=False, backed_up=False, user_verifying=True,
                 counter=1, discoverable=True):
        self.alg = alg
        self.attestation = attestation
        self.ca = ca
        self.aaguid = aaguid if aaguid is not None else (
            bytes(16) if attestation == "none" else os.urandom(16))
        platform = backup_eligible
        self.attachment = attachment or ("platform" if platform else "cross-platform")
        self.transports = list(transports) if transports is not None else (
            ["hybrid", "internal"] if self.attachment == "platform" else ["nfc", "usb"])
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.user_verifying = user_verifying
        self.counter = counter
        self.discoverable = discoverable
        self.credentials = {}  # credential id -> Credential
        self._attestation_key = None
        self._x5c = None

    def attestation_certificate(self):
        if self._x5c is None:
            assert self.ca is not None, "x5c attestation needs an AttestationCA"
            self._attestation_key, self._x5c = self.ca.issue(self.aaguid)
        return self._attestation_key, self._x5c

    def find(self, rp_id, allowed=None):
        """The credential an authenticator would use for `rp_id`: the newest one allowed."""
        for credential in reversed(list(self.credentials.values())):
            if credential.rp_id != rp_id:
                continue
            if allowed and credential.credential_id not in allowed:
                continue
            if not allowed and not credential.discoverable:
                continue
            return credential
        return None

    def flags(self, up, uv, be, bs, at=False, ed=False):
        return ((UP if up else 0) | (UV if uv else 0) | (BE if be else 0) | (BS if bs else 0)
                | (AT if at else 0) | (ED if ed else 0))

    def make_credential(self, rp_id, user_handle, client_data_hash, *, alg=None, credential_id=None,
                        up=True, uv=_DEFAULT, be=_DEFAULT, bs=_DEFAULT, at=True, ed=False,
                        extensions=None, sign_count=0, rp_id_hash=None, fmt=None, att_stmt=None,
                        cose_hook=None, auth_data_hook=None, attestation_object_hook=None,
                        private_key=None, store=True):
        """(Credential, attestation object bytes, authenticator data bytes) for §6.3.2
        authenticatorMakeCredential. The hooks see and may replace the COSE key map, the
        authenticator data (before anything signs it) and the attestation object's map."""
        alg = self.alg if alg is None else alg
        be = self.backup_eligible if be is _DEFAULT else be
        bs = self.backed_up if bs is _DEFAULT else bs
        uv = self.user_verifying if uv is _DEFAULT else uv
        credential = Credential(alg, credential_id if credential_id is not None else os.urandom(32),
                                rp_id, user_handle, private_key=private_key, sign_count=sign_count,
                                backup_eligible=be, backed_up=bs, discoverable=self.discoverable)
        key = credential.cose()
        if cose_hook is not None:
            key = cose_hook(key)
        key_bytes = key if isinstance(key, bytes) else cbor(key)
        data = auth_data(rp_id_hash if rp_id_hash is not None else sha256(rp_id.encode()),
                         self.flags(up, uv, be, bs, at=at, ed=ed), sign_count,
                         attested=(self.aaguid, credential.credential_id, key_bytes),
                         extensions=extensions)
        if auth_data_hook is not None:
            data = auth_data_hook(data)
        fmt = fmt or ("none" if self.attestation == "none" else "packed")
        if att_stmt is None:
            signed = data + client_data_hash
            if fmt == "none":
                att_stmt = {}
            elif self.attestation == "x5c":
                attestation_key, x5c = self.attestation_certificate()
                att_stmt = {"alg": ES256, "sig": sign(attestation_key, ES256, signed), "x5c": x5c}
            else:  # self attestation: the credential's own key, its own algorithm
                att_stmt = {"alg": alg, "sig": credential.sign(signed)}
        obj = {"fmt": fmt, "attStmt": att_stmt, "authData": data}
        if attestation_object_hook is not None:
            obj = attestation_object_hook(obj)
        attestation_object = obj if isinstance(obj, bytes) else cbor(obj)
        if store:
            self.credentials[credential.credential_id] = credential
        return credential, attestation_object, data

    def get_assertion(self, credential, rp_id, client_data_hash, *, up=True, uv=_DEFAULT,
                      be=_DEFAULT, bs=_DEFAULT, sign_count=None, rp_id_hash=None, flags=None,
                      extensions=None, auth_data_hook=None):
        """(authenticator data, signature) for §6.3.3 authenticatorGetAssertion. The counter
        grows by `counter` unless `sign_count` says what to write (and then it is kept)."""
        be = credential.backup_eligible if be is _DEFAULT else be
        bs = credential.backed_up if bs is _DEFAULT else bs
        uv = self.user_verifying if uv is _DEFAULT else uv
        if sign_count is None:
            credential.sign_count += self.counter
            sign_count = credential.sign_count
        else:
            credential.sign_count = sign_count
        if flags is None:
            flags = self.flags(up, uv, be, bs, ed=extensions is not None)
        data = auth_data(rp_id_hash if rp_id_hash is not None else sha256(rp_id.encode()),
                         flags, sign_count, extensions=extensions)
        if auth_data_hook is not None:
            data = auth_data_hook(data)
        return data, credential.sign(data + client_data_hash)


# --- the client (what the browser does) ---------------------------------------------------------

def public_key_options(options):
    """The PublicKeyCredential*OptionsJSON inside a server's answer (or the options themselves)."""
    if isinstance(options, dict) and "publicKey" in options:
        return options["publicKey"]
    return options


def client_data_json(type_, challenge, origin, cross_origin=False, top_origin=None, extra=None,
                     omit=()):
    """clientDataJSON as a browser serialises it (§5.8.1.1, compact, members in this order)."""
    members = [("type", type_), ("challenge", challenge), ("origin", origin),
               ("crossOrigin", cross_origin)]
    if top_origin is not None:
        members.append(("topOrigin", top_origin))
    for key, value in (extra or {}).items():
        members.append((key, value))
    members = [(k, v) for k, v in members if k not in omit]
    return ("{" + ",".join(json.dumps(k) + ":" + json.dumps(v, separators=(",", ":"))
                           for k, v in members) + "}").encode()


class Client:
    """The browser side for one origin: turns options JSON into what `credential.toJSON()` gives."""

    def __init__(self, origin):
        self.origin = origin

    def _rp_id(self, options, key):
        rp_id = options.get("rp", {}).get("id") if key == "rp" else options.get("rpId")
        return rp_id or urllib.parse.urlsplit(self.origin).hostname

    @staticmethod
    def _challenge(options, challenge):
        if challenge is None:
            # A browser decodes the options' challenge and encodes it again (no padding).
            return b64u(b64u_decode(options["challenge"]))
        return challenge if isinstance(challenge, str) else b64u(challenge)

    def _client_data(self, type_, options, challenge, origin, cross_origin, top_origin, client_data,
                     client_data_extra, client_data_omit):
        if client_data is not None:
            return client_data if isinstance(client_data, bytes) else client_data.encode()
        return client_data_json(type_, self._challenge(options, challenge),
                                self.origin if origin is None else origin,
                                cross_origin, top_origin, client_data_extra, client_data_omit)

    def create(self, authenticator, options, *, type="webauthn.create", challenge=None, origin=None,
               cross_origin=False, top_origin=None, client_data=None, client_data_extra=None,
               client_data_omit=(), rp_id=None, user_handle=None, transports=None, attachment=None,
               ignore_exclude=False, **authenticator_options):
        """navigator.credentials.create(): (RegistrationResponseJSON, the new Credential).
        Other keywords go to Authenticator.make_credential (alg, flags, sign_count, hooks...).
        Like a real authenticator, it refuses when it holds a credential of excludeCredentials,
        unless `ignore_exclude`."""
        options = public_key_options(options)
        rp_id = rp_id or self._rp_id(options, "rp")
        excluded = {b64u_decode(c["id"]) for c in options.get("excludeCredentials") or []}
        if not ignore_exclude and excluded & set(authenticator.credentials):
            raise AssertionError("InvalidStateError: the authenticator already holds an excluded credential")
        if user_handle is None:
            user_handle = b64u_decode(options["user"]["id"])
        data = self._client_data(type, options, challenge, origin, cross_origin, top_origin,
                                 client_data, client_data_extra, client_data_omit)
        if "alg" not in authenticator_options and options.get("pubKeyCredParams"):
            offered = [p.get("alg") for p in options["pubKeyCredParams"]]
            if authenticator.alg not in offered:
                raise AssertionError(f"the server does not offer {authenticator.alg}: {offered}")
        credential, attestation_object, auth = authenticator.make_credential(
            rp_id, user_handle, sha256(data), **authenticator_options)
        alg = credential.alg
        response = {"clientDataJSON": b64u(data), "authenticatorData": b64u(auth),
                    "transports": list(transports if transports is not None else authenticator.transports)}
        if alg in (ES256, EDDSA, RS256):  # what browsers can give as getPublicKey()
            response["publicKey"] = b64u(spki_der(credential.public_key))
        response["publicKeyAlgorithm"] = alg
        response["attestationObject"] = b64u(attestation_object)
        extension_results = {}
        if (options.get("extensions") or {}).get("credProps"):
            extension_results["credProps"] = {"rk": bool(authenticator.discoverable)}
        return ({"id": credential.id, "rawId": credential.id, "type": "public-key", "response": response,
                 "clientExtensionResults": extension_results,
                 "authenticatorAttachment": attachment or authenticator.attachment}, credential)

    def get(self, authenticator, options, credential=None, *, type="webauthn.get", challenge=None,
            origin=None, cross_origin=False, top_origin=None, client_data=None, client_data_extra=None,
            client_data_omit=(), rp_id=None, user_handle=_DEFAULT, credential_id=None, attachment=None,
            **authenticator_options):
        """navigator.credentials.get(): AuthenticationResponseJSON. `credential` defaults to the
        one the authenticator would choose (allowCredentials, else a discoverable one).
        `user_handle`: None to leave it out, bytes to send other bytes. `credential_id` sends
        another id than the credential's. Other keywords go to Authenticator.get_assertion."""
        options = public_key_options(options)
        rp_id = rp_id or self._rp_id(options, "rpId")
        if credential is None:
            allowed = {b64u_decode(c["id"]) for c in options.get("allowCredentials") or []}
            credential = authenticator.find(rp_id, allowed)
            assert credential is not None, "the authenticator holds no credential for this request"
        data = self._client_data(type, options, challenge, origin, cross_origin, top_origin,
                                 client_data, client_data_extra, client_data_omit)
        auth, signature = authenticator.get_assertion(credential, credential.rp_id, sha256(data),
                                                      **authenticator_options)
        response = {"clientDataJSON": b64u(data), "authenticatorData": b64u(auth),
                    "signature": b64u(signature)}
        handle = credential.user_handle if credential.discoverable else None
        if user_handle is not _DEFAULT:
            handle = user_handle
        if handle is not None:
            response["userHandle"] = b64u(handle)
        raw_id = b64u(credential_id) if credential_id is not None else credential.id
        return {"id": raw_id, "rawId": raw_id, "type": "public-key", "response": response,
                "clientExtensionResults": {},
                "authenticatorAttachment": attachment or authenticator.attachment}


# --- tampering ----------------------------------------------------------------------------------

def flip(b64, index, mask=0x01):
    """A base64url value with one byte of its content changed (XOR `mask` at `index`, negative
    indexes from the end)."""
    data = bytearray(b64u_decode(b64))
    data[index] ^= mask
    return b64u(bytes(data))


def tampered(credential_json, member, index, mask=0x01):
    """A deep copy of a credential JSON with one byte of response[member] changed."""
    out = copy.deepcopy(credential_json)
    out["response"][member] = flip(out["response"][member], index, mask)
    return out


# --- a verifier (for the self-check: the server has its own) -----------------------------------

def verify_registration(credential_json, challenge, origin, rp_id, trust_roots=None):
    """A strict reading of §7.1 on what `Client.create` produced; returns the parsed parts.
    Raises AssertionError or ValueError on anything wrong."""
    response = credential_json["response"]
    data = b64u_decode(response["clientDataJSON"])
    client = json.loads(data)
    assert client["type"] == "webauthn.create", client
    assert client["challenge"] == b64u(challenge), client
    assert client["origin"] == origin and client.get("crossOrigin") is False, client
    att = cbor2.loads(b64u_decode(response["attestationObject"]))
    assert cbor(att) == b64u_decode(response["attestationObject"]), "not canonical CBOR"
    auth = parse_auth_data(att["authData"])
    assert auth["rp_id_hash"] == sha256(rp_id.encode())
    assert auth["flags"] & UP and auth["flags"] & AT
    assert not (auth["flags"] & BS and not auth["flags"] & BE)
    assert b64u(auth["credential_id"]) == credential_json["id"] == credential_json["rawId"]
    public_key, alg = cose_to_public_key(auth["public_key"])
    signed = att["authData"] + sha256(data)
    if att["fmt"] == "none":
        assert att["attStmt"] == {}
        kind = "none"
    elif att["fmt"] == "packed" and "x5c" not in att["attStmt"]:
        assert att["attStmt"]["alg"] == alg
        assert verify(public_key, alg, att["attStmt"]["sig"], signed), "self attestation signature"
        kind = "self"
    elif att["fmt"] == "packed":
        leaf = x509.load_der_x509_certificate(att["attStmt"]["x5c"][0])
        assert verify(leaf.public_key(), att["attStmt"]["alg"], att["attStmt"]["sig"], signed)
        ou = leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
        assert ou == "Authenticator Attestation"
        assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        try:  # optional; when present it must name the authenticator data's AAGUID
            ext = leaf.extensions.get_extension_for_oid(AAGUID_OID).value.value
            assert ext == b"\x04\x10" + auth["aaguid"]
        except x509.ExtensionNotFound:
            pass
        chain = [x509.load_der_x509_certificate(c) for c in att["attStmt"]["x5c"]] + list(trust_roots or [])
        for child, parent in zip(chain, chain[1:]):
            parent.public_key().verify(child.signature, child.tbs_certificate_bytes,
                                       ec.ECDSA(child.signature_hash_algorithm))
        kind = "x5c"
    else:
        raise AssertionError(att["fmt"])
    return {"auth": auth, "public_key": public_key, "alg": alg, "kind": kind}


def verify_assertion(credential_json, challenge, origin, rp_id, public_key, alg):
    response = credential_json["response"]
    data = b64u_decode(response["clientDataJSON"])
    client = json.loads(data)
    assert client["type"] == "webauthn.get" and client["challenge"] == b64u(challenge), client
    assert client["origin"] == origin, client
    auth_bytes = b64u_decode(response["authenticatorData"])
    auth = parse_auth_data(auth_bytes)
    assert auth["rp_id_hash"] == sha256(rp_id.encode()) and auth["flags"] & UP
    assert verify(public_key, alg, b64u_decode(response["signature"]), auth_bytes + sha256(data))
    return auth


# --- self-check ---------------------------------------------------------------------------------

def _spec_vectors(path):
    """(title, {name: bytes}) of each example of the W3C test-vector appendix that has hex values."""
    import re
    text = open(path, encoding="utf-8").read()
    sections = re.split(r"^## (.+?) ## \{#", text, flags=re.M)
    for title, body in zip(sections[1::2], sections[2::2]):
        blocks = re.findall(r"<xmp[^>]*>(.*?)</xmp>", body, flags=re.S)
        parsed = []
        for block in blocks:
            values = {}
            for name, value in re.findall(r"^(\w+) = h'([0-9a-f]*)'", block, flags=re.M):
                values[name] = bytes.fromhex(value)
            parsed.append(values)
        yield title, parsed


def self_check(vectors=None):
    """Raises on the first problem; returns a list of what was checked."""
    checked = []
    # 1. The specification's vectors verify with this module's reader and verifier: the
    #    authenticator data layout, COSE keys and signature encodings are the spec's.
    if vectors and os.path.exists(vectors):
        spec = "WebAuthn test vectors"
        for title, blocks in _spec_vectors(vectors):
            if len(blocks) < 2 or "attestationObject" not in blocks[0] or "signature" not in blocks[1]:
                continue
            reg, authn = blocks[0], blocks[1]
            att = cbor2.loads(reg["attestationObject"])
            if att["fmt"] not in ("none", "packed"):
                continue
            parts = parse_auth_data(att["authData"])
            try:
                public_key, alg = cose_to_public_key(parts["public_key"])
            except ValueError:
                continue  # Ed448 and other keys outside our five
            client = json.loads(reg["clientDataJSON"])
            origin = client["origin"]
            rp_id = urllib.parse.urlsplit(origin).hostname
            cred = {"id": b64u(parts["credential_id"]), "rawId": b64u(parts["credential_id"]),
                    "response": {"clientDataJSON": b64u(reg["clientDataJSON"]),
                                 "attestationObject": b64u(reg["attestationObject"])}}
            if client.get("crossOrigin") is not False:
                continue
            if att["fmt"] == "packed" and "x5c" in att["attStmt"]:
                root_hex = None
                for t, b in _spec_vectors(vectors):
                    if "attestation_ca_cert" in (b[0] if b else {}):
                        root_hex = b[0]["attestation_ca_cert"]
                roots = [x509.load_der_x509_certificate(root_hex)] if root_hex else []
                verify_registration(cred, reg["challenge"], origin, rp_id, roots)
            else:
                verify_registration(cred, reg["challenge"], origin, rp_id)
            assertion = {"response": {"clientDataJSON": b64u(authn["clientDataJSON"]),
                                      "authenticatorData": b64u(authn["authenticatorData"]),
                                      "signature": b64u(authn["signature"])}}
            verify_assertion(assertion, authn["challenge"], origin, rp_id, public_key, alg)
            checked.append(f"{spec}: {title} ({ALGORITHMS[alg]}, {att['fmt']})")

    # 2. This authenticator's output verifies, for every algorithm and attestation.
    origin, rp_id = "http://localhost:8000", "localhost"
    client = Client(origin)
    ca = AttestationCA(intermediate=True)
    for alg in ALGORITHMS:
        for attestation in ("none", "self", "x5c"):
            authenticator = Authenticator(alg=alg, attestation=attestation, ca=ca,
                                          backup_eligible=alg == EDDSA, backed_up=alg == EDDSA)
            challenge = os.urandom(32)
            options = {"publicKey": {"rp": {"id": rp_id, "name": "Gatehouse"},
                                     "user": {"id": b64u(os.urandom(32)), "name": "u", "displayName": "u"},
                                     "challenge": b64u(challenge),
                                     "pubKeyCredParams": [{"type": "public-key", "alg": a} for a in ALGORITHMS],
                                     "extensions": {"credProps": True}}}
            made, credential = client.create(authenticator, options)
            assert set(made) == {"id", "rawId", "type", "response", "clientExtensionResults",
                                 "authenticatorAttachment"}
            assert made["clientExtensionResults"] == {"credProps": {"rk": True}}
            assert "=" not in json.dumps(made), "base64url without padding"
            parts = verify_registration(made, challenge, origin, rp_id, [ca.root_cert])
            assert parts["kind"] == attestation, (parts["kind"], attestation)
            assert parts["alg"] == alg and parts["auth"]["sign_count"] == 0
            challenge = os.urandom(32)
            got = client.get(authenticator, {"challenge": b64u(challenge), "rpId": rp_id,
                                             "allowCredentials": [], "userVerification": "required"})
            assert b64u_decode(got["response"]["userHandle"]) == credential.user_handle
            auth = verify_assertion(got, challenge, origin, rp_id, parts["public_key"], alg)
            assert auth["sign_count"] == 1 and auth["flags"] & UV
            assert bool(auth["flags"] & BE) == (alg == EDDSA)
            # A changed byte anywhere in what is signed breaks the signature.
            for member, index in (("authenticatorData", 34), ("clientDataJSON", 20), ("signature", 12)):
                try:
                    verify_assertion(tampered(got, member, index), challenge, origin, rp_id,
                                     parts["public_key"], alg)
                except (AssertionError, ValueError):
                    continue
                raise AssertionError(f"a changed {member} still verified ({alg})")
            checked.append(f"authenticator: {ALGORITHMS[alg]} {attestation}")
    # 3. Raw CBOR helpers.
    assert cbor_map_raw([("a", 1), ("a", 2)]) == bytes.fromhex("a2616101616102")
    assert cbor_map_raw([("a", 1)], indefinite=True) == bytes.fromhex("bf616101ff")
    assert cbor2.loads(indefinite_bytes(b"x" * 40)) == b"x" * 40
    assert cbor({"fmt": "none", "attStmt": {}, "authData": b""})[:5] == bytes.fromhex("a363666d74")
    checked.append("raw CBOR helpers")
    return checked


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    vectors = os.path.join(here, "..", "..", "..", "shared", "vectors", "webauthn", "test-vectors.bs")
    for line in self_check(vectors):
        print("ok:", line)
