#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace gatehouse::store {

// What the SQLite and PostgreSQL backends share beyond their SQL.

// API-key scopes as both store them: one space-separated text column.
std::string joinScopes(const std::vector<std::string>& scopes);
std::vector<std::string> splitScopes(const std::string& text);

// What an import item does to the record of its legacy subject, given the user it names now
// (`holder`, if any) and the item's outcome: remembered for a created user; forgotten (and the
// outcome says so) when it names another user than the item's (the one with its email, or with
// its username when that is taken), which happens when the system the users come from gave a
// deleted user's id to a new one.
enum class SubjectChange { Keep, Remember, Forget };
SubjectChange legacySubjectChange(std::optional<std::int64_t> holder, ImportOutcome& outcome);

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
