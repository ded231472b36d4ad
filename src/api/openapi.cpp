// GET /openapi.json: the OpenAPI 3.1 document, generated from the route table so it cannot drift
// from what the middleware does (credentials, permissions, bodies, error statuses).
#include "api/openapi.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/ascii.hpp"
#include "core/version.hpp"

namespace gatehouse::api {
namespace {

namespace json = boost::json;

// The bodies the API sends and takes (JSON Schema 2020-12, as OpenAPI 3.1 uses it). The error
// shapes are FastAPI's.
constexpr std::string_view kSchemas = R"json({
  "ErrorDetail": {"type": "object", "required": ["detail"],
    "properties": {"detail": {"type": "string"}}},
  "ValidationError": {"type": "object", "required": ["loc", "msg", "type"],
    "properties": {"loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                   "msg": {"type": "string"}, "type": {"type": "string"}}},
  "HTTPValidationError": {"type": "object", "required": ["detail"],
    "properties": {"detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}}},
  "TokenPair": {"type": "object", "required": ["access_token", "refresh_token", "token_type", "expires_in"],
    "properties": {"access_token": {"type": "string"}, "refresh_token": {"type": "string"},
                   "token_type": {"type": "string", "const": "bearer"},
                   "expires_in": {"type": "integer", "description": "access-token lifetime in seconds"}}},
  "User": {"type": "object",
    "required": ["id", "email", "username", "role", "is_active", "created_at", "mfa_enabled"],
    "properties": {"id": {"type": "integer"}, "email": {"type": "string"}, "username": {"type": "string"},
                   "role": {"type": "string"}, "is_active": {"type": "boolean"},
                   "created_at": {"type": "string", "format": "date-time"},
                   "mfa_enabled": {"type": "boolean", "description": "a confirmed second factor"},
                   "email_verified": {"type": "boolean", "description": "the user proved they receive mail at email"}}},
  "LoginRefusal": {"type": "object", "required": ["detail"],
    "properties": {"detail": {"type": "string", "examples": ["Incorrect email or password", "MFA required"]},
                   "mfa_token": {"type": "string", "description": "with MFA required: single use, five minutes"},
                   "methods": {"type": "array", "items": {"type": "string", "enum": ["webauthn", "totp", "recovery_code"]}}}},
  "EmptyRequest": {"type": "object", "additionalProperties": false, "properties": {}},
  "PasskeyOptions": {"type": "object", "required": ["publicKey"],
    "properties": {"publicKey": {"type": "object", "required": ["challenge"],
      "description": "PublicKeyCredentialCreationOptionsJSON or PublicKeyCredentialRequestOptionsJSON (WebAuthn Level 3): binary values base64url",
      "properties": {"challenge": {"type": "string"}, "rpId": {"type": "string"}, "timeout": {"type": "integer"},
                     "rp": {"type": "object"}, "user": {"type": "object"}, "pubKeyCredParams": {"type": "array"},
                     "allowCredentials": {"type": "array"}, "excludeCredentials": {"type": "array"},
                     "userVerification": {"type": "string", "enum": ["required", "preferred", "discouraged"]},
                     "attestation": {"type": "string", "enum": ["none", "direct"]},
                     "authenticatorSelection": {"type": "object"}, "extensions": {"type": "object"}}}}},
  "PublicKeyCredentialJSON": {"type": "object", "required": ["id", "rawId", "type", "response"],
    "description": "What the browser's credential.toJSON() returns (RegistrationResponseJSON or AuthenticationResponseJSON)",
    "properties": {"id": {"type": "string"}, "rawId": {"type": "string"}, "type": {"type": "string", "const": "public-key"},
                   "response": {"type": "object", "properties": {
                     "clientDataJSON": {"type": "string"}, "attestationObject": {"type": "string"},
                     "authenticatorData": {"type": "string"}, "signature": {"type": "string"},
                     "userHandle": {"type": ["string", "null"]}, "transports": {"type": "array", "items": {"type": "string"}}}},
                   "authenticatorAttachment": {"type": ["string", "null"]}, "clientExtensionResults": {"type": "object"}}},
  "PasskeyRegisterRequest": {"type": "object", "required": ["credential"], "additionalProperties": false,
    "properties": {"name": {"type": "string", "maxLength": 64}, "credential": {"$ref": "#/components/schemas/PublicKeyCredentialJSON"}}},
  "PasskeyCredentialRequest": {"type": "object", "required": ["credential"], "additionalProperties": false,
    "properties": {"credential": {"$ref": "#/components/schemas/PublicKeyCredentialJSON"}}},
  "PasskeyMfaOptionsRequest": {"type": "object", "required": ["mfa_token"], "additionalProperties": false,
    "properties": {"mfa_token": {"type": "string", "maxLength": 256}}},
  "PasskeyMfaRequest": {"type": "object", "required": ["mfa_token", "credential"], "additionalProperties": false,
    "properties": {"mfa_token": {"type": "string", "maxLength": 256}, "credential": {"$ref": "#/components/schemas/PublicKeyCredentialJSON"}}},
  "PasskeyRenameRequest": {"type": "object", "required": ["name"], "additionalProperties": false,
    "properties": {"name": {"type": "string", "maxLength": 64}}},
  "Passkey": {"type": "object",
    "required": ["id", "type", "name", "created_at", "last_used_at", "aaguid", "backup_eligible", "backed_up", "discoverable", "transports", "attestation"],
    "properties": {"id": {"type": "integer"}, "type": {"type": "string", "const": "webauthn"}, "name": {"type": "string"},
                   "created_at": {"type": "string", "format": "date-time"},
                   "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                   "aaguid": {"type": ["string", "null"], "description": "hex"},
                   "backup_eligible": {"type": "boolean", "description": "the key may sync to other devices (amr swk); clear and attested by the trust store: hwk"},
                   "discoverable": {"type": ["boolean", "null"], "description": "a resident key that signs in without a username (credProps), null when the browser did not say"},
                   "backed_up": {"type": "boolean"},
                   "transports": {"type": "array", "items": {"type": "string"}},
                   "attestation": {"type": ["string", "null"], "enum": ["none", "packed", null]}}},
  "PasskeyRegistered": {"allOf": [{"$ref": "#/components/schemas/Passkey"}],
    "properties": {"recovery_codes": {"type": "array", "items": {"type": "string"}, "minItems": 10, "maxItems": 10}}},
  "PasskeyList": {"type": "object", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Passkey"}}}},
  "MfaVerifyRequest": {"type": "object", "required": ["mfa_token", "code"], "additionalProperties": false,
    "properties": {"mfa_token": {"type": "string", "maxLength": 256},
                   "code": {"type": "string", "description": "a 6-digit TOTP code or a recovery code"}}},
  "MfaCodeRequest": {"type": "object", "required": ["code"], "additionalProperties": false, "properties": {"code": {"type": "string"}}},
  "MfaEnrolRequest": {"type": "object", "additionalProperties": false,
    "properties": {"name": {"type": "string", "maxLength": 64}}},
  "MfaEnrolment": {"type": "object", "required": ["id", "secret", "otpauth_uri", "qr_svg"],
    "properties": {"id": {"type": "integer"}, "secret": {"type": "string", "description": "base32"},
                   "otpauth_uri": {"type": "string"}, "qr_svg": {"type": "string"}}},
  "MfaFactor": {"type": "object", "required": ["id", "type", "name", "created_at", "last_used_at"],
    "properties": {"id": {"type": "integer"}, "type": {"type": "string", "enum": ["totp", "webauthn"]},
                   "name": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
                   "last_used_at": {"type": ["string", "null"], "format": "date-time"}}},
  "MfaFactorList": {"type": "object", "required": ["items", "recovery_codes_left"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/MfaFactor"}},
                   "recovery_codes_left": {"type": "integer"}}},
  "RecoveryCodes": {"type": "object",
    "properties": {"recovery_codes": {"type": "array", "items": {"type": "string"}, "minItems": 10, "maxItems": 10}}},
  "ReauthenticateRequest": {"type": "object", "required": ["password"],
    "properties": {"password": {"type": "string", "format": "password"},
                   "code": {"type": "string", "description": "a TOTP or recovery code"}}},
  "UserImport": {"type": "object", "required": ["users"], "additionalProperties": false,
    "properties": {"users": {"type": "array", "maxItems": 1000, "items": {"type": "object",
      "required": ["email"],
      "properties": {"email": {"type": "string", "format": "email"}, "username": {"type": "string"},
        "role": {"type": "string"}, "is_active": {"type": "boolean"},
        "email_verified": {"type": "boolean"},
        "created_at": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]},
        "password_hash": {"oneOf": [{"type": "string"}, {"type": "object",
          "required": ["algorithm", "hashIterations", "salt", "value"],
          "properties": {"algorithm": {"type": "string"}, "hashIterations": {"type": "integer"},
                         "salt": {"type": "string"}, "value": {"type": "string"}}}]}}}}}},
  "UserImportReport": {"type": "object", "required": ["results", "created", "skipped", "errors"],
    "properties": {"results": {"type": "array", "items": {"type": "object",
      "required": ["index", "result"],
      "properties": {"index": {"type": "integer"}, "email": {"type": "string"},
        "result": {"type": "string", "enum": ["created", "skipped", "error"]},
        "id": {"type": "integer"}, "reason": {"type": "string"}}}},
      "created": {"type": "integer"}, "skipped": {"type": "integer"}, "errors": {"type": "integer"}}},
  "UserPage": {"type": "object", "required": ["items", "total"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/User"}},
                   "total": {"type": "integer"}}},
  "Message": {"type": "object", "required": ["message"], "properties": {"message": {"type": "string"}}},
  "Empty": {"type": "object", "additionalProperties": false},
  "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
  "Introspection": {"type": "object", "required": ["active"],
    "properties": {"active": {"type": "boolean"}, "token_type": {"type": "string"},
                   "sub": {"type": "string"}, "username": {"type": "string"}, "scope": {"type": "string"},
                   "exp": {"type": "integer"}, "iat": {"type": "integer"}, "jti": {"type": "string"},
                   "iss": {"type": "string"}, "aud": {},
                   "client_id": {"type": "string", "description": "the OpenID client the token was issued to (/oauth2/introspect)"}}},
  "Session": {"type": "object",
    "required": ["id", "user_agent", "ip", "created_at", "last_used_at", "current"],
    "properties": {"id": {"type": "string"}, "user_agent": {"type": "string"}, "ip": {"type": "string"},
                   "created_at": {"type": "string", "format": "date-time"},
                   "last_used_at": {"type": "string", "format": "date-time"},
                   "current": {"type": "boolean"}}},
  "SessionList": {"type": "object", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}}},
  "ApiKey": {"type": "object", "required": ["id", "name", "prefix", "scopes", "created_at", "expires_at"],
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "prefix": {"type": "string"},
                   "scopes": {"type": "array", "items": {"type": "string"}},
                   "created_at": {"type": "string", "format": "date-time"},
                   "expires_at": {"type": ["string", "null"], "format": "date-time"},
                   "last_used_at": {"type": ["string", "null"], "format": "date-time"}}},
  "ApiKeyCreated": {"allOf": [{"$ref": "#/components/schemas/ApiKey"},
    {"type": "object", "required": ["key"],
     "properties": {"key": {"type": "string", "description": "the key; shown only here"}}}]},
  "ApiKeyPage": {"type": "object", "required": ["items", "total"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/ApiKey"}},
                   "total": {"type": "integer"}}},
  "ExternalData": {"type": "object", "required": ["data", "owner_id"],
    "properties": {"data": {"type": "string"}, "owner_id": {"type": "integer"}}},
  "Identity": {"type": "object", "required": ["id", "provider", "subject", "email", "created_at"],
    "properties": {"id": {"type": "integer"}, "provider": {"type": "string"}, "subject": {"type": "string"},
                   "email": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"}}},
  "IdentityList": {"type": "object", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Identity"}}}},
  "AuditEvent": {"type": "object",
    "required": ["id", "time", "time_ms", "type", "request_id", "actor_id", "subject_id", "client_ip",
                 "user_agent", "detail", "hash"],
    "properties": {"id": {"type": "integer"},
                   "time": {"type": "integer", "description": "Unix seconds"},
                   "time_ms": {"type": "integer", "description": "Unix milliseconds"},
                   "type": {"type": "string", "description": "e.g. login.failed"},
                   "request_id": {"type": "string"},
                   "actor_id": {"type": ["integer", "null"]}, "subject_id": {"type": ["integer", "null"]},
                   "client_ip": {"type": "string"}, "user_agent": {"type": "string"},
                   "detail": {"type": "object", "description": "event-specific fields"},
                   "hash": {"type": "string", "description": "SHA-256 (hex) chaining this event to the one before"}}},
  "AuditEventList": {"type": "object", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEvent"}}}},
  "AnalyticsSummary": {"type": "object",
    "required": ["days", "logins_ok", "logins_failed", "active_users", "total_users", "registrations_per_day"],
    "properties": {"days": {"type": "integer"}, "logins_ok": {"type": "integer"},
                   "logins_failed": {"type": "integer"}, "active_users": {"type": "integer"},
                   "total_users": {"type": "integer"},
                   "registrations_per_day": {"type": "array", "items": {"type": "object",
                     "required": ["date", "count"],
                     "properties": {"date": {"type": "string"}, "count": {"type": "integer"}}}}}},
  "Jwks": {"type": "object", "required": ["keys"],
    "properties": {"keys": {"type": "array", "items": {"type": "object"}}}},
  "ProviderMetadata": {"type": "object",
    "description": "OpenID Connect Discovery 1.0 §3; every capability stated, defaults included",
    "required": ["issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                 "end_session_endpoint", "revocation_endpoint", "introspection_endpoint",
                 "scopes_supported", "response_types_supported", "grant_types_supported",
                 "subject_types_supported", "id_token_signing_alg_values_supported",
                 "token_endpoint_auth_methods_supported", "code_challenge_methods_supported",
                 "claims_supported", "request_parameter_supported", "request_uri_parameter_supported"],
    "properties": {"issuer": {"type": "string", "format": "uri"},
                   "authorization_endpoint": {"type": "string", "format": "uri"},
                   "token_endpoint": {"type": "string", "format": "uri"},
                   "userinfo_endpoint": {"type": "string", "format": "uri"},
                   "jwks_uri": {"type": "string", "format": "uri"},
                   "end_session_endpoint": {"type": "string", "format": "uri"},
                   "revocation_endpoint": {"type": "string", "format": "uri"},
                   "introspection_endpoint": {"type": "string", "format": "uri"},
                   "scopes_supported": {"type": "array", "items": {"type": "string"}},
                   "response_types_supported": {"type": "array", "items": {"type": "string"}},
                   "grant_types_supported": {"type": "array", "items": {"type": "string"}},
                   "subject_types_supported": {"type": "array", "items": {"type": "string"}},
                   "id_token_signing_alg_values_supported": {"type": "array", "items": {"type": "string"}},
                   "token_endpoint_auth_methods_supported": {"type": "array", "items": {"type": "string"}},
                   "code_challenge_methods_supported": {"type": "array", "items": {"type": "string"}},
                   "claims_supported": {"type": "array", "items": {"type": "string"}},
                   "request_parameter_supported": {"type": "boolean"},
                   "request_uri_parameter_supported": {"type": "boolean"},
                   "response_modes_supported": {"type": "array", "items": {"type": "string"}},
                   "revocation_endpoint_auth_methods_supported": {"type": "array", "items": {"type": "string"}},
                   "introspection_endpoint_auth_methods_supported": {"type": "array", "items": {"type": "string"}},
                   "claims_parameter_supported": {"type": "boolean"},
                   "require_request_uri_registration": {"type": "boolean"},
                   "authorization_response_iss_parameter_supported": {"type": "boolean"},
                   "prompt_values_supported": {"type": "array", "items": {"type": "string"}},
                   "acr_values_supported": {"type": "array", "items": {"type": "string"}},
                   "frontchannel_logout_supported": {"type": "boolean"},
                   "claim_types_supported": {"type": "array", "items": {"type": "string"}},
                   "backchannel_logout_supported": {"type": "boolean"}}},
  "OAuthError": {"type": "object", "required": ["error"],
    "description": "RFC 6749 §5.2",
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}}},
  "OAuthUnavailable": {"description": "OAuth's temporarily_unavailable, or the middleware's detail (storage, Redis)",
    "anyOf": [{"$ref": "#/components/schemas/OAuthError"}, {"$ref": "#/components/schemas/ErrorDetail"}]},
  "OAuthTokenResponse": {"type": "object", "required": ["access_token", "token_type", "expires_in"],
    "description": "RFC 6749 §5.1; id_token with the openid scope, refresh_token with offline_access",
    "properties": {"access_token": {"type": "string"}, "token_type": {"type": "string"},
                   "expires_in": {"type": "integer"}, "scope": {"type": "string"},
                   "id_token": {"type": "string"}, "refresh_token": {"type": "string"}}},
  "UserInfo": {"type": "object", "required": ["sub"],
    "properties": {"sub": {"type": "string"}, "email": {"type": "string"},
                   "email_verified": {"type": "boolean"}, "preferred_username": {"type": "string"},
                   "name": {"type": "string"}}},
  "OpClient": {"type": "object",
    "required": ["client_id", "name", "redirect_uris", "post_logout_redirect_uris", "grant_types",
                 "scope", "public", "first_party", "created_at"],
    "properties": {"client_id": {"type": "string"}, "name": {"type": "string"},
                   "redirect_uris": {"type": "array", "items": {"type": "string"}},
                   "post_logout_redirect_uris": {"type": "array", "items": {"type": "string"}},
                   "grant_types": {"type": "array", "items": {"type": "string"}},
                   "scope": {"type": "string"}, "public": {"type": "boolean"},
                   "first_party": {"type": "boolean"}, "created_at": {"type": "string"},
                   "client_secret": {"type": "string", "description": "only when created or rotated"}}},
  "OpClientSecret": {"type": "object", "required": ["client_id", "client_secret"], "additionalProperties": false,
    "properties": {"client_id": {"type": "string"}, "client_secret": {"type": "string"}}},
  "OpClientList": {"type": "object", "required": ["items"],
    "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/OpClient"}}}},
  "OpClientCreate": {"type": "object", "required": ["name"], "additionalProperties": false,
    "properties": {"name": {"type": "string"},
                   "redirect_uris": {"type": "array", "items": {"type": "string"}},
                   "post_logout_redirect_uris": {"type": "array", "items": {"type": "string"}},
                   "grant_types": {"type": "array", "items": {"type": "string"}},
                   "scope": {"type": "string"}, "public": {"type": "boolean"},
                   "first_party": {"type": "boolean"}}},
  "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"],
    "description": "An OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0)",
    "properties": {"openapi": {"type": "string"}, "info": {"type": "object"},
                   "servers": {"type": "array", "items": {"type": "object"}},
                   "paths": {"type": "object"}, "components": {"type": "object"}}},
  "RegisterRequest": {"type": "object", "required": ["email", "username", "password"],
    "properties": {"email": {"type": "string", "format": "email"},
                   "username": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{3,32}$"},
                   "password": {"type": "string", "format": "password"}}},
  "LoginForm": {"type": "object",
    "properties": {"grant_type": {"type": "string", "enum": ["password", "refresh_token"]},
                   "username": {"type": "string", "description": "the email, or the username"},
                   "password": {"type": "string", "format": "password"},
                   "scope": {"type": "string", "description": "space-separated permissions"},
                   "refresh_token": {"type": "string", "description": "with grant_type=refresh_token"}}},
  "RefreshRequest": {"type": "object", "required": ["refresh_token"],
    "properties": {"refresh_token": {"type": "string"}}},
  "LogoutRequest": {"type": "object", "properties": {"refresh_token": {"type": "string"}}},
  "TokenForm": {"type": "object", "required": ["token"],
    "properties": {"token": {"type": "string"},
                   "token_type_hint": {"type": "string", "enum": ["access_token", "refresh_token"]}}},
  "PasswordChange": {"type": "object", "required": ["current_password", "new_password"],
    "properties": {"current_password": {"type": "string", "format": "password"},
                   "new_password": {"type": "string", "format": "password"},
                   "keep_api_keys": {"type": "boolean", "default": false},
                   "code": {"type": "string", "description": "with a second factor: a TOTP or recovery code"}}},
  "UserPatch": {"type": "object", "additionalProperties": false,
    "properties": {"email": {"type": "string", "format": "email"}, "username": {"type": "string"},
                   "is_active": {"type": "boolean"}}},
  "RoleChange": {"type": "object", "required": ["role"], "additionalProperties": false,
    "properties": {"role": {"type": "string"}}},
  "SetPasswordRequest": {"type": "object", "required": ["new_password"], "additionalProperties": false,
    "properties": {"new_password": {"type": "string", "format": "password"},
                   "keep_api_keys": {"type": "boolean", "default": false}}},
  "ApiKeyRequest": {"type": "object", "required": ["name"], "additionalProperties": false,
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100},
                   "scopes": {"type": "array", "items": {"type": "string"}},
                   "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650}}},
  "ForgotPasswordRequest": {"type": "object", "required": ["email"], "additionalProperties": false,
    "properties": {"email": {"type": "string", "format": "email", "maxLength": 254}}},
  "ResetPasswordRequest": {"type": "object", "required": ["token", "new_password"], "additionalProperties": false,
    "properties": {"token": {"type": "string", "description": "from the emailed link's #token="},
                   "new_password": {"type": "string", "format": "password"}}},
  "EmailTokenRequest": {"type": "object", "required": ["token"], "additionalProperties": false,
    "properties": {"token": {"type": "string", "description": "from the emailed link's #token="}}},
  "EmailChangeRequest": {"type": "object", "required": ["new_email"], "additionalProperties": false,
    "properties": {"new_email": {"type": "string", "format": "email", "maxLength": 254}}},
  "Registration": {"oneOf": [{"$ref": "#/components/schemas/TokenPair"}, {"$ref": "#/components/schemas/User"}],
    "description": "a session (TokenPair); with EMAIL_VERIFICATION=required the new User instead, and no tokens until the emailed link is used"},
  "ExchangeRequest": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}, "code_verifier": {"type": "string", "minLength": 43, "maxLength": 128, "pattern": "^[A-Za-z0-9._~-]+$", "description": "The verifier of the code_challenge the frontend began the sign-in with; only then"}}}
})json";

