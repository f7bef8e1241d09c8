#!/usr/bin/env bash
# Builds the .deb and the .rpm (scripts/package.sh), lints both, installs the
# .deb on this machine, checks both file lists, runs the installed units'
# ExecStart lines as the strata user with the installed config (PID 1 need
# not be systemd), reads a file through the S3 gateway, then removes and
# purges the package and checks what is left. Needs root; exits 77 (skipped)
# otherwise. Usage: test_packages.sh SRC_DIR
set -euo pipefail

src=$(cd "${1:?usage: test_packages.sh SRC_DIR}" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (installs the .deb)"; exit 77; }
pkg_state() { dpkg-query -W -f='${db:Status-Status}' strata 2>/dev/null || true; }
if [ -n "$(pkg_state)" ] && [ "$(pkg_state)" != not-installed ]; then
  echo "FAIL: a strata package is already installed here; not touching it"; exit 1
fi

tmp=$(mktemp -d /tmp/strata-pkgtest.XXXXXX)
chmod 0755 "$tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$(pkg_state)" ] && [ "$(pkg_state)" != not-installed ]; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q strata >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
step() { echo "== $* ($(( $(date +%s) - t0 ))s)"; }
t0=$(date +%s)

step "build both packages"
# STRATA_PREBUILT_PACKAGES=DIR (a scripts/package.sh output) skips the build
# when iterating on this script; ctest always builds.
pkgs=${STRATA_PREBUILT_PACKAGES:-$tmp/pkgs}
if [ -z "${STRATA_PREBUILT_PACKAGES:-}" ]; then
  STRATA_PACKAGE_DIR=$pkgs "$src/scripts/package.sh" > "$tmp/package.log" 2>&1 \
    || { cat "$tmp/package.log"; fail "scripts/package.sh"; }
fi
deb=$(ls "$pkgs"/strata_*.deb)
rpm=$(ls "$pkgs"/strata-*.rpm)

step "lintian and rpmlint"
lintian --pedantic -I "$deb" > "$tmp/lintian" 2>&1 || true
if grep -E '^[EW]: ' "$tmp/lintian"; then fail "lintian errors or warnings"; fi
rpmlint -c "$src/packaging/rpm/rpmlint.toml" "$rpm" > "$tmp/rpmlint" 2>&1 \
  || { cat "$tmp/rpmlint"; fail "rpmlint"; }
grep -q ' 0 errors, 0 warnings' "$tmp/rpmlint" || { cat "$tmp/rpmlint"; fail "rpmlint"; }

step "the rpm's files, requirements and scriptlets"
rpm -qlp "$rpm" > "$tmp/rpm.files"
for f in /usr/bin/strata /usr/bin/strata-master /usr/bin/strata-worker /usr/bin/strata-fuse \
         /etc/strata/strata.conf /usr/lib/systemd/system/strata-master.service \
         /usr/lib/systemd/system/strata-worker.service \
         /usr/lib/systemd/system/strata-worker@.service /usr/lib/sysusers.d/strata.conf \
         /usr/lib/tmpfiles.d/strata.conf /var/lib/strata /var/cache/strata; do
  grep -qx "$f" "$tmp/rpm.files" || fail "rpm lacks $f"
done
for b in $(grep '^/usr/bin/' "$tmp/rpm.files"); do
  grep -qx "/usr/share/man/man1/$(basename "$b").1.gz" "$tmp/rpm.files" \
    || fail "rpm has no man page for $b"
done
rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' "$rpm" | grep -qx 'cn /etc/strata/strata.conf' \
  || fail "rpm: strata.conf is not %config(noreplace)"
rpm -qpR "$rpm" > "$tmp/rpm.requires"
for r in 'libssl.so.3()(64bit)' 'libcurl.so.4()(64bit)' 'libsqlite3.so.0()(64bit)' \
         'libcjson.so.1()(64bit)' 'liburing.so.2()(64bit)'; do
  grep -qxF "$r" "$tmp/rpm.requires" || fail "rpm does not require $r"
done
if grep -qi civetweb "$tmp/rpm.requires"; then fail "rpm requires civetweb (it is built in)"; fi
rpm -qp --scripts "$rpm" > "$tmp/rpm.scripts"
grep -q 'systemctl try-restart' "$tmp/rpm.scripts" || fail "rpm: no try-restart on upgrade"
if grep -Eq 'systemctl (--no-reload )?(enable|start|preset)' "$tmp/rpm.scripts"; then
  fail "rpm scriptlets enable or start a unit"
fi

step "maintainer scripts: no enable/start on install, try-restart on upgrade"
dpkg-deb -e "$deb" "$tmp/ctrl"
grep -q 'deb-systemd-invoke try-restart' "$tmp/ctrl/postinst" || fail "postinst: no try-restart"
if grep -Eq 'deb-systemd-invoke (start|restart) ' "$tmp/ctrl/postinst"; then fail "postinst starts a unit"; fi
# deb-systemd-helper enable only re-creates links of units the admin enabled.
[ "$(grep -c 'deb-systemd-helper enable' "$tmp/ctrl/postinst")" = \
  "$(grep -c 'deb-systemd-helper --quiet was-enabled' "$tmp/ctrl/postinst")" ] \
  || fail "postinst enables a unit on installation"
