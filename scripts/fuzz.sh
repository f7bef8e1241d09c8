#!/usr/bin/env bash
# Builds every libFuzzer target (clang, ASan+UBSan) and runs each for a few
# seconds on its seed corpus. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
# Crashes are written to build-fuzz/crashes/ and fail the run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-15}

CC=clang cmake -S "$here" -B "$here/build-fuzz" -DCMAKE_BUILD_TYPE=Debug -DSTRATA_FUZZ=ON \
  -DSTRATA_WERROR=ON >/dev/null
cmake --build "$here/build-fuzz" --target fuzz_all -j"$(nproc)"
mkdir -p "$here/build-fuzz/crashes"
shopt -s nullglob
targets=("$here"/build-fuzz/tests/fuzz/fuzz_*)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "fuzz: no fuzz targets were built" >&2; exit 1
fi
for t in "${targets[@]}"; do
  { [ -f "$t" ] && [ -x "$t" ]; } || continue
  name=$(basename "$t")
  seeds="$here/tests/fuzz/corpus/$name"
  work="$here/build-fuzz/corpus/$name"
  mkdir -p "$work"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  echo "fuzz: $name for ${secs}s"
  if ! "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$here/build-fuzz/crashes/$name-" "$work" > "$here/build-fuzz/$name.log" 2>&1; then
    echo "fuzz: $name FAILED; see build-fuzz/$name.log and build-fuzz/crashes/" >&2
    tail -40 "$here/build-fuzz/$name.log" >&2
    exit 1
  fi
  grep -E "^Done|#[0-9]+.*DONE" "$here/build-fuzz/$name.log" | tail -1 || true
done
echo "fuzz: ${#targets[@]} targets ran clean"
