#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "jose/jwt.hpp"
#include "oidc/fetch_cache.hpp"
#include "oidc/http_client.hpp"

namespace gatehouse::oidc {

// What discovery tells us (OpenID Connect Discovery 1.0 §3).
struct Metadata {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  bool iss_parameter_supported = false;  // RFC 9207
  bool token_auth_basic = true;          // client_secret_basic, else client_secret_post
};

// Why an ID token was refused (for the audit log; the browser only sees a short reason).
enum class IdTokenError { Jws, Claims, Nonce, Azp, Stale, NoSubject, KeysUnavailable, AtHash };

// One configured provider: discovery and JWKS fetched over HTTPS, cached for their HTTP cache
// lifetimes, the JWKS re-fetched once on an unknown kid. Thread-safe.
class Provider {
 public:
  Provider(config::OidcProvider config, HttpClient& http, const core::Clock& clock)
      : config_(std::move(config)), http_(http), clock_(clock), metadata_(clock), keys_(clock) {}

  const config::OidcProvider& config() const { return config_; }

  // A place among the kMaxAtOnce requests that may wait on this provider at once (starts, and
  // callbacks with their own transaction while they ask it): a slow or hanging provider holds at
  // most that many of the outbound workers, and the others' sign-ins go on (found by a review:
  // four callbacks on a hanging token endpoint held every outbound worker). Up to kMaxAtOnce more
  // wait up to kSlotWait for one; nullopt then, or at once beyond them (answer 503): one provider
  // holds at most 2 x kMaxAtOnce outbound workers. Released when the Slot ends.
  static constexpr int kMaxAtOnce = 4;
  static constexpr std::chrono::seconds kSlotWait{2};
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(std::exchange(other.owner_, nullptr)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (owner_ != nullptr) owner_->leave();
    }

   private:
    friend class Provider;
    explicit Slot(Provider* owner) : owner_(owner) {}
    Provider* owner_;
  };
  std::optional<Slot> enter();
  // Unavailable when the provider cannot be reached; FailedPrecondition when its discovery
  // document names another issuer.
  [[nodiscard]] core::Result<Metadata> metadata();
  // OIDC Core §3.1.3.7: signature with the provider's JWKS and the pinned algorithm, iss exact,
  // aud contains our client id, azp when several audiences, exp, iat within ten minutes, nonce.
  // `access_token` is the one returned with the ID token (empty if none): when the ID token
  // carries at_hash, it must match (OIDC Core §3.1.3.6).
  [[nodiscard]] tl::expected<jose::Claims, IdTokenError> verifyIdToken(
      std::string_view id_token, std::string_view nonce, std::string_view access_token = {});

 private:
  // `refresh`: a kid the keys lack (a rotation at the provider) asks again, at most once per
  // FetchCache::kRefreshSeconds.
  [[nodiscard]] core::Result<jose::KeySet> keys(bool refresh);
  // One fetch each, and how long the provider lets its answer be kept.
  core::Result<std::pair<Metadata, std::int64_t>> fetchMetadata();
  core::Result<std::pair<jose::KeySet, std::int64_t>> fetchKeys();

  config::OidcProvider config_;
  HttpClient& http_;
  const core::Clock& clock_;
  FetchCache<Metadata> metadata_;
  FetchCache<jose::KeySet> keys_;
  void leave();
  std::mutex slots_mutex_;
  std::condition_variable slot_free_;
  int busy_ = 0;
  int waiting_ = 0;
};

// max-age from a Cache-Control value, else `fallback` seconds (no-store/no-cache: 0).
std::int64_t cacheLifetime(const HttpResponse& response, std::int64_t fallback);

}  // namespace gatehouse::oidc
