#!/usr/bin/env bash
# Installs the Debian 12 packages libevolve needs, only those missing.
# Uses apt-get directly as root, through sudo otherwise.
set -euo pipefail

packages=(
  cmake g++ make pkg-config
  libssl-dev rapidjson-dev libfmt-dev doctest-dev libsqlite3-dev
  libpqxx-dev libcpp-httplib-dev
  # The engines decompress .csv.gz / .csv.zst bar files and Parquet pages
  # (GZIP, ZSTD, SNAPPY) with Debian's zlib, zstd and snappy.
  zlib1g-dev libzstd-dev libsnappy-dev
  # The PostgreSQL tests start a throwaway server (scripts/test-postgres.sh).
  postgresql-15 python3
  # tests/docs/check_api_examples.sh runs docs/api.md's curl examples.
  curl
  # tests/deploy/check_manifests.py parses docker-compose.yml and deploy/k8s/.
  python3-yaml
  # tests/browser drives the dashboard in headless chromium with
  # playwright-core (from npm, into the build tree).
  chromium
)
# Node.js and npm for tests/browser, unless some node is installed already
# (e.g. NodeSource's nodejs, which bundles npm).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: not root and no sudo; please install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
