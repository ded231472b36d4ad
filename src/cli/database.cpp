#include "cli/database.hpp"

#include <filesystem>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include "cli/context.hpp"
#include "core/files.hpp"

namespace gatehouse::cli {

namespace {

// "user NAME", or "uid N" for an id without a name.
std::string userName(uid_t uid) {
  const passwd* p = ::getpwuid(uid);
  return p != nullptr ? "user " + std::string(p->pw_name) : "uid " + std::to_string(uid);
}

std::string groupName(gid_t gid) {
  const group* g = ::getgrgid(gid);
  return g != nullptr ? g->gr_name : "gid " + std::to_string(gid);
}

// A folder a path passes through, and whether the path names an entry in it that another
// account writing there could replace: the database's own folder (or the first existing one,
// where the rest would be made) and each folder holding a link on the way. Those are checked
// strictly; a folder merely passed through may be sticky (/tmp: only an entry's owner renames
// it).
struct Folder {
  std::filesystem::path path;
  bool names_entry = false;
};

// The folders `file` (absolute) passes through as the kernel resolves it: links followed one by
// one, so that a link in another account's folder is seen even where it leads somewhere safe.
std::vector<Folder> foldersThrough(const std::filesystem::path& file) {
  std::vector<Folder> out;
  std::vector<std::string> todo;  // the components left, the next one last
  const auto push = [&todo](const std::filesystem::path& p) {
    std::vector<std::string> parts;
    for (const auto& part : p.relative_path()) parts.push_back(part.string());
    todo.insert(todo.end(), parts.rbegin(), parts.rend());
  };
  push(file);
  std::filesystem::path at = "/";
  int links = 0;
  while (!todo.empty()) {
    const std::string name = todo.back();
    todo.pop_back();
    if (name.empty() || name == ".") continue;
    if (name == "..") {
      out.push_back({at, false});
      at = at.parent_path();
      continue;
    }
    const auto next = at / name;
    struct stat st {};
    if (::lstat(next.c_str(), &st) != 0) break;  // made from here on: `at` holds it
    if (S_ISLNK(st.st_mode)) {
      out.push_back({at, true});
      std::error_code ec;
      const auto target = std::filesystem::read_symlink(next, ec);
      if (ec || ++links > 40) break;
      if (target.is_absolute()) at = "/";
      push(target);
      continue;
    }
    if (todo.empty()) break;  // the database itself
    out.push_back({at, false});
    at = next;
  }
  out.push_back({at, true});
  return out;
}

// True, after writing why, when root reaching `given` would pass through a folder another
// account can write (refusesRootInAnotherUsersDirectory). `setting` names it in the message.
bool refusesRootThrough(const std::filesystem::path& given, std::string_view setting,
                        std::ostream& err) {
  std::error_code ec;
  const auto file = std::filesystem::absolute(given, ec);
  if (ec) return false;
  const auto writer = [](const Folder& folder) -> std::string {
    struct stat st {};
    if (::stat(folder.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
    const bool shielded = !folder.names_entry && (st.st_mode & S_ISVTX) != 0;
    if (st.st_uid != 0) return userName(st.st_uid);
    if ((st.st_mode & S_IWOTH) != 0 && !shielded) return "every user";
    if ((st.st_mode & S_IWGRP) != 0 && !shielded) return "group " + groupName(st.st_gid);
    return {};
  };
  for (const auto& folder : foldersThrough(file)) {
    if (const std::string who = writer(folder); !who.empty()) {
      const std::string as = who.starts_with("user ") ? who.substr(5) : std::string();
      err << "gatehouse: " << setting << "not run as root on " << file.string() << ": "
          << folder.path.string() << " is writable by " << who
          << ", who could put a link there that root would follow (creating or overwriting any "
             "file); run the command as the account the server runs as"
          << (as.empty() ? std::string() : ", e.g. runuser -u " + as + " -- gatehouse ...")
          << (setting.empty() ? "" : "; nothing was changed") << "\n";
      return true;
    }
  }
  return false;
}

}  // namespace

bool refusesRootInAnotherUsersDirectory(const config::Config& config, std::ostream& err) {
  if (config.sqlite_path.empty() || ::geteuid() != 0) return false;
  return refusesRootThrough(config.sqlite_path, "", err);
}

bool refusesWithoutAuditSink(const config::Config& config, std::ostream& err) {
  const std::string path = commandAuditPath(config.audit_log_file);
  if (path.empty() || path == "-") return false;  // the command's standard error
  // As root, not through a folder another account can write: that account could turn a folder
  // on the way into a link, and root would append to, or create, a file of its choosing (a
  // review; the name's last part alone was checked).
  if (::geteuid() == 0 && !core::descriptorLink(path) &&
      refusesRootThrough(path, "AUDIT_LOG_FILE: ", err))
    return true;
  auto ok = core::appendable(path, core::AppendTo::FileOrStream);
  if (ok) return false;
  err << "gatehouse: AUDIT_LOG_FILE: " << ok.error().message
      << " (run the command as the account the server runs as); nothing was changed\n";
  return true;
}

namespace {

// "missing" or "empty" when the SQLite file is either (an empty file is no database: opening it
// would make one); nullopt when it holds something, cannot be looked at (opening says why), or
// the database is PostgreSQL.
std::optional<std::string_view> noSqliteFile(const config::Config& config) {
  if (config.sqlite_path.empty()) return std::nullopt;
  std::error_code ec;
  // Followed: a link to nothing (a volume not mounted) is a missing database too, which opening
  // would create at its target (a review).
  const auto type = std::filesystem::status(config.sqlite_path, ec).type();
  if (type == std::filesystem::file_type::not_found) return "missing";
  const auto size = std::filesystem::file_size(config.sqlite_path, ec);
  if (!ec && size == 0) return "empty";
  return std::nullopt;
}

}  // namespace

std::optional<std::string> lostDatabase(const config::Config& config) {
  const auto kek = config.data_dir / "key_encryption_key";
  std::error_code ec;
  if (std::filesystem::symlink_status(kek, ec).type() == std::filesystem::file_type::not_found)
    return std::nullopt;
  const auto none = noSqliteFile(config);
  if (!none) return std::nullopt;
  return "the database " + config.sqlite_path.string() + " is " + std::string(*none) + ", but " +
         kek.string() +
         " shows that a first start made one here: restore it from a backup (docs/operations.md, "
         "Backups). To start afresh on purpose, move key_encryption_key away first";
}

std::unique_ptr<store::Store> openExisting(const config::Config& config, std::ostream& err) {
  if (refusesRootInAnotherUsersDirectory(config, err)) return nullptr;
  if (auto lost = lostDatabase(config)) {
    err << "gatehouse: " << *lost << "\n";
    return nullptr;
  }
  if (noSqliteFile(config)) {
    err << "gatehouse: no database at " << config.sqlite_path.string()
        << " (run this where the server keeps its data, set DATABASE_URL, or create it with "
           "'gatehouse migrate')\n";
    return nullptr;
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
