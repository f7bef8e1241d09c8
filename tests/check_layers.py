#!/usr/bin/env python3
"""Fails on any #include that points up the layers (docs: issue 10, point 1).

    lib/                       includes only lib/
    raft/ tier/ ufs/           include only themselves and lib/
    client/                    includes only client/ and lib/
    fuse/                      includes only fuse/, client/ and lib/
    daemon/                    nothing but daemon/master/main.c and
                               daemon/worker/main.c includes api/;
                               daemon/master and daemon/worker never
                               include each other

Quoted includes are resolved next to the including file first, then from
the source root; angle-bracket and unresolvable (third-party) includes are
not ours and are ignored.

Usage: check_layers.py [SOURCE_DIR]    check the tree (default: this repo)
       check_layers.py --self-test     prove the check catches bad includes
"""
import os
import re
import sys
import tempfile

# Violations that exist today and are being fixed elsewhere; each is printed
# as "known violation" and does not fail the check. Empty this list as they
# go: a new violation is never added here.
# Includes that point up and are tolerated for now. Empty: keep it so; a
# new entry needs a reason and an issue that removes it.
KNOWN_VIOLATIONS = set()

SCANNED = ("lib", "raft", "tier", "ufs", "client", "daemon", "fuse")
OWN_AND_LIB = {"lib": {"lib"}, "raft": {"raft", "lib"}, "tier": {"tier", "lib"},
               "ufs": {"ufs", "lib"}, "client": {"client", "lib"},
               "fuse": {"fuse", "client", "lib"}}
API_ALLOWED = {"daemon/master/main.c", "daemon/worker/main.c"}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def layer(rel):
    """The layer of a root-relative path: its top folder, or for daemon/
    files the daemon/<name> folder."""
    parts = rel.split("/")
    if parts[0] == "daemon" and len(parts) > 2:
        return "daemon/" + parts[1]
    return parts[0]


def resolve(root, rel_file, inc):
    here = os.path.dirname(os.path.join(root, rel_file))
    for base in (here, root):
        path = os.path.normpath(os.path.join(base, inc))
        if os.path.isfile(path) and path.startswith(root + os.sep):
            return os.path.relpath(path, root)
    return None


def why_bad(rel_file, target):
    """A reason if rel_file may not include target (both root-relative)."""
    src, dst = layer(rel_file), layer(target)
    top = src.split("/")[0]
    if top in OWN_AND_LIB:
        if dst.split("/")[0] not in OWN_AND_LIB[top]:
            allowed = " and ".join(d + "/" for d in sorted(OWN_AND_LIB[top]))
            return f"{top}/ may include only {allowed}"
        return None
    if top == "daemon":
        if dst == "api" and rel_file not in API_ALLOWED:
            return "only daemon/master/main.c and daemon/worker/main.c include api/"
        if {src, dst} == {"daemon/master", "daemon/worker"}:
            return "daemon/master and daemon/worker do not include each other"
    return None


def scan(root):
    """[(file, include, reason)] for every bad include under root."""
    root = os.path.realpath(root)
    bad = []
    for top in SCANNED:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for name in sorted(filenames):
                if not name.endswith((".c", ".h")):
                    continue
                rel_file = os.path.relpath(os.path.join(dirpath, name), root)
                with open(os.path.join(dirpath, name), errors="replace") as f:
                    for line in f:
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = resolve(root, rel_file, m.group(1))
                        reason = target and why_bad(rel_file, target)
                        if reason:
                            bad.append((rel_file, target, reason))
    return bad


def check(root, known):
    """Prints the report; returns the number of new violations."""
    bad = scan(root)
    new = 0
    seen = set()
    for rel_file, target, reason in bad:
        seen.add((rel_file, target))
        if (rel_file, target) in known:
            print(f"known violation: {rel_file} includes {target} ({reason})")
        else:
            print(f"LAYER VIOLATION: {rel_file} includes {target} ({reason})")
            new += 1
    for rel_file, target in sorted(known - seen):
        print(f"note: allow-list entry no longer needed: {rel_file} -> {target}")
    print(f"layers: {new} new violation(s), {len(bad) - new} known")
    return new


def self_test():
    """A small tree with one bad include per rule (and allowed ones): the
    check must name exactly the bad ones."""
    files = {
        "lib/a.h": "", "lib/a.c": '#include "lib/a.h"\n#include "a.h"\n#include <stdio.h>\n',
        "lib/up.c": '#include "tier/tier.h"\n',
        "tier/tier.h": '#include "lib/a.h"\n',
        "raft/r.c": '#include "ufs/ufs.h"\n',
        "ufs/ufs.h": '#include "cJSON.h"\n',
        "ufs/u.c": '#include "raft/r.h"\n#include "../lib/a.h"\n',
        "raft/r.h": "",
        "client/c.c": '#include "daemon/master/m.h"\n#include "lib/a.h"\n',
        "api/http.h": "",
        "daemon/master/m.h": "",
        "daemon/master/main.c": '#include "api/http.h"\n#include "daemon/master/m.h"\n',
        "daemon/master/m.c": '#include "daemon/worker/w.h"\n',
        "daemon/worker/w.h": "",
        "daemon/worker/w.c": '#  include "api/http.h"\n#include "daemon/common.h"\n',
        "daemon/common.h": "",
        "fuse/f.c": '#include "client/c.h"\n#include "fuse/f.h"\n#include "api/http.h"\n',
        "fuse/f.h": "", "client/c.h": "",
    }
    want = {("lib/up.c", "tier/tier.h"), ("raft/r.c", "ufs/ufs.h"), ("ufs/u.c", "raft/r.h"),
            ("client/c.c", "daemon/master/m.h"), ("daemon/master/m.c", "daemon/worker/w.h"),
            ("daemon/worker/w.c", "api/http.h"), ("fuse/f.c", "api/http.h")}
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        got = {(f, t) for f, t, _ in scan(root)}
        if got != want:
            print(f"self-test FAILED: found {sorted(got)}, want {sorted(want)}")
            return 1
        if check(root, set()) != len(want) or check(root, want) != 0:
            print("self-test FAILED: the allow-list is not applied")
            return 1
    print("self-test passed: every bad include was caught, no allowed one was")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    root = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    return 1 if check(os.path.realpath(root), KNOWN_VIOLATIONS) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
