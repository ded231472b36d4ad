// Starts Swagger UI for GET /docs. A separate file because the page's CSP forbids inline script.
// "Authorize" offers the OpenAPI document's security schemes: OAuth2PasswordBearer runs the
// password flow (a form POST to /api/v1/auth/login), APIKeyHeader/APIKeyQuery take a key.
"use strict";

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  plugins: [SwaggerUIBundle.plugins.DownloadUrl],
  layout: "BaseLayout",
  // Never send the document to the public validator (swagger.io): the page stays offline.
  validatorUrl: null,
  // Tokens live only as long as the tab; nothing written to localStorage.
  persistAuthorization: false,
  displayRequestDuration: true,
  showExtensions: true,
  showCommonExtensions: true,
});
