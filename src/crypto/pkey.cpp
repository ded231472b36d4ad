#include "crypto/pkey.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <vector>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

namespace gatehouse::crypto {
namespace {

using core::Errc;
using core::makeError;

struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, ParamFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

BnPtr toBn(std::string_view bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

std::string fromBn(const BIGNUM* bn, int pad_to = 0) {
  const int len = pad_to > 0 ? pad_to : BN_num_bytes(bn);
  std::string out(static_cast<std::size_t>(len), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
  return out;
}

const char* curveGroupName(Curve c) {
  switch (c) {
    case Curve::P256:
      return "prime256v1";
    case Curve::P384:
      return "secp384r1";
    case Curve::P521:
      return "secp521r1";
  }
  return "";
}

core::Result<SharedPkey> fromData(const char* type, OSSL_PARAM_BLD* bld, bool is_private) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return makeError(Errc::Internal, "EVP_PKEY_fromdata_init failed: " + lastOpensslError());
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                        params.get()) != 1) {
    return makeError(Errc::InvalidArgument, "key rejected: " + lastOpensslError());
  }
  SharedPkey key = adoptPkey(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return makeError(Errc::InvalidArgument, "public key fails validation: " + lastOpensslError());
  }
  if (is_private && EVP_PKEY_pairwise_check(check.get()) != 1) {
    return makeError(Errc::InvalidArgument, "private key does not match public key");
  }
  return key;
}

core::Result<std::string> getBn(const EVP_PKEY* key, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    ERR_clear_error();
    return makeError(Errc::NotFound, std::string("missing key parameter ") + name);
  }
  BnPtr bn(raw);
  return fromBn(bn.get());
}

core::Result<std::string> bioToString(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return makeError(Errc::Internal, "empty PEM output");
  return std::string(data, static_cast<std::size_t>(len));
}

struct SecureFree {
  void operator()(char* p) const noexcept { OPENSSL_secure_free(p); }
};
struct Pkcs8Free {
  void operator()(PKCS8_PRIV_KEY_INFO* p) const noexcept { PKCS8_PRIV_KEY_INFO_free(p); }
};
// The sequence's integers are a private key's numbers: wiped before they are freed.
struct SequenceFree {
  void operator()(ASN1_SEQUENCE_ANY* p) const noexcept {
    for (int i = 0; i < sk_ASN1_TYPE_num(p); ++i) {
      ASN1_TYPE* field = sk_ASN1_TYPE_value(p, i);
      if (ASN1_TYPE_get(field) == V_ASN1_INTEGER && field->value.integer != nullptr) {
        OPENSSL_cleanse(field->value.integer->data,
                        static_cast<std::size_t>(field->value.integer->length));
      }
    }
    sk_ASN1_TYPE_pop_free(p, ASN1_TYPE_free);
  }
};
struct ClearBnFree {
  void operator()(BIGNUM* p) const noexcept { BN_clear_free(p); }
};
// What PEM_read_bio_ex hands back, allocated as OpenSSL's secure memory (its secure heap where
// one is set up, else the ordinary one) and cleared on release: the DER is a private key.
struct PemBlock {
  std::unique_ptr<char, SecureFree> name, header;
  unsigned char* der = nullptr;
  long length = 0;
  PemBlock() = default;
  PemBlock(const PemBlock&) = delete;
  PemBlock& operator=(const PemBlock&) = delete;
  ~PemBlock() { OPENSSL_secure_clear_free(der, static_cast<std::size_t>(length)); }
};
}  // namespace

std::string lastOpensslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  std::array<char, 256> buf{};
  ERR_error_string_n(code, buf.data(), buf.size());
  return buf.data();
}

std::size_t curveFieldBytes(Curve c) {
  switch (c) {
    case Curve::P256:
      return 32;
    case Curve::P384:
      return 48;
    case Curve::P521:
      return 66;
  }
  return 0;
}

std::string_view curveJwkName(Curve c) {
  switch (c) {
    case Curve::P256:
      return "P-256";
    case Curve::P384:
      return "P-384";
    case Curve::P521:
      return "P-521";
  }
  return "";
}

std::optional<Curve> curveFromJwkName(std::string_view name) {
  if (name == "P-256") return Curve::P256;
  if (name == "P-384") return Curve::P384;
  if (name == "P-521") return Curve::P521;
  return std::nullopt;
}

