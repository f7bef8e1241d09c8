"""Reads through workers: only the blocks a range touches are fetched, hits
come from the cache, concurrent misses read the store once, blocks live on
their rendezvous owner and the master knows where, stale content is never
served, a dead owner or a full tier does not fail reads, and SSD blocks
survive a worker restart."""
import json
import os
import signal
import socket
import threading
import time
import urllib.parse

from harness import ClusterTestCase, get_json, main, request, wait_for, wait_heartbeats

MiB = 1 << 20


def q(path):
    return urllib.parse.quote(path, safe="")


class DataPathTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(self.root)
        self.data = os.urandom(10 * MiB + 123)
        with open(os.path.join(self.root, "big.bin"), "wb") as f:
            f.write(self.data)
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root,
                                               "master.worker_timeout": "1s"})

    def workers(self, n, **settings):
        ws = [self.cluster.worker(self.m, name=f"w{i}", settings=dict(settings))
              for i in range(n)]
        # Every worker must know every peer before placement is stable.
        def ready():
            live = get_json(self.m.url + "/api/v1/workers")[1]["workers"]
            return len([w for w in live if w["state"] == "live"]) == n
        wait_for(ready, what=f"{n} live workers")
        wait_heartbeats(ws, what="the peer list")
        return ws

    def read(self, w, path="/big.bin", offset=None, length=None):
        qs = f"path={q(path)}"
        if offset is not None:
            qs += f"&offset={offset}"
        if length is not None:
            qs += f"&length={length}"
        status, _, body = request(f"{w.url}/api/v1/data?{qs}", timeout=30)
        self.assertEqual(status, 200, body[:200])
        return body

    def counters(self, w):
        return get_json(w.url + "/api/v1/metrics")[1]["counters"]

    def total(self, ws, key):
        return sum(self.counters(w)[key] for w in ws)

    def wait_ufs_bytes(self, ws, want):
        wait_for(lambda: self.total(ws, "bytes_from_ufs_total") >= want, timeout=10,
                 what=f"{want} bytes read from the store")
        self.assertEqual(self.total(ws, "bytes_from_ufs_total"), want)

    def test_read_through_then_hits(self):
        ws = self.workers(2)
        self.assertEqual(self.read(ws[0]), self.data)
        self.wait_ufs_bytes(ws, len(self.data))  # each block read from the store once
        ufs_after_first = self.total(ws, "bytes_from_ufs_total")
        self.assertEqual(self.read(ws[1]), self.data)
        self.assertEqual(self.read(ws[0]), self.data)
        self.assertEqual(self.total(ws, "bytes_from_ufs_total"), ufs_after_first,
                         "warm reads never touch the store")
        self.assertGreater(self.total(ws, "block_hits_total"), 0)
        # The master knows every block's worker and tier.
        def located():
            st = get_json(f"{self.m.url}/api/v1/files/stat?path=/big.bin")[1]
            return st if st["cached_percent"] == 100 else None
        st = wait_for(located, what="block locations")
        self.assertEqual(len(st["blocks"]), 3)
        addrs = {w.address for w in ws}
        for b in st["blocks"]:
            self.assertEqual(len(b["locations"]), 1, b)
            self.assertIn(b["locations"][0]["address"], addrs)
            self.assertEqual(b["locations"][0]["tier"], "MEM")
        # The master sums the workers' counters from their heartbeats.
        def summed():
            c = get_json(self.m.url + "/api/v1/metrics")[1]["cluster"]
            # Both: a heartbeat sent between the reads carries the bytes
            # read from the store but not yet the hits.
            return (c.get("bytes_from_ufs_total") == len(self.data)
                    and c.get("block_hits_total", 0) > 0 and c)
        cluster = wait_for(summed, what="cluster metrics")
        self.assertGreater(cluster["block_hits_total"], 0)
        status, _, text = request(self.m.url + "/metrics")
        self.assertIn(b'strata_master_workers{state="live"} 2', text)
        self.assertIn(b"strata_cluster_bytes_from_ufs_total", text)
        # Prometheus text carries the same counters.
        status, _, text = request(ws[0].url + "/metrics")
        self.assertEqual(status, 200)
        self.assertIn(b"strata_worker_block_hits_total", text)
        self.assertIn(b'strata_worker_tier_used_bytes{tier="MEM"}', text)

    def test_range_reads_fetch_only_touched_blocks(self):
        ws = self.workers(1)
        got = self.read(ws[0], offset=5 * MiB, length=100)
        self.assertEqual(got, self.data[5 * MiB:5 * MiB + 100])
        # A cold block streams to the client as it arrives and is counted
        # once it is whole, which may be just after the reply ends.
        self.wait_ufs_bytes(ws, 4 * MiB)
        # Crossing a block boundary touches two blocks (one cached already).
        got = self.read(ws[0], offset=8 * MiB - 10, length=20)
        self.assertEqual(got, self.data[8 * MiB - 10:8 * MiB + 10])
        self.wait_ufs_bytes(ws, 4 * MiB + 2 * MiB + 123)
        self.assertEqual(self.read(ws[0], offset=len(self.data) + 1), b"")

    def test_concurrent_misses_read_the_store_once(self):
        ws = self.workers(1)
        results = []

        def reader():
            results.append(self.read(ws[0], offset=0, length=1000))
        threads = [threading.Thread(target=reader) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [self.data[:1000]] * 8)
        self.wait_ufs_bytes(ws, 4 * MiB)

    def test_changed_content_is_never_served_stale(self):
        ws = self.workers(1, **{"worker.metadata_ttl": "0s"})
        status, _ = get_json(self.m.url + "/api/v1/mounts?path=/", method="DELETE")
        self.assertEqual(status, 200)
        status, _ = request(self.m.url + "/api/v1/mounts", method="POST", body={
            "path": "/", "uri": "file://" + self.root,
            "options": {"sync_interval": "always"}})[:2]
        self.assertEqual(status, 201)
        self.assertEqual(self.read(ws[0], offset=0, length=10), self.data[:10])
        new = os.urandom(5 * MiB)
        with open(os.path.join(self.root, "big.bin"), "wb") as f:
            f.write(new)
        self.assertEqual(self.read(ws[0], offset=0, length=10), new[:10])
        self.assertEqual(self.read(ws[0]), new)

    def test_dead_owner_falls_back_to_the_store(self):
        ws = self.workers(2)
        self.assertEqual(self.read(ws[0]), self.data)
        ws[1].send_signal(signal.SIGKILL)
        ws[1].proc.wait()
        ws[1].log.close()
        # Before the master notices, reads of ws[1]'s blocks fall back.
        self.assertEqual(self.read(ws[0]), self.data)
        c = self.counters(ws[0])
        wait_for(lambda: get_json(self.m.url + "/api/v1/cluster")[1]["workers"]["lost"] == 1,
                 what="lost worker")
        wait_heartbeats(ws[:1], what="the peer list without the lost worker")
        # Now ws[0] owns everything and caches it.
        self.assertEqual(self.read(ws[0]), self.data)
        self.assertEqual(self.read(ws[0]), self.data)
        self.assertGreaterEqual(c["peer_fallbacks_total"], 1)
        self.assertIn("owner unreachable", ws[0].read_log())

    def test_full_tier_still_serves(self):
        ws = self.workers(1, **{"worker.tier.mem.quota": "1MB"})
        self.assertEqual(self.read(ws[0]), self.data)
        self.assertEqual(self.read(ws[0]), self.data)
        c = self.counters(ws[0])
        self.assertGreaterEqual(c["cache_put_errors_total"], 3)
        self.assertEqual(ws[0].read_log().count("cannot cache block"), 1, "logged once")

    def test_ssd_blocks_survive_restart(self):
        ssd = os.path.join(self.tmp, "ssd")
        ws = self.workers(1, **{"worker.tier.mem.quota": "5MB",
                                "worker.tier.ssd.dirs": ssd,
                                "worker.tier.ssd.quota": "64MB"})
        self.assertEqual(self.read(ws[0]), self.data)
        w = ws[0]
        self.assertEqual(w.stop(), 0)
        w.start()
        w.wait_ready()
        self.assertIn("blocks found", w.read_log())
        ufs_before = self.counters(w)["bytes_from_ufs_total"]
        self.assertEqual(ufs_before, 0)
        got = self.read(w)
        self.assertEqual(got, self.data)
        c = self.counters(w)
        self.assertGreater(c["bytes_from_cache_total"], 0, "SSD blocks served after restart")
        self.assertLess(c["bytes_from_ufs_total"], len(self.data))

    def write(self, w, path, data, write_type=None, expect=201):
        qs = f"path={q(path)}" + (f"&write_type={write_type}" if write_type else "")
        status, _, body = request(f"{w.url}/api/v1/data?{qs}", method="PUT", body=data,
                                  timeout=30)
        self.assertEqual(status, expect, body[:300])
        return body

    def test_writes_go_to_the_store_and_the_cache(self):
        ws = self.workers(2)
        data = os.urandom(9 * MiB + 7)
        self.write(ws[0], "/up/new.bin", data)
        with open(os.path.join(self.root, "up", "new.bin"), "rb") as f:
            self.assertEqual(f.read(), data, "CACHE_THROUGH reached the store")

        def cached():
            st = get_json(f"{self.m.url}/api/v1/files/stat?path=/up/new.bin")[1]
            return st["cached_percent"] == 100 and st
        st = wait_for(cached, what="written blocks cached on their owners")
        self.assertEqual(st["length"], len(data))
        # Cached blocks hold data: private files.
        for w in ws:
            for name in os.listdir(w.settings["worker.tier.mem.dir"]):
                mode = os.stat(os.path.join(w.settings["worker.tier.mem.dir"], name)).st_mode
                self.assertEqual(mode & 0o077, 0, name)
        self.assertEqual(self.read(ws[1], "/up/new.bin"), data)
        self.assertEqual(self.read(ws[0], "/up/new.bin"), data)
        self.assertEqual(self.total(ws, "bytes_from_ufs_total"), 0, "first read already a hit")

        self.write(ws[1], "/up/through.bin", b"t" * 100, write_type="THROUGH")
        wait_heartbeats(ws, what="block reports")  # anything cached would be reported
        st = get_json(f"{self.m.url}/api/v1/files/stat?path=/up/through.bin")[1]
        self.assertEqual((st["length"], st["cached_percent"]), (100, 0))
        # Overwrite: new content, new blocks. A worker may serve the old
        # content for worker.metadata_ttl (1 s), never a mix, and then the new.
        self.write(ws[0], "/up/new.bin", b"replaced")
        self.assertEqual(self.read(ws[0], "/up/new.bin"), b"replaced")
        self.assertIn(self.read(ws[1], "/up/new.bin"), (b"replaced", data))
        wait_for(lambda: self.read(ws[1], "/up/new.bin") == b"replaced", timeout=5,
                 what="the new content past worker.metadata_ttl")

    def test_write_errors(self):
        ws = self.workers(1)
        ro = os.path.join(self.tmp, "ro")
        os.makedirs(ro)
        status = request(self.m.url + "/api/v1/mounts", method="POST",
                         body={"path": "/ro", "uri": "file://" + ro, "readonly": True})[0]
        self.assertEqual(status, 201)
        body = self.write(ws[0], "/ro/x", b"x", expect=403)
        self.assertIn(b"read-only", body)
        self.assertEqual(os.listdir(ro), [])
        self.write(ws[0], "/", b"x", expect=400)
        os.makedirs(os.path.join(self.root, "adir"))
        self.write(ws[0], "/adir", b"x", expect=400)
        self.write(ws[0], "/f", b"x", write_type="SOMETIMES", expect=400)
        # A pushed block needs its length up front, and a numeric id.
        host, port = ws[0].address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"PUT /api/v1/blocks/5 HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n")
            reply = sock.recv(200)
        self.assertTrue(reply.startswith(b"HTTP/1.1 411"), reply)
        status, _, body = request(f"{ws[0].url}/api/v1/blocks/x5", method="PUT", body=b"x")
        self.assertEqual(status, 400, body)

    def test_errors(self):
        ws = self.workers(1)
        status, _, body = request(f"{ws[0].url}/api/v1/data?path=/nope")
        self.assertEqual(status, 404, body)
        status, _, body = request(f"{ws[0].url}/api/v1/data?path=/a/../b")
        self.assertEqual(status, 400, body)
        status, _, body = request(f"{ws[0].url}/api/v1/data?path=/big.bin&offset=-1")
        self.assertEqual(status, 400, body)
        status, _, body = request(f"{ws[0].url}/api/v1/data?path=/big.bin&data_id=v2")
        self.assertEqual(status, 400, body)
        self.assertIn(b"'data_id'", body)
        status, _, body = request(f"{ws[0].url}/api/v1/data?path=/")
        self.assertEqual(status, 400, body)
        status, _, body = request(f"{ws[0].url}/api/v1/blocks/xyz?path=/big.bin")
        self.assertEqual(status, 400, body)
        status, _, body = request(f"{ws[0].url}/api/v1/blocks/1?path=/big.bin&data_id=999"
                                  "&offset=0&length=1")
        self.assertEqual(status, 409, body)

    def test_block_ids_above_2_53_stay_exact(self):
        """Ids travel as decimal strings: 2^53 + 1 would come back as 2^53
        from a JSON number. The worker echoes the block id it stored, and
        the master takes it from the heartbeat's block list."""
        ws = self.workers(1)
        big = 9007199254740993
        status, _, body = request(f"{ws[0].url}/api/v1/blocks/{big}", method="PUT",
                                  body=b"x" * 100, headers={"Content-Length": "100"})
        self.assertEqual(status, 201, body)
        self.assertEqual(json.loads(body)["block_id"], str(big))
        wait_for(lambda: get_json(self.m.url + "/api/v1/metrics")[1]["master"]
                 ["cached_blocks"] == 1, what="the master to learn the block")
        self.assertEqual(get_json(self.m.url + "/api/v1/workers")[1]["workers"][0]["id"],
                         get_json(ws[0].url + "/api/v1/worker")[1]["worker_id"])


if __name__ == "__main__":
    main()
