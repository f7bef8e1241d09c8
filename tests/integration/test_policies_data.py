"""Policies acting on data, with real workers and a real s3rver as the store.

TTL: an admin gives a cached file a TTL that frees: within one check
interval of its expiry every worker drops its blocks (the worker's cached
bytes go to 0) while the file stays and still reads, from the store. A TTL
that deletes removes the object from strata and from s3rver. A leader
SIGKILLed after it journaled a delete but while the store delete is in
flight: the new leader finishes it, once.

Pin with a medium: a file pinned on MEM is placed in the MEM tier (moved up
from SSD when it sat there), stays there under eviction pressure from other
reads, and is loaded there when it was not cached. A pin that needs more than
the medium's capacity across live workers is refused whole with 409, saying
how much is needed and available."""
import http.client
import http.server
import json
import os
import threading
import time
import urllib.parse

from harness import (ClusterTestCase, S3rver, get_json, main, post_json, request, wait_for,
                     wait_heartbeats, wait_leader)

BUCKET = "strata-policies"
MiB = 1 << 20


def q(path):
    return urllib.parse.quote(path, safe="")


def put_json(url, body):
    status, _, data = request(url, method="PUT", body=body)
    return status, (json.loads(data) if data else None)


class StallingProxy:
    """An HTTP proxy in front of s3rver that can hold DELETE requests: the
    sender waits (as on a slow store) until release(); held requests are
    then answered 503 without reaching the store, so only DELETEs sent
    after release() delete anything. Counts what it forwarded."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.hold = threading.Event()
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.held = 0
        self.forwarded = []  # (method, path)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def relay(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                if self.command == "DELETE" and proxy.hold.is_set():
                    with proxy.lock:
                        proxy.held += 1
                    proxy.released.wait(60)
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    return
                with proxy.lock:
                    proxy.forwarded.append((self.command, self.path))
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("connection", "keep-alive")}
                c.request(self.command, self.path, body=body, headers=headers)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length",
                                         "keep-alive"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                c.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def deletes(self, key):
        with self.lock:
            return [p for m, p in self.forwarded if m == "DELETE" and key in p]

    def stop(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class DataPoliciesTest(ClusterTestCase):
    def start(self, masters=1, workers=1, settings=None, worker_settings=None, endpoint=None):
        if not hasattr(self, "s3"):
            self.s3 = S3rver(self.tmp, BUCKET).start()
            self.addCleanup(self.s3.stop)
            self.bucket = self.s3.client()
        s = {"master.mount.block_size": "1MiB", "master.ttl_check_interval": "500ms"}
        s.update(settings or {})
        self.ms = [self.cluster.master(settings=s)] if masters == 1 else \
            self.cluster.masters(masters, settings=s)
        self.lead = wait_leader(self.ms) if masters > 1 else self.ms[0]
        self.ws = []
        for i in range(workers):
            ws = dict(worker_settings or {})
            for tier in ("ssd", "hdd"):
                if ws.get(f"worker.tier.{tier}.dirs") == "auto":
                    ws[f"worker.tier.{tier}.dirs"] = os.path.join(self.tmp, f"w{i}-{tier}")
            self.ws.append(self.cluster.worker(self.ms, name=f"worker{i}", settings=ws))
        wait_for(lambda: len(get_json(self.lead.url + "/api/v1/workers")[1]["workers"]) ==
                 workers, what="the workers to register")
        wait_heartbeats(self.ws)
        status, body = post_json(self.lead.url + "/api/v1/mounts", {
            "path": "/s3", "uri": f"s3://{BUCKET}/data",
            "options": {"s3.endpoint": endpoint or self.s3.endpoint,
                        "s3.access_key": S3rver.ACCESS_KEY, "s3.secret_key": S3rver.SECRET_KEY,
                        "s3.path_style": "true", "s3.region": "us-east-1"}})
        self.assertEqual(status, 201, body)

    @property
    def api(self):
        return self.lead.url + "/api/v1"

    def put_object(self, key, data):
        self.bucket.put_object(Bucket=BUCKET, Key="data/" + key, Body=data)

    def stat(self, path, url=None):
        status, n = get_json(f"{url or self.api}/files/stat?path={q(path)}")
        return n if status == 200 else None

    def read(self, path, w=None):
        status, _, body = request(f"{(w or self.ws[0]).url}/api/v1/data?path={q(path)}")
        self.assertEqual(status, 200, body[:200])
        return body

    def tiers(self, w):
        return {t["name"]: t for t in get_json(w.url + "/api/v1/worker")[1]["tiers"]}

    def cached_bytes(self):
        return sum(t["used_bytes"] for w in self.ws for t in self.tiers(w).values())

    def counters(self, w):
        return get_json(w.url + "/api/v1/metrics")[1]["counters"]

    def events(self, m, type_, path):
        status, doc = get_json(m.url + "/api/v1/events")
        self.assertEqual(status, 200, doc)
        return [e for e in doc["events"] if e["type"] == type_ and e["path"] == path]

    # ---- TTL ----

    def test_ttl_free_drops_blocks_on_every_worker_and_keeps_the_file(self):
        self.start(workers=2)
        data = os.urandom(3 * MiB + 5)
        self.put_object("t/free", data)
        self.assertEqual(self.read("/s3/t/free"), data)
        # Blocks spread over both workers by placement; all of them cached.
        wait_for(lambda: self.stat("/s3/t/free")["cached_percent"] == 100,
                 what="the blocks in the block map")
        self.assertEqual(self.cached_bytes(), len(data))
        status, r = put_json(f"{self.api}/files/ttl",
                             {"path": "/s3/t/free", "ttl_ms": 1000, "action": "free"})
        self.assertEqual(status, 200, r)
        expiry = r["inode"]["ttl_expiry_ms"]
        wait_for(lambda: self.cached_bytes() == 0, timeout=10, interval=0.02,
                 what="the workers to drop the blocks")
        dropped = time.time() * 1000
        self.assertGreaterEqual(dropped, expiry, "dropped before the TTL ran out")
        self.assertLess(dropped - expiry, 500 + 1500, "not within one check interval")
        # The firing is journaled right after the drop.
        n = wait_for(lambda: (lambda n: n if n["ttl_ms"] == 0 else None)(
            self.stat("/s3/t/free")), what="the TTL to be cleared")
        self.assertEqual((n["ttl_ms"], n["ttl_action"], n["length"]), (0, "", len(data)))
        wait_for(lambda: self.stat("/s3/t/free")["cached_percent"] == 0,
                 what="the block map to forget the blocks")
        self.assertIn("dropped", self.events(self.lead, "ttl_fired", "/s3/t/free")[0]["detail"])
        mm = get_json(f"{self.api}/metrics")[1]["master"]
        self.assertEqual((mm["ttl_fired_free_total"], mm["ttl_dropped_files_total"],
                          mm["ttl_errors_total"]), (1, 1, 0))
        _, _, prom = request(self.lead.url + "/metrics")
        self.assertIn(b'strata_master_ttl_fired_total{action="free"} 1\n', prom)
        # Still readable: from the store again.
        ufs0 = sum(self.counters(w)["bytes_from_ufs_total"] for w in self.ws)
        self.assertEqual(self.read("/s3/t/free", self.ws[1]), data)
        ufs1 = sum(self.counters(w)["bytes_from_ufs_total"] for w in self.ws)
        self.assertEqual(ufs1 - ufs0, len(data))

    def test_ttl_delete_removes_from_strata_and_s3rver(self):
        self.start()
        self.put_object("t/gone", b"g" * 1000)
        self.assertEqual(self.read("/s3/t/gone"), b"g" * 1000)
        status, r = put_json(f"{self.api}/files/ttl", {"path": "/s3/t/gone", "ttl_ms": 800})
        self.assertEqual((status, r["inode"]["ttl_action"]), (200, "delete"), r)
        wait_for(lambda: self.stat("/s3/t/gone") is None, timeout=10, what="the TTL delete")
        keys = [o["Key"] for o in self.bucket.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        self.assertNotIn("data/t/gone", keys)
        # The worker's metadata cache learns it within its TTL.
        wait_for(lambda: request(f"{self.ws[0].url}/api/v1/data?path={q('/s3/t/gone')}")[0] ==
                 404, timeout=10, what="the worker to answer 404")

    def test_leader_killed_between_decision_and_store_delete(self):
        self.s3 = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.s3.stop)
        self.bucket = self.s3.client()
        proxy = StallingProxy(self.s3.port)
        self.addCleanup(proxy.stop)
        self.start(masters=3, workers=1, endpoint=proxy.endpoint)
        self.put_object("ha/victim", b"v" * 100)
        self.assertIsNotNone(self.stat("/s3/ha/victim"))
        proxy.hold.set()  # the store "hangs" on deletes
        old = self.lead
        status, r = put_json(f"{self.api}/files/ttl", {"path": "/s3/ha/victim", "ttl_ms": 500})
        self.assertEqual(status, 200, r)
        # The decision is journaled (every master sees the mark) and the
        # leader's store delete is in flight.
        followers = [m for m in self.ms if m is not old]
        wait_for(lambda: all((self.stat("/s3/ha/victim", m.url + "/api/v1") or {})
                             .get("ttl_fired_ms", 0) > 0 for m in followers) and proxy.held > 0,
                 timeout=15, what="the firing to be journaled with its delete held")
        old.kill()
        proxy.hold.clear()
        proxy.released.set()  # the dead leader's delete never reaches the store
        new = wait_leader(self.ms, exclude=(old,), timeout=20)
        wait_for(lambda: self.stat("/s3/ha/victim", new.url + "/api/v1") is None, timeout=20,
                 what="the new leader to finish the delete")
        keys = [o["Key"] for o in self.bucket.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        self.assertNotIn("data/ha/victim", keys)
        self.assertEqual(len(proxy.deletes("ha/victim")), 1, proxy.forwarded)
        time.sleep(1.5)  # three more passes: nothing fires or deletes again
        self.assertEqual(len(proxy.deletes("ha/victim")), 1, proxy.forwarded)
        for m in followers:
            self.assertEqual(len(self.events(m, "ttl_fired", "/s3/ha/victim")), 1, m.name)
        self.assertEqual(len(self.events(new, "ttl_deleted", "/s3/ha/victim")), 1)

    # ---- pin with a medium ----

    def block_tiers(self, path):
        n = self.stat(path)
        return [l["tier"] for b in n["blocks"] for l in b["locations"]]

    def wait_job(self, jid):
        def ended():
            j = get_json(f"{self.api}/jobs/{jid}")[1]["job"]
            return j if j["state"] not in ("queued", "running") else None
        return wait_for(ended, timeout=60, what=f"job {jid}")

    def test_pin_on_mem_moves_blocks_up_and_keeps_them_there_under_pressure(self):
        self.start(worker_settings={"worker.tier.mem.quota": "4MiB",
                                    "worker.tier.ssd.dirs": "auto",
                                    "worker.tier.ssd.quota": "64MiB",
                                    "worker.metadata_ttl": "300ms"})
        w = self.ws[0]
        keep = os.urandom(2 * MiB)
        self.put_object("p/keep", keep)
        for i in range(24):
            self.put_object(f"p/other{i}", os.urandom(MiB))
        rounds = iter(range(3))

        def pressure():
            """8 MiB never read before: new blocks through the 4 MiB MEM."""
            r = next(rounds)
            for i in range(8 * r, 8 * r + 8):
                self.read(f"/s3/p/other{i}")

        # Read once, then pushed down to SSD by other reads.
        self.assertEqual(self.read("/s3/p/keep"), keep)
        pressure()
        wait_for(lambda: self.block_tiers("/s3/p/keep") == ["SSD", "SSD"],
                 what="the file's blocks to be demoted to SSD")
        # Pinned on MEM: its load job moves the blocks up.
        status, r = put_json(f"{self.api}/files/pin", {"path": "/s3/p/keep", "medium": "MEM"})
        self.assertEqual(status, 200, r)
        j = self.wait_job(r["load_job"])
        self.assertEqual((j["state"], j["medium"]), ("done", "MEM"), j)
        wait_for(lambda: self.block_tiers("/s3/p/keep") == ["MEM", "MEM"],
                 what="the pinned blocks in MEM")
        self.assertEqual(self.counters(w)["promotions_total"], 2)
        # Pressure again: the other files churn through MEM, the pinned one stays.
        ev0 = self.counters(w)["evictions_total"] + self.counters(w)["demotions_total"]
        pressure()
        c = self.counters(w)
        # 8 new blocks through MEM with 2 of its 4 MiB pinned: 6 moved down.
        self.assertGreaterEqual(c["evictions_total"] + c["demotions_total"], ev0 + 6,
                                "no eviction pressure")
        time.sleep(0.5)  # a heartbeat: the block map is current
        self.assertEqual(self.block_tiers("/s3/p/keep"), ["MEM", "MEM"])
        c0 = self.counters(w)
        self.assertEqual(self.read("/s3/p/keep"), keep)
        c1 = self.counters(w)
        self.assertEqual((c1["block_hits_total"] - c0["block_hits_total"],
                          c1["block_misses_total"] - c0["block_misses_total"]), (2, 0))
        # A file pinned before it was ever read: loaded straight into MEM.
        fresh = os.urandom(MiB)
        self.put_object("p/fresh", fresh)
        self.assertIsNotNone(self.stat("/s3/p/fresh"))
        status, r = put_json(f"{self.api}/files/pin", {"path": "/s3/p/fresh", "medium": "MEM"})
        self.assertEqual(status, 200, r)
        self.assertEqual(self.wait_job(r["load_job"])["state"], "done")
        wait_for(lambda: self.block_tiers("/s3/p/fresh") == ["MEM"], what="fresh in MEM")
        pressure()
        time.sleep(0.5)
        self.assertEqual(self.block_tiers("/s3/p/fresh"), ["MEM"])
        self.assertEqual(self.block_tiers("/s3/p/keep"), ["MEM", "MEM"])

    def test_pin_beyond_capacity_is_refused_whole(self):
        self.start(workers=2, worker_settings={"worker.tier.mem.quota": "4MiB"})
        for i in range(3):
            self.put_object(f"big/f{i}", b"b" * (3 * MiB))
        status, l = get_json(f"{self.api}/files?path=/s3/big")
        self.assertEqual((status, len(l["entries"])), (200, 3), l)
        for medium in ("MEM", "SSD", None):
            body = {"path": "/s3/big", "recursive": True}
            if medium:
                body["medium"] = medium
            status, r = put_json(f"{self.api}/files/pin", body)
            self.assertEqual(status, 409, (medium, r))
            msg = r["error"]["message"]
            self.assertIn("needs 9.0 MiB (9437184 bytes)", msg)
            self.assertIn("8.0 MiB (8388608 bytes) is available across 2 live workers", msg)
        for i in range(3):
            self.assertFalse(self.stat(f"/s3/big/f{i}")["pinned"])
        self.assertFalse(self.stat("/s3/big")["pinned"])
        self.assertEqual(get_json(f"{self.api}/jobs")[1]["jobs"], [], "a job started")
        status, ev = get_json(f"{self.api}/events")
        self.assertNotIn("pin", [e["type"] for e in ev["events"]])
        # What fits is pinned; then the rest no longer fits beside it.
        for i in range(2):
            status, r = put_json(f"{self.api}/files/pin",
                                 {"path": f"/s3/big/f{i}", "medium": "MEM"})
            self.assertEqual(status, 200, r)
            self.assertEqual(self.wait_job(r["load_job"])["state"], "done")
        status, r = put_json(f"{self.api}/files/pin", {"path": "/s3/big/f2", "medium": "MEM"})
        self.assertEqual(status, 409, r)
        self.assertIn("pinned by other files 6.0 MiB", r["error"]["message"])
        self.assertFalse(self.stat("/s3/big/f2")["pinned"])
        # The CLI says the same and exits non-zero.
        out = self.cluster.cli("--master", self.lead.address, "fs", "pin", "-R", "/s3/big")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("available", out.stderr)

    def test_load_medium_is_checked_by_the_worker(self):
        self.start()
        status, _, body = request(f"{self.ws[0].url}/api/v1/internal/load", method="POST",
                                  body={"path": "/s3/x", "data_id": "1", "offset": "0",
                                        "length": "1", "medium": "TAPE"})
        self.assertEqual(status, 400, body)
        self.assertIn(b"medium", body)


if __name__ == "__main__":
    main()
