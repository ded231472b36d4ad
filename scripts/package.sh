#!/usr/bin/env bash
# Builds the Debian package of Gatehouse from the release preset and prints its path (last line).
#   scripts/package.sh                  build/release/gatehouse_<version>-1_<arch>.deb
#   GATEHOUSE_SKIP_NPM=1 scripts/package.sh
#                                       no npm registry here: the package then has no Swagger UI
#                                       (GET /docs answers 404; everything else is the same)
#   JOBS=1 scripts/package.sh           build with one job (default: ninja's choice)
# Needs what scripts/deps.sh installs, plus help2man (the man page), dpkg-dev (dpkg-shlibdeps
# computes Depends) and file (CPack); those three are installed here with apt when missing.
# Only the binary and its man page are built, not the tests or benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for p in help2man dpkg-dev file; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "package: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${GATEHOUSE_SKIP_NPM:-}" == 1 ]]; then
  if [[ -f web/swagger-ui/node_modules/swagger-ui-dist/swagger-ui-bundle.js ]]; then
    echo "package: GATEHOUSE_SKIP_NPM=1: not running npm ci; the Swagger UI already in web/swagger-ui is used"
  else
    echo "package: GATEHOUSE_SKIP_NPM=1: no Swagger UI in this package (GET /docs answers 404)"
  fi
else
  # Swagger UI for GET /docs, pinned by web/swagger-ui/package-lock.json and compiled into the
  # binary; no install scripts (the package's only one is a telemetry ping).
  npm ci --prefix web/swagger-ui --no-audit --no-fund --ignore-scripts --loglevel=error
fi

echo "== configure (release preset)"
cmake --preset release >/dev/null
echo "== build the binary and its man page"
cmake --build --preset release --target gatehouse gatehouse_man ${JOBS:+-j"$JOBS"}

echo "== cpack"
build=build/release
rm -f "$build"/gatehouse_*.deb
(cd "$build" && cpack -G DEB >cpack.log 2>&1) || {
  cat "$build"/cpack.log >&2
  echo "package: cpack failed (log above: $build/cpack.log)" >&2
  exit 1
}
debs=("$build"/gatehouse_*.deb)
if [[ ${#debs[@]} -ne 1 || ! -f "${debs[0]}" ]]; then
  echo "package: expected one $build/gatehouse_*.deb, found: ${debs[*]}" >&2
  exit 1
fi
dpkg-deb --field "${debs[0]}" Package Version Architecture Depends
echo "${debs[0]}"
