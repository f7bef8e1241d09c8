#!/usr/bin/env bash
# bench/policies.sh: figures of the data policies and jobs (issue 12), each
# compared in the same run with what a user would do without strata. Never
# part of the test run; prints figures, asserts nothing.
#
# The store is a local s3rver behind bench/latency_proxy.py, which adds
# LATENCY_MS (20) to the first byte of every response (as in bench/read.sh).
# Figures:
#   load      a load job (POST /api/v1/jobs, type load, recursive) of
#             NSMALL x 64 KiB and of NBIG x 64 MiB objects into the workers'
#             MEM tiers, timed from the listing that makes strata know the
#             files to the job's end, against `aws s3 cp --recursive` of
#             the same prefix from the same proxied store to a local
#             directory (awscli's defaults: 10 requests at once)
#   cold GET  NCOLD distinct 4 MiB objects, each read once over 8
#             connections through a worker's S3 gateway (first reads: the
#             cold path), against the same reads of the store directly
#             (bench/read_client.py fetch for both); twice, over two sets
#             of objects: first with every process free to run on every
#             CPU, then (SPLIT=1, the default on 2 CPUs or more) with the
#             store (s3rver and the latency proxy) pinned to CPU 0 and the
#             client, master and workers to the others, the layout of a
#             store on machines of its own: on a small machine the first
#             layout makes strata's worker compete with the store for CPU,
#             which a remote store never does
#   ttl       NTTL expired files (bench/ns_fill builds the namespace through
#             the real journal), TTL action free set on their directory
#             with a 2 s TTL: time from the expiry until the leader's
#             checker has fired all of them (its counter
#             ttl_fired_free_total), with the master's RSS (peak) and CPU
#             (share of one core) while it works; master.ttl_check_interval 1s
#   repl      time to restore the `min` copies of NBIG x BIG (1 GiB) after
#             a worker SIGKILL: detection (master.worker_timeout) and the
#             copies from the surviving workers; with REPL=1 (three workers
#             then, as it needs them)
#
# Usage: bench/policies.sh [--quick] [--latency-ms N]
#   --quick: NSMALL 200, NBIG 4 x 16 MiB, NCOLD 16, NTTL 10,000 (a check that
#   the script works; the full sizes are 1,000, 16 x 64 MiB, 64, 100,000).
# Environment: BUILD (default <src>/build-bench-policies, a Release tree with
# bench tools), JOBS (2), WORKERS (2), LATENCY_MS (20), REPORT (a file to
# copy the report to), KEEP=1 (keep the temp dir and its logs), REPL=1,
# NCOLD (objects of each cold GET pass), SPLIT (0: no pinned pass), ONLY
# (a comma list of the parts to run: load, cold, ttl; default all; the
# replication restore runs with REPL=1 either way).
# Needs /usr/bin/aws (awscli, a test dependency) and s3rver from
# tests/node_modules (scripts/deps.sh). Every process it starts is stopped
# on exit, Ctrl-C included. docs/bench.md explains the figures.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$SRC/bench
BUILD=${BUILD:-$SRC/build-bench-policies}
JOBS=${JOBS:-2}
WORKERS=${WORKERS:-$([ "${REPL:-0}" = 1 ] && echo 3 || echo 2)}
LATENCY_MS=${LATENCY_MS:-20}
QUICK=0
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--latency-ms) LATENCY_MS=$2; shift ;;
	--latency-ms=*) LATENCY_MS=${1#*=} ;;
	-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "policies.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

KiB=1024
MiB=$((1 << 20))
SMALL=$((64 * KiB))
COLD=$((4 * MiB))
if [ "$QUICK" = 1 ]; then
	NSMALL=200 NBIG=4 BIG=$((16 * MiB)) NCOLD=${NCOLD:-16} TTL_DIRS=10
else
	NSMALL=1000 NBIG=16 BIG=$((64 * MiB)) NCOLD=${NCOLD:-64} TTL_DIRS=100
fi
TTL_FILES=1000 # per directory
NTTL=$((TTL_DIRS * TTL_FILES))

log() { printf '[policies.sh %s] %s\n' "$(date +%T)" "$*" >&2; }
NCPU=$(nproc)
SPLIT=${SPLIT:-$([ "$NCPU" -ge 2 ] && command -v taskset >/dev/null && echo 1 || echo 0)}
case $SPLIT in 0 | 1) ;; *) log "SPLIT: want 0 or 1, got '$SPLIT'"; exit 2 ;; esac
if [ "$SPLIT" = 1 ] && { [ "$NCPU" -lt 2 ] || ! command -v taskset >/dev/null; }; then
	log "SPLIT=1 needs 2 CPUs or more and taskset (util-linux)"
	exit 2
