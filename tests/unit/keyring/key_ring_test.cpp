#include "keyring/key_ring.hpp"

#include <filesystem>
#include <unistd.h>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/base64url.hpp"
#include "crypto/aead.hpp"
#include "crypto/pkey.hpp"
#include "jose/jwt.hpp"

namespace gatehouse::keyring {
namespace {

using namespace std::chrono_literals;

// A secret as an old layout's file held one (64 bytes, many distinct values), told apart by `c`.
std::string secretLike(char c) { return std::string(54, c) + "0123456789"; }

class KeyRingTest : public ::testing::Test {
 protected:
  KeyRingTest()
      : dir_(std::filesystem::temp_directory_path() /
             ("gatehouse-keyring-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    std::filesystem::remove_all(dir_);
    store_ = store::openStore("sqlite:///" + (dir_ / "k.db").string()).value();
    EXPECT_TRUE(store_->migrate());
  }
  ~KeyRingTest() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<KeyRing> ring(jose::Algorithm alg = jose::Algorithm::Hs256,
                                std::string_view kek = "k-e-k-0123456789-0123456789-0123456789") {
    return std::make_unique<KeyRing>(
        store_->keyRing(), KeyRing::Settings{alg, sealingKey(kek).value(), 3600s}, clock_);
  }

  // A token signed with `keys`' signing key verifies with `other`'s set.
  static bool verifies(const TokenKeys& keys, const TokenKeys& other, const core::Clock& clock) {
    boost::json::object claims{{"sub", "1"}, {"exp", clock.unixSeconds() + 60}};
    auto token = jose::signJwt(keys.signing, claims);
    if (!token) return false;
    jose::JwtVerifier verifier(other.verification, jose::ClaimsPolicy{}, clock);
    return verifier.verify(*token).has_value();
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  core::ManualClock clock_{1'800'000'000};
};

TEST_F(KeyRingTest, TheFirstNodeMakesTheKeysAndEveryOtherNodeGetsThem) {
  Found found = Found::Stored;
  auto first = ring()->tokenKeys({}, &found);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(found, Found::Generated);
  EXPECT_EQ(first->signing.kid(), "hs1");
  auto again = ring()->tokenKeys({}, &found);
  ASSERT_TRUE(again);
  EXPECT_EQ(found, Found::Stored);
  EXPECT_EQ(again->signing.secret(), first->signing.secret());
  EXPECT_TRUE(verifies(*first, *again, clock_));
  // The master secret too: made once, then read.
  auto master = ring()->master(std::nullopt);
  ASSERT_TRUE(master);
  EXPECT_GE(master->size(), 64U);
  EXPECT_EQ(ring()->master(std::string("ignored: one is stored")).value(), *master);
}

TEST_F(KeyRingTest, NothingIsStoredInTheClearAndAnotherKekOpensNothing) {
  auto keys = ring(jose::Algorithm::Es256)->tokenKeys({});
  ASSERT_TRUE(keys);
  auto master = ring(jose::Algorithm::Es256)->master(std::nullopt).value();
  const auto rows = store_->keyRing().list().value();
  for (const auto& row : rows) {
    EXPECT_EQ(row.sealed.find("BEGIN"), std::string::npos);
    EXPECT_EQ(row.sealed.find(master), std::string::npos);
  }
  auto other = ring(jose::Algorithm::Es256, "another-kek-0123456789-0123456789-01234");
  auto refused = other->tokenKeys({});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::Errc::InvalidArgument);
  EXPECT_NE(refused.error().message.find("KEY_ENCRYPTION_KEY"), std::string::npos);
  EXPECT_FALSE(other->master(std::nullopt));
  // A KEK shorter than 32 bytes is refused outright.
  EXPECT_FALSE(sealingKey("short"));
}

TEST_F(KeyRingTest, ASealedKeyMovedToAnotherRowDoesNotOpen) {
  ASSERT_TRUE(ring()->tokenKeys({}));
  auto rows = store_->keyRing().list().value();
  const auto token =
      std::find_if(rows.begin(), rows.end(), [](const auto& r) { return r.purpose == "token"; });
  ASSERT_NE(token, rows.end());
  // The same blob claimed as generation 2 (or another kid) must not verify anything.
  store::StoredKey moved = *token;
  moved.generation = 2;
  moved.kid = "hs2";
  ASSERT_TRUE(store_->keyRing().add({moved}));
  auto keys = ring()->tokenKeys({});
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error().code, core::Errc::InvalidArgument);
}

TEST_F(KeyRingTest, ARotationVerifiesFirstThenSignsAndTheOldKeyKeepsVerifying) {
  auto node_a = ring();
  auto node_b = ring();
  const auto before = node_a->tokenKeys({}).value();
  ASSERT_TRUE(node_b->tokenKeys({}));
  EXPECT_FALSE(node_b->refresh().value()) << "nothing changed yet";
  auto rotated = ring()->rotate(10s, {});
  ASSERT_TRUE(rotated) << rotated.error().message;
  EXPECT_FALSE(rotated->first);
  EXPECT_EQ(rotated->kid, "hs2");
  EXPECT_EQ(rotated->signs_from, clock_.unixSeconds() + 10);
  // Published for verification at once; the old key still signs.
  auto during = node_b->refresh().value();
  ASSERT_TRUE(during);
  EXPECT_EQ(during->signing.kid(), "hs1");
  EXPECT_EQ(during->verification.keys().size(), 2U);
  EXPECT_TRUE(during->retired.empty());  // a next key is not a retired one
  EXPECT_FALSE(node_b->refresh().value());
  // A second rotation while the next key waits would retire a key that never signed.
  auto twice = ring()->rotate(10s, {});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code, core::Errc::FailedPrecondition);
  EXPECT_NE(twice.error().message.find("hs2"), std::string::npos);
  // Its time comes: every node signs with it, and tokens of the old key still verify.
  clock_.advance(10);
  auto after = node_b->refresh().value();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->signing.kid(), "hs2");
  // hs1 stopped signing when hs2 began: tokens it verifies from now are those issued by then.
  EXPECT_EQ(after->retired,
            (std::map<std::string, std::int64_t, std::less<>>{{"hs1", rotated->signs_from}}));
  EXPECT_TRUE(verifies(before, *after, clock_));
  auto a_after = node_a->refresh().value();
  ASSERT_TRUE(a_after);
  EXPECT_TRUE(verifies(*a_after, *after, clock_));
  auto listed = ring()->list().value();
  ASSERT_EQ(listed.size(), 2U);
  EXPECT_EQ(listed[0].kid, "hs2");
  EXPECT_EQ(listed[0].state, KeyState::Signing);
  EXPECT_EQ(listed[1].state, KeyState::Retired);
  EXPECT_EQ(listed[1].at, clock_.unixSeconds() + 3600);
}

TEST_F(KeyRingTest, RetiredKeysGoOnceNoTokenTheySignedCanLive) {
  ASSERT_TRUE(ring()->tokenKeys({}));
  ASSERT_TRUE(ring()->rotate(2s, {}));
  clock_.advance(2);
  // hs1 was superseded now; past keep_retired it stops verifying and the next rotation drops it.
  clock_.advance(3601);
  auto keys = ring()->tokenKeys({}).value();
  EXPECT_EQ(keys.verification.keys().size(), 1U);
  ASSERT_TRUE(ring()->rotate(2s, {}));
  auto kids = std::vector<std::string>{};
  const auto rows = store_->keyRing().list().value();
  for (const auto& row : rows)
    if (row.purpose == "token") kids.push_back(row.kid);
  EXPECT_EQ(kids, (std::vector<std::string>{"hs2", "hs3"}));
}

TEST_F(KeyRingTest, ACompromisedRingIsReplacedByAKeySigningAtOnceAndNothingElseVerifies) {
  // Found by two outside attacks: a leaked key signed on for a waiting rotation's month, and
  // verified for a token lifetime after any rotation.
  auto node = ring();
  const auto leaked = node->tokenKeys({}).value();
  ASSERT_TRUE(ring()->rotate(3600s, {}));  // a next key waiting
  auto replaced = ring()->replaceCompromised({});
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ(replaced->kid, "hs3");
  EXPECT_EQ(replaced->signs_from, clock_.unixSeconds());
  EXPECT_EQ(replaced->voided, (std::vector<std::string>{"hs1", "hs2"}));
  auto now = node->refresh().value();
  ASSERT_TRUE(now);
  EXPECT_EQ(now->signing.kid(), "hs3");
  EXPECT_EQ(now->verification.keys().size(), 1U);
  EXPECT_TRUE(now->retired.empty());
  EXPECT_FALSE(verifies(leaked, *now, clock_));
  EXPECT_TRUE(verifies(*now, *now, clock_));
  const auto listed = ring()->list().value();
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].state, KeyState::Signing);
  // The next ordinary rotation follows on from it.
  EXPECT_EQ(ring()->rotate(10s, {}).value().kid, "hs4");
}

