#!/usr/bin/env bash
# Configures and builds one build tree. Usage: scripts/build.sh DIR [cmake args...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: build.sh DIR [cmake args]}
shift
cmake -S "$here" -B "$here/$dir" -DSTRATA_WERROR=ON "$@" >/dev/null
cmake --build "$here/$dir" -j"$(nproc)"