fi
NCOLDSETS=$((SPLIT == 1 ? 2 : 1))
ONLY=${ONLY:-load,cold,ttl}
for part in ${ONLY//,/ }; do
	case $part in load | cold | ttl) ;; *) log "ONLY: unknown part '$part' (load, cold, ttl)"; exit 2 ;; esac
done
want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

AWS=/usr/bin/aws
[ -x "$AWS" ] || { log "awscli is missing ($AWS): scripts/deps.sh installs it"; exit 1; }
S3RVER_JS=$SRC/tests/node_modules/s3rver/bin/s3rver.js
[ -f "$S3RVER_JS" ] || { log "s3rver is missing: run scripts/deps.sh"; exit 1; }

log "building a Release tree in $BUILD"
mkdir -p "$BUILD"
if ! { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTRATA_BENCH=ON \
	-DSTRATA_TESTS=OFF && cmake --build "$BUILD" -j"$JOBS" --target strata-master \
	strata-worker ns_fill; } >"$BUILD/bench-policies-build.log" 2>&1; then
	log "the build failed:"
	tail -n 20 "$BUILD/bench-policies-build.log" >&2
	exit 1
fi
MASTER_BIN=$BUILD/daemon/master/strata-master
WORKER_BIN=$BUILD/daemon/worker/strata-worker
FILL_BIN=$BUILD/bench/ns_fill

# ---- processes: every one is stopped on exit ----
WORK=$(mktemp -d /tmp/strata-bench-policies.XXXXXX)
SHM=$(mktemp -d /dev/shm/strata-bench-policies.XXXXXX 2>/dev/null || mktemp -d "$WORK/shm.XXXXXX")
PIDS=()
cleanup() {
	local i n
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[$i]}" 2>/dev/null || true
	done
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		n=0
		while kill -0 "${PIDS[$i]}" 2>/dev/null && [ $n -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -KILL "${PIDS[$i]}" 2>/dev/null || true
		wait "${PIDS[$i]}" 2>/dev/null || true
	done
	rm -rf "$SHM"
	if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP
alive() { kill -0 "$1" 2>/dev/null; }

free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}
wait_port() { # PORT PID WHAT LOG
	local n
	for n in $(seq 1 400); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.5)" \
			2>/dev/null && return 0
		alive "$2" || break
		sleep 0.05
	done
	log "$3 did not start; its log:"
	tail -n 30 "$4" >&2 || true
	exit 1
}
now_ms() { date +%s%3N; }
# json URL EXPR: evaluates a Python expression over the JSON answer `d`.
json() {
	curl -m 30 -fsS "$1" | python3 -c "import json,sys; d = json.load(sys.stdin); print($2)"
}
post() { # URL BODY [METHOD]
	curl -m 60 -fsS -X "${3:-POST}" -H 'Content-Type: application/json' --data "$2" "$1"
}
mibs() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.1f", (ms > 0 ? b / 1048576 / (ms / 1000) : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }'; }

read -r S3_PORT PROXY_PORT CTL_PORT MASTER_PORT TTL_PORT <<<"$(free_ports 5)"
read -r -a W_PORTS <<<"$(free_ports $((2 * WORKERS)))"

# ---- the store: s3rver behind the latency proxy ----
log "starting s3rver and the latency proxy (+${LATENCY_MS} ms)"
mkdir -p "$WORK/s3rver"
NODE_OPTIONS=--openssl-legacy-provider node "$S3RVER_JS" -d "$WORK/s3rver" -a 127.0.0.1 \
	-p "$S3_PORT" --configure-bucket bench >"$WORK/s3rver.log" 2>&1 &
PIDS+=($!)
S3RVER_PID=$!
wait_port "$S3_PORT" $! s3rver "$WORK/s3rver.log"
python3 "$BENCH/latency_proxy.py" --listen "127.0.0.1:$PROXY_PORT" --upstream "127.0.0.1:$S3_PORT" \
	--latency-ms "$LATENCY_MS" --control "127.0.0.1:$CTL_PORT" >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
