#!/usr/bin/env bash
# bench/fuse.sh: figures of strata-fuse (docs/fuse.md). Never part of the
# test run.
#
# One master and one worker on loopback (MEM tier in /dev/shm), a local
# directory as the store, strata-fuse mounted on a temp directory. Prints:
#   seq      sequential read MiB/s of a warm SIZE_MIB file (in the worker's
#            MEM tier, written with CACHE_THROUGH) through a fresh mount
#            (kernel page cache cold), then again (page cache warm), against
#            `cat` of the same file from tmpfs; target: fresh >= 0.5x cat.
#            Fresh is the better of two fresh mounts: the first read after
#            the write, and one more (on a VM that hands freed memory back to
#            its host, the first read also pays for getting it back: both
#            are printed). The mount finds the worker's short-circuit socket
#            as one on the worker's host does (the worker's worker.data_dir
#            in its configuration); which path served the bytes is printed,
#            and a fresh mount with -o local_socket= (HTTP only) and one
#            with -o direct_io (a tuned column) are timed for comparison
#   ls       `ls -l` of a directory of NFILES entries through the mount: the
#            first (the master loads the directory from the store), and
#            again once the mount's caches expired (one listing from the
#            master); target: under 1 s
#   random   16 KiB records of the file in a shuffled order (a PyTorch-style
#            epoch: each record once), THREADS readers for DURATION s (or
#            the whole epoch): IOPS through a fresh mount (os.pread) vs Range
#            GETs on the worker's S3 gateway (keep-alive, the file warm in
#            the MEM tier), both from one Python process
#
# Usage: bench/fuse.sh
# Environment: SIZE_MIB (1024), NFILES (10000), THREADS (8), DURATION (5),
# FUSE_OPTS (extra -o options of the mount: a tuned run, never the headline),
# BUILD (default <src>/build-bench-fuse: a Release tree, configured and
# brought up to date by every run), JOBS (2), KEEP=1 (keep the temp dir).
# Every process it starts is stopped on exit, Ctrl-C included; the mount is
# always unmounted.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$SRC/build-bench-fuse}
JOBS=${JOBS:-2}
SIZE_MIB=${SIZE_MIB:-1024}
NFILES=${NFILES:-10000}
THREADS=${THREADS:-8}
DURATION=${DURATION:-5}
case ${1:-} in
-h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
"") ;;
*) echo "fuse.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
esac
[ -e /dev/fuse ] || { echo "fuse.sh: /dev/fuse is missing" >&2; exit 1; }

# Configured once, built every time (incremental: the tree follows the
# sources, and a failed earlier build is not taken for a finished one).
echo "building a Release tree in $BUILD ..." >&2
if ! { cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF \
	-DSTRATA_MANPAGES=OFF && cmake --build "$BUILD" -j"$JOBS"; } >"$BUILD.log" 2>&1; then
	echo "fuse.sh: the build failed ($BUILD.log):" >&2
	tail -n 20 "$BUILD.log" >&2
	exit 1
fi

TMP=$(mktemp -d /tmp/strata-bench-fuse.XXXXXX)
SHM=$(mktemp -d /dev/shm/strata-bench-fuse.XXXXXX)
MNT=$TMP/mnt
PIDS=()
cleanup() {
	if grep -qs " $MNT " /proc/mounts; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || true
	fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$SHM"
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
	for _ in $(seq 200); do
		curl -fsS "$1" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "fuse.sh: $1 did not answer" >&2
	exit 1
}
# Seconds (float) a command takes.
timed() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	echo "$t0 $t1" | awk '{ printf "%.3f", $2 - $1 }'
}

MP=$(port) WP=$(port) SP=$(port)
mkdir -p "$TMP/ufs/many" "$MNT"
env -u NOTIFY_SOCKET "$BUILD/daemon/master/strata-master" --set master.port="$MP" \
	--set master.state_dir="$TMP/master" --set master.root_ufs="file://$TMP/ufs" \
	>"$TMP/master.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$MP/api/v1/health"
MEM_QUOTA=$((SIZE_MIB * 2 + 256))MB
"$BUILD/daemon/worker/strata-worker" --set worker.port="$WP" --set worker.s3_port="$SP" \
	--set worker.data_dir="$TMP/worker" --set worker.tier.mem.dir="$SHM/mem" \
	--set worker.tier.mem.quota="$MEM_QUOTA" --set master.addresses="127.0.0.1:$MP" \
	>"$TMP/worker.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$WP/api/v1/health"
for _ in $(seq 100); do
	curl -fsS "http://127.0.0.1:$MP/api/v1/workers" | grep -q '"live"' && break
	sleep 0.1
done

