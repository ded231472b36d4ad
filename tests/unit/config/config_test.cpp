#include "config/config.hpp"

#include <map>

#include <gtest/gtest.h>

namespace gatehouse::config {
namespace {

Lookup from(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    if (auto it = values.find(name); it != values.end()) return it->second;
    return std::nullopt;
  };
}

TEST(Config, DefaultsMatchTheContract) {
  auto c = load(from({}));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->listen_host, "127.0.0.1");
  EXPECT_EQ(c->listen_port, 8000);
  EXPECT_EQ(c->algorithm, jose::Algorithm::Hs256);
  EXPECT_EQ(c->access_token_ttl, std::chrono::minutes(30));
  EXPECT_EQ(c->refresh_token_ttl, std::chrono::hours(24 * 7));
  EXPECT_EQ(c->password_rules.min_length, 8U);
  EXPECT_TRUE(c->password_rules.require_special);
  EXPECT_EQ(c->hash_policy.bcrypt_cost, 12);
  EXPECT_EQ(c->login_rate_limit.count, 5U);
  EXPECT_EQ(c->login_rate_limit.window, std::chrono::seconds(60));
  EXPECT_EQ(c->register_rate_limit.count, 3U);
  EXPECT_EQ(c->sqlite_path, std::filesystem::path("./gatehouse-data/gatehouse.db"));
  EXPECT_EQ(c->data_dir, std::filesystem::path("./gatehouse-data"));
}

TEST(Config, ReportsEveryBadVariableByName) {
  auto c = load(from({{"ALGORITHM", "none"},
                      {"BCRYPT_ROUNDS", "9"},
                      {"PASSWORD_REQUIRE_DIGIT", "sometimes"},
                      {"GATEHOUSE_LISTEN", "8000"},
                      {"REGISTER_RATE_LIMIT", "3/week"}}));
  ASSERT_FALSE(c);
  for (const char* name : {"ALGORITHM", "BCRYPT_ROUNDS", "PASSWORD_REQUIRE_DIGIT",
                           "GATEHOUSE_LISTEN", "REGISTER_RATE_LIMIT"}) {
    EXPECT_NE(c.error().message.find(name), std::string::npos) << name;
  }
}

TEST(Config, ShortHmacSecretIsRefusedWithoutEchoingIt) {
  auto c = load(from({{"SECRET_KEY", "hunter2-hunter2"}}));
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("SECRET_KEY: must be at least 32 bytes for HS256"),
            std::string::npos);
  EXPECT_EQ(c.error().message.find("hunter2"), std::string::npos);
  EXPECT_TRUE(load(from({{"SECRET_KEY", std::string(32, 'k')}})));
  EXPECT_FALSE(load(from({{"SECRET_KEY", std::string(32, 'k')}, {"ALGORITHM", "HS512"}})));
  EXPECT_TRUE(load(from({{"SECRET_KEY", "short"}, {"ALGORITHM", "ES256"}})));
}

TEST(Config, ParsesDatabaseUrls) {
  auto rel = load(from({{"DATABASE_URL", "sqlite:///var/db/g.db"}}));
  ASSERT_TRUE(rel);
  EXPECT_EQ(rel->sqlite_path, std::filesystem::path("var/db/g.db"));
  auto abs = load(from({{"DATABASE_URL", "sqlite:////srv/g.db"}}));
  ASSERT_TRUE(abs);
  EXPECT_EQ(abs->sqlite_path, std::filesystem::path("/srv/g.db"));
  EXPECT_EQ(abs->data_dir, std::filesystem::path("/srv"));
  EXPECT_TRUE(load(from({{"DATABASE_URL", "postgresql://u:p@localhost:5432/db"}})));
  EXPECT_FALSE(load(from({{"DATABASE_URL", "mysql://x"}})));
}

