#!/usr/bin/env bash
# bench/namespace.sh: figures of the master's namespace through REST. Never
# part of the test run.
#
#   1. a local root mount of 10k files: stat ops/s and ls ops/s (the
#      10k-entry directory paged at 1000, one page per request), at 1 and
#      8 connections, with wrk;
#   2. a state directory of ~1M inodes built by bench/ns_fill (the real
#      journal + apply path): fill rate, master start time, stat and ls
#      ops/s, and the master's RSS (VmRSS).
#
# Environment: BUILD (default <src>/build-bench, a Release tree), DURATION
# seconds per wrk run (10), NDIRS x NFILES for the big namespace (1000 x
# 1000), JOBS for the build (2). Installs wrk with apt-get when missing.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench}
DURATION=${DURATION:-10}
NDIRS=${NDIRS:-1000}
NFILES=${NFILES:-1000}
JOBS=${JOBS:-2}
NSMALL=10000

log() { printf '%s\n' "$*" >&2; }

if ! command -v wrk >/dev/null 2>&1; then
	log "installing wrk (Debian package)"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get install -y wrk >/dev/null 2>&1 ||
		{ $SUDO apt-get update >/dev/null && $SUDO apt-get install -y wrk >/dev/null; }
fi

log "building a Release tree in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BENCH=ON \
	-DSTRATA_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target strata-master ns_fill >/dev/null
MASTER_BIN=$BUILD/daemon/master/strata-master
FILL_BIN=$BUILD/bench/ns_fill

