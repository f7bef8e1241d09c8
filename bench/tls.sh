#!/usr/bin/env bash
# bench/tls.sh: warm 16 KiB S3 GETs over TLS against plaintext, in the same
# run (issue 15's figure; target TLS >= 0.6x). Never part of the test run.
#
# Two pairs of one master and one worker over the same local directory:
# one plaintext, one with http.tls_cert/http.tls_key (a self-signed
# certificate made here with the openssl CLI), so the S3 port speaks HTTPS
# (the fast path sends through kTLS when the kernel takes the session; the
# worker's log says which). Every object is warmed into the MEM tier of
# both workers; then wrk (bench/s3auth.lua, unsigned paths) reads them at
# each connection count, plaintext and TLS taking turns for ROUNDS rounds;
# each cell is the median (pair_ratio: the median of the rounds' own
# ratios, each round's two runs back to back). wrk keeps its connections,
# so this measures TLS records, not handshakes.
#
# Usage: bench/tls.sh [--quick]
# Environment: BUILD (default <src>/build-bench-read, a Release tree), JOBS
# (2), DURATION seconds per wrk run (5; --quick 2), ROUNDS (5; --quick 1),
# NOBJ (500; --quick 100), CONNS ("8 64"), KEEP=1 (keep the temp dir),
# SKIP_BUILD=1 (use BUILD as is).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-read}
JOBS=${JOBS:-2}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-5}
NOBJ=${NOBJ:-500}
CONNS=${CONNS:-"8 64"}
case ${1:-} in
--quick) DURATION=2; ROUNDS=1; NOBJ=100 ;;
-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
"") ;;
*) echo "tls.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
command -v wrk >/dev/null || { echo "tls.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "tls.sh: openssl is missing" >&2; exit 1; }
log() { echo "tls: $*" >&2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF >/dev/null
	cmake --build "$BUILD" -j"$JOBS" --target strata-master strata-worker >/dev/null
fi
WORK=$(mktemp -d /tmp/strata-tls.XXXXXX)
PIDS=()
cleanup() {
	# start_pair runs in $(...), a subshell: its daemons' pids are in a file.
	[ -f "${WORK:-/nonexistent}/pids" ] && mapfile -t -O "${#PIDS[@]}" PIDS <"$WORK/pids"
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ "${KEEP:-0}" = 1 ] && log "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # PORT PID NAME
	for _ in $(seq 1 100); do
		(echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || { log "$3 exited"; exit 1; }
		sleep 0.1
	done
	log "$3 did not listen on $1"; exit 1
}

mkdir -p "$WORK/store/bench"
python3 - "$WORK/store/bench" "$NOBJ" <<'PY'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], "o%06d" % i), "wb") as f:
        f.write(os.urandom(16384))
PY
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

start_pair() { # NAME [--set k=v ...] -> "S3PORT WPORT"
	local name=$1; shift
	local mport wport s3port
	mport=$(free_port); wport=$(free_port); s3port=$(free_port)
	"$BUILD/daemon/master/strata-master" --set master.port="$mport" \
		--set master.state_dir="$WORK/$name-master" --set master.root_ufs="file://$WORK/store" \
		--set master.raft_port="$(free_port)" --set log.level=warn "$@" \
		>"$WORK/$name-master.log" 2>&1 &
	echo $! >>"$WORK/pids"; wait_port "$mport" "$!" "$name master"
	"$BUILD/daemon/worker/strata-worker" --set worker.port="$wport" \
		--set worker.s3_port="$s3port" --set worker.data_dir="$WORK/$name-worker" \
		--set worker.tier.mem.dir="$WORK/$name-worker/mem" \
		--set master.addresses="127.0.0.1:$mport" --set worker.metadata_ttl=1h \
		--set log.level=info "$@" >"$WORK/$name-worker.log" 2>&1 &
	echo $! >>"$WORK/pids"; wait_port "$s3port" "$!" "$name worker"
	echo "$s3port $wport"
}
read -r PLAIN_S3 _ <<<"$(start_pair plain)"
read -r TLS_S3 _ <<<"$(start_pair tls --set http.tls_cert="$WORK/cert.pem" \
	--set http.tls_key="$WORK/key.pem")"
PLAIN_URL="http://127.0.0.1:$PLAIN_S3"
TLS_URL="https://127.0.0.1:$TLS_S3"

for i in $(seq 0 $((NOBJ - 1))); do printf '/bench/o%06d\n' "$i"; done >"$WORK/paths.txt"
log "warming $NOBJ objects on both workers"
for _ in 1 2; do
	while read -r p; do
		curl -fsS -o /dev/null "$PLAIN_URL$p"
		curl -fsS -o /dev/null --cacert "$WORK/cert.pem" "$TLS_URL$p"
	done <"$WORK/paths.txt"
done
grep -o 'S3 server: TLS ([^)]*) with[a-z]* kTLS' "$WORK/tls-worker.log" | head -1 >&2 || true

run() { # URL CONNS -> requests/s and p99
	local threads=$(($2 < 2 ? $2 : 2))
	S3AUTH_REQUESTS="$WORK/paths.txt" S3AUTH_THREADS=$threads wrk -t"$threads" -c"$2" \
		-d"${DURATION}s" -s "$SRC/bench/s3auth.lua" "$1" 2>&1 | awk '/^RESULT/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if (v["status"] + v["read"] + v["timeout"] > 0) bad = " ERRORS"
		printf "%.0f %d%s\n", v["requests"] / (v["duration_us"] / 1e6), v["p99_us"], bad }'
}
# shellcheck source=bench/ratios.sh
. "$SRC/bench/ratios.sh"

printf '%-6s %14s %14s %8s %12s %12s %11s\n' conns plain_rps tls_rps ratio p99_plain_us p99_tls_us pair_ratio
for c in $CONNS; do
	u=(); s=(); pu=(); ps=()
	for _ in $(seq 1 "$ROUNDS"); do
		read -r r p _ <<<"$(run "$PLAIN_URL" "$c")"; u+=("$r"); pu+=("$p")
		read -r r p _ <<<"$(run "$TLS_URL" "$c")"; s+=("$r"); ps+=("$p")
	done
	mu=$(printf '%s\n' "${u[@]}" | median); ms=$(printf '%s\n' "${s[@]}" | median)
	printf '%-6s %14s %14s %8s %12s %12s %11s\n' "$c" "$mu" "$ms" "$(ratio "$ms" "$mu")" \
		"$(printf '%s\n' "${pu[@]}" | median)" "$(printf '%s\n' "${ps[@]}" | median)" \
		"$(pair_ratio "${s[*]}" "${u[*]}")"
done
