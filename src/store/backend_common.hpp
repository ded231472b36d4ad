#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace gatehouse::store {

// What the SQLite and PostgreSQL backends share beyond their SQL.

// API-key scopes as both store them: one space-separated text column.
std::string joinScopes(const std::vector<std::string>& scopes);
std::vector<std::string> splitScopes(const std::string& text);

// AuditStore::scan over keyset pages: `page(after)` returns the records with id > after, oldest
// first (empty at the end).
core::Status scanAuditPages(
    const std::function<core::Result<std::vector<AuditRecord>>(std::int64_t after)>& page,
    const std::function<bool(const AuditRecord&)>& visit);

}  // namespace gatehouse::store
