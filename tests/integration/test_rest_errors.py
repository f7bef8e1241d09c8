"""The REST layer answers every bad request with the error envelope and a
fitting status, and keeps serving."""
import json
import socket

from harness import ClusterTestCase, get_json, main, request, post_json


class RestErrorsTest(ClusterTestCase):
    def setUp(self):
        super().setUp()
        self.m = self.cluster.master(settings={"http.max_json_body": "2KB"})
        self.reg = self.m.url + "/api/v1/workers/register"

    def assertEnvelope(self, status, body, want_status, want_code, fragment=None):
        self.assertEqual(status, want_status, body)
        self.assertIsInstance(body, dict)
        self.assertEqual(set(body), {"error"})
        self.assertEqual(body["error"]["code"], want_code)
        self.assertIsInstance(body["error"]["message"], str)
        if fragment:
            self.assertIn(fragment, body["error"]["message"])

    def test_unknown_route(self):
        status, body = get_json(self.m.url + "/api/v1/nothing/here")
        self.assertEnvelope(status, body, 404, "not_found", "/api/v1/nothing/here")

    def test_wrong_method(self):
        status, headers, data = request(self.m.url + "/api/v1/workers", method="DELETE")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("allow"), "GET")
        self.assertEqual(json.loads(data)["error"]["code"], "method_not_allowed")

    def test_malformed_json(self):
        status, _, data = request(self.reg, method="POST", body=b'{"host": "x",',
                                  headers={"Content-Type": "application/json"})
        body = json.loads(data)
        self.assertEnvelope(status, body, 400, "malformed_json", "error at byte")

    def test_not_an_object(self):
        status, body = post_json(self.reg, [1, 2])
        self.assertEnvelope(status, body, 400, "malformed_json", "JSON object")

    def test_empty_body(self):
        status, _, data = request(self.reg, method="POST", body=b"",
                                  headers={"Content-Type": "application/json"})
        self.assertEnvelope(status, json.loads(data), 400, "malformed_json", "empty")

    def test_missing_and_wrong_fields_are_named(self):
        status, body = post_json(self.reg, {"data_port": 1, "s3_port": 2,
                                            "capacity_bytes": 0, "used_bytes": 0})
        self.assertEnvelope(status, body, 400, "invalid_argument", "'host'")
        status, body = post_json(self.reg, {"host": "h", "data_port": "x", "s3_port": 2,
                                            "capacity_bytes": 0, "used_bytes": 0})
        self.assertEnvelope(status, body, 400, "invalid_argument", "'data_port'")
        status, body = post_json(self.reg, {"host": "h", "data_port": 70000, "s3_port": 2,
                                            "capacity_bytes": 0, "used_bytes": 0})
        self.assertEnvelope(status, body, 400, "invalid_argument", "outside 1..65535")
        status, body = post_json(self.reg, {"host": "h", "data_port": 1.5, "s3_port": 2,
                                            "capacity_bytes": 0, "used_bytes": 0})
        self.assertEnvelope(status, body, 400, "invalid_argument", "integer")
        # A malformed block list refuses the whole registration.
        status, body = post_json(self.reg, {"host": "h", "data_port": 1, "s3_port": 2,
                                            "capacity_bytes": 0, "used_bytes": 0,
                                            "blocks": [[1, 0], [2]]})
        self.assertEnvelope(status, body, 400, "invalid_argument", "[block_id, tier]")
        self.assertEqual(get_json(self.m.url + "/api/v1/workers")[1]["workers"], [])
        status, body = post_json(self.reg, {"host": "h" * 256, "data_port": 1, "s3_port": 2,
                                            "capacity_bytes": 0, "used_bytes": 0})
        self.assertEnvelope(status, body, 400, "invalid_argument", "1..255")

    def test_too_large(self):
        big = {"host": "h" * 4096}
        status, body = post_json(self.reg, big)
        self.assertEnvelope(status, body, 413, "payload_too_large", "http.max_json_body")

    def test_wrong_content_type(self):
        status, _, data = request(self.reg, method="POST", body=b"<x/>",
                                  headers={"Content-Type": "application/xml"})
        self.assertEnvelope(status, json.loads(data), 415, "unsupported_media_type")

    def test_unknown_worker_heartbeat(self):
        status, body = post_json(self.m.url + "/api/v1/workers/heartbeat",
                                 {"worker_id": 99, "capacity_bytes": 1, "used_bytes": 0})
        self.assertEnvelope(status, body, 404, "unknown_worker", "99")
        # Ids are decimal strings, exact past 2^53 (a double would say ...992).
        status, body = post_json(self.m.url + "/api/v1/workers/heartbeat",
                                 {"worker_id": "9007199254740993", "capacity_bytes": 1,
                                  "used_bytes": 0})
        self.assertEnvelope(status, body, 404, "unknown_worker", "9007199254740993")
        for bad in ("12x", "", "-1", 1.5, 9007199254740994, "18446744073709551616"):
            status, body = post_json(self.m.url + "/api/v1/workers/heartbeat",
                                     {"worker_id": bad, "capacity_bytes": 1, "used_bytes": 0})
            self.assertEnvelope(status, body, 400, "invalid_argument", "'worker_id'")

    def test_huge_header_and_garbage(self):
        host, port = self.m.address.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: "
                      + b"a" * 100000 + b"\r\n\r\n")
            reply = s.recv(200)
        self.assertFalse(reply.startswith(b"HTTP/1.1 2"), reply)
        with socket.create_connection((host, int(port)), timeout=5) as s:
            s.sendall(b"\x00\x01garbage\r\n\r\n")
            try:
                s.recv(200)
            except ConnectionResetError:
                pass
        # Still serving.
        status, body = get_json(self.m.url + "/api/v1/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "ok")

    def test_config_view(self):
        status, body = get_json(self.m.url + "/api/v1/config")
        self.assertEqual(status, 200)
        keys = {k["key"]: k for k in body["keys"]}
        self.assertEqual(keys["http.max_json_body"]["value"], "2048B")
        self.assertEqual(keys["master.port"]["default"], "19999")


if __name__ == "__main__":
    main()
