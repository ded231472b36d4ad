#include "app/passkey_setup.hpp"

#include "app/page_setup.hpp"
#include "ui/return_to.hpp"
#include "webauthn/attestation.hpp"
#include "webauthn/cose.hpp"

namespace gatehouse::app {

PasskeySetup passkeySetup(const config::Config& config, const std::string& own_origin,
                          std::vector<std::string>& problems) {
  PasskeySetup setup;
  webauthn::RelyingParty& rp = setup.relying_party;
  rp.rp_id = config.webauthn_rp_id.value_or(hostOf(own_origin));
  setup.off = rp.rp_id.empty() || rp.rp_id.front() == '[' ||
              rp.rp_id.find_first_not_of("0123456789.") == std::string::npos;
  // Without an own origin (a public URL the preflight refuses) only the listed ones are checked.
  std::vector<std::string> origins = config.webauthn_origins;
  if (origins.empty() && !own_origin.empty()) origins.push_back(own_origin);
  for (const auto& url : origins) {
    const auto origin = ui::originOf(url);
    if (!origin) {
      problems.push_back("WEBAUTHN_ORIGINS: not an http(s) origin: " + url);
      continue;
    }
    const std::string host = hostOf(*origin);
    if (!setup.off && host != rp.rp_id && !host.ends_with("." + rp.rp_id)) {
      problems.push_back("WEBAUTHN_ORIGINS: " + *origin + " is not " + rp.rp_id +
                         " or under it (WEBAUTHN_RP_ID)");
      continue;
    }
    rp.origins.push_back(*origin);
  }
  if (!config.webauthn_trust_store.empty()) {
    // Attestation is then asked for; with WEBAUTHN_ATTESTATION=direct it is also required.
    if (auto trust = webauthn::loadTrustStore(config.webauthn_trust_store)) {
      rp.trust = std::move(*trust);
    } else {
      problems.push_back("WEBAUTHN_TRUST_STORE: " + trust.error().message);
    }
  }
  if (config.webauthn_attestation_direct) rp.attestation = webauthn::AttestationPolicy::Direct;
  if (!config.webauthn_algorithms.empty()) {
    rp.algorithms.clear();
    for (const auto& name : config.webauthn_algorithms) {
      for (const auto alg : webauthn::supportedAlgs()) {
        if (webauthn::coseAlgName(alg) == name) rp.algorithms.push_back(alg);
      }
    }
  }
  return setup;
}

}  // namespace gatehouse::app
