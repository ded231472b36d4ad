#include "config/sources.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/ascii.hpp"
#include "core/files.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not in <cstdlib>

namespace gatehouse::config {
namespace {

using core::Errc;

// Larger files are refused before they are read: a configuration is a few kilobytes.
constexpr std::uintmax_t kMaxConfigFileBytes = 1U << 20U;

constexpr std::string_view kOidcFields[] = {"ISSUER", "CLIENT_ID",    "CLIENT_SECRET",
                                            "SCOPES", "ID_TOKEN_ALG", "TRUST_AMR"};

// Blanks around a line's parts: spaces, tabs and CRs (a file written with CRLF line ends).
std::string_view trim(std::string_view s) { return core::trimAscii(s, " \t\r"); }

bool validKey(std::string_view key) {
  if (key.empty() || (std::isdigit(static_cast<unsigned char>(key[0])) != 0)) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The value part of a line (after '='): quoted or plain. Returns an error text, or "" on success.
std::string parseValue(std::string_view rest, std::string& out) {
  const bool spaced = !rest.empty() && (rest[0] == ' ' || rest[0] == '\t');
  rest = trim(rest);
  if (rest.empty()) return {};
  const char quote = rest[0];
  if (quote == '#' && spaced) return {};  // "KEY= # comment" is empty; "KEY=#fff" is not
  if (quote != '"' && quote != '\'') {
    // A plain value ends at a " #" comment, as in a shell.
    for (std::size_t i = 1; i < rest.size(); ++i) {
      if (rest[i] == '#' && (rest[i - 1] == ' ' || rest[i - 1] == '\t')) {
        rest = trim(rest.substr(0, i));
        break;
      }
    }
    out = std::string(rest);
    return {};
  }
  std::size_t i = 1;
  for (; i < rest.size() && rest[i] != quote; ++i) {
    if (quote == '"' && rest[i] == '\\' && i + 1 < rest.size() &&
        std::string_view("\"\\$`").find(rest[i + 1]) != std::string_view::npos) {
      out.push_back(rest[++i]);
      continue;
    }
    out.push_back(rest[i]);
  }
  if (i >= rest.size()) return std::string("unterminated ") + quote + " quote";
  const std::string_view after = trim(rest.substr(i + 1));
  if (!after.empty() && after[0] != '#') return "text after the closing quote";
  return {};
}

const std::vector<std::string>& pathSettingsExtra() {
  static const std::vector<std::string> kNames{"WEBAUTHN_TRUST_STORE"};
  return kNames;
}

// Settings whose value is a file or folder: relative ones from the file resolve against its
// folder.
bool isPathSetting(const std::string& name) {
  return name.ends_with("_FILE") || name.ends_with("_DIR") ||
         std::find(pathSettingsExtra().begin(), pathSettingsExtra().end(), name) !=
             pathSettingsExtra().end();
}

std::string resolveSqliteUrl(const std::string& url, const std::filesystem::path& base) {
  constexpr std::string_view kPrefix = "sqlite:///";
  if (!url.starts_with(kPrefix) || url.size() == kPrefix.size() || url[kPrefix.size()] == '/')
    return url;
  return "sqlite:///" + (base / url.substr(kPrefix.size())).lexically_normal().string();
}

}  // namespace

bool isSetting(const std::string& name, const std::vector<std::string>& providers) {
  if (variables().contains(name)) return true;
  if (!name.starts_with("OIDC_")) return false;
  for (const std::string& provider : providers) {
    const std::string prefix = oidcVariablePrefix(provider);
    for (const std::string_view field : kOidcFields)
      if (name == prefix + std::string(field)) return true;
  }
  return false;
}

std::string closestSetting(const std::string& name) {
  std::string best;
  std::size_t best_distance = 4;
  for (const auto& [known, meaning] : variables()) {
    const std::size_t d = editDistance(name, known);
    if (d < best_distance) {
      best_distance = d;
      best = known;
    }
  }
  return best;
}

core::Result<std::map<std::string, FileValue>> parseConfigFile(
    std::string_view text, const std::string& filename,
    const std::function<bool(const std::string&)>& known) {
  std::map<std::string, FileValue> values;
  std::vector<std::string> errors;
  int number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    std::string_view line =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    start = end == std::string_view::npos ? text.size() : end + 1;
    ++number;
    const std::string where = filename + ":" + std::to_string(number) + ": ";
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.starts_with("export ") || line.starts_with("export\t")) line = trim(line.substr(7));
    const auto eq = line.find('=');
    const std::string key(trim(line.substr(0, eq == std::string_view::npos ? 0 : eq)));
    if (eq == std::string_view::npos || !validKey(key)) {
      errors.push_back(where + "not KEY=VALUE");
      continue;
    }
    std::string value;
    if (std::string why = parseValue(line.substr(eq + 1), value); !why.empty()) {
      errors.push_back(where + key + ": " + why);
      continue;
    }
    if (key == "GATEHOUSE_CONFIG_FILE") {
      errors.push_back(where + "GATEHOUSE_CONFIG_FILE cannot be set inside the file");
      continue;
    }
    if (known && !known(key)) {
      const std::string suggestion = closestSetting(key);
      errors.push_back(where + "unknown setting " + key +
                       (suggestion.empty() ? "" : " (did you mean " + suggestion + "?)"));
      continue;
    }
    if (const auto it = values.find(key); it != values.end()) {
      errors.push_back(where + key + " is already set on line " + std::to_string(it->second.line));
      continue;
    }
    values.emplace(key, FileValue{std::move(value), number});
  }
  if (!errors.empty()) {
    std::string message;
    for (const auto& e : errors) message += (message.empty() ? "" : "; ") + e;
    return core::makeError(Errc::InvalidArgument, message);
  }
  return values;
}

