"""Per-path policies with real daemons: an admin pins, sets a TTL and a
replication range over REST and the CLI; every policy is journaled, shown
by stat, ls -l and the listing JSON, inherited by files created later under
a directory, idempotent, and every bad input is a 4xx naming its field. The
leader's TTL checker deletes (strata and the store) or frees what expired,
exactly once even when the leader is SIGKILLed between the setting and the
firing; GET /api/v1/events shows each step."""
import json
import os
import time

from harness import (ClusterTestCase, get_json, main, post_json, request, wait_for,
                     wait_leader)


def put_json(url, body):
    status, _, data = request(url, method="PUT", body=body)
    return status, (json.loads(data) if data else None)


def delete_json(url):
    status, _, data = request(url, method="DELETE")
    return status, (json.loads(data) if data else None)


class PoliciesTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(self.root, "d"))
        with open(os.path.join(self.root, "d", "old"), "w") as f:
            f.write("old")
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root})
        self.addr = ["--master", self.m.address]

    def stat(self, path):
        status, n = get_json(self.m.url + "/api/v1/files/stat?path=" + path)
        self.assertEqual(status, 200, n)
        return n

    def cli(self, *args):
        r = self.cluster.cli(*self.addr, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_rest_set_show_inherit_and_clear(self):
        url = self.m.url + "/api/v1/files/"
        status, r = put_json(url + "pin", {"path": "/d", "recursive": True, "medium": "SSD"})
        self.assertEqual(status, 200, r)
        self.assertTrue(r["changed"])
        self.assertTrue(r["inode"]["pinned"])
        self.assertEqual(self.stat("/d/old")["pin_medium"], "SSD")
        # Twice: a success that changes nothing.
        status, r = put_json(url + "pin", {"path": "/d", "recursive": True, "medium": "SSD"})
        self.assertEqual((status, r["changed"]), (200, False))

        status, r = put_json(url + "ttl", {"path": "/d", "ttl_ms": 3600000, "action": "free"})
        self.assertEqual(status, 200, r)
        status, r = put_json(url + "replication", {"path": "/d", "min": 1, "max": 2})
        self.assertEqual(status, 200, r)
        # A directory created later inherits all of it; a file gets an expiry.
        status, _ = post_json(url + "mkdir", {"path": "/d/new"})
        self.assertEqual(status, 201)
        n = self.stat("/d/new")
        self.assertEqual((n["pinned"], n["pin_medium"], n["ttl_ms"], n["ttl_action"],
                          n["repl_min"], n["repl_max"]), (True, "SSD", 3600000, "free", 1, 2))
        self.assertEqual(n["ttl_expiry_ms"], 0, "directories do not expire")
        # Listing JSON carries the policies of each entry.
        status, l = get_json(self.m.url + "/api/v1/files?path=/d")
        self.assertEqual(status, 200)
        byname = {e["name"]: e for e in l["entries"]}
        self.assertTrue(byname["old"]["pinned"])
        self.assertEqual(byname["old"]["ttl_ms"], 0, "not recursive: the old file keeps none")
        self.assertEqual(byname["new"]["repl_max"], 2)

        status, r = delete_json(url + "pin?path=/d&recursive=true")
        self.assertEqual((status, r["changed"]), (200, True))
        self.assertFalse(self.stat("/d/old")["pinned"])
        status, r = delete_json(url + "ttl?path=/d")
        self.assertEqual(status, 200, r)
        self.assertEqual(self.stat("/d")["ttl_ms"], 0)
        status, r = delete_json(url + "replication?path=/d")
        self.assertEqual(status, 200, r)
        self.assertEqual((self.stat("/d")["repl_min"], self.stat("/d")["repl_max"]), (0, -1))
        # Each change is an event, and the pin set twice is one event only.
        # (A pin starts a load job: its job_* events are not counted here.)
        got = [(e["type"], e["path"]) for e in events(self.m)["events"]
               if not e["type"].startswith("job_")]
        self.assertEqual(got, [("replication_set", "/d"), ("ttl_cleared", "/d"), ("unpin", "/d"),
                               ("replication_set", "/d"), ("ttl_set", "/d"), ("pin", "/d")])

    def test_bad_inputs_name_their_field(self):
        url = self.m.url + "/api/v1/files/"
        cases = [
            ("pin", {"path": "/d", "medium": "TAPE"}, 400, "medium"),
            ("pin", {"path": "/d", "medium": 7}, 400, "medium"),
            ("pin", {"path": "/absent"}, 404, "/absent"),
            ("pin", {"path": "relative/x"}, 400, "path"),
            ("pin", {"recursive": True}, 400, "path"),
            ("ttl", {"path": "/d", "ttl_ms": -1}, 400, "ttl_ms"),
            ("ttl", {"path": "/d", "ttl_ms": 0}, 400, "ttl_ms"),
            ("ttl", {"path": "/d"}, 400, "ttl_ms"),
            ("ttl", {"path": "/d", "ttl_ms": 10, "action": "burn"}, 400, "action"),
            ("replication", {"path": "/d", "min": 3, "max": 2}, 400, "min"),
            ("replication", {"path": "/d", "min": 1, "max": 65}, 400, "max"),
            ("replication", {"path": "/d", "min": -1}, 400, "min"),
            ("replication", {"path": "/d", "max": 0}, 400, "'max'"),
            ("replication", {"path": "/d", "max": -2}, 400, "'max'"),
            ("replication", {"path": "/d", "max": "unbounded"}, 400, "'max'"),
            ("replication", {"path": "/d", "max": 1.5}, 400, "'max'"),
            ("replication", {"path": "/d", "min": "1"}, 400, "'min'"),
            ("pin", {"path": "/d/../../etc"}, 400, "path"),
            ("pin", {"path": "/d/old/below"}, 404, "path"),
            ("write_type", {"path": "/d", "write_type": "SOMETIMES"}, 400, "'write_type'"),
            ("write_type", {"path": "/d"}, 400, "'write_type'"),
        ]
        for route, body, want, field in cases:
            status, r = put_json(url + route, body)
            self.assertEqual(status, want, (route, body, r))
            self.assertIn(field, r["error"]["message"], (route, body, r))
            self.assertTrue(r["error"]["code"], r)
        # Unbounded max: omitted, null and -1 all say it, and stat shows -1.
        for body in ({"path": "/d", "min": 1, "max": 3}, {"path": "/d", "min": 1, "max": None},
                     {"path": "/d", "min": 1, "max": 3}, {"path": "/d", "min": 1, "max": -1},
                     {"path": "/d", "min": 1, "max": 3}, {"path": "/d", "min": 1}):
            status, r = put_json(url + "replication", body)
            self.assertEqual((status, r["changed"]), (200, True), (body, r))
            self.assertEqual(r["inode"]["repl_max"], body.get("max") or -1, body)
        self.assertIn("min 1, max unbounded", self.cli("fs", "stat", "/d"))
        self.cli("fs", "replication", "--min", "2", "--max", "4", "/d")
        self.assertEqual(self.stat("/d")["repl_max"], 4)
        self.cli("fs", "replication", "--min", "2", "--max", "unbounded", "/d")
        self.assertEqual(self.stat("/d")["repl_max"], -1)
        r = self.cluster.cli(*self.addr, "fs", "replication", "--max", "lots", "/d")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--max 'lots'", r.stderr)
        status, r = delete_json(url + "ttl?path=/nowhere")
        self.assertEqual(status, 404, r)

    def test_ttl_delete_refused_on_read_only_mount(self):
        ro = os.path.join(self.tmp, "ro")
        os.makedirs(ro)
        status, r = post_json(self.m.url + "/api/v1/mounts",
                              {"path": "/ro", "uri": "file://" + ro, "readonly": True})
        self.assertEqual(status, 201, r)
        status, r = put_json(self.m.url + "/api/v1/files/ttl",
                             {"path": "/ro", "ttl_ms": 1000, "action": "delete"})
        self.assertEqual(status, 403, r)
        self.assertIn("read-only mount '/ro'", r["error"]["message"])
        status, r = put_json(self.m.url + "/api/v1/files/ttl",
                             {"path": "/", "recursive": True, "ttl_ms": 1000})
        self.assertEqual(status, 403, r)
        status, r = put_json(self.m.url + "/api/v1/files/ttl",
                             {"path": "/ro", "ttl_ms": 1000, "action": "free"})
        self.assertEqual(status, 200, r)
        # A read-only mount with a default TTL that deletes is refused too.
        status, r = post_json(self.m.url + "/api/v1/mounts",
                              {"path": "/ro2", "uri": "file://" + ro, "readonly": True,
                               "options": {"ttl": "1h"}})
        self.assertEqual(status, 403, r)

    def test_cli_commands_and_views(self):
        out = self.cli("fs", "pin", "-R", "--medium", "mem", "/d")
        self.assertIn("pin /d: pin:MEM", out)
        out = self.cli("fs", "pin", "-R", "--medium", "MEM", "/d")
        self.assertIn("unchanged /d", out)
        out = self.cli("fs", "ttl", "--action", "free", "/d/old", "2h")
        self.assertIn("ttl:7200s/free", out)
        doc = json.loads(self.cli("fs", "replication", "--json", "--min", "1", "--max", "3",
                                  "/d"))
        self.assertTrue(doc["changed"])
        self.assertEqual((doc["inode"]["repl_min"], doc["inode"]["repl_max"]), (1, 3))
        out = self.cli("fs", "stat", "/d/old")
        self.assertIn("pinned       yes on MEM", out)
        self.assertIn("ttl          7200s, then free", out)
        self.assertIn("ttl_expiry", out)
        out = self.cli("fs", "ls", "-l", "/d")
        self.assertIn("pin:MEM ttl:7200s/free", out)
        doc = json.loads(self.cli("fs", "ls", "--json", "/d"))
        self.assertEqual(doc["entries"][0]["ttl_action"], "free")
        self.cli("fs", "unttl", "/d/old")
        self.cli("fs", "unpin", "-R", "/d")
        out = self.cli("fs", "stat", "--json", "/d/old")
        n = json.loads(out)
        self.assertEqual((n["pinned"], n["ttl_ms"]), (False, 0))
        r = self.cluster.cli(*self.addr, "fs", "pin", "--medium", "TAPE", "/d")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("medium", r.stderr)
        r = self.cluster.cli(*self.addr, "fs", "ttl", "/d", "soon")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a duration", r.stderr)

    def test_mount_default_ttl(self):
        src = os.path.join(self.tmp, "m")
        os.makedirs(src)
        with open(os.path.join(src, "loaded"), "w") as f:
            f.write("x")
        self.cli("fs", "mount", "--option", "ttl=1h", "--option", "ttl_action=free", "/m",
                 "file://" + src)
        n = self.stat("/m/loaded")
        self.assertEqual((n["ttl_ms"], n["ttl_action"]), (3600000, "free"))
        self.assertGreater(n["ttl_expiry_ms"], 3600000)


def events(m, since=None):
    url = m.url + "/api/v1/events" + (f"?since={since}" if since is not None else "")
    status, doc = get_json(url)
    assert status == 200, doc
    return doc


def fired(m, path):
    return [e for e in events(m)["events"] if e["type"] == "ttl_fired" and e["path"] == path]


class TtlCheckerTest(ClusterTestCase):
    def make(self, root, rel, data=b"data"):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def test_delete_and_free_fire_within_an_interval(self):
        root = os.path.join(self.tmp, "ufs")
        gone = self.make(root, "t/gone")
        kept = self.make(root, "t/kept")
        m = self.cluster.master(settings={"master.root_ufs": "file://" + root,
                                          "master.ttl_check_interval": "1s"})
        url = m.url + "/api/v1/files/"
        t0 = time.monotonic()
        status, r = put_json(url + "ttl", {"path": "/t/gone", "ttl_ms": 2000, "action": "delete"})
        self.assertEqual(status, 200, r)
        expiry = r["inode"]["ttl_expiry_ms"]
        status, r = put_json(url + "ttl", {"path": "/t/kept", "ttl_ms": 2000, "action": "free"})
        self.assertEqual(status, 200, r)
        wait_for(lambda: get_json(url + "stat?path=/t/gone")[0] == 404, timeout=10,
                 what="the TTL delete")
        # Not before its time; within about one interval after it.
        self.assertGreaterEqual(time.time() * 1000, expiry)
        self.assertLess(time.monotonic() - t0, 2 + 1 + 3)
        self.assertFalse(os.path.exists(gone), "deleted from the store too")
        n = wait_for(lambda: (lambda s: s[1] if s[1]["ttl_ms"] == 0 else None)(
            get_json(url + "stat?path=/t/kept")), timeout=10, what="the TTL free")
        self.assertEqual(n["ttl_action"], "")
        self.assertTrue(os.path.exists(kept), "free keeps the file")
        ev = events(m)
        types = [(e["type"], e["path"]) for e in ev["events"]]
        self.assertIn(("ttl_deleted", "/t/gone"), types)
        self.assertEqual(len(fired(m, "/t/gone")), 1)
        self.assertIn("free", fired(m, "/t/kept")[0]["detail"])
        # Newest first, and the cursor returns only newer events.
        seqs = [int(e["seq"]) for e in ev["events"]]
        self.assertEqual(seqs, sorted(seqs, reverse=True))
        self.assertEqual(events(m, since=ev["last_seq"])["events"], [])
        status, doc = get_json(m.url + "/api/v1/events?since=-1")
        self.assertEqual(status, 400, doc)
        self.assertIn("since", doc["error"]["message"])
        status, doc = get_json(m.url + "/api/v1/events?limit=0")
        self.assertEqual(status, 400, doc)
        # A directory created under a TTL'd directory: files in it expire too.
        status, r = put_json(url + "ttl", {"path": "/t", "ttl_ms": 1500})
        self.assertEqual(status, 200, r)
        r = self.cluster.cli("--master", m.address, "fs", "mkdir", "/t/sub")
        self.assertEqual(r.returncode, 0, r.stderr)
        later = self.make(root, "t/sub/later")
        status, n = get_json(url + "stat?path=/t/sub/later")
        self.assertEqual((status, n["ttl_action"]), (200, "delete"))
        wait_for(lambda: not os.path.exists(later), timeout=10, what="the inherited TTL")

    def test_leader_killed_between_setting_and_firing_fires_once(self):
        root = os.path.join(self.tmp, "ufs")
        victim = self.make(root, "ha/victim")
        ms = self.cluster.masters(3, settings={"master.root_ufs": "file://" + root,
                                               "master.ttl_check_interval": "1s"})
        lead = wait_leader(ms)
        wait_for(lambda: get_json(lead.url + "/api/v1/files/stat?path=/ha/victim")[0] == 200,
                 what="the root mount")
        status, r = put_json(lead.url + "/api/v1/files/ttl",
                             {"path": "/ha/victim", "ttl_ms": 2500, "action": "delete"})
        self.assertEqual(status, 200, r)
        lead.kill()
        new = wait_leader(ms, exclude=(lead,), timeout=20)
        wait_for(lambda: get_json(new.url + "/api/v1/files/stat?path=/ha/victim")[0] == 404,
                 timeout=20, what="the TTL delete by the new leader")
        self.assertFalse(os.path.exists(victim))
        time.sleep(2.5)  # more passes of the checker: nothing fires again
        for m in ms:
            if m is lead:
                continue
            self.assertEqual(len(fired(m, "/ha/victim")), 1, m.name)
        # The killed master, back, replays the same log: one firing too.
        lead.start()
        lead.wait_ready()
        wait_for(lambda: len(fired(lead, "/ha/victim")) == 1, timeout=20,
                 what="the restarted master to apply the firing")


if __name__ == "__main__":
    main()
