#include "app/preflight.hpp"

#include <cstdio>
#include <unistd.h>

#include "app/keys.hpp"
#include "app/server_main.hpp"
#include "cli/database.hpp"
#include "core/files.hpp"
#include "crypto/pem_certificates.hpp"
#include "jose/jwk.hpp"
#include "mail/mime.hpp"
#include "state/redis.hpp"

namespace gatehouse::app {
namespace {

// The data directory holds generated keys: it must exist and be writable, or be creatable.
void checkDataDir(const config::Config& config, std::vector<std::string>& problems) {
  std::filesystem::path dir = std::filesystem::absolute(config.data_dir);
  while (!std::filesystem::exists(dir) && dir.has_parent_path() && dir != dir.parent_path())
    dir = dir.parent_path();
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    problems.push_back("GATEHOUSE_DATA_DIR: " + dir.string() + " is not writable by this user");
}

// The keys in the database open with this node's key-encryption key; a key file of the old layout
// that would be imported (the ring never held a token key, or holds no master secret) fits it.
// Nothing is made: a SQLite file that does not exist is not created, and no key-encryption key is
// generated.
// What the database holds, as far as the check could tell.
enum class Sealed { Unknown, Nothing, Keys };

Sealed checkStoredKeys(const config::Config& config, std::vector<std::string>& problems,
                       std::vector<std::string>& warnings) {
  bool master_stored = false;
  bool tokens_stored = false;
  std::error_code ec;
  const bool there = config.sqlite_path.empty() || std::filesystem::exists(config.sqlite_path, ec);
  // A SQLite file that does not exist holds nothing; one that could not be looked at, unknown.
  Sealed sealed = ec ? Sealed::Unknown : Sealed::Nothing;
  if (there) {
    auto store = store::openStore(config.database_url, 1);
    if (!store) {
      problems.push_back("DATABASE_URL: " + store.error().message);
      return Sealed::Unknown;
    }
    // A database of an older version has no key ring yet: nothing stored to check.
    const auto rows = (*store)->keyRing().list();
    // One it cannot reach now (an outside test: config --check said valid, and serve would
    // stop): said, not refused, since a check may run where the database is not reachable.
    if (!rows && rows.error().code == core::Errc::Unavailable) {
      // One line, as every warning (libpq's reasons run over two).
      std::string why;
      for (const char c : rows.error().message) {
        const bool space = c == '\n' || c == '\t' || c == ' ';
        if (!space)
          why += c;
        else if (!why.empty() && why.back() != ' ')
          why += ' ';
      }
      warnings.push_back("DATABASE_URL: " + why + " (the keys stored in it were not checked)");
    }
    if (rows) {
      for (const auto& row : *rows) {
        master_stored = master_stored || row.purpose == "master";
        // As the start: files are imported only into a ring that never held a token key.
        tokens_stored = tokens_stored || row.purpose == "token";
      }
    }
    core::SystemClock clock;
    // As the start stops (an upgrade that lost its master secret; a review: the check said
    // valid). Only the refusal itself: a database an older version migrated short of the audit
    // keys (schema 14 and below) lacks the column the question reads, and the start migrates
    // first (a review: "no such column: mac" was listed as a problem).
    if (rows) {
      if (auto ok = noLostMasterSecret(config, **store);
          !ok && ok.error().code == core::Errc::FailedPrecondition)
        problems.push_back(ok.error().message);
    }
    sealed = !rows ? Sealed::Unknown : rows->empty() ? Sealed::Nothing : Sealed::Keys;
    if (sealed == Sealed::Keys) {
      if (auto ok = checkKeys(config, **store, clock); !ok) problems.push_back(ok.error().message);
    }
  }
  if (auto ok = checkOldKeyFiles(config, master_stored, tokens_stored); !ok)
    problems.push_back(ok.error().message);
  return sealed;
}

// The key files serve reads are readable. Returns Kek::weak of the key-encryption key read (empty
// when it is a secret, or there is none yet): whether that stops the start depends on the
// database.
std::string checkKeyFiles(const config::Config& config, std::vector<std::string>& problems,
                          std::vector<std::string>& warnings) {
  // The key-encryption key is read as serve reads it: KEY_ENCRYPTION_KEY_FILE, or the data
  // directory's file when one is there (none is made here). The old layout's files matter only to
  // an import: checkStoredKeys (config --check) and the start look at them.
  std::error_code ec;
  const bool generated_there =
      !config.key_encryption_key && !config.key_encryption_key_file &&
      std::filesystem::symlink_status(config.data_dir / "key_encryption_key", ec).type() !=
          std::filesystem::file_type::not_found;
  if (config.key_encryption_key || config.key_encryption_key_file || generated_there) {
    auto kek = loadKek(config, false);
    if (!kek) problems.push_back(kek.error().message);
    // Whoever reads it opens every stored key with a copy of the database (a backup): named, not
    // refused (a container's secret files are often 0444, owned by root).
    const auto file =
        config.key_encryption_key_file.value_or(config.data_dir / "key_encryption_key");
    const auto mode = std::filesystem::status(file, ec).permissions();
    using std::filesystem::perms;
    if (kek && !config.key_encryption_key && !ec &&
        (mode & (perms::group_all | perms::others_all)) != perms::none) {
      char octal[8];
      std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode & perms::mask));
      warnings.push_back(
          "the key-encryption key " + file.string() + " may be read by other users (mode " + octal +
          "): whoever reads it opens every stored key with a copy of the database; make it 0600 "
          "or 0400, owned by the service's user");
    }
    if (kek) return kek->weak;
  }
  return {};
}

