// The google preset against a local stand-in for Google's endpoints (Google itself cannot be
// reached from here): the authorization URL it builds and a Google-shaped ID token validated
// against a local JWKS through the whole callback, with an injected HTTP client.
#include <filesystem>
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "api/services.hpp"
#include "core/base64url.hpp"
#include "crypto/aead.hpp"
#include "crypto/digest.hpp"
#include "crypto/pkey.hpp"
#include "http/message.hpp"
#include "oidc/oidc_service.hpp"
#include "state/local.hpp"
#include "support/auth_stack.hpp"

namespace gatehouse::oidc {
namespace {

namespace json = boost::json;
constexpr const char* kClientId = "1234-abc.apps.googleusercontent.com";

class FakeGoogle final : public HttpClient {
 public:
  FakeGoogle(const core::Clock& clock) : clock_(clock), key_(makeKey("google-kid-1")) {}

  static jose::Key makeKey(const std::string& kid) {
    return jose::Key::asymmetric(jose::Algorithm::Rs256, crypto::generateRsa(2048).value(), kid)
        .value();
  }

  core::Result<HttpResponse> get(const std::string& url) override {
    ++gets[url];
    if (url == "https://accounts.google.com/.well-known/openid-configuration") {
      return HttpResponse{
          200,
          json::serialize(json::object{
              {"issuer", issuer},
              {"authorization_endpoint", "https://accounts.google.com/o/oauth2/v2/auth"},
              {"token_endpoint", "https://oauth2.googleapis.com/token"},
              {"jwks_uri", "https://www.googleapis.com/oauth2/v3/certs"},
              {"token_endpoint_auth_methods_supported",
               json::array{"client_secret_post", "client_secret_basic"}},
              {"id_token_signing_alg_values_supported", json::array{"RS256"}}}),
          {{"cache-control", "public, max-age=3600"}}};
    }
    if (url == "https://www.googleapis.com/oauth2/v3/certs") {
      return HttpResponse{
          200,
          json::serialize(json::object{{"keys", json::array{jose::publicJwk(key_).value()}}}),
          {{"cache-control", "public, max-age=20000"}}};
    }
    return HttpResponse{404, "", {}};
  }

  core::Result<HttpResponse> postForm(
      const std::string& url, const std::vector<std::pair<std::string, std::string>>& form,
      const std::vector<std::pair<std::string, std::string>>& headers) override {
    EXPECT_EQ(url, "https://oauth2.googleapis.com/token");
    last_form = form;
    last_headers = headers;
    const std::int64_t now = clock_.unixSeconds();
    // What Google's ID tokens carry (https://developers.google.com/identity/openid-connect).
    json::object claims{{"iss", "https://accounts.google.com"},
                        {"azp", kClientId},
                        {"aud", kClientId},
                        {"sub", "110169484474386276334"},
                        {"email", "someone@gmail.com"},
                        {"email_verified", true},
                        // base64url(left half of SHA-256("ya29.x")), the access token below.
                        {"at_hash", at_hash},
                        {"name", "Some One"},
                        {"given_name", "Some"},
                        {"locale", "en"},
                        {"iat", now},
                        {"exp", now + 3600},
                        {"nonce", nonce}};
    auto token = jose::signJwt(key_, claims).value();
    return HttpResponse{
        200,
        json::serialize(json::object{
            {"id_token", token}, {"access_token", "ya29.x"}, {"token_type", "Bearer"}}),
        {}};
  }

  const core::Clock& clock_;
  jose::Key key_;
  std::string issuer = "https://accounts.google.com";
  std::string nonce;
  std::string at_hash = "rQtN0CKVCcqRpQs4ga98AQ";
  std::map<std::string, int> gets;
  std::vector<std::pair<std::string, std::string>> last_form, last_headers;
};

class GooglePreset : public ::testing::Test {
 protected:
  GooglePreset()
      : google_(clock_),
        oidc_({{"google", "https://accounts.google.com", kClientId, "google-secret",
                "openid email profile", jose::Algorithm::Rs256}},
              google_, *store_, auth_, audit_, clock_, stack_.once,
              {"https://auth.example.com", "https://app.example.com", std::string(32, 'k'), true}) {
  }

