"""End-to-end test of the web console: real daemons (two masters, three
workers, a local mount holding a hostile file name and a large directory,
a real s3rver whose bucket the browser mounts through the form)
and headless Chromium driven by console.mjs (playwright-core, axe-core).

    STRATA_BUILD_DIR=$PWD/build python3 tests/e2e/test_console.py
    ... test_console.py --serve     # start the cluster and wait (development)

Screenshots go to $STRATA_E2E_ARTIFACTS (default: <build>/e2e-artifacts/console).
"""
import json
import os
import shutil
import subprocess
import sys
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import harness  # noqa: E402
from harness import get_json, post_json, request, wait_for, wait_leader  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, "..", "node_modules")
CHROMIUM = os.environ.get("STRATA_CHROMIUM", "/usr/bin/chromium")
HOSTILE = "<img src=x onerror=alert(1)>"
BIG_DIR_ENTRIES = 250
HUGE_DIR_ENTRIES = 10000


def build_tree(root):
    os.makedirs(os.path.join(root, "many"))
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello from strata\n")
    with open(os.path.join(root, HOSTILE), "w") as f:
        f.write("not markup\n")
    with open(os.path.join(root, "blob.bin"), "wb") as f:
        f.write(os.urandom(3 << 20))
    for i in range(BIG_DIR_ENTRIES):
        with open(os.path.join(root, "many", f"f{i:04d}.txt"), "w") as f:
            f.write(str(i))
    os.makedirs(os.path.join(root, "scratch"))  # the browser sets its write type
    os.makedirs(os.path.join(root, "huge"))
    for i in range(HUGE_DIR_ENTRIES):
        with open(os.path.join(root, "huge", f"e{i:05d}"), "w"):
            pass


S3_BUCKET = "lake"
S3_OBJECT_SIZE = 2 << 20


def start(tmp):
    """Two masters, three workers, /data mounted and a file read through a
    worker (so blocks, hit rate and history have something to show), and
    an s3rver bucket (not mounted: the browser does that)."""
    s3 = harness.S3rver(tmp, S3_BUCKET).start()
    bucket = s3.client()
    bucket.put_object(Bucket=S3_BUCKET, Key="console/report.csv",
                      Body=os.urandom(S3_OBJECT_SIZE))
    bucket.put_object(Bucket=S3_BUCKET, Key="console/sub/note.txt", Body=b"below")
    cluster = harness.Cluster(tmp)
    masters = cluster.masters(2, settings={"master.worker_timeout": "3s"})
    leader = wait_leader(masters)
    follower = next(m for m in masters if m is not leader)
    workers = [cluster.worker(masters, name=f"worker{i}") for i in range(3)]
    wait_for(lambda: get_json(leader.url + "/api/v1/cluster")[1]["workers"]["live"] == 3,
             what="three live workers")
    store = os.path.join(tmp, "store")
    build_tree(store)
    # Never re-synced: a follower answers from its copy once the leader
    # has loaded a directory, whatever the time (see /other below).
    status, body = post_json(leader.url + "/api/v1/mounts",
                             {"path": "/data", "uri": "file://" + store,
                              "options": {"sync_interval": "never"}})
    assert status == 201, body
    # Never listed anywhere: a follower must send a listing to the leader.
    os.makedirs(os.path.join(tmp, "other", "sub"))
    status, body = post_json(leader.url + "/api/v1/mounts",
                             {"path": "/other", "uri": "file://" + os.path.join(tmp, "other")})
    assert status == 201, body
    # A read-only mount: the policies flow sees a delete-TTL refused there.
    os.makedirs(os.path.join(tmp, "ro"))
    status, body = post_json(leader.url + "/api/v1/mounts",
                             {"path": "/ro", "uri": "file://" + os.path.join(tmp, "ro"),
                              "readonly": True})
    assert status == 201, body
    for _ in range(2):  # a miss, then a hit
        qs = urllib.parse.urlencode({"path": "/data/blob.bin"})
        status, _, data = request(f"{workers[0].url}/api/v1/data?{qs}", timeout=30)
        assert status == 200 and len(data) == 3 << 20, status
    # The master loads a directory from its store on the first listing;
    # the figure is for one it already knows.
    status, listing = get_json(leader.url + "/api/v1/files?path=/data/huge&limit=1")
    assert status == 200 and listing["entries"][0]["name"] == "e00000", listing
    # Somewhere for the form to mount: an empty directory of its own.
    os.makedirs(os.path.join(tmp, "formstore"))
    with open(os.path.join(tmp, "formstore", "added.txt"), "w") as f:
        f.write("added through the console\n")
    return cluster, leader, follower, workers, s3


