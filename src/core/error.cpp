#include "core/error.hpp"

namespace gatehouse::core {

std::string_view errcName(Errc code) {
  switch (code) {
    case Errc::InvalidArgument:
      return "InvalidArgument";
    case Errc::NotFound:
      return "NotFound";
    case Errc::AlreadyExists:
      return "AlreadyExists";
    case Errc::Unauthenticated:
      return "Unauthenticated";
    case Errc::PermissionDenied:
      return "PermissionDenied";
    case Errc::ResourceExhausted:
      return "ResourceExhausted";
    case Errc::FailedPrecondition:
      return "FailedPrecondition";
    case Errc::Unavailable:
      return "Unavailable";
    case Errc::Internal:
      return "Internal";
    case Errc::WouldBlock:
      return "WouldBlock";
    case Errc::Aborted:
      return "Aborted";
  }
  return "Unknown";
}

Conflict conflictOf(std::string_view column) {
  if (column == "email") return Conflict::Email;
  if (column == "username") return Conflict::Username;
  if (column == "identity") return Conflict::Identity;
  return Conflict::Other;
}

}  // namespace gatehouse::core
