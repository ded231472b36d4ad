#include "config/config.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "core/ascii.hpp"
#include "core/clock.hpp"
#include "core/ip_address.hpp"
#include "core/utf8.hpp"
#include "crypto/weak_secret.hpp"

namespace gatehouse::config {
namespace {

using core::Errc;

// Collects every problem so that one start reports them all.
class Reader {
 public:
  explicit Reader(const Lookup& lookup) : lookup_(lookup) {}

  std::optional<std::string> raw(const std::string& name) const {
    auto v = lookup_(name);
    if (v && v->empty()) return std::nullopt;
    return v;
  }

  void fail(const std::string& name, const std::string& why) {
    errors_.push_back(name + ": " + why);
  }

  template <class T>
  void integer(const std::string& name, T& out, long long min, long long max) {
    auto v = raw(name);
    if (!v) return;
    long long n = 0;
    const auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || ptr != v->data() + v->size() || n < min || n > max) {
      fail(name,
           "must be an integer between " + std::to_string(min) + " and " + std::to_string(max));
      return;
    }
    out = static_cast<T>(n);
  }

  void boolean(const std::string& name, bool& out) {
    auto v = raw(name);
    if (!v) return;
    const std::string s = core::lowerAscii(*v);
    if (s == "true" || s == "1" || s == "yes" || s == "on") {
      out = true;
    } else if (s == "false" || s == "0" || s == "no" || s == "off") {
      out = false;
    } else {
      fail(name, "must be true or false (or yes/no, on/off, 1/0)");
    }
  }

  void text(const std::string& name, std::string& out) {
    if (auto v = raw(name)) out = *v;
  }
  void optionalText(const std::string& name, std::optional<std::string>& out) {
    if (auto v = raw(name)) out = *v;
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  const Lookup& lookup_;
  std::vector<std::string> errors_;
};

bool parseListen(const std::string& text, std::string& host, std::uint16_t& port) {
  std::string h;
  std::string p;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return false;
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  unsigned n = 0;
  const auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
  if (h.empty() || ec != std::errc{} || ptr != p.data() + p.size() || n > 65535) return false;
  host = h;
  port = static_cast<std::uint16_t>(n);
  return true;
}

// The non-empty, space-trimmed items of a comma-separated list.
std::vector<std::string> commaList(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(std::move(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// sqlite:///relative/path and sqlite:////absolute/path (SQLAlchemy's form).
std::optional<std::filesystem::path> sqlitePath(const std::string& url) {
  constexpr std::string_view kPrefix = "sqlite:///";
  if (!url.starts_with(kPrefix) || url.size() == kPrefix.size()) return std::nullopt;
  return std::filesystem::path(url.substr(kPrefix.size()));
}

void rateLimit(Reader& r, const std::string& name, RateLimit& out) {
  if (auto v = r.raw(name)) {
    if (auto limit = parseRateLimit(*v)) {
      out = *limit;
    } else {
      r.fail(name, "must look like 5/minute or 5/15minutes (N/[K]second|minute|hour|day, N > 0)");
    }
  }
}

// A secret long enough that is still none (one character repeated, a published example): refused
// by name, never echoed. Length is each setting's own rule, checked before.
void refuseWeak(Reader& r, const std::string& name, const std::string& secret) {
  if (auto weak = crypto::notASecret(secret)) {
    r.fail(name, "is not a secret: it " + *weak +
                     "; anyone could use it. Set a random one (openssl rand -hex 32)");
  }
}

// A header value must not carry a line break (it would start a header of its own).
bool oneLine(const std::string& text) { return text.find_first_of("\r\n") == std::string::npos; }

// smtp[s]://[user[:password]@]host[:port][/...]: what curl is asked to reach, held to what curl
// itself takes (a review compared the two): one '@' at most (one in a password is written %40),
// a host name (letters, digits, '-', '.', '_', percent escapes, or UTF-8 for an IDN) or an IPv6
// address in brackets (with a %25 zone), and a port of 1-65535 when one is written.
bool validSmtpAuthority(std::string_view url) {
  url.remove_prefix(url.find("://") + 3);
  std::string_view authority = url.substr(0, url.find_first_of("/?#"));
  if (const auto at = authority.find('@'); at != std::string_view::npos) {
    if (authority.find('@', at + 1) != std::string_view::npos) return false;
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view literal = authority.substr(1, close - 1);
    if (const auto zone = literal.find("%25"); zone != std::string_view::npos) {
      const auto id = literal.substr(zone + 3);
      if (id.empty() || !std::all_of(id.begin(), id.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' ||
                   c == '_' || c == '~' || c == '%';
          }))
        return false;
      literal = literal.substr(0, zone);
    }
    in6_addr address{};
    if (::inet_pton(AF_INET6, std::string(literal).c_str(), &address) != 1) return false;
    const auto rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else {
    if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '%' || u >= 0x80;
        }))
      return false;
  }
  // An empty port is the scheme's, as curl reads it; port 0 reaches nothing.
  return port.empty() ||
         (core::isPort(port) && port.find_first_not_of('0') != std::string_view::npos);
}

// http://localhost, 127.x.x.x or [::1]: plain http there never leaves the machine.
bool isLoopbackUrl(const std::string& url) {
  std::string host = url.substr(url.find("://") + 3);
  host = host.substr(0, host.find_first_of("/?#"));
  if (host.starts_with('[')) return host.starts_with("[::1]");
  host = host.substr(0, host.find(':'));
  const bool ipv4_loopback =
      host.starts_with("127.") && host.find_first_not_of("0123456789.") == std::string::npos;
  return host == "localhost" || host.ends_with(".localhost") || ipv4_loopback;
}

// The seed's tokens (API.md, Moving in from elsewhere): both settings or neither.
void loadLegacy(Reader& r, Config& c) {
  r.optionalText("LEGACY_SECRET_KEY", c.legacy_secret_key);
  const auto until = r.raw("LEGACY_TOKENS_UNTIL");
  if (until) {
    if (auto t = core::parseRfc3339(*until))
      c.legacy_tokens_until = *t;
    else
      r.fail("LEGACY_TOKENS_UNTIL", "must be an RFC 3339 time such as 2027-01-31T00:00:00Z");
  }
  if (c.legacy_secret_key && c.legacy_secret_key->size() < 32)
    r.fail("LEGACY_SECRET_KEY", "must be at least 32 bytes (HS256's key size, RFC 7518)");
  else if (c.legacy_secret_key)
    refuseWeak(r, "LEGACY_SECRET_KEY", *c.legacy_secret_key);
  if (c.legacy_secret_key.has_value() != until.has_value())
    r.fail("LEGACY_SECRET_KEY", "LEGACY_SECRET_KEY and LEGACY_TOKENS_UNTIL go together");
}

void loadMail(Reader& r, Config& c) {
  MailConfig& m = c.mail;
  r.optionalText("SMTP_URL", m.smtp_url);
  if (m.smtp_url &&
      ((!m.smtp_url->starts_with("smtp://") && !m.smtp_url->starts_with("smtps://")) ||
       !validSmtpAuthority(*m.smtp_url)))
    r.fail("SMTP_URL",
           "must be smtp://[user:password@]host[:port] or smtps://... (a host name "
           "or [IPv6 address], a port of 1-65535, an '@' in the user or password written %40)");
  r.boolean("SMTP_STARTTLS", m.smtp_starttls);
  r.text("SMTP_CA_FILE", m.smtp_ca_file);
  if (auto v = r.raw("MAIL_FILE")) m.mail_file = *v;
  if (m.smtp_url && m.mail_file) r.fail("MAIL_FILE", "set SMTP_URL or MAIL_FILE, not both");
  r.text("SMTP_FROM", m.smtp_from);
  if (m.smtp_from.empty() && m.smtp_url) {
    r.fail("SMTP_FROM", "required with SMTP_URL (e.g. Gatehouse <noreply@example.com>)");
  } else if (m.smtp_from.empty()) {
    m.smtp_from = "Gatehouse <noreply@localhost>";
  }
  if (!oneLine(m.smtp_from) || m.smtp_from.find('@') == std::string::npos)
    r.fail("SMTP_FROM", "must be one address, optionally with a display name");
  if (auto v = r.raw("GATEHOUSE_TEMPLATE_DIR")) m.template_dir = *v;
  if (auto v = r.raw("BRAND_NAME")) {
    if (v->size() > 64 || !oneLine(*v) || !core::isValidUtf8(*v))
      r.fail("BRAND_NAME", "at most 64 bytes of UTF-8 on one line");
    else
      m.brand_name = *v;
  }
  r.optionalText("PASSWORD_RESET_URL", m.password_reset_url);
  if (m.password_reset_url && ((!m.password_reset_url->starts_with("https://") &&
                                !m.password_reset_url->starts_with("http://")) ||
                               m.password_reset_url->find('#') != std::string::npos))
    r.fail("PASSWORD_RESET_URL", "must be an http(s) URL without a fragment");
  r.integer("PASSWORD_RESET_TTL_SECONDS", m.reset_ttl_seconds, 1, 86400);
  r.integer("EMAIL_VERIFICATION_TTL_SECONDS", m.verification_ttl_seconds, 1, 30 * 86400);
  r.integer("EMAIL_CHANGE_TTL_SECONDS", m.change_ttl_seconds, 1, 30 * 86400);
  r.integer("MAIL_RETRY_BASE_SECONDS", m.retry_base_seconds, 1, 3600);
  r.integer("MAIL_MAX_ATTEMPTS", m.max_attempts, 1, 100);
  r.integer("MAIL_POLL_SECONDS", m.poll_seconds, 1, 3600);
  rateLimit(r, "EMAIL_RATE_LIMIT", m.rate_limit);
  rateLimit(r, "EMAIL_IP_RATE_LIMIT", m.ip_rate_limit);
  rateLimit(r, "EMAIL_TOKEN_RATE_LIMIT", m.token_rate_limit);
  if (auto v = r.raw("EMAIL_VERIFICATION")) {
    if (*v == "off") {
      c.email_verification = EmailVerification::Off;
    } else if (*v == "optional") {
      c.email_verification = EmailVerification::Optional;
    } else if (*v == "required") {
      c.email_verification = EmailVerification::Required;
    } else {
      r.fail("EMAIL_VERIFICATION", "must be off, optional or required");
    }
  }
  if (c.email_verification != EmailVerification::Off && !m.configured())
    r.fail("EMAIL_VERIFICATION", "needs SMTP_URL or MAIL_FILE to send the links");
}

}  // namespace

std::optional<RateLimit> parseRateLimit(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0) return std::nullopt;
  std::uint32_t n = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + slash, n);
  if (ec != std::errc{} || ptr != text.data() + slash || n == 0) return std::nullopt;
  // The unit may carry a count and a plural, as slowapi's do: 5/minute, 5/15minutes.
  std::string unit = text.substr(slash + 1);
  std::uint32_t times = 1;
  const auto digits = unit.find_first_not_of("0123456789");
  if (digits == std::string::npos) return std::nullopt;
  if (digits > 0) {
    const auto [p, e] = std::from_chars(unit.data(), unit.data() + digits, times);
    if (e != std::errc{} || p != unit.data() + digits || times == 0 || times > 100000)
      return std::nullopt;
    unit = unit.substr(digits);
    if (!unit.ends_with('s') && times != 1) return std::nullopt;
  }
  if (unit.ends_with('s')) unit.pop_back();
  std::chrono::seconds window{0};
  if (unit == "second") window = std::chrono::seconds(1);
  if (unit == "minute") window = std::chrono::seconds(60);
  if (unit == "hour") window = std::chrono::seconds(3600);
  if (unit == "day") window = std::chrono::seconds(86400);
  if (window.count() == 0) return std::nullopt;
  return RateLimit{n, window * times};
}

