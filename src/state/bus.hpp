#pragma once

#include <chrono>
#include <functional>
#include <string_view>

#include "core/error.hpp"

namespace gatehouse::state {

// Cross-node notifications: revoked token ids and "this changed, re-read it" pokes, pushed to
// every node. Implementations MUST be thread-safe.
class Bus {
 public:
  using Handler = std::function<void(std::string_view message)>;
  // Runs after every (re)connection, before the feed counts as live again: whatever was published
  // while this node was not listening must be re-read from durable storage here. Returns false
  // when that failed (the feed then stays down and the bus tries again).
  using Resync = std::function<bool()>;

  virtual ~Bus() = default;
  // Delivers `message` to every node's handler (this node's included). Unavailable when it
  // could not be sent.
  [[nodiscard]] virtual core::Status publish(std::string_view message) = 0;
  // Starts delivering messages to `handler` (on a background thread). Call once.
  virtual void start(Handler handler, Resync resync) = 0;
  // False while this node may have missed messages: callers fail closed.
  virtual bool live() const = 0;
  // Waits, at most `limit`, until the first connection attempt after start() has ended, whether
  // it went live or failed; returns live().
  virtual bool awaitFirstAttempt(std::chrono::milliseconds limit) = 0;
};

// One node, no one else to tell: publishing delivers in process; always live.
class LocalBus final : public Bus {
 public:
  [[nodiscard]] core::Status publish(std::string_view message) override {
    if (handler_) handler_(message);
    return {};
  }
  void start(Handler handler, Resync /*resync*/) override { handler_ = std::move(handler); }
  bool live() const override { return true; }
  bool awaitFirstAttempt(std::chrono::milliseconds /*limit*/) override { return true; }

 private:
  Handler handler_;
};

}  // namespace gatehouse::state
