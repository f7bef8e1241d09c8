"""Replication min/max and decommission with three real workers over a real
s3rver bucket, behind a counting proxy (bench/latency_proxy.py) that shows
every request strata makes to the store.

An admin sets replication min=2 on a file and reads it: every block ends up
cached on two workers. One holder is SIGKILLed: within a bounded time every
block is back on two live workers, copied from the survivor — the store
sees no GET — and a read still hits. Lowering max trims the extra copies.
A worker is decommissioned while a reader loops over a file: no read fails,
none reaches the store, the worker goes decommissioning -> decommissioned,
its blocks are on the other workers, and the state survives a master
restart (it is journaled). Bad input is refused naming the field."""
import json
import os
import threading
import time
import urllib.parse

from harness import (ClusterTestCase, S3rver, get_json, main, post_json, request, wait_for,
                     wait_heartbeats, wait_leader)
from test_cold_miss import CountingProxy

BUCKET = "repl"
MiB = 1 << 20


def q(path):
    return urllib.parse.quote(path, safe="")


def put_json(url, body):
    status, _, raw = request(url, method="PUT", body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
    return status, json.loads(raw) if raw else None


class ReplicationTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.s3 = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.s3.stop)
        self.proxy = CountingProxy(self.tmp, self.s3.port)
        self.addCleanup(self.proxy.stop)
        bucket = self.s3.client()  # straight to s3rver: not counted
        self.data = {}
        for name in ("f.bin", "g.bin", "h.bin"):
            self.data[name] = os.urandom(3 * MiB + 5)  # 4 blocks of 1 MiB
            bucket.put_object(Bucket=BUCKET, Key=name, Body=self.data[name])
        self.m = self.cluster.master(settings={"worker.heartbeat_interval": "200ms",
                                               "master.worker_timeout": "1s"})
        self.api = self.m.url + "/api/v1"
        status, body = post_json(f"{self.api}/mounts", {
            "path": "/data", "uri": f"s3://{BUCKET}",
            "options": {"s3.endpoint": self.proxy.endpoint, "s3.access_key": "S3RVER",
                        "s3.secret_key": "S3RVER", "s3.path_style": "true",
                        "s3.region": "us-east-1", "block_size": "1MB"}})
        self.assertEqual(status, 201, body)
        self.workers = [self.cluster.worker(self.m, name=f"worker{i}") for i in range(3)]
        wait_for(lambda: len(self.live()) == 3, what="three workers live")
        wait_heartbeats(self.workers, what="the peer list")

    # ---- helpers ----

    def live(self):
        ws = get_json(self.api + "/workers")[1]["workers"]
        return {w["address"]: w for w in ws if w["state"] != "lost"}

    def worker_entry(self, w):
        for e in get_json(self.api + "/workers")[1]["workers"]:
            if e["address"] == w.address:
                return e
        return None

    def holders(self, name):
        """Per block of /data/name: the set of worker addresses caching it."""
        status, st = get_json(f"{self.api}/files/stat?path={q('/data/' + name)}")
        self.assertEqual(status, 200, st)
        return [{loc["address"] for loc in b["locations"]} for b in st["blocks"]]

    def read(self, w, name):
        status, _, body = request(f"{w.url}/api/v1/data?path={q('/data/' + name)}", timeout=30)
        return status, body

    def read_ok(self, w, name):
        status, body = self.read(w, name)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(body, self.data[name])

    def store_gets(self):
        return self.proxy.counts().get("GET", 0)

    def set_replication(self, name, lo, hi):
        status, r = put_json(self.api + "/files/replication",
                             {"path": "/data/" + name, "min": lo, "max": hi})
        self.assertEqual(status, 200, r)

    def repl_metrics(self):
        return get_json(self.api + "/metrics")[1]["master"]["replication"]

    def events(self):
        return [e["type"] for e in get_json(self.api + "/events")[1]["events"]]

    def worker_counter(self, w, key):
        for e in get_json(self.api + "/metrics")[1]["workers"]:
            if e["address"] == w.address:
                return e["counters"].get(key, 0)
        return None

    # ---- tests ----

    def test_min_two_copies_restored_from_the_survivor_after_a_kill(self):
        self.read_ok(self.workers[0], "f.bin")  # loads it: one copy per block
        self.set_replication("f.bin", 2, -1)
        wait_for(lambda: all(len(h) == 2 for h in self.holders("f.bin")), timeout=10,
                 what="two copies of every block")
        before = self.holders("f.bin")
        self.assertEqual(len(before), 4)
        # Counted by the pass after the block map showed them.
        wait_for(lambda: self.repl_metrics()["copies_made_total"] >= 4, what="copies counted")

        # SIGKILL a worker holding some of the blocks; nothing is read from
        # the store from here on.
        self.proxy.reset()
        counts = {}
        for h in before:
            for a in h:
                counts[a] = counts.get(a, 0) + 1
        victim = next(w for w in self.workers if w.address == max(counts, key=counts.get))
        survivors = [w for w in self.workers if w is not victim]
        copies_before = sum(self.worker_counter(w, "replica_copies_total") or 0
                            for w in survivors)
        victim.kill()
        start = time.monotonic()

        def restored():
            hs = self.holders("f.bin")
            return all(len(h) == 2 and victim.address not in h for h in hs)
        # Lost after 1 s without a heartbeat; then a pass and a heartbeat
        # or two (200 ms) bring the copies.
        wait_for(restored, timeout=10, what="two live copies of every block again")
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 10)
        self.assertEqual(self.store_gets(), 0, "a copy was read from the store")
        wait_heartbeats(survivors, what="copies counted")
        copies_after = sum(self.worker_counter(w, "replica_copies_total") for w in survivors)
        self.assertGreaterEqual(copies_after - copies_before,
                                sum(1 for h in before if victim.address in h))
        # Reads on either survivor hit the copies.
        for w in survivors:
            self.read_ok(w, "f.bin")
        self.assertEqual(self.store_gets(), 0, "a read after the repair went to the store")
        wait_for(lambda: self.repl_metrics()["under_replicated_blocks"] == 0,
                 what="nothing under-replicated")
        wait_for(lambda: "replication_finished" in self.events(), what="the repair's events")
        self.assertIn("replication_started", self.events())
        # Settled, nothing read or changed: the checker skips its passes
        # (it re-reads no file while the block map, the journal and the
        # workers stay as they were).
        wait_for(lambda: self.repl_metrics()["passes_skipped_total"] > 0,
                 what="a skipped pass")
        m0 = self.repl_metrics()
        time.sleep(1.0)  # five periods of the checker (one heartbeat, 200 ms)
        m1 = self.repl_metrics()
        self.assertEqual(m1["passes_total"], m0["passes_total"], (m0, m1))
        self.assertGreaterEqual(m1["passes_skipped_total"] - m0["passes_skipped_total"], 3)
        # A change it reads (a new policy) makes the next pass run.
        self.set_replication("f.bin", 1, 1)
        wait_for(lambda: self.repl_metrics()["passes_total"] > m1["passes_total"],
                 what="a pass after the policy changed")
        wait_for(lambda: all(len(h) == 1 for h in self.holders("f.bin")), timeout=10,
                 what="trimmed to one copy per block")
        status, _, prom = request(self.m.url + "/metrics")
        self.assertIn(b"strata_master_blocks_under_replicated 0", prom)
        self.assertIn(b"strata_master_replica_copies_total ", prom)

    def test_max_trims_extra_copies(self):
        self.read_ok(self.workers[1], "g.bin")
        self.set_replication("g.bin", 3, 3)
        wait_for(lambda: all(len(h) == 3 for h in self.holders("g.bin")), timeout=10,
                 what="three copies of every block")
        self.set_replication("g.bin", 1, 1)
        wait_for(lambda: all(len(h) == 1 for h in self.holders("g.bin")), timeout=10,
                 what="trimmed to one copy")
        wait_heartbeats(self.workers, what="drops counted")
        drops = sum(self.worker_counter(w, "replica_drops_total") for w in self.workers)
        self.assertEqual(drops, 8)  # 4 blocks, 2 extra copies each
        wait_for(lambda: self.repl_metrics()["drops_made_total"] == 8, what="drops counted")
        self.proxy.reset()
        for w in self.workers:
            self.read_ok(w, "g.bin")  # the kept copy is the owner's: hits
        self.assertEqual(self.store_gets(), 0)

    def test_decommission_drains_with_reads_hitting(self):
        self.read_ok(self.workers[0], "h.bin")
        wait_for(lambda: all(self.holders("h.bin")), what="the blocks reported")
        held = self.holders("h.bin")
        counts = {}
        for h in held:
            for a in h:
                counts[a] = counts.get(a, 0) + 1
        target = next(w for w in self.workers if w.address == max(counts, key=counts.get))
        readers = [w for w in self.workers if w is not target]
        wid = self.worker_entry(target)["id"]

        self.proxy.reset()
        stop = threading.Event()
        results = []

        def reader():
            i = 0
            while not stop.is_set():
                status, body = self.read(readers[i % 2], "h.bin")
                results.append(status == 200 and body == self.data["h.bin"])
                i += 1
        t = threading.Thread(target=reader)
        t.start()
        try:
            time.sleep(0.3)
            r = self.cluster.cli("-m", self.m.address, "admin", "workers", "decommission",
                                 wid)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("decommissioning", r.stdout)
            wait_for(lambda: self.worker_entry(target)["state"] == "decommissioned",
                     timeout=15, what="decommissioned")
            time.sleep(1.0)  # readers keep going on the new placement
        finally:
            stop.set()
            t.join()
        self.assertGreater(len(results), 5)
        self.assertTrue(all(results), f"{results.count(False)} of {len(results)} reads failed")
        self.assertEqual(self.store_gets(), 0, "a read during the drain went to the store")
        for h in self.holders("h.bin"):
            self.assertTrue(h - {target.address}, "a block is only on the drained worker")
        wait_heartbeats(readers, what="the peer list without the drained worker")
        for w in readers:
            self.assertNotIn(target.address, get_json(w.url + "/api/v1/worker")[1]["peers"])
        ev = self.events()
        self.assertIn("worker_decommissioning", ev)
        self.assertIn("worker_decommissioned", ev)
        self.assertIn("worker_drained", ev)
        # Newest first: decommissioning, then drained, then decommissioned.
        self.assertLess(ev.index("worker_decommissioned"), ev.index("worker_drained"))
        self.assertLess(ev.index("worker_drained"), ev.index("worker_decommissioning"))
        # Again: a success that changes nothing.
        status, r = post_json(self.api + "/workers/decommission", {"id": wid})
        self.assertEqual((status, r["worker"]["state"]), (200, "decommissioned"), r)
        out = self.cluster.cli("-m", self.m.address, "admin", "workers").stdout
        self.assertIn("decommissioned", out)
        # The drained worker still serves reads (from the owners).
        self.read_ok(target, "h.bin")

        # Journaled: a restarted master (new registry, state from the log)
        # shows it again once the workers register.
        self.m.stop()
        self.m.start()
        self.m.wait_ready()
        wait_for(lambda: (self.worker_entry(target) or {}).get("state") == "decommissioned",
                 timeout=15, what="decommissioned after a master restart")
        wait_for(lambda: len(self.live()) == 3, what="all workers back")
        self.assertEqual(self.worker_entry(self.workers[0] if target is not self.workers[0]
                                           else self.workers[1])["state"], "live")

    def test_bad_input_names_the_field(self):
        url = self.api + "/workers/decommission"
        status, r = post_json(url, {"id": "12345"})
        self.assertEqual(status, 404, r)
        self.assertIn("'id'", r["error"]["message"])
        status, r = post_json(url, {"id": "abc"})
        self.assertEqual(status, 400, r)
        self.assertIn("'id'", r["error"]["message"])
        status, r = post_json(url, {})
        self.assertEqual(status, 400, r)
        self.assertIn("'id'", r["error"]["message"])
        r = self.cluster.cli("-m", self.m.address, "admin", "workers", "decommission", "x")
        self.assertEqual(r.returncode, 2)
        self.assertIn("'x' is not a worker id", r.stderr)
        r = self.cluster.cli("-m", self.m.address, "admin", "workers", "decommission")
        self.assertEqual(r.returncode, 2)
        r = self.cluster.cli("-m", self.m.address, "admin", "workers", "decommission", "999")
        self.assertEqual(r.returncode, 1)
        self.assertIn("'id'", r.stderr)
        self.read_ok(self.workers[0], "f.bin")
        for body, field in (({"min": 3, "max": 2}, "min"), ({"min": -1, "max": -1}, "min"),
                            ({"min": 1, "max": 65}, "max")):
            status, r = put_json(self.api + "/files/replication", {"path": "/data/f.bin", **body})
            self.assertEqual(status, 400, r)
            self.assertIn(f"'{field}'", r["error"]["message"])
        # A heartbeat naming a bad address; a peer asked for an uncached
        # block with cached=1 (a copy's request) does not read the store.
        status, r = post_json(self.api + "/workers/heartbeat",
                              {"worker_id": "1", "capacity_bytes": 0, "used_bytes": 0,
                               "host": "127.0.0.1", "data_port": 0})
        self.assertEqual(status, 400, r)
        self.assertIn("data_port", r["error"]["message"])
        wait_for(lambda: all(self.holders("f.bin")), what="the blocks reported")
        status, st = get_json(f"{self.api}/files/stat?path={q('/data/f.bin')}")
        block = st["blocks"][0]
        holders = {loc["address"] for loc in block["locations"]}
        other = next(w for w in self.workers if w.address not in holders)
        self.proxy.reset()
        status, _, body = request(f"{other.url}/api/v1/blocks/{block['id']}?path="
                                  f"{q('/data/f.bin')}&data_id={st['data_id']}&offset=0"
                                  f"&length={block['length']}&cached=1")
        self.assertEqual(status, 404, body)
        self.assertIn(b"not_cached", body)
        self.assertEqual(self.store_gets(), 0)
        # Nobody is decommissioning.
        self.assertEqual({w["state"] for w in self.live().values()}, {"live"})