grep -qx '/etc/strata/strata.conf' "$tmp/ctrl/conffiles" || fail "strata.conf is not a conffile"
grep -q '"$1" = "remove".*/run/systemd/system' "$tmp/ctrl/prerm" \
  && grep -q 'deb-systemd-invoke stop strata-master.service strata-worker.service' "$tmp/ctrl/prerm" \
  || fail "prerm does not stop the daemons on removal"

step "install the .deb with apt"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" \
  > "$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get install"; }
dpkg -L strata > "$tmp/deb.files"
for f in /usr/bin/strata /usr/bin/strata-master /usr/bin/strata-worker /usr/bin/strata-fuse \
         /etc/strata/strata.conf /lib/systemd/system/strata-master.service \
         /lib/systemd/system/strata-worker.service /lib/systemd/system/strata-worker@.service \
         /usr/lib/sysusers.d/strata.conf /usr/lib/tmpfiles.d/strata.conf \
         /usr/share/doc/strata/copyright /usr/share/doc/strata/operations.md; do
  grep -qx "$f" "$tmp/deb.files" || fail "deb lacks $f"
done
for b in $(grep '^/usr/bin/' "$tmp/deb.files"); do
  grep -qx "/usr/share/man/man1/$(basename "$b").1.gz" "$tmp/deb.files" \
    || fail "deb has no man page for $b"
  man -w "$(basename "$b")" >/dev/null 2>&1 || [ ! -x /usr/bin/man ] || fail "man -w $(basename "$b")"
done
# Same programs and units in both packages.
diff <(grep '^/usr/bin/' "$tmp/deb.files" | sort) <(grep '^/usr/bin/' "$tmp/rpm.files" | sort) \
  || fail "the .deb and the .rpm hold different programs"
