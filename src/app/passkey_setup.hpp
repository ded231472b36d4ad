#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "webauthn/relying_party.hpp"

namespace gatehouse::app {

// The passkeys' relying party as the configuration asks: the RP ID (WEBAUTHN_RP_ID, else the
// host of the server's own origin), the origins (WEBAUTHN_ORIGINS, else that origin), each the RP
// ID's host or under it (browsers refuse any other pairing anyway), the trust store, the
// attestation policy and the algorithms.
struct PasskeySetup {
  webauthn::RelyingParty relying_party;
  // Browsers refuse an IP address as RP ID: passkeys stay off (the pages hide them, the API
  // answers 503) rather than offering ceremonies no browser can run.
  bool off = false;
};

// Each problem (one line naming its setting) is appended to `problems`: an origin that is not
// http(s) or not under the RP ID, a trust store that does not load. Usable when none was.
PasskeySetup passkeySetup(const config::Config& config, const std::string& own_origin,
                          std::vector<std::string>& problems);

}  // namespace gatehouse::app
