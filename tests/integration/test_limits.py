"""Per-connection and per-request limits on every port, over raw sockets,
as a careless or hostile client would meet them: a request head above
http.max_header_size, a body above the port's limit, a client that sends
its head one byte at a time (slowloris) and one that connects and says
nothing. Each is answered with the documented status (or just closed,
on the Raft port) within its timeout, and afterwards every daemon is
alive and serves a normal request.

Ports: master REST/console (CivetWeb), worker data/REST (CivetWeb), the
worker's S3 gateway (its own event loops) and the masters' Raft port."""
import os
import socket
import struct
import time

from harness import ClusterTestCase, get_json, main, request, wait_for, wait_leader

REQUEST_TIMEOUT = 2.0   # http.request_timeout: the first head must arrive within it
IDLE_TIMEOUT = 3.0      # http.idle_timeout
FRAME_TIMEOUT = 2.0     # master.raft.frame_timeout
SLACK = 2.5             # scheduling on 2 loaded cores

LIMITS = {
    "http.request_timeout": "2s",
    "http.idle_timeout": "3s",
    "http.max_header_size": "8KB",
    "http.max_json_body": "4KB",
}


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def raft_header(body_len, frm=9, to=1, msg_type=7):
    """A valid Raft frame header (raft/wire.h) announcing body_len bytes of
    an InstallSnapshot (type 7)."""
    head = b"SRW1" + struct.pack("<BBBBII", 1, msg_type, 0, 0, body_len, 0)
    head += struct.pack("<9Q", frm, to, 1, 0, 0, 0, 0, 0, 0)
    return head + struct.pack("<I", crc32c(head)) + b"\0" * 4


def host_port(address):
    host, _, port = address.rpartition(":")
    return host, int(port)


