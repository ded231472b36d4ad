#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

#include "audit/audit_log.hpp"
#include "auth/passwords.hpp"
#include "auth/sessions.hpp"
#include "auth/token_check.hpp"
#include "state/local.hpp"
#include "state/once.hpp"
#include "store/store.hpp"

namespace gatehouse::testing {

// The real auth service graph on a fresh SQLite database in a temporary folder, for tests that
// drive services or handlers without sockets: a manual clock, bcrypt cost 10, an HS256 key "hs1"
// and the refresh limit out of the way. Build it on one thread; the services themselves are
// thread-safe.
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
        audit(store->audit(), clock, "", std::nullopt),
        rates(limiter, metrics, audit, clock),
        session_end(*store, revocations, clock, tokens.settings().access_ttl),
        token_check({*store, tokens, policy, revocations, cache, clock}),
        sessions({*store, tokens, policy, revocations, cache, token_check, session_end, rates,
                  audit, metrics, clock, auth::SessionRules{0, {1000, std::chrono::seconds(60)}}}),
        passwords({*store,
                   hasher,
                   pool,
                   policy,
                   cache,
                   session_end,
                   revocations,
                   guard,
                   audit,
                   metrics,
                   clock,
                   {}}) {
    EXPECT_TRUE(once.vouchFrom(clock.unixMillis()));  // as the server's start does
  }
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
  auth::RateCheck rates;
  auth::SessionEnd session_end;
  auth::TokenCheck token_check;
  auth::Sessions sessions;
  auth::PasswordService passwords;

  // A registration or a password login and the session it starts, as the routes compose them.
  auth::Result<auth::TokenPair> registerUser(const auth::RegisterInput& in,
                                             const auth::ClientInfo& client) {
    auto who = passwords.registerUser(in, client);
    if (!who) return tl::unexpected(who.error());
    return sessions.start(*who, client);
  }
  auth::Result<auth::TokenPair> login(const std::string& identifier, const std::string& password,
                                      const std::optional<std::string>& scope,
                                      const auth::ClientInfo& client) {
    auto who = passwords.login(identifier, password, scope, client);
    if (!who) return tl::unexpected(who.error());
    return sessions.start(*who, client);
  }
};

}  // namespace gatehouse::testing
