#pragma once

#include <functional>
#include <utility>

#include "store/store.hpp"

namespace gatehouse::testing {

// The real store with seams where a test puts another request's effect between a service's read
// and its write, as a race between two requests would land: each hook runs once, just before the
// call it names, then the real call goes ahead. Everything else passes straight through.

inline void once(std::function<void()>& hook) {
  if (hook) std::exchange(hook, nullptr)();
}

// The real user store; `before_update`, `before_find_by_id`, `before_remove` and
// `before_set_tokens_valid_after` run once just before the next call they name.
class SeamUsers final : public store::UserStore {
 public:
  explicit SeamUsers(store::UserStore& real) : real_(real) {}
  std::function<void()> before_update;
  std::function<void()> before_find_by_id;
  std::function<void()> before_remove;
  std::function<void()> before_set_tokens_valid_after;

  core::Result<store::User> create(const store::NewUser& user) override {
    return real_.create(user);
  }
  core::Result<std::optional<store::User>> findById(std::int64_t id) override {
    once(before_find_by_id);
    return real_.findById(id);
  }
  core::Result<std::optional<store::User>> findByEmail(std::string_view email) override {
    return real_.findByEmail(email);
  }
  core::Result<std::optional<store::User>> findByUsername(std::string_view username) override {
    return real_.findByUsername(username);
  }
  core::Result<std::vector<store::User>> list(std::int64_t limit, std::int64_t offset) override {
    return real_.list(limit, offset);
  }
  core::Result<std::int64_t> count() override { return real_.count(); }
  core::Result<std::vector<store::User>> search(std::string_view text, std::int64_t limit,
                                                std::int64_t offset) override {
    return real_.search(text, limit, offset);
  }
  core::Result<store::UserChange> update(std::int64_t id, const store::UserPatch& patch,
                                         std::string_view protected_role) override {
    once(before_update);
    return real_.update(id, patch, protected_role);
  }
  core::Status remove(std::int64_t id, std::string_view protected_role,
                      std::optional<std::string_view> role_is) override {
    once(before_remove);
    return real_.remove(id, protected_role, role_is);
  }
  core::Status replacePasswordHash(std::int64_t id, std::string_view expected,
                                   std::string_view hash) override {
    return real_.replacePasswordHash(id, expected, hash);
  }
  core::Status changePassword(std::int64_t id, std::string_view hash, std::int64_t now,
                              store::PasswordEnds ends) override {
    return real_.changePassword(id, hash, now, ends);
  }
  core::Status setTokensValidAfter(std::int64_t id, std::int64_t when,
                                   std::optional<std::string_view> role_is) override {
    once(before_set_tokens_valid_after);
    return real_.setTokensValidAfter(id, when, role_is);
  }
  core::Result<std::vector<store::ImportOutcome>> importUsers(
      const std::vector<store::ImportedUser>& users, std::string_view source) override {
    return real_.importUsers(users, source);
  }
  core::Result<std::optional<std::int64_t>> findByLegacySubject(std::string_view source,
                                                                std::string_view subject) override {
    return real_.findByLegacySubject(source, subject);
  }
  core::Result<store::ChangeLogRead> changesSince(std::int64_t seq) override {
    return real_.changesSince(seq);
  }
  core::Result<std::int64_t> purgeChanges(std::int64_t before, std::int64_t limit) override {
    return real_.purgeChanges(before, limit);
  }

 private:
  store::UserStore& real_;
};

// The real session store; `before_create` runs once just before the next create.
class SeamSessions final : public store::SessionStore {
 public:
  explicit SeamSessions(store::SessionStore& real) : real_(real) {}
  std::function<void()> before_create;

  core::Status create(const store::Session& session) override {
    once(before_create);
    return real_.create(session);
  }
  core::Result<store::RotateOutcome> rotate(std::string_view session_id,
                                            std::string_view presented_jti,
                                            std::string_view next_jti, std::int64_t now,
                                            std::int64_t expires_at, std::int64_t grace_seconds,
                                            std::int64_t tokens_until) override {
    return real_.rotate(session_id, presented_jti, next_jti, now, expires_at, grace_seconds,
                        tokens_until);
  }
  core::Status touch(std::string_view session_id, std::int64_t now) override {
    return real_.touch(session_id, now);
  }
  core::Result<std::optional<store::Session>> find(std::string_view session_id) override {
    return real_.find(session_id);
  }
  core::Result<std::vector<store::Session>> listForUser(std::int64_t user_id,
                                                        std::int64_t now) override {
    return real_.listForUser(user_id, now);
  }
  core::Status revoke(std::string_view session_id) override { return real_.revoke(session_id); }
  core::Status forgetEnded(std::string_view session_id) override {
    return real_.forgetEnded(session_id);
  }
  core::Status revokeAllForUser(std::int64_t user_id) override {
    return real_.revokeAllForUser(user_id);
  }
  core::Result<std::int64_t> purgeEnded(std::int64_t before, std::int64_t limit,
                                        bool keep_traded) override {
    return real_.purgeEnded(before, limit, keep_traded);
  }

