"""Faults with real processes (issue 15 item 6). Each test breaks one thing
under a running cluster -- the store unreachable or slow, a tier's disk
full, a cached block file corrupted, a Raft segment corrupted, a worker
SIGKILLed in the middle of a write -- and checks that it ends with no
crash, a clear error (log line, HTTP status, counter) and no acknowledged
data lost. A clock jump on a master is made with a small LD_PRELOAD shim
(faketime is not installed)."""
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time

import boto3
import botocore.config

from harness import (BUILD_DIR, ClusterTestCase, S3rver, check_sanitizer_output, get_json,
                     main, ns_tree, post_json, raft_self, request, sanitizer_env, wait_for,
                     wait_heartbeats, wait_leader)

TOP_BIN = os.path.join(BUILD_DIR, "console", "tui", "strata-top")
BUCKET = "store"
MiB = 1 << 20


class DelayProxy:
    """A TCP proxy in front of the store whose answers can be held back
    (delay seconds before each chunk the store sends) or refused (stopped:
    connections are closed at once)."""

    def __init__(self, upstream_port):
        self.upstream = ("127.0.0.1", upstream_port)
        self.delay = 0.0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.closed = False
        self.conns = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                c.close()
                continue
            self.conns += [c, u]
            threading.Thread(target=self.pump, args=(c, u, 0), daemon=True).start()
            threading.Thread(target=self.pump, args=(u, c, 1), daemon=True).start()

    def pump(self, src, dst, from_store):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_store and self.delay:
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.sock.close()
        for c in self.conns:
            c.close()


def flip_byte(path, offset):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x5A]))


class FaultsTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.store = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.store.stop)
        self.s3 = self.store.client()

    def mount(self, m, path, endpoint=None, **opts):
        o = {"s3.endpoint": endpoint or self.store.endpoint,
             "s3.access_key": S3rver.ACCESS_KEY, "s3.secret_key": S3rver.SECRET_KEY,
             "s3.path_style": "true", "s3.region": "us-east-1"}
        o.update(opts)
        status, body = post_json(m.url + "/api/v1/mounts", {
            "path": path, "uri": f"s3://{BUCKET}{path}", "options": o})
        self.assertEqual(status, 201, body)

    def counters(self, w):
        return get_json(w.url + "/api/v1/metrics")[1]["counters"]

    def counter(self, w, name):
        c = self.counters(w)
        return c.get(name, c.get("strata_worker_" + name, 0))

    def read(self, w, path, timeout=30):
        t0 = time.monotonic()
        status, _, body = request(w.url + "/api/v1/data?path=" + path, timeout=timeout)
        return status, body, time.monotonic() - t0

    # ---- a. the store unreachable, then slow ----

    def test_store_unreachable_and_slow(self):
        proxy = DelayProxy(self.store.port)
        self.addCleanup(proxy.close)
        cached = os.urandom(3 * MiB + 5)
        uncached = os.urandom(2 * MiB)
        self.s3.put_object(Bucket=BUCKET, Key="data/cached.bin", Body=cached)
        self.s3.put_object(Bucket=BUCKET, Key="data/uncached.bin", Body=uncached)
        m = self.cluster.master()
        w = self.cluster.worker(m, settings={"worker.metadata_ttl": "60s"})
        self.mount(m, "/data", proxy.endpoint, **{"s3.timeout_ms": "1500",
                                                  "s3.connect_timeout_ms": "1000",
                                                  "s3.retries": "1"})
        status, body, _ = self.read(w, "/data/cached.bin")
        self.assertEqual((status, body == cached), (200, True))
        # the other file's metadata is known, its data is not cached
        status, st = get_json(m.url + "/api/v1/files/stat?path=/data/uncached.bin")
        self.assertEqual((status, st.get("length")), (200, len(uncached)), st)
        self.assertEqual(self.counter(w, "block_misses_total"), 1, "only cached.bin was read")
        errors0 = self.counter(w, "store_read_errors_total")

        # Slow: the store answers later than s3.timeout_ms.
        proxy.delay = 5.0
        status, body, took = self.read(w, "/data/uncached.bin")
        self.assertGreaterEqual(status, 500, body[:300])
        self.assertLess(took, 12, "a slow store times out, it does not hang the read")
        self.assertIn(b"timed out", body.lower().replace(b"timeout", b"timed out"), body[:300])
        status, body, took = self.read(w, "/data/cached.bin")
        self.assertEqual((status, body == cached), (200, True), "cached data still served")
        self.assertLess(took, 3)
        proxy.delay = 0.0

        # Unreachable: the store is gone (connections refused).
        proxy.close()
        self.store.stop()
        status, body, took = self.read(w, "/data/uncached.bin")
        self.assertGreaterEqual(status, 500, body[:300])
        self.assertLess(took, 12)
        msg = json.loads(body)["error"]["message"]
        self.assertTrue(any(s in msg.lower() for s in ("connect", "refused", "unreachable",
                                                       "store")), msg)
        status, body, took = self.read(w, "/data/cached.bin")
        self.assertEqual((status, body == cached), (200, True), "cached data still served")
        # A write cannot be acknowledged: a clear error, and no file.
        t0 = time.monotonic()
        status, _, body = request(w.url + "/api/v1/data?path=/data/new.bin", method="PUT",
                                  body=os.urandom(MiB), timeout=30)
        self.assertGreaterEqual(status, 500, body[:300])
        self.assertLess(time.monotonic() - t0, 12)
        self.assertIn("s3://store", json.loads(body)["error"]["message"])
        status, st = get_json(m.url + "/api/v1/files/stat?path=/data/new.bin")
        self.assertIn(status, (404, 503), st)  # not there, or the store cannot say
        errors = self.counter(w, "store_read_errors_total")
        self.assertGreaterEqual(errors - errors0, 2, "store read errors are counted")
        status, _, text = request(w.url + "/metrics")
        self.assertIn(f"strata_worker_store_read_errors_total {errors}", text.decode())
        wait_heartbeats([w])  # strata-top reads the counters the master gathers
        r = subprocess.run([TOP_BIN, "--master", m.address, "--json", "-n", "1"],
                           capture_output=True, text=True, timeout=30,
                           env=sanitizer_env(self.cluster.env()))
        check_sanitizer_output(r.stdout + r.stderr, "strata-top")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["cluster"]["store_read_errors_total"], errors)
        self.assertIsNone(w.proc.poll())
        self.assertIsNone(m.proc.poll())

    # ---- b. a tier's disk full ----

    def test_tier_disk_full(self):
        small = os.path.join(self.tmp, "small")
        os.makedirs(small)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", small],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a 2 MiB tmpfs here: {r.stderr.strip()}")
        self.addCleanup(subprocess.run, ["umount", "-l", small])
        m = self.cluster.master()
        # The tier believes it has 64 MiB; its file system holds 2.
        w = self.cluster.worker(m, settings={"worker.tier.mem.dir": small,
                                             "worker.tier.mem.quota": "64MiB",
                                             "worker.metadata_ttl": "60s"})
        self.mount(m, "/data", block_size="1MiB")
        data = os.urandom(6 * MiB + 7)
        self.s3.put_object(Bucket=BUCKET, Key="data/big.bin", Body=data)
        put0 = self.counter(w, "cache_put_errors_total")
        for _ in range(2):
            status, body, _ = self.read(w, "/data/big.bin")
            self.assertEqual((status, body == data), (200, True))
        self.assertGreater(self.counter(w, "cache_put_errors_total"), put0)
        self.assertGreater(self.counter(w, "tier_write_errors_total"), 0)
        # Writes through the worker still reach the store.
        data2 = os.urandom(4 * MiB)
        status, _, body = request(w.url + "/api/v1/data?path=/data/new.bin", method="PUT",
                                  body=data2, timeout=60)
        self.assertIn(status, (200, 201), body[:300])
        self.assertEqual(self.s3.get_object(Bucket=BUCKET, Key="data/new.bin")["Body"].read(),
                         data2)
        status, body, _ = self.read(w, "/data/new.bin")
        self.assertEqual((status, body == data2), (200, True))
        log = w.read_log()
        self.assertIn("No space left on device", log)
        self.assertLess(log.count("No space left on device"), 6,
                        "a few log lines, not one per block and read")
        self.assertIsNone(w.proc.poll())

    # ---- c. a corrupted block file ----

    def test_corrupted_block_file(self):
        # Blocks on disk tiers (SSD/HDD) carry a CRC32C checked when read;
        # a MEM tier's blocks are trusted (RAM). A 1 MiB MEM tier pushes
        # the first block of a 2 MiB file down to the SSD tier.
        ssd = os.path.join(self.tmp, "ssd")
        m = self.cluster.master()
        w = self.cluster.worker(m, settings={"worker.metadata_ttl": "60s",
                                             "worker.tier.mem.quota": "1MiB",
                                             "worker.tier.ssd.dirs": ssd})
        self.mount(m, "/data", block_size="1MiB")
        data = os.urandom(2 * MiB)
        self.s3.put_object(Bucket=BUCKET, Key="data/two.bin", Body=data)
        for _ in range(2):  # a miss, then hits (the first verifies the SSD copy)
            status, body, _ = self.read(w, "/data/two.bin")
            self.assertEqual((status, body == data), (200, True))
        files = [os.path.join(dp, f) for dp, _, fs in os.walk(ssd) for f in fs
                 if os.path.getsize(os.path.join(dp, f)) >= MiB]
        self.assertEqual(len(files), 1, files)
        flip_byte(files[0], os.path.getsize(files[0]) // 2)
        bad0 = self.counter(w, "checksum_failures_total")
        misses0 = self.counter(w, "block_misses_total")
        status, body, _ = self.read(w, "/data/two.bin")
        self.assertEqual(status, 200)
        self.assertTrue(body == data, "the corrupt block is never served")
        self.assertEqual(self.counter(w, "checksum_failures_total"), bad0 + 1)
        self.assertGreater(self.counter(w, "block_misses_total"), misses0,
                           "read again from the store")
        self.assertIn("failed its checksum; dropped", w.read_log())
        # Cached again, correct; through the S3 gateway (sendfile) too.
        status, body, _ = self.read(w, "/data/two.bin")
        self.assertEqual((status, body == data), (200, True))
        port = w.settings["worker.s3_port"]
        status, _, body = request(f"http://127.0.0.1:{port}/data/two.bin",
                                  headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
        self.assertEqual((status, body == data), (200, True))

    def test_corrupted_large_block_cuts_the_reply(self):
        # A whole block over 4 MiB is checked as it streams: a corrupt one
        # cuts the reply short (never a complete reply with wrong bytes),
        # is dropped and counted, and the next read is correct.
        ssd = os.path.join(self.tmp, "ssd")
        m = self.cluster.master()
        w = self.cluster.worker(m, settings={"worker.metadata_ttl": "60s",
                                             "worker.tier.mem.quota": "1MiB",
                                             "worker.tier.ssd.dirs": ssd})
        self.mount(m, "/data", block_size="8MiB")
        data = os.urandom(8 * MiB)
        self.s3.put_object(Bucket=BUCKET, Key="data/eight.bin", Body=data)
        for _ in range(2):
            status, body, _ = self.read(w, "/data/eight.bin")
            self.assertEqual((status, body == data), (200, True))
        files = [os.path.join(dp, f) for dp, _, fs in os.walk(ssd) for f in fs
                 if os.path.getsize(os.path.join(dp, f)) >= 8 * MiB]
        self.assertEqual(len(files), 1, files)
        flip_byte(files[0], os.path.getsize(files[0]) // 2)
        bad0 = self.counter(w, "checksum_failures_total")
        c = http.client.HTTPConnection("127.0.0.1", int(w.settings["worker.port"]),
                                       timeout=30)
        c.request("GET", "/api/v1/data?path=/data/eight.bin")
        r = c.getresponse()
        try:
            got = r.read()
        except http.client.IncompleteRead as e:
            got = e.partial
        c.close()
        self.assertLess(len(got), len(data), "the reply was cut short")
        self.assertEqual(self.counter(w, "checksum_failures_total"), bad0 + 1)
        self.assertIn("failed its checksum; dropped", w.read_log())
        status, body, _ = self.read(w, "/data/eight.bin")
        self.assertEqual((status, body == data), (200, True))
        self.assertIsNone(w.proc.poll())

    # ---- d. a corrupted Raft segment ----

    def test_corrupted_raft_segment(self):
        ms = self.cluster.masters(3)
        lead = wait_leader(ms)

        def mkdir(path):
            status, body = post_json(lead.url + "/api/v1/files/mkdir", {"path": path})
            self.assertIn(status, (200, 201), body)
        for i in range(30):
            mkdir(f"/d{i:02d}")
        victim = next(x for x in ms if x is not lead)
        want = ns_tree(lead)

        def caught_up(x):
            s = get_json(x.url + "/api/v1/masters/self")[1]
            ls = get_json(lead.url + "/api/v1/masters/self")[1]
            return s["applied_index"] >= ls["commit_index"]
        wait_for(lambda: caught_up(victim), what="the victim to apply everything")
        self.assertEqual(victim.stop(), 0)
        raft = os.path.join(victim.settings["master.state_dir"], "raft")
        segs = sorted(f for f in os.listdir(raft) if f.startswith("log-"))
        self.assertTrue(segs, os.listdir(raft))
        seg = os.path.join(raft, segs[-1])
        size = os.path.getsize(seg)
        self.assertGreater(size, 1000)
        flip_byte(seg, size // 2)
        # More writes while it is down.
        for i in range(30, 40):
            mkdir(f"/d{i:02d}")
        victim.start()
        try:
            code = victim.proc.wait(10)
        except subprocess.TimeoutExpired:
            code = None
        log = victim.read_log()
        if code is not None:
            # Refused to start: a clear error naming what is wrong and
            # what to do; nothing was applied.
            self.assertNotEqual(code, 0)
            self.assertIn("namespace.db holds entries up to", log)
            self.assertIn("remove namespace.db too", log)
            victim.log.close()
            os.unlink(os.path.join(victim.settings["master.state_dir"], "namespace.db"))
            for f in os.listdir(raft):
                os.unlink(os.path.join(raft, f))
            victim.start()
        self.assertIn("raft log: dropped", log)
        victim.wait_ready()
        mkdir("/after")
        lead = wait_leader(ms)
        want = ns_tree(lead)
        self.assertIn("/d39", want)
        self.assertIn("/after", want)
        try:
            wait_for(lambda: caught_up(victim), what="the victim to catch up")
        except AssertionError:
            print(get_json(victim.url + "/api/v1/masters/self")[1],
                  get_json(lead.url + "/api/v1/masters/self")[1])
            raise
        for x in ms:
            wait_for(lambda: caught_up(x), what=f"{x.name} to apply everything")
            self.assertEqual(ns_tree(x), want, f"{x.name}'s tree")

    # ---- e. a worker SIGKILLed during a write ----

    def test_worker_killed_during_put(self):
        m = self.cluster.master()
        w = self.cluster.worker(m, settings={"worker.metadata_ttl": "1s"})
        self.mount(m, "/data")
        port = int(w.settings["worker.s3_port"])
        gw = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}",
                          aws_access_key_id="x", aws_secret_access_key="y",
                          region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "path"},
                                                        retries={"max_attempts": 1}))
        small = os.urandom(100 * 1024)
        gw.put_object(Bucket="data", Key="acked.bin", Body=small)  # acknowledged
        size = 48 * MiB
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        c.putrequest("PUT", "/data/big.bin")
        c.putheader("Content-Length", str(size))
        c.putheader("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        c.endheaders()
        chunk = os.urandom(MiB)
        sent = 0
        error = None
        try:
            while sent < size:
                c.send(chunk)
                sent += len(chunk)
                if sent == 20 * MiB:
                    w.proc.send_signal(signal.SIGKILL)
                    w.proc.wait()
            resp = c.getresponse()
            status = resp.status
            resp.read()
        except OSError as e:
            error = e
            status = None
        c.close()
        self.assertTrue(error is not None or status >= 500,
                        f"the client sees the write fail (status {status})")
        # The namespace never shows a partial object as complete.
        def listed():
            status, body = get_json(m.url + "/api/v1/files?path=/data")
            self.assertEqual(status, 200, body)
            return {e["name"]: e.get("length") for e in body["entries"]}
        keys = {o["Key"]: o["Size"] for o in
                self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
        self.assertNotIn("data/big.bin", keys, "no partial object in the store")
        self.assertEqual(keys.get("data/acked.bin"), len(small))
        self.assertNotIn("big.bin", listed(), "nor in the namespace")
        self.assertEqual(listed().get("acked.bin"), len(small))
        # Restart: acknowledged data is there and correct; the failed
        # object is absent, and a retry succeeds.
        w.log.close()
        w.start()
        w.wait_ready()
        wait_for(lambda: get_json(w.url + "/api/v1/worker")[1]["last_heartbeat_ms_ago"] >= 0,
                 what="the restarted worker's heartbeat")
        self.assertEqual(gw.get_object(Bucket="data", Key="acked.bin")["Body"].read(), small)
        with self.assertRaises(Exception) as e:
            gw.head_object(Bucket="data", Key="big.bin")
        self.assertIn("404", str(e.exception))
        big = os.urandom(size)
        gw.put_object(Bucket="data", Key="big.bin", Body=big)
        got = gw.get_object(Bucket="data", Key="big.bin")["Body"].read()
        self.assertEqual(hashlib.sha256(got).digest(), hashlib.sha256(big).digest())
        self.assertEqual(listed().get("big.bin"), size)

    # ---- f. a clock jump on a master ----

    def clock_shim(self):
        """Builds a preload library that adds the int64 number of seconds
        held in the file $TEST_CLOCK_SHIM_FILE (read through a shared
        mapping, so the test moves the clock of a running daemon by
        rewriting it) to CLOCK_REALTIME, time() and gettimeofday().
        faketime is not installed here; this is the same trick."""
        src = os.path.join(self.tmp, "clockshim.c")
        lib = os.path.join(self.tmp, "clockshim.so")
        with open(src, "w") as f:
            f.write(CLOCK_SHIM_C)
        r = subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", lib, src, "-ldl"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot build the clock shim: {r.stderr.strip()}")
        return lib

    def test_clock_jump_on_master(self):
        lib = self.clock_shim()
        files = {}
        ms = []
        for i, mst in enumerate(self.cluster.masters(3, start=False)):
            path = os.path.join(self.tmp, f"clock{i}")
            with open(path, "wb") as f:
                f.write((0).to_bytes(8, "little", signed=True))
            files[mst] = path
            mst.env["LD_PRELOAD"] = lib
            mst.env["TEST_CLOCK_SHIM_FILE"] = path
            mst.env["ASAN_OPTIONS"] = mst.env.get("ASAN_OPTIONS", "") + \
                ":verify_asan_link_order=0"
            ms.append(mst)
        for mst in ms:
            mst.start()
        for mst in ms:
            mst.wait_ready()
        lead = wait_leader(ms)
        term = raft_self(lead)["term"]
        w = self.cluster.worker(ms)
        wait_for(lambda: len(get_json(lead.url + "/api/v1/workers")[1]["workers"]) == 1,
                 what="the worker to register")

        def jump(mst, seconds):
            with open(files[mst], "r+b") as f:
                f.write(int(seconds).to_bytes(8, "little", signed=True))

        def mtime(path):
            # stamped from the leader's wall clock when it was created
            status, body = get_json(lead.url + "/api/v1/files/stat?path=" + path)
            self.assertEqual(status, 200, body)
            return body["mtime_ms"]

        n = 0

        def writes(k):
            nonlocal n
            for _ in range(k):
                status, body = post_json(lead.url + "/api/v1/files/mkdir", {"path": f"/j{n}"})
                self.assertIn(status, (200, 201), body)
                n += 1
        writes(5)
        # The leader's wall clock jumps an hour ahead, then two hours back;
        # a follower's jumps a day ahead.
        jump(lead, 3600)
        writes(5)
        self.assertGreater(mtime("/j5") - mtime("/j4"), 3500 * 1000, "the shim moved the clock")
        time.sleep(1.5)  # several election timeouts and heartbeat rounds
        jump(lead, -3600)
        writes(5)
        follower = next(x for x in ms if x is not lead)
        jump(follower, 86400)
        time.sleep(1.5)
        writes(5)
        # Raft timing does not follow the wall clock: no election happened.
        self.assertIs(wait_leader(ms), lead)
        self.assertEqual(raft_self(lead)["term"], term, "no election for a clock jump")
        # The worker stayed live throughout (leases are monotonic).
        workers = get_json(lead.url + "/api/v1/workers")[1]["workers"]
        self.assertEqual([x["state"] for x in workers], ["live"])
        want = ns_tree(lead)
        self.assertEqual(len([p for p in want if p.startswith("/j")]), 20)
        for x in ms:
            wait_for(lambda: ns_tree(x) == want, what=f"{x.name}'s tree")
            self.assertIsNone(x.proc.poll(), f"{x.name} is running")
        self.assertIsNone(w.proc.poll())


CLOCK_SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int (*real_cg)(clockid_t, struct timespec *);
static volatile const int64_t *offset;

static void init(void)
{
	real_cg = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
	const char *p = getenv("TEST_CLOCK_SHIM_FILE");
	int fd = p ? open(p, O_RDONLY) : -1;
	if (fd >= 0) {
		void *m = mmap(NULL, 8, PROT_READ, MAP_SHARED, fd, 0);
		if (m != MAP_FAILED)
			offset = m;
		close(fd);
	}
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	if (!real_cg)
		init();
	int rc = real_cg(id, ts);
	if (rc == 0 && offset && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += *offset;
	return rc;
}

time_t time(time_t *t)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (t)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

int gettimeofday(struct timeval *tv, void *tz)
{
	struct timespec ts;
	(void)tz;
	clock_gettime(CLOCK_REALTIME, &ts);
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}
"""


if __name__ == "__main__":
    main()
