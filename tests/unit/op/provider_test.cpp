// The provider service on the real auth services and a fresh SQLite database: authorization
// requests, codes (single use, bound, replay revokes), refresh rotation, client credentials,
// userinfo, introspection and revocation between clients, logout checks.
#include "op/provider.hpp"

#include <functional>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "auth/api_keys.hpp"
#include "auth/claims.hpp"
#include "auth/user_service.hpp"
#include "core/base64url.hpp"
#include "crypto/hmac.hpp"
#include "crypto/pkce.hpp"
#include "crypto/pkey.hpp"
#include "jose/jws.hpp"
#include "jose/jwt.hpp"
#include "support/auth_stack.hpp"
#include "support/seam_store.hpp"

namespace gatehouse::op {
namespace {

namespace json = boost::json;
constexpr std::string_view kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

jose::Key rsaKey() {
  static const jose::Key key = [] {
    auto pkey = crypto::generateRsa(2048).value();
    auto k = jose::Key::asymmetric(jose::Algorithm::Rs256, pkey).value();
    return k.withKid(jose::thumbprint(k).value());
  }();
  return key;
}

std::string queryValue(const std::string& url, const std::string& name) {
  const auto at = url.find(name + "=");
  if (at == std::string::npos) return {};
  const auto start = at + name.size() + 1;
  return url.substr(start, url.find('&', start) - start);
}

class ProviderTest : public ::testing::Test {
 protected:
  testing::AuthStack s{"op-provider"};
  const jose::Key key = rsaKey();
  OpTokens tokens{
      key, jose::KeySet::create({key}).value(),
      OpTokenSettings{.issuer = "https://id.example.com", .audience = "https://id.example.com"},
      s.clock};
  ClientRegistry clients{
      s.store->op(),
      std::string(32, 'k'),
      {"openid", "profile", "email", "offline_access", "users:read", "users:delete"},
      s.clock};
  testing::SeamStore seam{*s.store};
  Provider provider{{seam,
                     clients,
                     tokens,
                     s.token_check,
                     s.session_end,
                     s.revocations,
                     s.audit,
                     s.clock,
                     {.code_key = std::string(32, 'c')}}};
  const auth::ClientInfo origin{"127.0.0.1", "test", "req-1", ""};

  void SetUp() override {
    s.token_check.acceptAlso([this](std::string_view t) { return tokens.verifyAccess(t); });
  }

  CreatedClient client(NewClient n) {
    auto made = clients.create(n);
    EXPECT_TRUE(made) << (made ? "" : made.error().message);
    return *made;
  }
  CreatedClient webApp() {
    return client({.name = "Web", .redirect_uris = {"https://rp.example.com/cb"}});
  }

  // A signed-in user as the portal's cookie gives it: auth_time and amr in the claims.
  auth::Principal signedIn(const std::string& name) {
    auto pair = s.registerUser({name + "@example.com", name, "Passw0rd!x"}, origin);
    EXPECT_TRUE(pair) << (pair ? "" : pair.error().detail);
    auto who = s.token_check.authenticate(pair->access_token);
    EXPECT_TRUE(who);
    auto claims = std::make_shared<jose::Claims>(who->claims());
    claims->raw["auth_time"] = s.clock.unixSeconds();
    claims->raw["amr"] = json::array{"pwd"};
    who->token = std::move(claims);
    return *who;
  }

  AuthorizeRequest request(const CreatedClient& c, std::string scope = "openid email profile") {
    AuthorizeRequest r;
    r.client_id = c.client.client_id;
    r.redirect_uri = c.client.redirect_uris.front();
    r.response_type = "code";
    r.scope = std::move(scope);
    r.state = "st";
    r.nonce = "n-0S6_WzA2Mj";
    r.code_challenge = crypto::s256Challenge(kVerifier);
    r.code_challenge_method = "S256";
    return r;
  }

  std::string codeFor(const CreatedClient& c, const auth::Principal& who,
                      std::string scope = "openid email profile") {
    auto a = provider.checkAuthorize(request(c, std::move(scope)));
    EXPECT_TRUE(a);
    auto location = provider.issueCode(*a, who, origin);
    EXPECT_TRUE(location);
    EXPECT_EQ(queryValue(*location, "state"), "st");
    EXPECT_EQ(queryValue(*location, "iss"), "https%3A%2F%2Fid.example.com");
    return queryValue(*location, "code");
  }

  Result<json::object> exchange(const CreatedClient& c, const std::string& code,
                                std::optional<std::string> verifier = std::string(kVerifier)) {
    return provider.token({"authorization_code", code, c.client.redirect_uris.front(),
                           std::move(verifier), std::nullopt, std::nullopt},
                          c.client, origin);
  }
};

TEST_F(ProviderTest, UnknownClientsAndUnregisteredRedirectsAreNeverRedirectedTo) {
  const auto web = webApp();
  auto r = request(web);
  r.client_id = "nobody";
  auto refused = provider.checkAuthorize(r);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().redirect_uri.empty());
  r = request(web);
  r.redirect_uri = "https://rp.example.com/cb/../evil";
  refused = provider.checkAuthorize(r);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().redirect_uri.empty());
  r.redirect_uri = "https://rp.example.com/cb?extra=1";
  EXPECT_TRUE(provider.checkAuthorize(r).error().redirect_uri.empty());
}

