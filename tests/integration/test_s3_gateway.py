"""The S3 gateway on a real cluster (master + two workers over a local
store), driven by real clients unchanged: awscli, s3cmd and boto3. Buckets
are top-level directories; objects written through S3 land in the store and
in the cache; listings come from the master's index."""
import hashlib
import json
import os
import subprocess
import time

import boto3
import botocore.config
from botocore.exceptions import ClientError

from harness import ClusterTestCase, get_json, main, wait_for

MiB = 1 << 20
AWS = "/usr/bin/aws"


class S3GatewayTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(self.root, "data", "logs"))
        with open(os.path.join(self.root, "data", "logs", "app.log"), "w") as f:
            f.write("line\n" * 100)
        with open(os.path.join(self.root, "data", "top.txt"), "w") as f:
            f.write("top")
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root})
        self.ws = [self.cluster.worker(self.m, name=f"w{i}") for i in range(2)]
        wait_for(lambda: len(get_json(self.m.url + "/api/v1/workers")[1]["workers"]) == 2,
                 what="workers")
        time.sleep(0.5)
        self.endpoint = f"http://127.0.0.1:{self.ws[0].settings['worker.s3_port']}"
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID="anykey", AWS_SECRET_ACCESS_KEY="anysecret",
                        AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                        HOME=self.tmp)
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="anykey",
                               aws_secret_access_key="anysecret", region_name="us-east-1",
                               config=botocore.config.Config(s3={"addressing_style": "path"},
                                                             retries={"max_attempts": 1}))

    def aws(self, *args, check=True):
        r = subprocess.run([AWS, "--endpoint-url", self.endpoint, *args],
                           capture_output=True, text=True, env=self.env, timeout=120)
        if check:
            self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def test_awscli(self):
        r = self.aws("s3", "ls")
        self.assertIn("data", r.stdout)
        r = self.aws("s3", "ls", "s3://data/")
        self.assertIn("PRE logs/", r.stdout)
        self.assertIn("top.txt", r.stdout)
        r = self.aws("s3", "ls", "--recursive", "s3://data/")
        self.assertIn("logs/app.log", r.stdout)

        big = os.path.join(self.tmp, "big.bin")
        payload = os.urandom(20 * MiB + 5)
        with open(big, "wb") as f:
            f.write(payload)
        self.aws("s3", "cp", big, "s3://data/up/big.bin")  # multipart (> 8 MiB)
        with open(os.path.join(self.root, "data", "up", "big.bin"), "rb") as f:
            self.assertEqual(f.read(), payload, "the object reached the store")
        back = os.path.join(self.tmp, "back.bin")
        self.aws("s3", "cp", "s3://data/up/big.bin", back)
        with open(back, "rb") as f:
            self.assertEqual(f.read(), payload)
        r = self.aws("s3api", "get-object", "--bucket", "data", "--key", "up/big.bin",
                     "--range", "bytes=100-199", os.path.join(self.tmp, "range.bin"))
        with open(os.path.join(self.tmp, "range.bin"), "rb") as f:
            self.assertEqual(f.read(), payload[100:200])

        src = os.path.join(self.tmp, "tree")
        os.makedirs(os.path.join(src, "a", "b"))
        for name in ["a/1.txt", "a/b/2.txt", "3 with space.txt"]:
            with open(os.path.join(src, name), "w") as f:
                f.write(name)
        self.aws("s3", "mb", "s3://synced")
        self.aws("s3", "sync", src, "s3://synced/tree/")
        r = self.aws("s3", "ls", "--recursive", "s3://synced/")
        for name in ["tree/a/1.txt", "tree/a/b/2.txt", "tree/3 with space.txt"]:
            self.assertIn(name, r.stdout)
        self.aws("s3", "rm", "--recursive", "s3://synced/tree/")
        r = self.aws("s3", "ls", "--recursive", "s3://synced/")
        self.assertEqual(r.stdout.strip(), "")
        self.aws("s3", "rb", "s3://synced")
        r = self.aws("s3", "ls", "s3://nosuchbucket/", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("NoSuchBucket", r.stderr)

    def test_boto3(self):
        s3 = self.s3
        s3.create_bucket(Bucket="b3")
        body = b"hello boto3" * 1000
        put = s3.put_object(Bucket="b3", Key="k/ü nï+%.txt", Body=body)
        self.assertEqual(put["ETag"].strip('"'), hashlib.md5(body).hexdigest())
        got = s3.get_object(Bucket="b3", Key="k/ü nï+%.txt")
        self.assertEqual(got["Body"].read(), body)
        self.assertEqual(got["ETag"].strip('"'), hashlib.md5(body).hexdigest())
        head = s3.head_object(Bucket="b3", Key="k/ü nï+%.txt")
        self.assertEqual(head["ContentLength"], len(body))
        got = s3.get_object(Bucket="b3", Key="k/ü nï+%.txt", Range="bytes=-5")
        self.assertEqual(got["Body"].read(), body[-5:])

        for i in range(25):
            s3.put_object(Bucket="b3", Key=f"many/{i:02d}", Body=b"x")
        keys, token = [], None
        while True:
            kw = {"Bucket": "b3", "Prefix": "many/", "MaxKeys": 10}
            if token:
                kw["ContinuationToken"] = token
            page = s3.list_objects_v2(**kw)
            keys += [o["Key"] for o in page.get("Contents", [])]
            if not page["IsTruncated"]:
                break
            token = page["NextContinuationToken"]
        self.assertEqual(keys, [f"many/{i:02d}" for i in range(25)])
        page = s3.list_objects_v2(Bucket="b3", Delimiter="/")
        self.assertEqual([p["Prefix"] for p in page["CommonPrefixes"]], ["k/", "many/"])

        s3.copy_object(Bucket="b3", Key="copy.txt",
                       CopySource={"Bucket": "b3", "Key": "k/ü nï+%.txt"})
        self.assertEqual(s3.get_object(Bucket="b3", Key="copy.txt")["Body"].read(), body)
        res = s3.delete_objects(Bucket="b3", Delete={"Objects": [
            {"Key": f"many/{i:02d}"} for i in range(25)]})
        self.assertEqual(len(res["Deleted"]), 25)

        mpu = s3.create_multipart_upload(Bucket="b3", Key="mp.bin")
        parts, data = [], b""
        for n in (1, 2):
            chunk = os.urandom(5 * MiB if n == 1 else 1000)
            data += chunk
            r = s3.upload_part(Bucket="b3", Key="mp.bin", UploadId=mpu["UploadId"],
                               PartNumber=n, Body=chunk)
            parts.append({"PartNumber": n, "ETag": r["ETag"]})
        s3.complete_multipart_upload(Bucket="b3", Key="mp.bin", UploadId=mpu["UploadId"],
                                     MultipartUpload={"Parts": parts})
        self.assertEqual(s3.get_object(Bucket="b3", Key="mp.bin")["Body"].read(), data)
        aborted = s3.create_multipart_upload(Bucket="b3", Key="gone.bin")
        s3.abort_multipart_upload(Bucket="b3", Key="gone.bin", UploadId=aborted["UploadId"])

        for call, code in [
            (lambda: s3.get_object(Bucket="b3", Key="nope"), "NoSuchKey"),
            (lambda: s3.get_object(Bucket="nob", Key="x"), "NoSuchBucket"),
            (lambda: s3.get_object(Bucket="b3", Key="copy.txt", Range="bytes=999999-"),
             "InvalidRange"),
            (lambda: s3.delete_bucket(Bucket="b3"), "BucketNotEmpty"),
            (lambda: s3.create_bucket(Bucket="b3"), "BucketAlreadyOwnedByYou"),
            (lambda: s3.upload_part(Bucket="b3", Key="x", UploadId="0" * 32, PartNumber=1,
                                    Body=b"x"), "NoSuchUpload"),
        ]:
            with self.assertRaises(ClientError) as cm:
                call()
            self.assertEqual(cm.exception.response["Error"]["Code"], code)

    def test_writes_are_cached_and_listed_from_the_master(self):
        body = os.urandom(9 * MiB)
        self.s3.put_object(Bucket="data", Key="hot/f.bin", Body=body)

        def cached():
            st = get_json(self.m.url + "/api/v1/files/stat?path=/data/hot/f.bin")[1]
            return st["cached_percent"] == 100
        wait_for(cached, what="S3 write cached")
        # Read through the other worker's gateway: all hits, no store reads.
        other = f"http://127.0.0.1:{self.ws[1].settings['worker.s3_port']}"
        s3b = boto3.client("s3", endpoint_url=other, aws_access_key_id="k",
                           aws_secret_access_key="s", region_name="us-east-1")
        self.assertEqual(s3b.get_object(Bucket="data", Key="hot/f.bin")["Body"].read(), body)
        ufs = sum(get_json(w.url + "/api/v1/metrics")[1]["counters"]["bytes_from_ufs_total"]
                  for w in self.ws)
        self.assertEqual(ufs, 0)
        # A file added to the store behind strata's back is listed after a sync.
        status, body = get_json(self.m.url + "/api/v1/files?path=/data")
        self.assertEqual(status, 200)

    def test_s3cmd(self):
        cfg = os.path.join(self.tmp, "s3cfg")
        host = self.endpoint.split("//")[1]
        with open(cfg, "w") as f:
            f.write(f"[default]\naccess_key = k\nsecret_key = s\nhost_base = {host}\n"
                    f"host_bucket = {host}\nuse_https = False\nsignature_v2 = False\n"
                    "bucket_location = us-east-1\n")

        def s3cmd(*args):
            r = subprocess.run(["s3cmd", "-c", cfg, *args], capture_output=True, text=True,
                               timeout=120, env=self.env)
            self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
            return r.stdout
        self.assertIn("s3://data", s3cmd("ls"))
        local = os.path.join(self.tmp, "s3cmd.bin")
        payload = os.urandom(3 * MiB)
        with open(local, "wb") as f:
            f.write(payload)
        s3cmd("put", local, "s3://data/s3cmd/obj.bin")
        self.assertIn("s3cmd/obj.bin", s3cmd("ls", "--recursive", "s3://data/"))
        out = os.path.join(self.tmp, "s3cmd.back")
        s3cmd("get", "s3://data/s3cmd/obj.bin", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), payload)
        info = s3cmd("info", "s3://data/s3cmd/obj.bin")
        st = get_json(self.m.url + "/api/v1/files/stat?path=/data/s3cmd/obj.bin")[1]
        self.assertIn(hashlib.md5(payload).hexdigest(), info, st)
        s3cmd("del", "s3://data/s3cmd/obj.bin")
        self.assertNotIn("obj.bin", s3cmd("ls", "--recursive", "s3://data/"))


if __name__ == "__main__":
    main()
