#!/usr/bin/env bash
# bench/s3auth.sh: warm 16 KiB S3 GETs on one worker, SigV4-signed against
# unsigned, in the same run (issue 15's figure; target signed >= 0.8x).
# Never part of the test run.
#
# One master over a local directory and one worker with an access key and
# worker.s3.anonymous_read_buckets=bench, so the same objects can be read
# unsigned (anonymous) and signed on the same worker. Every object is warmed
# into the MEM tier first; then wrk (bench/s3auth.lua) reads them at each
# connection count, unsigned and signed taking turns for ROUNDS rounds; each
# cell is the median, and pair_ratio the median of the rounds' own ratios
# (each round's two runs back to back). Signed requests carry a real
# signature per object, which the worker verifies on every request (in its
# event loops: the signed hits must stay on the fast path, which the
# counters below show).
#
# Usage: bench/s3auth.sh [--quick]
# Environment: BUILD (default <src>/build-bench-read, a Release tree), JOBS
# (2), DURATION seconds per wrk run (5; --quick 2), ROUNDS (5), NOBJ (500),
# CONNS ("8 64"), KEEP=1 (keep the temp dir), SKIP_BUILD=1 (use BUILD as is).
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
*) echo "s3auth.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
command -v wrk >/dev/null || { echo "s3auth.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
log() { echo "s3auth: $*" >&2; }

if [ "${SKIP_BUILD:-0}" != 1 ]; then
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF >/dev/null
	cmake --build "$BUILD" -j"$JOBS" --target strata-master strata-worker strata >/dev/null
fi
WORK=$(mktemp -d /tmp/strata-s3auth.XXXXXX)
PIDS=()
cleanup() {
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
MPORT=$(free_port); WPORT=$(free_port); S3PORT=$(free_port)
"$BUILD/daemon/master/strata-master" --set master.port="$MPORT" \
	--set master.state_dir="$WORK/master" --set master.root_ufs="file://$WORK/store" \
	--set log.level=warn >"$WORK/master.log" 2>&1 &
PIDS+=($!); wait_port "$MPORT" "$!" strata-master
KEY_JSON=$("$BUILD/cli/strata" admin s3key create --json --file "$WORK/keys/s3-keys")
"$BUILD/daemon/worker/strata-worker" --set worker.port="$WPORT" --set worker.s3_port="$S3PORT" \
	--set worker.data_dir="$WORK/worker" --set worker.tier.mem.dir="$WORK/worker/mem" \
	--set master.addresses="127.0.0.1:$MPORT" --set worker.metadata_ttl=1h \
	--set worker.s3.key_file="$WORK/keys/s3-keys" \
	--set worker.s3.anonymous_read_buckets=bench --set log.level=warn >"$WORK/worker.log" 2>&1 &
PIDS+=($!); wait_port "$S3PORT" "$!" strata-worker

# The request lists: unsigned paths, and the same paths signed (stdlib
# SigV4 of a GET with an empty payload, host 127.0.0.1:PORT, now).
sign_list() {
	python3 - "$KEY_JSON" "$S3PORT" "$NOBJ" <<'PY'
import datetime, hashlib, hmac, json, sys
key = json.loads(sys.argv[1]); host = "127.0.0.1:" + sys.argv[2]
empty = hashlib.sha256(b"").hexdigest()
now = datetime.datetime.now(datetime.timezone.utc)
amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
scope = f"{day}/us-east-1/s3/aws4_request"
k = ("AWS4" + key["secret"]).encode()
for part in (day, "us-east-1", "s3", "aws4_request"):
    k = hmac.new(k, part.encode(), hashlib.sha256).digest()
for i in range(int(sys.argv[3])):
    path = "/bench/o%06d" % i
    creq = "\n".join(["GET", path, "", f"host:{host}", f"x-amz-content-sha256:{empty}",
                      f"x-amz-date:{amz}", "", "host;x-amz-content-sha256;x-amz-date", empty])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    print(f"{path}\t{amz}\tAWS4-HMAC-SHA256 Credential={key['id']}/{scope}, "
          f"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}")
PY
}
for i in $(seq 0 $((NOBJ - 1))); do printf '/bench/o%06d\n' "$i"; done >"$WORK/unsigned.txt"
sign_list >"$WORK/signed.txt"

# Warm: every object read (unsigned, then signed) until it is a hit.
log "warming $NOBJ objects"
for _ in 1 2; do
	while read -r p; do curl -fsS -o /dev/null "http://127.0.0.1:$S3PORT$p"; done <"$WORK/unsigned.txt"
done
counters() { curl -fsS "http://127.0.0.1:$WPORT/api/v1/metrics"; }
c0=$(counters)

run() { # FILE CONNS -> requests/s and p99
	local threads=$(($2 < 2 ? $2 : 2))
	S3AUTH_REQUESTS=$1 S3AUTH_THREADS=$threads wrk -t"$threads" -c"$2" -d"${DURATION}s" \
		-s "$SRC/bench/s3auth.lua" "http://127.0.0.1:$S3PORT" 2>&1 | awk '/^RESULT/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if (v["status"] + v["read"] + v["timeout"] > 0) bad = " ERRORS"
		printf "%.0f %d%s\n", v["requests"] / (v["duration_us"] / 1e6), v["p99_us"], bad }'
}
# shellcheck source=bench/ratios.sh
. "$SRC/bench/ratios.sh"

printf '%-6s %14s %14s %8s %12s %12s %11s\n' conns unsigned_rps signed_rps ratio p99_unsig_us p99_sig_us pair_ratio
for c in $CONNS; do
	u=(); s=(); pu=(); ps=()
	for _ in $(seq 1 "$ROUNDS"); do
		sign_list >"$WORK/signed.txt" # fresh signatures (15 minutes of validity)
		read -r r p _ <<<"$(run "$WORK/unsigned.txt" "$c")"; u+=("$r"); pu+=("$p")
		read -r r p _ <<<"$(run "$WORK/signed.txt" "$c")"; s+=("$r"); ps+=("$p")
	done
	mu=$(printf '%s\n' "${u[@]}" | median); ms=$(printf '%s\n' "${s[@]}" | median)
	printf '%-6s %14s %14s %8s %12s %12s %11s\n' "$c" "$mu" "$ms" "$(ratio "$ms" "$mu")" \
		"$(printf '%s\n' "${pu[@]}" | median)" "$(printf '%s\n' "${ps[@]}" | median)" \
		"$(pair_ratio "${s[*]}" "${u[*]}")"
done
c1=$(counters)
python3 - "$c0" "$c1" <<'PY'
import json, sys
a, b = (json.loads(x)["counters"] for x in sys.argv[1:3])
d = {k: b[k] - a[k] for k in ("s3_fastpath_signed_hits_total", "s3_fastpath_unsigned_hits_total",
                              "s3_proxied_signed_total", "s3_proxied_unsigned_total")}
print("during the runs: " + ", ".join(f"{k} +{v}" for k, v in d.items()))
hits = d["s3_fastpath_signed_hits_total"]
print("signed requests on the fast path: %.1f%%" % (100.0 * hits / max(1, hits + d["s3_proxied_signed_total"])))
PY
