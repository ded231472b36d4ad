#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "jose/algorithm.hpp"
#include "password/password_hasher.hpp"

namespace gatehouse::config {

// `N/second|minute|hour|day` (the seed's rate-limit syntax).
struct RateLimit {
  std::uint32_t count = 0;
  std::chrono::seconds window{0};
};

struct PasswordRules {
  std::size_t min_length = 8;
  bool require_uppercase = true;
  bool require_lowercase = true;
  bool require_digit = true;
  bool require_special = true;
};

struct HttpLimits {
  std::size_t max_body_bytes = 1U << 20U;
  std::size_t max_header_bytes = 8U << 10U;
  std::size_t max_token_bytes = 8U << 10U;
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds idle_timeout{60};
  std::size_t max_connections = 1024;
  std::size_t max_connections_per_client = 256;  // 0: no limit; trusted proxies are not counted
  std::size_t max_body_memory = std::size_t{64} << 20U;
};

// An external OpenID provider (OIDC Core; discovery at <issuer>/.well-known/openid-configuration).
struct OidcProvider {
  std::string name;  // URL segment: /api/v1/auth/oauth/<name>
  std::string issuer;
  std::string client_id;
  std::string client_secret;  // never logged
  std::string scopes = "openid email profile";
  jose::Algorithm id_token_alg = jose::Algorithm::Rs256;
  // Believe the ID token's amr when it says a second factor was used (OIDC_<NAME>_TRUST_AMR):
  // then a Gatehouse user with a factor is not asked for it again.
  bool trust_amr = false;
};

// Which proxy's original-request headers forward-auth believes (never chosen by the request):
// nginx sends X-Original-Method/-URI; Traefik and Caddy send X-Forwarded-Method/-Uri.
enum class ForwardAuthProxy { Nginx, Traefik, Caddy };

// EMAIL_VERIFICATION: off (the seed's behaviour), optional (registration sends a link), required
// (and an unverified account cannot sign in).
enum class EmailVerification { Off, Optional, Required };

// Mail: where it goes (SMTP_URL or MAIL_FILE; neither: the flows needing mail answer 503), what
// it says, and the email flows' tokens and limits.
struct MailConfig {
  std::optional<std::string> smtp_url;  // smtp:// or smtps://, may hold a password: never logged
  bool smtp_starttls = true;            // smtp:// must upgrade to TLS (SMTP_STARTTLS)
  std::string smtp_from;                // the From header (SMTP_FROM)
  std::string smtp_ca_file;             // extra CA bundle (private CAs)
  std::optional<std::filesystem::path> mail_file;     // development: an mbox file instead
  std::optional<std::filesystem::path> template_dir;  // GATEHOUSE_TEMPLATE_DIR
  std::string brand_name = "Gatehouse";
  std::optional<std::string> password_reset_url;  // replaces <public url>/ui/reset-password
  std::int64_t reset_ttl_seconds = 15 * 60;
  std::int64_t verification_ttl_seconds = 24 * 3600;
  std::int64_t change_ttl_seconds = 24 * 3600;
  std::int64_t retry_base_seconds = 30;  // the first retry's delay, doubling, at most an hour
  std::int64_t max_attempts = 12;
  std::int64_t poll_seconds = 2;
  RateLimit rate_limit{5, std::chrono::seconds(3600)};       // per address or account
  RateLimit ip_rate_limit{30, std::chrono::seconds(3600)};   // forgot, per client address
  RateLimit token_rate_limit{20, std::chrono::seconds(60)};  // spending tokens, per address
  bool configured() const { return smtp_url.has_value() || mail_file.has_value(); }
};

// The effective configuration. Built once at startup; immutable afterwards.
struct Config {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8000;
  std::string database_url = "sqlite:///./gatehouse-data/gatehouse.db";
  std::filesystem::path sqlite_path;   // derived from database_url for sqlite://
  std::filesystem::path data_dir;      // where generated secrets live (the database's folder)
  std::size_t database_pool_size = 8;  // PostgreSQL connections per node
  std::optional<std::string> redis_url;
  std::string redis_ca_file;              // REDIS_CA_FILE: extra roots for rediss:// (private CAs)
  std::optional<std::string> public_url;  // base URL in discovery documents

  jose::Algorithm algorithm = jose::Algorithm::Hs256;
  std::optional<std::string> secret_key;  // never logged
  std::chrono::minutes access_token_ttl{30};
  std::chrono::hours refresh_token_ttl{24 * 7};
  std::string token_issuer = "gatehouse";
  std::optional<std::string> token_audience;

  PasswordRules password_rules;
  password::HashPolicy hash_policy;
  std::size_t hash_threads = 0;     // 0 = one per core
  std::size_t hash_queue = 0;       // 0 = 32 × threads
  std::size_t worker_threads = 16;  // blocking work (storage) off the I/O threads
  std::size_t io_threads = 0;       // 0 = half the cores, at least one