// The store's key ring, but its removeBelow fails: a process killed between storing the next key
// and deleting the old ones.
class KilledBeforeRemoving final : public store::KeyRingStore {
 public:
  explicit KilledBeforeRemoving(store::KeyRingStore& real) : real_(real) {}
  core::Result<std::vector<store::StoredKey>> list() override { return real_.list(); }
  core::Status add(const std::vector<store::StoredKey>& keys) override { return real_.add(keys); }
  core::Status replace(const store::StoredKey& key) override { return real_.replace(key); }
  core::Status removeBelow(std::string_view, std::string_view, std::int64_t) override {
    return core::makeError(core::Errc::Unavailable, "killed");
  }

 private:
  store::KeyRingStore& real_;
};

TEST_F(KeyRingTest, ACompromisedRingIsReplacedInOneStep) {
  // Found by a crash test: stored and then deleted apart, a kill between the two left the leaked
  // key verifying, listed as an ordinary retired one. The replacement never deletes on its own.
  const auto leaked = ring()->tokenKeys({}).value();
  KilledBeforeRemoving store(store_->keyRing());
  KeyRing node(
      store,
      {jose::Algorithm::Hs256, sealingKey("k-e-k-0123456789-0123456789-0123456789").value(), 3600s},
      clock_);
  auto replaced = node.replaceCompromised({});
  ASSERT_TRUE(replaced) << replaced.error().message;
  const auto now = ring()->tokenKeys({}).value();
  EXPECT_EQ(now.signing.kid(), replaced->kid);
  EXPECT_FALSE(verifies(leaked, now, clock_));
  EXPECT_EQ(ring()->list().value().size(), 1U);
}

