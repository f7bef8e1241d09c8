#!/usr/bin/python3
"""Drives a running S3 gateway with real clients, for tests/unit/test_s3_gateway.c.

  s3_clients.py --endpoint http://127.0.0.1:PORT --workdir DIR --mode full|auth|wrong
                [--access-key AK --secret-key SK]

full:  awscli (s3 mb/cp/ls/sync/rm/rb, s3api incl. multipart via a 9 MiB file
       with the default 8 MiB threshold, get-object --range, list paging),
       s3cmd (generated config: path style, SigV4, plain HTTP), boto3 (API
       calls, errors, presigned URLs) and raw HTTP checks of the error
       documents and headers.
auth:  the gateway has credentials: the same clients with the right keys
       work, a hand-made streaming aws-chunked PUT works, and unsigned,
       wrongly signed or tampered requests are refused.
Exits 0 when everything held; otherwise prints what failed and exits 1.
Run with Debian's /usr/bin/python3 (python3-boto3); uses /usr/bin/aws and
/usr/bin/s3cmd.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import boto3
import botocore.config
from botocore.exceptions import ClientError

AWS = "/usr/bin/aws"
S3CMD = "/usr/bin/s3cmd"
HERE = os.path.dirname(os.path.abspath(__file__))


class Check:
    def __init__(self):
        self.failures = 0
        self.t0 = time.time()

    def ok(self, cond, what):
        if not cond:
            self.failures += 1
            print("FAIL: %s" % what, flush=True)
        return cond


CHECK = Check()


def run(argv, env, expect_ok=True, stdin=None):
    t = time.time()
    p = subprocess.run(argv, env=env, capture_output=True, timeout=120, input=stdin)
    out, err = p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")
    print("  %.1fs rc=%d %s" % (time.time() - t, p.returncode, " ".join(argv[:6])), flush=True)
    if expect_ok and p.returncode != 0:
        CHECK.ok(False, "%s\n--- stdout\n%s\n--- stderr\n%s" % (" ".join(argv), out, err))
    return p.returncode, out, err, p.stdout


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tree(root):
    files = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            files[os.path.relpath(p, root)] = read(p)
    return files


def aws_env(args, ak, sk):
    env = dict(os.environ)
    env.update({"AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk,
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "HOME": args.workdir,
                "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": ""})
    return env


def aws(args, env, *argv, **kw):
    return run([AWS, "--endpoint-url", args.endpoint] + list(argv), env, **kw)


def s3cmd_config(args, ak, sk):
    host = urlsplit(args.endpoint).netloc
    path = os.path.join(args.workdir, "s3cmd-%s.cfg" % ak)
    with open(path, "w") as f:
        f.write("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\n"
                "host_bucket = %s\nuse_https = False\nsignature_v2 = False\n"
                "bucket_location = us-east-1\ncheck_ssl_certificate = False\n"
                "multipart_chunk_size_mb = 5\n" % (ak, sk, host, host))
    return path


def s3cmd(args, cfg, *argv, **kw):
    env = dict(os.environ)
    env["HOME"] = args.workdir
    return run([S3CMD, "-c", cfg, "--no-progress"] + list(argv), env, **kw)


def client(args, ak, sk, **cfg):
    return boto3.session.Session().client(
        "s3", endpoint_url=args.endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
        region_name="us-east-1",
        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      signature_version="s3v4", **cfg))


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, 200


def raw(args, method, path, body=None, headers=None):
    u = urlsplit(args.endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


# ---- awscli ----

def awscli_suite(args, ak, sk, bucket, big):
    print("awscli", flush=True)
    env = aws_env(args, ak, sk)
    w = args.workdir
    aws(args, env, "s3", "mb", "s3://%s" % bucket)
    small = os.path.join(w, "small.txt")
    write(small, b"hello strata\n" * 100)
    aws(args, env, "s3", "cp", small, "s3://%s/dir/small.txt" % bucket)
    rc, out, _, raw_out = aws(args, env, "s3", "cp", "s3://%s/dir/small.txt" % bucket, "-")
    CHECK.ok(raw_out == read(small), "aws s3 cp back: content differs")

    # > 8 MiB: multipart with the default threshold, then back.
    aws(args, env, "s3", "cp", big, "s3://%s/big/blob.bin" % bucket)
    back = os.path.join(w, "big.back")
    aws(args, env, "s3", "cp", "s3://%s/big/blob.bin" % bucket, back)
    CHECK.ok(os.path.exists(back) and read(back) == read(big), "multipart round trip differs")
    rc, out, _, _ = aws(args, env, "s3api", "head-object", "--bucket", bucket, "--key",
                        "big/blob.bin")
    if rc == 0:
        head = json.loads(out)
        CHECK.ok(head["ContentLength"] == os.path.getsize(big), "head-object length")
        CHECK.ok(head["ETag"].endswith('-2"'), "multipart ETag %s lacks -2" % head["ETag"])

    rng = os.path.join(w, "range.out")
    rc, out, _, _ = aws(args, env, "s3api", "get-object", "--bucket", bucket, "--key",
                        "big/blob.bin", "--range", "bytes=1000-1999", rng)
    if rc == 0:
        CHECK.ok(read(rng) == read(big)[1000:2000], "get-object --range bytes differ")
        CHECK.ok(json.loads(out)["ContentRange"] == "bytes 1000-1999/%d" % os.path.getsize(big),
                 "ContentRange")

    # sync a tree with awkward names, back into another tree
    src = os.path.join(w, "tree")
    names = ["a b.txt", "plus+sign.txt", "\u00fc\u65e5.txt", "nested/deep/file.txt",
             "nested/x&y=z.txt", "pct%41.txt", "tilde~.txt"]
    for i, n in enumerate(names):
        write(os.path.join(src, n), ("file %d %s\n" % (i, n)).encode() * (i + 1))
    aws(args, env, "s3", "sync", src, "s3://%s/sync/" % bucket)
    rc, out, _, _ = aws(args, env, "s3", "sync", src, "s3://%s/sync/" % bucket)
    CHECK.ok(out.strip() == "", "second sync uploaded again:\n%s" % out)
    dst = os.path.join(w, "tree2")
    aws(args, env, "s3", "sync", "s3://%s/sync/" % bucket, dst)
    CHECK.ok(tree(src) == tree(dst), "sync round trip differs: %s vs %s" %
             (sorted(tree(src)), sorted(tree(dst))))

    rc, out, _, _ = aws(args, env, "s3", "ls", "s3://%s/" % bucket)
    CHECK.ok("PRE dir/" in out and "PRE sync/" in out and "PRE big/" in out,
             "aws s3 ls missing prefixes:\n%s" % out)
    rc, out, _, _ = aws(args, env, "s3", "ls", "s3://%s/sync/" % bucket, "--recursive")
    for n in names:
        CHECK.ok(("sync/" + n) in out, "aws s3 ls --recursive lacks %s:\n%s" % (n, out))
    rc, out, _, _ = aws(args, env, "s3", "ls")
    CHECK.ok(bucket in out, "aws s3 ls (buckets) lacks %s" % bucket)

    # paging: v2 and v1 with page size 2 must still see every key
    for api in ("list-objects-v2", "list-objects"):
        rc, out, _, _ = aws(args, env, "s3api", api, "--bucket", bucket, "--prefix", "sync/",
                            "--page-size", "2")
        if rc == 0:
            keys = [c["Key"] for c in json.loads(out).get("Contents", [])]
            CHECK.ok(sorted(keys) == sorted("sync/" + n for n in names),
                     "%s paging gave %s" % (api, keys))
    rc, out, _, _ = aws(args, env, "s3api", "list-objects-v2", "--bucket", bucket,
                        "--delimiter", "/", "--prefix", "sync/")
    if rc == 0:
        d = json.loads(out)
        CHECK.ok([p["Prefix"] for p in d.get("CommonPrefixes", [])] == ["sync/nested/"],
                 "delimiter listing prefixes %s" % d.get("CommonPrefixes"))

    # copy, explicit multipart abort, errors
    aws(args, env, "s3api", "copy-object", "--bucket", bucket, "--key", "copy/of small.txt",
        "--copy-source", "%s/dir/small.txt" % bucket)
    rc, out, _, raw_out = aws(args, env, "s3", "cp", "s3://%s/copy/of small.txt" % bucket, "-")
    CHECK.ok(raw_out == read(small), "copy-object content differs")
    rc, _, err, _ = aws(args, env, "s3", "rb", "s3://%s" % bucket, expect_ok=False)
    CHECK.ok(rc != 0 and "BucketNotEmpty" in err, "rb of a full bucket: %s" % err)
    aws(args, env, "s3", "rm", "s3://%s/sync/" % bucket, "--recursive")
    rc, out, _, _ = aws(args, env, "s3", "ls", "s3://%s/sync/" % bucket, "--recursive",
                        expect_ok=False)
    CHECK.ok(out.strip() == "", "rm --recursive left:\n%s" % out)
    aws(args, env, "s3", "rb", "s3://%s" % bucket, "--force")


# ---- s3cmd ----

def s3cmd_suite(args, ak, sk, bucket, big):
    print("s3cmd", flush=True)
    cfg = s3cmd_config(args, ak, sk)
    w = args.workdir
    s3cmd(args, cfg, "mb", "s3://%s" % bucket)
    f = os.path.join(w, "s3cmd file.txt")
    write(f, b"s3cmd data\n" * 50)
    s3cmd(args, cfg, "put", f, "s3://%s/x/s3cmd file.txt" % bucket)
    s3cmd(args, cfg, "put", big, "s3://%s/x/big.bin" % bucket)  # multipart, 5 MiB parts
    rc, out, _, _ = s3cmd(args, cfg, "ls", "s3://%s" % bucket)
    CHECK.ok("DIR" in out and "s3://%s/x/" % bucket in out, "s3cmd ls:\n%s" % out)
    rc, out, _, _ = s3cmd(args, cfg, "ls", "s3://%s/x/" % bucket)
    CHECK.ok("s3cmd file.txt" in out and "big.bin" in out, "s3cmd ls x/:\n%s" % out)
    rc, out, _, _ = s3cmd(args, cfg, "ls")
    CHECK.ok("s3://%s" % bucket in out, "s3cmd ls buckets:\n%s" % out)
    got = os.path.join(w, "s3cmd.back")
    s3cmd(args, cfg, "get", "--force", "s3://%s/x/s3cmd file.txt" % bucket, got)
    CHECK.ok(os.path.exists(got) and read(got) == read(f), "s3cmd get differs")
    got_big = os.path.join(w, "s3cmd.big")
    rc, out, err, _ = s3cmd(args, cfg, "get", "--force", "s3://%s/x/big.bin" % bucket, got_big)
    CHECK.ok(os.path.exists(got_big) and read(got_big) == read(big), "s3cmd big get differs")
    src = os.path.join(w, "s3cmd-tree")
    for n in ("one.txt", "sub/two.txt", "sub/three four.txt"):
        write(os.path.join(src, n), n.encode() * 10)
    s3cmd(args, cfg, "sync", src + "/", "s3://%s/synced/" % bucket)
    rc, out, _, _ = s3cmd(args, cfg, "ls", "--recursive", "s3://%s/synced/" % bucket)
    CHECK.ok(out.count("s3://") == 3, "s3cmd sync listing:\n%s" % out)
    s3cmd(args, cfg, "del", "s3://%s/x/s3cmd file.txt" % bucket)
    s3cmd(args, cfg, "del", "--recursive", "--force", "s3://%s/" % bucket)
    s3cmd(args, cfg, "rb", "s3://%s" % bucket)


# ---- boto3 ----

def boto3_suite(args, ak, sk, bucket):
    print("boto3", flush=True)
    s3 = client(args, ak, sk)
    s3.create_bucket(Bucket=bucket)
    CHECK.ok(error_code(lambda: s3.create_bucket(Bucket=bucket))[0] == "BucketAlreadyOwnedByYou",
             "second create_bucket")
    CHECK.ok(error_code(lambda: s3.head_bucket(Bucket="no-such-bucket-x"))[1] == 404,
             "head_bucket of a missing bucket")
    CHECK.ok(error_code(lambda: s3.list_objects_v2(Bucket="no-such-bucket-x"))[0] ==
             "NoSuchBucket", "list of a missing bucket")
    data = bytes(random.Random(7).getrandbits(8) for _ in range(100000))
    r = s3.put_object(Bucket=bucket, Key="k/<&\"'>.bin", Body=data)
    CHECK.ok(r["ETag"] == '"%s"' % hashlib.md5(data).hexdigest(), "PutObject ETag is the MD5")
    g = s3.get_object(Bucket=bucket, Key="k/<&\"'>.bin")
    CHECK.ok(g["Body"].read() == data, "get_object body")
    CHECK.ok(g["AcceptRanges"] == "bytes" and g["ContentLength"] == len(data), "get headers")
    g = s3.get_object(Bucket=bucket, Key="k/<&\"'>.bin", Range="bytes=-10")
    CHECK.ok(g["Body"].read() == data[-10:] and g["ResponseMetadata"]["HTTPStatusCode"] == 206,
             "suffix range")
    g = s3.get_object(Bucket=bucket, Key="k/<&\"'>.bin", Range="bytes=0-1,5-6")
    CHECK.ok(g["ResponseMetadata"]["HTTPStatusCode"] == 200, "multi-range gives the whole object")
    CHECK.ok(error_code(lambda: s3.get_object(Bucket=bucket, Key="k/<&\"'>.bin",
                                              Range="bytes=100000-"))
             == ("InvalidRange", 416), "unsatisfiable range")
    CHECK.ok(error_code(lambda: s3.get_object(Bucket=bucket, Key="nope")) == ("NoSuchKey", 404),
             "missing key")
    CHECK.ok(error_code(lambda: s3.get_object(Bucket="no-such-bucket-x", Key="nope"))
             == ("NoSuchBucket", 404), "missing bucket on GET")
    CHECK.ok(error_code(lambda: s3.put_object(Bucket=bucket, Key="a//b", Body=b"x"))[0]
             == "InvalidArgument", "unmappable key refused")
    # a file and a directory cannot share a path
    s3.put_object(Bucket=bucket, Key="file", Body=b"f")
    CHECK.ok(error_code(lambda: s3.put_object(Bucket=bucket, Key="file/child", Body=b"x"))
             == ("XStrataKeyConflict", 409), "a key below a file")
    s3.put_object(Bucket=bucket, Key="dir1/child", Body=b"c")
    CHECK.ok(error_code(lambda: s3.put_object(Bucket=bucket, Key="dir1", Body=b"x"))
             == ("XStrataKeyConflict", 409), "a key over a directory")
    CHECK.ok(error_code(lambda: s3.get_object(Bucket=bucket, Key="dir1"))[0] == "NoSuchKey",
             "GET of a directory without its slash")
    # directory markers
    s3.put_object(Bucket=bucket, Key="folder/", Body=b"")
    h = s3.head_object(Bucket=bucket, Key="folder/")
    CHECK.ok(h["ContentLength"] == 0, "directory marker is a 0-byte object")
    CHECK.ok(error_code(lambda: s3.put_object(Bucket=bucket, Key="folder2/", Body=b"x"))[0]
             == "InvalidArgument", "data in a directory marker refused")
    # listing with a delimiter, paginated
    for i in range(7):
        s3.put_object(Bucket=bucket, Key="p/f%02d" % i, Body=b"%d" % i)
        s3.put_object(Bucket=bucket, Key="p/d%d/x" % i, Body=b"x")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="p/",
                                                         Delimiter="/",
                                                         PaginationConfig={"PageSize": 3})
    keys, prefixes, npages = [], [], 0
    for page in pages:
        npages += 1
        keys += [c["Key"] for c in page.get("Contents", [])]
        prefixes += [c["Prefix"] for c in page.get("CommonPrefixes", [])]
    CHECK.ok(keys == ["p/f%02d" % i for i in range(7)], "v2 paged keys %s" % keys)
    CHECK.ok(prefixes == ["p/d%d/" % i for i in range(7)], "v2 paged prefixes %s" % prefixes)
    CHECK.ok(npages == 5, "v2 pages %d" % npages)
    v1 = s3.get_paginator("list_objects").paginate(Bucket=bucket, Prefix="p/",
                                                   PaginationConfig={"PageSize": 4})
    keys1 = [c["Key"] for page in v1 for c in page.get("Contents", [])]
    CHECK.ok(len(keys1) == 14 and keys1 == sorted(keys1), "v1 paged %s" % keys1)
    r = s3.list_objects_v2(Bucket=bucket, Prefix="p/", StartAfter="p/f05")
    CHECK.ok([c["Key"] for c in r["Contents"]] == ["p/f06"], "start-after")
    r = s3.list_objects_v2(Bucket=bucket, Prefix="p/", MaxKeys=0)
    CHECK.ok("Contents" not in r and not r["IsTruncated"], "max-keys 0")
    r = s3.list_objects_v2(Bucket=bucket, Prefix="p/d", Delimiter="x")
    CHECK.ok([c["Prefix"] for c in r.get("CommonPrefixes", [])] == ["p/d%d/x" % i for i in range(7)],
             "a delimiter other than / %s" % r.get("CommonPrefixes"))
    # copy, delete_objects, multipart through the transfer manager
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "p/f01"})
    CHECK.ok(s3.get_object(Bucket=bucket, Key="copied")["Body"].read() == b"1", "copy_object")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "p/f%02d" % i}
                                                             for i in range(7)]
                                                 + [{"Key": "missing"}, {"Key": "../x"}]})
    CHECK.ok(len(r.get("Deleted", [])) == 8 and [e["Key"] for e in r.get("Errors", [])] == ["../x"],
             "delete_objects %s" % r)
    import io
    from boto3.s3.transfer import TransferConfig
    blob = os.urandom(6 * 1024 * 1024 + 123)
    s3.upload_fileobj(io.BytesIO(blob), bucket, "mp/blob",
                      Config=TransferConfig(multipart_threshold=5 * 1024 * 1024,
                                            multipart_chunksize=5 * 1024 * 1024))
    out = io.BytesIO()
    s3.download_fileobj(bucket, "mp/blob", out)
    CHECK.ok(out.getvalue() == blob, "boto3 multipart round trip")
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp/bad")
    p1 = s3.upload_part(Bucket=bucket, Key="mp/bad", UploadId=up["UploadId"], PartNumber=1,
                        Body=b"x" * 100)
    CHECK.ok(error_code(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="mp/bad", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0000"'}]}))[0] == "InvalidPart",
        "complete with a wrong ETag")
    CHECK.ok(error_code(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="mp/bad", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": p1["ETag"]},
                                   {"PartNumber": 1, "ETag": p1["ETag"]}]}))[0]
        == "InvalidPartOrder", "complete with parts out of order")
    parts = s3.list_parts(Bucket=bucket, Key="mp/bad", UploadId=up["UploadId"])
    CHECK.ok([p["PartNumber"] for p in parts["Parts"]] == [1], "list_parts")
    s3.abort_multipart_upload(Bucket=bucket, Key="mp/bad", UploadId=up["UploadId"])
    CHECK.ok(error_code(lambda: s3.complete_multipart_upload(
        Bucket=bucket, Key="mp/bad", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}]}))[0] == "NoSuchUpload",
        "complete after abort")
    CHECK.ok(s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") is None,
             "get_bucket_location us-east-1")
    CHECK.ok(bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]], "list_buckets")
    # presigned GET with plain urllib
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "copied"},
                                    ExpiresIn=60)
    CHECK.ok(urllib.request.urlopen(url, timeout=10).read() == b"1", "presigned GET")
    CHECK.ok(error_code(lambda: s3.delete_bucket(Bucket=bucket))[0] == "BucketNotEmpty",
             "delete of a full bucket")
    return s3


def raw_suite(args, bucket):
    print("raw HTTP", flush=True)
    st, h, body = raw(args, "GET", "/%s/definitely-missing" % bucket)
    CHECK.ok(st == 404 and b"<Code>NoSuchKey</Code>" in body and "x-amz-request-id" in h,
             "raw 404: %d %s %s" % (st, h, body))
    CHECK.ok(b"<RequestId>%s</RequestId>" % h.get("x-amz-request-id", "").encode() in body,
             "RequestId in body matches the header")
    st, h, body = raw(args, "GET", "/%s?acl" % bucket)
    CHECK.ok(st == 501 and b"NotImplemented" in body, "subresource acl: %d" % st)
    st, h, body = raw(args, "GET", "/%s/a/../../etc/passwd" % bucket)
    CHECK.ok(st in (400, 404), "dot segments: %d %s" % (st, body))
    st, h, body = raw(args, "HEAD", "/%s/definitely-missing" % bucket)
    CHECK.ok(st == 404 and body == b"", "HEAD error has no body")
    st, h, body = raw(args, "POST", "/%s?delete" % bucket, body=b"<Delete><Object>",
                      headers={"Content-Type": "application/xml"})
    CHECK.ok(st == 400 and b"MalformedXML" in body, "malformed delete body: %d" % st)


def auth_suite(args, ak, sk, bucket):
    print("auth", flush=True)
    s3 = client(args, ak, sk)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"top")
    CHECK.ok(s3.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"top", "auth GET")
    bad = client(args, ak, "wrong-secret")
    CHECK.ok(error_code(lambda: bad.get_object(Bucket=bucket, Key="secret.txt"))
             == ("SignatureDoesNotMatch", 403), "wrong secret")
    CHECK.ok(error_code(lambda: bad.put_object(Bucket=bucket, Key="x", Body=b"x"))[1] == 403,
             "wrong secret PUT")
    unknown = client(args, "UNKNOWNKEY", sk)
    CHECK.ok(error_code(lambda: unknown.list_objects_v2(Bucket=bucket))
             == ("InvalidAccessKeyId", 403), "unknown key")
    st, h, body = raw(args, "GET", "/%s/secret.txt" % bucket)
    CHECK.ok(st == 403 and b"AccessDenied" in body, "anonymous request: %d" % st)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "secret.txt"},
                                    ExpiresIn=60)
    CHECK.ok(urllib.request.urlopen(url, timeout=10).read() == b"top", "presigned GET")
    try:
        urllib.request.urlopen(url.replace("secret.txt", "secret.txx"), timeout=10)
        CHECK.ok(False, "tampered presigned URL accepted")
    except urllib.error.HTTPError as e:
        CHECK.ok(e.code == 403, "tampered presigned URL: %d" % e.code)
    # a payload that does not match its signed SHA-256
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="PUT", url="%s/%s/tampered" % (args.endpoint, bucket), data=b"good")
    S3SigV4Auth(Credentials(ak, sk), "s3", "us-east-1").add_auth(req)
    p = req.prepare()
    st, h, body = raw(args, "PUT", urlsplit(p.url).path, body=b"evil",
                      headers=dict(p.headers))
    CHECK.ok(st == 400 and b"XAmzContentSHA256Mismatch" in body, "payload swap: %d %s" % (st, body))
    CHECK.ok(error_code(lambda: s3.head_object(Bucket=bucket, Key="tampered"))[1] == 404,
             "a rejected payload left no object")
    # streaming aws-chunked PUT, signed by the oracle at the current time
    sys.path.insert(0, HERE)
    import s3_sign_oracle
    u = urlsplit(args.endpoint)
    body = os.urandom(200000)
    case = {"mode": "streaming", "method": "PUT", "host": u.netloc,
            "key": "%s/chunked obj" % bucket, "query": [], "headers": [],
            "body_hex": body.hex(), "time": int(time.time()), "region": "us-east-1",
            "access_key": ak, "secret_key": sk, "chunk_size": 65536}
    wire = s3_sign_oracle.sign(case)
    hdrs = dict((k, v) for k, v in wire["headers"] if k.lower() not in ("host", "content-length"))
    enc = bytes.fromhex(wire["body_hex"])
    st, h, rbody = raw(args, "PUT", wire["path"], body=enc, headers=hdrs)
    CHECK.ok(st == 200, "streaming PUT: %d %s" % (st, rbody))
    got = s3.get_object(Bucket=bucket, Key="chunked obj")["Body"].read()
    CHECK.ok(got == body, "streaming PUT stored %d bytes, want %d" % (len(got), len(body)))
    evil = bytearray(enc)
    evil[len(evil) // 2] ^= 1
    wire = s3_sign_oracle.sign(dict(case, key="%s/chunked evil" % bucket))
    hdrs = dict((k, v) for k, v in wire["headers"] if k.lower() not in ("host", "content-length"))
    evil = bytearray(bytes.fromhex(wire["body_hex"]))
    evil[len(evil) // 2] ^= 1
    st, h, rbody = raw(args, "PUT", wire["path"], body=bytes(evil), headers=hdrs)
    CHECK.ok(st == 403 and b"SignatureDoesNotMatch" in rbody, "tampered chunk: %d" % st)
    CHECK.ok(error_code(lambda: s3.head_object(Bucket=bucket, Key="chunked evil"))[1] == 404,
             "a tampered chunked body left no object")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--mode", choices=("full", "auth"), required=True)
    ap.add_argument("--access-key", default="anyone")
    ap.add_argument("--secret-key", default="anything")
    args = ap.parse_args()
    ak, sk = args.access_key, args.secret_key
    big = os.path.join(args.workdir, "big.bin")
    write(big, os.urandom(9 * 1024 * 1024 + 17))
    if args.mode == "full":
        # The clients are independent (one bucket each): run them at once,
        # awscli's interpreter start-ups dominate the wall time.
        import threading

        def guarded(fn, *a):
            try:
                fn(*a)
            except Exception as e:  # a crash in one suite is a failure
                import traceback
                traceback.print_exc()
                CHECK.ok(False, "%s raised %r" % (fn.__name__, e))

        def boto_and_raw():
            boto3_suite(args, ak, sk, "boto-bkt")
            raw_suite(args, "boto-bkt")
        threads = [threading.Thread(target=guarded, args=a) for a in
                   ((awscli_suite, args, ak, sk, "aws-bkt", big),
                    (s3cmd_suite, args, ak, sk, "s3cmd-bkt", big),
                    (boto_and_raw,))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        auth_suite(args, ak, sk, "auth-bkt")
        env = aws_env(args, ak, sk)
        aws(args, env, "s3", "cp", big, "s3://auth-bkt/big")
        rc, out, _, _ = aws(args, env, "s3", "ls", "s3://auth-bkt/")
        CHECK.ok("big" in out, "aws s3 ls with credentials")
        rc, _, err, _ = aws(args, aws_env(args, ak, "bad"), "s3", "ls", "s3://auth-bkt/",
                            expect_ok=False)
        CHECK.ok(rc != 0 and "SignatureDoesNotMatch" in err, "aws with a wrong secret: %s" % err)
        cfg = s3cmd_config(args, ak, sk)
        s3cmd(args, cfg, "put", big, "s3://auth-bkt/s3cmd-big")
        rc, out, _, _ = s3cmd(args, cfg, "ls", "s3://auth-bkt/")
        CHECK.ok("s3cmd-big" in out, "s3cmd ls with credentials:\n%s" % out)
        bad = s3cmd_config(args, ak + "X", sk)
        rc, out, err, _ = s3cmd(args, bad, "ls", "s3://auth-bkt/", expect_ok=False)
        CHECK.ok(rc != 0, "s3cmd with an unknown key succeeded")
    print("%s: %d failure(s) in %.1fs" % (args.mode, CHECK.failures, time.time() - CHECK.t0))
    sys.exit(1 if CHECK.failures else 0)


if __name__ == "__main__":
    main()
