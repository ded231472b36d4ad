#include "cli/database.hpp"

#include <filesystem>

namespace gatehouse::cli {

std::unique_ptr<store::Store> openExisting(const config::Config& config, std::ostream& err) {
  if (!config.sqlite_path.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(config.sqlite_path, ec)) {
      err << "gatehouse: no database at " << config.sqlite_path.string()
          << " (run this where the server keeps its data, set DATABASE_URL, or create it with "
             "'gatehouse migrate')\n";
      return nullptr;
    }
  }
  auto store = store::openStore(config.database_url);
  if (!store) {
    err << "gatehouse: " << store.error().message << "\n";
    return nullptr;
  }
  if (auto v = (*store)->migrate(); !v) {
    err << "gatehouse: migration failed: " << v.error().message << "\n";
    return nullptr;
  }
  return std::move(*store);
}

}  // namespace gatehouse::cli