core::Result<SharedPkey> rsaFromComponents(const RsaComponents& c) {
  if (c.n.empty() || c.e.empty()) return makeError(Errc::InvalidArgument, "RSA key needs n and e");
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  std::vector<BnPtr> keep;
  const auto push = [&](const char* name, std::string_view bytes) {
    keep.push_back(toBn(bytes));
    return keep.back() && OSSL_PARAM_BLD_push_BN(bld.get(), name, keep.back().get()) == 1;
  };
  bool ok = bld && push(OSSL_PKEY_PARAM_RSA_N, c.n) && push(OSSL_PKEY_PARAM_RSA_E, c.e);
  const bool is_private = !c.d.empty();
  if (ok && is_private) {
    ok = push(OSSL_PKEY_PARAM_RSA_D, c.d);
    const bool has_crt =
        !c.p.empty() && !c.q.empty() && !c.dp.empty() && !c.dq.empty() && !c.qi.empty();
    if (ok && has_crt) {
      ok = push(OSSL_PKEY_PARAM_RSA_FACTOR1, c.p) && push(OSSL_PKEY_PARAM_RSA_FACTOR2, c.q) &&
           push(OSSL_PKEY_PARAM_RSA_EXPONENT1, c.dp) && push(OSSL_PKEY_PARAM_RSA_EXPONENT2, c.dq) &&
           push(OSSL_PKEY_PARAM_RSA_COEFFICIENT1, c.qi);
    }
  }
  if (!ok) return makeError(Errc::Internal, "building RSA parameters failed");
  return fromData("RSA", bld.get(), is_private);
}

core::Result<SharedPkey> ecFromComponents(const EcComponents& c) {
  const std::size_t field = curveFieldBytes(c.curve);
  // RFC 7518 §6.2.1.2: coordinates are exactly the field size, so a P-256 point named P-384
  // (or a truncated coordinate) is refused rather than reinterpreted.
  if (c.x.size() != field || c.y.size() != field) {
    return makeError(Errc::InvalidArgument, "EC coordinate length does not match the curve");
  }
  if (!c.d.empty() && c.d.size() != field) {
    return makeError(Errc::InvalidArgument, "EC private scalar length does not match the curve");
  }
  std::string point;
  point.reserve(1 + 2 * field);
  point.push_back('\x04');
  point += c.x;
  point += c.y;
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  BnPtr d = c.d.empty() ? nullptr : toBn(c.d);
  bool ok = bld &&
            OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                            curveGroupName(c.curve), 0) == 1 &&
            OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                             point.size()) == 1;
  if (ok && d) ok = OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) == 1;
  if (!ok) return makeError(Errc::Internal, "building EC parameters failed");
  return fromData("EC", bld.get(), d != nullptr);
}

core::Result<SharedPkey> ed25519FromComponents(const OkpComponents& c) {
  if (c.x.size() != 32)
    return makeError(Errc::InvalidArgument, "Ed25519 public key must be 32 bytes");
  if (c.d.empty()) {
    EVP_PKEY* raw = EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(c.x.data()), c.x.size());
    if (raw == nullptr) return makeError(Errc::InvalidArgument, "Ed25519 public key rejected");
    return adoptPkey(raw);
  }
  if (c.d.size() != 32)
    return makeError(Errc::InvalidArgument, "Ed25519 private key must be 32 bytes");
  EVP_PKEY* raw = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(c.d.data()), c.d.size());
  if (raw == nullptr) return makeError(Errc::InvalidArgument, "Ed25519 private key rejected");
  SharedPkey key = adoptPkey(raw);
  auto derived = ed25519Components(key.get(), false);
  if (!derived || derived->x != c.x) {
    return makeError(Errc::InvalidArgument, "Ed25519 private key does not match public key");
  }
  return key;
}

std::optional<KeyType> keyType(const EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) return KeyType::Rsa;
  if (EVP_PKEY_is_a(key, "EC")) return KeyType::Ec;
  if (EVP_PKEY_is_a(key, "ED25519")) return KeyType::Ed25519;
  return std::nullopt;
}

std::optional<Curve> ecCurve(const EVP_PKEY* key) {
  std::array<char, 64> name{};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name.data(), name.size(),
                                     &len) != 1) {
    return std::nullopt;
  }
  const std::string_view n(name.data(), len);
  if (n == "prime256v1" || n == "P-256") return Curve::P256;
  if (n == "secp384r1" || n == "P-384") return Curve::P384;
  if (n == "secp521r1" || n == "P-521") return Curve::P521;
  return std::nullopt;
}

bool hasPrivate(const EVP_PKEY* key) {
  switch (keyType(key).value_or(KeyType::Rsa)) {
    case KeyType::Rsa: {
      BIGNUM* d = nullptr;
      const bool has = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_D, &d) == 1;
      BN_clear_free(d);
      ERR_clear_error();
      return has;
    }
    case KeyType::Ec: {
      BIGNUM* d = nullptr;
      const bool has = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1;
      BN_clear_free(d);
      ERR_clear_error();
      return has;
    }
    case KeyType::Ed25519: {
      std::size_t len = 0;
      const bool has = EVP_PKEY_get_raw_private_key(key, nullptr, &len) == 1;
      ERR_clear_error();
      return has;
    }
  }
  return false;
}