  RateLimit login_rate_limit{5, std::chrono::seconds(60)};
  RateLimit register_rate_limit{3, std::chrono::seconds(60)};
  RateLimit refresh_rate_limit{30, std::chrono::seconds(60)};   // per session
  RateLimit mfa_rate_limit{5, std::chrono::seconds(15 * 60)};   // per account
  RateLimit webauthn_rate_limit{30, std::chrono::seconds(60)};  // passkey registrations per session
  // Gatehouse as an OpenID Provider: requests to /oauth2/authorize, consent, token, revoke and
  // introspect per client address, each endpoint counted apart.
  RateLimit op_rate_limit{300, std::chrono::seconds(60)};
  // Authorization codes issued per account: each code and its exchange write audit records.
  RateLimit op_code_rate_limit{120, std::chrono::seconds(60 * 60)};
  RateLimit oidc_rate_limit{120, std::chrono::seconds(60)};  // external sign-in, per address
  // API keys, second factors, recovery codes and passkeys added to one's own account.
  RateLimit account_change_rate_limit{60, std::chrono::seconds(60 * 60)};
  // Changes to other users refused as above the caller's rights (each audited), per account.
  RateLimit refused_change_rate_limit{30, std::chrono::seconds(60 * 60)};
  std::vector<std::string> trusted_proxies;
  std::int64_t refresh_grace_seconds = 0;
  std::uint32_t lockout_threshold = 100;  // consecutive failures that lock password login
  // Second-factor codes tried in a row without a right one that lock the account's codes.
  std::uint32_t mfa_lockout_threshold = 100;
  std::int64_t lockout_cooldown_seconds = 3600;
  std::uint32_t login_delay_after = 5;  // failures before growing delays (0 = none)
  std::int64_t login_max_delay_seconds = 60;
  std::string audit_log_file;  // "" none, "-" stdout

  std::optional<std::filesystem::path> policy_file;
  std::string frontend_url = "http://localhost:3000";
  std::optional<std::string> google_client_id;
  std::optional<std::string> google_client_secret;
  std::vector<OidcProvider> oidc_providers;  // google first when configured
  std::string oidc_ca_file;                  // extra CA bundle for providers
  bool oidc_link_verified_email = true;
  bool oidc_require_code_challenge = false;

  ForwardAuthProxy forward_auth_proxy = ForwardAuthProxy::Nginx;
  bool registration_enabled = true;
  std::size_t api_keys_per_user = 100;
  std::size_t sessions_per_user = 100;          // live sessions (API, pages) per user
  bool docs_enabled = true;                     // /openapi.json and /docs
  std::vector<std::string> cors_allow_origins;  // exact origins; empty: no CORS headers
  std::int64_t step_up_max_age_seconds = 300;   // RFC 9470 max_age for step-up operations
  std::vector<std::string> mfa_required_roles;  // must enrol a second factor
  std::string mfa_issuer = "Gatehouse";         // the otpauth:// issuer
  // Seals second-factor secrets at rest (MFA_SECRET_KEY); unset: <data_dir>/mfa_secret_key.
  std::optional<std::string> mfa_secret_key;
  // Seals the generated keys kept in the database (KEY_ENCRYPTION_KEY, or the file named by
  // KEY_ENCRYPTION_KEY_FILE); unset: <data_dir>/key_encryption_key. Never logged.
  std::optional<std::string> key_encryption_key;
  std::optional<std::filesystem::path> key_encryption_key_file;

  std::optional<std::string> metrics_token;  // /metrics needs it as a bearer token when set
  // The pages (API.md, Pages for people).
  std::string session_cookie_domain;               // SESSION_COOKIE_DOMAIN ("" = this host only)
  std::vector<std::string> allowed_return_urls;    // exact origins the portal may return to
  std::string brand_primary_color = "#2457c5";     // BRAND_PRIMARY_COLOR
  std::string brand_background_color = "#f5f7fa";  // BRAND_BACKGROUND_COLOR
  MailConfig mail;
  EmailVerification email_verification = EmailVerification::Off;
  // Passkeys (docs/passkeys.md). RP ID and origins default to GATEHOUSE_PUBLIC_URL's host and
  // origin (checked at startup: each origin's host is the RP ID or under it).
  std::optional<std::string> webauthn_rp_id;
  std::vector<std::string> webauthn_origins;
  std::optional<std::string> webauthn_rp_name;           // default: BRAND_NAME
  std::string webauthn_user_verification = "preferred";  // required | preferred | discouraged
  bool webauthn_attestation_direct = false;              // WEBAUTHN_ATTESTATION=direct
  std::vector<std::string> webauthn_algorithms;  // WEBAUTHN_ALGORITHMS; empty: every supported
  std::string webauthn_trust_store;              // PEM roots, required with direct

  // The seed's HS256 tokens stay valid until legacy_tokens_until (API.md, Moving in).
  std::optional<std::string> legacy_secret_key;  // never logged
  std::int64_t legacy_tokens_until = 0;          // Unix seconds

  HttpLimits http;
  bool log_json = false;
  std::string log_level = "info";

  // Things worth saying at startup and by `gatehouse config --check` that are not errors.
  std::vector<std::string> warnings;
};

// Reads one variable: the environment in production, a map in tests.
using Lookup = std::function<std::optional<std::string>(const std::string&)>;

// Builds and validates the configuration. On failure the error message names every bad
// variable ("BCRYPT_ROUNDS: must be an integer between 10 and 31; ...").
// With `problems`, also each one apart.
[[nodiscard]] core::Result<Config> load(const Lookup& lookup,
                                        std::vector<std::string>* problems = nullptr);

// Lines describing the configuration with secrets shown only as set/unset.
std::vector<std::string> describe(const Config& config);

// `url` with any password replaced by "***" (userinfo and libpq's password= parameter), for logs
// and `gatehouse config`.
std::string redactUrl(std::string_view url);
// A URL for an error message: redactUrl's, and without a scheme everything before an '@' hidden.
std::string shownUrl(std::string_view url);

// Parses "5/minute"; nullopt when malformed.
std::optional<RateLimit> parseRateLimit(const std::string& text);

// "OIDC_MY_IDP_" for the provider named "my-idp" in OIDC_PROVIDERS: its variables' prefix.
std::string oidcVariablePrefix(std::string_view provider);

// Every variable load() reads, with its meaning (for --help and docs).
const std::map<std::string, std::string>& variables();

}  // namespace gatehouse::config