# The mount reads the configuration a strata.conf shared with the worker
# would give it: worker.data_dir, where the worker's socket is.
mount_fuse() {
	local opts=${1:-${FUSE_OPTS:-}}
	STRATA_WORKER_DATA_DIR="$TMP/worker" "$BUILD/fuse/strata-fuse" "$MNT" \
		--master "127.0.0.1:$MP" ${opts:+-o "$opts"} -f >>"$TMP/fuse.log" 2>&1 &
	FUSE_PID=$!
	PIDS+=("$FUSE_PID")
	for _ in $(seq 100); do
		grep -qs " $MNT " /proc/mounts && return 0
		sleep 0.05
	done
	echo "fuse.sh: the mount did not come up (see $TMP/fuse.log)" >&2
	exit 1
}
unmount_fuse() {
	fusermount3 -u "$MNT"
	wait "$FUSE_PID" || true
}

echo "strata-fuse bench: SIZE_MIB=$SIZE_MIB NFILES=$NFILES THREADS=$THREADS DURATION=${DURATION}s"
echo "preparing: a ${SIZE_MIB} MiB file in tmpfs and in strata (CACHE_THROUGH: warm) ..."
head -c $((SIZE_MIB << 20)) /dev/urandom >"$SHM/data.bin"
"$BUILD/cli/strata" --master "127.0.0.1:$MP" fs put --write-type CACHE_THROUGH \
	"$SHM/data.bin" /data.bin >/dev/null
python3 - "$TMP/ufs/many" "$NFILES" <<'EOF'
import os, sys
for i in range(int(sys.argv[2])):
    with open(os.path.join(sys.argv[1], f"f{i:06d}"), "wb") as f:
        f.write(b"x" * (i % 100))
EOF
# The store is a directory on disk: its copy of the file is written back
# now, not during the reads below (the kernel would start it ~30 s later,
# in the middle of them).
sync

mbps() { awk -v mib="$SIZE_MIB" -v s="$1" 'BEGIN { printf "%.0f", mib / s }'; }
cat "$SHM/data.bin" >/dev/null
t_cat=$(timed sh -c "cat '$SHM/data.bin' >/dev/null")
t_cat2=$(timed sh -c "cat '$SHM/data.bin' >/dev/null")
t_cat=$(awk -v a="$t_cat" -v b="$t_cat2" 'BEGIN { print (a < b) ? a : b }')
# The worker's read counters: where the fresh read's bytes came from.
counters() {
	curl -fsS "http://127.0.0.1:$WP/api/v1/metrics" | python3 -c 'import json, sys
c = json.load(sys.stdin)["counters"]
print(c["bytes_from_cache_total"], c["bytes_from_ufs_total"], c["short_circuit_bytes_total"],
      c["short_circuit_opens_total"])'
}
mount_fuse
read -r cache0 ufs0 sc0 fds0 <<<"$(counters)"
t_fresh1=$(timed sh -c "cat '$MNT/data.bin' >/dev/null")
read -r cache1 ufs1 sc1 fds1 <<<"$(counters)"
t_again=$(timed sh -c "cat '$MNT/data.bin' >/dev/null")
cmp -s "$MNT/data.bin" "$SHM/data.bin" || { echo "fuse.sh: the mount read other bytes" >&2; exit 1; }
# A second fresh mount: the first read after the write also pays for
# memory this VM had given back to its host (docs/fuse.md, "Figures").
unmount_fuse
mount_fuse
t_fresh2=$(timed sh -c "cat '$MNT/data.bin' >/dev/null")
t_fresh=$(awk -v a="$t_fresh1" -v b="$t_fresh2" 'BEGIN { print (a < b) ? a : b }')
unmount_fuse
mount_fuse "local_socket=${FUSE_OPTS:+,$FUSE_OPTS}"
read -r cache2 ufs2 sc2 fds2 <<<"$(counters)"
t_http=$(timed sh -c "cat '$MNT/data.bin' >/dev/null")
read -r cache3 ufs3 sc3 fds3 <<<"$(counters)"
# The tuned column: -o direct_io (no page cache; shared mmap refused).
unmount_fuse
mount_fuse "direct_io${FUSE_OPTS:+,$FUSE_OPTS}"
t_dio=$(timed sh -c "cat '$MNT/data.bin' >/dev/null")
cmp -s "$MNT/data.bin" "$SHM/data.bin" || { echo "fuse.sh: the direct_io mount read other bytes" >&2; exit 1; }
echo
echo "== sequential read of a warm ${SIZE_MIB} MiB file"
printf "  %-38s %8s MiB/s\n" "cat from tmpfs" "$(mbps "$t_cat")"
printf "  %-38s %8s MiB/s  (%.2fx cat; target >= 0.5x; best of the first read after the write, %s, and a second fresh mount, %s)\n" \
	"mount, fresh (page cache cold)" "$(mbps "$t_fresh")" \
	"$(awk -v a="$t_cat" -v b="$t_fresh" 'BEGIN { print a / b }')" "$(mbps "$t_fresh1")" \
	"$(mbps "$t_fresh2")"
