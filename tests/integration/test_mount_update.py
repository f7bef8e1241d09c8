"""Changing a mount's options live (PUT /api/v1/mounts, `strata fs remount`):
a sync interval that starts showing changes made behind strata's back, a
default TTL that new files inherit, new credentials probed against a real
s3rver, idempotent repeats that write nothing, every refused change naming
its field, and the change surviving the loss of the leader that made it."""
import json
import os
import signal
import urllib.parse

from harness import (ClusterTestCase, S3rver, get_json, main, post_json, raft_self,
                     request, wait_for, wait_leader)

BUCKET = "lake"


def q(path):
    return urllib.parse.quote(path, safe="")


def put_json(url, body):
    status, _, raw = request(url, method="PUT", body=json.dumps(body).encode(),
                             headers={"Content-Type": "application/json"})
    return status, json.loads(raw) if raw else None


class MountUpdateTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.s3 = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.s3.stop)
        self.ms = self.cluster.masters(3)
        self.lead = wait_leader(self.ms)
        self.local = os.path.join(self.tmp, "local")
        os.makedirs(self.local)

    def api(self, m=None):
        return (m or self.lead).url + "/api/v1"

    def update(self, path, options, m=None):
        return put_json(f"{self.api(m)}/mounts", {"path": path, "options": options})

    def mount_of(self, path, m=None):
        status, body = get_json(f"{self.api(m)}/mounts")
        self.assertEqual(status, 200, body)
        return [x for x in body["mounts"] if x["path"] == path][0]

    def ls(self, path):
        status, body = get_json(f"{self.api()}/files?path={q(path)}")
        self.assertEqual(status, 200, body)
        return sorted(e["name"] for e in body["entries"])

    def test_rest_changes_errors_and_leader_loss(self):
        status, body = post_json(f"{self.api()}/mounts", {
            "path": "/loc", "uri": "file://" + self.local,
            "options": {"sync_interval": "never"}})
        self.assertEqual(status, 201, body)
        self.assertEqual(self.ls("/loc"), [])
        open(os.path.join(self.local, "late"), "w").close()
        self.assertEqual(self.ls("/loc"), [], "sync_interval=never hides the new file")

        # The interval changes live: the next listing looks at the store.
        status, body = self.update("/loc", {"sync_interval": "always", "ttl": "1h",
                                            "ttl_action": "free"})
        self.assertEqual((status, body), (200, {"path": "/loc", "changed": True}))
        self.assertEqual(self.ls("/loc"), ["late"])
        mnt = self.mount_of("/loc")
        self.assertEqual(mnt["sync_interval_ms"], 0)
        self.assertEqual(mnt["options"], {"sync_interval": "always", "ttl": "1h",
                                          "ttl_action": "free"})
        # The default TTL is the mount point's, inherited by new files.
        st = get_json(f"{self.api()}/files/stat?path=/loc")[1]
        self.assertEqual((st["ttl_ms"], st["ttl_action"]), (3600000, "free"))
        status, body = post_json(f"{self.api()}/files/mkdir", {"path": "/loc/newdir"})
        self.assertEqual(status, 201, body)
        st = get_json(f"{self.api()}/files/stat?path=/loc/newdir")[1]
        self.assertEqual((st["ttl_ms"], st["ttl_action"]), (3600000, "free"))

        # The same options again: 200, nothing changed, no Raft entry.
        commit = raft_self(self.lead)["commit_index"]
        status, body = self.update("/loc", {"sync_interval": "always", "ttl": "1h"})
        self.assertEqual((status, body["changed"]), (200, False), body)
        self.assertEqual(raft_self(self.lead)["commit_index"], commit)

        # Refused changes name their field and change nothing.
        for options, want_status, field in (
                ({"sync_interval": "soon"}, 400, "sync_interval"),
                ({"ttl": "-5s"}, 400, "ttl"),
                ({"ttl_action": "shred"}, 400, "ttl_action"),
                ({"block_size": "8MB"}, 409, "block_size"),
                ({"s3.endpoint": "http://elsewhere"}, 409, "s3.endpoint"),
                ({"colour": "blue"}, 400, "colour"),
                ({"sync_interval": 5}, 400, "sync_interval")):
            status, body = self.update("/loc", options)
            self.assertEqual(status, want_status, (options, body))
            self.assertIn(f"'{field}'", body["error"]["message"], options)
        for extra, want_status in (({"uri": "file:///tmp"}, 409), ({"readonly": True}, 409),
                                   ({"colour": 1}, 400)):
            status, body = put_json(f"{self.api()}/mounts",
                                    dict({"path": "/loc", "options": {}}, **extra))
            self.assertEqual(status, want_status, body)
            self.assertIn(f"'{list(extra)[0]}'", body["error"]["message"])
            if want_status == 409:
                self.assertEqual(body["error"]["code"], "mount_point")
        status, body = put_json(f"{self.api()}/mounts", {"path": "/loc", "options": "x"})
        self.assertEqual(status, 400, body)
        self.assertIn("'options'", body["error"]["message"])
        status, body = self.update("/nope", {"ttl": "1h"})
        self.assertEqual((status, body["error"]["code"]), (404, "not_found"), body)
        self.assertEqual(self.mount_of("/loc")["options"]["ttl"], "1h")

        # S3 credentials: new ones are probed (s3rver knows only S3RVER);
        # "***", what the list shows, means unchanged.
        status, body = post_json(f"{self.api()}/mounts", {
            "path": "/s3", "uri": f"s3://{BUCKET}/data",
            "options": {"s3.endpoint": self.s3.endpoint, "s3.access_key": "S3RVER",
                        "s3.secret_key": "first", "s3.path_style": "true"}})
        self.assertEqual(status, 201, body)
        status, body = self.update("/s3", {"s3.access_key": "NOBODY"})
        self.assertEqual(status, 403, body)
        self.assertEqual(self.mount_of("/s3")["options"]["s3.access_key"], "S3RVER")
        status, body = self.update("/s3", {"s3.secret_key": "***"})
        self.assertEqual((status, body["changed"]), (200, False), body)
        status, body = self.update("/s3", {"s3.secret_key": "second"})
        self.assertEqual((status, body["changed"]), (200, True), body)
        self.assertEqual(self.mount_of("/s3")["options"]["s3.secret_key"], "***")
        self.s3.client().put_object(Bucket=BUCKET, Key="data/obj", Body=b"x")
        self.assertEqual(self.ls("/s3"), ["obj"], "the store reopened with new credentials")
        self.assertNotIn("second", self.lead.read_log())

        # A follower redirects the change to the leader.
        follower = [m for m in self.ms if m is not self.lead][0]
        status, _, _ = request(f"{self.api(follower)}/mounts", method="PUT",
                               body=b'{"path":"/loc","options":{}}',
                               headers={"Content-Type": "application/json"})
        self.assertEqual(status, 307)

        # The change outlives the leader that made it, on every master.
        old = self.lead
        old.send_signal(signal.SIGKILL)
        old.proc.wait()
        old.log.close()
        self.lead = wait_leader(self.ms, exclude=(old,))
        self.assertEqual(self.mount_of("/loc")["sync_interval_ms"], 0)
        self.assertEqual(self.mount_of("/loc")["options"]["ttl_action"], "free")
        old.start()
        old.wait_ready()
        wait_for(lambda: self.mount_of("/loc", old)["sync_interval_ms"] == 0,
                 what="the restarted master to replay the update")
        # And the new leader takes further changes.
        status, body = self.update("/loc", {"ttl": None, "ttl_action": None})
        self.assertEqual((status, body["changed"]), (200, True), body)
        self.assertEqual(self.mount_of("/loc")["options"], {"sync_interval": "always"})
        st = get_json(f"{self.api()}/files/stat?path=/loc")[1]
        self.assertEqual(st["ttl_ms"], 0)

    def test_cli_remount(self):
        addr = ["--master", self.ms[0].address]
        c = self.cluster.cli
        r = c(*addr, "fs", "mount", "--option", "sync_interval=never", "/loc",
              "file://" + self.local)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = c(*addr, "fs", "remount", "--option", "sync_interval=30s", "--option", "ttl=2h",
              "/loc")
        self.assertEqual((r.returncode, r.stdout), (0, "updated the options of /loc\n"),
                         r.stderr)
        self.assertEqual(self.mount_of("/loc")["sync_interval_ms"], 30000)
        r = c(*addr, "--json", "fs", "remount", "--option", "sync_interval=30s", "/loc")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"path": "/loc", "changed": False})
        r = c(*addr, "fs", "remount", "--unset", "ttl", "/loc")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("ttl", self.mount_of("/loc")["options"])
        # Errors: the server's names the option; usage errors exit 2.
        r = c(*addr, "fs", "remount", "--option", "sync_interval=soon", "/loc")
        self.assertEqual(r.returncode, 1)
        self.assertIn("'sync_interval'", r.stderr)
        r = c(*addr, "fs", "remount", "--option", "block_size=8MB", "/loc")
        self.assertEqual(r.returncode, 1)
        self.assertIn("'block_size'", r.stderr)
        r = c(*addr, "fs", "remount", "--option", "ttl=1h", "/nope")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nope", r.stderr)
        for bad in (["--option", "ttl", "/loc"], ["--unset", "ttl=1h", "/loc"], ["/loc"],
                    ["--option", "=x", "/loc"]):
            r = c(*addr, "fs", "remount", *bad)
            self.assertEqual(r.returncode, 2, (bad, r.stderr))


if __name__ == "__main__":
    main()
