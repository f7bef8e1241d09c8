"""Integration-test harness: real strata daemons on free loopback ports.

Each test gets its own temporary directory; daemons started through a
Cluster are always killed (tearDown, atexit, and PR_SET_PDEATHSIG if the
test runner itself dies), and their logs are printed when a test fails.
"""
import atexit
import ctypes
import http.client
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import urllib.parse
import sys
import tempfile
import time
import unittest

BUILD_DIR = os.environ.get("STRATA_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SOURCE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

MASTER_BIN = os.path.join(BUILD_DIR, "daemon", "master", "strata-master")
WORKER_BIN = os.path.join(BUILD_DIR, "daemon", "worker", "strata-worker")
CLI_BIN = os.path.join(BUILD_DIR, "cli", "strata")

_live_procs = []
_used_ports = set()

# Sanitizers get an exit code of their own: ASan's default (1) is the very
# code the error-path tests expect, so a memory error there would pass.
SANITIZER_EXIT = 86
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")


def sanitizer_env(env):
    """env (a dict, changed in place and returned) with the sanitizers'
    exit code and halt_on_error defaulted, keeping anything already set.
    Harmless for a normal build, whose programs read none of these."""
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        opts = [o for o in env.get(name, "").split(":") if o]
        keys = {o.split("=", 1)[0] for o in opts}
        if "exitcode" not in keys:
            opts.append(f"exitcode={SANITIZER_EXIT}")
        if name == "UBSAN_OPTIONS" and "halt_on_error" not in keys:
            opts.append("halt_on_error=1")
        if name == "UBSAN_OPTIONS" and "print_stacktrace" not in keys:
            opts.append("print_stacktrace=1")
        env[name] = ":".join(opts)
    return env


def sanitizer_reports(text):
    """The lines of text that carry a sanitizer report (empty if none)."""
    return [line for line in (text or "").splitlines()
            if any(m in line for m in SANITIZER_MARKERS)]


def check_sanitizer_output(text, what):
    """Raises AssertionError (a test failure) if text, the output of the
    process `what`, holds any sanitizer report."""
    found = sanitizer_reports(text)
    if found:
        raise AssertionError(f"sanitizer report in the output of {what}:\n"
                             + "\n".join(found[:20]) + "\n----- full output -----\n" + text)


def _kill_all():
    for p in list(_live_procs):
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_kill_all)


def _die_with_parent():
    # PR_SET_PDEATHSIG = 1: the daemon gets SIGKILL if the test runner dies.
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


