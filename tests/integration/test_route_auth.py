"""Who may call what: config views never show cluster.worker_token, and a
worker's peer block routes (GET/PUT /api/v1/blocks/{id}) serve only callers
with the token, so nobody who merely reaches the port can read blocks by id
or plant bytes that later reads would serve. Workers still pull blocks from
each other with the token."""
import json
import os
import time
import urllib.parse

from harness import ClusterTestCase, get_json, main, request, wait_for

MiB = 1 << 20
TOKEN = "tok-" + "s3cr3t" * 5
INDEX_BITS = 24  # lib/placement.h: block id = data_id << 24 | index


def q(path):
    return urllib.parse.quote(path, safe="")


class RouteAuthTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(self.root)
        self.data = os.urandom(5 * MiB + 77)  # two blocks of 4 MiB
        with open(os.path.join(self.root, "a.bin"), "wb") as f:
            f.write(self.data)
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root,
                                               "cluster.worker_token": TOKEN})

    def workers(self, n):
        ws = [self.cluster.worker(self.m, name=f"w{i}",
                                  settings={"cluster.worker_token": TOKEN})
              for i in range(n)]

        def ready():
            live = get_json(self.m.url + "/api/v1/workers")[1]["workers"]
            return len([w for w in live if w["state"] == "live"]) == n
        wait_for(ready, what=f"{n} live workers")
        time.sleep(0.6)  # one more heartbeat round carries the peer list
        return ws

    def data_id(self):
        status, body = get_json(self.m.url + "/api/v1/internal/file?path=/a.bin",
                                headers={"X-Strata-Worker-Token": TOKEN})
        self.assertEqual(status, 200, body)
        return int(body["data_id"])  # ids travel as decimal strings

    def counters(self, w):
        return get_json(w.url + "/api/v1/metrics")[1]["counters"]

    def cached_blocks(self, w):
        tiers = get_json(w.url + "/api/v1/metrics")[1]["tiers"]
        return sum(t["blocks"] for t in tiers)

    def test_config_views_mask_the_token(self):
        w = self.workers(1)[0]
        for d in (self.m, w):
            status, _, raw = request(d.url + "/api/v1/config")
            self.assertEqual(status, 200)
            self.assertNotIn(TOKEN.encode(), raw, f"{d.name} shows the token")
            keys = {k["key"]: k for k in json.loads(raw)["keys"]}
            self.assertEqual(keys["cluster.worker_token"]["value"], "(set)")
            self.assertEqual(keys["cluster.worker_token"]["type"], "secret")
            self.assertNotIn(TOKEN, d.read_log())
        # A daemon without a token says so, and nothing more.
        other = self.cluster.master(name="plain")
        status, body = get_json(other.url + "/api/v1/config")
        keys = {k["key"]: k for k in body["keys"]}
        self.assertEqual(keys["cluster.worker_token"]["value"], "(unset)")
        # What the token would unlock: mount credentials over internal/file.
        status, body = get_json(self.m.url + "/api/v1/internal/file?path=/a.bin")
        self.assertEqual((status, body["error"]["code"]), (401, "unauthorized"))

    def test_nobody_plants_a_block_without_the_token(self):
        w = self.workers(1)[0]
        block0 = self.data_id() << INDEX_BITS
        evil = b"E" * (4 * MiB)
        url = f"{w.url}/api/v1/blocks/{block0}"
        status, _, body = request(url, method="PUT", body=evil)
        self.assertEqual(status, 401, body)
        self.assertEqual(json.loads(body)["error"]["code"], "unauthorized")
        status, _, body = request(url, method="PUT", body=evil,
                                  headers={"X-Strata-Worker-Token": "wrong"})
        self.assertEqual(status, 403, body)
        self.assertEqual(json.loads(body)["error"]["code"], "forbidden")
        self.assertEqual(self.cached_blocks(w), 0, "a refused PUT stored a block")
        # Reads serve the store's bytes, not the planted ones.
        status, _, got = request(f"{w.url}/api/v1/data?path=/a.bin", timeout=30)
        self.assertEqual(status, 200)
        self.assertEqual(got, self.data)

    def test_nobody_reads_a_block_by_id_without_the_token(self):
        w = self.workers(1)[0]
        data_id = self.data_id()
        url = (f"{w.url}/api/v1/blocks/{data_id << INDEX_BITS}?path={q('/a.bin')}"
               f"&data_id={data_id}&offset=0&length=100")
        status, _, body = request(url)
        self.assertEqual(status, 401, body)
        status, _, body = request(url, headers={"X-Strata-Worker-Token": TOKEN[:-1]})
        self.assertEqual(status, 403, body)
        self.assertEqual(self.counters(w)["bytes_from_ufs_total"], 0,
                         "a refused GET read the store")
        status, _, body = request(url, headers={"X-Strata-Worker-Token": TOKEN})
        self.assertEqual((status, body), (200, self.data[:100]))

    def test_a_worker_with_the_token_pushes_a_block(self):
        w = self.workers(1)[0]
        block1 = self.data_id() << INDEX_BITS | 1
        status, _, body = request(f"{w.url}/api/v1/blocks/{block1}", method="PUT",
                                  body=self.data[4 * MiB:],
                                  headers={"X-Strata-Worker-Token": TOKEN})
        self.assertEqual(status, 201, body)
        self.assertEqual(json.loads(body)["cached"], True)
        self.assertEqual(self.cached_blocks(w), 1)

    def test_reads_across_workers_use_the_token(self):
        ws = self.workers(2)
        for w in ws:
            status, _, got = request(f"{w.url}/api/v1/data?path=/a.bin", timeout=30)
            self.assertEqual(status, 200)
            self.assertEqual(got, self.data)
        peer_bytes = sum(self.counters(w)["bytes_from_peers_total"] for w in ws)
        fallbacks = sum(self.counters(w)["peer_fallbacks_total"] for w in ws)
        self.assertGreater(peer_bytes, 0, "no block came from its owner")
        self.assertEqual(fallbacks, 0, "a peer refused a worker with the token")
        # And a CACHE_THROUGH write pushes its blocks to their owners.
        body = os.urandom(9 * MiB)
        status, _, reply = request(f"{ws[0].url}/api/v1/data?path=/b.bin", method="PUT",
                                   body=body, timeout=30)
        self.assertEqual(status, 201, reply)
        # 2 blocks of a.bin + 3 of b.bin, each on its owner (a refused push
        # would leave a b.bin block of the other worker uncached).
        wait_for(lambda: sum(self.cached_blocks(w) for w in ws) == 5,
                 what="pushed blocks on their owners")


if __name__ == "__main__":
    main()
