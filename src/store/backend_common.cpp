#include "store/backend_common.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace gatehouse::store {

SubjectChange legacySubjectChange(std::optional<std::int64_t> holder, ImportOutcome& outcome) {
  if (holder && *holder != outcome.user_id) {
    outcome.legacy_subject_dropped = true;
    return SubjectChange::Forget;
  }
  if (!holder && outcome.kind == ImportOutcome::Kind::Created) return SubjectChange::Remember;
  return SubjectChange::Keep;
}

std::string joinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& s : scopes) out += (out.empty() ? "" : " ") + s;
  return out;
}

std::vector<std::string> splitScopes(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace gatehouse::store

namespace gatehouse::store {

bool applyUserPatch(User& user, const UserPatch& patch, std::string_view protected_role) {
  const bool was_protected = user.is_active && user.role == protected_role;
  if (patch.email) {
    const auto lower = [](std::string v) {
      for (char& c : v) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      }
      return v;
    };
    if (lower(*patch.email) != lower(user.email)) user.email_verified = false;
    user.email = *patch.email;
  }
  if (patch.email_verified) user.email_verified = *patch.email_verified;
  if (patch.username) user.username = *patch.username;
  if (patch.is_active) user.is_active = *patch.is_active;
  if (patch.role) user.role = *patch.role;
  return was_protected && !(user.is_active && user.role == protected_role);
}

core::Status scanAuditPages(
    const std::function<core::Result<std::vector<AuditRecord>>(std::int64_t after)>& page,
    const std::function<bool(const AuditRecord&)>& visit) {
  std::int64_t after = 0;
  for (;;) {
    auto batch = page(after);
    if (!batch) return tl::unexpected(batch.error());
    if (batch->empty()) return {};
    for (const auto& r : *batch) {
      if (!visit(r)) return {};
      after = r.id;
    }
  }
}

std::string likePattern(std::string_view text) {
  std::string out = "%";
  for (const char ch : text) {
    if (ch == '%' || ch == '_' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  out.push_back('%');
  return out;
}

std::string listToJson(const std::vector<std::string>& list) {
  boost::json::array array;
  array.reserve(list.size());
  for (const auto& item : list) array.emplace_back(item);
  return boost::json::serialize(array);
}

core::Result<std::vector<std::string>> listFromJson(std::string_view text) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_array())
    return core::makeError(core::Errc::Internal, "op_clients: list is not an array");
  std::vector<std::string> out;
  out.reserve(value.get_array().size());
  for (const auto& item : value.get_array()) {
    if (!item.is_string())
      return core::makeError(core::Errc::Internal, "op_clients: list item not a string");
    out.emplace_back(item.get_string());
  }
  return out;
}

}  // namespace gatehouse::store
