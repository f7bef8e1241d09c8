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
# One target: its seeds copied into its work corpus, then libFuzzer for
# $secs seconds. Its verdict goes to build-fuzz/NAME.status (0 clean).
run_target() {
  local t=$1 name seeds work rc=0
  name=$(basename "$t")
  seeds="$here/tests/fuzz/corpus/$name"
  work="$here/build-fuzz/corpus/$name"
  mkdir -p "$work"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$here/build-fuzz/crashes/$name-" "$work" > "$here/build-fuzz/$name.log" 2>&1 || rc=$?
  echo "$rc" > "$here/build-fuzz/$name.status"
}

# Each target is one process on one core: as many at a time as there are
# cores (the same seconds per target, the stage's wall time divided).
jobs_max=$(nproc)
names=()
for t in "${targets[@]}"; do
  { [ -f "$t" ] && [ -x "$t" ]; } || continue
  names+=("$(basename "$t")")
  rm -f "$here/build-fuzz/$(basename "$t").status"
  echo "fuzz: $(basename "$t") for ${secs}s"
  run_target "$t" &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
done
wait
failed=0
for name in "${names[@]}"; do
  status=$(cat "$here/build-fuzz/$name.status" 2>/dev/null || echo missing)
  if [ "$status" != 0 ]; then
    echo "fuzz: $name FAILED (exit $status); see build-fuzz/$name.log and build-fuzz/crashes/" >&2
    tail -40 "$here/build-fuzz/$name.log" >&2
    failed=1
    continue
  fi
  echo "fuzz: $name: $(grep -E "^Done|#[0-9]+.*DONE" "$here/build-fuzz/$name.log" | tail -1 || true)"
done
[ "$failed" = 0 ] || exit 1
echo "fuzz: ${#names[@]} targets ran clean"