json::object content(const std::string& schema, std::string_view media = "application/json") {
  return {{std::string(media),
           json::object{{"schema", json::object{{"$ref", "#/components/schemas/" + schema}}}}}};
}

json::object reply(const std::string& description, const std::string& schema) {
  json::object r{{"description", description}};
  if (!schema.empty()) r["content"] = content(schema);
  return r;
}

// "/api/v1/users/{id}" -> {"id"}.
std::vector<std::string> pathParams(const std::string& path) {
  std::vector<std::string> out;
  for (std::size_t open = path.find('{'); open != std::string::npos;
       open = path.find('{', open + 1)) {
    const auto close = path.find('}', open);
    if (close == std::string::npos) break;
    out.push_back(path.substr(open + 1, close - open - 1));
  }
  return out;
}

json::array security(const Route& route) {
  json::array scopes;
  for (const auto& p : route.permissions) scopes.emplace_back(p);
  const json::object bearer{{"OAuth2PasswordBearer", scopes}};
  const json::object header{{"APIKeyHeader", json::array{}}};
  const json::object query{{"APIKeyQuery", json::array{}}};
  const json::object cookie{{"SessionCookie", json::array{}}};
  switch (*route.credential) {
    case Credential::None:
      return {};
    case Credential::UserToken:
      return {bearer};
    case Credential::TokenOrKey:
      if (route.session_cookie) return {bearer, header, query, cookie};
      return {bearer, header, query};
    case Credential::ApiKey:
      return {header, query};
    case Credential::Session:
      return {cookie};
  }
  return {};
}

