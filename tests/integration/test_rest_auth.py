"""REST tokens (docs/security.md, "REST tokens"): an admin creates tokens
with `strata admin token` in a local file the daemons read; with a token in
it every route but health (and, by config, /metrics) needs one, a readonly
token reads but cannot change anything, revoking takes effect without a
restart, and a daemon refuses a token file others may read and a
non-loopback bind without any token. The CLI and strata-top send the token
from STRATA_TOKEN, STRATA_TOKEN_FILE or --token-file and say what to do
when it is missing."""
import json
import os
import socket
import stat
import subprocess
import time
import urllib.parse

from harness import (BUILD_DIR, ClusterTestCase, check_sanitizer_output, get_json, main,
                     request, sanitizer_env, wait_for)

TOP_BIN = os.path.join(BUILD_DIR, "console", "tui", "strata-top")
WORKER_TOKEN = "wt-" + "x7" * 12


def q(path):
    return urllib.parse.quote(path, safe="")


def local_address():
    """A non-loopback IPv4 address of this machine, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


class RestAuthTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.tokfile = os.path.join(self.tmp, "etc", "tokens")
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(self.root, "data"))
        with open(os.path.join(self.root, "data", "a.txt"), "w") as f:
            f.write("hello")

    def token(self, role, name=None):
        args = ["admin", "token", "create", "--role", role, "--file", self.tokfile, "--json"]
        if name:
            args += ["--name", name]
        r = self.cluster.cli(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertTrue(doc["token"].startswith("stk_" + doc["id"] + "_"))
        return doc

    def start(self, extra=None, worker=True):
        s = {"master.root_ufs": "file://" + self.root, "http.token_file": self.tokfile,
             "cluster.worker_token": WORKER_TOKEN}
        s.update(extra or {})
        self.m = self.cluster.master(settings=s)
        self.w = None
        if worker:
            self.w = self.cluster.worker(self.m, settings={
                "http.token_file": self.tokfile, "cluster.worker_token": WORKER_TOKEN})
            admin = getattr(self, "admin", None)
            hdr = {"Authorization": "Bearer " + admin["token"]} if admin else {}
            wait_for(lambda: len(get_json(self.m.url + "/api/v1/workers",
                                          headers=hdr)[1]["workers"]) == 1,
                     what="the worker to register")

    def call(self, url, method="GET", token=None, body=None):
        h = {"Authorization": "Bearer " + token} if token else {}
        status, headers, data = request(url, method=method, body=body, headers=h)
        if "json" in headers.get("content-type", ""):
            data = json.loads(data)
        return status, headers, data

    def cli(self, *args, env=None):
        return self.cluster.cli("--master", self.m.address, *args, env=env)

    def test_no_token_file_is_open_on_loopback(self):
        self.start()
        self.assertFalse(os.path.exists(self.tokfile))
        status, _, body = self.call(self.m.url + "/api/v1/files/mkdir", "POST",
                                    body={"path": "/data/new"})
        self.assertEqual(status, 201, body)
        self.assertEqual(self.call(self.m.url + "/api/v1/workers")[0], 200)
        self.assertEqual(self.call(self.w.url + "/api/v1/worker")[0], 200)
        self.assertIn("auth is off until a token is created", self.m.read_log())
        self.assertEqual(self.call(self.m.url + "/api/v1/auth")[2],
                         {"required": False, "role": "admin", "token": "not_needed"})
        r = self.cli("admin", "workers")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_roles_on_every_route(self):
        self.admin = self.token("admin", "ops")
        ro = self.token("readonly", "grafana")
        self.start()
        m, w = self.m.url, self.w.url
        # Public: health, the OpenAPI document, /metrics (the default).
        for url in (m + "/api/v1/health", w + "/api/v1/health", m + "/api/v1/openapi.json",
                    m + "/metrics", w + "/metrics", m + "/"):
            self.assertEqual(self.call(url)[0], 200, url)

        reads = ["/api/v1/cluster", "/api/v1/workers", "/api/v1/config", "/api/v1/mounts",
                 "/api/v1/files?path=/data", "/api/v1/files/stat?path=/data/a.txt",
                 "/api/v1/events", "/api/v1/metrics", "/api/v1/metrics/history",
                 "/api/v1/masters", "/api/v1/masters/self"]
        wreads = ["/api/v1/worker", "/api/v1/config", "/api/v1/metrics",
                  "/api/v1/data?path=/data/a.txt"]
        targets = [m + p for p in reads] + [w + p for p in wreads]
        for url in targets:
            status, headers, body = self.call(url)
            self.assertEqual(status, 401, url)
            self.assertEqual(body["error"]["code"], "unauthorized", url)
            self.assertTrue(headers["www-authenticate"].startswith("Bearer"), url)
            self.assertIn("needs a token", body["error"]["message"])
            self.assertEqual(self.call(url, token=ro["token"])[0], 200, url)
            self.assertEqual(self.call(url, token=self.admin["token"])[0], 200, url)

        writes = [("POST", m + "/api/v1/mounts", {"path": "/x", "uri": "file:///tmp"}),
                  ("DELETE", m + "/api/v1/mounts?path=/x", None),
                  ("DELETE", m + "/api/v1/files?path=/data/a.txt", None),
                  ("POST", m + "/api/v1/files/mkdir", {"path": "/data/d"}),
                  ("POST", m + "/api/v1/files/rename", {"src": "/data/a.txt",
                                                        "dst": "/data/b.txt"}),
                  ("PUT", m + "/api/v1/files/pin?path=/data", {}),
                  ("DELETE", m + "/api/v1/files/pin?path=/data", None),
                  ("PUT", m + "/api/v1/files/ttl?path=/data", {"ttl": "1h"}),
                  ("DELETE", m + "/api/v1/files/ttl?path=/data", None),
                  ("PUT", m + "/api/v1/files/replication?path=/data", {"min": 1}),
                  ("DELETE", m + "/api/v1/files/replication?path=/data", None),
                  ("POST", m + "/api/v1/masters", {"id": "9"}),
                  ("DELETE", m + "/api/v1/masters/9", None),
                  ("PUT", w + "/api/v1/data?path=/data/new.txt", b"x")]
        wrong = ro["token"][:-1] + ("0" if ro["token"][-1] != "0" else "1")
        # Who am I (the console's sign-in): public, never more than the
        # caller's own token is worth.
        for tok, want in ((None, (None, "missing")), (wrong, (None, "refused")),
                          ("stk_x", (None, "refused")), (ro["token"], ("readonly", "valid")),
                          (self.admin["token"], ("admin", "valid"))):
            status, _, body = self.call(m + "/api/v1/auth", token=tok)
            self.assertEqual(status, 200)
            self.assertEqual((body["required"], body["role"], body["token"]), (True, *want))
        for method, url, body in writes:
            what = f"{method} {url}"
            status, headers, reply = self.call(url, method, body=body)
            self.assertEqual(status, 401, what)
            status, headers, reply = self.call(url, method, token=wrong, body=body)
            self.assertEqual(status, 401, what)
            self.assertIn('error="invalid_token"', headers["www-authenticate"])
            status, _, reply = self.call(url, method, token=ro["token"], body=body)
            self.assertEqual(status, 403, what)
            self.assertEqual(reply["error"]["code"], "forbidden", what)
            self.assertIn("token role readonly cannot " + method, reply["error"]["message"])
        # The namespace did not change under the readonly token.
        status, _, body = self.call(m + "/api/v1/files?path=/data", token=ro["token"])
        self.assertEqual([e["name"] for e in body["entries"]], ["a.txt"])
        # The admin token changes things.
        status, _, body = self.call(m + "/api/v1/files/mkdir", "POST", self.admin["token"],
                                    {"path": "/data/d"})
        self.assertEqual(status, 201, body)
        status, _, body = self.call(m + "/api/v1/files/pin", "PUT", self.admin["token"],
                                    {"path": "/data/a.txt"})
        self.assertEqual(status, 200, body)
        status, _, body = self.call(w + "/api/v1/data?path=/data/new.txt", "PUT",
                                    self.admin["token"], b"new bytes")
        self.assertEqual(status, 201, body)
        # Worker routes keep the worker token rule: a user token is not it.
        status, _, body = self.call(m + "/api/v1/internal/file?path=/data/a.txt",
                                    token=self.admin["token"])
        self.assertEqual(status, 401, body)
        # A worker's S3 gateway calls the namespace routes with the worker
        # token, so S3 clients keep working with REST auth on.
        s3 = f"http://127.0.0.1:{self.w.settings['worker.s3_port']}"
        status, _, data = request(s3 + "/data?list-type=2")
        self.assertEqual(status, 200, data)
        self.assertIn(b"<Key>a.txt</Key>", data)

        # Secrets never reach a log, a config view or the file.
        for d in (self.m, self.w):
            log = d.read_log()
            for t in (self.admin, ro):
                self.assertNotIn(t["token"].split("_")[2], log, d.name)
        with open(self.tokfile) as f:
            text = f.read()
        self.assertNotIn(self.admin["token"].split("_")[2], text)
        self.assertEqual(stat.S_IMODE(os.stat(self.tokfile).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(self.tokfile)).st_mode), 0o700)

    def test_create_and_revoke_without_restart(self):
        self.admin = self.token("admin")
        self.start(worker=False)
        url = self.m.url + "/api/v1/workers"
        ro = self.token("readonly")
        wait_for(lambda: self.call(url, token=ro["token"])[0] == 200, timeout=5,
                 what="the new token to be accepted")
        r = self.cluster.cli("admin", "token", "revoke", ro["id"], "--file", self.tokfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        t0 = time.monotonic()
        wait_for(lambda: self.call(url, token=ro["token"])[0] == 401, timeout=5,
                 what="the revoked token to be refused")
        self.assertLess(time.monotonic() - t0, 2.5)
        status, _, body = self.call(url, token=ro["token"])
        self.assertIn("invalid or revoked token", body["error"]["message"])
        self.assertEqual(self.call(url, token=self.admin["token"])[0], 200)
        self.assertIn(f"token {ro['id']} is unknown or revoked", self.m.read_log())
        # Revoking every token on a loopback daemon turns auth off again.
        r = self.cluster.cli("admin", "token", "revoke", self.admin["id"], "--file",
                             self.tokfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_for(lambda: self.call(url)[0] == 200, timeout=5, what="auth off")
        r = self.cluster.cli("admin", "token", "revoke", self.admin["id"], "--file",
                             self.tokfile)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"no token with id '{self.admin['id']}'", r.stderr)

    def test_list_shows_no_secret(self):
        a = self.token("admin", "ops team")
        ro = self.token("readonly")
        r = self.cluster.cli("admin", "token", "list", "--file", self.tokfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(a["id"], r.stdout)
        self.assertIn("ops team", r.stdout)
        self.assertIn("readonly", r.stdout)
        with open(self.tokfile) as f:
            hashes = [line.split(":")[3] for line in f if not line.startswith("#")]
        for secret in (a["token"].split("_")[2], ro["token"].split("_")[2], *hashes):
            self.assertNotIn(secret, r.stdout)
        r = self.cluster.cli("admin", "token", "list", "--file", self.tokfile, "--json")
        doc = json.loads(r.stdout)
        self.assertEqual([t["id"] for t in doc["tokens"]], [a["id"], ro["id"]])
        self.assertEqual(set(doc["tokens"][0]), {"id", "role", "name", "created",
                                                  "created_utc"})
        # Human create prints the token alone on stdout, the advice on stderr.
        r = self.cluster.cli("admin", "token", "create", "--role", "readonly", "--file",
                             self.tokfile)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^stk_[0-9a-f]{12}_[0-9a-f]{64}\n$")
        self.assertIn("only time the token is shown", r.stderr)
        r = self.cluster.cli("admin", "token", "create", "--role", "root", "--file",
                             self.tokfile)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--role must be admin or readonly", r.stderr)
        os.chmod(self.tokfile, 0o644)
        r = self.cluster.cli("admin", "token", "list", "--file", self.tokfile)
        self.assertEqual(r.returncode, 1)
        self.assertIn("mode 0644", r.stderr)

    def test_s3_gateway_without_worker_token_says_why(self):
        """REST tokens on, no cluster.worker_token: the gateway's namespace
        calls are refused, and the worker's log says what to set."""
        self.admin = self.token("admin")
        self.start({"cluster.worker_token": ""})
        s3 = f"http://127.0.0.1:{self.w.settings['worker.s3_port']}"
        status, _, data = request(s3 + "/data?list-type=2")
        self.assertNotEqual(status, 200, data)
        wait_for(lambda: "set cluster.worker_token on masters and workers" in self.w.read_log(),
                 what="the worker's warning")

    def test_masters_ask_each_other_with_the_token(self):
        """GET /api/v1/masters asks every master for its own view: with REST
        auth on there, the caller's token goes along (no worker token here),
        so no master shows as unreachable."""
        ro = self.token("readonly")
        ms = self.cluster.masters(2, settings={"http.token_file": self.tokfile})

        def roles():
            status, _, body = self.call(ms[0].url + "/api/v1/masters", token=ro["token"])
            self.assertEqual(status, 200, body)
            return sorted(x["role"] for x in body["masters"])
        wait_for(lambda: roles() == ["follower", "leader"], timeout=20,
                 what="both masters' own views")
        self.assertEqual(self.call(ms[1].url + "/api/v1/masters")[0], 401)

    def test_token_errors_are_named(self):
        """Every way the CLI's token handling fails says what and exits
        non-zero, with no daemon involved."""
        empty = os.path.join(self.tmp, "empty")
        open(empty, "w").close()
        r = self.cluster.cli("--master", "127.0.0.1:1", "--token-file", empty, "admin", "workers")
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"--token-file '{empty}': holds no token", r.stderr)
        r = self.cluster.cli("--master", "127.0.0.1:1", "admin", "workers",
                             env={"STRATA_TOKEN_FILE": os.path.join(self.tmp, "nope")})
        self.assertEqual(r.returncode, 2)
        self.assertIn("STRATA_TOKEN_FILE", r.stderr)
        r = self.cluster.cli("--master", "127.0.0.1:1", "admin", "workers",
                             env={"STRATA_TOKEN": "a\nb"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("STRATA_TOKEN: not a token", r.stderr)
        r = subprocess.run([TOP_BIN, "--master", "127.0.0.1:1", "-b", "-n", "1", "--token-file",
                            empty], capture_output=True, text=True, timeout=30,
                           env=sanitizer_env(self.cluster.env()))
        self.assertEqual(r.returncode, 2)
        self.assertIn("holds no token", r.stderr)
        # The token file's place is unusable: named, exit 1.
        afile = os.path.join(self.tmp, "afile")
        open(afile, "w").close()
        r = self.cluster.cli("admin", "token", "create", "--role", "admin", "--file",
                             os.path.join(afile, "tokens"))
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"cannot create '{afile}'", r.stderr)
        r = self.cluster.cli("admin", "token", "create", "--role", "admin", "--name", "x\ty",
                             "--file", self.tokfile)
        self.assertEqual(r.returncode, 2)
        self.assertIn("name: at most 64 bytes, no control characters", r.stderr)
        r = self.cluster.cli("admin", "token", "revoke", "--file", self.tokfile)
        self.assertEqual(r.returncode, 2)
        r = self.cluster.cli("admin", "token", "list", "--role", "admin", "--file",
                             self.tokfile)
        self.assertEqual(r.returncode, 2)
        with open(self.tokfile, "a") as f:  # a line no tool wrote
            f.write("garbage\n")
        os.chmod(self.tokfile, 0o600)
        r = self.cluster.cli("admin", "token", "list", "--file", self.tokfile)
        self.assertEqual(r.returncode, 1)
        self.assertIn("line 1: id: missing", r.stderr)

    def test_metrics_by_config(self):
        ro = self.token("readonly")
        self.start({"http.metrics_public": "false"}, worker=False)
        self.assertEqual(self.call(self.m.url + "/metrics")[0], 401)
        self.assertEqual(self.call(self.m.url + "/metrics", token=ro["token"])[0], 200)
        self.assertEqual(self.call(self.m.url + "/api/v1/health")[0], 200)

    def test_group_readable_file_is_refused(self):
        self.token("admin")
        os.chmod(self.tokfile, 0o640)
        for start in (lambda: self.cluster.master(
                          settings={"http.token_file": self.tokfile}, wait=False),
                      lambda: self.cluster.worker(
                          [], settings={"http.token_file": self.tokfile,
                                        "master.addresses": "127.0.0.1:1"}, wait=False)):
            d = start()
            code = d.proc.wait(10)
            self.assertNotEqual(code, 0)
            log = d.read_log()
            self.assertIn(f"token file '{self.tokfile}' has mode 0640", log)
            self.assertIn("chmod 600", log)

    def test_non_loopback_bind_needs_a_token(self):
        addr = local_address()
        if not addr:
            self.skipTest("this machine has no non-loopback IPv4 address")
        m = self.cluster.master(name="open", settings={
            "master.bind": addr, "http.token_file": self.tokfile}, wait=False)
        self.assertNotEqual(m.proc.wait(10), 0)
        log = m.read_log()
        self.assertIn(f"binds {addr}, which is not loopback", log)
        self.assertIn("http.insecure_no_auth=true", log)
        m = self.cluster.master(name="insecure", settings={
            "master.bind": addr, "http.token_file": self.tokfile,
            "http.insecure_no_auth": "true"})
        self.assertIn("anyone who reaches the port may read and change everything",
                      m.read_log())
        self.assertEqual(self.call(m.url + "/api/v1/workers")[0], 200)
        m.stop()
        # With a token it starts, and checks it.
        ro = self.token("readonly")
        m = self.cluster.master(name="tokens", settings={
            "master.bind": addr, "http.token_file": self.tokfile})
        self.assertEqual(self.call(m.url + "/api/v1/workers")[0], 401)
        self.assertEqual(self.call(m.url + "/api/v1/workers", token=ro["token"])[0], 200)

    def test_cli_and_top_send_the_token(self):
        self.admin = self.token("admin")
        ro = self.token("readonly")
        self.start()
        r = self.cli("admin", "workers")
        self.assertEqual(r.returncode, 1)
        self.assertIn("needs a token: set STRATA_TOKEN", r.stderr)
        r = self.cli("admin", "workers", env={"STRATA_TOKEN": ro["token"]})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.w.address, r.stdout)
        r = self.cli("admin", "workers", env={"STRATA_TOKEN": ro["token"][:-1] + "x"})
        self.assertEqual(r.returncode, 1)
        self.assertIn("the token was refused", r.stderr)
        r = self.cli("fs", "mkdir", "/data/cli", env={"STRATA_TOKEN": ro["token"]})
        self.assertEqual(r.returncode, 1)
        self.assertIn("token role readonly cannot POST", r.stderr)
        self.assertIn("use a token with role admin", r.stderr)
        tf = os.path.join(self.tmp, "my-token")
        with open(tf, "w") as f:
            f.write(self.admin["token"] + "\n")
        r = self.cli("fs", "mkdir", "/data/cli", env={"STRATA_TOKEN_FILE": tf})
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("--token-file", tf, "fs", "cat", "/data/a.txt")
        self.assertEqual((r.returncode, r.stdout), (0, "hello"), r.stderr)
        local = os.path.join(self.tmp, "up.txt")
        with open(local, "w") as f:
            f.write("uploaded")
        r = self.cli("--token-file", tf, "fs", "put", local, "/data/up.txt")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.cli("--token-file", os.path.join(self.tmp, "missing"), "admin", "workers")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--token-file", r.stderr)

        def top(env):
            r = subprocess.run([TOP_BIN, "--master", self.m.address, "-b", "-n", "1"],
                               capture_output=True, text=True, timeout=60,
                               env=sanitizer_env(self.cluster.env(env)))
            check_sanitizer_output(r.stdout + r.stderr, "strata-top")
            return r
        r = top({"STRATA_TOKEN": ro["token"]})
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn(self.w.address, r.stdout)
        r = top({})
        self.assertEqual(r.returncode, 1)
        self.assertIn("needs a token: set STRATA_TOKEN", r.stdout + r.stderr)


if __name__ == "__main__":
    main()