_PORT_RNG = random.Random(os.getpid() ^ int(time.time() * 1000))


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on now, never handed out twice per run, and
    below the kernel's ephemeral range: a port from that range can be taken,
    before the daemon binds it, by any outgoing connection on the machine
    (another test's client or peer), which made daemons fail to start with
    "Address already in use" under ctest -j2."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    lo, _ = _ephemeral_range()
    first = max(1024, lo - 16384)
    for _ in range(200):
        port = _PORT_RNG.randrange(first, lo)
        if port in _used_ports:
            continue
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        _used_ports.add(port)
        return port
    raise RuntimeError("no free port")


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
            if last:
                return last
        except (OSError, http.client.HTTPException, ValueError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def fd_targets(pid):
    """What each open descriptor of process pid names (readlink of
    /proc/PID/fd/N: a path, "socket:[inode]", ...); descriptors closed
    while being listed are left out."""
    d = f"/proc/{pid}/fd"
    out = []
    for fd in os.listdir(d):
        try:
            out.append(os.readlink(os.path.join(d, fd)))
        except OSError:
            continue
    return out


def tcp_sockets(pid):
    """The TCP sockets in process pid's network namespace by inode:
    {inode: (local port, remote port, state)} from /proc/PID/net/tcp and
    tcp6 (state 0x0A is a listener); match "socket:[inode]" from
    fd_targets against it."""
    out = {}
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for line in f:
                    cols = line.split()
                    lport = int(cols[1].rsplit(":", 1)[1], 16)
                    rport = int(cols[2].rsplit(":", 1)[1], 16)
                    out[cols[9]] = (lport, rport, int(cols[3], 16))
        except OSError:
            continue
    return out


def request(url, method="GET", body=None, headers=None, timeout=10, cafile=None, cert=None):
    """One HTTP(S) request; returns (status, headers dict, body bytes).
    cert: (certfile, keyfile) presented as a TLS client certificate."""
    scheme, rest = url.split("://", 1)
    hostport, _, path = rest.partition("/")
    path = "/" + path
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]:")
    else:
        host, _, port = hostport.rpartition(":")
    if scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
        if cert:
            ctx.load_cert_chain(*cert)
        conn = http.client.HTTPSConnection(host, int(port), timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    except http.client.HTTPException as e:
        # A reply cut short (a daemon killed mid-answer) is a failed
        # connection to callers, like a refused or reset one.
        raise ConnectionError(f"{method} {url}: {e!r}") from e
    finally:
        conn.close()


def get_json(url, **kw):
    status, _, data = request(url, **kw)
    return status, (json.loads(data) if data else None)


def post_json(url, body, **kw):
    status, _, data = request(url, method="POST", body=body, **kw)
    return status, (json.loads(data) if data else None)


class Daemon:
    def __init__(self, name, argv, env, log_path, url):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.url = url
        self.env = env
        self.proc = None

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, preexec_fn=_die_with_parent)
        _live_procs.append(self.proc)
        return self

    def wait_ready(self, timeout=10.0, cafile=None):
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n"
                                     + self.read_log())
            return request(self.url + "/api/v1/health", timeout=2, cafile=cafile)[0] == 200
        wait_for(up, timeout, what=f"{self.name} health")
        return self

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stops the daemon; returns its exit code (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self.log.close()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self.log.close()


class Cluster:
    def __init__(self, root):
        self.root = root
        self.daemons = []

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("STRATA_") and k != "NOTIFY_SOCKET"}
        env["HOME"] = self.root
        env.update(extra or {})
        return sanitizer_env(env)

    def master(self, name="master", settings=None, env=None, start=True, wait=True):
        port = free_port()
        d = os.path.join(self.root, name)
        os.makedirs(d, exist_ok=True)
        s = {"master.port": str(port), "master.state_dir": os.path.join(d, "state"),
             "master.worker_timeout": "3s"}
        s.update(settings or {})
        argv = [MASTER_BIN] + [a for k, v in s.items() for a in ("--set", f"{k}={v}")]
        scheme = "https" if s.get("http.tls_cert") else "http"
        host = s.get("master.bind", "127.0.0.1")
        host = f"[{host}]" if ":" in host else host
        m = Daemon(name, argv, self.env(env), os.path.join(d, "log"),
                   f"{scheme}://{host}:{s['master.port']}")
        m.address = f"{host}:{s['master.port']}"
        m.settings = s
        self.daemons.append(m)
        if start:
            m.start()
            if wait:
                m.wait_ready(cafile=s.get("http.tls_ca") or s.get("http.tls_cert"))
        return m

    def masters(self, n, settings=None, env=None, name="master", start=True, wait=True,
                first_id=1):
        """n masters forming one Raft group (master.peers over free ports).
        Each Daemon gets .id, .raft_address and .peer (its master.peers item);
        start them with start=True (all first, then wait for each health)."""
        spec = []
        for i in range(n):
            mid = first_id + i
            spec.append((mid, free_port(), free_port()))
        scheme = "https" if (settings or {}).get("http.tls_cert") else "http"
        peers = ",".join(f"{mid}@127.0.0.1:{raft}@{scheme}://127.0.0.1:{rest}"
                         for mid, rest, raft in spec)
        out = []
        for mid, rest, raft in spec:
            s = {"master.port": str(rest), "master.raft_port": str(raft), "master.id": str(mid),
                 "master.peers": peers}
            s.update(settings or {})
            m = self.master(f"{name}{mid}", settings=s, env=env, start=False)
            m.id = mid
            m.raft_address = f"127.0.0.1:{raft}"
            m.peer = f"{mid}@127.0.0.1:{raft}@{scheme}://127.0.0.1:{rest}"
            out.append(m)
        if start:
            for m in out:
                m.start()
            if wait:
                for m in out:
                    m.wait_ready(cafile=m.settings.get("http.tls_ca") or m.settings.get("http.tls_cert"))
        return out

    def worker(self, masters, name="worker", settings=None, env=None, start=True, wait=True):
        d = os.path.join(self.root, name)
        os.makedirs(d, exist_ok=True)
        if not isinstance(masters, (list, tuple)):
            masters = [masters]
        s = {"worker.port": str(free_port()), "worker.s3_port": str(free_port()),
             "worker.data_dir": os.path.join(d, "data"),
             "worker.tier.mem.dir": os.path.join(d, "mem"),
             "worker.heartbeat_interval": "200ms",
             "master.addresses": ",".join(m.address for m in masters)}
        s.update(settings or {})
        argv = [WORKER_BIN] + [a for k, v in s.items() for a in ("--set", f"{k}={v}")]
        scheme = "https" if s.get("http.tls_cert") else "http"
        host = s.get("worker.bind", "127.0.0.1")
        host = f"[{host}]" if ":" in host else host
        w = Daemon(name, argv, self.env(env), os.path.join(d, "log"),
                   f"{scheme}://{host}:{s['worker.port']}")
        w.address = f"{host}:{s['worker.port']}"
        w.settings = s
        self.daemons.append(w)
        if start:
            w.start()
            if wait:
                w.wait_ready(cafile=s.get("http.tls_ca") or s.get("http.tls_cert"))
        return w

    def cli(self, *args, env=None, timeout=30):
        """Runs the CLI; a sanitizer report in its output fails the test."""
        return run_tool([CLI_BIN, *args], env=self.env(env), timeout=timeout)

    def stop_all(self):
        """Stops every daemon still running; returns [(name, exit code)] of
        those, so a crash or sanitizer exit at shutdown is seen."""
        codes = []
        for d in self.daemons:
            if d.proc is not None and d.proc.poll() is None:
                codes.append((d.name, d.stop()))
        return codes