PROXY_PID=$!
wait_port "$PROXY_PORT" $! "the latency proxy" "$WORK/proxy.log"
wait_port "$CTL_PORT" "${PIDS[-1]}" "the latency proxy's counters" "$WORK/proxy.log"
store_gets() { json "http://127.0.0.1:$CTL_PORT/counters" 'd["GET"], d["LIST"], d["HEAD"]'; }

DATA=$WORK/data
log "writing the dataset: $NSMALL x 64 KiB, $NBIG x $((BIG / MiB)) MiB, $NCOLD x 4 MiB"
SETS=()
want load && SETS+=("bench/small:$NSMALL:$SMALL")
{ want load || [ "${REPL:-0}" = 1 ]; } && SETS+=("bench/big:$NBIG:$BIG")
want cold && SETS+=("bench/cold:$NCOLD:$COLD")
want cold && [ "$SPLIT" = 1 ] && SETS+=("bench/cold2:$NCOLD:$COLD")
[ ${#SETS[@]} -gt 0 ] && python3 "$BENCH/read_client.py" gen "$DATA" "${SETS[@]}"
mkdir -p "$DATA"
t0=$(date +%s)
python3 "$BENCH/read_client.py" upload "$DATA" "127.0.0.1:$S3_PORT" -j 4 >/dev/null
rm -rf "$DATA"
log "uploaded to s3rver in $(($(date +%s) - t0)) s"

# ---- strata: one master, WORKERS workers with a MEM tier each ----
MEM_QUOTA=$(((NSMALL * SMALL + NBIG * BIG + NCOLDSETS * NCOLD * COLD) * 5 / 4 / WORKERS + 256 * MiB))
if [ "${REPL:-0}" = 1 ]; then
	# Two copies of everything must fit on the workers left after the kill.
	MEM_QUOTA=$(((NSMALL * SMALL + NBIG * BIG + NCOLDSETS * NCOLD * COLD) * 2 * 5 / 4 / (WORKERS - 1) + 256 * MiB))
fi
MASTER=http://127.0.0.1:$MASTER_PORT
log "starting strata: 1 master, $WORKERS workers (MEM tier $((MEM_QUOTA / MiB)) MiB each)"
"$MASTER_BIN" --set master.port="$MASTER_PORT" --set master.state_dir="$WORK/master" \
	--set log.level=warn >"$WORK/master.log" 2>&1 &
PIDS+=($!)
MASTER_PID=$!
wait_port "$MASTER_PORT" $! strata-master "$WORK/master.log"
WORKER_PIDS=()
for ((i = 0; i < WORKERS; i++)); do
	"$WORKER_BIN" --set worker.port="${W_PORTS[$((2 * i))]}" \
		--set worker.s3_port="${W_PORTS[$((2 * i + 1))]}" --set worker.data_dir="$WORK/w$i" \
		--set worker.tier.mem.dir="$SHM/w$i" --set worker.tier.mem.quota="$MEM_QUOTA" \
		--set master.addresses="127.0.0.1:$MASTER_PORT" --set worker.heartbeat_interval=1s \
		--set log.level=warn >"$WORK/worker$i.log" 2>&1 &
	PIDS+=($!)
	WORKER_PIDS+=($!)
	wait_port "${W_PORTS[$((2 * i + 1))]}" $! "strata-worker $i" "$WORK/worker$i.log"
done
for _ in $(seq 1 100); do
	[ "$(json "$MASTER/api/v1/workers" 'len(d["workers"])' 2>/dev/null || echo 0)" -ge "$WORKERS" ] &&
		break
	sleep 0.1
done
post "$MASTER/api/v1/mounts" "{\"path\": \"/bench\", \"uri\": \"s3://bench\", \"options\": {
	\"s3.endpoint\": \"http://127.0.0.1:$PROXY_PORT\", \"s3.access_key\": \"S3RVER\",
	\"s3.secret_key\": \"S3RVER\", \"s3.path_style\": \"true\", \"s3.region\": \"us-east-1\"}}" \
	>/dev/null
sleep 1.5 # a heartbeat round: every worker knows the others

# ---- load jobs vs aws s3 cp ----
declare -A R
# aws_cp PREFIX: ms
aws_cp() {
	local t0 dir=$WORK/aws-$1
	mkdir -p "$dir"
	t0=$(now_ms)
	AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
		AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
		"$AWS" s3 cp --recursive --quiet --endpoint-url "http://127.0.0.1:$PROXY_PORT" \
		"s3://bench/$1/" "$dir" >"$WORK/aws-$1.log" 2>&1 || { log "aws s3 cp failed: $(tail -n 3 "$WORK/aws-$1.log")"; echo 0; return; }
	echo $(($(now_ms) - t0))
	rm -rf "$dir"
}
# run_job TYPE PATH: starts a recursive job, waits for its end; its id
run_job() {
	local id
	id=$(post "$MASTER/api/v1/jobs" "{\"type\": \"$1\", \"path\": \"$2\", \"recursive\": true}" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
	while :; do
		case $(json "$MASTER/api/v1/jobs/$id" 'd["job"]["state"]') in
		queued | running) sleep 0.02 ;;
		*) break ;;
		esac
	done
	echo "$id"
}
# load_job PREFIX: "total_ms job_ms state files_done"
load_job() {
	local t0 id
	t0=$(now_ms)
	curl -m 300 -fsS "$MASTER/api/v1/files?path=%2Fbench%2F$1&limit=100000" >/dev/null
	id=$(run_job load "/bench/$1")
	echo "$(($(now_ms) - t0)) $(json "$MASTER/api/v1/jobs/$id" \
		'd["job"]["ended_ms"] - d["job"]["created_ms"], d["job"]["state"], d["job"]["files_done"]' |
		tr -d '(),')"
}
for set in small big; do
	want load || break
	if [ "$set" = small ]; then n=$NSMALL size=$SMALL; else n=$NBIG size=$BIG; fi
	log "load: aws s3 cp --recursive of $set ($n objects)"
	R[aws/$set]=$(aws_cp "$set")
	log "load: a load job of /bench/$set"
	g0=$(store_gets | awk '{ print $1 }')
	read -r total job state done <<<"$(load_job "$set")"
	R[job/$set]="$total $job $state $done $(($(store_gets | awk '{ print $1 }') - g0))"
	R[bytes/$set]=$((n * size))
	R[n/$set]=$n
	R[size/$set]=$size
