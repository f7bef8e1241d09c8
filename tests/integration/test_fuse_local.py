"""Short-circuit reads (docs/fuse.md, issue 17): a worker hands clients on its
host open descriptors of the blocks it has cached, over a Unix socket
(worker.local_socket, mode 0660), and strata-fuse reads those blocks from
the descriptor instead of over HTTP. A cached file read through the mount is
served that way (the worker's short-circuit counters move, its HTTP read
counters do not) with the same bytes, across block boundaries and at odd
offsets; without the socket, or with one nobody serves, the mount reads over
HTTP as before; a block not cached goes over HTTP (which caches it) and is
short-circuited on the next read; blocks another worker owns still come
from that worker; a dead or stopped worker gives EIO within a bound. The
socket refuses malformed requests, and speaks the documented protocol to
any client (checked here byte by byte from Python)."""
import errno
import hashlib
import os
import signal
import socket
import stat
import struct
import subprocess

from harness import ClusterTestCase, get_json, main, request, wait_for, wait_heartbeats
from test_fuse import FUSE_BIN, MiB, FuseTestCase, fuse_missing, is_mounted

BLOCK = MiB  # master.mount.block_size below: many boundaries in little data


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def lread_request(op, block_id=0):
    """A request as lib/localread.h lays it out."""
    head = b"SLRD" + struct.pack("<HHQI", 1, op, block_id, 0)
    return head + struct.pack("<I", crc32c(head))


def lread_reply(raw):
    """(status, worker_id, block_id, data_offset, len) of a reply, its CRC
    checked."""
    assert len(raw) == 48, len(raw)
    assert raw[:4] == b"SLRD"
    assert struct.unpack("<I", raw[44:])[0] == crc32c(raw[:44]), "reply CRC"
    version, status, wid, bid, off, ln, reserved = struct.unpack("<HHQQQQI", raw[4:44])
    assert (version, reserved) == (1, 0)
    return status, wid, bid, off, ln


OK, NOT_HERE, BAD_REQUEST = 0, 1, 2
HELLO, OPEN = 1, 2


def sha(b):
    return hashlib.sha256(b).hexdigest()