core::Result<Sources> Sources::read(std::optional<std::filesystem::path> file,
                                    const Lookup& environment) {
  Sources s;
  s.environment_ = environment;
  if (!file) {
    if (auto named = environment("GATEHOUSE_CONFIG_FILE"); named && !named->empty()) file = *named;
  }
  if (!file) return s;
  // A regular file of at most 1 MiB: a FIFO is refused, not waited on.
  const auto read = core::readSmallFile(*file, kMaxConfigFileBytes);
  if (!read) {
    std::error_code ec;
    if (read.error().code == Errc::InvalidArgument && std::filesystem::is_regular_file(*file, ec))
      return core::makeError(Errc::InvalidArgument,
                             "configuration file " + file->string() + ": larger than 1 MiB");
    const std::string& why = read.error().message;
    const auto reason = why.rfind(": ");
    return core::makeError(Errc::NotFound,
                           "configuration file " + file->string() + ": cannot read it (" +
                               (reason == std::string::npos ? why : why.substr(reason + 2)) + ")");
  }
  // OIDC_<NAME>_* keys are known once OIDC_PROVIDERS is: from the environment or the file itself.
  std::vector<std::string> providers;
  auto names = environment("OIDC_PROVIDERS");
  std::string body = *read;
  // Editors on Windows start UTF-8 files with a byte-order mark; it is not part of the first key.
  if (body.starts_with("\xEF\xBB\xBF")) body.erase(0, 3);
  if (!names || names->empty()) {  // set empty, it is unset (value() reads it so)
    names.reset();
    auto first = parseConfigFile(body, file->string(), nullptr);
    if (first) {
      if (auto it = first->find("OIDC_PROVIDERS"); it != first->end()) names = it->second.value;
    }
  }
  if (names) {
    std::stringstream list(*names);
    for (std::string item; std::getline(list, item, ',');) {
      item = std::string(trim(item));
      if (!item.empty()) providers.push_back(item);
    }
  }
  auto values = parseConfigFile(body, file->string(), [&providers](const std::string& key) {
    return isSetting(key, providers);
  });
  if (!values) return tl::unexpected(values.error());
  s.values_ = std::move(*values);
  s.file_ = std::filesystem::absolute(*file).lexically_normal();
  return s;
}