def raft_self(m, timeout=2):
    """A master's own Raft view (GET /api/v1/masters/self), or None if down.
    A TLS master is verified against its http.tls_ca (or http.tls_cert)."""
    s = getattr(m, "settings", {})
    try:
        status, body = get_json(m.url + "/api/v1/masters/self", timeout=timeout,
                                cafile=s.get("http.tls_ca") or s.get("http.tls_cert"))
    except OSError:
        return None
    return body if status == 200 else None


def ns_tree(m, path="/"):
    """The namespace below path as {path: (type, length)}, read from master m
    (a follower answers 307 for directories nobody listed yet: list on the
    leader first)."""
    out = {}
    status, body = get_json(f"{m.url}/api/v1/files?path={urllib.parse.quote(path, safe='')}")
    if status != 200:
        raise ValueError(f"{m.name} {path}: {status} {body}")
    for e in body["entries"]:
        p = path.rstrip("/") + "/" + e["name"]
        out[p] = (e["type"], e.get("length", 0))
        if e["type"] == "directory":
            out.update(ns_tree(m, p))
    return out


def wait_leader(masters, timeout=15.0, exclude=()):
    """Polls until exactly one running master (not in exclude) leads and
    the others that answer agree on it; returns that master."""
    def find():
        views = {}
        for m in masters:
            if m in exclude or m.proc is None or m.proc.poll() is not None:
                continue
            v = raft_self(m)
            if v is not None:
                views[m] = v
        leaders = [m for m, v in views.items() if v["role"] == "leader"]
        if len(leaders) != 1:
            return None
        lead = leaders[0]
        term = views[lead]["term"]
        if all(v["leader"] == lead.id and v["term"] == term for v in views.values()):
            return lead
        return None
    return wait_for(find, timeout, interval=0.05, what="one agreed Raft leader")


def wait_heartbeats(workers, timeout=10.0, what="a heartbeat round", cafile=None, cert=None):
    """Waits until each worker completed a heartbeat whose request left
    after this call: whatever the master knew at the call (live workers,
    blocks) has reached each worker, and each worker's reports up to the
    call have reached the master. A worker heartbeats from one thread, one
    at a time, so the second completion after the call is such a one."""
    for w in workers:
        start = time.monotonic()
        seen = []

        def second_after_start():
            status, body = get_json(w.url + "/api/v1/worker", timeout=2, cafile=cafile,
                                    cert=cert)
            if status != 200 or body["last_heartbeat_ms_ago"] < 0:
                return False
            done = time.monotonic() - body["last_heartbeat_ms_ago"] / 1000.0
            # 10 ms of slack for the two clocks' rounding.
            if done > start + 0.01 and (not seen or done > seen[-1] + 0.01):
                seen.append(done)
            return len(seen) >= 2
        wait_for(second_after_start, timeout, what=f"{what} of {w.name}")