TEST_F(KeyRingTest, TheFirstRotationOfAnEmptyRingMakesOneKeyThatSignsAtOnce) {
  auto rotated = ring(jose::Algorithm::Es256)->rotate(305s, {});
  ASSERT_TRUE(rotated) << rotated.error().message;
  EXPECT_TRUE(rotated->first);
  EXPECT_EQ(rotated->signs_from, clock_.unixSeconds());
  auto listed = ring(jose::Algorithm::Es256)->list().value();
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].state, KeyState::Signing);
  EXPECT_EQ(listed[0].kid, rotated->kid);
  EXPECT_EQ(ring(jose::Algorithm::Es256)->tokenKeys({}).value().signing.kid(), rotated->kid);
}

TEST_F(KeyRingTest, OldFilesAreImportedOnceWithTheirKidsAndTheNextKidFollows) {
  const std::string current = secretLike('c');
  const std::string retired = secretLike('r');
  std::vector<FileKey> files{{"hs1", retired, false, 1}, {"hs2", current, true, 2}};
  Found found = Found::Stored;
  auto keys = ring()->tokenKeys(files, &found);
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ(found, Found::Imported);
  EXPECT_EQ(keys->signing.kid(), "hs2");
  EXPECT_EQ(keys->signing.secret(), current);
  EXPECT_EQ(keys->verification.keys().size(), 2U);
  // Files given again (another node's) change nothing: the ring is filled.
  std::vector<FileKey> others{{"hs1", secretLike('x'), true, 3}};
  EXPECT_EQ(ring()->tokenKeys(others, &found).value().signing.secret(), current);
  EXPECT_EQ(found, Found::Stored);
  EXPECT_EQ(ring()->rotate(2s, {}).value().kid, "hs3");
  // The old mfa_secret_key becomes the master secret.
  EXPECT_EQ(ring()->master(std::string(40, 'm')).value(), std::string(40, 'm'));
}

TEST_F(KeyRingTest, AnImportedKeyOfAnotherAlgorithmIsRefused) {
  auto ec = crypto::generateEc(crypto::Curve::P256).value();
  const std::string pem = crypto::privateKeyToPem(ec.get()).value();
  auto refused = ring(jose::Algorithm::Rs256)->tokenKeys({{"", pem, true, 1}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::Errc::FailedPrecondition);
  EXPECT_NE(refused.error().message.find("RS256"), std::string::npos);
  EXPECT_TRUE(store_->keyRing().list().value().empty()) << "nothing half-imported";
  // With ES256 the same file is the current key, named by its thumbprint.
  auto keys = ring(jose::Algorithm::Es256)->tokenKeys({{"", pem, true, 1}});
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->signing.kid().size(), 43U);
}