std::string_view limitKeyText(LimitKey key) {
  switch (key) {
    case LimitKey::ClientAddress:
      return "client address";
    case LimitKey::Account:
      return "account";
    case LimitKey::AccountAndAddress:
      return "(account, address)";
    case LimitKey::Session:
      return "session";
    case LimitKey::RefreshSession:
      return "refresh token's session";
    case LimitKey::MfaAccount:
      return "account (of the mfa_token)";
    case LimitKey::MfaAccountAndAddress:
      return "(account of the mfa_token, address)";
    case LimitKey::CodeAccount:
      return "(account, client) the code is for";
    case LimitKey::EmailAddress:
      return "email address";
    case LimitKey::User:
      return "caller's account";
    case LimitKey::OwnUnverifiedMailbox:
      return "caller's mailbox while unverified";
    case LimitKey::RefusedChange:
      return "caller's account";
  }
  return "";
}

// "Too many requests (Retry-After): LOGIN_RATE_LIMIT per client address, per account ...".
std::string limitsText(const std::vector<RateLimitRule>& limits) {
  std::string text = "Too many requests (Retry-After):";
  for (const auto& rule : limits) {
    text += " " + rule.setting;
    for (std::size_t i = 0; i < rule.keys.size(); ++i)
      text += (i == 0 ? " per " : ", per ") + std::string(limitKeyText(rule.keys[i]));
    if (!rule.when.empty()) text += ", " + rule.when;
    text += ";";
  }
  text.pop_back();
  return text;
}

