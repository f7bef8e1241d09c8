"""The CivetWeb build strata links serves HTTPS (OpenSSL 3, certificate made
at test time) and IPv6; workers and the CLI talk to a TLS master."""
import json
import os
import socket
import ssl
import subprocess

from harness import ClusterTestCase, get_json, main, request, wait_for


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