TEST(Config, ParsesListenAddresses) {
  auto v6 = load(from({{"GATEHOUSE_LISTEN", "[::1]:9000"}}));
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->listen_host, "::1");
  EXPECT_EQ(v6->listen_port, 9000);
  EXPECT_FALSE(load(from({{"GATEHOUSE_LISTEN", "127.0.0.1:70000"}})));
  EXPECT_FALSE(load(from({{"GATEHOUSE_LISTEN", ":80"}})));
}

TEST(RateLimit, ParsesTheSeedSyntax) {
  EXPECT_EQ(parseRateLimit("5/minute")->window, std::chrono::seconds(60));
  EXPECT_EQ(parseRateLimit("10/second")->count, 10U);
  EXPECT_EQ(parseRateLimit("1/day")->window, std::chrono::seconds(86400));
  EXPECT_EQ(parseRateLimit("2/hour")->window, std::chrono::seconds(3600));
  EXPECT_FALSE(parseRateLimit("0/minute"));
  // slowapi's multiples: the MFA limit's default is 5/15minutes.
  EXPECT_EQ(parseRateLimit("5/15minutes")->window, std::chrono::seconds(900));
  EXPECT_EQ(parseRateLimit("5/15minutes")->count, 5U);
  EXPECT_EQ(parseRateLimit("3/minutes")->window, std::chrono::seconds(60));
  EXPECT_FALSE(parseRateLimit("5/15minute"));  // a count needs the plural
  EXPECT_FALSE(parseRateLimit("5/0minutes"));
  EXPECT_FALSE(parseRateLimit("5/15"));
  EXPECT_FALSE(parseRateLimit("5/15fortnights"));
  EXPECT_FALSE(parseRateLimit("five/minute"));
  EXPECT_FALSE(parseRateLimit("5 per minute"));
  EXPECT_FALSE(parseRateLimit("/minute"));
}

TEST(Config, DescribeNeverShowsSecrets) {
  auto c =
      load(from({{"SECRET_KEY", std::string(40, 'z')}, {"MFA_SECRET_KEY", std::string(40, 'z')}}));
  ASSERT_TRUE(c);
  EXPECT_FALSE(load(from({{"MFA_SECRET_KEY", "short"}})));
  for (const auto& line : describe(*c)) EXPECT_EQ(line.find("zzzz"), std::string::npos) << line;
  auto shared = load(from({{"DATABASE_URL", "postgresql://gate:zzzzpw@db:5432/gh?sslmode=require"},
                           {"REDIS_URL", "redis://:zzzzpw@cache:6379/1"}}));
  ASSERT_TRUE(shared) << shared.error().message;
  for (const auto& line : describe(*shared))
    EXPECT_EQ(line.find("zzzz"), std::string::npos) << line;
}

TEST(Config, RedactsPasswordsInUrls) {
  EXPECT_EQ(redactUrl("postgresql://gate:pw@db:5432/gh"), "postgresql://gate:***@db:5432/gh");
  EXPECT_EQ(redactUrl("postgresql://gate@db/gh?password=pw&sslmode=require"),
            "postgresql://gate@db/gh?password=***&sslmode=require");
  EXPECT_EQ(redactUrl("redis://:pw@cache:6379/1"), "redis://:***@cache:6379/1");
  EXPECT_EQ(redactUrl("redis://cache:6379"), "redis://cache:6379");
  EXPECT_EQ(redactUrl("sqlite:///./data/gh.db"), "sqlite:///./data/gh.db");
}

TEST(Config, SharedStateSettingsAreChecked) {
  auto c = load(from({{"DATABASE_URL", "postgresql://gate@db/gh"},
                      {"DATABASE_POOL_SIZE", "32"},
                      {"REDIS_URL", "redis://cache:6379"}}));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->database_pool_size, 32U);
  EXPECT_EQ(c->redis_url, "redis://cache:6379");
  auto bad = load(from({{"DATABASE_POOL_SIZE", "0"}, {"REDIS_URL", "rediss://cache"}}));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("DATABASE_POOL_SIZE"), std::string::npos);
  EXPECT_NE(bad.error().message.find("REDIS_URL"), std::string::npos);
}

}  // namespace
}  // namespace gatehouse::config