getent passwd strata >/dev/null || fail "no strata user after install"
[ "$(stat -c '%U:%G %a' /var/lib/strata)" = "strata:strata 750" ] || fail "/var/lib/strata: $(stat -c '%U:%G %a' /var/lib/strata)"
[ "$(stat -c '%U:%G %a' /var/cache/strata)" = "strata:strata 750" ] || fail "/var/cache/strata"
[ "$(stat -c '%U:%G %a' /etc/strata/strata.conf)" = "root:strata 640" ] || fail "strata.conf mode"
if pgrep -u strata >/dev/null; then fail "a strata process runs right after install"; fi
if ls /etc/systemd/system/*.wants/strata* >/dev/null 2>&1; then fail "a unit got enabled"; fi
if grep -Ev '^(#|$)' /etc/strata/strata.conf; then fail "strata.conf sets a key (all must be comments)"; fi
nkeys=$(grep -c '^#[a-z][a-z0-9_.]* = ' /etc/strata/strata.conf)
[ "$nkeys" -ge 30 ] || fail "strata.conf lists only $nkeys keys"

step "installed units verify and are hardened"
sh "$src/tests/packaging/check_units.sh" "$src" "$tmp" /lib/systemd/system || fail "check_units"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mport=$(free_port) wport=$(free_port) s3port=$(free_port) raft=$(free_port)
ufs=$tmp/ufs
mkdir -p "$ufs/bkt"
echo "hello from the package test $$" > "$ufs/bkt/hello.txt"
# The store is the daemons' to read and write (file:// mounts need both).
chown -R strata:strata "$ufs"
common_env=(STRATA_MASTER_PORT=$mport STRATA_MASTER_RAFT_PORT=$raft
            STRATA_MASTER_ADDRESSES=127.0.0.1:$mport STRATA_WORKER_PORT=$wport
            STRATA_WORKER_S3_PORT=$s3port STRATA_MASTER_ROOT_UFS=file://$ufs)
# NOTIFY_SOCKET as systemd would give it (Type=notify): READY=1 must arrive.
notify_listen() {
  python3 - "$1" "$2" <<'PY' &
import socket, sys
import os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1] + ".tmp")
os.chmod(sys.argv[1] + ".tmp", 0o777)  # the daemon runs as strata
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "w") as out:
    try:
        while True:
            msg = s.recv(4096).decode()
            out.write(msg + "\n"); out.flush()
            if "READY=1" in msg:
                break
    except socket.timeout:
        pass
PY
  pids+=($!)
  for _ in $(seq 1 100); do [ -S "$1" ] && return 0; sleep 0.1; done
  fail "notify listener did not bind $1"
}
# Runs a unit's ExecStart line as its User= with the unit's notify socket.
run_unit() {
  local unit=$1 log=$2 sock=$3
  local exec user
  exec=$(sed -n 's/^ExecStart=//p' "/lib/systemd/system/$unit")
  user=$(sed -n 's/^User=//p' "/lib/systemd/system/$unit")
  [ "$user" = strata ] || fail "$unit runs as '$user'"
  setpriv --reuid="$user" --regid="$user" --init-groups \
    env -i PATH=/usr/bin:/bin HOME=/var/lib/strata NOTIFY_SOCKET="$sock" "${common_env[@]}" \
    $exec > "$log" 2>&1 &
  pids+=($!)
}
wait_ready() {
  local what=$1 file=$2
  for _ in $(seq 1 300); do
    grep -q READY=1 "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  cat "$tmp"/*.log; fail "$what sent no READY=1"
}

step "the uncommented default config is accepted as it is"
sed -n 's/^#\([a-z][a-z0-9_.]* = \)/\1/p' /etc/strata/strata.conf > "$tmp/uncommented.conf"
grep -c ' = ' "$tmp/uncommented.conf" | grep -qx "$nkeys" || fail "uncommenting lost keys"
chmod 0644 "$tmp/uncommented.conf"
mkdir -m 0777 "$tmp/m0"
notify_listen "$tmp/n0.sock" "$tmp/n0.out"
setpriv --reuid=strata --regid=strata --init-groups env -i PATH=/usr/bin:/bin \
  NOTIFY_SOCKET="$tmp/n0.sock" STRATA_MASTER_PORT="$mport" STRATA_MASTER_STATE_DIR="$tmp/m0" \
  /usr/bin/strata-master --config "$tmp/uncommented.conf" > "$tmp/m0.log" 2>&1 &
m0=$!; pids+=($m0)
wait_ready "strata-master with the uncommented config" "$tmp/n0.out"
kill -TERM "$m0"; wait "$m0" || fail "master (uncommented config) exit status $?"

step "start the installed units' ExecStart as strata"
notify_listen "$tmp/nm.sock" "$tmp/nm.out"; notify_listen "$tmp/nw.sock" "$tmp/nw.out"
run_unit strata-master.service "$tmp/master.log" "$tmp/nm.sock"; mpid=${pids[-1]}
wait_ready strata-master "$tmp/nm.out"
run_unit strata-worker.service "$tmp/worker.log" "$tmp/nw.sock"; wpid=${pids[-1]}
wait_ready strata-worker "$tmp/nw.out"
grep -q 'configuration from /etc/strata/strata.conf' "$tmp/master.log" || fail "master did not read the installed config"

step "health and a read through the S3 gateway"
curl -fsS "http://127.0.0.1:$mport/api/v1/health" > "$tmp/health" || fail "master health"
got=""
for _ in $(seq 1 100); do
  got=$(curl -fsS "http://127.0.0.1:$s3port/bkt/hello.txt" 2>/dev/null) && break
  sleep 0.1
done
[ "$got" = "hello from the package test $$" ] || { cat "$tmp"/*.log; fail "S3 GET returned '$got'"; }
[ "$(stat -c %U /var/lib/strata/master)" = strata ] || fail "master state not in /var/lib/strata/master"
[ "$(stat -c %U /var/cache/strata/worker)" = strata ] || fail "worker data not in /var/cache/strata/worker"
uid=$(id -u strata)
[ -d "/dev/shm/strata-$uid" ] || fail "no MEM tier in /dev/shm/strata-$uid"

step "stop the daemons"
kill -TERM "$wpid" "$mpid"
wait "$wpid" || fail "worker exit status $?"
wait "$mpid" || fail "master exit status $?"
pids=()

step "remove keeps config and data"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q strata > "$tmp/apt.log" 2>&1 \
  || { cat "$tmp/apt.log"; fail "apt-get remove"; }
[ ! -e /usr/bin/strata-master ] || fail "remove left /usr/bin/strata-master"
[ -f /etc/strata/strata.conf ] || fail "remove deleted the config"
[ -d /var/lib/strata/master ] || fail "remove deleted master state"
[ -d /var/cache/strata/worker ] || fail "remove deleted worker data"

step "purge removes them; only the strata user is left"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q strata > "$tmp/apt.log" 2>&1 \
  || { cat "$tmp/apt.log"; fail "apt-get purge"; }
[ -z "$(pkg_state)" ] || [ "$(pkg_state)" = not-installed ] \
  || fail "dpkg still has strata as $(pkg_state) after purge"
for f in /etc/strata /var/lib/strata /var/cache/strata "/dev/shm/strata-$uid"; do
  [ ! -e "$f" ] || fail "purge left $f"
done
while read -r f; do
  [ -d "$f" ] && continue   # shared directories (/usr/bin, /etc, ...)
  [ ! -e "$f" ] || fail "purge left $f"
done < "$tmp/deb.files"
if ls /var/lib/systemd/deb-systemd-helper-enabled/*strata* >/dev/null 2>&1; then
  fail "purge left deb-systemd-helper state"
fi
getent passwd strata >/dev/null || fail "purge removed the strata user (Debian keeps system users)"
step "ok: packages build, lint clean, install, run, remove and purge as intended"
