#!/usr/bin/env bash
# Installs the Debian 12 packages Gatehouse needs, only those missing. Run as root.
#   scripts/deps.sh          build and run
#   scripts/deps.sh --test   also everything the test command uses
#   scripts/deps.sh --bench  also what bench/run uses (wrk, nginx)
set -euo pipefail

build_pkgs=(
  g++ cmake ninja-build pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libcrypt-dev libargon2-dev libsqlite3-dev libpq-dev libhiredis-dev libqrencode-dev
  libcbor-dev
  libexpected-dev libspdlog-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcurl4-openssl-dev
)
test_pkgs=(
  clang-14 libclang-rt-14-dev clang-format nginx postgresql redis-server
  python3 python3-pytest python3-pytest-xdist python3-requests python3-jwt python3-jose
  python3-cryptography
  python3-passlib python3-bcrypt python3-argon2 python3-authlib python3-jsonschema openssl
  python3-pyotp oathtool python3-aiosmtpd python3-cbor2
  python3-django python3-sqlalchemy python3-psycopg2
  chromium chromium-driver python3-selenium strace
)

bench_pkgs=(wrk nginx python3 python3-requests python3-bcrypt postgresql redis-server)

want=("${build_pkgs[@]}")
[[ "${1:-}" == "--test" ]] && want+=("${test_pkgs[@]}")
[[ "${1:-}" == "--bench" ]] && want+=("${bench_pkgs[@]}")

missing=()
# npm installs Swagger UI, which the build compiles into the binary (web/swagger-ui), and Node.js
# runs the test OpenID provider; any installed node will do (Debian's by default).
if [[ "${1:-}" != "--bench" ]] && ! { command -v node && command -v npm; } >/dev/null; then
  missing+=(nodejs npm)
fi
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: ok"
