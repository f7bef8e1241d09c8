#!/usr/bin/env python3
"""bench/ha.py: figures of the masters' Raft group (issue 5). Never part
of the test run; bench/ha.sh builds a Release tree and calls this.

  1. failover: 3 masters, a client writing (mkdir) in a loop; the leader is
     killed with SIGKILL ROUNDS times. Per round: the time from the kill to
     the first write a new leader acknowledged. Prints p50/p99/max. After
     the rounds, every acknowledged write is looked up on every master.
  2. committed mutations/s through REST (wrk POSTing mkdir of fresh paths to
     the leader) for 1 and 3 masters at several connection counts, and the
     ratio 3/1.
  3. snapshot and restore at NINODES inodes (bench/ns_fill builds them):
     the time the leader takes to write a snapshot, and the time a wiped
     follower takes to install it and catch up.

Usage: bench/ha.py BUILD_DIR [--quick]
Environment: ROUNDS (20; --quick 5), DURATION seconds per wrk run (10;
--quick 3), CONNS ("1 16 64"), NINODES (1000000; --quick 100000).
"""
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(base, method, path, body=None, timeout=2.0):
    """One request; returns (status, json or None, headers). Raises OSError
    when the master cannot be reached."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return r.status, doc, dict(r.getheaders())
    finally:
        conn.close()


class Master:
    def __init__(self, binary, work, mid, rest_port, raft_port, peers, root_ufs, extra):
        self.binary = binary
        self.id = mid
        self.rest_port = rest_port
        self.raft_port = raft_port
        self.url = "http://127.0.0.1:%d" % rest_port
        self.state = os.path.join(work, "m%d" % mid)
        self.log_path = self.state + ".log"
        self.peers = peers
        self.root_ufs = root_ufs
        self.extra = extra
        self.proc = None

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        argv = [self.binary,
                "--set", "master.id=%d" % self.id,
                "--set", "master.port=%d" % self.rest_port,
                "--set", "master.raft_port=%d" % self.raft_port,
                "--set", "master.state_dir=" + self.state,
                "--set", "log.level=warn",
                "--set", "http.threads=32"]
        if self.peers:
            argv += ["--set", "master.peers=" + self.peers]
        if self.root_ufs:
            argv += ["--set", "master.root_ufs=" + self.root_ufs]
        for k, v in self.extra.items():
            argv += ["--set", "%s=%s" % (k, v)]
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("master %d exited; log %s:\n%s" % (
                    self.id, self.log_path, open(self.log_path).read()[-3000:]))
            try:
                if request(self.url, "GET", "/api/v1/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("master %d did not answer /health" % self.id)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.logf.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.logf.close()

    def self_info(self):
        try:
            status, doc, _ = request(self.url, "GET", "/api/v1/masters/self", timeout=1)
            return doc if status == 200 else None
        except OSError:
            return None


class Group:
    def __init__(self, binary, work, n, extra=None):
        self.work = work
        ufs = os.path.join(work, "ufs")
        os.makedirs(ufs, exist_ok=True)
        ports = [(free_port(), free_port()) for _ in range(n)]
        peers = ",".join("%d@127.0.0.1:%d@127.0.0.1:%d" % (i + 1, raft, rest)
                         for i, (rest, raft) in enumerate(ports)) if n > 1 else ""
        self.masters = [Master(binary, work, i + 1, rest, raft, peers, "file://" + ufs,
                               extra or {}) for i, (rest, raft) in enumerate(ports)]
        for m in self.masters:
            m.start()
        # master.root_ufs is mounted by the first leader: writes before
        # that would land in a namespace-only "/".
        deadline = time.time() + 30
        while time.time() < deadline:
            status, doc, _ = request(self.leader().url, "GET", "/api/v1/mounts")
            if status == 200 and any(mt.get("path") == "/" for mt in doc.get("mounts", [])):
                break
            time.sleep(0.05)
        else:
            raise SystemExit("/ was not mounted within 30 s")

    def alive(self):
        return [m for m in self.masters if m.proc and m.proc.poll() is None]

    def leader(self, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in self.alive():
                info = m.self_info()
                if info and info.get("role") == "leader":
                    return m
            time.sleep(0.02)
        raise SystemExit("no leader within %.0f s" % timeout)

    def wait_caught_up(self, timeout=120.0):
        """Until every live master applied what the leader committed."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            infos = [m.self_info() for m in self.alive()]
            if all(infos):
                leaders = [i for i in infos if i.get("role") == "leader"]
                if leaders and all(i.get("applied_index", -1) >= leaders[0]["commit_index"]
                                   for i in infos):
                    return
            time.sleep(0.1)
        raise SystemExit("the masters did not catch up within %.0f s" % timeout)

    def stop(self):
        for m in self.masters:
            m.stop()


