#include "http/request_parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "core/ascii.hpp"

namespace gatehouse::http {
namespace {

// RFC 9110 §5.6.2 tchar: the characters of a method and a field name.
constexpr std::array<bool, 256> kToken = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = core::isTokenChar(static_cast<char>(c));
  return t;
}();

// RFC 9110 §5.5 field-value characters: visible ASCII, obs-text, space and tab; never a control
// character (NUL, CR, LF, DEL, ...).
constexpr std::array<bool, 256> kFieldValue = [] {
  std::array<bool, 256> t{};
  t['\t'] = true;
  for (int c = 0x20; c <= 0x7e; ++c) t[c] = true;
  for (int c = 0x80; c <= 0xff; ++c) t[c] = true;
  return t;
}();

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return kToken[static_cast<unsigned char>(c)]; });
}

bool isFieldValue(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return kFieldValue[static_cast<unsigned char>(c)]; });
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

using core::hexValue;

// Calls `f` with each non-empty, OWS-trimmed element of a comma-separated list.
template <typename F>
void forEachListItem(std::string_view list, F&& f) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = core::trimAscii(list.substr(0, comma));
    if (!item.empty()) f(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// RFC 9112 §7.1.1: *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ). Read past
// (no extension is understood here) but held to the grammar, as every parser on the path must
// agree where a chunk's data starts.
bool validChunkExtensions(std::string_view s) {
  const auto skipBws = [&] {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  };
  const auto takeToken = [&] {
    std::size_t n = 0;
    while (n < s.size() && kToken[static_cast<unsigned char>(s[n])]) ++n;
    s.remove_prefix(n);
    return n > 0;
  };
  const auto takeQuoted = [&] {
    s.remove_prefix(1);  // the opening quote
    while (!s.empty() && s.front() != '"') {
      if (s.front() == '\\') s.remove_prefix(1);  // a quoted pair: any value character
      if (s.empty() || !kFieldValue[static_cast<unsigned char>(s.front())]) return false;
      s.remove_prefix(1);
    }
    if (s.empty()) return false;
    s.remove_prefix(1);
    return true;
  };
  for (;;) {
    if (s.empty()) return true;
    skipBws();  // only ever before a ";"
    if (s.empty() || s.front() != ';') return false;
    s.remove_prefix(1);
    skipBws();
    if (!takeToken()) return false;
    const auto after_name = s;
    skipBws();  // only ever before a "=" (or, above, a ";")
    if (s.empty() || s.front() != '=') {
      s = after_name;
      continue;
    }
    s.remove_prefix(1);
    skipBws();
    if (!(s.starts_with('"') ? takeQuoted() : takeToken())) return false;
  }
}

// A field line without its CRLF: name, colon, value. The name must be a token ending right at
// the colon (RFC 9112 §5.1: no space before it; a line starting with space is obs-fold, refused).
bool splitFieldLine(std::string_view line, std::string_view& name, std::string_view& value) {
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  name = line.substr(0, colon);
  value = core::trimAscii(line.substr(colon + 1));
  return isToken(name) && isFieldValue(value);
}

// The position of the next LF in `s` from `from` that ends a CRLF; npos when there is none yet;
// `bare` set when an LF without its CR comes first.
std::size_t findCrlf(std::string_view s, std::size_t from, bool& bare) {
  bare = false;
  if (from >= s.size()) return std::string_view::npos;
  const void* lf = std::memchr(s.data() + from, '\n', s.size() - from);
  if (lf == nullptr) return std::string_view::npos;
  const auto i = static_cast<std::size_t>(static_cast<const char*>(lf) - s.data());
  if (i == 0 || s[i - 1] != '\r') bare = true;
  return i;
}

}  // namespace

