#!/usr/bin/env bash
# bench/ha.sh: figures of the masters' Raft group (issue 5): failover time
# after a leader SIGKILL, committed mutations/s for 1 vs 3 masters, and
# snapshot/restore time at ~1M inodes. Never part of the test run; see
# bench/ha.py for what is measured and the environment it reads.
#
#   bench/ha.sh [--quick]
#
# BUILD (default <src>/build-bench, a Release tree), JOBS (2). Installs wrk
# with apt-get when missing.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench}
JOBS=${JOBS:-2}

if ! command -v wrk >/dev/null 2>&1; then
	echo "installing wrk (Debian package)" >&2
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get install -y wrk >/dev/null 2>&1 ||
		{ $SUDO apt-get update >/dev/null && $SUDO apt-get install -y wrk >/dev/null; }
fi

echo "building a Release tree in $BUILD" >&2
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BENCH=ON \
	-DSTRATA_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target strata-master ns_fill >/dev/null

exec python3 "$SRC/bench/ha.py" "$BUILD" "$@"
