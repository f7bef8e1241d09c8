#!/bin/sh
# Writes a man page for one strata program from its --help and --version
# (help2man). The NAME line is the summary on the second line of --help, else
# a generic one. Usage: packaging/man.sh PROGRAM OUT.1
set -eu
prog=$1 out=$2
name=$(basename "$prog")
summary=$("$prog" --help | sed -n 2p | sed 's/^strata [a-z-]*: //')
[ -n "$summary" ] || summary="command-line client of a strata cluster"
mkdir -p "$(dirname "$out")"
help2man --no-info --section=1 --no-discard-stderr --name="$summary" \
  --output="$out.tmp" "$prog"
mv "$out.tmp" "$out"
