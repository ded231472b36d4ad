#include <cassert>
#include <memory>

#include "core/ascii.hpp"
#include "core/blocking.hpp"
#include "dynlib/libcurl.hpp"
#include "oidc/http_client.hpp"

namespace gatehouse::oidc {
namespace {

struct CurlFree {
  const dynlib::LibCurl* lib;
  void operator()(CURL* c) const noexcept { lib->easy_cleanup(c); }
};
struct SlistFree {
  const dynlib::LibCurl* lib;
  void operator()(curl_slist* l) const noexcept { lib->slist_free_all(l); }
};

struct Sink {
  HttpResponse* response;
  std::size_t max;
  bool overflow = false;
};

std::size_t onBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t bytes = size * n;
  if (sink->response->body.size() + bytes > sink->max) {
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->response->body.append(data, bytes);
  return bytes;
}

std::size_t onHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* response = static_cast<HttpResponse*>(user);
  const std::string line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = core::lowerAscii(std::string_view(line).substr(0, colon));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    value.erase(value.find_last_not_of(" \t\r\n") + 1);
    response->headers[name] = value;
  }
  return size * n;
}

}  // namespace

CurlClient::CurlClient(std::string extra_ca_file, std::size_t max_bytes,
                       std::chrono::seconds timeout)
    : ca_file_(std::move(extra_ca_file)), max_bytes_(max_bytes), timeout_(timeout) {}

namespace {

core::Result<HttpResponse> perform(const std::string& url, const std::string* form_body,
                                   const std::vector<std::pair<std::string, std::string>>& headers,
                                   const std::string& ca_file, std::size_t max_bytes,
                                   std::chrono::seconds timeout) {
  // Loaded at the first request, not at start: most servers never make one.
  auto loaded = dynlib::libcurl();
  if (!loaded) return tl::unexpected(loaded.error());
  const dynlib::LibCurl& lib = **loaded;
  std::unique_ptr<CURL, CurlFree> curl(lib.easy_init(), CurlFree{&lib});
  if (!curl) return core::makeError(core::Errc::Internal, "curl_easy_init failed");
  HttpResponse response;
  Sink sink{&response, max_bytes};
  std::unique_ptr<curl_slist, SlistFree> list(nullptr, SlistFree{&lib});
  for (const auto& [name, value] : headers) {
    list.reset(lib.slist_append(list.release(), (name + ": " + value).c_str()));
  }
  CURL* c = curl.get();
  lib.easy_setopt(c, CURLOPT_URL, url.c_str());
  lib.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  lib.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  lib.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!ca_file.empty()) lib.easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
  lib.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  lib.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  lib.easy_setopt(c, CURLOPT_TIMEOUT, static_cast<long>(timeout.count()));
  lib.easy_setopt(c, CURLOPT_WRITEFUNCTION, onBody);
  lib.easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  lib.easy_setopt(c, CURLOPT_HEADERFUNCTION, onHeader);
  lib.easy_setopt(c, CURLOPT_HEADERDATA, &response);
  if (list) lib.easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  if (form_body != nullptr) {
    lib.easy_setopt(c, CURLOPT_POST, 1L);
    lib.easy_setopt(c, CURLOPT_POSTFIELDS, form_body->c_str());
    lib.easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(form_body->size()));
  }
  assert(!core::NoWaitScope::active() &&
         "an outbound request must not be waited on here: see core::NoWaitScope");
  const CURLcode rc = lib.easy_perform(c);
  if (sink.overflow)
    return core::makeError(core::Errc::Unavailable, "response from " + url + " too large");
  if (rc != CURLE_OK) {
    return core::makeError(core::Errc::Unavailable,
                           "request to " + url + " failed: " + lib.easy_strerror(rc));
  }
  lib.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace

core::Result<HttpResponse> CurlClient::get(const std::string& url) {
  return perform(url, nullptr, {{"Accept", "application/json"}}, ca_file_, max_bytes_, timeout_);
}

core::Result<HttpResponse> CurlClient::postForm(
    const std::string& url, const std::vector<std::pair<std::string, std::string>>& form,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string body;
  for (const auto& [k, v] : form)
    body += (body.empty() ? "" : "&") + formEncode(k) + "=" + formEncode(v);
  auto all = headers;
  all.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  all.emplace_back("Accept", "application/json");
  return perform(url, &body, all, ca_file_, max_bytes_, timeout_);
}

}  // namespace gatehouse::oidc
