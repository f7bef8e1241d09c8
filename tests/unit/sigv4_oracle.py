#!/usr/bin/python3
"""SigV4 oracle for tests/unit/test_ufs_sigv4.c: signs requests with botocore.

Reads one JSON object per line on stdin:
  {"method", "host", "key" (raw object path, may be ""), "query": [[k, v]...],
   "headers": [[name, value]...], "body_hex", "time" (epoch s), "region",
   "access_key", "secret_key"}
and prints, per line, the Authorization header botocore's S3SigV4Auth puts on
that request at that time, then a tab and the canonical URI it signed.
Run with Debian's /usr/bin/python3 (python3-boto3).
"""
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode
from oracle_clock import freeze


def sign(case):
    when = freeze(case["time"])
    # botocore's own S3 serializer encodes object keys this way (safe '/~').
    path = "/" + percent_encode(case["key"], safe="/~") if case["key"] else "/"
    url = "http://%s%s" % (case["host"], path)
    body = bytes.fromhex(case.get("body_hex", ""))
    req = AWSRequest(method=case["method"], url=url, data=body,
                     params=[tuple(p) for p in case.get("query", [])])
    for name, value in case.get("headers", []):
        req.headers[name] = value
    creds = Credentials(case["access_key"], case["secret_key"])
    botocore.auth.S3SigV4Auth(creds, "s3", case["region"]).add_auth(req)
    return req.headers["Authorization"], path


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        auth, path = sign(json.loads(line))
        print("%s\t%s" % (auth, path), flush=True)


if __name__ == "__main__":
    main()
