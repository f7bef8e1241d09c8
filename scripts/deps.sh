#!/usr/bin/env bash
# Installs every Debian (and npm) package strata's build and tests need.
# Idempotent: when everything is present it only runs dpkg-query and exits.
# Usage: scripts/deps.sh [--no-npm]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

DEB_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates curl xz-utils openssl
  libssl-dev libcurl4-openssl-dev libsqlite3-dev libcjson-dev liburing-dev
  libncurses-dev libcmocka-dev libfuse3-dev fuse3
  clang libclang-rt-14-dev nftables
  python3 python3-boto3 awscli s3cmd tmux chromium gdb
  debhelper rpm lintian rpmlint help2man
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps: not root and no sudo; cannot install packages" >&2; exit 1; fi
fi

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node/npm: the machine may ship its own Node.js; only add Debian's when absent.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "deps: all Debian packages present"
fi

# CivetWeb is built from Debian's source package (see docs/decisions.md).
"$here/scripts/fetch-civetweb.sh"

if [ "${1:-}" != "--no-npm" ] && [ -f "$here/tests/package.json" ]; then
  if [ ! -d "$here/tests/node_modules" ] || [ "$here/tests/package-lock.json" -nt "$here/tests/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in tests/"
    (cd "$here/tests" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