bool validHost(std::string_view host) {
  const auto digits = [](std::string_view s) { return std::all_of(s.begin(), s.end(), isDigit); };
  if (host.empty() || host.size() > 255) return false;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    for (const char c : host.substr(1, close - 1)) {
      if (hexValue(c) < 0 && c != ':' && c != '.') return false;
    }
    host.remove_prefix(close + 1);
    if (host.empty()) return true;
    if (host.front() != ':') return false;
    return digits(host.substr(1));
  }
  const auto colon = host.find(':');
  const std::string_view name = host.substr(0, colon);
  if (name.empty()) return false;
  for (const char c : name) {
    const char lower = core::lowerAscii(c);
    const bool alnum = isDigit(c) || (lower >= 'a' && lower <= 'z');
    if (!alnum && c != '-' && c != '.' && c != '_') return false;
  }
  return colon == std::string_view::npos || digits(host.substr(colon + 1));
}

void RequestParser::reset() {
  phase_ = Phase::Head;
  request_ = Request{};
  version_ = 11;
  keep_alive_ = false;
  chunked_ = false;
  expects_continue_ = false;
  refusal_ = 0;
  scanned_ = 0;
  lead_ = 0;
  line_scanned_ = 0;
  remaining_ = 0;
  trailer_bytes_ = 0;
}

RequestParser::Result RequestParser::refuse(int status) {
  phase_ = Phase::Refused;
  refusal_ = status;
  return Result::Refused;
}

RequestParser::Result RequestParser::parse(std::string_view input, std::size_t& consumed) {
  consumed = 0;
  for (;;) {
    const std::string_view rest = input.substr(consumed);
    std::size_t used = 0;
    switch (phase_) {
      case Phase::Head: {
        const auto r = parseHead(rest, used);
        consumed += used;
        if (r != Result::Done) return r;
        break;
      }
      case Phase::Body:
      case Phase::ChunkData: {
        if (rest.empty()) return Result::NeedMore;
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, rest.size()));
        // A body of known length grows by doubling as its bytes come, never past its length:
        // what it holds (the server's body budget counts it) is at most twice what was sent. Room
        // for all of it at once let 4 KiB sent hold a whole body's worth (a review).
        if (phase_ == Phase::Body && request_.body.size() + n > request_.body.capacity()) {
          const std::size_t whole = request_.body.size() + static_cast<std::size_t>(remaining_);
          const std::size_t want =
              std::min(whole, std::max(2 * request_.body.capacity(), request_.body.size() + n));
          // A fresh string takes exactly `want` (reserve() on this one would round up to twice
          // its capacity, past the body's length).
          std::string room;
          room.reserve(want);
          room.append(request_.body);
          request_.body.swap(room);
        }
        request_.body.append(rest.data(), n);
        consumed += n;
        remaining_ -= n;
        if (remaining_ == 0) phase_ = phase_ == Phase::Body ? Phase::Done : Phase::ChunkEnd;
        break;
      }
      case Phase::ChunkEnd:
        if (rest.empty() || (rest.size() == 1 && rest[0] == '\r')) return Result::NeedMore;
        if (rest[0] != '\r' || rest[1] != '\n') return refuse(400);
        consumed += 2;
        phase_ = Phase::ChunkSize;
        break;
      case Phase::ChunkSize: {
        const auto r = parseChunkSize(rest, used);
        consumed += used;
        if (r != Result::Done) return r;
        break;
      }
      case Phase::Trailers: {
        const auto r = parseTrailers(rest, used);
        consumed += used;
        if (r != Result::Done) return r;
        break;
      }
      case Phase::Done:
        return Result::Done;
      case Phase::Refused:
        return Result::Refused;
    }
  }
}