def run_tool(argv, env=None, timeout=30, cwd=None):
    """Runs one program to its end (CLI, a daemon run directly for its
    exit code); sanitizer options are defaulted in its environment and a
    sanitizer report in its stdout or stderr fails the test."""
    env = sanitizer_env(dict(os.environ if env is None else env))
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout,
                       cwd=cwd)
    check_sanitizer_output(r.stdout + r.stderr, " ".join(argv))
    return r


def check_daemon_logs(daemons):
    """Fails on a sanitizer report in the log of any daemon that ever ran,
    whether it stopped, was killed or died on its own (logs accumulate over
    restarts)."""
    for d in daemons:
        if d.proc is None:
            continue
        check_sanitizer_output(d.read_log(), f"{d.name} ({d.log_path})")


class ClusterTestCase(unittest.TestCase):
    """A test with its own temp dir and Cluster; daemons always stopped,
    their logs printed when the test failed."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-it-")
        self.cluster = Cluster(self.tmp)

    def tearDown(self):
        codes = self.cluster.stop_all()
        # Sanitizer reports first: they explain a bad exit code.
        check_daemon_logs(self.cluster.daemons)
        bad = [(n, c) for n, c in codes if c != 0]
        self.assertEqual(bad, [], "daemons did not exit 0 on SIGTERM")

    def run(self, result=None):
        result = result or self.defaultTestResult()
        nfail = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > nfail:
            for d in self.cluster.daemons if hasattr(self, "cluster") else []:
                sys.stderr.write(f"\n----- log of {d.name} ({' '.join(d.argv)}) -----\n")
                try:
                    sys.stderr.write(d.read_log())
                except OSError as e:
                    sys.stderr.write(f"(no log: {e})\n")
        if hasattr(self, "tmp"):
            shutil.rmtree(self.tmp, ignore_errors=True)
        return result


def main():
    unittest.main(verbosity=2)


class S3rver:
    """A real s3rver (npm, tests/node_modules) on a free loopback port with
    one bucket, for tests of S3 mounts. Keys S3RVER/S3RVER; s3rver checks
    only the access key id, not signatures. Always stopped: stop(), and
    like the daemons through atexit and PR_SET_PDEATHSIG."""

    NODE = "/usr/bin/node"
    SCRIPT = os.path.join(SOURCE_DIR, "tests", "node_modules", "s3rver", "bin", "s3rver.js")
    ACCESS_KEY = "S3RVER"
    SECRET_KEY = "S3RVER"

    def __init__(self, root, bucket):
        self.dir = os.path.join(root, "s3rver")
        self.bucket = bucket
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self, timeout=20.0):
        # A missing dependency fails the test run; it never skips.
        for path in (self.NODE, self.SCRIPT):
            if not os.path.exists(path):
                raise AssertionError(f"{path} is missing (scripts/deps.sh installs node "
                                     "and runs npm ci in tests/)")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        env = dict(os.environ, NODE_OPTIONS="--openssl-legacy-provider")
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen(
            [self.NODE, self.SCRIPT, "-d", os.path.join(self.dir, "data"), "-a", "127.0.0.1",
             "-p", str(self.port), "--configure-bucket", self.bucket],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, preexec_fn=_die_with_parent)
        _live_procs.append(self.proc)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"s3rver exited with {self.proc.returncode}: "
                                     f"{self.read_log()[-2000:]}")
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        wait_for(up, timeout=timeout, what="s3rver to listen")
        return self

    def read_log(self):
        with open(os.path.join(self.dir, "log"), "r", errors="replace") as f:
            return f.read()

    def client(self):
        """A boto3 S3 client for the bucket (path-style addressing)."""
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=self.ACCESS_KEY,
                            aws_secret_access_key=self.SECRET_KEY,
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 1}))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
            if self.proc in _live_procs:
                _live_procs.remove(self.proc)
        self.proc = None
