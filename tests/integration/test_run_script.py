"""scripts/run.sh, the README's run command, with the variables it
documents: a local cluster starts in the directory STRATA_LOCAL_DIR names
and stops cleanly on SIGTERM."""
import os
import signal
import subprocess

from harness import (BUILD_DIR, SOURCE_DIR, ClusterTestCase, check_sanitizer_output, free_port,
                     get_json, main, sanitizer_env, wait_for)


class RunScriptTest(ClusterTestCase):
    def test_local_dir_and_ports_from_the_environment(self):
        local = os.path.join(self.tmp, "local")
        mport, wport, sport = free_port(), free_port(), free_port()
        env = self.cluster.env({"STRATA_LOCAL_DIR": local,
                                "STRATA_MASTER_PORT": str(mport),
                                "STRATA_WORKER_PORT": str(wport),
                                "STRATA_WORKER_S3_PORT": str(sport),
                                "STRATA_WORKER_TIER_MEM_QUOTA": "64MB"})
        out_path = os.path.join(self.tmp, "run.out")
        with open(out_path, "wb") as out:
            proc = subprocess.Popen(
                [os.path.join(SOURCE_DIR, "scripts", "run.sh"), "--no-build", BUILD_DIR],
                stdout=out, stderr=subprocess.STDOUT, env=sanitizer_env(env),
                start_new_session=True)
        try:
            def running():
                if proc.poll() is not None:
                    raise AssertionError(f"run.sh exited with {proc.returncode}:\n"
                                         + open(out_path, errors="replace").read())
                return "strata is running" in open(out_path, errors="replace").read()
            wait_for(running, timeout=30, what="run.sh to report a running cluster")
            status, cluster = get_json(f"http://127.0.0.1:{mport}/api/v1/cluster")
            self.assertEqual(status, 200)
            self.assertEqual(cluster["workers"]["live"], 1)
            self.assertEqual(get_json(f"http://127.0.0.1:{wport}/api/v1/health")[0], 200)
            for name in ("master.log", "worker.log", "master", "worker", "mem",
                         "ufs/welcome/README.txt"):
                self.assertTrue(os.path.exists(os.path.join(local, name)), name)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        output = open(out_path, errors="replace").read()
        self.assertIn("run: stopped", output)
        check_sanitizer_output(output, "scripts/run.sh and its daemons")
        for log in ("master.log", "worker.log"):
            with open(os.path.join(local, log), errors="replace") as f:
                check_sanitizer_output(f.read(), log)


if __name__ == "__main__":
    main()