class ConsoleTest(harness.ClusterTestCase):
    def test_serving_and_history(self):
        """Without a browser: the console's headers, its 404 and 304, and
        GET /api/v1/metrics/history with its one failure path."""
        m = self.cluster.master()
        status, headers, body = request(m.url + "/")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/html"))
        self.assertIn(b'<script type="module" src="/console/js/app.js">', body)
        csp = headers["content-security-policy"]
        self.assertIn("default-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertEqual(headers["x-content-type-options"], "nosniff")
        etag = headers["etag"]
        status, headers2, body2 = request(m.url + "/", headers={"If-None-Match": etag})
        self.assertEqual((status, body2), (304, b""))
        self.assertEqual(headers2["etag"], etag)
        status, headers, body = request(m.url + "/console/")
        self.assertEqual(status, 200)
        for path, ctype in [("/console/js/app.js", "text/javascript"),
                            ("/console/css/console.css", "text/css"),
                            ("/console/icon.svg", "image/svg+xml")]:
            status, headers, body = request(m.url + path)
            self.assertEqual(status, 200, path)
            self.assertTrue(headers["content-type"].startswith(ctype), headers)
            self.assertIn("default-src 'self'", headers["content-security-policy"])
        with open(os.path.join(harness.SOURCE_DIR, "console", "web", "static", "js",
                               "app.js"), "rb") as f:
            self.assertEqual(request(m.url + "/console/js/app.js")[2], f.read())
        status, _, body = request(m.url + "/console/nope.js")
        self.assertEqual(status, 404, body)
        self.assertEqual(json.loads(body)["error"]["code"], "not_found")
        status, _, body = request(m.url + "/console/", method="POST", body={})
        self.assertEqual(status, 405, body)
        # The sampler took one sample at start; later ones every 5 s.
        status, h = get_json(m.url + "/api/v1/metrics/history")
        self.assertEqual(status, 200, h)
        self.assertEqual((h["interval_ms"], h["capacity"]), (5000, 720))
        self.assertGreaterEqual(h["count"], 1)
        cols = h["samples"]
        self.assertIn("block_hits_total", cols)
        self.assertTrue(all(len(v) == h["count"] for v in cols.values()), cols)
        last = cols["t_ms"][-1]
        status, h = get_json(f"{m.url}/api/v1/metrics/history?since_ms={last}")
        self.assertEqual((status, h["count"], h["samples"]["t_ms"]), (200, 0, []))
        for bad in ("-1", "soon"):
            status, err = get_json(f"{m.url}/api/v1/metrics/history?since_ms={bad}")
            self.assertEqual(status, 400, err)
            self.assertIn("since_ms", err["error"]["message"])

    def test_console_in_chromium(self):
        if not os.path.exists(CHROMIUM):
            self.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/deps.sh)")
        if not os.path.isdir(os.path.join(NODE_MODULES, "playwright-core")):
            self.fail("tests/node_modules lacks playwright-core: run npm ci in tests/")
        self.cluster, leader, follower, workers, s3 = start(self.tmp)
        self.addCleanup(s3.stop)
        # Wait for the follower to have the mount (it serves GETs locally).
        wait_for(lambda: any(m["path"] == "/data" for m in
                             get_json(follower.url + "/api/v1/mounts")[1]["mounts"]),
                 what="the mount on the follower")
        artifacts = os.environ.get("STRATA_E2E_ARTIFACTS") or os.path.join(
            harness.BUILD_DIR, "e2e-artifacts", "console")
        # Only this test's own folder: strata-top's tmux test writes its panes
        # beside it, possibly at the same time.
        shutil.rmtree(artifacts, ignore_errors=True)
        os.makedirs(artifacts)
        env = dict(os.environ, STRATA_LEADER=leader.url, STRATA_FOLLOWER=follower.url,
                   STRATA_LEADER_ADDRESS=leader.address,
                   STRATA_FORM_DIR=os.path.join(self.tmp, "formstore"),
                   STRATA_HOSTILE=HOSTILE, STRATA_ARTIFACTS=artifacts,
                   STRATA_CHROMIUM=CHROMIUM, NODE_PATH=NODE_MODULES,
                   STRATA_S3_ENDPOINT=s3.endpoint, STRATA_S3_BUCKET=S3_BUCKET,
                   STRATA_S3_SIZE=str(S3_OBJECT_SIZE),
                   STRATA_WORKER=workers[0].url, STRATA_DECOM_ADDRESS=workers[1].address,
                   STRATA_WORKER_PIDS=json.dumps({w.address: w.proc.pid for w in workers}),
                   STRATA_S3_GATEWAY="http://127.0.0.1:" + workers[2].settings["worker.s3_port"])
        proc = subprocess.run(["node", os.path.join(HERE, "console.mjs")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=240)
        sys.stdout.write(proc.stdout)
        self.assertEqual(proc.returncode, 0, "console.mjs failed (see its output above)")
        # The page saw /added listed after the form and gone after the
        # dialog; the leader agrees, and the follower's refused mount is
        # nowhere.
        paths = [m["path"] for m in get_json(leader.url + "/api/v1/mounts")[1]["mounts"]]
        self.assertEqual(sorted(paths), ["/data", "/lake", "/other", "/ro"])
        # The persist job the page started wrote the MUST_CACHE file to the
        # store, and the worker the page decommissioned stays so.
        with open(os.path.join(self.tmp, "store", "scratch", "cached.bin"), "rb") as f:
            self.assertEqual(f.read(), b"\x07" * 65536)
        states = {w["address"]: w["state"] for w in
                  get_json(leader.url + "/api/v1/workers")[1]["workers"]}
        self.assertEqual(states[workers[1].address], "decommissioned", states)

    def test_console_in_chromium_with_auth(self):
        """REST auth on (docs/security.md): sign-in dialog, a wrong token
        refused visibly, readonly and admin tokens. Runs after the test
        above (name order), so its screenshots join that test's folder."""
        if not os.path.exists(CHROMIUM):
            self.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/deps.sh)")
        tokfile = os.path.join(self.tmp, "tokens")

        def create(role):
            r = self.cluster.cli("admin", "token", "create", "--role", role, "--file", tokfile,
                                 "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            return json.loads(r.stdout)
        admin, ro = create("admin")["token"], create("readonly")["token"]
        admin2 = create("admin")  # made readonly while its decommission dialog is open
        store = os.path.join(self.tmp, "store")
        os.makedirs(store)
        os.makedirs(os.path.join(self.tmp, "formstore"))
        m = self.cluster.master(settings={"http.token_file": tokfile})
        self.cluster.worker(m, settings={"http.token_file": tokfile})
        hdr = {"Authorization": "Bearer " + admin}
        wait_for(lambda: get_json(m.url + "/api/v1/cluster", headers=hdr)[1]["workers"]["live"]
                 == 1, what="a live worker")
        status, body = post_json(m.url + "/api/v1/mounts",
                                 {"path": "/data", "uri": "file://" + store}, headers=hdr)
        self.assertEqual(status, 201, body)
        artifacts = os.environ.get("STRATA_E2E_ARTIFACTS") or os.path.join(
            harness.BUILD_DIR, "e2e-artifacts", "console")
        os.makedirs(artifacts, exist_ok=True)
        env = dict(os.environ, STRATA_LEADER=m.url, STRATA_ADMIN_TOKEN=admin,
                   STRATA_RO_TOKEN=ro, STRATA_FORM_DIR=os.path.join(self.tmp, "formstore"),
                   STRATA_ADMIN2_TOKEN=admin2["token"], STRATA_ADMIN2_ID=admin2["id"],
                   STRATA_TOKEN_FILE=tokfile,
                   STRATA_ARTIFACTS=artifacts, STRATA_CHROMIUM=CHROMIUM,
                   NODE_PATH=NODE_MODULES)
        proc = subprocess.run(["node", os.path.join(HERE, "console_auth.mjs")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=180)
        sys.stdout.write(proc.stdout)
        self.assertEqual(proc.returncode, 0, "console_auth.mjs failed (see its output above)")
        paths = [x["path"] for x in get_json(m.url + "/api/v1/mounts", headers=hdr)[1]["mounts"]]
        self.assertEqual(sorted(paths), ["/added", "/data"])
        # Nothing of the tokens in the daemons' logs.
        for d in self.cluster.daemons:
            for t in (admin, ro, admin2["token"]):
                self.assertNotIn(t.split("_")[2], d.read_log())


def serve():
    import signal
    import tempfile
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    tmp = tempfile.mkdtemp(prefix="strata-console-")
    cluster, leader, follower, workers, s3 = start(tmp)
    print(json.dumps({"leader": leader.url, "follower": follower.url, "tmp": tmp,
                      "form_dir": os.path.join(tmp, "formstore"), "s3_endpoint": s3.endpoint,
                      "s3_bucket": S3_BUCKET}), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop_all()
        s3.stop()


if __name__ == "__main__":
    if "--serve" in sys.argv:
        serve()
    else:
        harness.main()