// A review: the rules for redirect URIs grew (no query pre-setting code or state, no userinfo in
// a private-use scheme's authority), and a client stored before kept its URI in use. It is not
// redirected to: the person gets a page.
TEST_F(ProviderTest, ARedirectUriStoredBeforeTheRulesRefuseItIsNotUsed) {
  store::OpClient old = webApp().client;
  old.client_id = "stored-before";
  old.redirect_uris = {"https://rp.example.com/cb?state=fixed"};
  ASSERT_TRUE(s.store->op().createClient(old, 1000));
  AuthorizeRequest r;
  r.client_id = old.client_id;
  r.redirect_uri = old.redirect_uris.front();
  r.response_type = "code";
  r.scope = "openid";
  r.code_challenge = crypto::s256Challenge(kVerifier);
  r.code_challenge_method = "S256";
  auto refused = provider.checkAuthorize(r);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().redirect_uri.empty());
  // Nor a post-logout URI stored so: the person is signed out, to the signed-out page.
  old.client_id = "stored-before-logout";
  old.post_logout_redirect_uris = {"com.example.app://user:pw@evil.example/bye"};
  ASSERT_TRUE(s.store->op().createClient(old, 1000));
  auto plan = provider.checkLogout(
      {std::nullopt, old.post_logout_redirect_uris.front(), {}, old.client_id});
  ASSERT_TRUE(plan);
  EXPECT_TRUE(plan->redirect.empty());
  // What every start warns of (server_main): each refused URI by client and place, never the URI
  // itself (it may hold a password or a fixed code); the clients the rules allow are not named.
  auto named = clients.urisRefusedNow();
  ASSERT_TRUE(named);
  ASSERT_EQ(named->size(), 3U);
  EXPECT_EQ((*named)[0].rfind("stored-before: redirect URI 1 (", 0), 0U) << (*named)[0];
  EXPECT_EQ((*named)[1].rfind("stored-before-logout: redirect URI 1 (", 0), 0U) << (*named)[1];
  EXPECT_EQ((*named)[2].rfind("stored-before-logout: post-logout URI 1 (", 0), 0U) << (*named)[2];
  for (const auto& line : *named) {
    EXPECT_EQ(line.find("state=fixed"), std::string::npos) << line;
    EXPECT_EQ(line.find("user:pw"), std::string::npos) << line;
  }
}

TEST_F(ProviderTest, RequestErrorsGoBackToTheRegisteredUriWithStateAndIss) {
  const auto web = webApp();
  const auto expect = [&](AuthorizeRequest r, OpErrc code) {
    auto refused = provider.checkAuthorize(r);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().error.code, code) << refused.error().error.description;
    EXPECT_EQ(refused.error().redirect_uri, "https://rp.example.com/cb");
    const auto location = provider.errorLocation(refused.error());
    EXPECT_EQ(queryValue(location, "error"), std::string(errorName(code)));
    EXPECT_EQ(queryValue(location, "state"), "st");
    EXPECT_FALSE(queryValue(location, "iss").empty());
  };
  auto r = request(web);
  r.response_type = "token";
  expect(r, OpErrc::UnsupportedResponseType);
  r = request(web, "openid users:read");  // known, but not this client's
  expect(r, OpErrc::InvalidScope);
  r = request(web, "admin:everything");  // nothing the provider knows
  expect(r, OpErrc::InvalidScope);
  // Unknown values beside known ones are ignored (OIDC Core §3.1.2.1).
  auto ignored = provider.checkAuthorize(request(web, "openid address phone email"));
  ASSERT_TRUE(ignored);
  EXPECT_EQ(ignored->scope(), "openid email");
  r = request(web);
  r.code_challenge_method = "plain";
  expect(r, OpErrc::InvalidRequest);
  r = request(web);
  r.has_request = true;
  expect(r, OpErrc::RequestNotSupported);
  r = request(web);
  r.has_request_uri = true;
  expect(r, OpErrc::RequestUriNotSupported);
  r = request(web);
  r.prompt = "none login";
  expect(r, OpErrc::InvalidRequest);
  r = request(web);
  r.max_age = "-1";
  expect(r, OpErrc::InvalidRequest);
  r = request(web);
  r.id_token_hint = "not.a.token";
  expect(r, OpErrc::InvalidRequest);
}

TEST_F(ProviderTest, PublicClientsMustUsePkce) {
  const auto spa =
      client({.name = "SPA", .redirect_uris = {"http://localhost:5173/cb"}, .is_public = true});
  EXPECT_TRUE(spa.secret.empty());
  auto r = request(spa);
  r.code_challenge.reset();
  r.code_challenge_method.reset();
  auto refused = provider.checkAuthorize(r);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().error.code, OpErrc::InvalidRequest);
  EXPECT_TRUE(provider.checkAuthorize(request(spa)));
}

TEST_F(ProviderTest, ACodeGivesBoundTokensOnceAndItsReplayRevokesThem) {
  const auto web = webApp();
  const auto who = signedIn("alice");
  const std::string code = codeFor(web, who, "openid email profile offline_access");
  auto tokens_out = exchange(web, code);
  ASSERT_TRUE(tokens_out) << tokens_out.error().detail;
  const std::string access(tokens_out->at("access_token").as_string());
  const std::string refresh(tokens_out->at("refresh_token").as_string());
  // The ID token: signature, claims, nonce, at_hash.
  auto id = jose::verifyJws(tokens_out->at("id_token").as_string(), tokens.keys());
  ASSERT_TRUE(id);
  const auto claims = json::parse(id->payload).as_object();
  EXPECT_EQ(claims.at("aud").as_string(), web.client.client_id);
  EXPECT_EQ(claims.at("nonce").as_string(), "n-0S6_WzA2Mj");
  EXPECT_EQ(claims.at("at_hash").as_string(), atHash(access));
  EXPECT_EQ(claims.at("email").as_string(), "alice@example.com");
  EXPECT_EQ(claims.at("sub").as_string(), std::to_string(who.user->id));
  // The access token works at userinfo and as an API credential.
  auto info = provider.userinfo(access);
  ASSERT_TRUE(info) << info.error().detail;
  EXPECT_EQ(info->at("preferred_username").as_string(), "alice");
  auto as_api = s.token_check.authenticate(access);
  ASSERT_TRUE(as_api);
  EXPECT_EQ(as_api->client_id, web.client.client_id);
  // Second use: refused, and what the first use issued ends.
  auto again = exchange(web, code);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, OpErrc::InvalidGrant);
  EXPECT_FALSE(provider.userinfo(access));
  EXPECT_FALSE(s.token_check.authenticate(access));
  auto refreshed = provider.token({"refresh_token", {}, {}, {}, refresh, {}}, web.client, origin);
  ASSERT_FALSE(refreshed);
  EXPECT_EQ(refreshed.error().code, OpErrc::InvalidGrant);
}

