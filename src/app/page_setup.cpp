#include "app/page_setup.hpp"

#include <filesystem>

#include "core/ascii.hpp"
#include "core/files.hpp"
#include "ui/return_to.hpp"

namespace gatehouse::app {
namespace {

constexpr std::size_t kMaxStylesheetBytes = 256 * 1024;

std::string readStylesheet(const std::filesystem::path& path, std::vector<std::string>& problems) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return {};
  // A folder of that name, a FIFO, or a file too large to append to every page's stylesheet is
  // refused here (a folder read through a stream throws).
  auto css = core::readSmallFile(path, kMaxStylesheetBytes);
  if (css) return std::move(*css);
  problems.push_back(css.error().code == core::Errc::InvalidArgument
                         ? "GATEHOUSE_TEMPLATE_DIR: ui.css is not a file of at most 256 KiB"
                         : "GATEHOUSE_TEMPLATE_DIR: cannot read ui.css");
  return {};
}

}  // namespace

std::string hostAndPort(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string publicUrl(const config::Config& config) {
  if (config.public_url) return *config.public_url;
  return "http://" + hostAndPort(config.listen_host, config.listen_port);
}

std::string hostOf(const std::string& origin) {
  const auto scheme = origin.find("://");
  std::string host =
      core::lowerAscii(scheme == std::string::npos ? origin : origin.substr(scheme + 3));
  if (host.empty()) return host;
  if (host.front() == '[') return host.substr(0, host.find(']') + 1);
  return host.substr(0, host.find(':'));
}

PageSetup pageSetup(const config::Config& config, std::vector<std::string>& problems) {
  PageSetup setup;
  const std::string url = publicUrl(config);
  if (const auto own = ui::originOf(url)) {
    setup.own_origin = *own;
  } else {
    problems.push_back("GATEHOUSE_PUBLIC_URL: not an http(s) URL: " + config::redactUrl(url));
  }
  for (const auto& return_url : config.allowed_return_urls) {
    if (const auto origin = ui::originOf(return_url)) {
      setup.return_origins.push_back(*origin);
    } else {
      problems.push_back("ALLOWED_RETURN_URLS: not an http(s) origin: " +
                         config::redactUrl(return_url));
    }
  }
  if (!config.session_cookie_domain.empty() && !setup.own_origin.empty()) {
    // Browsers refuse a cookie whose Domain does not cover the host that sets it.
    const std::string host = hostOf(setup.own_origin);
    std::string domain = core::lowerAscii(config.session_cookie_domain);
    if (domain.front() == '.') domain.erase(0, 1);
    if (host != domain && !host.ends_with("." + domain))
      problems.push_back("SESSION_COOKIE_DOMAIN: " + config.session_cookie_domain +
                         " does not cover GATEHOUSE_PUBLIC_URL's host " + host);
  }
  if (config.mail.template_dir)
    setup.operator_css = readStylesheet(*config.mail.template_dir / "ui.css", problems);
  const std::string& o = setup.own_origin;
  setup.secure_cookies = !(o == "http://localhost" || o.starts_with("http://localhost:") ||
                           o == "http://127.0.0.1" || o.starts_with("http://127.0.0.1:"));
  if (!config.public_url) {
    setup.warnings.push_back(
        std::string("GATEHOUSE_PUBLIC_URL is not set: the pages' cookies are ") +
        (setup.secure_cookies ? "Secure (browsers keep them over HTTPS only)" : "not Secure") +
        " and their links point to " + url);
  }
  return setup;
}

}  // namespace gatehouse::app
