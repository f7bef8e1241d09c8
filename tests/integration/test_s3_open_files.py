"""The S3 front's open-file cache (api/s3_fdcache.h) near the worker's
open-file limit: block files it keeps open give way, at once, to the
block files a reply needs and to new client connections. The limit is
lowered under a running worker (prlimit), so the cache, sized for the
limit the worker started with, holds more than is left."""
import os
import resource
import socket
import time

from harness import ClusterTestCase, fd_targets, get_json, main, wait_for, wait_heartbeats
from test_s3_fastpath import Conn, get

N = 200


class S3OpenFilesTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(root, "data"))
        for i in range(N):
            with open(os.path.join(root, "data", f"o{i:04d}"), "wb") as f:
                f.write(self.body(i))
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + root})
        # Unused files close 2 s after their last read (the old rule), so
        # the first test can start with none kept.
        self.w = self.cluster.worker(self.m, settings={"worker.metadata_ttl": "600s",
                                                       "worker.s3.open_file_keep": "0"})
        wait_for(lambda: len(get_json(self.m.url + "/api/v1/workers")[1]["workers"]) == 1,
                 what="worker registered")
        wait_heartbeats([self.w], what="the peer list")
        self.port = int(self.w.settings["worker.s3_port"])
        self.limit = resource.prlimit(self.w.proc.pid, resource.RLIMIT_NOFILE)
        self.base_fds = self.open_fds()
        # Every object through the gateway (a miss that caches it), then
        # again until every read is a fast-path hit (a block is stored
        # just after its bytes went out).
        c = Conn(self.port)
        for i in range(N):
            self.assertEqual(self.fetch(c, i), self.body(i))

        def all_hits():
            before = self.counters()["s3_fastpath_hits_total"]
            for i in range(N):
                self.assertEqual(self.fetch(c, i), self.body(i))
            return self.counters()["s3_fastpath_hits_total"] - before == N
        wait_for(all_hits, timeout=30, what="every object a fast-path hit")
        c.close()

    def tearDown(self):
        self.restore_limit()
        super().tearDown()

    @staticmethod
    def body(i):
        return f"object {i:04d} ".encode() * 64

    def fetch(self, c, i):
        c.send(get(f"/data/o{i:04d}"))
        status, _, body = c.response()
        self.assertEqual(status, 200, body[:300])
        return body

    def counters(self):
        return get_json(self.w.url + "/api/v1/metrics")[1]["counters"]

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.w.proc.pid}/fd"))

    def squeeze(self, spare):
        """Lowers the worker's (soft) limit to what it has open plus spare."""
        n = self.open_fds() + spare
        resource.prlimit(self.w.proc.pid, resource.RLIMIT_NOFILE, (n, self.limit[1]))

    def restore_limit(self):
        resource.prlimit(self.w.proc.pid, resource.RLIMIT_NOFILE, self.limit)

    def test_kept_files_give_way_to_the_files_a_reply_needs(self):
        # The kept files close after S3FDC_IDLE_MS unused (open_file_keep
        # 0): then every read below opens its block file.
        wait_for(lambda: self.open_fds() <= self.base_fds + 3, timeout=10,
                 what="the kept block files closed")
        c = Conn(self.port)  # one keep-alive connection: only block files open
        before = self.counters()
        self.squeeze(40)
        # 200 hits through 40 spare descriptors: every time the cache has
        # taken them all, the files nobody reads close and the open goes on.
        for i in range(N):
            self.assertEqual(self.fetch(c, i), self.body(i))
        self.restore_limit()
        c.close()
        after = self.counters()
        self.assertEqual(after["s3_fastpath_hits_total"] - before["s3_fastpath_hits_total"], N,
                         "every read a fast-path hit")
        self.assertEqual(after["s3_proxied_total"] - before["s3_proxied_total"], 0)
        self.assertEqual(after["s3_fastpath_fd_opens_total"] -
                         before["s3_fastpath_fd_opens_total"], N)

    def test_kept_files_give_way_to_new_clients(self):
        c = Conn(self.port)
        for i in range(N):  # N files kept open, recently used
            self.assertEqual(self.fetch(c, i), self.body(i))
        c.close()
        self.assertGreaterEqual(self.open_fds(), self.base_fds + N - 3)
        wait_for(lambda: self.counters()["s3_open_connections"] == 0, timeout=5,
                 what="the connection closed")
        before = self.counters()
        self.squeeze(20)
        # 100 clients at once with 20 descriptors spare: the kept files
        # close for them; accept() never has to wait for a tick.
        socks = [socket.create_connection(("127.0.0.1", self.port), timeout=30)
                 for _ in range(100)]
        try:
            for k, s in enumerate(socks):
                s.sendall(get(f"/data/o{k:04d}"))
            for k, s in enumerate(socks):
                c = Conn.__new__(Conn)
                c.s, c.buf = s, b""
                status, _, body = c.response()
                self.assertEqual((status, body), (200, self.body(k)))
        finally:
            for s in socks:
                s.close()
        self.restore_limit()
        after = self.counters()
        self.assertEqual(after["s3_connections_total"] - before["s3_connections_total"], 100)
        self.assertNotIn("cannot accept connections", self.w.read_log())


