#!/usr/bin/env bash
# Builds the .deb and the .rpm from the same tree into build-package/:
#   strata_VERSION_ARCH.deb   dpkg-buildpackage over packaging/deb/debian
#   strata-VERSION-1.ARCH.rpm rpmbuild over packaging/rpm/strata.spec
# VERSION is CMakeLists.txt's project(VERSION); debian/changelog and the
# spec's %changelog must have an entry for it. CivetWeb's source comes from
# .deps/civetweb (scripts/fetch-civetweb.sh, Debian's source package) and must
# match the pinned checksums in packaging/civetweb.sha256; the package builds
# themselves need no network (docs/decisions.md).
# Usage: scripts/package.sh [--deb-only|--rpm-only]   (env: STRATA_PACKAGE_DIR)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=${STRATA_PACKAGE_DIR:-$here/build-package}
want_deb=1 want_rpm=1
case "${1:-}" in
  --deb-only) want_rpm=0 ;;
  --rpm-only) want_deb=0 ;;
  "") ;;
  *) echo "usage: scripts/package.sh [--deb-only|--rpm-only]" >&2; exit 2 ;;
esac
die() { echo "package: $*" >&2; exit 1; }

version=$(sed -n 's/^project(strata VERSION \([0-9][0-9.]*\).*/\1/p' "$here/CMakeLists.txt")
[ -n "$version" ] || die "no project(strata VERSION x.y.z) in CMakeLists.txt"
deb_version=$(dpkg-parsechangelog -l "$here/packaging/deb/debian/changelog" -S Version)
[ "$deb_version" = "$version" ] || [ "${deb_version%-*}" = "$version" ] \
  || die "packaging/deb/debian/changelog is at $deb_version, the project at $version: add an entry (dch -v $version)"
grep -q "^\* .* - $version-" "$here/packaging/rpm/strata.spec" \
  || die "packaging/rpm/strata.spec's %changelog has no entry for $version"

"$here/scripts/fetch-civetweb.sh"
civet=$(cd "$here/.deps/civetweb" && pwd -P)
(cd "$civet" && sha256sum --quiet -c "$here/packaging/civetweb.sha256") \
  || die "CivetWeb source in $civet does not match packaging/civetweb.sha256"

rm -rf "$out"
stage=$out/stage/strata-$version
mkdir -p "$stage"
# The tree as it is in the worktree (tracked and new files, not ignored ones).
(cd "$here" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -xf - -C "$stage"
mkdir -p "$out/civetweb"
(cd "$civet" && tar -cf - $(awk '{print $2}' "$here/packaging/civetweb.sha256")) \
  | tar -xf - -C "$out/civetweb"

if [ "$want_rpm" = 1 ]; then
  command -v rpmbuild >/dev/null || die "rpmbuild missing (apt-get install rpm)"
  top=$out/rpmbuild
  mkdir -p "$top/SOURCES" "$top/BUILD" "$top/RPMS" "$top/SRPMS"
  tar -czf "$top/SOURCES/strata-$version.tar.gz" -C "$out/stage" "strata-$version"
  tar -czf "$top/SOURCES/civetweb-src.tar.gz" -C "$out/civetweb" .
  cp "$here/packaging/civetweb.sha256" "$top/SOURCES/"
  # --nodeps: BuildRequires name Fedora packages; here Debian's are installed.
  rpmbuild --quiet --define "_topdir $top" --define "strata_version $version" \
    --nodeps -bb "$here/packaging/rpm/strata.spec"
  find "$top/RPMS" -name '*.rpm' -exec mv {} "$out/" \;
fi

if [ "$want_deb" = 1 ]; then
  command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage missing"
  cp -r "$here/packaging/deb/debian" "$stage/debian"
  mkdir -p "$stage/.deps"
  cp -r "$out/civetweb" "$stage/.deps/civetweb"
  (cd "$stage" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b >"$out/deb-build.log" 2>&1) \
    || { tail -40 "$out/deb-build.log" >&2; die "dpkg-buildpackage failed (log: $out/deb-build.log)"; }
  mv "$out"/stage/*.deb "$out/"
  mv "$out"/stage/*.changes "$out"/stage/*.buildinfo "$out/" 2>/dev/null || true
  find "$out/stage" -maxdepth 1 -name '*.ddeb' -exec mv {} "$out/" \;
fi
rm -rf "$out/stage" "$out/civetweb" "$out/rpmbuild"
echo "package: built in $out:"
ls -1 "$out" | grep -E '\.(deb|rpm)$' | sed 's/^/  /'
