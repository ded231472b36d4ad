#pragma once

#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace gatehouse::op {

// The provider's refusals, named as the protocols name them (RFC 6749 §4.1.2.1 and §5.2,
// RFC 6750 §3.1, OIDC Core §3.1.2.6). api/ turns each into the redirect, page or JSON answer.
enum class OpErrc {
  InvalidRequest,
  UnauthorizedClient,
  AccessDenied,
  UnsupportedResponseType,
  InvalidScope,
  ServerError,
  TemporarilyUnavailable,
  InvalidClient,
  InvalidGrant,
  UnsupportedGrantType,
  LoginRequired,
  ConsentRequired,
  RequestNotSupported,
  RequestUriNotSupported,
  InvalidToken,
  InsufficientScope,
};

// The protocol's name ("invalid_request").
std::string_view errorName(OpErrc code);

// `description` is fixed text safe to send (error_description); `detail` goes to the log only.
struct OpError {
  OpErrc code = OpErrc::ServerError;
  std::string description;
  std::string detail;
};

template <class T>
using Result = tl::expected<T, OpError>;

inline tl::unexpected<OpError> fail(OpErrc code, std::string description, std::string detail = {}) {
  return tl::unexpected<OpError>(OpError{code, std::move(description), std::move(detail)});
}

}  // namespace gatehouse::op