done

# ---- cold 4 MiB GETs: S3 gateway vs the store ----
CLIENT_PIN=() # (taskset -c CPUS) while the split pass runs
fetch() { # HOSTPORT LIST [--s3-auth]: "MiB/s p50_ms p99_ms errors"
	"${CLIENT_PIN[@]}" python3 "$BENCH/read_client.py" fetch "$1" "$2" -c 8 --timeout 60 "${@:3}" |
		awk -v big="$COLD" '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			ok = f["requests"] - f["status"]; d = f["duration_us"] / 1e6
			printf "%.1f %.1f %.1f %d\n", (d > 0 ? ok * big / 1048576 / d : 0), f["p50_us"] / 1e3,
				f["p99_us"] / 1e3, f["connect"] + f["read"] + f["status"] + f["timeout"] }'
}
# cpu_of PID...: CPU ticks (user + system) the processes have used so far
cpu_of() { local p t=0; for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo $t; }
HZ=$(getconf CLK_TCK)
# cpu_split NAME=PIDS...: "name s, ..." CPU seconds since the last cpu_mark
CPU_NAMES=(s3rver proxy master workers)
cpu_now() { echo "$(cpu_of "$S3RVER_PID") $(cpu_of "$PROXY_PID") $(cpu_of "$MASTER_PID") $(cpu_of "${WORKER_PIDS[@]}")"; }
cpu_diff() { # BEFORE AFTER SECONDS: per process group, seconds of CPU and share of the wall time
	local -a a b
	read -r -a a <<<"$1"
	read -r -a b <<<"$2"
	local i out=""
	for i in "${!CPU_NAMES[@]}"; do
		out+="${CPU_NAMES[$i]} $(awk -v t=$((b[i] - a[i])) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }') s, "
	done
	echo "${out%, }"
}
# cold_pass SET KEY: the direct pass, then the strata pass, over SET's objects
cold_pass() {
	local set=$1 k=$2 c0 cg0 cl0 ch0 cg1 cl1 ch1 i
	for ((i = 0; i < NCOLD; i++)); do printf '/bench/%s/o%06d\n' "$set" "$i"; done >"$WORK/$set.txt"
	log "cold GET ($k): $NCOLD x 4 MiB straight from the store, 8 connections"
	c0=$(cpu_now)
	R[$k/direct]=$(fetch "127.0.0.1:$PROXY_PORT" "$WORK/$set.txt" --s3-auth)
	R[$k/direct_cpu]=$(cpu_diff "$c0" "$(cpu_now)")
	log "cold GET ($k): the same objects through worker 0's S3 gateway (first reads)"
	read -r cg0 cl0 ch0 <<<"$(store_gets | tr -d ',()')"
	c0=$(cpu_now)
	R[$k/strata]=$(fetch "127.0.0.1:${W_PORTS[1]}" "$WORK/$set.txt")
	R[$k/strata_cpu]=$(cpu_diff "$c0" "$(cpu_now)")
	read -r cg1 cl1 ch1 <<<"$(store_gets | tr -d ',()')"
	R[$k/store]="GET $((cg1 - cg0)), LIST $((cl1 - cl0)), HEAD $((ch1 - ch0))"
}
# free_all PATH...: free jobs empty the MEM tiers of PATHs' blocks, then the
# block buffers the workers kept go (after 10 s idle), so that the next
# part starts as it would alone: on this VM, memory beyond what the guest
# used lately costs several times more to fill (docs/bench.md, session 15),
# so a part's figure would otherwise depend on what ran before it.
free_all() {
	local path id state
	for path in "$@"; do
		id=$(run_job free "$path")
		state=$(json "$MASTER/api/v1/jobs/$id" 'd["job"]["state"]')
		[ "$state" = done ] || { log "the free job of $path ended $state"; exit 1; }
	done
	sleep 11
}
# pin CPUS PID...: every thread of each process (its new threads follow)
pin() {
	local cpus=$1 p
	shift
	for p in "$@"; do taskset -a -p -c "$cpus" "$p" >/dev/null; done
}
if want cold; then
	want load && free_all /bench/small /bench/big
	cold_pass cold cold
	# Blocks a worker read from the store but pushed to their owner.
	R[cold/pushed]=$(for ((i = 0; i < WORKERS; i++)); do
		json "http://127.0.0.1:${W_PORTS[$((2 * i))]}/api/v1/metrics" \
			'd["counters"].get("blocks_pushed_total", "?")' 2>/dev/null || echo "?"
	done | paste -sd+ -)
	if [ "$SPLIT" = 1 ]; then
		REST_CPUS=1-$((NCPU - 1))
		# The second pass starts as the first did.
		free_all /bench/cold
		pin 0 "$S3RVER_PID" "$PROXY_PID"
		pin "$REST_CPUS" "$MASTER_PID" "${WORKER_PIDS[@]}"
		CLIENT_PIN=(taskset -c "$REST_CPUS")
		cold_pass cold2 split
		CLIENT_PIN=()
		pin "0-$((NCPU - 1))" "$S3RVER_PID" "$PROXY_PID" "$MASTER_PID" "${WORKER_PIDS[@]}"
	fi
	# What the machine charges for memory: the cold path writes each block
	# into memory the MEM tier did not hold before. Measured after the
	# passes (writing first would warm the memory they use).
	R[cold/shm]=$(python3 - "$SHM" <<'PY'
import os, sys, time
buf = os.urandom(4 << 20)
paths = [os.path.join(sys.argv[1], "probe.%d" % i) for i in range(256)]
t = time.monotonic()
for p in paths:
    with open(p, "wb") as f:
        f.write(buf)
d = time.monotonic() - t
for p in paths:
    os.unlink(p)
print("%.0f" % (1024 / d))
PY
) || R[cold/shm]="? (the probe failed: no room for 1 GiB in $SHM?)"
fi

