#include "cli/import_commands.hpp"

#include <charconv>

#include <boost/json.hpp>

#include "cli/context.hpp"
#include "cli/interrupt.hpp"
#include "core/strict_json.hpp"
#include "importer/import_item.hpp"
#include "importer/importer.hpp"
#include "importer/seed_reader.hpp"

namespace gatehouse::cli {
namespace {

// A line longer than this is refused unread: a user is a few hundred bytes.
constexpr std::size_t kMaxLineBytes = 64U << 10U;

std::string emailOf(const boost::json::value& v) {
  const auto* o = v.if_object();
  const auto* email = o != nullptr ? o->if_contains("email") : nullptr;
  return email != nullptr && email->is_string() ? std::string(email->get_string()) : std::string();
}

void print(const std::vector<importer::ItemResult>& results, const char* position_name,
           std::ostream& out) {
  for (const auto& r : results)
    out << boost::json::serialize(importer::resultJson(r, position_name)) << "\n";
  // The batch is committed: its lines leave now, before its audit records are written, so a kill
  // loses no line of a user created (a rerun says "skipped", with the id, too).
  out.flush();
}

// Imports one batch, prints its results and adds them up; false when storage failed.
bool run(Context& c, importer::Importer& importer, std::vector<importer::Candidate>& batch,
         std::string_view source, const char* position_name, importer::Totals& totals,
         std::ostream& out, std::ostream& err) {
  if (batch.empty()) return true;
  const InterruptLatch::Hold hold;  // the batch, its lines and its records, whatever comes
  auto results = importer.importBatch(
      std::exchange(batch, {}), c.actor, c.client, source,
      [&](const std::vector<importer::ItemResult>& stored) { print(stored, position_name, out); });
  if (!results) {
    err << "gatehouse: import stopped, this batch created nothing: " << results.error().message
        << "\n";
    return false;
  }
  totals.add(*results);
  return true;
}

// `interrupted`: the signal that stopped the import before its input ended (0: none did; one
// landing in the last batch stops nothing).
int report(const importer::Totals& t, bool stopped, int interrupted, std::ostream& err) {
  if (interrupted != 0)
    err << "gatehouse: import interrupted (signal " << interrupted
        << ") after its last whole batch, audit records included; what came after it, if "
           "anything, was not imported: run the same import again (what went in is skipped)\n";
  err << "import: " << t.created << " created, " << t.skipped << " skipped, " << t.errors
      << " errors\n";
  return stopped || interrupted != 0 || t.errors > 0 ? 1 : 0;
}

}  // namespace

int userImport(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               std::istream& in, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  // A batch begun is finished, with its audit records, whatever signal comes; none is begun after.
  const InterruptLatch latch;
  importer::Importer importer(c.store->users(), policy, *c.audit);
  importer::Totals totals;
  std::vector<importer::Candidate> batch;
  std::size_t number = 0;
  std::string line;
  bool stopped = false;
  while (!stopped && latch.raised() == 0) {
    // Read at most the limit (and one more byte to know it was exceeded), then skip the rest.
    line.clear();
    bool too_long = false;
    char ch = 0;
    bool any = false;
    while (in.get(ch)) {
      any = true;
      if (ch == '\n') break;
      if (line.size() > kMaxLineBytes) {
        too_long = true;
        continue;
      }
      line.push_back(ch);
    }
    if (!any || latch.raised() != 0) break;
    ++number;
    too_long = too_long || line.size() > kMaxLineBytes;
    if (!too_long && line.find_first_not_of(" \t\r") == std::string::npos) continue;
    importer::Candidate candidate{number, {}, tl::unexpected(std::string("line too long"))};
    if (!too_long) {
      auto json = core::parseStrictJson(line, {.max_bytes = kMaxLineBytes, .max_depth = 8});
      if (!json) {
        candidate.user = tl::unexpected(std::string("invalid JSON"));
      } else {
        candidate.email = emailOf(*json);
        candidate.user = importer::parseItem(*json, policy, c.clock.unixSeconds());
      }
    }
    batch.push_back(std::move(candidate));
    if (batch.size() == importer::kBatchSize)
      stopped = !run(c, importer, batch, "import", "line", totals, out, err);
  }
  const int interrupted = latch.raised();  // before the last batch: it is then not begun
  if (!stopped && interrupted == 0)
    stopped = !run(c, importer, batch, "import", "line", totals, out, err);
  return report(totals, stopped, interrupted, err);
}

int importSeed(const config::Config& config, const rbac::Policy& policy, const KeyAccess& access,
               const std::string& url, std::ostream& out, std::ostream& err) {
  Context c(config, policy, access);
  if (!c.open(err)) return 1;
  const InterruptLatch latch;  // as userImport's
  importer::Importer importer(c.store->users(), policy, *c.audit);
  importer::Totals totals;
  bool stopped = false;
  int interrupted = 0;
  auto read = importer::readSeedUsers(
      url, importer::kBatchSize, [&](std::vector<importer::SeedRow>&& rows) {
        if ((interrupted = latch.raised()) != 0) return false;
        std::vector<importer::Candidate> batch;
        for (auto& row : rows) {
          std::size_t id = 0;
          const auto [end, ec] = std::from_chars(row.id.data(), row.id.data() + row.id.size(), id);
          importer::Candidate candidate{
              id, emailOf(row.item), importer::parseItem(row.item, policy, c.clock.unixSeconds())};
          // A row the seed's own key could not name is reported, never passed over in silence.
          if (ec != std::errc() || end != row.id.data() + row.id.size() || id == 0)
            candidate.user = tl::unexpected(std::string(
                row.id.empty() ? "id: missing (NULL)" : "id: not a positive whole number"));
          if (candidate.user) candidate.user->legacy_subject = row.id;
          batch.push_back(std::move(candidate));
        }
        stopped = !run(c, importer, batch, "seed", "line", totals, out, err);
        // A signal meanwhile is seen as the next batch begins, if one comes (its rows are read
        // already): a signal in the last batch stops nothing (a review).
        return !stopped;
      });
  if (!read) {
    err << "gatehouse: " << read.error().message << "\n";
    return 1;
  }
  return report(totals, stopped, interrupted, err);
}

}  // namespace gatehouse::cli
