"""High availability as a user sees it: three masters and a worker; a
client keeps writing through REST while the leader is killed with SIGKILL
again and again. Every acknowledged write is on every master afterwards and
the namespaces are identical; the worker follows each new leader (it
registers there, and reads and writes through its S3 gateway keep working);
the CLI, given any master or a follower only, reaches the leader; and
`strata admin masters add|remove` grows and shrinks the running group."""
import json
import os
import threading
import time
import urllib.parse

from harness import (ns_tree, ClusterTestCase, get_json, main, raft_self, request, wait_for,
                     wait_leader)

KILLS = 3


def q(path):
    return urllib.parse.quote(path, safe="")


class Writer(threading.Thread):
    """mkdir /ha/wNNNNN in a loop through whichever master leads, following
    307s and skipping dead masters and 503s, as a REST client would. Keeps
    the paths whose creation was acknowledged (201)."""

    def __init__(self, masters):
        super().__init__(daemon=True)
        self.masters = masters
        self.acked = []
        self.acked_at = []
        self.failures = []
        self.stop_flag = threading.Event()

    def live_urls(self):
        return [m.url for m in self.masters if m.proc and m.proc.poll() is None]

    def run(self):
        n = 0
        url = self.live_urls()[0]
        while not self.stop_flag.is_set():
            path = "/ha/w%05d" % n
            try:
                status, headers, data = request(url + "/api/v1/files/mkdir", method="POST",
                                                body={"path": path}, timeout=3)
            except OSError:
                # Refused, reset, or a reply cut short by the kill.
                urls = self.live_urls()
                url = urls[(urls.index(url) + 1) % len(urls)] if url in urls else urls[0]
                time.sleep(0.02)
                continue
            if status == 307:
                url = headers["x-strata-leader"]
            elif status == 201:
                self.acked.append(path)
                self.acked_at.append(time.monotonic())
                n += 1
            elif status == 409:
                n += 1  # applied, but the reply was lost in a failover: not counted
            elif status in (503, 504):
                time.sleep(0.05)
            else:
                self.failures.append((path, status, data))
                n += 1


class HighAvailabilityTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.ufs = os.path.join(self.tmp, "ufs")
        os.makedirs(self.ufs)

    def tree(self, m, path="/"):
        return ns_tree(m, path)

    def worker_on(self, lead):
        status, body = get_json(lead.url + "/api/v1/workers")
        return status == 200 and any(w["state"] == "live" for w in body["workers"])

    def s3(self, w, method, path, body=None):
        status, _, data = request("http://127.0.0.1:%s%s" % (w.settings["worker.s3_port"], path),
                                  method=method, body=body, timeout=30)
        return status, data

    def cli(self, *args):
        return self.cluster.cli(*args, timeout=60)

    def test_leader_killed_repeatedly_under_writes(self):
        settings = {"master.mount.sync_interval": "never",
                    "master.root_ufs": "file://" + self.ufs}
        ms = self.cluster.masters(3, settings=settings)
        lead = wait_leader(ms)
        wait_for(lambda: (lambda r: r[0] == 200 and any(
            mt["path"] == "/" for mt in r[1]["mounts"]))(get_json(lead.url + "/api/v1/mounts")),
            what="master.root_ufs mounted by the leader")
        w = self.cluster.worker(ms, settings={"worker.metadata_ttl": "0"})
        wait_for(lambda: self.worker_on(lead), what="worker registered with the leader")
        self.assertEqual(self.s3(w, "PUT", "/ha")[0], 200)
        self.assertEqual(self.s3(w, "PUT", "/ha/object", b"v0" * 1000)[0], 200)

        writer = Writer(ms)
        writer.start()
        wait_for(lambda: len(writer.acked) >= 20, what="first writes")
        for round_ in range(KILLS):
            lead = wait_leader(ms)
            before = len(writer.acked)
            t0 = time.monotonic()
            lead.kill()
            new = wait_leader(ms, exclude=(lead,), timeout=20)
            self.assertIsNot(new, lead)
            wait_for(lambda: any(t > t0 for t in writer.acked_at[before:]), timeout=20,
                     what=f"round {round_}: a write acknowledged after the kill")
            # The worker follows: it registers with the new leader, and its
            # S3 gateway reads the old object and writes a new one.
            wait_for(lambda: self.worker_on(new), timeout=20,
                     what=f"round {round_}: worker registered with master {new.id}")
            status, data = self.s3(w, "GET", "/ha/object")
            self.assertEqual((status, data), (200, b"v0" * 1000))
            status, _ = self.s3(w, "PUT", f"/ha/after-kill-{round_}", b"x" * (round_ + 1))
            self.assertEqual(status, 200)
            # The CLI, told only about the masters that are up, finds the leader.
            up = ",".join(m.address for m in ms if m is not lead)
            r = self.cli("--master", up, "fs", "mkdir", f"/ha/cli-{round_}")
            self.assertEqual(r.returncode, 0, r.stderr)
            lead.start()
            lead.wait_ready()
        time.sleep(0.5)
        writer.stop_flag.set()
        writer.join(30)
        self.assertEqual(writer.failures, [])
        self.assertGreater(len(writer.acked), 20 + KILLS)

        # Every master holds every acknowledged write, and all trees are
        # equal. The leader lists first: listing loads directories no one
        # listed yet, a write that followers then replay.
        lead = wait_leader(ms)
        trees = [self.tree(lead)]

        def converged():
            views = [raft_self(m) for m in ms]
            return all(views) and len({v["applied_index"] for v in views}) == 1
        wait_for(converged, timeout=30, what="every master applied the same entries")
        ms = [lead] + [m for m in ms if m is not lead]
        trees += [self.tree(m) for m in ms[1:]]
        for m, t in zip(ms, trees):
            missing = [p for p in writer.acked if p not in t]
            self.assertEqual(missing, [], f"acknowledged but missing on {m.name}")
            self.assertEqual(t, trees[0], f"{m.name} differs from {ms[0].name}")
        for i in range(KILLS):
            self.assertEqual(trees[0][f"/ha/after-kill-{i}"], ("file", i + 1))
            self.assertEqual(trees[0][f"/ha/cli-{i}"][0], "directory")

    def test_cli_masters_list_add_remove(self):
        ms = self.cluster.masters(3, settings={"master.mount.sync_interval": "never"})
        lead = wait_leader(ms)
        follower = next(m for m in ms if m is not lead)
        # Only a follower given: the list still comes from the leader's view.
        r = self.cli("--master", follower.address, "admin", "masters", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["leader"], lead.id)
        self.assertEqual(sorted(m["id"] for m in doc["masters"]), [1, 2, 3])
        r = self.cli("--master", follower.address, "admin", "masters")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"Leader: {lead.id}", r.stdout)
        self.assertEqual(r.stdout.count("follower"), 2, r.stdout)

        # A fourth master, started to join, then added through a follower.
        [m4] = self.cluster.masters(1, settings={"master.join": "true"}, first_id=4,
                                    start=False)
        peers = ",".join(m.peer for m in ms) + "," + m4.peer
        m4.argv = [a if not a.startswith("master.peers=") else "master.peers=" + peers
                   for a in m4.argv]
        m4.start()
        m4.wait_ready()
        r = self.cli("--master", follower.address, "admin", "masters", "add", "4",
                     m4.raft_address, m4.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: (raft_self(m4) or {}).get("voter"), what="master 4 a voter")
        r = self.cli("--master", m4.address, "admin", "masters", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(m["id"] for m in json.loads(r.stdout)["masters"]),
                         [1, 2, 3, 4])
        # Adding it again is refused; so are malformed ids.
        r = self.cli("--master", lead.address, "admin", "masters", "add", "4",
                     m4.raft_address, m4.url)
        self.assertEqual(r.returncode, 1)
        self.assertIn("4", r.stderr)
        for bad in (["add", "0", "h:1", "h:2"], ["add", "x", "h:1", "h:2"], ["remove", "-3"],
                    ["add", "5"], ["remove"], ["frobnicate"]):
            r = self.cli("--master", lead.address, "admin", "masters", *bad)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))
        # Remove it again; an unknown id is an error naming it.
        r = self.cli("--master", lead.address, "admin", "masters", "remove", "4")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("--master", lead.address, "admin", "masters", "--json")
        self.assertEqual(sorted(m["id"] for m in json.loads(r.stdout)["masters"]), [1, 2, 3])
        r = self.cli("--master", lead.address, "admin", "masters", "remove", "99")
        self.assertEqual(r.returncode, 1)
        self.assertIn("99", r.stderr)
        m4.stop()

    def test_cli_with_no_master_up(self):
        # Nothing listens: the CLI gives up after its deadline with exit 1
        # and names a master it tried.
        r = self.cli("--master", "127.0.0.1:1,127.0.0.1:2", "admin", "masters")
        self.assertEqual(r.returncode, 1)
        self.assertIn("127.0.0.1:", r.stderr)
        r = self.cli("--master", "http://h:1/path", "admin", "masters")
        self.assertEqual(r.returncode, 2)
        self.assertIn("http://h:1/path", r.stderr)


if __name__ == "__main__":
    main()