RequestParser::Result RequestParser::parseHead(std::string_view input, std::size_t& consumed) {
  consumed = 0;
  // RFC 9112 §2.2: empty lines before the request line are ignored; they count toward the limit.
  // Where the last call stopped, so bytes trickled in one at a time are each looked at once.
  while (input.substr(lead_, 2) == "\r\n") lead_ += 2;
  const std::size_t lead = lead_;
  const std::size_t limit = limits_.max_header_bytes;
  const std::string_view window = input.substr(0, std::min(input.size(), limit));
  std::size_t from = std::max(scanned_, lead);
  for (;;) {
    bool bare = false;
    const auto lf = findCrlf(window, from, bare);
    if (bare) return refuse(400);
    if (lf == std::string_view::npos) break;
    if (lf >= lead + 2 && window[lf - 2] == '\n') {  // an empty line: the header section ends
      const auto r = parseHeadLines(input.substr(lead, lf + 1 - lead));
      if (r != Result::Done) return r;
      consumed = lf + 1;
      return framing();
    }
    from = lf + 1;
  }
  if (input.size() >= limit) return refuse(431);
  scanned_ = window.size();
  return Result::NeedMore;
}

RequestParser::Result RequestParser::parseHeadLines(std::string_view head) {
  // The request line: method SP request-target SP HTTP-version (RFC 9112 §3).
  const auto eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return refuse(400);
  const auto method = line.substr(0, sp1);
  const auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const auto version = line.substr(sp2 + 1);
  if (!isToken(method) || target.empty()) return refuse(400);
  if (!std::all_of(target.begin(), target.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
    return refuse(400);
  // No request-target form has a fragment (RFC 9112 §3.2, RFC 9110 §4.1): a '#' stayed in the
  // path, and a mail link sent as it was (".../reset-password#token=...") put a live token into
  // the request log (an outside attack).
  if (target.find('#') != std::string_view::npos) return refuse(400);
  if (version.size() != 8 || !version.starts_with("HTTP/") || !isDigit(version[5]) ||
      version[6] != '.' || !isDigit(version[7]))
    return refuse(400);
  // HTTP/1.0 and 1.1 only: no client sends a later 1.x, and every parser on the path must agree.
  if (version[5] != '1' || (version[7] != '0' && version[7] != '1')) return refuse(505);
  version_ = version[7] == '0' ? 10 : 11;
  request_.method = method;
  request_.target = target;
  // RFC 9112 §3.2.2: a server MUST accept the absolute-form (GET http://host/p HTTP/1.1, what
  // clients send to a proxy): its path and query route the request. Its authority is checked as a
  // Host is and not used otherwise (links come from GATEHOUSE_PUBLIC_URL); `target` stays as sent.
  std::string_view origin = target;
  if (target.front() != '/') {
    const auto scheme_end = target.find("://");
    const auto scheme = target.substr(0, scheme_end);
    if (scheme_end != std::string_view::npos &&
        (core::equalsIgnoringCase(scheme, "http") || core::equalsIgnoringCase(scheme, "https"))) {
      const std::string_view rest = target.substr(scheme_end + 3);
      const auto end = rest.find_first_of("/?");
      if (!validHost(rest.substr(0, end))) return refuse(400);
      origin = end == std::string_view::npos ? std::string_view() : rest.substr(end);
      if (origin.empty() || origin.front() == '?') request_.path = "/";  // http://host?x
    } else if (!(target == "*" && method == "OPTIONS")) {
      // No form RFC 9112 §3.2 has: refused, not routed. The router once read "*metrics" and
      // "Xhealthz" as /metrics and /healthz, past a proxy's rule on the path (an outside
      // attack, through HAProxy); "OPTIONS *" stays a path no route has.
      return refuse(400);
    }
  }
  const auto q = origin.find('?');
  request_.path += origin.substr(0, q);
  if (q != std::string_view::npos) request_.query = origin.substr(q + 1);

  request_.headers.reserve(16);
  while (!head.starts_with("\r\n")) {
    const auto end = head.find("\r\n");
    std::string_view name;
    std::string_view value;
    if (!splitFieldLine(head.substr(0, end), name, value)) return refuse(400);
    head.remove_prefix(end + 2);
    request_.headers.emplace_back(core::lowerAscii(name), std::string(value));
  }
  return Result::Done;
}

// What the header fields say about the body and the connection (RFC 9112 §6, §9.3), with the
// Host rules of §3.2.
RequestParser::Result RequestParser::framing() {
  std::size_t lengths = 0;
  std::size_t hosts = 0;
  std::size_t content_types = 0;
  std::size_t credentials = 0;
  std::size_t api_keys = 0;
  std::size_t codings_fields = 0;
  std::size_t codings = 0;
  bool chunked_last = false;
  bool close = false;
  bool keep_alive = false;
  bool expects_continue = false;
  bool expects_other = false;
  std::uint64_t length = 0;
  for (const auto& [name, value] : request_.headers) {
    if (name == "content-length") {
      ++lengths;
      if (value.empty() || !std::all_of(value.begin(), value.end(), isDigit)) return refuse(400);
      for (const char c : value) {
        length = length * 10 + static_cast<std::uint64_t>(c - '0');
        if (length > limits_.max_body_bytes) return refuse(lengths > 1 ? 400 : 413);
      }
    } else if (name == "host") {
      ++hosts;
      if (!validHost(value)) return refuse(400);
    } else if (name == "content-type") {
      // RFC 9110 §8.3, a singleton: of two, a proxy keeping the last would read another body
      // than a handler reading the first (an outside attack's note; the OpenID Provider's forms
      // read the first too: a second review).
      if (++content_types > 1) return refuse(400);
    } else if (name == "authorization") {
      // RFC 9110 §11.6.2, a singleton, and X-API-Key is ours: of two, an application behind
      // forward-auth reading the last would act on a credential Gatehouse never checked (an
      // outside attack's note: the first was taken).
      if (++credentials > 1) return refuse(400);
    } else if (name == "x-api-key") {
      if (++api_keys > 1) return refuse(400);
    } else if (name == "transfer-encoding") {
      ++codings_fields;
      forEachListItem(value, [&](std::string_view item) {
        ++codings;
        chunked_last = core::equalsIgnoringCase(item, "chunked");
      });
    } else if (name == "connection") {
      // RFC 9110 §7.6.1: a list of option names. One naming a field that frames or routes the
      // request is refused: a proxy honouring it would drop that field and read another request.
      bool tokens = true;
      forEachListItem(value, [&](std::string_view item) {
        tokens = tokens && isToken(item) && !core::equalsIgnoringCase(item, "content-length") &&
                 !core::equalsIgnoringCase(item, "transfer-encoding") &&
                 !core::equalsIgnoringCase(item, "host");
        close = close || core::equalsIgnoringCase(item, "close");
        keep_alive = keep_alive || core::equalsIgnoringCase(item, "keep-alive");
      });
      if (!tokens) return refuse(400);
    } else if (name == "expect") {
      // RFC 9110 §10.1.1: 100-continue is the one expectation there is. An empty list expects
      // nothing.
      forEachListItem(value, [&](std::string_view item) {
        if (core::equalsIgnoringCase(item, "100-continue"))
          expects_continue = true;
        else
          expects_other = true;
      });
    }
  }
  if (lengths > 1) return refuse(400);  // even when equal: one length, stated once
  if (hosts > 1 || (version_ >= 11 && hosts == 0)) return refuse(400);
  if (codings_fields > 0) {
    // RFC 9112 §6.1: faulty framing in HTTP/1.0, and never both lengths; §6.3: chunked must be
    // the final coding, and any other one is a coding we do not implement (501), since handlers
    // would otherwise see encoded bytes.
    // One field only: a proxy that keeps the last of several (or drops an empty one) would read
    // another body than ours.
    if (version_ < 11 || lengths > 0 || codings_fields > 1 || codings == 0 || !chunked_last)
      return refuse(400);
    if (codings > 1) return refuse(501);
    chunked_ = true;
  }
  // An HTTP/1.0 client's expectations are ignored: it cannot read an interim response.
  if (version_ >= 11 && expects_other) return refuse(417);
  expects_continue_ = version_ >= 11 && expects_continue && (chunked_ || length > 0);
  keep_alive_ = !close && (version_ >= 11 || keep_alive);
  if (chunked_) {
    phase_ = Phase::ChunkSize;
  } else if (length > 0) {
    // Never more up front than a small body's worth: a client that announces the limit and sends
    // nothing must not cost the limit in memory, nor a read's worth (64 KiB on each of a
    // thousand connections) that the body budget does not count (a review).
    request_.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(length, 4U << 10U)));
    remaining_ = length;
    phase_ = Phase::Body;
  } else {
    phase_ = Phase::Done;
  }
  return Result::Done;
}

