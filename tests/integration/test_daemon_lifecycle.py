"""Daemon start-up and shutdown: configuration errors name the key, line and
file; defaults work with no arguments; SIGTERM/SIGINT stop cleanly with
sd_notify messages; state directories are private."""
import os
import signal
import socket
import stat
import time

from harness import (MASTER_BIN, WORKER_BIN, ClusterTestCase, free_port, get_json, main,
                     request, run_tool, wait_for)


class ConfigErrorsTest(ClusterTestCase):
    def run_master(self, *args, env=None):
        return run_tool([MASTER_BIN, *args], timeout=20, env=self.cluster.env(env))

    def test_help_and_version(self):
        for binary in (MASTER_BIN, WORKER_BIN):
            r = run_tool([binary, "--help"])
            self.assertEqual(r.returncode, 0)
            self.assertIn("--set KEY=VALUE", r.stdout)
            self.assertIn("master.port", r.stdout)
            self.assertIn("worker.tier.mem.quota", r.stdout)
            r = run_tool([binary, "--version"])
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout, r"^strata-(master|worker) \d+\.\d+\.\d+\n$")

    def test_unknown_key_in_file(self):
        path = os.path.join(self.tmp, "strata.conf")
        with open(path, "w") as f:
            f.write("# ok\nmaster.port = 20000\nmaster.porrt = 1\n")
        r = self.run_master("--config", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:3: unknown key 'master.porrt'", r.stderr)

    def test_bad_value_in_file(self):
        path = os.path.join(self.tmp, "strata.conf")
        with open(path, "w") as f:
            f.write("master.worker_timeout = soon\n")
        r = self.run_master("--config", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:1: key 'master.worker_timeout': 'soon' is not a duration",
                      r.stderr)

    def test_config_from_env_var_path(self):
        path = os.path.join(self.tmp, "env.conf")
        with open(path, "w") as f:
            f.write("log.level = chatty\n")
        r = self.run_master(env={"STRATA_CONFIG": path})
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"{path}:1: key 'log.level'", r.stderr)

    def test_missing_file(self):
        path = os.path.join(self.tmp, "nope.conf")
        r = self.run_master("--config", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"config file '{path}': No such file or directory", r.stderr)

    def test_bad_env_and_set(self):
        r = self.run_master(env={"STRATA_MASTER_PORT": "http"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("environment STRATA_MASTER_PORT: key 'master.port'", r.stderr)
        r = self.run_master("--set", "master.port=0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--set: key 'master.port': '0' is out of range", r.stderr)
        r = self.run_master("--set", "master.port")
        self.assertEqual(r.returncode, 2)
        self.assertIn("expected KEY=VALUE", r.stderr)
        r = self.run_master("stray")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unexpected argument 'stray'", r.stderr)

    def test_precedence_file_env_set(self):
        path = os.path.join(self.tmp, "p.conf")
        ports = [free_port() for _ in range(3)]
        with open(path, "w") as f:
            f.write(f"master.port = {ports[0]}\nmaster.state_dir = {self.tmp}/st\n")
        m = self.cluster.master(settings={"master.port": str(ports[2])},
                                env={"STRATA_MASTER_PORT": str(ports[1]),
                                     "STRATA_CONFIG": path})
        status, _ = get_json(f"http://127.0.0.1:{ports[2]}/api/v1/health")
        self.assertEqual(status, 200)
        self.assertIn(f"configuration from {path}", m.read_log())

    def test_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = self.run_master("--set", f"master.port={port}",
                                "--set", f"master.state_dir={self.tmp}/st")
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"127.0.0.1:{port}", r.stderr)


class LifecycleTest(ClusterTestCase):
    def notify_socket(self):
        path = os.path.join(self.tmp, "notify.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.settimeout(10)
        self.addCleanup(s.close)
        return s, path

    def test_sigterm_with_notify(self):
        sock, path = self.notify_socket()
        m = self.cluster.master(env={"NOTIFY_SOCKET": path})
        self.assertEqual(sock.recv(100), b"READY=1")
        t0 = time.monotonic()
        self.assertEqual(m.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - t0, 5)
        self.assertEqual(sock.recv(100), b"STOPPING=1")
        log = m.read_log()
        self.assertIn("received SIGTERM, stopping", log)
        self.assertIn("stopped", log)
        # The port is free again at once.
        m.start()
        m.wait_ready()

    def test_worker_sigint_with_abstract_notify(self):
        name = f"strata-notify-{os.getpid()}-{free_port()}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind("\0" + name)
        sock.settimeout(10)
        m = self.cluster.master()
        w = self.cluster.worker(m, env={"NOTIFY_SOCKET": "@" + name})
        self.assertEqual(sock.recv(100), b"READY=1")
        self.assertEqual(w.stop(signal.SIGINT), 0)
        self.assertEqual(sock.recv(100), b"STOPPING=1")
        self.assertIn("received SIGINT, stopping", w.read_log())

    def test_defaults_with_no_arguments(self):
        # Both daemons on the design's default ports with no arguments; skip
        # only if something else on this machine holds those ports.
        for port in (19999, 29999, 39999):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    self.fail(f"port {port} is busy; cannot test the defaults")
        home = self.tmp
        env = {"HOME": home, "XDG_STATE_HOME": "", "XDG_CACHE_HOME": ""}
        m = self.cluster.master(settings={}, env=env, start=False)
        m.argv = [MASTER_BIN]
        m.url = "http://127.0.0.1:19999"
        m.address = "127.0.0.1:19999"
        m.start().wait_ready()
        w = self.cluster.worker(m, env=env, start=False)
        w.argv = [WORKER_BIN, "--set", f"worker.tier.mem.dir={home}/mem"]
        w.url = "http://127.0.0.1:29999"
        w.start().wait_ready()
        wait_for(lambda: get_json(m.url + "/api/v1/workers")[1]["workers"], what="register")
        state = os.path.join(home, ".local/state/strata/master-19999")
        data = os.path.join(home, ".cache/strata/worker-29999")
        self.assertIn(f"state directory {state} (default", m.read_log())
        self.assertIn(f"data directory {data} (default", w.read_log())
        for d in (state, data, os.path.join(home, ".cache/strata")):
            self.assertEqual(stat.S_IMODE(os.stat(d).st_mode), 0o700, d)
        # The S3 gateway answers on its default port.
        status, _, body = request("http://127.0.0.1:39999/bucket/key")
        self.assertEqual(status, 404)
        self.assertIn(b"<Code>NoSuchBucket</Code>", body)

    def test_unwritable_state_dir(self):
        blocker = os.path.join(self.tmp, "file")
        open(blocker, "w").close()
        m = self.cluster.master(settings={"master.state_dir": blocker + "/sub"}, wait=False)
        self.assertEqual(m.proc.wait(10), 1)
        self.assertIn(f"master.state_dir: directory '{blocker}/sub'", m.read_log())


if __name__ == "__main__":
    main()
