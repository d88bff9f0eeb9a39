"""GET /api/config reuses its last rendered body while the settings are unchanged: a client must see every
change at once (hot keys, pending keys, their apply, a rejected change) and the same bytes while nothing moved."""
import http.client
import json

from pic import PicdTestCase, main


class ConfigGetTest(PicdTestCase):
    def raw_get(self):
        r = self.picd.get("/api/config")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Content-Type"), "application/json")
        self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        return r.body

    def config(self):
        return json.loads(self.raw_get())

    def test_repeated_gets_are_identical_compact_json(self):
        first = self.raw_get()
        for _ in range(5):
            self.assertEqual(self.raw_get(), first)
        # Compact jansson output, exactly what the server's JSON path produces.
        self.assertNotIn(", ", first)
        self.assertNotIn('": ', first)
        self.assertEqual(json.loads(first)["cell_name"], "mycell")

    def test_hot_change_is_seen_at_once_and_back(self):
        self.assertEqual(self.config()["cell_name"], "mycell")
        self.assertEqual(self.picd.put("/api/config", {"cell_name": "other"}).status, 200)
        self.assertEqual(self.config()["cell_name"], "other")
        self.assertEqual(self.picd.put("/api/config", {"cell_name": "mycell"}).status, 200)
        self.assertEqual(self.config()["cell_name"], "mycell")

    def test_rejected_change_leaves_the_body_alone(self):
        before = self.raw_get()
        r = self.picd.put("/api/config", {"cell_name": "Not A Name"})
        self.assertError(r, 400, "cell_name")
        self.assertEqual(self.raw_get(), before)

    def test_pending_key_then_apply_moves_service_ips(self):
        # service_ips and restart_required follow the applied range, not the stored one: a body kept only
        # per stored value would show the new addresses before the apply, or keep the old ones after it.
        c = self.config()
        self.assertEqual(c["service_ips"]["dns"], "172.20.0.2")
        self.assertFalse(c["restart_required"])
        r = self.picd.put("/api/config", {"ip_range": "172.21.0.0/24"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["pending"], ["ip_range"])
        c = self.config()
        self.assertEqual(c["ip_range"], "172.21.0.0/24")
        self.assertEqual(c["service_ips"]["dns"], "172.20.0.2")
        self.assertTrue(c["restart_required"])
        r = self.picd.post("/api/config/apply")
        self.assertEqual(r.status, 200, r)
        c = self.config()
        self.assertEqual(c["service_ips"]["dns"], "172.21.0.2")
        self.assertFalse(c["restart_required"])
        # Back, so the class's other tests see the defaults.
        self.assertEqual(self.picd.put("/api/config", {"ip_range": "172.20.0.0/24"}).status, 200)
        self.assertEqual(self.picd.post("/api/config/apply").status, 200)
        self.assertEqual(self.config()["service_ips"]["dns"], "172.20.0.2")

    def test_head_has_the_headers_and_no_body(self):
        body = self.raw_get()
        conn = http.client.HTTPConnection(self.picd.host, self.picd.port, timeout=30)
        try:
            conn.request("HEAD", "/api/config", headers={"Authorization": f"Bearer {self.picd.token}"})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Content-Type"), "application/json")
            self.assertEqual(int(r.getheader("Content-Length")), len(body.encode()))
            self.assertEqual(r.read(), b"")
        finally:
            conn.close()

    def test_read_token_gets_it_and_no_token_does_not(self):
        token = self.picd.make_token("read", "cfg-reader")
        self.assertEqual(self.picd.get("/api/config", token=token).body, self.raw_get())
        r = self.picd.get("/api/config", auth=False)
        self.assertError(r, 401)


if __name__ == "__main__":
    main()