def connect(address):
    s = socket.create_connection(host_port(address), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send_quietly(s, data):
    """Sends what the server takes; a server that already answered and
    closed may reset the rest."""
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def read_to_close(s, timeout):
    """Everything the server sends until it closes; (bytes, closed)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, True
            out += d
    except ConnectionResetError:
        return out, True
    except socket.timeout:
        return out, False


def status_of(reply):
    line = reply.split(b"\r\n", 1)[0]
    parts = line.split()
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else None


def trickle(s, data, every, limit):
    """Sends data one byte per `every` seconds until the server answers or
    closes, or `limit` seconds pass. Returns (seconds, reply, closed)."""
    t0 = time.monotonic()
    i = 0
    s.settimeout(every)
    while time.monotonic() - t0 < limit:
        if i < len(data):
            try:
                s.send(data[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - t0, b"", True
            i += 1
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0, b"", True
        if not d:
            return time.monotonic() - t0, b"", True
        rest, closed = read_to_close(s, 5)
        return time.monotonic() - t0, d + rest, closed
    return time.monotonic() - t0, b"", False


class LimitsTest(ClusterTestCase):
    def check_http_port(self, name, address, post_path, healthy, idle=IDLE_TIMEOUT):
        """The three attacks on one CivetWeb port, then a normal request."""
        # A head above http.max_header_size: CivetWeb answers 400 ("Malformed
        # message": it stops reading at the limit) and closes.
        s = connect(address)
        send_quietly(s, b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
                     b"\r\n\r\n")
        reply, closed = read_to_close(s, 5)
        s.close()
        self.assertIn(status_of(reply), (400, 413, 431), (name, reply[:200]))
        self.assertTrue(closed, f"{name}: connection left open after an oversized head")
        # A head just under it is served.
        status, _, _ = request(f"http://{address}/api/v1/health",
                               headers={"X-Pad": "p" * 6000})
        self.assertEqual(status, 200, name)

        # A JSON body above http.max_json_body: 413 before it is read.
        s = connect(address)
        send_quietly(s, (f"POST {post_path} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         f"application/json\r\nContent-Length: 100000\r\n\r\n").encode()
                     + b"{" + b" " * 5000)
        reply, _ = read_to_close(s, 5)
        s.close()
        self.assertEqual(status_of(reply), 413, (name, reply[:300]))
        self.assertIn(b"http.max_json_body", reply, name)

        # Slowloris: a head byte every 0.3 s is cut off at
        # http.request_timeout (CivetWeb closes without a reply).
        s = connect(address)
        took, reply, closed = trickle(s, b"GET /api/v1/health HTTP/1.1\r\nX-Slow: " + b"s" * 200,
                                      0.3, REQUEST_TIMEOUT + 10)
        s.close()
        self.assertTrue(closed, f"{name}: slowloris still connected after {took:.1f}s")
        self.assertGreater(took, REQUEST_TIMEOUT - 0.5, name)
        self.assertLess(took, REQUEST_TIMEOUT + SLACK, name)

        # A connection that says nothing is closed too.
        s = connect(address)
        t0 = time.monotonic()
        _, closed = read_to_close(s, REQUEST_TIMEOUT + 10)
        s.close()
        self.assertTrue(closed, f"{name}: silent connection kept")
        self.assertLess(time.monotonic() - t0, REQUEST_TIMEOUT + SLACK, name)

        # An idle keep-alive connection is closed after http.idle_timeout.
        s = connect(address)
        s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        first = s.recv(65536)
        self.assertEqual(status_of(first), 200, name)
        t0 = time.monotonic()
        _, closed = read_to_close(s, IDLE_TIMEOUT + 10)
        s.close()
        self.assertTrue(closed, f"{name}: idle keep-alive connection kept")
        self.assertGreater(time.monotonic() - t0, idle - 0.5, name)
        self.assertLess(time.monotonic() - t0, idle + SLACK, name)
        healthy()

    def check_s3_port(self, w, address):
        status, _, _ = request(f"http://{address}/lim", method="PUT")
        self.assertEqual(status, 200)
        # Oversized head: 400 naming the limit, then closed.
        s = connect(address)
        send_quietly(s, b"GET /lim/k HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 +
                     b"\r\n\r\n")
        reply, closed = read_to_close(s, 5)
        s.close()
        self.assertEqual(status_of(reply), 400, reply[:300])
        self.assertIn(b"http.max_header_size", reply)
        self.assertTrue(closed, "S3: connection left open after an oversized head")
        # A body above worker.s3.max_object_size: EntityTooLarge, declared...
        s = connect(address)
        send_quietly(s, b"PUT /lim/big HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n" +
                     b"x" * 1000)
        reply, _ = read_to_close(s, 5)
        s.close()
        self.assertEqual(status_of(reply), 400, reply[:300])
        self.assertIn(b"EntityTooLarge", reply)
        # ... or sent in chunks with no length given up front.
        s = connect(address)
        chunk = b"x" * 16384
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(6)) + b"0\r\n\r\n"
        send_quietly(s, b"PUT /lim/big2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + body)
        reply, _ = read_to_close(s, 5)
        s.close()
        self.assertEqual(status_of(reply), 400, reply[:300])
        self.assertIn(b"EntityTooLarge", reply)
        self.assertEqual(request(f"http://{address}/lim/big")[0], 404)
        self.assertEqual(request(f"http://{address}/lim/big2")[0], 404)
        # Slowloris: "request head not received in time" (400), then closed.
        s = connect(address)
        took, reply, closed = trickle(s, b"GET /lim/k HTTP/1.1\r\nX-Slow: " + b"s" * 200, 0.3,
                                      REQUEST_TIMEOUT + 10)
        s.close()
        self.assertTrue(closed, f"S3: slowloris still connected after {took:.1f}s")
        self.assertEqual(status_of(reply), 400, reply[:300])
        self.assertIn(b"not received in time", reply)
        self.assertGreater(took, REQUEST_TIMEOUT - 0.5)
        self.assertLess(took, REQUEST_TIMEOUT + SLACK)
        # An idle connection is closed after http.idle_timeout.
        s = connect(address)
        t0 = time.monotonic()
        _, closed = read_to_close(s, IDLE_TIMEOUT + 10)
        s.close()
        self.assertTrue(closed, "S3: idle connection kept")
        self.assertGreater(time.monotonic() - t0, IDLE_TIMEOUT - 0.5)
        self.assertLess(time.monotonic() - t0, IDLE_TIMEOUT + SLACK)
        # Still serving; an object at the limit is taken.
        status, _, _ = request(f"http://{address}/lim/ok", method="PUT", body=b"o" * 65536)
        self.assertEqual(status, 200)
        status, _, data = request(f"http://{address}/lim/ok")
        self.assertEqual((status, data), (200, b"o" * 65536))

    def check_raft_port(self, m, ms):
        before = m.read_log()
        # A frame announcing a body above master.raft.max_frame: closed
        # at once, before any of the body is read.
        s = connect(m.raft_address)
        send_quietly(s, raft_header(8 << 20, to=m.id))
        t0 = time.monotonic()
        reply, closed = read_to_close(s, 5)
        s.close()
        self.assertEqual(reply, b"")
        self.assertTrue(closed, "Raft: an oversized frame left the connection open")
        self.assertLess(time.monotonic() - t0, 2)
        # A frame trickled a byte every 0.3 s: closed at master.raft.frame_timeout.
        s = connect(m.raft_address)
        took, reply, closed = trickle(s, raft_header(1000, to=m.id), 0.3, FRAME_TIMEOUT + 10)
        s.close()
        self.assertTrue(closed, f"Raft: trickling client still connected after {took:.1f}s")
        self.assertEqual(reply, b"")
        self.assertGreater(took, FRAME_TIMEOUT - 0.5)
        self.assertLess(took, FRAME_TIMEOUT + SLACK)
        wait_for(lambda: "above the limit (master.raft.max_frame" in m.read_log()[len(before):] and
                 "not whole within" in m.read_log()[len(before):], what="both refusals logged")
        # The group is unharmed: one leader, writes go through.
        lead = wait_leader(ms)
        status, _, data = request(lead.url + "/api/v1/files/mkdir", method="POST",
                                  body={"path": "/after-raft-limits"})
        self.assertEqual(status, 201, data)

    def test_limits_on_every_port(self):
        ufs = os.path.join(self.tmp, "ufs")
        os.makedirs(ufs)
        settings = dict(LIMITS, **{"master.raft.max_frame": "1MB",
                                   "master.raft.frame_timeout": "2s",
                                   "master.root_ufs": "file://" + ufs,
                                   "master.mount.sync_interval": "never"})
        ms = self.cluster.masters(3, settings=settings)
        lead = wait_leader(ms)
        wait_for(lambda: (lambda r: r[0] == 200 and any(
            mt["path"] == "/" for mt in r[1]["mounts"]))(get_json(lead.url + "/api/v1/mounts")),
            what="master.root_ufs mounted by the leader")
        w = self.cluster.worker(ms, settings=dict(LIMITS, **{
            "worker.s3.max_object_size": "64KB"}))

        def healthy():
            for d in ms + [w]:
                self.assertIsNone(d.proc.poll(), f"{d.name} died")
                self.assertEqual(request(d.url + "/api/v1/health")[0], 200, d.name)

        self.check_http_port("master REST", lead.address, "/api/v1/files/mkdir", healthy)
        # The worker REST port keeps an idle connection at most 1 s
        # (peers' per-thread connections must not hold its threads).
        self.check_http_port("worker REST", w.address, "/api/v1/internal/free", healthy,
                             idle=min(IDLE_TIMEOUT, 1.0))
        self.check_s3_port(w, f"127.0.0.1:{w.settings['worker.s3_port']}")
        follower = next(m for m in ms if m is not lead)
        self.check_raft_port(follower, ms)
        healthy()


if __name__ == "__main__":
    main()
