#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs Gatehouse on the embedded default
# (SQLite in ./gatehouse-data). Extra arguments go to `gatehouse serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
if [[ "${GATEHOUSE_SKIP_NPM:-}" == 1 ]]; then
  echo "GATEHOUSE_SKIP_NPM=1: not installing swagger-ui-dist; without it GET /docs answers 404"
else
  # Swagger UI for GET /docs, pinned by web/swagger-ui/package-lock.json and compiled into the
  # binary; no install scripts (the package's only one is a telemetry ping).
  npm ci --prefix web/swagger-ui --no-audit --no-fund --ignore-scripts --loglevel=error
fi
cmake --preset release -DGATEHOUSE_TESTS=OFF -DGATEHOUSE_BENCH=OFF >/dev/null
cmake --build --preset release --target gatehouse
# Passkeys need a host name, not an IP address: the quick start's public URL is localhost.
if [[ -z "${GATEHOUSE_PUBLIC_URL:-}" && -z "${GATEHOUSE_LISTEN:-}" && -z "${GATEHOUSE_CONFIG_FILE:-}" ]]; then
  export GATEHOUSE_PUBLIC_URL=http://localhost:8000
fi
exec build/release/src/app/gatehouse serve "$@"