WORK=$(mktemp -d /tmp/strata-bench-ns.XXXXXX)
MASTER_PID=""
cleanup() {
	if [ -n "$MASTER_PID" ]; then
		kill "$MASTER_PID" 2>/dev/null || true
		wait "$MASTER_PID" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

now_ms() { date +%s%3N; }

# start_master STATE_DIR [--set k=v ...]: sets MASTER_PID, URL, START_MS.
start_master() {
	local state=$1
	shift
	local port
	port=$(free_port)
	URL=http://127.0.0.1:$port
	local t0
	t0=$(now_ms)
	"$MASTER_BIN" --set master.port="$port" --set master.state_dir="$state" \
		--set log.level=warn --set http.threads=16 "$@" >"$state.log" 2>&1 &
	MASTER_PID=$!
	MASTER_LOG=$state.log
	for _ in $(seq 1 1200); do
		if curl -fsS "$URL/api/v1/health" >/dev/null 2>&1; then
			START_MS=$(($(now_ms) - t0))
			return 0
		fi
		kill -0 "$MASTER_PID" 2>/dev/null || break
		sleep 0.05
	done
	log "the master did not start; its log:"
	cat "$state.log" >&2
	exit 1
}

stop_master() {
	kill -TERM "$MASTER_PID"
	wait "$MASTER_PID" || true
	MASTER_PID=""
}

rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$MASTER_PID/status"; }

# A wrk Lua script issuing GET requests whose path is FORMAT % (random
# number in [0, N)) - or, with a list file, cycling the file's lines.
lua_random() { # FILE FORMAT N
	cat >"$1" <<LUA
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
	return wrk.format("GET", string.format("$2", math.random(0, $3 - 1)))
end
LUA
}
lua_cycle() { # FILE LINES_FILE
	cat >"$1" <<LUA
local paths = {}
for line in io.lines("$2") do paths[#paths + 1] = line end
local i = 0
request = function()
	i = i % #paths + 1
	return wrk.format("GET", paths[i])
end
LUA
}

ROWS=()
# bench LABEL CONNS LUA: runs wrk, records "label | conns | req/s | avg latency".
bench() {
	local label=$1 conns=$2 lua=$3 threads=1 out
	[ "$conns" -gt 1 ] && threads=2
	out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" -s "$lua" "$URL")
	if ! kill -0 "$MASTER_PID" 2>/dev/null; then
		log "the master died during '$label'; its log:"
		tail -n 30 "$MASTER_LOG" >&2
		MASTER_PID=""
		exit 1
	fi
	local rps lat errs
	rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
	lat=$(awk '$1 == "Latency" { print $2; exit }' <<<"$out")
	errs=$(awk '/Non-2xx|Socket errors/ { print }' <<<"$out" | tr '\n' ' ')
	ROWS+=("$(printf '%-44s %5s %12s %10s  %s' "$label" "$conns" "$rps" "$lat" "$errs")")
	log "  $label, $conns conn: $rps req/s (avg $lat) $errs"
}

# ---- 1. 10k files under a local root mount ----
log "creating $NSMALL files"
mkdir -p "$WORK/ufs/src"
python3 - "$WORK/ufs/src" "$NSMALL" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(b"x" * (i % 512))
PY
start_master "$WORK/small" --set master.root_ufs="file://$WORK/ufs" \
	--set master.mount.sync_interval=never
# First access loads the listing from the store (a one-off sync).
t0=$(now_ms)
curl -fsS "$URL/api/v1/files?path=%2Fsrc&limit=1" >/dev/null
LOAD10K_MS=$(($(now_ms) - t0))
lua_random "$WORK/stat10k.lua" "/api/v1/files/stat?path=%%2Fsrc%%2Ff%05d" "$NSMALL"
: >"$WORK/pages10k.txt"
echo "/api/v1/files?path=%2Fsrc&limit=1000" >>"$WORK/pages10k.txt"
for p in $(seq 1 $((NSMALL / 1000 - 1))); do
	printf '/api/v1/files?path=%%2Fsrc&limit=1000&after=f%05d\n' $((p * 1000 - 1)) \
		>>"$WORK/pages10k.txt"
done
lua_cycle "$WORK/ls10k.lua" "$WORK/pages10k.txt"
# Check that a page really holds 1000 entries.
n=$(curl -fsS "$URL/api/v1/files?path=%2Fsrc&limit=1000&after=f04999" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
[ "$n" = 1000 ] || { log "a page of /src holds $n entries, not 1000"; exit 1; }
log "10k files (local mount, sync_interval=never):"
for c in 1 8; do bench "10k: stat (random file)" $c "$WORK/stat10k.lua"; done
for c in 1 8; do bench "10k: ls page of 1000 (of 10k entries)" $c "$WORK/ls10k.lua"; done
RSS_SMALL=$(rss_mib)
stop_master

# ---- 2. ~1M inodes ----
log "filling $NDIRS x $NFILES inodes with ns_fill"
mkdir -p "$WORK/big"
FILL=$("$FILL_BIN" "$WORK/big" "$NDIRS" "$NFILES")
log "  $FILL"
DB_MIB=$(du -sm "$WORK/big" | cut -f1)
start_master "$WORK/big"
BIG_START_MS=$START_MS
RSS_BIG_IDLE=$(rss_mib)
# stat of a random file: directory and file both random.
cat >"$WORK/stat1m.lua" <<LUA
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
	return wrk.format("GET", string.format("/api/v1/files/stat?path=%%2Fbench%%2Fd%05d%%2Ff%06d",
		math.random(0, $NDIRS - 1), math.random(0, $NFILES - 1)))
end
LUA
lua_random "$WORK/ls1m.lua" "/api/v1/files?path=%%2Fbench%%2Fd%05d&limit=1000" "$NDIRS"
t0=$(now_ms)
ROOTN=$(curl -fsS "$URL/api/v1/files?path=%2Fbench" |
	python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))')
LSROOT_MS=$(($(now_ms) - t0))
log "1M inodes:"
for c in 1 8; do bench "1M: stat (random file of $((NDIRS * NFILES)))" $c "$WORK/stat1m.lua"; done
for c in 1 8; do bench "1M: ls a random directory of $NFILES (limit 1000)" $c "$WORK/ls1m.lua"; done
RSS_BIG=$(rss_mib)
stop_master

printf '\nstrata namespace bench (%s, %s cores, wrk %ss per run, Release build)\n\n' \
	"$(uname -r)" "$(nproc)" "$DURATION"
printf '%-44s %5s %12s %10s\n' "operation (REST)" "conns" "req/s" "avg lat"
printf '%s\n' "--------------------------------------------------------------------------------"
for r in "${ROWS[@]}"; do printf '%s\n' "$r"; done
printf '\n%-60s %s\n' "10k: first listing of /src (loads 10k entries from the store)" "${LOAD10K_MS} ms"
printf '%-60s %s\n' "10k: master RSS after the runs" "${RSS_SMALL} MiB"
printf '%-60s %s\n' "1M: ns_fill" "$FILL"
printf '%-60s %s\n' "1M: state directory size" "${DB_MIB} MiB"
printf '%-60s %s\n' "1M: master start until /health answers" "${BIG_START_MS} ms"
printf '%-60s %s\n' "1M: ls /bench ($ROOTN directories, one request)" "${LSROOT_MS} ms"
printf '%-60s %s\n' "1M: master RSS idle after start" "${RSS_BIG_IDLE} MiB"
printf '%-60s %s\n' "1M: master RSS after the runs" "${RSS_BIG} MiB"
