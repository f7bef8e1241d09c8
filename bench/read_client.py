#!/usr/bin/env python3
"""bench/read_client.py: the small HTTP clients bench/read.sh needs besides wrk.
Python 3 stdlib only.

  read_client.py gen DIR SPEC...         write the dataset under DIR; SPEC is
                                         PREFIX:COUNT:SIZE (e.g. bench/small:2000:16384)
  read_client.py upload DIR HOST:PORT    PUT every file under DIR to the store
                                         (path DIR/bucket/key -> /bucket/key)
  read_client.py fetch HOST:PORT LIST -c CONNS [--s3-auth] [--range N --size S]
                                         GET each path of LIST exactly once over
                                         CONNS keep-alive connections; prints a
                                         RESULT line like bench/read.lua's

  read_client.py ttfb HOST:PORT PATH... [--s3-auth]
                                         one GET per path on a new connection;
                                         prints "STATUS HEADERS_MS BODY_MS" per
                                         path: time to the status line and to
                                         the first byte of the body

"fetch" measures strata cold: a bounded number of distinct first reads (wrk
can only run for a time, and repeating a path would be a cache hit). It is
also how read.sh warms caches. Latencies are from sending the request to the
last byte, as wrk measures them.
"""
import argparse
import asyncio
import concurrent.futures
import datetime
import http.client
import os
import random
import sys
import time


def s3_headers():
    """Headers s3rver accepts: it checks the access key id and the clock skew,
    never the signature."""
    now = datetime.datetime.now(datetime.timezone.utc)
    amz = now.strftime("%Y%m%dT%H%M%SZ")
    return {
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
        "x-amz-date": amz,
        "Authorization": ("AWS4-HMAC-SHA256 Credential=S3RVER/%s/us-east-1/s3/aws4_request, "
                          "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s"
                          % (amz[:8], "0" * 64)),
    }


def cmd_gen(a):
    rnd = random.Random(1234)
    for spec in a.spec:
        prefix, count, size = spec.rsplit(":", 2)
        count, size = int(count), int(size)
        d = os.path.join(a.dir, prefix)
        os.makedirs(d, exist_ok=True)
        base = rnd.randbytes(size)
        for i in range(count):
            # Distinct content per object: a header with its name, then data.
            head = ("%s/o%06d|" % (prefix, i)).encode()
            body = head + base[len(head):]
            with open(os.path.join(d, "o%06d" % i), "wb") as f:
                f.write(body[:size])


def cmd_upload(a):
    host, _, port = a.store.rpartition(":")
    files = []
    for root, _, names in os.walk(a.dir):
        for n in names:
            files.append(os.path.join(root, n))
    files.sort()

    def put_some(chunk):
        c = http.client.HTTPConnection(host, int(port), timeout=60)
        for p in chunk:
            rel = os.path.relpath(p, a.dir)
            with open(p, "rb") as f:
                data = f.read()
            c.request("PUT", "/" + rel, body=data, headers=s3_headers())
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError("PUT /%s: %d" % (rel, r.status))
        c.close()
        return len(chunk)

    n = max(1, a.jobs)
    chunks = [files[i::n] for i in range(n)]
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        total = sum(ex.map(put_some, chunks))
    print("uploaded %d objects" % total)


async def read_response(reader):
    """Reads one HTTP/1.1 response; returns (status, body length, keep-alive)."""
    line = await reader.readline()
    if not line:
        raise ConnectionError("connection closed before the status line")
    status = int(line.split()[1])
    length, chunked, close = None, False, False
    while True:
        h = await reader.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        k, v = k.strip().lower(), v.strip()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
        elif k == "connection" and v.lower() == "close":
            close = True
    n = 0
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                break
            await reader.readexactly(size + 2)
            n += size
    elif length is not None:
        left = length
        while left:
            chunk = await reader.read(min(left, 1 << 20))
            if not chunk:
                raise ConnectionError("short body")
            left -= len(chunk)
        n = length
    else:
        while True:
            chunk = await reader.read(1 << 20)
            if not chunk:
                break
            n += len(chunk)
        close = True
    return status, n, not close