const std::map<std::string, std::string>& variables() {
  static const std::map<std::string, std::string> kVars = {
      {"SECRET_KEY",
       "HMAC signing secret (HS*), at least the hash size (unset: generated and kept in the "
       "database, sealed under KEY_ENCRYPTION_KEY, rotated by `gatehouse keys rotate`)"},
      {"ALGORITHM",
       "token signing algorithm: HS256 (default), HS384, HS512, RS256, RS384, RS512, PS256, PS384, "
       "PS512, ES256, ES384, ES512, EdDSA"},
      {"ACCESS_TOKEN_EXPIRE_MINUTES", "access-token lifetime (30)"},
      {"REFRESH_TOKEN_EXPIRE_DAYS", "refresh-token lifetime (7)"},
      {"PASSWORD_MIN_LENGTH", "minimum password length in characters (8)"},
      {"PASSWORD_REQUIRE_UPPERCASE", "require an uppercase letter (true)"},
      {"PASSWORD_REQUIRE_LOWERCASE", "require a lowercase letter (true)"},
      {"PASSWORD_REQUIRE_DIGIT", "require a digit (true)"},
      {"PASSWORD_REQUIRE_SPECIAL", "require a character that is not a letter or digit (true)"},
      {"PASSWORD_SCHEME", "bcrypt (default) or argon2id for new hashes"},
      {"BCRYPT_ROUNDS", "bcrypt cost, 10 to 31 (12)"},
      {"ARGON2_MEMORY_KIB", "argon2id memory in KiB, at least 19456 (19456)"},
      {"ARGON2_ITERATIONS", "argon2id passes, at least 2 (2)"},
      {"ARGON2_PARALLELISM", "argon2id lanes, 1 to 64 (1)"},
      {"GOOGLE_CLIENT_ID", "Google sign-in client id"},
      {"OIDC_PROVIDERS",
       "comma-separated names of further OpenID providers; each reads OIDC_<NAME>_ISSUER, "
       "_CLIENT_ID, _CLIENT_SECRET, _SCOPES (openid email profile), _ID_TOKEN_ALG (RS256), "
       "_TRUST_AMR "
       "(false: a user with a second factor is asked for it after the provider, unless this is "
       "true "
       "and the ID token's amr names one)"},
      {"OIDC_CA_FILE", "extra CA bundle trusted for OpenID providers (private CAs)"},
      {"WEBAUTHN_RP_ID", "the passkeys' relying party ID (the host of GATEHOUSE_PUBLIC_URL)"},
      {"WEBAUTHN_ORIGINS",
       "comma-separated origins a passkey ceremony may come from (GATEHOUSE_PUBLIC_URL's)"},
      {"WEBAUTHN_RP_NAME", "the name authenticators show (BRAND_NAME)"},
      {"WEBAUTHN_USER_VERIFICATION",
       "user verification for a passkey as second factor: required, preferred (default) or "
       "discouraged; passwordless sign-in always requires it"},
      {"WEBAUTHN_ATTESTATION",
       "none (default: any authenticator) or direct (only attested by WEBAUTHN_TRUST_STORE)"},
      {"WEBAUTHN_TRUST_STORE",
       "PEM file of attestation root certificates: attestation is asked for, and hwk given to "
       "device-bound keys it attests (required with direct)"},
      {"WEBAUTHN_ALGORITHMS",
       "comma-separated passkey algorithms allowed, of ES256, EdDSA, RS256, ES384, ES512 (all)"},
      {"WEBAUTHN_RATE_LIMIT",
       "passkey registrations (options and answers) per session (30/minute)"},
      {"OIDC_LINK_VERIFIED_EMAIL",
       "link a new external identity to the account with its email when the provider says the "
       "email is verified (true)"},
      {"OIDC_REQUIRE_CODE_CHALLENGE",
       "refuse a frontend's external sign-in begun without a code_challenge, so every one-time "
       "code is bound to its frontend (false: the seed's frontends send none)"},
      {"GOOGLE_CLIENT_SECRET", "Google sign-in client secret"},
      {"FORWARD_AUTH_PROXY",
       "nginx, traefik or caddy: whose original-request headers /api/v1/auth/verify believes "
       "(nginx: X-Original-Method/-URI; traefik, caddy: X-Forwarded-Method/-Uri) (nginx)"},
      {"REGISTRATION_ENABLED", "allow self-registration at POST /api/v1/auth/register (true)"},
      {"API_KEYS_PER_USER", "live API keys one user may hold, 1 to 10000 (100)"},
      {"SESSIONS_PER_USER",
       "live sessions one user may hold (sign-ins through the API and the pages); a new one past "
       "it ends the least recently refreshed of those begun before it, 1 to 10000 (100)"},
      {"DOCS_ENABLED", "serve /openapi.json and the Swagger UI at /docs (true)"},
      {"CORS_ALLOW_ORIGINS",
       "comma-separated exact origins (scheme://host[:port]) whose browser pages may call the "
       "API with credentials (unset: no CORS headers)"},
      {"FRONTEND_URL", "where external sign-in redirects back to (http://localhost:3000)"},
      {"LOGIN_RATE_LIMIT", "N/second|minute|hour|day (5/minute)"},
      {"REGISTER_RATE_LIMIT", "N/second|minute|hour|day (3/minute)"},
      {"REFRESH_RATE_LIMIT", "refreshes per session, N/second|minute|hour|day (30/minute)"},
      {"MFA_RATE_LIMIT",
       "second-factor codes per account, never shared with the password's counters (a passkey's "
       "answers as second factor: per account and client address, apart), "
       "N/[K]second(s)|minute(s)|hour(s)|day(s) (5/15minutes)"},
      {"MFA_LOCKOUT_THRESHOLD",
       "second-factor codes tried in a row without a right one (TOTP or recovery codes, on any "
       "node) that lock an account's codes until an administrator resets its second factor or "
       "the owner uses a passkey (to sign in, as second factor, to reauthenticate); a new "
       "password does not unlock them; at most 100 (100)"},
      {"OIDC_RATE_LIMIT",
       "external sign-in starts and callbacks (each asks the provider) per client address, each "
       "apart, N/second|minute|hour|day (120/minute)"},
      {"OP_RATE_LIMIT",
       "OpenID Provider requests (/oauth2/authorize, consent, token, revoke, introspect) per "
       "client address, each endpoint apart, N/second|minute|hour|day (300/minute)"},
      {"OP_CODE_RATE_LIMIT",
       "authorization codes the OpenID Provider issues per account and client (each code and its "
       "exchange write audit records, which are kept); past it the application is answered "
       "temporarily_unavailable, N/[K]second(s)|minute(s)|hour(s)|day(s) (120/hour)"},
      {"ACCOUNT_CHANGE_RATE_LIMIT",
       "API keys, second factors, recovery codes and passkeys added to one's own account (each "
       "writes an audit record; taking one away is never counted), per account, "
       "N/second|minute|hour|day (60/hour)"},
      {"REFUSED_CHANGE_RATE_LIMIT",
       "changes to users refused because the target or the new role is above the caller's rights "
       "(each writes an audit record, which is kept), per calling account, API keys and pages "
       "included; past it 429, N/second|minute|hour|day (30/hour)"},
      {"STEP_UP_MAX_AGE_SECONDS",
       "how recent a sign-in must be for step-up operations (adding or removing a factor, new "
       "recovery codes, API keys, MFA resets, another user's password, importing users, "
       "unlinking an identity), 1 to 86400 (300)"},
      {"MFA_REQUIRED_ROLES",
       "comma-separated roles whose users must enrol a second factor: until they do, their tokens "
       "only reach /api/v1/auth/me, /api/v1/auth/mfa*, /api/v1/auth/webauthn/* (to add a passkey), "
       "/api/v1/auth/reauthenticate and logout, and introspection answers them inactive (unset: "
       "none)"},
      {"MFA_ISSUER", "the issuer shown in authenticator apps (Gatehouse)"},
      {"MFA_SECRET_KEY",
       "at least 32 bytes: the key second-factor secrets and recovery codes are sealed under; "
       "several nodes need the same one; never rotate it (every factor would stop working) "
       "(unset: generated once and kept in the database, sealed under KEY_ENCRYPTION_KEY)"},
      {"KEY_ENCRYPTION_KEY",
       "at least 32 bytes: seals the keys Gatehouse generates (token signing keys, the master "
       "secret) in the database; every node on one database needs the same one (unset: "
       "KEY_ENCRYPTION_KEY_FILE, else <data dir>/key_encryption_key, made 0600 while the database "
       "holds no key)"},
      {"KEY_ENCRYPTION_KEY_FILE",
       "a file holding KEY_ENCRYPTION_KEY (one trailing newline ignored), e.g. a systemd "
       "credential or a mounted secret"},
      {"METRICS_TOKEN",
       "at least 16 characters, no white space at either end: /metrics then answers only "
       "`Authorization: Bearer <token>` (unset: open; its counters tell what happened to single "
       "requests, so keep it on the monitoring network; the start warns when GATEHOUSE_LISTEN is "
       "not loopback)"},
      {"SMTP_URL",
       "smtp://[user:password@]host[:port] (STARTTLS required) or smtps://...: where mail goes "
       "(unset, and no MAIL_FILE: password reset, verification and email change answer 503)"},
      {"SMTP_STARTTLS",
       "require STARTTLS on smtp:// (true); false: TLS when the server offers it, else in the "
       "clear (a local relay only)"},
      {"SMTP_FROM",
       "the From address, e.g. Gatehouse <noreply@example.com> (required with SMTP_URL)"},
      {"SMTP_CA_FILE",
       "the CA bundle the SMTP server's certificate is checked against, instead of the system's "
       "(private CAs); the check is never off"},
      {"MAIL_FILE",
       "development: append each message to this mbox file instead of sending it (tokens in "
       "clear)"},
      {"GATEHOUSE_TEMPLATE_DIR",
       "overrides for the built-in templates: mail/<name>.subject, .txt and .html; ui.css is "
       "added to the pages' stylesheet"},
      {"BRAND_NAME", "the product name in mails and pages (Gatehouse)"},
      {"BRAND_PRIMARY_COLOR", "the pages' main colour, #rgb or #rrggbb (#2457c5)"},
      {"BRAND_BACKGROUND_COLOR", "the pages' background colour, #rgb or #rrggbb (#f5f7fa)"},
      {"SESSION_COOKIE_DOMAIN",
       "the Domain of the pages' gatehouse_session cookie, e.g. example.com so that forward-auth "
       "on app.example.com sees the sign-in made on auth.example.com (unset: this host only)"},
      {"ALLOWED_RETURN_URLS",
       "comma-separated exact origins (scheme://host[:port]) the portal may send a browser back "
       "to after sign-in (return_to, rd); this server's own paths always (unset: none other)"},
      {"EMAIL_VERIFICATION",
       "off (default), optional (registration sends a verification link) or required (an "
       "unverified account cannot sign in: 403 Email not verified)"},
      {"PASSWORD_RESET_URL",
       "the reset link's base instead of <GATEHOUSE_PUBLIC_URL>/ui/reset-password (#token=... is "
       "appended)"},
      {"PASSWORD_RESET_TTL_SECONDS", "how long a reset link works, 1 to 86400 (900)"},
      {"EMAIL_VERIFICATION_TTL_SECONDS", "how long a verification link works (86400)"},
      {"EMAIL_CHANGE_TTL_SECONDS", "how long an email-change confirmation works (86400)"},
      {"MAIL_RETRY_BASE_SECONDS",
       "delay before the first retry of a failed delivery, doubling each time up to an hour (30)"},
      {"MAIL_MAX_ATTEMPTS", "delivery attempts before a message is abandoned (12)"},
      {"MAIL_POLL_SECONDS",
       "how often each node looks for due messages (other nodes', retries) (2)"},
      {"EMAIL_RATE_LIMIT",
       "mails asked for per mailbox (forgot password, registration, the new address of an email "
       "change) or per account (verification, email change); and each kind of security notice "
       "per address (per mailbox too while unverified), on a count of its own (5/hour)"},
      {"EMAIL_IP_RATE_LIMIT",
       "forgot-password, email-change and verification requests per client address, each apart, "
       "and notices to unverified addresses (30/hour)"},
      {"EMAIL_TOKEN_RATE_LIMIT",
       "attempts to spend an emailed token per client address (20/minute)"},
      {"DATABASE_URL",
       "sqlite:///relative/path, sqlite:////absolute/path (default "
       "sqlite:///./gatehouse-data/gatehouse.db), or postgresql://user:password@host:port/db "
       "(libpq URI; several nodes)"},
      {"DATABASE_POOL_SIZE", "PostgreSQL connections per node (8)"},
      {"REDIS_URL",
       "redis://[[user]:password@]host[:port][/db], or rediss://... for TLS (the certificate and "
       "host name verified): rate limits, revocations, one-time codes and change notifications "
       "shared by several nodes (unset: in-process)"},
      {"REDIS_CA_FILE", "extra CA bundle (PEM) trusted for a rediss:// REDIS_URL (private CAs)"},
      {"LEGACY_SECRET_KEY",
       "the FastAPI seed's SECRET_KEY: its HS256 access and refresh tokens keep working for users "
       "moved in with import-seed (with LEGACY_TOKENS_UNTIL)"},
      {"LEGACY_TOKENS_UNTIL", "RFC 3339 time after which the seed's tokens are refused"},
      {"GATEHOUSE_LISTEN", "host:port to listen on (127.0.0.1:8000)"},
      {"GATEHOUSE_PUBLIC_URL",
       "base URL used in discovery documents (default http://GATEHOUSE_LISTEN)"},
      {"GATEHOUSE_DATA_DIR",
       "this node's files: the generated key-encryption key, node_id, dummy_hash (default: the "
       "SQLite database's folder); the keys themselves live in the database, sealed"},
      {"TOKEN_ISSUER", "the iss claim (gatehouse)"},
      {"TOKEN_AUDIENCE", "the aud claim, added and required when set"},
      {"REFRESH_GRACE_SECONDS",
       "seconds a just-rotated refresh token fails without revoking its session, for concurrent "
       "tabs (0)"},
      {"LOGIN_LOCKOUT_THRESHOLD",
       "consecutive failed logins that lock an account's password login, at most 100 (100)"},
      {"LOGIN_LOCKOUT_MINUTES", "how long such a lock lasts (60)"},
      {"LOGIN_DELAY_AFTER_FAILURES", "failed logins before growing delays begin, 0 for none (5)"},
      {"LOGIN_MAX_DELAY_SECONDS", "the longest of those delays (60)"},
      {"AUDIT_LOG_FILE",
       "also write audit events as JSON lines to this file (a regular file, never a link, made "
       "0600, in a folder that exists; or a stream: /dev/stdout, a FIFO named itself, not a link), "
       "or - for stdout "
       "(stderr for a command, whose stdout is its answer)"},
      {"TRUSTED_PROXIES",
       "comma-separated proxy addresses or ranges (10.0.0.0/8, fd00::/8) whose X-Forwarded-For "
       "is believed"},
      {"GATEHOUSE_POLICY_FILE", "JSON file adding roles and permissions"},
      {"GATEHOUSE_CONFIG_FILE",
       "KEY=VALUE file (as a shell or systemd's EnvironmentFile reads it) for the settings the "
       "environment lacks; serve --config FILE overrides it. Unknown keys are refused; relative "
       "paths in it resolve against its folder"},
      {"GATEHOUSE_LOG_FORMAT", "text (default) or json, any letter case"},
      {"GATEHOUSE_LOG_LEVEL", "trace, debug, info (default), warn (or warning), error"},
      {"GATEHOUSE_MAX_BODY_BYTES", "request body limit (1048576)"},
      {"GATEHOUSE_MAX_HEADER_BYTES", "request header section limit (8192)"},
      {"GATEHOUSE_MAX_TOKEN_BYTES", "token size limit, checked before parsing (8192)"},
      {"GATEHOUSE_REQUEST_TIMEOUT_SECONDS", "time to receive a whole request (30)"},
      {"GATEHOUSE_IDLE_TIMEOUT_SECONDS", "keep-alive wait plus a request's headers (60)"},
      {"GATEHOUSE_MAX_CONNECTIONS", "concurrent connections (1024)"},
      {"GATEHOUSE_MAX_CONNECTIONS_PER_CLIENT",
       "concurrent connections from one client address, an IPv6 client's /64 (256; 0 = no "
       "limit; TRUSTED_PROXIES are not counted)"},
      {"GATEHOUSE_MAX_BODY_MEMORY_BYTES",
       "request body bytes held in memory at once, all connections (67108864; an eighth of it "
       "per client address); 503 beyond"},
      {"GATEHOUSE_HASH_THREADS", "password hashing threads (0 = one per core)"},
      {"GATEHOUSE_HASH_QUEUE", "requests waiting to hash before 503 (0 = 32 per hashing thread)"},
      {"GATEHOUSE_WORKER_THREADS", "most threads for storage work, started on demand (16)"},
      {"GATEHOUSE_IO_THREADS",
       "threads that read, answer token checks from memory and write (0 = half the cores, at "
       "least one)"},
  };
  return kVars;
}

