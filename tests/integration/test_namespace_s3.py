"""An S3 store in the namespace: a user mounts a bucket prefix served by a
real s3rver, through REST and through the CLI, sees objects that were put
into the bucket directly, and reads, writes, creates, moves and deletes
through strata, which the bucket reflects. Keys with spaces and non-ASCII
characters survive both ways. The mount's secret key never shows in the
mount table, the CLI or the master's log; a wrong access key and a dead
endpoint are refused at mount time, quickly and clearly."""
import json
import os
import time
import urllib.parse

from harness import (ClusterTestCase, S3rver, free_port, get_json, main, post_json, request,
                     wait_for)

BUCKET = "strata-it"
# s3rver checks only the access key id, so the secret can be anything; a
# distinctive one makes "never appears" a meaningful check.
SECRET = "sEcReT-7f3a9c-do-not-log"


def q(path):
    return urllib.parse.quote(path, safe="")


class NamespaceS3Test(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.s3 = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.s3.stop)
        self.bucket = self.s3.client()
        self.m = self.cluster.master()
        self.api = self.m.url + "/api/v1"

    def options(self, **over):
        o = {"s3.endpoint": self.s3.endpoint, "s3.access_key": S3rver.ACCESS_KEY,
             "s3.secret_key": SECRET, "s3.path_style": "true", "s3.region": "us-east-1"}
        o.update(over)
        return o

    def mount(self, path, prefix, expect=201, **over):
        status, body = post_json(f"{self.api}/mounts", {
            "path": path, "uri": f"s3://{BUCKET}/{prefix}", "options": self.options(**over)})
        self.assertEqual(status, expect, body)
        return body

    def put_object(self, key, data):
        self.bucket.put_object(Bucket=BUCKET, Key=key, Body=data)

    def keys(self, prefix):
        out, token = [], None
        while True:
            kw = {"Bucket": BUCKET, "Prefix": prefix}
            if token:
                kw["ContinuationToken"] = token
            r = self.bucket.list_objects_v2(**kw)
            out += [o["Key"] for o in r.get("Contents", [])]
            if not r.get("IsTruncated"):
                return sorted(out)
            token = r["NextContinuationToken"]

    def object(self, key):
        return self.bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def ls(self, path, expect=200):
        status, body = get_json(f"{self.api}/files?path={q(path)}")
        self.assertEqual(status, expect, body)
        return {e["name"]: e for e in body["entries"]} if status == 200 else body

    def stat(self, path, expect=200):
        status, body = get_json(f"{self.api}/files/stat?path={q(path)}")
        self.assertEqual(status, expect, body)
        return body

    def worker(self):
        """Bulk data goes through a worker, never a master: one is started
        on first use."""
        if not getattr(self, "w", None):
            self.w = self.cluster.worker(self.m)
            wait_for(lambda: get_json(f"{self.api}/workers")[1]["workers"],
                     what="the worker to register")
        return self.w

    def cat(self, path, query=""):
        status, _, body = request(f"{self.worker().url}/api/v1/data?path={q(path)}{query}")
        self.assertEqual(status, 200, body[:300])
        return body

    def put(self, path, data, expect=201):
        status, _, body = request(f"{self.worker().url}/api/v1/data?path={q(path)}",
                                  method="PUT", body=data)
        self.assertEqual(status, expect, body)
        return json.loads(body)

    def test_objects_put_directly_are_visible_and_operations_reach_the_bucket(self):
        self.put_object("data/hello.txt", b"hello from s3\n")
        self.put_object("data/logs/2024/a.log", b"a" * 3000)
        # s3rver 3.7.1 omits a CommonPrefix whose keys all lie two or more
        # levels down, so logs/ also gets a direct child.
        self.put_object("data/logs/index.txt", b"i")
        self.put_object("data/with space/\u00fcnic\u00f8de \u65e5\u672c.txt", b"unicode")
        self.put_object("elsewhere/not-mounted.txt", b"x")
        self.mount("/s3", "data")

        top = self.ls("/s3")
        self.assertEqual(sorted(top), ["hello.txt", "logs", "with space"])
        self.assertEqual(top["hello.txt"]["type"], "file")
        self.assertEqual(top["hello.txt"]["length"], 14)
        self.assertEqual(top["logs"]["type"], "directory")
        st = self.stat("/s3/logs/2024/a.log")
        self.assertEqual((st["type"], st["length"]), ("file", 3000))
        self.assertTrue(st["fingerprint"])
        self.assertEqual(sorted(self.ls("/s3/with space")),
                         ["\u00fcnic\u00f8de \u65e5\u672c.txt"])
        self.assertEqual(self.cat("/s3/with space/\u00fcnic\u00f8de \u65e5\u672c.txt"),
                         b"unicode")
        self.assertEqual(self.cat("/s3/hello.txt"), b"hello from s3\n")
        self.assertEqual(self.cat("/s3/logs/2024/a.log", "&offset=1000&length=10"), b"a" * 10)
        self.stat("/s3/elsewhere", expect=404)

        # put through strata lands in the bucket, byte for byte.
        payload = os.urandom(300 * 1024)
        f = self.put("/s3/up/blob.bin", payload)
        self.assertEqual(f["length"], len(payload))
        self.assertEqual(self.object("data/up/blob.bin"), payload)
        self.assertEqual(self.cat("/s3/up/blob.bin"), payload)
        name = "/s3/sp ace/\u00e9t\u00e9 \u00bd \U0001f600.txt"
        self.put(name, b"summer")
        self.assertEqual(self.object("data/sp ace/\u00e9t\u00e9 \u00bd \U0001f600.txt"),
                         b"summer")

        # mkdir makes a directory marker; mv moves the keys; rm -r drops them.
        status, body = post_json(f"{self.api}/files/mkdir", {"path": "/s3/newdir"})
        self.assertEqual(status, 201, body)
        self.assertIn("data/newdir/", self.keys("data/newdir"))
        self.assertEqual(self.ls("/s3")["newdir"]["type"], "directory")
        status, body = post_json(f"{self.api}/files/rename",
                                 {"src": "/s3/up/blob.bin", "dst": "/s3/newdir/moved.bin"})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.keys("data/up/blob"), [])
        self.assertEqual(self.object("data/newdir/moved.bin"), payload)
        self.stat("/s3/up/blob.bin", expect=404)
        self.assertEqual(self.cat("/s3/newdir/moved.bin"), payload)
        status, body = post_json(f"{self.api}/files/rename",
                                 {"src": "/s3/logs", "dst": "/s3/archive"})
        self.assertEqual(status, 200, body)
        self.assertEqual(self.keys("data/logs/"), [])
        self.assertEqual(self.object("data/archive/2024/a.log"), b"a" * 3000)

        status, _, body = request(f"{self.api}/files?path={q('/s3/archive')}", method="DELETE")
        self.assertEqual(status, 409, body)  # not empty without recursive
        status, _, body = request(f"{self.api}/files?path={q('/s3/archive')}&recursive=true",
                                  method="DELETE")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.keys("data/archive"), [])
        self.stat("/s3/archive", expect=404)
        status, _, body = request(f"{self.api}/files?path={q(name)}", method="DELETE")
        self.assertEqual(status, 200, body)
        self.assertEqual(self.keys("data/sp ace/\u00e9t\u00e9"), [])
        self.assertEqual(self.keys("elsewhere/"), ["elsewhere/not-mounted.txt"])

    def test_cli_mount_and_files(self):
        self.put_object("cli/seed.txt", b"seeded")
        self.worker()  # put and cat go through it
        cli = self.cluster.cli
        addr = ["--master", self.m.address]
        opts = [a for k, v in self.options().items() for a in ("--option", f"{k}={v}")]
        r = cli(*addr, "fs", "mount", *opts, "/c", f"s3://{BUCKET}/cli")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        r = cli(*addr, "fs", "ls", "/c")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("seed.txt", r.stdout)
        r = cli(*addr, "fs", "cat", "/c/seed.txt")
        self.assertEqual((r.returncode, r.stdout), (0, "seeded"), r.stderr)
        local = os.path.join(self.tmp, "local file.txt")
        with open(local, "w") as f:
            f.write("from the cli \u2713\n")
        r = cli(*addr, "fs", "put", local, "/c/dir one/t\u00e9l\u00e9.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.object("cli/dir one/t\u00e9l\u00e9.txt"),
                         "from the cli \u2713\n".encode())
        r = cli(*addr, "fs", "stat", "/c/dir one/t\u00e9l\u00e9.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = cli(*addr, "fs", "mkdir", "/c/made")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("cli/made/", self.keys("cli/made"))
        r = cli(*addr, "fs", "mv", "/c/seed.txt", "/c/made/seed.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.object("cli/made/seed.txt"), b"seeded")
        self.assertNotIn("cli/seed.txt", self.keys("cli/"))
        r = cli(*addr, "fs", "rm", "-r", "/c/dir one")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.keys("cli/dir one"), [])
        r = cli(*addr, "fs", "ls", "-R", "/c")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("seed.txt", r.stdout)
        self.assertNotIn("dir one", r.stdout)

        # The secret shows nowhere: REST, CLI (text and JSON), the log.
        r = cli(*addr, "--json", "fs", "mounts")
        self.assertEqual(r.returncode, 0, r.stderr)
        mounts = json.loads(r.stdout)["mounts"]
        mine = [m for m in mounts if m["path"] == "/c"]
        self.assertEqual(len(mine), 1, r.stdout)
        self.assertEqual(mine[0]["options"]["s3.secret_key"], "***")
        self.assertEqual(mine[0]["options"]["s3.endpoint"], self.s3.endpoint)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        r = cli(*addr, "fs", "mounts")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/c", r.stdout)
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        status, _, body = request(f"{self.api}/mounts")
        self.assertEqual(status, 200)
        self.assertNotIn(SECRET.encode(), body)
        self.assertEqual(json.loads(body)["mounts"][0]["options"]["s3.secret_key"], "***")
        r = cli(*addr, "fs", "unmount", "/c")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.object("cli/made/seed.txt"), b"seeded")  # store untouched
        self.assertNotIn(SECRET, self.m.read_log())

    def test_secret_survives_restart_and_stays_hidden(self):
        self.put_object("r/x.txt", b"x")
        self.mount("/r", "r")
        self.m.stop()
        self.m.start()
        self.m.wait_ready()
        self.assertEqual(self.cat("/r/x.txt"), b"x")  # credentials were kept
        status, _, body = request(f"{self.api}/mounts")
        self.assertEqual(status, 200)
        self.assertNotIn(SECRET.encode(), body)
        self.assertNotIn(SECRET, self.m.read_log())

    def test_wrong_access_key_is_refused_at_mount(self):
        t0 = time.monotonic()
        body = self.mount("/bad", "p", expect=403, **{"s3.access_key": "NOT-A-KEY"})
        self.assertLess(time.monotonic() - t0, 10)
        self.assertEqual(body["error"]["code"], "permission_denied", body)
        self.assertTrue(body["error"]["message"])
        self.assertNotIn(SECRET, json.dumps(body))
        status, mounts = get_json(f"{self.api}/mounts")
        self.assertEqual(mounts["mounts"], [])
        self.stat("/bad", expect=404)
        # The same through the CLI: non-zero exit, a message, no secret.
        opts = [a for k, v in self.options(**{"s3.access_key": "NOT-A-KEY"}).items()
                for a in ("--option", f"{k}={v}")]
        r = self.cluster.cli("--master", self.m.address, "fs", "mount", *opts, "/bad",
                             f"s3://{BUCKET}/p")
        self.assertNotEqual(r.returncode, 0)
        self.assertTrue(r.stderr.strip())
        self.assertNotIn(SECRET, r.stdout + r.stderr)
        self.assertNotIn(SECRET, self.m.read_log())

    def test_dead_endpoint_is_503_not_a_hang(self):
        dead = f"http://127.0.0.1:{free_port()}"
        t0 = time.monotonic()
        body = self.mount("/dead", "p", expect=503, **{"s3.endpoint": dead})
        self.assertLess(time.monotonic() - t0, 15)
        self.assertEqual(body["error"]["code"], "unavailable", body)
        status, mounts = get_json(f"{self.api}/mounts")
        self.assertEqual(mounts["mounts"], [])

    def test_store_going_away_after_mount_is_503(self):
        self.put_object("g/x.txt", b"x")
        self.mount("/g", "g")
        self.s3.stop()
        t0 = time.monotonic()
        status, body = get_json(f"{self.api}/files?path={q('/g')}")
        self.assertEqual(status, 503, body)
        status, body = get_json(f"{self.api}/files/stat?path={q('/g/y.txt')}")
        self.assertEqual(status, 503, body)
        self.assertLess(time.monotonic() - t0, 20)


if __name__ == "__main__":
    main()
