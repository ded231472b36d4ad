#include "audit/audit_log.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <boost/json/parse.hpp>
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

  static crypto::HmacKey key(std::string secret = std::string(32, 'k')) {
    return crypto::HmacKey::create(crypto::Digest::Sha256, std::move(secret)).value();
  }

  // What a writer of the table without the key can do: rewrite rows and compute every hash
  // (and prev_hash) from `from` on again, as `gatehouse audit verify` without keys checked them.
  void rechain(std::int64_t from) {
    auto rows = store_->audit().query({.limit = 1000}).value();
    std::reverse(rows.begin(), rows.end());
    std::string prev = from == 1 ? std::string(64, '0') : rows[from - 2].hash;
    for (auto& r : rows) {
      if (r.id < from) continue;
      r.prev_hash = prev;
      r.hash = sealRecord(r);
      sql("UPDATE audit_events SET prev_hash='" + r.prev_hash + "', hash='" + r.hash +
          "' WHERE id=" + std::to_string(r.id));
      prev = r.hash;
    }
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  core::ManualClock clock_{1'800'000'000};
};

TEST_F(AuditLogTest, RecordsChainAndWritesJsonLines) {
  const auto sink = dir_ / "audit.jsonl";
  {
    AuditLog log(store_->audit(), clock_, sink.string(), key());
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
  const auto k = key();
  auto report = verifyChain(store_->audit(), {.key = &k});
  ASSERT_TRUE(report);
  EXPECT_EQ(report->checked, 2);
  EXPECT_EQ(report->keyed, 2);
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

// An outside attack: a user agent's U+2028, NEL and C1 controls went raw into the JSON-lines
// copy (valid JSON, but 1,117 lines for 1,115 records to a reader splitting at them), and U+202E
// reversed it on a terminal. They are written as \u escapes: the same JSON once parsed.
TEST_F(AuditLogTest, TheJsonLinesCopyEscapesWhatHidesOrReordersText) {
  const auto sink = dir_ / "audit.jsonl";
  // U+202E, U+2028, NEL (U+0085), CSI (U+009B), a tag letter (U+E0041), then readable text.
  const std::string agent =
      "bidi\u202egnp.exe\u2028NEXT\xc2\x85NEL\xc2\x9b"
      "31m\U000E0041 caf\u00e9 \U0001F600";
  {
    AuditLog log(store_->audit(), clock_, sink.string(), key());
    log.record({"login.failed", "req-1", std::nullopt, 1, "127.0.0.1", agent, {}});
  }
  std::ifstream in(sink);
  const std::string line((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line";
  for (const char* raw : {"\u202e", "\u2028", "\xc2\x85", "\xc2\x9b", "\U000E0041"})
    EXPECT_EQ(line.find(raw), std::string::npos) << raw;
  for (const char* escaped : {"\\u202e", "\\u2028", "\\u0085", "\\u009b", "\\udb40\\udc41"})
    EXPECT_NE(line.find(escaped), std::string::npos) << escaped << " in " << line;
  EXPECT_NE(line.find("caf\u00e9 \U0001F600"), std::string::npos);  // readable text stays
  const auto parsed = boost::json::parse(line).as_object();
  EXPECT_EQ(parsed.at("user_agent").as_string(), agent);
}

// What is not well-formed UTF-8 is copied byte for byte, never read as another code point (a
// review: "\xC2@" became \u0080 and lost the '@'); the records are UTF-8, so this is a guard.
TEST(EscapeHidden, MalformedBytesAreCopiedAsTheyAre) {
  for (const std::string& bad :
       {std::string("\xC2@"), std::string("\xE0\x80\x80"), std::string("\xED\xA0\x80"),
        std::string("\xF4\x90\x80\x80"), std::string("\xE2\x80")}) {
    EXPECT_EQ(escapeHidden("\"" + bad + "\""), "\"" + bad + "\"");
  }
  EXPECT_EQ(escapeHidden("a\xE2\x80\xA8"
                         "b"),
            "a\\u2028b");
}

TEST_F(AuditLogTest, VerifyFindsEditedAndMissingRecords) {
  AuditLog log(store_->audit(), clock_, "", std::nullopt);
  for (int i = 0; i < 4; ++i) log.record({"login.succeeded", "r", 1, 1, "127.0.0.1", "", {}});
  sql("DROP TRIGGER audit_no_update");
  sql("UPDATE audit_events SET detail='{\"reason\":\"forged\"}' WHERE id=3");
  auto edited = verifyChain(store_->audit()).value();
  ASSERT_TRUE(edited.first_bad_id);
  EXPECT_EQ(*edited.first_bad_id, 3);
  EXPECT_NE(edited.problem.find("altered"), std::string::npos);
}

TEST_F(AuditLogTest, VerifyFindsADeletedMiddleRecord) {
  AuditLog log(store_->audit(), clock_, "", std::nullopt);
  for (int i = 0; i < 3; ++i) log.record({"logout", "r", 1, 1, "", "", {}});
  sql("DROP TRIGGER audit_no_delete");
  sql("DELETE FROM audit_events WHERE id=2");
  auto report = verifyChain(store_->audit()).value();
  ASSERT_TRUE(report.first_bad_id);
  EXPECT_NE(report.problem.find("missing"), std::string::npos);
}

// Found by an outside attack on the plain SHA-256 chain: a writer who may drop the triggers
// rewrote a row and computed the hashes again, and `audit verify` said intact. Each record's hash
// is now keyed under a key from the master secret, which the database does not hold.
TEST_F(AuditLogTest, ARowRewrittenWithItsHashesComputedAgainFailsItsKey) {
  const auto k = key();
  {
    AuditLog log(store_->audit(), clock_, "", key());
    for (int i = 0; i < 4; ++i) log.record({"login.succeeded", "r", 1, 1, "127.0.0.1", "", {}});
  }
  ASSERT_FALSE(verifyChain(store_->audit(), {.key = &k}).value().first_bad_id);
  sql("DROP TRIGGER audit_no_update");
  sql("UPDATE audit_events SET client_ip='10.6.6.6' WHERE id=2");
  rechain(2);
  // The hashes alone are whole again (what the plain chain checked); without the key nothing
  // past them can be said; with it, record 2 gives the rewrite away.
  auto unkeyed = verifyChain(store_->audit()).value();
  EXPECT_EQ(unkeyed.first_bad_id, std::optional<std::int64_t>(1));
  EXPECT_NE(unkeyed.problem.find("no key to check it with"), std::string::npos) << unkeyed.problem;
  auto report = verifyChain(store_->audit(), {.key = &k}).value();
  ASSERT_TRUE(report.first_bad_id);
  EXPECT_EQ(*report.first_bad_id, 2);
  EXPECT_NE(report.problem.find("key does not match"), std::string::npos) << report.problem;
  // Another master secret's key matches none of them.
  const auto other = key(std::string(32, 'o'));
  EXPECT_EQ(verifyChain(store_->audit(), {.key = &other}).value().first_bad_id,
            std::optional<std::int64_t>(1));
}

TEST_F(AuditLogTest, KeysStrippedFromRecordsAreFoundAndOnlyTheOperatorsNumberExcusesThem) {
  const auto k = key();
  {
    // Written before keying (or before the first start made a master secret): no key.
    AuditLog old(store_->audit(), clock_, "", std::nullopt);
    for (int i = 0; i < 2; ++i) old.record({"user.registered", "r", 1, 1, "", "", {}});
    AuditLog log(store_->audit(), clock_, "", key());
    for (int i = 0; i < 3; ++i) log.record({"logout", "r", 1, 1, "", "", {}});
  }
  auto strict = verifyChain(store_->audit(), {.key = &k}).value();
  ASSERT_TRUE(strict.first_bad_id);
  EXPECT_EQ(strict.unkeyed, (std::vector<std::int64_t>{1, 2}));
  auto excused = verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 3}).value();
  EXPECT_FALSE(excused.first_bad_id) << excused.problem;
  EXPECT_EQ(excused.keyed, 3);
  // A writer strips the keys from the end and rewrites it: the chain of hashes is whole, and the
  // records from the operator's number on carry no key.
  sql("DROP TRIGGER audit_no_update");
  sql("UPDATE audit_events SET mac='', detail='{\"forged\":true}' WHERE id>=4");
  rechain(4);
  auto stripped = verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 3}).value();
  ASSERT_TRUE(stripped.first_bad_id);
  EXPECT_EQ(*stripped.first_bad_id, 4);
  EXPECT_EQ(stripped.unkeyed_count, 2);
  EXPECT_NE(stripped.problem.find("carry no key"), std::string::npos) << stripped.problem;
  // Every key stripped: the walk still finds them all, and goes on to the end.
  sql("UPDATE audit_events SET mac=''");
  EXPECT_EQ(verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 3}).value().unkeyed,
            (std::vector<std::int64_t>{3, 4, 5}));
}

