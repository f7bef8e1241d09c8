#!/usr/bin/env python3
"""bench/raft_masters.py: figures of the master's Raft group. Never part of
the test run.

  1. mutations/s (mkdir through REST on the leader) with 1 and 3 masters, at
     1 and 16 concurrent clients;
  2. failover: SIGKILL the leader of 3 masters, time until a write is
     accepted again (following 307/503), ROUNDS times; p50/p99/max.

Uses tests/integration/harness.py (real strata-master processes on free
loopback ports). Environment: STRATA_BUILD_DIR (default <src>/build),
DURATION seconds per throughput run (5), ROUNDS failovers (10).
"""
import os
import signal
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402
from harness import Cluster, post_json, request, wait_leader  # noqa: E402

DURATION = float(os.environ.get("DURATION", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "10"))


def settings():
    return {"master.mount.sync_interval": "never", "log.level": "warn"}


def mount(lead, root):
    status, body = post_json(lead.url + "/api/v1/mounts", {"path": "/", "uri": "file://" + root})
    assert status == 201, body
    assert request(lead.url + "/api/v1/files?path=/")[0] == 200


def throughput(lead, clients, tag):
    count = [0] * clients
    stop = time.monotonic() + DURATION

    def run(c):
        i = 0
        while time.monotonic() < stop:
            status, _ = post_json(lead.url + "/api/v1/files/mkdir", {"path": f"/{tag}-{c}-{i}"})
            if status == 201:
                count[c] += 1
            i += 1
    threads = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(count) / (time.monotonic() - t0)


def write_until_ok(masters, path, deadline):
    targets = [m for m in masters if m.proc.poll() is None]
    k = 0
    while time.monotonic() < deadline:
        url = targets[k % len(targets)].url + "/api/v1/files/mkdir"
        for _ in range(3):
            try:
                status, headers, _ = request(url, method="POST", body={"path": path}, timeout=2)
            except OSError:
                break
            if status == 307:
                url = headers["location"]
                continue
            if status == 201:
                return True
            break
        k += 1
        time.sleep(0.01)
    return False


def main():
    tmp = tempfile.mkdtemp(prefix="strata-bench-raft-")
    root = os.path.join(tmp, "ufs")
    os.makedirs(root)
    c = Cluster(tmp)
    try:
        for n in (1, 3):
            if n == 1:
                ms = [c.master("single", settings=settings())]
                lead = ms[0]
            else:
                ms = c.masters(3, settings=settings(), name=f"g{n}-")
                lead = wait_leader(ms)
            mount(lead, root)
            for clients in (1, 16):
                ops = throughput(lead, clients, f"n{n}c{clients}")
                print(f"masters={n} clients={clients} mkdir/s={ops:.0f}", flush=True)
            status, _, prom = request(lead.url + "/metrics")
            for line in prom.decode().splitlines():
                if line.startswith("strata_master_raft_fsync_"):
                    print(f"  {line}")
            for m in ms:
                m.stop()
            os.system(f"rm -rf {root}/*")
        ms = c.masters(3, settings=settings(), name="fo-")
        lead = wait_leader(ms)
        mount(lead, root)
        times = []
        for r in range(ROUNDS):
            lead = wait_leader(ms)
            t0 = time.monotonic()
            lead.send_signal(signal.SIGKILL)
            lead.proc.wait()
            lead.log.close()
            ok = write_until_ok(ms, f"/fo{r}", t0 + 15)
            dt = time.monotonic() - t0
            times.append(dt if ok else float("inf"))
            print(f"failover {r}: {dt:.3f}s", flush=True)
            lead.start()
            lead.wait_ready()
            time.sleep(0.5)
        times.sort()
        p = lambda q: times[min(len(times) - 1, int(q * len(times)))]  # noqa: E731
        print(f"failover SIGKILL->write accepted: p50 {p(0.5):.3f}s p99 {p(0.99):.3f}s "
              f"max {times[-1]:.3f}s over {len(times)}")
    finally:
        c.stop_all()
        harness._kill_all()
        os.system(f"rm -rf {tmp}")


if __name__ == "__main__":
    main()
