"""Metadata freshness off the hot path, on real daemons and a real s3rver
(docs/namespace.md, "Freshness"). With a short sync interval (2 s):

- a revalidation that finds nothing changed writes nothing to Raft: the
  applied index and the mount epochs stay put over several intervals while
  reads go on, and the store sees about one LIST of the directory per half
  interval, not a HEAD per file (counted by a proxy in front of s3rver);
- an object overwritten in s3rver directly (behind strata's back) is seen
  within the interval, never served half old, half new, and moves the epoch
  of its mount only, not that of another mount;
- a file created through strata is seen by the next read (workers cache no
  "not found"), and a write through strata by the next read on every worker;
- a store that is down is counted (revalidate errors, lookups behind) and
  metadata nobody could check for an interval is not served;
- a follower does not revalidate; after a failover the new leader does.
"""
import re
import socket
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from harness import (ClusterTestCase, S3rver, get_json, main, post_json, request, wait_for,
                     wait_heartbeats, wait_leader)

BUCKET = "fresh-it"
INTERVAL = 2.0  # seconds, the mounts' sync_interval
REQ = re.compile(rb"(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP/1\.1\r\n")


def q(path):
    return urllib.parse.quote(path, safe="")


class CountingProxy:
    """A TCP proxy in front of s3rver that counts the HTTP requests passing
    through it: ("LIST"|"HEAD"|"GET"|...) -> count. What strata asks of the
    store, counted outside strata."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.lock = threading.Lock()
        self.counts = {}
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.closing = False
        self.list_delay = 0.0  # seconds each LIST request is held back
        threading.Thread(target=self._accept, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return dict(self.counts)

    def _count(self, method, target):
        kind = method.decode()
        if kind == "GET" and b"list-type=2" in target:
            kind = "LIST"
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
        return kind

    def _accept(self):
        while not self.closing:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream))
            except OSError:
                c.close()
                continue
            threading.Thread(target=self._pump, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False), daemon=True).start()

    def _pump(self, src, dst, requests):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if requests:
                    buf += data
                    end = 0
                    listing = False
                    for m in REQ.finditer(buf):
                        listing |= self._count(m.group(1), m.group(2)) == "LIST"
                        end = m.end()
                    buf = buf[end:] if end else buf[-8192:]
                    if listing and self.list_delay:
                        time.sleep(self.list_delay)  # a store slow to list
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closing = True
        self.sock.close()


def prom(url, name):
    """One value of a master's Prometheus text (/metrics)."""
    status, _, body = request(url + "/metrics")
    assert status == 200, body
    m = re.search(rb"^" + re.escape(name.encode()) + rb" (\d+)$", body, re.M)
    assert m, f"{name} missing from {url}/metrics"
    return int(m.group(1))


class FreshnessTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.s3 = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.s3.stop)
        self.proxy = CountingProxy(self.s3.port)
        self.addCleanup(self.proxy.close)
        self.bucket = self.s3.client()

    def start(self, masters=1, worker=None):
        settings = {"master.mount.sync_interval": f"{int(INTERVAL)}s"}
        if masters == 1:
            self.ms = [self.cluster.master(settings=settings)]
            self.m = self.ms[0]
        else:
            self.ms = self.cluster.masters(masters, settings=settings)
            self.m = wait_leader(self.ms)
        self.w = self.cluster.worker(self.ms, settings={"worker.metadata_ttl": "1s",
                                                        **(worker or {})})
        wait_for(lambda: get_json(self.m.url + "/api/v1/workers")[1]["workers"],
                 what="the worker to register")

    def mount(self, path, prefix, **options):
        status, body = post_json(f"{self.m.url}/api/v1/mounts", {
            "path": path, "uri": f"s3://{BUCKET}/{prefix}",
            "options": {"s3.endpoint": self.proxy.endpoint, "s3.access_key": S3rver.ACCESS_KEY,
                        "s3.secret_key": S3rver.SECRET_KEY, "s3.path_style": "true",
                        "s3.region": "us-east-1", **options}})
        self.assertEqual(status, 201, body)

    def put_object(self, key, data):
        self.bucket.put_object(Bucket=BUCKET, Key=key, Body=data)

    def cat(self, path, worker=None):
        w = worker or self.w
        status, _, body = request(f"{w.url}/api/v1/data?path={q(path)}")
        self.assertEqual(status, 200, body[:300])
        return body

    def load(self, prefix, files):
        """Puts files (name -> bytes) under a/PREFIX/ in the store, mounts
        the bucket's a/ at /a and reads each file twice through the worker
        (its data API): known and cached."""
        for name, data in files.items():
            self.put_object(f"a/{prefix}/{name}", data)
        self.mount("/a", "a")
        for _ in range(2):
            for name, data in files.items():
                self.assertEqual(self.cat(f"/a/{prefix}/{name}"), data)

    def epochs(self):
        status, body = get_json(self.m.url + "/api/v1/internal/epoch")
        self.assertEqual(status, 200, body)
        return body

    def applied(self):
        return self.epochs()["epoch"]

    def test_no_change_no_raft_entry_and_one_list_per_directory(self):
        self.start()
        files = {f"f{i:02d}": f"content {i}\n".encode() * (i + 1) for i in range(50)}
        self.load("dir", files)
        # Past the first interval, then several more with reads going on.
        time.sleep(INTERVAL * 1.5)
        applied, epochs = self.applied(), self.epochs()["mounts"]
        self.assertIsInstance(epochs["/a"], str)
        before = self.proxy.snapshot()
        lists0 = prom(self.m.url, "strata_master_sync_lists_total")
        end = time.monotonic() + INTERVAL * 3
        while time.monotonic() < end:
            for name, data in files.items():
                self.assertEqual(self.cat(f"/a/dir/{name}"), data)
            time.sleep(0.2)
        after = self.proxy.snapshot()
        self.assertEqual(self.applied(), applied, "a sync that changed nothing wrote to Raft")
        self.assertEqual(self.epochs()["mounts"], epochs)
        lists = after.get("LIST", 0) - before.get("LIST", 0)
        heads = after.get("HEAD", 0) - before.get("HEAD", 0)
        # About one LIST per half interval (6 s: ~6), never a HEAD per file
        # (150 over these three intervals). A few HEADs are the designed
        # fallback when the background pass runs late on a starved machine.
        self.assertGreaterEqual(lists, 2, after)
        self.assertLessEqual(lists, 15, after)
        self.assertLessEqual(heads, 10, (after, request(self.m.url + "/metrics")[2]))
        self.assertGreaterEqual(prom(self.m.url, "strata_master_sync_lists_total") - lists0, 2)
        self.assertEqual(prom(self.m.url, "strata_master_sync_changes_total"), 0)

    def test_change_behind_strata_is_seen_within_the_interval_on_its_mount_only(self):
        self.start()
        old, new = b"old version\n" * 100, b"NEW!" * 77
        self.put_object("a/dir/x.txt", old)
        for i in range(4):
            self.put_object(f"a/dir/other{i}", b"o")
        self.put_object("b/y.txt", b"why")
        self.mount("/a", "a")
        self.mount("/b", "b")
        for _ in range(2):
            self.assertEqual(self.cat("/a/dir/x.txt"), old)
            self.assertEqual(self.cat("/b/y.txt"), b"why")
            for i in range(4):
                self.cat(f"/a/dir/other{i}")
        time.sleep(INTERVAL)
        epochs = self.epochs()["mounts"]
        self.put_object("a/dir/x.txt", new)
        changed_at = time.monotonic()
        seen = None
        while seen is None:
            body = self.cat("/a/dir/x.txt")
            self.assertIn(body, (old, new), "served neither the old nor the new file")
            if body == new:
                seen = time.monotonic() - changed_at
            self.assertLess(time.monotonic() - changed_at, INTERVAL * 3,
                            "the change behind strata's back is not seen")
            time.sleep(0.05)
        self.assertLessEqual(seen, INTERVAL + 2.0)
        after = self.epochs()["mounts"]
        self.assertGreater(int(after["/a"]), int(epochs["/a"]))
        self.assertEqual(after["/b"], epochs["/b"])
        self.assertGreaterEqual(prom(self.m.url, "strata_master_sync_changes_total"), 1)
        # Removed behind strata's back: gone within the interval too.
        self.bucket.delete_object(Bucket=BUCKET, Key="a/dir/x.txt")
        wait_for(lambda: request(f"{self.w.url}/api/v1/data?path={q('/a/dir/x.txt')}")[0]
                 == 404, timeout=INTERVAL * 3, what="the deleted object to be gone")

    def test_new_files_and_writes_are_seen_by_the_next_read(self):
        self.start()
        w2 = self.cluster.worker(self.ms, name="worker2",
                                 settings={"worker.metadata_ttl": "1s"})
        wait_heartbeats([self.w, w2])
        self.put_object("a/seen.txt", b"1")
        self.mount("/a", "a")
        self.assertEqual(self.cat("/a/seen.txt"), b"1")
        # Not found, then created behind strata's back: the next read sees it.
        status, _, _ = request(f"{self.w.url}/api/v1/data?path={q('/a/late.txt')}")
        self.assertEqual(status, 404)
        self.put_object("a/late.txt", b"late")
        self.assertEqual(self.cat("/a/late.txt"), b"late")
        for w in (self.w, w2):
            self.assertEqual(self.cat("/a/seen.txt", w), b"1")
        # A write through one worker: its next read sees it, and the other
        # worker's within its metadata TTL (as before per-mount epochs),
        # never anything but the old or the new content.
        status, _, body = request(f"{w2.url}/api/v1/data?path={q('/a/seen.txt')}",
                                  method="PUT", body=b"22")
        self.assertEqual(status, 201, body)
        self.assertEqual(self.cat("/a/seen.txt", w2), b"22")
        written = time.monotonic()
        while True:
            body = self.cat("/a/seen.txt")
            if body == b"22":
                break
            self.assertEqual(body, b"1")
            self.assertLess(time.monotonic() - written, 1.5, "the write is not seen")

    def test_files_read_once_stay_on_the_fast_path_past_the_interval(self):
        # The bench's "warm reads 40 s after the cold pass" at a 2 s
        # interval: read once, idle for three intervals, read again: every
        # read is a fast-path hit (worker.metadata_keep_warm kept the
        # metadata fresh, the leader verified it by listing).
        self.start()
        files = {f"f{i:02d}": bytes([65 + i]) * (1000 + i) for i in range(20)}
        for name, data in files.items():
            self.put_object(f"a/dir/{name}", data)
        self.mount("/a", "a")
        port = int(self.w.settings["worker.s3_port"])

        def s3get(name):
            status, _, body = request(f"http://127.0.0.1:{port}/a/dir/{name}")
            self.assertEqual(status, 200, body[:300])
            return body

        def hits():
            return get_json(self.w.url + "/api/v1/metrics")[1]["counters"][
                "s3_fastpath_hits_total"]
        for name, data in files.items():
            self.assertEqual(s3get(name), data)
        time.sleep(INTERVAL * 3)  # the pause is the scenario
        before, heads = hits(), prom(self.m.url, "strata_master_sync_heads_total")
        for name, data in files.items():
            self.assertEqual(s3get(name), data)
        self.assertEqual(hits() - before, len(files))
        self.assertEqual(prom(self.m.url, "strata_master_sync_heads_total"), heads)

    def test_a_slow_listing_verifies_each_page_as_of_its_own_request(self):
        # A directory of 1,001 objects is two LIST pages, and the store
        # takes 0.8 s to answer each. The leader's background check must
        # date what a page verified from that page's request, not from the
        # listing's start: on a store slow to list a big directory (20
        # pages of 0.75 s in the read bench), dating every file from the
        # start left the last pages' files trusted for seconds less than
        # the interval, and the workers' copies ran out of trust.
        self.start()
        names = [f"o{i:05d}" for i in range(1001)]
        with ThreadPoolExecutor(8) as ex:
            clients = [self.s3.client() for _ in range(8)]
            list(ex.map(lambda i: clients[i % 8].put_object(
                Bucket=BUCKET, Key=f"big/{names[i]}", Body=b"p"), range(len(names))))
        self.mount("/big", "big", sync_interval="6s")
        self.proxy.list_delay = 0.8

        def trust(name):
            status, body = get_json(
                f"{self.m.url}/api/v1/internal/file?path={q('/big/' + name)}")
            self.assertEqual(status, 200, body)
            return body["trust_ms"]
        # Looked up by a worker (this route): wanted, so the leader lists
        # the directory in the background (three files: a LIST, not HEADs).
        for name in (names[0], names[500], names[1000]):
            trust(name)
        lists0 = prom(self.m.url, "strata_master_sync_lists_total")
        wait_for(lambda: prom(self.m.url, "strata_master_sync_lists_total") >= lists0 + 2,
                 timeout=20, what="a background listing of the directory")
        # The first page's file and the second's, asked back to back: the
        # second page was asked for 0.8 s later, so it is trusted ~0.8 s longer.
        gaps = []
        for _ in range(5):
            first, last = trust(names[0]), trust(names[1000])
            self.assertGreater(first, 0)
            self.assertLessEqual(last, 6000)
            gaps.append(last - first)
            time.sleep(0.2)
        self.assertGreaterEqual(max(gaps), 500, gaps)
        self.assertEqual(prom(self.m.url, "strata_master_sync_changes_total"), 0)

    def test_why_reads_left_the_fast_path_is_counted(self):
        # worker.metadata_keep_warm at its floor (the TTL): a file not read
        # for longer than the interval is not kept fresh, so its next read
        # finds its metadata with the trust run out.
        self.start(worker={"worker.metadata_keep_warm": "1s"})
        self.put_object("a/k/f.bin", b"kept")
        self.mount("/a", "a")
        port = int(self.w.settings["worker.s3_port"])

        def counters():
            c = get_json(self.w.url + "/api/v1/metrics")[1]["counters"]
            return {k: c[f"metadata_misses_{k}_total"]
                    for k in ("absent", "unchecked", "moved", "expired", "queued")}

        def s3get():
            status, _, body = request(f"http://127.0.0.1:{port}/a/k/f.bin")
            self.assertEqual((status, body), (200, b"kept"))
        c0 = counters()
        s3get()  # never looked up: no metadata cached
        c1 = counters()
        self.assertEqual(c1["absent"] - c0["absent"], 1, (c0, c1))
        s3get()  # a hit: nothing counted
        self.assertEqual(counters(), c1)
        time.sleep(INTERVAL * 2 + 1)  # past the trust the master gave
        s3get()
        c2 = counters()
        self.assertEqual(c2["expired"] - c1["expired"], 1, (c1, c2))
        self.assertEqual(c2["absent"], c1["absent"])

    def test_a_directory_read_again_after_going_cold_is_refreshed_ahead_of_its_reads(self):
        # keep-warm at its floor (the TTL): files not read for a moment go
        # cold, and once the trust the master gave (up to the 4 s interval)
        # runs out, each next read would be a slow-path lookup.
        self.start(worker={"worker.metadata_keep_warm": "1s"})
        n = 120
        for i in range(n):
            self.put_object(f"a/k/f{i:03d}", b"v%d" % i)
        self.mount("/a", "a", sync_interval="4s")
        port = int(self.w.settings["worker.s3_port"])

        def metrics():
            c = get_json(self.w.url + "/api/v1/metrics")[1]["counters"]
            return {k: c[f"metadata_{k}_total"]
                    for k in ("misses_expired", "misses_queued", "dirs_revived", "refreshes")}

        def s3get(i):
            status, _, body = request(f"http://127.0.0.1:{port}/a/k/f{i:03d}")
            self.assertEqual((status, body), (200, b"v%d" % i))
        for _ in range(2):
            for i in range(n):
                s3get(i)
        time.sleep(4 * 2 + 1)  # past keep-warm and past the trust
        c1 = metrics()
        s3get(0)  # cold and expired: revives a/k
        c2 = metrics()
        self.assertEqual(c2["misses_expired"] - c1["misses_expired"], 1, (c1, c2))
        self.assertEqual(c2["dirs_revived"] - c1["dirs_revived"], 1, (c1, c2))
        # The other 119 are refreshed in the background, in batches...
        wait_for(lambda: metrics()["refreshes"] - c2["refreshes"] >= n - 1, timeout=20,
                 what="the revived directory's files to be refreshed")
        # ... so their reads stay on the fast path (without the revival
        # every one of them is an expired miss).
        for i in range(1, n):
            s3get(i)
        c3 = metrics()
        slow = (c3["misses_expired"] - c2["misses_expired"]) + (c3["misses_queued"] -
                                                                 c2["misses_queued"])
        self.assertLessEqual(slow, n // 10, (c2, c3))

    def test_cached_files_nobody_reads_are_kept_verified_by_the_leader(self):
        # Cached, then not read (nor kept warm: keep-warm at its floor) for
        # longer than the leader keeps looked-up files wanted (4 intervals):
        # the leader still verifies them in the background because they
        # have cached blocks, so their next reads wait for no store.
        self.start(worker={"worker.metadata_keep_warm": "1s"})
        files = {f"c{i}": b"cached %d\n" % i * (i + 10) for i in range(3)}
        self.load("c", files)
        wait_for(lambda: prom(self.m.url, "strata_master_revalidate_cached_files") >= 3,
                 timeout=10, what="the cached files to be found in the block map")
        time.sleep(INTERVAL * 4 + 4)  # the scenario: past wanting by lookups
        behind = prom(self.m.url, "strata_master_sync_behind_total")
        heads = self.proxy.snapshot().get("HEAD", 0)
        for name, data in files.items():
            self.assertEqual(self.cat(f"/a/c/{name}"), data)
        self.assertEqual(prom(self.m.url, "strata_master_sync_behind_total"), behind)
        self.assertEqual(self.proxy.snapshot().get("HEAD", 0), heads)
        self.assertGreaterEqual(prom(self.m.url, "strata_master_sync_lists_total"), 4)

    def test_store_down_is_counted_and_unverified_metadata_is_not_served(self):
        self.start()
        self.load("d", {f"f{i}": b"y" * (i + 1) for i in range(3)})
        wait_for(lambda: prom(self.m.url, "strata_master_sync_lists_total") >= 1,
                 timeout=INTERVAL * 3, what="a background LIST")
        self.assertEqual(prom(self.m.url, "strata_master_revalidate_errors_total"), 0)
        self.s3.stop()
        wait_for(lambda: prom(self.m.url, "strata_master_revalidate_errors_total") >= 1,
                 timeout=INTERVAL * 3, what="the failed revalidation to be counted")
        # Once the last verification is an interval old, a lookup asks the
        # store itself (counted as behind), fails, and the read fails
        # rather than trusting metadata nobody could check.
        path = q("/a/d/f0")
        wait_for(lambda: request(f"{self.w.url}/api/v1/data?path={path}")[0] >= 500,
                 timeout=INTERVAL * 4, what="the read to fail without its store")
        self.assertGreaterEqual(prom(self.m.url, "strata_master_sync_behind_total"), 1)

    def test_only_the_leader_revalidates_and_a_new_leader_takes_over(self):
        self.start(masters=3)
        self.load("d", {f"f{i}": b"x" * (i + 1) for i in range(5)})
        lead = self.m
        wait_for(lambda: prom(lead.url, "strata_master_sync_lists_total") >= 2,
                 timeout=INTERVAL * 4, what="the leader to revalidate")
        followers = [m for m in self.ms if m is not lead]
        for m in followers:
            self.assertEqual(prom(m.url, "strata_master_sync_lists_total"), 0)
            self.assertEqual(prom(m.url, "strata_master_sync_heads_total"), 0)
        lead.stop()
        self.m = wait_leader(followers)
        # The worker keeps its files warm: its lookups reach the new leader,
        # whose revalidator lists the directory from then on.
        wait_for(lambda: prom(self.m.url, "strata_master_sync_lists_total") >= 2,
                 timeout=INTERVAL * 8, what="the new leader to revalidate")
        for i in range(5):
            self.assertEqual(self.cat(f"/a/d/f{i}"), b"x" * (i + 1))
        other = [m for m in followers if m is not self.m][0]
        self.assertEqual(prom(other.url, "strata_master_sync_lists_total"), 0)


if __name__ == "__main__":
    main()
