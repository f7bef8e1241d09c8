"""Metadata backup and restore with real daemons: an admin backs up a
namespace with a local mount, directories, files and policies (pin, TTL,
replication) with `strata admin backup`, restores it with `strata admin
restore` into the state dir of a master that never ran, and that master
serves the identical tree (every listing field, recursively) and mounts,
takes new writes, and a fresh worker reads a mounted file through it.
Refusals: a tampered byte (checksum), a truncated file, another format
version, a state dir that holds state (without --force) or a running
master, usage errors. From a follower the CLI follows the leader (the
route answers 307 to it)."""
import json
import os
import struct
import subprocess
import urllib.parse

from harness import (CLI_BIN, MASTER_BIN, ClusterTestCase, free_port, get_json, main, request,
                     run_tool, wait_for, wait_leader)

FAST = {"master.mount.sync_interval": "never"}


def q(path):
    return urllib.parse.quote(path, safe="")


def tree(m, path="/"):
    """Every entry below path as {path: entry JSON}, from GET /api/v1/files
    (all but cached_percent, the cache's state)."""
    out = {}
    after = None
    while True:
        url = f"{m.url}/api/v1/files?path={q(path)}&limit=2"
        if after:
            url += f"&after={q(after)}"
        status, body = get_json(url)
        if status != 200:
            raise AssertionError(f"{m.name} list {path}: {status} {body}")
        for e in body["entries"]:
            # what the workers cache is not metadata: never restored
            e.pop("cached_percent", None)
            out[e["path"]] = e
            if e["type"] == "directory":
                out.update(tree(m, e["path"]))
        after = body.get("next_after")
        if not after:
            return out


def mounts(m):
    status, body = get_json(m.url + "/api/v1/mounts")
    assert status == 200, body
    return body["mounts"]


class BackupTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.ufs = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(self.ufs, "logs"))
        with open(os.path.join(self.ufs, "logs", "a.txt"), "w") as f:
            f.write("alpha\n")
        self.data = os.urandom(300000)
        with open(os.path.join(self.ufs, "big.bin"), "wb") as f:
            f.write(self.data)

    def cli(self, m, *args, ok=True):
        r = self.cluster.cli("--master", m.address, *args)
        if ok:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def populate(self, m):
        self.cli(m, "fs", "mount", "/data", "file://" + self.ufs)
        self.cli(m, "fs", "mkdir", "-p", "/proj/a/b")
        self.cli(m, "fs", "mkdir", "-p", "/proj/c")
        self.cli(m, "fs", "ls", "-R", "/data")  # loads the store's listing
        self.cli(m, "fs", "pin", "-R", "--medium", "SSD", "/data/logs")
        self.cli(m, "fs", "ttl", "--action", "free", "/data/big.bin", "2h")
        self.cli(m, "fs", "replication", "-R", "--min", "1", "--max", "2", "/proj")
        self.cli(m, "fs", "ttl", "-R", "/proj/a", "30d")

    def backup(self, m, path):
        r = self.cli(m, "admin", "backup", path)
        self.assertIn("metadata at Raft entry", r.stdout)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual([f for f in os.listdir(os.path.dirname(path)) if ".tmp." in f], [])
        return r

    def restore(self, path, state_dir, *extra, ok=True):
        r = self.cluster.cli("admin", "restore", path, "--state-dir", state_dir, *extra)
        if ok:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def test_round_trip_into_a_fresh_master(self):
        a = self.cluster.master("a", settings=FAST)
        self.populate(a)
        before, before_mounts = tree(a), mounts(a)
        self.assertTrue(before["/data/logs/a.txt"]["pinned"])
        self.assertEqual(before["/data/big.bin"]["ttl_action"], "free")
        self.assertEqual(before["/proj/a/b"]["repl_min"], 1)
        self.assertEqual(before["/proj/a/b"]["ttl_ms"], 30 * 86400 * 1000)
        f = os.path.join(self.tmp, "meta.backup")
        self.backup(a, f)
        # A write after the backup is not in it.
        self.cli(a, "fs", "mkdir", "/later")
        a.stop()

        b = self.cluster.master("b", settings=FAST, start=False)
        state = b.settings["master.state_dir"]
        r = self.restore(f, state)
        self.assertIn("new group of master 1", r.stdout)
        b.start()
        b.wait_ready()
        self.assertEqual(tree(b), before)
        self.assertEqual(mounts(b), before_mounts)
        self.assertNotIn("/later", tree(b))
        status, me = get_json(b.url + "/api/v1/masters/self")
        self.assertEqual((status, me["role"]), (200, "leader"), me)
        # The old group's address book is gone: b lists itself at its own URL.
        status, g = get_json(b.url + "/api/v1/masters")
        self.assertEqual([x["rest_url"] for x in g["masters"]], [b.url], g)
        # Indexes and ids continue 2^32 past the backup's: the old group may
        # have gone on, and workers may cache blocks named by its ids.
        with open(f, "rb") as fh:
            index = struct.unpack_from("<Q", fh.read(96), 16)[0]
        self.assertGreater(int(me["applied_index"]), index + (1 << 32))
        # It takes writes, and a new worker reads a mounted file through it.
        self.cli(b, "fs", "mkdir", "/after-restore")
        status, n = get_json(b.url + "/api/v1/files/stat?path=/after-restore")
        self.assertGreater(int(n["id"]), max(int(e["id"]) for e in before.values()) + (1 << 32))
        w = self.cluster.worker(b, settings={"master.worker_timeout": "60s"})
        wait_for(lambda: any(x["state"] == "live" for x in
                             get_json(b.url + "/api/v1/workers")[1]["workers"]),
                 what="the worker to register")
        out = subprocess.run([CLI_BIN, "--master", b.address, "fs", "cat", "/data/big.bin"],
                             capture_output=True, env=self.cluster.env(), timeout=60)
        self.assertEqual((out.returncode, out.stdout), (0, self.data), out.stderr)
        out = self.cli(b, "fs", "cat", "/data/logs/a.txt")
        self.assertEqual(out.stdout, "alpha\n")
        # Restart from its own Raft state: still the same.
        b.stop()
        b.start()
        b.wait_ready()
        after = tree(b)
        self.assertIn("/after-restore", after)
        del after["/after-restore"]
        self.assertEqual(after, before)
        self.assertIsNotNone(w)

    def test_refusals(self):
        a = self.cluster.master("a", settings=FAST)
        self.populate(a)
        f = os.path.join(self.tmp, "meta.backup")
        self.backup(a, f)
        with open(f, "rb") as fh:
            good = fh.read()

        def variant(name, data):
            p = os.path.join(self.tmp, name)
            with open(p, "wb") as fh:
                fh.write(data)
            return p

        fresh = os.path.join(self.tmp, "fresh")
        # One flipped byte in the payload.
        mid = len(good) // 2
        bad = variant("tampered", good[:mid] + bytes([good[mid] ^ 1]) + good[mid + 1:])
        r = self.restore(bad, fresh, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("checksum mismatch (SHA-256)", r.stderr)
        self.assertFalse(os.path.exists(fresh), "nothing laid down")
        # A flipped byte in the header (the term).
        hdr = variant("tampered-header", good[:25] + bytes([good[25] ^ 1]) + good[26:])
        r = self.restore(hdr, fresh, ok=False)
        self.assertIn("header CRC32C", r.stderr)
        r = self.restore(variant("short", good[:-100]), fresh, ok=False)
        self.assertIn("truncated", r.stderr)
        r = self.restore(variant("version", good[:8] + struct.pack("<I", 2) + good[12:]),
                         fresh, ok=False)
        self.assertIn("format version 2 is not supported", r.stderr)
        r = self.restore(variant("empty", b""), fresh, ok=False)
        self.assertIn("not a strata backup", r.stderr)
        r = self.restore(os.path.join(self.tmp, "missing"), fresh, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("No such file", r.stderr)

        # The running master's own state dir: refused (it holds the lock).
        state = a.settings["master.state_dir"]
        r = self.restore(f, state, "--force", ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("is running on", r.stderr)
        self.assertIn(str(a.proc.pid), r.stderr)
        # So is a second master on it.
        r = run_tool([MASTER_BIN, "--set", f"master.state_dir={state}",
                      "--set", f"master.port={free_port()}"], env=self.cluster.env())
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"a strata-master (pid {a.proc.pid}) is running on {state}", r.stderr)
        a.stop()
        # Stopped, but its state is there: only with --force.
        r = self.restore(f, state, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already holds master state", r.stderr)
        self.assertIn("--force", r.stderr)
        self.restore(f, state, "--force")
        a.start()
        a.wait_ready()
        self.assertIn("/proj/a/b", tree(a))

        # --id names the new group's single voter.
        r = self.restore(f, os.path.join(self.tmp, "as5"), "--id", "5")
        self.assertIn("new group of master 5;", r.stdout)

        # Usage errors exit 2.
        for args in (["admin", "backup"], ["admin", "backup", "a", "b"],
                     ["admin", "restore", f],
                     ["admin", "restore", f, "--state-dir", fresh, "--id", "x"],
                     ["admin", "restore", "--state-dir", fresh]):
            r = self.cluster.cli(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
        # A backup into a directory that does not exist.
        r = self.cli(a, "admin", "backup", os.path.join(self.tmp, "no", "such", "f"), ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no/such/f", r.stderr)

    def test_from_a_follower(self):
        ms = self.cluster.masters(3, settings=FAST)
        lead = wait_leader(ms)
        self.cli(lead, "fs", "mkdir", "-p", "/x/y")
        follower = next(m for m in ms if m is not lead)
        # The route itself redirects to the leader.
        status, headers, _ = request(follower.url + "/api/v1/admin/backup")
        self.assertEqual(status, 307)
        self.assertEqual(headers["location"], lead.url + "/api/v1/admin/backup")
        # The CLI given only the follower follows it.
        f = os.path.join(self.tmp, "group.backup")
        r = self.backup(follower, f)
        self.assertIn(f"master {lead.id}", r.stdout)
        r = self.cluster.cli("--master", follower.address, "--json", "admin", "backup",
                             f + ".json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(int(json.loads(r.stdout)["applied_index"]), 3)
        with open(f, "rb") as fh:
            head = fh.read(96)
        self.assertEqual(head[:8], b"STRATABK")
        self.assertEqual(struct.unpack_from("<Q", head, 32)[0], lead.id)
        # Restored with the group's ids (master.peers in the config) into
        # three fresh state dirs, the three masters form the group again.
        fresh = self.cluster.masters(3, settings=FAST, name="r", start=False)
        for m in fresh:
            conf = os.path.join(self.tmp, f"r{m.id}.conf")
            with open(conf, "w") as fh:
                fh.write(f"master.id = {m.id}\nmaster.peers = {m.settings['master.peers']}\n")
            r = self.cluster.cli("--config", conf, "admin", "restore", f, "--state-dir",
                                 m.settings["master.state_dir"])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("new group of master 1,2,3", r.stdout)
        for m in fresh:
            m.start()
        for m in fresh:
            m.wait_ready()
        lead2 = wait_leader(fresh)
        self.assertIn("/x/y", tree(lead2))
        self.cli(lead2, "fs", "mkdir", "/z")
        for m in fresh:
            wait_for(lambda m=m: "/z" in tree(m), what=f"{m.name} to apply /z")

    def test_no_leader(self):
        """One master of a group of two cannot elect itself: the route says
        so at once (503 no_leader), and the CLI, after looking for a leader
        until its deadline, says it found none."""
        ms = self.cluster.masters(2, settings=FAST, start=False)
        ms[0].start()
        ms[0].wait_ready()
        status, _, data = request(ms[0].url + "/api/v1/admin/backup")
        self.assertEqual(status, 503, data)
        self.assertEqual(json.loads(data)["error"]["code"], "no_leader")
        f = os.path.join(self.tmp, "none.backup")
        r = self.cli(ms[0], "admin", "backup", f, ok=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no master knows a leader", r.stderr)
        self.assertEqual(os.listdir(self.tmp).count("none.backup"), 0)
        self.assertEqual([x for x in os.listdir(self.tmp) if ".tmp." in x], [])


if __name__ == "__main__":
    main()
