#!/bin/sh
# Long soak of the Raft simulation: many more seeds and steps than the unit
# run, on a seed range of its own. Prints each scenario's figures; on a
# failure prints the seed and the command that replays it, and exits 1.
#
#   bench/raft_soak.sh [BUILD_DIR] [SEEDS] [STEPS] [SEED_BASE]
#   e.g. bench/raft_soak.sh build 20000 2000 100000
set -u
build=${1:-build}
seeds=${2:-10000}
steps=${3:-2000}
base=${4:-$(date +%s)}
bin="$build/tests/unit/test_raft_sim"
if [ ! -x "$bin" ]; then
	echo "raft_soak: $bin not built (cmake --build $build --target test_raft_sim)" >&2
	exit 2
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "raft_soak: $seeds seeds x $steps steps per scenario, seed base $base"
start=$(date +%s)
RAFT_SIM_SEEDS=$seeds RAFT_SIM_STEPS=$steps RAFT_SIM_SEED_BASE=$base "$bin" >"$out" 2>&1
rc=$?
end=$(date +%s)
grep -E '^(FAIL|  replay|[a-z_]+: [0-9]+ seeds|raft simulation)' "$out"
echo "raft_soak: $((end - start)) s, exit $rc"
exit $rc