  static std::map<std::string, std::string> query(const std::string& url) {
    std::map<std::string, std::string> out;
    const auto pairs = http::parseForm(url.substr(url.find('?') + 1));
    for (const auto& [k, v] : pairs.value()) out[k] = v;
    return out;
  }

  gatehouse::testing::AuthStack stack_{"google"};
  core::ManualClock& clock_ = stack_.clock;
  std::unique_ptr<store::Store>& store_ = stack_.store;
  audit::AuditLog& audit_ = stack_.audit;
  auth::Sessions& auth_ = stack_.sessions;
  FakeGoogle google_;
  OidcService oidc_;
};

TEST_F(GooglePreset, BuildsGooglesAuthorizationUrl) {
  auto start = oidc_.begin("google");
  ASSERT_TRUE(start) << start.error().message;
  EXPECT_TRUE(start->location.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"))
      << start->location;
  const auto q = query(start->location);
  EXPECT_EQ(q.at("response_type"), "code");
  EXPECT_EQ(q.at("client_id"), kClientId);
  EXPECT_EQ(q.at("redirect_uri"), "https://auth.example.com/api/v1/auth/oauth/google/callback");
  EXPECT_EQ(q.at("scope"), "openid email profile");
  EXPECT_EQ(q.at("code_challenge_method"), "S256");
  EXPECT_EQ(q.at("code_challenge").size(), 43U);
  EXPECT_GE(q.at("state").size(), 43U);
  EXPECT_GE(q.at("nonce").size(), 43U);
  EXPECT_NE(oidc_.begin("google")->location, start->location);  // fresh state and nonce each time
  EXPECT_FALSE(start->cookie.empty());
  EXPECT_EQ(start->cookie.find(q.at("state")), std::string::npos);  // sealed, not readable
}

TEST_F(GooglePreset, ValidatesAGoogleShapedIdTokenThroughTheCallback) {
  auto start = oidc_.begin("google").value();
  const auto q = query(start.location);
  google_.nonce = q.at("nonce");
  const auth::ClientInfo client{"203.0.113.5", "test", "req-1"};
  const std::string landing = oidc_.complete(
      "google", {{{"code", "4/0Adeu5"}, {"state", q.at("state")}}, start.cookie}, client);
  ASSERT_TRUE(landing.starts_with("https://app.example.com/auth/callback#code=")) << landing;
  // PKCE verifier and code went to the token endpoint; the secret as client_secret_basic.
  std::map<std::string, std::string> form(google_.last_form.begin(), google_.last_form.end());
  EXPECT_EQ(form.at("grant_type"), "authorization_code");
  EXPECT_EQ(form.at("code"), "4/0Adeu5");
  EXPECT_EQ(form.at("code_verifier").size(), 43U);
  ASSERT_EQ(google_.last_headers.size(), 1U);
  EXPECT_TRUE(google_.last_headers[0].second.starts_with("Basic "));
  auto who = oidc_.exchange(landing.substr(landing.find("#code=") + 6), client);
  ASSERT_TRUE(who) << who.error().detail;
  EXPECT_EQ(who->grant.amr, std::vector<std::string>{"ext"});
  ASSERT_TRUE(auth_.start(*who, client));
  auto user = store_->users().findByEmail("someone@gmail.com").value();
  ASSERT_TRUE(user);
  EXPECT_EQ(user->username, "someone");
  EXPECT_TRUE(user->password_hash.empty());
  EXPECT_TRUE(
      store_->identities().find("https://accounts.google.com", "110169484474386276334").value());
}

TEST_F(GooglePreset, ACodeBoundToAFrontendChallengeNeedsItsVerifier) {
  const std::string verifier(43, 'v');
  const std::string challenge = core::base64urlEncode(crypto::sha256(verifier));
  ASSERT_TRUE(oidc::OidcService::isCodeChallenge(challenge));
  ASSERT_TRUE(oidc::OidcService::isCodeVerifier(verifier));
  const auth::ClientInfo client{"203.0.113.5", "test", "req-1"};
  const auto codeOf = [&](std::optional<std::string> bound) {
    auto start = oidc_.begin("google", std::nullopt, std::move(bound)).value();
    const auto q = query(start.location);
    EXPECT_EQ(start.location.find(challenge), std::string::npos);  // ours to the provider only
    google_.nonce = q.at("nonce");
    const std::string landing = oidc_.complete(
        "google", {{{"code", "4/0Adeu5"}, {"state", q.at("state")}}, start.cookie}, client);
    return landing.substr(landing.find("#code=") + 6);
  };
  EXPECT_EQ(oidc_.exchange(codeOf(challenge), client).error().code,
            auth::Errc::InvalidExchangeCode);
  const std::string other(43, 'w');
  EXPECT_EQ(oidc_.exchange(codeOf(challenge), client, other).error().code,
            auth::Errc::InvalidExchangeCode);
  EXPECT_EQ(oidc_.exchange(codeOf(std::nullopt), client, verifier).error().code,
            auth::Errc::InvalidExchangeCode);
  const auto code = codeOf(challenge);
  auto who = oidc_.exchange(code, client, verifier);
  ASSERT_TRUE(who) << who.error().detail;
  EXPECT_EQ(who->grant.amr, std::vector<std::string>{"ext"});  // no S256= among the methods
  EXPECT_FALSE(oidc_.exchange(code, client, verifier));        // single use
  ASSERT_TRUE(oidc_.exchange(codeOf(std::nullopt), client));   // the seed's way
  EXPECT_FALSE(oidc::OidcService::isCodeChallenge(challenge.substr(1)));
  EXPECT_FALSE(oidc::OidcService::isCodeChallenge(challenge + "A"));
  EXPECT_FALSE(oidc::OidcService::isCodeVerifier(std::string(42, 'v')));
  EXPECT_FALSE(oidc::OidcService::isCodeVerifier(std::string(129, 'v')));
  EXPECT_FALSE(oidc::OidcService::isCodeVerifier(std::string(42, 'v') + "/"));
  EXPECT_TRUE(oidc::OidcService::isCodeVerifier(std::string(124, 'v') + "-._~"));
}

TEST_F(GooglePreset, ALinkingJoinsTheIdentityToTheUserOfItsSessionOnly) {
  const auth::ClientInfo client{"203.0.113.5", "test", "req-1"};
  auto user = store_->users().create({"owner@example.com", "owner", "$2b$10$x", "user", true});
  ASSERT_TRUE(user);
  const std::int64_t now = clock_.unixSeconds();
  ASSERT_TRUE(
      store_->sessions().create({"sid-1", user->id, "jti-1", "ua", "ip", now, now, now + 600}));
  // `browser`: the live session of the browser that brings the provider's answer back (the
  // route resolves it from the sign-in cookies); `sealed`: the transaction's AAD, as begun.
  const auto linkWith = [&](std::string sid, std::string browser, OidcService::Begun* begun) {
    auto start =
        oidc_.begin("google", std::nullopt, std::nullopt, OidcService::Linking{user->id, sid})
            .value();
    const auto q = query(start.location);
    google_.nonce = q.at("nonce");
    OidcService::Callback cb{{{"code", "c"}, {"state", q.at("state")}}, start.cookie};
    cb.browser_session = std::move(browser);
    return oidc_.complete("google", cb, client, begun);
  };
  const std::string sub = "110169484474386276334";
  OidcService::Begun begun;
  // No session in the finishing browser, or another one (a transaction planted in someone
  // else's browser): nothing is linked.
  EXPECT_EQ(linkWith("sid-1", "", &begun),
            "https://app.example.com/auth/callback#error=invalid_state");
  EXPECT_TRUE(begun.linking);
  EXPECT_FALSE(begun.portal_return);  // never finished as the portal's sign-in
  EXPECT_EQ(linkWith("sid-1", "sid-2", nullptr),
            "https://app.example.com/auth/callback#error=invalid_state");
  EXPECT_FALSE(store_->identities().find("https://accounts.google.com", sub).value());
  // The session that began it: linked (no email compared: someone@gmail.com is not theirs), and
  // no exchange code made (nobody signs in).
  const std::string landing = linkWith("sid-1", "sid-1", nullptr);
  EXPECT_EQ(landing, "https://app.example.com/auth/callback#linked=google");
  EXPECT_EQ(oidc_.landingOf(landing).linked, "google");
  auto linked = store_->identities().find("https://accounts.google.com", sub).value();
  ASSERT_TRUE(linked);
  EXPECT_EQ(linked->user_id, user->id);
  EXPECT_EQ(linked->email, "someone@gmail.com");
  EXPECT_FALSE(store_->users().findByEmail("someone@gmail.com").value());
  // A second user's linking of the same identity leaves it where it is.
  auto other = store_->users().create({"other@example.com", "other", "$2b$10$x", "user", true});
  ASSERT_TRUE(other);
  ASSERT_TRUE(
      store_->sessions().create({"sid-3", other->id, "jti-3", "ua", "ip", now, now, now + 600}));
  // The session id of another user's (as a browser would never carry for this linking): nothing.
  EXPECT_EQ(linkWith("sid-3", "sid-3", nullptr),
            "https://app.example.com/auth/callback#error=invalid_state");
  {
    auto start =
        oidc_.begin("google", std::nullopt, std::nullopt, OidcService::Linking{other->id, "sid-3"})
            .value();
    const auto q = query(start.location);
    google_.nonce = q.at("nonce");
    OidcService::Callback cb{{{"code", "c"}, {"state", q.at("state")}}, start.cookie};
    cb.browser_session = "sid-3";
    EXPECT_EQ(oidc_.complete("google", cb, client),
              "https://app.example.com/auth/callback#error=identity_in_use");
  }
  EXPECT_EQ(store_->identities().find("https://accounts.google.com", sub).value()->user_id,
            user->id);
  // A deactivated owner links nothing.
  ASSERT_TRUE(store_->identities().removeUnlessLast(linked->id, user->id));
  store::UserPatch off;
  off.is_active = false;
  ASSERT_TRUE(store_->users().update(user->id, off, ""));
  EXPECT_EQ(linkWith("sid-1", "sid-1", nullptr),
            "https://app.example.com/auth/callback#error=invalid_state");
  EXPECT_FALSE(store_->identities().find("https://accounts.google.com", sub).value());
}

// A linking's transaction is sealed apart from a sign-in's: a node of an older version cannot
// open it (it fails closed instead of signing the browser in as whoever the identity is), and
// neither kind passes for the other.
TEST_F(GooglePreset, ALinkingsTransactionIsNoSignInsAndASignInsIsNoLinkings) {
  auto link =
      oidc_.begin("google", std::nullopt, std::nullopt, OidcService::Linking{1, "sid"}).value();
  auto sign_in = oidc_.begin("google").value();
  const auto sealed = core::base64urlDecode(link.cookie).value();
  EXPECT_FALSE(crypto::open(std::string(32, 'k'), sealed, "gatehouse oidc transaction v1"));
  EXPECT_TRUE(crypto::open(std::string(32, 'k'), sealed, "gatehouse oidc link v1"));
  EXPECT_FALSE(crypto::open(std::string(32, 'k'), core::base64urlDecode(sign_in.cookie).value(),
                            "gatehouse oidc link v1"));
  // Each cookie with the other's answer fails its state check, and a link sealed as a sign-in
  // (or the reverse) is refused before anything is asked.
  const auto q = query(link.location);
  EXPECT_EQ(
      oidc_.complete("google", {{{"code", "c"}, {"state", q.at("state")}}, sign_in.cookie}, {}),
      "https://app.example.com/auth/callback#error=invalid_state");
  // A linking's fields sealed as a sign-in (as an older node never writes them): refused before
  // the provider is asked (else its answer would be judged: invalid_id_token here).
  const json::object forged{{"p", "google"},
                            {"s", "st"},
                            {"n", "n"},
                            {"v", std::string(43, 'v')},
                            {"e", clock_.unixSeconds() + 600},
                            {"i", clock_.unixMillis().count()},
                            {"lu", 1},
                            {"ls", "sid"}};
  const auto as_sign_in =
      crypto::seal(std::string(32, 'k'), json::serialize(forged), "gatehouse oidc transaction v1")
          .value();
  EXPECT_EQ(
      oidc_.complete("google",
                     {{{"code", "c"}, {"state", "st"}}, core::base64urlEncode(as_sign_in)}, {}),
      "https://app.example.com/auth/callback#error=invalid_state");
}

TEST_F(GooglePreset, RefusesWrongNonceAndCachesKeys) {
  auto start = oidc_.begin("google").value();
  const auto q = query(start.location);
  google_.nonce = "someone-elses-nonce";
  const std::string landing =
      oidc_.complete("google", {{{"code", "c"}, {"state", q.at("state")}}, start.cookie}, {});
  EXPECT_EQ(landing, "https://app.example.com/auth/callback#error=invalid_id_token");
  auto second = oidc_.begin("google").value();
  google_.nonce = query(second.location).at("nonce");
  EXPECT_NE(
      oidc_
          .complete("google",
                    {{{"code", "c"}, {"state", query(second.location).at("state")}}, second.cookie},
                    {})
          .find("#code="),
      std::string::npos);
  // Discovery and JWKS were fetched once and then served from cache.
  EXPECT_EQ(google_.gets["https://accounts.google.com/.well-known/openid-configuration"], 1);
  EXPECT_EQ(google_.gets["https://www.googleapis.com/oauth2/v3/certs"], 1);
}

TEST_F(GooglePreset, RefusesAnAtHashThatDoesNotMatchTheAccessToken) {
  auto start = oidc_.begin("google").value();
  google_.nonce = query(start.location).at("nonce");
  google_.at_hash = "HK6E_P6Dh8Y93mRNtsDB1Q";  // Google's documented example: another token's
  EXPECT_EQ(oidc_.complete(
                "google",
                {{{"code", "c"}, {"state", query(start.location).at("state")}}, start.cookie}, {}),
            "https://app.example.com/auth/callback#error=invalid_id_token");
}

TEST_F(GooglePreset, RefetchesJwksOnAnUnknownKidAtMostOncePerTenSeconds) {
  const auto signIn = [this] {
    auto start = oidc_.begin("google").value();
    google_.nonce = query(start.location).at("nonce");
    return oidc_.complete(
        "google", {{{"code", "c"}, {"state", query(start.location).at("state")}}, start.cookie},
        {});
  };
  ASSERT_NE(signIn().find("#code="), std::string::npos);
  google_.key_ = FakeGoogle::makeKey("google-kid-2");  // Google rotated its key
  // Within ten seconds of the last fetch an unknown kid does not make the server ask again (each
  // callback would, at the pace of whoever sends them).
  clock_.advance(5);
  EXPECT_NE(signIn().find("#error="), std::string::npos);
  EXPECT_EQ(google_.gets["https://www.googleapis.com/oauth2/v3/certs"], 1);
  clock_.advance(5);
  EXPECT_NE(signIn().find("#code="), std::string::npos);
  EXPECT_EQ(google_.gets["https://www.googleapis.com/oauth2/v3/certs"], 2);
  EXPECT_NE(signIn().find("#code="), std::string::npos);
  EXPECT_EQ(google_.gets["https://www.googleapis.com/oauth2/v3/certs"], 2);
}

TEST_F(GooglePreset, RefusesADiscoveryDocumentForAnotherIssuer) {
  google_.issuer = "https://accounts.evil.example";
  auto start = oidc_.begin("google");
  ASSERT_FALSE(start);
  EXPECT_EQ(start.error().code, core::Errc::FailedPrecondition);
}

}  // namespace
}  // namespace gatehouse::oidc
