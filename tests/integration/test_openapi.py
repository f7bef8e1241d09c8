"""The API describes itself: the master serves its OpenAPI document at
GET /api/v1/openapi.json, the same bytes as docs/openapi.json, and the
simple GET operations it lists answer on the daemons that serve them."""
import json
import os

from harness import SOURCE_DIR, ClusterTestCase, get_json, main, request


class OpenApiTest(ClusterTestCase):
    def test_master_serves_its_document(self):
        m = self.cluster.master()
        status, headers, body = request(m.url + "/api/v1/openapi.json")
        self.assertEqual(status, 200, body[:200])
        self.assertTrue(headers.get("content-type", "").startswith("application/json"))
        doc = json.loads(body)
        self.assertTrue(doc["openapi"].startswith("3.0"))
        self.assertIn("/api/v1/files", doc["paths"])
        self.assertIn("/api/v1/openapi.json", doc["paths"])
        with open(os.path.join(SOURCE_DIR, "docs", "openapi.json"), "rb") as f:
            self.assertEqual(body, f.read(), "served document differs from docs/openapi.json")
        # HEAD works like on every GET route; other methods are 405.
        status, _, _ = request(m.url + "/api/v1/openapi.json", method="POST", body=b"{}")
        self.assertEqual(status, 405)

    def test_listed_gets_answer(self):
        m = self.cluster.master()
        w = self.cluster.worker(m)
        status, doc = get_json(m.url + "/api/v1/openapi.json")
        self.assertEqual(status, 200)
        checked = 0
        for path, item in doc["paths"].items():
            op = item.get("get")
            if not op or "{" in path or any(
                    p.get("required") for p in op.get("parameters", [])
                    if "$ref" not in p) or any("$ref" in p for p in op.get("parameters", [])):
                continue
            for daemon in op["x-strata-daemons"]:
                url = (m.url if daemon == "master" else w.url) + path
                status, headers, body = request(url)
                self.assertEqual(status, 200, f"GET {path} on the {daemon}: {body[:200]}")
                if "application/json" in op["responses"]["200"].get("content", {}):
                    json.loads(body)
                checked += 1
        self.assertGreaterEqual(checked, 10)


if __name__ == "__main__":
    main()
