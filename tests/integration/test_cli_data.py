"""`strata fs put` and `strata fs cat` carry the bytes through a worker, never
through a master: the second read of a file is a cache hit on the worker,
the master's process moves no file bytes, the write type is the user's
choice, and a missing path or a cluster without workers is a clear error."""
import os
import subprocess

from harness import CLI_BIN, ClusterTestCase, get_json, main, request, wait_for

MiB = 1 << 20


def io_bytes(daemon):
    """Bytes the process read and wrote through syscalls (sockets, files)."""
    with open(f"/proc/{daemon.proc.pid}/io") as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["rchar"]) + int(fields["wchar"])


class CliDataTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(self.root)
        # Workers stay listed as live for a minute after they stop answering.
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root,
                                               "master.worker_timeout": "60s"})
        self.addr = ["--master", self.m.address]

    def start_worker(self, name="worker"):
        w = self.cluster.worker(self.m, name=name)
        wait_for(lambda: any(x["state"] == "live" and x["address"] == w.address
                             for x in get_json(self.m.url + "/api/v1/workers")[1]["workers"]),
                 what=f"{name} to register")
        return w

    def cli_bytes(self, *args, data=None):
        """The CLI with binary standard input and output."""
        return subprocess.run([CLI_BIN, *self.addr, *args], input=data, capture_output=True,
                              env=self.cluster.env(), timeout=60)

    def counters(self, w):
        return get_json(w.url + "/api/v1/metrics")[1]["counters"]

    def test_put_then_cat_twice_is_a_cache_hit_on_the_worker(self):
        w = self.start_worker()
        data = os.urandom(8 * MiB + 5)
        local = os.path.join(self.tmp, "local.bin")
        with open(local, "wb") as f:
            f.write(data)
        before = io_bytes(self.m)
        # THROUGH: straight to the store, nothing cached, so the first read
        # below is a miss.
        r = self.cluster.cli(*self.addr, "fs", "put", "--write-type", "THROUGH", local,
                             "/d/file.bin")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.root, "d", "file.bin"), "rb") as f:
            self.assertEqual(f.read(), data, "the worker wrote the store")
        c0 = self.counters(w)
        self.assertEqual(c0["bytes_from_cache_total"], 0)

        r = self.cli_bytes("fs", "cat", "/d/file.bin")
        self.assertEqual((r.returncode, r.stdout), (0, data), r.stderr)
        c1 = self.counters(w)
        self.assertEqual(c1["bytes_from_ufs_total"] - c0["bytes_from_ufs_total"], len(data))

        out = self.cli_bytes("fs", "cat", "/d/file.bin")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout, data)
        c2 = self.counters(w)
        self.assertEqual(c2["bytes_from_ufs_total"], c1["bytes_from_ufs_total"],
                         "the second read did not go to the store")
        self.assertEqual(c2["bytes_from_cache_total"] - c1["bytes_from_cache_total"], len(data))
        self.assertGreater(c2["block_hits_total"], c1["block_hits_total"])

        # The master answered metadata only: its process moved far fewer
        # bytes than one copy of the file over the whole put + 2 cats.
        moved = io_bytes(self.m) - before
        self.assertLess(moved, len(data) // 4, f"the master moved {moved} bytes")
        # ...and it has no content route left to carry them.
        status, _, _ = request(self.m.url + "/api/v1/files/content?path=%2Fd%2Ffile.bin")
        self.assertEqual(status, 404)

    def test_cat_gets_what_the_master_has_from_a_worker_that_knows_an_older_version(self):
        """A worker trusts its metadata for worker.metadata_ttl (1 h
        here: no epoch check comes between): a file moved over another through the master is not yet
        known to it, and cat names the version the master has."""
        w = self.cluster.worker(self.m, settings={"worker.metadata_ttl": "1h"})
        wait_for(lambda: get_json(self.m.url + "/api/v1/workers")[1]["workers"],
                 what="the worker to register")
        for path, data in (("/t/old", b"old"), ("/t/new", b"the new one")):
            r = self.cli_bytes("fs", "put", "-", path, data=data)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.cli_bytes("fs", "cat", "/t/old").stdout, b"old")
        for args in (("rm", "/t/old"), ("mv", "/t/new", "/t/old")):
            r = self.cli_bytes("fs", *args)
            self.assertEqual(r.returncode, 0, r.stderr)
        before = self.counters(w)["data_version_lookups_total"]
        r = self.cli_bytes("fs", "cat", "/t/old")
        self.assertEqual((r.returncode, r.stdout), (0, b"the new one"), r.stderr)
        self.assertEqual(self.counters(w)["data_version_lookups_total"], before + 1)

    def test_default_write_type_caches(self):
        w = self.start_worker()
        r = self.cli_bytes("fs", "put", "-", "/piped.txt", data=b"0123456789" * 1000)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cluster.cli(*self.addr, "fs", "cat", "/piped.txt")
        self.assertEqual(r.stdout, "0123456789" * 1000)
        c = self.counters(w)
        self.assertEqual(c["bytes_from_ufs_total"], 0, "CACHE_THROUGH cached what it wrote")
        r = self.cluster.cli(*self.addr, "fs", "put", "--write-type", "SOMETIMES", "/x", "/y")
        self.assertEqual(r.returncode, 2)
        missing = os.path.join(self.tmp, "not-here.bin")
        r = self.cluster.cli(*self.addr, "fs", "put", missing, "/y")
        self.assertEqual((r.returncode, r.stderr),
                         (1, f"strata: {missing}: No such file or directory\n"))

    def test_missing_path_and_no_worker(self):
        with open(os.path.join(self.root, "here.txt"), "wb") as f:
            f.write(b"in the store")
        r = self.cluster.cli(*self.addr, "fs", "cat", "/here.txt")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "strata: /here.txt: no live worker to carry the data\n")
        r = self.cluster.cli(*self.addr, "fs", "cat", "/nope")
        self.assertEqual((r.returncode, r.stderr),
                         (1, "strata: /nope: no such file or directory\n"))
        self.start_worker()
        r = self.cluster.cli(*self.addr, "fs", "cat", "/nope")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertEqual(r.stderr, "strata: /nope: no such file or directory\n")
        r = self.cluster.cli(*self.addr, "fs", "cat", "/")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "strata: /: is a directory\n")

    def test_a_dead_worker_is_passed_over(self):
        a = self.start_worker("a")
        b = self.start_worker("b")
        for i in range(8):
            with open(os.path.join(self.root, f"f{i}.txt"), "wb") as f:
                f.write(b"still here %d" % i)
        # Kill one: the master still lists it as live, and the CLI moves on
        # to the other whenever a path picks the dead one first.
        a.kill()
        self.assertEqual(len([x for x in get_json(self.m.url + "/api/v1/workers")[1]["workers"]
                              if x["state"] == "live"]), 2)
        for i in range(8):
            r = self.cluster.cli(*self.addr, "fs", "cat", f"/f{i}.txt")
            self.assertEqual((r.returncode, r.stdout), (0, f"still here {i}"), r.stderr)
        # With both gone the CLI says so, naming the path and a worker.
        b.kill()
        r = self.cluster.cli(*self.addr, "fs", "cat", "/f0.txt")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertTrue(r.stderr.startswith("strata: /f0.txt: no live worker answered (last: "),
                        r.stderr)


if __name__ == "__main__":
    main()
