"""/api/config: every validation path answers 400 with the field named and changes nothing; valid partial
updates are all-or-nothing; restart-needing keys wait as pending until apply; the audit log records it."""
import unittest

from pic import PicdTestCase, main


class ConfigTest(PicdTestCase):
    def config(self):
        r = self.picd.get("/api/config")
        self.assertEqual(r.status, 200, r)
        return r.json

    def assertRejected(self, body, field):
        before = self.config()
        r = self.picd.put("/api/config", body)
        self.assertError(r, 400, field)
        self.assertEqual(self.config(), before, "a rejected change must change nothing")

    def test_get_has_settings_and_service_ips(self):
        c = self.config()
        self.assertEqual(c["cell_name"], "mycell")
        self.assertEqual(c["wireguard"]["address"], "10.0.0.1/24")
        for svc in ("dns", "dhcp", "ntp", "calendar", "files", "mail", "webdav", "api"):
            self.assertIn(svc, c["service_ips"])
        self.assertEqual(c["service_ips"]["dns"], "172.20.0.2")

    def test_validation_paths(self):
        cases = [
            ({"wireguard": {"address": "10.0.0.1"}}, "wireguard.address"),       # bare IP: prefix required
            ({"wireguard": {"address": "10.0.0.0/24"}}, "wireguard.address"),    # network address
            ({"wireguard": {"address": "10.0.0.1/33"}}, "wireguard.address"),
            ({"wireguard": {"address": "10.0.0.01/24"}}, "wireguard.address"),   # no leading zeros
            ({"wireguard": {"address": 42}}, "wireguard.address"),
            ({"wireguard": {"port": 0}}, "wireguard.port"),
            ({"wireguard": {"port": 70000}}, "wireguard.port"),
            ({"wireguard": {"port": "51820"}}, "wireguard.port"),
            ({"wireguard": {"endpoint": "vpn.example.org:0"}}, "wireguard.endpoint"),
            ({"wireguard": {"endpoint": "bad host\nEndpoint = evil"}}, "wireguard.endpoint"),
            ({"wireguard": {"backend": "magic"}}, "wireguard.backend"),
            ({"ip_range": "8.8.8.0/24"}, "ip_range"),                             # not RFC 1918
            ({"ip_range": "172.32.0.0/16"}, "ip_range"),
            ({"ip_range": "172.20.0.0"}, "ip_range"),
            ({"ip_range": "172.20.0.5/24"}, "ip_range"),                          # host bits set
            ({"ip_range": "192.168.1.0/30"}, "ip_range"),                         # too small for the VIPs
            ({"ip_range": "10.0.0.0/16"}, "ip_range"),                            # overlaps the VPN subnet
            ({"cell_name": "My Cell"}, "cell_name"),
            ({"cell_name": "-cell"}, "cell_name"),
            ({"cell_name": "a" * 64}, "cell_name"),
            ({"cell_name": "cell\n[Peer]"}, "cell_name"),
            ({"cell_name": "céll"}, "cell_name"),
            ({"cell_name": ""}, "cell_name"),
            ({"domain": "Cell"}, "domain"),
            ({"domain": "cell."}, "domain"),
            ({"domain": "a..b"}, "domain"),
            ({"domain": "x\"; include: \"/etc/shadow"}, "domain"),
            ({"dns": {"port": -1}}, "dns.port"),
            ({"api": {"trusted_proxy": "10.0.0.300"}}, "api.trusted_proxy"),
            ({"nonsense": 1}, "nonsense"),
            ({"wireguard": {"nonsense": 1}}, "wireguard.nonsense"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                self.assertRejected(body, field)

    def test_one_bad_key_rejects_the_whole_request(self):
        self.assertRejected({"cell_name": "goodname", "wireguard": {"port": 0}}, "wireguard.port")

    def test_malformed_bodies(self):
        for raw in (b"{", b"[1,2]", b"\"str\"", b"{\"cell_name\": \"a\", \"cell_name\": \"b\"}", b"{}"):
            with self.subTest(raw=raw):
                r = self.picd.request("PUT", "/api/config", raw=raw, headers={"Content-Type": "application/json"})
                self.assertError(r, 400)

    def test_body_too_large_is_413(self):
        r = self.picd.request("PUT", "/api/config", raw=b"{\"cell_name\":\"" + b"a" * (2 << 20) + b"\"}",
                              headers={"Content-Type": "application/json"})
        self.assertError(r, 413)

    def test_hot_setting_applies_at_once(self):
        r = self.picd.put("/api/config", {"cell_name": "pic1", "wireguard": {"endpoint": "vpn.example.org:51820"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(r.json["applied"]), ["cell_name", "wireguard.endpoint"])
        self.assertEqual(r.json["pending"], [])
        c = self.config()
        self.assertEqual(c["cell_name"], "pic1")
        self.assertEqual(c["wireguard"]["endpoint"], "vpn.example.org:51820")
        self.picd.put("/api/config", {"cell_name": "mycell"})

    def test_restart_setting_is_pending_until_applied(self):
        r = self.picd.put("/api/config", {"wireguard": {"port": 51999}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["pending"], ["wireguard.port"])
        p = self.picd.get("/api/config/pending").json
        self.assertTrue(p["restart_required"])
        self.assertEqual([x["key"] for x in p["pending"]], ["wireguard.port"])
        self.assertEqual(p["pending"][0]["value"], 51999)
        self.assertEqual(p["pending"][0]["applied"], 51820)
        # The mesh endpoint listens on the WireGuard port too.
        self.assertEqual(p["pending"][0]["services"], ["wireguard", "mesh"])
        r = self.picd.post("/api/config/apply")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["applied"], ["wireguard.port"])
        self.assertFalse(self.picd.get("/api/config/pending").json["restart_required"])
        self.assertEqual(self.config()["wireguard"]["port"], 51999)

    def test_settings_survive_restart(self):
        self.picd.put("/api/config", {"domain": "home.arpa"})
        self.picd.stop()
        self.picd.start()
        self.assertEqual(self.config()["domain"], "home.arpa")
        self.picd.put("/api/config", {"domain": "cell"})

    def test_settings_metadata(self):
        s = self.picd.get("/api/config/settings").json["settings"]
        keys = {x["key"]: x for x in s}
        self.assertTrue(keys["wireguard.address"]["needs_restart"])
        self.assertEqual(keys["wireguard.port"]["type"], "integer")
        self.assertEqual(keys["cell_name"]["default"], "mycell")
        # Each row says which service module declares it (the cell's own keys: none).
        self.assertEqual(keys["wireguard.port"]["module"], "wireguard")
        self.assertEqual(keys["dhcp.lease_time"]["module"], "dhcp")
        self.assertEqual(keys["calendar.port"]["module"], "calendar")
        self.assertIsNone(keys["cell_name"]["module"])

    def test_declared_only_modules_are_not_services(self):
        # webdav declares an address, a name and a grant but runs nothing of its own (the files module's lighttpd
        # serves it): it is in service_ips and DNS, not in the list of services or /health.
        c = self.config()
        self.assertEqual(c["service_ips"]["calendar"], "172.20.0.10")
        self.assertEqual(c["service_ips"]["webdav"], "172.20.0.13")
        names = [s["name"] for s in self.picd.get("/api/services").json["services"]]
        self.assertEqual(sorted(names), ["ca", "calendar", "dhcp", "dns", "files", "firewall", "mail", "mail-dkim",
                                         "mail-imap", "mesh", "network", "ntp", "proxy", "webmail", "wireguard"])
        self.assertNotIn("webdav", self.picd.get("/health").json["services"])
        self.assertIn("calendar", self.picd.get("/health").json["services"])

    def test_mutations_are_audited(self):
        self.picd.put("/api/config", {"cell_name": "audited"})
        self.picd.put("/api/config", {"cell_name": "Bad Name"})
        entries = self.picd.get("/api/audit?limit=5").json["entries"]
        self.assertEqual(entries[0]["status"], 400)
        self.assertEqual(entries[0]["path"], "/api/config")
        self.assertEqual(entries[1]["status"], 200)
        self.assertEqual(entries[1]["actor"], "token:test-admin")
        self.picd.put("/api/config", {"cell_name": "mycell"})
        self.assertError(self.picd.get("/api/audit?limit=0"), 400, "limit")


if __name__ == "__main__":
    main()