TEST_F(KeyRingTest, EachAlgorithmHasItsOwnKeys) {
  auto hs = ring(jose::Algorithm::Hs256)->tokenKeys({}).value();
  auto es = ring(jose::Algorithm::Es256)->tokenKeys({}).value();
  EXPECT_EQ(hs.verification.keys().size(), 1U);
  EXPECT_EQ(es.verification.keys().size(), 1U);
  EXPECT_EQ(es.signing.algorithm(), jose::Algorithm::Es256);
  EXPECT_FALSE(verifies(hs, es, clock_));
}

TEST_F(KeyRingTest, AKidTwiceInTheOldFilesIsImportedOnceTheCurrentOneWinning) {
  // The old `keys rotate` could die after copying secret_key to retired/ and before replacing it.
  const std::string current = secretLike('c');
  std::vector<FileKey> files{{"hs1", secretLike('r'), false, 1}, {"hs1", current, true, 2}};
  auto keys = ring()->tokenKeys(files);
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ(keys->verification.keys().size(), 1U);
  EXPECT_EQ(keys->signing.secret(), current);
  EXPECT_EQ(ring()->refresh().value()->signing.secret(), current) << "every start opens it";
}

TEST_F(KeyRingTest, ImportsStartAtGenerationOneAndTheNextKidFollowsTheLargest) {
  std::vector<FileKey> files{{"hs3", secretLike('c'), true, 1}};
  ASSERT_TRUE(ring()->tokenKeys(files));
  const auto rows = store_->keyRing().list().value();
  const auto token =
      std::find_if(rows.begin(), rows.end(), [](const auto& r) { return r.purpose == "token"; });
  ASSERT_NE(token, rows.end());
  EXPECT_EQ(token->generation, 1);
  EXPECT_EQ(token->kid, "hs3");
  EXPECT_EQ(ring()->rotate(2s, {}).value().kid, "hs4");
}

TEST_F(KeyRingTest, OldFilesAreNotImportedAgainWhenTheAlgorithmChanges) {
  // Imported under HS256, rotated away; then HS512 is chosen: the old secret must not return.
  std::vector<FileKey> files{{"hs1", secretLike('o'), true, 1}};
  ASSERT_TRUE(ring(jose::Algorithm::Hs256)->tokenKeys(files));
  Found found = Found::Stored;
  auto hs512 = ring(jose::Algorithm::Hs512)->tokenKeys(files, &found);
  ASSERT_TRUE(hs512) << hs512.error().message;
  EXPECT_EQ(found, Found::Generated);
  EXPECT_NE(hs512->signing.secret(), secretLike('o'));
}

TEST_F(KeyRingTest, MovingATimeInTheDatabaseOpensNothing) {
  ASSERT_TRUE(ring()->tokenKeys({}));
  ASSERT_TRUE(ring()->rotate(100s, {}));
  // Someone with write access to the database but no KEK pulls the next key's time forward.
  const auto rows = store_->keyRing().list().value();
  std::vector<store::StoredKey> changed;
  for (auto row : rows) {
    if (row.kid == "hs2") row.signs_from = clock_.unixSeconds();
    changed.push_back(row);
  }
  ASSERT_TRUE(store_->keyRing().removeBelow("token", "HS256", 3));
  ASSERT_TRUE(store_->keyRing().removeBelow("master", "", 3));
  ASSERT_TRUE(store_->keyRing().add(changed));
  auto keys = ring()->tokenKeys({});
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error().code, core::Errc::InvalidArgument);
}

TEST_F(KeyRingTest, ARowReplacedUnderTheSameKidIsOpenedAgainNotServedFromTheCache) {
  auto node = ring();
  const auto first = node->tokenKeys({}).value();
  // The ring is wiped by hand (a leaked key) and a fresh hs1 made by another process.
  ASSERT_TRUE(store_->keyRing().removeBelow("token", "HS256", 100));
  ASSERT_TRUE(ring()->tokenKeys({}));
  auto fresh = node->refresh().value();
  ASSERT_TRUE(fresh) << "a new key under the old kid must reach the running node";
  EXPECT_EQ(fresh->signing.kid(), "hs1");
  EXPECT_NE(fresh->signing.secret(), first.signing.secret());
}

