#pragma once

#include <string>

namespace gatehouse::app {

// Routes spdlog to stderr, UTC timestamps; `json` writes one JSON object per line with the
// message escaped. Messages never carry passwords, tokens or keys: callers log ids and outcomes.
void setupLogging(bool json, const std::string& level);

}  // namespace gatehouse::app