class S3KeptFilesTest(ClusterTestCase):
    """With the default worker.s3.open_file_keep, a cached block's file
    stays open across idle periods, and closes as soon as the tier lets
    the block go (its forget hook), so no evicted file's space is held."""
    SIZE = 64 << 10
    COUNT = 40  # 2.5 MiB through a 1 MiB MEM tier

    def setUp(self):
        super().setUp()
        root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(root, "data"))
        for i in range(self.COUNT):
            with open(os.path.join(root, "data", f"k{i:02d}"), "wb") as f:
                f.write(self.body(i))
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + root})
        self.w = self.cluster.worker(self.m, settings={"worker.metadata_ttl": "600s",
                                                       "worker.tier.mem.quota": "1MB"})
        wait_for(lambda: len(get_json(self.m.url + "/api/v1/workers")[1]["workers"]) == 1,
                 what="worker registered")
        wait_heartbeats([self.w], what="the peer list")
        self.port = int(self.w.settings["worker.s3_port"])
        self.mem = os.path.realpath(self.w.settings["worker.tier.mem.dir"])

    def body(self, i):
        return bytes([i]) * self.SIZE

    def counters(self):
        return get_json(self.w.url + "/api/v1/metrics")[1]["counters"]

    def fetch(self, c, i):
        c.send(get(f"/data/k{i:02d}"))
        status, _, body = c.response()
        self.assertEqual((status, body[:300] if status != 200 else body), (200, self.body(i)))

    def hit(self, c, i):
        """Reads k<i> until the read is a fast-path hit."""
        def once():
            before = self.counters()["s3_fastpath_hits_total"]
            self.fetch(c, i)
            return self.counters()["s3_fastpath_hits_total"] == before + 1
        wait_for(once, timeout=20, what=f"k{i:02d} a fast-path hit")

    def mem_files_open(self):
        """The worker's open fds on MEM tier files: {fd target}."""
        return {t for t in fd_targets(self.w.proc.pid) if t.startswith(self.mem + "/")}

    def test_a_file_stays_open_across_an_idle_period(self):
        c = Conn(self.port)
        try:
            self.hit(c, 0)
            before = self.counters()
            time.sleep(3.0)  # past S3FDC_IDLE_MS (2 s), which used to close it
            self.fetch(c, 0)
            after = self.counters()
        finally:
            c.close()
        self.assertEqual(after["s3_fastpath_hits_total"], before["s3_fastpath_hits_total"] + 1)
        self.assertEqual(after["s3_fastpath_fd_hits_total"],
                         before["s3_fastpath_fd_hits_total"] + 1, "served from the kept file")
        self.assertEqual(after["s3_fastpath_fd_opens_total"],
                         before["s3_fastpath_fd_opens_total"], "nothing opened")

    def test_an_evicted_block_closes_its_kept_file(self):
        c = Conn(self.port)
        try:
            self.hit(c, 0)
            kept = self.mem_files_open()
            self.assertEqual(len(kept), 1, kept)
            path = next(iter(kept))
            self.assertTrue(os.path.exists(path))
            # Everything else through the 1 MiB tier: k00's block is evicted.
            for i in range(1, self.COUNT):
                self.fetch(c, i)
            wait_for(lambda: not os.path.exists(path), timeout=20, what="k00's block evicted")
            # Its file closes with the eviction, not 10 minutes later.
            wait_for(lambda: path + " (deleted)" not in self.mem_files_open(), timeout=1,
                     what="the evicted block's file closed")
            self.assertFalse(any(t.endswith(" (deleted)") for t in self.mem_files_open()),
                             self.mem_files_open())
            self.fetch(c, 0)  # read again from the store
        finally:
            c.close()
        self.assertEqual(self.w.proc.poll(), None)


if __name__ == "__main__":
    main()
