#!/usr/bin/env bash
# The README's run command: installs what is missing, builds, and starts a
# local cluster in the foreground — one strata-master and one strata-worker on
# loopback, a MEM tier under a temp dir, a local directory mounted at / —
# then prints where to reach it.
# Ctrl-C (or SIGTERM) stops both cleanly.
#
# Environment: STRATA_LOCAL_DIR (default: a new /tmp/strata-local.XXXXXX),
# STRATA_MASTER_ROOT_UFS (default: file://$STRATA_LOCAL_DIR/ufs, created),
# and any STRATA_<KEY> configuration variable (e.g. STRATA_MASTER_PORT).
# STRATA_LOCAL_DIR belongs to this script, not to the daemons (which refuse
# STRATA_* variables that name no configuration key): it is not passed on.
#
# Usage: scripts/run.sh [--no-build BUILD_DIR]
#   --no-build: start the binaries already built in BUILD_DIR instead of
#   installing and building first (the test suite runs it so).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

bin="$here/build"
if [ "${1:-}" = "--no-build" ]; then
  bin=$(cd "${2:?usage: scripts/run.sh [--no-build BUILD_DIR]}" && pwd)
else
  scripts/deps.sh
  scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi

dir=${STRATA_LOCAL_DIR:-$(mktemp -d /tmp/strata-local.XXXXXX)}
unset STRATA_LOCAL_DIR
mkdir -p "$dir"
chmod 700 "$dir"
mport=${STRATA_MASTER_PORT:-19999}
wport=${STRATA_WORKER_PORT:-29999}
sport=${STRATA_WORKER_S3_PORT:-39999}
for p in "$mport" "$wport" "$sport"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "run: port $p on 127.0.0.1 is already in use (another strata?)." >&2
    echo "run: stop it, or choose ports with STRATA_MASTER_PORT, STRATA_WORKER_PORT, STRATA_WORKER_S3_PORT" >&2
    exit 1
  fi
done

root_ufs=${STRATA_MASTER_ROOT_UFS:-file://$dir/ufs}
if [ -z "${STRATA_MASTER_ROOT_UFS:-}" ] && [ ! -d "$dir/ufs" ]; then
  mkdir -p "$dir/ufs/welcome"
  printf 'This directory is mounted at / in strata.\n' > "$dir/ufs/welcome/README.txt"
fi

# Workers prove themselves to the master with a shared token (passed in the
# environment, which other users cannot read, not on the command line).
STRATA_CLUSTER_WORKER_TOKEN=$(openssl rand -hex 16)
export STRATA_CLUSTER_WORKER_TOKEN

pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "run: stopping the cluster"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "run: stopped; state and logs remain in $dir"
}
trap stop INT TERM EXIT

"$bin/daemon/master/strata-master" \
  --set "master.port=$mport" --set "master.state_dir=$dir/master" \
  --set "master.root_ufs=$root_ufs" \
  2> >(tee "$dir/master.log" >&2) &
pids+=($!)
"$bin/daemon/worker/strata-worker" \
  --set "master.addresses=127.0.0.1:$mport" --set "worker.port=$wport" \
  --set "worker.s3_port=$sport" --set "worker.data_dir=$dir/worker" \
  --set "worker.tier.mem.dir=$dir/mem" --set "worker.tier.mem.quota=${STRATA_WORKER_TIER_MEM_QUOTA:-1GB}" \
  --set "worker.heartbeat_interval=1s" \
  2> >(tee "$dir/worker.log" >&2) &
pids+=($!)

# Wait until the worker shows up in the master's registry.
for _ in $(seq 1 100); do
  if "$bin/cli/strata" --master "127.0.0.1:$mport" --json admin workers 2>/dev/null | grep -q '"state":.*"live"'; then
    break
  fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "run: a daemon exited; see the log above" >&2; exit 1; }
  done
  sleep 0.1
done

"$bin/cli/strata" --master "127.0.0.1:$mport" admin report
cat <<MSG

strata is running (state, MEM tier and logs in $dir):
  web console            http://127.0.0.1:$mport/
  REST API               http://127.0.0.1:$mport/api/v1/cluster
  S3 endpoint            http://127.0.0.1:$sport
  mounted at /           $root_ufs
  CLI                    $bin/cli/strata --master 127.0.0.1:$mport admin report
                         $bin/cli/strata --master 127.0.0.1:$mport fs ls -R /
  monitor                $bin/console/tui/strata-top --master 127.0.0.1:$mport
Press Ctrl-C to stop.
MSG
wait "${pids[@]}"