core::Result<Config> load(const Lookup& lookup, std::vector<std::string>* problems) {
  Config c;
  Reader r(lookup);

  if (auto v = r.raw("GATEHOUSE_LISTEN"); v && !parseListen(*v, c.listen_host, c.listen_port)) {
    r.fail("GATEHOUSE_LISTEN", "must be host:port, e.g. 127.0.0.1:8000 or [::1]:8000");
  }
  r.text("DATABASE_URL", c.database_url);
  if (auto path = sqlitePath(c.database_url);
      path && path->native().find_first_of("?#") != std::string::npos) {
    // SQLite's URL parameters are not read here: "x.db?password=..." would name a file so.
    r.fail("DATABASE_URL", "a SQLite path cannot hold '?' or '#' (no URL parameters are read)");
  } else if (path) {
    c.sqlite_path = *path;
    c.data_dir = path->has_parent_path() ? path->parent_path() : std::filesystem::path(".");
  } else if (c.database_url.starts_with("postgresql://") ||
             c.database_url.starts_with("postgres://")) {
    c.data_dir = "./gatehouse-data";
  } else {
    r.fail("DATABASE_URL",
           "must be sqlite:///relative/path, sqlite:////absolute/path or postgresql://...");
  }
  if (auto dir = r.raw("GATEHOUSE_DATA_DIR")) c.data_dir = *dir;
  r.integer("DATABASE_POOL_SIZE", c.database_pool_size, 1, 512);
  r.optionalText("REDIS_URL", c.redis_url);
  if (c.redis_url && !c.redis_url->starts_with("redis://") &&
      !c.redis_url->starts_with("rediss://")) {
    r.fail("REDIS_URL", "must be redis://[[user]:password@]host[:port][/db] or rediss://... (TLS)");
  }
  if (!c.redis_url &&
      (c.database_url.starts_with("postgresql://") || c.database_url.starts_with("postgres://"))) {
    // Found by an outside attack: a node started so beside others heard their revocations never.
    c.warnings.push_back(
        "DATABASE_URL is PostgreSQL and REDIS_URL is not set: run one node so. Nodes sharing a "
        "database need REDIS_URL on every one: without it each keeps its own rate limits, "
        "lockouts and one-time codes, and hears the others' revocations only when it reads them "
        "again from the database (every 30 s); it serves one-time codes only while no node with "
        "Redis, and no later node without it, runs on the database (docs/deployment.md)");
  }
  r.text("REDIS_CA_FILE", c.redis_ca_file);
  if (!c.redis_ca_file.empty() && !(c.redis_url && c.redis_url->starts_with("rediss://")))
    r.fail("REDIS_CA_FILE", "only means something with a rediss:// REDIS_URL");
  r.optionalText("GATEHOUSE_PUBLIC_URL", c.public_url);
  if (c.public_url) {
    while (c.public_url->ends_with('/')) c.public_url->pop_back();
    if (!c.public_url->starts_with("http://") && !c.public_url->starts_with("https://")) {
      r.fail("GATEHOUSE_PUBLIC_URL", "must start with http:// or https://");
    } else if (c.public_url->starts_with("http://") && !isLoopbackUrl(*c.public_url)) {
      c.warnings.push_back(
          "GATEHOUSE_PUBLIC_URL is plain http on a host that is not loopback: "
          "browsers send its cookies and tokens unencrypted; use https://");
    }
  }

  if (auto v = r.raw("ALGORITHM")) {
    if (auto alg = jose::algorithmFromName(*v)) {
      c.algorithm = *alg;
    } else {
      r.fail("ALGORITHM",
             "must be one of HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, "
             "ES384, ES512, EdDSA");
    }
  }
  r.optionalText("SECRET_KEY", c.secret_key);
  if (c.secret_key && jose::isHmac(c.algorithm)) {
    const std::size_t need = crypto::digestSize(jose::algorithmDigest(c.algorithm));
    if (c.secret_key->size() < need) {
      r.fail("SECRET_KEY", "must be at least " + std::to_string(need) + " bytes for " +
                               std::string(jose::algorithmName(c.algorithm)));
    } else {
      refuseWeak(r, "SECRET_KEY", *c.secret_key);
    }
  }
  long long minutes = 30;
  long long days = 7;
  r.integer("ACCESS_TOKEN_EXPIRE_MINUTES", minutes, 1, 60LL * 24 * 366);
  r.integer("REFRESH_TOKEN_EXPIRE_DAYS", days, 1, 3660);
  c.access_token_ttl = std::chrono::minutes(minutes);
  c.refresh_token_ttl = std::chrono::hours(24 * days);
  r.text("TOKEN_ISSUER", c.token_issuer);
  r.optionalText("TOKEN_AUDIENCE", c.token_audience);

  r.integer("PASSWORD_MIN_LENGTH", c.password_rules.min_length, 1, 1024);
  r.boolean("PASSWORD_REQUIRE_UPPERCASE", c.password_rules.require_uppercase);
  r.boolean("PASSWORD_REQUIRE_LOWERCASE", c.password_rules.require_lowercase);
  r.boolean("PASSWORD_REQUIRE_DIGIT", c.password_rules.require_digit);
  r.boolean("PASSWORD_REQUIRE_SPECIAL", c.password_rules.require_special);
  if (auto v = r.raw("PASSWORD_SCHEME")) {
    if (*v == "bcrypt") {
      c.hash_policy.scheme = password::Scheme::Bcrypt;
    } else if (*v == "argon2id") {
      c.hash_policy.scheme = password::Scheme::Argon2id;
    } else {
      r.fail("PASSWORD_SCHEME", "must be bcrypt or argon2id");
    }
  }
  r.integer("BCRYPT_ROUNDS", c.hash_policy.bcrypt_cost, 10, 31);
  r.integer("ARGON2_MEMORY_KIB", c.hash_policy.argon2.memory_kib, 19456, 4LL * 1024 * 1024);
  r.integer("ARGON2_ITERATIONS", c.hash_policy.argon2.iterations, 2, 1000);
  r.integer("ARGON2_PARALLELISM", c.hash_policy.argon2.parallelism, 1, 64);
  r.integer("GATEHOUSE_HASH_THREADS", c.hash_threads, 0, 256);
  r.integer("GATEHOUSE_HASH_QUEUE", c.hash_queue, 0, 100000);
  r.integer("GATEHOUSE_WORKER_THREADS", c.worker_threads, 1, 1024);
  r.integer("GATEHOUSE_IO_THREADS", c.io_threads, 0, 256);

  for (const auto& [name, target] :
       {std::pair{"LOGIN_RATE_LIMIT", &c.login_rate_limit},
        std::pair{"REGISTER_RATE_LIMIT", &c.register_rate_limit},
        std::pair{"REFRESH_RATE_LIMIT", &c.refresh_rate_limit},
        std::pair{"MFA_RATE_LIMIT", &c.mfa_rate_limit},
        std::pair{"WEBAUTHN_RATE_LIMIT", &c.webauthn_rate_limit},
        std::pair{"OP_RATE_LIMIT", &c.op_rate_limit},
        std::pair{"OP_CODE_RATE_LIMIT", &c.op_code_rate_limit},
        std::pair{"OIDC_RATE_LIMIT", &c.oidc_rate_limit},
        std::pair{"ACCOUNT_CHANGE_RATE_LIMIT", &c.account_change_rate_limit},
        std::pair{"REFUSED_CHANGE_RATE_LIMIT", &c.refused_change_rate_limit}}) {
    if (auto v = r.raw(name)) {
      if (auto limit = parseRateLimit(*v)) {
        *target = *limit;
      } else {
        r.fail(name, "must look like 5/minute or 5/15minutes (N/[K]second|minute|hour|day, N > 0)");
      }
    }
  }
  if (auto v = r.raw("TRUSTED_PROXIES")) {
    std::string bad;
    c.trusted_proxies = commaList(*v);
    if (!core::AddressSet::parse(c.trusted_proxies, &bad)) {
      r.fail("TRUSTED_PROXIES",
             "each entry must be an IP address or a range such as 10.0.0.0/8 "
             "or fd00::/8 (no wider than /8, no bits past the prefix, no host names), got " +
                 bad);
      c.trusted_proxies.clear();
    }
  }
  r.integer("REFRESH_GRACE_SECONDS", c.refresh_grace_seconds, 0, 60);
  r.integer("LOGIN_LOCKOUT_THRESHOLD", c.lockout_threshold, 1, 100);
  r.integer("MFA_LOCKOUT_THRESHOLD", c.mfa_lockout_threshold, 1, 100);
  long long cooldown_minutes = 60;
  r.integer("LOGIN_LOCKOUT_MINUTES", cooldown_minutes, 1, 7 * 24 * 60);
  c.lockout_cooldown_seconds = cooldown_minutes * 60;
  r.integer("LOGIN_DELAY_AFTER_FAILURES", c.login_delay_after, 0, 100);
  r.integer("LOGIN_MAX_DELAY_SECONDS", c.login_max_delay_seconds, 1, 3600);
  r.text("AUDIT_LOG_FILE", c.audit_log_file);
  if (auto v = r.raw("GATEHOUSE_POLICY_FILE")) c.policy_file = *v;
  r.text("FRONTEND_URL", c.frontend_url);
  if (!c.frontend_url.starts_with("http://") && !c.frontend_url.starts_with("https://"))
    r.fail("FRONTEND_URL",  // its password hidden, as every URL's (an outside attack)
           "must start with http:// or https:// (got " + shownUrl(c.frontend_url) + ")");
  r.optionalText("GOOGLE_CLIENT_ID", c.google_client_id);
  r.optionalText("GOOGLE_CLIENT_SECRET", c.google_client_secret);
  if (c.google_client_id.has_value() != c.google_client_secret.has_value()) {
    r.fail("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go together");
  } else if (c.google_client_id) {
    c.oidc_providers.push_back({"google", "https://accounts.google.com", *c.google_client_id,
                                *c.google_client_secret, "openid email profile",
                                jose::Algorithm::Rs256});
  }
  if (auto list = r.raw("OIDC_PROVIDERS")) {
    for (const std::string& name : commaList(*list)) {
      const bool valid_name = std::all_of(name.begin(), name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
      });
      if (!valid_name || name == "google" || name == "exchange") {
        r.fail("OIDC_PROVIDERS",
               "provider names are lower-case letters, digits and '-' (not google or exchange)");
        continue;
      }
      const std::string prefix = oidcVariablePrefix(name);
      OidcProvider p;
      p.name = name;
      r.text(prefix + "ISSUER", p.issuer);
      r.text(prefix + "CLIENT_ID", p.client_id);
      r.text(prefix + "CLIENT_SECRET", p.client_secret);
      r.text(prefix + "SCOPES", p.scopes);
      if (!p.issuer.starts_with("https://"))
        r.fail(prefix + "ISSUER", "must be an https:// issuer URL");
      if (p.client_id.empty()) r.fail(prefix + "CLIENT_ID", "is required");
      if (p.client_secret.empty()) r.fail(prefix + "CLIENT_SECRET", "is required");
      if (p.scopes.find("openid") == std::string::npos)
        r.fail(prefix + "SCOPES", "must include openid");
      if (auto alg = r.raw(prefix + "ID_TOKEN_ALG")) {
        const auto parsed = jose::algorithmFromName(*alg);
        if (!parsed || jose::isHmac(*parsed)) {
          r.fail(prefix + "ID_TOKEN_ALG",
                 "must be an asymmetric JWS algorithm such as RS256 or ES256");
        } else {
          p.id_token_alg = *parsed;
        }
      }
      if (auto trust = r.raw(prefix + "TRUST_AMR")) {
        if (*trust == "true" || *trust == "1") {
          p.trust_amr = true;
        } else if (*trust != "false" && *trust != "0") {
          r.fail(prefix + "TRUST_AMR", "must be true or false");
        }
      }
      c.oidc_providers.push_back(std::move(p));
    }
  }
  r.text("OIDC_CA_FILE", c.oidc_ca_file);
  r.boolean("OIDC_LINK_VERIFIED_EMAIL", c.oidc_link_verified_email);
  r.boolean("OIDC_REQUIRE_CODE_CHALLENGE", c.oidc_require_code_challenge);
  if (auto v = r.raw("FORWARD_AUTH_PROXY")) {
    if (*v == "nginx") {
      c.forward_auth_proxy = ForwardAuthProxy::Nginx;
    } else if (*v == "traefik") {
      c.forward_auth_proxy = ForwardAuthProxy::Traefik;
    } else if (*v == "caddy") {
      c.forward_auth_proxy = ForwardAuthProxy::Caddy;
    } else {
      r.fail("FORWARD_AUTH_PROXY", "must be nginx, traefik or caddy");
    }
  }
  r.boolean("REGISTRATION_ENABLED", c.registration_enabled);
  r.integer("API_KEYS_PER_USER", c.api_keys_per_user, 1, 10000);
  r.integer("SESSIONS_PER_USER", c.sessions_per_user, 1, 10000);
  r.boolean("DOCS_ENABLED", c.docs_enabled);
  r.integer("STEP_UP_MAX_AGE_SECONDS", c.step_up_max_age_seconds, 1, 86400);
  r.optionalText("MFA_SECRET_KEY", c.mfa_secret_key);
  if (c.mfa_secret_key && c.mfa_secret_key->size() < 32)
    r.fail("MFA_SECRET_KEY", "must be at least 32 bytes");
  else if (c.mfa_secret_key)
    refuseWeak(r, "MFA_SECRET_KEY", *c.mfa_secret_key);
  r.optionalText("KEY_ENCRYPTION_KEY", c.key_encryption_key);
  // Its other rules need the database: one that already sealed the stored keys cannot be
  // changed, and is named rather than refused (app::loadKek).
  if (c.key_encryption_key && c.key_encryption_key->size() < 32)
    r.fail("KEY_ENCRYPTION_KEY", "must be at least 32 bytes");
  if (auto v = r.raw("KEY_ENCRYPTION_KEY_FILE"); v && !v->empty()) {
    if (c.key_encryption_key)
      r.fail("KEY_ENCRYPTION_KEY_FILE",
             "set KEY_ENCRYPTION_KEY or KEY_ENCRYPTION_KEY_FILE, not both");
    else
      c.key_encryption_key_file = *v;
  }
  if (auto v = r.raw("MFA_REQUIRED_ROLES")) c.mfa_required_roles = commaList(*v);
  if (auto v = r.raw("MFA_ISSUER")) {
    if (v->empty() || v->size() > 64 || v->find(':') != std::string::npos)
      r.fail("MFA_ISSUER", "1 to 64 characters, no ':'");
    else
      c.mfa_issuer = *v;
  }
  loadMail(r, c);
  r.optionalText("METRICS_TOKEN", c.metrics_token);
  if (c.metrics_token && c.metrics_token->size() < 16)
    r.fail("METRICS_TOKEN", "must be at least 16 characters");
  // The packaged file's placeholder, uncommented as it stands (a docs walk: taken silently, where
  // the secrets' placeholders are refused): a token anyone who read the package has.
  if (c.metrics_token && core::lowerAscii(*c.metrics_token) == "at-least-16-characters")
    r.fail(
        "METRICS_TOKEN",
        "is the placeholder of packaging/gatehouse.conf: set a random one (openssl rand -hex 16)");
  // Presented after "Bearer " and the spaces that may follow it: a token that begins (or, copied
  // with a newline, ends) with white space could never match.
  const auto white = [](char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'; };
  if (c.metrics_token && !c.metrics_token->empty() &&
      (white(c.metrics_token->front()) || white(c.metrics_token->back())))
    r.fail("METRICS_TOKEN", "must not begin or end with white space");
  if (!c.metrics_token) {
    // An enumeration attack read it: the outbox's counters move only for a forgot request that
    // found an account. Open as the contract has it, so said where it reaches beyond the machine.
    const std::string host =
        c.listen_host.find(':') != std::string::npos && !c.listen_host.starts_with('[')
            ? "[" + c.listen_host + "]"
            : c.listen_host;
    if (!isLoopbackUrl("http://" + host))
      c.warnings.push_back(
          "METRICS_TOKEN is not set and GATEHOUSE_LISTEN is not loopback: /metrics answers anyone "
          "who reaches " +
          host +
          ", and its mail counters tell which forgot-password requests "
          "found an account; set METRICS_TOKEN or let only the monitoring network reach "
          "/metrics (docs/deployment.md)");
  }
  // An origin is scheme://host[:port], nothing more: "*" or a path would be a mistake.
  const auto origins = [&r](const char* name, std::vector<std::string>& out) {
    const auto v = r.raw(name);
    if (!v) return;
    for (const std::string& written : commaList(*v)) {
      // As a browser sends it: in lower case (a passkey attack: WEBAUTHN_ORIGINS=
      // http://LOCALHOST:1 was taken as written and could never match).
      const std::string origin = core::lowerAscii(written);
      // The scheme checked before the rest is cut from it: a value shorter than "://" ("*")
      // once ended the program (a new user's first try).
      const bool scheme = origin.starts_with("http://") || origin.starts_with("https://");
      const std::string_view rest =
          scheme ? std::string_view(origin).substr(origin.find("://") + 3) : std::string_view();
      const bool ascii = std::all_of(origin.begin(), origin.end(), [](char ch) {
        return static_cast<unsigned char>(ch) > 0x20 && static_cast<unsigned char>(ch) < 0x7F;
      });
      if (!scheme || rest.empty() || rest.find_first_of("/?#*@\\ ") != std::string::npos ||
          !ascii || rest.front() == '.' || rest.find("..") != std::string::npos) {
        r.fail(name, "each origin must be scheme://host[:port] (a list, no *), got " + written);
        continue;
      }
      out.push_back(origin);
    }
  };
  origins("CORS_ALLOW_ORIGINS", c.cors_allow_origins);
  origins("ALLOWED_RETURN_URLS", c.allowed_return_urls);
  origins("WEBAUTHN_ORIGINS", c.webauthn_origins);
  if (auto v = r.raw("WEBAUTHN_RP_ID")) {
    // A host name (RFC 1035 letters, digits, dots and hyphens), as browsers compare it.
    const std::string_view d = *v;
    const bool ok = !d.empty() && d.size() <= 253 && d.front() != '.' && d.back() != '.' &&
                    std::all_of(d.begin(), d.end(), [](char ch) {
                      return std::islower(static_cast<unsigned char>(ch)) != 0 ||
                             std::isdigit(static_cast<unsigned char>(ch)) != 0 || ch == '.' ||
                             ch == '-';
                    });
    const bool address = d.find_first_not_of("0123456789.") == std::string_view::npos;
    if (!ok || address)
      r.fail("WEBAUTHN_RP_ID", "a lower-case host name such as example.com (not an IP address)");
    else
      c.webauthn_rp_id = *v;
  }
  if (auto v = r.raw("WEBAUTHN_RP_NAME")) {
    if (v->empty() || v->size() > 64)
      r.fail("WEBAUTHN_RP_NAME", "1 to 64 characters");
    else
      c.webauthn_rp_name = *v;
  }
  if (auto v = r.raw("WEBAUTHN_USER_VERIFICATION")) {
    if (*v != "required" && *v != "preferred" && *v != "discouraged")
      r.fail("WEBAUTHN_USER_VERIFICATION", "must be required, preferred or discouraged");
    else
      c.webauthn_user_verification = *v;
  }
  if (auto v = r.raw("WEBAUTHN_ATTESTATION")) {
    if (*v != "none" && *v != "direct")
      r.fail("WEBAUTHN_ATTESTATION", "must be none or direct");
    else
      c.webauthn_attestation_direct = *v == "direct";
  }
  r.text("WEBAUTHN_TRUST_STORE", c.webauthn_trust_store);
  if (auto v = r.raw("WEBAUTHN_ALGORITHMS")) {
    static const std::vector<std::string> kKnown{"ES256", "EdDSA", "RS256", "ES384", "ES512"};
    for (const std::string& name : commaList(*v)) {
      if (std::find(kKnown.begin(), kKnown.end(), name) == kKnown.end())
        r.fail("WEBAUTHN_ALGORITHMS", "each of ES256, EdDSA, RS256, ES384, ES512; got " + name);
      else
        c.webauthn_algorithms.push_back(name);
    }
    if (c.webauthn_algorithms.empty()) r.fail("WEBAUTHN_ALGORITHMS", "names no algorithm");
  }
  if (c.webauthn_attestation_direct && c.webauthn_trust_store.empty())
    r.fail("WEBAUTHN_TRUST_STORE", "is required with WEBAUTHN_ATTESTATION=direct");
  if (auto v = r.raw("SESSION_COOKIE_DOMAIN")) {
    // A host name (a leading dot is allowed and means the same): the parent domain of the apps.
    const std::string_view d = *v;
    const bool ok = !d.empty() && d.size() <= 253 && std::all_of(d.begin(), d.end(), [](char ch) {
      return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '-';
    });
    if (!ok)
      r.fail("SESSION_COOKIE_DOMAIN", "a domain name such as example.com");
    else
      c.session_cookie_domain = *v;
  }
  const auto colour = [&r](const char* name, std::string& out) {
    const auto v = r.raw(name);
    if (!v) return;
    const bool ok = (v->size() == 4 || v->size() == 7) && (*v)[0] == '#' &&
                    std::all_of(v->begin() + 1, v->end(), [](char ch) {
                      return std::isxdigit(static_cast<unsigned char>(ch)) != 0;
                    });
    if (!ok)
      r.fail(name, "a colour as #rgb or #rrggbb");
    else
      out = *v;
  };
  colour("BRAND_PRIMARY_COLOR", c.brand_primary_color);
  colour("BRAND_BACKGROUND_COLOR", c.brand_background_color);

  r.integer("GATEHOUSE_MAX_BODY_BYTES", c.http.max_body_bytes, 1024, 64LL << 20);
  r.integer("GATEHOUSE_MAX_HEADER_BYTES", c.http.max_header_bytes, 1024, 1LL << 20);
  r.integer("GATEHOUSE_MAX_TOKEN_BYTES", c.http.max_token_bytes, 512, 1LL << 20);
  long long request_timeout = 30;
  long long idle_timeout = 60;
  r.integer("GATEHOUSE_REQUEST_TIMEOUT_SECONDS", request_timeout, 1, 3600);
  r.integer("GATEHOUSE_IDLE_TIMEOUT_SECONDS", idle_timeout, 1, 3600);
  c.http.request_timeout = std::chrono::seconds(request_timeout);
  c.http.idle_timeout = std::chrono::seconds(idle_timeout);
  r.integer("GATEHOUSE_MAX_CONNECTIONS", c.http.max_connections, 1, 1000000);
  r.integer("GATEHOUSE_MAX_CONNECTIONS_PER_CLIENT", c.http.max_connections_per_client, 0, 1000000);
  r.integer("GATEHOUSE_MAX_BODY_MEMORY_BYTES", c.http.max_body_memory, 1024, 1LL << 40);
  if (c.http.max_body_memory < c.http.max_body_bytes) {
    r.fail("GATEHOUSE_MAX_BODY_MEMORY_BYTES",
           "must be at least GATEHOUSE_MAX_BODY_BYTES (one whole body must fit)");
  }

  if (auto v = r.raw("GATEHOUSE_LOG_FORMAT")) {  // any letter case, as the level
    const std::string format = core::lowerAscii(*v);
    if (format == "json") {
      c.log_json = true;
    } else if (format != "text") {
      r.fail("GATEHOUSE_LOG_FORMAT", "must be text or json");
    }
  }
  if (auto v = r.raw("GATEHOUSE_LOG_LEVEL")) {  // any letter case, as booleans
    static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
    // "warning" is how the log lines spell it (a new user's try).
    std::string level = core::lowerAscii(*v);
    if (level == "warning") level = "warn";
    if (std::find(kLevels.begin(), kLevels.end(), level) == kLevels.end()) {
      r.fail("GATEHOUSE_LOG_LEVEL", "must be trace, debug, info, warn (or warning) or error");
    } else {
      c.log_level = level;
    }
  }

  loadLegacy(r, c);
  // Files named by the configuration must be readable now, not at the first request needing them.
  for (const auto& [name, path] : std::initializer_list<std::pair<const char*, std::string>>{
           {"OIDC_CA_FILE", c.oidc_ca_file},
           {"SMTP_CA_FILE", c.mail.smtp_ca_file},
           {"REDIS_CA_FILE", c.redis_ca_file},
           {"WEBAUTHN_TRUST_STORE", c.webauthn_trust_store},
           {"GATEHOUSE_POLICY_FILE", c.policy_file ? c.policy_file->string() : std::string()}}) {
    std::error_code ec;
    if (!path.empty() &&
        (!std::filesystem::is_regular_file(path, ec) || !std::ifstream(path).good()))
      r.fail(name, "cannot read " + path);
  }

  if (problems != nullptr) *problems = r.errors();
  if (!r.errors().empty()) {
    std::string message;
    for (const auto& e : r.errors()) message += (message.empty() ? "" : "; ") + e;
    return core::makeError(Errc::InvalidArgument, message);
  }
  return c;
}

