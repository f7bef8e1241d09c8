"""The CivetWeb build strata links serves HTTPS (OpenSSL 3, certificate made
at test time) and IPv6; workers and the CLI talk to a TLS master. With TLS
configured the worker's one S3 server (api/s3_server.c) speaks TLS itself:
hits stay on the fast path, misses and writes go through its pool, plain
HTTP and clients that leave mid-handshake are let go at once."""
import json
import os
import socket
import ssl
import subprocess
import time

from harness import (ClusterTestCase, fd_targets, get_json, main, request, tcp_sockets,
                     wait_for, wait_heartbeats)

MiB = 1 << 20


def make_cert(directory, name="server"):
    cert = os.path.join(directory, f"{name}.pem")
    key = os.path.join(directory, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"],
                   check=True, capture_output=True)
    return cert, key


class TlsTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.cert, self.key = make_cert(self.tmp)
        self.tls = {"http.tls_cert": self.cert, "http.tls_key": self.key}

    def test_https_master_worker_cli(self):
        m = self.cluster.master(settings=self.tls)
        self.assertTrue(m.url.startswith("https://"))
        status, body = get_json(m.url + "/api/v1/health", cafile=self.cert)
        self.assertEqual((status, body["role"]), (200, "master"))
        # The certificate is verified, not just accepted.
        with self.assertRaises(ssl.SSLCertVerificationError):
            request(m.url + "/api/v1/health")
        # Plain HTTP on the TLS port gets no HTTP answer.
        host, port = m.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                reply = s.recv(100)
            except ConnectionResetError:
                reply = b""
            self.assertFalse(reply.startswith(b"HTTP/1.1 200"), reply)

        w = self.cluster.worker(m, settings=self.tls)
        wait_for(lambda: get_json(m.url + "/api/v1/workers", cafile=self.cert)[1]["workers"],
                 what="registration over TLS")
        r = self.cluster.cli("--master", m.address, "--json", "admin", "report",
                             env={"STRATA_HTTP_TLS_CA": self.cert})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["workers"]["live"], 1)
        # Without the CA the CLI refuses the self-signed certificate...
        r = self.cluster.cli("--master", "https://" + m.address, "admin", "report")
        self.assertEqual(r.returncode, 1)
        self.assertIn("certificate", r.stderr.lower())
        # ...unless told not to verify.
        r = self.cluster.cli("-k", "--master", "https://" + m.address, "admin", "report")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.key) as f:
            secret = f.read()[40:80]
        self.assertNotIn(secret, m.read_log() + w.read_log())

    def test_bad_tls_files(self):
        m = self.cluster.master(settings={"http.tls_cert": self.cert,
                                          "http.tls_key": self.cert}, wait=False)
        self.assertEqual(m.proc.wait(10), 1)
        self.assertIn("http.tls_key", m.read_log())
        m2 = self.cluster.master(name="m2", settings={"http.tls_cert": self.cert}, wait=False)
        self.assertEqual(m2.proc.wait(10), 1)
        self.assertIn("http.tls_cert and http.tls_key must be set together", m2.read_log())
        m3 = self.cluster.master(name="m3", settings={"http.tls_cert": self.tmp + "/none.pem",
                                                      "http.tls_key": self.key}, wait=False)
        self.assertEqual(m3.proc.wait(10), 1)
        self.assertIn("none.pem", m3.read_log())


