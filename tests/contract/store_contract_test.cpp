// One suite for every storage backend: SQLite always; others join when their URL is set.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <libpq-fe.h>
#include <thread>

#include <gtest/gtest.h>

#include "store/store.hpp"

namespace gatehouse::store {
namespace {

std::string freshSqliteUrl() {
  static std::atomic<int> counter{0};
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("gatehouse-contract-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  return "sqlite:///" + (dir / "test.db").string();
}

// A new, empty database on the server `base_url` points at, so each test starts from nothing.
std::string freshPostgresUrl(const std::string& base_url) {
  static std::atomic<int> counter{0};
  const std::string name =
      "gh_contract_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  PGconn* admin = PQconnectdb(base_url.c_str());
  EXPECT_EQ(PQstatus(admin), CONNECTION_OK) << PQerrorMessage(admin);
  PGresult* r = PQexec(admin, ("CREATE DATABASE " + name).c_str());
  EXPECT_EQ(PQresultStatus(r), PGRES_COMMAND_OK) << PQerrorMessage(admin);
  PQclear(r);
  PQfinish(admin);
  return base_url.substr(0, base_url.rfind('/') + 1) + name;
}

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    url_ = GetParam() == "sqlite" ? freshSqliteUrl() : freshPostgresUrl(GetParam());
    auto s = openStore(url_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    auto v = store_->migrate();
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_GE(*v, 1);
  }
  User make(const std::string& email, const std::string& name, const std::string& role = "user") {
    auto u = store_->users().create({email, name, "$2b$10$hash", role, true});
    EXPECT_TRUE(u) << (u ? "" : u.error().message);
    return u ? *u : User{};
  }
  std::string url_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreContract, CreatesAndFindsUsersCaseInsensitively) {
  const User u = make("Ann@Example.com", "Ann");
  EXPECT_GT(u.id, 0);
  EXPECT_GT(u.created_at, 0);
  auto by_email = store_->users().findByEmail("ann@example.COM");
  ASSERT_TRUE(by_email && *by_email);
  EXPECT_EQ((*by_email)->id, u.id);
  EXPECT_EQ((*by_email)->email, "Ann@Example.com");
  auto by_name = store_->users().findByUsername("ANN");
  ASSERT_TRUE(by_name && *by_name);
  EXPECT_EQ((*by_name)->password_hash, "$2b$10$hash");
  auto none = store_->users().findById(u.id + 100);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_P(StoreContract, UniqueEmailAndUsername) {
  make("a@example.com", "alpha");
  auto dup_email = store_->users().create({"A@EXAMPLE.COM", "other", "", "user", true});
  ASSERT_FALSE(dup_email);
  EXPECT_EQ(dup_email.error().code, core::Errc::AlreadyExists);
  EXPECT_EQ(dup_email.error().message, "email");
  auto dup_name = store_->users().create({"b@example.com", "ALPHA", "", "user", true});
  ASSERT_FALSE(dup_name);
  EXPECT_EQ(dup_name.error().message, "username");
}

TEST_P(StoreContract, ConcurrentCreatesOfOneEmailGiveExactlyOne) {
  std::atomic<int> ok{0};
  std::atomic<int> exists{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      auto r = store_->users().create(
          {"race@example.com", "racer" + std::to_string(i), "", "user", true});
      if (r)
        ++ok;
      else if (r.error().code == core::Errc::AlreadyExists)
        ++exists;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(exists.load(), 15);
}

TEST_P(StoreContract, ListsCountsUpdatesAndRemoves) {
  const User a = make("a@example.com", "alpha");
  make("b@example.com", "bravo");
  make("c@example.com", "charlie");
  EXPECT_EQ(store_->users().count().value(), 3);
  auto page = store_->users().list(2, 1);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->size(), 2U);
  EXPECT_EQ((*page)[0].username, "bravo");
  UserPatch p;
  p.username = "alfa";
  p.is_active = false;
  auto updated = store_->users().update(a.id, p, "admin");
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->username, "alfa");
  EXPECT_FALSE(updated->is_active);
  UserPatch clash;
  clash.email = "b@example.com";
  auto clashed = store_->users().update(a.id, clash, "admin");
  ASSERT_FALSE(clashed);
  EXPECT_EQ(clashed.error().code, core::Errc::AlreadyExists);
  EXPECT_EQ(store_->users().update(9999, p, "admin").error().code, core::Errc::NotFound);
  // A rehash replaces only the hash it verified: never one a password change wrote meanwhile.
  EXPECT_EQ(store_->users().replacePasswordHash(a.id, "$2b$10$other", "$argon2id$new").error().code,
            core::Errc::NotFound);
  EXPECT_TRUE(store_->users().replacePasswordHash(a.id, "$2b$10$hash", "$argon2id$new"));
  EXPECT_EQ(store_->users().findById(a.id).value()->password_hash, "$argon2id$new");
  EXPECT_TRUE(store_->users().remove(a.id, "admin"));
  EXPECT_EQ(store_->users().remove(a.id, "admin").error().code, core::Errc::NotFound);
}

TEST_P(StoreContract, NeverRemovesOrDemotesTheLastActiveAdmin) {
  const User root = make("root@example.com", "root", "admin");
  UserPatch demote;
  demote.role = "user";
  EXPECT_EQ(store_->users().update(root.id, demote, "admin").error().code,
            core::Errc::FailedPrecondition);
  UserPatch deactivate;
  deactivate.is_active = false;
  EXPECT_EQ(store_->users().update(root.id, deactivate, "admin").error().code,
            core::Errc::FailedPrecondition);
  EXPECT_EQ(store_->users().remove(root.id, "admin").error().code, core::Errc::FailedPrecondition);
  const User second = make("two@example.com", "two", "admin");
  EXPECT_TRUE(store_->users().update(root.id, demote, "admin"));
  EXPECT_EQ(store_->users().remove(second.id, "admin").error().code,
            core::Errc::FailedPrecondition);
}

TEST_P(StoreContract, RefreshRotationIsCompareAndSetWithReuseDetection) {
  const User u = make("s@example.com", "sess");
  const std::int64_t now = 1'800'000'000;
  ASSERT_TRUE(store_->sessions().create(
      {"sid1", u.id, "jti-1", "ua", "127.0.0.1", now, now, now + 3600, false}));
  EXPECT_EQ(store_->sessions().rotate("sid1", "jti-1", "jti-2", now + 1, now + 7200).value(),
            RotateOutcome::Rotated);
  // Replaying the rotated token revokes the family; then even the current one is dead.
  EXPECT_EQ(store_->sessions().rotate("sid1", "jti-1", "jti-3", now + 2, now + 7200).value(),
            RotateOutcome::Reused);
  EXPECT_EQ(store_->sessions().rotate("sid1", "jti-2", "jti-4", now + 3, now + 7200).value(),
            RotateOutcome::Inactive);
  EXPECT_TRUE(store_->sessions().find("sid1").value()->revoked);
  EXPECT_EQ(store_->sessions().rotate("nope", "x", "y", now, now + 1).value(),
            RotateOutcome::Inactive);
}

TEST_P(StoreContract, ConcurrentRotationsOfOneTokenGiveExactlyOne) {
  const User u = make("c@example.com", "conc");
  const std::int64_t now = 1'800'000'000;
  ASSERT_TRUE(
      store_->sessions().create({"sidc", u.id, "jti-0", "", "", now, now, now + 3600, false}));
  std::atomic<int> rotated{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 20; ++i) {
    threads.emplace_back([&, i] {
      auto r = store_->sessions().rotate("sidc", "jti-0", "next-" + std::to_string(i), now + 1,
                                         now + 3600);
      if (r && *r == RotateOutcome::Rotated) ++rotated;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(rotated.load(), 1);
}

TEST_P(StoreContract, ExpiredSessionsDoNotRotateAndListsSkipThem) {
  const User u = make("e@example.com", "expiry");
  const std::int64_t now = 1'800'000'000;
  ASSERT_TRUE(
      store_->sessions().create({"old", u.id, "j", "", "", now - 100, now - 100, now - 1, false}));
  ASSERT_TRUE(store_->sessions().create({"new", u.id, "k", "", "", now, now, now + 100, false}));
  EXPECT_EQ(store_->sessions().rotate("old", "j", "j2", now, now + 10).value(),
            RotateOutcome::Inactive);
  auto live = store_->sessions().listForUser(u.id, now);
  ASSERT_TRUE(live);
  ASSERT_EQ(live->size(), 1U);
  EXPECT_EQ((*live)[0].id, "new");
  EXPECT_TRUE(store_->sessions().revokeAllForUser(u.id));
  EXPECT_TRUE(store_->sessions().listForUser(u.id, now)->empty());
}

TEST_P(StoreContract, DeletingAUserDeletesItsSessions) {
  const User u = make("d@example.com", "deleted");
  ASSERT_TRUE(store_->sessions().create({"sd", u.id, "j", "", "", 1, 1, 4'000'000'000, false}));
  ASSERT_TRUE(store_->users().remove(u.id, "admin"));
  EXPECT_FALSE(store_->sessions().find("sd").value());
}

TEST_P(StoreContract, RevocationsExpire) {
  auto& r = store_->revocations();
  ASSERT_TRUE(r.add("a", 100));
  ASSERT_TRUE(r.add("b", 300));
  ASSERT_TRUE(r.add("b", 300));  // idempotent
  auto active = r.active(200);
  ASSERT_TRUE(active);
  ASSERT_EQ(active->size(), 1U);
  EXPECT_EQ((*active)[0].first, "b");
  ASSERT_TRUE(r.purgeExpired(200));
  EXPECT_EQ(r.active(0).value().size(), 1U);
}

TEST_P(StoreContract, PasswordChangeSetsTheTokenWatermark) {
  const User u = make("w@example.com", "watermark");
  EXPECT_EQ(u.tokens_valid_after, 0);
  ASSERT_TRUE(store_->users().changePassword(u.id, "$2b$12$new", 1'800'000'123, false));
  auto after = store_->users().findById(u.id).value();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->password_hash, "$2b$12$new");
  EXPECT_EQ(after->tokens_valid_after, 1'800'000'123);
  ASSERT_TRUE(store_->users().setTokensValidAfter(u.id, 1'800'000'999));
  EXPECT_EQ(store_->users().findByEmail("w@example.com").value()->tokens_valid_after,
            1'800'000'999);
  EXPECT_EQ(store_->users().findByUsername("watermark").value()->tokens_valid_after, 1'800'000'999);
  EXPECT_EQ(store_->users().list(10, 0).value().at(0).tokens_valid_after, 1'800'000'999);
  EXPECT_EQ(store_->users().changePassword(9999, "x", 1, false).error().code, core::Errc::NotFound);
}

TEST_P(StoreContract, PasswordChangeEndsEverySessionInTheSameTransaction) {
  const User u = make("pc@example.com", "pwchange");
  const std::int64_t now = 1'800'000'000;
  for (const char* id : {"pc1", "pc2"}) {
    ASSERT_TRUE(
        store_->sessions().create({id, u.id, "j", "ua", "ip", now, now, now + 3600, false}));
  }
  ASSERT_TRUE(store_->users().changePassword(u.id, "$2b$12$new", now + 5, false));
  EXPECT_TRUE(store_->sessions().find("pc1").value()->revoked);
  EXPECT_TRUE(store_->sessions().find("pc2").value()->revoked);
  EXPECT_TRUE(store_->sessions().listForUser(u.id, now).value().empty());
}

TEST_P(StoreContract, DeactivationEndsSessionsKeysAndTokensInOneTransaction) {
  const User u = make("da@example.com", "deact");
  const User other = make("ot@example.com", "bystander");
  const std::int64_t now = 1'800'000'000;
  ASSERT_TRUE(
      store_->sessions().create({"ds1", u.id, "j", "ua", "ip", now, now, now + 3600, false}));
  ASSERT_TRUE(
      store_->sessions().create({"ds2", other.id, "j", "ua", "ip", now, now, now + 3600, false}));
  ApiKey k;
  k.user_id = u.id;
  k.name = "k";
  k.public_id = "deactkey";
  k.secret_hash = std::string(64, 'b');
  k.created_at = now;
  ASSERT_TRUE(store_->apiKeys().create(k));
  UserPatch patch;
  patch.is_active = false;
  patch.deactivated_at = now + 7;
  auto updated = store_->users().update(u.id, patch, "admin");
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_FALSE(updated->is_active);
  EXPECT_EQ(updated->tokens_valid_after, now + 7);
  EXPECT_EQ(store_->users().findById(u.id).value()->tokens_valid_after, now + 7);
  EXPECT_TRUE(store_->sessions().find("ds1").value()->revoked);
  EXPECT_FALSE(store_->sessions().find("ds2").value()->revoked);  // nobody else's
  EXPECT_TRUE(store_->apiKeys().findByPublicId("deactkey").value()->revoked);
  // Reactivation revives nothing.
  UserPatch back;
  back.is_active = true;
  ASSERT_TRUE(store_->users().update(u.id, back, "admin"));
  EXPECT_TRUE(store_->apiKeys().findByPublicId("deactkey").value()->revoked);
  EXPECT_TRUE(store_->sessions().find("ds1").value()->revoked);
}

TEST_P(StoreContract, ConflictsAreTyped) {
  make("ty@example.com", "typed");
  auto email = store_->users().create({"TY@example.com", "typed2", "h", "user", true});
  ASSERT_FALSE(email);
  EXPECT_EQ(email.error().conflict, core::Conflict::Email);
  auto name = store_->users().create({"ty2@example.com", "TYPED", "h", "user", true});
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().conflict, core::Conflict::Username);
}

TEST_P(StoreContract, ChangeLogRecordsUpdatesAndDeletesFromAnyWriter) {
  auto start = store_->users().changesSince(-1);
  ASSERT_TRUE(start);
  const User a = make("a@example.com", "alpha");
  const User b = make("b@example.com", "bravo");
  UserPatch p;
  p.role = "moderator";
  ASSERT_TRUE(store_->users().update(a.id, p, "admin"));
  ASSERT_TRUE(store_->users().remove(b.id, "admin"));
  auto changes = store_->users().changesSince(start->seq);
  ASSERT_TRUE(changes);
  EXPECT_EQ(changes->user_ids, (std::vector<std::int64_t>{a.id, b.id}));
  EXPECT_GT(changes->seq, start->seq);
  EXPECT_TRUE(store_->users().changesSince(changes->seq).value().user_ids.empty());
}

TEST_P(StoreContract, RotationGraceWindowSparesTheFamily) {
  const User u = make("g@example.com", "grace");
  const std::int64_t now = 1'800'000'000;
  ASSERT_TRUE(
      store_->sessions().create({"sg", u.id, "j1", "", "", now, now, now + 3600, false, "", 0}));
  ASSERT_EQ(store_->sessions().rotate("sg", "j1", "j2", now, now + 3600, 5).value(),
            RotateOutcome::Rotated);
  EXPECT_EQ(store_->sessions().rotate("sg", "j1", "jx", now + 3, now + 3600, 5).value(),
            RotateOutcome::GraceRace);
  EXPECT_EQ(store_->sessions().rotate("sg", "j2", "j3", now + 4, now + 3600, 5).value(),
            RotateOutcome::Rotated);
  EXPECT_EQ(store_->sessions().find("sg").value()->previous_jti, "j2");
  EXPECT_EQ(store_->sessions().rotate("sg", "j2", "jy", now + 20, now + 3600, 5).value(),
            RotateOutcome::Reused);
  EXPECT_EQ(store_->sessions().rotate("sg", "j3", "j4", now + 21, now + 3600, 5).value(),
            RotateOutcome::Inactive);
}

TEST_P(StoreContract, AuditAppendsChainAndRefusesEdits) {
  auto& a = store_->audit();
  const auto seal = [](const AuditRecord& r) {
    return "h" + std::to_string(r.id) + ":" + r.prev_hash.substr(0, 3);
  };
  AuditRecord first;
  first.time_ms = 1'800'000'000'000;
  first.type = "login.failed";
  first.subject_id = 7;
  first.detail = R"({"reason":"wrong_password"})";
  auto r1 = a.append(first, seal);
  ASSERT_TRUE(r1) << r1.error().message;
  EXPECT_EQ(r1->id, 1);
  EXPECT_EQ(r1->prev_hash, std::string(64, '0'));
  AuditRecord second = first;
  second.type = "login.succeeded";
  second.actor_id = 7;
  second.time_ms += 86'400'000;
  auto r2 = a.append(second, seal);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->id, 2);
  EXPECT_EQ(r2->prev_hash, r1->hash);
  auto newest = a.query({.limit = 10});
  ASSERT_TRUE(newest);
  ASSERT_EQ(newest->size(), 2U);
  EXPECT_EQ((*newest)[0].type, "login.succeeded");
  EXPECT_EQ(a.query({.type = "login.failed"}).value().size(), 1U);
  EXPECT_EQ(a.query({.user_id = 7}).value().size(), 2U);
  EXPECT_EQ(a.query({.since_ms = 1'800'000'000'001}).value().size(), 1U);
  EXPECT_EQ(a.countSince("login.failed", 0).value(), 1);
  EXPECT_EQ(a.distinctSubjectsSince("login.succeeded", 0).value(), 1);
  EXPECT_EQ(a.perDaySince("login.failed", 0).value().at(0).day, "2027-01-15");
  std::vector<std::int64_t> ids;
  ASSERT_TRUE(a.scan([&](const AuditRecord& r) {
    ids.push_back(r.id);
    return true;
  }));
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2}));
}

TEST_P(StoreContract, ApiKeysStoreHashesScopesRevocationAndAChangeLog) {
  auto& keys = store_->apiKeys();
  const User u = make("k@example.com", "keyholder");
  const User other = make("o@example.com", "other");
  const auto start = keys.changesSince(-1).value().seq;
  ApiKey k;
  k.user_id = u.id;
  k.name = "ci";
  k.public_id = "pub1";
  k.secret_hash = std::string(64, 'a');
  k.scopes = {"users:read", "audit:read"};
  k.created_at = 1'800'000'000;
  auto created = keys.create(k);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_GT(created->id, 0);
  k.expires_at = 1'900'000'000;
  k.public_id = "pub2";
  k.scopes.clear();
  auto second = keys.create(k);
  ASSERT_TRUE(second);
  auto dup = keys.create(k);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, core::Errc::AlreadyExists);
  auto found = keys.findByPublicId("pub1").value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->scopes, (std::vector<std::string>{"users:read", "audit:read"}));
  EXPECT_FALSE(found->expires_at);
  EXPECT_FALSE(found->last_used_at);
  EXPECT_EQ(keys.findById(second->id).value()->expires_at, 1'900'000'000);
  EXPECT_TRUE(keys.findById(second->id).value()->scopes.empty());
  EXPECT_FALSE(keys.findByPublicId("nope").value());
  ASSERT_TRUE(keys.touch(created->id, 1'800'000'100));
  EXPECT_EQ(keys.findById(created->id).value()->last_used_at, 1'800'000'100);
  ASSERT_EQ(keys.listForUser(u.id).value().size(), 2U);
  EXPECT_EQ(keys.listForUser(u.id).value().at(0).id, second->id);  // newest first
  EXPECT_EQ(keys.revoke(created->id, other.id).error().code, core::Errc::NotFound);
  ASSERT_TRUE(keys.revoke(created->id, u.id));
  EXPECT_EQ(keys.revoke(created->id, u.id).error().code, core::Errc::NotFound);  // once
  EXPECT_TRUE(keys.findById(created->id).value()->revoked);
  EXPECT_EQ(keys.listForUser(u.id).value().size(), 1U);
  ASSERT_TRUE(store_->users().remove(u.id, "admin"));
  EXPECT_FALSE(keys.findById(second->id).value());  // deleted with the owner
  const auto changes = keys.changesSince(start).value();
  // Revoked, then both deleted with their owner.
  EXPECT_EQ(changes.key_ids, (std::vector<std::int64_t>{created->id, created->id, second->id}));
}

TEST_P(StoreContract, IdentitiesAreUniqueAndNeverRemoveTheLastWayIn) {
  auto& ids = store_->identities();
  Identity google{0, 0, "google", "https://accounts.google.com", "sub-1", "x@example.com", 0};
  auto user = ids.createUserWithIdentity({"x@example.com", "xuser", "", "user", true}, google);
  ASSERT_TRUE(user) << user.error().message;
  auto again = ids.createUserWithIdentity({"y@example.com", "yuser", "", "user", true}, google);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "identity");
  EXPECT_FALSE(store_->users().findByEmail("y@example.com").value());  // rolled back together
  auto taken = ids.createUserWithIdentity({"X@example.com", "zuser", "", "user", true},
                                          {0, 0, "oidc", "https://idp", "s", "", 0});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().message, "email");
  auto found = ids.find("https://accounts.google.com", "sub-1").value();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user_id, user->id);
  EXPECT_FALSE(ids.find("https://accounts.google.com", "sub-2").value());
  EXPECT_EQ(ids.removeUnlessLast(found->id, user->id).error().code, core::Errc::FailedPrecondition);
  auto second = ids.create({0, user->id, "oidc", "https://idp", "s2", "", 1});
  ASSERT_TRUE(second);
  EXPECT_EQ(ids.create({0, user->id, "oidc", "https://idp", "s2", "", 1}).error().message,
            "identity");
  EXPECT_EQ(ids.listForUser(user->id).value().size(), 2U);
  EXPECT_EQ(ids.removeUnlessLast(second->id, user->id + 1).error().code, core::Errc::NotFound);
  ASSERT_TRUE(ids.removeUnlessLast(second->id, user->id));
  ASSERT_TRUE(store_->users().replacePasswordHash(user->id, "", "$2b$12$x"));
  EXPECT_TRUE(ids.removeUnlessLast(found->id, user->id));  // a password remains
  EXPECT_TRUE(ids.listForUser(user->id).value().empty());
}

TEST_P(StoreContract, FactorsConfirmOnceAndKeepMfaEnabledTrue) {
  const User u = make("mfa@example.com", "mfauser");
  const User other = make("other@example.com", "otheruser");
  auto seq = store_->users().changesSince(-1).value().seq;
  auto f = store_->mfa().create({0, u.id, "totp", "phone", "sealed-1"}, 0, 5);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_FALSE(f->confirmed);
  EXPECT_FALSE(store_->users().findById(u.id).value()->mfa_enabled);  // not before confirmation
  // Only the owner confirms, and only once; the first factor stores the recovery codes.
  EXPECT_EQ(store_->mfa().confirm(f->id, other.id, 100, 1, {"h1"}).error().code,
            core::Errc::NotFound);
  auto first = store_->mfa().confirm(f->id, u.id, 100, 1, {"h1", "h2"});
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(*first);
  EXPECT_EQ(store_->mfa().confirm(f->id, u.id, 101, 1, {}).error().code, core::Errc::NotFound);
  EXPECT_TRUE(store_->users().findById(u.id).value()->mfa_enabled);
  // The change reaches other nodes' caches through the change log.
  auto changes = store_->users().changesSince(seq).value();
  EXPECT_NE(std::find(changes.user_ids.begin(), changes.user_ids.end(), u.id),
            changes.user_ids.end());
  EXPECT_EQ(store_->mfa().recoveryCodesLeft(u.id).value(), 2);
  // A second factor keeps the codes.
  auto g = store_->mfa().create({0, u.id, "totp", "laptop", "sealed-2"}, 0, 5).value();
  EXPECT_FALSE(store_->mfa().confirm(g.id, u.id, 5, 1, {"x"}).value());
  EXPECT_EQ(store_->mfa().recoveryCodesLeft(u.id).value(), 2);
  auto list = store_->mfa().listForUser(u.id).value();
  ASSERT_EQ(list.size(), 2U);
  EXPECT_EQ(list[0].secret, "sealed-1");
  EXPECT_EQ(list[0].last_step, 100);
  // Removing one keeps MFA on; removing the last turns it off and drops the codes.
  EXPECT_EQ(store_->mfa().remove(g.id, other.id).error().code, core::Errc::NotFound);
  ASSERT_TRUE(store_->mfa().remove(g.id, u.id));
  EXPECT_TRUE(store_->users().findById(u.id).value()->mfa_enabled);
  ASSERT_TRUE(store_->mfa().remove(f->id, u.id));
  EXPECT_FALSE(store_->users().findById(u.id).value()->mfa_enabled);
  EXPECT_EQ(store_->mfa().recoveryCodesLeft(u.id).value(), 0);
}

TEST_P(StoreContract, TimeStepsAndRecoveryCodesAreSingleUseUnderRaces) {
  const User u = make("race@example.com", "raceuser");
  auto f = store_->mfa().create({0, u.id, "totp", "", "s"}, 0, 5).value();
  EXPECT_FALSE(store_->mfa().useStep(f.id, 200, 1).value());  // unconfirmed: never
  ASSERT_TRUE(store_->mfa().confirm(f.id, u.id, 100, 1, {"code-a", "code-b"}));
  EXPECT_FALSE(store_->mfa().useStep(f.id, 100, 2).value());  // the confirming step is spent
  EXPECT_FALSE(store_->mfa().useStep(f.id, 99, 2).value());   // and every earlier one
  // Eight racing uses of one step (as from several nodes): exactly one wins.
  std::atomic<int> wins{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (auto ok = store_->mfa().useStep(f.id, 101, 3); ok && *ok) ++wins;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(store_->mfa().find(f.id).value()->last_used_at, 3);
  wins = 0;
  threads.clear();
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (auto ok = store_->mfa().useRecoveryCode(u.id, "code-a", 4); ok && *ok) ++wins;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(store_->mfa().recoveryCodesLeft(u.id).value(), 1);
  EXPECT_FALSE(store_->mfa().useRecoveryCode(u.id, "unknown", 4).value());
  // New codes replace the old ones entirely.
  ASSERT_TRUE(store_->mfa().replaceRecoveryCodes(u.id, {"code-c"}));
  EXPECT_FALSE(store_->mfa().useRecoveryCode(u.id, "code-b", 5).value());
  EXPECT_TRUE(store_->mfa().useRecoveryCode(u.id, "code-c", 5).value());
}

TEST_P(StoreContract, FactorStateStaysBoundedAndResetsWhole) {
  const User u = make("bound@example.com", "bounduser");
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(store_->mfa().create({0, u.id, "totp", "", "s", false, 10}, 0, 3));
  // At the cap: refused, unless stale unconfirmed ones can go first.
  EXPECT_EQ(store_->mfa().create({0, u.id, "totp", "", "s", false, 20}, 0, 3).error().code,
            core::Errc::ResourceExhausted);
  ASSERT_TRUE(store_->mfa().create({0, u.id, "totp", "", "s", false, 20}, 11, 3));
  EXPECT_EQ(store_->mfa().listForUser(u.id).value().size(), 1U);
  auto f = store_->mfa().listForUser(u.id).value().front();
  ASSERT_TRUE(store_->mfa().confirm(f.id, u.id, 1, 1, {"c"}));
  EXPECT_EQ(store_->mfa().removeAll(u.id).value(), 1);
  EXPECT_FALSE(store_->users().findById(u.id).value()->mfa_enabled);
  EXPECT_EQ(store_->mfa().recoveryCodesLeft(u.id).value(), 0);
  EXPECT_TRUE(store_->mfa().listForUser(u.id).value().empty());
}

TEST_P(StoreContract, ConcurrentMigrationsFromSeveralProcessesApplyOnce) {
  // A database no node has migrated yet, and several nodes starting at once.
  url_ = GetParam() == "sqlite" ? freshSqliteUrl() : freshPostgresUrl(GetParam());
  std::vector<std::unique_ptr<Store>> nodes;
  for (int i = 0; i < 4; ++i) nodes.push_back(std::move(openStore(url_).value()));
  std::vector<core::Result<int>> versions(nodes.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    threads.emplace_back([&, i] { versions[i] = nodes[i]->migrate(); });
  for (auto& t : threads) t.join();
  const auto expected = store_->migrate().value();
  for (const auto& v : versions) {
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(*v, expected);
  }
  EXPECT_TRUE(nodes[0]->users().create({"m@example.com", "m", "", "user", true}));
}

TEST_P(StoreContract, MigrateIsIdempotentAndPingWorks) {
  auto again = store_->migrate();
  ASSERT_TRUE(again);
  EXPECT_TRUE(store_->ping());
}

std::vector<std::string> backends() {
  std::vector<std::string> out{"sqlite"};
  if (const char* pg = std::getenv("GATEHOUSE_TEST_POSTGRES_URL");
      pg != nullptr && *pg != '\0') {  // NOLINT(concurrency-mt-unsafe)
    out.emplace_back(pg);
  }
  return out;
}

std::string backendName(const ::testing::TestParamInfo<std::string>& param) {
  return param.param == "sqlite" ? "sqlite" : "postgres";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(backends()), backendName);

}  // namespace
}  // namespace gatehouse::store