async def fetch_all(a, paths):
    host, _, port = a.target.rpartition(":")
    it = iter(paths)
    lat, stats = [], {"bytes": 0, "status": 0, "read": 0, "connect": 0, "timeout": 0}
    rnd = random.Random(42)

    def request(path):
        h = {"Host": a.target}
        if a.s3_auth:
            h.update(s3_headers())
        if a.range:
            off = rnd.randrange(0, a.size // a.range) * a.range
            h["Range"] = "bytes=%d-%d" % (off, off + a.range - 1)
        return ("GET %s HTTP/1.1\r\n" % path + "".join(
            "%s: %s\r\n" % kv for kv in h.items()) + "\r\n").encode()

    async def conn():
        reader = writer = None
        for path in it:
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(host, int(port))
                except OSError:
                    stats["connect"] += 1
                    continue
            t0 = time.perf_counter()
            try:
                writer.write(request(path))
                status, n, keep = await asyncio.wait_for(read_response(reader), a.timeout)
            except asyncio.TimeoutError:
                stats["timeout"] += 1
                writer.close()
                writer = None
                continue
            except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError):
                stats["read"] += 1
                writer.close()
                writer = None
                continue
            lat.append(time.perf_counter() - t0)
            stats["bytes"] += n
            if status >= 400:
                stats["status"] += 1
            if not keep:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(conn() for _ in range(a.conns)))
    dur = time.perf_counter() - t0
    lat.sort()

    def pct(p):
        if not lat:
            return 0
        return lat[min(len(lat) - 1, int(round(p / 100.0 * len(lat) + 0.5)) - 1)]

    print("RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d connect=%d "
          "read=%d write=0 status=%d timeout=%d" % (
              len(lat), dur * 1e6, stats["bytes"], pct(50) * 1e6, pct(99) * 1e6,
              stats["connect"], stats["read"], stats["status"], stats["timeout"]))


def cmd_fetch(a):
    with open(a.list) as f:
        paths = [l.strip() for l in f if l.strip()]
    asyncio.run(fetch_all(a, paths))


def cmd_ttfb(a):
    import socket
    host, _, port = a.target.rpartition(":")
    for path in a.paths:
        h = {"Host": a.target, "Connection": "close"}
        if a.s3_auth:
            h.update(s3_headers())
        req = ("GET %s HTTP/1.1\r\n" % path + "".join(
            "%s: %s\r\n" % kv for kv in h.items()) + "\r\n").encode()
        t0 = time.perf_counter()
        buf, t_hdr, t_body, status = b"", None, None, 0
        try:
            s = socket.create_connection((host, int(port)), timeout=a.timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(req)
            while t_body is None:
                chunk = s.recv(65536)
                if not chunk:
                    break
                if t_hdr is None:
                    t_hdr = time.perf_counter()
                buf += chunk
                end = buf.find(b"\r\n\r\n")
                if end >= 0:
                    status = int(buf.split(b" ", 2)[1])
                    if len(buf) > end + 4:
                        t_body = time.perf_counter()
            s.close()
        except (OSError, ValueError, IndexError):
            t_body = None
        if t_hdr is None or t_body is None:
            print("%s - -" % (status or "fail"))
        else:
            print("%d %.3f %.3f" % (status, (t_hdr - t0) * 1e3, (t_body - t0) * 1e3))
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("dir")
    g.add_argument("spec", nargs="+")
    u = sub.add_parser("upload")
    u.add_argument("dir")
    u.add_argument("store")
    u.add_argument("-j", "--jobs", type=int, default=4)
    f = sub.add_parser("fetch")
    f.add_argument("target")
    f.add_argument("list")
    f.add_argument("-c", "--conns", type=int, default=8)
    f.add_argument("--s3-auth", action="store_true")
    f.add_argument("--range", type=int, default=0)
    f.add_argument("--size", type=int, default=0)
    f.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for a response (then counted as a timeout)")
    t = sub.add_parser("ttfb")
    t.add_argument("target")
    t.add_argument("paths", nargs="+")
    t.add_argument("--s3-auth", action="store_true")
    t.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()
    {"gen": cmd_gen, "upload": cmd_upload, "fetch": cmd_fetch, "ttfb": cmd_ttfb}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