class Writer(threading.Thread):
    """Writes mkdir /fo/<n> in a loop through whichever master leads,
    recording (ack time, path, master id) for every acknowledged write."""

    def __init__(self, group):
        super().__init__(daemon=True)
        self.group = group
        self.acks = []
        self.stop_flag = threading.Event()
        self.n = 0
        self.target = group.leader()

    def run(self):
        while not self.stop_flag.is_set():
            path = "/fo/w%07d" % self.n
            tgt = self.target
            try:
                status, doc, hdr = request(tgt.url, "POST", "/api/v1/files/mkdir",
                                           {"path": path, "parents": True}, timeout=1.0)
            except (OSError, http.client.HTTPException):
                self.target = self.next_target(tgt)
                continue
            if status in (200, 201):
                self.acks.append((time.monotonic(), path, tgt.id))
                self.n += 1
            elif status in (307, 308):
                loc = hdr.get("Location") or hdr.get("location") or ""
                port = urllib.parse.urlsplit(loc).port
                self.target = next((m for m in self.group.masters if m.rest_port == port),
                                   self.next_target(tgt))
            elif status == 409:
                self.n += 1  # applied before a lost reply: it exists
            else:
                time.sleep(0.01)
                self.target = self.next_target(tgt)

    def next_target(self, cur):
        alive = self.group.alive()
        if not alive:
            return cur
        i = (alive.index(cur) + 1) % len(alive) if cur in alive else 0
        return alive[i]


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def bench_failover(binary, rounds):
    work = tempfile.mkdtemp(prefix="strata-bench-ha.")
    g = Group(binary, work, 3)
    try:
        g.leader()
        w = Writer(g)
        w.start()
        times = []
        for r in range(rounds):
            time.sleep(1.0)
            victim = g.leader()
            t0 = time.monotonic()
            victim.kill()
            deadline = t0 + 30
            took = None
            while time.monotonic() < deadline:
                after = [a for a in w.acks[-50:] if a[0] > t0 and a[2] != victim.id]
                if after:
                    took = after[0][0] - t0
                    break
                time.sleep(0.005)
            if took is None:
                raise SystemExit("round %d: no write acknowledged within 30 s" % r)
            times.append(took)
            log("  round %2d: killed master %d, writes resumed after %.0f ms" %
                (r + 1, victim.id, took * 1000))
            victim.start()
            g.wait_caught_up()
        w.stop_flag.set()
        w.join(timeout=5)
        g.wait_caught_up()
        missing = 0
        for m in g.masters:
            for _, path, _ in w.acks:
                st, _, _ = request(m.url, "GET", "/api/v1/files/stat?path=" +
                                   urllib.parse.quote(path, safe=""))
                if st != 200:
                    missing += 1
        return {
            "rounds": rounds, "p50_ms": pct(times, 50) * 1000, "p99_ms": pct(times, 99) * 1000,
            "max_ms": max(times) * 1000, "acked": len(w.acks), "missing": missing,
        }
    finally:
        g.stop()
        shutil.rmtree(work, ignore_errors=True)


WRK_LUA = r"""
local counter = 0
local tid = 0
setup = function(thread)
	thread:set("tid", tid)
	tid = tid + 1
end
request = function()
	counter = counter + 1
	local body = string.format('{"path":"/mut/t%d-%d","parents":true}', tid, counter)
	return wrk.format("POST", "/api/v1/files/mkdir", {["Content-Type"] = "application/json"}, body)
end
"""