# ---- replication restore (needs wip/repl) ----
# repl_restore: sets min 2 copies on /bench/big, waits until every block has
# two locations, SIGKILLs the last worker and times (a) until the master
# calls it lost (master.worker_timeout, default 30 s: the detection) and
# (b) until every block has two locations on other workers again (the
# re-replication, from the surviving copies). Needs WORKERS >= 3.
repl_restore() {
	local t0 t_lost="" ok victim_port victim_id
	[ "$WORKERS" -ge 3 ] || { echo "n/a: needs WORKERS >= 3"; return; }
	victim_port=${W_PORTS[$((2 * (WORKERS - 1)))]}
	victim_id=$(json "$MASTER/api/v1/workers" \
		"[w['id'] for w in d['workers'] if w['address'].endswith(':$victim_port')][0]")
	post "$MASTER/api/v1/files/replication" '{"path": "/bench/big", "recursive": true, "min": 2}' \
		PUT >/dev/null
	copies() { # the fewest locations, not on the victim, over the files' blocks
		local f m=99 c
		for ((f = 0; f < NBIG; f++)); do
			c=$(json "$MASTER/api/v1/files/stat?path=%2Fbench%2Fbig%2Fo$(printf %06d $f)" \
				"min([len([l for l in b['locations'] if l['worker_id'] != '$victim_id' or \
				'$1' != 'others']) for b in d['blocks']] or [0])")
			[ "$c" -lt "$m" ] && m=$c
		done
		echo "$m"
	}
	ok=0
	for _ in $(seq 1 600); do [ "$(copies all)" -ge 2 ] && { ok=1; break; }; sleep 0.5; done
	[ "$ok" = 1 ] || { echo "min 2 copies never reached before the kill"; return; }
	kill -KILL "${WORKER_PIDS[-1]}"
	t0=$(now_ms)
	ok=0
	for _ in $(seq 1 2400); do
		if [ -z "$t_lost" ] && [ "$(json "$MASTER/api/v1/workers" \
			"[w['state'] for w in d['workers'] if w['id'] == '$victim_id'][0]")" = lost ]; then
			t_lost=$(now_ms)
		fi
		[ "$(copies others)" -ge 2 ] && { ok=1; break; }
		sleep 0.25
	done
	local bytes=$((NBIG * BIG))
	if [ "$ok" = 1 ]; then
		local t1 lost_ms
		t1=$(now_ms)
		lost_ms=$((${t_lost:-$t1} - t0))
		echo "$((t1 - t0)) ms after the SIGKILL for $((bytes / MiB)) MiB: lost after $lost_ms ms" \
			"(master.worker_timeout), copies restored $((t1 - t0 - lost_ms)) ms later" \
			"($(mibs $bytes $((t1 - t0 - lost_ms))) MiB/s if every block lost a copy)"
	else
		echo "not restored within 600 s (lost after $((${t_lost:-0} - t0)) ms)"
	fi
}
if [ "${REPL:-0}" = 1 ]; then
	if want load && want cold; then
		log "replication: loading /bench/big again (the cold part freed it)"
		run_job load /bench/big >/dev/null
	fi
	log "replication: restoring min copies after a worker SIGKILL"
	R[repl]=$(repl_restore)