std::optional<std::string_view> RequestParser::takeLine(std::string_view input, std::size_t room,
                                                        Result& result) {
  bool bare = false;
  const auto window = input.substr(0, std::min(input.size(), room));
  const auto lf = findCrlf(window, line_scanned_, bare);
  if (bare) {
    result = refuse(400);
    return std::nullopt;
  }
  if (lf == std::string_view::npos) {
    line_scanned_ = window.size();
    result = input.size() >= room ? refuse(400) : Result::NeedMore;
    return std::nullopt;
  }
  line_scanned_ = 0;
  return input.substr(0, lf + 1);
}

RequestParser::Result RequestParser::parseChunkSize(std::string_view input, std::size_t& consumed) {
  consumed = 0;
  Result result = Result::NeedMore;
  const auto taken = takeLine(input, limits_.max_header_bytes, result);
  if (!taken) return result;
  const std::string_view line = taken->substr(0, taken->size() - 2);
  // chunk-size [ chunk-ext ] (RFC 9112 §7.1).
  std::uint64_t size = 0;
  std::size_t digits = 0;
  for (; digits < line.size() && hexValue(line[digits]) >= 0; ++digits) {
    size = size * 16 + static_cast<std::uint64_t>(hexValue(line[digits]));
    if (size > limits_.max_body_bytes) return refuse(413);
  }
  if (digits == 0) return refuse(400);
  if (!validChunkExtensions(line.substr(digits))) return refuse(400);
  consumed = taken->size();
  if (size == 0) {
    phase_ = Phase::Trailers;
    return Result::Done;
  }
  if (request_.body.size() + size > limits_.max_body_bytes) return refuse(413);
  remaining_ = size;
  phase_ = Phase::ChunkData;
  return Result::Done;
}

RequestParser::Result RequestParser::parseTrailers(std::string_view input, std::size_t& consumed) {
  consumed = 0;
  const std::size_t limit = limits_.max_header_bytes;
  for (;;) {
    const std::size_t room = limit > trailer_bytes_ ? limit - trailer_bytes_ : 0;
    Result result = Result::NeedMore;
    const auto taken = takeLine(input.substr(consumed), room, result);
    if (!taken) return result;
    const std::string_view line = taken->substr(0, taken->size() - 2);
    consumed += taken->size();
    trailer_bytes_ += taken->size();
    if (line.empty()) {
      phase_ = Phase::Done;
      return Result::Done;
    }
    // Trailer fields are checked like header fields and then dropped: nothing here reads them.
    // Those that frame or route a message, or say what its body is, may not come after it (RFC
    // 9110 §6.5.1); another parser on the path that merged them would disagree about this one,
    // the next, or what the body means.
    std::string_view name;
    std::string_view value;
    if (!splitFieldLine(line, name, value)) return refuse(400);
    for (const std::string_view framing :
         {"content-length", "transfer-encoding", "host", "connection", "content-type"}) {
      if (core::equalsIgnoringCase(name, framing)) return refuse(400);
    }
  }
}

}  // namespace gatehouse::http
