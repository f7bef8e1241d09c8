"""The unified namespace over local stores: lazy loading, file operations
through REST and the CLI, mounts (nested, read-only), hostile paths, changes
behind strata's back, and durability across SIGKILL."""
import json
import os
import signal
import urllib.parse

from harness import ClusterTestCase, get_json, main, post_json, request, wait_for


def q(path):
    return urllib.parse.quote(path, safe="")


class NamespaceTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(self.root, "logs"))
        with open(os.path.join(self.root, "hello.txt"), "w") as f:
            f.write("hello world\n")
        with open(os.path.join(self.root, "logs", "a.log"), "w") as f:
            f.write("a" * 1000)
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root})
        self.api = self.m.url + "/api/v1"

    def ls(self, path, expect=200):
        status, body = get_json(f"{self.api}/files?path={q(path)}")
        self.assertEqual(status, expect, body)
        return {e["name"]: e for e in body["entries"]} if status == 200 else body

    def worker(self):
        """Bulk data goes through a worker, never a master: one is started
        on first use."""
        if not getattr(self, "w", None):
            self.w = self.cluster.worker(self.m)
            wait_for(lambda: get_json(f"{self.api}/workers")[1]["workers"],
                     what="the worker to register")
        return self.w

    def put(self, path, data, expect=201):
        status, _, body = request(f"{self.worker().url}/api/v1/data?path={q(path)}",
                                  method="PUT", body=data)
        self.assertEqual(status, expect, body)
        return json.loads(body)

    def cat(self, path, query=""):
        status, _, body = request(f"{self.worker().url}/api/v1/data?path={q(path)}{query}")
        self.assertEqual(status, 200, body)
        return body

    def test_lazy_load_and_stat(self):
        entries = self.ls("/")
        self.assertEqual(set(entries), {"hello.txt", "logs"})
        self.assertEqual(entries["hello.txt"]["type"], "file")
        self.assertEqual(entries["hello.txt"]["length"], 12)
        self.assertEqual(entries["logs"]["type"], "directory")
        self.assertTrue(get_json(f"{self.api}/files/stat?path=/")[1]["mount_point"])
        # A deep path is found without listing its parent first.
        status, st = get_json(f"{self.api}/files/stat?path={q('/logs/a.log')}")
        self.assertEqual((status, st["length"], st["type"]), (200, 1000, "file"))
        self.assertTrue(st["fingerprint"])
        status, body = get_json(f"{self.api}/files/stat?path=/nope")
        self.assertEqual((status, body["error"]["code"]), (404, "not_found"))
        self.assertIn("/nope", body["error"]["message"])

    def test_write_read_delete_rename(self):
        data = os.urandom(3 * 1024 * 1024 + 17)
        st = self.put("/data/blob.bin", data)
        self.assertEqual(st["length"], len(data))
        with open(os.path.join(self.root, "data", "blob.bin"), "rb") as f:
            self.assertEqual(f.read(), data, "write-through reached the store")
        self.assertEqual(self.cat("/data/blob.bin"), data)
        self.assertEqual(self.cat("/data/blob.bin", "&offset=1000&length=10"), data[1000:1010])
        self.assertEqual(self.cat("/data/blob.bin", f"&offset={len(data) + 5}"), b"")
        self.put("/data/blob.bin", b"short")  # replace
        self.assertEqual(self.cat("/data/blob.bin"), b"short")

        status, body = post_json(f"{self.api}/files/rename",
                                 {"src": "/data/blob.bin", "dst": "/data/renamed.bin"})
        self.assertEqual(status, 200, body)
        self.assertTrue(os.path.exists(os.path.join(self.root, "data", "renamed.bin")))
        self.assertEqual(set(self.ls("/data")), {"renamed.bin"})

        status, body = get_json(f"{self.api}/files?path=/data", method="DELETE")
        self.assertEqual((status, body["error"]["code"]), (409, "not_empty"))
        status, _ = get_json(f"{self.api}/files?path=/data&recursive=true", method="DELETE")
        self.assertEqual(status, 200)
        self.assertFalse(os.path.exists(os.path.join(self.root, "data")))
        self.assertNotIn("data", self.ls("/"))

    def test_mkdir(self):
        status, body = post_json(f"{self.api}/files/mkdir", {"path": "/a/b/c"})
        self.assertEqual(status, 404, body)
        status, body = post_json(f"{self.api}/files/mkdir", {"path": "/a/b/c", "parents": True})
        self.assertEqual((status, body["type"]), (201, "directory"))
        self.assertTrue(os.path.isdir(os.path.join(self.root, "a", "b", "c")))
        status, body = post_json(f"{self.api}/files/mkdir", {"path": "/a/b/c"})
        self.assertEqual((status, body["error"]["code"]), (409, "already_exists"))
        status, body = post_json(f"{self.api}/files/mkdir", {"path": "/hello.txt/x"})
        self.assertGreaterEqual(status, 400)
        self.assertLess(status, 500)

    def test_hostile_paths(self):
        for raw in ["/a/../b", "/a//b", "/a/./b", "relative", "/a%00b", "/%ff%fe",
                    "/" + "n" * 300, "/a\x01b", ""]:
            status, body = get_json(f"{self.api}/files/stat?path=" +
                                    (urllib.parse.quote(raw, safe="/%") if raw else ""))
            self.assertEqual(status, 400, (raw, body))
            self.assertEqual(body["error"]["code"], "invalid_path", raw)
        status, body = get_json(f"{self.api}/files/stat")
        self.assertEqual((status, body["error"]["code"]), (400, "invalid_argument"))
        status, body = post_json(f"{self.api}/files/mkdir", {"path": "/x/../../etc"})
        self.assertEqual(status, 400)
        self.assertIn("'..'", body["error"]["message"])
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "etc")))
        # Unicode, spaces and '+' are fine.
        for name in ["/ünï cødé+%.txt", "/with space", "/日本"]:
            self.put(name, b"x")
            status, st = get_json(f"{self.api}/files/stat?path={q(name)}")
            self.assertEqual(status, 200, name)
            self.assertEqual(st["path"], name)

    def test_mounts_nested_readonly_and_secrets(self):
        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        with open(os.path.join(other, "o.txt"), "w") as f:
            f.write("o")
        status, body = post_json(f"{self.api}/mounts", {
            "path": "/mnt/ro", "uri": "file://" + other, "readonly": True,
            "options": {"sync_interval": "always", "block_size": "8MB",
                        "s3.secret_key": "supersecret-value"}})
        self.assertEqual(status, 201, body)
        status, mounts = get_json(f"{self.api}/mounts")
        ro = [m for m in mounts["mounts"] if m["path"] == "/mnt/ro"][0]
        self.assertEqual(ro["options"]["s3.secret_key"], "***")
        self.assertEqual(ro["block_size"], 8 << 20)
        self.assertEqual(ro["sync_interval_ms"], 0)
        self.assertTrue(ro["readonly"])
        self.assertNotIn("supersecret-value", self.m.read_log())
        with open(os.path.join(self.m.settings["master.state_dir"], "namespace.db"), "rb"):
            pass
        self.assertEqual(os.stat(os.path.join(self.m.settings["master.state_dir"],
                                              "namespace.db")).st_mode & 0o077, 0)

        self.assertEqual(set(self.ls("/mnt/ro")), {"o.txt"})
        self.assertTrue(self.ls("/mnt")["ro"]["mount_point"])
        self.assertEqual(self.cat("/mnt/ro/o.txt"), b"o")
        body = self.put("/mnt/ro/new", b"x", expect=403)
        self.assertEqual(body["error"]["code"], "read_only")
        status, body = get_json(f"{self.api}/files?path={q('/mnt/ro/o.txt')}", method="DELETE")
        self.assertEqual(status, 403)
        self.assertTrue(os.path.exists(os.path.join(other, "o.txt")))
        status, body = post_json(f"{self.api}/files/rename",
                                 {"src": "/hello.txt", "dst": "/mnt/ro/hello.txt"})
        self.assertEqual(status, 403, body)

        # Mounting over a non-empty directory or an existing mount is refused.
        status, body = post_json(f"{self.api}/mounts", {"path": "/logs", "uri": "file://" + other})
        self.assertEqual((status, body["error"]["code"]), (409, "not_empty"))
        status, body = post_json(f"{self.api}/mounts", {"path": "/mnt/ro", "uri": "file://" + other})
        self.assertEqual(status, 409)
        # Bad stores and options name the problem.
        status, body = post_json(f"{self.api}/mounts", {"path": "/x", "uri": "file:///does/not/exist"})
        self.assertEqual(status, 404, body)
        status, body = post_json(f"{self.api}/mounts", {"path": "/x", "uri": "ftp://host/x"})
        self.assertEqual(status, 400, body)
        status, body = post_json(f"{self.api}/mounts", {"path": "/x", "uri": "file://" + other,
                                                       "options": {"block_size": "1KB"}})
        self.assertEqual(status, 400)
        self.assertIn("block_size", body["error"]["message"])
        status, body = post_json(f"{self.api}/mounts", {"path": "/x", "uri": "file://" + other,
                                                       "options": {"colour": "blue"}})
        self.assertEqual(status, 400)
        self.assertIn("colour", body["error"]["message"])

        status, body = get_json(f"{self.api}/files?path=/mnt&recursive=true", method="DELETE")
        self.assertEqual((status, body["error"]["code"]), (409, "mount_point"))
        status, _ = get_json(f"{self.api}/mounts?path={q('/mnt/ro')}", method="DELETE")
        self.assertEqual(status, 200)
        self.ls("/mnt/ro", expect=404)
        self.assertTrue(os.path.exists(os.path.join(other, "o.txt")), "unmount keeps data")

    def test_changes_behind_strata(self):
        other = os.path.join(self.tmp, "live")
        os.makedirs(other)
        status, _ = post_json(f"{self.api}/mounts", {"path": "/live", "uri": "file://" + other,
                                                    "options": {"sync_interval": "always"}})
        self.assertEqual(status, 201)
        self.assertEqual(self.ls("/live"), {})
        path = os.path.join(other, "f")
        with open(path, "w") as f:
            f.write("12345")
        self.assertEqual(self.ls("/live")["f"]["length"], 5)
        st1 = get_json(f"{self.api}/files/stat?path=/live/f")[1]
        with open(path, "w") as f:
            f.write("1234567890")
        os.utime(path, ns=(st1["mtime_ms"] * 1000000 + 5 * 10**9,) * 2)
        st2 = get_json(f"{self.api}/files/stat?path=/live/f")[1]
        self.assertEqual(st2["length"], 10)
        self.assertNotEqual(st1["fingerprint"], st2["fingerprint"])
        os.unlink(path)
        self.assertEqual(get_json(f"{self.api}/files/stat?path=/live/f")[0], 404)

        # sync_interval=never: loaded once, then changes stay invisible.
        frozen = os.path.join(self.tmp, "frozen")
        os.makedirs(frozen)
        post_json(f"{self.api}/mounts", {"path": "/frozen", "uri": "file://" + frozen,
                                         "options": {"sync_interval": "never"}})
        self.assertEqual(self.ls("/frozen"), {})
        open(os.path.join(frozen, "late"), "w").close()
        self.assertEqual(self.ls("/frozen"), {})

    def restart(self, **settings):
        self.m.stop()
        for k, v in settings.items():
            self.m.settings[k] = v
            self.m.argv += ["--set", f"{k}={v}"]
        self.m.start()
        self.m.wait_ready()

    def kill_and_restart(self):
        self.m.send_signal(signal.SIGKILL)
        self.m.proc.wait()
        self.m.log.close()
        self.m.start()
        self.m.wait_ready()

    def test_acknowledged_mutations_survive_sigkill(self):
        # With sync_interval=never the namespace is the only source of the
        # listing after its first load, so what comes back after SIGKILL
        # is what the Raft log kept, not what the store shows.
        self.restart(**{"master.mount.sync_interval": "never"})
        self.ls("/")
        names = [f"/d{i:03d}" for i in range(60)]
        for n in names:
            status, body = post_json(f"{self.api}/files/mkdir", {"path": n})
            self.assertEqual(status, 201, body)
        self.put("/d000/file", b"payload")
        self.kill_and_restart()
        for n in names[1:]:
            os.rmdir(os.path.join(self.root, n[1:]))
        self.assertIn("to replay", self.m.read_log())
        listing = self.ls("/")
        for n in names:
            self.assertIn(n[1:], listing)
        self.assertEqual(self.cat("/d000/file"), b"payload")

    def test_snapshot_and_compaction(self):
        self.restart(**{"master.snapshot_every": "20", "master.mount.sync_interval": "never"})
        self.ls("/")
        for i in range(45):
            status, _ = post_json(f"{self.api}/files/mkdir", {"path": f"/s{i}"})
            self.assertEqual(status, 201)
        state = self.m.settings["master.state_dir"]
        self.assertTrue(os.path.exists(os.path.join(state, "raft", "snapshot")))
        self.assertIn("raft log compacted", self.m.read_log())
        self.kill_and_restart()
        for i in range(45):
            os.rmdir(os.path.join(self.root, f"s{i}"))
        listing = self.ls("/")
        self.assertEqual(sum(1 for n in listing if n.startswith("s")), 45)

    def test_cli_fs(self):
        c = self.cluster.cli
        addr = ["--master", self.m.address]
        self.worker()  # put and cat go through it
        r = c(*addr, "fs", "ls", "/")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("/hello.txt", r.stdout)
        local = os.path.join(self.tmp, "up.bin")
        with open(local, "wb") as f:
            f.write(b"0123456789" * 1000)
        r = c(*addr, "fs", "put", local, "/up/up.bin")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = c(*addr, "fs", "cat", "/up/up.bin")
        self.assertEqual(r.stdout, "0123456789" * 1000)
        r = c(*addr, "fs", "ls", "-R", "/")
        self.assertIn("/up/up.bin", r.stdout)
        self.assertIn("/logs/a.log", r.stdout)
        r = c(*addr, "--json", "fs", "stat", "/up/up.bin")
        self.assertEqual(json.loads(r.stdout)["length"], 10000)
        r = c(*addr, "fs", "mkdir", "-p", "/m/n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = c(*addr, "fs", "mv", "/up/up.bin", "/m/n/moved.bin")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = c(*addr, "fs", "rm", "/m")
        self.assertEqual(r.returncode, 1)
        self.assertIn("not empty", r.stderr)
        r = c(*addr, "fs", "rm", "-r", "/m")
        self.assertEqual(r.returncode, 0, r.stderr)
        other = os.path.join(self.tmp, "o")
        os.makedirs(other)
        r = c(*addr, "fs", "mount", "--readonly", "--option", "sync_interval=never", "/o",
              "file://" + other)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = c(*addr, "fs", "mounts")
        self.assertIn("/o", r.stdout)
        self.assertIn("never", r.stdout)
        r = c(*addr, "fs", "unmount", "/o")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = c(*addr, "fs", "cat", "/nope")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr, "strata: /nope: no such file or directory\n")
        r = c(*addr, "fs", "ls", "/a/../b")
        self.assertEqual(r.returncode, 1)
        self.assertIn("'..'", r.stderr)
        self.assertNotIn("http", r.stderr)
        r = c(*addr, "fs", "mount", "/only-one-arg")
        self.assertEqual(r.returncode, 2)
        r = c(*addr, "fs", "frobnicate")
        self.assertEqual(r.returncode, 2)

    def test_cli_errors_name_the_path_and_the_reason(self):
        """Errors say which path and why, in the words of the shell, never
        the URL the CLI called."""
        addr = ["--master", self.m.address]
        for args, want in (
                (("fs", "stat", "/nope"), "strata: /nope: no such file or directory\n"),
                (("fs", "ls", "/nope/deeper"),
                 "strata: /nope/deeper: no such file or directory\n"),
                (("fs", "rm", "/nope"), "strata: /nope: no such file or directory\n"),
                (("fs", "mkdir", "/logs"), "strata: /logs: file exists\n"),
                (("fs", "mv", "/nope", "/other"),
                 "strata: /nope -> /other: no such file or directory\n"),
                (("fs", "unmount", "/nope"), None)):
            r = self.cluster.cli(*addr, *args)
            self.assertEqual(r.returncode, 1, (args, r.stdout, r.stderr))
            self.assertNotIn("/api/v1", r.stderr)
            self.assertNotIn("HTTP", r.stderr)
            if want:
                self.assertEqual(r.stderr, want, args)
            else:
                self.assertTrue(r.stderr.startswith("strata: /nope: "), r.stderr)


if __name__ == "__main__":
    main()