json::object operation(const Route& route) {
  json::object op{{"summary", route.summary},
                  {"tags", json::array{json::value(route.tag)}},
                  {"operationId", operationId(route)}};
  if (!route.description.empty()) op["description"] = route.description;
  json::array params;
  for (const auto& name : pathParams(route.path)) {
    std::string type = "string";
    std::string description;
    for (const auto& p : route.params) {
      if (p.in == "path" && p.name == name) {
        type = p.type;
        description = p.description;
      }
    }
    json::object param{{"name", name},
                       {"in", "path"},
                       {"required", true},
                       {"schema", json::object{{"type", type}}}};
    if (!description.empty()) param["description"] = description;
    params.push_back(std::move(param));
  }
  for (const auto& p : route.params) {
    if (p.in == "path") continue;
    json::object param{{"name", p.name},
                       {"in", p.in},
                       {"required", p.required},
                       {"schema", json::object{{"type", p.type}}}};
    if (!p.description.empty()) param["description"] = p.description;
    params.push_back(std::move(param));
  }
  if (!params.empty()) op["parameters"] = std::move(params);
  if (route.body != BodyKind::None) {
    json::object media = content(route.body_schema, route.body == BodyKind::Form
                                                        ? "application/x-www-form-urlencoded"
                                                        : "application/json");
    if (route.body == BodyKind::Form) {  // a browser's FormData (Body::form)
      auto multipart = content(route.body_schema, "multipart/form-data");
      media.insert(multipart.begin(), multipart.end());
    }
    op["requestBody"] = json::object{{"required", route.body != BodyKind::OptionalJson},
                                     {"content", std::move(media)}};
  }
  json::object responses;
  for (const auto& r : route.replies)
    responses[std::to_string(r.status)] = reply(r.description, r.schema);
  // What the middleware answers on its own, from the declaration.
  const auto add = [&responses](int status, const std::string& description,
                                const std::string& schema) {
    if (!responses.contains(std::to_string(status)))
      responses[std::to_string(status)] = reply(description, schema);
  };
  if (*route.credential != Credential::None) {
    add(401,
        route.step_up || route.factor_proof
            ? "Not authenticated / Could not validate credentials / Step-up "
              "authentication required (WWW-Authenticate: Bearer "
              "error=\"insufficient_user_authentication\", max_age=...)"
            : "Not authenticated / Could not validate credentials",
        "ErrorDetail");
  }
  if (!route.permissions.empty() || *route.credential == Credential::UserToken ||
      *route.credential == Credential::TokenOrKey) {
    std::string text = route.before_mfa_enrolment
                           ? "Insufficient permissions / Inactive user"
                           : "Insufficient permissions / Inactive user / MFA enrolment required "
                             "(MFA_REQUIRED_ROLES)";
    if (*route.credential == Credential::TokenOrKey)
      text += " / Email not verified (an API key, EMAIL_VERIFICATION=required)";
    add(403, text, "ErrorDetail");
  }
  if (route.body != BodyKind::None || !route.params.empty() || !pathParams(route.path).empty())
    add(422, "Validation Error", "HTTPValidationError");
  if (!route.limits.empty()) add(429, limitsText(route.limits), "ErrorDetail");
  if (route.body != BodyKind::None) add(413, "Request body too large", "ErrorDetail");
  // Storage or Redis unreachable: a worker's storage call, or a token check on a node that
  // cannot hear Redis (it fails closed); the hashing lane's full queue too.
  if (*route.lane == http::Lane::Hashing) {
    add(503,
        "Server busy (the hashing queue is full), or storage or Redis unreachable (Retry-After)",
        "ErrorDetail");
  } else if (*route.lane == http::Lane::Outbound) {
    add(503,
        "Server busy (the queue of requests waiting on identity providers is full), or the "
        "provider, storage or Redis unreachable (Retry-After)",
        "ErrorDetail");
  } else if (*route.lane == http::Lane::Storage || *route.credential != Credential::None) {
    add(503, "Service Unavailable: storage or Redis unreachable (Retry-After)", "ErrorDetail");
  }
  op["responses"] = std::move(responses);
  // An open route says so ([]), rather than leaving a reader to guess from a missing field.
  op["security"] = security(route);
  return op;
}

}  // namespace