TEST_F(KeyRingTest, MasterSaysWhetherItStoredTheFile) {
  bool stored = false;
  EXPECT_EQ(ring()->master(std::string(40, 'a'), &stored).value(), std::string(40, 'a'));
  EXPECT_TRUE(stored);
  EXPECT_EQ(ring()->master(std::string(40, 'b'), &stored).value(), std::string(40, 'a'));
  EXPECT_FALSE(stored);
}

// An earlier version imported a secret_key as it was: one a crash had zeroed signs tokens anyone
// can forge. It never verifies; as the signer it stops the start until a rotation.
TEST_F(KeyRingTest, AStoredTokenKeyThatIsNoSecretNeverVerifies) {
  // The ring itself never stores one (a set that cannot serve never reaches the database)...
  const std::string zeroed(32, '\0');
  EXPECT_FALSE(ring()->tokenKeys({{"hs1", zeroed, true, 1}}));
  EXPECT_TRUE(store_->keyRing().list().value().empty());
  // ...so it is sealed in here as an earlier version stored it.
  const std::int64_t at = clock_.unixSeconds() - 60;
  const std::string from = std::to_string(at);
  std::string aad = "gatehouse key ring v1";
  for (std::string_view part :
       {std::string_view("token"), std::string_view("HS256"), std::string_view("1"),
        std::string_view("hs1"), std::string_view(from)}) {
    aad += '\0';
    aad += part;
  }
  const auto blob =
      crypto::seal(sealingKey("k-e-k-0123456789-0123456789-0123456789").value(), zeroed, aad);
  ASSERT_TRUE(blob);
  ASSERT_TRUE(store_->keyRing().add(
      {store::StoredKey{"token", "HS256", 1, "hs1", core::base64urlEncode(*blob), at, at}}));
  const auto refused = ring()->tokenKeys({});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::Errc::FailedPrecondition);
  EXPECT_NE(
      refused.error().message.find("the token key hs1 in the database holds 32 bytes of only 1 "
                                   "distinct values"),
      std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(ring()->check(false, true)) << "config --check says so too";
  // The rotation it asks for works, and once the new key signs the old one verifies nothing.
  const auto rotated = ring()->rotate(2s, {});
  ASSERT_TRUE(rotated) << rotated.error().message;
  clock_.advance(3);
  const auto keys = ring()->tokenKeys({});
  ASSERT_TRUE(keys) << keys.error().message;
  EXPECT_EQ(keys->signing.kid(), rotated->kid);
  EXPECT_EQ(keys->verification.keys().size(), 1U);
  EXPECT_TRUE(ring()->check(false, true));
}

TEST_F(KeyRingTest, StoredMasterReadsAndNeverStores) {
  EXPECT_EQ(ring()->storedMaster().value(), std::nullopt);
  EXPECT_EQ(ring()->storedMaster().value(), std::nullopt) << "asking stored nothing";
  EXPECT_TRUE(store_->keyRing().list().value().empty());
  const auto master = ring()->master(std::nullopt).value();
  EXPECT_EQ(ring()->storedMaster().value(), master);
  auto other = ring(jose::Algorithm::Hs256, "another-k-e-k-0123456789-0123456789");
  const auto refused = other->storedMaster();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::Errc::InvalidArgument);
}

// Every key of every purpose derives from the master secret: one too short to be a secret is
// never stored, and once one is stored, the file offered beside it changes nothing.
TEST_F(KeyRingTest, AMasterSecretTooShortIsNeverStored) {
  bool stored = true;
  for (const std::size_t size : {0, 1, 31}) {
    const auto refused = ring()->master(std::string(size, 'a'), &stored);
    ASSERT_FALSE(refused) << size;
    EXPECT_EQ(refused.error().code, core::Errc::FailedPrecondition);
    EXPECT_EQ(refused.error().message, "holds " + std::to_string(size) +
                                           " bytes; a master secret to import needs at least 32");
    EXPECT_FALSE(stored);
  }
  EXPECT_EQ(ring()->master(std::string(32, 'a'), &stored).value(), std::string(32, 'a'));
  EXPECT_TRUE(stored);
  EXPECT_EQ(ring()->master(std::string(), &stored).value(), std::string(32, 'a'));
  EXPECT_FALSE(stored);
}

}  // namespace
}  // namespace gatehouse::keyring
