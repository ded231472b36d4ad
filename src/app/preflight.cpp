#include "app/preflight.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "app/keys.hpp"
#include "app/server_main.hpp"
#include "core/ascii.hpp"
#include "crypto/pkey.hpp"
#include "jose/jwk.hpp"
#include "mail/mime.hpp"
#include "mail/templates.hpp"
#include "ui/return_to.hpp"
#include "webauthn/attestation.hpp"

namespace gatehouse::app {
namespace {

// The lower-case host of an http(s) origin, without port ("[::1]" for IPv6).
std::string hostOf(const std::string& origin) {
  const auto scheme = origin.find("://");
  std::string host = scheme == std::string::npos ? origin : origin.substr(scheme + 3);
  if (host.empty()) return host;
  if (host.front() == '[') return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

std::string publicOrigin(const config::Config& config) {
  const std::string url = config.public_url.value_or(
      "http://" +
      (config.listen_host.find(':') != std::string::npos ? "[" + config.listen_host + "]"
                                                         : config.listen_host) +
      ":" + std::to_string(config.listen_port));
  return ui::originOf(url).value_or(url);
}

// The data directory holds generated keys: it must exist and be writable, or be creatable.
void checkDataDir(const config::Config& config, std::vector<std::string>& problems) {
  std::filesystem::path dir = std::filesystem::absolute(config.data_dir);
  while (!std::filesystem::exists(dir) && dir.has_parent_path() && dir != dir.parent_path())
    dir = dir.parent_path();
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    problems.push_back("GATEHOUSE_DATA_DIR: " + dir.string() + " is not writable by this user");
}

// The keys in the database open with this node's key-encryption key; a key file of the old layout
// that would be imported (the database holds no key of ALGORITHM) fits it. Nothing is made: a
// SQLite file that does not exist is not created, and no key-encryption key is generated.
void checkStoredKeys(const config::Config& config, std::vector<std::string>& problems) {
  bool ring_signs = false;
  std::error_code ec;
  if (config.sqlite_path.empty() || std::filesystem::exists(config.sqlite_path, ec)) {
    auto store = store::openStore(config.database_url, 1);
    if (!store) {
      problems.push_back("DATABASE_URL: " + store.error().message);
      return;
    }
    // A database of an older version has no key ring yet: nothing stored to check.
    const auto rows = (*store)->keyRing().list();
    const std::string alg(jose::algorithmName(config.algorithm));
    ring_signs = rows && std::any_of(rows->begin(), rows->end(), [&](const auto& row) {
                   return row.purpose == "token" && row.alg == alg;
                 });
    core::SystemClock clock;
    if (rows && !rows->empty()) {
      if (auto ok = checkKeys(config, **store, clock); !ok) problems.push_back(ok.error().message);
    }
  }
  const auto pem_path = config.data_dir / "signing_key.pem";
  if (!ring_signs && !jose::isHmac(config.algorithm) && std::filesystem::exists(pem_path, ec)) {
    std::ifstream in(pem_path, std::ios::binary);
    std::ostringstream pem;
    pem << in.rdbuf();
    auto pkey = in ? crypto::privateKeyFromPem(pem.str())
                   : core::Result<crypto::SharedPkey>(
                         core::makeError(core::Errc::Unavailable, "cannot read it"));
    auto key = pkey ? jose::Key::asymmetric(config.algorithm, *pkey)
                    : core::Result<jose::Key>(tl::unexpected(pkey.error()));
    if (!key)
      problems.push_back("ALGORITHM: " + pem_path.string() + " does not fit " +
                         std::string(jose::algorithmName(config.algorithm)) + ": " +
                         key.error().message);
  }
}

// The key files serve reads are readable; the key-encryption key file holds a key.
void checkKeyFiles(const config::Config& config, std::vector<std::string>& problems) {
  for (const char* name : {"secret_key", "mfa_secret_key", "key_encryption_key"}) {
    const auto path = config.data_dir / name;
    std::error_code ec;
    if (std::filesystem::exists(path, ec) && !std::ifstream(path).good())
      problems.push_back("GATEHOUSE_DATA_DIR: cannot read " + path.string());
  }
  // The key-encryption key file is read as serve reads it.
  if (config.key_encryption_key_file) {
    if (auto kek = loadKek(config, false); !kek) problems.push_back(kek.error().message);
  }
}

void checkWeb(const config::Config& config, std::vector<std::string>& problems) {
  const std::string own = publicOrigin(config);
  if (!config.session_cookie_domain.empty()) {
    // Browsers refuse a cookie whose Domain does not cover the host that sets it.
    const std::string host = hostOf(own);
    std::string domain = core::lowerAscii(config.session_cookie_domain);
    if (domain.front() == '.') domain.erase(0, 1);
    if (host != domain && !host.ends_with("." + domain))
      problems.push_back("SESSION_COOKIE_DOMAIN: " + config.session_cookie_domain +
                         " does not cover GATEHOUSE_PUBLIC_URL's host " + host);
  }
  const std::string rp_id = config.webauthn_rp_id.value_or(hostOf(own));
  if (rp_id.empty()) problems.push_back("GATEHOUSE_PUBLIC_URL: names no host");
  const bool address = rp_id.empty() || rp_id.front() == '[' ||
                       rp_id.find_first_not_of("0123456789.") == std::string::npos;
  for (const auto& url : config.webauthn_origins) {
    const auto origin = ui::originOf(url);
    if (!origin) {
      problems.push_back("WEBAUTHN_ORIGINS: not an http(s) origin: " + url);
      continue;
    }
    const std::string host = hostOf(*origin);
    if (!address && host != rp_id && !host.ends_with("." + rp_id))
      problems.push_back("WEBAUTHN_ORIGINS: " + *origin + " is not " + rp_id +
                         " or under it (WEBAUTHN_RP_ID)");
  }
  if (!config.webauthn_trust_store.empty()) {
    if (auto trust = webauthn::loadTrustStore(config.webauthn_trust_store); !trust)
      problems.push_back("WEBAUTHN_TRUST_STORE: " + trust.error().message);
  }
}

}  // namespace

std::vector<std::string> preflight(const config::Config& config, bool open_database) {
  std::vector<std::string> problems;
  // A CA bundle without a certificate would fail only at the first connection that needs it.
  for (const auto& [name, path] :
       {std::pair<const char*, std::string>{"OIDC_CA_FILE", config.oidc_ca_file},
        {"SMTP_CA_FILE", config.mail.smtp_ca_file},
        {"REDIS_CA_FILE", config.redis_ca_file}}) {
    if (path.empty()) continue;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos)
      problems.push_back(std::string(name) + ": " + path + " holds no PEM certificate");
  }
  if (auto policy = loadPolicy(config); !policy) {
    problems.push_back(policy.error().message);
  } else {
    // A misspelt role here would silently require nothing.
    for (const auto& role : config.mfa_required_roles)
      if (!policy->hasRole(role)) problems.push_back("MFA_REQUIRED_ROLES: no role named " + role);
  }
  if (auto templates = mail::Templates::load(config.mail.template_dir); !templates)
    problems.push_back("GATEHOUSE_TEMPLATE_DIR: " + templates.error().message);
  if (config.mail.configured() && !mail::addressOf(config.mail.smtp_from))
    problems.push_back("SMTP_FROM: must be one address, optionally with a display name");
  checkWeb(config, problems);
  checkDataDir(config, problems);
  checkKeyFiles(config, problems);
  if (open_database) checkStoredKeys(config, problems);
  return problems;
}

}  // namespace gatehouse::app
