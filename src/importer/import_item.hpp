#pragma once

#include <cstdint>
#include <string>

#include <boost/json/value.hpp>
#include <tl/expected.hpp>

#include "rbac/policy.hpp"
#include "store/store.hpp"

namespace gatehouse::importer {

// One user to import, read from a JSON object (API.md, Moving in from elsewhere): `email`
// (required), `username` (else made from the email's local part), `role` ("user"), `is_active`
// (true), `email_verified` (false), `created_at` (RFC 3339 or Unix seconds; else `now`) and
// `password_hash` (a string in a format PasswordHasher verifies, or a Keycloak credential object
// {"algorithm", "hashIterations", "salt", "value"}; absent: no password). Any other member is
// refused. The error is the reason reported for the item ("email: invalid", "role: unknown", ...).
[[nodiscard]] tl::expected<store::ImportedUser, std::string> parseItem(
    const boost::json::value& item, const rbac::Policy& policy, std::int64_t now);

// A username from an email's local part: characters outside [A-Za-z0-9_.-] dropped, at most 32,
// padded with '_' to 3.
std::string usernameFromEmail(std::string_view email);

// The reason, or empty, for an encoded hash to store: one PasswordHasher can verify, with work
// parameters within its bounds.
std::string hashProblem(std::string_view encoded);

}  // namespace gatehouse::importer
