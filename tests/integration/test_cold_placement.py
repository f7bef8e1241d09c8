"""Cold loads land on the worker that read them. A user mounts an S3 bucket
(a real s3rver) on a cluster of three workers and GETs, through one
worker's S3 gateway, objects nobody has read before. The master names
each loaded file's content so that this worker owns the block it read
(rendezvous placement), so the worker keeps every block it read from the
store and pushes none to a peer; the blocks sit in its tiers alone. Reads
of the same objects through another worker's gateway are served from the
first worker's cache (the store is not read again). A master that is told
nothing about the reader (an old worker's request) still records the
load; bad worker_id/index fields are refused by name."""
import os
import urllib.parse

from harness import (ClusterTestCase, S3rver, get_json, main, post_json, request, wait_for,
                     wait_heartbeats)

BUCKET = "coldplace"
KiB = 1 << 10
MiB = 1 << 20
N = 24


def q(path):
    return urllib.parse.quote(path, safe="")


class ColdPlacementTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.s3 = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.s3.stop)
        self.bucket = self.s3.client()
        self.data = {}
        for i in range(N):
            key = f"cold/o{i:02d}"
            self.data[key] = os.urandom(256 * KiB + i)
            self.bucket.put_object(Bucket=BUCKET, Key=key, Body=self.data[key])
        self.m = self.cluster.master()
        self.api = self.m.url + "/api/v1"
        status, body = post_json(f"{self.api}/mounts", {
            "path": "/data", "uri": f"s3://{BUCKET}",
            "options": {"s3.endpoint": self.s3.endpoint, "s3.access_key": "S3RVER",
                        "s3.secret_key": "S3RVER", "s3.path_style": "true",
                        "s3.region": "us-east-1", "block_size": "1MB"}})
        self.assertEqual(status, 201, body)
        self.ws = [self.cluster.worker(self.m, name=f"w{i}",
                                       settings={"worker.metadata_ttl": "60s"})
                   for i in range(3)]

        def live():
            ws = get_json(self.api + "/workers")[1]["workers"]
            return len([w for w in ws if w["state"] == "live"]) == 3
        wait_for(live, what="3 live workers")
        wait_heartbeats(self.ws, what="the peer list")

    def counters(self, w):
        return get_json(w.url + "/api/v1/metrics")[1]["counters"]

    def blocks(self, w):
        tiers = get_json(w.url + "/api/v1/metrics")[1]["tiers"]
        return sum(t["blocks"] for t in tiers)

    def get(self, w, key):
        status, _, body = request(
            f"http://127.0.0.1:{w.settings['worker.s3_port']}/data/{key}", timeout=30)
        self.assertEqual(status, 200, body[:300])
        return body

    def test_cold_blocks_stay_on_the_reader(self):
        a, others = self.ws[0], self.ws[1:]
        for key, data in self.data.items():
            self.assertEqual(self.get(a, key), data)
        c = self.counters(a)
        self.assertEqual(c["block_misses_total"], N)  # each object read from the store once
        self.assertEqual(c["blocks_pushed_total"], 0)  # none owned by a peer
        self.assertEqual(self.blocks(a), N)
        for w in others:
            self.assertEqual(self.blocks(w), 0)
            self.assertEqual(self.counters(w)["block_misses_total"], 0)
        # Through another worker's gateway: served from a's cache.
        b = others[0]
        for key, data in self.data.items():
            self.assertEqual(self.get(b, key), data)
        cb = self.counters(b)
        self.assertEqual(cb["block_misses_total"], 0)
        self.assertEqual(cb["bytes_from_ufs_total"], 0)
        self.assertEqual(cb["bytes_from_peers_total"], sum(len(d) for d in self.data.values()))
        self.assertEqual(self.counters(a)["block_misses_total"], N)


    def test_load_fields(self):
        etag = self.bucket.head_object(Bucket=BUCKET, Key="cold/o01")["ETag"].strip('"')
        load = {"path": "/data/cold/o01", "length": len(self.data["cold/o01"]),
                "mtime_ms": 1700000000000, "fingerprint": etag}
        for body, field in ((dict(load, worker_id="5x"), "worker_id"),
                            (dict(load, worker_id="x"), "worker_id"),
                            (dict(load, worker_id="5"), "index"),
                            (dict(load, worker_id="5", index="-1"), "index"),
                            (dict(load, worker_id="5", index=str(1 << 24)), "index")):
            with self.subTest(body=body):
                status, reply = post_json(f"{self.api}/internal/file/loaded", body)
                self.assertEqual(status, 400, reply)
                self.assertIn(f"'{field}'", reply["error"]["message"])
        # Without them (an older worker), or from a worker the master does
        # not know: recorded all the same.
        status, first = post_json(f"{self.api}/internal/file/loaded", load)
        self.assertEqual(status, 200, first)
        self.assertNotEqual(first["data_id"], "0")
        status, other = post_json(f"{self.api}/internal/file/loaded",
                                  dict(load, path="/data/cold/o02", worker_id="99999",
                                       index="0", fingerprint="f2"))
        self.assertEqual(status, 200, other)
        self.assertNotIn(other["data_id"], ("0", first["data_id"]))


if __name__ == "__main__":
    main()
