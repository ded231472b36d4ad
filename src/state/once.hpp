#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.hpp"

namespace gatehouse::state {

// Short-lived single-use values (sign-in one-time codes, seen transaction states), shared by every
// node so a flow may continue on any of them. Keys should be digests, never secrets themselves.
// Implementations MUST be thread-safe; Unavailable when shared storage cannot be reached.
class OneTimeStore {
 public:
  virtual ~OneTimeStore() = default;
  // Stores `value` for `ttl` unless `key` is present; false when it was (a replay).
  [[nodiscard]] virtual core::Result<bool> putIfAbsent(std::string_view key, std::string_view value,
                                                       std::chrono::seconds ttl,
                                                       std::int64_t now) = 0;
  // The value, removed in the same step (only one caller ever gets it); nullopt when absent or
  // expired.
  [[nodiscard]] virtual core::Result<std::optional<std::string>> take(std::string_view key,
                                                                      std::int64_t now) = 0;
  // The value, left in place (a flow reading what its own single-use value is for, before the
  // step that takes it); nullopt when absent or expired.
  [[nodiscard]] virtual core::Result<std::optional<std::string>> peek(std::string_view key,
                                                                      std::int64_t now) = 0;
};

// In process (one node). Expired entries are swept as the map doubles, so a flood costs amortised
// O(1) per call and memory stays bounded by the entries alive within their ttl.
class LocalOneTimeStore final : public OneTimeStore {
 public:
  [[nodiscard]] core::Result<bool> putIfAbsent(std::string_view key, std::string_view value,
                                               std::chrono::seconds ttl, std::int64_t now) override;
  [[nodiscard]] core::Result<std::optional<std::string>> take(std::string_view key,
                                                              std::int64_t now) override;
  [[nodiscard]] core::Result<std::optional<std::string>> peek(std::string_view key,
                                                              std::int64_t now) override;

 private:
  struct Entry {
    std::string value;
    std::int64_t expires = 0;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::size_t sweep_at_ = 1024;
};

}  // namespace gatehouse::state