else
	R[repl]="n/a: REPL=1 runs it (with three workers)"
fi

# ---- TTL checker over NTTL expired files ----
if want ttl; then
	log "ttl: ns_fill $TTL_DIRS x $TTL_FILES inodes"
	mkdir -p "$WORK/ttlmaster"
	"$FILL_BIN" "$WORK/ttlmaster" "$TTL_DIRS" "$TTL_FILES" >"$WORK/ns_fill.log" 2>&1
	"$MASTER_BIN" --set master.port="$TTL_PORT" --set master.state_dir="$WORK/ttlmaster" \
		--set master.ttl_check_interval=1s --set log.level=warn >"$WORK/ttlmaster.log" 2>&1 &
	PIDS+=($!)
	TTL_PID=$!
	wait_port "$TTL_PORT" "$TTL_PID" "the TTL master" "$WORK/ttlmaster.log"
	TTLM=http://127.0.0.1:$TTL_PORT
	fired() { json "$TTLM/api/v1/metrics" 'd["master"]["ttl_fired_free_total"]'; }
	cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$TTL_PID/stat"; }
	rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$TTL_PID/status"; }
	HZ=$(getconf CLK_TCK)
	rss0=$(rss_kib)
	post "$TTLM/api/v1/files/ttl" '{"path": "/bench", "recursive": true, "ttl_ms": 2000,
		"action": "free"}' PUT >/dev/null
	expiry=$(json "$TTLM/api/v1/files/stat?path=%2Fbench%2Fd00000%2Ff000000" 'd["ttl_expiry_ms"]')
	log "ttl: $NTTL files expire at $expiry; waiting for the checker"
	while [ "$(now_ms)" -lt "$expiry" ]; do sleep 0.05; done
	c0=$(cpu_ticks)
	t0=$(now_ms)
	peak=$rss0
	done_ms=""
	while [ "$(($(now_ms) - t0))" -lt 600000 ]; do
		r=$(rss_kib)
		[ "$r" -gt "$peak" ] && peak=$r
		if [ "$(fired)" -ge "$NTTL" ]; then
			done_ms=$(($(now_ms) - t0))
			break
		fi
		sleep 0.2
	done
	c1=$(cpu_ticks)
	if [ -n "$done_ms" ]; then
		R[ttl]="$done_ms $(awk -v n="$NTTL" -v ms="$done_ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')"
		R[ttl_cpu]=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v ms="$done_ms" \
			'BEGIN { printf "%.0f", 100 * t / hz / (ms / 1000) }')
	else
		R[ttl]="- - ($(fired) of $NTTL fired in 600 s)"
		R[ttl_cpu]="?"
	fi
	R[ttl_rss]="$((rss0 / 1024)) MiB before, $((peak / 1024)) MiB peak"
