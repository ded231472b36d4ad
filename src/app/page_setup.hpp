#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace gatehouse::app {

// HOST:PORT as a URL writes it: an IPv6 address in brackets.
std::string hostAndPort(const std::string& host, std::uint16_t port);

// GATEHOUSE_PUBLIC_URL, or http://<GATEHOUSE_LISTEN> without it.
std::string publicUrl(const config::Config& config);

// The lower-case host of an http(s) origin, without its port ("[::1]" for IPv6).
std::string hostOf(const std::string& origin);

// What the pages take from the configuration besides keys.
struct PageSetup {
  std::string own_origin;                   // the public URL's origin
  std::vector<std::string> return_origins;  // ALLOWED_RETURN_URLS, one spelling each (the
                                            // comparison and the CSP alike)
  std::string operator_css;                 // <GATEHOUSE_TEMPLATE_DIR>/ui.css, empty without
  // Secure cookies unless the pages are served over plain HTTP to this machine (development).
  bool secure_cookies = true;
  std::vector<std::string> warnings;  // for the start's log
};

// Each problem (one line naming its setting) is appended to `problems`: a public URL or return
// URL that is not http(s), a SESSION_COOKIE_DOMAIN that does not cover the public URL's host, a
// ui.css that is not a readable file of at most 256 KiB. The setup is usable when none was.
PageSetup pageSetup(const config::Config& config, std::vector<std::string>& problems);

}  // namespace gatehouse::app
