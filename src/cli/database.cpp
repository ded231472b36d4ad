#include "cli/database.hpp"

#include <filesystem>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gatehouse::cli {

namespace {

std::string userName(uid_t uid) {
  const passwd* p = ::getpwuid(uid);
  return p != nullptr ? p->pw_name : "uid " + std::to_string(uid);
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
  // may rename it).
  bool parent = true;
  for (auto dir = file.parent_path();; dir = dir.parent_path(), parent = false) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      const bool shielded = !parent && (st.st_mode & S_ISVTX) != 0;
      std::string who;
      std::string as;
      if (st.st_uid != 0) {
        who = "user " + userName(st.st_uid);
        as = userName(st.st_uid);
      } else if ((st.st_mode & S_IWOTH) != 0 && !shielded) {
        who = "every user";
      } else if ((st.st_mode & S_IWGRP) != 0 && !shielded) {
        who = "group " + groupName(st.st_gid);
      }
      if (!who.empty()) {
        err << "gatehouse: not run as root on " << file.string() << ": " << dir.string()
            << " is writable by " << who
            << ", who could put a link there that root would follow (creating or overwriting any "
               "file); run the command as the account the server runs as"
            << (as.empty() ? std::string() : ", e.g. runuser -u " + as + " -- gatehouse ...")
            << "\n";
        return true;
      }
    }
    if (dir == dir.parent_path()) return false;
  }
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
