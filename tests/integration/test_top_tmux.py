"""strata-top on a real terminal (tmux): an admin watches a 3-master
cluster with two workers, sorts, opens the help, a worker's detail, the
masters and jobs views, resizes the window, sees the leader SIGKILLed and
the new leader named, and quits back to a clean shell. Also SIGTERM and a
crash signal (SIGSEGV) give the terminal back. Every screen read is saved
in <build>/e2e-artifacts/top_tmux/ for a human to look at."""
import os
import re
import shutil
import signal
import subprocess
import time

from harness import (BUILD_DIR, ClusterTestCase, free_port, get_json, main, post_json, request,
                     wait_for, wait_leader)

TOP_BIN = os.path.join(BUILD_DIR, "console", "tui", "strata-top")
ARTIFACTS = os.path.join(BUILD_DIR, "e2e-artifacts", "top_tmux")
PROMPT = "SHELL$ "


class Tmux:
    def __init__(self, env, width=120, height=40):
        self.sock = f"strata-top-{os.getpid()}"
        self.env = env
        self.run("new-session", "-d", "-s", "s", "-x", str(width), "-y", str(height),
                 f"env -i PATH=/usr/bin:/bin HOME={env['HOME']} TERM=xterm-256color "
                 f"PS1='{PROMPT}' bash --norc --noprofile -i")
        self.shots = 0

    def run(self, *args):
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True,
                              timeout=10, env=self.env, check=True).stdout

    def keys(self, *keys):
        self.run("send-keys", "-t", "s", *keys)

    def type(self, line):
        self.run("send-keys", "-t", "s", "-l", line)
        self.run("send-keys", "-t", "s", "Enter")

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "s")

    def save(self, name, text):
        self.shots += 1
        with open(os.path.join(ARTIFACTS, f"{self.shots:02d}-{name}.txt"), "w") as f:
            f.write(text)

    def wait(self, pred, what, timeout=20):
        last = [""]

        def check():
            last[0] = self.screen()
            return pred(last[0])
        try:
            wait_for(check, timeout, interval=0.1, what=what)
        except Exception:
            self.save("FAILED-" + re.sub(r"\W+", "-", what), last[0])
            raise AssertionError(f"{what}; the screen was:\n{last[0]}")
        self.save(re.sub(r"\W+", "-", what), last[0])
        return last[0]

    def child_pid(self):
        """The pid of strata-top, the shell's child."""
        shell = int(self.run("display-message", "-p", "-t", "s", "#{pane_pid}").strip())
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if int(fields[1]) == shell and comm == "strata-top":
                return int(pid)
        return None

    def kill(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True,
                       timeout=10)


def rows(screen, addresses):
    """The worker addresses in the order the table shows them."""
    order = []
    for line in screen.splitlines():
        for a in addresses:
            if line.startswith(a):
                order.append(a)
    return order


def clean_shell(screen):
    """Back at the shell: its prompt, and nothing of the curses screen."""
    return ("TOP-EXIT=" in screen and screen.rstrip().endswith(PROMPT.strip())
            and "ADDRESS" not in screen and "leader " not in screen)


class TopTmuxTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        if not shutil.which("tmux"):
            self.skipTest("tmux is not installed")
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(self.root)
        self.ms = self.cluster.masters(3, settings={"master.root_ufs": "file://" + self.root,
                                                    "master.worker_timeout": "60s"})
        self.leader = wait_leader(self.ms)
        self.ws = [self.cluster.worker(self.ms, name=f"worker{i}") for i in (1, 2)]
        wait_for(lambda: sum(x["state"] == "live" for x in
                             get_json(self.leader.url + "/api/v1/workers")[1]["workers"]) == 2,
                 what="two workers to register")
        self.addrs = sorted(w.address for w in self.ws)
        self.tmux = Tmux(self.cluster.env())
        self.addCleanup(self.tmux.kill)
        self.tmux.wait(lambda s: PROMPT.strip() in s, "the shell prompt")

    def start_top(self):
        masters = ",".join(m.address for m in self.ms)
        self.tmux.type(f"{TOP_BIN} --master {masters} -d 1; echo TOP-EXIT=$?")
        return self.tmux.wait(lambda s: all(a in s for a in self.addrs) and "HB AGE" in s,
                              "the workers table")

    def test_screen_keys_resize_failover_and_quit(self):
        t = self.tmux
        s = self.start_top()
        self.assertIn(f"leader {self.leader.address}", s)
        self.assertIn("masters 3/3 up", s)
        self.assertIn("workers 2 live, 0 lost", s)
        self.assertEqual(rows(s, self.addrs), self.addrs)
        # rates appear from the second refresh on
        t.wait(lambda s: "Reads  0.0 req/s" in s, "rates after a refresh")

        t.keys("r")
        s = t.wait(lambda s: "(reversed)" in s and rows(s, self.addrs) == self.addrs[::-1],
                   "address sort reversed")
        t.keys("r", "s")
        t.wait(lambda s: "sort: STATE" in s, "sort by state")
        t.keys(">")
        t.wait(lambda s: "sort: HIT%" in s, "sort by hit ratio")
        t.keys("<", "<")
        t.wait(lambda s: "sort: ADDRESS" in s, "sort back to address")

        t.keys("h")
        s = t.wait(lambda s: "strata-top keys" in s, "the help")
        for word in ("quit", "reverse", "masters view", "filter", "HB AGE"):
            self.assertIn(word, s)
        t.keys("x")
        t.wait(lambda s: "HB AGE" in s, "back from the help")

        # a read at the first worker (the one selected) for its detail's
        # mount and top-path tables
        with open(os.path.join(self.root, "seen.bin"), "wb") as f:
            f.write(os.urandom(100_000))
        first = [w for w in self.ws if w.address == self.addrs[0]][0]
        self.assertEqual(request(first.url + "/api/v1/data?path=/seen.bin")[0], 200)
        t.keys("Enter")
        s = t.wait(lambda s: "TIER" in s and "MEM" in s and "Counters" in s and
                   "/seen.bin" in s, "a worker's detail with its top path")
        self.assertIn(f"Worker ", s)
        self.assertIn(self.addrs[0], s)
        self.assertIn("MOUNT", s)
        self.assertIn("TOP PATHS", s)
        mount_row = [ln for ln in s.splitlines() if ln.startswith("/ ")]
        self.assertEqual(len(mount_row), 1, s)
        t.keys("Escape")
        t.wait(lambda s: "HB AGE" in s, "back from the detail")

        t.keys("m")
        s = t.wait(lambda s: "RAFT" in s and "leader" in s, "the masters view")
        for m in self.ms:
            self.assertIn(m.raft_address, s)
        # a load job over the file read above, then the jobs view lists it
        status, body = post_json(self.leader.url + "/api/v1/jobs",
                                 {"type": "load", "path": "/seen.bin"})
        self.assertEqual(status, 201, body)
        t.keys("j")
        s = t.wait(lambda s: "JOB" in s and "/seen.bin" in s and " done " in s,
                   "the jobs view with the finished load job")
        row = [ln for ln in s.splitlines() if "/seen.bin" in ln][0]
        self.assertIn("load", row)
        self.assertIn("1/1", row)
        self.assertIn(" 100 ", row)
        t.keys("Escape")

        t.keys("/")
        t.wait(lambda s: "Filter workers" in s, "the filter prompt")
        t.type(self.addrs[1])
        t.wait(lambda s: rows(s, self.addrs) == [self.addrs[1]] and "filter:" in s,
               "the filtered table")
        t.keys("/")
        t.type("")
        t.wait(lambda s: rows(s, self.addrs) == self.addrs, "the filter cleared")

        t.keys("d")
        t.type("nonsense")
        t.wait(lambda s: "not an interval" in s, "a bad interval refused")
        t.keys("p")
        t.wait(lambda s: "PAUSED" in s, "paused")
        t.keys("p")
        t.wait(lambda s: "PAUSED" not in s and "HB AGE" in s, "resumed")

        t.run("resize-window", "-t", "s", "-x", "70", "-y", "20")
        s = t.wait(lambda s: len(s.splitlines()) <= 20 and "sort: ADDRESS" in s
                   and "strata-top" in s, "redrawn at 70x20")
        self.assertTrue(all(len(line) <= 70 for line in s.splitlines()))
        t.run("resize-window", "-t", "s", "-x", "120", "-y", "40")
        t.wait(lambda s: "HB AGE" in s and all(a in s for a in self.addrs), "redrawn at 120x40")

        old = self.leader
        old.proc.send_signal(signal.SIGKILL)
        old.proc.wait()
        new = wait_leader(self.ms, timeout=30, exclude=(old,))
        s = t.wait(lambda s: f"leader {new.address}" in s and all(a in s for a in self.addrs),
                   "the new leader named", timeout=45)
        self.assertNotEqual(new.address, old.address)

        t.keys("q")
        s = t.wait(clean_shell, "a clean shell after q")
        self.assertIn("TOP-EXIT=0", s)
        # the terminal's modes are back too (echo, canonical input)
        t.type("stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e icanon | sort | tr '\\n' ' '")
        t.wait(lambda s: "echo icanon" in s, "stty shows echo and icanon")

    def test_no_master_answers_on_screen(self):
        t = self.tmux
        dead = f"127.0.0.1:{free_port()}"
        t.type(f"{TOP_BIN} --master {dead} -d 1; echo TOP-EXIT=$?")
        s = t.wait(lambda s: "NO MASTER ANSWERS" in s, "no master answers")
        self.assertIn(dead, s)
        t.keys("q")
        t.wait(clean_shell, "a clean shell after q (no master)")

    def test_signals_give_the_terminal_back(self):
        t = self.tmux
        for sig, code in ((signal.SIGTERM, 143), (signal.SIGSEGV, 139)):
            t.type("clear")
            self.start_top()
            pid = t.child_pid()
            self.assertIsNotNone(pid)
            os.kill(pid, sig)
            s = t.wait(lambda s: f"TOP-EXIT={code}" in s and clean_shell(s),
                       f"a clean shell after {sig.name}")
            t.type("stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e icanon | sort | "
                   "tr '\\n' ' '; echo")
            t.wait(lambda s: "echo icanon" in s, f"stty sane after {sig.name}")