def wrk(url, conns, duration, lua):
    threads = 1 if conns == 1 else 2
    out = subprocess.run(["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration,
                          "-s", lua, url], capture_output=True, text=True, check=True).stdout
    rps = 0.0
    errors = ""
    for line in out.splitlines():
        if line.startswith("Requests/sec"):
            rps = float(line.split()[1])
        if "Non-2xx" in line or "Socket errors" in line:
            errors += line.strip() + " "
    return rps, errors.strip()


def bench_mutations(binary, conns_list, duration):
    work = tempfile.mkdtemp(prefix="strata-bench-mut.")
    lua = os.path.join(work, "mkdir.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    rows = {}
    try:
        for n in (1, 3):
            sub = os.path.join(work, "g%d" % n)
            os.makedirs(sub)
            g = Group(binary, sub, n)
            try:
                leader = g.leader()
                request(leader.url, "POST", "/api/v1/files/mkdir", {"path": "/mut"})
                for c in conns_list:
                    rps, errors = wrk(leader.url, c, duration, lua)
                    rows[(n, c)] = (rps, errors)
                    log("  %d master(s), %3d conns: %8.0f mutations/s %s" % (n, c, rps, errors))
            finally:
                g.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return rows


def raft_metrics(m):
    status, doc, _ = request(m.url, "GET", "/api/v1/metrics", timeout=5)
    return (doc or {}).get("master", {}).get("raft", {})


def bench_snapshot(binary, fill, ndirs, nfiles):
    """ns_fill builds master 1's state; then: its start time, the time to
    write a snapshot of it, and a new master joining (snapshot sent over
    the Raft port and installed) until it applied everything."""
    work = tempfile.mkdtemp(prefix="strata-bench-snap.")
    out = {}
    try:
        os.makedirs(os.path.join(work, "m1"))
        t0 = time.monotonic()
        filled = subprocess.run([fill, os.path.join(work, "m1"), str(ndirs), str(nfiles)],
                                capture_output=True, text=True, check=True).stdout.strip()
        out["fill"] = filled
        out["fill_s"] = time.monotonic() - t0
        # No root mount: ns_fill's /bench is a namespace-only tree.
        ports = [(free_port(), free_port()) for _ in range(2)]
        m1 = Master(binary, work, 1, ports[0][0], ports[0][1], "", None,
                    {"master.snapshot_every": "200", "master.mount.sync_interval": "never"})
        t0 = time.monotonic()
        m1.start()
        out["start_s"] = time.monotonic() - t0
        try:
            db = os.path.join(m1.state, "namespace.db")
            out["db_mib"] = os.path.getsize(db) / 1048576.0
            before = raft_metrics(m1)
            for i in range(220):
                request(m1.url, "POST", "/api/v1/files/mkdir", {"path": "/snap/d%04d" % i,
                                                                "parents": True})
            deadline = time.time() + 60
            after = raft_metrics(m1)
            while after.get("snapshots", 0) <= before.get("snapshots", 0) and time.time() < deadline:
                time.sleep(0.1)
                after = raft_metrics(m1)
            out["snapshot_ms"] = after.get("snapshot_ms_last", -1)
            out["snapshot_mib"] = after.get("snapshot_bytes_last", 0) / 1048576.0
            # A new master joins: the leader's log is compacted, so it gets
            # the snapshot and installs it.
            peers = ",".join("%d@127.0.0.1:%d@127.0.0.1:%d" % (i + 1, raft, rest)
                             for i, (rest, raft) in enumerate(ports))
            m2 = Master(binary, work, 2, ports[1][0], ports[1][1], peers, None,
                        {"master.join": "true", "master.mount.sync_interval": "never"})
            m2.start()
            try:
                t0 = time.monotonic()
                status, doc, _ = request(m1.url, "POST", "/api/v1/masters", {
                    "id": 2, "raft_address": "127.0.0.1:%d" % m2.raft_port,
                    "rest_url": m2.url}, timeout=600)
                # Two voters need both: until master 2 has installed the
                # snapshot the group may lose its leader (no learners yet),
                # and the POST then answers 503/504 while the change still
                # goes through. Wait for the outcome either way.
                out["join_status"] = status
                if status not in (200, 503, 504):
                    raise SystemExit("adding master 2 failed: %s %s" % (status, doc))
                deadline = time.time() + 600
                while time.time() < deadline:
                    a, b = m1.self_info(), m2.self_info()
                    lead = next((i for i in (a, b) if i and i.get("role") == "leader"), None)
                    if lead and b and b.get("voter") and \
                            b.get("applied_index", -1) >= lead["commit_index"]:
                        break
                    time.sleep(0.05)
                else:
                    raise SystemExit("master 2 did not catch up within 600 s")
                out["join_s"] = time.monotonic() - t0
                st, _, _ = request(m2.url, "GET", "/api/v1/files/stat?path=" +
                                   urllib.parse.quote("/bench/d%05d/f%06d" % (ndirs - 1,
                                                                             nfiles - 1), safe=""))
                out["join_ok"] = st == 200
                out["installed"] = raft_metrics(m2).get("snapshots_installed", 0)
            finally:
                m2.stop()
        finally:
            m1.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    build = sys.argv[1]
    quick = "--quick" in sys.argv[2:]
    binary = os.path.join(build, "daemon/master/strata-master")
    fill = os.path.join(build, "bench/ns_fill")
    ninodes = int(os.environ.get("NINODES", "100000" if quick else "1000000"))
    ndirs = max(1, ninodes // 1000)
    rounds = int(os.environ.get("ROUNDS", "5" if quick else "20"))
    duration = int(os.environ.get("DURATION", "3" if quick else "10"))
    conns = [int(c) for c in os.environ.get("CONNS", "1 16 64").split()]

    log("== failover: %d SIGKILLs of the leader among 3 masters" % rounds)
    fo = bench_failover(binary, rounds)
    log("== committed mutations/s through REST (mkdir), 1 vs 3 masters")
    mut = bench_mutations(binary, conns, duration)
    log("== snapshot and restore at %d x 1000 inodes" % ndirs)
    snap = bench_snapshot(binary, fill, ndirs, 1000)

    print()
    print("Failover (leader SIGKILL -> first write acknowledged by the new leader), %d rounds"
          % fo["rounds"])
    print("  p50 %.0f ms   p99 %.0f ms   max %.0f ms   (target: p99 < 2000 ms: %s)" % (
        fo["p50_ms"], fo["p99_ms"], fo["max_ms"], "met" if fo["p99_ms"] < 2000 else "NOT met"))
    print("  acknowledged writes: %d; missing on some master afterwards: %d" % (
        fo["acked"], fo["missing"]))
    print()
    print("Committed mutations/s (POST /api/v1/files/mkdir via wrk, %d s per run)" % duration)
    print("  %6s %14s %14s %8s" % ("conns", "1 master", "3 masters", "3/1"))
    for c in conns:
        one, three = mut[(1, c)][0], mut[(3, c)][0]
        ratio = three / one if one else 0
        print("  %6d %14.0f %14.0f %7.2fx%s" % (c, one, three, ratio,
                                             "" if ratio >= 0.5 else "  (target >= 0.5x)"))
        for n in (1, 3):
            if mut[(n, c)][1]:
                print("         %d master(s): %s" % (n, mut[(n, c)][1]))
    print()
    print("Snapshot and restore, %d x 1000 inodes (ns_fill: %s)" % (ndirs, snap["fill"]))
    print("  namespace.db %.1f MiB; master start on it %.2f s" % (snap["db_mib"], snap["start_s"]))
    print("  snapshot written by the leader: %d ms, %.1f MiB" % (snap["snapshot_ms"],
                                                                  snap["snapshot_mib"]))
    print("  a new master added: caught up (snapshot sent + installed x%d) after %.2f s; "
          "last file visible there: %s" % (snap["installed"], snap["join_s"],
                                            "yes" if snap["join_ok"] else "NO"))
    if snap["join_status"] != 200:
        print("  (POST /api/v1/masters answered %d: the one-master group lost its leader "
              "while the newcomer caught up; it completed afterwards)" % snap["join_status"])
    sys.exit(1 if fo["missing"] or not snap["join_ok"] else 0)


if __name__ == "__main__":
    main()
