#include "audit/audit_log.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "auth/revocations.hpp"
#include "auth/user_cache.hpp"

namespace gatehouse::audit {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLogTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("gatehouse-audit-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    store_ = store::openStore("sqlite:///" + (dir_ / "a.db").string()).value();
    EXPECT_TRUE(store_->migrate());
  }
  ~AuditLogTest() override { std::filesystem::remove_all(dir_); }

  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "a.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << statement;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  core::ManualClock clock_{1'800'000'000};
};

TEST_F(AuditLogTest, RecordsChainAndWritesJsonLines) {
  const auto sink = dir_ / "audit.jsonl";
  {
    AuditLog log(store_->audit(), clock_, sink.string());
    log.record({"user.registered", "req-1", 1, 1, "127.0.0.1", "ua", {}});
    clock_.advance(5);
    log.record({"login.failed",
                "req-2",
                std::nullopt,
                1,
                "10.0.0.9",
                "ua",
                {{"reason", "wrong_password"}}});
  }
  auto report = verifyChain(store_->audit());
  ASSERT_TRUE(report);
  EXPECT_EQ(report->checked, 2);
  EXPECT_FALSE(report->first_bad_id);
  std::ifstream in(sink);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    EXPECT_NE(line.find("\"hash\""), std::string::npos);
  }
  EXPECT_EQ(lines, 2);
  auto rows = store_->audit().query({.limit = 5}).value();
  EXPECT_EQ(rows[0].time_ms, 1'800'000'005'000);
  EXPECT_EQ(toJson(rows[0]).at("detail").at("reason").as_string(), "wrong_password");
}

TEST_F(AuditLogTest, VerifyFindsEditedAndMissingRecords) {
  AuditLog log(store_->audit(), clock_, "");
  for (int i = 0; i < 4; ++i) log.record({"login.succeeded", "r", 1, 1, "127.0.0.1", "", {}});
  sql("DROP TRIGGER audit_no_update");
  sql("UPDATE audit_events SET detail='{\"reason\":\"forged\"}' WHERE id=3");
  auto edited = verifyChain(store_->audit()).value();
  ASSERT_TRUE(edited.first_bad_id);
  EXPECT_EQ(*edited.first_bad_id, 3);
  EXPECT_NE(edited.problem.find("altered"), std::string::npos);
}

TEST_F(AuditLogTest, VerifyFindsADeletedMiddleRecord) {
  AuditLog log(store_->audit(), clock_, "");
  for (int i = 0; i < 3; ++i) log.record({"logout", "r", 1, 1, "", "", {}});
  sql("DROP TRIGGER audit_no_delete");
  sql("DELETE FROM audit_events WHERE id=2");
  auto report = verifyChain(store_->audit()).value();
  ASSERT_TRUE(report.first_bad_id);
  EXPECT_NE(report.problem.find("missing"), std::string::npos);
}

TEST_F(AuditLogTest, RevocationListPurgesExpiredEntries) {
  auth::RevocationList list(store_->revocations());
  ASSERT_TRUE(list.revoke("a", 100));
  ASSERT_TRUE(list.revoke("b", 300));
  EXPECT_TRUE(list.isRevoked("a"));
  EXPECT_EQ(list.purge(200), 1U);
  EXPECT_FALSE(list.isRevoked("a"));
  EXPECT_TRUE(list.isRevoked("b"));
  auth::RevocationList reloaded(store_->revocations());
  ASSERT_TRUE(reloaded.load(200));
  EXPECT_EQ(reloaded.size(), 1U);
}

TEST_F(AuditLogTest, UserCacheFollowsTheChangeLog) {
  auth::UserCache cache(store_->users());
  auto user = store_->users().create({"c@example.com", "cached", "", "user", true}).value();
  ASSERT_TRUE(cache.sync());
  EXPECT_EQ(cache.get(user.id).value()->role, "user");
  // A change by another writer (the CLI, another node) reaches the cache at the next sync.
  sql("UPDATE users SET role='moderator' WHERE id=" + std::to_string(user.id));
  EXPECT_EQ(cache.get(user.id).value()->role, "user");
  ASSERT_TRUE(cache.sync());
  EXPECT_EQ(cache.get(user.id).value()->role, "moderator");
  sql("DELETE FROM users WHERE id=" + std::to_string(user.id));
  ASSERT_TRUE(cache.sync());
  EXPECT_FALSE(cache.get(user.id).value());
}

}  // namespace
}  // namespace gatehouse::audit
