#!/usr/bin/env bash
# Runs every libFuzzer target for a given time each and reports, per
# target, the executions, executions per second, the corpus it ended with
# and the crashes found (the artifacts are kept). Longer than CI's pass
# (scripts/fuzz.sh, 15 s each); for a release or after touching a parser.
# Usage: bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET_NAME_REGEX]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
filter=${2:-.}
out="$here/build-fuzz/bench"

CC=clang cmake -S "$here" -B "$here/build-fuzz" -DCMAKE_BUILD_TYPE=Debug -DSTRATA_FUZZ=ON \
  -DSTRATA_WERROR=ON >/dev/null
cmake --build "$here/build-fuzz" --target fuzz_all -j"$(nproc)" >/dev/null
mkdir -p "$out/crashes"
shopt -s nullglob
printf '%-26s %8s %14s %12s %8s %8s\n' TARGET SECONDS EXECUTIONS EXEC/S CORPUS CRASHES
total_crashes=0
for t in "$here"/build-fuzz/tests/fuzz/fuzz_*; do
  { [ -f "$t" ] && [ -x "$t" ]; } || continue
  name=$(basename "$t")
  [[ $name =~ $filter ]] || continue
  work="$out/corpus/$name"
  mkdir -p "$work"
  seeds="$here/tests/fuzz/corpus/$name"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  log="$out/$name.log"
  set +e
  "$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/$name-" "$work" >"$log" 2>&1
  set -e
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
  found=("$out/crashes/$name-"*)
  crashes=${#found[@]}
  corpus=$(find "$work" -type f | wc -l)
  rate=$(( execs / (secs > 0 ? secs : 1) ))
  total_crashes=$(( total_crashes + crashes ))
  printf '%-26s %8s %14s %12s %8s %8s\n' "$name" "$secs" "$execs" "$rate" "$corpus" "$crashes"
done
echo
if [ "$total_crashes" -gt 0 ]; then
  echo "fuzz bench: $total_crashes crash artifact(s) in $out/crashes (logs beside them)"
  exit 1
fi
echo "fuzz bench: no crashes"