// Found by an outside attack: an exchange that passed its checks before a password change, an
// administrator's ending of the user's sessions or a deactivation committed, and wrote its grant
// after, kept a grant nothing ended (refreshing for good, back to life on reactivation). The
// change lands here between the checks and the grant's write.
TEST_F(ProviderTest, AnAccountChangeLandingWhileACodeIsExchangedLeavesNoGrant) {
  const auto web = webApp();
  auth::ApiKeyService keys(*s.store, s.policy, s.cache, s.audit, s.clock);
  auth::UserService users(*s.store, s.policy, s.cache, s.audit, s.clock, keys, s.session_end);
  const auth::Actor admin{std::nullopt, s.policy.allPermissions()};
  const std::vector<std::pair<std::string, std::function<void(const auth::Principal&)>>> changes{
      {"password",
       [&](const auth::Principal& who) {
         ASSERT_TRUE(s.passwords.changePassword(who, "Passw0rd!x", "N3w-Passw0rd!x", origin));
       }},
      {"sessions",
       [&](const auth::Principal& who) {
         ASSERT_TRUE(users.endSessions(who.user->id, admin, origin));
       }},
      {"deactivation",
       [&](const auth::Principal& who) {
         store::UserPatch off;
         off.is_active = false;
         ASSERT_TRUE(users.update(who.user->id, off, admin, origin));
         store::UserPatch on;
         on.is_active = true;
         ASSERT_TRUE(users.update(who.user->id, on, admin, origin));
       }},
  };
  for (const auto& [name, change] : changes) {
    const auto who = signedIn("raced-" + name);
    const std::string code = codeFor(web, who, "openid offline_access");
    s.clock.advance(1);
    seam.seam_sessions.before_create = [&change, &who] { change(who); };
    auto out = exchange(web, code);
    ASSERT_FALSE(out) << name;
    EXPECT_EQ(out.error().code, OpErrc::InvalidGrant) << name;
    auto live = s.store->sessions().listForUser(who.user->id, s.clock.unixSeconds());
    ASSERT_TRUE(live);
    for (const auto& session : *live)
      EXPECT_EQ(session.user_agent.find("OpenID client"), std::string::npos) << name;
  }
}

TEST_F(ProviderTest, ACodeIsBoundToItsClientRedirectUriVerifierAndLifetime) {
  const auto web = webApp();
  const auto other = client({.name = "Other", .redirect_uris = {"https://rp.example.com/cb"}});
  const auto who = signedIn("bob");
  // Another client holding the code can neither use nor burn it.
  const std::string stolen = codeFor(web, who);
  EXPECT_EQ(exchange(other, stolen).error().code, OpErrc::InvalidGrant);
  EXPECT_TRUE(exchange(web, stolen));
  EXPECT_EQ(exchange(web, codeFor(web, who), "x" + std::string(kVerifier)).error().code,
            OpErrc::InvalidGrant);
  EXPECT_EQ(exchange(web, codeFor(web, who), std::nullopt).error().code, OpErrc::InvalidGrant);
  auto wrong_uri = provider.token({"authorization_code",
                                   codeFor(web, who),
                                   "https://rp.example.com/cb2",
                                   std::string(kVerifier),
                                   {},
                                   {}},
                                  web.client, origin);
  EXPECT_EQ(wrong_uri.error().code, OpErrc::InvalidGrant);
  const std::string late = codeFor(web, who);
  s.clock.advance(61);
  EXPECT_EQ(exchange(web, late).error().code, OpErrc::InvalidGrant);
  EXPECT_EQ(exchange(web, "made-up").error().code, OpErrc::InvalidGrant);
}

TEST_F(ProviderTest, RefreshTokensRotateAndAReuseEndsTheGrant) {
  const auto web = webApp();
  const auto who = signedIn("carol");
  auto first = exchange(web, codeFor(web, who, "openid offline_access"));
  ASSERT_TRUE(first);
  const std::string r1(first->at("refresh_token").as_string());
  auto second = provider.token({"refresh_token", {}, {}, {}, r1, {}}, web.client, origin);
  ASSERT_TRUE(second) << second.error().detail;
  const std::string r2(second->at("refresh_token").as_string());
  EXPECT_NE(r1, r2);
  EXPECT_TRUE(second->contains("id_token"));
  // Another client cannot use it; a wider scope is refused.
  const auto other = client({.name = "Other", .redirect_uris = {"https://o.example.com/cb"}});
  EXPECT_EQ(
      provider.token({"refresh_token", {}, {}, {}, r2, {}}, other.client, origin).error().code,
      OpErrc::InvalidGrant);
  EXPECT_EQ(provider.token({"refresh_token", {}, {}, {}, r2, "openid email"}, web.client, origin)
                .error()
                .code,
            OpErrc::InvalidScope);
  // A narrower answer keeps the grant whole: the next refresh may ask for all of it again.
  auto narrow = provider.token({"refresh_token", {}, {}, {}, r2, "openid"}, web.client, origin);
  ASSERT_TRUE(narrow);
  EXPECT_EQ(narrow->at("scope").as_string(), "openid");
  const std::string r3(narrow->at("refresh_token").as_string());
  auto whole = provider.token({"refresh_token", {}, {}, {}, r3, {}}, web.client, origin);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->at("scope").as_string(), "openid offline_access");
  // The old one again: the whole grant ends, the newest token with it.
  EXPECT_FALSE(provider.token({"refresh_token", {}, {}, {}, r1, {}}, web.client, origin));
  EXPECT_FALSE(provider.token({"refresh_token", {}, {}, {}, r2, {}}, web.client, origin));
  EXPECT_FALSE(provider.userinfo(std::string(second->at("access_token").as_string())));
}

// A resource server that checks the signature, iss, aud and exp but not typ must not take a
// refresh token (seven days, never on the revocation list) for an access token (an outside review).
TEST_F(ProviderTest, ARefreshTokensAudienceIsTheTokenEndpointAndOldOnesStillRefresh) {
  const auto web = webApp();
  const auto who = signedIn("erin");
  auto first = exchange(web, codeFor(web, who, "openid offline_access"));
  ASSERT_TRUE(first);
  const std::string refresh(first->at("refresh_token").as_string());
  auto claims = tokens.verifyRefresh(refresh);
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->raw.at("aud").as_string(), "https://id.example.com/oauth2/token");
  auto jws = jose::verifyJws(refresh, tokens.keys(), {});
  ASSERT_TRUE(jws);
  EXPECT_EQ(jose::checkClaims(
                jws->payload,
                {.issuer = "https://id.example.com", .audience = tokens.settings().audience},
                s.clock.unixSeconds())
                .error(),
            jose::JwtError::BadAudience);
  EXPECT_EQ(tokens.verifyAccess(refresh).error(), jose::JwtError::BadType);

  // One issued before, with the issuer as its audience, refreshes until it expires; any other
  // audience is refused.
  json::object old = claims->raw;
  old["aud"] = "https://id.example.com";
  const auto before = jose::signJwt(key, old).value();
  auto rotated = provider.token({"refresh_token", {}, {}, {}, before, {}}, web.client, origin);
  ASSERT_TRUE(rotated) << rotated.error().detail;
  EXPECT_EQ(tokens.verifyRefresh(std::string(rotated->at("refresh_token").as_string()))
                ->raw.at("aud")
                .as_string(),
            "https://id.example.com/oauth2/token");
  old["aud"] = "https://rs.example.com";
  EXPECT_EQ(tokens.verifyRefresh(jose::signJwt(key, old).value()).error(),
            jose::JwtError::BadAudience);
}

