#include "importer/import_item.hpp"

#include <algorithm>

#include <boost/json.hpp>

#include "auth/validation.hpp"
#include "core/clock.hpp"
#include "password/argon2.hpp"
#include "password/bcrypt.hpp"
#include "password/imported_hash.hpp"

namespace gatehouse::importer {
namespace {

constexpr std::size_t kMaxHashBytes = 1024;
// An account made later than a day from now is a typo or milliseconds, not a date.
constexpr std::int64_t kCreatedAtSlack = 86400;

tl::unexpected<std::string> refuse(std::string reason) { return tl::unexpected(std::move(reason)); }

// A Keycloak credential object as the stored passlib string.
tl::expected<std::string, std::string> keycloakHash(const boost::json::object& o) {
  for (const auto& member : o) {
    const std::string_view key = member.key();
    if (key != "algorithm" && key != "hashIterations" && key != "salt" && key != "value")
      return refuse("password_hash: unknown member " + std::string(key));
  }
  const auto* algorithm = o.if_contains("algorithm");
  const auto* iterations = o.if_contains("hashIterations");
  const auto* salt = o.if_contains("salt");
  const auto* value = o.if_contains("value");
  if (algorithm == nullptr || !algorithm->is_string() || iterations == nullptr ||
      !iterations->is_int64() || salt == nullptr || !salt->is_string() || value == nullptr ||
      !value->is_string())
    return refuse(
        "password_hash: a Keycloak credential needs algorithm, hashIterations, salt, value");
  auto encoded = password::keycloakToEncoded(algorithm->get_string(), iterations->get_int64(),
                                             salt->get_string(), value->get_string());
  if (!encoded) return refuse("password_hash: unsupported format");
  return *encoded;
}

}  // namespace

std::string hashProblem(std::string_view encoded) {
  if (encoded.size() > kMaxHashBytes) return "password_hash: unsupported format";
  // Costs below 4 are hashes no bcrypt can check; above the import bound, a hash each attempt on
  // which would hold a hashing thread for minutes to days (password/imported_hash.hpp).
  if (const auto cost = password::bcryptCost(encoded); password::isCanonicalBcrypt(encoded) &&
                                                       cost && *cost >= 4 &&
                                                       *cost <= password::kMaxImportedBcryptCost)
    return {};
  // A whole PHC string (argon2idParams) within the import bounds.
  if (const auto params = password::argon2idParams(encoded);
      params && password::argon2WithinImportBounds(*params))
    return {};
  if (password::isImportedHash(encoded)) return {};
  return "password_hash: unsupported format";
}

std::string usernameFromEmail(std::string_view email) {
  std::string name;
  for (const char c : email.substr(0, email.rfind('@'))) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (ok && name.size() < 32) name.push_back(c);
  }
  while (name.size() < 3) name.push_back('_');
  return name;
}

tl::expected<store::ImportedUser, std::string> parseItem(const boost::json::value& item,
                                                         const rbac::Policy& policy,
                                                         std::int64_t now) {
  const auto* o = item.if_object();
  if (o == nullptr) return refuse("not a JSON object");
  for (const auto& member : *o) {
    const std::string_view key = member.key();
    if (key != "email" && key != "username" && key != "role" && key != "is_active" &&
        key != "email_verified" && key != "created_at" && key != "password_hash")
      return refuse("unknown field " + std::string(key.substr(0, 64)));
  }
  store::ImportedUser out;
  store::NewUser& u = out.user;
  const auto text = [o](const char* name) -> const boost::json::string* {
    const auto* v = o->if_contains(name);
    return v != nullptr ? v->if_string() : nullptr;
  };
  const auto flag = [o](const char* name, bool& field) {
    const auto* v = o->if_contains(name);
    if (v == nullptr) return true;
    if (!v->is_bool()) return false;
    field = v->get_bool();
    return true;
  };
  const auto* email = text("email");
  if (email == nullptr || !auth::emailProblem(*email).empty()) return refuse("email: invalid");
  u.email = std::string(*email);
  if (o->contains("username")) {
    const auto* username = text("username");
    if (username == nullptr || !auth::usernameProblem(*username).empty())
      return refuse("username: invalid");
    u.username = std::string(*username);
  } else {
    u.username = usernameFromEmail(u.email);
  }
  u.role = "user";
  if (o->contains("role")) {
    const auto* role = text("role");
    if (role == nullptr || !policy.hasRole(*role)) return refuse("role: unknown");
    u.role = std::string(*role);
  }
  if (!flag("is_active", u.is_active)) return refuse("is_active: must be true or false");
  if (!flag("email_verified", u.email_verified))
    return refuse("email_verified: must be true or false");
  out.created_at = now;
  if (const auto* created = o->if_contains("created_at")) {
    std::optional<std::int64_t> when;
    if (created->is_string()) {
      when = core::parseRfc3339(created->get_string());
    } else if (created->is_int64()) {
      when = created->get_int64();
    }
    if (!when || *when < 0 || *when > now + kCreatedAtSlack)
      return refuse("created_at: an RFC 3339 time or Unix seconds, not in the future");
    out.created_at = *when;
  }
  if (const auto* hash = o->if_contains("password_hash"); hash != nullptr && !hash->is_null()) {
    if (const auto* keycloak = hash->if_object()) {
      auto encoded = keycloakHash(*keycloak);
      if (!encoded) return tl::unexpected(encoded.error());
      u.password_hash = std::move(*encoded);
    } else if (const auto* s = hash->if_string()) {
      if (!s->empty()) {
        if (auto problem = hashProblem(*s); !problem.empty()) return refuse(problem);
        u.password_hash = std::string(*s);
      }
    } else {
      return refuse("password_hash: unsupported format");
    }
  }
  return out;
}

}  // namespace gatehouse::importer
