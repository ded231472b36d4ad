#include <algorithm>
#include <cassert>
#include <memory>

#include "config/config.hpp"
#include "core/blocking.hpp"
#include "dynlib/libcurl.hpp"
#include "mail/transport.hpp"

namespace gatehouse::mail {
namespace {

struct CurlFree {
  const dynlib::LibCurl* lib;
  void operator()(CURL* c) const noexcept { lib->easy_cleanup(c); }
};
struct SlistFree {
  const dynlib::LibCurl* lib;
  void operator()(curl_slist* l) const noexcept { lib->slist_free_all(l); }
};

struct Source {
  std::string_view rest;
};

std::size_t onRead(char* buffer, std::size_t size, std::size_t n, void* user) {
  auto* source = static_cast<Source*>(user);
  const std::size_t bytes = std::min(size * n, source->rest.size());
  std::copy_n(source->rest.data(), bytes, buffer);
  source->rest.remove_prefix(bytes);
  return bytes;
}

class SmtpTransport final : public Transport {
 public:
  SmtpTransport(std::string url, bool starttls, std::string ca_file)
      : url_(std::move(url)), starttls_(starttls), ca_file_(std::move(ca_file)) {}

  core::Status send(std::string_view envelope_from, std::string_view envelope_to,
                    std::string_view message) override {
    // Loaded at the first message, not at start (the server checks it at start when SMTP is set).
    auto loaded = dynlib::libcurl();
    if (!loaded) return tl::unexpected(loaded.error());
    const dynlib::LibCurl& lib = **loaded;
    std::unique_ptr<CURL, CurlFree> curl(lib.easy_init(), CurlFree{&lib});
    if (!curl) return core::makeError(core::Errc::Internal, "curl_easy_init failed");
    CURL* c = curl.get();
    const std::string from = "<" + std::string(envelope_from) + ">";
    const std::string to = "<" + std::string(envelope_to) + ">";
    curl_slist* raw = lib.slist_append(nullptr, to.c_str());
    std::unique_ptr<curl_slist, SlistFree> recipients(raw, SlistFree{&lib});
    Source source{message};
    char error[CURL_ERROR_SIZE] = {};
    lib.easy_setopt(c, CURLOPT_URL, url_.c_str());
    lib.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    lib.easy_setopt(c, CURLOPT_USE_SSL,
                    static_cast<long>(starttls_ ? CURLUSESSL_ALL : CURLUSESSL_TRY));
    lib.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    lib.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!ca_file_.empty()) lib.easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
    lib.easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
    lib.easy_setopt(c, CURLOPT_MAIL_RCPT, recipients.get());
    lib.easy_setopt(c, CURLOPT_UPLOAD, 1L);
    lib.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    lib.easy_setopt(c, CURLOPT_READFUNCTION, &onRead);
    lib.easy_setopt(c, CURLOPT_READDATA, &source);
    lib.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    lib.easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    lib.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    lib.easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    assert(!core::NoWaitScope::active() &&
           "an SMTP delivery must not be waited on here: see core::NoWaitScope");
    const CURLcode rc = lib.easy_perform(c);
    if (rc == CURLE_OK) return {};
    long reply = 0;
    lib.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
    std::string why =
        std::string(lib.easy_strerror(rc)) + (error[0] ? std::string(": ") + error : "");
    // What to set, not curl's words alone (a docs walk: a local relay without STARTTLS answered
    // "Requested SSL level failed" and nothing more).
    if (rc == CURLE_USE_SSL_FAILED) {
      why +=
          " (the server offers no STARTTLS: use smtps:// for one that speaks TLS from the first "
          "byte, or SMTP_STARTTLS=false for a local relay)";
    }
    if (reply >= 500 && reply < 600 && rc != CURLE_LOGIN_DENIED) {
      // 5xx: the server refused this message or recipient for good.
      return core::makeError(core::Errc::InvalidArgument,
                             "SMTP " + std::to_string(reply) + ": " + why);
    }
    return core::makeError(
        core::Errc::Unavailable,
        (reply != 0 ? "SMTP " + std::to_string(reply) + ": " : std::string()) + why);
  }

  std::string describe() const override { return config::redactUrl(url_); }

 private:
  std::string url_;
  bool starttls_;
  std::string ca_file_;
};

}  // namespace

std::unique_ptr<Transport> smtpTransport(std::string url, bool starttls, std::string ca_file) {
  return std::make_unique<SmtpTransport>(std::move(url), starttls, std::move(ca_file));
}

std::unique_ptr<Transport> transportFor(const config::MailConfig& config) {
  if (config.smtp_url)
    return smtpTransport(*config.smtp_url, config.smtp_starttls, config.smtp_ca_file);
  if (config.mail_file) return fileTransport(*config.mail_file);
  return nullptr;
}

}  // namespace gatehouse::mail