int keyBits(const EVP_PKEY* key) { return EVP_PKEY_get_bits(key); }

core::Result<RsaComponents> rsaComponents(const EVP_PKEY* key, bool include_private) {
  RsaComponents c;
  auto n = getBn(key, OSSL_PKEY_PARAM_RSA_N);
  auto e = getBn(key, OSSL_PKEY_PARAM_RSA_E);
  if (!n || !e) return makeError(Errc::InvalidArgument, "not an RSA key");
  c.n = std::move(*n);
  c.e = std::move(*e);
  if (include_private) {
    if (auto d = getBn(key, OSSL_PKEY_PARAM_RSA_D)) {
      c.d = std::move(*d);
      c.p = getBn(key, OSSL_PKEY_PARAM_RSA_FACTOR1).value_or("");
      c.q = getBn(key, OSSL_PKEY_PARAM_RSA_FACTOR2).value_or("");
      c.dp = getBn(key, OSSL_PKEY_PARAM_RSA_EXPONENT1).value_or("");
      c.dq = getBn(key, OSSL_PKEY_PARAM_RSA_EXPONENT2).value_or("");
      c.qi = getBn(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1).value_or("");
    }
  }
  return c;
}

core::Result<EcComponents> ecComponents(const EVP_PKEY* key, bool include_private) {
  auto curve = ecCurve(key);
  if (!curve) return makeError(Errc::InvalidArgument, "not an EC key on a supported curve");
  const std::size_t field = curveFieldBytes(*curve);
  BIGNUM* x = nullptr;
  BIGNUM* y = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
      EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
    BN_free(x);
    BN_free(y);
    return makeError(Errc::Internal, "reading EC point failed: " + lastOpensslError());
  }
  BnPtr bx(x);
  BnPtr by(y);
  EcComponents c;
  c.curve = *curve;
  c.x = fromBn(bx.get(), static_cast<int>(field));
  c.y = fromBn(by.get(), static_cast<int>(field));
  if (include_private) {
    BIGNUM* d = nullptr;
    if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1) {
      c.d = fromBn(d, static_cast<int>(field));
      BN_clear_free(d);
    }
    ERR_clear_error();
  }
  return c;
}

core::Result<OkpComponents> ed25519Components(const EVP_PKEY* key, bool include_private) {
  OkpComponents c;
  c.x.resize(32);
  std::size_t len = 32;
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(c.x.data()), &len) != 1 ||
      len != 32) {
    return makeError(Errc::InvalidArgument, "not an Ed25519 key");
  }
  if (include_private) {
    std::string d(32, '\0');
    len = 32;
    if (EVP_PKEY_get_raw_private_key(key, reinterpret_cast<unsigned char*>(d.data()), &len) == 1 &&
        len == 32) {
      c.d = std::move(d);
    }
    ERR_clear_error();
  }
  return c;
}

core::Result<SharedPkey> generateRsa(int bits) {
  if (bits < 2048) return makeError(Errc::InvalidArgument, "RSA keys must be at least 2048 bits");
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits));
  if (raw == nullptr) return makeError(Errc::Internal, "RSA keygen failed: " + lastOpensslError());
  return adoptPkey(raw);
}

core::Result<SharedPkey> generateEc(Curve curve) {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curveGroupName(curve));
  if (raw == nullptr) return makeError(Errc::Internal, "EC keygen failed: " + lastOpensslError());
  return adoptPkey(raw);
}

core::Result<SharedPkey> generateEd25519() {
  EVP_PKEY* raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (raw == nullptr)
    return makeError(Errc::Internal, "Ed25519 keygen failed: " + lastOpensslError());
  return adoptPkey(raw);
}

core::Result<std::string> privateKeyToPem(const EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return makeError(Errc::Internal, "PEM encoding failed: " + lastOpensslError());
  }
  return bioToString(bio.get());
}

core::Result<std::string> publicKeyToPem(const EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return makeError(Errc::Internal, "PEM encoding failed: " + lastOpensslError());
  }
  return bioToString(bio.get());
}

