"""Secrets never leak (issue 15 item 4). One run configures every secret
strata has -- an S3 mount's s3.secret_key (over a real s3rver), the shared
cluster.worker_token (from --config files), a REST token (strata admin
token create) and an S3 access key (strata admin s3key create) -- and uses
each: the mount reads the store, the S3 gateway serves reads and writes
signed with the key, REST calls carry the token, requests with a wrong
secret fail. Then every daemon log (at debug level, after a clean stop),
every HTTP response body collected (every GET route of docs/openapi.json
without a path parameter on master and worker, the console page, both
/metrics), the CLI's --json outputs and strata-top --json, and every file
of the state dirs except those whose job is to hold credentials, are
searched for each secret value (and each wrong one): none may appear.
A config file holding a secret is refused at start while world-readable."""
import json
import os
import secrets as pysecrets
import subprocess

import boto3
import botocore.config
from botocore.exceptions import ClientError

from harness import (BUILD_DIR, ClusterTestCase, S3rver, SOURCE_DIR, check_sanitizer_output,
                     get_json, main, request, run_tool, sanitizer_env, wait_for,
                     MASTER_BIN, WORKER_BIN)

TOP_BIN = os.path.join(BUILD_DIR, "console", "tui", "strata-top")
BUCKET = "store"


class SecretsTest(ClusterTestCase):
    def write_conf(self, name, text, mode):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_world_readable_config_with_secret_is_refused(self):
        tok = "wt-" + pysecrets.token_hex(16)
        for binary, name in ((MASTER_BIN, "strata-master"), (WORKER_BIN, "strata-worker")):
            path = self.write_conf(name + ".conf", f"cluster.worker_token = {tok}\n", 0o644)
            r = run_tool([binary, "--config", path, "--set",
                          "master.state_dir=" + os.path.join(self.tmp, "st"), "--set",
                          "worker.data_dir=" + os.path.join(self.tmp, "wd")]
                         if binary == WORKER_BIN else
                         [binary, "--config", path, "--set",
                          "master.state_dir=" + os.path.join(self.tmp, "st")],
                         env=self.cluster.env(), timeout=20)
            self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(f"config file '{path}' holds the secret cluster.worker_token but "
                          "is world-readable (mode 0644)", r.stderr)
            self.assertNotIn(tok, r.stdout + r.stderr)
        # The CLI reads config files too: same rule.
        r = self.cluster.cli("--config", path, "fs", "mounts")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("world-readable", r.stderr)

    def test_no_secret_appears_anywhere(self):
        mount_secret = "msk-" + pysecrets.token_hex(16)
        worker_token = "wt-" + pysecrets.token_hex(16)
        wrong_secret = "wrong-" + pysecrets.token_hex(16)
        store = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(store.stop)
        # s3rver checks the access key id only: any secret signs.
        s3 = store.client()
        s3.put_object(Bucket=BUCKET, Key="data/a.txt", Body=b"alpha" * 1000)

        tokfile = os.path.join(self.tmp, "etc", "tokens")
        keyfile = os.path.join(self.tmp, "etc", "s3-keys")
        mconf = self.write_conf("master.conf", f"cluster.worker_token = {worker_token}\n"
                                "log.level = debug\n", 0o600)
        wconf = self.write_conf("worker.conf", f"cluster.worker_token = {worker_token}\n"
                                "log.level = debug\n", 0o640)
        r = self.cluster.cli("admin", "token", "create", "--role", "admin", "--file", tokfile,
                             "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        rest_token = json.loads(r.stdout)["token"]
        r = self.cluster.cli("admin", "s3key", "create", "--role", "admin", "--file", keyfile,
                             "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        key = json.loads(r.stdout)
        s3_id, s3_secret = key["id"], key["secret"]
        wrong_token = rest_token[:-4] + ("0000" if not rest_token.endswith("0000") else "1111")
        values = {"mount s3.secret_key": mount_secret, "cluster.worker_token": worker_token,
                  "REST token": rest_token, "S3 key secret": s3_secret,
                  "wrong secret": wrong_secret, "wrong REST token": wrong_token}
        cli_out = []  # CLI outputs; their first lines (the create --json) hold secrets

        m = self.cluster.master(settings={"http.token_file": tokfile}, start=False)
        m.argv[1:1] = ["--config", mconf]
        m.start()
        m.wait_ready()
        w = self.cluster.worker(m, settings={"http.token_file": tokfile,
                                             "worker.s3.key_file": keyfile,
                                             "worker.metadata_ttl": "60s"}, start=False)
        w.argv[1:1] = ["--config", wconf]
        w.start()
        w.wait_ready()
        auth = {"Authorization": "Bearer " + rest_token}
        wait_for(lambda: len(get_json(m.url + "/api/v1/workers", headers=auth)[1]["workers"])
                 == 1, what="the worker to register (worker token accepted)")
        wait_for(lambda: get_json(w.url + "/api/v1/worker", headers=auth)[1]
                 .get("last_heartbeat_ms_ago", -1) >= 0, what="a heartbeat")

        env = {"STRATA_TOKEN": rest_token}

        def cli(*args, ok=True):
            r = self.cluster.cli("--master", m.address, *args, env=env)
            if ok:
                self.assertEqual(r.returncode, 0, r.stderr)
            # (labelled by the command without its option values)
            cli_out.append((" ".join(a.split("=")[0] for a in args), r.stdout + r.stderr))
            return r

        # The mount, made by the CLI with the secret as an option.
        cli("--json", "fs", "mount", "--option", "s3.endpoint=" + store.endpoint,
            "--option", "s3.access_key=" + S3rver.ACCESS_KEY,
            "--option", "s3.secret_key=" + mount_secret, "--option", "s3.path_style=true",
            "--option", "s3.region=us-east-1", "/data", f"s3://{BUCKET}/data")

        # Reads and writes through the S3 gateway, signed with the key.
        gw = f"http://127.0.0.1:{w.settings['worker.s3_port']}"

        def client(secret):
            return boto3.client("s3", endpoint_url=gw, aws_access_key_id=s3_id,
                                aws_secret_access_key=secret, region_name="us-east-1",
                                config=botocore.config.Config(
                                    s3={"addressing_style": "path"}, signature_version="s3v4",
                                    retries={"max_attempts": 1}))
        good = client(s3_secret)
        self.assertEqual(good.get_object(Bucket="data", Key="a.txt")["Body"].read(),
                         b"alpha" * 1000)
        self.assertEqual(good.get_object(Bucket="data", Key="a.txt")["Body"].read(),
                         b"alpha" * 1000)  # a hit
        good.put_object(Bucket="data", Key="b.txt", Body=b"beta")
        self.assertEqual(s3.get_object(Bucket=BUCKET, Key="data/b.txt")["Body"].read(), b"beta")
        with self.assertRaises(ClientError) as e:
            client(wrong_secret).get_object(Bucket="data", Key="a.txt")
        self.assertEqual(e.exception.response["Error"]["Code"], "SignatureDoesNotMatch")

        # REST with the token; a wrong token is refused.
        bodies = []

        def get(url, headers=auth):
            status, h, data = request(url, headers=headers, timeout=10)
            bodies.append((url, status, data.decode(errors="replace")))
            return status, data
        self.assertEqual(get(m.url + "/api/v1/mounts")[0], 200)
        self.assertEqual(get(m.url + "/api/v1/mounts",
                             headers={"Authorization": "Bearer " + wrong_token})[0], 401)
        self.assertEqual(get(w.url + "/api/v1/worker",
                             headers={"Authorization": "Bearer " + wrong_token})[0], 401)
        # A worker with the wrong worker token is refused by the master.
        bad = self.cluster.worker(m, name="badworker", settings={
            "cluster.worker_token": wrong_secret, "http.token_file": tokfile}, wait=False)
        wait_for(lambda: "cannot register: /api/v1/workers/register: wrong "
                 "X-Strata-Worker-Token" in bad.read_log(), timeout=10,
                 what="the wrong-token worker to be refused")
        bad.stop()

        # Every GET route without a path parameter, on the daemons that serve it.
        with open(os.path.join(SOURCE_DIR, "docs", "openapi.json")) as f:
            spec = json.load(f)
        skip = {"/api/v1/admin/backup"}  # the master's metadata: a credential file (0600)
        for path, ops in spec["paths"].items():
            if "get" not in ops or "{" in path or path in skip:
                continue
            tags = ops["get"].get("tags", [])
            for d, tag in ((m, "master"), (w, "worker")):
                if tag in tags:
                    q = "?path=/data" if path.startswith("/api/v1/files") else ""
                    q = "?path=/data/a.txt" if path == "/api/v1/files/stat" else q
                    get(d.url + path + q)
        self.assertEqual(get(m.url + "/")[0], 200)  # the console page
        self.assertEqual(get(m.url + "/api/v1/events?limit=1000")[0], 200)
        get(m.url + "/api/v1/config")
        get(w.url + "/api/v1/config")
        self.assertTrue(any(u.endswith("/api/v1/config") and s == 200 for u, s, _ in bodies))
        config = json.loads(next(b for u, s, b in bodies
                                 if u == m.url + "/api/v1/config" and s == 200))
        self.assertIn("(set)", json.dumps(config), "the config view shows the token as (set)")
        for d in (m, w):
            self.assertEqual(get(d.url + "/metrics")[0], 200)
            self.assertEqual(get(d.url + "/api/v1/metrics")[0], 200)

        # The CLI, --json, and strata-top --json.
        for args in (("fs", "mounts"), ("fs", "ls", "-R", "-l", "/"), ("fs", "stat", "/data"),
                     ("admin", "report"), ("admin", "workers"), ("admin", "masters"),
                     ("admin", "jobs")):
            cli("--json", *args)
            cli(*args)
        cli("fs", "cat", "/data/a.txt")
        for what, f in (("token", tokfile), ("s3key", keyfile)):
            cli("admin", what, "list", "--file", f)
            cli("--json", "admin", what, "list", "--file", f)
        # A backup holds the mounts' options (it restores them): it is
        # written private; what the CLI prints about it has no secret.
        backup = os.path.join(self.tmp, "backup.img")
        cli("admin", "backup", backup)
        self.assertEqual(os.stat(backup).st_mode & 0o777, 0o600)
        # strata apply: the same mount (a secret that is set matches) and
        # a new one, dry run then for real, text and --json.
        spec_path = os.path.join(self.tmp, "apply.json")
        with open(spec_path, "w") as f:
            opts = {"s3.endpoint": store.endpoint, "s3.access_key": S3rver.ACCESS_KEY,
                    "s3.path_style": "true", "s3.region": "us-east-1"}
            json.dump({"mounts": [
                {"path": "/data", "uri": f"s3://{BUCKET}/data",
                 "options": dict(opts, **{"s3.secret_key": mount_secret})},
                {"path": "/more", "uri": f"s3://{BUCKET}/more",
                 "options": dict(opts, **{"s3.secret_key": mount_secret})}]}, f)
        os.chmod(spec_path, 0o600)
        cli("apply", "--dry-run", spec_path)
        cli("--json", "apply", "--dry-run", spec_path)
        cli("apply", spec_path)
        cli("--json", "apply", spec_path)
        cli("--json", "fs", "mounts")
        r = cli("--json", "fs", "mount", "--option", "s3.endpoint=http://127.0.0.1:1",
                "--option", "s3.secret_key=" + wrong_secret, "/bad", "s3://nope/x", ok=False)
        r = subprocess.run([TOP_BIN, "--master", m.address, "--json", "-n", "1"],
                           capture_output=True, text=True, timeout=30,
                           env=sanitizer_env(self.cluster.env(env)))
        check_sanitizer_output(r.stdout + r.stderr, "strata-top")
        self.assertEqual(r.returncode, 0, r.stderr)
        cli_out.append(("strata-top --json", r.stdout + r.stderr))

        # Stop cleanly (the shutdown's log lines count too).
        for name, code in self.cluster.stop_all():
            self.assertEqual(code, 0, name)

        haystacks = [(f"log of {d.name}", d.read_log()) for d in self.cluster.daemons]
        haystacks += [(f"response of {u} ({s})", b) for u, s, b in bodies]
        haystacks += [("CLI output of " + a, o) for a, o in cli_out]
        # State dirs: every file but those that hold credentials by design.
        # Those must be private to the daemon's user.
        credential_files = []
        for root in (m.settings["master.state_dir"], w.settings["worker.data_dir"],
                     os.path.dirname(tokfile)):
            for dirpath, _, files in os.walk(root):
                for fn in files:
                    p = os.path.join(dirpath, fn)
                    with open(p, "rb") as f:
                        data = f.read().decode(errors="replace")
                    # The master's metadata keeps the mounts' options
                    # (a restart remounts): a credential file too.
                    if p in (tokfile, keyfile) or fn == "namespace.db" or \
                            os.path.basename(dirpath) == "raft":
                        credential_files.append(p)
                        continue
                    haystacks.append((p, data))
        self.assertIn(tokfile, credential_files)
        self.assertIn(keyfile, credential_files)
        for p in credential_files:
            # private: the file, or a directory on its way from the state dir
            modes = [os.stat(p).st_mode & 0o077]
            d = os.path.dirname(p)
            while d.startswith(self.tmp + "/"):
                modes.append(os.stat(d).st_mode & 0o077)
                d = os.path.dirname(d)
            self.assertIn(0, modes, f"{p}: others can read it ({oct(os.stat(p).st_mode)})")
        leaks = [f"{name} in {where}" for where, text in haystacks
                 for name, value in values.items() if value in text]
        self.assertEqual(leaks, [], "\n".join(leaks))
        # The key files themselves store hashes of REST tokens, never them.
        with open(tokfile) as f:
            self.assertNotIn(rest_token, f.read())
        self.assertGreater(len(bodies), 20)


if __name__ == "__main__":
    main()
