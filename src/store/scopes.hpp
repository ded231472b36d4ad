#pragma once

#include <string>
#include <vector>

namespace gatehouse::store {

// API-key scopes as both backends store them: one space-separated text column.
std::string joinScopes(const std::vector<std::string>& scopes);
std::vector<std::string> splitScopes(const std::string& text);

}  // namespace gatehouse::store
