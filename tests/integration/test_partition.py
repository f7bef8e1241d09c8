"""A network partition across hosts, as an operator would see it: three
masters and two workers, each in its own network namespace (its own
address, linked by veth pairs to one bridge), with nft drop rules that cut
links while writers keep writing. The leader is cut off from the other
masters and the workers: it stops acknowledging writes (it steps down),
the majority elects a new leader and keeps taking writes. A worker is cut
off from every master while a file it caches is deleted. Then the links
heal: every acknowledged write is on every master, all trees are equal,
and no worker serves the deleted file's block.

The test machine's own namespace holds the bridge (address .254): the test
talks to every daemon directly, so it can see both sides of a cut.
Everything it creates carries this process's pid in its name and is torn
down at the end, also on failure; leftovers of a killed earlier run (whose
pid is gone) are removed first. Needs root, `ip netns` and `nft`; skips
with the reason otherwise."""
import atexit
import os
import re
import shutil
import subprocess
import threading
import time
import unittest
import urllib.parse

from harness import (MASTER_BIN, WORKER_BIN, ClusterTestCase, Daemon, get_json, main,
                     raft_self, request, wait_for)

PID = os.getpid()
NS_PREFIX = "strata-part-"
WORKER_TOKEN = "partition-test-worker-token"
MASTER_IPS = {1: 1, 2: 2, 3: 3}   # master id -> last octet
WORKER_IPS = {"w1": 11, "w2": 12}
HOST_OCTET = 254                   # the bridge, in the test's own namespace


def q(path):
    return urllib.parse.quote(path, safe="")


def sh(*argv, check=True, ns=None, stdin=None):
    if ns:
        argv = ("ip", "netns", "exec", ns) + argv
    r = subprocess.run(argv, capture_output=True, text=True, input=stdin, timeout=20)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale():
    """Namespaces and bridges of earlier runs whose process is gone."""
    r = sh("ip", "netns", "list", check=False)
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(NS_PREFIX + r"(\d+)-\w+", name)
        if m and not pid_alive(int(m.group(1))):
            sh("ip", "netns", "del", name, check=False)
    r = sh("ip", "-o", "link", "show", "type", "bridge", check=False)
    for m in re.finditer(r"^\d+: (stb(\d+)):", r.stdout, re.M):
        if not pid_alive(int(m.group(2))):
            sh("ip", "link", "del", m.group(1), check=False)


def pick_subnet():
    """A 10.a.b.0/24 that no interface of this namespace uses."""
    used = sh("ip", "-4", "-o", "addr", check=False).stdout
    for i in range(64):
        a, b = 200 + (PID + i) // 256 % 50, (PID + i) % 256
        net = f"10.{a}.{b}."
        if net not in used:
            return net
    raise unittest.SkipTest("no free 10.x.y.0/24 subnet for the partition test")


