"""One store round trip for a cold miss. A user mounts an S3 bucket (a real
s3rver) with the default options and reads, through a worker's S3 gateway,
objects nobody has looked up or listed before. A counting proxy between
strata and s3rver (bench/latency_proxy.py at +0 ms) shows what each read
costs the store: the first GET of a never-seen object is exactly one store
GET and no HEAD (its metadata comes from that GET's own headers), ranged or
not, whichever block the Range starts in; the next GET costs nothing; a key
the store does not have is NoSuchKey and leaves the namespace as it was; a
directory of 50 never-seen objects is listed (REST and ListObjectsV2) with
LISTs only. The master's lazy lookup and load routes refuse bad input
clearly."""
import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse

from harness import (SOURCE_DIR, ClusterTestCase, S3rver, get_json, main, post_json,
                     request, wait_for, wait_heartbeats, _die_with_parent, _live_procs)

BUCKET = "coldmiss"
MiB = 1 << 20


def q(path):
    return urllib.parse.quote(path, safe="")


class CountingProxy:
    """bench/latency_proxy.py with no added latency and its counters on."""

    def __init__(self, root, upstream_port):
        self.log_path = os.path.join(root, "proxy.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-u", os.path.join(SOURCE_DIR, "bench", "latency_proxy.py"),
             "--listen", "127.0.0.1:0", "--upstream", f"127.0.0.1:{upstream_port}",
             "--latency-ms", "0", "--control", "127.0.0.1:0"],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        _live_procs.append(self.proc)

        def ready():
            with open(self.log_path) as f:
                text = f.read()
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
            c = re.search(r"control on 127\.0\.0\.1:(\d+)", text)
            if self.proc.poll() is not None:
                raise AssertionError(f"the proxy exited: {text}")
            return (int(m.group(1)), int(c.group(1))) if m and c else None
        self.port, self.control = wait_for(ready, what="the counting proxy")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def counts(self):
        status, body = get_json(f"http://127.0.0.1:{self.control}/counters")
        assert status == 200, body
        return body

    def reset(self):
        status, _, _ = request(f"http://127.0.0.1:{self.control}/reset", method="POST")
        assert status == 200

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        self.log.close()


class ColdMissTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.s3 = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.s3.stop)
        self.proxy = CountingProxy(self.tmp, self.s3.port)
        self.addCleanup(self.proxy.stop)
        self.bucket = self.s3.client()  # straight to s3rver: not counted
        self.small = os.urandom(16384)
        self.big = os.urandom(3 * MiB + 5)  # 4 blocks of 1 MiB
        self.put("a/small.bin", self.small)
        for name in ("big1.bin", "big2.bin", "big3.bin"):
            self.put("a/" + name, self.big)
        for i in range(50):
            self.put(f"many/o{i:02d}", b"x" * (i + 1))
            self.put(f"many2/o{i:02d}", b"y" * (i + 1))
        self.m = self.cluster.master()
        self.api = self.m.url + "/api/v1"
        # Default options but the block size (so that 3 MiB is 4 blocks).
        status, body = post_json(f"{self.api}/mounts", {
            "path": "/data", "uri": f"s3://{BUCKET}",
            "options": {"s3.endpoint": self.proxy.endpoint, "s3.access_key": "S3RVER",
                        "s3.secret_key": "S3RVER", "s3.path_style": "true",
                        "s3.region": "us-east-1", "block_size": "1MB"}})
        self.assertEqual(status, 201, body)
        self.w = self.cluster.worker(self.m, settings={"worker.metadata_ttl": "60s"})
        wait_for(lambda: len(get_json(self.api + "/workers")[1]["workers"]) == 1,
                 what="worker registered")
        wait_heartbeats([self.w], what="the peer list")
        self.gw = "http://127.0.0.1:" + self.w.settings["worker.s3_port"]

    def put(self, key, data):
        self.bucket.put_object(Bucket=BUCKET, Key=key, Body=data)

    def store_requests(self):
        c = self.proxy.counts()
        return {k: v for k, v in c.items() if v}

    def epoch(self):
        status, body = get_json(f"{self.api}/internal/epoch")
        self.assertEqual(status, 200, body)
        return body["epoch"]

    def get(self, key, headers=None):
        """(status, body, headers) of a GET through the worker's S3 gateway."""
        status, hdrs, body = request(f"{self.gw}/data/{key}", headers=headers or {})
        return status, body, hdrs

    def test_cold_get_is_one_store_get(self):
        self.proxy.reset()
        status, body, hdrs = self.get("a/small.bin")
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(body, self.small)
        self.assertEqual(self.store_requests(), {"GET": 1})
        # The load is in the namespace as a sync would have put it.
        st = get_json(f"{self.api}/files/stat?path={q('/data/a/small.bin')}")[1]
        self.assertEqual(st["length"], len(self.small))
        etag = self.bucket.head_object(Bucket=BUCKET, Key="a/small.bin")["ETag"].strip('"')
        self.assertEqual(st["fingerprint"], etag)
        # Again: from the cache, the store is not asked.
        self.proxy.reset()
        status, body, _ = self.get("a/small.bin")
        self.assertEqual((status, body), (200, self.small))
        self.assertEqual(self.store_requests(), {})

    def test_concurrent_cold_gets_read_the_store_once(self):
        self.put("a/shared.bin", self.small)
        self.proxy.reset()
        results = []
        threads = [threading.Thread(target=lambda: results.append(self.get("a/shared.bin")[:2]))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [(200, self.small)] * 8)
        self.assertEqual(self.store_requests(), {"GET": 1})

    def test_cold_ranged_gets(self):
        # A Range inside a later block: that block alone is fetched.
        self.proxy.reset()
        status, body, hdrs = self.get("a/big1.bin", {"Range": "bytes=1500000-1500099"})
        self.assertEqual(status, 206, body[:300])
        self.assertEqual(body, self.big[1500000:1500100])
        self.assertEqual(hdrs.get("content-range"), f"bytes 1500000-1500099/{len(self.big)}")
        self.assertEqual(self.store_requests(), {"GET": 1})
        self.proxy.reset()
        status, body, _ = self.get("a/big1.bin", {"Range": "bytes=1048576-1048675"})
        self.assertEqual((status, body), (206, self.big[MiB:MiB + 100]))
        self.assertEqual(self.store_requests(), {})
        # A Range inside block 0.
        self.proxy.reset()
        status, body, _ = self.get("a/big2.bin", {"Range": "bytes=100-199"})
        self.assertEqual((status, body), (206, self.big[100:200]))
        self.assertEqual(self.store_requests(), {"GET": 1})
        # A whole multi-block object: block 0 comes with the metadata, the
        # other blocks as usual.
        self.proxy.reset()
        status, body, _ = self.get("a/big2.bin")
        self.assertEqual((status, body == self.big), (200, True))
        self.assertEqual(self.store_requests(), {"GET": 3})
        # Past the end: 416 InvalidRange, as for a known object.
        status, body, hdrs = self.get("a/big3.bin", {"Range": "bytes=9000000-"})
        self.assertEqual(status, 416, body[:300])
        self.assertIn(b"InvalidRange", body)
        self.assertEqual(hdrs.get("content-range"), f"bytes */{len(self.big)}")

    def test_rest_data_cold_read(self):
        # The worker's REST data reads share the cold path.
        self.proxy.reset()
        status, _, body = request(f"{self.w.url}/api/v1/data?path={q('/data/a/big3.bin')}"
                                  f"&offset={2 * MiB + 10}&length=1000")
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(body, self.big[2 * MiB + 10:2 * MiB + 1010])
        self.assertEqual(self.store_requests(), {"GET": 1})
        status, _, body = request(f"{self.w.url}/api/v1/data?path={q('/data/a/nope')}")
        self.assertEqual(status, 404, body[:300])
        status, _, body = request(f"{self.w.url}/api/v1/data?path={q('/data/many')}")
        self.assertEqual(status, 400, body[:300])
        self.assertIn(b"directory", body)

    def test_missing_key_is_nosuchkey_and_records_nothing(self):
        before = self.epoch()
        self.proxy.reset()
        status, body, _ = self.get("a/nope.bin")
        self.assertEqual(status, 404, body[:300])
        self.assertIn(b"NoSuchKey", body)
        counts = self.store_requests()
        self.assertEqual(counts.get("GET"), 1, counts)
        self.assertNotIn("HEAD", counts)
        self.assertEqual(self.epoch(), before)  # nothing journaled

    def test_listing_loads_children_with_lists_only(self):
        # REST: a directory nobody listed, under a mount nobody listed.
        self.proxy.reset()
        status, body = get_json(f"{self.api}/files?path={q('/data/many')}&limit=1000")
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["entries"]), 50)
        self.assertEqual(set(self.store_requests()), {"LIST"})
        # S3 ListObjectsV2 through the gateway.
        self.proxy.reset()
        status, _, body = request(f"{self.gw}/data?list-type=2&prefix=many2/")
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(body.count(b"<Key>"), 50)
        self.assertEqual(set(self.store_requests()), {"LIST"})
        # The children are loaded: reading one asks the store for its data only.
        self.proxy.reset()
        status, body, _ = self.get("many2/o07")
        self.assertEqual((status, body), (200, b"y" * 8))
        self.assertEqual(self.store_requests(), {"GET": 1})

    def test_lazy_routes(self):
        # A lazy lookup of an unknown file: 404 not_loaded with where to read it.
        self.proxy.reset()
        status, body = get_json(f"{self.api}/internal/file?path={q('/data/a/small.bin')}&lazy=1")
        self.assertEqual(status, 404, body)
        self.assertEqual(body["error"]["code"], "not_loaded")
        self.assertEqual(body["ufs_path"], "a/small.bin")
        self.assertEqual(body["data_id"], "0")
        self.assertEqual(body["mount"]["path"], "/data")
        self.assertEqual(self.store_requests(), {})
        with self.subTest("lazy must be a boolean"):
            status, body = get_json(f"{self.api}/internal/file?path=%2Fdata%2Fx&lazy=perhaps")
            self.assertEqual(status, 400, body)
            self.assertIn("'lazy'", body["error"]["message"])
        etag = self.bucket.head_object(Bucket=BUCKET, Key="a/small.bin")["ETag"].strip('"')
        load = {"path": "/data/a/small.bin", "length": 16384, "mtime_ms": 1700000000000,
                "fingerprint": etag}
        for field, bad in (("path", 7), ("path", "relative"), ("length", -1),
                           ("length", "many"), ("mtime_ms", None), ("fingerprint", ""),
                           ("fingerprint", "f" * 200), ("etag", "other")):
            with self.subTest(field=field, bad=bad):
                body = dict(load)
                if bad is None:
                    del body[field]
                else:
                    body[field] = bad
                status, reply = post_json(f"{self.api}/internal/file/loaded", body)
                self.assertEqual(status, 400, reply)
                self.assertIn(field, reply["error"]["message"])
        status, reply = post_json(f"{self.api}/internal/file/loaded",
                                  dict(load, path="/elsewhere/f"))
        self.assertEqual(status, 400, reply)
        self.assertEqual(reply["error"]["code"], "no_mount")
        status, reply = post_json(f"{self.api}/internal/file/loaded", dict(load, path="/data"))
        self.assertEqual(status, 400, reply)
        # A load: recorded once; the same load again writes nothing.
        before = self.epoch()
        status, first = post_json(f"{self.api}/internal/file/loaded", load)
        self.assertEqual(status, 200, first)
        self.assertNotEqual(first["data_id"], "0")
        self.assertEqual(first["length"], 16384)
        mid = self.epoch()
        self.assertGreater(mid, before)
        status, again = post_json(f"{self.api}/internal/file/loaded", load)
        self.assertEqual(status, 200, again)
        self.assertEqual(again["data_id"], first["data_id"])
        self.assertEqual(self.epoch(), mid)
        # Another fingerprint: the store's answer wins, as a sync's would.
        status, other = post_json(f"{self.api}/internal/file/loaded",
                                  dict(load, fingerprint="abc", length=5))
        self.assertEqual(status, 200, other)
        self.assertNotEqual(other["data_id"], first["data_id"])
        self.assertEqual(other["length"], 5)
        # Known now: the lazy lookup answers it (no store call).
        self.proxy.reset()
        status, body = get_json(f"{self.api}/internal/file?path={q('/data/a/small.bin')}&lazy=1")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["data_id"], other["data_id"])
        self.assertEqual(self.store_requests(), {})
        # Under a freshly listed directory the listing vouches: a lazy
        # lookup is a normal one (the store is asked by name, as before).
        get_json(f"{self.api}/files?path={q('/data/many')}")
        self.proxy.reset()
        status, body = get_json(f"{self.api}/internal/file?path={q('/data/many/none')}&lazy=1")
        self.assertEqual(status, 404, body)
        self.assertEqual(body["error"]["code"], "not_found")
        self.assertEqual(self.store_requests().get("HEAD"), 1)
        status, body = get_json(f"{self.api}/internal/file?path={q('/data/many/o03')}&lazy=1")
        self.assertEqual((status, body["length"]), (200, 4))
        # A directory cannot be loaded as a file.
        status, reply = post_json(f"{self.api}/internal/file/loaded",
                                  dict(load, path="/data/many"))
        self.assertEqual(status, 400, reply)
        self.assertIn("directory", reply["error"]["message"])


if __name__ == "__main__":
    main()