SharedPkey plainRsaPrivateKeyFromPem(std::string_view pem) {
  ERR_set_mark();  // whatever this path refuses is not the caller's error
  const auto refuse = [] {
    ERR_pop_to_mark();
    return SharedPkey{};
  };
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PemBlock block;
  char* name = nullptr;
  char* header = nullptr;
  const int read = bio ? PEM_read_bio_ex(bio.get(), &name, &header, &block.der, &block.length,
                                         PEM_FLAG_SECURE | PEM_FLAG_EAY_COMPATIBLE)
                       : 0;
  block.name.reset(name);
  block.header.reset(header);
  if (read != 1 || std::string_view(name) != "PRIVATE KEY" || *header != '\0') return refuse();
  const unsigned char* p = block.der;
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, Pkcs8Free> info(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, block.length));
  const unsigned char* key = nullptr;
  int key_length = 0;
  const X509_ALGOR* algorithm = nullptr;
  if (!info || p != block.der + block.length ||
      PKCS8_pkey_get0(nullptr, &key, &key_length, &algorithm, info.get()) != 1) {
    return refuse();
  }
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm);
  if (OBJ_obj2nid(oid) != NID_rsaEncryption) return refuse();
  // RFC 8017 A.1.2: RSAPrivateKey ::= SEQUENCE { version (0: two primes), n, e, d, p, q,
  // dp, dq, qi }. Version 1 (more primes) is the decoder's.
  // The generic parser below also takes a SEQUENCE whose tag says primitive; the decoder's RSA
  // template does not, so neither does this reader (found by tests/fuzz/pem_key_fuzz.cpp).
  if (key_length < 1 || key[0] != (V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED)) return refuse();
  const unsigned char* q = key;
  std::unique_ptr<ASN1_SEQUENCE_ANY, SequenceFree> fields(
      d2i_ASN1_SEQUENCE_ANY(nullptr, &q, key_length));
  constexpr std::array<const char*, 8> kNames = {
      OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,           OSSL_PKEY_PARAM_RSA_D,
      OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,     OSSL_PKEY_PARAM_RSA_EXPONENT1,
      OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  if (!fields || q != key + key_length ||
      sk_ASN1_TYPE_num(fields.get()) != static_cast<int>(kNames.size() + 1)) {
    return refuse();
  }
  // Non-negative integers only: a negative one (V_ASN1_NEG_INTEGER inside an INTEGER field) is
  // the decoder's to judge.
  for (int i = 0; i < sk_ASN1_TYPE_num(fields.get()); ++i) {
    const ASN1_TYPE* field = sk_ASN1_TYPE_value(fields.get(), i);
    if (ASN1_TYPE_get(field) != V_ASN1_INTEGER ||
        ASN1_STRING_type(field->value.integer) != V_ASN1_INTEGER) {
      return refuse();
    }
  }
  if (ASN1_INTEGER_get(sk_ASN1_TYPE_value(fields.get(), 0)->value.integer) != 0) return refuse();
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  std::array<std::unique_ptr<BIGNUM, ClearBnFree>, kNames.size()> values;
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    const ASN1_TYPE* field = sk_ASN1_TYPE_value(fields.get(), static_cast<int>(i + 1));
    // Secure numbers: the parameter block keeps them apart from the rest and clears them when
    // freed.
    values[i].reset(BN_secure_new());
    if (!bld || !values[i] || !ASN1_INTEGER_to_BN(field->value.integer, values[i].get()) ||
        OSSL_PARAM_BLD_push_BN(bld.get(), kNames[i], values[i].get()) != 1) {
      return refuse();
    }
  }
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    return refuse();
  }
  ERR_pop_to_mark();
  return adoptPkey(raw);
}

core::Result<SharedPkey> privateKeyFromPem(std::string_view pem) {
  if (SharedPkey rsa = plainRsaPrivateKeyFromPem(pem)) return rsa;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (raw == nullptr)
    return makeError(Errc::InvalidArgument, "not a PEM private key: " + lastOpensslError());
  return adoptPkey(raw);
}

core::Result<SharedPkey> publicKeyFromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (raw == nullptr)
    return makeError(Errc::InvalidArgument, "not a PEM public key: " + lastOpensslError());
  return adoptPkey(raw);
}

bool hasRocaFingerprint(std::string_view n) {
  // Nemec et al., "The Return of Coppersmith's Attack" (CCS 2017), §2.3: the vulnerable
  // generator makes every prime 65537^a mod M, so n mod r lies in the subgroup generated by
  // 65537 modulo each small prime r dividing M. A random modulus passes all of these tests with
  // negligible probability.
  static constexpr std::array<std::uint32_t, 38> kPrimes = {
      3,  5,  7,  11, 13, 17,  19,  23,  29,  31,  37,  41,  43,  47,  53,  59,  61,  67,  71,
      73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167};
  BnPtr modulus = toBn(n);
  if (!modulus) return false;
  for (const std::uint32_t r : kPrimes) {
    const BN_ULONG residue = BN_mod_word(modulus.get(), r);
    std::set<std::uint32_t> subgroup;
    std::uint32_t g = 65537U % r;
    std::uint32_t acc = 1;
    do {
      subgroup.insert(acc);
      acc = (acc * g) % r;
    } while (acc != 1);
    if (subgroup.count(static_cast<std::uint32_t>(residue)) == 0) return false;
  }
  return true;
}

}  // namespace gatehouse::crypto
