#pragma once

#include <optional>
#include <string_view>

namespace gatehouse::docs {

// One file of the API documentation page (Swagger UI, served at /docs), compiled into the binary:
// its media type and bytes, both in static storage. Immutable, so thread-safe.
struct Asset {
  std::string_view content_type;
  std::string_view body;
};

// The file called `name`: "index.html", "gatehouse-init.js", "swagger-ui-bundle.js",
// "swagger-ui.css", "favicon-32x32.png", and the package's "LICENSE", "NOTICE" and
// "swagger-ui-bundle.js.LICENSE.txt".
// nullopt for any other name, and for every name when the build embedded no Swagger UI.
std::optional<Asset> swaggerAsset(std::string_view name);

// Whether the build embedded Swagger UI; false when its npm package was not installed
// (web/swagger-ui, GATEHOUSE_SKIP_NPM=1), and then swaggerAsset() finds nothing.
bool swaggerAvailable();

}  // namespace gatehouse::docs
