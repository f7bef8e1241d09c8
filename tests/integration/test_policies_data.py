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
        n = self.stat("/s3/t/free")
        self.assertEqual((n["ttl_ms"], n["ttl_action"], n["length"]), (0, "", len(data)))
        wait_for(lambda: self.stat("/s3/t/free")["cached_percent"] == 0,
                 what="the block map to forget the blocks")
        self.assertIn("dropped", self.events(self.lead, "ttl_fired", "/s3/t/free")[0]["detail"])
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


if __name__ == "__main__":
    main()
