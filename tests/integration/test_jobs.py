"""Data jobs with real daemons and a real s3rver as the store: an admin
loads a thousand small objects into the workers' caches with one REST call
and watches the job's progress climb to the totals; afterwards reads are
cache hits. A big file is loaded block by block across workers and a free
job drops its blocks again (a pinned file is kept and reported). A job can
be cancelled; a load survives a leader SIGKILL in a three-master group and
finishes without loading what was done again; every bad input is a 4xx
naming its field; the CLI waits with progress lines or prints the id."""
import json
import os
import signal
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from harness import (CLI_BIN, ClusterTestCase, S3rver, get_json, main, post_json, request, wait_for,
                     wait_heartbeats, wait_leader)

BUCKET = "strata-jobs"
MiB = 1 << 20


def q(path):
    return urllib.parse.quote(path, safe="")


def delete_json(url):
    status, _, data = request(url, method="DELETE")
    return status, (json.loads(data) if data else None)


class JobsTest(ClusterTestCase):
    def start(self, masters=1, workers=2, settings=None, worker_settings=None):
        self.s3 = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.s3.stop)
        self.bucket = self.s3.client()
        s = {"master.mount.block_size": "1MiB"}
        s.update(settings or {})
        if masters == 1:
            self.ms = [self.cluster.master(settings=s)]
        else:
            self.ms = self.cluster.masters(masters, settings=s)
        self.lead = wait_leader(self.ms) if masters > 1 else self.ms[0]
        self.ws = [self.cluster.worker(self.ms, name=f"worker{i}", settings=worker_settings)
                   for i in range(workers)]
        wait_for(lambda: len(get_json(self.lead.url + "/api/v1/workers")[1]["workers"]) ==
                 workers, what="the workers to register")
        wait_heartbeats(self.ws)
        status, body = post_json(self.lead.url + "/api/v1/mounts", {
            "path": "/s3", "uri": f"s3://{BUCKET}/data",
            "options": {"s3.endpoint": self.s3.endpoint, "s3.access_key": S3rver.ACCESS_KEY,
                        "s3.secret_key": S3rver.SECRET_KEY, "s3.path_style": "true",
                        "s3.region": "us-east-1"}})
        self.assertEqual(status, 201, body)

    @property
    def api(self):
        return self.lead.url + "/api/v1"

    def put_objects(self, prefix, n, size):
        """n objects straight into the bucket, then a listing so the
        namespace knows them."""
        def put(i):
            self.bucket.put_object(Bucket=BUCKET, Key=f"data/{prefix}/f{i:05d}",
                                   Body=bytes([i % 251]) * size)
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(put, range(n)))
        status, body = get_json(f"{self.api}/files?path={q('/s3/' + prefix)}&limit=100000")
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["entries"]), n)

    def counters(self, w):
        return get_json(w.url + "/api/v1/metrics")[1]["counters"]

    def total(self, key):
        return sum(self.counters(w)[key] for w in self.ws)

    def create(self, body, expect=201):
        status, r = post_json(f"{self.api}/jobs", body)
        self.assertEqual(status, expect, r)
        return r

    def job(self, jid, url=None):
        status, r = get_json(f"{url or self.api}/jobs/{jid}")
        self.assertEqual(status, 200, r)
        return r["job"]

    def wait_end(self, jid, timeout=60, seen=None):
        def ended():
            j = self.job(jid)
            if seen is not None:
                seen.append(j)
            return j if j["state"] not in ("queued", "running") else None
        return wait_for(ended, timeout=timeout, interval=0.02, what=f"job {jid} to end")

    def test_load_many_small_files_then_reads_hit(self):
        self.start()
        n, size = 1000, 2048
        self.put_objects("small", n, size)
        ufs0 = self.total("bytes_from_ufs_total")
        jid = self.create({"type": "load", "path": "/s3/small", "recursive": True})["id"]
        self.assertRegex(jid, r"^[0-9]+$")
        seen = []
        j = self.wait_end(jid, seen=seen)
        self.assertEqual(j["state"], "done", j)
        self.assertEqual((j["files_total"], j["files_done"], j["files_failed"]), (n, n, 0))
        self.assertEqual((j["bytes_total"], j["bytes_done"]), (n * size, n * size))
        self.assertEqual((j["eta_ms"], j["errors"]), (0, []))
        self.assertGreater(j["rate_bytes_per_s"], 0)
        done = [s["files_done"] for s in seen]
        self.assertEqual(done, sorted(done), "progress went backwards")
        self.assertEqual([s["bytes_done"] for s in seen], sorted(s["bytes_done"] for s in seen))
        self.assertTrue(any(0 < d < n for d in done), f"no progress between 0 and {n}: {done}")
        # Each object was read from the store exactly once, by its owner.
        self.assertEqual(self.total("bytes_from_ufs_total") - ufs0, n * size)
        blocks = sum(t["blocks"] for w in self.ws
                     for t in get_json(w.url + "/api/v1/worker")[1]["tiers"])
        self.assertEqual(blocks, n)
        # Reads now hit: no byte from the store, hits on the owners.
        hits0 = self.total("block_hits_total")
        for i in range(0, n, 50):
            status, _, body = request(f"{self.ws[0].url}/api/v1/data?path=/s3/small/f{i:05d}")
            self.assertEqual((status, body), (200, bytes([i % 251]) * size))
        self.assertEqual(self.total("bytes_from_ufs_total") - ufs0, n * size)
        self.assertGreaterEqual(self.total("block_hits_total") - hits0, n // 50)
        # Counted by the leader, in both metric formats.
        mm = get_json(f"{self.api}/metrics")[1]["master"]
        self.assertEqual((mm["job_files_loaded_total"], mm["job_bytes_loaded_total"]),
                         (n, n * size))
        _, _, prom = request(self.lead.url + "/metrics")
        self.assertIn(f'strata_master_job_files_total{{result="loaded"}} {n}\n'.encode(), prom)
        # Listed, and in the events.
        status, l = get_json(f"{self.api}/jobs")
        self.assertEqual(status, 200)
        self.assertEqual([x["id"] for x in l["jobs"]], [jid])
        status, ev = get_json(f"{self.api}/events")
        types = [e["type"] for e in ev["events"] if e["path"] == "/s3/small"]
        self.assertIn("job_started", types)
        self.assertIn("job_done", types)

    def test_big_file_by_block_then_free_keeps_pinned(self):
        self.start()
        big = os.urandom(5 * MiB + 123)
        self.bucket.put_object(Bucket=BUCKET, Key="data/big/blob", Body=big)
        self.bucket.put_object(Bucket=BUCKET, Key="data/big/keep", Body=b"k" * 1000)
        get_json(f"{self.api}/files?path=/s3/big")
        j = self.wait_end(self.create({"type": "load", "path": "/s3/big"})["id"])
        self.assertEqual((j["state"], j["files_done"], j["bytes_done"]),
                         ("done", 2, len(big) + 1000), j)

        def cached():
            return [sum(t["blocks"] for t in get_json(w.url + "/api/v1/worker")[1]["tiers"])
                    for w in self.ws]
        per_worker = cached()
        self.assertEqual(sum(per_worker), 7, per_worker)
        self.assertTrue(all(c > 0 for c in per_worker), f"one worker got all: {per_worker}")
        status, _, body = request(f"{self.ws[1].url}/api/v1/data?path=/s3/big/blob")
        self.assertEqual((status, body == big), (200, True))

        status, r = request(f"{self.api}/files/pin", method="PUT",
                            body={"path": "/s3/big/keep"})[:2]
        self.assertEqual(status, 200)
        j = self.wait_end(self.create({"type": "free", "path": "/s3/big"})["id"])
        self.assertEqual(j["state"], "failed", j)
        self.assertEqual((j["files_done"], j["files_failed"]), (1, 1))
        self.assertEqual(j["errors"][0]["path"], "/s3/big/keep")
        self.assertIn("pinned", j["errors"][0]["reason"])
        self.assertEqual(sum(cached()), 1, "only the pinned file's block is left")
        ufs0 = self.total("bytes_from_ufs_total")
        status, _, body = request(f"{self.ws[0].url}/api/v1/data?path=/s3/big/blob")
        self.assertEqual((status, body == big), (200, True))
        self.assertGreaterEqual(self.total("bytes_from_ufs_total") - ufs0, 5 * MiB,
                                "freed blocks are read from the store again")

    def test_pinned_file_is_loaded_and_survives_eviction_pressure(self):
        self.start(workers=1, worker_settings={"worker.tier.mem.quota": "4MiB",
                                               "worker.metadata_ttl": "300ms"})
        keep = os.urandom(2 * MiB)
        self.bucket.put_object(Bucket=BUCKET, Key="data/p/keep", Body=keep)
        for i in range(8):
            self.bucket.put_object(Bucket=BUCKET, Key=f"data/p/other{i}", Body=os.urandom(MiB))
        get_json(f"{self.api}/files?path=/s3/p")
        w = self.ws[0]

        def read(name):
            status, _, body = request(f"{w.url}/api/v1/data?path=/s3/p/{name}")
            self.assertEqual(status, 200)
            return body

        def pressure():
            ev0 = self.counters(w)["evictions_total"]
            for _ in range(2):
                for i in range(8):
                    read(f"other{i}")
            self.assertGreater(self.counters(w)["evictions_total"], ev0 + 8,
                               "no eviction pressure")

        # Pinning starts a load job: the file is cached before anyone reads it.
        status, _, body = request(f"{self.api}/files/pin", method="PUT",
                                  body={"path": "/s3/p/keep"})
        r = json.loads(body)
        self.assertEqual(status, 200, r)
        self.assertRegex(r["load_job"], r"^[0-9]+$")
        j = self.wait_end(r["load_job"])
        self.assertEqual((j["state"], j["bytes_done"]), ("done", len(keep)), j)
        pressure()
        c0 = self.counters(w)
        self.assertEqual(read("keep"), keep)
        c1 = self.counters(w)
        self.assertEqual((c1["block_hits_total"] - c0["block_hits_total"],
                          c1["block_misses_total"] - c0["block_misses_total"]), (2, 0),
                         "a pinned block was evicted")
        # Unpinned, its blocks are unpinned as they are read, then evictable.
        status, _, body = request(f"{self.api}/files/pin?path=/s3/p/keep", method="DELETE")
        self.assertEqual(status, 200, body)
        self.assertNotIn(b"load_job", body)
        time.sleep(0.6)  # two metadata TTLs: the worker knows
        self.assertEqual(read("keep"), keep)
        pressure()
        c0 = self.counters(w)
        self.assertEqual(read("keep"), keep)
        c1 = self.counters(w)
        self.assertEqual(c1["block_misses_total"] - c0["block_misses_total"], 2,
                         "an unpinned file stayed pinned")

    def test_a_file_that_fails_is_listed_and_the_rest_load(self):
        self.start(workers=1)
        self.put_objects("e", 20, 100)
        # Gone from the store behind strata's back: its read fails.
        self.bucket.delete_object(Bucket=BUCKET, Key="data/e/f00007")
        j = self.wait_end(self.create({"type": "load", "path": "/s3/e"})["id"])
        self.assertEqual(j["state"], "failed", j)
        self.assertEqual((j["files_done"], j["files_failed"], j["errors_total"]), (19, 1, 1))
        self.assertEqual(j["errors"][0]["path"], "/s3/e/f00007")
        self.assertIn("worker", j["errors"][0]["reason"])
        self.assertIn("1 of 20 files failed", j["reason"])
        status, ev = get_json(f"{self.api}/events")
        self.assertIn("job_failed", [e["type"] for e in ev["events"]])

    def test_a_job_waits_for_a_worker(self):
        self.start(workers=0)
        self.bucket.put_object(Bucket=BUCKET, Key="data/w/f", Body=b"w" * 5000)
        get_json(f"{self.api}/files?path=/s3/w")
        jid = self.create({"type": "load", "path": "/s3/w"})["id"]
        time.sleep(0.5)
        j = self.job(jid)
        self.assertEqual((j["state"], j["files_done"], j["eta_ms"]), ("queued", 0, -1), j)
        self.assertIn("no live worker; job", self.lead.read_log())
        self.ws = [self.cluster.worker(self.ms, name="late")]
        j = self.wait_end(jid, timeout=30)
        self.assertEqual((j["state"], j["files_done"], j["bytes_done"]), ("done", 1, 5000), j)

    def test_cancel(self):
        self.start(workers=1)
        self.put_objects("c", 600, 512)
        jid = self.create({"type": "load", "path": "/s3", "recursive": True})["id"]
        wait_for(lambda: self.job(jid)["files_done"] > 0, timeout=30, interval=0.01,
                 what="the first slice")
        status, r = delete_json(f"{self.api}/jobs/{jid}")
        self.assertEqual(status, 200, r)
        self.assertEqual(r["job"]["state"], "cancelled")
        self.assertEqual(r["job"]["reason"], "cancelled by a request")
        time.sleep(1.0)
        j = self.job(jid)
        self.assertEqual(j["state"], "cancelled")
        self.assertLess(j["files_done"], 600, "a cancelled job went on to the end")
        self.assertEqual(self.job(jid)["files_done"], j["files_done"])
        status, r = delete_json(f"{self.api}/jobs/{jid}")
        self.assertEqual(status, 409, r)
        self.assertIn("cancelled already", r["error"]["message"])
        status, ev = get_json(f"{self.api}/events")
        self.assertIn("job_cancelled", [e["type"] for e in ev["events"]])

    def test_bad_input_is_4xx_naming_the_field(self):
        self.start(workers=1)
        url = f"{self.api}/jobs"
        cases = [
            ({"type": "copy", "path": "/s3"}, 400, "type"),
            ({"path": "/s3"}, 400, "type"),
            ({"type": "load"}, 400, "path"),
            ({"type": "load", "path": 7}, 400, "path"),
            ({"type": "load", "path": "relative/x"}, 400, "path"),
            ({"type": "load", "path": "/nowhere/x"}, 404, "path"),
            ({"type": "load", "path": "/s3", "recursive": "yes"}, 400, "recursive"),
            ({"type": "load", "path": "/s3", "medium": "TAPE"}, 400, "medium"),
            ({"type": "free", "path": "/s3", "medium": "MEM"}, 400, "medium"),
        ]
        for body, want, field in cases:
            status, r = post_json(url, body)
            self.assertEqual(status, want, (body, r))
            self.assertIn(field, r["error"]["message"], body)
        status, r = post_json(url, [{"type": "load", "path": "/s3"}])
        self.assertEqual(status, 400, r)
        self.assertIn("JSON object", r["error"]["message"])
        status, _, data = request(url, method="POST", body=b"{not json",
                                  headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400, data)
        self.assertIn(b"error", data)
        for method, path, want in (("GET", "/999", 404), ("DELETE", "/999", 404),
                                   ("GET", "/abc", 400), ("DELETE", "/0", 400)):
            status, _, data = request(url + path, method=method)
            self.assertEqual(status, want, (method, path, data))
            self.assertIn("'id'", json.loads(data)["error"]["message"], (method, path))
        status, l = get_json(url)
        self.assertEqual((status, l["jobs"]), (200, []))
        # The console's jobs page is announced.
        self.assertIn("jobs", get_json(f"{self.api}/cluster")[1]["features"])
        # The workers' job RPCs refuse what they cannot use, naming it.
        w = self.ws[0].url + "/api/v1/internal/"
        for route, body, field in (
                ("load", {}, "path"),
                ("load", {"path": "/s3", "data_id": "x", "offset": "0", "length": "1"},
                 "data_id"),
                ("load", {"path": "/s3/none", "data_id": "1", "offset": "0", "length": "1"},
                 "/s3/none"),
                ("free", {"blocks": 3}, "blocks"),
                ("free", {"blocks": [{"data_id": "1"}]}, "count")):
            status, r = post_json(w + route, body)
            self.assertGreaterEqual(status, 400, (route, body, r))
            self.assertLess(status, 500, (route, body, r))
            self.assertIn(field, r["error"]["message"], (route, body))
        status, r = post_json(w + "free", {"blocks": [{"data_id": "12345", "count": "3"}]})
        self.assertEqual((status, r), (200, {"removed": 0}))

    def test_cli_waits_with_progress_or_prints_the_id(self):
        self.start()
        n, size = 600, 1024
        self.put_objects("cli", n, size)
        addr = ["--master", self.lead.address]
        # Not a terminal: plain progress lines, then the outcome.
        r = self.cluster.cli(*addr, "fs", "load", "-R", "/s3/cli", timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertGreaterEqual(len(lines), 2, r.stdout)
        self.assertRegex(lines[0], r"^load /s3/cli: \d+/600 files, .* ETA ")
        last = lines[-1]
        self.assertTrue(last.startswith("load /s3/cli: done: 600/600 files"), r.stdout)
        self.assertIn("ETA", last)
        # --no-wait prints the id; admin jobs shows it; --json everywhere.
        r = self.cluster.cli(*addr, "fs", "free", "-R", "--no-wait", "/s3/cli")
        self.assertEqual(r.returncode, 0, r.stderr)
        jid = r.stdout.strip()
        self.assertRegex(jid, r"^[0-9]+$")
        j = self.wait_end(jid)
        self.assertEqual((j["state"], j["files_done"]), ("done", n), j)
        r = self.cluster.cli(*addr, "admin", "jobs")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[1].startswith(f"{jid} ") and " free " in lines[1], r.stdout)
        self.assertIn(" load ", lines[2])
        r = self.cluster.cli(*addr, "admin", "jobs", jid, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["state"], "done")
        r = self.cluster.cli(*addr, "--json", "fs", "load", "/s3/cli/f00001")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["files_done"], 1)
        # A terminal gets a bar redrawn in place.
        pid, fd = os.forkpty()
        if pid == 0:
            os.execve(CLI_BIN, [CLI_BIN, *addr, "fs", "load", "-R", "/s3/cli"], self.cluster.env())
        out = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, out)
        self.assertIn(b"\r[##############################] 600/600 files", out)
        self.assertIn(b"load /s3/cli: done", out)
        # Errors: each a non-zero exit naming what was wrong.
        for args, want in ((("fs", "load", "/s3/nope"), "/s3/nope"),
                           (("fs", "load", "--medium", "TAPE", "/s3/cli"), "medium"),
                           (("admin", "jobs", "cancel", jid), "done already"),
                           (("admin", "jobs", "424242"), "424242")):
            r = self.cluster.cli(*addr, *args)
            self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
            self.assertIn(want, r.stderr, args)
        r = self.cluster.cli(*addr, "admin", "jobs", "x1")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_load_survives_leader_kill_without_redoing(self):
        self.start(masters=3, workers=2)
        n, size = 1000, 4096
        self.put_objects("ha", n, size)
        ufs0 = self.total("bytes_from_ufs_total")
        jid = self.create({"type": "load", "path": "/s3/ha", "recursive": True})["id"]
        wait_for(lambda: 0 < self.job(jid)["files_done"] < n // 2, timeout=30, interval=0.005,
                 what="the job to be under way")
        old = self.lead
        old.kill()
        self.lead = wait_leader(self.ms, exclude=(old,))
        seen = []
        j = self.wait_end(jid, timeout=60, seen=seen)
        self.assertEqual(j["state"], "done", j)
        self.assertEqual((j["files_done"], j["bytes_done"], j["files_failed"]),
                         (n, n * size, 0))
        done = [s["files_done"] for s in seen]
        self.assertEqual(done, sorted(done))
        # At most the slice in flight at the kill (64 files) is read again.
        read = self.total("bytes_from_ufs_total") - ufs0
        self.assertGreaterEqual(read, n * size)
        self.assertLessEqual(read, (n + 64) * size, "the new leader redid finished work")


if __name__ == "__main__":
    main()
