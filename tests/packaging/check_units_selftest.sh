#!/bin/sh
# check_units.sh must fail on a unit with a typo'd value and an unknown key
# (which systemd-analyze verify only warns about, exit 0) and on a unit with
# its hardening removed (exposure above OK). Usage: SRC_DIR BUILD_DIR
set -eu
src=$(cd "$1" && pwd) build=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
check=$src/tests/packaging/check_units.sh
mkdir -p "$tmp/typo/systemd" "$tmp/soft/systemd"
cp "$src"/systemd/*.service "$tmp/typo/systemd/"
cp "$src"/systemd/*.service "$tmp/soft/systemd/"
sed -i 's/^Restart=on-failure$/Restart=on-failur\nBogusKey=1/' "$tmp/typo/systemd/strata-master.service"
sed -i '/^# Hardening/,/^SystemCallErrorNumber/d' "$tmp/soft/systemd/strata-worker.service"
sh "$check" "$src" "$build" >/dev/null || { echo "FAIL: the real units do not pass"; exit 1; }
if sh "$check" "$tmp/typo" "$build" >"$tmp/out1"; then
  echo "FAIL: a typo and an unknown key passed"; cat "$tmp/out1"; exit 1
fi
grep -q "Unknown key 'BogusKey'" "$tmp/out1" || { echo "FAIL: unknown key not reported"; exit 1; }
if sh "$check" "$tmp/soft" "$build" >"$tmp/out2"; then
  echo "FAIL: an unhardened unit passed"; cat "$tmp/out2"; exit 1
fi
grep -q "strata-worker.service exposure .* is worse than OK" "$tmp/out2" \
  || { echo "FAIL: weak exposure not reported"; cat "$tmp/out2"; exit 1; }
echo "ok: check_units.sh rejects a bad key and a weak unit"