class S3TlsTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.cert, self.key = make_cert(self.tmp)
        self.tls = {"http.tls_cert": self.cert, "http.tls_key": self.key}
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(self.root, "data"))
        self.big = os.urandom(3 * MiB + 5)  # 4 blocks of 1 MiB
        with open(os.path.join(self.root, "data", "big.bin"), "wb") as f:
            f.write(self.big)
        self.m = self.cluster.master(settings={**self.tls,
                                               "master.root_ufs": "file://" + self.root,
                                               "master.mount.block_size": "1MB"})
        self.w = self.cluster.worker(self.m, settings={**self.tls,
                                                       "worker.metadata_ttl": "60s"})
        wait_for(lambda: len(get_json(self.m.url + "/api/v1/workers",
                                      cafile=self.cert)[1]["workers"]) == 1,
                 what="worker registered")
        self.port = int(self.w.settings["worker.s3_port"])
        self.url = f"https://127.0.0.1:{self.port}"

    def counters(self):
        return get_json(self.w.url + "/api/v1/metrics", cafile=self.cert)[1]["counters"]

    def s3(self, method, path, body=None, headers=None):
        return request(self.url + path, method=method, body=body, headers=headers,
                       timeout=30, cafile=self.cert)

    def session_fds(self):
        """What S3 sessions hold open in the worker: sockets on the S3 port
        (not its listener) and files in the MEM tier other than committed
        block files (<id>.blk: the S3 front keeps those open between
        requests by design, api/s3_fdcache.h; an upload's <id>.tmp.* file
        counts). The worker's own connections to the master (kept alive by
        pool threads) are not a session's and are left out."""
        mem = os.path.realpath(self.w.settings["worker.tier.mem.dir"]) + "/"
        socks = tcp_sockets(self.w.proc.pid)
        out = []
        for t in fd_targets(self.w.proc.pid):
            if t.startswith("socket:["):
                lport, _, state = socks.get(t[8:-1], (None, None, None))
                if lport == self.port and state != 0x0A:
                    out.append(t)
            elif t.startswith(mem) and not t.endswith(".blk"):
                out.append(t)
        return out

    def open_fds(self):
        return len(self.session_fds())

    def test_hits_misses_and_puts_over_tls(self):
        self.assertIn(f"S3 at {self.url}", self.w.read_log())
        # Plain-HTTP clients are refused the certificate check, not served.
        with self.assertRaises(ssl.SSLCertVerificationError):
            request(self.url + "/data/big.bin")
        c0 = self.counters()
        status, slow_h, body = self.s3("GET", "/data/big.bin")  # a miss: the pool
        self.assertEqual((status, body), (200, self.big))
        c1 = self.counters()
        self.assertEqual(c1["s3_fastpath_hits_total"], c0["s3_fastpath_hits_total"])
        self.assertGreater(c1["s3_proxied_total"], c0["s3_proxied_total"])

        def hit():
            before = self.counters()["s3_fastpath_hits_total"]
            status, _, body = self.s3("GET", "/data/big.bin")
            self.assertEqual((status, body), (200, self.big))
            return self.counters()["s3_fastpath_hits_total"] > before
        wait_for(hit, timeout=10, what="a fast-path hit over TLS")
        c2 = self.counters()
        status, fast_h, body = self.s3("GET", "/data/big.bin", headers={"Range": "bytes=1048570-1048589"})
        self.assertEqual((status, body), (206, self.big[1048570:1048590]))
        c3 = self.counters()
        self.assertEqual(c3["s3_fastpath_hits_total"], c2["s3_fastpath_hits_total"] + 1)
        self.assertEqual(c3["s3_fastpath_bytes_total"] - c2["s3_fastpath_bytes_total"], 20)
        for h in ("content-type", "etag", "last-modified", "server"):
            self.assertEqual(fast_h[h], slow_h[h], h)
        # Whether the kernel took the session (kTLS) or not, the log says.
        self.assertRegex(self.w.read_log(), r"S3 server: TLS \(TLSv1\.[23]\) with(out)? kTLS")
        # A PUT and a GET of it with curl, keep-alive across both (the
        # pool hands the TLS session back to the loop between them).
        src = os.path.join(self.tmp, "up.bin")
        data = os.urandom(2 * MiB + 7)
        with open(src, "wb") as f:
            f.write(data)
        out = os.path.join(self.tmp, "down.bin")
        r = subprocess.run(["curl", "-sS", "--fail", "--cacert", self.cert,
                            "-T", src, self.url + "/data/up.bin",
                            "--next", "--cacert", self.cert, "-o", out,
                            self.url + "/data/up.bin"],
                           capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(self.s3("GET", "/data/nope.bin")[0], 404)

    def test_boto3_over_tls(self):
        import boto3
        from botocore.config import Config
        s3 = boto3.client("s3", endpoint_url=self.url, verify=self.cert,
                          aws_access_key_id="k", aws_secret_access_key="s",
                          region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"}))
        s3.put_object(Bucket="data", Key="b.txt", Body=b"hello tls")
        self.assertEqual(s3.get_object(Bucket="data", Key="b.txt")["Body"].read(), b"hello tls")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data")["Contents"]]
        self.assertIn("b.txt", keys)

    def test_plain_http_and_half_handshakes_are_let_go(self):
        self.assertEqual(self.s3("GET", "/data/big.bin")[0], 200)
        wait_for(lambda: self.counters()["s3_open_connections"] == 0, timeout=5,
                 what="the warm-up connection closed")
        base = self.open_fds()
        # Plain HTTP on the TLS port: no HTTP reply, the connection ends
        # (at most a TLS alert comes back), nothing hangs.
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"GET /data/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except ConnectionResetError:
                pass  # closed with the request unread: a reset
            self.assertFalse(got.startswith(b"HTTP/"), got)
        # Clients that send part of a ClientHello and leave.
        ctx = ssl.create_default_context(cafile=self.cert)
        hello_in, hello_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(hello_in, hello_out, server_hostname="localhost")
        with self.assertRaises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello = hello_out.read()
        socks = []
        for i in range(10):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            s.sendall(hello[:len(hello) // 2] if i % 2 else hello)
            socks.append(s)
        wait_for(lambda: self.counters()["s3_open_connections"] == 10, timeout=5,
                 what="10 handshakes under way")
        t0 = time.monotonic()
        for s in socks:
            s.close()
        wait_for(lambda: self.counters()["s3_open_connections"] == 0 and
                 self.open_fds() <= base, timeout=1,
                 what="half handshakes released")
        self.assertLess(time.monotonic() - t0, 1.0)
        # Sessions that leave mid-reply (a hit) and mid-upload (the pool).
        def hit():
            before = self.counters()["s3_fastpath_hits_total"]
            self.assertEqual(self.s3("GET", "/data/big.bin")[0], 200)
            return self.counters()["s3_fastpath_hits_total"] > before
        wait_for(hit, timeout=10, what="a fast-path hit over TLS")
        wait_for(lambda: self.counters()["s3_open_connections"] == 0, timeout=5,
                 what="the hit's connection closed")
        base = self.open_fds()
        for i in range(6):
            raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s = ctx.wrap_socket(raw, server_hostname="localhost")
            if i % 2:
                s.sendall(b"GET /data/big.bin HTTP/1.1\r\nHost: s3\r\n\r\n")
                s.recv(1000)
            else:
                s.sendall(b"PUT /data/gone.bin HTTP/1.1\r\nHost: s3\r\n"
                          b"Content-Length: 1000000\r\n\r\n" + b"x" * 5000)
            s.close()
        seen = []

        def released():
            seen.append((self.counters()["s3_open_connections"], self.open_fds() - base))
            return seen[-1][0] == 0 and seen[-1][1] <= 0
        # (2 s was too short once for an ASan build under CI's load: which
        # of the two conditions lagged is now said.)
        try:
            wait_for(released, timeout=10, what="sessions that left released")
        except AssertionError as e:
            raise AssertionError(f"{e}: (connections, fds over base) last "
                                 f"{seen[-1] if seen else None}; session fds now "
                                 f"{self.session_fds()}") from None
        self.assertEqual(self.s3("GET", "/data/gone.bin")[0], 404)
        # The server still serves.
        status, _, body = self.s3("GET", "/data/big.bin")
        self.assertEqual((status, body), (200, self.big))
        self.assertEqual(self.w.proc.poll(), None)


class Ipv6Test(ClusterTestCase):
    def test_ipv6_loopback(self):
        m = self.cluster.master(settings={"master.bind": "::1"})
        self.assertTrue(m.url.startswith("http://[::1]:"))
        status, body = get_json(m.url + "/api/v1/health")
        self.assertEqual((status, body["status"]), (200, "ok"))
        w = self.cluster.worker(m, settings={"worker.bind": "::1"})
        wait_for(lambda: get_json(m.url + "/api/v1/workers")[1]["workers"], what="v6 worker")
        ws = get_json(m.url + "/api/v1/workers")[1]["workers"]
        self.assertEqual(ws[0]["address"], w.address)
        self.assertEqual(ws[0]["host"], "[::1]")

    def test_ipv6_tls(self):
        cert, key = make_cert(self.tmp)
        m = self.cluster.master(settings={"master.bind": "::1", "http.tls_cert": cert,
                                          "http.tls_key": key})
        status, body = get_json(m.url + "/api/v1/health", cafile=cert)
        self.assertEqual(status, 200)


if __name__ == "__main__":
    main()