// Commands run before the first start have no master secret: their records carry no key, and
// nothing in the database may excuse them (the review: a vouching record written by the start
// that makes the master secret was also written after the ring was emptied, or its master
// imported again from an old file). The start names the number; only the operator's excuses.
TEST_F(AuditLogTest, RecordsWithoutAKeyAreExcusedOnlyByTheOperatorsNumber) {
  const auto k = key();
  {
    AuditLog commands(store_->audit(), clock_, "", std::nullopt);
    commands.record({"user.created", "r", std::nullopt, 1, "", "", {}});
    commands.record({"user.created", "r", std::nullopt, 2, "", "", {}});
    EXPECT_EQ(commands.unkeyedEnd(), std::optional<std::int64_t>(2));
    AuditLog first_start(store_->audit(), clock_, "", key());
    first_start.record({"login.succeeded", "r", 1, 1, "", "", {}});
    EXPECT_EQ(first_start.unkeyedEnd(), std::nullopt);
  }
  EXPECT_EQ(verifyChain(store_->audit(), {.key = &k}).value().unkeyed,
            (std::vector<std::int64_t>{1, 2}));
  auto excused = verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 3}).value();
  EXPECT_FALSE(excused.first_bad_id) << excused.problem;
  EXPECT_EQ(excused.keyed, 1);
  EXPECT_EQ(excused.uncovered, 0);
}