 private:
  store::SessionStore& real_;
};

// The real MFA store; `before_use_sign_count` runs once just before the next useSignCount.
class SeamMfa final : public store::MfaStore {
 public:
  explicit SeamMfa(store::MfaStore& real) : real_(real) {}
  std::function<void()> before_use_sign_count;

  core::Result<store::MfaFactor> create(store::MfaFactor f, std::int64_t max) override {
    return real_.create(std::move(f), max);
  }
  core::Result<std::vector<store::MfaFactor>> listForUser(std::int64_t user) override {
    return real_.listForUser(user);
  }
  core::Result<std::optional<store::MfaFactor>> find(std::int64_t id) override {
    return real_.find(id);
  }
  core::Result<bool> confirm(std::int64_t id, std::int64_t user, std::int64_t step,
                             std::int64_t now, const std::vector<std::string>& hashes,
                             std::int64_t max) override {
    return real_.confirm(id, user, step, now, hashes, max);
  }
  core::Result<bool> useStep(std::int64_t id, std::int64_t step, std::int64_t now) override {
    return real_.useStep(id, step, now);
  }
  core::Result<bool> remove(std::int64_t id, std::int64_t user) override {
    return real_.remove(id, user);
  }
  core::Result<std::int64_t> removeAll(std::int64_t user,
                                       std::optional<std::string_view> role_is) override {
    return real_.removeAll(user, role_is);
  }
  core::Status replaceRecoveryCodes(std::int64_t user,
                                    const std::vector<std::string>& hashes) override {
    return real_.replaceRecoveryCodes(user, hashes);
  }
  core::Result<bool> useRecoveryCode(std::int64_t user, std::string_view hash,
                                     std::int64_t now) override {
    return real_.useRecoveryCode(user, hash, now);
  }
  core::Result<std::int64_t> recoveryCodesLeft(std::int64_t user) override {
    return real_.recoveryCodesLeft(user);
  }
  core::Result<std::optional<std::int64_t>> countCodeAttempt(std::int64_t user,
                                                             std::int64_t threshold) override {
    return real_.countCodeAttempt(user, threshold);
  }
  core::Status clearCodeAttempts(std::int64_t user) override {
    return real_.clearCodeAttempts(user);
  }
  core::Result<std::pair<store::MfaFactor, bool>> addConfirmed(
      store::MfaFactor f, std::int64_t max, const std::vector<std::string>& hashes,
      std::string_view session_id) override {
    return real_.addConfirmed(std::move(f), max, hashes, session_id);
  }
  core::Result<std::optional<store::MfaFactor>> findByCredential(std::string_view id) override {
    return real_.findByCredential(id);
  }
  core::Result<bool> useSignCount(std::int64_t id, std::int64_t count, std::string_view read,
                                  std::string_view passkey, std::int64_t now) override {
    once(before_use_sign_count);
    return real_.useSignCount(id, count, read, passkey, now);
  }
  core::Status rename(std::int64_t id, std::int64_t user, std::string_view name) override {
    return real_.rename(id, user, name);
  }

 private:
  store::MfaStore& real_;
};

// The real store, its users, sessions and MFA factors reached through the seams above.
class SeamStore final : public store::Store {
 public:
  explicit SeamStore(store::Store& real)
      : seam_users(real.users()),
        seam_sessions(real.sessions()),
        seam_mfa(real.mfa()),
        real_(real) {}
  SeamUsers seam_users;
  SeamSessions seam_sessions;
  SeamMfa seam_mfa;

  store::UserStore& users() override { return seam_users; }
  store::SessionStore& sessions() override { return seam_sessions; }
  store::RevocationStore& revocations() override { return real_.revocations(); }
  store::AuditStore& audit() override { return real_.audit(); }
  store::ApiKeyStore& apiKeys() override { return real_.apiKeys(); }
  store::IdentityStore& identities() override { return real_.identities(); }
  store::MfaStore& mfa() override { return seam_mfa; }
  store::MailStore& mail() override { return real_.mail(); }
  store::OpStore& op() override { return real_.op(); }
  store::KeyRingStore& keyRing() override { return real_.keyRing(); }
  core::Status ping() override { return real_.ping(); }
  core::Result<int> migrate() override { return real_.migrate(); }
  core::Result<bool> holdsMasterKeyedData() override { return real_.holdsMasterKeyedData(); }

 private:
  store::Store& real_;
};

}  // namespace gatehouse::testing
