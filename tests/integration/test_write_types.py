"""Write types and persistence with real daemons and a real s3rver as the
store. A user writes through the S3 gateway and the CLI with each of the
four write types: THROUGH and CACHE_THROUGH reach the store at once,
ASYNC_THROUGH is acknowledged from the cache and appears in the store
shortly after (a persist job), MUST_CACHE never reaches the store unless
someone runs `strata fs persist`. A directory's write type policy applies
to what is written under it. With the store down, an ASYNC_THROUGH write is
still acknowledged, its data survives a worker restart (SSD tier) and is
persisted once the store is back; when every cached copy is gone before
that, the file shows `lost`, a read of it fails clearly and the event is
recorded. An unknown write type is a 400 naming the header or field."""
import json
import os
import shutil
import time
import urllib.parse

import botocore.config
import botocore.exceptions
import boto3

from harness import (ClusterTestCase, S3rver, get_json, main, post_json, request, wait_for,
                     wait_heartbeats, wait_leader)

BUCKET = "strata-wt"
MiB = 1 << 20
TYPES = ("THROUGH", "CACHE_THROUGH", "ASYNC_THROUGH", "MUST_CACHE")


def q(path):
    return urllib.parse.quote(path, safe="")


class WriteTypesTest(ClusterTestCase):
    def start(self, masters=1, workers=1, worker_settings=None):
        self.s3 = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.s3.stop)
        self.store = self.s3.client()
        s = {"master.mount.block_size": "1MiB",
             "master.persist_backoff": "200ms",
             "master.persist_backoff_max": "1s",
             "master.persist_check_interval": "300ms"}
        if masters == 1:
            self.ms = [self.cluster.master(settings=s)]
            self.m = self.ms[0]
        else:
            self.ms = self.cluster.masters(masters, settings=s)
            self.m = wait_leader(self.ms)
        self.ssd = os.path.join(self.tmp, "ssd")
        self.ws = [self.cluster.worker(
            self.ms, name=f"worker{i}",
            settings={"worker.tier.ssd.dirs": self.ssd + (str(i) if i else ""),
                      "worker.tier.ssd.quota": "64MB", "worker.metadata_ttl": "1s",
                      **(worker_settings or {})})
            for i in range(workers)]
        self.w = self.ws[0]
        wait_for(lambda: len(get_json(self.m.url + "/api/v1/workers")[1]["workers"]) == workers,
                 what="the workers to register")
        wait_heartbeats(self.ws)
        status, body = post_json(self.m.url + "/api/v1/mounts", {
            "path": "/s3", "uri": f"s3://{BUCKET}/data",
            "options": {"s3.endpoint": self.s3.endpoint, "s3.access_key": S3rver.ACCESS_KEY,
                        "s3.secret_key": S3rver.SECRET_KEY, "s3.path_style": "true",
                        "s3.region": "us-east-1"}})
        self.assertEqual(status, 201, body)
        self.gw = f"http://127.0.0.1:{self.w.settings['worker.s3_port']}"
        self.addr = ["--master", ",".join(m.address for m in self.ms)]

    # ---- helpers ----

    def gw_of(self, w):
        return f"http://127.0.0.1:{w.settings['worker.s3_port']}"

    def gw_put(self, key, data, write_type=None, w=None):
        headers = {"Content-Type": "application/octet-stream"}
        if write_type:
            headers["x-strata-write-type"] = write_type
        return request(f"{self.gw_of(w or self.w)}/s3/{key}", method="PUT", body=data,
                       headers=headers)

    def gw_get(self, key, w=None):
        return request(f"{self.gw_of(w or self.w)}/s3/{key}")

    def stat(self, path):
        status, body = get_json(f"{self.m.url}/api/v1/files/stat?path={q(path)}")
        self.assertEqual(status, 200, body)
        return body

    def in_store(self, key):
        try:
            return self.store.get_object(Bucket=BUCKET, Key="data/" + key)["Body"].read()
        except self.store.exceptions.NoSuchKey:
            return None

    def wait_state(self, path, state, timeout=20):
        wait_for(lambda: self.stat(path)["persistence"] == state, timeout=timeout,
                 what=f"{path} to be {state} (now {self.stat(path)['persistence']})")

    def cli(self, *args):
        return self.cluster.cli(*self.addr, *args)

    def events(self):
        return get_json(self.m.url + "/api/v1/events")[1]["events"]

    # ---- tests ----

    def test_each_write_type_through_the_gateway_and_the_cli(self):
        self.start()
        data = {t: os.urandom(int(1.5 * MiB)) + t.encode() for t in TYPES}
        for t in TYPES:
            status, _, body = self.gw_put(f"gw/{t}.bin", data[t], t)
            self.assertEqual(status, 200, body)
        # The two that go through the store are there at once.
        for t in ("THROUGH", "CACHE_THROUGH"):
            self.assertEqual(self.in_store(f"gw/{t}.bin"), data[t], t)
            self.assertEqual(self.stat(f"/s3/gw/{t}.bin")["persistence"], "persisted")
        # (block locations come with the worker's next heartbeat)
        wait_for(lambda: self.stat("/s3/gw/CACHE_THROUGH.bin")["cached_percent"] == 100,
                 what="CACHE_THROUGH's blocks to be reported cached")
        self.assertEqual(self.stat("/s3/gw/THROUGH.bin")["cached_percent"], 0)
        # ASYNC_THROUGH: acknowledged from the cache, in the store shortly
        # after, by a persist job it queued.
        self.wait_state("/s3/gw/ASYNC_THROUGH.bin", "persisted")
        self.assertEqual(self.in_store("gw/ASYNC_THROUGH.bin"), data["ASYNC_THROUGH"])
        jobs = get_json(self.m.url + "/api/v1/jobs")[1]["jobs"]
        pj = [j for j in jobs if j["type"] == "persist" and j["path"] == "/s3/gw/ASYNC_THROUGH.bin"]
        self.assertEqual(len(pj), 1, jobs)
        wait_for(lambda: get_json(f"{self.m.url}/api/v1/jobs/{pj[0]['id']}")[1]["job"]["state"]
                 == "done", what="the persist job to end")
        # An empty file has no block and persists all the same.
        status, _, body = self.gw_put("gw/empty.bin", b"", "ASYNC_THROUGH")
        self.assertEqual(status, 200, body)
        self.wait_state("/s3/gw/empty.bin", "persisted")
        self.assertEqual(self.in_store("gw/empty.bin"), b"")
        # A listing of the directory from the store (which does not list
        # MUST_CACHE.bin) keeps the file only the cache holds.
        entries = get_json(f"{self.m.url}/api/v1/files?path={q('/s3/gw')}")[1]["entries"]
        self.assertEqual(sorted(e["name"] for e in entries),
                         sorted([f"{t}.bin" for t in TYPES] + ["empty.bin"]))
        self.assertEqual({e["name"]: e["persistence"] for e in entries}["MUST_CACHE.bin"],
                         "not_persisted")
        # MUST_CACHE: cached (on the SSD tier, pinned) and readable, never in
        # the store.
        wait_for(lambda: self.stat("/s3/gw/MUST_CACHE.bin")["cached_percent"] == 100,
                 what="MUST_CACHE's blocks to be reported cached")
        st = self.stat("/s3/gw/MUST_CACHE.bin")
        self.assertEqual(st["persistence"], "not_persisted")
        self.assertEqual({loc["tier"] for b in st["blocks"] for loc in b["locations"]}, {"SSD"})
        status, _, body = self.gw_get("gw/MUST_CACHE.bin")
        self.assertEqual((status, body == data["MUST_CACHE"]), (200, True))
        time.sleep(2)  # several persist checks and job steps
        self.assertIsNone(self.in_store("gw/MUST_CACHE.bin"))
        self.assertEqual(self.stat("/s3/gw/MUST_CACHE.bin")["persistence"], "not_persisted")
        # ... unless asked: strata fs persist waits for its job.
        r = self.cli("fs", "persist", "/s3/gw/MUST_CACHE.bin")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.stat("/s3/gw/MUST_CACHE.bin")["persistence"], "persisted")
        self.assertEqual(self.in_store("gw/MUST_CACHE.bin"), data["MUST_CACHE"])

        # The same four through the CLI.
        for t in TYPES:
            local = os.path.join(self.tmp, f"{t}.local")
            with open(local, "wb") as f:
                f.write(data[t])
            r = self.cli("fs", "put", "--write-type", t.lower(), local, f"/s3/cli/{t}.bin")
            self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.in_store("cli/THROUGH.bin"), data["THROUGH"])
        self.assertEqual(self.in_store("cli/CACHE_THROUGH.bin"), data["CACHE_THROUGH"])
        self.wait_state("/s3/cli/ASYNC_THROUGH.bin", "persisted")
        self.assertEqual(self.in_store("cli/ASYNC_THROUGH.bin"), data["ASYNC_THROUGH"])
        self.assertEqual(self.stat("/s3/cli/MUST_CACHE.bin")["persistence"], "not_persisted")
        self.assertIsNone(self.in_store("cli/MUST_CACHE.bin"))
        r = self.cli("fs", "stat", "/s3/cli/MUST_CACHE.bin")
        self.assertIn("persistence  not_persisted", r.stdout)
        r = self.cli("fs", "ls", "-l", "/s3/cli")
        line = [x for x in r.stdout.splitlines() if x.endswith("/s3/cli/MUST_CACHE.bin")]
        self.assertEqual(len(line), 1, r.stdout)
        self.assertIn("not_persisted", line[0])

        # Multipart: the write type comes with the complete request.
        s3 = boto3.client("s3", endpoint_url=self.gw, aws_access_key_id="k",
                          aws_secret_access_key="s", region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "path"},
                                                        retries={"max_attempts": 1}))

        def must_cache(params, **kw):
            params["headers"]["x-strata-write-type"] = "MUST_CACHE"
        s3.meta.events.register("before-call.s3.CompleteMultipartUpload", must_cache)
        up = s3.create_multipart_upload(Bucket="s3", Key="mpu/big.bin")["UploadId"]
        parts = [os.urandom(5 * MiB), b"tail"]
        etags = [s3.upload_part(Bucket="s3", Key="mpu/big.bin", UploadId=up, PartNumber=i + 1,
                                Body=p)["ETag"] for i, p in enumerate(parts)]
        s3.complete_multipart_upload(
            Bucket="s3", Key="mpu/big.bin", UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e}
                                       for i, e in enumerate(etags)]})
        self.assertEqual(self.stat("/s3/mpu/big.bin")["persistence"], "not_persisted")
        self.assertIsNone(self.in_store("mpu/big.bin"))
        self.assertEqual(s3.get_object(Bucket="s3", Key="mpu/big.bin")["Body"].read(),
                         b"".join(parts))

    def test_policy_and_bad_write_types(self):
        self.start()
        self.assertEqual(self.cli("fs", "mkdir", "-p", "/s3/pol/sub").returncode, 0)
        r = self.cli("fs", "writetype", "/s3/pol", "MUST_CACHE")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.stat("/s3/pol")["write_type"], "MUST_CACHE")
        # Set twice: a success that changes nothing.
        status, body = request(self.m.url + "/api/v1/files/write_type", method="PUT",
                               body=json.dumps({"path": "/s3/pol",
                                                "write_type": "MUST_CACHE"}).encode())[0:3:2]
        self.assertEqual(status, 200)
        self.assertFalse(json.loads(body)["changed"])
        # A new file under it, written without a type, takes the policy; so
        # does a new directory (inherited at creation).
        status, _, body = self.gw_put("pol/f.bin", b"policy")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.stat("/s3/pol/f.bin")["persistence"], "not_persisted")
        self.assertIsNone(self.in_store("pol/f.bin"))
        self.assertEqual(self.cli("fs", "mkdir", "/s3/pol/new").returncode, 0)
        self.assertEqual(self.stat("/s3/pol/new")["write_type"], "MUST_CACHE")
        # A per-request type wins over the policy.
        status, _, body = self.gw_put("pol/t.bin", b"through", "THROUGH")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.in_store("pol/t.bin"), b"through")
        # The events record the policy change.
        self.assertIn("write_type_set", [e["type"] for e in self.events()])
        # -R sets it below; "default" clears it.
        r = self.cli("fs", "writetype", "-R", "/s3/pol", "default")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.stat("/s3/pol/sub")["write_type"], "")
        status, _, body = self.gw_put("pol/g.bin", b"default")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.in_store("pol/g.bin"), b"default")

        # Unknown write types, on every path, name what was wrong.
        status, _, body = self.gw_put("bad.bin", b"x", "SOMETIMES")
        self.assertEqual(status, 400, body)
        self.assertIn(b"x-strata-write-type", body)
        self.assertIn(b"SOMETIMES", body)
        status, _, body = request(f"{self.w.url}/api/v1/data?path={q('/s3/bad.bin')}",
                                  method="PUT", body=b"x",
                                  headers={"x-strata-write-type": "LATER"})
        self.assertEqual(status, 400, body)
        self.assertIn("x-strata-write-type", json.loads(body)["error"]["message"])
        status, _, body = request(
            f"{self.w.url}/api/v1/data?path={q('/s3/bad.bin')}&write_type=LATER",
            method="PUT", body=b"x")
        self.assertEqual(status, 400, body)
        self.assertIn("'write_type'", json.loads(body)["error"]["message"])
        status, body = request(self.m.url + "/api/v1/files/write_type", method="PUT",
                               body=json.dumps({"path": "/s3/pol",
                                                "write_type": "LATER"}).encode())[0:3:2]
        self.assertEqual(status, 400, body)
        self.assertIn("'write_type'", json.loads(body)["error"]["message"])
        status, body = post_json(self.m.url + "/api/v1/jobs", {"type": "keep", "path": "/s3"})
        self.assertEqual(status, 400, body)
        self.assertIn("load, free or persist", body["error"]["message"])
        r = self.cli("fs", "put", "--write-type", "LATER", "/etc/hostname", "/s3/bad.bin")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--write-type 'LATER'", r.stderr)
        r = self.cli("fs", "writetype", "/s3/pol", "LATER")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIsNone(self.in_store("bad.bin"))

    def test_async_through_survives_a_worker_restart_then_persists_or_is_lost(self):
        self.start()
        # The store goes away before the write: nothing can persist it.
        self.s3.stop()
        data = os.urandom(2 * MiB + 12345)
        status, _, body = self.gw_put("async/a.bin", data, "ASYNC_THROUGH")
        self.assertEqual(status, 200, body)
        self.assertIn(self.stat("/s3/async/a.bin")["persistence"],
                      ("not_persisted", "persisting"))
        wait_for(lambda: self.stat("/s3/async/a.bin")["cached_percent"] == 100,
                 what="the blocks to be reported cached")
        st = self.stat("/s3/async/a.bin")
        self.assertEqual({loc["tier"] for b in st["blocks"] for loc in b["locations"]}, {"SSD"})
        # Its persist job keeps trying (backoff) while the store is down.
        time.sleep(1.5)
        self.assertIn(self.stat("/s3/async/a.bin")["persistence"], ("not_persisted", "persisting"))
        # The worker restarts: its SSD tier still holds the only copy.
        self.assertEqual(self.w.stop(), 0)
        self.w.start()
        self.w.wait_ready()
        wait_heartbeats([self.w])
        status, _, body = self.gw_get("async/a.bin")
        self.assertEqual((status, body == data), (200, True))
        # The store comes back (same port, same data): the job persists it.
        self.s3.start()
        self.wait_state("/s3/async/a.bin", "persisted", timeout=30)
        self.assertEqual(self.in_store("async/a.bin"), data)
        self.assertIn("persisted", [e["type"] for e in self.events()])

        # Now every copy goes before the store is back: the store is down,
        # the worker is killed and its SSD tier wiped.
        self.s3.stop()
        status, _, body = self.gw_put("async/b.bin", os.urandom(MiB + 7), "ASYNC_THROUGH")
        self.assertEqual(status, 200, body)
        self.w.kill()
        for name in os.listdir(self.ssd):
            p = os.path.join(self.ssd, name)
            shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
        self.w.start()
        self.w.wait_ready()
        self.wait_state("/s3/async/b.bin", "lost", timeout=30)
        ev = [e for e in self.events() if e["type"] == "persist_lost"]
        self.assertEqual([e["path"] for e in ev], ["/s3/async/b.bin"], ev)
        # A read fails clearly: 410 data_lost from the data API, an error
        # naming it through the gateway; never stale or empty data.
        status, _, body = request(f"{self.w.url}/api/v1/data?path={q('/s3/async/b.bin')}")
        self.assertEqual(status, 410, body)
        err = json.loads(body)["error"]
        self.assertEqual(err["code"], "data_lost")
        self.assertIn("lost", err["message"])
        # Through the gateway: 500 XStrataDataLost naming the file (the key
        # exists, so never NoSuchKey; and not 503: it will not come back).
        status, _, body = self.gw_get("async/b.bin")
        self.assertEqual(status, 500, body)
        self.assertIn(b"<Code>XStrataDataLost</Code>", body)
        self.assertIn(b"/s3/async/b.bin", body)
        self.assertIn(b"lost", body)
        s3 = boto3.client("s3", endpoint_url=self.gw, aws_access_key_id="k",
                          aws_secret_access_key="s", region_name="us-east-1",
                          config=botocore.config.Config(s3={"addressing_style": "path"},
                                                        retries={"max_attempts": 1}))
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            s3.get_object(Bucket="s3", Key="async/b.bin")
        self.assertEqual(cm.exception.response["Error"]["Code"], "XStrataDataLost")
        # HEAD gives the metadata, which is not lost.
        self.assertEqual(request(f"{self.gw}/s3/async/b.bin", method="HEAD")[0], 200)
        r = self.cli("fs", "stat", "/s3/async/b.bin")
        self.assertIn("persistence  lost", r.stdout)
        # Metrics count it (JSON for the console, Prometheus text).
        self.assertEqual(get_json(self.m.url + "/api/v1/metrics")[1]["master"]["files_lost"], 1)
        prom = request(self.m.url + "/metrics")[2].decode()
        self.assertIn('strata_master_files{persistence="lost"} 1\n', prom)
        self.assertIn("strata_master_job_files_persisted_total 1\n", prom)
        # Its persist job ends failed, naming the file and why.
        jobs = get_json(self.m.url + "/api/v1/jobs")[1]["jobs"]
        jid = [j["id"] for j in jobs if j["path"] == "/s3/async/b.bin"][0]

        def failed():
            return get_json(f"{self.m.url}/api/v1/jobs/{jid}")[1]["job"]["state"] == "failed"
        wait_for(failed, timeout=20, what="the persist job of the lost file to fail")
        job = get_json(f"{self.m.url}/api/v1/jobs/{jid}")[1]["job"]
        self.assertEqual([e["path"] for e in job["errors"]], ["/s3/async/b.bin"])
        self.assertIn("lost", job["errors"][0]["reason"])
        # The store returning changes nothing for it.
        self.s3.start()
        time.sleep(1)
        self.assertEqual(self.stat("/s3/async/b.bin")["persistence"], "lost")
        self.assertIsNone(self.in_store("async/b.bin"))

    def test_persist_job_resumes_after_a_leader_sigkill(self):
        self.start(masters=3)
        self.s3.stop()
        data = os.urandom(3 * MiB + 1)
        status, _, body = self.gw_put("ha/a.bin", data, "ASYNC_THROUGH")
        self.assertEqual(status, 200, body)
        jobs = get_json(self.m.url + "/api/v1/jobs")[1]["jobs"]
        self.assertEqual([(j["type"], j["path"]) for j in jobs], [("persist", "/s3/ha/a.bin")])
        jid = jobs[0]["id"]
        time.sleep(1)  # a few failed tries against the missing store
        self.assertIn(self.stat("/s3/ha/a.bin")["persistence"], ("not_persisted", "persisting"))
        old = self.m
        old.kill()
        self.m = wait_leader(self.ms, exclude=(old,))
        self.s3.start()
        # The new leader's job runner finds the job in the namespace and
        # finishes it; the file is persisted once.
        self.wait_state("/s3/ha/a.bin", "persisted", timeout=40)
        self.assertEqual(self.in_store("ha/a.bin"), data)
        wait_for(lambda: get_json(f"{self.m.url}/api/v1/jobs/{jid}")[1]["job"]["state"] == "done",
                 what="the persist job to end on the new leader")
        job = get_json(f"{self.m.url}/api/v1/jobs/{jid}")[1]["job"]
        self.assertEqual((job["files_done"], job["files_failed"]), (1, 0))
        status, _, body = self.gw_get("ha/a.bin")
        self.assertEqual((status, body == data), (200, True))

    def test_replication_min_keeps_copies_of_what_only_the_cache_holds(self):
        self.start(workers=2)
        self.assertEqual(self.cli("fs", "mkdir", "-p", "/s3/rep").returncode, 0)
        r = self.cli("fs", "replication", "--min", "2", "/s3/rep")
        self.assertEqual(r.returncode, 0, r.stderr)
        data = os.urandom(3 * MiB + 99)
        status, _, body = self.gw_put("rep/m.bin", data, "MUST_CACHE")
        self.assertEqual(status, 200, body)
        # Acknowledged once each block is on two workers.
        wait_for(lambda: all(len(b["locations"]) == 2
                             for b in self.stat("/s3/rep/m.bin")["blocks"]),
                 what="two reported copies of every block")
        # One worker dies: the other serves every block from its copies,
        # and the file is not lost.
        self.ws[0].kill()
        status, _, body = self.gw_get("rep/m.bin", w=self.ws[1])
        self.assertEqual((status, body == data), (200, True))
        wait_for(lambda: get_json(self.m.url + "/api/v1/cluster")[1] is not None and
                 [w["state"] for w in get_json(self.m.url + "/api/v1/workers")[1]["workers"]]
                 .count("lost") == 1, timeout=15, what="the dead worker to be lost")
        time.sleep(1)  # a few persistence checks
        self.assertEqual(self.stat("/s3/rep/m.bin")["persistence"], "not_persisted")
        # Two copies cannot be made with one live worker: the write fails
        # and says why.
        status, _, body = self.gw_put("rep/n.bin", b"x" * 100, "ASYNC_THROUGH", w=self.ws[1])
        self.assertEqual(status, 503, body)
        self.assertIn(b"2 cached copies wanted", body)

    def test_blocks_stay_pinned_until_persisted(self):
        # A 1 MiB MEM tier over a 4 MiB SSD tier: new blocks push the
        # coldest unpinned ones out.
        self.start(worker_settings={"worker.tier.mem.quota": "1MiB",
                                    "worker.tier.ssd.quota": "4MiB"})
        keep = os.urandom(MiB)
        status, _, body = self.gw_put("pin/keep.bin", keep, "MUST_CACHE")
        self.assertEqual(status, 200, body)
        status, _, body = self.gw_put("pin/async.bin", os.urandom(2 * MiB), "ASYNC_THROUGH")
        self.assertEqual(status, 200, body)
        self.wait_state("/s3/pin/async.bin", "persisted")
        # Pressure: eight more blocks through the cache.
        for i in range(8):
            status, _, body = self.gw_put(f"pin/fill{i}.bin", os.urandom(MiB), "CACHE_THROUGH")
            self.assertEqual(status, 200, body)
        # The persisted file's blocks were unpinned by its job and made
        # room; the one only the cache holds kept every block.
        wait_for(lambda: self.stat("/s3/pin/async.bin")["cached_percent"] < 100,
                 what="the persisted file's blocks to be evicted")
        self.assertEqual(self.stat("/s3/pin/keep.bin")["cached_percent"], 100)
        status, _, body = self.gw_get("pin/keep.bin")
        self.assertEqual((status, body == keep), (200, True))

    def test_unpersisted_blocks_are_pinned_again_after_a_worker_restart(self):
        # A 1 MiB MEM tier over a 4 MiB SSD tier, and a second mount on a
        # local directory that takes writes while s3rver is down.
        self.start(worker_settings={"worker.tier.mem.quota": "1MiB",
                                    "worker.tier.ssd.quota": "4MiB"})
        local = os.path.join(self.tmp, "local")
        os.makedirs(local)
        status, body = post_json(self.m.url + "/api/v1/mounts",
                                 {"path": "/local", "uri": "file://" + local})
        self.assertEqual(status, 201, body)
        self.s3.stop()
        # Two files only the cache holds: ASYNC_THROUGH (its persist job
        # retries meanwhile) and MUST_CACHE (nothing reads it until asked).
        data = {t: os.urandom(MiB - 1000) + t.encode() for t in ("ASYNC_THROUGH", "MUST_CACHE")}
        for t, d in data.items():
            status, _, body = self.gw_put(f"repin/{t}.bin", d, t)
            self.assertEqual(status, 200, body)
            wait_for(lambda: self.stat(f"/s3/repin/{t}.bin")["cached_percent"] == 100,
                     what="the blocks to be reported cached")
        # The worker restarts: its tiers keep the blocks, not their pins;
        # its registration gets them pinned again before anyone reads them.
        self.assertEqual(self.w.stop(), 0)
        self.w.start()
        self.w.wait_ready()
        wait_heartbeats([self.w])
        # Pressure: eight more blocks through the cache (to the local store).
        for i in range(8):
            status, _, body = request(f"{self.gw}/local/fill{i}.bin", method="PUT",
                                      body=os.urandom(MiB),
                                      headers={"x-strata-write-type": "CACHE_THROUGH"})
            self.assertEqual(status, 200, body)
        wait_heartbeats([self.w])
        wait_heartbeats([self.w])
        fills = [self.stat(f"/local/fill{i}.bin")["cached_percent"] for i in range(8)]
        self.assertLess(min(fills), 100, "no pressure: nothing was evicted")
        # The files only the cache holds kept every block ...
        for t in data:
            st = self.stat(f"/s3/repin/{t}.bin")
            self.assertEqual((st["cached_percent"], st["persistence"] != "persisted"),
                             (100, True), t)
        # ... and reach the store once it is back.
        self.s3.start()
        self.wait_state("/s3/repin/ASYNC_THROUGH.bin", "persisted", timeout=30)
        r = self.cli("fs", "persist", "/s3/repin/MUST_CACHE.bin")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for t, d in data.items():
            self.assertEqual(self.stat(f"/s3/repin/{t}.bin")["persistence"], "persisted", t)
            self.assertEqual(self.in_store(f"repin/{t}.bin"), d, t)
            status, _, body = self.gw_get(f"repin/{t}.bin")
            self.assertEqual((status, body == d), (200, True), t)

    def test_delete_and_overwrite_drop_the_pinned_blocks(self):
        self.start()

        def blocks():
            return sum(t["blocks"] for t in get_json(self.w.url + "/api/v1/metrics")[1]["tiers"])
        base = blocks()
        status, _, body = self.gw_put("gone/a.bin", os.urandom(2 * MiB), "MUST_CACHE")
        self.assertEqual(status, 200, body)
        self.assertEqual(blocks(), base + 2)
        # Rewritten (one block now): the two pinned blocks of the old
        # content go, the new one stays.
        status, _, body = self.gw_put("gone/a.bin", os.urandom(MiB), "MUST_CACHE")
        self.assertEqual(status, 200, body)
        self.assertEqual(blocks(), base + 1)
        # Deleted: nothing of it is left pinned in the cache.
        status, _, body = request(f"{self.gw}/s3/gone/a.bin", method="DELETE")
        self.assertEqual(status, 204, body)
        self.assertEqual(blocks(), base)
        self.assertEqual(request(f"{self.gw}/s3/gone/a.bin")[0], 404)
        # A directory deleted with what is below it: the same for each file.
        for i in range(3):
            status, _, body = self.gw_put(f"gone/d/e/f{i}.bin", os.urandom(MiB), "MUST_CACHE")
            self.assertEqual(status, 200, body)
        self.assertEqual(blocks(), base + 3)
        r = self.cli("fs", "rm", "-r", "/s3/gone/d")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(blocks(), base)


if __name__ == "__main__":
    main()