TEST_F(ProviderTest, NoRefreshTokenWithoutOfflineAccessOrForPublicClients) {
  const auto web = webApp();
  const auto who = signedIn("dave");
  auto out = exchange(web, codeFor(web, who, "openid"));
  ASSERT_TRUE(out);
  EXPECT_FALSE(out->contains("refresh_token"));
  const auto spa =
      client({.name = "SPA", .redirect_uris = {"http://localhost:5173/cb"}, .is_public = true});
  auto spa_out = exchange(spa, codeFor(spa, who, "openid offline_access"));
  ASSERT_TRUE(spa_out);
  EXPECT_FALSE(spa_out->contains("refresh_token"));
  // openid alone: no profile or email claims.
  auto info = provider.userinfo(std::string(out->at("access_token").as_string()));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size(), 1U);
}

TEST_F(ProviderTest, AUserHoldsAtMostTenGrantsOfOneClient) {
  const auto web = webApp();
  const auto other = client({.name = "Other", .redirect_uris = {"https://o.example.com/cb"}});
  const auto who = signedIn("mona");
  std::vector<std::string> access;
  for (int i = 0; i < 12; ++i) {
    s.clock.advance(1);
    auto out = exchange(web, codeFor(web, who, "openid"));
    ASSERT_TRUE(out);
    access.emplace_back(out->at("access_token").as_string());
  }
  ASSERT_TRUE(exchange(other, codeFor(other, who, "openid")));
  std::size_t of_web = 0;
  std::size_t of_other = 0;
  const auto sessions = s.store->sessions().listForUser(who.user->id, s.clock.unixSeconds());
  ASSERT_TRUE(sessions);
  for (const auto& live : *sessions) {
    of_web += live.user_agent.find(web.client.client_id) != std::string::npos ? 1 : 0;
    of_other += live.user_agent.find(other.client.client_id) != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(of_web, 10U);
  EXPECT_EQ(of_other, 1U);
  // The oldest two ended, tokens and all, and their rows are gone (a client renewing in a loop
  // piled a row up per renewal until the retention purge); the newest still work.
  EXPECT_FALSE(provider.userinfo(access[0]));
  EXPECT_FALSE(provider.userinfo(access[1]));
  for (std::size_t i = 0; i < access.size(); ++i) {
    const auto grant = tokens.verifyAccess(access[i]);
    ASSERT_TRUE(grant);
    const auto row = s.store->sessions().find(std::string(grant->raw.at("sid").as_string()));
    ASSERT_TRUE(row);
    EXPECT_EQ(row->has_value(), i >= 2) << i;
  }
  EXPECT_TRUE(provider.userinfo(access[2]));
  EXPECT_TRUE(provider.userinfo(access.back()));
}

TEST_F(ProviderTest, DeletingAClientEndsItsGrantsAndTokensAndNoOneElses) {
  // Found by an outside attack: a deleted client's access tokens passed userinfo and forward-auth
  // until they expired, and its grants stayed listed as live.
  const auto web = webApp();
  const auto other = client({.name = "Other", .redirect_uris = {"https://o.example.com/cb"}});
  const auto who = signedIn("dora");
  auto first = exchange(web, codeFor(web, who, "openid offline_access"));
  auto second = exchange(web, codeFor(web, who, "openid"));
  auto kept = exchange(other, codeFor(other, who, "openid"));
  ASSERT_TRUE(first && second && kept);
  const std::string access(first->at("access_token").as_string());
  const std::string refresh(first->at("refresh_token").as_string());
  const std::string other_access(kept->at("access_token").as_string());
  const std::string own =
      s.registerUser({"eve@example.com", "eve", "Passw0rd!x"}, origin)->access_token;
  ASSERT_TRUE(provider.userinfo(access));

  auto ended = provider.removeClient(web.client.client_id);
  ASSERT_TRUE(ended) << ended.error().message;
  EXPECT_EQ(*ended, 2);
  EXPECT_FALSE(provider.userinfo(access));
  EXPECT_FALSE(provider.userinfo(std::string(second->at("access_token").as_string())));
  EXPECT_FALSE(s.token_check.authenticate(access));
  EXPECT_FALSE(provider.token({"refresh_token", {}, {}, {}, refresh, {}}, web.client, origin));
  // Another client's grant and a user's own token are not touched.
  EXPECT_TRUE(provider.userinfo(other_access));
  EXPECT_TRUE(s.token_check.authenticate(own));
  const auto sessions = s.store->sessions().listForUser(who.user->id, s.clock.unixSeconds());
  ASSERT_TRUE(sessions);
  for (const auto& live : *sessions)
    EXPECT_EQ(live.user_agent.find(web.client.client_id), std::string::npos) << live.user_agent;
  // Stored with the deletion: a node that starts now (or reads the list again) refuses them too.
  auth::RevocationList fresh(s.store->revocations());
  ASSERT_TRUE(fresh.load(s.clock.unixSeconds()));
  EXPECT_TRUE(fresh.isClientRevoked(web.client.client_id));
  EXPECT_FALSE(fresh.isClientRevoked(other.client.client_id));
  // Once: a second deletion finds nothing.
  auto again = provider.removeClient(web.client.client_id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, core::Errc::NotFound);
}

TEST_F(ProviderTest, AReplayRacingTheFirstUseStillEndsItsGrant) {
  // The first use spent the code but has not written its grant yet when the replay arrives.
  const auto web = webApp();
  const auto who = signedIn("nina");
  const std::string code = codeFor(web, who);
  const std::string hash =
      core::hexEncode(crypto::hmac(crypto::Digest::Sha256, std::string(32, 'c'), code).value());
  auto first = s.store->op().redeemCode(hash, web.client.client_id, "grant-of-the-first-use",
                                        s.clock.unixSeconds());
  ASSERT_EQ(first.value().outcome, store::CodeRedemption::Outcome::Redeemed);
  EXPECT_EQ(exchange(web, code).error().code, OpErrc::InvalidGrant);
  // The first use now cannot write its grant: the id is taken by a revoked placeholder.
  auto placeholder = s.store->sessions().find("grant-of-the-first-use").value();
  ASSERT_TRUE(placeholder);
  EXPECT_TRUE(placeholder->revoked);
  const store::Session late{
      "grant-of-the-first-use", who.user->id, "jti", "late", "", 1, 1, 4'000'000'000, false, {}, 0};
  EXPECT_EQ(s.store->sessions().create(late).error().code, core::Errc::AlreadyExists);
}

TEST(AuthorizeParams, AfterTheSignInPromptLoginAskedForTheConsentItAskedForStays) {
  AuthorizeRequest r;
  r.client_id = "c";
  r.prompt = "login consent";
  const auto after = authorizeParams(r, true, "123.abc");
  const auto has = [&after](std::string_view name, std::string_view value) {
    return std::find(after.begin(), after.end(),
                     std::pair<std::string, std::string>(name, value)) != after.end();
  };
  EXPECT_TRUE(has("prompt", "consent"));
  EXPECT_TRUE(has("login_after", "123.abc"));
  r.prompt = "login";
  for (const auto& [name, value] : authorizeParams(r, true, "1.x")) EXPECT_NE(name, "prompt");
}

TEST_F(ProviderTest, PublicClientsCannotIntrospect) {
  const auto spa =
      client({.name = "SPA", .redirect_uris = {"http://localhost:5173/cb"}, .is_public = true});
  const auto who = signedIn("olga");
  auto out = exchange(spa, codeFor(spa, who));
  ASSERT_TRUE(out);
  EXPECT_EQ(provider.introspect(out->at("access_token").as_string(), spa.client).error().code,
            OpErrc::UnauthorizedClient);
  EXPECT_TRUE(provider.revoke(out->at("access_token").as_string(), spa.client, origin));
}

TEST_F(ProviderTest, ClientCredentialsAreForConfidentialClientsWithinTheirScope) {
  const auto machine = client({.name = "Machine", .scope = "users:read"});
  EXPECT_EQ(machine.client.grant_types, std::vector<std::string>{"client_credentials"});
  auto out = provider.token({"client_credentials", {}, {}, {}, {}, {}}, machine.client, origin);
  ASSERT_TRUE(out);
  auto claims = tokens.verifyAccess(out->at("access_token").as_string());
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->sub, machine.client.client_id);
  EXPECT_EQ(claims->scopes, std::vector<std::string>{"users:read"});
  EXPECT_FALSE(out->contains("refresh_token"));
  EXPECT_EQ(
      provider.token({"client_credentials", {}, {}, {}, {}, "users:write"}, machine.client, origin)
          .error()
          .code,
      OpErrc::InvalidScope);
  const auto web = webApp();
  EXPECT_EQ(
      provider.token({"client_credentials", {}, {}, {}, {}, {}}, web.client, origin).error().code,
      OpErrc::UnauthorizedClient);
  // A client allowed both flows gets no user scope for itself.
  const auto both = client({.name = "Both",
                            .redirect_uris = {"https://both.example.com/cb"},
                            .grant_types = {"authorization_code", "client_credentials"},
                            .scope = "openid email users:read"});
  auto own = provider.token({"client_credentials", {}, {}, {}, {}, {}}, both.client, origin);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->at("scope").as_string(), "users:read");
  EXPECT_EQ(provider.token({"client_credentials", {}, {}, {}, {}, "openid"}, both.client, origin)
                .error()
                .code,
            OpErrc::InvalidScope);
  // No user behind it: userinfo refuses it.
  EXPECT_FALSE(provider.userinfo(out->at("access_token").as_string()));
}

