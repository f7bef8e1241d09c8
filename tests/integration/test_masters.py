"""Masters as a Raft group: three masters elect a leader; followers redirect
writes (307 + Location) and serve reads; writes through the leader reach
every namespace; SIGKILL of the leader elects another that takes writes,
and the killed one catches up; GET /api/v1/masters; a fourth master added
with POST and masters removed with DELETE (the leader too); a master
killed in the middle of many writes restarts from its Raft storage; a
wiped follower gets the leader's snapshot; no leader -> 503; bad
master.* settings refused naming the key."""
import json
import os
import shutil
import signal
import threading
import time
import urllib.parse

from harness import (ns_tree, MASTER_BIN, ClusterTestCase, get_json, main, post_json, raft_self,
                     request, run_tool, wait_for, wait_leader)

FAST = {"master.mount.sync_interval": "never", "master.worker_timeout": "3s"}


def q(path):
    return urllib.parse.quote(path, safe="")


class MastersTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.ufs = os.path.join(self.tmp, "ufs")
        os.makedirs(self.ufs)

    def start_group(self, n=3, settings=None):
        s = dict(FAST)
        s.update(settings or {})
        self.ms = self.cluster.masters(n, settings=s)
        lead = wait_leader(self.ms)
        return lead

    def write(self, method, path, body=None, timeout=20.0):
        """A write that follows redirects and retries 503 until a deadline,
        the way a client following the leader would; returns (status, body)."""
        deadline = time.monotonic() + timeout
        targets = [m.url for m in self.ms if m.proc and m.proc.poll() is None]
        url = targets[0] + path
        while True:
            try:
                status, headers, data = request(url, method=method, body=body, timeout=5)
            except OSError:
                status, headers, data = None, {}, b""
            if status == 307:
                url = headers["location"]
                continue
            if status in (None, 503) and time.monotonic() < deadline:
                targets = targets[1:] + targets[:1]
                url = targets[0] + path
                time.sleep(0.05)
                continue
            return status, (json.loads(data) if data else None)

    def mount_root(self, lead):
        status, body = post_json(lead.url + "/api/v1/mounts",
                                 {"path": "/", "uri": "file://" + self.ufs})
        self.assertEqual(status, 201, body)
        # The first listing loads / from the store (a write, on the leader).
        status, body = get_json(lead.url + "/api/v1/files?path=/")
        self.assertEqual(status, 200, body)

    def tree(self, m, path="/"):
        return ns_tree(m, path)

    def converged(self, masters):
        """True once every master applied the same index and holds the same tree."""
        views = [raft_self(m) for m in masters]
        if any(v is None for v in views):
            return False
        if len({v["applied_index"] for v in views}) != 1:
            return False
        trees = [self.tree(m) for m in masters]
        return all(t == trees[0] for t in trees) and trees[0]

    # ---- tests ----

    def test_redirects_reads_and_replication(self):
        lead = self.start_group()
        followers = [m for m in self.ms if m is not lead]
        self.mount_root(lead)
        f = followers[0]
        # Writes on a follower: 307 before any side effect.
        for method, path, body in [
                ("POST", "/api/v1/files/mkdir", {"path": "/redir"}),
                ("POST", "/api/v1/files/rename", {"src": "/a", "dst": "/x y.txt"}),
                ("DELETE", "/api/v1/files?path=/redir", None),
                ("POST", "/api/v1/workers/register", {"host": "h"}),
                ("POST", "/api/v1/internal/write/begin", {"path": "/x"}),
                ("POST", "/api/v1/masters", {"id": 9}),
                ("DELETE", "/api/v1/masters/9", None)]:
            status, headers, data = request(f.url + path, method=method, body=body)
            self.assertEqual(status, 307, (method, path, data))
            self.assertEqual(headers["location"], lead.url + path)
            self.assertEqual(headers["x-strata-leader"], lead.url)
            err = json.loads(data)["error"]
            self.assertEqual(err["code"], "not_leader")
            self.assertEqual(err["message"], f"master {f.id} is a follower; the leader is "
                             f"master {lead.id} at {lead.url}")
        self.assertFalse(os.path.exists(os.path.join(self.ufs, "redir")))
        self.assertFalse(os.path.exists(os.path.join(self.ufs, "x y.txt")))
        # Following the redirect works (307 keeps method and body).
        status, headers, _ = request(f.url + "/api/v1/files/mkdir", method="POST",
                                     body={"path": "/redir"})
        status, body = post_json(headers["location"], {"path": "/redir"})
        self.assertEqual(status, 201, body)
        # A file written through a worker (bulk data never goes through a
        # master)...
        w = self.cluster.worker(self.ms)
        wait_for(lambda: get_json(lead.url + "/api/v1/workers")[1]["workers"],
                 what="the worker to register")
        status, _, data = request(w.url + "/api/v1/data?path=%2Fredir%2Ff", method="PUT",
                                  body=b"hello")
        self.assertEqual(status, 201, data)
        # ...and shows up on every master, read locally.
        for m in self.ms:
            st = wait_for(lambda: (lambda r: r[1] if r[0] == 200 else None)(
                get_json(f"{m.url}/api/v1/files/stat?path=%2Fredir%2Ff")),
                what=f"/redir/f on {m.name}")
            self.assertEqual(st["length"], 5)
        status, _, data = request(w.url + "/api/v1/data?path=%2Fredir%2Ff")
        self.assertEqual((status, data), (200, b"hello"))
        # The namespace epoch workers trust their metadata by: only the
        # leader vouches for it (a follower may lag); it is the applied index.
        status, headers, data = request(f.url + "/api/v1/internal/epoch")
        self.assertEqual(status, 307, data)
        self.assertEqual(headers["location"], lead.url + "/api/v1/internal/epoch")
        status, ep = get_json(lead.url + "/api/v1/internal/epoch")
        self.assertEqual(status, 200, ep)
        status, me = get_json(lead.url + "/api/v1/masters/self")
        self.assertGreaterEqual(me["applied_index"], ep["epoch"])
        self.assertGreater(ep["epoch"], 0)

        # The group as each master sees it.
        wait_for(lambda: self.converged(self.ms), what="namespaces to converge")
        status, g = get_json(f.url + "/api/v1/masters")
        self.assertEqual(status, 200, g)
        self.assertEqual(g["leader"], lead.id)
        self.assertEqual(sorted(e["id"] for e in g["masters"]), [1, 2, 3])
        for e in g["masters"]:
            m = next(x for x in self.ms if x.id == e["id"])
            self.assertEqual(e["role"], "leader" if m is lead else "follower")
            self.assertEqual(e["rest_url"], m.url)
            self.assertEqual(e["raft_address"], m.raft_address)
            self.assertEqual(e["self"], m is f)
            self.assertEqual(e["term"], g["term"])
            self.assertGreaterEqual(e["lag"], 0)
        status, h = get_json(f.url + "/api/v1/health")
        self.assertEqual((h["raft"]["role"], h["raft"]["leader"]), ("follower", lead.id))
        status, c = get_json(f.url + "/api/v1/cluster")
        self.assertEqual(c["leader"], lead.address)
        self.assertEqual(c["raft"]["leader_url"], lead.url)
        status, _, prom = request(lead.url + "/metrics")
        self.assertIn(b'strata_master_raft_role{role="leader"} 1', prom)
        self.assertIn(b"strata_master_raft_fsync_batches_total", prom)
        status, mj = get_json(lead.url + "/api/v1/metrics")
        self.assertGreater(mj["master"]["raft"]["proposals"], 0)
        self.assertGreater(mj["master"]["raft"]["batch_entries"], 0)

    def test_remount_seen_by_followers(self):
        lead = self.start_group()
        f = next(m for m in self.ms if m is not lead)
        a, b = os.path.join(self.tmp, "a"), os.path.join(self.tmp, "b")
        for d, text in ((a, b"from a"), (b, b"from bb")):
            os.makedirs(d)
            with open(os.path.join(d, "f"), "wb") as fh:
                fh.write(text)
        for d, text in ((a, b"from a"), (b, b"from bb")):
            status, body = post_json(lead.url + "/api/v1/mounts", {"path": "/m", "uri": "file://" + d})
            self.assertEqual(status, 201, body)
            self.assertEqual(get_json(lead.url + "/api/v1/files?path=/m")[0], 200)
            # The follower looks the file up in its own (cached) store of the
            # mount: the one mounted now.
            wait_for(lambda: (lambda r: r[0] == 200 and r[1]["length"] == len(text))(
                get_json(f.url + "/api/v1/files/stat?path=%2Fm%2Ff")),
                what=f"the follower to see {d} at /m")
            status, body = get_json(lead.url + "/api/v1/mounts?path=/m", method="DELETE")
            self.assertEqual(status, 200, body)

    def test_sigkill_leader_failover(self):
        lead = self.start_group()
        self.mount_root(lead)
        acked = []
        for i in range(20):
            status, body = self.write("POST", "/api/v1/files/mkdir", {"path": f"/a{i:02d}"})
            self.assertEqual(status, 201, body)
            acked.append(f"/a{i:02d}")
        killed_at = time.monotonic()
        lead.send_signal(signal.SIGKILL)
        lead.proc.wait()
        lead.log.close()
        new = wait_leader(self.ms, timeout=10, exclude=(lead,))
        self.assertIsNot(new, lead)
        status, body = self.write("POST", "/api/v1/files/mkdir", {"path": "/after"})
        self.assertEqual(status, 201, body)
        print(f"failover: new leader accepted a write {time.monotonic() - killed_at:.2f}s "
              "after SIGKILL")
        acked.append("/after")
        lead.start()
        lead.wait_ready()
        tree = wait_for(lambda: self.converged(self.ms), timeout=20,
                        what="the restarted master to catch up")
        for p in acked:
            self.assertIn(p, tree)
            self.assertTrue(os.path.isdir(os.path.join(self.ufs, p[1:])))
        self.assertEqual(wait_leader(self.ms).id, new.id)

    def test_add_and_remove_masters(self):
        lead = self.start_group(settings={"master.snapshot_every": "15"})
        self.mount_root(lead)
        for i in range(20):
            self.assertEqual(self.write("POST", "/api/v1/files/mkdir",
                                        {"path": f"/b{i:02d}"})[0], 201)
        # A fourth master waits with no configuration until it is added.
        rest, raft = self.cluster_free_ports()
        peers = ",".join(m.peer for m in self.ms) + \
            f",4@127.0.0.1:{raft}@http://127.0.0.1:{rest}"
        s = dict(FAST, **{"master.port": str(rest), "master.raft_port": str(raft),
                          "master.id": "4", "master.peers": peers, "master.join": "true"})
        m4 = self.cluster.master("master4", settings=s)
        m4.id = 4
        status, _, data = request(m4.url + "/api/v1/files/mkdir", method="POST",
                                  body={"path": "/x"})
        self.assertEqual(status, 503, data)
        self.assertEqual(json.loads(data)["error"]["code"], "no_leader")
        # Bad requests name the field.
        for body, field in [({"raft_address": "h:1", "rest_url": "http://h:2"}, "id"),
                            ({"id": 4, "raft_address": "h", "rest_url": "http://h:2"},
                             "raft_address"),
                            ({"id": 4, "raft_address": "h:1", "rest_url": "ftp://h:2"},
                             "rest_url"),
                            ({"id": 0, "raft_address": "h:1", "rest_url": "http://h:2"}, "id")]:
            status, b = post_json(lead.url + "/api/v1/masters", body)
            self.assertEqual(status, 400, body)
            self.assertIn(field, b["error"]["message"])
        status, b = post_json(lead.url + "/api/v1/masters",
                              {"id": lead.id, "raft_address": "h:1", "rest_url": "http://h:2"})
        self.assertEqual((status, b["error"]["code"]), (409, "already_exists"))
        status, b = post_json(lead.url + "/api/v1/masters",
                              {"id": 4, "raft_address": f"127.0.0.1:{raft}",
                               "rest_url": m4.url})
        self.assertEqual(status, 200, b)
        self.assertEqual(sorted(e["id"] for e in b["masters"]), [1, 2, 3, 4])
        self.ms.append(m4)
        # The newcomer catches up (from a snapshot: the log was compacted).
        tree = wait_for(lambda: self.converged(self.ms), timeout=20, what="m4 to catch up")
        self.assertIn("/b19", tree)
        self.assertIn("installed the leader's snapshot", m4.read_log())
        status, g = get_json(m4.url + "/api/v1/masters")
        self.assertEqual((g["leader"], len(g["masters"])), (lead.id, 4))

        # Remove a follower, then an unknown id, then the leader itself.
        victim = next(m for m in self.ms if m is not lead and m is not m4)
        status, b = get_json(lead.url + f"/api/v1/masters/{victim.id}", method="DELETE")
        self.assertEqual(status, 200, b)
        self.assertEqual(sorted(e["id"] for e in b["masters"]),
                         sorted(m.id for m in self.ms if m is not victim))
        status, b = get_json(lead.url + "/api/v1/masters/99", method="DELETE")
        self.assertEqual((status, b["error"]["code"]), (404, "not_found"))
        status, b = get_json(lead.url + "/api/v1/masters/abc", method="DELETE")
        self.assertEqual(status, 400)
        victim.stop()
        self.ms.remove(victim)
        status, b = get_json(lead.url + f"/api/v1/masters/{lead.id}", method="DELETE")
        self.assertEqual(status, 200, b)
        self.assertNotIn(lead.id, [e["id"] for e in b["masters"]])
        rest_group = [m for m in self.ms if m is not lead]
        new = wait_leader(rest_group, timeout=10)
        self.assertIsNot(new, lead)
        self.ms = rest_group
        status, body = self.write("POST", "/api/v1/files/mkdir", {"path": "/after-remove"})
        self.assertEqual(status, 201, body)
        tree = wait_for(lambda: self.converged(rest_group), timeout=20, what="convergence")
        self.assertIn("/after-remove", tree)

    def cluster_free_ports(self):
        from harness import free_port
        return free_port(), free_port()

    def test_kill_follower_during_writes(self):
        lead = self.start_group()
        self.mount_root(lead)
        victim = next(m for m in self.ms if m is not lead)
        acked, stop = [], threading.Event()

        def writer():
            i = 0
            while not stop.is_set() and i < 400:
                status, _ = post_json(lead.url + "/api/v1/files/mkdir", {"path": f"/w{i:04d}"})
                if status == 201:
                    acked.append(f"/w{i:04d}")
                i += 1
        t = threading.Thread(target=writer)
        t.start()
        wait_for(lambda: len(acked) >= 40, what="writes to flow")
        victim.send_signal(signal.SIGKILL)
        victim.proc.wait()
        victim.log.close()
        wait_for(lambda: len(acked) >= 120, what="writes without the follower")
        victim.start()
        victim.wait_ready()
        t.join(60)
        stop.set()
        tree = wait_for(lambda: self.converged(self.ms), timeout=30, what="convergence")
        missing = [p for p in acked if p not in tree]
        self.assertEqual(missing, [])

    def test_snapshot_onto_wiped_follower(self):
        lead = self.start_group(settings={"master.snapshot_every": "10"})
        self.mount_root(lead)
        victim = next(m for m in self.ms if m is not lead)
        victim.send_signal(signal.SIGKILL)
        victim.proc.wait()
        victim.log.close()
        for i in range(40):
            self.assertEqual(post_json(lead.url + "/api/v1/files/mkdir",
                                       {"path": f"/s{i:02d}"})[0], 201)
        shutil.rmtree(victim.settings["master.state_dir"])
        victim.start()
        victim.wait_ready()
        tree = wait_for(lambda: self.converged(self.ms), timeout=20, what="convergence")
        self.assertIn("/s39", tree)
        self.assertIn("installed the leader's snapshot", victim.read_log())
        self.assertTrue(os.path.exists(os.path.join(victim.settings["master.state_dir"],
                                                    "raft", "snapshot")))

    def test_no_leader_and_unreachable(self):
        self.ms = self.cluster.masters(3, settings=FAST, start=False)
        alone = self.ms[0]
        alone.start()
        alone.wait_ready()
        status, headers, data = request(alone.url + "/api/v1/files/mkdir", method="POST",
                                        body={"path": "/x"})
        self.assertEqual(status, 503, data)
        self.assertEqual(headers.get("retry-after"), "1")
        self.assertEqual(json.loads(data)["error"]["code"], "no_leader")
        status, g = get_json(alone.url + "/api/v1/masters")
        self.assertEqual(status, 200)
        roles = {e["id"]: e["role"] for e in g["masters"]}
        self.assertEqual(roles[2], "unreachable")
        self.assertEqual(roles[3], "unreachable")
        self.assertIn(roles[1], ("follower", "candidate"))

    def test_bad_settings(self):
        base = ["--set", f"master.state_dir={self.tmp}/bad", "--set", "master.port=1"]
        for sets, needle in [
                (["master.peers=1@h:1@h:2,2@h:3@h:4", "master.id=5"], "master.peers"),
                (["master.peers=1@h@h:2"], "master.peers: item 1"),
                (["master.raft.heartbeat_ticks=8"], "master.raft.heartbeat_ticks"),
                (["master.raft.election_ticks=1"], "master.raft.election_ticks"),
                (["master.raft.tick=1ms"], "master.raft.tick"),
                (["master.id=0"], "master.id"),
                (["master.raft_port=70000"], "master.raft_port"),
                # A newcomer that does not know where the group is.
                (["master.join=true"], "master.join"),
                (["master.join=true", "master.id=2", "master.peers=2@h:1@h:2"],
                 "master.join")]:
            argv = [MASTER_BIN] + base + [a for s in sets for a in ("--set", s)]
            r = run_tool(argv, timeout=20, env=self.cluster.env())
            self.assertNotEqual(r.returncode, 0, sets)
            self.assertIn(needle, r.stderr, sets)


if __name__ == "__main__":
    main()
