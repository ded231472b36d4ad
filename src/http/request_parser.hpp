#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "http/message.hpp"

namespace gatehouse::http {

struct ParserLimits {
  // The request line and header fields together; also the longest chunk-size line and the
  // trailer section of a chunked body.
  std::size_t max_header_bytes = 8U << 10U;
  std::size_t max_body_bytes = 1U << 20U;
};

// A strict, incremental HTTP/1.1 request parser (RFC 9112) over a connection's unread bytes: no
// sockets, no allocation beyond the Request it fills. What it refuses it answers with a status
// and the connection is closed, since whatever follows cannot be trusted to be the next request:
// - 431: no end of the header section within max_header_bytes;
// - 413: a Content-Length, a chunk or a body in total over max_body_bytes;
// - 505: an HTTP version other than 1.0 and 1.1;
// - 501: a transfer coding other than chunked alone;
// - 417: an HTTP/1.1 Expect field with an expectation other than 100-continue (RFC 9110 §10.1.1);
// - 400: everything else malformed or ambiguous: a bare LF or CR, a control character, a space
//   before a field's colon or a folded line, a bad or repeated Content-Length, Content-Length
//   with Transfer-Encoding, Transfer-Encoding in HTTP/1.0, in two fields or not ending in
//   chunked, Connection naming Content-Length, Transfer-Encoding or Host, an HTTP/1.1
//   request without exactly one valid Host, two Content-Type fields (a proxy keeping the last
//   would read another body than the handler reading the first), a chunk-size line or trailer
//   section over
//   max_header_bytes, a chunk not followed by CRLF, a trailer field that frames or routes the
//   message (Content-Length, Transfer-Encoding, Host, Connection) or says what its body is
//   (Content-Type).
// Every limit is checked before the bytes it covers are parsed.
class RequestParser {
 public:
  enum class Result { NeedMore, Done, Refused };

  explicit RequestParser(ParserLimits limits) : limits_(limits) {}

  // Parses as far as `input` (the connection's unread bytes) allows. `consumed` is how many of
  // them are used up (the caller drops them); unconsumed bytes must be offered again, followed
  // by whatever arrives next. After Done, bytes beyond the request belong to the next one.
  Result parse(std::string_view input, std::size_t& consumed);

  // Once the header section is in (the request has begun; its body may still be arriving).
  bool headerDone() const { return phase_ != Phase::Head; }
  // After Done: method, target, path, query, headers (names lower-case) and body. peer_ip and
  // everything middleware sets are left empty.
  Request& request() { return request_; }
  // 10 or 11.
  unsigned version() const { return version_; }
  bool keepAlive() const { return keep_alive_; }
  bool isHead() const { return request_.method == "HEAD"; }
  // Once the header section is in: an HTTP/1.1 client said `Expect: 100-continue` and has a body
  // to send, which it holds back until it reads an interim 100 (or tires of waiting). An HTTP/1.0
  // client's expectation is ignored (RFC 9110 §10.1.1).
  bool expectsContinue() const { return expects_continue_; }
  // Once the header section is in: the body's length when Content-Length announced it (not for a
  // chunked body).
  std::optional<std::uint64_t> announcedBodyBytes() const {
    if (phase_ != Phase::Body) return std::nullopt;
    return remaining_ + request_.body.size();
  }
  // After Refused: the status to answer before closing.
  int refusal() const { return refusal_; }

  // Ready for the next request on the connection.
  void reset();

 private:
  enum class Phase { Head, Body, ChunkSize, ChunkData, ChunkEnd, Trailers, Done, Refused };

  Result refuse(int status);
  Result parseHead(std::string_view input, std::size_t& consumed);
  Result parseHeadLines(std::string_view head);
  Result framing();
  // The next line of `input` with its CRLF, found within `room` bytes and resuming where the last
  // call stopped; nullopt with `result` NeedMore, or Refused (400) for a bare LF or no line end
  // within `room`.
  std::optional<std::string_view> takeLine(std::string_view input, std::size_t room,
                                           Result& result);
  Result parseChunkSize(std::string_view input, std::size_t& consumed);
  Result parseTrailers(std::string_view input, std::size_t& consumed);

  ParserLimits limits_;
  Phase phase_ = Phase::Head;
  Request request_;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool chunked_ = false;
  bool expects_continue_ = false;
  int refusal_ = 0;
  std::size_t scanned_ = 0;        // header bytes already searched for their end
  std::size_t lead_ = 0;           // empty lines before the request line
  std::size_t line_scanned_ = 0;   // of a chunk-size or trailer line not yet complete
  std::uint64_t remaining_ = 0;    // of the body or the current chunk
  std::size_t trailer_bytes_ = 0;  // of the trailer section so far
};

// RFC 3986 §3.2.2/§3.2.3 host[:port]: a reg-name or an IP literal in brackets, an optional
// numeric port; nothing that could smuggle a path or user info.
bool validHost(std::string_view host);

}  // namespace gatehouse::http
