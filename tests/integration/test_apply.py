"""`strata apply FILE` against a real master: the declarative description
of mounts and per-path policies an admin keeps in CI. A dry run says what it
would change and changes nothing; a run applies it; a second run changes
nothing; a conflicting mount or a path that does not exist fails that item
(named, exit 1) while the others still apply; a bad file is refused before
anything is sent, naming the item and field."""
import json
import os

from harness import ClusterTestCase, get_json, main


class ApplyTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        self.data = os.path.join(self.tmp, "data")
        self.other = os.path.join(self.tmp, "other")
        for d in (self.root, os.path.join(self.data, "hot"), self.other):
            os.makedirs(d)
        with open(os.path.join(self.data, "hot", "a.bin"), "wb") as f:
            f.write(b"a" * 100)
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root})
        self.addr = ["--master", self.m.address]

    def write(self, doc, name="cluster.json"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def apply(self, *args):
        return self.cluster.cli(*self.addr, "apply", *args)

    def mounts(self):
        return {m["path"]: m for m in get_json(self.m.url + "/api/v1/mounts")[1]["mounts"]}

    def stat(self, path):
        status, n = get_json(self.m.url + "/api/v1/files/stat?path=" + path)
        self.assertEqual(status, 200, n)
        return n

    def desc(self):
        return {
            "mounts": [{"path": "/data", "uri": "file://" + self.data,
                        "options": {"sync_interval": "never"}}],
            "policies": [
                {"path": "/data/hot", "recursive": True, "pin": {"medium": "MEM"},
                 "ttl": {"duration": "7d", "action": "free"},
                 "replication": {"min": 1, "max": 2}, "write_type": "ASYNC_THROUGH"},
                {"path": "/data", "replication": {"min": 1, "max": None}},
            ],
        }

    def test_dry_run_apply_and_idempotent_rerun(self):
        f = self.write(self.desc())
        # The policies' path does not exist before the mount does: the dry
        # run says the mount would be added and names the path it cannot see.
        r = self.apply("--dry-run", f)
        self.assertIn("+ mount /data file://", r.stdout)
        self.assertIn("would be set", r.stdout)
        self.assertNotIn("/data", self.mounts(), "a dry run changed something")

        r = self.apply(f)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("+ mount /data", r.stdout)
        self.assertIn("+ policy /data/hot pin: set: MEM (was unpinned), and below", r.stdout)
        self.assertIn("+ policy /data/hot ttl: set: 7d then free", r.stdout)
        self.assertIn("+ policy /data/hot replication: set: 1..2", r.stdout)
        self.assertIn("+ policy /data/hot write_type: set: ASYNC_THROUGH (was default), and below",
                      r.stdout)
        self.assertIn("+ policy /data replication: set: 1..unbounded (was 0..unbounded)",
                      r.stdout)
        self.assertEqual(self.mounts()["/data"]["uri"], "file://" + self.data)
        n = self.stat("/data/hot/a.bin")  # recursive: the file below too
        self.assertEqual((n["pinned"], n["pin_medium"]), (True, "MEM"))
        self.assertEqual((n["ttl_ms"], n["ttl_action"]), (7 * 86400000, "free"))
        self.assertEqual((n["repl_min"], n["repl_max"]), (1, 2))
        self.assertEqual(n["write_type"], "ASYNC_THROUGH")
        self.assertEqual((self.stat("/data")["repl_min"], self.stat("/data")["repl_max"]), (1, -1))

        def policy_events():  # (the pin's load job adds job_* events of its own)
            return [e for e in get_json(self.m.url + "/api/v1/events?limit=1000")[1]["events"]
                    if not e["type"].startswith("job_")]
        before = policy_events()
        self.assertIn("write_type_set", [e["type"] for e in before])
        # Again: nothing changes, and it says so; the dry run first.
        r = self.apply("--dry-run", f)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("would be", r.stdout)
        self.assertIn("0 to change, 0 failed", r.stdout)
        self.assertIn("= policy /data/hot write_type: unchanged: ASYNC_THROUGH", r.stdout)
        r = self.apply("--json", f)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["changed"], doc["failed"]), (0, 0), doc)
        self.assertEqual({i["state"] for i in doc["items"]}, {"unchanged"})
        self.assertEqual(policy_events(), before, "the second run changed something")

        # false clears a policy; a dry run of that says so and leaves it.
        d = self.desc()
        d["policies"][0].update({"pin": False, "recursive": False, "write_type": False})
        del d["policies"][0]["ttl"]
        f2 = self.write(d, "clear.json")
        r = self.apply("--dry-run", f2)
        self.assertIn("- policy /data/hot pin: would be cleared", r.stdout)
        self.assertTrue(self.stat("/data/hot")["pinned"])
        r = self.apply(f2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(self.stat("/data/hot")["pinned"])
        self.assertEqual(self.stat("/data/hot")["write_type"], "")
        self.assertEqual(self.stat("/data/hot/a.bin")["write_type"], "ASYNC_THROUGH",
                         "not recursive: left below")
        self.assertEqual(self.stat("/data/hot")["ttl_ms"], 7 * 86400000, "ttl left as it was")

    def test_failed_items_are_named_and_the_rest_applies(self):
        f = self.write(self.desc())
        self.assertEqual(self.apply(f).returncode, 0)
        d = self.desc()
        d["mounts"][0]["uri"] = "file://" + self.other  # conflicts
        d["mounts"].append({"path": "/other", "uri": "file://" + self.other})
        d["mounts"].append({"path": "/broken", "uri": "file:///nonexistent/dir"})
        d["policies"].append({"path": "/data/missing", "pin": {}})
        d["policies"].append({"path": "/other", "replication": {"min": 1, "max": "unbounded"}})
        r = self.apply(self.write(d, "conflict.json"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("! mount /data", r.stdout)
        self.assertIn("already mounted differently (its store is file://" + self.data, r.stdout)
        self.assertIn("! mount /broken", r.stdout)
        self.assertIn("/nonexistent/dir", r.stdout)
        self.assertIn("! policy /data/missing path: failed", r.stdout)
        self.assertIn("+ mount /other", r.stdout)
        self.assertIn("+ policy /other replication: set: 1..unbounded", r.stdout)
        self.assertIn("3 items failed", r.stderr)
        self.assertEqual(self.mounts()["/data"]["uri"], "file://" + self.data, "left as it was")
        self.assertEqual(self.stat("/other")["repl_min"], 1)

    def test_bad_files_are_refused_before_anything_is_sent(self):
        cases = [
            ("{not json", "not valid JSON"),
            ("[]", "must hold one JSON object"),
            ({"mounts": {}}, "'mounts' must be an array"),
            ({"mount": []}, "unknown field 'mount'"),
            ({"mounts": [{"path": "/x"}]}, "mounts[0]: 'uri'"),
            ({"mounts": [{"path": "x", "uri": "file:///tmp"}]}, "mounts[0]: 'path'"),
            ({"mounts": [{"path": "/a/../b", "uri": "file:///tmp"}]}, "mounts[0]: 'path'"),
            ({"mounts": [{"path": "/x", "uri": "file:///tmp", "options": {"ttl": 5}}]},
             "option 'ttl' must be a string"),
            ({"policies": [{"path": "/data", "pin": {"medium": "TAPE"}}]},
             "policies[0]: 'pin.medium' must be MEM, SSD or HDD"),
            ({"policies": [{"path": "/data", "ttl": {"duration": "-5s"}}]},
             "policies[0]: 'ttl.duration'"),
            ({"policies": [{"path": "/data", "ttl": {"duration": "1h", "action": "burn"}}]},
             "'ttl.action' must be free or delete"),
            ({"policies": [{"path": "/data"}]}, "names no policy"),
            ({"policies": [{"path": "/data", "write_type": "SOMETIMES"}]},
             "policies[0]: 'write_type' must be THROUGH"),
            ({"policies": [{"path": "/data", "write_type": True}]},
             "policies[0]: 'write_type' must be"),
            ({"policies": [{"path": "/data", "replication": {"min": 3, "max": 2}}]},
             "policies[0]: 'replication.min' is above 'replication.max'"),
            ({"policies": [{"path": "/data", "replication": {"min": -1}}]},
             "'replication.min' must be an integer in 0..64"),
            ({"policies": [{"path": "/data", "replication": {"min": 1.5}}]},
             "'replication.min' must be an integer"),
            ({"policies": [{"path": "/data", "replication": {"max": 0}}]},
             "'replication.max' must be an integer in 1..64, or null, -1 or \"unbounded\""),
            ({"policies": [{"path": "/data", "replication": {"max": 65}}]},
             "'replication.max'"),
            ({"policies": [{"path": "/data", "replication": {"max": "lots"}}]},
             "'replication.max'"),
            ({"policies": [{"path": "/data", "pin": {}, "colour": "red"}]},
             "unknown field 'colour'"),
        ]
        for i, (doc, want) in enumerate(cases):
            with self.subTest(want=want):
                good = {"mounts": [{"path": "/ok%d" % i, "uri": "file://" + self.other}]}
                if isinstance(doc, dict):
                    doc = dict(good, **doc) if "mounts" not in doc else doc
                r = self.apply(self.write(doc, "bad%d.json" % i))
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertIn(want, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertNotIn("/ok%d" % i, self.mounts(), "something was sent")
        r = self.apply(os.path.join(self.tmp, "absent.json"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot open", r.stderr)
        r = self.apply()
        self.assertEqual(r.returncode, 2)
        self.assertIn("which file", r.stderr)


if __name__ == "__main__":
    main()