printf "  %-38s %8s MiB/s\n" "mount, again (page cache warm)" "$(mbps "$t_again")"
printf "  %-38s %s MiB short-circuit (%s block fds), %s MiB over HTTP from the MEM tier, %s MiB from the store\n" \
	"the worker served the fresh read" $(((sc1 - sc0) >> 20)) $((fds1 - fds0)) \
	$(((cache1 - cache0) >> 20)) $(((ufs1 - ufs0) >> 20))
printf "  %-38s %8s MiB/s  (%.2fx cat; %s MiB over HTTP, %s MiB short-circuit)\n" \
	"mount, fresh, -o local_socket= (HTTP)" "$(mbps "$t_http")" \
	"$(awk -v a="$t_cat" -v b="$t_http" 'BEGIN { print a / b }')" \
	$(((cache3 - cache2) >> 20)) $(((sc3 - sc2) >> 20))
printf "  %-38s %8s MiB/s  (%.2fx cat; tuned: no page cache, shared mmap refused)\n" \
	"mount, fresh, -o direct_io" "$(mbps "$t_dio")" \
	"$(awk -v a="$t_cat" -v b="$t_dio" 'BEGIN { print a / b }')"

unmount_fuse
mount_fuse
t_ls1=$(timed sh -c "ls -l '$MNT/many' >/dev/null")
n=$(ls -l "$MNT/many" | grep -c '^-' || true)
sleep 1.5
t_ls2=$(timed sh -c "ls -l '$MNT/many' >/dev/null")
[ "$n" = "$NFILES" ] || { echo "fuse.sh: ls -l listed $n of $NFILES" >&2; exit 1; }
echo
echo "== ls -l of $NFILES entries (target under 1 s)"
printf "  %-38s %8s s\n" "first (the master loads the directory)" "$t_ls1"
printf "  %-38s %8s s\n" "after the caches expired" "$t_ls2"

unmount_fuse
mount_fuse
echo
echo "== 16 KiB records in a shuffled order, $THREADS readers, ${DURATION} s each"
python3 - "$MNT/data.bin" "$THREADS" "$DURATION" "$SIZE_MIB" <<'EOF'
import os, random, sys, threading, time
path, nthreads, duration, size_mib = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
REC = 16384
nrec = (size_mib << 20) // REC

# An epoch of a shuffled dataset: every record once, in random order, split
# among the readers (no record is read twice, so no repeat is a cache hit).
order = list(range(nrec))
random.Random(1).shuffle(order)

def run(one):
    counts = [0] * nthreads
    stop = time.monotonic() + duration
    def worker(i):
        state = one(i)
        for rec in order[i::nthreads]:
            if time.monotonic() >= stop:
                break
            off = rec * REC
            data = state(off)
            assert len(data) == REC, len(data)
            counts[i] += 1
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    t0 = time.monotonic()
    for t in ts: t.start()
    for t in ts: t.join()
    return sum(counts) / (time.monotonic() - t0)

def mount_reader(i):
    fd = os.open(path, os.O_RDONLY)
    return lambda off: os.pread(fd, REC, off)

iops_mount = run(mount_reader)
print(f"  {'mount (fresh, page cache cold)':38s} {iops_mount:8.0f} IOPS")
sys.stdout.flush()
EOF
# The S3 gateway's bucket is a top-level directory: the same bytes under one.
mkdir -p "$TMP/ufs/bkt"
"$BUILD/cli/strata" --master "127.0.0.1:$MP" fs put --write-type CACHE_THROUGH \
	"$SHM/data.bin" /bkt/data.bin >/dev/null
python3 - "http://127.0.0.1:$SP" "$THREADS" "$DURATION" "$SIZE_MIB" <<'EOF'
import http.client, random, sys, threading, time
s3, nthreads, duration, size_mib = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
REC = 16384
nrec = (size_mib << 20) // REC
order = list(range(nrec))
random.Random(1).shuffle(order)
counts = [0] * nthreads
stop = time.monotonic() + duration
def worker(i):
    host, port = s3.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    for rec in order[i::nthreads]:
        if time.monotonic() >= stop:
            break
        off = rec * REC
        conn.request("GET", "/bkt/data.bin", headers={"Range": f"bytes={off}-{off + REC - 1}",
                                                      "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        r = conn.getresponse()
        body = r.read()
        assert r.status == 206 and len(body) == REC, (r.status, len(body))
        counts[i] += 1
ts = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
t0 = time.monotonic()
for t in ts: t.start()
for t in ts: t.join()
print(f"  {'S3 gateway (Range GET, warm)':38s} {sum(counts) / (time.monotonic() - t0):8.0f} IOPS")
EOF
unmount_fuse
echo
echo "done (logs: $TMP, kept with KEEP=1)"
