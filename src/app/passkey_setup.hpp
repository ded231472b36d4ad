#pragma once

#include <string>

#include "config/config.hpp"
#include "core/error.hpp"
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

// InvalidArgument, with the setting named, for an origin that is not http(s) or not under the RP
// ID, and for a trust store that does not load.
[[nodiscard]] core::Result<PasskeySetup> passkeySetup(const config::Config& config,
                                                      const std::string& own_origin);

}  // namespace gatehouse::app