def all_threads_stopped(pid):
    """Whether every thread of pid is stopped (state T in its stat)."""
    d = f"/proc/{pid}/task"
    for t in os.listdir(d):
        try:
            with open(f"{d}/{t}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("T", "t"):
            return False
    return True


def describe(value, data):
    """What a read that should have failed gave: its length, and which
    blocks of data (if any) it matches."""
    if not isinstance(value, (bytes, bytearray)):
        return repr(value)[:200]
    where = [k for k in range(len(data) // BLOCK)
             if data[k * BLOCK:k * BLOCK + len(value)] == value]
    return f"{len(value)} bytes, equal to the bytes at block(s) {where or 'none'}"


class LocalReadTest(FuseTestCase):
    def setUp(self):
        # FuseTestCase's, with 1 MiB blocks.
        why = fuse_missing()
        if why:
            self.skipTest(why)
        ClusterTestCase.setUp(self)
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(self.root)
        self.mounts = []
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root,
                                               "master.worker_timeout": "30s",
                                               "master.mount.block_size": "1MB"})

    def socket_of(self, w):
        return os.path.join(w.settings["worker.data_dir"], "local.sock")

    def put_file(self, name, size):
        data = os.urandom(size)
        with open(os.path.join(self.root, name), "wb") as f:
            f.write(data)
        return data

    def cache(self, w, name, size):
        """Reads the file through w's data route: every block is then cached
        at its owner."""
        status, _, body = request(f"{w.url}/api/v1/data?path=/{name}", timeout=30)
        self.assertEqual((status, len(body)), (200, size))
        self.wait_cached(name)

    def wait_cached(self, name):
        """Until the master knows every block cached (heartbeats follow the
        tiers' commits)."""
        wait_for(lambda: get_json(f"{self.m.url}/api/v1/files/stat?path=/{name}")[1]
                 ["cached_percent"] == 100, what=f"/{name} to be cached")

    def data_id(self, name):
        st = get_json(self.m.url + "/api/v1/files/stat?path=/" + name)[1]
        return int(st["blocks"][0]["id"]) >> 24

    def test_a_cached_file_is_read_through_the_socket_with_the_same_bytes(self):
        w = self.start_worker()
        path = self.socket_of(w)
        st = os.lstat(path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660, "owner and group only")
        size = 5 * BLOCK + 12345
        data = self.put_file("f.bin", size)
        self.cache(w, "f.bin", size)
        mnt, _ = self.mount("local_socket=" + path)
        c0 = self.counters([w])
        with open(os.path.join(mnt, "f.bin"), "rb") as f:
            got = f.read()
        self.assertEqual(sha(got), sha(data))
        c1 = self.counters([w])
        self.assertEqual(c1["short_circuit_opens_total"] - c0["short_circuit_opens_total"], 6,
                         "one descriptor per block")
        self.assertEqual(c1["short_circuit_bytes_total"] - c0["short_circuit_bytes_total"], size)
        self.assertEqual(c1["read_requests_total"], c0["read_requests_total"],
                         "no read over HTTP")
        self.assertEqual(c1["bytes_from_cache_total"], c0["bytes_from_cache_total"])

        # Reads at odd offsets and across block boundaries: with O_DIRECT
        # the kernel passes them as they are (no page cache in between).
        fd = os.open(os.path.join(mnt, "f.bin"), os.O_RDONLY | os.O_DIRECT)
        try:
            for off, n in [(0, 1), (BLOCK - 7, 100), (2 * BLOCK - 1, 2 * BLOCK + 3),
                           (3 * BLOCK + 4097, 70001), (size - 10, 100), (size, 10),
                           (12345, 5 * BLOCK)]:
                self.assertEqual(sha(os.pread(fd, n, off)), sha(data[off:off + n]),
                                 f"pread({n}, {off})")
        finally:
            os.close(fd)
        c2 = self.counters([w])
        self.assertEqual(c2["read_requests_total"], c0["read_requests_total"],
                         "no read over HTTP")
        self.assertGreater(c2["short_circuit_opens_total"], c1["short_circuit_opens_total"])

    def test_without_the_socket_reads_go_over_http(self):
        w = self.start_worker()
        size = 3 * BLOCK + 99
        data = self.put_file("g.bin", size)
        self.cache(w, "g.bin", size)
        # Turned off on the mount.
        mnt, _ = self.mount("local_socket=", name="off")
        c0 = self.counters([w])
        with open(os.path.join(mnt, "g.bin"), "rb") as f:
            self.assertEqual(sha(f.read()), sha(data))
        c1 = self.counters([w])
        self.assertEqual(c1["short_circuit_connections_total"],
                         c0["short_circuit_connections_total"])
        self.assertGreaterEqual(c1["bytes_from_cache_total"] - c0["bytes_from_cache_total"], size)
        # A socket nobody serves: every block over HTTP, one warning.
        nowhere = os.path.join(self.tmp, "nowhere.sock")
        mnt, d = self.mount("local_socket=" + nowhere, "noauto_cache", name="nowhere")
        for _ in range(3):
            with open(os.path.join(mnt, "g.bin"), "rb") as f:
                self.assertEqual(sha(f.read()), sha(data))
        c2 = self.counters([w])
        self.assertGreaterEqual(c2["bytes_from_cache_total"] - c1["bytes_from_cache_total"],
                                3 * size)
        self.assertEqual(d.read_log().count("short-circuit reads through " + nowhere), 1,
                         "said once, not per read")

    def test_a_worker_with_the_socket_off_serves_over_http(self):
        w = self.cluster.worker(self.m, name="w-off", settings={"worker.local_socket": ""})
        wait_for(lambda: any(x["state"] == "live" and x["address"] == w.address
                             for x in get_json(self.m.url + "/api/v1/workers")[1]["workers"]),
                 what="w-off to register")
        self.assertFalse(os.path.exists(self.socket_of(w)))
        size = 2 * BLOCK + 1
        data = self.put_file("h.bin", size)
        self.cache(w, "h.bin", size)
        c0 = self.counters([w])
        mnt, _ = self.mount("local_socket=" + self.socket_of(w))
        with open(os.path.join(mnt, "h.bin"), "rb") as f:
            self.assertEqual(sha(f.read()), sha(data))
        c1 = self.counters([w])
        self.assertGreaterEqual(c1["bytes_from_cache_total"] - c0["bytes_from_cache_total"], size)
        self.assertEqual(c1["short_circuit_connections_total"], 0)

    def test_a_block_not_cached_goes_over_http_then_through_the_socket(self):
        w = self.start_worker()
        size = 4 * BLOCK + 3
        data = self.put_file("cold.bin", size)
        mnt, _ = self.mount("local_socket=" + self.socket_of(w), "noauto_cache")
        c0 = self.counters([w])
        with open(os.path.join(mnt, "cold.bin"), "rb") as f:
            self.assertEqual(sha(f.read()), sha(data))
        c1 = self.counters([w])
        self.assertEqual(c1["bytes_from_ufs_total"] - c0["bytes_from_ufs_total"], size,
                         "read from the store (and cached)")
        self.assertGreater(c1["short_circuit_not_here_total"],
                           c0["short_circuit_not_here_total"])
        self.wait_cached("cold.bin")
        with open(os.path.join(mnt, "cold.bin"), "rb") as f:
            self.assertEqual(sha(f.read()), sha(data))
        c2 = self.counters([w])
        self.assertEqual(c2["short_circuit_opens_total"] - c1["short_circuit_opens_total"], 5)
        self.assertEqual(c2["bytes_from_ufs_total"], c1["bytes_from_ufs_total"])
        self.assertEqual(c2["read_requests_total"], c1["read_requests_total"])

    def test_blocks_another_worker_owns_come_from_it(self):
        w1, w2 = self.start_worker("w1"), self.start_worker("w2")
        wait_heartbeats([w1, w2])
        size = 24 * BLOCK  # both own some blocks but for a 2^-23 chance
        data = self.put_file("two.bin", size)
        self.cache(w1, "two.bin", size)
        mnt, _ = self.mount("local_socket=" + self.socket_of(w1))
        c0 = {w.name: self.counters([w]) for w in (w1, w2)}
        with open(os.path.join(mnt, "two.bin"), "rb") as f:
            self.assertEqual(sha(f.read()), sha(data))
        c1 = {w.name: self.counters([w]) for w in (w1, w2)}
        d = {n: {k: c1[n][k] - c0[n][k] for k in c1[n]} for n in c1}
        self.assertGreater(d["w1"]["short_circuit_opens_total"], 0)
        self.assertGreater(d["w2"]["bytes_from_cache_total"], 0, "w2's blocks over HTTP")
        self.assertEqual(d["w2"]["short_circuit_connections_total"], 0)
        self.assertGreaterEqual(d["w1"]["short_circuit_bytes_total"]
                                + d["w2"]["bytes_from_cache_total"], size,
                                "every block from its owner")
        self.assertEqual(d["w1"]["bytes_from_cache_total"], 0, "w1's blocks not over HTTP")
        self.assertEqual(d["w1"]["bytes_from_ufs_total"] + d["w2"]["bytes_from_ufs_total"], 0)

    def test_a_dead_or_stopped_worker_gives_eio_within_a_bound(self):
        w = self.start_worker()
        size = 40 * BLOCK
        data = self.put_file("big.bin", size)
        self.cache(w, "big.bin", size)
        mnt, d = self.mount("local_socket=" + self.socket_of(w), "timeout=2", "readahead=1")
        with open(os.path.join(mnt, "big.bin"), "rb", buffering=0) as f:
            self.assertEqual(f.read(BLOCK), data[:BLOCK])
            w.send_signal(signal.SIGSTOP)
            try:
                # Every thread of the worker stopped before the read (on a
                # loaded machine a stop takes effect when a thread next runs).
                wait_for(lambda: all_threads_stopped(w.proc.pid), timeout=10,
                         what="the worker's threads to stop")
                f.seek(20 * BLOCK)
                # 1 s for the socket, then HTTP tries of 2 s (the kernel
                # asks once more for the first page after its read-ahead
                # failed): bounded, never a hang.
                value, took = self.timed_call(lambda: f.read(BLOCK), 30)
            finally:
                w.send_signal(signal.SIGCONT)
            self.assertIsInstance(value, OSError, f"the read gave {describe(value, data)}")
            self.assertEqual(value.errno, errno.EIO)
            self.assertLess(took, 15, "EIO within a bound")
            w.kill()
            f.seek(30 * BLOCK)
            value, took = self.timed_call(lambda: f.read(BLOCK), 20)
            self.assertIsInstance(value, OSError, f"the read gave {describe(value, data)}")
            self.assertEqual(value.errno, errno.EIO)
            self.assertLess(took, 6, "a dead worker: EIO within the data timeout")
        self.assertTrue(is_mounted(mnt))
        self.assertIsNone(d.proc.poll(), "strata-fuse is running")

    def test_the_socket_speaks_the_protocol_and_refuses_bad_requests(self):
        w = self.start_worker()
        wait_for(lambda: int(get_json(w.url + "/api/v1/worker")[1]["worker_id"]) != 0,
                 what="a worker id")
        wid = int(get_json(w.url + "/api/v1/worker")[1]["worker_id"])
        size = 2 * BLOCK + 5
        data = self.put_file("p.bin", size)
        self.cache(w, "p.bin", size)
        block1 = self.data_id("p.bin") << 24 | 1
        path = self.socket_of(w)

        def ask(raw, closed=False):
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
                s.settimeout(5)
                s.connect(path)
                s.send(raw)
                msg, fds, _, _ = socket.recv_fds(s, 64, 4)
                if closed:
                    self.assertEqual(s.recv(64), b"", "the worker closed the connection")
                return msg, fds

        msg, fds = ask(lread_request(HELLO))
        self.assertEqual(lread_reply(msg)[:2], (OK, wid))
        self.assertEqual(fds, [])
        msg, fds = ask(lread_request(OPEN, block1))
        status, _, bid, off, ln = lread_reply(msg)
        self.assertEqual((status, bid, ln, len(fds)), (OK, block1, BLOCK, 1))
        try:
            self.assertEqual(os.pread(fds[0], ln, off), data[BLOCK:2 * BLOCK])
        finally:
            os.close(fds[0])
        msg, fds = ask(lread_request(OPEN, (self.data_id("p.bin") + 1000) << 24))
        self.assertEqual((lread_reply(msg)[0], fds), (NOT_HERE, []))

        c0 = self.counters([w])
        good = lread_request(OPEN, block1)
        bad = [good[:-1], good + b"x", b"GET / HTTP/1.1\r\n\r\n", b"\0" * 24,
               good[:20] + bytes([good[20] ^ 1]) + good[21:],           # CRC
               lread_request(7, 1), lread_request(HELLO, 5)]
        for raw in bad:
            msg, fds = ask(raw, closed=True)
            self.assertEqual((lread_reply(msg)[0], fds), (BAD_REQUEST, []), raw)
        c1 = self.counters([w])
        self.assertEqual(c1["short_circuit_bad_requests_total"]
                         - c0["short_circuit_bad_requests_total"], len(bad))
        self.assertEqual(c1["short_circuit_opens_total"], c0["short_circuit_opens_total"])
        self.assertIn("worker.local_socket: refused a request", w.read_log())
        # Still serving.
        msg, fds = ask(lread_request(HELLO))
        self.assertEqual(lread_reply(msg)[0], OK)

    def test_kernel_readahead_option(self):
        w = self.start_worker()
        size = 3 * BLOCK + 17
        data = self.put_file("ra.bin", size)
        self.cache(w, "ra.bin", size)
        mnt, _ = self.mount("local_socket=" + self.socket_of(w), "kernel_readahead=2048")
        with open(os.path.join(mnt, "ra.bin"), "rb") as f:
            self.assertEqual(sha(f.read()), sha(data))
        dev = os.stat(mnt).st_dev
        with open(f"/sys/class/bdi/{os.major(dev)}:{os.minor(dev)}/read_ahead_kb") as f:
            self.assertEqual(f.read().strip(), "2048")
        # A bad value is refused before mounting, the option named.
        r = subprocess.run([FUSE_BIN, os.path.join(self.tmp, "nowhere"), "-o",
                            "kernel_readahead=-1"], capture_output=True, text=True, timeout=30,
                           env=self.cluster.env())
        self.assertEqual(r.returncode, 2)
        self.assertIn("option 'kernel_readahead': -1 is not in 0..65536", r.stderr)

    def test_stale_socket_replaced_and_a_file_in_the_way_refused(self):
        w = self.start_worker()
        path = self.socket_of(w)
        w.stop()
        self.assertFalse(os.path.exists(path), "removed at stop")
        w.start()
        w.wait_ready()
        self.assertTrue(os.path.exists(path))
        w.kill()  # leaves the socket file behind
        self.assertTrue(os.path.exists(path))
        w.start()
        w.wait_ready()
        wait_for(lambda: os.path.exists(path), what="the socket again")
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(5)
            s.connect(path)
            s.send(lread_request(HELLO))
            self.assertEqual(lread_reply(s.recv(64))[0], OK)
        w.stop()
        in_the_way = os.path.join(self.tmp, "not-a-socket")
        with open(in_the_way, "w") as f:
            f.write("x")
        bad = self.cluster.worker(self.m, name="bad", settings={"worker.local_socket": in_the_way},
                                  wait=False)
        code = bad.proc.wait(15)
        self.assertNotEqual(code, 0)
        self.assertIn(f"worker.local_socket: '{in_the_way}' exists and is not a socket",
                      bad.read_log())
        bad.log.close()

    def test_a_socket_in_use_or_too_long_is_refused(self):
        shared = os.path.join(self.tmp, "shared.sock")
        self.cluster.worker(self.m, name="first", settings={"worker.local_socket": shared})
        second = self.cluster.worker(self.m, name="second",
                                     settings={"worker.local_socket": shared}, wait=False)
        self.assertNotEqual(second.proc.wait(15), 0)
        self.assertIn(f"worker.local_socket: '{shared}' is served by another process",
                      second.read_log())
        second.log.close()
        long_path = "/tmp/" + "x" * 120 + ".sock"
        too_long = self.cluster.worker(self.m, name="too-long",
                                       settings={"worker.local_socket": long_path}, wait=False)
        self.assertNotEqual(too_long.proc.wait(15), 0)
        self.assertIn("worker.local_socket: '" + long_path + "' is longer than a Unix socket",
                      too_long.read_log())
        too_long.log.close()
        # The default (relative) one in a long data directory: the worker
        # runs without it, and says so.
        deep = self.cluster.worker(self.m, name="deep-" + "d" * 110)
        self.assertIn("short-circuit reads are off", deep.read_log())
        self.assertEqual(get_json(deep.url + "/api/v1/health")[0], 200)
        r = subprocess.run([FUSE_BIN, os.path.join(self.tmp, "nowhere"), "-o",
                            "local_socket=" + long_path], capture_output=True, text=True,
                           timeout=30, env=self.cluster.env())
        self.assertEqual(r.returncode, 2)
        self.assertIn("option 'local_socket': '" + long_path + "' is longer", r.stderr)


if __name__ == "__main__":
    main()
