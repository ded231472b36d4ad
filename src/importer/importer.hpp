#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <tl/expected.hpp>

#include "audit/audit_log.hpp"
#include "auth/client_info.hpp"
#include "auth/user_service.hpp"
#include "rbac/policy.hpp"
#include "store/store.hpp"

namespace gatehouse::importer {

// At most this many users per transaction (and per API call).
inline constexpr std::size_t kBatchSize = 1000;

// One item read from a file line, an array element or a seed row, parsed or refused.
struct Candidate {
  std::size_t position = 0;  // the line number, array index or seed id
  std::string email;         // when it could be read, for the report
  tl::expected<store::ImportedUser, std::string> user;
};

struct ItemResult {
  enum class Kind { Created, Skipped, Error } kind = Kind::Error;
  std::size_t position = 0;
  std::string email;
  std::int64_t id = 0;  // Created
  std::string reason;   // Error
  // Set when the item's old id had been imported as another user: it now names nobody.
  bool legacy_subject_dropped = false;
};

// One result as JSON: {"<position_name>": N, "email", "result": "created"|"skipped"|"error",
// "id" (created), "reason" (error), "note" (an old id that now names nobody)}: the CLI's line
// and the API's item alike.
boost::json::object resultJson(const ItemResult& result, std::string_view position_name);

struct Totals {
  std::size_t created = 0;
  std::size_t skipped = 0;
  std::size_t errors = 0;
  void add(const std::vector<ItemResult>& results);
};

// Moves users in (API.md, Moving in from elsewhere): each batch in one transaction, one result
// per item, never a partial user; an existing email is skipped and left as it is, so importing
// the same file again changes nothing. Each batch is audited as `user.import` with its counts.
class Importer {
 public:
  Importer(store::UserStore& users, const rbac::Policy& policy, audit::AuditLog& audit)
      : users_(users), policy_(policy), audit_(audit) {}

  // Imports up to kBatchSize candidates; a role whose permissions are not all the actor's is
  // refused for that item. `source` names where legacy subjects come from ("seed").
  // `committed`, when given, has the results as soon as the batch is stored, before its audit
  // records (a thousand writes): a command prints them there, so a kill meanwhile loses no new
  // id (found by a crash test). Unavailable/Internal when storage fails (then nothing of the
  // batch was created).
  using Committed = std::function<void(const std::vector<ItemResult>&)>;
  [[nodiscard]] core::Result<std::vector<ItemResult>> importBatch(
      std::vector<Candidate> candidates, const auth::Actor& actor, const auth::ClientInfo& client,
      std::string_view source = "import", const Committed& committed = {});

 private:
  store::UserStore& users_;
  const rbac::Policy& policy_;
  audit::AuditLog& audit_;
};

}  // namespace gatehouse::importer
