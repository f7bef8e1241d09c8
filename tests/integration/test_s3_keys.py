"""S3 access keys on a real worker over a real s3rver store. An admin
creates keys with `strata admin s3key`; from then on every S3 request must
be SigV4-signed by one of them. Requests signed by botocore/boto3, awscli,
s3cmd and curl --aws-sigv4 verify (GET, HEAD, PUT, multipart, listings,
presigned URLs, aws-chunked); every one-byte tampering fails with the code
S3 gives; roles, bucket lists, clock skew and anonymous-read buckets are
enforced; keys added and revoked while the worker runs take effect within
a second or two; a key file others may read stops the worker. Signed cache
hits stay on the event loop's fast path."""
import hashlib
import http.client
import json
import os
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import boto3
import botocore.config
from botocore.exceptions import ClientError

from harness import (ClusterTestCase, S3rver, SOURCE_DIR, get_json, main, post_json, wait_for,
                     wait_heartbeats)

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "unit"))
import s3_sign_oracle  # noqa: E402  (botocore's signer at a chosen time)

MiB = 1 << 20
AWS = "/usr/bin/aws"
S3CMD = "/usr/bin/s3cmd"
BUCKET = "store"


class S3KeysTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.store = S3rver(self.tmp, BUCKET).start()
        self.addCleanup(self.store.stop)
        self.m = self.cluster.master()
        for b in ("data", "other", "pub"):
            status, body = post_json(self.m.url + "/api/v1/mounts", {
                "path": "/" + b, "uri": f"s3://{BUCKET}/{b}",
                "options": {"s3.endpoint": self.store.endpoint,
                            "s3.access_key": S3rver.ACCESS_KEY,
                            "s3.secret_key": S3rver.SECRET_KEY, "s3.path_style": "true",
                            "s3.region": "us-east-1"}})
            self.assertEqual(status, 201, body)
        self.keyfile = os.path.join(self.tmp, "keys", "s3-keys")

    # ---- helpers ----

    def start_worker(self, **settings):
        s = {"worker.metadata_ttl": "60s", "worker.s3.key_file": self.keyfile}
        s.update(settings)
        self.w = self.cluster.worker(self.m, settings=s)
        wait_for(lambda: len(get_json(self.m.url + "/api/v1/workers")[1]["workers"]) == 1,
                 what="worker registered")
        wait_heartbeats([self.w], what="the peer list")
        self.port = int(self.w.settings["worker.s3_port"])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        return self.w

    def s3key(self, *args, check=True):
        r = self.cluster.cli("admin", "s3key", *args, "--file", self.keyfile)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def create_key(self, *args):
        r = self.s3key("create", "--json", *args)
        k = json.loads(r.stdout)
        return k["id"], k["secret"]

    def client(self, key, secret):
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=key,
                            aws_secret_access_key=secret, region_name="us-east-1",
                            config=botocore.config.Config(s3={"addressing_style": "path"},
                                                          signature_version="s3v4",
                                                          retries={"max_attempts": 1}))

    def counters(self):
        return get_json(self.w.url + "/api/v1/metrics")[1]["counters"]

    def code_of(self, fn):
        try:
            fn()
        except ClientError as e:
            return e.response["Error"]["Code"]
        return None

    def signed(self, key, secret, method, path, query=(), headers=(), body=b"",
               mode="header", when=None, expires=3600):
        """A request signed by botocore (tests/unit/s3_sign_oracle.py) at time
        `when`: {method, path, query, headers, body}."""
        case = {"mode": mode, "method": method, "host": f"127.0.0.1:{self.port}",
                "key": path.lstrip("/"), "query": [list(q) for q in query],
                "headers": [list(h) for h in headers], "body_hex": body.hex(),
                "time": int(when if when is not None else time.time()),
                "region": "us-east-1", "access_key": key, "secret_key": secret,
                "expires": expires, "chunk_size": 1000}
        r = s3_sign_oracle.sign(case)
        body = bytes.fromhex(r["body_hex"])
        # (the oracle prepared the streaming request with an empty body:
        # its unsigned Content-Length is the wire's business)
        headers = [(n, v) for n, v in r["headers"] if n.lower() != "content-length"]
        if r["method"] == "PUT":
            headers.append(("Content-Length", str(len(body))))
        return {"method": r["method"], "path": r["path"], "query": r["query"],
                "headers": headers, "body": body}

    def send(self, req):
        """Sends a (possibly tampered) request as is: (status, S3 error code
        or None, body)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        target = req["path"] + ("?" + req["query"] if req["query"] else "")
        c.putrequest(req["method"], target, skip_host=True, skip_accept_encoding=True)
        for name, value in req["headers"]:
            c.putheader(name, value)
        if ((req["body"] or req["method"] == "PUT")
                and not any(n.lower() == "content-length" for n, _ in req["headers"])):
            c.putheader("Content-Length", str(len(req["body"])))
        c.endheaders(req["body"] or None)
        r = c.getresponse()
        data = r.read()
        c.close()
        code = None
        if r.status >= 300 and data.startswith(b"<?xml"):
            code = ET.fromstring(data).findtext("Code")
        return r.status, code, data

    def aws(self, key, secret, *args, check=True):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret,
                   AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                   HOME=self.tmp)
        r = subprocess.run([AWS, "--endpoint-url", self.endpoint, *args],
                           capture_output=True, text=True, env=env, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def s3cmd(self, key, secret, *args, check=True):
        cfg = os.path.join(self.tmp, "s3cfg")
        with open(cfg, "w") as f:
            f.write(f"[default]\naccess_key = {key}\nsecret_key = {secret}\n"
                    f"host_base = 127.0.0.1:{self.port}\n"
                    f"host_bucket = 127.0.0.1:{self.port}\nuse_https = False\n"
                    "signature_v2 = False\nbucket_location = us-east-1\n")
        r = subprocess.run([S3CMD, "-c", cfg, *args], capture_output=True, text=True,
                           timeout=120, env=dict(os.environ, HOME=self.tmp))
        if check:
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r

    def curl(self, key, secret, method, path, extra=()):
        r = subprocess.run(
            ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-X", method,
             "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{key}:{secret}",
             "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", *extra, self.endpoint + path],
            capture_output=True, timeout=60)
        body, _, status = r.stdout.rpartition(b"\n")
        return int(status), body

    # ---- tests ----

    def test_clients_sign_and_verify(self):
        """boto3, awscli, s3cmd and curl --aws-sigv4 work with a key, and
        nothing works without one."""
        key, secret = self.create_key()
        self.start_worker()
        s3 = self.client(key, secret)
        s3.put_object(Bucket="data", Key="a/hello.txt", Body=b"hello world")
        self.assertEqual(s3.get_object(Bucket="data", Key="a/hello.txt")["Body"].read(),
                         b"hello world")
        self.assertEqual(s3.head_object(Bucket="data", Key="a/hello.txt")["ContentLength"], 11)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="data")["Contents"]]
        self.assertIn("a/hello.txt", keys)
        self.assertIn("data", [b["Name"] for b in s3.list_buckets()["Buckets"]])
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "data",
                                                              "Key": "a/hello.txt"},
                                        ExpiresIn=300)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", url[len(self.endpoint):])
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (200, b"hello world"))
        c.close()

        # aws-chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), chunks of 1000 bytes.
        payload = os.urandom(4500)
        req = self.signed(key, secret, "PUT", "/data/chunked.bin", body=payload,
                          mode="streaming")
        self.assertEqual(self.send(req)[:2], (200, None))
        self.assertEqual(s3.get_object(Bucket="data", Key="chunked.bin")["Body"].read(),
                         payload)

        # awscli: a multipart upload (> 8 MiB), a download and a listing.
        big = os.path.join(self.tmp, "big.bin")
        data = os.urandom(9 * MiB + 3)
        with open(big, "wb") as f:
            f.write(data)
        self.aws(key, secret, "s3", "cp", big, "s3://data/big.bin")
        back = os.path.join(self.tmp, "back.bin")
        self.aws(key, secret, "s3", "cp", "s3://data/big.bin", back)
        with open(back, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).digest(), hashlib.sha256(data).digest())
        self.assertIn("big.bin", self.aws(key, secret, "s3", "ls", "s3://data/").stdout)

        # s3cmd: put, get, ls.
        small = os.path.join(self.tmp, "small.txt")
        with open(small, "w") as f:
            f.write("from s3cmd")
        self.s3cmd(key, secret, "put", small, "s3://data/s3cmd.txt")
        got = os.path.join(self.tmp, "got.txt")
        self.s3cmd(key, secret, "get", "--force", "s3://data/s3cmd.txt", got)
        with open(got) as f:
            self.assertEqual(f.read(), "from s3cmd")
        self.assertIn("s3cmd.txt", self.s3cmd(key, secret, "ls", "s3://data/").stdout)

        # curl --aws-sigv4: GET and HEAD; with a wrong secret it is refused.
        self.assertEqual(self.curl(key, secret, "GET", "/data/a/hello.txt"),
                         (200, b"hello world"))
        self.assertEqual(self.curl(key, secret, "HEAD", "/data/a/hello.txt", ["-I"])[0], 200)
        status, body = self.curl(key, "x" * 40, "GET", "/data/a/hello.txt")
        self.assertEqual(status, 403)
        self.assertIn(b"SignatureDoesNotMatch", body)

        # Without a signature: AccessDenied; a key id nobody created.
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", "/data/a/hello.txt")
        r = c.getresponse()
        self.assertEqual(r.status, 403)
        self.assertEqual(ET.fromstring(r.read()).findtext("Code"), "AccessDenied")
        c.close()
        self.assertEqual(self.code_of(lambda: self.client("SKNOSUCHKEY000000000", secret)
                                      .get_object(Bucket="data", Key="a/hello.txt")),
                         "InvalidAccessKeyId")
        wrong = secret[:-1] + ("Z" if secret[-1] != "Z" else "Y")
        self.assertEqual(self.code_of(lambda: self.client(key, wrong)
                                      .put_object(Bucket="data", Key="x", Body=b"x")),
                         "SignatureDoesNotMatch")

    def test_every_one_byte_tampering_fails(self):
        key, secret = self.create_key()
        self.start_worker()
        s3 = self.client(key, secret)
        s3.put_object(Bucket="data", Key="obj.txt", Body=b"0123456789")
        s3.get_object(Bucket="data", Key="obj.txt")["Body"].read()  # warm: a hit next

        def flip(s, i):
            c = s[i]
            repl = "0" if c != "0" else "1"
            if c.isalpha():
                repl = "a" if c != "a" else "b"
            return s[:i] + repl + s[i + 1:]

        meta = [("x-amz-meta-color", "blue")]
        get = self.signed(key, secret, "GET", "/data/obj.txt", headers=meta)
        self.assertEqual(self.send(get)[:2], (200, None), "the untampered GET verifies")
        lst = self.signed(key, secret, "GET", "/data",
                          query=[("list-type", "2"), ("prefix", "obj")])
        self.assertEqual(self.send(lst)[:2], (200, None))
        body = b"payload-0123456789"
        put = self.signed(key, secret, "PUT", "/data/put.txt", headers=meta, body=body)
        self.assertEqual(self.send(put)[:2], (200, None))
        tried = 0

        def expect(req, want, what):
            nonlocal tried
            tried += 1
            status, code, data = self.send(req)
            self.assertEqual((status, code), want, f"{what}: {data[:300]!r}")

        mismatch = (403, "SignatureDoesNotMatch")
        for name, req in (("GET", get), ("PUT", put)):
            for i in range(len(req["method"])):
                expect(dict(req, method=flip(req["method"], i)), mismatch, f"{name} method {i}")
            for i in range(1, len(req["path"])):
                if req["path"][i] == "/":
                    continue
                expect(dict(req, path=flip(req["path"], i)), mismatch, f"{name} path {i}")
            for h, (hname, hvalue) in enumerate(req["headers"]):
                low = hname.lower()
                if low == "authorization":
                    sig = hvalue.index("Signature=") + len("Signature=")
                    for i in range(sig, len(hvalue)):
                        hdrs = list(req["headers"])
                        hdrs[h] = (hname, flip(hvalue, i))
                        expect(dict(req, headers=hdrs), mismatch, f"{name} signature {i}")
                    cred = hvalue.index("Credential=") + len("Credential=")
                    hdrs = list(req["headers"])
                    hdrs[h] = (hname, flip(hvalue, cred + 3))
                    expect(dict(req, headers=hdrs), (403, "InvalidAccessKeyId"),
                           f"{name} key id")
                    continue
                positions = range(len(hvalue))
                if low == "x-amz-date":
                    positions = [14]  # seconds: no skew, just another time
                if low == "x-amz-content-sha256" and name == "PUT":
                    continue  # the body's own check, below
                if low == "content-length":
                    continue  # framing, not the signature's business
                for i in positions:
                    hdrs = list(req["headers"])
                    hdrs[h] = (hname, flip(hvalue, i))
                    expect(dict(req, headers=hdrs), mismatch, f"{name} header {hname} {i}")
        for i in range(len(lst["query"])):
            if lst["query"][i] in "=&":
                continue
            expect(dict(lst, query=flip(lst["query"], i)), mismatch, f"query {i}")
        # The body of a PUT: it must hash to the signed x-amz-content-sha256
        # (S3 answers a body that does not with XAmzContentSHA256Mismatch).
        for i in range(len(body)):
            tampered = bytearray(body)
            tampered[i] ^= 0x01
            expect(dict(put, body=bytes(tampered)), (400, "XAmzContentSHA256Mismatch"),
                   f"body byte {i}")
        # An aws-chunked body: each chunk is signed.
        chunked = self.signed(key, secret, "PUT", "/data/c.bin", body=os.urandom(2500),
                              mode="streaming")
        for i in (0, 5, 999, 1500, 2499):
            # chunk k's data starts after k whole chunks (86-byte header line
            # "size;chunk-signature=<64>\r\n", 1000 bytes, CRLF) and its own header
            b = bytearray(chunked["body"])
            b[(i // 1000) * 1088 + 86 + i % 1000] ^= 0x01
            expect(dict(chunked, body=bytes(b)), mismatch, f"chunked body byte {i}")
        self.assertEqual(self.send(chunked)[:2], (200, None))
        self.assertGreater(tried, 300)
        # Nothing tampered reached the store.
        self.assertEqual(s3.get_object(Bucket="data", Key="put.txt")["Body"].read(), body)

    def test_roles_buckets_skew_and_expiry(self):
        admin = self.create_key()
        ro = self.create_key("--role", "readonly")
        only_other = self.create_key("--buckets", "other")
        self.start_worker()
        self.client(*admin).put_object(Bucket="data", Key="f.txt", Body=b"data")
        self.client(*admin).put_object(Bucket="other", Key="g.txt", Body=b"other")
        r = self.client(*ro)
        self.assertEqual(r.get_object(Bucket="data", Key="f.txt")["Body"].read(), b"data")
        self.assertEqual(self.code_of(lambda: r.put_object(Bucket="data", Key="n", Body=b"x")),
                         "AccessDenied")
        self.assertEqual(self.code_of(lambda: r.delete_object(Bucket="data", Key="f.txt")),
                         "AccessDenied")
        o = self.client(*only_other)
        self.assertEqual(o.get_object(Bucket="other", Key="g.txt")["Body"].read(), b"other")
        o.put_object(Bucket="other", Key="h.txt", Body=b"h")
        self.assertEqual(self.code_of(lambda: o.get_object(Bucket="data", Key="f.txt")),
                         "AccessDenied")
        self.assertEqual(self.code_of(lambda: o.list_objects_v2(Bucket="data")),
                         "AccessDenied")
        self.assertEqual(self.code_of(lambda: o.copy_object(
            Bucket="other", Key="stolen", CopySource={"Bucket": "data", "Key": "f.txt"})),
            "AccessDenied")
        self.assertEqual([b["Name"] for b in o.list_buckets()["Buckets"]], ["other"])

        # Clock skew: botocore signing 20 minutes ago; 10 minutes is fine.
        old = self.signed(*admin, "GET", "/data/f.txt", when=time.time() - 1200)
        self.assertEqual(self.send(old)[:2], (403, "RequestTimeTooSkewed"))
        ahead = self.signed(*admin, "GET", "/data/f.txt", when=time.time() + 1200)
        self.assertEqual(self.send(ahead)[:2], (403, "RequestTimeTooSkewed"))
        recent = self.signed(*admin, "GET", "/data/f.txt", when=time.time() - 600)
        self.assertEqual(self.send(recent)[:2], (200, None))
        # A presigned URL that expired.
        gone = self.signed(*admin, "GET", "/data/f.txt", mode="presign",
                           when=time.time() - 120, expires=60)
        self.assertEqual(self.send(gone)[:2], (403, "AccessDenied"))
        fresh = self.signed(*admin, "GET", "/data/f.txt", mode="presign", expires=60)
        self.assertEqual(self.send(fresh)[:2], (200, None))

    def test_anonymous_read_buckets(self):
        admin = self.create_key()
        self.start_worker(**{"worker.s3.anonymous_read_buckets": "pub"})
        a = self.client(*admin)
        a.put_object(Bucket="pub", Key="open.txt", Body=b"for all")
        a.put_object(Bucket="data", Key="closed.txt", Body=b"not for all")

        def anon(method, path, body=None):
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            c.request(method, path, body=body)
            r = c.getresponse()
            data = r.read()
            c.close()
            code = ET.fromstring(data).findtext("Code") if r.status >= 300 and data else None
            return r.status, code, data

        for _ in range(3):  # a miss, then hits on the fast path
            self.assertEqual(anon("GET", "/pub/open.txt")[::2], (200, b"for all"))
        self.assertEqual(anon("HEAD", "/pub/open.txt")[0], 200)
        self.assertEqual(anon("GET", "/pub?list-type=2")[0], 200)
        self.assertEqual(anon("GET", "/data/closed.txt")[:2], (403, "AccessDenied"))
        self.assertEqual(anon("GET", "/data?list-type=2")[:2], (403, "AccessDenied"))
        self.assertEqual(anon("PUT", "/pub/new.txt", b"x")[:2], (403, "AccessDenied"))
        self.assertEqual(anon("DELETE", "/pub/open.txt")[:2], (403, "AccessDenied"))
        self.assertEqual(anon("GET", "/")[:2], (403, "AccessDenied"))

    def test_keys_added_and_revoked_while_running(self):
        self.start_worker()

        def anon_get():
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            c.close()
            return r.status

        self.assertEqual(anon_get(), 200, "no keys: open, as before")
        first = self.create_key()
        wait_for(lambda: anon_get() == 403, timeout=5, what="the new key file to be read")
        self.client(*first).put_object(Bucket="data", Key="k.txt", Body=b"k")
        second = self.create_key("--role", "readonly")
        wait_for(lambda: self.code_of(lambda: self.client(*second).head_object(
            Bucket="data", Key="k.txt")) is None, timeout=5, what="the second key")
        listed = json.loads(self.s3key("list", "--json").stdout)["keys"]
        self.assertEqual(sorted(k["id"] for k in listed), sorted([first[0], second[0]]))
        self.assertNotIn(first[1], self.s3key("list").stdout)
        self.assertTrue(all("secret" not in k for k in listed))
        self.s3key("revoke", first[0])
        wait_for(lambda: self.code_of(lambda: self.client(*first).get_object(
            Bucket="data", Key="k.txt")) == "InvalidAccessKeyId", timeout=5,
            what="the revoked key to be refused")
        self.assertIsNone(self.code_of(lambda: self.client(*second).head_object(
            Bucket="data", Key="k.txt")))
        r = self.s3key("revoke", first[0], check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn(first[0], r.stderr)
        # A broken edit keeps the keys in force (and is logged).
        with open(self.keyfile, "a") as f:
            f.write("not a key line\n")
        time.sleep(1.5)
        self.assertIsNone(self.code_of(lambda: self.client(*second).head_object(
            Bucket="data", Key="k.txt")))
        self.assertEqual(anon_get(), 403)
        wait_for(lambda: anon_get() and "keeping the 1 keys loaded" in self.w.read_log(),
                 timeout=5,
                 what="the refused edit to be logged")
        self.assertNotIn(second[1], self.w.read_log())
        # So does a chmod that lets the group read it.
        self.s3key("revoke", second[0], check=False)  # refused: the file is malformed
        with open(self.keyfile) as f:
            lines = [line for line in f if line != "not a key line\n"]
        with open(self.keyfile, "w") as f:
            f.writelines(lines)
        os.chmod(self.keyfile, 0o640)
        # (the worker looks at the file when requests come)
        wait_for(lambda: anon_get() and "mode 0640" in self.w.read_log(), timeout=5,
                 what="the group-readable file to be refused")
        self.assertIsNone(self.code_of(lambda: self.client(*second).head_object(
            Bucket="data", Key="k.txt")))
        # Removing the file removes the keys: the port is open again (warned).
        os.remove(self.keyfile)
        wait_for(lambda: anon_get() == 200, timeout=5, what="no keys, open again")
        self.assertIn("is gone: no access keys", self.w.read_log())

    def test_key_file_others_may_read_is_refused(self):
        self.create_key()
        os.chmod(self.keyfile, 0o640)
        w = self.cluster.worker(self.m, settings={"worker.s3.key_file": self.keyfile},
                                wait=False)
        self.assertEqual(w.proc.wait(timeout=30), 1)
        log = w.read_log()
        self.assertIn(self.keyfile, log)
        self.assertIn("mode 0640", log)
        # The CLI refuses it too.
        r = self.s3key("list", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("0640", r.stderr)
        # And the CLI creates files 0600 in a 0700 directory.
        other = os.path.join(self.tmp, "fresh", "dir", "keys")
        r = self.cluster.cli("admin", "s3key", "create", "--file", other)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(other).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(other)).st_mode), 0o700)
        # Bad arguments are usage errors naming the argument.
        r = self.cluster.cli("admin", "s3key", "create", "--buckets", "a b", "--file", other)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--buckets", r.stderr)
        r = self.cluster.cli("admin", "s3key", "create", "--role", "root", "--file", other)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--role", r.stderr)

    def test_open_port_warns_and_default_key_file(self):
        """No keys on a non-loopback address: a warning at start. The CLI's
        default file is the worker's (worker.s3.key_file, else the data dir)."""
        self.start_worker(**{"worker.bind": "0.0.0.0", "worker.s3.key_file": "",
                              "http.insecure_no_auth": "true"})
        self.assertIn("accepts every request: no access keys", self.w.read_log())
        data_dir = self.w.settings["worker.data_dir"]
        r = self.cluster.cli("admin", "s3key", "create", env={
            "STRATA_WORKER_DATA_DIR": data_dir,
            "STRATA_WORKER_PORT": self.w.settings["worker.port"]})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(os.path.join(data_dir, "s3-keys"), r.stdout)

        def refused():
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            c.request("GET", "/")
            r = c.getresponse()
            r.read()
            c.close()
            return r.status == 403
        wait_for(refused, timeout=5, what="the worker to read its default key file")
        self.assertIn("re-read: 1 key", self.w.read_log())

    def test_signed_hits_stay_on_the_fast_path(self):
        key, secret = self.create_key()
        self.start_worker()
        s3 = self.client(key, secret)
        s3.put_object(Bucket="data", Key="hot.bin", Body=os.urandom(16384))

        def one_hit():
            before = self.counters()
            s3.get_object(Bucket="data", Key="hot.bin")["Body"].read()
            after = self.counters()
            return (after["s3_fastpath_signed_hits_total"]
                    == before["s3_fastpath_signed_hits_total"] + 1
                    and after["s3_proxied_total"] == before["s3_proxied_total"])
        wait_for(one_hit, timeout=10, what="a signed fast-path hit")
        before = self.counters()
        for _ in range(20):
            s3.get_object(Bucket="data", Key="hot.bin")["Body"].read()
            s3.head_object(Bucket="data", Key="hot.bin")
        after = self.counters()
        self.assertEqual(after["s3_fastpath_signed_hits_total"]
                         - before["s3_fastpath_signed_hits_total"], 40)
        self.assertEqual(after["s3_proxied_total"], before["s3_proxied_total"])
        self.assertEqual(after["s3_fastpath_unsigned_hits_total"],
                         before["s3_fastpath_unsigned_hits_total"])
        # A presigned URL is verified in the loop too.
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "data",
                                                              "Key": "hot.bin"}, ExpiresIn=60)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        c.request("GET", url[len(self.endpoint):])
        r = c.getresponse()
        self.assertEqual((r.status, len(r.read())), (200, 16384))
        c.close()
        presigned = self.counters()
        self.assertEqual(presigned["s3_fastpath_signed_hits_total"],
                         after["s3_fastpath_signed_hits_total"] + 1)
        self.assertEqual(presigned["s3_proxied_total"], after["s3_proxied_total"])
        after = presigned
        # A tampered signature on a hit is refused (by the gateway, which
        # words the error) and counted as a signed slow-path request.
        req = self.signed(key, secret, "GET", "/data/hot.bin")
        req["headers"] = [(n, v[:-1] + ("0" if v[-1] != "0" else "1"))
                          if n.lower() == "authorization" else (n, v)
                          for n, v in req["headers"]]
        self.assertEqual(self.send(req)[:2], (403, "SignatureDoesNotMatch"))
        last = self.counters()
        self.assertEqual(last["s3_fastpath_signed_hits_total"],
                         after["s3_fastpath_signed_hits_total"])
        self.assertEqual(last["s3_proxied_signed_total"], after["s3_proxied_signed_total"] + 1)
        prom = self.prometheus()
        self.assertIn("strata_worker_s3_fastpath_signed_hits_total", prom)
        self.assertNotIn(secret, prom)

    def prometheus(self):
        c = http.client.HTTPConnection("127.0.0.1", int(self.w.settings["worker.port"]),
                                       timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        return text


if __name__ == "__main__":
    main()