std::string oidcVariablePrefix(std::string_view provider) {
  std::string out = "OIDC_";
  for (const char ch : provider) out.push_back(ch == '-' ? '_' : core::upperAscii(ch));
  return out + "_";
}

// redactUrl sees a user part only after "://": `user:pass@host` was shown whole (a review).
std::string shownUrl(std::string_view url) {
  // A scheme only at the start: one in a query after the user part is none (a review).
  const auto scheme = url.find("://");
  const bool has_scheme = scheme != std::string_view::npos && scheme > 0 &&
                          url.substr(0, scheme).find_first_of("/?#@:") == std::string_view::npos;
  if (has_scheme) return redactUrl(url);
  const auto at = url.rfind('@');
  return at == std::string_view::npos ? std::string(url) : "***" + std::string(url.substr(at));
}

std::string redactUrl(std::string_view url) {
  std::string out(url);
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    // The last '@': a password may hold '/' or '?' (parseRedisUrl and libpq read it so), and
    // hiding too much is the safe mistake.
    const auto at = out.rfind('@');
    if (at != std::string::npos && at > scheme) {
      const auto colon = out.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, "***");
      } else if (out.starts_with("redis")) {
        // redis://secret@host: Redis reads a user part without ':' as the password.
        out.replace(scheme + 3, at - scheme - 3, "***");
      }
    }
  }
  for (std::size_t p = out.find("password="); p != std::string::npos;
       p = out.find("password=", p + 1)) {
    const auto end = out.find('&', p);
    out.replace(p + 9, (end == std::string::npos ? out.size() : end) - p - 9, "***");
  }
  return out;
}

