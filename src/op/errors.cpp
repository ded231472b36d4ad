#include "op/errors.hpp"

namespace gatehouse::op {

std::string_view errorName(OpErrc code) {
  switch (code) {
    case OpErrc::InvalidRequest:
      return "invalid_request";
    case OpErrc::UnauthorizedClient:
      return "unauthorized_client";
    case OpErrc::AccessDenied:
      return "access_denied";
    case OpErrc::UnsupportedResponseType:
      return "unsupported_response_type";
    case OpErrc::InvalidScope:
      return "invalid_scope";
    case OpErrc::ServerError:
      return "server_error";
    case OpErrc::TemporarilyUnavailable:
      return "temporarily_unavailable";
    case OpErrc::InvalidClient:
      return "invalid_client";
    case OpErrc::InvalidGrant:
      return "invalid_grant";
    case OpErrc::UnsupportedGrantType:
      return "unsupported_grant_type";
    case OpErrc::LoginRequired:
      return "login_required";
    case OpErrc::ConsentRequired:
      return "consent_required";
    case OpErrc::RequestNotSupported:
      return "request_not_supported";
    case OpErrc::RequestUriNotSupported:
      return "request_uri_not_supported";
    case OpErrc::InvalidToken:
      return "invalid_token";
    case OpErrc::InsufficientScope:
      return "insufficient_scope";
  }
  return "server_error";
}

}  // namespace gatehouse::op
