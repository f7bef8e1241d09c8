#!/usr/bin/env bash
# Fetches CivetWeb's source from Debian's source package into .deps/civetweb
# (never committed). Debian's binary libcivetweb has no working TLS with
# OpenSSL 3 and no IPv6, so strata compiles civetweb.c itself.
# The deb-src entry is derived from the machine's own apt sources in a private
# apt configuration; the system's apt state is not touched.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/.deps/civetweb"
if [ -f "$dest/src/civetweb.c" ] && [ -f "$dest/include/civetweb.h" ]; then
  exit 0
fi

work="$here/.deps/apt-src"
rm -rf "$work"
mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial" "$work/dl"

src=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  if grep -q '^Types: deb$' "$f"; then src="$f"; break; fi
done
if [ -n "$src" ]; then
  sed 's/^Types: deb$/Types: deb-src/' "$src" > "$work/parts/src.sources"
elif [ -f /etc/apt/sources.list ]; then
  grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > "$work/parts/src.list"
else
  echo "fetch-civetweb: no apt sources found to derive a deb-src entry" >&2; exit 1
fi

opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/parts"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -q)
[ "$(id -u)" -eq 0 ] && opts+=(-o APT::Sandbox::User=root)
echo "fetch-civetweb: downloading Debian source package civetweb"
apt-get "${opts[@]}" update >/dev/null
(cd "$work/dl" && apt-get "${opts[@]}" source --download-only civetweb >/dev/null)
orig=$(ls "$work"/dl/civetweb_*.orig.tar.* | head -1)
rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
tar xf "$orig" -C "$dest.tmp" --strip-components=1
[ -f "$dest.tmp/src/civetweb.c" ] || { echo "fetch-civetweb: civetweb.c missing in $orig" >&2; exit 1; }
rm -rf "$dest"; mv "$dest.tmp" "$dest"
rm -rf "$work"
echo "fetch-civetweb: source ready in $dest"