std::vector<std::string> describe(const Config& c) {
  const auto opt = [](const std::optional<std::string>& v) {
    return v ? *v : std::string("(unset)");
  };
  const auto list = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& item : v) out += (out.empty() ? "" : ",") + item;
    return out.empty() ? std::string("(none)") : out;
  };
  const auto rate = [](const RateLimit& r) {
    const auto s = r.window.count();
    const auto [n, unit] = s % 86400 == 0  ? std::pair{s / 86400, "day"}
                           : s % 3600 == 0 ? std::pair{s / 3600, "hour"}
                           : s % 60 == 0   ? std::pair{s / 60, "minute"}
                                           : std::pair{s, "second"};
    return std::to_string(r.count) + "/" + (n == 1 ? "" : std::to_string(n)) + unit +
           (n == 1 ? "" : "s");
  };
  return {
      "GATEHOUSE_LISTEN            = " + c.listen_host + ":" + std::to_string(c.listen_port),
      "DATABASE_URL                = " + redactUrl(c.database_url),
      "DATABASE_POOL_SIZE          = " + std::to_string(c.database_pool_size),
      "REDIS_URL                   = " + (c.redis_url ? redactUrl(*c.redis_url) : "(unset)"),
      "GATEHOUSE_DATA_DIR          = " + c.data_dir.string(),
      "GATEHOUSE_PUBLIC_URL        = " +
          (c.public_url ? *c.public_url
                        : std::string("(unset: links and cookies as http://LISTEN)")),
      "TRUSTED_PROXIES             = " + list(c.trusted_proxies),
      "CORS_ALLOW_ORIGINS          = " + list(c.cors_allow_origins),
      "ALLOWED_RETURN_URLS         = " + list(c.allowed_return_urls),
      "WEBAUTHN_RP_ID              = " +
          (c.webauthn_rp_id ? *c.webauthn_rp_id
                            : std::string("(unset: GATEHOUSE_PUBLIC_URL's host, if a name)")),
      "LOGIN_RATE_LIMIT            = " + rate(c.login_rate_limit),
      "REGISTER_RATE_LIMIT         = " + rate(c.register_rate_limit),
      "ACCOUNT_CHANGE_RATE_LIMIT   = " + rate(c.account_change_rate_limit),
      "REFUSED_CHANGE_RATE_LIMIT   = " + rate(c.refused_change_rate_limit),
      "ALGORITHM                   = " + std::string(jose::algorithmName(c.algorithm)),
      "SECRET_KEY                  = " +
          std::string(c.secret_key ? "(set, not shown)" : "(generated, kept in the database)"),
      "ACCESS_TOKEN_EXPIRE_MINUTES = " + std::to_string(c.access_token_ttl.count()),
      "REFRESH_TOKEN_EXPIRE_DAYS   = " + std::to_string(c.refresh_token_ttl.count() / 24),
      "TOKEN_ISSUER                = " + c.token_issuer,
      "TOKEN_AUDIENCE              = " + opt(c.token_audience),
      "PASSWORD_SCHEME             = " +
          std::string(c.hash_policy.scheme == password::Scheme::Bcrypt ? "bcrypt" : "argon2id"),
      "BCRYPT_ROUNDS               = " + std::to_string(c.hash_policy.bcrypt_cost),
      "PASSWORD_MIN_LENGTH         = " + std::to_string(c.password_rules.min_length),
      "GATEHOUSE_POLICY_FILE       = " +
          (c.policy_file ? c.policy_file->string() : std::string("(unset)")),
      "FORWARD_AUTH_PROXY          = " +
          std::string(c.forward_auth_proxy == ForwardAuthProxy::Nginx     ? "nginx"
                      : c.forward_auth_proxy == ForwardAuthProxy::Traefik ? "traefik"
                                                                          : "caddy"),
      "REGISTRATION_ENABLED        = " + std::string(c.registration_enabled ? "true" : "false"),
      "API_KEYS_PER_USER           = " + std::to_string(c.api_keys_per_user),
      "SESSIONS_PER_USER           = " + std::to_string(c.sessions_per_user),
      "DOCS_ENABLED                = " + std::string(c.docs_enabled ? "true" : "false"),
      "STEP_UP_MAX_AGE_SECONDS     = " + std::to_string(c.step_up_max_age_seconds),
      "MFA_ISSUER                  = " + c.mfa_issuer,
      "MFA_SECRET_KEY              = " +
          std::string(c.mfa_secret_key ? "(set, not shown)" : "(generated, kept in the database)"),
      "KEY_ENCRYPTION_KEY          = " +
          std::string(c.key_encryption_key ? "(set, not shown)"
                      : c.key_encryption_key_file
                          ? "(from " + c.key_encryption_key_file->string() + ")"
                          : "(<data dir>/key_encryption_key)"),
      "SMTP_URL                    = " +
          (c.mail.smtp_url ? redactUrl(*c.mail.smtp_url) : std::string("(unset)")),
      "SMTP_FROM                   = " + c.mail.smtp_from,
      "MAIL_FILE                   = " +
          (c.mail.mail_file ? c.mail.mail_file->string() : std::string("(unset)")),
      "METRICS_TOKEN               = " +
          std::string(c.metrics_token ? "(set, not shown)" : "(unset: /metrics is open)"),
      "EMAIL_VERIFICATION          = " +
          std::string(c.email_verification == EmailVerification::Off        ? "off"
                      : c.email_verification == EmailVerification::Optional ? "optional"
                                                                            : "required"),
  };
}

}  // namespace gatehouse::config
