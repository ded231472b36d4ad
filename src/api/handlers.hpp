#pragma once

// The API's own handlers that the pages run for their forms, so that a form and its API route
// share one implementation: the same checks, limits, audit and answers (the page reads the
// answer's "detail"). Each page route declares the same credential rules as the API route.
#include "api/route.hpp"
#include "auth/api_keys.hpp"

namespace gatehouse::api {

// An API key for the caller, checked again against a racing password change (api_key_routes).
[[nodiscard]] auth::Result<auth::CreatedApiKey> createApiKey(Call& c,
                                                             const auth::NewApiKey& request);

namespace handlers {
http::Response changePassword(Call& c);       // POST /api/v1/auth/password
http::Response endSession(Call& c);           // DELETE /api/v1/auth/sessions/{id}
http::Response enrol(Call& c);                // POST /api/v1/auth/mfa/totp
http::Response confirm(Call& c);              // POST /api/v1/auth/mfa/totp/{id}/confirm
http::Response removeFactor(Call& c);         // DELETE /api/v1/auth/mfa/{id}
http::Response recoveryCodes(Call& c);        // POST /api/v1/auth/mfa/recovery-codes
http::Response resetUserMfa(Call& c);         // DELETE /api/v1/users/{id}/mfa
http::Response requestVerification(Call& c);  // POST /api/v1/auth/email/verify/request
http::Response requestEmailChange(Call& c);   // POST /api/v1/auth/email/change
http::Response revokeApiKey(Call& c);         // DELETE /api/v1/api-keys/{id}
http::Response unlink(Call& c);               // DELETE /api/v1/auth/identities/{id}
http::Response patchUser(Call& c);            // PATCH /api/v1/users/{id}
http::Response setRole(Call& c);              // PUT /api/v1/users/{id}/role
http::Response setUserPassword(Call& c);      // PUT /api/v1/users/{id}/password
http::Response endUserSessions(Call& c);      // DELETE /api/v1/users/{id}/sessions
http::Response auditEvents(Call& c);          // GET /api/v1/audit-events (query filters)
http::Response analyticsSummary(Call& c);     // GET /api/v1/analytics/summary
http::Response passkeyOptions(Call& c);       // POST /api/v1/auth/webauthn/register/options
http::Response passkeyRegister(Call& c);      // POST /api/v1/auth/webauthn/register
http::Response passkeyRename(Call& c);        // PATCH /api/v1/auth/webauthn/credentials/{id}
http::Response passkeyRemove(Call& c);        // DELETE /api/v1/auth/webauthn/credentials/{id}
}  // namespace handlers

}  // namespace gatehouse::api