std::optional<std::string> Sources::value(const std::string& name) const {
  // An empty variable is unset (load() reads "" so): it never hides the file's line, which
  // docker-compose's ${VAR} of an unset host variable or systemd's Environment=VAR= would do.
  if (auto v = environment_(name); v && !v->empty()) return v;
  if (!file_) return std::nullopt;
  const std::filesystem::path base = file_->parent_path();
  const auto it = values_.find(name);
  if (it == values_.end()) {
    // The default database lives next to the file, not in whatever folder the service starts in.
    if (name == "DATABASE_URL")
      return resolveSqliteUrl("sqlite:///./gatehouse-data/gatehouse.db", base);
    return std::nullopt;
  }
  const std::string& v = it->second.value;
  if (name == "DATABASE_URL") return resolveSqliteUrl(v, base);
  if (isPathSetting(name) && !v.empty() && v != "-" && std::filesystem::path(v).is_relative())
    return (base / v).lexically_normal().string();
  return v;
}

Lookup Sources::lookup() const {
  return [self = *this](const std::string& name) { return self.value(name); };
}

std::string Sources::origin(const std::string& name) const {
  if (auto v = environment_(name); v && !v->empty()) return "environment";
  if (const auto it = values_.find(name); it != values_.end())
    return file_->string() + ":" + std::to_string(it->second.line);
  return "default";
}

std::vector<std::string> Sources::emptyOverFile() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : values_) {
    if (auto v = environment_(name); v && v->empty() && !entry.value.empty()) out.push_back(name);
  }
  return out;
}

std::vector<std::string> Sources::unknownEnvironment(const std::vector<std::string>& names) const {
  std::vector<std::string> out;
  for (const std::string& name : names)
    if (name.starts_with("GATEHOUSE_") && !variables().contains(name)) out.push_back(name);
  return out;
}

bool isSecretSetting(const std::string& name) {
  return name.ends_with("SECRET_KEY") || name.ends_with("CLIENT_SECRET") ||
         name.ends_with("_TOKEN") || name.ends_with("ENCRYPTION_KEY");
}

std::vector<std::string> describeSources(const Sources& sources) {
  std::vector<std::string> names;
  for (const auto& [name, meaning] : variables()) names.push_back(name);
  for (const auto& [name, value] : sources.values_)
    if (!variables().contains(name)) names.push_back(name);
  // Provider settings given in the environment only.
  if (const auto providers = sources.value("OIDC_PROVIDERS")) {
    std::stringstream list(*providers);
    for (std::string item; std::getline(list, item, ',');) {
      const std::string_view provider = trim(item);
      const std::string prefix = oidcVariablePrefix(provider);
      for (const std::string_view field : kOidcFields) {
        const std::string name = prefix + std::string(field);
        if (!provider.empty() && std::find(names.begin(), names.end(), name) == names.end())
          names.push_back(name);
      }
    }
  }
  std::vector<std::string> lines;
  for (const std::string& name : names) {
    const auto value = sources.value(name);
    if (!value || value->empty()) continue;
    std::string shown = isSecretSetting(name)    ? std::string("(set, not shown)")
                        : name.ends_with("_URL") ? redactUrl(*value)
                                                 : *value;
    std::string line = name;
    line.resize(std::max<std::size_t>(line.size(), 34), ' ');
    lines.push_back(line + "= " + shown + "   (" + sources.origin(name) + ")");
  }
  return lines;
}

Lookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str()))  // NOLINT(concurrency-mt-unsafe)
      return std::string(v);
    return std::nullopt;
  };
}

std::vector<std::string> environmentNames() {
  std::vector<std::string> names;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    names.emplace_back(entry.substr(0, entry.find('=')));
  }
  return names;
}

}  // namespace gatehouse::config
