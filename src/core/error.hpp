#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace gatehouse::core {

// The canonical error-code set (after absl::StatusCode). Codes become HTTP statuses in one place.
enum class Errc {
  InvalidArgument,
  NotFound,
  AlreadyExists,
  Unauthenticated,
  PermissionDenied,
  ResourceExhausted,
  FailedPrecondition,
  Unavailable,
  Internal,
  WouldBlock,  // the answer needs storage or the network, and this thread may not wait
  Aborted,     // a compare-and-set lost: the row is no longer as the caller read it
};

std::string_view errcName(Errc code);

// Which uniqueness an AlreadyExists broke, so callers branch on a value, never on message text.
enum class Conflict { None, Email, Username, Identity, Other };

// The Conflict of a unique column or constraint name ("email", "username", "identity").
Conflict conflictOf(std::string_view column);

// An error value: `message` is for logs only and never shown to clients.
struct Error {
  Errc code;
  std::string message;
  Conflict conflict = Conflict::None;  // with AlreadyExists
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> makeError(Errc code, std::string message) {
  return tl::unexpected<Error>(Error{code, std::move(message)});
}

}  // namespace gatehouse::core