// The files serve appends to, as it will open them (core::appendable): serve would otherwise run
// without the audit file, an error in its log, or fail each message to the mail file.
void checkWrittenFiles(const config::Config& config, std::vector<std::string>& problems) {
  const auto check = [&problems](const char* setting, const std::filesystem::path& path,
                                 core::AppendTo what) {
    if (auto ok = core::appendable(path, what); !ok)
      problems.push_back(std::string(setting) + ": " + ok.error().message);
  };
  if (!config.audit_log_file.empty() && config.audit_log_file != "-")
    check("AUDIT_LOG_FILE", config.audit_log_file, core::AppendTo::FileOrStream);
  if (config.mail.mail_file) check("MAIL_FILE", *config.mail.mail_file, core::AppendTo::File);
}
}  // namespace

Preflight preflight(const config::Config& config, bool open_database) {
  Preflight out;
  std::vector<std::string>& problems = out.problems;
  // A CA bundle without a certificate, or with a block OpenSSL cannot read, would fail only at
  // the first connection that needs it.
  for (const auto& [name, path] :
       {std::pair<const char*, std::string>{"OIDC_CA_FILE", config.oidc_ca_file},
        {"SMTP_CA_FILE", config.mail.smtp_ca_file},
        {"REDIS_CA_FILE", config.redis_ca_file}}) {
    if (path.empty()) continue;
    auto text = core::readSmallFile(path, crypto::kMaxPemBundleBytes);
    if (!text) {
      problems.push_back(std::string(name) + ": " + text.error().message);
    } else if (auto n = crypto::pemCertificateCount(*text); !n) {
      problems.push_back(std::string(name) + ": " + path + " " + n.error().message);
    }
  }
  if (auto policy = loadPolicy(config); !policy) {
    problems.push_back(policy.error().message);
  } else {
    // A misspelt role here would silently require nothing.
    for (const auto& role : config.mfa_required_roles)
      if (!policy->hasRole(role)) problems.push_back("MFA_REQUIRED_ROLES: no role named " + role);
    out.policy = std::move(*policy);
  }
  std::error_code ec;
  if (config.mail.template_dir && !std::filesystem::is_directory(*config.mail.template_dir, ec)) {
    // A misspelt folder would otherwise leave the built-in templates and look in silence.
    problems.push_back("GATEHOUSE_TEMPLATE_DIR: " + config.mail.template_dir->string() +
                       " is not a folder that exists");
  } else if (auto templates = mail::Templates::load(config.mail.template_dir); !templates) {
    problems.push_back("GATEHOUSE_TEMPLATE_DIR: " + templates.error().message);
  } else {
    out.templates = std::move(*templates);
  }
  if (config.mail.configured() && !mail::addressOf(config.mail.smtp_from))
    problems.push_back("SMTP_FROM: must be one address, optionally with a display name");
  // The pages' and the passkeys' settings.
  out.pages = pageSetup(config, problems);
  out.passkeys = passkeySetup(config, out.pages.own_origin, problems);
  checkWrittenFiles(config, problems);
  // What serve reads of REDIS_URL beyond its scheme (port, database number).
  if (config.redis_url) {
    if (auto address = state::parseRedisUrl(*config.redis_url); !address)
      problems.push_back(address.error().message);
  }
  checkDataDir(config, problems);
  // As serve stops on it (a review: config --check said the configuration was valid); and the
  // database is not opened, which would write to an empty file.
  const auto lost = cli::lostDatabase(config);
  if (lost) problems.push_back(*lost);
  std::string weak_kek = checkKeyFiles(config, problems, out.warnings);
  if (!usesKeyRing(config)) weak_kek.clear();  // serve never reads it then
  if (open_database && !lost) {
    // serve opens the database next, and says the same (openKeys). Where the check could not
    // tell what it holds, it says nothing: "nothing is sealed yet" could be wrong advice.
    const Sealed sealed = checkStoredKeys(config, problems, out.warnings);
    if (!weak_kek.empty() && sealed == Sealed::Keys)
      out.warnings.push_back(weakKekWarning(weak_kek));
    if (!weak_kek.empty() && sealed == Sealed::Nothing)
      problems.push_back(weakKekRefusal(weak_kek));
  }
  return out;
}

}  // namespace gatehouse::app