std::string operationId(const Route& route) {
  std::string id = core::lowerAscii(route.method);
  bool upper = true;
  for (char c : route.path) {
    if (c == '/' || c == '{' || c == '}' || c == '-' || c == '.' || c == '_') {
      upper = true;
      continue;
    }
    id.push_back(upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
    upper = false;
  }
  return id;
}

json::object openApiDocument(const RouteTable& table, const OpenApiInfo& info) {
  json::object paths;
  for (const auto& route : table.routes()) {
    if (route.hidden) continue;
    const std::string method = core::lowerAscii(route.method);
    auto& item = paths[route.path];
    if (!item.is_object()) item = json::object{};
    item.as_object()[method] = operation(route);
  }
  json::object scopes;
  for (const auto& p : info.permissions) scopes[p] = "permission " + p;
  json::object schemes{
      {"OAuth2PasswordBearer",
       json::object{
           {"type", "oauth2"},
           {"description",
            "The password flow: POST the email (or username) and "
            "password to /api/v1/auth/login."},
           {"flows", json::object{{"password", json::object{{"tokenUrl", "/api/v1/auth/login"},
                                                            {"refreshUrl", "/api/v1/auth/login"},
                                                            {"scopes", std::move(scopes)}}}}}}},
      {"APIKeyHeader", json::object{{"type", "apiKey"}, {"in", "header"}, {"name", "X-API-Key"}}},
      {"APIKeyQuery", json::object{{"type", "apiKey"}, {"in", "query"}, {"name", "api_key"}}},
      {"SessionCookie",
       json::object{{"type", "apiKey"},
                    {"in", "cookie"},
                    {"name", "gatehouse_session"},
                    {"description", "The pages' sign-in (/ui/login); forward-auth takes it"}}}};
  return {
      {"openapi", "3.1.0"},
      {"info", json::object{{"title", "Gatehouse"},
                            {"version", core::kVersion},
                            {"description",
                             "Authentication and authorization server: password "
                             "login, JWT access and refresh tokens, RBAC, API "
                             "keys, forward-auth, external sign-in."}}},
      {"servers", json::array{json::object{{"url", info.public_url}}}},
      {"paths", std::move(paths)},
      {"components",
       json::object{{"schemas", json::parse(kSchemas)}, {"securitySchemes", std::move(schemes)}}},
  };
}

}  // namespace gatehouse::api
