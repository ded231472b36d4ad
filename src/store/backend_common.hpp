#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace gatehouse::store {

// What the SQLite and PostgreSQL backends share beyond their SQL.

// API-key scopes as both store them: one space-separated text column.
std::string joinScopes(const std::vector<std::string>& scopes);
std::vector<std::string> splitScopes(const std::string& text);

// A LIKE pattern (escape character: backslash) matching any text that contains `text` literally.
std::string likePattern(std::string_view text);

// Applies `patch` to `user`; true when that takes away the last of `protected_role` from an
// active user that had it (the caller must then check another active holder remains).
bool applyUserPatch(User& user, const UserPatch& patch, std::string_view protected_role);

// AuditStore::scan over keyset pages: `page(after)` returns the records with id > after, oldest
// first (empty at the end).
[[nodiscard]] core::Status scanAuditPages(
    const std::function<core::Result<std::vector<AuditRecord>>(std::int64_t after)>& page,
    const std::function<bool(const AuditRecord&)>& visit);

// An OpenID client's URI and grant-type lists as both store them: a JSON array of strings, in
// the client's order. Internal when a stored value is not one.
std::string listToJson(const std::vector<std::string>& list);
[[nodiscard]] core::Result<std::vector<std::string>> listFromJson(std::string_view text);

}  // namespace gatehouse::store