TEST_F(ProviderTest, ClientsAuthenticateWithTheirOwnSecretOnly) {
  const auto web = webApp();
  EXPECT_TRUE(clients.authenticate({web.client.client_id, web.secret, true}));
  EXPECT_FALSE(clients.authenticate({web.client.client_id, web.secret + "x", true}));
  EXPECT_FALSE(clients.authenticate({web.client.client_id, std::nullopt, false}));
  EXPECT_FALSE(clients.authenticate({"unknown", web.secret, false}));
  auto rotated = clients.rotateSecret(web.client.client_id);
  ASSERT_TRUE(rotated);
  EXPECT_FALSE(clients.authenticate({web.client.client_id, web.secret, true}));
  EXPECT_TRUE(clients.authenticate({web.client.client_id, *rotated, true}));
  const auto spa =
      client({.name = "SPA", .redirect_uris = {"http://localhost:5173/cb"}, .is_public = true});
  EXPECT_TRUE(clients.authenticate({spa.client.client_id, std::nullopt, false}));
  EXPECT_FALSE(clients.authenticate({spa.client.client_id, "guess", false}));
  // The secret is stored only as a keyed hash.
  auto stored = s.store->op().findClient(web.client.client_id).value();
  EXPECT_EQ(stored->secret_hash.find(*rotated), std::string::npos);
  EXPECT_EQ(stored->secret_hash.size(), 64U);
}

// One random id in 64 would begin with '-', which a command line reads as an option. With 1,500
// public clients, a registry that let them through passes this with odds of about 1 in 10^10.
// Whoever holds clients:manage (a narrow API key) could otherwise grow the registry, and the list
// GET /api/v1/clients answers whole, without end.
TEST_F(ProviderTest, TheRegistryHoldsABoundedNumberOfClients) {
  ClientRegistry small{s.store->op(),
                       std::string(32, 'k'),
                       {"openid", "profile", "email", "offline_access"},
                       s.clock,
                       3};
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto made =
        small.create({.name = "C" + std::to_string(i), .redirect_uris = {"https://a.example/cb"}});
    ASSERT_TRUE(made) << made.error().message;
    ids.push_back(made->client.client_id);
  }
  auto refused = small.create({.name = "Fourth", .redirect_uris = {"https://a.example/cb"}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::Errc::ResourceExhausted);
  EXPECT_EQ(small.list()->size(), 3U);
  // Deleting one makes room.
  ASSERT_TRUE(small.remove(ids.front(), s.clock.unixSeconds() + 60));
  EXPECT_TRUE(small.create({.name = "Fourth", .redirect_uris = {"https://a.example/cb"}}));
}

