// Handlers through the router and pipeline, no sockets: request objects in, responses out.
#include <filesystem>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "api/page_support.hpp"
#include "api/pipeline.hpp"
#include "api/services.hpp"
#include "crypto/pkey.hpp"
#include "state/local.hpp"
#include "support/auth_stack.hpp"
#include "ui/return_to.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;

class Handlers : public ::testing::Test {
 protected:
  Handlers()
      : keys_(*store_, policy_, cache_, audit_, clock_),
        oidc_({}, outbound_, *store_, stack_.sessions, audit_, clock_, stack_.once,
              {"http://gh.test", "http://front.test", std::string(32, 'c'), true}),
        services_{auth_,   stack_.sessions, stack_.passwords, users_, keys_,  tokens_,
                  *store_, policy_,         metrics_,         oidc_,  audit_, "http://gh.test"} {
    services_.rates = &stack_.rates;
    services_.provider = &provider_;
    services_.rate_limits = {{"LOGIN_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"REGISTER_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"REFRESH_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"MFA_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"WEBAUTHN_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"OP_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"OP_CODE_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"OIDC_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"ACCOUNT_CHANGE_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"REFUSED_CHANGE_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"EMAIL_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"EMAIL_IP_RATE_LIMIT", {1000, std::chrono::seconds(60)}},
                             {"EMAIL_TOKEN_RATE_LIMIT", {1000, std::chrono::seconds(60)}}};
    services_.mfa = &mfa_;
    addAllRoutes(table_);
    table_.install(router_, services_);
    services_.routes = &table_;
    pipeline_.emplace(router_, table_, services_, core::AddressSet::parse({"10.0.0.1"}).value(),
                      &metrics_);
  }

  // A request from 127.0.0.1 as the parser would give it.
  static http::Request request(std::string method, std::string target, std::string body = {},
                               std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request r;
    r.method = std::move(method);
    r.target = target;
    const auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.headers = std::move(headers);
    r.body = std::move(body);
    r.peer_ip = "127.0.0.1";
    return r;
  }
  http::Response call(std::string method, std::string target, std::string body = {},
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request r =
        request(std::move(method), std::move(target), std::move(body), std::move(headers));
    return (*pipeline_)(r);
  }

  // A route of a test's own: no credential, in `lane`, answering `status`.
  static Route testRoute(std::string method, std::string path, http::Lane lane, int status,
                         RouteHandler handler) {
    return {.method = std::move(method),
            .path = std::move(path),
            .credential = Credential::None,
            .lane = lane,
            .summary = "a test's route",
            .tag = "test",
            .replies = {{status, "ok", ""}},
            .handler = std::move(handler)};
  }

  static json::value parse(const http::Response& r) { return json::parse(r.body); }

  // A login of the registered user ("handler"); `extra` is appended to the form.
  json::object login(const std::string& extra = "", const std::string& password = "Passw0rd!x") {
    std::string encoded;
    for (const char c : password) {
      if (c == '!') {
        encoded += "%21";
      } else {
        encoded.push_back(c);
      }
    }
    auto r = call("POST", "/api/v1/auth/login", "username=handler&password=" + encoded + extra,
                  {{"content-type", "application/x-www-form-urlencoded"}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? parse(r).as_object() : json::object{};
  }
  http::Response refresh(const json::value& refresh_token) {
    return call("POST", "/api/v1/auth/refresh",
                json::serialize(json::object{{"refresh_token", refresh_token}}),
                {{"content-type", "application/json"}});
  }
  static std::vector<std::pair<std::string, std::string>> bearer(const json::value& token) {
    return {{"authorization", "Bearer " + std::string(token.as_string())}};
  }
  static std::string header(const http::Response& r, std::string_view name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return {};
  }

  std::string registerAndToken() {
    auto r = call("POST", "/api/v1/auth/register",
                  R"({"email":"h@example.com","username":"handler","password":"Passw0rd!x"})",
                  {{"content-type", "application/json"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return std::string(parse(r).at("access_token").as_string());
  }

  gatehouse::testing::AuthStack stack_{"api"};
  // Short names for the stack's parts, as the tests use them.
  core::ManualClock& clock_ = stack_.clock;
  std::unique_ptr<store::Store>& store_ = stack_.store;
  rbac::Policy& policy_ = stack_.policy;
  auth::TokenService& tokens_ = stack_.tokens;
  auth::UserCache& cache_ = stack_.cache;
  audit::AuditLog& audit_ = stack_.audit;
  metrics::Registry& metrics_ = stack_.metrics;
  auth::TokenCheck& auth_ = stack_.token_check;
  auth::ApiKeyService keys_;
  auth::UserService users_{*store_, policy_, cache_, audit_, clock_, keys_, stack_.session_end};
  mfa::MfaService mfa_{{*store_, stack_.once, stack_.limiter, stack_.rates, policy_, cache_, audit_,
                        metrics_, clock_,
                        mfa::Settings{"Gatehouse",
                                      {1000, std::chrono::seconds(60)},
                                      std::string(32, 'k'),
                                      std::string(32, 'c')}}};
  oidc::CurlClient outbound_{""};
  oidc::OidcService oidc_;
  // The OpenID Provider, on its own RS256 key.
  jose::Key op_key_ = [] {
    auto k =
        jose::Key::asymmetric(jose::Algorithm::Rs256, crypto::generateRsa(2048).value()).value();
    return k.withKid(jose::thumbprint(k).value());
  }();
  op::OpTokens op_tokens_{op_key_,
                          jose::KeySet::create({op_key_}).value(),
                          {.issuer = "http://gh.test", .audience = "http://gh.test"},
                          clock_};
  op::ClientRegistry op_clients_{(*store_).op(), std::string(32, 'k'), {"openid"}, clock_};
  op::Provider provider_{{*store_,
                          op_clients_,
                          op_tokens_,
                          auth_,
                          stack_.session_end,
                          stack_.revocations,
                          audit_,
                          clock_,
                          {.code_key = std::string(32, 'c')}}};
  Services services_;
  RouteTable table_;
  http::Router router_;
  std::optional<Pipeline> pipeline_;
};

TEST_F(Handlers, RegisterAnswersTokenPairWithNoStore) {
  auto r = call("POST", "/api/v1/auth/register",
                R"({"email":"a@example.com","username":"abc","password":"Passw0rd!x"})",
                {{"content-type", "application/json; charset=utf-8"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(header(r, "Cache-Control"), "no-store");
  EXPECT_EQ(header(r, "Pragma"), "no-cache");
  EXPECT_TRUE(r.security_headers);
  EXPECT_FALSE(header(r, "X-Request-Id").empty());
  EXPECT_EQ(parse(r).at("token_type").as_string(), "bearer");
}

TEST_F(Handlers, ValidationErrorsHaveFastApiShape) {
  auto r = call("POST", "/api/v1/auth/register", R"({"email":5})",
                {{"content-type", "application/json"}});
  ASSERT_EQ(r.status, 422);
  const auto detail = parse(r).at("detail").as_array();
  ASSERT_EQ(detail.size(), 3U);
  EXPECT_EQ(detail[0].at("loc"), json::parse(R"(["body","email"])"));
  EXPECT_EQ(detail[0].at("type").as_string(), "type_error.str");
  EXPECT_EQ(detail[1].at("type").as_string(), "value_error.missing");
  auto wrong_type = call("POST", "/api/v1/auth/register", "{}", {{"content-type", "text/plain"}});
  EXPECT_EQ(wrong_type.status, 422);
  auto dup = call("POST", "/api/v1/auth/register",
                  R"({"email":"a@x.io","email":"b@x.io","username":"u12","password":"Passw0rd!x"})",
                  {{"content-type", "application/json"}});
  EXPECT_EQ(dup.status, 422);
}

TEST_F(Handlers, LoginMeAndLogout) {
  registerAndToken();
  auto login = call("POST", "/api/v1/auth/login", "username=handler&password=Passw0rd%21x",
                    {{"content-type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(login.status, 200) << login.body;
  const std::string token(parse(login).at("access_token").as_string());
  auto me = call("GET", "/api/v1/auth/me", {}, {{"authorization", "Bearer " + token}});
  ASSERT_EQ(me.status, 200);
  EXPECT_EQ(parse(me).at("username").as_string(), "handler");
  EXPECT_FALSE(parse(me).as_object().contains("password_hash"));
  auto out = call("POST", "/api/v1/auth/logout", {}, {{"authorization", "bearer " + token}});
  EXPECT_EQ(out.status, 200);
  auto after = call("GET", "/api/v1/auth/me", {}, {{"authorization", "Bearer " + token}});
  EXPECT_EQ(after.status, 401);
  EXPECT_EQ(header(after, "WWW-Authenticate"), "Bearer error=\"invalid_token\"");
  auto none = call("GET", "/api/v1/auth/me");
  EXPECT_EQ(header(none, "WWW-Authenticate"), "Bearer");
}

TEST_F(Handlers, EndingASessionEndsItsAccessTokens) {
  registerAndToken();
  const auto a = login();
  const auto b = login();
  auto list = call("GET", "/api/v1/auth/sessions", {}, bearer(a.at("access_token")));
  ASSERT_EQ(list.status, 200);
  const json::value listed = parse(list);
  ASSERT_EQ(listed.at("items").as_array().size(), 3U);  // register, A, B
  ASSERT_EQ(call("GET", "/api/v1/auth/me", {}, bearer(b.at("access_token"))).status, 200);
  // A ends every other session (B and the registration's).
  for (const auto& item : listed.at("items").as_array()) {
    if (item.at("current").as_bool()) continue;
    EXPECT_EQ(call("DELETE", "/api/v1/auth/sessions/" + std::string(item.at("id").as_string()), {},
                   bearer(a.at("access_token")))
                  .status,
              204);
  }
  EXPECT_EQ(call("GET", "/api/v1/auth/me", {}, bearer(b.at("access_token"))).status, 401);
  EXPECT_EQ(call("GET", "/api/v1/auth/me", {}, bearer(a.at("access_token"))).status, 200);
}

TEST_F(Handlers, RefreshReuseEndsTheSessionsAccessTokens) {
  registerAndToken();
  const auto first = login();
  auto second = refresh(first.at("refresh_token"));
  ASSERT_EQ(second.status, 200) << second.body;
  const auto pair2 = parse(second);
  EXPECT_EQ(refresh(first.at("refresh_token")).status, 401);  // reuse: the session dies
  EXPECT_EQ(call("GET", "/api/v1/auth/me", {}, bearer(pair2.at("access_token"))).status, 401);
  EXPECT_EQ(refresh(pair2.at("refresh_token")).status, 401);
}

TEST_F(Handlers, RefreshNeverWidensTheGrantedScope) {
  registerAndToken();
  const auto narrow = login("&scope=posts:read");
  auto refreshed = refresh(narrow.at("refresh_token"));
  ASSERT_EQ(refreshed.status, 200);
  const auto token = parse(refreshed).at("access_token");
  auto claims = tokens_.verifyAccess(std::string(token.as_string()));
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->scopes, std::vector<std::string>{"posts:read"});
  EXPECT_EQ(call("GET", "/api/v1/users", {}, bearer(token)).status, 403);
  // A second rotation keeps it too.
  auto again = refresh(parse(refreshed).at("refresh_token"));
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(tokens_.verifyAccess(std::string(parse(again).at("access_token").as_string()))->scopes,
            std::vector<std::string>{"posts:read"});
}

TEST_F(Handlers, TokensFromTheSecondOfAPasswordChangeEndButANewLoginWorks) {
  registerAndToken();
  const auto old_session = login();
  const auto changer = login();
  auto changed =
      call("POST", "/api/v1/auth/password",
           R"({"current_password":"Passw0rd!x","new_password":"N3w-Passw0rd!"})",
           {{"content-type", "application/json"},
            {"authorization", "Bearer " + std::string(changer.at("access_token").as_string())}});
  ASSERT_EQ(changed.status, 200) << changed.body;
  // Same second on the injected clock: iat cannot order them, the ended session does.
  EXPECT_EQ(call("GET", "/api/v1/auth/me", {}, bearer(old_session.at("access_token"))).status, 401);
  const auto fresh = login("", "N3w-Passw0rd!");
  EXPECT_EQ(call("GET", "/api/v1/auth/me", {}, bearer(fresh.at("access_token"))).status, 200);
}

TEST_F(Handlers, APrincipalCheckedBeforeAPasswordChangeIsNoLongerValidAfterIt) {
  // What the API-key creation re-checks after inserting, so a change racing it cannot leave a
  // key minted with the token it ended.
  registerAndToken();
  const auto thief = login();
  auto who = auth_.authenticate(std::string(thief.at("access_token").as_string()));
  ASSERT_TRUE(who);
  EXPECT_TRUE(auth_.stillValid(*who));
  const auto owner = login();
  clock_.advance(5);
  auto changed =
      call("POST", "/api/v1/auth/password",
           R"({"current_password":"Passw0rd!x","new_password":"N3w-Passw0rd!"})",
           {{"content-type", "application/json"},
            {"authorization", "Bearer " + std::string(owner.at("access_token").as_string())}});
  ASSERT_EQ(changed.status, 200) << changed.body;
  auto still = auth_.stillValid(*who);
  ASSERT_FALSE(still);
  EXPECT_EQ(still.error().code, auth::Errc::InvalidToken);
  // A role changed since the check (an outside attack: an administrator's password set landed
  // after the actor's demotion): Forbidden where the caller's rights are asked again, and not
  // otherwise (a review: a promotion refused a passkey the role has nothing to do with).
  const auto fresh = login("", "N3w-Passw0rd!");
  auto promoted = auth_.authenticate(std::string(fresh.at("access_token").as_string()));
  ASSERT_TRUE(promoted);
  ASSERT_TRUE(auth_.stillValid(*promoted));
  store::UserPatch role;
  role.role = "moderator";
  ASSERT_TRUE(store_->users().update(promoted->user->id, role, "admin"));
  EXPECT_TRUE(auth_.stillValid(*promoted));
  auto moved = auth_.stillValid(*promoted, true);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().code, auth::Errc::Forbidden);
}

TEST_F(Handlers, ApiKeysCannotManageTheirOwnersAccount) {
  const std::string token = registerAndToken();
  auto created = call("POST", "/api/v1/api-keys", R"({"name":"k"})",
                      {{"content-type", "application/json"}, {"authorization", "Bearer " + token}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string key(parse(created).at("key").as_string());
  const std::vector<std::pair<std::string, std::string>> with_key = {{"x-api-key", key}};
  EXPECT_EQ(call("GET", "/api/v1/auth/me", {}, with_key).status, 200);
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/api/v1/auth/sessions"},
                                                        {"DELETE", "/api/v1/auth/sessions/x"},
                                                        {"POST", "/api/v1/auth/password"},
                                                        {"POST", "/api/v1/auth/logout"},
                                                        {"GET", "/api/v1/auth/identities"},
                                                        {"GET", "/api/v1/api-keys"},
                                                        {"POST", "/api/v1/api-keys"}}) {
    auto r = call(method, path, "{}", {{"x-api-key", key}, {"content-type", "application/json"}});
    EXPECT_EQ(r.status, 403) << method << " " << path;
    EXPECT_EQ(r.body, R"({"detail":"Insufficient permissions"})");
  }
}

TEST_F(Handlers, LoginTakesTheRefreshTokenGrantWithTheSameRotation) {
  registerAndToken();
  const auto first = login();
  const std::string form = "grant_type=refresh_token&refresh_token=" +
                           std::string(first.at("refresh_token").as_string());
  auto r = call("POST", "/api/v1/auth/login", form,
                {{"content-type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(header(r, "Cache-Control"), "no-store");
  // The old refresh token was rotated out: presenting it again is reuse.
  EXPECT_EQ(call("POST", "/api/v1/auth/login", form,
                 {{"content-type", "application/x-www-form-urlencoded"}})
                .status,
            401);
  auto bad = call("POST", "/api/v1/auth/login", "grant_type=client_credentials",
                  {{"content-type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(bad.status, 422);
}

TEST_F(Handlers, DeclaredLimitsCountAdmittedRequestsOnly) {
  services_.rate_limits["REGISTER_RATE_LIMIT"] = {2, std::chrono::seconds(60)};
  const auto reg = [this](const std::string& name, const std::string& password) {
    return call("POST", "/api/v1/auth/register",
                R"({"email":")" + name + R"(@example.com","username":")" + name +
                    R"(","password":")" + password + R"("})",
                {{"content-type", "application/json"}})
        .status;
  };
  // Malformed or too weak: 422, not counted.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(reg("weak" + std::to_string(i), "short"), 422);
  EXPECT_EQ(reg("first", "Passw0rd!x"), 201);
  EXPECT_EQ(reg("second", "Passw0rd!x"), 201);
  auto refused = call("POST", "/api/v1/auth/register",
                      R"({"email":"third@example.com","username":"third","password":"Passw0rd!x"})",
                      {{"content-type", "application/json"}});
  EXPECT_EQ(refused.status, 429);
  EXPECT_FALSE(header(refused, "Retry-After").empty());
  EXPECT_EQ(parse(refused).at("detail").as_string(), "Too many requests");
}

TEST_F(Handlers, TheStorageLaneChecksTheTokenAgain) {
  const std::string token = registerAndToken();
  const auto id = auth_.authenticate(token)->user->id;
  const auto me = [&] {
    return request("GET", "/api/v1/auth/me", {}, {{"authorization", "Bearer " + token}});
  };
  // The user not in memory: the I/O thread's attempt hands the request to a storage worker.
  cache_.invalidate(id);
  auto request = me();
  ASSERT_TRUE(std::holds_alternative<http::Lane>(table_.tryInline(request, services_)));
  EXPECT_EQ(router_.dispatch(request).status, 200);
  // A revocation between the two attempts is seen by the worker.
  cache_.invalidate(id);
  request = me();
  ASSERT_TRUE(std::holds_alternative<http::Lane>(table_.tryInline(request, services_)));
  ASSERT_TRUE(stack_.sessions.revoke(token, std::nullopt, {"127.0.0.1", "test", "req"}));
  EXPECT_EQ(router_.dispatch(request).status, 401);
}

TEST_F(Handlers, ALimitedRouteAnsweringWithoutAdmissionIsRefused) {
  // It forgets to call admit().
  Route forgetful = testRoute("POST", "/forgetful", http::Lane::Storage, 200,
                              [](Call&) { return http::Response::empty(200); });
  forgetful.limits = {{"LOGIN_RATE_LIMIT", "forgetful", {LimitKey::ClientAddress}}};
  RouteTable table;
  table.add(std::move(forgetful));
  http::Router router;
  table.install(router, services_);
  http::Request r = request("POST", "/forgetful");
  EXPECT_EQ(router.dispatch(r).status, 500);
}

// A handler on the I/O thread that would wait for storage asks for a worker: its answer there is
// dropped and the worker runs it again from the start. With Wait::Yes the ask is a bug (500).
TEST_F(Handlers, AnInlineHandlerThatWouldWaitIsRunAgainOnAWorker) {
  int runs = 0;
  bool ask_anyway = false;
  RouteTable table;
  table.add(testRoute("GET", "/sometimes", http::Lane::Inline, 204, [&](Call& c) {
    ++runs;
    if (c.wait == core::Wait::No || ask_anyway) {  // it needs storage on the I/O thread
      c.wants_worker = true;
      return http::Response::empty(200);  // never sent
    }
    return http::Response::empty(204);
  }));
  http::Router router;
  table.install(router, services_);
  http::Request r = request("GET", "/sometimes");
  const auto attempt = table.tryInline(r, services_);
  ASSERT_TRUE(std::holds_alternative<http::Lane>(attempt));
  EXPECT_EQ(std::get<http::Lane>(attempt), http::Lane::Storage);
  EXPECT_EQ(router.dispatch(r).status, 204);
  EXPECT_EQ(runs, 2);
  ask_anyway = true;
  EXPECT_EQ(router.dispatch(r).status, 500);
}

// The sign-in page answers on the I/O thread, except where it needs storage: a return to an
// OpenID client's authorization request, whose form-action is read from the client store.
TEST_F(Handlers, TheSignInPageGoesToAWorkerOnlyToReadTheClientItReturnsTo) {
  const ui::Csrf csrf(std::string(32, 'k'));
  const ui::ReturnTo return_to("http://localhost", {});
  services_.csrf = &csrf;
  services_.return_to = &return_to;
  auto plain = request("GET", "/ui/login");
  const auto quick = table_.tryInline(plain, services_);
  ASSERT_TRUE(std::holds_alternative<http::Response>(quick));
  EXPECT_EQ(std::get<http::Response>(quick).status, 200);
  auto returning =
      request("GET",
              "/ui/login?return_to=%2Foauth2%2Fauthorize%3Fclient_id%3Dc%26redirect_uri%3D"
              "https%253A%252F%252Frp.example.com%252Fcb");
  const auto handed = table_.tryInline(returning, services_);
  ASSERT_TRUE(std::holds_alternative<http::Lane>(handed));
  EXPECT_EQ(std::get<http::Lane>(handed), http::Lane::Storage);
  EXPECT_EQ(router_.dispatch(returning).status, 200);
}

// A sign-in cookie is answered on the I/O thread while its session was checked against storage
// within the recheck interval; after it, a worker reads the session again (ended meanwhile on
// another node, whose word this one never heard, it no longer counts).
TEST_F(Handlers, TheSignInPageGoesToAWorkerForASessionNotCheckedWithinTheInterval) {
  const ui::Csrf csrf(std::string(32, 'k'));
  const ui::ReturnTo return_to("http://localhost", {});
  auth::BrowserSessions browser({*store_,
                                 stack_.sessions,
                                 auth_,
                                 policy_,
                                 stack_.revocations,
                                 stack_.session_end,
                                 audit_,
                                 clock_,
                                 {std::string(32, 'b'), std::chrono::seconds(60)}});
  services_.csrf = &csrf;
  services_.return_to = &return_to;
  services_.browser = &browser;
  registerAndToken();
  const auth::ClientInfo client{"127.0.0.1", "a browser", "req"};
  auto who = stack_.passwords.login("handler", "Passw0rd!x", std::nullopt, client);
  ASSERT_TRUE(who);
  auto started = browser.start(*who, client);
  ASSERT_TRUE(started);
  // The cookies a sign-in sets, as the browser sends them back.
  http::Response signed_in = http::Response::empty(303);
  pages::setSignIn(signed_in, services_, started->cookie, started->session_id);
  std::string cookies;
  for (const auto& [name, value] : signed_in.headers) {
    if (name != "Set-Cookie") continue;
    cookies += (cookies.empty() ? "" : "; ") + value.substr(0, value.find(';'));
  }
  auto page = request("GET", "/ui/login", {}, {{"cookie", cookies}});
  const auto answeredInline = [&]() -> std::optional<http::Response> {
    auto attempt = table_.tryInline(page, services_);
    if (auto* res = std::get_if<http::Response>(&attempt)) return std::move(*res);
    EXPECT_EQ(std::get<http::Lane>(attempt), http::Lane::Storage);
    return std::nullopt;
  };
  // The first look reads the user on a worker; from then on memory holds both.
  EXPECT_FALSE(answeredInline());
  EXPECT_EQ(router_.dispatch(page).status, 303);
  const auto quick = answeredInline();
  ASSERT_TRUE(quick) << "a session checked just now and a cached user need no worker";
  EXPECT_EQ(quick->status, 303);
  EXPECT_EQ(header(*quick, "Location"), "/ui/account");

  clock_.advance(61);
  EXPECT_FALSE(answeredInline()) << "past the recheck interval the session is read again";
  const auto checked = router_.dispatch(page);
  EXPECT_EQ(checked.status, 303);
  EXPECT_EQ(header(checked, "Location"), "/ui/account");
  EXPECT_TRUE(answeredInline()) << "checked just now: the I/O thread again";

  ASSERT_TRUE(store_->sessions().revoke(started->session_id));  // as another node would
  clock_.advance(61);
  EXPECT_FALSE(answeredInline());
  const auto ended = router_.dispatch(page);
  EXPECT_EQ(ended.status, 200) << "the ended session's browser is offered the sign-in form";
  EXPECT_NE(ended.body.find("name=\"password\""), std::string::npos);
  // Refused from then on, from memory or by a worker.
  const auto again = answeredInline();
  EXPECT_EQ(again ? again->status : router_.dispatch(page).status, 200);
}

TEST_F(Handlers, PatchRefusesFieldsItDoesNotApply) {
  const std::string token = registerAndToken();
  auto r = call("PATCH", "/api/v1/users/1", R"({"password":"Other-Passw0rd!"})",
                {{"content-type", "application/json"}, {"authorization", "Bearer " + token}});
  // The plain user lacks users:write (403) before the body is looked at; an admin would get 422.
  EXPECT_EQ(r.status, 403);
}

TEST_F(Handlers, CorsOnlyForListedOriginsNeverAWildcard) {
  services_.cors_origins = {"https://app.example.com"};
  auto listed = call("GET", "/healthz", {}, {{"origin", "https://app.example.com"}});
  EXPECT_EQ(header(listed, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(header(listed, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(header(listed, "Vary"), "Origin");
  EXPECT_NE(header(listed, "Access-Control-Expose-Headers").find("Retry-After"), std::string::npos);
  auto other = call("GET", "/healthz", {}, {{"origin", "https://evil.example.com"}});
  EXPECT_EQ(header(other, "Access-Control-Allow-Origin"), "");
  EXPECT_EQ(header(other, "Access-Control-Allow-Credentials"), "");
  EXPECT_EQ(header(other, "Vary"), "Origin");
  auto preflight = call("OPTIONS", "/api/v1/auth/me", {},
                        {{"origin", "https://app.example.com"},
                         {"access-control-request-method", "GET"},
                         {"access-control-request-headers", "authorization"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(header(preflight, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_NE(header(preflight, "Access-Control-Allow-Headers").find("Authorization"),
            std::string::npos);
  auto refused =
      call("OPTIONS", "/api/v1/auth/me", {},
           {{"origin", "https://evil.example.com"}, {"access-control-request-method", "GET"}});
  EXPECT_EQ(header(refused, "Access-Control-Allow-Origin"), "");
  services_.cors_origins.clear();
  EXPECT_EQ(header(call("GET", "/healthz", {}, {{"origin", "https://app.example.com"}}), "Vary"),
            "");
}

TEST_F(Handlers, OpenApiDocumentIsServedUnlessDisabled) {
  auto doc = call("GET", "/openapi.json");
  ASSERT_EQ(doc.status, 200);
  EXPECT_EQ(parse(doc).at("openapi").as_string(), "3.1.0");
  services_.docs_enabled = false;
  EXPECT_EQ(call("GET", "/openapi.json").status, 404);
}

TEST_F(Handlers, ExpiredTokenFollowsTheInjectedClock) {
  const std::string token = registerAndToken();
  EXPECT_EQ(call("GET", "/api/v1/auth/me", {}, {{"authorization", "Bearer " + token}}).status, 200);
  clock_.advance(31 * 60);
  auto r = call("GET", "/api/v1/auth/me", {}, {{"authorization", "Bearer " + token}});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, R"({"detail":"Could not validate credentials"})");
}

TEST_F(Handlers, PermissionsGateUserAdministration) {
  const std::string token = registerAndToken();
  auto list = call("GET", "/api/v1/users?limit=10", {}, {{"authorization", "Bearer " + token}});
  EXPECT_EQ(list.status, 200);
  auto del = call("DELETE", "/api/v1/users/1", {}, {{"authorization", "Bearer " + token}});
  EXPECT_EQ(del.status, 403);
  EXPECT_EQ(del.body, R"({"detail":"Insufficient permissions"})");
}

TEST_F(Handlers, TrustedProxyForwardedForGivesClientAddress) {
  http::Request r;
  r.peer_ip = "10.0.0.1";
  r.headers = {{"x-forwarded-for", "203.0.113.9, 10.0.0.1"}};
  EXPECT_EQ(pipeline_->clientIp(r), "203.0.113.9");
  r.peer_ip = "198.51.100.7";  // not a trusted proxy: its header is ignored
  EXPECT_EQ(pipeline_->clientIp(r), "198.51.100.7");
}

TEST_F(Handlers, MetricsCountRequestsByRoute) {
  registerAndToken();
  call("GET", "/api/v1/users/7");
  const auto m = call("GET", "/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(
      m.body.find(
          R"(gatehouse_http_requests_total{method="POST",route="/api/v1/auth/register",status="201"} 1)"),
      std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find(R"(route="/api/v1/users/{id}",status="401")"), std::string::npos);
  EXPECT_NE(m.body.find("gatehouse_tokens_issued_total 2"), std::string::npos);
  EXPECT_NE(m.body.find("gatehouse_hash_queue_depth"), std::string::npos);
}

TEST_F(Handlers, DiscoveryDocuments) {
  auto jwks = call("GET", "/.well-known/jwks.json");
  // HS256 for the API (never published), the provider's RS256 key beside it.
  const auto keys = parse(jwks).at("keys").as_array();
  ASSERT_EQ(keys.size(), 1U);
  EXPECT_EQ(keys[0].at("alg").as_string(), "RS256");
  EXPECT_EQ(keys[0].at("kid").as_string(), op_key_.kid());
  EXPECT_FALSE(keys[0].as_object().contains("d"));
  auto oidc = parse(call("GET", "/.well-known/openid-configuration"));
  EXPECT_EQ(oidc.at("issuer").as_string(), "http://gh.test");
  EXPECT_EQ(oidc.at("jwks_uri").as_string(), "http://gh.test/.well-known/jwks.json");
  EXPECT_EQ(oidc.at("authorization_endpoint").as_string(), "http://gh.test/oauth2/authorize");
  EXPECT_EQ(oidc.at("code_challenge_methods_supported"), json::array{"S256"});
  EXPECT_EQ(oidc.at("request_parameter_supported"), false);
  EXPECT_EQ(call("GET", "/readyz").status, 200);
}

}  // namespace
}  // namespace gatehouse::api
