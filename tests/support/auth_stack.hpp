#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "audit/audit_log.hpp"
#include "auth/auth_service.hpp"
#include "state/local.hpp"
#include "state/once.hpp"
#include "store/store.hpp"

namespace gatehouse::testing {

// The real auth service graph on a fresh SQLite database in a temporary folder, for tests that
// drive services or handlers without sockets: a manual clock, bcrypt cost 10, an HS256 key "hs1"
// and rate limits out of the way. Build it on one thread; the services themselves are thread-safe.
struct AuthStack {
  explicit AuthStack(const std::string& name)
      : dir(std::filesystem::temp_directory_path() /
            ("gatehouse-" + name + "-" + std::to_string(::getpid()))),
        store(openFresh(dir)),
        hasher(password::PasswordHasher::create(
                   {.scheme = password::Scheme::Bcrypt, .bcrypt_cost = 10})
                   .value()),
        pool({.threads = 2, .queue_capacity = 8}),
        key(jose::Key::hmac(jose::Algorithm::Hs256, std::string(32, 's'), "hs1").value()),
        tokens(key, jose::KeySet::create({key}).value(), {}, clock),
        revocations(store->revocations()),
        cache(store->users()),
        guard({}),
        audit(store->audit(), clock, ""),
        auth({*store,
              hasher,
              pool,
              tokens,
              policy,
              revocations,
              cache,
              limiter,
              guard,
              audit,
              metrics,
              clock,
              {},
              auth::AbusePolicy{
                  {1000, std::chrono::seconds(60)}, {1000, std::chrono::seconds(60)}, 0}}) {}
  AuthStack(const AuthStack&) = delete;
  AuthStack& operator=(const AuthStack&) = delete;
  ~AuthStack() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  static std::unique_ptr<store::Store> openFresh(const std::filesystem::path& dir) {
    std::filesystem::remove_all(dir);
    auto s = store::openStore("sqlite:///" + (dir / "t.db").string()).value();
    EXPECT_TRUE(s->migrate());
    return s;
  }

  std::filesystem::path dir;
  core::ManualClock clock{1'800'000'000};
  std::unique_ptr<store::Store> store;
  password::PasswordHasher hasher;
  password::HashPool pool;
  rbac::Policy policy = rbac::Policy::defaults();
  jose::Key key;
  auth::TokenService tokens;
  auth::RevocationList revocations;
  auth::UserCache cache;
  state::LocalRateLimiter limiter;
  state::LocalLoginGuard guard;
  state::LocalOneTimeStore once;
  audit::AuditLog audit;
  metrics::Registry metrics;
  auth::AuthService auth;
};

}  // namespace gatehouse::testing
