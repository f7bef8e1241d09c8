"""strata-top in batch mode against a running cluster (a master, two
workers, the local store mounted at /): an admin scripts it with -b/--json
and reads the same figures the screen shows. After a known read pattern the
hit rate moves as expected, and rates are deltas over the refresh interval:
an interval without reads shows 0 req/s, whatever the lifetime totals."""
import json
import os
import subprocess

from harness import (BUILD_DIR, ClusterTestCase, check_sanitizer_output, free_port, get_json,
                     main, request, sanitizer_env, wait_for, wait_heartbeats)

TOP_BIN = os.path.join(BUILD_DIR, "console", "tui", "strata-top")
MiB = 1 << 20


class TopBatchTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(self.root)
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root,
                                               "master.worker_timeout": "60s"})
        self.w = [self.cluster.worker(self.m, name=f"worker{i}") for i in (1, 2)]
        wait_for(lambda: sum(x["state"] == "live" for x in
                             get_json(self.m.url + "/api/v1/workers")[1]["workers"]) == 2,
                 what="two workers to register")
        # each worker knows the other (placement sends a block to its owner
        # from the first read on)
        wait_heartbeats(self.w)
        self.data = os.urandom(6 * MiB + 3)
        with open(os.path.join(self.root, "file.bin"), "wb") as f:
            f.write(self.data)

    def top(self, *args, timeout=60):
        r = subprocess.run([TOP_BIN, "--master", self.m.address, *args], capture_output=True,
                           text=True, env=sanitizer_env(self.cluster.env()), timeout=timeout)
        check_sanitizer_output(r.stdout + r.stderr, "strata-top")
        return r

    def read_file(self):
        status, _, body = request(self.w[0].url + "/api/v1/data?path=/file.bin")
        self.assertEqual((status, body == self.data), (200, True))

    def test_json_snapshots_follow_a_read_pattern(self):
        # A snapshot per interval, read line by line as they come: the
        # reads happen between known snapshots.
        p = subprocess.Popen([TOP_BIN, "--master", self.m.address, "--json", "-n", "4",
                              "-d", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=sanitizer_env(self.cluster.env()))
        try:
            docs = [json.loads(p.stdout.readline())]
            self.read_file()  # first read: misses, from the store
            docs.append(json.loads(p.stdout.readline()))
            self.read_file()  # second read: hits
            docs.append(json.loads(p.stdout.readline()))
            docs.append(json.loads(p.stdout.readline()))  # no reads
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
        check_sanitizer_output(out + err, "strata-top --json")
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(out, "", "exactly -n 4 documents")
        first, miss, hit, idle = docs
        self.docs = docs  # printed when an assertion fails
        self.assertEqual([d["iteration"] for d in docs], [1, 2, 3, 4])
        self.assertTrue(all(d["ok"] for d in docs))
        self.assertEqual(first["leader"], self.m.address)
        self.assertEqual(first["workers"], {"live": 2, "lost": 0})
        self.assertEqual({r["address"] for r in first["workers_table"]},
                         {w.address for w in self.w})
        # the first snapshot has nothing to difference against
        self.assertIsNone(first["interval_s"])
        self.assertIsNone(first["cluster"]["requests_per_s"])
        self.assertIsNone(first["cluster"]["hit_pct_requests"])

        c = miss["cluster"]
        self.assertAlmostEqual(miss["interval_s"], 2, delta=0.5)
        self.assertGreater(c["requests_per_s"], 0)
        self.assertEqual(c["hit_pct_requests"], 0, "the first read missed")
        self.assertEqual(c["hit_pct_bytes"], 0)
        self.assertAlmostEqual(c["store_mib_per_s"] * miss["interval_s"],
                               len(self.data) / MiB, delta=0.01)
        self.assertEqual(c["cache_mib_per_s"], 0)

        c = hit["cluster"]
        self.assertEqual(c["hit_pct_requests"], 100, "the second read hit")
        self.assertEqual(c["hit_pct_bytes"], 100)
        self.assertEqual(c["store_mib_per_s"], 0)
        self.assertAlmostEqual(c["cache_mib_per_s"] * hit["interval_s"],
                               len(self.data) / MiB, delta=0.01)
        self.assertEqual(c["hit_pct_requests_since_start"], 50)
        # per worker: the owner of the block served it from its cache
        served = sum(r["served_mib_per_s"] * hit["interval_s"] for r in hit["workers_table"])
        self.assertAlmostEqual(served, len(self.data) / MiB, delta=0.01)
        asked = [r for r in hit["workers_table"] if r["address"] == self.w[0].address][0]
        self.assertAlmostEqual(asked["requests_per_s"] * hit["interval_s"], 1, delta=0.01)
        self.assertTrue(any(r["MEM_used_pct"] > 0 for r in hit["workers_table"]))

        # rates are deltas: an idle interval is 0 req/s although the
        # lifetime totals are not
        c = idle["cluster"]
        self.assertEqual(c["requests_per_s"], 0)
        self.assertIsNone(c["hit_pct_requests"], "no reads, no ratio")
        self.assertEqual(c["hit_pct_requests_since_start"], 50)
        self.assertTrue(all(r["requests_per_s"] == 0 for r in idle["workers_table"]))

        # the sparkline: the master's history when it keeps one, else
        # strata-top's own samples (hit ratios of its intervals)
        status = request(self.m.url + "/api/v1/metrics/history")[0]
        series = idle["hit_ratio_series"]
        if status == 404:
            self.assertEqual(series["source"], "own")
            self.assertEqual(series["values"], [0, 1, None])
        else:
            self.assertEqual(status, 200)
            self.assertEqual(series["source"], "master")
            self.assertEqual(series["step_ms"],
                             get_json(self.m.url + "/api/v1/metrics/history")[1]["interval_ms"])

    def test_per_mount_rates_top_paths_and_store_errors(self):
        # a second mount beside the root one
        second = os.path.join(self.tmp, "second")
        os.makedirs(second)
        status, _, body = request(self.m.url + "/api/v1/mounts", method="POST",
                                  body={"path": "/second", "uri": "file://" + second})
        self.assertIn(status, (200, 201), body)
        small = os.urandom(64 << 10)
        with open(os.path.join(second, "a.bin"), "wb") as f:
            f.write(small)
        with open(os.path.join(self.root, "gone.bin"), "wb") as f:
            f.write(b"x" * 1000)
        # the workers learn the mount list with their heartbeats
        wait_heartbeats(self.w)
        wait_heartbeats(self.w)
        for w in self.w:
            mounts = [m["mount"] for m in get_json(w.url + "/api/v1/metrics")[1]["mounts"]]
            self.assertEqual(sorted(mounts), ["/", "/second"], w.address)

        p = subprocess.Popen([TOP_BIN, "--master", self.m.address, "--json", "-n", "3",
                              "-d", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=sanitizer_env(self.cluster.env()))
        try:
            first = json.loads(p.stdout.readline())
            for _ in range(3):  # one miss, two hits, all at worker 0
                status, _, body = request(self.w[0].url + "/api/v1/data?path=/second/a.bin")
                self.assertEqual((status, body == small), (200, True))
            # a file whose metadata strata knows, gone from its store
            self.assertEqual(request(self.m.url + "/api/v1/files?path=/gone.bin")[0], 200)
            os.unlink(os.path.join(self.root, "gone.bin"))
            status = request(self.w[0].url + "/api/v1/data?path=/gone.bin")[0]
            self.assertGreaterEqual(status, 400)
            wait_heartbeats(self.w)  # the master's sums include the error
            reads = json.loads(p.stdout.readline())
            later = json.loads(p.stdout.readline())
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
        check_sanitizer_output(out + err, "strata-top --json")
        self.assertEqual(p.returncode, 0, err)
        self.docs = [first, reads, later]
        rows = {r["address"]: r for r in reads["workers_table"]}
        asked = rows[self.w[0].address]
        # the asked worker counted three requests under /second
        sec = {m["mount"]: m for m in asked["mounts"]}["/second"]
        self.assertAlmostEqual(sec["requests_per_s"] * reads["interval_s"], 3, delta=0.01)
        # over the workers: one miss (the first read, from the store) then
        # two hits under /second, and nothing under /
        per = [{m["mount"]: m for m in get_json(w.url + "/api/v1/metrics")[1]["mounts"]}
               for w in self.w]
        self.assertEqual(sum(p["/second"]["block_misses"] for p in per), 1, per)
        self.assertEqual(sum(p["/second"]["block_hits"] for p in per), 2, per)
        self.assertEqual(sum(p["/second"]["bytes_from_ufs"] for p in per), len(small), per)
        self.assertEqual(sum(p["/second"]["bytes_from_cache"] for p in per), 2 * len(small))
        # the most requested path at the asked worker
        self.assertEqual(asked["top_paths"][0]["path"], "/second/a.bin")
        self.assertGreaterEqual(asked["top_paths"][0]["requests"], 3)
        self.assertEqual(asked["top_paths"][0]["bytes"], 3 * len(small))
        # the store error: counted by the worker, summed by the master,
        # shown by strata-top
        ws = [get_json(w.url + "/api/v1/metrics")[1]["counters"]["store_read_errors_total"]
              for w in self.w]
        self.assertEqual(sum(ws), 1, ws)
        self.assertGreater(reads["cluster"]["store_read_errors_per_s"] or
                           later["cluster"]["store_read_errors_per_s"], 0)
        r = self.top("-b", "-n", "1")
        self.assertIn("store read ", r.stdout)
        self.assertIn("(1)", r.stdout.split("store read ")[1].split("cache put")[0])

    def run(self, result=None):
        result = result or self.defaultTestResult()
        n = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > n and getattr(self, "docs", None):
            for d in self.docs:
                print(json.dumps(d))
        return result

    def test_text_batch(self):
        r = self.top("-b", "-n", "2", "-d", "0.5")
        self.assertEqual(r.returncode, 0, r.stderr)
        shots = [s for s in r.stdout.split("strata-top ")[1:]]
        self.assertEqual(len(shots), 2, r.stdout)
        for s in shots:
            self.assertIn(f"leader {self.m.address}", s)
            self.assertIn("workers 2 live, 0 lost", s)
            self.assertIn("ADDRESS", s)
            for w in self.w:
                self.assertIn(w.address, s)
        # rates only from the second snapshot on
        self.assertIn("Reads  - req/s", shots[0])
        self.assertIn("Reads  0.0 req/s", shots[1])

    def test_no_master_answers(self):
        dead = f"127.0.0.1:{free_port()}"
        r = subprocess.run([TOP_BIN, "--master", dead, "-b", "-n", "1"], capture_output=True,
                           text=True, env=sanitizer_env(self.cluster.env()), timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("NO MASTER ANSWERS", r.stdout)
        self.assertIn(dead, r.stdout)
        r = subprocess.run([TOP_BIN, "--master", dead, "--json", "-n", "1"],
                           capture_output=True, text=True,
                           env=sanitizer_env(self.cluster.env()), timeout=60)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["ok"], False)
        self.assertIn(dead, doc["error"])

    def test_usage(self):
        r = self.top("--help")
        self.assertEqual(r.returncode, 0)
        for word in ("--batch", "--json", "--delay", "--iterations", "--master", "Keys:",
                     "quit", "help", "sort", "reverse", "masters view", "jobs view",
                     "detail", "pause", "filter", "NO_COLOR"):
            self.assertIn(word, r.stdout)
        for col in ("ADDRESS", "STATE", "HIT%", "REQ/s", "MiB/s", "STORE/s", "MEM%", "SSD%",
                    "HDD%", "EVICT/s", "HB AGE"):
            self.assertIn(col, r.stdout)
        for bad in (["-d", "0"], ["-d", "x"], ["-n", "0"], ["--nope"], ["extra"]):
            r = self.top(*bad)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("strata-top", r.stderr)


if __name__ == "__main__":
    main()