class DecommissionFailoverTest(ClusterTestCase):
    """The decommissioned state is journaled: after the leader is SIGKILLed,
    the new leader shows it, keeps the worker out of placement, and the
    other workers stay live."""

    def test_state_survives_leader_kill(self):
        ms = self.cluster.masters(3, settings={"worker.heartbeat_interval": "200ms",
                                                "master.worker_timeout": "1s"})
        lead = wait_leader(ms)
        ws = [self.cluster.worker(ms, name=f"worker{i}") for i in range(3)]

        def states(m):
            status, body = get_json(m.url + "/api/v1/workers")
            return {w["address"]: w["state"] for w in body["workers"]} if status == 200 else {}
        wait_for(lambda: len(states(lead)) == 3, what="three workers on the leader")
        wid = next(w["id"] for w in get_json(lead.url + "/api/v1/workers")[1]["workers"]
                   if w["address"] == ws[0].address)
        status, r = post_json(lead.url + "/api/v1/workers/decommission", {"id": wid})
        self.assertEqual(status, 200, r)
        # Nothing cached: the drain ends after two passes.
        wait_for(lambda: states(lead).get(ws[0].address) == "decommissioned",
                 what="decommissioned")
        lead.kill()
        new = wait_leader(ms, exclude=(lead,))
        wait_for(lambda: states(new) == {ws[0].address: "decommissioned",
                                         ws[1].address: "live", ws[2].address: "live"},
                 timeout=15, what="the new leader's view")
        # Out of placement: the peer lists the workers get leave it out.
        wait_heartbeats(ws[1:], what="the new leader's peer list")
        for w in ws[1:]:
            peers = get_json(w.url + "/api/v1/worker")[1]["peers"]
            self.assertEqual(sorted(peers), sorted([ws[1].address, ws[2].address]))
        ev = [e["type"] for e in get_json(new.url + "/api/v1/events")[1]["events"]]
        self.assertIn("worker_decommissioned", ev)


if __name__ == "__main__":
    main()
