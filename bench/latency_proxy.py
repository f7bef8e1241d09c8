#!/usr/bin/env python3
"""bench/latency_proxy.py: a TCP proxy that makes a fast local store look like
a remote one. Used by bench/read.sh between every client of "the store" and
s3rver.

Each client connection gets its own upstream connection. The proxy follows
the request/response rhythm of HTTP/1.1 keep-alive: the first byte a client
sends after the previous response started opens a new request, and the first
upstream byte after that (the response's first byte) is held for
--latency-ms before it and everything behind it goes on to the client. So
every request's time to first byte grows by the latency; the bytes after the
first flow at full speed. Nothing is parsed, so any HTTP client works
(wrk, curl, libcurl, nginx), as long as it does not pipeline requests.

Requests are counted by kind (LIST = a GET with list-type= in its query;
GET, HEAD, PUT, POST, DELETE, OTHER) from the request line at the start of
each request. With --control HOST:PORT the counts are served as JSON (GET
/counters) and zeroed (POST /reset) on that port; "control on HOST:PORT" is
printed then.

Python 3 stdlib only (asyncio protocols, no per-byte work). Prints
"listening on HOST:PORT" once ready. SIGTERM/SIGINT stop it.
"""
import argparse
import asyncio
import json
import signal
import socket
import sys

HIGH_WATER = 1 << 20  # pause the other side when this much waits to be sent
KINDS = ("LIST", "GET", "HEAD", "PUT", "POST", "DELETE", "OTHER")
METHODS = (b"GET", b"HEAD", b"PUT", b"POST", b"DELETE", b"OPTIONS", b"PATCH")


def request_kind(data):
    """The kind of the request whose head starts data, or None when data
    does not start with a request line (a body's later bytes)."""
    line = data.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1.") or parts[0] not in METHODS:
        return None
    method = parts[0].decode()
    if method == "GET" and b"list-type=" in parts[1]:
        return "LIST"
    return method if method in KINDS else "OTHER"


def nodelay(transport):
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class Upstream(asyncio.Protocol):
    """The proxy's connection to the store, one per client connection."""

    def __init__(self, client):
        self.client = client
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        nodelay(transport)
        transport.set_write_buffer_limits(high=HIGH_WATER)

    def data_received(self, data):
        self.client.from_upstream(data)

    def eof_received(self):
        self.client.upstream_eof()
        return False

    def connection_lost(self, exc):
        self.client.upstream_lost()

    # The store reads too slowly what the client sends: stop reading the client.
    def pause_writing(self):
        if self.client.transport:
            self.client.transport.pause_reading()

    def resume_writing(self):
        if self.client.transport:
            self.client.transport.resume_reading()


class Client(asyncio.Protocol):
    def __init__(self, proxy):
        self.proxy = proxy
        self.transport = None
        self.up = None
        self.pending = []          # client bytes before the upstream connected
        self.awaiting = False      # a request went out, its first response byte did not
        self.holding = None        # list of upstream chunks held back, or None
        self.up_eof = False
        self.closed = False

    def connection_made(self, transport):
        self.transport = transport
        nodelay(transport)
        transport.set_write_buffer_limits(high=HIGH_WATER)
        asyncio.ensure_future(self.connect())

    async def connect(self):
        loop = asyncio.get_running_loop()
        try:
            _, self.up = await loop.create_connection(
                lambda: Upstream(self), self.proxy.host, self.proxy.port)
        except OSError as e:
            print(f"latency_proxy: cannot reach the store: {e}", file=sys.stderr)
            self.transport.close()
            return
        if self.closed:
            self.up.transport.close()
            return
        for chunk in self.pending:
            self.up.transport.write(chunk)
        self.pending = []

    def data_received(self, data):
        if not self.awaiting and self.holding is None:
            self.awaiting = True   # a new request begins
            kind = request_kind(data)
            if kind:
                self.proxy.counts[kind] += 1
        if self.up is None or self.up.transport is None:
            self.pending.append(data)
        else:
            self.up.transport.write(data)

    def eof_received(self):
        if self.up and self.up.transport:
            self.up.transport.write_eof()
        return True

    def connection_lost(self, exc):
        self.closed = True
        if self.up and self.up.transport:
            self.up.transport.close()

    def from_upstream(self, data):
        if self.holding is not None:
            self.holding.append(data)
            if sum(map(len, self.holding)) > HIGH_WATER:
                self.up.transport.pause_reading()
            return
        if self.awaiting:
            self.awaiting = False
            if self.proxy.latency > 0:
                self.holding = [data]
                asyncio.get_running_loop().call_later(self.proxy.latency, self.release)
                return
        self.transport.write(data)

    def release(self):
        held, self.holding = self.holding, None
        if self.closed:
            return
        self.transport.write(b"".join(held))
        if (self.up and self.up.transport and
                self.transport.get_write_buffer_size() < HIGH_WATER):
            self.up.transport.resume_reading()
        if self.up_eof:
            self.finish()

    def upstream_eof(self):
        self.up_eof = True
        if self.holding is None:
            self.finish()

    def upstream_lost(self):
        self.up_eof = True
        if self.holding is None:
            self.finish()

    def finish(self):
        if not self.closed:
            self.transport.close()

    # The client reads too slowly: stop reading the store.
    def pause_writing(self):
        if self.up and self.up.transport:
            self.up.transport.pause_reading()

    def resume_writing(self):
        if self.up and self.up.transport and self.holding is None:
            self.up.transport.resume_reading()


class Proxy:
    def __init__(self, host, port, latency_ms):
        self.host = host
        self.port = port
        self.latency = latency_ms / 1000.0
        self.counts = dict.fromkeys(KINDS, 0)


class Control(asyncio.Protocol):
    """GET /counters: the request counts as JSON; POST /reset zeroes them.
    One request per connection."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.buf = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buf += data
        if b"\r\n\r\n" not in self.buf:
            return
        line = self.buf.split(b"\r\n", 1)[0].split(b" ")
        status, body = "404 Not Found", {"error": "GET /counters or POST /reset"}
        if len(line) == 3 and line[0] == b"GET" and line[1] == b"/counters":
            status, body = "200 OK", self.proxy.counts
        elif len(line) == 3 and line[0] == b"POST" and line[1] == b"/reset":
            self.proxy.counts = dict.fromkeys(KINDS, 0)
            status, body = "200 OK", self.proxy.counts
        payload = json.dumps(body).encode()
        self.transport.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
                             .encode() + payload)
        self.transport.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on")
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the store")
    ap.add_argument("--latency-ms", type=float, default=20.0,
                    help="added to every response's first byte (default 20)")
    ap.add_argument("--control", default=None,
                    help="HOST:PORT serving the request counters (GET /counters, POST /reset)")
    a = ap.parse_args()
    lhost, _, lport = a.listen.rpartition(":")
    uhost, _, uport = a.upstream.rpartition(":")
    proxy = Proxy(uhost, int(uport), a.latency_ms)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Client(proxy), lhost, int(lport),
                                      backlog=1024, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    if a.control:
        chost, _, cport = a.control.rpartition(":")
        control = await loop.create_server(lambda: Control(proxy), chost, int(cport),
                                           reuse_address=True)
        print(f"control on {chost}:{control.sockets[0].getsockname()[1]}", flush=True)
    print(f"listening on {lhost}:{port} (upstream {a.upstream}, +{a.latency_ms:g} ms)",
          flush=True)
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    await stop
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