// The consent page shows a client's name: text that reads as it is, each refusal saying why.
TEST_F(ProviderTest, AClientNameIsTextThatReadsAsItIs) {
  for (const auto& [name, message] : std::vector<std::pair<std::string, std::string>>{
           {"", "name: 1 to 100 bytes"},
           {std::string(101, 'a'), "name: 1 to 100 bytes"},
           {"Pay\x07", "name: holds a control character"},
           {"Pay\xFF", "name: is not UTF-8"},
           {"\xE2\x80\xAE"
            "lapyaP",
            "name: holds an invisible or direction-changing character"}}) {
    auto made = clients.create({.name = name, .redirect_uris = {"https://a.example/cb"}});
    ASSERT_FALSE(made) << name;
    EXPECT_EQ(made.error().code, core::Errc::InvalidArgument);
    EXPECT_EQ(made.error().message, message);
  }
  EXPECT_TRUE(clients.create(
      {.name = "Caf\xC3\xA9 \xF0\x9F\x8D\xB5", .redirect_uris = {"https://a.example/cb"}}));
}

TEST_F(ProviderTest, ClientIdsNeverBeginWithADash) {
  std::size_t dashes_inside = 0;
  for (int i = 0; i < 1500; ++i) {
    auto made = clients.create(
        {.name = "Spa", .redirect_uris = {"https://a.example/cb"}, .is_public = true});
    ASSERT_TRUE(made) << made.error().message;
    const std::string id = made->client.client_id;
    ASSERT_TRUE(
        clients.remove(id, s.clock.unixSeconds() + 60));  // the registry holds at most kMaxClients
    ASSERT_EQ(id.size(), 22U);
    ASSERT_NE(id.front(), '-') << id;
    dashes_inside += id.find('-', 1) != std::string::npos ? 1 : 0;
  }
  // The alphabet is otherwise untouched: a dash still appears after the first character.
  EXPECT_GT(dashes_inside, 0U);
}

TEST_F(ProviderTest, RegistrationRefusesContradictionsAndUnknownScopes) {
  EXPECT_FALSE(clients.create({.name = "", .redirect_uris = {"https://a.example/cb"}}));
  EXPECT_FALSE(clients.create({.name = "x", .redirect_uris = {"http://a.example/cb"}}));
  EXPECT_FALSE(clients.create({.name = "x", .grant_types = {"authorization_code"}}));
  EXPECT_FALSE(clients.create({.name = "x", .grant_types = {"password"}}));
  EXPECT_FALSE(clients.create({.name = "x", .is_public = true}));  // client_credentials by default
  EXPECT_FALSE(clients.create(
      {.name = "x", .redirect_uris = {"https://a.example/cb"}, .scope = "openid root"}));
  EXPECT_FALSE(clients.create({.name = "x", .scope = "openid"}));
  // The consent page shows the name as it is: no direction overrides or invisible characters.
  EXPECT_FALSE(
      clients.create({.name = "Safe \xe2\x80\xaeppA", .redirect_uris = {"https://a.example/cb"}}));
  EXPECT_FALSE(clients.create({.name = "a\xef\xbb\xbf"
                                       "b",
                               .redirect_uris = {"https://a.example/cb"}}));
  EXPECT_FALSE(clients.create({.name = "\xff", .redirect_uris = {"https://a.example/cb"}}));
  EXPECT_TRUE(clients.create({.name = "Café Grafana", .redirect_uris = {"https://a.example/cb"}}));
}

TEST_F(ProviderTest, IntrospectionAndRevocationOnlyForTheClientsOwnTokens) {
  const auto web = webApp();
  const auto other = client({.name = "Other", .redirect_uris = {"https://o.example.com/cb"}});
  const auto who = signedIn("erin");
  auto out = exchange(web, codeFor(web, who, "openid offline_access"));
  ASSERT_TRUE(out);
  const std::string access(out->at("access_token").as_string());
  const std::string refresh(out->at("refresh_token").as_string());
  EXPECT_TRUE(provider.introspect(access, web.client)->at("active").as_bool());
  EXPECT_FALSE(provider.introspect(access, other.client)->at("active").as_bool());
  EXPECT_TRUE(provider.introspect(refresh, web.client)->at("active").as_bool());
  // Another client's revocation is ignored.
  ASSERT_TRUE(provider.revoke(refresh, other.client, origin));
  EXPECT_TRUE(provider.introspect(refresh, web.client)->at("active").as_bool());
  ASSERT_TRUE(provider.revoke(refresh, web.client, origin));
  EXPECT_FALSE(provider.introspect(refresh, web.client)->at("active").as_bool());
  EXPECT_FALSE(provider.introspect(access, web.client)->at("active").as_bool());
}