class TopColoursTest(ClusterTestCase):
    """A lost worker's row is red; with NO_COLOR it is bold instead."""

    def setUp(self):
        super().setUp()
        if not shutil.which("tmux"):
            self.skipTest("tmux is not installed")
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.m = self.cluster.master(settings={"master.worker_timeout": "1s"})
        self.ws = [self.cluster.worker(self.m, name=f"worker{i}") for i in (1, 2)]
        wait_for(lambda: sum(x["state"] == "live" for x in
                             get_json(self.m.url + "/api/v1/workers")[1]["workers"]) == 2,
                 what="two workers to register")
        self.assertEqual(self.ws[1].stop(), 0)
        wait_for(lambda: any(x["state"] == "lost" for x in
                             get_json(self.m.url + "/api/v1/workers")[1]["workers"]),
                 what="a worker to be lost")
        self.tmux = Tmux(self.cluster.env())
        self.addCleanup(self.tmux.kill)
        self.tmux.wait(lambda s: PROMPT.strip() in s, "the shell prompt (colours)")

    def lost_row(self, no_color):
        t = self.tmux
        env = "NO_COLOR=1 " if no_color else ""
        t.type(f"clear; {env}{TOP_BIN} --master {self.m.address} -d 1; echo TOP-EXIT=$?")
        t.wait(lambda s: "lost" in s and "1 live, 1 lost" in s, "a lost worker shown")
        styled = t.run("capture-pane", "-e", "-p", "-t", "s")
        t.save("lost-row-escapes" + ("-no-color" if no_color else ""), styled)
        t.keys("q")
        t.wait(clean_shell, "a clean shell after q (colours)")
        return [line for line in styled.splitlines() if self.ws[1].address in line][0]

    def test_lost_worker_is_marked(self):
        row = self.lost_row(no_color=False)
        self.assertRegex(row, r"\x1b\[[0-9;]*31[;m]", "red foreground")
        row = self.lost_row(no_color=True)
        self.assertNotRegex(row, r"\x1b\[[0-9;]*3[0-7][;m]", "no colour")
        self.assertRegex(row, r"\x1b\[[0-9;]*1[;m]", "bold instead")


if __name__ == "__main__":
    main()
