#include "app/server_main.hpp"

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>
#include <unistd.h>

#include "api/pipeline.hpp"
#include "api/services.hpp"
#include "app/janitor.hpp"
#include "app/keys.hpp"
#include "app/logging.hpp"
#include "app/open_files.hpp"
#include "app/page_setup.hpp"
#include "app/passkey_setup.hpp"
#include "app/preflight.hpp"
#include "app/roster_watch.hpp"
#include "app/service_notify.hpp"
#include "app/startup_heap.hpp"
#include "auth/retention.hpp"
#include "cli/database.hpp"
#include "core/failure_log.hpp"
#include "core/files.hpp"
#include "core/ip_address.hpp"
#include "core/log.hpp"
#include "core/this_thread.hpp"
#include "crypto/hmac.hpp"
#include "dynlib/libcbor.hpp"
#include "dynlib/libcurl.hpp"
#include "http/server.hpp"
#include "keyring/purposes.hpp"
#include "mail/outbox.hpp"
#include "mail/transport.hpp"
#include "op/provider.hpp"
#include "state/local.hpp"
#include "state/redis.hpp"
#include "state/redis_connection.hpp"
#include "ui/pages.hpp"

namespace gatehouse::app {

using core::FailureLog;
namespace {

// How long the user and API key caches answer from memory after their last successful read of
// the change logs (the janitor reads them twice a second): past it (the database unreachable, a
// read hanging) they read storage, which fails closed, instead of serving a deactivated user or
// a revoked key they could not hear of.
constexpr std::chrono::seconds kCacheTrust{10};

int fatal(const std::string& message) {
  spdlog::critical("{}", message);
  std::cerr << "gatehouse: " << message << "\n";
  return 1;
}

// The hash unknown users are checked against, kept in <data_dir>/dummy_hash so that a restart
// spends no hash (it took a core for a third of the start). Not a secret: it is the hash of a
// random password nobody kept. The hasher uses the file only if it has exactly the form a hash
// under the live policy takes, so an edited or older file is made again.
password::DummyHash keptDummyHash(const config::Config& config) {
  const auto path = config.data_dir / "dummy_hash";
  password::DummyHash dummy;
  // A hash is at most ~100 bytes: a larger file, or anything but a regular file (a FIFO is not
  // waited on), is not one and is made again.
  const auto kept = core::readSmallFile(path, 128);
  if (kept) dummy.stored = kept->substr(0, kept->find('\n'));
  dummy.keep = [path](const std::string& hash) {
    if (auto ok = writeSecretFile(path, hash + "\n", true); !ok)
      spdlog::info("the dummy hash was not kept ({}): the next start makes it again",
                   ok.error().message);
  };
  return dummy;
}

// What several nodes share: Redis when REDIS_URL is set, else this process's memory.
struct SharedState {
  std::unique_ptr<state::RedisClient> redis;  // null for one node
  std::unique_ptr<state::Bus> bus;
  std::unique_ptr<state::RateLimiter> limiter;
  std::unique_ptr<state::LoginGuard> guard;
  std::unique_ptr<state::OneTimeStore> once;
  const state::LocalRateLimiter* local_limiter = nullptr;  // for its gauge; null with Redis
  state::LocalOneTimeStore* local_once = nullptr;          // `once`, when it is this node's own
};

core::Result<SharedState> openSharedState(const config::Config& config) {
  const state::LockoutPolicy lockout{.delay_after = config.login_delay_after,
                                     .max_delay = config.login_max_delay_seconds,
                                     .lock_after = config.lockout_threshold,
                                     .cooldown = config.lockout_cooldown_seconds};
  SharedState s;
  if (!config.redis_url) {
    s.bus = std::make_unique<state::LocalBus>();
    auto limiter = std::make_unique<state::LocalRateLimiter>();
    s.local_limiter = limiter.get();
    s.limiter = std::move(limiter);
    s.guard = std::make_unique<state::LocalLoginGuard>(lockout);
    auto once = std::make_unique<state::LocalOneTimeStore>();
    s.local_once = once.get();
    s.once = std::move(once);
    return s;
  }
  auto address = state::parseRedisUrl(*config.redis_url);
  if (!address) return tl::unexpected(address.error());
  address->ca_file = config.redis_ca_file;
  // hiredis (and libssl for rediss://) are loaded on first use; a missing one stops the start
  // here rather than leaving every token check at 503 while the node retries.
  if (auto loaded = state::RedisConnection::libraries(*address); !loaded)
    return tl::unexpected(loaded.error());
  s.redis = std::make_unique<state::RedisClient>(*address);
  s.bus = std::make_unique<state::RedisBus>(*s.redis, "gatehouse:events");
  s.limiter = std::make_unique<state::RedisRateLimiter>(*s.redis);
  s.guard = std::make_unique<state::RedisLoginGuard>(*s.redis, lockout);
  s.once = std::make_unique<state::RedisOneTimeStore>(*s.redis);
  return s;
}

// How this process talks to systemd, from its environment; each setting it cannot use is logged
// as an error and costs what it is for, never the start.
struct ServiceManagerLink {
  ServiceNotifier notifier;                 // inactive without a usable NOTIFY_SOCKET
  std::chrono::microseconds beat_every{0};  // WATCHDOG=1 this often; 0: none
};

ServiceManagerLink serviceManager() {
  const auto env = [](const char* name) {
    const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before any thread
    return std::string_view(value != nullptr ? value : "");
  };
  // With systemd's Type=notify (packaging/gatehouse.service) the start counts as done when the
  // socket listens. Like libsystemd, an address this cannot use (systemd 254's vsock: for a
  // service in a virtual machine) costs the notifications, not the start.
  ServiceManagerLink link;
  if (auto parsed = ServiceNotifier::forSocket(env("NOTIFY_SOCKET"))) {
    link.notifier = std::move(*parsed);
  } else {
    spdlog::error("{}: the service manager is not told when the server is ready",
                  parsed.error().message);
  }
  // With WatchdogSec= the service manager stops (and restarts) a server that stops saying
  // WATCHDOG=1: it is said every half timeout while every I/O thread still turns.
  auto watchdog = watchdogTimeout(env("WATCHDOG_USEC"), env("WATCHDOG_PID"), getpid());
  if (!watchdog) {
    spdlog::error("{}: WATCHDOG=1 is not sent, and the service manager will stop the server",
                  watchdog.error().message);
  } else if (watchdog->count() > 0 && !link.notifier.active()) {
    spdlog::error(
        "WATCHDOG_USEC is set but there is no usable NOTIFY_SOCKET: WATCHDOG=1 is not "
        "sent, and the service manager will stop the server");
  } else if (watchdog->count() > 0) {
    link.beat_every = watchdogBeatEvery(*watchdog);
  }
  return link;
}

}  // namespace

core::Result<rbac::Policy> loadPolicy(const config::Config& config) {
  if (!config.policy_file) return rbac::Policy::defaults();
  auto policy = rbac::Policy::loadFile(*config.policy_file);
  if (!policy)
    return core::makeError(core::Errc::InvalidArgument,
                           "GATEHOUSE_POLICY_FILE: " + policy.error().message);
  return policy;
}

int serve(const config::Config& config) {
  // A SIGHUP (logrotate's postrotate, a service manager's reload) before the server's signal set
  // takes it over would end the start by default: a slow migration died of one. Ignored until
  // then (an audit file rotated in that window is reopened at the next SIGHUP).
  std::signal(SIGHUP, SIG_IGN);
  // The start's allocations land on pages filled in one call rather than faulted in one by one.
  // Here rather than in main: the other commands are short and would only pay for the filling.
  (void)growHeapForStart(std::size_t{1024} * 1024);
  setupLogging(config.log_json, config.log_level);
  core::SystemClock clock;
  for (const auto& warning : config.warnings) spdlog::warn("{}", warning);
  // Before the configuration's checks, which say it too (for config --check): a lost database is
  // no configuration error.
  if (auto lost = cli::lostDatabase(config)) return fatal(*lost);
  // The policy, templates, pages' and passkeys' settings are used as the checks read them.
  Preflight checked = preflight(config);
  if (!checked.problems.empty()) {
    std::string all;
    for (const auto& p : checked.problems) all += (all.empty() ? "" : "; ") + p;
    return fatal("configuration error: " + all);
  }
  for (const auto& warning : checked.warnings) spdlog::warn("{}", warning);
  if (auto few = openFileWarning(raiseOpenFileLimit(), config.http.max_connections,
                                 config.database_pool_size))
    spdlog::warn("{}", *few);
  if (!core::threadPriorityCanBeLowered()) {
    // Said, since nothing else would: the hashing threads then compete with token checks.
    spdlog::warn(
        "this process may not lower its threads' priority (setpriority or sched_setscheduler is "
        "denied, e.g. by a seccomp filter such as systemd's SystemCallFilter=~@resources): "
        "password hashing and mail run at the priority of token checks, and a flood of logins "
        "slows them (docs/security.md)");
  }
  const std::optional<rbac::Policy>& policy = checked.policy;

  const ServiceManagerLink service_manager = serviceManager();
  const ServiceNotifier& notifier = service_manager.notifier;

  (void)notifier.send("STATUS=opening and migrating the database");
  auto store = store::openStore(config.database_url, config.database_pool_size);
  if (!store) return fatal(store.error().message);
  auto version = (*store)->migrate();
  if (!version) return fatal("database migration failed: " + version.error().message);
  if (auto newer = store::newerSchemaWarning(*version)) spdlog::warn("{}", *newer);

  auto keys = openKeys(config, **store, clock);
  if (!keys) return fatal(keys.error().message);
  // A crash while a first start made the key file can leave a second name of it, a copy of the
  // secret nothing writes over again (core::writeFileAtomically links its temporary in place).
  core::removeStaleTemporaries(config.data_dir / "key_encryption_key");
  if (keys->kek_generated) {
    spdlog::warn(
        "KEY_ENCRYPTION_KEY is not set: generated one in {}/key_encryption_key (mode 0600); the "
        "keys Gatehouse generates are kept in the database sealed under it. Keep that file, and "
        "give every other node on this database the same key (KEY_ENCRYPTION_KEY or "
        "KEY_ENCRYPTION_KEY_FILE)",
        config.data_dir.string());
  }
  if (!keys->kek_weak.empty()) spdlog::error("{}", weakKekWarning(keys->kek_weak));
  if (!keys->imported_files.empty()) {
    std::string files;
    for (const auto& f : keys->imported_files) files += (files.empty() ? "" : ", ") + f;
    spdlog::warn(
        "keys are kept in the database now; these files of the old layout are no longer read "
        "(delete them once no older version runs here): {}",
        files);
  }
  if (!keys->master_file_differs.empty()) {
    spdlog::error(
        "{} is not the master secret in the database (another node or a command stored one "
        "first): second factors and provider keys sealed under the file do not open on this "
        "cluster. Keep the file; see docs/deployment.md (Upgrading from key files)",
        keys->master_file_differs);
  }
  if (keys->tokens_from_ring && keys->found == keyring::Found::Generated) {
    spdlog::info("generated the first {} signing key {} (kept in the database)",
                 jose::algorithmName(config.algorithm), keys->tokens->signing.kid());
  }

  auto hasher = password::PasswordHasher::create(config.hash_policy, keptDummyHash(config));
  if (!hasher) return fatal("password policy: " + hasher.error().message);
  const std::size_t hash_threads = config.hash_threads != 0
                                       ? config.hash_threads
                                       : std::max(1U, std::thread::hardware_concurrency());
  const std::size_t hash_queue = config.hash_queue != 0 ? config.hash_queue : 32 * hash_threads;
  password::HashPool pool({.threads = hash_threads, .queue_capacity = hash_queue});
  // Stored hashes far dearer than the policy's (imported ones may be) are checked here, one at a
  // time, so they never hold the threads everyone else's logins need (PasswordHasher::dear).
  // At most hash_threads of them at once (two with one hashing thread; one checking, the rest
  // waiting): each holds a thread
  // of the hashing lane while it waits, and the lane's other threads stay for everyone else's
  // logins; beyond that such a sign-in is a 503 (a review found the lane's threads all parked).
  password::HashPool dear_pool(
      {.threads = 1, .queue_capacity = std::max<std::size_t>(1, hash_threads - 1)});

  auth::TokenService tokens(keys->tokens->signing, keys->tokens->verification,
                            {.access_ttl = config.access_token_ttl,
                             .refresh_ttl = config.refresh_token_ttl,
                             .issuer = config.token_issuer,
                             .audience = config.token_audience,
                             .max_token_bytes = config.http.max_token_bytes},
                            clock, keys->tokens->retired);
  auto shared = openSharedState(config);
  if (!shared) return fatal(shared.error().message);
  auto& [redis, bus, limiter, guard, once, local_limiter, local_once] = *shared;
  // Challenges made before this start (one node) or before Redis lost its data are refused.
  if (auto ok = once->vouchFrom(clock.unixMillis()); !ok && !redis)
    return fatal("one-time values: " + ok.error().message);
  // Several nodes may serve a PostgreSQL database: one that keeps its one-time values in its own
  // memory serves them only while it is the one that does (app/roster_watch.hpp); the watch
  // looks at the roster on a thread of its own from then on.
  const bool shared_database = !config.database_url.starts_with("sqlite:");
  std::unique_ptr<RosterWatch> roster;
  if (shared_database) {
    auto joined = store::postgres::NodeRoster::open(
        config.database_url,
        redis ? store::postgres::Keeping::Shared : store::postgres::Keeping::Own);
    if (!joined) return fatal("the node roster: " + joined.error().message);
    roster = std::make_unique<RosterWatch>(std::move(*joined), redis ? nullptr : local_once, clock);
    roster->start(std::chrono::seconds(3));
    roster->watch();
  }
  // One node needs no feed: revocations apply in memory directly (no publish, no liveness check).
  auth::RevocationList revocations((*store)->revocations(), redis ? bus.get() : nullptr);
  if (auto ok = revocations.load(clock.unixSeconds()); !ok) {
    return fatal("loading revocations: " + ok.error().message);
  }
  auth::UserCache user_cache((*store)->users());
  user_cache.trustFor(kCacheTrust);
  if (auto ok = user_cache.sync(); !ok)
    return fatal("reading user change log: " + ok.error().message);
  // Every other key is derived from the never-rotated master secret, one purpose each.
  auto derived = keyring::derivePurposeKeys(keys->master);
  if (!derived) return fatal("deriving keys from the master secret: " + derived.error().message);
  const keyring::PurposeKeys& purpose = *derived;
  auto chain_key = crypto::HmacKey::create(crypto::Digest::Sha256, purpose.audit_chain);
  if (!chain_key) return fatal("the audit log's key: " + chain_key.error().message);
  audit::AuditLog audit_log((*store)->audit(), clock, config.audit_log_file, std::move(*chain_key));
  // The preflight looked; a FIFO nobody reads yet, or a swap since, shows only at the open.
  if (!audit_log.sinkError().empty()) return fatal("AUDIT_LOG_FILE: " + audit_log.sinkError());
  // Only the start that makes the master secret names the unkeyed records before it (the
  // commands run before the first start wrote them): a later start naming a number would hand it
  // to whoever stripped the keys (found by the review).
  if (keys->master_made) {
    if (auto unkeyed = audit_log.unkeyedEnd()) {
      spdlog::warn(
          "this start made the master secret: the audit log's first {} records carry no key "
          "(commands run before the first start wrote them; if this is not the first start, the "
          "key ring was emptied). Keep this number: `gatehouse audit verify --unkeyed-before {}` "
          "accepts them",
          *unkeyed, *unkeyed + 1);
    }
  }
  metrics::Registry metrics;
  if (local_limiter != nullptr)
    metrics.setRateLimitKeys([local = local_limiter] { return local->size(); });
  auth::RateCheck rates(*limiter, metrics, audit_log, clock);
  auth::SessionEnd session_end(**store, revocations, clock, config.access_token_ttl);
  auth::TokenCheck token_check({**store, tokens, *policy, revocations, user_cache, clock});
  std::optional<auth::LegacyTokens> legacy;
  if (config.legacy_secret_key) {
    auto made = auth::LegacyTokens::create(*config.legacy_secret_key, config.legacy_tokens_until,
                                           clock, config.http.max_token_bytes);
    if (!made) return fatal(made.error().message);
    legacy.emplace(std::move(*made));
    token_check.acceptLegacy(&*legacy);
    spdlog::info("the seed's tokens are accepted until {}",
                 core::rfc3339(config.legacy_tokens_until));
  }
  auth::Sessions sessions(
      {**store, tokens, *policy, revocations, user_cache, token_check, session_end, rates,
       audit_log, metrics, clock,
       auth::SessionRules{config.refresh_grace_seconds, config.refresh_rate_limit,
                          config.email_verification == config::EmailVerification::Required,
                          config.sessions_per_user, config.mfa_required_roles},
       legacy ? &*legacy : nullptr});
  auth::PasswordService passwords(
      {**store, *hasher, pool, *policy, user_cache, session_end, revocations, *guard, audit_log,
       metrics, clock, config.password_rules,
       config.email_verification == config::EmailVerification::Required, &dear_pool});
  auth::ApiKeyService api_keys(**store, *policy, user_cache, audit_log, clock,
                               config.api_keys_per_user,
                               config.email_verification == config::EmailVerification::Required);
  api_keys.trustFor(kCacheTrust);
  auth::UserService user_service(**store, *policy, user_cache, audit_log, clock, api_keys,
                                 session_end);
  if (auto ok = api_keys.sync(); !ok)
    return fatal("reading API key change log: " + ok.error().message);

  const std::string public_url = publicUrl(config);
  // The owner hears of repeated failed second-factor attempts and of codes locked by them (the
  // password is known), on the notices' budget; the mail service is made below.
  mail::EmailFlows* notices = nullptr;
  mfa::Settings mfa_settings{config.mfa_issuer, config.mfa_rate_limit, purpose.mfa_sealing,
                             purpose.mfa_recovery_codes};
  const auth::NoticeLimits notice_limits{config.mail.rate_limit, config.mail.ip_rate_limit};
  const auto tell = [&notices, &rates, notice_limits](mail::Notice kind) {
    return [&notices, &rates, notice_limits, kind](const store::User& user,
                                                   const auth::ClientInfo& client) {
      if (notices != nullptr) notices->noticeWithinBudget(rates, notice_limits, kind, user, client);
    };
  };
  mfa_settings.on_repeated_failures = tell(mail::Notice::SecondFactorFailures);
  mfa_settings.on_codes_locked = tell(mail::Notice::SecondFactorLocked);
  mfa_settings.lockout_threshold = config.mfa_lockout_threshold;
  mfa::MfaService mfa_service({**store, *once, *limiter, rates, *policy, user_cache, audit_log,
                               metrics, clock, std::move(mfa_settings)});
  // libcurl is loaded on first use; where it will be used, a missing one stops the start here
  // rather than at the first sign-in or message.
  if (config.mail.smtp_url || !config.oidc_providers.empty()) {
    if (auto curl = dynlib::libcurl(); !curl)
      return fatal("SMTP and external sign-in need libcurl4: " + curl.error().message);
  }
  auto transport = mail::transportFor(config.mail);
  if (transport && !config.public_url) {
    spdlog::warn("GATEHOUSE_PUBLIC_URL is not set: emailed links point to {}", public_url);
  }
  if (!transport) {
    spdlog::info(
        "mail: neither SMTP_URL nor MAIL_FILE is set; password reset, email "
        "verification and email change answer 503");
  }
  auto node_id = loadOrCreateNodeId(config);
  if (!node_id) return fatal(node_id.error().message);
  mail::Outbox outbox({(*store)->mail(),
                       transport.get(),
                       audit_log,
                       metrics,
                       clock,
                       {.from = config.mail.smtp_from,
                        .sealing_key = purpose.outbox_sealing,
                        .retry_base_seconds = config.mail.retry_base_seconds,
                        .max_attempts = config.mail.max_attempts,
                        .poll_seconds = config.mail.poll_seconds,
                        .node = *node_id}});
  // A forgotten password's work waits 0.2-1.5 s, at random: for a known address it writes a token
  // and a mail, for an unknown one nothing, and that must not show on the response's time or on
  // the same client's next request's (found by an outside attack).
  // 4096 waiting: each job waits 0.2-1.5 s and runs on one thread, so a full queue answers 503
  // past about 4,800 requests a second or the thread's own pace, whichever is lower (a job holds
  // an address and a client's details, its user agent up to 8 KiB: 35 MB at the very most).
  mail::Background after_response(
      4096, {.min = std::chrono::milliseconds(200), .max = std::chrono::milliseconds(1500)});
  mail::EmailFlows email_flows(
      {**store,
       passwords,
       api_keys,
       user_cache,
       session_end,
       *guard,
       outbox,
       *checked.templates,
       after_response,
       audit_log,
       metrics,
       clock,
       {public_url, config.mail.password_reset_url, config.mail.brand_name,
        config.mail.reset_ttl_seconds, config.mail.verification_ttl_seconds,
        config.mail.change_ttl_seconds, purpose.email_tokens}});
  notices = &email_flows;
  oidc::CurlClient outbound(config.oidc_ca_file);
  oidc::OidcService oidc_service(
      config.oidc_providers, outbound, **store, sessions, audit_log, clock, *once,
      {public_url, config.frontend_url, purpose.oidc_transaction_cookie,
       config.oidc_link_verified_email, &mfa_service,
       // On the notices' budget, as every other: outside it, an account at a spelling of a
       // stranger's address linking and unlinking in a loop sent that mailbox a mail each time
       // (an outside attack).
       [&email_flows, &rates, notice_limits](const store::User& user,
                                             const auth::ClientInfo& client) {
         email_flows.noticeWithinBudget(rates, notice_limits, mail::Notice::IdentityLinked, user,
                                        client);
       },
       config.oidc_require_code_challenge});
  // Gatehouse as an OpenID Provider: its RS256 key (in the database, sealed, one for every node),
  // its tokens, the client registry (secrets under a keyed hash) and the protocol service.
  // A node whose MFA_SECRET_KEY does not open the stored key serves everything else and answers
  // 503 on /oauth2/* (a cluster that shares no MFA_SECRET_KEY kept working before the provider).
  auto op_key =
      loadOrCreateProviderKey((*store)->op(), purpose.op_key_sealing, clock.unixSeconds());
  if (!op_key && op_key.error().code != core::Errc::InvalidArgument)
    return fatal("OpenID Provider key: " + op_key.error().message);
  if (!op_key)
    spdlog::error("OpenID Provider off on this node, /oauth2/* answers 503: {}",
                  op_key.error().message);
  std::optional<op::OpTokens> op_tokens;
  std::optional<op::ClientRegistry> op_clients;
  std::optional<op::Provider> provider;
  if (op_key) {
    auto op_keys = jose::KeySet::create({*op_key});
    if (!op_keys) return fatal(op_keys.error().message);
    op_tokens.emplace(*op_key, *op_keys,
                      op::OpTokenSettings{.issuer = public_url,
                                          .audience = config.token_audience.value_or(public_url),
                                          .access_ttl = config.access_token_ttl,
                                          .refresh_ttl = config.refresh_token_ttl,
                                          .id_token_ttl = std::chrono::seconds(3600),
                                          .max_token_bytes = config.http.max_token_bytes},
                      clock);
    token_check.acceptAlso([&op_tokens](std::string_view t) { return op_tokens->verifyAccess(t); });
    op_clients.emplace((*store)->op(), purpose.op_client_secrets,
                       op::providerScopes(policy->allPermissions()), clock);
    // Registered before the redirect URI rules grew: said at every start, since the provider
    // no longer follows those URIs (docs/deployment.md, Upgrades).
    if (auto refused = op_clients->urisRefusedNow()) {
      for (const auto& line : *refused)
        spdlog::warn("OpenID Provider client {}: no longer allowed; register the client again",
                     line);
    } else {
      spdlog::warn(
          "the OpenID Provider's clients were not checked against today's redirect URI "
          "rules: {}",
          refused.error().message);
    }
    provider.emplace(
        op::Provider::Deps{**store,
                           *op_clients,
                           *op_tokens,
                           token_check,
                           session_end,
                           revocations,
                           audit_log,
                           clock,
                           {.code_key = purpose.op_authorization_codes,
                            .code_ttl = std::chrono::seconds(60),
                            .refresh_grace_seconds = config.refresh_grace_seconds,
                            .refresh_ttl = config.refresh_token_ttl,
                            .email_verification_required =
                                config.email_verification == config::EmailVerification::Required,
                            .mfa_required_roles = config.mfa_required_roles}});
  }
  auth::BrowserSessions browser_sessions(
      {**store,
       sessions,
       token_check,
       *policy,
       revocations,
       session_end,
       audit_log,
       clock,
       // Checked against storage more often than an ended session stays on the revocation list.
       {purpose.browser_session_cookie,
        std::chrono::seconds(std::clamp<std::int64_t>(
            std::chrono::seconds(config.access_token_ttl).count() / 2, 1, 60))}});
  const ui::Csrf csrf(purpose.csrf_tokens);
  const PageSetup& pages = checked.pages;
  const PasskeySetup& passkey_setup = checked.passkeys;
  const ui::ReturnTo return_to(pages.own_origin, pages.return_origins);
  for (const auto& warning : pages.warnings) spdlog::warn("{}", warning);
  const webauthn::RelyingParty& relying_party = passkey_setup.relying_party;
  const bool passkeys_off = passkey_setup.off;
  // libcbor is loaded on first use; with passkeys on, a missing one stops the start here rather
  // than at the first ceremony.
  if (!passkeys_off) {
    if (auto cbor = dynlib::libcbor(); !cbor)
      return fatal("passkeys need libcbor0.8: " + cbor.error().message);
  } else {
    spdlog::warn(
        "passkeys are off: their RP ID {} is an IP address, which browsers refuse; set "
        "GATEHOUSE_PUBLIC_URL to a host name (http://localhost:PORT for development) or "
        "WEBAUTHN_RP_ID",
        relying_party.rp_id);
  }
  webauthn::PasskeyService passkeys(
      {**store, *once, mfa_service, user_cache, *policy, audit_log, metrics, clock,
       webauthn::PasskeySettings{
           .rp = relying_party,
           .rp_name = config.webauthn_rp_name.value_or(config.mail.brand_name),
           .challenge_key = purpose.webauthn_challenges,
           .handle_key = purpose.webauthn_user_handles,
           .second_factor_uv = config.webauthn_user_verification == "required"
                                   ? webauthn::UserVerification::Required
                               : config.webauthn_user_verification == "discouraged"
                                   ? webauthn::UserVerification::Discouraged
                                   : webauthn::UserVerification::Preferred,
           .email_verification_required =
               config.email_verification == config::EmailVerification::Required}});
  api::Services services{
      token_check,
      sessions,
      passwords,
      user_service,
      api_keys,
      tokens,
      **store,
      *policy,
      metrics,
      oidc_service,
      audit_log,
      public_url,
      config.public_url.has_value(),
      bus.get(),
      config.forward_auth_proxy,
      config.registration_enabled,
      config.docs_enabled,
      nullptr,
      config.cors_allow_origins,
      &rates,
      {{"LOGIN_RATE_LIMIT", config.login_rate_limit},
       {"REGISTER_RATE_LIMIT", config.register_rate_limit},
       {"REFRESH_RATE_LIMIT", config.refresh_rate_limit},
       {"MFA_RATE_LIMIT", config.mfa_rate_limit},
       {"WEBAUTHN_RATE_LIMIT", config.webauthn_rate_limit},
       {"OP_RATE_LIMIT", config.op_rate_limit},
       {"OP_CODE_RATE_LIMIT", config.op_code_rate_limit},
       {"OIDC_RATE_LIMIT", config.oidc_rate_limit},
       {"ACCOUNT_CHANGE_RATE_LIMIT", config.account_change_rate_limit},
       {"REFUSED_CHANGE_RATE_LIMIT", config.refused_change_rate_limit},
       {"EMAIL_RATE_LIMIT", config.mail.rate_limit},
       {"EMAIL_IP_RATE_LIMIT", config.mail.ip_rate_limit},
       {"EMAIL_TOKEN_RATE_LIMIT", config.mail.token_rate_limit}},
      &mfa_service,
      config.step_up_max_age_seconds,
      config.mfa_required_roles,
      &email_flows,
      config.email_verification,
      config.mail.brand_name,
      config.metrics_token.value_or(""),
      &browser_sessions,
      &csrf,
      &return_to,
      ui::brandStylesheet({config.brand_primary_color, config.brand_background_color},
                          pages.operator_css),
      ui::pageCsp(pages.return_origins),
      pages.secure_cookies,
      config.session_cookie_domain,
      provider ? &*provider : nullptr,
      passkeys_off ? nullptr : &passkeys,
      roster && local_once != nullptr
          ? std::function<bool()>([&roster] { return !roster->serving(); })
          : std::function<bool()>()};
  // Every route is one declaration; the middleware, the lanes and /openapi.json follow from it.
  api::RouteTable routes;
  api::addAllRoutes(routes);
  http::Router router;
  routes.install(router, services);
  services.routes = &routes;
  // Checked by the configuration: every entry is an address or a range.
  const core::AddressSet trusted_proxies =
      core::AddressSet::parse(config.trusted_proxies).value_or(core::AddressSet{});
  const api::Pipeline pipeline(router, routes, services, trusted_proxies, &metrics);

  http::Server server(
      {.host = config.listen_host,
       .port = config.listen_port,
       .max_body_bytes = config.http.max_body_bytes,
       .max_header_bytes = config.http.max_header_bytes,
       .request_timeout = config.http.request_timeout,
       .idle_timeout = config.http.idle_timeout,
       .max_connections = config.http.max_connections,
       .max_connections_per_client = config.http.max_connections_per_client,
       .unlimited_peers = trusted_proxies,
       .max_body_memory = config.http.max_body_memory,
       .io_threads = config.io_threads,
       .worker_threads = config.worker_threads,
       // Twice the hashing threads plus two: while the hashing threads are busy, the
       // lane's cheap answers (429, a bad form, a wrong CSRF token) are not queued
       // behind hashes; a hash beyond the hashing threads waits in the hashing pool's
       // queue. The rest wait as queue entries, and a full queue is the contract's 503
       // at once.
       .hashing_threads = 2 * hash_threads + 2,
       .hashing_queue = hash_queue,
       .on_shutdown = [&notifier] { (void)notifier.send("STOPPING=1"); },
       .heartbeat_every = service_manager.beat_every,
       .on_heartbeat =
           [&notifier, log = FailureLog()]() mutable {
             // At error: systemd ends a service whose watchdog goes unfed.
             logOutcome(log, "NOTIFY_SOCKET: sending WATCHDOG=1", notifier.send("WATCHDOG=1"),
                        spdlog::level::err);
           },
       .on_hangup = [&audit_log] { audit_log.reopenSink(); },
       // One accept loop: its calls never overlap. Quiet after a recovery: at the open-file
       // limit accepts fail and work by turns, each time a connection closes.
       .on_accept =
           [log = FailureLog(true)](const core::Status& outcome) mutable {
             logOutcome(log, "accepting connections", outcome, spdlog::level::err);
           }},
      [&pipeline](http::Request& r) { return pipeline(r); }, &api::Pipeline::decorate,
      [&pipeline](http::Request& r) { return pipeline.tryInline(r); },
      [&pipeline](http::Request& r) { return pipeline.busy(r); });
  metrics.setHashQueueDepth(
      [&pool, &server] { return pool.queueDepth() + server.hashingQueueDepth(); });
  if (!config.audit_log_file.empty()) {
    metrics.setAuditCopyLost([&audit_log] { return audit_log.sinkDropped(); },
                             [&audit_log] { return audit_log.sinkFailed(); });
  }
  // Revocations are read again every 30 s: other nodes may write them (with Redis, a missed
  // message; on PostgreSQL without it, a node the others cannot tell, warned above), and so may
  // the CLI (`client delete`).
  Janitor janitor(
      revocations, user_cache, api_keys, clock,
      auth::RetentionPass(
          **store, {.access_ttl = config.access_token_ttl,
                    .legacy_until = config.legacy_secret_key ? config.legacy_tokens_until : 0}),
      [&keys, &tokens, &store, log = FailureLog(), files_log = FailureLog()]() mutable {
        // The database's files as opened (SQLite's WAL): else writes are refused, and said.
        logOutcome(files_log, "checking the database's files", (*store)->intact(),
                   spdlog::level::err);
        // A rotation stored by any node or `gatehouse keys rotate`, or the time a
        // next key signs from, reaches this node here.
        if (!keys->tokens_from_ring) return;
        auto fresh = keys->ring->refresh();
        // Not two lines a second while the database is away.
        logOutcome(log, "re-reading the key ring (this node keeps its keys)", fresh);
        if (fresh && *fresh) {
          spdlog::info("token keys changed: {} signs", (*fresh)->signing.kid());
          tokens.setKeys(std::move((*fresh)->signing), std::move((*fresh)->verification),
                         std::move((*fresh)->retired));
        }
      });
  if (redis) {
    // A local change names the user (or key owner) to the other nodes, which drop it at once.
    user_cache.onChange([&bus](std::string_view message) { (void)bus->publish(message); });
    api_keys.onChange([&bus](std::string_view message) { (void)bus->publish(message); });
  }
  bus->start(
      [&revocations, &user_cache, &api_keys, &janitor](std::string_view message) {
        if (revocations.applyMessage(message)) return;
        // A named user or owner is dropped here, before the next request can read it; the
        // janitor's read of the change logs follows (and serves a node of the version before,
        // whose poke is a bare "changed").
        if (user_cache.applyMessage(message) || api_keys.applyMessage(message) ||
            message == "changed")
          janitor.wake();
      },
      [&revocations, &user_cache, &api_keys, once_store = once.get(), &clock] {
        // After (re)subscribing: whatever was published meanwhile is in the database. A Redis
        // restarted without what was spent since its snapshot vouches from now on; that write is
        // not the feed's to wait for (a full Redis refuses it, and the token checks do not need
        // it): the next spend checks again and fails closed (found by a review).
        if (auto ok = once_store->vouchFrom(clock.unixMillis()); !ok)
          spdlog::warn("one-time values: Redis's epoch not checked: {}", ok.error().message);
        return revocations.load(clock.unixSeconds()) && user_cache.sync() && api_keys.sync();
      });
  // A Redis that answers makes the node ready before it listens. One that is down, or refuses the
  // TLS handshake or the password, is not waited for: the node listens with /readyz 503 at once,
  // and the bus keeps trying with back-off.
  if (!bus->awaitFirstAttempt(std::chrono::seconds(3)))
    spdlog::error(
        "the Redis notification feed is not live yet: token checks answer 503 until it is");
  settleHeap();  // the start is done: what it left unused on the heap can go back
  if (auto ok = server.listen(); !ok) return fatal(ok.error().message);
  after_response.start();
  outbox.start();
  spdlog::info("gatehouse listening on {}:{} (schema v{}, {} hashing threads)", config.listen_host,
               server.port(), *version, hash_threads);
  if (auto ok = notifier.send("READY=1\nSTATUS=listening on " +
                              hostAndPort(config.listen_host, server.port()));
      !ok) {
    spdlog::error("NOTIFY_SOCKET: could not tell the service manager the server is ready: {}",
                  ok.error().message);
  }
  server.run();
  spdlog::info("gatehouse stopped: in-flight requests finished");
  // Work promised after a response is done, then the sender stops (what it has not sent stays
  // in the outbox for the next start or another node).
  after_response.stop();
  outbox.stop();
  pool.shutdown();
  dear_pool.shutdown();
  // Stop the feed's thread before the janitor and the lists its handler touches are destroyed.
  bus.reset();
  return 0;
}

}  // namespace gatehouse::app
