"""TLS on every hop between daemons, certificates made at test time by the
openssl CLI: a cluster CA signs each daemon's certificate, another CA signs
a stranger's. Three masters with master.raft.tls elect a leader and
replicate writes over mutual TLS; a stranger on the leader's Raft port
(plaintext, TLS without a certificate, a certificate of the other CA)
sending a forged AppendEntries is cut off and the leader's term and log do
not move -- while the same frame, plaintext, deposes a plaintext leader
(the control that shows the forgery works). With cluster.mtls, workers
register with the master and read blocks from each other over mutual TLS,
and a worker's data port with http.tls_client_auth=required refuses
plaintext, certificate-less and other-CA clients; a master REST port with
required client certificates refuses them too while the CLI with a
certificate gets through."""
import os
import socket
import ssl
import struct
import subprocess
import time

from harness import (ClusterTestCase, get_json, main, raft_self, request, wait_for,
                     wait_heartbeats, wait_leader)

MiB = 1 << 20


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
            "-out", f"{name}.pem", cwd=d)
    return os.path.join(d, f"{name}.pem")


def make_leaf(d, name, ca, san="IP:127.0.0.1,IP:::1,DNS:localhost"):
    """A certificate for name signed by ca; returns (cert, key) paths."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(f"subjectAltName={san}\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
            cwd=d)
    return os.path.join(d, f"{name}.pem"), os.path.join(d, f"{name}.key")


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def forged_append(frm, to, term, prev_index, prev_term):
    """A well-formed AppendEntries (raft/wire.h) carrying one no-op entry
    at prev_index + 1: taken by a plaintext transport, it deposes the
    leader (higher term) and, if prev matches, rewrites its log."""
    entry = struct.pack("<QQB3xI", term, prev_index + 1, 3, 0)
    body = struct.pack("<II", 1, 0) + entry
    head = b"SRW1" + struct.pack("<BBBBII", 1, 5, 0, 0, len(body), 0)
    head += struct.pack("<9Q", frm, to, term, prev_index, prev_term, 0, 0, 0, 0)
    head += struct.pack("<I", crc32c(head)) + b"\0" * 4
    frame = head + body
    return frame + struct.pack("<I", crc32c(frame))


def closed_without_reply(sock, timeout=5):
    """True when the peer closes the connection (EOF, reset or a TLS
    alert) without sending application data."""
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
            if not isinstance(sock, ssl.SSLSocket):
                continue  # a TLS alert in clear bytes on a raw socket
            return False
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def tls_stranger(host, port, frame, cert=None):
    """Connects with TLS (not checking the server), optionally presenting
    cert=(certfile, keyfile), sends frame; True when cut off."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    raw = socket.create_connection((host, port), timeout=5)
    try:
        s = ctx.wrap_socket(raw)
    except (ssl.SSLError, ConnectionResetError):
        raw.close()
        return True  # refused in the handshake
    try:
        try:
            s.sendall(frame)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return True
        return closed_without_reply(s)
    finally:
        s.close()


class Certs:
    def __init__(self, d):
        self.dir = os.path.join(d, "certs")
        os.makedirs(self.dir)
        self.ca = make_ca(self.dir, "ca")
        make_ca(self.dir, "other-ca")
        self.daemon = make_leaf(self.dir, "daemon", "ca")
        self.admin = make_leaf(self.dir, "admin", "ca")
        self.stranger = make_leaf(self.dir, "stranger", "other-ca")

    def settings(self, **extra):
        s = {"http.tls_cert": self.daemon[0], "http.tls_key": self.daemon[1],
             "http.tls_ca": self.ca}
        s.update({k.replace("_", ".", 1): v for k, v in extra.items()})
        return s


class RaftTlsTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.certs = Certs(self.tmp)

    def leader_view(self, lead):
        v = raft_self(lead)
        return v["role"], v["term"], v["last_index"], v["commit_index"]

    def mkdir(self, m, path):
        status, _, body = request(m.url + "/api/v1/files/mkdir", method="POST",
                                  body={"path": path}, cafile=self.certs.ca)
        self.assertEqual(status, 201, body)

    def test_three_masters_over_mutual_tls_refuse_strangers(self):
        ms = self.cluster.masters(3, settings=self.certs.settings(**{"master_raft.tls": "true"}))
        lead = wait_leader(ms)
        for m in ms:
            self.assertIn("mutual TLS", m.read_log())
        for i in range(5):
            self.mkdir(lead, f"/tls-{i}")
        last = raft_self(lead)["last_index"]
        wait_for(lambda: all(raft_self(m)["applied_index"] >= last for m in ms),
                 what="the writes applied on every master")

        host, port = lead.raft_address.rsplit(":", 1)
        port = int(port)
        role, term, last, commit = self.leader_view(lead)
        other = next(m for m in ms if m is not lead)
        frame = forged_append(other.id, lead.id, term + 100, last, term)
        # 1. plaintext: the bytes never reach the frame decoder
        with socket.create_connection((host, port), timeout=5) as s:
            s.sendall(frame)
            self.assertTrue(closed_without_reply(s))
        # 2. TLS without a client certificate; 3. one of another CA
        self.assertTrue(tls_stranger(host, port, frame))
        self.assertTrue(tls_stranger(host, port, frame, cert=self.certs.stranger))
        time.sleep(0.5)
        self.assertEqual(self.leader_view(lead)[:3], (role, term, last))
        self.assertEqual(wait_leader(ms), lead)
        self.assertIn("refused TLS handshake from 127.0.0.1", lead.read_log())
        # The group still takes writes.
        self.mkdir(lead, "/after-strangers")
        last = raft_self(lead)["last_index"]
        wait_for(lambda: all(raft_self(m)["applied_index"] >= last for m in ms),
                 what="a write after the strangers applied everywhere")

    def test_control_plaintext_raft_takes_the_forged_frame(self):
        # Without TLS the same frame deposes the leader: what the test above
        # refuses is a real attack, not a malformed frame.
        ms = self.cluster.masters(3)
        lead = wait_leader(ms)
        v = raft_self(lead)
        other = next(m for m in ms if m is not lead)
        host, port = lead.raft_address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(forged_append(other.id, lead.id, v["term"] + 100, v["last_index"],
                                    v["term"]))
            wait_for(lambda: raft_self(lead)["term"] >= v["term"] + 100, timeout=5,
                     what="the forged term taken")

    def test_bad_raft_tls_settings_stop_the_master(self):
        m = self.cluster.master(settings={"master.raft.tls": "true"}, wait=False)
        self.assertEqual(m.proc.wait(10), 2)
        self.assertIn("master.raft.tls = true needs http.tls_cert and http.tls_key",
                      m.read_log())
        m2 = self.cluster.master(name="m2", settings=self.certs.settings(
            **{"master_raft.tls": "true", "http_tls_ca": self.tmp + "/nope.pem"}), wait=False)
        self.assertEqual(m2.proc.wait(10), 2)
        self.assertIn("master.raft.tls: CA file", m2.read_log())
        self.assertIn("nope.pem", m2.read_log())


class DaemonMtlsTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.certs = Certs(self.tmp)

    def get(self, url, cert=None):
        return get_json(url, cafile=self.certs.ca, cert=cert)

    def test_workers_and_master_over_mutual_tls(self):
        root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(root, "data"))
        big = os.urandom(8 * MiB)  # 8 blocks of 1 MiB, spread over two owners
        with open(os.path.join(root, "data", "big.bin"), "wb") as f:
            f.write(big)
        mtls = self.certs.settings(cluster_mtls="true")
        m = self.cluster.master(settings={**mtls, "master.root_ufs": "file://" + root,
                                          "master.mount.block_size": "1MB"})
        ws = [self.cluster.worker(m, name=f"w{i}", wait=False,
                                  settings={**mtls, "http.tls_client_auth": "required",
                                            "worker.metadata_ttl": "60s"})
              for i in range(2)]
        cert = self.certs.admin
        for w in ws:
            wait_for(lambda: self.get(w.url + "/api/v1/health", cert=cert)[0] == 200,
                     what=f"{w.name} health with a client certificate")
        # Registration is a worker route: it needs the worker's certificate.
        wait_for(lambda: len([x for x in self.get(m.url + "/api/v1/workers")[1]["workers"]
                              if x["state"] == "live"]) == 2, what="two workers registered")
        # ...and each knows the other (the peer list comes with heartbeats).
        wait_heartbeats(ws, cafile=self.certs.ca, cert=cert)

        # Reads through each worker: blocks owned by the other come over
        # worker-to-worker TLS, none falls back to the store.
        for w in ws:
            status, _, body = request(f"https://127.0.0.1:{w.settings['worker.s3_port']}"
                                      "/data/big.bin", cafile=self.certs.ca, timeout=30)
            self.assertEqual((status, body == big), (200, True))
        counters = [self.get(w.url + "/api/v1/metrics", cert=cert)[1]["counters"] for w in ws]
        self.assertEqual([c["peer_fallbacks_total"] for c in counters], [0, 0])
        # TLS 1.3 on the S3 port: AES-128-GCM by the server's preference,
        # though Python's client lists the 256-bit suite first.
        ctx = ssl.create_default_context(cafile=self.certs.ca)
        self.assertEqual(ctx.get_ciphers()[0]["name"], "TLS_AES_256_GCM_SHA384")
        with socket.create_connection(("127.0.0.1", int(ws[0].settings["worker.s3_port"])),
                                      timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                self.assertEqual(tls.version(), "TLSv1.3")
                self.assertEqual(tls.cipher()[0], "TLS_AES_128_GCM_SHA256")
        self.assertGreater(sum(c["bytes_from_peers_total"] for c in counters), 0)

        # The worker data port (required): plaintext, no certificate and
        # another CA's certificate are refused at the handshake.
        w = ws[0]
        port = int(w.settings["worker.port"])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                reply = s.recv(100)
            except ConnectionResetError:
                reply = b""
            self.assertFalse(reply.startswith(b"HTTP/"), reply)
        for bad in (None, self.certs.stranger):
            with self.assertRaises((ssl.SSLError, ConnectionResetError, ConnectionError)):
                self.get(w.url + "/api/v1/health", cert=bad)
        # The master's port (cluster.mtls: optional) serves users without a
        # certificate, refuses another CA's, and keeps worker routes for
        # callers with a verified one.
        self.assertEqual(self.get(m.url + "/api/v1/health")[0], 200)
        with self.assertRaises((ssl.SSLError, ConnectionResetError, ConnectionError)):
            self.get(m.url + "/api/v1/health", cert=self.certs.stranger)
        status, body = get_json(m.url + "/api/v1/internal/epoch", cafile=self.certs.ca)
        self.assertEqual(status, 403, body)
        self.assertIn("client certificate", body["error"]["message"])
        status, _ = get_json(m.url + "/api/v1/internal/epoch", cafile=self.certs.ca, cert=cert)
        self.assertNotEqual(status, 403)

    def test_rest_port_with_required_client_certificates(self):
        m = self.cluster.master(settings=self.certs.settings(http_tls_client_auth="required"),
                                wait=False)
        cert = self.certs.admin
        wait_for(lambda: self.get(m.url + "/api/v1/health", cert=cert)[0] == 200,
                 what="master health with a client certificate")
        for bad in (None, self.certs.stranger):
            with self.assertRaises((ssl.SSLError, ConnectionResetError, ConnectionError)):
                self.get(m.url + "/api/v1/health", cert=bad)
        host, port = m.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                reply = s.recv(100)
            except ConnectionResetError:
                reply = b""
            self.assertFalse(reply.startswith(b"HTTP/"), reply)
        # The CLI presents a certificate with cluster.mtls, and only then.
        env = {"STRATA_HTTP_TLS_CA": self.certs.ca}
        r = self.cluster.cli("--master", m.address, "admin", "report", env=env)
        self.assertEqual(r.returncode, 1, r.stdout)
        r = self.cluster.cli("--master", m.address, "admin", "report",
                             env={**env, "STRATA_CLUSTER_MTLS": "true",
                                  "STRATA_HTTP_TLS_CERT": cert[0],
                                  "STRATA_HTTP_TLS_KEY": cert[1]})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_client_certificates_need_tls(self):
        m = self.cluster.master(settings={"http.tls_client_auth": "required"}, wait=False)
        self.assertEqual(m.proc.wait(10), 1)
        self.assertIn("client certificates (http.tls_client_auth, cluster.mtls) need TLS",
                      m.read_log())
        m2 = self.cluster.master(name="m2", settings=self.certs.settings(
            http_tls_client_auth="optional", http_tls_ca=self.tmp + "/nope.pem"), wait=False)
        self.assertEqual(m2.proc.wait(10), 1)
        self.assertIn("http.tls_ca", m2.read_log())
        self.assertIn("nope.pem", m2.read_log())


if __name__ == "__main__":
    main()
