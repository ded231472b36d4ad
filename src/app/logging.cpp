#include "app/logging.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "core/log.hpp"
#include "core/utf8.hpp"

namespace gatehouse::app {
namespace {

// Text as a JSON string body. Invalid UTF-8 (a client's bytes in a detail) is escaped byte by
// byte as \u00XX, so every line stays valid JSON.
void appendEscaped(std::string_view text, spdlog::memory_buf_t& dest) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool utf8 = core::isValidUtf8(text);
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (!utf8 && u >= 0x80) {
      const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4U], kHex[u & 15U]};
      dest.append(esc, esc + sizeof esc);
    } else if (c == '"' || c == '\\') {
      dest.push_back('\\');
      dest.push_back(c);
    } else if (u < 0x20) {
      const char esc[] = {'\\', 'u', '0', '0', kHex[u >> 4U], kHex[u & 15U]};
      dest.append(esc, esc + sizeof esc);
    } else {
      dest.push_back(c);
    }
  }
}

bool isKey(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// "key=value" with a lower-case key; the key and value split at the first '='.
std::optional<std::pair<std::string_view, std::string_view>> keyValue(std::string_view token) {
  const auto eq = token.find('=');
  if (eq == std::string_view::npos || !isKey(token.substr(0, eq))) return std::nullopt;
  return std::pair{token.substr(0, eq), token.substr(eq + 1)};
}

std::vector<std::string_view> words(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find(' ', start);
    out.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

// The log line's message as JSON members, so a pipeline can filter on them. The messages follow
// one convention: leading key=value pairs (request_id=..., route=..., status=...), then either
// an event name followed by more pairs ("auth_failure code=... detail=...": a value runs to the
// next pair, so a detail may hold spaces) or free text. Digits-only values become numbers; the
// free text is "msg"; names never repeat (a later one is dropped).
class JsonFields final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    const std::vector<std::string_view> tokens =
        words(std::string_view(msg.payload.data(), msg.payload.size()));
    std::vector<std::pair<std::string_view, std::string_view>> fields;
    std::size_t i = 0;
    for (; i < tokens.size(); ++i) {
      const auto kv = keyValue(tokens[i]);
      if (!kv) break;
      fields.push_back(*kv);
    }
    std::string_view event;
    std::string tail_text;
    std::vector<std::pair<std::string_view, std::string>> tail;
    if (i + 1 < tokens.size() && isKey(tokens[i]) && keyValue(tokens[i + 1])) {
      event = tokens[i];
      // `detail=` is last by convention and holds outside text: nothing after it is a pair, so
      // a provider's error text cannot add members.
      bool in_detail = false;
      for (++i; i < tokens.size(); ++i) {
        const auto kv = in_detail ? std::nullopt : keyValue(tokens[i]);
        if (kv) {
          tail.emplace_back(kv->first, std::string(kv->second));
          in_detail = kv->first == "detail";
        } else {
          tail.back().second.append(" ").append(tokens[i]);
        }
      }
    } else {
      for (; i < tokens.size(); ++i)
        tail_text.append(tail_text.empty() ? "" : " ").append(tokens[i]);
    }
    std::vector<std::string_view> seen{"time", "level", "msg", "event"};
    const auto member = [&](std::string_view key, std::string_view value) {
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) return;
      seen.push_back(key);
      dest.append(std::string_view(",\""));
      dest.append(key);
      dest.append(std::string_view("\":"));
      // Numbers only for the members that always are (a field keeps one type on every line).
      static constexpr std::string_view kNumeric[] = {"status", "duration_us", "user_id", "code"};
      const bool number =
          std::find(std::begin(kNumeric), std::end(kNumeric), key) != std::end(kNumeric) &&
          !value.empty() && value.size() < 16 &&
          value.find_first_not_of("0123456789") == std::string_view::npos &&
          (value.size() == 1 || value[0] != '0');
      if (number) {
        dest.append(value);
        return;
      }
      dest.push_back('"');
      appendEscaped(value, dest);
      dest.push_back('"');
    };
    for (const auto& [k, v] : fields) member(k, v);
    if (!event.empty()) {
      dest.append(std::string_view(",\"event\":\""));
      appendEscaped(event, dest);
      dest.push_back('"');
    }
    for (const auto& [k, v] : tail) member(k, v);
    if (!tail_text.empty() || (fields.empty() && event.empty())) {
      dest.append(std::string_view(",\"msg\":\""));
      appendEscaped(tail_text, dest);
      dest.push_back('"');
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonFields>();
  }
};

// The message of a text line, each control character (a line break, a terminal escape) and
// each byte that is not UTF-8 written as \xNN: outside text in a message (a provider's error
// parameter, a forwarded header) could forge a whole log line or rewrite a terminal (an outside
// attack). Printable text, spaces included, is written as it is.
class TextMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    static constexpr char kHex[] = "0123456789abcdef";
    const std::string_view text(msg.payload.data(), msg.payload.size());
    // Every request's line goes through here: plain ASCII, nearly always, is copied at once.
    const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
      const auto u = static_cast<unsigned char>(c);
      return u >= 0x20 && u < 0x7f && c != '\\';
    });
    if (plain) {
      dest.append(text.data(), text.data() + text.size());
      return;
    }
    const auto escapeByte = [&](unsigned char u) {
      const char esc[] = {'\\', 'x', kHex[u >> 4U], kHex[u & 15U]};
      dest.append(esc, esc + sizeof esc);
    };
    if (!core::isValidUtf8(text)) {
      for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f || c == '\\')
          escapeByte(u);
        else
          dest.push_back(c);
      }
      return;
    }
    // Valid UTF-8: also the code points that break a line or reorder what a terminal shows
    // (C1 controls, NEL, U+2028/2029, the bidirectional marks and overrides), as \u{XXXX} (a
    // review). A backslash is \x5c, so no escape can be forged.
    for (std::size_t i = 0; i < text.size();) {
      const auto u = static_cast<unsigned char>(text[i]);
      if (u < 0x80) {
        if (u < 0x20 || u == 0x7f || u == '\\')
          escapeByte(u);
        else
          dest.push_back(text[i]);
        ++i;
        continue;
      }
      const std::size_t n = u >= 0xF0 ? 4 : u >= 0xE0 ? 3 : 2;
      std::uint32_t cp = u & (n == 2 ? 0x1FU : n == 3 ? 0x0FU : 0x07U);
      for (std::size_t k = 1; k < n; ++k)
        cp = (cp << 6U) | (static_cast<unsigned char>(text[i + k]) & 0x3FU);
      const bool hidden = (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
                          (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
      if (hidden) {
        const std::string esc = fmt::format("\\u{{{:04X}}}", cp);
        dest.append(esc.data(), esc.data() + esc.size());
      } else {
        dest.append(text.data() + i, text.data() + i + n);
      }
      i += n;
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessage>();
  }
};

}  // namespace

void setupLogging(bool json, const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>("gatehouse",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (json) {
    formatter->add_flag<JsonFields>('j').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l"%j})");
  } else {
    formatter->add_flag<TextMessage>('k').set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %k");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace gatehouse::app
