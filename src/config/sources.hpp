#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "core/error.hpp"

namespace gatehouse::config {

// One setting read from the configuration file, and the line it came from.
struct FileValue {
  std::string value;
  int line = 0;
};

// Parses a configuration file the way a shell or systemd's EnvironmentFile reads it:
//   # comment            blank lines and lines starting with # or ; are skipped
//   KEY=value            the value is the rest of the line, trimmed; " #" starts a comment
//   export KEY=value     "export " is allowed (the file can be sourced by a shell)
//   KEY = value          spaces around = are allowed
//   KEY="a \"b\" c"      double quotes: \" \\ \$ \` are escapes, nothing is expanded
//   KEY='a b'            single quotes: taken literally
// Refused, naming "<file>:<line>": a line that is not KEY=VALUE, an unterminated quote, text after
// a closing quote, a key set twice, and (with `known`) a key that is not a setting, with the
// closest known name as a suggestion.
[[nodiscard]] core::Result<std::map<std::string, FileValue>> parseConfigFile(
    std::string_view text, const std::string& filename,
    const std::function<bool(const std::string&)>& known);

// True for the names load() reads: every variables() entry and OIDC_<NAME>_<FIELD> for each
// provider named in `providers` (the OIDC_PROVIDERS list).
bool isSetting(const std::string& name, const std::vector<std::string>& providers);

// The known name closest to `name` (edit distance at most 3), or "".
std::string closestSetting(const std::string& name);

// Where each setting comes from: the process environment first, then the configuration file
// (`--config FILE`, else GATEHOUSE_CONFIG_FILE). Relative paths read from the file (DATABASE_URL's
// SQLite path, GATEHOUSE_DATA_DIR and every *_FILE, *_DIR and trust store setting) resolve against
// the file's folder, and so does the default database when a file is used; relative paths from
// the environment stay relative to the working directory.
class Sources {
 public:
  // `file` overrides GATEHOUSE_CONFIG_FILE. InvalidArgument naming the file and line on a bad
  // file; NotFound when it cannot be read.
  [[nodiscard]] static core::Result<Sources> read(std::optional<std::filesystem::path> file,
                                                  const Lookup& environment);

  // What load() reads.
  Lookup lookup() const;

  // "environment", "<file>:<line>" or "default".
  std::string origin(const std::string& name) const;

  // The value load() sees for `name`, or nullopt when unset.
  std::optional<std::string> value(const std::string& name) const;

  const std::optional<std::filesystem::path>& file() const { return file_; }

  // Settings the environment sets empty while the file gives them a value (the file's applies).
  std::vector<std::string> emptyOverFile() const;
  // Environment variables that look like Gatehouse settings (GATEHOUSE_*) but are not.
  std::vector<std::string> unknownEnvironment(const std::vector<std::string>& names) const;

 private:
  friend std::vector<std::string> describeSources(const Sources& sources);
  Lookup environment_;
  std::optional<std::filesystem::path> file_;
  std::map<std::string, FileValue> values_;
};

// Every setting that is set, one line each: "NAME = value   (origin)", secrets as "(set, not
// shown)" and passwords in URLs as ***.
std::vector<std::string> describeSources(const Sources& sources);

// True for settings whose value is never shown (keys, client secrets, tokens).
bool isSecretSetting(const std::string& name);

// The process environment as a Lookup.
Lookup processEnvironment();

// The names of every variable in the process environment.
std::vector<std::string> environmentNames();

}  // namespace gatehouse::config
