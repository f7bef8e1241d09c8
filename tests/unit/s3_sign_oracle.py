#!/usr/bin/python3
"""Signed S3 requests from botocore, for tests/unit/test_s3_auth.c.

Reads one JSON object per line on stdin:
  {"mode": "header" | "unsigned" | "presign" | "streaming",
   "method", "host", "key" (raw object path below the host, may be ""),
   "query": [[k, v]...], "headers": [[name, value]...], "body_hex",
   "time" (epoch s), "region", "access_key", "secret_key",
   "expires" (presign), "chunk_size" (streaming)}
and prints one JSON object per line: the request as it goes on the wire,
  {"method", "path" (%-encoded), "query" (raw query string), "headers":
   [[name, value]...] (Host included), "body_hex"}.

header: botocore's S3SigV4Auth with the payload's SHA-256; unsigned: the
same with UNSIGNED-PAYLOAD; presign: S3SigV4QueryAuth (query string auth);
streaming: the seed request signed by botocore with
STREAMING-AWS4-HMAC-SHA256-PAYLOAD, then the aws-chunked body with chunk
signatures computed here from the AWS spec (botocore does not stream).
Run with Debian's /usr/bin/python3 (python3-boto3).
"""
import hashlib
import hmac
import json
import sys
from urllib.parse import urlsplit

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode
from oracle_clock import freeze

STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class FixedPayloadAuth(botocore.auth.S3SigV4Auth):
    """S3SigV4Auth with a given x-amz-content-sha256 value."""

    fixed = None

    def payload(self, request):
        return self.fixed


def hmac256(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def chunked_body(body, chunk_size, amz_date, scope, seed, secret, region):
    key = hmac256(("AWS4" + secret).encode(), amz_date[:8])
    key = hmac256(key, region)
    key = hmac256(key, "s3")
    key = hmac256(key, "aws4_request")
    prev = seed
    out = b""
    chunks = [body[i:i + chunk_size] for i in range(0, len(body), chunk_size)] + [b""]
    for chunk in chunks:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY_SHA256,
                         hashlib.sha256(chunk).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out += b"%x;chunk-signature=%s\r\n" % (len(chunk), sig.encode()) + chunk + b"\r\n"
        prev = sig
    return out


def sign(case):
    when = freeze(case["time"])
    path = "/" + percent_encode(case["key"], safe="/~") if case["key"] else "/"
    url = "http://%s%s" % (case["host"], path)
    body = bytes.fromhex(case.get("body_hex", ""))
    mode = case["mode"]
    creds = Credentials(case["access_key"], case["secret_key"])
    region = case["region"]
    headers = list(case.get("headers", []))
    if mode == "streaming":
        headers += [["Content-Encoding", "aws-chunked"],
                    ["x-amz-decoded-content-length", str(len(body))]]
    req = AWSRequest(method=case["method"], url=url, data=b"" if mode == "streaming" else body,
                     params=[tuple(p) for p in case.get("query", [])])
    for name, value in headers:
        req.headers[name] = value
    if mode == "presign":
        botocore.auth.S3SigV4QueryAuth(creds, "s3", region,
                                       expires=case.get("expires", 3600)).add_auth(req)
    else:
        auth = FixedPayloadAuth(creds, "s3", region)
        auth.fixed = {"header": hashlib.sha256(body).hexdigest(),
                      "unsigned": "UNSIGNED-PAYLOAD", "streaming": STREAMING}[mode]
        auth.add_auth(req)
    prepared = req.prepare()
    parts = urlsplit(prepared.url)
    out_headers = [["Host", case["host"]]] + [[k, v] for k, v in prepared.headers.items()]
    if mode == "streaming":
        amz_date = prepared.headers["X-Amz-Date"]
        authz = prepared.headers["Authorization"]
        seed = authz.split("Signature=")[1]
        scope = "%s/%s/s3/aws4_request" % (amz_date[:8], region)
        body = chunked_body(body, case.get("chunk_size", 65536), amz_date, scope, seed,
                            case["secret_key"], region)
    return {"method": case["method"], "path": parts.path, "query": parts.query,
            "headers": out_headers, "body_hex": body.hex()}


def main():
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(sign(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