// An outside attack: the last record rewritten, its key dropped, and a number passed beyond it.
// The number excuses a missing key only where a later keyed record's key covers the hash.
TEST_F(AuditLogTest, TheOperatorsNumberNeverExcusesUnkeyedRecordsAtTheEnd) {
  const auto k = key();
  {
    AuditLog commands(store_->audit(), clock_, "", std::nullopt);
    commands.record({"user.created", "r", std::nullopt, 1, "", "", {}});
    // Before any keyed record: nothing else there is, and the number is the operator's word.
    auto before = verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 2}).value();
    EXPECT_FALSE(before.first_bad_id) << before.problem;
    EXPECT_EQ(before.uncovered, 1);
    AuditLog log(store_->audit(), clock_, "", key());
    for (int i = 0; i < 3; ++i) log.record({"login.failed", "r", 1, 1, "", "", {}});
  }
  ASSERT_FALSE(verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 2}).value().first_bad_id);
  sql("DROP TRIGGER audit_no_update");
  sql("UPDATE audit_events SET mac='', type='user.import' WHERE id=4");
  rechain(4);
  auto report = verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 5}).value();
  ASSERT_TRUE(report.first_bad_id);
  EXPECT_EQ(*report.first_bad_id, 4);
  EXPECT_EQ(report.uncovered, 1);
  EXPECT_NE(report.problem.find("no keyed record follows them"), std::string::npos)
      << report.problem;
  // A number beyond the end is no number the log ever reached.
  auto beyond = verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 100}).value();
  ASSERT_TRUE(beyond.first_bad_id);
  EXPECT_NE(beyond.problem.find("below --unkeyed-before 100"), std::string::npos) << beyond.problem;
  // Without the number it is an unkeyed record like any other.
  EXPECT_EQ(verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 2}).value().unkeyed,
            (std::vector<std::int64_t>{4}));
  // Every key stripped and a number beyond the end: a number the log never reached is refused.
  sql("UPDATE audit_events SET mac=''");
  rechain(1);
  auto all = verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 100}).value();
  ASSERT_TRUE(all.first_bad_id);
  EXPECT_NE(all.problem.find("below --unkeyed-before 100"), std::string::npos) << all.problem;
  // One past the last record is the largest a kept number can be.
  EXPECT_EQ(verifyChain(store_->audit(), {.key = &k, .unkeyed_before = 5})
                .value()
                .problem.find("below --unkeyed-before"),
            std::string::npos);
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