class Net:
    """One bridge in this namespace, one namespace per node with a veth to
    it. cut()/heal() install or remove a node's drop rules."""

    def __init__(self):
        self.prefix = pick_subnet()
        self.bridge = f"stb{PID}"
        self.nodes = {}      # name -> (netns, ip)
        self.created = []    # namespaces to delete
        self.bridge_made = False

    def ip(self, node):
        return self.nodes[node][1]

    def ns(self, node):
        return self.nodes[node][0]

    def up(self, names_octets):
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.bridge_made = True
        sh("ip", "addr", "add", f"{self.prefix}{HOST_OCTET}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for name, octet in names_octets:
            ns = f"{NS_PREFIX}{PID}-{name}"
            sh("ip", "netns", "add", ns)
            self.created.append(ns)
            host_if, peer_if = f"stv{PID}{name}", f"stp{PID}{name}"
            sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", peer_if)
            sh("ip", "link", "set", peer_if, "netns", ns)
            sh("ip", "link", "set", host_if, "master", self.bridge, "up")
            sh("ip", "link", "set", "lo", "up", ns=ns)
            sh("ip", "link", "set", peer_if, "name", "eth0", ns=ns)
            ip = f"{self.prefix}{octet}"
            sh("ip", "addr", "add", f"{ip}/24", "dev", "eth0", ns=ns)
            sh("ip", "link", "set", "eth0", "up", ns=ns)
            self.nodes[name] = (ns, ip)

    def cut(self, node, others):
        """Drops every packet between node and the others (both ways, in
        node's namespace); the test's own address stays reachable."""
        ips = ", ".join(self.ip(o) for o in others)
        rules = (f"table inet strata_part {{\n"
                 f" chain in {{ type filter hook input priority 0; policy accept;"
                 f" ip saddr {{ {ips} }} drop; }}\n"
                 f" chain out {{ type filter hook output priority 0; policy accept;"
                 f" ip daddr {{ {ips} }} drop; }}\n}}\n")
        sh("nft", "-f", "-", ns=self.ns(node), stdin=rules)

    def heal(self, node):
        sh("nft", "delete", "table", "inet", "strata_part", ns=self.ns(node), check=False)

    def down(self):
        for ns in self.created:
            sh("ip", "netns", "del", ns, check=False)
        self.created = []
        if self.bridge_made:
            sh("ip", "link", "del", self.bridge, check=False)
            self.bridge_made = False


def why_no_namespaces():
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            return f"'{tool}' is not installed (scripts/deps.sh installs nftables)"
    probe = f"{NS_PREFIX}{PID}-probe"
    r = sh("ip", "netns", "add", probe, check=False)
    if r.returncode != 0:
        return f"ip netns add failed: {r.stderr.strip()}"
    try:
        r = sh("nft", "list", "ruleset", ns=probe, check=False)
        if r.returncode != 0:
            return f"nft does not work in a namespace: {r.stderr.strip()}"
    finally:
        sh("ip", "netns", "del", probe, check=False)
    return None


class Writer(threading.Thread):
    """Creates directories /pw/wNNNNN through the masters as a REST client
    would: it follows 307s, and moves on to the next master on a refused
    or timed-out call or a 503. Keeps every acknowledged (201) path with
    the master that acknowledged it and when."""

    def __init__(self, urls):
        super().__init__(daemon=True)
        self.urls = urls
        self.acked = []          # (path, url, monotonic time)
        self.failures = []
        self.stop_flag = threading.Event()

    def run(self):
        n, i = 0, 0
        url = self.urls[0]
        while not self.stop_flag.is_set():
            path = "/pw/w%05d" % n
            try:
                status, headers, data = request(url + "/api/v1/files/mkdir", method="POST",
                                                body={"path": path}, timeout=2)
            except OSError:
                i += 1
                url = self.urls[i % len(self.urls)]
                continue
            if status == 307 and headers.get("x-strata-leader"):
                url = headers["x-strata-leader"]
            elif status == 201:
                self.acked.append((path, url, time.monotonic()))
                n += 1
            elif status == 409:
                n += 1  # applied, reply lost to a timeout: not counted
            elif status in (503, 504):
                i += 1
                url = self.urls[i % len(self.urls)]
                time.sleep(0.05)
            else:
                self.failures.append((path, status, data))
                n += 1


class S3Writer(threading.Thread):
    """PUTs /part/sNNNNN through one worker's S3 gateway; keeps what was
    acknowledged (200). Errors while the masters elect are expected."""

    def __init__(self, s3_url):
        super().__init__(daemon=True)
        self.s3_url = s3_url
        self.acked = []
        self.stop_flag = threading.Event()

    def run(self):
        n = 0
        while not self.stop_flag.is_set():
            key = "/part/s%05d" % n
            try:
                status, _, _ = request(self.s3_url + key, method="PUT",
                                       body=b"s3-%05d" % n, timeout=5)
            except OSError:
                time.sleep(0.1)
                continue
            if status == 200:
                self.acked.append(key)
                n += 1
            else:
                time.sleep(0.1)


class PartitionTest(ClusterTestCase):
    def setUp(self):
        reason = why_no_namespaces()
        if reason:
            self.skipTest(reason)
        remove_stale()
        super().setUp()
        self.net = Net()
        # Torn down however the test ends: cleanups run after tearDown
        # (which stops the daemons), atexit if the runner dies first.
        atexit.register(self.net.down)
        self.addCleanup(self.net.down)
        self.net.up([(f"m{i}", o) for i, o in MASTER_IPS.items()] +
                    list(WORKER_IPS.items()))

    def start(self, node, binary, settings, url):
        d = os.path.join(self.tmp, node)
        os.makedirs(d, exist_ok=True)
        argv = ["ip", "netns", "exec", self.net.ns(node), binary]
        argv += [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]
        dm = Daemon(node, argv, self.cluster.env(), os.path.join(d, "log"), url)
        dm.settings = settings
        self.cluster.daemons.append(dm)
        dm.start()
        return dm

    def start_masters(self):
        ufs = os.path.join(self.tmp, "ufs")
        os.makedirs(ufs)
        peers = ",".join(f"{i}@{self.net.ip(f'm{i}')}:19200@http://{self.net.ip(f'm{i}')}:19999"
                         for i in MASTER_IPS)
        ms = []
        for i in MASTER_IPS:
            node = f"m{i}"
            ip = self.net.ip(node)
            s = {"master.bind": ip, "master.port": "19999", "master.raft_port": "19200",
                 "master.id": str(i), "master.peers": peers,
                 "master.state_dir": os.path.join(self.tmp, node, "state"),
                 "master.worker_timeout": "3s", "master.mount.sync_interval": "never",
                 "master.root_ufs": "file://" + ufs, "http.insecure_no_auth": "true",
                 "cluster.worker_token": WORKER_TOKEN}
            m = self.start(node, MASTER_BIN, s, f"http://{ip}:19999")
            m.id, m.address = i, f"{ip}:19999"
            ms.append(m)
        for m in ms:
            m.wait_ready()
        return ms

    def start_workers(self, ms):
        ws = []
        for node in WORKER_IPS:
            ip = self.net.ip(node)
            s = {"worker.bind": ip, "worker.port": "29999", "worker.s3_port": "39999",
                 "worker.data_dir": os.path.join(self.tmp, node, "data"),
                 "worker.tier.mem.dir": os.path.join(self.tmp, node, "mem"),
                 "worker.heartbeat_interval": "200ms", "worker.metadata_ttl": "0",
                 "master.addresses": ",".join(m.address for m in ms),
                 "http.insecure_no_auth": "true", "cluster.worker_token": WORKER_TOKEN}
            w = self.start(node, WORKER_BIN, s, f"http://{ip}:29999")
            w.s3 = f"http://{ip}:39999"
            ws.append(w)
        for w in ws:
            w.wait_ready()
        return ws

    def leader_of(self, ms, timeout=15.0):
        """The one leader all of ms agree on (each answers for itself)."""
        def find():
            views = {m: raft_self(m) for m in ms}
            if not all(views.values()):
                return None
            leaders = [m for m, v in views.items() if v["role"] == "leader"]
            if len(leaders) != 1:
                return None
            term = views[leaders[0]]["term"]
            if all(v["leader"] == leaders[0].id and v["term"] == term
                   for v in views.values()):
                return leaders[0]
            return None
        return wait_for(find, timeout, interval=0.05, what="one agreed Raft leader")

    def live_workers(self, lead):
        status, body = get_json(lead.url + "/api/v1/workers", timeout=2)
        if status != 200:
            return set()
        return {w["host"] for w in body["workers"] if w["state"] == "live"}

    def tree(self, m, path="/"):
        out = {}
        status, body = get_json(f"{m.url}/api/v1/files?path={q(path)}", timeout=5)
        if status != 200:
            raise AssertionError(f"{m.name} {path}: {status} {body}")
        for e in body["entries"]:
            p = path.rstrip("/") + "/" + e["name"]
            out[p] = (e["type"], e.get("length", 0))
            if e["type"] == "directory":
                out.update(self.tree(m, p))
        return out

    def test_leader_and_worker_cut_off_then_healed(self):
        t_start = time.monotonic()
        ms = self.start_masters()
        lead = self.leader_of(ms)
        wait_for(lambda: (lambda r: r[0] == 200 and any(
            mt["path"] == "/" for mt in r[1]["mounts"]))(get_json(lead.url + "/api/v1/mounts")),
            what="master.root_ufs mounted by the leader")
        ws = self.start_workers(ms)
        w1, w2 = ws
        wait_for(lambda: self.live_workers(lead) >= {self.net.ip("w1"), self.net.ip("w2")},
                 what="both workers live on the leader")
        self.assertEqual(request(w1.s3 + "/part", method="PUT")[0], 200)
        keep, doomed = b"k" * 5000, b"d" * 7000
        self.assertEqual(request(w1.s3 + "/part/keep", method="PUT", body=keep)[0], 200)
        self.assertEqual(request(w1.s3 + "/part/doomed", method="PUT", body=doomed)[0], 200)
        # Both workers read (and so cache) the doomed file.
        for w in ws:
            status, _, data = request(w.s3 + "/part/doomed")
            self.assertEqual((status, data), (200, doomed), w.name)
        status, st = get_json(f"{lead.url}/api/v1/files/stat?path={q('/part/doomed')}")
        self.assertEqual(status, 200, st)
        doomed_id = int(st["data_id"])
        self.assertEqual(request(lead.url + "/api/v1/files/mkdir", method="POST",
                                 body={"path": "/pw"})[0], 201)

        writer = Writer([m.url for m in ms])
        s3w = S3Writer(w2.s3)
        writer.start()
        s3w.start()
        try:
            wait_for(lambda: len(writer.acked) >= 10 and len(s3w.acked) >= 3,
                     what="first writes")

            # 1. The leader is cut off from the other masters and the workers.
            old = lead
            majority = [m for m in ms if m is not old]
            self.net.cut(f"m{old.id}", [f"m{m.id}" for m in majority] + list(WORKER_IPS))
            t_cut = time.monotonic()
            new = self.leader_of(majority, timeout=20)
            self.assertIsNot(new, old)
            # The old leader steps down: it cannot hear a quorum.
            wait_for(lambda: (raft_self(old) or {}).get("role") != "leader", timeout=10,
                     what=f"master {old.id} cut off steps down")
            # The majority keeps taking writes.
            n_before = len(writer.acked)
            wait_for(lambda: len(writer.acked) >= n_before + 10, timeout=20,
                     what="writes acknowledged by the majority after the cut")
            # The cut-off side refuses writes, also one sent to it directly.
            try:
                status, _, data = request(old.url + "/api/v1/files/mkdir", method="POST",
                                          body={"path": "/pw/minority"}, timeout=10)
            except OSError as e:  # no answer in time is a refusal too
                status, data = None, repr(e)
            self.assertIn(status, (307, 503, 504, None), data)
            # Workers follow the new leader; S3 writes through w2 go on.
            wait_for(lambda: self.live_workers(new) >= {self.net.ip("w1"), self.net.ip("w2")},
                     timeout=20, what=f"both workers live on master {new.id}")
            n_s3 = len(s3w.acked)
            wait_for(lambda: len(s3w.acked) > n_s3, timeout=20,
                     what="an S3 PUT acknowledged during the partition")
            late = [(p, u) for p, u, t in writer.acked if u == old.url and t > t_cut + 3]
            self.assertEqual(late, [], "the cut-off master acknowledged writes")

            # 2. Heal; the group agrees on one leader again, all three in it.
            self.net.heal(f"m{old.id}")
            lead = self.leader_of(ms, timeout=20)

            # 3. A worker is cut off from every master while a file it
            # caches is deleted.
            self.net.cut("w1", [f"m{i}" for i in MASTER_IPS])
            status, _, data = request(f"{lead.url}/api/v1/files?path={q('/part/doomed')}",
                                      method="DELETE", timeout=10)
            self.assertIn(status, (200, 204), data)
            wait_for(lambda: self.net.ip("w1") not in self.live_workers(lead), timeout=15,
                     what="the cut-off worker marked lost")
            n_before = len(writer.acked)
            wait_for(lambda: len(writer.acked) >= n_before + 5, timeout=20,
                     what="writes go on while w1 is cut off")
            self.net.heal("w1")
            wait_for(lambda: self.net.ip("w1") in self.live_workers(lead), timeout=20,
                     what="w1 live again after the heal")
            time.sleep(0.5)
        finally:
            writer.stop_flag.set()
            s3w.stop_flag.set()
            writer.join(30)
            s3w.join(30)
        self.assertEqual(writer.failures, [])
        self.assertGreater(len(writer.acked), 30)

        # Every master holds every acknowledged write; the trees are equal.
        lead = self.leader_of(ms)
        trees = [self.tree(lead)]

        def converged():
            views = [raft_self(m) for m in ms]
            return all(views) and len({v["applied_index"] for v in views}) == 1
        wait_for(converged, timeout=30, what="every master applied the same entries")
        others = [m for m in ms if m is not lead]
        trees += [self.tree(m) for m in others]
        for m, t in zip([lead] + others, trees):
            missing = [p for p, _, _ in writer.acked if p not in t]
            self.assertEqual(missing, [], f"acknowledged but missing on {m.name}")
            missing = [k for k in s3w.acked if k not in t]
            self.assertEqual(missing, [], f"S3 PUTs acknowledged but missing on {m.name}")
            self.assertNotIn("/pw/minority", t, m.name)
            self.assertNotIn("/part/doomed", t, m.name)
            self.assertEqual(t["/part/keep"], ("file", len(keep)))
            self.assertEqual(t, trees[0], f"{m.name} differs from {lead.name}")

        # No worker serves the deleted file, by any route: S3, the data
        # route, or the peer block route by the block's id.
        block = doomed_id << 24
        for w in ws:
            status, _, data = request(w.s3 + "/part/doomed")
            self.assertEqual(status, 404, (w.name, data[:200]))
            status, _, data = request(f"{w.url}/api/v1/data?path={q('/part/doomed')}")
            self.assertEqual(status, 404, (w.name, data[:200]))
            status, _, data = request(
                f"{w.url}/api/v1/blocks/{block}?path={q('/part/doomed')}&data_id={doomed_id}"
                f"&offset=0&length={len(doomed)}",
                headers={"X-Strata-Worker-Token": WORKER_TOKEN})
            self.assertIn(status, (404, 409),
                          f"{w.name} serves the deleted file's block {block}: {data[:200]}")
            status, _, data = request(w.s3 + "/part/keep")
            self.assertEqual((status, data), (200, keep), w.name)
        print(f"partition test: {time.monotonic() - t_start:.1f}s, {len(writer.acked)} REST and "
              f"{len(s3w.acked)} S3 writes acknowledged", flush=True)


if __name__ == "__main__":
    main()
