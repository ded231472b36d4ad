#include "cli/database.hpp"

#include <filesystem>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

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

}  // namespace

bool refusesRootInAnotherUsersDirectory(const config::Config& config, std::ostream& err) {
  if (config.sqlite_path.empty() || ::geteuid() != 0) return false;
  std::error_code ec;
  const auto file = std::filesystem::absolute(config.sqlite_path, ec);
  if (ec) return false;
  // The database's directory: another account writing there can put a link (or a file of its
  // own) where SQLite creates one. Every directory above it: one another account can write lets
  // it swap what is below for a link, unless it is sticky (/tmp: then only the owner of an entry
  // may rename it). Both the path as written (a link on it may sit in such a directory) and the
  // one its links lead to (whose directories may be such).
  const auto writer = [](const std::filesystem::path& dir, bool parent) -> std::string {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
    const bool shielded = !parent && (st.st_mode & S_ISVTX) != 0;
    if (st.st_uid != 0) return userName(st.st_uid);
    if ((st.st_mode & S_IWOTH) != 0 && !shielded) return "every user";
    if ((st.st_mode & S_IWGRP) != 0 && !shielded) return "group " + groupName(st.st_gid);
    return {};
  };
  std::vector<std::filesystem::path> starts{file.parent_path()};
  if (auto real = std::filesystem::canonical(file.parent_path(), ec); !ec) starts.push_back(real);
  for (const auto& start : starts) {
    bool parent = true;
    for (auto dir = start;; dir = dir.parent_path(), parent = false) {
      if (const std::string who = writer(dir, parent); !who.empty()) {
        const std::string as = who.starts_with("user ") ? who.substr(5) : std::string();
        err << "gatehouse: not run as root on " << file.string() << ": " << dir.string()
            << " is writable by " << who
            << ", who could put a link there that root would follow (creating or overwriting any "
               "file); run the command as the account the server runs as"
            << (as.empty() ? std::string() : ", e.g. runuser -u " + as + " -- gatehouse ...")
            << "\n";
        return true;
      }
      if (dir == dir.parent_path()) break;
    }
  }
  return false;
}

std::unique_ptr<store::Store> openExisting(const config::Config& config, std::ostream& err) {
  if (refusesRootInAnotherUsersDirectory(config, err)) return nullptr;
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
