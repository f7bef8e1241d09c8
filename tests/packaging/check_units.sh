#!/bin/sh
# Checks systemd/*.service: `systemd-analyze verify` must print nothing on
# stderr (it exits 0 on warnings such as unknown keys or bad values), and
# `systemd-analyze security --offline=yes` must rate each unit OK or better
# (overall exposure below 5.0). ExecStart is pointed at the built binaries
# (verify needs them to exist). Usage: check_units.sh SRC_DIR BUILD_DIR
# [UNIT_DIR]: with UNIT_DIR (the installed units) they are checked as they
# are, man pages included; else the source tree's, without the man check.
set -eu
src=$(cd "$1" && pwd) build=$(cd "$2" && pwd) unitdir=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
man=--man=no
if [ -n "$unitdir" ]; then
  cp "$unitdir"/strata-master.service "$unitdir"/strata-worker.service \
     "$unitdir"/strata-worker@.service "$tmp/"
  man=--man=yes
else
  master=$(find "$build" -name strata-master -type f -perm -u+x | head -1)
  worker=$(find "$build" -name strata-worker -type f -perm -u+x | head -1)
  [ -n "$master" ] && [ -n "$worker" ] || { echo "FAIL: daemons not built in $build"; exit 1; }
  for u in strata-master.service strata-worker.service strata-worker@.service; do
    sed -e "s#^ExecStart=/usr/bin/strata-master#ExecStart=$master#" \
        -e "s#^ExecStart=/usr/bin/strata-worker#ExecStart=$worker#" \
        "$src/systemd/$u" > "$tmp/$u"
  done
fi
# A template is verified through an instance.
cp "$tmp/strata-worker@.service" "$tmp/strata-worker@check.service"
fail=0
for u in strata-master.service strata-worker.service strata-worker@check.service; do
  bad=$fail; fail=0
  if ! systemd-analyze verify $man "$tmp/$u" 2>"$tmp/err" >/dev/null || [ -s "$tmp/err" ]; then
    echo "FAIL: systemd-analyze verify $u:"; cat "$tmp/err"; fail=1
  fi
  line=$(systemd-analyze security --offline=yes "$tmp/$u" 2>&1 | grep 'Overall exposure level') || true
  score=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9.]*\) .*/\1/p')
  if [ -z "$score" ]; then
    echo "FAIL: no exposure score for $u"; fail=1
  elif ! awk -v s="$score" 'BEGIN { exit !(s < 5.0) }'; then
    echo "FAIL: $u exposure $score is worse than OK: $line"; fail=1
  elif [ $fail -eq 0 ]; then
    echo "ok: $u verifies cleanly, exposure $score"
  fi
  [ $bad -eq 0 ] || fail=1
done
exit $fail
