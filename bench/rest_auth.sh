#!/usr/bin/env bash
# bench/rest_auth.sh: the cost of the REST token check per call (issue 15's
# figure). Never part of the test run.
#
# Two masters of the same build run side by side on loopback: one with no
# token (auth off), one whose http.token_file holds an admin and a readonly
# token (auth on: every call verifies its bearer token: a lookup by id and
# one SHA-256, plus a stat of the file at most once a second). wrk asks a
# cheap readonly route (GET /api/v1/masters/self) at 1 connection, off and on
# alternately, ROUNDS times, and prints req/s and mean latency of each and
# the difference per call. Same run, same machine, so the difference is
# the check (plus the extra header bytes). On a busy machine that
# difference drowns in noise, so bench/tokens_bench also times the check
# itself in process (file of 100 tokens, the last one checked).
#
# Environment: BUILD (default <src>/build-bench, a Release tree; an existing
# tree is used as it is), DURATION seconds per wrk run (5), ROUNDS (3),
# CONNS (1), CHECKS for tokens_bench (1000000), JOBS for the build (2). Installs wrk with apt-get when missing.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-1}
JOBS=${JOBS:-2}
ROUTE=/api/v1/masters/self

log() { printf '%s\n' "$*" >&2; }

if ! command -v wrk >/dev/null 2>&1; then
	log "installing wrk (Debian package)"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get install -y wrk >/dev/null 2>&1 ||
		{ $SUDO apt-get update >/dev/null && $SUDO apt-get install -y wrk >/dev/null; }
fi

if [ ! -x "$BUILD/daemon/master/strata-master" ] || [ ! -x "$BUILD/cli/strata" ] ||
	[ ! -x "$BUILD/bench/tokens_bench" ]; then
	log "building a Release tree in $BUILD"
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BENCH=ON \
		-DSTRATA_TESTS=OFF >/dev/null
	cmake --build "$BUILD" -j"$JOBS" --target strata-master strata tokens_bench >/dev/null
fi
MASTER_BIN=$BUILD/daemon/master/strata-master
CLI_BIN=$BUILD/cli/strata

WORK=$(mktemp -d /tmp/strata-bench-auth.XXXXXX)
PIDS=()
cleanup() {
	# start_master runs in $(...), a subshell: its masters' pids are in a file.
	[ -f "${WORK:-/nonexistent}/pids" ] && mapfile -t -O "${#PIDS[@]}" PIDS <"$WORK/pids"
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start NAME TOKEN_FILE -> prints the port
start_master() {
	local name=$1 tokens=$2 port
	port=$(free_port)
	env -u STRATA_TOKEN -u STRATA_TOKEN_FILE "$MASTER_BIN" --set master.port="$port" \
		--set master.raft_port="$(free_port)" \
		--set master.state_dir="$WORK/$name" --set http.token_file="$tokens" \
		--set log.level=warn >"$WORK/$name.log" 2>&1 &
	echo $! >>"$WORK/pids"
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1 && break
		sleep 0.1
	done
	echo "$port"
}

"$CLI_BIN" admin token create --role readonly --file "$WORK/tokens" >/dev/null 2>&1
TOKEN=$("$CLI_BIN" admin token create --role admin --file "$WORK/tokens" 2>/dev/null)
OFF=$(start_master off "$WORK/none")
ON=$(start_master on "$WORK/tokens")
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ON$ROUTE")" = 401 ] ||
	{ log "auth is not on at port $ON"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	"http://127.0.0.1:$ON$ROUTE")" = 200 ] || { log "the token is refused"; exit 1; }

# run PORT [HEADER] -> "req/s mean_latency_us"
run() {
	local port=$1 out
	if [ $# -gt 1 ]; then
		out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "$2" "http://127.0.0.1:$port$ROUTE")
	else
		out=$(wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$port$ROUTE")
	fi
	python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"Latency\s+([\d.]+)(us|ms|s)", t)
lat = float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
print(f"{rps:.0f} {lat:.1f}")
PY
}

log "wrk: GET $ROUTE, $CONNS connection(s), ${DURATION}s per run, $ROUNDS rounds (off, on)"
# Warm both (connections, caches, the first look at the token file).
wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$OFF$ROUTE" >/dev/null
wrk -t1 -c"$CONNS" -d1s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$ON$ROUTE" >/dev/null
sum_off=0 sum_on=0 lat_off=0 lat_on=0
for r in $(seq "$ROUNDS"); do
	read -r a la < <(run "$OFF")
	read -r b lb < <(run "$ON" "Authorization: Bearer $TOKEN")
	printf 'round %d: auth off %s req/s (mean %s us), auth on %s req/s (mean %s us)\n' \
		"$r" "$a" "$la" "$b" "$lb"
	sum_off=$(python3 -c "print($sum_off+$a)"); sum_on=$(python3 -c "print($sum_on+$b)")
	lat_off=$(python3 -c "print($lat_off+$la)"); lat_on=$(python3 -c "print($lat_on+$lb)")
done
python3 - "$sum_off" "$sum_on" "$ROUNDS" "$CONNS" <<'PY'
import sys
off, on, n, conns = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
off, on = off / n, on / n
per_call_us = (conns / on - conns / off) * 1e6
print(f"figure: REST token check: auth off {off:.0f} req/s, auth on {on:.0f} req/s "
      f"({on / off:.3f}x); cost per call {per_call_us:.1f} us at {conns} connection(s)")
PY
"$BUILD/bench/tokens_bench" 100 "${CHECKS:-1000000}"