fi

# ---- report ----
{
	echo "bench/policies.sh $([ "$QUICK" = 1 ] && echo "--quick ")($(date -u '+%F %T') UTC," \
		"$(nproc) cores, store at +${LATENCY_MS} ms, $WORKERS workers, commit" \
		"$(git -C "$SRC" rev-parse --short HEAD 2>/dev/null || echo ?))"
	echo "parts: $ONLY"
	if want load; then
	echo
	echo "load job vs aws s3 cp --recursive (same objects, same proxied store)"
	for set in small big; do
		read -r total job state done gets <<<"${R[job/$set]}"
		b=${R[bytes/$set]}
		sz=${R[size/$set]}
		if [ "$sz" -ge "$MiB" ]; then label="${R[n/$set]} x $((sz / MiB)) MiB"; else
			label="${R[n/$set]} x $((sz / KiB)) KiB"; fi
		printf '  %-18s load job %6.2f s %7s MiB/s (job alone %.2f s; %s, %s files, %s store GETs)\n' \
			"$label" "$(awk -v m="$total" 'BEGIN { print m / 1000 }')" "$(mibs "$b" "$total")" \
			"$(awk -v m="$job" 'BEGIN { print m / 1000 }')" "$state" "$done" "$gets"
		printf '  %-18s aws cp   %6.2f s %7s MiB/s   -> load job / aws: %s (target >= 1.0x)\n' "" \
			"$(awk -v m="${R[aws/$set]}" 'BEGIN { print m / 1000 }')" "$(mibs "$b" "${R[aws/$set]}")" \
			"$(ratio "${R[aws/$set]}" "$total")"
	done
	fi
	if want cold; then
	echo
	echo "cold 4 MiB GETs, $NCOLD distinct objects, 8 connections (MiB/s, p50 ms, p99 ms, errors)"
	for k in cold split; do
		[ -n "${R[$k/strata]:-}" ] || continue
		if [ "$k" = cold ]; then
			echo " every process on any of the $NCPU CPUs:"
		else
			echo " the store (s3rver, latency proxy) on CPU 0; the client, master and workers on CPUs $REST_CPUS"
			echo " (a store on machines of its own; other objects, as cold):"
		fi
		echo "  store direct        ${R[$k/direct]}"
		echo "  strata S3 gateway   ${R[$k/strata]}"
		echo "  store requests during the strata pass: ${R[$k/store]}"
		[ "$k" = cold ] && echo "  blocks pushed to their owner (per worker): ${R[cold/pushed]}"
		echo "  -> strata / direct: $(ratio "$(echo "${R[$k/strata]}" | cut -d' ' -f1)" \
			"$(echo "${R[$k/direct]}" | cut -d' ' -f1)") (target >= 0.8x)"
		echo "  CPU during the direct pass: ${R[$k/direct_cpu]}"
		echo "  CPU during the strata pass: ${R[$k/strata_cpu]}"
	done
	echo " after the passes, 1 GiB written into new files where the MEM tiers are: ${R[cold/shm]} MiB/s"
	fi
	if want ttl; then
	echo
	read -r ttl_ms ttl_rate <<<"${R[ttl]}"
	echo "TTL checker, $NTTL expired files (action free, master.ttl_check_interval 1s)"
	echo "  all fired ${ttl_ms} ms after the expiry (${ttl_rate} files/s)"
	echo "  master CPU ${R[ttl_cpu]}% of one core meanwhile; RSS ${R[ttl_rss]}"
	fi
	echo
	echo "restore min copies of 1 GiB after a worker SIGKILL: ${R[repl]}"
} | tee "$WORK/report.txt"
[ -n "${REPORT:-}" ] && cp "$WORK/report.txt" "$REPORT"
exit 0
