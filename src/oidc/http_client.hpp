#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/uri_path.hpp"

namespace gatehouse::oidc {

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

// Outbound HTTP for talking to identity providers, injected so tests control it. Implementations
// verify TLS certificates and MUST be thread-safe. Unavailable when the peer cannot be reached.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  [[nodiscard]] virtual core::Result<HttpResponse> get(const std::string& url) = 0;
  [[nodiscard]] virtual core::Result<HttpResponse> postForm(
      const std::string& url, const std::vector<std::pair<std::string, std::string>>& form,
      const std::vector<std::pair<std::string, std::string>>& headers) = 0;
};

// libcurl with certificate verification always on. `extra_ca_file` adds a CA bundle (a private
// provider's CA); responses over `max_bytes` and requests over `timeout` fail.
class CurlClient final : public HttpClient {
 public:
  explicit CurlClient(std::string extra_ca_file = {}, std::size_t max_bytes = 1U << 20U,
                      std::chrono::seconds timeout = std::chrono::seconds(10));
  [[nodiscard]] core::Result<HttpResponse> get(const std::string& url) override;
  [[nodiscard]] core::Result<HttpResponse> postForm(
      const std::string& url, const std::vector<std::pair<std::string, std::string>>& form,
      const std::vector<std::pair<std::string, std::string>>& headers) override;

 private:
  std::string ca_file_;
  std::size_t max_bytes_;
  std::chrono::seconds timeout_;
};

// application/x-www-form-urlencoded encoding of one value.
inline std::string formEncode(std::string_view value) { return core::percentEncode(value); }

}  // namespace gatehouse::oidc