// Found by an outside attack: a client allowed users:delete got it into a plain user's tokens and
// introspection, and services that check scope offline took it as the right.
TEST_F(ProviderTest, ATokenNeverCarriesAPermissionItsUserLacks) {
  const auto wide = client({.name = "Wide",
                            .redirect_uris = {"https://rp.example.com/cb"},
                            .scope = "openid offline_access users:read users:delete"});
  const auto alice = signedIn("alice");  // role user: users:read, not users:delete
  const std::string all = "openid offline_access users:read users:delete";
  auto asked = provider.checkAuthorize(request(wide, all));
  ASSERT_TRUE(asked);
  auto mine = provider.withinRights(*asked, alice);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->scopes, (std::vector<std::string>{"openid", "offline_access", "users:read"}));
  auto none =
      provider.withinRights(provider.checkAuthorize(request(wide, "users:delete")).value(), alice);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, OpErrc::InvalidScope);
  // issueCode narrows whatever it is handed; the tokens and introspection say the same.
  auto out = exchange(wide, codeFor(wide, alice, all));
  ASSERT_TRUE(out) << out.error().detail;
  EXPECT_EQ(out->at("scope").as_string(), "openid offline_access users:read");
  auto seen = provider.introspect(out->at("access_token").as_string(), wide.client);
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->at("scope").as_string(), "openid offline_access users:read");

  // An admin's grant, and the admin demoted: refreshes and introspection drop what was taken.
  auto made = s.registerUser({"root@example.com", "root", "Passw0rd!x"}, origin);
  ASSERT_TRUE(made);
  const auto id = s.token_check.authenticate(made->access_token)->user->id;
  ASSERT_TRUE(s.store->users().update(id, {.role = "admin"}, "nobody"));
  s.cache.invalidate(id);
  auto pair = s.login("root", "Passw0rd!x", std::nullopt, origin);
  ASSERT_TRUE(pair);
  auto admin = s.token_check.authenticate(pair->access_token);
  ASSERT_TRUE(admin);
  ASSERT_EQ(admin->user->role, "admin");
  ASSERT_TRUE(std::count(admin->permissions.begin(), admin->permissions.end(), "users:delete"));
  auto claims = std::make_shared<jose::Claims>(admin->claims());
  claims->raw["auth_time"] = s.clock.unixSeconds();
  admin->token = std::move(claims);
  auto granted = exchange(wide, codeFor(wide, *admin, "openid offline_access users:delete"));
  ASSERT_TRUE(granted) << granted.error().detail;
  EXPECT_EQ(granted->at("scope").as_string(), "openid offline_access users:delete");
  const std::string access(granted->at("access_token").as_string());
  const std::string refresh(granted->at("refresh_token").as_string());
  ASSERT_TRUE(s.store->users().update(id, {.role = "user"}, "nobody"));
  s.cache.invalidate(id);
  EXPECT_EQ(provider.introspect(access, wide.client)->at("scope").as_string(),
            "openid offline_access");
  EXPECT_EQ(provider.introspect(refresh, wide.client)->at("scope").as_string(),
            "openid offline_access");
  // Asking only for the lost permission: that scope is refused, the refresh token stays good.
  auto lost =
      provider.token({"refresh_token", {}, {}, {}, refresh, "users:delete"}, wide.client, origin);
  ASSERT_FALSE(lost);
  EXPECT_EQ(lost.error().code, OpErrc::InvalidScope);
  auto refreshed = provider.token({"refresh_token", {}, {}, {}, refresh, {}}, wide.client, origin);
  ASSERT_TRUE(refreshed) << refreshed.error().detail;
  EXPECT_EQ(refreshed->at("scope").as_string(), "openid offline_access");
  // The new refresh token left the permission behind for good.
  auto kept = jose::verifyJws(refreshed->at("refresh_token").as_string(), tokens.keys());
  ASSERT_TRUE(kept);
  EXPECT_EQ(json::parse(kept->payload).as_object().at("scope").as_string(),
            "openid offline_access");
}

// Found by an outside attack: a scope of 40,000 items at the token endpoint took 7.6 s of a core.
TEST_F(ProviderTest, TheTokenEndpointRefusesALongScopeUnread) {
  const auto web = webApp();
  auto out = exchange(web, codeFor(web, signedIn("gina"), "openid offline_access"));
  ASSERT_TRUE(out);
  std::string many;
  for (int i = 0; i < 300; ++i) many += "s" + std::to_string(i) + " ";
  ASSERT_GT(many.size(), 1024U);
  auto refused = provider.token(
      {"refresh_token", {}, {}, {}, std::string(out->at("refresh_token").as_string()), many},
      web.client, origin);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, OpErrc::InvalidScope);
  EXPECT_EQ(refused.error().description, "scope is too long.");
}

TEST_F(ProviderTest, PromptMaxAgeAndHintsDecideWhetherToSignInAgain) {
  const auto web = webApp();
  const auto who = signedIn("frank");
  auto a = provider.checkAuthorize(request(web)).value();
  EXPECT_TRUE(provider.needsSignIn(a, nullptr));
  EXPECT_FALSE(provider.needsSignIn(a, &who));
  a.prompt_login = true;
  EXPECT_TRUE(provider.needsSignIn(a, &who));
  a.login_after = s.clock.unixSeconds();
  EXPECT_FALSE(provider.needsSignIn(a, &who));
  a.login_after = s.clock.unixSeconds() + 1;
  EXPECT_TRUE(provider.needsSignIn(a, &who));
  a = provider.checkAuthorize(request(web)).value();
  s.clock.advance(100);
  a.max_age = 50;
  EXPECT_TRUE(provider.needsSignIn(a, &who));
  a.max_age = 500;
  EXPECT_FALSE(provider.needsSignIn(a, &who));
  a.hint_subject = "999999";
  EXPECT_TRUE(provider.needsSignIn(a, &who));
}

TEST_F(ProviderTest, OnlyTheProvidersOwnLoginMarkerMovesTheSignInBoundary) {
  const auto web = webApp();
  const auto who = signedIn("lena");
  auto r = request(web);
  r.login_after = provider.loginAfterMarker(s.clock.unixSeconds() + 5, r);
  EXPECT_EQ(provider.checkAuthorize(r)->login_after, s.clock.unixSeconds() + 5);
  EXPECT_TRUE(provider.needsSignIn(*provider.checkAuthorize(r), &who));
  // Forged, altered or bare: ignored (a request cannot waive prompt=login's sign-in).
  for (const std::string& forged :
       {std::string("1"), std::to_string(s.clock.unixSeconds()) + ".00",
        std::to_string(s.clock.unixSeconds() + 5) +
            provider.loginAfterMarker(s.clock.unixSeconds(), r).substr(10)}) {
    r.login_after = forged;
    EXPECT_EQ(provider.checkAuthorize(r)->login_after, 0) << forged;
  }
  // A marker made for another request (here another state) does not carry over.
  auto other = request(web);
  other.state = "someone else's";
  r.login_after = provider.loginAfterMarker(s.clock.unixSeconds() - 100, other);
  EXPECT_EQ(provider.checkAuthorize(r)->login_after, 0);
  // Nor one of a request with another PKCE challenge or scope (the review), nor an old one.
  for (auto changed : {&op::AuthorizeRequest::code_challenge, &op::AuthorizeRequest::scope}) {
    auto another = request(web);
    another.*changed = "something else";
    r.login_after = provider.loginAfterMarker(s.clock.unixSeconds(), another);
    EXPECT_EQ(provider.checkAuthorize(r)->login_after, 0);
  }
  // Nor one whose text moved from one field into the next (an outside review: the fields were
  // joined with line breaks, so state "a\nb" with nonce "c" read as state "a" with nonce "b\nc").
  auto split = request(web);
  split.state = "a";
  split.nonce = "b\nc";
  auto moved = request(web);
  moved.state = "a\nb";
  moved.nonce = "c";
  EXPECT_NE(provider.loginAfterMarker(s.clock.unixSeconds(), split),
            provider.loginAfterMarker(s.clock.unixSeconds(), moved));
  r.login_after = provider.loginAfterMarker(s.clock.unixSeconds() - 15 * 60, r);
  EXPECT_EQ(provider.checkAuthorize(r)->login_after, s.clock.unixSeconds() - 15 * 60);
  r.login_after = provider.loginAfterMarker(s.clock.unixSeconds() - 15 * 60 - 1, r);
  EXPECT_EQ(provider.checkAuthorize(r)->login_after, 0);
  r.prompt = "login";
  r.login_after = "1";
  EXPECT_TRUE(provider.needsSignIn(*provider.checkAuthorize(r), &who));
}

