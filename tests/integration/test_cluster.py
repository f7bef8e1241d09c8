"""A worker registers with the master, heartbeats, is marked lost when it
stops, comes back, and re-registers after a master restart; the CLI shows
it all."""
import json
import signal

from harness import ClusterTestCase, get_json, main, wait_for


def workers(master):
    status, body = get_json(master.url + "/api/v1/workers")
    assert status == 200, body
    return body["workers"]


class ClusterTest(ClusterTestCase):
    def test_worker_registers_and_heartbeats(self):
        m = self.cluster.master()
        w = self.cluster.worker(m)
        ws = wait_for(lambda: workers(m), what="worker registration")
        self.assertEqual(len(ws), 1)
        self.assertEqual(ws[0]["address"], w.address)
        self.assertEqual(ws[0]["state"], "live")
        self.assertEqual(ws[0]["capacity_bytes"], 1 << 30)
        self.assertEqual(ws[0]["s3_port"], int(w.settings["worker.s3_port"]))
        # Heartbeats keep it fresh: every 200 ms, so never older than ~1 s.
        for _ in range(5):
            wait_for(lambda: workers(m)[0]["last_heartbeat_ms_ago"] < 1000,
                     what="fresh heartbeat")
        status, info = get_json(w.url + "/api/v1/worker")
        self.assertEqual(status, 200)
        self.assertEqual(info["worker_id"], ws[0]["id"])
        # The base URL of the master it registered with (the leader).
        self.assertEqual(info["master"], m.url)

    def test_cluster_view(self):
        m = self.cluster.master()
        self.cluster.worker(m, name="w1")
        self.cluster.worker(m, name="w2", settings={"worker.tier.mem.quota": "256MB"})
        wait_for(lambda: len(workers(m)) == 2, what="two workers")
        status, c = get_json(m.url + "/api/v1/cluster")
        self.assertEqual(status, 200)
        self.assertEqual(c["leader"], m.address)
        self.assertEqual(c["workers"], {"live": 2, "lost": 0})
        self.assertEqual(c["capacity"]["total_bytes"], (1 << 30) + (256 << 20))
        self.assertGreaterEqual(c["uptime_ms"], 0)
        self.assertRegex(c["version"], r"^\d+\.\d+\.\d+")
        ids = sorted(x["id"] for x in c["worker_list"])
        self.assertEqual(len(set(ids)), 2)

    def test_lost_worker_and_return(self):
        m = self.cluster.master(settings={"master.worker_timeout": "1s"})
        w = self.cluster.worker(m)
        wait_for(lambda: workers(m) and workers(m)[0]["state"] == "live", what="live")
        w.send_signal(signal.SIGSTOP)
        try:
            wait_for(lambda: workers(m)[0]["state"] == "lost", timeout=10, what="lost")
            status, c = get_json(m.url + "/api/v1/cluster")
            self.assertEqual(c["workers"], {"live": 0, "lost": 1})
            self.assertEqual(c["capacity"]["total_bytes"], 0)
        finally:
            w.send_signal(signal.SIGCONT)
        wait_for(lambda: workers(m)[0]["state"] == "live", timeout=10, what="back to live")
        self.assertIn("lost: no heartbeat", m.read_log())
        self.assertIn("is back", m.read_log())

    def test_worker_reregisters_after_master_restart(self):
        m = self.cluster.master()
        w = self.cluster.worker(m)
        wait_for(lambda: len(workers(m)) == 1, what="registration")
        self.assertEqual(m.stop(), 0)
        m.start()
        m.wait_ready()
        wait_for(lambda: len(workers(m)) == 1, timeout=10, what="re-registration")
        self.assertIn("registering again", w.read_log())

    def test_worker_waits_for_master(self):
        # The worker starts first and keeps trying with backoff.
        m = self.cluster.master(start=False)
        w = self.cluster.worker(m)
        wait_for(lambda: "cannot register" in w.read_log(), what="registration warning")
        m.start()
        m.wait_ready()
        wait_for(lambda: len(workers(m)) == 1, timeout=15, what="late registration")

    def test_worker_token(self):
        token = "t0ken-" + "x" * 20
        m = self.cluster.master(settings={"cluster.worker_token": token})
        good = self.cluster.worker(m, name="good", settings={"cluster.worker_token": token})
        bad = self.cluster.worker(m, name="bad", settings={"cluster.worker_token": "wrong"})
        none = self.cluster.worker(m, name="none")
        wait_for(lambda: len(workers(m)) == 1, what="the worker with the token")
        wait_for(lambda: "wrong X-Strata-Worker-Token" in bad.read_log(), what="refusal")
        wait_for(lambda: "X-Strata-Worker-Token is required" in none.read_log(),
                 what="refusal without token")
        self.assertEqual(workers(m)[0]["address"], good.address)
        status, body = get_json(m.url + "/api/v1/internal/file?path=/x")
        self.assertEqual((status, body["error"]["code"]), (401, "unauthorized"))
        status, body = get_json(m.url + "/api/v1/internal/file?path=/x",
                                headers={"X-Strata-Worker-Token": "wrong"})
        self.assertEqual((status, body["error"]["code"]), (403, "forbidden"))
        status, body = get_json(m.url + "/api/v1/internal/file?path=/x",
                                headers={"X-Strata-Worker-Token": token})
        self.assertNotEqual(status, 403)
        for log in (m.read_log(), good.read_log(), bad.read_log()):
            self.assertNotIn(token, log)

    def test_admin_report(self):
        m = self.cluster.master()
        w = self.cluster.worker(m)
        wait_for(lambda: len(workers(m)) == 1, what="registration")
        r = self.cluster.cli("--master", m.address, "admin", "report")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 live, 0 lost", r.stdout)
        self.assertIn(w.address, r.stdout)
        self.assertIn("1.00 GiB", r.stdout)

        r = self.cluster.cli("admin", "report", "--json",
                             env={"STRATA_MASTER_ADDRESSES": m.address})
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["workers"]["live"], 1)
        self.assertEqual(report["worker_list"][0]["address"], w.address)

        r = self.cluster.cli("--json", "--master", m.address, "admin", "workers")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["workers"][0]["state"], "live")

    def test_cli_errors_and_exit_codes(self):
        r = self.cluster.cli()
        self.assertEqual(r.returncode, 2)
        self.assertIn("Usage", r.stderr)
        r = self.cluster.cli("admin", "explode")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'admin explode'", r.stderr)
        r = self.cluster.cli("--bogus")
        self.assertEqual(r.returncode, 2)
        r = self.cluster.cli("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("admin report", r.stdout)
        r = self.cluster.cli("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^strata \d+\.\d+\.\d+")
        # Nobody listens: exit 1 with the address in the message.
        dead = "127.0.0.1:1"
        r = self.cluster.cli("--master", dead, "admin", "report")
        self.assertEqual(r.returncode, 1)
        self.assertIn(dead, r.stderr)
        r = self.cluster.cli("admin", "report", env={"STRATA_MASTER_PROT": "1"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("STRATA_MASTER_PROT", r.stderr)


if __name__ == "__main__":
    main()
