"""Multipart uploads in progress, seen and cleaned up (issue 15 item 5): a
real worker's S3 gateway lists uploads in progress (ListMultipartUploads,
with a prefix) and their parts (ListParts) to boto3 and awscli; an upload
idle for worker.s3.multipart_expiry is aborted with its parts deleted, and
counted; one still receiving parts is kept; the staging files are 0600."""
import os
import stat
import subprocess
import time

import boto3
import botocore

from harness import ClusterTestCase, get_json, main, wait_for

AWS = "/usr/bin/aws"
MiB = 1 << 20


class MultipartTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.tmp, "ufs")
        os.makedirs(os.path.join(self.root, "bkt"))
        self.m = self.cluster.master(settings={"master.root_ufs": "file://" + self.root})
        self.w = self.cluster.worker(self.m, settings={"worker.s3.multipart_expiry": "3s"})
        wait_for(lambda: len(get_json(self.m.url + "/api/v1/workers")[1]["workers"]) == 1,
                 what="the worker")
        self.endpoint = f"http://127.0.0.1:{self.w.settings['worker.s3_port']}"
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="k",
                               aws_secret_access_key="s", region_name="us-east-1",
                               config=botocore.config.Config(s3={"addressing_style": "path"},
                                                             retries={"max_attempts": 1}))

    def expired(self):
        return get_json(self.w.url + "/api/v1/metrics")[1]["counters"][
            "s3_multipart_expired_total"]

    def test_list_uploads_and_parts_then_expiry(self):
        a = self.s3.create_multipart_upload(Bucket="bkt", Key="logs/a.bin")["UploadId"]
        b = self.s3.create_multipart_upload(Bucket="bkt", Key="other/b.bin")["UploadId"]
        part = os.urandom(5 * MiB)
        e1 = self.s3.upload_part(Bucket="bkt", Key="logs/a.bin", UploadId=a, PartNumber=1,
                                 Body=part)["ETag"]
        e2 = self.s3.upload_part(Bucket="bkt", Key="logs/a.bin", UploadId=a, PartNumber=2,
                                 Body=b"tail")["ETag"]
        ups = self.s3.list_multipart_uploads(Bucket="bkt")["Uploads"]
        self.assertEqual([(u["Key"], u["UploadId"]) for u in ups],
                         [("logs/a.bin", a), ("other/b.bin", b)])
        ups = self.s3.list_multipart_uploads(Bucket="bkt", Prefix="logs/").get("Uploads", [])
        self.assertEqual([u["UploadId"] for u in ups], [a])
        parts = self.s3.list_parts(Bucket="bkt", Key="logs/a.bin", UploadId=a)["Parts"]
        self.assertEqual([(p["PartNumber"], p["ETag"], p["Size"]) for p in parts],
                         [(1, e1, 5 * MiB), (2, e2, 4)])
        # awscli sees the same
        env = dict(os.environ, AWS_ACCESS_KEY_ID="k", AWS_SECRET_ACCESS_KEY="s",
                   AWS_DEFAULT_REGION="us-east-1", HOME=self.tmp)
        r = subprocess.run([AWS, "--endpoint-url", self.endpoint, "s3api",
                            "list-multipart-uploads", "--bucket", "bkt"],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(a, r.stdout)
        # unknown bucket, unknown upload
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.s3.list_multipart_uploads(Bucket="nobucket")
        self.assertEqual(cm.exception.response["Error"]["Code"], "NoSuchBucket")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.s3.list_parts(Bucket="bkt", Key="logs/a.bin", UploadId="0" * 32)
        self.assertEqual(cm.exception.response["Error"]["Code"], "NoSuchUpload")
        # staging files hold data: 0600
        staged = os.path.join(self.w.settings["worker.data_dir"], "mpu", a)
        for name in os.listdir(staged):
            mode = stat.S_IMODE(os.stat(os.path.join(staged, name)).st_mode)
            self.assertEqual(mode, 0o600, name)

        # b idles past the expiry; a keeps receiving parts
        before = self.expired()
        for _ in range(8):
            self.s3.upload_part(Bucket="bkt", Key="logs/a.bin", UploadId=a, PartNumber=3,
                                Body=b"more")
            if not any(u["UploadId"] == b for u in
                       self.s3.list_multipart_uploads(Bucket="bkt").get("Uploads", [])):
                break
            time.sleep(1)  # the expiry is time itself: nothing else to wait on
        ups = self.s3.list_multipart_uploads(Bucket="bkt").get("Uploads", [])
        self.assertEqual([u["UploadId"] for u in ups], [a], "b expired, a kept")
        self.assertEqual(self.expired(), before + 1)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.s3.complete_multipart_upload(
                Bucket="bkt", Key="other/b.bin", UploadId=b,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
        self.assertEqual(cm.exception.response["Error"]["Code"], "NoSuchUpload")
        self.assertFalse(os.path.exists(os.path.join(self.w.settings["worker.data_dir"], "mpu", b)))
        self.assertIn(f"multipart upload {b} expired", self.w.read_log())
        # a still completes
        self.s3.complete_multipart_upload(
            Bucket="bkt", Key="logs/a.bin", UploadId=a,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                       {"PartNumber": 2, "ETag": e2}]})
        got = self.s3.get_object(Bucket="bkt", Key="logs/a.bin")["Body"].read()
        self.assertEqual(got, part + b"tail")


if __name__ == "__main__":
    main()
