#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine and runs Gatehouse on the embedded default
# (SQLite in ./gatehouse-data). Extra arguments go to `gatehouse serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release -DGATEHOUSE_TESTS=OFF -DGATEHOUSE_BENCH=OFF >/dev/null
cmake --build --preset release --target gatehouse
exec build/release/src/app/gatehouse serve "$@"