TEST_F(ProviderTest, ConsentIsRememberedPerUserAndClientAndCoversOnlyItsScopes) {
  const auto web = webApp();
  const auto mine = client(
      {.name = "Mine", .redirect_uris = {"https://mine.example.com/cb"}, .first_party = true});
  const auto who = signedIn("gina");
  auto a = provider.checkAuthorize(request(web, "openid email")).value();
  EXPECT_TRUE(provider.needsConsent(a, who.user->id).value());
  ASSERT_TRUE(provider.saveConsent(a, who.user->id));
  EXPECT_FALSE(provider.needsConsent(a, who.user->id).value());
  auto wider = provider.checkAuthorize(request(web, "openid email profile")).value();
  EXPECT_TRUE(provider.needsConsent(wider, who.user->id).value());
  a.prompt_consent = true;
  EXPECT_TRUE(provider.needsConsent(a, who.user->id).value());
  EXPECT_FALSE(
      provider.needsConsent(provider.checkAuthorize(request(mine)).value(), who.user->id).value());
  auto mine_again = provider.checkAuthorize(request(mine)).value();
  mine_again.prompt_consent = true;  // prompt=consent always asks, a first-party client included
  EXPECT_TRUE(provider.needsConsent(mine_again, who.user->id).value());
  const auto other = signedIn("hank");
  EXPECT_TRUE(provider
                  .needsConsent(provider.checkAuthorize(request(web, "openid email")).value(),
                                other.user->id)
                  .value());
}

TEST_F(ProviderTest, LogoutFollowsOnlyRegisteredUrisOfTheHintedClient) {
  auto web = client({.name = "Web",
                     .redirect_uris = {"https://rp.example.com/cb"},
                     .post_logout_redirect_uris = {"https://rp.example.com/bye"}});
  const auto who = signedIn("ivy");
  auto out = exchange(web, codeFor(web, who));
  ASSERT_TRUE(out);
  const std::string id_token(out->at("id_token").as_string());
  auto plan = provider.checkLogout({id_token, "https://rp.example.com/bye", "s1", std::nullopt});
  ASSERT_TRUE(plan);
  EXPECT_EQ(plan->hint_user, who.user->id);
  EXPECT_EQ(plan->redirect, "https://rp.example.com/bye?state=s1");
  EXPECT_FALSE(provider.checkLogout({id_token, "https://evil.example/", {}, {}}));
  EXPECT_FALSE(provider.checkLogout({std::nullopt, "https://rp.example.com/bye", {}, {}}));
  EXPECT_TRUE(
      provider.checkLogout({std::nullopt, "https://rp.example.com/bye", {}, web.client.client_id}));
  EXPECT_FALSE(provider.checkLogout({id_token + "x", {}, {}, {}}));
  // An expired hint still names its user.
  s.clock.advance(3 * 3600);
  EXPECT_EQ(provider.checkLogout({id_token, {}, {}, {}})->hint_user, who.user->id);
}

TEST_F(ProviderTest, TheConsentFormIsTakenOnlyForThePageShownToThatSessionForThatRequest) {
  const auto web = webApp();
  auto r = request(web);
  r.prompt = "login consent";
  r.max_age = "0";
  const std::int64_t now = s.clock.unixSeconds();
  const std::string shown = provider.consentMarker(now, "session-a", r);
  EXPECT_TRUE(provider.consentShown(shown, "session-a", r));
  // The form carries prompt without login: the marker reads the request as the form does.
  auto posted = r;
  posted.prompt = "consent";
  EXPECT_TRUE(provider.consentShown(shown, "session-a", posted));
  EXPECT_FALSE(provider.consentShown(shown, "session-b", r));
  EXPECT_FALSE(provider.consentShown(shown, "", r));
  // Any other parameter, or one added, is another request.
  for (auto change : std::vector<std::function<void(AuthorizeRequest&)>>{
           [](auto& x) { x.max_age = "3600"; }, [](auto& x) { x.max_age.reset(); },
           [](auto& x) { x.prompt = "none"; }, [](auto& x) { x.state = "other"; },
           [](auto& x) { x.scope = "openid email"; }, [](auto& x) { x.login_hint = "b"; },
           [](auto& x) { x.login_after = "1.00"; }, [](auto& x) { x.client_id = "another"; }}) {
    auto other = r;
    change(other);
    EXPECT_FALSE(provider.consentShown(shown, "session-a", other));
  }
  // Forged, altered, bare or moved in time: refused.
  for (const std::string& forged :
       {std::string(), std::string("1"), std::to_string(now) + ".00",
        std::to_string(now + 1) + shown.substr(shown.find('.')), shown + "0"})
    EXPECT_FALSE(provider.consentShown(forged, "session-a", r)) << forged;
  // The page lives kConsentPageSeconds; one from the future (past a minute of skew) is refused.
  EXPECT_FALSE(
      provider.consentShown(provider.consentMarker(now + 61, "session-a", r), "session-a", r));
  EXPECT_TRUE(
      provider.consentShown(provider.consentMarker(now + 60, "session-a", r), "session-a", r));
  s.clock.advance(Provider::kConsentPageSeconds);
  EXPECT_TRUE(provider.consentShown(shown, "session-a", r));
  s.clock.advance(1);
  EXPECT_FALSE(provider.consentShown(shown, "session-a", r));
}

}  // namespace
}  // namespace gatehouse::op
